//! The offset index (`.index`): a sparse map from offsets to byte positions in a segment's log
//! file (Kafka's `OffsetIndex`).
//!
//! Entries are 8 bytes, big-endian: the offset relative to the segment's base offset (`i32`, in
//! `[0, i32::MAX]`) and the position of the batch in the `.log` file (`i32`). Keys strictly
//! increase. An entry maps the *last* offset of a batch to the position where that batch starts,
//! so a lookup gives a position at or before the batch holding the target; the reader scans
//! forward from there. Nothing is checksummed: after a crash the index is rebuilt from the log.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::io::IoBackend;

use super::index_file::{Bound, IndexFile, Layout};

/// Size of one offset index entry in bytes.
pub const OFFSET_INDEX_ENTRY_SIZE: usize = 8;

/// An offset and the byte position of the batch it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OffsetPosition {
    /// Absolute offset.
    pub offset: i64,
    /// Byte position in the segment's log file.
    pub position: u32,
}

/// The offset index of one segment.
///
/// Mutating methods take `&mut self` and lookups `&self`; the owning segment puts the index
/// behind its lock.
#[derive(Debug)]
pub struct OffsetIndex {
    file: IndexFile,
    /// Offset of the last entry, or the base offset when empty (Kafka's `lastOffset`).
    last_offset: i64,
}

fn relative(entry: &[u8]) -> i32 {
    i32::from_be_bytes([entry[0], entry[1], entry[2], entry[3]])
}

fn physical(entry: &[u8]) -> i32 {
    i32::from_be_bytes([entry[4], entry[5], entry[6], entry[7]])
}

impl OffsetIndex {
    /// Opens the offset index at `path` for the segment starting at `base_offset`.
    ///
    /// An existing file holds `length / 8` entries: Kafka trusts the length, which is why the
    /// file is trimmed at roll and close. A `writable` (active) index is created if missing and
    /// resized to `max_index_size` rounded down to whole entries (`segment.index.bytes`), keeping
    /// every existing entry; a read-only index must exist and is mapped at its length (or read
    /// into memory if the file cannot be opened for writing).
    pub fn open(
        io: Arc<dyn IoBackend>,
        path: impl Into<PathBuf>,
        base_offset: i64,
        max_index_size: u32,
        writable: bool,
    ) -> Result<OffsetIndex> {
        Self::open_with(io, path.into(), base_offset, max_index_size, writable, true)
    }

    fn open_with(
        io: Arc<dyn IoBackend>,
        path: PathBuf,
        base_offset: i64,
        max_index_size: u32,
        writable: bool,
        prefer_map: bool,
    ) -> Result<OffsetIndex> {
        let layout = Layout { kind: "offset index", entry_size: OFFSET_INDEX_ENTRY_SIZE };
        let file = IndexFile::open(io, path, layout, base_offset, max_index_size, writable, prefer_map)?;
        let mut index = OffsetIndex { file, last_offset: base_offset };
        index.last_offset = index.last_entry().offset;
        Ok(index)
    }

    fn parse(&self, n: usize) -> OffsetPosition {
        let entry = self.file.entry_bytes(n);
        OffsetPosition {
            offset: self.file.base_offset() + i64::from(relative(entry)),
            // A negative stored position (damage) reads as a position past any log file; the
            // sanity check reports it for the last entry.
            position: physical(entry) as u32,
        }
    }

    fn key_of(&self) -> impl Fn(&[u8]) -> i64 + '_ {
        let base = self.file.base_offset();
        move |e| base + i64::from(relative(e))
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

    /// How many entries the file has room for.
    pub fn max_entries(&self) -> usize {
        self.file.max_entries()
    }

    /// `segment.index.bytes` this index was opened with (the size [`OffsetIndex::reset`] restores).
    pub fn max_index_size(&self) -> u32 {
        self.file.max_index_size()
    }

    /// Whether no entry can be appended any more (the segment must roll).
    pub fn is_full(&self) -> bool {
        self.file.entries() >= self.file.max_entries()
    }

    /// Bytes used by valid entries (`8 × entries`).
    pub fn size_in_bytes(&self) -> u64 {
        (self.file.entries() * OFFSET_INDEX_ENTRY_SIZE) as u64
    }

