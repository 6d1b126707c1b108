//! Counting strings fast: the inner loop of a word count.
//!
//! `frequencies()` on a bag of `String`s packs every word shorter than 16 bytes into one
//! `u128` (its bytes, and its length in the last byte) and counts those in a map keyed by the
//! integer: hashing is two multiplications and comparing is one integer comparison, where a
//! map of `String`s hashes byte by byte and calls `memcmp`. Longer words go to an ordinary map.

use std::any::Any;
use std::ops::ControlFlow;

use crate::error::BagError;
use crate::reduce::FastMap;
use crate::stream::StreamFn;

fn le64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

fn le32(b: &[u8]) -> u64 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u64::from(u32::from_le_bytes(a))
}

/// The bytes of a string shorter than 16 bytes, and its length in the top byte, as one
/// integer. Built from (overlapping) word loads, never through a byte buffer in memory, which
/// would stall the processor's store-to-load forwarding.
#[inline]
pub(crate) fn pack(b: &[u8]) -> Option<u128> {
    let n = b.len();
    let (lo, hi) = match n {
        0 => (0, 0),
        1..=3 => {
            let x = u64::from(b[0])
                | u64::from(b[n / 2]) << (8 * (n / 2))
                | u64::from(b[n - 1]) << (8 * (n - 1));
            (x, 0)
        }
        4..=7 => (le32(b) | le32(&b[n - 4..]) << (8 * (n - 4)), 0),
        8 => (le64(b), 0),
        9..=15 => (le64(b), le64(&b[n - 8..]) >> (8 * (16 - n))),
        _ => return None,
    };
    Some(u128::from(lo) | u128::from(hi) << 64 | (n as u128) << 120)
}

/// Slots of the direct-mapped cache in front of the map.
const CACHE: usize = 1024;

/// Counts of short words packed as integers, and of long words as strings.
///
/// Text follows Zipf's law: a few words make most of it. A small direct-mapped cache (a few
/// KiB, so it stays in the L1 cache) counts the words that claim its slots first, which are
/// almost always the common ones; everything else goes to the maps.
struct Counter {
    cache: Vec<(u128, u64)>,
    small: FastMap<u128, u64>,
    long: FastMap<String, u64>,
}

impl Default for Counter {
    fn default() -> Self {
        Counter {
            cache: vec![(0, 0); CACHE],
            small: FastMap::default(),
            long: FastMap::default(),
        }
    }
}

#[inline]
fn slot_of(k: u128) -> usize {
    let x = (k as u64) ^ ((k >> 64) as u64).rotate_left(29);
    (x.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 54) as usize % CACHE
}

impl Counter {
    #[inline]
    fn add(&mut self, w: &str) {
        // The empty string packs to 0, which marks a free cache slot: it takes the map path.
        if let Some(k) = pack(w.as_bytes()).filter(|&k| k != 0) {
            self.add_packed(k);
        } else if let Some(c) = self.long.get_mut(w) {
            *c += 1;
        } else {
            self.long.insert(w.to_string(), 1);
        }
    }

    /// Count a string already packed by [`pack`] (never 0).
    #[inline]
    fn add_packed(&mut self, k: u128) {
        let e = &mut self.cache[slot_of(k)];
        if e.0 == k {
            e.1 += 1;
        } else if e.0 == 0 {
            *e = (k, 1);
        } else {
            *self.small.entry(k).or_insert(0) += 1;
        }
    }

    /// Count the whitespace-separated words of `line` (the words of Python's `str.split()`; see
    /// [`crate::is_python_space`]).
    ///
    /// A line of printable ASCII (the common case) is copied into a buffer padded with spaces,
    /// so that its spaces are found 64 bytes at a time and each short word packs with one
    /// unaligned 16-byte load and a mask, without branching on the word's length; any other
    /// line takes the general path.
    #[inline]
    fn add_words(&mut self, line: &str, pad: &mut Vec<u8>) {
        let b = line.as_bytes();
        let n = b.len();
        pad.clear();
        pad.extend_from_slice(b);
        pad.resize(n.div_ceil(64) * 64 + 16, b' ');
        if !crate::strings::printable_ascii(&pad[..n.div_ceil(8) * 8]) {
            let _ = crate::strings::for_each_word(line, |w| {
                self.add(w);
                ControlFlow::Continue(())
            });
            return;
        }
        let mut start = 0usize;
        let mut blk = 0usize;
        while blk < n {
            let mut m = crate::strings::space_mask64(&pad[blk..blk + 64]);
            if n - blk < 64 {
                m &= (1u64 << (n - blk)) - 1;
            }
            while m != 0 {
                let pos = blk + m.trailing_zeros() as usize;
                if start < pos {
                    self.add_ascii(pad, start, pos - start);
                }
                start = pos + 1;
                m &= m - 1;
            }
            blk += 64;
        }
        if start < n {
            self.add_ascii(pad, start, n - start);
        }
    }

