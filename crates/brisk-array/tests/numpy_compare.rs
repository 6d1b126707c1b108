//! Every operation against numpy on random data and random (regular and irregular) chunkings.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use brisk_array::{self as da, AnyArray, Array, Element, ReduceOpts};
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

#[test]
fn elementwise_and_reductions_match_numpy() {
    let _ = brisk_local::LocalScheduler::threaded();
    let Some(py) = python() else { return };
    let mut rng = Lcg(7);
    for trial in 0..5 {
        let m = 1 + rng.below(12);
        let n = 1 + rng.below(10);
        let a_nd = random_f64(&mut rng, &[m, n], true);
        let b_nd = random_f64(&mut rng, &[m, n], false);
        let v_nd = random_f64(&mut rng, &[n], false);
        let col_nd = random_f64(&mut rng, &[m, 1], false);
        let i_nd = random_i64(&mut rng, &[m, n]);
        let j_nd = random_i64(&mut rng, &[m, n]).mapv(|x| if x == 0 { 3 } else { x });
        let a = da::from_array(&a_nd, rng.chunking(&[m, n])).unwrap();
        let b = da::from_array(&b_nd, rng.chunking(&[m, n])).unwrap();
        let v = da::from_array(&v_nd, rng.chunking(&[n])).unwrap();
        let col = da::from_array(&col_nd, rng.chunking(&[m, 1])).unwrap();
        let i = da::from_array(&i_nd, rng.chunking(&[m, n])).unwrap();
        let j = da::from_array(&j_nd, rng.chunking(&[m, n])).unwrap();
        eprintln!(
            "trial {trial}: a {:?} b {:?} v {:?} col {:?}",
            a.chunks(),
            b.chunks(),
            v.chunks(),
            col.chunks()
        );
        let mut k = Cases {
            exprs: vec![],
            got: vec![],
        };
        // Arithmetic, broadcasting, scalars on both sides.
        k.add("add", "a + b", c(&(&a + &b)));
        k.add("sub_vec", "b - v", c(&(&b - &v)));
        k.add("mul_col", "b * col", c(&(&b * &col)));
        k.add("div", "b / (np.abs(a) + 1)", c(&(&b / (a.abs() + 1.0))));
        k.add("rsub", "2.5 - b", c(&(2.5 - &b)));
        k.add("mod", "b % 3.0", c(&(&b % 3.0)));
        k.add("neg_pow", "(-b) ** 2.0", c(&(-&b).pow(2.0)));
        k.add("max", "np.maximum(a, b)", c(&a.maximum(&b)));
        k.add("min_scalar", "np.minimum(b, 0.5)", c(&b.minimum(0.5)));
        k.add(
            "chain",
            "(b * 2 + v) / 3 - col",
            c(&((&b * 2.0 + &v) / 3.0 - &col)),
        );
        k.add("outer", "col + v", c(&(&col + &v)));
        // Integers: floor division, modulo, wrapping.
        k.add("idiv", "i // j", c(&(&i / &j)));
        k.add("imod", "i % j", c(&(&i % &j)));
        k.add("ipow", "i ** 3", c(&i.pow(3)));
        k.add("iabs", "np.abs(i) * 7 - 3", c(&(i.abs() * 7 - 3)));
        // Comparisons, masks, where, astype, clip, isnan.
        k.add("lt", "a < b", c(&a.lt(&b)));
        k.add("ge_scalar", "b >= 1.5", c(&b.ge(1.5)));
        k.add("eq", "i == j", c(&i.equal(&j)));
        k.add("isnan", "np.isnan(a)", c(&a.isnan()));
        k.add(
            "and",
            "(b > 0) & ~np.isnan(a)",
            c(&(b.gt(0.0) & !a.isnan())),
        );
        k.add(
            "where",
            "np.where(b > 0, b, v)",
            c(&da::where_(&b.gt(0.0), &b, &v)),
        );
        k.add("astype", "b.astype(np.int64)", c(&b.astype::<i64>()));
        k.add(
            "astype_f32",
            "(b * 3).astype(np.float32)",
            c(&(&b * 3.0).astype::<f32>()),
        );
        k.add("clip", "np.clip(b, -2, 3)", c(&b.clip(-2.0, 3.0)));
        // Math.
        k.add("sqrt", "np.sqrt(np.abs(b))", c(&b.abs().sqrt()));
        k.add("exp", "np.exp(b / 4)", c(&(&b / 4.0).exp()));
        k.add("log1p", "np.log1p(np.abs(b))", c(&b.abs().log1p()));
        k.add(
            "trig",
            "np.sin(b) * np.cos(v) + np.tanh(b)",
            c(&(b.sin() * v.cos() + b.tanh())),
        );
        k.add(
            "round",
            "np.round(b * 2) + np.floor(b) - np.ceil(b)",
            c(&((&b * 2.0).round() + b.floor() - b.ceil())),
        );
        // Reductions over every axis option, with keepdims and small split_every.
        let axes: Vec<(&str, ReduceOpts)> = vec![
            ("None", ReduceOpts::new().split_every(2)),
            ("0", ReduceOpts::axis(0).split_every(3)),
            ("1", ReduceOpts::axis(1)),
            ("-1", ReduceOpts::axis(-1).keepdims(true)),
            (
                "(0, 1)",
                ReduceOpts::axes([0, 1]).keepdims(true).split_every(4),
            ),
        ];
        for (ax, o) in &axes {
            let kd = if ax.contains("-1") || ax.contains("(0, 1)") {
                ", keepdims=True"
            } else {
                ""
            };
            let e = |f: &str, x: &str| format!("np.{f}({x}, axis={ax}{kd})");
            k.add(
                &format!("sum{ax}"),
                &e("sum", "b"),
                c(&b.sum_with(o).unwrap()),
            );
            k.add(
                &format!("isum{ax}"),
                &e("sum", "i"),
                c(&i.sum_with(o).unwrap()),
            );
            k.add(
                &format!("iprod{ax}"),
                &e("prod", "j % 3 + 1"),
                c(&(&j % 3 + 1).prod_with(o).unwrap()),
            );
            k.add(
                &format!("min{ax}"),
                &e("min", "a"),
                c(&a.min_with(o).unwrap()),
            );
            k.add(
                &format!("max{ax}"),
                &e("max", "i"),
                c(&i.max_with(o).unwrap()),
            );
            k.add(
                &format!("mean{ax}"),
                &e("mean", "b"),
                c(&b.mean_with(o).unwrap()),
            );
            k.add(
                &format!("imean{ax}"),
                &e("mean", "i"),
                c(&i.mean_with(o).unwrap()),
            );
            k.add(
                &format!("var{ax}"),
                &e("var", "b"),
                c(&b.var_with(o).unwrap()),
            );
            k.add(
                &format!("std1{ax}"),
                &format!("np.std(b, axis={ax}, ddof=1{kd})"),
                c(&b.std_with(&o.clone().ddof(1.0)).unwrap()),
            );
            k.add(
                &format!("nansum{ax}"),
                &e("nansum", "a"),
                c(&a.nansum_with(o).unwrap()),
            );
            k.add(
                &format!("nanmean{ax}"),
                &e("nanmean", "np.where(np.isnan(a), 1.0, a)"),
                c(&da::where_(&a.isnan(), 1.0, &a).nanmean_with(o).unwrap()),
            );
            k.add(
                &format!("nanmax{ax}"),
                &e("nanmax", "np.where(np.isnan(a), 1.0, a)"),
                c(&da::where_(&a.isnan(), 1.0, &a).nanmax_with(o).unwrap()),
            );
            k.add(
                &format!("any{ax}"),
                &e("any", "b > 8"),
                c(&b.gt(8.0).any_with(o).unwrap()),
            );
            k.add(
                &format!("all{ax}"),
                &e("all", "b > -9"),
                c(&b.gt(-9.0).all_with(o).unwrap()),
            );
        }
        for (ax, axis) in [
            ("None", None),
            ("0", Some(0)),
            ("1", Some(1)),
            ("-1", Some(-1)),
        ] {
            let (mn, mx, nmx) = match axis {
                None => (
                    b.argmin().into_array(),
                    i.argmax().into_array(),
                    a.nanargmax().into_array(),
                ),
                Some(x) => (
                    b.argmin_axis(x).unwrap(),
                    i.argmax_axis(x).unwrap(),
                    da::where_(&a.isnan(), -100.0, &a).argmax_axis(x).unwrap(),
                ),
            };
            k.add(
                &format!("argmin{ax}"),
                &format!("np.argmin(b, axis={ax})"),
                c(&mn),
            );
            k.add(
                &format!("argmax{ax}"),
                &format!("np.argmax(i, axis={ax})"),
                c(&mx),
            );
            let np = match axis {
                None => "np.nanargmax(a)".to_string(),
                Some(_) => format!("np.argmax(np.where(np.isnan(a), -100.0, a), axis={ax})"),
            };
            k.add(&format!("nanargmax{ax}"), &np, c(&nmx));
        }
        let inputs = [
            ("a", any(a_nd.clone())),
            ("b", any(b_nd.clone())),
            ("v", any(v_nd.clone())),
            ("col", any(col_nd.clone())),
            ("i", any(i_nd.clone())),
            ("j", any(j_nd.clone())),
        ];
        let want = numpy(&py, &inputs, &k.exprs);
        for (key, got, tol) in &k.got {
            assert_close(&format!("trial {trial} {key}"), got, &want[key], *tol);
        }
    }
}

