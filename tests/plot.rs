//! The lab's figures: each is written as PNG and SVG, has the stated size, shows what it claims
//! (class colours, series lines, rings, counts, titles), and a bad path is an error naming it.

use std::cell::Cell;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chainrule::plot::{self, CLASSES_RGB, CLASS_0_RGB, CLASS_1_RGB, SERIES_RGB};
use chainrule::{data, Matrix};

/// A fresh directory per test (tests run in parallel), removed when the test ends.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("chainrule-plot-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("the temp directory is writable");
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A decoded PNG: width, height and one RGB triple per pixel, row by row.
struct Image {
    width: u32,
    height: u32,
    pixels: Vec<(u8, u8, u8)>,
}

impl Image {
    fn read(path: &Path) -> Image {
        let file = std::fs::File::open(path).expect("the PNG was written");
        let mut decoder = png::Decoder::new(file);
        decoder.set_transformations(png::Transformations::EXPAND);
        let mut reader = decoder.read_info().expect("the PNG header decodes");
        let mut buffer = vec![0; reader.output_buffer_size()];
        let frame = reader
            .next_frame(&mut buffer)
            .expect("the PNG data decodes");
        let channels = match frame.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => panic!("expected an RGB or RGBA figure, got {other:?}"),
        };
        let pixels = buffer[..frame.buffer_size()]
            .chunks_exact(channels)
            .map(|p| (p[0], p[1], p[2]))
            .collect();
        Image {
            width: frame.width,
            height: frame.height,
            pixels,
        }
    }

    fn distinct_colours(&self) -> usize {
        self.pixels.iter().collect::<HashSet<_>>().len()
    }

    /// How many pixels have exactly this colour, in rows `rows` and columns `cols`.
    fn count_in(
        &self,
        rgb: (u8, u8, u8),
        rows: std::ops::Range<u32>,
        cols: std::ops::Range<u32>,
    ) -> usize {
        rows.flat_map(|y| cols.clone().map(move |x| (x, y)))
            .filter(|&(x, y)| self.pixels[(y * self.width + x) as usize] == rgb)
            .count()
    }

    fn count(&self, rgb: (u8, u8, u8)) -> usize {
        self.count_in(rgb, 0..self.height, 0..self.width)
    }
}

/// The text of every `<text>` element of an SVG, trimmed, after checking that it parses as XML.
fn svg_texts(path: &Path) -> Vec<String> {
    let source = std::fs::read_to_string(path).expect("the SVG was written");
    let doc = roxmltree::Document::parse(&source).expect("the SVG is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").trim().to_string())
        .collect()
}

fn has_text(texts: &[String], wanted: &str) -> bool {
    texts.iter().any(|t| t == wanted)
}

/// A loss that falls from 0.25 towards 0.01 over `n` epochs.
fn falling(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| 0.01 + 0.24 * (-(i as f64) / 30.0).exp())
        .collect()
}

fn rising_accuracy(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| 1.0 - 0.5 * (-(i as f64) / 20.0).exp())
        .collect()
}

/// XOR-easy's labels and predictions with points 3 and 8 flipped: two mistakes.
fn xor_with_two_mistakes() -> (data::Dataset, Vec<f64>) {
    let set = data::xor_easy();
    let mut predicted: Vec<f64> = set
        .y
        .as_slice()
        .iter()
        .map(|&y| if y > 0.5 { 0.8 } else { 0.2 })
        .collect();
    for r in [3, 8] {
        predicted[r] = 1.0 - predicted[r];
    }
    (set, predicted)
}

/// A model of XOR-easy, per point: class 1 away from the diagonal x0 = x1.
fn xor_model(x0: f64, x1: f64) -> f64 {
    1.0 / (1.0 + (-40.0 * ((x0 - x1).abs() - 0.1)).exp())
}

fn per_point(grid: &Matrix, f: impl Fn(f64, f64) -> f64) -> Vec<f64> {
    (0..grid.rows())
        .map(|r| f(grid.row(r)[0], grid.row(r)[1]))
        .collect()
}

// ---- learning and accuracy curves ----------------------------------------------------------

