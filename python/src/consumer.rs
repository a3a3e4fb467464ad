//! `eoslog.Consumer` and the small value types it shares with the producer: `ConsumerRecord`,
//! `TopicPartition`, `OffsetAndMetadata`, `ConsumerGroupMetadata`.
//!
//! # Records fetched but not yet returned
//!
//! The engine's consumer returns up to `max.poll.records` records per poll and moves its
//! positions past them. `poll(max_records=...)` and iteration may hand out fewer, so the binding
//! keeps the rest in `pending` and defines every position-dependent call on what the *caller*
//! has seen: `position()` answers the earliest pending offset of a partition; `commit()`,
//! `assign()`, `pause()` and `close()` first *rewind* — seek the engine's consumer back to the
//! earliest pending offset of each partition and drop those records — so a commit never covers
//! a record that was not returned. The engine's consumer is polled only by a `poll` that found
//! `pending` empty, so its auto-commit sees the same positions (unless several threads poll one
//! consumer at once, when it may, like Kafka's, cover records fetched for another thread).
//! `pending` is never held while the engine's consumer is polled.
//!
//! # Groups
//!
//! `subscribe` makes the engine's consumer a group member whose rebalance listener calls the
//! Python callbacks ([`crate::rebalance`]); partitions revoked or lost drop their pending
//! records (a revocation rewinds to them first). `close` and `unsubscribe` run `on_revoke` on
//! the calling thread, and the consumer stays usable from that callback until `close` ends.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use eoslog::client::{Consumer, ConsumerGroupMetadata, ConsumerRecord, OffsetAndMetadata, TopicPartition};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};

use crate::convert::{headers_to_py, is_mapping, is_single_tp, opt_bytes, tp_arg, tp_list_arg, type_name};
use crate::errors::{self, IntoPyResult};
use crate::handle::{EngineHandle, ForkSafe};
use crate::rebalance::{Callbacks, PyRebalanceListener, Shared, matcher, topics_arg};

/// Longest stretch a blocking wait runs with the GIL released before Python gets to handle
/// signals (Ctrl-C) and the binding rechecks that the consumer is still open.
const WAIT_SLICE: Duration = Duration::from_millis(100);

/// A consumer (see the stubs for the Python-facing documentation).
#[pyclass(frozen, weakref, name = "Consumer", module = "eoslog._eoslog")]
pub(crate) struct PyConsumer {
    handle: Arc<EngineHandle>,
    consumer: ForkSafe<Consumer>,
    /// What the consumer shares with its rebalance listener: the records the engine returned
    /// that the caller has not seen yet (`pending`), the callbacks of `subscribe`.
    shared: Arc<Shared>,
    closed: AtomicBool,
    /// Set by `wakeup()`: the current (or next) `poll` returns at once.
    woken: AtomicBool,
    /// `consumer_timeout_ms`: how long iteration waits for a record (`None`: forever).
    iter_timeout: Option<Duration>,
}

/// Seeks the engine's consumer back to the earliest pending record of each partition (of
/// `only`, if given) and drops those pending records.
pub(crate) fn rewind(
    consumer: &Consumer,
    pending: &mut VecDeque<ConsumerRecord>,
    only: Option<&[TopicPartition]>,
) {
    let mut earliest: HashMap<TopicPartition, i64> = HashMap::new();
    pending.retain(|r| {
        let tp = r.topic_partition();
        if only.is_some_and(|o| !o.contains(&tp)) {
            return true;
        }
        let e = earliest.entry(tp).or_insert(r.offset);
        *e = (*e).min(r.offset);
        false
    });
    for (tp, offset) in earliest {
        // Fails only for a partition no longer assigned, whose position is gone anyway.
        let _ = consumer.seek(&tp, offset);
    }
}

impl PyConsumer {
    pub(crate) fn new(handle: Arc<EngineHandle>, consumer: Consumer, iter_timeout: Option<Duration>) -> Self {
        PyConsumer {
            handle,
            consumer: ForkSafe::new(consumer),
            shared: Arc::new(Shared::default()),
            closed: AtomicBool::new(false),
            woken: AtomicBool::new(false),
            iter_timeout,
        }
    }

