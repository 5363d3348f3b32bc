//! Binary cross-entropy (log-loss) `L = −(1/n) Σ [y ln p̂ + (1 − y) ln(1 − p̂)]`, with the
//! prediction clipped, `p̂ = clamp(p, ε, 1 − ε)`, so that `ln 0` never happens.
//!
//! Inside the clip, ∂L/∂p = (p̂ − y) / (p̂(1 − p̂)) / n. Outside it (p ≤ ε or p ≥ 1 − ε) the clipped
//! function is flat, so the gradient is **0**, as for any clamp: a prediction saturated at the
//! wrong end learns nothing from this loss, which is why the clip is small ([`DEFAULT_EPS`] = 1e-7,
//! Keras' default). ∂L/∂y = (ln(1 − p̂) − ln p̂) / n.
//!
//! `dp += g·(p̂ − y)/(p̂(1 − p̂))/n` (inside the clip), `dy += g·(ln(1 − p̂) − ln p̂)/n`.

use super::Op;
use crate::tape::{fail, Var};

/// The default clip ε for [`Var::bce`]: predictions are clipped to `[1e-7, 1 − 1e-7]`.
pub const DEFAULT_EPS: f64 = 1e-7;

impl<'t> Var<'t> {
    /// Binary cross-entropy of this prediction (probabilities) against 0/1 `target`: → 1×1,
    /// averaged over entries, predictions clipped to `[1e-7, 1 − 1e-7]`.
    ///
    /// # Panics
    /// If the shapes differ.
    #[inline]
    #[track_caller]
    pub fn bce(self, target: Var<'t>) -> Var<'t> {
        self.bce_with_eps(target, DEFAULT_EPS)
    }

    /// [`bce`](Var::bce) with the clip `eps` (in `(0, 0.5)`) chosen by the caller.
    ///
    /// # Panics
    /// If the shapes differ or `eps` is outside `(0, 0.5)`.
    #[inline]
    #[track_caller]
    pub fn bce_with_eps(self, target: Var<'t>, eps: f64) -> Var<'t> {
        super::same_shape("bce", self, target);
        if !(eps > 0.0 && eps < 0.5) {
            fail(format_args!(
                "bce: the clip eps must be in (0, 0.5), got {eps}"
            ));
        }
        self.tape.record(Op::Bce(eps), [self, target], 1, 1)
    }
}

/// `clamp(p, ε, 1 − ε)`.
#[inline]
fn clip(eps: f64, p: f64) -> f64 {
    p.clamp(eps, 1.0 - eps)
}

/// Forward: `L = −(1/n) Σ [y ln p̂ + (1 − y) ln(1 − p̂)]`.
pub(crate) fn forward(eps: f64, p: &[f64], y: &[f64]) -> f64 {
    let total: f64 = p
        .iter()
        .zip(y)
        .map(|(&p, &y)| {
            let p = clip(eps, p);
            y * p.ln() + (1.0 - y) * (1.0 - p).ln()
        })
        .sum();
    -total / p.len() as f64
}

/// Backward to the prediction: `dp += g·(p − y)/(p(1 − p))/n` inside the clip, nothing outside.
#[inline(always)]
pub(crate) fn backward_prediction(eps: f64, g: f64, p: &[f64], y: &[f64], dp: &mut [f64]) {
    let n = p.len() as f64;
    for ((dp, &p), y) in dp.iter_mut().zip(p).zip(y) {
        if p > eps && p < 1.0 - eps {
            *dp += g * (p - y) / (p * (1.0 - p)) / n;
        }
    }
}

/// Backward to the target: `dy += g·(ln(1 − p̂) − ln p̂)/n`.
#[inline(always)]
pub(crate) fn backward_target(eps: f64, g: f64, p: &[f64], dy: &mut [f64]) {
    let n = p.len() as f64;
    for (dy, &p) in dy.iter_mut().zip(p) {
        let p = clip(eps, p);
        *dy += g * ((1.0 - p).ln() - p.ln()) / n;
    }
}
