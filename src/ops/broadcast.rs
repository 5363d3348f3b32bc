//! `y = a ∘ b` for `∘` one of `+ − ⊙ ⊘`, when the shapes differ but **broadcast** by NumPy's
//! rule: along each axis the two sizes are equal or one of them is 1, and a size-1 side is
//! copied (stretched) to the other's size. An m×n operand meets a 1×n row, an m×1 column or a
//! 1×1 scalar, on either side; an m×1 column and a 1×n row make an m×n.
//!
//! Entry by entry it is the same-shape op on the stretched operands, so the local derivatives
//! are those of [`add`](super::add), [`sub`](super::sub), [`mul`](super::mul) and
//! [`div`](super::div). What is new is the stretch: an entry `b[j]` of a 1×n row is copied to
//! every row, so it is used m times, and a value used m times receives the sum of its m
//! gradients (the chain rule's `+=` for fan-out). The gradient of a broadcast is a sum over the
//! axes it was stretched along, e.g. for `Y = A ⊙ b`, `b` a row: `db[j] += Σ_i G[i][j] A[i][j]`.
//!
//! Same shapes never come here: `a ∘ b` checks the shapes once when it records, and equal ones
//! record the same-shape op ([`Op::Add`], …), whose loops know nothing of broadcasting. `m×n + 1×n`
//! records [`add_row`](super::add_row), the lab's name for the bias.

use super::{add, div, mul, sub, Backward, Op, Operand};
use crate::kernels::pool::halves;
use crate::tape::{fail, Var};

/// The four elementwise binary ops that broadcast.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Binary {
    /// `a + b`.
    Add,
    /// `a − b`.
    Sub,
    /// `a ⊙ b`.
    Mul,
    /// `a ⊘ b`.
    Div,
}

impl Binary {
    /// The name of the same-shape op: `"add"`, `"sub"`, `"mul"`, `"div"`.
    pub fn name(self) -> &'static str {
        match self {
            Binary::Add => "add",
            Binary::Sub => "sub",
            Binary::Mul => "mul",
            Binary::Div => "div",
        }
    }
}

/// Along which axes an operand of a broadcast is copied to fill the output's shape; its gradient
/// is summed along the same axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stretch {
    /// Not stretched: the operand has the output's shape.
    None,
    /// A 1×n row copied to every one of the m rows: its gradient is summed over the rows
    /// (`Σ_rows`, giving 1×n).
    Rows,
    /// An m×1 column copied to every one of the n columns: its gradient is summed over the
    /// columns (`Σ_cols`, giving m×1).
    Cols,
    /// A 1×1 scalar copied everywhere: its gradient is the sum of all entries (`Σ_all`).
    Both,
}

impl Stretch {
    /// How an operand of shape `(rows, cols)` is stretched to the output `(m, n)`.
    fn of((rows, cols): (usize, usize), (m, n): (usize, usize)) -> Stretch {
        match (rows == 1 && m != 1, cols == 1 && n != 1) {
            (false, false) => Stretch::None,
            (true, false) => Stretch::Rows,
            (false, true) => Stretch::Cols,
            (true, true) => Stretch::Both,
        }
    }
}

/// The name of the broadcasting form of `f`: `add_broadcast`, …, `div_broadcast`.
pub(crate) fn name(f: Binary) -> &'static str {
    match f {
        Binary::Add => "add_broadcast",
        Binary::Sub => "sub_broadcast",
        Binary::Mul => "mul_broadcast",
        Binary::Div => "div_broadcast",
    }
}

/// The output shape of broadcasting `a` with `b`, if they broadcast: along each axis the sizes
/// are equal or one is 1 (and the output takes the other).
pub(crate) fn shape_of(
    (ar, ac): (usize, usize),
    (br, bc): (usize, usize),
) -> Option<(usize, usize)> {
    let axis = |x: usize, y: usize| match (x, y) {
        _ if x == y => Some(x),
        (1, _) => Some(y),
        (_, 1) => Some(x),
        _ => None,
    };
    Some((axis(ar, br)?, axis(ac, bc)?))
}

