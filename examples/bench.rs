//! The headline benchmark figures in one run: tape vs hand-derived path on W1, W2 and W3
//! (defined in `benches/common/workloads.rs`), medians of repeated runs, heap allocations per step
//! counted by a counting global allocator after a warm-up step. On W1 and W3 the step recorded
//! once and replayed (`Tape::replay`) runs in the same alternation as `chainrule-replay`; on W1
//! also `fixed-hand`, the 2-4-4-1 network written with const-generic stack arrays
//! (`benches/common/fixed.rs`), the proxy for what this machine can do on W1 at all.
//!
//! Run: `cargo run --release --example bench` (about a minute on 2 cores), or
//! `cargo run --release --example bench -- --repeats 5 --only W1` (workloads: W1, W1-train, W2,
//! W3), and `-- --chart docs/benchmarks.svg` to draw the figure of `docs/benchmarks.md` from the
//! run; `-- --help` lists the options.
//!
//! Prints lines like
//! `RESULT system=chainrule-tape workload=W1 metric=us_per_step value=0.61 repeats=7 extra=allocs_per_step=0`
//! and `RATIO workload=W1 tape_over_hand=2.26`; on W1 also
//! `RESULT system=fixed-hand workload=W1 metric=us_per_step value=…` and
//! `RATIO workload=W1 hand_over_fixed=… tape_over_fixed=…`, `RESULT system=chainrule-replay …`
//! and `RATIO workload=W1 tape_over_replay=… replay_over_fixed=…` (W3: `tape_over_replay`).

#[path = "../benches/common/workloads.rs"]
mod workloads;

#[path = "../benches/common/fixed.rs"]
mod fixed;

use std::hint::black_box;
use std::time::Instant;

use chainrule::hand::Workspace;
use chainrule::kernels::{gemm_by, packed_available, GemmPath, Layout as MatLayout};
use chainrule::optim::Sgd;
use chainrule::train::Measure;
use chainrule::Tape;
use workloads::*;

#[path = "../benches/common/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations;
use fixed::W1Fixed;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// Median seconds per step and mean heap allocations per step.
struct Timing {
    secs_per_step: f64,
    allocs_per_step: f64,
}

const USAGE: &str = "usage: cargo run --release --example bench -- [--repeats N] [--only W1|W1-train|W2|W3] [--chart PATH]
  --repeats N   runs per workload, medians reported (default 7; W2 at least 5)
  --only W      one workload: W1, W1-train (the training loop against the plain tape loop), W2, W3
  --chart PATH  draw tape vs hand (W1, W2, W3) as an SVG bar chart";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return;
    }
    let repeats = arg(&args, "--repeats").unwrap_or(7);
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let wants = |w: &str| only.as_deref().is_none_or(|o| o.eq_ignore_ascii_case(w));
    println!(
        "# chainrule bench: medians of {repeats} runs; GEMM: {}",
        if packed_available() {
            "the crate's packed AVX-512 kernel, 2 threads above 2^20 multiply-adds"
        } else {
            "matrixmultiply (no AVX-512F on this CPU)"
        }
    );
    let chart = args
        .iter()
        .position(|a| a == "--chart")
        .and_then(|i| args.get(i + 1))
        .cloned();
    // (workload label, tape µs/step, hand µs/step) for the chart.
    let mut rows: Vec<(String, f64, f64)> = Vec::new();
    if wants("W1") {
        rows.push(w1_report(repeats));
    }
    if wants("W1-train") {
        w1_train_report(repeats);
    }
    if wants("W2") {
        rows.push(w2_report(repeats.max(5)));
    }
    if wants("W3") {
        rows.push(w3_report(repeats));
    }
    if let Some(path) = chart {
        let categories: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
        let series = [
            ("tape", rows.iter().map(|r| r.1).collect()),
            ("hand", rows.iter().map(|r| r.2).collect()),
        ];
        let title = "chainrule: tape vs hand-derived path, µs per training step (log scale)";
        match chainrule::plot::bar_chart(
            std::path::Path::new(&path),
            title,
            "µs per step",
            &categories,
            &series,
        ) {
            Ok(()) => println!("# chart written to {path}"),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        }
    }
}

fn arg(args: &[String], name: &str) -> Option<usize> {
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1)?.parse().ok()
}

/// One timed run: `setup` (untimed), one warm-up step (untimed: buffers grow here), then
/// `steps` timed steps. Returns seconds per step and the heap allocations of the timed steps.
fn one_run<S>(
    steps: usize,
    setup: &mut impl FnMut() -> S,
    step: &mut impl FnMut(&mut S),
) -> (f64, usize) {
    let mut state = setup();
    step(&mut state);
    let before = allocations();
    let start = Instant::now();
    for _ in 0..steps {
        step(&mut state);
    }
    let secs = start.elapsed().as_secs_f64() / steps as f64;
    let allocs = allocations() - before;
    black_box(&state);
    (secs, allocs)
}

