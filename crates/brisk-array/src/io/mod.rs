//! Reading and writing arrays chunk by chunk: numpy's `.npy` files, HDF5 datasets (feature
//! `hdf5`, system libhdf5) and Zarr arrays (feature `zarr`).
//! Each read or write is one task per chunk, so no step ever holds the whole array.

#[cfg(feature = "hdf5")]
pub mod hdf5;
pub mod npy;
#[cfg(feature = "zarr")]
pub mod zarr;
