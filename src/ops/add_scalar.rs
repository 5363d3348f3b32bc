//! `y = x + c` for a constant `c`. ∂y/∂x = 1: `dx += g`.
//!
//! Also what `x + 1.0`, `1.0 + x` and `x - 1.0` record. Derived: `c - x` is `(−x) + c`.

use std::ops::{Add, Sub};

use super::add::pass_through;
use super::{split1, Backward, Op, Operand};
use crate::tape::Var;

impl<'t> Var<'t> {
    /// `x + c`, the constant `c` added to every entry.
    #[inline]
    #[track_caller]
    pub fn add_scalar(self, c: f64) -> Var<'t> {
        self.unary(Op::AddScalar(c))
    }
}

impl<'t> Add<f64> for Var<'t> {
    type Output = Var<'t>;
    /// `x + c`, recorded as `add_scalar(c)`.
    #[inline]
    #[track_caller]
    fn add(self, c: f64) -> Var<'t> {
        self.add_scalar(c)
    }
}

impl<'t> Add<Var<'t>> for f64 {
    type Output = Var<'t>;
    /// `c + x`, recorded as `add_scalar(c)`.
    #[inline]
    #[track_caller]
    fn add(self, x: Var<'t>) -> Var<'t> {
        x.add_scalar(self)
    }
}

impl<'t> Sub<f64> for Var<'t> {
    type Output = Var<'t>;
    /// `x − c`, recorded as `add_scalar(-c)`.
    #[inline]
    #[track_caller]
    fn sub(self, c: f64) -> Var<'t> {
        self.add_scalar(-c)
    }
}

impl<'t> Sub<Var<'t>> for f64 {
    type Output = Var<'t>;
    /// `c − x`, derived as `(−x) + c` (two nodes: `scale(-1)` then `add_scalar(c)`).
    #[inline]
    #[track_caller]
    fn sub(self, x: Var<'t>) -> Var<'t> {
        x.scale(-1.0).add_scalar(self)
    }
}

/// Forward: `y = x + c`.
pub(crate) fn forward(c: f64, x: &[Operand<'_>], y: &mut [f64]) {
    for (y, &x) in y.iter_mut().zip(x[0].value) {
        *y = scalar(c, x);
    }
}

/// `y = x + c` on one entry (also the 1×1 fast path, `ops/scalar.rs`).
#[inline(always)]
pub(crate) fn scalar(c: f64, x: f64) -> f64 {
    x + c
}

/// The rule on one entry: `dx += g` (as `add::pass_through` on a slice).
#[inline(always)]
pub(crate) fn scalar_grad(g: f64) -> f64 {
    g
}

/// Backward: `dx += g` (a constant shifts the value, not its slope).
#[inline(always)]
pub(crate) fn backward(cx: &mut Backward<'_>) {
    let g = cx.upstream;
    if let Some(dx) = cx.grad_out(0) {
        split1(dx, g, pass_through);
    }
}

/// The rule per input, as the backward trace prints it (`docs/chain-rule.md` derives it).
pub(crate) const RULES: [&str; 1] = ["dL/d{a} += dL/d{y}"];
