//! The consumer (Rust's `client::Consumer`) and the messages it returns.

use std::collections::BTreeMap;
use std::ffi::{CString, c_char};
use std::time::Duration;

use eoslog_core::client::{Consumer, ConsumerConfig, ConsumerRecord, TopicPartition};

use crate::batch::{eoslog_header, eoslog_timestamp_type, header_out, timestamp_type_code};
use crate::engine::{EngineRef, config_pairs, eoslog_config_pair, eoslog_engine, index_error};
use crate::ffi::{array, free_handle, impl_handle, new_handle, opt_slice_parts, out, to_cstring, try_ref};
use crate::log::topic_name;
use crate::panic::{result_boundary, value_boundary};
use crate::producer::{
    GroupMetadataHandle, eoslog_group_metadata, eoslog_topic_partition_offset, offsets_in,
};
use crate::result::{FfiResult, eoslog_result, set_last_error};

/// An in-process Kafka consumer: reads assigned partitions with `read_committed` (the default)
/// or `read_uncommitted` isolation, skipping aborted transactions and markers as Kafka's
/// client does, and commits offsets for its `group.id`.
///
/// Created by `eoslog_consumer_new`, released by exactly one `eoslog_consumer_free`.
/// Thread-safety: every function takes `const eoslog_consumer *` and may be called from any
/// thread; calls are serialised inside, and `eoslog_consumer_wakeup` may be called from another
/// thread to end a blocked `eoslog_consumer_poll`.
pub struct eoslog_consumer {
    _private: [u8; 0],
}

pub(crate) struct ConsumerHandle {
    engine: EngineRef,
    consumer: Consumer,
}

impl_handle!(eoslog_consumer => ConsumerHandle, b"eos:CONS");

/// A topic and a partition.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct eoslog_topic_partition {
    /// The topic, NUL-terminated. Must not be NULL.
    pub topic: *const c_char,
    /// The partition.
    pub partition: i32,
}

fn partitions_in(list: *const eoslog_topic_partition, len: usize) -> FfiResult<Vec<TopicPartition>> {
    array(list, len, "partitions")?
        .iter()
        .enumerate()
        .map(|(i, tp)| {
            Ok(TopicPartition::new(topic_name(tp.topic, &format!("partitions[{i}].topic"))?, tp.partition))
        })
        .collect()
}

fn live<'a>(consumer: *const eoslog_consumer) -> FfiResult<&'a Consumer> {
    let c = try_ref(consumer, "consumer")?;
    c.engine.check_open()?;
    Ok(&c.consumer)
}

/// Creates a consumer on `engine`, configured by `config_len` Kafka consumer settings:
/// `group.id` (needed to commit and for transactional offsets), `isolation.level`
/// (`read_committed`, eoslog's default, or `read_uncommitted`), `auto.offset.reset`
/// (`earliest` | `latest` | `none`), `max.poll.records`, `enable.auto.commit` (default false),
/// ...; NULL with 0 for the defaults. `*out_consumer` receives the consumer (the caller owns
/// it).
///
/// Errors: `EOSLOG_RESULT_INVALID_CONFIG`, `EOSLOG_RESULT_CLOSED`, and the usual argument and
/// handle errors. Thread-safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_new(
    engine: *const eoslog_engine,
    config: *const eoslog_config_pair,
    config_len: usize,
    out_consumer: *mut *mut eoslog_consumer,
) -> eoslog_result {
    result_boundary(|| {
        let h = try_ref(engine, "engine")?;
        let pairs = config_pairs(config, config_len, "config")?;
        let out_consumer = out(out_consumer, "out_consumer")?;
        let config = ConsumerConfig::from_pairs(&pairs)?;
        let consumer = Consumer::new(h.engine.get()?, config)?;
        out_consumer.write(new_handle(ConsumerHandle { engine: h.engine.clone(), consumer }));
        Ok(())
    })
}

/// Closes the consumer if needed (committing positions when `enable.auto.commit` is set) and
/// releases it. NULL is accepted and does nothing. Returns `EOSLOG_RESULT_INVALID_HANDLE` for a
/// pointer that is not a live consumer.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_free(consumer: *mut eoslog_consumer) -> eoslog_result {
    result_boundary(|| free_handle(consumer, "consumer"))
}

/// Commits positions if `enable.auto.commit` is set and releases the partitions; later calls
/// fail with `EOSLOG_RESULT_INVALID_REQUEST`. Closing twice is fine. The handle must still be
/// freed.
///
/// Errors: the auto-commit's errors, `EOSLOG_RESULT_CLOSED` (engine closed),
/// `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_close(consumer: *const eoslog_consumer) -> eoslog_result {
    result_boundary(|| {
        live(consumer)?.close()?;
        Ok(())
    })
}

