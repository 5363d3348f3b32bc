//! Gradient checking: the tape's gradients against central finite differences.
//!
//! For every entry `x` of every input, the numerical derivative is
//! `(f(x + ε) − f(x − ε)) / 2ε`, whose error is O(ε²) from truncation plus O(u·|f|/ε) from
//! rounding (`u` ≈ 1.1e-16): with ε = 1e-6 both are around 1e-10 for values of order 1, so a tolerance
//! of 1e-6 separates a right rule (error ~1e-9) from a wrong one (error ~1e-1) with room to spare.

use std::error::Error;
use std::fmt;

use crate::matrix::Matrix;
use crate::tape::{Tape, Var};

/// The outcome of [`gradcheck`]: the worst entry found and how far the tape was from the
/// finite differences there.
#[derive(Clone, Debug, PartialEq)]
pub struct GradCheckReport {
    /// The largest error over all entries: `|tape − numeric| / max(1, |tape|, |numeric|)`
    /// (relative for gradients above 1 in size, absolute below). NaN if either side was NaN.
    pub max_error: f64,
    /// Which input (index into the `inputs` slice) holds the worst entry.
    pub input: usize,
    /// The worst entry's `(row, col)` in that input.
    pub entry: (usize, usize),
    /// The tape's gradient at the worst entry.
    pub analytic: f64,
    /// The central difference at the worst entry.
    pub numeric: f64,
    /// How many entries were checked (the total size of all inputs).
    pub entries_checked: usize,
    /// The step ε used.
    pub eps: f64,
    /// The ops `f` records, each name once, in recording order (leaves left out): where to look
    /// when the check fails. A user op shows its own name ([`CustomOp::name`](crate::ops::CustomOp::name)).
    pub ops: Vec<&'static str>,
}

impl fmt::Display for GradCheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "worst error {:.3e} at input {} entry ({}, {}): tape {:.12e}, finite differences {:.12e} \
             ({} entries checked, eps {:e}); f records {}",
            self.max_error,
            self.input,
            self.entry.0,
            self.entry.1,
            self.analytic,
            self.numeric,
            self.entries_checked,
            self.eps,
            self.ops.join(", ")
        )
    }
}

/// [`gradcheck`] found an entry whose error exceeds the tolerance (or is NaN).
#[derive(Clone, Debug, PartialEq)]
pub struct GradCheckError {
    /// The tolerance that was exceeded.
    pub tol: f64,
    /// The worst entry, as in a passing check.
    pub report: GradCheckReport,
}

impl fmt::Display for GradCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gradcheck failed (tolerance {:e}): {}",
            self.tol, self.report
        )
    }
}

impl Error for GradCheckError {}

/// Checks the tape's gradients of `f` against central differences at `inputs`.
///
/// `f` receives one trainable [`Var`] per input (on a fresh tape each time) and returns a 1×1
/// value. Its gradient with respect to every entry of every input is computed by the tape and by
/// `(f(x + eps) − f(x − eps)) / (2 eps)`; the worst error `|tape − numeric| / max(1, |tape|,
/// |numeric|)` is compared with `tol`.
///
/// ```
/// use chainrule::{gradcheck, Matrix};
///
/// let x = Matrix::from_rows(&[[0.5, -1.0], [2.0, 0.25]]);
/// let w = Matrix::from_rows(&[[1.5], [-0.5]]);
/// let report = gradcheck(|v| v[0].matmul(v[1]).tanh().sum(), &[x, w], 1e-6, 1e-6)?;
/// assert!(report.max_error < 1e-6);
/// # Ok::<(), chainrule::GradCheckError>(())
/// ```
///
/// # Panics
/// If `f` returns something other than a 1×1 value, or `inputs` is empty.
pub fn gradcheck<F>(
    f: F,
    inputs: &[Matrix],
    eps: f64,
    tol: f64,
) -> Result<GradCheckReport, GradCheckError>
where
    F: for<'t> Fn(&[Var<'t>]) -> Var<'t>,
{
    assert!(!inputs.is_empty(), "gradcheck: no inputs to check");
    let mut tape = Tape::new();
    let (analytic, ops) = tape_gradients(&tape, inputs, &f);
    let mut probe = inputs.to_vec();
    let mut report = GradCheckReport {
        max_error: 0.0,
        input: 0,
        entry: (0, 0),
        analytic: analytic[0].as_slice()[0],
        numeric: f64::NAN,
        entries_checked: 0,
        eps,
        ops,
    };
    for (i, tape_grad) in analytic.iter().enumerate() {
        for j in 0..probe[i].len() {
            let original = probe[i].as_slice()[j];
            probe[i].as_mut_slice()[j] = original + eps;
            let above = evaluate(&mut tape, &probe, &f);
            probe[i].as_mut_slice()[j] = original - eps;
            let below = evaluate(&mut tape, &probe, &f);
            probe[i].as_mut_slice()[j] = original;

            let numeric = (above - below) / (2.0 * eps);
            let a = tape_grad.as_slice()[j];
            let error = (a - numeric).abs() / 1f64.max(a.abs()).max(numeric.abs());
            report.entries_checked += 1;
            // A NaN error (either side NaN) becomes the worst and stays so: it cannot hide.
            let worse = report.entries_checked == 1
                || error.is_nan()
                || (!report.max_error.is_nan() && error > report.max_error);
            if worse {
                let cols = probe[i].cols();
                report = GradCheckReport {
                    max_error: error,
                    input: i,
                    entry: (j / cols, j % cols),
                    analytic: a,
                    numeric,
                    ..report
                };
            }
        }
    }
    if report.max_error <= tol {
        Ok(report)
    } else {
        Err(GradCheckError { tol, report })
    }
}

/// The tape's gradient of `f` with respect to each input, and the names of the ops `f` records.
fn tape_gradients<F>(tape: &Tape, inputs: &[Matrix], f: &F) -> (Vec<Matrix>, Vec<&'static str>)
where
    F: for<'t> Fn(&[Var<'t>]) -> Var<'t>,
{
    let vars: Vec<Var<'_>> = inputs.iter().map(|m| tape.param(m)).collect();
    let out = f(&vars);
    let (rows, cols) = out.shape();
    assert!(
        (rows, cols) == (1, 1),
        "gradcheck: f must return a 1x1 value, got {rows}x{cols}; reduce it with .sum() or .mean()"
    );
    let mut ops: Vec<&'static str> = Vec::new();
    for op in tape.vars().map(|v| v.op()).filter(|op| !op.is_leaf()) {
        if !ops.contains(&op.name()) {
            ops.push(op.name());
        }
    }
    let grads = tape.backward(out);
    let grads = vars.iter().map(|&v| grads.wrt(v).to_matrix()).collect();
    (grads, ops)
}

/// `f` at `inputs`, on a reset tape.
fn evaluate<F>(tape: &mut Tape, inputs: &[Matrix], f: &F) -> f64
where
    F: for<'t> Fn(&[Var<'t>]) -> Var<'t>,
{
    tape.reset();
    let tape: &Tape = tape;
    let vars: Vec<Var<'_>> = inputs.iter().map(|m| tape.param(m)).collect();
    f(&vars).item()
}
