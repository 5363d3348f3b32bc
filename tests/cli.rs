//! The `chainrule` command end to end: the binary is run as a user would run it, on small
//! epoch counts, each test in its own directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chainrule::io;
use chainrule::loss::Loss;
use chainrule::nn::{Activation, Init, Mlp};

/// A fresh directory for one test's files, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

fn scratch(test: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("chainrule-cli-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

/// Runs `chainrule` in `dir` with `args`, stdin empty, stdout and stderr captured (so not a
/// terminal: the progress bar must stay hidden).
fn chainrule(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chainrule"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// Runs and requires success with nothing on stderr; returns stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = chainrule(dir, args);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "chainrule {args:?}: {}\n{}",
        out.status,
        stderr(&out)
    );
    stdout(&out)
}

/// Runs and requires failure with exit status `code` and exactly one line on stderr, which is
/// returned.
fn fails(dir: &Path, args: &[&str], code: i32) -> String {
    let out = chainrule(dir, args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(code), "chainrule {args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "chainrule {args:?}: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    err.trim_end().to_string()
}

fn read(path: impl AsRef<Path>) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// The line starting with `accuracy:`.
fn accuracy_line(text: &str) -> &str {
    text.lines()
        .find(|l| l.starts_with("accuracy: "))
        .unwrap_or_else(|| panic!("no accuracy line in:\n{text}"))
}

/// The prediction lines: every line after `predictions`, up to the accuracy.
fn prediction_lines(text: &str) -> Vec<&str> {
    text.lines()
        .skip_while(|l| !l.starts_with("predictions"))
        .take_while(|l| !l.starts_with("accuracy"))
        .collect()
}

// ---- train, predict -------------------------------------------------------------------------

#[test]
fn train_then_predict_gives_the_same_predictions_and_accuracy() {
    let dir = scratch("train-predict");
    let trained = ok(
        &dir,
        &[
            "train",
            "--dataset",
            "xor-easy",
            "--epochs",
            "400",
            "--print-every",
            "100",
            "--no-plots",
            "--out",
            "run",
        ],
    );
    for epoch in [100, 200, 300, 400] {
        assert!(
            trained.contains(&format!("\nepoch {epoch} loss: ")),
            "{trained}"
        );
    }
    // Recording every step instead of replaying the recorded one: the same weights, to the byte.
    let recorded = ok(
        &dir,
        &[
            "train",
            "--dataset",
            "xor-easy",
            "--epochs",
            "400",
            "--print-every",
            "100",
            "--no-plots",
            "--record-every-step",
            "--out",
            "recorded",
        ],
    );
    assert_eq!(prediction_lines(&recorded), prediction_lines(&trained));
    assert_eq!(
        std::fs::read(dir.join("recorded/weights.safetensors")).unwrap(),
        std::fs::read(dir.join("run/weights.safetensors")).unwrap()
    );
    let predicted = ok(&dir, &["predict", "--weights", "run/weights.safetensors"]);
    assert!(predicted.starts_with("data: xor-easy (the run saved in"));
    assert_eq!(accuracy_line(&predicted), accuracy_line(&trained));
    assert_eq!(prediction_lines(&predicted), prediction_lines(&trained));
    assert_eq!(prediction_lines(&trained).len(), 1 + 21);
    // Named explicitly, the same data gives the same answer.
    let named = ok(
        &dir,
        &[
            "predict",
            "--weights",
            "run/weights.safetensors",
            "--dataset",
            "xor-easy",
        ],
    );
    assert_eq!(accuracy_line(&named), accuracy_line(&trained));
}

#[test]
fn train_writes_the_weights_the_history_and_the_lab_figures() {
    let dir = scratch("figures");
    ok(
        &dir,
        &[
            "train",
            "--dataset",
            "xor4",
            "--epochs",
            "30",
            "--out",
            "run",
        ],
    );
    for figure in [
        "loss.png",
        "accuracy.png",
        "prediction.png",
        "boundary.png",
        "mistakes.png",
    ] {
        let bytes = read(dir.join("run").join(figure));
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{figure}");
    }
    let history = String::from_utf8(read(dir.join("run/history.csv"))).unwrap();
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines[0], "epoch,loss,max_loss,accuracy");
    assert_eq!(lines.len(), 31);
    assert!(lines[30].starts_with("30,"));
    let saved = io::load_weights(&dir.join("run/weights.safetensors")).unwrap();
    assert_eq!(saved.mlp.sizes(), [2, 4, 4, 1]);
    assert_eq!(saved.loss, Loss::Mse);
}

#[test]
fn the_lab_stop_rule_is_on_by_default_and_can_be_turned_off() {
    let dir = scratch("stop-rule");
    // The 4-point XOR with a 2-8-1 network and Adam falls below 0.04 well within 3000 epochs.
    let args = |stop: &'static str| {
        [
            "train",
            "--dataset",
            "xor4",
            "--hidden",
            "8",
            "--optimizer",
            "adam",
            "--lr",
            "0.05",
            "--epochs",
            "3000",
            "--no-plots",
            "--out",
            stop,
        ]
    };
    let stopped = ok(&dir, &args("default"));
    assert!(
        stopped.contains("every sample's loss is below 0.04"),
        "{stopped}"
    );
    let epochs = |run: &str| {
        String::from_utf8(read(dir.join(run).join("history.csv")))
            .unwrap()
            .lines()
            .count()
            - 1
    };
    let stopped_at = epochs("default");
    assert!(stopped_at < 3000);
    // A longer run would have stopped there too: resuming it has nothing to do.
    let before = read(dir.join("default/weights.safetensors"));
    let resumed = ok(
        &dir,
        &[
            "train",
            "--resume",
            "default",
            "--epochs",
            "5000",
            "--no-plots",
        ],
    );
    assert!(
        resumed.contains(&format!(
            "the saved run already stopped after epoch {stopped_at}: every sample's loss was \
             below 0.04"
        )),
        "{resumed}"
    );
    assert_eq!(epochs("default"), stopped_at);
    assert_eq!(read(dir.join("default/weights.safetensors")), before);
    let mut off = args("off").to_vec();
    off.extend(["--stop-loss", "off"]);
    let full = ok(&dir, &off);
    assert!(
        full.contains("stopped at the epoch cap, epoch 3000"),
        "{full}"
    );
    assert_eq!(epochs("off"), 3000);
}

