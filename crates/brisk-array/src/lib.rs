//! # brisk-array: chunked n-dimensional arrays (dask.array for Rust)
//!
//! Lazy, chunked, larger-than-memory arrays with the interface numpy and ndarray users know,
//! computed by blocked algorithms on Brisk's task graphs, with [`ndarray`] under the hood.
//!
//! ```
//! use brisk_array as da;
//! use brisk_core::Collection;
//! # brisk_local::LocalScheduler::threaded();
//! let x = da::arange(1e6, 1e5)?;         // the talk's example, smaller
//! let res = (&x + 1).sum();              // nothing computed yet
//! println!("{res}");                     // brisk.array<sum-aggregate, shape=(), dtype=i64, …>
//! assert_eq!(res.compute()?, 500000500000);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## What is here
//!
//! | area | API |
//! |---|---|
//! | creation | [`arange`], [`arange_with`], [`linspace`], [`zeros`], [`ones`], [`full`], [`eye`], [`RandomState`] (uniform, normal, integers; values independent of the chunking), [`from_array`], [`from_source`] over any [`ChunkSource`] |
//! | files | [`io::npy`] (C and Fortran order), [`io::hdf5`] (feature `hdf5`), [`io::zarr`] (feature `zarr`: Zarr v3 and v2 with zstd, gzip, zlib, blosc, transpose, sharding); writing with [`Array::store`] into any [`ChunkSink`], `to_npy`, `to_hdf5`, `to_zarr` — chunk by chunk |
//! | elementwise | `+ - * / %` and `& \| ^ ! -` on arrays, references, lazy scalars and numbers, with numpy broadcasting; `lt`/`le`/`gt`/`ge`/`equal`/`not_equal`, `maximum`, `minimum`, `pow`, `clip`, `abs`, `sign`, `sqrt`, `exp`, `log`, trig, rounding, `isnan`/`isinf`/`isfinite`, [`where_`], [`Array::astype`] |
//! | reductions | `sum prod min max any all mean var std argmin argmax` and the `nan…` variants, over every axis (`x.sum()` → [`Scalar`]), one axis (`sum_axis`) or any ([`ReduceOpts`]: axes, `keepdims`, `split_every`, `ddof`); `cumsum`, `cumprod`, `nancumsum`, `nancumprod`, `diff` |
//! | order and statistics | `sort`, `argsort`, `median_axis`, `quantile`, `percentile` (exact along one axis), `topk`, `unique` (with counts), `isin`, [`searchsorted`], [`histogram`], [`histogram_edges`], [`einsum`] |
//! | shape | [`Array::slice`] with [`Idx`] (steps, negative, integers, new axes), integer-array indexing [`Array::take`] (known or lazy indices), per-axis boolean [`Array::compress`], boolean [`Array::mask`] with unknown chunk sizes (chained masks too) and [`Array::compute_chunk_sizes`], `t`/`transpose`, `reshape`/`ravel`, [`concatenate`], [`stack`], `squeeze`, `expand_dims`, `rechunk` (two stages past [`RECHUNK_TASK_LIMIT`]) |
//! | linear algebra | [`linalg`] on faer: `matmul`/`dot` by blocks (products summed in a `split_every` tree, `matmul_with`), [`tensordot`], tall-and-skinny `qr` and `svd`, [`linalg::svd_compressed`], [`linalg::solve`], [`linalg::inv`], [`linalg::cholesky`], [`linalg::lstsq`], [`linalg::norm`] |
//! | your functions | `map_blocks`, [`blockwise`], [`blockwise_func`], `map_overlap` with a [`Boundary`] |
//! | running | [`brisk_core::Collection`]: `compute()` (an `ndarray::ArrayD<T>`), `compute((&a, &b))`, `visualize()`; [`Array::persist`]; `Display` like Dask's repr |
//!
//! ## Design
//!
//! - **Typed arrays.** `Array<T>` for `T` in `bool, u8, i32, i64, u64, f32, f64`: `compute()`
//!   returns an `ndarray::ArrayD<T>`, mixing types is a compile error (convert with
//!   [`Array::astype`]), and results follow numpy's type rules (`sum` of `i32` is `i64`, `mean`
//!   of integers is `f64`). The runtime tag is [`DType`].
//! - **Fused elementwise work.** Elementwise operations build a small expression program per
//!   chunk ([`expr`]) instead of a layer of tasks; it is evaluated tile by tile in cache, and a
//!   reduction evaluates it inside its per-chunk task. So `(x + 1).sum()` is one task per chunk
//!   and never writes `x + 1` to memory. Cheap generated data (`arange`, `random`, `ones`, …)
//!   is recomputed where it is used rather than stored; [`Array::persist`] stores it.
//! - **Run-time CPU dispatch.** The hot loops (random and range generators, elementwise maps,
//!   sums and means) are compiled for AVX-512, AVX2 and baseline x86-64 and chosen when first
//!   called, so a portable build runs vector code; the values are bit-identical on every path
//!   ([`set_cpu_dispatch`], [`cpu_dispatch_target`]).
//! - **Named kernels.** Every task calls a registered kernel with its parameters as literal
//!   arguments, and chunks have a raw-bytes codec ([`codec`]), so graphs can run in other
//!   processes.
//! - **Errors.** Operations that return an `Array` through an operator (`&a + &b`) cannot
//!   return a `Result`; a refused one yields an array carrying the error, reported by
//!   [`Array::check`] or when computed. Everything else returns [`Result`].
//! - **Chunks of unknown size** (after a boolean mask) are `UNKNOWN` (`nan` in `Display`):
//!   elementwise work and reductions still run; slicing, rechunking and the like ask for
//!   [`Array::compute_chunk_sizes`] first.
//! - **Your functions** (`map_blocks`, [`blockwise`], `map_overlap`): a closure runs
//!   in-process; a `#[brisk::func]` function passed in its place is found by its type and
//!   called by name, so it runs on a cluster's workers too ([`blockwise_func`] and
//!   `map_blocks_func` take function values, bound parameters included). A [`ChunkSink`]
//!   (`store`) and a [`ChunkSource`] (`from_source`) are objects of yours, not functions:
//!   they stay in this process. Everything else is named and crosses process boundaries.

