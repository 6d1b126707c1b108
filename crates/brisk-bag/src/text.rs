//! Text in and out: `read_text` (lines of files named by URLs and globs, compressed or not,
//! split into blocks), and `to_textfiles`.

use std::io::{Read, Write};
use std::ops::ControlFlow;
use std::sync::Arc;

use brisk_core::{Arg, ComputeOptions, Key, Layer, Node, TaskFailure, TaskResult, Value, tokenize};
use brisk_io::{Block, CompressionChoice, Storage};

use crate::bag::{Bag, Record, stream_task};
use crate::error::BagError;
use crate::stream::{Position, PositionGuard, Sink, arg_stream, fail, next_line, set_position};

/// Where and how to read text: built by [`TextSource::new`], then turned into a bag of lines
/// ([`TextSource::lines`]) or of JSON documents ([`TextSource::json`]).
///
/// ```
/// use brisk_bag::TextSource;
/// use brisk_core::Collection;
/// # brisk_local::LocalScheduler::threaded();
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("a.txt.gz").display().to_string();
/// brisk_io::write_all(&path, b"one\ntwo\nthree\n").unwrap();
/// let lines = TextSource::new(&path).blocksize(None).lines()?;
/// assert_eq!(lines.compute()?, ["one", "two", "three"]);
/// # Ok::<(), brisk_bag::BagError>(())
/// ```
#[derive(Debug, Clone)]
pub struct TextSource {
    patterns: Vec<String>,
    blocksize: Option<u64>,
    compression: CompressionChoice,
    storage: Storage,
}

impl TextSource {
    /// Read the files matching `url_or_glob` (more can be added with [`TextSource::and`]).
    pub fn new(url_or_glob: &str) -> Self {
        TextSource {
            patterns: vec![url_or_glob.to_string()],
            blocksize: None,
            compression: CompressionChoice::Infer,
            storage: Storage::default(),
        }
    }

    /// Also read the files matching `url_or_glob`.
    pub fn and(mut self, url_or_glob: &str) -> Self {
        self.patterns.push(url_or_glob.to_string());
        self
    }

    /// Split uncompressed files into partitions of about this many bytes (`None`, the
    /// default: one partition per file, as dask's `read_text`).
    pub fn blocksize(mut self, bytes: Option<u64>) -> Self {
        self.blocksize = bytes;
        self
    }

    /// How the files are compressed (default: from each file's extension).
    pub fn compression(mut self, c: impl Into<CompressionChoice>) -> Self {
        self.compression = c.into();
        self
    }

    /// Storage options (credentials, endpoints) for object stores.
    pub fn storage(mut self, storage: Storage) -> Self {
        self.storage = storage;
        self
    }

    /// The blocks the files split into (finding the files now, so a missing file or a glob
    /// that matches nothing is reported here).
    pub fn blocks(&self) -> Result<Vec<Block>, BagError> {
        let files = self.storage.expand_all(&self.patterns)?;
        Ok(brisk_io::blocks(&files, self.blocksize, self.compression))
    }

    /// A bag of the files' lines, without their line endings (`\n` or `\r\n`).
    pub fn lines(&self) -> Result<Bag<String>, BagError> {
        let blocks = Arc::new(self.blocks()?);
        // The named kernel (`named.rs`): the block and the storage options are literals, so a
        // cluster's workers can read the block themselves.
        let func = crate::named::read_text_func();
        let storage = Value::new(self.storage.clone());
        let n = blocks.len();
        Ok(Bag::from_parts(
            "read-text",
            n,
            vec![],
            Arc::new(move |i| brisk_core::Task {
                func: func.clone(),
                args: vec![
                    Arg::Literal(Value::new(blocks[i].clone())),
                    Arg::Literal(storage.clone()),
                ],
            }),
        ))
    }
}

/// A bag of the lines of the files matching `url_or_glob`, one partition per file (see
/// [`TextSource`] for block sizes, compression and storage options).
pub fn read_text(url_or_glob: &str) -> Result<Bag<String>, BagError> {
    TextSource::new(url_or_glob).lines()
}

const CHUNK: usize = 1 << 20;

