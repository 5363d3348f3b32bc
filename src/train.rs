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
//! Two ways, chosen with [`Trainer::measure`]:
//! - [`Measure::DuringEpoch`] (the default, and the lab's way): each sample's loss and prediction
//!   are taken in its own step, before that step's update, and an epoch's figures summarise
//!   them. They cost nothing extra (the step computes them anyway), but they mix weights: the
//!   first sample was scored by the epoch's first weights, the last by nearly its last.
//! - [`Measure::AfterEpoch`]: after an epoch's steps, the whole data set goes through the network
//!   once more with the weights the epoch left (one batched forward pass on a second reused tape,
//!   no backward), so every figure describes the same weights. For the lab's 2-4-4-1 network on
//!   100 points this is 12% of the instructions of the epoch's 100 per-sample steps (measured
//!   with callgrind).
//!
//! Either way, a stop rule is only obeyed when it holds for the weights that are returned: when
//! the figures of [`Measure::DuringEpoch`] meet a rule, that evaluation runs once to confirm it,
//! and training goes on if it does not hold. So after [`StopReason::AllLossesBelow`], every
//! sample's loss under the returned network is below the threshold.
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
//! overflows the weights is caught by the next step, or, after the last step of a run, by the
//! evaluation that checks the returned weights.

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
/// epoch cap, figures measured during the epoch, silent.
pub struct Trainer<'c> {
    loss: Loss,
    epochs: usize,
    batch_size: usize,
    shuffle: Option<u64>,
    losses_below: Option<f64>,
    accuracy_target: Option<f64>,
    measure: Measure,
    print_every: Option<usize>,
    on_epoch: Option<EpochCallback<'c>>,
    done: usize,
}

