//! What a replay refuses: [`ReplayError`], naming the node.

use std::fmt;

use crate::anomaly::Anomaly;
use crate::ops::Op;
use crate::tape::NodeId;

/// What a [`Replay`](super::Replay) refused, naming the node.
#[derive(Clone, Debug, PartialEq)]
pub enum ReplayError {
    /// The handle belongs to another tape.
    ForeignVar {
        /// The handle's node, on its own tape.
        node: NodeId,
    },
    /// Only leaves ([`Op::Param`], [`Op::Input`]) can be written; parameters only can be updated.
    NotALeaf {
        /// The node.
        node: NodeId,
        /// What it computes.
        op: Op,
        /// What was asked of it: `"set"` or `"update"`.
        action: &'static str,
    },
    /// The values given do not fill the leaf.
    Shape {
        /// The leaf.
        node: NodeId,
        /// Its shape, as recorded.
        rows: usize,
        /// Its shape, as recorded.
        cols: usize,
        /// What was given: `"3 values"`, or `"a 2x3 matrix"`.
        given: String,
    },
    /// Nodes were recorded after the replay was taken (or the node asked for is one of them):
    /// take a new replay of the grown tape.
    TapeChanged {
        /// Nodes when the replay was taken.
        recorded: usize,
        /// Nodes now.
        now: usize,
    },
    /// A step's parts were called out of order: gradients read or used after the leaves
    /// changed without a `forward` in between.
    Order {
        /// What was called: `"backward"`, `"update_params"`.
        action: &'static str,
        /// What must come first.
        needs: &'static str,
    },
    /// A value written into a leaf is not one the op reading it accepts (a label that is not a
    /// class, for `cross_entropy`).
    Invalid {
        /// The node whose op refused it.
        node: NodeId,
        /// Its op.
        op: Op,
        /// Why.
        why: String,
    },
    /// Anomaly mode found a NaN or an infinity (see
    /// [`Tape::set_anomaly_detection`](crate::Tape::set_anomaly_detection)).
    Anomaly(Box<Anomaly>),
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayError::ForeignVar { node } => {
                write!(f, "replay: {node} belongs to another tape")
            }
            ReplayError::NotALeaf { node, op, action } => write!(
                f,
                "replay: cannot {action} {node}: it is {op}, not a {}",
                if *action == "update" {
                    "parameter"
                } else {
                    "leaf (param or input)"
                }
            ),
            ReplayError::Shape {
                node,
                rows,
                cols,
                given,
            } => write!(
                f,
                "replay: {node} is a {rows}x{cols} leaf ({} values), but {given} were given",
                rows * cols
            ),
            ReplayError::TapeChanged { recorded, now } => write!(
                f,
                "replay: the tape held {recorded} nodes when the replay was taken and holds {now} \
                 now; take a new replay (Tape::replay) after recording"
            ),
            ReplayError::Order { action, needs } => {
                write!(f, "replay: {action} before {needs}")
            }
            ReplayError::Invalid { node, op, why } => write!(f, "replay: {node} = {op}: {why}"),
            ReplayError::Anomaly(anomaly) => write!(f, "replay: {anomaly}"),
        }
    }
}

impl std::error::Error for ReplayError {}
