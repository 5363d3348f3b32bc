//! Replay: record a step once, then run it again and again without recording.
//!
//! A training step of a fixed network records the same graph every time: only the numbers in its
//! leaves change (the sample, the target, the updated parameters). [`Tape::replay`] takes a tape
//! on which one such step has been recorded and returns a [`Replay`], which runs the step again:
//! [`set`](Replay::set) writes new values into leaves, [`forward`](Replay::forward) re-runs every
//! op's forward kernel in tape order (the same kernels, reading the same places, so the values
//! are those a fresh recording would give, to the bit), and [`backward`](Replay::backward) runs
//! the tape's rules from a plan made when the replay was taken (which rules run, and which
//! gradient each one writes first, are facts of the graph: `replay/sweep.rs`). Nothing is
//! recorded, no shape is checked again and nothing is allocated: a replayed step is the
//! arithmetic and little else. Parameters live on the tape
//! and an optimizer updates them there ([`Replay::update_params`], which
//! [`Optimizer::step_on_tape`](crate::optim::Optimizer::step_on_tape) drives), so no weight is
//! copied onto the tape per step.
//!
//! ```
//! use chainrule::{Matrix, Tape};
//!
//! // Record one step of a neuron σ(x·w + b) against a target, once.
//! let tape = Tape::new();
//! let x = tape.input_slice(1, 2, &[1.0, 2.0]);
//! let y = tape.input_slice(1, 1, &[1.0]);
//! let w = tape.param_slice(2, 1, &[0.5, -0.25]);
//! let b = tape.scalar(0.1);
//! let loss = (x.matmul(w) + b).sigmoid().mse(y);
//!
//! // Then run it on other samples: new leaf values, the same graph.
//! let replay = tape.replay(loss);
//! replay.set(x, &[3.0, -1.0]).unwrap();
//! replay.set(y, &[0.0]).unwrap();
//! replay.forward().unwrap();
//! let grads = replay.backward().unwrap();
//!
//! // The same numbers as recording that step afresh.
//! let fresh = Tape::new();
//! let (x2, y2) = (fresh.input_slice(1, 2, &[3.0, -1.0]), fresh.input_slice(1, 1, &[0.0]));
//! let (w2, b2) = (fresh.param_slice(2, 1, &[0.5, -0.25]), fresh.scalar(0.1));
//! let loss2 = (x2.matmul(w2) + b2).sigmoid().mse(y2);
//! assert_eq!(loss.item().to_bits(), loss2.item().to_bits());
//! assert_eq!(grads.wrt(w).to_matrix(), fresh.backward(loss2).wrt(w2).to_matrix());
//! ```
//!
//! Misuse is an error, or does not compile: a leaf written with the wrong number of values, a
//! node that is not a leaf, a handle of another tape, a tape that has grown since the replay was
//! taken, gradients asked for after the leaves changed but before `forward` — each is a
//! [`ReplayError`] naming the node. Truncating or resetting the tape needs `&mut Tape`, which
//! the borrow checker refuses while a `Replay` of it lives:
//!
//! ```compile_fail
//! let mut tape = chainrule::Tape::new();
//! let x = tape.scalar(2.0);
//! let replay = tape.replay(x * x);
//! tape.reset(); // error: `tape` is borrowed by `replay`
//! replay.forward().unwrap();
//! ```

use std::cell::Cell;
use std::fmt;

use crate::grads::Gradients;
use crate::matrix::Matrix;
use crate::ops::{cross_entropy, Op};

mod calls;
mod error;
mod sweep;

use crate::tape::{fail, Inner, NodeId, Tape, Var};
use calls::Call;
pub use error::ReplayError;

/// A recorded step, run again on new leaf values (see the [module doc](self)).
///
/// Taken with [`Tape::replay`]; it borrows the tape, so the tape cannot be reset or truncated
/// while it lives.
pub struct Replay<'t> {
    tape: &'t Tape,
    output: NodeId,
    /// How many nodes the tape held when the replay was taken: all of them are re-run.
    nodes: usize,
    /// The op nodes in tape order, as `forward` runs them.
    calls: Vec<Call>,
    /// The reverse sweep from `output`, worked out once.
    plan: sweep::Plan,
    phase: Cell<Phase>,
}

/// Where a replay is in its step: which of the tape's numbers describe the current leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Values are those of the current leaves (just recorded, or after `forward`); gradients
    /// are not known to be.
    Values,
    /// Values and gradients both are (after `backward`).
    Gradients,
    /// A leaf changed since the last `forward` (a `set`, an update): values are stale.
    Changed,
}

