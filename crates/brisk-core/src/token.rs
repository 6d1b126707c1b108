//! Unique names for the layers that collections and `delayed` create: `inc-9f3a0c1e2b4d5f60`.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        mix(nanos ^ (u64::from(std::process::id()) << 32))
    })
}

/// A name `"{prefix}-{16 hex digits}"` that is unique in this process and, with overwhelming
/// likelihood, across the processes of a cluster.
pub fn tokenize(prefix: &str) -> Arc<str> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{:016x}", mix(seed() ^ mix(n))).into()
}

#[cfg(test)]
mod tests {
    #[test]
    fn unique_and_prefixed() {
        let a = super::tokenize("inc");
        let b = super::tokenize("inc");
        assert_ne!(a, b);
        assert!(a.starts_with("inc-"));
        assert_eq!(crate::Key::from(&*a).prefix(), "inc");
    }
}
