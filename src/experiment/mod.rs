//! The lab reports' experiments: train one network per variant of a setting, everything else
//! held fixed, and compare how far and how fast each got.
//!
//! ```
//! use chainrule::data;
//! use chainrule::experiment::{self, Comparison, Setup};
//!
//! let data = data::linear(40, 1);
//! let base = Setup { epochs: 200, ..Setup::default() }; // a short run for the doc test
//! let report = experiment::run(Comparison::Hidden, &data, &base);
//! assert_eq!(report.runs.len(), 3); // hidden (2, 2), (10, 10), (20, 20)
//! println!("{}", report.markdown());
//! # let dir = std::env::temp_dir().join(format!("chainrule-exp-doc-{}", std::process::id()));
//! report.plot_curves(&dir.join("hidden_loss.png"))?;
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), chainrule::plot::PlotError>(())
//! ```
//!
//! # The comparisons
//! Each varies one setting of a base [`Setup`] (the lab's by default) and keeps the others:
//!
//! | [`Comparison`] | name | variants |
//! |---|---|---|
//! | [`LearningRate`](Comparison::LearningRate) | `lr` | 1e-5, 1e-3, 0.1, 0.8, 10, 100 |
//! | [`Hidden`](Comparison::Hidden) | `hidden` | hidden layers (2, 2), (10, 10), (20, 20) |
//! | [`Activation`](Comparison::Activation) | `activation` | sigmoid, tanh, ReLU hidden layers; none (a fully linear network, see [`Setup`]) at the base lr and at lr 100 |
//! | [`Optimizer`](Comparison::Optimizer) | `optimizer` | SGD, momentum (μ 0.9), Adam, all at lr [`SHARED_LR`] |
//! | [`Loss`](Comparison::Loss) | `loss` | MSE, BCE (log-loss) |
//! | [`Init`](Comparison::Init) | `init` | uniform in [−1, 1), standard normal, Xavier |
//!
//! # What a run measures
//! Loss and accuracy are measured after each epoch, on the weights the epoch left
//! ([`Measure::AfterEpoch`](crate::train::Measure::AfterEpoch)), so the last epoch's figures are those of the trained network. A
//! run ends in one of three ways ([`Outcome`]): the stop rule held, the epoch cap was reached,
//! or a loss or gradient went NaN or infinite, in which case the op that first produced it is
//! named (the reports printed a column of `nan` instead).
//!
//! Runs are deterministic: weights come from [`Setup::seed`] and the rows are visited in data
//! order, so the same data and setup give the same report.

use std::fmt;
use std::str::FromStr;

use crate::data::Dataset;
use crate::loss::Loss;
use crate::nn::{Activation, Init};

use setup::activation_name;
mod report;
mod setup;

pub use crate::optim::OptimizerKind;
pub use report::{Outcome, RunResult};
pub use setup::Setup;

/// The learning rate the [`Comparison::Optimizer`] runs share: per-sample SGD, momentum and Adam
/// all converge at it on the lab's data sets (at the lab's 0.8, momentum and Adam oscillate).
pub const SHARED_LR: f64 = 0.1;

/// The learning rates of [`Comparison::LearningRate`], with their labels: the reports' range.
const LEARNING_RATES: [(&str, f64); 6] = [
    ("1e-5", 1e-5),
    ("1e-3", 1e-3),
    ("0.1", 0.1),
    ("0.8", 0.8),
    ("10", 10.0),
    ("100", 100.0),
];

/// The hidden layer sizes of [`Comparison::Hidden`].
const HIDDEN: [[usize; 2]; 3] = [[2, 2], [10, 10], [20, 20]];

/// Which setting an experiment varies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Comparison {
    /// Learning rates from 1e-5 to 100 (`lr`).
    LearningRate,
    /// Hidden layer sizes (2, 2), (10, 10), (20, 20) (`hidden`).
    Hidden,
    /// The hidden layers' activation: sigmoid, tanh, ReLU; and no activation at all (a linear
    /// network) at the base rate and at lr 100, the reports' diverging run (`activation`).
    Activation,
    /// Plain SGD, momentum and Adam at a shared rate, [`SHARED_LR`] (`optimizer`).
    Optimizer,
    /// Mean squared error against binary cross-entropy (`loss`).
    Loss,
    /// Weight initialisation: uniform, standard normal, Xavier (`init`).
    Init,
}

impl Comparison {
    /// Every comparison, in the order of the table in the module doc.
    pub const ALL: [Comparison; 6] = [
        Comparison::LearningRate,
        Comparison::Hidden,
        Comparison::Activation,
        Comparison::Optimizer,
        Comparison::Loss,
        Comparison::Init,
    ];

