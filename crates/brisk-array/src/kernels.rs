//! The named kernels every array task calls, so that array graphs can cross a process
//! boundary: functions travel by name, parameters as literal arguments (programs, chunk
//! locations, reduction specs), chunks as raw buffers ([`crate::codec`]).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use brisk_core::func::FunctionEntry;
use brisk_core::{Func, TaskResult, Value};

type Kernel = fn(&[Value]) -> TaskResult;

/// `(program, loc, inputs…) -> chunk`
pub(crate) const EVAL: &str = "brisk_array::eval";
/// `(spec, loc, inputs…) -> partial`
pub(crate) const REDUCE_CHUNK: &str = "brisk_array::reduce_chunk";
/// `(spec, partials…) -> partial`
pub(crate) const REDUCE_COMBINE: &str = "brisk_array::reduce_combine";
/// `(spec, partials…) -> chunk`
pub(crate) const REDUCE_FINALIZE: &str = "brisk_array::reduce_finalize";
/// `(spec, pieces…) -> chunk`
pub(crate) const ASSEMBLE: &str = "brisk_array::assemble";

macro_rules! kernels {
    ($($name:expr => $f:path),+ $(,)?) => {
        $(
            inventory::submit! {
                FunctionEntry {
                    name: $name,
                    type_id: || brisk_core::func::type_id_of_val(&$f),
                    make: || Func::named_raw($name, $name, $f),
                }
            }
        )+
        fn kernel_fn(name: &str) -> Option<Kernel> {
            match name {
                $(n if n == $name => Some($f as Kernel),)+
                _ => None,
            }
        }
    };
}

kernels! {
    EVAL => crate::eval::eval_kernel,
    REDUCE_CHUNK => crate::reduce_kernels::reduce_chunk_kernel,
    REDUCE_COMBINE => crate::reduce_kernels::reduce_combine_kernel,
    REDUCE_FINALIZE => crate::reduce_kernels::reduce_finalize_kernel,
    ASSEMBLE => crate::rechunk::assemble_kernel,
    crate::creation::FROM_SOURCE => crate::creation::source_kernel,
    crate::shape::CHUNK_OP => crate::shape::chunk_op_kernel,
    crate::io::npy::READ => crate::io::npy::read_kernel,
    crate::scan::SCAN => crate::scan::scan_kernel,
    crate::tsqr::QR_BLOCK => crate::tsqr::qr_block_kernel,
    crate::tsqr::QR_STACK => crate::tsqr::qr_stack_kernel,
    crate::tsqr::Q_BLOCK => crate::tsqr::q_block_kernel,
    crate::tsqr::SMALL => crate::tsqr::small_kernel,
    crate::masks::MASK => crate::masks::mask_kernel,
    crate::masks::SHAPE => crate::masks::shape_kernel,
    crate::scan::CARRY => crate::scan::carry_kernel,
    crate::scan::APPLY => crate::scan::apply_kernel,
    crate::io::npy::WRITE => crate::io::npy::write_kernel,
    crate::linalg::MATMUL => crate::linalg::matmul_kernel,
    crate::linalg::SUM_BLOCKS => crate::linalg::sum_blocks_kernel,
}
#[cfg(feature = "hdf5")]
mod hdf5_kernels {
    use super::*;
    inventory::submit! {
        FunctionEntry {
            name: crate::io::hdf5::READ,
            type_id: || brisk_core::func::type_id_of_val(&crate::io::hdf5::read_kernel),
            make: || Func::named_raw(crate::io::hdf5::READ, "read-hdf5", crate::io::hdf5::read_kernel),
        }
    }
    inventory::submit! {
        FunctionEntry {
            name: crate::io::hdf5::WRITE,
            type_id: || brisk_core::func::type_id_of_val(&crate::io::hdf5::write_kernel),
            make: || Func::named_raw(crate::io::hdf5::WRITE, "store-hdf5", crate::io::hdf5::write_kernel),
        }
    }
}

/// The kernel `name` with `label` for pictures and profiles. One `Func` per (name, label) is
/// kept, so tasks share it.
pub(crate) fn func(name: &'static str, label: &'static str) -> Func {
    static CACHE: OnceLock<Mutex<HashMap<(&'static str, &'static str), Func>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut guard = match cache.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    guard
        .entry((name, label))
        .or_insert_with(|| match kernel_fn(name).or_else(|| extra_kernel(name)) {
            Some(f) => Func::named_raw(name, label, f),
            None => Func::named_raw(name, label, move |_: &[Value]| {
                Err(brisk_core::TaskFailure::msg(format!(
                    "unknown array kernel {name}"
                )))
            }),
        })
        .clone()
}

#[cfg(feature = "zarr")]
mod zarr_kernels {
    use super::*;
    inventory::submit! {
        FunctionEntry {
            name: crate::io::zarr::READ,
            type_id: || brisk_core::func::type_id_of_val(&crate::io::zarr::read_kernel),
            make: || Func::named_raw(crate::io::zarr::READ, "read-zarr", crate::io::zarr::read_kernel),
        }
    }
    inventory::submit! {
        FunctionEntry {
            name: crate::io::zarr::WRITE,
            type_id: || brisk_core::func::type_id_of_val(&crate::io::zarr::write_kernel),
            make: || Func::named_raw(crate::io::zarr::WRITE, "store-zarr", crate::io::zarr::write_kernel),
        }
    }
}

fn extra_kernel(name: &str) -> Option<Kernel> {
    #[cfg(feature = "zarr")]
    {
        if name == crate::io::zarr::READ {
            return Some(crate::io::zarr::read_kernel as Kernel);
        }
        if name == crate::io::zarr::WRITE {
            return Some(crate::io::zarr::write_kernel as Kernel);
        }
    }
    #[cfg(feature = "hdf5")]
    {
        if name == crate::io::hdf5::READ {
            return Some(crate::io::hdf5::read_kernel as Kernel);
        }
        if name == crate::io::hdf5::WRITE {
            return Some(crate::io::hdf5::write_kernel as Kernel);
        }
    }
    let _ = name;
    None
}

/// The blockwise evaluation kernel, labelled by the expression's outermost operation.
pub(crate) fn eval_func(label: &'static str) -> Func {
    func(EVAL, label)
}
