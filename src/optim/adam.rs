//! [`Adam`]: per-parameter step sizes from running averages of the gradient and its square.

use super::slots::Slots;
use super::{same_len, Optimizer, OptimizerState, StateError};

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
