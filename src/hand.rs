//! The hand-derived backprop path: the lab's MLP trained with the δ formulas, and no tape.
//!
//! This is the reference the tape is tested and benchmarked against. With `a₀ = X` and, per layer,
//! `z_l = a_{l−1}·W_l + b_l`, `a_l = f_l(z_l)`:
//!
//! - output: `δ_L = ∂L/∂a_L ⊙ f_L'(z_L)`, with `∂L/∂a_L = 2(a_L − y)/n` for MSE, `2(a_L − y)` for
//!   SSE, `(a_L − y)/(a_L(1 − a_L))/n` for BCE (0 outside the clip, as the tape's rule);
//! - hidden: `δ_l = (δ_{l+1}·W_{l+1}ᵀ) ⊙ f_l'(z_l)`;
//! - gradients: `∂L/∂W_l = a_{l−1}ᵀ·δ_l`, `∂L/∂b_l = Σ_rows δ_l`;
//! - update: `W ← W − lr·∂L/∂W`.
//!
//! `f'` is computed from the saved output: `σ' = a(1 − a)`, `tanh' = 1 − a²`, `relu' = [a > 0]`.
//!
//! The products go through the same [`gemm`] as the tape's matmul and each formula multiplies in
//! the same order as the tape's rules, so the two paths give bitwise-equal gradients (the tests
//! check it with `==`). All buffers live in a [`Workspace`] that is reused: after the first step,
//! a step allocates nothing.

use crate::kernels::pool::halves;
use crate::kernels::{gemm, sigmoid, Layout};
use crate::loss::Loss;
use crate::nn::{Activation, Mlp};
use crate::ops::BCE_EPS;

/// Reusable buffers for the hand path: activations, δs and gradients of every layer.
#[derive(Clone, Debug, Default)]
pub struct Workspace {
    batch: usize,
    /// `a_l` for each layer, batch × size.
    acts: Vec<Vec<f64>>,
    /// `δ_l = ∂L/∂z_l` for each layer, batch × size.
    deltas: Vec<Vec<f64>>,
    /// `δ_{l+1}·W_{l+1}ᵀ` (or `∂L/∂a_L`), before it is multiplied by `f'`.
    upstream: Vec<f64>,
    grad_w: Vec<Vec<f64>>,
    grad_b: Vec<Vec<f64>>,
}

impl Workspace {
    /// An empty workspace; buffers grow on first use and are kept.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sizes every buffer for `mlp` and `batch` rows (allocates only when they grow).
    fn fit(&mut self, mlp: &Mlp, batch: usize) {
        let layers = mlp.layers.len();
        self.batch = batch;
        self.acts.resize_with(layers, Vec::new);
        self.deltas.resize_with(layers, Vec::new);
        self.grad_w.resize_with(layers, Vec::new);
        self.grad_b.resize_with(layers, Vec::new);
        let mut widest = 0;
        for (l, layer) in mlp.layers.iter().enumerate() {
            let (fan_in, fan_out) = layer.weight.shape();
            self.acts[l].resize(batch * fan_out, 0.0);
            self.deltas[l].resize(batch * fan_out, 0.0);
            self.grad_w[l].resize(fan_in * fan_out, 0.0);
            self.grad_b[l].resize(if layer.bias.is_some() { fan_out } else { 0 }, 0.0);
            widest = widest.max(fan_in).max(fan_out);
        }
        self.upstream.resize(batch * widest, 0.0);
    }

    /// The network's output from the last [`forward`]: batch × outputs, row-major.
    pub fn output(&self) -> &[f64] {
        self.acts.last().map_or(&[], Vec::as_slice)
    }

    /// ∂L/∂W of layer `l` from the last [`backward`], row-major like the weight.
    pub fn grad_weight(&self, l: usize) -> &[f64] {
        &self.grad_w[l]
    }

    /// ∂L/∂b of layer `l` from the last [`backward`] (empty if the layer has no bias).
    pub fn grad_bias(&self, l: usize) -> &[f64] {
        &self.grad_b[l]
    }
}

