//! Replay: a step recorded once and run again on new leaf values gives the values and gradients
//! of that step recorded afresh, to the bit, over many steps (the lab's network with each
//! optimizer, a micrograd-style scalar graph, random MLPs, a user op, the training loop); and
//! every misuse is an error that names the node and changes nothing.

use std::sync::Arc;

use chainrule::data;
use chainrule::loss::Loss;
use chainrule::nn::{Activation, Init, Mlp};
use chainrule::ops::{CustomOp, MatView};
use chainrule::optim::{Adam, Momentum, Optimizer, Sgd};
use chainrule::train::{Measure, Trainer};
use chainrule::{viz, Gradients, Matrix, Op, ReplayError, Tape, Var};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Every node's value and gradient on the tape, as bits (gradients up to `output`).
fn snapshot<'t>(tape: &'t Tape, grads: &Gradients<'t>, output: Var<'t>) -> Vec<Vec<u64>> {
    let mut all = Vec::new();
    for v in tape.vars() {
        all.push(v.value_ref().iter().map(|x| x.to_bits()).collect());
        if v.id() <= output.id() {
            all.push(grads.wrt(v).iter().map(|x| x.to_bits()).collect());
        }
    }
    all
}

fn bits(m: &Mlp) -> Vec<u64> {
    m.params()
        .flat_map(|p| p.as_slice().iter().map(|x| x.to_bits()))
        .collect()
}

/// One step of `mlp` on rows of `x`, `y` recorded afresh on `tape`: every value and gradient,
/// then the optimizer's update of `mlp`.
fn fresh_step(
    tape: &mut Tape,
    mlp: &mut Mlp,
    opt: &mut dyn Optimizer,
    loss: Loss,
    (x, y, rows): (&[f64], &[f64], usize),
) -> Vec<Vec<u64>> {
    tape.reset();
    let tape: &Tape = tape;
    let net = mlp.bind(tape);
    let xv = tape.input_slice(rows, x.len() / rows, x);
    let yv = tape.input_slice(rows, y.len() / rows, y);
    let out = loss.apply(net.forward(xv), yv);
    let grads = tape.backward(out);
    let seen = snapshot(tape, &grads, out);
    opt.step(mlp, &net, &grads);
    seen
}

/// Trains `start` for `steps` steps over `data`'s batches of `rows` rows, once recording every
/// step afresh and once replaying the first recording, and asserts each step's values and
/// gradients, and the weights at the end, are equal to the bit.
fn assert_replay_matches(
    start: &Mlp,
    data: &data::Dataset,
    rows: usize,
    loss: Loss,
    steps: usize,
    mut make: impl FnMut() -> Box<dyn Optimizer>,
    what: &str,
) {
    let (xc, yc) = (data.x.cols(), data.y.cols());
    let batches = data.len() / rows;
    let batch = |s: usize| {
        let first = (s % batches) * rows;
        (
            &data.x.as_slice()[first * xc..(first + rows) * xc],
            &data.y.as_slice()[first * yc..(first + rows) * yc],
            rows,
        )
    };
    let (mut fresh, mut fresh_opt, mut tape) = (start.clone(), make(), Tape::new());
    let (mut replayed, mut opt) = (start.clone(), make());
    let rtape = Tape::new();
    let (x0, y0, _) = batch(0);
    let net = replayed.bind(&rtape);
    let xv = rtape.input_slice(rows, xc, x0);
    let yv = rtape.input_slice(rows, yc, y0);
    let out = loss.apply(net.forward(xv), yv);
    let replay = rtape.replay(out);
    for s in 0..steps {
        let expected = fresh_step(&mut tape, &mut fresh, fresh_opt.as_mut(), loss, batch(s));
        let (x, y, _) = batch(s);
        replay.set(xv, x).unwrap();
        replay.set(yv, y).unwrap();
        let grads = replay.run().unwrap();
        let seen = snapshot(&rtape, &grads, out);
        assert!(
            seen == expected,
            "{what}: step {s} differs from the same step recorded afresh"
        );
        opt.step_on_tape(&replay, net.params()).unwrap();
    }
    net.copy_into(&mut replayed);
    assert_eq!(
        bits(&replayed),
        bits(&fresh),
        "{what}: weights after {steps} steps"
    );
    assert_ne!(bits(&replayed), bits(start), "{what}: the weights moved");
}

