//! The idempotent and transactional producer (Rust's `client::Producer`).

use std::ffi::{CString, c_char};

use eoslog_core::client::{
    ConsumerGroupMetadata, DeliveryHandle, OffsetAndMetadata, Producer, ProducerConfig, ProducerRecord,
    RecordMetadata, TopicPartition,
};

use crate::batch::{eoslog_header, headers_in};
use crate::engine::{EngineRef, config_pairs, eoslog_config_pair, eoslog_engine};
use crate::ffi::{
    array, free_handle, impl_handle, new_handle, opt_bytes, opt_c_str, out, to_cstring, try_ref,
};
use crate::log::topic_name;
use crate::panic::{result_boundary, value_boundary};
use crate::result::{FfiError, FfiResult, eoslog_result, set_last_error};

/// An in-process Kafka producer: idempotent by default (per-partition sequences, so a retried
/// append is never written twice), transactional with a `transactional.id`.
///
/// Created by `eoslog_producer_new`, released by exactly one `eoslog_producer_free`.
/// Thread-safety: every function takes `const eoslog_producer *` and may be called from any
/// thread (calls are serialised inside, as with Kafka's `KafkaProducer`).
pub struct eoslog_producer {
    _private: [u8; 0],
}

pub(crate) struct ProducerHandle {
    engine: EngineRef,
    producer: Producer,
}

impl_handle!(eoslog_producer => ProducerHandle, b"eos:PROD");

/// A record to send (Kafka's `ProducerRecord`). Every pointer is read during the call only.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct eoslog_producer_record {
    /// The topic, NUL-terminated. Must not be NULL.
    pub topic: *const c_char,
    /// The partition, or -1 to let the partitioner choose (murmur2 of the key, sticky for
    /// null keys, as Kafka's default partitioner).
    pub partition: i32,
    /// CreateTime timestamp in ms, or -1 for the engine's clock at send.
    pub timestamp: i64,
    /// The key, or NULL (with `key_len == 0`) for null.
    pub key: *const u8,
    /// Length of `key`.
    pub key_len: usize,
    /// The value, or NULL (with `value_len == 0`) for null (a tombstone).
    pub value: *const u8,
    /// Length of `value`.
    pub value_len: usize,
    /// The headers, or NULL with `headers_len == 0`.
    pub headers: *const eoslog_header,
    /// Number of headers.
    pub headers_len: usize,
}

/// Where a sent record landed (Kafka's `RecordMetadata`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct eoslog_record_metadata {
    /// The partition.
    pub partition: i32,
    /// The record's offset.
    pub offset: i64,
    /// Its timestamp: the CreateTime one, or the log's clock on LogAppendTime topics.
    pub timestamp: i64,
}

impl From<RecordMetadata> for eoslog_record_metadata {
    fn from(m: RecordMetadata) -> Self {
        eoslog_record_metadata { partition: m.partition, offset: m.offset, timestamp: m.timestamp }
    }
}

fn record_in(r: *const eoslog_producer_record) -> FfiResult<ProducerRecord> {
    let r = try_record(r)?;
    let topic = topic_name(r.topic, "record.topic")?;
    if r.partition < -1 {
        return Err(FfiError::invalid(format!("record.partition {} must be -1 or a partition", r.partition)));
    }
    if r.timestamp < -1 {
        return Err(FfiError::invalid(format!(
            "record.timestamp {} must be -1 or a time in ms",
            r.timestamp
        )));
    }
    let key = opt_bytes(r.key, r.key_len, "record.key")?;
    let value = opt_bytes(r.value, r.value_len, "record.value")?;
    let headers = headers_in(r.headers, r.headers_len, "record.headers")?;
    Ok(ProducerRecord {
        topic: topic.to_string(),
        partition: (r.partition >= 0).then_some(r.partition),
        timestamp: (r.timestamp >= 0).then_some(r.timestamp),
        key: key.map(<[u8]>::to_vec),
        value: value.map(<[u8]>::to_vec),
        headers: headers.into_iter().map(|(k, v)| (k.to_string(), v.map(<[u8]>::to_vec))).collect(),
    })
}

fn try_record<'a>(r: *const eoslog_producer_record) -> FfiResult<&'a eoslog_producer_record> {
    Ok(&array(r, 1, "record")?[0])
}

fn live<'a>(producer: *const eoslog_producer) -> FfiResult<&'a Producer> {
    let p = try_ref(producer, "producer")?;
    p.engine.check_open()?;
    Ok(&p.producer)
}

