//! Ops of the user's own (`CustomOp`): recorded like any op, differentiated through the user's
//! VJP, checked by gradcheck (which names a wrong one), and shown under their own name in the
//! graph, the trace and anomaly reports. Tolerances: `common::EPS` and `common::TOL`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chainrule::ops::{CustomOp, MatView};
use chainrule::{anomaly::Phase, gradcheck, viz, Matrix, Op, Tape, Var};
use common::{panic_message, project, rng, shape, uniform, CASES, EPS, TOL};

/// `y = ln(1 + eˣ)`, elementwise; `dx += g ⊙ σ(x)`. With `wrong`, the VJP forgets the σ.
struct Softplus {
    wrong: bool,
    /// How many times the VJP ran.
    vjps: AtomicUsize,
}

fn softplus(wrong: bool) -> Arc<dyn CustomOp> {
    Arc::new(Softplus {
        wrong,
        vjps: AtomicUsize::new(0),
    })
}

impl CustomOp for Softplus {
    fn name(&self) -> &str {
        if self.wrong {
            "bad_softplus"
        } else {
            "softplus"
        }
    }

    fn output_shape(&self, inputs: &[(usize, usize)]) -> Result<(usize, usize), String> {
        match inputs {
            [shape] => Ok(*shape),
            _ => Err(format!("takes one input, got {}", inputs.len())),
        }
    }

