//! Ops of the user's own: a forward function and its vector–Jacobian product, supplied through
//! the [`CustomOp`] trait and recorded on the tape like any other op.
//!
//! The chain rule needs nothing more of an op than what every file in `ops/` has: the value
//! `y = f(x₁, …, xₖ)` and, given the upstream `g = ∂L/∂y`, each input's share
//! `∂L/∂xᵢ += gᵀ · ∂y/∂xᵢ` (the vector–Jacobian product, VJP). A [`CustomOp`] supplies both;
//! the tape does the rest: recording, the reverse sweep (only when the output depends on the
//! node), fan-out, the graph, the trace, anomaly mode and [`gradcheck`](crate::gradcheck).
//!
//! **Where the op lives.** [`Op`] is a small `Copy` enum, so it cannot hold the user's object.
//! The tape keeps a registry of the ops recorded on it (`Arc<dyn CustomOp>`, one entry per
//! distinct `Arc`, found again by pointer, so recording the same op every step adds nothing), and
//! the node's op is [`Op::Custom`] with a [`CustomId`]: the index into that registry, and the op's
//! name, interned once per distinct name for the whole program, so that [`Op::name`] and every
//! printout (the graph, the trace, anomaly reports) show the user's name without the tape.
//! The registry sits in the tape's sweep space, which every backward rule already receives: the
//! sweep itself does not change for custom ops.

use std::fmt;
use std::ops::Index;
use std::panic::Location;
use std::sync::{Arc, Mutex, PoisonError};

use smallvec::SmallVec;

use super::{Backward, Op};
use crate::matrix::Matrix;
use crate::tape::{fail, push_node, NodeId, Tape, Var};

/// An op of the user's own: its output's shape, its forward function and its vector–Jacobian
/// product (VJP). Record it with [`Tape::custom`] or [`Var::custom`]; the tape does the rest as
/// for its own ops: the reverse sweep (which runs the VJP only if the output depends on the
/// node), fan-out, the graph, the trace, anomaly mode and [`gradcheck`](crate::gradcheck).
///
/// The node's op is [`Op::Custom`], which prints as [`name`](CustomOp::name): [`Op`] stays a
/// `Copy` enum, holding the op's index in its tape's registry and its name's index in a table of
/// the program's op names (each distinct name is kept once, for the life of the program). The
/// tape keeps the `Arc` itself, one entry per distinct `Arc` for its whole life: record the same
/// `Arc` every step.
///
/// `Send + Sync` so that a tape that holds it stays usable from the places a tape is (and an op
/// is typically a unit struct or a few constants).
///
/// ```
/// use std::sync::Arc;
/// use chainrule::ops::{CustomOp, MatView};
/// use chainrule::{gradcheck, Matrix, Tape};
///
/// /// `y = x³`, elementwise: `dx += g ⊙ 3x²`.
/// struct Cube;
///
/// impl CustomOp for Cube {
///     fn name(&self) -> &str {
///         "cube"
///     }
///     fn output_shape(&self, inputs: &[(usize, usize)]) -> Result<(usize, usize), String> {
///         match inputs {
///             [shape] => Ok(*shape),
///             _ => Err(format!("takes one input, got {}", inputs.len())),
///         }
///     }
///     fn forward(&self, inputs: &[MatView<'_>], out: &mut [f64]) {
///         for (y, x) in out.iter_mut().zip(inputs[0].as_slice()) {
///             *y = x * x * x;
///         }
///     }
///     fn backward(
///         &self,
///         inputs: &[MatView<'_>],
///         _output: MatView<'_>,
///         upstream: MatView<'_>,
///         grads: &mut [&mut [f64]],
///     ) {
///         let (x, g) = (inputs[0].as_slice(), upstream.as_slice());
///         for ((dx, x), g) in grads[0].iter_mut().zip(x).zip(g) {
///             *dx += g * 3.0 * x * x;
///         }
///     }
/// }
///
/// let cube: Arc<dyn CustomOp> = Arc::new(Cube);
/// let tape = Tape::new();
/// let x = tape.param(&Matrix::from_rows(&[[2.0, -1.0]]));
/// let y = x.custom(&cube, &[]).sum();
/// assert_eq!(y.item(), 7.0);
/// assert_eq!(&*tape.backward(y).wrt(x), &[12.0, 3.0]);
/// assert_eq!(tape.vars().nth(1).unwrap().op().to_string(), "cube");
/// // Checked against finite differences in one line:
/// gradcheck(|v| v[0].custom(&cube, &[]).sum(), &[Matrix::from_rows(&[[0.5, -2.0]])], 1e-6, 1e-6)?;
/// # Ok::<(), chainrule::GradCheckError>(())
/// ```
pub trait CustomOp: Send + Sync {
    /// The op's name, as the graph, the trace and anomaly reports print it (`"softplus"`). It is
    /// read once, when the op is first recorded on a tape.
    fn name(&self) -> &str;

