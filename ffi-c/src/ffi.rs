//! Crossing the boundary: opaque handles, argument checks and out-parameters.
//!
//! Every raw pointer from C is turned into a Rust reference here, and nowhere else, so the
//! `unsafe` that trusts C's promises is in one small file.
//!
//! # Handles
//!
//! A handle is a heap-allocated [`Shell`]: a magic number identifying its type, then the Rust
//! value. C only ever sees `*mut eoslog_x` (an opaque struct). Each use checks the magic, so a
//! handle of the wrong type, or one already freed, gets `EOSLOG_RESULT_INVALID_HANDLE` instead
//! of undefined behaviour. Freeing drops the value, marks the shell freed, and keeps the (small)
//! shell in a bounded quarantine, so the memory of a recently freed handle stays readable and is
//! not reused for another handle: a double free or a use after free of one of the last
//! [`QUARANTINE_LEN`] freed handles is detected. Older ones are returned to the allocator and
//! can no longer be detected — the C contract (free exactly once) still applies.

use std::collections::VecDeque;
use std::ffi::c_char;
use std::mem::ManuallyDrop;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::result::{FfiError, FfiResult, eoslog_result};

/// Largest byte buffer accepted from C (`EOSLOG_MAX_BUFFER_LEN`): no Kafka length field can
/// describe more, and a larger length is a bug or an attack (KIP-498).
pub(crate) const MAX_BUFFER_LEN: usize = i32::MAX as usize;
/// Longest NUL-terminated string accepted from C, in bytes (`EOSLOG_MAX_STRING_LEN`).
pub(crate) const MAX_STRING_LEN: usize = 65_535;
/// Most elements accepted in one array argument (`EOSLOG_MAX_ARRAY_LEN`).
pub(crate) const MAX_ARRAY_LEN: usize = 1 << 20;

/// An eoslog C handle type: an opaque struct whose pointers point at a `Shell<Inner>`.
pub(crate) trait Handle {
    /// The Rust value behind the handle.
    type Inner;
    /// Identifies live handles of this type (distinct per type).
    const MAGIC: u64;
    /// The C type's name, for messages.
    const NAME: &'static str;
}

/// Marks a freed handle.
const FREED: u64 = u64::from_be_bytes(*b"eos!FREE");

/// How many freed handle shells are kept to detect double frees and uses after free.
pub(crate) const QUARANTINE_LEN: usize = 1024;

/// The allocation behind every handle. `repr(C)` puts `magic` at offset 0 for every `T`, so
/// the magic can be read before the type is known to be right.
#[repr(C)]
struct Shell<T> {
    magic: AtomicU64,
    value: ManuallyDrop<T>,
}

/// A freed shell waiting in the quarantine: its value is dropped, only its memory is left.
struct Quarantined {
    shell: *mut u8,
    release: unsafe fn(*mut u8),
}

// SAFETY: a quarantined shell's value has been dropped; what is left is plain memory (a magic
// number and dead bytes) that any thread may free.
unsafe impl Send for Quarantined {}

static QUARANTINE: Mutex<VecDeque<Quarantined>> = Mutex::new(VecDeque::new());

/// Frees the memory of a quarantined `Shell<T>` (its value was dropped when it was freed).
///
/// # Safety
/// `shell` must come from `Box::into_raw(Box<Shell<T>>)` and be released once.
unsafe fn release_shell<T>(shell: *mut u8) {
    // SAFETY: guaranteed by the caller; `value` is `ManuallyDrop`, so this frees memory only.
    drop(unsafe { Box::from_raw(shell.cast::<Shell<T>>()) });
}

/// Moves `value` to the heap and returns it as a handle the caller owns.
pub(crate) fn new_handle<H: Handle>(value: H::Inner) -> *mut H {
    let shell = Box::new(Shell { magic: AtomicU64::new(H::MAGIC), value: ManuallyDrop::new(value) });
    Box::into_raw(shell).cast::<H>()
}

/// Checks that `ptr` is a live handle of type `H` and returns its shell. The hot path (a live
/// handle) is a NULL test, an alignment test and one atomic load; errors are built out of line.
#[inline]
fn live_shell<H: Handle>(ptr: *const H, what: &str) -> FfiResult<*mut Shell<H::Inner>> {
    let shell = ptr.cast::<Shell<H::Inner>>().cast_mut();
    if ptr.is_null() || !shell.is_aligned() {
        return Err(bad_handle_pointer::<H>(ptr.is_null(), what));
    }
    // SAFETY: the C contract is that a non-NULL handle argument was returned by eoslog and not
    // freed more than `QUARANTINE_LEN` frees ago, so the first 8 bytes are a live shell's or a
    // quarantined shell's magic (every shell is `repr(C)` with the magic first). Only that
    // field is read before the type is confirmed.
    let magic = unsafe { &*shell.cast::<AtomicU64>() }.load(Ordering::Acquire);
    if magic != H::MAGIC {
        return Err(wrong_magic::<H>(magic, what));
    }
    Ok(shell)
}

