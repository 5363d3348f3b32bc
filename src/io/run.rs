//! The run record (what it takes to continue a run) and the history CSV.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::container::{check_format, field};
use super::file::{read_file, write_atomic, FileError, FormatError};
use super::FORMAT_VERSION;
use crate::data::{Builtin, DataSource};

/// What it takes, beside the weights and the optimizer, to continue a training run where it
/// stopped: the data, the loop's settings, and how far it got. Saved as JSON (`run.json`).
#[derive(Clone, Debug, PartialEq)]
pub struct RunRecord {
    /// The data set trained on.
    pub data: DataSource,
    /// Rows per step.
    pub batch_size: usize,
    /// The seed of the per-epoch shuffle, if rows were shuffled.
    pub shuffle: Option<u64>,
    /// The stop rule's threshold (every sample's loss below it), if on.
    pub stop_loss: Option<f64>,
    /// Epochs done so far.
    pub epochs_done: usize,
    /// Whether the run ended by its stop rule at its last epoch as a longer run would have
    /// seen it: a longer run would have stopped there too, so there is nothing to continue.
    pub finished: bool,
}

impl RunRecord {
    /// The record as pretty-printed JSON (ends with a newline).
    ///
    /// # Errors
    /// If the data set is a CSV file whose path is not UTF-8.
    pub fn to_json(&self) -> Result<String, FormatError> {
        let data = match &self.data {
            DataSource::Builtin { set, points, seed } => {
                json!({ "builtin": set.name(), "points": points, "seed": seed })
            }
            DataSource::Csv(path) => {
                let path = path.to_str().ok_or_else(|| {
                    FormatError::new(format!(
                        "the data file's path {} is not UTF-8 and cannot be recorded",
                        path.display()
                    ))
                })?;
                json!({ "csv": path })
            }
        };
        let record = json!({
            "format": "chainrule-run",
            "version": FORMAT_VERSION,
            "data": data,
            "batch_size": self.batch_size,
            "shuffle": self.shuffle,
            "stop_loss": self.stop_loss,
            "epochs_done": self.epochs_done,
            "finished": self.finished,
        });
        let mut text = serde_json::to_string_pretty(&record)
            .map_err(|e| FormatError::new(format!("cannot write the run record: {e}")))?;
        text.push('\n');
        Ok(text)
    }

    /// Reads a record written by [`to_json`](RunRecord::to_json).
    ///
    /// # Errors
    /// A [`FormatError`] naming the first field missing or out of range.
    pub fn from_json(text: &str) -> Result<RunRecord, FormatError> {
        let Value::Object(meta) = serde_json::from_str::<Value>(text)
            .map_err(|e| FormatError::new(format!("not valid JSON: {e}")))?
        else {
            return Err(FormatError::new("not a JSON object"));
        };
        check_format(&meta, "chainrule-run")?;
        let whole = |name: &str| -> Result<usize, FormatError> {
            field(&meta, name)?
                .as_u64()
                .and_then(|v| usize::try_from(v).ok())
                .ok_or_else(|| FormatError::new(format!("field `{name}` is not a whole number")))
        };
        let batch_size = whole("batch_size")?;
        if batch_size == 0 {
            return Err(FormatError::new(
                "field `batch_size` is 0, expected at least 1",
            ));
        }
        let shuffle = match field(&meta, "shuffle")? {
            Value::Null => None,
            v => Some(v.as_u64().ok_or_else(|| {
                FormatError::new("field `shuffle` is neither null nor a whole-number seed")
            })?),
        };
        let stop_loss = match field(&meta, "stop_loss")? {
            Value::Null => None,
            v => Some(
                v.as_f64()
                    .filter(|t| t.is_finite() && *t > 0.0)
                    .ok_or_else(|| {
                        FormatError::new("field `stop_loss` is neither null nor a positive number")
                    })?,
            ),
        };
        let finished = field(&meta, "finished")?
            .as_bool()
            .ok_or_else(|| FormatError::new("field `finished` is not true or false"))?;
        Ok(RunRecord {
            data: data_source(field(&meta, "data")?)?,
            batch_size,
            shuffle,
            stop_loss,
            epochs_done: whole("epochs_done")?,
            finished,
        })
    }
}

/// The `data` field of a run record.
fn data_source(data: &Value) -> Result<DataSource, FormatError> {
    let bad = |what: &str| FormatError::new(format!("field `data`: {what}"));
    let data = data
        .as_object()
        .ok_or_else(|| bad("not an object with `builtin` or `csv`"))?;
    if let Some(path) = data.get("csv") {
        let path = path.as_str().ok_or_else(|| bad("`csv` is not a path"))?;
        return Ok(DataSource::Csv(PathBuf::from(path)));
    }
    let set: Builtin = data
        .get("builtin")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("neither `builtin` nor `csv` is given"))?
        .parse()
        .map_err(|e| bad(&format!("{e}")))?;
    let points = match data.get("points") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .and_then(|p| usize::try_from(p).ok())
                .ok_or_else(|| bad("`points` is not a whole number"))?,
        ),
    };
    let seed = data
        .get("seed")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("`seed` is not a whole number"))?;
    Ok(DataSource::Builtin { set, points, seed })
}

