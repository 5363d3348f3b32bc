//! A dense layer on one row with at most [`TINY`] inputs and outputs (the lab's 2-4-4-1 network
//! trained one sample at a time): the forward pass and the backward rule with the sizes known at
//! compile time, so the loops unroll into straight-line code.
//!
//! At these sizes a layer is a few dozen multiply-adds, and the general kernels' loop set-up,
//! iterator bookkeeping and checks cost several times the arithmetic. [`with_sizes`] turns the
//! run-time sizes into const generics once per call (one `match`), and each kernel is then
//! written for `[f64; K]` and `[[f64; N]; K]`, like the fixed-size reference in the benches.
//!
//! The arithmetic is that of the general path, entry by entry and in the same order (each sum
//! from 0 in increasing index, then the bias, then the activation; a gradient written by its
//! first contribution and added by later ones), so the two agree to the bit: `tests/hand.rs`
//! holds the tape (which takes this path for one-row layers) to the hand path (which does not).

// Index loops over arrays of constant length read like the formulas, and unroll.
#![allow(clippy::needless_range_loop)]

use super::dense::{activate, grad_row};
use super::Activation;

/// The largest input or output width the tiny path takes.
pub(crate) const TINY: usize = 8;

/// A computation written for sizes `K` (inputs) and `N` (outputs) known at compile time.
pub(crate) trait Sized2 {
    /// What it returns.
    type Out;
    /// Runs it with `K` and `N` as constants.
    fn run<const K: usize, const N: usize>(self) -> Self::Out;
}

/// Runs `job` with `K = k` and `N = n` as constants, if both are in `1..=TINY`.
#[inline(always)]
pub(crate) fn with_sizes<J: Sized2>(k: usize, n: usize, job: J) -> Option<J::Out> {
    macro_rules! by_n {
        ($K:literal) => {
            match n {
                1 => Some(job.run::<$K, 1>()),
                2 => Some(job.run::<$K, 2>()),
                3 => Some(job.run::<$K, 3>()),
                4 => Some(job.run::<$K, 4>()),
                5 => Some(job.run::<$K, 5>()),
                6 => Some(job.run::<$K, 6>()),
                7 => Some(job.run::<$K, 7>()),
                8 => Some(job.run::<$K, 8>()),
                _ => None,
            }
        };
    }
    match k {
        1 => by_n!(1),
        2 => by_n!(2),
        3 => by_n!(3),
        4 => by_n!(4),
        5 => by_n!(5),
        6 => by_n!(6),
        7 => by_n!(7),
        8 => by_n!(8),
        _ => None,
    }
}

/// `w` (K×N, row-major) as K rows of N.
#[inline(always)]
fn rows<const K: usize, const N: usize>(w: &[f64]) -> &[[f64; N]; K] {
    let (rows, rest) = w.as_chunks::<N>();
    assert!(rest.is_empty(), "tiny: a weight matrix that is not Kx{N}");
    rows.try_into().expect("tiny: a weight matrix of K rows")
}

/// `y = f(x · W + b)` for one row: `x` 1×K, `W` K×N, `b` 1×N.
pub(crate) struct Forward<'a> {
    /// The activation.
    pub(crate) f: Activation,
    /// The input row.
    pub(crate) x: &'a [f64],
    /// The weights.
    pub(crate) w: &'a [f64],
    /// The bias, if any.
    pub(crate) b: Option<&'a [f64]>,
    /// The output row (overwritten).
    pub(crate) y: &'a mut [f64],
}

impl Sized2 for Forward<'_> {
    type Out = ();

    #[inline(never)]
    fn run<const K: usize, const N: usize>(self) {
        let x: &[f64; K] = self.x.try_into().expect("tiny: an input row of K");
        let w = rows::<K, N>(self.w);
        let y: &mut [f64; N] = self.y.try_into().expect("tiny: an output row of N");
        let b = self.b.map(|b| b.try_into().expect("tiny: a bias row of N"));
        forward_row(self.f, x, w, b, y);
    }
}

