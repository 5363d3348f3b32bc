//! Figures with `plotters`, as PNG or SVG (chosen by the file extension).
//!
//! Text is laid out with the bundled DejaVu Sans (`assets/DejaVuSans.ttf`, compiled into the
//! library), so no system font is needed: a figure renders the same on a bare machine.
//!
//! The lab's figures take plain numbers, not training types, so any experiment can draw them:
//! - [`learning_curve`] and [`accuracy_curve`]: a value per epoch, several runs overlaid;
//! - [`truth_vs_prediction`]: the handout's "Ground truth" and "Predict result" side by side;
//! - [`decision_boundary`]: a model's output shaded over the plane, the points on top;
//! - [`mistakes`]: the predictions with every misclassified point ringed.
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

use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::matrix::Matrix;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle};

/// The font every figure uses, registered under the family name `"sans-serif"`.
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

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

/// A grouped bar chart on a logarithmic value axis (for values spanning orders of magnitude): one
/// group of bars per category, one bar per series, each bar labelled with its value. `series`
/// pairs a name with one positive value per category.
///
/// # Errors
/// If the file cannot be written or its extension is neither `.png` nor `.svg`.
pub fn bar_chart(
    path: &Path,
    title: &str,
    y_label: &str,
    categories: &[String],
    series: &[(&str, Vec<f64>)],
) -> Result<(), PlotError> {
    let draw_svg = |area: &DrawingArea<SVGBackend<'_>, Shift>| {
        draw_bars(area, title, y_label, categories, series)
    };
    let draw_png = |area: &DrawingArea<BitMapBackend<'_>, Shift>| {
        draw_bars(area, title, y_label, categories, series)
    };
    render(path, (900, 500), draw_svg, draw_png)
}

fn draw_bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    categories: &[String],
    series: &[(&str, Vec<f64>)],
) -> Result<(), String> {
    let text = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    area.fill(&WHITE).map_err(text)?;
    let values = || {
        series
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .filter(|v| *v > 0.0)
    };
    let top = values().fold(f64::MIN_POSITIVE, f64::max) * 4.0;
    let bottom = values().fold(f64::MAX, f64::min).min(top / 16.0) / 4.0;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..categories.len() as f64, (bottom..top).log_scale())
        .map_err(text)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(categories.len() * 2 + 1)
        .x_label_formatter(&|x| {
            let i = x.floor() as usize;
            if (x - i as f64 - 0.5).abs() < 1e-6 && i < categories.len() {
                categories[i].clone()
            } else {
                String::new()
            }
        })
        .y_desc(y_label)
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(text)?;
    let width = 0.8 / series.len() as f64;
    for (s, (name, values)) in series.iter().enumerate() {
        let color = Palette99::pick(s).to_rgba();
        let bars = values.iter().enumerate().map(|(i, &v)| {
            let x0 = i as f64 + 0.1 + s as f64 * width;
            Rectangle::new([(x0, bottom), (x0 + width * 0.95, v)], color.filled())
        });
        chart
            .draw_series(bars)
            .map_err(text)?
            .label(*name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
        let labels = values.iter().enumerate().map(|(i, &v)| {
            let x = i as f64 + 0.1 + (s as f64 + 0.3) * width;
            Text::new(format!("{v:.3}"), (x, v * 1.6), ("sans-serif", 13))
        });
        chart.draw_series(labels).map_err(text)?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(text)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The lab's figures: learning and accuracy curves, and scatter plots of 2-D points.
// ---------------------------------------------------------------------------------------------

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

// ---- learning and accuracy curves --------------------------------------------------------

/// How a curve figure's value axis is scaled, and so which values it can show.
#[derive(Clone, Copy, PartialEq)]
enum Scale {
    Linear,
    Log,
    /// Fractions in [0, 1], labelled as percent.
    Fraction,
}

impl Scale {
    fn shows(self, v: f64) -> bool {
        match self {
            Scale::Linear => v.is_finite(),
            Scale::Log => v.is_finite() && v > 0.0,
            Scale::Fraction => (0.0..=1.0).contains(&v),
        }
    }
}

/// Lines longer than this are thinned to the extremes of each stretch, so a figure of a long run
/// stays small (an SVG with a point per epoch of 100 000 epochs would be megabytes) while keeping
/// every spike: the eye sees the same envelope.
const MAX_LINE_POINTS: usize = 4000;

struct Curves<'a> {
    title: &'a str,
    y_label: &'a str,
    scale: Scale,
    series: &'a [(&'a str, &'a [f64])],
}

impl Curves<'_> {
    /// The unbroken stretches of one series that the axis can show, as (epoch, value) with
    /// epochs counted from 1.
    fn stretches(&self, values: &[f64]) -> Vec<Vec<(f64, f64)>> {
        let mut stretches = Vec::new();
        let mut current = Vec::new();
        for (i, &v) in values.iter().enumerate() {
            if self.scale.shows(v) {
                current.push(((i + 1) as f64, v));
            } else if !current.is_empty() {
                stretches.push(std::mem::take(&mut current));
            }
        }
        if !current.is_empty() {
            stretches.push(current);
        }
        stretches.into_iter().map(thin).collect()
    }

    fn x_range(&self) -> std::ops::Range<f64> {
        let longest = self.series.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
        1.0..longest.max(2) as f64
    }

    fn y_range(&self) -> std::ops::Range<f64> {
        let shown = self
            .series
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .filter(|&v| self.scale.shows(v));
        let (lo, hi) = shown.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        match self.scale {
            // A little over 100% so a perfect run's line is not hidden in the frame.
            Scale::Fraction => 0.0..1.02,
            _ if lo > hi => match self.scale {
                Scale::Log => 0.1..1.0,
                _ => 0.0..1.0,
            },
            Scale::Log => {
                // At least one decade, so the axis always has a labelled power of ten.
                let widen = (10.0 / (hi / lo)).max(1.0).sqrt().max(1.2);
                lo / widen..hi * widen
            }
            Scale::Linear => {
                let pad = if hi > lo {
                    0.05 * (hi - lo)
                } else {
                    0.5 * hi.abs().max(1.0)
                };
                let bottom = if lo >= 0.0 {
                    (lo - pad).max(0.0)
                } else {
                    lo - pad
                };
                bottom..hi + pad
            }
        }
    }

    /// The legend: each series' name, marked where it stopped being finite (a diverged run).
    fn legend(&self) -> Vec<LegendEntry> {
        self.series
            .iter()
            .enumerate()
            .map(|(s, (name, values))| {
                let label = match values.iter().position(|v| !v.is_finite()) {
                    Some(i) => format!("{name} (not finite from epoch {})", i + 1),
                    None => (*name).to_string(),
                };
                entry(label, Marker::Line(SERIES_COLORS[s % SERIES_COLORS.len()]))
            })
            .collect()
    }

    fn draw_lines<DB: DrawingBackend, Y>(
        &self,
        chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, Y>>,
    ) -> Result<(), String>
    where
        Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        let percent = |y: &f64| format!("{:.0}%", y * 100.0);
        let span = {
            let range = chart.y_range();
            range.end - range.start
        };
        let label = |y: &f64| tick_label(*y, span);
        let epoch = |x: &f64| {
            if x.fract() == 0.0 {
                format!("{x:.0}")
            } else {
                String::new()
            }
        };
        let y_format: &dyn Fn(&f64) -> String = match self.scale {
            Scale::Fraction => &percent,
            _ => &label,
        };
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc(self.y_label)
            .x_labels(10)
            .y_labels(10)
            .x_label_formatter(&epoch)
            .y_label_formatter(y_format)
            .axis_desc_style(("sans-serif", AXIS_SIZE))
            .label_style(("sans-serif", TICK_SIZE))
            .light_line_style(BLACK.mix(0.04))
            .draw()
            .map_err(msg)?;
        for (s, (_, values)) in self.series.iter().enumerate() {
            let color = SERIES_COLORS[s % SERIES_COLORS.len()];
            let stretches = self.stretches(values);
            // A short run gets a dot per epoch, so single epochs between gaps stay visible.
            let dots = values.len() <= 60;
            for stretch in stretches {
                if dots {
                    let marks = stretch.iter().map(|&p| Circle::new(p, 3, color.filled()));
                    chart.draw_series(marks).map_err(msg)?;
                }
                chart
                    .draw_series(LineSeries::new(stretch, color.stroke_width(2)))
                    .map_err(msg)?;
            }
        }
        Ok(())
    }
}

