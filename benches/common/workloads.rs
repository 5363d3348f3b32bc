//! The three benchmark workloads of `docs/benchmarks.md`, shared by the criterion benches
//! (`benches/tape_vs_hand.rs`) and the one-run report (`examples/bench.rs`).
//!
//! - W1 "lab": 100 points of `linear`, 2-4-4-1 with bias, sigmoid everywhere, MSE, per-sample SGD
//!   lr 0.5, 1000 epochs (100,000 steps). W1-train is the same run through the training loop
//!   (`train::Trainer`, which also evaluates the whole data set after each epoch), against the
//!   plain tape loop.
//! - W2 "batched": 4096 points of `circle`, 2-256-256-1 with bias, relu, relu, sigmoid, MSE over the
//!   batch, full-batch GD lr 0.5, 50 steps.
//! - W3 "scalar": a micrograd-style 2-16-16-1 MLP (relu, relu, linear) with every weight its own
//!   scalar node, 100 points of `circle` labelled −1/+1, MSE, 10 full-batch SGD steps, lr 0.05,
//!   the whole scalar graph rebuilt each step.
#![allow(dead_code)]

use chainrule::data::{self, Dataset};
use chainrule::hand::{self, Workspace};
use chainrule::loss::Loss;
use chainrule::nn::{Activation, Bound, Init, Mlp};
use chainrule::optim::{Optimizer, Sgd};
use chainrule::train::{EpochStats, History, Measure, Trainer};
use chainrule::{Matrix, NodeId, Replay, Tape, Var};

pub const W1_LR: f64 = 0.5;
pub const W1_EPOCHS: usize = 1000;
pub const W2_LR: f64 = 0.5;
pub const W2_STEPS: usize = 50;
pub const W3_LR: f64 = 0.05;
pub const W3_STEPS: usize = 10;

/// W1's data and starting network.
pub fn w1() -> (Dataset, Mlp) {
    let net = Mlp::new(
        &[2, 4, 4, 1],
        &[Activation::Sigmoid; 3],
        true,
        Init::Uniform,
        1,
    );
    (data::linear(100, 1), net)
}

/// W2's data and starting network.
pub fn w2() -> (Dataset, Mlp) {
    let acts = [Activation::Relu, Activation::Relu, Activation::Sigmoid];
    (
        data::circle(4096, 2),
        Mlp::new(&[2, 256, 256, 1], &acts, true, Init::Xavier, 2),
    )
}

/// W3's data (labels −1/+1) and starting network, as an `Mlp` (the hand path uses it as is; the
/// scalar tape path copies its weights into [`ScalarMlp`]).
pub fn w3() -> (Dataset, Mlp) {
    let mut d = data::circle(100, 3);
    d.y.as_mut_slice()
        .iter_mut()
        .for_each(|y| *y = 2.0 * *y - 1.0);
    let acts = [Activation::Relu, Activation::Relu, Activation::Identity];
    (d, Mlp::new(&[2, 16, 16, 1], &acts, true, Init::Xavier, 3))
}

/// One tape step on a batch: reset, bind, forward, loss, backward, SGD. Returns the loss.
pub fn tape_step(
    tape: &mut Tape,
    mlp: &mut Mlp,
    x: &[f64],
    y: &[f64],
    batch: usize,
    lr: f64,
) -> f64 {
    tape.reset();
    let net = mlp.bind(tape);
    let inputs = x.len() / batch;
    let loss = net
        .forward(tape.input_slice(batch, inputs, x))
        .mse(tape.input_slice(batch, y.len() / batch, y));
    let grads = tape.backward(loss);
    Sgd::new(lr).step(mlp, &net, &grads);
    loss.item()
}

/// One hand-path step on a batch. Returns the loss.
pub fn hand_step(
    ws: &mut Workspace,
    mlp: &mut Mlp,
    x: &[f64],
    y: &[f64],
    batch: usize,
    lr: f64,
) -> f64 {
    hand::train_step(mlp, x, y, batch, Loss::Mse, lr, ws)
}

/// One W1 epoch (100 per-sample steps) on the tape.
pub fn w1_tape_epoch(tape: &mut Tape, mlp: &mut Mlp, d: &Dataset) -> f64 {
    let mut last = 0.0;
    for i in 0..d.len() {
        last = tape_step(tape, mlp, d.x.row(i), d.y.row(i), 1, W1_LR);
    }
    last
}

/// One W1 epoch by hand.
pub fn w1_hand_epoch(ws: &mut Workspace, mlp: &mut Mlp, d: &Dataset) -> f64 {
    let mut last = 0.0;
    for i in 0..d.len() {
        last = hand_step(ws, mlp, d.x.row(i), d.y.row(i), 1, W1_LR);
    }
    last
}

