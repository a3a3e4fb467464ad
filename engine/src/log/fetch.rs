//! What appends and reads return.

use std::sync::Arc;

use crate::batch::{self, RecordBatch};
use crate::error::Result;
use crate::io::IoFile;

/// Result of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset of the first record of the batch.
    pub first_offset: i64,
    /// Offset of the last record of the batch.
    pub last_offset: i64,
    /// The broker timestamp stamped on a LogAppendTime topic, -1 for CreateTime.
    pub log_append_time: i64,
    /// The log start offset after the append.
    pub log_start_offset: i64,
    /// True when the batch was a retry of one already in the log: nothing was written and the
    /// offsets are those of the original.
    pub duplicate: bool,
    /// Records in the batch.
    pub record_count: i32,
}

/// Which records a read may return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IsolationLevel {
    /// Up to the log end offset (replication followers).
    LogEnd,
    /// Up to the high watermark (`read_uncommitted`).
    #[default]
    ReadUncommitted,
    /// Up to the last stable offset, with the aborted transactions of the range
    /// (`read_committed`).
    ReadCommitted,
}

impl IsolationLevel {
    /// Parses `read_uncommitted`, `read_committed` or `log_end` (case-insensitive).
    pub fn parse(s: &str) -> Option<IsolationLevel> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "read_uncommitted" | "uncommitted" => Some(IsolationLevel::ReadUncommitted),
            "read_committed" | "committed" => Some(IsolationLevel::ReadCommitted),
            "log_end" => Some(IsolationLevel::LogEnd),
            _ => None,
        }
    }
}

/// An aborted transaction overlapping a fetched range, as a Fetch response reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct AbortedTransaction {
    /// Producer of the aborted transaction.
    pub producer_id: i64,
    /// First offset of the transaction.
    pub first_offset: i64,
}

/// Whole batches read from one segment file.
///
/// `bytes` is an owned copy whose every batch passed its CRC check; `file`, `position` and
/// `len()` describe the same bytes in the segment file so an embedder can `sendfile` them
/// instead (consumers verify CRCs themselves in that case).
#[derive(Debug, Clone)]
pub struct FetchedRecords {
    file: Option<Arc<dyn IoFile>>,
    position: u64,
    bytes: Vec<u8>,
}

impl FetchedRecords {
    /// No records.
    pub fn empty() -> Self {
        FetchedRecords { file: None, position: 0, bytes: Vec::new() }
    }

    pub(crate) fn new(file: Arc<dyn IoFile>, position: u64, bytes: Vec<u8>) -> Self {
        FetchedRecords { file: Some(file), position, bytes }
    }

    /// The batches, back to back, exactly as stored.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Takes the bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Byte length.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// True when nothing was read.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The segment file the bytes come from (`None` when empty).
    pub fn file(&self) -> Option<&Arc<dyn IoFile>> {
        self.file.as_ref()
    }

    /// Position of the bytes in [`FetchedRecords::file`].
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The file descriptor and range for `sendfile(fd, position, len)`.
    pub fn file_range(&self) -> Option<(i32, u64, usize)> {
        let fd = self.file.as_ref()?.raw_fd()?;
        Some((fd, self.position, self.bytes.len()))
    }

    /// Iterates the batches.
    pub fn batches(&self) -> impl Iterator<Item = Result<RecordBatch<'_>, crate::error::BatchError>> {
        batch::batches(&self.bytes)
    }
}

/// Result of a read.
#[derive(Debug, Clone)]
pub struct FetchData {
    /// Whole batches starting with the one holding the requested offset.
    pub records: FetchedRecords,
    /// High watermark when the read was served.
    pub high_watermark: i64,
    /// Last stable offset when the read was served.
    pub last_stable_offset: i64,
    /// Log start offset.
    pub log_start_offset: i64,
    /// Log end offset.
    pub log_end_offset: i64,
    /// For `read_committed`: the aborted transactions overlapping the returned range, ordered by
    /// first offset. `None` for other isolation levels.
    pub aborted_transactions: Option<Vec<AbortedTransaction>>,
}

/// Which offset a [`crate::log::PartitionLog::list_offset`] lookup wants (Kafka's ListOffsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The log start offset (`EARLIEST_TIMESTAMP`, -2).
    Earliest,
    /// The end visible at the isolation level: high watermark or last stable offset
    /// (`LATEST_TIMESTAMP`, -1).
    Latest(IsolationLevel),
    /// The record with the largest timestamp (`MAX_TIMESTAMP`, -3).
    MaxTimestamp,
    /// The first record with a timestamp at or after this one.
    Timestamp(i64),
}

/// Answer of a ListOffsets lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampAndOffset {
    /// The record's timestamp, or -1 for the special specs.
    pub timestamp: i64,
    /// The offset.
    pub offset: i64,
    /// Leader epoch of the offset, if known.
    pub leader_epoch: Option<i32>,
}
