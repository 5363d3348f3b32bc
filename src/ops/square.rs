//! `y = x²`, elementwise. dy/dx = 2x: `dx += g ⊙ 2x`.

use super::GradOut;
use super::Op;
use crate::tape::Var;

impl<'t> Var<'t> {
    /// `x²`, elementwise (one node; the same as `x * x` or `x.powf(2.0)`, but exact and cheaper).
    #[inline]
    #[track_caller]
    pub fn square(self) -> Var<'t> {
        self.unary(Op::Square)
    }
}

/// Forward: `y = x²`.
pub(crate) fn forward(x: &[f64], y: &mut [f64]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y = x * x;
    }
}

/// Backward: `dx += g ⊙ 2x`.
#[inline(always)]
pub(crate) fn backward(g: &[f64], x: &[f64], dx: GradOut<'_>) {
    dx.add(g.iter().zip(x).map(|(g, x)| g * 2.0 * x));
}
