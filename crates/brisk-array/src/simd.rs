//! Runtime CPU dispatch of the hot loops.
//!
//! A release build targets baseline x86-64 (SSE2) unless told otherwise, and the loops that
//! dominate array work (counter-based random numbers, ranges, elementwise maps, sums and means)
//! vectorize much better with AVX2 or AVX-512: SplitMix's 64-bit multiplies have no vector
//! instruction below AVX-512, and SSE2 vectors hold two `f64`. Each loop here is written once,
//! as an `#[inline(always)]` body, and compiled three times by [`multiversion`]: for AVX-512
//! (Ice Lake's set, as `multiversion` requires), for AVX2 + FMA, and for the baseline. The
//! best one the CPU supports is chosen on the first call (one atomic load after that).
//!
//! **Values never depend on the path.** Every body is the same Rust code: integer arithmetic
//! is exact, float operations are IEEE (Rust never contracts `a * b + c` into an FMA nor
//! reassociates sums, so the explicit eight-lane sums add in the same order on every path),
//! and conversions are exact. [`set_cpu_dispatch`]`(false)` runs the baseline bodies instead,
//! which the tests use to compare both paths bit for bit.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::num::Num;

static DISPATCH: AtomicBool = AtomicBool::new(true);

/// Turn runtime CPU dispatch of the hot kernels on (the default) or off (baseline x86-64 code
/// everywhere), process-wide; returns the previous setting. Results are bit-identical either
/// way; this exists to measure and to test that.
pub fn set_cpu_dispatch(on: bool) -> bool {
    DISPATCH.swap(on, Ordering::Relaxed)
}

/// The instruction set the hot kernels run with: `"avx512"`, `"avx2"` or `"baseline"`.
pub fn cpu_dispatch_target() -> &'static str {
    if !DISPATCH.load(Ordering::Relaxed) {
        return "baseline";
    }
    #[cfg(target_arch = "x86_64")]
    {
        // The same sets as the `multiversion` targets below (AVX-512 means Ice Lake's set).
        if std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512dq")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vl")
            && std::is_x86_feature_detected!("avx512vbmi2")
            && std::is_x86_feature_detected!("avx512vpopcntdq")
            && std::is_x86_feature_detected!("avx512bitalg")
            && std::is_x86_feature_detected!("avx512vnni")
            && std::is_x86_feature_detected!("gfni")
            && std::is_x86_feature_detected!("vaes")
            && std::is_x86_feature_detected!("vpclmulqdq")
        {
            return "avx512";
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return "avx2";
        }
    }
    "baseline"
}

#[inline(always)]
fn dispatch_on() -> bool {
    DISPATCH.load(Ordering::Relaxed)
}

