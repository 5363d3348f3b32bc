//! The tiny kernels against the general ones, and the offset kernels against the slice ones,
//! bit for bit, over every size up to `TINY`.

// Index loops over arrays of constant length read like the formulas.
#![allow(clippy::needless_range_loop)]

use super::*;
use crate::kernels::dense::{grad_row, Epilogue};
use crate::kernels::{gemm, gemm_by, GemmPath, Layout};

fn values(len: usize, seed: f64) -> Vec<f64> {
    (0..len)
        .map(|i| ((i as f64 + seed) * 0.731).sin() * 1.7)
        .collect()
}

/// Every size in 1..=TINY and every activation: the same bits as the general kernels.
#[test]
fn tiny_kernels_equal_the_general_ones_to_the_bit() {
    let acts = [
        Activation::Identity,
        Activation::Sigmoid,
        Activation::Relu,
        Activation::Tanh,
    ];
    for k in 1..=TINY {
        for n in 1..=TINY {
            for (a, &f) in acts.iter().enumerate() {
                let (x, w, b) = (
                    values(k, 1.0),
                    values(k * n, 2.0 + a as f64),
                    values(n, 3.0),
                );
                let mut fast = vec![f64::NAN; n];
                let job = Forward {
                    f,
                    x: &x,
                    w: &w,
                    b: Some(&b),
                    y: &mut fast,
                };
                with_sizes(k, n, job).unwrap();
                let mut general = vec![f64::NAN; n];
                let epilogue = Epilogue {
                    bias: Some(&b),
                    activation: f,
                };
                // The general direct loop (gemm_epilogue itself now routes here), then
                // the epilogue the general path applies to the finished row.
                gemm_by(
                    GemmPath::Loop,
                    1,
                    k,
                    n,
                    &x,
                    Layout::AsIs,
                    &w,
                    Layout::AsIs,
                    &mut general,
                    false,
                );
                epilogue.apply(&mut general, 0);
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&fast), bits(&general), "forward {k}x{n} {f:?}");

                let g = values(n, 4.0);
                let d = &{
                    let mut d = vec![0.0; n];
                    grad_row(f, &g, &fast, &mut d);
                    d
                };
                for fresh in [true, false] {
                    // Written into NaN when fresh (nothing may be read), added to 0.25
                    // otherwise.
                    let start = if fresh { f64::NAN } else { 0.25 };
                    // One buffer holding dX, dW and db in turn, with NaN between them.
                    let (at_x, at_w, at_b) = (1, k + 2, k + k * n + 3);
                    let mut buffer = vec![start; at_b + n + 1];
                    for gap in [0, at_w - 1, at_b - 1, at_b + n] {
                        buffer[gap] = f64::NAN;
                    }
                    let slot = |at| Some(Slot { at, fresh });
                    let job = LayerGrads {
                        f,
                        g: &g,
                        y: &fast,
                        x: &x,
                        w: &w,
                        grads: &mut buffer,
                        dx: slot(at_x),
                        dw: slot(at_w),
                        db: slot(at_b),
                    };
                    with_sizes(k, n, job).unwrap();
                    for gap in [0, at_w - 1, at_b - 1, at_b + n] {
                        assert!(buffer[gap].is_nan(), "{k}x{n}: wrote outside its slots");
                    }
                    let dx = &buffer[at_x..at_x + k];
                    let dw = &buffer[at_w..at_w + k * n];
                    let db = &buffer[at_b..at_b + n];
                    let fill = if fresh { 0.0 } else { 0.25 };
                    let mut want = vec![fill; k];
                    gemm(
                        1,
                        n,
                        k,
                        d,
                        Layout::AsIs,
                        &w,
                        Layout::Transposed,
                        &mut want,
                        !fresh,
                    );
                    assert_eq!(bits(dx), bits(&want), "dX {k}x{n} {f:?} fresh {fresh}");
                    let mut want = vec![start; k * n];
                    gemm(
                        k,
                        1,
                        n,
                        &x,
                        Layout::Transposed,
                        d,
                        Layout::AsIs,
                        &mut want,
                        !fresh,
                    );
                    assert_eq!(bits(dw), bits(&want), "dW {k}x{n} {f:?} fresh {fresh}");
                    let want: Vec<f64> = d.iter().map(|d| fill + (0.0 + d)).collect();
                    assert_eq!(bits(db), bits(&want), "db {k}x{n} {f:?} fresh {fresh}");

                    // Only dW: the others are left alone.
                    let mut only = vec![start; k * n];
                    let job = LayerGrads {
                        f,
                        g: &g,
                        y: &fast,
                        x: &x,
                        w: &w,
                        grads: &mut only,
                        dx: None,
                        dw: Some(Slot { at: 0, fresh }),
                        db: None,
                    };
                    with_sizes(k, n, job).unwrap();
                    assert_eq!(bits(&only), bits(dw), "dW alone {k}x{n} {f:?}");
                }
            }
        }
    }
    let none = || LayerGrads {
        f: Activation::Identity,
        g: &[],
        y: &[],
        x: &[],
        w: &[],
        grads: &mut [],
        dx: None,
        dw: None,
        db: None,
    };
    assert!(with_sizes(TINY + 1, 1, none()).is_none());
    assert!(with_sizes(1, 0, none()).is_none());
}

