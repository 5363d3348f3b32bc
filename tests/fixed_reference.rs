//! The benches' fixed-size reference (`benches/common/fixed.rs`) computes the same training as
//! the crate: its weights follow the hand path's and the tape's over several epochs of W1, and
//! its gradient matches central differences of the loss as the tape computes it.
//!
//! It sums some products in another order than the crate's kernels, so agreement is checked to
//! [`REL_TOL`] relative, not with `==`. A formula off by anything (a factor 2, the mean over the
//! outputs, the weights after the update used for δ) moves a gradient by far more than
//! finite differences' error, and the weights after one step by about lr times that.

#[path = "../benches/common/fixed.rs"]
mod fixed;
#[path = "../benches/common/workloads.rs"]
mod workloads;

use chainrule::data::Dataset;
use chainrule::hand::Workspace;
use chainrule::nn::{Activation, Init, Mlp};
use chainrule::{Matrix, Tape};
use fixed::{FixedMlp, W1Fixed};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use workloads::{hand_step, tape_step, w1, W1_LR};

/// Weights reached by different summation orders: each step rounds differently in the last bit
/// or two (about 1e-16 relative), and a few hundred steps of a contracting SGD keep the drift
/// far below this.
const REL_TOL: f64 = 1e-12;

/// Central-difference step and tolerance (absolute): with ε = 1e-6 on a loss of order 0.1–1 the
/// difference's truncation and rounding errors are near 1e-10, while the gradients checked here
/// are of order 1e-3 to 1e-1.
const EPS: f64 = 1e-6;
const FD_TOL: f64 = 1e-7;

/// The largest difference between two networks' parameters, relative to the largest magnitude
/// among `b`'s parameters of the same matrix.
fn rel_diff(a: &Mlp, b: &Mlp) -> f64 {
    a.params()
        .zip(b.params())
        .map(|(a, b)| {
            let scale = b.as_slice().iter().fold(0.0f64, |m, v| m.max(v.abs()));
            a.max_abs_diff(b) / scale.max(f64::MIN_POSITIVE)
        })
        .fold(0.0, f64::max)
}

/// The loss as the tape computes it (forward and `mse`), independent of `FixedMlp`.
fn tape_loss(mlp: &Mlp, x: &[f64], y: &[f64]) -> f64 {
    let tape = Tape::new();
    let net = mlp.bind(&tape);
    let (i, o) = (x.len(), y.len());
    net.forward(tape.input_slice(1, i, x))
        .mse(tape.input_slice(1, o, y))
        .item()
}

/// `epochs` epochs of per-sample SGD on `d` from `start` by the three paths, checking after every
/// epoch that their weights and each step's loss agree. Returns the final weights (hand path).
fn train_three_ways<const I: usize, const H1: usize, const H2: usize, const O: usize>(
    start: &Mlp,
    d: &Dataset,
    epochs: usize,
    lr: f64,
) -> Mlp {
    let mut fixed = FixedMlp::<I, H1, H2, O>::from_mlp(start);
    let samples = fixed::samples::<I, O>(d);
    let (mut hand, mut ws) = (start.clone(), Workspace::new());
    let (mut taped, mut tape) = (start.clone(), Tape::new());
    for epoch in 1..=epochs {
        for (s, (fixed_x, fixed_y)) in samples.iter().enumerate() {
            let (x, y) = (d.x.row(s), d.y.row(s));
            let fixed_loss = fixed.step(fixed_x, fixed_y, lr);
            let hand_loss = hand_step(&mut ws, &mut hand, x, y, 1, lr);
            let tape_loss = tape_step(&mut tape, &mut taped, x, y, 1, lr);
            for (path, loss) in [("hand", hand_loss), ("tape", tape_loss)] {
                assert!(
                    (fixed_loss - loss).abs() <= REL_TOL * loss.abs(),
                    "epoch {epoch}, sample {s}: fixed loss {fixed_loss:e}, {path} loss {loss:e}"
                );
            }
        }
        let fixed_mlp = fixed.to_mlp(start);
        for (path, mlp) in [("hand", &hand), ("tape", &taped)] {
            let diff = rel_diff(&fixed_mlp, mlp);
            assert!(
                diff <= REL_TOL,
                "after epoch {epoch}: fixed and {path} weights differ by {diff:e} relative"
            );
        }
    }
    hand
}

#[test]
fn fixed_reference_follows_hand_path_and_tape_over_w1_epochs() {
    let (d, start) = w1();
    let end = train_three_ways::<2, 4, 4, 1>(&start, &d, 5, W1_LR);
    // W1Fixed's epoch is the same steps.
    let mut by_epochs = W1Fixed::from_mlp(&start);
    let samples = fixed::samples(&d);
    for _ in 0..5 {
        by_epochs.epoch(&samples, W1_LR);
    }
    let diff = rel_diff(&by_epochs.to_mlp(&start), &end);
    assert!(
        diff <= REL_TOL,
        "W1Fixed::epoch ends {diff:e} from the hand path"
    );
    // The comparison is not vacuous: 500 steps move the weights by far more than the tolerance.
    let moved = rel_diff(&end, &start);
    assert!(
        moved > 1e-3,
        "W1's weights moved only {moved:e} relative in 5 epochs"
    );
}

