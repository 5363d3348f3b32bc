//! Random graphs against a naive interpreter (issue 16).
//!
//! The tape's gradients went wrong, in the past, in situations no test built: a dead branch whose
//! rule computed `0 · ∞` into live gradients, buffers that kept stale values across
//! [`Tape::reset`], products large enough for the blocked and parallel GEMM, `Var::grad` that
//! disagreed with `Gradients::wrt`. This file builds thousands of random graphs of every
//! recordable op and checks every value and every gradient against an interpreter written here
//! from the textbook: its own matrices ([`M`]), its own forward rule per op, its own reverse sweep
//! of adjoints from the output. It calls no kernel and no op of chainrule. Central differences of
//! the interpreter's own forward pass check the interpreter itself.
//!
//! A failure names the case's seed, the step, the node, its op and prints the graph;
//! `CHAINRULE_GRAPH_SEED=<seed> cargo test --release --test random_graphs <test>` reruns that case
//! alone.

// The interpreter indexes entries as the formulas do.
#![allow(clippy::needless_range_loop)]

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};

use chainrule::kernels::blocking::{KC, MC, MR, NC, NR, PARALLEL_MADDS};
use chainrule::kernels::{PARALLEL_ENTRIES, SMALL_GEMM, THIN_K};
use chainrule::nn::Activation;
use chainrule::ops::BCE_EPS;
use chainrule::viz::{self, Trace};
use chainrule::{Gradients, Matrix, NodeId, Op, Reduce, Tape, Var};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Relative tolerance of a value or gradient against the interpreter, applied to the magnitude of
/// the terms it is made of (the `vm` and `am` of [`Eval`] and [`Adjoints`], never smaller than the
/// number itself). The tape and the interpreter add in different orders: the GEMM in blocks and
/// on two threads, fused and derived rules in their own arrangement. Each of the at most ~300
/// additions of a product, along a path of at most ~60 nodes, is off by one rounding, ε = 1.1e-16
/// of the terms' magnitude: 300 · 60 · ε ≈ 2e-12. 1e-10 leaves a factor of 50; a wrong rule is off
/// by about the size of the gradient itself.
const TOL: f64 = 1e-10;

/// Steps per graph: the same structure recorded again after `Tape::reset`, with new leaf values.
const STEPS: usize = 3;

/// No operand of an op is larger than this in magnitude (see [`Gen::tame`]), so that no live
/// value overflows.
const LIMIT: f64 = 1e3;

/// Products that reach the packed GEMM's blocked and parallel paths (checked against the kernel's
/// constants by `gemm_shapes_reach_the_blocked_and_parallel_paths`).
const GEMM_SHAPES: [(usize, usize, usize); 8] = [
    (100, 200, 100),              // 2.0M multiply-adds: two threads
    (60, KC - 1, 100),            // one KC block, two threads
    (MC - 1, 129, MC),            // edge tiles of MR and NR, two threads
    (300, KC, 64),                // rows over several MC blocks
    (MC + 1, KC + 1, 2 * NR + 3), // a second KC block and a second MC block, two threads
    (20, 40, NC + 7),             // a second NC block, one thread
    (MR + 1, THIN_K, NC + 1),     // a thin inner size: the row-axpy loop
    (2 * MC + 5, 64, 1),          // a single column
];

/// Elementwise shapes at and around the entries from which passes run on two threads.
const WIDE_SHAPES: [(usize, usize); 4] = [
    (PARALLEL_ENTRIES / 128, 128),
    (200, 200),
    (181, 181),
    (1, PARALLEL_ENTRIES + 5),
];

/// Sides of the medium graphs: around the thin-product limit and the micro-kernel's tile.
const MEDIUM_SIDES: [usize; 12] = [
    1,
    2,
    3,
    THIN_K,
    THIN_K + 1,
    7,
    MR,
    MR + 1,
    NR,
    NR + 1,
    20,
    24,
];

const ACTIVATIONS: [Activation; 4] = [
    Activation::Identity,
    Activation::Sigmoid,
    Activation::Relu,
    Activation::Tanh,
];

/// Every op name a graph can record (`Op::name`), each of which the batch must cover.
const ALL_OPS: [&str; 30] = [
    "add",
    "sub",
    "mul",
    "div",
    "scale",
    "add_scalar",
    "matmul",
    "linear",
    "linear_sigmoid",
    "linear_relu",
    "linear_tanh",
    "transpose",
    "add_row",
    "sum",
    "row_sums",
    "col_sums",
    "mean",
    "row_means",
    "col_means",
    "exp",
    "log",
    "powf",
    "square",
    "sigmoid",
    "relu",
    "tanh",
    "detach",
    "mse",
    "sse",
    "bce",
];

// ---------------------------------------------------------------------------------------------
// The interpreter's matrices
// ---------------------------------------------------------------------------------------------

/// A matrix of the interpreter: row-major entries, nothing shared with chainrule's `Matrix`.
#[derive(Clone, Debug, PartialEq)]
struct M {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl M {
    fn new(rows: usize, cols: usize, data: Vec<f64>) -> M {
        assert_eq!(data.len(), rows * cols, "entries of a {rows}x{cols} matrix");
        M { rows, cols, data }
    }

    fn zeros(rows: usize, cols: usize) -> M {
        M::new(rows, cols, vec![0.0; rows * cols])
    }

    /// The `rows`×`cols` matrix with entry (i, j) = `f(i, j)`.
    fn build(rows: usize, cols: usize, f: impl Fn(usize, usize) -> f64) -> M {
        let mut data = Vec::with_capacity(rows * cols);
        for i in 0..rows {
            for j in 0..cols {
                data.push(f(i, j));
            }
        }
        M::new(rows, cols, data)
    }

    /// A matrix shaped like `self` with entry `e` (row-major) = `f(e)`.
    fn each(&self, f: impl Fn(usize) -> f64) -> M {
        M::new(self.rows, self.cols, (0..self.data.len()).map(f).collect())
    }

    fn at(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.cols + j]
    }

    fn abs(&self) -> M {
        self.each(|e| self.data[e].abs())
    }

    fn t(&self) -> M {
        M::build(self.cols, self.rows, |i, j| self.at(j, i))
    }

    fn plus(&self, other: &M) -> M {
        self.each(|e| self.data[e] + other.data[e])
    }

    fn scaled(&self, c: f64) -> M {
        self.each(|e| c * self.data[e])
    }

    fn add_assign(&mut self, other: &M) {
        assert_eq!((self.rows, self.cols), (other.rows, other.cols));
        for (a, b) in self.data.iter_mut().zip(&other.data) {
            *a += b;
        }
    }
}

/// `A · B` by the definition: `C[i][j] = Σ_k A[i][k] B[k][j]`, k in order.
fn product(a: &M, b: &M) -> M {
    assert_eq!(
        a.cols, b.rows,
        "product of {}x{} and {}x{}",
        a.rows, a.cols, b.rows, b.cols
    );
    let n = b.cols;
    let mut c = M::zeros(a.rows, n);
    for i in 0..a.rows {
        let out = &mut c.data[i * n..(i + 1) * n];
        for k in 0..a.cols {
            let aik = a.at(i, k);
            for (o, bkj) in out.iter_mut().zip(&b.data[k * n..(k + 1) * n]) {
                *o += aik * bkj;
            }
        }
    }
    c
}

/// The magnitude of the terms of `A · B` given those of `A` and `B`: `|δ(AB)| ≤ δA·|B| + |A|·δB`.
fn product_mag((a, am): (&M, &M), (b, bm): (&M, &M)) -> M {
    product(am, &b.abs()).plus(&product(&a.abs(), bm))
}