    /// Count the ASCII word `pad[start..start + len]` (`len > 0`; `pad` has at least 16 bytes
    /// from `start`).
    #[inline]
    fn add_ascii(&mut self, pad: &[u8], start: usize, len: usize) {
        if len < 16 {
            let mut a = [0u8; 16];
            a.copy_from_slice(&pad[start..start + 16]);
            let k = (u128::from_le_bytes(a) & ((1u128 << (8 * len)) - 1)) | (len as u128) << 120;
            self.add_packed(k);
        } else if let Ok(w) = std::str::from_utf8(&pad[start..start + len]) {
            self.add(w);
        }
    }

    fn finish(mut self) -> FastMap<String, u64> {
        for (k, c) in std::mem::take(&mut self.cache) {
            if k != 0 {
                *self.small.entry(k).or_insert(0) += c;
            }
        }
        let mut out = self.long;
        out.reserve(self.small.len());
        for (k, c) in self.small {
            let b = k.to_le_bytes();
            let len = usize::from(b[15]).min(15);
            // The bytes came from a `str`, so they are UTF-8.
            out.insert(String::from_utf8_lossy(&b[..len]).into_owned(), c);
        }
        out
    }
}

/// Count the records of `s`, a stream of `String`s (`T` is `String`; checked).
pub(crate) fn count_strings<T: 'static>(s: StreamFn<T>) -> Result<FastMap<T, u64>, BagError> {
    let mut counter = Counter::default();
    s(&mut |slot| {
        let slot: &mut dyn Any = slot;
        if let Some(Some(w)) = slot.downcast_mut::<Option<String>>() {
            counter.add(w);
        }
        ControlFlow::Continue(())
    })?;
    let boxed: Box<dyn Any> = Box::new(counter.finish());
    boxed
        .downcast::<FastMap<T, u64>>()
        .map(|b| *b)
        .map_err(|_| BagError::InvalidArgument {
            name: "T",
            value: std::any::type_name::<T>().to_string(),
            reason: "internal: count_strings called on records that are not String",
        })
}

/// Count the whitespace-separated words of a stream of lines (`T` is `String`; other records
/// are ignored).
pub(crate) fn count_words<T: 'static>(s: StreamFn<T>) -> Result<FastMap<String, u64>, BagError> {
    let mut counter = Counter::default();
    let mut pad = Vec::new();
    s(&mut |slot| {
        let slot: &mut dyn Any = slot;
        if let Some(Some(line)) = slot.downcast_mut::<Option<String>>() {
            counter.add_words(line, &mut pad);
        }
        ControlFlow::Continue(())
    })?;
    Ok(counter.finish())
}

#[cfg(test)]
mod tests {
    #[test]
    fn counter_counts_every_word_once() {
        let mut c = super::Counter::default();
        let mut want = std::collections::HashMap::new();
        for i in 0..20_000u64 {
            let w = match i % 5 {
                0 => "the".to_string(),
                1 => String::new(),
                2 => format!("w{}", i % 3000),
                3 => format!("a-rather-long-word-{}", i % 7),
                _ => format!("é{}", i % 11),
            };
            c.add(&w);
            *want.entry(w).or_insert(0u64) += 1;
        }
        let got: std::collections::HashMap<String, u64> = c.finish().into_iter().collect();
        assert_eq!(got, want);
    }

    #[test]
    fn words_of_lines_are_counted_as_split_whitespace_does() {
        let mut lines: Vec<String> = vec![
            String::new(),
            " ".into(),
            "a".into(),
            "  a  b\tc\x0bd\x0ce\r".into(),
            " héllo wörld\u{a0}x\u{2003}y ".into(),
            "x\u{1c}y \u{1f} z".into(),
            "fifteen-bytes-w sixteen-bytes-wo seventeen-bytes-wo".into(),
        ];
        // Lines across 64-byte blocks, words of every length, spaces at every position.
        let mut x = 7u64;
        for n in 0..300 {
            let mut l = String::new();
            while l.len() < n {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let len = (x >> 59) as usize;
                let c = (b'a' + (x >> 40) as u8 % 26) as char;
                l.extend(std::iter::repeat_n(c, len));
                l.push_str(&" ".repeat(1 + (x >> 50) as usize % 3));
            }
            lines.push(l.chars().take(n).collect());
        }
        let mut c = super::Counter::default();
        let mut pad = Vec::new();
        let mut want = std::collections::HashMap::new();
        for l in &lines {
            c.add_words(l, &mut pad);
            for w in l.split(crate::is_python_space).filter(|w| !w.is_empty()) {
                *want.entry(w.to_string()).or_insert(0u64) += 1;
            }
        }
        let got: std::collections::HashMap<String, u64> = c.finish().into_iter().collect();
        assert_eq!(got, want);
    }

    #[test]
    fn pack_is_the_bytes_and_the_length() {
        let text = "abcdefghijklmnopq\u{e9}\0\0x";
        let bytes = text.as_bytes();
        for i in 0..bytes.len() {
            for j in i..=bytes.len() {
                let b = &bytes[i..j];
                let got = super::pack(b);
                if b.len() >= 16 {
                    assert_eq!(got, None);
                    continue;
                }
                let mut k = [0u8; 16];
                k[..b.len()].copy_from_slice(b);
                k[15] = b.len() as u8;
                assert_eq!(got, Some(u128::from_le_bytes(k)), "{b:?}");
            }
        }
    }
}
