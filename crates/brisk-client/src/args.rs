//! Arguments of `submit` and `map`, and their compilation into a task for the wire.

use std::hash::{Hash, Hasher};

use brisk_core::plan::{PArg, PlanTask};
use brisk_core::{Arg, Error, Func, IntoArg, IntoTaskOutput, Key, Task};

/// The arguments of one call: `()`, `(a,)`, `(a, b)`, … of anything that is an argument
/// (literals, keys, futures), or a `Vec<Arg>`.
pub trait IntoArgs {
    /// The arguments in order.
    fn into_args(self) -> Vec<Arg>;
}

impl IntoArgs for Vec<Arg> {
    fn into_args(self) -> Vec<Arg> {
        self
    }
}

macro_rules! into_args {
    ($($a:ident),*) => {
        impl<$($a: IntoArg),*> IntoArgs for ($($a,)*) {
            #[allow(non_snake_case, clippy::unused_unit)]
            fn into_args(self) -> Vec<Arg> {
                let ($($a,)*) = self;
                vec![$($a.into_arg()),*]
            }
        }
    };
}
into_args!();
into_args!(A);
into_args!(A, B);
into_args!(A, B, C);
into_args!(A, B, C, D);
into_args!(A, B, C, D, E);
into_args!(A, B, C, D, E, F);

/// The output type of a function, read from the marker of [`brisk_core::IntoFunc`]: what a
/// future of a call to it holds.
pub trait Returns {
    /// The value type.
    type Output;
}

macro_rules! returns {
    ($($a:ident),*) => {
        impl<R: IntoTaskOutput, $($a),*> Returns for fn($($a,)*) -> R {
            type Output = R::Output;
        }
    };
}
returns!();
returns!(A1);
returns!(A1, A2);
returns!(A1, A2, A3);
returns!(A1, A2, A3, A4);
returns!(A1, A2, A3, A4, A5);
returns!(A1, A2, A3, A4, A5, A6);
returns!(A1, A2, A3, A4, A5, A6, A7);
returns!(A1, A2, A3, A4, A5, A6, A7, A8);

/// Compile a call into a task whose key references become dependency slots; returns the task
/// and its distinct dependencies in slot order.
pub(crate) fn compile_call(func: Func, args: Vec<Arg>) -> (PlanTask, Vec<Key>) {
    let mut deps: Vec<Key> = Vec::new();
    let task = compile_task(&Task { func, args }, &mut deps);
    (task, deps)
}

fn compile_task(t: &Task, deps: &mut Vec<Key>) -> PlanTask {
    PlanTask {
        func: t.func.clone(),
        args: t.args.iter().map(|a| compile_arg(a, deps)).collect(),
        fused_key: None,
    }
}

fn compile_arg(a: &Arg, deps: &mut Vec<Key>) -> PArg {
    match a {
        Arg::Key(k) => {
            let slot = match deps.iter().position(|d| d == k) {
                Some(s) => s,
                None => {
                    deps.push(k.clone());
                    deps.len() - 1
                }
            };
            PArg::Dep(slot as u32)
        }
        Arg::Literal(v) => PArg::Lit(v.clone()),
        Arg::Task(t) => PArg::Task(Box::new(compile_task(t, deps))),
        Arg::List(items) => PArg::List(items.iter().map(|a| compile_arg(a, deps)).collect()),
    }
}

/// A deterministic key for a call: the function's label plus a hash of the encoded task and
/// the keys it depends on, so
/// that submitting the same call twice shares one result (Dask's `pure=True`).
pub(crate) fn call_key(label: &str, spec: &[u8], deps: &[Key]) -> Key {
    let mut a = std::collections::hash_map::DefaultHasher::new();
    spec.hash(&mut a);
    deps.hash(&mut a);
    let mut b = std::collections::hash_map::DefaultHasher::new();
    0x5eed_u32.hash(&mut b);
    spec.hash(&mut b);
    deps.hash(&mut b);
    Key::from(format!("{label}-{:016x}{:016x}", a.finish(), b.finish()))
}

/// An error for a task that cannot be sent.
pub(crate) fn unregistered(key: &Key, func: &Func) -> Option<Error> {
    func.name().is_none().then(|| Error::UnregisteredFunction {
        key: key.clone(),
        function: func.type_name().to_string(),
    })
}
