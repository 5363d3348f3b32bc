//! The tutorial's four-point XOR: (0,0)→0, (0,1)→1, (1,0)→1, (1,1)→0, the smallest problem one
//! neuron cannot solve (no line separates the 1s from the 0s) and one hidden layer can.
//!
//! The network is 2-4-1: a tanh hidden layer (its outputs in (−1, 1), centred on 0, which
//! bends the plane) and a sigmoid output (a probability), with biases. The loss is the sum of
//! squared errors over the four points, Σ (ŷ − y)², and every step sees all four (full batch,
//! the tutorial's matrix form). It trains from the same initial weights three times: with plain
//! gradient descent, with momentum (v ← 0.9·v − lr·g, w ← w + v) and with Adam, all at the
//! same learning rate, until every point's squared error is below 0.04 (every prediction
//! within 0.2 of its target), and prints how many epochs each needed and its predictions.
//!
//! Run: `cargo run --release --example 03_xor4`

use std::error::Error;

use chainrule::data;
use chainrule::loss::Loss;
use chainrule::nn::{Activation, Init, Mlp};
use chainrule::optim::{Adam, Momentum, Optimizer, Sgd};
use chainrule::train::{self, StopReason, Trainer};

/// One tanh hidden layer of 4 units between the 2 inputs and the sigmoid output.
const SIZES: [usize; 3] = [2, 4, 1];
const ACTIVATIONS: [Activation; 2] = [Activation::Tanh, Activation::Sigmoid];
/// Shared by the three optimizers. Plain gradient descent is the slowest at any rate; at much
/// higher rates momentum and Adam overshoot.
const LEARNING_RATE: f64 = 0.1;
/// Every point's squared error below this.
const STOP_LOSS: f64 = 0.04;
const MAX_EPOCHS: usize = 20_000;
/// Seed of the initial weights (uniform in [−1, 1)), the same for the three runs.
const SEED: u64 = 1;

fn main() -> Result<(), Box<dyn Error>> {
    let xor = data::xor4();
    println!(
        "four-point XOR, 2-4-1 (tanh hidden, sigmoid out), sum of squared errors, full batch, \
         lr {LEARNING_RATE}, stop when every squared error < {STOP_LOSS}\n"
    );
    let mut optimizers: [(&str, Box<dyn Optimizer>); 3] = [
        ("gradient descent", Box::new(Sgd::new(LEARNING_RATE))),
        ("momentum 0.9", Box::new(Momentum::new(LEARNING_RATE))),
        ("adam", Box::new(Adam::new(LEARNING_RATE))),
    ];
    let mut summary = Vec::new();
    for (name, optimizer) in &mut optimizers {
        println!("--- {name} ---");
        let mut mlp = Mlp::new(&SIZES, &ACTIVATIONS, true, Init::Uniform, SEED);
        let history = Trainer::new(Loss::Sse)
            .epochs(MAX_EPOCHS)
            .full_batch()
            .stop_when_all_losses_below(STOP_LOSS)
            .run(&mut mlp, optimizer.as_mut(), &xor)?;
        let last = history.last().expect("at least one epoch ran");
        let epochs = match history.stop {
            StopReason::AllLossesBelow => format!("{} epochs", last.epoch),
            _ => format!("not within {MAX_EPOCHS} epochs"),
        };
        println!("reached the stop rule: {epochs}");
        let predictions = train::predict(&mlp, &xor.x);
        for i in 0..xor.len() {
            let (x, y, p) = (xor.x.row(i), xor.y[(i, 0)], predictions[(i, 0)]);
            println!("  ({}, {}) → {p:.4}   target {y}", x[0], x[1]);
        }
        let accuracy = train::accuracy(&mlp, &xor);
        println!("  accuracy {:.0}%\n", 100.0 * accuracy);
        summary.push((*name, epochs, last.loss));
    }
    println!(
        "{:<18} {:<26} final loss (mean SSE per point)",
        "optimizer", "epochs to the rule"
    );
    for (name, epochs, loss) in summary {
        println!("{name:<18} {epochs:<26} {loss:.5}");
    }
    Ok(())
}
