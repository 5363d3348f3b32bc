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
//! ([`Measure::AfterEpoch`]), so the last epoch's figures are those of the trained network. A
//! run ends in one of three ways ([`Outcome`]): the stop rule held, the epoch cap was reached,
//! or a loss or gradient went NaN or infinite, in which case the op that first produced it is
//! named (the reports printed a column of `nan` instead).
//!
//! Runs are deterministic: weights come from [`Setup::seed`] and the rows are visited in data
//! order, so the same data and setup give the same report.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::data::Dataset;
use crate::loss::Loss;
use crate::nn::{Activation, Init, Mlp};
use crate::ops::Op;
use crate::optim::{Adam, Momentum, Optimizer, Sgd};
use crate::plot::{self, PlotError};
use crate::train::{self, EpochStats, Measure, StopReason, TrainError, Trainer};

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

/// Which optimizer a [`Setup`] trains with (its learning rate is [`Setup::lr`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OptimizerKind {
    /// Plain gradient descent, [`Sgd`].
    Sgd,
    /// Gradient descent with momentum μ = 0.9, [`Momentum`].
    Momentum,
    /// [`Adam`] with its default β₁, β₂, ε.
    Adam,
}

impl OptimizerKind {
    /// A fresh optimizer of this kind with learning rate `lr`.
    pub fn build(self, lr: f64) -> Box<dyn Optimizer> {
        match self {
            OptimizerKind::Sgd => Box::new(Sgd::new(lr)),
            OptimizerKind::Momentum => Box::new(Momentum::new(lr)),
            OptimizerKind::Adam => Box::new(Adam::new(lr)),
        }
    }
}

impl fmt::Display for OptimizerKind {
    /// `sgd`, `momentum` or `adam`: the optimizer's [`Optimizer::name`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Momentum => "momentum",
            OptimizerKind::Adam => "adam",
        })
    }
}

/// Everything one training run needs besides the data.
///
/// The network is `inputs → hidden… → outputs`, its input and output sizes taken from the data
/// set, the hidden layers with [`activation`](Setup::activation) and the output layer with
/// [`output`](Setup::output).
///
/// # The output layer, and "no activation"
/// [`output`](Setup::output) is the sigmoid in every variant, whatever the hidden layers use,
/// so that every variant predicts a probability that the 0.5 threshold, the accuracy and the log-loss read the same
/// way: a ReLU output would be unbounded above and stuck at 0 for half the inputs. So the
/// [`Comparison::Activation`] runs change the hidden layers only, with one exception: its
/// `none` variants are the reports' "no activation at all", a fully linear network (identity
/// output too). That is the network whose loss the reports saw turn to `nan` at lr 100; with a
/// sigmoid on the output, the same linear hidden layers at lr 100 only saturate the sigmoid
/// (the loss sticks near 0.44 and nothing diverges), which is not what the reports describe.
#[derive(Clone, Debug, PartialEq)]
pub struct Setup {
    /// Sizes of the hidden layers, input side first: `[4, 4]` for the lab's 2-4-4-1.
    pub hidden: Vec<usize>,
    /// The hidden layers' activation.
    pub activation: Activation,
    /// The output layer's activation: the sigmoid, except in a fully linear network.
    pub output: Activation,
    /// Whether every layer adds a bias.
    pub bias: bool,
    /// The loss minimised.
    pub loss: Loss,
    /// The optimizer.
    pub optimizer: OptimizerKind,
    /// Its learning rate.
    pub lr: f64,
    /// How the weights are drawn.
    pub init: Init,
    /// The seed of the weights. The default, 2, is `examples/lab1`'s: from seed 1 the lab's
    /// network sits on a plateau on `XOR_easy` (one point stuck near 0.5) for thousands of
    /// epochs, a local minimum the comparisons would all inherit.
    pub seed: u64,
    /// The epoch cap: a run stops after this many epochs at the latest.
    pub epochs: usize,
    /// Rows per step: 1 is the lab's per-sample updates.
    pub batch_size: usize,
    /// The lab's stop rule, in mean squared error: stop once every sample's squared error is
    /// below this, i.e. every prediction is within its square root of the label; `None` runs to
    /// the cap. Other losses stop at the same closeness ([`Setup::stop_threshold`]).
    pub stop_below: Option<f64>,
}

