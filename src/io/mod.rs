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

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensorError, SafeTensors};
use serde_json::{json, Map, Value};

use crate::data::{Builtin, DataSource};
use crate::loss::Loss;
use crate::matrix::Matrix;
use crate::nn::{Activation, Layer, Mlp};
use crate::optim::{OptimizerKind, OptimizerSpec, OptimizerState};

/// The version of the files' layout and metadata that this library writes and reads.
pub const FORMAT_VERSION: u64 = 1;

/// The key of the one `__metadata__` entry of the weights and optimizer files.
pub const METADATA_KEY: &str = "chainrule";

/// What is wrong with a file's contents: the message says where in the file, and what was
/// expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError {
    message: String,
}

impl FormatError {
    fn new(message: impl Into<String>) -> Self {
        FormatError {
            message: message.into(),
        }
    }
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FormatError {}

/// Why a file could not be read, understood, or written.
#[derive(Debug)]
pub enum FileError {
    /// The operating system refused (missing file, no permission, full disk, …).
    Io {
        /// The file.
        path: PathBuf,
        /// Whether it was being written (else read).
        writing: bool,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The file was read, but its contents are not what was expected.
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where in the file.
        problem: FormatError,
    },
}

impl FileError {
    fn read(path: &Path, source: std::io::Error) -> Self {
        FileError::Io {
            path: path.to_path_buf(),
            writing: false,
            source,
        }
    }

    fn write(path: &Path, source: std::io::Error) -> Self {
        FileError::Io {
            path: path.to_path_buf(),
            writing: true,
            source,
        }
    }

    fn format(path: &Path) -> impl FnOnce(FormatError) -> Self + '_ {
        move |problem| FileError::Format {
            path: path.to_path_buf(),
            problem,
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Io {
                path,
                writing,
                source,
            } => {
                let verb = if *writing { "write" } else { "read" };
                write!(f, "cannot {verb} {}: {source}", path.display())
            }
            FileError::Format { path, problem } => write!(f, "{}: {problem}", path.display()),
        }
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FileError::Io { source, .. } => Some(source),
            FileError::Format { problem, .. } => Some(problem),
        }
    }
}

// ---- files ---------------------------------------------------------------------------------

/// Writes `bytes` to `path` atomically: into a new temporary file in the same directory
/// (`.{name}.tmp-{pid}-{n}`), flushed to disk, then renamed over `path`. A reader sees the old
/// file or the new one, never a part; on error the temporary file is removed.
///
/// # Errors
/// [`FileError::Io`] if the directory cannot be written.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| {
        FileError::write(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
        )
    })?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".tmp-{}-{n}", std::process::id()));
    let temp = path.with_file_name(temp_name);
    let written = File::create_new(&temp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    let result = written.and_then(|()| std::fs::rename(&temp, path));
    if let Err(source) = result {
        let _ = std::fs::remove_file(&temp);
        return Err(FileError::write(path, source));
    }
    Ok(())
}

/// Reads a whole file (one allocation of the file's size).
fn read_file(path: &Path) -> Result<Vec<u8>, FileError> {
    std::fs::read(path).map_err(|e| FileError::read(path, e))
}

// ---- the safetensors container -------------------------------------------------------------

/// 64-bit FNV-1a over byte strings, fed in order.
struct Fnv1a(u64);

impl Fnv1a {
    fn new() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }

    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn text(&self) -> String {
        format!("fnv1a64:{:016x}", self.0)
    }
}

/// The checksum of named tensors' data: FNV-1a over their bytes, in the byte order of the names.
fn checksum<'a>(tensors: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut sorted: Vec<(&str, &[u8])> = tensors.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut hash = Fnv1a::new();
    for (_, bytes) in sorted {
        hash.feed(bytes);
    }
    hash.text()
}

/// Little-endian bytes of `values`.
fn f64_bytes(values: impl IntoIterator<Item = f64>) -> Vec<u8> {
    values.into_iter().flat_map(f64::to_le_bytes).collect()
}

