//! numpy's `linalg.norm`: vector norms along one axis, matrix norms over two, as tree
//! reductions; the spectral and nuclear norms from the singular values (TSQR).

use crate::array::Array;
use crate::dtype::Float;
use crate::error::{ArrayError, Result};
use crate::reduce::{ReduceOpts, normalize_axes};

/// numpy's `ord` argument of `norm` (`None` is the 2-norm of vectors and Frobenius of
/// matrices).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NormOrd {
    /// `'fro'`: the square root of the sum of squares (matrices).
    Fro,
    /// `'nuc'`: the sum of the singular values (matrices).
    Nuc,
    /// `inf`: the largest absolute value (vectors) or row sum (matrices).
    Inf,
    /// `-inf`: the smallest absolute value (vectors) or row sum (matrices).
    NegInf,
    /// A number: `sum(|x|^p)^(1/p)` for vectors (`0` counts non-zeros); for matrices `1`/`-1`
    /// (largest/smallest column sum) and `2`/`-2` (largest/smallest singular value).
    P(f64),
}

/// numpy's `linalg.norm(x, ord, axis, keepdims)`, computed in `f64`.
///
/// `axis` is `None` (every axis: a vector norm of a 1-D array, a matrix norm of a 2-D one, the
/// 2-norm of all elements when `ord` is `None`), one axis (a vector norm) or two (a matrix
/// norm).
///
/// ```
/// use brisk_array::linalg::{NormOrd, norm};
/// use brisk_core::Collection;
/// # brisk_local::LocalScheduler::threaded();
/// let x = brisk_array::from_array(&ndarray::array![[3.0, -4.0], [0.0, 0.0]], 1)?;
/// assert_eq!(norm(&x, None, None, false)?.compute()?[[]], 5.0);
/// assert_eq!(norm(&x, Some(NormOrd::Inf), None, false)?.compute()?[[]], 7.0);
/// let rows = norm(&x, Some(NormOrd::P(1.0)), Some(&[1]), false)?.compute()?;
/// assert_eq!(rows.iter().copied().collect::<Vec<_>>(), [7.0, 0.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn norm<T: Float>(
    x: &Array<T>,
    ord: Option<NormOrd>,
    axis: Option<&[isize]>,
    keepdims: bool,
) -> Result<Array<f64>> {
    x.meta.check()?;
    let x = x.astype::<f64>();
    let nd = x.ndim() as isize;
    let axes: Vec<isize> = match axis {
        Some(a) => a.to_vec(),
        None if ord.is_none() => (0..nd).collect(),
        None if nd == 1 || nd == 2 => (0..nd).collect(),
        None => {
            return Err(ArrayError::invalid(
                "axis",
                format!("norm with an ord needs a 1-D or 2-D array or axes, got {nd} axes"),
            ));
        }
    };
    let ax = normalize_axes("norm", &axes, x.ndim())?;
    let opts = |a: &[usize]| ReduceOpts::axes(a.iter().map(|&v| v as isize)).keepdims(keepdims);
    let kept = |a: &[usize]| ReduceOpts::axes(a.iter().map(|&v| v as isize)).keepdims(true);
    let bad =
        |kind: &str| ArrayError::invalid("ord", format!("{ord:?} is not a norm order for {kind}"));
    if ord.is_none() && axis.is_none() || ord.is_none() && ax.len() == 1 {
        return (&x * &x).sum_with(&opts(&ax)).map(|s| s.sqrt());
    }
    match ax.len() {
        1 => {
            let abs = x.abs();
            match ord {
                None | Some(NormOrd::P(2.0)) => (&x * &x).sum_with(&opts(&ax)).map(|s| s.sqrt()),
                Some(NormOrd::Inf) => abs.max_with(&opts(&ax)),
                Some(NormOrd::NegInf) => abs.min_with(&opts(&ax)),
                Some(NormOrd::P(0.0)) => x.not_equal(0.0).astype::<f64>().sum_with(&opts(&ax)),
                Some(NormOrd::P(1.0)) => abs.sum_with(&opts(&ax)),
                Some(NormOrd::P(p)) if p.is_finite() => {
                    Ok(abs.pow(p).sum_with(&opts(&ax))?.pow(1.0 / p))
                }
                _ => Err(bad("vectors")),
            }
        }
        2 => {
            let (r, c) = (ax[0], ax[1]);
            let (r, c) = match axis {
                // The caller's order decides which axis holds rows.
                Some(a) if normalize_axes("norm", &a[..1], x.ndim())?[0] != r => (c, r),
                _ => (r, c),
            };
            let abs = x.abs();
            let two_step = |first: usize, then: usize, max: bool| -> Result<Array<f64>> {
                let s = abs.sum_with(&kept(&[first]))?;
                let m = if max {
                    s.max_with(&kept(&[then]))?
                } else {
                    s.min_with(&kept(&[then]))?
                };
                if keepdims {
                    Ok(m)
                } else {
                    m.squeeze(&[r.min(c) as isize, r.max(c) as isize])
                }
            };
            match ord {
                None | Some(NormOrd::Fro) => (&x * &x).sum_with(&opts(&ax)).map(|s| s.sqrt()),
                Some(NormOrd::Inf) => two_step(c, r, true),
                Some(NormOrd::NegInf) => two_step(c, r, false),
                Some(NormOrd::P(1.0)) => two_step(r, c, true),
                Some(NormOrd::P(-1.0)) => two_step(r, c, false),
                Some(o @ (NormOrd::P(2.0) | NormOrd::P(-2.0) | NormOrd::Nuc)) => {
                    if x.ndim() != 2 {
                        return Err(ArrayError::invalid(
                            "ord",
                            format!("{o:?} norms are computed for 2-D arrays only"),
                        ));
                    }
                    let m = if (r, c) == (1, 0) { x.t() } else { x.clone() };
                    let s = super::solve::singular_values(&m)?;
                    let v = match o {
                        NormOrd::P(2.0) => s.max_with(&ReduceOpts::new())?,
                        NormOrd::P(_) => s.min_with(&ReduceOpts::new())?,
                        _ => s.sum_with(&ReduceOpts::new())?,
                    };
                    if keepdims { v.reshape(&[1, 1]) } else { Ok(v) }
                }
                _ => Err(bad("matrices")),
            }
        }
        n => Err(ArrayError::invalid(
            "axis",
            format!("norm takes one axis (vectors) or two (matrices), got {n}"),
        )),
    }
}
