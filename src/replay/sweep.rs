//! A replay's reverse sweep, planned once: which rules run, and which gradient each one writes
//! first, are facts of the graph, so they are worked out when the replay is taken instead of on
//! every step.
//!
//! The tape's sweep (`src/sweep.rs`) visits every node from the output down, asks whether a
//! consumer reached it, and lets each rule mark the inputs it passes a gradient to, so that the
//! first contribution is written and later ones added. Over the same graph that bookkeeping
//! comes out the same every time. The plan is its result: the list of rules that run, in sweep
//! order, each with the inputs it writes first, and the gradients nothing reaches (zeroed, as
//! the tape's sweep zeroes them). Running it is the rules and nothing else: no node is visited
//! that has no rule to run, and no mark is read or set. The numbers are the tape's sweep's, to
//! the bit (`tests/replay.rs`): the same rules, in the same order, writing and adding the same.
//!
//! Three kinds of step skip the rule context as well: a 1×1 elementwise op (its contributions
//! from `ops/scalar.rs`, as the tape's sweep computes them), one row of a small dense layer (the
//! rule of `kernels/tiny.rs` that `ops::linear` calls) and the lab's loss, `mse` (its rule's two
//! halves in `ops/mse.rs`).

use super::calls::{Call, Kind};
use crate::kernels::tiny;
use crate::ops::{self, mse, scalar, Backward, Op};
use crate::tape::{Inner, Node, NodeId};

/// The reverse sweep of a replay, worked out from the graph once (see the module doc).
pub(super) struct Plan {
    /// The rules that run, in sweep order (from the output down).
    steps: Vec<Step>,
    /// For each rule step, which of its inputs it writes first, one flag per input; a step's
    /// flags start at [`Step::first`].
    first: Vec<bool>,
    /// Gradient slots the sweep zeroes, as `start..end`: the nodes up to the output that no
    /// rule passes a gradient to (merged where they touch).
    zero: Vec<(usize, usize)>,
}

/// One rule of the planned sweep.
#[derive(Clone, Copy, Debug)]
struct Step {
    /// The node's call (`Replay::calls`), where its slots are.
    call: u32,
    /// Where this step's flags start in [`Plan::first`].
    first: u32,
    /// How the rule runs.
    how: How,
    /// Bit `i`: input `i` (of the first three) takes a gradient.
    wants: u8,
    /// Bit `i`: input `i` (of the first three) is written, not added to.
    fresh: u8,
    /// The node's [`Node::fast`] bits (which 1×1 rule).
    fast: u8,
}

impl Step {
    /// Input `i`'s gradient (at `range`) to add into, zero-filled if this is its first
    /// contribution, as [`Backward::grad`] gives it to a rule; `None` if it takes none.
    #[inline(always)]
    fn grad<'g>(
        &self,
        i: u8,
        range: std::ops::Range<usize>,
        grads: &'g mut [f64],
    ) -> Option<&'g mut [f64]> {
        if self.wants & (1 << i) == 0 {
            return None;
        }
        let d = &mut grads[range];
        if self.fresh & (1 << i) != 0 {
            d.fill(0.0);
        }
        Some(d)
    }
}

/// How a step's rule runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum How {
    /// The op's rule, through `ops::backward` and a planned rule context.
    Rule,
    /// A 1×1 elementwise op's contributions (`ops/scalar.rs`).
    Scalar,
    /// One row of a small dense layer, `kernels/tiny.rs`'s rule.
    Layer,
    /// The lab's loss, `mse`: its rule's two halves (`ops/mse.rs`).
    Mse,
}

