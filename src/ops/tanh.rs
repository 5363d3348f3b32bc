//! `y = tanh x`, elementwise. dy/dx = 1 − tanh²x = 1 − y²: `dx += g ⊙ (1 − y²)`, using the saved
//! output.

use super::{map1, split2, Backward, GradOut, Op, Operand};
use crate::tape::Var;

impl<'t> Var<'t> {
    /// The hyperbolic tangent, elementwise.
    #[inline]
    #[track_caller]
    pub fn tanh(self) -> Var<'t> {
        self.unary(Op::Tanh)
    }
}

/// Forward: `y = tanh x`, entry by entry.
pub(crate) fn forward(x: &[Operand<'_>], y: &mut [f64]) {
    map1(x, y, values);
}

/// Backward: `dx += g ⊙ (1 − y²)`, from the saved output.
#[inline(always)]
pub(crate) fn backward(cx: &mut Backward<'_>) {
    let (g, y) = (cx.upstream, cx.output());
    if let Some(dx) = cx.grad_out(0) {
        split2(dx, g, y, grad);
    }
}

/// The rule per input, as the backward trace prints it (`docs/chain-rule.md` derives it).
pub(crate) const RULES: [&str; 1] = ["dL/d{a} += dL/d{y} ⊙ (1 − {y}²)"];

/// `y = tanh x` on slices.
fn values(x: &[f64], y: &mut [f64]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = scalar(x);
    }
}

/// `y = tanh x` on one entry (also the 1×1 fast path, `ops/scalar.rs`).
#[inline(always)]
pub(crate) fn scalar(x: f64) -> f64 {
    x.tanh()
}

/// The rule on one entry: `dx += g · (1 − y²)`.
#[inline(always)]
pub(crate) fn scalar_grad(g: f64, y: f64) -> f64 {
    g * (1.0 - y * y)
}

/// `dx += g ⊙ (1 − y²)` on slices.
#[inline(always)]
fn grad(g: &[f64], y: &[f64], dx: GradOut<'_>) {
    dx.add(g.iter().zip(y).map(|(&g, &y)| scalar_grad(g, y)));
}
