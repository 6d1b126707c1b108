//! # brisk-bag: bags of records (dask.bag / Spark RDDs for Rust)
//!
//! A [`Bag<T>`] is a lazy, partitioned collection of records: lines of text, JSON documents,
//! tuples, your own serde structs. Element-wise operations ([`Bag::map`], [`Bag::filter`],
//! [`Bag::flat_map`], …) chain inside each partition and run in one pass per partition;
//! reductions ([`Bag::count`], [`Bag::sum`], [`Bag::frequencies`], [`Bag::fold`], …) combine
//! partial results in a tree; [`Bag::groupby`] goes through a hash shuffle. Nothing runs until
//! you compute, on the default scheduler (threads, in-process, unless a cluster is connected).
//!
//! The talk's example: count the lines that mention python, and the ten most common words.
//!
//! ```
//! use brisk_core::Collection;
//! # brisk_local::LocalScheduler::threaded();
//! let dir = tempfile::tempdir().unwrap();
//! for i in 0..3 {
//!     let text = format!("python is fun\nrust is fast {i}\nso is python {i}\n");
//!     brisk_io::write_all(&dir.path().join(format!("lines_{i}.txt")).display().to_string(),
//!                         text.as_bytes()).unwrap();
//! }
//! let pattern = dir.path().join("lines_*.txt").display().to_string();
//!
//! let b = brisk_bag::read_text(&pattern)?;
//! assert_eq!(b.filter(|l| l.contains("python")).count().compute()?, 6);
//!
//! let top = b
//!     .flat_map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
//!     .frequencies()
//!     .topk_by(2, |(_, n)| *n)
//!     .compute()?;
//! assert_eq!(top, [("is".to_string(), 9), ("python".to_string(), 6)]);
//! # Ok::<(), brisk_bag::BagError>(())
//! ```
//!
//! ## Reading
//!
//! [`read_text`] and [`TextSource`] read files named by URLs and globs through `brisk-io`
//! (local, `s3://`, `gs://`, `az://`, `http(s)://`), decompress by extension, and split large
//! uncompressed files into blocks aligned to lines. [`read_json`] and [`Bag::parse_json`] read
//! JSON lines; a malformed line is an error naming its file and line number, or is skipped
//! with [`OnError::Skip`]. [`Bag::take`] computes partitions one by one and stops reading as
//! soon as it has enough records.
//!
//! ## Text
//!
//! Bags of `String` have built-in string operations like dask's `bag.str`:
//! [`Bag::split_whitespace`], [`Bag::split`], [`Bag::lower`], [`Bag::trim`]. Records travel
//! between operations in reusable slots, so `read_text(..).filter(..).count()` allocates
//! nothing per line and `split_whitespace().frequencies()` allocates only for new words.
//!
//! ## Functions and processes
//!
//! Within a partition, operations chain into one pass (a partition is a stream, not a vector,
//! until something stores it); between operations that need all partitions (reductions,
//! `groupby`), partitions are stored as `Vec<T>` values. Closures run in this process, on the
//! local schedulers. On a cluster a task must call functions the workers find by name, and
//! these stages are named kernels for the record types in [`NAMED_RECORDS`] (and the
//! `(key, count)` pairs of `frequencies`): [`read_text`], the string stages
//! ([`Bag::split_whitespace`], [`Bag::lower`], ...), [`read_json`] and [`Bag::parse_json`],
//! [`Bag::pluck`] and [`Bag::pluck_or`],
//! [`Bag::filter`], [`Bag::map`], [`Bag::try_map`], [`Bag::flat_map`],
//! [`Bag::map_partitions`], [`Bag::topk_by`], [`Bag::fold`], [`Bag::reduction`],
//! [`Bag::foldby`], [`Bag::groupby`] and [`Bag::join`] with `#[brisk::func]` functions, their
//! `_func` twins ([`Bag::filter_func`], [`Bag::try_map_func`], [`Bag::topk_by_func`],
//! [`Bag::fold_func`], [`Bag::join_func`], ...) with function values (a bound one, or the
//! built-ins [`contains`] and [`by_count`]), [`Bag::count`], [`Bag::sum`], [`Bag::mean`],
//! [`Bag::min`], [`Bag::max`], [`Bag::distinct`], [`Bag::frequencies`], [`Bag::most_common`],
//! [`Bag::random_sample`], [`Bag::take`], [`Bag::to_textfiles`] (each worker writes the
//! partitions it computes) and storing partitions. So the talk's
//! `read_text(..).filter_func(contains("python")).count()` and the word count
//! `read_text(..).split_whitespace().frequencies().most_common(10)` run on stock `brisk
//! worker`s. Stages given closures still hold them: sent to a cluster they are a clear
//! `UnregisteredFunction` error naming `#[brisk::func]`, never a hang.
//!
//! ## Dataframes
//!
//! `to_dataframe` lives in the `brisk` facade (`brisk::BagToDataFrame`), since bags and
//! dataframes are peers.

/// Register `$kernel` (a `fn(&[Value]) -> TaskResult`) by `$name`, so that workers find it.
/// Every named bag kernel is registered so, through this macro or `register_stage!`.
macro_rules! register_kernel {
    ($name:expr, $label:expr, $kernel:expr) => {
        inventory::submit! {
            brisk_core::func::FunctionEntry {
                name: $name,
                type_id: || brisk_core::func::type_id_of_val(&$kernel),
                make: || brisk_core::Func::named_raw($name, $label, $kernel),
            }
        }
    };
}

/// Register `$kernel` (a `fn(&[Value]) -> TaskResult`) by `$name` (so workers find it) as the
/// kernel of `$stage` from records of type `$t` to records of type `$u` (so graph builders find
/// it by stage and types: `named::stage_kernel_to`). Every named bag kernel generic over a
/// record type is registered so. (For kernels generic over two types that are not records in
/// and out — the key type of `foldby`, say — `$t => $u` are those two types.)
macro_rules! register_stage {
    ($name:expr, $label:expr, $stage:expr, $kernel:expr, $t:ty => $u:ty) => {
        register_kernel!($name, $label, $kernel);
        inventory::submit! {
            crate::named::StageEntry {
                stage: $stage,
                record: || std::any::TypeId::of::<$t>(),
                output: || std::any::TypeId::of::<$u>(),
                name: $name,
            }
        }
    };
}

mod bag;
mod count_str;
mod counts;
mod error;
mod item;
mod json;
mod named;
mod named_agg;
mod named_fold;
mod named_reduce;
mod reduce;
mod shuffle;
mod stream;
mod strings;
mod text;

pub use bag::{Bag, Record};
pub use error::{BagError, Origin};
pub use item::Item;
pub use json::{Field, OnError, read_json};
pub use named::{NAMED_RECORDS, contains};
pub use named_reduce::by_count;
pub use strings::is_python_space;
pub use text::{TextSource, read_text};

/// A bag of the numbers `0..n` in `npartitions` partitions (dask's `bag.range`).
pub fn range(n: u64, npartitions: usize) -> Bag<u64> {
    Bag::from_sequence((0..n).collect(), npartitions)
}
