//! Every op: its forward value and its local gradient, side by side, one file per op.
//!
//! Each file `ops/<op>.rs` holds the method (or operator) that records the op on a tape, a
//! `forward` kernel that computes its value, and a `backward` kernel that adds
//! `upstream × local derivative` into each input's gradient. (In a plain sweep the first
//! contribution to a gradient writes it instead of adding to zeros: the same numbers, without
//! zero-filling the buffer first. Rules that can do so take a `GradOut`; the rest get a
//! zero-filled slice and add.) The doc comment at the top of each file
//! states the function and its derivative. This module holds the closed [`Op`] enum and the two
//! dispatch `match`es; because the enum is closed, adding a variant without a backward rule does not
//! compile. `docs/chain-rule.md` derives every rule in the order below.
//!
//! Ops made of other ops (`-x`, `c - x`, `c / x`) have no rule of their own.

use std::fmt;

use crate::kernels::pool::halves;
use crate::kernels::Activation;
use crate::tape::{fail, Node, NodeId, SweepSpace, Var};

pub(crate) mod add;
pub(crate) mod add_row;
pub(crate) mod add_scalar;
pub(crate) mod bce;
pub(crate) mod detach;
pub(crate) mod div;
pub(crate) mod exp;
pub(crate) mod linear;
pub(crate) mod log;
pub(crate) mod matmul;
pub(crate) mod mean;
pub(crate) mod mse;
pub(crate) mod mul;
pub(crate) mod powf;
pub(crate) mod relu;
pub(crate) mod scale;
pub(crate) mod sigmoid;
pub(crate) mod square;
pub(crate) mod sse;
pub(crate) mod sub;
pub(crate) mod sum;
pub(crate) mod tanh;
pub(crate) mod transpose;

pub use bce::DEFAULT_EPS as BCE_EPS;

/// What a node computes. Leaves are [`Op::Param`] and [`Op::Input`]; every other variant is an op
/// with a forward rule and a backward rule in `src/ops/<name>.rs`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    /// A trainable leaf ([`Tape::param`](crate::Tape::param)): backward computes its gradient.
    Param,
    /// A leaf that is not trained ([`Tape::input`](crate::Tape::input)): data, targets, constants.
    Input,
    /// `a + b`, same shapes.
    Add,
    /// `a − b`, same shapes.
    Sub,
    /// `a ⊙ b`, elementwise.
    Mul,
    /// `a ⊘ b`, elementwise.
    Div,
    /// `c · x` for a constant `c` (also `-x` with `c = −1`, and `x / c` with `1/c`).
    Scale(f64),
    /// `x + c` for a constant `c`.
    AddScalar(f64),
    /// `A · B`, the matrix product.
    MatMul,
    /// `f(X · W + b)`: the matrix product with the 1×n row `b` added to every row, then the
    /// activation `f` (one node for a dense layer; `f` is [`Activation::Identity`] for the affine
    /// part alone).
    Linear(Activation),
    /// `xᵀ`.
    Transpose,
    /// `X + b` with the 1×n row `b` added to every row of the m×n `X` (the bias broadcast).
    AddRow,
    /// Sum of all entries, of each row, or of each column.
    Sum(Reduce),
    /// Mean of all entries, of each row, or of each column.
    Mean(Reduce),
    /// `eˣ`, elementwise.
    Exp,
    /// `ln x`, elementwise.
    Log,
    /// `xᵖ` for a constant `p`, elementwise.
    Powf(f64),
    /// `x²`, elementwise.
    Square,
    /// `σ(x) = 1 / (1 + e⁻ˣ)`, elementwise.
    Sigmoid,
    /// `max(x, 0)`, elementwise.
    Relu,
    /// `tanh x`, elementwise.
    Tanh,
    /// `x` itself, with no gradient flowing back through it.
    Detach,
    /// Mean squared error `(1/n) Σ (p − y)²` of a prediction `p` and a target `y`.
    Mse,
    /// Sum of squared errors `Σ (p − y)²`.
    Sse,
    /// Binary cross-entropy (log-loss) with predictions clipped to `[eps, 1 − eps]`.
    Bce(f64),
}

/// Which entries a [`Op::Sum`] or [`Op::Mean`] reduces together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduce {
    /// All entries: m×n → 1×1.
    All,
    /// Each row's entries: m×n → m×1.
    Rows,
    /// Each column's entries: m×n → 1×n.
    Cols,
}

