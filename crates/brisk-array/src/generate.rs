//! Generated leaves: values computed from each element's global position (ranges, linspace,
//! counter-based random numbers, identity matrices), one tile at a time, in loops the compiler
//! vectorizes.

use brisk_core::TaskFailure;

use crate::eval::{Buf, ChunkLoc, KElem, Tile, scalar_as, scalar_f64};
use crate::expr::{Dist, Gen, LeafView};
pub(crate) use crate::simd::hash64;
use crate::simd::{fill_affine, fill_affine_f64, fill_integers, fill_uniform, unit};

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
                    if inc == 1 {
                        fill_affine_f64(&mut out, s0, d, base, rowlen);
                    } else {
                        let v = T::from_f64(s0 + base as f64 * d);
                        out.extend(std::iter::repeat_n(v, rowlen));
                    }
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
            Gen::Random { dist, .. } => match *dist {
                Dist::Uniform { low, high } if inc == 1 => {
                    fill_uniform(&mut out, seed, base, rowlen, low, high - low)
                }
                Dist::Uniform { low, high } => {
                    let v = T::from_f64(low + (high - low) * unit(hash64(seed, base)));
                    out.extend(std::iter::repeat_n(v, rowlen))
                }
                Dist::Normal { mean, std } => out.extend((0..rowlen as u64).map(|j| {
                    let i = base + j * inc;
                    let u1 = 1.0 - unit(hash64(seed, 2 * i));
                    let u2 = unit(hash64(seed, 2 * i + 1));
                    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                    T::from_f64(mean + std * z)
                })),
                Dist::Integers { low, high } => {
                    let range = high.wrapping_sub(low) as u64;
                    if inc == 1 {
                        fill_integers(&mut out, seed, base, rowlen, low, range);
                    } else {
                        let mut one: Vec<T> = Vec::with_capacity(1);
                        fill_integers(&mut one, seed, base, 1, low, range);
                        if let Some(&v) = one.first() {
                            out.extend(std::iter::repeat_n(v, rowlen));
                        }
                    }
                }
            },
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