/// Keeps at most about [`MAX_LINE_POINTS`] points: each stretch of consecutive points is replaced
/// by its lowest and highest, in their original order.
fn thin(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    if points.len() <= MAX_LINE_POINTS {
        return points;
    }
    let chunk = points.len().div_ceil(MAX_LINE_POINTS / 2);
    let mut kept = Vec::with_capacity(MAX_LINE_POINTS + 2);
    for stretch in points.chunks(chunk) {
        let lowest = (0..stretch.len()).min_by(|&a, &b| stretch[a].1.total_cmp(&stretch[b].1));
        let highest = (0..stretch.len()).max_by(|&a, &b| stretch[a].1.total_cmp(&stretch[b].1));
        if let (Some(lo), Some(hi)) = (lowest, highest) {
            kept.push(stretch[lo.min(hi)]);
            if lo != hi {
                kept.push(stretch[lo.max(hi)]);
            }
        }
    }
    kept
}

impl Figure for Curves<'_> {
    fn size(&self) -> (u32, u32) {
        (960, 540)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        area.fill(&WHITE).map_err(msg)?;
        let body = area
            .titled(self.title, ("sans-serif", TITLE_SIZE))
            .map_err(msg)?;
        let legend = self.legend();
        let legend_width = legend_column_width(&body, &legend)?;
        let (plot_width, _) = body.dim_in_pixel();
        let (plot, side) = body.split_horizontally(plot_width.saturating_sub(legend_width));
        legend_column(&side, &legend)?;
        let mut builder = ChartBuilder::on(&plot);
        builder
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(72);
        if self.scale == Scale::Log {
            let mut chart = builder
                .build_cartesian_2d(self.x_range(), self.y_range().log_scale())
                .map_err(msg)?;
            self.draw_lines(&mut chart)
        } else {
            let mut chart = builder
                .build_cartesian_2d(self.x_range(), self.y_range())
                .map_err(msg)?;
            self.draw_lines(&mut chart)
        }
    }
}

