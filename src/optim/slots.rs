//! The per-slot state buffers that [`Momentum`](super::Momentum) and [`Adam`](super::Adam)
//! share: allocated on a slot's first update, read out as an [`OptimizerState`], restored from one.

use super::{OptimizerState, StateError};

/// Per-slot buffers shared by the stateful optimizers: `N` named buffers, each one `Vec<f64>` per
/// parameter slot, grown on a slot's first update.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Slots<const N: usize> {
    names: [&'static str; N],
    values: [Vec<Vec<f64>>; N],
}

impl<const N: usize> Slots<N> {
    pub(super) fn new(names: [&'static str; N]) -> Self {
        Slots {
            names,
            values: std::array::from_fn(|_| Vec::new()),
        }
    }

    /// The `N` buffers of `slot`, created as zeros of length `len` on its first use.
    #[inline]
    #[track_caller]
    pub(super) fn get(&mut self, optimizer: &str, slot: usize, len: usize) -> [&mut [f64]; N] {
        let known = self.values[0].len();
        if slot == known {
            for buffer in &mut self.values {
                buffer.push(vec![0.0; len]);
            }
        } else if slot > known {
            panic!("{optimizer}: update of slot {slot} before slot {known} was ever updated");
        }
        let have = self.values[0][slot].len();
        assert!(
            have == len,
            "{optimizer}: slot {slot} has state for {have} values but the parameter has {len} \
             (a state restored for another model?)"
        );
        let mut buffers = self.values.iter_mut();
        std::array::from_fn(|_| buffers.next().expect("N buffers")[slot].as_mut_slice())
    }

    pub(super) fn state(&self, kind: &str, t: u64) -> OptimizerState {
        OptimizerState {
            kind: kind.to_string(),
            t,
            buffers: self
                .names
                .iter()
                .zip(&self.values)
                .map(|(name, slots)| (name.to_string(), slots.clone()))
                .collect(),
        }
    }

    /// Checks `state` against this optimizer's kind and buffer names, and its buffers against
    /// each other; on success returns copies of its buffers.
    pub(super) fn restore(
        &self,
        kind: &'static str,
        state: &OptimizerState,
    ) -> Result<Self, StateError> {
        if state.kind != kind {
            return Err(StateError::Kind {
                expected: kind,
                found: state.kind.clone(),
            });
        }
        let names_match = state.buffers.len() == N
            && state
                .buffers
                .iter()
                .zip(&self.names)
                .all(|((found, _), expected)| found == expected);
        if !names_match {
            return Err(StateError::Buffers {
                expected: self.names.to_vec(),
                found: state.buffers.iter().map(|(n, _)| n.clone()).collect(),
            });
        }
        // Every buffer must have the first buffer's slots, with the same lengths.
        if let Some((first_name, first)) = state.buffers.first() {
            for (name, slots) in &state.buffers[1..] {
                let same = slots.len() == first.len()
                    && slots.iter().zip(first).all(|(a, b)| a.len() == b.len());
                if !same {
                    return Err(StateError::Shape(format!(
                        "buffer `{name}` does not have the slots of buffer `{first_name}` \
                         (slot lengths {:?} vs {:?})",
                        slots.iter().map(Vec::len).collect::<Vec<_>>(),
                        first.iter().map(Vec::len).collect::<Vec<_>>()
                    )));
                }
            }
        }
        let mut restored = self.clone();
        for (values, (_, slots)) in restored.values.iter_mut().zip(&state.buffers) {
            values.clone_from(slots);
        }
        Ok(restored)
    }
}