    /// The consumer, after checking that it and its engine are open (or that this is an
    /// `on_revoke` callback of `close`, which still owns its partitions).
    fn consumer(&self) -> PyResult<&Consumer> {
        self.handle.check()?;
        if self.closed.load(Ordering::Acquire) && !self.shared.in_callback() {
            return Err(errors::closed("the consumer"));
        }
        Ok(&self.consumer)
    }

    /// Up to `max` records: pending ones first, else one engine poll waiting up to `wait`
    /// (topped up with non-blocking polls). Runs with the GIL released. The engine's consumer
    /// is polled without holding `pending`, so that anything the poll calls back (rebalance
    /// listeners) may use this consumer again.
    fn take(&self, max: usize, wait: Duration) -> eoslog::Result<Vec<ConsumerRecord>> {
        {
            let mut pending = self.shared.pending.lock();
            if !pending.is_empty() {
                let n = max.min(pending.len());
                return Ok(pending.drain(..n).collect());
            }
        }
        let mut got = self.consumer.poll(wait)?;
        while !got.is_empty() && got.len() < max {
            let more = self.consumer.poll(Duration::ZERO)?;
            if more.is_empty() {
                break;
            }
            got.extend(more);
        }
        if got.len() > max {
            self.shared.pending.lock().extend(got.drain(max..));
        }
        Ok(got)
    }

    /// Polls in slices of at most [`WAIT_SLICE`] until records arrive or `timeout` passes
    /// (`None`: no limit), handling signals between slices. `Ok(None)` when the consumer was
    /// closed meanwhile.
    fn poll_records(
        &self,
        py: Python<'_>,
        max: usize,
        timeout: Option<Duration>,
    ) -> PyResult<Option<Vec<ConsumerRecord>>> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            let slice = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()).min(WAIT_SLICE),
                None => WAIT_SLICE,
            };
            let got = py.detach(|| self.take_reporting(max, slice))?.py_err(py)?;
            if !got.is_empty() {
                return Ok(Some(got));
            }
            if self.woken.swap(false, Ordering::AcqRel) || deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(Some(got));
            }
            py.check_signals()?;
            if self.closed.load(Ordering::Acquire) || self.handle.is_closed() {
                return Ok(None);
            }
        }
    }

    /// [`Self::take`], then the exception a rebalance callback run by it raised, if any: the
    /// records it fetched go back to `pending` (ahead of the rest) for the next `poll`.
    fn take_reporting(&self, max: usize, wait: Duration) -> PyResult<eoslog::Result<Vec<ConsumerRecord>>> {
        let got = self.take(max, wait);
        match self.shared.take_error() {
            None => Ok(got),
            Some(e) => {
                if let Ok(records) = got {
                    let mut pending = self.shared.pending.lock();
                    for r in records.into_iter().rev() {
                        pending.push_front(r);
                    }
                }
                Err(e)
            }
        }
    }

    /// Fails inside one of this consumer's rebalance callbacks (for the calls that would
    /// deadlock or pull the subscription from under the engine there).
    fn check_not_in_callback(&self, py: Python<'_>, what: &str) -> PyResult<()> {
        if self.shared.in_callback() {
            return Err(errors::to_py(
                py,
                eoslog::Error::InvalidRequest(format!("{what} cannot be called from a rebalance callback")),
            ));
        }
        Ok(())
    }

    fn records_to_py(py: Python<'_>, records: Vec<ConsumerRecord>) -> PyResult<Vec<Py<PyConsumerRecord>>> {
        records.into_iter().map(|r| Py::new(py, PyConsumerRecord { record: r })).collect()
    }
}

#[pymethods]
impl PyConsumer {
    /// Assigns exactly these partitions.
    fn assign(&self, py: Python<'_>, partitions: &Bound<'_, PyAny>) -> PyResult<()> {
        let consumer = self.consumer()?;
        let tps = tp_list_arg(partitions)?;
        py.detach(|| {
            let mut pending = self.shared.pending.lock();
            rewind(consumer, &mut pending, None);
            consumer.assign(&tps)
        })
        .py_err(py)
    }

