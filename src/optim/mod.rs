//! Optimizers: update parameters from the gradients of one backward sweep.
//!
//! Every optimizer implements [`Optimizer`]. A step is [`begin_step`](Optimizer::begin_step)
//! followed by one [`update`](Optimizer::update) per parameter *slot* (a parameter's index in a
//! fixed order; for an [`Mlp`] the order of [`Mlp::params_mut`]). [`Optimizer::step`] does exactly
//! that for an `Mlp`; any other model can call the two methods itself.
//!
//! | optimizer | update of a parameter `w` with gradient `g = ∂L/∂w` |
//! |---|---|
//! | [`Sgd`] | `w ← w − lr·g` |
//! | [`Momentum`] | `v ← μ·v − lr·g`, `w ← w + v` |
//! | [`Adam`] | `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`, `w ← w − lr·m̂/(√v̂ + ε)`, `m̂ = m/(1−β₁ᵗ)`, `v̂ = v/(1−β₂ᵗ)` |
//!
//! State (velocities, moments) is kept per slot, allocated during the first step and reused
//! afterwards: a step after the first allocates nothing. It can be read with
//! [`Optimizer::state`] and restored with [`Optimizer::load_state`], to resume training where it
//! stopped.
//!
//! ```
//! use chainrule::nn::{Activation, Init, Mlp};
//! use chainrule::optim::{Adam, Optimizer};
//! use chainrule::{Matrix, Tape};
//!
//! let mut mlp = Mlp::new(&[2, 3, 1], &[Activation::Tanh, Activation::Sigmoid], true, Init::Xavier, 1);
//! let mut adam = Adam::new(0.01);
//! let mut tape = Tape::new();
//! for _ in 0..3 {
//!     tape.reset();
//!     let net = mlp.bind(&tape);
//!     let x = tape.input(&Matrix::from_rows(&[[0.2, 0.9]]));
//!     let loss = net.forward(x).mse(tape.input(&Matrix::scalar(1.0)));
//!     adam.step(&mut mlp, &net, &tape.backward(loss));
//! }
//! assert_eq!(adam.state().t, 3);
//! ```

use std::fmt;

use crate::grads::Gradients;
use crate::matrix::Matrix;
use crate::nn::{Bound, Mlp};
use crate::replay::{Replay, ReplayError};
use crate::tape::Var;

mod adam;
mod momentum;
mod sgd;
mod slots;
mod spec;

pub use adam::Adam;
pub use momentum::Momentum;
pub use sgd::Sgd;
pub use spec::{OptimizerKind, OptimizerSpec};

/// Something that updates parameters from their gradients, one step at a time.
///
/// Implementors provide [`begin_step`](Optimizer::begin_step), [`update`](Optimizer::update),
/// [`state`](Optimizer::state) and [`load_state`](Optimizer::load_state); [`step`](Optimizer::step)
/// drives them over an [`Mlp`]. The trait is object safe: `Box<dyn Optimizer>` picks one at run
/// time.
pub trait Optimizer {
    /// A short lowercase name, also the [`OptimizerState::kind`] of its state: `"sgd"`,
    /// `"momentum"`, `"adam"`.
    fn name(&self) -> &'static str;

    /// Starts a new step: the step count `t ← t + 1` (Adam's bias correction reads it). Call it
    /// once before the step's [`update`](Optimizer::update)s.
    fn begin_step(&mut self);

    /// Updates parameter slot `slot` in place from its gradient `grad` (same length as `param`).
    ///
    /// Slots are numbered 0, 1, 2, … in the same order every step. A slot's state is allocated
    /// the first time it is updated (slots must first appear in order); later updates allocate
    /// nothing.
    ///
    /// # Panics
    /// If `grad` and `param` differ in length, if the slot's state was made for a parameter of
    /// another length (a state restored for a different model: check it first with
    /// [`OptimizerState::check_fits`]), or if `slot` skips a slot never seen before.
    fn update(&mut self, slot: usize, param: &mut [f64], grad: &[f64]);

