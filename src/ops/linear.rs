//! A dense layer `Y = f(X · W + b)` as one op: `X` m×k, `W` k×n, `b` 1×n added to every row,
//! then the activation `f` (sigmoid, relu, tanh, or none: `linear` is the affine part alone).
//!
//! It is [`matmul`](super::matmul), [`add_row`](super::add_row) and the activation's op, fused:
//! the same numbers entry by entry (the product, plus the bias, through `f`), without storing
//! `X · W` or `X · W + b` as nodes of their own. With `G = dL/dY`, the rules are those ops' rules
//! chained: first `δ = dL/d(X·W + b) = G ⊙ f'(Y)` (from the saved output: `σ' = y(1 − y)`,
//! `relu' = [y > 0]`, `tanh' = 1 − y²`, `1` for none), then
//! `dX += δ · Wᵀ`, `dW += Xᵀ · δ`, `db[j] += Σ_i δ[i][j]`.
//!
//! [`crate::nn`] records one such node per layer with a bias (PyTorch's `nn.Linear` is one
//! `addmm` node too; fusing the activation is what oneDNN's post-ops and cuBLASLt's epilogues do).
//! The kernels are shared with the hand path (`kernels/dense.rs`): the forward pass applies the
//! bias and `f` as the product finishes each entry, and one pass over `δ`'s rows also sums the
//! bias gradient (and, for an input of at most `THIN_K` columns, the weight gradient).

use super::{matmul, Backward, Op, Operand};
use crate::kernels::dense::{delta_pass, Epilogue, Upstream};
use crate::kernels::tiny::{self, TINY};
use crate::kernels::Activation;
use crate::kernels::{gemm_epilogue, Layout, THIN_K};
use crate::tape::{fail, Var};

/// The op's name with activation `f`: `linear`, `linear_sigmoid`, `linear_relu`, `linear_tanh`.
pub(crate) fn name(f: Activation) -> &'static str {
    match f {
        Activation::Identity => "linear",
        Activation::Sigmoid => "linear_sigmoid",
        Activation::Relu => "linear_relu",
        Activation::Tanh => "linear_tanh",
    }
}

impl<'t> Var<'t> {
    /// `self · w + b`, with the 1×n row `b` added to every row: (m×k) · (k×n) + (1×n) → m×n.
    ///
    /// ```
    /// use chainrule::{Matrix, Tape};
    /// let tape = Tape::new();
    /// let x = tape.input(&Matrix::from_rows(&[[1.0, 2.0]]));
    /// let w = tape.param(&Matrix::from_rows(&[[3.0], [4.0]]));
    /// let b = tape.param(&Matrix::scalar(0.5));
    /// assert_eq!(x.linear(w, b).item(), 11.5); // 1·3 + 2·4 + 0.5
    /// ```
    ///
    /// # Panics
    /// If the inner sizes differ or `b` is not 1×n, naming the shapes, like `matmul` and
    /// `add_row`.
    #[inline]
    #[track_caller]
    pub fn linear(self, w: Var<'t>, b: Var<'t>) -> Var<'t> {
        self.linear_act(w, b, Activation::Identity)
    }

    /// `f(self · w + b)`: a dense layer as one node, [`linear`](Var::linear) followed by the
    /// activation `f` (the same numbers as `self.linear(w, b).relu()`, and so on).
    ///
    /// ```
    /// use chainrule::nn::Activation;
    /// use chainrule::{Matrix, Tape};
    /// let tape = Tape::new();
    /// let x = tape.input(&Matrix::from_rows(&[[1.0, 2.0]]));
    /// let w = tape.param(&Matrix::from_rows(&[[3.0], [-4.0]]));
    /// let b = tape.param(&Matrix::scalar(0.5));
    /// assert_eq!(x.linear_act(w, b, Activation::Relu).item(), 0.0); // max(3 − 8 + 0.5, 0)
    /// ```
    ///
    /// # Panics
    /// As [`linear`](Var::linear), with the op's name (`linear_relu`, …) in the message.
    #[inline]
    #[track_caller]
    pub fn linear_act(self, w: Var<'t>, b: Var<'t>, f: Activation) -> Var<'t> {
        let op = Op::Linear(f);
        // This file's `name`, not `Op::name`: the small match inlines.
        let name = name(f);
        self.tape.check_owner(name, w);
        self.tape.check_owner(name, b);
        let ((m, k), (k2, n), (br, bc)) = (self.shape(), w.shape(), b.shape());
        if k != k2 {
            fail(format_args!(
                "{name}: cannot multiply {m}x{k} ({}) by {k2}x{n} ({}): inner sizes {k} and {k2} differ",
                self.id, w.id
            ));
        }
        if br != 1 || bc != n {
            fail(format_args!(
                "{name}: cannot add {br}x{bc} ({}) to each row of {m}x{n}: the bias must be 1x{n}",
                b.id
            ));
        }
        self.tape.record(op, [self, w, b], m, n)
    }
}

