//! Layers on top of the tape: a multi-layer perceptron whose parameters live outside the tape.
//!
//! An [`Mlp`] owns its weights as [`Matrix`] values. Each training step records them onto a fresh
//! (reset) tape with [`Mlp::bind`], runs [`Bound::forward`], and an optimizer reads the gradients
//! back per parameter ([`Bound::params`] lists them in the order of [`Mlp::params_mut`]).
//!
//! ```
//! use chainrule::nn::{Activation, Init, Mlp};
//! use chainrule::{Matrix, Tape};
//!
//! let mut mlp = Mlp::new(&[2, 4, 4, 1], &[Activation::Sigmoid; 3], true, Init::Uniform, 1);
//! let tape = Tape::new();
//! let net = mlp.bind(&tape);
//! let x = tape.input(&Matrix::from_rows(&[[0.2, 0.9]]));
//! let loss = net.forward(x).mse(tape.input(&Matrix::scalar(1.0)));
//! let grads = tape.backward(loss);
//! for (param, var) in mlp.params_mut().zip(net.params()) {
//!     for (w, g) in param.as_mut_slice().iter_mut().zip(grads.wrt(*var).iter()) {
//!         *w -= 0.5 * g; // plain gradient descent
//!     }
//! }
//! ```

use std::fmt;
use std::str::FromStr;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use smallvec::SmallVec;

use crate::matrix::Matrix;
use crate::names::{lookup, UnknownName};
use crate::tape::{Tape, Var};

// Defined with the kernels that fuse it into the GEMM; shown here too, where layers choose it.
#[doc(inline)]
pub use crate::kernels::Activation;

// An inherent impl of the kernels' enum: recording needs the tape, which the kernels do not know.
impl Activation {
    /// Records this activation on `z` (nothing for [`Activation::Identity`]).
    #[inline]
    #[track_caller]
    pub fn apply<'t>(self, z: Var<'t>) -> Var<'t> {
        match self {
            Activation::Sigmoid => z.sigmoid(),
            Activation::Relu => z.relu(),
            Activation::Tanh => z.tanh(),
            Activation::Identity => z,
        }
    }
}

impl Activation {
    /// The names [`FromStr`] accepts and [`Display`](fmt::Display) writes, in declaration order.
    pub const NAMES: &'static [&'static str] = &["sigmoid", "relu", "tanh", "identity"];

    /// Its name: `sigmoid`, `relu`, `tanh`, `identity`.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Sigmoid => "sigmoid",
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
            Activation::Identity => "identity",
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Activation {
    type Err = UnknownName;

    /// One of [`Activation::NAMES`]; `none` and `linear` are also accepted for
    /// [`Activation::Identity`].
    fn from_str(word: &str) -> Result<Self, UnknownName> {
        use Activation::*;
        let table = [
            ("sigmoid", Sigmoid),
            ("relu", Relu),
            ("tanh", Tanh),
            ("identity", Identity),
            ("none", Identity),
            ("linear", Identity),
        ];
        lookup("activation", word, &table, Self::NAMES)
    }
}

/// How initial weights are drawn (biases start at zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// Uniform in `[−1, 1)`, as in the lab handout.
    Uniform,
    /// Standard normal `N(0, 1)`.
    StandardNormal,
    /// Xavier/Glorot uniform: `U(−a, a)` with `a = √(6 / (fan_in + fan_out))`.
    Xavier,
}

impl Init {
    /// The names [`FromStr`] accepts and [`Display`](fmt::Display) writes, in declaration order.
    pub const NAMES: &'static [&'static str] = &["uniform", "normal", "xavier"];

    /// Its name: `uniform`, `normal`, `xavier`.
    pub fn name(self) -> &'static str {
        match self {
            Init::Uniform => "uniform",
            Init::StandardNormal => "normal",
            Init::Xavier => "xavier",
        }
    }
}

impl fmt::Display for Init {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Init {
    type Err = UnknownName;

    /// One of [`Init::NAMES`]; `glorot` is also accepted for [`Init::Xavier`].
    fn from_str(word: &str) -> Result<Self, UnknownName> {
        let table = [
            ("uniform", Init::Uniform),
            ("normal", Init::StandardNormal),
            ("xavier", Init::Xavier),
            ("glorot", Init::Xavier),
        ];
        lookup("weight initialisation", word, &table, Self::NAMES)
    }
}

/// One fully connected layer: `activation(x·W + b)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// `fan_in × fan_out` weights.
    pub weight: Matrix,
    /// `1 × fan_out` bias, if the layer has one.
    pub bias: Option<Matrix>,
    /// Applied after the affine map.
    pub activation: Activation,
}

/// A multi-layer perceptron: layers applied in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    /// The layers, input side first.
    pub layers: Vec<Layer>,
}

impl Mlp {
    /// An MLP with layer sizes `sizes` (e.g. `[2, 4, 4, 1]`), one activation per layer
    /// (`sizes.len() − 1` of them), biases or not, weights drawn by `init` from `seed`.
    ///
    /// # Panics
    /// If fewer than two sizes are given, a size is 0, or the activations do not number one per layer.
    #[inline]
    #[track_caller]
    pub fn new(
        sizes: &[usize],
        activations: &[Activation],
        bias: bool,
        init: Init,
        seed: u64,
    ) -> Mlp {
        assert!(
            sizes.len() >= 2,
            "Mlp::new: need at least an input and an output size, got {sizes:?}"
        );
        assert!(
            sizes.iter().all(|&s| s > 0),
            "Mlp::new: layer sizes must be positive, got {sizes:?}"
        );
        assert_eq!(
            activations.len(),
            sizes.len() - 1,
            "Mlp::new: {} layers need {} activations, got {}",
            sizes.len() - 1,
            sizes.len() - 1,
            activations.len()
        );
        let mut rng = StdRng::seed_from_u64(seed);
        let layers = sizes
            .windows(2)
            .zip(activations)
            .map(|(io, &activation)| Layer {
                weight: init_weight(&mut rng, init, io[0], io[1]),
                bias: bias.then(|| Matrix::zeros(1, io[1])),
                activation,
            })
            .collect();
        Mlp { layers }
    }

