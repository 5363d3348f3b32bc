//! Sum of squared errors `L = Σ (p − y)²`.
//!
//! ∂L/∂p = 2(p − y), ∂L/∂y = −2(p − y): `dp += g·2(p − y)`, `dy −= g·2(p − y)`.

use super::{Backward, Op, Operand};
use crate::tape::Var;

impl<'t> Var<'t> {
    /// Sum of squared errors `Σ (p − y)²` of this prediction against `target`: → 1×1.
    ///
    /// # Panics
    /// If the shapes differ.
    #[inline]
    #[track_caller]
    pub fn sse(self, target: Var<'t>) -> Var<'t> {
        super::same_shape(Op::Sse, self, target);
        self.tape.record(Op::Sse, [self, target], 1, 1)
    }
}

/// Forward: `L = Σ (p − y)²`, summed in order.
pub(crate) fn forward(x: &[Operand<'_>], out: &mut [f64]) {
    out[0] = value(x[0].value, x[1].value);
}

/// Backward: `dp += g · 2(p − y)`; `dy −= g · 2(p − y)`.
#[inline(always)]
pub(crate) fn backward(cx: &mut Backward<'_>) {
    let (g, p, y) = (cx.upstream[0], cx.input(0), cx.input(1));
    if let Some(dp) = cx.grad(0) {
        for ((dp, p), y) in dp.iter_mut().zip(p).zip(y) {
            *dp += g * 2.0 * (p - y);
        }
    }
    if let Some(dy) = cx.grad(1) {
        for ((dy, p), y) in dy.iter_mut().zip(p).zip(y) {
            *dy -= g * 2.0 * (p - y);
        }
    }
}

/// The rule per input, as the backward trace prints it (`docs/chain-rule.md` derives it).
pub(crate) const RULES: [&str; 2] = [
    "dL/d{a} += dL/d{y} · 2({a} − {b})",
    "dL/d{b} −= dL/d{y} · 2({a} − {b})",
];

/// `Σ (p − y)²` (also `mse`'s numerator).
pub(crate) fn value(p: &[f64], y: &[f64]) -> f64 {
    p.iter().zip(y).map(|(p, y)| (p - y) * (p - y)).sum()
}
