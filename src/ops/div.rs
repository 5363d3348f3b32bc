//! `y = a ⊘ b`, elementwise. ∂y/∂a = 1/b, ∂y/∂b = −a/b² = −y/b:
//! `da += g ⊘ b`, `db −= g ⊙ y ⊘ b` (using the saved output `y`).

use std::ops::Div;

use super::Op;
use crate::tape::Var;

impl<'t> Div for Var<'t> {
    type Output = Var<'t>;

    /// `a ⊘ b`, elementwise division.
    ///
    /// # Panics
    /// If the shapes differ.
    #[inline]
    #[track_caller]
    fn div(self, other: Var<'t>) -> Var<'t> {
        self.zip(Op::Div, other)
    }
}

/// Forward: `y = a ⊘ b`.
pub(crate) fn forward(a: &[f64], b: &[f64], y: &mut [f64]) {
    for ((y, a), b) in y.iter_mut().zip(a).zip(b) {
        *y = a / b;
    }
}

/// Backward to the numerator: `da += g ⊘ b`.
#[inline(always)]
pub(crate) fn backward_lhs(g: &[f64], b: &[f64], da: &mut [f64]) {
    for ((da, g), b) in da.iter_mut().zip(g).zip(b) {
        *da += g / b;
    }
}

/// Backward to the denominator: `db −= g ⊙ y ⊘ b`.
#[inline(always)]
pub(crate) fn backward_rhs(g: &[f64], b: &[f64], y: &[f64], db: &mut [f64]) {
    for (((db, g), b), y) in db.iter_mut().zip(g).zip(b).zip(y) {
        *db -= g * y / b;
    }
}
