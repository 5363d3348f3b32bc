//! `chainrule train`: a fresh run, a run from given weights (`--init`), or the continuation of a
//! saved run (`--resume`).

use std::cell::Cell;
use std::path::{Path, PathBuf};

use chainrule::data::{Builtin, DataSource, Dataset};
use chainrule::io::{self, HistoryRow, RunRecord, SavedModel};
use chainrule::loss::Loss;
use chainrule::nn::{Init, Mlp};
use chainrule::optim::{OptimizerKind, OptimizerSpec};
use chainrule::train::{EpochStats, StopReason, TrainError, Trainer};
use chainrule::{plot, Optimizer};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::{self, Activations, DataArgs, Hidden, StopLoss};
use crate::inspect::print_predictions;
use crate::{say, Failure, Outcome};

/// The files a run writes into its output directory.
const WEIGHTS: &str = "weights.safetensors";
const OPTIMIZER: &str = "optimizer.safetensors";
const RUN: &str = "run.json";
const HISTORY: &str = "history.csv";

/// The most weights `--hidden` may ask for: far beyond the lab's networks, and well within
/// memory (an allocation failure would abort instead of saying so).
const MAX_WEIGHTS: usize = 10_000_000;

/// `chainrule train`. Defaults are the lab handout's: a 2-4-4-1 sigmoid network, MSE,
/// per-sample gradient descent with learning rate 0.8, until every sample's loss is below 0.04.
#[derive(Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Hidden layer sizes, input side first (`10,10`; `none` for no hidden layer). The input
    /// and output sizes come from the data
    #[arg(long, value_name = "SIZES", default_value = "4,4", value_parser = args::hidden)]
    pub hidden: Hidden,
    /// Activation of every layer (`tanh`), or one per layer, output last (`relu,relu,sigmoid`):
    /// sigmoid, relu, tanh, identity
    #[arg(long, value_name = "NAMES", default_value = "sigmoid", value_parser = args::activations)]
    pub activation: Activations,
    /// Layers without biases (the handout's X·W; the default adds a bias to every layer)
    #[arg(long)]
    pub no_bias: bool,
    /// How initial weights are drawn: uniform (in [-1, 1]), normal (standard), xavier
    #[arg(long, value_name = "NAME", default_value = "uniform")]
    pub init_scheme: Init,
    /// The seed of the initial weights
    #[arg(long, value_name = "SEED", default_value_t = 1)]
    pub seed: u64,
    /// Start from the weights in this file (a weights.safetensors); the network's sizes and
    /// activations are the file's
    #[arg(long, value_name = "FILE", conflicts_with_all = ["hidden", "activation", "no_bias", "init_scheme", "seed"])]
    pub init: Option<PathBuf>,
    /// The loss: mse, sse, bce [default: mse, or the one in the --init file]
    #[arg(long, value_name = "NAME")]
    pub loss: Option<Loss>,
    /// The optimizer: sgd, momentum, adam
    #[arg(long, value_name = "NAME", default_value = "sgd")]
    pub optimizer: OptimizerKind,
    /// The learning rate: a positive number
    #[arg(long, value_name = "LR", default_value = "0.8", value_parser = args::positive_number, allow_negative_numbers = true)]
    pub lr: f64,
    /// Momentum's coefficient μ in v ← μv − lr·g (with --optimizer momentum) [default: 0.9]
    #[arg(long, value_name = "MU", value_parser = args::unit_fraction, allow_negative_numbers = true)]
    pub momentum: Option<f64>,
    /// Samples per update: 1 is the lab's per-sample updates; `full` is the whole data set
    #[arg(long, value_name = "N", default_value = "1", value_parser = args::batch_size)]
    pub batch_size: usize,
    /// Visit the samples in a new random order each epoch, drawn from SEED (default: data
    /// order)
    #[arg(long, value_name = "SEED")]
    pub shuffle: Option<u64>,
    /// The most epochs, counting those of a resumed run
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub epochs: usize,
    /// The lab's stop rule: stop once every sample's loss is below this; `off` to run all epochs
    #[arg(long, value_name = "LOSS", default_value = "0.04", value_parser = args::stop_loss, allow_negative_numbers = true)]
    pub stop_loss: StopLoss,
    /// Print `epoch N loss: L` every N epochs (and at the last)
    #[arg(long, value_name = "N", default_value = "5000", value_parser = args::positive_count)]
    pub print_every: usize,
    /// The directory to write weights.safetensors, optimizer.safetensors, run.json,
    /// history.csv and the figures into (created if needed) [default with --resume: DIR]
    #[arg(long, value_name = "DIR", required_unless_present = "resume")]
    pub out: Option<PathBuf>,
    /// Continue the run saved in DIR (weights, optimizer state, settings, history) up to
    /// --epochs in all: the same as one longer run
    #[arg(long, value_name = "DIR", conflicts_with_all = [
        "dataset", "csv", "points", "data_seed", "hidden", "activation", "no_bias",
        "init_scheme", "seed", "init", "loss", "optimizer", "lr", "momentum", "batch_size",
        "shuffle", "stop_loss",
    ])]
    pub resume: Option<PathBuf>,
    /// Do not draw the figures
    #[arg(long)]
    pub no_plots: bool,
    /// Record every step's graph afresh instead of recording it once and replaying it (the
    /// same numbers to the bit, only slower)
    #[arg(long)]
    pub record_every_step: bool,
}

