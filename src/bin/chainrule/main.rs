//! `chainrule`: the backpropagation lab from the shell — train a network, predict with saved
//! weights, and look at the chain rule of one step (`docs/cli.md`).
//!
//! Each subcommand is one variant of [`Command`] with its arguments in a struct and its work in
//! one function; all reusable logic (files, data sets by name, training) is in the library.

mod args;
mod experiment;
mod inspect;
mod train;

use std::fmt;
use std::io::Write as _;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Train, predict, and see the chain rule of small neural networks: the backpropagation lab.
#[derive(Parser, Debug)]
#[command(name = "chainrule", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a network on a data set; write its weights, optimizer state, history and figures.
    Train(train::TrainArgs),
    /// Rebuild a network from a weights file alone; print its predictions and accuracy.
    Predict(inspect::PredictArgs),
    /// Run one of the lab reports' comparisons (lr, hidden, activation, optimizer, loss, init):
    /// a table and the learning curves overlaid.
    Experiment(experiment::ExperimentArgs),
    /// Write the Graphviz DOT of one training step (values and gradients) on one sample.
    Graph(inspect::GraphArgs),
    /// Print the backward sweep of one training step on one sample, rule by rule.
    Trace(inspect::TraceArgs),
}

/// A failure to report: one line, on stderr, with a non-zero exit status.
#[derive(Debug)]
pub struct Failure(String);

impl<E: std::error::Error> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

impl Failure {
    /// A failure with this message.
    pub fn new(message: impl fmt::Display) -> Self {
        Failure(message.to_string())
    }
}

/// What a command returns.
pub type Outcome = Result<(), Failure>;

/// Writes a line to stdout. A closed stdout (`chainrule predict … | head`) is not an error
/// worth stopping a training run for: the line is dropped.
pub fn say(line: impl fmt::Display) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// Text on one line: newlines (and the blanks around them) become a single space.
fn one_line(text: &str) -> String {
    text.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() -> ExitCode {
    // Every expected failure is a Result; a panic would be a bug. Say it in one line, without
    // a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("(no message)");
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "error: internal error{place}: {} (this is a bug in chainrule)",
            one_line(message)
        );
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let outcome = match cli.command {
        Command::Train(a) => train::run(a),
        Command::Predict(a) => inspect::predict(a),
        Command::Experiment(a) => experiment::run(a),
        Command::Graph(a) => inspect::graph(a),
        Command::Trace(a) => inspect::trace(a),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            eprintln!("error: {}", one_line(&message));
            ExitCode::FAILURE
        }
    }
}

/// `--help` and `--version` print as clap prints them; a usage error becomes one line (its
/// usage hint dropped) with clap's exit status, 2.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        let code = if e.use_stderr() { 2 } else { 0 };
        return ExitCode::from(code);
    }
    let text = e.render().to_string();
    let kept: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .collect();
    let mut line = one_line(&kept.join("\n"));
    if !line.starts_with("error:") {
        line = format!("error: {line}");
    }
    eprintln!("{line} (see `chainrule --help`)");
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
}
