//! Functions: what a task calls.
//!
//! In-process, any closure runs. To cross a process boundary a function needs a stable name:
//! write it as a named `fn` and register it with [`crate::register!`]; every [`Func`] built from
//! that `fn` then carries the name automatically, and a worker running the same binary looks it
//! up with [`Func::by_name`].

use std::any::{TypeId, type_name};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::error::{Error, TaskFailure};
use crate::value::{FromValue, IntoValue, Value};

/// What a task's function returns.
pub type TaskResult = Result<Value, TaskFailure>;

type CallFn = dyn Fn(&[Value]) -> TaskResult + Send + Sync;

/// A function a task calls, with its argument conversions built in. Cheap to clone.
#[derive(Clone)]
pub struct Func(Arc<FuncInner>);

struct FuncInner {
    name: Option<&'static str>,
    label: &'static str,
    type_name: &'static str,
    call: Box<CallFn>,
}

impl Func {
    /// A function from any `fn` or closure whose arguments implement [`FromValue`] and whose
    /// result implements [`IntoValue`] (or is a `Result` of one).
    ///
    /// ```
    /// use brisk_core::{Func, Value};
    /// fn add(x: i64, y: i64) -> i64 { x + y }
    /// let f = Func::new(add);
    /// let out = f.call(&[Value::from(1i64), Value::from(2i32)]).unwrap();
    /// assert_eq!(out.get::<i64>().unwrap(), 3);
    /// assert_eq!(f.label(), "add");
    /// ```
    pub fn new<M, F: IntoFunc<M>>(f: F) -> Func {
        f.into_func()
    }

    /// A function over raw values, for kernels that want to see the values themselves.
    /// `label` is what pictures and profiles show.
    pub fn raw<F>(label: &'static str, f: F) -> Func
    where
        F: Fn(&[Value]) -> TaskResult + Send + Sync + 'static,
    {
        Func(Arc::new(FuncInner {
            name: registered_name(TypeId::of::<F>()),
            label,
            type_name: type_name::<F>(),
            call: Box::new(f),
        }))
    }

    /// A raw function with an explicit registered name (for built-in kernels that are built
    /// from parameters, where the `fn` type alone does not identify them).
    pub fn named_raw<F>(name: &'static str, label: &'static str, f: F) -> Func
    where
        F: Fn(&[Value]) -> TaskResult + Send + Sync + 'static,
    {
        Func(Arc::new(FuncInner {
            name: Some(name),
            label,
            type_name: type_name::<F>(),
            call: Box::new(f),
        }))
    }

    fn from_typed<F, C>(call: C) -> Func
    where
        F: 'static,
        C: Fn(&[Value]) -> TaskResult + Send + Sync + 'static,
    {
        Func(Arc::new(FuncInner {
            name: registered_name(TypeId::of::<F>()),
            label: short_label(type_name::<F>()),
            type_name: type_name::<F>(),
            call: Box::new(call),
        }))
    }

    /// Call the function on already computed arguments.
    pub fn call(&self, args: &[Value]) -> TaskResult {
        (self.0.call)(args)
    }

    /// The registered name, if the function can cross a process boundary.
    pub fn name(&self) -> Option<&'static str> {
        self.0.name
    }

