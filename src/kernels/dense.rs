//! The fused kernels of a dense layer `A = f(X·W + b)`, shared by the tape's `linear` op and the
//! hand-derived path.
//!
//! - Forward: the bias and the activation are applied to each entry of `X·W` as the product
//!   finishes it (an [`Epilogue`]: inside the packed GEMM, while the tile is still in cache), so
//!   the 8 MB pre-activation of a 4096×256 layer is never written and read back.
//! - Backward: one pass over the rows computes `δ = G ⊙ f'(A)` and, in the same pass, the bias
//!   gradient `Σ_rows δ` and, when `X` has at most [`THIN_K`] columns, the weight gradient
//!   `Xᵀ·δ` ([`delta_pass`]).
//!
//! The numbers are the unfused ops' numbers entry by entry: `z = Σ_p x·w`, then `z + b`, then
//! `f(z + b)`; `g · f'(a)` as the activation ops' rules write it. Only the sums over rows are
//! grouped differently when a pass is large enough to be split between the two threads.

use super::Activation;

use super::pool::{join, PARALLEL_ENTRIES};
use super::{sigmoid, THIN_K};

/// `z ← f(z)` over a row, in place (the `match` outside the loop, so the loop vectorizes).
#[inline(always)]
pub(crate) fn activate(activation: Activation, row: &mut [f64]) {
    match activation {
        Activation::Sigmoid => row.iter_mut().for_each(|z| *z = sigmoid(*z)),
        // max(z, 0), with NaN kept (and −0 too, as the packed kernel's vmaxpd).
        Activation::Relu => row
            .iter_mut()
            .for_each(|z| *z = if *z < 0.0 { 0.0 } else { *z }),
        Activation::Tanh => row.iter_mut().for_each(|z| *z = z.tanh()),
        Activation::Identity => {}
    }
}

/// What a product does to each entry of `C` once it is complete: add the bias row, then apply
/// the activation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Epilogue<'a> {
    /// Added to every row of `C` (one entry per column).
    pub(crate) bias: Option<&'a [f64]>,
    /// Applied after the bias.
    pub(crate) activation: Activation,
}

impl Epilogue<'_> {
    /// No bias, no activation: `C` is the product itself.
    pub(crate) const NONE: Epilogue<'static> = Epilogue {
        bias: None,
        activation: Activation::Identity,
    };

    /// Whether this epilogue leaves `C` as it is.
    #[inline]
    pub(crate) fn is_none(&self) -> bool {
        self.bias.is_none() && self.activation == Activation::Identity
    }

    /// Applies the epilogue to `row`, a stretch of one row of `C` starting at column `col`.
    #[inline(always)]
    pub(crate) fn apply(&self, row: &mut [f64], col: usize) {
        if let Some(bias) = self.bias {
            for (z, b) in row.iter_mut().zip(&bias[col..]) {
                *z += b;
            }
        }
        activate(self.activation, row);
    }
}

/// Where a [`delta_pass`] reads `G = ∂L/∂A`, the gradient of the layer's output.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Upstream<'a> {
    /// A stored m×n matrix.
    Matrix(&'a [f64]),
    /// The outer product `G[i][j] = col[i] · row[j]`: the δ of a width-1 layer above (`col`,
    /// m entries) times its weights (`row`, n entries), never stored. The tape keeps such a
    /// gradient factored when nothing else adds to it (`Backward::factor_grad`).
    Outer { col: &'a [f64], row: &'a [f64] },
}

