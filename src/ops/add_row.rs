//! `Y = X + b`: the 1×n row `b` added to every row of the m×n `X` (a layer's bias).
//!
//! ∂Y[i][j]/∂X[i][j] = 1, so `dX += G`. The bias is *copied* into every row (broadcast), and a
//! value used m times receives the sum of its m gradients: the gradient of a broadcast is a sum,
//! `db[j] += Σ_i G[i][j]`.

use super::GradOut;
use super::Op;
use crate::tape::{fail, Var};

impl<'t> Var<'t> {
    /// `X + b` with the 1×n row `b` added to every row of this m×n matrix. `X + b` with the
    /// `+` operator records this op whenever `b` is a row that broadcasts.
    ///
    /// # Panics
    /// If `b` is not 1×n.
    #[inline]
    #[track_caller]
    pub fn add_row(self, b: Var<'t>) -> Var<'t> {
        self.tape.check_owner("add_row", b);
        let ((m, n), (br, bc)) = (self.shape(), b.shape());
        if br != 1 || bc != n {
            fail(format_args!(
                "add_row: cannot add {br}x{bc} ({}) to each row of {m}x{n} ({}): the bias must be 1x{n}",
                b.id, self.id
            ));
        }
        self.tape.record(Op::AddRow, [self, b], m, n)
    }
}

/// Forward: `Y[i][j] = X[i][j] + b[j]`.
pub(crate) fn forward(x: &[f64], b: &[f64], y: &mut [f64]) {
    for (y_row, x_row) in y.chunks_exact_mut(b.len()).zip(x.chunks_exact(b.len())) {
        super::add::forward(x_row, b, y_row);
    }
}

/// Backward to `X`: `dX += G`.
#[inline(always)]
pub(crate) fn backward_matrix(g: &[f64], dx: GradOut<'_>) {
    super::add::backward(g, dx);
}

/// Backward to `b`: `db[j] += Σ_i G[i][j]`, summing rows in order, for the columns `first..`
/// that `db` covers (all of them, or one thread's share).
#[inline(always)]
pub(crate) fn backward_bias(g: &[f64], cols: usize, first: usize, db: &mut [f64]) {
    for g_row in g.chunks_exact(cols) {
        super::add::accumulate(&g_row[first..], db);
    }
}
