//! `y = a ⊘ b`, elementwise. ∂y/∂a = 1/b, ∂y/∂b = −a/b² = −y/b:
//! `da += g ⊘ b`, `db −= g ⊙ y ⊘ b` (using the saved output `y`).
//!
//! Shapes that differ but broadcast record [`broadcast`](super::broadcast) instead: a softmax
//! written `e / e.row_sums()` divides an m×n by an m×1 column.

use std::ops::Div;

use super::broadcast::Binary;
use super::{map2, Backward, Op, Operand};
use crate::tape::Var;

impl<'t> Div for Var<'t> {
    type Output = Var<'t>;

    /// `a ⊘ b`, elementwise division.
    ///
    /// Shapes that differ broadcast by NumPy's rule (an m×n with a 1×n row, an m×1 column or a
    /// 1×1 scalar, either side; an m×1 column with a 1×n row), recorded as
    /// [`Op::Broadcast`]; see `ops/broadcast.rs`.
    ///
    /// # Panics
    /// If the shapes neither match nor broadcast, naming both shapes and the caller's line.
    #[inline]
    #[track_caller]
    fn div(self, other: Var<'t>) -> Var<'t> {
        self.zip_or_broadcast(Op::Div, Binary::Div, other)
    }
}

/// Forward: `y = a ⊘ b`, entry by entry.
pub(crate) fn forward(x: &[Operand<'_>], y: &mut [f64]) {
    map2(x, y, values);
}

/// Backward: `da += g ⊘ b`; `db −= g ⊙ y ⊘ b` (−a/b² is −y/b, from the saved output).
#[inline(always)]
pub(crate) fn backward(cx: &mut Backward<'_>) {
    let (g, b, y) = (cx.upstream, cx.input(1), cx.output());
    if let Some(da) = cx.grad(0) {
        over(g, b, da);
    }
    if let Some(db) = cx.grad(1) {
        for (((db, g), b), y) in db.iter_mut().zip(g).zip(b).zip(y) {
            *db -= g * y / b;
        }
    }
}

/// The rule per input, as the backward trace prints it (`docs/chain-rule.md` derives it).
pub(crate) const RULES: [&str; 2] = ["dL/d{a} += dL/d{y} ⊘ {b}", "dL/d{b} −= dL/d{y} ⊙ {y} ⊘ {b}"];

/// `y = a ⊘ b` on slices.
fn values(a: &[f64], b: &[f64], y: &mut [f64]) {
    for ((y, &a), &b) in y.iter_mut().zip(a).zip(b) {
        *y = scalar(a, b);
    }
}

/// `y = a / b` on one entry (also the 1×1 fast path of recording, `ops/scalar.rs`).
#[inline(always)]
pub(crate) fn scalar(a: f64, b: f64) -> f64 {
    a / b
}

/// `dx += g ⊘ b` (also `log`'s rule, with `b = x`).
#[inline(always)]
pub(crate) fn over(g: &[f64], b: &[f64], dx: &mut [f64]) {
    for ((dx, g), b) in dx.iter_mut().zip(g).zip(b) {
        *dx += g / b;
    }
}
