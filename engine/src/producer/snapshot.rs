//! Kafka's producer `.snapshot` file format, version 1 (`ProducerSnapshot.json`).
//!
//! ```text
//! version i16 = 1 | crc u32 | count i32 | count × entry (46 bytes)
//! entry = producerId i64 · epoch i16 · lastSequence i32 · lastOffset i64 · offsetDelta i32 ·
//!         timestamp i64 · coordinatorEpoch i32 · currentTxnFirstOffset i64
//! ```
//! Big-endian; the CRC-32C (Castagnoli) covers bytes `[6, end)`, i.e. the count and the entries.
//! Only each producer's last batch is stored, so after a reload duplicates are detected against
//! that batch only. `lastOffset = −1` means the producer has only a marker;
//! `currentTxnFirstOffset = −1` means no open transaction.
//!
//! Decoding is strict: a short file, a bad version, a CRC mismatch, a negative count, or a length
//! that is not exactly `10 + 46 × count` makes the snapshot corrupt, and the log must delete it and
//! fall back to an older one (KAFKA-9892 / KAFKA-17181). No allocation is sized from the count
//! before the length has been checked against it.

use super::entry::{BatchMetadata, ProducerStateEntry};

/// The only snapshot version Kafka writes and reads.
pub const SNAPSHOT_VERSION: i16 = 1;
/// Bytes before the first entry: version (2) + crc (4) + count (4).
pub const SNAPSHOT_HEADER_LEN: usize = 10;
/// Bytes per entry.
pub const SNAPSHOT_ENTRY_LEN: usize = 46;
/// The CRC covers everything from this offset (after version and crc).
const CRC_START: usize = 6;

/// Why snapshot bytes were rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// Fewer bytes than the 10-byte header.
    #[error("producer snapshot is {len} bytes, shorter than its 10-byte header")]
    TooShort {
        /// Length of the input.
        len: usize,
    },
    /// A version other than 1.
    #[error("producer snapshot has unknown version {0}")]
    UnsupportedVersion(i16),
    /// The stored CRC-32C does not match the bytes.
    #[error("producer snapshot CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch {
        /// CRC in the header.
        stored: u32,
        /// CRC of bytes `[6, end)`.
        computed: u32,
    },
    /// The entry count is negative.
    #[error("producer snapshot has negative entry count {0}")]
    NegativeCount(i32),
    /// The length does not match the entry count (truncated, or trailing bytes).
    #[error("producer snapshot of {actual} bytes declares {count} entries, which take {expected} bytes")]
    LengthMismatch {
        /// Declared entry count.
        count: i32,
        /// `10 + 46 × count`.
        expected: u64,
        /// Actual length.
        actual: usize,
    },
}

/// One producer in a snapshot, field for field as on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SnapshotEntry {
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i16,
    /// Last sequence of the producer's last batch (−1 if none).
    pub last_sequence: i32,
    /// Last offset of the producer's last batch (−1: the producer has only a marker).
    pub last_offset: i64,
    /// `last_offset − first offset` of that batch (0 if none).
    pub offset_delta: i32,
    /// The producer's last timestamp (also the last batch's timestamp on reload).
    pub timestamp: i64,
    /// Coordinator epoch of the last marker (−1 if none).
    pub coordinator_epoch: i32,
    /// First offset of the open transaction, −1 for none.
    pub current_txn_first_offset: i64,
}

impl From<&ProducerStateEntry> for SnapshotEntry {
    fn from(e: &ProducerStateEntry) -> Self {
        Self {
            producer_id: e.producer_id(),
            producer_epoch: e.producer_epoch(),
            last_sequence: e.last_seq(),
            last_offset: e.last_data_offset(),
            offset_delta: e.last_offset_delta(),
            timestamp: e.last_timestamp(),
            coordinator_epoch: e.coordinator_epoch(),
            current_txn_first_offset: e.current_txn_first_offset().unwrap_or(-1),
        }
    }
}