/// `σ(x) = 1 / (1 + e⁻ˣ)`, written as `eˣ / (1 + eˣ)` for x < 0 so that nothing overflows.
fn sigma(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn activate(f: Activation, z: f64) -> f64 {
    match f {
        Activation::Identity => z,
        Activation::Sigmoid => sigma(z),
        // max(z, 0), keeping −0 (and NaN) as the tape documents: `1/relu(x)` is then −∞ at −0
        Activation::Relu => {
            if z < 0.0 {
                0.0
            } else {
                z
            }
        }
        Activation::Tanh => z.tanh(),
    }
}

/// How many entries a sum along `axis` of a `rows`×`cols` matrix adds.
fn count(axis: Reduce, rows: usize, cols: usize) -> f64 {
    (match axis {
        Reduce::All => rows * cols,
        Reduce::Rows => cols,
        Reduce::Cols => rows,
    }) as f64
}

fn reduce(x: &M, axis: Reduce) -> M {
    match axis {
        Reduce::All => M::new(1, 1, vec![x.data.iter().sum()]),
        Reduce::Rows => M::build(x.rows, 1, |i, _| (0..x.cols).map(|j| x.at(i, j)).sum()),
        Reduce::Cols => M::build(1, x.cols, |_, j| (0..x.rows).map(|i| x.at(i, j)).sum()),
    }
}

/// The gradient of a sum handed back to the entries it added: each receives its sum's.
fn spread(g: &M, axis: Reduce, rows: usize, cols: usize) -> M {
    M::build(rows, cols, |i, j| match axis {
        Reduce::All => g.data[0],
        Reduce::Rows => g.data[i],
        Reduce::Cols => g.data[j],
    })
}

// ---------------------------------------------------------------------------------------------
// The interpreter: forward values and reverse adjoints, with the magnitude of their terms
// ---------------------------------------------------------------------------------------------

/// The interpreter's forward pass: `v[i]` is node i's value, `vm[i]` the magnitude of the terms
/// it was computed from, a bound on its rounding error in units of [`TOL`]: at least `|v|`, and
/// propagated to first order (`vm(f(x)) = |f'(x)|·vm(x) + |f(x)|`, sums add their terms').
struct Eval {
    v: Vec<M>,
    vm: Vec<M>,
}

/// The interpreter's reverse pass from the output: `adj[i]` = dL/d(node i), `am[i]` the
/// magnitude of its terms (`|δ(g·L)| ≤ δg·|L| + |g|·δL`), `live[i]` whether the output depends
/// on node i (through no detach).
struct Adjoints {
    adj: Vec<M>,
    am: Vec<M>,
    live: Vec<bool>,
}

/// Node `op`'s value from its inputs' `(value, magnitude)`, and its own magnitude.
fn forward_op(op: Op, x: &[(&M, &M)]) -> (M, M) {
    let (a, am) = x[0];
    match op {
        Op::Param | Op::Input => unreachable!("leaves are drawn, not computed"),
        Op::Broadcast(..)
        | Op::Max(_)
        | Op::Min(_)
        | Op::Sqrt
        | Op::Abs
        | Op::Softmax
        | Op::LogSoftmax
        | Op::CrossEntropy
        | Op::Custom(_) => {
            unreachable!("{op}: not generated here (tests/broadcast.rs, multiclass.rs, custom.rs)")
        }
        Op::Add | Op::Sub => {
            let (b, bm) = x[1];
            let sign = if op == Op::Add { 1.0 } else { -1.0 };
            (a.each(|e| a.data[e] + sign * b.data[e]), am.plus(bm))
        }
        Op::Mul => {
            let (b, bm) = x[1];
            let y = a.each(|e| a.data[e] * b.data[e]);
            (
                y,
                a.each(|e| am.data[e] * b.data[e].abs() + a.data[e].abs() * bm.data[e]),
            )
        }
        Op::Div => {
            let (b, bm) = x[1];
            let y = a.each(|e| a.data[e] / b.data[e]);
            let ym = a.each(|e| {
                let b = b.data[e];
                am.data[e] / b.abs() + a.data[e].abs() * bm.data[e] / (b * b)
            });
            (y, ym)
        }
        Op::Scale(c) => (a.scaled(c), am.scaled(c.abs())),
        Op::AddScalar(c) => (a.each(|e| a.data[e] + c), am.each(|e| am.data[e] + c.abs())),
        Op::MatMul => (product(a, x[1].0), product_mag(x[0], x[1])),
        Op::Linear(f) => {
            let (b, bm) = x[2];
            let xw = product(a, x[1].0);
            let xwm = product_mag(x[0], x[1]);
            let n = xw.cols;
            let z = xw.each(|e| xw.data[e] + b.data[e % n]);
            let zm = xwm.each(|e| xwm.data[e] + bm.data[e % n]);
            let y = z.each(|e| activate(f, z.data[e]));
            let ym = y.each(|e| {
                let (y, zm) = (y.data[e], zm.data[e]);
                match f {
                    Activation::Identity | Activation::Relu => zm,
                    Activation::Sigmoid => y * (1.0 - y) * zm + y,
                    Activation::Tanh => (1.0 - y * y) * zm + y.abs(),
                }
            });
            (y, ym)
        }
        Op::Transpose => (a.t(), am.t()),
        Op::AddRow => {
            let (b, bm) = x[1];
            let n = a.cols;
            (
                a.each(|e| a.data[e] + b.data[e % n]),
                am.each(|e| am.data[e] + bm.data[e % n]),
            )
        }
        Op::Sum(axis) => (reduce(a, axis), reduce(am, axis)),
        Op::Mean(axis) => {
            let n = count(axis, a.rows, a.cols);
            let (s, sm) = (reduce(a, axis), reduce(am, axis));
            (s.each(|e| s.data[e] / n), sm.each(|e| sm.data[e] / n))
        }
        Op::Exp => {
            let y = a.each(|e| a.data[e].exp());
            let ym = y.each(|e| y.data[e] * (am.data[e] + 1.0));
            (y, ym)
        }
        Op::Log => {
            let y = a.each(|e| a.data[e].ln());
            let ym = y.each(|e| am.data[e] / a.data[e].abs() + y.data[e].abs());
            (y, ym)
        }
        Op::Powf(p) => {
            let y = a.each(|e| a.data[e].powf(p));
            let ym = y.each(|e| {
                let slope = if p == 0.0 {
                    0.0
                } else {
                    (p * a.data[e].powf(p - 1.0)).abs()
                };
                slope * am.data[e] + y.data[e].abs()
            });
            (y, ym)
        }
        Op::Square => {
            let y = a.each(|e| a.data[e] * a.data[e]);
            let ym = y.each(|e| 2.0 * a.data[e].abs() * am.data[e] + y.data[e]);
            (y, ym)
        }
        Op::Sigmoid | Op::Tanh => {
            let f = if op == Op::Sigmoid {
                Activation::Sigmoid
            } else {
                Activation::Tanh
            };
            let y = a.each(|e| activate(f, a.data[e]));
            let ym = y.each(|e| {
                let y = y.data[e];
                let slope = if f == Activation::Sigmoid {
                    y * (1.0 - y)
                } else {
                    1.0 - y * y
                };
                slope * am.data[e] + y.abs()
            });
            (y, ym)
        }
        Op::Relu => (
            a.each(|e| activate(Activation::Relu, a.data[e])),
            am.clone(),
        ),
        Op::Detach => (a.clone(), am.clone()),
        Op::Mse | Op::Sse => {
            let (t, tm) = x[1];
            let n = if op == Op::Mse {
                a.data.len() as f64
            } else {
                1.0
            };
            let (mut s, mut sm) = (0.0, 0.0);
            for e in 0..a.data.len() {
                let d = a.data[e] - t.data[e];
                s += d * d;
                sm += 2.0 * d.abs() * (am.data[e] + tm.data[e]) + d * d;
            }
            (M::new(1, 1, vec![s / n]), M::new(1, 1, vec![sm / n]))
        }
        Op::Bce(eps) => {
            let (t, tm) = x[1];
            let n = a.data.len() as f64;
            let (mut s, mut sm) = (0.0, 0.0);
            for e in 0..a.data.len() {
                let (p, y) = (a.data[e], t.data[e]);
                let q = p.clamp(eps, 1.0 - eps);
                let (hit, miss) = (y * q.ln(), (1.0 - y) * (1.0 - q).ln());
                s += hit + miss;
                let slope = if p > eps && p < 1.0 - eps {
                    (y / q - (1.0 - y) / (1.0 - q)).abs()
                } else {
                    0.0
                };
                sm += hit.abs()
                    + miss.abs()
                    + slope * am.data[e]
                    + (q.ln() - (1.0 - q).ln()).abs() * tm.data[e];
            }
            (M::new(1, 1, vec![-s / n]), M::new(1, 1, vec![sm / n]))
        }
    }
}

/// The slope `f'` of an activation read from its output `y`, and the magnitude of its terms.
fn activation_slope(f: Activation, y: &M, ym: &M) -> (M, M) {
    match f {
        Activation::Identity => (y.each(|_| 1.0), y.each(|_| 0.0)),
        Activation::Relu => (
            y.each(|e| if y.data[e] > 0.0 { 1.0 } else { 0.0 }),
            y.each(|_| 0.0),
        ),
        // σ' = y(1 − y)
        Activation::Sigmoid => (
            y.each(|e| y.data[e] * (1.0 - y.data[e])),
            y.each(|e| {
                let y0 = y.data[e];
                (1.0 - 2.0 * y0).abs() * ym.data[e] + y0.abs() * (1.0 + y0.abs())
            }),
        ),
        // tanh' = 1 − y²
        Activation::Tanh => (
            y.each(|e| 1.0 - y.data[e] * y.data[e]),
            y.each(|e| {
                let y0 = y.data[e];
                2.0 * y0.abs() * ym.data[e] + 1.0 + y0 * y0
            }),
        ),
    }
}

/// What node `op` hands each input in the reverse sweep, `upstream × local derivative`, with the
/// magnitude of its terms; `None` for inputs that take no gradient (`wants`).
fn backward_op(
    op: Op,
    x: &[(&M, &M)],
    (y, ym): (&M, &M),
    (g, gm): (&M, &M),
    wants: &[bool],
) -> Vec<Option<(M, M)>> {
    let mut out: Vec<Option<(M, M)>> = vec![None; x.len()];
    let (a, am) = x[0];
    // elementwise: dx += g ⊙ L for a local derivative L whose terms have magnitude Lm
    let chain = |l: &M, lm: &M| {
        (
            g.each(|e| g.data[e] * l.data[e]),
            g.each(|e| gm.data[e] * l.data[e].abs() + g.data[e].abs() * lm.data[e]),
        )
    };
    // a 1×1 upstream (the losses): dx += g · L
    let (g0, gm0) = (g.data[0], gm.data[0]);
    let scalar_chain = |l: &M, lm: &M| {
        (
            l.each(|e| g0 * l.data[e]),
            l.each(|e| gm0 * l.data[e].abs() + g0.abs() * lm.data[e]),
        )
    };
    match op {
        Op::Param | Op::Input | Op::Detach => {}
        Op::Broadcast(..)
        | Op::Max(_)
        | Op::Min(_)
        | Op::Sqrt
        | Op::Abs
        | Op::Softmax
        | Op::LogSoftmax
        | Op::CrossEntropy
        | Op::Custom(_) => {
            unreachable!("{op}: not generated here (tests/broadcast.rs, multiclass.rs, custom.rs)")
        }
        // d(a + b)/da = d(a + b)/db = 1
        Op::Add | Op::AddScalar(_) => {
            for k in 0..x.len() {
                out[k] = Some((g.clone(), gm.clone()));
            }
        }
        // d(a − b)/db = −1
        Op::Sub => {
            out[0] = Some((g.clone(), gm.clone()));
            out[1] = Some((g.scaled(-1.0), gm.clone()));
        }
        // d(ab)/da = b
        Op::Mul => {
            out[0] = Some(chain(x[1].0, x[1].1));
            out[1] = Some(chain(a, am));
        }
        // d(a/b)/da = 1/b, d(a/b)/db = −a/b²
        Op::Div => {
            let (b, bm) = x[1];
            let l0 = b.each(|e| 1.0 / b.data[e]);
            let l0m = b.each(|e| bm.data[e] / (b.data[e] * b.data[e]) + l0.data[e].abs());
            let l1 = b.each(|e| -a.data[e] / (b.data[e] * b.data[e]));
            let l1m = b.each(|e| {
                let b2 = b.data[e] * b.data[e];
                am.data[e] / b2
                    + 2.0 * a.data[e].abs() * bm.data[e] / (b2 * b.data[e].abs())
                    + l1.data[e].abs()
            });
            out[0] = Some(chain(&l0, &l0m));
            out[1] = Some(chain(&l1, &l1m));
        }
        Op::Scale(c) => out[0] = Some((g.scaled(c), gm.scaled(c.abs()))),
        // C = AB: dA = G·Bᵀ, dB = Aᵀ·G
        Op::MatMul => {
            let (b, bm) = x[1];
            if wants[0] {
                let (bt, bmt) = (b.t(), bm.t());
                out[0] = Some((product(g, &bt), product_mag((g, gm), (&bt, &bmt))));
            }
            if wants[1] {
                let (at, amt) = (a.t(), am.t());
                out[1] = Some((product(&at, g), product_mag((&at, &amt), (g, gm))));
            }
        }
        // Y = f(XW + b): δ = G ⊙ f'(Y), dX = δ·Wᵀ, dW = Xᵀ·δ, db = Σ_rows δ
        Op::Linear(f) => {
            let (w, wm) = x[1];
            let (l, lm) = activation_slope(f, y, ym);
            let (d, dm) = chain(&l, &lm);
            if wants[0] {
                let (wt, wmt) = (w.t(), wm.t());
                out[0] = Some((product(&d, &wt), product_mag((&d, &dm), (&wt, &wmt))));
            }
            if wants[1] {
                let (at, amt) = (a.t(), am.t());
                out[1] = Some((product(&at, &d), product_mag((&at, &amt), (&d, &dm))));
            }
            out[2] = Some((reduce(&d, Reduce::Cols), reduce(&dm, Reduce::Cols)));
        }
        Op::Transpose => out[0] = Some((g.t(), gm.t())),
        // the broadcast row's gradient is the sum over the rows it was added to
        Op::AddRow => {
            out[0] = Some((g.clone(), gm.clone()));
            out[1] = Some((reduce(g, Reduce::Cols), reduce(gm, Reduce::Cols)));
        }
        Op::Sum(axis) => {
            out[0] = Some((
                spread(g, axis, a.rows, a.cols),
                spread(gm, axis, a.rows, a.cols),
            ))
        }
        Op::Mean(axis) => {
            let n = count(axis, a.rows, a.cols);
            let (s, sm) = (
                spread(g, axis, a.rows, a.cols),
                spread(gm, axis, a.rows, a.cols),
            );
            out[0] = Some((s.each(|e| s.data[e] / n), sm.each(|e| sm.data[e] / n)));
        }
        // (eˣ)' = eˣ
        Op::Exp => out[0] = Some(chain(y, ym)),
        // (ln x)' = 1/x
        Op::Log => {
            let l = a.each(|e| 1.0 / a.data[e]);
            let lm = a.each(|e| am.data[e] / (a.data[e] * a.data[e]) + l.data[e].abs());
            out[0] = Some(chain(&l, &lm));
        }
        // (xᵖ)' = p·xᵖ⁻¹; x⁰ = 1 is a constant, whose derivative is 0
        Op::Powf(p) => {
            if p != 0.0 {
                let l = a.each(|e| p * a.data[e].powf(p - 1.0));
                let lm = a.each(|e| {
                    (p * (p - 1.0) * a.data[e].powf(p - 2.0)).abs() * am.data[e] + l.data[e].abs()
                });
                out[0] = Some(chain(&l, &lm));
            }
        }
        // (x²)' = 2x
        Op::Square => out[0] = Some(chain(&a.scaled(2.0), &am.scaled(2.0))),
        Op::Sigmoid => {
            let (l, lm) = activation_slope(Activation::Sigmoid, y, ym);
            out[0] = Some(chain(&l, &lm));
        }
        Op::Tanh => {
            let (l, lm) = activation_slope(Activation::Tanh, y, ym);
            out[0] = Some(chain(&l, &lm));
        }
        // max(x, 0)' = [x > 0]
        Op::Relu => {
            let l = a.each(|e| if a.data[e] > 0.0 { 1.0 } else { 0.0 });
            out[0] = Some(chain(&l, &l.each(|_| 0.0)));
        }
        // (1/n) Σ (p − t)²: d/dp = 2(p − t)/n, d/dt = −2(p − t)/n
        Op::Mse | Op::Sse => {
            let (t, tm) = x[1];
            let n = if op == Op::Mse {
                a.data.len() as f64
            } else {
                1.0
            };
            let l = a.each(|e| 2.0 * (a.data[e] - t.data[e]) / n);
            let lm = a.each(|e| {
                (2.0 * (a.data[e] - t.data[e]).abs() + 2.0 * (am.data[e] + tm.data[e])) / n
            });
            let (d, dm) = scalar_chain(&l, &lm);
            out[0] = Some((d.clone(), dm.clone()));
            out[1] = Some((d.scaled(-1.0), dm));
        }
        // −(1/n) Σ [t ln p̂ + (1 − t) ln(1 − p̂)], p̂ = clamp(p, ε, 1 − ε):
        // d/dp = −(t/p − (1 − t)/(1 − p))/n inside the clip and 0 outside (p̂ is constant there),
        // d/dt = (ln(1 − p̂) − ln p̂)/n
        Op::Bce(eps) => {
            let (t, tm) = x[1];
            let n = a.data.len() as f64;
            let inside = |p: f64| p > eps && p < 1.0 - eps;
            let l0 = a.each(|e| {
                let (p, t) = (a.data[e], t.data[e]);
                if inside(p) {
                    -(t / p - (1.0 - t) / (1.0 - p)) / n
                } else {
                    0.0
                }
            });
            let l0m = a.each(|e| {
                let (p, t) = (a.data[e], t.data[e]);
                if !inside(p) {
                    return 0.0;
                }
                let terms = (t / p).abs() + ((1.0 - t) / (1.0 - p)).abs();
                let dp = (t / (p * p)).abs() + ((1.0 - t) / ((1.0 - p) * (1.0 - p))).abs();
                (terms + dp * am.data[e] + (1.0 / p + 1.0 / (1.0 - p)) * tm.data[e]) / n
            });
            let l1 = a.each(|e| {
                let q = a.data[e].clamp(eps, 1.0 - eps);
                ((1.0 - q).ln() - q.ln()) / n
            });
            let l1m = a.each(|e| {
                let p = a.data[e];
                let q = p.clamp(eps, 1.0 - eps);
                let moving = if inside(p) { am.data[e] } else { 0.0 };
                ((1.0 - q).ln().abs() + q.ln().abs() + moving * (1.0 / q + 1.0 / (1.0 - q))) / n
            });
            out[0] = Some(scalar_chain(&l0, &l0m));
            out[1] = Some(scalar_chain(&l1, &l1m));
        }
    }
    for (o, &w) in out.iter_mut().zip(wants) {
        if !w {
            *o = None;
        }
    }
    out
}

/// The interpreter's forward pass over nodes `0..=upto`. With `frozen`, detached nodes keep the
/// values given there (a central difference must not see through a detach).
fn evaluate(g: &Graph, leaves: &[Vec<f64>], upto: usize, frozen: Option<&[M]>) -> Eval {
    let mut v: Vec<M> = Vec::with_capacity(upto + 1);
    let mut vm: Vec<M> = Vec::with_capacity(upto + 1);
    for (i, nd) in g.nodes[..=upto].iter().enumerate() {
        let (value, mag) = if nd.kind.is_some() {
            let value = M::new(nd.rows, nd.cols, leaves[i].clone());
            let mag = value.abs();
            (value, mag)
        } else if let (Op::Detach, Some(frozen)) = (nd.op, frozen) {
            (frozen[i].clone(), vm[nd.inputs[0]].clone())
        } else {
            let x: Vec<(&M, &M)> = nd.inputs.iter().map(|&k| (&v[k], &vm[k])).collect();
            forward_op(nd.op, &x)
        };
        v.push(value);
        vm.push(mag);
    }
    Eval { v, vm }
}

/// Which nodes the output depends on: the output, and the inputs of every such node except a
/// detach, whose input is cut off.
fn liveness(g: &Graph) -> Vec<bool> {
    let out = g.output;
    let mut live = vec![false; out + 1];
    live[out] = true;
    for i in (0..=out).rev() {
        if live[i] && g.nodes[i].op != Op::Detach {
            for &k in &g.nodes[i].inputs {
                live[k] = true;
            }
        }
    }
    live
}

/// Reverse-mode adjoints from the output, seeded with `seed`: each node the output depends on,
/// from the last to the first, hands `upstream × local derivative` to each input a parameter
/// flows into (the rest keep zero, as the tape documents).
fn reverse(g: &Graph, ev: &Eval, seed: &[f64]) -> Adjoints {
    let out = g.output;
    let nodes = &g.nodes[..=out];
    let live = liveness(g);
    let mut adj: Vec<M> = nodes.iter().map(|n| M::zeros(n.rows, n.cols)).collect();
    let mut am = adj.clone();
    adj[out] = M::new(nodes[out].rows, nodes[out].cols, seed.to_vec());
    am[out] = adj[out].abs();
    for i in (0..=out).rev() {
        let nd = &nodes[i];
        if !live[i] || !nd.flows || nd.kind.is_some() {
            continue;
        }
        let wants: Vec<bool> = nd.inputs.iter().map(|&k| nodes[k].flows).collect();
        let x: Vec<(&M, &M)> = nd.inputs.iter().map(|&k| (&ev.v[k], &ev.vm[k])).collect();
        let handed = backward_op(nd.op, &x, (&ev.v[i], &ev.vm[i]), (&adj[i], &am[i]), &wants);
        for (&k, h) in nd.inputs.iter().zip(handed) {
            if let Some((d, dm)) = h {
                adj[k].add_assign(&d);
                am[k].add_assign(&dm);
            }
        }
    }
    Adjoints { adj, am, live }
}

// ---------------------------------------------------------------------------------------------
// Graphs
// ---------------------------------------------------------------------------------------------

/// How a leaf's entries are drawn at each step (the structure stays, the values change).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// Uniform in [−w, w].
    Uniform(f64),
    /// Uniform in [lo, hi], lo > 0.
    Positive(f64, f64),
    /// In [0, 1], some entries exactly 0 or 1 (probabilities and targets).
    Unit,
    /// In [−1, 1] with some entries exactly 0, at least one.
    WithZeros,
    /// The projection's fixed non-uniform weights `R` (as `tests/common::project`).
    Projection,
}

