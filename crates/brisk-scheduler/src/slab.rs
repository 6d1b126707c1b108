//! Task records by dense id, in fixed-size chunks: growing never copies the records and never
//! reserves more than one chunk ahead (a plain `Vec` would double, holding up to twice the
//! memory the tasks need — this is most of the scheduler's memory per task).

const SHIFT: u32 = 12;
const CHUNK: usize = 1 << SHIFT;

pub(crate) struct Slab<T> {
    chunks: Vec<Vec<Option<T>>>,
    slots: usize,
}

impl<T> Slab<T> {
    pub(crate) fn new() -> Self {
        Slab {
            chunks: Vec::new(),
            slots: 0,
        }
    }

    fn at(id: u32) -> (usize, usize) {
        ((id >> SHIFT) as usize, id as usize & (CHUNK - 1))
    }

    pub(crate) fn get(&self, id: u32) -> Option<&T> {
        let (c, i) = Self::at(id);
        self.chunks.get(c)?.get(i)?.as_ref()
    }

    pub(crate) fn get_mut(&mut self, id: u32) -> Option<&mut T> {
        let (c, i) = Self::at(id);
        self.chunks.get_mut(c)?.get_mut(i)?.as_mut()
    }

    /// Put `value` in a new slot at the end; returns its id.
    pub(crate) fn push(&mut self, value: T) -> u32 {
        let id = self.slots as u32;
        let (c, _) = Self::at(id);
        if c == self.chunks.len() {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        self.chunks[c].push(Some(value));
        self.slots += 1;
        id
    }

    /// Put `value` in the existing, empty slot `id`.
    pub(crate) fn put(&mut self, id: u32, value: T) {
        let (c, i) = Self::at(id);
        if let Some(slot) = self.chunks.get_mut(c).and_then(|ch| ch.get_mut(i)) {
            *slot = Some(value);
        }
    }

    pub(crate) fn take(&mut self, id: u32) -> Option<T> {
        let (c, i) = Self::at(id);
        self.chunks.get_mut(c)?.get_mut(i)?.take()
    }

    /// Slots reserved (live, free or not yet used).
    pub(crate) fn capacity(&self) -> usize {
        self.chunks.len() * CHUNK
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &T)> {
        self.chunks.iter().enumerate().flat_map(|(c, ch)| {
            ch.iter()
                .enumerate()
                .filter_map(move |(i, t)| t.as_ref().map(|t| (((c << SHIFT) + i) as u32, t)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_dense_and_reusable() {
        let mut s = Slab::new();
        let ids: Vec<u32> = (0..10_000).map(|i| s.push(i)).collect();
        assert_eq!(ids[9_999], 9_999);
        assert_eq!(s.get(4_097), Some(&4_097));
        assert_eq!(s.take(4_097), Some(4_097));
        assert_eq!(s.get(4_097), None);
        s.put(4_097, 7);
        assert_eq!(s.get_mut(4_097).copied(), Some(7));
        assert_eq!(s.iter().count(), 10_000);
        assert_eq!(s.get(20_000), None);
    }
}
