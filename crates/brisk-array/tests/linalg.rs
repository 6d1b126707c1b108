//! Linear algebra (faer inside the tasks) against numpy on random inputs and chunkings.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use brisk_array::linalg::{self, NormOrd};
use brisk_array::{self as da, AnyArray, Array, Element};
use brisk_core::Collection;
use common::{Lcg, any, assert_close, numpy, python, random_f64};
use ndarray::{ArrayD, Ix2};

fn c<T: Element>(a: &Array<T>) -> AnyArray {
    any(a.compute().unwrap_or_else(|e| panic!("compute {a}: {e}")))
}

struct Cases {
    exprs: Vec<(String, String)>,
    got: Vec<(String, AnyArray, f64)>,
}

impl Cases {
    fn new() -> Self {
        Cases {
            exprs: vec![],
            got: vec![],
        }
    }
    fn add(&mut self, name: &str, np: &str, got: AnyArray, rtol: f64) {
        let k = format!("{}:{name}", self.exprs.len());
        self.exprs.push((k.clone(), np.to_string()));
        self.got.push((k, got, rtol));
    }
    fn check(self, py: &str, inputs: &[(&str, AnyArray)]) {
        let want = numpy(py, inputs, &self.exprs);
        for (k, got, rtol) in &self.got {
            assert_close(k, got, &want[k], *rtol);
        }
    }
}

