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

use super::dense::activate;
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
        // y[j] = 0 + x₀·W[0][j] + x₁·W[1][j] + …, as the direct GEMM loop sums it.
        *y = [0.0; N];
        for p in 0..K {
            for j in 0..N {
                y[j] += x[p] * w[p][j];
            }
        }
        if let Some(b) = self.b {
            let b: &[f64; N] = b.try_into().expect("tiny: a bias row of N");
            for j in 0..N {
                y[j] += b[j];
            }
        }
        activate(self.f, y);
    }
}

/// A gradient to write (`fresh`: the first contribution) or add to.
pub(crate) struct Out<'a> {
    /// The gradient.
    pub(crate) d: &'a mut [f64],
    /// Whether to overwrite it.
    pub(crate) fresh: bool,
}

impl Out<'_> {
    #[inline(always)]
    fn put(&mut self, i: usize, value: f64) {
        if self.fresh {
            self.d[i] = value;
        } else {
            self.d[i] += value;
        }
    }
}

/// `dX (+)= δ · Wᵀ` for one row: `dX[p] = Σ_j δ[j]·W[p][j]`, from 0 in increasing `j`.
pub(crate) struct GradX<'a> {
    /// δ (N entries).
    pub(crate) delta: &'a [f64],
    /// The weights, K×N.
    pub(crate) w: &'a [f64],
    /// dX (K entries).
    pub(crate) dx: Out<'a>,
}

impl Sized2 for GradX<'_> {
    type Out = ();

    #[inline(never)]
    fn run<const K: usize, const N: usize>(mut self) {
        let d: &[f64; N] = self.delta.try_into().expect("tiny: a delta row of N");
        let w = rows::<K, N>(self.w);
        for p in 0..K {
            let mut sum = 0.0;
            for j in 0..N {
                sum += d[j] * w[p][j];
            }
            self.dx.put(p, sum);
        }
    }
}

/// `dW (+)= xᵀ · δ` for one row: `dW[p][j] = 0 + x[p]·δ[j]`.
pub(crate) struct GradW<'a> {
    /// The input row (K entries).
    pub(crate) x: &'a [f64],
    /// δ (N entries).
    pub(crate) delta: &'a [f64],
    /// dW, K×N.
    pub(crate) dw: Out<'a>,
}

impl Sized2 for GradW<'_> {
    type Out = ();

    #[inline(never)]
    fn run<const K: usize, const N: usize>(mut self) {
        let x: &[f64; K] = self.x.try_into().expect("tiny: an input row of K");
        let d: &[f64; N] = self.delta.try_into().expect("tiny: a delta row of N");
        assert_eq!(
            self.dw.d.len(),
            K * N,
            "tiny: a weight gradient that is not KxN"
        );
        for p in 0..K {
            for j in 0..N {
                self.dw.put(p * N + j, 0.0 + x[p] * d[j]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::dense::{grad_row, Epilogue};
    use crate::kernels::{gemm, gemm_by, GemmPath, Layout};

    fn values(len: usize, seed: f64) -> Vec<f64> {
        (0..len)
            .map(|i| ((i as f64 + seed) * 0.731).sin() * 1.7)
            .collect()
    }

    /// Every size in 1..=TINY and every activation: the same bits as the general kernels.
    #[test]
    fn tiny_kernels_equal_the_general_ones_to_the_bit() {
        let acts = [
            Activation::Identity,
            Activation::Sigmoid,
            Activation::Relu,
            Activation::Tanh,
        ];
        for k in 1..=TINY {
            for n in 1..=TINY {
                for (a, &f) in acts.iter().enumerate() {
                    let (x, w, b) = (
                        values(k, 1.0),
                        values(k * n, 2.0 + a as f64),
                        values(n, 3.0),
                    );
                    let mut fast = vec![f64::NAN; n];
                    let job = Forward {
                        f,
                        x: &x,
                        w: &w,
                        b: Some(&b),
                        y: &mut fast,
                    };
                    with_sizes(k, n, job).unwrap();
                    let mut general = vec![f64::NAN; n];
                    let epilogue = Epilogue {
                        bias: Some(&b),
                        activation: f,
                    };
                    // The general direct loop (gemm_epilogue itself now routes here), then
                    // the epilogue the general path applies to the finished row.
                    gemm_by(
                        GemmPath::Loop,
                        1,
                        k,
                        n,
                        &x,
                        Layout::AsIs,
                        &w,
                        Layout::AsIs,
                        &mut general,
                        false,
                    );
                    epilogue.apply(&mut general, 0);
                    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&fast), bits(&general), "forward {k}x{n} {f:?}");

                    let g = values(n, 4.0);
                    let d = &{
                        let mut d = vec![0.0; n];
                        grad_row(f, &g, &fast, &mut d);
                        d
                    };
                    for fresh in [true, false] {
                        let start = if fresh { f64::NAN } else { 0.25 };
                        let mut dx = vec![start; k];
                        let out = Out { d: &mut dx, fresh };
                        with_sizes(
                            k,
                            n,
                            GradX {
                                delta: d,
                                w: &w,
                                dx: out,
                            },
                        )
                        .unwrap();
                        let mut want = vec![start; k];
                        if fresh {
                            want.fill(0.0);
                        }
                        gemm(
                            1,
                            n,
                            k,
                            d,
                            Layout::AsIs,
                            &w,
                            Layout::Transposed,
                            &mut want,
                            !fresh,
                        );
                        assert_eq!(bits(&dx), bits(&want), "dX {k}x{n} {f:?} fresh {fresh}");

                        let mut dw = vec![start; k * n];
                        let out = Out { d: &mut dw, fresh };
                        with_sizes(
                            k,
                            n,
                            GradW {
                                x: &x,
                                delta: d,
                                dw: out,
                            },
                        )
                        .unwrap();
                        let mut want = vec![start; k * n];
                        gemm(
                            k,
                            1,
                            n,
                            &x,
                            Layout::Transposed,
                            d,
                            Layout::AsIs,
                            &mut want,
                            !fresh,
                        );
                        assert_eq!(bits(&dw), bits(&want), "dW {k}x{n} {f:?} fresh {fresh}");
                    }
                }
            }
        }
        assert!(with_sizes(
            TINY + 1,
            1,
            GradW {
                x: &[],
                delta: &[],
                dw: Out {
                    d: &mut [],
                    fresh: true
                }
            }
        )
        .is_none());
        assert!(with_sizes(
            1,
            0,
            GradW {
                x: &[],
                delta: &[],
                dw: Out {
                    d: &mut [],
                    fresh: true
                }
            }
        )
        .is_none());
    }
}
