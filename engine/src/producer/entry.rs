//! Per-producer state: epoch, coordinator epoch, open transaction and the dedup window.
//!
//! Kafka keeps the window in an `ArrayDeque`; here it is an inline array of
//! [`NUM_BATCHES_TO_RETAIN`] slots kept oldest-first, so an entry owns no heap memory and a
//! partition holding a million producers costs `size_of::<ProducerStateEntry>()` (152 bytes) per
//! producer plus the index. Evicting the oldest batch shifts four 24-byte slots, which is cheaper
//! than the pointer chasing of a heap deque.

use super::batch::{BatchInfo, decrement_sequence};
use super::{NO_COORDINATOR_EPOCH, NO_PRODUCER_EPOCH, NO_SEQUENCE, NO_TIMESTAMP, NUM_BATCHES_TO_RETAIN};

/// Sentinel stored in place of `Option<i64>` for "no open transaction" (offsets are never
/// negative). Saves 8 bytes per producer; the public accessor still returns an `Option`.
const NO_TXN: i64 = -1;

/// One retained batch of a producer (Kafka's `BatchMetadata`).
///
/// The first sequence and first offset are derived, as in Kafka, so the struct stays at 24 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BatchMetadata {
    /// Last sequence number of the batch.
    pub last_seq: i32,
    /// Offset of the batch's last record.
    pub last_offset: i64,
    /// `last_offset - first_offset` (equal to the sequence delta for data batches).
    pub offset_delta: i32,
    /// The batch's max timestamp (returned as `logAppendTime` for a duplicate).
    pub timestamp: i64,
}

impl BatchMetadata {
    /// First sequence of the batch: `last_seq - offset_delta`, wrapping below 0 to `i32::MAX`.
    pub fn first_seq(&self) -> i32 {
        decrement_sequence(self.last_seq, self.offset_delta)
    }

    /// Offset of the batch's first record.
    pub fn first_offset(&self) -> i64 {
        self.last_offset - i64::from(self.offset_delta)
    }
}

/// The state of one producer id on one partition (Kafka's `ProducerStateEntry`).
///
/// Invariants:
/// - the window holds at most [`NUM_BATCHES_TO_RETAIN`] batches, oldest first, all written with
///   the current `producer_epoch` (any epoch change clears it);
/// - `last_timestamp` is the max timestamp of the last batch or marker applied;
/// - an open transaction (`current_txn_first_offset`) is registered with the manager's ongoing
///   transactions under the same first offset.
#[derive(Debug, Clone)]
pub struct ProducerStateEntry {
    batches: [BatchMetadata; NUM_BATCHES_TO_RETAIN],
    producer_id: i64,
    last_timestamp: i64,
    current_txn_first_offset: i64,
    coordinator_epoch: i32,
    producer_epoch: i16,
    batch_count: u8,
}

/// Equality ignores the unused window slots (they keep stale values after a clear).
impl PartialEq for ProducerStateEntry {
    fn eq(&self, other: &Self) -> bool {
        self.producer_id == other.producer_id
            && self.producer_epoch == other.producer_epoch
            && self.coordinator_epoch == other.coordinator_epoch
            && self.last_timestamp == other.last_timestamp
            && self.current_txn_first_offset == other.current_txn_first_offset
            && self.batch_metadata() == other.batch_metadata()
    }
}

impl Eq for ProducerStateEntry {}

impl ProducerStateEntry {
    /// A producer the partition knows nothing about: epoch −1 (so any sequence is accepted,
    /// KAFKA-6003), no coordinator epoch, no timestamp, no batches.
    pub fn empty(producer_id: i64) -> Self {
        Self {
            batches: [BatchMetadata::default(); NUM_BATCHES_TO_RETAIN],
            producer_id,
            last_timestamp: NO_TIMESTAMP,
            current_txn_first_offset: NO_TXN,
            coordinator_epoch: NO_COORDINATOR_EPOCH,
            producer_epoch: NO_PRODUCER_EPOCH,
            batch_count: 0,
        }
    }

    /// An entry with the given fields and at most one retained batch: what a snapshot entry
    /// restores (Kafka stores only each producer's last batch).
    pub fn from_parts(
        producer_id: i64,
        producer_epoch: i16,
        coordinator_epoch: i32,
        last_timestamp: i64,
        current_txn_first_offset: Option<i64>,
        last_batch: Option<BatchMetadata>,
    ) -> Self {
        let mut entry = Self::empty(producer_id);
        entry.producer_epoch = producer_epoch;
        entry.coordinator_epoch = coordinator_epoch;
        entry.last_timestamp = last_timestamp;
        entry.set_current_txn_first_offset(current_txn_first_offset);
        if let Some(batch) = last_batch {
            entry.push_batch(batch);
        }
        entry
    }

