//! The training loop: epochs over a [`Dataset`] with an [`Mlp`], a [`Loss`] and any
//! [`Optimizer`], with the lab's stop rule, a history per epoch, and divergence caught.
//!
//! The lab in a few lines (per-sample SGD, lr 0.8, MSE, until every sample's loss is below 0.04):
//!
//! ```
//! use chainrule::nn::{Activation, Init, Mlp};
//! use chainrule::{data, loss::Loss, optim::Sgd, train::{self, StopReason, Trainer}};
//!
//! let data = data::xor_easy();
//! let mut mlp = Mlp::new(&[2, 4, 4, 1], &[Activation::Sigmoid; 3], true, Init::Uniform, 2);
//! let history = Trainer::new(Loss::Mse)
//!     .epochs(5_000)
//!     .stop_when_all_losses_below(0.04)
//!     .print_every(500) // `epoch 500 loss: 0.0…`, and the last epoch's
//!     .run(&mut mlp, &mut Sgd::new(0.8), &data)
//!     .expect("sigmoids keep this run finite");
//! assert_eq!(history.stop, StopReason::AllLossesBelow);
//! assert_eq!(train::accuracy(&mlp, &data), 1.0);
//! ```
//!
//! # What one epoch does
//! The data set is cut into batches of [`Trainer::batch_size`] rows (1 by default, the lab's
//! per-sample updates; the last batch may be shorter), in data order, or in a fresh permutation
//! each epoch with [`Trainer::shuffle`]. Each batch is one step on one reused [`Tape`]: reset,
//! bind the parameters, forward, loss, backward, update. A step allocates nothing once the first
//! has sized the tape.
//!
//! # How loss and accuracy are measured
//! After an epoch's steps, the whole data set goes through the network once more, with the
//! weights as the epoch left them: one batched forward pass on a second reused tape, no backward.
//! [`EpochStats::loss`] (the mean), [`EpochStats::max_loss`], [`EpochStats::accuracy`] and the stop
//! rules all come from that evaluation, so they describe the same weights: "every sample's loss
//! is below 0.04" means it for the network that is returned. (The lab instead tested the loss each
//! sample had *before* its own update, with weights that changed between samples.) The running
//! mean of the steps' own losses is kept too, as [`EpochStats::step_loss`].
//!
//! A sample's loss is the chosen [`Loss`] of its row of predictions against its row of targets.
//! Accuracy counts a sample as correct when, for a one-output network, the prediction and the
//! label fall on the same side of 0.5 (prediction ≥ 0.5 is class 1); for several outputs, when the
//! largest prediction is where the largest target is.
//!
//! # Divergence
//! Before each update the step's loss and every parameter's gradient are checked to be finite.
//! If one is not, training stops before the weights are touched, and the step is replayed (same
//! weights, same batch) in anomaly mode ([`anomaly::diagnose`]) to name the op and the line that
//! first produced a NaN or an infinity: [`TrainError::Diverged`]. A finite step whose update
//! overflows the weights is caught by the next step, or by the evaluation after the epoch.

use std::fmt;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::anomaly::{self, Anomaly};
use crate::data::Dataset;
use crate::grads::Gradients;
use crate::loss::Loss;
use crate::matrix::Matrix;
use crate::nn::{Bound, Mlp};
use crate::ops::BCE_EPS;
use crate::optim::{Optimizer, StateError};
use crate::tape::Tape;

/// The history is reserved for this many epochs up front (or the epoch cap, if smaller), so that
/// recording an epoch allocates nothing; a longer run grows it by doubling.
const HISTORY_RESERVE: usize = 1 << 16;

/// The settings of a training run, built step by step, then [`run`](Trainer::run).
///
/// Defaults: at most 1000 epochs, batch size 1, data order (no shuffle), no stop rule but the
/// epoch cap, silent.
pub struct Trainer<'c> {
    loss: Loss,
    epochs: usize,
    batch_size: usize,
    shuffle: Option<u64>,
    losses_below: Option<f64>,
    accuracy_target: Option<f64>,
    print_every: Option<usize>,
    on_epoch: Option<EpochCallback<'c>>,
}

