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

use crate::matrix::Matrix;

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
    circle, diamond, linear, square, thick_right_angle, thin_right_angle, xor4, xor_easy,
};
