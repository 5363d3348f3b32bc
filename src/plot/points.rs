//! Scatter figures of 2-D points: [`truth_vs_prediction`] (side by side) and [`mistakes`]
//! (misclassified points ringed).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::matrix::Matrix;

use super::scatter::{
    check_points, class_color, class_legend, class_of, dot_radius, draw_dots, scatter_chart,
    LEGEND_ROW_HEIGHT,
};
use super::{entry, legend_row, msg, render_figure, Figure, Marker, PlotError, TITLE_SIZE};

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