#[test]
fn init_with_the_same_settings_reproduces_the_same_run() {
    let dir = scratch("init");
    let settings = [
        "--dataset",
        "circle",
        "--points",
        "60",
        "--data-seed",
        "4",
        "--hidden",
        "5,3",
        "--activation",
        "tanh,tanh,sigmoid",
        "--seed",
        "9",
        "--lr",
        "0.3",
        "--no-plots",
    ];
    let run = |extra: &[&str]| {
        let mut args = vec!["train"];
        args.extend(extra);
        ok(&dir, &args)
    };
    // The untrained network, written by a run of 0 epochs.
    let mut untrained = settings.to_vec();
    untrained.extend(["--epochs", "0", "--out", "untrained"]);
    run(&untrained);
    let mut seeded = settings.to_vec();
    seeded.extend(["--epochs", "25", "--out", "seeded"]);
    run(&seeded);
    run(&[
        "--dataset",
        "circle",
        "--points",
        "60",
        "--data-seed",
        "4",
        "--lr",
        "0.3",
        "--no-plots",
        "--init",
        "untrained/weights.safetensors",
        "--epochs",
        "25",
        "--out",
        "from-file",
    ]);
    for file in [
        "history.csv",
        "weights.safetensors",
        "optimizer.safetensors",
    ] {
        assert_eq!(
            read(dir.join("seeded").join(file)),
            read(dir.join("from-file").join(file)),
            "{file}"
        );
    }
}