/// [`Forward`]'s arithmetic: `y[j] = 0 + x₀·W[0][j] + x₁·W[1][j] + …`, as the direct GEMM loop
/// sums it, then `+ b[j]`, then `f`.
#[inline(always)]
fn forward_row<const K: usize, const N: usize>(
    f: Activation,
    x: &[f64; K],
    w: &[[f64; N]; K],
    b: Option<&[f64; N]>,
    y: &mut [f64; N],
) {
    *y = [0.0; N];
    for p in 0..K {
        for j in 0..N {
            y[j] += x[p] * w[p][j];
        }
    }
    if let Some(b) = b {
        for j in 0..N {
            y[j] += b[j];
        }
    }
    activate(f, y);
}

/// [`Forward`] with a bias, its operands found by their offsets in the value buffer (a
/// replay's, which read the offsets off the nodes once): `values[y..][..N] =
/// f(values[x..][..K] · W + b)`, `W` at `w` (K×N) and `b` at `b` (N), all below `y`.
pub(crate) struct ForwardAt<'a> {
    /// The activation.
    pub(crate) f: Activation,
    /// The value buffer.
    pub(crate) values: &'a mut [f64],
    /// Where the input row, the weights, the bias and the output start.
    pub(crate) x: usize,
    pub(crate) w: usize,
    pub(crate) b: usize,
    pub(crate) y: usize,
}

impl Sized2 for ForwardAt<'_> {
    type Out = ();

    #[inline(never)]
    fn run<const K: usize, const N: usize>(self) {
        let (below, rest) = self.values.split_at_mut(self.y);
        let y: &mut [f64; N] = (&mut rest[..N]).try_into().expect("a slice of N");
        let x: &[f64; K] = below[self.x..self.x + K].try_into().expect("a slice of K");
        let w = rows::<K, N>(&below[self.w..self.w + K * N]);
        let b: &[f64; N] = below[self.b..self.b + N].try_into().expect("a slice of N");
        forward_row(self.f, x, w, Some(b), y);
    }
}

/// Where a gradient goes in the gradient buffer: its first entry, and whether this is its first
/// contribution of the sweep (written outright) or a later one (added).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    /// The gradient's first entry in the buffer.
    pub(crate) at: usize,
    /// Whether to overwrite it.
    pub(crate) fresh: bool,
}

impl Slot {
    /// `d[i] = value(i)` (fresh) or `d[i] += value(i)` for the `L` entries of the gradient in
    /// `grads`, with the test outside the loop.
    #[inline(always)]
    fn put<const L: usize>(self, grads: &mut [f64], value: impl Fn(usize) -> f64) {
        let d: &mut [f64; L] = (&mut grads[self.at..self.at + L])
            .try_into()
            .expect("a slice of L");
        if self.fresh {
            for i in 0..L {
                d[i] = value(i);
            }
        } else {
            for i in 0..L {
                d[i] += value(i);
            }
        }
    }
}

/// The rule of one row of a layer: `δ = g ⊙ f'(y)` on the stack, then `dX (+)= δ · Wᵀ`,
/// `dW (+)= xᵀ · δ` and `db (+)= δ` into the gradient buffer, for those of the three wanted.
///
/// One call for the whole rule, so a step of the lab's network pays one dispatch per layer:
/// `dX[p] = Σ_j δ[j]·W[p][j]` from 0 in increasing `j`, `dW[p][j] = 0 + x[p]·δ[j]` and
/// `db[j] = 0 + δ[j]`, as the general path sums them. The three are written one after the
/// other, each from δ and the values alone, so two inputs that are one node (`x.linear(x, b)`)
/// get both contributions, in the general path's order.
pub(crate) struct LayerGrads<'a> {
    /// The activation whose derivative makes δ.
    pub(crate) f: Activation,
    /// dL/dy (N entries).
    pub(crate) g: &'a [f64],
    /// The layer's saved output (N entries).
    pub(crate) y: &'a [f64],
    /// The input row (K entries).
    pub(crate) x: &'a [f64],
    /// The weights, K×N.
    pub(crate) w: &'a [f64],
    /// The gradient buffer the three are written into.
    pub(crate) grads: &'a mut [f64],
    /// dX (K entries), if wanted.
    pub(crate) dx: Option<Slot>,
    /// dW (K×N), if wanted.
    pub(crate) dw: Option<Slot>,
    /// db (N entries), if wanted.
    pub(crate) db: Option<Slot>,
}

