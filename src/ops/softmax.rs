//! `y = softmax(x)` along each row: `y[i][j] = e^{x[i][j]} / Σₖ e^{x[i][k]}`, each row a
//! probability distribution (entries in [0, 1], summing to 1).
//!
//! It is computed stably: shifted by the row's maximum `mᵢ`, `y[i][j] = e^{x[i][j] − mᵢ} /
//! Σₖ e^{x[i][k] − mᵢ}`, the same number in exact arithmetic (the factor `e^{−mᵢ}` cancels), but
//! no exponential overflows (the largest is e⁰ = 1), so logits around ±1000 give finite values.
//!
//! Within a row, ∂yⱼ/∂xₖ = yⱼ([j = k] − yₖ) (the quotient rule). The vector–Jacobian product is
//! `dxₖ += Σⱼ gⱼ yⱼ([j = k] − yₖ) = yₖ (gₖ − Σⱼ gⱼ yⱼ)`: per row, one dot product of the upstream
//! with the saved output, then one pass. `dx += y ⊙ (g − Σ_cols (g ⊙ y))`.

use super::{Backward, Op, Operand};
use crate::tape::Var;

impl<'t> Var<'t> {
    /// The softmax of each row: m×n → m×n, every row non-negative and summing to 1. Stable for
    /// logits of any size (shifted by the row's maximum). The same as
    /// `e / e.row_sums()` with `e = x.exp()`, which overflows beyond about 709.
    ///
    /// ```
    /// use chainrule::{Matrix, Tape};
    /// let tape = Tape::new();
    /// let x = tape.param(&Matrix::from_rows(&[[1000.0, 1000.0], [0.0, f64::ln(3.0)]]));
    /// let p = x.softmax().value();
    /// assert_eq!(p.row(0), &[0.5, 0.5]);
    /// assert!((p[(1, 1)] - 0.75).abs() < 1e-15);
    /// ```
    #[inline]
    #[track_caller]
    pub fn softmax(self) -> Var<'t> {
        self.unary(Op::Softmax)
    }
}

/// Forward: each row's entries, shifted by the row's maximum, exponentiated and divided by
/// their sum.
// Out of line, like the rule: `Tape::record` inlines the forward dispatch, which must stay as
// small as it was for the lab's ops.
#[inline(never)]
pub(crate) fn forward(x: &[Operand<'_>], y: &mut [f64]) {
    let (x, cols) = (x[0].value, x[0].cols);
    for (x_row, y_row) in x
        .chunks_exact(cols.max(1))
        .zip(y.chunks_exact_mut(cols.max(1)))
    {
        let sum = shifted_exps(x_row, y_row);
        y_row.iter_mut().for_each(|y| *y /= sum);
    }
}

/// Backward: `dx += y ⊙ (g − Σ_cols (g ⊙ y))`, row by row, from the saved output.
// Out of line: rare in the sweep's dispatch (see `sqrt`).
#[inline(never)]
pub(crate) fn backward(cx: &mut Backward<'_>) {
    let (g, y, cols) = (cx.upstream, cx.output(), cx.input_shape(0).1.max(1));
    let Some(dx) = cx.grad(0) else { return };
    let rows = dx.chunks_exact_mut(cols).zip(g.chunks_exact(cols));
    for ((dx, g), y) in rows.zip(y.chunks_exact(cols)) {
        let dot: f64 = g.iter().zip(y).map(|(g, y)| g * y).sum();
        for ((dx, g), y) in dx.iter_mut().zip(g).zip(y) {
            *dx += y * (g - dot);
        }
    }
}

/// The rule per input, as the backward trace prints it (`docs/chain-rule.md` derives it).
pub(crate) const RULES: [&str; 1] = ["dL/d{a} += {y} ⊙ (dL/d{y} − Σ_cols (dL/d{y} ⊙ {y}))"];

/// `out[j] = e^{x[j] − max x}` for one row; returns their sum (≥ 1 unless the row holds a NaN
/// or an infinity). Also the first pass of `log_softmax` and `cross_entropy`.
pub(crate) fn shifted_exps(x: &[f64], out: &mut [f64]) -> f64 {
    let max = row_max(x);
    let mut sum = 0.0;
    for (out, x) in out.iter_mut().zip(x) {
        *out = (x - max).exp();
        sum += *out;
    }
    sum
}

/// The largest entry of a row (NaNs skipped: a NaN entry makes its own exponential NaN).
pub(crate) fn row_max(x: &[f64]) -> f64 {
    x.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x))
}

/// `(max x, ln Σ e^{x − max x})` of one row, without storing the exponentials: the shift and
/// the log-sum-exp that `log_softmax` and `cross_entropy` subtract.
pub(crate) fn log_sum_exp(x: &[f64]) -> (f64, f64) {
    let max = row_max(x);
    let sum: f64 = x.iter().map(|x| (x - max).exp()).sum();
    (max, sum.ln())
}