/// What [`Trainer::on_epoch`] keeps.
type EpochCallback<'c> = Box<dyn FnMut(&EpochStats) + 'c>;

impl fmt::Debug for Trainer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trainer")
            .field("loss", &self.loss)
            .field("epochs", &self.epochs)
            .field("batch_size", &self.batch_size)
            .field("shuffle", &self.shuffle)
            .field("losses_below", &self.losses_below)
            .field("accuracy_target", &self.accuracy_target)
            .field("print_every", &self.print_every)
            .field(
                "on_epoch",
                &self.on_epoch.as_ref().map(|_| "FnMut(&EpochStats)"),
            )
            .finish()
    }
}

impl<'c> Trainer<'c> {
    /// A run minimising `loss`, with the defaults above.
    pub fn new(loss: Loss) -> Self {
        Trainer {
            loss,
            epochs: 1000,
            batch_size: 1,
            shuffle: None,
            losses_below: None,
            accuracy_target: None,
            print_every: None,
            on_epoch: None,
        }
    }

    /// Stop after at most `cap` epochs ([`StopReason::EpochCap`]).
    pub fn epochs(mut self, cap: usize) -> Self {
        self.epochs = cap;
        self
    }

    /// Rows per step: 1 is per-sample (the lab), larger is mini-batch; a last, shorter batch
    /// takes the rows left over. A size at least the data set's is full-batch gradient descent.
    ///
    /// # Panics
    /// If `rows` is 0.
    #[track_caller]
    pub fn batch_size(mut self, rows: usize) -> Self {
        assert!(
            rows > 0,
            "Trainer::batch_size: a batch needs at least one row"
        );
        self.batch_size = rows;
        self
    }

    /// The whole data set in every step: full-batch gradient descent.
    pub fn full_batch(self) -> Self {
        self.batch_size(usize::MAX)
    }

    /// Visit the rows in a new random order each epoch, drawn from `seed` (the same seed gives
    /// the same orders). Off by default: rows are visited in data order.
    pub fn shuffle(mut self, seed: u64) -> Self {
        self.shuffle = Some(seed);
        self
    }

    /// The lab's stop rule: stop once every sample's loss is below `threshold`
    /// ([`StopReason::AllLossesBelow`]).
    pub fn stop_when_all_losses_below(mut self, threshold: f64) -> Self {
        self.losses_below = Some(threshold);
        self
    }

    /// Stop once the accuracy reaches `target` (a fraction: `1.0` is every sample right)
    /// ([`StopReason::AccuracyReached`]).
    pub fn stop_at_accuracy(mut self, target: f64) -> Self {
        self.accuracy_target = Some(target);
        self
    }

    /// Print `epoch N loss: L` to stdout every `epochs` epochs and at the last epoch, the lab's
    /// way (`L` is [`EpochStats::loss`]). Silent by default.
    ///
    /// # Panics
    /// If `epochs` is 0.
    #[track_caller]
    pub fn print_every(mut self, epochs: usize) -> Self {
        assert!(
            epochs > 0,
            "Trainer::print_every: needs a period of at least 1 epoch"
        );
        self.print_every = Some(epochs);
        self
    }

    /// Call `f` with each epoch's statistics as the epoch ends (a progress bar, custom printing).
    pub fn on_epoch(mut self, f: impl FnMut(&EpochStats) + 'c) -> Self {
        self.on_epoch = Some(Box::new(f));
        self
    }

