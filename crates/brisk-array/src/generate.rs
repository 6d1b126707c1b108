//! Generated leaves: values computed from each element's global position (ranges, linspace,
//! counter-based random numbers, identity matrices), one tile at a time, in loops the compiler
//! vectorizes.

use brisk_core::TaskFailure;

use crate::eval::{Buf, ChunkLoc, KElem, Tile, scalar_as, scalar_f64};
use crate::expr::{Dist, Gen, LeafView};
use crate::num::Num;

/// SplitMix64's output function at counter `i` of the stream `seed`.
#[inline]
pub(crate) fn hash64(seed: u64, i: u64) -> u64 {
    let mut z = seed.wrapping_add(i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[inline]
fn unit(h: u64) -> f64 {
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The generator's values on one tile.
pub(crate) fn gen_tile<T: KElem>(
    generator: &Gen,
    leaf_shape: &[usize],
    view: &LeafView,
    loc: &ChunkLoc,
    tile: &Tile,
) -> Result<Buf<'static, T>, TaskFailure> {
    let n = loc.shape.len();
    let la = leaf_shape.len();
    let mut lstride = vec![1u64; la];
    for a in (0..la.saturating_sub(1)).rev() {
        lstride[a] = lstride[a + 1] * leaf_shape[a + 1] as u64;
    }
    let ts = tile.nd_shape(&loc.shape);
    let local = tile.local_start(n);
    let rowlen = ts.last().copied().unwrap_or(1);
    let inc: u64 = if la > 0 && !view.bcast[la - 1] { 1 } else { 0 };
    let mut out: Vec<T> = Vec::with_capacity(tile.len);
    // Odometer over the tile's rows (all axes but the last).
    let mut pos = vec![0usize; n.saturating_sub(1)];
    let rows = tile.len / rowlen.max(1);
    let seed = match generator {
        Gen::Random { seed, .. } => hash64(*seed, u64::MAX),
        _ => 0,
    };
    for _ in 0..rows {
        let mut base = 0u64;
        for (a, ls) in lstride.iter().enumerate() {
            if view.bcast[a] {
                continue;
            }
            let o = view.out_axis(a);
            let t = if o + 1 == n { 0 } else { pos[o] };
            let g = loc.start[o] + local[o] + t;
            base += g as u64 * ls;
        }
        match generator {
            Gen::Arange { start, step } => {
                if T::IS_FLOAT {
                    let s0 = scalar_f64(*start);
                    let d = scalar_f64(*step);
                    fill_affine_f64(&mut out, s0, d, base, inc, rowlen);
                } else {
                    let s0 = scalar_as::<T>(*start);
                    let d = scalar_as::<T>(*step);
                    let first = s0.add(d.mul(T::from_u64(base)));
                    fill_affine(&mut out, first, d.mul(T::from_u64(inc)), rowlen);
                }
            }
            Gen::Linspace {
                start,
                step,
                last,
                num,
            } => out.extend((0..rowlen as u64).map(|j| {
                let i = base + j * inc;
                match last {
                    Some(l) if i + 1 == *num => T::from_f64(*l),
                    _ => T::from_f64(start + i as f64 * step),
                }
            })),
            Gen::Random { dist, .. } => {
                match *dist {
                    Dist::Uniform { low, high } => out.extend((0..rowlen as u64).map(|j| {
                        T::from_f64(low + (high - low) * unit(hash64(seed, base + j * inc)))
                    })),
                    Dist::Normal { mean, std } => out.extend((0..rowlen as u64).map(|j| {
                        let i = base + j * inc;
                        let u1 = 1.0 - unit(hash64(seed, 2 * i));
                        let u2 = unit(hash64(seed, 2 * i + 1));
                        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                        T::from_f64(mean + std * z)
                    })),
                    Dist::Integers { low, high } => {
                        let range = high.wrapping_sub(low) as u64;
                        out.extend((0..rowlen as u64).map(|j| {
                            let h = hash64(seed, base + j * inc);
                            let r = ((u128::from(h) * u128::from(range)) >> 64) as u64;
                            T::from_i64(low.wrapping_add(r as i64))
                        }))
                    }
                }
            }
            Gen::Eye { k } => {
                let cols = leaf_shape.get(1).copied().unwrap_or(1).max(1) as u64;
                out.extend((0..rowlen as u64).map(|j| {
                    let i = base + j * inc;
                    let (r, c) = (i / cols, i % cols);
                    if c as i64 - r as i64 == *k {
                        T::ONE
                    } else {
                        T::ZERO
                    }
                }))
            }
        }
        // Advance the row odometer over tile axes 0..n-1.
        let mut a = n.saturating_sub(1);
        while a > 0 {
            a -= 1;
            pos[a] += 1;
            if pos[a] < ts[a] {
                break;
            }
            pos[a] = 0;
        }
    }
    Ok(Buf::Owned(out))
}

/// Append `first, first + step, …` (`n` values) as a running sum: an induction variable the
/// compiler vectorizes without 64-bit multiplies.
fn fill_affine<T: Num>(out: &mut Vec<T>, first: T, step: T, n: usize) {
    let start = out.len();
    out.resize(start + n, first);
    let mut v = first;
    for o in &mut out[start..] {
        *o = v;
        v = v.add(step);
    }
}

/// [`fill_affine`] for floats computed in `f64` (`first + k * step`, exact in `k`).
fn fill_affine_f64<T: Num>(out: &mut Vec<T>, start: f64, step: f64, base: u64, inc: u64, n: usize) {
    let begin = out.len();
    out.resize(begin + n, T::ZERO);
    let (base, inc) = (base as f64, inc as f64);
    for (k, o) in out[begin..].iter_mut().enumerate() {
        // `start + i * step` with the global index `i` exact in f64, so values never depend on
        // the chunking; tiles are far below 2^31 elements, and i32 -> f64 converts in vector
        // registers.
        *o = T::from_f64(start + (base + f64::from(k as i32) * inc) * step);
    }
}
