//! What one run is: a [`Setup`] (network, loss, optimizer, stop rule) and how it trains into a
//! [`RunResult`].

use std::fmt;

use crate::data::Dataset;
use crate::loss::Loss;
use crate::nn::{Activation, Init, Mlp};
use crate::optim::OptimizerKind;
use crate::train::{self, EpochStats, Measure, StopReason, TrainError, Trainer};

use super::{Outcome, RunResult};

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
/// [`Comparison::Activation`](super::Comparison::Activation) runs change the hidden layers only, with one exception: its
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
        let mut optimizer = self.optimizer.with_lr(self.lr).build();
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

pub(super) fn activation_name(a: Activation) -> &'static str {
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
