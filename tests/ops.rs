//! Every op's gradient against central finite differences, on 20 seeded random shapes and values
//! each. Tolerances: `common::EPS` and `common::TOL` (with the reason there).

mod common;

use chainrule::{gradcheck, Matrix, Var};
use common::{away_from_zero, project, rng, shape, uniform, CASES, EPS, TOL};
use rand::rngs::StdRng;
use rand::RngExt;

/// Runs `gradcheck` of `f` on `CASES` seeded input sets made by `make`, panicking with the op's
/// name, the seed and the worst entry on the first failure.
fn check_op<M, F>(name: &str, make: M, f: F)
where
    M: Fn(&mut StdRng) -> Vec<Matrix>,
    F: for<'t> Fn(&[Var<'t>]) -> Var<'t>,
{
    for seed in 0..CASES {
        let inputs = make(&mut rng(seed));
        if let Err(e) = gradcheck(&f, &inputs, EPS, TOL) {
            let shapes: Vec<_> = inputs.iter().map(Matrix::shape).collect();
            panic!("{name}, seed {seed}, input shapes {shapes:?}: {e}");
        }
    }
}

/// Two matrices of one random shape, entries in [-2, 2).
fn two_same(rng: &mut StdRng) -> Vec<Matrix> {
    let (r, c) = shape(rng);
    vec![uniform(rng, r, c, -2.0, 2.0), uniform(rng, r, c, -2.0, 2.0)]
}

/// One matrix of a random shape, entries in [lo, hi).
fn one(lo: f64, hi: f64) -> impl Fn(&mut StdRng) -> Vec<Matrix> {
    move |rng| {
        let (r, c) = shape(rng);
        vec![uniform(rng, r, c, lo, hi)]
    }
}

#[test]
fn add_gradient_matches_finite_differences() {
    check_op("add", two_same, |v| project(v[0] + v[1]));
}

#[test]
fn sub_gradient_matches_finite_differences() {
    check_op("sub", two_same, |v| project(v[0] - v[1]));
}

#[test]
fn mul_gradient_matches_finite_differences() {
    check_op("mul", two_same, |v| project(v[0] * v[1]));
}

#[test]
fn div_gradient_matches_finite_differences() {
    check_op(
        "div",
        |rng| {
            let (r, c) = shape(rng);
            vec![
                uniform(rng, r, c, -2.0, 2.0),
                away_from_zero(rng, r, c, 0.5, 2.0),
            ]
        },
        |v| project(v[0] / v[1]),
    );
}

#[test]
fn scalar_arithmetic_gradients_match_finite_differences() {
    // scale, add_scalar, and the derived -x, c - x, c / x, x / c.
    check_op("scale", one(-2.0, 2.0), |v| project(2.5 * v[0]));
    check_op("add_scalar", one(-2.0, 2.0), |v| project(v[0] + 1.5));
    check_op("neg", one(-2.0, 2.0), |v| project(-v[0]));
    check_op("c - x", one(-2.0, 2.0), |v| project(3.0 - v[0]));
    check_op("x / c", one(-2.0, 2.0), |v| project(v[0] / 4.0));
    check_op(
        "c / x",
        |rng| {
            let (r, c) = shape(rng);
            vec![away_from_zero(rng, r, c, 0.5, 2.0)]
        },
        |v| project(3.0 / v[0]),
    );
}

#[test]
fn matmul_gradient_matches_finite_differences_for_non_square_shapes() {
    check_op(
        "matmul",
        |rng| {
            let (m, k, n) = (
                rng.random_range(1..=6),
                rng.random_range(1..=6),
                rng.random_range(1..=6),
            );
            vec![uniform(rng, m, k, -2.0, 2.0), uniform(rng, k, n, -2.0, 2.0)]
        },
        |v| project(v[0].matmul(v[1])),
    );
}

#[test]
fn matmul_gradient_matches_finite_differences_through_the_gemm_path() {
    // 20x17x15 = 5100 multiply-adds, above kernels::SMALL_GEMM, so the packed GEMM kernel runs.
    check_op(
        "matmul (gemm)",
        |rng| {
            vec![
                uniform(rng, 20, 17, -1.0, 1.0),
                uniform(rng, 17, 15, -1.0, 1.0),
            ]
        },
        |v| project(v[0].matmul(v[1])),
    );
}