/// Assigns exactly these `partitions_len` partitions (Kafka's `assign`); partitions that stay
/// assigned keep their positions, new ones start at the group's committed offset, else at
/// `auto.offset.reset`. An empty list unassigns everything.
///
/// Errors: `EOSLOG_RESULT_UNKNOWN_TOPIC_OR_PARTITION`, `EOSLOG_RESULT_INVALID_TOPIC_EXCEPTION`,
/// `EOSLOG_RESULT_CLOSED`, and the usual argument and handle errors.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_assign(
    consumer: *const eoslog_consumer,
    partitions: *const eoslog_topic_partition,
    partitions_len: usize,
) -> eoslog_result {
    result_boundary(|| {
        let c = live(consumer)?;
        let partitions = partitions_in(partitions, partitions_len)?;
        c.assign(&partitions)?;
        Ok(())
    })
}

/// Sets the position of an assigned partition to `offset` (Kafka's `seek`): the next poll
/// returns records from there.
///
/// Errors: `EOSLOG_RESULT_INVALID_REQUEST` (not assigned, or a negative offset),
/// `EOSLOG_RESULT_CLOSED`, and the usual argument and handle errors.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_seek(
    consumer: *const eoslog_consumer,
    topic: *const c_char,
    partition: i32,
    offset: i64,
) -> eoslog_result {
    result_boundary(|| {
        let c = live(consumer)?;
        let topic = topic_name(topic, "topic")?;
        c.seek(&TopicPartition::new(topic, partition), offset)?;
        Ok(())
    })
}

/// Moves the given assigned partitions (all assigned ones when `partitions_len` is 0) to their
/// log start, evaluated at the next poll (Kafka's `seekToBeginning`).
///
/// Errors: `EOSLOG_RESULT_INVALID_REQUEST` (not assigned), `EOSLOG_RESULT_CLOSED`, and the
/// usual argument and handle errors.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_seek_to_beginning(
    consumer: *const eoslog_consumer,
    partitions: *const eoslog_topic_partition,
    partitions_len: usize,
) -> eoslog_result {
    result_boundary(|| {
        let c = live(consumer)?;
        let partitions = partitions_in(partitions, partitions_len)?;
        c.seek_to_beginning(&partitions)?;
        Ok(())
    })
}

/// Moves the given assigned partitions (all when `partitions_len` is 0) to their end as this
/// consumer sees it (last stable offset under read_committed), evaluated at the next poll
/// (Kafka's `seekToEnd`).
///
/// Errors: as `eoslog_consumer_seek_to_beginning`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_seek_to_end(
    consumer: *const eoslog_consumer,
    partitions: *const eoslog_topic_partition,
    partitions_len: usize,
) -> eoslog_result {
    result_boundary(|| {
        let c = live(consumer)?;
        let partitions = partitions_in(partitions, partitions_len)?;
        c.seek_to_end(&partitions)?;
        Ok(())
    })
}

/// Writes the offset of the next record the consumer returns for an assigned partition to
/// `*out_offset` (Kafka's `position`), resolving an unknown position first.
///
/// Errors: `EOSLOG_RESULT_INVALID_REQUEST` (not assigned), `EOSLOG_RESULT_OFFSET_OUT_OF_RANGE`
/// (no position and `auto.offset.reset=none`), `EOSLOG_RESULT_CLOSED`, and the usual argument
/// and handle errors.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_position(
    consumer: *const eoslog_consumer,
    topic: *const c_char,
    partition: i32,
    out_offset: *mut i64,
) -> eoslog_result {
    result_boundary(|| {
        let c = live(consumer)?;
        let topic = topic_name(topic, "topic")?;
        let out_offset = out(out_offset, "out_offset")?;
        out_offset.write(c.position(&TopicPartition::new(topic, partition))?);
        Ok(())
    })
}

/// Writes the end of a partition as this consumer sees it to `*out_offset`: the last stable
/// offset under read_committed, the high watermark under read_uncommitted (Kafka's
/// `endOffsets`).
///
/// Errors: `EOSLOG_RESULT_UNKNOWN_TOPIC_OR_PARTITION`, `EOSLOG_RESULT_CLOSED`, and the usual
/// argument and handle errors.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_end_offset(
    consumer: *const eoslog_consumer,
    topic: *const c_char,
    partition: i32,
    out_offset: *mut i64,
) -> eoslog_result {
    result_boundary(|| {
        let c = live(consumer)?;
        let topic = topic_name(topic, "topic")?;
        let out_offset = out(out_offset, "out_offset")?;
        let tp = TopicPartition::new(topic, partition);
        let ends = c.end_offsets(std::slice::from_ref(&tp))?;
        out_offset.write(ends.get(&tp).copied().unwrap_or(-1));
        Ok(())
    })
}