#[test]
fn creation_matches_numpy() {
    let _ = brisk_local::LocalScheduler::threaded();
    let Some(py) = python() else { return };
    let mut k = Cases {
        exprs: vec![],
        got: vec![],
    };
    k.add("arange", "np.arange(17)", c(&da::arange(17, 5).unwrap()));
    k.add(
        "arange_f",
        "np.arange(0.5, 7.3, 0.7)",
        c(&da::arange_with(0.5, 7.3, 0.7, 3).unwrap()),
    );
    k.add(
        "arange_neg",
        "np.arange(20, -7, -3)",
        c(&da::arange_with(20i64, -7, -3, 4).unwrap()),
    );
    k.add(
        "linspace",
        "np.linspace(-1, 4, 23)",
        c(&da::linspace(-1.0, 4.0, 23, 5).unwrap()),
    );
    k.add(
        "linspace_open",
        "np.linspace(0, 1, 10, endpoint=False)",
        c(&da::linspace_with(0.0, 1.0, 10, false, 3).unwrap()),
    );
    k.add(
        "eye",
        "np.eye(7, dtype=np.int64)",
        c(&da::eye::<i64>(7, 3).unwrap()),
    );
    k.add(
        "eye_k",
        "np.eye(5, 8, k=2)",
        c(&da::eye_with::<f64>(5, 8, 2, [2, 3]).unwrap()),
    );
    k.add(
        "eye_km",
        "np.eye(6, 4, k=-1, dtype=np.float32)",
        c(&da::eye_with::<f32>(6, 4, -1, 4).unwrap()),
    );
    k.add(
        "full",
        "np.full((3, 4), 2.5)",
        c(&da::full([3, 4], 2.5, 2).unwrap()),
    );
    k.add(
        "ones",
        "np.ones((5,), dtype=np.int32).sum()",
        c(da::ones::<i32>([5], 2).unwrap().sum().as_array()),
    );
    k.add(
        "zeros",
        "np.zeros((2, 3, 4), dtype=np.uint8)",
        c(&da::zeros::<u8>([2, 3, 4], 2).unwrap()),
    );
    let want = numpy(&py, &[], &k.exprs);
    for (key, got, tol) in &k.got {
        assert_close(key, got, &want[key], *tol);
    }
}

