//! Figures with `plotters`, as PNG or SVG (chosen by the file extension).
//!
//! Text is laid out with the bundled DejaVu Sans (`assets/DejaVuSans.ttf`, compiled into the
//! library), so no system font is needed: a figure renders the same on a bare machine.
//!
//! The lab's figures take plain numbers, not training types, so any experiment can draw them:
//! - [`learning_curve`] and [`accuracy_curve`]: a value per epoch, several runs overlaid;
//! - [`truth_vs_prediction`]: the handout's "Ground truth" and "Predict result" side by side;
//! - [`decision_boundary`]: a model's output shaded over the plane, the points on top;
//! - [`mistakes`]: the predictions with every misclassified point ringed;
//! - [`decision_regions`]: for several classes, the plane shaded by the class a model picks.
//!
//! Class 0 is red ([`CLASS_0_RGB`]) and class 1 blue ([`CLASS_1_RGB`]) throughout; in the
//! two-class figures a label or prediction is class 1 at 0.5 and above, and further classes
//! take the colours of [`CLASSES_RGB`]. Legends sit outside the plotting area, so they never
//! cover data.
//!
//! ```
//! use chainrule::{data, plot, Matrix};
//!
//! let dir = std::env::temp_dir().join(format!("chainrule-plot-doc-{}", std::process::id()));
//! let set = data::xor_easy();
//! // A stand-in for a trained network: class 1 away from the diagonal x0 = x1.
//! let model = |x0: f64, x1: f64| if (x0 - x1).abs() > 0.05 { 0.9 } else { 0.1 };
//! let predicted: Vec<f64> = (0..set.len()).map(|r| model(set.x.row(r)[0], set.x.row(r)[1])).collect();
//!
//! let losses = [0.25, 0.2, 0.12, 0.05, f64::NAN];
//! plot::learning_curve(&dir.join("loss.svg"), "XOR, lr 0.8", &[("sigmoid", &losses[..])], true)?;
//! plot::truth_vs_prediction(&dir.join("xor.png"), &set.x, set.y.as_slice(), &predicted)?;
//! plot::mistakes(&dir.join("mistakes.png"), "XOR", &set.x, set.y.as_slice(), &predicted)?;
//! // The model sees every grid point at once: one forward pass for a network.
//! plot::decision_boundary(&dir.join("boundary.png"), "XOR", &set.x, set.y.as_slice(), |grid: &Matrix| {
//!     (0..grid.rows()).map(|r| model(grid.row(r)[0], grid.row(r)[1])).collect()
//! })?;
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), plot::PlotError>(())
//! ```

use std::error::Error;
use std::fmt;
use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle};

mod boundary;
mod curves;
mod points;
mod regions;
mod scatter;

pub use boundary::decision_boundary;
pub use curves::{accuracy_curve, bar_chart, learning_curve};
pub use points::{mistakes, truth_vs_prediction};
pub use regions::{decision_regions, CLASSES_RGB};

/// The font every figure uses, registered under the family name `"sans-serif"`.
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

fn register_bundled_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if register_font("sans-serif", FontStyle::Normal, FONT).is_err() {
            unreachable!("the bundled DejaVu Sans is a valid TrueType font");
        }
    });
}

/// A figure could not be written: says which file and why.
#[derive(Debug)]
pub struct PlotError {
    message: String,
}

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for PlotError {}

fn error(path: &Path, what: impl fmt::Display) -> PlotError {
    PlotError {
        message: format!("cannot write the figure {}: {what}", path.display()),
    }
}

/// Draws `draw` onto a `width`×`height` PNG or SVG at `path`, by its extension.
fn render(
    path: &Path,
    (width, height): (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), String>,
    draw_png: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<(), String>,
) -> Result<(), PlotError> {
    register_bundled_font();
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    // Checked before any directory is created, so a bad name leaves nothing behind.
    if !matches!(extension.as_deref(), Some("svg" | "png")) {
        return Err(error(path, "the extension must be .png or .svg"));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| error(path, e))?;
    }
    match extension.as_deref() {
        Some("svg") => {
            let area = SVGBackend::new(path, (width, height)).into_drawing_area();
            draw(&area).map_err(|e| error(path, e))?;
            area.present().map_err(|e| error(path, e))
        }
        Some("png") => {
            let area = BitMapBackend::new(path, (width, height)).into_drawing_area();
            draw_png(&area).map_err(|e| error(path, e))?;
            area.present().map_err(|e| error(path, e))
        }
        _ => Err(error(path, "the extension must be .png or .svg")),
    }
}

/// Class 0's colour in the scatter figures (red), as RGB.
pub const CLASS_0_RGB: (u8, u8, u8) = (220, 38, 38);
/// Class 1's colour in the scatter figures (blue), as RGB.
pub const CLASS_1_RGB: (u8, u8, u8) = (37, 99, 235);
/// The colour of a point whose value is not finite (a diverged run's `NaN`), as RGB.
pub const NOT_FINITE_RGB: (u8, u8, u8) = (150, 150, 150);

