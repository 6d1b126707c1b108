//! Functions: what a task calls.
//!
//! In-process, any closure runs. To cross a process boundary a function needs a stable name:
//! write it as a named `fn` and register it with [`crate::register!`] (or the facade's
//! `#[brisk::func]`); every [`Func`] built from that `fn` then carries the name automatically,
//! and a worker running the same binary looks it up with [`Func::by_name`].
//!
//! Parameters travel with a function as *bound arguments*: [`Func::bind`] fixes its leading
//! arguments to values, which cross a process boundary as literals (so their types need a wire
//! encoding, see [`crate::codec`]); `f.with(p)` ([`Bind::with`]) is the typed spelling that
//! collections accept. A [`Func`] is itself a value that can cross a process boundary (its name
//! and bound arguments), so collections pass user functions to their own named kernels as
//! literal arguments. Registered functions can carry typed companions ([`HookEntry`]): code a
//! collection needs per function, such as a bag stage monomorphized for the function's record
//! type, found by the function's name with [`hooks`].

use std::any::{Any, TypeId, type_name};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::error::{CodecError, Error, TaskFailure};
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
    call: Arc<CallFn>,
    /// Leading arguments fixed by [`Func::bind`]: passed before the task's own.
    bound: Arc<[Value]>,
}

impl FuncInner {
    fn make(
        name: Option<&'static str>,
        label: &'static str,
        type_name: &'static str,
        call: Arc<CallFn>,
    ) -> Func {
        Func(Arc::new(FuncInner {
            name,
            label,
            type_name,
            call,
            bound: Arc::from(Vec::new()),
        }))
    }
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
        FuncInner::make(
            registered_name(TypeId::of::<F>()),
            label,
            type_name::<F>(),
            Arc::new(f),
        )
    }

    /// A raw function with an explicit registered name (for built-in kernels that are built
    /// from parameters, where the `fn` type alone does not identify them).
    pub fn named_raw<F>(name: &'static str, label: &'static str, f: F) -> Func
    where
        F: Fn(&[Value]) -> TaskResult + Send + Sync + 'static,
    {
        FuncInner::make(Some(name), label, type_name::<F>(), Arc::new(f))
    }

    fn from_typed<F, C>(call: C) -> Func
    where
        F: 'static,
        C: Fn(&[Value]) -> TaskResult + Send + Sync + 'static,
    {
        FuncInner::make(
            registered_name(TypeId::of::<F>()),
            short_label(type_name::<F>()),
            type_name::<F>(),
            Arc::new(call),
        )
    }

    /// Call the function on already computed arguments (after its bound ones).
    pub fn call(&self, args: &[Value]) -> TaskResult {
        if self.0.bound.is_empty() {
            return (self.0.call)(args);
        }
        let mut all = Vec::with_capacity(self.0.bound.len() + args.len());
        all.extend_from_slice(&self.0.bound);
        all.extend_from_slice(args);
        (self.0.call)(&all)
    }

    /// This function with its next leading arguments fixed to `args` (partial application).
    /// A registered function keeps its name: the bound values travel with it as literals.
    ///
    /// ```
    /// use brisk_core::{Func, Value};
    /// fn scale(factor: i64, x: i64) -> i64 { factor * x }
    /// brisk_core::register!(scale);
    /// let triple = Func::new(scale).bind(vec![Value::from(3i64)]);
    /// assert_eq!(triple.call(&[Value::from(5i64)]).unwrap().get::<i64>().unwrap(), 15);
    /// assert_eq!(triple.name(), Func::new(scale).name());
    /// assert_eq!(triple.bound().len(), 1);
    /// ```
    pub fn bind(&self, args: Vec<Value>) -> Func {
        let mut bound = self.0.bound.to_vec();
        bound.extend(args);
        Func(Arc::new(FuncInner {
            name: self.0.name,
            label: self.0.label,
            type_name: self.0.type_name,
            call: Arc::clone(&self.0.call),
            bound: Arc::from(bound),
        }))
    }

    /// The arguments fixed by [`Func::bind`], in order.
    pub fn bound(&self) -> &[Value] {
        &self.0.bound
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

    /// The registered function built from the `fn` item or closure type `F`, if `F` was
    /// registered.
    pub fn registered<F: 'static>() -> Option<Func> {
        registered_name(TypeId::of::<F>()).and_then(|n| Func::by_name(n).ok())
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

/// How `#[brisk::func]` reads an argument and writes a result of any type, with or without
/// [`FromValue`]/[`IntoValue`] impls (autoref specialization: the expansion calls
/// `(&&Slot::<T>::new()).read(..)` with both traits in scope, and method resolution picks the
/// impl for `&Slot<T>` when `T: FromValue`, else the one for `Slot<T>`, which reads a value
/// holding exactly a `T`). So a function over types of other crates (a Polars frame, an
/// `ndarray` block) can be registered, where the orphan rule forbids `FromValue` impls.
#[doc(hidden)]
pub mod macro_support {
    use std::any::Any;
    use std::marker::PhantomData;

    use super::{IntoTaskOutput, TaskResult, arg};
    use crate::{FromValue, TaskFailure, Value};

    /// An argument or result slot of type `T`.
    pub struct Slot<T>(PhantomData<fn() -> T>);

    impl<T> Slot<T> {
        /// The slot (only its type matters).
        pub fn new() -> Self {
            Slot(PhantomData)
        }
    }

    impl<T> Default for Slot<T> {
        fn default() -> Self {
            Slot::new()
        }
    }

    /// Arguments of types with [`FromValue`].
    pub trait ReadFromValue<T> {
        /// Argument `i` of `label`.
        fn read(&self, args: &[Value], i: usize, label: &str) -> Result<T, TaskFailure>;
    }
    impl<T: FromValue> ReadFromValue<T> for &Slot<T> {
        fn read(&self, args: &[Value], i: usize, label: &str) -> Result<T, TaskFailure> {
            arg(label, args, i)
        }
    }

    /// Arguments of any other clonable type: the value must hold exactly a `T`.
    pub trait ReadExact<T> {
        /// Argument `i` of `label`.
        fn read(&self, args: &[Value], i: usize, label: &str) -> Result<T, TaskFailure>;
    }
    impl<T: Any + Clone> ReadExact<T> for Slot<T> {
        fn read(&self, args: &[Value], i: usize, label: &str) -> Result<T, TaskFailure> {
            let v = args
                .get(i)
                .ok_or_else(|| super::arity_failure(label, i + 1, args.len()))?;
            crate::value::clone_exact::<T>(v).map_err(|m| {
                TaskFailure::bad_argument(format!("argument {} of {label}: {m}", i + 1))
            })
        }
    }

    /// Results of types with [`IntoTaskOutput`].
    pub trait WriteOutput<R> {
        /// The task's result.
        fn write(&self, r: R) -> TaskResult;
    }
    impl<R: IntoTaskOutput> WriteOutput<R> for &&Slot<R> {
        fn write(&self, r: R) -> TaskResult {
            r.into_output()
        }
    }

    /// `Result`s of any other type, whose error is an error.
    pub trait WriteResult<R> {
        /// The task's result.
        fn write(&self, r: R) -> TaskResult;
    }
    impl<T, E> WriteResult<Result<T, E>> for &Slot<Result<T, E>>
    where
        T: Any + Send + Sync,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        fn write(&self, r: Result<T, E>) -> TaskResult {
            r.map(Value::new)
                .map_err(|e| TaskFailure::from_error(e.into()))
        }
    }

    /// The task's arguments from `from` on, each borrowed as exactly a `T`: how a
    /// `#[brisk::func]` function whose last parameter is `&[&T]` (a block of each array of
    /// `blockwise`) receives the rest of the arguments, without copying them. An argument of
    /// another type is a bad-argument failure naming its position and `label`.
    pub fn read_rest<'a, T: Any>(
        args: &'a [Value],
        from: usize,
        label: &str,
    ) -> Result<Vec<&'a T>, TaskFailure> {
        let rest = args
            .get(from..)
            .ok_or_else(|| super::arity_failure(label, from, args.len()))?;
        rest.iter()
            .enumerate()
            .map(|(j, v)| {
                v.downcast_ref::<T>().map_err(|m| {
                    TaskFailure::bad_argument(format!("argument {} of {label}: {m}", from + j + 1))
                })
            })
            .collect()
    }

    /// Any other value, as it is.
    pub trait WriteAny<R> {
        /// The task's result.
        fn write(&self, r: R) -> TaskResult;
    }
    impl<R: Any + Send + Sync> WriteAny<R> for Slot<R> {
        fn write(&self, r: R) -> TaskResult {
            Ok(Value::new(r))
        }
    }
}

