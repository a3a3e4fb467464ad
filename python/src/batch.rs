//! Raw Kafka RecordBatch v2: `RecordBatchBuilder`, `decode_batches`, `RecordBatch`, `Record`.

use std::time::{SystemTime, UNIX_EPOCH};

use eoslog::batch::{self, Compression, OwnedRecord, RecordBatchBuilder};
use eoslog::error::BatchError;
use eoslog::{Error, TimestampType};
use parking_lot::Mutex;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

use crate::convert::{buffer_arg, headers_arg, headers_to_py, opt_bytes, opt_data_arg};
use crate::errors::IntoPyResult;

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn compression_arg(s: &str) -> PyResult<Compression> {
    Compression::parse(s).ok_or_else(|| {
        PyValueError::new_err(format!("compression must be none, gzip, snappy, lz4 or zstd, not {s:?}"))
    })
}

fn timestamp_type_arg(s: &str) -> PyResult<TimestampType> {
    match s {
        "CreateTime" => Ok(TimestampType::CreateTime),
        "LogAppendTime" => Ok(TimestampType::LogAppendTime),
        _ => Err(PyValueError::new_err(format!(
            "timestamp_type must be 'CreateTime' or 'LogAppendTime', not {s:?}"
        ))),
    }
}

/// Builds one RecordBatch v2 (see the stubs for the Python-facing documentation).
#[pyclass(frozen, name = "RecordBatchBuilder", module = "eoslog._eoslog")]
pub(crate) struct PyRecordBatchBuilder {
    builder: Mutex<RecordBatchBuilder>,
}

#[pymethods]
impl PyRecordBatchBuilder {
    #[new]
    #[pyo3(
        signature = (
            *,
            compression = "none",
            producer_id = -1,
            producer_epoch = -1,
            base_sequence = -1,
            transactional = false,
            base_offset = 0,
            partition_leader_epoch = -1,
            timestamp_type = "CreateTime",
        ),
        text_signature = "(*, compression='none', producer_id=-1, producer_epoch=-1, base_sequence=-1, \
                          transactional=False, base_offset=0, partition_leader_epoch=-1, \
                          timestamp_type='CreateTime')"
    )]
    #[allow(clippy::too_many_arguments)]
    fn new(
        compression: &str,
        producer_id: i64,
        producer_epoch: i16,
        base_sequence: i32,
        transactional: bool,
        base_offset: i64,
        partition_leader_epoch: i32,
        timestamp_type: &str,
    ) -> PyResult<Self> {
        let builder = RecordBatchBuilder::new()
            .compression(compression_arg(compression)?)
            .producer(producer_id, producer_epoch, base_sequence)
            .transactional(transactional)
            .base_offset(base_offset)
            .partition_leader_epoch(partition_leader_epoch)
            .timestamp_type(timestamp_type_arg(timestamp_type)?);
        Ok(PyRecordBatchBuilder { builder: Mutex::new(builder) })
    }

    /// Appends a record; `timestamp` defaults to now (ms since the epoch).
    #[pyo3(signature = (value = None, key = None, headers = None, timestamp = None))]
    fn append(
        &self,
        value: Option<&Bound<'_, PyAny>>,
        key: Option<&Bound<'_, PyAny>>,
        headers: Option<&Bound<'_, PyAny>>,
        timestamp: Option<i64>,
    ) -> PyResult<()> {
        let value = opt_data_arg(value, "value")?;
        let key = opt_data_arg(key, "key")?;
        let headers = headers_arg(headers)?;
        let headers: Vec<(&str, Option<&[u8]>)> =
            headers.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
        self.builder.lock().append(
            timestamp.unwrap_or_else(now_ms),
            key.as_deref(),
            value.as_deref(),
            &headers,
        );
        Ok(())
    }

    /// Encodes the batch.
    fn build<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self.builder.lock().build().map_err(Error::from).py_err(py)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Size of the batch if built uncompressed.
    #[getter]
    fn estimated_size(&self) -> usize {
        self.builder.lock().estimated_size()
    }

    fn __len__(&self) -> usize {
        self.builder.lock().len()
    }

    fn __repr__(&self) -> String {
        let b = self.builder.lock();
        format!("<eoslog.RecordBatchBuilder {} records, ~{} bytes>", b.len(), b.estimated_size())
    }
}

/// One batch decoded into owned values (built with the GIL released, converted after).
struct DecodedBatch {
    base_offset: i64,
    last_offset: i64,
    batch_length: i32,
    partition_leader_epoch: i32,
    magic: i8,
    crc: u32,
    attributes: i16,
    compression: &'static str,
    timestamp_type: &'static str,
    is_transactional: bool,
    is_control: bool,
    base_timestamp: i64,
    max_timestamp: i64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    records_count: i32,
    size: usize,
    records: Vec<OwnedRecord>,
}

