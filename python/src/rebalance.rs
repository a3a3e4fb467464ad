//! Group membership for `Consumer.subscribe`: the Python rebalance callbacks (confluent-kafka's
//! `on_assign`, `on_revoke`, `on_lost`) behind the engine's [`ConsumerRebalanceListener`].
//!
//! # Threads and the GIL
//!
//! The engine runs a listener on the thread that calls `poll` (or `close` / `unsubscribe`),
//! inside that call — which the binding makes with the GIL released. The listener takes the
//! GIL back on that same thread ([`Python::attach`]) for the duration of one callback, after
//! it has released every binding lock, so a callback may call the consumer again (`commit`,
//! `seek`, `position`, `assignment`, ...).
//!
//! # Exceptions
//!
//! A callback's exception never unwinds through the engine: the listener keeps it (the first
//! one per thread; the engine still runs the remaining callbacks of the rebalance, as Kafka's
//! consumer does) and the binding call that ran it raises it once the engine returns. Records
//! that call fetched stay pending for the next `poll`.
//!
//! # References
//!
//! The engine's consumer owns the listener, and the Python consumer owns the engine's
//! consumer; so the listener reaches the Python consumer through a weak reference, and the
//! callbacks live in [`Shared`], where the consumer's `__traverse__` shows them to the garbage
//! collector (a callback that is a bound method of an object holding the consumer is a cycle).

use std::collections::VecDeque;
use std::sync::Arc;
use std::thread::ThreadId;

use eoslog::client::{Consumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition};
use parking_lot::Mutex;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyWeakrefMethods, PyWeakrefReference};

use crate::consumer::{PyTopicPartition, rewind};
use crate::convert::type_name;

/// The three callbacks of a subscription (each optional).
pub(crate) struct Callbacks {
    pub(crate) on_assign: Option<Py<PyAny>>,
    pub(crate) on_revoke: Option<Py<PyAny>>,
    pub(crate) on_lost: Option<Py<PyAny>>,
}

impl Callbacks {
    /// Checks that each given callback is callable (`None` means no callback).
    pub(crate) fn from_args(
        on_assign: Option<&Bound<'_, PyAny>>,
        on_revoke: Option<&Bound<'_, PyAny>>,
        on_lost: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Callbacks> {
        let arg = |name: &str, cb: Option<&Bound<'_, PyAny>>| -> PyResult<Option<Py<PyAny>>> {
            match cb {
                None => Ok(None),
                Some(c) if c.is_none() => Ok(None),
                Some(c) if c.is_callable() => Ok(Some(c.clone().unbind())),
                Some(c) => Err(PyTypeError::new_err(format!(
                    "{name} must be a callable taking (consumer, partitions) or None, not {}",
                    type_name(c)
                ))),
            }
        };
        Ok(Callbacks {
            on_assign: arg("on_assign", on_assign)?,
            on_revoke: arg("on_revoke", on_revoke)?,
            on_lost: arg("on_lost", on_lost)?,
        })
    }

    fn get(&self, event: Event) -> Option<&Py<PyAny>> {
        match event {
            Event::Assigned => self.on_assign.as_ref(),
            Event::Revoked => self.on_revoke.as_ref(),
            Event::Lost => self.on_lost.as_ref(),
        }
    }
}

/// What a Python consumer shares with its rebalance listener.
#[derive(Default)]
pub(crate) struct Shared {
    /// Records the engine returned that the caller has not seen yet, in order (see the
    /// `consumer` module).
    pub(crate) pending: Mutex<VecDeque<ConsumerRecord>>,
    /// The callbacks of the current subscription.
    pub(crate) callbacks: Mutex<Option<Arc<Callbacks>>>,
    /// Exceptions raised by callbacks, by the thread whose call ran them.
    errors: Mutex<Vec<(ThreadId, PyErr)>>,
    /// Threads running a callback now (a callback may not close or re-subscribe its consumer).
    in_callback: Mutex<Vec<ThreadId>>,
}

impl Shared {
    /// The first exception a callback run by this thread raised since the last call, if any.
    pub(crate) fn take_error(&self) -> Option<PyErr> {
        let me = std::thread::current().id();
        let mut errors = self.errors.lock();
        let i = errors.iter().position(|(t, _)| *t == me)?;
        Some(errors.swap_remove(i).1)
    }

    /// Whether this thread is inside one of the consumer's callbacks.
    pub(crate) fn in_callback(&self) -> bool {
        self.in_callback.lock().contains(&std::thread::current().id())
    }

    /// Drops the callbacks and any unreported exception (at `close`, `__clear__`).
    pub(crate) fn clear(&self) -> (Option<Arc<Callbacks>>, Vec<(ThreadId, PyErr)>) {
        (self.callbacks.lock().take(), std::mem::take(&mut *self.errors.lock()))
    }

