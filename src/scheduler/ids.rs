//! Names for Ps and Ms. A P is named by its index in the runtime's P array
//! ([`PId`]), an M by a number unique within the runtime ([`MId`]). Where
//! Go holds a `*p` or `*m` that may be nil, goro holds `Option<PId>` or
//! `Option<MId>`: "no P" and "no owner" are `None`, never a magic integer.

use super::processor::Processor;
use std::ops::Index;

/// A P: its index in `Shared::ps` (`0..nprocs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct PId(u32);

impl PId {
    /// The P at `index` of the P array.
    pub(crate) fn new(index: usize) -> PId {
        // The P array is allocated before any PId is made, so it cannot
        // hold 2^32 Ps.
        PId(u32::try_from(index).expect("fewer than 2^32 Ps"))
    }

    /// Its index in the P array.
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

impl Index<PId> for [Processor] {
    type Output = Processor;

    fn index(&self, id: PId) -> &Processor {
        &self[id.index()]
    }
}

/// An M: a number unique within its runtime, in `1..=MId::MAX` (the owner
/// word of a P packs it into 31 bits, ownership.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct MId(u32);

impl MId {
    /// The largest M number.
    pub(crate) const MAX: u32 = 0x7fff_ffff;

    /// The M numbered `raw`, if `raw` is one (`1..=MAX`).
    pub(crate) fn from_raw(raw: u32) -> Option<MId> {
        (1..=Self::MAX).contains(&raw).then_some(MId(raw))
    }

    /// The `n`th M started by a runtime (`n` counts from 1); numbers are
    /// reused only after 2^31 - 1 Ms.
    pub(crate) fn nth(n: u64) -> MId {
        let n = n.saturating_sub(1) % u64::from(Self::MAX);
        MId(n as u32 + 1)
    }

    /// Its number.
    pub(crate) fn raw(self) -> u32 {
        self.0
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn m_ids_are_never_zero_and_fit_the_owner_word() {
        assert_eq!(MId::nth(1).raw(), 1);
        assert_eq!(MId::nth(u64::from(MId::MAX)).raw(), MId::MAX);
        assert_eq!(MId::nth(u64::from(MId::MAX) + 1).raw(), 1);
        assert_eq!(MId::from_raw(0), None);
        assert_eq!(MId::from_raw(MId::MAX + 1), None);
        assert_eq!(MId::from_raw(7), Some(MId::nth(7)));
    }
}
