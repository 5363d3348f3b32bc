//! A fixed-size reference for W1: the lab's 2-4-4-1 network written the way one would for a
//! single known shape, with const-generic stack arrays, no dispatch, no tape and no workspace.
//!
//! It computes the same maths as the crate's hand path (`src/hand.rs`) and the tape's W1 step:
//! with `a₀ = x`, `a_l = σ(a_{l−1}·W_l + b_l)` for the three layers, the loss
//! `L = (1/O) Σ (a₃ − y)²` (the crate's `mse`: a mean over the O outputs, no ½), then
//! - `δ₃ = 2(a₃ − y)/O ⊙ a₃(1 − a₃)`,
//! - `δ₂ = (δ₃·W₃ᵀ) ⊙ a₂(1 − a₂)`, `δ₁ = (δ₂·W₂ᵀ) ⊙ a₁(1 − a₁)`, with the weights *before* the
//!   update,
//! - `∂L/∂W_l = a_{l−1}ᵀ·δ_l`, `∂L/∂b_l = δ_l`, and plain SGD `W ← W − lr·∂L/∂W` on every
//!   parameter once all gradients are known.
//!
//! Every loop has a compile-time trip count, so the compiler can unroll the whole step and keep
//! it in registers: its time per step is the proxy for what this machine can do on W1 at all,
//! against which the hand path and the tape are measured (`examples/bench.rs`). It sums in
//! another order than the crate's kernels in places, so its weights agree with theirs to about
//! 1e-12 relative, not to the bit (`tests/fixed_reference.rs`).
#![allow(dead_code)]

use chainrule::data::Dataset;
use chainrule::nn::{Activation, Layer, Mlp};
use chainrule::Matrix;

/// σ(x), by the same formula as the crate's kernels: `1/(1 + e^{−x})` for x ≥ 0 and
/// `eˣ/(1 + eˣ)` below, so `exp` never overflows. Written here rather than imported so that it
/// inlines into the step.
#[inline(always)]
fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `σ(a·W + b)` for one sample: `a` has N entries, `W` is N×M row-major, `b` has M.
#[inline(always)]
fn dense_sigmoid<const N: usize, const M: usize>(
    a: &[f64; N],
    w: &[[f64; M]; N],
    b: &[f64; M],
) -> [f64; M] {
    let mut z = [0.0; M];
    for (a_i, w_i) in a.iter().zip(w) {
        for (z_j, w_ij) in z.iter_mut().zip(w_i) {
            *z_j += a_i * w_ij;
        }
    }
    for (z_j, b_j) in z.iter_mut().zip(b) {
        *z_j = sigmoid(*z_j + b_j);
    }
    z
}

/// The δ of the layer below: `δ_below = (δ·Wᵀ) ⊙ a(1 − a)`, where `W` (N×M) maps the layer below
/// (output `a`, N entries) to this one (δ, M entries).
#[inline(always)]
fn delta_below<const N: usize, const M: usize>(
    delta: &[f64; M],
    w: &[[f64; M]; N],
    a: &[f64; N],
) -> [f64; N] {
    let mut below = [0.0; N];
    for ((d_i, w_i), a_i) in below.iter_mut().zip(w).zip(a) {
        let upstream: f64 = w_i.iter().zip(delta).map(|(w_ij, d_j)| w_ij * d_j).sum();
        *d_i = upstream * (a_i * (1.0 - a_i));
    }
    below
}

/// `∂L/∂W = aᵀ·δ` for one sample: an outer product, N×M.
#[inline(always)]
fn outer<const N: usize, const M: usize>(a: &[f64; N], delta: &[f64; M]) -> [[f64; M]; N] {
    let mut g = [[0.0; M]; N];
    for (g_i, a_i) in g.iter_mut().zip(a) {
        for (g_ij, d_j) in g_i.iter_mut().zip(delta) {
            *g_ij = a_i * d_j;
        }
    }
    g
}

/// `p ← p − lr·g`, entry by entry (lengths known at compile time once inlined).
#[inline(always)]
fn descend(p: &mut [f64], g: &[f64], lr: f64) {
    for (p, g) in p.iter_mut().zip(g) {
        *p -= lr * g;
    }
}