impl Op {
    /// The op's name as the method that records it: `"matmul"`, `"sigmoid"`, `"row_sums"`…
    pub fn name(self) -> &'static str {
        match self {
            Op::Param => "param",
            Op::Input => "input",
            Op::Add => "add",
            Op::Sub => "sub",
            Op::Mul => "mul",
            Op::Div => "div",
            Op::Scale(_) => "scale",
            Op::AddScalar(_) => "add_scalar",
            Op::MatMul => "matmul",
            Op::Linear(Activation::Identity) => "linear",
            Op::Linear(Activation::Sigmoid) => "linear_sigmoid",
            Op::Linear(Activation::Relu) => "linear_relu",
            Op::Linear(Activation::Tanh) => "linear_tanh",
            Op::Transpose => "transpose",
            Op::AddRow => "add_row",
            Op::Sum(Reduce::All) => "sum",
            Op::Sum(Reduce::Rows) => "row_sums",
            Op::Sum(Reduce::Cols) => "col_sums",
            Op::Mean(Reduce::All) => "mean",
            Op::Mean(Reduce::Rows) => "row_means",
            Op::Mean(Reduce::Cols) => "col_means",
            Op::Exp => "exp",
            Op::Log => "log",
            Op::Powf(_) => "powf",
            Op::Square => "square",
            Op::Sigmoid => "sigmoid",
            Op::Relu => "relu",
            Op::Tanh => "tanh",
            Op::Detach => "detach",
            Op::Mse => "mse",
            Op::Sse => "sse",
            Op::Bce(_) => "bce",
        }
    }

    /// Whether this is a leaf (a parameter or an input), which has no inputs and no rule.
    pub fn is_leaf(self) -> bool {
        matches!(self, Op::Param | Op::Input)
    }
}

impl fmt::Display for Op {
    /// The name, with the constant for ops that carry one: `scale(2)`, `powf(0.5)`, `bce(1e-7)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Scale(c) | Op::AddScalar(c) | Op::Powf(c) | Op::Bce(c) => {
                write!(f, "{}({c})", self.name())
            }
            _ => f.write_str(self.name()),
        }
    }
}

/// An input's value and shape, as the forward kernels see it.
#[derive(Clone, Copy)]
pub(crate) struct Operand<'a> {
    pub(crate) value: &'a [f64],
    pub(crate) rows: usize,
    pub(crate) cols: usize,
}