    /// The output's `(rows, cols)` for inputs of the given shapes, or why they do not fit. An
    /// error panics at the recording line, prefixed with the op's name and followed by the input
    /// shapes.
    fn output_shape(&self, inputs: &[(usize, usize)]) -> Result<(usize, usize), String>;

    /// Computes the output from the inputs into `out` (row-major, `rows × cols` of
    /// [`output_shape`](CustomOp::output_shape)). `out` holds stale numbers from an earlier
    /// step: write every entry.
    fn forward(&self, inputs: &[MatView<'_>], out: &mut [f64]);

    /// The vector–Jacobian product: given the upstream gradient `∂L/∂y` (shaped like the
    /// output), **add** each input's share `Σ_k ∂L/∂y_k · ∂y_k/∂x_ij` into `grads[i]` (shaped
    /// like input `i`, zero on entry). The inputs' values and the saved output are there to read.
    /// Adding rather than assigning is what makes an input used twice work.
    fn backward(
        &self,
        inputs: &[MatView<'_>],
        output: MatView<'_>,
        upstream: MatView<'_>,
        grads: &mut [&mut [f64]],
    );

    /// The rule for input `position` as the backward trace prints it, with `{y}` for the node
    /// and `{in0}`, `{in1}`, … (or `{a}`, `{b}`) for its inputs: `"dL/d{in0} += dL/d{y} ⊙ σ({in0})"`.
    /// By default it names the op's VJP.
    fn rule(&self, position: usize) -> String {
        format!(
            "dL/d{{in{position}}} += {}'s vector–Jacobian product of dL/d{{y}}, input {position}",
            self.name()
        )
    }
}

/// A read-only row-major matrix as a [`CustomOp`] sees its inputs, its output and the upstream
/// gradient.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MatView<'a> {
    data: &'a [f64],
    rows: usize,
    cols: usize,
}

impl<'a> MatView<'a> {
    /// A view of `data` as a `rows × cols` matrix, row-major (to test an op's functions
    /// directly).
    ///
    /// # Panics
    /// If `data` does not hold `rows · cols` entries.
    #[track_caller]
    pub fn new(data: &'a [f64], rows: usize, cols: usize) -> Self {
        assert!(
            data.len() == rows * cols,
            "MatView::new: {} values cannot fill a {rows}x{cols} matrix",
            data.len()
        );
        MatView { data, rows, cols }
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

    /// The entries, row-major.
    pub fn as_slice(&self) -> &'a [f64] {
        self.data
    }

    /// Row `r`.
    pub fn row(&self, r: usize) -> &'a [f64] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }

    /// A copy as a [`Matrix`].
    pub fn to_matrix(&self) -> Matrix {
        Matrix::new(self.rows, self.cols, self.data.to_vec())
    }
}

impl Index<(usize, usize)> for MatView<'_> {
    type Output = f64;

    fn index(&self, (r, c): (usize, usize)) -> &f64 {
        assert!(
            r < self.rows && c < self.cols,
            "MatView: index ({r}, {c}) out of range for a {}x{} matrix",
            self.rows,
            self.cols
        );
        &self.data[r * self.cols + c]
    }
}

/// Which user op a node computes ([`Op::Custom`]): its index in its tape's registry, and its
/// name, which [`Op::name`] returns.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CustomId {
    /// Index into the tape's registry of user ops.
    index: u32,
    /// Index into the program's interned op names (see [`intern`]).
    name: u32,
}

impl CustomId {
    /// The op's position in its tape's registry (0 for the first distinct op recorded).
    pub fn index(self) -> usize {
        self.index as usize
    }