/// Records `a ∘ b` for shapes `sa ≠ sb` that broadcast, or panics naming the op and both
/// shapes. Out of line and cold: `a ∘ b` comes here only when the shapes differ, after the one
/// comparison the same-shape path makes anyway.
#[cold]
#[inline(never)]
#[track_caller]
pub(crate) fn record<'t>(
    f: Binary,
    a: Var<'t>,
    b: Var<'t>,
    sa: (usize, usize),
    sb: (usize, usize),
) -> Var<'t> {
    let Some((m, n)) = shape_of(sa, sb) else {
        fail(format_args!(
            "{}: cannot broadcast {}x{} ({}) with {}x{} ({}): along each axis the sizes must be \
             equal or one of them 1 (an m×n with a 1×n row, an m×1 column or a 1×1 scalar, or \
             an m×1 column with a 1×n row)",
            f.name(),
            sa.0,
            sa.1,
            a.id,
            sb.0,
            sb.1,
            b.id
        ))
    };
    let op = Op::Broadcast(f, Stretch::of(sa, (m, n)), Stretch::of(sb, (m, n)));
    a.tape.record(op, [a, b], m, n)
}

/// Row `i` of the output as operand `x` holds it: its own row `i`, or its only row if it is
/// stretched along the rows.
#[inline(always)]
fn row(x: &[f64], (rows, cols): (usize, usize), i: usize) -> &[f64] {
    let r = if rows == 1 { 0 } else { i };
    &x[r * cols..(r + 1) * cols]
}