#[test]
fn the_lab_network_replayed_equals_it_recorded_afresh_with_every_optimizer() {
    let start = Mlp::new(
        &[2, 4, 4, 1],
        &[Activation::Sigmoid; 3],
        true,
        Init::Uniform,
        1,
    );
    let data = data::linear(100, 1);
    type Make = fn() -> Box<dyn Optimizer>;
    let makers: [(&str, Make); 3] = [
        ("sgd", || Box::new(Sgd::new(0.5))),
        ("momentum", || Box::new(Momentum::new(0.1))),
        ("adam", || Box::new(Adam::new(0.01))),
    ];
    for (name, make) in makers {
        assert_replay_matches(&start, &data, 1, Loss::Mse, 300, make, name);
    }
    let xor = data::xor_easy();
    assert_replay_matches(
        &start,
        &xor,
        21,
        Loss::Bce,
        50,
        || Box::new(Sgd::new(0.8)),
        "xor full batch, log-loss",
    );
}

#[test]
fn random_mlps_replayed_equal_them_recorded_afresh() {
    let mut rng = StdRng::seed_from_u64(14);
    let acts = [
        Activation::Sigmoid,
        Activation::Relu,
        Activation::Tanh,
        Activation::Identity,
    ];
    for case in 0..40 {
        let inputs = rng.random_range(1..5);
        let outputs = rng.random_range(1..4);
        let hidden = rng.random_range(0..4);
        let mut sizes = vec![inputs];
        sizes.extend((0..hidden).map(|_| rng.random_range(1..10)));
        sizes.push(outputs);
        let mut act: Vec<Activation> = (0..sizes.len() - 1)
            .map(|_| acts[rng.random_range(0..acts.len())])
            .collect();
        let loss = [Loss::Mse, Loss::Sse, Loss::Bce][rng.random_range(0..3)];
        if loss == Loss::Bce {
            *act.last_mut().unwrap() = Activation::Sigmoid;
        }
        let bias = rng.random_bool(0.7);
        let start = Mlp::new(&sizes, &act, bias, Init::Xavier, case);
        let n = 24;
        let x = Matrix::new(
            n,
            inputs,
            (0..n * inputs)
                .map(|_| rng.random_range(-2.0..2.0))
                .collect(),
        );
        let y = Matrix::new(
            n,
            outputs,
            (0..n * outputs)
                .map(|_| rng.random_range(0.0..1.0))
                .collect(),
        );
        let d = data::Dataset { x, y };
        let rows = [1, 2, 3, 4, 6, 8][rng.random_range(0..6)];
        let what = format!("case {case}: {sizes:?} {act:?} bias {bias} {loss:?} batch {rows}");
        assert_replay_matches(
            &start,
            &d,
            rows,
            loss,
            12,
            || Box::new(Sgd::new(0.05)),
            &what,
        );
    }
    // Products large enough for the blocked GEMM and the two-thread split.
    let start = Mlp::new(
        &[3, 96, 64, 2],
        &[Activation::Relu, Activation::Tanh, Activation::Sigmoid],
        true,
        Init::Xavier,
        7,
    );
    let d = data::Dataset {
        x: Matrix::new(600, 3, (0..1800).map(|i| (i as f64 * 0.37).sin()).collect()),
        y: Matrix::new(
            600,
            2,
            (0..1200).map(|i| (i as f64 * 0.11).cos().abs()).collect(),
        ),
    };
    assert_replay_matches(
        &start,
        &d,
        300,
        Loss::Mse,
        4,
        || Box::new(Adam::new(0.01)),
        "large",
    );
}

