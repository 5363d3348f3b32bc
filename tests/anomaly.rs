//! Anomaly mode names the op and the line where the first NaN or infinity appeared.

use chainrule::anomaly::Phase;
use chainrule::{Matrix, Op, Tape};

/// `file:line:` of a line in this file.
fn at(line: u32) -> String {
    format!("tests/anomaly.rs:{line}:")
}

#[test]
fn log_of_zero_is_named_with_its_line() {
    let tape = Tape::new();
    tape.set_anomaly_detection(true);
    let x = tape.scalar(0.0);
    let line = line!() + 1;
    let y = x.log();
    let loss = (y * 2.0).exp();
    let err = tape.try_backward(loss).unwrap_err();
    assert_eq!(
        (err.phase, err.op, err.node),
        (Phase::Forward, Op::Log, y.id())
    );
    assert!(err.location.starts_with(&at(line)), "{}", err.location);
    assert_eq!(err.found, "[-inf]");
    assert_eq!(err.inputs, vec![(x.id(), "[0]".to_string())]);
    let text = err.to_string();
    assert!(
        text.starts_with("anomaly in the forward pass: n1 = log(n0)"),
        "{text}"
    );
}

#[test]
fn zero_over_zero_is_named() {
    let tape = Tape::new();
    tape.set_anomaly_detection(true);
    let x = tape.param(&Matrix::from_rows(&[[1.0, 0.0]]));
    let line = line!() + 1;
    let y = x / x;
    let err = tape.try_backward(y.sum()).unwrap_err();
    assert_eq!((err.op, err.node), (Op::Div, y.id()));
    assert!(err.location.starts_with(&at(line)), "{}", err.location);
    assert_eq!(err.found, "[1 NaN]");
}

#[test]
fn exp_overflow_is_named() {
    let tape = Tape::new();
    tape.set_anomaly_detection(true);
    let x = tape.scalar(1000.0);
    let line = line!() + 1;
    let y = x.exp().sigmoid();
    let err = tape.try_backward(y).unwrap_err();
    assert_eq!(err.op, Op::Exp);
    assert!(err.location.starts_with(&at(line)), "{}", err.location);
    assert_eq!(err.found, "[inf]");
}

#[test]
fn a_nan_entering_through_a_parameter_is_named_at_the_parameter() {
    let tape = Tape::new();
    tape.set_anomaly_detection(true);
    let x = tape.input(&Matrix::from_rows(&[[1.0, 2.0]]));
    let line = line!() + 1;
    let w = tape.param(&Matrix::from_rows(&[[0.5], [f64::NAN]]));
    let loss = x.matmul(w).sigmoid().sum();
    let err = tape.try_backward(loss).unwrap_err();
    assert_eq!((err.op, err.node), (Op::Param, w.id()));
    assert!(err.location.starts_with(&at(line)), "{}", err.location);
    assert!(err.to_string().contains("n1 = param"), "{err}");
}

#[test]
fn a_gradient_that_overflows_is_named_in_the_backward_pass() {
    // √x at 0 is 0 (finite), but its derivative ½·x^(−½) is infinite: only the sweep sees it.
    let tape = Tape::new();
    tape.set_anomaly_detection(true);
    let x = tape.scalar(0.0);
    let line = line!() + 1;
    let root = x.powf(0.5);
    let loss = root + x;
    let err = tape.try_backward(loss).unwrap_err();
    assert_eq!(
        (err.phase, err.op, err.node),
        (Phase::Backward, Op::Powf(0.5), root.id())
    );
    assert_eq!(err.gradient_of, Some((x.id(), "[1]".to_string())));
    assert!(err.location.starts_with(&at(line)), "{}", err.location);
    assert!(err.to_string().contains("made dL/dn0 = [inf]"), "{err}");
}

#[test]
fn backward_in_anomaly_mode_panics_with_the_anomaly() {
    let tape = Tape::new();
    tape.set_anomaly_detection(true);
    let y = tape.scalar(-1.0).log();
    let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        tape.backward(y);
    }))
    .unwrap_err();
    let msg = payload.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("n1 = log(n0)") && msg.contains("produced [NaN]"),
        "{msg}"
    );
}