#[test]
fn linear_gradient_matches_finite_differences_small_and_through_the_gemm_path() {
    // Random small shapes (the direct loop), then 40x17x15 (the packed kernel), all three inputs.
    check_op(
        "linear",
        |rng| {
            let (m, k) = shape(rng);
            let n = shape(rng).1;
            vec![
                uniform(rng, m, k, -2.0, 2.0),
                uniform(rng, k, n, -2.0, 2.0),
                uniform(rng, 1, n, -2.0, 2.0),
            ]
        },
        |v| project(v[0].linear(v[1], v[2])),
    );
    check_op(
        "linear (gemm)",
        |rng| {
            vec![
                uniform(rng, 40, 17, -1.0, 1.0),
                uniform(rng, 17, 15, -1.0, 1.0),
                uniform(rng, 1, 15, -1.0, 1.0),
            ]
        },
        |v| project(v[0].linear(v[1], v[2])),
    );
}

#[test]
fn linear_is_matmul_then_add_row_to_the_bit() {
    use chainrule::Tape;
    let mut r = rng(99);
    let (x, w, b) = (
        uniform(&mut r, 33, 20, -1.0, 1.0),
        uniform(&mut r, 20, 24, -1.0, 1.0),
        uniform(&mut r, 1, 24, -1.0, 1.0),
    );
    let run = |fused: bool| {
        let tape = Tape::new();
        let (xv, wv, bv) = (tape.param(&x), tape.param(&w), tape.param(&b));
        let y = if fused {
            xv.linear(wv, bv)
        } else {
            xv.matmul(wv).add_row(bv)
        };
        let loss = y.sigmoid().sum();
        let grads = tape.backward(loss);
        let out: Vec<Matrix> = [xv, wv, bv]
            .iter()
            .map(|&v| grads.wrt(v).to_matrix())
            .collect();
        (y.value(), out)
    };
    assert_eq!(run(true), run(false));
}

/// The three inputs of a dense layer `m×k · k×n + 1×n`, entries in [-1, 1).
fn dense_inputs(rng: &mut StdRng, m: usize, k: usize, n: usize) -> Vec<Matrix> {
    vec![
        uniform(rng, m, k, -1.0, 1.0),
        uniform(rng, k, n, -1.0, 1.0),
        uniform(rng, 1, n, -1.0, 1.0),
    ]
}

#[test]
fn linear_act_gradient_matches_finite_differences_for_every_activation() {
    use chainrule::nn::Activation;
    for f in [Activation::Sigmoid, Activation::Relu, Activation::Tanh] {
        // Small random shapes: the direct loop and a one-thread pass.
        check_op(
            &format!("linear_act {f:?}"),
            |rng| {
                let (m, k) = shape(rng);
                let n = shape(rng).1;
                dense_inputs(rng, m, k, n)
            },
            |v| project(v[0].linear_act(v[1], v[2], f)),
        );
    }
    // Shapes large enough for the packed kernel and the two-thread δ pass are checked against
    // the unfused ops in the next test: finite differences of a sum over ~40,000 outputs lose
    // more to rounding than the 1e-6 tolerance allows.
}

#[test]
fn linear_act_is_linear_then_the_activation() {
    use chainrule::nn::Activation;
    use chainrule::Tape;
    // Values and dX equal to the bit at any size. db, and dW of a thin input (k ≤ 4, summed in
    // the δ pass), too while the pass runs on one thread (the small shapes); to 1e-12 relative
    // when its two threads' sums are added (the large ones: 600x8x128 through the packed
    // kernel, 2100x2x16 thin), since the unfused ops sum each column in one go.
    for (m, k, n) in [(33, 20, 24), (40, 3, 7), (600, 8, 128), (2100, 2, 16)] {
        let inputs = dense_inputs(&mut rng(5), m, k, n);
        for f in [Activation::Sigmoid, Activation::Relu, Activation::Tanh] {
            let run = |fused: bool| {
                let tape = Tape::new();
                let v: Vec<Var<'_>> = inputs.iter().map(|x| tape.param(x)).collect();
                let y = if fused {
                    v[0].linear_act(v[1], v[2], f)
                } else {
                    f.apply(v[0].linear(v[1], v[2]))
                };
                let grads = tape.backward(project(y));
                let out: Vec<Matrix> = v.iter().map(|&v| grads.wrt(v).to_matrix()).collect();
                (y.value(), out)
            };
            let ((y1, g1), (y2, g2)) = (run(true), run(false));
            assert_eq!(y1, y2, "{f:?} {m}x{k}x{n}: values");
            assert_eq!(g1[0], g2[0], "{f:?} {m}x{k}x{n}: dX");
            let split = m * n >= 1 << 15;
            if !split || k > 4 {
                assert_eq!(g1[1], g2[1], "{f:?} {m}x{k}x{n}: dW");
            }
            for (i, name) in [(1, "dW"), (2, "db")] {
                for (a, b) in g1[i].as_slice().iter().zip(g2[i].as_slice()) {
                    if split {
                        let tol = 1e-12 * b.abs().max(1.0);
                        assert!((a - b).abs() <= tol, "{f:?} {m}x{k}x{n}: {name} {a} vs {b}");
                    } else {
                        assert_eq!(a, b, "{f:?} {m}x{k}x{n}: {name}");
                    }
                }
            }
        }
    }
}

