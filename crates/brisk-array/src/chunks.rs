//! Chunk sizes per axis: normalizing what people write (`3e6`, `[1000, 500]`, `"auto"`,
//! explicit sizes), "auto" chunks from a byte target, and the common refinement of two
//! chunkings.

use crate::error::{ArrayError, Result};

/// The size of an axis (or a chunk) whose length is not known yet (after boolean indexing),
/// printed as `nan` like Dask.
pub const UNKNOWN: usize = usize::MAX;

/// The default byte target of one chunk for `"auto"` (Dask's `array.chunk-size`).
pub const DEFAULT_CHUNK_BYTES: usize = 128 << 20;

/// How to chunk one axis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AxisChunks {
    /// Chunks of this size (the last may be smaller).
    Size(usize),
    /// One chunk for the whole axis (Dask's `-1`).
    Full,
    /// Chosen so that chunks hold about the byte target.
    Auto,
    /// Exactly these sizes (they must add up to the axis length).
    Sizes(Vec<usize>),
}

/// How to chunk an array: what `chunks=` accepts in Dask.
///
/// ```
/// use brisk_array::ChunkSpec;
/// let _ = ChunkSpec::from(1000);          // every axis in chunks of 1000
/// let _ = ChunkSpec::from(3e6);           // numbers written as floats work when integral
/// let _ = ChunkSpec::from([100, 50]);     // per axis
/// let _ = ChunkSpec::from("auto");        // about 128 MiB per chunk
/// let _ = ChunkSpec::from(vec![vec![3, 3, 4]]); // explicit sizes
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum ChunkSpec {
    /// The same rule on every axis.
    All(AxisChunks),
    /// One rule per axis.
    PerAxis(Vec<AxisChunks>),
    /// "auto" with this byte target.
    Bytes(usize),
    /// A value that cannot be a chunk size (reported when the array is made).
    Invalid(String),
}

impl From<usize> for ChunkSpec {
    fn from(n: usize) -> Self {
        ChunkSpec::All(AxisChunks::Size(n))
    }
}

impl From<i32> for ChunkSpec {
    fn from(n: i32) -> Self {
        ChunkSpec::from(i64::from(n))
    }
}

impl From<i64> for ChunkSpec {
    fn from(n: i64) -> Self {
        match n {
            -1 => ChunkSpec::All(AxisChunks::Full),
            n if n > 0 => ChunkSpec::All(AxisChunks::Size(n as usize)),
            n => ChunkSpec::Invalid(format!(
                "{n} is not a chunk size (use a positive number or -1 for the whole axis)"
            )),
        }
    }
}

impl From<f64> for ChunkSpec {
    fn from(x: f64) -> Self {
        if x == -1.0 {
            return ChunkSpec::All(AxisChunks::Full);
        }
        if x.is_finite() && x >= 1.0 && x.fract() == 0.0 && x < 2f64.powi(53) {
            ChunkSpec::All(AxisChunks::Size(x as usize))
        } else {
            ChunkSpec::Invalid(format!("{x} is not a whole positive chunk size"))
        }
    }
}

impl From<&str> for ChunkSpec {
    fn from(s: &str) -> Self {
        let t = s.trim();
        if t.eq_ignore_ascii_case("auto") {
            return ChunkSpec::All(AxisChunks::Auto);
        }
        match brisk_core::bytes::parse_bytes(t).and_then(|b| usize::try_from(b).ok()) {
            Some(b) if b > 0 => ChunkSpec::Bytes(b),
            _ => ChunkSpec::Invalid(format!(
                "{s:?} is neither \"auto\" nor a byte size like \"64 MiB\""
            )),
        }
    }
}

impl<const N: usize> From<[usize; N]> for ChunkSpec {
    fn from(a: [usize; N]) -> Self {
        ChunkSpec::PerAxis(a.iter().map(|&n| AxisChunks::Size(n)).collect())
    }
}

impl From<&[usize]> for ChunkSpec {
    fn from(a: &[usize]) -> Self {
        ChunkSpec::PerAxis(a.iter().map(|&n| AxisChunks::Size(n)).collect())
    }
}

impl From<Vec<usize>> for ChunkSpec {
    fn from(a: Vec<usize>) -> Self {
        ChunkSpec::from(a.as_slice())
    }
}

impl From<Vec<Vec<usize>>> for ChunkSpec {
    fn from(a: Vec<Vec<usize>>) -> Self {
        ChunkSpec::PerAxis(a.into_iter().map(AxisChunks::Sizes).collect())
    }
}

impl From<Vec<AxisChunks>> for ChunkSpec {
    fn from(a: Vec<AxisChunks>) -> Self {
        ChunkSpec::PerAxis(a)
    }
}

impl From<AxisChunks> for ChunkSpec {
    fn from(a: AxisChunks) -> Self {
        ChunkSpec::All(a)
    }
}

/// Chunk sizes of `dim` in pieces of `n` (the last may be smaller).
pub fn regular(dim: usize, n: usize) -> Vec<usize> {
    if dim == 0 {
        return vec![0];
    }
    let n = n.clamp(1, dim);
    let mut v = vec![n; dim / n];
    if !dim.is_multiple_of(n) {
        v.push(dim % n);
    }
    v
}

