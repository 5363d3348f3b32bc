//! [`Matrix`]: the owned, dense, row-major `f64` matrix that goes onto a tape and comes off it.
//!
//! Parameters, data sets and gradients read back from a tape are `Matrix` values. On the tape itself
//! the same numbers live in one flat buffer (see [`crate::Tape`]); a `Matrix` is the copy you keep.

use std::fmt;
use std::ops::{Index, IndexMut};

/// A dense, row-major matrix of `f64`. A scalar is a 1×1 matrix.
///
/// ```
/// use chainrule::Matrix;
/// let m = Matrix::from_rows(&[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]);
/// assert_eq!(m.shape(), (3, 2));
/// assert_eq!(m[(2, 1)], 6.0);
/// assert_eq!(m.row(1), &[3.0, 4.0]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl Matrix {
    /// A `rows`×`cols` matrix over `data` in row-major order.
    ///
    /// # Panics
    /// If `data.len() != rows * cols`.
    #[track_caller]
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Self {
        assert!(
            data.len() == rows * cols,
            "Matrix::new: {} values cannot fill a {rows}x{cols} matrix (needs {})",
            data.len(),
            rows * cols
        );
        Matrix { rows, cols, data }
    }

    /// A `rows`×`cols` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self::filled(rows, cols, 0.0)
    }

    /// A `rows`×`cols` matrix with every entry `value`.
    pub fn filled(rows: usize, cols: usize, value: f64) -> Self {
        Matrix {
            rows,
            cols,
            data: vec![value; rows * cols],
        }
    }

    /// A 1×1 matrix holding `value`.
    pub fn scalar(value: f64) -> Self {
        Matrix {
            rows: 1,
            cols: 1,
            data: vec![value],
        }
    }

    /// A matrix from rows of equal length, e.g. `Matrix::from_rows(&[[1.0, 2.0], [3.0, 4.0]])`.
    pub fn from_rows<const N: usize>(rows: &[[f64; N]]) -> Self {
        Matrix {
            rows: rows.len(),
            cols: N,
            data: rows.iter().flatten().copied().collect(),
        }
    }

    /// A matrix whose entry `(r, c)` is `f(r, c)`.
    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> f64) -> Self {
        let data = (0..rows * cols).map(|i| f(i / cols, i % cols)).collect();
        Matrix { rows, cols, data }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Number of entries, `rows * cols`.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the matrix has no entries.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The entries in row-major order.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// The entries in row-major order, writable (an optimizer updates parameters through this).
    pub fn as_mut_slice(&mut self) -> &mut [f64] {
        &mut self.data
    }

    /// The entries in row-major order, by value.
    pub fn into_vec(self) -> Vec<f64> {
        self.data
    }

    /// Row `r` as a slice.
    #[track_caller]
    pub fn row(&self, r: usize) -> &[f64] {
        assert!(
            r < self.rows,
            "Matrix::row: row {r} of a {}x{} matrix",
            self.rows,
            self.cols
        );
        &self.data[r * self.cols..(r + 1) * self.cols]
    }

    /// The only entry of a 1×1 matrix.
    ///
    /// # Panics
    /// If the matrix is not 1×1.
    #[track_caller]
    pub fn item(&self) -> f64 {
        assert!(
            self.data.len() == 1,
            "Matrix::item: a {}x{} matrix is not a scalar",
            self.rows,
            self.cols
        );
        self.data[0]
    }

    /// The transpose, as a new matrix.
    pub fn transpose(&self) -> Matrix {
        Matrix::from_fn(self.cols, self.rows, |r, c| self[(c, r)])
    }

    /// The largest absolute difference between two matrices of the same shape.
    #[track_caller]
    pub fn max_abs_diff(&self, other: &Matrix) -> f64 {
        assert_eq!(
            self.shape(),
            other.shape(),
            "Matrix::max_abs_diff: shapes differ"
        );
        self.data
            .iter()
            .zip(&other.data)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
    }
}

impl Index<(usize, usize)> for Matrix {
    type Output = f64;
    #[track_caller]
    fn index(&self, (r, c): (usize, usize)) -> &f64 {
        assert!(
            r < self.rows && c < self.cols,
            "Matrix: index ({r}, {c}) out of a {}x{} matrix",
            self.rows,
            self.cols
        );
        &self.data[r * self.cols + c]
    }
}

impl IndexMut<(usize, usize)> for Matrix {
    #[track_caller]
    fn index_mut(&mut self, (r, c): (usize, usize)) -> &mut f64 {
        assert!(
            r < self.rows && c < self.cols,
            "Matrix: index ({r}, {c}) out of a {}x{} matrix",
            self.rows,
            self.cols
        );
        &mut self.data[r * self.cols + c]
    }
}

impl fmt::Display for Matrix {
    /// One line per row, entries separated by spaces; honours a precision, e.g. `{:.3}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_rows(f, self.rows, self.cols, &self.data)
    }
}

/// Writes a row-major buffer as `[a b; c d]`, honouring the formatter's precision.
pub(crate) fn write_rows(
    f: &mut fmt::Formatter<'_>,
    rows: usize,
    cols: usize,
    data: &[f64],
) -> fmt::Result {
    f.write_str("[")?;
    for r in 0..rows {
        if r > 0 {
            f.write_str("; ")?;
        }
        for c in 0..cols {
            if c > 0 {
                f.write_str(" ")?;
            }
            let x = data[r * cols + c];
            match f.precision() {
                Some(p) => write!(f, "{x:.p$}")?,
                None => write!(f, "{x}")?,
            }
        }
    }
    f.write_str("]")
}

/// A short text for a matrix: its entries when it has at most 16 (`[1 2; 3 4]`), otherwise its
/// shape and min/mean/max, plus how many entries are NaN or infinite if any are.
pub(crate) fn summarize(rows: usize, cols: usize, data: &[f64]) -> String {
    if data.len() <= 16 {
        let rows_text: Vec<String> = data
            .chunks(cols.max(1))
            .map(|row| row.iter().map(|&x| number(x)).collect::<Vec<_>>().join(" "))
            .collect();
        return format!("[{}]", rows_text.join("; "));
    }
    let finite: Vec<f64> = data.iter().copied().filter(|x| x.is_finite()).collect();
    let bad = data.len() - finite.len();
    let (min, max) = finite
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        });
    let mean = finite.iter().sum::<f64>() / finite.len().max(1) as f64;
    let mut text = format!(
        "{rows}x{cols} min {} mean {} max {}",
        number(min),
        number(mean),
        number(max)
    );
    if bad > 0 {
        text.push_str(&format!(", {bad} non-finite"));
    }
    text
}

/// A number as a learner reads it: four decimals in the usual range, scientific outside it.
pub(crate) fn number(x: f64) -> String {
    if x == 0.0 {
        "0".to_string()
    } else if !x.is_finite() {
        x.to_string()
    } else if (1e-3..1e5).contains(&x.abs()) {
        format!("{x:.4}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        format!("{x:.3e}")
    }
}
