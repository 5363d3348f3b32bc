//! `y = ln x`, elementwise. dy/dx = 1/x: `dx += g ⊘ x`.

use super::Op;
use crate::tape::Var;

impl<'t> Var<'t> {
    /// The natural logarithm `ln x`, elementwise (NaN for x < 0, −∞ at 0).
    #[inline]
    #[track_caller]
    pub fn log(self) -> Var<'t> {
        self.unary(Op::Log)
    }
}

/// Forward: `y = ln x`.
pub(crate) fn forward(x: &[f64], y: &mut [f64]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y = x.ln();
    }
}

/// Backward: `dx += g ⊘ x`.
#[inline(always)]
pub(crate) fn backward(g: &[f64], x: &[f64], dx: &mut [f64]) {
    super::div::backward_lhs(g, x, dx);
}
