//! Text and JSON bags on files: counts and word frequencies checked against Python on the
//! same files, blocks, compression, `take` reading only what it needs, errors that name the
//! file and line, and `to_textfiles` round trips.

use std::collections::HashMap;
use std::path::Path;

use brisk_bag::{BagError, OnError, TextSource, read_json, read_text};
use brisk_core::Collection;

fn setup() {
    let _ = brisk_local::LocalScheduler::threaded();
}

const WORDS: [&str; 12] = [
    "python", "rust", "data", "task", "graph", "bag", "the", "of", "and", "dask", "brisk", "é",
];

/// Deterministic text: `n` lines of pseudo-random words.
fn text(seed: u64, n: usize) -> String {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let mut out = String::new();
    for _ in 0..n {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let len = 1 + (x >> 60) as usize;
        let words: Vec<&str> = (0..len)
            .map(|j| WORDS[((x >> (j * 4 % 56)) % WORDS.len() as u64) as usize])
            .collect();
        out.push_str(&words.join(" "));
        out.push('\n');
    }
    out
}

fn write_files(dir: &Path) -> anyhow::Result<String> {
    for i in 0..5u64 {
        let ext = ["txt", "txt.gz", "txt", "txt.bz2", "txt.zst"][i as usize];
        let url = dir.join(format!("lines_{i}.{ext}")).display().to_string();
        brisk_io::write_all(&url, text(i, 3000 + 500 * i as usize).as_bytes())?;
    }
    Ok(dir.join("lines_*").display().to_string())
}

/// Python's answer for the talk's two questions on the same files.
fn python_reference(pattern: &str) -> Option<(u64, Vec<(String, u64)>)> {
    let python = brisk_test_utils::s3::python()?;
    let code = r#"
import sys, glob, gzip, bz2, collections, json
def opener(p):
    if p.endswith('.gz'): return gzip.open(p, 'rt', encoding='utf-8')
    if p.endswith('.bz2'): return bz2.open(p, 'rt', encoding='utf-8')
    return open(p, encoding='utf-8')
files = sorted(glob.glob(sys.argv[1]))
lines = []
for p in files:
    if p.endswith('.zst'):
        continue
    with opener(p) as f:
        lines += [l.rstrip('\n') for l in f]
count = sum(1 for l in lines if 'python' in l)
freq = collections.Counter(w for l in lines for w in l.split())
print(json.dumps([count, sorted(freq.items(), key=lambda kv: (-kv[1], kv[0]))[:10]]))
"#;
    let out = std::process::Command::new(python)
        .args(["-c", code, pattern])
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (count, top): (u64, Vec<(String, u64)>) = serde_json::from_slice(&out.stdout).ok()?;
    Some((count, top))
}

