//! Full validation of one batch, as a leader must do before appending client bytes.
//!
//! Header checks run first and cost nothing but the CRC; the records are then walked once. For
//! an uncompressed batch the walk reads the records in place and allocates nothing (on success);
//! a compressed batch is decompressed under a hard size cap first.

use super::Compression;
use super::codec::{decompress, decompression_limit};
use super::control::check_control_record;
use super::header::RecordBatch;
use super::record::read_record;
use super::varint::Reader;
use crate::error::BatchError;

fn invalid(msg: String) -> BatchError {
    BatchError::InvalidRecord(msg)
}

impl RecordBatch<'_> {
    /// Checks everything about the batch that does not depend on log or producer state:
    ///
    /// - framing (already guaranteed by [`RecordBatch::parse`]: length and magic);
    /// - the CRC-32C ([`BatchError::CrcMismatch`]);
    /// - a known codec ([`BatchError::UnknownCompression`]);
    /// - `recordsCount > 0` and `== lastOffsetDelta + 1`;
    /// - transactional and control batches carry a producer id; a producer id on a data batch
    ///   requires `baseSequence ≥ 0`;
    /// - every record: well-formed varints, lengths within bounds, attributes 0 (Kafka defines
    ///   no record attributes), offset deltas exactly `0..n−1` in order, header keys UTF-8, no
    ///   bytes left inside or after the records, exactly `recordsCount` records;
    /// - a control batch holds exactly one record with a key of ≥ 4 bytes, a non-negative key
    ///   version and a known type (ABORT, COMMIT or a KRaft type 2–6); ABORT/COMMIT also need a
    ///   value of ≥ 6 bytes with a non-negative version.
    ///
    /// Record-level failures are [`BatchError::InvalidRecord`]; a payload that does not
    /// decompress, or decompresses past [`super::decompression_limit`], is
    /// [`BatchError::Decompression`].
    pub fn validate(&self) -> Result<(), BatchError> {
        self.validate_with_limit(decompression_limit(self.payload().len()))
    }

    /// [`RecordBatch::validate`] with an explicit cap on the decompressed size.
    pub fn validate_with_limit(&self, max_decompressed: usize) -> Result<(), BatchError> {
        let codec = self.validate_header()?;
        match codec {
            Compression::None => self.walk_records(self.payload()),
            codec => self.walk_records(&decompress(codec, self.payload(), max_decompressed)?),
        }
    }

    /// The header-only part of [`RecordBatch::validate`] (CRC, codec, counts, producer fields);
    /// returns the codec. Cheap enough for recovery scans that do not decode records.
    pub fn validate_header(&self) -> Result<Compression, BatchError> {
        let (stored, computed) = (self.crc(), self.compute_crc());
        if stored != computed {
            return Err(BatchError::CrcMismatch { stored, computed });
        }
        let codec = self.compression()?;
        let count = self.records_count();
        if count <= 0 {
            return Err(invalid(format!("batch declares {count} records; at least one is required")));
        }
        let last_delta = self.last_offset_delta();
        if i64::from(count) != i64::from(last_delta) + 1 {
            return Err(invalid(format!(
                "recordsCount {count} does not match lastOffsetDelta {last_delta} (expected {})",
                i64::from(last_delta) + 1
            )));
        }
        if self.is_control() && count != 1 {
            return Err(invalid(format!("control batch holds {count} records; exactly one is required")));
        }
        if (self.is_transactional() || self.is_control()) && !self.has_producer_id() {
            return Err(invalid(format!(
                "{} batch without a producer id (producerId {})",
                if self.is_control() { "control" } else { "transactional" },
                self.producer_id()
            )));
        }
        if self.has_producer_id() && !self.is_control() && self.base_sequence() < 0 {
            return Err(invalid(format!(
                "batch of producer {} has invalid base sequence {}",
                self.producer_id(),
                self.base_sequence()
            )));
        }
        Ok(codec)
    }

    /// Walks the (uncompressed) records section, checking every record.
    fn walk_records(&self, data: &[u8]) -> Result<(), BatchError> {
        // validate_header guarantees count ≥ 1.
        let count = self.records_count();
        let mut reader = Reader::new(data);
        let mut first = None;
        for i in 0..count {
            let at = |e: BatchError| match e {
                BatchError::InvalidRecord(m) => invalid(format!("record {i}: {m}")),
                other => other,
            };
            let record = read_record(&mut reader).map_err(at)?;
            if record.attributes != 0 {
                return Err(invalid(format!("record {i}: attributes {:#04x}, must be 0", record.attributes)));
            }
            if record.offset_delta != i {
                return Err(invalid(format!(
                    "record {i}: offset delta {} out of order",
                    record.offset_delta
                )));
            }
            if first.is_none() {
                first = Some(record);
            }
        }
        if !reader.is_empty() {
            return Err(invalid(format!(
                "{} bytes left over after the last of {count} records",
                reader.remaining()
            )));
        }
        if self.is_control()
            && let Some(record) = first
        {
            check_control_record(record.key, record.value)?;
        }
        Ok(())
    }
}
