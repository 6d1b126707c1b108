//! The disk shuffle's tasks: a spill directory made fresh for every run, the spills that write
//! each input partition's pieces into it, a barrier that adds up how many rows each output
//! should find, and the collects that read one output's pieces.
//!
//! Safety rules, each tested:
//! - The directory is made by a task (`<layer>-dir`) under a unique name, so two runs of the
//!   same graph (at once, or one after the other) never share files.
//! - A collect does not delete what it read, so an output partition computed again (for
//!   example after a lost worker) finds the same pieces. The directory is removed when the
//!   value of the `-dir` task is released, that is after every spill and collect of the run
//!   finished (or the run failed); copies of the value sent to other processes never remove it.
//! - Each spill reports where it wrote and how many rows per output; a collect reads exactly
//!   those files (from whichever run directory each spill used: when a worker holding the
//!   directory's value dies, the directory task runs again and later spills write to the new
//!   one, while the earlier pieces stay where they were) and checks every row count. A missing
//!   or different piece is an error ([`DataFrameError::ShuffleLost`]), never fewer rows.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use brisk_core::Value;
use polars::prelude::{IpcReader, IpcWriter, SerReader, SerWriter};
use serde::{Deserialize, Serialize};

use crate::error::{DataFrameError, Result};
use crate::partition;
use crate::shuffle::{Partitioner, SchemaArg};

/// The directory of one run of a disk shuffle. The value made by [`shuffle_dir`] owns it and
/// removes it (with everything in it) when dropped; deserialized copies only name it.
#[derive(Debug)]
pub(crate) struct SpillDir {
    path: PathBuf,
    /// Removes the directory when dropped (`None` in copies).
    _owned: Option<tempfile::TempDir>,
}

impl SpillDir {
    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Serialize for SpillDir {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.path.serialize(s)
    }
}

impl<'de> Deserialize<'de> for SpillDir {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Ok(SpillDir {
            path: PathBuf::deserialize(d)?,
            _owned: None,
        })
    }
}
brisk_core::register_serde_type!(SpillDir);

/// How many rows one spill (or, after the barrier, all spills) wrote for each output, and
/// where.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct SpillCounts {
    /// The run's directory.
    pub dir: PathBuf,
    /// Rows per output partition.
    pub rows: Vec<u64>,
}
brisk_core::register_serde_type!(SpillCounts);

/// Kernel: make a fresh directory for one run of the shuffle of `layer` under `base`.
pub(crate) fn shuffle_dir(base: String, layer: String) -> Result<Value> {
    let base = PathBuf::from(base);
    std::fs::create_dir_all(&base).map_err(DataFrameError::io("cannot create", &base))?;
    let tag: String = layer
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    let dir = tempfile::Builder::new()
        .prefix(&format!("brisk-shuffle-{tag}-"))
        .tempdir_in(&base)
        .map_err(DataFrameError::io(
            "cannot create a shuffle directory in",
            &base,
        ))?;
    tracing::debug!(dir = %dir.path().display(), "disk shuffle directory");
    Ok(Value::new(SpillDir {
        path: dir.path().to_path_buf(),
        _owned: Some(dir),
    }))
}

fn piece_path(dir: &Path, j: usize, i: usize) -> PathBuf {
    dir.join(format!("{j}")).join(format!("{i:08}.arrow"))
}

/// Kernel: split input partition `i` and write its pieces into the run's directory.
pub(crate) fn shuffle_spill(
    df: Arc<polars::prelude::DataFrame>,
    p: Arc<Partitioner>,
    boundaries: Value,
    dir: Arc<SpillDir>,
    i: u64,
) -> Result<Value> {
    let pieces = p.split(&df, boundaries.downcast_ref().ok())?;
    let mut rows = vec![0u64; pieces.len()];
    for (j, mut piece) in pieces.into_iter().enumerate() {
        let path = piece_path(dir.path(), j, i as usize);
        if piece.height() == 0 {
            // A spill run again (after a lost worker) may have written rows the first time.
            let _ = std::fs::remove_file(&path);
            continue;
        }
        rows[j] = piece.height() as u64;
        let mut w = crate::source::create_local(&path)?;
        IpcWriter::new(&mut w)
            .finish(&mut piece)
            .map_err(DataFrameError::polars("shuffle (spill to disk)"))?;
        crate::source::finish_local(&path, w)?;
    }
    Ok(Value::new(SpillCounts {
        dir: dir.path().to_path_buf(),
        rows,
    }))
}

/// Where every spill of one run wrote, and how many rows per output (the barrier's value).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct SpillIndex {
    /// Per input partition, in order.
    pub spills: Vec<SpillCounts>,
}
brisk_core::register_serde_type!(SpillIndex);

/// Kernel: wait for every spill and note where each wrote.
pub(crate) fn shuffle_barrier(counts: Vec<Arc<SpillCounts>>) -> Value {
    Value::new(SpillIndex {
        spills: counts.iter().map(|c| (**c).clone()).collect(),
    })
}

