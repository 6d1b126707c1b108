//! [`Specs`]: the encoded tasks the scheduler keeps for lineage, packed into 1 MiB chunks.
//!
//! The scheduler never decodes a task; it keeps its bytes to send them to a worker and to send
//! them again if the value is lost with a worker (recompute from lineage needs exactly this,
//! for every task whose record is kept). One allocation per task would cost its rounding and
//! the allocator's bookkeeping, so specs are appended to large chunks instead, each `u32`
//! length-prefixed; a task holds a [`SpecRef`] (8 bytes). A chunk counts its live specs and is
//! freed when the last one goes (tasks of a graph come and go together, so chunks empty out).

/// The most bytes of one chunk (a larger spec gets a chunk of its own).
const CHUNK: usize = 1 << 20;

/// Where a task's spec is (`chunk == u32::MAX`: none, a scattered value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SpecRef {
    chunk: u32,
    offset: u32,
}

impl SpecRef {
    /// No spec.
    pub(crate) const NONE: SpecRef = SpecRef {
        chunk: u32::MAX,
        offset: 0,
    };

    pub(crate) fn is_none(self) -> bool {
        self.chunk == u32::MAX
    }

    pub(crate) fn is_some(self) -> bool {
        !self.is_none()
    }
}

struct Chunk {
    bytes: Vec<u8>,
    live: u32,
}

/// The chunks.
#[derive(Default)]
pub(crate) struct Specs {
    chunks: Vec<Option<Chunk>>,
    free: Vec<u32>,
    /// The chunk being filled.
    current: Option<u32>,
}

impl Specs {
    /// Keep `spec`; returns where it is.
    pub(crate) fn insert(&mut self, spec: &[u8]) -> SpecRef {
        let need = 4 + spec.len();
        let fits = |c: &Chunk| c.bytes.capacity() - c.bytes.len() >= need;
        let chunk = match self.current {
            Some(i) if self.chunks[i as usize].as_ref().is_some_and(fits) => i,
            _ => {
                let c = Chunk {
                    bytes: Vec::with_capacity(need.max(CHUNK)),
                    live: 0,
                };
                let i = match self.free.pop() {
                    Some(i) => {
                        self.chunks[i as usize] = Some(c);
                        i
                    }
                    None => {
                        self.chunks.push(Some(c));
                        (self.chunks.len() - 1) as u32
                    }
                };
                if need <= CHUNK / 4 {
                    self.current = Some(i);
                }
                i
            }
        };
        let Some(c) = self.chunks[chunk as usize].as_mut() else {
            return SpecRef::NONE;
        };
        let offset = c.bytes.len() as u32;
        c.bytes
            .extend_from_slice(&(spec.len() as u32).to_le_bytes());
        c.bytes.extend_from_slice(spec);
        c.live += 1;
        SpecRef { chunk, offset }
    }

    /// The spec at `r` (empty for none).
    pub(crate) fn get(&self, r: SpecRef) -> &[u8] {
        let Some(Some(c)) = self.chunks.get(r.chunk as usize) else {
            return &[];
        };
        let at = r.offset as usize;
        let Some(len) = c.bytes.get(at..at + 4) else {
            return &[];
        };
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        c.bytes.get(at + 4..at + 4 + len).unwrap_or(&[])
    }

    /// The task holding `r` is gone.
    pub(crate) fn remove(&mut self, r: SpecRef) {
        let Some(slot) = self.chunks.get_mut(r.chunk as usize) else {
            return;
        };
        let Some(c) = slot.as_mut() else {
            return;
        };
        c.live = c.live.saturating_sub(1);
        if c.live > 0 {
            return;
        }
        if self.current == Some(r.chunk) {
            c.bytes.clear();
        } else {
            *slot = None;
            self.free.push(r.chunk);
        }
    }

    /// Bytes reserved by the chunks.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.chunks
            .iter()
            .flatten()
            .map(|c| c.bytes.capacity())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_are_packed_read_back_and_their_chunks_freed() {
        let mut s = Specs::default();
        let refs: Vec<(SpecRef, Vec<u8>)> = (0..100_000u32)
            .map(|i| {
                let spec = i.to_le_bytes().repeat(1 + (i % 7) as usize);
                (s.insert(&spec), spec)
            })
            .collect();
        let big = vec![9u8; 3 * CHUNK];
        let rb = s.insert(&big);
        assert_eq!(s.get(rb), &big[..]);
        for (r, spec) in &refs {
            assert_eq!(s.get(*r), &spec[..]);
        }
        assert!(
            s.heap_bytes() < 3 * CHUNK + 3 * 1_800_000,
            "packed: {}",
            s.heap_bytes()
        );
        for (r, _) in &refs {
            s.remove(*r);
        }
        s.remove(rb);
        assert!(s.heap_bytes() <= CHUNK, "chunks freed: {}", s.heap_bytes());
        assert_eq!(s.get(SpecRef::NONE), &[] as &[u8]);
        let again = s.insert(b"abc");
        assert_eq!(s.get(again), b"abc");
    }
}