/// micrograd's README expression, `g(a, b)`, with every op a scalar node.
fn micrograd<'t>(tape: &'t Tape, a: f64, b: f64) -> (Var<'t>, Var<'t>, Var<'t>) {
    let (a, b) = (tape.scalar(a), tape.scalar(b));
    let mut c = a + b;
    let mut d = a * b + b.powf(3.0);
    c = c + c + 1.0;
    c = c + 1.0 + c + (-a);
    d = d + d * 2.0 + (b + a).relu();
    d = d + 3.0 * d + (b - a).relu();
    let e = c - d;
    let f = e.square();
    let mut g = f / 2.0;
    g = g + 10.0 / f;
    (a, b, g)
}

#[test]
fn a_scalar_graph_replayed_equals_it_recorded_afresh() {
    let tape = Tape::new();
    let (a, b, g) = micrograd(&tape, -4.0, 2.0);
    let replay = tape.replay(g);
    let mut rng = StdRng::seed_from_u64(3);
    for step in 0..200 {
        let (x, y) = (rng.random_range(-5.0..5.0), rng.random_range(-5.0..5.0));
        replay.set(a, &[x]).unwrap();
        replay.set(b, &[y]).unwrap();
        let grads = replay.run().unwrap();
        let seen = snapshot(&tape, &grads, g);
        let fresh = Tape::new();
        let (_, _, g2) = micrograd(&fresh, x, y);
        let expected = snapshot(&fresh, &fresh.backward(g2), g2);
        assert!(seen == expected, "step {step} at a = {x}, b = {y}");
    }
    // micrograd's own figures, at its point, through the replay.
    replay.set(a, &[-4.0]).unwrap();
    replay.set(b, &[2.0]).unwrap();
    let grads = replay.run().unwrap();
    assert!((g.item() - 24.7041).abs() < 1e-4);
    assert!((grads.wrt(a).item() - 138.8338).abs() < 1e-4);
    assert!((grads.wrt(b).item() - 645.5773).abs() < 1e-4);
}