mod accumulators;
mod array;
mod blockwise;
mod chunks;
pub mod codec;
mod creation;
mod dtype;
mod einsum;
mod error;
mod eval;
mod eval_ops;
pub mod expr;
mod generate;
mod histogram;
mod indexing;
pub mod io;
mod kernels;
pub mod linalg;
mod masks;
mod num;
mod ops;
mod order_keys;
mod rechunk;
mod reduce;
mod reduce_kernels;
mod reshape;
mod scan;
mod shape;
mod simd;
mod slicing;
mod sorting;
mod store;
mod unique_kernels;

pub use array::{Array, Scalar};
pub use blockwise::{Boundary, blockwise, blockwise_func};
pub use chunks::{AxisChunks, ChunkSpec, DEFAULT_CHUNK_BYTES, MAX_CHUNKS, UNKNOWN};
pub use creation::{
    ChunkSource, Length, RandomState, arange, arange_with, eye, eye_with, from_array, from_source,
    full, linspace, linspace_with, ones, zeros,
};
pub use dtype::{AnyArray, Bits, DType, Element, Float, Number, ScalarValue, Signed};
pub use einsum::einsum;
pub use error::{ArrayError, Result, fmt_shape};
pub use eval::{ChunkLoc, TILE};
pub use histogram::{histogram, histogram_edges};
pub use indexing::{AxisMask, TakeIndices};
pub use linalg::tensordot;
pub use ops::{Operand, where_};
pub use rechunk::{AssembleSpec, Piece, RECHUNK_TASK_LIMIT};
pub use reduce::{DEFAULT_SPLIT_EVERY, ReduceOpts};
pub use reduce_kernels::{Partial, ReduceOp, ReduceSpec};
pub use shape::{ChunkOp, concatenate, stack};
pub use simd::{cpu_dispatch_target, set_cpu_dispatch};
pub use slicing::Idx;
pub use sorting::searchsorted;
pub use store::ChunkSink;
