//! A quote-aware CSV field tokenizer that finds field and record boundaries
//! with SIMD bitmasks.
//!
//! # Algorithm
//!
//! The input is processed in 64-byte blocks. For every block a *masker* builds
//! three `u64` bitmasks, bit `i` describing byte `i` of the block:
//!
//! * `sep`   – the byte is the field separator,
//! * `nl`    – the byte is `\n`,
//! * `quote` – the byte is the quote character (only when quoting is enabled).
//!
//! Maskers exist for AVX2 (two 32-byte compares per character, selected at run
//! time with `is_x86_feature_detected!`), SSE2 (four 16-byte compares; baseline
//! on `x86_64`, so no detection is needed) and a portable SWAR version (eight
//! 8-byte words, exact "byte equals" trick) used on every other architecture.
//!
//! Quote chars toggle the quoted state, so the bytes inside quotes are exactly
//! the bits set in the *prefix XOR* of the quote mask (bit `i` = parity of the
//! quotes at positions `<= i`), XORed with an all-ones carry when the previous
//! block ended inside quotes. Separators and newlines inside quotes are data,
//! so the structural mask is `(sep | nl) & !in_quote`. Blocks without quote
//! chars (the common case) skip the prefix XOR entirely.
//!
//! The structural bits are then walked in order with `trailing_zeros`, keeping
//! a tiny state: start of the current field, its index within the record, and
//! whether it contained a quote char. Each field boundary reports the field to
//! the [`Sink`] if its column is wanted; each unquoted `\n` ends a record.
//! Once the field index passes the last wanted column, the rest of the record
//! is skipped with a popcount up to the next newline bit instead of walking
//! every separator.
//!
//! The final partial block (< 64 bytes) is copied into a zero-padded 64-byte
//! buffer and its masks are truncated to the valid length, so no load ever
//! reads outside the input.
//!
//! # Semantics
//!
//! * Records end at an unquoted `\n`; a `\r` immediately before it is not part
//!   of the last field. The last record may lack a trailing newline (it is then
//!   treated as if it had one, including the `\r` stripping, unless the input
//!   ends inside an unterminated quote). Input ending in `\n` has no extra empty
//!   record; empty input has no records.
//! * Every quote char toggles the quoted state, wherever it occurs in a field
//!   (`a"b,c"d` is one field). `quoted` in [`Sink::field`] tells whether the
//!   field contained any quote char; use [`unquote`] to get its value.
//! * An empty line is a record with one empty field.
//! * A quote char that neither opens a field (first byte of the field, or
//!   right after a closing quote: a doubled quote) nor closes one (followed by
//!   a separator, a record end or another quote) is *stray*, and so is a quote
//!   left open at the end of the input: [`Sink::stray_quote`] is told, because
//!   readers that only honour quotes at field starts (Polars) split such lines
//!   differently. Stray quotes are looked for only in blocks that contain a
//!   quote char, so ordinary data pays nothing.

use std::borrow::Cow;

/// Block size processed by the maskers.
const BLOCK: usize = 64;
/// Marker in [`Tokenizer::wanted`] for columns that are not reported.
const NOT_WANTED: u32 = u32::MAX;

/// Receives the wanted fields and the record ends found by [`Tokenizer::run`].
pub trait Sink {
    /// Error that stops tokenizing early; [`Tokenizer::run`] returns it.
    type Error;

    /// A wanted field: `slot` is its position in the `wanted_columns` given
    /// to [`Tokenizer::new`]; `raw` are the field's bytes exactly as in the
    /// file (for a quoted field including its quotes, see [`unquote`]; never
    /// including the record's `\n` or a `\r` right before it); `quoted` tells
    /// whether the field contained a quote char.
    fn field(&mut self, slot: usize, raw: &[u8], quoted: bool) -> Result<(), Self::Error>;

    /// End of a record having `n_fields` fields in total (wanted or not), so
    /// the sink can reject ragged rows. Always `>= 1`.
    fn end_row(&mut self, n_fields: usize) -> Result<(), Self::Error>;

    /// A stray quote char at absolute offset `pos` (`bytes.len()` for a quote
    /// still open at the end of the input; see the module's semantics). Called
    /// before the fields of the 64-byte block holding it are reported.
    fn stray_quote(&mut self, pos: usize) -> Result<(), Self::Error>;
}

/// Splits CSV bytes into records and fields, reporting the wanted ones.
#[derive(Clone, Debug)]
pub struct Tokenizer {
    sep: u8,
    quote: Option<u8>,
    /// Column index -> slot, or [`NOT_WANTED`]; its length is one past the
    /// last wanted column.
    wanted: Vec<u32>,
    backend: Backend,
}