    /// Joins the consumer's group as a member subscribed to `topics`; the next `poll` joins
    /// and the callbacks hear of every change of the assignment.
    #[pyo3(signature = (topics, on_assign = None, on_revoke = None, on_lost = None))]
    fn subscribe(
        slf: &Bound<'_, Self>,
        topics: &Bound<'_, PyAny>,
        on_assign: Option<&Bound<'_, PyAny>>,
        on_revoke: Option<&Bound<'_, PyAny>>,
        on_lost: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let consumer = this.consumer()?;
        this.check_not_in_callback(py, "subscribe")?;
        let (names, patterns) = topics_arg(topics)?;
        let callbacks = Arc::new(Callbacks::from_args(on_assign, on_revoke, on_lost)?);
        if names.is_empty() && patterns.is_empty() {
            // Kafka: subscribing to nothing is unsubscribing (with the callbacks in force).
            return this.unsubscribe(py);
        }
        let listener = PyRebalanceListener::new(this.shared.clone(), slf.as_any())?;
        py.detach(|| {
            let previous = this.shared.callbacks.lock().replace(callbacks);
            let result = if patterns.is_empty() {
                consumer.subscribe(&names, listener)
            } else {
                consumer.subscribe_pattern(matcher(names, patterns), listener)
            };
            if result.is_err() {
                *this.shared.callbacks.lock() = previous;
            }
            result
        })
        .py_err(py)
    }

    /// The subscribed topics (a pattern's current matches); empty when not subscribed.
    fn subscription(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let consumer = self.consumer()?;
        Ok(py.detach(|| consumer.subscription()))
    }

    /// Leaves the group if subscribed (revoking the partitions through `on_revoke`) and
    /// drops the assignment.
    fn unsubscribe(&self, py: Python<'_>) -> PyResult<()> {
        let consumer = self.consumer()?;
        self.check_not_in_callback(py, "unsubscribe")?;
        let (result, callback_error) = py.detach(|| {
            self.shared.pending.lock().clear();
            let result = consumer.unsubscribe();
            let callback_error = self.shared.take_error();
            *self.shared.callbacks.lock() = None;
            (result, callback_error)
        });
        if let Some(e) = callback_error {
            return Err(e);
        }
        result.py_err(py)
    }

    /// The assigned partitions.
    fn assignment(&self, py: Python<'_>) -> PyResult<Vec<PyTopicPartition>> {
        let consumer = self.consumer()?;
        let tps = py.detach(|| consumer.assignment());
        Ok(tps.into_iter().map(PyTopicPartition::from_rust).collect())
    }

