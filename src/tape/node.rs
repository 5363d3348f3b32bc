//! One recorded op, packed: what a node of the tape holds, and how one is appended.

use std::cell::Cell;
use std::mem::ManuallyDrop;

use smallvec::SmallVec;

use super::NodeId;
use crate::ops::Op;

/// One recorded op: what it was, what it read, and where its output lives in the value buffer.
///
/// A scalar graph records tens of thousands of these per step, so the node is packed: the shape
/// as two `u32` (read through [`Node::rows`], [`Node::cols`], [`Node::shape`]).
///
/// The node has no drop glue, so forgetting nodes ([`Tape::reset`](crate::Tape::reset),
/// `truncate`) does not visit them: that loop read every node's `SmallVec` tag again, after the
/// sweep had let them fall out of cache (callgrind, W3: a quarter of the step's L1 read misses).
/// Inputs spill to the heap only for a user op of more than three inputs; the tape lists those
/// nodes (`Inner::spilled`) and frees their lists itself.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) op: Op,
    pub(crate) inputs: ManuallyDrop<SmallVec<[NodeId; 3]>>,
    pub(crate) offset: usize,
    rows: u32,
    cols: u32,
    /// During a reverse sweep: the first node of the sweep (the last on the tape) whose rule
    /// passed a gradient back to this one, or [`NO_USE`] if none has yet. A rule sets it when it
    /// asks for an input's gradient (`Backward::grad_out`), so it names only consumers the
    /// output depends on: a node still at `NO_USE` when the sweep reaches it is on a dead branch,
    /// and its rule does not run. The first rule to set it writes the gradient outright instead
    /// of adding to a zero-filled buffer. Between sweeps it is `NO_USE` on every node. (A `Cell`:
    /// rules mark their inputs through the shared view of the nodes they read.)
    pub(crate) last_use: Cell<u32>,
    /// Whether any parameter flows into this node; backward does no work for nodes without one.
    pub(crate) requires_grad: bool,
    /// Flags decided once when the node is recorded: [`SCALAR`] if it is 1×1, and which 1×1
    /// fast path of the plain sweep it takes (`ops::scalar::fast`): the sweep tests this byte
    /// instead of matching on the op, and recording tests it instead of the two shape fields.
    pub(crate) fast: u8,
}

const _: () = assert!(std::mem::size_of::<Node>() == 64);

/// Bit of [`Node::fast`]: the node is 1×1.
pub(crate) const SCALAR: u8 = 0x80;

/// [`Node::last_use`] of a node that no rule has passed a gradient back to (yet).
pub(crate) const NO_USE: u32 = u32::MAX;

impl Node {
    /// Rows of the node's value.
    #[inline(always)]
    pub(crate) fn rows(&self) -> usize {
        self.rows as usize
    }

    /// Columns of the node's value.
    #[inline(always)]
    pub(crate) fn cols(&self) -> usize {
        self.cols as usize
    }

    /// `(rows, cols)` of the node's value.
    #[inline(always)]
    pub(crate) fn shape(&self) -> (usize, usize) {
        (self.rows(), self.cols())
    }

    /// Whether the node holds one number (the 1×1 fast paths of recording and the sweep).
    #[inline(always)]
    pub(crate) fn is_scalar(&self) -> bool {
        self.fast & SCALAR != 0
    }

    /// Where the node's value (and gradient) lives in the tape's buffers.
    #[inline(always)]
    pub(crate) fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.rows() * self.cols()
    }
}

/// Appends a node (its value is already in the value buffer, at `offset`) and returns its id.
// Inline: every recorded node goes through it, and out of line it took and copied the node's
// fields through the stack (callgrind, W1: ~60 instructions a node). The checks fail cold.
#[inline(always)]
pub(crate) fn push_node(
    nodes: &mut Vec<Node>,
    op: Op,
    inputs: SmallVec<[NodeId; 3]>,
    rows: usize,
    cols: usize,
    offset: usize,
    requires_grad: bool,
) -> NodeId {
    let Ok(id) = u32::try_from(nodes.len()) else {
        too_many_nodes()
    };
    let (Ok(rows), Ok(cols)) = (u32::try_from(rows), u32::try_from(cols)) else {
        too_large(rows, cols)
    };
    let fast = if (rows, cols) == (1, 1) {
        SCALAR | crate::ops::scalar::fast(op)
    } else {
        0
    };
    nodes.push(Node {
        op,
        fast,
        inputs: ManuallyDrop::new(inputs),
        rows,
        cols,
        offset,
        requires_grad,
        last_use: Cell::new(NO_USE),
    });
    NodeId(id)
}

/// The panics of [`push_node`], out of its way. They do not name the op: a cold path that
/// takes the op keeps it in memory, and the node is then built by copying it from there, 16
/// bytes read right after the 1-byte tag was written, which stalls store-to-load forwarding on
/// every recorded node (W3's recording took 1.8 times as long).
#[cold]
#[inline(never)]
fn too_large(rows: usize, cols: usize) -> ! {
    panic!("a value has at most 2^32 rows and 2^32 columns, not {rows}x{cols}")
}

/// See [`too_large`].
#[cold]
#[inline(never)]
fn too_many_nodes() -> ! {
    panic!("a tape holds at most 2^32 nodes")
}