    /// A short name for people: `"inc"` for `my_crate::inc`, `"closure"` for a closure.
    pub fn label(&self) -> &'static str {
        self.0.label
    }

    /// The full Rust type name of the function or closure.
    pub fn type_name(&self) -> &'static str {
        self.0.type_name
    }

    /// The registered function with this name, for a process that received it by name.
    pub fn by_name(name: &str) -> Result<Func, Error> {
        let reg = registry();
        match reg.by_name.get(name) {
            Some(entry) => Ok(entry.func.get_or_init(|| (entry.entry.make)()).clone()),
            None => Err(Error::UnknownFunction {
                name: name.to_string(),
            }),
        }
    }

    /// Whether two handles are the same function object.
    pub fn ptr_eq(&self, other: &Func) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for Func {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// `"inc"` for `"my_crate::inc"`, `"closure"` for `"my_crate::main::{{closure}}"`.
fn short_label(full: &'static str) -> &'static str {
    if full.ends_with("{{closure}}") {
        return "closure";
    }
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

/// Anything that can become a [`Func`]. `M` is a marker that lets `fn`s of every arity qualify.
pub trait IntoFunc<M> {
    /// Build the function.
    fn into_func(self) -> Func;
}

impl IntoFunc<()> for Func {
    fn into_func(self) -> Func {
        self
    }
}

/// What a function may return: any [`IntoValue`], or a `Result` of one whose error converts to
/// a boxed error (which then fails the task with the error's message).
pub trait IntoTaskOutput {
    /// The value type a successful call produces.
    type Output;
    /// Convert to a task result.
    fn into_output(self) -> TaskResult;
}

impl<T: IntoValue> IntoTaskOutput for T {
    type Output = T;
    fn into_output(self) -> TaskResult {
        Ok(self.into_value())
    }
}

impl<T, E> IntoTaskOutput for Result<T, E>
where
    T: IntoValue,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Output = T;
    fn into_output(self) -> TaskResult {
        match self {
            Ok(v) => Ok(v.into_value()),
            Err(e) => Err(TaskFailure::from_error(e.into())),
        }
    }
}

fn arity_failure(label: &str, want: usize, got: usize) -> TaskFailure {
    TaskFailure::bad_argument(format!(
        "function {label} takes {want} argument(s) but the task gave {got}"
    ))
}

fn arg<T: FromValue>(label: &str, args: &[Value], i: usize) -> Result<T, TaskFailure> {
    let v = args
        .get(i)
        .ok_or_else(|| arity_failure(label, i + 1, args.len()))?;
    T::from_value(v)
        .map_err(|m| TaskFailure::bad_argument(format!("argument {} of {label}: {m}", i + 1)))
}

macro_rules! into_func {
    ($n:expr; $($a:ident),*) => {
        impl<Fun, R, $($a),*> IntoFunc<fn($($a,)*) -> R> for Fun
        where
            Fun: Fn($($a),*) -> R + Send + Sync + 'static,
            R: IntoTaskOutput,
            $($a: FromValue,)*
        {
            #[allow(non_snake_case, unused_variables, unused_mut, unused_assignments)]
            fn into_func(self) -> Func {
                // A zero-sized function (a `fn` item or a closure capturing nothing) is fully
                // described by its type: build its `Func` once and share it.
                if std::mem::size_of::<Fun>() == 0 {
                    if let Some(f) = cached(TypeId::of::<Fun>()) {
                        return f;
                    }
                }
                let label = short_label(type_name::<Fun>());
                let zst = std::mem::size_of::<Fun>() == 0;
                let f = Func::from_typed::<Fun, _>(move |args: &[Value]| {
                    if args.len() != $n {
                        return Err(arity_failure(label, $n, args.len()));
                    }
                    let mut i = 0usize;
                    $(let $a: $a = arg(label, args, i)?; i += 1;)*
                    (self)($($a),*).into_output()
                });
                if zst {
                    remember(TypeId::of::<Fun>(), &f);
                }
                f
            }
        }
    };
}
into_func!(0;);
into_func!(1; A1);
into_func!(2; A1, A2);
into_func!(3; A1, A2, A3);
into_func!(4; A1, A2, A3, A4);
into_func!(5; A1, A2, A3, A4, A5);
into_func!(6; A1, A2, A3, A4, A5, A6);
into_func!(7; A1, A2, A3, A4, A5, A6, A7);
into_func!(8; A1, A2, A3, A4, A5, A6, A7, A8);

fn zst_cache() -> &'static parking_lot::RwLock<rustc_hash::FxHashMap<TypeId, Func>> {
    static CACHE: OnceLock<parking_lot::RwLock<rustc_hash::FxHashMap<TypeId, Func>>> =
        OnceLock::new();
    CACHE.get_or_init(Default::default)
}

fn cached(tid: TypeId) -> Option<Func> {
    zst_cache().read().get(&tid).cloned()
}

fn remember(tid: TypeId, f: &Func) {
    zst_cache().write().entry(tid).or_insert_with(|| f.clone());
}

/// A function registered by name (submitted by [`crate::register!`]).
pub struct FunctionEntry {
    /// The stable name.
    pub name: &'static str,
    /// The `fn` item's type id (a function because `TypeId::of` is not const).
    pub type_id: fn() -> TypeId,
    /// Build the [`Func`].
    pub make: fn() -> Func,
}

inventory::collect!(FunctionEntry);

struct NamedEntry {
    entry: &'static FunctionEntry,
    func: OnceLock<Func>,
}

struct Registry {
    by_type: HashMap<TypeId, &'static str>,
    by_name: HashMap<&'static str, NamedEntry>,
}

fn registry() -> &'static Registry {
    static REG: OnceLock<Registry> = OnceLock::new();
    REG.get_or_init(|| {
        let mut by_type = HashMap::new();
        let mut by_name = HashMap::new();
        for e in inventory::iter::<FunctionEntry> {
            let tid = (e.type_id)();
            if let Some(prev) = by_type.insert(tid, e.name)
                && prev != e.name
            {
                tracing::warn!(
                    first = prev,
                    second = e.name,
                    "one function registered twice"
                );
            }
            by_name.insert(
                e.name,
                NamedEntry {
                    entry: e,
                    func: OnceLock::new(),
                },
            );
        }
        Registry { by_type, by_name }
    })
}