/// `δ = G ⊙ f'(A)` for a layer's m×n output `a` (`f'` from the saved output: `σ' = a(1 − a)`,
/// `tanh' = 1 − a²`, `relu' = [a > 0]`), and in the same pass over the rows:
///
/// - `delta`, if given, receives `δ`;
/// - `db`, if given, gets `Σ_i δ[i][·]` added;
/// - `dw = (x, dw)`, if given, gets `Σ_i x[i][p] · δ[i][·]` added into row `p` of `dw` (`x` is
///   m×k with k ≤ [`THIN_K`], `dw` is k×n): the weight gradient `Xᵀ·δ` of a thin input.
///
/// Large passes run on two threads, cut at half the rows (a cut that depends on the shape only);
/// each sums its rows in order, and the second thread's sums are added to the first's.
///
/// # Panics
/// If the buffers do not fit m×n (m = `a.len() / n`), or `x` has more than [`THIN_K`] columns.
pub(crate) fn delta_pass(
    activation: Activation,
    n: usize,
    g: Upstream<'_>,
    a: &[f64],
    delta: Option<&mut [f64]>,
    db: Option<&mut [f64]>,
    dw: Option<(&[f64], &mut [f64])>,
) {
    let m = a.len() / n.max(1);
    assert_eq!(
        a.len(),
        m * n,
        "delta_pass: output is not a multiple of {n}"
    );
    if let Some(d) = &delta {
        assert_eq!(d.len(), m * n, "delta_pass: delta is not {m}x{n}");
    }
    if let Upstream::Matrix(g) = g {
        assert_eq!(g.len(), m * n, "delta_pass: upstream is not {m}x{n}");
    }
    if let Upstream::Outer { col, row } = g {
        assert!(
            col.len() == m && row.len() == n,
            "delta_pass: outer product is not {m}x{n}"
        );
    }
    if let Some(db) = &db {
        assert_eq!(db.len(), n, "delta_pass: bias gradient is not 1x{n}");
    }
    // From dW (k×n), not from X (m×k): an empty batch (m = 0) still has a k.
    let k = dw.as_ref().map_or(0, |(_, dw)| dw.len() / n.max(1));
    if let Some((x, dw)) = &dw {
        assert!(
            k <= THIN_K && x.len() == m * k && dw.len() == k * n,
            "delta_pass: weight gradient must be thin: x {m}x{k}, dw {}",
            dw.len()
        );
    }
    let (x, dw) = match dw {
        Some((x, dw)) => (x, Some(dw)),
        None => (&[][..], None),
    };
    if n <= STACK_ROW && m * n <= SMALL_PASS {
        small_pass(activation, (n, k), g, a, x, delta, db, dw);
        return;
    }
    let pass = Pass {
        activation,
        n,
        k,
        g,
        a,
        x,
    };
    large_pass(&pass, m, delta, db, dw);
}

/// [`delta_pass`] past [`SMALL_PASS`]: on one thread or two.
#[inline(never)]
fn large_pass(
    pass: &Pass<'_>,
    m: usize,
    delta: Option<&mut [f64]>,
    db: Option<&mut [f64]>,
    dw: Option<&mut [f64]>,
) {
    let (n, k) = (pass.n, pass.k);
    let one_thread = m * n < PARALLEL_ENTRIES || m < 2;
    if one_thread && n <= STACK_ROW {
        // Small layers: the δ row on the stack, no thread-local to look up per call.
        let mut row = [0.0; STACK_ROW];
        pass_rows(pass, 0..m, delta, db, dw, &mut row[..n]);
        return;
    }
    PARTIAL.with(|partial| {
        let mut partial = partial.borrow_mut();
        // [second thread's db | second thread's dw | a δ row per thread]
        let len = n + k * n + 2 * n;
        if partial.len() < len {
            partial.resize(len, 0.0);
        }
        let (sums, rows) = partial[..len].split_at_mut(n + k * n);
        let (row0, row1) = rows.split_at_mut(n);
        if one_thread {
            pass_rows(pass, 0..m, delta, db, dw, row0);
            return;
        }
        let half = m.div_ceil(2);
        let (delta0, delta1) = match delta {
            Some(d) => {
                let (d0, d1) = d.split_at_mut(half * n);
                (Some(d0), Some(d1))
            }
            None => (None, None),
        };
        sums.fill(0.0);
        let (db1, dw1) = sums.split_at_mut(n);
        let (has_db, has_dw) = (db.is_some(), dw.is_some());
        let mut db = db;
        let mut dw = dw;
        join(
            || {
                pass_rows(
                    pass,
                    0..half,
                    delta0,
                    db.as_deref_mut(),
                    dw.as_deref_mut(),
                    row0,
                )
            },
            || {
                let db1 = has_db.then_some(&mut *db1);
                let dw1 = has_dw.then_some(&mut *dw1);
                pass_rows(pass, half..m, delta1, db1, dw1, row1)
            },
        );
        if let Some(db) = db {
            db.iter_mut().zip(&*db1).for_each(|(s, p)| *s += p);
        }
        if let Some(dw) = dw {
            dw.iter_mut().zip(&*dw1).for_each(|(s, p)| *s += p);
        }
    });
}

/// Rows at most this wide keep a one-thread pass's δ row on the stack.
const STACK_ROW: usize = 32;

/// Passes over at most this many entries (of rows at most [`STACK_ROW`] wide) take
/// [`small_pass`]: the lab's one-sample steps, whose passes have 1 to 4 entries.
pub(crate) const SMALL_PASS: usize = 256;

