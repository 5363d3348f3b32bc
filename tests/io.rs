//! Weights, optimizer state, run records and histories on disk: the layout other frameworks
//! read, round trips to the byte, and one clear message for each kind of bad file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chainrule::data::{Builtin, DataSource};
use chainrule::io::{self, FileError, HistoryRow, RunRecord};
use chainrule::loss::Loss;
use chainrule::nn::{Activation, Init, Mlp};
use chainrule::optim::{Adam, Momentum, Optimizer, OptimizerKind, OptimizerSpec, Sgd};
use chainrule::{Matrix, Tape};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use serde_json::Value;

/// A fresh directory for one test's files, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

fn scratch(test: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("chainrule-io-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

fn lab_net() -> Mlp {
    Mlp::new(
        &[2, 4, 3, 1],
        &[Activation::Relu, Activation::Tanh, Activation::Sigmoid],
        true,
        Init::Xavier,
        7,
    )
}

/// A few Adam steps on `mlp`, so the state has every buffer filled and t > 0.
fn stepped<O: Optimizer>(mut opt: O, mlp: &mut Mlp) -> O {
    let mut tape = Tape::new();
    for step in 0..3 {
        tape.reset();
        let net = mlp.bind(&tape);
        let x = tape.input(&Matrix::from_rows(&[[0.2, 0.9], [0.7, -0.1]]));
        let target = tape.input(&Matrix::new(2, 1, vec![1.0, f64::from(step)]));
        let loss = net.forward(x).mse(target);
        opt.step(mlp, &net, &tape.backward(loss));
    }
    opt
}

// ---- layout --------------------------------------------------------------------------------

#[test]
fn weights_are_f64_tensors_in_nn_linear_layout_with_the_network_in_the_metadata() {
    let mlp = lab_net();
    let bytes = io::weights_to_bytes(&mlp, Loss::Bce).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let mut names = file.names();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "layers.0.bias",
            "layers.0.weight",
            "layers.1.bias",
            "layers.1.weight",
            "layers.2.bias",
            "layers.2.weight"
        ]
    );
    for (i, layer) in mlp.layers.iter().enumerate() {
        let weight = file.tensor(&format!("layers.{i}.weight")).unwrap();
        let (fan_in, fan_out) = layer.weight.shape();
        assert_eq!(weight.dtype(), Dtype::F64);
        assert_eq!(weight.shape(), [fan_out, fan_in]);
        let values: Vec<f64> = weight
            .data()
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
            .collect();
        // [out, in] row-major is our in × out transposed.
        assert_eq!(values, layer.weight.transpose().as_slice());
        let bias = file.tensor(&format!("layers.{i}.bias")).unwrap();
        assert_eq!(bias.shape(), [fan_out]);
    }
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let entries = header.metadata().as_ref().unwrap();
    assert_eq!(entries.len(), 1, "one entry keeps the bytes deterministic");
    let meta: Value = serde_json::from_str(&entries[io::METADATA_KEY]).unwrap();
    assert_eq!(meta["format"], "chainrule-mlp");
    assert_eq!(meta["version"], io::FORMAT_VERSION);
    assert_eq!(meta["sizes"], serde_json::json!([2, 4, 3, 1]));
    assert_eq!(
        meta["activations"],
        serde_json::json!(["relu", "tanh", "sigmoid"])
    );
    assert_eq!(meta["bias"], serde_json::json!([true, true, true]));
    assert_eq!(meta["loss"], "bce");
    assert!(meta["checksum"].as_str().unwrap().starts_with("fnv1a64:"));
}

// ---- round trips ---------------------------------------------------------------------------

#[test]
fn weights_save_load_save_is_byte_identical() {
    let dir = scratch("weights-round-trip");
    let nets = [
        (lab_net(), Loss::Bce),
        (
            Mlp::new(&[2, 1], &[Activation::Identity], false, Init::Uniform, 3),
            Loss::Sse,
        ),
        (
            Mlp::new(
                &[2, 10, 10, 1],
                &[Activation::Sigmoid; 3],
                true,
                Init::StandardNormal,
                4,
            ),
            Loss::Mse,
        ),
    ];
    for (k, (mlp, loss)) in nets.into_iter().enumerate() {
        let first = dir.join(format!("first-{k}.safetensors"));
        let second = dir.join(format!("second-{k}.safetensors"));
        io::save_weights(&first, &mlp, loss).unwrap();
        let saved = io::load_weights(&first).unwrap();
        assert_eq!((&saved.mlp, saved.loss), (&mlp, loss));
        io::save_weights(&second, &saved.mlp, saved.loss).unwrap();
        let (a, b) = (
            std::fs::read(&first).unwrap(),
            std::fs::read(&second).unwrap(),
        );
        assert_eq!(a, b, "network {k}");
    }
}

