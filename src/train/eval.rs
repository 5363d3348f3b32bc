//! Measuring a network: predictions, accuracy, an epoch's loss and accuracy figures, and the
//! finiteness checks on gradients and values.

use crate::data::Dataset;
use crate::grads::Gradients;
use crate::loss::Loss;
use crate::matrix::Matrix;
use crate::nn::{Bound, Mlp};
use crate::ops::BCE_EPS;
use crate::tape::Tape;

/// Whether every parameter's gradient in `grads` is finite (no NaN, no infinity): for a
/// hand-written loop, to call before [`Optimizer::step`](crate::optim::Optimizer::step) so a bad gradient never reaches the
/// weights. ([`Trainer`](super::Trainer) makes the same check on the copy of the gradients its update reads.)
///
/// ```
/// use chainrule::nn::{Activation, Init, Mlp};
/// use chainrule::{optim::Sgd, train, Matrix, Tape};
///
/// let mut mlp = Mlp::new(&[2, 1], &[Activation::Identity], true, Init::Uniform, 1);
/// let tape = Tape::new();
/// let net = mlp.bind(&tape);
/// let x = tape.input(&Matrix::from_rows(&[[f64::MAX, f64::MAX]])); // overflows
/// let loss = net.forward(x).mse(tape.input(&Matrix::scalar(0.0)));
/// let grads = tape.backward(loss);
/// assert!(!train::gradients_finite(&net, &grads));
/// ```
#[inline]
pub fn gradients_finite<'t>(net: &Bound<'t>, grads: &Gradients<'t>) -> bool {
    net.params().iter().all(|&p| all_finite(&grads.wrt(p)))
}

/// Whether every value is finite. Branch-free, so it vectorises: a value is NaN or ±∞ exactly
/// when its exponent bits are all ones, and or-ing those tests together is associative (a float
/// sum would not be, and would run one add at a time).
#[inline]
pub fn all_finite(values: &[f64]) -> bool {
    const EXPONENT: u64 = 0x7ff0_0000_0000_0000;
    !values
        .iter()
        .fold(false, |bad, v| bad | (v.to_bits() & EXPONENT == EXPONENT))
}

/// The evaluation after an epoch: its own tape, reused.
pub(super) struct Evaluation {
    tape: Tape,
}

/// An epoch's loss and accuracy figures, from a [`Tally`].
pub(super) struct Figures {
    pub(super) loss: f64,
    pub(super) max_loss: f64,
    pub(super) accuracy: f64,
}

/// Sums of per-sample losses and right answers.
pub(super) struct Tally {
    sum: f64,
    max: f64,
    correct: usize,
}

impl Tally {
    pub(super) fn new() -> Self {
        Tally {
            sum: 0.0,
            max: f64::NEG_INFINITY,
            correct: 0,
        }
    }

    /// Adds the samples of a batch: rows of `cols` predictions `p` against rows of targets `y`.
    #[inline]
    pub(super) fn add(&mut self, loss: Loss, p: &[f64], y: &[f64], cols: usize) {
        for (p, y) in p.chunks(cols).zip(y.chunks(cols)) {
            let sample = sample_loss(loss, p, y);
            self.sum += sample;
            self.max = self.max.max(sample);
            self.correct += usize::from(is_correct(p, y));
        }
    }

    /// The figures of `n` samples.
    pub(super) fn figures(&self, n: usize) -> Figures {
        let loss = self.sum / n as f64;
        Figures {
            loss,
            // f64::max skips NaN: a NaN loss must not look like a small one.
            max_loss: if loss.is_nan() { f64::NAN } else { self.max },
            accuracy: self.correct as f64 / n as f64,
        }
    }
}

impl Evaluation {
    pub(super) fn new() -> Self {
        Evaluation { tape: Tape::new() }
    }

    /// One batched forward pass over all of `data`, then each sample's loss and whether it is
    /// classified right.
    pub(super) fn run(&mut self, mlp: &Mlp, loss: Loss, data: &Dataset) -> Figures {
        self.tape.reset();
        let tape = &self.tape;
        let x = tape.input_slice(data.len(), data.x.cols(), data.x.as_slice());
        let prediction = mlp.bind(tape).forward(x).value_ref();
        let mut tally = Tally::new();
        tally.add(loss, &prediction, data.y.as_slice(), data.y.cols());
        tally.figures(data.len())
    }
}

/// One sample's loss: `loss` of its predictions `p` against its targets `y`, by the formulas and
/// in the summation order of the loss ops (see [`crate::loss`]).
fn sample_loss(loss: Loss, p: &[f64], y: &[f64]) -> f64 {
    let sse = || -> f64 { p.iter().zip(y).map(|(p, y)| (p - y) * (p - y)).sum() };
    match loss {
        Loss::Mse => sse() / p.len() as f64,
        Loss::Sse => sse(),
        Loss::Bce => {
            let total: f64 = p
                .iter()
                .zip(y)
                .map(|(&p, &y)| {
                    let p = p.clamp(BCE_EPS, 1.0 - BCE_EPS);
                    y * p.ln() + (1.0 - y) * (1.0 - p).ln()
                })
                .sum();
            -total / p.len() as f64
        }
    }
}

/// Whether predictions `p` classify a sample with targets `y` right: one output, the same side of
/// 0.5; several, the largest in the same place.
fn is_correct(p: &[f64], y: &[f64]) -> bool {
    if let ([p], [y]) = (p, y) {
        return (*p >= 0.5) == (*y >= 0.5);
    }
    let argmax = |v: &[f64]| {
        v.iter()
            .enumerate()
            .fold((0, f64::NEG_INFINITY), |best, (i, &x)| {
                if x > best.1 {
                    (i, x)
                } else {
                    best
                }
            })
            .0
    };
    argmax(p) == argmax(y)
}

/// The network's outputs for each row of `x` (one batched forward pass on a fresh tape).
///
/// # Panics
/// If `x` does not have as many columns as the network has inputs.
#[track_caller]
pub fn predict(mlp: &Mlp, x: &Matrix) -> Matrix {
    let tape = Tape::new();
    let prediction = mlp.bind(&tape).forward(tape.input(x));
    prediction.value()
}

/// The fraction of `data` that `mlp` classifies right (see the module doc: ≥ 0.5 is class 1 for
/// one output, the largest output otherwise). 0 for an empty data set.
///
/// # Panics
/// If the data set's shapes do not fit the network.
#[track_caller]
pub fn accuracy(mlp: &Mlp, data: &Dataset) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let prediction = predict(mlp, &data.x);
    let (pc, yc) = (prediction.cols(), data.y.cols());
    assert_eq!(pc, yc, "accuracy: {pc} outputs but {yc} targets per row");
    let correct = prediction
        .as_slice()
        .chunks(pc)
        .zip(data.y.as_slice().chunks(yc))
        .filter(|(p, y)| is_correct(p, y))
        .count();
    correct as f64 / data.len() as f64
}
