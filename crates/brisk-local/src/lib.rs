//! brisk-local