/// Two dense layers, `f` then a width-1 sigmoid layer: inputs X, W₁, b₁, W₂, b₂. The gradient of
/// the first layer's output, `δ₂ · W₂ᵀ`, is an outer product, which a plain sweep keeps as its
/// two factors when nothing else uses that output.
fn two_layer_inputs(rng: &mut StdRng) -> Vec<Matrix> {
    let (m, k) = (rng.random_range(2..=5), rng.random_range(1..=5));
    let n = rng.random_range(2..=5);
    let mut v = dense_inputs(rng, m, k, n);
    v.push(uniform(rng, n, 1, -1.0, 1.0));
    v.push(uniform(rng, 1, 1, -1.0, 1.0));
    v
}

#[test]
fn the_gradient_under_a_width_1_layer_matches_finite_differences() {
    use chainrule::nn::Activation::{self, *};
    for f in [Identity, Sigmoid, Relu, Tanh] {
        check_op(
            &format!("{f:?} under a width-1 layer"),
            two_layer_inputs,
            |v| {
                let h = v[0].linear_act(v[1], v[2], f);
                project(h.linear_act(v[3], v[4], Activation::Sigmoid))
            },
        );
        // The same output used once more, recorded after the width-1 layer or before it: its
        // gradient is a sum, and is stored.
        check_op(&format!("{f:?}, then a sum"), two_layer_inputs, |v| {
            let h = v[0].linear_act(v[1], v[2], f);
            project(h.linear_act(v[3], v[4], Activation::Sigmoid)) + h.sum()
        });
        check_op(&format!("{f:?}, a sum first"), two_layer_inputs, |v| {
            let h = v[0].linear_act(v[1], v[2], f);
            let s = h.sum();
            project(h.linear_act(v[3], v[4], Activation::Sigmoid)) + s
        });
    }
}

#[test]
fn a_gradient_kept_factored_reads_as_the_stored_one() {
    use chainrule::nn::Activation;
    use chainrule::Tape;
    // A plain sweep keeps dL/dH factored; in anomaly mode every gradient is stored. Both are
    // the products δ₂[i] · W₂[j], so they agree to the bit, and so does everything below H.
    for seed in 0..5 {
        let inputs = two_layer_inputs(&mut rng(seed));
        let run = |stored: bool| {
            let tape = Tape::new();
            tape.set_anomaly_detection(stored);
            let v: Vec<Var<'_>> = inputs.iter().map(|x| tape.param(x)).collect();
            let h = v[0].linear_act(v[1], v[2], Activation::Tanh);
            let y = h.linear_act(v[3], v[4], Activation::Sigmoid);
            let grads = tape.backward(project(y));
            let mut out = vec![grads.wrt(h).to_matrix()];
            out.extend(v.iter().map(|&v| grads.wrt(v).to_matrix()));
            let graph = chainrule::viz::to_graph(&tape);
            let shown = graph[petgraph::graph::NodeIndex::new(h.id().index())]
                .grad
                .clone();
            assert_eq!(
                shown.as_ref(),
                Some(&out[0]),
                "seed {seed}: to_graph's dL/dH"
            );
            out
        };
        assert_eq!(run(false), run(true), "seed {seed}");
    }
}

#[test]
fn transpose_gradient_matches_finite_differences() {
    check_op("transpose", one(-2.0, 2.0), |v| project(v[0].t()));
}

#[test]
fn bias_broadcast_gradient_matches_finite_differences() {
    let matrix_and_row = |rng: &mut StdRng| {
        let (r, c) = shape(rng);
        vec![uniform(rng, r, c, -2.0, 2.0), uniform(rng, 1, c, -2.0, 2.0)]
    };
    check_op("add_row", matrix_and_row, |v| project(v[0].add_row(v[1])));
    check_op("matrix + row", matrix_and_row, |v| project(v[0] + v[1]));
    check_op("row + matrix", matrix_and_row, |v| project(v[1] + v[0]));
}