/// The forward dispatch: computes `op`'s value from its inputs into `out`.
pub(crate) fn forward(op: Op, x: &[Operand<'_>], out: &mut [f64]) {
    match op {
        Op::Param | Op::Input => unreachable!("leaves are written by the tape, not computed"),
        Op::Add => map2(x, out, add::forward),
        Op::Sub => map2(x, out, sub::forward),
        Op::Mul => map2(x, out, mul::forward),
        Op::Div => map2(x, out, div::forward),
        Op::Scale(c) => scale::forward(c, x[0].value, out),
        Op::AddScalar(c) => add_scalar::forward(c, x[0].value, out),
        Op::MatMul => matmul::forward(
            x[0].value,
            x[1].value,
            (x[0].rows, x[0].cols, x[1].cols),
            out,
        ),
        Op::Linear(f) => linear::forward(
            f,
            x[0].value,
            x[1].value,
            x[2].value,
            (x[0].rows, x[0].cols, x[1].cols),
            out,
        ),
        Op::Transpose => transpose::forward(x[0].value, x[0].rows, x[0].cols, out),
        Op::AddRow => {
            let (x, b) = (x[0].value, x[1].value);
            let work = out.len();
            halves(out, b.len(), work, |s, out| {
                add_row::forward(&x[s..], b, out)
            });
        }
        Op::Sum(axis) => sum::forward(axis, x[0].value, x[0].cols, out),
        Op::Mean(axis) => mean::forward(axis, x[0].value, x[0].cols, out),
        Op::Exp => map1(x, out, exp::forward),
        Op::Log => map1(x, out, log::forward),
        Op::Powf(p) => powf::forward(p, x[0].value, out),
        Op::Square => map1(x, out, square::forward),
        Op::Sigmoid => map1(x, out, sigmoid::forward),
        Op::Relu => map1(x, out, relu::forward),
        Op::Tanh => map1(x, out, tanh::forward),
        Op::Detach => out.copy_from_slice(x[0].value),
        Op::Mse => out[0] = mse::forward(x[0].value, x[1].value),
        Op::Sse => out[0] = sse::forward(x[0].value, x[1].value),
        Op::Bce(eps) => out[0] = bce::forward(eps, x[0].value, x[1].value),
    }
}

/// The backward dispatch: adds `upstream × local derivative` into each input's gradient.
///
/// `g` is dL/d(this node); inputs that no parameter flows into get nothing (`cx.grad(i)` is `None`).
#[inline]
pub(crate) fn backward(op: Op, cx: &mut Backward<'_>) {
    let g = cx.upstream;
    match op {
        Op::Param | Op::Input | Op::Detach => {}
        Op::Add => {
            if let Some(da) = cx.grad_out(0) {
                split1(da, g, add::backward);
            }
            if let Some(db) = cx.grad_out(1) {
                split1(db, g, add::backward);
            }
        }
        Op::Sub => {
            if let Some(da) = cx.grad_out(0) {
                split1(da, g, sub::backward_lhs);
            }
            if let Some(db) = cx.grad_out(1) {
                split1(db, g, sub::backward_rhs);
            }
        }
        Op::Mul => {
            let (a, b) = (cx.input(0), cx.input(1));
            if let Some(da) = cx.grad_out(0) {
                split2(da, g, b, mul::backward);
            }
            if let Some(db) = cx.grad_out(1) {
                split2(db, g, a, mul::backward);
            }
        }
        Op::Div => {
            let (b, y) = (cx.input(1), cx.output());
            if let Some(da) = cx.grad(0) {
                div::backward_lhs(g, b, da);
            }
            if let Some(db) = cx.grad(1) {
                div::backward_rhs(g, b, y, db);
            }
        }
        Op::Scale(c) => {
            if let Some(dx) = cx.grad_out(0) {
                dx.halves(1, |s, dx| scale::backward(c, &g[s..], dx));
            }
        }
        Op::AddScalar(_) => {
            if let Some(dx) = cx.grad_out(0) {
                split1(dx, g, add_scalar::backward);
            }
        }
        Op::MatMul => {
            let (a, b) = (cx.input(0), cx.input(1));
            let (m, k) = cx.input_shape(0);
            let n = cx.input_shape(1).1;
            if let Some(da) = cx.grad_out(0) {
                matmul::backward_lhs(g, b, (m, k, n), da);
            }
            if let Some(db) = cx.grad_out(1) {
                matmul::backward_rhs(a, g, (m, k, n), db);
            }
        }
        Op::Linear(f) => linear::backward(f, cx),
        Op::Transpose => {
            let (rows, cols) = cx.input_shape(0);
            if let Some(dx) = cx.grad(0) {
                transpose::backward(g, rows, cols, dx);
            }
        }
        Op::AddRow => {
            let cols = cx.input_shape(1).1;
            if let Some(dx) = cx.grad_out(0) {
                split1(dx, g, add_row::backward_matrix);
            }
            if let Some(db) = cx.grad(1) {
                // Each thread sums its half of the columns, over the rows in order.
                let work = g.len();
                halves(db, 1, work, |j, db| add_row::backward_bias(g, cols, j, db));
            }
        }
        Op::Sum(axis) => {
            let cols = cx.input_shape(0).1;
            if let Some(dx) = cx.grad(0) {
                sum::backward(axis, g, cols, dx);
            }
        }
        Op::Mean(axis) => {
            let cols = cx.input_shape(0).1;
            if let Some(dx) = cx.grad(0) {
                mean::backward(axis, g, cols, dx);
            }
        }
        Op::Exp => {
            let y = cx.output();
            if let Some(dx) = cx.grad_out(0) {
                split2(dx, g, y, exp::backward);
            }
        }
        Op::Log => {
            let x = cx.input(0);
            if let Some(dx) = cx.grad(0) {
                log::backward(g, x, dx);
            }
        }
        Op::Powf(p) => {
            let x = cx.input(0);
            if let Some(dx) = cx.grad(0) {
                powf::backward(p, g, x, dx);
            }
        }
        Op::Square => {
            let x = cx.input(0);
            if let Some(dx) = cx.grad_out(0) {
                split2(dx, g, x, square::backward);
            }
        }
        Op::Sigmoid => {
            let y = cx.output();
            if let Some(dx) = cx.grad_out(0) {
                split2(dx, g, y, sigmoid::backward);
            }
        }
        Op::Relu => {
            let y = cx.output();
            if let Some(dx) = cx.grad_out(0) {
                split2(dx, g, y, relu::backward);
            }
        }
        Op::Tanh => {
            let y = cx.output();
            if let Some(dx) = cx.grad_out(0) {
                split2(dx, g, y, tanh::backward);
            }
        }
        Op::Mse => {
            let (p, y) = (cx.input(0), cx.input(1));
            if let Some(dp) = cx.grad(0) {
                mse::backward_prediction(g[0], p, y, dp);
            }
            if let Some(dy) = cx.grad(1) {
                mse::backward_target(g[0], p, y, dy);
            }
        }
        Op::Sse => {
            let (p, y) = (cx.input(0), cx.input(1));
            if let Some(dp) = cx.grad(0) {
                sse::backward_prediction(g[0], p, y, dp);
            }
            if let Some(dy) = cx.grad(1) {
                sse::backward_target(g[0], p, y, dy);
            }
        }
        Op::Bce(eps) => {
            let (p, y) = (cx.input(0), cx.input(1));
            if let Some(dp) = cx.grad(0) {
                bce::backward_prediction(eps, g[0], p, y, dp);
            }
            if let Some(dy) = cx.grad(1) {
                bce::backward_target(eps, g[0], p, dy);
            }
        }
    }
}

/// Runs an elementwise kernel `f(x, out)` on two threads when the output is large.
#[inline(always)]
fn map1(x: &[Operand<'_>], out: &mut [f64], f: fn(&[f64], &mut [f64])) {
    let (x, work) = (x[0].value, out.len());
    halves(out, 1, work, |s, out| f(&x[s..], out));
}

/// Runs an elementwise kernel `f(a, b, out)` on two threads when the output is large.
#[inline(always)]
fn map2(x: &[Operand<'_>], out: &mut [f64], f: fn(&[f64], &[f64], &mut [f64])) {
    let (a, b, work) = (x[0].value, x[1].value, out.len());
    halves(out, 1, work, |s, out| f(&a[s..], &b[s..], out));
}

/// Runs an elementwise rule `rule(g, dx)` on two threads when the gradient is large.
#[inline(always)]
fn split1(dx: GradOut<'_>, g: &[f64], rule: fn(&[f64], GradOut<'_>)) {
    dx.halves(1, |s, dx| rule(&g[s..], dx));
}

/// Runs an elementwise rule `rule(g, v, dx)` on two threads when the gradient is large.
#[inline(always)]
fn split2(dx: GradOut<'_>, g: &[f64], v: &[f64], rule: fn(&[f64], &[f64], GradOut<'_>)) {
    dx.halves(1, |s, dx| rule(&g[s..], &v[s..], dx));
}

/// The backward rule of `op` for its input at `position`, as written in `docs/chain-rule.md`,
/// with `{y}` for the node, `{a}`/`{b}` for its inputs and `{c}` for the op's constant. The
/// backward trace fills in node names: `dL/dn6 += dL/dn7 ⊙ n7 ⊙ (1 − n7)`.
pub fn rule(op: Op, position: usize) -> &'static str {
    match (op, position) {
        (Op::Param | Op::Input | Op::Detach, _) => "(no rule: nothing flows back)",
        (Op::Add | Op::AddScalar(_), 0) => "dL/d{a} += dL/d{y}",
        (Op::Add, _) => "dL/d{b} += dL/d{y}",
        (Op::Sub, 0) => "dL/d{a} += dL/d{y}",
        (Op::Sub, _) => "dL/d{b} −= dL/d{y}",
        (Op::Mul, 0) => "dL/d{a} += dL/d{y} ⊙ {b}",
        (Op::Mul, _) => "dL/d{b} += dL/d{y} ⊙ {a}",
        (Op::Div, 0) => "dL/d{a} += dL/d{y} ⊘ {b}",
        (Op::Div, _) => "dL/d{b} −= dL/d{y} ⊙ {y} ⊘ {b}",
        (Op::Scale(_), _) => "dL/d{a} += {c} · dL/d{y}",
        (Op::AddScalar(_), _) => "dL/d{a} += dL/d{y}",
        (Op::MatMul, 0) => "dL/d{a} += dL/d{y} · {b}ᵀ",
        (Op::MatMul, _) => "dL/d{b} += {a}ᵀ · dL/d{y}",
        (Op::Linear(Activation::Identity), 0) => "dL/d{a} += dL/d{y} · {b}ᵀ",
        (Op::Linear(Activation::Identity), 1) => "dL/d{b} += {a}ᵀ · dL/d{y}",
        (Op::Linear(Activation::Identity), _) => "dL/d{bias} += Σ_rows dL/d{y}",
        (Op::Linear(Activation::Sigmoid), 0) => "dL/d{a} += (dL/d{y} ⊙ {y} ⊙ (1 − {y})) · {b}ᵀ",
        (Op::Linear(Activation::Sigmoid), 1) => "dL/d{b} += {a}ᵀ · (dL/d{y} ⊙ {y} ⊙ (1 − {y}))",
        (Op::Linear(Activation::Sigmoid), _) => "dL/d{bias} += Σ_rows (dL/d{y} ⊙ {y} ⊙ (1 − {y}))",
        (Op::Linear(Activation::Relu), 0) => "dL/d{a} += (dL/d{y} ⊙ [{y} > 0]) · {b}ᵀ",
        (Op::Linear(Activation::Relu), 1) => "dL/d{b} += {a}ᵀ · (dL/d{y} ⊙ [{y} > 0])",
        (Op::Linear(Activation::Relu), _) => "dL/d{bias} += Σ_rows (dL/d{y} ⊙ [{y} > 0])",
        (Op::Linear(Activation::Tanh), 0) => "dL/d{a} += (dL/d{y} ⊙ (1 − {y}²)) · {b}ᵀ",
        (Op::Linear(Activation::Tanh), 1) => "dL/d{b} += {a}ᵀ · (dL/d{y} ⊙ (1 − {y}²))",
        (Op::Linear(Activation::Tanh), _) => "dL/d{bias} += Σ_rows (dL/d{y} ⊙ (1 − {y}²))",
        (Op::Transpose, _) => "dL/d{a} += (dL/d{y})ᵀ",
        (Op::AddRow, 0) => "dL/d{a} += dL/d{y}",
        (Op::AddRow, _) => "dL/d{b} += Σ_rows dL/d{y}",
        (Op::Sum(_), _) => "dL/d{a} += dL/d{y} (broadcast back)",
        (Op::Mean(_), _) => "dL/d{a} += dL/d{y} / count (broadcast back)",
        (Op::Exp, _) => "dL/d{a} += dL/d{y} ⊙ {y}",
        (Op::Log, _) => "dL/d{a} += dL/d{y} ⊘ {a}",
        (Op::Powf(_), _) => "dL/d{a} += dL/d{y} ⊙ {c}·{a}^({c} − 1)",
        (Op::Square, _) => "dL/d{a} += dL/d{y} ⊙ 2{a}",
        (Op::Sigmoid, _) => "dL/d{a} += dL/d{y} ⊙ {y} ⊙ (1 − {y})",
        (Op::Relu, _) => "dL/d{a} += dL/d{y} ⊙ [{y} > 0]",
        (Op::Tanh, _) => "dL/d{a} += dL/d{y} ⊙ (1 − {y}²)",
        (Op::Mse, 0) => "dL/d{a} += dL/d{y} · 2({a} − {b})/n",
        (Op::Mse, _) => "dL/d{b} −= dL/d{y} · 2({a} − {b})/n",
        (Op::Sse, 0) => "dL/d{a} += dL/d{y} · 2({a} − {b})",
        (Op::Sse, _) => "dL/d{b} −= dL/d{y} · 2({a} − {b})",
        (Op::Bce(_), 0) => "dL/d{a} += dL/d{y} · ({a} − {b})/({a}(1 − {a}))/n (0 outside the clip)",
        (Op::Bce(_), _) => "dL/d{b} += dL/d{y} · (ln(1 − {a}) − ln {a})/n",
    }
}