/// Everything a run needs, whether fresh or resumed.
struct Plan {
    source: DataSource,
    data: Dataset,
    mlp: Mlp,
    loss: Loss,
    spec: OptimizerSpec,
    optimizer: Box<dyn Optimizer>,
    batch_size: usize,
    shuffle: Option<u64>,
    stop_loss: Option<f64>,
    /// The epochs already done, and whether they ended by the stop rule.
    history: Vec<HistoryRow>,
    finished: bool,
}

/// `chainrule train`.
pub fn run(args: TrainArgs) -> Outcome {
    let mut plan = match &args.resume {
        Some(dir) => resumed(dir)?,
        None => fresh(&args)?,
    };
    let out = match (&args.out, &args.resume) {
        (Some(out), _) | (None, Some(out)) => out.clone(),
        (None, None) => unreachable!("clap requires --out unless --resume"),
    };
    writable(&out)?;
    say(describe(&plan, &args));
    let done = plan.history.len();
    if plan.finished {
        let threshold = plan.stop_loss.unwrap_or(f64::NAN);
        say(format_args!(
            "the saved run already stopped after epoch {done}: every sample's loss was below \
             {threshold}, where a longer run stops too"
        ));
    } else if args.epochs < done {
        return Err(Failure::new(format!(
            "--epochs {}: the saved run already did {done} epochs, and --epochs counts them too \
             (give more than {done})",
            args.epochs
        )));
    } else {
        train(&mut plan, &args)?;
    }
    print_predictions(&plan.mlp, &plan.data);
    save(&plan, &out, args.no_plots)
}

