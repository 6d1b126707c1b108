//! The tokenizer against a byte-by-byte reference, on random and hand-written inputs.
use super::*;
use crate::test_rng::Rng;

/// One sink call.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Event {
    Field(usize, Vec<u8>, bool),
    End(usize),
}

/// Records every call; fails once `fail_after` events were recorded.
#[derive(Default)]
struct Recorder {
    events: Vec<Event>,
    /// Stray quotes, apart: the walker reports a block's strays before its fields.
    strays: Vec<usize>,
    fail_after: Option<usize>,
}

impl Recorder {
    fn push(&mut self, event: Event) -> Result<(), String> {
        if self.fail_after == Some(self.events.len()) {
            return Err("stop".into());
        }
        self.events.push(event);
        Ok(())
    }
}

impl Sink for Recorder {
    type Error = String;
    fn field(&mut self, slot: usize, raw: &[u8], quoted: bool) -> Result<(), String> {
        self.push(Event::Field(slot, raw.to_vec(), quoted))
    }
    fn end_row(&mut self, n_fields: usize) -> Result<(), String> {
        self.push(Event::End(n_fields))
    }
    fn stray_quote(&mut self, pos: usize) -> Result<(), String> {
        self.strays.push(pos);
        Ok(())
    }
}

/// Obviously correct byte-at-a-time state machine.
fn reference<S: Sink>(tok: &Tokenizer, bytes: &[u8], sink: &mut S) -> Result<(), S::Error> {
    let (mut in_quote, mut quoted, mut start, mut idx) = (false, false, 0, 0);
    let emit = |sink: &mut S, idx: usize, raw: &[u8], quoted: bool| match tok.wanted.get(idx) {
        Some(&slot) if slot != NOT_WANTED => sink.field(slot as usize, raw, quoted),
        _ => Ok(()),
    };
    let is = |b: Option<&u8>, set: &[Option<u8>]| set.contains(&b.copied());
    for (i, &c) in bytes.iter().enumerate() {
        if Some(c) == tok.quote {
            in_quote = !in_quote;
            quoted = true;
            let stray = if in_quote {
                i > 0 && !is(bytes.get(i - 1), &[Some(tok.sep), Some(b'\n'), tok.quote])
            } else {
                let next = bytes.get(i + 1);
                !(next.is_none()
                    || is(next, &[Some(tok.sep), Some(b'\n'), tok.quote])
                    || (next == Some(&b'\r') && is(bytes.get(i + 2), &[None, Some(b'\n')])))
            };
            if stray {
                sink.stray_quote(i)?;
            }
        } else if in_quote {
        } else if c == tok.sep {
            emit(sink, idx, &bytes[start..i], quoted)?;
            (start, idx, quoted) = (i + 1, idx + 1, false);
        } else if c == b'\n' {
            let end = if i > start && bytes[i - 1] == b'\r' {
                i - 1
            } else {
                i
            };
            emit(sink, idx, &bytes[start..end], quoted)?;
            sink.end_row(idx + 1)?;
            (start, idx, quoted) = (i + 1, 0, false);
        }
    }
    if in_quote {
        sink.stray_quote(bytes.len())?;
    }
    if start < bytes.len() || idx > 0 {
        let mut end = bytes.len();
        if !in_quote && end > start && bytes[end - 1] == b'\r' {
            end -= 1;
        }
        emit(sink, idx, &bytes[start..end], quoted)?;
        sink.end_row(idx + 1)?;
    }
    Ok(())
}

fn backends() -> Vec<Backend> {
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
    let mut all = vec![Backend::Swar];
    #[cfg(target_arch = "x86_64")]
    {
        all.push(Backend::Sse2);
        if std::arch::is_x86_feature_detected!("avx2") {
            all.push(Backend::Avx2);
        }
    }
    all
}

fn recorded(tok: &Tokenizer, backend: Backend, bytes: &[u8]) -> Recorder {
    let mut rec = Recorder::default();
    tok.run_on(backend, bytes, &mut rec).unwrap();
    rec
}

fn events_of(tok: &Tokenizer, backend: Backend, bytes: &[u8]) -> Vec<Event> {
    recorded(tok, backend, bytes).events
}

fn reference_recorded(tok: &Tokenizer, bytes: &[u8]) -> Recorder {
    let mut rec = Recorder::default();
    reference(tok, bytes, &mut rec).unwrap();
    rec
}

