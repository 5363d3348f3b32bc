//! The hand-derived path against the tape: equal gradients on random networks, equal weights
//! after 1000 SGD steps, and the hand path on its own against finite differences.
//!
//! Equality is checked **exactly** (`==`), not within a tolerance: both paths call the same GEMM
//! and multiply in the same order in every formula, so floating point rounds them identically.
//! Should a change break that (say, a fused kernel that sums in another order), these tests fail
//! and say which network, and the comparison would then need the 1e-12 relative tolerance the
//! issue allows.

mod common;

use chainrule::data;
use chainrule::hand::{self, Workspace};
use chainrule::kernels::{SMALL_GEMM, THIN_K};
use chainrule::loss::Loss;
use chainrule::nn::{Activation, Init, Mlp};
use chainrule::optim::Sgd;
use chainrule::{Matrix, Tape};
use common::{rng, uniform};
use rand::rngs::StdRng;
use rand::RngExt;

const ACTIVATIONS: [Activation; 4] = [
    Activation::Sigmoid,
    Activation::Relu,
    Activation::Tanh,
    Activation::Identity,
];

/// A random network (2–4 layers, widths 1–8, or 16–40 when `wide`, any activations, bias or not)
/// with a loss that fits its output: BCE only behind a sigmoid, so its predictions are
/// probabilities. Wide networks push products past `kernels::SMALL_GEMM` into the packed GEMM kernel.
fn random_network(rng: &mut StdRng, seed: u64, wide: bool) -> (Mlp, Loss) {
    let layers = rng.random_range(2..=4);
    let widths = if wide { 16..=40 } else { 1..=8 };
    let sizes: Vec<usize> = (0..=layers)
        .map(|_| rng.random_range(widths.clone()))
        .collect();
    let acts: Vec<Activation> = (0..layers)
        .map(|_| ACTIVATIONS[rng.random_range(0..4)])
        .collect();
    let bias = rng.random_range(0..2) == 1;
    let init = [Init::Uniform, Init::StandardNormal, Init::Xavier][rng.random_range(0..3)];
    let loss = match (acts[layers - 1], rng.random_range(0..3)) {
        (Activation::Sigmoid, 2) => Loss::Bce,
        (_, 1) => Loss::Sse,
        _ => Loss::Mse,
    };
    (Mlp::new(&sizes, &acts, bias, init, seed), loss)
}

/// Loss and gradients (W₁, b₁, W₂, …) by the tape.
fn tape_gradients(mlp: &Mlp, x: &Matrix, y: &Matrix, loss: Loss) -> (f64, Vec<Matrix>) {
    let tape = Tape::new();
    let net = mlp.bind(&tape);
    let value = loss.apply(net.forward(tape.input(x)), tape.input(y));
    let grads = tape.backward(value);
    (
        value.item(),
        net.params()
            .iter()
            .map(|&v| grads.wrt(v).to_matrix())
            .collect(),
    )
}

/// Loss and gradients in the same order by the hand path.
fn hand_gradients(mlp: &Mlp, x: &Matrix, y: &Matrix, loss: Loss) -> (f64, Vec<Matrix>) {
    let mut ws = Workspace::new();
    hand::forward(mlp, x.as_slice(), x.rows(), &mut ws);
    let value = hand::backward(mlp, x.as_slice(), y.as_slice(), loss, &mut ws);
    let mut grads = Vec::new();
    for (l, layer) in mlp.layers.iter().enumerate() {
        let (r, c) = layer.weight.shape();
        grads.push(Matrix::new(r, c, ws.grad_weight(l).to_vec()));
        if layer.bias.is_some() {
            grads.push(Matrix::new(1, c, ws.grad_bias(l).to_vec()));
        }
    }
    (value, grads)
}

