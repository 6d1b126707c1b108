//! [`Ids`]: a short list of task, worker or client ids in 16 bytes: up to two inline, more on
//! the heap. Most tasks have 0–2 dependencies, 0–2 dependents, one holder and at most one
//! client wanting them, so the lists of a task record take no allocation of their own.

/// A list of `u32` ids; reads as a slice.
#[derive(Clone, Debug)]
pub(crate) enum Ids {
    /// Up to two ids.
    Inline(u8, [u32; 2]),
    /// More. (A `Vec` itself would make every list 24 bytes: the box keeps it at 8.)
    #[allow(clippy::box_collection)]
    Heap(Box<Vec<u32>>),
}

impl Default for Ids {
    fn default() -> Self {
        Ids::Inline(0, [0; 2])
    }
}

impl Ids {
    pub(crate) fn new() -> Self {
        Ids::default()
    }

    pub(crate) fn push(&mut self, id: u32) {
        match self {
            Ids::Inline(n, a) if (*n as usize) < 2 => {
                a[*n as usize] = id;
                *n += 1;
            }
            Ids::Inline(_, a) => {
                let mut v = Vec::with_capacity(4);
                v.extend_from_slice(a);
                v.push(id);
                *self = Ids::Heap(Box::new(v));
            }
            Ids::Heap(v) => v.push(id),
        }
    }

    /// Keep the ids for which `f` is true (order kept).
    pub(crate) fn retain(&mut self, mut f: impl FnMut(&u32) -> bool) {
        let kept: Vec<u32> = self.iter().copied().filter(|x| f(x)).collect();
        if kept.len() != self.len() {
            *self = kept.into_iter().collect();
        }
    }

    /// Remove the id at `i`, moving the last one into its place.
    pub(crate) fn swap_remove(&mut self, i: usize) {
        match self {
            Ids::Inline(n, a) => {
                if i < *n as usize {
                    a[i] = a[*n as usize - 1];
                    *n -= 1;
                }
            }
            Ids::Heap(v) => {
                if i < v.len() {
                    v.swap_remove(i);
                }
                if v.len() <= 2 {
                    *self = v.iter().copied().collect();
                }
            }
        }
    }

    pub(crate) fn clear(&mut self) {
        *self = Ids::default();
    }

    /// Heap bytes used (0 inline).
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            Ids::Inline(..) => 0,
            Ids::Heap(v) => 24 + 4 * v.capacity(),
        }
    }
}

impl std::ops::Deref for Ids {
    type Target = [u32];
    fn deref(&self) -> &[u32] {
        match self {
            Ids::Inline(n, a) => &a[..*n as usize],
            Ids::Heap(v) => v,
        }
    }
}

impl<'a> IntoIterator for &'a Ids {
    type Item = &'a u32;
    type IntoIter = std::slice::Iter<'a, u32>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// The ids of an [`Ids`], by value.
pub(crate) struct IntoIter {
    ids: Ids,
    next: usize,
}

impl Iterator for IntoIter {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        let id = self.ids.get(self.next).copied();
        self.next += 1;
        id
    }
}

impl IntoIterator for Ids {
    type Item = u32;
    type IntoIter = IntoIter;
    fn into_iter(self) -> IntoIter {
        IntoIter { ids: self, next: 0 }
    }
}

impl FromIterator<u32> for Ids {
    fn from_iter<I: IntoIterator<Item = u32>>(iter: I) -> Self {
        let mut ids = Ids::default();
        for id in iter {
            ids.push(id);
        }
        ids
    }
}

impl PartialEq for Ids {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_shrinks_and_reads_as_a_slice() {
        assert_eq!(std::mem::size_of::<Ids>(), 16);
        let mut ids = Ids::new();
        assert!(ids.is_empty());
        for i in 0..5 {
            ids.push(i);
            assert_eq!(&*ids, &(0..=i).collect::<Vec<_>>()[..]);
        }
        ids.retain(|&x| x % 2 == 0);
        assert_eq!(&*ids, &[0, 2, 4]);
        ids.swap_remove(0);
        assert_eq!(&*ids, &[4, 2]);
        assert!(matches!(ids, Ids::Inline(2, _)), "back inline");
        ids.swap_remove(1);
        assert_eq!(&*ids, &[4]);
        ids.clear();
        assert_eq!(ids.len(), 0);
        let c: Ids = [7, 8, 9].into_iter().collect();
        assert_eq!(c.clone(), c);
        assert!(c.contains(&9) && c.heap_bytes() > 0);
    }
}
