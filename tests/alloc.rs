//! The arena's promise: after the first training step, recording and differentiating a step of
//! the same shape performs no heap allocation. A counting global allocator proves it.
//!
//! The allocator counts the whole process, so this file runs without the test harness
//! (`harness = false` in `Cargo.toml`): `main` runs the checks on the main thread, and no other
//! thread but the crate's own worker exists to allocate. (Under libtest, the harness's main
//! thread printed the test's name while the test ran, now and then inside a counted epoch.)

use chainrule::{Matrix, Tape};

#[path = "../benches/common/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations;

#[path = "../benches/common/workloads.rs"]
mod workloads;

use chainrule::data;
use chainrule::hand::Workspace;
use chainrule::kernels::packed_available;
use chainrule::loss::Loss;
use chainrule::nn::{Activation, Init, Mlp};
use chainrule::optim::{Adam, Momentum, Optimizer, Sgd};
use chainrule::train::{Measure, Trainer};

/// The lab's 2-4-4-1 network with bias, sigmoid everywhere.
struct Net {
    layers: Vec<(Matrix, Matrix)>,
}

/// One per-sample SGD step: record the parameters, forward, MSE, backward, update. Returns the loss.
fn step(tape: &mut Tape, net: &mut Net, x: &[f64], y: f64, lr: f64) -> f64 {
    tape.reset();
    let tape: &Tape = tape;
    let mut params = [(tape.scalar(0.0), tape.scalar(0.0)); 3];
    let mut a = tape.input_slice(1, 2, x);
    for (param, (w, b)) in params.iter_mut().zip(&net.layers) {
        *param = (tape.param(w), tape.param(b));
        a = (a.matmul(param.0) + param.1).sigmoid();
    }
    let loss = a.mse(tape.input_slice(1, 1, &[y]));
    let grads = tape.backward(loss);
    for ((w_var, b_var), (w, b)) in params.iter().zip(&mut net.layers) {
        for (w, g) in w.as_mut_slice().iter_mut().zip(grads.wrt(*w_var).iter()) {
            *w -= lr * g;
        }
        for (b, g) in b.as_mut_slice().iter_mut().zip(grads.wrt(*b_var).iter()) {
            *b -= lr * g;
        }
    }
    loss.item()
}

fn main() {
    a_training_step_allocates_nothing_after_the_first();
    println!("alloc: every step after the first allocated nothing");
}

fn a_training_step_allocates_nothing_after_the_first() {
    // The counter counts: a Vec must register.
    let before = allocations();
    let v: Vec<u64> = Vec::with_capacity(3);
    assert!(allocations() > before);
    drop(v);

    let init = |r, c, k: f64| Matrix::from_fn(r, c, |i, j| ((i * c + j) as f64 + k).sin() * 0.5);
    let mut net = Net {
        layers: vec![
            (init(2, 4, 0.1), init(1, 4, 0.2)),
            (init(4, 4, 0.3), init(1, 4, 0.4)),
            (init(4, 1, 0.5), init(1, 1, 0.6)),
        ],
    };
    let data = [
        ([0.1, 0.9], 1.0),
        ([0.8, 0.3], 0.0),
        ([0.5, 0.6], 1.0),
        ([0.7, 0.2], 0.0),
    ];
    let mut tape = Tape::new();

    let first_loss = step(&mut tape, &mut net, &data[0].0, data[0].1, 0.5); // warm-up: buffers grow here
    let before = allocations();
    let mut last_loss = 0.0;
    for epoch in 0..50 {
        for (x, y) in &data {
            last_loss = step(&mut tape, &mut net, x, *y, 0.5);
        }
        assert_eq!(allocations(), before, "allocations during epoch {epoch}");
    }
    // The steps did real work: the loss moved.
    assert!(first_loss.is_finite() && last_loss.is_finite() && last_loss != first_loss);

    training_loop_epochs_allocate_nothing_after_the_warm_up();
    replayed_steps_allocate_nothing();
    multi_class_steps_allocate_nothing_after_the_first();

    // A batched network large enough for the packed GEMM kernel on two threads, the streaming
    // loops and the two-thread elementwise passes (a smaller W2): tape and hand path alike.
    if !packed_available() {
        eprintln!(
            "batched part skipped: no AVX-512F, so GEMMs go to matrixmultiply, which allocates"
        );
        return;
    }
    let batch = 512;
    let d = data::circle(batch, 7);
    let (x, y) = (d.x.as_slice(), d.y.as_slice());
    let acts = [Activation::Relu, Activation::Relu, Activation::Sigmoid];
    let mut tape_net = Mlp::new(&[2, 64, 64, 1], &acts, true, Init::Xavier, 7);
    let mut hand_net = tape_net.clone();
    let mut ws = Workspace::new();
    let first_tape = workloads::tape_step(&mut tape, &mut tape_net, x, y, batch, 0.5);
    let first_hand = workloads::hand_step(&mut ws, &mut hand_net, x, y, batch, 0.5);
    let before = allocations();
    let (mut last_tape, mut last_hand) = (0.0, 0.0);
    for step in 0..10 {
        last_tape = workloads::tape_step(&mut tape, &mut tape_net, x, y, batch, 0.5);
        last_hand = workloads::hand_step(&mut ws, &mut hand_net, x, y, batch, 0.5);
        assert_eq!(
            allocations(),
            before,
            "allocations during batched step {step}"
        );
    }
    assert!(last_tape != first_tape && last_hand != first_hand);
    assert_eq!(last_tape, last_hand, "the two paths are bitwise equal");
}

