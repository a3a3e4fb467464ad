//! The small value types exchanged between the partition log and the producer state.
//!
//! The log never hands raw bytes to this module: it describes each batch that carries a producer
//! id with a [`BatchInfo`], filled from the 61-byte header after the leader assigned offsets.

/// Who is appending, which decides how much validation a batch gets (Kafka's `AppendOrigin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppendOrigin {
    /// A producer's request: duplicate detection, verification, epoch, sequence and transaction
    /// checks all apply.
    Client,
    /// The transaction or group coordinator (end-transaction markers, transactional offset
    /// commits): epoch, coordinator-epoch and verification checks, but no sequence checks (offset
    /// commits carry no sequence numbers).
    Coordinator,
    /// A follower copying the leader, or recovery replaying the log: the leader validated the
    /// batch already, so epoch and coordinator-epoch regressions are only logged and sequences are
    /// not checked at all (KAFKA-6003: a follower without state must never loop on
    /// OUT_OF_ORDER_SEQUENCE_NUMBER; KAFKA-9144: replay must be lenient).
    Replication,
}

/// The end-transaction marker carried by a control batch.
///
/// Control batches whose record is not COMMIT or ABORT (or that the cleaner emptied) are not given
/// to the producer state at all: Kafka ignores them too (`ProducerAppendInfo.append` returns
/// nothing for an empty control batch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ControlMarker {
    /// `true` for COMMIT (control type 1), `false` for ABORT (control type 0).
    pub commit: bool,
    /// The coordinator epoch stored in the marker's value.
    pub coordinator_epoch: i32,
    /// The transaction protocol version of the coordinator that wrote the marker (the
    /// `WriteTxnMarkers` request carries it; the bytes on disk do not). `0` or `1`: the classic
    /// protocol, where a marker may carry the same epoch as the transaction's data. `2` or more:
    /// KIP-890 part 2 (TV2), where every marker carries a bumped epoch and must be strictly newer
    /// than the producer's epoch, except for an idempotent retry (KAFKA-19999).
    ///
    /// Ignored for [`AppendOrigin::Replication`]: followers and recovery cannot know it, and Kafka
    /// applies the lenient legacy rule there.
    pub transaction_version: u8,
}

impl ControlMarker {
    /// Whether the strict TV2 marker-epoch rule applies.
    pub fn is_tv2(&self) -> bool {
        self.transaction_version >= 2
    }
}

/// What the producer state needs to know about one batch that has a producer id.
///
/// The log fills it from the batch header after offsets are assigned. `last_sequence` is
/// `base_sequence + last_offset_delta` with Kafka's wrap past `i32::MAX` (see
/// [`increment_sequence`]); for markers and coordinator offset commits it is whatever the header
/// says (normally `-1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BatchInfo {
    /// Producer id (≥ 0; batches without one never reach the producer state).
    pub producer_id: i64,
    /// Producer epoch from the header.
    pub producer_epoch: i16,
    /// First sequence number of the batch.
    pub base_sequence: i32,
    /// Last sequence number of the batch (wrapped).
    pub last_sequence: i32,
    /// Offset of the first record (assigned by the leader).
    pub first_offset: i64,
    /// Offset of the last record.
    pub last_offset: i64,
    /// The header's `maxTimestamp`. It becomes the producer's `last_timestamp`, which drives
    /// expiry (reference §3: the client's CreateTime, or the marker time for markers).
    pub max_timestamp: i64,
    /// The transactional attribute bit.
    pub is_transactional: bool,
    /// `Some` for a control batch holding a COMMIT or ABORT record, `None` for data.
    pub control: Option<ControlMarker>,
    /// Number of records in the batch.
    pub record_count: i32,
}

impl BatchInfo {
    /// Whether this is an end-transaction marker.
    pub fn is_control(&self) -> bool {
        self.control.is_some()
    }

    /// `last_offset - first_offset`, the delta stored in [`super::BatchMetadata`].
    pub fn offset_delta(&self) -> i32 {
        // Offsets of one batch always differ by less than 2^31 (lastOffsetDelta is an i32).
        i32::try_from(self.last_offset - self.first_offset).unwrap_or(i32::MAX)
    }
}

/// A transaction that a marker completed in this append.
///
/// Emitted only for transactions that wrote data on this partition: a marker without an open
/// transaction ("empty transaction") changes nothing for the LSO and gets no `.txnindex` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CompletedTxn {
    /// Producer id.
    pub producer_id: i64,
    /// Offset of the transaction's first data batch on this partition.
    pub first_offset: i64,
    /// Offset of the COMMIT/ABORT marker.
    pub last_offset: i64,
    /// `true` when the marker is an ABORT (then the log writes a `.txnindex` entry).
    pub is_aborted: bool,
}

/// An open transaction, as reported to an embedder looking for hanging transactions (KIP-664).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OngoingTxn {
    /// Producer id.
    pub producer_id: i64,
    /// Offset of the transaction's first data batch on this partition.
    pub first_offset: i64,
    /// The producer's last timestamp (its last batch's max timestamp). Kafka reports a partition
    /// with a *late* transaction when this is older than `transaction.max.timeout.ms` + 5 minutes.
    pub last_timestamp: i64,
}

/// Kafka's `DefaultRecordBatch.incrementSequence`: `sequence + increment`, wrapping from
/// `i32::MAX` to 0 (sequences never go negative).
pub fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    if sequence > i32::MAX - increment { increment - (i32::MAX - sequence) - 1 } else { sequence + increment }
}

/// Kafka's `DefaultRecordBatch.decrementSequence`: `sequence - decrement`, wrapping from 0 back
/// to `i32::MAX`.
pub fn decrement_sequence(sequence: i32, decrement: i32) -> i32 {
    if sequence < decrement {
        // `i32::MAX - (decrement - sequence) + 1`, ordered so that no step overflows.
        i32::MAX - (decrement - sequence - 1)
    } else {
        sequence - decrement
    }
}

/// The sequence that must follow `last_seq` (`last_seq + 1`, `i32::MAX` wraps to 0).
pub fn next_sequence(last_seq: i32) -> i32 {
    if last_seq == i32::MAX { 0 } else { last_seq + 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_arithmetic_wraps_like_kafka() {
        assert_eq!(increment_sequence(5, 3), 8);
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 10, 20), 9);
        assert_eq!(decrement_sequence(9, 20), i32::MAX - 10);
        assert_eq!(decrement_sequence(0, 1), i32::MAX);
        assert_eq!(decrement_sequence(8, 3), 5);
        // Kafka's arithmetic is literal: NO_SEQUENCE (-1) "wraps" too. Only client batches,
        // which always carry real sequences, are ever compared by first sequence.
        assert_eq!(decrement_sequence(-1, 0), i32::MAX);
        assert_eq!(next_sequence(i32::MAX), 0);
        assert_eq!(next_sequence(-1), 0);
        for (s, d) in [(0, 0), (3, 7), (i32::MAX, 4), (100, 100)] {
            assert_eq!(decrement_sequence(increment_sequence(s, d), d), s);
        }
    }
}
