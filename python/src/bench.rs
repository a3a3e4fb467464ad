//! The Rust side of `python/bench/throughput.py`: the same workloads through the Rust client
//! API, in the same process and on the same engine, so the benchmark reports Python's overhead
//! as a ratio measured in one run. Not part of the public API (hence the leading underscore).

use std::time::{Duration, Instant};

use eoslog::TopicPartition;
use eoslog::client::{Consumer, ConsumerConfig, Producer, ProducerConfig, ProducerRecord};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::engine::PyEngine;
use crate::errors::IntoPyResult;

/// Runs `workload` (`"send_many"`: `count` records of `size` bytes sent and flushed once;
/// `"send"`: each record sent and waited for; `"consume"`: `count` records read back from
/// every partition of `topic` from the start) and returns the seconds it took.
#[pyfunction]
pub(crate) fn _rust_baseline(
    py: Python<'_>,
    engine: &PyEngine,
    workload: &str,
    topic: &str,
    count: usize,
    size: usize,
) -> PyResult<f64> {
    let engine = engine.engine()?;
    let value = vec![b'x'; size];
    let run = || -> eoslog::Result<Duration> {
        match workload {
            "send_many" | "send" => {
                let producer = Producer::new(engine, ProducerConfig::default())?;
                let started = Instant::now();
                for _ in 0..count {
                    let record = ProducerRecord::new(topic, value.clone());
                    if workload == "send" {
                        producer.send_sync(record)?;
                    } else {
                        producer.send(record)?;
                    }
                }
                producer.flush()?;
                let elapsed = started.elapsed();
                producer.close()?;
                Ok(elapsed)
            }
            _ => {
                let config = ConsumerConfig::from_pairs(&[("auto.offset.reset", "earliest")])?;
                let consumer = Consumer::new(engine, config)?;
                let n = engine.partition_count(topic)?;
                let tps: Vec<TopicPartition> = (0..n).map(|p| TopicPartition::new(topic, p)).collect();
                consumer.assign(&tps)?;
                let started = Instant::now();
                let mut read = 0;
                while read < count {
                    let got = consumer.poll(Duration::from_secs(1))?;
                    if got.is_empty() {
                        break;
                    }
                    read += got.len();
                }
                Ok(started.elapsed())
            }
        }
    };
    if !matches!(workload, "send_many" | "send" | "consume") {
        return Err(PyValueError::new_err(format!("unknown workload {workload:?}")));
    }
    let elapsed = py.detach(run).py_err(py)?;
    Ok(elapsed.as_secs_f64())
}
