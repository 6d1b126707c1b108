//! Brisk's CSV parser against Polars' on the same bytes: whatever the fast parser accepts
//! must equal Polars' frame; the ordinary inputs must be accepted (or the test would pass
//! by always leaving blocks to Polars).

use std::io::Cursor;
use std::sync::Arc;

use polars::prelude::{
    CsvParseOptions, CsvReadOptions, DataFrame as PlFrame, DataType, Field, NullValues, Schema,
    SerReader,
};

use super::*;
use crate::test_rng::Rng;

fn schema(types: &[(&str, DataType)]) -> Schema {
    types
        .iter()
        .map(|(n, t)| Field::new((*n).into(), t.clone()))
        .collect()
}

fn polars(
    bytes: &[u8],
    schema: &Schema,
    projection: &[usize],
    quote: Option<u8>,
    nulls: &[String],
) -> PolarsResultFrame {
    let nulls = nulls.to_vec();
    CsvReadOptions::default()
        .with_has_header(false)
        .with_schema(Some(Arc::new(schema.clone())))
        .with_projection(Some(Arc::new(projection.to_vec())))
        .map_parse_options(|p: CsvParseOptions| {
            let p = p.with_quote_char(quote);
            if nulls.is_empty() {
                p
            } else {
                p.with_null_values(Some(NullValues::AllColumns(
                    nulls.iter().map(|s| s.as_str().into()).collect(),
                )))
            }
        })
        .into_reader_with_file_handle(Cursor::new(bytes))
        .finish()
}

type PolarsResultFrame = polars::prelude::PolarsResult<PlFrame>;

/// Parse with both; returns whether the fast parser accepted the bytes.
fn same(
    text: &str,
    schema: &Schema,
    projection: &[usize],
    quote: Option<u8>,
    nulls: &[String],
) -> bool {
    let wanted: Vec<Wanted<'_>> = projection
        .iter()
        .map(|&i| {
            let (name, dtype) = schema.get_at_index(i).unwrap();
            Wanted {
                index: i,
                name: name.as_str(),
                dtype,
            }
        })
        .collect();
    assert!(supports(&wanted, schema.len()));
    let fast = parse(text.as_bytes(), b',', quote, nulls, schema.len(), &wanted);
    let Ok(fast) = fast else { return false };
    let slow = polars(text.as_bytes(), schema, projection, quote, nulls)
        .unwrap_or_else(|e| panic!("fast parser accepted what Polars rejects ({e}):\n{text}"));
    assert!(
        fast.equals_missing(&slow),
        "fast parser differs from Polars on\n{text:?}\nfast {fast}\nPolars {slow}"
    );
    true
}

fn types() -> Schema {
    schema(&[
        ("id", DataType::Int64),
        ("x", DataType::Float64),
        ("name", DataType::String),
        ("t", DataType::String),
    ])
}

#[test]
fn ordinary_blocks_are_parsed_as_polars_parses_them() {
    let s = types();
    let text = "81605,989.1478,carol,2015-01-01 00:00:00\n\
                -3,-1.5e3,\"bob, jr\",\n\
                ,,,x\n\
                7,0.1,\"\",\"say \"\"hi\"\"\"\n\
                007,12,ünïcode,\"multi\nline\"\n\
                9,3.25,a,b";
    for projection in [&[0usize, 1][..], &[1, 0], &[2], &[0, 1, 2, 3], &[3, 1]] {
        assert!(
            same(text, &s, projection, Some(b'"'), &[]),
            "{projection:?}"
        );
    }
    let crlf = "1,2.5,a,b\r\n2,,c,\r\n3,4,,d\r\n";
    assert!(same(crlf, &s, &[0, 1, 2, 3], Some(b'"'), &[]));
    assert!(same("1,2,a,b\n", &s, &[0, 1], None, &[]));
    let nulls = vec!["NA".to_string(), "-".to_string()];
    assert!(same(
        "1,NA,NA,b\nNA,2,-,x\n",
        &s,
        &[0, 1, 2, 3],
        Some(b'"'),
        &nulls
    ));
}

