//! A YAML writer for JSON values, for the Kubernetes manifests: block style, every string
//! double-quoted with JSON's escapes (a double-quoted JSON string is a valid YAML scalar, so
//! no value can turn into another type or break the structure: `"no"`, `"8786"`, `"1e3"`,
//! `": "` stay strings).
//!
//! Hand-written rather than a crate: the only maintained YAML *serializers* for serde are
//! forks of the archived `serde_yaml`, and writing is ~50 lines where every string is quoted;
//! the output is checked by PyYAML and `kubernetes-validate` in the deploy tests.

use serde_json::Value;

/// `value` as one YAML document (no leading `---`).
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0, false);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some("null".into()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(Value::String(s.clone()).to_string()),
        Value::Array(a) if a.is_empty() => Some("[]".into()),
        Value::Object(o) if o.is_empty() => Some("{}".into()),
        _ => None,
    }
}

/// A mapping key: bare when it is a plain identifier YAML cannot read as anything else
/// (`apiVersion`, `app.kubernetes.io/name`), quoted otherwise.
fn key(k: &str) -> String {
    let plain = k.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./-".contains(c))
        && !matches!(
            k.to_ascii_lowercase().as_str(),
            "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null"
        );
    if plain {
        k.to_string()
    } else {
        Value::String(k.to_string()).to_string()
    }
}

fn pad(out: &mut String, indent: usize) {
    for _ in 0..indent {
        out.push(' ');
    }
}

/// Write `v` at `indent`; `inline` when the caller already wrote `- ` on this line.
fn write_value(out: &mut String, v: &Value, indent: usize, inline: bool) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (i, (k, val)) in map.iter().enumerate() {
                if !(inline && i == 0) {
                    pad(out, indent);
                }
                out.push_str(&key(k));
                out.push(':');
                match scalar(val) {
                    Some(s) => {
                        out.push(' ');
                        out.push_str(&s);
                        out.push('\n');
                    }
                    None => {
                        out.push('\n');
                        write_value(out, val, indent + 2, false);
                    }
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                pad(out, indent);
                out.push_str("- ");
                match scalar(item) {
                    Some(s) => {
                        out.push_str(&s);
                        out.push('\n');
                    }
                    None => write_value(out, item, indent + 2, true),
                }
            }
        }
        other => {
            if !inline {
                pad(out, indent);
            }
            out.push_str(&scalar(other).unwrap_or_default());
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn block_style_with_quoted_strings() {
        let v = json!({
            "a": 1,
            "b": "no",
            "c": [ "x", {"d": true, "e": [1, 2]}, [] ],
            "f": {},
            "g": {"h": "line\nbreak: \"q\""},
            "no": 1,
            "z.io/name": "x",
        });
        assert_eq!(
            to_yaml(&v),
            "a: 1\nb: \"no\"\nc:\n  - \"x\"\n  - d: true\n    e:\n      - 1\n      - 2\n  - []\nf: {}\ng:\n  h: \"line\\nbreak: \\\"q\\\"\"\n\"no\": 1\nz.io/name: \"x\"\n"
        );
    }
}