/// Writes the group's committed offset of a partition to `*out_offset` (Kafka's
/// `committed`), or -1 when nothing is committed. Under read_committed a transactional commit
/// still pending is waited for (up to `default.api.timeout.ms`), so the answer is never one a
/// transaction could undo.
///
/// Errors: `EOSLOG_RESULT_INVALID_GROUP_ID` (no `group.id`), `EOSLOG_RESULT_REQUEST_TIMED_OUT`
/// / `EOSLOG_RESULT_UNSTABLE_OFFSET_COMMIT`, `EOSLOG_RESULT_CLOSED`, and the usual argument and
/// handle errors.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_committed(
    consumer: *const eoslog_consumer,
    topic: *const c_char,
    partition: i32,
    out_offset: *mut i64,
) -> eoslog_result {
    result_boundary(|| {
        let c = live(consumer)?;
        let topic = topic_name(topic, "topic")?;
        let out_offset = out(out_offset, "out_offset")?;
        let tp = TopicPartition::new(topic, partition);
        let committed = c.committed(std::slice::from_ref(&tp))?;
        out_offset.write(committed.get(&tp).and_then(|o| o.as_ref()).map_or(-1, |o| o.offset));
        Ok(())
    })
}

/// Commits offsets for the consumer's group (Kafka's `commitSync`): with `offsets_len == 0`
/// the current position of every assigned partition, else the given `offsets` (each the next
/// offset to consume).
///
/// Errors: `EOSLOG_RESULT_INVALID_GROUP_ID` (no `group.id`), the group coordinator's errors
/// (`EOSLOG_RESULT_ILLEGAL_GENERATION`, ...), `EOSLOG_RESULT_CLOSED`, and the usual argument
/// and handle errors.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_commit(
    consumer: *const eoslog_consumer,
    offsets: *const eoslog_topic_partition_offset,
    offsets_len: usize,
) -> eoslog_result {
    result_boundary(|| {
        let c = live(consumer)?;
        let offsets = offsets_in(offsets, offsets_len)?;
        if offsets.is_empty() {
            c.commit_sync()?;
        } else {
            c.commit(&offsets)?;
        }
        Ok(())
    })
}

/// Writes the consumer's group identity (for `eoslog_producer_send_offsets_to_transaction`)
/// to `*out_group`, a new handle the caller owns (`eoslog_group_metadata_free`).
///
/// Errors: `EOSLOG_RESULT_INVALID_GROUP_ID` (no `group.id`), `EOSLOG_RESULT_CLOSED`,
/// `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_group_metadata(
    consumer: *const eoslog_consumer,
    out_group: *mut *mut eoslog_group_metadata,
) -> eoslog_result {
    result_boundary(|| {
        let c = live(consumer)?;
        let out_group = out(out_group, "out_group")?;
        let metadata = c.group_metadata()?;
        out_group.write(new_handle::<eoslog_group_metadata>(GroupMetadataHandle::new(metadata)));
        Ok(())
    })
}

/// Ends a `eoslog_consumer_poll` blocked on another thread (it returns what it has, possibly
/// nothing). Safe to call from any thread at any time.
///
/// Errors: `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_wakeup(consumer: *const eoslog_consumer) -> eoslog_result {
    result_boundary(|| {
        try_ref(consumer, "consumer")?.consumer.wakeup();
        Ok(())
    })
}

/// Records returned by one `eoslog_consumer_poll`, in order per partition.
///
/// Released by exactly one `eoslog_message_set_free`; independent of the consumer and the
/// engine. Thread-safety: immutable; any number of threads may read it at once.
pub struct eoslog_message_set {
    _private: [u8; 0],
}

pub(crate) struct MessageSet {
    records: Vec<ConsumerRecord>,
    /// One C string per distinct topic, indexed by `topic_of`.
    topics: Vec<CString>,
    topic_of: Vec<usize>,
}

impl_handle!(eoslog_message_set => MessageSet, b"eos:MSGS");

/// One consumed record (Kafka's `ConsumerRecord`) with the transaction coordinates of its
/// batch. Pointers belong to the message set and stay valid until it is freed.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct eoslog_message {
    /// The topic, NUL-terminated.
    pub topic: *const c_char,
    /// The partition.
    pub partition: i32,
    /// The offset.
    pub offset: i64,
    /// The timestamp (ms).
    pub timestamp: i64,
    /// `EOSLOG_TIMESTAMP_CREATE_TIME` or `EOSLOG_TIMESTAMP_LOG_APPEND_TIME`.
    pub timestamp_type: eoslog_timestamp_type,
    /// The key, or NULL for null.
    pub key: *const u8,
    /// Length of `key`.
    pub key_len: usize,
    /// The value, or NULL for null.
    pub value: *const u8,
    /// Length of `value`.
    pub value_len: usize,
    /// Number of headers (`eoslog_message_set_get_header`).
    pub headers_len: usize,
    /// Producer id of the record's batch, -1 if written without idempotence. With
    /// `producer_epoch` and `sequence` it identifies the record for a sink that deduplicates.
    pub producer_id: i64,
    /// Producer epoch of the batch, -1 without idempotence.
    pub producer_epoch: i16,
    /// The record's sequence number, -1 without idempotence.
    pub sequence: i32,
    /// Whether the record was written in a (committed) transaction.
    pub is_transactional: bool,
}