impl Plan {
    /// The plan of the sweep from `output` over `nodes`, whose op nodes are `calls`.
    pub(super) fn new(nodes: &[Node], calls: &[Call], output: NodeId) -> Plan {
        let out = output.index();
        // Whether some rule already passed node i a gradient, going down from the output: the
        // tape's sweep keeps this as the nodes' marks.
        let mut written = vec![false; out + 1];
        let mut plan = Plan {
            steps: Vec::new(),
            first: Vec::new(),
            zero: Vec::new(),
        };
        for (at, call) in calls.iter().enumerate().rev() {
            let index = call.index as usize;
            let node = &nodes[index];
            // The tape's sweep runs a rule if the node is the output or was passed a gradient,
            // and a parameter flows into it (`sweep::reach`); `detach` has none.
            let reached = index == out || (index < out && written[index]);
            if !reached || !node.requires_grad || node.op == Op::Detach {
                continue;
            }
            let start = plan.first.len();
            let (mut wants, mut fresh) = (0u8, 0u8);
            for (i, input) in node.inputs.iter().enumerate() {
                let n = &nodes[input.index()];
                // Every rule asks for each input's gradient, which those without a parameter
                // behind them do not get (`Backward::grad_out`).
                let first = n.requires_grad && !written[input.index()];
                if n.requires_grad {
                    written[input.index()] = true;
                }
                plan.first.push(first);
                if i < 3 {
                    wants |= u8::from(n.requires_grad) << i;
                    fresh |= u8::from(first) << i;
                }
            }
            // As the tape's sweep chooses: a 1×1 node of the table by its contributions.
            let how = if node.fast & scalar::ANY != 0 {
                How::Scalar
            } else if call.kind == Kind::Layer {
                How::Layer
            } else if call.kind == Kind::Mse {
                How::Mse
            } else {
                How::Rule
            };
            plan.steps.push(Step {
                call: at as u32,
                first: start as u32,
                how,
                wants,
                fresh,
                fast: node.fast,
            });
        }
        // What the tape's sweep zeroes: every node below the output it does not reach.
        for (index, node) in nodes[..out].iter().enumerate() {
            if written[index] && node.requires_grad {
                continue;
            }
            let range = node.range();
            match plan.zero.last_mut() {
                Some((_, end)) if *end == range.start => *end = range.end,
                _ => plan.zero.push((range.start, range.end)),
            }
        }
        plan
    }

    /// Runs the sweep from `output` (whose gradient the caller has seeded) over the values of
    /// the last forward pass.
    pub(super) fn run(&self, t: &mut Inner, calls: &[Call]) {
        let Inner {
            nodes,
            values,
            grads,
            space,
            ..
        } = t;
        let (nodes, values, grads) = (&nodes[..], &values[..], &mut grads[..]);
        for &(start, end) in &self.zero {
            grads[start..end].fill(0.0);
        }
        for step in &self.steps {
            let call = &calls[step.call as usize];
            match step.how {
                How::Scalar => {
                    let x = |k: usize| values[call.inputs[k].start];
                    let (g, y) = (grads[call.out], values[call.out]);
                    let d = scalar::contributions(step.fast, call.op, g, y, x)
                        .expect("an op of the 1x1 table");
                    for (k, d) in d.into_iter().enumerate().take(call.count as usize) {
                        if step.wants & (1 << k) != 0 {
                            let slot = &mut grads[call.inputs[k].start];
                            *slot = if step.fresh & (1 << k) != 0 {
                                d
                            } else {
                                *slot + d
                            };
                        }
                    }
                }
                How::Layer => layer(step, call, values, grads),
                How::Mse => {
                    let (p, y) = (&call.inputs[0], &call.inputs[1]);
                    let g = grads[call.out];
                    let (pv, yv) = (&values[p.range()], &values[y.range()]);
                    // As the rule's `cx.grad(i)`: zero-filled when first, then added to.
                    if let Some(dp) = step.grad(0, p.range(), grads) {
                        mse::grad_prediction(g, pv, yv, dp);
                    }
                    if let Some(dy) = step.grad(1, y.range(), grads) {
                        mse::grad_target(g, pv, yv, dy);
                    }
                }
                How::Rule => {
                    let (below, rest) = grads.split_at_mut(call.out);
                    let upstream = &rest[..call.len];
                    let count = nodes[call.index as usize].inputs.len();
                    let first = &self.first[step.first as usize..][..count];
                    let index = call.index as usize;
                    let mut cx =
                        Backward::planned(index, nodes, values, below, upstream, space, first);
                    ops::backward(call.op, &mut cx);
                }
            }
        }
    }
}

/// The rule of one row of a small dense layer (`kernels/tiny.rs`), as `ops::linear` runs it.
#[inline(always)]
fn layer(step: &Step, call: &Call, values: &[f64], grads: &mut [f64]) {
    let Op::Linear(f) = call.op else {
        unreachable!("a layer step is a linear op")
    };
    let [x, w, b] = &call.inputs;
    let job = tiny::LayerGradsAt {
        f,
        values,
        grads,
        x: x.start,
        w: w.start,
        b: b.start,
        y: call.out,
        wants: step.wants,
        fresh: step.fresh,
    };
    tiny::with_sizes(x.cols as usize, w.cols as usize, job).expect("sizes in 1..=TINY");
}