    /// Current length of the file (preallocated while the index is writable).
    pub fn length(&self) -> u64 {
        self.file.length()
    }

    /// Whether the index was opened writable (active segment).
    pub fn is_writable(&self) -> bool {
        self.file.is_writable()
    }

    /// Offset of the last entry, or the base offset when the index is empty.
    pub fn last_offset(&self) -> i64 {
        self.last_offset
    }

    /// The last entry, or `(base_offset, 0)` when the index is empty.
    pub fn last_entry(&self) -> OffsetPosition {
        match self.file.entries() {
            0 => OffsetPosition { offset: self.file.base_offset(), position: 0 },
            n => self.parse(n - 1),
        }
    }

    /// Entry `n`, if there are more than `n` entries.
    pub fn entry(&self, n: usize) -> Option<OffsetPosition> {
        (n < self.file.entries()).then(|| self.parse(n))
    }

    /// Whether `offset` can be stored relative to the base offset (`[0, i32::MAX]` away).
    pub fn can_append_offset(&self, offset: i64) -> bool {
        self.file.relative_offset(offset).is_some()
    }

    /// The entry with the largest offset `<= target`, or `(base_offset, 0)` when there is none
    /// (empty index or target before the first entry). The answer is always a safe place to
    /// start scanning the log for `target`.
    pub fn lookup(&self, target: i64) -> OffsetPosition {
        match self.file.search(target, self.key_of(), Bound::LargestLowerBound) {
            Some(slot) => self.parse(slot),
            None => OffsetPosition { offset: self.file.base_offset(), position: 0 },
        }
    }

    /// The first entry whose position is `>= fetch_start_position + fetch_size`: an offset
    /// certainly past a fetch of `fetch_size` bytes from that position (not necessarily the
    /// smallest such offset). `None` if no entry is that far.
    pub fn fetch_upper_bound_offset(
        &self,
        fetch_start_position: u32,
        fetch_size: u32,
    ) -> Option<OffsetPosition> {
        let target = i64::from(fetch_start_position) + i64::from(fetch_size);
        self.file
            .search(target, |e| i64::from(physical(e)), Bound::SmallestUpperBound)
            .map(|slot| self.parse(slot))
    }

    /// Appends an entry. `offset` must be greater than the last entry's and within `i32::MAX`
    /// of the base offset; `position` must fit an `i32`; the index must be writable and not full.
    pub fn append(&mut self, offset: i64, position: u32) -> Result<()> {
        self.file.ensure_writable()?;
        if self.is_full() {
            return Err(self.file.full_error());
        }
        if self.file.entries() > 0 && offset <= self.last_offset {
            return Err(Error::InvalidRequest(format!(
                "cannot append offset {offset} to offset index {} at entry {}: not larger than the last \
                 offset {}",
                self.path().display(),
                self.file.entries(),
                self.last_offset
            )));
        }
        let Some(rel) = self.file.relative_offset(offset) else {
            return Err(Error::InvalidRequest(format!(
                "offset {offset} does not fit offset index {} with base offset {}",
                self.path().display(),
                self.base_offset()
            )));
        };
        let Ok(pos) = i32::try_from(position) else {
            return Err(Error::InvalidRequest(format!(
                "position {position} does not fit offset index {}",
                self.path().display()
            )));
        };
        let mut entry = [0u8; OFFSET_INDEX_ENTRY_SIZE];
        entry[..4].copy_from_slice(&rel.to_be_bytes());
        entry[4..].copy_from_slice(&pos.to_be_bytes());
        self.file.push(&entry)?;
        self.last_offset = offset;
        Ok(())
    }

    /// Removes every entry whose offset is `>= offset`; an offset past the last entry changes
    /// nothing. Like every mutation it needs a writable index: a rolled segment that becomes
    /// active again (log truncation) is reopened writable first.
    pub fn truncate_to(&mut self, offset: i64) -> Result<()> {
        let keep = self.file.count_below(offset, self.key_of());
        self.truncate_to_entries(keep)
    }

    /// Removes every entry.
    pub fn truncate(&mut self) -> Result<()> {
        self.truncate_to_entries(0)
    }

