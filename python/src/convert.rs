//! Argument conversions shared by the classes: bytes-like values, Kafka-named configuration,
//! headers, topic partitions, isolation levels. Each raises `TypeError` naming the argument and
//! the type it got, or `ValueError` for a value out of range.

use std::borrow::Cow;

use eoslog::IsolationLevel;
use eoslog::TopicPartition;
use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyInt, PyList, PyMapping, PyString, PyTuple};

use crate::consumer::PyTopicPartition;

/// The Python type name of `obj`, for error messages.
pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "object".into())
}

/// Bytes of a `bytes`, `bytearray` or `memoryview` (any C-contiguous buffer of bytes). `bytes`
/// are borrowed (they are immutable); the others are copied, since another thread may change
/// them while the engine works with the GIL released.
pub(crate) fn buffer_arg<'a>(obj: &'a Bound<'_, PyAny>, what: &str) -> PyResult<Cow<'a, [u8]>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Cow::Borrowed(b.as_bytes()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Cow::Owned(b.to_vec()));
    }
    if !obj.is_instance_of::<PyString>()
        && !obj.is_instance_of::<PyInt>()
        && let Ok(buf) = PyBuffer::<u8>::get(obj)
    {
        return Ok(Cow::Owned(buf.to_vec(obj.py())?));
    }
    Err(PyTypeError::new_err(format!(
        "{what} must be bytes, bytearray or memoryview, not {}",
        type_name(obj)
    )))
}

/// A record key or value: bytes-like, or `str` (encoded as UTF-8, as confluent-kafka does).
pub(crate) fn data_arg(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u8>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(s.to_str()?.as_bytes().to_vec());
    }
    match buffer_arg(obj, what) {
        Ok(b) => Ok(b.into_owned()),
        Err(_) => Err(PyTypeError::new_err(format!(
            "{what} must be bytes, bytearray, memoryview, str or None, not {}",
            type_name(obj)
        ))),
    }
}

/// [`data_arg`] where `None` means null.
pub(crate) fn opt_data_arg(obj: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<Vec<u8>>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => data_arg(o, what).map(Some),
    }
}

/// Record headers: a list of `(str, value)` pairs (keys may repeat) or a `dict`; values are
/// bytes-like, `str` or `None`.
pub(crate) fn headers_arg(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<(String, Option<Vec<u8>>)>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(Vec::new());
    };
    let bad = || {
        PyTypeError::new_err(format!(
            "headers must be a list of (str, bytes | None) pairs or a dict, not {}",
            type_name(obj)
        ))
    };
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() {
        return Err(bad());
    }
    let pairs: Vec<Bound<'_, PyAny>> = if let Ok(d) = obj.cast::<PyDict>() {
        d.items().iter().collect()
    } else {
        obj.try_iter().map_err(|_| bad())?.collect::<PyResult<_>>()?
    };
    let mut out = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let tuple = pair.cast::<PyTuple>().ok().filter(|t| t.len() == 2).ok_or_else(|| {
            PyTypeError::new_err(format!(
                "a header must be a (str, bytes | None) pair, not {}",
                type_name(&pair)
            ))
        })?;
        let key = tuple.get_item(0)?;
        let key = key
            .cast::<PyString>()
            .map_err(|_| PyTypeError::new_err(format!("a header key must be str, not {}", type_name(&key))))?
            .to_str()?
            .to_string();
        let value = opt_data_arg(Some(&tuple.get_item(1)?), "a header value")?;
        out.push((key, value));
    }
    Ok(out)
}

/// `**config` keyword arguments as Kafka-named string pairs. Keys may be written with dots
/// (`**{"segment.bytes": 1024}`) or underscores (`segment_bytes=1024`); values may be `str`,
/// `int` or `bool`; `None` leaves the setting at its default.
pub(crate) fn config_pairs(config: Option<&Bound<'_, PyDict>>) -> PyResult<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let Some(config) = config else { return Ok(pairs) };
    for (k, v) in config.iter() {
        let key = k
            .cast::<PyString>()
            .map_err(|_| PyTypeError::new_err("config keys must be str"))?
            .to_str()?
            .replace('_', ".");
        if v.is_none() {
            continue;
        }
        pairs.push((key.clone(), config_value(&v, &key)?));
    }
    Ok(pairs)
}

