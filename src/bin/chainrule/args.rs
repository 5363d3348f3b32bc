//! Arguments shared by several commands, and the parsers of values clap cannot parse by
//! `FromStr` alone.

use std::path::{Path, PathBuf};

use chainrule::data::{Builtin, DataSource, Dataset};
use chainrule::io;
use chainrule::nn::Activation;
use clap::Args;

use crate::Failure;

/// Where the data comes from: a lab data set by name, or a CSV file.
#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// A lab data set: linear, xor-easy, xor4, circle, diamond, square, thick-right-angle,
    /// thin-right-angle [default: linear; predict, graph and trace: the run saved beside the
    /// weights]
    #[arg(long, value_name = "NAME", conflicts_with = "csv")]
    pub dataset: Option<Builtin>,
    /// Your own data instead: a CSV file of lines `x0,x1,label` (label 0 or 1; one header line
    /// allowed)
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// How many points to generate [default: 100 for linear, 500 for the patterns; the XOR sets
    /// have fixed points]
    #[arg(long, value_name = "N", value_parser = positive_count, conflicts_with = "csv")]
    pub points: Option<usize>,
    /// The seed the points are drawn from [default: 0; not for the XOR sets]
    #[arg(long, value_name = "SEED", conflicts_with = "csv")]
    pub data_seed: Option<u64>,
}

impl DataArgs {
    /// The source these arguments name, or `None` if they name none (no `--dataset`, no
    /// `--csv`).
    pub fn source(&self) -> Result<Option<DataSource>, Failure> {
        if let Some(path) = &self.csv {
            return Ok(Some(DataSource::Csv(path.clone())));
        }
        let Some(set) = self.dataset else {
            if self.points.is_some() || self.data_seed.is_some() {
                return Err(Failure::new(
                    "--points and --data-seed need --dataset NAME (a generated data set)",
                ));
            }
            return Ok(None);
        };
        for (flag, given) in [
            ("--points", self.points.is_some()),
            ("--data-seed", self.data_seed.is_some()),
        ] {
            if given && set.default_points().is_none() {
                return Err(Failure::new(format!(
                    "{flag}: the data set `{set}` has fixed points; {flag} does not apply"
                )));
            }
        }
        Ok(Some(DataSource::Builtin {
            set,
            points: self.points,
            seed: self.data_seed.unwrap_or(0),
        }))
    }

    /// The data set for a command that reads a weights file: the one these arguments name, or
    /// else the one recorded in `run.json` beside the weights (a saved training run), or else
    /// `linear`; with a note saying where it came from when it was not named.
    pub fn load_for(&self, weights: &Path) -> Result<(Dataset, Option<String>), Failure> {
        if let Some(source) = self.source()? {
            return Ok((load(&source)?, None));
        }
        let record = weights.with_file_name("run.json");
        let (source, from) = if record.is_file() {
            let run = io::load_run(&record)?;
            (run.data, format!("the run saved in {}", record.display()))
        } else {
            let linear = DataSource::Builtin {
                set: Builtin::Linear,
                points: None,
                seed: 0,
            };
            (linear, "the default".to_string())
        };
        let note = format!("data: {source} ({from}; --dataset or --csv to choose)");
        Ok((load(&source)?, Some(note)))
    }
}

/// Loads a data source, with the failure said as one line.
pub fn load(source: &DataSource) -> Result<Dataset, Failure> {
    source
        .load()
        .map_err(|e| Failure::new(format!("data: {e}")))
}

/// A count of at least 1.
pub fn positive_count(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("`{text}` is not a whole number of at least 1")),
    }
}

/// A positive, finite number (a learning rate, a threshold).
pub fn positive_number(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err(format!("`{text}` is not a positive finite number")),
    }
}

/// A finite number in `[0, 1)` (a momentum coefficient).
pub fn unit_fraction(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(x) if (0.0..1.0).contains(&x) => Ok(x),
        _ => Err(format!("`{text}` is not a number in [0, 1)")),
    }
}

/// The stop rule's threshold: a positive number, or `off`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StopLoss(pub Option<f64>);

/// `off` (or `none`), or a positive finite number.
pub fn stop_loss(text: &str) -> Result<StopLoss, String> {
    if matches!(text, "off" | "none") {
        return Ok(StopLoss(None));
    }
    positive_number(text)
        .map(|t| StopLoss(Some(t)))
        .map_err(|e| format!("{e}, nor `off`"))
}

/// The largest hidden layer `--hidden` accepts, and the most hidden layers.
const MAX_WIDTH: usize = 4096;
const MAX_HIDDEN_LAYERS: usize = 64;

/// Hidden layer sizes: `4,4`; `none` for no hidden layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Hidden(pub Vec<usize>);

/// Parses `--hidden`.
pub fn hidden(text: &str) -> Result<Hidden, String> {
    if matches!(text, "none" | "") {
        return Ok(Hidden(Vec::new()));
    }
    let sizes = text
        .split(',')
        .map(|s| match s.trim().parse::<usize>() {
            Ok(n) if (1..=MAX_WIDTH).contains(&n) => Ok(n),
            _ => Err(format!(
                "`{}` is not a layer size from 1 to {MAX_WIDTH} (expected sizes like `4,4`, or \
                 `none`)",
                s.trim()
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if sizes.len() > MAX_HIDDEN_LAYERS {
        return Err(format!(
            "{} hidden layers; at most {MAX_HIDDEN_LAYERS}",
            sizes.len()
        ));
    }
    Ok(Hidden(sizes))
}

/// Activations: one name for every layer, or one per layer (`relu,relu,sigmoid`).
#[derive(Clone, Debug, PartialEq)]
pub struct Activations(pub Vec<Activation>);

/// Parses `--activation`.
pub fn activations(text: &str) -> Result<Activations, String> {
    text.split(',')
        .map(|s| s.trim().parse::<Activation>().map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()
        .map(Activations)
}

/// Rows per step: a count, or `full` for the whole data set.
pub fn batch_size(text: &str) -> Result<usize, String> {
    if text == "full" {
        return Ok(usize::MAX);
    }
    positive_count(text).map_err(|e| format!("{e}, nor `full`"))
}
