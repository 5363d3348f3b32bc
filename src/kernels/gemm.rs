//! Dense `f64` kernels shared by the tape's ops and the hand-derived path.
//!
//! Both paths call the *same* functions, so they add up their numbers in the same order and can be
//! compared exactly (see `../shared/LAB.md` on floating-point associativity).

/// Defines `fn $name(args)` that runs `$body(args)` (an `#[inline(always)]` function) compiled
/// with AVX-512F when the CPU has it, and as it is otherwise.
///
/// The crate is built for baseline x86-64, whose vectors hold two `f64`: a pass like
/// `d = if a > 0 { g } else { 0 }` then runs entry by entry, with a branch. Inlined into a copy
/// with AVX-512F enabled, the same loop runs eight entries per instruction (masked compares and
/// blends). The numbers do not change: Rust never fuses a multiply and an add on its own, and
/// each entry's arithmetic is the same at any width. (A closure cannot be forced inline into
/// such a copy, hence named functions.)
macro_rules! avx512_copy {
    ($(#[$meta:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) => $body:ident) => {
        $(#[$meta])*
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                #[allow(clippy::too_many_arguments)]
                fn wide($($arg: $ty),*) {
                    $body($($arg),*)
                }
                if $crate::kernels::packed::available() {
                    // SAFETY: this CPU has AVX-512F.
                    return unsafe { wide($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}

mod activation;
pub(crate) mod dense;
mod packed;
pub(crate) mod pool;

pub use activation::Activation;

use dense::Epilogue;

/// Logical layout of a matrix operand stored row-major: as it is, or read as its transpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// The buffer is the operand itself.
    AsIs,
    /// The buffer holds the operand's transpose; it is read by strides, never copied.
    Transposed,
}

/// `σ(x) = 1 / (1 + e⁻ˣ)`, computed without overflow: for x < 0, `eˣ / (1 + eˣ)` never forms
/// `e⁻ˣ`, which would overflow to ∞ below x ≈ −709.
#[inline]
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
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

/// The packed kernel's sizes, where its behaviour changes (tests cross each of them): the
/// micro-kernel's `MR`×`NR` tile, the `KC` inner, `MC` row and `NC` column blocks, and the
/// multiply-adds from which a product is cut in two for two threads.
pub mod blocking {
    pub use super::packed::{KC, MC, MR, NC, NR, PARALLEL_MADDS};
}

/// Passes over at least this many entries run on two threads (elementwise ops and rules, the
/// streaming products, bias sums).
pub const PARALLEL_ENTRIES: usize = pool::PARALLEL_ENTRIES;

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
/// `C` as it is finished (inside the packed kernel; in the same pass for thin products; in one
/// pass afterwards for the rest).
///
/// # Panics
/// If a buffer's length does not match its shape, or the bias is not `n` long.
#[allow(clippy::too_many_arguments)]
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

/// Every route of [`gemm_by`], with an epilogue.
fn product(
    path: GemmPath,
    (m, k, n): (usize, usize, usize),
    (a, a_layout): (&[f64], Layout),
    (b, b_layout): (&[f64], Layout),
    c: &mut [f64],
    accumulate: bool,
    epilogue: Epilogue<'_>,
) {
    // Real assertions, not debug ones: the unsafe call below relies on them. Checked products:
    // wrapping ones would let huge sizes with short buffers through.
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
    // (row stride, column stride) of each logical operand inside its row-major buffer.
    let (rsa, csa) = match a_layout {
        Layout::AsIs => (k, 1),
        Layout::Transposed => (1, m),
    };
    let (rsb, csb) = match b_layout {
        Layout::AsIs => (n, 1),
        Layout::Transposed => (1, k),
    };
    let use_loop = match path {
        GemmPath::Auto => madds <= SMALL_GEMM,
        GemmPath::Loop => true,
        GemmPath::Packed | GemmPath::MatrixMultiply => false,
    };
    if path == GemmPath::Auto && !use_loop && n == 1 {
        // A matrix–vector product (a width-1 output layer and its weight gradient): packing an
        // 8 MB matrix for one column costs more than the product.
        gemv(m, k, a, (rsa, csa), b, rsb, c, accumulate);
        finish(c, n, epilogue);
        return;
    }
    if path == GemmPath::Auto && !use_loop && csb == 1 {
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
    if use_loop {
        small_gemm(m, k, n, a, (rsa, csa), b, (rsb, csb), c, accumulate);
        finish(c, n, epilogue);
        return;
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
    // SAFETY: the assertion above gives the buffer sizes the strides assume: every index
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

avx512_copy! {
    /// Rows `first..` of `C = Aᵀ·B` for an `A` with few columns: one pass over the rows of `B`,
    /// adding each into every row of `C` (which stay in cache), in increasing `p`.
    #[allow(clippy::type_complexity)]
    fn thin_at_part(
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

/// The direct loop for tiny products: `C[i][j] (+)= Σ_p A[i][p]·B[p][j]`, summing `p` in order.
#[allow(clippy::too_many_arguments)]
#[inline]
fn small_gemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f64],
    (rsa, csa): (usize, usize),
    b: &[f64],
    (rsb, csb): (usize, usize),
    c: &mut [f64],
    accumulate: bool,
) {
    for i in 0..m {
        let c_row = &mut c[i * n..(i + 1) * n];
        for (j, c_ij) in c_row.iter_mut().enumerate() {
            let mut dot = 0.0;
            for p in 0..k {
                dot += a[i * rsa + p * csa] * b[p * rsb + j * csb];
            }
            if accumulate {
                *c_ij += dot;
            } else {
                *c_ij = dot;
            }
        }
    }
}

/// `c[i] (+)= Σ_p A[i][p]·b[p]`: one column. With `A` stored as is, four rows' dot products run
/// side by side (four independent sums in flight); with `A` stored transposed, one pass over its
/// rows adds `b[p]`-scaled rows into `c`. Each entry adds its products in increasing `p`, and
/// the entries of `c` are shared between the two threads.
#[allow(clippy::too_many_arguments)]
fn gemv(
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
fn row_axpy_gemm(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, k: usize, n: usize, a: &[f64], b: &[f64]) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    fn transpose(rows: usize, cols: usize, x: &[f64]) -> Vec<f64> {
        (0..rows * cols)
            .map(|i| x[(i % rows) * cols + i / rows])
            .collect()
    }

    #[test]
    fn gemm_matches_naive_product_for_every_layout_small_and_large() {
        // A tiny product (the loop), a large one (the packed kernel or matrixmultiply), and a
        // large one with k = 2 (the row-axpy loop), one with m = 2 (its transposed-A loop), and
        // one column (gemv).
        for &(m, k, n) in &[
            (3, 2, 4),
            (20, 30, 40),
            (300, 2, 40),
            (2, 300, 40),
            (301, 40, 1),
            // The same thin shapes, large enough to be shared between two threads.
            (901, 2, 40),
            (3, 900, 40),
            (1201, 40, 1),
        ] {
            check_every_layout(GemmPath::Auto, m, k, n);
            // The paths Auto may not take on this CPU or at this size.
            check_every_layout(GemmPath::MatrixMultiply, m, k, n);
            check_every_layout(GemmPath::Loop, m, k, n);
        }
    }

    #[test]
    fn packed_kernel_matches_naive_product_on_edges_blocks_and_threads() {
        // (Without AVX-512F, the portable micro-kernel runs the same loop nest.)
        // Tiles cut by the edges (m, n not multiples of 8 and 16), k across several KC blocks,
        // n across NC blocks, and products large enough to be split between two threads.
        for &(m, k, n) in &[
            (1, 1, 1),
            (9, 17, 33),
            (65, 300, 17),
            (130, 513, 40),
            (7, 3, 1030),
            (300, 256, 256),
        ] {
            check_every_layout(GemmPath::Packed, m, k, n);
        }
    }

    #[test]
    fn epilogue_is_bias_then_activation_after_the_product_on_every_route() {
        use super::Activation;
        // The direct loop, row-axpy (k = 2), thin Aᵀ (m = 2), gemv (n = 1), the packed kernel on
        // one thread with edge tiles, split by rows, and split by the inner size.
        let mut shapes = vec![(3, 2, 4), (300, 2, 40), (2, 300, 40), (301, 40, 1)];
        shapes.extend([(130, 513, 40), (300, 256, 256), (64, 2048, 16)]);
        for (m, k, n) in shapes {
            let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
            let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.11).cos()).collect();
            let bias: Vec<f64> = (0..n).map(|j| 0.1 * j as f64 - 1.0).collect();
            let mut product = vec![0.0; m * n];
            gemm(
                m,
                k,
                n,
                &a,
                Layout::AsIs,
                &b,
                Layout::AsIs,
                &mut product,
                false,
            );
            for f in [
                Activation::Identity,
                Activation::Sigmoid,
                Activation::Relu,
                Activation::Tanh,
            ] {
                for with_bias in [false, true] {
                    let epilogue = Epilogue {
                        bias: with_bias.then_some(&bias[..]),
                        activation: f,
                    };
                    let mut want = product.clone();
                    for row in want.chunks_exact_mut(n) {
                        if with_bias {
                            row.iter_mut().zip(&bias).for_each(|(z, b)| *z += b);
                        }
                        dense::activate(f, row);
                    }
                    let mut c = vec![f64::NAN; m * n];
                    gemm_epilogue(
                        m,
                        k,
                        n,
                        &a,
                        Layout::AsIs,
                        &b,
                        Layout::AsIs,
                        &mut c,
                        epilogue,
                    );
                    assert_eq!(c, want, "{m}x{k}x{n} {f:?} bias={with_bias}");
                }
            }
        }
    }

    #[test]
    fn delta_pass_matches_a_naive_pass_on_one_thread_and_two() {
        use super::Activation;
        use dense::{delta_pass, Upstream};
        // 40x7 stays on one thread; 2100x16 is cut in two.
        for (m, n, k) in [(40, 7, 3), (2100, 16, 2)] {
            let a: Vec<f64> = (0..m * n).map(|i| (i as f64 * 0.37).sin()).collect();
            let g: Vec<f64> = (0..m * n).map(|i| (i as f64 * 0.23).cos()).collect();
            let x: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.71).sin()).collect();
            let col: Vec<f64> = (0..m).map(|i| (i as f64 * 0.3).cos()).collect();
            let row: Vec<f64> = (0..n).map(|j| 0.5 - 0.1 * j as f64).collect();
            for f in [
                Activation::Identity,
                Activation::Sigmoid,
                Activation::Relu,
                Activation::Tanh,
            ] {
                for outer in [false, true] {
                    let upstream = |i: usize, j: usize| {
                        if outer {
                            col[i] * row[j]
                        } else {
                            g[i * n + j]
                        }
                    };
                    let want: Vec<f64> = (0..m * n)
                        .map(|e| {
                            let (i, j, y) = (e / n, e % n, a[e]);
                            let d = upstream(i, j);
                            match f {
                                Activation::Identity => d,
                                Activation::Sigmoid => d * y * (1.0 - y),
                                Activation::Relu => {
                                    if y > 0.0 {
                                        d
                                    } else {
                                        0.0
                                    }
                                }
                                Activation::Tanh => d * (1.0 - y * y),
                            }
                        })
                        .collect();
                    let want_db: Vec<f64> = (0..n)
                        .map(|j| (0..m).map(|i| want[i * n + j]).sum())
                        .collect();
                    let want_dw: Vec<f64> = (0..k * n)
                        .map(|e| (0..m).map(|i| x[i * k + e / n] * want[i * n + e % n]).sum())
                        .collect();
                    let g = if outer {
                        Upstream::Outer {
                            col: &col,
                            row: &row,
                        }
                    } else {
                        Upstream::Matrix(&g)
                    };
                    let (mut delta, mut db, mut dw) =
                        (vec![f64::NAN; m * n], vec![1.0; n], vec![2.0; k * n]);
                    delta_pass(
                        f,
                        n,
                        g,
                        &a,
                        Some(&mut delta),
                        Some(&mut db),
                        Some((&x, &mut dw)),
                    );
                    assert_eq!(delta, want, "{m}x{n} {f:?} outer={outer}: delta");
                    for (got, want) in db.iter().zip(&want_db) {
                        assert!((got - (want + 1.0)).abs() < 1e-12 * m as f64, "db");
                    }
                    for (got, want) in dw.iter().zip(&want_dw) {
                        assert!((got - (want + 2.0)).abs() < 1e-12 * m as f64, "dw");
                    }
                    // Without δ kept: the same sums.
                    let (mut db2, mut dw2) = (vec![1.0; n], vec![2.0; k * n]);
                    delta_pass(f, n, g, &a, None, Some(&mut db2), Some((&x, &mut dw2)));
                    assert_eq!((db2, dw2), (db, dw), "{m}x{n} {f:?}: sums without delta");
                }
            }
        }
    }

    /// Small enough for Miri (`scripts/sanitize.sh`): every path on edge tiles, and one product
    /// just large enough to be cut in two and run on both threads.
    #[test]
    fn miri_every_path_on_small_shapes_and_one_parallel_product() {
        for path in [
            GemmPath::Auto,
            GemmPath::Loop,
            GemmPath::Packed,
            GemmPath::MatrixMultiply,
        ] {
            for (m, k, n) in [(1, 1, 1), (3, 2, 4), (9, 5, 17), (2, 9, 3), (7, 3, 1)] {
                check_every_layout(path, m, k, n);
            }
        }
        let (m, k, n) = (16, 256, 257); // ≥ 2²⁰ multiply-adds: cut along k
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.11).cos()).collect();
        let mut c = vec![f64::NAN; m * n];
        let (rows, cols) = (Layout::AsIs, Layout::AsIs);
        gemm_by(GemmPath::Packed, m, k, n, &a, rows, &b, cols, &mut c, false);
        for (got, want) in c.iter().zip(naive(m, k, n, &a, &b)) {
            assert!((got - want).abs() < 1e-12 * k as f64);
        }
    }

    fn check_every_layout(path: GemmPath, m: usize, k: usize, n: usize) {
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.11).cos()).collect();
        let want = naive(m, k, n, &a, &b);
        let at = transpose(m, k, &a);
        let bt = transpose(k, n, &b);
        for (a_buf, a_layout) in [(&a, Layout::AsIs), (&at, Layout::Transposed)] {
            for (b_buf, b_layout) in [(&b, Layout::AsIs), (&bt, Layout::Transposed)] {
                for accumulate in [false, true] {
                    let mut c = vec![1.0; m * n];
                    gemm_by(
                        path, m, k, n, a_buf, a_layout, b_buf, b_layout, &mut c, accumulate,
                    );
                    let offset = if accumulate { 1.0 } else { 0.0 };
                    for (got, want) in c.iter().zip(&want) {
                        // Sums of up to 513 products of numbers ≤ 1, in another order and
                        // with fused multiply-adds: relative error well under 1e-12.
                        let tol = 1e-12 * (k as f64).max(1.0);
                        assert!(
                            (got - (want + offset)).abs() < tol,
                            "{path:?} {m}x{k}x{n} {a_layout:?} {b_layout:?} accumulate={accumulate}: {got} vs {}",
                            want + offset
                        );
                    }
                }
            }
        }
    }
}
