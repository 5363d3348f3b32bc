//! [`decision_regions`]: for several classes, the plane shaded by the class a model picks, the
//! points on top in their classes' colours ([`CLASSES_RGB`]).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::boundary::*;
use super::scatter::*;
use super::*;
use crate::matrix::Matrix;

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
    let (x_range, y_range, classes) = on_grid(("decision_regions", "classes"), x, labels, model);
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
