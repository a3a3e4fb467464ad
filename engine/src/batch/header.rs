//! The 61-byte RecordBatch v2 header: a zero-copy view ([`RecordBatch`]) over one batch's bytes,
//! the attribute bits, and the in-place rewrites a leader performs.
//!
//! Layout (all big-endian; see `layout` for the offsets):
//! `baseOffset i64 · batchLength i32 · partitionLeaderEpoch i32 · magic i8 · crc u32 ·
//! attributes i16 · lastOffsetDelta i32 · baseTimestamp i64 · maxTimestamp i64 · producerId i64 ·
//! producerEpoch i16 · baseSequence i32 · recordsCount i32`, then the records. The CRC-32C covers
//! bytes `[21, end)`, i.e. everything from the attributes on; `baseOffset`, `batchLength` and
//! `partitionLeaderEpoch` sit outside it so a leader can stamp them without recomputing it.

use std::fmt;

use super::layout::*;
use super::{Compression, HEADER_SIZE, LOG_OVERHEAD, MAGIC_V2, NO_SEQUENCE};
use crate::config::TimestampType;
use crate::error::BatchError;

/// A batch's attribute bits (only the low byte is used by Kafka).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Attributes(pub i16);

impl Attributes {
    /// Bits 0–2: compression codec id.
    pub const COMPRESSION_MASK: i16 = 0x07;
    /// Bit 3: timestamps are LogAppendTime.
    pub const LOG_APPEND_TIME: i16 = 0x08;
    /// Bit 4: the batch belongs to a transaction.
    pub const TRANSACTIONAL: i16 = 0x10;
    /// Bit 5: the batch holds a control record (a transaction marker).
    pub const CONTROL: i16 = 0x20;
    /// Bit 6: `baseTimestamp` holds the cleaner's delete horizon.
    pub const DELETE_HORIZON: i16 = 0x40;

    /// Attributes for a batch with these properties (no delete horizon).
    pub fn new(
        compression: Compression,
        timestamp_type: TimestampType,
        transactional: bool,
        control: bool,
    ) -> Self {
        let mut bits = i16::from(compression.id());
        if timestamp_type == TimestampType::LogAppendTime {
            bits |= Self::LOG_APPEND_TIME;
        }
        if transactional {
            bits |= Self::TRANSACTIONAL;
        }
        if control {
            bits |= Self::CONTROL;
        }
        Attributes(bits)
    }

    /// The codec in bits 0–2; ids 5–7 are [`BatchError::UnknownCompression`].
    pub fn compression(self) -> Result<Compression, BatchError> {
        Compression::from_id((self.0 & Self::COMPRESSION_MASK) as u8)
    }

    /// CreateTime or LogAppendTime (bit 3).
    pub fn timestamp_type(self) -> TimestampType {
        if self.0 & Self::LOG_APPEND_TIME != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// Bit 4.
    pub fn is_transactional(self) -> bool {
        self.0 & Self::TRANSACTIONAL != 0
    }

    /// Bit 5.
    pub fn is_control(self) -> bool {
        self.0 & Self::CONTROL != 0
    }

    /// Bit 6.
    pub fn has_delete_horizon(self) -> bool {
        self.0 & Self::DELETE_HORIZON != 0
    }
}

/// Copies `N` bytes at `at`. Callers only pass offsets inside the 61-byte header of a buffer
/// that [`RecordBatch::parse`] (or the documented precondition of the `set_*` functions)
/// guarantees is at least that long.
fn array<const N: usize>(buf: &[u8], at: usize) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&buf[at..at + N]);
    a
}

pub(crate) fn read_i64(buf: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(array(buf, at))
}

pub(crate) fn read_i32(buf: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(array(buf, at))
}

pub(crate) fn read_i16(buf: &[u8], at: usize) -> i16 {
    i16::from_be_bytes(array(buf, at))
}