/// Loss against epoch, one line per named series, so several runs can be overlaid.
///
/// `series[k].1[i]` is run `k`'s loss after epoch `i + 1`. Series may differ in length (a run
/// that stopped early). Values the axis cannot show leave a gap in their line instead of
/// stretching the axis: non-finite ones (a diverged run's `NaN`, whose legend entry then says
/// from which epoch) and, when `log_y`, zero and negative ones. Very long series are thinned to
/// each stretch's extremes, keeping spikes.
///
/// # Errors
/// If the file cannot be written or its extension is neither `.png` nor `.svg`.
pub fn learning_curve(
    path: &Path,
    title: &str,
    series: &[(&str, &[f64])],
    log_y: bool,
) -> Result<(), PlotError> {
    let scale = if log_y { Scale::Log } else { Scale::Linear };
    render_figure(
        path,
        &Curves {
            title,
            y_label: "loss",
            scale,
            series,
        },
    )
}

/// Accuracy against epoch, one line per named series; accuracies are fractions in `[0, 1]`, and
/// the axis labels them as percent.
///
/// `series[k].1[i]` is run `k`'s accuracy after epoch `i + 1`. Values outside `[0, 1]` (or not
/// finite) leave a gap in their line; a series with a non-finite value says from which epoch in
/// the legend.
///
/// # Errors
/// If the file cannot be written or its extension is neither `.png` nor `.svg`.
pub fn accuracy_curve(
    path: &Path,
    title: &str,
    series: &[(&str, &[f64])],
) -> Result<(), PlotError> {
    render_figure(
        path,
        &Curves {
            title,
            y_label: "accuracy",
            scale: Scale::Fraction,
            series,
        },
    )
}

// ---- scatter plots of 2-D points -----------------------------------------------------------

/// The class a label or prediction stands for: 1 at 0.5 and above, 0 below, none if not finite.
fn class_of(value: f64) -> Option<bool> {
    value.is_finite().then_some(value >= 0.5)
}

fn class_color(class: Option<bool>) -> RGBColor {
    match class {
        Some(false) => CLASS_0,
        Some(true) => CLASS_1,
        None => NOT_FINITE,
    }
}

/// Panics unless `x` is n×2 and every slice in `per_point` has n entries: a programmer error.
fn check_points(figure: &str, x: &Matrix, per_point: &[(&str, &[f64])]) {
    assert!(
        x.cols() == 2,
        "plot::{figure}: x must be n×2 (one point per row), got {}×{}",
        x.rows(),
        x.cols()
    );
    for (name, values) in per_point {
        assert!(
            values.len() == x.rows(),
            "plot::{figure}: x has {} points but {name} has {} values",
            x.rows(),
            values.len()
        );
    }
}

/// The points' bounding box with a margin of 8% on every side (a unit box if there are none).
fn frame_of(x: &Matrix) -> (std::ops::Range<f64>, std::ops::Range<f64>) {
    let axis = |c: usize| {
        let values = (0..x.rows()).map(|r| x.row(r)[c]).filter(|v| v.is_finite());
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        if lo > hi {
            return 0.0..1.0;
        }
        let pad = if hi > lo { 0.08 * (hi - lo) } else { 0.5 };
        lo - pad..hi + pad
    };
    (axis(0), axis(1))
}

/// Bigger dots for fewer points: 21 points need to be seen, 2000 must not merge into a blob.
fn dot_radius(n: usize) -> u32 {
    match n {
        0..=100 => 6,
        101..=400 => 5,
        401..=1500 => 4,
        _ => 3,
    }
}

/// Space around a scatter chart, and under it for the x axis: the colour bar beside a decision
/// boundary lines up with its plotting area through these.
const SCATTER_MARGIN: u32 = 12;
const SCATTER_X_LABELS: u32 = 44;

type ScatterChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Axes over `x`'s frame, with `caption` above them.
fn scatter_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    caption: Option<&str>,
    x: &Matrix,
) -> Result<ScatterChart<'a, DB>, String> {
    let (x_range, y_range) = frame_of(x);
    let (x_span, y_span) = (x_range.end - x_range.start, y_range.end - y_range.start);
    let mut builder = ChartBuilder::on(area);
    builder
        .margin(SCATTER_MARGIN)
        .x_label_area_size(SCATTER_X_LABELS)
        .y_label_area_size(64);
    if let Some(caption) = caption {
        builder.caption(caption, ("sans-serif", CAPTION_SIZE));
    }
    let mut chart = builder.build_cartesian_2d(x_range, y_range).map_err(msg)?;
    let x_label = |v: &f64| tick_label(*v, x_span);
    let y_label = |v: &f64| tick_label(*v, y_span);
    chart
        .configure_mesh()
        .x_desc("x0")
        .y_desc("x1")
        .x_labels(8)
        .y_labels(8)
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .axis_desc_style(("sans-serif", AXIS_SIZE))
        .label_style(("sans-serif", TICK_SIZE))
        .light_line_style(BLACK.mix(0.04))
        .draw()
        .map_err(msg)?;
    Ok(chart)
}

