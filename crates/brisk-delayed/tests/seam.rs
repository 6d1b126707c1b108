//! Collections compute through the scheduler seam: a scoped or process-wide default replaces
//! the threaded scheduler without the collection knowing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use brisk_core::{Collection, ComputeOptions, Error, Graph, Key, Scheduler, Value, with_scheduler};
use brisk_delayed::delayed;

/// A scheduler that counts its calls and delegates to the sync scheduler.
struct Counting(AtomicUsize);

impl Scheduler for Counting {
    fn name(&self) -> &str {
        "counting"
    }
    fn get(&self, g: &Graph, keys: &[Key], o: &ComputeOptions) -> Result<Vec<Value>, Error> {
        self.0.fetch_add(1, Ordering::SeqCst);
        assert!(o.fuse, "collections ask for fusion");
        Scheduler::get(&brisk_local::LocalScheduler::sync(), g, keys, o)
    }
}

fn inc(x: i64) -> i64 {
    x + 1
}

#[test]
fn scoped_and_global_defaults_replace_the_threaded_scheduler() {
    let counting = Arc::new(Counting(AtomicUsize::new(0)));
    let x = delayed(inc).call(1);
    assert_eq!(brisk_core::default_scheduler().unwrap().name(), "threads");
    let v = with_scheduler(counting.clone(), || {
        assert_eq!(brisk_core::default_scheduler().unwrap().name(), "counting");
        x.compute()
    });
    assert_eq!(v.unwrap(), 2);
    assert_eq!(counting.0.load(Ordering::SeqCst), 1);
    assert_eq!(
        brisk_core::default_scheduler().unwrap().name(),
        "threads",
        "scope ended"
    );

    let prev = brisk_core::set_default_scheduler(Some(counting.clone()));
    assert!(prev.is_none());
    assert_eq!(x.compute().unwrap(), 2);
    assert_eq!(counting.0.load(Ordering::SeqCst), 2);
    brisk_core::set_default_scheduler(None);
    assert_eq!(x.compute().unwrap(), 2);
    assert_eq!(counting.0.load(Ordering::SeqCst), 2);
}
