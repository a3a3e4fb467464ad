//! [`RecordBatchBuilder`]: encodes records into one RecordBatch v2, as a Kafka producer does.
//!
//! Records are encoded as they are appended into one uncompressed buffer; `build` compresses it
//! as one stream, writes the header and computes the CRC. The first record's timestamp is the
//! batch's `baseTimestamp` (later records may be earlier: deltas are signed), offset deltas run
//! 0..n−1, and `lastOffsetDelta = n − 1`.

use super::codec::compress;
use super::frame::MAX_BATCH_LENGTH;
use super::header::Attributes;
use super::layout::*;
use super::varint::{put_varint, put_varlong, varint_size, varlong_size};
use super::{
    Compression, HEADER_SIZE, LOG_OVERHEAD, MAGIC_V2, NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH,
    NO_PRODUCER_ID, NO_SEQUENCE,
};
use crate::config::TimestampType;
use crate::error::BatchError;

/// Builds one RecordBatch v2.
///
/// Configuration methods take and return the builder by value; [`RecordBatchBuilder::append`]
/// takes `&mut self`, so both of these work:
///
/// ```
/// use eoslog::batch::{Compression, RecordBatch, RecordBatchBuilder};
/// let mut builder = RecordBatchBuilder::new().compression(Compression::Lz4).producer(7, 0, 0);
/// builder.append(1_700_000_000_000, Some(b"k"), Some(b"v"), &[("h", None)]);
/// let bytes = builder.build().unwrap();
/// RecordBatch::parse(&bytes).unwrap().validate().unwrap();
///
/// let one = RecordBatchBuilder::new().append(0, None, Some(b"x"), &[]).build().unwrap();
/// assert_eq!(RecordBatch::parse(&one).unwrap().records_count(), 1);
/// ```
///
/// The builder writes exactly what it is told: it does not reject, say, a transactional batch
/// without a producer id (use [`super::RecordBatch::validate`] to check a batch).
#[derive(Debug, Clone)]
pub struct RecordBatchBuilder {
    compression: Compression,
    timestamp_type: TimestampType,
    base_offset: i64,
    partition_leader_epoch: i32,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    transactional: bool,
    control: bool,
    count: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    /// The encoded (uncompressed) records.
    body: Vec<u8>,
    /// First append that could not be encoded; reported by `build`.
    error: Option<String>,
}

impl Default for RecordBatchBuilder {
    fn default() -> Self {
        RecordBatchBuilder::new()
    }
}

fn len_i32(len: usize, what: &str) -> Result<i32, String> {
    i32::try_from(len).map_err(|_| format!("{what} of {len} bytes is too large to encode"))
}

fn nullable_size(bytes: Option<&[u8]>, what: &str) -> Result<usize, String> {
    match bytes {
        None => Ok(varint_size(-1)),
        Some(b) => Ok(varint_size(len_i32(b.len(), what)?) + b.len()),
    }
}

fn put_nullable(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => put_varint(out, -1),
        Some(b) => {
            // Lengths were checked to fit in i32 by `nullable_size`.
            put_varint(out, b.len() as i32);
            out.extend_from_slice(b);
        }
    }
}

/// Appends one encoded record to `out`. Sizes are computed (and checked) before anything is
/// written, so on error `out` is unchanged.
fn encode_record(
    out: &mut Vec<u8>,
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[(&str, Option<&[u8]>)],
) -> Result<(), String> {
    let overflow = || "record is too large to encode".to_string();
    let header_count = len_i32(headers.len(), "header list")?;
    let mut size = 1 + varlong_size(timestamp_delta) + varint_size(offset_delta);
    for part in [nullable_size(key, "key")?, nullable_size(value, "value")?, varint_size(header_count)] {
        size = size.checked_add(part).ok_or_else(overflow)?;
    }
    for (k, v) in headers {
        let part =
            varint_size(len_i32(k.len(), "header key")?) + k.len() + nullable_size(*v, "header value")?;
        size = size.checked_add(part).ok_or_else(overflow)?;
    }
    let size = len_i32(size, "record")?;
    out.reserve(varint_size(size) + size as usize);
    put_varint(out, size);
    out.push(0); // record attributes: none are defined
    put_varlong(out, timestamp_delta);
    put_varint(out, offset_delta);
    put_nullable(out, key);
    put_nullable(out, value);
    put_varint(out, header_count);
    for (k, v) in headers {
        put_nullable(out, Some(k.as_bytes()));
        put_nullable(out, *v);
    }
    Ok(())
}

impl RecordBatchBuilder {
    /// An empty builder: uncompressed, CreateTime, base offset 0, no leader epoch, no producer
    /// id/epoch/sequence, not transactional.
    pub fn new() -> Self {
        RecordBatchBuilder {
            compression: Compression::None,
            timestamp_type: TimestampType::CreateTime,
            base_offset: 0,
            partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            base_sequence: NO_SEQUENCE,
            transactional: false,
            control: false,
            count: 0,
            base_timestamp: -1,
            max_timestamp: -1,
            body: Vec::new(),
            error: None,
        }
    }

