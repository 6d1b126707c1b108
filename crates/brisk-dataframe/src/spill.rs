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
//! - A collect checks that it read exactly the rows the spills wrote for its output and that
//!   its pieces come from the directory the spills wrote to. Missing pieces are an error
//!   ([`DataFrameError::ShuffleLost`]), never an empty partition.

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

/// Kernel: wait for every spill and add up the rows each output should find.
pub(crate) fn shuffle_barrier(counts: Vec<Arc<SpillCounts>>, layer: String) -> Result<Value> {
    let mut total = SpillCounts {
        dir: counts.first().map(|c| c.dir.clone()).unwrap_or_default(),
        rows: Vec::new(),
    };
    for c in &counts {
        if c.dir != total.dir {
            return Err(DataFrameError::ShuffleLost {
                layer,
                partition: None,
                dir: c.dir.clone(),
                reason: format!(
                    "spills wrote to two directories ({} and {})",
                    total.dir.display(),
                    c.dir.display()
                ),
            });
        }
        if total.rows.len() < c.rows.len() {
            total.rows.resize(c.rows.len(), 0);
        }
        for (t, r) in total.rows.iter_mut().zip(&c.rows) {
            *t += r;
        }
    }
    Ok(Value::new(total))
}

/// Kernel: read the pieces of output partition `j` (they stay on disk until the run ends).
pub(crate) fn shuffle_collect(
    total: Arc<SpillCounts>,
    dir: Arc<SpillDir>,
    j: u64,
    schema: Arc<SchemaArg>,
    layer: String,
) -> Result<Value> {
    let j = j as usize;
    let lost = |reason: String| DataFrameError::ShuffleLost {
        layer: layer.clone(),
        partition: Some(j),
        dir: dir.path().to_path_buf(),
        reason,
    };
    if total.dir != dir.path() {
        return Err(lost(format!(
            "the spills wrote to {}, which is gone (the directory was made again)",
            total.dir.display()
        )));
    }
    let expected = total.rows.get(j).copied().unwrap_or(0);
    let sub = dir.path().join(format!("{j}"));
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&sub) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "arrow"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && expected == 0 => Vec::new(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(lost(format!(
                "expected {expected} rows but its folder {} is missing",
                sub.display()
            )));
        }
        Err(e) => return Err(DataFrameError::io("cannot list", &sub)(e)),
    };
    files.sort();
    let mut frames = Vec::with_capacity(files.len());
    for f in &files {
        let file = crate::source::open_local(f)?;
        let df = IpcReader::new(file)
            .finish()
            .map_err(DataFrameError::polars("shuffle (read spilled piece)"))?;
        frames.push(df);
    }
    let out = partition::concat(frames, Some(&schema.0))?;
    if out.height() as u64 != expected {
        return Err(lost(format!(
            "expected {expected} rows but found {} in {}",
            out.height(),
            sub.display()
        )));
    }
    Ok(partition::value(out))
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

    fn setup(base: &Path) -> (Arc<SpillDir>, Arc<SchemaArg>, Arc<SpillCounts>) {
        let dir = shuffle_dir(base.display().to_string(), "sort/x y".into()).unwrap();
        let dir = dir.downcast_arc::<SpillDir>().unwrap();
        let p = Arc::new(Partitioner::Hash {
            columns: vec!["k".into()],
            cast: vec![DataType::Int64],
            npartitions: 3,
        });
        let df = df!("k" => (0i64..100).collect::<Vec<_>>()).unwrap();
        let schema = Arc::new(SchemaArg((**df.schema()).clone()));
        let mut counts = Vec::new();
        for i in 0..2u64 {
            let c = shuffle_spill(
                Arc::new(df.clone()),
                Arc::clone(&p),
                Value::new(()),
                Arc::clone(&dir),
                i,
            )
            .unwrap();
            counts.push(c.downcast_arc::<SpillCounts>().unwrap());
        }
        let total = shuffle_barrier(counts, "sort".into()).unwrap();
        (dir, schema, total.downcast_arc().unwrap())
    }

    fn collect(
        t: &Arc<SpillCounts>,
        d: &Arc<SpillDir>,
        j: u64,
        s: &Arc<SchemaArg>,
    ) -> Result<Value> {
        shuffle_collect(
            Arc::clone(t),
            Arc::clone(d),
            j,
            Arc::clone(s),
            "sort".into(),
        )
    }

    #[test]
    fn collect_can_run_twice_and_the_owner_removes_the_directory() {
        let base = tempfile::tempdir().unwrap();
        let (dir, schema, total) = setup(base.path());
        assert!(dir.path().starts_with(base.path()));
        assert_eq!(total.rows.iter().sum::<u64>(), 200);
        let mut rows = 0;
        for j in 0..3 {
            let a = collect(&total, &dir, j, &schema).unwrap();
            let b = collect(&total, &dir, j, &schema).unwrap();
            let (a, b) = (partition::frame(&a).unwrap(), partition::frame(&b).unwrap());
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
    fn missing_pieces_are_an_error_not_an_empty_partition() {
        let base = tempfile::tempdir().unwrap();
        let (dir, schema, total) = setup(base.path());
        let j = (0..3).find(|&j| total.rows[j] > 0).unwrap();
        let sub = dir.path().join(format!("{j}"));
        let first = std::fs::read_dir(&sub)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        std::fs::remove_file(first).unwrap();
        let err = collect(&total, &dir, j as u64, &schema)
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected") && err.contains("sort"), "{err}");
        std::fs::remove_dir_all(&sub).unwrap();
        let err = collect(&total, &dir, j as u64, &schema)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing"), "{err}");
        // Pieces of another run's directory are refused.
        let (other, _, _) = setup(base.path());
        assert_ne!(other.path(), dir.path());
        let err = collect(&total, &other, 0, &schema).unwrap_err().to_string();
        assert!(err.contains("made again"), "{err}");
    }
}
