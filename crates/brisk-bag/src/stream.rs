//! Partition streams: how a chain of element-wise operations runs inside one task.
//!
//! A bag does not store each intermediate partition. Each partition is a *stream*: a function
//! that pushes the partition's records, one by one, into a sink. `map`, `filter`, `flat_map`
//! and friends wrap the stream of their input, so `read_text(..).filter(..).count()` reads,
//! filters and counts every record in one pass without building a vector of lines (as dask's
//! bag chains lazy iterators). A sink answers [`ControlFlow::Break`] to stop early, which is
//! how `take` reads only what it needs.
//!
//! Records travel in a slot (`&mut Option<T>`): a stage that only looks at a record (`filter`,
//! `count`, a `frequencies` hit, writing text) leaves it in the slot, and the source reuses
//! the slot's allocation for the next record; a stage that needs the record itself takes it
//! out. So `read_text(..).filter(..).count()` allocates nothing per line, and
//! `split_whitespace().frequencies()` allocates only for words it has not seen.
//!
//! Streams live only inside the evaluation of one task: each stage is a nested task whose
//! value (a [`Stream`]) is consumed by the stage around it. Materialized partitions, the
//! values stored between tasks, are plain `Vec<T>`.

use std::cell::{Cell, RefCell};
use std::ops::ControlFlow;
use std::sync::Arc;

use brisk_core::{TaskFailure, Value};
use parking_lot::Mutex;

use crate::error::{BagError, Origin};

/// Where records go: a slot holding the record (take it to own it, or leave it to let the
/// source reuse it); return `Break` to stop the stream. An empty slot is skipped.
pub type Sink<'a, T> = &'a mut dyn FnMut(&mut Option<T>) -> ControlFlow<()>;

/// Push an owned record into a sink.
#[inline]
pub fn push<T>(sink: Sink<'_, T>, x: T) -> ControlFlow<()> {
    sink(&mut Some(x))
}

/// A run of a partition: push every record into the sink.
pub type StreamFn<T> = Box<dyn FnOnce(Sink<'_, T>) -> Result<(), BagError> + Send>;

/// A partition's records, not yet produced. Consumed once.
pub struct Stream<T> {
    label: &'static str,
    run: Mutex<Option<StreamFn<T>>>,
}

impl<T: 'static> Stream<T> {
    /// A stream from its run function.
    pub fn new(
        label: &'static str,
        run: impl FnOnce(Sink<'_, T>) -> Result<(), BagError> + Send + 'static,
    ) -> Self {
        Stream {
            label,
            run: Mutex::new(Some(Box::new(run))),
        }
    }

    /// Take the run function out (once).
    pub fn take(&self) -> Result<StreamFn<T>, BagError> {
        self.run
            .lock()
            .take()
            .ok_or(BagError::StreamReused { label: self.label })
    }
}

/// A stream's run function from a task argument.
pub(crate) fn arg_stream<T: Send + Sync + 'static>(
    args: &[Value],
    i: usize,
) -> Result<StreamFn<T>, TaskFailure> {
    let v = args
        .get(i)
        .ok_or_else(|| TaskFailure::msg(format!("internal: missing stream argument {i}")))?;
    let s = v
        .downcast_ref::<Stream<T>>()
        .map_err(|m| TaskFailure::msg(format!("internal: {m}")))?;
    s.take().map_err(fail)
}

/// A bag error as a task failure (kept downcastable).
pub(crate) fn fail(e: BagError) -> TaskFailure {
    TaskFailure::from_error(Box::new(e))
}

/// Drive a stream to the end, collecting its records.
pub(crate) fn collect<T>(run: StreamFn<T>) -> Result<Vec<T>, BagError> {
    let mut out = Vec::new();
    run(&mut |x| {
        if let Some(x) = x.take() {
            out.push(x);
        }
        ControlFlow::Continue(())
    })?;
    Ok(out)
}

/// A stream over a materialized partition (records are cloned out of the shared vector).
pub(crate) fn from_vec<T: Clone + Send + Sync + 'static>(part: Arc<Vec<T>>) -> Stream<T> {
    Stream::new("partition", move |sink| {
        // `clone_from` reuses the slot's allocation when the consumer left the record there.
        let mut slot: Option<T> = None;
        for x in part.iter() {
            match &mut slot {
                Some(s) => s.clone_from(x),
                None => slot = Some(x.clone()),
            }
            if sink(&mut slot).is_break() {
                break;
            }
        }
        Ok(())
    })
}

/// Where the record being pushed right now came from, for error messages. Text sources set it
/// for each line; it is read only on the error path.
#[derive(Clone)]
pub(crate) struct Position {
    pub url: Arc<str>,
    /// Where the block was asked to start (before alignment to a line).
    pub block_offset: u64,
    /// Lines before this one in the block.
    pub line_in_block: u64,
    /// The storage the file came from (to count lines before the block on error).
    pub storage: brisk_io::Storage,
}

thread_local! {
    /// The block being read on this thread (set once per block).
    static POSITION: RefCell<Option<Position>> = const { RefCell::new(None) };
    /// Lines before the current one in that block (updated per line, so kept cheap).
    static LINE: Cell<u64> = const { Cell::new(0) };
}

/// Set the position of the record about to be pushed (None clears it).
pub(crate) fn set_position(p: Option<Position>) {
    LINE.with(|l| l.set(p.as_ref().map_or(0, |p| p.line_in_block)));
    POSITION.with(|c| *c.borrow_mut() = p);
}

/// Advance the current line counter by one.
#[inline]
pub(crate) fn next_line() {
    LINE.with(|l| l.set(l.get() + 1));
}

/// The origin of the record being processed on this thread, if it came from text.
pub(crate) fn current_origin() -> Option<Origin> {
    let mut p = POSITION.with(|c| c.borrow().clone())?;
    p.line_in_block = LINE.with(Cell::get);
    Some(resolve(&p))
}

/// The 1-based line number of a position: exact, counting the lines before the block when the
/// block does not start the file (done only when an error is reported).
pub(crate) fn resolve(p: &Position) -> Origin {
    // A block at offset `o > 0` owns the lines that start after `o`: the lines before it are
    // the first line plus one per newline in `0..o`.
    let before = if p.block_offset == 0 {
        0
    } else {
        1 + count_newlines(&p.storage, &p.url, p.block_offset).unwrap_or(0)
    };
    Origin {
        url: p.url.to_string(),
        line: before + p.line_in_block + 1,
    }
}

fn count_newlines(storage: &brisk_io::Storage, url: &str, end: u64) -> Option<u64> {
    use std::io::Read;
    let mut r = storage.open_block(url, 0, Some(end), None).ok()?;
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = r.read(&mut buf).ok()?;
        if k == 0 {
            return Some(n);
        }
        n += memchr::memchr_iter(b'\n', &buf[..k]).count() as u64;
    }
}

/// Clears the thread's position when a text source finishes (or unwinds).
pub(crate) struct PositionGuard;

impl Drop for PositionGuard {
    fn drop(&mut self) {
        set_position(None);
    }
}
