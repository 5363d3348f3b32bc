//! Optimizers by name and hyperparameters, for code that picks one at run time (the command
//! line, the experiments, a saved run): [`OptimizerKind`] parses `sgd`, `momentum`, `adam`;
//! [`OptimizerSpec`] adds the hyperparameters and builds the optimizer.

use std::fmt;
use std::str::FromStr;

use super::{Adam, Momentum, Optimizer, Sgd};
use crate::names::{lookup, UnknownName};

/// The kinds of optimizer, by name (`sgd`, `momentum`, `adam`), for code that picks one at run
/// time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OptimizerKind {
    /// [`Sgd`].
    Sgd,
    /// [`Momentum`].
    Momentum,
    /// [`Adam`].
    Adam,
}

impl OptimizerKind {
    /// The names [`FromStr`] accepts and [`Display`](fmt::Display) writes, in declaration order.
    pub const NAMES: &'static [&'static str] = &["sgd", "momentum", "adam"];

    /// Its name, also [`Optimizer::name`] and [`OptimizerState::kind`](super::OptimizerState::kind) of its optimizer.
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Momentum => "momentum",
            OptimizerKind::Adam => "adam",
        }
    }

    /// This kind with learning rate `lr` and every other hyperparameter at its default
    /// (momentum `μ = 0.9`; Adam `β₁ = 0.9`, `β₂ = 0.999`, `ε = 1e-8`).
    pub fn with_lr(self, lr: f64) -> OptimizerSpec {
        match self {
            OptimizerKind::Sgd => OptimizerSpec::Sgd { lr },
            OptimizerKind::Momentum => OptimizerSpec::Momentum { lr, mu: 0.9 },
            OptimizerKind::Adam => OptimizerSpec::Adam {
                lr,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
            },
        }
    }
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OptimizerKind {
    type Err = UnknownName;

    /// One of [`OptimizerKind::NAMES`]; `gd` is also accepted for [`OptimizerKind::Sgd`].
    fn from_str(word: &str) -> Result<Self, UnknownName> {
        let table = [
            ("sgd", OptimizerKind::Sgd),
            ("gd", OptimizerKind::Sgd),
            ("momentum", OptimizerKind::Momentum),
            ("adam", OptimizerKind::Adam),
        ];
        lookup("optimizer", word, &table, Self::NAMES)
    }
}

/// An optimizer's kind and hyperparameters: what it takes to build one ([`build`](Self::build)),
/// and what is saved beside its [`OptimizerState`](super::OptimizerState) to continue a run.
///
/// ```
/// use chainrule::optim::{OptimizerKind, OptimizerSpec};
///
/// let spec = "momentum".parse::<OptimizerKind>().unwrap().with_lr(0.1);
/// assert_eq!(spec, OptimizerSpec::Momentum { lr: 0.1, mu: 0.9 });
/// assert_eq!(spec.build().name(), "momentum");
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OptimizerSpec {
    /// [`Sgd`] with learning rate `lr`.
    Sgd {
        /// The learning rate.
        lr: f64,
    },
    /// [`Momentum`] with learning rate `lr` and coefficient `mu`.
    Momentum {
        /// The learning rate.
        lr: f64,
        /// The momentum coefficient μ.
        mu: f64,
    },
    /// [`Adam`] with every hyperparameter.
    Adam {
        /// The learning rate.
        lr: f64,
        /// Decay of the gradient's running mean.
        beta1: f64,
        /// Decay of the squared gradient's running mean.
        beta2: f64,
        /// Added to `√v̂`.
        eps: f64,
    },
}

impl OptimizerSpec {
    /// Which kind of optimizer.
    pub fn kind(&self) -> OptimizerKind {
        match self {
            OptimizerSpec::Sgd { .. } => OptimizerKind::Sgd,
            OptimizerSpec::Momentum { .. } => OptimizerKind::Momentum,
            OptimizerSpec::Adam { .. } => OptimizerKind::Adam,
        }
    }

    /// The learning rate.
    pub fn lr(&self) -> f64 {
        match *self {
            OptimizerSpec::Sgd { lr }
            | OptimizerSpec::Momentum { lr, .. }
            | OptimizerSpec::Adam { lr, .. } => lr,
        }
    }

    /// The hyperparameters by name, learning rate first: `[("lr", 0.8)]` for SGD,
    /// `lr, mu` for momentum, `lr, beta1, beta2, eps` for Adam.
    pub fn hyperparameters(&self) -> Vec<(&'static str, f64)> {
        match *self {
            OptimizerSpec::Sgd { lr } => vec![("lr", lr)],
            OptimizerSpec::Momentum { lr, mu } => vec![("lr", lr), ("mu", mu)],
            OptimizerSpec::Adam {
                lr,
                beta1,
                beta2,
                eps,
            } => vec![("lr", lr), ("beta1", beta1), ("beta2", beta2), ("eps", eps)],
        }
    }

    /// A fresh optimizer (no state yet) with these hyperparameters.
    pub fn build(&self) -> Box<dyn Optimizer> {
        match *self {
            OptimizerSpec::Sgd { lr } => Box::new(Sgd::new(lr)),
            OptimizerSpec::Momentum { lr, mu } => Box::new(Momentum::with_mu(lr, mu)),
            OptimizerSpec::Adam {
                lr,
                beta1,
                beta2,
                eps,
            } => Box::new(Adam::with_params(lr, beta1, beta2, eps)),
        }
    }
}

impl fmt::Display for OptimizerSpec {
    /// `adam (lr 0.01, beta1 0.9, beta2 0.999, eps 0.00000001)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let params: Vec<String> = self
            .hyperparameters()
            .iter()
            .map(|(name, value)| format!("{name} {value}"))
            .collect();
        write!(f, "{} ({})", self.kind(), params.join(", "))
    }
}