impl SnapshotEntry {
    /// The producer state this entry restores (Kafka's `readSnapshot`): the last batch is kept
    /// only if `last_offset ≥ 0`, and its timestamp is the entry's timestamp.
    pub fn to_producer_entry(&self) -> ProducerStateEntry {
        let last_batch = (self.last_offset >= 0).then_some(BatchMetadata {
            last_seq: self.last_sequence,
            last_offset: self.last_offset,
            offset_delta: self.offset_delta,
            timestamp: self.timestamp,
        });
        ProducerStateEntry::from_parts(
            self.producer_id,
            self.producer_epoch,
            self.coordinator_epoch,
            self.timestamp,
            (self.current_txn_first_offset >= 0).then_some(self.current_txn_first_offset),
            last_batch,
        )
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.producer_id.to_be_bytes());
        out.extend_from_slice(&self.producer_epoch.to_be_bytes());
        out.extend_from_slice(&self.last_sequence.to_be_bytes());
        out.extend_from_slice(&self.last_offset.to_be_bytes());
        out.extend_from_slice(&self.offset_delta.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.coordinator_epoch.to_be_bytes());
        out.extend_from_slice(&self.current_txn_first_offset.to_be_bytes());
    }

    fn read_from(b: &[u8; SNAPSHOT_ENTRY_LEN]) -> Self {
        let mut r = Reader { bytes: b, pos: 0 };
        Self {
            producer_id: i64::from_be_bytes(r.take()),
            producer_epoch: i16::from_be_bytes(r.take()),
            last_sequence: i32::from_be_bytes(r.take()),
            last_offset: i64::from_be_bytes(r.take()),
            offset_delta: i32::from_be_bytes(r.take()),
            timestamp: i64::from_be_bytes(r.take()),
            coordinator_epoch: i32::from_be_bytes(r.take()),
            current_txn_first_offset: i64::from_be_bytes(r.take()),
        }
    }
}

/// Fixed-layout cursor over one 46-byte entry; the caller guarantees the length, so `take` never
/// runs past the end.
struct Reader<'a> {
    bytes: &'a [u8; SNAPSHOT_ENTRY_LEN],
    pos: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        out.copy_from_slice(&self.bytes[self.pos..self.pos + N]);
        self.pos += N;
        out
    }
}

/// Encodes a snapshot, entries sorted by producer id (Kafka writes hash-map order; sorting makes
/// the file deterministic and readers do not care about the order).
pub fn encode_snapshot(entries: &[SnapshotEntry]) -> Vec<u8> {
    let mut sorted: Vec<&SnapshotEntry> = entries.iter().collect();
    sorted.sort_by_key(|e| e.producer_id);

    let mut out = Vec::with_capacity(SNAPSHOT_HEADER_LEN + SNAPSHOT_ENTRY_LEN * entries.len());
    out.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
    out.extend_from_slice(&[0u8; 4]); // CRC, filled in below
    // Kafka's array length is an i32; a partition cannot hold 2^31 producers in memory anyway.
    let count = i32::try_from(sorted.len()).unwrap_or(i32::MAX);
    out.extend_from_slice(&count.to_be_bytes());
    for e in sorted.iter().take(usize::try_from(count).unwrap_or(0)) {
        e.write_to(&mut out);
    }
    let crc = crc32c::crc32c(&out[CRC_START..]);
    out[2..CRC_START].copy_from_slice(&crc.to_be_bytes());
    out
}

