//! [`NamedOnly`]: what a cluster of stock workers does with a graph, in this process.

use std::sync::Arc;

use brisk_core::{Arg, ComputeOptions, Error, Graph, Key, Node, Scheduler, Task, Value};

/// A scheduler that refuses a graph with any task a cluster's stock workers could not run (a
/// task calling a closure, not a function registered by name) with the error a cluster gives,
/// and runs every other graph on the scheduler it wraps.
pub struct NamedOnly(pub Arc<dyn Scheduler>);

impl Scheduler for NamedOnly {
    fn name(&self) -> &str {
        "named-only"
    }
    fn get(
        &self,
        graph: &Graph,
        keys: &[Key],
        options: &ComputeOptions,
    ) -> Result<Vec<Value>, Error> {
        fn closure(t: &Task) -> Option<&'static str> {
            if t.func.name().is_none() {
                return Some(t.func.label());
            }
            t.args.iter().find_map(|a| match a {
                Arg::Task(inner) => closure(inner),
                _ => None,
            })
        }
        for (k, n) in graph.iter() {
            if let Node::Task(t) = n
                && let Some(label) = closure(t)
            {
                return Err(Error::UnregisteredFunction {
                    key: k.clone(),
                    function: label.to_string(),
                });
            }
        }
        self.0.get(graph, keys, options)
    }
}

/// Run `f` with [`NamedOnly`] around `inner` as the default scheduler.
pub fn named_only<R>(inner: Arc<dyn Scheduler>, f: impl FnOnce() -> R) -> R {
    brisk_core::with_scheduler(Arc::new(NamedOnly(inner)), f)
}