/// Creates a producer on `engine`, configured by `config_len` Kafka producer settings
/// (`transactional.id`, `enable.idempotence`, `linger.ms`, `batch.size`, `compression.type`,
/// `transaction.timeout.ms`, `transaction.version`, `acks`, ...; NULL with 0 for the
/// defaults). An idempotent producer gets its producer id here; a transactional one from
/// `eoslog_producer_init_transactions`. `*out_producer` receives the producer (the caller owns
/// it).
///
/// Errors: `EOSLOG_RESULT_INVALID_CONFIG`, `EOSLOG_RESULT_CLOSED`, and the usual argument and
/// handle errors. Thread-safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_producer_new(
    engine: *const eoslog_engine,
    config: *const eoslog_config_pair,
    config_len: usize,
    out_producer: *mut *mut eoslog_producer,
) -> eoslog_result {
    result_boundary(|| {
        let h = try_ref(engine, "engine")?;
        let pairs = config_pairs(config, config_len, "config")?;
        let out_producer = out(out_producer, "out_producer")?;
        let config = ProducerConfig::from_pairs(&pairs)?;
        let producer = Producer::new(h.engine.get()?, config)?;
        out_producer.write(new_handle(ProducerHandle { engine: h.engine.clone(), producer }));
        Ok(())
    })
}

/// Closes the producer if needed (aborting an open transaction, as Kafka's producer does on a
/// graceful close) and releases it. NULL is accepted and does nothing. Returns
/// `EOSLOG_RESULT_INVALID_HANDLE` for a pointer that is not a live producer.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_producer_free(producer: *mut eoslog_producer) -> eoslog_result {
    result_boundary(|| free_handle(producer, "producer"))
}

/// Flushes pending records, aborts an open transaction and stops the producer; later calls
/// fail with `EOSLOG_RESULT_INVALID_REQUEST`. Closing twice is fine. The handle must still be
/// freed.
///
/// Errors: those of the implicit flush or abort, `EOSLOG_RESULT_CLOSED` (engine closed),
/// `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_producer_close(producer: *const eoslog_producer) -> eoslog_result {
    result_boundary(|| {
        live(producer)?.close()?;
        Ok(())
    })
}

/// Writes the producer id and epoch in use to `*out_producer_id` / `*out_epoch`; both -1
/// before `eoslog_producer_init_transactions` or without idempotence.
///
/// Errors: `EOSLOG_RESULT_CLOSED`, `EOSLOG_RESULT_NULL_PARAMETER`,
/// `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_producer_get_id(
    producer: *const eoslog_producer,
    out_producer_id: *mut i64,
    out_epoch: *mut i16,
) -> eoslog_result {
    result_boundary(|| {
        let p = live(producer)?;
        let out_id = out(out_producer_id, "out_producer_id")?;
        let out_epoch = out(out_epoch, "out_epoch")?;
        let (id, epoch) = p.producer_id_and_epoch().map_or((-1, -1), |pe| (pe.producer_id, pe.epoch));
        out_id.write(id);
        out_epoch.write(epoch);
        Ok(())
    })
}

/// Sends a record: it joins its partition's batch and is appended within `linger.ms` (or at a
/// flush or commit). With `out_delivery` non-NULL, `*out_delivery` receives a delivery handle
/// (the caller owns it: `eoslog_delivery_free`) that tells where the record landed; pass NULL
/// when the outcome is checked by `eoslog_producer_flush` or the transaction's commit.
/// A transactional producer must be inside a transaction.
///
/// Errors: `EOSLOG_RESULT_INVALID_TXN_STATE` (no transaction open),
/// `EOSLOG_RESULT_UNKNOWN_TOPIC_OR_PARTITION`, `EOSLOG_RESULT_MESSAGE_TOO_LARGE`,
/// `EOSLOG_RESULT_INVALID_TOPIC_EXCEPTION`, `EOSLOG_RESULT_PRODUCER_FENCED` and other fatal
/// errors of the producer, `EOSLOG_RESULT_CLOSED`, and the usual argument and handle errors.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_producer_send(
    producer: *const eoslog_producer,
    record: *const eoslog_producer_record,
    out_delivery: *mut *mut eoslog_delivery,
) -> eoslog_result {
    result_boundary(|| {
        let p = live(producer)?;
        let record = record_in(record)?;
        let out_delivery =
            if out_delivery.is_null() { None } else { Some(out(out_delivery, "out_delivery")?) };
        let handle = p.send(record)?;
        if let Some(o) = out_delivery {
            o.write(new_handle::<eoslog_delivery>(handle));
        }
        Ok(())
    })
}

