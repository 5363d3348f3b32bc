//! Graph export and the backward trace.

use chainrule::nn::{Activation, Init, Mlp};
use chainrule::{viz, Matrix, Op, Tape};
use petgraph::algo::{is_cyclic_directed, toposort};

/// The lab's 2-2-2-1 network on one sample, with its MSE loss.
fn lab_network(tape: &Tape) -> chainrule::Var<'_> {
    let mlp = Mlp::new(
        &[2, 2, 2, 1],
        &[Activation::Sigmoid; 3],
        true,
        Init::Uniform,
        5,
    );
    let net = mlp.bind(tape);
    let x = tape.input(&Matrix::from_rows(&[[0.3, 0.7]]));
    net.forward(x).mse(tape.input(&Matrix::scalar(1.0)))
}

#[test]
fn the_graph_has_one_node_per_tape_node_and_one_edge_per_input() {
    let tape = Tape::new();
    lab_network(&tape);
    let graph = viz::to_graph(&tape);
    // 6 parameters + x + y + 3 dense layers (linear_sigmoid) + mse = 12 nodes;
    // edges: 3 layers × 3 inputs + mse × 2 = 11.
    assert_eq!(tape.len(), 12);
    assert_eq!(graph.node_count(), 12);
    assert_eq!(graph.edge_count(), 11);
    // Recording order is a topological order: every edge points forward, no cycle.
    assert!(!is_cyclic_directed(&graph));
    assert!(graph.edge_indices().all(|e| {
        let (from, to) = graph.edge_endpoints(e).unwrap();
        from.index() < to.index()
    }));
    assert_eq!(toposort(&graph, None).unwrap().len(), 12);
}

/// `(name, label)` of each node statement, and `(from, to)` of each edge statement.
type Statements = (Vec<(String, String)>, Vec<(String, String)>);

/// A minimal reader for the DOT `to_dot` writes: node statements with a quoted label, edge
/// statements, and braces balanced inside every label once escapes are taken into account.
fn parse_dot(dot: &str) -> Statements {
    let mut lines = dot.lines();
    assert_eq!(lines.next(), Some("digraph tape {"));
    assert_eq!(dot.lines().last(), Some("}"));
    let (mut nodes, mut edges) = (Vec::new(), Vec::new());
    for line in dot.lines().skip(1) {
        let line = line.trim();
        if line == "}" || line.starts_with("rankdir") || line.starts_with("node [") {
            continue;
        }
        assert!(line.ends_with(';'), "statement without ';': {line}");
        if let Some((from, to)) = line.trim_end_matches(';').split_once(" -> ") {
            edges.push((from.to_string(), to.to_string()));
            continue;
        }
        let (name, rest) = line.split_once(" [label=\"").expect("a node statement");
        // The label runs to the first unescaped quote.
        let (mut label, mut escaped, mut closed) = (String::new(), false, false);
        for c in rest.chars() {
            match (c, escaped) {
                ('\\', false) => escaped = true,
                ('"', false) => {
                    closed = true;
                    break;
                }
                (_, true) if "{}<>\"\\".contains(c) => {
                    label.push('·'); // an escaped character: content, not structure
                    escaped = false;
                }
                (_, true) => panic!("unknown escape \\{c} in {line}"),
                _ => label.push(c),
            }
        }
        assert!(closed, "unterminated label: {line}");
        // Record structure comes only from unescaped braces and bars; the labels use bars alone
        // (fields stacked in a left-to-right layout), so no unescaped brace may appear.
        assert_eq!(
            label.matches(['{', '}']).count(),
            0,
            "stray record brace in {line}"
        );
        nodes.push((name.to_string(), label));
    }
    (nodes, edges)
}

#[test]
fn the_dot_output_is_well_formed_and_names_every_node_and_edge() {
    let tape = Tape::new();
    lab_network(&tape);
    let (nodes, edges) = parse_dot(&viz::to_dot(&tape));
    assert_eq!(nodes.len(), 12);
    assert_eq!(edges.len(), 11);
    for (from, to) in &edges {
        assert!(nodes.iter().any(|(n, _)| n == from) && nodes.iter().any(|(n, _)| n == to));
    }
    // Records are `op | value | grad`.
    assert!(
        nodes
            .iter()
            .all(|(_, label)| label.matches('|').count() == 2),
        "{nodes:?}"
    );
}

