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
//!
//! A shard's slots are a [`Pages`] with the free slots chained through
//! the vacant ones (no separate free list), and shutdown takes the wakers
//! out a batch at a time: a million tasks never make one multi-MiB block
//! (see pages.rs for why that matters to malloc).

use super::TaskMeta;
use crate::pages::Pages;
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

/// A shard's slot: a live task, or a link in the chain of free slots.
#[derive(Debug)]
enum Slot {
    Live(Entry),
    /// A live task whose waker shutdown took: still counted, freed when
    /// the task releases it.
    Taken,
    /// Free; the next free slot's index, or `NO_SLOT`.
    Free(u32),
}

/// End of the free chain.
const NO_SLOT: u32 = u32::MAX;

/// Wakers shutdown takes out of a shard per lock acquisition.
const WAKE_BATCH: usize = 1024;

#[derive(Debug)]
struct Shard {
    slots: Pages<Slot>,
    /// Head of the free chain.
    free: u32,
    live: usize,
}

impl Default for Shard {
    fn default() -> Self {
        Shard {
            slots: Pages::default(),
            free: NO_SLOT,
            live: 0,
        }
    }
}

impl Shard {
    /// The live entries.
    fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.slots.iter().filter_map(|s| match s {
            Slot::Live(e) => Some(e),
            Slot::Taken | Slot::Free(_) => None,
        })
    }
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
        let index = match shard.free {
            NO_SLOT => {
                shard.slots.push(Slot::Live(entry));
                (shard.slots.len() - 1) as u32
            }
            i => {
                let slot = std::mem::replace(&mut shard.slots[i as usize], Slot::Live(entry));
                if let Slot::Free(next) = slot {
                    shard.free = next;
                }
                i
            }
        };
        Key((index << SHARD_BITS) | s as u32)
    }

    /// Releases a slot (the task finished or was dropped).
    pub(crate) fn release(&self, key: Key) {
        let slot = {
            let mut shard = self.shard((key.0 as usize) % SHARDS);
            let shard = &mut *shard;
            let index = key.0 >> SHARD_BITS;
            let Some(slot) = shard.slots.get_mut(index as usize) else {
                return;
            };
            if let Slot::Free(_) = slot {
                return; // not ours (cannot happen: a key is released once)
            }
            let old = std::mem::replace(slot, Slot::Free(shard.free));
            shard.free = index;
            shard.live -= 1;
            old
        };
        // Dropped outside the lock: its waker may be the task's last
        // reference.
        drop(slot);
    }

    /// Calls `f` on the metadata of every live task (one shard locked at a
    /// time: keep `f` short).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&TaskMeta)) {
        for i in 0..SHARDS {
            let shard = self.shard(i);
            for e in shard.entries() {
                f(e.meta());
            }
        }
    }

    /// The first `Some` that `f` returns for a live task's metadata.
    pub(crate) fn find<R>(&self, mut f: impl FnMut(&TaskMeta) -> Option<R>) -> Option<R> {
        (0..SHARDS).find_map(|i| self.shard(i).entries().find_map(|e| f(e.meta())))
    }

    /// Number of live tasks.
    pub(crate) fn live(&self) -> usize {
        (0..SHARDS).map(|i| self.shard(i).live).sum()
    }

    /// Takes every stored waker out and wakes it by reference (shutdown),
    /// a batch at a time, each batch woken without the shard's lock (a
    /// woken task may be dropped at once, releasing its slot). Returns the
    /// wakers, each a reference that keeps its task's memory allocated:
    /// shutdown cancels the tasks here and frees them elsewhere
    /// (shutdown.rs).
    pub(crate) fn wake_all(&self) -> Pages<Waker> {
        let mut taken = Pages::default();
        let mut batch = Vec::new();
        for i in 0..SHARDS {
            let mut next = 0;
            loop {
                {
                    let mut shard = self.shard(i);
                    let shard = &mut *shard;
                    while next < shard.slots.len() && batch.len() < WAKE_BATCH {
                        let slot = &mut shard.slots[next];
                        if let Slot::Live(_) = slot {
                            // Its task releases the slot when dropped.
                            if let Slot::Live(e) = std::mem::replace(slot, Slot::Taken) {
                                batch.push(e.waker);
                            }
                        }
                        next += 1;
                    }
                }
                if batch.is_empty() {
                    break;
                }
                for w in batch.drain(..) {
                    w.wake_by_ref();
                    taken.push(w);
                }
            }
        }
        taken
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
        assert_eq!(r.wake_all().len(), 1);
        assert_eq!(
            r.live(),
            1,
            "a taken slot counts until its task releases it"
        );
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

    #[test]
    fn free_slots_chain_through_pages_and_shutdown_wakes_in_batches() {
        let r = Registry::default();
        let n = 3 * WAKE_BATCH * SHARDS;
        let keys: Vec<Key> = (0..n).map(|_| ins(&r)).collect();
        // Free every other round of SHARDS consecutive spawns (one slot per
        // shard each), then spawn as many again: the free chains hand back
        // exactly those slots.
        let freed_keys = keys.chunks(SHARDS).step_by(2).flatten();
        let mut freed: Vec<u32> = freed_keys.clone().map(|k| k.0).collect();
        for k in freed_keys {
            r.release(*k);
        }
        assert_eq!(r.live(), n / 2);
        let mut again: Vec<u32> = (0..n / 2).map(|_| ins(&r).0).collect();
        freed.sort_unstable();
        again.sort_unstable();
        assert!(again == freed, "freed slots are reused, none appended");
        assert_eq!(r.wake_all().len(), n);
        assert_eq!(r.wake_all().len(), 0, "taken wakers are not taken twice");
        for k in &keys {
            r.release(*k);
        }
        assert_eq!(r.live(), 0);
    }
}