/// A graph where the planned sweep's bookkeeping matters: a parameter feeding two layers and a
/// scalar op (first write, then adds), one layer whose three inputs are one node
/// (`a.linear(a, a)`), a detached branch, a value recorded on the side before the loss and one
/// after it, and an input that takes no gradient.
fn tangled<'t>(tape: &'t Tape, v: &[f64; 5]) -> ([Var<'t>; 4], Var<'t>) {
    let a = tape.param_slice(1, 1, &[v[0]]);
    let w = tape.param_slice(2, 2, &[v[1], -0.2, 0.5, v[2]]);
    let bias = tape.param_slice(1, 2, &[0.05, -0.1]);
    let x = tape.input_slice(1, 2, &[v[3], v[4]]);
    let side = (a * a).exp(); // recorded, never used by the loss
    let h = x.linear_act(w, bias, Activation::Tanh);
    let h2 = h.linear_act(w, bias, Activation::Sigmoid);
    let s = a.linear(a, a); // a² + a: one node as all three inputs
    let frozen = h.detach().sum();
    let loss = h2.sum() * s + h.mean() * frozen + a * side.detach();
    let after = (loss * 2.0 + side).exp(); // recorded after the loss
    ([a, w, x, after], loss)
}

#[test]
fn fan_out_aliased_inputs_detach_and_side_branches_replay_to_the_bit() {
    let tape = Tape::new();
    let ([a, w, x, after], loss) = tangled(&tape, &[0.7, 0.3, 0.1, 1.0, -2.0]);
    let replay = tape.replay(loss);
    let mut rng = StdRng::seed_from_u64(11);
    for step in 0..20 {
        if step % 2 == 1 {
            // A sweep from another output leaves gradients where the loss's sweep gives none.
            tape.backward(after);
        }
        let v: [f64; 5] = std::array::from_fn(|_| rng.random_range(-1.5..1.5));
        replay.set(a, &[v[0]]).unwrap();
        replay.set(w, &[v[1], -0.2, 0.5, v[2]]).unwrap();
        replay.set(x, &[v[3], v[4]]).unwrap();
        let grads = replay.run().unwrap();
        let fresh = Tape::new();
        let (_, loss2) = tangled(&fresh, &v);
        assert!(
            snapshot(&tape, &grads, loss) == snapshot(&fresh, &fresh.backward(loss2), loss2),
            "step {step} at {v:?}"
        );
    }
    // The layer whose inputs are one node, against its derivative by hand: d(a² + a)/da = 2a + 1.
    let tape = Tape::new();
    let a = tape.scalar(0.75);
    let replay = tape.replay(a.linear(a, a));
    for value in [0.75, -3.0, 2.5] {
        replay.set(a, &[value]).unwrap();
        let grads = replay.run().unwrap();
        assert_eq!(grads.wrt(a).item(), 2.0 * value + 1.0, "at a = {value}");
    }
}

/// `x³`, a user op.
struct Cube;

impl CustomOp for Cube {
    fn name(&self) -> &str {
        "cube"
    }
    fn output_shape(&self, inputs: &[(usize, usize)]) -> Result<(usize, usize), String> {
        Ok(inputs[0])
    }
    fn forward(&self, inputs: &[MatView<'_>], out: &mut [f64]) {
        for (y, x) in out.iter_mut().zip(inputs[0].as_slice()) {
            *y = x * x * x;
        }
    }
    fn backward(
        &self,
        inputs: &[MatView<'_>],
        _output: MatView<'_>,
        upstream: MatView<'_>,
        grads: &mut [&mut [f64]],
    ) {
        let (x, g) = (inputs[0].as_slice(), upstream.as_slice());
        for ((dx, x), g) in grads[0].iter_mut().zip(x).zip(g) {
            *dx += 3.0 * x * x * g;
        }
    }
}

#[test]
fn user_ops_and_broadcasts_replay_too() {
    let cube: Arc<dyn CustomOp> = Arc::new(Cube);
    fn build<'t>(
        tape: &'t Tape,
        cube: &Arc<dyn CustomOp>,
        x: &[f64],
        w: &[f64],
    ) -> (Var<'t>, Var<'t>, Var<'t>) {
        let xv = tape.input_slice(3, 2, x);
        let wv = tape.param_slice(1, 2, w);
        let out = (xv * wv).custom(cube, &[]).tanh().sum();
        (xv, wv, out)
    }
    let tape = Tape::new();
    let (xv, wv, out) = build(&tape, &cube, &[0.1; 6], &[0.5, -0.5]);
    let replay = tape.replay(out);
    for step in 0..10 {
        let x: Vec<f64> = (0..6).map(|i| ((i * 7 + step) as f64).sin()).collect();
        let w = [0.3 * step as f64, -0.2];
        replay.set(xv, &x).unwrap();
        replay.set(wv, &w).unwrap();
        let grads = replay.run().unwrap();
        let fresh = Tape::new();
        let (_, _, out2) = build(&fresh, &cube, &x, &w);
        assert!(
            snapshot(&tape, &grads, out) == snapshot(&fresh, &fresh.backward(out2), out2),
            "step {step}"
        );
    }
}

#[test]
fn the_training_loop_replays_and_records_to_the_same_bits() {
    let start = Mlp::new(
        &[2, 4, 4, 1],
        &[Activation::Sigmoid; 3],
        true,
        Init::Uniform,
        2,
    );
    let d = data::linear(100, 1);
    type Make = fn() -> Box<dyn Optimizer>;
    let runs: [(&str, usize, Option<u64>, Measure, Make); 4] = [
        ("sgd, per sample", 1, None, Measure::DuringEpoch, || {
            Box::new(Sgd::new(0.8))
        }),
        (
            "momentum, batches of 7 (a short last one), shuffled",
            7,
            Some(5),
            Measure::DuringEpoch,
            || Box::new(Momentum::new(0.3)),
        ),
        (
            "adam, full batch, measured after each epoch",
            100,
            None,
            Measure::AfterEpoch,
            || Box::new(Adam::new(0.05)),
        ),
        (
            "sgd, batches of 30, shuffled",
            30,
            Some(9),
            Measure::AfterEpoch,
            || Box::new(Sgd::new(0.5)),
        ),
    ];
    for (what, batch, shuffle, measure, make) in runs {
        let run = |record: bool| {
            let mut mlp = start.clone();
            let mut trainer = Trainer::new(Loss::Mse)
                .epochs(40)
                .batch_size(batch)
                .measure(measure)
                .record_every_step(record);
            if let Some(seed) = shuffle {
                trainer = trainer.shuffle(seed);
            }
            let history = trainer.run(&mut mlp, make().as_mut(), &d).unwrap();
            let figures: Vec<(u64, u64, u64)> = history
                .epochs
                .iter()
                .map(|e| (e.loss.to_bits(), e.max_loss.to_bits(), e.accuracy.to_bits()))
                .collect();
            (bits(&mlp), figures)
        };
        let (recorded, replayed) = (run(true), run(false));
        assert_eq!(recorded, replayed, "{what}");
        assert_ne!(recorded.0, bits(&start), "{what}: the weights moved");
    }
}

#[test]
fn a_diverging_replay_is_caught_and_named() {
    // In anomaly mode, a replay names the first non-finite value and its op.
    let tape = Tape::new();
    tape.set_anomaly_detection(true);
    let x = tape.input_slice(1, 2, &[1.0, 2.0]);
    let w = tape.param_slice(2, 1, &[0.5, 0.5]);
    let out = x.matmul(w).log().mean();
    let replay = tape.replay(out);
    replay.run().unwrap();
    replay.set(x, &[-1.0, 0.0]).unwrap(); // x·w = −0.5: its log is NaN
    let Err(ReplayError::Anomaly(found)) = replay.forward() else {
        panic!("the log of a negative number is caught");
    };
    assert_eq!(found.op, Op::Log);
    assert!(found.to_string().contains("log"), "{found}");
    assert!(matches!(replay.backward(), Err(ReplayError::Anomaly(_))));
    // Back to finite values: the replay recovers.
    replay.set(x, &[1.0, 1.0]).unwrap();
    assert!(replay.run().is_ok());

    // The training loop, replaying, still stops at the step that diverges and names the op.
    let mut mlp = Mlp::new(
        &[2, 4, 4, 1],
        &[Activation::Identity; 3],
        true,
        Init::Uniform,
        1,
    );
    let err = Trainer::new(Loss::Mse)
        .epochs(50)
        .run(&mut mlp, &mut Sgd::new(100.0), &data::linear(100, 1))
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("diverged at epoch 1"), "{text}");
    assert!(text.contains("mse") || text.contains("linear"), "{text}");
    assert!(mlp
        .params()
        .all(|p| p.as_slice().iter().all(|v| v.is_finite())));
}

#[test]
fn the_trace_of_a_replayed_step_is_that_of_the_step_recorded_afresh() {
    let mlp = Mlp::new(
        &[2, 3, 1],
        &[Activation::Tanh, Activation::Sigmoid],
        true,
        Init::Uniform,
        4,
    );
    fn build<'t>(mlp: &Mlp, tape: &'t Tape, x: &[f64]) -> (Var<'t>, Var<'t>) {
        let net = mlp.bind(tape);
        let xv = tape.input_slice(1, 2, x);
        (xv, net.forward(xv).mse(tape.constant(1.0)))
    }
    let tape = Tape::new();
    let (xv, out) = build(&mlp, &tape, &[0.0, 0.0]);
    let replay = tape.replay(out);
    replay.set(xv, &[0.7, -1.2]).unwrap();
    replay.forward().unwrap();
    let (_, trace) = viz::backward_trace(&tape, out);
    let fresh = Tape::new();
    let (_, out2) = build(&mlp, &fresh, &[0.7, -1.2]);
    let (_, expected) = viz::backward_trace(&fresh, out2);
    assert_eq!(trace.to_markdown(), expected.to_markdown());
}

