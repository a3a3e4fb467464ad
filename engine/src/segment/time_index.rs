//! The time index (`.timeindex`): a sparse map from timestamps to offsets (Kafka's `TimeIndex`).
//!
//! Entries are 12 bytes, big-endian: a timestamp (`i64`) and an offset relative to the segment's
//! base offset (`i32`). An entry `(T, O)` says that the largest timestamp seen up to offset `O` is
//! `T`, so any record with a timestamp above `T` comes after `O`. Timestamps strictly increase
//! from entry to entry; offsets never decrease (two entries may share an offset).
//!
//! The last slot is reserved: the index counts as full one entry early, so that the entry written
//! when the segment rolls or closes (`skip_full_check`) always has room.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::io::IoBackend;

use super::index_file::{Bound, IndexFile, Layout};

/// Size of one time index entry in bytes.
pub const TIME_INDEX_ENTRY_SIZE: usize = 12;

/// Kafka's `RecordBatch.NO_TIMESTAMP`: the timestamp of "no entry".
pub const NO_TIMESTAMP: i64 = -1;

/// A timestamp and the offset it is indexed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimestampOffset {
    /// Timestamp in milliseconds, or [`NO_TIMESTAMP`].
    pub timestamp: i64,
    /// Absolute offset.
    pub offset: i64,
}

/// The time index of one segment.
///
/// Mutating methods take `&mut self` and lookups `&self`; the owning segment puts the index
/// behind its lock.
#[derive(Debug)]
pub struct TimeIndex {
    file: IndexFile,
    /// The last entry, or `(NO_TIMESTAMP, base_offset)` when empty.
    last_entry: TimestampOffset,
}

fn timestamp(entry: &[u8]) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&entry[..8]);
    i64::from_be_bytes(b)
}

fn relative(entry: &[u8]) -> i32 {
    i32::from_be_bytes([entry[8], entry[9], entry[10], entry[11]])
}

impl TimeIndex {
    /// Opens the time index at `path` for the segment starting at `base_offset`, with the same
    /// rules as [`super::OffsetIndex::open`]: `length / 12` entries; a `writable` index is
    /// created if missing and resized to `max_index_size` (rounded down to whole entries); a
    /// read-only one must exist and is mapped at its length.
    pub fn open(
        io: Arc<dyn IoBackend>,
        path: impl Into<PathBuf>,
        base_offset: i64,
        max_index_size: u32,
        writable: bool,
    ) -> Result<TimeIndex> {
        Self::open_with(io, path.into(), base_offset, max_index_size, writable, true)
    }

    fn open_with(
        io: Arc<dyn IoBackend>,
        path: PathBuf,
        base_offset: i64,
        max_index_size: u32,
        writable: bool,
        prefer_map: bool,
    ) -> Result<TimeIndex> {
        let layout = Layout { kind: "time index", entry_size: TIME_INDEX_ENTRY_SIZE };
        let file = IndexFile::open(io, path, layout, base_offset, max_index_size, writable, prefer_map)?;
        let mut index =
            TimeIndex { file, last_entry: TimestampOffset { timestamp: NO_TIMESTAMP, offset: 0 } };
        index.last_entry = index.last_entry_from_file();
        Ok(index)
    }

    fn parse(&self, n: usize) -> TimestampOffset {
        let entry = self.file.entry_bytes(n);
        TimestampOffset {
            timestamp: timestamp(entry),
            offset: self.file.base_offset() + i64::from(relative(entry)),
        }
    }

    fn last_entry_from_file(&self) -> TimestampOffset {
        match self.file.entries() {
            0 => TimestampOffset { timestamp: NO_TIMESTAMP, offset: self.file.base_offset() },
            n => self.parse(n - 1),
        }
    }

    /// The segment's base offset.
    pub fn base_offset(&self) -> i64 {
        self.file.base_offset()
    }

