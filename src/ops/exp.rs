//! `y = eˣ`, elementwise. dy/dx = eˣ = y: `dx += g ⊙ y` (using the saved output).

use super::mul::times;
use super::{map1, split2, Backward, Op, Operand};
use crate::tape::Var;

impl<'t> Var<'t> {
    /// `eˣ`, elementwise.
    #[inline]
    #[track_caller]
    pub fn exp(self) -> Var<'t> {
        self.unary(Op::Exp)
    }
}

/// Forward: `y = eˣ`, entry by entry.
pub(crate) fn forward(x: &[Operand<'_>], y: &mut [f64]) {
    map1(x, y, values);
}

/// Backward: `dx += g ⊙ y`: eˣ is its own derivative, and the saved output is it.
#[inline(always)]
pub(crate) fn backward(cx: &mut Backward<'_>) {
    let (g, y) = (cx.upstream, cx.output());
    if let Some(dx) = cx.grad_out(0) {
        split2(dx, g, y, times);
    }
}

/// The rule per input, as the backward trace prints it (`docs/chain-rule.md` derives it).
pub(crate) const RULES: [&str; 1] = ["dL/d{a} += dL/d{y} ⊙ {y}"];

/// `y = eˣ` on slices.
fn values(x: &[f64], y: &mut [f64]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = scalar(x);
    }
}

/// `y = eˣ` on one entry (also the 1×1 fast path, `ops/scalar.rs`).
#[inline(always)]
pub(crate) fn scalar(x: f64) -> f64 {
    x.exp()
}

/// The rule on one entry: `dx += g · y` (as `mul::times` on a slice).
#[inline(always)]
pub(crate) fn scalar_grad(g: f64, y: f64) -> f64 {
    g * y
}
