//! Kafka RecordBatch v2: parsing, validation, records, building and control markers.
//!
//! This module is pure — bytes in, typed views out, no I/O — and built for the append path:
//! [`RecordBatch`] reads the 61-byte header in place, [`RecordBatch::validate`] checks an
//! uncompressed batch without allocating, and [`Records`] borrows uncompressed record bytes
//! rather than copying them. Compressed payloads are decoded under a hard size cap
//! ([`decompression_limit`]) so hostile input can cost errors, never memory.
//!
//! Pieces, one job each:
//! - `header`: the [`RecordBatch`] view, [`Attributes`], and the leader's in-place rewrites
//!   ([`set_base_offset`], [`set_partition_leader_epoch`], [`set_log_append_time`]);
//! - `frame`: batch boundaries in a buffer of back-to-back batches ([`frame`], [`batches`]);
//! - `validate`: [`RecordBatch::validate`];
//! - `record`: [`Record`], [`Records`] and the one record parser reading and validation share;
//! - `control`: control records and end-transaction markers;
//! - `builder`: [`RecordBatchBuilder`];
//! - `compression` / `codec`: the codecs with Kafka's framing (xerial snappy, LZ4 frame, ...);
//! - `varint`: zig-zag varints and the bounds-checked reader.
//!
//! The byte layout is Kafka's (`DefaultRecordBatch` / `DefaultRecord`): all integers
//! big-endian, CRC-32C over bytes `[21, end)`.

mod builder;
mod codec;
mod compression;
mod control;
mod frame;
mod header;
mod record;
mod validate;
mod varint;

#[cfg(test)]
mod tests;

pub use builder::RecordBatchBuilder;
pub use codec::{
    MAX_COMPRESSION_RATIO, MAX_DECOMPRESSED_SIZE, MIN_DECOMPRESSION_LIMIT, compress, decompress,
    decompression_limit,
};
pub use compression::{Compression, UnknownCompressionName};
pub use control::{
    CONTROL_KEY_SIZE, CONTROL_KEY_VERSION, ControlRecord, ControlType, END_TXN_MARKER_VALUE_SIZE,
    END_TXN_MARKER_VERSION, EndTxnMarker,
};
pub use frame::{BatchIter, FRAME_PREFIX_SIZE, Frame, MAX_BATCH_LENGTH, MIN_BATCH_LENGTH, batches, frame};
pub use header::{
    Attributes, RecordBatch, increment_sequence, set_base_offset, set_log_append_time,
    set_partition_leader_epoch,
};
pub use record::{Header, OwnedRecord, Record, RecordIter, Records};

/// Size of the v2 batch header, up to and including `recordsCount`.
pub const HEADER_SIZE: usize = 61;
/// Bytes before the part `batchLength` counts: `baseOffset` (8) + `batchLength` (4).
pub const LOG_OVERHEAD: usize = 12;
/// The only message format version eoslog reads or writes.
pub const MAGIC_V2: i8 = 2;
/// `producerId` of a batch without a producer.
pub const NO_PRODUCER_ID: i64 = -1;
/// `producerEpoch` of a batch without a producer.
pub const NO_PRODUCER_EPOCH: i16 = -1;
/// `baseSequence` of a batch without sequences.
pub const NO_SEQUENCE: i32 = -1;
/// `partitionLeaderEpoch` before a leader has stamped one.
pub const NO_PARTITION_LEADER_EPOCH: i32 = -1;

/// Byte offsets of the header fields within a batch.
pub mod layout {
    /// `baseOffset` i64.
    pub const BASE_OFFSET: usize = 0;
    /// `batchLength` i32.
    pub const LENGTH: usize = 8;
    /// `partitionLeaderEpoch` i32 (outside the CRC).
    pub const PARTITION_LEADER_EPOCH: usize = 12;
    /// `magic` i8.
    pub const MAGIC: usize = 16;
    /// `crc` u32.
    pub const CRC: usize = 17;
    /// `attributes` i16; the CRC covers everything from here to the end of the batch.
    pub const ATTRIBUTES: usize = 21;
    /// `lastOffsetDelta` i32.
    pub const LAST_OFFSET_DELTA: usize = 23;
    /// `baseTimestamp` i64.
    pub const BASE_TIMESTAMP: usize = 27;
    /// `maxTimestamp` i64.
    pub const MAX_TIMESTAMP: usize = 35;
    /// `producerId` i64.
    pub const PRODUCER_ID: usize = 43;
    /// `producerEpoch` i16.
    pub const PRODUCER_EPOCH: usize = 51;
    /// `baseSequence` i32.
    pub const BASE_SEQUENCE: usize = 53;
    /// `recordsCount` i32.
    pub const RECORDS_COUNT: usize = 57;
    /// First byte of the records section.
    pub const RECORDS: usize = 61;
}