    /// Returns up to `max_records` records, waiting up to `timeout_ms` for the first.
    #[pyo3(signature = (max_records = 500, timeout_ms = 0))]
    fn poll(&self, py: Python<'_>, max_records: i64, timeout_ms: i64) -> PyResult<Vec<Py<PyConsumerRecord>>> {
        self.consumer()?;
        if max_records < 1 {
            return Err(PyValueError::new_err(format!("max_records must be at least 1, not {max_records}")));
        }
        if timeout_ms < 0 {
            return Err(PyValueError::new_err(format!("timeout_ms must not be negative, not {timeout_ms}")));
        }
        let max = usize::try_from(max_records).unwrap_or(usize::MAX);
        let records =
            self.poll_records(py, max, Some(Duration::from_millis(timeout_ms as u64)))?.unwrap_or_default();
        Self::records_to_py(py, records)
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyConsumerRecord>>> {
        self.consumer()?;
        let Some(mut records) = self.poll_records(py, 1, self.iter_timeout)? else {
            return Ok(None);
        };
        match records.pop() {
            Some(r) => Ok(Some(Py::new(py, PyConsumerRecord { record: r })?)),
            None => Ok(None),
        }
    }

    /// Sets the position of an assigned partition.
    fn seek(&self, py: Python<'_>, partition: &Bound<'_, PyAny>, offset: i64) -> PyResult<()> {
        let consumer = self.consumer()?;
        let tp = tp_arg(partition)?;
        py.detach(|| {
            self.shared.pending.lock().retain(|r| r.topic != tp.topic || r.partition != tp.partition);
            consumer.seek(&tp, offset)
        })
        .py_err(py)
    }

    /// Moves to the log start of the given partitions (all assigned ones when none are given).
    #[pyo3(signature = (*partitions))]
    fn seek_to_beginning(&self, py: Python<'_>, partitions: Vec<Bound<'_, PyAny>>) -> PyResult<()> {
        let consumer = self.consumer()?;
        let tps = partitions.iter().map(tp_arg).collect::<PyResult<Vec<_>>>()?;
        py.detach(|| {
            self.drop_pending(&tps);
            consumer.seek_to_beginning(&tps)
        })
        .py_err(py)
    }

    /// Moves to the end of the given partitions (all assigned ones when none are given).
    #[pyo3(signature = (*partitions))]
    fn seek_to_end(&self, py: Python<'_>, partitions: Vec<Bound<'_, PyAny>>) -> PyResult<()> {
        let consumer = self.consumer()?;
        let tps = partitions.iter().map(tp_arg).collect::<PyResult<Vec<_>>>()?;
        py.detach(|| {
            self.drop_pending(&tps);
            consumer.seek_to_end(&tps)
        })
        .py_err(py)
    }

    /// Stops returning records of these partitions until `resume`.
    #[pyo3(signature = (*partitions))]
    fn pause(&self, py: Python<'_>, partitions: Vec<Bound<'_, PyAny>>) -> PyResult<()> {
        let consumer = self.consumer()?;
        let tps = partitions.iter().map(tp_arg).collect::<PyResult<Vec<_>>>()?;
        py.detach(|| {
            let mut pending = self.shared.pending.lock();
            rewind(consumer, &mut pending, Some(&tps));
            consumer.pause(&tps)
        })
        .py_err(py)
    }

    /// Resumes paused partitions.
    #[pyo3(signature = (*partitions))]
    fn resume(&self, py: Python<'_>, partitions: Vec<Bound<'_, PyAny>>) -> PyResult<()> {
        let consumer = self.consumer()?;
        let tps = partitions.iter().map(tp_arg).collect::<PyResult<Vec<_>>>()?;
        py.detach(|| consumer.resume(&tps)).py_err(py)
    }

    /// The offset of the next record `poll` returns for `partition`.
    fn position(&self, py: Python<'_>, partition: &Bound<'_, PyAny>) -> PyResult<i64> {
        let consumer = self.consumer()?;
        let tp = tp_arg(partition)?;
        py.detach(|| {
            let pending = self.shared.pending.lock();
            let earliest = pending
                .iter()
                .filter(|r| r.topic == tp.topic && r.partition == tp.partition)
                .map(|r| r.offset)
                .min();
            match earliest {
                Some(offset) => Ok(offset),
                None => consumer.position(&tp),
            }
        })
        .py_err(py)
    }

    /// Commits the consumed positions, or the given offsets.
    #[pyo3(signature = (offsets = None))]
    fn commit(&self, py: Python<'_>, offsets: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let consumer = self.consumer()?;
        match offsets.filter(|o| !o.is_none()) {
            None => py
                .detach(|| {
                    let mut pending = self.shared.pending.lock();
                    rewind(consumer, &mut pending, None);
                    consumer.commit_sync()
                })
                .py_err(py),
            Some(o) => {
                let offsets = offsets_arg(o)?;
                py.detach(|| consumer.commit(&offsets)).py_err(py)
            }
        }
    }

    /// The group's committed offsets: for one partition its `OffsetAndMetadata` (or `None`),
    /// for a list of partitions a dict.
    fn committed<'py>(&self, py: Python<'py>, partitions: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let consumer = self.consumer()?;
        let single = is_single_tp(partitions);
        let tps = if single { vec![tp_arg(partitions)?] } else { tp_list_arg(partitions)? };
        let got = py.detach(|| consumer.committed(&tps)).py_err(py)?;
        let to_py = |o: Option<OffsetAndMetadata>| -> PyResult<Bound<'py, PyAny>> {
            match o {
                Some(o) => Ok(Bound::new(py, PyOffsetAndMetadata::from_rust(&o))?.into_any()),
                None => Ok(py.None().into_bound(py)),
            }
        };
        if single {
            return to_py(got.into_values().next().flatten());
        }
        let out = PyDict::new(py);
        for (tp, o) in got {
            out.set_item(PyTopicPartition::from_rust(tp), to_py(o)?)?;
        }
        Ok(out.into_any())
    }

    /// The first offset of each partition.
    fn beginning_offsets(
        &self,
        py: Python<'_>,
        partitions: &Bound<'_, PyAny>,
    ) -> PyResult<BTreeMap<PyTopicPartition, i64>> {
        let consumer = self.consumer()?;
        let tps = tp_list_arg(partitions)?;
        let got = py.detach(|| consumer.beginning_offsets(&tps)).py_err(py)?;
        Ok(got.into_iter().map(|(tp, o)| (PyTopicPartition::from_rust(tp), o)).collect())
    }

    /// The end of each partition as this consumer sees it.
    fn end_offsets(
        &self,
        py: Python<'_>,
        partitions: &Bound<'_, PyAny>,
    ) -> PyResult<BTreeMap<PyTopicPartition, i64>> {
        let consumer = self.consumer()?;
        let tps = tp_list_arg(partitions)?;
        let got = py.detach(|| consumer.end_offsets(&tps)).py_err(py)?;
        Ok(got.into_iter().map(|(tp, o)| (PyTopicPartition::from_rust(tp), o)).collect())
    }

    /// The consumer's group identity, for `Producer.send_offsets_to_transaction`.
    fn consumer_group_metadata(&self, py: Python<'_>) -> PyResult<PyConsumerGroupMetadata> {
        let consumer = self.consumer()?;
        let md = py.detach(|| consumer.group_metadata()).py_err(py)?;
        Ok(PyConsumerGroupMetadata::from_rust(md))
    }

    /// Kafka's (Java) name for `consumer_group_metadata`.
    fn group_metadata(&self, py: Python<'_>) -> PyResult<PyConsumerGroupMetadata> {
        self.consumer_group_metadata(py)
    }

    /// Makes a blocked `poll` (or the next one) return at once with no records.
    fn wakeup(&self) -> PyResult<()> {
        let consumer = self.consumer()?;
        self.woken.store(true, Ordering::Release);
        consumer.wakeup();
        Ok(())
    }

    /// Releases the partitions (committing first with `enable_auto_commit`). Later calls
    /// raise `ClosedError`; closing twice is fine.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.handle.check_process()?;
        self.check_not_in_callback(py, "close")?;
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let consumer = &*self.consumer;
        consumer.wakeup();
        let (result, callback_error, cleared) = py.detach(|| {
            rewind(consumer, &mut self.shared.pending.lock(), None);
            // `on_revoke` runs in there, on this thread: no binding lock is held.
            let result = consumer.close();
            let callback_error = self.shared.take_error();
            (result, callback_error, self.shared.clear())
        });
        // The callbacks are released with the GIL held.
        drop(cleared);
        if let Some(e) = callback_error {
            return Err(e);
        }
        if self.handle.is_closed() {
            return Ok(());
        }
        result.py_err(py)
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        self.shared.traverse(&visit)
    }

    fn __clear__(&self) {
        let cleared = self.shared.clear();
        drop(cleared);
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The `group.id`, if any.
    #[getter]
    fn group_id(&self) -> Option<String> {
        self.consumer.config().group_id.clone()
    }

    /// `"read_committed"` or `"read_uncommitted"`.
    #[getter]
    fn isolation_level(&self) -> &'static str {
        crate::convert::isolation_name(self.consumer.config().isolation_level)
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

    fn __repr__(&self) -> String {
        match self.consumer.config().group_id.as_deref() {
            Some(g) => format!("<eoslog.Consumer group_id={g:?}>"),
            None => "<eoslog.Consumer>".to_string(),
        }
    }
}

