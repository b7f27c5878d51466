//! The descriptor cache: Go's `pollcache`.
//!
//! Descriptors are allocated in chunks of [`CHUNK`] and never freed while
//! the cache lives, so a descriptor's address is stable: timers and epoll
//! tokens may refer to it long after its fd was closed. A freed descriptor
//! goes on a free list (LIFO, so fd-reuse races are exercised, not hidden)
//! and its generation `fdseq` is bumped, which makes every epoll token and
//! deadline timer minted for the previous fd stale.
//!
//! Tokens are `index | fdseq << 32`; [`DescCache::lookup`] resolves a token
//! to its descriptor only if the generation still matches.

use super::descriptor::{DescPtr, PollDesc};
use crate::sync::Mutex;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// Descriptors per chunk.
pub(crate) const CHUNK: usize = 256;
/// Chunks at most: 4 Mi descriptors, far above any `RLIMIT_NOFILE`.
const MAX_CHUNKS: usize = 1 << 14;

#[derive(Debug, Default)]
struct FreeList {
    free: Vec<u32>,
    next: u32,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct DescCache {
    chunks: Box<[AtomicPtr<PollDesc>]>,
    free: Mutex<FreeList>,
    /// The poller's count of parked slots, handed to every descriptor.
    waiters: Arc<AtomicUsize>,
}

impl Default for DescCache {
    fn default() -> Self {
        DescCache::new(Arc::default())
    }
}

impl DescCache {
    /// An empty cache whose descriptors count parked slots in `waiters`.
    pub(crate) fn new(waiters: Arc<AtomicUsize>) -> DescCache {
        DescCache {
            chunks: (0..MAX_CHUNKS)
                .map(|_| AtomicPtr::new(std::ptr::null_mut()))
                .collect(),
            free: Mutex::new(FreeList::default()),
            waiters,
        }
    }

    /// Takes a descriptor off the free list, growing the cache if needed.
    pub(crate) fn alloc(&self) -> io::Result<DescPtr> {
        let mut fl = self.free.lock();
        let index = match fl.free.pop() {
            Some(i) => i,
            None => {
                let i = fl.next;
                let chunk = i as usize / CHUNK;
                if chunk >= MAX_CHUNKS {
                    return Err(io::Error::new(
                        io::ErrorKind::OutOfMemory,
                        "goro: descriptor cache exhausted",
                    ));
                }
                if self.chunks[chunk].load(Ordering::Acquire).is_null() {
                    let descs: Box<[PollDesc]> = (0..CHUNK)
                        .map(|k| {
                            PollDesc::with_index((chunk * CHUNK + k) as u32, self.waiters.clone())
                        })
                        .collect();
                    let ptr = Box::into_raw(descs).cast::<PollDesc>();
                    self.chunks[chunk].store(ptr, Ordering::Release);
                }
                fl.next += 1;
                i
            }
        };
        drop(fl);
        Ok(DescPtr::new(self.at(index).expect("allocated chunk")))
    }

    /// Returns a descriptor whose fd has been closed and deregistered.
    pub(crate) fn free(&self, pd: &PollDesc) {
        pd.fdseq.fetch_add(1, Ordering::AcqRel);
        pd.fd.store(-1, Ordering::Relaxed);
        self.free.lock().free.push(pd.index);
    }

    fn at(&self, index: u32) -> Option<&PollDesc> {
        let chunk = self.chunks.get(index as usize / CHUNK)?;
        let base = chunk.load(Ordering::Acquire);
        if base.is_null() {
            return None;
        }
        // SAFETY: `base` points to a live chunk of CHUNK descriptors that is
        // only freed when the cache is dropped; the offset is in bounds.
        Some(unsafe { &*base.add(index as usize % CHUNK) })
    }

    /// Resolves an epoll token, or `None` if it is stale.
    pub(crate) fn lookup(&self, token: u64) -> Option<&PollDesc> {
        let pd = self.at(token as u32)?;
        (pd.fdseq.load(Ordering::Acquire) == (token >> 32) as u32).then_some(pd)
    }

    /// Number of descriptors ever created.
    pub(crate) fn allocated(&self) -> usize {
        self.free.lock().next as usize
    }

    /// Every descriptor ever created, in use or free (runtime shutdown).
    /// Runs `f` without holding the free-list lock, so `f` may wake tasks
    /// that close sockets.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&PollDesc)) {
        for index in 0..self.allocated() {
            if let Some(pd) = self.at(index as u32) {
                f(pd);
            }
        }
    }

    /// Number of descriptors currently in use.
    pub(crate) fn in_use(&self) -> usize {
        let fl = self.free.lock();
        fl.next as usize - fl.free.len()
    }
}

impl Drop for DescCache {
    fn drop(&mut self) {
        for chunk in self.chunks.iter() {
            let ptr = chunk.load(Ordering::Acquire);
            if !ptr.is_null() {
                // SAFETY: `ptr` came from `Box::<[PollDesc]>::into_raw` with
                // CHUNK elements and is freed exactly once, here.
                drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, CHUNK)) });
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn reuse_bumps_generation_and_stales_tokens() {
        let cache = DescCache::default();
        let a = cache.alloc().unwrap();
        let token = a.get().token();
        assert!(std::ptr::eq(cache.lookup(token).unwrap(), a.get()));
        cache.free(a.get());
        assert!(
            cache.lookup(token).is_none(),
            "token of a freed fd is stale"
        );
        let b = cache.alloc().unwrap();
        assert_eq!(a, b, "LIFO reuse of the same descriptor");
        assert_ne!(b.get().token(), token);
        assert!(cache.lookup(token).is_none());
        assert_eq!(cache.in_use(), 1);
    }

    #[test]
    fn addresses_are_stable_across_growth() {
        let cache = DescCache::default();
        let first = cache.alloc().unwrap();
        let addr = first.get() as *const PollDesc;
        let rest: Vec<_> = (0..3 * CHUNK).map(|_| cache.alloc().unwrap()).collect();
        assert_eq!(first.get() as *const PollDesc, addr);
        assert_eq!(cache.allocated(), 3 * CHUNK + 1);
        assert!(rest.iter().all(|p| cache.lookup(p.get().token()).is_some()));
        assert!(cache.lookup(u64::from(u32::MAX - 1)).is_none());
    }
}