/// Forward: `y[i][j] = a[i'][j'] ∘ b[i''][j'']`, each operand read at its own row and column
/// or at 0 along an axis it is stretched over (rows on two threads when large).
// Out of line, like the rule: `Tape::record` inlines the forward dispatch, which must stay as
// small as it was for the lab's ops.
#[inline(never)]
pub(crate) fn forward(f: Binary, x: &[Operand<'_>], y: &mut [f64]) {
    match f {
        Binary::Add => map(x, y, |a, b| a + b),
        Binary::Sub => map(x, y, |a, b| a - b),
        Binary::Mul => map(x, y, |a, b| a * b),
        Binary::Div => map(x, y, |a, b| a / b),
    }
}

/// `y = f(a, b)` with `a` and `b` broadcast to `y`'s shape. Each entry is the same expression
/// as in the same-shape kernel, so the numbers are those of the operand tiled by hand.
#[inline(always)]
fn map(x: &[Operand<'_>], y: &mut [f64], f: impl Fn(f64, f64) -> f64 + Sync) {
    let (a, b) = (&x[0], &x[1]);
    let n = a.cols.max(b.cols);
    if y.is_empty() {
        return;
    }
    let (sa, sb) = ((a.rows, a.cols), (b.rows, b.cols));
    // Step 0 along a stretched column axis, 1 otherwise.
    let (step_a, step_b) = (usize::from(a.cols != 1), usize::from(b.cols != 1));
    let work = y.len();
    halves(y, n, work, |first, y| {
        for (k, y_row) in y.chunks_exact_mut(n).enumerate() {
            let i = first / n + k;
            let (a_row, b_row) = (row(a.value, sa, i), row(b.value, sb, i));
            for (j, y) in y_row.iter_mut().enumerate() {
                *y = f(a_row[j * step_a], b_row[j * step_b]);
            }
        }
    });
}

/// Backward: the same-shape op's rule entry by entry, each term added into the entry of the
/// operand it came from, so a stretched operand receives the sum of its copies' terms:
/// `da += Σ (g ∘' …)` over the axes `a` was stretched along (none for a full-shape operand).
/// The sums run over rows, then columns, in order.
// Out of line: the sweep dispatches every node through one `match`, and this rule is rare.
#[inline(never)]
pub(crate) fn backward(f: Binary, cx: &mut Backward<'_>) {
    let (g, a, b, y) = (cx.upstream, cx.input(0), cx.input(1), cx.output());
    let (sa, sb) = (cx.input_shape(0), cx.input_shape(1));
    let n = sa.1.max(sb.1);
    let at_a = |i: usize, j: usize| index(sa, i, j);
    let at_b = |i: usize, j: usize| index(sb, i, j);
    if let Some(da) = cx.grad(0) {
        match f {
            // da += g (add, sub); da += g ⊙ b (mul); da += g ⊘ b (div)
            Binary::Add | Binary::Sub => scatter(da, sa, n, g, |k, _, _| g[k]),
            Binary::Mul => scatter(da, sa, n, g, |k, i, j| g[k] * b[at_b(i, j)]),
            Binary::Div => scatter(da, sa, n, g, |k, i, j| g[k] / b[at_b(i, j)]),
        }
    }
    if let Some(db) = cx.grad(1) {
        match f {
            // db += g (add); db −= g (sub); db += g ⊙ a (mul); db −= g ⊙ y ⊘ b (div).
            // `d − t` and `d + (−t)` are the same number in IEEE arithmetic.
            Binary::Add => scatter(db, sb, n, g, |k, _, _| g[k]),
            Binary::Sub => scatter(db, sb, n, g, |k, _, _| -g[k]),
            Binary::Mul => scatter(db, sb, n, g, |k, i, j| g[k] * a[at_a(i, j)]),
            Binary::Div => scatter(db, sb, n, g, |k, i, j| -(g[k] * y[k] / b[at_b(i, j)])),
        }
    }
}

/// Where output entry `(i, j)` reads an operand of shape `(rows, cols)`.
#[inline(always)]
fn index((rows, cols): (usize, usize), i: usize, j: usize) -> usize {
    let r = if rows == 1 { 0 } else { i };
    let c = if cols == 1 { 0 } else { j };
    r * cols + c
}

/// `d[at(i, j)] += term(k, i, j)` for every output entry `k = i·n + j`, in order: an operand
/// stretched along an axis sums its terms along it.
#[inline(always)]
fn scatter(
    d: &mut [f64],
    shape: (usize, usize),
    n: usize,
    g: &[f64],
    term: impl Fn(usize, usize, usize) -> f64,
) {
    let m = g.len().checked_div(n).unwrap_or(0);
    for i in 0..m {
        for j in 0..n {
            d[index(shape, i, j)] += term(i * n + j, i, j);
        }
    }
}

/// The rule for input `position` of `f` with that input stretched as `stretch`, as the trace
/// prints it: the same-shape rule, summed over the stretched axes.
pub(crate) fn rule(f: Binary, stretch: Stretch, position: usize) -> &'static str {
    let position = position.min(1);
    let k = match stretch {
        Stretch::None => {
            return match f {
                Binary::Add => add::RULES[position],
                Binary::Sub => sub::RULES[position],
                Binary::Mul => mul::RULES[position],
                Binary::Div => div::RULES[position],
            }
        }
        Stretch::Rows => 0,
        Stretch::Cols => 1,
        Stretch::Both => 2,
    };
    let rules = match (f, position) {
        (Binary::Add, 0) | (Binary::Sub, 0) => &SUMMED_PASS_A,
        (Binary::Add, _) => &SUMMED_PASS_B,
        (Binary::Sub, _) => &SUMMED_NEG_B,
        (Binary::Mul, 0) => &SUMMED_MUL_A,
        (Binary::Mul, _) => &SUMMED_MUL_B,
        (Binary::Div, 0) => &SUMMED_DIV_A,
        (Binary::Div, _) => &SUMMED_DIV_B,
    };
    rules[k]
}

/// A rule summed over the rows, the columns and all entries: `lhs Σ_rows term`, ….
macro_rules! summed {
    ($lhs:literal, $term:literal) => {
        [
            concat!($lhs, " Σ_rows ", $term),
            concat!($lhs, " Σ_cols ", $term),
            concat!($lhs, " Σ_all ", $term),
        ]
    };
}

const SUMMED_PASS_A: [&str; 3] = summed!("dL/d{a} +=", "dL/d{y}");
const SUMMED_PASS_B: [&str; 3] = summed!("dL/d{b} +=", "dL/d{y}");
const SUMMED_NEG_B: [&str; 3] = summed!("dL/d{b} −=", "dL/d{y}");
const SUMMED_MUL_A: [&str; 3] = summed!("dL/d{a} +=", "(dL/d{y} ⊙ {b})");
const SUMMED_MUL_B: [&str; 3] = summed!("dL/d{b} +=", "(dL/d{y} ⊙ {a})");
const SUMMED_DIV_A: [&str; 3] = summed!("dL/d{a} +=", "(dL/d{y} ⊘ {b})");
const SUMMED_DIV_B: [&str; 3] = summed!("dL/d{b} −=", "(dL/d{y} ⊙ {y} ⊘ {b})");
