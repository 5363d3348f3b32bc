//! The optimizers: each update rule against a hand computation, and their state saved and restored.

use chainrule::nn::{Activation, Init, Mlp};
use chainrule::optim::{Adam, Momentum, Optimizer, OptimizerState, Sgd, StateError};
use chainrule::{Matrix, Tape};

/// A 1×2 parameter and the gradients of its first two steps.
const W0: [f64; 2] = [1.0, -2.0];
const G1: [f64; 2] = [0.5, -0.25];
const G2: [f64; 2] = [0.1, 0.1];

/// Two steps of `opt` on slot 0 from `W0`: the weights after each.
fn two_steps(opt: &mut dyn Optimizer) -> ([f64; 2], [f64; 2]) {
    let mut w = W0;
    opt.begin_step();
    opt.update(0, &mut w, &G1);
    let after_one = w;
    opt.begin_step();
    opt.update(0, &mut w, &G2);
    (after_one, w)
}

#[test]
fn sgd_subtracts_lr_times_the_gradient() {
    // w₁ = w₀ − lr·g₁, w₂ = w₁ − lr·g₂ with lr = 0.5: every product and difference is exact
    // in binary (powers of two and short fractions), so equality is exact.
    let (one, two) = two_steps(&mut Sgd::new(0.5));
    assert_eq!(one, [1.0 - 0.25, -2.0 + 0.125]);
    assert_eq!(two, [0.75 - 0.05, -1.875 - 0.05]);
}

#[test]
fn momentum_keeps_a_velocity() {
    // v₁ = −lr·g₁, w₁ = w₀ + v₁; v₂ = μ·v₁ − lr·g₂, w₂ = w₁ + v₂ (lr 0.5, μ 0.9).
    let (lr, mu) = (0.5, 0.9);
    let (one, two) = two_steps(&mut Momentum::new(lr));
    let v1 = [-lr * G1[0], -lr * G1[1]];
    let w1 = [W0[0] + v1[0], W0[1] + v1[1]];
    let v2 = [mu * v1[0] - lr * G2[0], mu * v1[1] - lr * G2[1]];
    // The same operations in the same order as the rule, so the bits agree.
    assert_eq!(one, w1);
    assert_eq!(two, [w1[0] + v2[0], w1[1] + v2[1]]);
    // And in numbers: v₂ = 0.9·(−0.25) − 0.05 = −0.275, 0.9·0.125 − 0.05 = 0.0625.
    assert!((two[0] - (0.75 - 0.275)).abs() < 1e-15, "{two:?}");
    assert!((two[1] - (-1.875 + 0.0625)).abs() < 1e-15, "{two:?}");
}

#[test]
fn adam_first_step_moves_each_weight_by_lr_against_the_sign_of_its_gradient() {
    // At t = 1 the bias correction gives m̂ = g and v̂ = g², so the step is lr·g/(|g| + ε):
    // lr·sign(g) up to ε/|g| ≤ 1e-8/0.25 relative.
    let lr = 0.1;
    let (one, two) = two_steps(&mut Adam::new(lr));
    assert!((one[0] - (1.0 - lr)).abs() < 1e-8, "{one:?}");
    assert!((one[1] - (-2.0 + lr)).abs() < 1e-8, "{one:?}");

    // t = 2, by the formulas: m = β₁m + (1−β₁)g, v = β₂v + (1−β₂)g², corrected by 1 − βᵗ.
    let (b1, b2, eps) = (0.9, 0.999, 1e-8);
    for k in 0..2 {
        let m1 = (1.0 - b1) * G1[k];
        let v1 = (1.0 - b2) * G1[k] * G1[k];
        let m2 = b1 * m1 + (1.0 - b1) * G2[k];
        let v2 = b2 * v1 + (1.0 - b2) * G2[k] * G2[k];
        let m_hat = m2 / (1.0 - b1 * b1);
        let v_hat = v2 / (1.0 - b2 * b2);
        let expected = one[k] - lr * m_hat / (v_hat.sqrt() + eps);
        // β^t is powf in the optimizer and a product here: they may differ in the last bit.
        assert!(
            (two[k] - expected).abs() < 1e-14,
            "slot 0[{k}]: {} vs {expected}",
            two[k]
        );
    }
    // Entry 1's second gradient has the other sign, but m = 0.9·(−0.025) + 0.01 < 0 keeps it
    // moving up (plain SGD would move it down).
    assert!(two[1] > one[1]);
}

