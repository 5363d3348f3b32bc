//! Every op: its forward value and its local gradient, side by side, one file per op.
//!
//! Each file `ops/<op>.rs` tells its op's whole story: the method (or operator) that records it
//! on a tape, `forward`, which computes its value, `backward`, the rule that hands each input
//! `upstream × local derivative` (which input gets what is part of the rule), and `RULES`, the
//! rule as the backward trace prints it. The doc comment at the top of each file states the
//! function and its derivative, and `docs/chain-rule.md` derives every rule in the order below.
//!
//! This module is the table of contents: the closed [`Op`] enum (adding a variant without a rule
//! does not compile) and the forward and backward dispatch, one line per op; `ops/names.rs`
//! holds each op's name and the dispatch of its rule texts. `ops/context.rs` says what an
//! op's code may read and write; `ops/elementwise.rs` holds what elementwise ops share;
//! `ops/scalar.rs` is the 1×1 fast path, a table calling each elementwise op's `scalar` (its
//! value on one entry) and `scalar_grad` (its rule on one entry), which its slice loops use too. Ops made
//! of other ops (`-x`, `c - x`, `c / x`) have no rule of their own.

use crate::kernels::Activation;

mod context;
mod elementwise;
mod names;
pub(crate) mod scalar;

pub(crate) mod abs;
pub(crate) mod add;
pub(crate) mod add_row;
pub(crate) mod add_scalar;
pub(crate) mod bce;
pub(crate) mod broadcast;
pub(crate) mod cross_entropy;
pub(crate) mod custom;
pub(crate) mod detach;
pub(crate) mod div;
pub(crate) mod exp;
pub(crate) mod linear;
pub(crate) mod log;
pub(crate) mod log_softmax;
pub(crate) mod matmul;
pub(crate) mod max_min;
pub(crate) mod mean;
pub(crate) mod mse;
pub(crate) mod mul;
pub(crate) mod powf;
pub(crate) mod relu;
pub(crate) mod scale;
pub(crate) mod sigmoid;
pub(crate) mod softmax;
pub(crate) mod sqrt;
pub(crate) mod square;
pub(crate) mod sse;
pub(crate) mod sub;
pub(crate) mod sum;
pub(crate) mod tanh;
pub(crate) mod transpose;

pub use bce::DEFAULT_EPS as BCE_EPS;
pub use broadcast::{Binary, Stretch};
pub(crate) use context::{Backward, GradOut, Operand};
pub use custom::{CustomId, CustomOp, MatView};
use elementwise::{map1, map2, same_shape, split1, split2};
pub use names::rule;
pub use sum::Reduce;

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
    /// `a ⊙ b`, elementwise, same shapes.
    Mul,
    /// `a ⊘ b`, elementwise, same shapes.
    Div,
    /// `a ∘ b` for one of `+ − ⊙ ⊘` with shapes that broadcast (NumPy's rule), and how each
    /// operand is stretched to the output's shape (`a`'s, then `b`'s).
    Broadcast(Binary, Stretch, Stretch),
    /// `c · x` for a constant `c` (also `-x` with `c = −1`, and `x / c` with `1/c`).
    Scale(f64),
    /// `x + c` for a constant `c`.
    AddScalar(f64),
    /// `A · B`, the matrix product.
    MatMul,
    /// `f(X · W + b)`, a dense layer as one node (`f` = [`Activation::Identity`]: no activation).
    Linear(Activation),
    /// `xᵀ`.
    Transpose,
    /// `X + b` with the 1×n row `b` added to every row of the m×n `X` (the bias broadcast).
    AddRow,
    /// Sum of all entries, of each row, or of each column.
    Sum(Reduce),
    /// Mean of all entries, of each row, or of each column.
    Mean(Reduce),
    /// Maximum of all entries, of each row, or of each column (the gradient goes to the first
    /// arg-max).
    Max(Reduce),
    /// Minimum of all entries, of each row, or of each column (the gradient goes to the first
    /// arg-min).
    Min(Reduce),
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
    /// `√x`, elementwise.
    Sqrt,
    /// `|x|`, elementwise.
    Abs,
    /// `x` itself, with no gradient flowing back through it.
    Detach,
    /// The softmax of each row, `e^{xⱼ} / Σₖ e^{xₖ}` (stable: shifted by the row's maximum).
    Softmax,
    /// The log-softmax of each row, `xⱼ − ln Σₖ e^{xₖ}` (stable).
    LogSoftmax,
    /// Mean squared error `(1/n) Σ (p − y)²` of a prediction `p` and a target `y`.
    Mse,
    /// Sum of squared errors `Σ (p − y)²`.
    Sse,
    /// Binary cross-entropy (log-loss) with predictions clipped to `[eps, 1 − eps]`.
    Bce(f64),
    /// Cross-entropy of m×n logits against m×1 class labels, `−(1/m) Σᵢ log_softmax(xᵢ)[lᵢ]`.
    CrossEntropy,
    /// An op of the user's own ([`CustomOp`]), recorded with [`Tape::custom`](crate::Tape::custom):
    /// which one, on the tape that recorded it, and its name.
    Custom(CustomId),
}

