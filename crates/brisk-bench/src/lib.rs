//! # brisk-bench: the Brisk side of `bench/compare.sh`
//!
//! Binaries that build and run the same workloads as the Dask scripts under `bench/`, printing
//! machine-readable timings that the shell scripts turn into `RESULT` lines.