#[test]
fn momentum_with_mu_zero_is_sgd_to_the_bit() {
    // v = 0·v − lr·g = −lr·g and w + (−lr·g) = w − lr·g exactly in IEEE arithmetic.
    let (a, b) = two_steps(&mut Momentum::with_mu(0.3, 0.0));
    let (c, d) = two_steps(&mut Sgd::new(0.3));
    assert_eq!((a, b), (c, d));
}

fn lab_mlp() -> Mlp {
    Mlp::new(
        &[2, 4, 4, 1],
        &[Activation::Sigmoid; 3],
        true,
        Init::Uniform,
        5,
    )
}

/// `steps` steps of `opt` on `mlp`, cycling over four points.
fn train(opt: &mut dyn Optimizer, mlp: &mut Mlp, steps: usize) {
    let points = [[0.1, 0.9], [0.8, 0.3], [0.5, 0.6], [0.7, 0.2]];
    let labels = [1.0, 0.0, 1.0, 0.0];
    let mut tape = Tape::new();
    for s in 0..steps {
        tape.reset();
        let net = mlp.bind(&tape);
        let loss = net
            .forward(tape.input_slice(1, 2, &points[s % 4]))
            .mse(tape.input_slice(1, 1, &labels[s % 4..s % 4 + 1]));
        let grads = tape.backward(loss);
        opt.step(mlp, &net, &grads);
    }
}

#[test]
fn the_trait_step_of_sgd_is_its_inherent_step() {
    let (mut a, mut b) = (lab_mlp(), lab_mlp());
    train(&mut Sgd::new(0.5), &mut a, 20);
    let mut tape = Tape::new();
    let sgd = Sgd::new(0.5);
    let points = [[0.1, 0.9], [0.8, 0.3], [0.5, 0.6], [0.7, 0.2]];
    let labels = [1.0, 0.0, 1.0, 0.0];
    for s in 0..20 {
        tape.reset();
        let net = b.bind(&tape);
        let loss = net
            .forward(tape.input_slice(1, 2, &points[s % 4]))
            .mse(tape.input_slice(1, 1, &labels[s % 4..s % 4 + 1]));
        sgd.step(&mut b, &net, &tape.backward(loss));
    }
    assert_eq!(a, b);
    assert_ne!(a, lab_mlp(), "the steps moved the weights");
}

#[test]
fn state_has_one_buffer_slot_per_parameter_after_the_first_step() {
    let mut adam = Adam::new(0.01);
    let fresh = adam.state();
    assert_eq!(fresh.kind, "adam");
    assert_eq!(fresh.t, 0);
    let names: Vec<&str> = fresh.buffers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["m", "v"]);
    assert!(fresh.buffers.iter().all(|(_, slots)| slots.is_empty()));

    let mut mlp = lab_mlp();
    train(&mut adam, &mut mlp, 3);
    let state = adam.state();
    assert_eq!(state.t, 3);
    let lengths: Vec<usize> = mlp.params().map(Matrix::len).collect();
    for (name, slots) in &state.buffers {
        let got: Vec<usize> = slots.iter().map(Vec::len).collect();
        assert_eq!(got, lengths, "buffer {name}");
        assert!(
            slots.iter().flatten().any(|&x| x != 0.0),
            "buffer {name} holds something"
        );
    }
    assert_eq!(state.check_fits(&mlp), Ok(()));

    let mut momentum = Momentum::new(0.1);
    train(&mut momentum, &mut lab_mlp(), 2);
    let state = momentum.state();
    assert_eq!((state.kind.as_str(), state.t), ("momentum", 2));
    assert_eq!(state.buffers.len(), 1);
    assert_eq!(state.buffers[0].0, "velocity");

    let sgd = Sgd::new(0.1).state();
    assert_eq!((sgd.kind.as_str(), sgd.t, sgd.buffers.len()), ("sgd", 0, 0));
}

