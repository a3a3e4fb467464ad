//! Rust-side tests of the ABI.