    /// The file's current path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Number of valid entries.
    pub fn entries(&self) -> usize {
        self.file.entries()
    }

    /// How many entries the file has room for (including the slot reserved for roll/close).
    pub fn max_entries(&self) -> usize {
        self.file.max_entries()
    }

    /// `segment.index.bytes` this index was opened with (the size [`TimeIndex::reset`] restores).
    pub fn max_index_size(&self) -> u32 {
        self.file.max_index_size()
    }

    /// Whether the index is full for ordinary appends: `max_entries − 1` entries, because the
    /// last slot is kept for the entry written at roll or close.
    pub fn is_full(&self) -> bool {
        self.file.entries() >= self.file.max_entries().saturating_sub(1)
    }

    /// Bytes used by valid entries (`12 × entries`).
    pub fn size_in_bytes(&self) -> u64 {
        (self.file.entries() * TIME_INDEX_ENTRY_SIZE) as u64
    }

    /// Current length of the file (preallocated while the index is writable).
    pub fn length(&self) -> u64 {
        self.file.length()
    }

    /// Whether the index was opened writable (active segment).
    pub fn is_writable(&self) -> bool {
        self.file.is_writable()
    }

    /// The last entry: the largest timestamp indexed so far and its offset, or
    /// `(NO_TIMESTAMP, base_offset)` when the index is empty.
    pub fn last_entry(&self) -> TimestampOffset {
        self.last_entry
    }

    /// Entry `n`, if there are more than `n` entries.
    pub fn entry(&self, n: usize) -> Option<TimestampOffset> {
        (n < self.file.entries()).then(|| self.parse(n))
    }

    /// The entry with the largest timestamp `<= target_timestamp`, or
    /// `(NO_TIMESTAMP, base_offset)` when there is none.
    pub fn lookup(&self, target_timestamp: i64) -> TimestampOffset {
        match self.file.search(target_timestamp, timestamp, Bound::LargestLowerBound) {
            Some(slot) => self.parse(slot),
            None => TimestampOffset { timestamp: NO_TIMESTAMP, offset: self.file.base_offset() },
        }
    }

    /// Appends `(timestamp, offset)` if `timestamp` is greater than the last entry's, following
    /// Kafka's `TimeIndex.maybeAppend`:
    ///
    /// - unless `skip_full_check` (used only at roll and close, for the reserved last slot), a
    ///   full index is an error;
    /// - an offset below the last entry's, or a timestamp below it, is an error;
    /// - a timestamp equal to the last entry's is ignored (that is what a repeated roll/close
    ///   entry looks like);
    /// - a greater timestamp at the *same* offset as the last entry is appended as a new entry
    ///   (Kafka does not overwrite), so offsets may repeat between entries;
    /// - [`NO_TIMESTAMP`] on an empty index is ignored.
    pub fn maybe_append(&mut self, timestamp: i64, offset: i64, skip_full_check: bool) -> Result<()> {
        self.file.ensure_writable()?;
        if !skip_full_check && self.is_full() {
            return Err(self.file.full_error());
        }
        let n = self.file.entries();
        if n > 0 && offset < self.last_entry.offset {
            return Err(Error::InvalidRequest(format!(
                "cannot append offset {offset} to time index {} at entry {n}: below the last offset {}",
                self.path().display(),
                self.last_entry.offset
            )));
        }
        if n > 0 && timestamp < self.last_entry.timestamp {
            return Err(Error::InvalidRequest(format!(
                "cannot append timestamp {timestamp} to time index {} at entry {n}: below the last \
                 timestamp {}",
                self.path().display(),
                self.last_entry.timestamp
            )));
        }
        if timestamp <= self.last_entry.timestamp {
            return Ok(());
        }
        let Some(rel) = self.file.relative_offset(offset) else {
            return Err(Error::InvalidRequest(format!(
                "offset {offset} does not fit time index {} with base offset {}",
                self.path().display(),
                self.base_offset()
            )));
        };
        let mut entry = [0u8; TIME_INDEX_ENTRY_SIZE];
        entry[..8].copy_from_slice(&timestamp.to_be_bytes());
        entry[8..].copy_from_slice(&rel.to_be_bytes());
        // `push` refuses the write when even the reserved slot is taken.
        self.file.push(&entry)?;
        self.last_entry = TimestampOffset { timestamp, offset };
        Ok(())
    }

