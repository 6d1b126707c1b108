//! The hot kernels run AVX-512, AVX2 or baseline code, chosen at run time: every path must give
//! bit-identical values. This file is its own test binary because it switches dispatch
//! process-wide.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use brisk_array::{self as da, ReduceOpts};
use brisk_core::Collection;
use ndarray::ArrayD;

/// Everything the dispatched kernels touch, computed once: generators (uniform, normal,
/// integers, int and float ranges, linspace), elementwise maps (scalar and array operands,
/// in place and not, comparisons, casts, unary math), sums, products, means, variances.
fn workload() -> Vec<ArrayD<f64>> {
    let rs = da::RandomState::new(7);
    let x = rs.random([123, 517], [50, 200]).unwrap();
    let z = rs.normal(1.0, 2.0, [123, 517], [61, 517]).unwrap();
    let k = rs.integers(-1000, 1000, [123, 517], [123, 100]).unwrap();
    let r = da::arange(10_007, 997).unwrap();
    let f = da::arange_with(0.5, 1000.0, 0.37, 333).unwrap();
    let l = da::linspace(-3.0, 7.0, 4099, 1000).unwrap();
    let m = x.mean_with(&ReduceOpts::axis(1).keepdims(true)).unwrap();
    let y = &(&x - &m) * &z + 3.0;
    let mut out: Vec<ArrayD<f64>> = vec![
        x.compute().unwrap(),
        z.compute().unwrap(),
        k.astype::<f64>().compute().unwrap(),
        r.astype::<f64>().compute().unwrap(),
        f.compute().unwrap(),
        l.compute().unwrap(),
        y.compute().unwrap(),
        y.sqrt().exp().compute().unwrap(),
        y.gt(&x).astype::<f64>().compute().unwrap(),
        y.sum_axis(0).unwrap().compute().unwrap(),
        y.var_axis(1).unwrap().compute().unwrap(),
        y.std_with(&ReduceOpts::axis(0).ddof(1.0))
            .unwrap()
            .compute()
            .unwrap(),
        y.nanmean_axis(1).unwrap().compute().unwrap(),
        (&x + 0.5).prod_axis(0).unwrap().compute().unwrap(),
        (&k * 3 - &k)
            .sum_axis(1)
            .unwrap()
            .astype::<f64>()
            .compute()
            .unwrap(),
    ];
    let scalars = [
        (&x - &m).sum().compute().unwrap(),
        y.mean().compute().unwrap(),
        y.var().compute().unwrap(),
        y.nansum().compute().unwrap(),
        (&r + 1).sum().compute().unwrap() as f64,
    ];
    out.push(ArrayD::from_shape_vec(vec![scalars.len()], scalars.to_vec()).unwrap());
    out
}

fn bits(a: &ArrayD<f64>) -> Vec<u64> {
    a.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn dispatched_and_baseline_kernels_agree_bit_for_bit() {
    let _ = brisk_local::LocalScheduler::threaded();
    assert!(da::set_cpu_dispatch(true));
    let target = da::cpu_dispatch_target();
    eprintln!("dispatch target on this CPU: {target}");
    let fast = workload();
    da::set_cpu_dispatch(false);
    assert_eq!(da::cpu_dispatch_target(), "baseline");
    let base = workload();
    da::set_cpu_dispatch(true);
    assert_eq!(fast.len(), base.len());
    for (i, (a, b)) in fast.iter().zip(&base).enumerate() {
        assert_eq!(a.shape(), b.shape(), "result {i}");
        assert_eq!(
            bits(a),
            bits(b),
            "result {i} differs between {target} and baseline"
        );
    }
}

#[test]
fn random_values_match_the_splitmix_definition() {
    // The vectorized unit-interval conversion equals `(h >> 11) as f64 * 2^-53`.
    let _ = brisk_local::LocalScheduler::threaded();
    let v = da::RandomState::new(3)
        .random([1000], 300)
        .unwrap()
        .compute()
        .unwrap();
    let stream = splitmix(splitmix(3, 0), u64::MAX);
    for (i, x) in v.iter().enumerate() {
        let h = splitmix(stream, i as u64);
        assert_eq!(
            x.to_bits(),
            ((h >> 11) as f64 / (1u64 << 53) as f64).to_bits()
        );
    }
}

fn splitmix(seed: u64, i: u64) -> u64 {
    let mut z = seed.wrapping_add(i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