/// The failure of a task that gave `label` the wrong number of arguments (used by
/// `#[brisk::func]`'s expansion).
#[doc(hidden)]
pub fn arity_failure(label: &str, want: usize, got: usize) -> TaskFailure {
    TaskFailure::bad_argument(format!(
        "function {label} takes {want} argument(s) but the task gave {got}"
    ))
}

/// Read argument `i` of `label` as a `T` (used by `#[brisk::func]`'s expansion).
#[doc(hidden)]
pub fn func_arg<T: FromValue>(args: &[Value], i: usize, label: &str) -> Result<T, TaskFailure> {
    arg(label, args, i)
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

/// A function with its first argument fixed to `param`, made by [`Bind::with`]: how a
/// function's parameters travel with it. The function takes the parameter by reference
/// (`fn f(param: &P, x: A) -> R`), so a function called once per record borrows it instead of
/// cloning it. Collections accept it wherever they accept a function; a registered function
/// keeps its name, and `param` crosses a process boundary as a literal (its type needs a wire
/// encoding: built-in scalars, strings and their vectors have one, your own serde types get one
/// with `brisk::data!(T, serde)`). Several parameters are one tuple or struct.
#[derive(Clone, Debug)]
pub struct With<F, P> {
    /// The function.
    pub func: F,
    /// Its first argument.
    pub param: P,
}

/// `f.with(param)` for any function or closure: see [`With`].
///
/// ```
/// use brisk_core::func::Bind;
/// use brisk_core::{Func, Value};
/// fn scale(factor: &i64, x: i64) -> i64 { factor * x }
/// // Not registered: runs in this process only, as a closure over the parameter.
/// let f = Func::new(scale.with(3i64));
/// assert_eq!(f.call(&[Value::from(5i64)]).unwrap().get::<i64>().unwrap(), 15);
/// assert!(f.name().is_none());
/// ```
pub trait Bind<P>: Sized {
    /// Fix this function's first argument to `param`.
    fn with(self, param: P) -> With<Self, P> {
        With { func: self, param }
    }
}

impl<F, P> Bind<P> for F {}

macro_rules! with_into_func {
    ($n:expr; $($a:ident),*) => {
        impl<Fun, P, R, $($a),*> IntoFunc<fn($($a,)*) -> R> for With<Fun, P>
        where
            Fun: Fn(&P, $($a),*) -> R + Send + Sync + 'static,
            P: IntoValue + Clone + Send + Sync + 'static,
            R: IntoTaskOutput,
            $($a: FromValue,)*
        {
            /// The registered function behind `Fun` with the parameter bound (it travels with
            /// it); an unregistered one runs here only, as a closure over the parameter.
            #[allow(non_snake_case, unused_variables, unused_mut, unused_assignments)]
            fn into_func(self) -> Func {
                if let Some(f) = Func::registered::<Fun>() {
                    return f.bind(vec![self.param.into_value()]);
                }
                let With { func, param } = self;
                let label = short_label(type_name::<Fun>());
                FuncInner::make(
                    None,
                    label,
                    type_name::<Fun>(),
                    Arc::new(move |args: &[Value]| {
                        if args.len() != $n {
                            return Err(arity_failure(label, $n, args.len()));
                        }
                        let mut i = 0usize;
                        $(let $a: $a = arg(label, args, i)?; i += 1;)*
                        func(&param, $($a),*).into_output()
                    }),
                )
            }
        }
    };
}
with_into_func!(0;);
with_into_func!(1; A1);
with_into_func!(2; A1, A2);
with_into_func!(3; A1, A2, A3);
with_into_func!(4; A1, A2, A3, A4);
with_into_func!(5; A1, A2, A3, A4, A5);
with_into_func!(6; A1, A2, A3, A4, A5, A6);
with_into_func!(7; A1, A2, A3, A4, A5, A6, A7);

/// A typed companion of a registered function (submitted by collections' registration macros,
/// which `#[brisk::func]` calls): code a collection needs per function that the [`Func`] alone
/// cannot give, such as a bag stage monomorphized for the function's record types. A
/// collection defines the companion's type `H` and finds it with [`hooks`].
pub struct HookEntry {
    /// The function's registered name.
    pub name: &'static str,
    /// Build the companion (a collection's own type, boxed).
    pub make: fn() -> Box<dyn Any + Send + Sync>,
}

inventory::collect!(HookEntry);

/// The companion of type `H` registered for the function named `name`, if any.
pub fn hooks<H: Any + Send + Sync>(name: &str) -> Option<&'static H> {
    static BUILT: OnceLock<HashMap<&'static str, Vec<Box<dyn Any + Send + Sync>>>> =
        OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let mut m: HashMap<&'static str, Vec<Box<dyn Any + Send + Sync>>> = HashMap::new();
        for e in inventory::iter::<HookEntry> {
            m.entry(e.name).or_default().push((e.make)());
        }
        m
    });
    built.get(name)?.iter().find_map(|b| b.downcast_ref::<H>())
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