    /// Removes every entry whose offset is `>= offset`; an offset past the last entry changes
    /// nothing. Like every mutation it needs a writable index.
    pub fn truncate_to(&mut self, offset: i64) -> Result<()> {
        let base = self.file.base_offset();
        let keep = self.file.count_below(offset, |e| base + i64::from(relative(e)));
        self.truncate_to_entries(keep)
    }

    /// Removes every entry.
    pub fn truncate(&mut self) -> Result<()> {
        self.truncate_to_entries(0)
    }

    fn truncate_to_entries(&mut self, n: usize) -> Result<()> {
        let result = self.file.truncate_to_entries(n);
        self.refresh_last_entry();
        result
    }

    /// Re-reads the cached last entry after the entries changed (or the index closed itself
    /// after a failed remap).
    fn refresh_last_entry(&mut self) {
        self.last_entry = self.last_entry_from_file();
    }

    /// Removes every entry and resizes the file back to `max_index_size` (segment recovery).
    pub fn reset(&mut self) -> Result<()> {
        self.truncate()?;
        let result = self.file.resize(self.file.max_index_size()).map(|_| ());
        self.refresh_last_entry();
        result
    }

    /// Resizes the file to `new_size` bytes rounded down to whole entries; `Ok(false)` if that is
    /// its size already. Refuses to drop valid entries.
    pub fn resize(&mut self, new_size: u32) -> Result<bool> {
        let result = self.file.resize(new_size);
        self.refresh_last_entry();
        result
    }

    /// Shrinks the file to its valid entries (at roll and close).
    pub fn trim_to_valid_size(&mut self) -> Result<()> {
        let result = self.file.trim_to_valid_size();
        self.refresh_last_entry();
        result
    }

    /// Makes the entries durable (`msync`).
    pub fn flush(&self) -> Result<()> {
        self.file.flush()
    }

    /// Kafka's checks: the file holds whole entries, the last timestamp is not below the first,
    /// the last offset is not below the base offset.
    pub fn sanity_check(&self) -> Result<()> {
        self.file.check_length().map_err(|d| self.file.corrupt(d))?;
        if self.file.entries() == 0 {
            return Ok(());
        }
        let first = self.parse(0);
        let last = self.last_entry;
        if last.timestamp < first.timestamp {
            return Err(self.file.corrupt(format!(
                "time index's last timestamp {} is below its first timestamp {}",
                last.timestamp, first.timestamp
            )));
        }
        if last.offset < self.base_offset() {
            return Err(self.file.corrupt(format!(
                "time index's last offset {} is below the base offset {}",
                last.offset,
                self.base_offset()
            )));
        }
        Ok(())
    }

    /// Trims a writable index to its valid entries and releases the map and the file.
    pub fn close(&mut self) -> Result<()> {
        let result = self.file.close();
        self.refresh_last_entry();
        result
    }

    /// Releases the map and removes the file; `false` if it did not exist.
    pub fn delete(&mut self) -> Result<bool> {
        let result = self.file.delete();
        self.refresh_last_entry();
        result
    }

    /// Renames the file (for the `.deleted`, `.cleaned` and `.swap` suffixes). The index stays
    /// usable under its new name.
    pub fn rename_to(&mut self, new_path: impl Into<PathBuf>) -> Result<()> {
        self.file.rename_to(new_path.into())
    }
}

/// Ports of Kafka's `TimeIndexTest`, plus the file-length rules and the fixtures.
#[cfg(test)]
mod tests {
    use tempfile::TempDir;

