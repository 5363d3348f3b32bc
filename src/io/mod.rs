//! Saving and loading a training run: the weights as safetensors (readable by PyTorch, candle,
//! NumPy), the optimizer's state beside them, what it takes to continue the run, and its history.
//!
//! ```
//! use chainrule::io;
//! use chainrule::loss::Loss;
//! use chainrule::nn::{Activation, Init, Mlp};
//!
//! # let dir = std::env::temp_dir().join(format!("chainrule-io-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! let mlp = Mlp::new(&[2, 4, 4, 1], &[Activation::Sigmoid; 3], true, Init::Uniform, 1);
//! let path = dir.join("weights.safetensors");
//! io::save_weights(&path, &mlp, Loss::Mse)?;
//! let saved = io::load_weights(&path)?;
//! assert_eq!((saved.mlp, saved.loss), (mlp, Loss::Mse));
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), io::FileError>(())
//! ```
//!
//! # The weights file
//! A safetensors file (written with the `safetensors` crate) of `F64` tensors in the layout of
//! PyTorch's `nn.Linear`, for each layer `i` counted from 0:
//! - `layers.{i}.weight`, shape `[out, in]`: the transpose of [`Layer::weight`], which is
//!   `in × out` (`x·W`), so that `nn.Linear`'s `x @ weight.T` computes the same product;
//! - `layers.{i}.bias`, shape `[out]`, when the layer has a bias.
//!
//! The header's `__metadata__` holds a single entry, `"chainrule"`, whose value is a JSON
//! object: `format` (`"chainrule-mlp"`), `version` ([`FORMAT_VERSION`]), `sizes` (`[2, 4, 4, 1]`),
//! `activations` (one name per layer, as [`Activation`]'s `Display`), `bias` (one `true`/`false`
//! per layer), `loss` (as [`Loss`]'s `Display`) and `checksum` (see below). A loader needs
//! nothing else to rebuild the network. One entry, not one per field, because the crate writes
//! `__metadata__` from a `HashMap` in the map's random order: with several entries, two saves
//! of the same network could differ in their bytes. With one, a save is a function of the
//! network alone, and save → load → save gives the same bytes.
//!
//! `checksum` is `"fnv1a64:"` and 16 hex digits: the 64-bit FNV-1a hash of every tensor's data
//! bytes, tensors taken in the byte order of their names. It catches flipped bytes in the
//! numbers, which the format itself cannot see. A file without it (written by another tool) is
//! loaded unchecked.
//!
//! # The optimizer file
//! The same format: one 1-D `F64` tensor `{buffer}.{slot}` per buffer of the
//! [`OptimizerState`] and parameter slot (`velocity.0`, or `m.3` and `v.3`; slots in the order
//! of [`Mlp::params`], each in [`Matrix`]'s row-major order, `in × out` for a weight), and the
//! `"chainrule"` metadata entry: `format` (`"chainrule-optimizer"`), `version`, `kind`, `t`,
//! `buffers` (names, in order), `slots` (how many), `hyperparameters` (`lr`, and `mu` or
//! `beta1`, `beta2`, `eps`) and `checksum`.
//!
//! # Loading safely
//! Every loader returns a value or an error saying what is wrong and where (which file, tensor
//! or field, what was found and what was expected); none panics on any input. Sizes a file
//! declares are checked against its length before anything is allocated for them, so a
//! corrupted header cannot ask for more memory than the file itself occupies. Every write goes
//! to a temporary file in the same directory that is then renamed over the target
//! ([`write_atomic`]): a reader never sees half a file.
//!
//! [`Layer::weight`]: crate::nn::Layer::weight

#[cfg(doc)]
use crate::loss::Loss;
#[cfg(doc)]
use crate::matrix::Matrix;
#[cfg(doc)]
use crate::nn::{Activation, Mlp};
#[cfg(doc)]
use crate::optim::OptimizerState;

/// The version of the files' layout and metadata that this library writes and reads.
pub const FORMAT_VERSION: u64 = 1;

/// The key of the one `__metadata__` entry of the weights and optimizer files.
pub const METADATA_KEY: &str = "chainrule";

mod container;
mod file;
mod optimizer;
mod run;
mod weights;

pub use file::{write_atomic, FileError, FormatError};
pub use optimizer::{
    load_optimizer, optimizer_from_bytes, optimizer_to_bytes, save_optimizer, SavedOptimizer,
};
pub use run::{
    history_to_csv, load_history, load_run, parse_history, save_history, save_run, HistoryRow,
    RunRecord, HISTORY_HEADER,
};
pub use weights::{load_weights, save_weights, weights_from_bytes, weights_to_bytes, SavedModel};
