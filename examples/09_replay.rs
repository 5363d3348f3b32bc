//! Record once, replay many: the lab's training step recorded on a tape once, then run again on
//! every sample (`Tape::replay`), against recording the step afresh each time.
//!
//! Both train the lab's 2-4-4-1 sigmoid network on `linear` by per-sample SGD for 300 epochs from
//! the same start. The replay writes each sample into the recorded input and target leaves,
//! re-runs the forward kernels in tape order and sweeps backward, and SGD updates the parameters
//! on the tape; nothing is recorded and nothing is allocated per step. The weights come out the
//! same to the bit; only the time differs.
//!
//! Run: `cargo run --release --example 09_replay`

use std::time::Instant;

use chainrule::data;
use chainrule::loss::Loss;
use chainrule::nn::{Activation, Init, Mlp};
use chainrule::optim::{Optimizer, Sgd};
use chainrule::train::{self, Trainer};
use chainrule::Tape;

const EPOCHS: usize = 300;
const LR: f64 = 0.5;

fn main() {
    let data = data::linear(100, 1);
    let start = Mlp::new(
        &[2, 4, 4, 1],
        &[Activation::Sigmoid; 3],
        true,
        Init::Uniform,
        1,
    );
    let steps = (EPOCHS * data.len()) as f64;

    // 1. Record every step: reset the tape, bind the weights, forward, loss, backward, update.
    let mut recorded = start.clone();
    let mut tape = Tape::new();
    let sgd = Sgd::new(LR);
    let clock = Instant::now();
    for _ in 0..EPOCHS {
        for i in 0..data.len() {
            tape.reset();
            let net = recorded.bind(&tape);
            let x = tape.input_slice(1, 2, data.x.row(i));
            let y = tape.input_slice(1, 1, data.y.row(i));
            let loss = net.forward(x).mse(y);
            let grads = tape.backward(loss);
            sgd.step(&mut recorded, &net, &grads);
        }
    }
    let recording = clock.elapsed().as_secs_f64();

    // 2. Record the step once, on the first sample, then replay it on every sample.
    let tape = Tape::new();
    let net = start.bind(&tape);
    let x = tape.input_slice(1, 2, data.x.row(0));
    let y = tape.input_slice(1, 1, data.y.row(0));
    let loss = net.forward(x).mse(y);
    println!(
        "recorded once: {} nodes ({} of them leaves the replay writes or the optimizer updates)",
        tape.len(),
        2 + net.params().len()
    );
    let replay = tape.replay(loss);
    let mut sgd = Sgd::new(LR);
    let clock = Instant::now();
    for _ in 0..EPOCHS {
        for i in 0..data.len() {
            replay.set(x, data.x.row(i)).expect("a 1x2 sample");
            replay.set(y, data.y.row(i)).expect("a 1x1 target");
            replay.run().expect("no anomaly mode here");
            sgd.step_on_tape(&replay, net.params())
                .expect("gradients of this step");
        }
    }
    let replaying = clock.elapsed().as_secs_f64();
    let mut replayed = start.clone();
    net.copy_into(&mut replayed);

    println!(
        "record every step: {:.3} µs a step",
        recording / steps * 1e6
    );
    println!(
        "replay:            {:.3} µs a step ({:.2}x faster)",
        replaying / steps * 1e6,
        recording / replaying
    );
    let same = recorded.params().zip(replayed.params()).all(|(a, b)| {
        a.as_slice()
            .iter()
            .zip(b.as_slice())
            .all(|(a, b)| a.to_bits() == b.to_bits())
    });
    println!(
        "the same weights to the bit: {}",
        if same { "yes" } else { "NO" }
    );
    assert!(same, "a replayed step must equal the step recorded afresh");
    println!(
        "accuracy after {EPOCHS} epochs: {:.0}%",
        100.0 * train::accuracy(&replayed, &data)
    );

    // 3. The training loop replays by itself; `record_every_step(true)` records instead.
    for record in [true, false] {
        let mut mlp = start.clone();
        let clock = Instant::now();
        Trainer::new(Loss::Mse)
            .epochs(EPOCHS)
            .record_every_step(record)
            .run(&mut mlp, &mut Sgd::new(LR), &data)
            .expect("sigmoids keep this finite");
        let how = if record { "recording" } else { "replaying" };
        println!(
            "Trainer, {how}: {:.3} µs a step, weights {} the ones above",
            clock.elapsed().as_secs_f64() / steps * 1e6,
            if mlp == replayed {
                "equal to"
            } else {
                "NOT equal to"
            }
        );
        assert_eq!(mlp, replayed);
    }
}
