//! brisk-delayed