    use super::*;
    use crate::error::StorageError;
    use crate::segment::index_file::test_support::{
        FIXTURES, active_segments, batches, copy_fixture, io, manifest, segment_bases, segment_file,
    };

    const MAX_ENTRIES: u32 = 30;
    const BASE_OFFSET: i64 = 45;

    fn new_index() -> (TempDir, TimeIndex) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(segment_file(BASE_OFFSET, "timeindex"));
        let index = TimeIndex::open(io(), path, BASE_OFFSET, MAX_ENTRIES * 12, true).unwrap();
        (dir, index)
    }

    fn to(timestamp: i64, offset: i64) -> TimestampOffset {
        TimestampOffset { timestamp, offset }
    }

    /// Kafka's `appendEntries`: entry i is `(10 i, 10 i + base)`.
    fn append_entries(index: &mut TimeIndex, n: i64) {
        for i in 1..=n {
            index.maybe_append(i * 10, i * 10 + BASE_OFFSET, false).unwrap();
        }
    }

    fn assert_invalid_request(r: Result<()>) {
        assert!(matches!(r, Err(Error::InvalidRequest(_))), "expected InvalidRequest, got {r:?}");
    }

    fn assert_corrupt(r: Result<()>) {
        assert!(
            matches!(r, Err(Error::Storage(StorageError::Corrupt { .. }))),
            "expected Corrupt, got {r:?}"
        );
    }

    #[test]
    fn test_look_up() {
        let (_dir, mut idx) = new_index();
        assert_eq!(idx.lookup(100), to(NO_TIMESTAMP, BASE_OFFSET), "empty index");
        append_entries(&mut idx, MAX_ENTRIES as i64 - 1);
        assert_eq!(idx.lookup(9), to(NO_TIMESTAMP, BASE_OFFSET), "before the earliest entry");
        assert_eq!(idx.lookup(25), to(20, 65), "between two entries");
        assert_eq!(idx.lookup(30), to(30, 75), "exactly an entry");
        assert_eq!(idx.lookup(i64::MAX), to(290, 335));
    }

    #[test]
    fn test_entry() {
        let (_dir, mut idx) = new_index();
        append_entries(&mut idx, MAX_ENTRIES as i64 - 1);
        assert_eq!(idx.entry(0), Some(to(10, 55)));
        assert_eq!(idx.entry(1), Some(to(20, 65)));
        assert_eq!(idx.entry(2), Some(to(30, 75)));
        assert_eq!(idx.entry(3), Some(to(40, 85)));
        assert_eq!(idx.entry(MAX_ENTRIES as usize - 1), None);
    }

    #[test]
    fn test_entry_overflow() {
        let (_dir, idx) = new_index();
        assert_eq!(idx.entry(0), None);
    }

    #[test]
    fn test_truncate() {
        let (_dir, mut idx) = new_index();
        append_entries(&mut idx, MAX_ENTRIES as i64 - 1);
        idx.truncate().unwrap();
        assert_eq!(idx.entries(), 0);
        assert_eq!(idx.last_entry(), to(NO_TIMESTAMP, BASE_OFFSET));

        append_entries(&mut idx, MAX_ENTRIES as i64 - 1);
        idx.truncate_to(10 + BASE_OFFSET).unwrap();
        assert_eq!(idx.entries(), 0);

        append_entries(&mut idx, 5);
        idx.truncate_to(BASE_OFFSET + 35).unwrap();
        assert_eq!(idx.entries(), 3, "entries at offsets 55, 65, 75 stay");
        assert_eq!(idx.last_entry(), to(30, 75));
        idx.truncate_to(BASE_OFFSET + 30).unwrap();
        assert_eq!(idx.last_entry(), to(20, 65), "an entry at the offset itself goes");
        idx.truncate_to(1000).unwrap();
        assert_eq!(idx.entries(), 2, "past the end: nothing changes");
    }

    #[test]
    fn truncate_drops_every_entry_at_a_repeated_offset() {
        let (_dir, mut idx) = new_index();
        idx.maybe_append(10, 50, false).unwrap();
        idx.maybe_append(20, 60, false).unwrap();
        idx.maybe_append(30, 60, false).unwrap();
        idx.maybe_append(40, 60, false).unwrap();
        assert_eq!(idx.entries(), 4);
        idx.truncate_to(60).unwrap();
        assert_eq!(idx.entries(), 1);
        assert_eq!(idx.last_entry(), to(10, 50));
    }

    #[test]
    fn test_append() {
        let (_dir, mut idx) = new_index();
        append_entries(&mut idx, MAX_ENTRIES as i64 - 1);
        assert!(idx.is_full());
        assert_invalid_request(idx.maybe_append(10000, 1000, false));
        assert_invalid_request(idx.maybe_append(10000, (MAX_ENTRIES as i64 - 2) * 10, true));
        idx.maybe_append(10000, 1000, true).unwrap();
        assert_eq!(idx.entries(), MAX_ENTRIES as usize);
        assert_eq!(idx.last_entry(), to(10000, 1000));
        // The reserved slot is used: even a roll/close entry no longer fits.
        assert!(idx.maybe_append(10001, 1001, true).is_err());
    }

    #[test]
    fn append_rules_follow_kafka() {
        let (_dir, mut idx) = new_index();
        // NO_TIMESTAMP on an empty index: nothing to index.
        idx.maybe_append(NO_TIMESTAMP, BASE_OFFSET, false).unwrap();
        assert_eq!(idx.entries(), 0);
        idx.maybe_append(100, BASE_OFFSET + 5, false).unwrap();
        // Same timestamp: ignored (what a repeated roll/close append looks like).
        idx.maybe_append(100, BASE_OFFSET + 5, true).unwrap();
        idx.maybe_append(100, BASE_OFFSET + 9, false).unwrap();
        assert_eq!(idx.entries(), 1);
        // Lower timestamp or lower offset: errors.
        assert_invalid_request(idx.maybe_append(99, BASE_OFFSET + 10, false));
        assert_invalid_request(idx.maybe_append(200, BASE_OFFSET + 4, false));
        // Higher timestamp at the same offset: a new entry, not an overwrite.
        idx.maybe_append(150, BASE_OFFSET + 5, false).unwrap();
        assert_eq!(idx.entries(), 2);
        assert_eq!(idx.entry(0), Some(to(100, BASE_OFFSET + 5)));
        assert_eq!(idx.entry(1), Some(to(150, BASE_OFFSET + 5)));
        // Offsets must fit relative to the base offset.
        assert_invalid_request(idx.maybe_append(300, BASE_OFFSET + i32::MAX as i64 + 1, false));
        assert_eq!(idx.lookup(120), to(100, BASE_OFFSET + 5));
        assert_eq!(idx.lookup(150), to(150, BASE_OFFSET + 5));
    }

    #[test]
    fn test_is_full() {
        let (_dir, mut idx) = new_index();
        assert!(!idx.is_full());
        append_entries(&mut idx, MAX_ENTRIES as i64 - 2);
        assert!(!idx.is_full());
        append_entries_from(&mut idx, MAX_ENTRIES as i64 - 1);
        assert!(idx.is_full(), "full at max - 1 entries");
        assert_eq!(idx.entries(), MAX_ENTRIES as usize - 1);
    }

    fn append_entries_from(idx: &mut TimeIndex, i: i64) {
        idx.maybe_append(i * 10, i * 10 + BASE_OFFSET, false).unwrap();
    }

    #[test]
    fn test_last_entry() {
        let (_dir, mut idx) = new_index();
        assert_eq!(idx.last_entry(), to(NO_TIMESTAMP, BASE_OFFSET));
        idx.maybe_append(1, 1 + BASE_OFFSET, false).unwrap();
        assert_eq!(idx.last_entry(), to(1, BASE_OFFSET + 1));
    }

    #[test]
    fn test_resize() {
        let (_dir, mut idx) = new_index();
        assert!(!idx.resize(MAX_ENTRIES * 12).unwrap());
        assert!(idx.resize(MAX_ENTRIES / 2 * 12).unwrap());
        assert_eq!(idx.max_entries(), MAX_ENTRIES as usize / 2);
        assert!(idx.resize(MAX_ENTRIES * 2 * 12).unwrap());
        assert_eq!(idx.max_entries(), MAX_ENTRIES as usize * 2);
    }

    #[test]
    fn test_reopen() {
        let (dir, mut idx) = new_index();
        append_entries(&mut idx, 5);
        idx.close().unwrap();
        let path = dir.path().join(segment_file(BASE_OFFSET, "timeindex"));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 5 * 12, "close trims to the valid entries");

        let mut read_only = TimeIndex::open(io(), &path, BASE_OFFSET, MAX_ENTRIES * 12, false).unwrap();
        assert_eq!(read_only.entries(), 5);
        assert_eq!(read_only.last_entry(), to(50, 95));
        assert_eq!(read_only.lookup(35), to(30, 75));
        assert!(read_only.is_full());
        assert_invalid_request(read_only.maybe_append(60, 105, true));
        read_only.sanity_check().unwrap();
        drop(read_only);

        let mut active = TimeIndex::open(io(), &path, BASE_OFFSET, MAX_ENTRIES * 12, true).unwrap();
        assert_eq!(active.entries(), 5);
        assert_eq!(active.max_entries(), MAX_ENTRIES as usize);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), MAX_ENTRIES as u64 * 12);
        active.maybe_append(60, 105, false).unwrap();
        assert_eq!(active.last_entry(), to(60, 105));
    }

    #[test]
    fn entries_are_big_endian_timestamp_and_relative_offset() {
        let (dir, mut idx) = new_index();
        idx.maybe_append(0x0102_0304_0506_0708, BASE_OFFSET + 0x0A0B_0C0D, false).unwrap();
        idx.close().unwrap();
        let bytes = std::fs::read(dir.path().join(segment_file(BASE_OFFSET, "timeindex"))).unwrap();
        assert_eq!(bytes, [1, 2, 3, 4, 5, 6, 7, 8, 0x0A, 0x0B, 0x0C, 0x0D]);
    }

    #[test]
    fn test_sanity_check() {
        let (dir, mut idx) = new_index();
        idx.sanity_check().unwrap();
        append_entries(&mut idx, 5);
        idx.sanity_check().unwrap();
        idx.close().unwrap();
        let path = dir.path().join(segment_file(BASE_OFFSET, "timeindex"));
        let good = std::fs::read(&path).unwrap();

        // Last offset below the base offset (Kafka's shouldCorruptOffset).
        let open = |bytes: &[u8]| {
            std::fs::write(&path, bytes).unwrap();
            TimeIndex::open(io(), &path, BASE_OFFSET, MAX_ENTRIES * 12, false).unwrap()
        };
        let mut bytes = good.clone();
        bytes[good.len() - 4..].copy_from_slice(&(-1i32).to_be_bytes());
        assert_corrupt(open(&bytes).sanity_check());

        // Last timestamp below the first (shouldCorruptTimestamp).
        let mut bytes = good.clone();
        let last = good.len() - 12;
        bytes[last..last + 8].copy_from_slice(&9i64.to_be_bytes());
        assert_corrupt(open(&bytes).sanity_check());

        // Length not a multiple of 12 (shouldCorruptLength).
        assert_corrupt(open(&good[..good.len() - 1]).sanity_check());

        open(&good).sanity_check().unwrap();
    }

    #[test]
    fn untrimmed_active_index_fails_the_sanity_check() {
        let (dir, mut idx) = new_index();
        append_entries(&mut idx, 3);
        idx.flush().unwrap();
        drop(idx);
        let path = dir.path().join(segment_file(BASE_OFFSET, "timeindex"));
        let reopened = TimeIndex::open(io(), &path, BASE_OFFSET, MAX_ENTRIES * 12, false).unwrap();
        assert_eq!(reopened.entries(), MAX_ENTRIES as usize);
        assert_corrupt(reopened.sanity_check());
    }

    #[test]
    fn reset_trim_delete() {
        let (dir, mut idx) = new_index();
        let path = dir.path().join(segment_file(BASE_OFFSET, "timeindex"));
        append_entries(&mut idx, 4);
        idx.trim_to_valid_size().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 48);
        assert_eq!(idx.size_in_bytes(), 48);
        idx.reset().unwrap();
        assert_eq!(idx.entries(), 0);
        assert_eq!(idx.last_entry(), to(NO_TIMESTAMP, BASE_OFFSET));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), MAX_ENTRIES as u64 * 12);
        let renamed = dir.path().join("moved.timeindex.deleted");
        idx.rename_to(&renamed).unwrap();
        idx.maybe_append(5, BASE_OFFSET, false).unwrap();
        assert!(idx.delete().unwrap());
        assert!(!renamed.exists());
        assert!(matches!(
            idx.maybe_append(6, BASE_OFFSET + 1, false),
            Err(Error::Storage(StorageError::Closed(_)))
        ));
        assert_eq!(idx.lookup(6), to(NO_TIMESTAMP, BASE_OFFSET));
    }

    #[test]
    fn read_only_index_can_live_in_memory() {
        let (dir, mut idx) = new_index();
        append_entries(&mut idx, 3);
        idx.close().unwrap();
        let path = dir.path().join(segment_file(BASE_OFFSET, "timeindex"));
        let copy = TimeIndex::open_with(io(), path, BASE_OFFSET, 0, false, false).unwrap();
        assert_eq!(copy.entries(), 3);
        assert_eq!(copy.lookup(25), to(20, 65));
        copy.sanity_check().unwrap();
    }

    #[test]
    fn fixture_time_indexes_hold_running_max_timestamps_at_batch_ends() {
        for name in FIXTURES {
            let m = manifest(name);
            let batches = batches(&m);
            let dir = tempfile::tempdir().unwrap();
            copy_fixture(name, dir.path());
            for base in segment_bases(&m) {
                let path = dir.path().join(segment_file(base, "timeindex"));
                let index = TimeIndex::open(io(), &path, base, 10 * 1024 * 1024, false).unwrap();
                index.sanity_check().unwrap();
                assert!(index.entries() > 0, "{name}/{base}: fixture time index is empty");
                let segment: Vec<_> = batches.iter().filter(|b| b.0 == base).collect();
                for n in 0..index.entries() {
                    let e = index.entry(n).unwrap();
                    assert!(
                        segment.iter().any(|b| b.2 == e.offset),
                        "{name}/{base}: {e:?} is not a batch end"
                    );
                    let running_max = segment.iter().filter(|b| b.2 <= e.offset).map(|b| b.3).max().unwrap();
                    assert_eq!(e.timestamp, running_max, "{name}/{base}: entry {n}");
                    assert_eq!(index.lookup(e.timestamp), e);
                }
                // A rolled segment's last entry is its largest timestamp (written at roll); the
                // active segment of a fixture may lack the close-time entry.
                let max = segment.iter().map(|b| b.3).max().unwrap();
                if active_segments(&m).contains(&base) {
                    assert!(index.last_entry().timestamp <= max, "{name}/{base}");
                } else {
                    assert_eq!(index.last_entry().timestamp, max, "{name}/{base}");
                }
            }
        }
    }
}