#[test]
fn the_gradient_field_says_when_backward_has_not_run() {
    let tape = Tape::new();
    let loss = lab_network(&tape);
    let before = viz::to_dot(&tape);
    assert_eq!(before.matches("grad not computed yet").count(), 12);
    assert!(
        !before.contains("| grad ["),
        "no zeros pretending to be gradients"
    );
    tape.backward(loss);
    let after = viz::to_dot(&tape);
    assert!(!after.contains("grad not computed yet"));
    // x and y are inputs: no parameter flows into them.
    assert_eq!(after.matches("no grad (no parameter flows in)").count(), 2);
    assert_eq!(after.matches("| grad [").count(), 10);
}

#[test]
fn parameters_and_inputs_are_styled_apart_and_large_matrices_are_summarized() {
    let tape = Tape::new();
    let w = tape.param(&Matrix::from_fn(5, 5, |r, c| (r * 5 + c) as f64));
    let x = tape.input(&Matrix::filled(1, 5, 1.0));
    let _ = x.matmul(w).sum();
    let dot = viz::to_dot(&tape);
    let line = |id: &str| {
        dot.lines()
            .find(|l| l.trim_start().starts_with(&format!("{id} [")))
            .unwrap()
            .to_string()
    };
    assert!(
        line("n0").contains("fillcolor=\"#cfe2ff\""),
        "{}",
        line("n0")
    );
    assert!(line("n1").contains("dashed"), "{}", line("n1"));
    assert!(!line("n2").contains("fillcolor"), "{}", line("n2"));
    // 5x5: min 0, mean 12, max 24 rather than 25 entries.
    assert!(
        line("n0").contains("value 5x5 min 0 mean 12 max 24"),
        "{}",
        line("n0")
    );
    // 1x5 is past 4x4, but with at most 16 entries it still shows them, after its shape.
    assert!(
        line("n1").contains("value 1x5 [1 1 1 1 1]"),
        "{}",
        line("n1")
    );
}