/// One dot per point of `x`, filled with its colour and outlined so it stands out on any shade.
fn draw_dots<DB: DrawingBackend>(
    chart: &mut ScatterChart<'_, DB>,
    x: &Matrix,
    color: impl Fn(usize) -> RGBColor,
) -> Result<(), String> {
    let radius = dot_radius(x.rows());
    let point = |r: usize| (x.row(r)[0], x.row(r)[1]);
    let fills = (0..x.rows()).map(|r| Circle::new(point(r), radius, color(r).filled()));
    chart.draw_series(fills).map_err(msg)?;
    let outlines = (0..x.rows()).map(|r| Circle::new(point(r), radius, BLACK.mix(0.55)));
    chart.draw_series(outlines).map_err(msg)?;
    Ok(())
}

/// The legend entries for dots coloured by class, naming each class `{prefix}0` / `{prefix}1`,
/// with an entry for non-finite values only if there are any.
fn class_legend(prefix: &str, values: &[&[f64]]) -> Vec<LegendEntry> {
    let mut entries = vec![
        entry(format!("{prefix}0"), Marker::Dot(CLASS_0)),
        entry(format!("{prefix}1"), Marker::Dot(CLASS_1)),
    ];
    if values.iter().any(|v| v.iter().any(|v| !v.is_finite())) {
        entries.push(entry("not finite", Marker::Dot(NOT_FINITE)));
    }
    entries
}

/// Height of the strip under a scatter figure that holds its legend.
const LEGEND_ROW_HEIGHT: u32 = 44;

struct TruthVsPrediction<'a> {
    x: &'a Matrix,
    truth: &'a [f64],
    predicted: &'a [f64],
}

impl Figure for TruthVsPrediction<'_> {
    fn size(&self) -> (u32, u32) {
        (1120, 600)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        area.fill(&WHITE).map_err(msg)?;
        let (_, h) = area.dim_in_pixel();
        let (panels, legend) = area.split_vertically(h - LEGEND_ROW_HEIGHT);
        let (left, right) = panels.split_horizontally(self.size().0 / 2);
        let sides = [
            (left, "Ground truth", self.truth),
            (right, "Predict result", self.predicted),
        ];
        for (panel, caption, labels) in &sides {
            let mut chart = scatter_chart(panel, Some(caption), self.x)?;
            draw_dots(&mut chart, self.x, |r| class_color(class_of(labels[r])))?;
        }
        legend_row(
            &legend,
            &class_legend("class ", &[self.truth, self.predicted]),
        )
    }
}

/// The lab's two scatter plots side by side: "Ground truth" (points coloured by `truth`) and
/// "Predict result" (coloured by `predicted`), class 0 red and class 1 blue, with a legend.
///
/// `x` is n×2, one point per row; `truth` and `predicted` have n values each, read as class 1 at
/// 0.5 and above (so raw sigmoid outputs can be passed as they are). A non-finite prediction is
/// drawn grey.
///
/// # Errors
/// If the file cannot be written or its extension is neither `.png` nor `.svg`.
///
/// # Panics
/// If `x` is not n×2 or `truth` or `predicted` does not have n values.
pub fn truth_vs_prediction(
    path: &Path,
    x: &Matrix,
    truth: &[f64],
    predicted: &[f64],
) -> Result<(), PlotError> {
    check_points(
        "truth_vs_prediction",
        x,
        &[("truth", truth), ("predicted", predicted)],
    );
    render_figure(
        path,
        &TruthVsPrediction {
            x,
            truth,
            predicted,
        },
    )
}

struct Mistakes<'a> {
    title: &'a str,
    x: &'a Matrix,
    truth: &'a [f64],
    predicted: &'a [f64],
}

impl Mistakes<'_> {
    /// Whether point `r` is misclassified; a non-finite prediction is always wrong.
    fn wrong(&self, r: usize) -> bool {
        let predicted = class_of(self.predicted[r]);
        predicted.is_none() || predicted != class_of(self.truth[r])
    }
}

impl Figure for Mistakes<'_> {
    fn size(&self) -> (u32, u32) {
        (760, 780)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        area.fill(&WHITE).map_err(msg)?;
        let body = area
            .titled(self.title, ("sans-serif", TITLE_SIZE))
            .map_err(msg)?;
        let (_, h) = body.dim_in_pixel();
        let (plot, legend) = body.split_vertically(h - LEGEND_ROW_HEIGHT);
        let mut chart = scatter_chart(&plot, None, self.x)?;
        draw_dots(&mut chart, self.x, |r| {
            class_color(class_of(self.predicted[r]))
        })?;
        let wrong: Vec<usize> = (0..self.x.rows()).filter(|&r| self.wrong(r)).collect();
        let ring = dot_radius(self.x.rows()) + 5;
        let rings = wrong.iter().map(|&r| {
            Circle::new(
                (self.x.row(r)[0], self.x.row(r)[1]),
                ring,
                BLACK.stroke_width(2),
            )
        });
        chart.draw_series(rings).map_err(msg)?;
        let mut entries = class_legend("predicted ", &[self.predicted]);
        let count = format!("misclassified: {} of {}", wrong.len(), self.x.rows());
        entries.push(entry(count, Marker::Ring));
        legend_row(&legend, &entries)
    }
}

