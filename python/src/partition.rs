//! `eoslog.Partition`: one partition's log, for tools that append and read raw Kafka v2 batches.
//! Reads hand back the fetched bytes as a read-only `memoryview` over a [`RecordsBuffer`] that
//! owns them: no copy between the engine and Python.

use std::ffi::c_int;
use std::sync::Arc;

use eoslog::PartitionLog;
use eoslog::log::{AppendInfo, FetchData};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyMemoryView};

use crate::batch::decode_to_py;
use crate::convert::{buffer_arg, isolation_arg};
use crate::errors::IntoPyResult;
use crate::handle::{EngineHandle, ForkSafe};

/// A handle on one partition's log (see the stubs for the Python-facing documentation).
#[pyclass(frozen, name = "Partition", module = "eoslog._eoslog")]
pub(crate) struct PyPartition {
    handle: Arc<EngineHandle>,
    log: ForkSafe<Arc<PartitionLog>>,
}

impl PyPartition {
    pub(crate) fn new(handle: Arc<EngineHandle>, log: Arc<PartitionLog>) -> Self {
        PyPartition { handle, log: ForkSafe::new(log) }
    }

    fn log(&self) -> PyResult<&Arc<PartitionLog>> {
        self.handle.check()?;
        Ok(&self.log)
    }
}

#[pymethods]
impl PyPartition {
    /// Appends one RecordBatch v2 as a client would.
    fn append(&self, py: Python<'_>, batch: &Bound<'_, PyAny>) -> PyResult<PyAppendInfo> {
        let log = self.log()?;
        let bytes = buffer_arg(batch, "batch")?;
        let bytes: &[u8] = &bytes;
        let info = py.detach(|| log.append(bytes)).py_err(py)?;
        Ok(info.into())
    }

    /// Reads whole batches from `offset`.
    #[pyo3(
        signature = (offset, max_bytes = 1 << 20, isolation_level = "read_uncommitted"),
        text_signature = "(self, /, offset, max_bytes=1048576, isolation_level='read_uncommitted')"
    )]
    fn read(
        &self,
        py: Python<'_>,
        offset: i64,
        max_bytes: i64,
        isolation_level: &str,
    ) -> PyResult<FetchResult> {
        let log = self.log()?;
        let isolation = isolation_arg(isolation_level)?;
        let max_bytes =
            u32::try_from(max_bytes).ok().filter(|m| *m >= 1 && *m <= i32::MAX as u32).ok_or_else(|| {
                PyValueError::new_err(format!("max_bytes must be between 1 and 2**31 - 1, not {max_bytes}"))
            })?;
        let data = py.detach(|| log.read(offset, max_bytes, isolation)).py_err(py)?;
        FetchResult::new(py, data)
    }

    /// Makes everything appended so far durable.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        let log = self.log()?;
        py.detach(|| log.flush()).py_err(py)
    }

    #[getter]
    fn topic(&self) -> &str {
        &self.log.topic_partition().topic
    }

    #[getter]
    fn partition(&self) -> i32 {
        self.log.topic_partition().partition
    }

    #[getter]
    fn log_start_offset(&self) -> PyResult<i64> {
        Ok(self.log()?.log_start_offset())
    }

    #[getter]
    fn log_end_offset(&self) -> PyResult<i64> {
        Ok(self.log()?.log_end_offset())
    }

    #[getter]
    fn high_watermark(&self) -> PyResult<i64> {
        Ok(self.log()?.high_watermark())
    }

    #[getter]
    fn last_stable_offset(&self) -> PyResult<i64> {
        Ok(self.log()?.last_stable_offset())
    }

    fn __repr__(&self) -> String {
        format!("<eoslog.Partition {}>", self.log.topic_partition())
    }
}

/// What an append did.
#[pyclass(frozen, eq, get_all, name = "AppendInfo", module = "eoslog._eoslog")]
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct PyAppendInfo {
    first_offset: i64,
    last_offset: i64,
    log_append_time: i64,
    log_start_offset: i64,
    duplicate: bool,
    record_count: i32,
}

impl From<AppendInfo> for PyAppendInfo {
    fn from(i: AppendInfo) -> Self {
        PyAppendInfo {
            first_offset: i.first_offset,
            last_offset: i.last_offset,
            log_append_time: i.log_append_time,
            log_start_offset: i.log_start_offset,
            duplicate: i.duplicate,
            record_count: i.record_count,
        }
    }
}

