//! Helpers shared by the test files: seeded random matrices and a non-uniform projection to a
//! scalar, so gradient checks see an upstream that differs entry by entry.
#![allow(dead_code)]

use chainrule::{Matrix, Var};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Cases per op: the issue asks for at least 20 seeded random shapes and values.
pub const CASES: u64 = 20;

/// Central-difference step and tolerance for every op test: with ε = 1e-6 the truncation and
/// rounding errors of the difference are both near 1e-10 for values of order 1 (see `check.rs`),
/// so 1e-6 passes every correct rule with four orders to spare and fails any wrong one.
pub const EPS: f64 = 1e-6;
/// See [`EPS`].
pub const TOL: f64 = 1e-6;

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// A `rows`×`cols` matrix with entries uniform in `[lo, hi)`.
pub fn uniform(rng: &mut StdRng, rows: usize, cols: usize, lo: f64, hi: f64) -> Matrix {
    Matrix::from_fn(rows, cols, |_, _| rng.random_range(lo..hi))
}

/// Entries of magnitude in `[lo, hi)` with random signs: away from zero (for kinks and divisors).
pub fn away_from_zero(rng: &mut StdRng, rows: usize, cols: usize, lo: f64, hi: f64) -> Matrix {
    Matrix::from_fn(rows, cols, |_, _| {
        let magnitude = rng.random_range(lo..hi);
        if rng.random_range(0..2) == 0 {
            magnitude
        } else {
            -magnitude
        }
    })
}

/// A random shape with sides in `1..=5`.
pub fn shape(rng: &mut StdRng) -> (usize, usize) {
    (rng.random_range(1..=5), rng.random_range(1..=5))
}

/// `Σ y ⊙ R` for a fixed, non-uniform `R`: reduces any output to a scalar while giving each entry
/// a different upstream gradient (a plain `.sum()` would hand every entry 1 and hide, say, a
/// transpose that puts gradients in the wrong place).
pub fn project(y: Var<'_>) -> Var<'_> {
    let (rows, cols) = y.shape();
    let r = Matrix::from_fn(rows, cols, |i, j| {
        (0.7 * i as f64 + 1.3 * j as f64 + 0.4).sin() + 0.1
    });
    (y * y.tape().input(&r)).sum()
}

/// Extracts the message of a caught panic.
pub fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else {
        String::from("<non-string panic>")
    }
}
