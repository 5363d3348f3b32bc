//! The losses by name, for code that picks one at run time (the lab's experiments, the CLI).
//!
//! Conventions (each op's file derives its gradient):
//! - [`Loss::Mse`]: `(1/n) Σ (p − y)²`, mean over all n entries, no ½ (PyTorch's `MSELoss`).
//! - [`Loss::Sse`]: `Σ (p − y)²`, the sum; the lab's ½·Σ is `0.5 * p.sse(y)`.
//! - [`Loss::Bce`]: `−(1/n) Σ [y ln p̂ + (1 − y) ln(1 − p̂)]`, `p̂` clipped to `[1e-7, 1 − 1e-7]`.

use std::fmt;
use std::str::FromStr;

use crate::names::{lookup, UnknownName};
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

impl Loss {
    /// The names [`FromStr`] accepts and [`Display`](fmt::Display) writes, in declaration order.
    pub const NAMES: &'static [&'static str] = &["mse", "sse", "bce"];

    /// Its name: `mse`, `sse`, `bce`.
    pub fn name(self) -> &'static str {
        match self {
            Loss::Mse => "mse",
            Loss::Sse => "sse",
            Loss::Bce => "bce",
        }
    }
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Loss {
    type Err = UnknownName;

    /// One of [`Loss::NAMES`]; `log-loss` and `cross-entropy` are also accepted for [`Loss::Bce`].
    fn from_str(word: &str) -> Result<Self, UnknownName> {
        let table = [
            ("mse", Loss::Mse),
            ("sse", Loss::Sse),
            ("bce", Loss::Bce),
            ("log-loss", Loss::Bce),
            ("cross-entropy", Loss::Bce),
        ];
        lookup("loss", word, &table, Self::NAMES)
    }
}
