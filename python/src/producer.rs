//! `eoslog.Producer`, its `transaction()` context manager and `RecordMetadata`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use eoslog::client::{ConsumerGroupMetadata, Producer, ProducerRecord, RecordMetadata};
use eoslog::error::ErrorCode;
use parking_lot::Mutex;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::consumer::{PyConsumerGroupMetadata, offsets_arg};
use crate::convert::{data_arg, headers_arg, opt_data_arg, type_name};
use crate::errors::{self, IntoPyResult};
use crate::handle::{EngineHandle, ForkSafe};

/// Records extracted per GIL-holding step of `send_many`; the engine work on them runs with the
/// GIL released.
const SEND_MANY_CHUNK: usize = 8192;

/// A producer (see the stubs for the Python-facing documentation).
#[pyclass(frozen, name = "Producer", module = "eoslog._eoslog")]
pub(crate) struct PyProducer {
    handle: Arc<EngineHandle>,
    producer: ForkSafe<Producer>,
    closed: AtomicBool,
}

impl PyProducer {
    pub(crate) fn new(handle: Arc<EngineHandle>, producer: Producer) -> Self {
        PyProducer { handle, producer: ForkSafe::new(producer), closed: AtomicBool::new(false) }
    }

    /// The producer, after checking that it and its engine are open.
    fn producer(&self) -> PyResult<&Producer> {
        self.handle.check()?;
        if self.closed.load(Ordering::Acquire) {
            return Err(errors::closed("the producer"));
        }
        Ok(&self.producer)
    }
}

/// One `send_many` item as a record.
fn record_from_item(
    item: &Bound<'_, PyAny>,
    index: usize,
    topic: &str,
    partition: Option<i32>,
    timestamp: Option<i64>,
) -> PyResult<ProducerRecord> {
    let mut record = ProducerRecord {
        topic: topic.to_string(),
        partition,
        timestamp,
        key: None,
        value: None,
        headers: Vec::new(),
    };
    if let Ok(b) = item.cast::<PyBytes>() {
        record.value = Some(b.as_bytes().to_vec());
        return Ok(record);
    }
    if item.is_none() {
        return Ok(record);
    }
    if let Ok(t) = item.cast::<PyTuple>() {
        if t.len() != 2 {
            return Err(PyTypeError::new_err(format!(
                "record {index}: a tuple must be (key, value), got {} items",
                t.len()
            )));
        }
        record.key = opt_data_arg(Some(&t.get_item(0)?), &format!("record {index}: the key"))?;
        record.value = opt_data_arg(Some(&t.get_item(1)?), &format!("record {index}: the value"))?;
        return Ok(record);
    }
    if let Ok(d) = item.cast::<PyDict>() {
        for (k, v) in d.iter() {
            let k = k
                .cast::<PyString>()
                .map_err(|_| PyTypeError::new_err(format!("record {index}: dict keys must be str")))?;
            let v = Some(&v);
            match k.to_str()? {
                "value" => record.value = opt_data_arg(v, &format!("record {index}: value"))?,
                "key" => record.key = opt_data_arg(v, &format!("record {index}: key"))?,
                "headers" => record.headers = headers_arg(v)?,
                "partition" => record.partition = v.map(|v| v.extract()).transpose()?,
                "timestamp" => record.timestamp = v.map(|v| v.extract()).transpose()?,
                "topic" => {
                    record.topic = v.map(|v| v.extract()).transpose()?.unwrap_or_else(|| topic.to_string())
                }
                other => {
                    return Err(PyTypeError::new_err(format!(
                        "record {index}: unknown field {other:?} (expected value, key, headers, partition, \
                         timestamp, topic)"
                    )));
                }
            }
        }
        return Ok(record);
    }
    match data_arg(item, "") {
        Ok(value) => {
            record.value = Some(value);
            Ok(record)
        }
        Err(_) => Err(PyTypeError::new_err(format!(
            "record {index} must be bytes, bytearray, memoryview, str, None, a (key, value) tuple or a \
             dict, not {}",
            type_name(item)
        ))),
    }
}

#[pymethods]
impl PyProducer {
    /// Sends one record and waits until it is in the log.
    #[pyo3(signature = (topic, value = None, key = None, partition = None, headers = None, timestamp = None))]
    #[allow(clippy::too_many_arguments)]
    fn send(
        &self,
        py: Python<'_>,
        topic: String,
        value: Option<&Bound<'_, PyAny>>,
        key: Option<&Bound<'_, PyAny>>,
        partition: Option<i32>,
        headers: Option<&Bound<'_, PyAny>>,
        timestamp: Option<i64>,
    ) -> PyResult<PyRecordMetadata> {
        let producer = self.producer()?;
        let record = ProducerRecord {
            topic,
            partition,
            timestamp,
            key: opt_data_arg(key, "key")?,
            value: opt_data_arg(value, "value")?,
            headers: headers_arg(headers)?,
        };
        let md = py.detach(|| producer.send_sync(record)).py_err(py)?;
        Ok(md.into())
    }

