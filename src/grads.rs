//! Reading gradients (and values) off a tape after the reverse sweep.

use std::borrow::Cow;
use std::cell::Ref;
use std::fmt;
use std::ops::{Deref, Index};

use crate::matrix::{write_rows, Matrix};
use crate::tape::{fail, Inner, Tape, Var};

/// The gradients of one backward sweep, read per [`Var`] with [`wrt`](Gradients::wrt).
///
/// They live in the tape's gradient buffer (nothing is copied); a later sweep on the same tape
/// replaces them.
#[derive(Clone, Copy)]
pub struct Gradients<'t> {
    tape: &'t Tape,
}

impl<'t> Gradients<'t> {
    pub(crate) fn new(tape: &'t Tape) -> Self {
        Gradients { tape }
    }

    /// d(output)/d`v`, shaped like `v`, as a view into the tape (no copy; `.to_matrix()` copies).
    ///
    /// One kind of gradient is not stored by the sweep: that of a dense layer's output read only
    /// by a width-1 dense layer, `δ · Wᵀ` (an outer product). It is computed here when asked for.
    ///
    /// A node that no parameter flows into, or that the output does not depend on, reads as zeros.
    ///
    /// # Panics
    /// If `v` belongs to another tape, or was recorded after the output of the sweep.
    #[inline]
    #[track_caller]
    pub fn wrt(&self, v: Var<'t>) -> MatRef<'t> {
        self.tape.check_owner("Gradients::wrt", v);
        let t = self.tape.inner.borrow();
        if v.id.index() >= t.grads_for {
            fail(format_args!(
                "Gradients::wrt: {} was recorded after the output the sweep started from",
                v.id
            ));
        }
        let n = &t.nodes[v.id.index()];
        let (rows, cols, range) = (n.rows(), n.cols(), n.range());
        if t.space.is_factored(v.id.0) {
            // kept factored by the sweep (the gradient under a width-1 dense layer)
            return MatRef::owned(t.grad(v.id.index()).into_owned(), rows, cols);
        }
        MatRef::new(Ref::map(t, |t| &t.grads[range]), rows, cols)
    }
}

impl fmt::Debug for Gradients<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let covered = self.tape.inner.borrow().grads_for;
        write!(f, "Gradients {{ nodes: {covered} }}")
    }
}

// Reading one node's value and gradient from its handle (an inherent impl of the tape's `Var`).
impl<'t> Var<'t> {
    /// A copy of the node's value.
    pub fn value(self) -> Matrix {
        self.value_ref().to_matrix()
    }

    /// A view of the node's value, without copying. Drop it before recording more ops.
    pub fn value_ref(self) -> MatRef<'t> {
        let t = self.tape.inner.borrow();
        let n = &t.nodes[self.id.index()];
        let (rows, cols, range) = (n.rows(), n.cols(), n.range());
        MatRef::new(Ref::map(t, |t| &t.values[range]), rows, cols)
    }

    /// The value of a 1×1 node.
    ///
    /// # Panics
    /// If the node is not 1×1.
    #[inline]
    #[track_caller]
    pub fn item(self) -> f64 {
        let t = self.tape.inner.borrow();
        let n = &t.nodes[self.id.index()];
        if n.rows() * n.cols() != 1 {
            fail(format_args!(
                "item: {} ({}) is {}x{}, not 1x1",
                self.id,
                n.op,
                n.rows(),
                n.cols()
            ));
        }
        t.values[n.offset]
    }

    /// A copy of this node's gradient from the last backward sweep, or `None` if no sweep has
    /// reached it (none ran, or the node was recorded after the output it started from).
    pub fn grad(self) -> Option<Matrix> {
        let t = self.tape.inner.borrow();
        if self.id.index() >= t.grads_for {
            return None;
        }
        let n = &t.nodes[self.id.index()];
        // Through `Inner::grad`: a gradient the sweep kept as two factors is multiplied out.
        Some(Matrix::new(
            n.rows(),
            n.cols(),
            t.grad(self.id.index()).into_owned(),
        ))
    }
}

impl Inner {
    /// The gradient of node `index` from the last sweep, computed here if it was kept factored.
    pub(crate) fn grad(&self, index: usize) -> Cow<'_, [f64]> {
        let n = &self.nodes[index];
        let slot = &self.grads[n.range()];
        if !self.space.is_factored(index as u32) {
            return Cow::Borrowed(slot);
        }
        let (col, row) = slot[..n.rows() + n.cols()].split_at(n.rows());
        Cow::Owned(
            col.iter()
                .flat_map(|c| row.iter().map(move |r| c * r))
                .collect(),
        )
    }
}

/// A read-only view of a matrix inside a tape: dereferences to the row-major `[f64]` entries.
///
/// It borrows the tape's storage, so drop it before recording more ops on the same tape.
pub struct MatRef<'t> {
    data: Data<'t>,
    rows: usize,
    cols: usize,
}

/// Where a [`MatRef`]'s entries are: in the tape, or computed when it was asked for.
enum Data<'t> {
    Tape(Ref<'t, [f64]>),
    Owned(Vec<f64>),
}

impl<'t> MatRef<'t> {
    pub(crate) fn new(data: Ref<'t, [f64]>, rows: usize, cols: usize) -> Self {
        MatRef {
            data: Data::Tape(data),
            rows,
            cols,
        }
    }

    pub(crate) fn owned(data: Vec<f64>, rows: usize, cols: usize) -> Self {
        MatRef {
            data: Data::Owned(data),
            rows,
            cols,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// The only entry of a 1×1 view.
    ///
    /// # Panics
    /// If the view is not 1×1.
    #[inline]
    #[track_caller]
    pub fn item(&self) -> f64 {
        if self.len() != 1 {
            fail(format_args!(
                "MatRef::item: a {}x{} matrix is not a scalar",
                self.rows, self.cols
            ));
        }
        (**self)[0]
    }

    /// A copy as an owned [`Matrix`].
    pub fn to_matrix(&self) -> Matrix {
        Matrix::new(self.rows, self.cols, self.to_vec())
    }
}

impl Deref for MatRef<'_> {
    type Target = [f64];
    #[inline]
    fn deref(&self) -> &[f64] {
        match &self.data {
            Data::Tape(data) => data,
            Data::Owned(data) => data,
        }
    }
}

impl Index<(usize, usize)> for MatRef<'_> {
    type Output = f64;
    #[inline]
    #[track_caller]
    fn index(&self, (r, c): (usize, usize)) -> &f64 {
        assert!(
            r < self.rows && c < self.cols,
            "MatRef: index ({r}, {c}) out of a {}x{} matrix",
            self.rows,
            self.cols
        );
        &(**self)[r * self.cols + c]
    }
}

impl fmt::Display for MatRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_rows(f, self.rows, self.cols, self)
    }
}

impl fmt::Debug for MatRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MatRef {}x{} ", self.rows, self.cols)?;
        write_rows(f, self.rows, self.cols, self)
    }
}