/// The predictions as dots coloured by predicted class (red 0, blue 1), with every
/// misclassified point ringed in black and the legend counting them ("misclassified: k of n").
///
/// `x` is n×2, one point per row; `truth` and `predicted` have n values each, read as class 1 at
/// 0.5 and above. A non-finite prediction is drawn grey and counts as a mistake.
///
/// # Errors
/// If the file cannot be written or its extension is neither `.png` nor `.svg`.
///
/// # Panics
/// If `x` is not n×2 or `truth` or `predicted` does not have n values.
pub fn mistakes(
    path: &Path,
    title: &str,
    x: &Matrix,
    truth: &[f64],
    predicted: &[f64],
) -> Result<(), PlotError> {
    check_points("mistakes", x, &[("truth", truth), ("predicted", predicted)]);
    render_figure(
        path,
        &Mistakes {
            title,
            x,
            truth,
            predicted,
        },
    )
}

// ---- decision boundary ---------------------------------------------------------------------

/// Cells per side of the grid a decision boundary's model is evaluated on.
const GRID: usize = 150;
/// The shading has this many bands from 0 to 1, so it reads like a contour map.
const BANDS: usize = 20;
/// How strongly a fully confident cell is tinted: light enough for the dots to stand out.
const MAX_TINT: f64 = 0.45;
const NOT_FINITE_SHADE: RGBColor = RGBColor(215, 215, 215);

/// The model's outputs over a [`GRID`]×[`GRID`] grid of cell centres covering a frame.
struct Field {
    x_range: std::ops::Range<f64>,
    y_range: std::ops::Range<f64>,
    /// Row-major from the bottom: cell `(i, j)` (column `i`, row `j`) at `j * GRID + i`.
    values: Vec<f64>,
}

impl Field {
    fn cell(&self) -> (f64, f64) {
        let dx = (self.x_range.end - self.x_range.start) / GRID as f64;
        let dy = (self.y_range.end - self.y_range.start) / GRID as f64;
        (dx, dy)
    }

    /// The centres of all cells, n×2 in the order of `values`.
    fn centres(x_range: &std::ops::Range<f64>, y_range: &std::ops::Range<f64>) -> Matrix {
        let dx = (x_range.end - x_range.start) / GRID as f64;
        let dy = (y_range.end - y_range.start) / GRID as f64;
        Matrix::from_fn(GRID * GRID, 2, |k, c| {
            let (i, j) = (k % GRID, k / GRID);
            match c {
                0 => x_range.start + (i as f64 + 0.5) * dx,
                _ => y_range.start + (j as f64 + 0.5) * dy,
            }
        })
    }

    fn centre(&self, i: usize, j: usize) -> (f64, f64) {
        let (dx, dy) = self.cell();
        (
            self.x_range.start + (i as f64 + 0.5) * dx,
            self.y_range.start + (j as f64 + 0.5) * dy,
        )
    }

    /// The shading as rectangles: runs of equal band along each row are one rectangle, which
    /// keeps an SVG small (most of a row is far from the boundary and one band).
    fn shading(&self) -> Vec<Rectangle<(f64, f64)>> {
        let (dx, dy) = self.cell();
        let mut cells = Vec::new();
        for j in 0..GRID {
            let row = &self.values[j * GRID..(j + 1) * GRID];
            let y0 = self.y_range.start + j as f64 * dy;
            let mut start = 0;
            for i in 1..=GRID {
                if i < GRID && band(row[i]) == band(row[start]) {
                    continue;
                }
                let x0 = self.x_range.start + start as f64 * dx;
                let x1 = self.x_range.start + i as f64 * dx;
                let color = shade(band(row[start]));
                cells.push(Rectangle::new([(x0, y0), (x1, y0 + dy)], color.filled()));
                start = i;
            }
        }
        cells
    }

    /// The level-0.5 contour by marching squares over the cell centres: one or two segments per
    /// square of four centres whose classes differ, each end placed on a square's edge by linear
    /// interpolation.
    fn boundary(&self) -> Vec<[(f64, f64); 2]> {
        let mut segments = Vec::new();
        for j in 0..GRID - 1 {
            for i in 0..GRID - 1 {
                let corners = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)];
                let v = corners.map(|(i, j)| self.values[j * GRID + i]);
                if v.iter().any(|v| !v.is_finite()) {
                    continue;
                }
                let crossing = |e: usize| {
                    let (a, b) = (e, (e + 1) % 4);
                    if (v[a] >= 0.5) == (v[b] >= 0.5) {
                        return None;
                    }
                    let t = (0.5 - v[a]) / (v[b] - v[a]);
                    let (pa, pb) = (
                        self.centre(corners[a].0, corners[a].1),
                        self.centre(corners[b].0, corners[b].1),
                    );
                    Some((pa.0 + t * (pb.0 - pa.0), pa.1 + t * (pb.1 - pa.1)))
                };
                let ends: Vec<(usize, (f64, f64))> =
                    (0..4).filter_map(|e| crossing(e).map(|p| (e, p))).collect();
                match ends.as_slice() {
                    [(_, p), (_, q)] => segments.push([*p, *q]),
                    [(_, p0), (_, p1), (_, p2), (_, p3)] => {
                        // A saddle: the mean of the corners says whether corner 0 joins the
                        // centre (cut off corners 1 and 3) or not (cut off corners 0 and 2).
                        let mean = v.iter().sum::<f64>() / 4.0;
                        if (mean >= 0.5) == (v[0] >= 0.5) {
                            segments.push([*p0, *p1]);
                            segments.push([*p2, *p3]);
                        } else {
                            segments.push([*p3, *p0]);
                            segments.push([*p1, *p2]);
                        }
                    }
                    _ => {}
                }
            }
        }
        segments
    }
}

