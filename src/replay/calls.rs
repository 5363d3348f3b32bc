//! The op nodes of a recording as [`Replay::forward`](super::Replay::forward) runs them: where
//! each one's inputs and output sit in the value buffer, read off the nodes once when the replay
//! is taken, so the pass does not follow each input's index to its node every step.

use crate::kernels::tiny::{self, TINY};
use crate::ops::{self, MatView, Op, Operand};
use crate::tape::{Node, SweepSpace};

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
    /// Which forward kernel runs it.
    pub(super) kind: Kind,
    pub(super) inputs: [Slot; 3],
}

impl Call {
    /// Computes the op's value from its inputs' current values (`nodes` for a user op's inputs,
    /// `space` for the user op itself): the numbers recording computes, to the bit.
    #[inline(always)]
    pub(super) fn forward(&self, nodes: &[Node], values: &mut [f64], space: &SweepSpace) {
        let x = |i: usize, values: &[f64]| values[self.inputs[i].start];
        match self.kind {
            // An elementwise op on 1×1 inputs: its value on one entry (`ops/scalar.rs`), the
            // same number its slice loop computes.
            Kind::Unary => {
                let value = ops::scalar::forward1(self.op, x(0, values));
                values[self.out] = value.expect("an op of the 1x1 table");
            }
            Kind::Binary => {
                let value = ops::scalar::forward2(self.op, x(0, values), x(1, values));
                values[self.out] = value.expect("an op of the 1x1 table");
            }
            Kind::Mse => {
                let (p, y) = (&self.inputs[0], &self.inputs[1]);
                values[self.out] = ops::mse::value(&values[p.range()], &values[y.range()]);
            }
            Kind::Layer => {
                let Op::Linear(f) = self.op else {
                    unreachable!("a layer call is a linear op")
                };
                let [x, w, b] = &self.inputs;
                let job = tiny::ForwardAt {
                    f,
                    values,
                    x: x.start,
                    w: w.start,
                    b: b.start,
                    y: self.out,
                };
                tiny::with_sizes(x.cols as usize, w.cols as usize, job).expect("sizes in 1..=TINY");
            }
            Kind::General => {
                let (below, rest) = values.split_at_mut(self.out);
                let out = &mut rest[..self.len];
                if let Op::Custom(id) = self.op {
                    // Any number of inputs: read them off the node.
                    let node = &nodes[self.index as usize];
                    let views: smallvec::SmallVec<[MatView<'_>; 4]> = node
                        .inputs
                        .iter()
                        .map(|i| {
                            let n = &nodes[i.index()];
                            MatView::new(&below[n.range()], n.rows(), n.cols())
                        })
                        .collect();
                    space.custom.get(id).forward(&views, out);
                    return;
                }
                let x: [Operand<'_>; 3] = std::array::from_fn(|i| {
                    let slot = &self.inputs[i];
                    Operand {
                        value: &below[slot.range()],
                        rows: slot.rows as usize,
                        cols: slot.cols as usize,
                    }
                });
                ops::forward(self.op, &x[..self.count as usize], out);
            }
        }
    }
}

/// Which kernel runs a call: the op's own through `ops::forward`, or a shortcut that computes
/// the same numbers with less dispatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// The op's forward kernel (`ops::forward`), or a user op's.
    General,
    /// An elementwise op of one 1×1 input, on one entry (`ops/scalar.rs`).
    Unary,
    /// An elementwise op of two 1×1 inputs, on one entry (`ops/scalar.rs`).
    Binary,
    /// The lab's loss, `mse` (`ops/mse.rs`), without the operands' dispatch.
    Mse,
    /// One row of a dense layer of at most `TINY` inputs and outputs (`kernels/tiny.rs`, the
    /// kernels `ops::forward` reaches too).
    Layer,
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
            let tiny = 1..=TINY as u32;
            let kind = if range.len() == 1 && table && (0..count).all(one) {
                [Kind::General, Kind::Unary, Kind::Binary][count]
            } else if node.op == Op::Mse {
                Kind::Mse
            } else if matches!(node.op, Op::Linear(_))
                && inputs[0].rows == 1
                && tiny.contains(&inputs[0].cols)
                && tiny.contains(&inputs[1].cols)
            {
                Kind::Layer
            } else {
                Kind::General
            };
            Call {
                index: index as u32,
                op: node.op,
                out: range.start,
                len: range.len(),
                count: count.min(3) as u8,
                kind,
                inputs,
            }
        })
        .collect()
}
