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

/// Per-slot buffers shared by the stateful optimizers: `N` named buffers, each one `Vec<f64>` per
/// parameter slot, grown on a slot's first update.
#[derive(Clone, Debug, PartialEq)]
struct Slots<const N: usize> {
    names: [&'static str; N],
    values: [Vec<Vec<f64>>; N],
}

impl<const N: usize> Slots<N> {
    fn new(names: [&'static str; N]) -> Self {
        Slots {
            names,
            values: std::array::from_fn(|_| Vec::new()),
        }
    }

    /// The `N` buffers of `slot`, created as zeros of length `len` on its first use.
    #[inline]
    #[track_caller]
    fn get(&mut self, optimizer: &str, slot: usize, len: usize) -> [&mut [f64]; N] {
        let known = self.values[0].len();
        if slot == known {
            for buffer in &mut self.values {
                buffer.push(vec![0.0; len]);
            }
        } else if slot > known {
            panic!("{optimizer}: update of slot {slot} before slot {known} was ever updated");
        }
        let have = self.values[0][slot].len();
        assert!(
            have == len,
            "{optimizer}: slot {slot} has state for {have} values but the parameter has {len} \
             (a state restored for another model?)"
        );
        let mut buffers = self.values.iter_mut();
        std::array::from_fn(|_| buffers.next().expect("N buffers")[slot].as_mut_slice())
    }

    fn state(&self, kind: &str, t: u64) -> OptimizerState {
        OptimizerState {
            kind: kind.to_string(),
            t,
            buffers: self
                .names
                .iter()
                .zip(&self.values)
                .map(|(name, slots)| (name.to_string(), slots.clone()))
                .collect(),
        }
    }

    /// Checks `state` against this optimizer's kind and buffer names, and its buffers against
    /// each other; on success returns copies of its buffers.
    fn restore(&self, kind: &'static str, state: &OptimizerState) -> Result<Self, StateError> {
        if state.kind != kind {
            return Err(StateError::Kind {
                expected: kind,
                found: state.kind.clone(),
            });
        }
        let names_match = state.buffers.len() == N
            && state
                .buffers
                .iter()
                .zip(&self.names)
                .all(|((found, _), expected)| found == expected);
        if !names_match {
            return Err(StateError::Buffers {
                expected: self.names.to_vec(),
                found: state.buffers.iter().map(|(n, _)| n.clone()).collect(),
            });
        }
        // Every buffer must have the first buffer's slots, with the same lengths.
        if let Some((first_name, first)) = state.buffers.first() {
            for (name, slots) in &state.buffers[1..] {
                let same = slots.len() == first.len()
                    && slots.iter().zip(first).all(|(a, b)| a.len() == b.len());
                if !same {
                    return Err(StateError::Shape(format!(
                        "buffer `{name}` does not have the slots of buffer `{first_name}` \
                         (slot lengths {:?} vs {:?})",
                        slots.iter().map(Vec::len).collect::<Vec<_>>(),
                        first.iter().map(Vec::len).collect::<Vec<_>>()
                    )));
                }
            }
        }
        let mut restored = self.clone();
        for (values, (_, slots)) in restored.values.iter_mut().zip(&state.buffers) {
            values.clone_from(slots);
        }
        Ok(restored)
    }
}

/// Plain gradient descent: `w ← w − lr · ∂L/∂w`.
///
/// It keeps no state: its [`OptimizerState`] has no buffers and `t = 0` (it is `Copy`, so a value
/// used by [`Sgd::step`] is never changed).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sgd {
    /// The learning rate.
    pub lr: f64,
}

impl Sgd {
    /// Gradient descent with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        Sgd { lr }
    }

    /// Applies one update `w ← w − lr·g` to every parameter of `mlp`, reading its gradient
    /// through `net` (the same `mlp` bound to the tape `grads` came from). Allocates nothing.
    #[inline]
    pub fn step<'t>(&self, mlp: &mut Mlp, net: &Bound<'t>, grads: &Gradients<'t>) {
        for (param, &var) in mlp.params_mut().zip(net.params()) {
            sgd_update(self.lr, param.as_mut_slice(), &grads.wrt(var));
        }
    }
}

/// `w ← w − lr·g`.
#[inline]
#[track_caller]
fn sgd_update(lr: f64, param: &mut [f64], grad: &[f64]) {
    same_len("sgd", param, grad);
    for (w, g) in param.iter_mut().zip(grad) {
        *w -= lr * g;
    }
}

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

impl Optimizer for Sgd {
    fn name(&self) -> &'static str {
        "sgd"
    }

    /// Nothing to do: SGD keeps no step count.
    #[inline]
    fn begin_step(&mut self) {}

    /// `w ← w − lr·g`.
    #[inline]
    fn update(&mut self, _slot: usize, param: &mut [f64], grad: &[f64]) {
        sgd_update(self.lr, param, grad);
    }

    /// As [`Sgd::step`].
    #[inline]
    fn step<'t>(&mut self, mlp: &mut Mlp, net: &Bound<'t>, grads: &Gradients<'t>) {
        Sgd::step(self, mlp, net, grads);
    }

    /// Kind `"sgd"`, `t = 0`, no buffers.
    fn state(&self) -> OptimizerState {
        OptimizerState {
            kind: self.name().to_string(),
            t: 0,
            buffers: Vec::new(),
        }
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<(), StateError> {
        Slots::<0>::new([]).restore("sgd", state).map(|_| ())
    }
}

