//! The tape drawn as SVG in pure Rust: no Graphviz, no system package.
//!
//! Each node is a card of three parts, like `to_dot`'s records: `n7: matmul 1x2`, its value,
//! its gradient. Matrices of up to 4×4 are written one row per line with aligned columns;
//! larger ones as their shape and min/mean/max. The cards are placed by [`super::layout`].

use std::fmt::Write as _;

use super::layout::{layered, Layout, Rect};
use super::{to_graph, NodeView};
use crate::matrix::{number, summarize, Matrix};
use crate::ops::Op;
use crate::tape::Tape;

/// Font size of the cards, in SVG units (pixels at 100 %).
pub(crate) const FONT: f64 = 15.0;
/// Advance of one character of the monospace font, with a little room to spare (DejaVu Sans
/// Mono, Menlo and Consolas all advance 0.6 em).
const CHAR_W: f64 = 0.62 * FONT;
/// Height of one line of text.
pub(crate) const LINE: f64 = 19.0;
/// Padding left and right of the text, and above plus below each part of a card.
pub(crate) const PAD_X: f64 = 10.0;
pub(crate) const PAD_Y: f64 = 8.0;
/// The fonts the cards ask for: monospace, so that matrix columns line up and widths are known.
pub(crate) const FONT_FAMILY: &str = "DejaVu Sans Mono, Menlo, Consolas, monospace";
/// Margin around the drawing, and the height of the legend above it.
const MARGIN: f64 = 16.0;
const LEGEND_H: f64 = 40.0;

/// How a node is drawn: parameters blue, inputs grey and dashed, ops plain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Param,
    Input,
    Op,
}

impl Kind {
    pub(crate) fn of(op: Op) -> Kind {
        match op {
            Op::Param => Kind::Param,
            Op::Input => Kind::Input,
            _ => Kind::Op,
        }
    }

    /// The class name, also used by the page's style sheet.
    pub(crate) fn class(self) -> &'static str {
        match self {
            Kind::Param => "param",
            Kind::Input => "input",
            Kind::Op => "op",
        }
    }

    fn fill(self) -> &'static str {
        match self {
            Kind::Param => "#cfe2ff",
            Kind::Input => "#eeeeee",
            Kind::Op => "#ffffff",
        }
    }

    fn dash(self) -> &'static str {
        match self {
            Kind::Input => " stroke-dasharray=\"6 4\"",
            _ => "",
        }
    }
}

/// The text of one node's card: its title, then the lines of its value and of its gradient.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Card {
    pub(crate) title: String,
    pub(crate) value: Vec<String>,
    pub(crate) grad: Vec<String>,
}

impl Card {
    /// The card `to_dot` would write as a record, with the matrices one row per line.
    pub(crate) fn of(view: &NodeView) -> Card {
        let (rows, cols) = view.value.shape();
        let grad = match (&view.grad, view.requires_grad) {
            (Some(g), true) => field("grad", &matrix_lines(g)),
            (Some(_), false) => vec!["no grad (no parameter flows in)".into()],
            (None, _) => vec!["grad not computed yet".into()],
        };
        Card {
            title: format!("{}: {} {rows}x{cols}", view.id, view.op),
            value: field("value", &matrix_lines(&view.value)),
            grad,
        }
    }

    /// Width and height of the card.
    pub(crate) fn size(&self) -> (f64, f64) {
        let longest = std::iter::once(&self.title)
            .chain(&self.value)
            .chain(&self.grad)
            .map(|line| line.chars().count())
            .max()
            .unwrap_or(0);
        let lines = 1 + self.value.len().max(1) + self.grad.len().max(1);
        (text_width(longest), lines as f64 * LINE + 3.0 * PAD_Y)
    }
}

/// The width of a card whose longest line has `chars` characters.
pub(crate) fn text_width(chars: usize) -> f64 {
    chars as f64 * CHAR_W + 2.0 * PAD_X
}

/// A matrix as lines of text: up to 4×4, one row per line, columns right-aligned
/// (`[ 0.5 -1]` over `[-2    3]`); larger, one line as `to_dot` writes it.
pub(crate) fn matrix_lines(m: &Matrix) -> Vec<String> {
    let (rows, cols) = m.shape();
    if rows > 4 || cols > 4 {
        let text = summarize(rows, cols, m.as_slice());
        return vec![if m.len() <= 16 {
            format!("{rows}x{cols} {text}")
        } else {
            text
        }];
    }
    let entries: Vec<String> = m.as_slice().iter().map(|&x| number(x)).collect();
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            (0..rows)
                .map(|r| entries[r * cols + c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (0..cols)
                .map(|c| format!("{:>w$}", entries[r * cols + c], w = widths[c]))
                .collect();
            format!("[{}]", row.join(" "))
        })
        .collect()
}

/// Lines of a labelled field: `value [1 2]` over `      [3 4]`.
pub(crate) fn field(label: &str, lines: &[String]) -> Vec<String> {
    let indent = " ".repeat(label.chars().count() + 1);
    lines
        .iter()
        .enumerate()
        .map(|(k, line)| {
            if k == 0 {
                format!("{label} {line}")
            } else {
                format!("{indent}{line}")
            }
        })
        .collect()
}

