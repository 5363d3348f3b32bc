//! `y = xᵀ`: `y[j][i] = x[i][j]`. Each entry moves without changing, so its gradient moves back:
//! `dx += gᵀ`.

use super::{Backward, Op, Operand};
use crate::tape::Var;

impl<'t> Var<'t> {
    /// The transpose: m×n → n×m.
    #[inline]
    #[track_caller]
    pub fn t(self) -> Var<'t> {
        let (rows, cols) = self.shape();
        self.tape.record(Op::Transpose, [self], cols, rows)
    }
}

/// Forward: `y = xᵀ`.
pub(crate) fn forward(x: &[Operand<'_>], y: &mut [f64]) {
    let (x, rows, cols) = (x[0].value, x[0].rows, x[0].cols);
    for r in 0..rows {
        for c in 0..cols {
            y[c * rows + r] = x[r * cols + c];
        }
    }
}

/// Backward: `dx += gᵀ`, each entry's gradient going back to where the entry came from.
#[inline(always)]
pub(crate) fn backward(cx: &mut Backward<'_>) {
    let (g, (rows, cols)) = (cx.upstream, cx.input_shape(0));
    if let Some(dx) = cx.grad(0) {
        for r in 0..rows {
            for c in 0..cols {
                dx[r * cols + c] += g[c * rows + r];
            }
        }
    }
}

/// The rule per input, as the backward trace prints it (`docs/chain-rule.md` derives it).
pub(crate) const RULES: [&str; 1] = ["dL/d{a} += (dL/d{y})ᵀ"];
