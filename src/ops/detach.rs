//! `y = x`, but the gradient stops here: d(anything)/dx through `y` is taken as 0.
//!
//! The node is marked as needing no gradient, so backward never visits it or anything only it
//! leads to. Its forward rule is a copy (in the dispatch of `ops/mod.rs`); it has no backward rule.

use super::{Backward, Op, Operand};
use crate::tape::Var;

impl<'t> Var<'t> {
    /// The same value, treated as a constant by backward (a "stop gradient").
    #[inline]
    #[track_caller]
    pub fn detach(self) -> Var<'t> {
        self.unary(Op::Detach)
    }
}

/// Forward: `y = x`, a copy.
pub(crate) fn forward(x: &[Operand<'_>], y: &mut [f64]) {
    y.copy_from_slice(x[0].value);
}

/// Backward: nothing. The node is marked as needing no gradient, so the sweep never even calls
/// this; it is here so that every op has a rule.
#[inline(always)]
pub(crate) fn backward(_: &mut Backward<'_>) {}

/// The rule per input, as the backward trace prints it (`docs/chain-rule.md` derives it).
pub(crate) const RULES: [&str; 1] = ["(no rule: nothing flows back)"];
