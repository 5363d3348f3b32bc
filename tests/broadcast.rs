//! Broadcasting of `+ − ⊙ ⊘`: gradients against finite differences for every pairing and both
//! operand orders, the numbers against the operand tiled by hand (to the bit), the errors, and
//! the trace. Tolerances: `common::EPS` and `common::TOL` (with the reason there).

mod common;

use chainrule::ops::{Binary, Stretch};
use chainrule::{gradcheck, viz, Matrix, Op, Tape, Var};
use common::{away_from_zero, panic_message, project, rng, uniform, CASES, EPS, TOL};
use rand::rngs::StdRng;
use rand::RngExt;

const OPS: [Binary; 4] = [Binary::Add, Binary::Sub, Binary::Mul, Binary::Div];

/// `a ∘ b` with the operators, as a user writes it.
fn apply<'t>(f: Binary, a: Var<'t>, b: Var<'t>) -> Var<'t> {
    match f {
        Binary::Add => a + b,
        Binary::Sub => a - b,
        Binary::Mul => a * b,
        Binary::Div => a / b,
    }
}

/// The pairings: the full operand's shape and the other's, for an m×n output.
#[derive(Clone, Copy, Debug)]
enum Pairing {
    Row,
    Column,
    Scalar,
    ColumnByRow,
}

const PAIRINGS: [Pairing; 4] = [
    Pairing::Row,
    Pairing::Column,
    Pairing::Scalar,
    Pairing::ColumnByRow,
];

impl Pairing {
    /// The two operands' shapes (the "first" one full m×n except for column × row).
    fn shapes(self, m: usize, n: usize) -> [(usize, usize); 2] {
        match self {
            Pairing::Row => [(m, n), (1, n)],
            Pairing::Column => [(m, n), (m, 1)],
            Pairing::Scalar => [(m, n), (1, 1)],
            Pairing::ColumnByRow => [(m, 1), (1, n)],
        }
    }
}

/// Operands of `pairing` for an m×n output with m, n ≥ 2 (so every pairing really stretches),
/// in the order `swap` says; entries in [-2, 2), or away from zero for a divisor (the second).
fn operands(rng: &mut StdRng, f: Binary, pairing: Pairing, swap: bool) -> Vec<Matrix> {
    let (m, n) = (rng.random_range(2..=5), rng.random_range(2..=5));
    let [s0, s1] = pairing.shapes(m, n);
    let [s0, s1] = if swap { [s1, s0] } else { [s0, s1] };
    let a = uniform(rng, s0.0, s0.1, -2.0, 2.0);
    let b = if f == Binary::Div {
        away_from_zero(rng, s1.0, s1.1, 0.5, 2.0)
    } else {
        uniform(rng, s1.0, s1.1, -2.0, 2.0)
    };
    vec![a, b]
}

#[test]
fn every_broadcast_pairing_matches_finite_differences_in_both_orders() {
    for f in OPS {
        for pairing in PAIRINGS {
            for swap in [false, true] {
                for seed in 0..CASES {
                    let inputs = operands(&mut rng(seed), f, pairing, swap);
                    if let Err(e) = gradcheck(|v| project(apply(f, v[0], v[1])), &inputs, EPS, TOL)
                    {
                        let shapes: Vec<_> = inputs.iter().map(Matrix::shape).collect();
                        panic!(
                            "{f:?} {pairing:?} swap {swap}, seed {seed}, shapes {shapes:?}: {e}"
                        );
                    }
                }
            }
        }
    }
}

/// `x` copied to `m×n` (the operand tiled by hand).
fn tile(x: &Matrix, (m, n): (usize, usize)) -> Matrix {
    Matrix::from_fn(m, n, |i, j| {
        x[(
            if x.rows() == 1 { 0 } else { i },
            if x.cols() == 1 { 0 } else { j },
        )]
    })
}

/// `full` summed down to `shape` over the axes where `shape` is 1, in row-major order from 0.
fn sum_to(full: &Matrix, shape: (usize, usize)) -> Matrix {
    let mut out = Matrix::zeros(shape.0, shape.1);
    for i in 0..full.rows() {
        for j in 0..full.cols() {
            let at = (
                if shape.0 == 1 { 0 } else { i },
                if shape.1 == 1 { 0 } else { j },
            );
            out[at] += full[(i, j)];
        }
    }
    out
}

/// Value and both gradients of `project(a ∘ b)`, each operand a parameter (or the second a
/// constant when `b_constant`).
fn run(f: Binary, a: &Matrix, b: &Matrix, b_constant: bool) -> (Matrix, Matrix, Matrix, Op) {
    let tape = Tape::new();
    let av = tape.param(a);
    let bv = if b_constant {
        tape.input(b)
    } else {
        tape.param(b)
    };
    let y = apply(f, av, bv);
    let grads = tape.backward(project(y));
    let (da, db) = (grads.wrt(av).to_matrix(), grads.wrt(bv).to_matrix());
    (y.value(), da, db, y.op())
}

