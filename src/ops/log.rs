//! `y = ln x`, elementwise. dy/dx = 1/x: `dx += g ⊘ x`.

use super::div::over;
use super::{map1, Backward, Op, Operand};
use crate::tape::Var;

impl<'t> Var<'t> {
    /// The natural logarithm `ln x`, elementwise (NaN for x < 0, −∞ at 0).
    #[inline]
    #[track_caller]
    pub fn log(self) -> Var<'t> {
        self.unary(Op::Log)
    }
}

/// Forward: `y = ln x`, entry by entry.
pub(crate) fn forward(x: &[Operand<'_>], y: &mut [f64]) {
    map1(x, y, values);
}

/// Backward: `dx += g ⊘ x`.
#[inline(always)]
pub(crate) fn backward(cx: &mut Backward<'_>) {
    let (g, x) = (cx.upstream, cx.input(0));
    if let Some(dx) = cx.grad(0) {
        over(g, x, dx);
    }
}

/// The rule per input, as the backward trace prints it (`docs/chain-rule.md` derives it).
pub(crate) const RULES: [&str; 1] = ["dL/d{a} += dL/d{y} ⊘ {a}"];

/// `y = ln x` on slices.
fn values(x: &[f64], y: &mut [f64]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = scalar(x);
    }
}

/// `y = ln x` on one entry (also the 1×1 fast path of recording, `ops/scalar.rs`).
#[inline(always)]
pub(crate) fn scalar(x: f64) -> f64 {
    x.ln()
}
