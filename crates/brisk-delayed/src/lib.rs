//! # brisk-delayed: lazy function calls (dask.delayed for Rust)
//!
//! Wrap a function with [`delayed()`] and call it with [`DelayedFn::call`] (or the
//! [`delayed!`] macro): nothing runs, you get a [`Delayed<T>`] that remembers the call. Pass
//! `Delayed` values and plain values alike as arguments; compute one result with
//! [`Delayed::compute`], or several at once, sharing their common work, with
//! [`brisk_core::compute`].
//!
//! ```
//! use brisk_delayed::{delayed, Delayed};
//! use brisk_core::{Collection, compute};
//! # brisk_local::LocalScheduler::threaded(); // the default scheduler is linked in
//! fn inc(x: i64) -> i64 { x + 1 }
//! fn add(x: i64, y: i64) -> i64 { x + y }
//!
//! let x = delayed(inc).call(1);                  // inc(1), lazily
//! let y = delayed(inc).call(&x);                 // inc(inc(1))
//! let z = brisk_delayed::delayed!(add(&x, &y));  // the macro reads like a call
//! assert_eq!(z.compute().unwrap(), 5);
//! let (a, b) = compute((&y, &z)).unwrap();       // x runs once for both
//! assert_eq!((a, b), (3, 5));
//! ```
//!
//! Arguments are typed: a `Delayed<i32>` cannot be passed where the function takes a `String`.
//! A function may return `Result<T, E>`; an `Err` fails the computation with a
//! [`brisk_core::Error::TaskFailed`] naming the call's key.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use brisk_core::{
    Arg, Collection, ComputeOptions, Error, FromValue, Func, IntoFunc, IntoTaskOutput, IntoValue,
    Key, Layer, Node, Task, Value, tokenize,
};

