//! Binary cross-entropy (log-loss) `L = −(1/n) Σ [y ln p̂ + (1 − y) ln(1 − p̂)]`, with the
//! prediction clipped, `p̂ = clamp(p, ε, 1 − ε)`, so that `ln 0` never happens.
//!
//! Inside the clip, ∂L/∂p = (p̂ − y) / (p̂(1 − p̂)) / n. Outside it (p ≤ ε or p ≥ 1 − ε) the clipped
//! function is flat, so the gradient is **0**, as for any clamp: a prediction saturated at the
//! wrong end learns nothing from this loss, which is why the clip is small ([`DEFAULT_EPS`] = 1e-7,
//! Keras' default). ∂L/∂y = (ln(1 − p̂) − ln p̂) / n.
//!
//! `dp += g·(p̂ − y)/(p̂(1 − p̂))/n` (inside the clip), `dy += g·(ln(1 − p̂) − ln p̂)/n`.

use super::{Backward, Op, Operand};
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
        super::same_shape(Op::Bce(eps), self, target);
        if !(eps > 0.0 && eps < 0.5) {
            fail(format_args!(
                "bce: the clip eps must be in (0, 0.5), got {eps}"
            ));
        }
        self.tape.record(Op::Bce(eps), [self, target], 1, 1)
    }
}

/// Forward: `L = −(1/n) Σ [y ln p̂ + (1 − y) ln(1 − p̂)]`, `p̂ = clip(p, eps, 1 − eps)`.
pub(crate) fn forward(eps: f64, x: &[Operand<'_>], out: &mut [f64]) {
    let (p, y) = (x[0].value, x[1].value);
    let total: f64 = p
        .iter()
        .zip(y)
        .map(|(&p, &y)| {
            let p = clip(eps, p);
            y * p.ln() + (1.0 - y) * (1.0 - p).ln()
        })
        .sum();
    out[0] = -total / p.len() as f64;
}

/// Backward: `dp += g · (p − y) / (p(1 − p)) / n` inside the clip (0 outside it, where the
/// clipped `p̂` does not move with `p`); `dy += g · (ln(1 − p̂) − ln p̂) / n`.
#[inline(always)]
pub(crate) fn backward(eps: f64, cx: &mut Backward<'_>) {
    let (g, p, y) = (cx.upstream[0], cx.input(0), cx.input(1));
    let n = p.len() as f64;
    if let Some(dp) = cx.grad(0) {
        for ((dp, &p), y) in dp.iter_mut().zip(p).zip(y) {
            if p > eps && p < 1.0 - eps {
                *dp += g * (p - y) / (p * (1.0 - p)) / n;
            }
        }
    }
    if let Some(dy) = cx.grad(1) {
        for (dy, &p) in dy.iter_mut().zip(p) {
            let p = clip(eps, p);
            *dy += g * ((1.0 - p).ln() - p.ln()) / n;
        }
    }
}

/// The rule per input, as the backward trace prints it (`docs/chain-rule.md` derives it).
pub(crate) const RULES: [&str; 2] = [
    "dL/d{a} += dL/d{y} · ({a} − {b})/({a}(1 − {a}))/n (0 outside the clip)",
    "dL/d{b} += dL/d{y} · (ln(1 − {a}) − ln {a})/n",
];

/// `p` clipped to `[eps, 1 − eps]`, so that `ln` never sees 0.
fn clip(eps: f64, p: f64) -> f64 {
    p.clamp(eps, 1.0 - eps)
}
