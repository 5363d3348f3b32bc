//! `y = log_softmax(x)` along each row: `y[i][j] = x[i][j] − ln Σₖ e^{x[i][k]}`, the logarithm of
//! the softmax, computed without forming it.
//!
//! Stable: with `mᵢ` the row's maximum, `y[i][j] = (x[i][j] − mᵢ) − ln Σₖ e^{x[i][k] − mᵢ}`. The
//! sum is at least 1 (its largest term is e⁰), so the logarithm never sees 0 or overflows, even
//! where `softmax` underflows to 0 and `ln` of it would be −∞.
//!
//! ∂yⱼ/∂xₖ = [j = k] − softmax(x)ₖ, and softmax(x) = e^y, so `dxₖ += gₖ − e^{yₖ} Σⱼ gⱼ`:
//! `dx += g − e^y ⊙ Σ_cols g`.

use super::softmax::log_sum_exp;
use super::{Backward, Op, Operand};
use crate::tape::Var;

impl<'t> Var<'t> {
    /// The logarithm of the softmax of each row: m×n → m×n, stable for logits of any size.
    ///
    /// ```
    /// use chainrule::{Matrix, Tape};
    /// let tape = Tape::new();
    /// let x = tape.param(&Matrix::from_rows(&[[-1000.0, 1000.0]]));
    /// let y = x.log_softmax().value();
    /// assert_eq!(y.row(0), &[-2000.0, 0.0]); // ln of a softmax that underflows to 0 is finite
    /// ```
    #[inline]
    #[track_caller]
    pub fn log_softmax(self) -> Var<'t> {
        self.unary(Op::LogSoftmax)
    }
}

/// Forward: `y = (x − m) − ln Σ e^{x − m}` for each row, `m` the row's maximum.
// Out of line, like the rule: `Tape::record` inlines the forward dispatch, which must stay as
// small as it was for the lab's ops.
#[inline(never)]
pub(crate) fn forward(x: &[Operand<'_>], y: &mut [f64]) {
    let (x, cols) = (x[0].value, x[0].cols.max(1));
    for (x_row, y_row) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
        let (max, lse) = log_sum_exp(x_row);
        for (y, x) in y_row.iter_mut().zip(x_row) {
            *y = (x - max) - lse;
        }
    }
}

/// Backward: `dx += g − e^y ⊙ Σ_cols g`, row by row (`e^y` is the softmax).
// Out of line: rare in the sweep's dispatch (see `sqrt`).
#[inline(never)]
pub(crate) fn backward(cx: &mut Backward<'_>) {
    let (g, y, cols) = (cx.upstream, cx.output(), cx.input_shape(0).1.max(1));
    let Some(dx) = cx.grad(0) else { return };
    let rows = dx.chunks_exact_mut(cols).zip(g.chunks_exact(cols));
    for ((dx, g), y) in rows.zip(y.chunks_exact(cols)) {
        let total: f64 = g.iter().sum();
        for ((dx, g), y) in dx.iter_mut().zip(g).zip(y) {
            *dx += g - y.exp() * total;
        }
    }
}

/// The rule per input, as the backward trace prints it (`docs/chain-rule.md` derives it).
pub(crate) const RULES: [&str; 1] = ["dL/d{a} += dL/d{y} − e^{y} ⊙ Σ_cols dL/d{y}"];
