//! # chainrule
//!
//! A small reverse-mode automatic differentiation engine: every op you apply is recorded on an
//! arena [`Tape`], and one reverse sweep over it computes every gradient by the chain rule.
//!
//! ```
//! use chainrule::Tape;
//!
//! // y = x² + 5x + 4 at x = 3: y = 28, dy/dx = 2x + 5 = 11
//! let tape = Tape::new();
//! let x = tape.scalar(3.0);
//! let y = x * x + 5.0 * x + 4.0;
//! let grads = tape.backward(y);
//! assert_eq!(y.item(), 28.0);
//! assert_eq!(grads.wrt(x).item(), 11.0);
//! ```
//!
//! Where things are:
//! - [`Tape`] and [`Var`] (`src/tape.rs`): recording, reuse without allocation; the reverse sweep
//!   (`src/sweep.rs`).
//! - every op's forward and backward rule side by side in `src/ops/<op>.rs`; the list is [`Op`].
//!   Shapes that differ broadcast as in NumPy (`e / e.row_sums()`); ops of your own go through
//!   [`ops::CustomOp`] and [`Tape::custom`].
//! - [`Gradients`] (`src/grads.rs`): reading gradients per variable.
//! - [`Replay`] (`src/replay/`): a step recorded once and run again on new leaf values, with
//!   no recording and no allocation per step; [`Trainer`] uses it.
//! - [`gradcheck`] (`src/check.rs`): the tape's gradients against central finite differences.
//! - [`optim`]: [`Optimizer`] and its SGD, momentum and Adam; [`train`]: the training loop
//!   ([`Trainer`]) with the lab's stop rule, a [`History`] per epoch and divergence caught.
//! - [`experiment`]: the lab reports' comparisons (learning rate, hidden sizes, activation,
//!   optimizer, loss, initialisation), one call each, as a Markdown table and overlaid curves.
//! - [`io`]: weights as safetensors in PyTorch's `nn.Linear` layout, the optimizer's state, and
//!   what it takes to continue a run; [`data::Builtin`] and [`names`]: choices by name.
//! - the `chainrule` command (`src/bin/chainrule/`, feature `cli`): train, predict, graph and
//!   trace from the shell (`docs/cli.md`).
#![deny(missing_docs)]

pub mod anomaly;
pub mod check;
pub mod data;
pub mod experiment;
mod grads;
pub mod hand;
pub mod io;
pub mod kernels;
pub mod loss;
mod matrix;
pub mod names;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod plot;
pub mod replay;
mod sweep;
mod tape;
pub mod train;
pub mod viz;

pub use anomaly::Anomaly;
pub use check::{gradcheck, GradCheckError, GradCheckReport};
pub use grads::{Gradients, MatRef};
pub use matrix::Matrix;
pub use ops::{Op, Reduce};
pub use optim::Optimizer;
pub use replay::{Replay, ReplayError};
pub use tape::{Mark, NodeId, Tape, Var};
pub use train::{History, Trainer};

/// The README's examples, run as doc tests so they cannot drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