#[test]
fn optimizer_state_save_load_save_is_byte_identical_for_every_kind() {
    let dir = scratch("optimizer-round-trip");
    let mut mlp = lab_net();
    let cases: Vec<(OptimizerSpec, chainrule::optim::OptimizerState)> = vec![
        (
            OptimizerSpec::Sgd { lr: 0.8 },
            stepped(Sgd::new(0.8), &mut mlp).state(),
        ),
        (
            OptimizerSpec::Momentum { lr: 0.1, mu: 0.5 },
            stepped(Momentum::with_mu(0.1, 0.5), &mut mlp).state(),
        ),
        (
            OptimizerKind::Adam.with_lr(0.01),
            stepped(Adam::new(0.01), &mut mlp).state(),
        ),
        // Before any step: no slots.
        (OptimizerKind::Adam.with_lr(0.3), Adam::new(0.3).state()),
    ];
    for (k, (spec, state)) in cases.into_iter().enumerate() {
        let first = dir.join(format!("first-{k}.safetensors"));
        let second = dir.join(format!("second-{k}.safetensors"));
        io::save_optimizer(&first, &spec, &state).unwrap();
        let saved = io::load_optimizer(&first).unwrap();
        assert_eq!((saved.spec, &saved.state), (spec, &state), "case {k}");
        io::save_optimizer(&second, &saved.spec, &saved.state).unwrap();
        assert_eq!(
            std::fs::read(&first).unwrap(),
            std::fs::read(&second).unwrap()
        );
        // The state loads into a fresh optimizer of the kind.
        let mut fresh = saved.spec.build();
        fresh.load_state(&saved.state).unwrap();
        assert_eq!(fresh.state(), state);
    }
}

#[test]
fn a_run_record_and_a_history_read_back_the_same_bits() {
    let records = [
        RunRecord {
            data: DataSource::Builtin {
                set: Builtin::Circle,
                points: Some(321),
                seed: u64::MAX,
            },
            batch_size: usize::MAX,
            shuffle: Some(9),
            stop_loss: Some(0.1 + 0.2),
            epochs_done: 12,
            finished: true,
        },
        RunRecord {
            data: DataSource::Csv(PathBuf::from("/data/my points.csv")),
            batch_size: 1,
            shuffle: None,
            stop_loss: None,
            epochs_done: 0,
            finished: false,
        },
    ];
    for record in records {
        let text = record.to_json().unwrap();
        assert_eq!(RunRecord::from_json(&text).unwrap(), record);
    }
    let rows: Vec<HistoryRow> = (1..=50)
        .map(|epoch| HistoryRow {
            epoch,
            loss: 1.0 / (epoch as f64 * 3.0),
            max_loss: (epoch as f64).sqrt() * 1e-300,
            accuracy: epoch as f64 / 51.0,
        })
        .collect();
    let text = io::history_to_csv(&rows);
    let back = io::parse_history(&text).unwrap();
    let bits = |r: &[HistoryRow]| -> Vec<[u64; 3]> {
        r.iter()
            .map(|r| [r.loss.to_bits(), r.max_loss.to_bits(), r.accuracy.to_bits()])
            .collect()
    };
    assert_eq!(bits(&back), bits(&rows));
    assert_eq!(io::history_to_csv(&back), text);
}

// ---- bad files -----------------------------------------------------------------------------

/// The `"chainrule"` metadata of a valid weights file, as JSON.
fn metadata_of(bytes: &[u8]) -> serde_json::Map<String, Value> {
    let (_, header) = SafeTensors::read_metadata(bytes).unwrap();
    let text = &header.metadata().as_ref().unwrap()[io::METADATA_KEY];
    serde_json::from_str(text).unwrap()
}

