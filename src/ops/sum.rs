//! `s = Σ x` over all entries (1×1), over each row (m×1) or over each column (1×n).
//!
//! ∂s/∂x = 1 for every entry that went into `s`, so each entry receives its sum's upstream:
//! `dx[i][j] += g` (all), `g[i]` (rows) or `g[j]` (columns). A sum's gradient is a broadcast.

use super::{add, Backward, Op, Operand};
use crate::tape::Var;

/// Which entries a [`Op::Sum`] or [`Op::Mean`] reduces together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduce {
    /// All entries: m×n → 1×1.
    All,
    /// Each row's entries: m×n → m×1.
    Rows,
    /// Each column's entries: m×n → 1×n.
    Cols,
}

/// The name of the op that sums along `axis`: the method that records it.
pub(crate) fn name(axis: Reduce) -> &'static str {
    match axis {
        Reduce::All => "sum",
        Reduce::Rows => "row_sums",
        Reduce::Cols => "col_sums",
    }
}

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

    /// Records a reduction (sum, mean, max or min) with its output shape.
    #[inline]
    #[track_caller]
    pub(crate) fn reduce(self, op: Op) -> Var<'t> {
        let (rows, cols) = self.shape();
        let axis = match op {
            Op::Sum(axis) | Op::Mean(axis) | Op::Max(axis) | Op::Min(axis) => axis,
            _ => unreachable!("reduce records only sums, means, maxima and minima"),
        };
        let (out_rows, out_cols) = match axis {
            Reduce::All => (1, 1),
            Reduce::Rows => (rows, 1),
            Reduce::Cols => (1, cols),
        };
        self.tape.record(op, [self], out_rows, out_cols)
    }
}

/// Forward: the sums of `x` along `axis` (all entries, each row, or each column), in row-major
/// order.
pub(crate) fn forward(axis: Reduce, x: &[Operand<'_>], s: &mut [f64]) {
    values(axis, x[0].value, x[0].cols, s);
}

/// Backward: every entry receives the upstream of the sum it went into (broadcast back).
#[inline(always)]
pub(crate) fn backward(axis: Reduce, cx: &mut Backward<'_>) {
    let (g, cols) = (cx.upstream, cx.input_shape(0).1);
    let Some(dx) = cx.grad(0) else { return };
    match axis {
        Reduce::All => dx.iter_mut().for_each(|dx| *dx += g[0]),
        Reduce::Rows => {
            for (dx_row, g) in dx.chunks_exact_mut(cols).zip(g) {
                dx_row.iter_mut().for_each(|dx| *dx += g);
            }
        }
        Reduce::Cols => {
            for dx_row in dx.chunks_exact_mut(cols) {
                add::accumulate(g, dx_row);
            }
        }
    }
}

/// The rule per input, as the backward trace prints it (`docs/chain-rule.md` derives it).
pub(crate) const RULES: [&str; 1] = ["dL/d{a} += dL/d{y} (broadcast back)"];

/// The sums of the m×`cols` `x` along `axis` (also `mean`'s numerators).
pub(crate) fn values(axis: Reduce, x: &[f64], cols: usize, s: &mut [f64]) {
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
                add::accumulate(row, s);
            }
        }
    }
}