impl PyConsumer {
    /// Drops pending records of `tps` (every pending record when `tps` is empty).
    fn drop_pending(&self, tps: &[TopicPartition]) {
        let mut pending = self.shared.pending.lock();
        if tps.is_empty() {
            pending.clear();
        } else {
            pending.retain(|r| !tps.contains(&r.topic_partition()));
        }
    }
}

/// Offsets to commit: a mapping (or an iterable of pairs) from partition to an offset (`int`)
/// or an `OffsetAndMetadata`.
pub(crate) fn offsets_arg(obj: &Bound<'_, PyAny>) -> PyResult<Vec<(TopicPartition, OffsetAndMetadata)>> {
    let bad = || {
        PyTypeError::new_err(format!(
            "offsets must be a dict of {{TopicPartition | (topic, partition): int | OffsetAndMetadata}}, not {}",
            type_name(obj)
        ))
    };
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() {
        return Err(bad());
    }
    let items: Vec<Bound<'_, PyAny>> = if is_mapping(obj) {
        obj.call_method0("items")?.try_iter()?.collect::<PyResult<_>>()?
    } else {
        obj.try_iter().map_err(|_| bad())?.collect::<PyResult<_>>()?
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract().map_err(|_| bad())?;
        let tp = tp_arg(&k)?;
        let o = if let Ok(o) = v.cast::<PyOffsetAndMetadata>() {
            o.get().to_rust()
        } else if let Ok(n) = v.extract::<i64>() {
            if v.is_instance_of::<pyo3::types::PyBool>() {
                return Err(PyTypeError::new_err(
                    "an offset must be an int or an OffsetAndMetadata, not bool",
                ));
            }
            OffsetAndMetadata::new(n)
        } else {
            return Err(PyTypeError::new_err(format!(
                "an offset must be an int or an OffsetAndMetadata, not {}",
                type_name(&v)
            )));
        };
        out.push((tp, o));
    }
    Ok(out)
}

