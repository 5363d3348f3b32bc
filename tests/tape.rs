//! The tape itself: known values, fan-out, long chains, idempotent backward, seeds, detach,
//! truncation, and the messages of its panics.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use chainrule::{Matrix, Op, Tape};
use common::panic_message;

/// Runs `f`, expects a panic, returns its message.
fn panics_with(f: impl FnOnce()) -> String {
    panic_message(catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic"))
}

fn sigma(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[test]
fn polynomial_value_and_derivative_are_exact() {
    // y = x² + 5x + 4 at x = 3: y = 28, dy/dx = 2x + 5 = 11.
    let tape = Tape::new();
    let x = tape.scalar(3.0);
    let y = x * x + 5.0 * x + 4.0;
    let grads = tape.backward(y);
    assert_eq!(y.item(), 28.0);
    assert_eq!(grads.wrt(x).item(), 11.0);
}

#[test]
fn two_a_a_plus_b_records_and_differentiates() {
    // y = 2a·a + b at a = −1.5, b = 4: y = 8.5, dy/da = 4a = −6, dy/db = 1.
    let tape = Tape::new();
    let (a, b) = (tape.scalar(-1.5), tape.scalar(4.0));
    let y = 2.0 * a * a + b;
    let grads = tape.backward(y);
    assert_eq!(y.item(), 8.5);
    assert_eq!(grads.wrt(a).item(), -6.0);
    assert_eq!(grads.wrt(b).item(), 1.0);
}

#[test]
fn sigmoid_neuron_matches_hand_derivation() {
    // y = σ(w·x + b), x = 2, w = −0.5, b = 0.25: z = −0.75, dy/dw = σ'(z)·x, dy/db = σ'(z).
    let tape = Tape::new();
    let (x, w, b) = (tape.constant(2.0), tape.scalar(-0.5), tape.scalar(0.25));
    let y = (w * x + b).sigmoid();
    let grads = tape.backward(y);
    // 1e-15: for z < 0 the kernel computes σ as eᶻ/(1 + eᶻ) (no overflow), which can differ from
    // 1/(1 + e⁻ᶻ) here in the last bit.
    let s = sigma(-0.75);
    assert!((y.item() - s).abs() < 1e-15);
    assert!((grads.wrt(w).item() - s * (1.0 - s) * 2.0).abs() < 1e-15);
    assert!((grads.wrt(b).item() - s * (1.0 - s)).abs() < 1e-15);
}

#[test]
fn matmul_known_values_and_gradients() {
    // C = A·B with A = [1 2; 3 4], B = [5; 6]: C = [17; 39].
    // L = Σ C: dL/dA = 1·Bᵀ per row = [5 6; 5 6], dL/dB = Aᵀ·1 = column sums of A = [4; 6].
    let tape = Tape::new();
    let a = tape.param(&Matrix::from_rows(&[[1.0, 2.0], [3.0, 4.0]]));
    let b = tape.param(&Matrix::from_rows(&[[5.0], [6.0]]));
    let c = a.matmul(b);
    let grads = tape.backward(c.sum());
    assert_eq!(c.value(), Matrix::from_rows(&[[17.0], [39.0]]));
    assert_eq!(
        grads.wrt(a).to_matrix(),
        Matrix::from_rows(&[[5.0, 6.0], [5.0, 6.0]])
    );
    assert_eq!(grads.wrt(b).to_matrix(), Matrix::from_rows(&[[4.0], [6.0]]));
}

#[test]
fn bias_gradient_is_the_sum_over_rows() {
    // Y = X + b with X 3x2: dL/db = Σ_i dL/dY[i] = 3 per entry when L = Σ Y.
    let tape = Tape::new();
    let x = tape.input(&Matrix::zeros(3, 2));
    let b = tape.param(&Matrix::from_rows(&[[1.0, -1.0]]));
    let y = x + b;
    assert_eq!(y.op(), Op::AddRow);
    let grads = tape.backward(y.sum());
    assert_eq!(grads.wrt(b).to_matrix(), Matrix::from_rows(&[[3.0, 3.0]]));
}

#[test]
fn losses_have_their_documented_values_and_gradients() {
    let tape = Tape::new();
    let p = tape.param(&Matrix::from_rows(&[[1.0], [2.0]]));
    let y = tape.input(&Matrix::zeros(2, 1));
    // mse = (1 + 4)/2 = 2.5, d/dp = 2(p − y)/n = [1, 2]; sse = 5, d/dp = 2(p − y) = [2, 4].
    let mse = p.mse(y);
    assert_eq!(mse.item(), 2.5);
    assert_eq!(
        tape.backward(mse).wrt(p).to_matrix(),
        Matrix::from_rows(&[[1.0], [2.0]])
    );
    let sse = p.sse(y);
    assert_eq!(sse.item(), 5.0);
    assert_eq!(
        tape.backward(sse).wrt(p).to_matrix(),
        Matrix::from_rows(&[[2.0], [4.0]])
    );
}

#[test]
fn bce_value_gradient_and_clip() {
    // p = 0.8, y = 1: L = −ln 0.8, dL/dp = (p − y)/(p(1 − p)) = −0.2/0.16 = −1.25.
    let tape = Tape::new();
    let p = tape.scalar(0.8);
    let l = p.bce(tape.constant(1.0));
    assert!((l.item() + 0.8f64.ln()).abs() < 1e-15);
    assert!((tape.backward(l).wrt(p).item() + 1.25).abs() < 1e-12);
    // p = 0, y = 1: clipped to 1e-7, L = −ln 1e-7 ≈ 16.118 (finite), gradient 0 (flat clip).
    let p0 = tape.scalar(0.0);
    let l0 = p0.bce(tape.constant(1.0));
    assert!(
        (l0.item() - 16.118_095_650_958_32).abs() < 1e-9,
        "{}",
        l0.item()
    );
    assert_eq!(tape.backward(l0).wrt(p0).item(), 0.0);
}

#[test]
fn relu_takes_zero_gradient_at_its_kink() {
    let tape = Tape::new();
    let x = tape.param(&Matrix::from_rows(&[[-1.0, 0.0, 2.0]]));
    let grads = tape.backward(x.relu().sum());
    assert_eq!(
        grads.wrt(x).to_matrix(),
        Matrix::from_rows(&[[0.0, 0.0, 1.0]])
    );
}

#[test]
fn fan_out_sums_both_contributions() {
    // x·x: d/dx = 2x. And a = eˣ feeding two branches: y = a·x + a, dy/dx = eˣx + eˣ + eˣ.
    let tape = Tape::new();
    let x = tape.scalar(0.7);
    assert_eq!(tape.backward(x * x).wrt(x).item(), 1.4);
    let a = x.exp();
    let y = a * x + a;
    let want = 0.7f64.exp() * 0.7 + 2.0 * 0.7f64.exp();
    assert!((tape.backward(y).wrt(x).item() - want).abs() < 1e-15);
}

#[test]
fn a_chain_of_twelve_sigmoids_matches_the_product_of_local_derivatives() {
    // y_{k+1} = σ(y_k): dy_12/dy_0 = Π_k y_{k+1}(1 − y_{k+1}), computed here in plain f64.
    let tape = Tape::new();
    let x = tape.scalar(0.3);
    let (mut y, mut plain, mut want) = (x, 0.3f64, 1.0f64);
    for _ in 0..12 {
        y = y.sigmoid();
        plain = sigma(plain);
        want *= plain * (1.0 - plain);
    }
    assert_eq!(tape.len(), 13);
    assert_eq!(y.item(), plain);
    // 1e-15 relative: the same 12 products, at most a rounding apart in σ.
    let got = tape.backward(y).wrt(x).item();
    assert!((got - want).abs() <= 1e-15 * want.abs(), "{got} vs {want}");
}

#[test]
fn a_chain_of_ten_scalings_is_exact() {
    // y = 2¹⁰·x: dy/dx = 1024 exactly (powers of two round nothing).
    let tape = Tape::new();
    let x = tape.scalar(1.25);
    let y = (0..10).fold(x, |y, _| y * 2.0);
    assert_eq!(y.item(), 1280.0);
    assert_eq!(tape.backward(y).wrt(x).item(), 1024.0);
}

#[test]
fn backward_twice_gives_the_same_gradients_not_doubled() {
    let tape = Tape::new();
    let w = tape.param(&Matrix::from_rows(&[[0.5, -1.0], [2.0, 0.25]]));
    let loss = w.tanh().square().sum();
    let first = tape.backward(loss).wrt(w).to_matrix();
    let second = tape.backward(loss).wrt(w).to_matrix();
    assert_eq!(first, second);
    assert!(first.as_slice().iter().all(|g| *g != 0.0));
}

#[test]
fn backward_with_a_seed_is_a_vector_jacobian_product() {
    // y = 3x elementwise (2x2): with seed S, dL/dx = 3S.
    let tape = Tape::new();
    let x = tape.param(&Matrix::from_rows(&[[1.0, 2.0], [3.0, 4.0]]));
    let y = x * 3.0;
    let seed = Matrix::from_rows(&[[1.0, -1.0], [0.5, 2.0]]);
    let grads = tape.backward_with(y, &seed);
    assert_eq!(
        grads.wrt(x).to_matrix(),
        Matrix::from_rows(&[[3.0, -3.0], [1.5, 6.0]])
    );
}

#[test]
fn nodes_without_a_parameter_get_no_gradient_work() {
    // e = exp(data) depends on no parameter: the sweep skips it, so its gradient stays 0 even
    // though dL/de = w ≠ 0 — what it would be if the sweep had visited it.
    let tape = Tape::new();
    let data = tape.input(&Matrix::from_rows(&[[1.0, 2.0]]));
    let w = tape.param(&Matrix::from_rows(&[[3.0, 4.0]]));
    let e = data.exp();
    let loss = (e * w).sum();
    assert!(!e.requires_grad());
    assert!(loss.requires_grad());
    let grads = tape.backward(loss);
    assert_eq!(&*grads.wrt(e), &[0.0, 0.0]);
    assert_eq!(&*grads.wrt(data), &[0.0, 0.0]);
    assert_eq!(&*grads.wrt(w), &[1f64.exp(), 2f64.exp()]);
}

#[test]
fn detach_stops_the_gradient() {
    // y = detach(x)·x: the tape sees only the second factor, dy/dx = x (not 2x).
    let tape = Tape::new();
    let x = tape.scalar(3.0);
    let y = x.detach() * x;
    assert_eq!(y.item(), 9.0);
    assert_eq!(tape.backward(y).wrt(x).item(), 3.0);
}

#[test]
fn grad_is_none_before_backward_and_for_nodes_after_the_output() {
    let tape = Tape::new();
    let x = tape.scalar(2.0);
    let y = x.square();
    assert_eq!(x.grad(), None);
    tape.backward(y);
    let later = y.exp();
    assert_eq!(x.grad(), Some(Matrix::scalar(4.0)));
    assert_eq!(later.grad(), None);
}

#[test]
fn truncating_to_a_mark_keeps_parameters_and_gives_the_same_gradients() {
    let mut tape = Tape::new();
    let w_id = tape.param(&Matrix::from_rows(&[[0.5, -2.0]])).id();
    let mark = tape.mark();
    let mut results = Vec::new();
    for _ in 0..2 {
        tape.truncate(mark);
        let w = tape.var(w_id);
        let loss = w.sigmoid().sum();
        results.push(tape.backward(loss).wrt(w).to_matrix());
        assert_eq!(tape.len(), 3);
    }
    assert_eq!(results[0], results[1]);
}

#[test]
fn reset_empties_the_tape() {
    let mut tape = Tape::new();
    let x = tape.scalar(1.0);
    let _ = x.exp();
    assert_eq!(tape.len(), 2);
    tape.reset();
    assert!(tape.is_empty());
    assert_eq!(tape.value_len(), 0);
}

#[test]
fn backward_on_a_non_scalar_suggests_sum_or_backward_with() {
    let tape = Tape::new();
    let x = tape.param(&Matrix::zeros(4, 1));
    let msg = panics_with(|| {
        tape.backward(x.sigmoid());
    });
    assert!(msg.contains("is 4x1, not a scalar"), "{msg}");
    assert!(
        msg.contains(".sum()") && msg.contains("backward_with"),
        "{msg}"
    );
}

#[test]
fn shape_mismatch_names_the_op_both_shapes_and_the_callers_line() {
    let tape = Tape::new();
    let a = tape.param(&Matrix::zeros(3, 2));
    let b = tape.param(&Matrix::zeros(3, 1));
    let line = line!() + 2;
    let msg = panics_with(|| {
        let _ = a.matmul(b);
    });
    assert!(
        msg.starts_with("matmul: cannot multiply 3x2 (n0) by 3x1 (n1)"),
        "{msg}"
    );
    assert!(
        msg.ends_with(&format!("(at tests/tape.rs:{line})")),
        "{msg}"
    );

    // 3x2 ⊙ 3x1 broadcasts (a column); 3x2 ⊙ 2x2 does not.
    let square = tape.param(&Matrix::zeros(2, 2));
    let line = line!() + 2;
    let msg = panics_with(|| {
        let _ = a * square;
    });
    assert!(
        msg.starts_with("mul: cannot broadcast 3x2 (n0) with 2x2 (n2)"),
        "{msg}"
    );
    assert!(
        msg.ends_with(&format!("(at tests/tape.rs:{line})")),
        "{msg}"
    );

    let msg = panics_with(|| {
        let _ = a + tape.param(&Matrix::zeros(2, 3));
    });
    assert!(
        msg.starts_with("add: cannot broadcast 3x2 (n0) with 2x3"),
        "{msg}"
    );
    let msg = panics_with(|| {
        let _ = a.mse(b);
    });
    assert!(
        msg.starts_with("mse: shapes differ, 3x2 (n0) and 3x1 (n1)"),
        "{msg}"
    );
    let msg = panics_with(|| {
        let _ = a.linear(b, b);
    });
    assert!(
        msg.starts_with("linear: cannot multiply 3x2 (n0) by 3x1 (n1)"),
        "{msg}"
    );
    let w = tape.param(&Matrix::zeros(2, 4));
    let msg = panics_with(|| {
        let _ = a.linear(w, b);
    });
    assert!(
        msg.starts_with("linear: cannot add 3x1 (n1) to each row of 3x4: the bias must be 1x4"),
        "{msg}"
    );
}

#[test]
fn a_var_from_another_tape_is_rejected() {
    let (one, other) = (Tape::new(), Tape::new());
    let a = one.scalar(1.0);
    let b = other.scalar(2.0);
    let line = line!() + 2;
    let msg = panics_with(|| {
        let _ = a + b;
    });
    assert!(msg.starts_with("add: n0 belongs to another tape"), "{msg}");
    assert!(
        msg.ends_with(&format!("(at tests/tape.rs:{line})")),
        "{msg}"
    );
    let msg = panics_with(|| {
        let _ = one.backward(b);
    });
    assert!(
        msg.starts_with("backward: n0 belongs to another tape"),
        "{msg}"
    );
}

#[test]
fn a_second_sweep_leaves_no_stale_gradient_in_nodes_it_does_not_reach() {
    // The first sweep gives a = eˣ the gradient 1; the second, from b alone, never reaches a,
    // whose gradient must then read 0, not the 1 left in the buffer.
    let tape = Tape::new();
    let x = tape.scalar(0.5);
    let a = x.exp();
    let b = x * 3.0;
    let first = tape.backward((a + b).sum());
    assert_eq!(first.wrt(a).item(), 1.0);
    let second = tape.backward(b.sum());
    assert_eq!(second.wrt(a).item(), 0.0);
    assert_eq!(second.wrt(x).item(), 3.0);
}

/// Records a graph with every case the sweep's first-write rule must get right: a parameter
/// whose last use is a `detach`, an unused parameter, a dangling node recorded before the loss,
/// an input, a node used twice by one op (`h * h`), fan-out, and the lab's layer ops. Returns
/// the loss and every node recorded.
fn awkward_graph(tape: &Tape) -> (chainrule::Var<'_>, Vec<chainrule::Var<'_>>) {
    let x = tape.input_slice(3, 2, &[0.5, -1.0, 2.0, 0.25, -0.75, 1.5]);
    let w = tape.param_slice(2, 2, &[0.3, -0.2, 0.8, 0.1]);
    let b = tape.param_slice(1, 2, &[0.05, -0.4]);
    let unused = tape.param_slice(1, 1, &[7.0]);
    let z = x.matmul(w).add_row(b);
    let h = z.relu() + z.sigmoid();
    let dangling = h.exp();
    let stopped = w.detach();
    let sq = h * h;
    let loss = (sq.sum() + (h * 0.5).sum()).mean() + stopped.sum();
    let all = vec![x, w, b, unused, z, h, dangling, stopped, sq, loss];
    (loss, all)
}

#[test]
fn a_dirty_gradient_buffer_gives_the_same_gradients_as_a_clean_one() {
    // Sweeps that start from the last node write each gradient's first contribution over the
    // buffer instead of zero-filling it first. Fill the buffer with other numbers, then compare
    // with a new tape and with a zero-filling sweep (anomaly mode), entry for entry.
    let mut dirty = Tape::new();
    let p = dirty.param_slice(4, 4, &[3.0; 16]);
    let _ = dirty.backward(p.square().exp().sum());
    dirty.reset();
    let (loss, nodes) = awkward_graph(&dirty);
    let got: Vec<Matrix> = {
        let grads = dirty.backward(loss);
        nodes.iter().map(|&v| grads.wrt(v).to_matrix()).collect()
    };
    let clean = Tape::new();
    let (loss, nodes) = awkward_graph(&clean);
    clean.set_anomaly_detection(true);
    let grads = clean.backward(loss);
    for (i, (g, &v)) in got.iter().zip(&nodes).enumerate() {
        assert_eq!(g.as_slice(), &*grads.wrt(v), "node {i}");
    }
    // And the unused parameter, the input, the dangling node and the detached copy read zero.
    for i in [0, 3, 6, 7] {
        assert!(got[i].as_slice().iter().all(|&g| g == 0.0), "node {i}");
    }
}

#[test]
fn truncating_away_a_parameters_last_use_still_gives_correct_gradients() {
    // After truncate, a kept parameter's last recorded use may be gone; the tape must find its
    // last kept use again, or the sweep would add to a stale buffer.
    let mut tape = Tape::new();
    let p = tape.param_slice(1, 3, &[0.5, -1.0, 2.0]).id();
    let q = tape.param_slice(1, 3, &[1.5, 0.5, -0.5]).id();
    let kept = (tape.var(p) * tape.var(q)).sigmoid().id();
    let mark = tape.mark();
    let _ = tape.backward((tape.var(kept) * tape.var(p) * 10.0).exp().sum());
    tape.truncate(mark);
    let grads = tape.backward(tape.var(kept).sum());
    let (gp, gq) = (
        grads.wrt(tape.var(p)).to_matrix(),
        grads.wrt(tape.var(q)).to_matrix(),
    );

    let fresh = Tape::new();
    let (p, q) = (
        fresh.param_slice(1, 3, &[0.5, -1.0, 2.0]),
        fresh.param_slice(1, 3, &[1.5, 0.5, -0.5]),
    );
    let grads = fresh.backward((p * q).sigmoid().sum());
    assert_eq!(gp.as_slice(), &*grads.wrt(p));
    assert_eq!(gq.as_slice(), &*grads.wrt(q));
}

/// The dead ends of the issue: each is recorded from `x` and never used, and each one's rule,
/// run with a zero upstream, would compute `0 · ∞ = NaN` at `x = 0` (or where `eˣ` overflows).
fn dead_ends<'t>(x: chainrule::Var<'t>) {
    let _log = x.log(); //                 d/dx ln x = 1/x = ∞ at 0
    let _root = x.powf(0.5); //            ½ x^(−½) = ∞ at 0
    let _inverse = 2.0 / x; //             −2/x² = −∞ at 0
    let _overflow = (x * 1000.0).exp(); // e¹⁰⁰⁰ = ∞
    let _chain = x.log().exp(); //         a dead node that feeds another dead node
}

#[test]
fn a_dead_branch_leaves_live_gradients_alone_in_every_sweep() {
    // L = Σ x at x = [0, 1]: dL/dx = [1, 1], whatever else was recorded from x.
    for anomaly_mode in [false, true] {
        for dead_first in [false, true] {
            let tape = Tape::new();
            tape.set_anomaly_detection(anomaly_mode);
            let x = tape.param(&Matrix::from_rows(&[[0.0, 1.0]]));
            if dead_first {
                dead_ends(x);
            }
            let loss = x.sum();
            if !dead_first {
                dead_ends(x);
            }
            let grads = tape
                .try_backward(loss)
                .unwrap_or_else(|a| panic!("anomaly={anomaly_mode}: {a}"));
            assert_eq!(
                grads.wrt(x).to_matrix(),
                Matrix::from_rows(&[[1.0, 1.0]]),
                "anomaly mode {anomaly_mode}, dead ends recorded {} the loss",
                if dead_first { "before" } else { "after" }
            );
        }
    }
}

#[test]
fn a_dead_sqrt_at_0_or_log_softmax_of_infinity_leaves_live_gradients_alone() {
    // Each rule, run with a zero upstream, would make NaN: sqrt's 0 ⊘ (2·0) at x = 0, and
    // log_softmax's 0 − e^NaN · 0 on a row holding +∞ (−ln 0). Recorded and not used, they
    // must change nothing; used, they do poison the gradient (so the first check can fail).
    let run = |use_them: bool| {
        let tape = Tape::new();
        let x = tape.param(&Matrix::from_rows(&[[0.0, 1.0]]));
        let root = x.sqrt();
        let log_probs = (-x.log()).log_softmax();
        let mut loss = x.sum();
        if use_them {
            loss = loss + (root * 0.0).sum() + (log_probs * 0.0).sum();
        }
        let g = tape.backward(loss).wrt(x).to_matrix();
        g
    };
    assert_eq!(run(false), Matrix::from_rows(&[[1.0, 1.0]]));
    assert!(run(true)[(0, 0)].is_nan());
}

#[test]
fn a_loss_recorded_for_the_report_does_not_change_the_gradients() {
    // A training loop that also records a log-loss to print it: the MSE gradient must be that of
    // a tape without the extra node, bit for bit, also when the prediction saturates at 1 and
    // ln(1 − p) = −∞ (bce clips; a hand-written log-loss would not).
    let grads_of = |report: bool| {
        let tape = Tape::new();
        let w = tape.param(&Matrix::from_rows(&[[40.0], [-3.0]]));
        let x = tape.input(&Matrix::from_rows(&[[1.0, 0.5], [0.0, 1.0]]));
        let y = tape.input(&Matrix::from_rows(&[[1.0], [0.0]]));
        let p = x.matmul(w).sigmoid();
        if report {
            let _printed = -(y * p.log() + (1.0 - y) * (1.0 - p).log()).mean();
        }
        let loss = p.mse(y);
        let g = tape.backward(loss).wrt(w).to_matrix();
        g
    };
    assert_eq!(grads_of(true), grads_of(false));
}

#[test]
fn backward_from_an_intermediate_node_skips_nodes_recorded_before_it_that_it_does_not_use() {
    let tape = Tape::new();
    let x = tape.param(&Matrix::from_rows(&[[0.0, 2.0]]));
    let dead = x.log(); // recorded before the output, not used by it
    let y = (x * 3.0).sum();
    let _after = (y * dead.sum()).exp(); // recorded after the output
    let grads = tape.backward(y);
    assert_eq!(grads.wrt(x).to_matrix(), Matrix::from_rows(&[[3.0, 3.0]]));
    assert_eq!(grads.wrt(dead).to_matrix(), Matrix::zeros(1, 2));
}

#[test]
fn a_nan_on_a_dead_branch_is_no_anomaly_for_a_sweep_that_does_not_use_it() {
    // Anomaly mode still keeps the NaN (Tape::anomaly), but a sweep whose output does not depend
    // on it succeeds; one whose output does fails, naming that node.
    let tape = Tape::new();
    tape.set_anomaly_detection(true);
    let x = tape.param(&Matrix::from_rows(&[[0.0, 2.0]]));
    let dead = x.log();
    let live = (x * 2.0).sum();
    assert!(tape.try_backward(live).is_ok());
    assert_eq!(tape.anomaly().map(|a| a.node), Some(dead.id()));
    let poisoned = (x * 2.0 + dead).sum();
    let err = tape
        .try_backward(poisoned)
        .expect_err("log(0) feeds this output");
    assert_eq!(err.node, dead.id());
}

#[test]
fn var_grad_equals_gradients_wrt_for_every_node_including_factored_ones() {
    // The lab's layers with a width-1 output: the hidden layer's gradient δ·Wᵀ is kept as two
    // factors by the plain sweep. Every public way to read a gradient must give the gradient.
    use chainrule::nn::{Activation, Init, Mlp};
    let mlp = Mlp::new(
        &[2, 3, 2, 1],
        &[Activation::Tanh, Activation::Sigmoid, Activation::Sigmoid],
        true,
        Init::Uniform,
        4,
    );
    let tape = Tape::new();
    let net = mlp.bind(&tape);
    let x = tape.input(&Matrix::from_rows(&[[0.2, -0.7], [0.9, 0.4], [-0.3, 0.1]]));
    let y = tape.input(&Matrix::from_rows(&[[1.0], [0.0], [1.0]]));
    let loss = net.forward(x).mse(y);
    let grads = tape.backward(loss);
    let mut factored_seen = false;
    for (i, v) in tape.vars().enumerate() {
        let wrt = grads.wrt(v).to_matrix();
        assert_eq!(v.grad(), Some(wrt.clone()), "node {i} ({})", v.op());
        if v.op() == Op::Linear(Activation::Sigmoid) && v.shape() == (3, 2) {
            // the hidden layer under the width-1 layer: a full 3x2 matrix, not the factors
            factored_seen = wrt.as_slice().iter().all(|g| g.is_finite() && *g != 0.0);
        }
    }
    assert!(factored_seen, "the factored slot was checked");
}

#[test]
fn powf_zero_has_derivative_zero_even_at_zero() {
    // y = x⁰ = 1 is a constant: dy/dx = 0 everywhere (the formula 0 · x⁻¹ would give NaN at 0).
    let tape = Tape::new();
    let x = tape.param(&Matrix::from_rows(&[[0.0, 3.0, -2.0]]));
    let grads = tape.backward(x.powf(0.0).sum());
    assert_eq!(grads.wrt(x).to_matrix(), Matrix::zeros(1, 3));
    // And p = 2 at 0 is 2·0 = 0, p = 1 gives 1: the edge is p = 0 alone.
    let grads = tape.backward((x.powf(2.0) + x.powf(1.0)).sum());
    assert_eq!(
        grads.wrt(x).to_matrix(),
        Matrix::from_rows(&[[1.0, 7.0, -3.0]])
    );
}

#[test]
fn the_outputs_own_gradient_is_the_seed_in_every_sweep() {
    // y depends on no parameter. backward_with(y, seed) must read wrt(y) = seed whether y is the
    // last node (the plain sweep), something was recorded after it, or anomaly mode is on.
    let seed = Matrix::from_rows(&[[0.5, -2.0]]);
    for (after, anomaly_mode) in [(false, false), (true, false), (false, true)] {
        let tape = Tape::new();
        tape.set_anomaly_detection(anomaly_mode);
        let c = tape.input(&Matrix::from_rows(&[[1.0, 2.0]]));
        let y = c.exp();
        if after {
            let _ = y.sum();
        }
        let grads = tape.backward_with(y, &seed);
        assert_eq!(
            grads.wrt(y).to_matrix(),
            seed,
            "after={after} anomaly={anomaly_mode}"
        );
        assert_eq!(grads.wrt(c).to_matrix(), Matrix::zeros(1, 2));
        // With a parameter flowing in, the same.
        let p = tape.param(&Matrix::from_rows(&[[1.0, 2.0]]));
        let z = p * 3.0;
        let grads = tape.backward_with(z, &seed);
        assert_eq!(grads.wrt(z).to_matrix(), seed);
        assert_eq!(grads.wrt(p).to_matrix(), Matrix::from_rows(&[[1.5, -6.0]]));
    }
}

/// A batch of no rows through a dense layer: the loss is an empty sum, so every parameter's
/// gradient is zero, on a tape whose buffers hold the numbers of a real batch before it, for a
/// thin input (its weight gradient summed in the δ pass) and a wide one (a product).
#[test]
fn an_empty_batch_through_a_dense_layer_has_zero_gradients() {
    use chainrule::nn::Activation;
    for k in [2, 40] {
        let mut tape = Tape::new();
        let w: Vec<f64> = (0..k * 3).map(|i| (i as f64 * 0.37).sin()).collect();
        for rows in [5, 0] {
            tape.reset();
            let x: Vec<f64> = (0..rows * k).map(|i| (i as f64).cos()).collect();
            let xv = tape.input_slice(rows, k, &x);
            let wv = tape.param_slice(k, 3, &w);
            let bv = tape.param_slice(1, 3, &[0.1, -0.2, 0.3]);
            let loss = xv.linear_act(wv, bv, Activation::Tanh).sum();
            let grads = tape.backward(loss);
            let (dw, db) = (grads.wrt(wv).to_vec(), grads.wrt(bv).to_vec());
            if rows == 0 {
                assert_eq!(loss.item(), 0.0);
                assert!(
                    dw.iter().chain(&db).all(|&g| g == 0.0),
                    "k = {k}: {dw:?} {db:?}"
                );
            } else {
                assert!(
                    db.iter().all(|&g| g != 0.0),
                    "k = {k}: a real batch moves b"
                );
            }
        }
    }
}
