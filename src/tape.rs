//! The tape: an arena that records every op as it runs (a Wengert list) and sweeps it in reverse.
//!
//! Three flat buffers hold everything: `nodes` (op, inputs, shape, offset), `values` and `grads`
//! (one `f64` per entry of every node, at the node's offset). A node can only use nodes recorded
//! before it, so the recording order is already a topological order: the backward pass is one loop
//! from the output down to node 0, handing `upstream × local derivative` to each input with `+=`.
//! [`Tape::reset`] forgets every node but keeps the buffers (the value buffer even keeps its
//! length, since every forward kernel overwrites its output), so after the first step of a
//! training loop, recording and differentiating a step of the same shape allocates nothing.
//!
//! This file is the arena and the recording (a node itself is in `tape/node.rs`); the reverse
//! sweep over it is in `sweep.rs`, reading a node's value and gradient in `grads.rs`, anomaly
//! mode's switches in `anomaly.rs`.

use std::cell::{Ref, RefCell};
use std::fmt;
use std::panic::Location;

use smallvec::SmallVec;

use crate::anomaly::AnomalyState;
use crate::matrix::Matrix;
use crate::ops::{self, Op, Operand};

mod node;
pub(crate) use node::{push_node, Node, NO_USE};

/// The index of a node on its tape, in recording order. Printed as `n7`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub(crate) u32);