/// A view over exactly one RecordBatch v2: its header fields are read in place from the bytes,
/// nothing is copied or decoded until asked for.
///
/// Invariant (established by [`RecordBatch::parse`]): the buffer is at least [`HEADER_SIZE`]
/// bytes, `batchLength + 12` equals its length, and the magic byte is 2. Nothing else is
/// trusted: the CRC, counts and records are checked only by [`RecordBatch::validate`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RecordBatch<'a> {
    buf: &'a [u8],
}

impl<'a> RecordBatch<'a> {
    /// Views `buf` as one batch. `buf` must hold exactly one batch: at least 61 bytes,
    /// `batchLength + 12 == buf.len()` (else [`BatchError::Corrupt`]) and magic 2 (else
    /// [`BatchError::UnsupportedMagic`]). The CRC is **not** checked here.
    pub fn parse(buf: &'a [u8]) -> Result<Self, BatchError> {
        if buf.len() < HEADER_SIZE {
            return Err(BatchError::Corrupt(format!(
                "{} bytes is shorter than the {HEADER_SIZE}-byte batch header",
                buf.len()
            )));
        }
        let batch_length = read_i32(buf, LENGTH);
        if i64::from(batch_length) + LOG_OVERHEAD as i64 != buf.len() as i64 {
            return Err(BatchError::Corrupt(format!(
                "batchLength {batch_length} does not match the {}-byte buffer (expected {})",
                buf.len(),
                buf.len() as i64 - LOG_OVERHEAD as i64
            )));
        }
        let magic = buf[MAGIC] as i8;
        if magic != MAGIC_V2 {
            return Err(BatchError::UnsupportedMagic(magic));
        }
        Ok(RecordBatch { buf })
    }

    /// Views the first batch of `buf` and returns it with the bytes after it. Errors as
    /// [`super::frame`] reports them; a truncated batch is [`BatchError::Corrupt`].
    pub fn parse_prefix(buf: &'a [u8]) -> Result<(Self, &'a [u8]), BatchError> {
        match super::frame(buf) {
            super::Frame::Complete(size) => {
                let (head, rest) = buf.split_at(size);
                Ok((RecordBatch::parse(head)?, rest))
            }
            super::Frame::Incomplete { needed } => Err(BatchError::Corrupt(format!(
                "truncated batch: {needed} bytes needed, {} present",
                buf.len()
            ))),
            super::Frame::Invalid(e) => Err(e),
        }
    }

    /// The batch's bytes, header included.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// Size of the batch in bytes (`batchLength + 12`).
    pub fn size(&self) -> usize {
        self.buf.len()
    }

