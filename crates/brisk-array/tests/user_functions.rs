//! Your own functions on blocks travel by name: `blockwise` (and `map_blocks`) with a
//! `#[brisk::func]` function build graphs whose every task a cluster's workers can run, and
//! give what the closure and plain `ndarray` give.
//!
//! The attribute is `brisk_macros::func` through a small stand-in for the `brisk` facade (this
//! crate cannot depend on the facade, which depends on it): the expansion is the same.

#![allow(clippy::unwrap_used)]

use brisk_array as da;
use brisk_core::{Collection, Func, Value};
use ndarray::{ArrayD, IxDyn};

/// What `#[brisk::func]`'s expansion names in the facade.
mod facade {
    pub use brisk_core::Value;
    pub mod __private {
        pub use brisk_core::__private::inventory;
        pub use brisk_core::Func;
        pub use brisk_core::func::macro_support::{
            ReadExact, ReadFromValue, Slot, WriteAny, WriteOutput, WriteResult, read_rest,
        };
        pub use brisk_core::func::{FunctionEntry, arity_failure, type_id_of_val};
    }
    macro_rules! __func_hooks {
        ($($t:tt)*) => {};
    }
    pub(crate) use __func_hooks;
}

/// `a * b - a + 1` on the first two blocks, plus every further block.
#[brisk_macros::func(crate = "crate::facade", name = "tests::combine")]
fn combine(blocks: &[&ArrayD<f64>]) -> ArrayD<f64> {
    let mut out = blocks[0] * blocks[1] - blocks[0] + 1.0;
    for b in &blocks[2..] {
        out += *b;
    }
    out
}

/// A parameter, then the blocks: bound with `Func::bind`.
#[brisk_macros::func(crate = "crate::facade", name = "tests::scaled_sum")]
fn scaled_sum(k: f64, blocks: &[&ArrayD<f64>]) -> ArrayD<f64> {
    let mut out = ArrayD::zeros(blocks[0].raw_dim());
    for b in blocks {
        out += *b;
    }
    out * k
}

/// One block parameter per array.
#[brisk_macros::func(crate = "crate::facade", name = "tests::difference")]
fn difference(a: &ArrayD<f64>, b: &ArrayD<f64>) -> ArrayD<f64> {
    a - b
}

/// Blocks of another element type than the arrays'.
#[brisk_macros::func(crate = "crate::facade", name = "tests::int_blocks")]
fn int_blocks(blocks: &[&ArrayD<i64>]) -> ArrayD<i64> {
    blocks[0].clone()
}

#[brisk_macros::func(crate = "crate::facade", name = "tests::halve")]
fn halve(block: &ArrayD<f64>) -> ArrayD<f64> {
    block / 2.0
}

/// Runs `f` refusing any task a cluster's stock workers could not run (a closure), on the
/// threads otherwise.
fn named_only<R>(f: impl FnOnce() -> R) -> R {
    brisk_test_utils::named_only::named_only(
        std::sync::Arc::new(brisk_local::LocalScheduler::threaded()),
        f,
    )
}

fn calls(c: &impl Collection, name: &str) -> bool {
    c.graph().iter().any(|(_, n)| match n {
        brisk_core::Node::Task(t) => t.func.name() == Some(name),
        _ => false,
    })
}

/// Three 2-D arrays with different chunks (blockwise lines them up first).
fn inputs() -> (
    da::Array<f64>,
    da::Array<f64>,
    da::Array<f64>,
    [ArrayD<f64>; 3],
) {
    let rs = da::RandomState::new(11);
    let a = rs.random([30, 20], vec![10, 7]).unwrap();
    let b = rs.random([30, 20], vec![15, 20]).unwrap();
    let c = rs.random([30, 20], vec![30, 4]).unwrap();
    let plain = [
        a.compute().unwrap(),
        b.compute().unwrap(),
        c.compute().unwrap(),
    ];
    (a, b, c, plain)
}

