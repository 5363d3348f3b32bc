//! The weights file: a network and its loss as safetensors.

use std::path::Path;

use serde_json::{json, Value};

use super::container::{
    array, f64_bytes, field, no_other_tensors, open_safetensors, tensor_values, to_safetensors,
    Container,
};
use super::file::{read_file, write_atomic, FileError, FormatError};
use super::FORMAT_VERSION;
use crate::loss::Loss;
use crate::matrix::Matrix;
use crate::nn::{Activation, Layer, Mlp};

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
