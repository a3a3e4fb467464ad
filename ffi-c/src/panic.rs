//! The panic boundary every exported function runs inside.
//!
//! Since Rust 1.81 an unwind that reaches an `extern "C"` function aborts the process. Every
//! exported body therefore runs inside `catch_unwind`: a fallible function turns a panic into
//! `EOSLOG_RESULT_PANIC` (with the panic message as the detail message), an infallible one into
//! a neutral value ([`PanicDefault`]: NULL, 0, false).

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::result::{FfiError, FfiResult, eoslog_result, set_last_error};

/// The value an infallible function returns when its body panicked.
pub(crate) trait PanicDefault {
    fn panic_default() -> Self;
}

impl<T> PanicDefault for *const T {
    fn panic_default() -> Self {
        std::ptr::null()
    }
}

impl<T> PanicDefault for *mut T {
    fn panic_default() -> Self {
        std::ptr::null_mut()
    }
}

impl PanicDefault for usize {
    fn panic_default() -> Self {
        0
    }
}

impl PanicDefault for u32 {
    fn panic_default() -> Self {
        0
    }
}

impl PanicDefault for bool {
    fn panic_default() -> Self {
        false
    }
}

impl PanicDefault for () {
    fn panic_default() -> Self {}
}

impl PanicDefault for eoslog_result {
    fn panic_default() -> Self {
        eoslog_result::Panic
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string());
    format!("eoslog panicked (a bug; please report it): {detail}")
}

/// Runs the body of a fallible function: `Ok` becomes `EOSLOG_RESULT_OK`, an error its code
/// (and the thread's last-error message), a panic `EOSLOG_RESULT_PANIC`.
///
/// `AssertUnwindSafe`: after a panic the handle involved may hold a half-updated state; the
/// documented contract is that the caller only frees it then. Memory safety does not depend
/// on those states.
#[inline]
pub(crate) fn result_boundary(body: impl FnOnce() -> FfiResult<()>) -> eoslog_result {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => eoslog_result::Ok,
        Ok(Err(error)) => {
            let code = error.code;
            set_last_error(error);
            code
        }
        Err(payload) => {
            set_last_error(FfiError::new(eoslog_result::Panic, panic_message(payload.as_ref())));
            eoslog_result::Panic
        }
    }
}

/// Runs the body of an infallible function; a panic returns [`PanicDefault::panic_default`]
/// and records the panic message.
pub(crate) fn value_boundary<T: PanicDefault>(body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(v) => v,
        Err(payload) => {
            set_last_error(FfiError::new(eoslog_result::Panic, panic_message(payload.as_ref())));
            T::panic_default()
        }
    }
}

/// Test-only entry point that panics inside the boundary, proving that a panic becomes an
/// error code instead of an abort. `kind` selects the boundary: 0 = a fallible function's
/// (returns `EOSLOG_RESULT_PANIC`); 1 = an infallible pointer-returning function's (its NULL
/// is reported here as `EOSLOG_RESULT_PANIC`); any other value returns `EOSLOG_RESULT_OK`
/// without panicking. Either way the panic message is the thread's last error message.
///
/// Not part of the supported API: excluded from `eoslog.h`; the C tests declare it themselves.
#[doc(hidden)]
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_test_panic(kind: i32) -> eoslog_result {
    match kind {
        0 => result_boundary(|| panic!("eoslog_test_panic: a deliberate panic")),
        1 => {
            let p: *const u8 = value_boundary(|| panic!("eoslog_test_panic: a deliberate panic"));
            if p.is_null() { eoslog_result::Panic } else { eoslog_result::Ok }
        }
        _ => result_boundary(|| Ok(())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::{eoslog_last_error_code, eoslog_last_error_message};

    #[test]
    fn a_panic_becomes_an_error_code_and_a_message() {
        assert_eq!(eoslog_test_panic(0), eoslog_result::Panic);
        assert_eq!(eoslog_last_error_code(), eoslog_result::Panic);
        let mut buf = [0 as std::ffi::c_char; 256];
        let n = eoslog_last_error_message(buf.as_mut_ptr(), buf.len());
        let text = unsafe_free_cstr(&buf);
        assert!(n > 0 && text.contains("deliberate panic"), "{text}");
        assert_eq!(eoslog_test_panic(1), eoslog_result::Panic);
        assert_eq!(eoslog_test_panic(2), eoslog_result::Ok);
    }

    fn unsafe_free_cstr(buf: &[std::ffi::c_char]) -> String {
        let bytes: Vec<u8> = buf.iter().take_while(|c| **c != 0).map(|c| *c as u8).collect();
        String::from_utf8(bytes).unwrap()
    }
}
