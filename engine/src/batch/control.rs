//! Control records: the single record of a control batch. Kafka's end-transaction markers
//! (COMMIT / ABORT) are the ones a data partition holds; KRaft types 2–6 are recognised so they
//! are not mistaken for corruption.
//!
//! Key: `version i16` (0) · `type i16`. End-transaction value: `version i16` (0) ·
//! `coordinatorEpoch i32`. A negative version means corruption; a higher version is read as
//! version 0 (its prefix is the same), which is how Kafka keeps old readers working.

use super::NO_SEQUENCE;
use super::builder::RecordBatchBuilder;
use super::header::RecordBatch;
use crate::error::BatchError;

/// Size of a version-0 control record key.
pub const CONTROL_KEY_SIZE: usize = 4;
/// Size of a version-0 end-transaction marker value.
pub const END_TXN_MARKER_VALUE_SIZE: usize = 6;
/// Key version eoslog writes.
pub const CONTROL_KEY_VERSION: i16 = 0;
/// End-transaction marker value version eoslog writes.
pub const END_TXN_MARKER_VERSION: i16 = 0;

/// The type of a control record (`ControlRecordType` in Kafka).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlType {
    /// End of an aborted transaction (type 0).
    Abort,
    /// End of a committed transaction (type 1).
    Commit,
    /// Any other type: KRaft's LEADER_CHANGE (2), SNAPSHOT_HEADER (3), SNAPSHOT_FOOTER (4),
    /// KRAFT_VERSION (5), KRAFT_VOTERS (6), or an unknown one.
    Other(i16),
}

impl ControlType {
    /// The type with this id.
    pub const fn from_id(id: i16) -> ControlType {
        match id {
            0 => ControlType::Abort,
            1 => ControlType::Commit,
            other => ControlType::Other(other),
        }
    }

    /// The id stored in the key.
    pub const fn id(self) -> i16 {
        match self {
            ControlType::Abort => 0,
            ControlType::Commit => 1,
            ControlType::Other(id) => id,
        }
    }

    /// True for types Kafka defines (0–6).
    pub const fn is_known(self) -> bool {
        matches!(self.id(), 0..=6)
    }

    /// Kafka's name (`ABORT`, `COMMIT`, `LEADER_CHANGE`, ...; `UNKNOWN` otherwise).
    pub const fn name(self) -> &'static str {
        match self.id() {
            0 => "ABORT",
            1 => "COMMIT",
            2 => "LEADER_CHANGE",
            3 => "SNAPSHOT_HEADER",
            4 => "SNAPSHOT_FOOTER",
            5 => "KRAFT_VERSION",
            6 => "KRAFT_VOTERS",
            _ => "UNKNOWN",
        }
    }

    /// The version-0 key bytes for this type.
    pub fn key_bytes(self) -> [u8; CONTROL_KEY_SIZE] {
        let mut key = [0u8; CONTROL_KEY_SIZE];
        key[..2].copy_from_slice(&CONTROL_KEY_VERSION.to_be_bytes());
        key[2..].copy_from_slice(&self.id().to_be_bytes());
        key
    }
}

/// The parsed record of a control batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlRecord {
    /// Key version (≥ 0).
    pub version: i16,
    /// Record type.
    pub control_type: ControlType,
    /// The record's value bytes (empty for a null value), uninterpreted.
    pub value: Vec<u8>,
}

/// An end-transaction marker: the value of a COMMIT or ABORT control record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EndTxnMarker {
    /// COMMIT (true) or ABORT (false).
    pub commit: bool,
    /// Epoch of the transaction coordinator that wrote the marker (fences stale coordinators).
    pub coordinator_epoch: i32,
}

impl EndTxnMarker {
    /// COMMIT or ABORT.
    pub fn control_type(&self) -> ControlType {
        if self.commit { ControlType::Commit } else { ControlType::Abort }
    }

    /// The version-0 value bytes: version 0 then the coordinator epoch.
    pub fn value_bytes(&self) -> [u8; END_TXN_MARKER_VALUE_SIZE] {
        let mut value = [0u8; END_TXN_MARKER_VALUE_SIZE];
        value[..2].copy_from_slice(&END_TXN_MARKER_VERSION.to_be_bytes());
        value[2..].copy_from_slice(&self.coordinator_epoch.to_be_bytes());
        value
    }