    /// The op's name ([`CustomOp::name`] when it was first recorded).
    #[inline(never)]
    pub fn name(self) -> &'static str {
        names()[self.name as usize]
    }
}

impl fmt::Debug for CustomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CustomId({}, {:?})", self.index, self.name())
    }
}

/// Every name a user op has had in this program, each stored once and never freed: a name is a
/// handful of bytes, there are as many as the program has distinct op names, and keeping them
/// lets a `Copy` [`Op`] print its name without its tape.
static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

fn names() -> std::sync::MutexGuard<'static, Vec<&'static str>> {
    // The list is only ever pushed to whole: a panic elsewhere cannot leave it half-written.
    NAMES.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The index of `name` in [`NAMES`], adding it the first time.
fn intern(name: &str) -> u32 {
    let mut names = names();
    let index = match names.iter().position(|&known| known == name) {
        Some(index) => index,
        None => {
            names.push(Box::leak(name.to_owned().into_boxed_str()));
            names.len() - 1
        }
    };
    u32::try_from(index).expect("fewer than 2^32 distinct op names")
}

/// The user ops recorded on one tape, in the order they first were. Kept for the tape's
/// life (a reset keeps it): the same `Arc` recorded again finds its entry, so a training loop
/// that records one op every step registers it once.
#[derive(Default)]
pub(crate) struct Registry {
    ops: Vec<(Arc<dyn CustomOp>, CustomId)>,
}

impl Registry {
    /// The id of `op`, registering it if this tape has not seen this `Arc` yet.
    fn register(&mut self, op: &Arc<dyn CustomOp>) -> CustomId {
        let same =
            |known: &Arc<dyn CustomOp>| std::ptr::addr_eq(Arc::as_ptr(known), Arc::as_ptr(op));
        if let Some((_, id)) = self.ops.iter().find(|(known, _)| same(known)) {
            return *id;
        }
        let id = CustomId {
            index: u32::try_from(self.ops.len()).expect("fewer than 2^32 user ops on a tape"),
            name: intern(op.name()),
        };
        self.ops.push((Arc::clone(op), id));
        id
    }

    /// The op of `id`.
    pub(crate) fn get(&self, id: CustomId) -> &Arc<dyn CustomOp> {
        &self.ops[id.index()].0
    }
}

impl Tape {
    /// Records the user's op `op` on `inputs` (any number, in order): computes its value with
    /// [`CustomOp::forward`] now, and runs [`CustomOp::backward`] in the reverse sweep. See
    /// [`CustomOp`] for an example.
    ///
    /// The node's op is [`Op::Custom`], which prints as the op's name. Record the same `Arc`
    /// each step: the tape keeps one entry per distinct `Arc` it has seen, for its whole life.
    /// Up to three inputs are held without allocating.
    ///
    /// # Panics
    /// If an input belongs to another tape, or [`CustomOp::output_shape`] refuses the inputs'
    /// shapes (the message starts with the op's name and ends with the recording line).
    #[track_caller]
    pub fn custom<'t>(&'t self, op: &Arc<dyn CustomOp>, inputs: &[Var<'t>]) -> Var<'t> {
        let name = op.name();
        for &v in inputs {
            self.check_owner(name, v);
        }
        let shapes: SmallVec<[(usize, usize); 4]> = inputs.iter().map(|v| v.shape()).collect();
        let (rows, cols) = match op.output_shape(&shapes) {
            Ok(shape) => shape,
            Err(why) => {
                let list: Vec<String> = inputs
                    .iter()
                    .zip(&shapes)
                    .map(|(v, (r, c))| format!("{r}x{c} ({})", v.id))
                    .collect();
                fail(format_args!("{name}: {why}; inputs {}", list.join(", ")))
            }
        };
        let mut guard = self.inner.borrow_mut();
        let t = &mut *guard;
        let id = t.space.custom.register(op);
        let offset = t.used;
        t.claim(rows * cols);
        let (before, rest) = t.values.split_at_mut(offset);
        let mut requires_grad = false;
        let views: SmallVec<[MatView<'_>; 4]> = inputs
            .iter()
            .map(|v| {
                let n = &t.nodes[v.id.index()];
                requires_grad |= n.requires_grad;
                MatView::new(&before[n.range()], n.rows(), n.cols())
            })
            .collect();
        op.forward(&views, &mut rest[..rows * cols]);
        drop(views);
        let ids: SmallVec<[NodeId; 3]> = inputs.iter().map(|v| v.id).collect();
        if ids.spilled() {
            // The tape frees this list when it forgets the node (see `Node`).
            t.spilled.push(t.nodes.len() as u32);
        }
        let node = push_node(
            &mut t.nodes,
            Op::Custom(id),
            ids,
            rows,
            cols,
            offset,
            requires_grad,
        );
        if t.anomaly.enabled {
            t.anomaly
                .after_record(&t.nodes, &t.values, Location::caller());
        }
        Var {
            id: node,
            tape: self,
        }
    }

    /// The user op a [`CustomId`] of this tape stands for, if any.
    pub fn custom_op(&self, id: CustomId) -> Option<Arc<dyn CustomOp>> {
        let t = self.inner.borrow();
        let (op, known) = t.space.custom.ops.get(id.index())?;
        (*known == id).then(|| Arc::clone(op))
    }
}

impl<'t> Var<'t> {
    /// Records the user's op `op` on this node followed by `others`: `x.custom(&op, &[])` for a
    /// unary op, `a.custom(&op, &[b])` for a binary one. The same as
    /// [`Tape::custom`]`(op, &[self, others…])`.
    ///
    /// # Panics
    /// As [`Tape::custom`].
    #[track_caller]
    pub fn custom(self, op: &Arc<dyn CustomOp>, others: &[Var<'t>]) -> Var<'t> {
        let inputs: SmallVec<[Var<'t>; 4]> = std::iter::once(self)
            .chain(others.iter().copied())
            .collect();
        self.tape.custom(op, &inputs)
    }
}

/// Forward: never called through the dispatch: [`Tape::custom`] runs the op's forward when it
/// records, since only it has the op object.
pub(crate) fn forward() -> ! {
    unreachable!("a user op is computed by Tape::custom, which holds the op")
}

/// Backward: the user's VJP, on zero-filled gradients in the tape's scratch space, which are
/// then added into the inputs' gradients (or written, for a first contribution). The scratch
/// copy lets the op add into a plain `&mut [f64]` per input, whether the input wants a gradient
/// or not, and whether it appears once or twice among the inputs.
// Out of line: rare in the sweep's dispatch.
#[inline(never)]
pub(crate) fn backward(id: CustomId, cx: &mut Backward<'_>) {
    let op = Arc::clone(cx.space.custom.get(id));
    let count = cx.input_count();
    let shapes: SmallVec<[(usize, usize); 4]> = (0..count).map(|i| cx.input_shape(i)).collect();
    let total: usize = shapes.iter().map(|(r, c)| r * c).sum();
    let mut scratch = std::mem::take(&mut cx.space.scratch);
    if scratch.len() < total {
        scratch.resize(total, 0.0);
    }
    let buffer = &mut scratch[..total];
    buffer.fill(0.0);
    {
        let views: SmallVec<[MatView<'_>; 4]> = (0..count)
            .map(|i| MatView::new(cx.input(i), shapes[i].0, shapes[i].1))
            .collect();
        let (rows, cols) = cx.shape();
        let output = MatView::new(cx.output(), rows, cols);
        let upstream = MatView::new(cx.upstream, rows, cols);
        let mut grads: SmallVec<[&mut [f64]; 4]> = SmallVec::new();
        let mut rest = &mut *buffer;
        for (r, c) in &shapes {
            let (grad, tail) = rest.split_at_mut(r * c);
            grads.push(grad);
            rest = tail;
        }
        op.backward(&views, output, upstream, &mut grads);
    }
    let mut start = 0;
    for (i, (r, c)) in shapes.iter().enumerate() {
        let share = &buffer[start..start + r * c];
        if let Some(dx) = cx.grad_out(i) {
            dx.add(share.iter().copied());
        }
        start += r * c;
    }
    cx.space.scratch = scratch;
}

/// What `ops::rule` can say of a user op without its tape; the trace asks the op itself
/// ([`CustomOp::rule`]).
pub(crate) const RULES: [&str; 1] = ["dL/d{a} += the user op's vector–Jacobian product"];