/// Which of the equivalent spellings of an op the graph records it with.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Style {
    /// The method (`x.scale(c)`, `x.add_row(b)`, `tape.param(&m)`) or the plain operator.
    Plain,
    /// Another spelling, numbered per op (see [`record`]).
    Alt(u8),
    /// `-x`.
    Neg,
    /// `x / d`, recorded as `scale(1/d)`.
    DivBy(f64),
    /// `x - d`, recorded as `add_scalar(-d)`.
    SubScalar(f64),
    /// The first node of a derived op (`c - x` or `c / x`), recorded by the next node.
    First,
    /// `c - x`: `scale(-1)` (the node before) then `add_scalar(c)`.
    ScalarMinus,
    /// `c / x`: `powf(-1)` (the node before) then `scale(c)`.
    ScalarOver,
}

#[derive(Clone, Debug)]
struct GNode {
    op: Op,
    inputs: Vec<usize>,
    rows: usize,
    cols: usize,
    /// How a leaf is drawn; `None` for an op.
    kind: Option<Kind>,
    style: Style,
    /// Bounds of every value this node can take, whatever the leaves drawn: the generator keeps
    /// logs, powers and divisors on positive inputs and exponentials on bounded ones with them.
    lo: f64,
    hi: f64,
    /// Whether a parameter flows into the node (through no detach).
    flows: bool,
    /// Whether later ops may read it (not a risky dead end, not the first node of a derived op).
    pickable: bool,
    /// A risky dead end: recorded, never used, and its rule would compute `0 · ∞` if it ran.
    risky: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum OutMode {
    /// `backward((y ⊙ R).sum())`: the output is the sum.
    Project,
    /// `backward(y)` of a 1×1 `y`.
    Direct,
    /// `backward_with(y, seed)` with a random seed.
    Seeded,
}

struct Graph {
    nodes: Vec<GNode>,
    output: usize,
    mode: OutMode,
    size: &'static str,
}

impl Graph {
    fn entries(&self) -> usize {
        self.nodes.iter().map(|n| n.rows * n.cols).sum()
    }
}

impl fmt::Display for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "graph ({}, {} nodes, output n{} by {:?}):",
            self.size,
            self.nodes.len(),
            self.output,
            self.mode
        )?;
        for (i, n) in self.nodes.iter().enumerate() {
            let inputs: Vec<String> = n.inputs.iter().map(|k| format!("n{k}")).collect();
            write!(
                f,
                "  n{i} = {}({}) {}x{}",
                n.op,
                inputs.join(", "),
                n.rows,
                n.cols
            )?;
            if let Some(kind) = n.kind {
                write!(f, " {kind:?}")?;
            }
            if n.style != Style::Plain {
                write!(f, " as {:?}", n.style)?;
            }
            write!(f, " in [{:.3e}, {:.3e}]", n.lo, n.hi)?;
            if !n.flows {
                write!(f, " (no parameter flows in)")?;
            }
            if n.risky {
                write!(f, " (risky dead end)")?;
            }
            if i == self.output {
                write!(f, " <- output")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

fn out_shape(op: Op, x: &[&GNode]) -> (usize, usize) {
    let (r, c) = (x[0].rows, x[0].cols);
    match op {
        Op::MatMul | Op::Linear(_) => (r, x[1].cols),
        Op::Transpose => (c, r),
        Op::Sum(Reduce::All) | Op::Mean(Reduce::All) | Op::Mse | Op::Sse | Op::Bce(_) => (1, 1),
        Op::Sum(Reduce::Rows) | Op::Mean(Reduce::Rows) => (r, 1),
        Op::Sum(Reduce::Cols) | Op::Mean(Reduce::Cols) => (1, c),
        _ => (r, c),
    }
}

/// Interval arithmetic: bounds of node `op`'s values from its inputs' bounds.
fn bounds(op: Op, x: &[&GNode]) -> (f64, f64) {
    let (lo, hi) = (x[0].lo, x[0].hi);
    let span = |v: [f64; 4]| {
        (
            v.iter().copied().fold(f64::INFINITY, f64::min),
            v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        )
    };
    let times = |b: &GNode| span([lo * b.lo, lo * b.hi, hi * b.lo, hi * b.hi]);
    match op {
        Op::Param | Op::Input => unreachable!("leaves have the bounds of their kind"),
        Op::Broadcast(..)
        | Op::Max(_)
        | Op::Min(_)
        | Op::Sqrt
        | Op::Abs
        | Op::Softmax
        | Op::LogSoftmax
        | Op::CrossEntropy
        | Op::Custom(_) => {
            unreachable!("{op}: not generated here (tests/broadcast.rs, multiclass.rs, custom.rs)")
        }
        Op::Add | Op::AddRow => (lo + x[1].lo, hi + x[1].hi),
        Op::Sub => (lo - x[1].hi, hi - x[1].lo),
        Op::Mul => times(x[1]),
        Op::Div => span([lo / x[1].lo, lo / x[1].hi, hi / x[1].lo, hi / x[1].hi]),
        Op::Scale(c) if c >= 0.0 => (c * lo, c * hi),
        Op::Scale(c) => (c * hi, c * lo),
        Op::AddScalar(c) => (lo + c, hi + c),
        Op::MatMul => {
            let (k, (a, b)) = (x[0].cols as f64, times(x[1]));
            (k * a, k * b)
        }
        Op::Linear(f) => {
            let (k, (a, b)) = (x[0].cols as f64, times(x[1]));
            (activate(f, k * a + x[2].lo), activate(f, k * b + x[2].hi))
        }
        Op::Transpose | Op::Detach | Op::Mean(_) => (lo, hi),
        Op::Sum(axis) => {
            let n = count(axis, x[0].rows, x[0].cols);
            (n * lo, n * hi)
        }
        Op::Exp => (lo.exp(), hi.exp()),
        Op::Log => (lo.ln(), hi.ln()),
        Op::Powf(0.0) => (1.0, 1.0),
        Op::Powf(p) => {
            let (a, b) = (lo.powf(p), hi.powf(p));
            (a.min(b), a.max(b))
        }
        Op::Square if lo >= 0.0 => (lo * lo, hi * hi),
        Op::Square if hi <= 0.0 => (hi * hi, lo * lo),
        Op::Square => (0.0, (lo * lo).max(hi * hi)),
        Op::Sigmoid => (sigma(lo), sigma(hi)),
        Op::Relu => (lo.max(0.0), hi.max(0.0)),
        Op::Tanh => (lo.tanh(), hi.tanh()),
        Op::Mse | Op::Sse => {
            let d = (hi - x[1].lo).abs().max((lo - x[1].hi).abs());
            let n = if op == Op::Sse {
                (x[0].rows * x[0].cols) as f64
            } else {
                1.0
            };
            (0.0, n * d * d)
        }
        // with targets in [0, 1], each term is in [0, −ln ε]
        Op::Bce(eps) => (0.0, -eps.ln()),
    }
}

fn has_zeros(n: &GNode) -> bool {
    n.kind == Some(Kind::WithZeros) || matches!(n.op, Op::Relu | Op::Linear(Activation::Relu))
}

/// What a batch may put in its graphs.
#[derive(Clone, Copy)]
struct Opts {
    /// Risky dead ends (their values are infinite or NaN: not in anomaly mode).
    risky: bool,
    /// `backward_with` outputs (not for `backward_trace`, which takes a 1×1 output).
    seeded: bool,
    /// Large products and wide elementwise passes.
    big: bool,
}

/// The random graph generator: a list of nodes that grows one random op at a time.
struct Gen {
    rng: StdRng,
    nodes: Vec<GNode>,
    dims: Vec<usize>,
    /// If not empty, the only shapes new leaves take (big graphs).
    shapes: Vec<(usize, usize)>,
    /// Multiply-adds left for products (keeps the interpreter's naive products cheap).
    madds: usize,
    /// The operand the next op takes (a parameter with zeros, made live early).
    next: Option<usize>,
    opts: Opts,
}

fn generate(seed: u64, opts: Opts) -> Graph {
    let mut gen = Gen {
        rng: StdRng::seed_from_u64(seed),
        nodes: Vec::new(),
        dims: Vec::new(),
        shapes: Vec::new(),
        madds: 0,
        next: None,
        opts,
    };
    // per 200: 8 big products, 3 wide graphs, 24 medium, the rest small
    let roll = gen.rng.random_range(0..200);
    let (size, before, after) = if opts.big && roll < 8 {
        let (before, after) = gen.big_product();
        ("big product", before, after)
    } else if opts.big && roll < 11 {
        let (before, after) = gen.wide();
        ("wide", before, after)
    } else if roll < 35 {
        let (before, after) = gen.medium();
        ("medium", before, after)
    } else {
        let (before, after) = gen.small();
        ("small", before, after)
    };
    // A parameter with exact zeros, used by the next op, for the risky dead ends to read.
    let risky = opts.risky && gen.coin(0.5);
    if risky && gen.next.is_none() {
        let shape = gen.shape();
        let z = gen.leaf(true, shape, Kind::WithZeros);
        gen.next = Some(z);
    }
    for _ in 0..before {
        gen.step(risky);
    }
    let (output, mode) = gen.output();
    for _ in 0..after {
        gen.step(risky);
    }
    Graph {
        nodes: gen.nodes,
        output,
        mode,
        size,
    }
}

impl Gen {
    fn coin(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn one_of<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.random_range(0..items.len())]
    }

    fn mag(&self, i: usize) -> f64 {
        self.nodes[i].lo.abs().max(self.nodes[i].hi.abs())
    }

    fn shape_of(&self, i: usize) -> (usize, usize) {
        (self.nodes[i].rows, self.nodes[i].cols)
    }

    fn dim(&mut self) -> usize {
        if self.shapes.is_empty() && self.coin(0.1) {
            1
        } else {
            self.dims[self.rng.random_range(0..self.dims.len())]
        }
    }

    fn shape(&mut self) -> (usize, usize) {
        if self.shapes.is_empty() {
            (self.dim(), self.dim())
        } else {
            self.shapes[self.rng.random_range(0..self.shapes.len())]
        }
    }

    fn after(&mut self) -> usize {
        if self.coin(0.6) {
            self.rng.random_range(1..=6)
        } else {
            0
        }
    }

    fn initial_leaves(&mut self) {
        for _ in 0..self.rng.random_range(2..=4) {
            let s = self.shape();
            self.leaf(true, s, Kind::Uniform(1.0));
        }
        for _ in 0..self.rng.random_range(0..=2) {
            let s = self.shape();
            let kind = self.one_of(&[Kind::Uniform(1.0), Kind::Unit, Kind::Positive(0.5, 2.0)]);
            self.leaf(false, s, kind);
        }
    }

    /// Sides 1–6: thousands of these run in seconds.
    fn small(&mut self) -> (usize, usize) {
        self.dims = (0..3).map(|_| self.rng.random_range(1..=6)).collect();
        self.madds = usize::MAX / 2;
        self.initial_leaves();
        (self.rng.random_range(6..=30), self.after())
    }

    /// Sides around the thin-product limit and the micro-kernel's tile.
    fn medium(&mut self) -> (usize, usize) {
        self.dims = (0..3).map(|_| self.one_of(&MEDIUM_SIDES)).collect();
        self.madds = 300_000;
        self.initial_leaves();
        (self.rng.random_range(4..=14), self.after())
    }

    /// One product of [`GEMM_SHAPES`] (a matmul or a dense layer), then small ops around it.
    fn big_product(&mut self) -> (usize, usize) {
        let (m, k, n) = self.one_of(&GEMM_SHAPES);
        self.dims = vec![m, k, n];
        self.shapes = vec![(m, k), (k, n), (m, n), (k, m), (n, k), (n, m)];
        let x = if self.coin(0.7) {
            let param = self.coin(0.6);
            self.leaf(param, (m, k), Kind::Uniform(1.0))
        } else {
            let p = self.leaf(true, (m, k), Kind::Uniform(2.0));
            self.push(Op::Tanh, &[p], Style::Plain)
        };
        let w = if self.coin(0.3) {
            let wt = self.leaf(true, (n, k), Kind::Uniform(1.0));
            self.push(Op::Transpose, &[wt], Style::Plain)
        } else {
            self.leaf(true, (k, n), Kind::Uniform(1.0))
        };
        let product = if self.coin(0.5) {
            self.push(Op::MatMul, &[x, w], Style::Plain)
        } else {
            let b = self.leaf(true, (1, n), Kind::Uniform(1.0));
            let f = self.one_of(&ACTIVATIONS);
            self.push(Op::Linear(f), &[x, w, b], Style::Alt(1))
        };
        self.next = Some(product);
        self.madds = 0;
        (self.rng.random_range(2..=5), self.after())
    }

    /// Elementwise ops on about [`PARALLEL_ENTRIES`] entries.
    fn wide(&mut self) -> (usize, usize) {
        let (r, c) = self.one_of(&WIDE_SHAPES);
        self.dims = vec![r, c];
        self.shapes = vec![(r, c)];
        self.madds = 0;
        self.leaf(true, (r, c), Kind::Uniform(1.0));
        self.leaf(true, (r, c), Kind::Uniform(1.0));
        self.leaf(false, (r, c), Kind::Unit);
        (self.rng.random_range(3..=7), self.after())
    }

    fn push(&mut self, op: Op, inputs: &[usize], style: Style) -> usize {
        let ins: Vec<&GNode> = inputs.iter().map(|&k| &self.nodes[k]).collect();
        let (rows, cols) = out_shape(op, &ins);
        let (lo, hi) = bounds(op, &ins);
        let flows = op != Op::Detach && ins.iter().any(|n| n.flows);
        self.nodes.push(GNode {
            op,
            inputs: inputs.to_vec(),
            rows,
            cols,
            kind: None,
            style,
            lo,
            hi,
            flows,
            pickable: style != Style::First,
            risky: false,
        });
        self.nodes.len() - 1
    }

    fn leaf(&mut self, param: bool, (rows, cols): (usize, usize), kind: Kind) -> usize {
        let style = match self.rng.random_range(0..3) {
            1 => Style::Alt(1),
            2 if rows * cols == 1 => Style::Alt(2),
            _ => Style::Plain,
        };
        let (lo, hi) = match kind {
            Kind::Uniform(w) => (-w, w),
            Kind::Positive(lo, hi) => (lo, hi),
            Kind::Unit => (0.0, 1.0),
            Kind::WithZeros => (-1.0, 1.0),
            Kind::Projection => (-0.9, 1.1),
        };
        self.nodes.push(GNode {
            op: if param { Op::Param } else { Op::Input },
            inputs: Vec::new(),
            rows,
            cols,
            kind: Some(kind),
            style,
            lo,
            hi,
            flows: param,
            pickable: true,
            risky: false,
        });
        self.nodes.len() - 1
    }

    fn pickable(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].pickable)
            .collect()
    }

    /// A node for the next op to read: often one of the last few (depth), else any (fan-out).
    fn pick(&mut self) -> usize {
        if let Some(x) = self.next.take() {
            return x;
        }
        let c = self.pickable();
        if self.coin(0.5) {
            let from = c.len().saturating_sub(4);
            c[self.rng.random_range(from..c.len())]
        } else {
            c[self.rng.random_range(0..c.len())]
        }
    }

    fn pick_where(&mut self, f: impl Fn(&GNode) -> bool) -> Option<usize> {
        let c: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].pickable && f(&self.nodes[i]))
            .collect();
        if c.is_empty() {
            None
        } else {
            Some(c[self.rng.random_range(0..c.len())])
        }
    }

    fn pick_tame(&mut self, limit: f64) -> usize {
        let x = self.pick();
        self.tame(x, limit)
    }

    /// An operand of `shape`: an existing node (fan-out), a transposed one, or a new leaf.
    fn like(&mut self, shape: (usize, usize)) -> usize {
        if let Some(x) = self.pick_where(|n| (n.rows, n.cols) == shape) {
            if self.coin(0.6) {
                return x;
            }
        }
        if shape.0 != shape.1 && self.coin(0.3) {
            if let Some(x) = self.pick_where(|n| (n.cols, n.rows) == shape) {
                return self.push(Op::Transpose, &[x], Style::Plain);
            }
        }
        let kind = match self.rng.random_range(0..10) {
            0 => Kind::WithZeros,
            1 => Kind::Positive(0.5, 2.0),
            2 => Kind::Unit,
            _ => Kind::Uniform(1.0),
        };
        let param = self.coin(0.7);
        self.leaf(param, shape, kind)
    }

    /// `x` itself if its values stay within `limit`, else squashed (tanh, sigmoid or a scale).
    fn tame(&mut self, x: usize, limit: f64) -> usize {
        let m = self.mag(x);
        if m <= limit {
            return x;
        }
        match self.rng.random_range(0..3) {
            0 => self.push(Op::Tanh, &[x], Style::Plain),
            1 => self.push(Op::Sigmoid, &[x], Style::Plain),
            _ => self.scale(x, limit / m),
        }
    }

    fn scale(&mut self, x: usize, c: f64) -> usize {
        let style = match self.rng.random_range(0..5) {
            0 => Style::Alt(1),
            1 => Style::Alt(2),
            2 if c == -1.0 => Style::Neg,
            3 if c != 0.0 => Style::DivBy(1.0 / c),
            _ => Style::Plain,
        };
        // `x / d` records the constant 1/d
        let c = if let Style::DivBy(d) = style {
            1.0 / d
        } else {
            c
        };
        self.push(Op::Scale(c), &[x], style)
    }

    fn add_scalar(&mut self, x: usize, c: f64) -> usize {
        let style = match self.rng.random_range(0..4) {
            0 => Style::Alt(1),
            1 => Style::Alt(2),
            2 => Style::SubScalar(-c),
            _ => Style::Plain,
        };
        self.push(Op::AddScalar(c), &[x], style)
    }

    /// A node with values ≥ 0.1 made from `x` (for logs, powers and divisors).
    fn positive(&mut self, x: usize) -> usize {
        if self.nodes[x].lo >= 0.1 && self.coin(0.5) {
            return x;
        }
        match self.rng.random_range(0..4) {
            0 => {
                let x = self.tame(x, 30.0);
                let s = self.push(Op::Square, &[x], Style::Plain);
                self.add_scalar(s, 0.5)
            }
            1 => {
                let s = self.push(Op::Sigmoid, &[x], Style::Plain);
                self.add_scalar(s, 0.25)
            }
            2 => {
                let t = self.push(Op::Tanh, &[x], Style::Plain);
                self.push(Op::Exp, &[t], Style::Plain)
            }
            _ => {
                let x = self.tame(x, LIMIT);
                let r = self.push(Op::Relu, &[x], Style::Plain);
                self.add_scalar(r, 1.0)
            }
        }
    }

    /// A node with values in [0, 1] made from `x` (for binary cross-entropy).
    fn probability(&mut self, x: usize) -> usize {
        let unit = self.nodes[x].lo >= 0.0 && self.nodes[x].hi <= 1.0;
        if unit && self.coin(0.5) {
            return x;
        }
        let x = self.tame(x, LIMIT);
        self.push(Op::Sigmoid, &[x], Style::Plain)
    }

    fn step(&mut self, risky: bool) {
        if risky && self.coin(0.15) {
            self.risky();
        } else {
            self.grow();
        }
    }

    /// Records one random op.
    fn grow(&mut self) {
        match self.rng.random_range(0..29) {
            0 => self.binary(Op::Add),
            1 => self.binary(Op::Sub),
            2 => self.binary(Op::Mul),
            3 => self.divide(),
            4 => {
                let x = self.pick_tame(LIMIT);
                let c = self.one_of(&[-1.0, 2.5, -0.5, 0.0, 1e-3, 3.0]);
                self.scale(x, c);
            }
            5 => {
                let x = self.pick_tame(LIMIT);
                let c = self.one_of(&[1.0, -2.0, 0.5, -0.25]);
                self.add_scalar(x, c);
            }
            6 => {
                // c − x
                let x = self.pick_tame(LIMIT);
                let c = self.one_of(&[1.0, 2.0]);
                let neg = self.push(Op::Scale(-1.0), &[x], Style::First);
                self.push(Op::AddScalar(c), &[neg], Style::ScalarMinus);
            }
            7 => {
                // c / x
                let x = self.pick();
                let x = self.positive(x);
                let c = self.one_of(&[2.0, -1.0, 0.5]);
                let inv = self.push(Op::Powf(-1.0), &[x], Style::First);
                self.push(Op::Scale(c), &[inv], Style::ScalarOver);
            }
            8 | 9 => self.matmul(),
            10 | 11 => self.linear(),
            12 => self.dense_chain(),
            13 => {
                let x = self.pick();
                self.push(Op::Transpose, &[x], Style::Plain);
            }
            14 => self.add_row(),
            15 | 28 => {
                let x = self.pick();
                let axis = self.one_of(&[Reduce::All, Reduce::Rows, Reduce::Cols]);
                let op = if self.coin(0.5) {
                    Op::Sum(axis)
                } else {
                    Op::Mean(axis)
                };
                self.push(op, &[x], Style::Plain);
            }
            16 => {
                let x = self.pick_tame(5.0);
                self.push(Op::Exp, &[x], Style::Plain);
            }
            17 => {
                let x = self.pick();
                let x = self.positive(x);
                self.push(Op::Log, &[x], Style::Plain);
            }
            18 => self.powf(),
            19 => self.unary(Op::Square),
            20 => self.unary(Op::Sigmoid),
            21 => self.unary(Op::Relu),
            22 => self.unary(Op::Tanh),
            23 => {
                let x = self.pick();
                self.push(Op::Detach, &[x], Style::Plain);
            }
            24 => self.loss(Op::Mse),
            25 => self.loss(Op::Sse),
            26 => self.bce(),
            _ => self.repeated(),
        }
    }

    fn unary(&mut self, op: Op) {
        let x = self.pick_tame(LIMIT);
        self.push(op, &[x], Style::Plain);
    }

    fn binary(&mut self, op: Op) {
        let a = self.pick_tame(LIMIT);
        let b = if self.coin(0.2) {
            a
        } else {
            let s = self.shape_of(a);
            let b = self.like(s);
            self.tame(b, LIMIT)
        };
        self.push(op, &[a, b], Style::Plain);
    }

    fn divide(&mut self) {
        let a = self.pick_tame(LIMIT);
        let s = self.shape_of(a);
        let b = if self.coin(0.15) { a } else { self.like(s) };
        let b = self.positive(b);
        let a = if self.coin(0.15) { b } else { a };
        self.push(Op::Div, &[a, b], Style::Plain);
    }

    fn matmul(&mut self) {
        let a = self.pick();
        let (m, k) = self.shape_of(a);
        let square = m == k && self.coin(0.25);
        let n = if square { k } else { self.dim() };
        if m * k * n > self.madds {
            return self.binary(Op::Mul);
        }
        self.madds -= m * k * n;
        let limit = (1e4 / k as f64).sqrt();
        let a = self.tame(a, limit);
        let b = if square {
            a
        } else {
            let b = self.like((k, n));
            self.tame(b, limit)
        };
        self.push(Op::MatMul, &[a, b], Style::Plain);
    }

    fn linear(&mut self) {
        let x = self.pick();
        let (m, k) = self.shape_of(x);
        let n = self.dim();
        if m * k * n > self.madds {
            return self.binary(Op::Add);
        }
        self.madds -= m * k * n;
        let limit = (1e4 / k as f64).sqrt();
        let x = self.tame(x, limit);
        let w = if m == k && n == k && self.coin(0.2) {
            x
        } else {
            let w = self.like((k, n));
            self.tame(w, limit)
        };
        let b = self.like((1, n));
        let b = self.tame(b, limit);
        let f = self.one_of(&ACTIVATIONS);
        let style = if f == Activation::Identity && self.coin(0.5) {
            Style::Plain
        } else {
            Style::Alt(1)
        };
        self.push(Op::Linear(f), &[x, w, b], style);
    }

    /// Two dense layers, the second of width 1: the sweep may keep the gradient between them as
    /// two factors (`Backward::factor_grad`), which `Var::grad` and `wrt` multiply out.
    fn dense_chain(&mut self) {
        let x = self.pick();
        let (m, k) = self.shape_of(x);
        let h = self.dim().max(2);
        if m * k * h + m * h > self.madds {
            return self.unary(Op::Tanh);
        }
        self.madds -= m * k * h + m * h;
        let x = self.tame(x, (1e4 / k as f64).sqrt());
        let w1 = self.leaf(true, (k, h), Kind::Uniform(1.0));
        let b1 = self.leaf(true, (1, h), Kind::Uniform(1.0));
        let f1 = self.one_of(&ACTIVATIONS);
        let hidden = self.push(Op::Linear(f1), &[x, w1, b1], Style::Alt(1));
        let w2 = self.leaf(true, (h, 1), Kind::Uniform(1.0));
        let b2 = self.leaf(true, (1, 1), Kind::Uniform(1.0));
        let f2 = self.one_of(&ACTIVATIONS);
        self.push(Op::Linear(f2), &[hidden, w2, b2], Style::Alt(1));
    }

    fn add_row(&mut self) {
        let x = self.pick_tame(LIMIT);
        let (m, n) = self.shape_of(x);
        let b = self.like((1, n));
        let b = self.tame(b, LIMIT);
        // `x + b` of two 1×n rows is an elementwise add, not a broadcast
        let style = if m == 1 {
            Style::Plain
        } else {
            self.one_of(&[Style::Plain, Style::Alt(1), Style::Alt(2)])
        };
        self.push(Op::AddRow, &[x, b], style);
    }

    fn powf(&mut self) {
        let p = self.one_of(&[0.0, 0.5, -1.0, 1.5, 2.0, 3.0, -0.5]);
        let x = if p == 0.0 {
            // x⁰ on exact zeros: the rule must not compute 0 · 0⁻¹
            match self.pick_where(has_zeros) {
                Some(z) if self.coin(0.5) => z,
                _ => self.pick(),
            }
        } else {
            let x = self.pick_tame(10.0);
            self.positive(x)
        };
        self.push(Op::Powf(p), &[x], Style::Plain);
    }

    fn loss(&mut self, op: Op) {
        let p = self.pick_tame(LIMIT);
        let s = self.shape_of(p);
        let t = match self.rng.random_range(0..5) {
            0 => p,
            1 => self.leaf(false, s, Kind::Unit),
            _ => {
                let t = self.like(s);
                self.tame(t, LIMIT)
            }
        };
        self.push(op, &[p, t], Style::Plain);
    }

    fn bce(&mut self) {
        let p = self.pick();
        let p = self.probability(p);
        let s = self.shape_of(p);
        let t = match self.rng.random_range(0..4) {
            0 => self.leaf(false, s, Kind::Unit),
            1 => self.leaf(true, s, Kind::Unit),
            2 => {
                let t = self.like(s);
                self.probability(t)
            }
            _ => p,
        };
        let eps = if self.coin(0.7) { BCE_EPS } else { 0.05 };
        let style = if eps == BCE_EPS && self.coin(0.7) {
            Style::Plain
        } else {
            Style::Alt(1)
        };
        self.push(Op::Bce(eps), &[p, t], style);
    }

    /// An op reading one node twice: `a.matmul(a)`, `x + x`, `x * x`, `x / x`, `x.mse(x)`…
    fn repeated(&mut self) {
        if let Some(a) = self.pick_where(|n| n.rows == n.cols) {
            let k = self.nodes[a].rows;
            if k * k * k <= self.madds && self.coin(0.5) {
                self.madds -= k * k * k;
                let a = self.tame(a, (1e4 / k as f64).sqrt());
                self.push(Op::MatMul, &[a, a], Style::Plain);
                return;
            }
        }
        let x = self.pick_tame(LIMIT);
        let op = self.one_of(&[Op::Add, Op::Sub, Op::Mul, Op::Mse, Op::Sse, Op::Div]);
        let x = if op == Op::Div { self.positive(x) } else { x };
        self.push(op, &[x, x], Style::Plain);
    }

    /// A risky dead end: a node never used again whose rule would compute `0 · ∞` (or `0 · NaN`)
    /// into its input's gradient if it ran with a zero upstream.
    fn risky(&mut self) {
        let zeros = self.pick_where(has_zeros);
        let target = match zeros {
            Some(z) => z,
            None => self.pick(),
        };
        let first = match self.rng.random_range(0..4) {
            // ln 0 = −∞, and the rule's 0 / 0
            0 if zeros.is_some() => self.push(Op::Log, &[target], Style::Plain),
            // the rule's 0.5 · 0^(−0.5) = ∞
            1 if zeros.is_some() => self.push(Op::Powf(0.5), &[target], Style::Plain),
            // 2 / 0 = ∞, recorded as 0⁻¹ then · 2
            2 => {
                let inv = self.push(Op::Powf(-1.0), &[target], Style::First);
                let s = self.push(Op::Scale(2.0), &[inv], Style::ScalarOver);
                self.dead(s);
                inv
            }
            // e^(1000 z) overflows to ∞
            _ => {
                let big = self.scale(target, 1000.0);
                let e = self.push(Op::Exp, &[big], Style::Plain);
                self.dead(e);
                big
            }
        };
        self.dead(first);
        self.nodes[first].risky = true;
    }

    fn dead(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        n.pickable = false;
        n.lo = f64::NEG_INFINITY;
        n.hi = f64::INFINITY;
    }

    /// Chooses the node to differentiate (often an intermediate one) and how.
    fn output(&mut self) -> (usize, OutMode) {
        let any = self.pickable();
        let flowing: Vec<usize> = any
            .iter()
            .copied()
            .filter(|&i| self.nodes[i].flows)
            .collect();
        let y = if !flowing.is_empty() && self.coin(0.9) {
            let from = if self.coin(0.6) {
                flowing.len().saturating_sub(3)
            } else {
                0
            };
            flowing[self.rng.random_range(from..flowing.len())]
        } else {
            any[self.rng.random_range(0..any.len())]
        };
        let (r, c) = self.shape_of(y);
        if r * c == 1 && self.coin(0.5) {
            return (y, OutMode::Direct);
        }
        if self.opts.seeded && self.coin(0.25) {
            return (y, OutMode::Seeded);
        }
        let weights = self.leaf(false, (r, c), Kind::Projection);
        let weighted = self.push(Op::Mul, &[y, weights], Style::Plain);
        (
            self.push(Op::Sum(Reduce::All), &[weighted], Style::Plain),
            OutMode::Project,
        )
    }
}

