//! The registry of live tasks, so that shutdown can cancel every task —
//! including those parked on something outside the runtime (a channel, a
//! never-ready future) that would otherwise never be woken and would keep
//! their sockets open forever.
//!
//! Each spawned task holds a slot in one of several shards (picked by the
//! spawning P, to keep spawns on different workers off each other's lock)
//! containing a clone of its waker. The slot is released when the task's
//! future completes or is dropped. At shutdown every waker is woken, which
//! moves each task to the global queue where shutdown drops it.

use std::sync::Mutex;
use std::task::Waker;

const SHARDS: usize = 16;
const SHARD_BITS: u32 = 4;

/// A slot handle: shard in the low bits, index above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key(u32);

#[derive(Debug, Default)]
struct Shard {
    slots: Vec<Option<Waker>>,
    free: Vec<u32>,
    live: usize,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Registry {
    shards: Box<[Mutex<Shard>]>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }
}

impl Registry {
    fn shard(&self, i: usize) -> std::sync::MutexGuard<'_, Shard> {
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves a slot in shard `hint % SHARDS`.
    pub(crate) fn reserve(&self, hint: usize) -> Key {
        let s = hint % SHARDS;
        let mut shard = self.shard(s);
        shard.live += 1;
        let index = match shard.free.pop() {
            Some(i) => i,
            None => {
                shard.slots.push(None);
                (shard.slots.len() - 1) as u32
            }
        };
        Key((index << SHARD_BITS) | s as u32)
    }

    /// Stores the task's waker in its reserved slot.
    pub(crate) fn fill(&self, key: Key, waker: Waker) {
        let mut shard = self.shard((key.0 as usize) % SHARDS);
        shard.slots[(key.0 >> SHARD_BITS) as usize] = Some(waker);
    }

    /// Releases a slot (the task finished or was dropped).
    pub(crate) fn release(&self, key: Key) {
        let waker = {
            let mut shard = self.shard((key.0 as usize) % SHARDS);
            let index = key.0 >> SHARD_BITS;
            let w = shard.slots[index as usize].take();
            shard.free.push(index);
            shard.live -= 1;
            w
        };
        // Dropped outside the lock: it may be the task's last reference.
        drop(waker);
    }

    /// Number of live tasks.
    pub(crate) fn live(&self) -> usize {
        (0..SHARDS).map(|i| self.shard(i).live).sum()
    }

    /// Takes every stored waker (shutdown).
    pub(crate) fn take_all(&self) -> Vec<Waker> {
        let mut out = Vec::new();
        for i in 0..SHARDS {
            let mut shard = self.shard(i);
            out.extend(shard.slots.iter_mut().filter_map(Option::take));
        }
        out
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn reserve_fill_release() {
        let r = Registry::default();
        let a = r.reserve(3);
        let b = r.reserve(3);
        assert_ne!(a, b);
        r.fill(a, Waker::noop().clone());
        assert_eq!(r.live(), 2);
        r.release(b);
        assert_eq!(r.live(), 1);
        assert_eq!(r.take_all().len(), 1);
        r.release(a);
        assert_eq!(r.live(), 0);
        assert_eq!(r.reserve(3), a, "the last released slot is reused first");
    }
}