/// W1 replayed: the lab's step recorded once, then run again on each sample (`Tape::replay`),
/// SGD updating the parameters where they live, on the tape. The same steps as
/// [`w1_tape_epoch`], to the bit.
pub struct W1Replay<'t> {
    replay: Replay<'t>,
    net: Bound<'t>,
    x: Var<'t>,
    y: Var<'t>,
}

impl<'t> W1Replay<'t> {
    /// Records the step of `mlp` on `d`'s first sample onto `tape`.
    pub fn record(tape: &'t Tape, mlp: &Mlp, d: &Dataset) -> Self {
        let net = mlp.bind(tape);
        let x = tape.input_slice(1, d.x.cols(), d.x.row(0));
        let y = tape.input_slice(1, d.y.cols(), d.y.row(0));
        let loss = net.forward(x).mse(y);
        W1Replay {
            replay: tape.replay(loss),
            net,
            x,
            y,
        }
    }

    /// One epoch: per sample, write it, forward, backward, update. Returns the last loss.
    pub fn epoch(&self, d: &Dataset, sgd: &mut Sgd) -> f64 {
        for i in 0..d.len() {
            self.replay.set(self.x, d.x.row(i)).unwrap();
            self.replay.set(self.y, d.y.row(i)).unwrap();
            self.replay.run().unwrap();
            sgd.step_on_tape(&self.replay, self.net.params()).unwrap();
        }
        self.replay.output().item()
    }

    /// The weights, as the network they were recorded from.
    pub fn weights(&self, like: &Mlp) -> Mlp {
        let mut mlp = like.clone();
        self.net.copy_into(&mut mlp);
        mlp
    }
}

/// W1 through the training loop: `epochs` epochs of per-sample SGD (no stop rule, so every run
/// takes the same steps as `w1_tape_epoch` repeated), loss and accuracy measured as `measure`
/// says, calling `on_epoch` after each.
pub fn w1_train(
    mlp: &mut Mlp,
    d: &Dataset,
    epochs: usize,
    measure: Measure,
    on_epoch: impl FnMut(&EpochStats),
) -> History {
    Trainer::new(Loss::Mse)
        .epochs(epochs)
        .measure(measure)
        .on_epoch(on_epoch)
        .run(mlp, &mut Sgd::new(W1_LR), d)
        .expect("W1 stays finite")
}

/// The micrograd-style network: every weight a separate `f64`, recorded as its own scalar node.
pub struct ScalarMlp {
    /// `layers[l][i][j]` is the weight from input `i` to neuron `j`; `biases[l][j]`.
    weights: Vec<Vec<Vec<f64>>>,
    biases: Vec<Vec<f64>>,
    activations: Vec<Activation>,
    /// The parameter nodes of the current step, reused so a step allocates nothing.
    ids: Vec<NodeId>,
    /// Scratch for one layer's outputs (node ids), reused.
    layer_in: Vec<NodeId>,
    layer_out: Vec<NodeId>,
}

impl ScalarMlp {
    /// The same weights as `mlp`, one scalar each.
    pub fn from_mlp(mlp: &Mlp) -> Self {
        let weights = mlp
            .layers
            .iter()
            .map(|l| {
                (0..l.weight.rows())
                    .map(|i| l.weight.row(i).to_vec())
                    .collect()
            })
            .collect();
        let biases = mlp
            .layers
            .iter()
            .map(|l| l.bias.as_ref().unwrap().as_slice().to_vec())
            .collect();
        let activations = mlp.layers.iter().map(|l| l.activation).collect();
        ScalarMlp {
            weights,
            biases,
            activations,
            ids: Vec::new(),
            layer_in: Vec::new(),
            layer_out: Vec::new(),
        }
    }