const fn rgb((r, g, b): (u8, u8, u8)) -> RGBColor {
    RGBColor(r, g, b)
}

const CLASS_0: RGBColor = rgb(CLASS_0_RGB);
const CLASS_1: RGBColor = rgb(CLASS_1_RGB);
const NOT_FINITE: RGBColor = rgb(NOT_FINITE_RGB);

/// The curves' line colours as RGB, in series order (matplotlib's "tab10", easy to tell apart);
/// an eleventh series takes the first colour again.
pub const SERIES_RGB: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

const SERIES_COLORS: [RGBColor; 10] = {
    let mut colors = [RGBColor(0, 0, 0); 10];
    let mut i = 0;
    while i < 10 {
        colors[i] = rgb(SERIES_RGB[i]);
        i += 1;
    }
    colors
};

const TITLE_SIZE: u32 = 24;
const CAPTION_SIZE: u32 = 20;
const AXIS_SIZE: u32 = 16;
const TICK_SIZE: u32 = 14;
const LEGEND_SIZE: u32 = 15;

/// A figure drawn the same way on either backend.
trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

fn render_figure(path: &Path, figure: &impl Figure) -> Result<(), PlotError> {
    render(path, figure.size(), |a| figure.draw(a), |a| figure.draw(a))
}

fn msg<E: Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> String {
    e.to_string()
}

/// A tick value with up to three significant digits, in exponent form when very small or large.
/// `span` is the axis's extent: a tick within rounding error of zero (`-2e-16` from summing
/// steps of 0.2) is zero.
fn tick_label(v: f64, span: f64) -> String {
    let a = v.abs();
    if a <= 1e-9 * span {
        "0".into()
    } else if !(1e-3..1e5).contains(&a) {
        let text = format!("{v:.0e}");
        text.replace("e-", "e−")
    } else {
        let text = format!("{v:.3}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        text.replace('-', "−")
    }
}

// ---- legends, drawn outside the plotting area so they never cover data ----------------------

#[derive(Clone, Copy)]
enum Marker {
    Line(RGBColor),
    Dot(RGBColor),
    Ring,
}

struct LegendEntry {
    label: String,
    marker: Marker,
}

fn entry(label: impl Into<String>, marker: Marker) -> LegendEntry {
    LegendEntry {
        label: label.into(),
        marker,
    }
}

/// Width of a legend swatch plus the gap before its label.
const SWATCH: i32 = 30;

fn draw_marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    marker: Marker,
    (x, y): (i32, i32),
) -> Result<(), String> {
    match marker {
        Marker::Line(color) => area.draw(&PathElement::new(
            vec![(x, y), (x + SWATCH - 8, y)],
            color.stroke_width(3),
        )),
        Marker::Dot(color) => {
            let centre = (x + (SWATCH - 8) / 2, y);
            area.draw(&Circle::new(centre, 6, color.filled()))
                .and_then(|_| area.draw(&Circle::new(centre, 6, BLACK.mix(0.55))))
        }
        Marker::Ring => area.draw(&Circle::new(
            (x + (SWATCH - 8) / 2, y),
            9,
            BLACK.stroke_width(2),
        )),
    }
    .map_err(msg)
}

fn text_width<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
) -> Result<i32, String> {
    let font = ("sans-serif", LEGEND_SIZE).into_text_style(area);
    let (w, _) = area.estimate_text_size(text, &font).map_err(msg)?;
    Ok(w as i32)
}

/// Entries stacked top to bottom, left-aligned in `area`.
fn legend_column<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
) -> Result<(), String> {
    let font = ("sans-serif", LEGEND_SIZE)
        .into_text_style(area)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (i, e) in entries.iter().enumerate() {
        let y = 24 + 26 * i as i32;
        draw_marker(area, e.marker, (8, y))?;
        area.draw_text(&e.label, &font, (8 + SWATCH, y))
            .map_err(msg)?;
    }
    Ok(())
}

/// The width a [`legend_column`] of these entries needs.
fn legend_column_width<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
) -> Result<u32, String> {
    let mut widest = 0;
    for e in entries {
        widest = widest.max(text_width(area, &e.label)?);
    }
    Ok((widest + SWATCH + 24) as u32)
}

/// Entries side by side, centred in `area`.
fn legend_row<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
) -> Result<(), String> {
    const GAP: i32 = 28;
    let mut widths = Vec::with_capacity(entries.len());
    for e in entries {
        widths.push(SWATCH + text_width(area, &e.label)?);
    }
    let total: i32 = widths.iter().sum::<i32>() + GAP * (entries.len() as i32 - 1).max(0);
    let (w, h) = area.dim_in_pixel();
    let font = ("sans-serif", LEGEND_SIZE)
        .into_text_style(area)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let mut x = ((w as i32 - total) / 2).max(4);
    let y = h as i32 / 2;
    for (e, width) in entries.iter().zip(widths) {
        draw_marker(area, e.marker, (x, y))?;
        area.draw_text(&e.label, &font, (x + SWATCH, y))
            .map_err(msg)?;
        x += width + GAP;
    }
    Ok(())
}
