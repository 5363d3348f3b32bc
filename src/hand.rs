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
//! Written for speed the way one would by hand, fusing what the formulas allow:
//! - `a_l = f(z_l + b_l)` is applied to each entry as the product `a_{l−1}·W_l` finishes it;
//! - one pass over `δ_l`'s rows computes it and, on the way, `∂L/∂b_l` (and `∂L/∂W_l` when the
//!   layer has at most [`THIN_K`] inputs);
//! - under a width-1 layer, `δ_{l+1}·W_{l+1}ᵀ` is an outer product, read on the fly by the pass
//!   below instead of being stored;
//! - the first layer's `δ` feeds only its own gradients, so it is never stored.
//!
//! The products and passes are the same kernels as the tape's `linear` op, and each entry is
//! computed by the same arithmetic in the same order, so the two paths give equal gradients (the
//! tests check it with `==`). All buffers live in a [`Workspace`] that is reused: after the first
//! step, a step allocates nothing.

use crate::kernels::dense::{delta_pass, Epilogue, Upstream};
use crate::kernels::{gemm, gemm_epilogue, Layout, THIN_K};
use crate::loss::Loss;
use crate::nn::Mlp;
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
        // a = f(a_{l−1}·W + b), the bias and f applied as the product finishes each entry.
        gemm_epilogue(
            batch,
            fan_in,
            fan_out,
            input,
            Layout::AsIs,
            layer.weight.as_slice(),
            Layout::AsIs,
            &mut after[0],
            Epilogue {
                bias: layer.bias.as_ref().map(|b| b.as_slice()),
                activation: layer.activation,
            },
        );
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

    // ∂L/∂a_L
    let n = p.len() as f64;
    let dl_dp = &mut ws.upstream[..p.len()];
    for ((dl_dp, &p), &y) in dl_dp.iter_mut().zip(p).zip(y) {
        *dl_dp = match loss {
            Loss::Mse => 2.0 * (p - y) / n,
            Loss::Sse => 2.0 * (p - y),
            Loss::Bce if p > BCE_EPS && p < 1.0 - BCE_EPS => (p - y) / (p * (1.0 - p)) / n,
            Loss::Bce => 0.0,
        };
    }

    // Where ∂L/∂a_l is read from: `upstream`, or an outer product under a width-1 layer.
    // `outer` is the layer above when it is one column wide.
    let mut outer: Option<usize> = None;
    for l in (0..=last).rev() {
        let layer = &mlp.layers[l];
        let (fan_in, fan_out) = layer.weight.shape();
        let input = if l == 0 { x } else { &ws.acts[l - 1] };
        let deltas_here = &mut ws.deltas[l..];
        let (delta, deltas_above) = deltas_here.split_first_mut().expect("layer l exists");
        let g = match outer {
            Some(above) => Upstream::Outer {
                col: &deltas_above[0],
                row: mlp.layers[above].weight.as_slice(),
            },
            None => Upstream::Matrix(&ws.upstream[..batch * fan_out]),
        };
        // δ_l = ∂L/∂a_l ⊙ f_l'(z_l), with ∂L/∂b_l = Σ_rows δ_l and, for a thin input,
        // ∂L/∂W_l = a_{l−1}ᵀ·δ_l in the same pass. δ_l is kept if a product still needs it.
        let thin = fan_in <= THIN_K;
        let keep = l > 0 || !thin;
        let grad_b = layer.bias.as_ref().map(|_| {
            ws.grad_b[l].fill(0.0);
            &mut ws.grad_b[l][..]
        });
        let grad_w = thin.then(|| {
            ws.grad_w[l].fill(0.0);
            (input, &mut ws.grad_w[l][..])
        });
        delta_pass(
            layer.activation,
            fan_out,
            g,
            &ws.acts[l],
            keep.then_some(&mut delta[..]),
            grad_b,
            grad_w,
        );
        if !thin {
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
        }
        if l == 0 {
            break;
        }
        // ∂L/∂a_{l−1} = δ_l·W_lᵀ: an outer product read by the next pass when W_l is one
        // column wide, otherwise a product into `upstream`.
        if fan_out == 1 {
            outer = Some(l);
        } else {
            outer = None;
            gemm(
                batch,
                fan_out,
                fan_in,
                delta,
                Layout::AsIs,
                layer.weight.as_slice(),
                Layout::Transposed,
                &mut ws.upstream[..batch * fan_in],
                false,
            );
        }
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
