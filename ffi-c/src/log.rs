//! Partitions: raw batch append (and the broker-style produce), reads with a zero-copy view of
//! the records, and the fetch result.

use std::ffi::c_char;
use std::sync::Arc;

use eoslog_core::log::{AppendInfo, FetchData, IsolationLevel, PartitionLog};
use eoslog_core::topics;

use crate::engine::{EngineRef, eoslog_engine, index_error};
use crate::ffi::{bytes, c_str, free_handle, impl_handle, new_handle, opt_c_str, out, try_ref};
use crate::panic::result_boundary;
use crate::result::{FfiError, FfiResult, eoslog_result};

/// Which records a read may return.
#[allow(non_camel_case_types)]
pub type eoslog_isolation = i32;
/// Up to the high watermark (Kafka's `read_uncommitted`).
pub const EOSLOG_ISOLATION_READ_UNCOMMITTED: eoslog_isolation = 0;
/// Up to the last stable offset, with the aborted transactions of the range
/// (Kafka's `read_committed`).
pub const EOSLOG_ISOLATION_READ_COMMITTED: eoslog_isolation = 1;
/// Up to the log end offset (what a replication follower reads).
pub const EOSLOG_ISOLATION_LOG_END: eoslog_isolation = 2;

pub(crate) fn isolation(level: eoslog_isolation) -> FfiResult<IsolationLevel> {
    match level {
        EOSLOG_ISOLATION_READ_UNCOMMITTED => Ok(IsolationLevel::ReadUncommitted),
        EOSLOG_ISOLATION_READ_COMMITTED => Ok(IsolationLevel::ReadCommitted),
        EOSLOG_ISOLATION_LOG_END => Ok(IsolationLevel::LogEnd),
        other => Err(FfiError::invalid(format!("unknown isolation level {other}"))),
    }
}

/// Checks a topic name before it is used to look anything up, so an illegal name is reported
/// as such (INVALID_TOPIC_EXCEPTION) rather than as an unknown topic.
pub(crate) fn topic_name<'a>(ptr: *const c_char, what: &str) -> FfiResult<&'a str> {
    let name = c_str(ptr, what)?;
    topics::validate_name(name)?;
    Ok(name)
}

/// Refuses client writes to eoslog's internal topics, whose contents only the coordinators
/// write (a stray batch there would be replayed as coordinator state at the next open).
fn check_writable_topic(name: &str) -> FfiResult<()> {
    if topics::is_internal(name) {
        return Err(FfiError::from(eoslog_core::Error::InvalidTopic {
            name: name.to_string(),
            reason: "internal topics are written by eoslog only",
        }));
    }
    Ok(())
}

/// One partition's log (Rust's `PartitionLog`), for raw batch appends and reads.
///
/// Created by `eoslog_partition_open`, released by exactly one `eoslog_partition_free`. It
/// does not keep the engine open: after `eoslog_engine_close` every call returns
/// `EOSLOG_RESULT_CLOSED`, and after the topic is deleted every call fails.
/// Thread-safety: every function takes `const eoslog_partition *` and may be called from any
/// number of threads at once (appends to one partition are serialised inside).
pub struct eoslog_partition {
    _private: [u8; 0],
}

pub(crate) struct PartitionHandle {
    engine: EngineRef,
    log: Arc<PartitionLog>,
    writable: bool,
}

impl_handle!(eoslog_partition => PartitionHandle, b"eos:PART");

/// The result of an append (Rust's `AppendInfo`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct eoslog_append_info {
    /// Offset of the first record of the batch.
    pub first_offset: i64,
    /// Offset of the last record of the batch.
    pub last_offset: i64,
    /// The broker timestamp stamped on a LogAppendTime topic, -1 for CreateTime.
    pub log_append_time: i64,
    /// The log start offset after the append.
    pub log_start_offset: i64,
    /// Records in the batch.
    pub record_count: i32,
    /// True when the batch was a retry of one already in the log (same producer id, epoch and
    /// sequences): nothing was written and the offsets are those of the original.
    pub duplicate: bool,
}

impl From<AppendInfo> for eoslog_append_info {
    fn from(a: AppendInfo) -> Self {
        eoslog_append_info {
            first_offset: a.first_offset,
            last_offset: a.last_offset,
            log_append_time: a.log_append_time,
            log_start_offset: a.log_start_offset,
            record_count: a.record_count,
            duplicate: a.duplicate,
        }
    }
}

