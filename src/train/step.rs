//! One training step and what it needs: a batch's rows (in data order or shuffled), the checks
//! made before the first step, and the step itself (forward, loss, backward, update).

use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::data::Dataset;
use crate::loss::Loss;
use crate::nn::{Bound, Mlp};
use crate::optim::Optimizer;
use crate::replay::Replay;
use crate::tape::{Tape, Var};

use super::eval::Tally;
use super::{all_finite, TrainError};

/// Rows `first..first + rows` of `data`: inputs and targets, row-major (no copy).
pub(super) fn rows_of(data: &Dataset, first: usize, rows: usize) -> (&[f64], &[f64]) {
    let (xc, yc) = (data.x.cols(), data.y.cols());
    let x = &data.x.as_slice()[first * xc..(first + rows) * xc];
    let y = &data.y.as_slice()[first * yc..(first + rows) * yc];
    (x, y)
}

/// The shuffled order of an epoch and the buffers its batches are gathered into.
pub(super) struct Shuffled {
    pub(super) rng: StdRng,
    pub(super) order: Vec<usize>,
    x: Vec<f64>,
    y: Vec<f64>,
}

impl Shuffled {
    pub(super) fn new(seed: u64, data: &Dataset, batch: usize) -> Self {
        Shuffled {
            rng: StdRng::seed_from_u64(seed),
            order: (0..data.len()).collect(),
            x: vec![0.0; batch * data.x.cols()],
            y: vec![0.0; batch * data.y.cols()],
        }
    }

    /// Copies the rows `order[first..first + rows]` into the buffers and returns them.
    pub(super) fn gather(&mut self, data: &Dataset, first: usize, rows: usize) -> (&[f64], &[f64]) {
        let (xc, yc) = (data.x.cols(), data.y.cols());
        for (k, &row) in self.order[first..first + rows].iter().enumerate() {
            self.x[k * xc..(k + 1) * xc].copy_from_slice(data.x.row(row));
            self.y[k * yc..(k + 1) * yc].copy_from_slice(data.y.row(row));
        }
        (&self.x[..rows * xc], &self.y[..rows * yc])
    }
}

/// Checks everything that comes from outside before the first step.
pub(super) fn check<O: Optimizer + ?Sized>(
    mlp: &Mlp,
    optimizer: &O,
    data: &Dataset,
) -> Result<(), TrainError> {
    if data.is_empty() {
        return Err(TrainError::EmptyData);
    }
    let inputs = mlp.layers[0].weight.rows();
    let outputs = mlp.layers[mlp.layers.len() - 1].weight.cols();
    if data.x.cols() != inputs || data.y.cols() != outputs || data.x.rows() != data.y.rows() {
        return Err(TrainError::Shape(format!(
            "the data set has {} rows of {} inputs and {} rows of {} targets, but the network \
             {:?} takes {inputs} inputs and gives {outputs} outputs per row",
            data.x.rows(),
            data.x.cols(),
            data.y.rows(),
            data.y.cols(),
            mlp.sizes()
        )));
    }
    optimizer
        .state()
        .check_fits(mlp)
        .map_err(TrainError::OptimizerState)
}

/// One step on a batch: forward, loss, backward, and, if the loss and every gradient are finite,
/// the update; with `tally`, each sample's loss and classification are added to it. Returns
/// `false` (weights untouched) if something was not finite.
///
/// Each gradient is read off the tape once, into `grad_buf` (as long as all parameters
/// together), checked there, and the update reads it from there: the optimizer is driven by
/// [`Optimizer::begin_step`] and [`Optimizer::update`].
#[inline]
#[allow(clippy::too_many_arguments)]
pub(super) fn train_step<O: Optimizer + ?Sized>(
    tape: &mut Tape,
    mlp: &mut Mlp,
    optimizer: &mut O,
    loss: Loss,
    x: &[f64],
    y: &[f64],
    rows: usize,
    tally: Option<&mut Tally>,
    grad_buf: &mut [f64],
) -> bool {
    tape.reset();
    let tape: &Tape = tape;
    let net = mlp.bind(tape);
    let prediction = net.forward(tape.input_slice(rows, x.len() / rows, x));
    let out = loss.apply(prediction, tape.input_slice(rows, y.len() / rows, y));
    if !out.item().is_finite() {
        return false;
    }
    if let Some(tally) = tally {
        tally.add(loss, &prediction.value_ref(), y, y.len() / rows);
    }
    let grads = tape.backward(out);
    let mut at = 0;
    for &param in net.params() {
        let grad = grads.wrt(param);
        grad_buf[at..at + grad.len()].copy_from_slice(&grad);
        at += grad.len();
    }
    if !all_finite(grad_buf) {
        return false;
    }
    optimizer.begin_step();
    let mut at = 0;
    for (slot, param) in mlp.params_mut().enumerate() {
        let len = param.len();
        optimizer.update(slot, param.as_mut_slice(), &grad_buf[at..at + len]);
        at += len;
    }
    true
}