/// Kernel: read the pieces of output partition `j`, each from the directory its spill wrote
/// to (they stay on disk until the run ends). `_dir` keeps the run's directory alive until
/// every collect is done.
pub(crate) fn shuffle_collect(
    index: Arc<SpillIndex>,
    _dir: Arc<SpillDir>,
    j: u64,
    schema: Arc<SchemaArg>,
    layer: String,
) -> Result<Value> {
    let j = j as usize;
    let mut frames = Vec::new();
    for (i, spill) in index.spills.iter().enumerate() {
        let expected = spill.rows.get(j).copied().unwrap_or(0);
        if expected == 0 {
            continue;
        }
        let path = piece_path(&spill.dir, j, i);
        let lost = |reason: String| DataFrameError::ShuffleLost {
            layer: layer.clone(),
            partition: Some(j),
            dir: spill.dir.clone(),
            reason,
        };
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(lost(format!(
                    "the piece of input partition {i} ({expected} rows, {}) is missing",
                    path.display()
                )));
            }
            Err(e) => return Err(DataFrameError::io("cannot open", &path)(e)),
        };
        let df = IpcReader::new(file)
            .finish()
            .map_err(DataFrameError::polars("shuffle (read spilled piece)"))?;
        if df.height() as u64 != expected {
            return Err(lost(format!(
                "the piece of input partition {i} ({}) has {} rows, its spill wrote {expected}",
                path.display(),
                df.height()
            )));
        }
        frames.push(df);
    }
    Ok(partition::value(partition::single_chunk(
        partition::concat(frames, Some(&schema.0))?,
    )))
}

brisk_core::register!(
    shuffle_dir as "brisk_dataframe.shuffle_dir",
    shuffle_spill as "brisk_dataframe.shuffle_spill",
    shuffle_barrier as "brisk_dataframe.shuffle_barrier",
    shuffle_collect as "brisk_dataframe.shuffle_collect",
);

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::{DataType, df};

    fn make_dir(base: &Path) -> Arc<SpillDir> {
        let dir = shuffle_dir(base.display().to_string(), "sort/x y".into()).unwrap();
        dir.downcast_arc::<SpillDir>().unwrap()
    }

    /// Spill two inputs of 100 rows into 3 outputs, the first into `a` and the second into `b`.
    fn spill_two(a: &Arc<SpillDir>, b: &Arc<SpillDir>) -> (Arc<SchemaArg>, Arc<SpillIndex>) {
        let p = Arc::new(Partitioner::Hash {
            columns: vec!["k".into()],
            cast: vec![DataType::Int64],
            npartitions: 3,
        });
        let df = df!("k" => (0i64..100).collect::<Vec<_>>()).unwrap();
        let schema = Arc::new(SchemaArg((**df.schema()).clone()));
        let counts = [a, b]
            .into_iter()
            .enumerate()
            .map(|(i, dir)| {
                shuffle_spill(
                    Arc::new(df.clone()),
                    Arc::clone(&p),
                    Value::new(()),
                    Arc::clone(dir),
                    i as u64,
                )
                .unwrap()
                .downcast_arc::<SpillCounts>()
                .unwrap()
            })
            .collect();
        (schema, shuffle_barrier(counts).downcast_arc().unwrap())
    }

    fn collect(
        index: &Arc<SpillIndex>,
        dir: &Arc<SpillDir>,
        j: u64,
        schema: &Arc<SchemaArg>,
    ) -> Result<polars::prelude::DataFrame> {
        let v = shuffle_collect(
            Arc::clone(index),
            Arc::clone(dir),
            j,
            Arc::clone(schema),
            "sort".into(),
        )?;
        Ok(partition::frame(&v).unwrap())
    }

    #[test]
    fn collect_can_run_twice_and_the_owner_removes_the_directory() {
        let base = tempfile::tempdir().unwrap();
        let dir = make_dir(base.path());
        assert!(dir.path().starts_with(base.path()));
        let (schema, index) = spill_two(&dir, &dir);
        let mut rows = 0;
        for j in 0..3 {
            let a = collect(&index, &dir, j, &schema).unwrap();
            let b = collect(&index, &dir, j, &schema).unwrap();
            assert!(a.equals(&b));
            rows += a.height();
        }
        assert_eq!(rows, 200);
        // A copy sent to another process does not remove the directory; the owner does.
        let text = dir.path().display().to_string();
        let copy = SpillDir::deserialize(
            serde::de::IntoDeserializer::<serde::de::value::Error>::into_deserializer(text),
        )
        .unwrap();
        assert_eq!(copy.path(), dir.path());
        drop(copy);
        assert!(dir.path().exists());
        let path = dir.path().to_path_buf();
        drop(dir);
        assert!(!path.exists(), "{} left behind", path.display());
    }

    #[test]
    fn pieces_are_read_where_their_spill_wrote_them() {
        // The directory's owner died after the first spill and the directory task ran again:
        // the second spill wrote elsewhere. Each output still gets all its rows.
        let base = tempfile::tempdir().unwrap();
        let (first, again) = (make_dir(base.path()), make_dir(base.path()));
        assert_ne!(first.path(), again.path());
        let (schema, index) = spill_two(&first, &again);
        let rows: usize = (0..3)
            .map(|j| collect(&index, &again, j, &schema).unwrap().height())
            .sum();
        assert_eq!(rows, 200);
    }

    #[test]
    fn missing_or_changed_pieces_are_an_error_not_fewer_rows() {
        let base = tempfile::tempdir().unwrap();
        let dir = make_dir(base.path());
        let (schema, index) = spill_two(&dir, &dir);
        let j = (0..3).find(|&j| index.spills[0].rows[j] > 0).unwrap();
        let piece = piece_path(dir.path(), j, 0);
        // A piece with other rows than its spill wrote.
        let mut short = polars::prelude::df!("k" => [1i64]).unwrap();
        let mut w = crate::source::create_local(&piece).unwrap();
        IpcWriter::new(&mut w).finish(&mut short).unwrap();
        crate::source::finish_local(&piece, w).unwrap();
        let err = collect(&index, &dir, j as u64, &schema)
            .unwrap_err()
            .to_string();
        assert!(err.contains("has 1 rows") && err.contains("sort"), "{err}");
        // A missing piece.
        std::fs::remove_file(&piece).unwrap();
        let err = collect(&index, &dir, j as u64, &schema)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("missing") && err.contains(&format!("output partition {j}")),
            "{err}"
        );
    }
}
