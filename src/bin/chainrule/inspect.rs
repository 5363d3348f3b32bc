//! The commands that read a weights file: `predict`, `graph`, `trace`; and the printing of
//! predictions that `train` shares.

use std::path::{Path, PathBuf};

use chainrule::data::Dataset;
use chainrule::io::{self, SavedModel};
use chainrule::loss::Loss;
use chainrule::nn::Mlp;
use chainrule::{train, viz, Matrix, Tape, Var};
use clap::Args;

use crate::args::DataArgs;
use crate::{say, Failure, Outcome};

/// `chainrule predict`.
#[derive(Args, Debug)]
pub struct PredictArgs {
    /// The weights file (`weights.safetensors` of a `train --out` directory)
    #[arg(long, value_name = "FILE")]
    pub weights: PathBuf,
    /// Without --dataset or --csv: the data set of the run saved beside the weights (its
    /// run.json), else linear
    #[command(flatten)]
    pub data: DataArgs,
}

/// `chainrule graph`.
#[derive(Args, Debug)]
pub struct GraphArgs {
    /// The weights file (`weights.safetensors` of a `train --out` directory)
    #[arg(long, value_name = "FILE")]
    pub weights: PathBuf,
    /// Without --dataset or --csv: the data set of the run saved beside the weights (its
    /// run.json), else linear
    #[command(flatten)]
    pub data: DataArgs,
    /// Which sample the step is on, counted from 0
    #[arg(long, value_name = "I", default_value_t = 0)]
    pub sample: usize,
    /// Write the DOT to this file instead of stdout (`dot -Tsvg FILE.dot` draws it)
    #[arg(long, value_name = "FILE.dot")]
    pub out: Option<PathBuf>,
}

/// `chainrule trace`.
#[derive(Args, Debug)]
pub struct TraceArgs {
    /// The weights file (`weights.safetensors` of a `train --out` directory)
    #[arg(long, value_name = "FILE")]
    pub weights: PathBuf,
    /// Without --dataset or --csv: the data set of the run saved beside the weights (its
    /// run.json), else linear
    #[command(flatten)]
    pub data: DataArgs,
    /// Which sample the step is on, counted from 0
    #[arg(long, value_name = "I", default_value_t = 0)]
    pub sample: usize,
    /// Print a markdown table instead of plain text
    #[arg(long)]
    pub markdown: bool,
    /// Also write the page that steps through this step's forward pass and backward sweep
    /// (one self-contained HTML file: open it in any browser, offline)
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

/// Prints every sample's prediction (the raw output, thresholded at 0.5) and the accuracy.
pub fn print_predictions(mlp: &Mlp, data: &Dataset) {
    let prediction = train::predict(mlp, &data.x);
    let (pc, yc) = (prediction.cols(), data.y.cols());
    say("predictions (output ≥ 0.5 is class 1):");
    for r in 0..data.len() {
        let x: Vec<String> = data.x.row(r).iter().map(|v| format!("{v:.4}")).collect();
        let p: Vec<String> = prediction
            .row(r)
            .iter()
            .map(|v| format!("{v:.6}"))
            .collect();
        let label: Vec<String> = data.y.row(r).iter().map(|v| format!("{v}")).collect();
        let wrong = if pc == 1 && yc == 1 {
            let (p, y) = (prediction.row(r)[0], data.y.row(r)[0]);
            if (p >= 0.5) == (y >= 0.5) {
                ""
            } else {
                "  wrong"
            }
        } else {
            ""
        };
        say(format_args!(
            "  {r:>4}  x = ({})  label {}  prediction {}{wrong}",
            x.join(", "),
            label.join(", "),
            p.join(", ")
        ));
    }
    say(accuracy_line(mlp, data));
}

/// `accuracy: 95.24% (20 of 21)`.
pub fn accuracy_line(mlp: &Mlp, data: &Dataset) -> String {
    let accuracy = train::accuracy(mlp, data);
    let right = (accuracy * data.len() as f64).round() as usize;
    format!(
        "accuracy: {:.2}% ({right} of {})",
        accuracy * 100.0,
        data.len()
    )
}

/// Loads a weights file and checks that it fits the data set.
fn model_for(weights: &Path, data: &Dataset) -> Result<SavedModel, Failure> {
    let saved = io::load_weights(weights)?;
    let sizes = saved.mlp.sizes();
    let (inputs, outputs) = (sizes[0], sizes[sizes.len() - 1]);
    if data.x.cols() != inputs || data.y.cols() != outputs {
        return Err(Failure::new(format!(
            "{}: the network {sizes:?} takes {inputs} inputs and gives {outputs} outputs, but the \
             data set has {} inputs and {} labels per point",
            weights.display(),
            data.x.cols(),
            data.y.cols()
        )));
    }
    Ok(saved)
}

/// `chainrule predict`.
pub fn predict(args: PredictArgs) -> Outcome {
    let (data, note) = args.data.load_for(&args.weights)?;
    let saved = model_for(&args.weights, &data)?;
    if let Some(note) = note {
        say(note);
    }
    print_predictions(&saved.mlp, &data);
    Ok(())
}

/// Records one training step on `tape`: sample `sample`'s forward pass and its loss.
fn record_step<'t>(
    tape: &'t Tape,
    saved: &SavedModel,
    data: &Dataset,
    sample: usize,
) -> Result<Var<'t>, Failure> {
    if sample >= data.len() {
        return Err(Failure::new(format!(
            "--sample {sample}: the data set has {} samples, counted from 0 (expected 0 to {})",
            data.len(),
            data.len() - 1
        )));
    }
    let x = Matrix::new(1, data.x.cols(), data.x.row(sample).to_vec());
    let y = Matrix::new(1, data.y.cols(), data.y.row(sample).to_vec());
    let net = saved.mlp.bind(tape);
    let prediction = net.forward(tape.input(&x));
    Ok(saved.loss.apply(prediction, tape.input(&y)))
}

