//! `y = a − b` (same shapes). ∂y/∂a = 1, ∂y/∂b = −1: `da += g`, `db −= g`.
//!
//! Shapes that differ but broadcast record [`broadcast`](super::broadcast) instead.

use std::ops::Sub;

use super::add::pass_through;
use super::broadcast::Binary;
use super::{map2, split1, Backward, GradOut, Op, Operand};
use crate::tape::Var;

impl<'t> Sub for Var<'t> {
    type Output = Var<'t>;

    /// `a − b`, elementwise.
    ///
    /// Shapes that differ broadcast by NumPy's rule (an m×n with a 1×n row, an m×1 column or a
    /// 1×1 scalar, either side; an m×1 column with a 1×n row), recorded as
    /// [`Op::Broadcast`]; see `ops/broadcast.rs`.
    ///
    /// # Panics
    /// If the shapes neither match nor broadcast, naming both shapes and the caller's line.
    #[inline]
    #[track_caller]
    fn sub(self, other: Var<'t>) -> Var<'t> {
        self.zip_or_broadcast(Op::Sub, Binary::Sub, other)
    }
}

/// Forward: `y = a − b`, entry by entry.
pub(crate) fn forward(x: &[Operand<'_>], y: &mut [f64]) {
    map2(x, y, values);
}

/// Backward: `da += g`, `db −= g`.
#[inline(always)]
pub(crate) fn backward(cx: &mut Backward<'_>) {
    let g = cx.upstream;
    if let Some(da) = cx.grad_out(0) {
        split1(da, g, pass_through);
    }
    if let Some(db) = cx.grad_out(1) {
        split1(db, g, negated);
    }
}

/// The rule per input, as the backward trace prints it (`docs/chain-rule.md` derives it).
pub(crate) const RULES: [&str; 2] = ["dL/d{a} += dL/d{y}", "dL/d{b} −= dL/d{y}"];

/// `y = a − b` on slices.
fn values(a: &[f64], b: &[f64], y: &mut [f64]) {
    for ((y, &a), &b) in y.iter_mut().zip(a).zip(b) {
        *y = scalar(a, b);
    }
}

/// `y = a − b` on one entry (also the 1×1 fast path, `ops/scalar.rs`).
#[inline(always)]
pub(crate) fn scalar(a: f64, b: f64) -> f64 {
    a - b
}

/// The rule on one entry: `(da, db) += (g, −g)`.
#[inline(always)]
pub(crate) fn scalar_grads(g: f64) -> [f64; 2] {
    [g, -g]
}

/// `db −= g`.
#[inline(always)]
fn negated(g: &[f64], db: GradOut<'_>) {
    db.add(g.iter().map(|g| -g));
}