/// The step of a static graph, recorded once on its own tape and then replayed ([`Replay`]):
/// each step writes the batch into the input and target leaves, re-runs the forward kernels and
/// the sweep, and updates the parameters where they live, on the tape. Nothing is recorded per
/// step. The network `mlp` is stale while the parameters live here: [`StaticStep::copy_into`]
/// brings it up to date, [`StaticStep::copy_from`] the other way.
pub(super) struct StaticStep<'t> {
    replay: Replay<'t>,
    net: Bound<'t>,
    x: Var<'t>,
    y: Var<'t>,
    prediction: Var<'t>,
    /// Rows per batch: a batch of another size is a step of another graph.
    pub(super) rows: usize,
}

impl<'t> StaticStep<'t> {
    /// Records a step of `mlp` under `loss` on `rows` rows of `x` and `y` onto `tape` (which must
    /// be empty), ready to be replayed; the first [`step`](StaticStep::step) replays it too.
    pub(super) fn record(
        tape: &'t Tape,
        mlp: &Mlp,
        loss: Loss,
        x: &[f64],
        y: &[f64],
        rows: usize,
    ) -> Self {
        let net = mlp.bind(tape);
        let x = tape.input_slice(rows, x.len() / rows, x);
        let y = tape.input_slice(rows, y.len() / rows, y);
        let prediction = net.forward(x);
        let out = loss.apply(prediction, y);
        StaticStep {
            replay: tape.replay(out),
            net,
            x,
            y,
            prediction,
            rows,
        }
    }

    /// One step on a batch of [`rows`](StaticStep::rows) rows, as [`train_step`] does it on a
    /// fresh recording, to the bit: forward, loss, backward, and, if the loss and every gradient
    /// are finite, the update. Returns `false` (parameters untouched) if something was not.
    #[inline]
    pub(super) fn step<O: Optimizer + ?Sized>(
        &self,
        optimizer: &mut O,
        loss: Loss,
        x: &[f64],
        y: &[f64],
        tally: Option<&mut Tally>,
    ) -> bool {
        const WHY: &str = "a replay of the training loop's own static step";
        self.replay.set(self.x, x).expect(WHY);
        self.replay.set(self.y, y).expect(WHY);
        self.replay.forward().expect(WHY);
        if !self.replay.output().item().is_finite() {
            return false;
        }
        if let Some(tally) = tally {
            tally.add(loss, &self.prediction.value_ref(), y, y.len() / self.rows);
        }
        let grads = self.replay.backward().expect(WHY);
        if !self.net.params().iter().all(|&p| all_finite(&grads.wrt(p))) {
            return false;
        }
        optimizer
            .step_on_tape(&self.replay, self.net.params())
            .expect(WHY);
        true
    }

    /// Copies the parameters from the tape into `mlp`.
    pub(super) fn copy_into(&self, mlp: &mut Mlp) {
        self.net.copy_into(mlp);
    }

    /// Copies `mlp`'s parameters onto the tape (after a step recorded apart changed them).
    pub(super) fn copy_from(&self, mlp: &Mlp) {
        for (param, &var) in mlp.params().zip(self.net.params()) {
            self.replay
                .set(var, param.as_slice())
                .expect("the network this step was recorded from");
        }
    }
}