/// A safetensors file of `F64` tensors with the `"chainrule"` metadata entry `meta` (a JSON
/// object to which the checksum of the tensors is added).
fn to_safetensors(
    tensors: &[(String, Vec<usize>, Vec<u8>)],
    mut meta: Map<String, Value>,
) -> Result<Vec<u8>, FormatError> {
    let sum = checksum(tensors.iter().map(|(n, _, b)| (n.as_str(), b.as_slice())));
    meta.insert("checksum".into(), Value::String(sum));
    let views = tensors
        .iter()
        .map(|(name, shape, bytes)| {
            TensorView::new(Dtype::F64, shape.clone(), bytes).map(|view| (name.as_str(), view))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| FormatError::new(format!("cannot lay out the tensors: {e}")))?;
    let metadata = HashMap::from([(METADATA_KEY.to_string(), Value::Object(meta).to_string())]);
    safetensors::serialize(views, Some(metadata))
        .map_err(|e| FormatError::new(format!("cannot serialize: {e}")))
}

/// A parsed safetensors file: the crate's view of the tensors and our metadata entry.
struct Container<'a> {
    tensors: SafeTensors<'a>,
    meta: Map<String, Value>,
}

/// Opens `bytes` as a safetensors file whose metadata entry has `format`.
///
/// Before the crate parses it, the sizes the header declares are checked against the file:
/// every tensor's data must lie within the bytes that follow the header.
fn open_safetensors<'a>(bytes: &'a [u8], format: &str) -> Result<Container<'a>, FormatError> {
    let header = declared_header(bytes)?;
    let tensors = SafeTensors::deserialize(bytes).map_err(describe_safetensors_error)?;
    let meta = match header.get("__metadata__") {
        None => Err(format!(
            "the header has no `__metadata__`, so it does not say what the tensors are (expected \
             the entry `{METADATA_KEY}` that chainrule writes)"
        )),
        Some(Value::Object(entries)) => match entries.get(METADATA_KEY) {
            Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(meta)) => Ok(meta),
                Ok(_) => Err(format!(
                    "the metadata entry `{METADATA_KEY}` is not a JSON object"
                )),
                Err(e) => Err(format!(
                    "the metadata entry `{METADATA_KEY}` is not valid JSON: {e}"
                )),
            },
            _ => Err(format!(
                "`__metadata__` has no entry `{METADATA_KEY}` (expected the description chainrule \
                 writes)"
            )),
        },
        Some(_) => Err("`__metadata__` is not a JSON object".to_string()),
    }
    .map_err(FormatError::new)?;
    check_format(&meta, format)?;
    if let Some(expected) = meta.get("checksum") {
        let expected = expected
            .as_str()
            .ok_or_else(|| FormatError::new("metadata field `checksum` is not a string"))?;
        let found = checksum(tensors.iter().map(|(name, view)| (name, view.data())));
        if found != expected {
            return Err(FormatError::new(format!(
                "the tensors' data does not match the metadata's checksum (found {found}, \
                 expected {expected}): the file is corrupted"
            )));
        }
    }
    Ok(Container { tensors, meta })
}

/// The header of a safetensors file as JSON, after checking that its length and every
/// tensor's declared data lie within the file.
fn declared_header(bytes: &[u8]) -> Result<Map<String, Value>, FormatError> {
    let len = bytes.len();
    let Some((prefix, rest)) = bytes.split_first_chunk::<8>() else {
        return Err(FormatError::new(format!(
            "the file is {len} bytes long, shorter than the 8-byte header length that starts a \
             safetensors file (truncated, or not a safetensors file)"
        )));
    };
    let declared = u64::from_le_bytes(*prefix);
    let header_len = usize::try_from(declared)
        .ok()
        .filter(|&n| n <= rest.len())
        .ok_or_else(|| {
            FormatError::new(format!(
                "the header length says {declared} bytes, but only {} bytes follow it \
                 (truncated, or not a safetensors file)",
                rest.len()
            ))
        })?;
    let (header, data) = rest.split_at(header_len);
    let header: Map<String, Value> = serde_json::from_slice(header).map_err(|e| {
        FormatError::new(format!(
            "the header is not a JSON object: {e} (corrupted, or not a safetensors file)"
        ))
    })?;
    for (name, info) in &header {
        if name == "__metadata__" {
            continue;
        }
        let offsets = info
            .get("data_offsets")
            .and_then(Value::as_array)
            .map(|o| o.iter().map(Value::as_u64).collect::<Option<Vec<u64>>>());
        let Some(Some(offsets)) = offsets else {
            return Err(FormatError::new(format!(
                "tensor `{name}` has no `data_offsets` pair of byte offsets (corrupted)"
            )));
        };
        if offsets.len() != 2 || offsets.iter().any(|&o| o > data.len() as u64) {
            return Err(FormatError::new(format!(
                "tensor `{name}` declares data at bytes {offsets:?}, but the file holds {} bytes \
                 of data (truncated or corrupted)",
                data.len()
            )));
        }
    }
    Ok(header)
}