    fn truncate_to_entries(&mut self, n: usize) -> Result<()> {
        let result = self.file.truncate_to_entries(n);
        self.refresh_last_offset();
        result
    }

    /// Re-reads the cached last offset after the entries changed (or the index closed itself
    /// after a failed remap).
    fn refresh_last_offset(&mut self) {
        self.last_offset = self.last_entry().offset;
    }

    /// Removes every entry and resizes the file back to `max_index_size` (segment recovery).
    pub fn reset(&mut self) -> Result<()> {
        self.truncate()?;
        let result = self.file.resize(self.file.max_index_size()).map(|_| ());
        self.refresh_last_offset();
        result
    }

    /// Resizes the file to `new_size` bytes rounded down to whole entries; `Ok(false)` if that is
    /// its size already. Refuses to drop valid entries.
    pub fn resize(&mut self, new_size: u32) -> Result<bool> {
        let result = self.file.resize(new_size);
        self.refresh_last_offset();
        result
    }

    /// Shrinks the file to its valid entries (at roll and close).
    pub fn trim_to_valid_size(&mut self) -> Result<()> {
        let result = self.file.trim_to_valid_size();
        self.refresh_last_offset();
        result
    }

    /// Makes the entries durable (`msync`).
    pub fn flush(&self) -> Result<()> {
        self.file.flush()
    }

    /// Checks what can be checked cheaply: the file holds whole entries, the last offset is not
    /// below the base offset (equal is fine: an entry for the base offset itself), the last
    /// position is not negative, and the last key is above the one before it (catches the zeroed
    /// tail of a preallocated file that was never trimmed).
    pub fn sanity_check(&self) -> Result<()> {
        self.file.check_length().map_err(|d| self.file.corrupt(d))?;
        let n = self.file.entries();
        if n == 0 {
            return Ok(());
        }
        if self.last_offset < self.base_offset() {
            return Err(self.file.corrupt(format!(
                "offset index has {n} entries but its last offset {} is below the base offset {}",
                self.last_offset,
                self.base_offset()
            )));
        }
        if physical(self.file.entry_bytes(n - 1)) < 0 {
            return Err(self.file.corrupt(format!("offset index entry {} has a negative position", n - 1)));
        }
        if n >= 2 && self.parse(n - 2).offset >= self.last_offset {
            return Err(self.file.corrupt(format!(
                "offset index keys do not increase: entry {} is {} and entry {} is {}",
                n - 2,
                self.parse(n - 2).offset,
                n - 1,
                self.last_offset
            )));
        }
        Ok(())
    }

    /// Trims a writable index to its valid entries and releases the map and the file.
    pub fn close(&mut self) -> Result<()> {
        let result = self.file.close();
        self.refresh_last_offset();
        result
    }

    /// Releases the map and removes the file; `false` if it did not exist.
    pub fn delete(&mut self) -> Result<bool> {
        let result = self.file.delete();
        self.refresh_last_offset();
        result
    }

    /// Renames the file (for the `.deleted`, `.cleaned` and `.swap` suffixes). The index stays
    /// usable under its new name.
    pub fn rename_to(&mut self, new_path: impl Into<PathBuf>) -> Result<()> {
        self.file.rename_to(new_path.into())
    }
}

