//! The GEMM `C (+)= A·B` and its routing: each product goes to the direct loop (tiny products),
//! a streaming loop (`stream.rs`: one column, a thin inner size, a thin `Aᵀ`), the packed kernel
//! (`packed.rs`) or matrixmultiply, with a dense layer's epilogue applied on the way.

use super::dense::Epilogue;
use super::stream::{gemv, row_axpy_gemm, thin_at_part};
use super::{packed, pool, tiny};

/// Logical layout of a matrix operand stored row-major: as it is, or read as its transpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// The buffer is the operand itself.
    AsIs,
    /// The buffer holds the operand's transpose; it is read by strides, never copied.
    Transposed,
}

/// Products with `m * k * n` at or below this many multiply-adds use a direct loop: for the lab's
/// 1×4·4×4 products, a GEMM call's packing and dispatch cost more than the arithmetic. Measured
/// with `cargo bench --bench tape_vs_hand -- gemm` on square products (AMD EPYC, 2026-11-22),
/// median times, loop / packed kernel / matrixmultiply: 8.0 / 53 / 87 ns at 2³, 30 / 73 / 104 ns
/// at 4³, 160 / 112 / 167 ns at 8³, 1.25 µs / 181 ns / 259 ns at 16³ (`docs/benchmarks.md`).
/// The switch sits between 4³ and 8³.
pub const SMALL_GEMM: usize = 256;

/// Products whose inner size `k` is at most this (an input of 2 features, a layer of width 1),
/// with `B` stored row by row, use a row-axpy loop whatever their size: each output row is a
/// sum of `k` scaled rows of `B`, which streams through memory, while a GEMM kernel would spend
/// its time packing. (Single columns, `n = 1`, have their own loop: see [`gemm`].)
pub const THIN_K: usize = 4;

/// Which GEMM implementation [`gemm_by`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GemmPath {
    /// What [`gemm`] does: the direct loop up to [`SMALL_GEMM`] multiply-adds, streaming loops
    /// for thin products, the packed kernel (or matrixmultiply without AVX-512) for the rest.
    Auto,
    /// Always the direct loop.
    Loop,
    /// Always the crate's packed kernel: its AVX-512 micro-kernel, or on a CPU without
    /// AVX-512F (see [`packed_available`]) a portable one, slower, which runs the same loop nest.
    Packed,
    /// Always `matrixmultiply::dgemm`.
    MatrixMultiply,
}

/// Whether this CPU runs the crate's packed GEMM kernel (it needs AVX-512F). Without it, large
/// products go to matrixmultiply, which allocates a packing buffer on every call.
pub fn packed_available() -> bool {
    packed::available()
}

std::thread_local! {
    /// Set by [`with_packed_everywhere`] for the calls it runs on this thread.
    static PACKED_EVERYWHERE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with this thread's large products routed as on a CPU with AVX-512F: to the packed
/// kernel, whose portable micro-kernel stands in where the CPU lacks it (slower, same loop nest).
/// A no-op on CPUs that have it.
///
/// This is for tests: they run the whole engine (the tape, the hand path) through the packed
/// kernel's blocks and cuts on any machine, rather than only on the CPUs that have AVX-512F.
pub fn with_packed_everywhere<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            PACKED_EVERYWHERE.set(self.0);
        }
    }
    let _restore = Restore(PACKED_EVERYWHERE.replace(true));
    f()
}

/// Whether [`gemm`] sends a large product to the packed kernel on this thread.
fn packed_for_auto() -> bool {
    packed::available() || PACKED_EVERYWHERE.get()
}

/// `C = A·B` (or `C += A·B` when `accumulate`), with `A` logically `m×k`, `B` logically `k×n` and
/// `C` an `m×n` row-major buffer.
///
/// `a` holds `A` row-major (`Layout::AsIs`, `m×k`) or `Aᵀ` row-major (`Layout::Transposed`, `k×m`);
/// likewise `b`. Products of at most [`SMALL_GEMM`] multiply-adds use a direct loop; single
/// columns, inner sizes up to [`THIN_K`] and `Aᵀ·B` with few rows use streaming loops; the rest
/// go to the packed kernel of `kernels/packed.rs` (AVX-512, split over two threads when large,
/// no allocation after its buffers have grown), or to `matrixmultiply::dgemm` on CPUs without
/// AVX-512F. Both read transposes by strides.
///
/// # Panics
/// If a buffer's length does not match its shape.
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn gemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f64],
    a_layout: Layout,
    b: &[f64],
    b_layout: Layout,
    c: &mut [f64],
    accumulate: bool,
) {
    gemm_by(
        GemmPath::Auto,
        m,
        k,
        n,
        a,
        a_layout,
        b,
        b_layout,
        c,
        accumulate,
    );
}

/// [`gemm`] with the implementation chosen by the caller (the benches compare them).
///
/// # Panics
/// If a buffer's length does not match its shape.
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn gemm_by(
    path: GemmPath,
    m: usize,
    k: usize,
    n: usize,
    a: &[f64],
    a_layout: Layout,
    b: &[f64],
    b_layout: Layout,
    c: &mut [f64],
    accumulate: bool,
) {
    product(
        path,
        (m, k, n),
        (a, a_layout),
        (b, b_layout),
        c,
        accumulate,
        Epilogue::NONE,
    );
}

