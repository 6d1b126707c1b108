//! Tasks and graph nodes: a function plus arguments; a node is a literal, a task or an alias.

use std::fmt;

use crate::{Func, IntoFunc, Key, Value};

/// One argument of a task.
#[derive(Clone)]
pub enum Arg {
    /// The value of another key in the graph.
    Key(Key),
    /// A literal value.
    Literal(Value),
    /// A nested task, evaluated in place when the outer task runs.
    Task(Box<Task>),
    /// A list of arguments; evaluates to a list [`Value`] (readable as a `Vec<T>`).
    List(Vec<Arg>),
}

/// A function plus its arguments.
#[derive(Clone)]
pub struct Task {
    /// The function to call.
    pub func: Func,
    /// Its arguments, in order.
    pub args: Vec<Arg>,
}

/// One node of a graph.
#[derive(Clone)]
pub enum Node {
    /// A value that is already known.
    Literal(Value),
    /// A computation.
    Task(Task),
    /// Another key's value under this name.
    Alias(Key),
}

impl Task {
    /// A task calling `func` with `args`.
    pub fn new<M>(func: impl IntoFunc<M>, args: Vec<Arg>) -> Self {
        Task {
            func: func.into_func(),
            args,
        }
    }

    /// Call `f` on every key this task refers to (with repeats, in argument order).
    pub fn for_each_dependency<'a>(&'a self, f: &mut impl FnMut(&'a Key)) {
        for a in &self.args {
            a.for_each_dependency(f);
        }
    }
}

impl Arg {
    /// Call `f` on every key this argument refers to.
    pub fn for_each_dependency<'a>(&'a self, f: &mut impl FnMut(&'a Key)) {
        match self {
            Arg::Key(k) => f(k),
            Arg::Literal(_) => {}
            Arg::Task(t) => t.for_each_dependency(f),
            Arg::List(items) => {
                for a in items {
                    a.for_each_dependency(f);
                }
            }
        }
    }
}

impl Node {
    /// Call `f` on every key this node refers to.
    pub fn for_each_dependency<'a>(&'a self, f: &mut impl FnMut(&'a Key)) {
        match self {
            Node::Literal(_) => {}
            Node::Task(t) => t.for_each_dependency(f),
            Node::Alias(k) => f(k),
        }
    }

    /// The keys this node refers to, without repeats, in first-use order.
    pub fn dependencies(&self) -> Vec<Key> {
        let mut out: Vec<Key> = Vec::new();
        self.for_each_dependency(&mut |k| {
            if !out.contains(k) {
                out.push(k.clone());
            }
        });
        out
    }
}

impl fmt::Debug for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Key(k) => write!(f, "{k:?}"),
            Arg::Literal(v) => write!(f, "{v:?}"),
            Arg::Task(t) => write!(f, "{t:?}"),
            Arg::List(items) => f.debug_list().entries(items).finish(),
        }
    }
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}", self.func.label())?;
        for a in &self.args {
            write!(f, ", {a:?}")?;
        }
        f.write_str(")")
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Literal(v) => write!(f, "{v:?}"),
            Node::Task(t) => write!(f, "{t:?}"),
            Node::Alias(k) => write!(f, "alias of {k:?}"),
        }
    }
}

/// A literal value for a task argument or a graph node, where a bare string would otherwise be
/// read as a key: `lit("text")`.
pub struct Lit(pub Value);

/// Wrap `v` as a literal argument or node.
pub fn lit(v: impl crate::IntoValue) -> Lit {
    Lit(v.into_value())
}

/// Things that can be a task argument: key names (`"a"`, `("x", 0)`, [`Key`]) refer to other
/// keys; numbers, `bool`s, [`Value`]s and [`lit`]s are literals; a [`Task`] nests.
pub trait IntoArg {
    /// Convert to an argument.
    fn into_arg(self) -> Arg;
}

/// Things that can be a graph node: key names become aliases; numbers, [`Value`]s and [`lit`]s
/// are literals; a [`Task`] is a computation.
pub trait IntoNode {
    /// Convert to a node.
    fn into_node(self) -> Node;
}

impl IntoArg for Arg {
    fn into_arg(self) -> Arg {
        self
    }
}
impl IntoArg for Task {
    fn into_arg(self) -> Arg {
        Arg::Task(Box::new(self))
    }
}
impl IntoArg for Lit {
    fn into_arg(self) -> Arg {
        Arg::Literal(self.0)
    }
}
impl IntoArg for Value {
    fn into_arg(self) -> Arg {
        Arg::Literal(self)
    }
}
impl IntoArg for Vec<Arg> {
    fn into_arg(self) -> Arg {
        Arg::List(self)
    }
}
impl IntoNode for Node {
    fn into_node(self) -> Node {
        self
    }
}
impl IntoNode for Task {
    fn into_node(self) -> Node {
        Node::Task(self)
    }
}
impl IntoNode for Lit {
    fn into_node(self) -> Node {
        Node::Literal(self.0)
    }
}
impl IntoNode for Value {
    fn into_node(self) -> Node {
        Node::Literal(self)
    }
}

macro_rules! key_like {
    ($($t:ty),+) => {$(
        impl IntoArg for $t {
            fn into_arg(self) -> Arg {
                Arg::Key(Key::from(self))
            }
        }
        impl IntoNode for $t {
            fn into_node(self) -> Node {
                Node::Alias(Key::from(self))
            }
        }
    )+};
}
key_like!(
    &str,
    String,
    &String,
    Key,
    &Key,
    (&str, usize),
    (&str, usize, usize),
    (&str, usize, usize, usize),
    (&str, usize, usize, usize, usize)
);

macro_rules! literal_like {
    ($($t:ty),+) => {$(
        impl IntoArg for $t {
            fn into_arg(self) -> Arg {
                Arg::Literal(Value::from(self))
            }
        }
        impl IntoNode for $t {
            fn into_node(self) -> Node {
                Node::Literal(Value::from(self))
            }
        }
    )+};
}
literal_like!(
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    f32,
    f64,
    bool,
    char,
    ()
);