    /// Trains `mlp` on `data` with `optimizer` until a stop rule holds or the epoch cap is
    /// reached, and returns what happened each epoch.
    ///
    /// `optimizer` keeps its state across calls: running N epochs then M more continues exactly
    /// like one run of N + M epochs (without [`shuffle`](Trainer::shuffle), whose orders restart
    /// from the seed in each run).
    ///
    /// # Errors
    /// - [`TrainError::Diverged`] when a loss or a gradient is NaN or infinite (the weights are
    ///   left as the last finite step made them);
    /// - [`TrainError::EmptyData`], [`TrainError::Shape`] when the data set does not fit the
    ///   network, [`TrainError::OptimizerState`] when the optimizer's state was made for another
    ///   network. These are checked before any step.
    pub fn run<O>(
        &mut self,
        mlp: &mut Mlp,
        optimizer: &mut O,
        data: &Dataset,
    ) -> Result<History, TrainError>
    where
        O: Optimizer + ?Sized,
    {
        check(mlp, optimizer, data)?;
        let n = data.len();
        let batch = self.batch_size.min(n);
        let mut tape = Tape::new();
        let mut eval = Evaluation::new(n);
        let mut shuffled = self.shuffle.map(|seed| Shuffled::new(seed, data, batch));
        let mut history = History {
            epochs: Vec::with_capacity(self.epochs.min(HISTORY_RESERVE)),
            stop: StopReason::EpochCap,
        };
        for epoch in 1..=self.epochs {
            let start = Instant::now();
            if let Some(s) = &mut shuffled {
                s.order.shuffle(&mut s.rng);
            }
            let mut loss_sum = 0.0;
            let mut steps = 0;
            for first in (0..n).step_by(batch) {
                let rows = batch.min(n - first);
                let (x, y) = match &mut shuffled {
                    Some(s) => s.gather(data, first, rows),
                    None => rows_of(data, first, rows),
                };
                steps += 1;
                match train_step(&mut tape, mlp, optimizer, self.loss, x, y, rows) {
                    Some(loss) => loss_sum += loss,
                    None => {
                        let anomaly = replay(mlp, self.loss, x, y, rows);
                        let step = Some(steps);
                        return Err(TrainError::Diverged {
                            epoch,
                            step,
                            anomaly,
                        });
                    }
                }
            }
            let measured = eval.run(mlp, self.loss, data);
            if !measured.loss.is_finite() {
                let (x, y) = (data.x.as_slice(), data.y.as_slice());
                let anomaly = replay(mlp, self.loss, x, y, n);
                let step = None;
                return Err(TrainError::Diverged {
                    epoch,
                    step,
                    anomaly,
                });
            }
            let stats = EpochStats {
                epoch,
                loss: measured.loss,
                max_loss: measured.max_loss,
                accuracy: measured.accuracy,
                step_loss: loss_sum / steps as f64,
                steps,
                seconds: start.elapsed().as_secs_f64(),
            };
            let stop = self.stop_reason(&stats);
            if let Some(every) = self.print_every {
                if epoch % every == 0 || stop.is_some() || epoch == self.epochs {
                    println!("epoch {epoch} loss: {}", stats.loss);
                }
            }
            if let Some(f) = &mut self.on_epoch {
                f(&stats);
            }
            history.epochs.push(stats);
            if let Some(stop) = stop {
                history.stop = stop;
                break;
            }
        }
        Ok(history)
    }

    /// Which stop rule, if any, holds after an epoch with `stats`.
    fn stop_reason(&self, stats: &EpochStats) -> Option<StopReason> {
        if self.losses_below.is_some_and(|t| stats.max_loss < t) {
            Some(StopReason::AllLossesBelow)
        } else if self.accuracy_target.is_some_and(|t| stats.accuracy >= t) {
            Some(StopReason::AccuracyReached)
        } else {
            None
        }
    }
}

/// Rows `first..first + rows` of `data`: inputs and targets, row-major (no copy).
fn rows_of(data: &Dataset, first: usize, rows: usize) -> (&[f64], &[f64]) {
    let (xc, yc) = (data.x.cols(), data.y.cols());
    let x = &data.x.as_slice()[first * xc..(first + rows) * xc];
    let y = &data.y.as_slice()[first * yc..(first + rows) * yc];
    (x, y)
}

