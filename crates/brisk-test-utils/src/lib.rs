//! brisk-test-utils
