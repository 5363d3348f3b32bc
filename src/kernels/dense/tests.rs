//! The δ pass against a naive pass, on one thread and two, and on both sides of [`SMALL_PASS`].

use super::{delta_pass, Activation, Upstream};

#[test]
fn delta_pass_matches_a_naive_pass_on_one_thread_and_two() {
    // 40x7 stays on one thread; 2100x16 is cut in two.
    for (m, n, k) in [(40, 7, 3), (2100, 16, 2)] {
        let a: Vec<f64> = (0..m * n).map(|i| (i as f64 * 0.37).sin()).collect();
        let g: Vec<f64> = (0..m * n).map(|i| (i as f64 * 0.23).cos()).collect();
        let x: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.71).sin()).collect();
        let col: Vec<f64> = (0..m).map(|i| (i as f64 * 0.3).cos()).collect();
        let row: Vec<f64> = (0..n).map(|j| 0.5 - 0.1 * j as f64).collect();
        for f in [
            Activation::Identity,
            Activation::Sigmoid,
            Activation::Relu,
            Activation::Tanh,
        ] {
            for outer in [false, true] {
                let upstream = |i: usize, j: usize| {
                    if outer {
                        col[i] * row[j]
                    } else {
                        g[i * n + j]
                    }
                };
                let want: Vec<f64> = (0..m * n)
                    .map(|e| {
                        let (i, j, y) = (e / n, e % n, a[e]);
                        let d = upstream(i, j);
                        match f {
                            Activation::Identity => d,
                            Activation::Sigmoid => d * y * (1.0 - y),
                            Activation::Relu => {
                                if y > 0.0 {
                                    d
                                } else {
                                    0.0
                                }
                            }
                            Activation::Tanh => d * (1.0 - y * y),
                        }
                    })
                    .collect();
                let want_db: Vec<f64> = (0..n)
                    .map(|j| (0..m).map(|i| want[i * n + j]).sum())
                    .collect();
                let want_dw: Vec<f64> = (0..k * n)
                    .map(|e| (0..m).map(|i| x[i * k + e / n] * want[i * n + e % n]).sum())
                    .collect();
                let g = if outer {
                    Upstream::Outer {
                        col: &col,
                        row: &row,
                    }
                } else {
                    Upstream::Matrix(&g)
                };
                let (mut delta, mut db, mut dw) =
                    (vec![f64::NAN; m * n], vec![1.0; n], vec![2.0; k * n]);
                delta_pass(
                    f,
                    n,
                    g,
                    &a,
                    Some(&mut delta),
                    Some(&mut db),
                    Some((&x, &mut dw)),
                );
                assert_eq!(delta, want, "{m}x{n} {f:?} outer={outer}: delta");
                for (got, want) in db.iter().zip(&want_db) {
                    assert!((got - (want + 1.0)).abs() < 1e-12 * m as f64, "db");
                }
                for (got, want) in dw.iter().zip(&want_dw) {
                    assert!((got - (want + 2.0)).abs() < 1e-12 * m as f64, "dw");
                }
                // Without δ kept: the same sums.
                let (mut db2, mut dw2) = (vec![1.0; n], vec![2.0; k * n]);
                delta_pass(f, n, g, &a, None, Some(&mut db2), Some((&x, &mut dw2)));
                assert_eq!((db2, dw2), (db, dw), "{m}x{n} {f:?}: sums without delta");
            }
        }
    }
}

/// The pass by its definition, entry by entry: `δ = g ⊙ f'(a)`, then each row's δ added to
/// `db` and (times `x[i][p]`) to row `p` of `dw`, rows in increasing order, onto the values the
/// sums start from.
#[allow(clippy::too_many_arguments)]
fn in_order_pass(
    f: Activation,
    (m, n, k): (usize, usize, usize),
    upstream: impl Fn(usize, usize) -> f64,
    a: &[f64],
    x: &[f64],
    db: &mut [f64],
    dw: &mut [f64],
) -> Vec<f64> {
    let mut delta = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let (g, y) = (upstream(i, j), a[i * n + j]);
            let d = match f {
                Activation::Identity => g,
                Activation::Sigmoid => g * y * (1.0 - y),
                Activation::Relu => {
                    if y > 0.0 {
                        g
                    } else {
                        0.0
                    }
                }
                Activation::Tanh => g * (1.0 - y * y),
            };
            delta[i * n + j] = d;
            db[j] += d;
            for p in 0..k {
                dw[p * n + j] += x[i * k + p] * d;
            }
        }
    }
    delta
}

