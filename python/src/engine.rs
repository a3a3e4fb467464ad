//! `eoslog.Engine`: one open data directory.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use eoslog::client::{Consumer, ConsumerConfig, Producer, ProducerConfig};
use eoslog::{Engine, EngineConfig, Error};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyType};

use crate::consumer::PyConsumer;
use crate::convert::{config_pairs, isolation_arg, type_name};
use crate::errors::IntoPyResult;
use crate::handle::{EngineHandle, ForkSafe};
use crate::partition::PyPartition;
use crate::producer::PyProducer;

/// An open eoslog data directory (see the stubs for the Python-facing documentation).
#[pyclass(frozen, name = "Engine", module = "eoslog._eoslog")]
pub(crate) struct PyEngine {
    handle: Arc<EngineHandle>,
    engine: ForkSafe<Engine>,
}

impl PyEngine {
    /// The engine, after checking it is open and in its own process.
    pub(crate) fn engine(&self) -> PyResult<&Engine> {
        self.handle.check()?;
        Ok(&self.engine)
    }
}

fn path_arg(path: &Bound<'_, PyAny>) -> PyResult<PathBuf> {
    if path.is_instance_of::<PyString>() || path.hasattr("__fspath__")? {
        return path.extract::<PathBuf>();
    }
    Err(PyTypeError::new_err(format!("path must be str or os.PathLike, not {}", type_name(path))))
}

#[pymethods]
impl PyEngine {
    /// Opens (creating if needed) the data directory at `path`.
    #[classmethod]
    #[pyo3(signature = (path, **config))]
    fn open(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        path: &Bound<'_, PyAny>,
        config: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyEngine> {
        let path = path_arg(path)?;
        let mut cfg = EngineConfig::default();
        for (k, v) in config_pairs(config)? {
            cfg.set(&k, &v).py_err(py)?;
        }
        let engine = py.detach(|| Engine::open(&path, cfg)).py_err(py)?;
        Ok(PyEngine { handle: Arc::new(EngineHandle::new(path)), engine: ForkSafe::new(engine) })
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

    /// Flushes and closes the engine; later calls on it and on its producers, consumers and
    /// partitions raise `ClosedError`. Closing twice is fine.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.handle.check_process()?;
        if self.handle.mark_closed() {
            return Ok(());
        }
        let engine = &*self.engine;
        py.detach(|| engine.close()).py_err(py)
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.handle.is_closed()
    }

    /// The data directory.
    #[getter]
    fn path(&self) -> String {
        self.handle.path().display().to_string()
    }

    /// The I/O backend in use: `"uring"` or `"std"`.
    #[getter]
    fn io_backend(&self) -> PyResult<&'static str> {
        Ok(self.engine()?.io_kind().as_str())
    }

    /// What opening the directory found.
    #[getter]
    fn recovery_report(&self) -> PyResult<RecoveryReport> {
        let r = self.engine()?.recovery_report();
        Ok(RecoveryReport {
            clean_shutdown: r.clean_shutdown,
            duration: r.duration.as_secs_f64(),
            truncated_bytes: r.truncated_bytes(),
            removed_directories: r.removed_directories.clone(),
            partitions: r
                .partitions
                .iter()
                .map(|p| PartitionRecovery {
                    partition: p.partition.clone(),
                    clean_shutdown: p.clean_shutdown,
                    segments_recovered: p.segments_recovered,
                    batches_scanned: p.batches_scanned,
                    bytes_scanned: p.bytes_scanned,
                    truncated_bytes: p.truncated_bytes,
                    truncated_to_offset: p.truncated_to_offset,
                    truncation_reason: p.truncation_reason.clone(),
                    deleted_segments: p.deleted_segments.clone(),
                    rebuilt_indexes: p.rebuilt_indexes.clone(),
                    log_end_offset: p.log_end_offset,
                })
                .collect(),
        })
    }

    /// Creates a topic with `partitions` partitions; `**config` are topic settings.
    #[pyo3(signature = (name, partitions = 1, **config))]
    fn create_topic(
        &self,
        py: Python<'_>,
        name: &str,
        partitions: i64,
        config: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let engine = self.engine()?;
        let pairs = config_pairs(config)?;
        let partitions =
            i32::try_from(partitions).map_err(|_| Error::InvalidPartitions(partitions)).py_err(py)?;
        py.detach(|| {
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            engine.create_topic_with(name, partitions, &pairs)
        })
        .py_err(py)
    }

    /// The user topics by name.
    fn topics(&self, py: Python<'_>) -> PyResult<BTreeMap<String, TopicDescription>> {
        let engine = self.engine()?;
        let topics = py.detach(|| engine.topics());
        Ok(topics
            .into_iter()
            .map(|t| {
                let config = t.config.to_pairs().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
                let d = TopicDescription {
                    name: t.name.clone(),
                    partitions: t.partitions,
                    topic_id: t.topic_id,
                    internal: t.internal,
                    config,
                };
                (t.name, d)
            })
            .collect())
    }

    /// Deletes a topic and its data.
    fn delete_topic(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        let engine = self.engine()?;
        py.detach(|| engine.delete_topic(name)).py_err(py)
    }

