//! What an op's code sees: its inputs as the forward kernel reads them ([`Operand`]), and the
//! rule context, what a backward rule may read and write for one node during the reverse sweep
//! ([`Backward`]), with an input's gradient as a rule writes it ([`GradOut`]).
//!
//! A rule reads its node's upstream gradient `dL/dy`, its inputs' values and its own saved
//! output, and writes each input's gradient. In a plain sweep the first contribution to a
//! gradient is written outright (`GradOut::fresh`) instead of added to zeros; rules that can
//! write this way take a [`GradOut`], the others ask for [`Backward::grad`], a zero-filled slice
//! to add into. The gradient under a width-1 dense layer may be kept as two factors
//! ([`Backward::factor_grad`], [`Backward::factored_upstream`]).

use crate::kernels::pool::halves;
use crate::tape::{Node, NodeId, SweepSpace, NO_USE};

use super::Op;

/// An input's value and shape, as the forward kernels see it.
#[derive(Clone, Copy)]
pub(crate) struct Operand<'a> {
    pub(crate) value: &'a [f64],
    pub(crate) rows: usize,
    pub(crate) cols: usize,
}

/// What a backward rule may read (values, shapes, the upstream gradient) and write (the inputs'
/// gradients) for one node during the reverse sweep.
pub(crate) struct Backward<'a> {
    node: &'a Node,
    /// This node's index on the tape.
    index: u32,
    /// Whether the sweep lets first contributions overwrite (see [`GradOut`]).
    fresh: bool,
    /// In a planned sweep (a replay's), which inputs this rule writes first, known from the
    /// graph alone; `None` in the tape's sweep, where the [`Node::last_use`] marks tell.
    first: Option<&'a [bool]>,
    nodes: &'a [Node],
    values: &'a [f64],
    /// The gradients of every node recorded before this one.
    grads: &'a mut [f64],
    /// dL/d(this node).
    pub(crate) upstream: &'a [f64],
    /// The tape's working space for rules, and the gradients this sweep keeps factored (see
    /// [`Backward::factor_grad`]).
    pub(crate) space: &'a mut SweepSpace,
}

impl<'a> Backward<'a> {
    pub(crate) fn new(
        index: usize,
        fresh: bool,
        nodes: &'a [Node],
        values: &'a [f64],
        grads: &'a mut [f64],
        upstream: &'a [f64],
        space: &'a mut SweepSpace,
    ) -> Self {
        Backward {
            node: &nodes[index],
            index: index as u32,
            fresh,
            first: None,
            nodes,
            values,
            grads,
            upstream,
            space,
        }
    }

