//! Reused buffers, through the public API: a tape reset between steps and the hand path's
//! workspace, over several steps and shapes that cross the GEMM's thresholds, each step compared
//! with a naive computation written here (plain loops, none of the crate's kernels).
//!
//! A product that leaves part of its output unwritten is right on the first step (fresh zeros)
//! and wrong on the next (the last step's numbers): this is how a 100×200·200×100 layer once
//! trained 1–30% away from PyTorch while every one-step test passed. Each case runs twice: as
//! this CPU routes products, and with large products forced through the packed kernel (its
//! portable micro-kernel where there is no AVX-512F), so the packed loop nest is covered on any
//! machine.

use chainrule::hand::{self, Workspace};
use chainrule::kernels::with_packed_everywhere;
use chainrule::loss::Loss;
use chainrule::nn::{Activation, Init, Mlp};
use chainrule::{Matrix, Tape};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Shapes `(m, k, n)` around the GEMM's thresholds, including the three (m < k < KC,
/// large enough to be cut for two threads) and both ways of cutting.
const SHAPES: [(usize, usize, usize); 7] = [
    (100, 200, 100),
    (60, 255, 100),
    (127, 129, 128),
    (120, 100, 100),
    (300, 256, 40),
    (40, 513, 110),
    (9, 17, 33),
];

fn random(rng: &mut StdRng, rows: usize, cols: usize) -> Matrix {
    Matrix::from_fn(rows, cols, |_, _| rng.random_range(-1.0..1.0))
}

/// `A·B` by the definition.
fn naive_matmul(a: &Matrix, b: &Matrix) -> Matrix {
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    Matrix::from_fn(m, n, |i, j| (0..k).map(|p| a[(i, p)] * b[(p, j)]).sum())
}

fn transpose(a: &Matrix) -> Matrix {
    Matrix::from_fn(a.cols(), a.rows(), |i, j| a[(j, i)])
}

/// Largest `|got − want| / (1 + |want|)`.
fn worst(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs() / (1.0 + w.abs()))
        .fold(0.0, |acc, e| {
            if e.is_nan() {
                f64::INFINITY
            } else {
                acc.max(e)
            }
        })
}

/// Sums of up to 513 products of numbers below 1, in other orders: far below 1e-12 relative;
/// a missed or doubled product (stale buffer) is of order 0.1–10.
const TOL: f64 = 1e-11;

/// Three steps of `L = Σ (A·B) ⊙ R` on one reset tape with new numbers each step: the value and
/// both gradients (`dA = R·Bᵀ`, `dB = Aᵀ·R`) against the naive products.
fn tape_steps(rng: &mut StdRng) {
    let mut tape = Tape::new();
    for &(m, k, n) in &SHAPES {
        for step in 0..3 {
            tape.reset();
            let (a, b, r) = (random(rng, m, k), random(rng, k, n), random(rng, m, n));
            let (av, bv) = (tape.param(&a), tape.param(&b));
            let y = av.matmul(bv);
            let loss = (y * tape.input(&r)).sum();
            let grads = tape.backward(loss);
            let case = format!("{m}x{k}x{n} step {step}");
            let e = worst(&y.value_ref(), naive_matmul(&a, &b).as_slice());
            assert!(e < TOL, "{case}: A·B off by {e}");
            let want_da = naive_matmul(&r, &transpose(&b));
            let e = worst(&grads.wrt(av), want_da.as_slice());
            assert!(e < TOL, "{case}: dA off by {e}");
            let want_db = naive_matmul(&transpose(&a), &r);
            let e = worst(&grads.wrt(bv), want_db.as_slice());
            assert!(e < TOL, "{case}: dB off by {e}");
        }
    }
}

#[test]
fn a_reset_tape_computes_each_steps_products_afresh() {
    tape_steps(&mut StdRng::seed_from_u64(1));
    with_packed_everywhere(|| tape_steps(&mut StdRng::seed_from_u64(2)));
}