/// Which of the [`BANDS`] a model output falls in (outputs are clamped to `[0, 1]`).
fn band(value: f64) -> Option<usize> {
    value
        .is_finite()
        .then(|| ((value.clamp(0.0, 1.0) * BANDS as f64) as usize).min(BANDS - 1))
}

/// Red for 0 through white at 0.5 to blue for 1, at the centre of the band.
fn shade(band: Option<usize>) -> RGBColor {
    let Some(band) = band else {
        return NOT_FINITE_SHADE;
    };
    let p = (band as f64 + 0.5) / BANDS as f64;
    let (end, strength) = if p < 0.5 {
        (CLASS_0, (0.5 - p) * 2.0)
    } else {
        (CLASS_1, (p - 0.5) * 2.0)
    };
    let tint = strength * MAX_TINT;
    let mix = |c: u8| (255.0 + (f64::from(c) - 255.0) * tint).round() as u8;
    RGBColor(mix(end.0), mix(end.1), mix(end.2))
}

struct DecisionBoundary<'a> {
    title: &'a str,
    x: &'a Matrix,
    labels: &'a [f64],
    field: Field,
}

/// Width of the colour bar's strip at the right of a decision boundary.
const COLOR_BAR_WIDTH: u32 = 110;

impl DecisionBoundary<'_> {
    /// The key to the shading: every band, and the outputs it stands for, drawn in pixels so
    /// the bar spans exactly the height of the plotting area beside it.
    fn color_bar<DB: DrawingBackend>(&self, strip: &DrawingArea<DB, Shift>) -> Result<(), String> {
        const LEFT: i32 = 14;
        const WIDTH: i32 = 18;
        let (_, h) = strip.dim_in_pixel();
        let top = SCATTER_MARGIN as i32;
        let bottom = h as i32 - (SCATTER_MARGIN + SCATTER_X_LABELS) as i32;
        let y_of = |p: f64| bottom - (p * f64::from(bottom - top)).round() as i32;
        for b in 0..BANDS {
            let (p0, p1) = (b as f64 / BANDS as f64, (b + 1) as f64 / BANDS as f64);
            let cell = [(LEFT, y_of(p1)), (LEFT + WIDTH, y_of(p0))];
            strip
                .draw(&Rectangle::new(cell, shade(Some(b)).filled()))
                .map_err(msg)?;
        }
        let frame = [(LEFT, top), (LEFT + WIDTH, bottom)];
        strip.draw(&Rectangle::new(frame, BLACK)).map_err(msg)?;
        let font = ("sans-serif", TICK_SIZE)
            .into_text_style(strip)
            .pos(Pos::new(HPos::Left, VPos::Center));
        for tick in [0.0, 0.25, 0.5, 0.75, 1.0] {
            let y = y_of(tick);
            let width = if tick == 0.5 { 2 } else { 1 };
            let (from, to) = if tick == 0.5 {
                (LEFT, LEFT + WIDTH + 5)
            } else {
                (LEFT + WIDTH, LEFT + WIDTH + 5)
            };
            strip
                .draw(&PathElement::new(
                    vec![(from, y), (to, y)],
                    BLACK.stroke_width(width),
                ))
                .map_err(msg)?;
            strip
                .draw_text(&tick_label(tick, 1.0), &font, (LEFT + WIDTH + 8, y))
                .map_err(msg)?;
        }
        let desc = ("sans-serif", AXIS_SIZE)
            .into_text_style(strip)
            .transform(FontTransform::Rotate90)
            .pos(Pos::new(HPos::Center, VPos::Center));
        strip
            .draw_text(
                "model output",
                &desc,
                (LEFT + WIDTH + 62, (top + bottom) / 2),
            )
            .map_err(msg)
    }
}

impl Figure for DecisionBoundary<'_> {
    fn size(&self) -> (u32, u32) {
        (860, 780)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        area.fill(&WHITE).map_err(msg)?;
        let body = area
            .titled(self.title, ("sans-serif", TITLE_SIZE))
            .map_err(msg)?;
        let (w, h) = body.dim_in_pixel();
        let (top, legend) = body.split_vertically(h - LEGEND_ROW_HEIGHT);
        let (plot, strip) = top.split_horizontally(w - COLOR_BAR_WIDTH);
        let mut chart = scatter_chart(&plot, None, self.x)?;
        chart.draw_series(self.field.shading()).map_err(msg)?;
        let boundary = self.field.boundary().into_iter();
        let lines = boundary.map(|s| PathElement::new(s.to_vec(), BLACK.stroke_width(2)));
        chart.draw_series(lines).map_err(msg)?;
        draw_dots(&mut chart, self.x, |r| {
            class_color(class_of(self.labels[r]))
        })?;
        // The shading covers the grid lines; redraw the frame around it.
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(0)
            .y_labels(0)
            .draw()
            .map_err(msg)?;
        self.color_bar(&strip)?;
        let mut entries = class_legend("class ", &[self.labels]);
        entries.push(entry("model output 0.5", Marker::Line(BLACK)));
        if self.field.values.iter().any(|v| !v.is_finite()) {
            entries.push(entry("output not finite", Marker::Dot(NOT_FINITE_SHADE)));
        }
        legend_row(&legend, &entries)
    }
}