/// A fresh run, or one from `--init` weights.
fn fresh(args: &TrainArgs) -> Result<Plan, Failure> {
    let source = args.data.source()?.unwrap_or(DataSource::Builtin {
        set: Builtin::Linear,
        points: None,
        seed: 0,
    });
    // Loaded by the path as given, so messages name it as the user wrote it.
    let data = args::load(&source)?;
    let source = match source {
        // Recorded absolute, so a --resume from another directory finds it.
        DataSource::Csv(path) => DataSource::Csv(std::fs::canonicalize(&path).unwrap_or(path)),
        source => source,
    };
    let (mlp, file_loss) = match &args.init {
        Some(path) => {
            let SavedModel { mlp, loss } = io::load_weights(path)?;
            (mlp, Some(loss))
        }
        None => (new_mlp(args, &data)?, None),
    };
    if args.momentum.is_some() && args.optimizer != OptimizerKind::Momentum {
        return Err(Failure::new(format!(
            "--momentum is the coefficient of --optimizer momentum, not of `{}`",
            args.optimizer
        )));
    }
    let spec = match (args.optimizer.with_lr(args.lr), args.momentum) {
        (OptimizerSpec::Momentum { lr, .. }, Some(mu)) => OptimizerSpec::Momentum { lr, mu },
        (spec, _) => spec,
    };
    Ok(Plan {
        source,
        data,
        mlp,
        loss: args.loss.or(file_loss).unwrap_or(Loss::Mse),
        spec,
        optimizer: spec.build(),
        batch_size: args.batch_size,
        shuffle: args.shuffle,
        stop_loss: args.stop_loss.0,
        history: Vec::new(),
        finished: false,
    })
}

/// The network `--hidden`, `--activation`, `--no-bias`, `--init-scheme` and `--seed` describe,
/// with the data's input and output sizes.
fn new_mlp(args: &TrainArgs, data: &Dataset) -> Result<Mlp, Failure> {
    let mut sizes = vec![data.x.cols()];
    sizes.extend(&args.hidden.0);
    sizes.push(data.y.cols());
    let layers = sizes.len() - 1;
    let activations = match args.activation.0[..] {
        [one] => vec![one; layers],
        ref each if each.len() == layers => each.to_vec(),
        ref each => {
            return Err(Failure::new(format!(
                "--activation lists {} activations, but the network {sizes:?} has {layers} \
                 layers: give one for every layer, or one per layer",
                each.len()
            )))
        }
    };
    let weights: usize = sizes.windows(2).map(|io| io[0] * io[1]).sum();
    if weights > MAX_WEIGHTS {
        return Err(Failure::new(format!(
            "--hidden: the network {sizes:?} would have {weights} weights; at most {MAX_WEIGHTS} \
             (80 MB)"
        )));
    }
    Ok(Mlp::new(
        &sizes,
        &activations,
        !args.no_bias,
        args.init_scheme,
        args.seed,
    ))
}

/// A saved run, to be continued.
fn resumed(dir: &Path) -> Result<Plan, Failure> {
    let record = io::load_run(&dir.join(RUN))?;
    let SavedModel { mlp, loss } = io::load_weights(&dir.join(WEIGHTS))?;
    let optimizer_path = dir.join(OPTIMIZER);
    let saved = io::load_optimizer(&optimizer_path)?;
    let history_path = dir.join(HISTORY);
    let history = io::load_history(&history_path)?;
    if history.len() != record.epochs_done {
        return Err(Failure::new(format!(
            "{}: {} epochs, but {} says {} were done (the files are not from one run)",
            history_path.display(),
            history.len(),
            dir.join(RUN).display(),
            record.epochs_done
        )));
    }
    let state_fits = saved.state.check_fits(&mlp).map_err(|e| e.to_string());
    let mut optimizer = saved.spec.build();
    let loaded = state_fits.and_then(|()| {
        optimizer
            .load_state(&saved.state)
            .map_err(|e| e.to_string())
    });
    if let Err(e) = loaded {
        return Err(Failure::new(format!(
            "{}: {e} (the weights in {WEIGHTS} have sizes {:?})",
            optimizer_path.display(),
            mlp.sizes()
        )));
    }
    let data = args::load(&record.data)?;
    Ok(Plan {
        source: record.data,
        data,
        mlp,
        loss,
        spec: saved.spec,
        optimizer,
        batch_size: record.batch_size,
        shuffle: record.shuffle,
        stop_loss: record.stop_loss,
        history,
        finished: record.finished,
    })
}

