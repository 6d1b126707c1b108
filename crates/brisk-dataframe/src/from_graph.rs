//! Frames whose partitions are computed by another collection's graph: the values of given
//! keys of given layers (a bag's partitions turned into Polars frames, delayed values, …),
//! each checked against one schema.
//!
//! The schema is the `meta` the caller passes or, as Dask does when `meta` is left out, the
//! schema of the first partition, which is computed once for that (its graph culled to it).

use std::sync::Arc;

use brisk_core::{Arg, ComputeOptions, Func, Key, Layer, Node as GNode, Task, TaskFailure, Value};
use polars::prelude::{DataFrame as PlFrame, Schema, SchemaRef};

use crate::error::{DataFrameError, Result};
use crate::frame::DataFrame;
use crate::node::{Node, Op, ScanSource};
use crate::partition;

/// Partitions that are the values of keys computed by other layers.
struct GraphPartitions {
    deps: Vec<Arc<Layer>>,
    keys: Vec<Key>,
    schema: SchemaRef,
}

impl ScanSource for GraphPartitions {
    fn label(&self) -> &'static str {
        "from-graph"
    }
    fn npartitions(&self) -> usize {
        self.keys.len()
    }
    fn projectable(&self) -> bool {
        false
    }
    fn deps(&self) -> Vec<Arc<Layer>> {
        self.deps.clone()
    }
    fn partition(
        &self,
        i: usize,
        _: Option<&[String]>,
        _: Option<&polars::prelude::Expr>,
    ) -> GNode {
        GNode::Task(Task {
            func: Func::raw("from-graph", check_partition),
            args: vec![
                Arg::Key(self.keys[i].clone()),
                Arg::Literal(Value::new(Arc::clone(&self.schema))),
                Arg::Literal(Value::new(i as u64)),
            ],
        })
    }
}

/// Check that a computed partition has the declared schema: the same columns (reordered by
/// name if needed) of the same types (cast when a lossless cast exists).
fn check_partition(args: &[Value]) -> std::result::Result<Value, TaskFailure> {
    let df = args
        .first()
        .ok_or_else(|| TaskFailure::msg("internal: missing partition"))
        .and_then(partition::frame)?;
    let schema = args
        .get(1)
        .and_then(|v| v.downcast_ref::<SchemaRef>().ok())
        .ok_or_else(|| TaskFailure::msg("internal: missing schema"))?;
    let i = args
        .get(2)
        .and_then(|v| v.get::<u64>().ok())
        .unwrap_or_default() as usize;
    conform(df, schema, i)
        .map(partition::value)
        .map_err(|e| TaskFailure::from_error(Box::new(e)))
}

/// `df` with exactly the columns of `schema`, in its order and of its types.
pub(crate) fn conform(df: PlFrame, schema: &Schema, partition: usize) -> Result<PlFrame> {
    if df.schema().as_ref() == schema {
        return Ok(df);
    }
    let mismatch = |df: &PlFrame| DataFrameError::InvalidArgument {
        argument: "meta",
        reason: format!(
            "partition {partition} has columns {}, but the schema is {}",
            partition::schema_text(df.schema()),
            partition::schema_text(schema)
        ),
    };
    if df.width() != schema.len() {
        return Err(mismatch(&df));
    }
    let mut cols = Vec::with_capacity(schema.len());
    for (name, dtype) in schema.iter() {
        let c = df.column(name).map_err(|_| mismatch(&df))?;
        if c.dtype() == dtype {
            cols.push(c.clone());
            continue;
        }
        let cast = c
            .strict_cast(dtype)
            .map_err(|e| DataFrameError::InvalidArgument {
                argument: "meta",
                reason: format!(
                    "partition {partition}: column {name:?} has type {}, which does not cast \
                     to the declared {dtype}: {e}",
                    c.dtype()
                ),
            })?;
        cols.push(cast);
    }
    PlFrame::new(df.height(), cols).map_err(DataFrameError::polars("from_graph"))
}

impl DataFrame {
    /// A lazy frame whose partition `i` is the value of `keys[i]` (a Polars `DataFrame`),
    /// computed by `layers` and what they depend on. This is how other collections become
    /// dataframes (`brisk::BagToDataFrame`).
    ///
    /// `meta` is the schema of every partition. Without it the first partition is computed
    /// now, as Dask does, and its schema is used. Every partition is checked when it is
    /// computed: its columns must be the schema's (in any order); a column of another type is
    /// cast strictly, and one that does not cast is an error naming the partition and column.
    ///
    /// ```
    /// # let _ = brisk_local::LocalScheduler::threaded();
    /// use brisk_core::{Collection, Key, Layer, Node, Value};
    /// use brisk_dataframe::{DataFrame, polars::prelude::*};
    /// let keys: Vec<Key> = (0..2u32).map(|i| Key::new("parts", &[i])).collect();
    /// let nodes = vec![
    ///     (keys[0].clone(), Node::Literal(Value::new(df!("x" => [1i64, 2])?))),
    ///     (keys[1].clone(), Node::Literal(Value::new(df!("x" => [3i64])?))),
    /// ];
    /// let layer = Layer::from_nodes("parts", nodes, vec![]);
    /// let df = DataFrame::from_graph(vec![layer], keys, None)?;
    /// assert_eq!(df.compute()?.column("x")?.i64()?.sum(), Some(6));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_graph(
        layers: Vec<Arc<Layer>>,
        keys: Vec<Key>,
        meta: Option<Schema>,
    ) -> Result<DataFrame> {
        let Some(first) = keys.first() else {
            return Err(DataFrameError::invalid(
                "keys",
                "give at least one partition key",
            ));
        };
        let schema: SchemaRef = match meta {
            Some(s) => Arc::new(s),
            None => {
                let refs: Vec<&Arc<Layer>> = layers.iter().collect();
                let graph = brisk_core::layer::materialize(&refs);
                let v = brisk_core::default_scheduler()?.get(
                    &graph,
                    std::slice::from_ref(first),
                    &ComputeOptions::optimized(),
                )?;
                let df = v
                    .first()
                    .ok_or_else(|| DataFrameError::invalid("keys", "the first key has no value"))
                    .and_then(|v| {
                        partition::frame(v).map_err(|f| {
                            DataFrameError::invalid(
                                "keys",
                                format!("the value of {first} is not a Polars DataFrame ({f})"),
                            )
                        })
                    })?;
                partition::schema_of(&df)
            }
        };
        let n = keys.len();
        let source = Arc::new(GraphPartitions {
            deps: layers,
            keys,
            schema: Arc::clone(&schema),
        });
        Ok(DataFrame::from_node(Node::new(
            Op::Scan {
                source,
                columns: None,
                predicate: None,
            },
            schema,
            n,
            None,
        )))
    }
}