fn reference_events(tok: &Tokenizer, bytes: &[u8]) -> Vec<Event> {
    reference_recorded(tok, bytes).events
}

/// Checks every backend against the reference (events and stray quotes) and returns the
/// events.
fn check(tok: &Tokenizer, bytes: &[u8]) -> Vec<Event> {
    strays_and_events(tok, bytes).1
}

/// [`check`], returning the stray quotes too.
fn strays_and_events(tok: &Tokenizer, bytes: &[u8]) -> (Vec<usize>, Vec<Event>) {
    let expected = reference_recorded(tok, bytes);
    for backend in backends() {
        let got = recorded(tok, backend, bytes);
        let text = String::from_utf8_lossy(bytes);
        assert_eq!(got.events, expected.events, "{backend:?} on {text:?}");
        assert_eq!(
            got.strays, expected.strays,
            "{backend:?} strays on {text:?}"
        );
    }
    (expected.strays, expected.events)
}

fn f(slot: usize, raw: &str, quoted: bool) -> Event {
    Event::Field(slot, raw.as_bytes().to_vec(), quoted)
}

fn all_columns(n: usize) -> Vec<usize> {
    (0..n).collect()
}

/// Events of a comma separated, double-quoted tokenizer reading all of
/// the first three columns.
fn csv3(input: &str) -> Vec<Event> {
    check(
        &Tokenizer::new(b',', Some(b'"'), &all_columns(3)),
        input.as_bytes(),
    )
}

#[test]
fn simple_records() {
    use Event::End;
    assert_eq!(
        csv3("a,b,c\n1,2,3\n"),
        vec![
            f(0, "a", false),
            f(1, "b", false),
            f(2, "c", false),
            End(3),
            f(0, "1", false),
            f(1, "2", false),
            f(2, "3", false),
            End(3)
        ]
    );
}

#[test]
fn empty_input_and_trailing_newline() {
    assert_eq!(csv3(""), vec![]);
    assert_eq!(csv3("a\n"), vec![f(0, "a", false), Event::End(1)]);
    assert_eq!(csv3("a"), vec![f(0, "a", false), Event::End(1)]);
    assert_eq!(
        csv3("a\nb"),
        vec![
            f(0, "a", false),
            Event::End(1),
            f(0, "b", false),
            Event::End(1)
        ]
    );
}

#[test]
fn quoted_separators_newlines_and_doubled_quotes() {
    use Event::End;
    assert_eq!(
        csv3("\"a,b\",c\n"),
        vec![f(0, "\"a,b\"", true), f(1, "c", false), End(2)]
    );
    assert_eq!(
        csv3("\"a\nb\",c\n"),
        vec![f(0, "\"a\nb\"", true), f(1, "c", false), End(2)]
    );
    assert_eq!(
        csv3("\"a\"\"b\",c"),
        vec![f(0, "\"a\"\"b\"", true), f(1, "c", false), End(2)]
    );
    assert_eq!(
        csv3("\"\",x\n"),
        vec![f(0, "\"\"", true), f(1, "x", false), End(2)]
    );
    // Unterminated quote: the rest of the input is one field.
    assert_eq!(
        csv3("a,\"b,c\nd\r"),
        vec![f(0, "a", false), f(1, "\"b,c\nd\r", true), End(2)]
    );
}

#[test]
fn stray_quotes_are_reported() {
    let tok = Tokenizer::new(b',', Some(b'"'), &all_columns(3));
    let strays = |text: &str| strays_and_events(&tok, text.as_bytes()).0;
    // Opening at field starts, closing before a separator, a record end (CRLF too) or the
    // end, doubled inside: nothing stray.
    assert_eq!(
        strays("\"a\",\"b\"\"c\",\"\"\n\"x\"\r\n,\"y,\n\"\n\"z\""),
        Vec::<usize>::new()
    );
    // A quote inside an unquoted field, text after a closing quote, a lone `\r`, a quote
    // left open.
    assert_eq!(strays("ab\"c,d\"\n"), vec![2]);
    assert_eq!(strays("\"ab\"c,d\n"), vec![3]);
    assert_eq!(strays("\"a\"\rb,c\n"), vec![2]);
    assert_eq!(strays("a,\"bc\n"), vec![6]);
    // Neighbours across a block boundary: a closing quote that is a block's last byte, an
    // opening one that is the next block's first.
    let close = format!("\"{}\"b,c\n", "x".repeat(62));
    assert_eq!(strays(&close), vec![63]);
    let open = format!("{}\"y\",z\n", "x".repeat(64));
    assert_eq!(strays(&open), vec![64]);
}

