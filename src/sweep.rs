//! The reverse sweep: seed the output's gradient, then one loop over the tape from the output
//! down to node 0, in which each node's rule (in its op's file, reached through
//! `ops::backward`) hands `upstream × local derivative` to its inputs.
//!
//! Only the rules the output depends on run, and the gradient buffer is not zero-filled first:
//! [`Inner::reach`] marks each input with its first live consumer, whose rule writes the
//! gradient outright, and zeroes the gradient of a node nothing live consumed. A watched sweep
//! (a trace for `viz`, or anomaly mode) zero-fills and adds instead, so that each rule's
//! contribution can be set apart and every gradient checked; it runs apart from the plain loop
//! ([`Inner::sweep_watched`]).

use smallvec::SmallVec;

use crate::anomaly::Anomaly;
use crate::grads::Gradients;
use crate::kernels::pool::halves;
use crate::matrix::Matrix;
use crate::ops::{self, Backward, Op};
use crate::tape::{fail, Inner, Node, NodeId, Tape, Var, NO_USE};

/// One node's step of a traced reverse sweep: the upstream gradient it received and what its rule
/// added to each input's gradient.
pub(crate) struct RawStep {
    pub(crate) node: NodeId,
    pub(crate) upstream: Vec<f64>,
    pub(crate) added: SmallVec<[(NodeId, Vec<f64>); 2]>,
}

impl Tape {
    /// Runs the reverse sweep from a 1×1 `output` (a loss) and returns every gradient d`output`/d·.
    ///
    /// Gradients are recomputed from zero on each call, so calling it twice gives the same numbers.
    /// Only nodes the output depends on run their backward rule: nodes recorded on the side
    /// (before or after the output) and nodes that depend on no parameter get no gradient work,
    /// and their gradient reads as zero, so a value recorded only to be printed never changes a
    /// gradient. The output's own gradient reads as 1.
    ///
    /// # Panics
    /// If `output` is not 1×1 (reduce it with `.sum()` / `.mean()`, or seed it with
    /// [`backward_with`](Tape::backward_with)), or belongs to another tape.
    ///
    /// In anomaly mode, a NaN or infinity in the forward or backward pass panics with the
    /// [`Anomaly`]; use [`try_backward`](Tape::try_backward) to get it as an error instead.
    #[inline]
    #[track_caller]
    pub fn backward<'t>(&'t self, output: Var<'t>) -> Gradients<'t> {
        match self.try_backward(output) {
            Ok(grads) => grads,
            Err(anomaly) => panic!("{anomaly}"),
        }
    }

    /// The vector–Jacobian product: backward from a non-scalar `output` with `seed` as dL/d`output`.
    ///
    /// As in [`backward`](Tape::backward), only the nodes `output` depends on run their rule;
    /// `output`'s own gradient reads as `seed`, whether or not a parameter flows into it.
    ///
    /// # Panics
    /// If `seed`'s shape differs from `output`'s, or `output` belongs to another tape.
    #[inline]
    #[track_caller]
    pub fn backward_with<'t>(&'t self, output: Var<'t>, seed: &Matrix) -> Gradients<'t> {
        self.check_owner("backward_with", output);
        let (rows, cols) = output.shape();
        if seed.shape() != (rows, cols) {
            fail(format_args!(
                "backward_with: the seed is {}x{} but the output {} is {rows}x{cols}",
                seed.rows(),
                seed.cols(),
                output.id
            ));
        }
        if let Some(anomaly) = self.forward_anomaly(output.id) {
            panic!("{anomaly}");
        }
        if let Err(anomaly) = self.sweep(output.id, seed.as_slice(), None) {
            panic!("{anomaly}");
        }
        Gradients::new(self)
    }

    /// [`backward`](Tape::backward) that reports an anomaly instead of panicking: in anomaly mode,
    /// a non-finite value recorded in the forward pass that `output` depends on, or the first
    /// non-finite gradient of the sweep, is returned as an error naming the op, its inputs and
    /// where it was recorded. (A NaN on a branch `output` does not use is not reported here;
    /// [`Tape::anomaly`] still has it.)
    /// Without anomaly mode it always succeeds.
    ///
    /// # Panics
    /// As [`backward`](Tape::backward), for a non-scalar output or a handle of another tape.
    #[track_caller]
    pub fn try_backward<'t>(&'t self, output: Var<'t>) -> Result<Gradients<'t>, Box<Anomaly>> {
        self.check_owner("backward", output);
        let (rows, cols) = output.shape();
        if (rows, cols) != (1, 1) {
            fail(format_args!(
                "backward: the output {} ({}) is {rows}x{cols}, not a scalar; reduce it with \
                 .sum() or .mean(), or call backward_with(out, seed) with a {rows}x{cols} seed",
                output.id,
                output.op()
            ));
        }
        if let Some(anomaly) = self.forward_anomaly(output.id) {
            return Err(Box::new(anomaly));
        }
        self.sweep(output.id, &[1.0], None)?;
        Ok(Gradients::new(self))
    }