fn loss_name(loss: Loss) -> &'static str {
    match loss {
        Loss::Mse => "mean squared error",
        Loss::Sse => "sum of squared errors",
        Loss::Bce => "binary cross-entropy",
    }
}

/// `chainrule graph`.
pub fn graph(args: GraphArgs) -> Outcome {
    let (data, note) = args.data.load_for(&args.weights)?;
    let saved = model_for(&args.weights, &data)?;
    let tape = Tape::new();
    let loss = record_step(&tape, &saved, &data, args.sample)?;
    let _grads = tape.backward(loss);
    let dot = viz::to_dot(&tape);
    match &args.out {
        Some(path) => {
            io::write_atomic(path, dot.as_bytes())?;
            if let Some(note) = note {
                say(note);
            }
            say(format_args!(
                "wrote {}: one step on sample {} ({} = {:e}); draw it with `dot -Tsvg {} -o \
                 graph.svg`",
                path.display(),
                args.sample,
                loss_name(saved.loss),
                loss.item(),
                path.display()
            ));
        }
        // Only the DOT on stdout, for `chainrule graph … | dot -Tsvg`.
        None => say(dot.trim_end()),
    }
    Ok(())
}

/// `chainrule trace`.
pub fn trace(args: TraceArgs) -> Outcome {
    let (data, note) = args.data.load_for(&args.weights)?;
    let saved = model_for(&args.weights, &data)?;
    let tape = Tape::new();
    let loss = record_step(&tape, &saved, &data, args.sample)?;
    let (_grads, trace) = viz::backward_trace(&tape, loss);
    if let Some(note) = note {
        say(note);
    }
    say(format_args!(
        "backward sweep of one step on sample {} ({} = {:e}), from the loss back to the weights:",
        args.sample,
        loss_name(saved.loss),
        loss.item()
    ));
    if args.markdown {
        say(trace.to_markdown().trim_end());
    } else {
        say(trace.to_string().trim_end());
    }
    if let Some(path) = &args.html {
        io::write_atomic(path, viz::to_html(&tape, loss).as_bytes())?;
        say(format_args!("page: {}", path.display()));
    }
    Ok(())
}
