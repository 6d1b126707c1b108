//! Graphs that cross a process boundary: functions travel by registered name, literals by their
//! registered encoding ([`crate::codec`]). An unregistered closure is a clear error naming its
//! task, before anything is sent.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::plan::{PArg, PlanTask};
use crate::{Arg, Func, Graph, Key, Node, Task, Value, codec};

/// A key on the wire.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WireKey {
    /// The name.
    pub name: String,
    /// The index tuple.
    pub index: Vec<u32>,
}

/// A value on the wire: its type tag and encoded bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireValue {
    /// The registered type tag.
    pub tag: String,
    /// The encoded bytes.
    #[serde(with = "serde_bytes_compat")]
    pub bytes: Vec<u8>,
}

/// An argument on the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum WireArg {
    /// A key reference.
    Key(WireKey),
    /// A literal.
    Literal(WireValue),
    /// A nested task.
    Task(WireTask),
    /// A list.
    List(Vec<WireArg>),
}

/// A task on the wire: a registered function name and arguments.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireTask {
    /// The function's registered name.
    pub func: String,
    /// The arguments.
    pub args: Vec<WireArg>,
}

/// A node on the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum WireNode {
    /// A literal.
    Literal(WireValue),
    /// A task.
    Task(WireTask),
    /// An alias.
    Alias(WireKey),
}

mod serde_bytes_compat {
    use serde::{Deserializer, Serializer};
    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(b)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Vec<u8>, A::Error> {
                let mut out = Vec::new();
                while let Some(b) = a.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(out)
            }
        }
        d.deserialize_bytes(V)
    }
}

impl From<&Key> for WireKey {
    fn from(k: &Key) -> Self {
        WireKey {
            name: k.name().to_string(),
            index: k.index().to_vec(),
        }
    }
}

impl From<&WireKey> for Key {
    fn from(k: &WireKey) -> Self {
        Key::new(k.name.as_str(), &k.index)
    }
}

/// Encode a value for another process.
pub fn encode_value(key: &Key, v: &Value) -> Result<WireValue, Error> {
    let (tag, bytes) = codec::encode(v).map_err(|source| Error::Codec {
        context: format!("literal in {key}"),
        source,
    })?;
    Ok(WireValue {
        tag: tag.to_string(),
        bytes,
    })
}

/// Decode a value from another process.
pub fn decode_value(key: &Key, v: &WireValue) -> Result<Value, Error> {
    codec::decode(&v.tag, &v.bytes).map_err(|source| Error::Codec {
        context: format!("literal in {key}"),
        source,
    })
}

fn encode_task(key: &Key, t: &Task) -> Result<WireTask, Error> {
    let func = t.func.name().ok_or_else(|| Error::UnregisteredFunction {
        key: key.clone(),
        function: t.func.type_name().to_string(),
    })?;
    // Bound arguments travel as leading literals: the receiver calls the plain function.
    let mut args = Vec::with_capacity(t.func.bound().len() + t.args.len());
    for v in t.func.bound() {
        args.push(WireArg::Literal(encode_value(key, v)?));
    }
    for a in &t.args {
        args.push(encode_arg(key, a)?);
    }
    Ok(WireTask {
        func: func.to_string(),
        args,
    })
}

