//! A self-contained page that steps through the forward pass and the backward sweep.
//!
//! One HTML file: the style sheet (`page.css`), the script (`page.js`) and the data (the tape's
//! cards, their layout, and every step of [`backward_trace`]) are inline, so the page opens
//! offline from disk in any current browser and fetches nothing. The numbers are all formatted
//! here, in Rust, exactly as the trace prints them; the script only shows them.

use std::fmt::Write as _;

use super::layout::layered;
use super::svg::{field, matrix_lines, text_width, Card, Kind, FONT, FONT_FAMILY, LINE};
use super::svg::{PAD_X, PAD_Y};
use super::{backward_trace, to_graph, NodeView, Trace};
use crate::anomaly::call_text;
use crate::matrix::{summarize, Matrix};
use crate::tape::{NodeId, Tape, Var};

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");
/// Tapes of up to this many nodes are drawn whole; larger ones only around the current step.
const DRAW_ALL: usize = 400;
/// Room around the drawing (the fan-out note sits above a card).
const MARGIN: f64 = 30.0;
/// The card texts before a value or gradient exists.
const VALUE_UNSET: &str = "value not computed yet";
const GRAD_UNSET: &str = "grad not computed yet";
const NO_GRAD: &str = "no grad (no parameter flows in)";

/// A page that teaches the chain rule on this tape: one self-contained HTML file (style, script
/// and data inline; nothing fetched, no external address) that opens offline in any current
/// browser.
///
/// It draws the tape as [`to_svg`](super::to_svg) does and steps, with buttons or the arrow
/// keys, through
/// - the **forward pass**, node by node, each value appearing as it is computed;
/// - the **backward sweep** from `loss`: each step highlights the node whose rule runs, shows
///   the rule with its numbers (the text of [`backward_trace`]) and fills in the gradient it
///   adds to each input; where a value fans out, the page shows the contributions adding up;
/// - and last, the gradients of the parameters.
///
/// The step is kept in the address (`chain-rule.html#step=12`), so a link opens a given step.
/// A tape of more than 400 nodes is drawn only around the current step, with a summary of the
/// rest.
///
/// This runs a traced backward sweep from `loss`, which leaves every gradient on the tape as
/// [`Tape::backward`] would.
///
/// ```
/// use chainrule::{viz, Tape};
///
/// let tape = Tape::new();
/// let (w, x) = (tape.scalar(-0.5), tape.constant(2.0));
/// let y = (w * x).sigmoid();
/// let page = viz::to_html(&tape, y);
/// assert!(page.starts_with("<!DOCTYPE html>"));
/// assert!(page.contains("dL/dn2 += dL/dn3 ⊙ n3 ⊙ (1 − n3)"));
/// assert!(!page.contains("http://") && !page.contains("https://"));
/// ```
///
/// # Panics
/// As [`backward_trace`]: if `loss` is not 1×1 or belongs to another tape.
#[track_caller]
pub fn to_html<'t>(tape: &'t Tape, loss: Var<'t>) -> String {
    let (_grads, trace) = backward_trace(tape, loss);
    let data = page_data(tape, loss.id(), &trace);
    let mut page = String::with_capacity(data.json.len() + STYLE.len() + SCRIPT.len() + 4096);
    page.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>The chain rule, step by step</title>\n<style>\n",
    );
    page.push_str(STYLE);
    page.push_str("</style>\n</head>\n<body class=\"start\">\n");
    page.push_str(CONTROLS);
    let _ = write!(
        page,
        "<main>\n<div id=\"pane\"><p id=\"summary\"></p>\n\
         <svg id=\"graph\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" \
         font-family=\"{FONT_FAMILY}\" font-size=\"{FONT}\" role=\"img\" \
         aria-label=\"the tape as a graph\">\n\
         <defs>{arrow}{arrow_on}</defs>\n<g id=\"scene\"></g>\n</svg></div>\n\
         <aside id=\"panel\"><noscript>This page needs JavaScript to step through the sweep.\
         </noscript></aside>\n</main>\n\
         <script type=\"application/json\" id=\"data\">",
        w = data.width.ceil(),
        h = data.height.ceil(),
        arrow = marker("arrow", "#777"),
        arrow_on = marker("arrow-on", "#2b8a3e"),
    );
    page.push_str(&data.json);
    page.push_str("</script>\n<script>\n");
    page.push_str(SCRIPT);
    page.push_str("</script>\n</body>\n</html>\n");
    page
}

