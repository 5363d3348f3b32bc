//! The GEMM against a naive triple loop, on every path, in every layout, over shapes on both
//! sides of every threshold in `kernels`, into output buffers that hold stale numbers.
//!
//! The tape's value buffer and the hand path's workspace are reused from step to step, so a
//! product written with `accumulate = false` lands on whatever the last step left there. A kernel
//! that leaves part of its output unwritten passes every test that starts from zeros; here the
//! output is filled with NaN before each overwrite (any entry left alone stays NaN) and with
//! finite garbage before each accumulation (which must be added to exactly once).

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use chainrule::kernels::blocking::{KC, MC, MR, NC, NR, PARALLEL_MADDS};
use chainrule::kernels::{gemm, gemm_by, packed_available, GemmPath, Layout, SMALL_GEMM, THIN_K};
use common::panic_message;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// `C = A·B` by the definition, summing `p` in order.
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
    let mut t = vec![0.0; rows * cols];
    for i in 0..rows {
        for j in 0..cols {
            t[j * rows + i] = x[i * cols + j];
        }
    }
    t
}

/// Every path. `Packed` runs its AVX-512 micro-kernel where the CPU has one and a portable
/// one elsewhere: either way the loop nest, its edges and its cuts are the ones checked here.
fn paths() -> Vec<GemmPath> {
    if !packed_available() {
        eprintln!("note: no AVX-512F here; Packed runs its portable micro-kernel");
    }
    vec![
        GemmPath::Auto,
        GemmPath::Loop,
        GemmPath::MatrixMultiply,
        GemmPath::Packed,
    ]
}

/// Runs `path` on `m×k·k×n` in all four layouts, overwriting a NaN-filled `C` and adding into
/// a garbage-filled one, and compares each with the naive product.
fn check(path: GemmPath, (m, k, n): (usize, usize, usize), rng: &mut StdRng) {
    let a: Vec<f64> = (0..m * k).map(|_| rng.random_range(-1.0..1.0)).collect();
    let b: Vec<f64> = (0..k * n).map(|_| rng.random_range(-1.0..1.0)).collect();
    let garbage: Vec<f64> = (0..m * n).map(|_| rng.random_range(-9.0..9.0)).collect();
    let want = naive(m, k, n, &a, &b);
    let (at, bt) = (transpose(m, k, &a), transpose(k, n, &b));
    // Sums of k products of numbers below 1 in another order (and with fused multiply-adds):
    // each rounding is below 2⁻⁵³ of a partial sum ≤ k, so k·k·1e-16 bounds the error; 1e-13·k
    // allows that for every k here while a missed or doubled term (size ~0.1–9) cannot pass.
    let tol = 1e-13 * (k.max(1) as f64);
    for (a_buf, a_layout) in [(&a, Layout::AsIs), (&at, Layout::Transposed)] {
        for (b_buf, b_layout) in [(&b, Layout::AsIs), (&bt, Layout::Transposed)] {
            for accumulate in [false, true] {
                let mut c = if accumulate {
                    garbage.clone()
                } else {
                    vec![f64::NAN; m * n]
                };
                gemm_by(
                    path, m, k, n, a_buf, a_layout, b_buf, b_layout, &mut c, accumulate,
                );
                for (e, (got, want)) in c.iter().zip(&want).enumerate() {
                    let want = if accumulate { want + garbage[e] } else { *want };
                    assert!(
                        (got - want).abs() <= tol,
                        "{path:?} {m}x{k}x{n} {a_layout:?}·{b_layout:?} accumulate={accumulate}: \
                         C[{}][{}] = {got}, expected {want}",
                        e / n.max(1),
                        e % n.max(1),
                    );
                }
            }
        }
    }
}