impl Default for Setup {
    /// The lab's: 2-4-4-1 (for 2-D data) with sigmoids and biases, MSE, per-sample SGD at lr 0.8,
    /// uniform weights from seed 2, stop once every sample's loss is below 0.04, at most 5000
    /// epochs (half a second on the lab's 100 points in release; a few seconds with 20-unit
    /// hidden layers).
    fn default() -> Self {
        Setup {
            hidden: vec![4, 4],
            activation: Activation::Sigmoid,
            output: Activation::Sigmoid,
            bias: true,
            loss: Loss::Mse,
            optimizer: OptimizerKind::Sgd,
            lr: 0.8,
            init: Init::Uniform,
            seed: 2,
            epochs: 5000,
            batch_size: 1,
            stop_below: Some(0.04),
        }
    }
}

impl Setup {
    /// A fresh network for `inputs` inputs and `outputs` outputs, drawn from the seed.
    pub fn mlp(&self, inputs: usize, outputs: usize) -> Mlp {
        let mut sizes = vec![inputs];
        sizes.extend(&self.hidden);
        sizes.push(outputs);
        let mut activations = vec![self.activation; self.hidden.len()];
        activations.push(self.output);
        Mlp::new(&sizes, &activations, self.bias, self.init, self.seed)
    }

    /// The stop rule's threshold on each sample's loss, in the units of [`Setup::loss`]: for
    /// MSE and SSE (one output), [`stop_below`](Setup::stop_below) itself; for BCE the loss of
    /// a prediction the same distance `d = √stop_below` from its label, `−ln(1 − d)`. So every
    /// loss stops at the same closeness: 0.04 is "every prediction within 0.2 of its label",
    /// which is a BCE of 0.223 per sample.
    pub fn stop_threshold(&self) -> Option<f64> {
        self.stop_below.map(|t| match self.loss {
            Loss::Mse | Loss::Sse => t,
            Loss::Bce => -(1.0 - t.sqrt()).ln(),
        })
    }

    /// Trains a fresh network with this setup on `data` and returns what happened, under the
    /// name `label`.
    ///
    /// # Panics
    /// If the data set is empty (outside data should be checked before: [`Dataset::is_empty`])
    /// or [`batch_size`](Setup::batch_size) is 0.
    pub fn train(&self, label: &str, data: &Dataset) -> RunResult {
        let mut mlp = self.mlp(data.x.cols(), data.y.cols());
        let mut optimizer = self.optimizer.build(self.lr);
        let mut epochs: Vec<EpochStats> = Vec::new();
        let mut trainer = Trainer::new(self.loss)
            .epochs(self.epochs)
            .batch_size(self.batch_size)
            .measure(Measure::AfterEpoch)
            .on_epoch(|stats| epochs.push(*stats));
        if let Some(threshold) = self.stop_threshold() {
            trainer = trainer.stop_when_all_losses_below(threshold);
        }
        let result = trainer.run(&mut mlp, optimizer.as_mut(), data);
        drop(trainer);
        let mut losses: Vec<f64> = epochs.iter().map(|e| e.loss).collect();
        let mut accuracies: Vec<f64> = epochs.iter().map(|e| e.accuracy).collect();
        let last = epochs.last();
        let (outcome, final_loss, accuracy) = match result {
            Ok(history) => {
                let outcome = match history.stop {
                    StopReason::EpochCap => Outcome::EpochCap {
                        epochs: history.epochs.len(),
                    },
                    StopReason::AllLossesBelow | StopReason::AccuracyReached => {
                        Outcome::Converged {
                            epoch: history.epochs.len(),
                        }
                    }
                };
                let (loss, accuracy) = last.map_or((f64::NAN, train::accuracy(&mlp, data)), |e| {
                    (e.loss, e.accuracy)
                });
                (outcome, loss, accuracy)
            }
            Err(TrainError::Diverged { epoch, anomaly, .. }) => {
                // The curves show the divergence as a gap from this epoch on.
                losses.push(f64::NAN);
                accuracies.push(f64::NAN);
                let accuracy = if mlp.params().all(|p| train::all_finite(p.as_slice())) {
                    train::accuracy(&mlp, data)
                } else {
                    f64::NAN
                };
                let op = anomaly.map(|a| a.op);
                (Outcome::Diverged { epoch, op }, f64::NAN, accuracy)
            }
            Err(other) => panic!("experiment: cannot train `{label}` on this data set: {other}"),
        };
        RunResult {
            label: label.to_string(),
            setup: self.clone(),
            losses,
            accuracies,
            final_loss,
            accuracy,
            outcome,
        }
    }
}

