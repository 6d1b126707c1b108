//! Shuffles: moving every row to the output partition a hash of its keys (joins, `split_out`,
//! `shuffle`) or its place among sorted boundaries (`sort_values`, `set_index`) chooses.
//!
//! Two methods, as in Dask:
//! - [`ShuffleMethod::Tasks`]: each input partition is split in memory into one piece per
//!   output; each output concatenates its pieces. Fast, but all pieces stay in memory until the
//!   last output is built.
//! - [`ShuffleMethod::Disk`] (the default): each input partition's pieces are written to files
//!   (Arrow IPC) under a directory made fresh for each run, one folder per output partition;
//!   after all inputs are written, each output reads its folder. The directory is removed when
//!   the run no longer needs it (module `spill` has the rules that keep a recomputed partition
//!   correct). Memory holds a few partitions at a time, so the data may be larger than memory.
//!   The directory is `brisk-shuffle-<layer>-<random>` under [`set_temporary_directory`]'s
//!   choice, else `$BRISK_TEMPORARY_DIRECTORY`, else the system's temporary directory; it must
//!   be visible to every worker.

use std::path::PathBuf;
use std::sync::Arc;

use brisk_core::{Arg, Key, Node as GNode, Task, Value};
use polars::prelude::{
    DataFrame as PlFrame, DataType, IdxCa, IdxSize, PlSeedableRandomStateQuality, Schema,
    SearchSortedSide, Series,
};
use serde::{Deserialize, Serialize};

use crate::error::{DataFrameError, Result};
use crate::partition;
use crate::spill;

/// How a shuffle moves data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ShuffleMethod {
    /// Through files on local disk: works when the data is larger than memory.
    #[default]
    Disk,
    /// In memory, as tasks: faster for data that fits in memory.
    Tasks,
}

impl ShuffleMethod {
    /// The method named by `BRISK_SHUFFLE` (`disk` or `tasks`), else [`ShuffleMethod::Disk`].
    pub fn from_env() -> Result<ShuffleMethod> {
        match std::env::var("BRISK_SHUFFLE") {
            Err(_) => Ok(ShuffleMethod::Disk),
            Ok(v) => match v.trim().to_ascii_lowercase().as_str() {
                "" | "disk" => Ok(ShuffleMethod::Disk),
                "tasks" => Ok(ShuffleMethod::Tasks),
                _ => Err(DataFrameError::invalid(
                    "BRISK_SHUFFLE",
                    format!("{v:?}: use `disk` or `tasks`"),
                )),
            },
        }
    }
}

/// Which output partition a row goes to.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Partitioner {
    /// A hash of these columns (cast to `cast` first, when given, so that both sides of a join
    /// hash equal keys equally).
    Hash {
        /// Key columns.
        columns: Vec<String>,
        /// Types to cast the keys to before hashing (empty: as they are).
        cast: Vec<DataType>,
        /// Output partitions.
        npartitions: usize,
    },
    /// The place of `column` among sorted boundaries (given to the tasks as a frame).
    Range {
        /// The column.
        column: String,
        /// Largest values first.
        descending: bool,
        /// Nulls go to the last partition (else to the first).
        nulls_last: bool,
        /// Output partitions.
        npartitions: usize,
    },
}
brisk_core::register_serde_type!(Partitioner);

impl Partitioner {
    /// The number of output partitions.
    pub fn npartitions(&self) -> usize {
        match self {
            Partitioner::Hash { npartitions, .. } | Partitioner::Range { npartitions, .. } => {
                *npartitions
            }
        }
    }

    /// The columns the partitioner reads.
    pub fn columns(&self) -> Vec<String> {
        match self {
            Partitioner::Hash { columns, .. } => columns.clone(),
            Partitioner::Range { column, .. } => vec![column.clone()],
        }
    }