/// The crate's error, said for a reader of the file.
fn describe_safetensors_error(e: SafeTensorError) -> FormatError {
    use SafeTensorError::*;
    FormatError::new(match e {
        InvalidHeader(e) => format!("the header is not UTF-8 text: {e} (corrupted)"),
        InvalidHeaderDeserialization(e) => {
            format!("the header does not describe tensors: {e} (corrupted)")
        }
        HeaderTooLarge => "the header is larger than the 100 MB safetensors allows".to_string(),
        HeaderTooSmall | InvalidHeaderLength => {
            "the header length does not fit the file (truncated)".to_string()
        }
        InvalidOffset(name) => format!(
            "tensor `{name}`'s data does not start where the previous tensor's ends (corrupted)"
        ),
        TensorInvalidInfo | ValidationOverflow | MisalignedSlice => {
            "a tensor's data offsets do not match its shape and dtype (corrupted)".to_string()
        }
        MetadataIncompleteBuffer => "the tensors' data does not fill the file exactly: \
             bytes are missing or were added (truncated or corrupted)"
            .to_string(),
        other => format!("not a valid safetensors file: {other}"),
    })
}

/// Checks the metadata's `format` and `version`.
fn check_format(meta: &Map<String, Value>, format: &str) -> Result<(), FormatError> {
    match meta.get("format").and_then(Value::as_str) {
        Some(found) if found == format => {}
        Some(found) => {
            return Err(FormatError::new(format!(
                "metadata field `format` is `{found}`, expected `{format}`"
            )))
        }
        None => {
            return Err(FormatError::new(format!(
                "metadata field `format` is missing, expected `{format}`"
            )))
        }
    }
    match meta.get("version").and_then(Value::as_u64) {
        Some(FORMAT_VERSION) => Ok(()),
        Some(v) => Err(FormatError::new(format!(
            "metadata field `version` is {v}, but this chainrule reads version {FORMAT_VERSION}"
        ))),
        None => Err(FormatError::new(format!(
            "metadata field `version` is missing or not a whole number, expected \
             {FORMAT_VERSION}"
        ))),
    }
}

/// A metadata field, or an error naming it.
fn field<'m>(meta: &'m Map<String, Value>, name: &str) -> Result<&'m Value, FormatError> {
    meta.get(name)
        .ok_or_else(|| FormatError::new(format!("metadata field `{name}` is missing")))
}

/// A metadata field that is an array, or an error naming it and what it should hold.
fn array<'m>(
    meta: &'m Map<String, Value>,
    name: &str,
    of: &str,
) -> Result<&'m [Value], FormatError> {
    field(meta, name)?
        .as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| {
            FormatError::new(format!(
                "metadata field `{name}` is not an array (expected {of})"
            ))
        })
}

/// A tensor's values, after checking it is `F64` of shape `shape`.
fn tensor_values(
    file: &SafeTensors<'_>,
    name: &str,
    shape: &[usize],
    what: &str,
) -> Result<Vec<f64>, FormatError> {
    let view = file.tensor(name).map_err(|_| {
        FormatError::new(format!(
            "tensor `{name}` is missing (expected {what} of shape {shape:?})"
        ))
    })?;
    if view.dtype() != Dtype::F64 {
        return Err(FormatError::new(format!(
            "tensor `{name}` has dtype {:?}, expected F64",
            view.dtype()
        )));
    }
    if view.shape() != shape {
        return Err(FormatError::new(format!(
            "tensor `{name}` has shape {:?}, expected {shape:?} ({what})",
            view.shape()
        )));
    }
    let values: Vec<f64> = view
        .data()
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
        .collect();
    if let Some(at) = values.iter().position(|v| !v.is_finite()) {
        return Err(FormatError::new(format!(
            "tensor `{name}` holds {} at flat index {at}: every value must be finite",
            values[at]
        )));
    }
    Ok(values)
}