#[test]
fn a_restored_state_continues_to_the_bit() {
    for make in [
        || Box::new(Momentum::new(0.3)) as Box<dyn Optimizer>,
        || Box::new(Adam::new(0.05)) as Box<dyn Optimizer>,
        || Box::new(Sgd::new(0.3)) as Box<dyn Optimizer>,
    ] {
        // 7 + 5 steps in one go, against 7 steps, save, restore into a fresh optimizer, 5 more.
        let mut whole = make();
        let mut one_run = lab_mlp();
        train(whole.as_mut(), &mut one_run, 12);

        let mut first = make();
        let mut resumed = lab_mlp();
        train(first.as_mut(), &mut resumed, 7);
        let saved = first.state();
        let mut second = make();
        second.load_state(&saved).unwrap();
        assert_eq!(second.state(), saved);
        // The four points cycle with period 4; 7 steps in, the next point is the fourth.
        let points = [[0.1, 0.9], [0.8, 0.3], [0.5, 0.6], [0.7, 0.2]];
        let labels = [1.0, 0.0, 1.0, 0.0];
        let mut tape = Tape::new();
        for s in 7..12 {
            tape.reset();
            let net = resumed.bind(&tape);
            let loss = net
                .forward(tape.input_slice(1, 2, &points[s % 4]))
                .mse(tape.input_slice(1, 1, &labels[s % 4..s % 4 + 1]));
            second.step(&mut resumed, &net, &tape.backward(loss));
        }
        assert_eq!(resumed, one_run, "{}", whole.name());
        assert_eq!(second.state(), whole.state(), "{}", whole.name());
    }
}

#[test]
fn a_state_of_another_kind_is_refused_and_changes_nothing() {
    let mut adam = Adam::new(0.01);
    train(&mut adam, &mut lab_mlp(), 2);
    let before = adam.state();
    let mut momentum = Momentum::new(0.1);
    train(&mut momentum, &mut lab_mlp(), 1);
    let err = adam.load_state(&momentum.state()).unwrap_err();
    assert_eq!(
        err,
        StateError::Kind {
            expected: "adam",
            found: "momentum".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "optimizer state of kind `momentum` cannot be loaded into `adam`"
    );
    assert_eq!(adam.state(), before);
    assert!(matches!(
        Sgd::new(0.1).load_state(&before),
        Err(StateError::Kind {
            expected: "sgd",
            ..
        })
    ));
}

#[test]
fn a_state_with_wrong_buffers_or_shapes_is_refused() {
    let mut adam = Adam::new(0.01);
    let mut mlp = lab_mlp();
    train(&mut adam, &mut mlp, 2);
    let good = adam.state();

    let mut renamed = good.clone();
    renamed.buffers[1].0 = "w".into();
    let err = Adam::new(0.01).load_state(&renamed).unwrap_err();
    assert!(matches!(err, StateError::Buffers { .. }), "{err}");
    assert!(err.to_string().contains(r#"["m", "w"]"#), "{err}");

    let mut missing = good.clone();
    missing.buffers.pop();
    assert!(matches!(
        Adam::new(0.01).load_state(&missing),
        Err(StateError::Buffers { .. })
    ));

    // m and v disagree: v's slot 2 is one value short.
    let mut ragged = good.clone();
    ragged.buffers[1].1[2].pop();
    let err = Adam::new(0.01).load_state(&ragged).unwrap_err();
    assert!(matches!(err, StateError::Shape(_)), "{err}");
    assert!(err.to_string().contains("buffer `v`"), "{err}");

    // Consistent in itself but made for another network.
    let other = Mlp::new(
        &[2, 3, 1],
        &[Activation::Sigmoid; 2],
        true,
        Init::Uniform,
        1,
    );
    let err = good.check_fits(&other).unwrap_err();
    assert_eq!(
        err.to_string(),
        "optimizer state does not fit: buffer `m` has 6 parameter slots but the model has 4"
    );
    let mut shorter = good.clone();
    for (_, slots) in &mut shorter.buffers {
        slots[0].pop();
    }
    assert_eq!(
        shorter.check_fits(&mlp).unwrap_err().to_string(),
        "optimizer state does not fit: buffer `m` slot 0 has 7 values but the parameter has 8"
    );
    // A fresh state (no step taken) fits any model.
    assert_eq!(Adam::new(0.1).state().check_fits(&other), Ok(()));
    let fresh = OptimizerState {
        kind: "momentum".into(),
        t: 0,
        buffers: vec![("velocity".into(), vec![])],
    };
    assert_eq!(Momentum::new(0.1).load_state(&fresh), Ok(()));
}

#[test]
#[should_panic(expected = "adam: slot 0 has state for 2 values but the parameter has 3")]
fn updating_a_slot_with_a_parameter_of_another_length_panics() {
    let mut adam = Adam::new(0.1);
    adam.begin_step();
    adam.update(0, &mut [0.0, 0.0], &[1.0, 1.0]);
    adam.begin_step();
    adam.update(0, &mut [0.0, 0.0, 0.0], &[1.0, 1.0, 1.0]);
}
