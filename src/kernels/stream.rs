//! The streaming products: shapes a packed GEMM would spend its time packing for, computed as
//! scaled rows of one operand added into rows of `C`, which streams through memory. [`gemm`]
//! routes a product here when it is one column (`n = 1`), has a thin inner size (`k ≤ THIN_K`),
//! or is `Aᵀ·B` with few columns in `A`. Each entry adds its products in increasing `p`, as on
//! every other route, and the rows (or entries) of `C` are shared between the two threads.
//!
//! [`gemm`]: super::gemm()

use super::dense::Epilogue;
use super::pool;

avx512_copy! {
    /// Rows `first..` of `C = Aᵀ·B` for an `A` with few columns: one pass over the rows of `B`,
    /// adding each into every row of `C` (which stay in cache), in increasing `p`.
    #[allow(clippy::type_complexity)]
    pub(super) fn thin_at_part(
        first: usize,
        part: &mut [f64],
        kn: (usize, usize),
        a: (&[f64], usize, usize),
        b: (&[f64], usize),
        accumulate: bool,
    ) => thin_at_part_body
}

#[inline(always)]
fn thin_at_part_body(
    first: usize,
    part: &mut [f64],
    (k, n): (usize, usize),
    (a, rsa, csa): (&[f64], usize, usize),
    (b, rsb): (&[f64], usize),
    accumulate: bool,
) {
    if !accumulate {
        part.fill(0.0);
    }
    for p in 0..k {
        let b_row = &b[p * rsb..p * rsb + n];
        for (r, c_row) in part.chunks_exact_mut(n).enumerate() {
            axpy(c_row, a[(first + r) * rsa + p * csa], b_row);
        }
    }
}

/// `c[i] (+)= Σ_p A[i][p]·b[p]`: one column. With `A` stored as is, four rows' dot products run
/// side by side (four independent sums in flight); with `A` stored transposed, one pass over its
/// rows adds `b[p]`-scaled rows into `c`. Each entry adds its products in increasing `p`, and
/// the entries of `c` are shared between the two threads.
#[allow(clippy::too_many_arguments)]
pub(super) fn gemv(
    m: usize,
    k: usize,
    a: &[f64],
    (rsa, csa): (usize, usize),
    b: &[f64],
    rsb: usize,
    c: &mut [f64],
    accumulate: bool,
) {
    pool::halves(c, 4, m * k, |first, part| {
        gemv_part(first, part, k, (a, rsa, csa), (b, rsb), accumulate)
    });
}

avx512_copy! {
    /// Entries `first..` of [`gemv`].
    #[allow(clippy::type_complexity)]
    fn gemv_part(
        first: usize,
        part: &mut [f64],
        k: usize,
        a: (&[f64], usize, usize),
        b: (&[f64], usize),
        accumulate: bool,
    ) => gemv_part_body
}

#[inline(always)]
fn gemv_part_body(
    first: usize,
    part: &mut [f64],
    k: usize,
    (a, rsa, csa): (&[f64], usize, usize),
    (b, rsb): (&[f64], usize),
    accumulate: bool,
) {
    if !accumulate {
        part.fill(0.0);
    }
    if csa == 1 {
        let mut rows = part.chunks_exact_mut(4);
        let mut i = first;
        for block in &mut rows {
            let mut sums = [0.0; 4];
            for p in 0..k {
                let b_p = b[p * rsb];
                for (r, sum) in sums.iter_mut().enumerate() {
                    *sum += a[(i + r) * rsa + p] * b_p;
                }
            }
            for (c, sum) in block.iter_mut().zip(sums) {
                *c += sum;
            }
            i += 4;
        }
        for (r, c) in rows.into_remainder().iter_mut().enumerate() {
            let mut sum = 0.0;
            for p in 0..k {
                sum += a[(i + r) * rsa + p] * b[p * rsb];
            }
            *c += sum;
        }
    } else {
        // A stored transposed: row p of the buffer holds A[·][p], contiguous over i.
        let len = part.len();
        for p in 0..k {
            axpy(part, b[p * rsb], &a[p * csa + first..p * csa + first + len]);
        }
    }
}

/// `C[i][·] (+)= Σ_p A[i][p]·B[p][·]` as `k` scaled rows of `B` added to each row of `C` (the
/// rows of `B` contiguous, `csb = 1`), then the epilogue on that row while it is in cache. Each
/// entry adds its products in increasing `p`; the rows of `C` are shared between the two threads.
#[allow(clippy::too_many_arguments)]
pub(super) fn row_axpy_gemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f64],
    (rsa, csa): (usize, usize),
    b: &[f64],
    rsb: usize,
    c: &mut [f64],
    accumulate: bool,
    epilogue: Epilogue<'_>,
) {
    pool::halves(c, n, m.saturating_mul(k * n), |first, part| {
        row_axpy_part(
            first / n,
            part,
            (k, n),
            (a, rsa, csa),
            (b, rsb),
            accumulate,
            epilogue,
        )
    });
}

avx512_copy! {
    /// Rows `first..` of [`row_axpy_gemm`].
    #[allow(clippy::type_complexity)]
    fn row_axpy_part(
        first: usize,
        part: &mut [f64],
        kn: (usize, usize),
        a: (&[f64], usize, usize),
        b: (&[f64], usize),
        accumulate: bool,
        epilogue: Epilogue<'_>,
    ) => row_axpy_part_body
}

#[inline(always)]
fn row_axpy_part_body(
    first: usize,
    part: &mut [f64],
    (k, n): (usize, usize),
    (a, rsa, csa): (&[f64], usize, usize),
    (b, rsb): (&[f64], usize),
    accumulate: bool,
    epilogue: Epilogue<'_>,
) {
    for (r, c_row) in part.chunks_exact_mut(n).enumerate() {
        let i = first + r;
        if !accumulate {
            c_row.fill(0.0);
        }
        for p in 0..k {
            axpy(c_row, a[i * rsa + p * csa], &b[p * rsb..p * rsb + n]);
        }
        epilogue.apply(c_row, 0);
    }
}

/// `y += alpha · x`, entry by entry: the inner loop of every streaming product.
#[inline(always)]
fn axpy(y: &mut [f64], alpha: f64, x: &[f64]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += alpha * x;
    }
}