const CONTROLS: &str = r#"<header>
<h1>The chain rule, step by step</h1>
<span id="phase">Recorded tape</span>
<button id="first" title="first step (Home)">|◀</button>
<button id="prev" title="previous step (←)">◀</button>
<button id="next" title="next step (→)">▶</button>
<button id="last" title="last step (End)">▶|</button>
<span id="counter"></span>
<input id="slider" type="range" min="0" max="0" value="0" aria-label="step">
<button id="zoom-out" title="zoom out (−)">−</button>
<button id="zoom-in" title="zoom in (+)">+</button>
<button id="fit" title="fit the whole graph (F)">fit</button>
</header>
<div id="legend">
<span><span class="swatch param"></span>parameter</span>
<span><span class="swatch input"></span>input (no gradient)</span>
<span><span class="swatch op"></span>op</span>
<span><span class="swatch current"></span>computed now / its rule runs</span>
<span><span class="swatch operand"></span>its inputs: read forward, given gradients backward</span>
<span><kbd>←</kbd> <kbd>→</kbd> step · <kbd>+</kbd> <kbd>−</kbd> zoom · <kbd>F</kbd> fit</span>
</div>
"#;

fn marker(id: &str, fill: &str) -> String {
    format!(
        "<marker id=\"{id}\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" \
         markerUnits=\"userSpaceOnUse\" markerWidth=\"12\" markerHeight=\"12\" orient=\"auto\"><path d=\"M0 0L10 5L0 10z\" fill=\"{fill}\"/></marker>"
    )
}

/// The page's data as JSON, and the size of the drawing.
struct PageData {
    json: String,
    width: f64,
    height: f64,
}

fn page_data(tape: &Tape, loss: NodeId, trace: &Trace) -> PageData {
    let graph = to_graph(tape);
    let views: Vec<&NodeView> = graph.node_weights().collect();
    let inputs = super::inputs(tape);
    let cards: Vec<Card> = views.iter().map(|v| Card::of(v)).collect();
    // Room for every state a card goes through, so that it never changes size.
    let unset_width = text_width(
        [VALUE_UNSET, GRAD_UNSET]
            .map(str::len)
            .into_iter()
            .max()
            .unwrap_or(0),
    );
    let sizes: Vec<(f64, f64)> = cards
        .iter()
        .map(|c| {
            let (w, h) = c.size();
            (w.max(unset_width), h)
        })
        .collect();
    let mut layout = layered(&sizes, &inputs);
    layout.shift(MARGIN, MARGIN);
    let (width, height) = (layout.width + 2.0 * MARGIN, layout.height + 2.0 * MARGIN);

    let mut json = String::with_capacity(views.len() * 400);
    let _ = write!(
        json,
        "{{\"geometry\":{{\"font\":{FONT},\"line\":{LINE},\"padX\":{PAD_X},\"padY\":{PAD_Y},\
         \"width\":{},\"height\":{}}},\"drawAll\":{DRAW_ALL},\"zoom\":1,\"loss\":{},",
        width.ceil(),
        height.ceil(),
        loss.index()
    );
    let _ = write!(
        json,
        "\"text\":{{\"value\":{},\"grad\":{},\"nograd\":{}}},\"summary\":{},\"seed\":{},",
        string(VALUE_UNSET),
        string(GRAD_UNSET),
        string(NO_GRAD),
        string(&summary(&views)),
        lines(&field("grad", &matrix_lines(&Matrix::scalar(1.0))))
    );
    json.push_str("\"nodes\":[");
    for (i, (view, card)) in views.iter().zip(&cards).enumerate() {
        if i > 0 {
            json.push(',');
        }
        node_json(&mut json, view, card, &inputs[i], layout.boxes[i]);
    }
    json.push_str("],\"edges\":[");
    for (k, edge) in layout.edges.iter().enumerate() {
        if k > 0 {
            json.push(',');
        }
        // The path, then where it ends (for a stub when its input is too far away to draw).
        let end = edge.points[edge.points.len() - 1];
        let _ = write!(
            json,
            "[{},{},\"{}\",{},{}]",
            edge.from,
            edge.to,
            edge.path(),
            tenth(end.0),
            tenth(end.1)
        );
    }
    json.push_str("],\"steps\":[");
    steps_json(&mut json, trace, views.len());
    json.push_str("]}");
    PageData {
        json,
        width,
        height,
    }
}

