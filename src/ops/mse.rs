//! Mean squared error `L = (1/n) Σ (p − y)²` over the n entries of a prediction `p` and target `y`.
//!
//! ∂L/∂p = 2(p − y)/n and ∂L/∂y = −2(p − y)/n: `dp += g·2(p − y)/n`, `dy −= g·2(p − y)/n`.
//! This is PyTorch's `MSELoss` (mean reduction, no ½): the lab's ½·Σ convention is
//! `0.5 * p.sse(y)`.

use super::Op;
use crate::tape::Var;

impl<'t> Var<'t> {
    /// Mean squared error `(1/n) Σ (p − y)²` of this prediction against `target`: → 1×1.
    ///
    /// # Panics
    /// If the shapes differ.
    #[inline]
    #[track_caller]
    pub fn mse(self, target: Var<'t>) -> Var<'t> {
        super::same_shape("mse", self, target);
        self.tape.record(Op::Mse, [self, target], 1, 1)
    }
}

/// Forward: `L = (1/n) Σ (p − y)²`.
pub(crate) fn forward(p: &[f64], y: &[f64]) -> f64 {
    super::sse::forward(p, y) / p.len() as f64
}

/// Backward to the prediction: `dp += g·2(p − y)/n`.
#[inline(always)]
pub(crate) fn backward_prediction(g: f64, p: &[f64], y: &[f64], dp: &mut [f64]) {
    let n = p.len() as f64;
    for ((dp, p), y) in dp.iter_mut().zip(p).zip(y) {
        *dp += g * 2.0 * (p - y) / n;
    }
}

/// Backward to the target: `dy −= g·2(p − y)/n`.
#[inline(always)]
pub(crate) fn backward_target(g: f64, p: &[f64], y: &[f64], dy: &mut [f64]) {
    let n = p.len() as f64;
    for ((dy, p), y) in dy.iter_mut().zip(p).zip(y) {
        *dy -= g * 2.0 * (p - y) / n;
    }
}