/// Shapes on both sides of every threshold: the direct loop (`SMALL_GEMM` multiply-adds), thin
/// inner sizes (`THIN_K`), single columns, the transposed-A thin case (m ≤ `THIN_K`), the packed
/// kernel's tile (`MR`, `NR`) and blocks (`KC`, `MC`, `NC`), both ways of cutting a product for
/// two threads (rows when m ≥ k, the inner size when k > m) at and around `PARALLEL_MADDS`,
/// including m < k < `KC` (whose cut once came out at 0 and left C unwritten), and sizes 0 and 1.
fn threshold_shapes() -> Vec<(usize, usize, usize)> {
    let cube = (SMALL_GEMM as f64).cbrt() as usize; // 6: 6³ = 216 ≤ 256 < 7³
    let mut shapes = vec![
        (0, 0, 0),
        (0, 3, 4),
        (3, 0, 4),
        (3, 4, 0),
        (1, 1, 1),
        (1, 7, 1),
        (cube, cube, cube),
        (cube + 1, cube + 1, cube + 1),
        (SMALL_GEMM, 1, 1),
        (SMALL_GEMM + 1, 1, 1),
        // The lab's 2-4-4-1 layers, one sample: forward and δ·Wᵀ.
        (1, 2, 4),
        (1, 4, 4),
        (1, 4, 1),
        // One row, at and just past the direct loop's limit.
        (1, 16, 16),
        (1, 16, 17),
        (64, THIN_K, 40),
        (64, THIN_K + 1, 40),
        (THIN_K, 300, 40),
        (THIN_K + 1, 300, 40),
        (301, 40, 1),
        (1, 300, 40),
        (MR - 1, 9, NR - 1),
        (MR, 9, NR),
        (MR + 1, 9, NR + 1),
        (2 * MR + 3, KC - 1, 2 * NR + 5),
        (17, KC, 33),
        (17, KC + 1, 33),
        (MC - 1, 20, 40),
        (MC, 20, 40),
        (MC + 1, 20, 40),
        (7, 5, NC - 1),
        (7, 5, NC),
        (7, 5, NC + 1),
        (9, 6, 2 * NC + 3),
    ];
    // Around the cut: just below and just above PARALLEL_MADDS, each way.
    let big = PARALLEL_MADDS;
    shapes.extend([
        (64, 128, big / (64 * 128) - 1),
        (64, 128, big / (64 * 128)),
        // m < k < KC: the shapes.
        (100, 200, 100),
        (60, 255, 100),
        (127, 129, 128),
        (MR, KC - 1, big / (MR * (KC - 1)) + 1),
        // m ≥ k with fewer than MC rows, then with fewer than 2·MC, then several blocks.
        (120, 100, 100),
        (MR + 1, MR, big / (MR * (MR + 1)) + 1),
        (200, 100, 60),
        (300, 256, 256),
        // k across KC blocks, cut at a multiple of KC.
        (40, 2 * KC + 1, 110),
        (64, 2048, 16),
    ]);
    shapes
}

#[test]
fn gemm_overwrites_or_adds_every_entry_on_every_path_across_every_threshold() {
    let mut rng = StdRng::seed_from_u64(16);
    for shape in threshold_shapes() {
        for path in paths() {
            if path == GemmPath::Loop && shape.0 * shape.1 * shape.2 > 1 << 22 {
                continue; // the direct loop is the naive loop; big shapes add time, not coverage
            }
            check(path, shape, &mut rng);
        }
    }
}

#[test]
fn gemm_matches_naive_on_random_shapes_into_stale_buffers() {
    // 300 seeded random shapes, sides drawn to land near the thresholds above.
    let mut rng = StdRng::seed_from_u64(7);
    let near = [
        1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 64, 127, 128, 129, 255, 256, 257,
    ];
    for _ in 0..300 {
        let mut side = || near[rng.random_range(0..near.len())] + rng.random_range(0..2);
        let shape = (side(), side(), side());
        if shape.0 * shape.1 * shape.2 > 3 << 20 {
            continue;
        }
        let path = paths()[rng.random_range(0..paths().len())];
        check(path, shape, &mut rng);
    }
}

#[test]
fn gemm_rejects_sizes_whose_products_overflow_without_touching_memory() {
    // (2⁶³ + 2) · 2 wraps to exactly 4 (mod 2⁶⁴): with wrapping arithmetic each of these
    // shapes would pass a length check against 4-entry buffers, and the kernel would write far
    // outside them. Checked arithmetic must see the true sizes and refuse before any kernel runs.
    let huge = (1usize << (usize::BITS - 1)) + 2;
    let (a, b) = (vec![1.0; 4], vec![1.0; 4]);
    for path in paths() {
        for (m, k, n) in [(huge, 2, 2), (2, huge, 2), (2, 2, huge)] {
            let mut c = vec![0.0; 4];
            let message = panic_message(
                catch_unwind(AssertUnwindSafe(|| {
                    gemm_by(
                        path,
                        m,
                        k,
                        n,
                        &a,
                        Layout::AsIs,
                        &b,
                        Layout::AsIs,
                        &mut c,
                        false,
                    )
                }))
                .expect_err("overflowing sizes must be refused"),
            );
            assert!(
                message.contains("do not fit"),
                "{path:?} {m}x{k}x{n}: {message}"
            );
            assert_eq!(c, vec![0.0; 4], "nothing was written");
        }
    }
}

