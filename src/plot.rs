//! Figures with `plotters`, as PNG or SVG (chosen by the file extension).
//!
//! Text is laid out with the bundled DejaVu Sans (`assets/DejaVuSans.ttf`, compiled into the
//! library), so no system font is needed: a figure renders the same on a bare machine.

use std::error::Error;
use std::fmt;
use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
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
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| error(path, e))?;
    }
    match path.extension().and_then(|e| e.to_str()) {
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