#[test]
fn learning_curve_png_has_its_size_and_a_line_per_series() {
    let dir = Scratch::new("loss-png");
    let path = dir.path("loss.png");
    let (long, short) = (falling(200), falling(80));
    let series: [(&str, &[f64]); 2] = [("lr 0.1", &long), ("lr 0.8", &short)];
    plot::learning_curve(&path, "Learning curve", &series, false).unwrap();
    let image = Image::read(&path);
    assert_eq!((image.width, image.height), (960, 540));
    assert!(
        image.distinct_colours() > 50,
        "{}",
        image.distinct_colours()
    );
    // A legend swatch is 22×3 pixels; a line across the plot is hundreds more.
    assert!(
        image.count(SERIES_RGB[0]) > 400,
        "{}",
        image.count(SERIES_RGB[0])
    );
    assert!(
        image.count(SERIES_RGB[1]) > 400,
        "{}",
        image.count(SERIES_RGB[1])
    );
}

#[test]
fn learning_curve_svg_parses_and_names_title_axes_and_series() {
    let dir = Scratch::new("loss-svg");
    let path = dir.path("loss.svg");
    let losses = falling(100);
    let title = "Loss & friends <lr 0.8>";
    plot::learning_curve(&path, title, &[("sigmoid", &losses[..])], true).unwrap();
    let texts = svg_texts(&path);
    for wanted in [title, "epoch", "loss", "sigmoid"] {
        assert!(has_text(&texts, wanted), "{wanted:?} not in {texts:?}");
    }
    // The log axis labels a power of ten inside [0.01, 0.25].
    assert!(has_text(&texts, "0.1"), "{texts:?}");
}

#[test]
fn non_finite_losses_leave_the_axes_as_the_finite_ones_set_them() {
    let dir = Scratch::new("loss-nan");
    let (clean, broken) = (dir.path("clean.svg"), dir.path("broken.svg"));
    let finite = [0.5, 0.45, 0.4, 0.35, 0.3];
    let diverged = [0.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.3];
    plot::learning_curve(&clean, "run", &[("run", &finite[..])], false).unwrap();
    plot::learning_curve(&broken, "run", &[("run", &diverged[..])], false).unwrap();
    let (clean, broken) = (svg_texts(&clean), svg_texts(&broken));
    // Same range (0.3 to 0.5, epochs 1 to 5), so the same ticks; only the legend differs.
    let ticks = |texts: &[String]| -> Vec<String> {
        texts
            .iter()
            .filter(|t| !t.starts_with("run"))
            .cloned()
            .collect()
    };
    assert_eq!(ticks(&clean), ticks(&broken));
    assert!(
        has_text(&broken, "run (not finite from epoch 2)"),
        "{broken:?}"
    );
    assert!(has_text(&clean, "run"), "{clean:?}");
}

#[test]
fn a_log_axis_skips_zero_and_negative_losses() {
    let dir = Scratch::new("loss-log");
    let (clean, odd) = (dir.path("clean.svg"), dir.path("odd.svg"));
    let positive = [0.5, 0.45, 0.4, 0.3, 0.4];
    let with_zero = [0.5, 0.0, -1.0, 0.3, 0.4];
    plot::learning_curve(&clean, "run", &[("run", &positive[..])], true).unwrap();
    plot::learning_curve(&odd, "run", &[("run", &with_zero[..])], true).unwrap();
    assert_eq!(svg_texts(&clean), svg_texts(&odd));
    // And the line is still drawn from the positive values.
    let png = dir.path("odd.png");
    plot::learning_curve(&png, "run", &[("run", &with_zero[..])], true).unwrap();
    assert!(Image::read(&png).count(SERIES_RGB[0]) > 400);
}

#[test]
fn learning_curve_draws_an_empty_figure_for_no_data() {
    let dir = Scratch::new("loss-empty");
    let path = dir.path("empty.png");
    plot::learning_curve(&path, "nothing yet", &[("run", &[][..])], true).unwrap();
    plot::learning_curve(&dir.path("none.svg"), "no runs", &[], false).unwrap();
    let image = Image::read(&path);
    assert_eq!((image.width, image.height), (960, 540));
    assert!(image.count(SERIES_RGB[0]) < 100, "only the legend swatch");
}

#[test]
fn accuracy_curve_png_has_its_size_and_a_line_per_series() {
    let dir = Scratch::new("acc-png");
    let path = dir.path("acc.png");
    let (mse, log_loss) = (rising_accuracy(150), rising_accuracy(90));
    let series: [(&str, &[f64]); 2] = [("MSE", &mse), ("log-loss", &log_loss)];
    plot::accuracy_curve(&path, "Accuracy", &series).unwrap();
    let image = Image::read(&path);
    assert_eq!((image.width, image.height), (960, 540));
    assert!(
        image.distinct_colours() > 50,
        "{}",
        image.distinct_colours()
    );
    assert!(
        image.count(SERIES_RGB[0]) > 400,
        "{}",
        image.count(SERIES_RGB[0])
    );
    assert!(
        image.count(SERIES_RGB[1]) > 400,
        "{}",
        image.count(SERIES_RGB[1])
    );
}

