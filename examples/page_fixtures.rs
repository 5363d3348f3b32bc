//! The pages `scripts/browser-test.sh` opens in headless Chromium, and what they must show.
//!
//! Writes into the folder given as the first argument (default `out/page-fixtures`):
//! - `small.html`: a two-layer scalar network whose first weight also feeds an L2 penalty, so
//!   that one gradient arrives as two contributions (fan-out);
//! - `large.html`: an unrolled recurrence of about 10,000 nodes, drawn only around the current
//!   step;
//! - `small-steps.tsv`, `large-steps.tsv`: the expected content of page steps, one per line,
//!   taken from `viz::backward_trace` (not from the page's data):
//!   `step  forward   node  call  value` or
//!   `step  backward  node  call  upstream  rule ‖ rule …  added ‖ added …  fan-out` (tab-separated),
//!   where fan-out lists the inputs that get their second or later contribution at that step,
//!   with its number: `n1:2`.
//!
//! Run: `cargo run --release --example page_fixtures -- out/page-fixtures`

use std::fmt::Write as _;
use std::path::Path;

use chainrule::{viz, Matrix, Tape, Var};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "out/page-fixtures".into());
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir)?;

    let tape = Tape::new();
    let loss = small(&tape);
    write(dir, "small", &tape, loss, |_| true)?;

    let tape = Tape::new();
    let loss = large(&tape);
    // A few steps spread over the forward pass and the sweep, and the sweep's first steps,
    // where the gradients have not yet vanished.
    let n = tape.len();
    write(dir, "large", &tape, loss, |step| {
        step % 1999 == 1 || (n + 1..n + 30).contains(&step) && step % 7 == 0
    })?;
    Ok(())
}

/// `L = (σ(w2·σ(w1·x + b1) + b2) − 1)² + 0.01·w1²`: w1 feeds the layer and the penalty.
fn small(tape: &Tape) -> Var<'_> {
    let x = tape.input(&Matrix::scalar(0.5));
    let [w1, b1, w2, b2] = [0.8, -0.2, -1.5, 0.3].map(|v| tape.scalar(v));
    let y = tape.constant(1.0);
    let a1 = (x.matmul(w1) + b1).sigmoid();
    let a2 = (a1.matmul(w2) + b2).sigmoid();
    a2.mse(y) + 0.01 * w1.square()
}

/// `h ← tanh(h·W + x_t·U + b)` over 1665 steps with shared W, U, b, then the MSE of the last h.
fn large(tape: &Tape) -> Var<'_> {
    let w = tape.param(&Matrix::from_rows(&[[0.5, -0.3], [0.2, 0.4]]));
    let u = tape.param(&Matrix::from_rows(&[[0.1, 0.7], [-0.6, 0.2]]));
    let b = tape.param(&Matrix::from_rows(&[[0.05, -0.05]]));
    let mut h = tape.input(&Matrix::from_rows(&[[0.0, 0.0]]));
    for t in 0..1665 {
        let phase = t as f64 * 0.1;
        let x = tape.input(&Matrix::from_rows(&[[phase.sin(), phase.cos()]]));
        h = (h.matmul(w) + x.matmul(u)).add_row(b).tanh();
    }
    h.mse(tape.input(&Matrix::from_rows(&[[0.5, -0.5]])))
}

/// Writes `<name>.html` and `<name>-steps.tsv` with the page steps that `keep` selects.
fn write<'t>(
    dir: &Path,
    name: &str,
    tape: &'t Tape,
    loss: Var<'t>,
    keep: impl Fn(usize) -> bool,
) -> Result<(), Box<dyn std::error::Error>> {
    // The expected steps come from the trace itself; the page is written afterwards from the
    // same tape (its sweep gives the same numbers).
    let (_, trace) = viz::backward_trace(tape, loss);
    let n = tape.len();
    let graph = viz::to_graph(tape);
    let mut tsv = String::new();
    for var in tape.vars().filter(|v| keep(v.id().index() + 1)) {
        let value = var.value();
        let call = call(&graph, var.id().index());
        let _ = writeln!(
            tsv,
            "{}\tforward\t{}\t{call}\t{}",
            var.id().index() + 1,
            var.id(),
            show(&value)
        );
    }
    // How many contributions each gradient has received so far: from the second on, the page
    // must show them adding up.
    let mut contributions = vec![0usize; n];
    for (k, step) in trace.steps.iter().enumerate() {
        let page_step = n + k + 1;
        let mut fan_out = Vec::new();
        for term in &step.terms {
            contributions[term.input.index()] += 1;
            let count = contributions[term.input.index()];
            if count > 1 {
                fan_out.push(format!("{}:{count}", term.input));
            }
        }
        if !keep(page_step) {
            continue;
        }
        let rules: Vec<&str> = step.terms.iter().map(|t| t.rule.as_str()).collect();
        let added: Vec<String> = step.terms.iter().map(|t| show(&t.added)).collect();
        let _ = writeln!(
            tsv,
            "{page_step}\tbackward\t{}\t{}\t{}\t{}\t{}\t{}",
            step.node,
            step.call,
            show(&step.upstream),
            rules.join(" ‖ "),
            added.join(" ‖ "),
            fan_out.join(",")
        );
    }
    std::fs::write(dir.join(format!("{name}-steps.tsv")), tsv)?;
    let page = viz::to_html(tape, loss);
    std::fs::write(dir.join(format!("{name}.html")), &page)?;
    println!(
        "{}: {n} nodes, {} backward steps, {} KB",
        dir.join(format!("{name}.html")).display(),
        trace.steps.len(),
        page.len() / 1024
    );
    Ok(())
}

/// `n7 = sigmoid(n6)`, or `n0 = param` for a leaf: the way the trace names a node.
fn call(graph: &DiGraph<viz::NodeView, usize>, i: usize) -> String {
    let node = NodeIndex::new(i);
    let mut inputs: Vec<(usize, String)> = graph
        .edges_directed(node, Direction::Incoming)
        .map(|e| (*e.weight(), graph[e.source()].id.to_string()))
        .collect();
    inputs.sort();
    let names: Vec<String> = inputs.into_iter().map(|(_, name)| name).collect();
    let view = &graph[node];
    if view.op.is_leaf() {
        format!("{} = {}", view.id, view.op)
    } else {
        format!("{} = {}({})", view.id, view.op, names.join(", "))
    }
}

/// A matrix as the trace prints it: `[1 2; 3 4]`, four decimals.
fn show(m: &Matrix) -> String {
    let (rows, cols) = m.shape();
    if m.len() > 16 {
        unreachable!("the fixtures' matrices have at most 4 entries");
    }
    let rows: Vec<String> = (0..rows)
        .map(|r| {
            let row: Vec<String> = (0..cols).map(|c| number(m[(r, c)])).collect();
            row.join(" ")
        })
        .collect();
    format!("[{}]", rows.join("; "))
}

/// The trace's number format: four decimals in the usual range, scientific outside it.
fn number(x: f64) -> String {
    if x == 0.0 {
        "0".to_string()
    } else if !x.is_finite() {
        x.to_string()
    } else if (1e-3..1e5).contains(&x.abs()) {
        format!("{x:.4}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        format!("{x:.3e}")
    }
}