#[cold]
#[inline(never)]
fn bad_handle_pointer<H: Handle>(null: bool, what: &str) -> FfiError {
    if null {
        FfiError::null(what)
    } else {
        FfiError::new(
            eoslog_result::InvalidHandle,
            format!("{what} is not a {} handle (misaligned pointer)", H::NAME),
        )
    }
}

#[cold]
#[inline(never)]
fn wrong_magic<H: Handle>(magic: u64, what: &str) -> FfiError {
    if magic == FREED {
        FfiError::new(
            eoslog_result::InvalidHandle,
            format!("{what} is a {} that was already freed (use after free or double free)", H::NAME),
        )
    } else {
        FfiError::new(eoslog_result::InvalidHandle, format!("{what} is not a {} handle", H::NAME))
    }
}

/// Borrows the value behind a handle that C passed as `const`.
#[inline]
pub(crate) fn try_ref<'a, H: Handle>(ptr: *const H, what: &str) -> FfiResult<&'a H::Inner> {
    let shell = live_shell(ptr, what)?;
    // SAFETY: `live_shell` confirmed a live `Shell<H::Inner>`. It stays alive for the call:
    // freeing a handle while another call uses it is excluded by the documented contract.
    // Values behind `const` handles are `Sync` or only used from one thread by contract.
    Ok(unsafe { &(*shell).value })
}

/// Borrows the value behind a handle that C passed as non-`const` (exclusive use).
#[inline]
pub(crate) fn try_mut<'a, H: Handle>(ptr: *mut H, what: &str) -> FfiResult<&'a mut H::Inner> {
    let shell = live_shell(ptr, what)?;
    // SAFETY: as in `try_ref`; in addition, the header documents that a non-`const` handle
    // must not be used by two calls at once, so this is the only reference for the call.
    Ok(unsafe { &mut (*shell).value })
}

/// Frees a handle: NULL is a no-op; a live handle's value is dropped and its shell
/// quarantined; a freed or foreign one is reported without touching it further.
pub(crate) fn free_handle<H: Handle>(ptr: *mut H, what: &str) -> FfiResult<()> {
    if ptr.is_null() {
        return Ok(());
    }
    let shell = live_shell(ptr, what)?;
    // SAFETY: `live_shell` confirmed the shell; only its atomic magic is touched here.
    let magic = unsafe { &(*shell).magic };
    // Exactly one of two racing frees wins; the loser gets INVALID_HANDLE.
    if magic.compare_exchange(H::MAGIC, FREED, Ordering::AcqRel, Ordering::Acquire).is_err() {
        return Err(FfiError::new(
            eoslog_result::InvalidHandle,
            format!("{what} is a {} that was already freed (double free)", H::NAME),
        ));
    }
    // SAFETY: this call won the transition to FREED, so no other free drops the value, and by
    // contract no other call is using the handle. The value is dropped exactly once; the
    // shell's memory stays valid (quarantined) for later magic checks.
    unsafe { ManuallyDrop::drop(&mut (*shell).value) };
    let evicted = {
        let mut q = QUARANTINE.lock().unwrap_or_else(|e| e.into_inner());
        q.push_back(Quarantined { shell: shell.cast::<u8>(), release: release_shell::<H::Inner> });
        if q.len() > QUARANTINE_LEN { q.pop_front() } else { None }
    };
    if let Some(old) = evicted {
        // SAFETY: `old.shell` was pushed once by `free_handle` with the matching `release`, and
        // has just left the quarantine, so it is released exactly once.
        unsafe { (old.release)(old.shell) };
    }
    Ok(())
}

