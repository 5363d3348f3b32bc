//! `y = σ(x) = 1 / (1 + e⁻ˣ)`, elementwise. dy/dx = σ(x)(1 − σ(x)) = y(1 − y):
//! `dx += g ⊙ y ⊙ (1 − y)`, using the saved output (no exponential in the backward pass).

use super::{map1, split2, Backward, GradOut, Op, Operand};
use crate::kernels::sigmoid;
use crate::tape::Var;

impl<'t> Var<'t> {
    /// The logistic sigmoid `σ(x) = 1 / (1 + e⁻ˣ)`, elementwise.
    #[inline]
    #[track_caller]
    pub fn sigmoid(self) -> Var<'t> {
        self.unary(Op::Sigmoid)
    }
}

/// Forward: `y = σ(x)`, entry by entry.
pub(crate) fn forward(x: &[Operand<'_>], y: &mut [f64]) {
    map1(x, y, values);
}

/// Backward: `dx += g ⊙ y ⊙ (1 − y)`, from the saved output.
#[inline(always)]
pub(crate) fn backward(cx: &mut Backward<'_>) {
    let (g, y) = (cx.upstream, cx.output());
    if let Some(dx) = cx.grad_out(0) {
        split2(dx, g, y, grad);
    }
}

/// The rule per input, as the backward trace prints it (`docs/chain-rule.md` derives it).
pub(crate) const RULES: [&str; 1] = ["dL/d{a} += dL/d{y} ⊙ {y} ⊙ (1 − {y})"];

/// `y = σ(x)` on slices.
fn values(x: &[f64], y: &mut [f64]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = scalar(x);
    }
}

/// `y = σ(x)` on one entry (also the 1×1 fast path, `ops/scalar.rs`).
#[inline(always)]
pub(crate) fn scalar(x: f64) -> f64 {
    sigmoid(x)
}

/// The rule on one entry: `dx += g · y · (1 − y)`.
#[inline(always)]
pub(crate) fn scalar_grad(g: f64, y: f64) -> f64 {
    g * y * (1.0 - y)
}

/// `dx += g ⊙ y ⊙ (1 − y)` on slices.
#[inline(always)]
fn grad(g: &[f64], y: &[f64], dx: GradOut<'_>) {
    dx.add(g.iter().zip(y).map(|(&g, &y)| scalar_grad(g, y)));
}
