//! The lab reports' experiments: every comparison runs and reports one row per variant, the
//! reports' "no activation at lr 100" is named as a divergence, figures are written, and the
//! same input gives the same report.
//!
//! Runs use small data sets and low epoch caps so the whole file stays quick; the claims are
//! about what a report holds, not how far training gets (except the lab's own run).

use std::path::PathBuf;

use chainrule::data;
use chainrule::experiment::{self, Comparison, Outcome, Setup};
use chainrule::loss::Loss;
use chainrule::Op;

/// The lab's setup with a low cap: enough epochs to see curves, short enough for a test.
fn quick(epochs: usize) -> Setup {
    Setup {
        epochs,
        ..Setup::default()
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "chainrule-experiment-{name}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_comparison_runs_every_variant_on_a_small_data_set() {
    let data = data::linear(30, 3);
    let base = quick(150);
    for comparison in Comparison::ALL {
        let report = experiment::run(comparison, &data, &base);
        let variants = comparison.variants(&base);
        assert_eq!(report.comparison, comparison);
        assert_eq!(report.runs.len(), variants.len(), "{comparison}");
        assert!(report.runs.len() >= 2, "{comparison} compares something");
        for (run, (label, setup)) in report.runs.iter().zip(&variants) {
            assert_eq!(&run.label, label);
            assert_eq!(&run.setup, setup);
            assert_eq!(run.losses.len(), run.accuracies.len(), "{label}");
            let epochs = match run.outcome {
                Outcome::Converged { epoch } | Outcome::Diverged { epoch, .. } => epoch,
                Outcome::EpochCap { epochs } => {
                    assert_eq!(epochs, 150, "{label}");
                    epochs
                }
            };
            assert_eq!(run.losses.len(), epochs, "{label}: one loss per epoch run");
            assert!(epochs <= 150, "{label} ran past the cap");
            if !run.outcome.diverged() {
                assert_eq!(run.final_loss, *run.losses.last().unwrap(), "{label}");
                assert!((0.0..=1.0).contains(&run.accuracy), "{label}");
            }
        }
    }
}

#[test]
fn the_variants_are_the_reports() {
    let base = Setup::default();
    let labels = |c: Comparison| -> Vec<String> {
        c.variants(&base)
            .into_iter()
            .map(|(label, _)| label)
            .collect()
    };
    assert_eq!(
        labels(Comparison::LearningRate),
        ["lr 1e-5", "lr 1e-3", "lr 0.1", "lr 0.8", "lr 10", "lr 100"]
    );
    let lrs: Vec<f64> = Comparison::LearningRate
        .variants(&base)
        .iter()
        .map(|(_, s)| s.lr)
        .collect();
    assert_eq!(lrs, [1e-5, 1e-3, 0.1, 0.8, 10.0, 100.0]);
    let sizes: Vec<Vec<usize>> = Comparison::Hidden
        .variants(&base)
        .iter()
        .map(|(_, s)| s.mlp(2, 1).sizes())
        .collect();
    assert_eq!(sizes, [[2, 2, 2, 1], [2, 10, 10, 1], [2, 20, 20, 1]]);
    assert_eq!(
        labels(Comparison::Activation),
        ["sigmoid", "tanh", "relu", "none", "none, lr 100"]
    );
    assert_eq!(labels(Comparison::Optimizer), ["sgd", "momentum", "adam"]);
    let shared: Vec<f64> = Comparison::Optimizer
        .variants(&base)
        .iter()
        .map(|(_, s)| s.lr)
        .collect();
    assert_eq!(shared, [experiment::SHARED_LR; 3]);
    assert_eq!(labels(Comparison::Loss), ["MSE", "BCE"]);
    assert_eq!(
        labels(Comparison::Init),
        ["uniform", "standard normal", "Xavier"]
    );
}

#[test]
fn no_activation_at_lr_100_is_reported_as_diverged_naming_an_op() {
    let data = data::linear(30, 3);
    let report = experiment::run(Comparison::Activation, &data, &quick(50));
    let run = report
        .runs
        .iter()
        .find(|r| r.label == "none, lr 100")
        .expect("the activation comparison has the reports' run");
    let Outcome::Diverged { epoch, op } = run.outcome else {
        panic!("expected a divergence, got {}", run.outcome);
    };
    let op = op.expect("the replay in anomaly mode names the op");
    assert!(
        matches!(op, Op::Mse | Op::Linear(_) | Op::MatMul),
        "a linear network's overflow starts in a layer or the loss, got {op:?}"
    );
    assert!(run.final_loss.is_nan());
    assert!(
        run.losses.last().unwrap().is_nan(),
        "the curve ends in a gap"
    );
    assert_eq!(run.losses.len(), epoch);
    let row = format!("diverged at epoch {epoch} in {}", op.name());
    assert_eq!(run.outcome.to_string(), row);
    assert!(report.markdown().contains(&row), "{}", report.markdown());
    // The sigmoid network at the same data and cap stays finite.
    assert!(!report.runs[0].outcome.diverged());
}

#[test]
fn markdown_has_one_row_per_variant() {
    let data = data::xor_easy();
    for comparison in [Comparison::LearningRate, Comparison::Loss] {
        let report = experiment::run(comparison, &data, &quick(20));
        let text = report.markdown();
        let rows: Vec<&str> = text.lines().filter(|l| l.starts_with('|')).collect();
        // A header, the separator, then the runs in order.
        assert_eq!(rows.len(), 2 + report.runs.len(), "{text}");
        assert_eq!(
            rows[0],
            "| variant | final loss | accuracy | epochs / outcome |"
        );
        for (row, run) in rows[2..].iter().zip(&report.runs) {
            assert!(row.starts_with(&format!("| {} |", run.label)), "{row}");
            assert!(row.ends_with(&format!("| {} |", run.outcome)), "{row}");
        }
        assert!(text.starts_with(comparison.title()), "{text}");
    }
}

#[test]
fn the_figures_are_written() {
    let dir = temp_dir("figures");
    let report = experiment::run(Comparison::Init, &data::xor_easy(), &quick(30));
    let [loss, accuracy] = report.write_figures(&dir.join("nested")).unwrap();
    assert_eq!(loss.file_name().unwrap(), "init_loss.png");
    assert_eq!(accuracy.file_name().unwrap(), "init_accuracy.png");
    for png in [&loss, &accuracy] {
        let bytes = std::fs::read(png).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{}", png.display());
    }
    let svg = dir.join("init_loss.svg");
    report.plot_curves(&svg).unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    for run in &report.runs {
        assert!(
            text.contains(&run.label),
            "the legend names `{}`",
            run.label
        );
    }
    let bad = report.plot_accuracy(&dir.join("figure.txt")).unwrap_err();
    assert!(bad.to_string().contains("figure.txt"), "{bad}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_same_input_gives_the_same_report() {
    let data = data::linear(30, 5);
    let base = quick(40);
    let a = experiment::run(Comparison::Optimizer, &data, &base);
    let b = experiment::run(Comparison::Optimizer, &data, &base);
    assert_eq!(a, b);
    // Debug prints NaN as `NaN`, so diverged runs compare too.
    let a = experiment::run(Comparison::Activation, &data, &base);
    let b = experiment::run(Comparison::Activation, &data, &base);
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    // Another seed draws other weights.
    let reseeded = Setup { seed: 6, ..base };
    let c = experiment::run(Comparison::Activation, &data, &reseeded);
    assert_ne!(a.runs[0].losses, c.runs[0].losses);
}

#[test]
fn the_lab_setup_reaches_the_stop_rule_on_the_linear_data() {
    let data = data::linear(100, 2);
    let run = Setup::default().train("lab", &data);
    let Outcome::Converged { epoch } = run.outcome else {
        panic!("the lab's run should converge: {}", run.outcome);
    };
    assert!(epoch < Setup::default().epochs);
    assert_eq!(run.accuracy, 1.0);
    // Every sample's squared error below 0.04 bounds the mean too.
    assert!(run.final_loss < 0.04, "{}", run.final_loss);
}

#[test]
fn every_loss_stops_at_the_same_closeness_to_the_label() {
    let mse = Setup::default();
    assert_eq!(mse.stop_threshold(), Some(0.04));
    // Within 0.2 of the label: BCE −ln(1 − 0.2).
    let bce = Setup {
        loss: Loss::Bce,
        ..Setup::default()
    };
    let t = bce.stop_threshold().unwrap();
    assert!((t - -(0.8f64).ln()).abs() < 1e-12, "{t}");
    let never = Setup {
        stop_below: None,
        ..Setup::default()
    };
    assert_eq!(never.stop_threshold(), None);
}

#[test]
fn comparison_names_parse_and_print() {
    for comparison in Comparison::ALL {
        let name = comparison.to_string();
        assert_eq!(name.parse::<Comparison>(), Ok(comparison));
    }
    let names: Vec<String> = Comparison::ALL.iter().map(|c| c.to_string()).collect();
    assert_eq!(
        names,
        ["lr", "hidden", "activation", "optimizer", "loss", "init"]
    );
    let err = "momentum".parse::<Comparison>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown comparison `momentum`: expected one of lr, hidden, activation, optimizer, loss, init"
    );
}