/// A naive relu layer `Y = relu(X·W + b)` with `L = mean((Y − T)²)`, and its gradients by the
/// textbook formulas: `G = 2(Y − T)/n`, `δ = G ⊙ [Y > 0]`, `dW = Xᵀ·δ`, `db = Σ_rows δ`.
fn naive_layer_grads(x: &Matrix, w: &Matrix, b: &Matrix, t: &Matrix) -> (Matrix, Matrix) {
    let z = naive_matmul(x, w);
    let (m, n) = (z.rows(), z.cols());
    let count = (m * n) as f64;
    let delta = Matrix::from_fn(m, n, |i, j| {
        let y = (z[(i, j)] + b[(0, j)]).max(0.0);
        if y > 0.0 {
            2.0 * (y - t[(i, j)]) / count
        } else {
            0.0
        }
    });
    let dw = naive_matmul(&transpose(x), &delta);
    let db = Matrix::from_fn(1, n, |_, j| (0..m).map(|i| delta[(i, j)]).sum());
    (dw, db)
}

/// Four SGD steps of a relu layer on one reset tape, the weights compared after each step with
/// the same steps done naively.
fn training_steps(rng: &mut StdRng) {
    let mut tape = Tape::new();
    for &(m, k, n) in &SHAPES[..4] {
        let (x, t) = (random(rng, m, k), random(rng, m, n));
        let mut w = random(rng, k, n);
        let mut b = random(rng, 1, n);
        let (mut w_ref, mut b_ref) = (w.clone(), b.clone());
        let lr = 0.5;
        for step in 0..4 {
            tape.reset();
            let (wv, bv) = (tape.param(&w), tape.param(&b));
            let y = tape.input(&x).linear_act(wv, bv, Activation::Relu);
            let grads = tape.backward(y.mse(tape.input(&t)));
            for (w, g) in w.as_mut_slice().iter_mut().zip(grads.wrt(wv).iter()) {
                *w -= lr * g;
            }
            for (b, g) in b.as_mut_slice().iter_mut().zip(grads.wrt(bv).iter()) {
                *b -= lr * g;
            }
            let (dw, db) = naive_layer_grads(&x, &w_ref, &b_ref, &t);
            for (w, g) in w_ref.as_mut_slice().iter_mut().zip(dw.as_slice()) {
                *w -= lr * g;
            }
            for (b, g) in b_ref.as_mut_slice().iter_mut().zip(db.as_slice()) {
                *b -= lr * g;
            }
            let e =
                worst(w.as_slice(), w_ref.as_slice()).max(worst(b.as_slice(), b_ref.as_slice()));
            assert!(
                e < TOL,
                "relu layer {m}x{k}x{n}, after step {step}: off by {e}"
            );
        }
    }
}

#[test]
fn a_relu_layer_trained_on_a_reset_tape_follows_the_naive_steps() {
    training_steps(&mut StdRng::seed_from_u64(3));
    with_packed_everywhere(|| training_steps(&mut StdRng::seed_from_u64(4)));
}

/// Four SGD steps of a 2-layer network by the hand path, reusing one workspace across networks
/// of several shapes, against the same steps done naively.
fn hand_steps(rng: &mut StdRng) {
    let mut ws = Workspace::new();
    for &(batch, inputs, hidden) in &SHAPES[..4] {
        let sizes = [inputs, hidden, 1];
        let acts = [Activation::Relu, Activation::Identity];
        let mut mlp = Mlp::new(&sizes, &acts, true, Init::Xavier, rng.random());
        let (x, t) = (random(rng, batch, inputs), random(rng, batch, 1));
        let mut reference = mlp.clone();
        let lr = 0.1;
        for step in 0..4 {
            hand::train_step(
                &mut mlp,
                x.as_slice(),
                t.as_slice(),
                batch,
                Loss::Mse,
                lr,
                &mut ws,
            );
            naive_mlp_step(&mut reference, &x, &t, lr);
            for (l, (got, want)) in mlp.layers.iter().zip(&reference.layers).enumerate() {
                let e = worst(got.weight.as_slice(), want.weight.as_slice());
                assert!(
                    e < TOL,
                    "hand path {sizes:?} batch {batch}, layer {l} after step {step}: off by {e}"
                );
            }
        }
    }
}