#[test]
fn with_the_mode_off_nothing_is_checked() {
    let tape = Tape::new();
    let x = tape.scalar(0.0);
    let loss = (x.log() + x / x).sum();
    assert!(
        tape.try_backward(loss).is_ok(),
        "off: NaN flows through silently, as without the mode"
    );
    assert!(loss.item().is_nan());
    assert_eq!(tape.anomaly_checks(), 0);
    assert_eq!(tape.anomaly(), None);

    // The same computation with the mode on: every value and gradient is looked at.
    let tape = Tape::new();
    tape.set_anomaly_detection(true);
    let x = tape.scalar(2.0);
    let loss = (x.log() + x / x).sum();
    assert!(tape.try_backward(loss).is_ok());
    assert!(
        tape.anomaly_checks() >= tape.len(),
        "{}",
        tape.anomaly_checks()
    );
}

#[test]
fn reset_forgets_the_anomaly() {
    let mut tape = Tape::new();
    tape.set_anomaly_detection(true);
    let _ = tape.scalar(0.0).log();
    assert!(tape.anomaly().is_some());
    tape.reset();
    assert_eq!(tape.anomaly(), None);
    assert!(tape.anomaly_detection(), "the switch stays on");
    let y = tape.scalar(2.0).log();
    assert!(tape.try_backward(y).is_ok());
}

#[test]
fn a_diverging_run_is_diagnosed_by_replaying_its_step() {
    // The lab's "no activation, huge learning rate" run: a linear 2-4-4-1 network, lr 100, MSE.
    // The loss goes non-finite within a few steps; replaying that step in anomaly mode names the
    // first non-finite value. The weights are still finite there, but the prediction has grown
    // past 1e154, and squaring it inside the MSE overflows: the culprit is the loss op.
    use chainrule::anomaly;
    use chainrule::data;
    use chainrule::nn::{Activation, Init, Mlp};
    use chainrule::optim::Sgd;

    let d = data::linear(100, 1);
    let mut mlp = Mlp::new(
        &[2, 4, 4, 1],
        &[Activation::Identity; 3],
        true,
        Init::Uniform,
        1,
    );
    let mut tape = Tape::new();
    let mut diverged_at = None;
    'epochs: for epoch in 0..100 {
        for i in 0..d.len() {
            tape.reset();
            let net = mlp.bind(&tape);
            let loss = net
                .forward(tape.input_slice(1, 2, d.x.row(i)))
                .mse(tape.input_slice(1, 1, d.y.row(i)));
            if !loss.item().is_finite() {
                diverged_at = Some((epoch, i));
                break 'epochs;
            }
            let grads = tape.backward(loss);
            Sgd::new(100.0).step(&mut mlp, &net, &grads);
        }
    }
    let (_, i) = diverged_at.expect("lr 100 without activations diverges");
    assert_eq!(
        tape.anomaly_checks(),
        0,
        "the normal steps ran without checks"
    );
    let found = anomaly::diagnose(|tape| {
        let net = mlp.bind(tape);
        net.forward(tape.input_slice(1, 2, d.x.row(i)))
            .mse(tape.input_slice(1, 1, d.y.row(i)))
    })
    .expect("the replayed step has a non-finite value");
    let what = (found.phase, found.op, found.found.as_str());
    assert_eq!(what, (Phase::Forward, Op::Mse, "[inf]"), "{found}");
    assert!(found.location.starts_with("tests/anomaly.rs:"), "{found}");
    let prediction: f64 = found.inputs[0].1.trim_matches(['[', ']']).parse().unwrap();
    assert!(
        prediction.is_finite() && prediction.abs() > 1e154,
        "{found}"
    );
}

#[test]
fn nodes_recorded_before_the_mode_was_on_have_no_location() {
    let tape = Tape::new();
    let y = tape.scalar(0.0).log(); // recorded with the mode off: no location kept
    tape.set_anomaly_detection(true);
    let z = y.exp() * 2.0;
    assert_eq!(
        tape.anomaly(),
        None,
        "values recorded while off are not checked"
    );
    let found = anomaly_of(&tape, z.sum());
    assert_eq!(found.op, Op::Log);
    assert_eq!(
        found.location,
        "an unknown place (before anomaly mode was turned on)"
    );
}

/// The anomaly the sweep from `out` finds.
fn anomaly_of<'t>(tape: &'t Tape, out: chainrule::Var<'t>) -> chainrule::Anomaly {
    *tape.try_backward(out).unwrap_err()
}