    /// The context of a planned sweep (a replay's, `replay/sweep.rs`): the plan knows which
    /// inputs this rule writes first (`first[i]`, for every input), so no mark is read or set.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn planned(
        index: usize,
        nodes: &'a [Node],
        values: &'a [f64],
        grads: &'a mut [f64],
        upstream: &'a [f64],
        space: &'a mut SweepSpace,
        first: &'a [bool],
    ) -> Self {
        let mut cx = Backward::new(index, true, nodes, values, grads, upstream, space);
        cx.first = Some(first);
        cx
    }

    /// Whether this rule is the first to pass input `i` a gradient in this sweep; in the tape's
    /// sweep, also marks the input as reached ([`Node::last_use`]).
    #[inline(always)]
    fn take_first(&self, i: usize, n: &Node) -> bool {
        match self.first {
            Some(first) => first[i],
            None => {
                let first = n.last_use.get() == NO_USE;
                n.last_use.set(self.index);
                first
            }
        }
    }

    /// Whether input `i` needs a gradient (a parameter flows into it).
    pub(crate) fn wants(&self, i: usize) -> bool {
        self.input_node(i).requires_grad
    }

    fn input_node(&self, i: usize) -> &'a Node {
        &self.nodes[self.node.inputs[i].index()]
    }

    /// The value of input `i`.
    pub(crate) fn input(&self, i: usize) -> &'a [f64] {
        &self.values[self.input_node(i).range()]
    }

    /// The nodes of a three-input op's inputs (a dense layer's `X`, `W`, `b`), read once.
    #[inline(always)]
    pub(crate) fn input_nodes3(&self) -> [&'a Node; 3] {
        let ids: [NodeId; 3] = self
            .node
            .inputs
            .as_slice()
            .try_into()
            .expect("an op of three inputs");
        ids.map(|id| &self.nodes[id.index()])
    }

    /// Every node's value (an input's is at its node's [`range`](Node::range)).
    #[inline(always)]
    pub(crate) fn values(&self) -> &'a [f64] {
        self.values
    }

    /// `(rows, cols)` of input `i`.
    pub(crate) fn input_shape(&self, i: usize) -> (usize, usize) {
        let n = self.input_node(i);
        (n.rows(), n.cols())
    }

    /// How many inputs this node has.
    pub(crate) fn input_count(&self) -> usize {
        self.node.inputs.len()
    }

    /// `(rows, cols)` of this node (of its output, and of the upstream gradient).
    pub(crate) fn shape(&self) -> (usize, usize) {
        (self.node.rows(), self.node.cols())
    }

    /// This node's own (saved) output value.
    pub(crate) fn output(&self) -> &'a [f64] {
        &self.values[self.node.range()]
    }

    /// Input `i`'s gradient, to add into; `None` when no parameter flows into that input.
    #[inline(always)]
    pub(crate) fn grad(&mut self, i: usize) -> Option<&mut [f64]> {
        let out = self.grad_out(i)?;
        if out.fresh {
            out.d.fill(0.0);
        }
        Some(out.d)
    }

    /// Sets input `i`'s gradient to the outer product `col · rowᵀ` without computing it, if it
    /// can be kept factored; returns whether it was.
    ///
    /// It can when this is the input's only use in a plain sweep (so nothing else adds to its
    /// gradient) and the input is a dense layer's output ([`Op::Linear`]), whose rule reads the
    /// factors as they are ([`Backward::factored_upstream`]); the slot must hold both factors.
    /// That is the gradient under a width-1 layer, `δ · Wᵀ` with δ m×1: the m×k matrix is
    /// never written, nor read back. [`Gradients::wrt`](crate::Gradients::wrt) computes it
    /// if asked.
    #[inline]
    pub(crate) fn factor_grad(&mut self, i: usize, col: &[f64], row: &[f64]) -> bool {
        let (m, k) = (col.len(), row.len());
        if !self.fresh || m * k < m + k {
            return false;
        }
        let id = self.node.inputs.as_slice()[i];
        let n = &self.nodes[id.index()];
        // No rule has passed it a gradient yet in this sweep: this is its first live consumer.
        let first = match self.first {
            Some(first) => first[i],
            None => n.last_use.get() == NO_USE,
        };
        let can = first
            && matches!(n.op, Op::Linear(_))
            && (n.rows(), n.cols()) == (m, k)
            && self.only_use(i);
        if can {
            self.take_first(i, n);
            let slot = &mut self.grads[n.range()];
            slot[..m].copy_from_slice(col);
            slot[m..m + k].copy_from_slice(row);
            self.space.factored.push(id.0);
        }
        can
    }

    /// Whether this node is the only one that passes a gradient back to input `i`, through
    /// that input alone, given that no consumer recorded after it has ([`Node::last_use`]):
    /// nothing between the two on the tape reads it. (A scan, but only for the rare rule that asks, rather than a use
    /// count kept by every recorded node.)
    fn only_use(&self, i: usize) -> bool {
        let inputs: &[NodeId] = &self.node.inputs;
        let id = inputs[i];
        let between = &self.nodes[id.index() + 1..self.index as usize];
        inputs.iter().filter(|&&j| j == id).count() == 1
            && between
                .iter()
                .all(|u| matches!(u.op, Op::Detach) || !u.inputs.contains(&id))
    }

    /// This node's gradient as the factors `(col, row)` of an outer product, if the rule of the
    /// node it feeds kept it factored ([`Backward::factor_grad`]); `None` if it is stored.
    #[inline]
    pub(crate) fn factored_upstream(&self) -> Option<(&'a [f64], &'a [f64])> {
        if !self.space.is_factored(self.index) {
            return None;
        }
        let (m, k) = (self.node.rows(), self.node.cols());
        Some(self.upstream[..m + k].split_at(m))
    }

    /// Input `i`'s gradient for a rule that can overwrite it on the first contribution;
    /// `None` when no parameter flows into that input. Asking marks the input as reached by
    /// the sweep ([`Node::last_use`]): the first rule to ask writes, later ones (another
    /// consumer, or the same node again in `x * x`) add.
    #[inline(always)]
    pub(crate) fn grad_out(&mut self, i: usize) -> Option<GradOut<'_>> {
        let id = self.node.inputs.as_slice()[i];
        let n = &self.nodes[id.index()];
        if !n.requires_grad {
            return None;
        }
        let first = self.take_first(i, n);
        Some(GradOut {
            fresh: self.fresh && first,
            d: &mut self.grads[n.range()],
        })
    }

    /// Where input `i`'s gradient starts in [`grads_below`](Backward::grads_below), and
    /// whether this is its first contribution (to write rather than add), for a rule that
    /// writes into the buffer itself; `None` when no parameter flows into that input. Asking
    /// marks the input as [`grad_out`](Backward::grad_out) does.
    /// `n` is input `i`'s node ([`input_nodes3`](Backward::input_nodes3)).
    #[inline(always)]
    pub(crate) fn grad_at(&mut self, i: usize, n: &Node) -> Option<(usize, bool)> {
        if !n.requires_grad {
            return None;
        }
        let first = self.take_first(i, n);
        Some((n.offset, self.fresh && first))
    }

    /// The gradients of every node recorded before this one (where
    /// [`grad_at`](Backward::grad_at) points).
    #[inline(always)]
    pub(crate) fn grads_below(&mut self) -> &mut [f64] {
        self.grads
    }
}

/// An input's gradient as a rule writes it. Its contribution is added to what the input's other
/// uses have put there, except for the first contribution of a sweep (`fresh`), which is written
/// over whatever an earlier sweep left: the tape then never zero-fills the buffer, nor reads
/// those zeros back. Either way the result is `0 + contribution + …`, the same numbers.
pub(crate) struct GradOut<'a> {
    pub(crate) d: &'a mut [f64],
    pub(crate) fresh: bool,
}

impl GradOut<'_> {
    /// `d += c` entry by entry (`d = c` when fresh).
    #[inline(always)]
    pub(crate) fn add(self, contributions: impl Iterator<Item = f64>) {
        if self.fresh {
            for (d, c) in self.d.iter_mut().zip(contributions) {
                *d = c;
            }
        } else {
            for (d, c) in self.d.iter_mut().zip(contributions) {
                *d += c;
            }
        }
    }

    /// Calls `f(first, part)` on two halves of the gradient, cut at a multiple of `unit`
    /// entries, on two threads when it is large (see `kernels::pool::halves`).
    #[inline(always)]
    pub(crate) fn halves(self, unit: usize, f: impl Fn(usize, GradOut<'_>) + Sync) {
        let fresh = self.fresh;
        let work = self.d.len();
        halves(self.d, unit, work, |first, d| {
            f(first, GradOut { d, fresh })
        });
    }
}
