//! `__transaction_state` records, byte-compatible with Kafka's `TransactionLog`
//! (`TransactionLogKey.json` / `TransactionLogValue.json`).
//!
//! # Layout (all integers big-endian)
//! Key, version 0 (the only one): `version i16 = 0`, `TransactionalId STRING` (i16 length +
//! UTF-8).
//!
//! Value, a version i16 followed by the fields:
//! - `ProducerId i64`, `ProducerEpoch i16`, `TransactionTimeoutMs i32`, `TransactionStatus i8`,
//! - `TransactionPartitions`: nullable array of `{Topic string, PartitionIds [i32]}`, null when
//!   the state is `Empty`,
//! - `TransactionLastUpdateTimestampMs i64`, `TransactionStartTimestampMs i64`.
//!
//! Version 0 is non-flexible: i16 string lengths, i32 array lengths (−1 = null). Version 1 is
//! flexible: compact strings and arrays (unsigned varint length + 1, 0 = null) and a tagged-field
//! section at the end of every struct. The value's tagged fields are `0 PreviousProducerId i64`
//! (default −1), `1 NextProducerId i64` (default −1), `2 ClientTransactionVersion i16` (default
//! 0) and, since KIP-939, `3 NextProducerEpoch i16` (default −1); a field is written only when
//! it differs from its default. Unknown tags are skipped when reading.
//!
//! Kafka writes version 1 when the cluster's `transaction.version` feature level is ≥ 1, else
//! version 0 ([`TransactionVersion::transaction_log_value_version`]). A null value (tombstone)
//! removes an expired transactional id.
//!
//! # Strictness
//! Decoding never trusts a length: every read is bounds-checked, nothing is allocated before the
//! bytes backing it are known to be present, strings must be UTF-8, and trailing bytes after the
//! last field are rejected (Kafka never writes them; they can only be corruption). Errors are
//! [`RecordFormatError`], which converts into [`crate::error::Error`].

use std::collections::BTreeSet;

use super::metadata::{NO_PRODUCER_EPOCH, NO_PRODUCER_ID, TxnTopicPartition, TxnTransitMetadata};
use super::pid_block::{self, ProducerIdBlock};
use super::state::{TransactionState, TransactionVersion};
use crate::error::{Error, ErrorCode};

/// The only transaction log key version (also Kafka's coordinator record type id of
/// `TransactionLogKey`).
pub const TXN_LOG_KEY_VERSION: i16 = 0;
/// The highest `TransactionLogValue` version known.
pub const TXN_LOG_VALUE_MAX_VERSION: i16 = 1;

/// A coordinator record (`__transaction_state` or `__consumer_offsets`) that cannot be encoded or
/// decoded.
///
/// Decoding errors mean the stored bytes are damaged or were written by something that does not
/// follow Kafka's schema; they convert to `CORRUPT_MESSAGE`, except an unknown version, which
/// converts to `UNSUPPORTED_VERSION` so that a loader can decide to skip the record (Kafka's
/// `UnknownValueVersion`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordFormatError {
    /// The bytes end before a field does.
    #[error("{record}: truncated at byte {offset}: {needed} bytes needed, {available} available")]
    Truncated {
        /// Which record was being read (`TransactionLogValue`, ...).
        record: &'static str,
        /// Byte offset of the field.
        offset: usize,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// The version prefix is not one this schema defines.
    #[error("{record}: unsupported version {version}")]
    UnsupportedVersion {
        /// Which record.
        record: &'static str,
        /// The version found.
        version: i16,
    },
    /// A field has an impossible value (negative length, bad UTF-8, unknown state id, ...).
    #[error("{record}: malformed at byte {offset}: {detail}")]
    Malformed {
        /// Which record.
        record: &'static str,
        /// Byte offset where the problem was found.
        offset: usize,
        /// What is wrong.
        detail: String,
    },
    /// The value cannot be represented in the requested version (a string over 32767 bytes, a
    /// non-default tagged field in a non-flexible version, partitions in an `Empty` state, ...).
    #[error("{record}: cannot encode: {detail}")]
    Unencodable {
        /// Which record.
        record: &'static str,
        /// Why.
        detail: String,
    },
}

impl RecordFormatError {
    /// The Kafka error code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            RecordFormatError::Truncated { .. } | RecordFormatError::Malformed { .. } => {
                ErrorCode::CorruptMessage
            }
            RecordFormatError::UnsupportedVersion { .. } => ErrorCode::UnsupportedVersion,
            // Kafka fails the same way (an exception while serialising): a server-side bug.
            RecordFormatError::Unencodable { .. } => ErrorCode::UnknownServerError,
        }
    }
}

impl From<RecordFormatError> for Error {
    fn from(e: RecordFormatError) -> Self {
        Error::kafka(e.code(), e.to_string())
    }
}

use crate::wire::{Reader, Writer};

const KEY: &str = "TransactionLogKey";
const VALUE: &str = "TransactionLogValue";

/// One topic's partitions in a `TransactionLogValue` (`PartitionsSchema`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnLogPartitions {
    /// Topic.
    pub topic: String,
    /// Partition indexes.
    pub partition_ids: Vec<i32>,
}