/// Sends a record and waits until it is in the log (flushing everything pending). With
/// `out_metadata` non-NULL, `*out_metadata` receives where it landed.
///
/// Errors: those of `eoslog_producer_send`, plus the append's own errors.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_producer_send_sync(
    producer: *const eoslog_producer,
    record: *const eoslog_producer_record,
    out_metadata: *mut eoslog_record_metadata,
) -> eoslog_result {
    result_boundary(|| {
        let p = live(producer)?;
        let record = record_in(record)?;
        let out_metadata =
            if out_metadata.is_null() { None } else { Some(out(out_metadata, "out_metadata")?) };
        let md = p.send_sync(record)?;
        if let Some(o) = out_metadata {
            o.write(md.into());
        }
        Ok(())
    })
}

/// Appends every record sent so far and waits until each is settled; returns the first error
/// among them (each record's own outcome is in its delivery handle).
///
/// Errors: the appends' errors, `EOSLOG_RESULT_CLOSED`, `EOSLOG_RESULT_NULL_PARAMETER`,
/// `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_producer_flush(producer: *const eoslog_producer) -> eoslog_result {
    result_boundary(|| {
        live(producer)?.flush()?;
        Ok(())
    })
}

/// Initialises a transactional producer (Kafka's `initTransactions`): registers its
/// `transactional.id` and bumps the epoch, which fences every earlier producer with the same
/// id (their next call fails with `EOSLOG_RESULT_PRODUCER_FENCED` or
/// `EOSLOG_RESULT_INVALID_PRODUCER_EPOCH`); a transaction such a producer left open is aborted
/// first.
///
/// Errors: `EOSLOG_RESULT_INVALID_TXN_STATE` (not transactional, or already initialised),
/// coordinator errors, `EOSLOG_RESULT_CLOSED`, `EOSLOG_RESULT_NULL_PARAMETER`,
/// `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_producer_init_transactions(producer: *const eoslog_producer) -> eoslog_result {
    result_boundary(|| {
        live(producer)?.init_transactions()?;
        Ok(())
    })
}

/// Starts a transaction (Kafka's `beginTransaction`).
///
/// Errors: `EOSLOG_RESULT_INVALID_TXN_STATE`, `EOSLOG_RESULT_PRODUCER_FENCED`,
/// `EOSLOG_RESULT_CLOSED`, `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_producer_begin_transaction(producer: *const eoslog_producer) -> eoslog_result {
    result_boundary(|| {
        live(producer)?.begin_transaction()?;
        Ok(())
    })
}

/// Commits the transaction (Kafka's `commitTransaction`): appends every pending record, then
/// ends the transaction with the coordinator; on `EOSLOG_RESULT_OK` its records and offsets are
/// visible to read_committed readers. If a record of the transaction failed this returns
/// `EOSLOG_RESULT_TRANSACTION_ABORTABLE` and the transaction must be aborted.
///
/// Errors besides: `EOSLOG_RESULT_INVALID_TXN_STATE`, `EOSLOG_RESULT_PRODUCER_FENCED`,
/// `EOSLOG_RESULT_CLOSED`, `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_producer_commit_transaction(producer: *const eoslog_producer) -> eoslog_result {
    result_boundary(|| {
        live(producer)?.commit_transaction()?;
        Ok(())
    })
}

/// Aborts the transaction (Kafka's `abortTransaction`): pending records are dropped and ABORT
/// markers make read_committed readers skip what was appended; offsets sent to the
/// transaction are discarded.
///
/// Errors: `EOSLOG_RESULT_INVALID_TXN_STATE`, `EOSLOG_RESULT_PRODUCER_FENCED`,
/// `EOSLOG_RESULT_CLOSED`, `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_producer_abort_transaction(producer: *const eoslog_producer) -> eoslog_result {
    result_boundary(|| {
        live(producer)?.abort_transaction()?;
        Ok(())
    })
}

/// A topic, a partition and an offset (with optional metadata): an entry of an offset commit.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct eoslog_topic_partition_offset {
    /// The topic, NUL-terminated. Must not be NULL.
    pub topic: *const c_char,
    /// The partition.
    pub partition: i32,
    /// The next offset to consume (Kafka commits the position, not the last record).
    pub offset: i64,
    /// Free-form metadata (NUL-terminated), or NULL for none.
    pub metadata: *const c_char,
}