/// Creates `out` if needed and checks that files can be written there, before any training.
fn writable(out: &Path) -> Outcome {
    let fail = |e: std::io::Error| {
        Failure::new(format!(
            "cannot write to the output directory {}: {e} (expected a directory that can be \
             created and written)",
            out.display()
        ))
    };
    std::fs::create_dir_all(out).map_err(fail)?;
    let probe = out.join(".chainrule-write-test");
    std::fs::write(&probe, b"").map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)
}

/// The run's settings in two lines.
fn describe(plan: &Plan, args: &TrainArgs) -> String {
    let sizes: Vec<String> = plan.mlp.sizes().iter().map(usize::to_string).collect();
    let activations: Vec<&str> = plan
        .mlp
        .layers
        .iter()
        .map(|l| l.activation.name())
        .collect();
    let bias = if plan.mlp.layers.iter().all(|l| l.bias.is_some()) {
        "with biases"
    } else if plan.mlp.layers.iter().all(|l| l.bias.is_none()) {
        "no biases"
    } else {
        "some biases"
    };
    let batch = match plan.batch_size {
        1 => "per-sample updates".to_string(),
        n if n >= plan.data.len() => "full-batch updates".to_string(),
        n => format!("batches of {n}"),
    };
    let order = match plan.shuffle {
        Some(seed) => format!("shuffled (seed {seed})"),
        None => "in data order".to_string(),
    };
    let stop = match plan.stop_loss {
        Some(t) => format!("stop when every sample's loss is below {t}, or"),
        None => "stop".to_string(),
    };
    let start = match (&args.resume, plan.history.len()) {
        (Some(dir), done) => format!("resuming {} after epoch {done}: ", dir.display()),
        (None, _) => String::new(),
    };
    format!(
        "{start}{} ({}; {bias}), {} loss, {} on {}\n{batch} {order}; {stop} after {} epochs",
        sizes.join("-"),
        activations.join(", "),
        plan.loss,
        plan.spec,
        data_name(plan),
        args.epochs
    )
}

/// The data set and its size: `xor-easy (21 points)`, `circle (500 points, seed 3)`.
fn data_name(plan: &Plan) -> String {
    match &plan.source {
        DataSource::Builtin { set, .. } if set.default_points().is_some() => {
            plan.source.to_string()
        }
        source => format!("{source} ({} points)", plan.data.len()),
    }
}