/// A record returned by `Consumer.poll` (fields are converted to Python objects on access).
#[pyclass(frozen, name = "ConsumerRecord", module = "eoslog._eoslog")]
pub(crate) struct PyConsumerRecord {
    record: ConsumerRecord,
}

#[pymethods]
impl PyConsumerRecord {
    #[getter]
    fn topic(&self) -> &str {
        &self.record.topic
    }

    #[getter]
    fn partition(&self) -> i32 {
        self.record.partition
    }

    #[getter]
    fn offset(&self) -> i64 {
        self.record.offset
    }

    #[getter]
    fn timestamp(&self) -> i64 {
        self.record.timestamp
    }

    /// `"CreateTime"` or `"LogAppendTime"`.
    #[getter]
    fn timestamp_type(&self) -> &'static str {
        self.record.timestamp_type.as_str()
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

    #[getter]
    fn producer_id(&self) -> i64 {
        self.record.producer_id
    }

    #[getter]
    fn producer_epoch(&self) -> i16 {
        self.record.producer_epoch
    }

    #[getter]
    fn sequence(&self) -> i32 {
        self.record.sequence
    }

    #[getter]
    fn is_transactional(&self) -> bool {
        self.record.is_transactional
    }

    /// The record's `TopicPartition`.
    #[getter]
    fn topic_partition(&self) -> PyTopicPartition {
        PyTopicPartition { topic: self.record.topic.clone(), partition: self.record.partition }
    }

    fn __repr__(&self) -> String {
        let show = |b: &Option<Vec<u8>>| match b {
            None => "None".to_string(),
            Some(b) if b.len() <= 32 => format!("b{:?}", String::from_utf8_lossy(b)),
            Some(b) => format!("<{} bytes>", b.len()),
        };
        format!(
            "ConsumerRecord(topic={:?}, partition={}, offset={}, key={}, value={})",
            self.record.topic,
            self.record.partition,
            self.record.offset,
            show(&self.record.key),
            show(&self.record.value)
        )
    }
}

/// A topic name and partition number; hashable, ordered, and unpackable as a 2-tuple.
#[pyclass(frozen, eq, ord, hash, get_all, name = "TopicPartition", module = "eoslog._eoslog")]
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct PyTopicPartition {
    topic: String,
    partition: i32,
}