    /// The codec for the records section.
    #[must_use = "builder methods return the updated builder"]
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Producer id, epoch and the sequence of the first record (idempotent/transactional
    /// producers; the defaults are −1).
    #[must_use = "builder methods return the updated builder"]
    pub fn producer(mut self, producer_id: i64, producer_epoch: i16, base_sequence: i32) -> Self {
        self.producer_id = producer_id;
        self.producer_epoch = producer_epoch;
        self.base_sequence = base_sequence;
        self
    }

    /// Marks the batch as part of a transaction.
    #[must_use = "builder methods return the updated builder"]
    pub fn transactional(mut self, transactional: bool) -> Self {
        self.transactional = transactional;
        self
    }

    /// Marks the batch as a control batch (only end-transaction markers use this).
    #[must_use = "builder methods return the updated builder"]
    pub(crate) fn control(mut self, control: bool) -> Self {
        self.control = control;
        self
    }

    /// The base offset to write (a leader overwrites it on append).
    #[must_use = "builder methods return the updated builder"]
    pub fn base_offset(mut self, base_offset: i64) -> Self {
        self.base_offset = base_offset;
        self
    }

    /// The partition leader epoch to write (a leader overwrites it on append).
    #[must_use = "builder methods return the updated builder"]
    pub fn partition_leader_epoch(mut self, epoch: i32) -> Self {
        self.partition_leader_epoch = epoch;
        self
    }

    /// The timestamp type bit. With LogAppendTime, `maxTimestamp` is still the largest appended
    /// timestamp; a leader stamps its own clock with [`super::set_log_append_time`].
    #[must_use = "builder methods return the updated builder"]
    pub fn timestamp_type(mut self, timestamp_type: TimestampType) -> Self {
        self.timestamp_type = timestamp_type;
        self
    }

    /// Appends a record. `None` key/value/header values are null; header keys are UTF-8 by
    /// construction. A record that cannot be encoded (a field over `i32::MAX` bytes) is not
    /// added, and makes [`RecordBatchBuilder::build`] fail.
    pub fn append(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, Option<&[u8]>)],
    ) -> &mut Self {
        if self.error.is_some() {
            return self;
        }
        if self.count == i32::MAX {
            self.error = Some("a batch holds at most i32::MAX records".into());
            return self;
        }
        let base = if self.count == 0 { timestamp } else { self.base_timestamp };
        match encode_record(&mut self.body, timestamp.wrapping_sub(base), self.count, key, value, headers) {
            Ok(()) => {
                if self.count == 0 {
                    self.base_timestamp = timestamp;
                    self.max_timestamp = timestamp;
                } else {
                    self.max_timestamp = self.max_timestamp.max(timestamp);
                }
                self.count += 1;
            }
            Err(e) => self.error = Some(e),
        }
        self
    }

    /// Number of records appended.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// True before the first append.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Size of the batch if it were built uncompressed: header plus encoded records. Compressed
    /// batches are usually smaller.
    pub fn estimated_size(&self) -> usize {
        HEADER_SIZE + self.body.len()
    }

    /// Encodes the batch. Fails with [`BatchError::InvalidRecord`] if no record was appended,
    /// a record could not be encoded, or the batch would exceed Kafka's size limit; with
    /// [`BatchError::Decompression`] if the compressor fails.
    pub fn build(&self) -> Result<Vec<u8>, BatchError> {
        if let Some(e) = &self.error {
            return Err(BatchError::InvalidRecord(e.clone()));
        }
        if self.count == 0 {
            return Err(BatchError::InvalidRecord("cannot build a batch with no records".into()));
        }
        let mut out = Vec::with_capacity(HEADER_SIZE + self.body.len());
        out.resize(HEADER_SIZE, 0);
        compress(self.compression, &self.body, &mut out)?;
        if out.len() - LOG_OVERHEAD > MAX_BATCH_LENGTH as usize {
            return Err(BatchError::InvalidRecord(format!("batch of {} bytes is too large", out.len())));
        }
        self.write_header(&mut out, self.compression);
        Ok(out)
    }

    /// Encodes the batch uncompressed, ignoring the configured codec. For the crate's own small
    /// batches (markers) whose encoding cannot fail.
    pub(crate) fn build_uncompressed(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_SIZE + self.body.len());
        out.resize(HEADER_SIZE, 0);
        out.extend_from_slice(&self.body);
        self.write_header(&mut out, Compression::None);
        out
    }

    /// Fills the 61-byte header of `out` (header placeholder followed by the records section)
    /// and its CRC.
    fn write_header(&self, out: &mut [u8], compression: Compression) {
        let attributes = Attributes::new(compression, self.timestamp_type, self.transactional, self.control);
        // Callers ensure the size fits; saturate rather than wrap if one ever does not.
        let batch_length = i32::try_from(out.len() - LOG_OVERHEAD).unwrap_or(i32::MAX);
        let mut put = |at: usize, bytes: &[u8]| out[at..at + bytes.len()].copy_from_slice(bytes);
        put(BASE_OFFSET, &self.base_offset.to_be_bytes());
        put(LENGTH, &batch_length.to_be_bytes());
        put(PARTITION_LEADER_EPOCH, &self.partition_leader_epoch.to_be_bytes());
        put(MAGIC, &MAGIC_V2.to_be_bytes());
        put(ATTRIBUTES, &attributes.0.to_be_bytes());
        put(LAST_OFFSET_DELTA, &(self.count - 1).max(0).to_be_bytes());
        put(BASE_TIMESTAMP, &self.base_timestamp.to_be_bytes());
        put(MAX_TIMESTAMP, &self.max_timestamp.to_be_bytes());
        put(PRODUCER_ID, &self.producer_id.to_be_bytes());
        put(PRODUCER_EPOCH, &self.producer_epoch.to_be_bytes());
        put(BASE_SEQUENCE, &self.base_sequence.to_be_bytes());
        put(RECORDS_COUNT, &self.count.to_be_bytes());
        let crc = crc32c::crc32c(&out[ATTRIBUTES..]);
        out[CRC..CRC + 4].copy_from_slice(&crc.to_be_bytes());
    }
}
