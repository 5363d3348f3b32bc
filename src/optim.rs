//! Optimizers: update an [`Mlp`]'s parameters from the gradients of one backward sweep.

use crate::grads::Gradients;
use crate::nn::{Bound, Mlp};

/// Plain gradient descent: `w ← w − lr · ∂L/∂w`.
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

    /// Applies one update to every parameter of `mlp`, reading its gradient through `net` (the
    /// same `mlp` bound to the tape `grads` came from). Allocates nothing.
    #[inline]
    pub fn step<'t>(&self, mlp: &mut Mlp, net: &Bound<'t>, grads: &Gradients<'t>) {
        for (param, &var) in mlp.params_mut().zip(net.params()) {
            for (w, g) in param.as_mut_slice().iter_mut().zip(grads.wrt(var).iter()) {
                *w -= self.lr * g;
            }
        }
    }
}