/// Fails if the file holds a tensor not in `expected`.
fn no_other_tensors(file: &SafeTensors<'_>, expected: &[String]) -> Result<(), FormatError> {
    let mut names = file.names();
    names.sort_unstable();
    match names.iter().find(|n| !expected.iter().any(|e| e == *n)) {
        Some(extra) => Err(FormatError::new(format!(
            "unexpected tensor `{extra}`: the metadata describes the tensors {expected:?}"
        ))),
        None => Ok(()),
    }
}

// ---- weights -------------------------------------------------------------------------------

/// A network as saved: its layers and the loss it was trained with.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedModel {
    /// The network.
    pub mlp: Mlp,
    /// The loss recorded with it.
    pub loss: Loss,
}

/// The safetensors bytes of `mlp` and `loss` (see the module doc for the layout).
///
/// # Errors
/// Only if the crate cannot lay out the tensors (a header over 100 MB: tens of thousands of
/// layers).
pub fn weights_to_bytes(mlp: &Mlp, loss: Loss) -> Result<Vec<u8>, FormatError> {
    let mut tensors = Vec::new();
    for (i, layer) in mlp.layers.iter().enumerate() {
        let (fan_in, fan_out) = layer.weight.shape();
        // nn.Linear's [out, in]: the transpose of our in × out.
        let transposed = (0..fan_out).flat_map(|o| (0..fan_in).map(move |k| (k, o)));
        let bytes = f64_bytes(transposed.map(|at| layer.weight[at]));
        tensors.push((format!("layers.{i}.weight"), vec![fan_out, fan_in], bytes));
        if let Some(bias) = &layer.bias {
            let bytes = f64_bytes(bias.as_slice().iter().copied());
            tensors.push((format!("layers.{i}.bias"), vec![fan_out], bytes));
        }
    }
    let activations: Vec<&str> = mlp.layers.iter().map(|l| l.activation.name()).collect();
    let bias: Vec<bool> = mlp.layers.iter().map(|l| l.bias.is_some()).collect();
    let meta = json!({
        "format": "chainrule-mlp",
        "version": FORMAT_VERSION,
        "sizes": mlp.sizes(),
        "activations": activations,
        "bias": bias,
        "loss": loss.name(),
    });
    let Value::Object(meta) = meta else {
        unreachable!("json! of an object literal is an object")
    };
    to_safetensors(&tensors, meta)
}

