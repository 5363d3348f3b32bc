//! The losses by name, for code that picks one at run time (the lab's experiments, the CLI).
//!
//! Conventions (each op's file derives its gradient):
//! - [`Loss::Mse`]: `(1/n) Σ (p − y)²`, mean over all n entries, no ½ (PyTorch's `MSELoss`).
//! - [`Loss::Sse`]: `Σ (p − y)²`, the sum; the lab's ½·Σ is `0.5 * p.sse(y)`.
//! - [`Loss::Bce`]: `−(1/n) Σ [y ln p̂ + (1 − y) ln(1 − p̂)]`, `p̂` clipped to `[1e-7, 1 − 1e-7]`.

use crate::tape::Var;

/// A loss function of a prediction and a target of the same shape, giving a 1×1 value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Loss {
    /// Mean squared error.
    Mse,
    /// Sum of squared errors.
    Sse,
    /// Binary cross-entropy (log-loss) with clipped predictions.
    Bce,
}

impl Loss {
    /// Records this loss of `prediction` against `target`.
    ///
    /// # Panics
    /// If the shapes differ.
    #[track_caller]
    pub fn apply<'t>(self, prediction: Var<'t>, target: Var<'t>) -> Var<'t> {
        match self {
            Loss::Mse => prediction.mse(target),
            Loss::Sse => prediction.sse(target),
            Loss::Bce => prediction.bce(target),
        }
    }
}