/// A decoded `TransactionLogValue`: the durable state of one transactional id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnLogValue {
    /// `ProducerId`.
    pub producer_id: i64,
    /// `PreviousProducerId` (tag 0, version 1+), −1 if absent.
    pub previous_producer_id: i64,
    /// `NextProducerId` (tag 1, version 1+), −1 if absent.
    pub next_producer_id: i64,
    /// `ProducerEpoch`.
    pub producer_epoch: i16,
    /// `NextProducerEpoch` (tag 3, version 1+, KIP-939 two-phase commit), −1 if absent. eoslog
    /// does not implement KIP-939 and never sets it; it is decoded so that nothing is lost.
    pub next_producer_epoch: i16,
    /// `TransactionTimeoutMs`.
    pub transaction_timeout_ms: i32,
    /// `TransactionStatus`.
    pub transaction_status: TransactionState,
    /// `TransactionPartitions`; `None` (null) in the `Empty` state.
    pub transaction_partitions: Option<Vec<TxnLogPartitions>>,
    /// `TransactionLastUpdateTimestampMs`.
    pub transaction_last_update_timestamp_ms: i64,
    /// `TransactionStartTimestampMs`.
    pub transaction_start_timestamp_ms: i64,
    /// `ClientTransactionVersion` (tag 2, version 1+), 0 if absent.
    pub client_transaction_version: TransactionVersion,
}

impl TxnLogValue {
    /// The value Kafka's `TransactionLog.valueToBytes(txnMetadata, transactionVersionLevel)`
    /// writes for `transit` at feature level `level`.
    ///
    /// Partitions are null in `Empty` (and an `Empty` transit with partitions is refused, as in
    /// Kafka), grouped by topic otherwise. The previous / next producer ids are only carried
    /// from level 1 on (version 0 cannot hold them). The last producer epoch is never
    /// persisted.
    pub fn from_transit(
        transit: &TxnTransitMetadata,
        level: TransactionVersion,
    ) -> Result<Self, RecordFormatError> {
        if transit.txn_state == TransactionState::Empty && !transit.topic_partitions.is_empty() {
            return Err(RecordFormatError::Unencodable {
                record: VALUE,
                detail: format!("state Empty with {} partitions", transit.topic_partitions.len()),
            });
        }
        let transaction_partitions =
            (transit.txn_state != TransactionState::Empty).then(|| group_by_topic(&transit.topic_partitions));
        let flexible = level.transaction_log_value_version() >= 1;
        Ok(TxnLogValue {
            producer_id: transit.producer_id,
            previous_producer_id: if flexible { transit.previous_producer_id } else { NO_PRODUCER_ID },
            next_producer_id: if flexible { transit.next_producer_id } else { NO_PRODUCER_ID },
            producer_epoch: transit.producer_epoch,
            next_producer_epoch: NO_PRODUCER_EPOCH,
            transaction_timeout_ms: transit.txn_timeout_ms,
            transaction_status: transit.txn_state,
            transaction_partitions,
            transaction_last_update_timestamp_ms: transit.txn_last_update_timestamp,
            transaction_start_timestamp_ms: transit.txn_start_timestamp,
            client_transaction_version: transit.client_transaction_version,
        })
    }

    /// The metadata value this record restores (Kafka's `TransactionLog.read`): partitions are
    /// ignored in `Empty`, and the last producer epoch, which is not persisted, is −1.
    pub fn to_transit(&self) -> TxnTransitMetadata {
        let mut topic_partitions = BTreeSet::new();
        if self.transaction_status != TransactionState::Empty {
            for p in self.transaction_partitions.iter().flatten() {
                topic_partitions
                    .extend(p.partition_ids.iter().map(|&id| TxnTopicPartition::new(p.topic.clone(), id)));
            }
        }
        TxnTransitMetadata {
            producer_id: self.producer_id,
            previous_producer_id: self.previous_producer_id,
            next_producer_id: self.next_producer_id,
            producer_epoch: self.producer_epoch,
            last_producer_epoch: NO_PRODUCER_EPOCH,
            txn_timeout_ms: self.transaction_timeout_ms,
            txn_state: self.transaction_status,
            topic_partitions,
            txn_start_timestamp: self.transaction_start_timestamp_ms,
            txn_last_update_timestamp: self.transaction_last_update_timestamp_ms,
            client_transaction_version: self.client_transaction_version,
        }
    }

