//! What the runs give back: each run's [`RunResult`] and [`Outcome`], and a [`Report`]'s Markdown
//! table and figures.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::ops::Op;
use crate::plot::{self, PlotError};

use super::{Report, Setup};

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
    /// A loss or gradient went NaN or infinite ([`TrainError::Diverged`](crate::train::TrainError::Diverged)).
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