/// The mask builder used for the 64-byte blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    /// Portable SWAR (no SIMD instructions); on `x86_64` only used by tests.
    #[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
    Swar,
    /// SSE2, baseline on `x86_64`.
    #[cfg(target_arch = "x86_64")]
    Sse2,
    /// AVX2, only chosen after run-time detection.
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

impl Backend {
    /// The fastest backend available on this CPU.
    fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                Backend::Avx2
            } else {
                Backend::Sse2
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Backend::Swar
        }
    }
}

impl Tokenizer {
    /// Creates a tokenizer for separator `sep` and optional quote char
    /// `quote` (`None`: quote chars are ordinary data).
    ///
    /// `wanted_columns` lists file column indices in slot order: slot `i`
    /// reports column `wanted_columns[i]`. If a column is listed twice, only
    /// its last slot is reported. Allocates a table of one `u32` per column up
    /// to the largest wanted index. `sep` and `quote` should differ from each
    /// other and from `\n` and `\r`; otherwise the output is unspecified (but
    /// tokenizing never panics).
    pub fn new(sep: u8, quote: Option<u8>, wanted_columns: &[usize]) -> Self {
        let len = wanted_columns.iter().max().map_or(0, |&max| max + 1);
        let mut wanted = vec![NOT_WANTED; len];
        for (slot, &column) in wanted_columns.iter().enumerate() {
            wanted[column] = u32::try_from(slot).unwrap_or(NOT_WANTED);
        }
        Tokenizer {
            sep,
            quote,
            wanted,
            backend: Backend::detect(),
        }
    }

    /// Calls `sink` for the wanted fields and the end of every record in
    /// `bytes`, which must begin at a record start (no header). Stops at, and
    /// returns, the first error of the sink.
    pub fn run<S: Sink>(&self, bytes: &[u8], sink: &mut S) -> Result<(), S::Error> {
        self.run_on(self.backend, bytes, sink)
    }

    /// [`Tokenizer::run`] with an explicit backend, which must be supported
    /// by the CPU (as returned by [`Backend::detect`] or a baseline one).
    #[allow(unsafe_code)] // dispatch to the AVX2 driver after detection
    fn run_on<S: Sink>(
        &self,
        backend: Backend,
        bytes: &[u8],
        sink: &mut S,
    ) -> Result<(), S::Error> {
        let quote = self.quote.unwrap_or(0);
        match backend {
            Backend::Swar => {
                let masker = SwarMasker::new(self.sep, quote);
                self.drive_quoting(masker, bytes, sink)
            }
            #[cfg(target_arch = "x86_64")]
            Backend::Sse2 => {
                let masker = Sse2Masker::new(self.sep, quote);
                self.drive_quoting(masker, bytes, sink)
            }
            #[cfg(target_arch = "x86_64")]
            Backend::Avx2 => {
                // SAFETY: `Backend::Avx2` is only used after
                // `is_x86_feature_detected!("avx2")` returned true.
                unsafe { self.drive_avx2(bytes, sink) }
            }
        }
    }

    /// Runs the AVX2 masker; compiled with AVX2 enabled so that the masker's
    /// intrinsics are inlined into the block loop.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[allow(unsafe_code)] // AVX2 driver, see the safety section
    unsafe fn drive_avx2<S: Sink>(&self, bytes: &[u8], sink: &mut S) -> Result<(), S::Error> {
        // SAFETY: this function only runs on CPUs with AVX2 (its contract).
        let masker = unsafe { Avx2Masker::new(self.sep, self.quote.unwrap_or(0)) };
        self.drive_quoting(masker, bytes, sink)
    }

    /// Dispatches to the quoting or non-quoting instance of [`Self::drive`].
    #[inline(always)]
    fn drive_quoting<M: Masker, S: Sink>(
        &self,
        masker: M,
        bytes: &[u8],
        sink: &mut S,
    ) -> Result<(), S::Error> {
        if self.quote.is_some() {
            self.drive::<M, S, true>(masker, bytes, sink)
        } else {
            self.drive::<M, S, false>(masker, bytes, sink)
        }
    }

