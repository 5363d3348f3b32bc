//! Anomaly mode: find the first op that produced a NaN or an infinity, instead of printing `nan`
//! for a thousand epochs.
//!
//! When [`Tape::set_anomaly_detection`](crate::Tape::set_anomaly_detection) is on, the tape
//! remembers where each op was recorded (the caller's `file:line:col`, via `#[track_caller]`),
//! checks every value it records and every gradient the reverse sweep writes, and keeps the
//! first non-finite one as an [`Anomaly`]. When it is off, none of this runs: no location is
//! stored and no value is looked at ([`Tape::anomaly_checks`](crate::Tape::anomaly_checks) stays 0).

use std::fmt;
use std::panic::Location;

use crate::matrix::summarize;
use crate::ops::Op;
use crate::tape::{Node, NodeId, Tape};

/// Which pass found the anomaly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// A recorded value was NaN or infinite.
    Forward,
    /// A backward rule wrote a NaN or infinite gradient into one of its inputs.
    Backward,
}

/// The first NaN or infinity found in anomaly mode: which node, which op, where it was recorded,
/// and the numbers around it.
#[derive(Clone, Debug, PartialEq)]
pub struct Anomaly {
    /// Forward (a value) or backward (a gradient).
    pub phase: Phase,
    /// The node whose op produced it (in the backward pass: whose rule produced it).
    pub node: NodeId,
    /// That node's op.
    pub op: Op,
    /// Where the op was recorded: `file:line:col` of the caller.
    pub location: String,
    /// The node's inputs, each with a summary of its value: `n4 = [0]`.
    pub inputs: Vec<(NodeId, String)>,
    /// The offending value (forward) or gradient (backward), summarized.
    pub found: String,
    /// Backward only: the input whose gradient went non-finite, and the upstream gradient
    /// dL/d(node) the rule was given.
    pub gradient_of: Option<(NodeId, String)>,
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let call = call_text(self.node, self.op, self.inputs.iter().map(|(id, _)| *id));
        match (&self.phase, &self.gradient_of) {
            (Phase::Backward, Some((input, upstream))) => write!(
                f,
                "anomaly in the backward pass: the rule of {call} (recorded at {}) made dL/d{input} = {} \
                 from upstream dL/d{} = {upstream}",
                self.location, self.found, self.node
            )?,
            _ => write!(
                f,
                "anomaly in the forward pass: {call} (recorded at {}) produced {}",
                self.location, self.found
            )?,
        }
        if !self.inputs.is_empty() {
            f.write_str("; inputs: ")?;
            for (k, (id, summary)) in self.inputs.iter().enumerate() {
                let sep = if k > 0 { ", " } else { "" };
                write!(f, "{sep}{id} = {summary}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Anomaly {}

/// `n5 = log(n4)`, or `n0 = param` for a leaf.
pub(crate) fn call_text(node: NodeId, op: Op, inputs: impl Iterator<Item = NodeId>) -> String {
    let args: Vec<String> = inputs.map(|i| i.to_string()).collect();
    if op.is_leaf() {
        format!("{node} = {op}")
    } else {
        format!("{node} = {op}({})", args.join(", "))
    }
}

/// The anomaly-mode state of a tape.
#[derive(Default)]
pub(crate) struct AnomalyState {
    pub(crate) enabled: bool,
    /// Where each node was recorded; filled only while enabled (`None` for nodes recorded
    /// before the mode was turned on).
    pub(crate) locations: Vec<Option<&'static Location<'static>>>,
    pub(crate) first: Option<Anomaly>,
    /// How many values and gradients have been checked (stays 0 while disabled).
    pub(crate) checks: usize,
}

impl AnomalyState {
    /// Called after a node is recorded (only while enabled): remembers where, checks its value.
    pub(crate) fn after_record(
        &mut self,
        nodes: &[Node],
        values: &[f64],
        at: &'static Location<'static>,
    ) {
        let id = nodes.len() - 1;
        // Nodes recorded while the mode was off have no location; pad so indices line up.
        self.locations.resize(id, None);
        self.locations.push(Some(at));
        self.check_value(id, nodes, values);
    }

    /// Checks node `index`'s value, recorded or recomputed by a replay (only while enabled): the
    /// first non-finite one becomes [`first`](AnomalyState::first).
    pub(crate) fn check_value(&mut self, index: usize, nodes: &[Node], values: &[f64]) {
        self.checks += 1;
        let value = &values[nodes[index].range()];
        if self.first.is_none() && value.iter().any(|v| !v.is_finite()) {
            self.first = Some(self.describe(
                Phase::Forward,
                NodeId(index as u32),
                nodes,
                values,
                value,
                None,
            ));
        }
    }

    /// Called after a node's backward rule ran (only while enabled): checks every input gradient
    /// it wrote. Returns the anomaly if one appeared.
    pub(crate) fn after_rule(
        &mut self,
        id: NodeId,
        nodes: &[Node],
        values: &[f64],
        grads: &[f64],
    ) -> Option<Anomaly> {
        let node = &nodes[id.index()];
        for &input in node.inputs.iter() {
            let n = &nodes[input.index()];
            if !n.requires_grad {
                continue;
            }
            self.checks += 1;
            let grad = &grads[n.range()];
            if grad.iter().any(|g| !g.is_finite()) {
                let upstream = &grads[node.range()];
                let upstream = summarize(node.rows(), node.cols(), upstream);
                let anomaly = self.describe(
                    Phase::Backward,
                    id,
                    nodes,
                    values,
                    grad,
                    Some((input, upstream)),
                );
                self.first.get_or_insert_with(|| anomaly.clone());
                return Some(anomaly);
            }
        }
        None
    }

    /// The first non-finite value recorded among the nodes `output` depends on (itself
    /// included): what a backward sweep from `output` must report. A NaN on a branch the output
    /// does not use (a value recorded on the side, for a report) is not its concern.
    ///
    /// The common case costs nothing: no anomaly at all, or the first one is at `output` or
    /// below it on a path to it. Otherwise one pass marks what `output` depends on.
    pub(crate) fn first_for(
        &self,
        output: NodeId,
        nodes: &[Node],
        values: &[f64],
    ) -> Option<Anomaly> {
        let first = self.first.as_ref()?;
        if first.node > output {
            return None;
        }
        let mut needed = vec![false; output.index() + 1];
        needed[output.index()] = true;
        for index in (0..=output.index()).rev() {
            if needed[index] {
                for input in nodes[index].inputs.iter() {
                    needed[input.index()] = true;
                }
            }
        }
        if needed[first.node.index()] {
            return Some(first.clone());
        }
        let (index, node) = nodes[..=output.index()]
            .iter()
            .enumerate()
            .find(|(i, n)| needed[*i] && values[n.range()].iter().any(|v| !v.is_finite()))?;
        let found = &values[node.range()];
        Some(self.describe(
            Phase::Forward,
            NodeId(index as u32),
            nodes,
            values,
            found,
            None,
        ))
    }

    fn describe(
        &self,
        phase: Phase,
        id: NodeId,
        nodes: &[Node],
        values: &[f64],
        found: &[f64],
        gradient_of: Option<(NodeId, String)>,
    ) -> Anomaly {
        let node = &nodes[id.index()];
        let (rows, cols) = match gradient_of {
            Some((input, _)) => (nodes[input.index()].rows(), nodes[input.index()].cols()),
            None => (node.rows(), node.cols()),
        };
        let inputs = node
            .inputs
            .iter()
            .map(|&i| {
                let n = &nodes[i.index()];
                (i, summarize(n.rows(), n.cols(), &values[n.range()]))
            })
            .collect();
        let location = match self.locations.get(id.index()) {
            Some(Some(at)) => at.to_string(),
            _ => "an unknown place (before anomaly mode was turned on)".to_string(),
        };
        Anomaly {
            phase,
            node: id,
            op: node.op,
            location,
            inputs,
            found: summarize(rows, cols, found),
            gradient_of,
        }
    }
}

// Anomaly mode's switches, with the mode they switch (an inherent impl of the tape).
impl Tape {
    /// Turns anomaly mode on or off (see [`crate::anomaly`]): while on, every recorded value and
    /// every gradient is checked for NaN and infinity, and the first one found is kept with the
    /// op and the source line that recorded it. Off by default; it costs nothing while off.
    ///
    /// ```
    /// use chainrule::Tape;
    /// let tape = Tape::new();
    /// tape.set_anomaly_detection(true);
    /// let x = tape.scalar(0.0);
    /// let y = x.log().exp();                  // log(0) = −∞ is the first non-finite value
    /// let err = tape.try_backward(y).unwrap_err();
    /// assert_eq!(err.op.name(), "log");
    /// assert!(err.to_string().contains("produced [-inf]"));
    /// ```
    pub fn set_anomaly_detection(&self, on: bool) {
        self.inner.borrow_mut().anomaly.enabled = on;
    }

    /// Whether anomaly mode is on.
    pub fn anomaly_detection(&self) -> bool {
        self.inner.borrow().anomaly.enabled
    }

    /// The first anomaly found since the tape was last reset, if any (anomaly mode only).
    pub fn anomaly(&self) -> Option<Anomaly> {
        self.inner.borrow().anomaly.first.clone()
    }

    /// How many values and gradients anomaly mode has checked on this tape (0 while it is off).
    pub fn anomaly_checks(&self) -> usize {
        self.inner.borrow().anomaly.checks
    }
}

/// Records one step again on a fresh tape with anomaly mode on, and returns the first NaN or
/// infinity it finds (forward values, then, for a 1×1 output, the backward sweep).
///
/// This is what a training loop calls when its loss goes non-finite: the normal steps run with
/// the mode off (at no cost), and only the failing step is replayed to name the culprit.
///
/// ```
/// use chainrule::{anomaly, Matrix, Op};
///
/// let w = Matrix::from_rows(&[[f64::INFINITY], [1.0]]); // weights that diverged
/// let found = anomaly::diagnose(|tape| {
///     let x = tape.input(&Matrix::from_rows(&[[0.5, 0.5]]));
///     x.matmul(tape.param(&w)).sigmoid().mse(tape.constant(1.0))
/// });
/// assert_eq!(found.unwrap().op, Op::Param);
/// ```
pub fn diagnose<F>(step: F) -> Option<Anomaly>
where
    F: for<'t> FnOnce(&'t crate::Tape) -> crate::Var<'t>,
{
    let tape = crate::Tape::new();
    tape.set_anomaly_detection(true);
    let out = step(&tape);
    if out.shape() == (1, 1) {
        tape.try_backward(out).err().map(|anomaly| *anomaly)
    } else {
        tape.anomaly()
    }
}