/// Runs N epochs, resumes to N + M, and runs N + M at once; every file of the two must match.
fn assert_resume_is_one_longer_run(test: &str, settings: &[&str], n: &str, total: &str) {
    let dir = scratch(test);
    let with = |extra: &[&'static str]| {
        let mut args = vec!["train"];
        args.extend(settings);
        args.extend(extra);
        args.push("--no-plots");
        args
    };
    let mut first = with(&["--out", "first"]);
    first.extend(["--epochs", n]);
    ok(&dir, &first);
    let resumed = ok(
        &dir,
        &[
            "train",
            "--resume",
            "first",
            "--epochs",
            total,
            "--out",
            "resumed",
            "--no-plots",
        ],
    );
    assert!(
        resumed.starts_with(&format!("resuming first after epoch {n}: ")),
        "{resumed}"
    );
    let mut whole = with(&["--out", "whole"]);
    whole.extend(["--epochs", total]);
    let whole_out = ok(&dir, &whole);
    for file in [
        "weights.safetensors",
        "optimizer.safetensors",
        "history.csv",
        "run.json",
    ] {
        assert_eq!(
            read(dir.join("resumed").join(file)),
            read(dir.join("whole").join(file)),
            "{test}: {file}"
        );
    }
    assert_eq!(accuracy_line(&resumed), accuracy_line(&whole_out));
    // Resuming in place (no --out) writes into the saved run's directory.
    ok(
        &dir,
        &[
            "train",
            "--resume",
            "first",
            "--epochs",
            total,
            "--no-plots",
        ],
    );
    assert_eq!(
        read(dir.join("first/weights.safetensors")),
        read(dir.join("whole/weights.safetensors"))
    );
}

#[test]
fn resume_after_n_epochs_plus_m_equals_one_run_of_n_plus_m_with_sgd() {
    assert_resume_is_one_longer_run(
        "resume-sgd",
        &["--dataset", "xor-easy", "--stop-loss", "off"],
        "7",
        "12",
    );
}

#[test]
fn resume_with_shuffled_adam_mini_batches_equals_one_longer_run() {
    assert_resume_is_one_longer_run(
        "resume-adam",
        &[
            "--dataset",
            "linear",
            "--points",
            "50",
            "--optimizer",
            "adam",
            "--lr",
            "0.01",
            "--batch-size",
            "8",
            "--shuffle",
            "3",
        ],
        "5",
        "9",
    );
}

#[test]
fn resume_with_momentum_from_a_csv_file_equals_one_longer_run() {
    let dir = scratch("resume-csv-data");
    let csv = dir.join("points.csv");
    chainrule::data::thin_right_angle(40, 2)
        .to_csv(&csv)
        .unwrap();
    assert_resume_is_one_longer_run(
        "resume-momentum",
        &[
            "--csv",
            csv.to_str().unwrap(),
            "--optimizer",
            "momentum",
            "--momentum",
            "0.5",
            "--lr",
            "0.2",
            "--loss",
            "bce",
        ],
        "4",
        "10",
    );
}

// ---- graph, trace ---------------------------------------------------------------------------

#[test]
fn graph_writes_the_dot_of_one_step_and_trace_prints_the_chain_rule() {
    let dir = scratch("graph-trace");
    ok(
        &dir,
        &[
            "train",
            "--dataset",
            "xor4",
            "--hidden",
            "3",
            "--epochs",
            "5",
            "--no-plots",
            "--out",
            "run",
        ],
    );
    let weights = "run/weights.safetensors";
    ok(
        &dir,
        &[
            "graph",
            "--weights",
            weights,
            "--sample",
            "2",
            "--out",
            "g.dot",
        ],
    );
    let dot = String::from_utf8(read(dir.join("g.dot"))).unwrap();
    assert!(dot.starts_with("digraph tape {"), "{dot}");
    // Parameters W1, b1, W2, b2, with gradients filled in by the backward sweep.
    assert_eq!(dot.matches(": param ").count(), 4, "{dot}");
    assert!(!dot.contains("no backward"), "{dot}");
    // To stdout: only the DOT.
    let piped = ok(&dir, &["graph", "--weights", weights, "--sample", "2"]);
    assert_eq!(piped.trim_end(), dot.trim_end());

    let trace = ok(&dir, &["trace", "--weights", weights, "--sample", "1"]);
    assert!(trace.contains("= mse("), "{trace}");
    assert!(trace.contains("dL/dn"), "{trace}");
    let markdown = ok(
        &dir,
        &["trace", "--weights", weights, "--sample", "1", "--markdown"],
    );
    assert!(
        markdown.contains("| step | node | dL/d(node) | rule | with | adds |"),
        "{markdown}"
    );
}

