//! Engine errors as Python exceptions.
//!
//! The exception classes live in Python (`eoslog/exceptions.py`), where multiple inheritance is
//! plain: `InvalidTopicError` is both an `EoslogError` and a `ValueError`, `StorageError` an
//! `OSError`, `RequestTimedOutError` a `TimeoutError`. This module only decides the code, the
//! message and — where the Kafka code alone is not precise enough — the class, and lets
//! `eoslog.exceptions._make_error` build the instance. Every instance carries `.code` (the
//! Kafka error code) and `.name` (Kafka's upper-case name for it).

use std::path::Path;

use eoslog::error::{BatchError, Error, ErrorCode, StorageError};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

/// `eoslog.exceptions._make_error(code, name, message, class_name)`.
static MAKE_ERROR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Builds an `eoslog.exceptions` exception. `class_name` overrides the class the code maps to.
fn make(py: Python<'_>, code: ErrorCode, message: String, class_name: Option<&str>) -> PyErr {
    let made = MAKE_ERROR
        .import(py, "eoslog.exceptions", "_make_error")
        .and_then(|f| f.call1((code.code(), code.name(), &message, class_name)));
    match made {
        Ok(exc) => PyErr::from_value(exc),
        // Only if the package's Python half is missing or broken; still a clear error.
        Err(import_error) => PyRuntimeError::new_err(format!(
            "{message} [{} ({}); eoslog.exceptions is unavailable: {import_error}]",
            code.name(),
            code.code()
        )),
    }
}

/// The class for errors whose Kafka code is shared by several different situations.
fn class_override(e: &Error) -> Option<&'static str> {
    match e {
        Error::Storage(StorageError::Closed(_)) => Some("ClosedError"),
        Error::Storage(StorageError::Locked(_)) => Some("DataDirectoryLockedError"),
        Error::Storage(_) => Some("StorageError"),
        Error::Batch(BatchError::InvalidRecord(_)) => Some("InvalidRecordError"),
        Error::Batch(BatchError::UnsupportedMagic(_)) => Some("UnsupportedForMessageFormatError"),
        Error::Batch(_) => Some("CorruptRecordError"),
        _ => None,
    }
}

/// Converts an engine error into the matching Python exception.
pub(crate) fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let code = e.code();
    make(py, code, e.to_string(), class_override(&e))
}

/// `ClosedError` for use of `what` after it was closed.
pub(crate) fn closed(what: &str) -> PyErr {
    Python::attach(|py| {
        make(py, ErrorCode::KafkaStorageError, format!("{what} is closed"), Some("ClosedError"))
    })
}

/// `ForkedProcessError` for use of an engine object in a process other than the one that
/// opened the engine.
pub(crate) fn forked(opened_by: u32, now: u32, path: &Path) -> PyErr {
    Python::attach(|py| {
        make(
            py,
            ErrorCode::UnknownServerError,
            format!(
                "the engine at {} was opened by process {opened_by} and cannot be used in the \
                 forked process {now}: open the engine (on another directory, or after the \
                 parent closed it) in the child instead",
                path.display()
            ),
            Some("ForkedProcessError"),
        )
    })
}

/// Converts `eoslog::Result` into `PyResult` given the GIL token.
pub(crate) trait IntoPyResult<T> {
    /// The error as its Python exception.
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for eoslog::Result<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}
