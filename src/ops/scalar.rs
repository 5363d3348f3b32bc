//! The 1×1 fast path: an elementwise op on scalars, recorded and differentiated without the
//! slice machinery (operands, the two-thread check, the rule context).
//!
//! On a micrograd-style graph every node is 1×1 and a node's whole cost is its bookkeeping, so
//! recording (`Tape::record_scalar`) and the plain sweep (`Tape::sweep`) ask this table first.
//! It holds no arithmetic of its own: each line calls the op's `scalar` (its value on one entry)
//! and `scalar_grad`/`scalar_grads` (its rule on one entry) in `ops/<op>.rs`, the same functions
//! the op's slice loops run on every entry, so both paths compute the same numbers, bit for bit.
//!
//! An op not listed takes the general path. Left out on purpose: `div`, `log` and `powf`, whose
//! rules add into a zero-filled gradient (`0 + c`, which turns a `−0` into `+0`) where the
//! fast path writes `c`; `detach` (no rule); and every op whose output shape is not its
//! inputs' (a 1×1 `sum` or `matmul` may read larger inputs).

use super::{abs, add, add_scalar, div, exp, log, mul, powf, relu, scale, sigmoid, sqrt, square};
use super::{sub, tanh, Op};
use crate::tape::{Node, NO_USE};

/// `op`'s value on one entry `x`, for the unary ops of the table; `None` for the others.
#[inline(always)]
pub(crate) fn forward1(op: Op, x: f64) -> Option<f64> {
    Some(match op {
        Op::Scale(c) => scale::scalar(c, x),
        Op::AddScalar(c) => add_scalar::scalar(c, x),
        Op::Exp => exp::scalar(x),
        Op::Log => log::scalar(x),
        Op::Powf(p) => powf::scalar(p, x),
        Op::Square => square::scalar(x),
        Op::Sigmoid => sigmoid::scalar(x),
        Op::Relu => relu::scalar(x),
        Op::Tanh => tanh::scalar(x),
        Op::Sqrt => sqrt::scalar(x),
        Op::Abs => abs::scalar(x),
        _ => return None,
    })
}

/// `op`'s value on one entry of each operand, for the binary ops of the table; `None` for the
/// others.
#[inline(always)]
pub(crate) fn forward2(op: Op, a: f64, b: f64) -> Option<f64> {
    Some(match op {
        Op::Add => add::scalar(a, b),
        Op::Sub => sub::scalar(a, b),
        Op::Mul => mul::scalar(a, b),
        Op::Div => div::scalar(a, b),
        _ => return None,
    })
}

/// [`Node::fast`] of a 1×1 `mul` node.
pub(crate) const MUL: u8 = 1;
/// [`Node::fast`] of a 1×1 `add` node.
pub(crate) const ADD: u8 = 2;
/// [`Node::fast`] of a 1×1 node of any other op of the table below.
pub(crate) const TABLE: u8 = 4;

/// The bits of [`Node::fast`] that name a fast path.
pub(crate) const ANY: u8 = MUL | ADD | TABLE;

/// The fast path a 1×1 node of `op` takes in the plain sweep: [`MUL`], [`ADD`], [`TABLE`], or 0
/// (none: the op's rule). Decided when the node is recorded, where `op` is usually a constant.
///
/// `mul` and `add` have bits of their own: a scalar graph is mostly these two, alternating
/// (`acc + w * x`). The sweep tests them one bit at a time, branches predicted from the history,
/// where a `match` on the op compiles to one indirect jump through a table, mispredicted on
/// nearly every node (callgrind's branch simulation, W3: 0.9 a node).
#[inline(always)]
pub(crate) fn fast(op: Op) -> u8 {
    match op {
        Op::Mul => MUL,
        Op::Add => ADD,
        Op::Sub
        | Op::Scale(_)
        | Op::AddScalar(_)
        | Op::Exp
        | Op::Square
        | Op::Sigmoid
        | Op::Relu
        | Op::Tanh
        | Op::Sqrt
        | Op::Abs => TABLE,
        _ => 0,
    }
}

/// The rule of the 1×1 `node`, number `index` on the tape (the sweep has checked that it runs): hands each input
/// `upstream × local derivative`, as `ops::backward` would; `false` if its op is not in the
/// table, and nothing was done.
#[inline(always)]
pub(crate) fn backward(
    index: usize,
    node: &Node,
    nodes: &[Node],
    values: &[f64],
    grads: &mut [f64],
) -> bool {
    let inputs = node.inputs.as_slice();
    let (g, y) = (grads[node.offset], values[node.offset]);
    let by = index as u32;
    // The inputs of an elementwise op have its shape: one entry each.
    if let (true, &[a, b]) = (node.fast & (MUL | ADD) != 0, inputs) {
        // A scalar graph's nodes are mostly these two: each input's node is read once, for its
        // value and to pass its gradient back.
        let (na, nb) = (&nodes[a.index()], &nodes[b.index()]);
        let d = if node.fast & MUL != 0 {
            mul::scalar_grads(g, values[na.offset], values[nb.offset])
        } else {
            add::scalar_grads(g)
        };
        pass_back(na, grads, d[0], by);
        pass_back(nb, grads, d[1], by);
        return true;
    }
    let x = |k: usize| values[nodes[inputs[k].index()].offset];
    let Some(d) = contributions(node.fast, node.op, g, y, x) else {
        return false;
    };
    for (&input, d) in inputs.iter().zip(d) {
        pass_back(&nodes[input.index()], grads, d, by);
    }
    true
}

/// What the rule of a 1×1 node of the table hands its inputs, `upstream × local derivative`
/// (the second entry is unused for a unary op): `fast` and `op` are the node's, `g` its
/// upstream gradient, `y` its value and `x(k)` input `k`'s value. `None` if its op is not in
/// the table.
#[inline(always)]
pub(crate) fn contributions(
    fast: u8,
    op: Op,
    g: f64,
    y: f64,
    x: impl Fn(usize) -> f64,
) -> Option<[f64; 2]> {
    let one = |d: f64| [d, 0.0];
    Some(if fast & MUL != 0 {
        mul::scalar_grads(g, x(0), x(1))
    } else if fast & ADD != 0 {
        add::scalar_grads(g)
    } else {
        match op {
            Op::Sub => sub::scalar_grads(g),
            Op::Scale(c) => one(scale::scalar_grad(c, g)),
            Op::AddScalar(_) => one(add_scalar::scalar_grad(g)),
            Op::Exp => one(exp::scalar_grad(g, y)),
            Op::Square => one(square::scalar_grad(g, x(0))),
            Op::Sigmoid => one(sigmoid::scalar_grad(g, y)),
            Op::Relu => one(relu::scalar_grad(g, y)),
            Op::Tanh => one(tanh::scalar_grad(g, y)),
            Op::Sqrt => one(sqrt::scalar_grad(g, y)),
            Op::Abs => one(abs::scalar_grad(g, x(0))),
            _ => return None,
        }
    })
}

/// Adds `d` to the gradient of the input whose node is `n`, as `Backward::grad_out` and `GradOut::add` do for a plain
/// sweep: nothing if no parameter flows into it; written outright by its first consumer (the
/// mark [`Node::last_use`] says whether one came before), added by the next.
#[inline(always)]
fn pass_back(n: &Node, grads: &mut [f64], d: f64, by: u32) {
    if !n.requires_grad {
        return;
    }
    let first = n.last_use.get() == NO_USE;
    n.last_use.set(by);
    let slot = &mut grads[n.offset];
    *slot = if first { d } else { *slot + d };
}