/// `C = f(A·B + b)`: [`gemm`] with a dense layer's bias and activation applied to each entry of
/// `C` as it is finished (row by row in the direct loop and the thin products; inside the
/// packed kernel; in one pass afterwards for the rest).
///
/// # Panics
/// If a buffer's length does not match its shape, or the bias is not `n` long.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn gemm_epilogue(
    m: usize,
    k: usize,
    n: usize,
    a: &[f64],
    a_layout: Layout,
    b: &[f64],
    b_layout: Layout,
    c: &mut [f64],
    epilogue: Epilogue<'_>,
) {
    if let Some(bias) = epilogue.bias {
        assert_eq!(bias.len(), n, "gemm: the bias is not 1x{n}");
    }
    let tiny = 1..=tiny::TINY;
    if m == 1
        && tiny.contains(&k)
        && tiny.contains(&n)
        && (a_layout, b_layout) == (Layout::AsIs, Layout::AsIs)
    {
        // One row of a small layer (a sample of the lab's network): sizes as constants.
        let job = tiny::Forward {
            f: epilogue.activation,
            x: a,
            w: b,
            b: epilogue.bias,
            y: c,
        };
        return tiny::with_sizes(k, n, job).expect("sizes in 1..=TINY");
    }
    product(
        GemmPath::Auto,
        (m, k, n),
        (a, a_layout),
        (b, b_layout),
        c,
        false,
        epilogue,
    );
}

/// `epilogue` on every row of the m×n `c`, after a product that did not apply it.
fn finish(c: &mut [f64], n: usize, epilogue: Epilogue<'_>) {
    if epilogue.is_none() || n == 0 {
        return;
    }
    let work = c.len();
    pool::halves(c, n, work, |_, rows| finish_rows(rows, n, epilogue));
}