/// A function as a value that crosses a process boundary: its registered name and its bound
/// arguments (each with its own encoding). Collections pass user functions to their named
/// kernels this way.
mod wire_func {
    use super::*;
    use crate::codec::{self, TypeEntry};

    fn encode(value: &Value) -> Result<Vec<u8>, CodecError> {
        let f = value
            .downcast_ref::<Func>()
            .map_err(|m| CodecError::Encode {
                type_name: m.found,
                message: m.to_string(),
            })?;
        let name = f.name().ok_or_else(|| CodecError::Encode {
            type_name: f.type_name(),
            message: format!(
                "the function `{}` has no registered name, so it cannot run in another process: \
                 make it a named `fn` marked `#[brisk::func]` (or add `brisk::register!(..)` next \
                 to it); closures run on the local schedulers only",
                f.type_name()
            ),
        })?;
        let mut bound = Vec::with_capacity(f.bound().len());
        for v in f.bound() {
            let (tag, bytes) = codec::encode(v)?;
            bound.push((tag.to_string(), bytes));
        }
        rmp_serde::to_vec(&(name, bound)).map_err(|e| CodecError::Encode {
            type_name: "brisk_core::Func",
            message: e.to_string(),
        })
    }

    fn decode(bytes: &[u8]) -> Result<Value, CodecError> {
        let (name, bound): (String, Vec<(String, Vec<u8>)>) = rmp_serde::from_slice(bytes)
            .map_err(|e| CodecError::Decode {
                tag: "brisk_core::Func".into(),
                message: e.to_string(),
            })?;
        let f = Func::by_name(&name).map_err(|e| CodecError::Decode {
            tag: "brisk_core::Func".into(),
            message: e.to_string(),
        })?;
        let bound = bound
            .iter()
            .map(|(t, b)| codec::decode(t, b))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Value::new(if bound.is_empty() { f } else { f.bind(bound) }))
    }

    fn debug(value: &Value, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match value.downcast_ref::<Func>() {
            Ok(func) => write!(f, "{}", func.label()),
            Err(_) => write!(f, "<function>"),
        }
    }

    inventory::submit! {
        TypeEntry::new(type_name::<Func>, TypeId::of::<Func>, encode, decode).with_debug(debug)
    }
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