#[test]
fn shape_ops_and_matmul_match_numpy() {
    use da::Idx;
    let _ = brisk_local::LocalScheduler::threaded();
    let Some(py) = python() else { return };
    let mut rng = Lcg(99);
    for trial in 0..4 {
        let (m, n) = (2 + rng.below(11), 2 + rng.below(9));
        let b_nd = random_f64(&mut rng, &[m, n], false);
        let w_nd = random_f64(&mut rng, &[n, 5], false);
        let b = da::from_array(&b_nd, rng.chunking(&[m, n])).unwrap();
        let w = da::from_array(&w_nd, rng.chunking(&[n, 5])).unwrap();
        let lo = rng.below(m) as isize;
        let st = 1 + rng.below(3) as isize;
        let mut k = Cases {
            exprs: vec![],
            got: vec![],
        };
        k.add(
            "slice",
            &format!("b[{lo}:, ::{st}]"),
            c(
                &b.slice(&[Idx::step(Some(lo), None, 1), Idx::step(None, None, st)])
                    .unwrap(),
            ),
        );
        k.add(
            "rev",
            &format!("b[::-{st}, -1]"),
            c(&b.slice(&[Idx::step(None, None, -st), Idx::Index(-1)])
                .unwrap()),
        );
        k.add(
            "newaxis",
            "b[None, 1:-1, ::-1]",
            c(&b.slice(&[
                Idx::NewAxis,
                Idx::step(Some(1), Some(-1), 1),
                Idx::step(None, None, -1),
            ])
            .unwrap()),
        );
        k.add("index", "b[0]", c(&b.slice(&[Idx::Index(0)]).unwrap()));
        k.add("t", "b.T", c(&b.t()));
        k.add("t_expr", "(b.T * 2 + 1)", c(&(b.t() * 2.0 + 1.0)));
        k.add(
            "concat0",
            "np.concatenate([b, b * 2], axis=0)",
            c(&da::concatenate(&[b.clone(), &b * 2.0], 0).unwrap()),
        );
        k.add(
            "concat1",
            "np.concatenate([b, b], axis=1)",
            c(&da::concatenate(&[b.clone(), b.clone()], -1).unwrap()),
        );
        k.add(
            "stack",
            "np.stack([b, b + 1], axis=1)",
            c(&da::stack(&[b.clone(), &b + 1.0], 1).unwrap()),
        );
        k.add(
            "expand",
            "np.expand_dims(b, 0)",
            c(&b.expand_dims(0).unwrap()),
        );
        k.add(
            "squeeze",
            "np.squeeze(b[None, :, None], axis=(0, 2))",
            c(&b.expand_dims(0)
                .unwrap()
                .expand_dims(2)
                .unwrap()
                .squeeze(&[0, 2])
                .unwrap()),
        );
        k.add(
            "rechunk",
            "b",
            c(&b.rechunk(rng.chunking(&[m, n])).unwrap()),
        );
        k.add_tol("matmul", "b @ w", c(&b.matmul(&w).unwrap()), 1e-10);
        k.add_tol(
            "matmul_sum",
            "(b @ w).sum(axis=0)",
            c(&b.matmul(&w).unwrap().sum_axis(0).unwrap()),
            1e-10,
        );
        let inputs = [("b", any(b_nd.clone())), ("w", any(w_nd.clone()))];
        let want = numpy(&py, &inputs, &k.exprs);
        for (key, got, tol) in &k.got {
            assert_close(&format!("trial {trial} {key}"), got, &want[key], *tol);
        }
    }
}

