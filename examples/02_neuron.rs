//! One neuron: y = σ(w0·x0 + w1·x1 + b), learning the lab's `linear` data set (100 points
//! uniform in the unit square, label 1 when x0 ≤ x1).
//!
//! A single sigmoid neuron is a linear classifier: it says class 1 where its output is at least
//! 0.5, that is where w0·x0 + w1·x1 + b ≥ 0, so its decision boundary is the line
//! w0·x0 + w1·x1 + b = 0. The data's own boundary is the diagonal x1 = x0, so one neuron is
//! all this data set needs. The example trains it with the lab's per-sample gradient descent
//! on the mean squared error, prints the loss as it goes, then the learned weights, the line
//! they define beside the true one, and the accuracy, and draws the decision boundary to
//! `out/02_neuron/decision_boundary.png`.
//!
//! Run: `cargo run --release --example 02_neuron`

use std::error::Error;
use std::path::Path;

use chainrule::loss::Loss;
use chainrule::nn::{Activation, Init, Mlp};
use chainrule::optim::Sgd;
use chainrule::train::{self, StopReason, Trainer};
use chainrule::{data, plot, Matrix};

/// The lab's learning rate.
const LEARNING_RATE: f64 = 0.8;
/// The lab's stop rule: every sample's loss below this (every prediction within 0.2 of its
/// label).
const STOP_LOSS: f64 = 0.04;
/// A cap: points very close to the diagonal need large weights to be predicted within 0.2,
/// and gradient descent grows the weights slowly.
const MAX_EPOCHS: usize = 3000;
/// Seed of the data and of the initial weights.
const SEED: u64 = 1;

fn main() -> Result<(), Box<dyn Error>> {
    let data = data::linear(100, SEED);
    let mut neuron = Mlp::new(&[2, 1], &[Activation::Sigmoid], true, Init::Uniform, SEED);
    println!(
        "one sigmoid neuron (2 inputs, with bias) on `linear` ({} points), MSE, per-sample SGD at lr {LEARNING_RATE}",
        data.len()
    );
    print_line("initial", &neuron);

    let history = Trainer::new(Loss::Mse)
        .epochs(MAX_EPOCHS)
        .stop_when_all_losses_below(STOP_LOSS)
        .print_every(300)
        .run(&mut neuron, &mut Sgd::new(LEARNING_RATE), &data)?;
    let last = history.last().expect("at least one epoch ran");
    match history.stop {
        StopReason::AllLossesBelow => println!(
            "every sample's loss is below {STOP_LOSS} after {} epochs",
            last.epoch
        ),
        _ => println!(
            "after the cap of {MAX_EPOCHS} epochs the largest sample loss is {:.4} (the rule \
             wants < {STOP_LOSS}): the points nearest the diagonal are still predicted close to 0.5",
            last.max_loss
        ),
    }

    print_line("learned", &neuron);
    println!("true boundary:    x1 = 1.0000·x0 + 0.0000 (label 1 on and above it)");
    println!("accuracy: {:.2}%", 100.0 * train::accuracy(&neuron, &data));

    let path = Path::new("out/02_neuron/decision_boundary.png");
    plot::decision_boundary(
        path,
        "One sigmoid neuron on `linear`: output and boundary w·x + b = 0",
        &data.x,
        data.y.as_slice(),
        |grid: &Matrix| train::predict(&neuron, grid).as_slice().to_vec(),
    )?;
    println!("figure: {}", path.display());
    Ok(())
}

/// Prints the neuron's weights and the line w0·x0 + w1·x1 + b = 0 they define, solved for x1.
fn print_line(when: &str, neuron: &Mlp) {
    let layer = &neuron.layers[0];
    let (w0, w1) = (layer.weight[(0, 0)], layer.weight[(1, 0)]);
    let b = layer.bias.as_ref().map_or(0.0, |b| b[(0, 0)]);
    println!("{when} weights: w0 = {w0:+.4}, w1 = {w1:+.4}, b = {b:+.4}");
    if w1 != 0.0 {
        // w0·x0 + w1·x1 + b = 0  ⇔  x1 = −(w0/w1)·x0 − b/w1; class 1 on the side where the sum is ≥ 0.
        let side = if w1 > 0.0 { "above" } else { "below" };
        let (slope, intercept) = (-w0 / w1, -b / w1);
        let sign = if intercept < 0.0 { '−' } else { '+' };
        println!(
            "{when} boundary: x1 = {slope:.4}·x0 {sign} {:.4} (class 1 {side} it)",
            intercept.abs()
        );
    } else {
        println!("{when} boundary: x0 = {:.4}", -b / w0);
    }
}