/// Decodes back-to-back batches; with `verify_crc` a batch whose CRC-32C does not match is an
/// error.
fn decode(data: &[u8], verify_crc: bool) -> Result<Vec<DecodedBatch>, BatchError> {
    let mut out = Vec::new();
    for b in batch::batches(data) {
        let b = b?;
        if verify_crc && !b.is_crc_valid() {
            return Err(BatchError::CrcMismatch { stored: b.crc(), computed: b.compute_crc() });
        }
        let compression = b.compression()?;
        let records = b.records()?;
        let records =
            records.iter().map(|r| r.map(|r| r.to_owned_record())).collect::<Result<Vec<_>, _>>()?;
        out.push(DecodedBatch {
            base_offset: b.base_offset(),
            last_offset: b.last_offset(),
            batch_length: b.batch_length(),
            partition_leader_epoch: b.partition_leader_epoch(),
            magic: b.magic(),
            crc: b.crc(),
            attributes: b.attributes().0,
            compression: compression.name(),
            timestamp_type: b.timestamp_type().as_str(),
            is_transactional: b.is_transactional(),
            is_control: b.is_control(),
            base_timestamp: b.base_timestamp(),
            max_timestamp: b.max_timestamp(),
            producer_id: b.producer_id(),
            producer_epoch: b.producer_epoch(),
            base_sequence: b.base_sequence(),
            records_count: b.records_count(),
            size: b.size(),
            records,
        });
    }
    Ok(out)
}

/// Decodes `data` (GIL released) into a list of `RecordBatch`.
pub(crate) fn decode_to_py<'py>(
    py: Python<'py>,
    data: &[u8],
    verify_crc: bool,
) -> PyResult<Bound<'py, PyList>> {
    let decoded = py.detach(|| decode(data, verify_crc)).map_err(Error::from).py_err(py)?;
    let mut batches = Vec::with_capacity(decoded.len());
    for d in decoded {
        let records: Vec<Py<PyRecord>> =
            d.records.into_iter().map(|r| Py::new(py, PyRecord { record: r })).collect::<PyResult<_>>()?;
        batches.push(PyRecordBatch {
            base_offset: d.base_offset,
            last_offset: d.last_offset,
            batch_length: d.batch_length,
            partition_leader_epoch: d.partition_leader_epoch,
            magic: d.magic,
            crc: d.crc,
            attributes: d.attributes,
            compression: d.compression,
            timestamp_type: d.timestamp_type,
            is_transactional: d.is_transactional,
            is_control: d.is_control,
            base_timestamp: d.base_timestamp,
            max_timestamp: d.max_timestamp,
            producer_id: d.producer_id,
            producer_epoch: d.producer_epoch,
            base_sequence: d.base_sequence,
            records_count: d.records_count,
            size: d.size,
            records: PyList::new(py, records)?.unbind(),
        });
    }
    PyList::new(py, batches)
}

/// Decodes back-to-back RecordBatch v2 bytes (a segment file, a fetch result).
#[pyfunction]
#[pyo3(signature = (data, *, verify_crc = true))]
pub(crate) fn decode_batches<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    verify_crc: bool,
) -> PyResult<Bound<'py, PyList>> {
    let bytes = buffer_arg(data, "data")?;
    decode_to_py(py, &bytes, verify_crc)
}

/// One decoded batch.
#[pyclass(frozen, get_all, name = "RecordBatch", module = "eoslog._eoslog")]
pub(crate) struct PyRecordBatch {
    base_offset: i64,
    last_offset: i64,
    batch_length: i32,
    partition_leader_epoch: i32,
    magic: i8,
    crc: u32,
    attributes: i16,
    compression: &'static str,
    timestamp_type: &'static str,
    is_transactional: bool,
    is_control: bool,
    base_timestamp: i64,
    max_timestamp: i64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    records_count: i32,
    size: usize,
    records: Py<PyList>,
}

#[pymethods]
impl PyRecordBatch {
    fn __len__(&self) -> usize {
        self.records_count.max(0) as usize
    }

    fn __repr__(&self) -> String {
        format!(
            "RecordBatch(base_offset={}, records={}, producer_id={}, transactional={}, control={}, compression={})",
            self.base_offset,
            self.records_count,
            self.producer_id,
            if self.is_transactional { "True" } else { "False" },
            if self.is_control { "True" } else { "False" },
            self.compression
        )
    }
}

/// One decoded record.
#[pyclass(frozen, name = "Record", module = "eoslog._eoslog")]
pub(crate) struct PyRecord {
    record: OwnedRecord,
}

#[pymethods]
impl PyRecord {
    #[getter]
    fn offset(&self) -> i64 {
        self.record.offset
    }

    #[getter]
    fn timestamp(&self) -> i64 {
        self.record.timestamp
    }

    #[getter]
    fn key<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        opt_bytes(py, self.record.key.as_deref())
    }

    #[getter]
    fn value<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        opt_bytes(py, self.record.value.as_deref())
    }

    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        headers_to_py(py, &self.record.headers)
    }

    fn __repr__(&self) -> String {
        format!("Record(offset={}, timestamp={})", self.record.offset, self.record.timestamp)
    }
}