fn registered_name(tid: TypeId) -> Option<&'static str> {
    registry().by_type.get(&tid).copied()
}

/// The names of all registered functions, sorted.
pub fn registered_functions() -> Vec<&'static str> {
    let mut v: Vec<_> = registry().by_name.keys().copied().collect();
    v.sort_unstable();
    v
}

/// The `TypeId` of a value's type (used by [`crate::register!`]).
pub fn type_id_of_val<T: 'static>(_: &T) -> TypeId {
    TypeId::of::<T>()
}

/// Register named functions so that tasks calling them can run in another process of the same
/// binary. Use it once, at module level, next to the functions:
///
/// ```
/// fn inc(x: i64) -> i64 { x + 1 }
/// fn add(x: i64, y: i64) -> i64 { x + y }
/// brisk_core::register!(inc, add);
///
/// let f = brisk_core::Func::new(inc);
/// assert!(f.name().unwrap().ends_with("::inc"));
/// assert_eq!(brisk_core::Func::by_name(f.name().unwrap()).unwrap().label(), "inc");
/// ```
///
/// A name can be chosen with `register!(inc as "math.inc")`.
#[macro_export]
macro_rules! register {
    ($($f:path $(as $name:literal)?),+ $(,)?) => {$(
        $crate::__private::inventory::submit! {
            $crate::func::FunctionEntry {
                name: $crate::__register_name!($f $(, $name)?),
                type_id: || $crate::func::type_id_of_val(&$f),
                make: || $crate::Func::new($f),
            }
        }
    )+};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __register_name {
    ($f:path) => {
        concat!(module_path!(), "::", stringify!($f))
    };
    ($f:path, $name:literal) => {
        $name
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FailureKind;

    fn inc(x: i64) -> i64 {
        x + 1
    }
    fn parse(s: String) -> Result<i64, std::num::ParseIntError> {
        s.parse()
    }
    crate::register!(inc, parse as "test.parse");

    #[test]
    fn names_follow_the_fn() {
        let f = Func::new(inc);
        assert_eq!(f.name(), Some("brisk_core::func::tests::inc"));
        assert_eq!(Func::new(parse).name(), Some("test.parse"));
        let c = Func::new(|x: i64| x * 2);
        assert_eq!(c.name(), None);
        assert_eq!(c.label(), "closure");
        assert!(registered_functions().contains(&"test.parse"));
        assert!(matches!(
            Func::by_name("nope"),
            Err(Error::UnknownFunction { .. })
        ));
    }

    #[test]
    fn errors_and_arity() {
        let f = Func::new(parse);
        let e = f.call(&[Value::from("x1")]).unwrap_err();
        assert_eq!(e.kind, FailureKind::Error);
        assert!(e.downcast_ref::<std::num::ParseIntError>().is_some());
        let e = f.call(&[]).unwrap_err();
        assert_eq!(e.kind, FailureKind::BadArgument);
        assert!(e.message.contains("takes 1 argument"), "{}", e.message);
        let e = Func::new(inc).call(&[Value::from("x")]).unwrap_err();
        assert!(e.message.contains("argument 1 of inc"), "{}", e.message);
    }
}
