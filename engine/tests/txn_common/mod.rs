//! Helpers for the transaction-coordinator test suites (`txn_coordinator_kafka`, `txn_failures`,
//! `txn_timeouts`): engines on a manual clock, on a real directory or on the fault-injecting
//! in-memory disk, seeding `__transaction_state` with a record (what a coordinator would load
//! after a restart), and reading what a `read_committed` consumer sees.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::path::Path;
use std::sync::Arc;

use eoslog::batch::RecordBatchBuilder;
use eoslog::clock::ManualClock;
use eoslog::io::IoBackend;
use eoslog::io::fault::FaultBackend;
use eoslog::log::CommittedRecords;
use eoslog::txn::{
    ProducerIdAndEpoch, TransactionState, TransactionVersion, TxnTopicPartition, TxnTransitMetadata,
    encode_key, encode_value,
};
use eoslog::{Engine, EngineConfig, ErrorCode, IsolationLevel, TopicConfig};

/// Where the fault-backed engines keep their data.
pub const DATA: &str = "/data";
/// The start of every manual clock.
pub const T0: i64 = 1_700_000_000_000;
/// The transaction timeout most tests use.
pub const TIMEOUT_MS: i32 = 60_000;

pub fn tp(topic: &str, partition: i32) -> TxnTopicPartition {
    TxnTopicPartition::new(topic, partition)
}

/// `__consumer_offsets-0`, the partition an AddOffsetsToTxn adds.
pub fn offsets_tp() -> TxnTopicPartition {
    tp("__consumer_offsets", 0)
}

/// Engine configuration for the coordinator tests: a manual clock, and the background abort /
/// complete pass pushed out of reach so that only the test drives the coordinator.
pub fn config(clock: &Arc<ManualClock>) -> EngineConfig {
    let mut topic_defaults = TopicConfig::default();
    // Small preallocated indexes: the in-memory disk zero-fills them.
    topic_defaults.set("segment.index.bytes", "1024").unwrap();
    EngineConfig {
        clock: clock.clone(),
        topic_defaults,
        transaction_abort_timed_out_interval_ms: 3_600_000,
        ..EngineConfig::default()
    }
}

/// Opens an engine on a real directory (the backend follows `EOSLOG_IO`).
pub fn open_dir(dir: &Path, clock: &Arc<ManualClock>) -> Engine {
    Engine::open(dir, config(clock)).unwrap()
}

/// Opens an engine on the fault-injecting disk `fs` at [`DATA`].
pub fn open_fault(fs: &FaultBackend, clock: &Arc<ManualClock>) -> eoslog::Result<Engine> {
    Engine::open_with_backend(DATA, config(clock), Arc::new(fs.clone()) as Arc<dyn IoBackend>)
}

/// Stops an engine and releases its directory before returning. Dropping the last handle is not
/// enough: the background thread may hold the engine for a moment and release the directory
/// lock after the drop returned, so an immediate reopen could find it locked. `close` joins that
/// thread first (its error — a partition offline after an injected fault, a dead disk — is
/// irrelevant here).
pub fn shut(engine: Engine) {
    let _ = engine.close();
    drop(engine);
}

/// Kills the process of a fault-backed engine: from now on every I/O fails, then the engine is
/// stopped (nothing reaches the disk any more). Follow with [`FaultBackend::crash`] (power loss)
/// or [`FaultBackend::persist_all`] + `crash` (a `kill -9`: the page cache survives).
pub fn kill(fs: &FaultBackend, engine: Engine) {
    fs.set_plan(eoslog::io::fault::FaultPlan::new().die_at(1));
    shut(engine);
}

/// A topic with small segments so that tests roll now and then.
pub fn topic_config() -> TopicConfig {
    let mut c = TopicConfig::default();
    c.set("segment.bytes", "8192").unwrap();
    c.set("index.interval.bytes", "256").unwrap();
    c.set("segment.index.bytes", "1024").unwrap();
    c
}

/// A transactional batch of `n` records whose values are `prefix-i`.
pub fn txn_batch(pid: i64, epoch: i16, seq: i32, n: usize, prefix: &str) -> Vec<u8> {
    let mut b = RecordBatchBuilder::new().producer(pid, epoch, seq).transactional(true);
    for i in 0..n {
        let v = format!("{prefix}-{i}");
        b.append(T0 + i as i64, None, Some(v.as_bytes()), &[]);
    }
    b.build().unwrap()
}