    /// The staging copy Kafka's `ProducerAppendInfo` starts from
    /// (`withProducerIdAndBatchMetadata(pid, empty)`): same epochs, timestamp and open
    /// transaction, but an **empty** window. Only the batches of the current append are staged;
    /// [`Self::apply_staged`] merges them into the committed window.
    pub(crate) fn staging_copy(&self) -> Self {
        Self { batch_count: 0, ..self.clone() }
    }

    /// Producer id.
    pub fn producer_id(&self) -> i64 {
        self.producer_id
    }

    /// Current producer epoch (−1 when unknown).
    pub fn producer_epoch(&self) -> i16 {
        self.producer_epoch
    }

    /// Epoch of the last transaction coordinator that wrote a marker (−1 if none).
    pub fn coordinator_epoch(&self) -> i32 {
        self.coordinator_epoch
    }

    /// Max timestamp of the last batch or marker.
    pub fn last_timestamp(&self) -> i64 {
        self.last_timestamp
    }

    /// First offset of the open transaction, if one is open.
    pub fn current_txn_first_offset(&self) -> Option<i64> {
        (self.current_txn_first_offset >= 0).then_some(self.current_txn_first_offset)
    }

    /// The retained batches (the dedup window), oldest first, at most five.
    pub fn batch_metadata(&self) -> &[BatchMetadata] {
        &self.batches[..usize::from(self.batch_count)]
    }

    /// Whether no batch is retained (new producer, or only a marker since the last epoch change).
    pub fn is_empty(&self) -> bool {
        self.batch_count == 0
    }

    fn first_batch(&self) -> Option<&BatchMetadata> {
        self.batch_metadata().first()
    }

    fn last_batch(&self) -> Option<&BatchMetadata> {
        self.batch_metadata().last()
    }

    /// First sequence of the oldest retained batch, −1 if none.
    pub fn first_seq(&self) -> i32 {
        self.first_batch().map_or(NO_SEQUENCE, BatchMetadata::first_seq)
    }

    /// Last sequence of the newest retained batch, −1 if none.
    pub fn last_seq(&self) -> i32 {
        self.last_batch().map_or(NO_SEQUENCE, |b| b.last_seq)
    }

    /// First offset of the oldest retained batch, −1 if none.
    pub fn first_data_offset(&self) -> i64 {
        self.first_batch().map_or(-1, BatchMetadata::first_offset)
    }

    /// Last offset of the newest retained batch, −1 if none (what a snapshot stores as
    /// `lastOffset`; −1 means the producer only has a marker).
    pub fn last_data_offset(&self) -> i64 {
        self.last_batch().map_or(-1, |b| b.last_offset)
    }

    /// Offset delta of the newest retained batch, 0 if none.
    pub fn last_offset_delta(&self) -> i32 {
        self.last_batch().map_or(0, |b| b.offset_delta)
    }

    /// The retained batch that `batch` duplicates, if any (Kafka's `findDuplicateBatch`).
    ///
    /// A duplicate has the entry's epoch and **exactly** the same first and last sequence as a
    /// retained batch; a partial overlap is not a duplicate (it fails the sequence check with
    /// OUT_OF_ORDER_SEQUENCE_NUMBER instead). At most five comparisons.
    pub fn find_duplicate_batch(&self, batch: &BatchInfo) -> Option<BatchMetadata> {
        if batch.is_control() || batch.producer_epoch != self.producer_epoch {
            return None;
        }
        self.batch_metadata()
            .iter()
            .find(|b| b.first_seq() == batch.base_sequence && b.last_seq == batch.last_sequence)
            .copied()
    }

    /// Adopts `epoch`; a change clears the window (reference §3: "any epoch change clears the
    /// deque"), so sequences restart at 0 under the new epoch.
    fn maybe_update_producer_epoch(&mut self, epoch: i16) {
        if self.producer_epoch != epoch {
            self.batch_count = 0;
            self.producer_epoch = epoch;
        }
    }

    /// Appends to the window, evicting the oldest batch when five are retained.
    fn push_batch(&mut self, batch: BatchMetadata) {
        let count = usize::from(self.batch_count);
        if count == NUM_BATCHES_TO_RETAIN {
            self.batches.copy_within(1.., 0);
            self.batches[NUM_BATCHES_TO_RETAIN - 1] = batch;
        } else {
            self.batches[count] = batch;
            self.batch_count += 1;
        }
    }

