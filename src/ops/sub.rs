//! `y = a − b` (same shapes). ∂y/∂a = 1, ∂y/∂b = −1: `da += g`, `db −= g`.

use super::GradOut;
use std::ops::Sub;

use super::Op;
use crate::tape::Var;

impl<'t> Sub for Var<'t> {
    type Output = Var<'t>;

    /// `a − b`, elementwise.
    ///
    /// # Panics
    /// If the shapes differ.
    #[inline]
    #[track_caller]
    fn sub(self, other: Var<'t>) -> Var<'t> {
        self.zip(Op::Sub, other)
    }
}

/// Forward: `y = a − b`.
pub(crate) fn forward(a: &[f64], b: &[f64], y: &mut [f64]) {
    for ((y, a), b) in y.iter_mut().zip(a).zip(b) {
        *y = a - b;
    }
}

/// Backward to `a`: `da += g`.
#[inline(always)]
pub(crate) fn backward_lhs(g: &[f64], da: GradOut<'_>) {
    super::add::backward(g, da);
}

/// Backward to `b`: `db −= g`.
#[inline(always)]
pub(crate) fn backward_rhs(g: &[f64], db: GradOut<'_>) {
    db.add(g.iter().map(|g| -g));
}
