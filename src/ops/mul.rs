//! `y = a ⊙ b`, elementwise (same shapes). ∂y/∂a = b, ∂y/∂b = a: `da += g ⊙ b`, `db += g ⊙ a`.
//!
//! With `x * x` both inputs are the same node, and it receives both terms: `dx += 2 g ⊙ x`.
//!
//! Shapes that differ but broadcast record [`broadcast`](super::broadcast) instead.

use std::ops::Mul;

use super::broadcast::Binary;
use super::{map2, split2, Backward, GradOut, Op, Operand};
use crate::tape::Var;

impl<'t> Mul for Var<'t> {
    type Output = Var<'t>;

    /// `a ⊙ b`, the elementwise (Hadamard) product. For the matrix product use [`Var::matmul`].
    ///
    /// Shapes that differ broadcast by NumPy's rule (an m×n with a 1×n row, an m×1 column or a
    /// 1×1 scalar, either side; an m×1 column with a 1×n row), recorded as
    /// [`Op::Broadcast`]; see `ops/broadcast.rs`.
    ///
    /// # Panics
    /// If the shapes neither match nor broadcast, naming both shapes and the caller's line.
    #[inline]
    #[track_caller]
    fn mul(self, other: Var<'t>) -> Var<'t> {
        self.zip_or_broadcast(Op::Mul, Binary::Mul, other)
    }
}

/// Forward: `y = a ⊙ b`, entry by entry.
pub(crate) fn forward(x: &[Operand<'_>], y: &mut [f64]) {
    map2(x, y, values);
}

/// Backward: each factor's gradient is the upstream times the other factor, `da += g ⊙ b`,
/// `db += g ⊙ a` (for `x ⊙ x` both run on the same gradient: `dx += 2 g ⊙ x`).
#[inline(always)]
pub(crate) fn backward(cx: &mut Backward<'_>) {
    let (g, a, b) = (cx.upstream, cx.input(0), cx.input(1));
    if let Some(da) = cx.grad_out(0) {
        split2(da, g, b, times);
    }
    if let Some(db) = cx.grad_out(1) {
        split2(db, g, a, times);
    }
}

/// The rule per input, as the backward trace prints it (`docs/chain-rule.md` derives it).
pub(crate) const RULES: [&str; 2] = ["dL/d{a} += dL/d{y} ⊙ {b}", "dL/d{b} += dL/d{y} ⊙ {a}"];

/// `y = a ⊙ b` on slices.
fn values(a: &[f64], b: &[f64], y: &mut [f64]) {
    for ((y, &a), &b) in y.iter_mut().zip(a).zip(b) {
        *y = scalar(a, b);
    }
}

/// `y = a · b` on one entry (also the 1×1 fast path, `ops/scalar.rs`).
#[inline(always)]
pub(crate) fn scalar(a: f64, b: f64) -> f64 {
    a * b
}

/// The rule on one entry: `(da, db) += (g · b, g · a)`, as [`times`] computes each.
#[inline(always)]
pub(crate) fn scalar_grads(g: f64, a: f64, b: f64) -> [f64; 2] {
    [g * b, g * a]
}

/// `dx += g ⊙ other` (also `exp`'s rule, with `other = y`).
#[inline(always)]
pub(crate) fn times(g: &[f64], other: &[f64], dx: GradOut<'_>) {
    dx.add(g.iter().zip(other).map(|(g, o)| g * o));
}