/// Gradient descent with momentum, the lab report's form: with a velocity `v` per parameter,
/// starting at 0,
///
/// `v ← μ·v − lr·∂L/∂w`, then `w ← w + v`.
///
/// `μ = 0.9` by default ([`Momentum::new`]). With `μ = 0` it is [`Sgd`].
#[derive(Clone, Debug, PartialEq)]
pub struct Momentum {
    /// The learning rate.
    pub lr: f64,
    /// The momentum coefficient μ: how much of the last velocity is kept.
    pub mu: f64,
    t: u64,
    slots: Slots<1>,
}

impl Momentum {
    /// Momentum with learning rate `lr` and `μ = 0.9`.
    pub fn new(lr: f64) -> Self {
        Momentum::with_mu(lr, 0.9)
    }

    /// Momentum with learning rate `lr` and coefficient `mu`.
    pub fn with_mu(lr: f64, mu: f64) -> Self {
        Momentum {
            lr,
            mu,
            t: 0,
            slots: Slots::new(["velocity"]),
        }
    }
}

impl Optimizer for Momentum {
    fn name(&self) -> &'static str {
        "momentum"
    }

    /// `t ← t + 1` (counted for the record; the update does not read it).
    #[inline]
    fn begin_step(&mut self) {
        self.t += 1;
    }

    /// `v ← μ·v − lr·g`, `w ← w + v`.
    #[inline]
    fn update(&mut self, slot: usize, param: &mut [f64], grad: &[f64]) {
        same_len("momentum", param, grad);
        let [velocity] = self.slots.get("momentum", slot, param.len());
        for ((w, v), g) in param.iter_mut().zip(velocity.iter_mut()).zip(grad) {
            *v = self.mu * *v - self.lr * g;
            *w += *v;
        }
    }

    /// Kind `"momentum"`, `t`, and the buffer `"velocity"`.
    fn state(&self) -> OptimizerState {
        self.slots.state(self.name(), self.t)
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<(), StateError> {
        self.slots = self.slots.restore("momentum", state)?;
        self.t = state.t;
        Ok(())
    }
}

/// Adam (Kingma & Ba, 2015): per-parameter step sizes from running averages of the gradient and
/// of its square. With `m`, `v` starting at 0 and `t` the step count (1 on the first step):
///
/// `m ← β₁·m + (1 − β₁)·g`, `v ← β₂·v + (1 − β₂)·g²`,
/// `m̂ = m / (1 − β₁ᵗ)`, `v̂ = v / (1 − β₂ᵗ)` (bias correction),
/// `w ← w − lr · m̂ / (√v̂ + ε)`.
///
/// Defaults ([`Adam::new`]): `β₁ = 0.9`, `β₂ = 0.999`, `ε = 1e-8`.
#[derive(Clone, Debug, PartialEq)]
pub struct Adam {
    /// The learning rate.
    pub lr: f64,
    /// Decay of the gradient's running mean `m`.
    pub beta1: f64,
    /// Decay of the squared gradient's running mean `v`.
    pub beta2: f64,
    /// Added to `√v̂` so that a zero `v̂` does not divide by zero.
    pub eps: f64,
    t: u64,
    slots: Slots<2>,
}

impl Adam {
    /// Adam with learning rate `lr` and the defaults `β₁ = 0.9`, `β₂ = 0.999`, `ε = 1e-8`.
    pub fn new(lr: f64) -> Self {
        Adam::with_params(lr, 0.9, 0.999, 1e-8)
    }

    /// Adam with every hyperparameter chosen.
    pub fn with_params(lr: f64, beta1: f64, beta2: f64, eps: f64) -> Self {
        Adam {
            lr,
            beta1,
            beta2,
            eps,
            t: 0,
            slots: Slots::new(["m", "v"]),
        }
    }
}

impl Optimizer for Adam {
    fn name(&self) -> &'static str {
        "adam"
    }

    /// `t ← t + 1`: the bias correction of this step uses the new `t`.
    #[inline]
    fn begin_step(&mut self) {
        self.t += 1;
    }

    /// `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`, `w ← w − lr·m̂/(√v̂ + ε)`.
    ///
    /// # Panics
    /// Also if no step was begun (`t = 0`: the bias correction would divide by zero).
    #[inline]
    fn update(&mut self, slot: usize, param: &mut [f64], grad: &[f64]) {
        same_len("adam", param, grad);
        assert!(self.t > 0, "adam: update before begin_step");
        let (b1, b2) = (self.beta1, self.beta2);
        let t = self.t as f64;
        let (correct1, correct2) = (1.0 - b1.powf(t), 1.0 - b2.powf(t));
        let [m, v] = self.slots.get("adam", slot, param.len());
        for (((w, m), v), &g) in param
            .iter_mut()
            .zip(m.iter_mut())
            .zip(v.iter_mut())
            .zip(grad)
        {
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            let (m_hat, v_hat) = (*m / correct1, *v / correct2);
            *w -= self.lr * m_hat / (v_hat.sqrt() + self.eps);
        }
    }

    /// Kind `"adam"`, `t`, and the buffers `"m"` and `"v"`.
    fn state(&self) -> OptimizerState {
        self.slots.state(self.name(), self.t)
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<(), StateError> {
        self.slots = self.slots.restore("adam", state)?;
        self.t = state.t;
        Ok(())
    }
}
