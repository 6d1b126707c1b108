//! The named kernels every array task calls, so that array graphs can cross a process
//! boundary: functions travel by name, parameters as literal arguments (programs, chunk
//! locations, reduction specs), chunks as raw buffers ([`crate::codec`]).
//!
//! Each module declares its own kernels with [`kernel!`](crate::kernels::kernel), next to the
//! function that implements them: the macro defines a [`Kernel`] constant and registers the
//! function under its name (so a worker process of the same binary finds it), and
//! [`func`] turns a constant into the [`Func`] tasks call. This module knows no kernel itself.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use brisk_core::{Func, TaskResult, Value};

/// A named array kernel: its registered name and the function that runs it.
#[derive(Clone, Copy)]
pub(crate) struct Kernel {
    /// The registered name (`brisk_array::…`).
    pub(crate) name: &'static str,
    /// The function.
    pub(crate) call: fn(&[Value]) -> TaskResult,
}

/// `kernel!(pub(crate) NAME = "brisk_array::name" => path::to::function);` declares the
/// constant `NAME` and registers the function by name (with an optional `, label "read-x"`
/// for processes that rebuild it by name).
macro_rules! kernel {
    ($(#[$m:meta])* $vis:vis $id:ident = $name:literal => $f:path $(, label $label:literal)?) => {
        $(#[$m])*
        $vis const $id: $crate::kernels::Kernel = $crate::kernels::Kernel {
            name: $name,
            call: $f,
        };
        inventory::submit! {
            brisk_core::func::FunctionEntry {
                name: $name,
                type_id: || brisk_core::func::type_id_of_val(&$f),
                make: || brisk_core::Func::named_raw(
                    $name,
                    $crate::kernels::kernel!(@label $name $(, $label)?),
                    $f,
                ),
            }
        }
    };
    (@label $name:literal) => { $name };
    (@label $name:literal, $label:literal) => { $label };
}
pub(crate) use kernel;

/// The kernel `k` with `label` for pictures and profiles. One `Func` per (name, label) is
/// kept, so tasks share it.
pub(crate) fn func(k: Kernel, label: &'static str) -> Func {
    static CACHE: OnceLock<Mutex<HashMap<(&'static str, &'static str), Func>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut guard = match cache.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    guard
        .entry((k.name, label))
        .or_insert_with(|| Func::named_raw(k.name, label, k.call))
        .clone()
}