/// A layer's weight (`fan_in × fan_out`) and bias as stack arrays.
///
/// # Panics
/// If the shapes differ from `R`×`C` or the layer has no bias (checked by the caller first).
fn layer_arrays<const R: usize, const C: usize>(layer: &Layer) -> ([[f64; C]; R], [f64; C]) {
    let mut w = [[0.0; C]; R];
    for (r, row) in w.iter_mut().enumerate() {
        row.copy_from_slice(layer.weight.row(r));
    }
    let mut b = [0.0; C];
    b.copy_from_slice(
        layer
            .bias
            .as_ref()
            .expect("checked: every layer has a bias")
            .as_slice(),
    );
    (w, b)
}

/// Puts `w` and `b` into `layer`, whose shapes must match.
fn set_layer<const R: usize, const C: usize>(layer: &mut Layer, w: &[[f64; C]; R], b: &[f64; C]) {
    layer.weight = Matrix::new(R, C, w.iter().flatten().copied().collect());
    layer.bias = Some(Matrix::new(1, C, b.to_vec()));
}

/// W1's network: 2 inputs, two hidden layers of 4, one output.
pub type W1Fixed = FixedMlp<2, 4, 4, 1>;

/// ∂L/∂(every parameter) of a [`FixedMlp`] for one sample, laid out like its parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FixedGrad<const I: usize, const H1: usize, const H2: usize, const O: usize> {
    /// ∂L/∂W₁, I×H1.
    pub w1: [[f64; H1]; I],
    /// ∂L/∂b₁.
    pub b1: [f64; H1],
    /// ∂L/∂W₂, H1×H2.
    pub w2: [[f64; H2]; H1],
    /// ∂L/∂b₂.
    pub b2: [f64; H2],
    /// ∂L/∂W₃, H2×O.
    pub w3: [[f64; O]; H2],
    /// ∂L/∂b₃.
    pub b3: [f64; O],
}

/// An I-H1-H2-O network with bias and sigmoid on every layer (W1's shape is `<2, 4, 4, 1>`),
/// trained one sample at a time by plain SGD on the MSE loss.
#[derive(Clone, Debug, PartialEq)]
pub struct FixedMlp<const I: usize, const H1: usize, const H2: usize, const O: usize> {
    /// Layer 1's weights, I×H1 (`w1[i][j]` from input i to neuron j, as `Mlp`'s row-major).
    pub w1: [[f64; H1]; I],
    /// Layer 1's bias.
    pub b1: [f64; H1],
    /// Layer 2's weights, H1×H2.
    pub w2: [[f64; H2]; H1],
    /// Layer 2's bias.
    pub b2: [f64; H2],
    /// Layer 3's weights, H2×O.
    pub w3: [[f64; O]; H2],
    /// Layer 3's bias.
    pub b3: [f64; O],
}

impl<const I: usize, const H1: usize, const H2: usize, const O: usize> FixedMlp<I, H1, H2, O> {
    /// The same weights as `mlp`.
    ///
    /// # Panics
    /// If `mlp` is not an I-H1-H2-O network with a bias and a sigmoid on each of its three layers.
    pub fn from_mlp(mlp: &Mlp) -> Self {
        Self::check(mlp, "from_mlp");
        let (w1, b1) = layer_arrays::<I, H1>(&mlp.layers[0]);
        let (w2, b2) = layer_arrays::<H1, H2>(&mlp.layers[1]);
        let (w3, b3) = layer_arrays::<H2, O>(&mlp.layers[2]);
        FixedMlp {
            w1,
            b1,
            w2,
            b2,
            w3,
            b3,
        }
    }

    /// These weights in a copy of `like` (to compare with the crate's paths).
    ///
    /// # Panics
    /// If `like` is not an I-H1-H2-O network with a bias and a sigmoid on each layer.
    pub fn to_mlp(&self, like: &Mlp) -> Mlp {
        Self::check(like, "to_mlp");
        let mut mlp = like.clone();
        set_layer(&mut mlp.layers[0], &self.w1, &self.b1);
        set_layer(&mut mlp.layers[1], &self.w2, &self.b2);
        set_layer(&mut mlp.layers[2], &self.w3, &self.b3);
        mlp
    }