/// What a backward rule may read (values, shapes, the upstream gradient) and write (the inputs'
/// gradients) for one node during the reverse sweep.
pub(crate) struct Backward<'a> {
    node: &'a Node,
    /// This node's index on the tape.
    index: u32,
    /// Whether the sweep lets first contributions overwrite (see [`GradOut`]).
    fresh: bool,
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
            nodes,
            values,
            grads,
            upstream,
            space,
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

    /// `(rows, cols)` of input `i`.
    pub(crate) fn input_shape(&self, i: usize) -> (usize, usize) {
        let n = self.input_node(i);
        (n.rows, n.cols)
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
        let can = n.last_use == self.index
            && matches!(n.op, Op::Linear(_))
            && (n.rows, n.cols) == (m, k)
            && self.only_use(i);
        if can {
            let slot = &mut self.grads[n.range()];
            slot[..m].copy_from_slice(col);
            slot[m..m + k].copy_from_slice(row);
            self.space.factored.push(id.0);
        }
        can
    }

    /// Whether this node is the only one that passes a gradient back to input `i`, through
    /// that input alone, given that it is the last ([`Node::last_use`]): nothing between the two
    /// on the tape reads it. (A scan, but only for the rare rule that asks, rather than a use
    /// count kept by every recorded node.)
    fn only_use(&self, i: usize) -> bool {
        let inputs: &[NodeId] = &self.node.inputs;
        let id = inputs[i];
        let between = &self.nodes[id.index() + 1..self.index as usize];
        inputs.iter().filter(|&&j| j == id).count() == 1
            && between
                .iter()
                .all(|u| u.op == Op::Detach || !u.inputs.contains(&id))
    }

    /// This node's gradient as the factors `(col, row)` of an outer product, if the rule of the
    /// node it feeds kept it factored ([`Backward::factor_grad`]); `None` if it is stored.
    #[inline]
    pub(crate) fn factored_upstream(&self) -> Option<(&'a [f64], &'a [f64])> {
        if !self.space.is_factored(self.index) {
            return None;
        }
        let (m, k) = (self.node.rows, self.node.cols);
        Some(self.upstream[..m + k].split_at(m))
    }

    /// Input `i`'s gradient for a rule that can overwrite it on the first contribution.
    #[inline(always)]
    pub(crate) fn grad_out(&mut self, i: usize) -> Option<GradOut<'_>> {
        let id = self.node.inputs.as_slice()[i];
        let n = &self.nodes[id.index()];
        if !n.requires_grad {
            return None;
        }
        // `x * x`: a later input that is the same node as an earlier one, which has written it.
        let inputs: &[NodeId] = &self.node.inputs;
        let repeated = inputs[..i].contains(&id);
        Some(GradOut {
            fresh: self.fresh && n.last_use == self.index && !repeated,
            d: &mut self.grads[n.range()],
        })
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

