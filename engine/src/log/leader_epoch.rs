//! The leader epoch history of a partition (Kafka's `LeaderEpochFileCache`): which leader epoch
//! began at which offset, kept in memory and persisted in `leader-epoch-checkpoint`.
//!
//! A replicating broker needs it to answer `OffsetsForLeaderEpoch` (where did epoch N end?), so
//! that a follower can truncate exactly the records a new leader does not have.
//!
//! Invariant: entries are ordered with epochs *and* start offsets strictly increasing.
//! [`LeaderEpochCache::assign`] keeps it by removing the conflicting later entries.
//!
//! Persistence choice: every mutator that changes the history rewrites the checkpoint before it
//! returns (crash-safe write, fsynced). Kafka does this synchronously for `assign` and
//! asynchronously for truncations; eoslog has no scheduler in this layer and truncations are rare,
//! so it always writes at once, and the file never lags memory. If a write fails the in-memory
//! change stays, the cache is marked dirty and the error is returned; [`LeaderEpochCache::flush`]
//! writes a dirty cache again.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::io::IoBackend;

pub use super::checkpoint::EpochEntry;
use super::checkpoint::LeaderEpochCheckpointFile;

/// Kafka's `UNDEFINED_EPOCH`: no epoch is known.
pub const UNDEFINED_EPOCH: i32 = -1;
/// Kafka's `UNDEFINED_EPOCH_OFFSET`: no end offset is known.
pub const UNDEFINED_EPOCH_OFFSET: i64 = -1;

/// The leader epoch history of one partition, backed by its checkpoint file.
#[derive(Debug)]
pub struct LeaderEpochCache {
    checkpoint: LeaderEpochCheckpointFile,
    /// Epochs and start offsets strictly increasing.
    entries: Vec<EpochEntry>,
    /// Memory differs from the file (a write failed, or loading normalised the file's entries).
    dirty: bool,
}

impl LeaderEpochCache {
    /// Loads the history from the checkpoint at `path` (missing: empty). The entries are replayed
    /// through the [`LeaderEpochCache::assign`] rules, as Kafka does, so a file whose entries do
    /// not increase loads as the history it implies; the cache is then dirty until flushed.
    pub fn open(io: Arc<dyn IoBackend>, path: impl Into<PathBuf>) -> Result<LeaderEpochCache> {
        let checkpoint = LeaderEpochCheckpointFile::new(io, path);
        let stored = checkpoint.read()?;
        let mut cache =
            LeaderEpochCache { checkpoint, entries: Vec::with_capacity(stored.len()), dirty: false };
        for entry in &stored {
            cache.apply_assign(*entry);
        }
        cache.dirty = cache.entries != stored;
        Ok(cache)
    }

    /// The checkpoint's path.
    pub fn path(&self) -> &Path {
        self.checkpoint.path()
    }

    /// Whether memory holds changes the file does not.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// All entries, oldest first.
    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    /// Whether the history is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The newest entry.
    pub fn latest_entry(&self) -> Option<EpochEntry> {
        self.entries.last().copied()
    }

    /// The oldest entry.
    pub fn earliest_entry(&self) -> Option<EpochEntry> {
        self.entries.first().copied()
    }