#[test]
fn unusual_blocks_are_left_to_polars() {
    let s = types();
    for text in [
        "1,2,a\n",              // ragged
        "1,2,a,b\n\n3,4,c,d\n", // blank line
        "1.5,2,a,b\n",          // not an integer
        "\"1\",2,a,b\n",        // quoted number
        "1,inf,a,b\n",          // a word for a float
        "1, 2,a,b\n",           // a space
        "99999999999999999999,2,a,b\n",
        // A quote inside a field: Polars reads it as data, two records of four fields; a
        // tokenizer toggling on every quote would see one.
        "1,2.5,ab\"c,d\n1,2.5,ab\"c,d\n",
        "1,2.5,\"ab\"c,d\n", // text after a closing quote
        "1,2.5,x,\"open\n",  // a quote left open
    ] {
        assert!(!same(text, &s, &[0, 1, 2, 3], Some(b'"'), &[]), "{text:?}");
    }
    let bad_utf8 = [b'1', b',', b'2', b',', 0xff, b',', b'b', b'\n'];
    let wanted: Vec<Wanted<'_>> = (0..4)
        .map(|i| {
            let (name, dtype) = s.get_at_index(i).unwrap();
            Wanted {
                index: i,
                name: name.as_str(),
                dtype,
            }
        })
        .collect();
    assert_eq!(
        parse(&bad_utf8, b',', Some(b'"'), &[], 4, &wanted).err(),
        Some(Unusual)
    );
}

#[test]
fn random_blocks_match_polars() {
    let s = types();
    let mut rng = Rng(99);
    let mut accepted = 0;
    for _ in 0..300 {
        let mut text = String::new();
        for _ in 0..rng.below(40) {
            let id = match rng.below(10) {
                0 => String::new(),
                1 => format!("-{}", rng.below(1000)),
                _ => rng.below(1_000_000).to_string(),
            };
            let x = match rng.below(10) {
                0 => String::new(),
                1 => format!("{}e-{}", rng.below(100), rng.below(5)),
                2 => rng.below(100).to_string(),
                _ => format!("{}.{:04}", rng.below(1000), rng.below(10_000)),
            };
            let name = match rng.below(8) {
                0 => String::new(),
                1 => "\"a,b\"".to_string(),
                2 => "\"q\"\"uote\"".to_string(),
                3 => "\"\"".to_string(),
                _ => ["alice", "bob", "ünï"][rng.below(3) as usize].to_string(),
            };
            let t = if rng.below(3) == 0 {
                ""
            } else {
                "2015-01-01 00:00:00"
            };
            let eol = if rng.below(5) == 0 { "\r\n" } else { "\n" };
            text.push_str(&format!("{id},{x},{name},{t}{eol}"));
        }
        if rng.below(4) == 0 {
            text.pop();
        }
        let projection: &[usize] = match rng.below(4) {
            0 => &[0, 1],
            1 => &[2, 0],
            2 => &[3],
            _ => &[0, 1, 2, 3],
        };
        accepted += usize::from(same(&text, &s, projection, Some(b'"'), &[]));
    }
    assert!(
        accepted > 250,
        "only {accepted} of 300 blocks took the fast path"
    );
}

#[test]
fn integers_are_plain_decimals() {
    assert_eq!(parse_int(b"0"), Some(0));
    assert_eq!(parse_int(b"-123"), Some(-123));
    assert_eq!(parse_int(b"007"), Some(7));
    assert_eq!(
        parse_int(b"999999999999999999"),
        Some(999_999_999_999_999_999)
    );
    for bad in [
        &b""[..],
        b"-",
        b"+1",
        b" 1",
        b"1.0",
        b"1e3",
        b"1234567890123456789",
    ] {
        assert_eq!(parse_int(bad), None, "{:?}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn floats_without_words() {
    assert!(plain_float(b"-1.5e-3"));
    assert!(!plain_float(b"inf"));
    assert!(!plain_float(b"NaN"));
    assert!(!plain_float(b"1 "));
}
