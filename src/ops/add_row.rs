//! `Y = X + b`: the 1×n row `b` added to every row of the m×n `X` (a layer's bias).
//!
//! ∂Y[i][j]/∂X[i][j] = 1, so `dX += G`. The bias is *copied* into every row (broadcast), and a
//! value used m times receives the sum of its m gradients: the gradient of a broadcast is a sum,
//! `db[j] += Σ_i G[i][j]`.

use super::add::{self, pass_through};
use super::{split1, Backward, Op, Operand};
use crate::kernels::pool::halves;
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

/// Forward: `Y[i][j] = X[i][j] + b[j]` (rows on two threads when large).
pub(crate) fn forward(x: &[Operand<'_>], y: &mut [f64]) {
    let (x, b, work) = (x[0].value, x[1].value, y.len());
    halves(y, b.len(), work, |s, y| {
        for (y_row, x_row) in y
            .chunks_exact_mut(b.len())
            .zip(x[s..].chunks_exact(b.len()))
        {
            add::values(x_row, b, y_row);
        }
    });
}

/// Backward: `dX += G`; `db[j] += Σ_i G[i][j]`. The bias was copied to every row, and a copy's
/// gradient is the sum of the copies' gradients ("expand's gradient is a sum").
#[inline(always)]
pub(crate) fn backward(cx: &mut Backward<'_>) {
    let (g, cols) = (cx.upstream, cx.input_shape(1).1);
    if let Some(dx) = cx.grad_out(0) {
        split1(dx, g, pass_through);
    }
    if let Some(db) = cx.grad(1) {
        // Each thread sums its half of the columns, over the rows in order.
        let work = g.len();
        halves(db, 1, work, |first, db| {
            for g_row in g.chunks_exact(cols) {
                add::accumulate(&g_row[first..], db);
            }
        });
    }
}

/// The rule per input, as the backward trace prints it (`docs/chain-rule.md` derives it).
pub(crate) const RULES: [&str; 2] = ["dL/d{a} += dL/d{y}", "dL/d{b} += Σ_rows dL/d{y}"];