#[test]
fn misuse_is_an_error_naming_the_node_and_changes_nothing() {
    let tape = Tape::new();
    let x = tape.input_slice(2, 2, &[1.0, 2.0, 3.0, 4.0]);
    let w = tape.param_slice(2, 1, &[0.5, -0.5]);
    let h = x.matmul(w);
    let out = h.sigmoid().sum();
    let replay = tape.replay(out);

    // Wrong number of values; a matrix of the right size but the wrong shape.
    let err = replay.set(x, &[1.0, 2.0, 3.0]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "replay: n0 is a 2x2 leaf (4 values), but 3 values were given"
    );
    let err = replay
        .set_matrix(x, &Matrix::new(1, 4, vec![9.0; 4]))
        .unwrap_err();
    assert!(
        err.to_string().contains("but a 1x4 matrix were given"),
        "{err}"
    );
    assert_eq!(
        x.value().as_slice(),
        &[1.0, 2.0, 3.0, 4.0],
        "nothing written"
    );

    // Not a leaf.
    let err = replay.set(h, &[1.0, 2.0]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "replay: cannot set n2: it is matmul, not a leaf (param or input)"
    );

    // Order: gradients of changed leaves need a forward first; an update needs a backward.
    let err = replay.update_params(&[w], |_, _, _| {}).unwrap_err();
    assert!(
        matches!(
            err,
            ReplayError::Order {
                action: "update_params",
                ..
            }
        ),
        "{err}"
    );
    replay.set(x, &[0.0; 4]).unwrap();
    let err = replay.backward().unwrap_err();
    assert!(err.to_string().contains("backward before forward"), "{err}");
    replay.run().unwrap();
    let err = Sgd::new(0.1).step_on_tape(&replay, &[x]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "replay: cannot update n0: it is input, not a parameter"
    );
    assert_eq!(w.value().as_slice(), &[0.5, -0.5], "no parameter changed");

    // A handle of another tape.
    let other = Tape::new();
    let stranger = other.scalar(1.0);
    let err = replay.set(stranger, &[2.0]).unwrap_err();
    assert!(matches!(err, ReplayError::ForeignVar { .. }), "{err}");

    // The tape grew: every call says so.
    let extra = out * 2.0;
    for err in [
        replay.set(x, &[0.0; 4]).unwrap_err(),
        replay.forward().unwrap_err(),
        replay.backward().unwrap_err(),
    ] {
        assert_eq!(
            err,
            ReplayError::TapeChanged {
                recorded: 5,
                now: 6
            }
        );
        assert!(err.to_string().contains("take a new replay"), "{err}");
    }
    let _ = extra;
}

