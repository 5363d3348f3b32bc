//! `y = a + b` (same shapes). ∂y/∂a = 1, ∂y/∂b = 1, so both inputs receive the upstream as it is:
//! `da += g`, `db += g`.
//!
//! `a + b` where one side is a 1×n row and the other m×n records [`add_row`](super::add_row)
//! (the bias broadcast) instead, and other shapes that broadcast record
//! [`broadcast`](super::broadcast).

use std::ops::Add;

use super::broadcast::{self, Binary};
use super::elementwise::Shape;
use super::{map2, split1, Backward, GradOut, Op, Operand};
use crate::tape::Var;

impl<'t> Add for Var<'t> {
    type Output = Var<'t>;

    /// `a + b`: elementwise for equal shapes; a 1×n row on either side is added to every row of
    /// the other (m×n) operand, as a bias is ([`Var::add_row`]); other shapes broadcast by
    /// NumPy's rule (an m×1 column or a 1×1 scalar on either side, an m×1 column with a 1×n
    /// row), recorded as [`Op::Broadcast`].
    ///
    /// # Panics
    /// If the shapes neither match nor broadcast, naming both shapes and the caller's line.
    #[inline(always)]
    #[track_caller]
    fn add(self, other: Var<'t>) -> Var<'t> {
        match self.scalar_or_shapes(Op::Add, other) {
            Ok(y) => y,
            Err(shapes) => add_general(self, other, shapes),
        }
    }
}

/// `a + b` off the 1×1 fast path: same shapes, a bias row, or a broadcast.
#[inline(never)]
#[track_caller]
fn add_general<'t>(a: Var<'t>, b: Var<'t>, [(ar, ac), (br, bc)]: [Shape; 2]) -> Var<'t> {
    if (ar, ac) == (br, bc) {
        a.tape.record(Op::Add, [a, b], ar, ac)
    } else if br == 1 && bc == ac {
        a.add_row(b)
    } else if ar == 1 && ac == bc {
        b.add_row(a)
    } else {
        broadcast::record(Binary::Add, a, b, (ar, ac), (br, bc))
    }
}

/// Forward: `y = a + b`, entry by entry (on two threads when large).
pub(crate) fn forward(x: &[Operand<'_>], y: &mut [f64]) {
    map2(x, y, values);
}

/// Backward: each input receives the upstream unchanged, `da += g`, `db += g`.
#[inline(always)]
pub(crate) fn backward(cx: &mut Backward<'_>) {
    let g = cx.upstream;
    if let Some(da) = cx.grad_out(0) {
        split1(da, g, pass_through);
    }
    if let Some(db) = cx.grad_out(1) {
        split1(db, g, pass_through);
    }
}

/// The rule per input, as the backward trace prints it (`docs/chain-rule.md` derives it).
pub(crate) const RULES: [&str; 2] = ["dL/d{a} += dL/d{y}", "dL/d{b} += dL/d{y}"];

/// `y = a + b` on slices.
pub(crate) fn values(a: &[f64], b: &[f64], y: &mut [f64]) {
    for ((y, &a), &b) in y.iter_mut().zip(a).zip(b) {
        *y = scalar(a, b);
    }
}

/// `y = a + b` on one entry (also the 1×1 fast path, `ops/scalar.rs`).
#[inline(always)]
pub(crate) fn scalar(a: f64, b: f64) -> f64 {
    a + b
}

/// The rule on one entry: `(da, db) += (g, g)`.
#[inline(always)]
pub(crate) fn scalar_grads(g: f64) -> [f64; 2] {
    [g, g]
}

/// `dx += g`: the upstream passed through (also `sub`'s, `add_scalar`'s and `add_row`'s rule).
#[inline(always)]
pub(crate) fn pass_through(g: &[f64], dx: GradOut<'_>) {
    dx.add(g.iter().copied());
}

/// `dx += g` into a plain slice (sums over rows: `col_sums`, the bias gradient).
#[inline(always)]
pub(crate) fn accumulate(g: &[f64], dx: &mut [f64]) {
    for (dx, g) in dx.iter_mut().zip(g) {
        *dx += g;
    }
}