    /// Split `df` into one piece per output partition.
    pub fn split(&self, df: &PlFrame, boundaries: Option<&PlFrame>) -> Result<Vec<PlFrame>> {
        match self {
            Partitioner::Hash {
                columns,
                cast,
                npartitions,
            } => hash_split(df, columns, cast, *npartitions),
            Partitioner::Range {
                column,
                descending,
                nulls_last,
                npartitions,
            } => {
                let b = boundaries.ok_or_else(|| {
                    DataFrameError::invalid("shuffle", "a range shuffle needs its boundaries")
                })?;
                range_split(df, column, b, *descending, *nulls_last, *npartitions)
            }
        }
    }
}

fn take_groups(
    df: &PlFrame,
    assign: impl Iterator<Item = usize>,
    n: usize,
) -> Result<Vec<PlFrame>> {
    // Polars gathers from a column of several chunks element by element (a binary search for
    // the chunk of every index, and a copy of every string): one rechunk first makes the `n`
    // gathers below the contiguous kind. A CSV read gives several chunks per column.
    let single;
    let df = if df.max_n_chunks() > 1 {
        let mut d = df.clone();
        d.rechunk_mut_par();
        single = d;
        &single
    } else {
        df
    };
    let mut idx: Vec<Vec<IdxSize>> = vec![Vec::new(); n];
    for (row, p) in assign.enumerate() {
        idx[p].push(row as IdxSize);
    }
    idx.into_iter()
        .map(|v| {
            if v.len() == df.height() {
                return Ok(df.clone());
            }
            df.take(&IdxCa::from_vec("idx".into(), v))
                .map_err(DataFrameError::polars("shuffle (split)"))
        })
        .collect()
}

/// Split `df` into `n` pieces by a hash of `columns` (cast to `cast` first when given).
pub(crate) fn hash_split(
    df: &PlFrame,
    columns: &[String],
    cast: &[DataType],
    n: usize,
) -> Result<Vec<PlFrame>> {
    if n <= 1 {
        return Ok(vec![df.clone()]);
    }
    let mut keys = df
        .select(columns.iter().map(String::as_str))
        .map_err(DataFrameError::polars("shuffle (hash)"))?;
    if !cast.is_empty() {
        let mut cols = Vec::with_capacity(columns.len());
        for (c, dt) in keys.columns().iter().zip(cast) {
            cols.push(
                c.cast(dt)
                    .map_err(DataFrameError::polars("shuffle (cast keys)"))?,
            );
        }
        keys =
            PlFrame::new(keys.height(), cols).map_err(DataFrameError::polars("shuffle (hash)"))?;
    }
    let hashes = keys
        .hash_rows(Some(PlSeedableRandomStateQuality::fixed()))
        .map_err(DataFrameError::polars("shuffle (hash)"))?;
    let n64 = n as u64;
    take_groups(
        df,
        hashes.into_no_null_iter().map(|h| (h % n64) as usize),
        n,
    )
}

/// Split `df` into `n` pieces by where `column` falls among the boundaries (`value` column of
/// `boundaries`, `n + 1` rows from a quantile reduction: the inner `n - 1` are the cuts).
fn range_split(
    df: &PlFrame,
    column: &str,
    boundaries: &PlFrame,
    descending: bool,
    nulls_last: bool,
    n: usize,
) -> Result<Vec<PlFrame>> {
    if n <= 1 {
        return Ok(vec![df.clone()]);
    }
    let s = df
        .column(column)
        .map_err(DataFrameError::polars("shuffle (range)"))?
        .as_materialized_series()
        .clone();
    let b = boundaries
        .column("value")
        .map_err(DataFrameError::polars("shuffle (range)"))?
        .as_materialized_series()
        .clone();
    let cuts: Series = if b.len() >= 2 {
        b.slice(1, b.len() - 2)
    } else {
        b.clear()
    };
    let cuts = cuts
        .cast(s.dtype())
        .map_err(DataFrameError::polars("shuffle (range)"))?;
    let pos = polars::prelude::search_sorted(&cuts, &s, SearchSortedSide::Right, false)
        .map_err(DataFrameError::polars("shuffle (range)"))?;
    let last = n - 1;
    let nulls = s.is_null();
    let assign = pos.iter().zip(nulls.iter()).map(|(p, is_null)| {
        if is_null == Some(true) {
            return if nulls_last { last } else { 0 };
        }
        let p = (p.unwrap_or(0) as usize).min(last);
        if descending { last - p } else { p }
    });
    take_groups(df, assign, n)
}

