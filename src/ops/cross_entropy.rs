//! Cross-entropy of logits against class labels, averaged over the batch:
//! `L = −(1/m) Σᵢ log_softmax(xᵢ)[lᵢ]` for m×n logits `x` (one row per sample, one column per
//! class) and labels `l` (m×1, each a class index in `0..n`).
//!
//! With `pᵢ = softmax(xᵢ)`, ∂/∂x[i][j] of `−log_softmax(xᵢ)[lᵢ] = −x[i][lᵢ] + ln Σₖ e^{x[i][k]}`
//! is `−[j = lᵢ] + p[i][j]`: the famous `p − onehot(l)`, divided by m for the mean.
//! `dx += g · (softmax(x) − onehot(l)) / m`. The labels are indices, not numbers the loss varies
//! smoothly with: they receive no gradient (0 if a parameter flows into them).
//!
//! Stable for any logits: the log-sum-exp is shifted by each row's maximum (see
//! [`log_softmax`](super::log_softmax)), and the softmax of the rule is recomputed the same way.

use super::softmax::log_sum_exp;
use super::{Backward, Op, Operand};
use crate::tape::{fail, Var};

impl<'t> Var<'t> {
    /// The mean cross-entropy of these m×n logits (one row per sample, one column per class)
    /// against `labels`, an m×1 matrix of class indices `0..n` (as `f64`: `0.0`, `1.0`, …, the
    /// way [`Dataset::y`](crate::data::Dataset::y) holds them): → 1×1,
    /// `−(1/m) Σᵢ log_softmax(xᵢ)[labelᵢ]`. Stable for logits of any size. Feed it the logits,
    /// not a softmax: the softmax is part of the loss.
    ///
    /// ```
    /// use chainrule::{Matrix, Tape};
    /// let tape = Tape::new();
    /// let logits = tape.param(&Matrix::from_rows(&[[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]]));
    /// let labels = tape.input(&Matrix::from_rows(&[[0.0], [2.0]]));
    /// let loss = logits.cross_entropy(labels);
    /// let grads = tape.backward(loss);
    /// // row 1: three equal logits, −ln(1/3); its gradient is (1/3 − onehot) / 2
    /// let row1 = (2f64.exp() + 2.0).ln() - 2.0;
    /// assert!((loss.item() - (row1 + 3f64.ln()) / 2.0).abs() < 1e-15);
    /// assert!((grads.wrt(logits)[(1, 2)] - (1.0 / 3.0 - 1.0) / 2.0).abs() < 1e-15);
    /// ```
    ///
    /// # Panics
    /// If `labels` is not m×1, or a label is not a whole number in `0..n`: the message names the
    /// row and the label.
    #[track_caller]
    pub fn cross_entropy(self, labels: Var<'t>) -> Var<'t> {
        self.tape.check_owner("cross_entropy", labels);
        let ((m, n), (lr, lc)) = (self.shape(), labels.shape());
        if (lr, lc) != (m, 1) {
            fail(format_args!(
                "cross_entropy: the labels {} are {lr}x{lc}, but the {m}x{n} logits {} need a \
                 {m}x1 column of class indices, one per row",
                labels.id, self.id
            ));
        }
        let bad = bad_label(&labels.value_ref(), n);
        if let Some((row, label)) = bad {
            fail(format_args!(
                "cross_entropy: row {row} has label {label}, which is not a class of the {m}x{n} \
                 logits {} (labels are whole numbers from 0 to {})",
                self.id,
                n as f64 - 1.0
            ));
        }
        self.tape.record(Op::CrossEntropy, [self, labels], 1, 1)
    }
}

/// The first label that is not a class of `classes` columns, with its row: checked when the op
/// is recorded, and again by a replay before the op runs on new labels.
pub(crate) fn bad_label(labels: &[f64], classes: usize) -> Option<(usize, f64)> {
    let row = labels.iter().position(|&l| class(l, classes).is_none())?;
    Some((row, labels[row]))
}

/// The class index a label stands for, if it is a whole number in `0..classes`.
fn class(label: f64, classes: usize) -> Option<usize> {
    (label >= 0.0 && label < classes as f64 && label.fract() == 0.0).then_some(label as usize)
}

/// Forward: `L = (1/m) Σᵢ [ln Σₖ e^{x[i][k] − mᵢ} − (x[i][lᵢ] − mᵢ)]`, `mᵢ` the row's maximum:
/// each term is `−log_softmax(xᵢ)[lᵢ]` exactly as `log_softmax` computes it.
// Out of line, like the rule: `Tape::record` inlines the forward dispatch, which must stay as
// small as it was for the lab's ops.
#[inline(never)]
pub(crate) fn forward(x: &[Operand<'_>], out: &mut [f64]) {
    let (logits, labels, cols) = (x[0].value, x[1].value, x[0].cols.max(1));
    let mut total = 0.0;
    for (row, &label) in logits.chunks_exact(cols).zip(labels) {
        let (max, lse) = log_sum_exp(row);
        // Labels were checked when the op was recorded (and by a replay, before it ran).
        let picked = (row[label as usize] - max) - lse;
        total += -picked;
    }
    out[0] = total / labels.len() as f64;
}

/// Backward: `dx += g · (softmax(x) − onehot(l)) / m`, the softmax recomputed row by row; the
/// labels get nothing.
// Out of line: rare in the sweep's dispatch (see `sqrt`).
#[inline(never)]
pub(crate) fn backward(cx: &mut Backward<'_>) {
    let (g, logits, labels) = (cx.upstream[0], cx.input(0), cx.input(1));
    let cols = cx.input_shape(0).1.max(1);
    let scale = g / labels.len() as f64;
    if let Some(dx) = cx.grad(0) {
        let rows = dx.chunks_exact_mut(cols).zip(logits.chunks_exact(cols));
        for ((dx, row), &label) in rows.zip(labels) {
            add_row_gradient(row, label as usize, scale, dx);
        }
    }
    // The labels are class indices: no gradient. `grad` zero-fills a fresh slot.
    let _ = cx.grad(1);
}

/// `dx += scale · (softmax(row) − onehot(label))` for one row, with the softmax as
/// `e^{log_softmax}`.
fn add_row_gradient(row: &[f64], label: usize, scale: f64, dx: &mut [f64]) {
    let (max, lse) = log_sum_exp(row);
    for (j, (dx, x)) in dx.iter_mut().zip(row).enumerate() {
        let p = ((x - max) - lse).exp();
        let onehot = if j == label { 1.0 } else { 0.0 };
        *dx += scale * (p - onehot);
    }
}

/// The rule per input (logits, labels), as the backward trace prints it.
pub(crate) const RULES: [&str; 2] = [
    "dL/d{a} += dL/d{y} · (softmax({a}) − onehot({b})) / m",
    "(no gradient: {b} holds class indices)",
];
