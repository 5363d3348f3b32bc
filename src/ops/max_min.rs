//! `y = max x` and `y = min x` over all entries (1×1), over each row (m×1) or over each column
//! (1×n).
//!
//! A maximum is one of its entries: `y = x[k*]` for the arg-max `k*`, so ∂y/∂x[k*] = 1 and
//! ∂y/∂x[k] = 0 for every other entry (moving a smaller entry a little changes nothing). The
//! upstream goes to the arg-max alone: `dx[k*] += g`. Where the maximum is not unique (a tie) the
//! function has a kink, and we pick a subgradient: the whole upstream goes to the **first**
//! arg-max in row-major order (the first column of a row, the first row of a column), as
//! `argmax` conventions do (NumPy; PyTorch's `max(dim)` returns one index likewise). A NaN in a
//! group is its maximum and its minimum (the first NaN), so it propagates as in PyTorch.
//! `min` is the same with the arg-min.

use super::{Backward, Op, Operand, Reduce};
use crate::tape::Var;

/// The name of the op that takes the maximum (`max`) or minimum along `axis`.
pub(crate) fn name(max: bool, axis: Reduce) -> &'static str {
    match (max, axis) {
        (true, Reduce::All) => "max",
        (true, Reduce::Rows) => "row_max",
        (true, Reduce::Cols) => "col_max",
        (false, Reduce::All) => "min",
        (false, Reduce::Rows) => "row_min",
        (false, Reduce::Cols) => "col_min",
    }
}

impl<'t> Var<'t> {
    /// The largest entry: m×n → 1×1. Its gradient goes to the first largest entry (row-major).
    ///
    /// ```
    /// use chainrule::{Matrix, Tape};
    /// let tape = Tape::new();
    /// let x = tape.param(&Matrix::from_rows(&[[1.0, 5.0], [5.0, -2.0]]));
    /// let y = x.max();
    /// let grads = tape.backward(y);
    /// assert_eq!(y.item(), 5.0);
    /// assert_eq!(&*grads.wrt(x), &[0.0, 1.0, 0.0, 0.0]); // the tie goes to the first
    /// ```
    #[inline]
    #[track_caller]
    pub fn max(self) -> Var<'t> {
        self.reduce(Op::Max(Reduce::All))
    }

    /// The largest entry of each row: m×n → m×1 (ties: the first column).
    #[inline]
    #[track_caller]
    pub fn row_max(self) -> Var<'t> {
        self.reduce(Op::Max(Reduce::Rows))
    }

    /// The largest entry of each column: m×n → 1×n (ties: the first row).
    #[inline]
    #[track_caller]
    pub fn col_max(self) -> Var<'t> {
        self.reduce(Op::Max(Reduce::Cols))
    }

    /// The smallest entry: m×n → 1×1. Its gradient goes to the first smallest entry.
    #[inline]
    #[track_caller]
    pub fn min(self) -> Var<'t> {
        self.reduce(Op::Min(Reduce::All))
    }

    /// The smallest entry of each row: m×n → m×1 (ties: the first column).
    #[inline]
    #[track_caller]
    pub fn row_min(self) -> Var<'t> {
        self.reduce(Op::Min(Reduce::Rows))
    }

    /// The smallest entry of each column: m×n → 1×n (ties: the first row).
    #[inline]
    #[track_caller]
    pub fn col_min(self) -> Var<'t> {
        self.reduce(Op::Min(Reduce::Cols))
    }
}

/// Forward: the maximum (`max`) or minimum of each group along `axis`, in row-major order.
// Out of line, like the rule: `Tape::record` inlines the forward dispatch, which must stay as
// small as it was for the lab's ops.
#[inline(never)]
pub(crate) fn forward(max: bool, axis: Reduce, x: &[Operand<'_>], y: &mut [f64]) {
    let (x, cols) = (x[0].value, x[0].cols);
    y.fill(f64::NAN); // the extreme of no entries (a 0×n matrix's `max`)
    for_each_arg(max, axis, x, cols, |group, k| y[group] = x[k]);
}

/// Backward: each group's upstream goes to its first arg-max (arg-min): `dx[k*] += g`.
// Out of line: rare in the sweep's dispatch (see `sqrt`).
#[inline(never)]
pub(crate) fn backward(max: bool, axis: Reduce, cx: &mut Backward<'_>) {
    let (g, x, cols) = (cx.upstream, cx.input(0), cx.input_shape(0).1);
    let Some(dx) = cx.grad(0) else { return };
    for_each_arg(max, axis, x, cols, |group, k| dx[k] += g[group]);
}

/// The rule per op (max, then min), as the backward trace prints it.
pub(crate) const RULES: [[&str; 1]; 2] = [
    ["dL/d{a} += dL/d{y} at the arg-max of {a} (the first, on a tie), 0 elsewhere"],
    ["dL/d{a} += dL/d{y} at the arg-min of {a} (the first, on a tie), 0 elsewhere"],
];

/// Calls `f(group, k)` with the index `k` in `x` (m×`cols`, row-major) of the first maximum
/// (`max`) or minimum of each non-empty group along `axis`, groups in row-major order. The same search
/// serves the forward pass and the rule, so the rule's entry is the one whose value was taken.
fn for_each_arg(max: bool, axis: Reduce, x: &[f64], cols: usize, mut f: impl FnMut(usize, usize)) {
    let rows = x.len().checked_div(cols).unwrap_or(0);
    match axis {
        Reduce::All => {
            if let Some(k) = first_extreme(max, (0..x.len()).map(|k| (k, x[k]))) {
                f(0, k);
            }
        }
        Reduce::Rows => {
            for i in 0..rows {
                let row = (i * cols..(i + 1) * cols).map(|k| (k, x[k]));
                if let Some(k) = first_extreme(max, row) {
                    f(i, k);
                }
            }
        }
        Reduce::Cols => {
            for j in 0..cols {
                let column = (0..rows).map(|i| (i * cols + j, x[i * cols + j]));
                if let Some(k) = first_extreme(max, column) {
                    f(j, k);
                }
            }
        }
    }
}

/// The index of the first largest (`max`) or smallest value, or of the first NaN if there is
/// one; `None` if there are no entries.
fn first_extreme(max: bool, mut entries: impl Iterator<Item = (usize, f64)>) -> Option<usize> {
    let (mut best, mut value) = entries.next()?;
    for (k, x) in entries {
        if value.is_nan() {
            break;
        }
        let better = if max { x > value } else { x < value };
        if better || x.is_nan() {
            (best, value) = (k, x);
        }
    }
    Some(best)
}
