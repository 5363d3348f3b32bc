//! Values per epoch and per category: [`learning_curve`] and [`accuracy_curve`] (several runs
//! overlaid, long runs thinned), and [`bar_chart`] (grouped bars on a log axis).

use std::path::Path;

use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    entry, legend_column, legend_column_width, msg, render, render_figure, tick_label, Figure,
    LegendEntry, Marker, PlotError, AXIS_SIZE, SERIES_COLORS, TICK_SIZE, TITLE_SIZE,
};

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