/// A nested task taking piece `j` of a split's list.
pub(crate) fn piece_task(list: Arg, j: usize) -> Task {
    Task::new(piece, vec![list, Arg::Literal(Value::from(j as u64))])
}

/// Kernel: piece `j` of a list value.
pub(crate) fn piece(list: Value, j: u64) -> Result<Value> {
    list.as_list()
        .and_then(|l| l.get(j as usize))
        .cloned()
        .ok_or_else(|| DataFrameError::invalid("piece", format!("no piece {j} in {list:?}")))
}

/// A frame's schema as a task argument.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct SchemaArg(pub Schema);
brisk_core::register_serde_type!(SchemaArg);

/// Kernel (tasks method): split one partition into pieces.
pub(crate) fn shuffle_split(
    df: Arc<PlFrame>,
    p: Arc<Partitioner>,
    boundaries: Value,
) -> Result<Value> {
    let pieces = p.split(&df, boundaries.downcast_ref::<PlFrame>().ok())?;
    Ok(Value::list(
        pieces.into_iter().map(partition::value).collect(),
    ))
}

/// Kernel (tasks method): concatenate the pieces of one output partition.
pub(crate) fn shuffle_gather(pieces: Vec<Arc<PlFrame>>, schema: Arc<SchemaArg>) -> Result<Value> {
    partition::concat_arcs(&pieces, Some(&schema.0))
        .map(partition::single_chunk)
        .map(partition::value)
}

brisk_core::register!(
    piece as "brisk_dataframe.piece",
    shuffle_split as "brisk_dataframe.shuffle_split",
    shuffle_gather as "brisk_dataframe.shuffle_gather",
);

static TEMP_DIR: parking_lot::RwLock<Option<PathBuf>> = parking_lot::RwLock::new(None);

/// Where disk shuffles put their files, for graphs built from now on (`None`: back to
/// `BRISK_TEMPORARY_DIRECTORY`, else the system's temporary directory).
pub fn set_temporary_directory(dir: Option<PathBuf>) {
    *TEMP_DIR.write() = dir;
}

/// The folder under which disk shuffles make their run directories.
pub(crate) fn spill_base() -> PathBuf {
    TEMP_DIR.read().clone().unwrap_or_else(|| {
        std::env::var_os("BRISK_TEMPORARY_DIRECTORY")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir)
    })
}