impl Sized2 for LayerGrads<'_> {
    type Out = ();

    #[inline(never)]
    fn run<const K: usize, const N: usize>(self) {
        let g: &[f64; N] = self.g.try_into().expect("tiny: an upstream row of N");
        let y: &[f64; N] = self.y.try_into().expect("tiny: an output row of N");
        let x: &[f64; K] = self.x.try_into().expect("tiny: an input row of K");
        let w = rows::<K, N>(self.w);
        let slots = [self.dx, self.dw, self.db];
        layer_grads(self.f, Row { g, y, x, w }, self.grads, slots);
    }
}

/// What a one-row layer's rule reads, as arrays.
struct Row<'a, const K: usize, const N: usize> {
    /// dL/dy.
    g: &'a [f64; N],
    /// The layer's output.
    y: &'a [f64; N],
    /// Its input row.
    x: &'a [f64; K],
    /// Its weights.
    w: &'a [[f64; N]; K],
}

/// [`LayerGrads`]' arithmetic, on arrays: `slots` are dX, dW and db's places in `grads`.
#[inline(always)]
fn layer_grads<const K: usize, const N: usize>(
    f: Activation,
    Row { g, y, x, w }: Row<'_, K, N>,
    grads: &mut [f64],
    [dx, dw, db]: [Option<Slot>; 3],
) {
    let mut delta = [0.0; N];
    grad_row(f, g, y, &mut delta);
    if let Some(dx) = dx {
        dx.put::<K>(grads, |p| {
            let mut sum = 0.0;
            for j in 0..N {
                sum += delta[j] * w[p][j];
            }
            sum
        });
    }
    if let Some(dw) = dw {
        // Row p of dW is x[p]·δ.
        for p in 0..K {
            let row = Slot {
                at: dw.at + p * N,
                fresh: dw.fresh,
            };
            row.put::<N>(grads, |j| 0.0 + x[p] * delta[j]);
        }
    }
    if let Some(db) = db {
        db.put::<N>(grads, |j| 0.0 + delta[j]);
    }
}

/// [`LayerGrads`] with its operands found by their offsets (a replay's, read off the nodes
/// once): the layer's input row at `x`, weights at `w`, bias at `b`, output (and upstream
/// gradient) at `y`, in the value and gradient buffers. Bit `i` of `wants` says whether input
/// `i` (X, W, b) takes a gradient, bit `i` of `fresh` whether it is written rather than added.
pub(crate) struct LayerGradsAt<'a> {
    /// The activation whose derivative makes δ.
    pub(crate) f: Activation,
    /// The value buffer.
    pub(crate) values: &'a [f64],
    /// The gradient buffer.
    pub(crate) grads: &'a mut [f64],
    /// Where the input row, the weights, the bias and the output start.
    pub(crate) x: usize,
    pub(crate) w: usize,
    pub(crate) b: usize,
    pub(crate) y: usize,
    /// Which of X, W and b take a gradient (bits 0, 1, 2).
    pub(crate) wants: u8,
    /// Which of them are written by this rule first (bits 0, 1, 2).
    pub(crate) fresh: u8,
}

impl Sized2 for LayerGradsAt<'_> {
    type Out = ();

    #[inline(never)]
    fn run<const K: usize, const N: usize>(self) {
        let (below, rest) = self.grads.split_at_mut(self.y);
        let g: &[f64; N] = rest[..N].try_into().expect("a slice of N");
        let v = self.values;
        let y: &[f64; N] = v[self.y..self.y + N].try_into().expect("a slice of N");
        let x: &[f64; K] = v[self.x..self.x + K].try_into().expect("a slice of K");
        let w = rows::<K, N>(&v[self.w..self.w + K * N]);
        let slot = |i: u8, at: usize| {
            (self.wants & (1 << i) != 0).then_some(Slot {
                at,
                fresh: self.fresh & (1 << i) != 0,
            })
        };
        let slots = [slot(0, self.x), slot(1, self.w), slot(2, self.b)];
        layer_grads(self.f, Row { g, y, x, w }, below, slots);
    }
}

#[cfg(test)]
mod tests;