    fn check(mlp: &Mlp, method: &str) {
        let expected = [I, H1, H2, O];
        assert!(
            mlp.sizes() == expected,
            "FixedMlp::<{I}, {H1}, {H2}, {O}>::{method}: the Mlp's layer sizes are {:?}, not {expected:?}",
            mlp.sizes()
        );
        for (l, layer) in mlp.layers.iter().enumerate() {
            assert!(
                layer.bias.is_some() && layer.activation == Activation::Sigmoid,
                "FixedMlp::<{I}, {H1}, {H2}, {O}>::{method}: layer {} must have a bias and a \
                 sigmoid, it has {} and {}",
                l + 1,
                if layer.bias.is_some() {
                    "a bias"
                } else {
                    "no bias"
                },
                layer.activation
            );
        }
    }

    /// The network's output for one sample.
    #[inline]
    pub fn forward(&self, x: &[f64; I]) -> [f64; O] {
        let a1 = dense_sigmoid(x, &self.w1, &self.b1);
        let a2 = dense_sigmoid(&a1, &self.w2, &self.b2);
        dense_sigmoid(&a2, &self.w3, &self.b3)
    }

    /// The MSE loss of one sample against `y` and its gradient for every parameter.
    #[inline]
    pub fn loss_and_grad(&self, x: &[f64; I], y: &[f64; O]) -> (f64, FixedGrad<I, H1, H2, O>) {
        let a1 = dense_sigmoid(x, &self.w1, &self.b1);
        let a2 = dense_sigmoid(&a1, &self.w2, &self.b2);
        let a3 = dense_sigmoid(&a2, &self.w3, &self.b3);
        let n = O as f64;
        let mut loss = 0.0;
        let mut delta3 = [0.0; O];
        for ((d, p), y) in delta3.iter_mut().zip(&a3).zip(y) {
            loss += (p - y) * (p - y);
            // ∂L/∂a₃ = 2(a₃ − y)/n, times σ' = a₃(1 − a₃).
            *d = 2.0 * (p - y) / n * (p * (1.0 - p));
        }
        let delta2 = delta_below(&delta3, &self.w3, &a2);
        let delta1 = delta_below(&delta2, &self.w2, &a1);
        let grad = FixedGrad {
            w1: outer(x, &delta1),
            b1: delta1,
            w2: outer(&a1, &delta2),
            b2: delta2,
            w3: outer(&a2, &delta3),
            b3: delta3,
        };
        (loss / n, grad)
    }

    /// Plain gradient descent: every parameter `p ← p − lr·g`.
    #[inline]
    pub fn descend(&mut self, grad: &FixedGrad<I, H1, H2, O>, lr: f64) {
        descend(self.w1.as_flattened_mut(), grad.w1.as_flattened(), lr);
        descend(&mut self.b1, &grad.b1, lr);
        descend(self.w2.as_flattened_mut(), grad.w2.as_flattened(), lr);
        descend(&mut self.b2, &grad.b2, lr);
        descend(self.w3.as_flattened_mut(), grad.w3.as_flattened(), lr);
        descend(&mut self.b3, &grad.b3, lr);
    }

    /// One training step on one sample: forward, MSE loss, backward, SGD. Returns the loss
    /// before the update.
    #[inline]
    pub fn step(&mut self, x: &[f64; I], y: &[f64; O], lr: f64) -> f64 {
        let (loss, grad) = self.loss_and_grad(x, y);
        self.descend(&grad, lr);
        loss
    }

    /// One epoch of per-sample SGD over `samples` in order, as W1's epochs. Returns the last
    /// step's loss.
    #[inline]
    pub fn epoch(&mut self, samples: &[([f64; I], [f64; O])], lr: f64) -> f64 {
        let mut last = 0.0;
        for (x, y) in samples {
            last = self.step(x, y, lr);
        }
        last
    }
}

/// A data set's rows as fixed-size arrays `(x, y)`, converted once (outside any timing).
///
/// # Panics
/// If the data set's rows are not I inputs and O targets wide.
pub fn samples<const I: usize, const O: usize>(d: &Dataset) -> Vec<([f64; I], [f64; O])> {
    assert!(
        d.x.cols() == I && d.y.cols() == O,
        "fixed::samples: the data set is {}→{}, not {I}→{O}",
        d.x.cols(),
        d.y.cols()
    );
    (0..d.len())
        .map(|s| {
            let x = d.x.row(s).try_into().expect("checked: I columns");
            let y = d.y.row(s).try_into().expect("checked: O columns");
            (x, y)
        })
        .collect()
}
