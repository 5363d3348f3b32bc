//! The lab's data sets, seeded: every generator returns the same points for the same seed; and
//! a user's own 2-D data from a CSV file ([`from_csv`], [`Dataset::to_csv`]).
//!
//! Each is a [`Dataset`]: `x` is n×2 (one point per row), `y` is n×1 (labels 0 or 1).
//!
//! For code that picks a data set at run time (the command line), [`Builtin`] names each
//! generator:
//!
//! ```
//! use chainrule::data::Builtin;
//!
//! let circle: Builtin = "circle".parse().unwrap();
//! let data = circle.generate(Some(200), 7).unwrap();
//! assert_eq!(data.len(), 200);
//! assert_eq!(Builtin::XorEasy.generate(None, 0).unwrap().len(), 21);
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::matrix::Matrix;
use crate::names::{lookup, UnknownName};

/// Points and their labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// n×2 inputs, one point per row.
    pub x: Matrix,
    /// n×1 labels, 0.0 or 1.0.
    pub y: Matrix,
}

impl Dataset {
    /// Number of points.
    pub fn len(&self) -> usize {
        self.x.rows()
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.x.rows() == 0
    }

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

    /// Builds a data set from points and a labelling rule.
    fn from_points(points: Vec<[f64; 2]>, label: impl Fn(f64, f64) -> bool) -> Dataset {
        let y = points
            .iter()
            .map(|p| if label(p[0], p[1]) { 1.0 } else { 0.0 })
            .collect();
        let n = points.len();
        Dataset {
            x: Matrix::from_rows(&points),
            y: Matrix::new(n, 1, y),
        }
    }
}

/// `n` points uniform in `[lo, hi)²`.
fn uniform_points(n: usize, lo: f64, hi: f64, seed: u64) -> Vec<[f64; 2]> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| [rng.random_range(lo..hi), rng.random_range(lo..hi)])
        .collect()
}

/// The lab's `generate_linear(n)`: `n` points uniform in `[0, 1)²`, label 0 if `x0 > x1`, else 1.
pub fn linear(n: usize, seed: u64) -> Dataset {
    Dataset::from_points(uniform_points(n, 0.0, 1.0, seed), |x0, x1| x0 <= x1)
}

/// The lab's `generate_XOR_easy()`: for i in 0..=10, `(0.1i, 0.1i)` labelled 0 and, except at
/// `0.1i = 0.5`, `(0.1i, 1 − 0.1i)` labelled 1: 21 points, in the lab's order.
pub fn xor_easy() -> Dataset {
    let mut points = Vec::with_capacity(21);
    let mut labels = Vec::with_capacity(21);
    for i in 0..=10 {
        let t = 0.1 * i as f64;
        points.push([t, t]);
        labels.push(0.0);
        if i == 5 {
            continue;
        }
        points.push([t, 1.0 - t]);
        labels.push(1.0);
    }
    let n = points.len();
    Dataset {
        x: Matrix::from_rows(&points),
        y: Matrix::new(n, 1, labels),
    }
}

/// The four-point XOR: (0,0)→0, (0,1)→1, (1,0)→1, (1,1)→0.
pub fn xor4() -> Dataset {
    Dataset::from_points(
        vec![[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]],
        |a, b| a != b,
    )
}

/// `n` points uniform in `[−1, 1)²`, label 1 inside the circle `√(x0² + x1²) < 0.75`.
pub fn circle(n: usize, seed: u64) -> Dataset {
    Dataset::from_points(uniform_points(n, -1.0, 1.0, seed), |a, b| {
        (a * a + b * b).sqrt() < 0.75
    })
}

/// `n` points uniform in `[−1, 1)²`, label 1 inside the diamond `|x0| + |x1| < 1`.
pub fn diamond(n: usize, seed: u64) -> Dataset {
    Dataset::from_points(uniform_points(n, -1.0, 1.0, seed), |a, b| {
        a.abs() + b.abs() < 1.0
    })
}

/// `n` points uniform in `[−1, 1)²`, label 1 inside the centred square `max(|x0|, |x1|) < 0.5`.
pub fn square(n: usize, seed: u64) -> Dataset {
    Dataset::from_points(uniform_points(n, -1.0, 1.0, seed), |a, b| {
        a.abs().max(b.abs()) < 0.5
    })
}

/// `n` points uniform in `[−1, 1)²`, label 1 on the thick right angle `−0.5 < max(x0, x1) < 0.5`.
pub fn thick_right_angle(n: usize, seed: u64) -> Dataset {
    Dataset::from_points(uniform_points(n, -1.0, 1.0, seed), |a, b| {
        let m = a.max(b);
        m < 0.5 && m > -0.5
    })
}

/// `n` points uniform in `[−1, 1)²`, label 1 on the thin right angle `0 < max(x0, x1) < 0.5`.
pub fn thin_right_angle(n: usize, seed: u64) -> Dataset {
    Dataset::from_points(uniform_points(n, -1.0, 1.0, seed), |a, b| {
        let m = a.max(b);
        m < 0.5 && m > 0.0
    })
}