avx512_copy! {
    /// [`finish`] on some rows.
    fn finish_rows(rows: &mut [f64], n: usize, epilogue: Epilogue<'_>) => finish_rows_body
}

#[inline(always)]
fn finish_rows_body(rows: &mut [f64], n: usize, epilogue: Epilogue<'_>) {
    for row in rows.chunks_exact_mut(n) {
        epilogue.apply(row, 0);
    }
}

/// Every route of [`gemm_by`], with an epilogue: the direct loop here, inlined into the caller
/// (a tiny product's cost is mostly call and routing overhead), every other route out of line.
#[inline(always)]
fn product(
    path: GemmPath,
    (m, k, n): (usize, usize, usize),
    (a, a_layout): (&[f64], Layout),
    (b, b_layout): (&[f64], Layout),
    c: &mut [f64],
    accumulate: bool,
    epilogue: Epilogue<'_>,
) {
    // Real assertions, not debug ones: the unsafe call in `routed` relies on them. Checked
    // products: wrapping ones would let huge sizes with short buffers through.
    let fits = |len: usize, rows: usize, cols: usize| rows.checked_mul(cols) == Some(len);
    assert!(
        fits(a.len(), m, k) && fits(b.len(), k, n) && fits(c.len(), m, n),
        "gemm: buffers of {}, {} and {} entries do not fit {m}x{k} by {k}x{n} into {m}x{n}",
        a.len(),
        b.len(),
        c.len()
    );
    // Each factor pair fits in memory, but all three together may not fit in a usize.
    let madds = m.saturating_mul(k).saturating_mul(n);
    let use_loop = match path {
        GemmPath::Auto => madds <= SMALL_GEMM,
        GemmPath::Loop => true,
        GemmPath::Packed | GemmPath::MatrixMultiply => false,
    };
    if use_loop {
        direct(k, n, (a, a_layout), (b, b_layout), c, accumulate, epilogue);
    } else {
        routed(
            path,
            (m, k, n),
            (a, a_layout),
            (b, b_layout),
            c,
            accumulate,
            epilogue,
        );
    }
}

/// The routes of [`product`] past the direct loop: streaming loops, the packed kernel,
/// matrixmultiply. The buffers have been checked against the shape.
#[inline(never)]
fn routed(
    path: GemmPath,
    (m, k, n): (usize, usize, usize),
    (a, a_layout): (&[f64], Layout),
    (b, b_layout): (&[f64], Layout),
    c: &mut [f64],
    accumulate: bool,
    epilogue: Epilogue<'_>,
) {
    let madds = m.saturating_mul(k).saturating_mul(n);
    // (row stride, column stride) of each logical operand inside its row-major buffer.
    let (rsa, csa) = match a_layout {
        Layout::AsIs => (k, 1),
        Layout::Transposed => (1, m),
    };
    let (rsb, csb) = match b_layout {
        Layout::AsIs => (n, 1),
        Layout::Transposed => (1, k),
    };
    if path == GemmPath::Auto && n == 1 {
        // A matrix–vector product (a width-1 output layer and its weight gradient): packing an
        // 8 MB matrix for one column costs more than the product.
        gemv(m, k, a, (rsa, csa), b, rsb, c, accumulate);
        finish(c, n, epilogue);
        return;
    }
    if path == GemmPath::Auto && csb == 1 {
        if k <= THIN_K {
            row_axpy_gemm(m, k, n, a, (rsa, csa), b, rsb, c, accumulate, epilogue);
            return;
        }
        if m <= THIN_K && a_layout == Layout::Transposed {
            // Aᵀ·G with few columns in A (the weight gradient of a 2-feature input layer): one
            // pass over the rows of G per row of C, which stays in cache; the rows of C are
            // shared between the two threads.
            pool::halves(c, n, madds, |first, part| {
                thin_at_part(first / n, part, (k, n), (a, rsa, csa), (b, rsb), accumulate)
            });
            finish(c, n, epilogue);
            return;
        }
    }
    if path == GemmPath::Packed || (path == GemmPath::Auto && packed_for_auto()) {
        let a = packed::Strided {
            data: a,
            rs: rsa,
            cs: csa,
        };
        let b = packed::Strided {
            data: b,
            rs: rsb,
            cs: csb,
        };
        packed::gemm((m, k, n), a, b, c, accumulate, epilogue);
        return;
    }
    let beta = if accumulate { 1.0 } else { 0.0 };
    // SAFETY: `product` checked the buffer sizes the strides assume: every index
    // `i*rsa + p*csa` (i < m, p < k) is inside `a`, likewise for `b` and `c`, and `c` does not
    // alias `a` or `b` because it is a distinct `&mut`.
    unsafe {
        matrixmultiply::dgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
    finish(c, n, epilogue);
}

/// The direct loop for tiny products: `C[i][j] (+)= Σ_p A[i][p]·B[p][j]`, each sum taken in
/// increasing `p` from 0 (and only then added to `C` when accumulating), then the epilogue on
/// each row of `C` as soon as the row is complete.
///
/// At a few dozen multiply-adds, index arithmetic and bounds checks cost more than the
/// arithmetic, so row `i` of `A` is cut out once (contiguous as stored; every `m`-th entry from
/// `i` when stored transposed) and [`row_product`] runs over slices of `B` it has cut once too.
#[inline(always)]
fn direct(
    k: usize,
    n: usize,
    (a, a_layout): (&[f64], Layout),
    (b, b_layout): (&[f64], Layout),
    c: &mut [f64],
    accumulate: bool,
    epilogue: Epilogue<'_>,
) {
    if n == 0 {
        return;
    }
    let m = c.len() / n;
    for (i, c_row) in c.chunks_exact_mut(n).enumerate() {
        match a_layout {
            Layout::AsIs => {
                let a_row = a[i * k..(i + 1) * k].iter().copied();
                row_product(a_row, (b, b_layout), c_row, accumulate);
            }
            Layout::Transposed => {
                let a_row = a.iter().skip(i).step_by(m).copied();
                row_product(a_row, (b, b_layout), c_row, accumulate);
            }
        }
        epilogue.apply(c_row, 0);
    }
}

/// One row of [`direct`]: `c_row[j] (+)= Σ_p a_row[p]·B[p][j]` over the `k` entries of `a_row`.
#[inline(always)]
fn row_product(
    a_row: impl Iterator<Item = f64> + Clone,
    (b, b_layout): (&[f64], Layout),
    c_row: &mut [f64],
    accumulate: bool,
) {
    let n = c_row.len();
    match b_layout {
        // Overwriting: the k rows of B, scaled, added into the row of C in turn. Entry j gets
        // 0 + a₀·B[0][j] + a₁·B[1][j] + …, the same sums in the same order as a dot product.
        Layout::AsIs if !accumulate => {
            c_row.fill(0.0);
            for (a_ip, b_row) in a_row.zip(b.chunks_exact(n)) {
                for (c, b) in c_row.iter_mut().zip(b_row) {
                    *c += a_ip * b;
                }
            }
        }
        // Accumulating: each dot product is summed on its own first, down column j of B.
        Layout::AsIs => {
            for (j, c) in c_row.iter_mut().enumerate() {
                let b_col = b.iter().skip(j).step_by(n);
                *c += dot(a_row.clone(), b_col.copied());
            }
        }
        // Column j of B is row j of the buffer: a dot product of two runs.
        Layout::Transposed => {
            let k = b.len() / n;
            for (j, c) in c_row.iter_mut().enumerate() {
                let b_col = b[j * k..(j + 1) * k].iter().copied();
                let sum = dot(a_row.clone(), b_col);
                if accumulate {
                    *c += sum;
                } else {
                    *c = sum;
                }
            }
        }
    }
}

/// `Σ_p x[p]·y[p]`, in increasing `p` from 0.
#[inline(always)]
fn dot(x: impl Iterator<Item = f64>, y: impl Iterator<Item = f64>) -> f64 {
    let mut sum = 0.0;
    for (x, y) in x.zip(y) {
        sum += x * y;
    }
    sum
}

#[cfg(test)]
mod tests;