/// Times several paths on one workload, alternating their runs (the first, the second, …, the
/// first again, …) so that a drift in the shared machine's speed affects all alike. Each of
/// `runs` is one timed run of `steps` steps (see [`one_run`]); returns their timings in order.
fn measure_alternating<const N: usize>(
    repeats: usize,
    steps: usize,
    mut runs: [&mut dyn FnMut() -> (f64, usize); N],
) -> [Timing; N] {
    let mut results: [Vec<(f64, usize)>; N] = std::array::from_fn(|_| Vec::new());
    for _ in 0..repeats {
        for (run, results) in runs.iter_mut().zip(&mut results) {
            results.push(run());
        }
    }
    results.map(|runs| timing(&runs, steps))
}

fn timing(runs: &[(f64, usize)], steps: usize) -> Timing {
    let allocs: usize = runs.iter().map(|r| r.1).sum();
    Timing {
        secs_per_step: median(runs.iter().map(|r| r.0).collect()),
        allocs_per_step: allocs as f64 / (runs.len() * steps) as f64,
    }
}

fn result(system: &str, workload: &str, metric: &str, value: f64, repeats: usize, extra: &str) {
    println!("RESULT system={system} workload={workload} metric={metric} value={value:.4} repeats={repeats} extra={extra}");
}

fn w1_report(repeats: usize) -> (String, f64, f64) {
    let (d, start) = w1();
    let steps = W1_EPOCHS * d.len();
    let samples = fixed::samples(&d);
    // One "step" of `measure_alternating` is one epoch here (100 per-sample steps), so the timer
    // is read once per 100 steps.
    let epochs = W1_EPOCHS;
    let [tape, replay, hand, fixed] = measure_alternating(
        repeats,
        epochs,
        [
            &mut || {
                one_run(
                    epochs,
                    &mut || (Tape::with_capacity(32, 64), start.clone()),
                    &mut |(t, m)| {
                        black_box(w1_tape_epoch(t, m, &d));
                    },
                )
            },
            &mut || {
                // Recorded once here, replayed in every step (the warm-up epoch included).
                let tape = Tape::new();
                let replayed = W1Replay::record(&tape, &start, &d);
                let mut sgd = Sgd::new(W1_LR);
                one_run(epochs, &mut || (), &mut |_| {
                    black_box(replayed.epoch(&d, &mut sgd));
                })
            },
            &mut || {
                one_run(
                    epochs,
                    &mut || (Workspace::new(), start.clone()),
                    &mut |(ws, m)| {
                        black_box(w1_hand_epoch(ws, m, &d));
                    },
                )
            },
            &mut || {
                one_run(epochs, &mut || W1Fixed::from_mlp(&start), &mut |net| {
                    black_box(net.epoch(&samples, W1_LR));
                })
            },
        ],
    );
    let per = d.len() as f64;
    let us = |t: &Timing| t.secs_per_step / per * 1e6;
    let (tape_us, replay_us, hand_us, fixed_us) = (us(&tape), us(&replay), us(&hand), us(&fixed));
    for (system, t, t_us) in [
        ("chainrule-tape", &tape, tape_us),
        ("chainrule-replay", &replay, replay_us),
        ("chainrule-hand", &hand, hand_us),
        ("fixed-hand", &fixed, fixed_us),
    ] {
        result(
            system,
            "W1",
            "us_per_step",
            t_us,
            repeats,
            &format!(
                "allocs_per_step={},steps={steps},steps_per_sec={:.0}",
                t.allocs_per_step / per,
                1e6 / t_us
            ),
        );
    }
    println!("RATIO workload=W1 tape_over_hand={:.2}", tape_us / hand_us);
    println!(
        "RATIO workload=W1 hand_over_fixed={:.2} tape_over_fixed={:.2}",
        hand_us / fixed_us,
        tape_us / fixed_us
    );
    println!(
        "RATIO workload=W1 tape_over_replay={:.2} replay_over_fixed={:.2}",
        tape_us / replay_us,
        replay_us / fixed_us
    );
    ("W1 lab (2-4-4-1, batch 1)".into(), tape_us, hand_us)
}