    /// The block loop: builds the masks of every 64-byte block (the tail via
    /// a padded copy) and hands them to the [`Walker`].
    #[inline(always)]
    fn drive<M: Masker, S: Sink, const QUOTING: bool>(
        &self,
        masker: M,
        bytes: &[u8],
        sink: &mut S,
    ) -> Result<(), S::Error> {
        let mut walker = Walker::new(self, sink);
        let (blocks, tail) = bytes.as_chunks::<BLOCK>();
        for (i, block) in blocks.iter().enumerate() {
            let masks = masker.masks::<QUOTING>(block);
            walker.block(bytes, i * BLOCK, masks)?;
        }
        if !tail.is_empty() {
            let mut padded = [0u8; BLOCK];
            padded[..tail.len()].copy_from_slice(tail);
            let masks = masker.masks::<QUOTING>(&padded).truncate(tail.len());
            walker.block(bytes, blocks.len() * BLOCK, masks)?;
        }
        walker.finish(bytes)
    }
}

/// The bitmasks of one 64-byte block (bit `i` = byte `i`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Masks {
    sep: u64,
    nl: u64,
    quote: u64,
}

impl Masks {
    /// Clears the bits at positions `>= len` (`len < 64`), i.e. the padding.
    #[inline(always)]
    fn truncate(self, len: usize) -> Self {
        let valid = (1u64 << (len % BLOCK)) - 1;
        Masks {
            sep: self.sep & valid,
            nl: self.nl & valid,
            quote: self.quote & valid,
        }
    }
}

/// Builds the [`Masks`] of a block; `QUOTING = false` leaves `quote` zero.
trait Masker: Copy {
    fn masks<const QUOTING: bool>(&self, block: &[u8; BLOCK]) -> Masks;
}

/// Portable mask builder working on 8-byte words.
#[derive(Clone, Copy, Debug)]
struct SwarMasker {
    sep: u64,
    quote: u64,
}

/// `byte` repeated in all 8 bytes of a word.
const fn splat(byte: u8) -> u64 {
    u64::from_ne_bytes([byte; 8])
}

impl SwarMasker {
    fn new(sep: u8, quote: u8) -> Self {
        SwarMasker {
            sep: splat(sep),
            quote: splat(quote),
        }
    }
}

/// Bit `i` set iff byte `i` (little-endian order) of `word` equals the byte
/// splatted in `pattern`. Exact: no false positives from borrows.
#[inline(always)]
fn swar_eq_bits(word: u64, pattern: u64) -> u64 {
    const LOW7: u64 = splat(0x7f);
    const HIGH: u64 = splat(0x80);
    // Moves the high bit of byte i (at 8i + 7, shifted to 8i) to bit 56 + i;
    // all cross products land on distinct bits, so nothing carries.
    const GATHER: u64 = 0x0102_0408_1020_4080;
    let x = word ^ pattern;
    let nonzero = ((x & LOW7).wrapping_add(LOW7)) | x;
    let zero_high = !nonzero & HIGH;
    (zero_high >> 7).wrapping_mul(GATHER) >> 56
}

impl Masker for SwarMasker {
    #[inline(always)]
    fn masks<const QUOTING: bool>(&self, block: &[u8; BLOCK]) -> Masks {
        let (words, _) = block.as_chunks::<8>();
        let mut masks = Masks::default();
        for (i, word) in words.iter().enumerate() {
            let word = u64::from_le_bytes(*word);
            let shift = 8 * i;
            masks.sep |= swar_eq_bits(word, self.sep) << shift;
            masks.nl |= swar_eq_bits(word, splat(b'\n')) << shift;
            if QUOTING {
                masks.quote |= swar_eq_bits(word, self.quote) << shift;
            }
        }
        masks
    }
}

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{
    __m128i, __m256i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8,
};