// ---- help -----------------------------------------------------------------------------------

#[test]
fn every_command_has_help_showing_the_lab_defaults() {
    let dir = scratch("help");
    let top = ok(&dir, &["--help"]);
    for command in ["train", "predict", "experiment", "graph", "trace"] {
        assert!(top.contains(command), "{top}");
        let help = ok(&dir, &[command, "--help"]);
        assert!(help.contains("Usage: chainrule"), "{help}");
    }
    let train = ok(&dir, &["train", "--help"]);
    for default in [
        "[default: 0.8]",
        "[default: 4,4]",
        "[default: sigmoid]",
        "[default: sgd]",
        "[default: 1]",
        "[default: 0.04]",
        "[default: 5000]",
        "[default: mse",
    ] {
        assert!(train.contains(default), "{default}: {train}");
    }
}

#[test]
fn trace_html_writes_a_self_contained_page_of_the_users_network() {
    let dir = scratch("trace-html");
    ok(
        &dir,
        &[
            "train",
            "--dataset",
            "xor4",
            "--epochs",
            "20",
            "--stop-loss",
            "off",
            "--no-plots",
            "--out",
            "run",
        ],
    );
    let text = ok(
        &dir,
        &[
            "trace",
            "--weights",
            "run/weights.safetensors",
            "--sample",
            "2",
            "--html",
            "step.html",
        ],
    );
    assert!(text.contains("page: step.html"), "{text}");
    let page = String::from_utf8(read(dir.join("step.html"))).unwrap();
    assert!(
        page.starts_with("<!DOCTYPE html>") || page.starts_with("<!doctype html>"),
        "{}",
        &page[..40]
    );
    assert!(!page.contains("http://") && !page.contains("https://"));
    let err = fails(
        &dir,
        &[
            "trace",
            "--weights",
            "run/weights.safetensors",
            "--html",
            "no/such/dir/p.html",
        ],
        1,
    );
    assert!(err.contains("p.html"), "{err}");
}

#[test]
fn experiment_prints_one_row_per_variant_and_writes_both_figures() {
    let dir = scratch("experiment");
    let text = ok(
        &dir,
        &[
            "experiment",
            "optimizer",
            "--dataset",
            "xor-easy",
            "--epochs",
            "300",
            "--out",
            "figs",
        ],
    );
    for variant in ["| sgd |", "| momentum |", "| adam |"] {
        assert!(text.contains(variant), "{variant}: {text}");
    }
    for figure in ["optimizer_loss.png", "optimizer_accuracy.png"] {
        let png = read(dir.join("figs").join(figure));
        assert!(png.starts_with(b"\x89PNG"), "{figure} is a PNG");
    }
    let err = fails(&dir, &["experiment", "speed", "--dataset", "linear"], 2);
    assert!(err.contains("expected one of lr, hidden"), "{err}");
}

// ---- bad input ------------------------------------------------------------------------------