/// Push the lines of one block into `sink`.
pub(crate) fn read_lines(
    storage: &Storage,
    block: &Block,
    sink: Sink<'_, String>,
) -> Result<(), BagError> {
    let mut reader = storage.open(block, Some(b"\n"))?;
    let url: Arc<str> = Arc::from(block.url.as_str());
    let _guard = PositionGuard;
    set_position(Some(Position {
        url: Arc::clone(&url),
        block_offset: block.offset,
        line_in_block: 0,
        storage: storage.clone(),
    }));
    let mut buf: Vec<u8> = vec![0; CHUNK];
    // buf[..filled] holds unread bytes; buf[..start] is a partial line carried over.
    let mut filled = 0usize;
    let mut lines_before = 0u64;
    let mut slot: Option<String> = None;
    loop {
        if filled == buf.len() {
            // A line longer than the buffer: grow it.
            buf.resize(buf.len() * 2, 0);
        }
        let n = loop {
            match reader.read(&mut buf[filled..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(BagError::Io(brisk_io::IoError::from_std(&url, e))),
            }
        };
        let eof = n == 0;
        filled += n;
        // The complete lines in the buffer (all of it at the end of the block).
        let complete = if eof {
            filled
        } else {
            match memchr::memrchr(b'\n', &buf[..filled]) {
                Some(i) => i + 1,
                None => continue,
            }
        };
        let text = std::str::from_utf8(&buf[..complete]).map_err(|e| {
            let line =
                lines_before + memchr::memchr_iter(b'\n', &buf[..e.valid_up_to()]).count() as u64;
            let origin = crate::stream::resolve(&Position {
                url: Arc::clone(&url),
                block_offset: block.offset,
                line_in_block: line,
                storage: storage.clone(),
            });
            BagError::NotUtf8 {
                url: url.to_string(),
                line: origin.line,
                message: e.to_string(),
            }
        })?;
        let mut stop = false;
        let mut start = 0usize;
        let mut emit = |line: &str| -> bool {
            let line = line.strip_suffix('\r').unwrap_or(line);
            // Reuse the slot's string when the consumer left it there.
            match &mut slot {
                Some(l) => {
                    l.clear();
                    l.push_str(line);
                }
                None => slot = Some(line.to_string()),
            }
            if sink(&mut slot).is_break() {
                return false;
            }
            next_line();
            lines_before += 1;
            true
        };
        for end in memchr::memchr_iter(b'\n', text.as_bytes()) {
            // `\n` is ASCII, so both ends are character boundaries.
            if !emit(text.get(start..end).unwrap_or_default()) {
                stop = true;
                break;
            }
            start = end + 1;
        }
        if !stop && start < text.len() && !emit(text.get(start..).unwrap_or_default()) {
            stop = true;
        }
        if stop || eof {
            return Ok(());
        }
        buf.copy_within(complete..filled, 0);
        filled -= complete;
    }
}

/// `brisk_bag::to_textfiles<T>`: write one partition's records as lines (their `Display`
/// form) to a file, compressed by its extension, and return its URL. Arguments: the stream,
/// the URL (`String`), the storage options. On a cluster the worker running the task writes
/// the file itself (a local path is on that worker's machine).
pub(crate) fn to_textfiles_kernel<T: Record + std::fmt::Display>(args: &[Value]) -> TaskResult {
    let s = arg_stream::<T>(args, 0)?;
    let url: String = args
        .get(1)
        .and_then(|v| v.get::<String>().ok())
        .ok_or_else(|| TaskFailure::msg("internal: missing URL"))?;
    let storage = args
        .get(2)
        .and_then(|v| v.get::<Storage>().ok())
        .ok_or_else(|| TaskFailure::msg("internal: missing storage options"))?;
    let mut w = storage.open_writer(&url).map_err(|e| fail(e.into()))?;
    let mut err = None;
    s(&mut |x| match x.as_ref().map(|x| writeln!(w, "{x}")) {
        None | Some(Ok(())) => ControlFlow::Continue(()),
        Some(Err(e)) => {
            err = Some(BagError::Io(brisk_io::IoError::from_std(&url, e)));
            ControlFlow::Break(())
        }
    })
    .map_err(fail)?;
    if let Some(e) = err {
        return Err(fail(e));
    }
    Ok(Value::new(w.finish().map_err(|e| fail(e.into()))?))
}

macro_rules! to_textfiles_kernels {
    ($($t:ty => $tag:literal),+ $(,)?) => {$(
        register_stage!(concat!("brisk_bag::to_textfiles<", $tag, ">"), "to-textfiles", "to_textfiles", to_textfiles_kernel::<$t>, $t => $t);
    )+};
}

to_textfiles_kernels!(
    String => "String",
    i64 => "i64",
    u64 => "u64",
    f64 => "f64",
    serde_json::Value => "serde_json::Value",
);

impl<T: Record + std::fmt::Display> Bag<T> {
    /// Write each partition as lines of text (each record's `Display` form) to its own file.
    /// A `*` in `pattern` is replaced by the partition number (`out/part-*.txt.gz`); a
    /// pattern without `*` is a directory that receives `0.part`, `1.part`, …. Files are
    /// compressed by their extension. Runs now and returns the URLs written.
    ///
    /// For the record types in [`crate::NAMED_RECORDS`] each partition's task is a named
    /// kernel with its URL and the storage options as literals, so on a cluster the worker
    /// that computes a partition writes its file (a local path is a path on that worker's
    /// machine: use a shared file system or an object store). A file that cannot be written is
    /// an error naming its URL.
    ///
    /// ```
    /// use brisk_core::Collection;
    /// # brisk_local::LocalScheduler::threaded();
    /// let dir = tempfile::tempdir().unwrap();
    /// let pattern = dir.path().join("part-*.txt").display().to_string();
    /// let urls = brisk_bag::range(5, 2).to_textfiles(&pattern)?;
    /// assert_eq!(urls.len(), 2);
    /// let back = brisk_bag::read_text(&pattern)?.compute()?;
    /// assert_eq!(back, ["0", "1", "2", "3", "4"]);
    /// # Ok::<(), brisk_bag::BagError>(())
    /// ```
    pub fn to_textfiles(&self, pattern: &str) -> Result<Vec<String>, BagError> {
        self.to_textfiles_with(pattern, Storage::default())
    }

    /// [`Bag::to_textfiles`] with storage options.
    pub fn to_textfiles_with(
        &self,
        pattern: &str,
        storage: Storage,
    ) -> Result<Vec<String>, BagError> {
        let urls: Vec<String> = (0..self.npartitions())
            .map(|i| {
                if pattern.contains('*') {
                    pattern.replace('*', &i.to_string())
                } else {
                    format!("{}/{i}.part", pattern.trim_end_matches('/'))
                }
            })
            .collect();
        // The named kernel for the record types workers know (the URL and the storage options
        // are literals, so each worker writes its own partition), the same function in a
        // closure otherwise.
        let func = crate::named_reduce::kernel_or::<T>(
            "to_textfiles",
            "to-textfiles",
            to_textfiles_kernel::<T>,
        );
        let storage = Value::new(storage);
        let name = tokenize("to-textfiles");
        let keys: Vec<Key> = (0..urls.len())
            .map(|i| Key::with_shared_name(&name, &[i as u32]))
            .collect();
        let nodes = keys
            .iter()
            .zip(&urls)
            .enumerate()
            .map(|(i, (k, url))| {
                let mut t = stream_task(&func, self.part_task(i));
                t.args.push(Arg::Literal(Value::new(url.clone())));
                t.args.push(Arg::Literal(storage.clone()));
                (k.clone(), Node::Task(t))
            })
            .collect();
        let layer = Layer::from_nodes(name, nodes, self.deps());
        let graph = brisk_core::layer::materialize(&[&layer]);
        let values =
            brisk_core::default_scheduler()?.get(&graph, &keys, &ComputeOptions::optimized())?;
        values
            .into_iter()
            .zip(keys)
            .map(|(v, key)| {
                v.get::<String>().map_err(|mismatch| {
                    BagError::Compute(brisk_core::Error::WrongType { key, mismatch })
                })
            })
            .collect()
    }
}