#[test]
fn accuracy_curve_svg_parses_and_labels_percent() {
    let dir = Scratch::new("acc-svg");
    let path = dir.path("acc.svg");
    let accuracy = rising_accuracy(60);
    plot::accuracy_curve(&path, "Accuracy per epoch", &[("MSE", &accuracy[..])]).unwrap();
    let texts = svg_texts(&path);
    for wanted in [
        "Accuracy per epoch",
        "accuracy",
        "epoch",
        "MSE",
        "0%",
        "100%",
    ] {
        assert!(has_text(&texts, wanted), "{wanted:?} not in {texts:?}");
    }
}

// ---- truth vs prediction -------------------------------------------------------------------

#[test]
fn truth_vs_prediction_png_puts_each_panel_on_its_side() {
    let dir = Scratch::new("tvp-png");
    let path = dir.path("tvp.png");
    let set = data::linear(100, 3);
    // Truth all class 0 (red), predictions all class 1 (blue): each colour in one panel only.
    let truth = vec![0.0; 100];
    let predicted = vec![0.9; 100];
    plot::truth_vs_prediction(&path, &set.x, &truth, &predicted).unwrap();
    let image = Image::read(&path);
    assert_eq!((image.width, image.height), (1120, 600));
    assert!(
        image.distinct_colours() > 50,
        "{}",
        image.distinct_colours()
    );
    let panels = 0..image.height - 44; // the legend row is the bottom 44 pixels
    let (left, right) = (0..image.width / 2, image.width / 2..image.width);
    let red_left = image.count_in(CLASS_0_RGB, panels.clone(), left.clone());
    let blue_right = image.count_in(CLASS_1_RGB, panels.clone(), right.clone());
    assert!(
        red_left > 2000,
        "100 red dots on the left: {red_left} pixels"
    );
    assert!(
        blue_right > 2000,
        "100 blue dots on the right: {blue_right} pixels"
    );
    assert_eq!(image.count_in(CLASS_1_RGB, panels.clone(), left), 0);
    assert_eq!(image.count_in(CLASS_0_RGB, panels, right), 0);
}

#[test]
fn truth_vs_prediction_svg_parses_and_names_panels_and_classes() {
    let dir = Scratch::new("tvp-svg");
    let path = dir.path("tvp.svg");
    let (set, predicted) = xor_with_two_mistakes();
    plot::truth_vs_prediction(&path, &set.x, set.y.as_slice(), &predicted).unwrap();
    let texts = svg_texts(&path);
    for wanted in [
        "Ground truth",
        "Predict result",
        "class 0",
        "class 1",
        "x0",
        "x1",
    ] {
        assert!(has_text(&texts, wanted), "{wanted:?} not in {texts:?}");
    }
    assert!(
        !has_text(&texts, "not finite"),
        "no NaN was passed: {texts:?}"
    );
}

#[test]
fn a_nan_prediction_gets_its_own_legend_entry() {
    let dir = Scratch::new("tvp-nan");
    let path = dir.path("tvp.svg");
    let set = data::xor_easy();
    let mut predicted = set.y.as_slice().to_vec();
    predicted[0] = f64::NAN;
    plot::truth_vs_prediction(&path, &set.x, set.y.as_slice(), &predicted).unwrap();
    assert!(has_text(&svg_texts(&path), "not finite"));
}

#[test]
#[should_panic(expected = "x must be n×2")]
fn truth_vs_prediction_rejects_points_that_are_not_2d() {
    let x = Matrix::zeros(4, 3);
    let path = std::env::temp_dir().join("chainrule-plot-never-written.png");
    let _ = plot::truth_vs_prediction(&path, &x, &[0.0; 4], &[0.0; 4]);
}

#[test]
#[should_panic(expected = "predicted has 3 values")]
fn truth_vs_prediction_rejects_a_short_prediction() {
    let x = Matrix::zeros(4, 2);
    let path = std::env::temp_dir().join("chainrule-plot-never-written.png");
    let _ = plot::truth_vs_prediction(&path, &x, &[0.0; 4], &[0.0; 3]);
}