/// Every value a `read_committed` consumer sees in a partition (aborted data and markers
/// filtered out exactly as Kafka's consumer does), from the log start to the last stable offset.
pub fn committed_values(engine: &Engine, topic: &str, partition: i32) -> Vec<String> {
    let log = engine.partition(topic, partition).unwrap();
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    loop {
        let data = log.read(offset, 1 << 20, IsolationLevel::ReadCommitted).unwrap();
        if data.records.is_empty() {
            break;
        }
        let c = CommittedRecords::from_fetch(&data, offset).unwrap();
        for r in c.records {
            out.push(String::from_utf8(r.value.unwrap()).unwrap());
        }
        assert!(c.next_offset > offset, "the consumer must make progress");
        offset = c.next_offset;
    }
    out
}

/// Every data value in a partition, aborted or not (read_uncommitted, markers skipped).
pub fn all_values(engine: &Engine, topic: &str, partition: i32) -> Vec<String> {
    let log = engine.partition(topic, partition).unwrap();
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    loop {
        let data = log.read(offset, 1 << 20, IsolationLevel::ReadUncommitted).unwrap();
        if data.records.is_empty() {
            break;
        }
        let c = CommittedRecords::from_fetch(&data, offset).unwrap();
        for r in c.records {
            out.push(String::from_utf8(r.value.unwrap()).unwrap());
        }
        offset = c.next_offset;
    }
    out
}

/// `(producer id, producer epoch, coordinator epoch, commit)` of every marker in a partition.
pub fn markers(engine: &Engine, topic: &str, partition: i32) -> Vec<(i64, i16, i32, bool)> {
    let log = engine.partition(topic, partition).unwrap();
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    loop {
        let data = log.read(offset, 1 << 20, IsolationLevel::LogEnd).unwrap();
        if data.records.is_empty() {
            break;
        }
        for b in data.records.batches() {
            let b = b.unwrap();
            if b.is_control()
                && let Some(m) = b.end_txn_marker().unwrap()
            {
                out.push((b.producer_id(), b.producer_epoch(), m.coordinator_epoch, m.commit));
            }
            offset = b.next_offset();
        }
    }
    out
}

/// Asserts that every partition of the engine has no open transaction left (LSO = LEO).
pub fn assert_all_stable(engine: &Engine) {
    for log in engine.all_partitions() {
        assert_eq!(
            log.last_stable_offset(),
            log.log_end_offset(),
            "{}: a transaction is still open (LSO {} < LEO {})",
            log.topic_partition(),
            log.last_stable_offset(),
            log.log_end_offset()
        );
    }
}

/// The Kafka error code of a result (`ErrorCode::None` for `Ok`).
pub fn code<T: Debug>(r: eoslog::Result<T>) -> ErrorCode {
    match r {
        Ok(_) => ErrorCode::None,
        Err(e) => e.code(),
    }
}

/// Log end offset of `__transaction_state-0`: how many records the coordinator wrote.
pub fn txn_log_end(engine: &Engine) -> i64 {
    engine.partition("__transaction_state", 0).unwrap().log_end_offset()
}

/// Appends a `__transaction_state` record for `id` directly to the log (what a previous run of
/// the coordinator would have left) and flushes it. The coordinator picks it up when the engine
/// is reopened.
pub fn append_txn_record(engine: &Engine, id: &str, value: &TxnTransitMetadata) {
    let log = engine.partition("__transaction_state", 0).unwrap();
    let key = encode_key(id).unwrap();
    let value = encode_value(value, TransactionVersion::Tv2).unwrap();
    let mut b = RecordBatchBuilder::new();
    b.append(T0, Some(&key), Some(&value), &[]);
    log.append(&b.build().unwrap()).unwrap();
    log.flush().unwrap();
}

/// A `__transaction_state` value in `state` for producer `pid` at `epoch`.
pub fn txn_value(
    pid: i64,
    epoch: i16,
    state: TransactionState,
    partitions: &[TxnTopicPartition],
    tv: TransactionVersion,
    now: i64,
) -> TxnTransitMetadata {
    let ongoing = !partitions.is_empty() || matches!(state, TransactionState::Ongoing);
    TxnTransitMetadata {
        producer_id: pid,
        previous_producer_id: -1,
        next_producer_id: -1,
        producer_epoch: epoch,
        last_producer_epoch: -1,
        txn_timeout_ms: TIMEOUT_MS,
        txn_state: state,
        topic_partitions: partitions.iter().cloned().collect::<BTreeSet<_>>(),
        txn_start_timestamp: if ongoing || state != TransactionState::Empty { now } else { -1 },
        txn_last_update_timestamp: now,
        client_transaction_version: tv,
    }
}

/// A producer id and epoch.
pub fn pe(producer_id: i64, epoch: i16) -> ProducerIdAndEpoch {
    ProducerIdAndEpoch::new(producer_id, epoch)
}
