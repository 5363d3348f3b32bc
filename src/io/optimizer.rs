//! The optimizer file: an [`OptimizerState`] and its hyperparameters as safetensors.

use std::path::Path;

use serde_json::{json, Map, Value};

use super::container::{
    array, f64_bytes, field, no_other_tensors, open_safetensors, tensor_values, to_safetensors,
    Container,
};
use super::file::{read_file, write_atomic, FileError, FormatError};
#[cfg(doc)]
use super::weights_from_bytes;
use super::FORMAT_VERSION;
use crate::optim::{OptimizerKind, OptimizerSpec, OptimizerState};

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