/// The shuffled order of an epoch and the buffers its batches are gathered into.
struct Shuffled {
    rng: StdRng,
    order: Vec<usize>,
    x: Vec<f64>,
    y: Vec<f64>,
}

impl Shuffled {
    fn new(seed: u64, data: &Dataset, batch: usize) -> Self {
        Shuffled {
            rng: StdRng::seed_from_u64(seed),
            order: (0..data.len()).collect(),
            x: vec![0.0; batch * data.x.cols()],
            y: vec![0.0; batch * data.y.cols()],
        }
    }

    /// Copies the rows `order[first..first + rows]` into the buffers and returns them.
    fn gather(&mut self, data: &Dataset, first: usize, rows: usize) -> (&[f64], &[f64]) {
        let (xc, yc) = (data.x.cols(), data.y.cols());
        for (k, &row) in self.order[first..first + rows].iter().enumerate() {
            self.x[k * xc..(k + 1) * xc].copy_from_slice(data.x.row(row));
            self.y[k * yc..(k + 1) * yc].copy_from_slice(data.y.row(row));
        }
        (&self.x[..rows * xc], &self.y[..rows * yc])
    }
}

/// Checks everything that comes from outside before the first step.
fn check<O: Optimizer + ?Sized>(
    mlp: &Mlp,
    optimizer: &O,
    data: &Dataset,
) -> Result<(), TrainError> {
    if data.is_empty() {
        return Err(TrainError::EmptyData);
    }
    let inputs = mlp.layers[0].weight.rows();
    let outputs = mlp.layers[mlp.layers.len() - 1].weight.cols();
    if data.x.cols() != inputs || data.y.cols() != outputs || data.x.rows() != data.y.rows() {
        return Err(TrainError::Shape(format!(
            "the data set has {} rows of {} inputs and {} rows of {} targets, but the network \
             {:?} takes {inputs} inputs and gives {outputs} outputs per row",
            data.x.rows(),
            data.x.cols(),
            data.y.rows(),
            data.y.cols(),
            mlp.sizes()
        )));
    }
    optimizer
        .state()
        .check_fits(mlp)
        .map_err(TrainError::OptimizerState)
}

/// One step on a batch: forward, loss, backward, and, if the loss and every gradient are finite,
/// the update. Returns the loss, or `None` (weights untouched) if something was not finite.
#[inline]
fn train_step<O: Optimizer + ?Sized>(
    tape: &mut Tape,
    mlp: &mut Mlp,
    optimizer: &mut O,
    loss: Loss,
    x: &[f64],
    y: &[f64],
    rows: usize,
) -> Option<f64> {
    tape.reset();
    let tape: &Tape = tape;
    let net = mlp.bind(tape);
    let prediction = net.forward(tape.input_slice(rows, x.len() / rows, x));
    let out = loss.apply(prediction, tape.input_slice(rows, y.len() / rows, y));
    let value = out.item();
    if !value.is_finite() {
        return None;
    }
    let grads = tape.backward(out);
    if !gradients_finite(&net, &grads) {
        return None;
    }
    optimizer.step(mlp, &net, &grads);
    Some(value)
}

/// The failing step again, in anomaly mode: the first NaN or infinity, with its op and line.
#[cold]
fn replay(mlp: &Mlp, loss: Loss, x: &[f64], y: &[f64], rows: usize) -> Option<Box<Anomaly>> {
    anomaly::diagnose(|tape| {
        let net = mlp.bind(tape);
        let prediction = net.forward(tape.input_slice(rows, x.len() / rows, x));
        loss.apply(prediction, tape.input_slice(rows, y.len() / rows, y))
    })
    .map(Box::new)
}

/// Whether every parameter's gradient in `grads` is finite (no NaN, no infinity). The training
/// loop calls it before each update, so a bad gradient never reaches the weights.
#[inline]
pub fn gradients_finite<'t>(net: &Bound<'t>, grads: &Gradients<'t>) -> bool {
    net.params().iter().all(|&p| all_finite(&grads.wrt(p)))
}