    /// The short name, as [`FromStr`] reads it and [`Display`](fmt::Display) writes it:
    /// `lr`, `hidden`, `activation`, `optimizer`, `loss`, `init`.
    pub fn name(self) -> &'static str {
        match self {
            Comparison::LearningRate => "lr",
            Comparison::Hidden => "hidden",
            Comparison::Activation => "activation",
            Comparison::Optimizer => "optimizer",
            Comparison::Loss => "loss",
            Comparison::Init => "init",
        }
    }

    /// What is varied, in words, for titles: `"learning rate"`, `"hidden layer sizes"`, ….
    pub fn title(self) -> &'static str {
        match self {
            Comparison::LearningRate => "learning rate",
            Comparison::Hidden => "hidden layer sizes",
            Comparison::Activation => "activation",
            Comparison::Optimizer => "optimizer",
            Comparison::Loss => "loss",
            Comparison::Init => "weight initialisation",
        }
    }

    /// The runs this comparison makes from `base`: a label and a setup for each, in order.
    pub fn variants(self, base: &Setup) -> Vec<(String, Setup)> {
        let with = |label: String, change: &dyn Fn(&mut Setup)| {
            let mut setup = base.clone();
            change(&mut setup);
            (label, setup)
        };
        match self {
            Comparison::LearningRate => LEARNING_RATES
                .iter()
                .map(|&(name, lr)| with(format!("lr {name}"), &|s| s.lr = lr))
                .collect(),
            Comparison::Hidden => HIDDEN
                .iter()
                .map(|h| with(format!("hidden {h:?}"), &|s| s.hidden = h.to_vec()))
                .collect(),
            Comparison::Activation => {
                let mut runs: Vec<_> = [Activation::Sigmoid, Activation::Tanh, Activation::Relu]
                    .into_iter()
                    .map(|a| with(activation_name(a).to_string(), &|s| s.activation = a))
                    .collect();
                let linear = |s: &mut Setup| {
                    s.activation = Activation::Identity;
                    s.output = Activation::Identity;
                };
                runs.push(with("none".to_string(), &linear));
                runs.push(with("none, lr 100".to_string(), &|s| {
                    linear(s);
                    s.lr = 100.0;
                }));
                runs
            }
            Comparison::Optimizer => [
                OptimizerKind::Sgd,
                OptimizerKind::Momentum,
                OptimizerKind::Adam,
            ]
            .into_iter()
            .map(|kind| {
                with(kind.to_string(), &|s| {
                    s.optimizer = kind;
                    s.lr = SHARED_LR;
                })
            })
            .collect(),
            Comparison::Loss => [("MSE", Loss::Mse), ("BCE", Loss::Bce)]
                .into_iter()
                .map(|(name, loss)| with(name.to_string(), &|s| s.loss = loss))
                .collect(),
            Comparison::Init => [
                ("uniform", Init::Uniform),
                ("standard normal", Init::StandardNormal),
                ("Xavier", Init::Xavier),
            ]
            .into_iter()
            .map(|(name, init)| with(name.to_string(), &|s| s.init = init))
            .collect(),
        }
    }
}

impl fmt::Display for Comparison {
    /// The short name: `lr`, `hidden`, ….
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Comparison {
    type Err = UnknownComparison;

    /// Reads a short name (`lr`, `hidden`, `activation`, `optimizer`, `loss`, `init`; exact,
    /// lowercase).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Comparison::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| UnknownComparison(s.to_string()))
    }
}

/// A name that is not a [`Comparison`]'s; its message lists the valid names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownComparison(pub String);

impl fmt::Display for UnknownComparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Comparison::ALL.iter().map(|c| c.name()).collect();
        write!(
            f,
            "unknown comparison `{}`: expected one of {}",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownComparison {}

/// The runs of one comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// What was varied.
    pub comparison: Comparison,
    /// The setup every variant started from.
    pub base: Setup,
    /// One run per variant, in the order of [`Comparison::variants`].
    pub runs: Vec<RunResult>,
}

/// Trains one network per variant of `comparison` (see the module doc) from `base` on `data`,
/// one after another, and collects the results.
///
/// # Panics
/// If the data set is empty or [`Setup::batch_size`] is 0.
pub fn run(comparison: Comparison, data: &Dataset, base: &Setup) -> Report {
    assert!(
        !data.is_empty(),
        "experiment::run: the data set for `{comparison}` is empty"
    );
    let runs = comparison
        .variants(base)
        .iter()
        .map(|(label, setup)| setup.train(label, data))
        .collect();
    Report {
        comparison,
        base: base.clone(),
        runs,
    }
}