/// Chunk sizes for an array of `shape` and item size `itemsize` from `spec`.
pub fn normalize(spec: &ChunkSpec, shape: &[usize], itemsize: usize) -> Result<Vec<Vec<usize>>> {
    let ndim = shape.len();
    let (rules, limit): (Vec<AxisChunks>, usize) = match spec {
        ChunkSpec::All(r) => (vec![r.clone(); ndim], DEFAULT_CHUNK_BYTES),
        ChunkSpec::PerAxis(v) => {
            if v.len() != ndim {
                return Err(ArrayError::ChunksNdim {
                    given: v.len(),
                    ndim,
                });
            }
            (v.clone(), DEFAULT_CHUNK_BYTES)
        }
        ChunkSpec::Bytes(b) => (vec![AxisChunks::Auto; ndim], *b),
        ChunkSpec::Invalid(reason) => {
            return Err(ArrayError::BadChunks {
                axis: 0,
                reason: reason.clone(),
            });
        }
    };
    let mut out: Vec<Option<Vec<usize>>> = vec![None; ndim];
    for (a, r) in rules.iter().enumerate() {
        let dim = shape[a];
        out[a] = match r {
            AxisChunks::Size(0) => {
                return Err(ArrayError::BadChunks {
                    axis: a,
                    reason: "a chunk size of 0".into(),
                });
            }
            AxisChunks::Size(n) => Some(regular(dim, *n)),
            AxisChunks::Full => Some(vec![dim]),
            AxisChunks::Sizes(s) => {
                let sum: usize = s.iter().sum();
                if sum != dim {
                    return Err(ArrayError::ChunksDoNotAddUp { axis: a, sum, dim });
                }
                if s.is_empty() {
                    return Err(ArrayError::BadChunks {
                        axis: a,
                        reason: "no chunks".into(),
                    });
                }
                if s.contains(&0) && dim != 0 {
                    return Err(ArrayError::BadChunks {
                        axis: a,
                        reason: "a chunk of size 0 in a non-empty axis".into(),
                    });
                }
                Some(s.clone())
            }
            AxisChunks::Auto => None,
        };
    }
    let auto: Vec<usize> = (0..ndim).filter(|&a| out[a].is_none()).collect();
    if !auto.is_empty() {
        let fixed: usize = (0..ndim)
            .filter_map(|a| out[a].as_ref().and_then(|c| c.iter().max().copied()))
            .map(|m| m.max(1))
            .product();
        let mut budget = (limit / itemsize.max(1) / fixed.max(1)).max(1) as f64;
        let mut pending = auto.clone();
        // Give each auto axis an equal share; axes shorter than their share take their whole
        // length and leave the rest to the others.
        loop {
            let share = budget.powf(1.0 / pending.len() as f64);
            let (small, big): (Vec<usize>, Vec<usize>) =
                pending.iter().partition(|&&a| (shape[a] as f64) <= share);
            if small.is_empty() {
                for &a in &big {
                    out[a] = Some(regular(shape[a], (share.floor() as usize).max(1)));
                }
                break;
            }
            for &a in &small {
                out[a] = Some(vec![shape[a]]);
                budget /= shape[a].max(1) as f64;
            }
            pending = big;
            if pending.is_empty() {
                break;
            }
        }
    }
    Ok(out.into_iter().map(|c| c.unwrap_or_default()).collect())
}

/// The boundaries of both chunkings of one axis, merged.
pub fn common_refinement(a: &[usize], b: &[usize]) -> Vec<usize> {
    let mut cuts: Vec<usize> = Vec::with_capacity(a.len() + b.len());
    let mut s = 0;
    for &x in a {
        s += x;
        cuts.push(s);
    }
    s = 0;
    for &x in b {
        s += x;
        cuts.push(s);
    }
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = Vec::with_capacity(cuts.len());
    let mut prev = 0;
    for c in cuts {
        if c > prev {
            out.push(c - prev);
            prev = c;
        }
    }
    if out.is_empty() {
        out.push(0);
    }
    out
}

/// Cumulative starts of each chunk, plus the total at the end.
pub fn offsets(sizes: &[usize]) -> Vec<usize> {
    let mut v = Vec::with_capacity(sizes.len() + 1);
    let mut s = 0usize;
    v.push(0);
    for &x in sizes {
        s = s.saturating_add(x);
        v.push(s);
    }
    v
}

/// Whether the sizes are known.
pub fn known(sizes: &[usize]) -> bool {
    !sizes.contains(&UNKNOWN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_common_forms() {
        assert_eq!(
            normalize(&3.into(), &[10], 8).unwrap(),
            vec![vec![3, 3, 3, 1]]
        );
        assert_eq!(
            normalize(&3e6.into(), &[1_000_000_000], 8).unwrap()[0].len(),
            334
        );
        assert_eq!(
            normalize(&(-1).into(), &[4, 5], 8).unwrap(),
            vec![vec![4], vec![5]]
        );
        let e = normalize(&vec![vec![3, 3]].into(), &[7], 8).unwrap_err();
        assert!(
            matches!(
                e,
                ArrayError::ChunksDoNotAddUp {
                    axis: 0,
                    sum: 6,
                    dim: 7
                }
            ),
            "{e}"
        );
        assert!(normalize(&[3].into(), &[4, 5], 8).is_err());
        assert!(normalize(&0.5.into(), &[4], 8).is_err());
        assert!(normalize(&"lots".into(), &[4], 8).is_err());
    }

    #[test]
    fn auto_targets_the_byte_size() {
        let c = normalize(&"auto".into(), &[20000, 20000], 8).unwrap();
        let biggest = c[0][0] * c[1][0] * 8;
        assert!(
            biggest <= DEFAULT_CHUNK_BYTES && biggest > DEFAULT_CHUNK_BYTES / 2,
            "{c:?}"
        );
        let c = normalize(&"1 MiB".into(), &[10, 1_000_000], 8).unwrap();
        assert_eq!(c[0], vec![10]);
        assert!(c[1][0] * 10 * 8 <= 1 << 20);
    }

    #[test]
    fn refinement_merges_boundaries() {
        assert_eq!(common_refinement(&[3, 3, 4], &[5, 5]), vec![3, 2, 1, 4]);
        assert_eq!(common_refinement(&[0], &[0]), vec![0]);
    }
}