/// Reads an offset list from C.
pub(crate) fn offsets_in(
    offsets: *const eoslog_topic_partition_offset,
    len: usize,
) -> FfiResult<Vec<(TopicPartition, OffsetAndMetadata)>> {
    array(offsets, len, "offsets")?
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let topic = topic_name(o.topic, &format!("offsets[{i}].topic"))?;
            if o.offset < 0 {
                return Err(FfiError::invalid(format!("offsets[{i}].offset {} is negative", o.offset)));
            }
            let mut om = OffsetAndMetadata::new(o.offset);
            if let Some(m) = opt_c_str(o.metadata, &format!("offsets[{i}].metadata"))? {
                om.metadata = m.to_string();
            }
            Ok((TopicPartition::new(topic, o.partition), om))
        })
        .collect()
}

/// Adds consumer positions to the transaction (Kafka's `sendOffsetsToTransaction`): they become
/// the group's committed offsets if and only if the transaction commits. `offsets` holds
/// `offsets_len` entries (the next offsets to consume); `group` identifies the consumer group:
///
/// - `eoslog_consumer_group_metadata` of a subscribed consumer, taken after the poll whose
///   records the transaction holds: the group coordinator checks its member id and generation
///   (KIP-447), so a consumer that lost its partitions in a rebalance since -- a zombie --
///   cannot commit them: `EOSLOG_RESULT_ILLEGAL_GENERATION` (a newer generation),
///   `EOSLOG_RESULT_UNKNOWN_MEMBER_ID` (expelled) or `EOSLOG_RESULT_FENCED_INSTANCE_ID` (a
///   newer static instance). The transaction can then only be aborted
///   (`eoslog_producer_commit_transaction` returns `EOSLOG_RESULT_TRANSACTION_ABORTABLE`); the
///   producer is not fenced and goes on with the next transaction.
/// - `eoslog_group_metadata_new(group_id)` (or the metadata of a consumer using
///   `eoslog_consumer_assign`): the group id only, generation -1. **Not fenced** by
///   generation: only the producer's epoch (its `transactional.id`) keeps zombies out, so use
///   it with partitions assigned by hand, one transactional id per input partition set.
///
/// Errors besides: `EOSLOG_RESULT_INVALID_TXN_STATE` (no transaction open),
/// `EOSLOG_RESULT_PRODUCER_FENCED`, `EOSLOG_RESULT_INVALID_GROUP_ID`, `EOSLOG_RESULT_CLOSED`,
/// and the usual argument and handle errors. Thread-safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_producer_send_offsets_to_transaction(
    producer: *const eoslog_producer,
    offsets: *const eoslog_topic_partition_offset,
    offsets_len: usize,
    group: *const eoslog_group_metadata,
) -> eoslog_result {
    result_boundary(|| {
        let p = live(producer)?;
        let offsets = offsets_in(offsets, offsets_len)?;
        let group = try_ref(group, "group")?;
        p.send_offsets_to_transaction(&offsets, &group.metadata)?;
        Ok(())
    })
}

/// The pending result of one `eoslog_producer_send` (Kafka's `Future<RecordMetadata>`).
///
/// Released by exactly one `eoslog_delivery_free` (before or after the record settles).
/// Thread-safety: any thread; `eoslog_delivery_wait` may be called from several at once.
pub struct eoslog_delivery {
    _private: [u8; 0],
}

impl_handle!(eoslog_delivery => DeliveryHandle, b"eos:DLVR");

/// Blocks until the record is in the log (or failed) and writes where it landed to
/// `*out_metadata`. Records are appended after at most `linger.ms`, or sooner at a flush or
/// commit.
///
/// Errors: the record's append error (`EOSLOG_RESULT_TRANSACTION_ABORTABLE` if its transaction
/// was aborted before it was sent, ...), `EOSLOG_RESULT_NULL_PARAMETER`,
/// `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_delivery_wait(
    delivery: *const eoslog_delivery,
    out_metadata: *mut eoslog_record_metadata,
) -> eoslog_result {
    result_boundary(|| {
        let d = try_ref(delivery, "delivery")?;
        let out_metadata = out(out_metadata, "out_metadata")?;
        out_metadata.write(d.wait()?.into());
        Ok(())
    })
}

/// Whether the record is settled (in the log or failed); false for NULL or an invalid handle.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_delivery_is_done(delivery: *const eoslog_delivery) -> bool {
    value_boundary(|| match try_ref(delivery, "delivery") {
        Ok(d) => d.is_done(),
        Err(e) => {
            set_last_error(e);
            false
        }
    })
}