fn sigma(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[test]
fn the_trace_of_a_tiny_network_matches_a_hand_computation() {
    // x = 0.5 → z1 = w1·x + b1 → a1 = σ(z1) → z2 = w2·a1 + b2 → a2 = σ(z2) → L = (a2 − 1)².
    let (x0, w1, b1, w2, b2) = (0.5, 0.8, -0.2, -1.5, 0.3);
    let tape = Tape::new();
    let x = tape.input(&Matrix::scalar(x0)); // n0
    let p = [w1, b1, w2, b2].map(|v| tape.scalar(v)); // n1..n4
    let y = tape.constant(1.0); // n5
    let a1 = (x.matmul(p[0]) + p[1]).sigmoid(); // n6 matmul, n7 add, n8 sigmoid
    let a2 = (a1.matmul(p[2]) + p[3]).sigmoid(); // n9, n10, n11
    let loss = a2.mse(y); // n12
    let (_, trace) = viz::backward_trace(&tape, loss);

    // By hand:
    let a1v = sigma(w1 * x0 + b1);
    let a2v = sigma(w2 * a1v + b2);
    let dl_da2 = 2.0 * (a2v - 1.0);
    let dl_dz2 = dl_da2 * a2v * (1.0 - a2v);
    let dl_da1 = dl_dz2 * w2;
    let dl_dz1 = dl_da1 * a1v * (1.0 - a1v);
    let expected = [
        ("n12", "n11", dl_da2),
        ("n11", "n10", dl_dz2),
        ("n10", "n9", dl_dz2),
        ("n10", "n4", dl_dz2),
        ("n9", "n8", dl_dz2 * w2),
        ("n9", "n3", a1v * dl_dz2),
        ("n8", "n7", dl_dz1),
        ("n7", "n6", dl_dz1),
        ("n7", "n2", dl_dz1),
        ("n6", "n1", x0 * dl_dz1),
    ];
    let order: Vec<String> = trace.steps.iter().map(|s| s.node.to_string()).collect();
    assert_eq!(order, ["n12", "n11", "n10", "n9", "n8", "n7", "n6"]);
    for (node, input, want) in expected {
        let step = trace
            .steps
            .iter()
            .find(|s| s.node.to_string() == node)
            .unwrap();
        let term = step
            .terms
            .iter()
            .find(|t| t.input.to_string() == input)
            .unwrap();
        // 1e-15: the hand values above multiply in the rules' order, up to one rounding in σ.
        assert!(
            (term.added.item() - want).abs() < 1e-15,
            "{node} → {input}: {} vs {want}",
            term.added.item()
        );
    }
    // The input x gets no term: no parameter flows into it.
    assert!(trace
        .steps
        .iter()
        .all(|s| s.terms.iter().all(|t| t.input.to_string() != "n0")));

    let text = trace.to_string();
    assert!(text.contains("n11 = sigmoid(n10)"), "{text}");
    assert!(
        text.contains("dL/dn10 += dL/dn11 ⊙ n11 ⊙ (1 − n11)"),
        "{text}"
    );
    assert!(text.contains("dL/dn8 += dL/dn9 · n3ᵀ"), "{text}");
    assert!(
        text.contains("dL/dn9 += dL/dn10  adds") && text.contains("dL/dn4 += dL/dn10  adds"),
        "{text}"
    );
    assert!(
        text.contains("dL/dn11 += dL/dn12 · 2(n11 − n5)/n"),
        "{text}"
    );
    let md = trace.to_markdown();
    assert_eq!(md.lines().count(), 2 + 10, "{md}");
    assert!(md.contains("| 2 | `n11 = sigmoid(n10)` |"), "{md}");
}

#[test]
fn a_fan_out_input_gets_one_term_naming_both_rules() {
    let tape = Tape::new();
    let x = tape.scalar(3.0);
    let y = x * x;
    let (grads, trace) = viz::backward_trace(&tape, y);
    assert_eq!(grads.wrt(x).item(), 6.0);
    let term = &trace.steps[0].terms[0];
    assert_eq!(trace.steps[0].terms.len(), 1);
    assert_eq!(term.added.item(), 6.0);
    assert_eq!(
        term.rule,
        "dL/dn0 += dL/dn1 ⊙ n0  and  dL/dn0 += dL/dn1 ⊙ n0"
    );
    assert_eq!(trace.steps[0].op, Op::Mul);
}

/// The lab network written out layer by layer (matmul → add_row → sigmoid), as example 05 does:
/// 18 nodes, each with at most two inputs.
fn lab_network_unfused(tape: &Tape) -> chainrule::Var<'_> {
    let mlp = Mlp::new(
        &[2, 2, 2, 1],
        &[Activation::Sigmoid; 3],
        true,
        Init::Uniform,
        1,
    );
    let net = mlp.bind(tape);
    let mut a = tape.input(&Matrix::from_rows(&[[0.0, 1.0]]));
    for layer in net.params().chunks_exact(2) {
        a = a.matmul(layer[0]).add_row(layer[1]).sigmoid();
    }
    a.mse(tape.input(&Matrix::scalar(1.0)))
}

/// A drawn card: its id, class, box, and the lines of its title, value and gradient.
#[derive(Debug)]
struct DrawnCard {
    id: String,
    class: String,
    rect: [f64; 4],
    parts: Vec<Vec<String>>,
}

/// Reads `to_svg`'s output as XML (failing if it is not well-formed): the cards and the edges.
fn read_svg(svg: &str) -> (Vec<DrawnCard>, Vec<(String, String)>) {
    let doc = roxmltree::Document::parse(svg).expect("to_svg writes well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    let class = |n: &roxmltree::Node| n.attribute("class").unwrap_or("").to_string();
    let cards = root
        .descendants()
        .filter(|n| n.has_tag_name("g") && class(n).starts_with("node "))
        .map(|g| {
            let rect = g.children().find(|c| c.has_tag_name("rect")).unwrap();
            let number = |name| rect.attribute(name).unwrap().parse::<f64>().unwrap();
            let parts = g
                .children()
                .filter(|c| c.has_tag_name("text"))
                .map(|text| {
                    text.children()
                        .filter(|t| t.has_tag_name("tspan"))
                        .map(|t| t.text().unwrap_or("").to_string())
                        .collect()
                })
                .collect();
            DrawnCard {
                id: g.attribute("id").unwrap().to_string(),
                class: class(&g),
                rect: [number("x"), number("y"), number("width"), number("height")],
                parts,
            }
        })
        .collect();
    let edges = root
        .descendants()
        .filter(|n| n.has_tag_name("path") && class(n) == "edge")
        .map(|p| {
            (
                p.attribute("data-from").unwrap().to_string(),
                p.attribute("data-to").unwrap().to_string(),
            )
        })
        .collect();
    (cards, edges)
}

/// The numbers in a text, in order: `value [ 0.5  -1]` → ["0.5", "-1"].
fn numbers(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || "[];".contains(c))
        .filter(|t| t.parse::<f64>().is_ok())
        .map(str::to_string)
        .collect()
}