/// Borrows `len` bytes at `data`. NULL is accepted only with `len == 0`.
#[inline]
pub(crate) fn bytes<'a>(data: *const u8, len: usize, what: &str) -> FfiResult<&'a [u8]> {
    if len > MAX_BUFFER_LEN || data.is_null() {
        if data.is_null() && len == 0 {
            return Ok(&[]);
        }
        return Err(bad_buffer(data.is_null(), len, MAX_BUFFER_LEN, what));
    }
    // SAFETY: non-NULL, `len <= i32::MAX` (so within `isize`), and the C contract is that
    // `data` points to `len` readable bytes that are not modified during the call (or, for
    // borrowed views, until the borrowing handle is freed, as documented there).
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

/// The error for a buffer or array argument that is too long or NULL with a length.
#[cold]
#[inline(never)]
fn bad_buffer(null: bool, len: usize, max: usize, what: &str) -> FfiError {
    if len > max {
        FfiError::new(
            eoslog_result::LengthTooLarge,
            format!("{what}: length {len} is past the limit of {max}"),
        )
    } else {
        debug_assert!(null);
        FfiError::new(eoslog_result::NullParameter, format!("{what} is NULL but its length is {len}"))
    }
}

/// Like [`bytes`], but NULL with `len == 0` means "null" (Kafka's null key or value) rather
/// than empty; an empty value is a non-NULL pointer with length 0.
pub(crate) fn opt_bytes<'a>(data: *const u8, len: usize, what: &str) -> FfiResult<Option<&'a [u8]>> {
    if data.is_null() && len == 0 { Ok(None) } else { bytes(data, len, what).map(Some) }
}

/// Borrows an array of `len` `T`s. NULL is accepted only with `len == 0`.
pub(crate) fn array<'a, T>(data: *const T, len: usize, what: &str) -> FfiResult<&'a [T]> {
    if len > MAX_ARRAY_LEN || data.is_null() {
        if data.is_null() && len == 0 {
            return Ok(&[]);
        }
        return Err(bad_buffer(data.is_null(), len, MAX_ARRAY_LEN, what));
    }
    if !data.is_aligned() {
        return Err(FfiError::invalid(format!("{what} is a misaligned pointer")));
    }
    // SAFETY: non-NULL and aligned; `len` is at most 2^20 elements of small `repr(C)` structs,
    // far within `isize`; the C contract is that `data` points to `len` initialised elements.
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

/// Borrows a NUL-terminated UTF-8 string of at most [`MAX_STRING_LEN`] bytes.
///
/// The terminator is searched for byte by byte and the search stops at the limit, so an
/// unterminated or huge string costs at most `MAX_STRING_LEN + 1` reads, never a scan through
/// unrelated memory.
pub(crate) fn c_str<'a>(ptr: *const c_char, what: &str) -> FfiResult<&'a str> {
    if ptr.is_null() {
        return Err(FfiError::null(what));
    }
    let mut len = 0usize;
    loop {
        if len > MAX_STRING_LEN {
            return Err(FfiError::new(
                eoslog_result::LengthTooLarge,
                format!("{what} is longer than {MAX_STRING_LEN} bytes (or not NUL-terminated)"),
            ));
        }
        // SAFETY: the C contract is a NUL-terminated string; bytes are read in order and the
        // loop stops at the first NUL, so no byte past the terminator is read.
        if unsafe { ptr.add(len).read() } == 0 {
            break;
        }
        len += 1;
    }
    // SAFETY: the `len` bytes before the terminator were just read one by one.
    let raw = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
    std::str::from_utf8(raw).map_err(|e| {
        FfiError::new(
            eoslog_result::InvalidUtf8,
            format!("{what} is not valid UTF-8 (invalid byte at position {})", e.valid_up_to()),
        )
    })
}

/// Like [`c_str`], but NULL is accepted and means "none".
pub(crate) fn opt_c_str<'a>(ptr: *const c_char, what: &str) -> FfiResult<Option<&'a str>> {
    if ptr.is_null() { Ok(None) } else { c_str(ptr, what).map(Some) }
}

/// An out-parameter, checked before any work is done and written only on success.
pub(crate) struct Out<T> {
    ptr: *mut T,
}

/// Checks an out-parameter: non-NULL and aligned.
#[inline]
pub(crate) fn out<T>(ptr: *mut T, what: &str) -> FfiResult<Out<T>> {
    if ptr.is_null() || !ptr.is_aligned() {
        return Err(bad_out(ptr.is_null(), what));
    }
    Ok(Out { ptr })
}

#[cold]
#[inline(never)]
fn bad_out(null: bool, what: &str) -> FfiError {
    if null { FfiError::null(what) } else { FfiError::invalid(format!("{what} is a misaligned pointer")) }
}

impl<T> Out<T> {
    /// Writes the result. The previous contents are not read or dropped (they may be
    /// uninitialised C memory).
    #[inline]
    pub(crate) fn write(self, value: T) {
        // SAFETY: checked non-NULL and aligned by `out`; the C contract is that it points to
        // writable memory for one `T`.
        unsafe { self.ptr.write(value) }
    }
}

/// A NUL-terminated copy of `s` for C; interior NULs (impossible in names eoslog validates,
/// possible in free-form text) are replaced by U+FFFD.
pub(crate) fn to_cstring(s: &str) -> std::ffi::CString {
    std::ffi::CString::new(s).unwrap_or_else(|_| {
        std::ffi::CString::new(s.replace('\0', "\u{fffd}")).expect("interior NULs were replaced")
    })
}

/// The C pointer of a nullable string.
pub(crate) fn opt_ptr(s: &Option<std::ffi::CString>) -> *const c_char {
    s.as_ref().map_or(std::ptr::null(), |c| c.as_ptr())
}

/// The C pointer and length of a nullable byte string (NULL for null).
pub(crate) fn opt_slice_parts(b: Option<&[u8]>) -> (*const u8, usize) {
    match b {
        Some(b) => (b.as_ptr(), b.len()),
        None => (std::ptr::null(), 0),
    }
}

/// A pointer C handed over to be passed back to C later, possibly on another thread (the
/// `userdata` and the consumer of rebalance callbacks). Rust never dereferences it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CPtr<T>(pub(crate) *mut T);

// SAFETY: the pointer is only ever passed back to C, never dereferenced by Rust; the header
// documents that the C function receiving it may run on another thread than the one that
// handed it over (the thread calling `eoslog_consumer_poll`), so C agreed to that.
unsafe impl<T> Send for CPtr<T> {}

/// Binds an opaque C handle type to its Rust value and magic number. (The struct itself is
/// written out in full where it is declared: cbindgen reads the source and does not expand
/// macros.)
macro_rules! impl_handle {
    ($name:ident => $inner:ty, $magic:literal) => {
        impl crate::ffi::Handle for $name {
            type Inner = $inner;
            const MAGIC: u64 = u64::from_be_bytes(*$magic);
            const NAME: &'static str = stringify!($name);
        }
    };
}
pub(crate) use impl_handle;

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(non_camel_case_types)]
    struct test_handle {
        _private: [u8; 0],
    }
    impl_handle!(test_handle => Vec<u8>, b"eos:TEST");

    #[allow(non_camel_case_types)]
    struct other_handle {
        _private: [u8; 0],
    }
    impl_handle!(other_handle => String, b"eos:OTHR");

    #[test]
    fn handles_detect_double_free_and_wrong_types() {
        let h: *mut test_handle = new_handle::<test_handle>(vec![1, 2, 3]);
        assert_eq!(try_ref(h.cast_const(), "h").unwrap(), &vec![1, 2, 3]);
        let wrong = h.cast::<other_handle>();
        assert_eq!(try_ref(wrong.cast_const(), "h").unwrap_err().code, eoslog_result::InvalidHandle);
        free_handle(h, "h").unwrap();
        let e = free_handle(h, "h").unwrap_err();
        assert_eq!(e.code, eoslog_result::InvalidHandle);
        assert!(e.message.contains("already freed"), "{}", e.message);
        assert_eq!(try_ref(h.cast_const(), "h").unwrap_err().code, eoslog_result::InvalidHandle);
        free_handle::<test_handle>(std::ptr::null_mut(), "h").unwrap();
        assert_eq!(
            try_ref::<test_handle>(std::ptr::null(), "h").unwrap_err().code,
            eoslog_result::NullParameter
        );
    }

    #[test]
    fn strings_are_bounded_and_checked() {
        assert_eq!(c_str(c"abc".as_ptr(), "s").unwrap(), "abc");
        let bad = [0xffu8, 0];
        assert_eq!(c_str(bad.as_ptr().cast(), "s").unwrap_err().code, eoslog_result::InvalidUtf8);
        let long = vec![b'a'; MAX_STRING_LEN + 10];
        // Not NUL-terminated within the limit: rejected after MAX_STRING_LEN + 1 reads.
        assert_eq!(c_str(long.as_ptr().cast(), "s").unwrap_err().code, eoslog_result::LengthTooLarge);
        assert_eq!(c_str(std::ptr::null(), "s").unwrap_err().code, eoslog_result::NullParameter);
    }

    #[test]
    fn buffers_check_null_and_length() {
        assert_eq!(bytes(std::ptr::null(), 0, "b").unwrap(), &[] as &[u8]);
        assert_eq!(bytes(std::ptr::null(), 1, "b").unwrap_err().code, eoslog_result::NullParameter);
        let one = [7u8];
        assert_eq!(bytes(one.as_ptr(), usize::MAX, "b").unwrap_err().code, eoslog_result::LengthTooLarge);
        assert_eq!(opt_bytes(std::ptr::null(), 0, "b").unwrap(), None);
        assert_eq!(opt_bytes(one.as_ptr(), 0, "b").unwrap(), Some(&[] as &[u8]));
    }
}
