//! Seeing the chain rule: the tape as a graph (petgraph, Graphviz DOT) and a trace of the
//! reverse sweep, node by node.
//!
//! ```
//! use chainrule::{viz, Tape};
//!
//! let tape = Tape::new();
//! let (w, x) = (tape.scalar(-0.5), tape.constant(2.0));
//! let y = (w * x).sigmoid();
//! let (_grads, trace) = viz::backward_trace(&tape, y);
//! let text = trace.to_string();
//! assert!(text.contains("n3 = sigmoid(n2)"));
//! assert!(text.contains("dL/dn2 += dL/dn3 ⊙ n3 ⊙ (1 − n3)"));
//! let dot = viz::to_dot(&tape); // `dot -Tsvg` draws it
//! assert!(dot.starts_with("digraph tape {"));
//! ```

use std::borrow::Cow;
use std::fmt;
use std::fmt::Write as _;

use petgraph::graph::{DiGraph, NodeIndex};

use crate::anomaly::call_text;
use crate::grads::Gradients;
use crate::matrix::{summarize, Matrix};
use crate::ops::{rule, Op};
use crate::tape::{NodeId, RawStep, Tape, Var};

/// What the graph shows of one tape node.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeView {
    /// The node's id on the tape.
    pub id: NodeId,
    /// Its op (`Param` and `Input` for leaves).
    pub op: Op,
    /// Its value.
    pub value: Matrix,
    /// Its gradient from the last backward sweep, or `None` if no sweep reached it.
    pub grad: Option<Matrix>,
    /// Whether a parameter flows into it.
    pub requires_grad: bool,
}

/// The tape as a `petgraph` directed graph: one graph node per tape node (graph index = tape
/// index), one edge per input, from the input to the node that reads it, weighted with the
/// input's position (0 or 1).
pub fn to_graph(tape: &Tape) -> DiGraph<NodeView, usize> {
    let t = tape.inner.borrow();
    let mut graph = DiGraph::with_capacity(t.nodes.len(), t.nodes.len() * 2);
    for (i, n) in t.nodes.iter().enumerate() {
        let value = Matrix::new(n.rows, n.cols, t.values[n.range()].to_vec());
        let grad = (i < t.grads_for).then(|| Matrix::new(n.rows, n.cols, t.grad(i).into_owned()));
        let view = NodeView {
            id: NodeId(i as u32),
            op: n.op,
            value,
            grad,
            requires_grad: n.requires_grad,
        };
        graph.add_node(view);
    }
    for (i, n) in t.nodes.iter().enumerate() {
        for (position, input) in n.inputs.iter().enumerate() {
            graph.add_edge(NodeIndex::new(input.index()), NodeIndex::new(i), position);
        }
    }
    graph
}

/// The tape as Graphviz DOT, in the spirit of micrograd's `draw_dot`: each node a record
/// `n7: sigmoid 1x4 | value … | grad …`, parameters (blue) and inputs (grey, dashed) styled apart
/// from intermediate nodes. Matrices of up to 4×4 show their entries, larger ones their shape and
/// min/mean/max. Before a backward sweep, the gradient field says so.
pub fn to_dot(tape: &Tape) -> String {
    let graph = to_graph(tape);
    let mut dot = String::from(
        "digraph tape {\n  rankdir=LR;\n  node [shape=record, fontname=\"sans-serif\"];\n",
    );
    for view in graph.node_weights() {
        let (rows, cols) = view.value.shape();
        let show = |m: &Matrix| {
            if rows <= 4 && cols <= 4 {
                summarize(rows, cols, m.as_slice())
            } else {
                summarize_large(m)
            }
        };
        let grad = match (&view.grad, view.requires_grad) {
            (Some(g), true) => format!("grad {}", show(g)),
            (Some(_), false) => "no grad (no parameter flows in)".into(),
            (None, _) => "grad not computed yet".into(),
        };
        let style = match view.op {
            Op::Param => ", style=filled, fillcolor=\"#cfe2ff\"",
            Op::Input => ", style=\"filled,dashed\", fillcolor=\"#eeeeee\"",
            _ => "",
        };
        let label = format!(
            "{}: {} {rows}x{cols} | value {} | {grad}",
            view.id,
            view.op,
            show(&view.value)
        );
        // With rankdir=LR, a record without braces stacks its fields: op / value / grad.
        let _ = writeln!(dot, "  {} [label=\"{}\"{style}];", view.id, escape(&label));
    }
    for edge in graph.edge_indices() {
        let (from, to) = graph.edge_endpoints(edge).expect("an edge of this graph");
        let _ = writeln!(dot, "  {} -> {};", graph[from].id, graph[to].id);
    }
    dot.push_str("}\n");
    dot
}

fn summarize_large(m: &Matrix) -> String {
    let (rows, cols) = m.shape();
    let text = summarize(rows, cols, m.as_slice());
    if m.len() <= 16 {
        format!("{rows}x{cols} {text}")
    } else {
        text
    }
}

/// Escapes the characters that have a meaning inside a DOT record label.
fn escape(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    for c in label.chars() {
        match c {
            '{' | '}' | '<' | '>' | '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            // A record field separator we did not mean would split the record: keep only ours.
            _ => out.push(c),
        }
    }
    out
}

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
/// The gradients equal those of [`Tape::backward`] up to the order of additions where a value
/// fans out into a large matrix product; for the small networks a trace is read on, they are the
/// same numbers.
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
        Matrix::new(n.rows, n.cols, t.values[n.range()].to_vec())
    };
    let mut values = vec![(step.node.to_string(), matrix(step.node))];
    for &input in &node.inputs {
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
                added: Matrix::new(n.rows, n.cols, added),
            }
        })
        .collect();
    TraceStep {
        call: call_text(step.node, node.op, node.inputs.iter().copied()),
        node: step.node,
        op: node.op,
        upstream: Matrix::new(node.rows, node.cols, step.upstream),
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