/// numpy's `ord` text, the ord, the axes, keepdims.
type NormCase = (&'static str, Option<NormOrd>, Option<Vec<isize>>, bool);

/// A random matrix made well conditioned by adding `n` to its diagonal.
fn well_conditioned(rng: &mut Lcg, n: usize) -> ArrayD<f64> {
    let mut a = random_f64(rng, &[n, n], false)
        .into_dimensionality::<Ix2>()
        .unwrap();
    for i in 0..n {
        a[[i, i]] += 10.0 * n as f64;
    }
    a.into_dyn()
}

#[test]
fn products_and_factorizations_match_numpy() {
    let _ = brisk_local::LocalScheduler::threaded();
    let Some(py) = python() else { return };
    let mut rng = Lcg(19);
    for trial in 0..4 {
        let (m, k, n) = (1 + rng.below(30), 1 + rng.below(20), 1 + rng.below(25));
        let a_nd = random_f64(&mut rng, &[m, k], false);
        let b_nd = random_f64(&mut rng, &[k, n], false);
        let a = da::from_array(&a_nd, rng.chunking(&[m, k])).unwrap();
        let b = da::from_array(&b_nd, rng.chunking(&[k, n])).unwrap();
        let sq = 2 + rng.below(12);
        let s_nd = well_conditioned(&mut rng, sq);
        let s = da::from_array(&s_nd, rng.chunking(&[sq, sq])).unwrap();
        let rhs_nd = random_f64(&mut rng, &[sq, 3], false);
        let rhs = da::from_array(&rhs_nd, rng.chunking(&[sq, 3])).unwrap();
        let v_nd = random_f64(&mut rng, &[sq], false);
        let v = da::from_array(&v_nd, rng.chunking(&[sq])).unwrap();
        let spd = s.t().matmul(&s).unwrap();
        let tall_m = 20 + rng.below(60);
        let tall_n = 1 + rng.below(6);
        let t_nd = random_f64(&mut rng, &[tall_m, tall_n], false);
        let t = da::from_array(&t_nd, rng.chunking(&[tall_m, tall_n])).unwrap();
        let y_nd = random_f64(&mut rng, &[tall_m], false);
        let y = da::from_array(&y_nd, rng.chunking(&[tall_m])).unwrap();
        eprintln!(
            "trial {trial}: a {:?} b {:?} s {:?} t {:?}",
            a.chunks(),
            b.chunks(),
            s.chunks(),
            t.chunks()
        );
        let mut k_ = Cases::new();
        k_.add("matmul", "a @ b", c(&a.matmul(&b).unwrap()), 1e-12);
        k_.add(
            "matmul_split2",
            "a @ b",
            c(&a.matmul_with(&b, 2).unwrap()),
            1e-12,
        );
        k_.add(
            "matmul_f32",
            "(a.astype(np.float32) @ b.astype(np.float32))",
            c(&a.astype::<f32>().matmul(&b.astype::<f32>()).unwrap()),
            1e-4,
        );
        k_.add(
            "tensordot",
            "np.tensordot(a, a, axes=([0], [0]))",
            c(&da::tensordot(&a, &a, &[0], &[0]).unwrap()),
            1e-12,
        );
        k_.add(
            "solve_mat",
            "np.linalg.solve(s, rhs)",
            c(&linalg::solve(&s, &rhs).unwrap()),
            1e-9,
        );
        k_.add(
            "solve_vec",
            "np.linalg.solve(s, v)",
            c(&linalg::solve(&s, &v).unwrap()),
            1e-9,
        );
        k_.add(
            "inv",
            "np.linalg.inv(s)",
            c(&linalg::inv(&s).unwrap()),
            1e-9,
        );
        k_.add(
            "cholesky",
            "np.linalg.cholesky(s.T @ s)",
            c(&linalg::cholesky(&spd).unwrap()),
            1e-9,
        );
        let (q, r) = linalg::qr(&linalg_tall(&t)).unwrap();
        k_.add(
            "qr_r",
            "(lambda r: r * np.sign(np.diag(r))[:, None])(np.linalg.qr(t)[1])",
            c(&r),
            1e-9,
        );
        k_.add("qr_qr", "t", c(&q.matmul(&r).unwrap()), 1e-9);
        let (u, sv, vt) = linalg::svd(&linalg_tall(&t)).unwrap();
        k_.add("svd_s", "np.linalg.svd(t, compute_uv=False)", c(&sv), 1e-9);
        let us = &u * &sv;
        k_.add("svd_usv", "t", c(&us.matmul(&vt).unwrap()), 1e-9);
        let fit = linalg::lstsq(&t, &y).unwrap();
        k_.add(
            "lstsq_x",
            "np.linalg.lstsq(t, y, rcond=None)[0]",
            c(&fit.x),
            1e-8,
        );
        k_.add(
            "lstsq_res",
            "np.linalg.lstsq(t, y, rcond=None)[1]",
            c(&fit.residuals),
            1e-8,
        );
        k_.add(
            "lstsq_rank",
            "np.int64(np.linalg.lstsq(t, y, rcond=None)[2])",
            any(ndarray::arr0(fit.rank.compute().unwrap()).into_dyn()),
            0.0,
        );
        k_.add(
            "lstsq_s",
            "np.linalg.lstsq(t, y, rcond=None)[3]",
            c(&fit.s),
            1e-9,
        );
        let fit2 = linalg::lstsq(
            &t,
            &t.slice(&[da::Idx::all(), da::Idx::range(0, 1)]).unwrap(),
        )
        .unwrap();
        k_.add(
            "lstsq_mat",
            "np.linalg.lstsq(t, t[:, 0:1], rcond=None)[0]",
            c(&fit2.x),
            1e-8,
        );
        // Norms: vectors, matrices, every ord, axes and keepdims.
        let norms: Vec<NormCase> = vec![
            ("None", None, None, false),
            ("'fro'", Some(NormOrd::Fro), None, false),
            ("'nuc'", Some(NormOrd::Nuc), None, false),
            ("np.inf", Some(NormOrd::Inf), None, false),
            ("-np.inf", Some(NormOrd::NegInf), None, true),
            ("1", Some(NormOrd::P(1.0)), None, false),
            ("-1", Some(NormOrd::P(-1.0)), None, false),
            ("2", Some(NormOrd::P(2.0)), None, true),
            ("-2", Some(NormOrd::P(-2.0)), None, false),
            ("None", None, Some(vec![1]), false),
            ("np.inf", Some(NormOrd::Inf), Some(vec![0]), true),
            ("-np.inf", Some(NormOrd::NegInf), Some(vec![-1]), false),
            ("0", Some(NormOrd::P(0.0)), Some(vec![1]), false),
            ("1", Some(NormOrd::P(1.0)), Some(vec![0]), false),
            ("3", Some(NormOrd::P(3.0)), Some(vec![1]), false),
            ("0.5", Some(NormOrd::P(0.5)), Some(vec![0]), true),
            ("1", Some(NormOrd::P(1.0)), Some(vec![1, 0]), false),
            ("np.inf", Some(NormOrd::Inf), Some(vec![1, 0]), true),
        ];
        for (ord, o, axis, keep) in norms {
            let ax = axis
                .as_ref()
                .map(|v| {
                    format!(
                        "({},)",
                        v.iter()
                            .map(|x| x.to_string())
                            .collect::<Vec<_>>()
                            .join(",")
                    )
                })
                .unwrap_or_else(|| "None".into());
            k_.add(
                &format!("norm_{ord}_{ax}_{keep}"),
                &format!(
                    "np.linalg.norm(a, ord={ord}, axis={ax}, keepdims={})",
                    if keep { "True" } else { "False" }
                ),
                c(&linalg::norm(&a, o, axis.as_deref(), keep).unwrap()),
                1e-9,
            );
        }
        k_.add(
            "norm_vec",
            "np.linalg.norm(v, ord=3)",
            c(&linalg::norm(&v, Some(NormOrd::P(3.0)), None, false).unwrap()),
            1e-12,
        );
        k_.check(
            &py,
            &[
                ("a", any(a_nd)),
                ("b", any(b_nd)),
                ("s", any(s_nd)),
                ("rhs", any(rhs_nd)),
                ("v", any(v_nd)),
                ("t", any(t_nd)),
                ("y", any(y_nd)),
            ],
        );
    }
}

/// `t` with row chunks of at least its number of columns (what TSQR needs).
fn linalg_tall(t: &Array<f64>) -> Array<f64> {
    let n = t.shape()[1];
    let mut rows: Vec<usize> = Vec::new();
    let mut acc = 0;
    for &r in &t.chunks()[0] {
        acc += r;
        if acc >= n {
            rows.push(acc);
            acc = 0;
        }
    }
    if acc > 0 {
        *rows.last_mut().unwrap() += acc;
    }
    t.rechunk(vec![rows, vec![n]]).unwrap()
}

#[test]
fn randomized_svd_recovers_low_rank_matrices() {
    let _ = brisk_local::LocalScheduler::threaded();
    let Some(py) = python() else { return };
    let mut rng = Lcg(5);
    for trial in 0..3 {
        let (m, n, rank) = (40 + rng.below(40), 20 + rng.below(30), 2 + rng.below(4));
        let l_nd = random_f64(&mut rng, &[m, rank], false);
        let r_nd = random_f64(&mut rng, &[rank, n], false);
        let l = da::from_array(&l_nd, rng.chunking(&[m, rank])).unwrap();
        let r = da::from_array(&r_nd, rng.chunking(&[rank, n])).unwrap();
        let a = l
            .matmul(&r)
            .unwrap()
            .rechunk(rng.chunking(&[m, n]))
            .unwrap();
        eprintln!(
            "trial {trial}: {m}x{n} rank {rank}, chunks {:?}",
            a.chunks()
        );
        let k = rank + rng.below(3);
        let (u, s, vt) = linalg::svd_compressed(&a, k, trial, 42).unwrap();
        assert_eq!(u.shape(), &[m, k]);
        assert_eq!(vt.shape(), &[k, n]);
        let mut cases = Cases::new();
        cases.add(
            "s",
            &format!("np.linalg.svd(l @ r, compute_uv=False)[:{k}]"),
            c(&s),
            1e-8,
        );
        let back = (&u * &s).matmul(&vt).unwrap();
        cases.add("usv", "l @ r", c(&back), 1e-8);
        cases.add(
            "utu",
            &format!("np.eye({k})"),
            c(&u.t().matmul(&u).unwrap()),
            1e-8,
        );
        cases.check(&py, &[("l", any(l_nd)), ("r", any(r_nd))]);
    }
}

#[test]
fn linalg_errors_are_clear() {
    let _ = brisk_local::LocalScheduler::threaded();
    let a = da::ones::<f64>([4, 4], 2).unwrap();
    let e = linalg::solve(&a, &da::ones::<f64>([4], 2).unwrap())
        .unwrap()
        .compute()
        .unwrap_err()
        .to_string();
    assert!(e.contains("singular matrix"), "{e}");
    let e = linalg::inv(&a).unwrap().compute().unwrap_err().to_string();
    assert!(e.contains("singular matrix"), "{e}");
    let neg = &a * -1.0;
    let e = linalg::cholesky(&neg)
        .unwrap()
        .compute()
        .unwrap_err()
        .to_string();
    assert!(e.contains("not positive definite"), "{e}");
    let wide = da::ones::<f64>([3, 5], 2).unwrap();
    assert!(
        linalg::solve(&wide, &da::ones::<f64>([3], 2).unwrap())
            .unwrap_err()
            .to_string()
            .contains("square")
    );
    assert!(
        linalg::solve(&a, &da::ones::<f64>([5], 2).unwrap())
            .unwrap_err()
            .to_string()
            .contains("rows")
    );
    assert!(
        linalg::lstsq(&wide, &da::ones::<f64>([3], 2).unwrap())
            .unwrap_err()
            .to_string()
            .contains("at least as many rows")
    );
    assert!(
        linalg::svd_compressed(&wide, 4, 0, 1)
            .unwrap_err()
            .to_string()
            .contains("k")
    );
    assert!(
        linalg::norm(&a, Some(NormOrd::Fro), Some(&[0]), false)
            .unwrap_err()
            .to_string()
            .contains("ord")
    );
    assert!(linalg::norm(&a, None, Some(&[0, 1, 0]), false).is_err());
}