#[test]
fn tape_gradients_equal_hand_gradients_exactly_on_50_random_networks() {
    let mut losses_seen = [0; 3];
    let mut gemm_products = 0;
    for seed in 0..50 {
        let rng = &mut rng(1000 + seed);
        // Every fifth network is wide, with products through the packed GEMM kernel.
        let (mlp, loss) = random_network(rng, seed, seed % 5 == 0);
        let batch = rng.random_range(1..=64);
        let inputs = mlp.sizes()[0];
        let outputs = *mlp.sizes().last().unwrap();
        let x = uniform(rng, batch, inputs, -2.0, 2.0);
        let y = Matrix::from_fn(batch, outputs, |_, _| f64::from(rng.random_range(0..2)));
        let (tape_loss, tape) = tape_gradients(&mlp, &x, &y, loss);
        let (hand_loss, hand) = hand_gradients(&mlp, &x, &y, loss);
        let what = format!(
            "seed {seed}: sizes {:?}, {loss:?}, batch {batch}",
            mlp.sizes()
        );
        assert_eq!(tape_loss, hand_loss, "loss, {what}");
        assert_eq!(tape.len(), hand.len(), "{what}");
        for (i, (t, h)) in tape.iter().zip(&hand).enumerate() {
            assert!(
                t == h,
                "parameter {i}, {what}: max difference {:e}",
                t.max_abs_diff(h)
            );
        }
        losses_seen[loss as usize] += 1;
        let sizes = mlp.sizes();
        gemm_products += sizes
            .windows(2)
            .filter(|w| batch * w[0] * w[1] > SMALL_GEMM && w[0] > THIN_K)
            .count();
    }
    assert!(
        gemm_products > 0,
        "no product reached the packed GEMM kernel"
    );
    // The random draw covered every loss.
    assert!(losses_seen.iter().all(|&n| n > 0), "{losses_seen:?}");
}

#[test]
fn a_thousand_sgd_steps_end_at_the_same_weights() {
    // Per-sample SGD on the lab's linear data, 2-4-4-1, sigmoid, MSE, lr 0.5: 10 epochs of 100.
    let data = data::linear(100, 7);
    let start = Mlp::new(
        &[2, 4, 4, 1],
        &[Activation::Sigmoid; 3],
        true,
        Init::Uniform,
        3,
    );
    let (mut by_tape, mut by_hand) = (start.clone(), start.clone());
    let sgd = Sgd::new(0.5);
    let mut tape = Tape::new();
    let mut ws = Workspace::new();
    for step in 0..1000 {
        let i = step % data.len();
        let (x, y) = (data.x.row(i), data.y.row(i));
        tape.reset();
        let net = by_tape.bind(&tape);
        let loss = net
            .forward(tape.input_slice(1, 2, x))
            .mse(tape.input_slice(1, 1, y));
        let grads = tape.backward(loss);
        sgd.step(&mut by_tape, &net, &grads);
        hand::train_step(&mut by_hand, x, y, 1, Loss::Mse, 0.5, &mut ws);
    }
    assert_ne!(by_tape, start, "training moved the weights");
    assert_eq!(by_tape, by_hand);
}

#[test]
fn hand_gradients_match_finite_differences() {
    // An independent check of the hand path (not through the tape): central differences of the
    // hand forward pass's loss. Tolerance 1e-6 on |error| / max(1, |g|), as in tests/ops.rs.
    for seed in 0..10 {
        let rng = &mut rng(500 + seed);
        let (mlp, loss) = random_network(rng, seed, false);
        let batch = rng.random_range(1..=8);
        let x = uniform(rng, batch, mlp.sizes()[0], -2.0, 2.0);
        let outputs = *mlp.sizes().last().unwrap();
        let y = Matrix::from_fn(batch, outputs, |_, _| f64::from(rng.random_range(0..2)));
        let (_, grads) = hand_gradients(&mlp, &x, &y, loss);
        let loss_at = |m: &Mlp| hand_gradients(m, &x, &y, loss).0;
        let mut probe = mlp.clone();
        for (p, grad) in grads.iter().enumerate() {
            for j in 0..grad.len() {
                let original = probe.params().nth(p).unwrap().as_slice()[j];
                let eps = 1e-6;
                probe.params_mut().nth(p).unwrap().as_mut_slice()[j] = original + eps;
                let above = loss_at(&probe);
                probe.params_mut().nth(p).unwrap().as_mut_slice()[j] = original - eps;
                let below = loss_at(&probe);
                probe.params_mut().nth(p).unwrap().as_mut_slice()[j] = original;
                let numeric = (above - below) / (2.0 * eps);
                let analytic = grad.as_slice()[j];
                let error = (analytic - numeric).abs() / 1f64.max(analytic.abs());
                assert!(
                    error < 1e-6,
                    "seed {seed}, parameter {p}, entry {j}: hand {analytic}, numeric {numeric}"
                );
            }
        }
    }
}
