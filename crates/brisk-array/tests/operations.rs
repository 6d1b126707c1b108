//! sort/argsort, unique, topk, median/quantile/percentile, einsum, histogram, diff,
//! nancumsum/nancumprod, isin, searchsorted against numpy on random cases and irregular
//! chunkings.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use brisk_array::{self as da, AnyArray, Array, Element};
use brisk_core::Collection;
use common::{Lcg, any, assert_close, numpy, python, random_f64, random_i64};

fn c<T: Element>(a: &Array<T>) -> AnyArray {
    any(a.compute().unwrap_or_else(|e| panic!("compute {a}: {e}")))
}

struct Cases {
    exprs: Vec<(String, String)>,
    got: Vec<(String, AnyArray, f64)>,
}

impl Cases {
    fn add(&mut self, name: &str, np: &str, got: AnyArray) {
        self.add_tol(name, np, got, 1e-12);
    }
    fn add_tol(&mut self, name: &str, np: &str, got: AnyArray, rtol: f64) {
        let k = format!("{}:{name}", self.exprs.len());
        self.exprs.push((k.clone(), np.to_string()));
        self.got.push((k, got, rtol));
    }
}

fn list(v: &[f64]) -> String {
    format!(
        "[{}]",
        v.iter()
            .map(|x| format!("{x:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

#[test]
fn operations_match_numpy() {
    let _ = brisk_local::LocalScheduler::threaded();
    let Some(py) = python() else { return };
    let mut rng = Lcg(41);
    for trial in 0..5 {
        let (m, n) = (1 + rng.below(20), 1 + rng.below(12));
        let nans = trial % 2 == 1;
        let a_nd = random_f64(&mut rng, &[m, n], nans);
        let i_nd = random_i64(&mut rng, &[m, n]);
        let vn = 3 + rng.below(40);
        let v_nd = random_f64(&mut rng, &[vn], false);
        let a = da::from_array(&a_nd, rng.chunking(&[m, n])).unwrap();
        let i = da::from_array(&i_nd, rng.chunking(&[m, n])).unwrap();
        let v = da::from_array(&v_nd, rng.chunking(v_nd.shape())).unwrap();
        eprintln!("trial {trial}: a {:?} i {:?}", a.chunks(), i.chunks());
        let mut k = Cases {
            exprs: vec![],
            got: vec![],
        };
        for axis in [0isize, 1, -1] {
            k.add(
                &format!("sort{axis}"),
                &format!("np.sort(a, axis={axis})"),
                c(&a.sort(axis).unwrap()),
            );
            k.add(
                &format!("isort{axis}"),
                &format!("np.sort(i, axis={axis})"),
                c(&i.sort(axis).unwrap()),
            );
            k.add(
                &format!("argsort{axis}"),
                &format!("np.argsort(a, axis={axis}, kind='stable')"),
                c(&a.argsort(axis).unwrap()),
            );
            k.add(
                &format!("iargsort{axis}"),
                &format!("np.argsort(i, axis={axis}, kind='stable')"),
                c(&i.argsort(axis).unwrap()),
            );
            k.add(
                &format!("median{axis}"),
                &format!("np.median(a, axis={axis})"),
                c(&a.median_axis(axis).unwrap()),
            );
            k.add(
                &format!("nanmedian{axis}"),
                &format!("np.nanmedian(a, axis={axis})"),
                c(&a.nanmedian_axis(axis).unwrap()),
            );
            k.add(
                &format!("imedian{axis}"),
                &format!("np.median(i, axis={axis})"),
                c(&i.median_axis(axis).unwrap()),
            );
            let q = [0.0, 0.1, 0.25, 0.5, 0.9, 1.0];
            k.add(
                &format!("quantile{axis}"),
                &format!("np.quantile(a, {}, axis={axis})", list(&q)),
                c(&a.quantile(&q, axis, false).unwrap()),
            );
            k.add(
                &format!("nanquantile{axis}"),
                &format!("np.nanquantile(a, {}, axis={axis})", list(&q)),
                c(&a.quantile(&q, axis, true).unwrap()),
            );
            k.add(
                &format!("ipercentile{axis}"),
                &format!("np.percentile(i, [5.0, 50.0, 99.5], axis={axis})"),
                c(&i.percentile(&[5.0, 50.0, 99.5], axis, false).unwrap()),
            );
            k.add(
                &format!("diff{axis}"),
                &format!("np.diff(a, 1, axis={axis})"),
                c(&a.diff(1, axis).unwrap()),
            );
            k.add(
                &format!("idiff2{axis}"),
                &format!("np.diff(i, 2, axis={axis})"),
                c(&i.diff(2, axis).unwrap()),
            );
            k.add_tol(
                &format!("nancumsum{axis}"),
                &format!("np.nancumsum(a, axis={axis})"),
                c(&a.nancumsum(axis).unwrap()),
                1e-9,
            );
            k.add_tol(
                &format!("nancumprod{axis}"),
                &format!("np.nancumprod(a / 10, axis={axis})"),
                c(&(&a / 10.0).nancumprod(axis).unwrap()),
                1e-9,
            );
            let kk = 1 + rng.below(if axis == 0 { m } else { n });
            k.add(
                &format!("topk{axis}"),
                &format!("-np.sort(-i, axis={axis}).take(range({kk}), axis={axis})"),
                c(&i.topk(kk as i64, axis).unwrap()),
            );
            k.add(
                &format!("bottomk{axis}"),
                &format!("np.sort(i, axis={axis}).take(range({kk}), axis={axis})"),
                c(&i.topk(-(kk as i64), axis).unwrap()),
            );
        }
        // unique with counts, floats (NaN counted once) and integers.
        let (uv, uc) = a.unique().unwrap();
        k.add("unique", "np.unique(a)", c(&uv));
        k.add(
            "unique_counts",
            "np.unique(a, return_counts=True, equal_nan=True)[1]",
            c(&uc),
        );
        let (iv, ic) = i.unique().unwrap();
        k.add("iunique", "np.unique(i)", c(&iv));
        k.add(
            "iunique_counts",
            "np.unique(i, return_counts=True)[1]",
            c(&ic),
        );
        k.add(
            "unique_weighted",
            "(lambda u, n: u * n)(*np.unique(i, return_counts=True))",
            c(&(&iv * &ic)),
        );
        // isin and searchsorted.
        let test: Vec<i64> = (0..1 + rng.below(20))
            .map(|_| rng.below(100) as i64 - 50)
            .collect();
        k.add(
            "isin",
            &format!("np.isin(i, {test:?})"),
            c(&i.isin(&test).unwrap()),
        );
        k.add(
            "isin_f",
            "np.isin(a, a[0])",
            c(&a.isin(
                &a_nd
                    .index_axis(ndarray::Axis(0), 0)
                    .iter()
                    .copied()
                    .collect::<Vec<_>>(),
            )
            .unwrap()),
        );
        let sorted = v.sort(0).unwrap();
        for right in [false, true] {
            let side = if right { "right" } else { "left" };
            k.add(
                &format!("searchsorted_{side}"),
                &format!("np.searchsorted(np.sort(v), a, side='{side}')"),
                c(&da::searchsorted(&sorted, &a, right).unwrap()),
            );
        }
        // histogram: fixed bins over a range, and explicit edges.
        let bins = 1 + rng.below(12);
        let (counts, edges) = da::histogram(&a, bins, (-7.5, 6.25)).unwrap();
        k.add(
            "hist",
            &format!("np.histogram(a[~np.isnan(a)], bins={bins}, range=(-7.5, 6.25))[0]"),
            c(&counts),
        );
        k.add(
            "hist_edges",
            &format!("np.histogram(a[~np.isnan(a)], bins={bins}, range=(-7.5, 6.25))[1]"),
            any(ndarray::Array1::from(edges).into_dyn()),
        );
        let e = vec![-10.0, -3.0, -2.5, 0.0, 4.0, 9.99];
        let (ec, _) = da::histogram_edges(&i, &e).unwrap();
        k.add(
            "hist_explicit",
            &format!("np.histogram(i, bins={})[0]", list(&e)),
            c(&ec),
        );
        // einsum: contractions, traces, transposes, outer products, three operands.
        let b_nd = random_f64(&mut rng, &[n, 4], false);
        let b = da::from_array(&b_nd, rng.chunking(&[n, 4])).unwrap();
        let sq_nd = random_f64(&mut rng, &[n, n], false);
        let sq = da::from_array(&sq_nd, rng.chunking(&[n, n])).unwrap();
        for (sub, ops) in [
            ("ij,jk->ik", vec![&a, &b]),
            ("ij,jk", vec![&a, &b]),
            ("ij->ji", vec![&a]),
            ("ij->", vec![&b]),
            ("ii", vec![&sq]),
            ("ii->i", vec![&sq]),
            ("ij,ij->i", vec![&sq, &sq]),
            ("ij,jk,kl->il", vec![&a, &sq, &b]),
            ("i,j->ij", vec![&v, &v]),
        ] {
            let names = ["a", "b", "sq", "v"];
            let np_ops: Vec<&str> = ops
                .iter()
                .map(|o| {
                    if std::ptr::eq(*o, &a) {
                        names[0]
                    } else if std::ptr::eq(*o, &b) {
                        names[1]
                    } else if std::ptr::eq(*o, &sq) {
                        names[2]
                    } else {
                        names[3]
                    }
                })
                .collect();
            k.add_tol(
                &format!("einsum {sub}"),
                &format!("np.einsum('{sub}', {})", np_ops.join(", ")),
                c(&da::einsum(sub, &ops).unwrap()),
                1e-9,
            );
        }
        let ii: Vec<&Array<i64>> = vec![&i, &i];
        k.add(
            "einsum_int",
            "np.einsum('ij,ij->j', i, i)",
            c(&da::einsum("ij,ij->j", &ii).unwrap()),
        );
        let want = numpy(
            &py,
            &[
                ("a", any(a_nd.clone())),
                ("i", any(i_nd.clone())),
                ("v", any(v_nd.clone())),
                ("b", any(b_nd)),
                ("sq", any(sq_nd)),
            ],
            &k.exprs,
        );
        for (key, got, rtol) in &k.got {
            assert_close(&format!("trial {trial} {key}"), got, &want[key], *rtol);
        }
    }
}

#[test]
fn operation_errors_are_named() {
    let _ = brisk_local::LocalScheduler::threaded();
    let a = da::ones::<f64>([4, 3], 2).unwrap();
    let msg = |r: Result<Array<f64>, da::ArrayError>| r.unwrap_err().to_string();
    assert!(msg(a.quantile(&[1.5], 0, false)).contains("q"));
    assert!(msg(a.percentile(&[-1.0], 0, false)).contains("q"));
    assert!(msg(a.sort(2)).contains("axis 2"));
    assert!(msg(a.topk(0, 0)).contains("k"));
    assert!(msg(da::einsum("ij,jk->ik", &[&a, &a])).contains("different lengths"));
    assert!(msg(da::einsum("ij->ik", &[&a])).contains("in no operand"));
    assert!(msg(da::einsum("i...", &[&a])).contains("not a letter"));
    assert!(msg(da::einsum("ijk", &[&a])).contains("3"));
    let e = da::histogram(&a, 0, (0.0, 1.0)).unwrap_err().to_string();
    assert!(e.contains("bins"), "{e}");
    let e = da::histogram(&a, 3, (1.0, f64::NAN))
        .unwrap_err()
        .to_string();
    assert!(e.contains("range"), "{e}");
    let e = da::histogram_edges(&a, &[0.0, 2.0, 1.0])
        .unwrap_err()
        .to_string();
    assert!(e.contains("monotonically"), "{e}");
    let e = da::searchsorted(&a, &a, false).unwrap_err().to_string();
    assert!(e.contains("1-D"), "{e}");
}
