//! Built-in string operations on bags of text, like dask's `bag.str` accessor. They reuse
//! buffers between records, so `read_text(..).split_whitespace().frequencies()` allocates only
//! for words it has not seen before.

use std::ops::ControlFlow;
use std::sync::Arc;

use brisk_core::{Func, TaskFailure, TaskResult, Value};

use crate::bag::Bag;
use crate::stream::{Stream, arg_stream};

/// Python's whitespace among ASCII bytes: `' '`, `\t \n \x0b \x0c \r`, and the
/// information separators `\x1c`–`\x1f` (which Rust's `char::is_whitespace` leaves out).
#[inline]
fn is_ascii_ws(b: u8) -> bool {
    b == b' ' || (b'\t'..=b'\r').contains(&b) || (0x1c..=0x1f).contains(&b)
}

/// Whitespace as Python's `str.isspace` (and so `str.split()` and `str.strip()`) defines it:
/// Unicode's White_Space, plus `\x1c`–`\x1f`. A test checks it against Python on every code
/// point.
#[inline]
pub fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// Whether an ASCII `b` holds a byte below `' '` (a control character, perhaps whitespace).
#[inline]
fn has_control(b: &[u8]) -> bool {
    let mut bad = 0u64;
    let chunks = b.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        let x = load8(c);
        // Exact for ASCII bytes: the high bit of each byte below 0x20.
        bad |= x.wrapping_sub(ONES * 0x20) & !x;
    }
    bad & HIGH != 0 || rest.iter().any(|&c| c < 0x20)
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