impl NodeId {
    /// The position of the node on the tape (0 for the first node recorded).
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// The tape's storage, behind the `RefCell` of [`Tape`].
#[derive(Default)]
pub(crate) struct Inner {
    pub(crate) nodes: Vec<Node>,
    /// The values of every node; only `values[..used]` is live. The buffer keeps its high-water
    /// length across resets, so a recording step neither allocates nor zero-fills: every forward
    /// kernel overwrites its whole output.
    pub(crate) values: Vec<f64>,
    pub(crate) used: usize,
    pub(crate) grads: Vec<f64>,
    /// Nodes `0..grads_for` hold gradients from the last backward sweep; later ones have none.
    pub(crate) grads_for: usize,
    /// What backward rules keep besides the gradients.
    pub(crate) space: SweepSpace,
    /// Set while a sweep runs: still set at the start of the next one only if a rule panicked
    /// half-way, leaving some [`Node::last_use`] marks behind.
    pub(crate) sweeping: bool,
    pub(crate) anomaly: AnomalyState,
    /// The nodes (in recording order) whose inputs spilled to the heap: a user op of more than
    /// three inputs. A [`Node`] has no drop glue; forgetting one of these frees its list.
    pub(crate) spilled: Vec<u32>,
}

impl Inner {
    /// Frees the spilled input lists of the nodes from `keep` on, before they are forgotten.
    fn free_spilled(&mut self, keep: usize) {
        while let Some(&index) = self.spilled.last() {
            if (index as usize) < keep {
                break;
            }
            self.spilled.pop();
            drop(std::mem::take(&mut *self.nodes[index as usize].inputs));
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.free_spilled(0);
    }
}

/// The backward rules' own storage on a tape, kept across sweeps.
#[derive(Default)]
pub(crate) struct SweepSpace {
    /// Working space of backward rules (a dense layer's `δ`); keeps its high-water length.
    pub(crate) scratch: Vec<f64>,
    /// Nodes whose gradient the last sweep kept as an outer product `col · rowᵀ` instead of
    /// storing it (see `Backward::factor_grad`): the first `rows` entries of the node's gradient
    /// slot hold `col`, the next `cols` hold `row`.
    pub(crate) factored: Vec<u32>,
    /// The user ops recorded on this tape ([`Op::Custom`] indexes it): their rule needs the op.
    pub(crate) custom: ops::custom::Registry,
}

impl SweepSpace {
    /// Whether the last sweep kept node `index`'s gradient factored.
    #[inline]
    pub(crate) fn is_factored(&self, index: u32) -> bool {
        !self.factored.is_empty() && self.factored.contains(&index)
    }
}

impl Inner {
    /// Reserves the next `len` entries of the value buffer and returns them (stale contents).
    #[inline]
    pub(crate) fn claim(&mut self, len: usize) -> &mut [f64] {
        let (start, end) = (self.used, self.used + len);
        if self.values.len() < end {
            self.values.resize(end, 0.0);
        }
        self.used = end;
        &mut self.values[start..end]
    }
}

impl Inner {
    /// Appends a 1×1 op node of value `y` (the fast path of `ops/scalar.rs`, which computed it).
    #[inline(always)]
    pub(crate) fn push_scalar(
        &mut self,
        op: Op,
        inputs: &[NodeId],
        y: f64,
        requires_grad: bool,
        at: &'static Location<'static>,
    ) -> NodeId {
        let offset = self.used;
        match self.values.get_mut(offset) {
            Some(slot) => *slot = y,
            None => self.values.push(y),
        }
        self.used = offset + 1;
        let inputs = SmallVec::from_slice(inputs);
        let id = push_node(&mut self.nodes, op, inputs, 1, 1, offset, requires_grad);
        if self.anomaly.enabled {
            self.anomaly.after_record(&self.nodes, &self.values, at);
        }
        id
    }
}

/// A recording of operations, and the reverse sweep that differentiates it.
///
/// Leaves go on with [`param`](Tape::param) (trainable: gradients are computed for it) or
/// [`input`](Tape::input) (data and constants: no gradient work). Ops are methods and operators on
/// the returned [`Var`] handles. [`backward`](Tape::backward) computes the gradient of a 1×1 output
/// with respect to every node.
///
/// ```
/// use chainrule::{Matrix, Tape};
///
/// let tape = Tape::new();
/// let x = tape.input(&Matrix::from_rows(&[[1.0, 2.0]]));             // 1×2 data
/// let w = tape.param(&Matrix::from_rows(&[[0.5], [-0.25]]));         // 2×1 weight
/// let b = tape.param(&Matrix::scalar(0.1));                          // 1×1 bias
/// let y = (x.matmul(w) + b).sigmoid();                               // σ(x·w + b), 1×1
/// let grads = tape.backward(y);
/// // dy/dw = σ'(z) · xᵀ with z = 0.5 − 0.5 + 0.1
/// let s = 1.0 / (1.0 + (-0.1f64).exp());
/// assert!((grads.wrt(w)[(1, 0)] - s * (1.0 - s) * 2.0).abs() < 1e-15);
/// ```
#[derive(Default)]
pub struct Tape {
    pub(crate) inner: RefCell<Inner>,
}

/// A position on a tape, taken with [`Tape::mark`] and returned to with [`Tape::truncate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    nodes: usize,
    values: usize,
}

/// A handle to one node of a [`Tape`]: a [`NodeId`] and a reference to the tape.
///
/// `Var` is `Copy`, so it reads like a number in formulas: `(x.matmul(w) + b).sigmoid()`,
/// `2.0 * a * a + b`. Every op records a new node and returns its handle. A handle cannot outlive
/// its tape, and mixing handles of two tapes in one op panics.
#[derive(Clone, Copy)]
pub struct Var<'t> {
    pub(crate) id: NodeId,
    pub(crate) tape: &'t Tape,
}

impl Tape {
    /// An empty tape.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty tape with room for `nodes` nodes and `values` `f64` entries before it reallocates.
    pub fn with_capacity(nodes: usize, values: usize) -> Self {
        let inner = Inner {
            nodes: Vec::with_capacity(nodes),
            values: Vec::with_capacity(values),
            used: 0,
            grads: Vec::with_capacity(values),
            grads_for: 0,
            space: SweepSpace::default(),
            sweeping: false,
            anomaly: AnomalyState::default(),
            spilled: Vec::new(),
        };
        Tape {
            inner: RefCell::new(inner),
        }
    }