/// A tensor to [`craft`]: dtype, name, shape, values (as f64, converted to the dtype).
type Crafted = (Dtype, &'static str, Vec<usize>, Vec<f64>);

/// A safetensors file of `tensors` with `meta` as its `"chainrule"` metadata entry.
fn craft(tensors: &[Crafted], meta: &Value) -> Vec<u8> {
    let data: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(dtype, _, _, values)| match dtype {
            Dtype::F64 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            Dtype::F32 => values
                .iter()
                .flat_map(|v| (*v as f32).to_le_bytes())
                .collect(),
            other => panic!("craft: {other:?}"),
        })
        .collect();
    let views: Vec<(&str, TensorView<'_>)> = tensors
        .iter()
        .zip(&data)
        .map(|((dtype, name, shape, _), bytes)| {
            (
                *name,
                TensorView::new(*dtype, shape.clone(), bytes).unwrap(),
            )
        })
        .collect();
    let meta = HashMap::from([(io::METADATA_KEY.to_string(), meta.to_string())]);
    safetensors::serialize(views, Some(meta)).unwrap()
}

/// The tiny network 2 → 1 with a bias, and its tensors for [`craft`].
fn tiny() -> (Value, Vec<Crafted>) {
    let mlp = Mlp::new(&[2, 1], &[Activation::Sigmoid], true, Init::Uniform, 1);
    let mut meta = metadata_of(&io::weights_to_bytes(&mlp, Loss::Mse).unwrap());
    meta.remove("checksum");
    let tensors = vec![
        (Dtype::F64, "layers.0.weight", vec![1, 2], vec![0.5, -0.5]),
        (Dtype::F64, "layers.0.bias", vec![1], vec![0.1]),
    ];
    (Value::Object(meta), tensors)
}

/// The message of loading `bytes` from a file in `dir`, which must fail.
fn load_error(dir: &Path, bytes: &[u8]) -> String {
    let path = dir.join("weights.safetensors");
    std::fs::write(&path, bytes).unwrap();
    let message = io::load_weights(&path).unwrap_err().to_string();
    let prefix = format!("{}: ", path.display());
    assert!(message.starts_with(&prefix), "{message}");
    message[prefix.len()..].to_string()
}

#[test]
fn a_crafted_file_without_a_checksum_loads() {
    let dir = scratch("crafted");
    let (meta, tensors) = tiny();
    let path = dir.join("w.safetensors");
    std::fs::write(&path, craft(&tensors, &meta)).unwrap();
    let saved = io::load_weights(&path).unwrap();
    assert_eq!(saved.mlp.layers[0].weight.as_slice(), &[0.5, -0.5]);
    assert_eq!(
        saved.mlp.layers[0].bias.as_ref().unwrap().as_slice(),
        &[0.1]
    );
}

#[test]
fn a_missing_weights_file_says_which_and_why() {
    let dir = scratch("missing");
    let path = dir.join("nothing.safetensors");
    let err = io::load_weights(&path).unwrap_err();
    assert!(matches!(err, FileError::Io { writing: false, .. }));
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("cannot read {}: ", path.display()))
            && message.contains("No such file"),
        "{message}"
    );
}

#[test]
fn a_truncated_weights_file_is_refused_at_every_length() {
    let dir = scratch("truncated");
    let bytes = io::weights_to_bytes(&lab_net(), Loss::Mse).unwrap();
    for cut in [0, 5, 8, 9, 100, bytes.len() - 8, bytes.len() - 1] {
        let message = load_error(&dir, &bytes[..cut]);
        assert!(message.contains("truncated"), "cut at {cut}: {message}");
    }
}

#[test]
fn a_flipped_byte_in_the_numbers_fails_the_checksum() {
    let dir = scratch("flipped");
    let mut bytes = io::weights_to_bytes(&lab_net(), Loss::Mse).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x10;
    let message = load_error(&dir, &bytes);
    assert!(
        message.starts_with("the tensors' data does not match the metadata's checksum")
            && message.ends_with("the file is corrupted"),
        "{message}"
    );
}

#[test]
fn a_corrupted_header_is_refused() {
    let dir = scratch("header");
    let mut bytes = io::weights_to_bytes(&lab_net(), Loss::Mse).unwrap();
    bytes[8] = b'[';
    let message = load_error(&dir, &bytes);
    assert!(
        message.starts_with("the header is not a JSON object"),
        "{message}"
    );
}

