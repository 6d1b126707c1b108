//! Bad input gives clear errors; results never depend on the chunking.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use brisk_array::{self as da, ArrayError, Idx, ReduceOpts};
use std::sync::Arc;

use brisk_core::Collection;
use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;

fn setup() {
    let _ = brisk_local::LocalScheduler::threaded();
}

#[test]
fn shapes_that_do_not_broadcast_are_named() {
    setup();
    let a = da::ones::<f64>([3, 4], 2).unwrap();
    let b = da::ones::<f64>([5], 2).unwrap();
    let c = &a + &b;
    let msg = c.error().expect("refused").to_string();
    assert!(msg.contains("(3, 4)") && msg.contains("(5,)"), "{msg}");
    // The error travels through later operations and is reported when computing.
    let d = (&c * 2.0).sum();
    let e = d.compute().unwrap_err().to_string();
    assert!(e.contains("could not be broadcast"), "{e}");
    assert!(c.check().is_err());
}

#[test]
fn bad_axes_chunks_and_indices_are_errors() {
    setup();
    let a = da::ones::<f64>([3, 4], 2).unwrap();
    let e = a.sum_axis(2).unwrap_err();
    assert!(
        matches!(
            e,
            ArrayError::AxisOutOfRange {
                axis: 2,
                ndim: 2,
                ..
            }
        ),
        "{e}"
    );
    assert!(a.mean_with(&ReduceOpts::axes([0, -2])).is_err());
    let e = a.argmax_with(&ReduceOpts::axes([0, 1]).keepdims(false));
    assert!(e.is_ok());
    let e = da::from_array(&ArrayD::<f64>::zeros(IxDyn(&[7])), vec![vec![3, 3]]).unwrap_err();
    assert!(e.to_string().contains("add up to 6"), "{e}");
    assert!(da::arange(10, 0usize).is_err());
    assert!(da::arange(1.5, 2).is_err());
    assert!(
        a.slice(&[Idx::Index(3)])
            .unwrap_err()
            .to_string()
            .contains("out of bounds")
    );
    assert!(a.slice(&[Idx::all(), Idx::all(), Idx::all()]).is_err());
    assert!(a.rechunk(vec![vec![1, 1], vec![4]]).is_err());
    assert!(da::concatenate::<f64>(&[], 0).is_err());
    let b = da::ones::<f64>([4, 4], 2).unwrap();
    assert!(
        da::concatenate(
            &[
                a.clone(),
                b.t().slice(&[Idx::all(), Idx::range(0, 3)]).unwrap()
            ],
            0
        )
        .is_err()
    );
    assert!(a.matmul(&a).is_err());
    let e = a.transpose(&[0, 0]).unwrap_err();
    assert!(e.to_string().contains("repeats"), "{e}");
    let e = da::ones::<f64>([0], 1)
        .unwrap()
        .min()
        .compute()
        .unwrap_err()
        .to_string();
    assert!(e.contains("zero-size array"), "{e}");
    let nan = da::full([4], f64::NAN, 2).unwrap();
    let e = nan.nanargmax().compute().unwrap_err().to_string();
    assert!(e.contains("All-NaN"), "{e}");
}

#[cfg(feature = "hdf5")]
#[test]
fn hdf5_round_trip_and_wrong_dtype() {
    setup();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.h5");
    let x = da::arange_with(0.0, 60.0, 1.0, 7).unwrap();
    let x2 = da::stack(&[x.clone(), &x * 2.0], 0).unwrap();
    da::io::hdf5::write(&x2, &p, "x").unwrap();
    let back = da::io::hdf5::read::<f64>(&p, "x", [2, 9]).unwrap();
    assert_eq!(back.compute().unwrap(), x2.compute().unwrap());
    let e = da::io::hdf5::read::<i64>(&p, "x", "auto").unwrap_err();
    assert!(e.to_string().contains("holds f64 values, not i64"), "{e}");
    assert!(da::io::hdf5::read::<f64>(&p, "nope", "auto").is_err());
    assert!(da::io::hdf5::read::<f64>(dir.path().join("missing.h5"), "x", "auto").is_err());
}