#[test]
fn scans_stencils_blocks_and_npy_match_numpy() {
    use da::Boundary;
    let _ = brisk_local::LocalScheduler::threaded();
    let Some(py) = python() else { return };
    let mut rng = Lcg(5);
    let dir = tempfile::tempdir().unwrap();
    for trial in 0..3 {
        let (m, n) = (3 + rng.below(10), 2 + rng.below(8));
        let b_nd = random_f64(&mut rng, &[m, n], false);
        let i_nd = random_i64(&mut rng, &[m, n]).mapv(|v| v % 3);
        let b = da::from_array(&b_nd, rng.chunking(&[m, n])).unwrap();
        let i = da::from_array(&i_nd.mapv(|v| v as i32), rng.chunking(&[m, n])).unwrap();
        let mut k = Cases {
            exprs: vec![],
            got: vec![],
        };
        k.add("cumsum0", "np.cumsum(b, axis=0)", c(&b.cumsum(0).unwrap()));
        k.add(
            "cumsum1",
            "np.cumsum(i.astype(np.int32), axis=1)",
            c(&i.cumsum(-1).unwrap()),
        );
        k.add(
            "cumprod",
            "np.cumprod(i.astype(np.int32) + 1, axis=0)",
            c(&(&i + 1).cumprod(0).unwrap()),
        );
        let stencil = |e: &ndarray::ArrayD<f64>| {
            let mut out = e.clone();
            let rows = e.shape()[0];
            for r in 0..rows {
                let mut row = out.index_axis_mut(ndarray::Axis(0), r);
                row.fill(0.0);
                for dr in [-1isize, 0, 1] {
                    let rr = r as isize + dr;
                    if rr >= 0 && (rr as usize) < rows {
                        row += &e.index_axis(ndarray::Axis(0), rr as usize);
                    }
                }
            }
            out
        };
        for (mode, bd) in [
            ("wrap", Boundary::Periodic),
            ("symmetric", Boundary::Reflect),
            ("constant", Boundary::Constant(0.0)),
        ] {
            k.add(
                &format!("overlap-{mode}"),
                &format!("(lambda p: p[:-2] + p[1:-1] + p[2:])(np.pad(b, ((1, 1), (0, 0)), mode='{mode}'))"),
                c(&b.map_overlap(&[1, 0], bd, stencil).unwrap()),
            );
        }
        k.add(
            "map_blocks",
            "b * 2 - 1",
            c(&b.map_blocks(|x| x.mapv(|v| v * 2.0 - 1.0)).unwrap()),
        );
        k.add(
            "blockwise",
            "b * b + 1",
            c(&da::blockwise(&[&b, &(&b + 1.0)], |xs| xs[0] * xs[1] - xs[0] + 1.0).unwrap()),
        );
        // .npy both ways.
        let ours = dir.path().join(format!("ours{trial}.npy"));
        da::io::npy::write(&(&b * 3.0), &ours).unwrap();
        k.add(
            "npy_ours",
            &format!("np.load({:?})", ours.display().to_string()),
            any(b_nd.mapv(|v| v * 3.0)),
        );
        let theirs = dir.path().join(format!("theirs{trial}.npy"));
        let _ = numpy(
            &py,
            &[("b", any(b_nd.clone()))],
            &[(
                "save".into(),
                format!(
                    "np.save({:?}, b[:, ::-1].astype(np.float32)) or 0",
                    theirs.display().to_string()
                ),
            )],
        );
        let back = da::io::npy::read::<f32>(&theirs, rng.chunking(&[m, n])).unwrap();
        k.add("npy_theirs", "b[:, ::-1].astype(np.float32)", c(&back));
        let inputs = [
            ("b", any(b_nd.clone())),
            ("i", any(i_nd.mapv(|v| v as i32))),
        ];
        let want = numpy(&py, &inputs, &k.exprs);
        for (key, got, tol) in &k.got {
            assert_close(&format!("trial {trial} {key}"), got, &want[key], *tol);
        }
        assert!(
            da::io::npy::read::<f64>(&theirs, 2)
                .unwrap_err()
                .to_string()
                .contains("holds f32")
        );
    }
}

