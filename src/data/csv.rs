//! A data set from and to a CSV file.

use std::fmt;
use std::path::{Path, PathBuf};

use super::Dataset;
use crate::matrix::Matrix;

impl Dataset {
    /// Writes the data set as CSV to `path`: a header `x0,x1,label` (one `x` column per input),
    /// then one row per point. Numbers are written in Rust's shortest exact form, so
    /// [`from_csv`] reads back the same bits.
    ///
    /// # Errors
    /// [`DataError::Io`] if the file cannot be written.
    pub fn to_csv(&self, path: impl AsRef<Path>) -> Result<(), DataError> {
        use std::fmt::Write;
        let path = path.as_ref();
        let mut text = String::new();
        for c in 0..self.x.cols() {
            let _ = write!(text, "x{c},");
        }
        text.push_str("label\n");
        for r in 0..self.len() {
            for v in self.x.row(r).iter().chain(self.y.row(r)) {
                let _ = write!(text, "{v},");
            }
            text.pop(); // the last comma
            text.push('\n');
        }
        std::fs::write(path, text).map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            writing: true,
            source,
        })
    }
}

/// Reads a data set from a CSV file of rows `x0,x1,label`.
///
/// - One optional header line: the first non-blank line is skipped when none of its fields is a
///   number (e.g. `x0,x1,label`).
/// - Blank lines are skipped anywhere; spaces and tabs around fields are trimmed; a UTF-8 byte
///   order mark is ignored.
/// - `x0` and `x1` must be finite numbers (`1e-3`, `-0.5`, …; `nan` and `inf` are refused).
/// - The label must be the number 0 or 1 (`0`, `1`, `0.0`, `1.0` are all accepted; `2`, `0.5`,
///   `-1` are not): the lab's classes, and what the losses and the accuracy expect.
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("chainrule-doc-csv-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// # let path = dir.join("points.csv");
/// std::fs::write(&path, "x0,x1,label\n0.1, 0.9, 1\n\n0.8,0.3,0.0\n").unwrap();
/// let data = chainrule::data::from_csv(&path).unwrap();
/// assert_eq!(data.len(), 2);
/// assert_eq!(data.y.as_slice(), &[1.0, 0.0]);
///
/// std::fs::write(&path, "0.1,0.9,1\n0.8,oops,0\n").unwrap();
/// let err = chainrule::data::from_csv(&path).unwrap_err();
/// assert!(err.to_string().ends_with("points.csv, line 2: field 2 (x1) `oops` is not a number"));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
///
/// # Errors
/// [`DataError::Io`] if the file cannot be read (it names the path), [`DataError::Line`] for the
/// first bad line (file, line number counted from 1 including blank lines, and what is wrong),
/// [`DataError::NoRows`] if the file holds no data row.
pub fn from_csv(path: impl AsRef<Path>) -> Result<Dataset, DataError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        writing: false,
        source,
    })?;
    parse_csv(&text, path)
}

/// [`from_csv`] on text already read: `path` only names the source in error messages.
///
/// # Errors
/// As [`from_csv`], but never [`DataError::Io`].
pub fn parse_csv(text: &str, path: &Path) -> Result<Dataset, DataError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut points = Vec::new();
    let mut labels = Vec::new();
    let mut first = true;
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let is_header = first && line.split(',').all(|f| f.trim().parse::<f64>().is_err());
        first = false;
        if is_header {
            continue;
        }
        let (point, label) = parse_row(line).map_err(|problem| DataError::Line {
            path: path.to_path_buf(),
            line: index + 1,
            problem,
        })?;
        points.push(point);
        labels.push(label);
    }
    if points.is_empty() {
        return Err(DataError::NoRows {
            path: path.to_path_buf(),
        });
    }
    let n = points.len();
    Ok(Dataset {
        x: Matrix::from_rows(&points),
        y: Matrix::new(n, 1, labels),
    })
}

/// The names of a row's fields, for messages.
const FIELDS: [&str; 3] = ["x0", "x1", "label"];

/// One data line: `x0,x1,label`.
fn parse_row(line: &str) -> Result<([f64; 2], f64), LineError> {
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    if fields.len() != 3 {
        return Err(LineError::FieldCount {
            found: fields.len(),
        });
    }
    let mut numbers = [0.0; 3];
    for (k, (field, number)) in fields.iter().zip(&mut numbers).enumerate() {
        let value: f64 = field.parse().map_err(|_| LineError::NotANumber {
            field: k + 1,
            text: field.to_string(),
        })?;
        if !value.is_finite() {
            return Err(LineError::NotFinite {
                field: k + 1,
                text: field.to_string(),
            });
        }
        *number = value;
    }
    let label = numbers[2];
    if label != 0.0 && label != 1.0 {
        return Err(LineError::BadLabel {
            text: fields[2].to_string(),
        });
    }
    // −0 is a valid 0 label; store it as +0.
    Ok(([numbers[0], numbers[1]], label + 0.0))
}

/// Why a CSV file could not be read as a [`Dataset`].
#[derive(Debug)]
pub enum DataError {
    /// The file could not be read (or, for [`Dataset::to_csv`], written).
    Io {
        /// The file.
        path: PathBuf,
        /// Whether it was being written (else read).
        writing: bool,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A line is not `x0,x1,label`.
    Line {
        /// The file.
        path: PathBuf,
        /// The line number, from 1, counting every line (blank ones and the header too).
        line: usize,
        /// What is wrong with it.
        problem: LineError,
    },
    /// The file holds no data row (it is empty, blank, or only a header).
    NoRows {
        /// The file.
        path: PathBuf,
    },
}

/// What is wrong with one line of a CSV data file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineError {
    /// Not three comma-separated fields.
    FieldCount {
        /// How many fields the line has.
        found: usize,
    },
    /// A field that does not parse as a number.
    NotANumber {
        /// Which field, from 1.
        field: usize,
        /// Its text (trimmed).
        text: String,
    },
    /// A field that parses as NaN or an infinity.
    NotFinite {
        /// Which field, from 1.
        field: usize,
        /// Its text (trimmed).
        text: String,
    },
    /// A label that is a number but not 0 or 1.
    BadLabel {
        /// Its text (trimmed).
        text: String,
    },
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::FieldCount { found } => {
                write!(f, "expected 3 fields `x0,x1,label`, found {found}")
            }
            LineError::NotANumber { field, text } => write!(
                f,
                "field {field} ({}) `{text}` is not a number",
                FIELDS[field - 1]
            ),
            LineError::NotFinite { field, text } => write!(
                f,
                "field {field} ({}) `{text}` is not a finite number",
                FIELDS[field - 1]
            ),
            LineError::BadLabel { text } => {
                write!(f, "field 3 (label) `{text}` must be 0 or 1")
            }
        }
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::Io {
                path,
                writing,
                source,
            } => {
                let verb = if *writing { "write" } else { "read" };
                write!(f, "cannot {verb} {}: {source}", path.display())
            }
            DataError::Line {
                path,
                line,
                problem,
            } => write!(f, "{}, line {line}: {problem}", path.display()),
            DataError::NoRows { path } => write!(
                f,
                "{}: no data rows (expected lines `x0,x1,label`)",
                path.display()
            ),
        }
    }
}

impl std::error::Error for DataError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DataError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