/// The tape as a standalone SVG drawn in pure Rust, laid out in layers from the inputs (left) to
/// the loss (right).
///
/// Each node is a card like [`to_dot`](super::to_dot)'s records: `n7: matmul 1x2`, its value,
/// and its gradient from the last backward sweep (or that none was computed); parameters are
/// blue, inputs grey and dashed. Each card is a `<g class="node …" id="n7">` and each edge a
/// `<path class="edge" data-from="n0" data-to="n7">`, so the drawing can be styled or scripted.
///
/// ```
/// use chainrule::{viz, Tape};
///
/// let tape = Tape::new();
/// let (w, x) = (tape.scalar(-0.5), tape.constant(2.0));
/// let y = (w * x).sigmoid();
/// tape.backward(y);
/// let svg = viz::to_svg(&tape);
/// assert!(svg.starts_with("<svg"));
/// assert!(svg.contains(r#"<g class="node param" id="n0">"#));
/// assert!(svg.contains("n3: sigmoid 1x1"));
/// ```
pub fn to_svg(tape: &Tape) -> String {
    let graph = to_graph(tape);
    let views: Vec<&NodeView> = graph.node_weights().collect();
    let cards: Vec<Card> = views.iter().map(|v| Card::of(v)).collect();
    let sizes: Vec<(f64, f64)> = cards.iter().map(Card::size).collect();
    let layout = layered(&sizes, &super::inputs(tape));
    let width = layout.width.max(520.0) + 2.0 * MARGIN;
    let height = layout.height + 2.0 * MARGIN + LEGEND_H;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" font-family=\"{FONT_FAMILY}\" font-size=\"{FONT}\">\n\
         <title>chainrule tape: {n} nodes</title>\n\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" \
         markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\">\
         <path d=\"M0 0L10 5L0 10z\" fill=\"#555\"/></marker></defs>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n",
        w = width.ceil(),
        h = height.ceil(),
        n = views.len()
    );
    legend(&mut svg);
    let _ = writeln!(
        svg,
        "<g transform=\"translate({MARGIN} {})\">",
        MARGIN + LEGEND_H
    );
    edges(&mut svg, &layout, &views);
    svg.push_str("<g class=\"nodes\">\n");
    for ((view, card), rect) in views.iter().zip(&cards).zip(&layout.boxes) {
        write_card(&mut svg, view, card, rect);
    }
    svg.push_str("</g>\n</g>\n</svg>\n");
    svg
}

fn legend(svg: &mut String) {
    svg.push_str("<g class=\"legend\" font-size=\"14\">\n");
    let mut x = MARGIN;
    for (kind, text) in [
        (Kind::Param, "parameter"),
        (Kind::Input, "input (no gradient)"),
        (Kind::Op, "op"),
    ] {
        let _ = writeln!(
            svg,
            "<rect x=\"{x}\" y=\"{MARGIN}\" width=\"28\" height=\"18\" rx=\"3\" fill=\"{}\" \
             stroke=\"#333\"{}/><text x=\"{}\" y=\"{}\">{text}</text>",
            kind.fill(),
            kind.dash(),
            x + 36.0,
            MARGIN + 14.0
        );
        x += 52.0 + text.len() as f64 * 0.62 * 14.0;
    }
    let _ = writeln!(
        svg,
        "<text x=\"{x}\" y=\"{}\">→ an arrow runs from an input to the node that reads it</text>",
        MARGIN + 14.0
    );
    svg.push_str("</g>\n");
}

fn edges(svg: &mut String, layout: &Layout, views: &[&NodeView]) {
    svg.push_str("<g class=\"edges\" fill=\"none\" stroke=\"#555\" stroke-width=\"1.5\">\n");
    for edge in &layout.edges {
        let _ = writeln!(
            svg,
            "<path class=\"edge\" data-from=\"{}\" data-to=\"{}\" d=\"{}\" \
             marker-end=\"url(#arrow)\"/>",
            views[edge.from].id,
            views[edge.to].id,
            edge.path()
        );
    }
    svg.push_str("</g>\n");
}

fn write_card(svg: &mut String, view: &NodeView, card: &Card, r: &Rect) {
    let kind = Kind::of(view.op);
    let _ = writeln!(
        svg,
        "<g class=\"node {}\" id=\"{}\">\n<title>{}</title>\n\
         <rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"4\" fill=\"{}\" stroke=\"#333\" \
         stroke-width=\"1.5\"{}/>",
        kind.class(),
        view.id,
        escape(&card.title),
        r.x,
        r.y,
        r.w,
        r.h,
        kind.fill(),
        kind.dash()
    );
    let mut top = r.y;
    for (class, lines, weight) in [
        (
            "title",
            std::slice::from_ref(&card.title),
            " font-weight=\"bold\"",
        ),
        ("value", card.value.as_slice(), ""),
        ("grad", card.grad.as_slice(), ""),
    ] {
        if class != "title" {
            let _ = writeln!(
                svg,
                "<line x1=\"{}\" y1=\"{top}\" x2=\"{}\" y2=\"{top}\" stroke=\"#333\"/>",
                r.x,
                r.x + r.w
            );
        }
        let _ = write!(
            svg,
            "<text class=\"{class}\"{weight} xml:space=\"preserve\">"
        );
        for (k, line) in lines.iter().enumerate() {
            let _ = write!(
                svg,
                "<tspan x=\"{}\" y=\"{}\">{}</tspan>",
                r.x + PAD_X,
                baseline(top, k),
                escape(line)
            );
        }
        svg.push_str("</text>\n");
        top += lines.len().max(1) as f64 * LINE + PAD_Y;
    }
    svg.push_str("</g>\n");
}

/// The baseline of line `k` of a card's part that starts at `top`.
pub(crate) fn baseline(top: f64, k: usize) -> f64 {
    top + PAD_Y / 2.0 + k as f64 * LINE + 0.75 * LINE
}

/// Escapes text for XML content and attributes.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}
