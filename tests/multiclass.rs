//! Multi-class outputs: softmax and log-softmax against their textbook forms, cross-entropy
//! against log-softmax picked at the label, stability at ±1000, and the labels' errors.

mod common;

use chainrule::{Matrix, Tape, Var};
use common::{panic_message, project, rng, uniform, CASES};
use rand::RngExt;

/// The value of `f(x)` and the gradient of `project(f(x))` with respect to `x`.
fn value_and_grad(x: &Matrix, f: impl for<'t> Fn(Var<'t>) -> Var<'t>) -> (Matrix, Matrix) {
    let tape = Tape::new();
    let v = tape.param(x);
    let y = f(v);
    let g = tape.backward(project(y)).wrt(v).to_matrix();
    (y.value(), g)
}

#[test]
fn softmax_equals_exp_over_its_row_sums_within_1e_15() {
    // exp / row_sums (composed with broadcasting) is exact math for logits this small; the
    // stable softmax shifts by the row maximum first, so the two round differently: 1e-15 is
    // a few units in the last place of numbers of size 1, values and gradients alike.
    for seed in 0..CASES {
        let mut r = rng(seed);
        let (m, n) = (r.random_range(1..=6), r.random_range(1..=6));
        let x = uniform(&mut r, m, n, -3.0, 3.0);
        let (p, dp) = value_and_grad(&x, |x| x.softmax());
        let (q, dq) = value_and_grad(&x, |x| {
            let e = x.exp();
            e / e.row_sums()
        });
        assert!(
            p.max_abs_diff(&q) <= 1e-15,
            "seed {seed}: values {p} vs {q}"
        );
        assert!(
            dp.max_abs_diff(&dq) <= 1e-15,
            "seed {seed}: gradients {dp} vs {dq}"
        );
    }
}

#[test]
fn log_softmax_is_the_log_of_the_softmax() {
    for seed in 0..CASES {
        let mut r = rng(seed);
        let (m, n) = (r.random_range(1..=6), r.random_range(1..=6));
        let x = uniform(&mut r, m, n, -3.0, 3.0);
        let (l, dl) = value_and_grad(&x, |x| x.log_softmax());
        let (q, dq) = value_and_grad(&x, |x| x.softmax().log());
        // ln of a rounded probability ≥ e⁻⁶: absolute error a few 1e-16 times 1/p ≲ 1e-13.
        assert!(l.max_abs_diff(&q) <= 1e-13, "seed {seed}: values");
        assert!(dl.max_abs_diff(&dq) <= 1e-13, "seed {seed}: gradients");
    }
}

/// A one-hot m×n matrix of `labels`.
fn one_hot(labels: &Matrix, n: usize) -> Matrix {
    Matrix::from_fn(labels.rows(), n, |i, j| {
        f64::from(labels[(i, 0)] == j as f64)
    })
}

#[test]
fn cross_entropy_is_minus_the_mean_of_log_softmax_at_the_label() {
    for seed in 0..CASES {
        let mut r = rng(seed);
        let (m, n) = (r.random_range(1..=6), r.random_range(2..=6));
        let x = uniform(&mut r, m, n, -3.0, 3.0);
        let labels = Matrix::from_fn(m, 1, |_, _| r.random_range(0..n) as f64);
        let run = |fused: bool| {
            let tape = Tape::new();
            let v = tape.param(&x);
            let loss = if fused {
                v.cross_entropy(tape.input(&labels))
            } else {
                let picked = (v.log_softmax() * tape.input(&one_hot(&labels, n))).sum();
                -picked / m as f64
            };
            let g = tape.backward(loss).wrt(v).to_matrix();
            (loss.item(), g)
        };
        let ((l1, g1), (l2, g2)) = (run(true), run(false));
        // The same terms, summed in the same order; only the last division differs from the
        // composed form's multiplication by 1/m: one rounding, relative 1.1e-16.
        assert!(
            (l1 - l2).abs() <= 1e-15 * l2.abs(),
            "seed {seed}: {l1} vs {l2}"
        );
        assert!(g1.max_abs_diff(&g2) <= 1e-15, "seed {seed}: {g1} vs {g2}");
    }
}