impl fmt::Display for Setup {
    /// One line: `hidden 4-4 sigmoid, sigmoid out, MSE, sgd lr 0.8, batch 1, uniform init,
    /// seed 2, stop when every loss < 0.040 or at 5000 epochs`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sizes: Vec<String> = self.hidden.iter().map(|s| s.to_string()).collect();
        let bias = if self.bias { "" } else { " without bias" };
        write!(
            f,
            "hidden {} {}, {} out{bias}, {}, {} lr {}, batch {}, {} init, seed {}, ",
            sizes.join("-"),
            activation_name(self.activation),
            activation_name(self.output),
            loss_name(self.loss),
            self.optimizer,
            self.lr,
            self.batch_size,
            init_name(self.init),
            self.seed
        )?;
        match self.stop_threshold() {
            Some(t) => write!(
                f,
                "stop when every loss < {t:.3} or at {} epochs",
                self.epochs
            ),
            None => write!(f, "stop at {} epochs", self.epochs),
        }
    }
}

fn activation_name(a: Activation) -> &'static str {
    match a {
        Activation::Sigmoid => "sigmoid",
        Activation::Tanh => "tanh",
        Activation::Relu => "relu",
        Activation::Identity => "none",
    }
}

fn loss_name(loss: Loss) -> &'static str {
    match loss {
        Loss::Mse => "MSE",
        Loss::Sse => "SSE",
        Loss::Bce => "BCE",
    }
}

fn init_name(init: Init) -> &'static str {
    match init {
        Init::Uniform => "uniform",
        Init::StandardNormal => "standard normal",
        Init::Xavier => "Xavier",
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Outcome {
    /// The stop rule held after this epoch (counted from 1).
    Converged {
        /// The last epoch run.
        epoch: usize,
    },
    /// The epoch cap was reached without the stop rule holding.
    EpochCap {
        /// Epochs run: the cap.
        epochs: usize,
    },
    /// A loss or gradient went NaN or infinite ([`TrainError::Diverged`]).
    Diverged {
        /// The epoch it happened in, counted from 1.
        epoch: usize,
        /// The op that first produced a non-finite value, found by replaying the step in
        /// anomaly mode (`None` if the replay found none).
        op: Option<Op>,
    },
}

impl Outcome {
    /// Whether the run diverged.
    pub fn diverged(&self) -> bool {
        matches!(self, Outcome::Diverged { .. })
    }
}

impl fmt::Display for Outcome {
    /// `converged at epoch 312`, `stopped at the cap, 5000 epochs`, `diverged at epoch 1 in mse`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Converged { epoch } => write!(f, "converged at epoch {epoch}"),
            Outcome::EpochCap { epochs } => write!(f, "stopped at the cap, {epochs} epochs"),
            Outcome::Diverged {
                epoch,
                op: Some(op),
            } => write!(f, "diverged at epoch {epoch} in {}", op.name()),
            Outcome::Diverged { epoch, op: None } => write!(f, "diverged at epoch {epoch}"),
        }
    }
}

