//! `y = xᵀ`: `y[j][i] = x[i][j]`. Each entry moves without changing, so its gradient moves back:
//! `dx += gᵀ`.

use super::Op;
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

/// Forward: `y = xᵀ`, `x` being `rows×cols`.
pub(crate) fn forward(x: &[f64], rows: usize, cols: usize, y: &mut [f64]) {
    for r in 0..rows {
        for c in 0..cols {
            y[c * rows + r] = x[r * cols + c];
        }
    }
}

/// Backward: `dx += gᵀ`, `x` being `rows×cols` (so `g` is `cols×rows`).
#[inline(always)]
pub(crate) fn backward(g: &[f64], rows: usize, cols: usize, dx: &mut [f64]) {
    for r in 0..rows {
        for c in 0..cols {
            dx[r * cols + c] += g[c * rows + r];
        }
    }
}
