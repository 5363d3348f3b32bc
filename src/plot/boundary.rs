//! [`decision_boundary`]: a model's output shaded over the plane in bands, the points on top,
//! and a colour bar.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::matrix::Matrix;

use super::scatter::{
    check_points, class_color, class_legend, class_of, draw_dots, frame_of, scatter_chart,
    LEGEND_ROW_HEIGHT, SCATTER_MARGIN, SCATTER_X_LABELS,
};
use super::{
    entry, legend_row, msg, render_figure, tick_label, Figure, Marker, PlotError, AXIS_SIZE,
    CLASS_0, CLASS_1, TICK_SIZE, TITLE_SIZE,
};

/// Cells per side of the grid a decision boundary's model is evaluated on.
pub(super) const GRID: usize = 150;
/// The shading has this many bands from 0 to 1, so it reads like a contour map.
const BANDS: usize = 20;
/// How strongly a fully confident cell is tinted: light enough for the dots to stand out.
const MAX_TINT: f64 = 0.45;
const NOT_FINITE_SHADE: RGBColor = RGBColor(215, 215, 215);

/// The model's outputs over a [`GRID`]×[`GRID`] grid of cell centres covering a frame.
pub(super) struct Field {
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
    pub(super) fn centres(
        x_range: &std::ops::Range<f64>,
        y_range: &std::ops::Range<f64>,
    ) -> Matrix {
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
    let (x_range, y_range, values) = on_grid(("decision_boundary", "outputs"), x, labels, model);
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

/// What both shaded figures do first: check the points and labels, frame them, and call
/// `model` once with every grid cell's centre. Returns the frame and one output per cell.
///
/// # Panics
/// As the figure named `figure` (the model's outputs called `what`): `x` not n×2, labels not
/// n long, or not one output per cell.
pub(super) fn on_grid<T>(
    (figure, what): (&str, &str),
    x: &Matrix,
    labels: &[f64],
    model: impl FnOnce(&Matrix) -> Vec<T>,
) -> (std::ops::Range<f64>, std::ops::Range<f64>, Vec<T>) {
    check_points(figure, x, &[("labels", labels)]);
    let (x_range, y_range) = frame_of(x);
    let outputs = model(&Field::centres(&x_range, &y_range));
    assert!(
        outputs.len() == GRID * GRID,
        "plot::{figure}: the model returned {} {what} for {} grid points",
        outputs.len(),
        GRID * GRID
    );
    (x_range, y_range, outputs)
}