/// The forward pass on a batch `x` (`batch` rows of `mlp`'s input size, row-major); returns the
/// output, batch × outputs.
///
/// # Panics
/// If `x.len()` is not `batch` times the input size.
pub fn forward<'w>(mlp: &Mlp, x: &[f64], batch: usize, ws: &'w mut Workspace) -> &'w [f64] {
    let inputs = mlp.layers[0].weight.rows();
    assert_eq!(
        x.len(),
        batch * inputs,
        "hand::forward: x must be {batch}x{inputs}"
    );
    ws.fit(mlp, batch);
    for (l, layer) in mlp.layers.iter().enumerate() {
        let (fan_in, fan_out) = layer.weight.shape();
        let (before, after) = ws.acts.split_at_mut(l);
        let input = if l == 0 { x } else { &before[l - 1] };
        let a = &mut after[0];
        // z = a_{l−1}·W, then a = f(z + b) in place.
        gemm(
            batch,
            fan_in,
            fan_out,
            input,
            Layout::AsIs,
            layer.weight.as_slice(),
            Layout::AsIs,
            a,
            false,
        );
        let bias = layer.bias.as_ref().map(|b| b.as_slice());
        let work = a.len();
        halves(a, fan_out, work, |_, rows| {
            for row in rows.chunks_exact_mut(fan_out) {
                if let Some(b) = bias {
                    for (z, b) in row.iter_mut().zip(b) {
                        *z += b;
                    }
                }
                activate(layer.activation, row);
            }
        });
    }
    ws.output()
}

/// The backward pass after [`forward`] on the same `x`: fills every layer's gradients in `ws`
/// and returns the loss of the output against `y` (batch × outputs).
///
/// # Panics
/// If `y` does not match the output's size.
pub fn backward(mlp: &Mlp, x: &[f64], y: &[f64], loss: Loss, ws: &mut Workspace) -> f64 {
    let last = mlp.layers.len() - 1;
    let batch = ws.batch;
    let p = &ws.acts[last];
    assert_eq!(
        y.len(),
        p.len(),
        "hand::backward: y must be {batch}x{}",
        mlp.layers[last].weight.cols()
    );
    let loss_value = loss_value(loss, p, y);

    // δ_L = ∂L/∂a_L ⊙ f_L'(z_L)
    let n = p.len() as f64;
    let activation = mlp.layers[last].activation;
    let dl_dp = &mut ws.upstream[..p.len()];
    for ((dl_dp, &p), &y) in dl_dp.iter_mut().zip(p).zip(y) {
        *dl_dp = match loss {
            Loss::Mse => 2.0 * (p - y) / n,
            Loss::Sse => 2.0 * (p - y),
            Loss::Bce if p > BCE_EPS && p < 1.0 - BCE_EPS => (p - y) / (p * (1.0 - p)) / n,
            Loss::Bce => 0.0,
        };
    }
    activation_grad(activation, dl_dp, p, &mut ws.deltas[last]);

    for l in (0..=last).rev() {
        let layer = &mlp.layers[l];
        let (fan_in, fan_out) = layer.weight.shape();
        let input = if l == 0 { x } else { &ws.acts[l - 1] };
        let delta = &ws.deltas[l];
        // ∂L/∂W_l = a_{l−1}ᵀ·δ_l
        gemm(
            fan_in,
            batch,
            fan_out,
            input,
            Layout::Transposed,
            delta,
            Layout::AsIs,
            &mut ws.grad_w[l],
            false,
        );
        // ∂L/∂b_l = Σ over the batch of δ_l, column by column (the columns shared between
        // the two threads, each summed over the rows in order).
        if layer.bias.is_some() {
            halves(&mut ws.grad_b[l], 1, delta.len(), |first, gb| {
                gb.fill(0.0);
                for row in delta.chunks_exact(fan_out) {
                    for (gb, d) in gb.iter_mut().zip(&row[first..]) {
                        *gb += d;
                    }
                }
            });
        }
        if l == 0 {
            break;
        }
        // δ_{l−1} = (δ_l·W_lᵀ) ⊙ f_{l−1}'(z_{l−1})
        let upstream = &mut ws.upstream[..batch * fan_in];
        gemm(
            batch,
            fan_out,
            fan_in,
            delta,
            Layout::AsIs,
            layer.weight.as_slice(),
            Layout::Transposed,
            upstream,
            false,
        );
        let below = mlp.layers[l - 1].activation;
        activation_grad(below, upstream, &ws.acts[l - 1], &mut ws.deltas[l - 1]);
    }
    loss_value
}

