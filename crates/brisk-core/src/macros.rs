//! `graph!` and `task!`: graphs that read like the talk's dict.

/// A task graph written like the talk's dict.
///
/// A key is a string or a `("name", i, j…)` tuple. A node is a literal (`1`, `lit("text")`,
/// any expression of a literal type), a task `(function, arg, …)`, or a key name (an alias).
/// Task arguments are key names (`"a"`, `("x", 0)`), literals (`5`, `lit(vec![1, 2])`), nested
/// tasks `(f, …)` or lists `["a", "b"]`.
///
/// ```
/// use brisk_core::{graph, lit};
/// fn inc(x: i64) -> i64 { x + 1 }
/// fn add(x: i64, y: i64) -> i64 { x + y }
/// fn total(xs: Vec<i64>) -> i64 { xs.iter().sum() }
///
/// let dsk = graph! {
///     "a" => 1,
///     "x" => 10,
///     "b" => (inc, "a"),
///     "y" => (inc, "x"),
///     "z" => (add, "b", "y"),
///     ("part", 0) => (add, "z", -3),
///     "all" => (total, ["z", ("part", 0), (inc, 100)]),
///     "label" => lit("text"),
/// };
/// assert_eq!(dsk.len(), 8);
/// ```
///
/// A key written twice is reported when the graph is validated or run.
#[macro_export]
macro_rules! graph {
    (@acc $g:ident;) => {};
    (@acc $g:ident; $k:expr => ( $($t:tt)* ) $(, $($rest:tt)*)?) => {
        $g.insert_noting_duplicates($k, $crate::task!($($t)*));
        $crate::graph!(@acc $g; $($($rest)*)?);
    };
    (@acc $g:ident; $k:expr => $e:expr $(, $($rest:tt)*)?) => {
        $g.insert_noting_duplicates($k, $crate::IntoNode::into_node($e));
        $crate::graph!(@acc $g; $($($rest)*)?);
    };
    ($($t:tt)*) => {{
        #[allow(unused_mut)]
        let mut g = $crate::Graph::new();
        $crate::graph!(@acc g; $($t)*);
        g
    }};
}

/// A task `(function, arg, …)` with the argument rules of [`graph!`].
///
/// ```
/// fn add(x: i64, y: i64) -> i64 { x + y }
/// let t = brisk_core::task!(add, "a", 1);
/// assert_eq!(format!("{t:?}"), "(add, 'a', 1)");
/// ```
#[macro_export]
macro_rules! task {
    ($f:expr $(, $($args:tt)*)?) => {
        $crate::Task::new($f, $crate::__task_args!([] $($($args)*)?))
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __task_args {
    ([$($out:expr),*]) => { ::std::vec![$($out),*] };
    ([$($out:expr),*] ( $first:literal $(, $i:expr)* $(,)? ) $(, $($rest:tt)*)?) => {
        $crate::__task_args!(
            [$($out,)* $crate::Arg::Key($crate::Key::from(($first $(, $i)*)))]
            $($($rest)*)?
        )
    };
    ([$($out:expr),*] ( $($t:tt)* ) $(, $($rest:tt)*)?) => {
        $crate::__task_args!(
            [$($out,)* $crate::IntoArg::into_arg($crate::task!($($t)*))]
            $($($rest)*)?
        )
    };
    ([$($out:expr),*] [ $($t:tt)* ] $(, $($rest:tt)*)?) => {
        $crate::__task_args!(
            [$($out,)* $crate::Arg::List($crate::__task_args!([] $($t)*))]
            $($($rest)*)?
        )
    };
    ([$($out:expr),*] $e:expr $(, $($rest:tt)*)?) => {
        $crate::__task_args!([$($out,)* $crate::IntoArg::into_arg($e)] $($($rest)*)?)
    };
}
