//! Every GEMM route, path and layout against a naive product.

use super::*;
use crate::kernels::dense;

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
    use crate::kernels::Activation;
    // Row-axpy (k = 2), thin Aᵀ (m = 2), gemv (n = 1), the packed kernel on one thread with
    // edge tiles, split by rows, and split by the inner size.
    // The direct loop on the lab's layers, with k = 0, and at and past its limit of 256.
    let mut shapes = vec![
        (3, 2, 4),
        (1, 2, 4),
        (1, 4, 1),
        (3, 0, 4),
        (4, 8, 8),
        (4, 8, 9),
    ];
    shapes.extend([(300, 2, 40), (2, 300, 40), (301, 40, 1)]);
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

/// Small enough for Miri (`scripts/sanitize.sh`): every path on edge tiles, and one product
/// just large enough to be cut in two and run on both threads.
#[test]
fn miri_every_path_on_small_shapes_and_one_parallel_product() {
    // matrixmultiply's own threads read /proc under Miri and crawl: its code is not ours.
    let paths: &[GemmPath] = if cfg!(miri) {
        &[GemmPath::Auto, GemmPath::Loop, GemmPath::Packed]
    } else {
        &[
            GemmPath::Auto,
            GemmPath::Loop,
            GemmPath::Packed,
            GemmPath::MatrixMultiply,
        ]
    };
    for &path in paths {
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
