//! `y = c · x` for a constant `c`. ∂y/∂x = c: `dx += c · g`.
//!
//! Also what `-x` (`c = −1`), `x * 2.0`, `2.0 * x` and `x / 2.0` (`c = 1/2`) record. Derived:
//! `c / x` is `c · x⁻¹` ([`powf`](super::powf) then scale), with no rule of its own.

use std::ops::{Div, Mul, Neg};

use super::{Backward, Op, Operand};
use crate::tape::Var;

impl<'t> Var<'t> {
    /// `c · x`, every entry multiplied by the constant `c`.
    #[inline]
    #[track_caller]
    pub fn scale(self, c: f64) -> Var<'t> {
        self.unary(Op::Scale(c))
    }
}

impl<'t> Neg for Var<'t> {
    type Output = Var<'t>;
    /// `−x`, recorded as `scale(-1)`.
    #[inline]
    #[track_caller]
    fn neg(self) -> Var<'t> {
        self.scale(-1.0)
    }
}

impl<'t> Mul<f64> for Var<'t> {
    type Output = Var<'t>;
    /// `x · c`, recorded as `scale(c)`.
    #[inline]
    #[track_caller]
    fn mul(self, c: f64) -> Var<'t> {
        self.scale(c)
    }
}

impl<'t> Mul<Var<'t>> for f64 {
    type Output = Var<'t>;
    /// `c · x`, recorded as `scale(c)`.
    #[inline]
    #[track_caller]
    fn mul(self, x: Var<'t>) -> Var<'t> {
        x.scale(self)
    }
}

impl<'t> Div<f64> for Var<'t> {
    type Output = Var<'t>;
    /// `x / c`, recorded as `scale(1/c)`.
    #[inline]
    #[track_caller]
    fn div(self, c: f64) -> Var<'t> {
        self.scale(1.0 / c)
    }
}

impl<'t> Div<Var<'t>> for f64 {
    type Output = Var<'t>;
    /// `c / x`, elementwise: derived as `c · x⁻¹` (two nodes, `powf(-1)` then `scale(c)`).
    #[inline]
    #[track_caller]
    fn div(self, x: Var<'t>) -> Var<'t> {
        x.powf(-1.0).scale(self)
    }
}

/// Forward: `y = c · x`.
pub(crate) fn forward(c: f64, x: &[Operand<'_>], y: &mut [f64]) {
    for (y, &x) in y.iter_mut().zip(x[0].value) {
        *y = scalar(c, x);
    }
}

/// Backward: `dx += c · g`.
#[inline(always)]
pub(crate) fn backward(c: f64, cx: &mut Backward<'_>) {
    let g = cx.upstream;
    if let Some(dx) = cx.grad_out(0) {
        dx.halves(1, |s, dx| dx.add(g[s..].iter().map(|&g| scalar_grad(c, g))));
    }
}

/// The rule per input, as the backward trace prints it (`docs/chain-rule.md` derives it).
/// `y = c · x` on one entry (also the 1×1 fast path, `ops/scalar.rs`).
#[inline(always)]
pub(crate) fn scalar(c: f64, x: f64) -> f64 {
    c * x
}

/// The rule on one entry: `dx += c · g`.
#[inline(always)]
pub(crate) fn scalar_grad(c: f64, g: f64) -> f64 {
    c * g
}

pub(crate) const RULES: [&str; 1] = ["dL/d{a} += {c} · dL/d{y}"];
