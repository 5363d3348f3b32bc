//! The op nodes of a recording as [`Replay::forward`](super::Replay::forward) runs them: where
//! each one's inputs and output sit in the value buffer, read off the nodes once when the replay
//! is taken, so the pass does not follow each input's index to its node every step.

use crate::ops::{self, Op};
use crate::tape::Node;

/// One op node as [`Replay::forward`] runs it: where its inputs and its output sit in the value
/// buffer, read off the nodes once when the replay is taken (so the pass does not follow each
/// input's index to its node every step).
#[derive(Clone, Copy, Debug)]
pub(super) struct Call {
    pub(super) index: u32,
    pub(super) op: Op,
    /// The output's place in the value buffer.
    pub(super) out: usize,
    pub(super) len: usize,
    /// How many of `inputs` the op reads (a user op reads its node's inputs instead).
    pub(super) count: u8,
    /// 1 or 2 for an elementwise op of one or two 1×1 inputs that `ops/scalar.rs` computes on
    /// one entry; 0 for the general path.
    pub(super) scalar: u8,
    pub(super) inputs: [Slot; 3],
}

/// An input's place in the value buffer, and its shape.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Slot {
    pub(super) start: usize,
    pub(super) rows: u32,
    pub(super) cols: u32,
}

impl Slot {
    #[inline(always)]
    pub(super) fn range(&self) -> std::ops::Range<usize> {
        self.start..self.start + self.rows as usize * self.cols as usize
    }
}

// A call is read once per node per step: kept small (W3 replays 64,800 of them a step).
const _: () = assert!(std::mem::size_of::<Call>() <= 88);

/// The calls of `nodes`' op nodes, in tape order.
pub(super) fn read(nodes: &[Node]) -> Vec<Call> {
    nodes
        .iter()
        .enumerate()
        .filter(|(_, node)| !node.op.is_leaf())
        .map(|(index, node)| {
            let mut inputs = [Slot::default(); 3];
            for (slot, id) in inputs.iter_mut().zip(node.inputs.iter()) {
                let n = &nodes[id.index()];
                // The node's shape fits in u32s (the tape checks it when recording).
                *slot = Slot {
                    start: n.offset,
                    rows: n.rows() as u32,
                    cols: n.cols() as u32,
                };
            }
            let range = node.range();
            let count = node.inputs.len();
            let one = |i: usize| inputs[i].range().len() == 1;
            let table = match count {
                1 => ops::scalar::forward1(node.op, 0.5).is_some(),
                2 => ops::scalar::forward2(node.op, 0.5, 0.5).is_some(),
                _ => false,
            };
            let scalar = if range.len() == 1 && table && (0..count).all(one) {
                count as u8
            } else {
                0
            };
            Call {
                index: index as u32,
                op: node.op,
                out: range.start,
                len: range.len(),
                count: count.min(3) as u8,
                scalar,
                inputs,
            }
        })
        .collect()
}
