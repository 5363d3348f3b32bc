//! `y = |x|`, elementwise. dy/dx = sign x: 1 for x > 0, −1 for x < 0, and at the kink x = 0 we
//! take **0**, as PyTorch does (0 lies between the one-sided slopes −1 and 1, and keeps a
//! weight that sits exactly at 0 from being pushed off it): `dx += g ⊙ sign(x)`.
//!
//! The rule reads the input, not the saved output: `|x|` has lost the sign.

use super::{map1, split2, Backward, GradOut, Op, Operand};
use crate::tape::Var;

impl<'t> Var<'t> {
    /// `|x|`, elementwise (the gradient at 0 is 0, as in PyTorch).
    ///
    /// ```
    /// use chainrule::{Matrix, Tape};
    /// let tape = Tape::new();
    /// let x = tape.param(&Matrix::from_rows(&[[-2.0, 0.0, 3.0]]));
    /// let grads = tape.backward(x.abs().sum());
    /// assert_eq!(&*grads.wrt(x), &[-1.0, 0.0, 1.0]);
    /// ```
    #[inline]
    #[track_caller]
    pub fn abs(self) -> Var<'t> {
        self.unary(Op::Abs)
    }
}

/// Forward: `y = |x|`, entry by entry.
// Out of line, like the rule: `Tape::record` inlines the forward dispatch, which must stay as
// small as it was for the lab's ops.
#[inline(never)]
pub(crate) fn forward(x: &[Operand<'_>], y: &mut [f64]) {
    map1(x, y, values);
}

/// Backward: `dx += g ⊙ sign(x)`, with sign 0 at 0 (NaN stays NaN).
// Out of line: rare in the sweep's dispatch (see `sqrt`).
#[inline(never)]
pub(crate) fn backward(cx: &mut Backward<'_>) {
    let (g, x) = (cx.upstream, cx.input(0));
    if let Some(dx) = cx.grad_out(0) {
        split2(dx, g, x, grad);
    }
}

/// The rule per input, as the backward trace prints it (`docs/chain-rule.md` derives it).
pub(crate) const RULES: [&str; 1] = ["dL/d{a} += dL/d{y} ⊙ sign({a}) (0 at 0)"];

/// `y = |x|` on slices.
fn values(x: &[f64], y: &mut [f64]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = scalar(x);
    }
}

/// `y = |x|` on one entry (also the 1×1 fast path, `ops/scalar.rs`).
#[inline(always)]
pub(crate) fn scalar(x: f64) -> f64 {
    x.abs()
}

/// The rule on one entry: `dx += g · sign(x)`, 0 at 0.
#[inline(always)]
pub(crate) fn scalar_grad(g: f64, x: f64) -> f64 {
    if x == 0.0 {
        0.0
    } else {
        g * x.signum()
    }
}

/// `dx += g ⊙ sign(x)` on slices (`f64::signum` is 1 at +0, hence the test for 0).
#[inline(always)]
fn grad(g: &[f64], x: &[f64], dx: GradOut<'_>) {
    dx.add(g.iter().zip(x).map(|(&g, &x)| scalar_grad(g, x)));
}
