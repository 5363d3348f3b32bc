//! The data sets by name ([`Builtin`]) and where a data set comes from ([`DataSource`]).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use super::{
    circle, diamond, from_csv, linear, square, thick_right_angle, thin_right_angle, xor4, xor_easy,
    Dataset,
};
use crate::names::{lookup, UnknownName};

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
