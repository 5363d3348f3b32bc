//! `y = tanh x`, elementwise. dy/dx = 1 − tanh²x = 1 − y²: `dx += g ⊙ (1 − y²)`, using the saved
//! output.

use super::GradOut;
use super::Op;
use crate::tape::Var;

impl<'t> Var<'t> {
    /// The hyperbolic tangent, elementwise.
    #[inline]
    #[track_caller]
    pub fn tanh(self) -> Var<'t> {
        self.unary(Op::Tanh)
    }
}

/// Forward: `y = tanh x`.
pub(crate) fn forward(x: &[f64], y: &mut [f64]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y = x.tanh();
    }
}

/// Backward: `dx += g ⊙ (1 − y²)`.
#[inline(always)]
pub(crate) fn backward(g: &[f64], y: &[f64], dx: GradOut<'_>) {
    dx.add(g.iter().zip(y).map(|(g, y)| g * (1.0 - y * y)));
}
