//! Shared checks of the object-store tests.

use std::io::Read;

use brisk_io::{Block, IoError, Storage};

/// Reading `block` of `url` (listed before the object was replaced) fails with
/// `IoError::Changed` naming the URL, rather than mixing two versions.
pub fn assert_changed(storage: &Storage, block: &Block, url: &str) {
    let mut out = Vec::new();
    let e = storage
        .open(block, Some(b"\n"))
        .and_then(|mut r| {
            r.read_to_end(&mut out)
                .map_err(|e| IoError::from_std(url, e))
        })
        .expect_err("a read of the replaced object must fail");
    assert!(matches!(e, IoError::Changed { .. }), "{e:?}");
    assert!(e.to_string().contains(url), "{e}");
}