#[test]
fn each_bad_flag_value_gets_one_line_and_status_2() {
    let dir = scratch("bad-flags");
    let cases: [(&[&str], &str); 9] = [
        (
            &["train", "--dataset", "spiral", "--out", "o"],
            "unknown data set `spiral` (expected one of: linear, xor-easy,",
        ),
        (
            &["train", "--activation", "swish", "--out", "o"],
            "unknown activation `swish` (expected one of: sigmoid, relu, tanh, identity)",
        ),
        (
            &["train", "--loss", "hinge", "--out", "o"],
            "unknown loss `hinge` (expected one of: mse, sse, bce)",
        ),
        (
            &["train", "--optimizer", "rmsprop", "--out", "o"],
            "unknown optimizer `rmsprop` (expected one of: sgd, momentum, adam)",
        ),
        (
            &["train", "--lr", "-0.5", "--out", "o"],
            "`-0.5` is not a positive finite number",
        ),
        (
            &["train", "--lr", "0", "--out", "o"],
            "`0` is not a positive finite number",
        ),
        (
            &["train", "--lr", "nan", "--out", "o"],
            "`nan` is not a positive finite number",
        ),
        (
            &["train", "--lr", "inf", "--out", "o"],
            "`inf` is not a positive finite number",
        ),
        (
            &["predict", "--dataset", "xor-easy"],
            "the following required arguments were not provided: --weights <FILE>",
        ),
    ];
    for (args, expected) in cases {
        let err = fails(&dir, args, 2);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    assert!(
        !dir.join("o").exists(),
        "nothing is written on a usage error"
    );
}

#[test]
fn a_csv_with_a_bad_line_is_named_with_its_line() {
    let dir = scratch("bad-csv");
    std::fs::write(
        dir.join("points.csv"),
        "x0,x1,label\n0.1,0.2,1\n0.3,zero,0\n",
    )
    .unwrap();
    let err = fails(&dir, &["train", "--csv", "points.csv", "--out", "o"], 1);
    assert_eq!(
        err,
        "error: data: points.csv, line 3: field 2 (x1) `zero` is not a number"
    );
}

#[test]
fn an_output_directory_that_cannot_be_written_is_refused_before_training() {
    let dir = scratch("bad-out");
    std::fs::write(dir.join("a-file"), "").unwrap();
    let err = fails(
        &dir,
        &["train", "--dataset", "xor4", "--out", "a-file/run"],
        1,
    );
    assert!(
        err.starts_with("error: cannot write to the output directory a-file/run: "),
        "{err}"
    );
}

#[test]
fn a_diverging_run_says_where_and_exits_non_zero() {
    let dir = scratch("diverge");
    // No activation at all and a huge rate: the lab report's column of nan.
    let err = fails(
        &dir,
        &[
            "train",
            "--dataset",
            "linear",
            "--activation",
            "identity",
            "--lr",
            "100",
            "--out",
            "o",
        ],
        1,
    );
    assert!(
        err.starts_with("error: training diverged at epoch 1, step "),
        "{err}"
    );
    assert!(err.contains("anomaly in the"), "{err}");
}

/// A weights file for the 2-3-1 network, written by the library.
fn weights_file(dir: &Path) -> PathBuf {
    let mlp = Mlp::new(
        &[2, 3, 1],
        &[Activation::Sigmoid; 2],
        true,
        Init::Uniform,
        1,
    );
    let path = dir.join("weights.safetensors");
    io::save_weights(&path, &mlp, Loss::Mse).unwrap();
    path
}

#[test]
fn each_bad_weights_file_gets_one_line_naming_it() {
    let dir = scratch("bad-weights");
    let good = read(weights_file(&dir));
    let path = dir.join("weights.safetensors");
    let predict = |bytes: &[u8]| {
        std::fs::write(&path, bytes).unwrap();
        fails(&dir, &["predict", "--weights", "weights.safetensors"], 1)
    };
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    let mut bad_header = good.clone();
    bad_header[9] = b'!';
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (good[..good.len() / 2].to_vec(), "truncated"),
        (good[..4].to_vec(), "truncated"),
        (flipped, "does not match the metadata's checksum"),
        (bad_header, "the header is not a JSON object"),
    ];
    for (bytes, expected) in cases {
        let err = predict(&bytes);
        assert!(
            err.starts_with("error: weights.safetensors: ") && err.contains(expected),
            "{err}"
        );
    }
    let err = fails(&dir, &["predict", "--weights", "absent.safetensors"], 1);
    assert!(
        err.starts_with("error: cannot read absent.safetensors: "),
        "{err}"
    );
}

