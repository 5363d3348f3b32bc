//! What each op is called ([`Op::name`], its `Display`) and how the backward trace writes its
//! rule for each input ([`rule`]): one line per op, each pointing to the op's file, which holds
//! the text beside the code it describes.

use std::fmt;

use super::*;

impl Op {
    /// The op's name as the method that records it: `"matmul"`, `"sigmoid"`, `"row_sums"`…; for
    /// a user op, its own name ([`CustomOp::name`]).
    pub fn name(self) -> &'static str {
        match self {
            Op::Param => "param",
            Op::Input => "input",
            Op::Add => "add",
            Op::Sub => "sub",
            Op::Mul => "mul",
            Op::Div => "div",
            Op::Broadcast(f, ..) => broadcast::name(f),
            Op::Scale(_) => "scale",
            Op::AddScalar(_) => "add_scalar",
            Op::MatMul => "matmul",
            Op::Linear(f) => linear::name(f),
            Op::Transpose => "transpose",
            Op::AddRow => "add_row",
            Op::Sum(axis) => sum::name(axis),
            Op::Mean(axis) => mean::name(axis),
            Op::Max(axis) => max_min::name(true, axis),
            Op::Min(axis) => max_min::name(false, axis),
            Op::Exp => "exp",
            Op::Log => "log",
            Op::Powf(_) => "powf",
            Op::Square => "square",
            Op::Sigmoid => "sigmoid",
            Op::Relu => "relu",
            Op::Tanh => "tanh",
            Op::Sqrt => "sqrt",
            Op::Abs => "abs",
            Op::Detach => "detach",
            Op::Softmax => "softmax",
            Op::LogSoftmax => "log_softmax",
            Op::Mse => "mse",
            Op::Sse => "sse",
            Op::Bce(_) => "bce",
            Op::CrossEntropy => "cross_entropy",
            Op::Custom(id) => id.name(),
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

/// The backward rule of `op` for its input at `position`, as written in `docs/chain-rule.md`,
/// with `{y}` for the node, `{a}`/`{b}` for its inputs and `{c}` for the op's constant. The
/// backward trace fills in node names: `dL/dn6 += dL/dn7 ⊙ n7 ⊙ (1 − n7)`. Each op's file
/// holds its rules beside the code they describe. A user op's rule is its own
/// ([`CustomOp::rule`]), which the trace asks the op for; here it is a generic sentence.
pub fn rule(op: Op, position: usize) -> &'static str {
    let rules: &[&str] = match op {
        Op::Param | Op::Input => &["(no rule: nothing flows back)"],
        Op::Add => &add::RULES,
        Op::Sub => &sub::RULES,
        Op::Mul => &mul::RULES,
        Op::Div => &div::RULES,
        Op::Broadcast(f, a, b) => {
            return broadcast::rule(f, if position == 0 { a } else { b }, position)
        }
        Op::Scale(_) => &scale::RULES,
        Op::AddScalar(_) => &add_scalar::RULES,
        Op::MatMul => &matmul::RULES,
        Op::Linear(f) => linear::rules(f),
        Op::Transpose => &transpose::RULES,
        Op::AddRow => &add_row::RULES,
        Op::Sum(_) => &sum::RULES,
        Op::Mean(_) => &mean::RULES,
        Op::Max(_) => &max_min::RULES[0],
        Op::Min(_) => &max_min::RULES[1],
        Op::Exp => &exp::RULES,
        Op::Log => &log::RULES,
        Op::Powf(_) => &powf::RULES,
        Op::Square => &square::RULES,
        Op::Sigmoid => &sigmoid::RULES,
        Op::Relu => &relu::RULES,
        Op::Tanh => &tanh::RULES,
        Op::Sqrt => &sqrt::RULES,
        Op::Abs => &abs::RULES,
        Op::Detach => &detach::RULES,
        Op::Softmax => &softmax::RULES,
        Op::LogSoftmax => &log_softmax::RULES,
        Op::Mse => &mse::RULES,
        Op::Sse => &sse::RULES,
        Op::Bce(_) => &bce::RULES,
        Op::CrossEntropy => &cross_entropy::RULES,
        Op::Custom(_) => &custom::RULES,
    };
    rules[position.min(rules.len() - 1)]
}
