//! The lab's data sets, seeded: every generator returns the same points for the same seed; and
//! a user's own 2-D data from a CSV file ([`from_csv`], [`Dataset::to_csv`]).
//!
//! Each is a [`Dataset`]: `x` is n×2 (one point per row), `y` is n×1: labels 0 or 1 for the
//! lab's two-class sets, and class indices `0..k` for the multi-class [`spiral`] (turn them into
//! one row of k targets per point with [`one_hot`]).
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

use crate::matrix::Matrix;

/// Points and their labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// n×2 inputs, one point per row.
    pub x: Matrix,
    /// n×1 labels: 0.0 or 1.0 for two classes; the class index `0.0, 1.0, …, k − 1` for k
    /// classes (what [`Var::cross_entropy`](crate::Var::cross_entropy) takes).
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

    /// How many classes the labels name: the largest label plus one (0 for no points).
    ///
    /// ```
    /// let set = chainrule::data::spiral(10, 3, 1);
    /// assert_eq!((set.len(), set.classes()), (30, 3));
    /// assert_eq!(chainrule::data::xor_easy().classes(), 2);
    /// ```
    pub fn classes(&self) -> usize {
        let largest = self.y.as_slice().iter().fold(-1.0f64, |m, &l| m.max(l));
        (largest + 1.0).max(0.0) as usize
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

mod builtin;
mod csv;
mod generators;

pub use builtin::{Builtin, DataSource};
pub use csv::{from_csv, parse_csv, DataError, LineError};
pub use generators::{
    circle, diamond, linear, spiral, square, thick_right_angle, thin_right_angle, xor4, xor_easy,
};

/// Class indices (an n×1 column, as in [`Dataset::y`]) as one-hot rows: n×`classes`, row i
/// holding 1 in column `labels[i]` and 0 elsewhere. With these as targets, a network with one
/// output per class is scored by [`train::accuracy`](crate::train::accuracy) (the largest output
/// against the 1).
///
/// ```
/// use chainrule::{data, Matrix};
/// let labels = Matrix::from_rows(&[[2.0], [0.0]]);
/// assert_eq!(data::one_hot(&labels, 3), Matrix::from_rows(&[[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]));
/// ```
///
/// # Panics
/// If `labels` is not one column, or a label is not a whole number in `0..classes`, naming the
/// row.
#[track_caller]
pub fn one_hot(labels: &Matrix, classes: usize) -> Matrix {
    assert!(
        labels.cols() == 1,
        "one_hot: the labels must be one column, got {}x{}",
        labels.rows(),
        labels.cols()
    );
    let mut out = Matrix::zeros(labels.rows(), classes);
    for (row, &label) in labels.as_slice().iter().enumerate() {
        let class = label as usize;
        assert!(
            label >= 0.0 && label.fract() == 0.0 && class < classes,
            "one_hot: row {row} has label {label}, not a class in 0..{classes}"
        );
        out[(row, class)] = 1.0;
    }
    out
}
