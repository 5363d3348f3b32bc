//! What a run gives back: an [`EpochStats`] per epoch in a [`History`] with its [`StopReason`],
//! or a [`TrainError`].

use std::fmt;

use crate::anomaly::Anomaly;
use crate::optim::StateError;

/// What one epoch did. Loss and accuracy are measured as [`Trainer::measure`](super::Trainer::measure) says: during the
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
    /// The epoch cap ([`Trainer::epochs`](super::Trainer::epochs)) was reached.
    EpochCap,
    /// Every sample's loss fell below the threshold ([`Trainer::stop_when_all_losses_below`](super::Trainer::stop_when_all_losses_below)).
    AllLossesBelow,
    /// The accuracy reached the target ([`Trainer::stop_at_accuracy`](super::Trainer::stop_at_accuracy)).
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
        /// [`Tape::try_backward`](crate::tape::Tape::try_backward)'s, to keep the error small.)
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