// ---------------------------------------------------------------------------------------------
// One step: new leaf values, recorded on the tape and run through the interpreter
// ---------------------------------------------------------------------------------------------

/// The random numbers of one step: leaf values (per node, empty for ops), the output's seed, and
/// perhaps a decoy sweep from another node that runs first and must leave no trace.
struct Draw {
    leaves: Vec<Vec<f64>>,
    seed: Vec<f64>,
    decoy: Option<(usize, Vec<f64>)>,
}

fn draw(g: &Graph, case: u64, step: usize) -> Draw {
    let mut rng = StdRng::seed_from_u64(case ^ ((step as u64 + 1) << 48));
    let leaves = g
        .nodes
        .iter()
        .map(|n| match n.kind {
            None => Vec::new(),
            Some(kind) => leaf_values(kind, n.rows, n.cols, &mut rng),
        })
        .collect();
    let out = &g.nodes[g.output];
    let seed = if g.mode == OutMode::Seeded {
        (0..out.rows * out.cols)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect()
    } else {
        vec![1.0]
    };
    let decoy = rng.random_bool(0.3).then(|| {
        let d = rng.random_range(0..g.nodes.len());
        let n = &g.nodes[d];
        let seed = (0..n.rows * n.cols)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        (d, seed)
    });
    Draw {
        leaves,
        seed,
        decoy,
    }
}