/// One full-batch SGD step of a relu-then-identity network with MSE, by the δ formulas in loops.
fn naive_mlp_step(mlp: &mut Mlp, x: &Matrix, t: &Matrix, lr: f64) {
    let (l1, l2) = (&mlp.layers[0], &mlp.layers[1]);
    let (b1, b2) = (l1.bias.as_ref().unwrap(), l2.bias.as_ref().unwrap());
    let z1 = naive_matmul(x, &l1.weight);
    let a1 = Matrix::from_fn(z1.rows(), z1.cols(), |i, j| {
        (z1[(i, j)] + b1[(0, j)]).max(0.0)
    });
    let z2 = naive_matmul(&a1, &l2.weight);
    let m = x.rows();
    let d2 = Matrix::from_fn(m, 1, |i, _| {
        2.0 * (z2[(i, 0)] + b2[(0, 0)] - t[(i, 0)]) / m as f64
    });
    let back = naive_matmul(&d2, &transpose(&l2.weight));
    let d1 = Matrix::from_fn(m, a1.cols(), |i, j| {
        if a1[(i, j)] > 0.0 {
            back[(i, j)]
        } else {
            0.0
        }
    });
    let updates = [
        (naive_matmul(&transpose(x), &d1), d1),
        (naive_matmul(&transpose(&a1), &d2), d2),
    ];
    for (layer, (dw, delta)) in mlp.layers.iter_mut().zip(updates) {
        for (w, g) in layer.weight.as_mut_slice().iter_mut().zip(dw.as_slice()) {
            *w -= lr * g;
        }
        let bias = layer.bias.as_mut().unwrap();
        for j in 0..bias.cols() {
            bias[(0, j)] -= lr * (0..m).map(|i| delta[(i, j)]).sum::<f64>();
        }
    }
}

#[test]
fn the_hand_paths_reused_workspace_follows_the_naive_steps() {
    hand_steps(&mut StdRng::seed_from_u64(5));
    with_packed_everywhere(|| hand_steps(&mut StdRng::seed_from_u64(6)));
}

/// One op applied to `(a, b, w, bias, t)`: `a`, `b` m×n params, `w` n×k param, `bias` 1×n
/// param, `t` an m×n input in (0, 1).
type OpCase = (
    &'static str,
    for<'t> fn(
        chainrule::Var<'t>,
        chainrule::Var<'t>,
        chainrule::Var<'t>,
        chainrule::Var<'t>,
        chainrule::Var<'t>,
    ) -> chainrule::Var<'t>,
);

