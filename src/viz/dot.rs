//! The tape as Graphviz DOT.

use std::fmt::Write as _;

use super::to_graph;
use crate::matrix::{summarize, Matrix};
use crate::ops::Op;
use crate::tape::Tape;

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