    /// The newest epoch: the one being written to.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|e| e.epoch)
    }

    /// The entry of exactly `epoch`.
    pub fn epoch_entry(&self, epoch: i32) -> Option<EpochEntry> {
        self.entries.iter().find(|e| e.epoch == epoch).copied()
    }

    /// The largest known epoch below `epoch`.
    pub fn previous_epoch(&self, epoch: i32) -> Option<i32> {
        self.entries.iter().rev().find(|e| e.epoch < epoch).map(|e| e.epoch)
    }

    /// The smallest known epoch above `epoch`.
    pub fn next_epoch(&self, epoch: i32) -> Option<i32> {
        self.entries.iter().find(|e| e.epoch > epoch).map(|e| e.epoch)
    }

    /// The epoch `offset` was written in: the epoch of the last entry starting at or before it.
    pub fn epoch_for_offset(&self, offset: i64) -> Option<i32> {
        self.entries.iter().take_while(|e| e.start_offset <= offset).last().map(|e| e.epoch)
    }

    /// Records that `epoch` starts at `start_offset`, with Kafka's rules:
    ///
    /// - nothing changes if `epoch` is the latest epoch and `start_offset` does not go below its
    ///   start (a later batch of the same epoch);
    /// - otherwise every entry with an epoch `>= epoch` or a start offset `>= start_offset` is
    ///   removed (they conflict with the new one), and the new entry is added last.
    ///
    /// Returns whether the history changed; a change is written to the checkpoint before this
    /// returns. Negative values are refused.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> Result<bool> {
        if epoch < 0 || start_offset < 0 {
            return Err(Error::InvalidRequest(format!(
                "invalid leader epoch entry: epoch {epoch}, start offset {start_offset}"
            )));
        }
        let changed = self.apply_assign(EpochEntry { epoch, start_offset });
        if changed {
            self.persist()?;
        }
        Ok(changed)
    }

    /// [`LeaderEpochCache::assign`] for many entries in order, with one checkpoint write at the
    /// end (for recovery, which replays every batch's epoch). All entries are checked before any
    /// is applied. Returns whether the history changed.
    pub fn assign_all(&mut self, entries: impl IntoIterator<Item = EpochEntry>) -> Result<bool> {
        let entries: Vec<EpochEntry> = entries.into_iter().collect();
        if let Some(bad) = entries.iter().find(|e| e.epoch < 0 || e.start_offset < 0) {
            return Err(Error::InvalidRequest(format!(
                "invalid leader epoch entry: epoch {}, start offset {}",
                bad.epoch, bad.start_offset
            )));
        }
        let mut changed = false;
        for entry in entries {
            changed |= self.apply_assign(entry);
        }
        if changed {
            self.persist()?;
        }
        Ok(changed)
    }

    fn apply_assign(&mut self, entry: EpochEntry) -> bool {
        let needed =
            self.latest_entry().is_none_or(|l| entry.epoch != l.epoch || entry.start_offset < l.start_offset);
        if !needed {
            return false;
        }
        // Entries are increasing in both fields, so the conflicting ones are a suffix.
        let keep = self
            .entries
            .iter()
            .position(|e| e.epoch >= entry.epoch || e.start_offset >= entry.start_offset)
            .unwrap_or(self.entries.len());
        let removed = self.entries.len() - keep;
        if removed > 1 || (removed == 1 && self.entries[keep].start_offset != entry.start_offset) {
            // Dropping an entry at the same start offset is routine (no data was written in that
            // epoch); anything more means history was rewritten.
            ::log::warn!(
                "leader epoch {entry:?} truncated conflicting entries {:?} in {}",
                &self.entries[keep..],
                self.path().display()
            );
        }
        self.entries.truncate(keep);
        self.entries.push(entry);
        true
    }

    /// Kafka's `endOffsetFor`: `(epoch, end offset)` for a follower's `requested_epoch`.
    ///
    /// - [`UNDEFINED_EPOCH`] requested, or no epoch above it known: `(UNDEFINED_EPOCH,
    ///   UNDEFINED_EPOCH_OFFSET)`;
    /// - the latest epoch: `(latest, log_end_offset)`;
    /// - otherwise the largest known epoch `<= requested_epoch` (or `requested_epoch` itself when
    ///   it precedes every known epoch) and the start offset of the first epoch above it.
    pub fn end_offset_for(&self, requested_epoch: i32, log_end_offset: i64) -> (i32, i64) {
        if requested_epoch == UNDEFINED_EPOCH {
            return (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
        }
        if self.latest_epoch() == Some(requested_epoch) {
            return (requested_epoch, log_end_offset);
        }
        let Some(higher) = self.entries.iter().find(|e| e.epoch > requested_epoch) else {
            return (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
        };
        match self.entries.iter().rev().find(|e| e.epoch <= requested_epoch) {
            Some(floor) => (floor.epoch, higher.start_offset),
            None => (requested_epoch, higher.start_offset),
        }
    }

    /// Removes every entry starting at or after `end_offset` (the log was truncated to it). A
    /// negative `end_offset` ([`UNDEFINED_EPOCH_OFFSET`]) changes nothing. Returns whether the
    /// history changed (then persisted).
    pub fn truncate_from_end(&mut self, end_offset: i64) -> Result<bool> {
        if end_offset < 0 {
            return Ok(false);
        }
        let keep =
            self.entries.iter().position(|e| e.start_offset >= end_offset).unwrap_or(self.entries.len());
        if keep == self.entries.len() {
            return Ok(false);
        }
        self.entries.truncate(keep);
        self.persist()?;
        Ok(true)
    }

    /// Forgets history before `start_offset` (the log start moved up): entries starting at or
    /// before it are removed, and the last of them is kept with its start moved up to
    /// `start_offset` (so `truncate_from_start(6)` keeps an entry at 6). Returns whether the
    /// history changed (then persisted).
    pub fn truncate_from_start(&mut self, start_offset: i64) -> Result<bool> {
        let removed = self.entries.iter().take_while(|e| e.start_offset <= start_offset).count();
        if removed == 0 {
            return Ok(false);
        }
        let first = EpochEntry { epoch: self.entries[removed - 1].epoch, start_offset };
        if removed == 1 && self.entries[0] == first {
            return Ok(false);
        }
        self.entries.drain(..removed - 1);
        self.entries[0] = first;
        self.persist()?;
        Ok(true)
    }

    /// Removes every entry and writes the empty checkpoint.
    pub fn clear_and_flush(&mut self) -> Result<()> {
        self.entries.clear();
        self.persist()
    }

    /// Writes the checkpoint if memory holds changes the file does not.
    pub fn flush(&mut self) -> Result<()> {
        if self.dirty { self.persist() } else { Ok(()) }
    }

    fn persist(&mut self) -> Result<()> {
        self.dirty = true;
        self.checkpoint.write(self.entries.iter())?;
        self.dirty = false;
        Ok(())
    }
}

/// Ports of Kafka's `LeaderEpochFileCacheTest`, plus persistence and the fixture.
#[cfg(test)]
mod tests {
    use std::path::Path;

    use tempfile::TempDir;

    use super::*;
    use crate::error::StorageError;
    use crate::io::std_backend::StdBackend;
    use crate::log::checkpoint::LEADER_EPOCH_CHECKPOINT;

    fn io() -> Arc<dyn IoBackend> {
        Arc::new(StdBackend::default())
    }

    fn new_cache() -> (TempDir, LeaderEpochCache) {
        let dir = tempfile::tempdir().unwrap();
        let cache = LeaderEpochCache::open(io(), dir.path().join(LEADER_EPOCH_CHECKPOINT)).unwrap();
        (dir, cache)
    }

    fn e(epoch: i32, start_offset: i64) -> EpochEntry {
        EpochEntry { epoch, start_offset }
    }

    /// `(2, 6), (3, 8), (4, 11)`: the history most of Kafka's truncation tests start from.
    fn three_epochs() -> (TempDir, LeaderEpochCache) {
        let (dir, mut cache) = new_cache();
        cache.assign(2, 6).unwrap();
        cache.assign(3, 8).unwrap();
        cache.assign(4, 11).unwrap();
        (dir, cache)
    }

    const UNDEFINED: (i32, i64) = (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);

    #[test]
    fn test_previous_epoch() {
        let (_dir, mut cache) = new_cache();
        assert_eq!(cache.previous_epoch(i32::MAX), None);
        cache.assign(2, 10).unwrap();
        assert_eq!(cache.previous_epoch(2), None);
        cache.assign(4, 15).unwrap();
        assert_eq!(cache.previous_epoch(4), Some(2));
        cache.assign(10, 20).unwrap();
        assert_eq!(cache.previous_epoch(10), Some(4));
        cache.truncate_from_end(18).unwrap();
        assert_eq!(cache.previous_epoch(cache.latest_epoch().unwrap()), Some(2));
    }

    #[test]
    fn should_add_epoch_and_message_offset_to_cache() {
        let (_dir, mut cache) = new_cache();
        assert!(cache.assign(2, 10).unwrap());
        assert_eq!(cache.latest_epoch(), Some(2));
        assert_eq!(cache.entries(), [e(2, 10)]);
        assert_eq!(cache.end_offset_for(2, 11), (2, 11));
    }

    #[test]
    fn should_return_log_end_offset_if_latest_epoch_requested() {
        let (_dir, mut cache) = new_cache();
        cache.assign(2, 11).unwrap();
        assert!(!cache.assign(2, 12).unwrap());
        assert_eq!(cache.end_offset_for(2, 14), (2, 14));
    }

    #[test]
    fn should_return_undefined_offset_if_undefined_epoch_requested() {
        let (_dir, mut cache) = new_cache();
        assert_eq!(cache.end_offset_for(UNDEFINED_EPOCH, 73), UNDEFINED, "empty cache");
        cache.assign(2, 11).unwrap();
        cache.assign(3, 12).unwrap();
        assert_eq!(cache.end_offset_for(UNDEFINED_EPOCH, 0), UNDEFINED);
    }

    #[test]
    fn should_not_overwrite_offset_for_a_leader_epoch_once_it_has_been_assigned() {
        let (_dir, mut cache) = new_cache();
        cache.assign(2, 9).unwrap();
        cache.assign(2, 10).unwrap();
        assert_eq!(cache.entries(), [e(2, 9)]);
        cache.assign(2, 6).unwrap();
        assert_eq!(cache.entries(), [e(2, 6)], "an earlier start for the latest epoch replaces it");
    }

    #[test]
    fn should_enforce_monotonically_increasing_start_offsets() {
        let (_dir, mut cache) = new_cache();
        cache.assign(2, 9).unwrap();
        cache.assign(3, 9).unwrap();
        assert_eq!(cache.entries(), [e(3, 9)]);
    }

    #[test]
    fn should_return_unsupported_if_no_epoch_recorded() {
        let (_dir, cache) = new_cache();
        assert_eq!(cache.end_offset_for(0, 0), UNDEFINED);
        assert_eq!(cache.end_offset_for(7, 0), UNDEFINED);
    }

    #[test]
    fn should_return_first_epoch_if_requested_epoch_less_than_first_epoch() {
        let (_dir, mut cache) = new_cache();
        cache.assign(5, 11).unwrap();
        cache.assign(6, 12).unwrap();
        cache.assign(7, 13).unwrap();
        assert_eq!(cache.end_offset_for(4, 0), (4, 11));
    }

    #[test]
    fn should_truncate_if_matching_epoch_but_earlier_starting_offset() {
        let (_dir, mut cache) = new_cache();
        cache.assign(5, 11).unwrap();
        cache.assign(6, 12).unwrap();
        cache.assign(7, 13).unwrap();
        cache.assign(7, 12).unwrap();
        assert_eq!(cache.entries(), [e(5, 11), e(7, 12)]);
        assert_eq!(cache.end_offset_for(5, 0), (5, 12));
        assert_eq!(cache.end_offset_for(6, 0), (5, 12));
    }

    #[test]
    fn should_get_first_offset_of_subsequent_epoch_when_offset_requested_for_previous_epoch() {
        let (_dir, mut cache) = new_cache();
        for (epoch, offset) in [(1, 11), (1, 12), (2, 13), (2, 14), (3, 15), (3, 16)] {
            cache.assign(epoch, offset).unwrap();
        }
        assert_eq!(cache.end_offset_for(2, 17), (2, 15));
    }

    #[test]
    fn should_return_next_available_epoch_if_there_is_no_exact_epoch_for_the_one_requested() {
        let (_dir, mut cache) = new_cache();
        cache.assign(0, 10).unwrap();
        cache.assign(2, 13).unwrap();
        cache.assign(4, 17).unwrap();
        assert_eq!(cache.end_offset_for(1, 0), (0, 13));
        assert_eq!(cache.end_offset_for(2, 0), (2, 17));
        assert_eq!(cache.end_offset_for(3, 0), (2, 17));
    }

    #[test]
    fn should_return_invalid_offset_if_epoch_is_requested_which_is_not_currently_tracked() {
        let (_dir, mut cache) = new_cache();
        cache.assign(2, 100).unwrap();
        assert_eq!(cache.end_offset_for(3, 100), UNDEFINED);
    }

    #[test]
    fn should_support_epochs_that_do_not_start_from_zero() {
        let (_dir, mut cache) = new_cache();
        cache.assign(2, 6).unwrap();
        assert_eq!(cache.end_offset_for(2, 7), (2, 7));
        assert_eq!(cache.entries(), [e(2, 6)]);
    }

    #[test]
    fn should_persist_epochs_between_instances() {
        let (dir, mut cache) = new_cache();
        cache.assign(2, 6).unwrap();
        let again = LeaderEpochCache::open(io(), dir.path().join(LEADER_EPOCH_CHECKPOINT)).unwrap();
        assert_eq!(again.entries(), [e(2, 6)]);
        assert!(!again.is_dirty());
    }

    #[test]
    fn should_enforce_monotonically_increasing_epochs() {
        let (_dir, mut cache) = new_cache();
        cache.assign(1, 5).unwrap();
        cache.assign(2, 6).unwrap();
        cache.assign(1, 7).unwrap();
        assert_eq!(cache.latest_epoch(), Some(1));
        assert_eq!(cache.end_offset_for(1, 8), (1, 8));
        assert_eq!(cache.end_offset_for(2, 8), UNDEFINED);
        assert_eq!(cache.entries(), [e(1, 7)]);
    }

    #[test]
    fn should_enforce_offsets_increase_monotonically() {
        let (_dir, mut cache) = new_cache();
        cache.assign(2, 6).unwrap();
        cache.assign(3, 5).unwrap();
        assert_eq!(cache.entries(), [e(3, 5)]);
    }

    #[test]
    fn should_increase_and_track_epochs_as_leaders_change_many_times() {
        let (_dir, mut cache) = new_cache();
        cache.assign(0, 0).unwrap();
        cache.assign(1, 0).unwrap();
        assert_eq!(cache.latest_epoch(), Some(1));
        assert_eq!(cache.end_offset_for(1, 0), (1, 0));
        // Epoch 0 was replaced by epoch 1 at the same offset; it precedes every known epoch, so
        // its end is the start of the first one above it.
        assert_eq!(cache.entries(), [e(1, 0)]);
        assert_eq!(cache.end_offset_for(0, 0), (0, 0));
        assert_eq!(cache.end_offset_for(1, 5), (1, 5));
        cache.assign(2, 5).unwrap();
        assert_eq!(cache.end_offset_for(2, 10), (2, 10));
        assert_eq!(cache.end_offset_for(1, 10), (1, 5));
        assert_eq!(cache.end_offset_for(0, 10), (0, 0));
    }

    #[test]
    fn should_increase_and_track_epochs_as_follower_receives_many_messages() {
        let (_dir, mut cache) = new_cache();
        for o in 0..3 {
            cache.assign(0, o).unwrap();
        }
        assert_eq!(cache.latest_epoch(), Some(0));
        assert_eq!(cache.end_offset_for(0, 3), (0, 3));
        for o in 3..6 {
            cache.assign(1, o).unwrap();
        }
        assert_eq!(cache.end_offset_for(1, 6), (1, 6));
        for o in 6..9 {
            cache.assign(2, o).unwrap();
        }
        assert_eq!(cache.latest_epoch(), Some(2));
        assert_eq!(cache.end_offset_for(2, 9), (2, 9));
        assert_eq!(cache.end_offset_for(0, 9), (0, 3));
        assert_eq!(cache.end_offset_for(1, 9), (1, 6));
    }

    #[test]
    fn should_drop_entries_on_epoch_boundary_when_removing_latest_entries() {
        let (_dir, mut cache) = three_epochs();
        assert!(cache.truncate_from_end(8).unwrap());
        assert_eq!(cache.entries(), [e(2, 6)]);
    }

    #[test]
    fn should_drop_entries_between_epoch_boundary_when_removing_newest() {
        let (_dir, mut cache) = three_epochs();
        cache.truncate_from_end(9).unwrap();
        assert_eq!(cache.latest_epoch(), Some(3));
        assert_eq!(cache.entries(), [e(2, 6), e(3, 8)]);
    }

    #[test]
    fn should_preserve_reset_offset_on_clear_earliest_if_one_exists() {
        let (_dir, mut cache) = three_epochs();
        assert!(cache.truncate_from_start(8).unwrap());
        assert_eq!(cache.entries(), [e(3, 8), e(4, 11)]);
    }

    #[test]
    fn should_not_clear_anything_if_offset_too_early() {
        let (_dir, mut cache) = three_epochs();
        assert!(!cache.truncate_from_start(1).unwrap());
        assert_eq!(cache.entries(), [e(2, 6), e(3, 8), e(4, 11)]);
    }

    #[test]
    fn should_not_clear_anything_if_offset_is_first_offset() {
        let (_dir, mut cache) = three_epochs();
        assert!(!cache.truncate_from_start(6).unwrap());
        assert_eq!(cache.entries(), [e(2, 6), e(3, 8), e(4, 11)]);
    }

    #[test]
    fn should_retain_latest_epoch_on_clear_all_earliest() {
        let (_dir, mut cache) = three_epochs();
        cache.truncate_from_start(11).unwrap();
        assert_eq!(cache.entries(), [e(4, 11)]);
    }

    #[test]
    fn should_update_offset_between_epoch_boundaries_on_clear_earliest() {
        let (_dir, mut cache) = three_epochs();
        cache.truncate_from_start(9).unwrap();
        assert_eq!(cache.entries(), [e(3, 9), e(4, 11)]);
    }

    #[test]
    fn should_update_offset_between_first_two_epoch_boundaries_on_clear_earliest() {
        let (_dir, mut cache) = new_cache();
        cache.assign(0, 0).unwrap();
        cache.assign(1, 7).unwrap();
        cache.assign(2, 10).unwrap();
        cache.truncate_from_start(5).unwrap();
        assert_eq!(cache.entries(), [e(0, 5), e(1, 7), e(2, 10)]);
    }

    #[test]
    fn should_retain_latest_epoch_on_clear_all_earliest_and_update_its_offset() {
        let (_dir, mut cache) = three_epochs();
        cache.truncate_from_start(15).unwrap();
        assert_eq!(cache.entries(), [e(4, 15)]);
    }

    #[test]
    fn should_clear_all_entries() {
        let (dir, mut cache) = three_epochs();
        cache.clear_and_flush().unwrap();
        assert!(cache.is_empty());
        let again = LeaderEpochCache::open(io(), dir.path().join(LEADER_EPOCH_CHECKPOINT)).unwrap();
        assert!(again.is_empty());
    }

    #[test]
    fn should_not_reset_epoch_history_if_undefined_passed() {
        let (_dir, mut cache) = three_epochs();
        assert!(!cache.truncate_from_start(UNDEFINED_EPOCH_OFFSET).unwrap());
        assert!(!cache.truncate_from_end(UNDEFINED_EPOCH_OFFSET).unwrap());
        assert_eq!(cache.entries().len(), 3);
    }

    #[test]
    fn truncations_of_an_empty_cache_do_nothing() {
        let (_dir, mut cache) = new_cache();
        assert!(!cache.truncate_from_start(7).unwrap());
        assert!(!cache.truncate_from_end(7).unwrap());
        assert_eq!(cache.latest_epoch(), None);
        assert_eq!(cache.latest_entry(), None);
        assert_eq!(cache.earliest_entry(), None);
    }

    #[test]
    fn test_find_next_epoch_and_epoch_entry() {
        let (_dir, mut cache) = new_cache();
        cache.assign(0, 0).unwrap();
        cache.assign(1, 100).unwrap();
        cache.assign(2, 200).unwrap();
        assert_eq!(cache.next_epoch(-1), Some(0));
        assert_eq!(cache.next_epoch(0), Some(1));
        assert_eq!(cache.next_epoch(1), Some(2));
        assert_eq!(cache.next_epoch(2), None);
        assert_eq!(cache.next_epoch(100), None);
        assert_eq!(cache.epoch_entry(1), Some(e(1, 100)));
        assert_eq!(cache.epoch_entry(3), None);
        assert_eq!(cache.earliest_entry(), Some(e(0, 0)));
        assert_eq!(cache.latest_entry(), Some(e(2, 200)));
    }

    #[test]
    fn should_fetch_epoch_for_given_offset() {
        let (_dir, mut cache) = new_cache();
        cache.assign(0, 10).unwrap();
        cache.assign(1, 20).unwrap();
        cache.assign(5, 30).unwrap();
        assert_eq!(cache.epoch_for_offset(25), Some(1));
        assert_eq!(cache.epoch_for_offset(20), Some(1));
        assert_eq!(cache.epoch_for_offset(30), Some(5));
        assert_eq!(cache.epoch_for_offset(50), Some(5));
        assert_eq!(cache.epoch_for_offset(5), None);
    }

    #[test]
    fn should_write_checkpoint_on_truncation() {
        let (dir, mut cache) = three_epochs();
        cache.truncate_from_end(11).unwrap();
        cache.truncate_from_start(8).unwrap();
        let path = dir.path().join(LEADER_EPOCH_CHECKPOINT);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "0\n1\n3 8\n");
        assert!(!cache.is_dirty());
    }

    #[test]
    fn assign_all_applies_the_rules_and_writes_once() {
        let (dir, mut cache) = new_cache();
        let path = dir.path().join(LEADER_EPOCH_CHECKPOINT);
        let replay = [e(0, 0), e(0, 1), e(1, 5), e(1, 6), e(3, 9), e(2, 9)];
        assert!(cache.assign_all(replay).unwrap());
        assert_eq!(cache.entries(), [e(0, 0), e(1, 5), e(2, 9)]);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "0\n3\n0 0\n1 5\n2 9\n");
        assert!(!cache.assign_all([e(2, 10), e(2, 11)]).unwrap(), "same epoch, later offsets");
        assert!(matches!(cache.assign_all([e(4, 20), e(5, -1)]), Err(Error::InvalidRequest(_))));
        assert_eq!(cache.latest_epoch(), Some(2), "nothing applied when one entry is invalid");
    }

    #[test]
    fn negative_assignments_are_refused() {
        let (_dir, mut cache) = new_cache();
        assert!(matches!(cache.assign(-1, 0), Err(Error::InvalidRequest(_))));
        assert!(matches!(cache.assign(0, -1), Err(Error::InvalidRequest(_))));
        assert!(cache.is_empty());
    }

    #[test]
    fn loading_replays_the_assign_rules() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LEADER_EPOCH_CHECKPOINT);
        // Epoch 2 at 6, then epoch 3 at 5: the second conflicts with the first.
        std::fs::write(&path, "0\n3\n1 0\n2 6\n3 5\n").unwrap();
        let mut cache = LeaderEpochCache::open(io(), &path).unwrap();
        assert_eq!(cache.entries(), [e(1, 0), e(3, 5)]);
        assert!(cache.is_dirty());
        cache.flush().unwrap();
        assert!(!cache.is_dirty());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "0\n2\n1 0\n3 5\n");
    }

    #[test]
    fn corrupt_checkpoint_fails_to_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LEADER_EPOCH_CHECKPOINT);
        std::fs::write(&path, "0\n2\n0 0\n").unwrap();
        let r = LeaderEpochCache::open(io(), &path);
        assert!(matches!(r, Err(Error::Storage(StorageError::Corrupt { .. }))), "{r:?}");
    }

    #[test]
    fn failed_write_leaves_the_cache_dirty() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("partition-0");
        std::fs::create_dir(&sub).unwrap();
        let mut cache = LeaderEpochCache::open(io(), sub.join(LEADER_EPOCH_CHECKPOINT)).unwrap();
        cache.assign(0, 0).unwrap();
        std::fs::remove_dir_all(&sub).unwrap();
        assert!(cache.assign(1, 10).is_err(), "the directory is gone");
        assert!(cache.is_dirty());
        assert_eq!(cache.entries(), [e(0, 0), e(1, 10)], "memory keeps the change");
        std::fs::create_dir(&sub).unwrap();
        cache.flush().unwrap();
        assert!(!cache.is_dirty());
        let again = LeaderEpochCache::open(io(), sub.join(LEADER_EPOCH_CHECKPOINT)).unwrap();
        assert_eq!(again.entries(), [e(0, 0), e(1, 10)]);
    }

    #[test]
    fn cache_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<LeaderEpochCache>();
        assert_send_sync::<crate::log::checkpoint::OffsetCheckpointFile>();
    }

    #[test]
    fn reads_the_epochs_fixture() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/kafka-dirs/epochs-0");
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join(LEADER_EPOCH_CHECKPOINT);
        std::fs::copy(path.join(LEADER_EPOCH_CHECKPOINT), &copy).unwrap();
        let cache = LeaderEpochCache::open(io(), &copy).unwrap();
        assert_eq!(cache.entries(), [e(0, 0), e(1, 11), e(3, 20)]);
        assert!(!cache.is_dirty());
        assert_eq!(cache.latest_epoch(), Some(3));
        // The fixture's log end offset is 31; epoch 2 never wrote.
        assert_eq!(cache.end_offset_for(0, 31), (0, 11));
        assert_eq!(cache.end_offset_for(1, 31), (1, 20));
        assert_eq!(cache.end_offset_for(2, 31), (1, 20));
        assert_eq!(cache.end_offset_for(3, 31), (3, 31));
        assert_eq!(cache.end_offset_for(4, 31), UNDEFINED);
        assert_eq!(cache.epoch_for_offset(15), Some(1));
        assert_eq!(cache.epoch_for_offset(30), Some(3));
    }
}