// ---- decision boundary ---------------------------------------------------------------------

#[test]
fn decision_boundary_png_shades_the_plane_and_shows_both_classes() {
    let dir = Scratch::new("boundary-png");
    let path = dir.path("boundary.png");
    let set = data::xor_easy();
    plot::decision_boundary(&path, "XOR", &set.x, set.y.as_slice(), |grid: &Matrix| {
        per_point(grid, xor_model)
    })
    .unwrap();
    let image = Image::read(&path);
    assert_eq!((image.width, image.height), (860, 780));
    // 20 shading bands, the dots, antialiased text: many colours.
    assert!(
        image.distinct_colours() > 60,
        "{}",
        image.distinct_colours()
    );
    assert!(
        image.count(CLASS_0_RGB) > 300,
        "{}",
        image.count(CLASS_0_RGB)
    );
    assert!(
        image.count(CLASS_1_RGB) > 300,
        "{}",
        image.count(CLASS_1_RGB)
    );
}

#[test]
fn decision_boundary_calls_the_model_once_with_a_grid_around_the_points() {
    let dir = Scratch::new("boundary-grid");
    let set = data::xor_easy();
    let calls = Cell::new(0);
    let model = |grid: &Matrix| {
        calls.set(calls.get() + 1);
        assert_eq!(grid.cols(), 2);
        assert_eq!(grid.rows(), 150 * 150);
        let column = |c: usize| (0..grid.rows()).map(move |r| grid.row(r)[c]);
        for c in 0..2 {
            let lo = column(c).fold(f64::INFINITY, f64::min);
            let hi = column(c).fold(f64::NEG_INFINITY, f64::max);
            // XOR-easy spans [0, 1]: the grid covers it with a margin on both sides.
            assert!(lo < 0.0 && hi > 1.0, "column {c}: {lo}..{hi}");
        }
        per_point(grid, xor_model)
    };
    plot::decision_boundary(&dir.path("b.png"), "XOR", &set.x, set.y.as_slice(), model).unwrap();
    assert_eq!(calls.get(), 1);
}

#[test]
fn decision_boundary_svg_parses_and_names_title_and_key() {
    let dir = Scratch::new("boundary-svg");
    let path = dir.path("boundary.svg");
    let set = data::circle(200, 1);
    let model =
        |grid: &Matrix| per_point(grid, |a, b| if a * a + b * b < 0.56 { 1.0 } else { 0.0 });
    plot::decision_boundary(&path, "Circle boundary", &set.x, set.y.as_slice(), model).unwrap();
    let texts = svg_texts(&path);
    for wanted in [
        "Circle boundary",
        "model output",
        "model output 0.5",
        "class 0",
        "class 1",
    ] {
        assert!(has_text(&texts, wanted), "{wanted:?} not in {texts:?}");
    }
    assert!(!has_text(&texts, "output not finite"), "{texts:?}");
}

#[test]
fn a_model_that_outputs_nan_is_shaded_and_said_so() {
    let dir = Scratch::new("boundary-nan");
    let path = dir.path("nan.svg");
    let set = data::xor_easy();
    let model = |grid: &Matrix| vec![f64::NAN; grid.rows()];
    plot::decision_boundary(&path, "diverged", &set.x, set.y.as_slice(), model).unwrap();
    assert!(has_text(&svg_texts(&path), "output not finite"));
}

#[test]
#[should_panic(expected = "the model returned 3 outputs")]
fn decision_boundary_rejects_a_model_with_the_wrong_number_of_outputs() {
    let set = data::xor_easy();
    let path = std::env::temp_dir().join("chainrule-plot-never-written.png");
    let _ = plot::decision_boundary(&path, "t", &set.x, set.y.as_slice(), |_| vec![0.0; 3]);
}

// ---- decision regions ----------------------------------------------------------------------

/// Three classes by angle around the origin: 0 on the right, 1 at the top left, 2 below left.
fn sector(x0: f64, x1: f64) -> usize {
    let t = x1.atan2(x0).rem_euclid(std::f64::consts::TAU);
    (t / (std::f64::consts::TAU / 3.0)) as usize % 3
}

fn sectors(grid: &Matrix) -> Vec<usize> {
    (0..grid.rows())
        .map(|r| sector(grid.row(r)[0], grid.row(r)[1]))
        .collect()
}