/// Declare `name(args) -> ret`, dispatched at run time, around the `#[inline(always)]` body
/// `body_fn`: the multiversioned clone is `fast_fn`.
macro_rules! dispatched {
    (
        $(#[$doc:meta])*
        fn $name:ident / $fast:ident / $body:ident
        $(< $($g:ident : $bound:path),* >)?
        ( $($arg:ident : $ty:ty),* ) $(-> $ret:ty)?
    ) => {
        // With `-C target-cpu=native` on an AVX-512 machine the dispatcher is elided and the
        // other clones go unused.
        #[allow(dead_code)]
        #[multiversion::multiversion(targets(
            "x86_64+avx512f+avx512dq+avx512vl+avx512bw",
            "x86_64+avx2+fma",
        ))]
        fn $fast $(< $($g: $bound),* >)? ( $($arg: $ty),* ) $(-> $ret)? {
            $body($($arg),*)
        }

        $(#[$doc])*
        #[inline]
        pub(crate) fn $name $(< $($g: $bound),* >)? ( $($arg: $ty),* ) $(-> $ret)? {
            if dispatch_on() {
                $fast($($arg),*)
            } else {
                $body($($arg),*)
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Generators

/// SplitMix64's output function at counter `i` of the stream `seed`.
#[inline(always)]
pub(crate) fn hash64(seed: u64, i: u64) -> u64 {
    let mut z = seed.wrapping_add(i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `(h >> 11) * 2^-53`, a uniform double in `[0, 1)`, without a `u64 -> f64` conversion (there
/// is no vector one below AVX-512): the top 52 bits become a mantissa of `[1, 2)`, minus one,
/// plus the 53rd bit as `2^-53`. Every step is exact, so this equals the plain conversion.
#[inline(always)]
pub(crate) fn unit(h: u64) -> f64 {
    let hi = f64::from_bits((h >> 12) | 0x3FF0_0000_0000_0000) - 1.0;
    let lo = f64::from_bits(((h >> 11) & 1).wrapping_neg() & 0x3CA0_0000_0000_0000);
    hi + lo
}

#[inline(always)]
fn fill_uniform_body<T: Num>(
    out: &mut Vec<T>,
    seed: u64,
    first: u64,
    n: usize,
    low: f64,
    span: f64,
) {
    out.extend((0..n as u64).map(|j| T::from_f64(low + span * unit(hash64(seed, first + j)))));
}

dispatched! {
    /// Append the uniform values at counters `first..first + n` of stream `seed`.
    fn fill_uniform / fill_uniform_fast / fill_uniform_body<T: Num>(
        out: &mut Vec<T>, seed: u64, first: u64, n: usize, low: f64, span: f64
    )
}

#[inline(always)]
fn fill_integers_body<T: Num>(
    out: &mut Vec<T>,
    seed: u64,
    first: u64,
    n: usize,
    low: i64,
    range: u64,
) {
    out.extend((0..n as u64).map(|j| {
        let h = hash64(seed, first + j);
        let r = ((u128::from(h) * u128::from(range)) >> 64) as u64;
        T::from_i64(low.wrapping_add(r as i64))
    }));
}

dispatched! {
    /// Append the random integers in `low..low + range` at counters `first..first + n`.
    fn fill_integers / fill_integers_fast / fill_integers_body<T: Num>(
        out: &mut Vec<T>, seed: u64, first: u64, n: usize, low: i64, range: u64
    )
}

#[inline(always)]
fn fill_affine_body<T: Num>(out: &mut Vec<T>, first: T, step: T, n: usize) {
    // A running sum: an induction variable the compiler vectorizes without multiplies.
    let mut v = first;
    out.extend((0..n).map(|_| {
        let x = v;
        v = v.add(step);
        x
    }));
}

dispatched! {
    /// Append `first, first + step, …` (`n` values, wrapping for integers).
    fn fill_affine / fill_affine_fast / fill_affine_body<T: Num>(
        out: &mut Vec<T>, first: T, step: T, n: usize
    )
}

#[inline(always)]
fn fill_affine_f64_body<T: Num>(out: &mut Vec<T>, start: f64, step: f64, base: u64, n: usize) {
    // `start + i * step` with the global index `i` exact in f64, so values never depend on the
    // chunking; rows are far below 2^31 elements, and i32 -> f64 converts in vector registers.
    let base = base as f64;
    out.extend((0..n).map(|k| T::from_f64(start + (base + f64::from(k as i32)) * step)));
}

dispatched! {
    /// Append `start + i * step` for `i` in `base..base + n`, computed in `f64`.
    fn fill_affine_f64 / fill_affine_f64_fast / fill_affine_f64_body<T: Num>(
        out: &mut Vec<T>, start: f64, step: f64, base: u64, n: usize
    )
}

// ---------------------------------------------------------------------------------------------
// Elementwise maps

#[inline(always)]
fn map_into_body<T: Copy, U, F: Fn(T) -> U>(xs: &[T], out: &mut Vec<U>, f: F) {
    out.extend(xs.iter().map(|&x| f(x)));
}

dispatched! {
    /// Append `f(x)` for every `x`.
    fn map_into / map_into_fast / map_into_body<T: Copy, U: Sized, F: Fn(T) -> U>(
        xs: &[T], out: &mut Vec<U>, f: F
    )
}

#[inline(always)]
fn map_in_place_body<T: Copy, F: Fn(T) -> T>(xs: &mut [T], f: F) {
    for e in xs.iter_mut() {
        *e = f(*e);
    }
}

dispatched! {
    /// `x = f(x)` for every element.
    fn map_in_place / map_in_place_fast / map_in_place_body<T: Copy, F: Fn(T) -> T>(
        xs: &mut [T], f: F
    )
}

#[inline(always)]
fn zip_into_body<T: Copy, U, F: Fn(T, T) -> U>(xs: &[T], ys: &[T], out: &mut Vec<U>, f: F) {
    out.extend(xs.iter().zip(ys).map(|(&x, &y)| f(x, y)));
}

dispatched! {
    /// Append `f(x, y)` for every pair.
    fn zip_into / zip_into_fast / zip_into_body<T: Copy, U: Sized, F: Fn(T, T) -> U>(
        xs: &[T], ys: &[T], out: &mut Vec<U>, f: F
    )
}

#[inline(always)]
fn zip_in_place_body<T: Copy, F: Fn(T, T) -> T>(xs: &mut [T], ys: &[T], f: F) {
    for (e, &y) in xs.iter_mut().zip(ys) {
        *e = f(*e, y);
    }
}

dispatched! {
    /// `x = f(x, y)` for every pair.
    fn zip_in_place / zip_in_place_fast / zip_in_place_body<T: Copy, F: Fn(T, T) -> T>(
        xs: &mut [T], ys: &[T], f: F
    )
}

// ---------------------------------------------------------------------------------------------
// Folds

#[inline(always)]
fn fold_sum_body<T: Num, const NAN: bool, const PROD: bool>(xs: &[T]) -> T::Sum
where
    T::Sum: Num,
{
    let zero = if PROD {
        <T::Sum as Num>::ONE
    } else {
        <T::Sum as Num>::ZERO
    };
    let f = |a: T::Sum, x: &T| {
        let v = x.widen();
        let v = if NAN && v.is_nan() { zero } else { v };
        if PROD { a.mul(v) } else { a.add(v) }
    };
    if !<T::Sum as Num>::IS_FLOAT {
        // Integer sums reassociate freely: one fold vectorizes.
        return xs.iter().fold(zero, f);
    }
    // Floats: eight independent partial sums in a fixed order (also closer to numpy's pairwise
    // sum), so every path adds in the same order.
    let mut lanes = [zero; 8];
    let chunks = xs.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        lanes = std::array::from_fn(|i| f(lanes[i], &c[i]));
    }
    let mut s = rest.iter().fold(zero, f);
    for l in lanes {
        s = if PROD { s.mul(l) } else { s.add(l) };
    }
    s
}

#[allow(dead_code)]
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512dq+avx512vl+avx512bw",
    "x86_64+avx2+fma",
))]
fn fold_sum_fast<T: Num, const NAN: bool, const PROD: bool>(xs: &[T]) -> T::Sum
where
    T::Sum: Num,
{
    fold_sum_body::<T, NAN, PROD>(xs)
}

/// The sum (or product) of `xs` in the widened type, skipping NaNs when `NAN`.
#[inline]
pub(crate) fn fold_sum<T: Num, const NAN: bool, const PROD: bool>(xs: &[T]) -> T::Sum
where
    T::Sum: Num,
{
    if dispatch_on() {
        fold_sum_fast::<T, NAN, PROD>(xs)
    } else {
        fold_sum_body::<T, NAN, PROD>(xs)
    }
}

#[inline(always)]
fn fold_count_sum_body<T: Num, const NAN: bool>(xs: &[T]) -> (f64, f64) {
    let mut lanes = [0.0f64; 8];
    let mut counts = [0.0f64; 8];
    let chunks = xs.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            let v = c[i].as_f64();
            let ok = !(NAN && v.is_nan());
            lanes[i] += if ok { v } else { 0.0 };
            counts[i] += if ok { 1.0 } else { 0.0 };
        }
    }
    let mut s: f64 = lanes.iter().sum();
    let mut n: f64 = counts.iter().sum();
    for &x in rest {
        let v = x.as_f64();
        if !(NAN && v.is_nan()) {
            s += v;
            n += 1.0;
        }
    }
    (n, s)
}

