//! The backward trace: each step of the reverse sweep, with its rule and numbers.

use std::borrow::Cow;
use std::fmt;
use std::fmt::Write as _;

use crate::anomaly::call_text;
use crate::grads::Gradients;
use crate::matrix::{summarize, Matrix};
use crate::ops::{rule, Op};
use crate::sweep::RawStep;
use crate::tape::{NodeId, Tape, Var};

/// A trace of one reverse sweep: one [`TraceStep`] per node visited, from the output back.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// The steps, in the order the sweep took them (reverse recording order).
    pub steps: Vec<TraceStep>,
}

/// One node of the reverse sweep: what it received, and what its rule handed each input.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceStep {
    /// The node, as `n7 = sigmoid(n6)`.
    pub call: String,
    /// The node's id.
    pub node: NodeId,
    /// Its op.
    pub op: Op,
    /// dL/d(node), the upstream gradient.
    pub upstream: Matrix,
    /// The node's own value and its inputs' values, as `("n6", value)`.
    pub values: Vec<(String, Matrix)>,
    /// One term per input that receives a gradient.
    pub terms: Vec<TraceTerm>,
}

/// What one rule added to one input's gradient.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceTerm {
    /// The input.
    pub input: NodeId,
    /// The rule with the node names filled in, as in `docs/chain-rule.md`:
    /// `dL/dn6 += dL/dn7 ⊙ n7 ⊙ (1 − n7)`.
    pub rule: String,
    /// The numbers it added.
    pub added: Matrix,
}

/// Runs the reverse sweep from the 1×1 `output` and records every step of it.
///
/// The gradients equal those of [`Tape::backward`] up to the order of additions: the trace adds
/// each rule's whole contribution to the running sum, where the plain sweep adds a rule's terms
/// into it one by one, so a gradient that gathers several terms (a bias summed over rows, a
/// value used twice) can differ in the last bits (`0.1` against `0.10000000000000003`).
///
/// # Panics
/// If `output` is not 1×1 or belongs to another tape, or (in anomaly mode) on an anomaly.
#[track_caller]
pub fn backward_trace<'t>(tape: &'t Tape, output: Var<'t>) -> (Gradients<'t>, Trace) {
    tape.check_owner("backward_trace", output);
    let (rows, cols) = output.shape();
    assert!(
        (rows, cols) == (1, 1),
        "backward_trace: the output {} is {rows}x{cols}, not a scalar",
        output.id()
    );
    let mut raw = Vec::new();
    if let Err(anomaly) = tape.sweep(output.id(), &[1.0], Some(&mut raw)) {
        panic!("{anomaly}");
    }
    let steps = raw.into_iter().map(|step| describe(tape, step)).collect();
    (Gradients::new(tape), Trace { steps })
}

fn describe(tape: &Tape, step: RawStep) -> TraceStep {
    let t = tape.inner.borrow();
    let node = &t.nodes[step.node.index()];
    let matrix = |id: NodeId| {
        let n = &t.nodes[id.index()];
        Matrix::new(n.rows(), n.cols(), t.values[n.range()].to_vec())
    };
    let mut values = vec![(step.node.to_string(), matrix(step.node))];
    for &input in node.inputs.iter() {
        if !values.iter().any(|(name, _)| *name == input.to_string()) {
            values.push((input.to_string(), matrix(input)));
        }
    }
    let names: Vec<String> = node.inputs.iter().map(|i| i.to_string()).collect();
    let terms = step
        .added
        .into_iter()
        .map(|(input, added)| {
            // every position this input holds (x * x holds both)
            let rules: Vec<String> = node
                .inputs
                .iter()
                .enumerate()
                .filter(|(_, id)| **id == input)
                .map(|(position, _)| {
                    // A user op's rule comes from the op itself, which only the tape holds.
                    let template = match node.op {
                        Op::Custom(id) => Cow::Owned(t.space.custom.get(id).rule(position)),
                        op => Cow::Borrowed(rule(op, position)),
                    };
                    fill(&template, &step.node.to_string(), &names, node.op)
                })
                .collect();
            let n = &t.nodes[input.index()];
            TraceTerm {
                input,
                rule: rules.join("  and  "),
                added: Matrix::new(n.rows(), n.cols(), added),
            }
        })
        .collect();
    TraceStep {
        call: call_text(step.node, node.op, node.inputs.iter().copied()),
        node: step.node,
        op: node.op,
        upstream: Matrix::new(node.rows(), node.cols(), step.upstream),
        values,
        terms,
    }
}

/// Fills a rule template: `{y}` the node, `{a}`/`{b}`/`{bias}` (or `{in0}`, `{in1}`, …) its
/// inputs, `{c}` the op's constant.
fn fill(template: &str, y: &str, inputs: &[String], op: Op) -> String {
    let constant = match op {
        Op::Scale(c) | Op::AddScalar(c) | Op::Powf(c) | Op::Bce(c) => crate::matrix::number(c),
        _ => String::new(),
    };
    let mut template = template.to_string();
    for (k, name) in inputs.iter().enumerate() {
        template = template.replace(&format!("{{in{k}}}"), name);
    }
    template
        .replace("{y}", y)
        .replace("{a}", inputs.first().map_or("", String::as_str))
        .replace("{b}", inputs.get(1).map_or("", String::as_str))
        .replace("{bias}", inputs.get(2).map_or("", String::as_str))
        .replace("{c}", &constant)
}

fn show(m: &Matrix) -> String {
    summarize(m.rows(), m.cols(), m.as_slice())
}

impl fmt::Display for Trace {
    /// Plain text: per node, the upstream gradient, then each rule with its numbers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.steps {
            writeln!(
                f,
                "{}    dL/d{} = {}",
                step.call,
                step.node,
                show(&step.upstream)
            )?;
            let values: Vec<String> = step
                .values
                .iter()
                .map(|(name, v)| format!("{name} = {}", show(v)))
                .collect();
            writeln!(f, "    with {}", values.join(", "))?;
            for term in &step.terms {
                writeln!(f, "    {}  adds {}", term.rule, show(&term.added))?;
            }
        }
        Ok(())
    }
}

impl Trace {
    /// The trace as a markdown table: step, node, upstream, rule, values used, what was added.
    pub fn to_markdown(&self) -> String {
        let mut md = String::from(
            "| step | node | dL/d(node) | rule | with | adds |\n|---|---|---|---|---|---|\n",
        );
        for (k, step) in self.steps.iter().enumerate() {
            let values: Vec<String> = step
                .values
                .iter()
                .map(|(name, v)| format!("{name} = {}", show(v)))
                .collect();
            for term in &step.terms {
                let _ = writeln!(
                    md,
                    "| {} | `{}` | {} | `{}` | {} | {} |",
                    k + 1,
                    step.call,
                    show(&step.upstream),
                    term.rule,
                    values.join(", "),
                    show(&term.added)
                );
            }
        }
        md
    }
}