/// W1 through the training loop against the plain tape loop of `w1_tape_epoch`, each a whole
/// 1000-epoch run from the same start. Each repeat times the three (plain, loop measuring during
/// the epoch, loop evaluating after each epoch) back to back, in an order that rotates from
/// repeat to repeat so that none is always first. A ratio is the median over repeats of each
/// repeat's own ratio; the ratio of the fastest runs is printed beside it (on a loaded machine
/// the minimum is the least disturbed figure). Allocations per step are counted from the end of
/// the loop's first epoch (its warm-up) to the end of its last.
fn w1_train_report(repeats: usize) {
    let (d, start) = w1();
    let steps = W1_EPOCHS * d.len();
    // The weights every run must end at (untimed): the loop takes the plain loop's steps.
    let mut reference = start.clone();
    let mut tape = Tape::with_capacity(32, 64);
    for _ in 0..W1_EPOCHS {
        w1_tape_epoch(&mut tape, &mut reference, &d);
    }
    let measures = [Measure::DuringEpoch, Measure::AfterEpoch];
    // secs[0]: plain; secs[1 + k]: the loop with measures[k].
    let mut secs = [Vec::new(), Vec::new(), Vec::new()];
    let mut allocs = [0, 0];
    for repeat in 0..repeats {
        for turn in 0..3 {
            let which = (repeat + turn) % 3;
            let mut mlp = start.clone();
            let begin = Instant::now();
            if which == 0 {
                let mut tape = Tape::with_capacity(32, 64);
                for _ in 0..W1_EPOCHS {
                    black_box(w1_tape_epoch(&mut tape, &mut mlp, &d));
                }
                secs[0].push(begin.elapsed().as_secs_f64());
            } else {
                let mut counts = Vec::with_capacity(W1_EPOCHS);
                black_box(w1_train(
                    &mut mlp,
                    &d,
                    W1_EPOCHS,
                    measures[which - 1],
                    |_| counts.push(allocations()),
                ));
                secs[which].push(begin.elapsed().as_secs_f64());
                allocs[which - 1] += counts[W1_EPOCHS - 1] - counts[0];
            }
            assert_eq!(
                mlp, reference,
                "every run ends at the same weights, to the bit"
            );
        }
    }
    let us = |secs: f64| secs / steps as f64 * 1e6;
    let min = |xs: &[f64]| xs.iter().copied().fold(f64::INFINITY, f64::min);
    let plain_us = us(median(secs[0].clone()));
    for (k, (system, label)) in [
        ("chainrule-train", "train_over_tape_loop"),
        ("chainrule-train-eval", "train_eval_over_tape_loop"),
    ]
    .into_iter()
    .enumerate()
    {
        let runs = &secs[1 + k];
        let loop_us = us(median(runs.clone()));
        let ratios: Vec<f64> = runs.iter().zip(&secs[0]).map(|(a, b)| a / b).collect();
        let allocs_per_step = allocs[k] as f64 / (repeats * (steps - d.len())) as f64;
        result(
            system,
            "W1-train",
            "us_per_step",
            loop_us,
            repeats,
            &format!(
                "allocs_per_step={allocs_per_step},measure={:?},steps={steps},steps_per_sec={:.0},tape_loop_us_per_step={plain_us:.4}",
                measures[k],
                1e6 / loop_us
            ),
        );
        println!(
            "RATIO workload=W1-train {label}={:.3} ratio_of_fastest={:.3}",
            median(ratios),
            min(runs) / min(&secs[0])
        );
    }
}