/// Every op, each reduced to a scalar by a non-uniform weighting so every entry's gradient
/// differs.
const EVERY_OP: [OpCase; 29] = [
    ("add", |a, b, _, _, _| a + b),
    ("sub", |a, b, _, _, _| a - b),
    ("mul", |a, b, _, _, _| a * b),
    ("div", |a, b, _, _, _| a / (b.square() + 1.0)),
    ("scale", |a, _, _, _, _| a.scale(-1.5)),
    ("add_scalar", |a, _, _, _, _| a.add_scalar(0.25)),
    ("neg", |a, _, _, _, _| -a),
    ("matmul", |a, _, w, _, _| a.matmul(w)),
    ("linear", |a, _, w, _, _| {
        let bias = a.tape().param(&Matrix::filled(1, w.shape().1, 0.1));
        a.linear(w, bias)
    }),
    ("linear_sigmoid", |a, _, w, _, _| {
        let bias = a.tape().param(&Matrix::filled(1, w.shape().1, 0.1));
        a.linear_act(w, bias, Activation::Sigmoid)
    }),
    ("linear_relu", |a, _, w, _, _| {
        let bias = a.tape().param(&Matrix::filled(1, w.shape().1, 0.1));
        a.linear_act(w, bias, Activation::Relu)
    }),
    ("linear_tanh", |a, _, w, _, _| {
        let bias = a.tape().param(&Matrix::filled(1, w.shape().1, 0.1));
        a.linear_act(w, bias, Activation::Tanh)
    }),
    ("transpose", |a, _, _, _, _| a.t()),
    ("add_row", |a, _, _, bias, _| a.add_row(bias)),
    ("sum", |a, _, _, _, _| a.sum()),
    ("row_sums", |a, _, _, _, _| a.row_sums()),
    ("col_sums", |a, _, _, _, _| a.col_sums()),
    ("mean", |a, _, _, _, _| a.mean()),
    ("row_means", |a, _, _, _, _| a.row_means()),
    ("col_means", |a, _, _, _, _| a.col_means()),
    ("exp", |a, _, _, _, _| a.exp()),
    ("log", |a, _, _, _, _| a.square().add_scalar(0.5).log()),
    ("powf", |a, _, _, _, _| a.square().add_scalar(0.5).powf(1.5)),
    ("sigmoid", |a, _, _, _, _| a.sigmoid()),
    ("relu", |a, _, _, _, _| a.relu()),
    ("tanh", |a, _, _, _, _| a.tanh()),
    ("mse", |a, _, _, _, t| a.mse(t)),
    ("sse", |a, _, _, _, t| a.sse(t)),
    ("bce", |a, _, _, _, t| a.sigmoid().bce(t)),
];

/// Records `case` on `tape` and sweeps: every value and gradient of the recorded nodes.
fn values_and_grads(tape: &Tape, case: &OpCase, m: usize, n: usize) -> Vec<(Matrix, Matrix)> {
    let at = |i: usize, j: usize, s: f64| ((i * 7 + j * 3) as f64 * s).sin();
    let a = tape.param(&Matrix::from_fn(m, n, |i, j| at(i, j, 0.37)));
    let b = tape.param(&Matrix::from_fn(m, n, |i, j| at(i, j, 0.11)));
    let w = tape.param(&Matrix::from_fn(n, 3, |i, j| at(i, j, 0.53)));
    let bias = tape.param(&Matrix::from_fn(1, n, |i, j| at(i, j, 0.71)));
    let t = tape.input(&Matrix::from_fn(m, n, |i, j| 0.5 + 0.4 * at(i, j, 0.29)));
    let y = (case.1)(a, b, w, bias, t);
    let (rows, cols) = y.shape();
    let weights = tape.input(&Matrix::from_fn(rows, cols, |i, j| 1.0 + at(i, j, 0.91)));
    let loss = (y * weights).sum();
    let grads = tape.backward(loss);
    tape.vars()
        .map(|v| (v.value(), grads.wrt(v).to_matrix()))
        .collect()
}

#[test]
fn every_op_overwrites_stale_values_and_gradients_completely() {
    // Fill the tape's value and gradient buffers with NaN (a step whose every value and
    // gradient is NaN), reset, and record each op: any entry of a value or a gradient its
    // kernel or rule does not write reads NaN, and differs from the same op on a new tape.
    // Sizes on both sides of the two-thread threshold.
    for (m, n) in [(3, 4), (200, 200)] {
        for case in &EVERY_OP {
            let mut stale = Tape::new();
            let nan = stale.param(&Matrix::filled(4 * m, 4 * n, f64::NAN));
            let _ = stale.backward_with(nan, &Matrix::filled(4 * m, 4 * n, f64::NAN));
            stale.reset();
            let got = values_and_grads(&stale, case, m, n);
            let want = values_and_grads(&Tape::new(), case, m, n);
            for (node, (got, want)) in got.iter().zip(&want).enumerate() {
                assert_eq!(got.0, want.0, "{} {m}x{n}: value of node {node}", case.0);
                assert_eq!(got.1, want.1, "{} {m}x{n}: gradient of node {node}", case.0);
                assert!(
                    got.1.as_slice().iter().all(|g| g.is_finite()),
                    "{} {m}x{n}: gradient of node {node}",
                    case.0
                );
            }
        }
    }
}