/// The tasks of a shuffle of `n_in` partitions of layer `input` into outputs `(out, j)`.
pub(crate) fn lower(
    out: &Arc<str>,
    input: &Arc<str>,
    n_in: usize,
    partitioner: &Arc<Partitioner>,
    boundaries: Option<Key>,
    method: ShuffleMethod,
    schema: &Schema,
) -> Vec<(Key, GNode)> {
    let n_out = partitioner.npartitions();
    let p = Arg::Literal(Value::from_arc(Arc::clone(partitioner)));
    let b = match boundaries {
        Some(k) => Arg::Key(k),
        None => Arg::Literal(Value::new(())),
    };
    let schema = Arg::Literal(Value::new(SchemaArg(schema.clone())));
    let split_name: Arc<str> = format!("{out}-split").into();
    let mut nodes = Vec::with_capacity(n_in + n_out + 1);
    match method {
        ShuffleMethod::Tasks => {
            for i in 0..n_in {
                nodes.push((
                    Key::with_shared_name(&split_name, &[i as u32]),
                    GNode::Task(Task::new(
                        shuffle_split,
                        vec![
                            Arg::Key(Key::with_shared_name(input, &[i as u32])),
                            p.clone(),
                            b.clone(),
                        ],
                    )),
                ));
            }
            for j in 0..n_out {
                let pieces = (0..n_in)
                    .map(|i| {
                        Arg::Task(Box::new(piece_task(
                            Arg::Key(Key::with_shared_name(&split_name, &[i as u32])),
                            j,
                        )))
                    })
                    .collect();
                nodes.push((
                    Key::with_shared_name(out, &[j as u32]),
                    GNode::Task(Task::new(
                        shuffle_gather,
                        vec![Arg::List(pieces), schema.clone()],
                    )),
                ));
            }
        }
        ShuffleMethod::Disk => {
            // A fresh directory per run (see `spill`): its task's value owns it.
            let dir = Key::from(format!("{out}-dir"));
            nodes.push((
                dir.clone(),
                GNode::Task(Task::new(
                    spill::shuffle_dir,
                    vec![
                        Arg::Literal(Value::new(spill_base().to_string_lossy().into_owned())),
                        Arg::Literal(Value::new(out.to_string())),
                    ],
                )),
            ));
            let layer = Arg::Literal(Value::new(out.to_string()));
            for i in 0..n_in {
                nodes.push((
                    Key::with_shared_name(&split_name, &[i as u32]),
                    GNode::Task(Task::new(
                        spill::shuffle_spill,
                        vec![
                            Arg::Key(Key::with_shared_name(input, &[i as u32])),
                            p.clone(),
                            b.clone(),
                            Arg::Key(dir.clone()),
                            Arg::Literal(Value::from(i as u64)),
                        ],
                    )),
                ));
            }
            let barrier = Key::from(format!("{out}-barrier"));
            nodes.push((
                barrier.clone(),
                GNode::Task(Task::new(
                    spill::shuffle_barrier,
                    vec![Arg::List(
                        (0..n_in)
                            .map(|i| Arg::Key(Key::with_shared_name(&split_name, &[i as u32])))
                            .collect(),
                    )],
                )),
            ));
            for j in 0..n_out {
                nodes.push((
                    Key::with_shared_name(out, &[j as u32]),
                    GNode::Task(Task::new(
                        spill::shuffle_collect,
                        vec![
                            Arg::Key(barrier.clone()),
                            Arg::Key(dir.clone()),
                            Arg::Literal(Value::from(j as u64)),
                            schema.clone(),
                            layer.clone(),
                        ],
                    )),
                ));
            }
        }
    }
    nodes
}

impl crate::frame::DataFrame {
    pub(crate) fn shuffle_node(
        &self,
        partitioner: Partitioner,
        boundaries: Option<crate::node::NodeRef>,
        method: ShuffleMethod,
    ) -> crate::frame::DataFrame {
        let n = partitioner.npartitions();
        crate::frame::DataFrame::from_node(crate::node::Node::new(
            crate::node::Op::Shuffle {
                input: Arc::clone(&self.node),
                partitioner: Arc::new(partitioner),
                boundaries,
                method,
            },
            self.node.schema.clone(),
            n,
            None,
        ))
    }

    /// Move rows so that equal values of `on` share a partition (hash partitioning into
    /// `npartitions`, default: as many as now). Uses `BRISK_SHUFFLE` (`disk` or `tasks`).
    pub fn shuffle(
        &self,
        on: impl crate::groupby::IntoColumns,
        npartitions: Option<usize>,
    ) -> Result<crate::frame::DataFrame> {
        self.shuffle_with(on, npartitions, ShuffleMethod::from_env()?)
    }

    /// [`Self::shuffle`] with an explicit method.
    pub fn shuffle_with(
        &self,
        on: impl crate::groupby::IntoColumns,
        npartitions: Option<usize>,
        method: ShuffleMethod,
    ) -> Result<crate::frame::DataFrame> {
        let columns = on.into_columns();
        crate::reduce::check_columns("shuffle", &self.node.schema, &columns)?;
        if columns.is_empty() {
            return Err(DataFrameError::invalid(
                "shuffle",
                "give at least one column",
            ));
        }
        let n = npartitions.unwrap_or(self.node.npartitions);
        if n == 0 {
            return Err(DataFrameError::invalid("npartitions", "must be at least 1"));
        }
        Ok(self.shuffle_node(
            Partitioner::Hash {
                columns,
                cast: Vec::new(),
                npartitions: n,
            },
            None,
            method,
        ))
    }
}
