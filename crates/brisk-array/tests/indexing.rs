//! Integer-array and per-axis boolean indexing, known and lazy, and chained masks on unknown
//! chunk sizes, against numpy on random data and chunkings.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use brisk_array::{self as da, AnyArray, Array, Element};
use brisk_core::Collection;
use common::{Lcg, any, assert_close, numpy, python, random_f64, random_i64};
use ndarray::Axis;

fn c<T: Element>(a: &Array<T>) -> AnyArray {
    any(a.compute().unwrap_or_else(|e| panic!("compute {a}: {e}")))
}

fn list<T: std::fmt::Display>(v: &[T]) -> String {
    format!(
        "[{}]",
        v.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn py_bools(v: &[bool]) -> String {
    format!(
        "np.array([{}], dtype=bool)",
        v.iter()
            .map(|&b| if b { "True" } else { "False" })
            .collect::<Vec<_>>()
            .join(", ")
    )
}

#[test]
fn take_compress_and_chained_masks_match_numpy() {
    let _ = brisk_local::LocalScheduler::threaded();
    let Some(py) = python() else { return };
    let mut rng = Lcg(23);
    for trial in 0..6 {
        let shape = [1 + rng.below(14), 1 + rng.below(9), 1 + rng.below(5)];
        let x_nd = random_f64(&mut rng, &shape, trial % 2 == 0);
        let x = da::from_array(&x_nd, rng.chunking(&shape)).unwrap();
        let mut exprs: Vec<(String, String)> = vec![];
        let mut got: Vec<(String, AnyArray)> = vec![];
        let mut add = |name: String, np: String, g: AnyArray| {
            exprs.push((name.clone(), np));
            got.push((name, g));
        };
        for (axis, &n) in shape.iter().enumerate() {
            let k = rng.below(3 * n + 1);
            // Unsorted, repeated and negative indices.
            let idx: Vec<i64> = (0..k)
                .map(|_| {
                    let i = rng.below(n) as i64;
                    if rng.below(3) == 0 { i - n as i64 } else { i }
                })
                .collect();
            let sel = format!("np.take(x, {}, axis={axis})", list(&idx));
            add(
                format!("take{axis}"),
                sel.clone(),
                c(&x.take(idx.clone(), axis as isize).unwrap()),
            );
            // The same indices as a lazy array, in random chunks.
            let ix = da::from_array(
                &ndarray::Array1::from(idx.clone()).into_dyn(),
                rng.chunking(&[idx.len()]),
            )
            .unwrap();
            add(
                format!("take_lazy{axis}"),
                sel,
                c(&x.take(&ix, axis as isize).unwrap()),
            );
            // Lazy indices of unknown chunk sizes: the non-negative ones.
            let nonneg = ix.mask(&ix.ge(0)).unwrap();
            add(
                format!("take_unknown{axis}"),
                format!(
                    "np.take(x, [i for i in {} if i >= 0], axis={axis})",
                    list(&idx)
                ),
                c(&x.take(&nonneg, axis as isize).unwrap()),
            );
            // Per-axis booleans, known and lazy.
            let keep: Vec<bool> = (0..n).map(|_| rng.below(2) == 0).collect();
            let np_keep = format!("np.compress({}, x, axis={axis})", py_bools(&keep));
            add(
                format!("compress{axis}"),
                np_keep.clone(),
                c(&x.compress(keep.clone(), axis as isize).unwrap()),
            );
            let mk = da::from_array(
                &ndarray::Array1::from(keep.clone()).into_dyn(),
                rng.chunking(&[n]),
            )
            .unwrap();
            let lazy = x.compress(&mk, axis as isize).unwrap();
            assert!(!lazy.has_known_chunks());
            add(format!("compress_lazy{axis}"), np_keep.clone(), c(&lazy));
            // Work on the unknown-size result without compute_chunk_sizes.
            add(
                format!("compress_lazy_sum{axis}"),
                format!("np.nansum({np_keep} * 2 + 1, axis={axis})"),
                c(&(&lazy * 2.0 + 1.0).nansum_axis(axis as isize).unwrap()),
            );
        }
        // Chained masks on unknown chunk sizes: y = x[x > 0]; y[y < 5]; and a mask from
        // another array masked the same way.
        let m = x.gt(0.0);
        let y = x.mask(&m).unwrap();
        let z = y.mask(&y.lt(5.0)).unwrap();
        add("chain".into(), "x[x > 0][x[x > 0] < 5]".into(), c(&z));
        let w = (&x * 3.0).mask(&m).unwrap();
        add(
            "chain_other".into(),
            "x[x > 0][(x * 3)[x > 0] > 9]".into(),
            c(&y.mask(&w.gt(9.0)).unwrap()),
        );
        add(
            "chain3_mean".into(),
            "np.asarray(x[x > 0][x[x > 0] < 5][x[x > 0][x[x > 0] < 5] > 1].sum())".into(),
            c(&z.mask(&z.gt(1.0)).unwrap().sum().into_array()),
        );
        let want = numpy(&py, &[("x", any(x_nd))], &exprs);
        for (k, g) in &got {
            assert_close(&format!("trial {trial} {k}"), g, &want[k], 1e-12);
        }
    }
}

#[test]
fn take_of_integers_and_errors() {
    let _ = brisk_local::LocalScheduler::threaded();
    let mut rng = Lcg(2);
    let x_nd = random_i64(&mut rng, &[7, 3]);
    let x = da::from_array(&x_nd, [3, 2]).unwrap();
    let got = x.take([6, 0, -7], 0).unwrap().compute().unwrap();
    assert_eq!(got.index_axis(Axis(0), 0), x_nd.index_axis(Axis(0), 6));
    assert_eq!(got.index_axis(Axis(0), 2), x_nd.index_axis(Axis(0), 0));
    let e = x.take([7], 0).unwrap_err().to_string();
    assert!(
        e.contains("index 7 is out of bounds for axis 0 with size 7"),
        "{e}"
    );
    let e = x.take([0], 2).unwrap_err().to_string();
    assert!(e.contains("axis 2"), "{e}");
    // A lazy index out of range fails its task, naming the index.
    let bad = da::from_array(&ndarray::arr1(&[1i64, 9]).into_dyn(), 1).unwrap();
    let e = x.take(&bad, 0).unwrap().compute().unwrap_err().to_string();
    assert!(e.contains("index 9 is out of bounds"), "{e}");
    let e = x.compress(vec![true; 5], 0).unwrap_err().to_string();
    assert!(e.contains("as long as the axis"), "{e}");
    // Unknown sizes from different masks do not line up.
    let y = x.mask(&x.gt(0)).unwrap();
    let other = x.mask(&x.lt(0)).unwrap();
    assert!(y.mask(&other.gt(0)).is_err());
    assert!(x.take([0, 1], 0).unwrap().take([1], 0).is_ok());
    let e = y.take([0], 0).unwrap_err().to_string();
    assert!(e.contains("compute_chunk_sizes"), "{e}");
}