/// A lazy value: the key of a call in a task graph, plus the graph that computes it.
pub struct Delayed<T> {
    key: Key,
    layer: Arc<Layer>,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for Delayed<T> {
    fn clone(&self) -> Self {
        Delayed {
            key: self.key.clone(),
            layer: Arc::clone(&self.layer),
            _t: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Delayed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Delayed({:?})", self.key)
    }
}

impl<T> Delayed<T> {
    /// The key of this value in its graph.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// The layer that defines this value.
    pub fn layer(&self) -> &Arc<Layer> {
        &self.layer
    }

    /// Forget the static type (for heterogeneous lists).
    pub fn erase(&self) -> Delayed<Value> {
        Delayed {
            key: self.key.clone(),
            layer: Arc::clone(&self.layer),
            _t: PhantomData,
        }
    }
}

impl<T: IntoValue> Delayed<T> {
    /// A delayed wrapper around a value that is already known (`dask.delayed(obj)`).
    pub fn value(v: T) -> Delayed<T> {
        let name = tokenize(short_type_name::<T>());
        let key = Key::from(&*name);
        let layer = Layer::from_nodes(
            name,
            vec![(key.clone(), Node::Literal(v.into_value()))],
            vec![],
        );
        Delayed {
            key,
            layer,
            _t: PhantomData,
        }
    }
}

fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

impl<T: FromValue> Delayed<T> {
    /// Compute the value and keep it in memory: the returned `Delayed` has no work left, so
    /// everything built on it starts from the stored value.
    pub fn persist(&self) -> Result<Delayed<T>, Error> {
        let values = brisk_core::default_scheduler()?.persist(
            &self.graph(),
            std::slice::from_ref(&self.key),
            &ComputeOptions::optimized(),
        )?;
        let v = values.into_iter().next().ok_or(Error::Cancelled)?;
        let layer = Layer::from_nodes(
            tokenize("persisted"),
            vec![(self.key.clone(), Node::Literal(v))],
            vec![],
        );
        Ok(Delayed {
            key: self.key.clone(),
            layer,
            _t: PhantomData,
        })
    }
}

impl<T: FromValue> Collection for Delayed<T> {
    type Output = T;

    fn layers(&self) -> Vec<Arc<Layer>> {
        vec![Arc::clone(&self.layer)]
    }

    fn output_keys(&self) -> Vec<Key> {
        vec![self.key.clone()]
    }

    fn finalize(&self, values: Vec<Value>) -> Result<T, Error> {
        let v = values.into_iter().next().ok_or(Error::Cancelled)?;
        v.get::<T>().map_err(|mismatch| Error::WrongType {
            key: self.key.clone(),
            mismatch,
        })
    }
}

/// An argument of a delayed call: a `Delayed<T>` (by value or reference), a plain `T`, or a
/// `Vec` of `Delayed<T>` for a `Vec<T>` parameter.
pub trait IntoDelayedArg<T> {
    /// The argument and the layer it comes from, if any.
    fn into_delayed_arg(self, layers: &mut Vec<Arc<Layer>>) -> Arg;
}

impl<T> IntoDelayedArg<T> for Delayed<T> {
    fn into_delayed_arg(self, layers: &mut Vec<Arc<Layer>>) -> Arg {
        push_layer(layers, &self.layer);
        Arg::Key(self.key)
    }
}

impl<T> IntoDelayedArg<T> for &Delayed<T> {
    fn into_delayed_arg(self, layers: &mut Vec<Arc<Layer>>) -> Arg {
        push_layer(layers, &self.layer);
        Arg::Key(self.key.clone())
    }
}

impl<T: IntoValue> IntoDelayedArg<T> for T {
    fn into_delayed_arg(self, _: &mut Vec<Arc<Layer>>) -> Arg {
        Arg::Literal(self.into_value())
    }
}

impl<T> IntoDelayedArg<Vec<T>> for Vec<Delayed<T>> {
    fn into_delayed_arg(self, layers: &mut Vec<Arc<Layer>>) -> Arg {
        Arg::List(
            self.into_iter()
                .map(|d| d.into_delayed_arg(layers))
                .collect(),
        )
    }
}

impl<T> IntoDelayedArg<Vec<T>> for &[Delayed<T>] {
    fn into_delayed_arg(self, layers: &mut Vec<Arc<Layer>>) -> Arg {
        Arg::List(self.iter().map(|d| d.into_delayed_arg(layers)).collect())
    }
}

fn push_layer(layers: &mut Vec<Arc<Layer>>, l: &Arc<Layer>) {
    if !layers.iter().any(|x| Arc::ptr_eq(x, l)) {
        layers.push(Arc::clone(l));
    }
}

/// A function made lazy by [`delayed()`]; `M` records its signature.
pub struct DelayedFn<M> {
    func: Func,
    _m: PhantomData<M>,
}

impl<M> Clone for DelayedFn<M> {
    fn clone(&self) -> Self {
        DelayedFn {
            func: self.func.clone(),
            _m: PhantomData,
        }
    }
}

/// Make a function lazy: `delayed(f).call(a, b)` is a [`Delayed`] of `f(a, b)`.
pub fn delayed<M, F: IntoFunc<M>>(f: F) -> DelayedFn<M> {
    DelayedFn {
        func: f.into_func(),
        _m: PhantomData,
    }
}

impl<M> DelayedFn<M> {
    fn apply<T>(&self, args: Vec<Arg>, layers: Vec<Arc<Layer>>) -> Delayed<T> {
        let name = tokenize(self.func.label());
        let key = Key::from(&*name);
        let task = Task {
            func: self.func.clone(),
            args,
        };
        let layer = Layer::from_nodes(name, vec![(key.clone(), Node::Task(task))], layers);
        Delayed {
            key,
            layer,
            _t: PhantomData,
        }
    }
}

macro_rules! call_arity {
    ($($a:ident $p:ident),*) => {
        impl<R: IntoTaskOutput, $($a),*> DelayedFn<fn($($a,)*) -> R> {
            /// A lazy call with these arguments.
            #[allow(clippy::too_many_arguments, unused_mut)]
            pub fn call(&self, $($p: impl IntoDelayedArg<$a>),*) -> Delayed<R::Output> {
                let mut layers = Vec::new();
                let args = vec![$($p.into_delayed_arg(&mut layers)),*];
                self.apply(args, layers)
            }
        }
    };
}
call_arity!();
call_arity!(A1 a1);
call_arity!(A1 a1, A2 a2);
call_arity!(A1 a1, A2 a2, A3 a3);
call_arity!(A1 a1, A2 a2, A3 a3, A4 a4);
call_arity!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5);
call_arity!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6);
call_arity!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7);
call_arity!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8);

/// A lazy call that reads like a call: `delayed!(add(x, 1))` is `delayed(add).call(x, 1)`.
#[macro_export]
macro_rules! delayed {
    ($($f:ident)::+ ( $($a:expr),* $(,)? )) => {
        $crate::delayed($($f)::+).call($($a),*)
    };
}