/// A class colour as its region shows it: 30% of it over white.
fn region_rgb((r, g, b): (u8, u8, u8)) -> (u8, u8, u8) {
    let mix = |v: u8| (255.0 + (f64::from(v) - 255.0) * 0.3).round() as u8;
    (mix(r), mix(g), mix(b))
}

#[test]
fn decision_regions_png_shades_each_class_and_colours_the_points() {
    let dir = Scratch::new("regions-png");
    let path = dir.path("regions.png");
    let set = data::spiral(60, 3, 2);
    plot::decision_regions(&path, "spiral", &set.x, set.y.as_slice(), sectors).unwrap();
    let image = Image::read(&path);
    assert_eq!((image.width, image.height), (760, 780));
    for (k, &colour) in CLASSES_RGB.iter().take(3).enumerate() {
        // Each sector is about a third of a ~620×600 plot: well over 10,000 pixels.
        let shaded = image.count(region_rgb(colour));
        assert!(shaded > 10_000, "class {k}: {shaded} region pixels");
        let dots = image.count(colour);
        assert!(dots > 300, "class {k}: {dots} dot pixels");
    }
    // No fourth class was drawn.
    assert_eq!(image.count(region_rgb(CLASSES_RGB[3])), 0);
}

#[test]
fn decision_regions_svg_names_every_class_and_calls_the_model_once() {
    let dir = Scratch::new("regions-svg");
    let path = dir.path("regions.svg");
    let set = data::spiral(20, 3, 2);
    let mut labels = set.y.as_slice().to_vec();
    let calls = Cell::new(0);
    let model = |grid: &Matrix| {
        calls.set(calls.get() + 1);
        assert_eq!(grid.shape(), (150 * 150, 2));
        // The model picks a fifth class somewhere: the legend lists it too.
        let mut classes = sectors(grid);
        classes[0] = 4;
        classes
    };
    plot::decision_regions(&path, "Three arms", &set.x, &labels, model).unwrap();
    assert_eq!(calls.get(), 1);
    let texts = svg_texts(&path);
    for wanted in ["Three arms", "class 0", "class 1", "class 2", "class 4"] {
        assert!(has_text(&texts, wanted), "{wanted:?} not in {texts:?}");
    }
    assert!(!has_text(&texts, "not a class"), "{texts:?}");
    labels[0] = 0.5;
    plot::decision_regions(&path, "t", &set.x, &labels, sectors).unwrap();
    assert!(has_text(&svg_texts(&path), "not a class"));
}

#[test]
#[should_panic(expected = "the model returned 3 classes")]
fn decision_regions_rejects_a_model_with_the_wrong_number_of_classes() {
    let set = data::spiral(5, 3, 1);
    let path = std::env::temp_dir().join("chainrule-plot-never-written.png");
    let _ = plot::decision_regions(&path, "t", &set.x, set.y.as_slice(), |_| vec![0; 3]);
}

// ---- mistakes ------------------------------------------------------------------------------

#[test]
fn mistakes_png_rings_the_misclassified_points() {
    let dir = Scratch::new("mistakes-png");
    let (set, predicted) = xor_with_two_mistakes();
    let (wrong, right) = (dir.path("wrong.png"), dir.path("right.png"));
    let truth = set.y.as_slice();
    plot::mistakes(&wrong, "XOR", &set.x, truth, &predicted).unwrap();
    plot::mistakes(&right, "XOR", &set.x, truth, truth).unwrap();
    let (wrong, right) = (Image::read(&wrong), Image::read(&right));
    assert_eq!((wrong.width, wrong.height), (760, 780));
    assert!(
        wrong.distinct_colours() > 50,
        "{}",
        wrong.distinct_colours()
    );
    assert!(
        wrong.count(CLASS_0_RGB) > 300,
        "{}",
        wrong.count(CLASS_0_RGB)
    );
    assert!(
        wrong.count(CLASS_1_RGB) > 300,
        "{}",
        wrong.count(CLASS_1_RGB)
    );
    // Two rings of radius 11 and width 2: about 2 × 2π·11 × 2 ≈ 280 more black pixels.
    let black = (0, 0, 0);
    let extra = wrong.count(black) as i64 - right.count(black) as i64;
    assert!(extra > 150, "{extra} more black pixels");
}