/// SSE2 mask builder (16 bytes per compare).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug)]
struct Sse2Masker {
    sep: __m128i,
    nl: __m128i,
    quote: __m128i,
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)] // SSE2 intrinsics
impl Sse2Masker {
    fn new(sep: u8, quote: u8) -> Self {
        // SAFETY: SSE2 is part of the x86_64 baseline.
        unsafe {
            Sse2Masker {
                sep: _mm_set1_epi8(sep as i8),
                nl: _mm_set1_epi8(b'\n' as i8),
                quote: _mm_set1_epi8(quote as i8),
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)] // SSE2 intrinsics and in-bounds loads
impl Masker for Sse2Masker {
    #[inline(always)]
    fn masks<const QUOTING: bool>(&self, block: &[u8; BLOCK]) -> Masks {
        let mut masks = Masks::default();
        for i in 0..BLOCK / 16 {
            // SAFETY: `16 * i + 16 <= 64`, so the unaligned 16-byte load stays
            // inside `block`; SSE2 is part of the x86_64 baseline.
            unsafe {
                let v = _mm_loadu_si128(block.as_ptr().add(16 * i).cast());
                let bits = |needle| _mm_movemask_epi8(_mm_cmpeq_epi8(v, needle)) as u16 as u64;
                let shift = 16 * i;
                masks.sep |= bits(self.sep) << shift;
                masks.nl |= bits(self.nl) << shift;
                if QUOTING {
                    masks.quote |= bits(self.quote) << shift;
                }
            }
        }
        masks
    }
}

/// AVX2 mask builder (32 bytes per compare). A value of this type can only
/// be created on a CPU with AVX2, which makes its `masks` sound.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug)]
struct Avx2Masker {
    sep: __m256i,
    nl: __m256i,
    quote: __m256i,
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)] // AVX2 intrinsics
impl Avx2Masker {
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    unsafe fn new(sep: u8, quote: u8) -> Self {
        Avx2Masker {
            sep: _mm256_set1_epi8(sep as i8),
            nl: _mm256_set1_epi8(b'\n' as i8),
            quote: _mm256_set1_epi8(quote as i8),
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)] // AVX2 intrinsics and in-bounds loads
impl Masker for Avx2Masker {
    #[inline(always)]
    fn masks<const QUOTING: bool>(&self, block: &[u8; BLOCK]) -> Masks {
        let mut masks = Masks::default();
        for i in 0..BLOCK / 32 {
            // SAFETY: `self` exists, so the CPU supports AVX2 (see
            // `Avx2Masker::new`); `32 * i + 32 <= 64`, so the unaligned load
            // stays inside `block`.
            unsafe {
                let v = _mm256_loadu_si256(block.as_ptr().add(32 * i).cast());
                let bits =
                    |needle| _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, needle)) as u32 as u64;
                let shift = 32 * i;
                masks.sep |= bits(self.sep) << shift;
                masks.nl |= bits(self.nl) << shift;
                if QUOTING {
                    masks.quote |= bits(self.quote) << shift;
                }
            }
        }
        masks
    }
}

/// Bit `i` of the result is the XOR of bits `0..=i` of `x`: the bytes from
/// an opening quote up to (excluding) the matching closing quote.
#[inline(always)]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// `end`, or `end - 1` if the field `start..end` ends with `\r`.
#[inline(always)]
fn strip_cr(bytes: &[u8], start: usize, end: usize) -> usize {
    if end > start && bytes.get(end - 1) == Some(&b'\r') {
        end - 1
    } else {
        end
    }
}

/// The state carried from block to block while walking structural bits.
struct Walker<'a, S> {
    wanted: &'a [u32],
    sep: u8,
    /// The quote char (only looked at in blocks that have quote bits).
    quote: u8,
    sink: &'a mut S,
    /// Absolute offset of the current field's first byte. Only kept up to
    /// date while `field_idx < wanted.len()` (and at every record start).
    field_start: usize,
    /// Index of the current field within its record.
    field_idx: usize,
    /// All ones if the previous block ended inside quotes, else zero.
    in_quote: u64,
    /// The current field contained a quote char in a previous block.
    field_quoted: bool,
}

impl<'a, S: Sink> Walker<'a, S> {
    fn new(tokenizer: &'a Tokenizer, sink: &'a mut S) -> Self {
        Walker {
            wanted: &tokenizer.wanted,
            sep: tokenizer.sep,
            quote: tokenizer.quote.unwrap_or(0),
            sink,
            field_start: 0,
            field_idx: 0,
            in_quote: 0,
            field_quoted: false,
        }
    }

    /// Processes the masks of the block starting at absolute offset `base`.
    #[inline(always)]
    fn block(&mut self, bytes: &[u8], base: usize, masks: Masks) -> Result<(), S::Error> {
        let in_quote = if masks.quote == 0 {
            self.in_quote
        } else {
            let in_quote = prefix_xor(masks.quote) ^ self.in_quote;
            self.check_quotes(bytes, base, masks.quote, in_quote)?;
            in_quote
        };
        self.in_quote = ((in_quote as i64) >> 63) as u64;
        let mut structural = (masks.sep | masks.nl) & !in_quote;
        let mut quotes = masks.quote;
        while structural != 0 {
            if self.field_idx >= self.wanted.len() {
                // No wanted field left in this record: count separators up to
                // the next record end at once.
                let row_ends = structural & masks.nl;
                if row_ends == 0 {
                    self.field_idx += structural.count_ones() as usize;
                    return Ok(());
                }
                let bit = row_ends & row_ends.wrapping_neg();
                let below = bit - 1;
                self.field_idx += (structural & below).count_ones() as usize;
                structural &= !(below | bit);
                quotes &= !(below | bit);
                self.end_row(base + bit.trailing_zeros() as usize)?;
                continue;
            }
            let bit = structural & structural.wrapping_neg();
            let below = bit - 1;
            let quoted = self.field_quoted || quotes & below != 0;
            structural ^= bit;
            quotes &= !(below | bit);
            let pos = base + bit.trailing_zeros() as usize;
            if masks.nl & bit != 0 {
                let end = strip_cr(bytes, self.field_start, pos);
                self.emit(bytes, end, quoted)?;
                self.end_row(pos)?;
            } else {
                self.emit(bytes, pos, quoted)?;
                self.field_idx += 1;
                self.field_start = pos + 1;
                self.field_quoted = false;
            }
        }
        self.field_quoted |= quotes != 0;
        Ok(())
    }