#[cfg(feature = "zarr")]
#[test]
fn zarr_round_trip_irregular_chunks_and_wrong_dtype() {
    setup();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.zarr");
    let x = da::RandomState::new(3)
        .integers(-5, 5, [13, 7], vec![vec![5, 3, 5], vec![7]])
        .unwrap();
    x.to_zarr(&p).unwrap();
    let back = da::io::zarr::read::<i64>(&p, [4, 3]).unwrap();
    assert_eq!(back.compute().unwrap(), x.compute().unwrap());
    let e = da::io::zarr::read::<f32>(&p, "auto").unwrap_err();
    assert!(e.to_string().contains("holds i64 values, not f32"), "{e}");
    assert!(da::io::zarr::read::<f32>(dir.path().join("missing"), "auto").is_err());
}

#[test]
fn store_hands_every_chunk_to_a_sink() {
    use std::sync::Mutex;
    setup();
    type Seen = Arc<Mutex<Vec<(Vec<usize>, usize)>>>;
    struct Collect(Seen);
    impl da::ChunkSink<f64> for Collect {
        fn write(
            &self,
            start: &[usize],
            c: &ArrayD<f64>,
        ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
            self.0.lock().unwrap().push((start.to_vec(), c.len()));
            Ok(())
        }
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    da::ones::<f64>([10, 6], [4, 3])
        .unwrap()
        .store(Collect(seen.clone()))
        .unwrap();
    let mut v = seen.lock().unwrap().clone();
    v.sort();
    assert_eq!(v.len(), 6);
    assert_eq!(v.iter().map(|x| x.1).sum::<usize>(), 60);
    assert_eq!(v[0], (vec![0, 0], 12));
}

fn chunks_for(len: usize, seed: u64) -> Vec<usize> {
    let mut v = Vec::new();
    let mut left = len;
    let mut s = seed;
    while left > 0 {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
        let n = 1 + (s >> 33) as usize % left;
        v.push(n);
        left -= n;
    }
    if v.is_empty() {
        v.push(0);
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn results_do_not_depend_on_chunking(m in 1usize..12, n in 1usize..10, s1 in any::<u64>(), s2 in any::<u64>(), seed in any::<u64>()) {
        setup();
        let c1 = vec![chunks_for(m, s1), chunks_for(n, s1 ^ 7)];
        let c2 = vec![chunks_for(m, s2), chunks_for(n, s2 ^ 7)];
        // Random values are a function of the seed and position only.
        let r1 = da::RandomState::new(seed).normal(0.0, 1.0, [m, n], c1.clone()).unwrap();
        let r2 = da::RandomState::new(seed).normal(0.0, 1.0, [m, n], c2.clone()).unwrap();
        let (a1, a2) = (r1.compute().unwrap(), r2.compute().unwrap());
        prop_assert_eq!(&a1, &a2);
        // So are generated ranges.
        let g = |c: usize| da::arange_with(-3.25, 40.0, 0.37, c).unwrap().compute().unwrap();
        prop_assert_eq!(g(1 + (s1 % 50) as usize), g(1 + (s2 % 50) as usize));
        let l = |c: usize| da::linspace(-1.0, 7.0, 97, c).unwrap().compute().unwrap();
        prop_assert_eq!(l(1 + (s1 % 30) as usize), l(1 + (s2 % 30) as usize));
        // Integer work is exact whatever the chunks.
        let i1 = da::from_array(&a1.mapv(|v| (v * 100.0) as i64), c1.clone()).unwrap();
        let i2 = da::from_array(&a1.mapv(|v| (v * 100.0) as i64), c2.clone()).unwrap();
        let f = |x: &da::Array<i64>| {
            let y = x * 3 - 7;
            (y.sum_axis(0).unwrap().compute().unwrap(),
             y.max_with(&ReduceOpts::axis(1).keepdims(true).split_every(2)).unwrap().compute().unwrap(),
             y.argmin().compute().unwrap(),
             x.t().slice(&[Idx::step(None, None, -2)]).unwrap().compute().unwrap())
        };
        prop_assert_eq!(f(&i1), f(&i2));
        // Float reductions agree to rounding.
        let m1 = r1.std_with(&ReduceOpts::axis(0)).unwrap().compute().unwrap();
        let m2 = r2.std_with(&ReduceOpts::axis(0).split_every(3)).unwrap().compute().unwrap();
        for (p, q) in m1.iter().zip(m2.iter()) {
            prop_assert!((p - q).abs() <= 1e-12 * p.abs().max(1.0));
        }
    }
}
