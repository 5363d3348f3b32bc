//! What the scatter figures of 2-D points share: a point's class and colour, the frame around
//! the points, the chart, the dots and the class legend.

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::matrix::Matrix;

use super::{
    entry, msg, tick_label, LegendEntry, Marker, AXIS_SIZE, CAPTION_SIZE, CLASS_0, CLASS_1,
    NOT_FINITE, TICK_SIZE,
};

/// The class a label or prediction stands for: 1 at 0.5 and above, 0 below, none if not finite.
pub(super) fn class_of(value: f64) -> Option<bool> {
    value.is_finite().then_some(value >= 0.5)
}

pub(super) fn class_color(class: Option<bool>) -> RGBColor {
    match class {
        Some(false) => CLASS_0,
        Some(true) => CLASS_1,
        None => NOT_FINITE,
    }
}

/// Panics unless `x` is n×2 and every slice in `per_point` has n entries: a programmer error.
pub(super) fn check_points(figure: &str, x: &Matrix, per_point: &[(&str, &[f64])]) {
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
pub(super) fn frame_of(x: &Matrix) -> (std::ops::Range<f64>, std::ops::Range<f64>) {
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
pub(super) fn dot_radius(n: usize) -> u32 {
    match n {
        0..=100 => 6,
        101..=400 => 5,
        401..=1500 => 4,
        _ => 3,
    }
}

/// Space around a scatter chart, and under it for the x axis: the colour bar beside a decision
/// boundary lines up with its plotting area through these.
pub(super) const SCATTER_MARGIN: u32 = 12;
pub(super) const SCATTER_X_LABELS: u32 = 44;

pub(super) type ScatterChart<'a, DB> =
    ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Axes over `x`'s frame, with `caption` above them.
pub(super) fn scatter_chart<'a, DB: DrawingBackend>(
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
pub(super) fn draw_dots<DB: DrawingBackend>(
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
pub(super) fn class_legend(prefix: &str, values: &[&[f64]]) -> Vec<LegendEntry> {
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
pub(super) const LEGEND_ROW_HEIGHT: u32 = 44;
