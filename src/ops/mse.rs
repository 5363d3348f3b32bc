//! Mean squared error `L = (1/n) Σ (p − y)²` over the n entries of a prediction `p` and target `y`.
//!
//! ∂L/∂p = 2(p − y)/n and ∂L/∂y = −2(p − y)/n: `dp += g·2(p − y)/n`, `dy −= g·2(p − y)/n`.
//! This is PyTorch's `MSELoss` (mean reduction, no ½): the lab's ½·Σ convention is
//! `0.5 * p.sse(y)`.

use super::{sse, Backward, Op, Operand};
use crate::tape::Var;

impl<'t> Var<'t> {
    /// Mean squared error `(1/n) Σ (p − y)²` of this prediction against `target`: → 1×1.
    ///
    /// # Panics
    /// If the shapes differ.
    #[inline]
    #[track_caller]
    pub fn mse(self, target: Var<'t>) -> Var<'t> {
        super::same_shape(Op::Mse, self, target);
        self.tape.record(Op::Mse, [self, target], 1, 1)
    }
}

/// Forward: `L = (1/n) Σ (p − y)²`.
pub(crate) fn forward(x: &[Operand<'_>], out: &mut [f64]) {
    out[0] = value(x[0].value, x[1].value);
}

/// `(1/n) Σ (p − y)²`.
#[inline(always)]
pub(crate) fn value(p: &[f64], y: &[f64]) -> f64 {
    sse::value(p, y) / p.len() as f64
}

/// Backward: `dp += g · 2(p − y)/n`; `dy −= g · 2(p − y)/n`.
#[inline(always)]
pub(crate) fn backward(cx: &mut Backward<'_>) {
    let (g, p, y) = (cx.upstream[0], cx.input(0), cx.input(1));
    if let Some(dp) = cx.grad(0) {
        grad_prediction(g, p, y, dp);
    }
    if let Some(dy) = cx.grad(1) {
        grad_target(g, p, y, dy);
    }
}

/// `dp += g · 2(p − y)/n`.
#[inline(always)]
pub(crate) fn grad_prediction(g: f64, p: &[f64], y: &[f64], dp: &mut [f64]) {
    let n = p.len() as f64;
    for ((dp, p), y) in dp.iter_mut().zip(p).zip(y) {
        *dp += g * 2.0 * (p - y) / n;
    }
}

/// `dy −= g · 2(p − y)/n`.
#[inline(always)]
pub(crate) fn grad_target(g: f64, p: &[f64], y: &[f64], dy: &mut [f64]) {
    let n = p.len() as f64;
    for ((dy, p), y) in dy.iter_mut().zip(p).zip(y) {
        *dy -= g * 2.0 * (p - y) / n;
    }
}

/// The rule per input, as the backward trace prints it (`docs/chain-rule.md` derives it).
pub(crate) const RULES: [&str; 2] = [
    "dL/d{a} += dL/d{y} · 2({a} − {b})/n",
    "dL/d{b} −= dL/d{y} · 2({a} − {b})/n",
];
