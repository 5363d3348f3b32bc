//! Every experiment the lab reports make, one call each: learning rates from 1e-5 to 100,
//! hidden sizes, activations (and no activation at all), optimizers, MSE against log-loss,
//! and weight initialisations (`chainrule::experiment`).
//!
//! Each comparison starts from the lab's setup (2-4-4-1 sigmoid with biases, MSE, per-sample
//! gradient descent at lr 0.8, uniform weights from seed 2, stop once every sample's loss is
//! below 0.04, at most 5000 epochs) and changes one thing. They run on `linear` (100 points,
//! seed 2, the data of `examples/lab1`) and on `XOR_easy` (21 points); for each, the example prints the Markdown table (variant, final
//! loss, accuracy, epochs or how the run ended: converged, stopped at the cap, or diverged,
//! naming the op that first produced a NaN or an infinity) and writes the overlaid learning
//! curves (log scale) and accuracy curves to
//! `out/06_experiments/<data set>/<comparison>_{loss,accuracy}.png`.
//!
//! Run: `cargo run --release --example 06_experiments`
//! (or only some comparisons: `… --example 06_experiments -- lr activation`)

use std::error::Error;
use std::path::Path;
use std::time::Instant;

use chainrule::data;
use chainrule::experiment::{self, Comparison, Setup};

fn main() -> Result<(), Box<dyn Error>> {
    let chosen: Vec<Comparison> = std::env::args()
        .skip(1)
        .map(|name| name.parse())
        .collect::<Result<_, _>>()?;
    let comparisons = if chosen.is_empty() {
        Comparison::ALL.to_vec()
    } else {
        chosen
    };
    let base = Setup::default();
    let sets = [
        ("linear", data::linear(100, base.seed)),
        ("xor_easy", data::xor_easy()),
    ];
    for (name, data) in &sets {
        println!("# {name} ({} points)\n", data.len());
        let dir = Path::new("out/06_experiments").join(name);
        for &comparison in &comparisons {
            let start = Instant::now();
            let report = experiment::run(comparison, data, &base);
            let seconds = start.elapsed().as_secs_f64();
            println!("## {name}: {}", report.markdown());
            let [loss, accuracy] = report.write_figures(&dir)?;
            println!(
                "({seconds:.1} s; figures {} and {})\n",
                loss.display(),
                accuracy.display()
            );
        }
    }
    Ok(())
}