/// The replay's kernels, which find their operands by offset in the tape's buffers (with
/// NaN around and between them), give the slice kernels' bits, for every size, activation,
/// and choice of gradients written, added or skipped.
#[test]
fn offset_kernels_equal_the_slice_kernels() {
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for k in 1..=TINY {
        for n in 1..=TINY {
            for f in [Activation::Sigmoid, Activation::Tanh, Activation::Relu] {
                // values: [NaN, x (k), NaN, w (k·n), NaN, b (n), NaN, y (n), NaN]
                let (x_at, w_at) = (1, k + 2);
                let (b_at, y_at) = (w_at + k * n + 1, w_at + k * n + n + 2);
                let mut buffer = vec![f64::NAN; y_at + n + 1];
                let (x, w, b) = (values(k, 1.0), values(k * n, 2.0), values(n, 3.0));
                buffer[x_at..x_at + k].copy_from_slice(&x);
                buffer[w_at..w_at + k * n].copy_from_slice(&w);
                buffer[b_at..b_at + n].copy_from_slice(&b);
                let job = ForwardAt {
                    f,
                    values: &mut buffer,
                    x: x_at,
                    w: w_at,
                    b: b_at,
                    y: y_at,
                };
                with_sizes(k, n, job).unwrap();
                let mut y = vec![f64::NAN; n];
                let job = Forward {
                    f,
                    x: &x,
                    w: &w,
                    b: Some(&b),
                    y: &mut y,
                };
                with_sizes(k, n, job).unwrap();
                assert_eq!(bits(&buffer[y_at..y_at + n]), bits(&y), "forward {k}x{n}");
                assert!(buffer[y_at + n].is_nan() && buffer[y_at - 1].is_nan());

                let g = values(n, 4.0);
                for (wants, fresh) in [(7, 7), (7, 0), (6, 2), (5, 4), (2, 0)] {
                    let start = |i: u8| {
                        if fresh & (1 << i) != 0 {
                            f64::NAN
                        } else {
                            0.25
                        }
                    };
                    let mut grads = vec![f64::NAN; y_at + n + 1];
                    grads[x_at..x_at + k].fill(start(0));
                    grads[w_at..w_at + k * n].fill(start(1));
                    grads[b_at..b_at + n].fill(start(2));
                    grads[y_at..y_at + n].copy_from_slice(&g);
                    let mut want = grads.clone();
                    let job = LayerGradsAt {
                        f,
                        values: &buffer,
                        grads: &mut grads,
                        x: x_at,
                        w: w_at,
                        b: b_at,
                        y: y_at,
                        wants,
                        fresh,
                    };
                    with_sizes(k, n, job).unwrap();
                    let slot = |i: u8, at: usize| {
                        (wants & (1 << i) != 0).then_some(Slot {
                            at,
                            fresh: fresh & (1 << i) != 0,
                        })
                    };
                    let job = LayerGrads {
                        f,
                        g: &g,
                        y: &y,
                        x: &x,
                        w: &w,
                        grads: &mut want,
                        dx: slot(0, x_at),
                        dw: slot(1, w_at),
                        db: slot(2, b_at),
                    };
                    with_sizes(k, n, job).unwrap();
                    assert_eq!(bits(&grads), bits(&want), "{k}x{n} {wants} {fresh}");
                }
            }
        }
    }
}