/// One config value as the string the engine parses.
pub(crate) fn config_value(v: &Bound<'_, PyAny>, key: &str) -> PyResult<String> {
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(if b.is_true() { "true" } else { "false" }.to_string());
    }
    if let Ok(i) = v.cast::<PyInt>() {
        return Ok(i.str()?.to_str()?.to_string());
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(s.to_str()?.to_string());
    }
    // A list of names (`partition_assignment_strategy=["range", "cooperative-sticky"]`, as
    // kafka-python takes it): Kafka's comma-separated form.
    if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        let mut names = Vec::new();
        for item in v.try_iter()? {
            let item = item?;
            let Ok(s) = item.cast::<PyString>() else {
                return Err(PyTypeError::new_err(format!(
                    "config {key:?}: a list must hold str, not {}",
                    type_name(&item)
                )));
            };
            names.push(s.to_str()?.to_string());
        }
        return Ok(names.join(","));
    }
    Err(PyTypeError::new_err(format!(
        "config {key:?} must be str, int, bool or a list of str, not {}",
        type_name(v)
    )))
}

/// A topic partition: a `TopicPartition` or a `(topic, partition)` tuple.
pub(crate) fn tp_arg(obj: &Bound<'_, PyAny>) -> PyResult<TopicPartition> {
    if let Ok(tp) = obj.cast::<PyTopicPartition>() {
        return Ok(tp.get().to_rust());
    }
    if let Ok(t) = obj.cast::<PyTuple>()
        && t.len() == 2
        && let (Ok(topic), Ok(partition)) =
            (t.get_item(0)?.extract::<String>(), t.get_item(1)?.extract::<i32>())
    {
        return Ok(TopicPartition::new(topic, partition));
    }
    Err(PyTypeError::new_err(format!(
        "a partition must be a TopicPartition or a (topic: str, partition: int) tuple, not {}",
        type_name(obj)
    )))
}

/// A list of topic partitions from any iterable of [`tp_arg`] values.
pub(crate) fn tp_list_arg(obj: &Bound<'_, PyAny>) -> PyResult<Vec<TopicPartition>> {
    if obj.is_instance_of::<PyString>() || obj.cast::<PyTopicPartition>().is_ok() {
        return Err(PyTypeError::new_err(format!(
            "expected a list of TopicPartition or (topic, partition) tuples, not a single {}",
            type_name(obj)
        )));
    }
    let iter = obj.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "expected a list of TopicPartition or (topic, partition) tuples, not {}",
            type_name(obj)
        ))
    })?;
    iter.map(|item| tp_arg(&item?)).collect()
}

/// Whether `obj` denotes one partition (rather than a collection of them).
pub(crate) fn is_single_tp(obj: &Bound<'_, PyAny>) -> bool {
    obj.cast::<PyTopicPartition>().is_ok()
        || obj
            .cast::<PyTuple>()
            .is_ok_and(|t| t.len() == 2 && t.get_item(0).is_ok_and(|x| x.is_instance_of::<PyString>()))
}

/// `read_committed` or `read_uncommitted`.
pub(crate) fn isolation_arg(s: &str) -> PyResult<IsolationLevel> {
    match IsolationLevel::parse(s) {
        Some(l @ (IsolationLevel::ReadCommitted | IsolationLevel::ReadUncommitted)) => Ok(l),
        _ => Err(PyValueError::new_err(format!(
            "isolation_level must be 'read_committed' or 'read_uncommitted', not {s:?}"
        ))),
    }
}

/// The name of an isolation level as Kafka spells it.
pub(crate) fn isolation_name(l: IsolationLevel) -> &'static str {
    match l {
        IsolationLevel::ReadCommitted => "read_committed",
        IsolationLevel::ReadUncommitted => "read_uncommitted",
        IsolationLevel::LogEnd => "log_end",
    }
}

/// `Mapping` check without importing `collections.abc` each time.
pub(crate) fn is_mapping(obj: &Bound<'_, PyAny>) -> bool {
    obj.cast::<PyDict>().is_ok() || obj.cast::<PyMapping>().is_ok()
}

/// Headers as a Python list of `(str, bytes | None)` tuples.
pub(crate) fn headers_to_py<'py>(
    py: Python<'py>,
    headers: &[(String, Option<Vec<u8>>)],
) -> PyResult<Bound<'py, pyo3::types::PyList>> {
    let items: Vec<Bound<'py, PyTuple>> = headers
        .iter()
        .map(|(k, v)| {
            let value = v.as_deref().map(|b| PyBytes::new(py, b));
            PyTuple::new(py, [k.into_pyobject(py)?.into_any(), value.into_pyobject(py)?.into_any()])
        })
        .collect::<PyResult<_>>()?;
    pyo3::types::PyList::new(py, items)
}

/// Optional bytes as Python `bytes | None`.
pub(crate) fn opt_bytes<'py>(py: Python<'py>, b: Option<&[u8]>) -> Option<Bound<'py, PyBytes>> {
    b.map(|b| PyBytes::new(py, b))
}