#[test]
fn quote_none_treats_quotes_as_data() {
    let tok = Tokenizer::new(b',', None, &[0, 1]);
    assert_eq!(
        check(&tok, b"\"a,b\"\n"),
        vec![f(0, "\"a", false), f(1, "b\"", false), Event::End(2)]
    );
}

#[test]
fn crlf() {
    use Event::End;
    assert_eq!(
        csv3("a,b\r\nc,\"d\"\r\n\r\n"),
        vec![
            f(0, "a", false),
            f(1, "b", false),
            End(2),
            f(0, "c", false),
            f(1, "\"d\"", true),
            End(2),
            f(0, "", false),
            End(1)
        ]
    );
    // No trailing newline: a final `\r` is stripped too.
    assert_eq!(
        csv3("a,b\r"),
        vec![f(0, "a", false), f(1, "b", false), End(2)]
    );
    // A `\r` elsewhere is data.
    assert_eq!(
        csv3("a\rb,\r\n"),
        vec![f(0, "a\rb", false), f(1, "", false), End(2)]
    );
}

#[test]
fn empty_lines_and_fields() {
    use Event::End;
    assert_eq!(
        csv3("\n\n"),
        vec![f(0, "", false), End(1), f(0, "", false), End(1)]
    );
    assert_eq!(
        csv3("a,,b\n"),
        vec![f(0, "a", false), f(1, "", false), f(2, "b", false), End(3)]
    );
    assert_eq!(csv3(",\n"), vec![f(0, "", false), f(1, "", false), End(2)]);
    assert_eq!(csv3("a,"), vec![f(0, "a", false), f(1, "", false), End(2)]);
}

#[test]
fn ragged_rows_and_wanted_subsets() {
    use Event::End;
    let tok = Tokenizer::new(b',', Some(b'"'), &[3, 1]);
    assert_eq!(
        check(&tok, b"a,b,c,d,e\nf\ng,h\ni,j,k,l"),
        vec![
            f(1, "b", false),
            f(0, "d", false),
            End(5),
            End(1),
            f(1, "h", false),
            End(2),
            f(1, "j", false),
            f(0, "l", false),
            End(4)
        ]
    );
    let none = Tokenizer::new(b',', Some(b'"'), &[]);
    assert_eq!(check(&none, b"a,b\n\nc"), vec![End(2), End(1), End(1)]);
}

#[test]
fn duplicate_wanted_column_reports_last_slot() {
    let tok = Tokenizer::new(b',', Some(b'"'), &[1, 0, 1]);
    assert_eq!(
        check(&tok, b"a,b\n"),
        vec![f(1, "a", false), f(2, "b", false), Event::End(2)]
    );
}

#[test]
fn fields_across_block_boundaries() {
    let long = "x".repeat(100);
    let input = format!("{long},\"{long},{long}\n\"\r\n{}", "y".repeat(63));
    let events = csv3(&input);
    assert_eq!(events.len(), 5);
    assert_eq!(
        events[1],
        Event::Field(1, format!("\"{long},{long}\n\"").into_bytes(), true)
    );
    // A field ending exactly at every offset around 64 and 128.
    for pad in 55..140 {
        let input = format!("{},\"a\"\"{}\"\n", "z".repeat(pad), ",".repeat(pad % 7));
        csv3(&input);
        csv3(&input.replace('\n', "\r\n"));
    }
}

#[test]
fn other_separators() {
    for sep in [b';', b'\t', b'|'] {
        let tok = Tokenizer::new(sep, Some(b'\''), &[0, 2]);
        let input = format!("a{0}'b{0}c'{0}d\n", sep as char);
        assert_eq!(
            check(&tok, input.as_bytes()),
            vec![f(0, "a", false), f(1, "d", false), Event::End(3)]
        );
    }
}

