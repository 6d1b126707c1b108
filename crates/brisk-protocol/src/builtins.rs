//! Functions every Brisk program registers, because the runtime itself needs them.

use brisk_core::Value;

pub(crate) const IDENTITY: &str = "brisk.identity";

fn identity(v: Value) -> Value {
    v
}

brisk_core::register!(identity as "brisk.identity");