#[test]
fn reduction_gradients_match_finite_differences() {
    check_op("sum", one(-2.0, 2.0), |v| v[0].sum() * v[0].sum());
    check_op("row_sums", one(-2.0, 2.0), |v| project(v[0].row_sums()));
    check_op("col_sums", one(-2.0, 2.0), |v| project(v[0].col_sums()));
    check_op("mean", one(-2.0, 2.0), |v| v[0].mean() * v[0].mean());
    check_op("row_means", one(-2.0, 2.0), |v| project(v[0].row_means()));
    check_op("col_means", one(-2.0, 2.0), |v| project(v[0].col_means()));
}

#[test]
fn exp_gradient_matches_finite_differences() {
    check_op("exp", one(-2.0, 2.0), |v| project(v[0].exp()));
}

#[test]
fn log_gradient_matches_finite_differences() {
    check_op("log", one(0.2, 3.0), |v| project(v[0].log()));
}

#[test]
fn powf_gradient_matches_finite_differences() {
    for p in [-1.5, 0.5, 2.0, 3.0] {
        check_op("powf", one(0.3, 2.0), move |v| project(v[0].powf(p)));
    }
}

#[test]
fn square_gradient_matches_finite_differences() {
    check_op("square", one(-2.0, 2.0), |v| project(v[0].square()));
}

#[test]
fn sigmoid_gradient_matches_finite_differences() {
    check_op("sigmoid", one(-6.0, 6.0), |v| project(v[0].sigmoid()));
}

#[test]
fn relu_gradient_matches_finite_differences_away_from_its_kink() {
    // |x| ≥ 0.1 ≫ EPS: the central difference never straddles the kink at 0.
    check_op(
        "relu",
        |rng| {
            let (r, c) = shape(rng);
            vec![away_from_zero(rng, r, c, 0.1, 2.0)]
        },
        |v| project(v[0].relu()),
    );
}

#[test]
fn tanh_gradient_matches_finite_differences() {
    check_op("tanh", one(-3.0, 3.0), |v| project(v[0].tanh()));
}

#[test]
fn sqrt_gradient_matches_finite_differences() {
    // x ≥ 0.3: far from 0, where the slope 1/(2√x) is infinite.
    check_op("sqrt", one(0.3, 3.0), |v| project(v[0].sqrt()));
}

#[test]
fn abs_gradient_matches_finite_differences_away_from_its_kink() {
    // |x| ≥ 0.1 ≫ EPS: the central difference never straddles the kink at 0.
    check_op(
        "abs",
        |rng| {
            let (r, c) = shape(rng);
            vec![away_from_zero(rng, r, c, 0.1, 2.0)]
        },
        |v| project(v[0].abs()),
    );
}

#[test]
fn abs_has_gradient_0_at_0_as_pytorch() {
    let tape = chainrule::Tape::new();
    let x = tape.param(&Matrix::from_rows(&[[0.0, -0.0, -3.0, 2.0]]));
    let grads = tape.backward(x.abs().sum());
    assert_eq!(&*grads.wrt(x), &[0.0, 0.0, -1.0, 1.0]);
}

/// A random shape whose entries are a shuffled ladder `0.1·k + noise` (noise < 0.05): no two
/// entries within 0.05 of each other, so no max or min is tied, or within EPS of a tie.
fn distinct(rng: &mut StdRng) -> Vec<Matrix> {
    let (r, c) = shape(rng);
    let mut ladder: Vec<f64> = (0..r * c)
        .map(|k| 0.1 * k as f64 - 1.0 + rng.random_range(0.0..0.05))
        .collect();
    for k in (1..ladder.len()).rev() {
        ladder.swap(k, rng.random_range(0..=k));
    }
    vec![Matrix::new(r, c, ladder)]
}

#[test]
fn max_and_min_gradients_match_finite_differences_away_from_ties() {
    check_op("max", distinct, |v| v[0].max() * 1.5);
    check_op("row_max", distinct, |v| project(v[0].row_max()));
    check_op("col_max", distinct, |v| project(v[0].col_max()));
    check_op("min", distinct, |v| v[0].min() * 1.5);
    check_op("row_min", distinct, |v| project(v[0].row_min()));
    check_op("col_min", distinct, |v| project(v[0].col_min()));
}