    /// Sends many records to `topic` in batches; returns how many were sent.
    #[pyo3(signature = (topic, records, *, partition = None, timestamp = None))]
    fn send_many(
        &self,
        py: Python<'_>,
        topic: String,
        records: &Bound<'_, PyAny>,
        partition: Option<i32>,
        timestamp: Option<i64>,
    ) -> PyResult<usize> {
        let producer = self.producer()?;
        if records.is_instance_of::<PyString>() || records.is_instance_of::<PyBytes>() {
            return Err(PyTypeError::new_err(format!(
                "records must be an iterable of records, not a single {}",
                type_name(records)
            )));
        }
        let mut chunk: Vec<ProducerRecord> = Vec::with_capacity(SEND_MANY_CHUNK);
        let mut sent = 0;
        let send_chunk = |chunk: &mut Vec<ProducerRecord>| -> PyResult<usize> {
            let batch = std::mem::take(chunk);
            let n = batch.len();
            py.detach(|| batch.into_iter().try_for_each(|r| producer.send(r).map(drop))).py_err(py)?;
            Ok(n)
        };
        if let Ok(list) = records.cast::<PyList>() {
            for (index, item) in list.iter().enumerate() {
                chunk.push(record_from_item(&item, index, &topic, partition, timestamp)?);
                if chunk.len() == SEND_MANY_CHUNK {
                    sent += send_chunk(&mut chunk)?;
                }
            }
        } else {
            let iter = records.try_iter().map_err(|_| {
                PyTypeError::new_err(format!("records must be an iterable, not {}", type_name(records)))
            })?;
            for (index, item) in iter.enumerate() {
                chunk.push(record_from_item(&item?, index, &topic, partition, timestamp)?);
                if chunk.len() == SEND_MANY_CHUNK {
                    sent += send_chunk(&mut chunk)?;
                }
            }
        }
        sent += send_chunk(&mut chunk)?;
        py.detach(|| producer.flush()).py_err(py)?;
        Ok(sent)
    }

    /// Appends every record sent so far.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        let producer = self.producer()?;
        py.detach(|| producer.flush()).py_err(py)
    }

    /// Registers the transactional id and fences earlier producers with the same id.
    fn init_transactions(&self, py: Python<'_>) -> PyResult<()> {
        let producer = self.producer()?;
        py.detach(|| producer.init_transactions()).py_err(py)
    }

    /// Starts a transaction.
    fn begin_transaction(&self, py: Python<'_>) -> PyResult<()> {
        let producer = self.producer()?;
        py.detach(|| producer.begin_transaction()).py_err(py)
    }

    /// Commits the transaction.
    fn commit_transaction(&self, py: Python<'_>) -> PyResult<()> {
        let producer = self.producer()?;
        py.detach(|| producer.commit_transaction()).py_err(py)
    }

    /// Aborts the transaction.
    fn abort_transaction(&self, py: Python<'_>) -> PyResult<()> {
        let producer = self.producer()?;
        py.detach(|| producer.abort_transaction()).py_err(py)
    }

    /// Adds consumer positions to the transaction.
    fn send_offsets_to_transaction(
        &self,
        py: Python<'_>,
        offsets: &Bound<'_, PyAny>,
        group: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let producer = self.producer()?;
        let offsets = offsets_arg(offsets)?;
        let group = if let Ok(s) = group.cast::<PyString>() {
            ConsumerGroupMetadata::new(s.to_str()?)
        } else if let Ok(m) = group.cast::<PyConsumerGroupMetadata>() {
            m.get().to_rust()
        } else {
            return Err(PyTypeError::new_err(format!(
                "group must be a group id (str) or a ConsumerGroupMetadata, not {}",
                type_name(group)
            )));
        };
        py.detach(|| producer.send_offsets_to_transaction(&offsets, &group)).py_err(py)
    }

    /// A context manager that begins a transaction and commits or aborts it.
    fn transaction(slf: Py<Self>) -> Transaction {
        Transaction { producer: slf, state: Mutex::new(TxnState::Pending) }
    }

    /// Number of partitions of `topic`.
    fn partitions_for(&self, py: Python<'_>, topic: &str) -> PyResult<i32> {
        let producer = self.producer()?;
        py.detach(|| producer.partitions_for(topic)).py_err(py)
    }

    /// Flushes, aborts an open transaction and releases the producer.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.handle.check_process()?;
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let producer = &*self.producer;
        let result = py.detach(|| producer.close());
        if self.handle.is_closed() {
            // The engine went first; there is nothing left to flush or abort into.
            return Ok(());
        }
        result.py_err(py)
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (_exc_type=None, _exc=None, _tb=None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: Option<&Bound<'_, PyAny>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    /// The `transactional.id`, if any.
    #[getter]
    fn transactional_id(&self) -> Option<String> {
        self.producer.config().transactional_id.clone()
    }

    /// Where the transaction stands.
    #[getter]
    fn transaction_state(&self) -> String {
        self.producer.transaction_state().to_string()
    }

    /// The producer id in use (`None` before `init_transactions` of a transactional producer).
    #[getter]
    fn producer_id(&self) -> Option<i64> {
        self.producer.producer_id_and_epoch().map(|p| p.producer_id)
    }

    /// The producer epoch in use.
    #[getter]
    fn producer_epoch(&self) -> Option<i16> {
        self.producer.producer_id_and_epoch().map(|p| p.epoch)
    }

    fn __repr__(&self) -> String {
        match self.producer.config().transactional_id.as_deref() {
            Some(id) => format!("<eoslog.Producer transactional_id={id:?}>"),
            None => "<eoslog.Producer>".to_string(),
        }
    }
}