/// Whether every value is finite. Branch-free, so it vectorises: `v · 0` is 0 for a finite `v`
/// and NaN for NaN or ±∞, and a sum with a NaN in it is NaN.
#[inline]
pub fn all_finite(values: &[f64]) -> bool {
    values.iter().fold(0.0, |acc, &v| acc + v * 0.0) == 0.0
}

/// The evaluation after each epoch: its own tape and per-sample losses, reused.
struct Evaluation {
    tape: Tape,
    losses: Vec<f64>,
}

/// What [`Evaluation::run`] measured.
struct Measured {
    loss: f64,
    max_loss: f64,
    accuracy: f64,
}

impl Evaluation {
    fn new(rows: usize) -> Self {
        Evaluation {
            tape: Tape::new(),
            losses: Vec::with_capacity(rows),
        }
    }

    /// One batched forward pass over all of `data`, then each sample's loss and whether it is
    /// classified right.
    fn run(&mut self, mlp: &Mlp, loss: Loss, data: &Dataset) -> Measured {
        self.tape.reset();
        let tape = &self.tape;
        let n = data.len();
        let x = tape.input_slice(n, data.x.cols(), data.x.as_slice());
        let prediction = mlp.bind(tape).forward(x).value_ref();
        let yc = data.y.cols();
        self.losses.clear();
        let mut correct = 0usize;
        for (p, y) in prediction.chunks(yc).zip(data.y.as_slice().chunks(yc)) {
            self.losses.push(sample_loss(loss, p, y));
            correct += usize::from(is_correct(p, y));
        }
        let max_loss = self
            .losses
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let mean = self.losses.iter().sum::<f64>() / n as f64;
        // f64::max skips NaN: a NaN loss must not look like a small one.
        let max_loss = if mean.is_nan() { f64::NAN } else { max_loss };
        Measured {
            loss: mean,
            max_loss,
            accuracy: correct as f64 / n as f64,
        }
    }
}

/// One sample's loss: `loss` of its predictions `p` against its targets `y`, by the formulas and
/// in the summation order of the loss ops (see [`crate::loss`]).
fn sample_loss(loss: Loss, p: &[f64], y: &[f64]) -> f64 {
    let sse = || -> f64 { p.iter().zip(y).map(|(p, y)| (p - y) * (p - y)).sum() };
    match loss {
        Loss::Mse => sse() / p.len() as f64,
        Loss::Sse => sse(),
        Loss::Bce => {
            let total: f64 = p
                .iter()
                .zip(y)
                .map(|(&p, &y)| {
                    let p = p.clamp(BCE_EPS, 1.0 - BCE_EPS);
                    y * p.ln() + (1.0 - y) * (1.0 - p).ln()
                })
                .sum();
            -total / p.len() as f64
        }
    }
}

/// Whether predictions `p` classify a sample with targets `y` right: one output, the same side of
/// 0.5; several, the largest in the same place.
fn is_correct(p: &[f64], y: &[f64]) -> bool {
    if let ([p], [y]) = (p, y) {
        return (*p >= 0.5) == (*y >= 0.5);
    }
    let argmax = |v: &[f64]| {
        v.iter()
            .enumerate()
            .fold((0, f64::NEG_INFINITY), |best, (i, &x)| {
                if x > best.1 {
                    (i, x)
                } else {
                    best
                }
            })
            .0
    };
    argmax(p) == argmax(y)
}

/// The network's outputs for each row of `x` (one batched forward pass on a fresh tape).
///
/// # Panics
/// If `x` does not have as many columns as the network has inputs.
#[track_caller]
pub fn predict(mlp: &Mlp, x: &Matrix) -> Matrix {
    let tape = Tape::new();
    let prediction = mlp.bind(&tape).forward(tape.input(x));
    prediction.value()
}