/// Plain gradient descent with the gradients of the last [`backward`]: `W ← W − lr·∂L/∂W`.
pub fn sgd_update(mlp: &mut Mlp, ws: &Workspace, lr: f64) {
    for (l, layer) in mlp.layers.iter_mut().enumerate() {
        for (w, g) in layer.weight.as_mut_slice().iter_mut().zip(&ws.grad_w[l]) {
            *w -= lr * g;
        }
        if let Some(b) = &mut layer.bias {
            for (b, g) in b.as_mut_slice().iter_mut().zip(&ws.grad_b[l]) {
                *b -= lr * g;
            }
        }
    }
}

/// One training step: forward, backward, update. Returns the loss before the update.
pub fn train_step(
    mlp: &mut Mlp,
    x: &[f64],
    y: &[f64],
    batch: usize,
    loss: Loss,
    lr: f64,
    ws: &mut Workspace,
) -> f64 {
    forward(mlp, x, batch, ws);
    let value = backward(mlp, x, y, loss, ws);
    sgd_update(mlp, ws, lr);
    value
}

/// `z ← f(z)` over a row, in place (the `match` outside the loop, so the loop vectorizes).
fn activate(activation: Activation, row: &mut [f64]) {
    match activation {
        Activation::Sigmoid => row.iter_mut().for_each(|z| *z = sigmoid(*z)),
        Activation::Relu => row
            .iter_mut()
            .for_each(|z| *z = if *z > 0.0 || z.is_nan() { *z } else { 0.0 }),
        Activation::Tanh => row.iter_mut().for_each(|z| *z = z.tanh()),
        Activation::Identity => {}
    }
}

/// `δ = g ⊙ f'(z)` from the saved outputs `a = f(z)`; both threads share the entries.
fn activation_grad(activation: Activation, g: &[f64], a: &[f64], delta: &mut [f64]) {
    let work = delta.len();
    halves(delta, 1, work, |first, delta| {
        let range = first..first + delta.len();
        let entries = delta.iter_mut().zip(&g[range.clone()]).zip(&a[range]);
        match activation {
            Activation::Sigmoid => entries.for_each(|((d, g), a)| *d = g * a * (1.0 - a)),
            Activation::Relu => {
                entries.for_each(|((d, g), a)| *d = if *a > 0.0 { *g } else { 0.0 })
            }
            Activation::Tanh => entries.for_each(|((d, g), a)| *d = g * (1.0 - a * a)),
            Activation::Identity => entries.for_each(|((d, g), _)| *d = *g),
        }
    });
}

fn loss_value(loss: Loss, p: &[f64], y: &[f64]) -> f64 {
    let n = p.len() as f64;
    match loss {
        Loss::Mse => p.iter().zip(y).map(|(p, y)| (p - y) * (p - y)).sum::<f64>() / n,
        Loss::Sse => p.iter().zip(y).map(|(p, y)| (p - y) * (p - y)).sum::<f64>(),
        Loss::Bce => {
            let total: f64 = p
                .iter()
                .zip(y)
                .map(|(&p, &y)| {
                    let p = p.clamp(BCE_EPS, 1.0 - BCE_EPS);
                    y * p.ln() + (1.0 - y) * (1.0 - p).ln()
                })
                .sum();
            -total / n
        }
    }
}
