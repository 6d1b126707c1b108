//! Chunks of unknown size (after a boolean mask) in elementwise operations: arrays whose unknown
//! chunks provably line up (the same mask of the same chunking) combine; any other pair is
//! refused when the graph is built, naming both arrays and the way out.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use brisk_array::{self as da, ArrayError};
use brisk_core::Collection;

fn setup() {
    let _ = brisk_local::LocalScheduler::threaded();
}

/// `a[m]` in C order, the reference.
fn masked(a: &ndarray::ArrayD<f64>, m: &ndarray::ArrayD<bool>) -> Vec<f64> {
    a.iter()
        .zip(m.iter())
        .filter(|(_, k)| **k)
        .map(|(v, _)| *v)
        .collect()
}

#[test]
fn the_same_mask_lines_up() {
    setup();
    let rs = da::RandomState::new(5);
    let x = rs.random([40, 6], [7, 4]).unwrap();
    let z = rs.normal(0.0, 1.0, [40, 6], [7, 4]).unwrap();
    let m = x.gt(0.4);
    let (xn, zn, mn) = (
        x.compute().unwrap(),
        z.compute().unwrap(),
        m.compute().unwrap(),
    );
    let (xs, zs) = (masked(&xn, &mn), masked(&zn, &mn));

    // x[m] + x[m]: two mask operations, one mask, one chunking.
    let a = &x.mask(&m).unwrap() + &x.mask(&m).unwrap();
    assert!(a.error().is_none(), "{:?}", a.error());
    let want: Vec<f64> = xs.iter().map(|v| v + v).collect();
    assert_eq!(a.compute().unwrap().into_raw_vec_and_offset().0, want);

    // y = x[m]; y * 2 + y: an expression of y lines up with y.
    let y = x.mask(&m).unwrap();
    let b = &(&y * 2.0) + &y;
    let want: Vec<f64> = xs.iter().map(|v| v * 2.0 + v).collect();
    assert_eq!(b.compute().unwrap().into_raw_vec_and_offset().0, want);
    let got = (&b - &y).sum().compute().unwrap();
    let expect = want.iter().zip(&xs).map(|(b, y)| b - y).sum::<f64>();
    assert!(
        (got - expect).abs() <= 1e-12 * expect.abs(),
        "{got} vs {expect}"
    );

    // x[m] * z[m]: another array of the same chunking under the same mask.
    let c = &y * &z.mask(&m).unwrap();
    let want: Vec<f64> = xs.iter().zip(&zs).map(|(a, b)| a * b).collect();
    assert_eq!(c.compute().unwrap().into_raw_vec_and_offset().0, want);
}

#[test]
fn different_unknown_chunks_are_refused_at_graph_build_time() {
    setup();
    let rs = da::RandomState::new(6);
    let x = rs.random([30], 10).unwrap();
    // Same number of chunks (3), different masks: the sizes may differ.
    let a = x.mask(&x.gt(0.5)).unwrap();
    let b = x.mask(&x.lt(0.2)).unwrap();
    let s = &a + &b;
    let err = s.error().cloned().expect("refused when built");
    match &err {
        ArrayError::UnknownChunksMismatch {
            op,
            axis,
            left,
            right,
        } => {
            assert_eq!((*op, *axis), ("add", 0));
            assert_eq!(left, a.name());
            assert_eq!(right, b.name());
        }
        other => panic!("unexpected error {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains(a.name()) && msg.contains(b.name()) && msg.contains("compute_chunk_sizes()"),
        "{msg}"
    );
    // The refusal travels through later operations and is what compute reports.
    let e = (&s * 2.0).sum().compute().unwrap_err().to_string();
    assert!(e.contains("compute_chunk_sizes()"), "{e}");

    // The same mask over a different chunking: refused too.
    let x2 = x.rechunk(15).unwrap();
    let m = x.gt(0.5);
    let c = &x.mask(&m).unwrap() + &x2.mask(&m.rechunk(15).unwrap()).unwrap();
    assert!(matches!(
        c.error(),
        Some(ArrayError::UnknownChunksMismatch { .. })
    ));

    // The way out: known sizes combine as usual (here they differ, so the shapes do not
    // broadcast, which is now a clear error about shapes).
    let (ak, bk) = (
        a.compute_chunk_sizes().unwrap(),
        b.compute_chunk_sizes().unwrap(),
    );
    let d = &ak + &bk;
    let an = ak.compute().unwrap();
    let bn = bk.compute().unwrap();
    if an.len() == bn.len() {
        let want: Vec<f64> = an.iter().zip(bn.iter()).map(|(p, q)| p + q).collect();
        assert_eq!(d.compute().unwrap().into_raw_vec_and_offset().0, want);
    } else {
        assert!(matches!(d.error(), Some(ArrayError::Broadcast { .. })));
    }
    // A masked array with its sizes computed lines up with its own unknown-size version only
    // after both are known.
    let e = &ak + &a;
    assert!(e.error().is_some());
}