#[test]
fn the_svg_is_well_formed_and_draws_every_node_and_edge_as_to_dot_labels_them() {
    let tape = Tape::new();
    let loss = lab_network_unfused(&tape);
    tape.backward(loss);
    let (cards, edges) = read_svg(&viz::to_svg(&tape));
    let (dot_nodes, dot_edges) = parse_dot(&viz::to_dot(&tape));
    assert_eq!(cards.len(), 18);
    assert_eq!(dot_nodes.len(), 18);
    let mut edges_sorted = edges.clone();
    let mut dot_edges = dot_edges;
    edges_sorted.sort();
    dot_edges.sort();
    assert_eq!(edges_sorted, dot_edges);
    for (card, (name, label)) in cards.iter().zip(&dot_nodes) {
        assert_eq!(&card.id, name);
        // The record's three fields, `title | value … | grad …`, are the card's three parts.
        let fields: Vec<&str> = label.split(" | ").collect();
        assert_eq!(card.parts.len(), 3, "{card:?}");
        assert_eq!(card.parts[0], [fields[0]], "{card:?}");
        let value = card.parts[1].join(" ");
        assert!(value.starts_with("value ["), "{card:?}");
        assert_eq!(numbers(&value), numbers(fields[1]), "{card:?}");
        let grad = card.parts[2].join(" ");
        assert_eq!(numbers(&grad), numbers(fields[2]), "{card:?}");
        assert_eq!(
            grad.starts_with("grad ["),
            fields[2].starts_with("grad ["),
            "{card:?}"
        );
    }
    let class = |id: &str| &cards.iter().find(|c| c.id == id).unwrap().class;
    assert_eq!(class("n0"), "node param");
    assert_eq!(class("n6"), "node input");
    assert_eq!(class("n7"), "node op");
}

#[test]
fn the_svg_writes_small_matrices_one_row_per_line_with_aligned_columns() {
    let tape = Tape::new();
    let w = tape.param(&Matrix::from_rows(&[[0.5, -12.0], [-1.25, 3.0]]));
    let _ = w.sum();
    let (cards, _) = read_svg(&viz::to_svg(&tape));
    assert_eq!(
        cards[0].parts[1],
        ["value [  0.5 -12]", "      [-1.25   3]"]
    );
    assert_eq!(cards[0].parts[2], ["grad not computed yet"]);
}

#[test]
fn the_svg_is_layered_from_the_inputs_to_the_loss_and_no_cards_overlap() {
    let tape = Tape::new();
    let loss = lab_network_unfused(&tape);
    tape.backward(loss);
    let (cards, edges) = read_svg(&viz::to_svg(&tape));
    let rect = |id: &str| cards.iter().find(|c| c.id == id).unwrap().rect;
    for (from, to) in &edges {
        let (a, b) = (rect(from), rect(to));
        assert!(a[0] + a[2] < b[0], "{from} is not left of its reader {to}");
    }
    // The loss stands alone at the right.
    let loss_left = rect(&loss.id().to_string())[0];
    assert!(cards
        .iter()
        .all(|c| c.id == loss.id().to_string() || c.rect[0] + c.rect[2] < loss_left));
    for (i, a) in cards.iter().enumerate() {
        for b in &cards[i + 1..] {
            let [ax, ay, aw, ah] = a.rect;
            let [bx, by, bw, bh] = b.rect;
            let apart = ax + aw <= bx || bx + bw <= ax || ay + ah <= by || by + bh <= ay;
            assert!(apart, "{} overlaps {}", a.id, b.id);
        }
    }
}