impl<'t> Var<'t> {
    /// Records an elementwise op whose output has this node's shape.
    #[inline]
    #[track_caller]
    pub(crate) fn unary(self, op: Op) -> Var<'t> {
        let (rows, cols) = self.shape();
        self.tape.record(op, [self], rows, cols)
    }

    /// Records an op of two same-shaped operands whose output has that shape too.
    #[inline]
    #[track_caller]
    pub(crate) fn zip(self, op: Op, other: Var<'t>) -> Var<'t> {
        let (rows, cols) = same_shape(op.name(), self, other);
        self.tape.record(op, [self, other], rows, cols)
    }
}

/// Panics unless `a` and `b` share a tape and a shape; returns that shape.
#[inline]
#[track_caller]
pub(crate) fn same_shape<'t>(op: &str, a: Var<'t>, b: Var<'t>) -> (usize, usize) {
    a.tape.check_owner(op, b);
    // Both shapes under one borrow: on a scalar graph this check is a good part of a node's cost.
    let ((ar, ac), (br, bc)) = {
        let t = a.tape.inner.borrow();
        let (na, nb) = (&t.nodes[a.id.index()], &t.nodes[b.id.index()]);
        ((na.rows, na.cols), (nb.rows, nb.cols))
    };
    if (ar, ac) != (br, bc) {
        fail(format_args!(
            "{op}: shapes differ, {ar}x{ac} ({}) and {br}x{bc} ({})",
            a.id, b.id
        ));
    }
    (ar, ac)
}