// Every node holds its op: on a scalar graph a node's cost is its bookkeeping, so the op stays
// two words (a user op's id included, see `ops/custom.rs`).
const _: () = assert!(std::mem::size_of::<Op>() == 16);

/// The forward dispatch: computes `op`'s value from its inputs into `out` (`ops/<op>.rs`).
// Inline, as it was while the enum was the lab's: `Tape::record` calls it for every node.
#[inline]
pub(crate) fn forward(op: Op, x: &[Operand<'_>], out: &mut [f64]) {
    match op {
        Op::Param | Op::Input => unreachable!("leaves are written by the tape, not computed"),
        Op::Add => add::forward(x, out),
        Op::Sub => sub::forward(x, out),
        Op::Mul => mul::forward(x, out),
        Op::Div => div::forward(x, out),
        Op::Broadcast(f, ..) => broadcast::forward(f, x, out),
        Op::Scale(c) => scale::forward(c, x, out),
        Op::AddScalar(c) => add_scalar::forward(c, x, out),
        Op::MatMul => matmul::forward(x, out),
        Op::Linear(f) => linear::forward(f, x, out),
        Op::Transpose => transpose::forward(x, out),
        Op::AddRow => add_row::forward(x, out),
        Op::Sum(axis) => sum::forward(axis, x, out),
        Op::Mean(axis) => mean::forward(axis, x, out),
        Op::Max(axis) => max_min::forward(true, axis, x, out),
        Op::Min(axis) => max_min::forward(false, axis, x, out),
        Op::Exp => exp::forward(x, out),
        Op::Log => log::forward(x, out),
        Op::Powf(p) => powf::forward(p, x, out),
        Op::Square => square::forward(x, out),
        Op::Sigmoid => sigmoid::forward(x, out),
        Op::Relu => relu::forward(x, out),
        Op::Tanh => tanh::forward(x, out),
        Op::Sqrt => sqrt::forward(x, out),
        Op::Abs => abs::forward(x, out),
        Op::Detach => detach::forward(x, out),
        Op::Softmax => softmax::forward(x, out),
        Op::LogSoftmax => log_softmax::forward(x, out),
        Op::Mse => mse::forward(x, out),
        Op::Sse => sse::forward(x, out),
        Op::Bce(eps) => bce::forward(eps, x, out),
        Op::CrossEntropy => cross_entropy::forward(x, out),
        Op::Custom(_) => custom::forward(),
    }
}

/// The backward dispatch: runs `op`'s rule, which adds `upstream × local derivative` into each
/// input's gradient (`ops/<op>.rs`). Inputs that no parameter flows into get nothing.
#[inline]
pub(crate) fn backward(op: Op, cx: &mut Backward<'_>) {
    match op {
        Op::Param | Op::Input => {}
        Op::Add => add::backward(cx),
        Op::Sub => sub::backward(cx),
        Op::Mul => mul::backward(cx),
        Op::Div => div::backward(cx),
        Op::Broadcast(f, ..) => broadcast::backward(f, cx),
        Op::Scale(c) => scale::backward(c, cx),
        Op::AddScalar(_) => add_scalar::backward(cx),
        Op::MatMul => matmul::backward(cx),
        Op::Linear(f) => linear::backward(f, cx),
        Op::Transpose => transpose::backward(cx),
        Op::AddRow => add_row::backward(cx),
        Op::Sum(axis) => sum::backward(axis, cx),
        Op::Mean(axis) => mean::backward(axis, cx),
        Op::Max(axis) => max_min::backward(true, axis, cx),
        Op::Min(axis) => max_min::backward(false, axis, cx),
        Op::Exp => exp::backward(cx),
        Op::Log => log::backward(cx),
        Op::Powf(p) => powf::backward(p, cx),
        Op::Square => square::backward(cx),
        Op::Sigmoid => sigmoid::backward(cx),
        Op::Relu => relu::backward(cx),
        Op::Tanh => tanh::backward(cx),
        Op::Sqrt => sqrt::backward(cx),
        Op::Abs => abs::backward(cx),
        Op::Detach => detach::backward(cx),
        Op::Softmax => softmax::backward(cx),
        Op::LogSoftmax => log_softmax::backward(cx),
        Op::Mse => mse::backward(cx),
        Op::Sse => sse::backward(cx),
        Op::Bce(eps) => bce::backward(eps, cx),
        Op::CrossEntropy => cross_entropy::backward(cx),
        Op::Custom(id) => custom::backward(id, cx),
    }
}