    /// The first non-finite value recorded among the nodes `output` depends on, if any
    /// (anomaly mode only).
    fn forward_anomaly(&self, output: NodeId) -> Option<Anomaly> {
        let t = self.inner.borrow();
        t.anomaly.first_for(output, &t.nodes, &t.values)
    }

    /// The reverse sweep: seed the output's gradient, then walk the tape backwards once.
    ///
    /// Only nodes the output depends on run their rule (see [`Inner::reach`]): a value recorded
    /// on the side, say a loss printed for a report, never changes a gradient, even where its
    /// rule would compute `0 · ∞`. The output's own gradient is the seed, whether or not a
    /// parameter flows into it.
    ///
    /// With `trace`, each rule's contribution is also recorded (the inputs' gradients are set
    /// aside, the rule runs on zeros, and what it wrote is kept and added back). In anomaly mode
    /// every gradient a rule writes is checked, and the sweep stops at the first non-finite one.
    pub(crate) fn sweep(
        &self,
        output: NodeId,
        seed: &[f64],
        trace: Option<&mut Vec<RawStep>>,
    ) -> Result<(), Box<Anomaly>> {
        let mut guard = self.inner.borrow_mut();
        let t = &mut *guard;
        // When nothing watches the sweep (no trace, no anomaly mode), each gradient is written
        // outright by its first contribution, so the buffer is not zero-filled; otherwise it
        // is, and every rule adds.
        let watched = trace.is_some() || t.anomaly.enabled;
        t.begin_sweep(output, seed, watched);
        if watched {
            return t.sweep_watched(output, trace);
        }
        t.sweep_plain(output);
        Ok(())
    }
}

impl Inner {
    /// The sweep's loop when nothing watches it (no trace, no anomaly mode): a 1×1 node of an
    /// elementwise op takes the fast path of `ops/scalar.rs`, any other the op's rule.
    ///
    /// The buffers are taken apart once, so the loop keeps them in registers: a scalar graph's
    /// node costs only its bookkeeping.
    fn sweep_plain(&mut self, output: NodeId) {
        let Inner {
            nodes,
            values,
            grads,
            space,
            ..
        } = self;
        let (nodes, values, grads) = (&nodes[..=output.index()], &values[..], &mut grads[..]);
        for (index, node) in nodes.iter().enumerate().rev() {
            if !reach(node, index == output.index(), grads, true) {
                continue;
            }
            // A node with a fast path has a rule: the leaf and `detach` tests come after.
            if node.fast & ops::scalar::ANY != 0
                && ops::scalar::backward(index, node, nodes, values, grads)
            {
                continue;
            }
            if !has_rule(node.op) {
                continue;
            }
            // Inputs always sit below the node's offset: split there to read the node's own
            // gradient (the upstream) while writing its inputs' gradients.
            let (below, rest) = grads.split_at_mut(node.offset);
            let upstream = &rest[..node.rows() * node.cols()];
            let mut cx = Backward::new(index, true, nodes, values, below, upstream, space);
            ops::backward(node.op, &mut cx);
        }
        self.end_sweep(output);
    }

    /// Gets the gradient buffer ready for a sweep from `output`: zero-filled if `watched`, the
    /// seed in the output's slot, no gradient readable until the sweep ends.
    #[inline(always)]
    pub(crate) fn begin_sweep(&mut self, output: NodeId, seed: &[f64], watched: bool) {
        if std::mem::replace(&mut self.sweeping, true) {
            // A rule panicked in the last sweep: forget the marks it left.
            self.nodes.iter().for_each(|n| n.last_use.set(NO_USE));
        }
        let out = &self.nodes[output.index()];
        let end = out.offset + seed.len();
        // The gradient buffer keeps its high-water length, like the value buffer.
        if self.grads.len() < end {
            self.grads.resize(end, 0.0);
        }
        if watched {
            let work = end;
            halves(&mut self.grads[..end], 1, work, |_, part| part.fill(0.0));
        }
        self.grads[out.offset..end].copy_from_slice(seed);
        self.grads_for = 0;
        self.space.factored.clear();
    }

