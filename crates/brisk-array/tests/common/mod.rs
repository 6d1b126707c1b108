//! Test helpers: numpy as the reference (through BRISK_PYTHON), random chunkings, comparisons.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use brisk_array::{AnyArray, Element};
use ndarray::{ArrayD, IxDyn};
use serde_json::{Value as Json, json};

/// The Python interpreter with numpy, or `None` (after printing why) when the reference is
/// optional and missing. Fails when BRISK_REQUIRE_PYTHON=1 and it is missing.
pub fn python() -> Option<String> {
    let candidates = [
        std::env::var("BRISK_PYTHON").ok(),
        std::env::var("HOME")
            .ok()
            .map(|h| format!("{h}/.cache/brisk-test-venv/bin/python")),
    ];
    for c in candidates.into_iter().flatten() {
        let ok = Command::new(&c)
            .args(["-c", "import numpy"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            return Some(c);
        }
    }
    if std::env::var("BRISK_REQUIRE_PYTHON").as_deref() == Ok("1") {
        panic!(
            "numpy is required (BRISK_REQUIRE_PYTHON=1) but no interpreter with numpy was found; run `source .ci/python-venv.sh`"
        );
    }
    eprintln!(
        "note: skipping the numpy comparison: no Python with numpy (set BRISK_PYTHON or run `source .ci/python-venv.sh`)"
    );
    None
}

fn num_json(x: f64) -> Json {
    if x.is_finite() {
        json!(x)
    } else {
        json!(x.to_string())
    }
}

/// An array as `{dtype, shape, data}`.
pub fn to_json(a: &AnyArray) -> Json {
    let (dtype, data): (&str, Vec<Json>) = match a {
        AnyArray::Bool(x) => ("bool", x.iter().map(|v| json!(v)).collect()),
        AnyArray::U8(x) => ("uint8", x.iter().map(|v| json!(v)).collect()),
        AnyArray::I32(x) => ("int32", x.iter().map(|v| json!(v)).collect()),
        AnyArray::I64(x) => ("int64", x.iter().map(|v| json!(v)).collect()),
        AnyArray::U64(x) => ("uint64", x.iter().map(|v| json!(v)).collect()),
        AnyArray::F32(x) => (
            "float32",
            x.iter().map(|v| num_json(f64::from(*v))).collect(),
        ),
        AnyArray::F64(x) => ("float64", x.iter().map(|v| num_json(*v)).collect()),
    };
    json!({"dtype": dtype, "shape": a.shape(), "data": data})
}

const SCRIPT: &str = r#"
import json, sys
import numpy as np
req = json.load(sys.stdin)
def load(d):
    data = [float(v) if isinstance(v, str) else v for v in d["data"]]
    return np.array(data, dtype=d["dtype"]).reshape(d["shape"])
env = {"np": np}
for k, v in req["inputs"].items():
    env[k] = load(v)
def enc(v):
    if isinstance(v, float) and not np.isfinite(v):
        return str(v)
    return v
out = {}
for k, expr in req["exprs"].items():
    try:
        r = np.asarray(eval(expr, env))
        flat = [enc(v) for v in r.ravel().tolist()]
        out[k] = {"dtype": str(r.dtype), "shape": list(r.shape), "data": flat}
    except Exception as e:
        out[k] = {"error": f"{type(e).__name__}: {e}"}
json.dump(out, sys.stdout)
"#;

/// Evaluate numpy expressions over named inputs; returns each result (or its error) by name.
pub fn numpy(py: &str, inputs: &[(&str, AnyArray)], exprs: &[(String, String)]) -> Json {
    let req = json!({
        "inputs": inputs.iter().map(|(k, a)| (k.to_string(), to_json(a))).collect::<serde_json::Map<_, _>>(),
        "exprs": exprs.iter().map(|(k, e)| (k.clone(), json!(e))).collect::<serde_json::Map<_, _>>(),
    });
    let mut child = Command::new(py)
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(req.to_string().as_bytes())
        .expect("write request");
    let out = child.wait_with_output().expect("python finished");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python's JSON")
}

fn json_f64(v: &Json) -> f64 {
    match v {
        Json::String(s) => s.parse().unwrap_or(f64::NAN),
        Json::Bool(b) => f64::from(u8::from(*b)),
        other => other.as_f64().unwrap_or(f64::NAN),
    }
}

/// Compare a result with numpy's, elementwise, with a relative tolerance for floats.
pub fn assert_close(what: &str, got: &AnyArray, want: &Json, rtol: f64) {
    if let Some(e) = want.get("error") {
        panic!("{what}: numpy failed: {e}");
    }
    let shape: Vec<usize> = want["shape"]
        .as_array()
        .expect("shape")
        .iter()
        .map(|v| v.as_u64().expect("dim") as usize)
        .collect();
    assert_eq!(got.shape(), shape.as_slice(), "{what}: shape");
    let want_dtype = want["dtype"].as_str().unwrap_or("");
    assert_eq!(got.dtype().numpy_name(), want_dtype, "{what}: dtype");
    let data = want["data"].as_array().expect("data");
    let got_f: Vec<f64> = match got {
        AnyArray::Bool(x) => x.iter().map(|v| f64::from(u8::from(*v))).collect(),
        AnyArray::U8(x) => x.iter().map(|v| f64::from(*v)).collect(),
        AnyArray::I32(x) => x.iter().map(|v| f64::from(*v)).collect(),
        AnyArray::I64(x) => {
            // Exact for integers.
            for (i, (g, w)) in x.iter().zip(data).enumerate() {
                assert_eq!(Some(*g), w.as_i64(), "{what}: element {i}");
            }
            return;
        }
        AnyArray::U64(x) => {
            for (i, (g, w)) in x.iter().zip(data).enumerate() {
                assert_eq!(Some(*g), w.as_u64(), "{what}: element {i}");
            }
            return;
        }
        AnyArray::F32(x) => x.iter().map(|v| f64::from(*v)).collect(),
        AnyArray::F64(x) => x.iter().copied().collect(),
    };
    for (i, (g, w)) in got_f.iter().zip(data).enumerate() {
        let w = json_f64(w);
        let ok = (g.is_nan() && w.is_nan()) || g == &w || (g - w).abs() <= rtol * w.abs().max(1.0);
        assert!(ok, "{what}: element {i}: got {g}, numpy {w}");
    }
}

/// A small deterministic random source for test choices.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    /// Random chunk sizes for an axis of `dim`: regular or irregular.
    pub fn chunks(&mut self, dim: usize) -> Vec<usize> {
        if dim == 0 {
            return vec![0];
        }
        if self.below(2) == 0 {
            let n = 1 + self.below(dim);
            let mut v = vec![n; dim / n];
            if !dim.is_multiple_of(n) {
                v.push(dim % n);
            }
            v
        } else {
            let mut v = Vec::new();
            let mut left = dim;
            while left > 0 {
                let n = 1 + self.below(left.min(1 + dim / 2));
                v.push(n);
                left -= n;
            }
            v
        }
    }
    pub fn chunking(&mut self, shape: &[usize]) -> Vec<Vec<usize>> {
        shape.iter().map(|&d| self.chunks(d)).collect()
    }
}

/// Random floats in `[-10, 10)` with a few NaNs when `nans`.
pub fn random_f64(rng: &mut Lcg, shape: &[usize], nans: bool) -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(shape), |_| {
        if nans && rng.below(7) == 0 {
            f64::NAN
        } else {
            (rng.next() % 20000) as f64 / 1000.0 - 10.0
        }
    })
}

/// Random integers in `[-50, 50)`.
pub fn random_i64(rng: &mut Lcg, shape: &[usize]) -> ArrayD<i64> {
    ArrayD::from_shape_fn(IxDyn(shape), |_| (rng.next() % 100) as i64 - 50)
}

/// A computed array as `AnyArray`.
pub fn any<T: Element>(a: ArrayD<T>) -> AnyArray {
    T::into_any(a)
}
