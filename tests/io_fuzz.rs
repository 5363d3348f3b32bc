//! Every loader against mutated and truncated versions of valid files, in process: each must
//! return a value or an error — never panic, never hang, never allocate more than the file's
//! size can justify.
//!
//! A counting global allocator (this file's alone: it counts every allocation of the test
//! binary) measures, per load, the largest single allocation and the peak of live heap bytes.
//! The loaders read bytes already in memory, so what is counted is what a load adds. The bounds:
//! - no single allocation larger than the file plus [`SLACK`]: a header that declares a huge
//!   tensor, a huge slot count or a huge header length must be refused before anything is
//!   sized by it;
//! - live bytes at most [`PER_BYTE`] × the file's length plus [`SLACK`]: parsing JSON builds a
//!   tree of maps and strings several times the size of its text, and a CSV row of 6 bytes
//!   becomes 24 bytes of numbers in vectors that grow by doubling. (Measured on these inputs,
//!   up to 2.6 KB: peak below 24 KB, largest allocation below 3.4 KB; the test prints them.)
//!
//! A hang fails the watchdog: each loader's cases run on their own thread, which must finish
//! within [`WATCHDOG`] (in release they take about a second).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use chainrule::data;
use chainrule::io::{self, HistoryRow, RunRecord};
use chainrule::loss::Loss;
use chainrule::nn::{Activation, Init, Mlp};
use chainrule::optim::{Adam, Optimizer, OptimizerSpec};
use chainrule::{Matrix, Tape};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Cases per loader; 100,000 in all.
const WEIGHTS_CASES: usize = 40_000;
const OPTIMIZER_CASES: usize = 30_000;
const RUN_CASES: usize = 10_000;
const HISTORY_CASES: usize = 10_000;
const CSV_CASES: usize = 10_000;

/// See the module doc.
const PER_BYTE: usize = 32;
const SLACK: usize = 64 * 1024;
const WATCHDOG: Duration = Duration::from_secs(600);

// ---- the counting allocator ----------------------------------------------------------------

struct Counting;

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn on_alloc(size: usize) {
    // try_with: the thread-locals may be gone while a thread shuts down.
    let _ = TRACKING.try_with(|tracking| {
        if tracking.get() {
            let live = LIVE.get() + size;
            LIVE.set(live);
            PEAK.set(PEAK.get().max(live));
            LARGEST.set(LARGEST.get().max(size));
        }
    });
}

