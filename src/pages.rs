//! [`Pages`]: a growable array stored in fixed pages of at most 64 KiB, for
//! the runtime's big tables (the timer heaps, the task registry).
//!
//! Why not a `Vec`: a `Vec` of a million timers is one multi-MiB block,
//! which glibc's malloc serves with `mmap`, and freeing an mmapped block
//! (up to 32 MiB) raises malloc's *dynamic* mmap threshold to that block's
//! size and its trim threshold to twice that, for the rest of the process.
//! After a big runtime is dropped, every arena then keeps up to tens of MiB
//! of free memory instead of returning it to the system. Pages stay below
//! the default 128 KiB mmap threshold, so they come from the arenas, are
//! merged and trimmed like any small block, and move no threshold. Growing
//! adds a page and never copies the elements already stored.
//!
//! Invariants: element `i` is at `pages[i >> SHIFT][i & MASK]`; every page
//! is allocated with capacity `PER_PAGE` and never holds more, so it never
//! reallocates; beyond the pages holding elements there is at most one
//! empty spare. Indexing is a shift and a mask.

/// Bytes per page at most (below glibc's default mmap threshold).
const PAGE_BYTES: usize = 64 * 1024;

/// Page-table entries allocated with the first page. The table then moves
/// only past 64 pages (tens of thousands of elements), and is never small
/// enough (1.5 KiB) for glibc's per-thread cache of chunks up to 1032
/// bytes: a table freed at runtime shutdown by another thread than the one
/// that grew it would otherwise stay in the freeing thread's cache,
/// counted as in use, and keep every free byte below it in its arena from
/// being returned to the system (measured: 140 MiB kept after dropping a
/// runtime of a million sleeping tasks).
const MIN_TABLE: usize = 64;

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Pages<T> {
    pages: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Pages<T> {
    fn default() -> Self {
        Pages {
            pages: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Pages<T> {
    /// log2 of the elements per page: the largest power of two whose
    /// elements fit in `PAGE_BYTES`.
    const SHIFT: u32 = {
        let per = PAGE_BYTES
            / if size_of::<T>() == 0 {
                1
            } else {
                size_of::<T>()
            };
        usize::BITS - 1 - per.leading_zeros()
    };
    /// Elements per page.
    const PER_PAGE: usize = 1 << Self::SHIFT;
    const MASK: usize = Self::PER_PAGE - 1;

    /// Number of elements.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// True if there are no elements.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `item`.
    pub(crate) fn push(&mut self, item: T) {
        if self.len & Self::MASK == 0 && self.len >> Self::SHIFT == self.pages.len() {
            if self.pages.capacity() == 0 {
                self.pages.reserve_exact(MIN_TABLE);
            }
            self.pages.push(Vec::with_capacity(Self::PER_PAGE));
        }
        self.pages[self.len >> Self::SHIFT].push(item);
        self.len += 1;
    }

    /// Removes and returns the last element. Pages emptied by popping are
    /// freed but one (so a table that shrinks gives its memory back, and
    /// one that hovers at a page boundary does not allocate on every push).
    pub(crate) fn pop(&mut self) -> Option<T> {
        let last = self.len.checked_sub(1)?;
        let item = self.pages[last >> Self::SHIFT].pop();
        self.len = last;
        let keep = last.div_ceil(Self::PER_PAGE) + 1;
        if self.pages.len() > keep {
            self.pages.truncate(keep);
        }
        item
    }

    /// The element at `i`, if `i < len`.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        if i >= self.len {
            return None;
        }
        self.pages[i >> Self::SHIFT].get(i & Self::MASK)
    }

    /// The element at `i`, mutably, if `i < len`.
    #[inline]
    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        if i >= self.len {
            return None;
        }
        self.pages[i >> Self::SHIFT].get_mut(i & Self::MASK)
    }

    /// Swaps the elements at `i` and `j` (both `< len`).
    #[inline]
    pub(crate) fn swap(&mut self, i: usize, j: usize) {
        let (pi, pj) = (i >> Self::SHIFT, j >> Self::SHIFT);
        let (oi, oj) = (i & Self::MASK, j & Self::MASK);
        if pi == pj {
            self.pages[pi].swap(oi, oj);
        } else {
            let (lo, hi, olo, ohi) = if pi < pj {
                (pi, pj, oi, oj)
            } else {
                (pj, pi, oj, oi)
            };
            let (a, b) = self.pages.split_at_mut(hi);
            std::mem::swap(&mut a[lo][olo], &mut b[0][ohi]);
        }
    }

    /// Every element, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.pages.iter().flatten()
    }
}

impl<T> IntoIterator for Pages<T> {
    type Item = T;
    type IntoIter = std::iter::Flatten<std::vec::IntoIter<Vec<T>>>;

    /// Every element, in order; each page is freed once consumed.
    fn into_iter(self) -> Self::IntoIter {
        self.pages.into_iter().flatten()
    }
}

impl<T> std::ops::Index<usize> for Pages<T> {
    type Output = T;

    #[inline]
    fn index(&self, i: usize) -> &T {
        match self.get(i) {
            Some(t) => t,
            None => panic!("index {i} out of range for Pages of length {}", self.len),
        }
    }
}

impl<T> std::ops::IndexMut<usize> for Pages<T> {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut T {
        let len = self.len;
        match self.get_mut(i) {
            Some(t) => t,
            None => panic!("index {i} out of range for Pages of length {len}"),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn pages_stay_below_the_mmap_threshold() {
        assert_eq!(Pages::<u64>::PER_PAGE, 8192);
        assert_eq!(Pages::<[u8; 48]>::PER_PAGE, 1024);
        assert_eq!(Pages::<()>::PER_PAGE, 65536);
    }

    #[test]
    fn behaves_like_a_vec() {
        let mut p = Pages::default();
        let mut v = Vec::new();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for round in 0..40_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match x % 5 {
                0..=2 => {
                    p.push(round);
                    v.push(round);
                }
                3 => assert_eq!(p.pop(), v.pop()),
                _ if !v.is_empty() => {
                    let (i, j) = ((x >> 8) as usize % v.len(), (x >> 32) as usize % v.len());
                    p.swap(i, j);
                    v.swap(i, j);
                    assert_eq!(p[i], v[i]);
                }
                _ => {}
            }
            assert_eq!(p.len(), v.len());
            // Never more than one spare page beyond the ones in use.
            assert!(p.pages.len() <= v.len().div_ceil(Pages::<u64>::PER_PAGE) + 1);
        }
        assert!(p.iter().eq(v.iter()));
        assert_eq!(p.get(v.len()), None);
        for _ in 0..v.len() / 2 {
            p.pop();
        }
        v.truncate(v.len() - v.len() / 2);
        assert!(p.into_iter().eq(v));
        let mut p = Pages::default();
        p.push(1);
        while p.pop().is_some() {}
        assert!(p.is_empty());
        assert!(p.pages.len() <= 1);
    }
}