/// Returns up to `max.poll.records` records from the assigned partitions, waiting up to
/// `timeout_ms` milliseconds for some to become readable, in a new message set that
/// `*out_messages` receives (the caller owns it; it may be empty). The isolation level is the
/// consumer's `isolation.level`: under read_committed only committed transactions' records
/// are returned, never aborted ones or markers.
///
/// Errors: `EOSLOG_RESULT_OFFSET_OUT_OF_RANGE` (invalid position and
/// `auto.offset.reset=none`), `EOSLOG_RESULT_KAFKA_STORAGE_ERROR`, `EOSLOG_RESULT_CLOSED`,
/// `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_poll(
    consumer: *const eoslog_consumer,
    timeout_ms: u32,
    out_messages: *mut *mut eoslog_message_set,
) -> eoslog_result {
    result_boundary(|| {
        let c = live(consumer)?;
        let out_messages = out(out_messages, "out_messages")?;
        let records = c.poll(Duration::from_millis(u64::from(timeout_ms)))?;
        let mut index: BTreeMap<&str, usize> = BTreeMap::new();
        let mut topics = Vec::new();
        let mut topic_of = Vec::with_capacity(records.len());
        for r in &records {
            let i = *index.entry(r.topic.as_str()).or_insert_with(|| {
                topics.push(to_cstring(&r.topic));
                topics.len() - 1
            });
            topic_of.push(i);
        }
        drop(index);
        out_messages.write(new_handle::<eoslog_message_set>(MessageSet { records, topics, topic_of }));
        Ok(())
    })
}

/// Number of messages in the set; 0 for NULL or an invalid handle (the last error says which).
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_message_set_len(messages: *const eoslog_message_set) -> usize {
    value_boundary(|| match try_ref(messages, "messages") {
        Ok(m) => m.records.len(),
        Err(e) => {
            set_last_error(e);
            0
        }
    })
}

fn message_at(m: &MessageSet, index: usize) -> FfiResult<&ConsumerRecord> {
    m.records.get(index).ok_or_else(|| index_error(index, m.records.len()))
}

/// Writes message number `index` to `*out_message`.
///
/// Errors: `EOSLOG_RESULT_INVALID_ARGUMENT` (index out of range),
/// `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_message_set_get(
    messages: *const eoslog_message_set,
    index: usize,
    out_message: *mut eoslog_message,
) -> eoslog_result {
    result_boundary(|| {
        let m = try_ref(messages, "messages")?;
        let out_message = out(out_message, "out_message")?;
        let r = message_at(m, index)?;
        let (key, key_len) = opt_slice_parts(r.key.as_deref());
        let (value, value_len) = opt_slice_parts(r.value.as_deref());
        out_message.write(eoslog_message {
            topic: m.topics[m.topic_of[index]].as_ptr(),
            partition: r.partition,
            offset: r.offset,
            timestamp: r.timestamp,
            timestamp_type: timestamp_type_code(r.timestamp_type),
            key,
            key_len,
            value,
            value_len,
            headers_len: r.headers.len(),
            producer_id: r.producer_id,
            producer_epoch: r.producer_epoch,
            sequence: r.sequence,
            is_transactional: r.is_transactional,
        });
        Ok(())
    })
}

/// Writes header `header_index` of message `index` to `*out_header`.
///
/// Errors: `EOSLOG_RESULT_INVALID_ARGUMENT` (an index out of range),
/// `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_message_set_get_header(
    messages: *const eoslog_message_set,
    index: usize,
    header_index: usize,
    out_header: *mut eoslog_header,
) -> eoslog_result {
    result_boundary(|| {
        let m = try_ref(messages, "messages")?;
        let out_header = out(out_header, "out_header")?;
        let r = message_at(m, index)?;
        let (k, v) = r.headers.get(header_index).ok_or_else(|| index_error(header_index, r.headers.len()))?;
        out_header.write(header_out(k, v.as_deref()));
        Ok(())
    })
}

/// Releases a message set; its pointers become invalid. NULL is accepted and does nothing.
/// Returns `EOSLOG_RESULT_INVALID_HANDLE` for a pointer that is not a live message set.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_message_set_free(messages: *mut eoslog_message_set) -> eoslog_result {
    result_boundary(|| free_handle(messages, "messages"))
}
