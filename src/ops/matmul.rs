//! `C = A · B` with `A` m×k, `B` k×n, `C` m×n: `C[i][j] = Σ_p A[i][p] B[p][j]`.
//!
//! ∂C[i][j]/∂A[i][p] = B[p][j] and ∂C[i][j]/∂B[p][j] = A[i][p]; summing over the entries of `C`
//! each one touches gives the two matrix products
//! `dA += G · Bᵀ` (m×n · n×k) and `dB += Aᵀ · G` (k×m · m×n).
//! The transposes are read by strides inside the GEMM ([`crate::kernels::gemm`]), never copied.

use super::{Backward, GradOut, Op, Operand};
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

/// Forward: `C = A · B` through the GEMM.
pub(crate) fn forward(x: &[Operand<'_>], c: &mut [f64]) {
    let (a, b) = (&x[0], &x[1]);
    let (m, k, n) = (a.rows, a.cols, b.cols);
    gemm(
        m,
        k,
        n,
        a.value,
        Layout::AsIs,
        b.value,
        Layout::AsIs,
        c,
        false,
    );
}

/// Backward: `dA += G · Bᵀ`, `dB += Aᵀ · G` (each a GEMM that reads the transpose by strides;
/// the first contribution to a gradient overwrites it).
#[inline(always)]
pub(crate) fn backward(cx: &mut Backward<'_>) {
    let (g, a, b) = (cx.upstream, cx.input(0), cx.input(1));
    let (m, k) = cx.input_shape(0);
    let n = cx.input_shape(1).1;
    if let Some(da) = cx.grad_out(0) {
        grad_a(g, b, (m, k, n), da);
    }
    if let Some(db) = cx.grad_out(1) {
        grad_b(a, g, (m, k, n), db);
    }
}

/// The rule per input, as the backward trace prints it (`docs/chain-rule.md` derives it).
pub(crate) const RULES: [&str; 2] = ["dL/d{a} += dL/d{y} · {b}ᵀ", "dL/d{b} += {a}ᵀ · dL/d{y}"];

/// `dA (+)= G · Bᵀ` for an m×k `A` and k×n `B` (also the dense layer's input gradient).
#[inline(always)]
pub(crate) fn grad_a(g: &[f64], b: &[f64], (m, k, n): (usize, usize, usize), da: GradOut<'_>) {
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

/// `dB (+)= Aᵀ · G` (also the dense layer's weight gradient).
#[inline(always)]
pub(crate) fn grad_b(a: &[f64], g: &[f64], (m, k, n): (usize, usize, usize), db: GradOut<'_>) {
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