    /// Encodes the value at `version` (0 or 1), version prefix included.
    ///
    /// Version 0 has no tagged fields: like Kafka's generated writer, it refuses to drop a
    /// tagged field that differs from its default.
    pub fn encode(&self, version: i16) -> Result<Vec<u8>, RecordFormatError> {
        if !(0..=TXN_LOG_VALUE_MAX_VERSION).contains(&version) {
            return Err(RecordFormatError::UnsupportedVersion { record: VALUE, version });
        }
        let flexible = version >= 1;
        let mut w = Writer::new(VALUE);
        w.i16(version);
        w.i64(self.producer_id);
        w.i16(self.producer_epoch);
        w.i32(self.transaction_timeout_ms);
        w.i8(self.transaction_status.id());
        match &self.transaction_partitions {
            None => w.array_len(None, flexible)?,
            Some(parts) => {
                w.array_len(Some(parts.len()), flexible)?;
                for p in parts {
                    w.string(&p.topic, flexible)?;
                    w.array_len(Some(p.partition_ids.len()), flexible)?;
                    for &id in &p.partition_ids {
                        w.i32(id);
                    }
                    if flexible {
                        w.tagged_fields(&[]);
                    }
                }
            }
        }
        w.i64(self.transaction_last_update_timestamp_ms);
        w.i64(self.transaction_start_timestamp_ms);
        let mut tagged: Vec<(u32, Vec<u8>)> = Vec::new();
        if self.previous_producer_id != NO_PRODUCER_ID {
            tagged.push((0, self.previous_producer_id.to_be_bytes().to_vec()));
        }
        if self.next_producer_id != NO_PRODUCER_ID {
            tagged.push((1, self.next_producer_id.to_be_bytes().to_vec()));
        }
        if self.client_transaction_version != TransactionVersion::Tv0 {
            tagged.push((2, self.client_transaction_version.level().to_be_bytes().to_vec()));
        }
        if self.next_producer_epoch != NO_PRODUCER_EPOCH {
            tagged.push((3, self.next_producer_epoch.to_be_bytes().to_vec()));
        }
        if flexible {
            w.tagged_fields(&tagged);
        } else if let Some((tag, _)) = tagged.first() {
            return Err(w.unencodable(format!("tagged field {tag} has a non-default value at version 0")));
        }
        Ok(w.finish())
    }
}

fn group_by_topic(tps: &BTreeSet<TxnTopicPartition>) -> Vec<TxnLogPartitions> {
    let mut out: Vec<TxnLogPartitions> = Vec::new();
    // The set is ordered by (topic, partition), so each topic's partitions are contiguous.
    for tp in tps {
        match out.last_mut() {
            Some(last) if last.topic == tp.topic => last.partition_ids.push(tp.partition),
            _ => out.push(TxnLogPartitions { topic: tp.topic.clone(), partition_ids: vec![tp.partition] }),
        }
    }
    out
}

/// Encodes a transaction log key: version 0 + the transactional id as a `STRING`. Fails only
/// for an id longer than 32767 bytes.
pub fn encode_key(transactional_id: &str) -> Result<Vec<u8>, RecordFormatError> {
    let mut w = Writer::new(KEY);
    w.i16(TXN_LOG_KEY_VERSION);
    w.string(transactional_id, false)?;
    Ok(w.finish())
}

/// Decodes a transaction log key into its transactional id. Any version other than 0 is
/// [`RecordFormatError::UnsupportedVersion`] (see [`read_record`] for keys of other kinds).
pub fn decode_key(key: &[u8]) -> Result<String, RecordFormatError> {
    let mut r = Reader::new(key, KEY);
    let version = r.i16()?;
    if version != TXN_LOG_KEY_VERSION {
        return Err(RecordFormatError::UnsupportedVersion { record: KEY, version });
    }
    let id = r.string(false, "TransactionalId")?;
    r.finish()?;
    Ok(id)
}

/// Encodes the value for `transit` as Kafka does at feature level `level`: version 1 when
/// `level` ≥ 1, else version 0 (Kafka's `TransactionLog.valueToBytes`).
///
/// Fails for an `Empty` transit with partitions, for strings over 32767 bytes, and at level 0
/// for a client transaction version other than 0 (which version 0 cannot record).
pub fn encode_value(
    transit: &TxnTransitMetadata,
    level: TransactionVersion,
) -> Result<Vec<u8>, RecordFormatError> {
    TxnLogValue::from_transit(transit, level)?.encode(level.transaction_log_value_version())
}