#[test]
fn each_bad_weights_file_gets_its_message() {
    let dir = scratch("bad-weights");
    let (meta, tensors) = tiny();
    let with = |key: &str, value: Value| {
        let mut meta = meta.clone();
        meta[key] = value;
        meta
    };
    let mut wrong_shape = tensors.clone();
    wrong_shape[0].2 = vec![2, 1];
    let mut wrong_dtype = tensors.clone();
    wrong_dtype[0].0 = Dtype::F32;
    let mut extra = tensors.clone();
    extra.push((Dtype::F64, "layers.1.weight", vec![1, 1], vec![1.0]));
    let mut not_finite = tensors.clone();
    not_finite[1].3 = vec![f64::NAN];
    let cases: Vec<(Vec<u8>, &str)> =
        vec![
        (
            craft(&wrong_shape, &meta),
            "tensor `layers.0.weight` has shape [2, 1], expected [1, 2] (layer 0, 2 inputs to 1 \
             outputs, as [out, in])",
        ),
        (
            craft(&wrong_dtype, &meta),
            "tensor `layers.0.weight` has dtype F32, expected F64",
        ),
        (
            craft(&tensors, &with("sizes", serde_json::json!([2, 3, 1]))),
            "metadata field `activations` has 1 entries, but `sizes` [2, 3, 1] makes 2 layers",
        ),
        (
            craft(&tensors, &with("sizes", serde_json::json!([3, 1]))),
            "tensor `layers.0.weight` has shape [1, 2], expected [1, 3] (layer 0, 3 inputs to 1 \
             outputs, as [out, in])",
        ),
        (
            craft(&tensors, &with("activations", serde_json::json!(["swish"]))),
            "metadata `activations`[0]: unknown activation `swish` (expected one of: sigmoid, \
             relu, tanh, identity)",
        ),
        (
            craft(&tensors, &with("loss", serde_json::json!("hinge"))),
            "metadata field `loss`: unknown loss `hinge` (expected one of: mse, sse, bce)",
        ),
        (
            craft(&tensors, &with("bias", serde_json::json!([false]))),
            "unexpected tensor `layers.0.bias`: the metadata describes the tensors \
             [\"layers.0.weight\"]",
        ),
        (
            craft(&extra, &meta),
            "unexpected tensor `layers.1.weight`: the metadata describes the tensors \
             [\"layers.0.weight\", \"layers.0.bias\"]",
        ),
        (
            craft(&tensors[..1], &meta),
            "tensor `layers.0.bias` is missing (expected layer 0's 1 biases of shape [1])",
        ),
        (
            craft(&not_finite, &meta),
            "tensor `layers.0.bias` holds NaN at flat index 0: every value must be finite",
        ),
        (
            craft(&tensors, &with("version", serde_json::json!(2))),
            "metadata field `version` is 2, but this chainrule reads version 1",
        ),
        (
            craft(&tensors, &with("format", serde_json::json!("chainrule-optimizer"))),
            "metadata field `format` is `chainrule-optimizer`, expected `chainrule-mlp`",
        ),
        (
            craft(&tensors, &with("sizes", serde_json::json!([2, 0]))),
            "metadata field `sizes` must list at least two positive whole numbers (input, …, \
             output)",
        ),
    ];
    for (bytes, expected) in cases {
        assert_eq!(load_error(&dir, &bytes), expected);
    }
    // A file without our metadata (written by another tool).
    let views = vec![(
        "w",
        TensorView::new(Dtype::F64, vec![1], &[0u8; 8]).unwrap(),
    )];
    let bytes = safetensors::serialize(views, None).unwrap();
    let message = load_error(&dir, &bytes);
    assert!(
        message.starts_with("the header has no `__metadata__`"),
        "{message}"
    );
}