#[test]
fn max_and_min_send_a_tie_to_its_first_entry() {
    use chainrule::Tape;
    // 2x3 with ties in row 0 (max 4 at columns 0 and 2), in column 1 (min −1 at rows 0 and 1).
    let x = Matrix::from_rows(&[[4.0, -1.0, 4.0], [0.0, -1.0, 2.0]]);
    let grad = |f: &dyn for<'t> Fn(chainrule::Var<'t>) -> chainrule::Var<'t>| {
        let tape = Tape::new();
        let v = tape.param(&x);
        let y = f(v);
        let g = tape.backward(project(y)).wrt(v).to_matrix();
        g
    };
    let r = |i: usize, j: usize| (0.7 * i as f64 + 1.3 * j as f64 + 0.4).sin() + 0.1;
    let mut expected = Matrix::zeros(2, 3);
    expected[(0, 0)] = r(0, 0); // row 0's max: columns 0 and 2 tie, the first takes it
    expected[(1, 2)] = r(1, 0);
    assert_eq!(grad(&|v| v.row_max()), expected);
    let mut expected = Matrix::zeros(2, 3);
    expected[(0, 1)] = r(0, 1); // column 1's min: rows 0 and 1 tie, the first takes it
    expected[(1, 0)] = r(0, 0);
    expected[(1, 2)] = r(0, 2);
    assert_eq!(grad(&|v| v.col_min()), expected);
    let mut expected = Matrix::zeros(2, 3);
    expected[(0, 0)] = r(0, 0); // the overall max: (0, 0) before (0, 2)
    assert_eq!(grad(&|v| v.max()), expected);
}

#[test]
fn softmax_and_log_softmax_gradients_match_finite_differences() {
    check_op("softmax", one(-3.0, 3.0), |v| project(v[0].softmax()));
    check_op("log_softmax", one(-3.0, 3.0), |v| {
        project(v[0].log_softmax())
    });
}

#[test]
fn cross_entropy_gradient_matches_finite_differences() {
    for seed in 0..CASES {
        let mut r = rng(seed);
        let (m, n) = (r.random_range(1..=6), r.random_range(2..=5));
        let logits = uniform(&mut r, m, n, -3.0, 3.0);
        let labels = Matrix::from_fn(m, 1, |_, _| r.random_range(0..n) as f64);
        // The labels are recorded as a constant: gradcheck perturbs only the logits.
        let result = gradcheck(
            |v| v[0].cross_entropy(v[0].tape().input(&labels)) * 2.5,
            &[logits],
            EPS,
            TOL,
        );
        if let Err(e) = result {
            panic!("cross_entropy, seed {seed}, {m}x{n}: {e}");
        }
    }
}

#[test]
fn mse_and_sse_gradients_match_finite_differences_in_both_arguments() {
    check_op("mse", two_same, |v| v[0].mse(v[1]));
    check_op("sse", two_same, |v| v[0].sse(v[1]));
}

#[test]
fn bce_gradient_matches_finite_differences_inside_the_clip() {
    // Predictions in (0.05, 0.95): far inside [1e-7, 1 - 1e-7]. Targets soft, so d/dy is checked too.
    check_op(
        "bce",
        |rng| {
            let (r, c) = shape(rng);
            vec![uniform(rng, r, c, 0.05, 0.95), uniform(rng, r, c, 0.0, 1.0)]
        },
        |v| v[0].bce(v[1]),
    );
}

#[test]
fn a_layer_with_fan_out_matches_finite_differences() {
    // The same input feeds two branches and the weight is used twice.
    check_op(
        "fan-out layer",
        |rng| {
            let (m, k) = shape(rng);
            vec![
                uniform(rng, m, k, -1.0, 1.0),
                uniform(rng, k, k, -1.0, 1.0),
                uniform(rng, 1, k, -1.0, 1.0),
            ]
        },
        |v| {
            let h = (v[0].matmul(v[1]) + v[2]).tanh();
            let branch = h.matmul(v[1]).sigmoid() * h + v[0];
            project(branch)
        },
    );
}

#[test]
fn gradcheck_reports_a_wrong_gradient() {
    // detach hides one path from the tape: d/dx (x.detach() · x + x) on the tape is x + 1, the
    // true derivative is 2x + 1. At x = 1 the error is |2 − 3| / 3 = 1/3, at x = −3 it is
    // |−2 − (−5)| / 5 = 0.6: gradcheck must fail and point at the second entry.
    let x = Matrix::from_rows(&[[1.0, -3.0]]);
    let err = gradcheck(|v| (v[0].detach() * v[0] + v[0]).sum(), &[x], EPS, TOL).unwrap_err();
    assert_eq!(err.report.input, 0);
    assert_eq!(err.report.entry, (0, 1));
    assert_eq!(err.report.analytic, -2.0);
    assert!((err.report.numeric - -5.0).abs() < 1e-6);
    assert!((err.report.max_error - 0.6).abs() < 1e-6);
    assert!(err.to_string().contains("entry (0, 1)"), "{err}");
}