#[test]
fn gemm_on_a_reused_buffer_matches_over_several_calls() {
    // The training loop's pattern: the same output buffer, overwritten step after step with new
    // operands. Each step's product must not depend on the last one's.
    let mut rng = StdRng::seed_from_u64(3);
    for (m, k, n) in [
        (100, 200, 100),
        (60, 255, 100),
        (127, 129, 128),
        (300, 2, 40),
    ] {
        let mut c = vec![0.0; m * n];
        for step in 0..3 {
            let a: Vec<f64> = (0..m * k).map(|_| rng.random_range(-1.0..1.0)).collect();
            let b: Vec<f64> = (0..k * n).map(|_| rng.random_range(-1.0..1.0)).collect();
            gemm(m, k, n, &a, Layout::AsIs, &b, Layout::AsIs, &mut c, false);
            let want = naive(m, k, n, &a, &b);
            let worst = c
                .iter()
                .zip(&want)
                .map(|(c, w)| (c - w).abs())
                .fold(0.0, f64::max);
            assert!(worst < 1e-12, "{m}x{k}x{n} step {step}: off by {worst}");
        }
    }
}

#[test]
fn direct_loop_is_the_in_order_dot_product_on_both_sides_of_small_gemm() {
    // Up to SMALL_GEMM multiply-adds, `Auto` runs the direct loop, which adds each entry's
    // products in increasing p from 0 whatever its loop order: overwriting must give the naive
    // product exactly, and accumulating the stale value plus it. Past the limit, only `Loop`
    // still promises that order. Sizes 0 and 1 on every side, in every layout.
    let mut rng = StdRng::seed_from_u64(5);
    let shapes = [
        (0, 0, 0),
        (0, 3, 4),
        (3, 0, 4),
        (3, 4, 0),
        (1, 0, 1),
        (1, 1, 1),
        (1, 2, 4),
        (1, 4, 4),
        (1, 4, 1),
        (4, 1, 3),
        (5, 7, 1),
        (4, 8, 8),
        (4, 8, 9),
        (1, SMALL_GEMM, 1),
        (1, SMALL_GEMM + 1, 1),
        (2, 3, SMALL_GEMM / 6),
        (2, 3, SMALL_GEMM / 6 + 1),
    ];
    for (m, k, n) in shapes {
        let a: Vec<f64> = (0..m * k).map(|_| rng.random_range(-1.0..1.0)).collect();
        let b: Vec<f64> = (0..k * n).map(|_| rng.random_range(-1.0..1.0)).collect();
        let stale: Vec<f64> = (0..m * n).map(|_| rng.random_range(-9.0..9.0)).collect();
        let want = naive(m, k, n, &a, &b);
        let (at, bt) = (transpose(m, k, &a), transpose(k, n, &b));
        let mut paths = vec![GemmPath::Loop];
        if m * k * n <= SMALL_GEMM {
            paths.push(GemmPath::Auto);
        }
        for path in paths {
            for (a_buf, a_layout) in [(&a, Layout::AsIs), (&at, Layout::Transposed)] {
                for (b_buf, b_layout) in [(&b, Layout::AsIs), (&bt, Layout::Transposed)] {
                    let case = format!("{path:?} {m}x{k}x{n} {a_layout:?}·{b_layout:?}");
                    let mut c = vec![f64::NAN; m * n];
                    gemm_by(
                        path, m, k, n, a_buf, a_layout, b_buf, b_layout, &mut c, false,
                    );
                    assert_eq!(c, want, "{case}, overwriting");
                    let mut c = stale.clone();
                    gemm_by(
                        path, m, k, n, a_buf, a_layout, b_buf, b_layout, &mut c, true,
                    );
                    let sums: Vec<f64> = stale.iter().zip(&want).map(|(s, w)| s + w).collect();
                    assert_eq!(c, sums, "{case}, accumulating");
                }
            }
        }
    }
}
