//! Array graphs cross a process boundary: every task calls a named kernel and every literal
//! has an encoding, so `wire` can encode them; decoded graphs compute the same results.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use brisk_array::{self as da, Idx, ReduceOpts};
use brisk_core::{Collection, ComputeOptions, wire};

#[test]
fn array_graphs_encode_decode_and_compute_the_same() {
    let _ = brisk_local::LocalScheduler::threaded();
    let dir = tempfile::tempdir().unwrap();
    let npy = dir.path().join("x.npy");
    let x = da::RandomState::new(4)
        .normal(1.0, 2.0, [30, 20], [7, 6])
        .unwrap();
    x.to_npy(&npy).unwrap();
    let r = da::io::npy::read::<f64>(&npy, [10, 10]).unwrap();
    let m = r.mean_with(&ReduceOpts::axis(1).keepdims(true)).unwrap();
    let cases: Vec<da::Array<f64>> = vec![
        (&da::arange(1000, 97).unwrap() + 1)
            .astype::<f64>()
            .sum()
            .into_array(),
        &r - &m,
        r.slice(&[Idx::step(Some(3), None, 2), Idx::Index(-1)])
            .unwrap(),
        r.rechunk([30, 3]).unwrap().t().cumsum(0).unwrap(),
        r.matmul(&r.t()).unwrap(),
        r.mask(&r.gt(1.0)).unwrap(),
        da::concatenate(&[r.clone(), x.clone()], 0)
            .unwrap()
            .reshape(&[-1, 10])
            .unwrap(),
        r.std_with(&ReduceOpts::axis(0).ddof(1.0)).unwrap(),
        r.slice(&[Idx::all(), Idx::range(0, 10)])
            .unwrap()
            .rechunk([15, 10])
            .unwrap()
            .qr()
            .unwrap()
            .0,
    ];
    for a in &cases {
        let g = a.graph();
        let bytes = wire::encode_graph(&g).unwrap_or_else(|e| panic!("{a}: {e}"));
        let back = wire::decode_graph(&bytes).unwrap();
        let keys = a.output_keys();
        let vals = brisk_core::default_scheduler()
            .unwrap()
            .get(&back, &keys, &ComputeOptions::optimized())
            .unwrap();
        let got = a.finalize(vals).unwrap();
        assert_eq!(got, a.compute().unwrap(), "{a}");
    }
}
