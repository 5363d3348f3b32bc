//! What the elementwise ops share: recording an op whose output has its input's shape (through
//! the 1×1 fast path of `ops/scalar.rs` when it has one), and running an elementwise kernel or rule on two threads when the matrix is large (each entry is
//! computed the same way wherever the cut falls, so the numbers never depend on it).

use std::panic::Location;

use super::broadcast::{self, Binary};
use super::{scalar, GradOut, Op, Operand};
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
    /// Records an elementwise op whose output has this node's shape: on a 1×1 node, through the
    /// fast path of `ops/scalar.rs` if the op has one.
    ///
    /// Inlined into the op's method (so `op` is a constant there and the table folds away);
    /// the general path is a call.
    #[inline(always)]
    #[track_caller]
    pub(crate) fn unary(self, op: Op) -> Var<'t> {
        let (rows, cols) = {
            let mut guard = self.tape.inner.borrow_mut();
            let t = &mut *guard;
            let x = &t.nodes[self.id.index()];
            if x.is_scalar() {
                if let Some(y) = scalar::forward1(op, t.values[x.offset]) {
                    let requires_grad = x.requires_grad;
                    let id = t.push_scalar(op, &[self.id], y, requires_grad, Location::caller());
                    return Var {
                        id,
                        tape: self.tape,
                    };
                }
            }
            x.shape()
        };
        self.unary_general(op, rows, cols)
    }

    /// [`Var::unary`] off the fast path.
    #[inline(never)]
    #[track_caller]
    fn unary_general(self, op: Op, rows: usize, cols: usize) -> Var<'t> {
        self.tape.record(op, [self], rows, cols)
    }

    /// Records `self ∘ other` for a binary op of `ops/scalar.rs` if both are 1×1 (one borrow of
    /// the tape, no operands, no dispatch); otherwise returns both shapes for the caller to
    /// choose the general path.
    ///
    /// # Panics
    /// If `other` belongs to another tape, naming `op`.
    #[inline(always)]
    #[track_caller]
    pub(crate) fn scalar_or_shapes(self, op: Op, other: Var<'t>) -> Result<Var<'t>, [Shape; 2]> {
        check_owner(op, self, other);
        let mut guard = self.tape.inner.borrow_mut();
        let t = &mut *guard;
        let (a, b) = (&t.nodes[self.id.index()], &t.nodes[other.id.index()]);
        if a.is_scalar() && b.is_scalar() {
            if let Some(y) = scalar::forward2(op, t.values[a.offset], t.values[b.offset]) {
                let requires_grad = a.requires_grad || b.requires_grad;
                let inputs = [self.id, other.id];
                let id = t.push_scalar(op, &inputs, y, requires_grad, Location::caller());
                return Ok(Var {
                    id,
                    tape: self.tape,
                });
            }
        }
        Err([a.shape(), b.shape()])
    }

    /// Records `self ∘ other` for one of the four broadcasting ops (`op` is its same-shape
    /// variant, `f` the same op for [`broadcast`]): the 1×1 fast path for two scalars, `op` when
    /// the shapes are equal, otherwise the broadcast, or a panic naming both shapes.
    #[inline(always)]
    #[track_caller]
    pub(crate) fn zip_or_broadcast(self, op: Op, f: Binary, other: Var<'t>) -> Var<'t> {
        match self.scalar_or_shapes(op, other) {
            Ok(y) => y,
            Err(shapes) => self.zip_or_broadcast_general(op, f, other, shapes),
        }
    }

    /// [`Var::zip_or_broadcast`] off the fast path.
    #[inline(never)]
    #[track_caller]
    fn zip_or_broadcast_general(
        self,
        op: Op,
        f: Binary,
        other: Var<'t>,
        [sa, sb]: [Shape; 2],
    ) -> Var<'t> {
        if sa == sb {
            self.tape.record(op, [self, other], sa.0, sa.1)
        } else {
            broadcast::record(f, self, other, sa, sb)
        }
    }
}

/// `(rows, cols)`.
pub(crate) type Shape = (usize, usize);

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
        (t.nodes[a.id.index()].shape(), t.nodes[b.id.index()].shape())
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