/// The training loop (`train::Trainer`) with each optimizer: one warm-up epoch (its first step
/// sizes the tape and the optimizer's state, its evaluation the evaluation tape), then 11 epochs
/// that must allocate nothing at all: steps, the evaluation after each epoch, the history entry
/// (reserved up front) and the per-epoch callback. The count is read at the end of each epoch,
/// from the callback.
fn training_loop_epochs_allocate_nothing_after_the_warm_up() {
    let data = data::linear(100, 1);
    type Run = (Box<dyn Optimizer>, usize, Option<u64>, Measure);
    let runs: [Run; 5] = [
        (Box::new(Sgd::new(0.5)), 1, None, Measure::DuringEpoch),
        (Box::new(Momentum::new(0.1)), 1, None, Measure::DuringEpoch),
        (Box::new(Adam::new(0.01)), 1, None, Measure::DuringEpoch),
        // the evaluation pass after every epoch
        (Box::new(Sgd::new(0.5)), 1, None, Measure::AfterEpoch),
        // mini-batches gathered from a shuffled order, the last one shorter (100 = 14·7 + 2)
        (Box::new(Adam::new(0.01)), 7, Some(3), Measure::AfterEpoch),
    ];
    for (mut optimizer, batch, shuffle, measure) in runs {
        let mut mlp = Mlp::new(
            &[2, 4, 4, 1],
            &[Activation::Sigmoid; 3],
            true,
            Init::Uniform,
            1,
        );
        let start = mlp.clone();
        let mut counts: Vec<usize> = Vec::with_capacity(16);
        let mut trainer = Trainer::new(Loss::Mse)
            .epochs(12)
            .batch_size(batch)
            .measure(measure)
            .on_epoch(|_| counts.push(allocations()));
        if let Some(seed) = shuffle {
            trainer = trainer.shuffle(seed);
        }
        let history = trainer.run(&mut mlp, optimizer.as_mut(), &data).unwrap();
        drop(trainer);
        let name = optimizer.name();
        assert_eq!(counts.len(), 12, "{name}");
        let after_warm_up = counts[0];
        for (epoch, &count) in counts.iter().enumerate().skip(1) {
            assert_eq!(
                count - after_warm_up,
                0,
                "{name}, batch {batch}, {measure:?}: allocations by the end of epoch {}",
                epoch + 1
            );
        }
        // The epochs trained: the weights and the loss moved.
        assert_ne!(mlp, start, "{name}");
        let losses: Vec<f64> = history.epochs.iter().map(|e| e.loss).collect();
        assert!(losses[11] < losses[0], "{name}: {losses:?}");
    }
}