    fn forward(&self, inputs: &[MatView<'_>], out: &mut [f64]) {
        for (y, &x) in out.iter_mut().zip(inputs[0].as_slice()) {
            *y = x.max(0.0) + (-x.abs()).exp().ln_1p();
        }
    }

    fn backward(
        &self,
        inputs: &[MatView<'_>],
        _output: MatView<'_>,
        upstream: MatView<'_>,
        grads: &mut [&mut [f64]],
    ) {
        self.vjps.fetch_add(1, Ordering::Relaxed);
        let (x, g) = (inputs[0].as_slice(), upstream.as_slice());
        for ((dx, &x), g) in grads[0].iter_mut().zip(x).zip(g) {
            let slope = if self.wrong {
                1.0
            } else {
                1.0 / (1.0 + (-x).exp())
            };
            *dx += g * slope;
        }
    }

    fn rule(&self, _position: usize) -> String {
        "dL/d{in0} += dL/d{y} ⊙ σ({in0})".into()
    }
}

/// `y = a ⊙ b + a`, two inputs of one shape: `da += g ⊙ (b + 1)`, `db += g ⊙ a`. No `rule`:
/// the trace prints the default.
struct MulAdd;

impl CustomOp for MulAdd {
    fn name(&self) -> &str {
        "mul_add"
    }

    fn output_shape(&self, inputs: &[(usize, usize)]) -> Result<(usize, usize), String> {
        match inputs {
            [a, b] if a == b => Ok(*a),
            _ => Err("needs two inputs of one shape".into()),
        }
    }

    fn forward(&self, inputs: &[MatView<'_>], out: &mut [f64]) {
        let (a, b) = (inputs[0].as_slice(), inputs[1].as_slice());
        for ((y, a), b) in out.iter_mut().zip(a).zip(b) {
            *y = a * b + a;
        }
    }

    fn backward(
        &self,
        inputs: &[MatView<'_>],
        _output: MatView<'_>,
        upstream: MatView<'_>,
        grads: &mut [&mut [f64]],
    ) {
        let (a, b, g) = (
            inputs[0].as_slice(),
            inputs[1].as_slice(),
            upstream.as_slice(),
        );
        for k in 0..g.len() {
            grads[0][k] += g[k] * (b[k] + 1.0);
            grads[1][k] += g[k] * a[k];
        }
    }
}

#[test]
fn a_user_op_matches_finite_differences_with_one_input_two_and_the_same_input_twice() {
    let (soft, mul_add): (Arc<dyn CustomOp>, Arc<dyn CustomOp>) =
        (softplus(false), Arc::new(MulAdd));
    for seed in 0..CASES {
        let mut r = rng(seed);
        let (m, n) = shape(&mut r);
        let (a, b) = (
            uniform(&mut r, m, n, -3.0, 3.0),
            uniform(&mut r, m, n, -3.0, 3.0),
        );
        let (one, two) = (vec![a.clone()], vec![a, b]);
        let cases: [(&str, Result<_, _>); 3] = [
            (
                "softplus",
                gradcheck(|v| project(v[0].custom(&soft, &[])), &one, EPS, TOL),
            ),
            (
                "mul_add",
                gradcheck(|v| project(v[0].custom(&mul_add, &[v[1]])), &two, EPS, TOL),
            ),
            (
                "mul_add(x, x) after softplus",
                gradcheck(
                    |v| {
                        let s = v[0].custom(&soft, &[]);
                        project(s.custom(&mul_add, &[s]) + v[0])
                    },
                    &one,
                    EPS,
                    TOL,
                ),
            ),
        ];
        for (name, result) in cases {
            if let Err(e) = result {
                panic!("{name}, seed {seed}, {m}x{n}: {e}");
            }
        }
    }
}

#[test]
fn a_user_op_equals_the_same_function_composed_of_the_crates_ops() {
    // ln(1 + eˣ) with x ≤ 3: no overflow, and σ(x) = eˣ/(1 + eˣ) is the composed gradient.
    let soft = softplus(false);
    let x = uniform(&mut rng(3), 4, 5, -3.0, 3.0);
    let run = |custom: bool| {
        let tape = Tape::new();
        let v = tape.param(&x);
        let y = if custom {
            v.custom(&soft, &[])
        } else {
            (v.exp() + 1.0).log()
        };
        let g = tape.backward(project(y)).wrt(v).to_matrix();
        (y.value(), g)
    };
    let ((y1, g1), (y2, g2)) = (run(true), run(false));
    // Two formulas for one function: a few units in the last place apart.
    assert!(y1.max_abs_diff(&y2) < 1e-14, "{y1} vs {y2}");
    assert!(g1.max_abs_diff(&g2) < 1e-14, "{g1} vs {g2}");
}

#[test]
fn gradcheck_catches_a_wrong_vjp_and_names_the_op() {
    let bad = softplus(true);
    let x = Matrix::from_rows(&[[0.5, -1.0, 2.0]]);
    let err = gradcheck(|v| v[0].custom(&bad, &[]).sum(), &[x], EPS, TOL)
        .expect_err("the VJP drops the factor σ(x)");
    // At x = −1 the tape says 1, the truth is σ(−1) = 0.269: the worst entry.
    assert_eq!(err.report.entry, (0, 1));
    assert_eq!(err.report.analytic, 1.0);
    assert_eq!(err.report.ops, ["bad_softplus", "sum"]);
    assert!(
        err.to_string().contains("f records bad_softplus, sum"),
        "{err}"
    );
}

#[test]
fn a_user_op_is_shown_under_its_name_in_the_graph_and_the_trace() {
    let (soft, mul_add): (Arc<dyn CustomOp>, Arc<dyn CustomOp>) =
        (softplus(false), Arc::new(MulAdd));
    let tape = Tape::new();
    let x = tape.param(&Matrix::from_rows(&[[0.0, 1.0]]));
    let s = x.custom(&soft, &[]);
    let y = s.custom(&mul_add, &[x]).sum();
    assert_eq!(s.op().name(), "softplus");
    assert_eq!(s.op().to_string(), "softplus");
    let Op::Custom(id) = s.op() else {
        panic!("{:?}", s.op())
    };
    assert_eq!(format!("{:?}", s.op()), "Custom(CustomId(0, \"softplus\"))");
    assert!(Arc::ptr_eq(&tape.custom_op(id).expect("registered"), &soft));
    let dot = viz::to_dot(&tape);
    assert!(dot.contains("n1: softplus 1x2"), "{dot}");
    assert!(dot.contains("n2: mul_add 1x2"), "{dot}");
    let (_, trace) = viz::backward_trace(&tape, y);
    let text = trace.to_string();
    for line in [
        "n2 = mul_add(n1, n0)",
        "dL/dn1 += mul_add's vector–Jacobian product of dL/dn2, input 0",
        "n1 = softplus(n0)",
        "dL/dn0 += dL/dn1 ⊙ σ(n0)",
    ] {
        assert!(text.contains(line), "missing `{line}` in\n{text}");
    }
}

#[test]
fn anomaly_mode_names_a_user_op() {
    let mul_add: Arc<dyn CustomOp> = Arc::new(MulAdd);
    let tape = Tape::new();
    tape.set_anomaly_detection(true);
    let x = tape.input(&Matrix::from_rows(&[[1e200, 1.0]]));
    let w = tape.param(&Matrix::from_rows(&[[1e200, 1.0]]));
    let y = x.custom(&mul_add, &[w]).sum();
    let err = tape.try_backward(y).expect_err("1e200 · 1e200 overflows");
    assert_eq!((err.phase, err.op.name()), (Phase::Forward, "mul_add"));
    assert!(
        err.to_string()
            .contains("n2 = mul_add(n0, n1) (recorded at tests/custom.rs:"),
        "{err}"
    );
}

#[test]
fn the_sweep_runs_a_user_ops_vjp_only_when_the_output_depends_on_it() {
    let op = Arc::new(Softplus {
        wrong: false,
        vjps: AtomicUsize::new(0),
    });
    let soft: Arc<dyn CustomOp> = op.clone();
    let tape = Tape::new();
    let x = tape.param(&Matrix::from_rows(&[[0.5]]));
    let _dead = x.custom(&soft, &[]);
    let live = x.custom(&soft, &[]).sum();
    let grads = tape.backward(live);
    assert_eq!(op.vjps.load(Ordering::Relaxed), 1);
    assert_eq!(grads.wrt(x).item(), 1.0 / (1.0 + (-0.5f64).exp()));
    // Both nodes share one registry entry.
    let ids: Vec<Op> = tape.vars().skip(1).take(2).map(Var::op).collect();
    assert_eq!(ids[0], ids[1]);
}

#[test]
fn an_output_shape_the_op_refuses_panics_with_its_reason_and_the_input_shapes() {
    let soft = softplus(false);
    let line = line!() + 5; // the line of `tape.custom`
    let message = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let tape = Tape::new();
        let a = tape.param(&Matrix::zeros(2, 2));
        let b = tape.scalar(1.0);
        tape.custom(&soft, &[a, b]);
    }))
    .map(|_| String::from("no panic"))
    .unwrap_or_else(panic_message);
    assert_eq!(
        message,
        format!(
            "softplus: takes one input, got 2; inputs 2x2 (n0), 1x1 (n1) (at tests/custom.rs:{line})"
        )
    );
}

/// `y = Σᵢ xᵢ` over any number of same-shaped inputs; `dxᵢ += g`.
struct SumAll;

impl CustomOp for SumAll {
    fn name(&self) -> &str {
        "sum_all"
    }