    /// Records a trainable leaf holding a copy of `value`; backward computes its gradient.
    #[inline]
    #[track_caller]
    pub fn param(&self, value: &Matrix) -> Var<'_> {
        self.leaf(Op::Param, value.rows(), value.cols(), value.as_slice())
    }

    /// Records a trainable leaf from a row-major slice (no `Matrix` needed, nothing allocated).
    #[inline]
    #[track_caller]
    pub fn param_slice(&self, rows: usize, cols: usize, values: &[f64]) -> Var<'_> {
        check_len("param_slice", rows, cols, values);
        self.leaf(Op::Param, rows, cols, values)
    }

    /// Records a trainable 1×1 leaf: the micrograd-style scalar `Value`.
    #[inline]
    #[track_caller]
    pub fn scalar(&self, value: f64) -> Var<'_> {
        self.leaf(Op::Param, 1, 1, &[value])
    }

    /// Records a leaf that is not trained (data, targets, constants): it gets no gradient work.
    #[inline]
    #[track_caller]
    pub fn input(&self, value: &Matrix) -> Var<'_> {
        self.leaf(Op::Input, value.rows(), value.cols(), value.as_slice())
    }

    /// Records a non-trained leaf from a row-major slice (nothing allocated).
    #[inline]
    #[track_caller]
    pub fn input_slice(&self, rows: usize, cols: usize, values: &[f64]) -> Var<'_> {
        check_len("input_slice", rows, cols, values);
        self.leaf(Op::Input, rows, cols, values)
    }

    /// Records a non-trained 1×1 constant.
    #[inline]
    #[track_caller]
    pub fn constant(&self, value: f64) -> Var<'_> {
        self.leaf(Op::Input, 1, 1, &[value])
    }

    /// The handle of node `id`, e.g. a parameter recorded before a [`mark`](Tape::mark).
    ///
    /// # Panics
    /// If the tape has no node `id`.
    #[inline]
    #[track_caller]
    pub fn var(&self, id: NodeId) -> Var<'_> {
        let len = self.len();
        if id.index() >= len {
            fail(format_args!(
                "Tape::var: no node {id} on a tape of {len} nodes"
            ));
        }
        Var { id, tape: self }
    }

    /// A handle to every node, in recording order (the order of the forward pass).
    ///
    /// ```
    /// use chainrule::Tape;
    /// let tape = Tape::new();
    /// let x = tape.scalar(2.0);
    /// let y = (x * x).exp();
    /// let ops: Vec<String> = tape.vars().map(|v| v.op().to_string()).collect();
    /// assert_eq!(ops, ["param", "mul", "exp"]);
    /// # let _ = y;
    /// ```
    pub fn vars(&self) -> impl Iterator<Item = Var<'_>> {
        (0..self.len()).map(move |i| Var {
            id: NodeId(i as u32),
            tape: self,
        })
    }

    /// Number of nodes recorded.
    #[inline]
    pub fn len(&self) -> usize {
        self.inner.borrow().nodes.len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of `f64` entries in the value buffer (the memory the recorded values take, / 8).
    pub fn value_len(&self) -> usize {
        self.inner.borrow().used
    }

    /// Forgets every node, keeping the buffers' capacity: the next step records without allocating.
    ///
    /// Taking `&mut self` means no [`Var`] of this tape can still be alive: the borrow checker
    /// rules out stale handles.
    pub fn reset(&mut self) {
        self.truncate(Mark {
            nodes: 0,
            values: 0,
        });
    }

    /// The current end of the tape, to [`truncate`](Tape::truncate) back to later.
    pub fn mark(&self) -> Mark {
        let t = self.inner.borrow();
        Mark {
            nodes: t.nodes.len(),
            values: t.used,
        }
    }

    /// Forgets every node recorded after `mark`, keeping the buffers' capacity. Nodes before the
    /// mark (say, parameters recorded once) stay; get their handles back with [`Tape::var`].
    pub fn truncate(&mut self, mark: Mark) {
        let t = self.inner.get_mut();
        t.free_spilled(mark.nodes);
        t.nodes.truncate(mark.nodes);
        t.used = mark.values;
        t.grads_for = t.grads_for.min(mark.nodes);
        t.anomaly.locations.truncate(mark.nodes);
        if t.anomaly
            .first
            .as_ref()
            .is_some_and(|a| a.node.index() >= mark.nodes)
        {
            t.anomaly.first = None;
        }
    }

    /// Appends a leaf node holding a copy of `values`.
    #[inline]
    #[track_caller]
    fn leaf(&self, op: Op, rows: usize, cols: usize, values: &[f64]) -> Var<'_> {
        let mut t = self.inner.borrow_mut();
        let offset = t.used;
        t.claim(values.len()).copy_from_slice(values);
        let id = push_node(
            &mut t.nodes,
            op,
            SmallVec::new(),
            rows,
            cols,
            offset,
            op == Op::Param,
        );
        if t.anomaly.enabled {
            let t = &mut *t;
            t.anomaly
                .after_record(&t.nodes, &t.values, Location::caller());
        }
        Var { id, tape: self }
    }

    /// Appends an op node: computes its value from its inputs' values and records it.
    ///
    /// Every op has at most two inputs; they are gathered into fixed arrays in one pass (this is
    /// the hot path of a scalar graph, where a node's whole cost is its bookkeeping).
    #[inline]
    #[track_caller]
    pub(crate) fn record<'t, const N: usize>(
        &'t self,
        op: Op,
        inputs: [Var<'t>; N],
        rows: usize,
        cols: usize,
    ) -> Var<'t> {
        const { assert!(N <= 3, "ops have at most three inputs") };
        let mut guard = self.inner.borrow_mut();
        let t = &mut *guard;
        let offset = t.used;
        t.claim(rows * cols);
        let (before, rest) = t.values.split_at_mut(offset);
        let mut requires_grad = false;
        let operands: [Operand<'_>; N] = std::array::from_fn(|k| {
            let n = &t.nodes[inputs[k].id.index()];
            requires_grad |= n.requires_grad;
            Operand {
                value: &before[n.range()],
                rows: n.rows(),
                cols: n.cols(),
            }
        });
        ops::forward(op, &operands, &mut rest[..rows * cols]);
        let mut ids = [NodeId(0); 3];
        for (id, v) in ids.iter_mut().zip(&inputs) {
            *id = v.id;
        }
        let ids = SmallVec::from_buf_and_len(ids, N);
        let id = push_node(
            &mut t.nodes,
            op,
            ids,
            rows,
            cols,
            offset,
            requires_grad && !matches!(op, Op::Detach),
        );
        if t.anomaly.enabled {
            t.anomaly
                .after_record(&t.nodes, &t.values, Location::caller());
        }
        Var { id, tape: self }
    }

    /// Panics unless `v` is a handle of this tape.
    #[inline]
    #[track_caller]
    pub(crate) fn check_owner(&self, op: &str, v: Var<'_>) {
        if !std::ptr::eq(self, v.tape) {
            fail(format_args!("{op}: {} belongs to another tape", v.id));
        }
    }

    #[inline]
    pub(crate) fn node(&self, id: NodeId) -> Ref<'_, Node> {
        Ref::map(self.inner.borrow(), |t| &t.nodes[id.index()])
    }
}