#[test]
fn an_optimizer_file_that_lies_about_its_slots_is_refused() {
    let mut mlp = lab_net();
    let state = stepped(Momentum::new(0.1), &mut mlp).state();
    let spec = OptimizerSpec::Momentum { lr: 0.1, mu: 0.9 };
    let bytes = io::optimizer_to_bytes(&spec, &state).unwrap();
    // Rewrite the metadata to claim a huge number of slots, keeping the tensors.
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let mut meta = metadata_of(&bytes);
    meta["slots"] = serde_json::json!(u64::MAX);
    let mut names = file.names();
    names.sort_unstable();
    let views: Vec<(&str, TensorView<'_>)> = names
        .iter()
        .map(|n| (*n, file.tensor(n).unwrap()))
        .collect();
    let entry = HashMap::from([(
        io::METADATA_KEY.to_string(),
        Value::Object(meta).to_string(),
    )]);
    let lying = safetensors::serialize(views, Some(entry)).unwrap();
    let message = io::optimizer_from_bytes(&lying).unwrap_err().to_string();
    assert_eq!(
        message,
        format!(
            "metadata field `slots` says {} slots of 1 buffers, but the file holds 6 tensors",
            u64::MAX
        )
    );
}

#[test]
fn a_weights_file_is_not_an_optimizer_file() {
    let bytes = io::weights_to_bytes(&lab_net(), Loss::Mse).unwrap();
    let message = io::optimizer_from_bytes(&bytes).unwrap_err().to_string();
    assert_eq!(
        message,
        "metadata field `format` is `chainrule-mlp`, expected `chainrule-optimizer`"
    );
}

// ---- writing -------------------------------------------------------------------------------

#[test]
fn writes_are_atomic_and_leave_no_temporary_file() {
    let dir = scratch("atomic");
    let path = dir.join("weights.safetensors");
    std::fs::write(&path, b"old").unwrap();
    io::save_weights(&path, &lab_net(), Loss::Mse).unwrap();
    let names: Vec<String> = std::fs::read_dir(&*dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["weights.safetensors"]);
    assert!(io::load_weights(&path).is_ok());
}

#[test]
fn a_write_into_a_missing_directory_says_which_file() {
    let dir = scratch("no-dir");
    let path = dir.join("absent").join("weights.safetensors");
    let message = io::save_weights(&path, &lab_net(), Loss::Mse)
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with(&format!("cannot write {}: ", path.display())),
        "{message}"
    );
}

// ---- names ---------------------------------------------------------------------------------

#[test]
fn every_name_reads_back_as_its_choice() {
    for name in Activation::NAMES {
        assert_eq!(name.parse::<Activation>().unwrap().to_string(), *name);
    }
    for name in Loss::NAMES {
        assert_eq!(name.parse::<Loss>().unwrap().to_string(), *name);
    }
    for name in Init::NAMES {
        assert_eq!(name.parse::<Init>().unwrap().to_string(), *name);
    }
    for name in OptimizerKind::NAMES {
        assert_eq!(name.parse::<OptimizerKind>().unwrap().to_string(), *name);
    }
    for name in Builtin::NAMES {
        let set: Builtin = name.parse().unwrap();
        assert_eq!(set.to_string(), *name);
        let data = set.generate(None, 3).unwrap();
        assert_eq!(Some(data.len()), set.default_points().or(Some(data.len())));
    }
    assert_eq!(
        "xor5".parse::<Builtin>().unwrap_err().to_string(),
        "unknown data set `xor5` (expected one of: linear, xor-easy, xor4, circle, diamond, \
         square, thick-right-angle, thin-right-angle)"
    );
    assert_eq!(
        Builtin::XorEasy.generate(Some(10), 0).unwrap_err(),
        "the data set `xor-easy` has fixed points; a number of points does not apply"
    );
    assert_eq!(
        Builtin::Circle.generate(Some(0), 0).unwrap_err(),
        "the data set `circle` needs between 1 and 10000000 points, not 0"
    );
}

#[test]
fn a_header_whose_offsets_add_up_past_the_address_space_is_refused() {
    // Eight U8 tensors of 2^61 bytes each but the last one byte short: the last offset is
    // u64::MAX. The offsets are checked against the file's length before the crate does any
    // arithmetic with them, and the message names the first tensor beyond the file.
    let tensor = |k: u64, size: u64| {
        let start = k << 61;
        format!(
            "\"t{k}\":{{\"dtype\":\"U8\",\"shape\":[{size}],\"data_offsets\":[{start},{}]}}",
            start + size
        )
    };
    let mut entries: Vec<String> = (0..7).map(|k| tensor(k, 1 << 61)).collect();
    entries.push(tensor(7, (1 << 61) - 1));
    let header = format!("{{{}}}", entries.join(","));
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(&[0; 16]);
    let message = io::weights_from_bytes(&bytes).unwrap_err().to_string();
    assert!(
        message.starts_with("tensor `t")
            && message.contains("but the file holds 16 bytes of data (truncated or corrupted)"),
        "{message}"
    );
}