/// The fraction of `data` that `mlp` classifies right (see the module doc: ≥ 0.5 is class 1 for
/// one output, the largest output otherwise). 0 for an empty data set.
///
/// # Panics
/// If the data set's shapes do not fit the network.
#[track_caller]
pub fn accuracy(mlp: &Mlp, data: &Dataset) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let prediction = predict(mlp, &data.x);
    let (pc, yc) = (prediction.cols(), data.y.cols());
    assert_eq!(pc, yc, "accuracy: {pc} outputs but {yc} targets per row");
    let correct = prediction
        .as_slice()
        .chunks(pc)
        .zip(data.y.as_slice().chunks(yc))
        .filter(|(p, y)| is_correct(p, y))
        .count();
    correct as f64 / data.len() as f64
}

/// What one epoch did, measured after its last step (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochStats {
    /// Which epoch, counted from 1.
    pub epoch: usize,
    /// Mean loss over the data set.
    pub loss: f64,
    /// The largest single sample's loss: every sample's loss is at most this.
    pub max_loss: f64,
    /// Fraction of samples classified right, in `[0, 1]`.
    pub accuracy: f64,
    /// Mean of the losses the epoch's steps computed, each before its own update (the figure the
    /// lab printed).
    pub step_loss: f64,
    /// Steps (batches) taken in the epoch.
    pub steps: usize,
    /// Wall-clock seconds the epoch took, its evaluation included.
    pub seconds: f64,
}

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The epoch cap ([`Trainer::epochs`]) was reached.
    EpochCap,
    /// Every sample's loss fell below the threshold ([`Trainer::stop_when_all_losses_below`]).
    AllLossesBelow,
    /// The accuracy reached the target ([`Trainer::stop_at_accuracy`]).
    AccuracyReached,
}

/// A finished run: each epoch's statistics, in order, and why it stopped.
#[derive(Clone, Debug, PartialEq)]
pub struct History {
    /// One entry per epoch run.
    pub epochs: Vec<EpochStats>,
    /// Why the run stopped.
    pub stop: StopReason,
}

impl History {
    /// The last epoch's statistics (`None` if no epoch ran: an epoch cap of 0).
    pub fn last(&self) -> Option<&EpochStats> {
        self.epochs.last()
    }
}

/// Why a run could not train.
#[derive(Clone, Debug, PartialEq)]
pub enum TrainError {
    /// A loss or a gradient went NaN or infinite; the update that would have used it was not made.
    Diverged {
        /// The epoch, counted from 1.
        epoch: usize,
        /// The step within the epoch, counted from 1; `None` for the evaluation after the epoch's
        /// steps (the last update overflowed the weights).
        step: Option<usize>,
        /// The first NaN or infinity found by replaying the step in anomaly mode, with its op
        /// and where it was recorded; `None` if the replay found none. (Boxed, as
        /// [`Tape::try_backward`]'s, to keep the error small.)
        anomaly: Option<Box<Anomaly>>,
    },
    /// The data set has no rows.
    EmptyData,
    /// The data set does not fit the network (columns, or rows of inputs against targets).
    Shape(String),
    /// The optimizer's state was made for another network.
    OptimizerState(StateError),
}

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainError::Diverged {
                epoch,
                step,
                anomaly,
            } => {
                match step {
                    Some(step) => write!(f, "diverged at epoch {epoch}, step {step}: ")?,
                    None => write!(f, "diverged at epoch {epoch}, in the evaluation after it: ")?,
                }
                match anomaly {
                    Some(anomaly) => write!(f, "{anomaly}"),
                    None => f.write_str(
                        "a loss or gradient was NaN or infinite, but replaying the step in \
                         anomaly mode found none",
                    ),
                }
            }
            TrainError::EmptyData => f.write_str("cannot train on an empty data set"),
            TrainError::Shape(what) => f.write_str(what),
            TrainError::OptimizerState(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for TrainError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TrainError::Diverged {
                anomaly: Some(a), ..
            } => Some(a.as_ref()),
            TrainError::OptimizerState(e) => Some(e),
            _ => None,
        }
    }
}