/// One variant's run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    /// The variant: `lr 0.8`, `hidden [10, 10]`, `tanh`, ….
    pub label: String,
    /// The setup it ran with.
    pub setup: Setup,
    /// The mean loss after each epoch (`losses[i]` after epoch `i + 1`); a diverged run ends
    /// with a NaN for the epoch it diverged in.
    pub losses: Vec<f64>,
    /// The accuracy (a fraction) after each epoch, like [`losses`](RunResult::losses).
    pub accuracies: Vec<f64>,
    /// The trained network's mean loss; NaN if the run diverged.
    pub final_loss: f64,
    /// The fraction of the data the network classifies right when training stopped (for a
    /// diverged run, with the weights before the failing step; NaN if those are not finite).
    pub accuracy: f64,
    /// How the run ended.
    pub outcome: Outcome,
}

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

impl Report {
    /// A Markdown table, one row per variant: `variant | final loss | accuracy | epochs /
    /// outcome`, under a line naming the comparison and the base setup.
    pub fn markdown(&self) -> String {
        let mut text = format!(
            "{} (from {})\n\n| variant | final loss | accuracy | epochs / outcome |\n|---|---:|---:|---|\n",
            self.comparison.title(),
            self.base
        );
        for run in &self.runs {
            let loss = if run.final_loss.is_finite() {
                format!("{:.4}", run.final_loss)
            } else {
                "nan".to_string()
            };
            let accuracy = if run.accuracy.is_finite() {
                format!("{:.1}%", 100.0 * run.accuracy)
            } else {
                "–".to_string()
            };
            text.push_str(&format!(
                "| {} | {loss} | {accuracy} | {} |\n",
                run.label, run.outcome
            ));
        }
        text
    }

    /// Overlays every run's learning curve (loss against epoch, log scale) in one figure, PNG
    /// or SVG by the extension of `path`. A diverged run's line stops where it diverged.
    ///
    /// # Errors
    /// If the file cannot be written or its extension is neither `.png` nor `.svg`.
    pub fn plot_curves(&self, path: &Path) -> Result<(), PlotError> {
        let series: Vec<(&str, &[f64])> = self
            .runs
            .iter()
            .map(|r| (r.label.as_str(), r.losses.as_slice()))
            .collect();
        let title = format!("{}: loss per epoch", self.comparison.title());
        plot::learning_curve(path, &title, &series, true)
    }

    /// Overlays every run's accuracy against epoch in one figure, PNG or SVG by the extension
    /// of `path`.
    ///
    /// # Errors
    /// If the file cannot be written or its extension is neither `.png` nor `.svg`.
    pub fn plot_accuracy(&self, path: &Path) -> Result<(), PlotError> {
        let series: Vec<(&str, &[f64])> = self
            .runs
            .iter()
            .map(|r| (r.label.as_str(), r.accuracies.as_slice()))
            .collect();
        let title = format!("{}: accuracy per epoch", self.comparison.title());
        plot::accuracy_curve(path, &title, &series)
    }

    /// Writes both figures as PNG into `dir` (created if needed), named after the comparison:
    /// `<name>_loss.png` and `<name>_accuracy.png` (e.g. `lr_loss.png`). Returns their paths.
    ///
    /// # Errors
    /// If a file cannot be written.
    pub fn write_figures(&self, dir: &Path) -> Result<[PathBuf; 2], PlotError> {
        let name = self.comparison.name();
        let loss = dir.join(format!("{name}_loss.png"));
        let accuracy = dir.join(format!("{name}_accuracy.png"));
        self.plot_curves(&loss)?;
        self.plot_accuracy(&accuracy)?;
        Ok([loss, accuracy])
    }
}