fn leaf_values(kind: Kind, rows: usize, cols: usize, rng: &mut StdRng) -> Vec<f64> {
    let n = rows * cols;
    match kind {
        Kind::Uniform(w) => (0..n).map(|_| rng.random_range(-w..w)).collect(),
        Kind::Positive(lo, hi) => (0..n).map(|_| rng.random_range(lo..hi)).collect(),
        Kind::Unit => (0..n)
            .map(|_| match rng.random_range(0..10) {
                0 => 0.0,
                1 => 1.0,
                _ => rng.random_range(0.0..1.0),
            })
            .collect(),
        Kind::WithZeros => {
            let mut v: Vec<f64> = (0..n)
                .map(|_| {
                    if rng.random_bool(0.3) {
                        0.0
                    } else {
                        rng.random_range(-1.0..1.0)
                    }
                })
                .collect();
            v[rng.random_range(0..n)] = 0.0;
            v
        }
        Kind::Projection => (0..n)
            .map(|e| {
                let (i, j) = ((e / cols) as f64, (e % cols) as f64);
                (0.7 * i + 1.3 * j + 0.4).sin() + 0.1
            })
            .collect(),
    }
}

fn record_leaf<'t>(tape: &'t Tape, n: &GNode, values: &[f64]) -> Var<'t> {
    let (r, c) = (n.rows, n.cols);
    match (n.style, n.op == Op::Param) {
        (Style::Alt(1), true) => tape.param_slice(r, c, values),
        (Style::Alt(1), false) => tape.input_slice(r, c, values),
        (Style::Alt(2), true) => tape.scalar(values[0]),
        (Style::Alt(2), false) => tape.constant(values[0]),
        (_, true) => tape.param(&Matrix::new(r, c, values.to_vec())),
        (_, false) => tape.input(&Matrix::new(r, c, values.to_vec())),
    }
}