#[test]
fn small_and_one_thread_passes_equal_the_in_order_pass_on_both_sides_of_small_pass() {
    use super::{SMALL_PASS, STACK_ROW};
    // (m, n, k): the lab's three layers; sizes 0 and 1; at and just past SMALL_PASS entries, with
    // narrow rows and with rows STACK_ROW wide; rows just too wide for the small pass. None of
    // these is large enough for two threads, so every sum runs over the rows in order and the
    // results must be equal, not close.
    let shapes = [
        (1, 4, 2),
        (1, 4, 4),
        (1, 1, 4),
        (1, 1, 1),
        (1, 1, 0),
        (2, 3, 0),
        (0, 4, 0), // (with no rows, k is read as 0: `x` is empty)
        (0, 0, 2),
        (SMALL_PASS / 4, 4, 3),
        (SMALL_PASS / 4 + 1, 4, 3),
        (SMALL_PASS, 1, 4),
        (SMALL_PASS + 1, 1, 4),
        (SMALL_PASS / STACK_ROW, STACK_ROW, 1),
        (SMALL_PASS / STACK_ROW + 1, STACK_ROW, 1),
        (1, STACK_ROW + 1, 2),
    ];
    for (m, n, k) in shapes {
        let a: Vec<f64> = (0..m * n).map(|i| (i as f64 * 0.37).sin()).collect();
        let g: Vec<f64> = (0..m * n).map(|i| (i as f64 * 0.23).cos()).collect();
        let x: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.71).sin()).collect();
        let col: Vec<f64> = (0..m).map(|i| (i as f64 * 0.3).cos()).collect();
        let row: Vec<f64> = (0..n).map(|j| 0.5 - 0.1 * j as f64).collect();
        // What a reused buffer holds from the last step: the sums must start from it.
        let stale_db: Vec<f64> = (0..n).map(|j| 3.0 - j as f64).collect();
        let stale_dw: Vec<f64> = (0..k * n).map(|e| 0.25 * e as f64 - 2.0).collect();
        for f in [
            Activation::Identity,
            Activation::Sigmoid,
            Activation::Relu,
            Activation::Tanh,
        ] {
            for outer in [false, true] {
                let upstream = |i: usize, j: usize| {
                    if outer {
                        col[i] * row[j]
                    } else {
                        g[i * n + j]
                    }
                };
                let (mut want_db, mut want_dw) = (stale_db.clone(), stale_dw.clone());
                let want =
                    in_order_pass(f, (m, n, k), upstream, &a, &x, &mut want_db, &mut want_dw);
                let g = if outer {
                    Upstream::Outer {
                        col: &col,
                        row: &row,
                    }
                } else {
                    Upstream::Matrix(&g)
                };
                // Every combination the tape and the hand path ask for.
                for (keep, sum_b, sum_w) in [
                    (true, true, true),
                    (false, true, true),
                    (true, false, false),
                    (false, false, true),
                ] {
                    let mut delta = vec![f64::NAN; m * n];
                    let (mut db, mut dw) = (stale_db.clone(), stale_dw.clone());
                    delta_pass(
                        f,
                        n,
                        g,
                        &a,
                        keep.then_some(&mut delta[..]),
                        sum_b.then_some(&mut db[..]),
                        sum_w.then_some((&x[..], &mut dw[..])),
                    );
                    let case = format!("{m}x{n} k={k} {f:?} outer={outer} keep={keep}");
                    if keep {
                        assert_eq!(delta, want, "{case}: delta");
                    } else {
                        assert!(delta.iter().all(|d| d.is_nan()), "{case}: delta written");
                    }
                    let (db_want, dw_want) = (
                        if sum_b { &want_db } else { &stale_db },
                        if sum_w { &want_dw } else { &stale_dw },
                    );
                    assert_eq!(&db, db_want, "{case}: db");
                    assert_eq!(&dw, dw_want, "{case}: dw");
                }
            }
        }
    }
}
