//! `y = xᵖ` for a constant `p`, elementwise. dy/dx = p·xᵖ⁻¹: `dx += g ⊙ p·xᵖ⁻¹`.
//!
//! At `p = 0`, `y = 1` is a constant and its derivative is 0 everywhere, including at `x = 0`,
//! where the formula would read `0 · 0⁻¹ = 0 · ∞ = NaN` (PyTorch defines it the same way). For
//! `0 < p < 1` at `x = 0` the derivative is `+∞`, as in PyTorch.

use super::{Backward, Op, Operand};
use crate::tape::Var;

impl<'t> Var<'t> {
    /// `xᵖ` for a constant exponent `p`, elementwise (`f64::powf`: NaN for x < 0 and fractional p).
    #[inline]
    #[track_caller]
    pub fn powf(self, p: f64) -> Var<'t> {
        self.unary(Op::Powf(p))
    }
}

/// Forward: `y = xᵖ`.
pub(crate) fn forward(p: f64, x: &[Operand<'_>], y: &mut [f64]) {
    for (y, &x) in y.iter_mut().zip(x[0].value) {
        *y = scalar(p, x);
    }
}

/// `y = xᵖ` on one entry (also the 1×1 fast path of recording, `ops/scalar.rs`).
#[inline(always)]
pub(crate) fn scalar(p: f64, x: f64) -> f64 {
    x.powf(p)
}

/// Backward: `dx += g ⊙ p·xᵖ⁻¹` (nothing at `p = 0`: the derivative of a constant).
#[inline(always)]
pub(crate) fn backward(p: f64, cx: &mut Backward<'_>) {
    let (g, x) = (cx.upstream, cx.input(0));
    let Some(dx) = cx.grad(0) else { return };
    if p == 0.0 {
        return;
    }
    for ((dx, g), x) in dx.iter_mut().zip(g).zip(x) {
        *dx += g * p * x.powf(p - 1.0);
    }
}

/// The rule per input, as the backward trace prints it (`docs/chain-rule.md` derives it).
pub(crate) const RULES: [&str; 1] = ["dL/d{a} += dL/d{y} ⊙ {c}·{a}^({c} − 1)"];