/// Records the graph on the tape, each node with its spelling; returns the handles by node.
fn record<'t>(tape: &'t Tape, g: &Graph, leaves: &[Vec<f64>]) -> Vec<Var<'t>> {
    let mut vars: Vec<Option<Var<'t>>> = Vec::with_capacity(g.nodes.len());
    for (i, n) in g.nodes.iter().enumerate() {
        let arg = |k: usize| vars[n.inputs[k]].expect("operands are recorded before their uses");
        // the operand of a derived op (`c - x`, `c / x`) is the first node's input
        let derived = || vars[g.nodes[i - 1].inputs[0]].expect("recorded before");
        let var = match n.op {
            Op::Param | Op::Input => record_leaf(tape, n, &leaves[i]),
            Op::Broadcast(..)
            | Op::Max(_)
            | Op::Min(_)
            | Op::Sqrt
            | Op::Abs
            | Op::Softmax
            | Op::LogSoftmax
            | Op::CrossEntropy
            | Op::Custom(_) => unreachable!(
                "{}: not generated here (tests/broadcast.rs, multiclass.rs, custom.rs)",
                n.op
            ),
            _ if n.style == Style::First => {
                vars.push(None);
                continue;
            }
            Op::Add => arg(0) + arg(1),
            Op::Sub => arg(0) - arg(1),
            Op::Mul => arg(0) * arg(1),
            Op::Div => arg(0) / arg(1),
            Op::Scale(c) => match n.style {
                Style::Alt(1) => c * arg(0),
                Style::Alt(2) => arg(0) * c,
                Style::Neg => -arg(0),
                Style::DivBy(d) => arg(0) / d,
                Style::ScalarOver => c / derived(),
                _ => arg(0).scale(c),
            },
            Op::AddScalar(c) => match n.style {
                Style::Alt(1) => arg(0) + c,
                Style::Alt(2) => c + arg(0),
                Style::SubScalar(d) => arg(0) - d,
                Style::ScalarMinus => c - derived(),
                _ => arg(0).add_scalar(c),
            },
            Op::MatMul => arg(0).matmul(arg(1)),
            Op::Linear(f) if f == Activation::Identity && n.style == Style::Plain => {
                arg(0).linear(arg(1), arg(2))
            }
            Op::Linear(f) => arg(0).linear_act(arg(1), arg(2), f),
            Op::Transpose => arg(0).t(),
            Op::AddRow => match n.style {
                Style::Alt(1) => arg(0) + arg(1),
                Style::Alt(2) => arg(1) + arg(0),
                _ => arg(0).add_row(arg(1)),
            },
            Op::Sum(Reduce::All) => arg(0).sum(),
            Op::Sum(Reduce::Rows) => arg(0).row_sums(),
            Op::Sum(Reduce::Cols) => arg(0).col_sums(),
            Op::Mean(Reduce::All) => arg(0).mean(),
            Op::Mean(Reduce::Rows) => arg(0).row_means(),
            Op::Mean(Reduce::Cols) => arg(0).col_means(),
            Op::Exp => arg(0).exp(),
            Op::Log => arg(0).log(),
            Op::Powf(p) => arg(0).powf(p),
            Op::Square => arg(0).square(),
            Op::Sigmoid => arg(0).sigmoid(),
            Op::Relu => arg(0).relu(),
            Op::Tanh => arg(0).tanh(),
            Op::Detach => arg(0).detach(),
            Op::Mse => arg(0).mse(arg(1)),
            Op::Sse => arg(0).sse(arg(1)),
            Op::Bce(_) if n.style == Style::Plain => arg(0).bce(arg(1)),
            Op::Bce(eps) => arg(0).bce_with_eps(arg(1), eps),
        };
        vars.push(Some(var));
    }
    if vars.iter().any(Option::is_none) {
        // the first node of a derived op has no handle of its own: take it from the graph view
        let ids: Vec<NodeId> = viz::to_graph(tape).node_weights().map(|v| v.id).collect();
        for (i, v) in vars.iter_mut().enumerate() {
            if v.is_none() {
                *v = Some(tape.var(ids[i]));
            }
        }
    }
    vars.into_iter().map(Option::unwrap).collect()
}

/// Fills the tape's value, gradient and scratch buffers with NaN, then resets it: a kernel or a
/// sweep that reads a slot it did not write shows up as a NaN.
fn poison(tape: &mut Tape, entries: usize) {
    {
        let junk = tape.param_slice(1, entries, &vec![f64::NAN; entries]);
        let nan = |r: usize, c: usize| tape.param_slice(r, c, &vec![f64::NAN; r * c]);
        let layer = nan(16, 16).linear_act(nan(16, 16), nan(1, 16), Activation::Sigmoid);
        let out = junk.sum() + layer.sum();
        tape.backward_with(out, &Matrix::scalar(f64::NAN));
    }
    tape.reset();
}

/// Whether `got` matches the interpreter's `want`, whose terms have magnitude `scale`.
fn close(got: f64, want: f64, scale: f64) -> bool {
    if !want.is_finite() {
        // the risky dead ends' own values: ±∞ exactly, or NaN
        return got == want || (got.is_nan() && want.is_nan());
    }
    let scale = if scale.is_finite() { scale } else { want.abs() };
    (got - want).abs() <= TOL * scale
}