/// Forward: `Y = f(X · W + b)`, the bias and `f` applied to each entry as the product finishes it.
#[inline(never)]
pub(crate) fn forward(f: Activation, x: &[Operand<'_>], y: &mut [f64]) {
    let (xs, w, b) = (&x[0], &x[1], x[2].value);
    let (m, k, n) = (xs.rows, xs.cols, w.cols);
    let epilogue = Epilogue {
        bias: Some(b),
        activation: f,
    };
    gemm_epilogue(
        m,
        k,
        n,
        xs.value,
        Layout::AsIs,
        w.value,
        Layout::AsIs,
        y,
        epilogue,
    );
}

/// Backward: `δ = G ⊙ f'(Y)`, then `dX += δ · Wᵀ`, `dW += Xᵀ · δ`, `db += Σ_rows δ`.
///
/// One pass over the rows makes `δ` (kept in the tape's scratch space only if a product needs
/// it; with no activation, `δ` is `G` itself) and sums `db`, and `dW` too when `X` is thin.
/// Under a width-1 layer, `dX = δ · Wᵀ` is left as its two factors, and the rule of the layer
/// below reads `G` from them (as the hand path does).
// Out of line: a scalar graph's sweep dispatches every node through the same `match`, and this
// rule, large and never used there, would otherwise be inlined into it.
#[inline(never)]
pub(crate) fn backward(f: Activation, cx: &mut Backward<'_>) {
    if tiny_backward(f, cx) {
        return;
    }
    let g = cx.upstream;
    let (x, w, y) = (cx.input(0), cx.input(1), cx.output());
    let (m, n) = cx.shape();
    let k = cx.input_shape(0).1;
    // Under a width-1 layer, G may have been kept as the factors of δ' · W'ᵀ (see below).
    let upstream = match cx.factored_upstream() {
        Some((col, row)) => Upstream::Outer { col, row },
        None => Upstream::Matrix(g),
    };
    let stored = matches!(upstream, Upstream::Matrix(_));
    let (wants_x, wants_w, wants_b) = (cx.wants(0), cx.wants(1), cx.wants(2));
    // A thin input's weight gradient is summed in the pass; otherwise it is a product.
    let thin_w = wants_w && k <= THIN_K;
    // δ is G itself with no activation, if G is stored.
    let keep = (f != Activation::Identity || !stored) && (wants_x || (wants_w && !thin_w));
    let mut scratch = std::mem::take(&mut cx.space.scratch);
    let (delta_len, sums_len) = (if keep { m * n } else { 0 }, n + k * n);
    if scratch.len() < delta_len + sums_len {
        scratch.resize(delta_len + sums_len, 0.0);
    }
    let (delta, sums) = scratch.split_at_mut(delta_len);
    let (db, dw) = sums[..sums_len].split_at_mut(n);
    if keep || wants_b || thin_w {
        db.fill(0.0);
        dw.fill(0.0);
        delta_pass(
            f,
            n,
            upstream,
            y,
            keep.then_some(&mut *delta),
            wants_b.then_some(&mut *db),
            thin_w.then_some((x, &mut *dw)),
        );
    }
    let d: &[f64] = if keep { delta } else { g };
    // With one output column, dX = δ · Wᵀ is the outer product of δ (m) and W (k): if X is a
    // dense layer used only here, its rule reads the factors instead of a stored m×k matrix.
    if wants_x && !(n == 1 && cx.factor_grad(0, d, w)) {
        if let Some(dx) = cx.grad_out(0) {
            matmul::grad_a(d, w, (m, k, n), dx);
        }
    }
    if let Some(dw_out) = cx.grad_out(1) {
        if thin_w {
            dw_out.add(dw.iter().copied());
        } else {
            matmul::grad_b(x, d, (m, k, n), dw_out);
        }
    }
    if let Some(db_out) = cx.grad_out(2) {
        db_out.add(db.iter().copied());
    }
    cx.space.scratch = scratch;
}

/// The rule on one row of a layer of at most [`TINY`] inputs and outputs (`kernels/tiny.rs`):
/// `δ = g ⊙ f'(y)` on the stack, then `dX = δ · Wᵀ`, `dW = xᵀ · δ`, `db = δ`, each written by
/// its first contribution or added, in the general path's order. `false`, and nothing done,
/// for any other layer, or one whose upstream was kept factored.
#[inline(always)]
fn tiny_backward(f: Activation, cx: &mut Backward<'_>) -> bool {
    let (m, n) = cx.shape();
    let [xn, wn, bn] = cx.input_nodes3();
    let k = xn.cols();
    let tiny = 1..=TINY;
    // (One row's own dX is never kept factored: k entries stored take less room than 1 + k
    // factors; its upstream, a gradient handed down to it, is checked all the same.)
    if m != 1 || !tiny.contains(&k) || !tiny.contains(&n) || cx.factored_upstream().is_some() {
        return false;
    }
    let slot = |at: Option<(usize, bool)>| at.map(|(at, fresh)| tiny::Slot { at, fresh });
    let dx = slot(cx.grad_at(0, xn));
    let dw = slot(cx.grad_at(1, wn));
    let db = slot(cx.grad_at(2, bn));
    let values = cx.values();
    let job = tiny::LayerGrads {
        f,
        g: cx.upstream,
        y: cx.output(),
        x: &values[xn.range()],
        w: &values[wn.range()],
        grads: cx.grads_below(),
        dx,
        dw,
        db,
    };
    tiny::with_sizes(k, n, job).expect("sizes in 1..=TINY");
    true
}

/// The rules per input (`X`, `W`, `b`) for activation `f`, as the backward trace prints them:
/// the matmul and bias rules with `δ = dL/dY ⊙ f'(Y)` in place of `dL/dY`.
pub(crate) fn rules(f: Activation) -> &'static [&'static str] {
    match f {
        Activation::Identity => &[
            "dL/d{a} += dL/d{y} · {b}ᵀ",
            "dL/d{b} += {a}ᵀ · dL/d{y}",
            "dL/d{bias} += Σ_rows dL/d{y}",
        ],
        Activation::Sigmoid => &[
            "dL/d{a} += (dL/d{y} ⊙ {y} ⊙ (1 − {y})) · {b}ᵀ",
            "dL/d{b} += {a}ᵀ · (dL/d{y} ⊙ {y} ⊙ (1 − {y}))",
            "dL/d{bias} += Σ_rows (dL/d{y} ⊙ {y} ⊙ (1 − {y}))",
        ],
        Activation::Relu => &[
            "dL/d{a} += (dL/d{y} ⊙ [{y} > 0]) · {b}ᵀ",
            "dL/d{b} += {a}ᵀ · (dL/d{y} ⊙ [{y} > 0])",
            "dL/d{bias} += Σ_rows (dL/d{y} ⊙ [{y} > 0])",
        ],
        Activation::Tanh => &[
            "dL/d{a} += (dL/d{y} ⊙ (1 − {y}²)) · {b}ᵀ",
            "dL/d{b} += {a}ᵀ · (dL/d{y} ⊙ (1 − {y}²))",
            "dL/d{bias} += Σ_rows (dL/d{y} ⊙ (1 − {y}²))",
        ],
    }
}