/// [`delta_pass`] on a few entries (at most [`SMALL_PASS`]): the arithmetic of [`pass_rows`],
/// without the AVX-512 copy's dispatch, whose set-up costs more than a pass this size. Out of
/// line, so that the compiler sees its slices as the distinct arguments they are and drops the
/// overlap checks it would otherwise put before each short loop.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn small_pass(
    activation: Activation,
    (n, k): (usize, usize),
    g: Upstream<'_>,
    a: &[f64],
    x: &[f64],
    mut delta: Option<&mut [f64]>,
    mut db: Option<&mut [f64]>,
    mut dw: Option<&mut [f64]>,
) {
    if n == 0 {
        return; // every buffer is empty
    }
    let mut spare = [0.0; STACK_ROW];
    for (i, a_row) in a.chunks_exact(n).enumerate() {
        let d: &mut [f64] = match delta.as_deref_mut() {
            Some(delta) => &mut delta[i * n..(i + 1) * n],
            None => &mut spare[..n],
        };
        match g {
            Upstream::Matrix(g) => grad_row(activation, &g[i * n..(i + 1) * n], a_row, d),
            Upstream::Outer { col, row } => outer_grad_row(activation, col[i], row, a_row, d),
        }
        if let Some(db) = db.as_deref_mut() {
            for (s, d) in db.iter_mut().zip(&*d) {
                *s += d;
            }
        }
        if let Some(dw) = dw.as_deref_mut() {
            for (dw_row, x) in dw.chunks_exact_mut(n).zip(&x[i * k..(i + 1) * k]) {
                for (s, d) in dw_row.iter_mut().zip(&*d) {
                    *s += x * d;
                }
            }
        }
    }
}

thread_local! {
    /// The second thread's partial sums and each thread's δ row, reused by every pass.
    static PARTIAL: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The read-only inputs of one [`delta_pass`].
#[derive(Clone, Copy)]
struct Pass<'a> {
    activation: Activation,
    n: usize,
    k: usize,
    g: Upstream<'a>,
    a: &'a [f64],
    x: &'a [f64],
}

avx512_copy! {
    /// Rows `range` of the pass; `delta` covers just those rows, `db`/`dw` are this thread's
    /// sums, `spare` holds a δ row when `delta` is not kept.
    fn pass_rows(
        pass: &Pass<'_>,
        range: std::ops::Range<usize>,
        delta: Option<&mut [f64]>,
        db: Option<&mut [f64]>,
        dw: Option<&mut [f64]>,
        spare: &mut [f64],
    ) => pass_rows_body
}

/// The body of [`pass_rows`].
#[inline(always)]
fn pass_rows_body(
    pass: &Pass<'_>,
    range: std::ops::Range<usize>,
    mut delta: Option<&mut [f64]>,
    mut db: Option<&mut [f64]>,
    mut dw: Option<&mut [f64]>,
    spare: &mut [f64],
) {
    let n = pass.n;
    let first = range.start;
    for i in range {
        let a = &pass.a[i * n..(i + 1) * n];
        let d: &mut [f64] = match delta.as_deref_mut() {
            Some(delta) => &mut delta[(i - first) * n..(i - first + 1) * n],
            None => &mut *spare,
        };
        match pass.g {
            Upstream::Matrix(g) => grad_row(pass.activation, &g[i * n..(i + 1) * n], a, d),
            Upstream::Outer { col, row } => outer_grad_row(pass.activation, col[i], row, a, d),
        }
        if let Some(db) = db.as_deref_mut() {
            for (s, d) in db.iter_mut().zip(&*d) {
                *s += d;
            }
        }
        if let Some(dw) = dw.as_deref_mut() {
            for (p, dw_row) in dw.chunks_exact_mut(n).enumerate() {
                let x = pass.x[i * pass.k + p];
                for (s, d) in dw_row.iter_mut().zip(&*d) {
                    *s += x * d;
                }
            }
        }
    }
}

/// `d = g ⊙ f'(a)` over a row: the activation ops' rules (`relu`, `sigmoid`, `tanh`).
#[inline(always)]
pub(crate) fn grad_row(activation: Activation, g: &[f64], a: &[f64], d: &mut [f64]) {
    let entries = d.iter_mut().zip(g).zip(a);
    match activation {
        Activation::Sigmoid => entries.for_each(|((d, g), a)| *d = g * a * (1.0 - a)),
        Activation::Relu => entries.for_each(|((d, g), a)| *d = if *a > 0.0 { *g } else { 0.0 }),
        Activation::Tanh => entries.for_each(|((d, g), a)| *d = g * (1.0 - a * a)),
        Activation::Identity => entries.for_each(|((d, g), _)| *d = *g),
    }
}

/// [`grad_row`] with `g[j] = c · r[j]` computed on the fly.
#[inline(always)]
fn outer_grad_row(activation: Activation, c: f64, r: &[f64], a: &[f64], d: &mut [f64]) {
    let entries = d.iter_mut().zip(r).zip(a);
    match activation {
        Activation::Sigmoid => entries.for_each(|((d, r), a)| *d = c * r * a * (1.0 - a)),
        Activation::Relu => entries.for_each(|((d, r), a)| *d = if *a > 0.0 { c * r } else { 0.0 }),
        Activation::Tanh => entries.for_each(|((d, r), a)| *d = c * r * (1.0 - a * a)),
        Activation::Identity => entries.for_each(|((d, r), _)| *d = c * r),
    }
}

#[cfg(test)]
mod tests;
