//! Choices by name: the words that select an activation, a loss, an initialisation, an
//! optimizer or a data set on a command line or in a saved file, and the error for a word that
//! names none of them.
//!
//! Each type implements [`FromStr`](std::str::FromStr) and [`Display`](std::fmt::Display) with
//! the same words, so a name written out reads back as the same choice:
//!
//! ```
//! use chainrule::nn::Activation;
//!
//! let relu: Activation = "relu".parse().unwrap();
//! assert_eq!(relu.to_string(), "relu");
//! let err = "swish".parse::<Activation>().unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "unknown activation `swish` (expected one of: sigmoid, relu, tanh, identity)"
//! );
//! ```

use std::fmt;

/// A word that names none of the choices of its kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownName {
    /// What was being chosen: `"activation"`, `"loss"`, …
    pub kind: &'static str,
    /// The word given.
    pub found: String,
    /// The words accepted.
    pub expected: &'static [&'static str],
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown {} `{}` (expected one of: {})",
            self.kind,
            self.found,
            self.expected.join(", ")
        )
    }
}

impl std::error::Error for UnknownName {}

/// The value whose name (or alias) is `word`, from `table` of `(name, value)` pairs; the
/// accepted words in the error are `names`.
pub(crate) fn lookup<T: Copy>(
    kind: &'static str,
    word: &str,
    table: &[(&str, T)],
    names: &'static [&'static str],
) -> Result<T, UnknownName> {
    table
        .iter()
        .find(|(name, _)| *name == word)
        .map(|&(_, value)| value)
        .ok_or_else(|| UnknownName {
            kind,
            found: word.to_string(),
            expected: names,
        })
}
