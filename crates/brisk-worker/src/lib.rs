//! brisk-worker