    /// Tells the sink of every stray quote among the `quotes` bits of the block at `base`
    /// (`in_quote`: the bytes inside quotes, opening quotes included).
    #[cold]
    #[inline(never)]
    fn check_quotes(
        &mut self,
        bytes: &[u8],
        base: usize,
        quotes: u64,
        in_quote: u64,
    ) -> Result<(), S::Error> {
        let mut q = quotes;
        while q != 0 {
            let i = q.trailing_zeros() as usize;
            q &= q - 1;
            let pos = base + i;
            let ok = if in_quote >> i & 1 == 1 {
                // Opens: at a field start, or right after the quote that closed (`""`).
                pos == 0 || {
                    let b = bytes[pos - 1];
                    b == self.sep || b == b'\n' || b == self.quote
                }
            } else {
                // Closes: the field ends here, or a doubled quote follows.
                match bytes.get(pos + 1) {
                    None => true,
                    Some(&b) if b == self.sep || b == b'\n' || b == self.quote => true,
                    Some(b'\r') => matches!(bytes.get(pos + 2), None | Some(b'\n')),
                    Some(_) => false,
                }
            };
            if !ok {
                self.sink.stray_quote(pos)?;
            }
        }
        Ok(())
    }

    /// Reports the current field, ending at `end`, if its column is wanted.
    #[inline(always)]
    fn emit(&mut self, bytes: &[u8], end: usize, quoted: bool) -> Result<(), S::Error> {
        match self.wanted.get(self.field_idx) {
            Some(&slot) if slot != NOT_WANTED => {
                let raw = &bytes[self.field_start..end];
                self.sink.field(slot as usize, raw, quoted)
            }
            _ => Ok(()),
        }
    }

    /// Ends the current record at its newline at absolute offset `pos`.
    #[inline(always)]
    fn end_row(&mut self, pos: usize) -> Result<(), S::Error> {
        let n_fields = self.field_idx + 1;
        self.field_idx = 0;
        self.field_start = pos + 1;
        self.field_quoted = false;
        self.sink.end_row(n_fields)
    }

    /// Reports the last record if the input does not end with a newline.
    fn finish(mut self, bytes: &[u8]) -> Result<(), S::Error> {
        let len = bytes.len();
        if self.in_quote != 0 {
            self.sink.stray_quote(len)?;
        }
        if self.field_idx == 0 && self.field_start >= len {
            return Ok(());
        }
        if self.field_idx < self.wanted.len() {
            let end = if self.in_quote == 0 {
                strip_cr(bytes, self.field_start, len)
            } else {
                len
            };
            self.emit(bytes, end, self.field_quoted)?;
        }
        self.sink.end_row(self.field_idx + 1)
    }
}

/// The value of a field: if `raw` starts with `quote`, that quote and a
/// matching closing quote at the end (if any) are removed and every doubled
/// quote (`""`) inside becomes one. A field not starting with `quote` is
/// returned unchanged. Returns [`Cow::Borrowed`] unless a doubled quote had
/// to be collapsed.
pub fn unquote(raw: &[u8], quote: u8) -> Cow<'_, [u8]> {
    let Some(inner) = raw.strip_prefix(&[quote]) else {
        return Cow::Borrowed(raw);
    };
    let inner = inner.strip_suffix(&[quote]).unwrap_or(inner);
    if !inner.contains(&quote) {
        return Cow::Borrowed(inner);
    }
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    while let Some(&byte) = inner.get(i) {
        out.push(byte);
        i += if byte == quote && inner.get(i + 1) == Some(&quote) {
            2
        } else {
            1
        };
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests;