#[test]
fn a_replay_checks_labels_as_recording_does() {
    let tape = Tape::new();
    let logits = tape.param_slice(2, 3, &[0.1, 0.2, 0.3, 0.0, -1.0, 1.0]);
    let labels = tape.input_slice(2, 1, &[0.0, 2.0]);
    let out = logits.cross_entropy(labels);
    let replay = tape.replay(out);
    replay.set(labels, &[1.0, 3.0]).unwrap();
    let err = replay.forward().unwrap_err();
    assert_eq!(
        err.to_string(),
        "replay: n2 = cross_entropy: row 1 has label 3, which is not a class of the 2x3 logits"
    );
    assert!(matches!(replay.backward(), Err(ReplayError::Order { .. })));
    replay.set(labels, &[1.0, 1.0]).unwrap();
    replay.run().unwrap();
}

#[test]
fn parameters_recorded_after_the_output_get_no_update() {
    let tape = Tape::new();
    let w = tape.scalar(1.0);
    let out = (w * w).sum();
    let late = tape.scalar(5.0);
    let _ = late;
    let replay = tape.replay(out);
    replay.run().unwrap();
    let err = replay
        .update_params(&[w, late], |_, p, g| p[0] -= g[0])
        .unwrap_err();
    assert!(
        err.to_string().contains("recorded after the output"),
        "{err}"
    );
    assert_eq!(w.item(), 1.0, "nothing changed");
}
