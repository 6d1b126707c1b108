//! brisk-client
