//! `μ = (1/c) Σ x` over all entries, each row or each column, with `c` the count per mean.
//!
//! ∂μ/∂x = 1/c for every entry that went into `μ`: `dx += g / c`, broadcast like a sum's.

use super::{sum, Backward, Op, Operand, Reduce};
use crate::tape::Var;

/// The name of the op that averages along `axis`: the method that records it.
pub(crate) fn name(axis: Reduce) -> &'static str {
    match axis {
        Reduce::All => "mean",
        Reduce::Rows => "row_means",
        Reduce::Cols => "col_means",
    }
}

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

/// Forward: the sums along `axis`, each divided by its count.
pub(crate) fn forward(axis: Reduce, x: &[Operand<'_>], mu: &mut [f64]) {
    let (x, cols) = (x[0].value, x[0].cols);
    sum::values(axis, x, cols, mu);
    let c = count(axis, x.len(), cols);
    mu.iter_mut().for_each(|mu| *mu /= c);
}

/// Backward: every entry receives the upstream of its mean divided by the count.
#[inline(always)]
pub(crate) fn backward(axis: Reduce, cx: &mut Backward<'_>) {
    let (g, cols) = (cx.upstream, cx.input_shape(0).1);
    let Some(dx) = cx.grad(0) else { return };
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

/// The rule per input, as the backward trace prints it (`docs/chain-rule.md` derives it).
pub(crate) const RULES: [&str; 1] = ["dL/d{a} += dL/d{y} / count (broadcast back)"];

/// How many entries each mean averages.
fn count(axis: Reduce, len: usize, cols: usize) -> f64 {
    match axis {
        Reduce::All => len as f64,
        Reduce::Rows => cols as f64,
        Reduce::Cols => (len / cols) as f64,
    }
}
