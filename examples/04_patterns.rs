//! The exercise notebook's five patterns, each 500 points uniform in [−1, 1]², label 1 inside:
//!
//! - circle `√(x0² + x1²) < 0.75`; diamond `|x0| + |x1| < 1`; centred square
//!   `max(|x0|, |x1|) < 0.5`;
//! - thick right angle `−0.5 < max(x0, x1) < 0.5`; thin right angle `0 < max(x0, x1) < 0.5`.
//!
//! None is linearly separable, and the corners of the square and the right angles need a
//! network that can draw sharp bends. Each is learned by a 2-20-20-1 network (tanh hidden
//! layers, sigmoid output) with the log-loss (binary cross-entropy), Adam at lr 0.01 on
//! mini-batches of 25 shuffled points, for up to 600 epochs or until every point is classified
//! right. The example prints a table (pattern, epochs, final loss, accuracy) and writes, per
//! pattern, under `out/04_patterns/<pattern>/`:
//!
//! - `loss.png` and `accuracy.png`: the curves over epochs;
//! - `decision_boundary.png`: the network's output over the plane, the points on top;
//! - `mistakes.png`: the predictions, every misclassified point ringed.
//!
//! Run: `cargo run --release --example 04_patterns`

use std::error::Error;
use std::path::Path;
use std::time::Instant;

use chainrule::data::{self, Dataset};
use chainrule::loss::Loss;
use chainrule::nn::{Activation, Init, Mlp};
use chainrule::optim::Adam;
use chainrule::train::{self, History, Trainer};
use chainrule::{plot, Matrix};

const SIZES: [usize; 4] = [2, 20, 20, 1];
const ACTIVATIONS: [Activation; 3] = [Activation::Tanh, Activation::Tanh, Activation::Sigmoid];
const LEARNING_RATE: f64 = 0.01;
const BATCH: usize = 25;
const MAX_EPOCHS: usize = 600;
const POINTS: usize = 500;
/// Seed of the points, the initial weights (Xavier) and the shuffles.
const SEED: u64 = 1;

type Generator = fn(usize, u64) -> Dataset;

fn main() -> Result<(), Box<dyn Error>> {
    let patterns: [(&str, Generator); 5] = [
        ("circle", data::circle),
        ("diamond", data::diamond),
        ("square", data::square),
        ("thick_right_angle", data::thick_right_angle),
        ("thin_right_angle", data::thin_right_angle),
    ];
    println!(
        "2-20-20-1 (tanh, tanh, sigmoid), log-loss, Adam lr {LEARNING_RATE}, batches of {BATCH} \
         shuffled points, at most {MAX_EPOCHS} epochs or until every point is right; \
         {POINTS} points per pattern\n"
    );
    let mut rows = Vec::new();
    for (name, generate) in patterns {
        let data = generate(POINTS, SEED);
        let start = Instant::now();
        let (mlp, history) = train_on(&data)?;
        let seconds = start.elapsed().as_secs_f64();
        let last = history.last().expect("at least one epoch ran");
        let ones = data.y.as_slice().iter().filter(|&&y| y == 1.0).count();
        println!(
            "{name}: {ones} of {POINTS} points inside; {} epochs in {seconds:.1} s, accuracy {:.1}%",
            last.epoch,
            100.0 * last.accuracy
        );
        draw(name, &mlp, &data, &history)?;
        rows.push((name, last.epoch, last.loss, last.accuracy));
    }
    println!("\n| pattern | epochs | final loss | accuracy |\n|---|---:|---:|---:|");
    for (name, epochs, loss, accuracy) in rows {
        println!(
            "| {name} | {epochs} | {loss:.4} | {:.1}% |",
            100.0 * accuracy
        );
    }
    println!(
        "\nfigures: out/04_patterns/<pattern>/{{loss,accuracy,decision_boundary,mistakes}}.png"
    );
    Ok(())
}

fn train_on(data: &Dataset) -> Result<(Mlp, History), Box<dyn Error>> {
    let mut mlp = Mlp::new(&SIZES, &ACTIVATIONS, true, Init::Xavier, SEED);
    let history = Trainer::new(Loss::Bce)
        .epochs(MAX_EPOCHS)
        .batch_size(BATCH)
        .shuffle(SEED)
        .measure(train::Measure::AfterEpoch)
        .stop_at_accuracy(1.0)
        .run(&mut mlp, &mut Adam::new(LEARNING_RATE), data)?;
    Ok((mlp, history))
}

/// Writes the pattern's figures under `out/04_patterns/<name>/`.
fn draw(name: &str, mlp: &Mlp, data: &Dataset, history: &History) -> Result<(), Box<dyn Error>> {
    let dir = Path::new("out/04_patterns").join(name);
    let losses: Vec<f64> = history.epochs.iter().map(|e| e.loss).collect();
    let accuracies: Vec<f64> = history.epochs.iter().map(|e| e.accuracy).collect();
    let predicted = train::predict(mlp, &data.x);
    let truth = data.y.as_slice();
    let title = name.replace('_', " ");
    plot::learning_curve(
        &dir.join("loss.png"),
        &format!("{title}: log-loss per epoch"),
        &[("BCE", &losses)],
        true,
    )?;
    plot::accuracy_curve(
        &dir.join("accuracy.png"),
        &format!("{title}: accuracy per epoch"),
        &[("accuracy", &accuracies)],
    )?;
    plot::decision_boundary(
        &dir.join("decision_boundary.png"),
        &format!("{title}: 2-20-20-1 tanh"),
        &data.x,
        truth,
        |grid: &Matrix| train::predict(mlp, grid).as_slice().to_vec(),
    )?;
    plot::mistakes(
        &dir.join("mistakes.png"),
        &format!("{title}: predictions"),
        &data.x,
        truth,
        predicted.as_slice(),
    )?;
    Ok(())
}
