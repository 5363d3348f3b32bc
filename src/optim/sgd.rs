//! [`Sgd`]: plain gradient descent, no state.

use crate::grads::Gradients;
use crate::nn::{Bound, Mlp};
use crate::replay::{Replay, ReplayError};
use crate::tape::Var;

use super::slots::Slots;
use super::{same_len, Optimizer, OptimizerState, StateError};

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

    /// As the trait's, over runs of parameters side by side on the tape
    /// ([`Replay::update_runs`]): SGD keeps nothing per parameter, so a network's parameters,
    /// recorded one after another, are updated by one loop.
    fn step_on_tape<'t>(
        &mut self,
        replay: &Replay<'t>,
        params: &[Var<'t>],
    ) -> Result<(), ReplayError> {
        let lr = self.lr;
        replay.update_runs(params, |values, grads| sgd_update(lr, values, grads))
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