/// Trains `plan` up to `args.epochs` in all, printing and drawing progress, and appends the
/// new epochs to its history.
fn train(plan: &mut Plan, args: &TrainArgs) -> Outcome {
    let done = plan.history.len();
    let bar = ProgressBar::new(args.epochs as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{elapsed_precise} [{wide_bar}] epoch {pos}/{len} {msg}")
    {
        bar.set_style(style);
    }
    bar.set_position(done as u64);
    let every = args.print_every;
    let printed = Cell::new(0);
    let on_epoch = |s: &EpochStats| {
        bar.inc(1);
        if s.epoch.is_multiple_of(100) {
            bar.set_message(format!("loss {:.6}", s.loss));
        }
        if s.epoch.is_multiple_of(every) {
            bar.suspend(|| say(format_args!("epoch {} loss: {}", s.epoch, s.loss)));
            printed.set(s.epoch);
        }
    };
    let mut trainer = Trainer::new(plan.loss)
        .epochs(args.epochs)
        .batch_size(plan.batch_size)
        .resume_after(done)
        .record_every_step(args.record_every_step)
        .on_epoch(on_epoch);
    if let Some(seed) = plan.shuffle {
        trainer = trainer.shuffle(seed);
    }
    if let Some(t) = plan.stop_loss {
        trainer = trainer.stop_when_all_losses_below(t);
    }
    let result = trainer.run(&mut plan.mlp, plan.optimizer.as_mut(), &plan.data);
    drop(trainer);
    bar.finish_and_clear();
    let history = result.map_err(|e| match e {
        TrainError::Diverged { .. } => Failure::new(format!(
            "training {e} (try a smaller --lr, or an activation that bounds the outputs)"
        )),
        e => Failure::new(format!("cannot train: {e}")),
    })?;
    let Some(last) = history.last() else {
        say(format_args!("no epoch to run: --epochs {}", args.epochs));
        return Ok(());
    };
    if printed.get() != last.epoch {
        say(format_args!("epoch {} loss: {}", last.epoch, last.loss));
    }
    plan.history
        .extend(history.epochs.iter().map(|s| HistoryRow {
            epoch: s.epoch,
            loss: s.loss,
            max_loss: s.max_loss,
            accuracy: s.accuracy,
        }));
    // Finished for good only if a longer run would also stop here: the epoch's own figures met
    // the rule (see Trainer::resume_after).
    plan.finished = history.stop == StopReason::AllLossesBelow
        && plan.stop_loss.is_some_and(|t| last.max_loss < t);
    match history.stop {
        StopReason::AllLossesBelow => say(format_args!(
            "stopped after epoch {}: every sample's loss is below {}",
            last.epoch,
            plan.stop_loss.unwrap_or(f64::NAN)
        )),
        _ => say(format_args!(
            "stopped at the epoch cap, epoch {} (largest sample loss {})",
            last.epoch, last.max_loss
        )),
    }
    Ok(())
}

/// Writes the run's files into `out`: weights first, so a failing figure loses no training.
fn save(plan: &Plan, out: &Path, no_plots: bool) -> Outcome {
    io::save_weights(&out.join(WEIGHTS), &plan.mlp, plan.loss)?;
    io::save_optimizer(&out.join(OPTIMIZER), &plan.spec, &plan.optimizer.state())?;
    let record = RunRecord {
        data: plan.source.clone(),
        batch_size: plan.batch_size,
        shuffle: plan.shuffle,
        stop_loss: plan.stop_loss,
        epochs_done: plan.history.len(),
        finished: plan.finished,
    };
    io::save_run(&out.join(RUN), &record)?;
    io::save_history(&out.join(HISTORY), &plan.history)?;
    let mut written = vec![WEIGHTS, OPTIMIZER, RUN, HISTORY];
    if !no_plots {
        written.extend(figures(plan, out)?);
    }
    say(format_args!(
        "wrote {}: {}",
        out.display(),
        written.join(", ")
    ));
    Ok(())
}

/// The lab's figures: learning and accuracy curves, truth beside prediction, the decision
/// boundary, the mistakes.
fn figures(plan: &Plan, out: &Path) -> Result<Vec<&'static str>, Failure> {
    let sizes: Vec<String> = plan.mlp.sizes().iter().map(usize::to_string).collect();
    let title = format!("{}, {}, {}", data_name(plan), sizes.join("-"), plan.spec);
    let x = &plan.data.x;
    let labels = plan.data.y.as_slice();
    let mut written = Vec::new();
    if !plan.history.is_empty() {
        let losses: Vec<f64> = plan.history.iter().map(|r| r.loss).collect();
        let accuracies: Vec<f64> = plan.history.iter().map(|r| r.accuracy).collect();
        let series = plan.loss.name();
        plot::learning_curve(&out.join("loss.png"), &title, &[(series, &losses)], true)?;
        plot::accuracy_curve(&out.join("accuracy.png"), &title, &[("train", &accuracies)])?;
        written.extend(["loss.png", "accuracy.png"]);
    }
    if x.cols() == 2 && plan.data.y.cols() == 1 {
        let predicted = chainrule::train::predict(&plan.mlp, x).into_vec();
        plot::truth_vs_prediction(&out.join("prediction.png"), x, labels, &predicted)?;
        plot::decision_boundary(&out.join("boundary.png"), &title, x, labels, |grid| {
            chainrule::train::predict(&plan.mlp, grid).into_vec()
        })?;
        plot::mistakes(&out.join("mistakes.png"), &title, x, labels, &predicted)?;
        written.extend(["prediction.png", "boundary.png", "mistakes.png"]);
    }
    Ok(written)
}