    /// Layer sizes, input first: `[2, 4, 4, 1]` for the lab's network.
    pub fn sizes(&self) -> Vec<usize> {
        let mut sizes = vec![self.layers[0].weight.rows()];
        sizes.extend(self.layers.iter().map(|l| l.weight.cols()));
        sizes
    }

    /// Records every parameter on `tape` (trainable) and returns the network bound to them.
    #[inline]
    pub fn bind<'t>(&self, tape: &'t Tape) -> Bound<'t> {
        // One plain loop of pushes: collecting through iterator adapters cost the lab's step
        // about a thousand instructions in SmallVec's generic `extend` (callgrind, W1).
        let mut bound = Bound {
            layers: SmallVec::new(),
            params: SmallVec::new(),
        };
        for l in &self.layers {
            let weight = tape.param(&l.weight);
            bound.params.push(weight);
            let bias = l.bias.as_ref().map(|b| tape.param(b));
            if let Some(b) = bias {
                bound.params.push(b);
            }
            bound.layers.push(BoundLayer {
                weight,
                bias,
                activation: l.activation,
            });
        }
        bound
    }

    /// Every parameter, mutable, in the order of [`Bound::params`]: W₁, b₁, W₂, b₂, …
    pub fn params_mut(&mut self) -> impl Iterator<Item = &mut Matrix> {
        self.layers
            .iter_mut()
            .flat_map(|l| std::iter::once(&mut l.weight).chain(l.bias.as_mut()))
    }

    /// Every parameter in the order of [`Bound::params`].
    pub fn params(&self) -> impl Iterator<Item = &Matrix> {
        self.layers
            .iter()
            .flat_map(|l| std::iter::once(&l.weight).chain(l.bias.as_ref()))
    }
}

fn init_weight(rng: &mut StdRng, init: Init, fan_in: usize, fan_out: usize) -> Matrix {
    match init {
        Init::Uniform => Matrix::from_fn(fan_in, fan_out, |_, _| rng.random_range(-1.0..1.0)),
        Init::StandardNormal => Matrix::from_fn(fan_in, fan_out, |_, _| standard_normal(rng)),
        Init::Xavier => {
            let a = (6.0 / (fan_in + fan_out) as f64).sqrt();
            Matrix::from_fn(fan_in, fan_out, |_, _| rng.random_range(-a..a))
        }
    }
}

/// One draw of N(0, 1) by the Box–Muller transform.
fn standard_normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // in (0, 1]: ln never sees 0
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// One layer's parameters on a tape.
#[derive(Clone, Copy, Debug)]
struct BoundLayer<'t> {
    weight: Var<'t>,
    bias: Option<Var<'t>>,
    activation: Activation,
}

/// An [`Mlp`] whose parameters are recorded on a tape: call [`forward`](Bound::forward) on inputs.
///
/// Up to four layers are held inline (no heap allocation), so a training step stays
/// allocation-free.
#[derive(Clone, Debug)]
pub struct Bound<'t> {
    layers: SmallVec<[BoundLayer<'t>; 4]>,
    params: SmallVec<[Var<'t>; 8]>,
}

impl<'t> Bound<'t> {
    /// Records the forward pass `a_l = act_l(a_{l−1}·W_l + b_l)` on a batch `x` (rows are samples).
    #[inline]
    #[track_caller]
    pub fn forward(&self, x: Var<'t>) -> Var<'t> {
        self.layers.iter().fold(x, |a, l| match l.bias {
            // One node per layer: the product, the bias and the activation fused.
            Some(b) => a.linear_act(l.weight, b, l.activation),
            None => l.activation.apply(a.matmul(l.weight)),
        })
    }

    /// The parameters on the tape: W₁, b₁, W₂, b₂, … (the order of [`Mlp::params_mut`]).
    #[inline]
    pub fn params(&self) -> &[Var<'t>] {
        &self.params
    }

    /// Copies the parameters' values on the tape into `mlp` (the network this was bound from):
    /// after training on a [`Replay`](crate::Replay), where the optimizer updated them on the
    /// tape, this brings the network up to date.
    ///
    /// # Panics
    /// If `mlp` has other shapes than the network bound.
    #[track_caller]
    pub fn copy_into(&self, mlp: &mut Mlp) {
        let count = mlp.params().count();
        assert_eq!(
            count,
            self.params.len(),
            "Bound::copy_into: the network has {count} parameters, the bound one {}",
            self.params.len()
        );
        for (param, var) in mlp.params_mut().zip(&self.params) {
            let value = var.value_ref();
            assert_eq!(
                param.shape(),
                value.shape(),
                "Bound::copy_into: a {:?} parameter cannot take the bound {:?} one ({})",
                param.shape(),
                value.shape(),
                var.id()
            );
            param.as_mut_slice().copy_from_slice(&value);
        }
    }
}