#[test]
fn a_broadcast_equals_its_operands_tiled_by_hand_to_the_bit() {
    for f in OPS {
        for pairing in PAIRINGS {
            for swap in [false, true] {
                for b_constant in [false, true] {
                    for seed in 0..5 {
                        let v = operands(&mut rng(seed), f, pairing, swap);
                        let (a, b) = (&v[0], &v[1]);
                        let out = (a.rows().max(b.rows()), a.cols().max(b.cols()));
                        let (y, da, db, op) = run(f, a, b, b_constant);
                        let (a_full, b_full) = (tile(a, out), tile(b, out));
                        let (y_full, da_full, db_full, op_full) =
                            run(f, &a_full, &b_full, b_constant);
                        let case = format!("{f:?} {pairing:?} swap {swap} constant {b_constant}");
                        assert_ne!(op, op_full, "{case}: the broadcast records its own op");
                        assert_eq!(y, y_full, "{case}: values");
                        assert_eq!(da, sum_to(&da_full, a.shape()), "{case}: da");
                        if b_constant {
                            assert!(db.as_slice().iter().all(|&g| g == 0.0), "{case}: db");
                        } else {
                            assert_eq!(db, sum_to(&db_full, b.shape()), "{case}: db");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn a_large_broadcast_equals_its_operands_tiled_by_hand_to_the_bit() {
    // 300x160 = 48,000 entries: the forward pass runs on two threads (rows cut in two).
    let (m, n) = (300, 160);
    for f in OPS {
        for pairing in PAIRINGS {
            let [s0, s1] = pairing.shapes(m, n);
            let mut r = rng(7);
            let a = uniform(&mut r, s0.0, s0.1, -2.0, 2.0);
            let b = away_from_zero(&mut r, s1.0, s1.1, 0.5, 2.0);
            let (y, da, db, _) = run(f, &a, &b, false);
            let (y_full, da_full, db_full, _) = run(f, &tile(&a, (m, n)), &tile(&b, (m, n)), false);
            assert_eq!(y, y_full, "{f:?} {pairing:?}: values");
            assert_eq!(da, sum_to(&da_full, a.shape()), "{f:?} {pairing:?}: da");
            assert_eq!(db, sum_to(&db_full, b.shape()), "{f:?} {pairing:?}: db");
        }
    }
}

#[test]
fn a_broadcast_records_how_each_operand_is_stretched() {
    let tape = Tape::new();
    let x = tape.param(&Matrix::filled(3, 4, 2.0));
    let (row, col, one) = (
        tape.param(&Matrix::filled(1, 4, 1.0)),
        tape.param(&Matrix::filled(3, 1, 1.0)),
        tape.scalar(1.0),
    );
    let cases = [
        (
            x - row,
            Op::Broadcast(Binary::Sub, Stretch::None, Stretch::Rows),
        ),
        (
            col * x,
            Op::Broadcast(Binary::Mul, Stretch::Cols, Stretch::None),
        ),
        (
            x / one,
            Op::Broadcast(Binary::Div, Stretch::None, Stretch::Both),
        ),
        (
            col + row,
            Op::Broadcast(Binary::Add, Stretch::Cols, Stretch::Rows),
        ),
        // The bias case keeps the lab's op, and equal shapes the same-shape ops.
        (x + row, Op::AddRow),
        (row + x, Op::AddRow),
        (x * x, Op::Mul),
        (one / one, Op::Div),
    ];
    for (k, (y, op)) in cases.iter().enumerate() {
        assert_eq!(y.op(), *op, "case {k}");
    }
    assert_eq!((col + row).shape(), (3, 4));
    assert_eq!((x / one).op().to_string(), "div_broadcast");
}

#[test]
fn shapes_that_cannot_broadcast_are_refused_naming_the_op_and_both_shapes() {
    for f in OPS {
        let message = std::panic::catch_unwind(|| {
            let tape = Tape::new();
            let a = tape.param(&Matrix::zeros(2, 3));
            let b = tape.param(&Matrix::zeros(3, 2));
            apply(f, a, b);
        })
        .map(|_| String::from("no panic"))
        .unwrap_or_else(panic_message);
        let name = f.name();
        assert!(
            message.starts_with(&format!("{name}: cannot broadcast 2x3 (n0) with 3x2 (n1)")),
            "{f:?}: {message}"
        );
        assert!(message.contains("tests/broadcast.rs"), "{f:?}: {message}");
    }
}

#[test]
fn the_textbook_softmax_divides_by_the_row_sums() {
    let tape = Tape::new();
    let logits = tape.param(&Matrix::from_rows(&[[1.0, 2.0, 3.0], [0.5, 0.5, -1.0]]));
    let e = logits.exp();
    let p = e / e.row_sums(); // 2x3 ⊘ 2x1
    let p = p.value();
    for i in 0..2 {
        let total: f64 = p.row(i).iter().sum();
        assert!((total - 1.0).abs() < 1e-15, "row {i} sums to {total}");
    }
    let e1: f64 = [1.0f64, 2.0, 3.0].iter().map(|x| x.exp()).sum();
    assert_eq!(p[(0, 2)], 3f64.exp() / e1);
}

#[test]
fn the_trace_prints_a_broadcast_gradient_as_a_sum() {
    let tape = Tape::new();
    let x = tape.param(&Matrix::from_rows(&[[1.0, 2.0], [3.0, 4.0]]));
    let row = tape.param(&Matrix::from_rows(&[[0.5, -0.5]]));
    let col = tape.param(&Matrix::from_rows(&[[2.0], [4.0]]));
    let one = tape.scalar(3.0);
    let y = ((x - row) / col * one).sum();
    let (grads, trace) = viz::backward_trace(&tape, y);
    let text = trace.to_string();
    for rule in [
        "dL/dn1 −= Σ_rows dL/dn4",
        "dL/dn2 −= Σ_cols (dL/dn5 ⊙ n5 ⊘ n2)",
        "dL/dn3 += Σ_all (dL/dn6 ⊙ n5)",
        "dL/dn4 += dL/dn5 ⊘ n2",
    ] {
        assert!(text.contains(rule), "missing `{rule}` in\n{text}");
    }
    // d/d(row) of Σ (x − row) ⊘ col · 3: −3 Σ_i 1/col[i] = −3 (1/2 + 1/4) per entry.
    assert_eq!(grads.wrt(row).to_matrix(), Matrix::filled(1, 2, -2.25));
}