#[test]
fn blockwise_with_a_registered_function_is_named_and_matches_the_closure_and_ndarray() {
    let _ = brisk_local::LocalScheduler::threaded();
    let (a, b, c, [pa, pb, pc]) = inputs();
    let named = da::blockwise(&[&a, &b, &c], combine).unwrap();
    assert!(calls(&named, "tests::combine"), "not called by name");
    let got = named_only(|| named.compute()).unwrap();
    let closure = da::blockwise(&[&a, &b, &c], |xs| xs[0] * xs[1] - xs[0] + 1.0 + xs[2])
        .unwrap()
        .compute()
        .unwrap();
    let plain = &pa * &pb - &pa + 1.0 + &pc;
    assert_eq!(got, closure);
    assert_eq!(got, plain);
    // Further work on the result stays named (a reduction of it, on the stand-in cluster).
    let total = named_only(|| named.sum().compute()).unwrap();
    assert!((total - plain.sum()).abs() < 1e-9 * plain.sum().abs().max(1.0));
    // The same array twice.
    let one = da::blockwise(&[&a, &a], combine).unwrap();
    assert_eq!(named_only(|| one.compute()).unwrap(), &pa * &pa - &pa + 1.0);
    // A closure is refused by a cluster, naming `#[brisk::func]`.
    let e = named_only(|| {
        da::blockwise(&[&a, &b], |xs| xs[0] + xs[1])
            .unwrap()
            .compute()
    })
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("#[brisk::func]") && e.contains("blockwise"),
        "{e}"
    );
}

#[test]
fn blockwise_func_takes_bound_parameters_and_one_parameter_per_array() {
    let _ = brisk_local::LocalScheduler::threaded();
    let (a, b, c, [pa, pb, pc]) = inputs();
    let f = Func::by_name("tests::scaled_sum")
        .unwrap()
        .bind(vec![Value::from(2.5)]);
    let named = da::blockwise_func::<f64, f64>(&[&a, &b, &c], f).unwrap();
    assert!(calls(&named, "tests::scaled_sum"));
    let got = named_only(|| named.compute()).unwrap();
    assert_eq!(got, (&pa + &pb + &pc) * 2.5);
    let d = da::blockwise_func::<f64, f64>(&[&a, &b], Func::by_name("tests::difference").unwrap())
        .unwrap();
    assert_eq!(named_only(|| d.compute()).unwrap(), &pa - &pb);
    // map_blocks finds the registered function by its type too.
    let h = a.map_blocks(halve).unwrap();
    assert!(calls(&h, "tests::halve"));
    assert_eq!(named_only(|| h.compute()).unwrap(), &pa / 2.0);
}

#[test]
fn blockwise_of_empty_arrays_calls_nothing_wrong() {
    let _ = brisk_local::LocalScheduler::threaded();
    for shape in [vec![0usize], vec![4, 0]] {
        let z = da::zeros::<f64>(&shape, 2).unwrap();
        let got = named_only(|| da::blockwise(&[&z, &z], combine).unwrap().compute()).unwrap();
        assert_eq!(got, ArrayD::<f64>::zeros(IxDyn(&shape)), "shape {shape:?}");
    }
}

#[test]
fn bad_blockwise_input_is_an_error_naming_what_is_at_fault() {
    let _ = brisk_local::LocalScheduler::threaded();
    let (a, b, c, _) = inputs();
    // Three arrays for a function of two blocks.
    let e =
        da::blockwise_func::<f64, f64>(&[&a, &b, &c], Func::by_name("tests::difference").unwrap())
            .unwrap()
            .compute()
            .unwrap_err()
            .to_string();
    assert!(
        e.contains("difference") && e.contains('2') && e.contains('3'),
        "{e}"
    );
    // Blocks of f64 for a function of i64 blocks.
    let e = da::blockwise_func::<f64, i64>(&[&a], Func::by_name("tests::int_blocks").unwrap())
        .unwrap()
        .compute()
        .unwrap_err()
        .to_string();
    assert!(e.contains("int_blocks") && e.contains("argument 1"), "{e}");
    // No arrays, arrays of different shapes.
    let e = da::blockwise::<f64, f64, _>(&[], combine)
        .unwrap_err()
        .to_string();
    assert!(e.contains("arrays") && e.contains("at least one"), "{e}");
    let short = da::zeros::<f64>([30, 19], 10).unwrap();
    let e = da::blockwise(&[&a, &short], combine)
        .unwrap_err()
        .to_string();
    assert!(e.contains("blockwise") && e.contains("19"), "{e}");
}