/// Decodes a (non-null) transaction log value.
///
/// A version other than 0 / 1 is [`RecordFormatError::UnsupportedVersion`]; an unknown
/// `TransactionStatus` or `ClientTransactionVersion` is malformed (Kafka fails the load on
/// both). Null values (tombstones) never reach this function: see [`read_record`].
pub fn decode_value(value: &[u8]) -> Result<TxnLogValue, RecordFormatError> {
    let mut r = Reader::new(value, VALUE);
    let version = r.i16()?;
    if !(0..=TXN_LOG_VALUE_MAX_VERSION).contains(&version) {
        return Err(RecordFormatError::UnsupportedVersion { record: VALUE, version });
    }
    let flexible = version >= 1;
    let producer_id = r.i64()?;
    let producer_epoch = r.i16()?;
    let transaction_timeout_ms = r.i32()?;
    let status = r.i8()?;
    let transaction_status = TransactionState::from_id(status)
        .ok_or_else(|| r.malformed(format!("unknown transaction status {status}")))?;
    // A partition entry is at least a (compact) string length, an array length and, when
    // flexible, a tagged-field count.
    let min_entry = if flexible { 3 } else { 6 };
    let transaction_partitions = match r.array_len(flexible, min_entry, "TransactionPartitions")? {
        None => None,
        Some(n) => {
            let mut parts = Vec::with_capacity(n);
            for _ in 0..n {
                let topic = r.string(flexible, "Topic")?;
                let count = r
                    .array_len(flexible, 4, "PartitionIds")?
                    .ok_or_else(|| r.malformed("non-nullable array PartitionIds is null"))?;
                let mut partition_ids = Vec::with_capacity(count);
                for _ in 0..count {
                    partition_ids.push(r.i32()?);
                }
                if flexible {
                    r.tagged_fields(|_, _| Ok(false))?;
                }
                parts.push(TxnLogPartitions { topic, partition_ids });
            }
            Some(parts)
        }
    };
    let transaction_last_update_timestamp_ms = r.i64()?;
    let transaction_start_timestamp_ms = r.i64()?;
    let mut previous_producer_id = NO_PRODUCER_ID;
    let mut next_producer_id = NO_PRODUCER_ID;
    let mut next_producer_epoch = NO_PRODUCER_EPOCH;
    let mut client_level: i16 = 0;
    if flexible {
        r.tagged_fields(|tag, f| {
            match tag {
                0 => previous_producer_id = f.i64()?,
                1 => next_producer_id = f.i64()?,
                2 => client_level = f.i16()?,
                3 => next_producer_epoch = f.i16()?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
    }
    let client_transaction_version = TransactionVersion::from_level(client_level)
        .ok_or_else(|| r.malformed(format!("unknown client transaction version {client_level}")))?;
    r.finish()?;
    Ok(TxnLogValue {
        producer_id,
        previous_producer_id,
        next_producer_id,
        producer_epoch,
        next_producer_epoch,
        transaction_timeout_ms,
        transaction_status,
        transaction_partitions,
        transaction_last_update_timestamp_ms,
        transaction_start_timestamp_ms,
        client_transaction_version,
    })
}

/// One `__transaction_state` record, classified (Kafka's `TransactionLog.ReadResult`, plus
/// eoslog's producer-id block record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnLogRecord {
    /// The state of a transactional id.
    Transaction {
        /// Transactional id.
        transactional_id: String,
        /// Its state.
        value: TxnLogValue,
    },
    /// A tombstone: the transactional id expired and is removed.
    Tombstone {
        /// Transactional id.
        transactional_id: String,
    },
    /// eoslog's producer-id block high-water mark ([`super::pid_block`]).
    ProducerIdBlock(ProducerIdBlock),
    /// A key version neither Kafka nor eoslog defines; Kafka's loader skips these (KIP-915).
    UnknownKeyVersion(i16),
    /// A transaction record whose value version is unknown (written by a newer Kafka).
    UnknownValueVersion {
        /// Transactional id.
        transactional_id: String,
        /// The value version found.
        version: i16,
    },
}

/// Classifies and decodes a `__transaction_state` record; `value` is `None` for a null value.
///
/// Errors are returned for damaged bytes only: unknown key or value versions are reported as
/// records so the loader can skip them, as Kafka's does.
pub fn read_record(key: &[u8], value: Option<&[u8]>) -> Result<TxnLogRecord, RecordFormatError> {
    let mut r = Reader::new(key, KEY);
    let key_version = r.i16()?;
    if key_version == pid_block::PRODUCER_ID_BLOCK_KEY_VERSION {
        pid_block::decode_pid_block_key(key)?;
        let value = value.ok_or_else(|| RecordFormatError::Malformed {
            record: pid_block::BLOCK_VALUE,
            offset: 0,
            detail: "producer-id block records are never deleted, but this one has a null value".into(),
        })?;
        return pid_block::decode_pid_block_value(value).map(TxnLogRecord::ProducerIdBlock);
    }
    if key_version != TXN_LOG_KEY_VERSION {
        return Ok(TxnLogRecord::UnknownKeyVersion(key_version));
    }
    let transactional_id = decode_key(key)?;
    let Some(value) = value else {
        return Ok(TxnLogRecord::Tombstone { transactional_id });
    };
    match decode_value(value) {
        Ok(value) => Ok(TxnLogRecord::Transaction { transactional_id, value }),
        Err(RecordFormatError::UnsupportedVersion { version, .. }) => {
            Ok(TxnLogRecord::UnknownValueVersion { transactional_id, version })
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tp(t: &str, p: i32) -> TxnTopicPartition {
        TxnTopicPartition::new(t, p)
    }

    /// Ongoing, producer 1000 epoch 5, timeout 60 s, partitions t-0, t-1, u-7, updated at 2000,
    /// started at 1500.
    fn ongoing(tv: TransactionVersion) -> TxnTransitMetadata {
        TxnTransitMetadata {
            producer_id: 1000,
            previous_producer_id: 999,
            next_producer_id: NO_PRODUCER_ID,
            producer_epoch: 5,
            last_producer_epoch: 4,
            txn_timeout_ms: 60_000,
            txn_state: TransactionState::Ongoing,
            topic_partitions: [tp("t", 0), tp("t", 1), tp("u", 7)].into(),
            txn_start_timestamp: 1500,
            txn_last_update_timestamp: 2000,
            client_transaction_version: tv,
        }
    }

    #[rustfmt::skip]
    const ONGOING_V0: &[u8] = &[
        0x00, 0x00,                                     // version 0
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xE8, // ProducerId 1000
        0x00, 0x05,                                     // ProducerEpoch 5
        0x00, 0x00, 0xEA, 0x60,                         // TransactionTimeoutMs 60000
        0x01,                                           // TransactionStatus Ongoing
        0x00, 0x00, 0x00, 0x02,                         // TransactionPartitions: 2 topics
        0x00, 0x01, b't',                               //   Topic "t"
        0x00, 0x00, 0x00, 0x02,                         //   PartitionIds: 2
        0x00, 0x00, 0x00, 0x00,                         //     0
        0x00, 0x00, 0x00, 0x01,                         //     1
        0x00, 0x01, b'u',                               //   Topic "u"
        0x00, 0x00, 0x00, 0x01,                         //   PartitionIds: 1
        0x00, 0x00, 0x00, 0x07,                         //     7
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0xD0, // TransactionLastUpdateTimestampMs 2000
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0xDC, // TransactionStartTimestampMs 1500
    ];

    #[rustfmt::skip]
    const ONGOING_V1_TV2: &[u8] = &[
        0x00, 0x01,                                     // version 1
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xE8, // ProducerId 1000
        0x00, 0x05,                                     // ProducerEpoch 5
        0x00, 0x00, 0xEA, 0x60,                         // TransactionTimeoutMs 60000
        0x01,                                           // TransactionStatus Ongoing
        0x03,                                           // compact array: 2 topics
        0x02, b't',                                     //   compact string "t"
        0x03,                                           //   compact array: 2 ids
        0x00, 0x00, 0x00, 0x00,                         //     0
        0x00, 0x00, 0x00, 0x01,                         //     1
        0x00,                                           //   no tagged fields
        0x02, b'u',                                     //   "u"
        0x02,                                           //   1 id
        0x00, 0x00, 0x00, 0x07,                         //     7
        0x00,                                           //   no tagged fields
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0xD0, // TransactionLastUpdateTimestampMs 2000
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0xDC, // TransactionStartTimestampMs 1500
        0x02,                                           // 2 tagged fields
        0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xE7, // tag 0 PreviousProducerId 999
        0x02, 0x02, 0x00, 0x02,                         // tag 2 ClientTransactionVersion 2
    ];

    #[test]
    fn key_bytes_and_round_trip() {
        let k = encode_key("txn").unwrap();
        assert_eq!(k, [0x00, 0x00, 0x00, 0x03, b't', b'x', b'n']);
        assert_eq!(decode_key(&k).unwrap(), "txn");
        assert_eq!(decode_key(&encode_key("").unwrap()).unwrap(), "");
        let long = "é".repeat(16_383); // 32766 bytes
        assert_eq!(decode_key(&encode_key(&long).unwrap()).unwrap(), long);
        assert!(matches!(encode_key(&"x".repeat(32_768)), Err(RecordFormatError::Unencodable { .. })));
    }

    #[test]
    fn bad_keys_are_rejected() {
        assert!(matches!(
            decode_key(&[0x00, 0x01, 0x00, 0x00]),
            Err(RecordFormatError::UnsupportedVersion { version: 1, .. })
        ));
        assert!(matches!(decode_key(&[0x00]), Err(RecordFormatError::Truncated { .. })));
        assert!(matches!(decode_key(&[0, 0, 0, 5, b'a']), Err(RecordFormatError::Truncated { .. })));
        // A null transactional id.
        assert!(matches!(decode_key(&[0, 0, 0xff, 0xff]), Err(RecordFormatError::Malformed { .. })));
        // Negative length other than -1.
        assert!(matches!(decode_key(&[0, 0, 0xff, 0xfe]), Err(RecordFormatError::Malformed { .. })));
        // Not UTF-8.
        assert!(matches!(decode_key(&[0, 0, 0, 1, 0xff]), Err(RecordFormatError::Malformed { .. })));
        // Trailing bytes.
        assert!(matches!(decode_key(&[0, 0, 0, 1, b'a', 0]), Err(RecordFormatError::Malformed { .. })));
    }

    #[test]
    fn value_v0_known_bytes() {
        let bytes = encode_value(&ongoing(TransactionVersion::Tv0), TransactionVersion::Tv0).unwrap();
        assert_eq!(bytes, ONGOING_V0);
        let v = decode_value(ONGOING_V0).unwrap();
        // Version 0 cannot hold the previous producer id or client version.
        assert_eq!(v.previous_producer_id, NO_PRODUCER_ID);
        assert_eq!(v.client_transaction_version, TransactionVersion::Tv0);
        let t = v.to_transit();
        assert_eq!(
            t,
            TxnTransitMetadata {
                previous_producer_id: NO_PRODUCER_ID,
                last_producer_epoch: NO_PRODUCER_EPOCH,
                ..ongoing(TransactionVersion::Tv0)
            }
        );
    }

    #[test]
    fn value_v1_known_bytes() {
        let bytes = encode_value(&ongoing(TransactionVersion::Tv2), TransactionVersion::Tv2).unwrap();
        assert_eq!(bytes, ONGOING_V1_TV2);
        let t = decode_value(ONGOING_V1_TV2).unwrap().to_transit();
        // Everything but the last producer epoch survives.
        assert_eq!(
            t,
            TxnTransitMetadata { last_producer_epoch: NO_PRODUCER_EPOCH, ..ongoing(TransactionVersion::Tv2) }
        );
        // Level 1 also writes version 1; a TV0 client has no ClientTransactionVersion tag.
        let tv1 = encode_value(&ongoing(TransactionVersion::Tv0), TransactionVersion::Tv1).unwrap();
        assert_eq!(&tv1[..2], &[0, 1]);
        assert_eq!(&tv1[tv1.len() - 11..], &[0x01, 0x00, 0x08, 0, 0, 0, 0, 0, 0, 0x03, 0xE7]);
    }

    #[test]
    fn empty_state_has_null_partitions() {
        let t = TxnTransitMetadata {
            txn_state: TransactionState::Empty,
            topic_partitions: BTreeSet::new(),
            txn_start_timestamp: -1,
            previous_producer_id: NO_PRODUCER_ID,
            ..ongoing(TransactionVersion::Tv0)
        };
        let v0 = encode_value(&t, TransactionVersion::Tv0).unwrap();
        assert_eq!(&v0[17..21], &[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(v0.len(), 2 + 8 + 2 + 4 + 1 + 4 + 8 + 8);
        let v1 = encode_value(&t, TransactionVersion::Tv1).unwrap();
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x03, 0xE8, 0x00, 0x05, 0x00, 0x00, 0xEA, 0x60,
            0x00,                                           // Empty
            0x00,                                           // null compact array
            0, 0, 0, 0, 0, 0, 0x07, 0xD0,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // start -1
            0x00,                                           // no tagged fields
        ];
        assert_eq!(v1, expected);
        for bytes in [v0, v1] {
            let v = decode_value(&bytes).unwrap();
            assert_eq!(v.transaction_partitions, None);
            assert_eq!(
                v.to_transit(),
                TxnTransitMetadata { last_producer_epoch: NO_PRODUCER_EPOCH, ..t.clone() }
            );
        }
    }

    #[test]
    fn empty_state_with_partitions_is_refused() {
        // Kafka's shouldThrowExceptionWriteInvalidTxn.
        let t = TxnTransitMetadata { txn_state: TransactionState::Empty, ..ongoing(TransactionVersion::Tv2) };
        assert!(matches!(
            encode_value(&t, TransactionVersion::Tv2),
            Err(RecordFormatError::Unencodable { .. })
        ));
    }

    #[test]
    fn partitions_of_a_stored_empty_state_are_ignored() {
        let mut v = decode_value(ONGOING_V0).unwrap();
        v.transaction_status = TransactionState::Empty;
        let decoded = decode_value(&v.encode(0).unwrap()).unwrap();
        assert!(decoded.transaction_partitions.is_some());
        assert!(decoded.to_transit().topic_partitions.is_empty());
    }

    #[test]
    fn all_states_round_trip_at_both_levels() {
        // Kafka's shouldReadWriteMessages.
        for state in TransactionState::ALL {
            for level in [TransactionVersion::Tv0, TransactionVersion::Tv2] {
                let parts = if state == TransactionState::Empty {
                    BTreeSet::new()
                } else {
                    ongoing(level).topic_partitions
                };
                let t = TxnTransitMetadata { txn_state: state, topic_partitions: parts, ..ongoing(level) };
                let back = decode_value(&encode_value(&t, level).unwrap()).unwrap().to_transit();
                assert_eq!(back.txn_state, state);
                assert_eq!(back.topic_partitions, t.topic_partitions);
                assert_eq!((back.producer_id, back.producer_epoch, back.txn_timeout_ms), (1000, 5, 60_000));
            }
        }
    }

    #[test]
    fn version_0_cannot_carry_a_client_transaction_version() {
        assert!(matches!(
            encode_value(&ongoing(TransactionVersion::Tv2), TransactionVersion::Tv0),
            Err(RecordFormatError::Unencodable { .. })
        ));
        // The raw encoder refuses any non-default tagged field at version 0.
        let v = TxnLogValue { next_producer_epoch: 3, ..decode_value(ONGOING_V0).unwrap() };
        assert!(matches!(v.encode(0), Err(RecordFormatError::Unencodable { .. })));
        assert!(matches!(v.encode(2), Err(RecordFormatError::UnsupportedVersion { version: 2, .. })));
    }

    #[test]
    fn next_producer_id_and_epoch_tags() {
        let t = TxnTransitMetadata {
            next_producer_id: 77,
            txn_state: TransactionState::PrepareCommit,
            ..ongoing(TransactionVersion::Tv2)
        };
        let bytes = encode_value(&t, TransactionVersion::Tv2).unwrap();
        #[rustfmt::skip]
        let tail: &[u8] = &[
            0x03,
            0x00, 0x08, 0, 0, 0, 0, 0, 0, 0x03, 0xE7,
            0x01, 0x08, 0, 0, 0, 0, 0, 0, 0x00, 0x4D,
            0x02, 0x02, 0x00, 0x02,
        ];
        assert!(bytes.ends_with(tail));
        assert_eq!(decode_value(&bytes).unwrap().next_producer_id, 77);
        // KIP-939's NextProducerEpoch (tag 3) is decoded and re-encoded.
        let v = TxnLogValue { next_producer_epoch: 9, ..decode_value(&bytes).unwrap() };
        let again = v.encode(1).unwrap();
        assert!(again.ends_with(&[
            0x04, 0x00, 0x08, 0, 0, 0, 0, 0, 0, 0x03, 0xE7, 0x01, 0x08, 0, 0, 0, 0, 0, 0, 0x00, 0x4D, 0x02,
            0x02, 0x00, 0x02, 0x03, 0x02, 0x00, 0x09
        ]));
        assert_eq!(decode_value(&again).unwrap(), v);
    }

    /// ONGOING_V1_TV2 with unknown tags added to the value and to the first partition entry
    /// (Kafka's testDeserializeFutureTransactionLogValue).
    fn with_unknown_tags() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&ONGOING_V1_TV2[..29]); // up to and including t's partition ids
        assert_eq!(ONGOING_V1_TV2[29], 0x00);
        b.extend_from_slice(&[0x02, 100, 0x04, 0x04, b'f', b'o', b'o', 101, 0x04, 0x00, 0x00, 0x0F, 0xA0]);
        b.extend_from_slice(&ONGOING_V1_TV2[30..ONGOING_V1_TV2.len() - 15]);
        // Value tags: 0, 2 (known), 100, 101 (unknown).
        b.extend_from_slice(&[0x04]);
        b.extend_from_slice(&ONGOING_V1_TV2[ONGOING_V1_TV2.len() - 14..]);
        b.extend_from_slice(&[100, 0x04, 0x04, b'f', b'o', b'o', 101, 0x04, 0x00, 0x00, 0x0F, 0xA0]);
        b
    }

    #[test]
    fn unknown_tagged_fields_are_skipped() {
        let b = with_unknown_tags();
        assert_eq!(decode_value(&b).unwrap(), decode_value(ONGOING_V1_TV2).unwrap());
    }

    #[test]
    fn known_tag_with_wrong_size_is_malformed() {
        let mut b = ONGOING_V1_TV2.to_vec();
        let n = b.len();
        // ClientTransactionVersion declared as 3 bytes.
        b[n - 3] = 0x03;
        b.push(0x00);
        assert!(matches!(decode_value(&b), Err(RecordFormatError::Malformed { .. })));
        // ... or as 1 byte (the i16 read runs past the field).
        let mut b = ONGOING_V1_TV2.to_vec();
        b[n - 3] = 0x01;
        b.pop();
        assert!(matches!(decode_value(&b), Err(RecordFormatError::Truncated { .. })));
    }

    #[test]
    fn unknown_status_and_client_version_are_malformed() {
        let mut b = ONGOING_V0.to_vec();
        b[16] = 8;
        assert!(matches!(decode_value(&b), Err(RecordFormatError::Malformed { .. })));
        let mut b = ONGOING_V1_TV2.to_vec();
        let n = b.len();
        b[n - 1] = 3;
        assert!(matches!(decode_value(&b), Err(RecordFormatError::Malformed { .. })));
    }

    #[test]
    fn every_truncation_is_an_error() {
        for full in [ONGOING_V0, ONGOING_V1_TV2, &with_unknown_tags()[..]] {
            for len in 0..full.len() {
                assert!(decode_value(&full[..len]).is_err(), "prefix of {len} bytes accepted");
            }
            let mut long = full.to_vec();
            long.push(0);
            assert!(matches!(decode_value(&long), Err(RecordFormatError::Malformed { .. })));
        }
    }

    #[test]
    fn hostile_lengths_do_not_allocate() {
        // v0 array of 2^31-1 topics.
        let mut b = ONGOING_V0[..17].to_vec();
        b.extend_from_slice(&[0x7f, 0xff, 0xff, 0xff]);
        assert!(matches!(decode_value(&b), Err(RecordFormatError::Malformed { .. })));
        // v1 compact array of u32::MAX - 1 topics.
        let mut b = ONGOING_V1_TV2[..17].to_vec();
        b.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(matches!(decode_value(&b), Err(RecordFormatError::Malformed { .. })));
        // A varint of 6 bytes, and one with bits above 32.
        let mut b = ONGOING_V1_TV2[..17].to_vec();
        b.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
        assert!(matches!(decode_value(&b), Err(RecordFormatError::Malformed { .. })));
        let mut b = ONGOING_V1_TV2[..17].to_vec();
        b.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x10]);
        assert!(matches!(decode_value(&b), Err(RecordFormatError::Malformed { .. })));
        // A tagged field claiming more bytes than present.
        let mut b = ONGOING_V0.to_vec();
        b[1] = 1;
        b.truncate(17);
        b.extend_from_slice(&[0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x05, 0x7f]);
        assert!(matches!(decode_value(&b), Err(RecordFormatError::Truncated { .. })));
    }

    #[test]
    fn unsupported_value_versions() {
        for v in [-1i16, 2, i16::MAX] {
            let mut b = ONGOING_V0.to_vec();
            b[..2].copy_from_slice(&v.to_be_bytes());
            assert_eq!(
                decode_value(&b),
                Err(RecordFormatError::UnsupportedVersion { record: VALUE, version: v })
            );
        }
    }

    #[test]
    fn read_record_classifies() {
        let key = encode_key("tx").unwrap();
        assert_eq!(
            read_record(&key, None).unwrap(),
            TxnLogRecord::Tombstone { transactional_id: "tx".into() }
        );
        assert_eq!(
            read_record(&key, Some(ONGOING_V0)).unwrap(),
            TxnLogRecord::Transaction {
                transactional_id: "tx".into(),
                value: decode_value(ONGOING_V0).unwrap()
            }
        );
        let mut future = ONGOING_V0.to_vec();
        future[1] = 9;
        assert_eq!(
            read_record(&key, Some(&future)).unwrap(),
            TxnLogRecord::UnknownValueVersion { transactional_id: "tx".into(), version: 9 }
        );
        // Kafka's testReadReturnsUnknownKeyVersionForInvalidKey.
        assert_eq!(
            read_record(&[0x7f, 0xff, 0, 0], None).unwrap(),
            TxnLogRecord::UnknownKeyVersion(i16::MAX)
        );
        let block = ProducerIdBlock::new(5000, 1000).unwrap();
        assert_eq!(
            read_record(&pid_block::encode_pid_block_key(), Some(&pid_block::encode_pid_block_value(&block)))
                .unwrap(),
            TxnLogRecord::ProducerIdBlock(block)
        );
        assert!(read_record(&pid_block::encode_pid_block_key(), None).is_err());
        assert!(read_record(&[0], None).is_err());
        let mut garbage = ONGOING_V0.to_vec();
        garbage[16] = 42;
        assert!(read_record(&key, Some(&garbage)).is_err());
    }

    #[test]
    fn errors_convert_with_kafka_codes() {
        let e: Error = decode_value(&[0]).unwrap_err().into();
        assert_eq!(e.code(), ErrorCode::CorruptMessage);
        let e: Error = decode_value(&[0, 7]).unwrap_err().into();
        assert_eq!(e.code(), ErrorCode::UnsupportedVersion);
        let e: Error = encode_key(&"x".repeat(40_000)).unwrap_err().into();
        assert_eq!(e.code(), ErrorCode::UnknownServerError);
    }

    fn arb_value() -> impl Strategy<Value = TxnLogValue> {
        let parts = proptest::option::of(proptest::collection::vec(
            ("[a-zA-Z0-9._-]{0,20}", proptest::collection::vec(any::<i32>(), 0..5))
                .prop_map(|(topic, partition_ids)| TxnLogPartitions { topic, partition_ids }),
            0..4,
        ));
        (
            (any::<i64>(), any::<i64>(), any::<i64>(), any::<i16>(), any::<i16>(), any::<i32>()),
            (0i8..8, parts, any::<i64>(), any::<i64>(), 0i16..3),
        )
            .prop_map(
                |((pid, prev, next, epoch, next_epoch, timeout), (status, parts, upd, start, tv))| {
                    TxnLogValue {
                        producer_id: pid,
                        previous_producer_id: prev,
                        next_producer_id: next,
                        producer_epoch: epoch,
                        next_producer_epoch: next_epoch,
                        transaction_timeout_ms: timeout,
                        transaction_status: TransactionState::from_id(status).unwrap(),
                        transaction_partitions: parts,
                        transaction_last_update_timestamp_ms: upd,
                        transaction_start_timestamp_ms: start,
                        client_transaction_version: TransactionVersion::from_level(tv).unwrap(),
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn prop_value_round_trips(v in arb_value()) {
            let bytes = v.encode(1).unwrap();
            prop_assert_eq!(decode_value(&bytes).unwrap(), v.clone());
            let plain = TxnLogValue {
                previous_producer_id: NO_PRODUCER_ID,
                next_producer_id: NO_PRODUCER_ID,
                next_producer_epoch: NO_PRODUCER_EPOCH,
                client_transaction_version: TransactionVersion::Tv0,
                ..v
            };
            prop_assert_eq!(decode_value(&plain.encode(0).unwrap()).unwrap(), plain);
        }

        #[test]
        fn prop_key_round_trips(id in ".{0,64}") {
            prop_assert_eq!(decode_key(&encode_key(&id).unwrap()).unwrap(), id);
        }

        #[test]
        fn prop_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = decode_value(&bytes);
            let _ = decode_key(&bytes);
            let _ = read_record(&bytes, Some(&bytes));
        }

        #[test]
        fn prop_corrupted_values_never_panic(pos in 0usize..ONGOING_V1_TV2.len(), byte in any::<u8>()) {
            let mut b = ONGOING_V1_TV2.to_vec();
            b[pos] = byte;
            let _ = decode_value(&b);
        }
    }
}
