//! The 1×1 fast path of recording and of the sweep (`src/ops/scalar.rs`) against the general
//! path: every elementwise op recorded on scalars and on 1×3 rows holding the same numbers
//! (which take the slice kernels and the rules in `ops/<op>.rs`), values and gradients compared
//! by their bits. The numbers include zeros of both signs, so a fast path that wrote `0 + c`
//! where the rule writes `c` (or the reverse) would show as a `−0` against a `+0`.

use chainrule::{Matrix, Tape, Var};

/// Entries where the ops' branches differ: both zeros, the relu kink, signs, and values away
/// from the domain edges of `log`, `sqrt` and `powf`.
const XS: [f64; 9] = [0.0, -0.0, 0.75, -1.25, 2.5, -3.0, 1.0, 0.3, -0.6];

/// The unary ops, each on a handle (`log`, `sqrt`, `powf` see `|x| + 0.5` so they stay defined).
type Unary = for<'t> fn(Var<'t>) -> Var<'t>;
const UNARY: [(&str, Unary); 13] = [
    ("scale", |x| x.scale(-1.5)),
    ("neg", |x| -x),
    ("add_scalar", |x| x + 0.25),
    ("exp", |x| x.exp()),
    ("log", |x| x.abs().add_scalar(0.5).log()),
    ("powf", |x| x.abs().add_scalar(0.5).powf(1.7)),
    ("square", |x| x.square()),
    ("sigmoid", |x| x.sigmoid()),
    ("relu", |x| x.relu()),
    ("tanh", |x| x.tanh()),
    ("sqrt", |x| x.abs().add_scalar(0.5).sqrt()),
    ("abs", |x| x.abs()),
    ("detach", |x| x.detach() * x),
];

/// The binary ops (`div` sees `|b| + 0.5`), and `x ∘ x` for each (one node on both
/// sides: `x − x` is meant).
type Binary = for<'t> fn(Var<'t>, Var<'t>) -> Var<'t>;
#[allow(clippy::eq_op)]
const BINARY: [(&str, Binary); 8] = [
    ("add", |a, b| a + b),
    ("sub", |a, b| a - b),
    ("mul", |a, b| a * b),
    ("div", |a, b| a / b.abs().add_scalar(0.5)),
    ("add same", |a, _| a + a),
    ("sub same", |a, _| a - a),
    ("mul same", |a, _| a * a),
    ("div same", |a, _| a / a.abs().add_scalar(0.5)),
];

/// Values and gradients of the graph `f` over the parameters `xs` (one per operand), recorded
/// on 1×1 nodes, one tape per entry: `[value of y, dL/dx for each x]` per entry, with
/// `L = y·w + y·v` (two consumers, so the second adds to what the first wrote) for constants
/// `w`, `v`.
fn on_scalars(xs: &[[f64; 3]], f: &impl Graph) -> Vec<Vec<u64>> {
    (0..3)
        .map(|k| {
            let tape = Tape::new();
            let vars: Vec<Var<'_>> = xs.iter().map(|x| tape.scalar(x[k])).collect();
            let y = f(&vars);
            let (w, v) = (tape.constant(W[k]), tape.constant(V[k]));
            let loss = y * w + y * v;
            let grads = tape.backward(loss);
            let mut bits = vec![y.item().to_bits()];
            bits.extend(vars.iter().map(|&x| grads.wrt(x).item().to_bits()));
            bits
        })
        .collect()
}

/// The same graph on 1×3 rows (the general path), `L = sum(y ⊙ w + y ⊙ v)`: the sum hands each
/// entry the upstream 1, as the seed does on a scalar tape.
fn on_rows(xs: &[[f64; 3]], f: &impl Graph) -> Vec<Vec<u64>> {
    let tape = Tape::new();
    let vars: Vec<Var<'_>> = xs
        .iter()
        .map(|x| tape.param(&Matrix::from_rows(&[*x])))
        .collect();
    let y = f(&vars);
    let (w, v) = (
        tape.input(&Matrix::from_rows(&[W])),
        tape.input(&Matrix::from_rows(&[V])),
    );
    let loss = (y * w + y * v).sum();
    let grads = tape.backward(loss);
    let value = y.value();
    (0..3)
        .map(|k| {
            let mut bits = vec![value[(0, k)].to_bits()];
            bits.extend(vars.iter().map(|&x| grads.wrt(x)[(0, k)].to_bits()));
            bits
        })
        .collect()
}

/// A graph over a list of operands.
trait Graph: for<'t> Fn(&[Var<'t>]) -> Var<'t> {}
impl<F: for<'t> Fn(&[Var<'t>]) -> Var<'t>> Graph for F {}

/// Panics naming `what` unless `f` gives the same bits on scalars and on rows.
fn same_bits(what: &str, xs: &[[f64; 3]], f: impl Graph) {
    assert_eq!(on_scalars(xs, &f), on_rows(xs, &f), "{what}");
}

const W: [f64; 3] = [0.7, -1.3, 0.0];
const V: [f64; 3] = [-0.0, 2.1, -0.4];

#[test]
fn every_unary_op_on_scalars_matches_the_slice_path_bit_for_bit() {
    for (name, op) in UNARY {
        for x in XS.chunks(3) {
            let xs = [[x[0], x[1], x[2]]];
            same_bits(&format!("{name} at {x:?}"), &xs, move |v| op(v[0]));
        }
    }
}

#[test]
fn every_binary_op_on_scalars_matches_the_slice_path_bit_for_bit() {
    for (name, op) in BINARY {
        for a in XS.chunks(3) {
            for b in XS.chunks(3).rev() {
                let xs = [[a[0], a[1], a[2]], [b[0], b[1], b[2]]];
                same_bits(&format!("{name} at {a:?}, {b:?}"), &xs, move |v| {
                    op(v[0], v[1])
                });
            }
        }
    }
}

/// A micrograd-style neuron chain on scalars, with fan-out, dead branches and constants, against
/// the same chain on rows: the sweep's fast path marks and skips exactly what the rules do.
#[test]
fn a_scalar_network_with_fan_out_and_dead_branches_matches_the_slice_path() {
    let xs = [[0.5, -1.5, 2.0], [1.25, 0.5, -0.75], [-0.25, 0.0, 3.0]];
    same_bits("network", &xs, network);
}

/// `a, b, c ↦ √(|z| + 0.1) + z` through a relu neuron, fan-out and a dead branch.
fn network<'t>(v: &[Var<'t>]) -> Var<'t> {
    let (a, b, c) = (v[0], v[1], v[2]);
    let h = (a * b + c).relu();
    let _dead = (h * a).exp(); // recorded, never used by the output
    let k = (h - a).tanh() * h + (b * 0.5).sigmoid();
    let z = k * k - c.square() + h;
    z.abs().add_scalar(0.1).sqrt() + z
}
