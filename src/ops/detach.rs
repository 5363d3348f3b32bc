//! `y = x`, but the gradient stops here: d(anything)/dx through `y` is taken as 0.
//!
//! The node is marked as needing no gradient, so backward never visits it or anything only it
//! leads to. Its forward rule is a copy (in the dispatch of `ops/mod.rs`); it has no backward rule.

use super::Op;
use crate::tape::Var;

impl<'t> Var<'t> {
    /// The same value, treated as a constant by backward (a "stop gradient").
    #[inline]
    #[track_caller]
    pub fn detach(self) -> Var<'t> {
        self.unary(Op::Detach)
    }
}