#[inline]
#[track_caller]
fn check_len(what: &str, rows: usize, cols: usize, values: &[f64]) {
    if values.len() != rows * cols {
        fail(format_args!(
            "{what}: {} values cannot fill a {rows}x{cols} matrix",
            values.len()
        ));
    }
}

/// Panics with `msg` followed by the caller's location: `matmul: ... (at examples/x.rs:12)`.
///
/// Every op method is `#[track_caller]`, so the location is the user's line that recorded the op.
#[inline]
#[track_caller]
pub(crate) fn fail(msg: fmt::Arguments<'_>) -> ! {
    let at = Location::caller();
    panic!("{msg} (at {}:{})", at.file(), at.line())
}

impl<'t> Var<'t> {
    /// The node this handle points to.
    #[inline]
    pub fn id(self) -> NodeId {
        self.id
    }

    /// The tape this handle belongs to.
    #[inline]
    pub fn tape(self) -> &'t Tape {
        self.tape
    }

    /// `(rows, cols)` of the node's value.
    #[inline]
    pub fn shape(self) -> (usize, usize) {
        self.tape.node(self.id).shape()
    }

    /// The op that produced this node.
    pub fn op(self) -> Op {
        self.tape.node(self.id).op
    }

    /// Whether a parameter flows into this node (so backward computes its gradient).
    pub fn requires_grad(self) -> bool {
        self.tape.node(self.id).requires_grad
    }
}

impl fmt::Debug for Var<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.tape.node(self.id);
        write!(f, "Var({} = {} {}x{})", self.id, n.op, n.rows(), n.cols())
    }
}