/// Ports of Kafka's `OffsetIndexTest`, plus the file-length rules and the fixtures.
#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use tempfile::TempDir;

    use super::*;
    use crate::error::StorageError;
    use crate::segment::index_file::test_support::{
        FIXTURES, Rng, batches, copy_fixture, io, manifest, segment_bases, segment_file,
    };

    const BASE_OFFSET: i64 = 45;

    /// A fresh writable index with room for `max_entries` entries in a new temporary directory.
    fn new_index(base_offset: i64, max_entries: u32) -> (TempDir, OffsetIndex) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(segment_file(base_offset, "index"));
        let index = OffsetIndex::open(io(), path, base_offset, max_entries * 8, true).unwrap();
        (dir, index)
    }

    fn op(offset: i64, position: u32) -> OffsetPosition {
        OffsetPosition { offset, position }
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
    fn new_index_is_preallocated_to_whole_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.index");
        // 67 bytes round down to 8 entries.
        let index = OffsetIndex::open(io(), &path, 0, 67, true).unwrap();
        assert_eq!(index.max_entries(), 8);
        assert_eq!(index.entries(), 0);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 64);
        let tiny = OffsetIndex::open(io(), dir.path().join("y.index"), 0, 7, true);
        assert!(matches!(tiny, Err(Error::InvalidConfig { .. })), "{tiny:?}");
    }

    #[test]
    fn lookup_extreme_cases() {
        let (_dir, mut index) = new_index(BASE_OFFSET, 30);
        assert_eq!(index.lookup(BASE_OFFSET), op(BASE_OFFSET, 0), "lookup on an empty index");
        assert_eq!(index.lookup(i64::MAX), op(BASE_OFFSET, 0));
        let max = index.max_entries();
        for i in 0..max {
            index.append(BASE_OFFSET + i as i64 + 1, i as u32).unwrap();
        }
        assert_eq!(index.lookup(BASE_OFFSET), op(BASE_OFFSET, 0));
        assert_eq!(index.lookup(i64::MIN), op(BASE_OFFSET, 0));
        assert_eq!(index.lookup(BASE_OFFSET + max as i64), op(BASE_OFFSET + max as i64, max as u32 - 1));
        assert_eq!(index.lookup(i64::MAX), op(BASE_OFFSET + max as i64, max as u32 - 1));
    }

    /// Fills an index with random increasing offsets and positions and checks lookups of every
    /// offset in range against a sorted map.
    fn check_random_lookups(seed: u64, max_entries: u32) {
        let (_dir, mut index) = new_index(BASE_OFFSET, max_entries);
        let mut rng = Rng::new(seed);
        let mut reference = BTreeMap::new();
        let (mut offset, mut position) = (BASE_OFFSET, 0u32);
        for _ in 0..index.max_entries() {
            offset += rng.below(15) as i64 + 1;
            position += rng.below(15) as u32 + 1;
            index.append(offset, position).unwrap();
            reference.insert(offset, position);
        }
        for (&o, &p) in &reference {
            assert_eq!(index.lookup(o), op(o, p), "seed {seed}: exact lookup of {o}");
        }
        for target in BASE_OFFSET - 2..=offset + 2 {
            let expected = match reference.range(..=target).next_back() {
                Some((&o, &p)) => op(o, p),
                None => op(BASE_OFFSET, 0),
            };
            assert_eq!(index.lookup(target), expected, "seed {seed}: lookup of {target}");
        }
    }

    #[test]
    fn random_lookup_test() {
        for seed in 0..20 {
            check_random_lookups(seed, 30);
        }
    }

    #[test]
    fn random_lookups_across_the_warm_section() {
        // 3000 entries: 1024 warm ones and a cold head, so both search branches run.
        for seed in 100..103 {
            check_random_lookups(seed, 3000);
        }
    }

    #[test]
    fn test_entry() {
        let (_dir, mut index) = new_index(BASE_OFFSET, 30);
        for i in 0..index.max_entries() {
            index.append(BASE_OFFSET + i as i64, i as u32).unwrap();
        }
        for i in 0..index.max_entries() {
            assert_eq!(index.entry(i), Some(op(BASE_OFFSET + i as i64, i as u32)));
        }
        assert_eq!(index.entry(index.max_entries()), None);
    }

    #[test]
    fn test_entry_overflow() {
        let (_dir, index) = new_index(BASE_OFFSET, 30);
        assert_eq!(index.entry(0), None);
    }

    #[test]
    fn append_too_many() {
        let (_dir, mut index) = new_index(BASE_OFFSET, 30);
        for i in 0..index.max_entries() {
            index.append(BASE_OFFSET + i as i64 + 1, i as u32).unwrap();
        }
        assert!(index.is_full());
        assert_invalid_request(index.append(BASE_OFFSET + index.max_entries() as i64 + 1, 1));
        assert_eq!(index.entries(), 30);
    }

    #[test]
    fn append_out_of_order() {
        let (_dir, mut index) = new_index(BASE_OFFSET, 30);
        index.append(51, 0).unwrap();
        assert_invalid_request(index.append(50, 1));
        assert_invalid_request(index.append(51, 1));
        assert_eq!(index.entries(), 1);
        assert_eq!(index.last_offset(), 51);
    }

    #[test]
    fn append_refuses_offsets_and_positions_that_do_not_fit() {
        let (_dir, mut index) = new_index(BASE_OFFSET, 30);
        assert!(!index.can_append_offset(BASE_OFFSET - 1));
        assert_invalid_request(index.append(BASE_OFFSET - 1, 0));
        let furthest = BASE_OFFSET + i32::MAX as i64;
        assert!(index.can_append_offset(furthest));
        assert!(!index.can_append_offset(furthest + 1));
        assert_invalid_request(index.append(furthest + 1, 0));
        assert_invalid_request(index.append(BASE_OFFSET + 1, i32::MAX as u32 + 1));
        index.append(furthest, i32::MAX as u32).unwrap();
        assert_eq!(index.lookup(i64::MAX), op(furthest, i32::MAX as u32));
    }

    #[test]
    fn test_fetch_upper_bound_offset() {
        let (_dir, mut index) = new_index(BASE_OFFSET, 30);
        let first = op(BASE_OFFSET, 0);
        let second = op(BASE_OFFSET + 1, 10);
        let third = op(BASE_OFFSET + 2, 23);
        let fourth = op(BASE_OFFSET + 3, 37);
        assert_eq!(index.fetch_upper_bound_offset(first.position, 5), None);
        for e in [first, second, third, fourth] {
            index.append(e.offset, e.position).unwrap();
        }
        assert_eq!(index.fetch_upper_bound_offset(first.position, 5), Some(second));
        assert_eq!(index.fetch_upper_bound_offset(first.position, 10), Some(second));
        assert_eq!(index.fetch_upper_bound_offset(first.position, 23), Some(third));
        assert_eq!(index.fetch_upper_bound_offset(first.position, 22), Some(third));
        assert_eq!(index.fetch_upper_bound_offset(second.position, 24), Some(fourth));
        assert_eq!(index.fetch_upper_bound_offset(fourth.position, 1), None);
        assert_eq!(index.fetch_upper_bound_offset(first.position, 200), None);
        assert_eq!(index.fetch_upper_bound_offset(second.position, 200), None);
        // An entry exactly at the bound is the answer (Kafka answers the next one here).
        assert_eq!(index.fetch_upper_bound_offset(0, 0), Some(first));
        // No overflow near the top of the position range.
        assert_eq!(index.fetch_upper_bound_offset(u32::MAX, u32::MAX), None);
    }

    #[test]
    fn test_reopen() {
        let (dir, mut index) = new_index(BASE_OFFSET, 30);
        let (first, second) = (op(51, 0), op(52, 1));
        index.append(first.offset, first.position).unwrap();
        index.append(second.offset, second.position).unwrap();
        index.close().unwrap();
        let path = dir.path().join(segment_file(BASE_OFFSET, "index"));
        let read_only = OffsetIndex::open(io(), &path, BASE_OFFSET, 30 * 8, false).unwrap();
        assert_eq!(read_only.lookup(first.offset), first);
        assert_eq!(read_only.lookup(second.offset), second);
        assert_eq!(read_only.last_offset(), second.offset);
        assert_eq!(read_only.entries(), 2);
        assert_eq!(read_only.max_entries(), 2);
        let mut read_only = read_only;
        assert_invalid_request(read_only.append(53, 1));
        assert_invalid_request(read_only.truncate_to(52));
        assert!(matches!(read_only.resize(800), Err(Error::InvalidRequest(_))));
        // Opening read-only never changes the file.
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 16);
    }

    #[test]
    fn reopened_active_index_is_resized_back_to_max() {
        let (dir, mut index) = new_index(BASE_OFFSET, 30);
        for i in 1..=5 {
            index.append(BASE_OFFSET + i, i as u32 * 100).unwrap();
        }
        index.close().unwrap();
        let path = dir.path().join(segment_file(BASE_OFFSET, "index"));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 5 * 8, "close trims to the valid entries");
        let mut active = OffsetIndex::open(io(), &path, BASE_OFFSET, 30 * 8, true).unwrap();
        assert_eq!(active.entries(), 5);
        assert_eq!(active.max_entries(), 30);
        assert_eq!(active.length(), 30 * 8);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 30 * 8);
        assert_eq!(active.last_entry(), op(BASE_OFFSET + 5, 500));
        active.append(BASE_OFFSET + 6, 600).unwrap();
        assert_eq!(active.lookup(BASE_OFFSET + 100), op(BASE_OFFSET + 6, 600));
        // A smaller segment.index.bytes never cuts existing entries.
        active.close().unwrap();
        let small = OffsetIndex::open(io(), &path, BASE_OFFSET, 2 * 8, true).unwrap();
        assert_eq!(small.entries(), 6);
        assert!(small.is_full());
    }

    #[test]
    fn file_length_after_close_is_8_times_entries() {
        for n in [0u32, 1, 7, 30] {
            let (dir, mut index) = new_index(0, 30);
            for i in 0..n {
                index.append(i as i64, i * 10).unwrap();
            }
            assert_eq!(index.size_in_bytes(), 8 * n as u64);
            index.close().unwrap();
            let len = std::fs::metadata(dir.path().join(segment_file(0, "index"))).unwrap().len();
            assert_eq!(len, 8 * n as u64);
            // Closing twice is harmless; a closed index answers nothing and refuses writes.
            index.close().unwrap();
            assert_eq!(index.entries(), 0);
            assert_eq!(index.lookup(5), op(0, 0));
            assert!(matches!(index.append(100, 0), Err(Error::Storage(StorageError::Closed(_)))));
            assert!(index.flush().is_err());
        }
    }

    #[test]
    fn truncate() {
        let (_dir, mut idx) = new_index(0, 10);
        idx.truncate().unwrap();
        for i in 1..10 {
            idx.append(i, i as u32).unwrap();
        }
        idx.truncate_to(12).unwrap();
        assert_eq!(idx.lookup(10), op(9, 9), "unchanged by truncation past the end");
        assert_eq!(idx.last_offset(), 9);

        idx.append(10, 10).unwrap();
        idx.truncate_to(10).unwrap();
        assert_eq!(idx.lookup(10), op(9, 9), "truncation at an entry removes it");
        assert_eq!(idx.last_offset(), 9);
        idx.append(10, 10).unwrap();

        idx.truncate_to(9).unwrap();
        assert_eq!(idx.lookup(10), op(8, 8), "truncation removes the last entry");
        assert_eq!(idx.last_offset(), 8);
        idx.append(9, 9).unwrap();

        idx.truncate_to(5).unwrap();
        assert_eq!(idx.lookup(10), op(4, 4));
        assert_eq!(idx.last_offset(), 4);
        idx.append(5, 5).unwrap();

        idx.truncate().unwrap();
        assert_eq!(idx.entries(), 0, "full truncation leaves no entries");
        assert_eq!(idx.last_offset(), 0);
        idx.append(0, 0).unwrap();
    }

    #[test]
    fn truncate_between_sparse_entries_keeps_lower_ones() {
        let (_dir, mut idx) = new_index(100, 10);
        for (o, p) in [(110, 1000), (120, 2000), (130, 3000)] {
            idx.append(o, p).unwrap();
        }
        idx.truncate_to(125).unwrap();
        assert_eq!(idx.entries(), 2);
        assert_eq!(idx.last_entry(), op(120, 2000));
        idx.truncate_to(100).unwrap();
        assert_eq!(idx.entries(), 0);
        assert_eq!(idx.last_entry(), op(100, 0));
    }

    #[test]
    fn test_sanity_last_offset_equal_to_base_offset() {
        let (_dir, mut idx) = new_index(20, 10);
        idx.append(20, 0).unwrap();
        idx.sanity_check().unwrap();
    }

    #[test]
    fn sanity_check_finds_damage() {
        let dir = tempfile::tempdir().unwrap();
        let io = io();
        // Length not a multiple of 8 (Kafka trusts whole entries and reports the length).
        let odd = dir.path().join("odd.index");
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&1i32.to_be_bytes());
        bytes.extend_from_slice(&0i32.to_be_bytes());
        bytes.extend_from_slice(&[0, 0, 0]);
        std::fs::write(&odd, &bytes).unwrap();
        let index = OffsetIndex::open(io.clone(), &odd, 0, 80, false).unwrap();
        assert_eq!(index.entries(), 1);
        assert_corrupt(index.sanity_check());
        // Also when opened writable, which resizes the file at once.
        let index = OffsetIndex::open(io.clone(), &odd, 0, 80, true).unwrap();
        assert_corrupt(index.sanity_check());

        // Last offset below the base offset.
        let below = dir.path().join("below.index");
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&(-1i32).to_be_bytes());
        bytes.extend_from_slice(&0i32.to_be_bytes());
        std::fs::write(&below, &bytes).unwrap();
        assert_corrupt(OffsetIndex::open(io.clone(), &below, 10, 80, false).unwrap().sanity_check());

        // An active index left untrimmed by a crash: the zeroed tail counts as entries.
        let (dir2, mut active) = new_index(0, 10);
        active.append(3, 100).unwrap();
        active.append(7, 200).unwrap();
        active.flush().unwrap();
        drop(active);
        let path = dir2.path().join(segment_file(0, "index"));
        let reopened = OffsetIndex::open(io.clone(), &path, 0, 80, false).unwrap();
        assert_eq!(reopened.entries(), 10);
        assert_corrupt(reopened.sanity_check());

        // A negative position.
        let negative = dir.path().join("negative.index");
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&4i32.to_be_bytes());
        bytes.extend_from_slice(&(-8i32).to_be_bytes());
        std::fs::write(&negative, &bytes).unwrap();
        assert_corrupt(OffsetIndex::open(io, &negative, 0, 80, false).unwrap().sanity_check());
    }

    #[test]
    fn trim_and_resize_round_trips() {
        let (dir, mut idx) = new_index(0, 30);
        let path = dir.path().join(segment_file(0, "index"));
        for i in 0..10 {
            idx.append(i * 2, i as u32 * 7).unwrap();
        }
        idx.trim_to_valid_size().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 80);
        assert_eq!(idx.max_entries(), 10);
        assert!(idx.is_full());
        assert!(!idx.resize(80).unwrap(), "same size: nothing to do");
        assert!(matches!(idx.resize(72), Err(Error::InvalidRequest(_))), "would cut entries");
        assert!(idx.resize(30 * 8 + 5).unwrap());
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 240);
        assert_eq!(idx.max_entries(), 30);
        for i in 0..10 {
            assert_eq!(idx.lookup(i * 2 + 1), op(i * 2, i as u32 * 7));
        }
        idx.append(100, 1000).unwrap();
        idx.reset().unwrap();
        assert_eq!(idx.entries(), 0);
        assert_eq!(idx.length(), 240);
        idx.append(1, 1).unwrap();
        idx.trim_to_valid_size().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 8);
    }

    #[test]
    fn entries_are_big_endian_relative_offset_and_position() {
        let (dir, mut idx) = new_index(1000, 4);
        idx.append(1000 + 0x0102_0304, 0x0A0B_0C0D).unwrap();
        idx.flush().unwrap();
        idx.close().unwrap();
        let bytes = std::fs::read(dir.path().join(segment_file(1000, "index"))).unwrap();
        assert_eq!(bytes, [1, 2, 3, 4, 0x0A, 0x0B, 0x0C, 0x0D]);
    }

    #[test]
    fn rename_keeps_the_index_usable_and_delete_removes_it() {
        let (dir, mut idx) = new_index(0, 10);
        idx.append(5, 50).unwrap();
        let renamed = dir.path().join(format!("{}.deleted", segment_file(0, "index")));
        idx.rename_to(&renamed).unwrap();
        assert_eq!(idx.path(), renamed);
        assert!(!dir.path().join(segment_file(0, "index")).exists());
        idx.append(6, 60).unwrap();
        assert_eq!(idx.lookup(6), op(6, 60));
        assert!(idx.delete().unwrap());
        assert!(!renamed.exists());
        assert!(!idx.delete().unwrap(), "already gone");
    }

    #[test]
    fn read_only_index_can_live_in_memory() {
        let (dir, mut idx) = new_index(0, 10);
        idx.append(3, 30).unwrap();
        idx.append(9, 90).unwrap();
        idx.close().unwrap();
        let path = dir.path().join(segment_file(0, "index"));
        let copy = OffsetIndex::open_with(io(), path, 0, 80, false, false).unwrap();
        assert_eq!(copy.entries(), 2);
        assert_eq!(copy.lookup(8), op(3, 30));
        assert_eq!(copy.lookup(9), op(9, 90));
        copy.flush().unwrap();
        copy.sanity_check().unwrap();
    }

    #[test]
    fn failed_resize_keeps_the_entries_or_closes_the_index() {
        use std::sync::atomic::Ordering;

        use crate::segment::index_file::test_support::FlakyBackend;

        let dir = tempfile::tempdir().unwrap();
        let flaky = Arc::new(FlakyBackend::default());
        let (fail_set_len, fail_map) = (flaky.fail_set_len.clone(), flaky.fail_map.clone());
        let mut idx = OffsetIndex::open(flaky, dir.path().join("f.index"), 0, 80, true).unwrap();
        idx.append(4, 40).unwrap();
        idx.append(8, 80).unwrap();

        // set_len fails after the map was dropped: the file is mapped again at its length.
        fail_set_len.store(true, Ordering::SeqCst);
        assert!(matches!(idx.trim_to_valid_size(), Err(Error::Storage(StorageError::Io { .. }))));
        assert_eq!(idx.entries(), 2);
        assert_eq!(idx.max_entries(), 10);
        assert_eq!(idx.lookup(9), op(8, 80));
        idx.append(12, 120).unwrap();
        fail_set_len.store(false, Ordering::SeqCst);

        // Mapping fails for good: the index closes itself and answers the safe lower bound.
        fail_map.store(true, Ordering::SeqCst);
        assert!(idx.resize(160).is_err());
        assert_eq!(idx.entries(), 0);
        assert_eq!(idx.last_offset(), 0);
        assert_eq!(idx.lookup(9), op(0, 0));
        assert_eq!(idx.fetch_upper_bound_offset(0, 1), None);
        assert!(matches!(idx.append(20, 200), Err(Error::Storage(StorageError::Closed(_)))));
    }

    #[test]
    fn indexes_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<OffsetIndex>();
        assert_send_sync::<crate::segment::TimeIndex>();
        assert_send_sync::<crate::segment::TransactionIndex>();
    }

    #[test]
    fn read_only_open_of_a_missing_file_fails() {
        let dir = tempfile::tempdir().unwrap();
        let r = OffsetIndex::open(io(), dir.path().join("none.index"), 0, 80, false);
        assert!(matches!(r, Err(Error::Storage(StorageError::Io { .. }))), "{r:?}");
    }

    #[test]
    fn fixture_indexes_point_at_batch_starts() {
        for name in FIXTURES {
            let m = manifest(name);
            let batches = batches(&m);
            let dir = tempfile::tempdir().unwrap();
            copy_fixture(name, dir.path());
            for base in segment_bases(&m) {
                let path = dir.path().join(segment_file(base, "index"));
                let index = OffsetIndex::open(io(), &path, base, 10 * 1024 * 1024, false).unwrap();
                index.sanity_check().unwrap();
                assert!(index.entries() > 0, "{name}/{base}: fixture index is empty");
                for n in 0..index.entries() {
                    let e = index.entry(n).unwrap();
                    let batch = batches.iter().find(|b| b.0 == base && b.1 == u64::from(e.position));
                    let batch =
                        batch.unwrap_or_else(|| panic!("{name}/{base}: {e:?} is not at a batch start"));
                    assert_eq!(batch.2, e.offset, "{name}/{base}: entry {n} maps a batch's last offset");
                    assert_eq!(index.lookup(e.offset), e);
                }
                // Every batch's last offset looks up to a batch start at or before it.
                for b in batches.iter().filter(|b| b.0 == base) {
                    let found = index.lookup(b.2);
                    assert!(found.offset <= b.2 && u64::from(found.position) <= b.1, "{name}: {b:?}");
                }
                // Reopened as the active segment, the same entries are there and more fit.
                drop(index);
                let active = OffsetIndex::open(io(), &path, base, 10 * 1024 * 1024, true).unwrap();
                active.sanity_check().unwrap();
                assert_eq!(active.max_entries(), 10 * 1024 * 1024 / 8);
            }
        }
    }
}
