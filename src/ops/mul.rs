//! `y = a ⊙ b`, elementwise (same shapes). ∂y/∂a = b, ∂y/∂b = a: `da += g ⊙ b`, `db += g ⊙ a`.
//!
//! With `x * x` both inputs are the same node, and it receives both terms: `dx += 2 g ⊙ x`.

use super::GradOut;
use std::ops::Mul;

use super::Op;
use crate::tape::Var;

impl<'t> Mul for Var<'t> {
    type Output = Var<'t>;

    /// `a ⊙ b`, the elementwise (Hadamard) product. For the matrix product use [`Var::matmul`].
    ///
    /// # Panics
    /// If the shapes differ.
    #[inline]
    #[track_caller]
    fn mul(self, other: Var<'t>) -> Var<'t> {
        self.zip(Op::Mul, other)
    }
}

/// Forward: `y = a ⊙ b`.
pub(crate) fn forward(a: &[f64], b: &[f64], y: &mut [f64]) {
    for ((y, a), b) in y.iter_mut().zip(a).zip(b) {
        *y = a * b;
    }
}

/// Backward to one factor given the other: `dx += g ⊙ other`.
#[inline(always)]
pub(crate) fn backward(g: &[f64], other: &[f64], dx: GradOut<'_>) {
    dx.add(g.iter().zip(other).map(|(g, o)| g * o));
}
