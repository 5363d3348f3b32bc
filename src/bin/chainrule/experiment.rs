//! `chainrule experiment <comparison>`: one of the lab reports' comparisons, run by
//! `chainrule::experiment`: a Markdown table on stdout and two figures (loss and accuracy
//! curves overlaid) in `--out`.

use std::path::PathBuf;

use chainrule::data::{Builtin, DataSource};
use chainrule::experiment::{self, Comparison, Setup};
use clap::Args;

use crate::args::{self, DataArgs};
use crate::{say, Failure, Outcome};

/// What `chainrule experiment` takes.
#[derive(Args, Debug)]
pub struct ExperimentArgs {
    /// Which comparison: lr, hidden, activation, optimizer, loss or init
    #[arg(value_name = "COMPARISON")]
    pub comparison: Comparison,
    #[command(flatten)]
    pub data: DataArgs,
    /// The seed of every variant's initial weights (the same for all, so only the compared
    /// setting differs)
    #[arg(long, default_value_t = Setup::default().seed)]
    pub seed: u64,
    /// The epoch cap of each run
    #[arg(long, default_value_t = Setup::default().epochs, value_parser = args::positive_count)]
    pub epochs: usize,
    /// Where the figures go
    #[arg(long, value_name = "DIR", default_value = "out/experiment")]
    pub out: PathBuf,
}

/// Runs every variant of the comparison from the lab's setup, prints the table, writes the
/// figures.
pub fn run(a: ExperimentArgs) -> Outcome {
    let source = a.data.source()?.unwrap_or(DataSource::Builtin {
        set: Builtin::Linear,
        points: None,
        seed: 0,
    });
    let data = args::load(&source)?;
    let base = Setup {
        seed: a.seed,
        epochs: a.epochs,
        ..Setup::default()
    };
    let report = experiment::run(a.comparison, &data, &base);
    say(report.markdown());
    let [loss, accuracy] = report
        .write_figures(&a.out)
        .map_err(|e| Failure::new(e.to_string()))?;
    say(format!(
        "figures: {} and {}",
        loss.display(),
        accuracy.display()
    ));
    Ok(())
}