    /// The records section (possibly compressed): everything after the 61-byte header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[HEADER_SIZE..]
    }

    /// Offset of the first record (assigned by the leader).
    pub fn base_offset(&self) -> i64 {
        read_i64(self.buf, BASE_OFFSET)
    }

    /// Bytes after the `batchLength` field.
    pub fn batch_length(&self) -> i32 {
        read_i32(self.buf, LENGTH)
    }

    /// Epoch of the leader that appended the batch (outside the CRC).
    pub fn partition_leader_epoch(&self) -> i32 {
        read_i32(self.buf, PARTITION_LEADER_EPOCH)
    }

    /// Format version; always 2 for a parsed batch.
    pub fn magic(&self) -> i8 {
        self.buf[MAGIC] as i8
    }

    /// The stored CRC-32C.
    pub fn crc(&self) -> u32 {
        u32::from_be_bytes(array(self.buf, CRC))
    }

    /// The attribute bits.
    pub fn attributes(&self) -> Attributes {
        Attributes(read_i16(self.buf, ATTRIBUTES))
    }

    /// Offset delta of the last record (also the last-sequence delta); may exceed
    /// `records_count − 1` after compaction.
    pub fn last_offset_delta(&self) -> i32 {
        read_i32(self.buf, LAST_OFFSET_DELTA)
    }

    /// Timestamp of the first record (the delete horizon when that attribute is set).
    pub fn base_timestamp(&self) -> i64 {
        read_i64(self.buf, BASE_TIMESTAMP)
    }

    /// Largest record timestamp, or the append time for LogAppendTime batches.
    pub fn max_timestamp(&self) -> i64 {
        read_i64(self.buf, MAX_TIMESTAMP)
    }

    /// Producer id, or −1.
    pub fn producer_id(&self) -> i64 {
        read_i64(self.buf, PRODUCER_ID)
    }

    /// Producer epoch, or −1.
    pub fn producer_epoch(&self) -> i16 {
        read_i16(self.buf, PRODUCER_EPOCH)
    }

    /// Sequence of the first record, or −1.
    pub fn base_sequence(&self) -> i32 {
        read_i32(self.buf, BASE_SEQUENCE)
    }

    /// Number of records the header declares.
    pub fn records_count(&self) -> i32 {
        read_i32(self.buf, RECORDS_COUNT)
    }

    /// `base_offset + last_offset_delta` (wrapping on nonsense input rather than panicking).
    pub fn last_offset(&self) -> i64 {
        self.base_offset().wrapping_add(i64::from(self.last_offset_delta()))
    }

    /// The offset after this batch: `last_offset + 1`.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().wrapping_add(1)
    }

    /// True when the producer id is set (≥ 0), i.e. the batch is idempotent or transactional.
    pub fn has_producer_id(&self) -> bool {
        self.producer_id() > super::NO_PRODUCER_ID
    }

    /// Attribute bit 4.
    pub fn is_transactional(&self) -> bool {
        self.attributes().is_transactional()
    }

    /// Attribute bit 5.
    pub fn is_control(&self) -> bool {
        self.attributes().is_control()
    }

    /// The codec named by the attributes.
    pub fn compression(&self) -> Result<Compression, BatchError> {
        self.attributes().compression()
    }

    /// CreateTime or LogAppendTime.
    pub fn timestamp_type(&self) -> TimestampType {
        self.attributes().timestamp_type()
    }

    /// Sequence of the last record: `base_sequence + last_offset_delta`, wrapping past
    /// `i32::MAX` to 0 as Kafka's sequences do; [`NO_SEQUENCE`] if the batch has none.
    pub fn last_sequence(&self) -> i32 {
        let base = self.base_sequence();
        if base == NO_SEQUENCE {
            return NO_SEQUENCE;
        }
        increment_sequence(base, self.last_offset_delta())
    }

    /// CRC-32C of bytes `[21, end)`, what [`RecordBatch::crc`] should hold.
    pub fn compute_crc(&self) -> u32 {
        crc32c::crc32c(&self.buf[ATTRIBUTES..])
    }

    /// True when the stored CRC matches the bytes.
    pub fn is_crc_valid(&self) -> bool {
        self.crc() == self.compute_crc()
    }
}

/// `sequence + increment` with Kafka's wrap rule: past `i32::MAX` the sequence continues at 0.
/// Computed in i64 so that nonsense (negative) inputs cannot overflow.
pub fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    let (seq, inc, max) = (i64::from(sequence), i64::from(increment), i64::from(i32::MAX));
    if seq > max - inc { (inc - (max - seq) - 1) as i32 } else { (seq + inc) as i32 }
}

impl fmt::Debug for RecordBatch<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordBatch")
            .field("base_offset", &self.base_offset())
            .field("batch_length", &self.batch_length())
            .field("partition_leader_epoch", &self.partition_leader_epoch())
            .field("crc", &format_args!("{:#010x}", self.crc()))
            .field("attributes", &format_args!("{:#06x}", self.attributes().0))
            .field("last_offset_delta", &self.last_offset_delta())
            .field("base_timestamp", &self.base_timestamp())
            .field("max_timestamp", &self.max_timestamp())
            .field("producer_id", &self.producer_id())
            .field("producer_epoch", &self.producer_epoch())
            .field("base_sequence", &self.base_sequence())
            .field("records_count", &self.records_count())
            .finish()
    }
}

fn check_header(batch: &[u8], what: &str) {
    assert!(batch.len() >= HEADER_SIZE, "{what}: {} bytes is shorter than a batch header", batch.len());
}