/// Decodes and validates a snapshot. See the module documentation for what is rejected.
pub fn decode_snapshot(bytes: &[u8]) -> Result<Vec<SnapshotEntry>, SnapshotError> {
    let Some((header, body)) = bytes.split_first_chunk::<SNAPSHOT_HEADER_LEN>() else {
        return Err(SnapshotError::TooShort { len: bytes.len() });
    };
    let version = i16::from_be_bytes([header[0], header[1]]);
    if version != SNAPSHOT_VERSION {
        return Err(SnapshotError::UnsupportedVersion(version));
    }
    let stored = u32::from_be_bytes([header[2], header[3], header[4], header[5]]);
    let computed = crc32c::crc32c(&bytes[CRC_START..]);
    if stored != computed {
        return Err(SnapshotError::CrcMismatch { stored, computed });
    }
    let count = i32::from_be_bytes([header[6], header[7], header[8], header[9]]);
    let Ok(n) = usize::try_from(count) else {
        return Err(SnapshotError::NegativeCount(count));
    };
    // u64 arithmetic cannot overflow: count < 2^31 and 46 < 2^6.
    let expected = SNAPSHOT_HEADER_LEN as u64 + SNAPSHOT_ENTRY_LEN as u64 * n as u64;
    if expected != bytes.len() as u64 {
        return Err(SnapshotError::LengthMismatch { count, expected, actual: bytes.len() });
    }
    // The length check bounds `n` by the input size, so this allocation is safe.
    let mut entries = Vec::with_capacity(n);
    let (chunks, rest) = body.as_chunks::<SNAPSHOT_ENTRY_LEN>();
    debug_assert!(rest.is_empty() && chunks.len() == n);
    for chunk in chunks {
        entries.push(SnapshotEntry::read_from(chunk));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<SnapshotEntry> {
        vec![
            SnapshotEntry {
                producer_id: 11,
                producer_epoch: 12,
                last_sequence: -1,
                last_offset: -1,
                offset_delta: 0,
                timestamp: 123_456,
                coordinator_epoch: 13,
                current_txn_first_offset: -1,
            },
            SnapshotEntry {
                producer_id: 1,
                producer_epoch: 2,
                last_sequence: 1,
                last_offset: 2,
                offset_delta: 3,
                timestamp: -1,
                coordinator_epoch: 3,
                current_txn_first_offset: 100,
            },
        ]
    }

    #[test]
    fn layout_matches_kafka_v1() {
        let bytes = encode_snapshot(&sample());
        assert_eq!(bytes.len(), 10 + 2 * 46);
        assert_eq!(&bytes[0..2], &[0, 1]);
        assert_eq!(&bytes[6..10], &[0, 0, 0, 2]);
        // Sorted by producer id: pid 1 first.
        assert_eq!(&bytes[10..18], &1i64.to_be_bytes());
        assert_eq!(&bytes[18..20], &2i16.to_be_bytes());
        assert_eq!(&bytes[48..56], &100i64.to_be_bytes());
        assert_eq!(&bytes[56..64], &11i64.to_be_bytes());
        let crc = u32::from_be_bytes(bytes[2..6].try_into().unwrap());
        assert_eq!(crc, crc32c::crc32c(&bytes[6..]));
    }

    #[test]
    fn round_trip_and_empty() {
        let mut expected = sample();
        expected.sort_by_key(|e| e.producer_id);
        assert_eq!(decode_snapshot(&encode_snapshot(&sample())).unwrap(), expected);
        let empty = encode_snapshot(&[]);
        assert_eq!(empty.len(), 10);
        assert_eq!(decode_snapshot(&empty).unwrap(), vec![]);
    }

    fn recrc(bytes: &mut [u8]) {
        let crc = crc32c::crc32c(&bytes[6..]);
        bytes[2..6].copy_from_slice(&crc.to_be_bytes());
    }

    #[test]
    fn rejects_every_kind_of_damage() {
        let good = encode_snapshot(&sample());
        assert_eq!(decode_snapshot(&[]), Err(SnapshotError::TooShort { len: 0 }));
        assert_eq!(decode_snapshot(&good[..9]), Err(SnapshotError::TooShort { len: 9 }));

        let mut v = good.clone();
        v[1] = 2;
        assert_eq!(decode_snapshot(&v), Err(SnapshotError::UnsupportedVersion(2)));

        let mut c = good.clone();
        c[40] ^= 0xff;
        assert!(matches!(decode_snapshot(&c), Err(SnapshotError::CrcMismatch { .. })));

        // Truncated but with a valid CRC over what is left: the count no longer fits.
        let mut t = good[..good.len() - 5].to_vec();
        recrc(&mut t);
        assert!(matches!(decode_snapshot(&t), Err(SnapshotError::LengthMismatch { count: 2, .. })));

        // Trailing bytes.
        let mut trailing = good.clone();
        trailing.push(0);
        recrc(&mut trailing);
        assert!(matches!(decode_snapshot(&trailing), Err(SnapshotError::LengthMismatch { .. })));

        // Negative count.
        let mut neg = good[..10].to_vec();
        neg[6..10].copy_from_slice(&(-1i32).to_be_bytes());
        recrc(&mut neg);
        assert_eq!(decode_snapshot(&neg), Err(SnapshotError::NegativeCount(-1)));

        // A huge count with a valid CRC must not allocate: rejected by the length check.
        let mut huge = good[..10].to_vec();
        huge[6..10].copy_from_slice(&i32::MAX.to_be_bytes());
        recrc(&mut huge);
        assert!(matches!(decode_snapshot(&huge), Err(SnapshotError::LengthMismatch { .. })));
    }

    #[test]
    fn entry_conversion_keeps_marker_only_producers_empty() {
        let [marker_only, with_batch] = [sample()[0], sample()[1]];
        let e = marker_only.to_producer_entry();
        assert!(e.is_empty());
        assert_eq!((e.producer_epoch(), e.coordinator_epoch(), e.last_timestamp()), (12, 13, 123_456));
        assert_eq!(SnapshotEntry::from(&e), marker_only);
        let e = with_batch.to_producer_entry();
        assert_eq!(e.batch_metadata().len(), 1);
        assert_eq!(e.current_txn_first_offset(), Some(100));
        assert_eq!(e.first_data_offset(), -1);
        assert_eq!(SnapshotEntry::from(&e), with_batch);
    }
}