    /// Visits the callbacks for the garbage collector (skipped if another thread holds them).
    pub(crate) fn traverse(&self, visit: &pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        if let Some(guard) = self.callbacks.try_lock()
            && let Some(cbs) = guard.as_ref()
        {
            for cb in [&cbs.on_assign, &cbs.on_revoke, &cbs.on_lost].into_iter().flatten() {
                visit.call(cb)?;
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Event {
    Assigned,
    Revoked,
    Lost,
}

/// The engine-side listener of a subscribed Python consumer.
pub(crate) struct PyRebalanceListener {
    shared: Arc<Shared>,
    /// The Python `Consumer` (weak: it owns this listener).
    consumer: Py<PyWeakrefReference>,
}

impl PyRebalanceListener {
    pub(crate) fn new(shared: Arc<Shared>, consumer: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(PyRebalanceListener { shared, consumer: PyWeakrefReference::new(consumer)?.unbind() })
    }

    /// Runs one callback. Called with the GIL released and no binding lock held.
    fn run(&self, consumer: &Consumer, event: Event, partitions: &[TopicPartition]) {
        // Pending records of partitions that go: a revocation rewinds to them first, so that
        // the positions (and a commit in `on_revoke`) cover only what the caller has seen.
        match event {
            Event::Revoked => rewind(consumer, &mut self.shared.pending.lock(), Some(partitions)),
            Event::Lost => self.shared.pending.lock().retain(|r| !partitions.contains(&r.topic_partition())),
            Event::Assigned => {}
        }
        let Some(callbacks) = self.shared.callbacks.lock().clone() else { return };
        if callbacks.get(event).is_none() {
            return;
        }
        let me = std::thread::current().id();
        self.shared.in_callback.lock().push(me);
        let result = Python::attach(|py| -> PyResult<()> {
            // None while the consumer is being collected: nobody is left to tell.
            let Some(obj) = self.consumer.bind(py).upgrade() else { return Ok(()) };
            let Some(cb) = callbacks.get(event) else { return Ok(()) };
            let tps = PyList::new(py, partitions.iter().map(|tp| PyTopicPartition::from_rust(tp.clone())))?;
            cb.bind(py).call1((obj, tps))?;
            Ok(())
        });
        {
            let mut in_callback = self.shared.in_callback.lock();
            if let Some(i) = in_callback.iter().position(|t| *t == me) {
                in_callback.swap_remove(i);
            }
        }
        if let Err(e) = result {
            let mut errors = self.shared.errors.lock();
            if !errors.iter().any(|(t, _)| *t == me) {
                errors.push((me, e));
            }
        }
    }
}

impl ConsumerRebalanceListener for PyRebalanceListener {
    fn on_partitions_revoked(&mut self, consumer: &Consumer, partitions: &[TopicPartition]) {
        self.run(consumer, Event::Revoked, partitions);
    }

    fn on_partitions_assigned(&mut self, consumer: &Consumer, partitions: &[TopicPartition]) {
        self.run(consumer, Event::Assigned, partitions);
    }

    fn on_partitions_lost(&mut self, consumer: &Consumer, partitions: &[TopicPartition]) {
        self.run(consumer, Event::Lost, partitions);
    }
}

/// The topics of `subscribe`: a list (any iterable but a string) of names; names starting
/// with `^` are regular expressions (confluent-kafka's convention), returned compiled.
pub(crate) fn topics_arg(obj: &Bound<'_, PyAny>) -> PyResult<(Vec<String>, Vec<Py<PyAny>>)> {
    let bad = || {
        PyTypeError::new_err(format!("topics must be a list of topic names (str), not {}", type_name(obj)))
    };
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() {
        return Err(bad());
    }
    let mut names = Vec::new();
    let mut patterns = Vec::new();
    for item in obj.try_iter().map_err(|_| bad())? {
        let item = item?;
        let Ok(s) = item.cast::<PyString>() else {
            return Err(PyTypeError::new_err(format!(
                "a topic name must be a str, not {}",
                type_name(&item)
            )));
        };
        let name = s.to_str()?;
        if name.is_empty() {
            return Err(PyValueError::new_err("a topic name must not be empty"));
        }
        if name.starts_with('^') {
            let re = obj.py().import("re")?;
            let compiled = re
                .call_method1("compile", (name,))
                .map_err(|e| PyValueError::new_err(format!("invalid topic pattern {name:?}: {e}")))?;
            patterns.push(compiled.unbind());
        } else {
            names.push(name.to_string());
        }
    }
    Ok((names, patterns))
}

/// The matcher of a pattern subscription: a listed name, or a name one of the patterns finds
/// a match in (`re.search`; a pattern starts with `^`, so it is anchored at the start).
/// Called by the engine with the GIL released.
pub(crate) fn matcher(names: Vec<String>, patterns: Vec<Py<PyAny>>) -> impl Fn(&str) -> bool + Send + Sync {
    move |topic: &str| {
        names.iter().any(|n| n == topic)
            || Python::attach(|py| {
                patterns.iter().any(|p| {
                    p.bind(py).call_method1("search", (topic,)).map(|m| !m.is_none()).unwrap_or(false)
                })
            })
    }
}