#[test]
fn logits_around_1000_give_finite_values_and_gradients() {
    let x = Matrix::from_rows(&[
        [1000.0, 999.0, -1000.0],
        [-1000.0, -1001.0, -999.5],
        [1000.0, 1000.0, 1000.0],
    ]);
    let labels = Matrix::from_rows(&[[2.0], [0.0], [1.0]]);
    let tape = Tape::new();
    let v = tape.param(&x);
    let outputs = [
        v.softmax(),
        v.log_softmax(),
        v.cross_entropy(tape.input(&labels)),
    ];
    for y in outputs {
        let g = tape.backward(project(y)).wrt(v).to_matrix();
        let value = y.value();
        let finite = |m: &Matrix| m.as_slice().iter().all(|x| x.is_finite());
        assert!(finite(&value), "{}: value {value}", y.op());
        assert!(finite(&g), "{}: gradient {g}", y.op());
    }
    // The shift makes them exact where the answer is simple: row 2 is uniform, and row 0's
    // label-2 logit is 2000 below the top: its log-probability is −2000 − ln(1 + e⁻¹).
    let p = v.softmax().value();
    assert_eq!(p.row(2), &[1.0 / 3.0; 3]);
    let l = v.log_softmax().value();
    assert_eq!(l[(0, 2)], -2000.0 - (1.0 + (-1.0f64).exp()).ln());
    // The textbook form overflows: e¹⁰⁰⁰ = ∞ and ∞/∞ = NaN.
    let e = v.exp();
    assert!((e / e.row_sums()).value()[(0, 0)].is_nan());
}

/// The panic message of recording `cross_entropy` of 2x3 logits against `labels`.
fn label_error(labels: Matrix) -> String {
    std::panic::catch_unwind(move || {
        let tape = Tape::new();
        let x = tape.param(&Matrix::zeros(2, 3));
        x.cross_entropy(tape.input(&labels));
    })
    .map(|_| String::from("no panic"))
    .unwrap_or_else(panic_message)
}

#[test]
fn a_label_out_of_range_is_refused_naming_the_row_and_the_label() {
    for (labels, row, label) in [
        ([[0.0], [3.0]], 1, "3"),
        ([[-1.0], [0.0]], 0, "-1"),
        ([[1.5], [0.0]], 0, "1.5"),
        ([[0.0], [f64::NAN]], 1, "NaN"),
    ] {
        let message = label_error(Matrix::from_rows(&labels));
        let expected = format!("cross_entropy: row {row} has label {label}, which is not a class");
        assert!(message.starts_with(&expected), "{message}");
        assert!(message.contains("from 0 to 2"), "{message}");
    }
    let message = label_error(Matrix::zeros(1, 2));
    assert!(
        message
            .starts_with("cross_entropy: the labels n1 are 1x2, but the 2x3 logits n0 need a 2x1"),
        "{message}"
    );
}

#[test]
fn a_relu_network_learns_the_spiral_with_cross_entropy() {
    // The 07_spiral example, smaller: 2-32-32-3 on 3 × 50 points, full-batch Adam. The seed is
    // fixed, so the run is the same every time; it reaches 95% well before the step cap.
    use chainrule::data;
    use chainrule::nn::{Activation, Init, Mlp};
    use chainrule::optim::{Adam, Optimizer};
    let set = data::spiral(50, 3, 4);
    let activations = [Activation::Relu, Activation::Relu, Activation::Identity];
    let mut mlp = Mlp::new(&[2, 32, 32, 3], &activations, true, Init::Xavier, 4);
    let mut adam = Adam::new(0.01);
    let mut tape = Tape::new();
    let mut first_loss = None;
    for _ in 0..400 {
        tape.reset();
        let t: &Tape = &tape;
        let net = mlp.bind(t);
        let loss = net.forward(t.input(&set.x)).cross_entropy(t.input(&set.y));
        first_loss.get_or_insert(loss.item());
        let grads = t.backward(loss);
        adam.step(&mut mlp, &net, &grads);
    }
    let targets = data::Dataset {
        x: set.x.clone(),
        y: data::one_hot(&set.y, 3),
    };
    let accuracy = chainrule::train::accuracy(&mlp, &targets);
    // ln 3 ≈ 1.0986 is the loss of a network that knows nothing: it starts near there.
    let first = first_loss.unwrap();
    assert!((first - 3f64.ln()).abs() < 0.3, "first loss {first}");
    assert!(accuracy >= 0.95, "training accuracy {accuracy}");
}