/// Opens a handle to partition `partition` of topic `topic`. On success `*out_partition`
/// receives a handle the caller owns (`eoslog_partition_free`). Internal topics can be opened
/// for reading; appends to them are refused.
///
/// Errors: `EOSLOG_RESULT_INVALID_TOPIC_EXCEPTION` (illegal name),
/// `EOSLOG_RESULT_UNKNOWN_TOPIC_OR_PARTITION`, `EOSLOG_RESULT_CLOSED`, plus the usual argument
/// and handle errors. Thread-safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_partition_open(
    engine: *const eoslog_engine,
    topic: *const c_char,
    partition: i32,
    out_partition: *mut *mut eoslog_partition,
) -> eoslog_result {
    result_boundary(|| {
        let h = try_ref(engine, "engine")?;
        let topic = topic_name(topic, "topic")?;
        let out_partition = out(out_partition, "out_partition")?;
        let log = h.engine.get()?.partition(topic, partition)?;
        out_partition.write(new_handle(PartitionHandle {
            engine: h.engine.clone(),
            log,
            writable: !topics::is_internal(topic),
        }));
        Ok(())
    })
}

/// Releases a partition handle. NULL is accepted and does nothing. Returns
/// `EOSLOG_RESULT_INVALID_HANDLE` for a pointer that is not a live partition handle.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_partition_free(partition: *mut eoslog_partition) -> eoslog_result {
    result_boundary(|| free_handle(partition, "partition"))
}

#[inline]
fn live_partition<'a>(partition: *const eoslog_partition) -> FfiResult<&'a PartitionHandle> {
    let p = try_ref(partition, "partition")?;
    p.engine.check_open()?;
    Ok(p)
}

/// Appends one Kafka RecordBatch v2 (`data`, `len` bytes: exactly one batch, as built by
/// `eoslog_batch_builder_build` or received from a Kafka producer) as the partition leader:
/// validates it (framing, CRC-32C, record structure), applies the idempotent-producer and
/// transaction rules (dedup, sequence, epoch fencing), assigns offsets and writes it. With
/// `durability=always` it returns once the bytes are durable.
///
/// On success `*out_info` receives the offsets; `duplicate` is true when the batch was a retry
/// of one already in the log, in which case nothing was written.
///
/// The bytes are only read during the call. Bad input changes nothing on disk.
///
/// Errors: `EOSLOG_RESULT_CORRUPT_MESSAGE` (bad framing or CRC),
/// `EOSLOG_RESULT_INVALID_RECORD` (record-level damage, or a control batch),
/// `EOSLOG_RESULT_UNSUPPORTED_FOR_MESSAGE_FORMAT` (magic not 2),
/// `EOSLOG_RESULT_MESSAGE_TOO_LARGE`, `EOSLOG_RESULT_OUT_OF_ORDER_SEQUENCE_NUMBER`,
/// `EOSLOG_RESULT_INVALID_PRODUCER_EPOCH` (fenced), `EOSLOG_RESULT_INVALID_TXN_STATE`,
/// `EOSLOG_RESULT_INVALID_TIMESTAMP`, `EOSLOG_RESULT_KAFKA_STORAGE_ERROR` (the partition is
/// offline after an I/O failure), `EOSLOG_RESULT_INVALID_TOPIC_EXCEPTION` (internal topic),
/// `EOSLOG_RESULT_LENGTH_TOO_LARGE`, `EOSLOG_RESULT_CLOSED`, and the usual argument and handle
/// errors.
///
/// Thread-safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_partition_append(
    partition: *const eoslog_partition,
    data: *const u8,
    len: usize,
    out_info: *mut eoslog_append_info,
) -> eoslog_result {
    result_boundary(|| {
        let p = live_partition(partition)?;
        let batch = bytes(data, len, "data")?;
        let out_info = out(out_info, "out_info")?;
        if !p.writable {
            check_writable_topic(&p.log.topic_partition().topic)?;
        }
        out_info.write(p.log.append(batch)?.into());
        Ok(())
    })
}

/// Appends a producer's batch to `topic`/`partition` the way a broker handles a Kafka Produce
/// request: like `eoslog_partition_append`, and in addition the first transactional batch of
/// a transactional producer in a partition is verified with the transaction coordinator
/// (KIP-890: the partition must be part of the producer's ongoing transaction).
/// `transactional_id` is the request's transactional id, or NULL for none.
///
/// Errors: those of `eoslog_partition_append`, plus
/// `EOSLOG_RESULT_UNKNOWN_TOPIC_OR_PARTITION` and the coordinator's verification errors
/// (`EOSLOG_RESULT_INVALID_TXN_STATE`, `EOSLOG_RESULT_INVALID_PRODUCER_EPOCH`, ...).
/// Thread-safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_engine_produce(
    engine: *const eoslog_engine,
    topic: *const c_char,
    partition: i32,
    data: *const u8,
    len: usize,
    transactional_id: *const c_char,
    out_info: *mut eoslog_append_info,
) -> eoslog_result {
    result_boundary(|| {
        let h = try_ref(engine, "engine")?;
        let topic = topic_name(topic, "topic")?;
        let batch = bytes(data, len, "data")?;
        let transactional_id = opt_c_str(transactional_id, "transactional_id")?;
        let out_info = out(out_info, "out_info")?;
        check_writable_topic(topic)?;
        out_info.write(h.engine.get()?.produce(topic, partition, batch, transactional_id)?.into());
        Ok(())
    })
}

