//! `C = A · B` with `A` m×k, `B` k×n, `C` m×n: `C[i][j] = Σ_p A[i][p] B[p][j]`.
//!
//! ∂C[i][j]/∂A[i][p] = B[p][j] and ∂C[i][j]/∂B[p][j] = A[i][p]; summing over the entries of `C`
//! each one touches gives the two matrix products
//! `dA += G · Bᵀ` (m×n · n×k) and `dB += Aᵀ · G` (k×m · m×n).
//! The transposes are read by strides inside the GEMM ([`crate::kernels::gemm`]), never copied.

use super::GradOut;
use super::Op;
use crate::kernels::{gemm, Layout};
use crate::tape::{fail, Var};

impl<'t> Var<'t> {
    /// The matrix product `self · other`: (m×k) · (k×n) → m×n.
    ///
    /// # Panics
    /// If `self.cols() != other.rows()`, e.g. `matmul: cannot multiply 3x2 by 3x1 (at src/x.rs:12)`.
    #[inline]
    #[track_caller]
    pub fn matmul(self, other: Var<'t>) -> Var<'t> {
        self.tape.check_owner("matmul", other);
        let ((m, k), (k2, n)) = (self.shape(), other.shape());
        if k != k2 {
            fail(format_args!(
                "matmul: cannot multiply {m}x{k} ({}) by {k2}x{n} ({}): inner sizes {k} and {k2} differ",
                self.id, other.id
            ));
        }
        self.tape.record(Op::MatMul, [self, other], m, n)
    }
}

/// Forward: `C = A · B`, with `(m, k, n)` the sizes.
pub(crate) fn forward(a: &[f64], b: &[f64], (m, k, n): (usize, usize, usize), c: &mut [f64]) {
    gemm(m, k, n, a, Layout::AsIs, b, Layout::AsIs, c, false);
}

/// Backward to `A`: `dA += G · Bᵀ`.
#[inline(always)]
pub(crate) fn backward_lhs(
    g: &[f64],
    b: &[f64],
    (m, k, n): (usize, usize, usize),
    da: GradOut<'_>,
) {
    gemm(
        m,
        n,
        k,
        g,
        Layout::AsIs,
        b,
        Layout::Transposed,
        da.d,
        !da.fresh,
    );
}

/// Backward to `B`: `dB += Aᵀ · G`.
#[inline(always)]
pub(crate) fn backward_rhs(
    a: &[f64],
    g: &[f64],
    (m, k, n): (usize, usize, usize),
    db: GradOut<'_>,
) {
    gemm(
        k,
        m,
        n,
        a,
        Layout::Transposed,
        g,
        Layout::AsIs,
        db.d,
        !db.fresh,
    );
}
