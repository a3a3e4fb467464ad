//! # libeoslog: the C ABI of eoslog
//!
//! This crate builds `libeoslog.so` and `libeoslog.a`; `include/eoslog.h` is generated from it
//! by cbindgen (`make header`) and checked in. The conventions follow rustls-ffi:
//!
//! - **Names.** Everything is prefixed `eoslog_`; functions are `eoslog_<type>_<verb>`, and a
//!   function whose first argument is `T *` is a method of `T`.
//! - **Handles.** Opaque types are created by `_open` / `_new` (or returned by a call such as
//!   `eoslog_partition_read`), owned by the caller, and released by exactly one `_free`, which
//!   accepts NULL. A `const T *` argument means the call does not need exclusive access: such
//!   calls on engines, partitions, producers and consumers are thread-safe. Builders and
//!   iterators (`T *` arguments) are used from one thread at a time.
//! - **Results.** Fallible functions return an `eoslog_result` (`int32_t`): 0 for success,
//!   Kafka's error codes as themselves, eoslog's own codes from 7000 (see [`result`]). Outputs
//!   are written only on success, inputs come first and outputs last, and a byte buffer is
//!   always followed by its length. `eoslog_last_error_message` copies a per-thread detail
//!   message into a caller buffer.
//! - **Checks.** Every pointer is checked (NULL → `EOSLOG_RESULT_NULL_PARAMETER`; handles carry
//!   a type tag, so a wrong, freed or double-freed handle → `EOSLOG_RESULT_INVALID_HANDLE` for
//!   the last 1024 freed handles), lengths are bounded, strings must be UTF-8, topic names must
//!   follow Kafka's rule — all before anything is done, so bad input changes nothing on disk.
//! - **Panics.** Every exported body runs inside `catch_unwind`; a panic becomes
//!   `EOSLOG_RESULT_PANIC` (or NULL / 0 / false for infallible functions), never an abort.
//!
//! The exported functions are `extern "C"` functions that dereference the raw pointers C
//! passes, as documented per function; they are not meant to be called from Rust (the crate is
//! not built as an rlib). `unsafe` is confined to `ffi.rs` (the pointer checks) and the
//! self-borrowing iterators in `batch.rs`.
#![deny(missing_docs)]
// C entry points take raw pointers by design; their contracts are documented in the header.
#![allow(clippy::not_unsafe_ptr_arg_deref)]
#![allow(non_camel_case_types)]

pub mod batch;
pub mod consumer;
pub mod engine;
mod ffi;
pub mod log;
mod panic;
pub mod producer;
pub mod result;

use std::ffi::c_char;

/// Largest byte buffer eoslog accepts, in bytes (2^31 - 1: no Kafka length can describe
/// more). Longer lengths fail with `EOSLOG_RESULT_LENGTH_TOO_LARGE` before anything is read.
pub const EOSLOG_MAX_BUFFER_LEN: usize = 2_147_483_647;
/// Longest NUL-terminated string eoslog accepts, in bytes (without the NUL); longer ones fail
/// with `EOSLOG_RESULT_LENGTH_TOO_LARGE`. eoslog reads at most this many bytes looking for the
/// terminator.
pub const EOSLOG_MAX_STRING_LEN: usize = 65_535;
/// Most elements eoslog accepts in one array argument (config pairs, headers, partitions,
/// offsets).
pub const EOSLOG_MAX_ARRAY_LEN: usize = 1_048_576;

const _: () = {
    assert!(EOSLOG_MAX_BUFFER_LEN == ffi::MAX_BUFFER_LEN);
    assert!(EOSLOG_MAX_STRING_LEN == ffi::MAX_STRING_LEN);
    assert!(EOSLOG_MAX_ARRAY_LEN == ffi::MAX_ARRAY_LEN);
};

/// The library's version as `"MAJOR.MINOR.PATCH"` (compare with `EOSLOG_VERSION_STRING` to
/// detect a header/library mismatch). Static string; never free it.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_version() -> *const c_char {
    panic::value_boundary(|| VERSION.as_ptr())
}

/// The library's version as one number, `MAJOR * 1000000 + MINOR * 1000 + PATCH` (the value of
/// `EOSLOG_VERSION_NUMBER` in the header the library was built with).
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_version_number() -> u32 {
    panic::value_boundary(version_number)
}

const VERSION: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
    concat!(
        env!("CARGO_PKG_VERSION_MAJOR"),
        ".",
        env!("CARGO_PKG_VERSION_MINOR"),
        ".",
        env!("CARGO_PKG_VERSION_PATCH"),
        "\0"
    )
    .as_bytes(),
) {
    Ok(v) => v,
    Err(_) => panic!("the version has no NUL"),
};

fn version_number() -> u32 {
    let part = |s: &str| s.parse::<u32>().expect("Cargo versions are numbers");
    part(env!("CARGO_PKG_VERSION_MAJOR")) * 1_000_000
        + part(env!("CARGO_PKG_VERSION_MINOR")) * 1_000
        + part(env!("CARGO_PKG_VERSION_PATCH"))
}

#[cfg(test)]
mod tests;
