//! `s = Σ x` over all entries (1×1), over each row (m×1) or over each column (1×n).
//!
//! ∂s/∂x = 1 for every entry that went into `s`, so each entry receives its sum's upstream:
//! `dx[i][j] += g` (all), `g[i]` (rows) or `g[j]` (columns). A sum's gradient is a broadcast.

use super::{Op, Reduce};
use crate::tape::Var;

impl<'t> Var<'t> {
    /// The sum of all entries: m×n → 1×1.
    #[inline]
    #[track_caller]
    pub fn sum(self) -> Var<'t> {
        self.reduce(Op::Sum(Reduce::All))
    }

    /// The sum of each row: m×n → m×1.
    #[inline]
    #[track_caller]
    pub fn row_sums(self) -> Var<'t> {
        self.reduce(Op::Sum(Reduce::Rows))
    }

    /// The sum of each column: m×n → 1×n.
    #[inline]
    #[track_caller]
    pub fn col_sums(self) -> Var<'t> {
        self.reduce(Op::Sum(Reduce::Cols))
    }

    /// Records a reduction (sum or mean) with its output shape.
    #[inline]
    #[track_caller]
    pub(crate) fn reduce(self, op: Op) -> Var<'t> {
        let (rows, cols) = self.shape();
        let axis = match op {
            Op::Sum(axis) | Op::Mean(axis) => axis,
            _ => unreachable!("reduce records only sums and means"),
        };
        let (out_rows, out_cols) = match axis {
            Reduce::All => (1, 1),
            Reduce::Rows => (rows, 1),
            Reduce::Cols => (1, cols),
        };
        self.tape.record(op, [self], out_rows, out_cols)
    }
}

/// Forward: the sums of `x` (with `cols` columns) along `axis`, in row-major order.
pub(crate) fn forward(axis: Reduce, x: &[f64], cols: usize, s: &mut [f64]) {
    match axis {
        Reduce::All => s[0] = x.iter().sum(),
        Reduce::Rows => {
            for (s, row) in s.iter_mut().zip(x.chunks_exact(cols)) {
                *s = row.iter().sum();
            }
        }
        Reduce::Cols => {
            s.fill(0.0);
            for row in x.chunks_exact(cols) {
                super::add::accumulate(row, s);
            }
        }
    }
}

/// Backward: every entry receives the upstream of the sum it went into.
#[inline(always)]
pub(crate) fn backward(axis: Reduce, g: &[f64], cols: usize, dx: &mut [f64]) {
    match axis {
        Reduce::All => dx.iter_mut().for_each(|dx| *dx += g[0]),
        Reduce::Rows => {
            for (dx_row, g) in dx.chunks_exact_mut(cols).zip(g) {
                dx_row.iter_mut().for_each(|dx| *dx += g);
            }
        }
        Reduce::Cols => {
            for dx_row in dx.chunks_exact_mut(cols) {
                super::add::accumulate(g, dx_row);
            }
        }
    }
}