fn on_dealloc(size: usize) {
    let _ = TRACKING.try_with(|tracking| {
        if tracking.get() {
            LIVE.set(LIVE.get().saturating_sub(size));
        }
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        on_alloc(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        on_alloc(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        on_dealloc(layout.size());
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        on_dealloc(layout.size());
        on_alloc(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// What one load did.
struct Measured {
    outcome: Result<(), String>,
    largest: usize,
    peak: usize,
}

/// What a loader under test returns: a value (`Ok`) or its error's message.
type Load = fn(&[u8]) -> Result<(), String>;

/// Runs `load` on `input`, catching a panic, and measures its allocations.
fn measure(input: &[u8], load: Load) -> Result<Measured, String> {
    LIVE.set(0);
    PEAK.set(0);
    LARGEST.set(0);
    TRACKING.set(true);
    let result = panic::catch_unwind(AssertUnwindSafe(|| load(input)));
    TRACKING.set(false);
    match result {
        Ok(outcome) => Ok(Measured {
            outcome,
            largest: LARGEST.get(),
            peak: PEAK.get(),
        }),
        Err(payload) => Err(payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()),
    }
}

// ---- mutations -----------------------------------------------------------------------------

/// Numbers that stress declared sizes: the largest integers, overflowing ones, negative,
/// fractional, zero.
const NUMBERS: [&str; 12] = [
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775807",
    "4294967296",
    "99999999999999999999999999",
    "1e308",
    "-1",
    "0",
    "1",
    "0.5",
    "NaN",
    "123456789",
];

/// Words swapped for each other inside headers and records.
const WORDS: [&str; 24] = [
    "F64",
    "F32",
    "I64",
    "BOOL",
    "U8",
    "sigmoid",
    "swish",
    "relu",
    "true",
    "false",
    "null",
    "mse",
    "adam",
    "momentum",
    "sgd",
    "layers.0.weight",
    "layers.1.bias",
    "layers.7.weight",
    "m.0",
    "v.1",
    "velocity.0",
    "__metadata__",
    "[]",
    "{}",
];

/// The safetensors header region `8..8 + n` of `bytes`, if its declared length fits.
fn header_range(bytes: &[u8]) -> Option<std::ops::Range<usize>> {
    let n = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    let end = 8usize.checked_add(usize::try_from(n).ok()?)?;
    (end <= bytes.len()).then_some(8..end)
}

/// Replaces `region` of `bytes` by `text` and, for a safetensors file, rewrites the header
/// length so the file stays well framed (to reach the checks behind the framing).
fn splice(bytes: &[u8], region: std::ops::Range<usize>, text: &[u8], safetensors: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + text.len());
    out.extend_from_slice(&bytes[..region.start]);
    out.extend_from_slice(text);
    out.extend_from_slice(&bytes[region.end..]);
    if safetensors {
        if let Some(header) = header_range(bytes) {
            let grown = header.end as i64 + text.len() as i64 - region.len() as i64 - 8;
            if region.start >= header.start && region.end <= header.end && grown >= 0 {
                out[..8].copy_from_slice(&(grown as u64).to_le_bytes());
            }
        }
    }
    out
}

/// Runs of ASCII digits in `text[range]`.
fn digit_runs(bytes: &[u8], range: std::ops::Range<usize>) -> Vec<std::ops::Range<usize>> {
    let mut runs = Vec::new();
    let mut i = range.start;
    while i < range.end {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < range.end && bytes[i].is_ascii_digit() {
                i += 1;
            }
            runs.push(start..i);
        } else {
            i += 1;
        }
    }
    runs
}

/// Occurrences of the words of [`WORDS`] in `bytes[range]`.
fn word_spots(bytes: &[u8], range: std::ops::Range<usize>) -> Vec<std::ops::Range<usize>> {
    let mut spots = Vec::new();
    for word in WORDS {
        let w = word.as_bytes();
        let mut i = range.start;
        while i + w.len() <= range.end {
            if &bytes[i..i + w.len()] == w {
                spots.push(i..i + w.len());
            }
            i += 1;
        }
    }
    spots
}

/// One mutation of `valid`, chosen by `rng`; `safetensors` enables the framing-aware ones.
fn mutate(rng: &mut StdRng, valid: &[u8], safetensors: bool) -> Vec<u8> {
    let len = valid.len();
    let text_region = if safetensors {
        header_range(valid).unwrap_or(0..len)
    } else {
        0..len
    };
    match rng.random_range(0..10) {
        // Flipped bits.
        0 => {
            let mut out = valid.to_vec();
            for _ in 0..rng.random_range(1..=4) {
                let at = rng.random_range(0..len);
                out[at] ^= 1 << rng.random_range(0..8);
            }
            out
        }
        // Random bytes.
        1 => {
            let mut out = valid.to_vec();
            for _ in 0..rng.random_range(1..=4) {
                let at = rng.random_range(0..len);
                out[at] = rng.random();
            }
            out
        }
        // Cut short.
        2 => valid[..rng.random_range(0..len)].to_vec(),
        // A range cut out of the middle.
        3 => {
            let start = rng.random_range(0..len);
            let end = rng.random_range(start..=len.min(start + 64));
            [&valid[..start], &valid[end..]].concat()
        }
        // A chunk repeated (duplicated lines, tensors, JSON).
        4 => {
            let start = rng.random_range(0..len);
            let end = rng.random_range(start..=len.min(start + 128));
            let times = rng.random_range(1..=8);
            let mut out = valid[..end].to_vec();
            for _ in 0..times {
                out.extend_from_slice(&valid[start..end]);
            }
            out.extend_from_slice(&valid[end..]);
            out
        }
        // A header length that lies.
        5 if safetensors => {
            let mut out = valid.to_vec();
            let lies = [
                u64::MAX,
                u64::MAX / 2,
                1 << 32,
                len as u64,
                len as u64 - 7,
                rng.random_range(0..len as u64),
                rng.random(),
            ];
            out[..8].copy_from_slice(&lies[rng.random_range(0..lies.len())].to_le_bytes());
            out
        }
        // A number replaced by a huge, negative or odd one (shapes, offsets, sizes, slots, t).
        5..=7 => {
            let runs = digit_runs(valid, text_region);
            if runs.is_empty() {
                return valid[..len / 2].to_vec();
            }
            let run = runs[rng.random_range(0..runs.len())].clone();
            let number = NUMBERS[rng.random_range(0..NUMBERS.len())];
            splice(valid, run, number.as_bytes(), safetensors)
        }
        // A word swapped for another (dtype, activation, names, JSON values).
        _ => {
            let spots = word_spots(valid, text_region);
            if spots.is_empty() {
                return valid[..len / 2].to_vec();
            }
            let spot = spots[rng.random_range(0..spots.len())].clone();
            let word = WORDS[rng.random_range(0..WORDS.len())];
            splice(valid, spot, word.as_bytes(), safetensors)
        }
    }
}

// ---- the driver ----------------------------------------------------------------------------

/// What a fuzzing run saw.
#[derive(Debug)]
struct Seen {
    loaded: usize,
    /// Per expected message: how many errors contained it.
    reached: Vec<usize>,
    largest: usize,
    peak: usize,
    longest_input: usize,
}

/// Feeds `cases` mutations of the `valid` inputs to `load` on a thread of its own, and fails
/// on a panic, a hang, or an allocation beyond the bounds; also unless every message of
/// `reach` was among the errors (so the mutations get past the framing to the deeper checks).
fn fuzz(
    name: &'static str,
    seed: u64,
    valid: Vec<Vec<u8>>,
    safetensors: bool,
    cases: usize,
    load: Load,
    reach: &'static [&'static str],
) {
    // Every valid input loads.
    for (k, input) in valid.iter().enumerate() {
        if let Err(e) = load(input) {
            panic!("{name}: valid input {k} does not load: {e}");
        }
    }
    let (done, finished) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut seen = Seen {
            loaded: 0,
            reached: vec![0; reach.len()],
            largest: 0,
            peak: 0,
            longest_input: 0,
        };
        for case in 0..cases {
            let base = &valid[case % valid.len()];
            let input = mutate(&mut rng, base, safetensors);
            let measured = measure(&input, load).unwrap_or_else(|message| {
                panic!(
                    "{name}: case {case} (seed {seed}) panicked: {message}; input {:?}",
                    String::from_utf8_lossy(&input)
                )
            });
            let n = input.len();
            assert!(
                measured.largest <= n + SLACK,
                "{name}: case {case} allocated {} bytes at once from {n} bytes of input",
                measured.largest
            );
            assert!(
                measured.peak <= PER_BYTE * n + SLACK,
                "{name}: case {case} held {} bytes from {n} bytes of input",
                measured.peak
            );
            match &measured.outcome {
                Ok(()) => seen.loaded += 1,
                Err(message) => {
                    assert!(!message.is_empty(), "{name}: case {case}: an empty message");
                    for (count, expected) in seen.reached.iter_mut().zip(reach) {
                        *count += usize::from(message.contains(expected));
                    }
                }
            }
            seen.largest = seen.largest.max(measured.largest);
            seen.peak = seen.peak.max(measured.peak);
            seen.longest_input = seen.longest_input.max(n);
        }
        let _ = done.send(seen);
    });
    match finished.recv_timeout(WATCHDOG) {
        Ok(seen) => {
            println!(
                "{name}: {cases} cases, {} loaded a value; inputs up to {} bytes; largest \
                 allocation {} bytes, peak {} bytes; errors reached: {:?}",
                seen.loaded,
                seen.longest_input,
                seen.largest,
                seen.peak,
                reach.iter().zip(&seen.reached).collect::<Vec<_>>()
            );
            worker.join().unwrap();
            for (expected, count) in reach.iter().zip(&seen.reached) {
                assert!(*count > 0, "{name}: no case reached the error `{expected}`");
            }
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // The worker panicked: report its message.
            let err = worker.join().unwrap_err();
            panic::resume_unwind(err);
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{name}: the cases did not finish within {WATCHDOG:?}: a loader hangs")
        }
    }
}

// ---- valid inputs --------------------------------------------------------------------------

fn networks() -> Vec<(Mlp, Loss)> {
    vec![
        (
            Mlp::new(
                &[2, 4, 4, 1],
                &[Activation::Sigmoid; 3],
                true,
                Init::Uniform,
                1,
            ),
            Loss::Mse,
        ),
        (
            Mlp::new(
                &[2, 1],
                &[Activation::Identity],
                false,
                Init::StandardNormal,
                2,
            ),
            Loss::Sse,
        ),
        (
            Mlp::new(
                &[2, 3, 2, 1],
                &[Activation::Relu, Activation::Tanh, Activation::Sigmoid],
                true,
                Init::Xavier,
                3,
            ),
            Loss::Bce,
        ),
    ]
}

/// Three steps of `opt` on `mlp`, so its buffers are filled.
fn stepped(mut opt: Box<dyn Optimizer>, mlp: &mut Mlp) -> Box<dyn Optimizer> {
    let mut tape = Tape::new();
    for _ in 0..3 {
        tape.reset();
        let net = mlp.bind(&tape);
        let x = tape.input(&Matrix::from_rows(&[[0.2, 0.9]]));
        let loss = net.forward(x).mse(tape.input(&Matrix::scalar(1.0)));
        opt.step(mlp, &net, &tape.backward(loss));
    }
    opt
}

#[test]
fn the_weights_loader_survives_mutated_files() {
    let valid = networks()
        .iter()
        .map(|(mlp, loss)| io::weights_to_bytes(mlp, *loss).unwrap())
        .collect();
    let load: Load = |bytes| {
        let saved = io::weights_from_bytes(bytes).map_err(|e| e.to_string())?;
        // What loads also saves, and reads back the same.
        let again = io::weights_to_bytes(&saved.mlp, saved.loss).unwrap();
        assert_eq!(io::weights_from_bytes(&again).unwrap(), saved);
        Ok(())
    };
    let reach = &[
        "the header length says",
        "declares data at bytes",
        "does not match the metadata's checksum",
        "the header is not a JSON object",
        "a tensor's data offsets do not match its shape and dtype",
        "has dtype",
        "has shape",
        "unknown activation",
        "is missing",
        "unexpected tensor",
        "metadata field `sizes`",
        "truncated",
    ];
    fuzz("weights", 1, valid, true, WEIGHTS_CASES, load, reach);
}

#[test]
fn the_optimizer_loader_survives_mutated_files() {
    let mut mlp = networks().remove(0).0;
    let specs = [
        OptimizerSpec::Adam {
            lr: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        },
        OptimizerSpec::Momentum { lr: 0.1, mu: 0.9 },
        OptimizerSpec::Sgd { lr: 0.8 },
    ];
    let mut valid: Vec<Vec<u8>> = specs
        .iter()
        .map(|spec| {
            let opt = stepped(spec.build(), &mut mlp);
            io::optimizer_to_bytes(spec, &opt.state()).unwrap()
        })
        .collect();
    valid.push(io::optimizer_to_bytes(&specs[0], &Adam::new(0.01).state()).unwrap());
    let load: Load = |bytes| {
        let saved = io::optimizer_from_bytes(bytes).map_err(|e| e.to_string())?;
        // What loads is a state its optimizer accepts, and saves back.
        let mut opt = saved.spec.build();
        opt.load_state(&saved.state).unwrap();
        io::optimizer_to_bytes(&saved.spec, &saved.state).unwrap();
        Ok(())
    };
    let reach = &[
        "declares data at bytes",
        "metadata field `slots`",
        "metadata field `buffers`",
        "metadata field `kind`",
        "hyperparameters",
        "a tensor's data offsets do not match its shape and dtype",
    ];
    fuzz("optimizer", 2, valid, true, OPTIMIZER_CASES, load, reach);
}

#[test]
fn the_run_record_loader_survives_mutated_files() {
    let records = [
        RunRecord {
            data: data::DataSource::Builtin {
                set: data::Builtin::Circle,
                points: Some(500),
                seed: 3,
            },
            batch_size: 1,
            shuffle: Some(7),
            stop_loss: Some(0.04),
            epochs_done: 20_000,
            finished: false,
        },
        RunRecord {
            data: data::DataSource::Csv("/tmp/points.csv".into()),
            batch_size: 16,
            shuffle: None,
            stop_loss: None,
            epochs_done: 3,
            finished: true,
        },
    ];
    let valid = records
        .iter()
        .map(|r| r.to_json().unwrap().into_bytes())
        .collect();
    let load: Load = |bytes| {
        let text = String::from_utf8_lossy(bytes);
        let record = RunRecord::from_json(&text).map_err(|e| e.to_string())?;
        assert_eq!(
            RunRecord::from_json(&record.to_json().unwrap()).unwrap(),
            record
        );
        Ok(())
    };
    let reach = &[
        "not valid JSON",
        "field `data`",
        "field `batch_size`",
        "field `shuffle`",
    ];
    fuzz("run record", 3, valid, false, RUN_CASES, load, reach);
}

#[test]
fn the_history_loader_survives_mutated_files() {
    let rows: Vec<HistoryRow> = (1..=30)
        .map(|epoch| HistoryRow {
            epoch,
            loss: 0.3 / epoch as f64,
            max_loss: 0.5 / epoch as f64,
            accuracy: (epoch % 7) as f64 / 7.0,
        })
        .collect();
    let valid = vec![io::history_to_csv(&rows).into_bytes()];
    let load: Load = |bytes| {
        let text = String::from_utf8_lossy(bytes);
        io::parse_history(&text)
            .map(drop)
            .map_err(|e| e.to_string())
    };
    let reach = &[
        "expected the header",
        "is not a number",
        "expected 4 fields",
        "epoch `",
    ];
    fuzz("history", 4, valid, false, HISTORY_CASES, load, reach);
}

#[test]
fn the_csv_loader_survives_mutated_files() {
    let dir = std::env::temp_dir().join(format!("chainrule-fuzz-csv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut valid = Vec::new();
    for (k, set) in [data::xor_easy(), data::circle(40, 1)].iter().enumerate() {
        let path = dir.join(format!("{k}.csv"));
        set.to_csv(&path).unwrap();
        valid.push(std::fs::read(&path).unwrap());
    }
    std::fs::remove_dir_all(&dir).unwrap();
    let load: Load = |bytes| {
        let text = String::from_utf8_lossy(bytes);
        let path = Path::new("points.csv");
        data::parse_csv(&text, path)
            .map(drop)
            .map_err(|e| e.to_string())
    };
    let reach = &[
        "is not a number",
        "must be 0 or 1",
        "expected 3 fields",
        "no data rows",
    ];
    fuzz("csv", 5, valid, false, CSV_CASES, load, reach);
}
