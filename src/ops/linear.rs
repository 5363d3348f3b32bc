//! The affine layer `Y = X · W + b` as one op: `X` m×k, `W` k×n, `b` 1×n added to every row.
//!
//! It is [`matmul`](super::matmul) followed by [`add_row`](super::add_row), fused: the same
//! numbers (the product, then the bias added entry by entry), without storing `X · W` as a node of
//! its own or copying its gradient through the add. With `G = dL/dY` the rules are those two
//! ops' rules chained, since `dL/d(X·W) = G`:
//! `dX += G · Wᵀ`, `dW += Xᵀ · G`, `db[j] += Σ_i G[i][j]`.
//! [`crate::nn`] uses it for layers with a bias (PyTorch's `nn.Linear` is one `addmm` node too).

use super::{GradOut, Op};
use crate::kernels::pool::halves;
use crate::tape::{fail, Var};

impl<'t> Var<'t> {
    /// `self · w + b`, with the 1×n row `b` added to every row: (m×k) · (k×n) + (1×n) → m×n.
    ///
    /// ```
    /// use chainrule::{Matrix, Tape};
    /// let tape = Tape::new();
    /// let x = tape.input(&Matrix::from_rows(&[[1.0, 2.0]]));
    /// let w = tape.param(&Matrix::from_rows(&[[3.0], [4.0]]));
    /// let b = tape.param(&Matrix::scalar(0.5));
    /// assert_eq!(x.linear(w, b).item(), 11.5); // 1·3 + 2·4 + 0.5
    /// ```
    ///
    /// # Panics
    /// If the inner sizes differ or `b` is not 1×n, naming the shapes, like `matmul` and
    /// `add_row`.
    #[inline]
    #[track_caller]
    pub fn linear(self, w: Var<'t>, b: Var<'t>) -> Var<'t> {
        self.tape.check_owner("linear", w);
        self.tape.check_owner("linear", b);
        let ((m, k), (k2, n), (br, bc)) = (self.shape(), w.shape(), b.shape());
        if k != k2 {
            fail(format_args!(
                "linear: cannot multiply {m}x{k} ({}) by {k2}x{n} ({}): inner sizes {k} and {k2} differ",
                self.id, w.id
            ));
        }
        if br != 1 || bc != n {
            fail(format_args!(
                "linear: cannot add {br}x{bc} ({}) to each row of {m}x{n}: the bias must be 1x{n}",
                b.id
            ));
        }
        self.tape.record(Op::Linear, [self, w, b], m, n)
    }
}

/// Forward: `Y = X · W`, then `b` added to each row (on two threads when large).
pub(crate) fn forward(
    x: &[f64],
    w: &[f64],
    b: &[f64],
    (m, k, n): (usize, usize, usize),
    y: &mut [f64],
) {
    super::matmul::forward(x, w, (m, k, n), y);
    let work = y.len();
    halves(y, n, work, |_, rows| {
        for row in rows.chunks_exact_mut(n) {
            for (y, b) in row.iter_mut().zip(b) {
                *y += b;
            }
        }
    });
}

/// Backward to `X`: `dX += G · Wᵀ` (matmul's rule).
#[inline(always)]
pub(crate) fn backward_input(g: &[f64], w: &[f64], mkn: (usize, usize, usize), dx: GradOut<'_>) {
    super::matmul::backward_lhs(g, w, mkn, dx);
}

/// Backward to `W`: `dW += Xᵀ · G` (matmul's rule).
#[inline(always)]
pub(crate) fn backward_weight(x: &[f64], g: &[f64], mkn: (usize, usize, usize), dw: GradOut<'_>) {
    super::matmul::backward_rhs(x, g, mkn, dw);
}
