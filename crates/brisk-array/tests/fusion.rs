//! Fusion: elementwise work runs inside the tasks that consume it; linear chains fuse.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use brisk_array::{self as da, ChunkSource, ReduceOpts};
use brisk_core::Collection;
use brisk_local::callbacks::{Callback, RunInfo, TaskInfo, with_callbacks};
use ndarray::{ArrayD, IxDyn};

#[derive(Default)]
struct Labels(Mutex<Vec<String>>);

impl Callback for Labels {
    fn on_task_start(&self, _run: &RunInfo, task: &TaskInfo<'_>) {
        self.0.lock().unwrap().push(task.label.to_string());
    }
}

fn run<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    let _ = brisk_local::LocalScheduler::threaded();
    let labels = Arc::new(Labels::default());
    let out = with_callbacks(&[labels.clone() as Arc<dyn Callback>], f);
    let v = labels.0.lock().unwrap().clone();
    (out, v)
}

struct Grid(Vec<usize>);
impl ChunkSource<f64> for Grid {
    fn shape(&self) -> Vec<usize> {
        self.0.clone()
    }
    fn read(
        &self,
        region: &[std::ops::Range<usize>],
    ) -> Result<ArrayD<f64>, Box<dyn std::error::Error + Send + Sync>> {
        let shape: Vec<usize> = region.iter().map(|r| r.len()).collect();
        Ok(ArrayD::from_shape_fn(IxDyn(&shape), |i| {
            (0..region.len())
                .map(|a| ((region[a].start + i[a]) * (a + 1)) as f64)
                .sum()
        }))
    }
    fn name(&self) -> &str {
        "grid"
    }
}

#[test]
fn add_then_sum_is_one_task_per_chunk() {
    let x = da::arange(100, 10).unwrap();
    let (v, labels) = run(|| (&x + 1).sum().compute().unwrap());
    assert_eq!(v, 5050);
    // 10 chunk tasks (generate, add, fold) + 1 aggregate; nothing else.
    assert_eq!(labels.len(), 11, "{labels:?}");
    assert_eq!(labels.iter().filter(|l| *l == "sum").count(), 11);
}

#[test]
fn reads_fuse_into_the_reduction() {
    let x = da::from_source(Grid(vec![40]), 10).unwrap();
    let (v, labels) = run(|| (&x * 2.0 + 1.0).sum().compute().unwrap());
    assert_eq!(v, (0..40).map(|i| 2.0 * i as f64 + 1.0).sum::<f64>());
    // The read of each chunk has one consumer, so the plan fuses it into that task.
    assert_eq!(labels.len(), 5, "{labels:?}");
}

#[test]
fn demean_keeps_no_intermediate_arrays() {
    let x = da::from_source(Grid(vec![6, 8]), [3, 4]).unwrap();
    let m = x.mean_with(&ReduceOpts::axis(1).keepdims(true)).unwrap();
    let y = (&x - &m).sum();
    let (v, labels) = run(|| y.compute().unwrap());
    assert!(v.abs() < 1e-9, "{v}");
    // 4 reads (each feeds the mean and the final sum), 4 mean chunks, 2 mean aggregates,
    // 4 fused subtract-and-sum chunks, 1 sum aggregate; no task computes `x - m` alone.
    assert_eq!(labels.len(), 15, "{labels:?}");
    assert!(!labels.iter().any(|l| l == "sub"), "{labels:?}");
}

#[test]
fn expressions_of_100k_chunks_are_cheap_to_build() {
    let t = std::time::Instant::now();
    let x = da::arange(1e7, 100).unwrap();
    let y = ((&x + 1) * 3 - &x).sum();
    assert_eq!(x.npartitions(), 100_000);
    // Building is O(operations): no task exists until the graph is materialized.
    assert!(t.elapsed() < std::time::Duration::from_secs(1));
    assert!(
        y.to_string()
            .starts_with("brisk.array<sum-aggregate, shape=()")
    );
}

#[test]
fn rechunk_past_the_limit_goes_through_small_pieces() {
    // Rows to columns: every output chunk overlaps every input chunk.
    let a = ndarray::Array2::from_shape_fn((40, 40), |(i, j)| (i * 40 + j) as f64);
    let x = da::from_array(&a, [4, 40]).unwrap();
    let one = x.rechunk_with_limit([40, 4], usize::MAX).unwrap();
    let two = x.rechunk_with_limit([40, 4], 1024).unwrap();
    let (v1, l1) = run(|| one.compute().unwrap());
    let (v2, l2) = run(|| two.compute().unwrap());
    assert_eq!(v1, a.clone().into_dyn());
    assert_eq!(v2, a.into_dyn());
    // One stage: 10 tasks each reading all 10 input chunks (the whole array). Two stages: 100
    // pieces each cut from one input chunk, then 10 merges each reading only its own pieces.
    assert_eq!(l1.len(), 10, "{l1:?}");
    assert_eq!(l2.len(), 110, "{l2:?}");
    let g = brisk_core::Collection::graph(&two);
    let widest = g
        .iter()
        .filter_map(|(_, n)| match n {
            brisk_core::Node::Task(t) => Some(t.args.len() - 1),
            _ => None,
        })
        .max()
        .unwrap();
    assert_eq!(widest, 10);
}

#[test]
fn all_to_all_rechunk_pieces_are_bounded_by_the_limit_not_the_grid() {
    // Rows of 2 to columns of 2 on 64 x 64 f64 (1 KiB chunks), limit 4 KiB: the common
    // refinement would be 32 x 32 = 1024 pieces of 2 x 2; pieces inside one input row chunk
    // grow to 2 x 8 while a merge still reads at most 4 KiB: 256 cuts + 32 merges.
    let a = ndarray::Array2::from_shape_fn((64, 64), |(i, j)| (i * 64 + j) as f64);
    let x = da::from_array(&a, [2, 64]).unwrap();
    let y = x.rechunk_with_limit([64, 2], 4096).unwrap();
    let (v, labels) = run(|| y.compute().unwrap());
    assert_eq!(v, a.into_dyn());
    assert_eq!(labels.len(), 256 + 32, "{}", labels.len());
    let g = brisk_core::Collection::graph(&y);
    let widest = g
        .iter()
        .filter_map(|(_, n)| match n {
            brisk_core::Node::Task(t) => Some(t.args.len() - 1),
            _ => None,
        })
        .max()
        .unwrap();
    // A merge reads 32 pieces of 2 x 8 (4 KiB); a cut reads one input chunk.
    assert_eq!(widest, 32);
}
