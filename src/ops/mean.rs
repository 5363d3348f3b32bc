//! `μ = (1/c) Σ x` over all entries, each row or each column, with `c` the count per mean.
//!
//! ∂μ/∂x = 1/c for every entry that went into `μ`: `dx += g / c`, broadcast like a sum's.

use super::{Op, Reduce};
use crate::tape::Var;

impl<'t> Var<'t> {
    /// The mean of all entries: m×n → 1×1.
    #[inline]
    #[track_caller]
    pub fn mean(self) -> Var<'t> {
        self.reduce(Op::Mean(Reduce::All))
    }

    /// The mean of each row: m×n → m×1.
    #[inline]
    #[track_caller]
    pub fn row_means(self) -> Var<'t> {
        self.reduce(Op::Mean(Reduce::Rows))
    }

    /// The mean of each column: m×n → 1×n.
    #[inline]
    #[track_caller]
    pub fn col_means(self) -> Var<'t> {
        self.reduce(Op::Mean(Reduce::Cols))
    }
}

/// How many entries each mean along `axis` averages, for an input of `len` entries and `cols`
/// columns.
fn count(axis: Reduce, len: usize, cols: usize) -> f64 {
    match axis {
        Reduce::All => len as f64,
        Reduce::Rows => cols as f64,
        Reduce::Cols => (len / cols) as f64,
    }
}

/// Forward: the sums along `axis`, each divided by its count.
pub(crate) fn forward(axis: Reduce, x: &[f64], cols: usize, mu: &mut [f64]) {
    super::sum::forward(axis, x, cols, mu);
    let c = count(axis, x.len(), cols);
    mu.iter_mut().for_each(|mu| *mu /= c);
}

/// Backward: `dx += g / c`, each entry receiving the upstream of its mean.
#[inline(always)]
pub(crate) fn backward(axis: Reduce, g: &[f64], cols: usize, dx: &mut [f64]) {
    let c = count(axis, dx.len(), cols);
    match axis {
        Reduce::All => dx.iter_mut().for_each(|dx| *dx += g[0] / c),
        Reduce::Rows => {
            for (dx_row, g) in dx.chunks_exact_mut(cols).zip(g) {
                dx_row.iter_mut().for_each(|dx| *dx += g / c);
            }
        }
        Reduce::Cols => {
            for dx_row in dx.chunks_exact_mut(cols) {
                for (dx, g) in dx_row.iter_mut().zip(g) {
                    *dx += g / c;
                }
            }
        }
    }
}