/// The model's output shaded over the plane behind the labelled points: red where it is near
/// 0, white at 0.5, blue near 1, with the 0.5 contour (the decision boundary) drawn in black,
/// a colour bar as the key, and the points on top coloured by label (class 1 at 0.5 and above).
///
/// The shaded region is the points' bounding box with an 8% margin, cut into a 150×150 grid.
/// `model` is called once, with all 22 500 cell centres as an n×2 [`Matrix`] (one point per
/// row), and returns one output per row, read as the probability of class 1 (clamped to
/// `[0, 1]`; a non-finite output is shaded grey). One batch call is one forward pass of a
/// network over a matrix instead of 22 500 small ones; a per-point function fits too:
/// `|grid: &Matrix| (0..grid.rows()).map(|r| f(grid.row(r)[0], grid.row(r)[1])).collect()`.
///
/// # Errors
/// If the file cannot be written or its extension is neither `.png` nor `.svg`.
///
/// # Panics
/// If `x` is not n×2, `labels` does not have n values, or `model` returns other than one value
/// per grid point.
pub fn decision_boundary(
    path: &Path,
    title: &str,
    x: &Matrix,
    labels: &[f64],
    model: impl FnOnce(&Matrix) -> Vec<f64>,
) -> Result<(), PlotError> {
    check_points("decision_boundary", x, &[("labels", labels)]);
    let (x_range, y_range) = frame_of(x);
    let values = model(&Field::centres(&x_range, &y_range));
    assert!(
        values.len() == GRID * GRID,
        "plot::decision_boundary: the model returned {} outputs for {} grid points",
        values.len(),
        GRID * GRID
    );
    let field = Field {
        x_range,
        y_range,
        values,
    };
    render_figure(
        path,
        &DecisionBoundary {
            title,
            x,
            labels,
            field,
        },
    )
}

// ---- decision regions: several classes -----------------------------------------------------

/// The colour of class `k` in [`decision_regions`], as RGB: class 0 red and class 1 blue as in
/// the two-class figures, then green, orange, purple, brown, pink, olive, cyan and navy (from
/// matplotlib's "tab10"); class 10 takes class 0's colour again, and so on.
pub const CLASSES_RGB: [(u8, u8, u8); 10] = [
    CLASS_0_RGB,
    CLASS_1_RGB,
    (44, 160, 44),
    (255, 127, 14),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (188, 189, 34),
    (23, 190, 207),
    (31, 60, 120),
];

/// How strongly a region is tinted with its class's colour: light, so the dots stand out.
const REGION_TINT: f64 = 0.3;

/// The colour of class `k` ([`CLASSES_RGB`], repeating past ten).
fn class_k(k: usize) -> RGBColor {
    rgb(CLASSES_RGB[k % CLASSES_RGB.len()])
}

/// The class a label stands for, if it is a whole number ≥ 0.
fn class_index(label: f64) -> Option<usize> {
    (label >= 0.0 && label.fract() == 0.0).then_some(label as usize)
}

/// `c` mixed with white, keeping [`REGION_TINT`] of it.
fn tinted(c: RGBColor) -> RGBColor {
    let mix = |v: u8| (255.0 + (f64::from(v) - 255.0) * REGION_TINT).round() as u8;
    RGBColor(mix(c.0), mix(c.1), mix(c.2))
}

/// The class the model picks at each cell of a [`GRID`]×[`GRID`] grid over a frame.
struct Regions {
    x_range: std::ops::Range<f64>,
    y_range: std::ops::Range<f64>,
    /// Row-major from the bottom, as [`Field::values`].
    classes: Vec<usize>,
}

impl Regions {
    fn cell(&self) -> (f64, f64) {
        let dx = (self.x_range.end - self.x_range.start) / GRID as f64;
        let dy = (self.y_range.end - self.y_range.start) / GRID as f64;
        (dx, dy)
    }

    /// Each row's runs of one class as one tinted rectangle (a small SVG, as for [`Field`]).
    fn shading(&self) -> Vec<Rectangle<(f64, f64)>> {
        let (dx, dy) = self.cell();
        let mut cells = Vec::new();
        for j in 0..GRID {
            let row = &self.classes[j * GRID..(j + 1) * GRID];
            let y0 = self.y_range.start + j as f64 * dy;
            let mut start = 0;
            for i in 1..=GRID {
                if i < GRID && row[i] == row[start] {
                    continue;
                }
                let x0 = self.x_range.start + start as f64 * dx;
                let x1 = self.x_range.start + i as f64 * dx;
                let color = tinted(class_k(row[start]));
                cells.push(Rectangle::new([(x0, y0), (x1, y0 + dy)], color.filled()));
                start = i;
            }
        }
        cells
    }