fn w2_report(repeats: usize) -> (String, f64, f64) {
    let (d, start) = w2();
    let batch = d.len();
    let (x, y) = (d.x.as_slice(), d.y.as_slice());
    // The GEMM bound: one 4096x256x256 product, timed by the GEMM the step uses (the crate's
    // packed kernel where the CPU has AVX-512F) and, for reference, by matrixmultiply; the bound
    // is taken at the faster rate. W2's absolute times drift by ±15% on this shared machine, so
    // each repeat times tape, hand and both GEMMs back to back, and the fraction of the bound is
    // the median over repeats of each repeat's own fraction.
    let (m, k, n) = (4096, 256, 256);
    let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.001).sin()).collect();
    let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.002).cos()).collect();
    let mut c = vec![0.0; m * n];
    let mut product = |path: GemmPath| {
        gemm_by(
            path,
            m,
            k,
            n,
            &a,
            MatLayout::AsIs,
            &b,
            MatLayout::AsIs,
            &mut c,
            false,
        );
        black_box(&c);
    };
    let (mut tape_runs, mut hand_runs, mut ours, mut reference) = (vec![], vec![], vec![], vec![]);
    for _ in 0..repeats {
        tape_runs.push(one_run(
            W2_STEPS,
            &mut || (Tape::new(), start.clone()),
            &mut |(t, m): &mut (Tape, _)| {
                black_box(tape_step(t, m, x, y, batch, W2_LR));
            },
        ));
        hand_runs.push(one_run(
            W2_STEPS,
            &mut || (Workspace::new(), start.clone()),
            &mut |(ws, m): &mut (Workspace, _)| {
                black_box(hand_step(ws, m, x, y, batch, W2_LR));
            },
        ));
        ours.push(one_run(10, &mut || (), &mut |_| product(GemmPath::Auto)));
        reference.push(one_run(10, &mut || (), &mut |_| {
            product(GemmPath::MatrixMultiply)
        }));
    }
    let product_flops = 2.0 * (m * k * n) as f64;
    let rate = |secs: f64| product_flops / secs / 1e9;
    for (system, runs) in [("chainrule-gemm", &ours), ("matrixmultiply", &reference)] {
        let t = timing(runs, 10);
        let extra = format!("allocs_per_call={}", t.allocs_per_step);
        result(
            system,
            "GEMM-4096x256x256",
            "gflops",
            rate(t.secs_per_step),
            repeats,
            &extra,
        );
    }
    let flops = gemm_flops_per_step(&start, batch);
    let gflops = |secs: f64| flops / secs / 1e9;
    for (system, runs) in [
        ("chainrule-tape", &tape_runs),
        ("chainrule-hand", &hand_runs),
    ] {
        let t = timing(runs, W2_STEPS);
        // This repeat's step rate over the faster GEMM rate of the same repeat.
        let fractions: Vec<f64> = (0..repeats)
            .map(|i| gflops(runs[i].0) / rate(ours[i].0.min(reference[i].0)))
            .collect();
        let bound = median(fractions);
        result(system, "W2", "ms_per_step", t.secs_per_step * 1e3, repeats, &format!("allocs_per_step={},gflops={:.2},fraction_of_gemm_bound={bound:.2},gemm_flops_per_step={flops:.3e}", t.allocs_per_step, gflops(t.secs_per_step)));
    }
    let (tape, hand) = (timing(&tape_runs, W2_STEPS), timing(&hand_runs, W2_STEPS));
    println!(
        "RATIO workload=W2 tape_over_hand={:.3}",
        tape.secs_per_step / hand.secs_per_step
    );
    let label = "W2 batched (2-256-256-1, batch 4096)".to_string();
    (label, tape.secs_per_step * 1e6, hand.secs_per_step * 1e6)
}

fn w3_report(repeats: usize) -> (String, f64, f64) {
    let (d, start) = w3();
    let mut nodes = 0;
    let mut replayed_nodes = 0;
    let [tape, replay, hand] = measure_alternating(
        repeats,
        W3_STEPS,
        [
            &mut || {
                one_run(
                    W3_STEPS,
                    &mut || (Tape::new(), ScalarMlp::from_mlp(&start)),
                    &mut |(t, m)| {
                        let (loss, n) = m.step(t, &d, W3_LR);
                        nodes = n;
                        black_box(loss);
                    },
                )
            },
            &mut || {
                // Recorded once here, replayed in every step (the warm-up step included).
                let tape = Tape::new();
                let replayed = ScalarMlp::from_mlp(&start).record(&tape, &d);
                let mut sgd = Sgd::new(W3_LR);
                one_run(W3_STEPS, &mut || (), &mut |_| {
                    let (loss, n) = replayed.step(&mut sgd);
                    replayed_nodes = n;
                    black_box(loss);
                })
            },
            &mut || {
                one_run(
                    W3_STEPS,
                    &mut || (Workspace::new(), start.clone()),
                    &mut |(ws, m)| {
                        black_box(hand_step(
                            ws,
                            m,
                            d.x.as_slice(),
                            d.y.as_slice(),
                            d.len(),
                            W3_LR,
                        ));
                    },
                )
            },
        ],
    );
    assert_eq!(nodes, replayed_nodes, "the replay runs the recorded graph");
    for (system, t) in [("chainrule-tape", &tape), ("chainrule-replay", &replay)] {
        result(
            system,
            "W3",
            "ns_per_node",
            t.secs_per_step * 1e9 / nodes as f64,
            repeats,
            &format!(
                "nodes={nodes},us_per_step={:.1},allocs_per_step={}",
                t.secs_per_step * 1e6,
                t.allocs_per_step
            ),
        );
    }
    result(
        "chainrule-hand",
        "W3",
        "us_per_step",
        hand.secs_per_step * 1e6,
        repeats,
        &format!("allocs_per_step={}", hand.allocs_per_step),
    );
    println!(
        "RATIO workload=W3 tape_over_hand={:.2} tape_over_replay={:.2}",
        tape.secs_per_step / hand.secs_per_step,
        tape.secs_per_step / replay.secs_per_step
    );
    let label = "W3 scalar (2-16-16-1, batch 100)".to_string();
    (label, tape.secs_per_step * 1e6, hand.secs_per_step * 1e6)
}
