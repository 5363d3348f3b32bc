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
//! each epoch with [`Trainer::shuffle`]. Each batch is one step: forward, loss, backward, update.
//!
//! The network's graph is the same in every step of a given batch size, so it is recorded once,
//! on the run's first step, and then replayed ([`Replay`](crate::Replay)): each step writes the
//! batch into the recorded input and target, re-runs the forward kernels and the sweep, and the
//! optimizer updates the parameters where they live, on that tape; the network is brought up to
//! date at the end of each epoch. A batch of another size (a short last batch) is recorded
//! afresh on a second tape. [`Trainer::record_every_step`] records every step instead (reset,
//! bind, forward, loss, backward, update on one reused [`Tape`]): the numbers are the same to the
//! bit either way, only slower. A step allocates nothing once the first has sized the tapes.
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
//! If one is not, training stops before the weights are touched, and the step is run again (same
//! weights, same batch) in anomaly mode ([`anomaly::diagnose`]) to name the op and the line that
//! first produced a NaN or an infinity: [`TrainError::Diverged`]. A finite step whose update
//! overflows the weights is caught by the next step, or, after the last step of a run, by the
//! evaluation that checks the returned weights.

use std::fmt;
use std::time::Instant;

use rand::seq::SliceRandom;

use crate::anomaly::{self, Anomaly};
use crate::data::Dataset;
use crate::loss::Loss;
use crate::matrix::Matrix;
use crate::nn::Mlp;
use crate::optim::Optimizer;
use crate::tape::Tape;

mod eval;
mod history;
mod step;

pub use eval::{accuracy, all_finite, gradients_finite, predict};
pub use history::{EpochStats, History, StopReason, TrainError};

use eval::{Evaluation, Figures, Tally};
use step::{check, rows_of, train_step, Shuffled, StaticStep};

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
    record_every_step: bool,
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
            .field("record_every_step", &self.record_every_step)
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
            record_every_step: false,
        }
    }

    /// Record every step on a reset tape (`true`) instead of recording the step once and
    /// replaying it (`false`, the default; see the module doc). The results are the same to the
    /// bit; recording is the way to watch each step's graph being built, and the reference the
    /// replay is tested against.
    pub fn record_every_step(mut self, on: bool) -> Self {
        self.record_every_step = on;
        self
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
        // The static step, recorded on the first full-size batch and replayed after it.
        let static_tape = Tape::new();
        let mut fixed: Option<StaticStep<'_>> = None;
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
                let ok = if !self.record_every_step && rows == batch {
                    fixed
                        .get_or_insert_with(|| {
                            StaticStep::record(&static_tape, mlp, self.loss, x, y, rows)
                        })
                        .step(optimizer, self.loss, x, y, tally)
                } else {
                    // A step of another shape, recorded apart on the network brought up to date.
                    if let Some(s) = &fixed {
                        s.copy_into(mlp);
                    }
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
                    if let Some(s) = &fixed {
                        s.copy_from(mlp);
                    }
                    ok
                };
                if !ok {
                    if let Some(s) = &fixed {
                        s.copy_into(mlp);
                    }
                    let anomaly = diagnose_step(mlp, self.loss, x, y, rows);
                    let step = Some(steps);
                    return Err(TrainError::Diverged {
                        epoch,
                        step,
                        anomaly,
                    });
                }
            }
            if let Some(s) = &fixed {
                s.copy_into(mlp);
            }
            let after_epoch = |eval: &mut Evaluation, mlp: &Mlp| {
                let figures = eval.run(mlp, self.loss, data);
                if figures.loss.is_finite() && mlp.params().all(|p| all_finite(p.as_slice())) {
                    return Ok(figures);
                }
                let (x, y) = (data.x.as_slice(), data.y.as_slice());
                let anomaly = diagnose_step(mlp, self.loss, x, y, n);
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

/// The failing step again, in anomaly mode: the first NaN or infinity, with its op and line.
#[cold]
fn diagnose_step(mlp: &Mlp, loss: Loss, x: &[f64], y: &[f64], rows: usize) -> Option<Box<Anomaly>> {
    anomaly::diagnose(|tape| {
        let net = mlp.bind(tape);
        let prediction = net.forward(tape.input_slice(rows, x.len() / rows, x));
        loss.apply(prediction, tape.input_slice(rows, y.len() / rows, y))
    })
    .map(Box::new)
}
