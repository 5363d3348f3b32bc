//! `y = √x`, elementwise. dy/dx = 1/(2√x) = 1/(2y): `dx += g ⊘ (2y)`, from the saved output.
//!
//! At `x = 0` the derivative is `+∞` (PyTorch gives `inf` too): a live `sqrt(0)` makes an
//! infinite gradient, which anomaly mode reports. Below 0 the value is NaN. A `sqrt(0)` the
//! output does not depend on is never differentiated (the sweep skips it), so it is harmless.

use super::{map1, split2, Backward, GradOut, Op, Operand};
use crate::tape::Var;

impl<'t> Var<'t> {
    /// `√x`, elementwise (NaN below 0; the gradient is `+∞` at 0).
    ///
    /// ```
    /// use chainrule::{Matrix, Tape};
    /// let tape = Tape::new();
    /// let x = tape.param(&Matrix::from_rows(&[[4.0, 9.0]]));
    /// let y = x.sqrt().sum();
    /// let grads = tape.backward(y);
    /// assert_eq!(y.item(), 5.0);
    /// assert_eq!(&*grads.wrt(x), &[0.25, 1.0 / 6.0]); // 1 / (2√x)
    /// ```
    #[inline]
    #[track_caller]
    pub fn sqrt(self) -> Var<'t> {
        self.unary(Op::Sqrt)
    }
}

/// Forward: `y = √x`, entry by entry.
// Out of line, like the rule: `Tape::record` inlines the forward dispatch, which must stay as
// small as it was for the lab's ops.
#[inline(never)]
pub(crate) fn forward(x: &[Operand<'_>], y: &mut [f64]) {
    map1(x, y, values);
}

/// Backward: `dx += g ⊘ (2y)`: the slope of `√x` is `1/(2√x)`, and the saved output is `√x`.
// Out of line, like every rule added after the lab's: the sweep dispatches every node through
// one `match`, and the lab's graphs never use this one.
#[inline(never)]
pub(crate) fn backward(cx: &mut Backward<'_>) {
    let (g, y) = (cx.upstream, cx.output());
    if let Some(dx) = cx.grad_out(0) {
        split2(dx, g, y, grad);
    }
}

/// The rule per input, as the backward trace prints it (`docs/chain-rule.md` derives it).
pub(crate) const RULES: [&str; 1] = ["dL/d{a} += dL/d{y} ⊘ (2 {y})"];

/// `y = √x` on slices.
fn values(x: &[f64], y: &mut [f64]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = scalar(x);
    }
}

/// `y = √x` on one entry (also the 1×1 fast path, `ops/scalar.rs`).
#[inline(always)]
pub(crate) fn scalar(x: f64) -> f64 {
    x.sqrt()
}

/// The rule on one entry: `dx += g / (2y)`.
#[inline(always)]
pub(crate) fn scalar_grad(g: f64, y: f64) -> f64 {
    g / (2.0 * y)
}

/// `dx += g ⊘ (2y)` on slices.
#[inline(always)]
fn grad(g: &[f64], y: &[f64], dx: GradOut<'_>) {
    dx.add(g.iter().zip(y).map(|(&g, &y)| scalar_grad(g, y)));
}