#[test]
fn the_talks_example_matches_python() -> anyhow::Result<()> {
    setup();
    let dir = tempfile::tempdir()?;
    let pattern = write_files(dir.path())?;
    // Python's standard library has no zstd: compare on the other four files.
    let no_zst = TextSource::new(&dir.path().join("lines_*.txt").display().to_string())
        .and(&dir.path().join("lines_*.gz").display().to_string())
        .and(&dir.path().join("lines_*.bz2").display().to_string());
    for bs in [None, Some(1000), Some(100_000)] {
        let b = no_zst.clone().blocksize(bs).lines()?;
        let count = b.filter(|l| l.contains("python")).count().compute()?;
        let mut top = b
            .flat_map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .frequencies()
            .topk_by(10, |(_, n)| *n)
            .compute()?;
        // Equal counts may come in any order: sort ties by word, as the reference does.
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        // The built-in word splitter gives the same answer.
        let mut top2 = b
            .split_whitespace()
            .frequencies()
            .topk_by(10, |(_, n)| *n)
            .compute()?;
        top2.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        assert_eq!(top, top2);
        if let Some((want_count, want_top)) = python_reference(&pattern) {
            assert_eq!(count, want_count, "blocksize {bs:?}");
            assert_eq!(top, want_top, "blocksize {bs:?}");
        }
        let all = b.count().compute()?;
        assert_eq!(all, 3000 + 3500 + 4000 + 4500);
    }
    // All five files, zstd included, whatever the block size.
    let n = read_text(&pattern)?.count().compute()?;
    assert_eq!(n, (0..5).map(|i| 3000 + 500 * i).sum::<u64>());
    let blocks = TextSource::new(&pattern).blocksize(Some(777)).lines()?;
    assert!(blocks.npartitions() > 50);
    assert_eq!(blocks.count().compute()?, n);
    let every: Vec<String> = blocks.compute()?;
    let want: Vec<String> = (0..5u64)
        .flat_map(|i| {
            text(i, 3000 + 500 * i as usize)
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(every, want, "lines come back whole and in order");
    Ok(())
}

#[test]
fn take_reads_only_what_it_needs() -> anyhow::Result<()> {
    setup();
    let dir = tempfile::tempdir()?;
    // The first file is fine for its first few MiB and broken after; the second is corrupt.
    let mut first = text(1, 100).into_bytes();
    first.extend(std::iter::repeat_n(b'a', 3 << 20));
    first.extend(b"\n\xff\xfe broken utf-8\n");
    std::fs::write(dir.path().join("part_0.txt"), &first)?;
    std::fs::write(dir.path().join("part_1.txt.gz"), b"not gzip at all")?;
    let b = read_text(&dir.path().join("part_*").display().to_string())?;
    let head = b.take(5)?;
    assert_eq!(
        head,
        text(1, 5).lines().map(str::to_string).collect::<Vec<_>>()
    );
    // Reading everything does meet the problems, and names them.
    let e = b.count().compute().unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("part_0.txt is not valid UTF-8 at line 102") || msg.contains("part_1.txt.gz"),
        "{msg}"
    );
    let e = read_text(&dir.path().join("part_1*").display().to_string())?
        .count()
        .compute()
        .unwrap_err();
    assert!(e.to_string().contains("cannot decompress"), "{e}");
    assert!(e.to_string().contains("part_1.txt.gz"), "{e}");
    Ok(())
}

#[test]
fn missing_files_are_reported_when_the_bag_is_built() {
    let e = read_text("/no/such/dir/lines_*.txt").unwrap_err();
    assert!(
        e.to_string()
            .contains("no files match /no/such/dir/lines_*.txt"),
        "{e}"
    );
    let e = read_text("/no/such/file.txt").unwrap_err();
    assert!(e.to_string().contains("/no/such/file.txt"), "{e}");
}

#[test]
fn json_lines_errors_name_file_and_line() -> anyhow::Result<()> {
    setup();
    let dir = tempfile::tempdir()?;
    let mut lines = Vec::new();
    for i in 0..500 {
        lines.push(format!(
            r#"{{"id": {i}, "name": "n{i}", "tags": ["a", "b{}"]}}"#,
            i % 3
        ));
    }
    lines[337] = r#"{"id": 337, "name": oops}"#.to_string();
    let body = lines.join("\n") + "\n\n";
    for name in ["records.json", "records.json.gz"] {
        let url = dir.path().join(name).display().to_string();
        brisk_io::write_all(&url, body.as_bytes())?;
        for bs in [None, Some(1000), Some(7000)] {
            let src = TextSource::new(&url).blocksize(bs);
            let e = src.json()?.count().compute().unwrap_err();
            let be = BagError::Compute(e);
            match be.root() {
                BagError::Json {
                    origin: Some(o), ..
                } => {
                    assert_eq!(o.url, url);
                    assert_eq!(o.line, 338, "{name} blocksize {bs:?}");
                }
                other => panic!("expected a JSON error, got {other:?}"),
            }
            assert!(be.to_string().contains(&format!("{url} line 338")), "{be}");
            let ok = src.json_as::<serde_json::Value>(OnError::Skip)?;
            assert_eq!(ok.count().compute()?, 499);
            let ids = ok
                .pluck("id")
                .map(|v| v.as_i64().unwrap_or(-1))
                .sum()
                .compute()?;
            assert_eq!(ids, (0..500).sum::<i64>() - 337);
            let second_tags = ok.pluck("tags").pluck(1).distinct().compute()?;
            assert_eq!(second_tags.len(), 3);
        }
    }
    // Typed records, through read_text(...).parse_json().
    #[derive(Clone, Debug, serde::Deserialize)]
    struct Rec {
        id: i64,
    }
    let url = dir.path().join("records.json").display().to_string();
    let recs = read_text(&url)?.parse_json_with::<Rec>(OnError::Skip);
    assert_eq!(recs.map(|r| r.id).max().compute()?, 499);
    // A missing field names the field and the line.
    let e = read_json(&url)?
        .pluck("tags")
        .count()
        .compute()
        .unwrap_err();
    assert!(e.to_string().contains("line 338"), "{e}");
    let good = dir.path().join("good.json").display().to_string();
    brisk_io::write_all(&good, b"{\"a\": 1}\n{\"b\": 2}\n")?;
    let e = read_json(&good)?.pluck("a").count().compute().unwrap_err();
    assert!(e.to_string().contains("no field \"a\""), "{e}");
    assert!(e.to_string().contains("good.json line 2"), "{e}");
    // try_map errors name the line too.
    let e = read_text(&good)?
        .try_map(|l| {
            if l.contains('b') {
                Err("no b allowed")
            } else {
                Ok(l)
            }
        })
        .count()
        .compute()
        .unwrap_err();
    assert!(
        e.to_string().contains("good.json line 2: no b allowed"),
        "{e}"
    );
    Ok(())
}

#[test]
fn to_textfiles_round_trips() -> anyhow::Result<()> {
    setup();
    let dir = tempfile::tempdir()?;
    let b = brisk_bag::range(1000, 4).map(|x| format!("row {x}"));
    let urls = b.to_textfiles(&dir.path().join("out/part-*.txt.gz").display().to_string())?;
    assert_eq!(urls.len(), 4);
    assert!(urls[3].ends_with("out/part-3.txt.gz"));
    let back = read_text(&dir.path().join("out/part-*.txt.gz").display().to_string())?;
    let mut rows = back.compute()?;
    rows.sort_by_key(|r| r[4..].parse::<u64>().unwrap_or(0));
    assert_eq!(
        rows,
        (0..1000).map(|x| format!("row {x}")).collect::<Vec<_>>()
    );
    let urls = b.to_textfiles(&dir.path().join("plain").display().to_string())?;
    assert!(urls[0].ends_with("plain/0.part"));
    let counts: HashMap<String, u64> = urls
        .iter()
        .map(|u| Ok((u.clone(), read_text(u)?.count().compute()?)))
        .collect::<Result<_, anyhow::Error>>()?;
    assert_eq!(counts.values().sum::<u64>(), 1000);
    Ok(())
}

#[test]
fn a_failing_to_textfiles_task_leaves_no_file() -> anyhow::Result<()> {
    setup();
    let dir = tempfile::tempdir()?;
    let b = brisk_bag::range(1000, 4).try_map(|x| {
        if x == 700 {
            Err(format!("record {x} is bad"))
        } else {
            Ok(format!("row {x}"))
        }
    });
    let out = dir.path().join("out");
    let e = b
        .to_textfiles(&out.join("part-*.txt.gz").display().to_string())
        .unwrap_err();
    assert!(e.to_string().contains("record 700 is bad"), "{e}");
    // Partition 2 (records 500..750) failed after writing 200 lines: no file, no leftovers.
    let names: Vec<String> = std::fs::read_dir(&out)?
        .map(|e| Ok(e?.file_name().to_string_lossy().into_owned()))
        .collect::<std::io::Result<_>>()?;
    assert!(
        !names
            .iter()
            .any(|n| n.contains("part-2") || n.contains("brisk-tmp")),
        "{names:?}"
    );
    Ok(())
}

#[test]
fn empty_files_crlf_and_missing_final_newline() -> anyhow::Result<()> {
    setup();
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("a_0.txt"), b"")?;
    std::fs::write(dir.path().join("a_1.txt"), b"one\r\ntwo\r\nthree")?;
    brisk_io::write_all(&dir.path().join("a_2.txt.gz").display().to_string(), b"")?;
    let b = read_text(&dir.path().join("a_*").display().to_string())?;
    assert_eq!(b.compute()?, ["one", "two", "three"]);
    let empty = read_text(&dir.path().join("a_0.txt").display().to_string())?;
    assert_eq!(empty.npartitions(), 0);
    assert_eq!(empty.count().compute()?, 0);
    assert_eq!(empty.take(3)?, Vec::<String>::new());
    assert!(empty.groupby(|l| l.len(), None).compute()?.is_empty());
    assert!(empty.frequencies().compute()?.is_empty());
    Ok(())
}
