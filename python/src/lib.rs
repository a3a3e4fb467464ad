//! # eoslog-python
//!
//! The native part of the `eoslog` Python package: the extension module `eoslog._eoslog`, built
//! by maturin into an abi3 (CPython ≥ 3.11) wheel. The Python package (`python/eoslog/`)
//! re-exports these classes, adds the exception hierarchy (`eoslog.exceptions`) and ships the
//! type stubs (`_eoslog.pyi`).
//!
//! Conventions every class here follows:
//! - **The GIL is released** (`Python::detach`) around every call into the engine that may block
//!   or take an engine lock. Locks of the binding itself are taken only while detached, and no
//!   lock is ever held while the GIL is taken back, so a Python thread blocked on a binding lock
//!   can never hold the GIL that the lock holder needs. The one place the GIL is taken back
//!   inside an engine call is a rebalance callback ([`rebalance`]), on the thread that called
//!   `poll` / `close` / `unsubscribe`; the engine locks it holds there are only taken by calls
//!   that release the GIL first.
//! - **Errors, not panics.** Engine errors become instances of the `eoslog.exceptions` classes
//!   (one per Kafka error code, see [`errors`]); wrong argument types raise `TypeError`, bad
//!   values `ValueError` (or an `EoslogError` subclass that derives from it).
//! - **Use after close and use in a forked child** raise `ClosedError` / `ForkedProcessError`
//!   before touching the engine ([`handle`]); a forked child never runs the parent's shutdown.
//!
//! `unsafe` appears in exactly one place: the buffer protocol of `RecordsBuffer`
//! ([`partition`]), which PyO3 can only express as an `unsafe fn __getbuffer__`.
#![deny(missing_docs)]

use pyo3::prelude::*;

mod batch;
mod bench;
mod consumer;
mod convert;
mod engine;
mod errors;
mod handle;
mod partition;
mod producer;
mod rebalance;

/// The `eoslog._eoslog` extension module.
#[pymodule]
fn _eoslog(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<engine::PyEngine>()?;
    m.add_class::<engine::TopicDescription>()?;
    m.add_class::<engine::RecoveryReport>()?;
    m.add_class::<engine::PartitionRecovery>()?;
    m.add_class::<producer::PyProducer>()?;
    m.add_class::<producer::Transaction>()?;
    m.add_class::<producer::PyRecordMetadata>()?;
    m.add_class::<consumer::PyConsumer>()?;
    m.add_class::<consumer::PyConsumerRecord>()?;
    m.add_class::<consumer::PyTopicPartition>()?;
    m.add_class::<consumer::PyOffsetAndMetadata>()?;
    m.add_class::<consumer::PyConsumerGroupMetadata>()?;
    m.add_class::<partition::PyPartition>()?;
    m.add_class::<partition::PyAppendInfo>()?;
    m.add_class::<partition::FetchResult>()?;
    m.add_class::<partition::AbortedTransaction>()?;
    m.add_class::<partition::RecordsBuffer>()?;
    m.add_class::<batch::PyRecordBatchBuilder>()?;
    m.add_class::<batch::PyRecordBatch>()?;
    m.add_class::<batch::PyRecord>()?;
    m.add_function(wrap_pyfunction!(batch::decode_batches, m)?)?;
    m.add_function(wrap_pyfunction!(bench::_rust_baseline, m)?)?;
    Ok(())
}