#[test]
fn masks_reshape_and_tsqr_match_numpy() {
    let _ = brisk_local::LocalScheduler::threaded();
    let Some(py) = python() else { return };
    let mut rng = Lcg(11);
    for trial in 0..3 {
        let n = 2 + rng.below(4);
        let m = 2 * n + rng.below(8);
        let b_nd = random_f64(&mut rng, &[m, n], false);
        let b = da::from_array(&b_nd, rng.chunking(&[m, n])).unwrap();
        let mut k = Cases {
            exprs: vec![],
            got: vec![],
        };
        let masked = b.mask(&b.gt(0.0)).unwrap();
        assert!(!masked.has_known_chunks());
        assert!(masked.to_string().contains("shape=(nan,)"), "{masked}");
        k.add("mask", "b[b > 0]", c(&masked));
        k.add(
            "mask_then_ops",
            "(b[b > 0] * 2).sum()",
            c((&masked * 2.0).sum().as_array()),
        );
        let known = masked.compute_chunk_sizes().unwrap();
        assert!(known.has_known_chunks());
        k.add(
            "mask_known_slice",
            "b[b > 0][::2]",
            c(&known.slice(&[da::Idx::step(None, None, 2)]).unwrap()),
        );
        k.add(
            "reshape",
            &format!("b.reshape({n}, {m})"),
            c(&b.reshape(&[n as isize, m as isize]).unwrap()),
        );
        k.add(
            "reshape3",
            &format!("b.reshape(-1, {m}, 1)"),
            c(&b.reshape(&[-1, m as isize, 1]).unwrap()),
        );
        k.add("ravel", "b.ravel()", c(&b.ravel().unwrap()));
        let tall = da::from_array(&b_nd, vec![vec![m / 2, m - m / 2], vec![n]]).unwrap();
        let (q, r) = tall.qr().unwrap();
        k.add_tol(
            "qr_r",
            "(lambda r: r * np.sign(np.diag(r))[:, None])(np.linalg.qr(b)[1])",
            c(&r),
            1e-9,
        );
        k.add_tol("qr_qr", "b", c(&q.matmul(&r).unwrap()), 1e-9);
        k.add_tol(
            "qr_qtq",
            &format!("np.eye({n})"),
            c(&q.t().matmul(&q).unwrap()),
            1e-9,
        );
        let (u, s, vt) = tall.svd().unwrap();
        k.add_tol("svd_s", "np.linalg.svd(b, compute_uv=False)", c(&s), 1e-9);
        let us = &u * &s;
        k.add_tol("svd_usv", "b", c(&us.matmul(&vt).unwrap()), 1e-9);
        let inputs = [("b", any(b_nd.clone()))];
        let want = numpy(&py, &inputs, &k.exprs);
        for (key, got, tol) in &k.got {
            assert_close(&format!("trial {trial} {key}"), got, &want[key], *tol);
        }
        assert!(
            da::from_array(&b_nd, vec![vec![1; m], vec![n]])
                .unwrap()
                .qr()
                .is_err()
                || n <= 1
        );
        assert!(b.reshape(&[7, -1, -1]).is_err());
        assert!(b.reshape(&[(m * n + 1) as isize]).is_err());
    }
}