fn node_json(
    json: &mut String,
    view: &NodeView,
    card: &Card,
    inputs: &[usize],
    r: super::layout::Rect,
) {
    let ids: Vec<String> = inputs.iter().map(usize::to_string).collect();
    let grad_text = view
        .grad
        .as_ref()
        .map_or_else(|| GRAD_UNSET.to_string(), show);
    let _ = write!(
        json,
        "{{\"id\":\"{}\",\"k\":\"{}\",\"t\":{},\"call\":{},\"v\":{},\"vt\":{},\"g\":{},\
         \"gt\":{},\"need\":{},\"in\":[{}],\"b\":[{},{},{},{}],\"vl\":{},\"gl\":{}}}",
        view.id,
        Kind::of(view.op).class(),
        string(&card.title),
        string(&call_text(
            view.id,
            view.op,
            inputs.iter().map(|&i| NodeId(i as u32))
        )),
        lines(&card.value),
        string(&show(&view.value)),
        lines(&card.grad),
        string(&grad_text),
        view.requires_grad,
        ids.join(","),
        tenth(r.x),
        tenth(r.y),
        tenth(r.w),
        tenth(r.h),
        card.value.len().max(1),
        card.grad.len().max(1)
    );
}

/// Every step of the sweep, with each input's gradient before and after the step's term, so
/// the page can show contributions adding up where a value fans out.
fn steps_json(json: &mut String, trace: &Trace, nodes: usize) {
    let mut total: Vec<Option<Vec<f64>>> = vec![None; nodes];
    for (k, step) in trace.steps.iter().enumerate() {
        if k > 0 {
            json.push(',');
        }
        // The values the rule reads are the nodes' own (the page writes `n6 = [0.2]` from
        // them), and the step's call is its node's: both are sent once, with the nodes.
        let with: Vec<String> = step
            .values
            .iter()
            .map(|(name, _)| name.trim_start_matches('n').to_string())
            .collect();
        let _ = write!(
            json,
            "{{\"n\":{},\"up\":{},\"with\":[{}],\"terms\":[",
            step.node.index(),
            string(&show(&step.upstream)),
            with.join(",")
        );
        for (j, term) in step.terms.iter().enumerate() {
            let slot = &mut total[term.input.index()];
            let before = slot.clone();
            // The traced sweep adds in this order onto zeros: the same numbers as the tape's.
            let after: Vec<f64> = match &before {
                Some(b) => b
                    .iter()
                    .zip(term.added.as_slice())
                    .map(|(b, a)| b + a)
                    .collect(),
                None => term.added.as_slice().to_vec(),
            };
            *slot = Some(after.clone());
            let (rows, cols) = term.added.shape();
            let after = Matrix::new(rows, cols, after);
            let before = before.map_or("null".to_string(), |b| {
                string(&show(&Matrix::new(rows, cols, b)))
            });
            let _ = write!(
                json,
                "{}{{\"i\":{},\"rule\":{},\"add\":{},\"before\":{before},\"after\":{},\
                 \"lines\":{}}}",
                if j > 0 { "," } else { "" },
                term.input.index(),
                string(&term.rule),
                string(&show(&term.added)),
                string(&show(&after)),
                lines(&field("grad", &matrix_lines(&after)))
            );
        }
        json.push_str("]}");
    }
}

/// What a large tape holds, for the note above its partial drawing: `10001 nodes: 4000 param, …`.
fn summary(views: &[&NodeView]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for view in views {
        let name = view.op.name().to_string();
        match counts.iter_mut().find(|(n, _)| *n == name) {
            Some((_, c)) => *c += 1,
            None => counts.push((name, 1)),
        }
    }
    let parts: Vec<String> = counts.iter().map(|(n, c)| format!("{c} {n}")).collect();
    format!("A tape of {} nodes: {}.", views.len(), parts.join(", "))
}

fn show(m: &Matrix) -> String {
    summarize(m.rows(), m.cols(), m.as_slice())
}

fn tenth(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// A JSON string. `<` is escaped too, so that no text can close the `<script>` it sits in.
fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '<' => out.push_str("\\u003c"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn lines(lines: &[String]) -> String {
    let items: Vec<String> = lines.iter().map(|l| string(l)).collect();
    format!("[{}]", items.join(","))
}