/// Saves a run record to `path` atomically.
///
/// # Errors
/// [`FileError::Io`] if the file cannot be written, [`FileError::Format`] for a path that JSON
/// cannot hold.
pub fn save_run(path: &Path, record: &RunRecord) -> Result<(), FileError> {
    let text = record.to_json().map_err(FileError::format(path))?;
    write_atomic(path, text.as_bytes())
}

/// Loads a run record from `path`.
///
/// # Errors
/// [`FileError::Io`] if the file cannot be read, [`FileError::Format`] if it is not a record.
pub fn load_run(path: &Path) -> Result<RunRecord, FileError> {
    let bytes = read_file(path)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| FormatError::new(format!("not UTF-8 text: {e}")))
        .map_err(FileError::format(path))?;
    RunRecord::from_json(text).map_err(FileError::format(path))
}

// ---- history -------------------------------------------------------------------------------

/// One epoch of a run's history, as `history.csv` keeps it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HistoryRow {
    /// The epoch, counted from 1.
    pub epoch: usize,
    /// Mean loss over the data set.
    pub loss: f64,
    /// The largest single sample's loss (what the stop rule reads).
    pub max_loss: f64,
    /// Fraction of samples classified right.
    pub accuracy: f64,
}

/// The header line of `history.csv`.
pub const HISTORY_HEADER: &str = "epoch,loss,max_loss,accuracy";

/// The history as CSV: [`HISTORY_HEADER`], then one line per epoch. Numbers are written in
/// Rust's shortest exact form, so [`parse_history`] reads back the same bits.
pub fn history_to_csv(rows: &[HistoryRow]) -> String {
    use std::fmt::Write as _;
    let mut text = String::with_capacity(32 * (rows.len() + 1));
    text.push_str(HISTORY_HEADER);
    text.push('\n');
    for r in rows {
        let _ = writeln!(text, "{},{},{},{}", r.epoch, r.loss, r.max_loss, r.accuracy);
    }
    text
}

/// Reads a history written by [`history_to_csv`]. Epochs must count 1, 2, 3, … in order.
///
/// # Errors
/// A [`FormatError`] naming the first bad line (counted from 1) and what is wrong with it.
pub fn parse_history(text: &str) -> Result<Vec<HistoryRow>, FormatError> {
    let mut lines = text.lines();
    if lines.next() != Some(HISTORY_HEADER) {
        return Err(FormatError::new(format!(
            "line 1: expected the header `{HISTORY_HEADER}`"
        )));
    }
    let mut rows = Vec::new();
    for (index, line) in lines.enumerate() {
        let at = index + 2;
        let fields: Vec<&str> = line.split(',').collect();
        let [epoch, loss, max_loss, accuracy] = fields[..] else {
            return Err(FormatError::new(format!(
                "line {at}: expected 4 fields `{HISTORY_HEADER}`, found {}",
                fields.len()
            )));
        };
        let expected = rows.len() + 1;
        if epoch.parse::<usize>() != Ok(expected) {
            return Err(FormatError::new(format!(
                "line {at}: epoch `{epoch}`, expected {expected}"
            )));
        }
        let number = |name: &str, text: &str| {
            text.parse::<f64>().map_err(|_| {
                FormatError::new(format!("line {at}: {name} `{text}` is not a number"))
            })
        };
        rows.push(HistoryRow {
            epoch: expected,
            loss: number("loss", loss)?,
            max_loss: number("max_loss", max_loss)?,
            accuracy: number("accuracy", accuracy)?,
        });
    }
    Ok(rows)
}

/// Saves a history to `path` atomically.
///
/// # Errors
/// [`FileError::Io`] if the file cannot be written.
pub fn save_history(path: &Path, rows: &[HistoryRow]) -> Result<(), FileError> {
    write_atomic(path, history_to_csv(rows).as_bytes())
}

/// Loads a history from `path`.
///
/// # Errors
/// [`FileError::Io`] if the file cannot be read, [`FileError::Format`] if a line is bad.
pub fn load_history(path: &Path) -> Result<Vec<HistoryRow>, FileError> {
    let bytes = read_file(path)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| FormatError::new(format!("not UTF-8 text: {e}")))
        .map_err(FileError::format(path))?;
    parse_history(text).map_err(FileError::format(path))
}
