//! `y = eˣ`, elementwise. dy/dx = eˣ = y: `dx += g ⊙ y` (using the saved output).

use super::GradOut;
use super::Op;
use crate::tape::Var;

impl<'t> Var<'t> {
    /// `eˣ`, elementwise.
    #[inline]
    #[track_caller]
    pub fn exp(self) -> Var<'t> {
        self.unary(Op::Exp)
    }
}

/// Forward: `y = eˣ`.
pub(crate) fn forward(x: &[f64], y: &mut [f64]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y = x.exp();
    }
}

/// Backward: `dx += g ⊙ y`.
#[inline(always)]
pub(crate) fn backward(g: &[f64], y: &[f64], dx: GradOut<'_>) {
    super::mul::backward(g, y, dx);
}