    /// One step over every parameter of `mlp`, reading each gradient through `net` (the same
    /// `mlp` bound to the tape `grads` came from): [`begin_step`](Optimizer::begin_step), then
    /// [`update`](Optimizer::update) per parameter in the order of [`Mlp::params_mut`].
    #[inline]
    fn step<'t>(&mut self, mlp: &mut Mlp, net: &Bound<'t>, grads: &Gradients<'t>) {
        self.begin_step();
        for (slot, (param, &var)) in mlp.params_mut().zip(net.params()).enumerate() {
            self.update(slot, param.as_mut_slice(), &grads.wrt(var));
        }
    }

    /// One update of parameters that live on a replayed tape ([`Replay`]): begins a step, then
    /// updates each of `params` in place on the tape with its gradient from the replay's last
    /// backward sweep. `params` in the same order every step (the order gives the slots).
    ///
    /// ```
    /// use chainrule::optim::{Optimizer, Sgd};
    /// use chainrule::Tape;
    ///
    /// let tape = Tape::new();
    /// let w = tape.scalar(3.0);
    /// let replay = tape.replay((w * w).mean()); // loss w², gradient 2w
    /// for _ in 0..2 {
    ///     replay.run().unwrap();
    ///     Sgd::new(0.25).step_on_tape(&replay, &[w]).unwrap(); // w ← w − 0.25 · 2w = w / 2
    /// }
    /// assert_eq!(w.item(), 0.75);
    /// ```
    ///
    /// # Errors
    /// As [`Replay::update_params`]: a handle that is not a parameter of the tape, or gradients
    /// that are not those of the current values (call [`Replay::run`] first).
    fn step_on_tape<'t>(
        &mut self,
        replay: &Replay<'t>,
        params: &[Var<'t>],
    ) -> Result<(), ReplayError> {
        self.begin_step();
        replay.update_params(params, |slot, param, grad| self.update(slot, param, grad))
    }

    /// A copy of the optimizer's state: its kind, step count and per-slot buffers.
    fn state(&self) -> OptimizerState;

    /// Replaces the optimizer's state by `state` (hyperparameters such as the learning rate are
    /// not part of a state and stay as they are).
    ///
    /// # Errors
    /// If `state` belongs to another kind of optimizer, lacks or adds a buffer, or its buffers
    /// disagree with each other in slot count or lengths. On error the optimizer is unchanged.
    fn load_state(&mut self, state: &OptimizerState) -> Result<(), StateError>;
}

/// What an optimizer remembers between steps, in a form easy to save: plain numbers and names.
///
/// `buffers` holds one entry per named buffer (`"velocity"` for [`Momentum`]; `"m"` and `"v"` for
/// [`Adam`]; none for [`Sgd`]), each with one `Vec<f64>` per parameter slot, in slot order, of the
/// parameter's length (row-major). Before the first step the buffers have no slots.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerState {
    /// Which optimizer made it: its [`Optimizer::name`].
    pub kind: String,
    /// Steps taken so far (Adam's `t`).
    pub t: u64,
    /// `(name, per-slot values)` for each buffer, in the optimizer's order.
    pub buffers: Vec<(String, Vec<Vec<f64>>)>,
}

impl OptimizerState {
    /// Checks that this state can drive `mlp`: every buffer is empty (no step taken yet) or has
    /// one slot per parameter of `mlp`, each as long as the parameter.
    ///
    /// # Errors
    /// [`StateError::Shape`] naming the first buffer and slot that do not fit.
    pub fn check_fits(&self, mlp: &Mlp) -> Result<(), StateError> {
        self.check_fits_lengths(mlp.params().map(Matrix::len))
    }

    /// [`check_fits`](OptimizerState::check_fits) for any model: `lengths` gives each
    /// parameter slot's number of entries, in slot order.
    ///
    /// # Errors
    /// [`StateError::Shape`] naming the first buffer and slot that do not fit.
    pub fn check_fits_lengths(
        &self,
        lengths: impl IntoIterator<Item = usize>,
    ) -> Result<(), StateError> {
        let lengths: Vec<usize> = lengths.into_iter().collect();
        for (name, slots) in &self.buffers {
            if slots.is_empty() {
                continue;
            }
            if slots.len() != lengths.len() {
                return Err(StateError::Shape(format!(
                    "buffer `{name}` has {} parameter slots but the model has {}",
                    slots.len(),
                    lengths.len()
                )));
            }
            for (slot, (values, &len)) in slots.iter().zip(&lengths).enumerate() {
                if values.len() != len {
                    return Err(StateError::Shape(format!(
                        "buffer `{name}` slot {slot} has {} values but the parameter has {len}",
                        values.len()
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Why an [`OptimizerState`] could not be restored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateError {
    /// The state was made by another kind of optimizer.
    Kind {
        /// The optimizer it was loaded into.
        expected: &'static str,
        /// The state's [`OptimizerState::kind`].
        found: String,
    },
    /// The buffers are not the ones this optimizer keeps (by name, in order).
    Buffers {
        /// The optimizer's buffer names.
        expected: Vec<&'static str>,
        /// The state's buffer names.
        found: Vec<String>,
    },
    /// Slot counts or lengths disagree, between buffers or with a model.
    Shape(String),
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::Kind { expected, found } => write!(
                f,
                "optimizer state of kind `{found}` cannot be loaded into `{expected}`"
            ),
            StateError::Buffers { expected, found } => write!(
                f,
                "optimizer state has buffers {found:?}, expected {expected:?}"
            ),
            StateError::Shape(what) => write!(f, "optimizer state does not fit: {what}"),
        }
    }
}

impl std::error::Error for StateError {}

#[inline]
#[track_caller]
fn same_len(optimizer: &str, param: &[f64], grad: &[f64]) {
    assert!(
        param.len() == grad.len(),
        "{optimizer}: a parameter of {} values got a gradient of {}",
        param.len(),
        grad.len()
    );
}