fn encode_arg(key: &Key, a: &Arg) -> Result<WireArg, Error> {
    Ok(match a {
        Arg::Key(k) => WireArg::Key(k.into()),
        Arg::Literal(v) => WireArg::Literal(encode_value(key, v)?),
        Arg::Task(t) => WireArg::Task(encode_task(key, t)?),
        Arg::List(items) => WireArg::List(
            items
                .iter()
                .map(|a| encode_arg(key, a))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// Encode one node for another process.
pub fn encode_node(key: &Key, node: &Node) -> Result<WireNode, Error> {
    Ok(match node {
        Node::Literal(v) => WireNode::Literal(encode_value(key, v)?),
        Node::Task(t) => WireNode::Task(encode_task(key, t)?),
        Node::Alias(k) => WireNode::Alias(k.into()),
    })
}

fn decode_task(key: &Key, t: &WireTask) -> Result<Task, Error> {
    Ok(Task {
        func: Func::by_name(&t.func)?,
        args: t
            .args
            .iter()
            .map(|a| decode_arg(key, a))
            .collect::<Result<_, _>>()?,
    })
}

fn decode_arg(key: &Key, a: &WireArg) -> Result<Arg, Error> {
    Ok(match a {
        WireArg::Key(k) => Arg::Key(k.into()),
        WireArg::Literal(v) => Arg::Literal(decode_value(key, v)?),
        WireArg::Task(t) => Arg::Task(Box::new(decode_task(key, t)?)),
        WireArg::List(items) => Arg::List(
            items
                .iter()
                .map(|a| decode_arg(key, a))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// Decode one node from another process.
pub fn decode_node(key: &Key, node: &WireNode) -> Result<Node, Error> {
    Ok(match node {
        WireNode::Literal(v) => Node::Literal(decode_value(key, v)?),
        WireNode::Task(t) => Node::Task(decode_task(key, t)?),
        WireNode::Alias(k) => Node::Alias(k.into()),
    })
}

/// A compiled argument on the wire (see [`crate::plan::PArg`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum WirePArg {
    /// The dependency at this slot of the task's dependency list.
    Dep(u32),
    /// A literal.
    Lit(WireValue),
    /// A nested task.
    Task(WirePlanTask),
    /// A list.
    List(Vec<WirePArg>),
}

/// A compiled task on the wire (see [`crate::plan::PlanTask`]): what the distributed runtime
/// sends to a worker, which runs it with [`crate::eval::run_task`] after decoding.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WirePlanTask {
    /// The function's registered name.
    pub func: String,
    /// The arguments.
    pub args: Vec<WirePArg>,
    /// The key of a task fused into its consumer.
    pub fused_key: Option<WireKey>,
    /// The program (its content hash) whose functions this task needs, when the client
    /// uploaded it: a worker that does not know the function runs the task in that program.
    #[serde(default)]
    pub exe: Option<String>,
}

/// Encode a compiled task for another process; an unregistered closure or an unregistered
/// literal type is a clear error naming `key`, before anything is sent.
pub fn encode_plan_task(key: &Key, t: &PlanTask) -> Result<WirePlanTask, Error> {
    let func = t.func.name().ok_or_else(|| Error::UnregisteredFunction {
        key: t.fused_key.clone().unwrap_or_else(|| key.clone()),
        function: t.func.type_name().to_string(),
    })?;
    // Bound arguments travel as leading literals: the receiver calls the plain function.
    let mut args = Vec::with_capacity(t.func.bound().len() + t.args.len());
    for v in t.func.bound() {
        args.push(WirePArg::Lit(encode_value(key, v)?));
    }
    for a in &t.args {
        args.push(encode_parg(key, a)?);
    }
    Ok(WirePlanTask {
        func: func.to_string(),
        args,
        fused_key: t.fused_key.as_ref().map(WireKey::from),
        exe: None,
    })
}

fn encode_parg(key: &Key, a: &PArg) -> Result<WirePArg, Error> {
    Ok(match a {
        PArg::Dep(slot) => WirePArg::Dep(*slot),
        PArg::Lit(v) => WirePArg::Lit(encode_value(key, v)?),
        PArg::Task(t) => WirePArg::Task(encode_plan_task(key, t)?),
        PArg::List(items) => WirePArg::List(
            items
                .iter()
                .map(|a| encode_parg(key, a))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// Decode a compiled task made by [`encode_plan_task`]; an unknown function name is
/// [`Error::UnknownFunction`].
pub fn decode_plan_task(key: &Key, t: &WirePlanTask) -> Result<PlanTask, Error> {
    Ok(PlanTask {
        func: Func::by_name(&t.func)?,
        args: t
            .args
            .iter()
            .map(|a| decode_parg(key, a))
            .collect::<Result<_, _>>()?,
        fused_key: t.fused_key.as_ref().map(Key::from),
    })
}

fn decode_parg(key: &Key, a: &WirePArg) -> Result<PArg, Error> {
    Ok(match a {
        WirePArg::Dep(slot) => PArg::Dep(*slot),
        WirePArg::Lit(v) => PArg::Lit(decode_value(key, v)?),
        WirePArg::Task(t) => PArg::Task(Box::new(decode_plan_task(key, t)?)),
        WirePArg::List(items) => PArg::List(
            items
                .iter()
                .map(|a| decode_parg(key, a))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// Encode a whole graph (sorted by key, so equal graphs encode equally).
pub fn encode_graph(graph: &Graph) -> Result<Vec<u8>, Error> {
    let mut nodes = Vec::with_capacity(graph.len());
    for k in graph.sorted_keys() {
        if let Some(n) = graph.get(k) {
            nodes.push((WireKey::from(k), encode_node(k, n)?));
        }
    }
    rmp_serde::to_vec(&nodes).map_err(|e| Error::Codec {
        context: "graph".into(),
        source: crate::CodecError::Encode {
            type_name: "Graph",
            message: e.to_string(),
        },
    })
}

/// Decode a graph made by [`encode_graph`].
pub fn decode_graph(bytes: &[u8]) -> Result<Graph, Error> {
    let nodes: Vec<(WireKey, WireNode)> =
        rmp_serde::from_slice(bytes).map_err(|e| Error::Codec {
            context: "graph".into(),
            source: crate::CodecError::Decode {
                tag: "graph".into(),
                message: e.to_string(),
            },
        })?;
    let mut g = Graph::with_capacity(nodes.len());
    for (k, n) in &nodes {
        let key = Key::from(k);
        let node = decode_node(&key, n)?;
        g.insert(key, node)?;
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Plan, PlanOptions, graph};

    fn inc(x: i64) -> i64 {
        x + 1
    }
    fn add(x: i64, y: i64) -> i64 {
        x + y
    }
    crate::register!(inc, add);

    #[test]
    fn plan_tasks_round_trip_and_closures_are_named() {
        let g = graph! { "a" => 1, "b" => (inc, "a"), "c" => (inc, "b"), "d" => (add, "c", 10) };
        let plan = Plan::compile(
            &g,
            &["d".into()],
            &PlanOptions {
                fuse: true,
                ..PlanOptions::default()
            },
        )
        .unwrap();
        let id = plan.outputs()[0];
        let crate::plan::PlanNode::Task(t) = plan.node(id) else {
            panic!("expected a task")
        };
        let w = encode_plan_task(plan.key(id), t).unwrap();
        let bytes = rmp_serde::to_vec(&w).unwrap();
        let back: WirePlanTask = rmp_serde::from_slice(&bytes).unwrap();
        let t2 = decode_plan_task(plan.key(id), &back).unwrap();
        let out = crate::eval::run_task(&t2, &[]).unwrap();
        assert_eq!(out.get::<i64>().unwrap(), 13);

        let g = graph! { "a" => 1, "b" => (|x: i64| x * 2, "a") };
        let plan = Plan::compile(&g, &["b".into()], &PlanOptions::default()).unwrap();
        let id = plan.outputs()[0];
        let crate::plan::PlanNode::Task(t) = plan.node(id) else {
            panic!("expected a task")
        };
        let err = encode_plan_task(plan.key(id), t).unwrap_err();
        assert!(matches!(err, Error::UnregisteredFunction { .. }), "{err}");
        let bad = WirePlanTask {
            func: "no.such.fn".into(),
            args: vec![],
            fused_key: None,
            exe: None,
        };
        assert!(matches!(
            decode_plan_task(&"k".into(), &bad),
            Err(Error::UnknownFunction { .. })
        ));
    }

    fn scale_by(factor: &i64, x: i64) -> i64 {
        factor * x
    }
    // A `&P` parameter is read as an owned value: what `#[brisk::func]` generates.
    inventory::submit! {
        crate::func::FunctionEntry {
            name: "test.scale_by",
            type_id: || crate::func::type_id_of_val(&scale_by),
            make: || Func::named_raw("test.scale_by", "scale_by", |args: &[Value]| {
                let f: i64 = crate::func::func_arg(args, 0, "scale_by")?;
                let x: i64 = crate::func::func_arg(args, 1, "scale_by")?;
                Ok(Value::from(scale_by(&f, x)))
            }),
        }
    }

    #[test]
    fn bound_functions_travel_as_tasks_and_as_values() {
        use crate::func::Bind;
        // As a task's function: the bound argument becomes a leading literal.
        let g = graph! { "a" => 5, "b" => (scale_by.with(3i64), "a") };
        let bytes = encode_graph(&g).unwrap();
        let g2 = decode_graph(&bytes).unwrap();
        let Some(Node::Task(t)) = g2.get(&"b".into()) else {
            panic!("expected a task")
        };
        assert_eq!(t.args.len(), 2);
        let out = t
            .func
            .call(&[Value::from(3i64), Value::from(5i64)])
            .unwrap();
        assert_eq!(out.get::<i64>().unwrap(), 15);
        // As a value (what collections pass to their kernels).
        let f = Func::new(scale_by.with(4i64));
        let (tag, bytes) = crate::codec::encode(&Value::new(f)).unwrap();
        let back = crate::codec::decode(tag, &bytes).unwrap();
        let f2 = back.downcast_ref::<Func>().unwrap();
        assert_eq!(f2.bound().len(), 1);
        let out = f2.call(&[Value::from(2i64)]).unwrap();
        assert_eq!(out.get::<i64>().unwrap(), 8);
        // A closure cannot travel, as a value either, and the error says what to do.
        let c = Func::new(|x: i64| x);
        let err = crate::codec::encode(&Value::new(c))
            .unwrap_err()
            .to_string();
        assert!(err.contains("#[brisk::func]"), "{err}");
        // An unregistered fn used with `.with` runs locally and has no name, so sending it is
        // an error naming it.
        fn local(a: &i64, b: i64) -> i64 {
            a + b
        }
        let f = Func::new(local.with(1i64));
        assert!(f.name().is_none());
        assert_eq!(
            f.call(&[Value::from(1i64)]).unwrap().get::<i64>().unwrap(),
            2
        );
        let g = graph! { "x" => (local.with(1i64), 5) };
        assert!(matches!(
            encode_graph(&g),
            Err(Error::UnregisteredFunction { .. })
        ));
    }
}