fn compare(what: &str, i: usize, op: Op, got: &[f64], want: &M, scale: &M) -> Result<(), String> {
    for e in 0..got.len() {
        if !close(got[e], want.data[e], scale.data[e]) {
            return Err(format!(
                "{what} of n{i} ({op}), entry ({}, {}): tape {:e}, interpreter {:e}, allowed \
                 difference {:e}",
                e / want.cols,
                e % want.cols,
                got[e],
                want.data[e],
                TOL * scale.data[e]
            ));
        }
    }
    Ok(())
}

/// Every node: its id, op, shape, whether a parameter flows in, and its value.
fn check_values(g: &Graph, vars: &[Var<'_>], ev: &Eval) -> Result<(), String> {
    for (i, (n, v)) in g.nodes.iter().zip(vars).enumerate() {
        if v.id().index() != i {
            return Err(format!("n{i} ({}) was recorded as {}", n.op, v.id()));
        }
        if v.op() != n.op {
            return Err(format!("n{i} was recorded as {}, not {}", v.op(), n.op));
        }
        if v.shape() != (n.rows, n.cols) {
            let (r, c) = v.shape();
            return Err(format!(
                "n{i} ({}) is {r}x{c}, not {}x{}",
                n.op, n.rows, n.cols
            ));
        }
        if v.requires_grad() != n.flows {
            return Err(format!(
                "n{i} ({}): requires_grad is {}, but a parameter flows in: {}",
                n.op,
                v.requires_grad(),
                n.flows
            ));
        }
        compare("value", i, n.op, &v.value_ref(), &ev.v[i], &ev.vm[i])?;
    }
    Ok(())
}

/// The gradients of nodes `0..=output` read through `Gradients::wrt`, after checking that
/// `Var::grad` reads the same numbers, bit for bit.
fn read_grads(g: &Graph, vars: &[Var<'_>], grads: Gradients<'_>) -> Result<Vec<Vec<f64>>, String> {
    let mut all = Vec::with_capacity(g.output + 1);
    for (i, v) in vars[..=g.output].iter().enumerate() {
        let wrt = grads.wrt(*v).to_vec();
        let grad = v.grad().ok_or_else(|| {
            format!(
                "Var::grad of n{i} ({}) is None after a sweep from n{}",
                v.op(),
                g.output
            )
        })?;
        let same = wrt.len() == grad.len()
            && wrt
                .iter()
                .zip(grad.as_slice())
                .all(|(a, b)| a.to_bits() == b.to_bits());
        if !same {
            return Err(format!(
                "n{i} ({}): Gradients::wrt reads {wrt:?} but Var::grad reads {:?}",
                v.op(),
                grad.as_slice()
            ));
        }
        all.push(wrt);
    }
    Ok(all)
}

/// The gradients of one sweep against the interpreter: the output's is the seed, a node no
/// parameter flows into reads zeros, every other one the interpreter's adjoint (zero off the
/// output's dependencies).
fn check_grads(
    sweep: &str,
    g: &Graph,
    got: &[Vec<f64>],
    want: &Adjoints,
    seed: &[f64],
) -> Result<(), String> {
    for (i, got) in got.iter().enumerate() {
        let n = &g.nodes[i];
        if i == g.output {
            if got.as_slice() != seed {
                return Err(format!(
                    "{sweep}: the output n{i} ({}) has gradient {got:?}, not its seed {seed:?}",
                    n.op
                ));
            }
        } else if !n.flows {
            if got.iter().any(|&x| x != 0.0) {
                return Err(format!(
                    "{sweep}: n{i} ({}) takes no parameter but has gradient {got:?}, not zeros",
                    n.op
                ));
            }
        } else {
            compare(
                &format!("{sweep}: gradient"),
                i,
                n.op,
                got,
                &want.adj[i],
                &want.am[i],
            )?;
        }
    }
    Ok(())
}

/// Two sweeps of one tape read the same numbers (`==`: a zero's sign aside).
fn same_numbers(sweep: &str, plain: &[Vec<f64>], other: &[Vec<f64>]) -> Result<(), String> {
    for (i, (a, b)) in plain.iter().zip(other).enumerate() {
        if a != b {
            return Err(format!(
                "{sweep} differs from backward at n{i}: {b:?} against {a:?}"
            ));
        }
    }
    Ok(())
}

/// The trace visits exactly the rules of the nodes the output depends on that a parameter flows
/// into, last to first, each with the interpreter's upstream gradient.
fn check_trace(g: &Graph, trace: &Trace, want: &Adjoints) -> Result<(), String> {
    let expected: Vec<usize> = (0..=g.output)
        .rev()
        .filter(|&i| {
            // (a parameter never flows into a detach)
            let n = &g.nodes[i];
            want.live[i] && n.flows && n.kind.is_none()
        })
        .collect();
    let visited: Vec<usize> = trace.steps.iter().map(|s| s.node.index()).collect();
    if visited != expected {
        return Err(format!(
            "backward_trace ran the rules of {visited:?}, not those of {expected:?}"
        ));
    }
    for s in &trace.steps {
        let i = s.node.index();
        if s.op != g.nodes[i].op {
            return Err(format!(
                "backward_trace calls n{i} {}, not {}",
                s.op, g.nodes[i].op
            ));
        }
        compare(
            "traced upstream",
            i,
            s.op,
            s.upstream.as_slice(),
            &want.adj[i],
            &want.am[i],
        )?;
    }
    Ok(())
}

/// Which reverse sweep a batch checks besides the plain one.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Sweep {
    Plain,
    /// Anomaly mode on: the watched loop, which zero-fills and adds.
    Anomaly,
    /// `viz::backward_trace`: the watched loop that sets inputs' gradients aside.
    Trace,
}

impl Sweep {
    fn opts(self) -> Opts {
        Opts {
            risky: self != Sweep::Anomaly,
            seeded: self != Sweep::Trace,
            big: true,
        }
    }
}

fn backward<'t>(tape: &'t Tape, g: &Graph, out: Var<'t>, seed: &[f64]) -> Gradients<'t> {
    if g.mode == OutMode::Seeded {
        let (r, c) = out.shape();
        tape.backward_with(out, &Matrix::new(r, c, seed.to_vec()))
    } else {
        tape.backward(out)
    }
}

fn run_step(tape: &Tape, g: &Graph, d: &Draw, sweep: Sweep) -> Result<(), String> {
    let vars = record(tape, g, &d.leaves);
    let ev = evaluate(g, &d.leaves, g.nodes.len() - 1, None);
    check_values(g, &vars, &ev)?;
    if let Some(anomaly) = tape.anomaly() {
        return Err(format!(
            "anomaly mode flagged a graph of finite values: {anomaly}"
        ));
    }
    let want = reverse(g, &ev, &d.seed);
    if let Some((decoy, seed)) = &d.decoy {
        let v = vars[*decoy];
        let (r, c) = v.shape();
        tape.backward_with(v, &Matrix::new(r, c, seed.clone()));
    }
    let out = vars[g.output];
    tape.set_anomaly_detection(false);
    let plain = read_grads(g, &vars, backward(tape, g, out, &d.seed))?;
    check_grads("backward", g, &plain, &want, &d.seed)?;
    match sweep {
        Sweep::Plain => {}
        Sweep::Anomaly => {
            tape.set_anomaly_detection(true);
            let checks = tape.anomaly_checks();
            let grads = if g.mode == OutMode::Seeded {
                backward(tape, g, out, &d.seed)
            } else {
                tape.try_backward(out)
                    .map_err(|a| format!("anomaly mode found {a}"))?
            };
            let watched = read_grads(g, &vars, grads)?;
            check_grads("anomaly-mode backward", g, &watched, &want, &d.seed)?;
            same_numbers("anomaly-mode backward", &plain, &watched)?;
            let rules = (0..=g.output).any(|i| {
                let n = &g.nodes[i];
                want.live[i] && n.flows && n.kind.is_none()
            });
            if rules && tape.anomaly_checks() == checks {
                return Err("anomaly mode checked no gradient of the sweep".into());
            }
        }
        Sweep::Trace => {
            let (grads, trace) = viz::backward_trace(tape, out);
            let traced = read_grads(g, &vars, grads)?;
            check_grads("backward_trace", g, &traced, &want, &d.seed)?;
            // The trace adds each rule's contribution to the running sum after computing it on
            // zeros, so where a gradient collects several terms (a bias, an `add_row` row, a
            // product) it may round differently from `backward`: the same numbers within TOL.
            for (i, (a, b)) in plain.iter().zip(&traced).enumerate() {
                let plain = M::new(g.nodes[i].rows, g.nodes[i].cols, a.clone());
                compare(
                    "backward_trace against backward",
                    i,
                    g.nodes[i].op,
                    b,
                    &plain,
                    &want.am[i],
                )?;
            }
            check_trace(g, &trace, &want)?;
        }
    }
    for (i, v) in vars.iter().enumerate().skip(g.output + 1) {
        if v.grad().is_some() {
            return Err(format!(
                "n{i} ({}) was recorded after the output n{} but Var::grad is Some",
                v.op(),
                g.output
            ));
        }
    }
    Ok(())
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else {
        String::from("<non-string panic>")
    }
}

/// One case: a graph, recorded and checked for [`STEPS`] steps on one tape, reset in between.
fn run_case(seed: u64, sweep: Sweep, test: &str, cov: &mut Coverage) -> Result<(), String> {
    let g = generate(seed, sweep.opts());
    let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<usize, String> {
        let mut tape = if seed.is_multiple_of(2) {
            Tape::new()
        } else {
            Tape::with_capacity(8, 64)
        };
        poison(&mut tape, g.entries());
        tape.set_anomaly_detection(sweep == Sweep::Anomaly);
        let mut decoys = 0;
        for step in 0..STEPS {
            if step > 0 {
                tape.reset();
            }
            let d = draw(&g, seed, step);
            decoys += usize::from(d.decoy.is_some());
            let result = catch_unwind(AssertUnwindSafe(|| run_step(&tape, &g, &d, sweep)));
            let result = result.unwrap_or_else(|p| Err(format!("panic: {}", panic_message(p))));
            result.map_err(|e| format!("step {step}: {e}"))?;
            if sweep == Sweep::Anomaly {
                // the plain sweep of the next step runs with the mode off; recording with it on
                tape.set_anomaly_detection(true);
            }
        }
        Ok(decoys)
    }));
    let result = outcome.unwrap_or_else(|p| Err(format!("panic: {}", panic_message(p))));
    let decoys = result.map_err(|e| {
        format!(
            "seed {seed} ({sweep:?} sweep), {e}\n{g}rerun this case alone: \
             CHAINRULE_GRAPH_SEED={seed} cargo test --release --test random_graphs {test}"
        )
    })?;
    cov.decoys += decoys;
    cov.add(&g);
    Ok(())
}

/// What the checked graphs contained, so that a batch can show it covered what it claims.
#[derive(Default, Debug)]
struct Coverage {
    /// Per op name: nodes the output depends on with an input a parameter flows into, whose
    /// rule's result the checks therefore see.
    rules: BTreeMap<&'static str, usize>,
    /// Risky dead ends whose input is on the output's path (a rule run there would poison it).
    risky_on_live: usize,
    /// Live products of at least `PARALLEL_MADDS` multiply-adds.
    parallel_products: usize,
    /// Live elementwise ops of at least `PARALLEL_ENTRIES` entries.
    parallel_elementwise: usize,
    /// Width-1 dense layers over a dense layer used nowhere else (the factored gradient).
    factorable: usize,
    /// Live ops reading one node twice.
    repeated: usize,
    /// Nodes a parameter flows into that two live ops read.
    fan_out: usize,
    seeded: usize,
    intermediate_output: usize,
    decoys: usize,
    cases: usize,
}

