//! Word splitting agrees with Python's `str.split()` (what a dask.bag word count runs),
//! including the separators Rust's `split_whitespace` does not treat as whitespace
//! (`\x1c`–`\x1f`), on every code point and on generated text through every splitting path
//! (the built-in word count's 64-byte scan, the ASCII and Unicode paths, `trim`).

use std::collections::HashMap;

use brisk_bag::{is_python_space, read_text};
use brisk_core::Collection;

fn setup() {
    let _ = brisk_local::LocalScheduler::threaded();
}

fn run_python(code: &str, args: &[&str]) -> Option<Vec<u8>> {
    let python = brisk_test_utils::s3::python()?;
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(out.stdout)
}

#[test]
fn whitespace_is_pythons_on_every_code_point() -> anyhow::Result<()> {
    let Some(out) = run_python(
        "import json; print(json.dumps([c for c in range(0x110000) if chr(c).isspace()]))",
        &[],
    ) else {
        return Ok(());
    };
    let want: Vec<u32> = serde_json::from_slice(&out)?;
    let got: Vec<u32> = (0..0x11_0000u32)
        .filter_map(char::from_u32)
        .filter(|&c| is_python_space(c))
        .map(u32::from)
        .collect();
    assert_eq!(got, want);
    assert!(
        want.contains(&0x1f) && !'\x1f'.is_whitespace(),
        "the case that differs"
    );
    Ok(())
}

/// Lines mixing words with every kind of separator: printable-ASCII lines (the 64-byte
/// scan), ASCII lines with control characters, and Unicode lines.
fn text(n: usize) -> String {
    const SEPS: [&str; 16] = [
        " ", "  ", "\t", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\u{85}", "\u{a0}",
        "\u{2003}", "\u{3000}", "\u{2028}", " \x1f ", "\u{180e}",
    ];
    const WORDS: [&str; 10] = [
        "a",
        "word",
        "python",
        "é",
        "naïve",
        "x\u{200b}y",
        "fifteen-letters",
        "a-word-of-more-than-16",
        "tab",
        "0",
    ];
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut out = String::new();
    for i in 0..n {
        let words = next() % 40;
        // A third of the lines only use words and single spaces (the fast paths).
        let plain = i % 3 == 0;
        if !plain && next() % 4 == 0 {
            out.push_str(SEPS[(next() % 16) as usize]);
        }
        for j in 0..words {
            let w = WORDS[(next() % 10) as usize];
            out.push_str(if plain && !w.is_ascii() { "ascii" } else { w });
            if j + 1 < words || next() % 3 == 0 {
                out.push_str(if plain {
                    " "
                } else {
                    SEPS[(next() % 16) as usize]
                });
            }
        }
        out.push('\n');
    }
    out
}

#[test]
fn word_counts_and_strip_match_python_str_split() -> anyhow::Result<()> {
    setup();
    let dir = tempfile::tempdir()?;
    let data = text(4000);
    let lines: Vec<&str> = data.lines().collect();
    let mut urls = Vec::new();
    for (i, part) in lines.chunks(1500).enumerate() {
        let url = dir.path().join(format!("ws_{i}.txt")).display().to_string();
        let mut body = part.join("\n");
        body.push('\n');
        brisk_io::write_all(&url, body.as_bytes())?;
        urls.push(url);
    }
    let pattern = dir.path().join("ws_*.txt").display().to_string();
    let b = read_text(&pattern)?;

    // The built-in word count (packed words, 64-byte space scan) and the word bag.
    let counts: HashMap<String, u64> = b
        .split_whitespace()
        .frequencies()
        .compute()?
        .into_iter()
        .collect();
    let words = b.split_whitespace().compute()?;
    let stripped = b.trim().compute()?;
    let mut from_words: HashMap<String, u64> = HashMap::new();
    for w in &words {
        *from_words.entry(w.clone()).or_insert(0) += 1;
    }
    assert_eq!(counts, from_words);
    assert!(
        counts.contains_key("x\u{200b}y"),
        "U+200B is not whitespace"
    );

    let code = r#"
import sys, json, glob, collections
lines = []
for p in sorted(glob.glob(sys.argv[1])):
    with open(p, encoding='utf-8', newline='') as f:
        lines += f.read().split('\n')[:-1]
words = [w for l in lines for w in l.split()]
print(json.dumps([words, collections.Counter(words), [l.strip() for l in lines]]))
"#;
    let Some(out) = run_python(code, &[&pattern]) else {
        return Ok(());
    };
    let (want_words, want_counts, want_stripped): (Vec<String>, HashMap<String, u64>, Vec<String>) =
        serde_json::from_slice(&out)?;
    assert_eq!(words.len(), want_words.len(), "number of words");
    assert!(
        words == want_words,
        "words differ from Python's str.split()"
    );
    assert_eq!(counts, want_counts);
    assert!(
        stripped == want_stripped,
        "trim differs from Python's str.strip()"
    );
    Ok(())
}