    fn output_shape(&self, inputs: &[(usize, usize)]) -> Result<(usize, usize), String> {
        Ok(inputs[0])
    }

    fn forward(&self, inputs: &[MatView<'_>], out: &mut [f64]) {
        out.fill(0.0);
        for x in inputs {
            for (y, x) in out.iter_mut().zip(x.as_slice()) {
                *y += x;
            }
        }
    }

    fn backward(
        &self,
        _inputs: &[MatView<'_>],
        _output: MatView<'_>,
        upstream: MatView<'_>,
        grads: &mut [&mut [f64]],
    ) {
        for grad in grads.iter_mut() {
            for (d, g) in grad.iter_mut().zip(upstream.as_slice()) {
                *d += g;
            }
        }
    }
}

#[test]
fn a_user_op_of_more_than_three_inputs_survives_truncate_and_reset() {
    // Its input list spills to the heap; the tape frees it when it forgets the node.
    let op: Arc<dyn CustomOp> = Arc::new(SumAll);
    let mut tape = Tape::new();
    let ids: Vec<_> = (0..5).map(|k| tape.scalar(k as f64).id()).collect();
    let mark = tape.mark();
    for round in 0..3 {
        let t = &tape;
        let xs: Vec<Var<'_>> = ids.iter().map(|&id| t.var(id)).collect();
        let y = xs[0].custom(&op, &xs[1..]) * xs[4];
        assert_eq!(y.value().item(), 10.0 * 4.0, "round {round}");
        let grads = t.backward(y);
        let want = [4.0, 4.0, 4.0, 4.0, 4.0 + 10.0];
        for (x, want) in xs.iter().zip(want) {
            assert_eq!(grads.wrt(*x).item(), want, "round {round}");
        }
        tape.truncate(mark);
    }
    tape.reset();
    let x = tape.scalar(1.0);
    let y = x.custom(&op, &[x, x, x, x]);
    assert_eq!(tape.backward(y).wrt(x).item(), 5.0);
}