#[test]
fn sink_error_stops_early() {
    let tok = Tokenizer::new(b',', Some(b'"'), &[0, 1]);
    let input = b"a,b\nc,d\ne,f\n";
    let full = reference_events(&tok, input);
    for backend in backends() {
        for stop in 0..full.len() {
            let mut rec = Recorder {
                fail_after: Some(stop),
                ..Recorder::default()
            };
            assert_eq!(
                tok.run_on(backend, input, &mut rec),
                Err("stop".to_string())
            );
            assert_eq!(rec.events, full[..stop]);
        }
    }
}

#[test]
fn random_inputs_match_reference() {
    const ALPHABET: &[u8] = b",,,;;\t\"\"\"''\n\n\n\r\ra1";
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let wanted_sets: [&[usize]; 6] = [
        &[],
        &[0],
        &[1],
        &[0, 1],
        &[2, 0, 5],
        &[0, 1, 2, 3, 4, 5, 6, 7],
    ];
    let configs = [
        (b',', Some(b'"')),
        (b',', None),
        (b';', Some(b'"')),
        (b'\t', Some(b'\'')),
        (b'\t', None),
    ];
    for _ in 0..if cfg!(miri) { 30 } else { 3000 } {
        let len = rng.index(300);
        let bytes: Vec<u8> = (0..len)
            .map(|_| ALPHABET[rng.index(ALPHABET.len())])
            .collect();
        for &(sep, quote) in &configs {
            for wanted in wanted_sets {
                check(&Tokenizer::new(sep, quote, wanted), &bytes);
            }
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(12345);
    for _ in 0..if cfg!(miri) { 30 } else { 2000 } {
        let len = rng.index(300);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        check(&Tokenizer::new(b',', Some(b'"'), &[0, 1, 3]), &bytes);
        // Degenerate configurations: only "does not panic" is promised.
        let sep = rng.next() as u8;
        let quote = Some(rng.next() as u8);
        for config in [
            (sep, quote),
            (b'\n', Some(b'\n')),
            (0, Some(0)),
            (b'\r', Some(b',')),
        ] {
            let tok = Tokenizer::new(config.0, config.1, &[0, 2]);
            for backend in backends() {
                events_of(&tok, backend, &bytes);
            }
        }
    }
}

#[test]
#[cfg_attr(miri, ignore = "too slow under Miri")]
fn large_generated_input() {
    let data = generate_numeric(10_000_000);
    let tok = Tokenizer::new(b',', Some(b'"'), &[0, 1]);
    let expected = reference_events(&tok, &data);
    assert_eq!(
        expected
            .iter()
            .filter(|e| matches!(e, Event::End(4)))
            .count(),
        data.iter().filter(|&&b| b == b'\n').count()
    );
    for backend in backends() {
        assert_eq!(events_of(&tok, backend, &data), expected, "{backend:?}");
    }
    // The same with quoted names and CRLF.
    let quoted = String::from_utf8(data)
        .unwrap()
        .replace("carol", "\"ca,\"\"rol\"")
        .replace('\n', "\r\n");
    check(&tok, quoted.as_bytes());
}

#[test]
fn unquote_cases() {
    let q = b'"';
    let owned = |c: Cow<'_, [u8]>| matches!(c, Cow::Owned(_));
    assert_eq!(&*unquote(b"abc", q), b"abc");
    assert!(!owned(unquote(b"abc", q)));
    assert_eq!(&*unquote(b"\"abc\"", q), b"abc");
    assert!(!owned(unquote(b"\"a,b\"", q)));
    assert_eq!(&*unquote(b"\"a\"\"b\"", q), b"a\"b");
    assert!(owned(unquote(b"\"a\"\"b\"", q)));
    assert_eq!(&*unquote(b"\"\"", q), b"");
    assert_eq!(&*unquote(b"\"", q), b"");
    assert_eq!(&*unquote(b"\"\"\"\"", q), b"\"");
    assert_eq!(&*unquote(b"\"\"\"\"\"\"", q), b"\"\"");
    assert_eq!(&*unquote(b"\"abc", q), b"abc");
    assert_eq!(&*unquote(b"a\"\"b", q), b"a\"\"b");
    assert_eq!(&*unquote(b"", q), b"");
    assert_eq!(&*unquote(b"'it''s'", b'\''), b"it's");
}

#[test]
fn swar_eq_bits_is_exact() {
    let mut rng = Rng(777);
    for _ in 0..if cfg!(miri) { 100 } else { 10_000 } {
        let bytes = rng
            .next()
            .to_le_bytes()
            .map(|b| if b % 3 == 0 { 1 } else { b % 4 });
        let needle = (rng.next() % 4) as u8;
        let expected = bytes
            .iter()
            .enumerate()
            .fold(0, |m, (i, &b)| m | (((b == needle) as u64) << i));
        assert_eq!(
            swar_eq_bits(u64::from_le_bytes(bytes), splat(needle)),
            expected
        );
    }
}

/// Generated numeric CSV of about `size` bytes shaped like
/// `81605,989.1478,carol,2015-01-01 00:00:00`.
fn generate_numeric(size: usize) -> Vec<u8> {
    use std::io::Write;
    let names = ["alice", "bob", "carol", "dave", "eve", "frank", "grace"];
    let mut rng = Rng(42);
    let mut out = Vec::with_capacity(size + 64);
    while out.len() < size {
        let id = 1 + rng.index(100_000);
        let value = rng.index(10_000_000) as f64 / 10_000.0;
        let name = names[rng.index(names.len())];
        let (day, hour, min, sec) = (
            1 + rng.index(28),
            rng.index(24),
            rng.index(60),
            rng.index(60),
        );
        writeln!(
            out,
            "{id},{value:.4},{name},2015-01-{day:02} {hour:02}:{min:02}:{sec:02}"
        )
        .unwrap();
    }
    out
}

/// Sums raw lengths: a near no-op sink for the speed check.
#[derive(Default)]
struct LenSum {
    bytes: usize,
    rows: usize,
}

impl Sink for LenSum {
    type Error = std::convert::Infallible;
    #[inline]
    fn field(&mut self, slot: usize, raw: &[u8], _quoted: bool) -> Result<(), Self::Error> {
        self.bytes += raw.len() + slot;
        Ok(())
    }
    #[inline]
    fn end_row(&mut self, n_fields: usize) -> Result<(), Self::Error> {
        self.rows += n_fields;
        Ok(())
    }
    fn stray_quote(&mut self, pos: usize) -> Result<(), Self::Error> {
        self.bytes += pos;
        Ok(())
    }
}

/// Best-of-N throughput in GB/s of `run` over `data`.
fn throughput(data: &[u8], mut run: impl FnMut(&mut LenSum)) -> (f64, usize) {
    let mut best = f64::MAX;
    let mut check = 0;
    for _ in 0..7 {
        let mut sink = LenSum::default();
        let t = std::time::Instant::now();
        run(&mut sink);
        best = best.min(t.elapsed().as_secs_f64());
        check = std::hint::black_box(sink.bytes + sink.rows);
    }
    (data.len() as f64 / best / 1e9, check)
}

/// Prints the throughput of the reference and every backend.
fn report(label: &str, tok: &Tokenizer, data: &[u8]) {
    let (gbs, expected) = throughput(data, |s| reference(tok, data, s).unwrap());
    print!("{label:<34} reference {gbs:5.2}");
    for backend in backends() {
        let (gbs, check) = throughput(data, |s| tok.run_on(backend, data, s).unwrap());
        assert_eq!(check, expected);
        print!(" | {backend:?} {gbs:5.2}");
    }
    println!("  GB/s");
}

/// `cargo test --release -- --ignored --nocapture speed`
#[test]
#[ignore]
fn speed() {
    let data = generate_numeric(38_000_000);
    for quote in [Some(b'"'), None] {
        let tok = Tokenizer::new(b',', quote, &[0, 1]);
        report(&format!("numeric [0,1] quote={quote:?}"), &tok, &data);
    }
    let all = Tokenizer::new(b',', Some(b'"'), &[0, 1, 2, 3]);
    report("numeric [0,1,2,3]", &all, &data);
    let quoted = String::from_utf8(data)
        .unwrap()
        .replace("carol", "\"ca,\"\"rol\"")
        .replace("eve", "\"eve\"");
    report("quoted names [0,1,2,3]", &all, quoted.as_bytes());
    let wide: Vec<u8> = quoted
        .replace('\n', ",1,2.5,x,y,z,10,11,12,13,14,15,16\n")
        .into_bytes();
    let tok = Tokenizer::new(b',', Some(b'"'), &[0, 7]);
    report("wide (16 cols) [0,7]", &tok, &wide);
}