    /// The low-level log of one partition.
    fn partition(&self, py: Python<'_>, topic: &str, partition: i32) -> PyResult<PyPartition> {
        let engine = self.engine()?;
        let log = py.detach(|| engine.partition(topic, partition)).py_err(py)?;
        Ok(PyPartition::new(self.handle.clone(), log))
    }

    /// A producer: idempotent, transactional with a `transactional_id`.
    #[pyo3(signature = (transactional_id = None, **config))]
    fn producer(
        &self,
        py: Python<'_>,
        transactional_id: Option<String>,
        config: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyProducer> {
        let engine = self.engine()?;
        let mut cfg = ProducerConfig::default();
        if let Some(id) = &transactional_id {
            cfg.set("transactional.id", id).py_err(py)?;
        }
        for (k, v) in config_pairs(config)? {
            cfg.set(&k, &v).py_err(py)?;
        }
        let producer = py.detach(|| Producer::new(engine, cfg)).py_err(py)?;
        Ok(PyProducer::new(self.handle.clone(), producer))
    }

    /// A consumer; `group_id` is needed to commit offsets and to subscribe.
    #[pyo3(signature = (group_id = None, isolation_level = "read_committed", **config))]
    fn consumer(
        &self,
        py: Python<'_>,
        group_id: Option<String>,
        isolation_level: &str,
        config: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyConsumer> {
        let engine = self.engine()?;
        let isolation = isolation_arg(isolation_level)?;
        let mut cfg = ConsumerConfig::default();
        if let Some(id) = &group_id {
            cfg.set("group.id", id).py_err(py)?;
        }
        cfg.isolation_level = isolation;
        let mut iter_timeout = None;
        for (k, v) in config_pairs(config)? {
            // kafka-python's `consumer_timeout_ms`: how long iteration waits for a record.
            if k == "consumer.timeout.ms" {
                let ms: i64 = v.parse().map_err(|_| {
                    pyo3::exceptions::PyValueError::new_err(format!(
                        "consumer_timeout_ms must be an integer, not {v:?}"
                    ))
                })?;
                iter_timeout = (ms >= 0).then(|| std::time::Duration::from_millis(ms as u64));
                continue;
            }
            cfg.set(&k, &v).py_err(py)?;
        }
        let consumer = py.detach(|| Consumer::new(engine, cfg)).py_err(py)?;
        Ok(PyConsumer::new(self.handle.clone(), consumer, iter_timeout))
    }

    /// Makes everything appended so far durable.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        let engine = self.engine()?;
        py.detach(|| engine.flush()).py_err(py)
    }

    fn __repr__(&self) -> String {
        let state = if self.handle.is_closed() { "closed" } else { "open" };
        format!("<eoslog.Engine {:?} ({state})>", self.handle.path().display().to_string())
    }
}

/// A topic as listed by `Engine.topics()`.
#[pyclass(frozen, get_all, name = "TopicDescription", module = "eoslog._eoslog")]
pub(crate) struct TopicDescription {
    name: String,
    partitions: i32,
    topic_id: String,
    internal: bool,
    config: BTreeMap<String, String>,
}

#[pymethods]
impl TopicDescription {
    fn __repr__(&self) -> String {
        format!(
            "TopicDescription(name={:?}, partitions={}, topic_id={:?})",
            self.name, self.partitions, self.topic_id
        )
    }
}

/// What opening the data directory found.
#[pyclass(frozen, get_all, name = "RecoveryReport", module = "eoslog._eoslog")]
pub(crate) struct RecoveryReport {
    clean_shutdown: bool,
    duration: f64,
    truncated_bytes: u64,
    removed_directories: Vec<String>,
    partitions: Vec<PartitionRecovery>,
}

#[pymethods]
impl RecoveryReport {
    /// Partitions where recovery cut or rebuilt something.
    fn changed(&self, py: Python<'_>) -> PyResult<Vec<Py<PartitionRecovery>>> {
        self.partitions
            .iter()
            .filter(|p| {
                p.truncated_bytes > 0 || !p.deleted_segments.is_empty() || !p.rebuilt_indexes.is_empty()
            })
            .map(|p| Py::new(py, p.clone()))
            .collect()
    }

    fn __repr__(&self) -> String {
        format!(
            "RecoveryReport(clean_shutdown={}, partitions={}, truncated_bytes={}, duration={:.3})",
            if self.clean_shutdown { "True" } else { "False" },
            self.partitions.len(),
            self.truncated_bytes,
            self.duration
        )
    }
}

/// One partition's recovery findings.
#[pyclass(frozen, get_all, name = "PartitionRecovery", module = "eoslog._eoslog")]
#[derive(Clone)]
pub(crate) struct PartitionRecovery {
    partition: String,
    clean_shutdown: bool,
    segments_recovered: usize,
    batches_scanned: u64,
    bytes_scanned: u64,
    truncated_bytes: u64,
    truncated_to_offset: Option<i64>,
    truncation_reason: Option<String>,
    deleted_segments: Vec<i64>,
    rebuilt_indexes: Vec<i64>,
    log_end_offset: i64,
}

#[pymethods]
impl PartitionRecovery {
    fn __repr__(&self) -> String {
        format!(
            "PartitionRecovery(partition={:?}, clean_shutdown={}, truncated_bytes={}, log_end_offset={})",
            self.partition,
            if self.clean_shutdown { "True" } else { "False" },
            self.truncated_bytes,
            self.log_end_offset
        )
    }
}