#[pymethods]
impl PyAppendInfo {
    fn __repr__(&self) -> String {
        format!(
            "AppendInfo(first_offset={}, last_offset={}, log_append_time={}, duplicate={})",
            self.first_offset,
            self.last_offset,
            self.log_append_time,
            if self.duplicate { "True" } else { "False" }
        )
    }
}

/// An aborted transaction overlapping a read_committed read.
#[pyclass(frozen, eq, get_all, name = "AbortedTransaction", module = "eoslog._eoslog")]
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct AbortedTransaction {
    producer_id: i64,
    first_offset: i64,
}

#[pymethods]
impl AbortedTransaction {
    fn __repr__(&self) -> String {
        format!("AbortedTransaction(producer_id={}, first_offset={})", self.producer_id, self.first_offset)
    }
}

/// The result of `Partition.read`.
#[pyclass(frozen, name = "FetchResult", module = "eoslog._eoslog")]
pub(crate) struct FetchResult {
    #[pyo3(get)]
    high_watermark: i64,
    #[pyo3(get)]
    last_stable_offset: i64,
    #[pyo3(get)]
    log_start_offset: i64,
    #[pyo3(get)]
    log_end_offset: i64,
    #[pyo3(get)]
    aborted_transactions: Option<Vec<AbortedTransaction>>,
    buffer: Py<RecordsBuffer>,
}

impl FetchResult {
    fn new(py: Python<'_>, data: FetchData) -> PyResult<Self> {
        let aborted = data.aborted_transactions.map(|v| {
            v.into_iter()
                .map(|t| AbortedTransaction { producer_id: t.producer_id, first_offset: t.first_offset })
                .collect()
        });
        Ok(FetchResult {
            high_watermark: data.high_watermark,
            last_stable_offset: data.last_stable_offset,
            log_start_offset: data.log_start_offset,
            log_end_offset: data.log_end_offset,
            aborted_transactions: aborted,
            buffer: Py::new(py, RecordsBuffer { bytes: data.records.into_bytes().into_boxed_slice() })?,
        })
    }
}

#[pymethods]
impl FetchResult {
    /// The fetched batches, back to back as stored: a read-only `memoryview` over bytes the
    /// result owns (no copy).
    #[getter]
    fn records<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyMemoryView>> {
        PyMemoryView::from(self.buffer.bind(py).as_any())
    }

    /// The fetched batches decoded (`decode_batches(self.records)`).
    fn batches<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let buffer = self.buffer.get();
        decode_to_py(py, &buffer.bytes, true)
    }

    fn __len__(&self) -> usize {
        self.buffer.get().bytes.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "FetchResult(<{} bytes>, high_watermark={}, last_stable_offset={}, log_start_offset={})",
            self.buffer.get().bytes.len(),
            self.high_watermark,
            self.last_stable_offset,
            self.log_start_offset
        )
    }
}

/// Owns the bytes of one read and exports them through the buffer protocol (read-only).
#[pyclass(frozen, name = "RecordsBuffer", module = "eoslog._eoslog")]
pub(crate) struct RecordsBuffer {
    /// Never changed after construction: the pointer handed to Python stays valid for as long
    /// as this object lives, and every exported view holds a reference to it.
    bytes: Box<[u8]>,
}

#[pymethods]
impl RecordsBuffer {
    /// # Safety
    ///
    /// Called by CPython through `bf_getbuffer` with a valid, writable `view`.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut pyo3::ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let bytes = &slf.get().bytes;
        let len = isize::try_from(bytes.len()).map_err(|_| PyValueError::new_err("buffer too large"))?;
        // SAFETY: `view` comes from CPython's buffer protocol and is valid for writes.
        // `PyBuffer_FillInfo` stores a new reference to `slf` in `view.obj`, so the frozen
        // object — and the boxed slice it never mutates or reallocates — outlives every view;
        // `readonly = 1` makes it refuse (with BufferError) requests for a writable buffer, so
        // the `*mut` cast below never leads to a write.
        let rc = unsafe {
            pyo3::ffi::PyBuffer_FillInfo(
                view,
                slf.as_ptr(),
                bytes.as_ptr() as *mut std::ffi::c_void,
                len,
                1,
                flags,
            )
        };
        if rc == 0 { Ok(()) } else { Err(PyErr::fetch(slf.py())) }
    }

    fn __len__(&self) -> usize {
        self.bytes.len()
    }
}