    /// One full-batch SGD step, the whole graph recorded scalar by scalar. Returns the loss and
    /// the number of nodes recorded.
    pub fn step(&mut self, tape: &mut Tape, d: &Dataset, lr: f64) -> (f64, usize) {
        tape.reset();
        let t: &Tape = tape;
        self.ids.clear();
        for (w, b) in self.weights.iter().zip(&self.biases) {
            for row in w {
                self.ids.extend(row.iter().map(|&w| t.scalar(w).id()));
            }
            self.ids.extend(b.iter().map(|&b| t.scalar(b).id()));
        }
        let mut total: Option<Var<'_>> = None;
        for s in 0..d.len() {
            self.layer_in.clear();
            self.layer_in
                .extend(d.x.row(s).iter().map(|&x| t.constant(x).id()));
            let mut k = 0; // index into self.ids
            for (l, w) in self.weights.iter().enumerate() {
                let (fan_in, fan_out) = (w.len(), w[0].len());
                self.layer_out.clear();
                for j in 0..fan_out {
                    let mut acc = t.var(self.ids[k + j]) * t.var(self.layer_in[0]);
                    for i in 1..fan_in {
                        acc = acc + t.var(self.ids[k + i * fan_out + j]) * t.var(self.layer_in[i]);
                    }
                    acc = acc + t.var(self.ids[k + fan_in * fan_out + j]);
                    self.layer_out.push(self.activations[l].apply(acc).id());
                }
                k += fan_in * fan_out + fan_out;
                std::mem::swap(&mut self.layer_in, &mut self.layer_out);
            }
            let error = (t.var(self.layer_in[0]) - d.y.row(s)[0]).square();
            total = Some(match total {
                Some(sum) => sum + error,
                None => error,
            });
        }
        let loss = total.expect("a data set with points") * (1.0 / d.len() as f64);
        let grads = t.backward(loss);
        let mut params = self
            .weights
            .iter_mut()
            .zip(self.biases.iter_mut())
            .flat_map(|(w, b)| {
                w.iter_mut()
                    .flat_map(|row| row.iter_mut())
                    .chain(b.iter_mut())
            });
        for &id in &self.ids {
            let p = params.next().expect("one value per parameter node");
            *p -= lr * grads.wrt(t.var(id)).item();
        }
        (loss.item(), t.len())
    }

    /// W3 replayed: the whole scalar graph recorded once on `tape` (the parameters as they are
    /// now), for [`ScalarReplay::step`] to run again.
    pub fn record<'t>(&self, tape: &'t Tape, d: &Dataset) -> ScalarReplay<'t> {
        let mut params = Vec::new();
        for (w, b) in self.weights.iter().zip(&self.biases) {
            for row in w {
                params.extend(row.iter().map(|&w| tape.scalar(w)));
            }
            params.extend(b.iter().map(|&b| tape.scalar(b)));
        }
        let mut total: Option<Var<'t>> = None;
        for s in 0..d.len() {
            let mut layer: Vec<Var<'t>> = d.x.row(s).iter().map(|&x| tape.constant(x)).collect();
            let mut k = 0;
            for (l, w) in self.weights.iter().enumerate() {
                let (fan_in, fan_out) = (w.len(), w[0].len());
                let next = (0..fan_out)
                    .map(|j| {
                        let mut acc = params[k + j] * layer[0];
                        for (i, &x) in layer.iter().enumerate().skip(1) {
                            acc = acc + params[k + i * fan_out + j] * x;
                        }
                        acc = acc + params[k + fan_in * fan_out + j];
                        self.activations[l].apply(acc)
                    })
                    .collect();
                k += fan_in * fan_out + fan_out;
                layer = next;
            }
            let error = (layer[0] - d.y.row(s)[0]).square();
            total = Some(match total {
                Some(sum) => sum + error,
                None => error,
            });
        }
        let loss = total.expect("a data set with points") * (1.0 / d.len() as f64);
        ScalarReplay {
            replay: tape.replay(loss),
            params,
        }
    }

    /// The weights as an `Mlp` (to compare with the hand path).
    pub fn to_mlp(&self, like: &Mlp) -> Mlp {
        let mut mlp = like.clone();
        for (l, layer) in mlp.layers.iter_mut().enumerate() {
            let flat: Vec<f64> = self.weights[l].iter().flatten().copied().collect();
            layer.weight = Matrix::new(layer.weight.rows(), layer.weight.cols(), flat);
            layer.bias = Some(Matrix::new(1, self.biases[l].len(), self.biases[l].clone()));
        }
        mlp
    }
}

/// FLOPs of the matrix products in one training step of `mlp` on `batch` rows: the forward
/// product and the weight gradient of every layer, and the input gradient of every layer but the
/// first (2 FLOPs per multiply-add). Elementwise work is not counted.
pub fn gemm_flops_per_step(mlp: &Mlp, batch: usize) -> f64 {
    let sizes = mlp.sizes();
    sizes
        .windows(2)
        .enumerate()
        .map(|(l, w)| {
            let products = if l == 0 { 2.0 } else { 3.0 };
            products * 2.0 * (batch * w[0] * w[1]) as f64
        })
        .sum()
}

/// W3's scalar graph, recorded once ([`ScalarMlp::record`]) and replayed each step: the same
/// nodes as [`ScalarMlp::step`] records, in the same order, so the same numbers to the bit.
pub struct ScalarReplay<'t> {
    replay: Replay<'t>,
    params: Vec<Var<'t>>,
}

impl ScalarReplay<'_> {
    /// One full-batch SGD step: forward, backward, update on the tape. Returns the loss and the
    /// number of nodes run.
    pub fn step(&self, sgd: &mut Sgd) -> (f64, usize) {
        self.replay.run().unwrap();
        sgd.step_on_tape(&self.replay, &self.params).unwrap();
        (self.replay.output().item(), self.replay.len())
    }
}
