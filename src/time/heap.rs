//! A 4-ary min-heap keyed by `when`, the shape Go uses for per-P timers.
//!
//! A 4-ary heap is shallower than a binary one (log4 n levels), so inserting
//! sifts through half as many levels, and the four children of a node share a
//! cache line or two. Entries are plain values; cancellation is lazy (the
//! owner of the heap skips entries whose sequence number went stale and
//! compacts when they pile up), so removal from the middle is never needed.
//!
//! The array is a [`Pages`], not a `Vec`: a heap of a million timers must
//! not be one multi-MiB block (see pages.rs for what that does to malloc).

use crate::pages::Pages;

/// An element that can live in the heap.
pub(crate) trait Keyed {
    /// The sort key: smaller comes out first.
    fn key(&self) -> u64;
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Heap4<T> {
    items: Pages<T>,
}

impl<T: Keyed> Default for Heap4<T> {
    fn default() -> Self {
        Heap4 {
            items: Pages::default(),
        }
    }
}

impl<T: Keyed> Heap4<T> {
    /// Number of entries, stale ones included.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// The smallest entry.
    pub(crate) fn peek(&self) -> Option<&T> {
        self.items.get(0)
    }

    /// Inserts `item` in O(log4 n).
    pub(crate) fn push(&mut self, item: T) {
        self.items.push(item);
        self.sift_up(self.items.len() - 1);
    }

    /// Removes and returns the smallest entry in O(4 log4 n).
    pub(crate) fn pop(&mut self) -> Option<T> {
        let last = self.items.pop()?;
        if self.items.is_empty() {
            return Some(last);
        }
        let top = std::mem::replace(&mut self.items[0], last);
        self.sift_down(0);
        Some(top)
    }

    /// Keeps only the entries for which `keep` returns true, then restores
    /// the heap order in O(n). Returns the others, for the caller to drop
    /// (after releasing any lock: dropping an entry may run arbitrary code).
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) -> Pages<T> {
        let n = self.items.len();
        let mut kept = 0;
        for i in 0..n {
            if keep(&self.items[i]) {
                self.items.swap(i, kept);
                kept += 1;
            }
        }
        let mut removed = Pages::default();
        while self.items.len() > kept {
            if let Some(item) = self.items.pop() {
                removed.push(item);
            }
        }
        if kept > 1 {
            for i in (0..=(kept - 2) / 4).rev() {
                self.sift_down(i);
            }
        }
        removed
    }

    /// Removes every entry, in array order: roughly the order they were
    /// pushed (a later timer is usually pushed with a later key and stays
    /// near the end).
    pub(crate) fn take_all(&mut self) -> Pages<T> {
        std::mem::take(&mut self.items)
    }

    fn sift_up(&mut self, mut i: usize) {
        let key = self.items[i].key();
        while i > 0 {
            let parent = (i - 1) / 4;
            if key >= self.items[parent].key() {
                break;
            }
            self.items.swap(i, parent);
            i = parent;
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        let n = self.items.len();
        let key = self.items[i].key();
        loop {
            let first = 4 * i + 1;
            if first >= n {
                break;
            }
            let last = (first + 4).min(n);
            let (mut best, mut best_key) = (first, self.items[first].key());
            for c in first + 1..last {
                let k = self.items[c].key();
                if k < best_key {
                    best = c;
                    best_key = k;
                }
            }
            if best_key >= key {
                break;
            }
            self.items.swap(i, best);
            i = best;
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    impl Keyed for u64 {
        fn key(&self) -> u64 {
            *self
        }
    }

    #[test]
    fn pops_in_order() {
        let mut h = Heap4::default();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut all = Vec::new();
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            h.push(x % 1000);
            all.push(x % 1000);
        }
        all.sort_unstable();
        let out: Vec<u64> = std::iter::from_fn(|| h.pop()).collect();
        assert_eq!(out, all);
    }

    #[test]
    fn retain_restores_order() {
        let mut h = Heap4::default();
        for v in (0..1000u64).rev() {
            h.push(v);
        }
        let removed = h.retain(|v| v % 3 != 0);
        assert_eq!(removed.len(), 334);
        assert!(removed.iter().all(|v| v % 3 == 0));
        let out: Vec<u64> = std::iter::from_fn(|| h.pop()).collect();
        let want: Vec<u64> = (0..1000).filter(|v| v % 3 != 0).collect();
        assert_eq!(out, want);
    }
}