/// The lab's data sets by name: `linear`, `xor-easy`, `xor4`, `circle`, `diamond`, `square`,
/// `thick-right-angle`, `thin-right-angle`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Builtin {
    /// [`linear`]: 100 points by default.
    Linear,
    /// [`xor_easy`]: its fixed 21 points.
    XorEasy,
    /// [`xor4`]: its fixed 4 points.
    Xor4,
    /// [`circle`]: 500 points by default.
    Circle,
    /// [`diamond`]: 500 points by default.
    Diamond,
    /// [`square`]: 500 points by default.
    Square,
    /// [`thick_right_angle`]: 500 points by default.
    ThickRightAngle,
    /// [`thin_right_angle`]: 500 points by default.
    ThinRightAngle,
}

impl Builtin {
    /// The names [`FromStr`] accepts and [`Display`](fmt::Display) writes, in declaration order.
    pub const NAMES: &'static [&'static str] = &[
        "linear",
        "xor-easy",
        "xor4",
        "circle",
        "diamond",
        "square",
        "thick-right-angle",
        "thin-right-angle",
    ];

    /// The most points [`generate`](Builtin::generate) makes: ten million (160 MB of inputs).
    pub const MAX_POINTS: usize = 10_000_000;

    /// Its name, as in [`Builtin::NAMES`].
    pub fn name(self) -> &'static str {
        use Builtin::*;
        match self {
            Linear => "linear",
            XorEasy => "xor-easy",
            Xor4 => "xor4",
            Circle => "circle",
            Diamond => "diamond",
            Square => "square",
            ThickRightAngle => "thick-right-angle",
            ThinRightAngle => "thin-right-angle",
        }
    }

    /// How many points it has when not told (the lab's numbers: 100 for `linear`, 500 for the
    /// patterns), or `None` for the fixed XOR sets, which take neither a number of points nor
    /// a seed.
    pub fn default_points(self) -> Option<usize> {
        match self {
            Builtin::Linear => Some(100),
            Builtin::XorEasy | Builtin::Xor4 => None,
            _ => Some(500),
        }
    }

    /// The data set: `points` points (or [`default_points`](Builtin::default_points)) drawn
    /// from `seed`.
    ///
    /// # Errors
    /// A message if `points` is given to a fixed set (`xor-easy`, `xor4`), or is 0 or above
    /// [`Builtin::MAX_POINTS`].
    pub fn generate(self, points: Option<usize>, seed: u64) -> Result<Dataset, String> {
        let n = match (self.default_points(), points) {
            (None, Some(_)) => {
                return Err(format!(
                    "the data set `{self}` has fixed points; a number of points does not apply"
                ))
            }
            (None, None) => 0,
            (Some(default), points) => points.unwrap_or(default),
        };
        if self.default_points().is_some() && !(1..=Self::MAX_POINTS).contains(&n) {
            return Err(format!(
                "the data set `{self}` needs between 1 and {} points, not {n}",
                Self::MAX_POINTS
            ));
        }
        Ok(match self {
            Builtin::Linear => linear(n, seed),
            Builtin::XorEasy => xor_easy(),
            Builtin::Xor4 => xor4(),
            Builtin::Circle => circle(n, seed),
            Builtin::Diamond => diamond(n, seed),
            Builtin::Square => square(n, seed),
            Builtin::ThickRightAngle => thick_right_angle(n, seed),
            Builtin::ThinRightAngle => thin_right_angle(n, seed),
        })
    }
}

impl fmt::Display for Builtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Builtin {
    type Err = UnknownName;

    /// One of [`Builtin::NAMES`]; underscores may stand for the dashes (`xor_easy`).
    fn from_str(word: &str) -> Result<Self, UnknownName> {
        use Builtin::*;
        let all = [
            Linear,
            XorEasy,
            Xor4,
            Circle,
            Diamond,
            Square,
            ThickRightAngle,
            ThinRightAngle,
        ];
        let table: Vec<(&str, Builtin)> = all.iter().map(|&b| (b.name(), b)).collect();
        lookup("data set", &word.replace('_', "-"), &table, Self::NAMES).map_err(|mut e| {
            e.found = word.to_string();
            e
        })
    }
}

/// Where a data set comes from: a generator with its settings, or a CSV file. What a training
/// run records so that it can be continued on the same data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataSource {
    /// [`Builtin::generate`]`(points, seed)`.
    Builtin {
        /// Which generator.
        set: Builtin,
        /// How many points (`None`: its default).
        points: Option<usize>,
        /// The seed its points are drawn from (the fixed sets ignore it).
        seed: u64,
    },
    /// A CSV file read with [`from_csv`].
    Csv(PathBuf),
}

impl DataSource {
    /// The data set.
    ///
    /// # Errors
    /// A message naming the problem: [`Builtin::generate`]'s, or [`from_csv`]'s.
    pub fn load(&self) -> Result<Dataset, String> {
        match self {
            DataSource::Builtin { set, points, seed } => set.generate(*points, *seed),
            DataSource::Csv(path) => from_csv(path).map_err(|e| e.to_string()),
        }
    }
}

impl fmt::Display for DataSource {
    /// `xor-easy`, `circle (500 points, seed 3)`, `points.csv`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSource::Builtin { set, points, seed } => match set.default_points() {
                None => write!(f, "{set}"),
                Some(default) => {
                    let n = points.unwrap_or(default);
                    write!(f, "{set} ({n} points, seed {seed})")
                }
            },
            DataSource::Csv(path) => write!(f, "{}", path.display()),
        }
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