/// The offsets of a partition at one moment (`eoslog_partition_get_offsets`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct eoslog_partition_offsets {
    /// First offset still in the log.
    pub log_start_offset: i64,
    /// Offset the next record will get.
    pub log_end_offset: i64,
    /// Offsets below this are visible to `read_uncommitted` readers.
    pub high_watermark: i64,
    /// Offsets below this are visible to `read_committed` readers.
    pub last_stable_offset: i64,
    /// Everything below this offset is durable.
    pub durable_offset: i64,
}

/// Writes the partition's current offsets to `*out_offsets`.
///
/// Errors: `EOSLOG_RESULT_CLOSED`, `EOSLOG_RESULT_NULL_PARAMETER`,
/// `EOSLOG_RESULT_INVALID_HANDLE`. Thread-safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_partition_get_offsets(
    partition: *const eoslog_partition,
    out_offsets: *mut eoslog_partition_offsets,
) -> eoslog_result {
    result_boundary(|| {
        let p = live_partition(partition)?;
        let out_offsets = out(out_offsets, "out_offsets")?;
        let log = &p.log;
        out_offsets.write(eoslog_partition_offsets {
            log_start_offset: log.log_start_offset(),
            log_end_offset: log.log_end_offset(),
            high_watermark: log.high_watermark(),
            last_stable_offset: log.last_stable_offset(),
            durable_offset: log.durable_offset(),
        });
        Ok(())
    })
}

/// Makes everything appended to this partition so far durable.
///
/// Errors: `EOSLOG_RESULT_KAFKA_STORAGE_ERROR`, `EOSLOG_RESULT_CLOSED`,
/// `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`. Thread-safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_partition_flush(partition: *const eoslog_partition) -> eoslog_result {
    result_boundary(|| {
        live_partition(partition)?.log.flush()?;
        Ok(())
    })
}

/// The result of a read (Rust's `FetchData`): whole batches, exactly as stored, plus the
/// partition's offsets when the read was served.
///
/// Created by `eoslog_partition_read`, released by exactly one `eoslog_fetch_free`. It owns
/// its bytes and stays valid after the engine is closed. Thread-safety: immutable; any number
/// of threads may read it at once.
pub struct eoslog_fetch {
    _private: [u8; 0],
}

impl_handle!(eoslog_fetch => Arc<FetchData>, b"eos:FTCH");

/// What a fetch result holds (`eoslog_fetch_get_info`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct eoslog_fetch_info {
    /// The batches, back to back, exactly as stored (every CRC was checked by the read): a
    /// zero-copy view owned by the fetch result, valid until `eoslog_fetch_free`. Iterate
    /// them with `eoslog_fetch_batches`. NULL when `records_len` is 0.
    pub records: *const u8,
    /// Length of `records` in bytes (0 when nothing was visible at `offset`).
    pub records_len: usize,
    /// High watermark when the read was served.
    pub high_watermark: i64,
    /// Last stable offset when the read was served.
    pub last_stable_offset: i64,
    /// Log start offset.
    pub log_start_offset: i64,
    /// Log end offset.
    pub log_end_offset: i64,
    /// Whether the read was `read_committed` (only then are aborted transactions reported).
    pub has_aborted_transactions: bool,
    /// Number of aborted transactions overlapping the returned range
    /// (`eoslog_fetch_get_aborted_transaction`); 0 unless `read_committed`.
    pub aborted_transactions_len: usize,
    /// For `sendfile(out_fd, fd, &file_position, records_len)`: the segment file holding the
    /// same bytes, or -1 when there is none (empty read, or an in-memory backend). The
    /// descriptor belongs to the engine: do not close it. It stays open until the fetch
    /// result is freed, even if retention deletes the segment meanwhile.
    pub fd: i32,
    /// Position of the bytes in `fd`.
    pub file_position: u64,
}

/// An aborted transaction overlapping a fetched range, as a Kafka Fetch response reports it.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct eoslog_aborted_transaction {
    /// Producer of the aborted transaction.
    pub producer_id: i64,
    /// First offset of the transaction.
    pub first_offset: i64,
}