/// Releases a delivery handle (the record is sent regardless). NULL is accepted and does
/// nothing. Returns `EOSLOG_RESULT_INVALID_HANDLE` for a pointer that is not a live delivery.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_delivery_free(delivery: *mut eoslog_delivery) -> eoslog_result {
    result_boundary(|| free_handle(delivery, "delivery"))
}

/// A consumer's group identity (Kafka's `ConsumerGroupMetadata`: group id, generation, member
/// id, `group.instance.id`): what `eoslog_producer_send_offsets_to_transaction` needs to fence a
/// consumer that lost its partitions in a rebalance (KIP-447). A snapshot: it does not change
/// when the consumer's generation does.
///
/// Created by `eoslog_consumer_group_metadata` or `eoslog_group_metadata_new`; released by
/// exactly one `eoslog_group_metadata_free`. Thread-safety: immutable; any thread.
pub struct eoslog_group_metadata {
    _private: [u8; 0],
}

pub(crate) struct GroupMetadataHandle {
    pub(crate) metadata: ConsumerGroupMetadata,
    group_id: CString,
    member_id: CString,
    group_instance_id: Option<CString>,
}

impl GroupMetadataHandle {
    pub(crate) fn new(metadata: ConsumerGroupMetadata) -> Self {
        GroupMetadataHandle {
            group_id: to_cstring(&metadata.group_id),
            member_id: to_cstring(&metadata.member_id),
            group_instance_id: metadata.group_instance_id.as_deref().map(to_cstring),
            metadata,
        }
    }
}

impl_handle!(eoslog_group_metadata => GroupMetadataHandle, b"eos:GRPM");

/// The fields of a `eoslog_group_metadata`; the strings belong to it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct eoslog_group_metadata_info {
    /// The group id, NUL-terminated.
    pub group_id: *const c_char,
    /// Generation of the member's assignment (-1 without group membership).
    pub generation_id: i32,
    /// The member id, NUL-terminated (empty without group membership).
    pub member_id: *const c_char,
    /// `group.instance.id` of a static member, or NULL.
    pub group_instance_id: *const c_char,
}

/// Creates group metadata for group `group_id` without membership (generation -1, Kafka's
/// `new ConsumerGroupMetadata(groupId)`): for a copier whose partitions are assigned by hand.
/// `*out_group` receives it (the caller owns it). Offsets sent with it are **not fenced** by
/// generation (see `eoslog_producer_send_offsets_to_transaction`); a subscribed consumer's
/// transactions use `eoslog_consumer_group_metadata` instead.
///
/// Errors: `EOSLOG_RESULT_INVALID_ARGUMENT` (empty id), `EOSLOG_RESULT_NULL_PARAMETER`,
/// `EOSLOG_RESULT_INVALID_UTF8`, `EOSLOG_RESULT_LENGTH_TOO_LARGE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_group_metadata_new(
    group_id: *const c_char,
    out_group: *mut *mut eoslog_group_metadata,
) -> eoslog_result {
    result_boundary(|| {
        let id = crate::ffi::c_str(group_id, "group_id")?;
        let out_group = out(out_group, "out_group")?;
        if id.is_empty() {
            return Err(FfiError::invalid("group_id is empty"));
        }
        out_group.write(new_handle::<eoslog_group_metadata>(GroupMetadataHandle::new(
            ConsumerGroupMetadata::new(id),
        )));
        Ok(())
    })
}

/// Writes the group metadata's fields to `*out_info`.
///
/// Errors: `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_group_metadata_get_info(
    group: *const eoslog_group_metadata,
    out_info: *mut eoslog_group_metadata_info,
) -> eoslog_result {
    result_boundary(|| {
        let g = try_ref(group, "group")?;
        let out_info = out(out_info, "out_info")?;
        out_info.write(eoslog_group_metadata_info {
            group_id: g.group_id.as_ptr(),
            generation_id: g.metadata.generation_id,
            member_id: g.member_id.as_ptr(),
            group_instance_id: crate::ffi::opt_ptr(&g.group_instance_id),
        });
        Ok(())
    })
}

/// Releases group metadata. NULL is accepted and does nothing. Returns
/// `EOSLOG_RESULT_INVALID_HANDLE` for a pointer that is not live group metadata.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_group_metadata_free(group: *mut eoslog_group_metadata) -> eoslog_result {
    result_boundary(|| free_handle(group, "group"))
}