/// Rebuilds a network and its loss from the bytes of a weights file.
///
/// # Errors
/// A [`FormatError`] naming the first problem: not a safetensors file, truncated, corrupted
/// (including a checksum mismatch), metadata missing or of the wrong format or version, an
/// unknown activation or loss, a tensor missing, extra, not `F64`, of the wrong shape for the
/// metadata's sizes, or holding a value that is not finite.
pub fn weights_from_bytes(bytes: &[u8]) -> Result<SavedModel, FormatError> {
    let Container { tensors, meta } = open_safetensors(bytes, "chainrule-mlp")?;
    let sizes = array(&meta, "sizes", "the layer sizes, input first")?
        .iter()
        .map(|v| v.as_u64().and_then(|s| usize::try_from(s).ok()))
        .collect::<Option<Vec<usize>>>()
        .filter(|s| s.len() >= 2 && s.iter().all(|&n| n > 0))
        .ok_or_else(|| {
            FormatError::new(
                "metadata field `sizes` must list at least two positive whole numbers (input, \
                 …, output)",
            )
        })?;
    let layers = sizes.len() - 1;
    let activations = array(&meta, "activations", "one activation name per layer")?
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let name = v.as_str().ok_or_else(|| {
                FormatError::new(format!("metadata `activations`[{i}] is not a string"))
            })?;
            name.parse::<Activation>()
                .map_err(|e| FormatError::new(format!("metadata `activations`[{i}]: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let bias = array(&meta, "bias", "one true/false per layer")?
        .iter()
        .map(Value::as_bool)
        .collect::<Option<Vec<bool>>>()
        .ok_or_else(|| FormatError::new("metadata field `bias` must hold only true or false"))?;
    for (name, found) in [("activations", activations.len()), ("bias", bias.len())] {
        if found != layers {
            return Err(FormatError::new(format!(
                "metadata field `{name}` has {found} entries, but `sizes` {sizes:?} makes \
                 {layers} layers"
            )));
        }
    }
    let loss_name = field(&meta, "loss")?
        .as_str()
        .ok_or_else(|| FormatError::new("metadata field `loss` is not a string"))?;
    let loss = loss_name
        .parse::<Loss>()
        .map_err(|e| FormatError::new(format!("metadata field `loss`: {e}")))?;
    let mut expected = Vec::new();
    for (i, &has_bias) in bias.iter().enumerate() {
        expected.push(format!("layers.{i}.weight"));
        if has_bias {
            expected.push(format!("layers.{i}.bias"));
        }
    }
    no_other_tensors(&tensors, &expected)?;
    let mut mlp_layers = Vec::with_capacity(layers);
    for (i, io) in sizes.windows(2).enumerate() {
        let (fan_in, fan_out) = (io[0], io[1]);
        let what = format!("layer {i}, {fan_in} inputs to {fan_out} outputs, as [out, in]");
        let t = tensor_values(
            &tensors,
            &format!("layers.{i}.weight"),
            &[fan_out, fan_in],
            &what,
        )?;
        let weight = Matrix::from_fn(fan_in, fan_out, |k, o| t[o * fan_in + k]);
        let bias = if bias[i] {
            let what = format!("layer {i}'s {fan_out} biases");
            let b = tensor_values(&tensors, &format!("layers.{i}.bias"), &[fan_out], &what)?;
            Some(Matrix::new(1, fan_out, b))
        } else {
            None
        };
        mlp_layers.push(Layer {
            weight,
            bias,
            activation: activations[i],
        });
    }
    Ok(SavedModel {
        mlp: Mlp { layers: mlp_layers },
        loss,
    })
}

/// Saves `mlp` and `loss` to `path` atomically (see [`weights_to_bytes`]).
///
/// # Errors
/// [`FileError::Io`] if the file cannot be written.
pub fn save_weights(path: &Path, mlp: &Mlp, loss: Loss) -> Result<(), FileError> {
    let bytes = weights_to_bytes(mlp, loss).map_err(FileError::format(path))?;
    write_atomic(path, &bytes)
}

/// Loads a network and its loss from a weights file (see [`weights_from_bytes`]).
///
/// # Errors
/// [`FileError::Io`] if the file cannot be read, [`FileError::Format`] if it is not a valid
/// weights file.
pub fn load_weights(path: &Path) -> Result<SavedModel, FileError> {
    weights_from_bytes(&read_file(path)?).map_err(FileError::format(path))
}

// ---- optimizer -----------------------------------------------------------------------------

/// An optimizer as saved: what to build ([`OptimizerSpec::build`]) and the state to load into
/// it ([`Optimizer::load_state`](crate::Optimizer::load_state)).
#[derive(Clone, Debug, PartialEq)]
pub struct SavedOptimizer {
    /// Kind and hyperparameters.
    pub spec: OptimizerSpec,
    /// Step count and buffers.
    pub state: OptimizerState,
}

/// The buffers each kind of optimizer keeps, in order.
fn buffer_names(kind: OptimizerKind) -> &'static [&'static str] {
    match kind {
        OptimizerKind::Sgd => &[],
        OptimizerKind::Momentum => &["velocity"],
        OptimizerKind::Adam => &["m", "v"],
    }
}

/// The safetensors bytes of an optimizer's hyperparameters and state (see the module doc).
///
/// # Errors
/// If `state` is not of `spec`'s kind, its buffers are not the kind's, or they disagree in
/// their number of slots.
pub fn optimizer_to_bytes(
    spec: &OptimizerSpec,
    state: &OptimizerState,
) -> Result<Vec<u8>, FormatError> {
    let kind = spec.kind();
    let names: Vec<&str> = state.buffers.iter().map(|(n, _)| n.as_str()).collect();
    if state.kind != kind.name() || names != buffer_names(kind) {
        return Err(FormatError::new(format!(
            "an optimizer state of kind `{}` with buffers {names:?} does not belong to {spec}",
            state.kind
        )));
    }
    let slots = state.buffers.first().map_or(0, |(_, s)| s.len());
    if state.buffers.iter().any(|(_, s)| s.len() != slots) {
        return Err(FormatError::new(
            "the optimizer's buffers differ in their number of slots",
        ));
    }
    let mut tensors = Vec::new();
    for (name, per_slot) in &state.buffers {
        for (slot, values) in per_slot.iter().enumerate() {
            let bytes = f64_bytes(values.iter().copied());
            tensors.push((format!("{name}.{slot}"), vec![values.len()], bytes));
        }
    }
    let hyper: Map<String, Value> = spec
        .hyperparameters()
        .into_iter()
        .map(|(name, value)| (name.to_string(), json!(value)))
        .collect();
    let meta = json!({
        "format": "chainrule-optimizer",
        "version": FORMAT_VERSION,
        "kind": kind.name(),
        "t": state.t,
        "buffers": names,
        "slots": slots,
        "hyperparameters": hyper,
    });
    let Value::Object(meta) = meta else {
        unreachable!("json! of an object literal is an object")
    };
    to_safetensors(&tensors, meta)
}

/// Reads an optimizer's hyperparameters and state from the bytes of an optimizer file.
///
/// # Errors
/// A [`FormatError`] naming the first problem: the container's (as [`weights_from_bytes`]), an
/// unknown kind, buffers that are not the kind's, hyperparameters missing or not finite (or a
/// learning rate that is not positive), a tensor missing, extra, not 1-D `F64`, or of another
/// length than the same slot of the first buffer.
pub fn optimizer_from_bytes(bytes: &[u8]) -> Result<SavedOptimizer, FormatError> {
    let Container { tensors, meta } = open_safetensors(bytes, "chainrule-optimizer")?;
    let kind: OptimizerKind = field(&meta, "kind")?
        .as_str()
        .ok_or_else(|| FormatError::new("metadata field `kind` is not a string"))?
        .parse()
        .map_err(|e| FormatError::new(format!("metadata field `kind`: {e}")))?;
    let t = field(&meta, "t")?
        .as_u64()
        .ok_or_else(|| FormatError::new("metadata field `t` is not a whole number"))?;
    let names = array(&meta, "buffers", "the buffer names")?
        .iter()
        .map(Value::as_str)
        .collect::<Option<Vec<&str>>>();
    let expected_names = buffer_names(kind);
    if names.as_deref() != Some(expected_names) {
        return Err(FormatError::new(format!(
            "metadata field `buffers` is {}, but `{kind}` keeps the buffers {expected_names:?}",
            field(&meta, "buffers")?
        )));
    }
    let slots = field(&meta, "slots")?
        .as_u64()
        .and_then(|s| usize::try_from(s).ok())
        .ok_or_else(|| FormatError::new("metadata field `slots` is not a whole number"))?;
    // Each slot of each buffer is a tensor: a count beyond the tensors in the file is a lie,
    // refused before anything is sized by it.
    if slots.saturating_mul(expected_names.len()) != tensors.len() {
        return Err(FormatError::new(format!(
            "metadata field `slots` says {slots} slots of {} buffers, but the file holds {} \
             tensors",
            expected_names.len(),
            tensors.len()
        )));
    }
    let spec = optimizer_spec(kind, &meta)?;
    let expected: Vec<String> = expected_names
        .iter()
        .flat_map(|b| (0..slots).map(move |s| format!("{b}.{s}")))
        .collect();
    no_other_tensors(&tensors, &expected)?;
    let mut buffers: Vec<(String, Vec<Vec<f64>>)> = Vec::with_capacity(expected_names.len());
    for &name in expected_names {
        let mut per_slot = Vec::with_capacity(slots);
        for slot in 0..slots {
            let tensor = format!("{name}.{slot}");
            // Every buffer's slot has the length of the first buffer's; the first buffer's
            // slots have whatever length they declare (the data behind it was checked).
            let len = match buffers.first() {
                Some((_, first)) => first[slot].len(),
                None => match tensors.tensor(&tensor).map(|v| v.shape().to_vec()) {
                    Ok(shape) if shape.len() == 1 => shape[0],
                    Ok(shape) => {
                        return Err(FormatError::new(format!(
                            "tensor `{tensor}` has shape {shape:?}, expected one dimension"
                        )))
                    }
                    Err(_) => {
                        return Err(FormatError::new(format!(
                            "tensor `{tensor}` is missing (slot {slot} of buffer `{name}`)"
                        )))
                    }
                },
            };
            let what = format!("slot {slot} of buffer `{name}`");
            per_slot.push(tensor_values(&tensors, &tensor, &[len], &what)?);
        }
        buffers.push((name.to_string(), per_slot));
    }
    let state = OptimizerState {
        kind: kind.name().to_string(),
        t,
        buffers,
    };
    Ok(SavedOptimizer { spec, state })
}

/// The hyperparameters of `kind` from the metadata's `hyperparameters` object.
fn optimizer_spec(
    kind: OptimizerKind,
    meta: &Map<String, Value>,
) -> Result<OptimizerSpec, FormatError> {
    let hyper = field(meta, "hyperparameters")?
        .as_object()
        .ok_or_else(|| FormatError::new("metadata field `hyperparameters` is not an object"))?;
    let number = |name: &str| -> Result<f64, FormatError> {
        hyper
            .get(name)
            .and_then(Value::as_f64)
            .filter(|v| v.is_finite())
            .ok_or_else(|| {
                FormatError::new(format!(
                    "metadata `hyperparameters.{name}` is missing or not a finite number"
                ))
            })
    };
    let lr = number("lr")?;
    if lr <= 0.0 {
        return Err(FormatError::new(format!(
            "metadata `hyperparameters.lr` is {lr}, expected a positive learning rate"
        )));
    }
    let spec = match kind {
        OptimizerKind::Sgd => OptimizerSpec::Sgd { lr },
        OptimizerKind::Momentum => OptimizerSpec::Momentum {
            lr,
            mu: number("mu")?,
        },
        OptimizerKind::Adam => OptimizerSpec::Adam {
            lr,
            beta1: number("beta1")?,
            beta2: number("beta2")?,
            eps: number("eps")?,
        },
    };
    let known: Vec<&str> = spec.hyperparameters().iter().map(|(n, _)| *n).collect();
    if let Some(extra) = hyper.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(FormatError::new(format!(
            "metadata `hyperparameters.{extra}` is not a hyperparameter of `{kind}` (expected \
             {known:?})"
        )));
    }
    Ok(spec)
}

/// Saves an optimizer's hyperparameters and state to `path` atomically.
///
/// # Errors
/// [`FileError::Io`] if the file cannot be written; [`FileError::Format`] if `state` does not
/// belong to `spec` (see [`optimizer_to_bytes`]).
pub fn save_optimizer(
    path: &Path,
    spec: &OptimizerSpec,
    state: &OptimizerState,
) -> Result<(), FileError> {
    let bytes = optimizer_to_bytes(spec, state).map_err(FileError::format(path))?;
    write_atomic(path, &bytes)
}

/// Loads an optimizer's hyperparameters and state from `path` (see [`optimizer_from_bytes`]).
///
/// # Errors
/// [`FileError::Io`] if the file cannot be read, [`FileError::Format`] if it is not a valid
/// optimizer file.
pub fn load_optimizer(path: &Path) -> Result<SavedOptimizer, FileError> {
    optimizer_from_bytes(&read_file(path)?).map_err(FileError::format(path))
}

// ---- the run record ------------------------------------------------------------------------

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
