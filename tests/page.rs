//! The chain-rule page (`viz::to_html`) without a browser: self-contained, and carrying every
//! node and every step of the trace. `scripts/browser-test.sh` checks what a browser shows.

use chainrule::{viz, Matrix, Tape, Var};
use serde_json::Value;

/// `L = (σ(w2·σ(w1·x + b1) + b2) − 1)² + 0.01·w1²`: w1 fans out to the layer and the penalty.
fn network_with_fan_out(tape: &Tape) -> Var<'_> {
    let x = tape.input(&Matrix::scalar(0.5));
    let [w1, b1, w2, b2] = [0.8, -0.2, -1.5, 0.3].map(|v| tape.scalar(v));
    let y = tape.constant(1.0);
    let a1 = (x.matmul(w1) + b1).sigmoid();
    let a2 = (a1.matmul(w2) + b2).sigmoid();
    a2.mse(y) + 0.01 * w1.square()
}

/// The JSON the page's script reads.
fn data(page: &str) -> Value {
    let start = page
        .find(r#"<script type="application/json" id="data">"#)
        .expect("the page carries its data");
    let json = &page[start..];
    let json = &json[json.find('>').unwrap() + 1..json.find("</script>").unwrap()];
    serde_json::from_str(json).expect("the page's data is valid JSON")
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_page_is_one_file_that_fetches_nothing() {
    let tape = Tape::new();
    let loss = network_with_fan_out(&tape);
    let page = viz::to_html(&tape, loss);
    assert!(page.starts_with("<!DOCTYPE html>"));
    for banned in [
        "http://", "https://", "//cdn", "src=", "href=", "<link", "@import",
    ] {
        assert!(!page.contains(banned), "the page contains {banned}");
    }
    // The only `url(…)`s point inside the page: `url(#arrow)`, the edges' arrowheads.
    for (at, _) in page.match_indices("url(") {
        assert!(page[at..].starts_with("url(#"), "{}", &page[at..at + 40]);
    }
    // Style and script inline: one <style>, two <script>s (the data and the code), both closed.
    assert_eq!(page.matches("<style>").count(), 1);
    assert_eq!(page.matches("<script").count(), 2);
    assert_eq!(page.matches("</script>").count(), 2);
    assert!(page.trim_end().ends_with("</html>"));
}

#[test]
fn the_page_carries_every_node_and_every_step_of_the_trace() {
    let tape = Tape::new();
    let loss = network_with_fan_out(&tape);
    let (_, trace) = viz::backward_trace(&tape, loss);
    let page = viz::to_html(&tape, loss);
    let data = data(&page);
    let nodes = data["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), tape.len());
    for (var, node) in tape.vars().zip(nodes) {
        assert_eq!(node["id"], var.id().to_string());
        let title = format!("{}: {} 1x1", var.id(), var.op());
        assert_eq!(node["t"], title.as_str());
        assert!(page.contains(&title));
        // The card's value shows the tape's number as the trace writes it.
        let value = var.item();
        assert_eq!(node["vt"], format!("[{}]", short(value)), "{title}");
        assert_eq!(node["need"], var.requires_grad(), "{title}");
    }
    let steps = data["steps"].as_array().unwrap();
    assert_eq!(steps.len(), trace.steps.len());
    assert_eq!(trace.steps.len(), 10);
    for (step, want) in steps.iter().zip(&trace.steps) {
        assert_eq!(step["n"], want.node.index());
        assert_eq!(nodes[want.node.index()]["call"], want.call.as_str());
        let terms = step["terms"].as_array().unwrap();
        assert_eq!(terms.len(), want.terms.len(), "{}", want.call);
        for (term, want) in terms.iter().zip(&want.terms) {
            assert_eq!(term["i"], want.input.index());
            assert_eq!(term["rule"], want.rule.as_str());
            assert_eq!(term["add"], format!("[{}]", short(want.added.item())));
            // The rule's text is in the page as it is in the trace (and in docs/chain-rule.md).
            assert!(page.contains(want.rule.as_str()), "{}", want.rule);
        }
    }
}

#[test]
fn a_fanned_out_gradient_is_shown_as_contributions_adding_up_to_the_tapes_gradient() {
    let tape = Tape::new();
    let loss = network_with_fan_out(&tape);
    let page = viz::to_html(&tape, loss);
    let data = data(&page);
    // w1 = n1: first from the penalty's square (recorded last, so swept first), then from the
    // layer's matmul.
    let contributions: Vec<&Value> = data["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["terms"].as_array().unwrap())
        .filter(|t| t["i"] == 1)
        .collect();
    assert_eq!(contributions.len(), 2);
    let (first, second) = (contributions[0], contributions[1]);
    assert!(first["before"].is_null());
    assert_eq!(first["after"], first["add"]);
    assert_eq!(second["before"], first["after"]);
    // 0.016 (penalty: 0.01 · 2 · 0.8) + 0.0545 (layer) = 0.0705, the tape's dL/dw1.
    assert_eq!(first["add"], "[0.016]");
    assert_eq!(second["after"], "[0.0705]");
    let grads = tape.backward(loss);
    let w1 = tape.vars().nth(1).unwrap();
    assert_eq!(format!("[{}]", short(grads.wrt(w1).item())), "[0.0705]");
    assert_eq!(data["nodes"][1]["gt"], "[0.0705]");
    assert_eq!(strings(&second["lines"]), ["grad [0.0705]"]);
}

#[test]
fn every_running_total_ends_at_the_gradient_the_tape_computes() {
    let tape = Tape::new();
    let loss = network_with_fan_out(&tape);
    let page = viz::to_html(&tape, loss);
    let data = data(&page);
    let mut last = vec![None; tape.len()];
    for step in data["steps"].as_array().unwrap() {
        for term in step["terms"].as_array().unwrap() {
            last[term["i"].as_u64().unwrap() as usize] = Some(term["after"].clone());
        }
    }
    let grads = tape.backward(loss);
    for (var, total) in tape.vars().zip(last) {
        match total {
            Some(total) => assert_eq!(total, format!("[{}]", short(grads.wrt(var).item()))),
            // The loss gets the seed, inputs get nothing.
            None => assert!(var.id() == loss.id() || !var.requires_grad()),
        }
    }
}

#[test]
fn a_tape_too_large_to_draw_is_sent_whole_and_summarised() {
    let tape = Tape::new();
    let w = tape.scalar(0.9);
    let mut h = tape.constant(1.0);
    for _ in 0..300 {
        h = (h * w).tanh(); // 2 nodes per step: 602 in all
    }
    let page = viz::to_html(&tape, h);
    let data = data(&page);
    assert_eq!(data["nodes"].as_array().unwrap().len(), 602);
    assert_eq!(data["steps"].as_array().unwrap().len(), 600);
    let draw_all = data["drawAll"].as_u64().unwrap();
    assert!(602 > draw_all, "the page draws {draw_all} nodes at most");
    assert_eq!(
        data["summary"],
        "A tape of 602 nodes: 1 param, 1 input, 300 mul, 300 tanh."
    );
}

/// A number as the trace writes it (four decimals), for the values in these tests.
fn short(x: f64) -> String {
    let text = format!("{x:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if x.abs() >= 1e-3 || x == 0.0 {
        text.to_string()
    } else {
        format!("{x:.3e}")
    }
}