    /// Nodes up to the output now hold their gradients, and no sweep is under way.
    #[inline(always)]
    pub(crate) fn end_sweep(&mut self, output: NodeId) {
        self.grads_for = output.index() + 1;
        self.sweeping = false;
    }

    /// The sweep's loop when something watches it, over a zero-filled buffer where every rule
    /// adds: with `trace`, each rule's contribution is recorded (see [`set_aside`]); in anomaly
    /// mode, the gradients each rule wrote are checked and the sweep stops at the first
    /// non-finite one.
    fn sweep_watched(
        &mut self,
        output: NodeId,
        mut trace: Option<&mut Vec<RawStep>>,
    ) -> Result<(), Box<Anomaly>> {
        for index in (0..=output.index()).rev() {
            if !reach(
                &self.nodes[index],
                index == output.index(),
                &mut self.grads,
                false,
            ) || !has_rule(self.nodes[index].op)
            {
                continue;
            }
            let node = &self.nodes[index];
            let (below, rest) = self.grads.split_at_mut(node.offset);
            let upstream = &rest[..node.rows() * node.cols()];
            let mut added = if trace.is_some() {
                set_aside(&self.nodes, node, below)
            } else {
                SmallVec::new()
            };
            ops::backward(
                node.op,
                &mut Backward::new(
                    index,
                    false,
                    &self.nodes,
                    &self.values,
                    below,
                    upstream,
                    &mut self.space,
                ),
            );
            if let Some(steps) = trace.as_deref_mut() {
                restore(&self.nodes, below, &mut added);
                steps.push(RawStep {
                    node: NodeId(index as u32),
                    upstream: upstream.to_vec(),
                    added,
                });
            }
            if self.anomaly.enabled {
                let id = NodeId(index as u32);
                if let Some(anomaly) =
                    self.anomaly
                        .after_rule(id, &self.nodes, &self.values, &self.grads)
                {
                    // The nodes below were not reached: clear the marks this sweep left on them.
                    self.nodes[..index]
                        .iter_mut()
                        .for_each(|n| n.last_use.set(NO_USE));
                    self.sweeping = false;
                    return Err(Box::new(anomaly));
                }
            }
        }
        self.end_sweep(output);
        Ok(())
    }
}

/// The sweep's visit to `node` on its way down from the output: whether its rule runs, if it
/// has one (see [`has_rule`]).
///
/// It runs if the node is the output or a rule that ran has passed it a gradient (its
/// [`Node::last_use`] mark, set by `Backward::grad_out`), and if a parameter flows into it. A node the output does not depend on keeps a zero gradient (written here when
/// `zero_unreached`, i.e. when the buffer was not zero-filled). The mark is cleared for the next
/// sweep: every rule that could set it (the node's consumers) has run by now.
#[inline(always)]
fn reach(node: &Node, is_output: bool, grads: &mut [f64], zero_unreached: bool) -> bool {
    let reached = is_output || node.last_use.get() != NO_USE;
    node.last_use.set(NO_USE);
    if !reached || !node.requires_grad {
        if zero_unreached && !is_output {
            grads[node.range()].fill(0.0);
        }
        return false;
    }
    true
}

/// Whether a node of `op` has a backward rule: not a leaf, not `detach`.
#[inline(always)]
fn has_rule(op: Op) -> bool {
    !matches!(op, Op::Param | Op::Input | Op::Detach)
}

/// For a trace: sets aside the gradients of `node`'s inputs (each input once) and zeroes them, so
/// that its rule writes its contribution alone. Returns them, for [`restore`].
fn set_aside(nodes: &[Node], node: &Node, below: &mut [f64]) -> SmallVec<[(NodeId, Vec<f64>); 2]> {
    let mut added: SmallVec<[(NodeId, Vec<f64>); 2]> = SmallVec::new();
    for &input in node.inputs.iter() {
        let n = &nodes[input.index()];
        if n.requires_grad && !added.iter().any(|(id, _)| *id == input) {
            added.push((input, below[n.range()].to_vec()));
            below[n.range()].fill(0.0);
        }
    }
    added
}

/// After the rule: adds back what [`set_aside`] took, and keeps what the rule wrote in its place.
fn restore(nodes: &[Node], below: &mut [f64], added: &mut [(NodeId, Vec<f64>)]) {
    for (input, before) in added.iter_mut() {
        let grad = &mut below[nodes[input.index()].range()];
        for (g, b) in grad.iter_mut().zip(before.iter_mut()) {
            // keep the contribution in `before`, and restore the running sum
            let contribution = *g;
            *g += *b;
            *b = contribution;
        }
    }
}