#[allow(dead_code)]
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512dq+avx512vl+avx512bw",
    "x86_64+avx2+fma",
))]
fn fold_count_sum_fast<T: Num, const NAN: bool>(xs: &[T]) -> (f64, f64) {
    fold_count_sum_body::<T, NAN>(xs)
}

/// `(count, sum)` of `xs` in `f64`, skipping NaNs when `NAN`.
#[inline]
pub(crate) fn fold_count_sum<T: Num, const NAN: bool>(xs: &[T]) -> (f64, f64) {
    if dispatch_on() {
        fold_count_sum_fast::<T, NAN>(xs)
    } else {
        fold_count_sum_body::<T, NAN>(xs)
    }
}

#[inline(always)]
fn fold_sq_dev_body<T: Num, const NAN: bool>(xs: &[T], mean: f64) -> f64 {
    let mut m2 = 0.0;
    for &x in xs {
        let v = x.as_f64();
        if !(NAN && v.is_nan()) {
            m2 += (v - mean) * (v - mean);
        }
    }
    m2
}

#[allow(dead_code)]
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512dq+avx512vl+avx512bw",
    "x86_64+avx2+fma",
))]
fn fold_sq_dev_fast<T: Num, const NAN: bool>(xs: &[T], mean: f64) -> f64 {
    fold_sq_dev_body::<T, NAN>(xs, mean)
}

/// The sum of squared deviations from `mean`, skipping NaNs when `NAN`.
#[inline]
pub(crate) fn fold_sq_dev<T: Num, const NAN: bool>(xs: &[T], mean: f64) -> f64 {
    if dispatch_on() {
        fold_sq_dev_fast::<T, NAN>(xs, mean)
    } else {
        fold_sq_dev_body::<T, NAN>(xs, mean)
    }
}