/// Where a `transaction()` context manager is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxnState {
    /// Created, not entered.
    Pending,
    /// Entered: the transaction is open.
    Active,
    /// Exited cleanly and committed.
    Committed,
    /// Exited with an exception and aborted.
    Aborted,
    /// Beginning, committing or aborting failed.
    Failed,
}

impl TxnState {
    fn name(self) -> &'static str {
        match self {
            TxnState::Pending => "pending",
            TxnState::Active => "active",
            TxnState::Committed => "committed",
            TxnState::Aborted => "aborted",
            TxnState::Failed => "failed",
        }
    }
}

/// `with producer.transaction():` — begins on entry; commits on a clean exit; aborts when an
/// exception leaves the block and lets it propagate (never swallows it).
#[pyclass(frozen, name = "Transaction", module = "eoslog._eoslog")]
pub(crate) struct Transaction {
    producer: Py<PyProducer>,
    state: Mutex<TxnState>,
}

impl Transaction {
    /// Moves from `from` to `to`, or explains why not.
    fn transition(&self, py: Python<'_>, from: TxnState, to: TxnState, what: &str) -> PyResult<()> {
        let mut st = self.state.lock();
        if *st != from {
            return Err(errors::to_py(
                py,
                eoslog::Error::kafka(
                    ErrorCode::InvalidTxnState,
                    format!("cannot {what} a transaction context that is {}", st.name()),
                ),
            ));
        }
        *st = to;
        Ok(())
    }

    fn set(&self, to: TxnState) {
        *self.state.lock() = to;
    }
}

#[pymethods]
impl Transaction {
    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        let py = slf.py();
        let this = slf.get();
        this.transition(py, TxnState::Pending, TxnState::Active, "enter")?;
        if let Err(e) = this.producer.get().begin_transaction(py) {
            this.set(TxnState::Failed);
            return Err(e);
        }
        Ok(slf)
    }

    #[pyo3(signature = (exc_type=None, exc=None, _tb=None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyAny>>,
        exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        self.transition(py, TxnState::Active, TxnState::Active, "exit")?;
        let producer = self.producer.get();
        if exc_type.is_none_or(|t| t.is_none()) {
            match producer.commit_transaction(py) {
                Ok(()) => self.set(TxnState::Committed),
                Err(e) => {
                    self.set(TxnState::Failed);
                    return Err(e);
                }
            }
        } else {
            match producer.abort_transaction(py) {
                Ok(()) => self.set(TxnState::Aborted),
                Err(abort_error) => {
                    self.set(TxnState::Failed);
                    // The block's exception stays the one raised; the failed abort rides on it.
                    if let Some(exc) = exc.filter(|e| !e.is_none()) {
                        let note = format!("abort_transaction() failed as well: {abort_error}");
                        let _ = exc.call_method1("add_note", (note,));
                    }
                }
            }
        }
        Ok(false)
    }

    /// `"pending"`, `"active"`, `"committed"`, `"aborted"` or `"failed"`.
    #[getter]
    fn state(&self) -> &'static str {
        self.state.lock().name()
    }

    /// The producer this transaction belongs to.
    #[getter]
    fn producer(&self, py: Python<'_>) -> Py<PyProducer> {
        self.producer.clone_ref(py)
    }

    fn __repr__(&self) -> String {
        format!("<eoslog.Transaction {}>", self.state.lock().name())
    }
}

/// Where a record landed.
#[pyclass(frozen, eq, get_all, name = "RecordMetadata", module = "eoslog._eoslog")]
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct PyRecordMetadata {
    topic: String,
    partition: i32,
    offset: i64,
    timestamp: i64,
}

impl From<RecordMetadata> for PyRecordMetadata {
    fn from(md: RecordMetadata) -> Self {
        PyRecordMetadata {
            topic: md.topic,
            partition: md.partition,
            offset: md.offset,
            timestamp: md.timestamp,
        }
    }
}

#[pymethods]
impl PyRecordMetadata {
    #[new]
    fn new(topic: String, partition: i32, offset: i64, timestamp: i64) -> Self {
        PyRecordMetadata { topic, partition, offset, timestamp }
    }

    fn __repr__(&self) -> String {
        format!(
            "RecordMetadata(topic={:?}, partition={}, offset={}, timestamp={})",
            self.topic, self.partition, self.offset, self.timestamp
        )
    }
}