/// A network with two outputs, where the MSE's mean over the outputs matters (W1 has one).
fn two_output_case() -> (Mlp, Dataset) {
    let start = Mlp::new(
        &[3, 5, 4, 2],
        &[Activation::Sigmoid; 3],
        true,
        Init::Uniform,
        7,
    );
    let mut rng = StdRng::seed_from_u64(7);
    let x = Matrix::from_fn(40, 3, |_, _| rng.random_range(-1.0..1.0));
    let y = Matrix::from_fn(40, 2, |_, _| rng.random_range(0.0..1.0));
    (start, Dataset { x, y })
}

#[test]
fn fixed_reference_follows_hand_path_and_tape_with_two_outputs() {
    let (start, d) = two_output_case();
    let end = train_three_ways::<3, 5, 4, 2>(&start, &d, 5, 0.5);
    let moved = rel_diff(&end, &start);
    assert!(
        moved > 1e-3,
        "the weights moved only {moved:e} relative in 5 epochs"
    );
}

/// Checks `FixedMlp`'s loss and every entry of its gradient at `mlp` on one sample against the
/// tape's loss and its central differences.
fn check_against_finite_differences<
    const I: usize,
    const H1: usize,
    const H2: usize,
    const O: usize,
>(
    mlp: &Mlp,
    x: &[f64],
    y: &[f64],
) {
    let fixed = FixedMlp::<I, H1, H2, O>::from_mlp(mlp);
    let (loss, grad) = fixed.loss_and_grad(x.try_into().unwrap(), y.try_into().unwrap());
    let expected = tape_loss(mlp, x, y);
    assert!(
        (loss - expected).abs() <= REL_TOL * expected.abs(),
        "loss {loss:e}, tape's {expected:e}"
    );
    // The gradient in the order of `Mlp::params`: W₁, b₁, W₂, b₂, W₃, b₃.
    let grads: [&[f64]; 6] = [
        grad.w1.as_flattened(),
        &grad.b1,
        grad.w2.as_flattened(),
        &grad.b2,
        grad.w3.as_flattened(),
        &grad.b3,
    ];
    let mut nudged = mlp.clone();
    let mut largest: f64 = 0.0;
    for (p, g) in grads.iter().enumerate() {
        for (k, &g) in g.iter().enumerate() {
            let at = |delta: f64, nudged: &mut Mlp| {
                let param = nudged.params_mut().nth(p).expect("six parameters");
                param.as_mut_slice()[k] = mlp.params().nth(p).unwrap().as_slice()[k] + delta;
                tape_loss(nudged, x, y)
            };
            let numeric = (at(EPS, &mut nudged) - at(-EPS, &mut nudged)) / (2.0 * EPS);
            at(0.0, &mut nudged);
            assert!(
                (g - numeric).abs() <= FD_TOL,
                "parameter {p}, entry {k}: gradient {g:e}, central difference {numeric:e}"
            );
            largest = largest.max(g.abs());
        }
    }
    // Not vacuous: some gradient is well above the tolerance.
    assert!(largest > 1e3 * FD_TOL, "largest gradient only {largest:e}");
}

#[test]
fn fixed_gradient_matches_finite_differences_on_w1() {
    let (d, start) = w1();
    // At the start and after two epochs of training (other weights, other activations).
    let (mut tape, mut later) = (Tape::new(), start.clone());
    for _ in 0..2 {
        workloads::w1_tape_epoch(&mut tape, &mut later, &d);
    }
    assert_ne!(later, start, "two epochs changed the weights");
    for mlp in [&start, &later] {
        for s in [0, 17, 58] {
            check_against_finite_differences::<2, 4, 4, 1>(mlp, d.x.row(s), d.y.row(s));
        }
    }
}

#[test]
fn fixed_gradient_matches_finite_differences_with_two_outputs() {
    let (start, d) = two_output_case();
    for s in [0, 11, 39] {
        check_against_finite_differences::<3, 5, 4, 2>(&start, d.x.row(s), d.y.row(s));
    }
}

#[test]
fn fixed_reference_round_trips_an_mlp_exactly() {
    let (_, start) = w1();
    assert_eq!(
        FixedMlp::<2, 4, 4, 1>::from_mlp(&start).to_mlp(&start),
        start
    );
}

#[test]
#[should_panic(
    expected = "FixedMlp::<2, 4, 3, 1>::from_mlp: the Mlp's layer sizes are [2, 4, 4, 1]"
)]
fn fixed_reference_refuses_an_mlp_of_other_sizes() {
    let (_, start) = w1();
    FixedMlp::<2, 4, 3, 1>::from_mlp(&start);
}

#[test]
#[should_panic(expected = "layer 2 must have a bias and a sigmoid, it has a bias and relu")]
fn fixed_reference_refuses_other_activations() {
    let acts = [Activation::Sigmoid, Activation::Relu, Activation::Sigmoid];
    let mlp = Mlp::new(&[2, 4, 4, 1], &acts, true, Init::Uniform, 1);
    FixedMlp::<2, 4, 4, 1>::from_mlp(&mlp);
}