#[inline]
fn load8(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

/// Whether every byte of `b` (a multiple of 8 bytes long) is ASCII and at least `' '`: no
/// control characters, so its only whitespace is `' '`.
#[inline]
pub(crate) fn printable_ascii(b: &[u8]) -> bool {
    let mut bad = 0u64;
    for c in b.chunks_exact(8) {
        let x = load8(c);
        // The high bit of a non-ASCII byte, or (exactly for "any") of a byte below 0x20.
        bad |= x | (x.wrapping_sub(ONES * 0x20) & !x);
    }
    bad & HIGH == 0
}

/// Bit `i` set where byte `i` of the 64 bytes of `b` is `' '`.
#[inline]
pub(crate) fn space_mask64(b: &[u8]) -> u64 {
    let mut m = 0u64;
    for (i, c) in b[..64].chunks_exact(8).enumerate() {
        let y = load8(c) ^ (ONES * 0x20);
        // 0x80 in each byte that was a space (exact).
        let z = !(((y & LOW7).wrapping_add(LOW7)) | y | LOW7);
        // Gather the eight high bits into one byte.
        let byte = ((z >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56;
        m |= byte << (8 * i);
    }
    m
}

/// Call `f` on each whitespace-separated word of `line`: the words of Python's `str.split()`
/// (whitespace by [`is_python_space`]). An ASCII line takes a byte-wise fast path, and one
/// without control characters a faster one, with the same result.
#[inline]
pub(crate) fn for_each_word(
    line: &str,
    mut f: impl FnMut(&str) -> ControlFlow<()>,
) -> ControlFlow<()> {
    if !line.is_ascii() {
        for w in line.split(is_python_space).filter(|w| !w.is_empty()) {
            f(w)?;
        }
        return ControlFlow::Continue(());
    }
    let b = line.as_bytes();
    if !has_control(b) {
        return for_each_word_spaces(line, f);
    }
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && is_ascii_ws(b[i]) {
            i += 1;
        }
        let start = i;
        while i < b.len() && !is_ascii_ws(b[i]) {
            i += 1;
        }
        if start < i {
            // Both ends are ASCII positions, so character boundaries.
            f(line.get(start..i).unwrap_or_default())?;
        }
    }
    ControlFlow::Continue(())
}

/// The words of an ASCII line whose only whitespace is `' '`: finds the spaces eight bytes at
/// a time (a word-sized mask of the bytes equal to `' '`).
#[inline]
fn for_each_word_spaces(line: &str, mut f: impl FnMut(&str) -> ControlFlow<()>) -> ControlFlow<()> {
    const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let b = line.as_bytes();
    let n = b.len();
    let mut start = 0usize;
    let mut i = 0usize;
    while i + 8 <= n {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[i..i + 8]);
        let x = u64::from_le_bytes(w) ^ 0x2020_2020_2020_2020;
        // The high bit of each byte that was a space (exact, no false positives).
        let mut m = !(((x & LO7).wrapping_add(LO7)) | x | LO7);
        while m != 0 {
            let pos = i + (m.trailing_zeros() / 8) as usize;
            if start < pos {
                f(line.get(start..pos).unwrap_or_default())?;
            }
            start = pos + 1;
            m &= m - 1;
        }
        i += 8;
    }
    while i < n {
        if b[i] == b' ' {
            if start < i {
                f(line.get(start..i).unwrap_or_default())?;
            }
            start = i + 1;
        }
        i += 1;
    }
    if start < n {
        f(line.get(start..).unwrap_or_default())?;
    }
    ControlFlow::Continue(())
}

/// Push `word` through the reusable `slot`.
#[inline]
fn push_str(
    slot: &mut Option<String>,
    word: &str,
    sink: crate::stream::Sink<'_, String>,
) -> ControlFlow<()> {
    match slot {
        Some(s) => {
            s.clear();
            s.push_str(word);
        }
        None => *slot = Some(word.to_string()),
    }
    sink(slot)
}

impl Bag<String> {
    /// The words of every line, split on whitespace, as one bag of words (dask's
    /// `b.str.split().flatten()`). Whitespace is Python's ([`is_python_space`]): Unicode
    /// spaces, and also `\x1c`–`\x1f`, which Rust's `str::split_whitespace` keeps in words.
    ///
    /// ```
    /// # let _ = brisk_local::LocalScheduler::threaded();
    /// use brisk_core::Collection;
    /// let lines = vec!["a b\x1fc".to_string(), "\u{3000}d\te ".to_string()];
    /// let words = brisk_bag::Bag::from_sequence(lines, 2).split_whitespace().compute()?;
    /// assert_eq!(words, ["a", "b", "c", "d", "e"]);
    /// # Ok::<(), brisk_core::Error>(())
    /// ```
    pub fn split_whitespace(&self) -> Bag<String> {
        let mut words = self.kernel_stage(
            "split-whitespace",
            string_stage(SPLIT_WS, split_whitespace_kernel),
            vec![],
        );
        if let Some(inner) = Arc::get_mut(&mut words.inner) {
            inner.words_of = Some(Arc::new(self.clone()));
        }
        words
    }

    /// The pieces of every line split on `sep`, as one bag (dask's
    /// `b.str.split(sep).flatten()`).
    pub fn split(&self, sep: &str) -> Bag<String> {
        self.kernel_stage(
            "split",
            string_stage(SPLIT, split_kernel),
            vec![Value::new(sep.to_string())],
        )
    }

    /// Every line in lower case.
    pub fn lower(&self) -> Bag<String> {
        self.kernel_stage("lower", string_stage(LOWER, lower_kernel), vec![])
    }

    /// Every line without leading and trailing whitespace (Python's `str.strip()`: whitespace
    /// by [`is_python_space`]).
    pub fn trim(&self) -> Bag<String> {
        self.kernel_stage("trim", string_stage(TRIM, trim_kernel), vec![])
    }
}

// The string stages are named kernels (their only parameter, `split`'s separator, is a
// literal argument), so they run on any worker, the stock `brisk worker` included.

/// A string stage's kernel by name.
fn string_stage(name: &'static str, kernel: fn(&[Value]) -> TaskResult) -> Func {
    crate::named::named_kernel(name, "string-stage", kernel)
}

const SPLIT_WS: &str = "brisk_bag::split_whitespace";
const SPLIT: &str = "brisk_bag::split";
const LOWER: &str = "brisk_bag::lower";
const TRIM: &str = "brisk_bag::trim";

register_kernel!(SPLIT_WS, "split-whitespace", split_whitespace_kernel);
register_kernel!(SPLIT, "split", split_kernel);
register_kernel!(LOWER, "lower", lower_kernel);
register_kernel!(TRIM, "trim", trim_kernel);

fn split_whitespace_kernel(args: &[Value]) -> TaskResult {
    let s = arg_stream::<String>(args, 0)?;
    Ok(Value::new(Stream::new("split-whitespace", move |sink| {
        let mut slot: Option<String> = None;
        s(&mut |line| match line.as_deref() {
            Some(l) => for_each_word(l, |w| push_str(&mut slot, w, sink)),
            None => ControlFlow::Continue(()),
        })
    })))
}

fn split_kernel(args: &[Value]) -> TaskResult {
    let s = arg_stream::<String>(args, 0)?;
    let sep = args
        .get(1)
        .ok_or_else(|| TaskFailure::msg("internal: missing separator"))?
        .get::<String>()
        .map_err(|m| TaskFailure::msg(format!("internal: {m}")))?;
    Ok(Value::new(Stream::new("split", move |sink| {
        let mut slot: Option<String> = None;
        s(&mut |line| {
            if let Some(l) = line.as_deref() {
                for piece in l.split(sep.as_str()) {
                    push_str(&mut slot, piece, sink)?;
                }
            }
            ControlFlow::Continue(())
        })
    })))
}

fn lower_kernel(args: &[Value]) -> TaskResult {
    let s = arg_stream::<String>(args, 0)?;
    Ok(Value::new(Stream::new("lower", move |sink| {
        s(&mut |line| {
            if let Some(l) = line.as_mut() {
                if l.is_ascii() {
                    l.make_ascii_lowercase();
                } else {
                    *l = l.to_lowercase();
                }
            }
            sink(line)
        })
    })))
}

fn trim_kernel(args: &[Value]) -> TaskResult {
    let s = arg_stream::<String>(args, 0)?;
    Ok(Value::new(Stream::new("trim", move |sink| {
        s(&mut |line| {
            if let Some(l) = line.as_mut() {
                let end = l.trim_end_matches(is_python_space).len();
                l.truncate(end);
                let start = l.len() - l.trim_start_matches(is_python_space).len();
                l.drain(..start);
            }
            sink(line)
        })
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_match_split_whitespace() {
        for line in [
            "",
            "  a  b\tc\x0bd\x0ce\r",
            "one",
            " héllo wörld\u{a0}x\u{2003}y ",
            "\t\t",
            "the quick  brown fox jumps over   the lazy dog  ",
            "x",
            "       a",
            "abcdefgh ijklmnop qrstuvwx yz",
            "a\x1cb\x1dc\x1ed\x1fe",
            "longer line with a unit\x1fseparator and more words after it",
            "x\x1c",
            "\x1f\x1e",
            "é\x1ca\u{85}b",
        ] {
            let mut got = Vec::new();
            let _ = for_each_word(line, |w| {
                got.push(w.to_string());
                ControlFlow::Continue(())
            });
            let want: Vec<String> = line
                .split(is_python_space)
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect();
            assert_eq!(got, want, "{line:?}");
        }
    }
}