/// Reads whole batches starting with the one holding `offset`, up to `max_bytes` (always at
/// least one batch when any is visible) and up to the bound of `isolation`
/// (`EOSLOG_ISOLATION_READ_UNCOMMITTED`: high watermark; `EOSLOG_ISOLATION_READ_COMMITTED`:
/// last stable offset, with the aborted transactions of the range;
/// `EOSLOG_ISOLATION_LOG_END`: log end offset). Batches are returned as stored: under
/// read_committed, skipping aborted records and control batches is the reader's job (as in
/// Kafka's Fetch; the consumer API does it for you).
///
/// On success `*out_fetch` receives a fetch result the caller owns (`eoslog_fetch_free`).
///
/// Errors: `EOSLOG_RESULT_OFFSET_OUT_OF_RANGE` (outside `[log start, log end]`),
/// `EOSLOG_RESULT_INVALID_FETCH_SIZE` (`max_bytes` is 0), `EOSLOG_RESULT_INVALID_ARGUMENT`
/// (unknown isolation level), `EOSLOG_RESULT_KAFKA_STORAGE_ERROR` (a CRC failed on disk),
/// `EOSLOG_RESULT_CLOSED`, `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`.
///
/// Thread-safety: any thread; reads never wait for appends.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_partition_read(
    partition: *const eoslog_partition,
    offset: i64,
    max_bytes: u32,
    isolation_level: eoslog_isolation,
    out_fetch: *mut *mut eoslog_fetch,
) -> eoslog_result {
    result_boundary(|| {
        let p = live_partition(partition)?;
        let level = isolation(isolation_level)?;
        let out_fetch = out(out_fetch, "out_fetch")?;
        let data = p.log.read(offset, max_bytes, level)?;
        out_fetch.write(new_handle::<eoslog_fetch>(Arc::new(data)));
        Ok(())
    })
}

/// Writes what the fetch result holds to `*out_info`: the zero-copy view of the records, the
/// offsets, the number of aborted transactions and the file range for `sendfile`.
///
/// Errors: `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE` (for example a fetch
/// result already freed). Thread-safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_fetch_get_info(
    fetch: *const eoslog_fetch,
    out_info: *mut eoslog_fetch_info,
) -> eoslog_result {
    result_boundary(|| {
        let f = try_ref(fetch, "fetch")?;
        let out_info = out(out_info, "out_info")?;
        let bytes = f.records.bytes();
        let (fd, position) = match f.records.file_range() {
            Some((fd, position, _)) => (fd, position),
            None => (-1, 0),
        };
        out_info.write(eoslog_fetch_info {
            records: if bytes.is_empty() { std::ptr::null() } else { bytes.as_ptr() },
            records_len: bytes.len(),
            high_watermark: f.high_watermark,
            last_stable_offset: f.last_stable_offset,
            log_start_offset: f.log_start_offset,
            log_end_offset: f.log_end_offset,
            has_aborted_transactions: f.aborted_transactions.is_some(),
            aborted_transactions_len: f.aborted_transactions.as_ref().map_or(0, Vec::len),
            fd,
            file_position: position,
        });
        Ok(())
    })
}

/// Writes aborted transaction number `index` (ordered by first offset) to `*out_txn`.
///
/// Errors: `EOSLOG_RESULT_INVALID_ARGUMENT` (index out of range, or not a read_committed
/// fetch), `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`.
/// Thread-safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_fetch_get_aborted_transaction(
    fetch: *const eoslog_fetch,
    index: usize,
    out_txn: *mut eoslog_aborted_transaction,
) -> eoslog_result {
    result_boundary(|| {
        let f = try_ref(fetch, "fetch")?;
        let out_txn = out(out_txn, "out_txn")?;
        let aborted = f.aborted_transactions.as_deref().unwrap_or(&[]);
        let a = aborted.get(index).ok_or_else(|| index_error(index, aborted.len()))?;
        out_txn
            .write(eoslog_aborted_transaction { producer_id: a.producer_id, first_offset: a.first_offset });
        Ok(())
    })
}

/// Releases a fetch result; the view of its records becomes invalid. NULL is accepted and does
/// nothing.
///
/// A double free is detected (for the last 1024 freed handles) and returns
/// `EOSLOG_RESULT_INVALID_HANDLE` with a message instead of corrupting memory; it is still a
/// bug in the caller.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_fetch_free(fetch: *mut eoslog_fetch) -> eoslog_result {
    result_boundary(|| free_handle(fetch, "fetch"))
}

/// The shared fetch data behind a fetch handle (for batch iterators that keep it alive).
pub(crate) fn fetch_data(fetch: *const eoslog_fetch) -> FfiResult<Arc<FetchData>> {
    Ok(try_ref(fetch, "fetch")?.clone())
}
