//! `y = x²`, elementwise. dy/dx = 2x: `dx += g ⊙ 2x`.

use super::{map1, split2, Backward, GradOut, Op, Operand};
use crate::tape::Var;

impl<'t> Var<'t> {
    /// `x²`, elementwise (one node; the same as `x * x` or `x.powf(2.0)`, but exact and cheaper).
    #[inline]
    #[track_caller]
    pub fn square(self) -> Var<'t> {
        self.unary(Op::Square)
    }
}

/// Forward: `y = x²`, entry by entry.
pub(crate) fn forward(x: &[Operand<'_>], y: &mut [f64]) {
    map1(x, y, values);
}

/// Backward: `dx += g ⊙ 2x`.
#[inline(always)]
pub(crate) fn backward(cx: &mut Backward<'_>) {
    let (g, x) = (cx.upstream, cx.input(0));
    if let Some(dx) = cx.grad_out(0) {
        split2(dx, g, x, grad);
    }
}

/// The rule per input, as the backward trace prints it (`docs/chain-rule.md` derives it).
pub(crate) const RULES: [&str; 1] = ["dL/d{a} += dL/d{y} ⊙ 2{a}"];

/// `y = x²` on slices.
fn values(x: &[f64], y: &mut [f64]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = scalar(x);
    }
}

/// `y = x²` on one entry (also the 1×1 fast path, `ops/scalar.rs`).
#[inline(always)]
pub(crate) fn scalar(x: f64) -> f64 {
    x * x
}

/// The rule on one entry: `dx += g · 2x`.
#[inline(always)]
pub(crate) fn scalar_grad(g: f64, x: f64) -> f64 {
    g * 2.0 * x
}

/// `dx += g ⊙ 2x` on slices.
#[inline(always)]
fn grad(g: &[f64], x: &[f64], dx: GradOut<'_>) {
    dx.add(g.iter().zip(x).map(|(&g, &x)| scalar_grad(g, x)));
}