#[test]
fn mistakes_svg_parses_and_counts_the_mistakes() {
    let dir = Scratch::new("mistakes-svg");
    let (set, predicted) = xor_with_two_mistakes();
    let truth = set.y.as_slice();
    let (wrong, right) = (dir.path("wrong.svg"), dir.path("right.svg"));
    plot::mistakes(&wrong, "XOR predictions", &set.x, truth, &predicted).unwrap();
    plot::mistakes(&right, "XOR predictions", &set.x, truth, truth).unwrap();
    let texts = svg_texts(&wrong);
    for wanted in [
        "XOR predictions",
        "predicted 0",
        "predicted 1",
        "misclassified: 2 of 21",
    ] {
        assert!(has_text(&texts, wanted), "{wanted:?} not in {texts:?}");
    }
    assert!(has_text(&svg_texts(&right), "misclassified: 0 of 21"));
}

#[test]
fn a_nan_prediction_counts_as_a_mistake() {
    let dir = Scratch::new("mistakes-nan");
    let path = dir.path("nan.svg");
    let set = data::xor_easy();
    let mut predicted = set.y.as_slice().to_vec();
    predicted[5] = f64::NAN;
    plot::mistakes(&path, "XOR", &set.x, set.y.as_slice(), &predicted).unwrap();
    let texts = svg_texts(&path);
    assert!(has_text(&texts, "misclassified: 1 of 21"), "{texts:?}");
    assert!(has_text(&texts, "not finite"), "{texts:?}");
}

// ---- bad paths -----------------------------------------------------------------------------

/// Every figure, with small data, drawn to `path_for(its name)`: (name, path, result).
fn every_figure(
    path_for: impl Fn(&str) -> PathBuf,
) -> Vec<(&'static str, PathBuf, Result<(), plot::PlotError>)> {
    let (set, predicted) = xor_with_two_mistakes();
    let truth = set.y.as_slice();
    let losses = falling(10);
    let draw = |figure: &str, path: &Path| match figure {
        "learning_curve" => plot::learning_curve(path, "t", &[("a", &losses[..])], false),
        "accuracy_curve" => plot::accuracy_curve(path, "t", &[("a", &losses[..])]),
        "truth_vs_prediction" => plot::truth_vs_prediction(path, &set.x, truth, &predicted),
        "decision_boundary" => plot::decision_boundary(path, "t", &set.x, truth, |g: &Matrix| {
            per_point(g, xor_model)
        }),
        "decision_regions" => plot::decision_regions(path, "t", &set.x, truth, sectors),
        _ => plot::mistakes(path, "t", &set.x, truth, &predicted),
    };
    let figures = [
        "learning_curve",
        "accuracy_curve",
        "truth_vs_prediction",
        "decision_boundary",
        "decision_regions",
        "mistakes",
    ];
    figures
        .into_iter()
        .map(|figure| {
            let path = path_for(figure);
            let result = draw(figure, &path);
            (figure, path, result)
        })
        .collect()
}

#[test]
fn a_bad_extension_is_an_error_naming_the_path_and_writes_nothing() {
    let dir = Scratch::new("bad-extension");
    for (figure, path, result) in every_figure(|f| dir.path(&format!("not-made-yet/{f}.jpg"))) {
        let error = result.expect_err(figure).to_string();
        assert!(
            error.contains(&path.display().to_string()),
            "{figure}: {error}"
        );
        assert!(error.contains(".png or .svg"), "{figure}: {error}");
    }
    assert!(
        !dir.path("not-made-yet").exists(),
        "no directory for a bad name"
    );
}

#[test]
fn an_unwritable_directory_is_an_error_naming_the_path() {
    let dir = Scratch::new("unwritable");
    // A directory cannot be made under a regular file, even by root.
    std::fs::write(dir.path("a-file"), b"not a directory").unwrap();
    for ext in ["png", "svg"] {
        for (figure, path, result) in every_figure(|f| dir.path(&format!("a-file/{f}.{ext}"))) {
            let error = result.expect_err(figure).to_string();
            assert!(
                error.contains(&path.display().to_string()),
                "{figure}: {error}"
            );
        }
    }
}

#[test]
fn every_figure_writes_png_svg_and_an_upper_case_extension_into_a_new_directory() {
    let dir = Scratch::new("every");
    for ext in ["png", "svg", "PNG"] {
        for (figure, path, result) in every_figure(|f| dir.path(&format!("new/{f}.{ext}"))) {
            result.unwrap_or_else(|e| panic!("{figure}: {e}"));
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            assert!(size > 1000, "{figure}: {} has {size} bytes", path.display());
        }
    }
}