    /// Kafka's `addBatch`: a data batch under `epoch`.
    pub(crate) fn add_batch(&mut self, epoch: i16, batch: BatchMetadata) {
        self.maybe_update_producer_epoch(epoch);
        self.push_batch(batch);
        self.last_timestamp = batch.timestamp;
    }

    /// Kafka's `update(epoch, coordinatorEpoch, timestamp)`: an end-transaction marker. The marker
    /// refreshes `last_timestamp` (KAFKA-9144: otherwise a producer whose last write is a marker
    /// expires too early) and closes the open transaction.
    pub(crate) fn apply_marker(&mut self, epoch: i16, coordinator_epoch: i32, timestamp: i64) {
        self.maybe_update_producer_epoch(epoch);
        self.coordinator_epoch = coordinator_epoch;
        self.current_txn_first_offset = NO_TXN;
        self.last_timestamp = timestamp;
    }

    pub(crate) fn set_current_txn_first_offset(&mut self, first_offset: Option<i64>) {
        self.current_txn_first_offset = first_offset.filter(|o| *o >= 0).unwrap_or(NO_TXN);
    }

    /// Kafka's `update(nextEntry)`: merges a staged copy (see [`Self::staging_copy`]) into this
    /// committed entry. The staged epoch wins (clearing the window if it changed), the staged
    /// batches are appended in order, and the scalar fields are taken from the staged copy.
    pub(crate) fn apply_staged(&mut self, staged: &ProducerStateEntry) {
        self.maybe_update_producer_epoch(staged.producer_epoch);
        for batch in staged.batch_metadata() {
            self.push_batch(*batch);
        }
        self.coordinator_epoch = staged.coordinator_epoch;
        self.current_txn_first_offset = staged.current_txn_first_offset;
        self.last_timestamp = staged.last_timestamp;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(last_seq: i32, last_offset: i64, delta: i32) -> BatchMetadata {
        BatchMetadata { last_seq, last_offset, offset_delta: delta, timestamp: last_offset * 10 }
    }

    #[test]
    fn entry_is_compact() {
        assert_eq!(std::mem::size_of::<BatchMetadata>(), 24);
        assert_eq!(std::mem::size_of::<ProducerStateEntry>(), 152);
    }

    #[test]
    fn window_keeps_the_last_five_oldest_first() {
        let mut e = ProducerStateEntry::empty(1);
        for i in 0..8 {
            e.add_batch(0, meta(i, i64::from(i), 0));
            assert_eq!(e.last_seq(), i);
        }
        let seqs: Vec<i32> = e.batch_metadata().iter().map(|b| b.last_seq).collect();
        assert_eq!(seqs, vec![3, 4, 5, 6, 7]);
        assert_eq!(e.first_seq(), 3);
        assert_eq!(e.last_timestamp(), 70);
        // An epoch change clears the window.
        e.add_batch(1, meta(0, 9, 0));
        assert_eq!(e.batch_metadata().len(), 1);
        assert_eq!(e.producer_epoch(), 1);
    }

    #[test]
    fn derived_fields_wrap() {
        let b = meta(9, 2020, 20);
        assert_eq!(b.first_seq(), i32::MAX - 10);
        assert_eq!(b.first_offset(), 2000);
        let e = ProducerStateEntry::empty(4);
        assert_eq!(
            (e.first_seq(), e.last_seq(), e.last_data_offset(), e.first_data_offset()),
            (-1, -1, -1, -1)
        );
        assert_eq!(e.last_offset_delta(), 0);
        assert_eq!(e.current_txn_first_offset(), None);
    }

    #[test]
    fn apply_staged_merges_like_kafka_update() {
        let mut committed = ProducerStateEntry::empty(1);
        for i in 0..4 {
            committed.add_batch(0, meta(i, i64::from(i), 0));
        }
        let mut staged = committed.staging_copy();
        assert!(staged.is_empty());
        staged.add_batch(0, meta(4, 4, 0));
        staged.add_batch(0, meta(5, 5, 0));
        staged.set_current_txn_first_offset(Some(4));
        committed.apply_staged(&staged);
        let seqs: Vec<i32> = committed.batch_metadata().iter().map(|b| b.last_seq).collect();
        assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
        assert_eq!(committed.current_txn_first_offset(), Some(4));

        // A staged marker with a new epoch clears the committed window on merge.
        let mut staged = committed.staging_copy();
        staged.apply_marker(1, 7, 99);
        committed.apply_staged(&staged);
        assert!(committed.is_empty());
        assert_eq!((committed.producer_epoch(), committed.coordinator_epoch()), (1, 7));
        assert_eq!(committed.last_timestamp(), 99);
        assert_eq!(committed.current_txn_first_offset(), None);
    }
}
