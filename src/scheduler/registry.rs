//! The registry of live tasks, so that shutdown can cancel every task —
//! including those parked on something outside the runtime (a channel, a
//! never-ready future) that would otherwise never be woken and would keep
//! their sockets open forever.
//!
//! Each spawned task holds a slot in one of several shards containing a
//! clone of its waker. The shard is picked by the spawning P plus a
//! per-thread counter that advances with every spawn: spawns on different
//! workers start from different shards, and the tasks of one busy spawner
//! are spread over all of them, so the workers that finish those tasks
//! (and release their slots) rarely queue on the same lock as each other
//! or as the spawner. The slot is released when the task's
//! future completes or is dropped. At shutdown every waker is woken, which
//! moves each task to the global queue where shutdown drops it.
//!
//! The slot also points to the task's metadata (`TaskMeta`, in the task's
//! header), which is how task dumps and stall reports find each live task's
//! record. Invariant: the pointer is valid while the slot holds the waker,
//! since the waker keeps the task's allocation alive; so it is only
//! dereferenced under the shard lock, with the waker in place.

use super::TaskMeta;
use crate::sync::{Mutex, MutexGuard};
use std::task::Waker;

const SHARDS: usize = 16;
const SHARD_BITS: u32 = 4;

/// A slot handle: shard in the low bits, index above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key(u32);

impl Key {
    /// No slot (tasks that are not registered, or not yet).
    const NONE: u32 = u32::MAX;

    /// Packs an optional key into a `u32` (for an atomic).
    pub(crate) fn pack(key: Option<Key>) -> u32 {
        key.map_or(Key::NONE, |k| k.0)
    }

    /// Unpacks [`pack`](Self::pack).
    pub(crate) fn unpack(raw: u32) -> Option<Key> {
        (raw != Key::NONE).then_some(Key(raw))
    }
}

/// A live task: its waker, and its metadata (see the module docs).
#[derive(Debug)]
struct Entry {
    waker: Waker,
    meta: *const TaskMeta,
}

// SAFETY: `meta` points into a task header, which is Sync (`TaskMeta` is
// an Arc, atomics and immutable data), and is only read under the shard
// lock while the entry's waker keeps the header alive.
unsafe impl Send for Entry {}

impl Entry {
    fn meta(&self) -> &TaskMeta {
        // SAFETY: see the module docs; `self` (with its waker) is borrowed
        // from a locked shard for the whole use.
        unsafe { &*self.meta }
    }
}

/// This thread's spawn count (see the module docs).
fn next_spread() -> usize {
    thread_local! {
        static SPREAD: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }
    SPREAD
        .try_with(|c| {
            let n = c.get();
            c.set(n.wrapping_add(1));
            n
        })
        .unwrap_or(0)
}

#[derive(Debug, Default)]
struct Shard {
    slots: Vec<Option<Entry>>,
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
    fn shard(&self, i: usize) -> MutexGuard<'_, Shard> {
        self.shards[i].lock()
    }

    /// Stores a task's waker and metadata in a free slot of a shard
    /// picked from `hint` and this thread's spawn count, and returns the slot's key (one lock per spawn).
    ///
    /// # Safety
    ///
    /// `meta` must stay valid for as long as `waker` keeps its task's
    /// allocation alive (it points into that task's header).
    pub(crate) unsafe fn insert(&self, hint: usize, waker: Waker, meta: *const TaskMeta) -> Key {
        let s = hint.wrapping_add(next_spread()) % SHARDS;
        let entry = Entry { waker, meta };
        let mut shard = self.shard(s);
        shard.live += 1;
        let index = match shard.free.pop() {
            Some(i) => {
                shard.slots[i as usize] = Some(entry);
                i
            }
            None => {
                shard.slots.push(Some(entry));
                (shard.slots.len() - 1) as u32
            }
        };
        Key((index << SHARD_BITS) | s as u32)
    }

    /// Releases a slot (the task finished or was dropped).
    pub(crate) fn release(&self, key: Key) {
        let waker = {
            let mut shard = self.shard((key.0 as usize) % SHARDS);
            let index = key.0 >> SHARD_BITS;
            let w = shard.slots[index as usize].take().map(|e| e.waker);
            shard.free.push(index);
            shard.live -= 1;
            w
        };
        // Dropped outside the lock: it may be the task's last reference.
        drop(waker);
    }

    /// Calls `f` on the metadata of every live task (one shard locked at a
    /// time: keep `f` short).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&TaskMeta)) {
        for i in 0..SHARDS {
            let shard = self.shard(i);
            for e in shard.slots.iter().flatten() {
                f(e.meta());
            }
        }
    }

    /// The first `Some` that `f` returns for a live task's metadata.
    pub(crate) fn find<R>(&self, mut f: impl FnMut(&TaskMeta) -> Option<R>) -> Option<R> {
        (0..SHARDS).find_map(|i| {
            self.shard(i)
                .slots
                .iter()
                .flatten()
                .find_map(|e| f(e.meta()))
        })
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
            out.extend(
                shard
                    .slots
                    .iter_mut()
                    .filter_map(Option::take)
                    .map(|e| e.waker),
            );
        }
        out
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn ins(r: &Registry) -> Key {
        // SAFETY: the null metadata is never read: this test does not call
        // `for_each` or `find`.
        unsafe { r.insert(3, Waker::noop().clone(), std::ptr::null()) }
    }

    #[test]
    fn insert_release() {
        let r = Registry::default();
        let a = ins(&r);
        let b = ins(&r);
        assert_ne!(a, b);
        assert_eq!(r.live(), 2);
        r.release(b);
        assert_eq!(r.live(), 1);
        assert_eq!(r.take_all().len(), 1);
        r.release(a);
        assert_eq!(r.live(), 0);
        assert_eq!(Key::unpack(Key::pack(Some(a))), Some(a));
        assert_eq!(Key::unpack(Key::pack(None)), None);
    }

    #[test]
    fn one_spawner_spreads_over_every_shard_and_reuses_slots() {
        let r = Registry::default();
        let keys: Vec<Key> = (0..SHARDS).map(|_| ins(&r)).collect();
        let mut shards: Vec<u32> = keys.iter().map(|k| k.0 % SHARDS as u32).collect();
        shards.sort_unstable();
        shards.dedup();
        assert_eq!(shards.len(), SHARDS, "one thread's spawns use every shard");
        for k in &keys {
            r.release(*k);
        }
        assert_eq!(r.live(), 0);
        let mut again: Vec<Key> = (0..SHARDS).map(|_| ins(&r)).collect();
        let mut keys = keys;
        keys.sort_unstable_by_key(|k| k.0);
        again.sort_unstable_by_key(|k| k.0);
        assert_eq!(again, keys, "released slots are reused, not appended");
    }
}