    /// The marker batch as Kafka's coordinator writes it (`MemoryRecords.withEndTransactionMarker`):
    /// base offset 0 (the leader assigns offsets), no leader epoch (the leader stamps it),
    /// transactional + control, uncompressed, CreateTime with `timestamp`, the transaction's
    /// producer id and epoch, base sequence −1, and exactly one record with key
    /// (version 0, type) and value (version 0, coordinator epoch).
    pub fn build_batch(&self, producer_id: i64, producer_epoch: i16, timestamp: i64) -> Vec<u8> {
        let key = self.control_type().key_bytes();
        let value = self.value_bytes();
        let mut builder = RecordBatchBuilder::new()
            .producer(producer_id, producer_epoch, NO_SEQUENCE)
            .transactional(true)
            .control(true);
        builder.append(timestamp, Some(&key), Some(&value), &[]);
        builder.build_uncompressed()
    }
}

fn invalid(msg: String) -> BatchError {
    BatchError::InvalidRecord(msg)
}

/// Reads a control record key: at least 4 bytes, version ≥ 0.
pub(crate) fn parse_control_key(key: Option<&[u8]>) -> Result<(i16, ControlType), BatchError> {
    let key = key.unwrap_or_default();
    let Some((head, _)) = key.split_first_chunk::<CONTROL_KEY_SIZE>() else {
        return Err(invalid(format!(
            "control record key is {} bytes; at least {CONTROL_KEY_SIZE} are required",
            key.len()
        )));
    };
    let version = i16::from_be_bytes([head[0], head[1]]);
    if version < 0 {
        return Err(invalid(format!("control record key has negative version {version}")));
    }
    Ok((version, ControlType::from_id(i16::from_be_bytes([head[2], head[3]]))))
}

/// Reads an end-transaction marker value: at least 6 bytes, version ≥ 0.
pub(crate) fn parse_end_txn_value(value: Option<&[u8]>) -> Result<(i16, i32), BatchError> {
    let value = value.unwrap_or_default();
    let Some((head, _)) = value.split_first_chunk::<END_TXN_MARKER_VALUE_SIZE>() else {
        return Err(invalid(format!(
            "end transaction marker value is {} bytes; at least {END_TXN_MARKER_VALUE_SIZE} are required",
            value.len()
        )));
    };
    let version = i16::from_be_bytes([head[0], head[1]]);
    if version < 0 {
        return Err(invalid(format!("end transaction marker has negative version {version}")));
    }
    Ok((version, i32::from_be_bytes([head[2], head[3], head[4], head[5]])))
}

/// Validation of a control batch's record: a well-formed key of a known type, and for
/// COMMIT/ABORT a well-formed marker value.
pub(crate) fn check_control_record(key: Option<&[u8]>, value: Option<&[u8]>) -> Result<(), BatchError> {
    let (_, control_type) = parse_control_key(key)?;
    match control_type {
        ControlType::Abort | ControlType::Commit => parse_end_txn_value(value).map(|_| ()),
        t if t.is_known() => Ok(()),
        t => Err(invalid(format!("unknown control record type {}", t.id()))),
    }
}

impl RecordBatch<'_> {
    /// The control record of a control batch: `None` for a data batch or for a control batch
    /// the cleaner has emptied. Errors if the record or its key is malformed. Only the first
    /// record is read ([`RecordBatch::validate`] requires exactly one).
    pub fn control_record(&self) -> Result<Option<ControlRecord>, BatchError> {
        if !self.is_control() {
            return Ok(None);
        }
        let records = self.records()?;
        let Some(first) = records.iter().next() else {
            return Ok(None);
        };
        let record = first?;
        let (version, control_type) = parse_control_key(record.key)?;
        Ok(Some(ControlRecord { version, control_type, value: record.value.unwrap_or_default().to_vec() }))
    }

    /// The end-transaction marker of a COMMIT/ABORT control batch; `None` for data batches,
    /// emptied control batches and other control types.
    pub fn end_txn_marker(&self) -> Result<Option<EndTxnMarker>, BatchError> {
        let Some(record) = self.control_record()? else {
            return Ok(None);
        };
        let commit = match record.control_type {
            ControlType::Commit => true,
            ControlType::Abort => false,
            ControlType::Other(_) => return Ok(None),
        };
        let (_, coordinator_epoch) = parse_end_txn_value(Some(&record.value))?;
        Ok(Some(EndTxnMarker { commit, coordinator_epoch }))
    }
}