#[test]
fn weights_whose_metadata_does_not_match_their_tensors_are_refused() {
    use safetensors::SafeTensors;
    let dir = scratch("mismatch");
    let good = read(weights_file(&dir));
    // The metadata of the 2-3-1 file, rewritten to claim 2-4-1 over the same tensors.
    let file = SafeTensors::deserialize(&good).unwrap();
    let (_, header) = SafeTensors::read_metadata(&good).unwrap();
    let text = &header.metadata().as_ref().unwrap()[io::METADATA_KEY];
    let text = text.replace("[2,3,1]", "[2,4,1]");
    let meta = std::collections::HashMap::from([(io::METADATA_KEY.to_string(), text)]);
    let bytes = safetensors::serialize(file.tensors(), Some(meta)).unwrap();
    std::fs::write(dir.join("lying.safetensors"), bytes).unwrap();
    let err = fails(&dir, &["predict", "--weights", "lying.safetensors"], 1);
    assert_eq!(
        err,
        "error: lying.safetensors: tensor `layers.0.weight` has shape [3, 2], expected [4, 2] \
         (layer 0, 2 inputs to 4 outputs, as [out, in])"
    );
    // A network that does not fit the data.
    let three_inputs = Mlp::new(&[3, 1], &[Activation::Sigmoid], true, Init::Uniform, 1);
    io::save_weights(&dir.join("three.safetensors"), &three_inputs, Loss::Mse).unwrap();
    let err = fails(&dir, &["predict", "--weights", "three.safetensors"], 1);
    assert!(
        err.contains("the network [3, 1] takes 3 inputs and gives 1 outputs"),
        "{err}"
    );
}

#[test]
fn resume_refuses_fewer_epochs_than_done_and_settings_it_would_ignore() {
    let dir = scratch("resume-bad");
    ok(
        &dir,
        &[
            "train",
            "--dataset",
            "xor4",
            "--epochs",
            "6",
            "--no-plots",
            "--out",
            "run",
        ],
    );
    let err = fails(&dir, &["train", "--resume", "run", "--epochs", "3"], 1);
    assert_eq!(
        err,
        "error: --epochs 3: the saved run already did 6 epochs, and --epochs counts them too \
         (give more than 6)"
    );
    let err = fails(&dir, &["train", "--resume", "run", "--lr", "0.1"], 2);
    assert!(
        err.contains("'--resume <DIR>' cannot be used with '--lr <LR>'"),
        "{err}"
    );
    std::fs::remove_file(dir.join("run/optimizer.safetensors")).unwrap();
    let err = fails(&dir, &["train", "--resume", "run", "--epochs", "9"], 1);
    assert!(
        err.starts_with("error: cannot read run/optimizer.safetensors: "),
        "{err}"
    );
}

#[test]
fn a_sample_out_of_range_is_refused() {
    let dir = scratch("sample");
    weights_file(&dir);
    let err = fails(
        &dir,
        &[
            "trace",
            "--weights",
            "weights.safetensors",
            "--dataset",
            "xor4",
            "--sample",
            "4",
        ],
        1,
    );
    assert_eq!(
        err,
        "error: --sample 4: the data set has 4 samples, counted from 0 (expected 0 to 3)"
    );
}

#[test]
fn a_network_too_large_for_memory_is_refused_before_it_is_built() {
    let dir = scratch("too-large");
    let err = fails(
        &dir,
        &["train", "--hidden", "4096,4096,4096", "--out", "o"],
        1,
    );
    assert_eq!(
        err,
        "error: --hidden: the network [2, 4096, 4096, 4096, 1] would have 33566720 weights; at \
         most 10000000 (80 MB)"
    );
}
