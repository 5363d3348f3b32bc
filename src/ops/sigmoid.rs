//! `y = σ(x) = 1 / (1 + e⁻ˣ)`, elementwise. dy/dx = σ(x)(1 − σ(x)) = y(1 − y):
//! `dx += g ⊙ y ⊙ (1 − y)`, using the saved output (no exponential in the backward pass).

use super::GradOut;
use super::Op;
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

/// Forward: `y = σ(x)`.
pub(crate) fn forward(x: &[f64], y: &mut [f64]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y = sigmoid(*x);
    }
}

/// Backward: `dx += g ⊙ y ⊙ (1 − y)`.
#[inline(always)]
pub(crate) fn backward(g: &[f64], y: &[f64], dx: GradOut<'_>) {
    dx.add(g.iter().zip(y).map(|(g, y)| g * y * (1.0 - y)));
}
