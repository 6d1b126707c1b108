//! Bad input to creation and shape operations: clear errors naming the argument, never a
//! panic (or an abort from a huge allocation) on the caller's thread.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use brisk_array::{self as da, ArrayError};

fn setup() {
    let _ = brisk_local::LocalScheduler::threaded();
}

/// The error's text, asserting that it names `what`.
fn names(r: Result<impl std::fmt::Debug, ArrayError>, what: &str) -> String {
    let e = r.expect_err("should be refused");
    let msg = e.to_string();
    assert!(msg.contains(what), "{msg:?} does not name {what:?}");
    msg
}

#[test]
fn arange_refuses_non_finite_and_zero_steps_and_bounds() {
    setup();
    names(da::arange_with(0.0, f64::INFINITY, 1.0, 10), "stop");
    names(da::arange_with(f64::NAN, 10.0, 1.0, 10), "start");
    names(da::arange_with(f64::NEG_INFINITY, 10.0, 1.0, 10), "start");
    names(da::arange_with(0.0, 10.0, f64::NAN, 10), "step");
    names(da::arange_with(0.0, 10.0, f64::INFINITY, 10), "step");
    names(da::arange_with(0.0, 10.0, 0.0, 10), "step");
    names(da::arange_with(0i64, 10, 0, 10), "step");
    names(da::arange_with(0.0f32, f32::NAN, 1.0, 10), "stop");
    names(da::arange(f64::INFINITY, 10), "length");
    names(da::arange(f64::NAN, 10), "length");
    names(da::arange(-1.0, 10), "length");
    // A range of more values than memory can address.
    names(da::arange_with(0.0, 1e300, 1e-300, 10), "arange");
    names(
        da::arange_with(i64::MIN, i64::MAX, 1, 1usize << 40),
        "arange",
    );
    // Reasonable ranges still work, including empty and negative-step ones.
    assert_eq!(da::arange_with(0.0, 1.0, 0.25, 2).unwrap().shape(), &[4]);
    assert_eq!(da::arange_with(5i64, 0, -2, 2).unwrap().shape(), &[3]);
    assert_eq!(da::arange_with(5i64, 10, -2, 2).unwrap().shape(), &[0]);
}

#[test]
fn linspace_refuses_non_finite_bounds() {
    setup();
    names(da::linspace(f64::NAN, 1.0, 5, 2), "start");
    names(da::linspace(0.0, f64::INFINITY, 5, 2), "stop");
    names(
        da::linspace_with(0.0, f64::NEG_INFINITY, 5, false, 2),
        "stop",
    );
    // Bounds so far apart that the step overflows.
    names(da::linspace(-f64::MAX, f64::MAX, 5, 2), "step");
    assert_eq!(da::linspace(0.0, 1.0, 0, 2).unwrap().shape(), &[0]);
}

#[test]
fn absurd_sizes_are_errors_not_aborts() {
    setup();
    // More elements than usize holds.
    names(da::zeros::<f64>([1 << 40, 1 << 40], "auto"), "elements");
    names(da::ones::<u8>([usize::MAX, 2], 1 << 20), "elements");
    // More bytes than usize holds.
    names(da::zeros::<f64>([usize::MAX / 4], "auto"), "bytes");
    // Chunk grids that would not fit in memory (one key per chunk).
    names(da::zeros::<u8>([1 << 50], 1), "chunks");
    names(da::arange(1e15, 1), "chunks");
    names(da::linspace(0.0, 1.0, usize::MAX / 16, 1), "chunks");
    names(da::eye::<u8>(1 << 31, 1), "chunks");
    names(
        da::RandomState::new(0).random([1 << 20, 1 << 20], 1),
        "chunks",
    );
    // Broadcasting two legal arrays into an illegal one.
    let col = da::zeros::<f64>([1 << 40, 1], 1 << 30).unwrap();
    let row = da::zeros::<f64>([1, 1 << 40], [1, 1 << 30]).unwrap();
    let sum = &col + &row;
    let msg = sum.error().expect("refused").to_string();
    assert!(msg.contains("elements"), "{msg}");
    // reshape into an impossible shape.
    let x = da::zeros::<f64>([4], 2).unwrap();
    names(x.reshape(&[1 << 40, 1 << 40, 0]), "shape");
}

#[test]
fn mismatched_shapes_name_the_operands() {
    setup();
    let a = da::ones::<f64>([3, 4], 2).unwrap();
    let b = da::ones::<f64>([5, 3], 2).unwrap();
    names(a.matmul(&b), "matmul");
    names(da::tensordot(&a, &b, &[1], &[0]), "tensordot");
    names(da::stack(&[a.clone(), b.clone()], 0), "stack");
    let m = da::ones::<bool>([3], 2).unwrap();
    names(a.mask(&m), "mask");
}
