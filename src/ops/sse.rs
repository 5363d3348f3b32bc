//! Sum of squared errors `L = Σ (p − y)²`.
//!
//! ∂L/∂p = 2(p − y), ∂L/∂y = −2(p − y): `dp += g·2(p − y)`, `dy −= g·2(p − y)`.

use super::Op;
use crate::tape::Var;

impl<'t> Var<'t> {
    /// Sum of squared errors `Σ (p − y)²` of this prediction against `target`: → 1×1.
    ///
    /// # Panics
    /// If the shapes differ.
    #[inline]
    #[track_caller]
    pub fn sse(self, target: Var<'t>) -> Var<'t> {
        super::same_shape("sse", self, target);
        self.tape.record(Op::Sse, [self, target], 1, 1)
    }
}

/// Forward: `L = Σ (p − y)²`, summed in order.
pub(crate) fn forward(p: &[f64], y: &[f64]) -> f64 {
    p.iter().zip(y).map(|(p, y)| (p - y) * (p - y)).sum()
}

/// Backward to the prediction: `dp += g·2(p − y)`.
#[inline(always)]
pub(crate) fn backward_prediction(g: f64, p: &[f64], y: &[f64], dp: &mut [f64]) {
    for ((dp, p), y) in dp.iter_mut().zip(p).zip(y) {
        *dp += g * 2.0 * (p - y);
    }
}

/// Backward to the target: `dy −= g·2(p − y)`.
#[inline(always)]
pub(crate) fn backward_target(g: f64, p: &[f64], y: &[f64], dy: &mut [f64]) {
    for ((dy, p), y) in dy.iter_mut().zip(p).zip(y) {
        *dy -= g * 2.0 * (p - y);
    }
}
