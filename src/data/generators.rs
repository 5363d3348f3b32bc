//! The lab's data sets, seeded.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::Dataset;
use crate::matrix::Matrix;

/// `n` points uniform in `[lo, hi)²`.
fn uniform_points(n: usize, lo: f64, hi: f64, seed: u64) -> Vec<[f64; 2]> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| [rng.random_range(lo..hi), rng.random_range(lo..hi)])
        .collect()
}

/// The lab's `generate_linear(n)`: `n` points uniform in `[0, 1)²`, label 0 if `x0 > x1`, else 1.
pub fn linear(n: usize, seed: u64) -> Dataset {
    Dataset::from_points(uniform_points(n, 0.0, 1.0, seed), |x0, x1| x0 <= x1)
}

/// The lab's `generate_XOR_easy()`: for i in 0..=10, `(0.1i, 0.1i)` labelled 0 and, except at
/// `0.1i = 0.5`, `(0.1i, 1 − 0.1i)` labelled 1: 21 points, in the lab's order.
pub fn xor_easy() -> Dataset {
    let mut points = Vec::with_capacity(21);
    let mut labels = Vec::with_capacity(21);
    for i in 0..=10 {
        let t = 0.1 * i as f64;
        points.push([t, t]);
        labels.push(0.0);
        if i == 5 {
            continue;
        }
        points.push([t, 1.0 - t]);
        labels.push(1.0);
    }
    let n = points.len();
    Dataset {
        x: Matrix::from_rows(&points),
        y: Matrix::new(n, 1, labels),
    }
}

/// The four-point XOR: (0,0)→0, (0,1)→1, (1,0)→1, (1,1)→0.
pub fn xor4() -> Dataset {
    Dataset::from_points(
        vec![[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]],
        |a, b| a != b,
    )
}

/// `n` points uniform in `[−1, 1)²`, label 1 inside the circle `√(x0² + x1²) < 0.75`.
pub fn circle(n: usize, seed: u64) -> Dataset {
    Dataset::from_points(uniform_points(n, -1.0, 1.0, seed), |a, b| {
        (a * a + b * b).sqrt() < 0.75
    })
}

/// `n` points uniform in `[−1, 1)²`, label 1 inside the diamond `|x0| + |x1| < 1`.
pub fn diamond(n: usize, seed: u64) -> Dataset {
    Dataset::from_points(uniform_points(n, -1.0, 1.0, seed), |a, b| {
        a.abs() + b.abs() < 1.0
    })
}

/// `n` points uniform in `[−1, 1)²`, label 1 inside the centred square `max(|x0|, |x1|) < 0.5`.
pub fn square(n: usize, seed: u64) -> Dataset {
    Dataset::from_points(uniform_points(n, -1.0, 1.0, seed), |a, b| {
        a.abs().max(b.abs()) < 0.5
    })
}

/// `n` points uniform in `[−1, 1)²`, label 1 on the thick right angle `−0.5 < max(x0, x1) < 0.5`.
pub fn thick_right_angle(n: usize, seed: u64) -> Dataset {
    Dataset::from_points(uniform_points(n, -1.0, 1.0, seed), |a, b| {
        let m = a.max(b);
        m < 0.5 && m > -0.5
    })
}

/// `n` points uniform in `[−1, 1)²`, label 1 on the thin right angle `0 < max(x0, x1) < 0.5`.
pub fn thin_right_angle(n: usize, seed: u64) -> Dataset {
    Dataset::from_points(uniform_points(n, -1.0, 1.0, seed), |a, b| {
        let m = a.max(b);
        m < 0.5 && m > 0.0
    })
}

/// The classic three-arm spiral of Stanford's CS231n (its "spiral data" of the neural-network
/// case study), seeded: `classes` arms of `points_per_class` points each, arm `j` labelled `j`,
/// points in arm order (all of class 0 first).
///
/// Point `i` of arm `j` lies at radius `r = i / (N − 1)` (from the centre out to 1) and angle
/// `t = 4j + 4r + 0.2·ε` radians, with `ε` standard normal noise: `(r sin t, r cos t)`. The arms
/// are not linearly separable, which is what makes it a test for a network's hidden layers.
///
/// ```
/// let set = chainrule::data::spiral(100, 3, 0);
/// assert_eq!(set.x.shape(), (300, 2));
/// assert_eq!((set.y[(0, 0)], set.y[(299, 0)]), (0.0, 2.0));
/// assert_eq!(set, chainrule::data::spiral(100, 3, 0)); // the same seed, the same points
/// ```
pub fn spiral(points_per_class: usize, classes: usize, seed: u64) -> Dataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = points_per_class;
    let mut points = Vec::with_capacity(n * classes);
    let mut labels = Vec::with_capacity(n * classes);
    for class in 0..classes {
        for i in 0..n {
            let r = if n > 1 {
                i as f64 / (n - 1) as f64
            } else {
                0.0
            };
            let t = 4.0 * class as f64 + 4.0 * r + 0.2 * standard_normal(&mut rng);
            points.push([r * t.sin(), r * t.cos()]);
            labels.push(class as f64);
        }
    }
    Dataset {
        x: Matrix::from_rows(&points),
        y: Matrix::new(n * classes, 1, labels),
    }
}

/// One draw of N(0, 1) by the Box–Muller transform (as `nn`'s initialisation draws it).
fn standard_normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // in (0, 1]: ln never sees 0
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}
