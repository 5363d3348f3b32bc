//! Seeing the chain rule: the tape as a graph ([`to_graph`], petgraph), exported as Graphviz DOT
//! ([`to_dot`]) or drawn as SVG in pure Rust ([`to_svg`]); a trace of the reverse sweep, node by
//! node ([`backward_trace`]); and a self-contained page that steps through the forward pass and
//! the sweep in a browser ([`to_html`]).
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

use petgraph::graph::{DiGraph, NodeIndex};

use crate::matrix::Matrix;
use crate::ops::Op;
use crate::tape::{NodeId, Tape};

mod dot;
mod html;
mod layout;
mod svg;
mod trace;

pub use dot::to_dot;
pub use html::to_html;
pub use svg::to_svg;
pub use trace::{backward_trace, Trace, TraceStep, TraceTerm};

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
        let value = Matrix::new(n.rows(), n.cols(), t.values[n.range()].to_vec());
        let grad =
            (i < t.grads_for).then(|| Matrix::new(n.rows(), n.cols(), t.grad(i).into_owned()));
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

/// The inputs of every node, by index, in argument order.
fn inputs(tape: &Tape) -> Vec<Vec<usize>> {
    let t = tape.inner.borrow();
    t.nodes
        .iter()
        .map(|n| n.inputs.iter().map(|i| i.index()).collect())
        .collect()
}