impl Tape {
    /// A replay of the step recorded on this tape, whose loss is the 1×1 `output`: re-runs every
    /// node recorded so far on new leaf values (see [`Replay`]).
    ///
    /// # Panics
    /// If `output` belongs to another tape or is not 1×1 (as [`backward`](Tape::backward)).
    #[track_caller]
    pub fn replay<'t>(&'t self, output: Var<'t>) -> Replay<'t> {
        self.check_owner("replay", output);
        let (rows, cols) = output.shape();
        if (rows, cols) != (1, 1) {
            fail(format_args!(
                "replay: the output {} ({}) is {rows}x{cols}, not a scalar loss",
                output.id,
                output.op()
            ));
        }
        let t = self.inner.borrow();
        let calls = calls::read(&t.nodes);
        let plan = sweep::Plan::new(&t.nodes, &calls, output.id);
        Replay {
            tape: self,
            output: output.id,
            nodes: t.nodes.len(),
            calls,
            plan,
            phase: Cell::new(Phase::Values),
        }
    }
}

impl<'t> Replay<'t> {
    /// The loss the replay differentiates.
    pub fn output(&self) -> Var<'t> {
        Var {
            id: self.output,
            tape: self.tape,
        }
    }

    /// The tape it replays.
    pub fn tape(&self) -> &'t Tape {
        self.tape
    }

    /// How many nodes each [`forward`](Replay::forward) re-runs (leaves included).
    pub fn len(&self) -> usize {
        self.nodes
    }

    /// Whether the replayed tape is empty (it never is: it holds at least the output).
    pub fn is_empty(&self) -> bool {
        self.nodes == 0
    }

    /// Writes `values` (row-major) into the leaf `leaf`, a parameter or an input. The op nodes
    /// keep their old values until [`forward`](Replay::forward).
    ///
    /// # Errors
    /// [`ReplayError::Shape`] if `values` does not fill the leaf exactly;
    /// [`ReplayError::NotALeaf`], [`ReplayError::ForeignVar`], [`ReplayError::TapeChanged`].
    /// Nothing is written when it fails.
    pub fn set(&self, leaf: Var<'t>, values: &[f64]) -> Result<(), ReplayError> {
        let mut t = self.tape.inner.borrow_mut();
        let index = self.leaf_index(&t, leaf, "set")?;
        let node = &t.nodes[index];
        if values.len() != node.rows() * node.cols() {
            return Err(ReplayError::Shape {
                node: leaf.id,
                rows: node.rows(),
                cols: node.cols(),
                given: format!("{} values", values.len()),
            });
        }
        let range = node.range();
        t.values[range].copy_from_slice(values);
        self.phase.set(Phase::Changed);
        Ok(())
    }

    /// Writes the matrix `value` into the leaf `leaf`; its shape must be the leaf's.
    ///
    /// # Errors
    /// As [`set`](Replay::set); a matrix of the right size but another shape is refused too.
    pub fn set_matrix(&self, leaf: Var<'t>, value: &Matrix) -> Result<(), ReplayError> {
        let shape = {
            let t = self.tape.inner.borrow();
            let index = self.leaf_index(&t, leaf, "set")?;
            (t.nodes[index].rows(), t.nodes[index].cols())
        };
        if value.shape() != shape {
            return Err(ReplayError::Shape {
                node: leaf.id,
                rows: shape.0,
                cols: shape.1,
                given: format!("a {}x{} matrix", value.rows(), value.cols()),
            });
        }
        self.set(leaf, value.as_slice())
    }

    /// Re-runs every op's forward kernel in tape order, on the leaves' current values.
    ///
    /// In anomaly mode every value is checked, leaves included, and the first non-finite one is
    /// returned as [`ReplayError::Anomaly`] (the rest of the pass still runs, so every value is
    /// current).
    ///
    /// # Errors
    /// [`ReplayError::TapeChanged`]; [`ReplayError::Invalid`] if a label written into a leaf is
    /// not a class of the `cross_entropy` reading it (checked before that op runs, and the pass
    /// stops there); [`ReplayError::Anomaly`].
    pub fn forward(&self) -> Result<(), ReplayError> {
        let mut guard = self.tape.inner.borrow_mut();
        let t = &mut *guard;
        self.unchanged(t)?;
        for call in &self.calls {
            if call.op == Op::CrossEntropy {
                let (logits, labels) = (&call.inputs[0], &call.inputs[1]);
                let labels_value = &t.values[labels.range()];
                if let Some((row, label)) =
                    cross_entropy::bad_label(labels_value, logits.cols as usize)
                {
                    self.phase.set(Phase::Changed);
                    return Err(ReplayError::Invalid {
                        node: NodeId(call.index),
                        op: call.op,
                        why: format!(
                            "row {row} has label {label}, which is not a class of the {}x{} \
                             logits",
                            logits.rows, logits.cols
                        ),
                    });
                }
            }
            call.forward(&t.nodes, &mut t.values, &t.space);
        }
        self.phase.set(Phase::Values);
        if !t.anomaly.enabled {
            return Ok(());
        }
        // Every value is final now: check them in tape order, leaves included.
        t.anomaly.first = None;
        for index in 0..self.nodes {
            t.anomaly.check_value(index, &t.nodes, &t.values);
        }
        match &t.anomaly.first {
            Some(anomaly) => Err(ReplayError::Anomaly(Box::new(anomaly.clone()))),
            None => Ok(()),
        }
    }

    /// The reverse sweep from the output, over the values of the last
    /// [`forward`](Replay::forward): the numbers of the tape's
    /// [`try_backward`](Tape::try_backward), to the bit, from the sweep planned when the replay
    /// was taken (in anomaly mode, `try_backward` itself, which checks every gradient).
    ///
    /// # Errors
    /// [`ReplayError::Order`] if a leaf changed since the last `forward`;
    /// [`ReplayError::TapeChanged`]; [`ReplayError::Anomaly`] in anomaly mode.
    pub fn backward(&self) -> Result<Gradients<'t>, ReplayError> {
        let watched = {
            let t = self.tape.inner.borrow();
            self.unchanged(&t)?;
            t.anomaly.enabled
        };
        if self.phase.get() == Phase::Changed {
            return Err(ReplayError::Order {
                action: "backward",
                needs: "forward: a leaf changed since the last forward pass",
            });
        }
        let grads = if watched {
            self.tape
                .try_backward(self.output())
                .map_err(ReplayError::Anomaly)?
        } else {
            // The output was checked to be a 1×1 node of this tape when the replay was taken.
            let mut guard = self.tape.inner.borrow_mut();
            let t = &mut *guard;
            t.begin_sweep(self.output, &[1.0], false);
            self.plan.run(t, &self.calls);
            t.end_sweep(self.output);
            drop(guard);
            Gradients::new(self.tape)
        };
        self.phase.set(Phase::Gradients);
        Ok(grads)
    }

    /// [`forward`](Replay::forward), then [`backward`](Replay::backward).
    ///
    /// # Errors
    /// As the two.
    pub fn run(&self) -> Result<Gradients<'t>, ReplayError> {
        self.forward()?;
        self.backward()
    }

    /// Updates parameters where they live on the tape: calls `update(slot, value, gradient)`
    /// for each of `params` in order (`slot` is its position in `params`), with the parameter's
    /// value to change in place and its gradient from the last [`backward`](Replay::backward).
    /// This is what [`Optimizer::step_on_tape`](crate::optim::Optimizer::step_on_tape) does.
    ///
    /// # Errors
    /// [`ReplayError::Order`] unless `backward` ran since the leaves last changed;
    /// [`ReplayError::NotALeaf`] for a node that is not a [`Op::Param`];
    /// [`ReplayError::ForeignVar`], [`ReplayError::TapeChanged`]. Every handle is checked
    /// before any parameter changes.
    pub fn update_params(
        &self,
        params: &[Var<'t>],
        mut update: impl FnMut(usize, &mut [f64], &[f64]),
    ) -> Result<(), ReplayError> {
        let mut guard = self.tape.inner.borrow_mut();
        let t = &mut *guard;
        self.check_params(t, params)?;
        if !t.space.factored.is_empty() {
            // Some gradient was kept as two factors by the sweep (a parameter's, rarely):
            // multiplied out where it is one.
            for (slot, p) in params.iter().enumerate() {
                let index = p.id.index();
                let range = t.nodes[index].range();
                if t.space.is_factored(p.id.0) {
                    let grad = t.grad(index).into_owned();
                    update(slot, &mut t.values[range], &grad);
                } else {
                    update(slot, &mut t.values[range.clone()], &t.grads[range]);
                }
            }
        } else {
            let (nodes, values, grads) = (&t.nodes, &mut t.values, &t.grads);
            for (slot, p) in params.iter().enumerate() {
                let range = nodes[p.id.index()].range();
                update(slot, &mut values[range.clone()], &grads[range]);
            }
        }
        self.phase.set(Phase::Changed);
        Ok(())
    }

    /// [`update_params`](Replay::update_params) for an update that treats every entry alike and
    /// keeps nothing per parameter (plain SGD): calls `update(values, gradients)` once for
    /// each run of `params` that sit side by side on the tape (consecutive in `params` and in
    /// the value buffer, as [`Mlp::bind`](crate::nn::Mlp::bind) records a network's), so a
    /// step's update is one loop over all of them rather than one short loop per parameter.
    ///
    /// ```
    /// use chainrule::Tape;
    /// let tape = Tape::new();
    /// let (a, b) = (tape.scalar(1.0), tape.scalar(2.0));
    /// let replay = tape.replay((a * b).mean()); // dL/da = b, dL/db = a
    /// replay.run().unwrap();
    /// let mut calls = 0;
    /// replay
    ///     .update_runs(&[a, b], |values, grads| {
    ///         calls += 1;
    ///         values.iter_mut().zip(grads).for_each(|(v, g)| *v -= 0.5 * g);
    ///     })
    ///     .unwrap();
    /// assert_eq!((calls, a.item(), b.item()), (1, 0.0, 1.5));
    /// ```
    ///
    /// # Errors
    /// As [`update_params`](Replay::update_params).
    pub fn update_runs(
        &self,
        params: &[Var<'t>],
        mut update: impl FnMut(&mut [f64], &[f64]),
    ) -> Result<(), ReplayError> {
        {
            let t = self.tape.inner.borrow();
            if !t.space.factored.is_empty() {
                drop(t);
                return self.update_params(params, |_, values, grads| update(values, grads));
            }
        }
        let mut guard = self.tape.inner.borrow_mut();
        let t = &mut *guard;
        self.check_params(t, params)?;
        let (nodes, values, grads) = (&t.nodes, &mut t.values, &t.grads);
        let mut run = 0..0;
        for p in params {
            let range = nodes[p.id.index()].range();
            if range.start == run.end && !run.is_empty() {
                run.end = range.end;
                continue;
            }
            if !run.is_empty() {
                update(&mut values[run.clone()], &grads[run]);
            }
            run = range;
        }
        if !run.is_empty() {
            update(&mut values[run.clone()], &grads[run]);
        }
        self.phase.set(Phase::Changed);
        Ok(())
    }

    /// Checks that the gradients are current and that every one of `params` is a parameter of
    /// this tape that the sweep reaches (see [`update_params`](Replay::update_params)).
    fn check_params(&self, t: &Inner, params: &[Var<'t>]) -> Result<(), ReplayError> {
        if self.phase.get() != Phase::Gradients {
            return Err(ReplayError::Order {
                action: "update_params",
                needs: "backward: the gradients are not those of the current values",
            });
        }
        self.unchanged(t)?;
        for &p in params {
            // A leaf of this tape, recorded before the replay was taken (the length is checked).
            if !std::ptr::eq(self.tape, p.tape) {
                return Err(ReplayError::ForeignVar { node: p.id });
            }
            let op = t.nodes[p.id.index()].op;
            if op != Op::Param {
                return Err(ReplayError::NotALeaf {
                    node: p.id,
                    op,
                    action: "update",
                });
            }
            if p.id > self.output {
                return Err(ReplayError::Invalid {
                    node: p.id,
                    op,
                    why: format!(
                        "recorded after the output {}, so the sweep gives it no gradient",
                        self.output
                    ),
                });
            }
        }
        Ok(())
    }

    /// The index of `leaf` if it is a leaf of this tape recorded before the replay was taken.
    fn leaf_index(
        &self,
        t: &Inner,
        leaf: Var<'t>,
        action: &'static str,
    ) -> Result<usize, ReplayError> {
        if !std::ptr::eq(self.tape, leaf.tape) {
            return Err(ReplayError::ForeignVar { node: leaf.id });
        }
        self.unchanged(t)?;
        let index = leaf.id.index();
        let op = t.nodes[index].op;
        if !op.is_leaf() {
            return Err(ReplayError::NotALeaf {
                node: leaf.id,
                op,
                action,
            });
        }
        Ok(index)
    }

    /// Fails if the tape no longer holds exactly the nodes it held when the replay was taken.
    #[inline]
    fn unchanged(&self, t: &Inner) -> Result<(), ReplayError> {
        if t.nodes.len() == self.nodes {
            Ok(())
        } else {
            Err(ReplayError::TapeChanged {
                recorded: self.nodes,
                now: t.nodes.len(),
            })
        }
    }
}

impl fmt::Debug for Replay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replay")
            .field("output", &self.output)
            .field("nodes", &self.nodes)
            .field("phase", &self.phase.get())
            .finish()
    }
}
