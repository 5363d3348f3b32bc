//! `y = max(x, 0)`, elementwise. dy/dx = 1 for x > 0, 0 otherwise (at the kink x = 0 we take 0,
//! as PyTorch does): `dx += g ⊙ [y > 0]`, using the saved output (y > 0 exactly when x > 0).

use super::GradOut;
use super::Op;
use crate::tape::Var;

impl<'t> Var<'t> {
    /// The rectifier `max(x, 0)`, elementwise.
    #[inline]
    #[track_caller]
    pub fn relu(self) -> Var<'t> {
        self.unary(Op::Relu)
    }
}

/// Forward: `y = max(x, 0)` (NaN stays NaN, and so does −0: `if x < 0 { 0 } else { x }`).
pub(crate) fn forward(x: &[f64], y: &mut [f64]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = if x < 0.0 { 0.0 } else { x };
    }
}

/// Backward: `dx += g ⊙ [y > 0]`.
#[inline(always)]
pub(crate) fn backward(g: &[f64], y: &[f64], dx: GradOut<'_>) {
    dx.add(
        g.iter()
            .zip(y)
            .map(|(&g, &y)| if y > 0.0 { g } else { 0.0 }),
    );
}
