//! [`Momentum`]: gradient descent with a velocity per parameter.

use super::slots::Slots;
use super::{same_len, Optimizer, OptimizerState, StateError};

/// Gradient descent with momentum, the lab report's form: with a velocity `v` per parameter,
/// starting at 0,
///
/// `v ← μ·v − lr·∂L/∂w`, then `w ← w + v`.
///
/// `μ = 0.9` by default ([`Momentum::new`]). With `μ = 0` it is [`Sgd`](super::Sgd).
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
