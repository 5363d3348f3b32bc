//! `y = max(x, 0)`, elementwise. dy/dx = 1 for x > 0, 0 otherwise (at the kink x = 0 we take 0,
//! as PyTorch does): `dx += g ⊙ [y > 0]`, using the saved output (y > 0 exactly when x > 0).

use super::{map1, split2, Backward, GradOut, Op, Operand};
use crate::tape::Var;

impl<'t> Var<'t> {
    /// The rectifier `max(x, 0)`, elementwise.
    #[inline]
    #[track_caller]
    pub fn relu(self) -> Var<'t> {
        self.unary(Op::Relu)
    }
}

/// Forward: `y = max(x, 0)`, entry by entry (NaN stays NaN, and so does −0: `if x < 0 { 0 } else { x }`).
pub(crate) fn forward(x: &[Operand<'_>], y: &mut [f64]) {
    map1(x, y, values);
}

/// Backward: `dx += g ⊙ [y > 0]`: the slope is 1 where the input was positive, else 0 (0 at the kink).
#[inline(always)]
pub(crate) fn backward(cx: &mut Backward<'_>) {
    let (g, y) = (cx.upstream, cx.output());
    if let Some(dx) = cx.grad_out(0) {
        split2(dx, g, y, grad);
    }
}

/// The rule per input, as the backward trace prints it (`docs/chain-rule.md` derives it).
pub(crate) const RULES: [&str; 1] = ["dL/d{a} += dL/d{y} ⊙ [{y} > 0]"];

/// `y = max(x on slices.
fn values(x: &[f64], y: &mut [f64]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = scalar(x);
    }
}

/// `y = max(x, 0)` on one entry (also the 1×1 fast path, `ops/scalar.rs`).
#[inline(always)]
pub(crate) fn scalar(x: f64) -> f64 {
    if x < 0.0 {
        0.0
    } else {
        x
    }
}

/// The rule on one entry: `dx += g · [y > 0]`.
#[inline(always)]
pub(crate) fn scalar_grad(g: f64, y: f64) -> f64 {
    if y > 0.0 {
        g
    } else {
        0.0
    }
}

/// `dx += g ⊙ [y > 0]` on slices.
#[inline(always)]
fn grad(g: &[f64], y: &[f64], dx: GradOut<'_>) {
    dx.add(g.iter().zip(y).map(|(&g, &y)| scalar_grad(g, y)));
}
