//! What the elementwise ops share: recording an op whose output has its input's shape, and
//! running an elementwise kernel or rule on two threads when the matrix is large (each entry is
//! computed the same way wherever the cut falls, so the numbers never depend on it).

use super::broadcast::{self, Binary};
use super::{GradOut, Op, Operand};
use crate::kernels::pool::halves;
use crate::tape::{fail, Var};

/// Runs an elementwise kernel `f(x, out)` on two threads when the output is large.
#[inline(always)]
pub(crate) fn map1(x: &[Operand<'_>], out: &mut [f64], f: fn(&[f64], &mut [f64])) {
    let (x, work) = (x[0].value, out.len());
    halves(out, 1, work, |s, out| f(&x[s..], out));
}

/// Runs an elementwise kernel `f(a, b, out)` on two threads when the output is large.
#[inline(always)]
pub(crate) fn map2(x: &[Operand<'_>], out: &mut [f64], f: fn(&[f64], &[f64], &mut [f64])) {
    let (a, b, work) = (x[0].value, x[1].value, out.len());
    halves(out, 1, work, |s, out| f(&a[s..], &b[s..], out));
}

/// Runs an elementwise rule `rule(g, dx)` on two threads when the gradient is large.
#[inline(always)]
pub(crate) fn split1(dx: GradOut<'_>, g: &[f64], rule: fn(&[f64], GradOut<'_>)) {
    dx.halves(1, |s, dx| rule(&g[s..], dx));
}

/// Runs an elementwise rule `rule(g, v, dx)` on two threads when the gradient is large.
#[inline(always)]
pub(crate) fn split2(dx: GradOut<'_>, g: &[f64], v: &[f64], rule: fn(&[f64], &[f64], GradOut<'_>)) {
    dx.halves(1, |s, dx| rule(&g[s..], &v[s..], dx));
}

impl<'t> Var<'t> {
    /// Records an elementwise op whose output has this node's shape.
    #[inline]
    #[track_caller]
    pub(crate) fn unary(self, op: Op) -> Var<'t> {
        let (rows, cols) = self.shape();
        self.tape.record(op, [self], rows, cols)
    }

    /// Records an op of two same-shaped operands whose output has that shape too.
    #[inline]
    #[track_caller]
    pub(crate) fn zip(self, op: Op, other: Var<'t>) -> Var<'t> {
        let (rows, cols) = same_shape(op, self, other);
        self.tape.record(op, [self, other], rows, cols)
    }
}

impl<'t> Var<'t> {
    /// Records `self ∘ other` for one of the four broadcasting ops (`op` is its same-shape
    /// variant, `f` the same op for [`broadcast`]): `op` when the shapes are equal, with the same
    /// one check as [`Var::zip`]; otherwise the broadcast, or a panic naming both shapes.
    #[inline]
    #[track_caller]
    pub(crate) fn zip_or_broadcast(self, op: Op, f: Binary, other: Var<'t>) -> Var<'t> {
        check_owner(op, self, other);
        let (sa, sb) = {
            let t = self.tape.inner.borrow();
            let (na, nb) = (&t.nodes[self.id.index()], &t.nodes[other.id.index()]);
            ((na.rows(), na.cols()), (nb.rows(), nb.cols()))
        };
        if sa == sb {
            self.tape.record(op, [self, other], sa.0, sa.1)
        } else {
            broadcast::record(f, self, other, sa, sb)
        }
    }
}

/// Panics unless `b` is a handle of `a`'s tape, naming `op`. The name is looked up only to fail:
/// [`Op::name`] is a large `match`, not always inlined, and recording is the hot path of a
/// scalar graph.
#[inline(always)]
#[track_caller]
fn check_owner<'t>(op: Op, a: Var<'t>, b: Var<'t>) {
    if !std::ptr::eq(a.tape, b.tape) {
        a.tape.check_owner(op.name(), b);
    }
}

/// Panics unless `a` and `b` share a tape and a shape; returns that shape.
#[inline]
#[track_caller]
pub(crate) fn same_shape<'t>(op: Op, a: Var<'t>, b: Var<'t>) -> (usize, usize) {
    check_owner(op, a, b);
    // Both shapes under one borrow: on a scalar graph this check is a good part of a node's cost.
    let ((ar, ac), (br, bc)) = {
        let t = a.tape.inner.borrow();
        let (na, nb) = (&t.nodes[a.id.index()], &t.nodes[b.id.index()]);
        ((na.rows(), na.cols()), (nb.rows(), nb.cols()))
    };
    if (ar, ac) != (br, bc) {
        fail(format_args!(
            "{}: shapes differ, {ar}x{ac} ({}) and {br}x{bc} ({})",
            op.name(),
            a.id,
            b.id
        ));
    }
    (ar, ac)
}