/// A replayed step (`Tape::replay`) of the lab's network with each optimizer updating the
/// parameters on the tape: after the first step (the sweep sizes the gradient buffer, the
/// optimizer its state), writing the sample, the forward pass, the sweep and the update allocate
/// nothing.
fn replayed_steps_allocate_nothing() {
    let data = data::linear(100, 1);
    let optimizers: [Box<dyn Optimizer>; 3] = [
        Box::new(Sgd::new(0.5)),
        Box::new(Momentum::new(0.1)),
        Box::new(Adam::new(0.01)),
    ];
    for mut opt in optimizers {
        let mlp = Mlp::new(
            &[2, 4, 4, 1],
            &[Activation::Sigmoid; 3],
            true,
            Init::Uniform,
            1,
        );
        let tape = Tape::new();
        let net = mlp.bind(&tape);
        let x = tape.input_slice(1, 2, data.x.row(0));
        let y = tape.input_slice(1, 1, data.y.row(0));
        let out = net.forward(x).mse(y);
        let replay = tape.replay(out);
        let mut step = |i: usize| {
            replay.set(x, data.x.row(i)).unwrap();
            replay.set(y, data.y.row(i)).unwrap();
            replay.run().unwrap();
            opt.step_on_tape(&replay, net.params()).unwrap();
            out.item()
        };
        let first = step(0);
        let before = allocations();
        let mut last = first;
        for epoch in 0..5 {
            for i in 0..data.len() {
                last = step(i);
            }
            assert_eq!(allocations(), before, "replayed epoch {epoch}");
        }
        assert!(last.is_finite() && last != first);
    }
}

/// `y = x²` as a user op, to count what recording and differentiating a `CustomOp` allocates.
struct UserSquare;

impl chainrule::ops::CustomOp for UserSquare {
    fn name(&self) -> &str {
        "user_square"
    }
    fn output_shape(&self, inputs: &[(usize, usize)]) -> Result<(usize, usize), String> {
        Ok(inputs[0])
    }
    fn forward(&self, inputs: &[chainrule::ops::MatView<'_>], out: &mut [f64]) {
        for (y, x) in out.iter_mut().zip(inputs[0].as_slice()) {
            *y = x * x;
        }
    }
    fn backward(
        &self,
        inputs: &[chainrule::ops::MatView<'_>],
        _output: chainrule::ops::MatView<'_>,
        upstream: chainrule::ops::MatView<'_>,
        grads: &mut [&mut [f64]],
    ) {
        let (x, g) = (inputs[0].as_slice(), upstream.as_slice());
        for ((dx, x), g) in grads[0].iter_mut().zip(x).zip(g) {
            *dx += 2.0 * g * x;
        }
    }
}

/// A multi-class step that broadcasts (a column, a scalar, a column divisor), takes a softmax,
/// a cross-entropy and a user op: after the first step, no allocation.
fn multi_class_steps_allocate_nothing_after_the_first() {
    use std::sync::Arc;
    let x = Matrix::from_fn(6, 2, |i, j| ((i * 2 + j) as f64).sin());
    let labels = Matrix::from_fn(6, 1, |i, _| (i % 3) as f64);
    let mut w = Matrix::from_fn(2, 3, |i, j| ((i * 3 + j) as f64 + 0.5).cos());
    let user: Arc<dyn chainrule::ops::CustomOp> = Arc::new(UserSquare);
    let mut tape = Tape::new();
    let step = |tape: &mut Tape, w: &mut Matrix| {
        tape.reset();
        let t: &Tape = tape;
        let wv = t.param(w);
        let logits = t.input(&x).matmul(wv) * t.constant(0.5);
        let shifted = logits - logits.row_max();
        let e = shifted.exp();
        let p = e / e.row_sums();
        let loss = logits.cross_entropy(t.input(&labels))
            + (p.custom(&user, &[]).mean() - logits.softmax().log_softmax().sum() * 0.0);
        let grads = t.backward(loss);
        for (w, g) in w.as_mut_slice().iter_mut().zip(grads.wrt(wv).iter()) {
            *w -= 0.1 * g;
        }
        loss.item()
    };
    let first = step(&mut tape, &mut w);
    let before = allocations();
    let mut last = first;
    for k in 0..20 {
        last = step(&mut tape, &mut w);
        assert_eq!(
            allocations(),
            before,
            "allocations during multi-class step {k}"
        );
    }
    assert!(last < first, "the steps trained: {first} → {last}");
}
