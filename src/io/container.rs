//! The safetensors container: checksums, writing tensors with the `"chainrule"` metadata entry,
//! and opening a file safely.

use std::collections::HashMap;

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensorError, SafeTensors};
use serde_json::{Map, Value};

use super::file::FormatError;
use super::{FORMAT_VERSION, METADATA_KEY};

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
pub(super) fn checksum<'a>(tensors: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut sorted: Vec<(&str, &[u8])> = tensors.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut hash = Fnv1a::new();
    for (_, bytes) in sorted {
        hash.feed(bytes);
    }
    hash.text()
}

/// Little-endian bytes of `values`.
pub(super) fn f64_bytes(values: impl IntoIterator<Item = f64>) -> Vec<u8> {
    values.into_iter().flat_map(f64::to_le_bytes).collect()
}

/// A safetensors file of `F64` tensors with the `"chainrule"` metadata entry `meta` (a JSON
/// object to which the checksum of the tensors is added).
pub(super) fn to_safetensors(
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
pub(super) struct Container<'a> {
    pub(super) tensors: SafeTensors<'a>,
    pub(super) meta: Map<String, Value>,
}

/// Opens `bytes` as a safetensors file whose metadata entry has `format`.
///
/// Before the crate parses it, the sizes the header declares are checked against the file:
/// every tensor's data must lie within the bytes that follow the header.
pub(super) fn open_safetensors<'a>(
    bytes: &'a [u8],
    format: &str,
) -> Result<Container<'a>, FormatError> {
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
pub(super) fn declared_header(bytes: &[u8]) -> Result<Map<String, Value>, FormatError> {
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
pub(super) fn describe_safetensors_error(e: SafeTensorError) -> FormatError {
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
pub(super) fn check_format(meta: &Map<String, Value>, format: &str) -> Result<(), FormatError> {
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
pub(super) fn field<'m>(
    meta: &'m Map<String, Value>,
    name: &str,
) -> Result<&'m Value, FormatError> {
    meta.get(name)
        .ok_or_else(|| FormatError::new(format!("metadata field `{name}` is missing")))
}

/// A metadata field that is an array, or an error naming it and what it should hold.
pub(super) fn array<'m>(
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
pub(super) fn tensor_values(
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
pub(super) fn no_other_tensors(
    file: &SafeTensors<'_>,
    expected: &[String],
) -> Result<(), FormatError> {
    let mut names = file.names();
    names.sort_unstable();
    match names.iter().find(|n| !expected.iter().any(|e| e == *n)) {
        Some(extra) => Err(FormatError::new(format!(
            "unexpected tensor `{extra}`: the metadata describes the tensors {expected:?}"
        ))),
        None => Ok(()),
    }
}