    /// The borders between regions: a cell edge wherever the two cells it separates differ.
    fn borders(&self) -> Vec<[(f64, f64); 2]> {
        let (dx, dy) = self.cell();
        let (x, y) = (
            |i: usize| self.x_range.start + i as f64 * dx,
            |j: usize| self.y_range.start + j as f64 * dy,
        );
        let at = |i: usize, j: usize| self.classes[j * GRID + i];
        let mut segments = Vec::new();
        for j in 0..GRID {
            for i in 0..GRID {
                if i + 1 < GRID && at(i, j) != at(i + 1, j) {
                    segments.push([(x(i + 1), y(j)), (x(i + 1), y(j + 1))]);
                }
                if j + 1 < GRID && at(i, j) != at(i, j + 1) {
                    segments.push([(x(i), y(j + 1)), (x(i + 1), y(j + 1))]);
                }
            }
        }
        segments
    }
}

struct DecisionRegions<'a> {
    title: &'a str,
    x: &'a Matrix,
    labels: &'a [f64],
    regions: Regions,
    /// Classes 0..count appear in the legend: every label's and every predicted class.
    count: usize,
}

impl Figure for DecisionRegions<'_> {
    fn size(&self) -> (u32, u32) {
        (760, 780)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        area.fill(&WHITE).map_err(msg)?;
        let body = area
            .titled(self.title, ("sans-serif", TITLE_SIZE))
            .map_err(msg)?;
        let (_, h) = body.dim_in_pixel();
        let (plot, legend) = body.split_vertically(h - LEGEND_ROW_HEIGHT);
        let mut chart = scatter_chart(&plot, None, self.x)?;
        chart.draw_series(self.regions.shading()).map_err(msg)?;
        let borders = self.regions.borders().into_iter();
        let lines = borders.map(|s| PathElement::new(s.to_vec(), BLACK.mix(0.6)));
        chart.draw_series(lines).map_err(msg)?;
        draw_dots(&mut chart, self.x, |r| match class_index(self.labels[r]) {
            Some(k) => class_k(k),
            None => NOT_FINITE,
        })?;
        // The shading covers the grid lines; redraw the frame around it.
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(0)
            .y_labels(0)
            .draw()
            .map_err(msg)?;
        let mut entries: Vec<LegendEntry> = (0..self.count)
            .map(|k| entry(format!("class {k}"), Marker::Dot(class_k(k))))
            .collect();
        if self.labels.iter().any(|&l| class_index(l).is_none()) {
            entries.push(entry("not a class", Marker::Dot(NOT_FINITE)));
        }
        legend_row(&legend, &entries)
    }
}

/// Several classes: the plane shaded by the class a model picks (each class's colour, light),
/// the borders between regions drawn, and the points on top coloured by label. Class `k` has
/// colour [`CLASSES_RGB`]`[k]`.
///
/// `x` is n×2, one point per row, and `labels` holds each point's class index (`0.0, 1.0, …`,
/// as [`Dataset::y`](crate::data::Dataset::y) does; a label that is not a whole number ≥ 0 is
/// drawn grey). The shaded region is the points' bounding box with an 8% margin, cut into a
/// 150×150 grid; `model` is called once with all 22 500 cell centres as an n×2 [`Matrix`] and
/// returns the class it picks for each, e.g. the arg-max of a network's outputs.
///
/// ```
/// use chainrule::{data, plot, Matrix};
///
/// let dir = std::env::temp_dir().join(format!("chainrule-regions-doc-{}", std::process::id()));
/// let set = data::spiral(50, 3, 1);
/// // A stand-in for a trained network: the class of the nearest point.
/// let nearest = |p: &[f64]| {
///     let d = |r: usize| (set.x[(r, 0)] - p[0]).powi(2) + (set.x[(r, 1)] - p[1]).powi(2);
///     let r = (0..set.len()).min_by(|&a, &b| d(a).total_cmp(&d(b))).unwrap();
///     set.y[(r, 0)] as usize
/// };
/// plot::decision_regions(&dir.join("spiral.png"), "spiral", &set.x, set.y.as_slice(), |grid: &Matrix| {
///     (0..grid.rows()).map(|r| nearest(grid.row(r))).collect()
/// })?;
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), plot::PlotError>(())
/// ```
///
/// # Errors
/// If the file cannot be written or its extension is neither `.png` nor `.svg`.
///
/// # Panics
/// If `x` is not n×2, `labels` does not have n values, or `model` returns other than one class
/// per grid point.
pub fn decision_regions(
    path: &Path,
    title: &str,
    x: &Matrix,
    labels: &[f64],
    model: impl FnOnce(&Matrix) -> Vec<usize>,
) -> Result<(), PlotError> {
    check_points("decision_regions", x, &[("labels", labels)]);
    let (x_range, y_range) = frame_of(x);
    let classes = model(&Field::centres(&x_range, &y_range));
    assert!(
        classes.len() == GRID * GRID,
        "plot::decision_regions: the model returned {} classes for {} grid points",
        classes.len(),
        GRID * GRID
    );
    let labelled = labels.iter().filter_map(|&l| class_index(l));
    let count = labelled
        .chain(classes.iter().copied())
        .max()
        .map_or(0, |k| k + 1);
    let regions = Regions {
        x_range,
        y_range,
        classes,
    };
    render_figure(
        path,
        &DecisionRegions {
            title,
            x,
            labels,
            regions,
            count,
        },
    )
}