impl Coverage {
    fn add(&mut self, g: &Graph) {
        let live = liveness(g);
        let nodes = &g.nodes[..=g.output];
        let mut readers = vec![0usize; nodes.len()];
        for (j, n) in nodes.iter().enumerate() {
            if live[j] && n.op != Op::Detach {
                for &k in &n.inputs {
                    readers[k] += 1;
                }
            }
        }
        for (i, n) in nodes.iter().enumerate() {
            let fed = n.inputs.iter().any(|&k| nodes[k].flows);
            if n.risky && fed && live[n.inputs[0]] {
                self.risky_on_live += 1;
            }
            if n.flows && readers[i] >= 2 {
                self.fan_out += 1;
            }
            if !live[i] || !fed {
                continue;
            }
            *self.rules.entry(n.op.name()).or_default() += 1;
            let (first, size) = (&nodes[n.inputs[0]], n.rows * n.cols);
            if let Op::MatMul | Op::Linear(_) = n.op {
                if first.rows * first.cols * n.cols >= PARALLEL_MADDS {
                    self.parallel_products += 1;
                }
            }
            let elementwise = !matches!(
                n.op,
                Op::MatMul
                    | Op::Linear(_)
                    | Op::Transpose
                    | Op::Sum(_)
                    | Op::Mean(_)
                    | Op::Detach
                    | Op::Mse
                    | Op::Sse
                    | Op::Bce(_)
            );
            if elementwise && size >= PARALLEL_ENTRIES {
                self.parallel_elementwise += 1;
            }
            if n.inputs
                .iter()
                .enumerate()
                .any(|(p, k)| n.inputs[..p].contains(k))
            {
                self.repeated += 1;
            }
            let x = n.inputs[0];
            let used_once = nodes
                .iter()
                .filter(|u| u.op != Op::Detach && u.inputs.contains(&x))
                .count()
                == 1;
            if matches!(n.op, Op::Linear(_))
                && n.cols == 1
                && matches!(first.op, Op::Linear(_))
                && first.flows
                && used_once
                && first.rows * first.cols >= first.rows + first.cols
            {
                self.factorable += 1;
            }
        }
        self.seeded += usize::from(g.mode == OutMode::Seeded);
        self.intermediate_output += usize::from(g.output + 1 < g.nodes.len());
        self.cases += 1;
    }
}

/// The seeds of a batch; or the one in `CHAINRULE_GRAPH_SEED`; or, with `CHAINRULE_GRAPH_CASES=n`,
/// `n` cases from the batch's first seed (a longer soak). The flag says whether it is the batch's
/// own seeds, whose coverage the test asserts.
fn seeds(range: Range<u64>) -> (Vec<u64>, bool) {
    let var = |name: &str| {
        std::env::var(name).ok().map(|s| {
            s.trim()
                .parse::<u64>()
                .unwrap_or_else(|_| panic!("{name} must be a whole number, not {s:?}"))
        })
    };
    if let Some(seed) = var("CHAINRULE_GRAPH_SEED") {
        (vec![seed], false)
    } else if let Some(cases) = var("CHAINRULE_GRAPH_CASES") {
        ((range.start..range.start + cases).collect(), false)
    } else {
        (range.collect(), true)
    }
}

fn run_batch(test: &str, range: Range<u64>, sweep: Sweep) -> Option<Coverage> {
    let (seeds, own) = seeds(range);
    let mut cov = Coverage::default();
    for seed in seeds {
        if let Err(e) = run_case(seed, sweep, test, &mut cov) {
            panic!("{e}");
        }
    }
    own.then_some(cov)
}

/// Asserts `count ≥ least` for a coverage figure, naming it.
fn covers(what: &str, count: usize, least: usize) {
    assert!(
        count >= least,
        "the batch covered {what} {count} times, fewer than {least}"
    );
}

// ---------------------------------------------------------------------------------------------
// The interpreter against central differences of its own forward pass
// ---------------------------------------------------------------------------------------------

/// Step of the central differences, relative to `1 + |x|`: their truncation error (h²·f''') and
/// rounding error (ε·|L|/h) both stay near 1e-10 for the values these graphs take.
const FD_STEP: f64 = 1e-5;
/// Tolerance of a central difference against the interpreter's adjoint, relative to
/// `1 + magnitude of the adjoint's terms`: five orders above the difference's own error, and far
/// below the error of a wrong rule.
const FD_TOL: f64 = 1e-5;

/// Checks the interpreter's adjoint of every parameter entry against central differences of its
/// forward pass (detached nodes frozen). Entries where a difference with a tenth of the step
/// disagrees with the first (a kink within the step) are counted as unsure, not checked.
fn check_by_differences(g: &Graph, d: &Draw) -> Result<(usize, usize), String> {
    let out = g.output;
    let ev = evaluate(g, &d.leaves, out, None);
    let want = reverse(g, &ev, &d.seed);
    let loss = |leaves: &[Vec<f64>]| -> f64 {
        let e = evaluate(g, leaves, out, Some(&ev.v));
        e.v[out].data.iter().zip(&d.seed).map(|(v, s)| v * s).sum()
    };
    let mut leaves = d.leaves.clone();
    let (mut checked, mut unsure) = (0, 0);
    for p in (0..=out).filter(|&p| g.nodes[p].op == Op::Param) {
        for e in 0..leaves[p].len() {
            let x = d.leaves[p][e];
            if x == 0.0 || (g.nodes[p].kind == Some(Kind::Unit) && x == 1.0) {
                // exact zeros and ones sit on kinks on purpose (relu, the clip of bce)
                continue;
            }
            let mut diff = |h: f64| {
                leaves[p][e] = x + h;
                let up = loss(&leaves);
                leaves[p][e] = x - h;
                let down = loss(&leaves);
                leaves[p][e] = x;
                (up - down) / (2.0 * h)
            };
            let (w, tol) = (want.adj[p].data[e], FD_TOL * (1.0 + want.am[p].data[e]));
            let h = FD_STEP * (1.0 + x.abs());
            let d1 = diff(h);
            if (d1 - w).abs() <= tol {
                checked += 1;
                continue;
            }
            let d2 = diff(h / 10.0);
            if (d1 - d2).abs() > tol {
                unsure += 1;
                continue;
            }
            return Err(format!(
                "n{p} entry {e} (= {x}): central differences {d1:e} and {d2:e} (a tenth of the \
                 step), interpreter {w:e}"
            ));
        }
    }
    Ok((checked, unsure))
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn gemm_shapes_reach_the_blocked_and_parallel_paths() {
    let madds = |&(m, k, n): &(usize, usize, usize)| m * k * n;
    assert!(GEMM_SHAPES.iter().all(|s| madds(s) > SMALL_GEMM));
    assert!(
        GEMM_SHAPES
            .iter()
            .filter(|s| madds(s) >= PARALLEL_MADDS)
            .count()
            >= 4
    );
    assert!(GEMM_SHAPES
        .iter()
        .any(|s| madds(s) < PARALLEL_MADDS && s.1 > THIN_K && s.2 > 1));
    assert!(GEMM_SHAPES.iter().any(|&(m, _, _)| m > MC));
    assert!(GEMM_SHAPES.iter().any(|&(_, k, _)| k > KC));
    assert!(GEMM_SHAPES.iter().any(|&(_, _, n)| n > NC));
    assert!(GEMM_SHAPES
        .iter()
        .any(|&(m, _, n)| m % MR != 0 && n % NR != 0));
    assert!(GEMM_SHAPES.iter().any(|&(_, k, _)| k <= THIN_K));
    assert!(GEMM_SHAPES.iter().any(|&(_, _, n)| n == 1));
    assert!(WIDE_SHAPES.iter().any(|&(r, c)| r * c == PARALLEL_ENTRIES));
    assert!(WIDE_SHAPES.iter().any(|&(r, c)| r * c < PARALLEL_ENTRIES));
    assert!(WIDE_SHAPES
        .iter()
        .any(|&(r, c)| r * c > PARALLEL_ENTRIES && r > 1));
}

#[test]
fn random_graphs_match_the_interpreter() {
    let test = "random_graphs_match_the_interpreter";
    let Some(cov) = run_batch(test, 0..3000, Sweep::Plain) else {
        return;
    };
    println!("{cov:#?}");
    // about half of what the seeds give: a change that stops generating something fails here
    for op in ALL_OPS {
        covers(op, cov.rules.get(op).copied().unwrap_or(0), 25);
    }
    covers(
        "risky dead ends reading a live node",
        cov.risky_on_live,
        400,
    );
    covers("parallel products", cov.parallel_products, 15);
    covers("parallel elementwise ops", cov.parallel_elementwise, 35);
    covers("factorable width-1 layers", cov.factorable, 35);
    covers("repeated inputs", cov.repeated, 300);
    covers("fan-out", cov.fan_out, 450);
    covers("seeded outputs", cov.seeded, 300);
    covers(
        "outputs with nodes after them",
        cov.intermediate_output,
        1000,
    );
    covers("decoy sweeps", cov.decoys, 1300);
}

#[test]
fn random_graphs_match_the_interpreter_in_anomaly_mode() {
    let test = "random_graphs_match_the_interpreter_in_anomaly_mode";
    let Some(cov) = run_batch(test, 1_000_000..1_000_200, Sweep::Anomaly) else {
        return;
    };
    covers("cases", cov.cases, 200);
    covers("seeded outputs", cov.seeded, 10);
}

#[test]
fn random_graphs_match_the_interpreter_with_the_packed_kernel_everywhere() {
    // The same check with large products routed to the packed GEMM on this thread (its portable
    // micro-kernel where the CPU has no AVX-512F), so its blocks and cuts meet random graphs on
    // every machine.
    let test = "random_graphs_match_the_interpreter_with_the_packed_kernel_everywhere";
    let batch = || run_batch(test, 3_000_000..3_000_600, Sweep::Plain);
    let Some(cov) = chainrule::kernels::with_packed_everywhere(batch) else {
        return;
    };
    covers("cases", cov.cases, 600);
    covers("parallel products", cov.parallel_products, 3);
}

#[test]
fn random_graphs_match_the_interpreter_through_backward_trace() {
    let test = "random_graphs_match_the_interpreter_through_backward_trace";
    let Some(cov) = run_batch(test, 2_000_000..2_000_200, Sweep::Trace) else {
        return;
    };
    covers("cases", cov.cases, 200);
    covers("risky dead ends reading a live node", cov.risky_on_live, 10);
}

#[test]
fn the_interpreter_matches_central_differences() {
    let opts = Opts {
        risky: true,
        seeded: true,
        big: false,
    };
    let (seeds, own) = seeds(3_000_000..3_001_000);
    let (mut checked, mut unsure) = (0, 0);
    let mut cov = Coverage::default();
    for seed in seeds {
        let g = generate(seed, opts);
        let d = draw(&g, seed, 0);
        match check_by_differences(&g, &d) {
            Ok((c, u)) => (checked, unsure) = (checked + c, unsure + u),
            Err(e) => panic!(
                "seed {seed}: {e}\n{g}rerun this case alone: CHAINRULE_GRAPH_SEED={seed} cargo \
                 test --release --test random_graphs the_interpreter_matches_central_differences"
            ),
        }
        cov.add(&g);
    }
    if !own {
        return;
    }
    println!("{checked} entries checked, {unsure} unsure; {cov:#?}");
    assert!(checked >= 10_000, "only {checked} entries checked");
    assert!(
        unsure * 100 < checked,
        "{unsure} unsure entries of {checked}"
    );
    for op in ALL_OPS {
        covers(op, cov.rules.get(op).copied().unwrap_or(0), 5);
    }
}