/// When an epoch's loss and accuracy are measured (see the module doc).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Measure {
    /// Each sample in its own step, before that step's update: free, the lab's figures.
    #[default]
    DuringEpoch,
    /// Every sample after the epoch's last step, with the same weights: one extra forward pass
    /// over the data set per epoch.
    AfterEpoch,
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
            .field("measure", &self.measure)
            .field("print_every", &self.print_every)
            .field(
                "on_epoch",
                &self.on_epoch.as_ref().map(|_| "FnMut(&EpochStats)"),
            )
            .field("done", &self.done)
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
            measure: Measure::DuringEpoch,
            print_every: None,
            on_epoch: None,
            done: 0,
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

    /// When each epoch's loss and accuracy are measured: during the epoch (the default) or
    /// after it (see the module doc).
    pub fn measure(mut self, when: Measure) -> Self {
        self.measure = when;
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

    /// Continue a run that has already done `epochs_done` epochs (its weights and optimizer state
    /// are the ones passed to [`run`](Trainer::run)): epochs are numbered from `epochs_done + 1`,
    /// the cap of [`epochs`](Trainer::epochs) counts the epochs done too, and with
    /// [`shuffle`](Trainer::shuffle) the orders go on from the one the last epoch done used. So
    /// a run of N epochs and a run of N + M resumed after N give the same weights, and the same
    /// statistics for epochs N + 1 to N + M, as one run of N + M.
    ///
    /// (One case differs: when the stop rule is met at epoch N only by the check of the returned
    /// weights that a run makes at its cap, the run of N stops there, while the longer run,
    /// which confirms a rule only when the epoch's figures meet it, goes on. The epoch's
    /// [`EpochStats::max_loss`] tells the two apart.)
    pub fn resume_after(mut self, epochs_done: usize) -> Self {
        self.done = epochs_done;
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
    /// like one run of N + M epochs (with [`shuffle`](Trainer::shuffle), whose orders restart
    /// from the seed in each run, only when the second run is told
    /// [`resume_after`](Trainer::resume_after)`(N)`).
    ///
    /// # Errors
    /// - [`TrainError::Diverged`] when a loss or a gradient is NaN or infinite: the weights are
    ///   left as they were before the failing step (with `step: None`, the run's last update
    ///   itself made them non-finite, and they are left so);
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
        let mut eval = Evaluation::new();
        let mut grad_buf = vec![0.0; mlp.params().map(Matrix::len).sum()];
        // Sizes the evaluation's tape now, so that no epoch allocates, the one whose figures
        // first meet a stop rule included.
        eval.run(mlp, self.loss, data);
        let mut shuffled = self.shuffle.map(|seed| Shuffled::new(seed, data, batch));
        if let Some(s) = &mut shuffled {
            // The orders of the epochs already done, so the next epoch draws the one it would
            // have drawn in a single run.
            for _ in 0..self.done {
                s.order.shuffle(&mut s.rng);
            }
        }
        let to_run = self.epochs.saturating_sub(self.done);
        let mut history = History {
            epochs: Vec::with_capacity(to_run.min(HISTORY_RESERVE)),
            stop: StopReason::EpochCap,
        };
        for epoch in self.done + 1..=self.epochs {
            let start = Instant::now();
            if let Some(s) = &mut shuffled {
                s.order.shuffle(&mut s.rng);
            }
            let mut tally = Tally::new();
            let during = self.measure == Measure::DuringEpoch;
            let mut steps = 0;
            for first in (0..n).step_by(batch) {
                let rows = batch.min(n - first);
                let (x, y) = match &mut shuffled {
                    Some(s) => s.gather(data, first, rows),
                    None => rows_of(data, first, rows),
                };
                steps += 1;
                let tally = during.then_some(&mut tally);
                let ok = train_step(
                    &mut tape,
                    mlp,
                    optimizer,
                    self.loss,
                    x,
                    y,
                    rows,
                    tally,
                    &mut grad_buf,
                );
                if !ok {
                    let anomaly = replay(mlp, self.loss, x, y, rows);
                    let step = Some(steps);
                    return Err(TrainError::Diverged {
                        epoch,
                        step,
                        anomaly,
                    });
                }
            }
            let after_epoch = |eval: &mut Evaluation, mlp: &Mlp| {
                let figures = eval.run(mlp, self.loss, data);
                if figures.loss.is_finite() && mlp.params().all(|p| all_finite(p.as_slice())) {
                    return Ok(figures);
                }
                let (x, y) = (data.x.as_slice(), data.y.as_slice());
                let anomaly = replay(mlp, self.loss, x, y, n);
                let step = None;
                Err(TrainError::Diverged {
                    epoch,
                    step,
                    anomaly,
                })
            };
            let figures = match self.measure {
                Measure::DuringEpoch => tally.figures(n),
                Measure::AfterEpoch => after_epoch(&mut eval, mlp)?,
            };
            let mut stop = self.stop_reason(&figures);
            if during && (stop.is_some() || epoch == self.epochs) {
                // Confirm the rule on the returned weights (and check them at the end).
                stop = self.stop_reason(&after_epoch(&mut eval, mlp)?);
            }
            let stats = EpochStats {
                epoch,
                loss: figures.loss,
                max_loss: figures.max_loss,
                accuracy: figures.accuracy,
                steps,
                seconds: start.elapsed().as_secs_f64(),
            };
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

    /// Which stop rule, if any, holds for `stats`.
    fn stop_reason(&self, stats: &Figures) -> Option<StopReason> {
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
/// the update; with `tally`, each sample's loss and classification are added to it. Returns
/// `false` (weights untouched) if something was not finite.
///
/// Each gradient is read off the tape once, into `grad_buf` (as long as all parameters
/// together), checked there, and the update reads it from there: the optimizer is driven by
/// [`Optimizer::begin_step`] and [`Optimizer::update`].
#[inline]
#[allow(clippy::too_many_arguments)]
fn train_step<O: Optimizer + ?Sized>(
    tape: &mut Tape,
    mlp: &mut Mlp,
    optimizer: &mut O,
    loss: Loss,
    x: &[f64],
    y: &[f64],
    rows: usize,
    tally: Option<&mut Tally>,
    grad_buf: &mut [f64],
) -> bool {
    tape.reset();
    let tape: &Tape = tape;
    let net = mlp.bind(tape);
    let prediction = net.forward(tape.input_slice(rows, x.len() / rows, x));
    let out = loss.apply(prediction, tape.input_slice(rows, y.len() / rows, y));
    if !out.item().is_finite() {
        return false;
    }
    if let Some(tally) = tally {
        tally.add(loss, &prediction.value_ref(), y, y.len() / rows);
    }
    let grads = tape.backward(out);
    let mut at = 0;
    for &param in net.params() {
        let grad = grads.wrt(param);
        grad_buf[at..at + grad.len()].copy_from_slice(&grad);
        at += grad.len();
    }
    if !all_finite(grad_buf) {
        return false;
    }
    optimizer.begin_step();
    let mut at = 0;
    for (slot, param) in mlp.params_mut().enumerate() {
        let len = param.len();
        optimizer.update(slot, param.as_mut_slice(), &grad_buf[at..at + len]);
        at += len;
    }
    true
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

/// Whether every parameter's gradient in `grads` is finite (no NaN, no infinity): for a
/// hand-written loop, to call before [`Optimizer::step`] so a bad gradient never reaches the
/// weights. ([`Trainer`] makes the same check on the copy of the gradients its update reads.)
///
/// ```
/// use chainrule::nn::{Activation, Init, Mlp};
/// use chainrule::{optim::Sgd, train, Matrix, Tape};
///
/// let mut mlp = Mlp::new(&[2, 1], &[Activation::Identity], true, Init::Uniform, 1);
/// let tape = Tape::new();
/// let net = mlp.bind(&tape);
/// let x = tape.input(&Matrix::from_rows(&[[f64::MAX, f64::MAX]])); // overflows
/// let loss = net.forward(x).mse(tape.input(&Matrix::scalar(0.0)));
/// let grads = tape.backward(loss);
/// assert!(!train::gradients_finite(&net, &grads));
/// ```
#[inline]
pub fn gradients_finite<'t>(net: &Bound<'t>, grads: &Gradients<'t>) -> bool {
    net.params().iter().all(|&p| all_finite(&grads.wrt(p)))
}

/// Whether every value is finite. Branch-free, so it vectorises: a value is NaN or ±∞ exactly
/// when its exponent bits are all ones, and or-ing those tests together is associative (a float
/// sum would not be, and would run one add at a time).
#[inline]
pub fn all_finite(values: &[f64]) -> bool {
    const EXPONENT: u64 = 0x7ff0_0000_0000_0000;
    !values
        .iter()
        .fold(false, |bad, v| bad | (v.to_bits() & EXPONENT == EXPONENT))
}

/// The evaluation after an epoch: its own tape, reused.
struct Evaluation {
    tape: Tape,
}

/// An epoch's loss and accuracy figures, from a [`Tally`].
struct Figures {
    loss: f64,
    max_loss: f64,
    accuracy: f64,
}

/// Sums of per-sample losses and right answers.
struct Tally {
    sum: f64,
    max: f64,
    correct: usize,
}

impl Tally {
    fn new() -> Self {
        Tally {
            sum: 0.0,
            max: f64::NEG_INFINITY,
            correct: 0,
        }
    }

    /// Adds the samples of a batch: rows of `cols` predictions `p` against rows of targets `y`.
    #[inline]
    fn add(&mut self, loss: Loss, p: &[f64], y: &[f64], cols: usize) {
        for (p, y) in p.chunks(cols).zip(y.chunks(cols)) {
            let sample = sample_loss(loss, p, y);
            self.sum += sample;
            self.max = self.max.max(sample);
            self.correct += usize::from(is_correct(p, y));
        }
    }

    /// The figures of `n` samples.
    fn figures(&self, n: usize) -> Figures {
        let loss = self.sum / n as f64;
        Figures {
            loss,
            // f64::max skips NaN: a NaN loss must not look like a small one.
            max_loss: if loss.is_nan() { f64::NAN } else { self.max },
            accuracy: self.correct as f64 / n as f64,
        }
    }
}

impl Evaluation {
    fn new() -> Self {
        Evaluation { tape: Tape::new() }
    }

    /// One batched forward pass over all of `data`, then each sample's loss and whether it is
    /// classified right.
    fn run(&mut self, mlp: &Mlp, loss: Loss, data: &Dataset) -> Figures {
        self.tape.reset();
        let tape = &self.tape;
        let x = tape.input_slice(data.len(), data.x.cols(), data.x.as_slice());
        let prediction = mlp.bind(tape).forward(x).value_ref();
        let mut tally = Tally::new();
        tally.add(loss, &prediction, data.y.as_slice(), data.y.cols());
        tally.figures(data.len())
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

/// What one epoch did. Loss and accuracy are measured as [`Trainer::measure`] says: during the
/// epoch (by default) or after it.
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
        /// steps (the last update left a weight, or the loss of the updated network, non-finite).
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