impl PyTopicPartition {
    pub(crate) fn to_rust(&self) -> TopicPartition {
        TopicPartition::new(self.topic.clone(), self.partition)
    }

    pub(crate) fn from_rust(tp: TopicPartition) -> Self {
        PyTopicPartition { topic: tp.topic, partition: tp.partition }
    }
}

#[pymethods]
impl PyTopicPartition {
    #[new]
    fn new(topic: String, partition: i32) -> Self {
        PyTopicPartition { topic, partition }
    }

    fn __len__(&self) -> usize {
        2
    }

    fn __getitem__<'py>(&self, py: Python<'py>, index: isize) -> PyResult<Bound<'py, PyAny>> {
        match index {
            0 | -2 => Ok(PyString::new(py, &self.topic).into_any()),
            1 | -1 => Ok(self.partition.into_pyobject(py)?.into_any()),
            _ => Err(pyo3::exceptions::PyIndexError::new_err("TopicPartition index out of range")),
        }
    }

    fn __repr__(&self) -> String {
        format!("TopicPartition(topic={:?}, partition={})", self.topic, self.partition)
    }
}

/// A committed position with its metadata.
#[pyclass(frozen, eq, get_all, name = "OffsetAndMetadata", module = "eoslog._eoslog")]
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct PyOffsetAndMetadata {
    offset: i64,
    metadata: String,
    leader_epoch: Option<i32>,
}

impl PyOffsetAndMetadata {
    fn to_rust(&self) -> OffsetAndMetadata {
        let mut o = OffsetAndMetadata::new(self.offset);
        o.metadata = self.metadata.clone();
        o.leader_epoch = self.leader_epoch.unwrap_or(-1);
        o
    }

    fn from_rust(o: &OffsetAndMetadata) -> Self {
        PyOffsetAndMetadata {
            offset: o.offset,
            metadata: o.metadata.clone(),
            leader_epoch: (o.leader_epoch >= 0).then_some(o.leader_epoch),
        }
    }
}

#[pymethods]
impl PyOffsetAndMetadata {
    #[new]
    #[pyo3(
        signature = (offset, metadata = String::new(), leader_epoch = None),
        text_signature = "(offset, metadata='', leader_epoch=None)"
    )]
    fn new(offset: i64, metadata: String, leader_epoch: Option<i32>) -> Self {
        PyOffsetAndMetadata { offset, metadata, leader_epoch }
    }

    fn __repr__(&self) -> String {
        let epoch = self.leader_epoch.map_or("None".to_string(), |e| e.to_string());
        format!(
            "OffsetAndMetadata(offset={}, metadata={:?}, leader_epoch={epoch})",
            self.offset, self.metadata
        )
    }
}

/// A consumer's group identity, only made by `Consumer.consumer_group_metadata` (opaque, as
/// in confluent-kafka: a forged generation would defeat the fencing it is for).
#[pyclass(frozen, eq, get_all, name = "ConsumerGroupMetadata", module = "eoslog._eoslog")]
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct PyConsumerGroupMetadata {
    group_id: String,
    generation_id: i32,
    member_id: String,
    group_instance_id: Option<String>,
}

impl PyConsumerGroupMetadata {
    pub(crate) fn to_rust(&self) -> ConsumerGroupMetadata {
        ConsumerGroupMetadata {
            group_id: self.group_id.clone(),
            generation_id: self.generation_id,
            member_id: self.member_id.clone(),
            group_instance_id: self.group_instance_id.clone(),
        }
    }

    fn from_rust(m: ConsumerGroupMetadata) -> Self {
        PyConsumerGroupMetadata {
            group_id: m.group_id,
            generation_id: m.generation_id,
            member_id: m.member_id,
            group_instance_id: m.group_instance_id,
        }
    }
}

#[pymethods]
impl PyConsumerGroupMetadata {
    fn __repr__(&self) -> String {
        format!(
            "ConsumerGroupMetadata(group_id={:?}, generation_id={}, member_id={:?})",
            self.group_id, self.generation_id, self.member_id
        )
    }
}