/// Writes `baseOffset` in place. It lies outside the CRC, so the CRC stays valid.
///
/// # Panics
/// If `batch` is shorter than [`HEADER_SIZE`] (pass a buffer you have parsed).
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) {
    check_header(batch, "set_base_offset");
    batch[BASE_OFFSET..BASE_OFFSET + 8].copy_from_slice(&base_offset.to_be_bytes());
}

/// Writes `partitionLeaderEpoch` in place. It lies outside the CRC, so the CRC stays valid.
///
/// # Panics
/// If `batch` is shorter than [`HEADER_SIZE`].
pub fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) {
    check_header(batch, "set_partition_leader_epoch");
    batch[PARTITION_LEADER_EPOCH..PARTITION_LEADER_EPOCH + 4].copy_from_slice(&epoch.to_be_bytes());
}

/// Stamps a LogAppendTime as Kafka's leader does: sets attribute bit 3, writes `timestamp` to
/// `maxTimestamp` and recomputes the CRC (both fields are inside it). `baseTimestamp` and the
/// record deltas are left as the producer wrote them; readers report `maxTimestamp` for every
/// record of a LogAppendTime batch.
///
/// # Panics
/// If `batch` is shorter than [`HEADER_SIZE`].
pub fn set_log_append_time(batch: &mut [u8], timestamp: i64) {
    check_header(batch, "set_log_append_time");
    let attributes = read_i16(batch, ATTRIBUTES) | Attributes::LOG_APPEND_TIME;
    batch[ATTRIBUTES..ATTRIBUTES + 2].copy_from_slice(&attributes.to_be_bytes());
    batch[MAX_TIMESTAMP..MAX_TIMESTAMP + 8].copy_from_slice(&timestamp.to_be_bytes());
    let crc = crc32c::crc32c(&batch[ATTRIBUTES..]);
    batch[CRC..CRC + 4].copy_from_slice(&crc.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_wrap_follows_kafka() {
        assert_eq!(increment_sequence(5, 3), 8);
        assert_eq!(increment_sequence(i32::MAX, 0), i32::MAX);
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
        assert_eq!(increment_sequence(0, i32::MAX), i32::MAX);
        // Nonsense input does not panic.
        let _ = increment_sequence(i32::MIN, i32::MIN);
        let _ = increment_sequence(i32::MAX, i32::MIN);
    }

    #[test]
    fn attribute_bits() {
        let a = Attributes::new(Compression::Zstd, TimestampType::LogAppendTime, true, true);
        assert_eq!(a.0, 0x3c);
        assert_eq!(a.compression().unwrap(), Compression::Zstd);
        assert_eq!(a.timestamp_type(), TimestampType::LogAppendTime);
        assert!(a.is_transactional() && a.is_control() && !a.has_delete_horizon());
        assert!(Attributes(0x40).has_delete_horizon());
        assert_eq!(Attributes(0x07).compression(), Err(BatchError::UnknownCompression(7)));
        // Only the low three bits name the codec.
        assert_eq!(Attributes(0x0101).compression().unwrap(), Compression::Gzip);
    }

    #[test]
    fn parse_rejects_short_mismatched_and_old_formats() {
        assert!(matches!(RecordBatch::parse(&[0u8; 60]), Err(BatchError::Corrupt(_))));
        let mut buf = [0u8; 61];
        buf[LENGTH..LENGTH + 4].copy_from_slice(&49i32.to_be_bytes());
        buf[MAGIC] = 2;
        assert!(RecordBatch::parse(&buf).is_ok());
        buf[MAGIC] = 1;
        assert_eq!(RecordBatch::parse(&buf), Err(BatchError::UnsupportedMagic(1)));
        buf[MAGIC] = 2;
        buf[LENGTH..LENGTH + 4].copy_from_slice(&50i32.to_be_bytes());
        assert!(matches!(RecordBatch::parse(&buf), Err(BatchError::Corrupt(_))));
        buf[LENGTH..LENGTH + 4].copy_from_slice(&i32::MIN.to_be_bytes());
        assert!(matches!(RecordBatch::parse(&buf), Err(BatchError::Corrupt(_))));
    }
}
