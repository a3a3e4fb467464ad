//! The transaction index (`.txnindex`): the aborted transactions whose ABORT marker is in a
//! segment (Kafka's `TransactionIndex` and `AbortedTxn`).
//!
//! Entries are 34 bytes, big-endian: version `i16` (0), producer id `i64`, first offset `i64`,
//! last offset `i64` (the ABORT marker's offset) and the last stable offset `i64` at the time of
//! the abort. A `read_committed` fetch asks each segment from the fetch offset on for the aborted
//! transactions overlapping the fetched range, and stops at the first entry whose LSO shows that
//! no later segment can hold more.
//!
//! Unlike the sparse indexes this file is not preallocated or mapped: it is created on the first
//! append, written with positioned writes at its end, and read in chunks. Last offsets strictly
//! increase.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result, StorageError};
use crate::io::{IoBackend, IoFile, OpenMode};

/// An aborted transaction as stored in the transaction index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AbortedTxn {
    /// Producer id.
    pub producer_id: i64,
    /// Offset of the transaction's first batch (possibly in an earlier segment).
    pub first_offset: i64,
    /// Offset of the ABORT marker.
    pub last_offset: i64,
    /// Last stable offset when the marker was written.
    pub last_stable_offset: i64,
}

impl AbortedTxn {
    /// Size of one serialized entry.
    pub const SIZE: usize = 34;
    /// The only entry version Kafka defines.
    pub const CURRENT_VERSION: i16 = 0;

    /// The 34-byte entry: version 0 (`i16`), then the four fields, big-endian.
    pub fn to_bytes(&self) -> [u8; AbortedTxn::SIZE] {
        let mut b = [0u8; AbortedTxn::SIZE];
        b[0..2].copy_from_slice(&Self::CURRENT_VERSION.to_be_bytes());
        b[2..10].copy_from_slice(&self.producer_id.to_be_bytes());
        b[10..18].copy_from_slice(&self.first_offset.to_be_bytes());
        b[18..26].copy_from_slice(&self.last_offset.to_be_bytes());
        b[26..34].copy_from_slice(&self.last_stable_offset.to_be_bytes());
        b
    }

    /// Parses a 34-byte entry. Kafka reads the version from the first byte only; eoslog insists
    /// on the whole `i16` being 0, and anything else is an error naming the version found.
    pub fn from_bytes(b: &[u8; AbortedTxn::SIZE]) -> std::result::Result<AbortedTxn, String> {
        let version = i16::from_be_bytes([b[0], b[1]]);
        if version != Self::CURRENT_VERSION {
            return Err(format!(
                "unknown aborted transaction entry version {version} (expected {})",
                Self::CURRENT_VERSION
            ));
        }
        Ok(AbortedTxn {
            producer_id: i64_at(b, 2),
            first_offset: i64_at(b, 10),
            last_offset: i64_at(b, 18),
            last_stable_offset: i64_at(b, 26),
        })
    }
}

fn i64_at(b: &[u8], at: usize) -> i64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(v)
}

/// The aborted transactions of one segment that overlap a fetch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TxnIndexSearchResult {
    /// Overlapping aborted transactions, in index order.
    pub aborted: Vec<AbortedTxn>,
    /// `true` when an entry's last stable offset reached the fetch's upper bound, so no later
    /// segment can hold an aborted transaction overlapping the fetch.
    pub is_complete: bool,
}

/// Entries read per I/O call when scanning (120 entries, 4080 bytes).
const SCAN_CHUNK_ENTRIES: usize = 120;

/// The transaction index of one segment.
#[derive(Debug)]
pub struct TransactionIndex {
    io: Arc<dyn IoBackend>,
    path: PathBuf,
    /// The segment's base offset: every entry's last offset must be at least this.
    base_offset: i64,
    /// `None` until the file exists (it is created by the first append).
    file: Option<Arc<dyn IoFile>>,
    /// Length of the whole entries; appends go here. A torn partial entry left by a crash lies
    /// past it and is overwritten by the next append.
    len: u64,
    /// Bytes of a torn partial entry found at open and not yet overwritten or cut (the sanity
    /// check reports it).
    torn_tail: u64,
    /// Last offset of the last entry, to enforce that last offsets increase.
    last_offset: Option<i64>,
    /// The file was created by this instance and its directory entry is not yet durable.
    created_unsynced: bool,
    closed: bool,
}

impl TransactionIndex {
    /// Opens the transaction index at `path` for the segment starting at `base_offset`. A missing
    /// file is an empty index (the file is created by the first append). The last entry's last
    /// offset is read back so that appends keep increasing.
    pub fn open(
        io: Arc<dyn IoBackend>,
        path: impl Into<PathBuf>,
        base_offset: i64,
    ) -> Result<TransactionIndex> {
        let path = path.into();
        let file = match io.open(&path, OpenMode::ReadWrite) {
            Ok(f) => Some(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            // A read-only directory (an inspection tool): reads work, appends will fail.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
                ) =>
            {
                Some(io.open(&path, OpenMode::Read).map_err(|e| StorageError::io("open", &path, e))?)
            }
            Err(e) => return Err(StorageError::io("open", &path, e).into()),
        };
        let mut index = TransactionIndex {
            io,
            path,
            base_offset,
            file: None,
            len: 0,
            torn_tail: 0,
            last_offset: None,
            created_unsynced: false,
            closed: false,
        };
        if let Some(file) = file {
            let file_len = file.len().map_err(|e| StorageError::io("stat", &index.path, e))?;
            let whole = file_len / AbortedTxn::SIZE as u64;
            index.len = whole * AbortedTxn::SIZE as u64;
            index.torn_tail = file_len - index.len;
            if whole > 0 {
                // Only the last offset is needed; the entry's version is the sanity check's job.
                let mut b = [0u8; 8];
                file.read_exact_at(&mut b, (whole - 1) * AbortedTxn::SIZE as u64 + 18)
                    .map_err(|e| StorageError::io("read", &index.path, e))?;
                index.last_offset = Some(i64::from_be_bytes(b));
            }
            index.file = Some(file);
        }
        Ok(index)
    }

    /// The segment's base offset.
    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }

    /// The file's current path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of whole entries.
    pub fn entries(&self) -> usize {
        (self.len / AbortedTxn::SIZE as u64) as usize
    }

    /// Whether the index holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries() == 0
    }

    /// Last offset of the last entry.
    pub fn last_offset(&self) -> Option<i64> {
        self.last_offset
    }

    fn ensure_open(&self) -> Result<()> {
        if self.closed {
            return Err(StorageError::Closed(format!("transaction index {}", self.path.display())).into());
        }
        Ok(())
    }

    /// Appends an entry; its last offset must be greater than the previous entry's. Creates the
    /// file on the first append. Not durable until [`TransactionIndex::flush`].
    pub fn append(&mut self, txn: &AbortedTxn) -> Result<()> {
        self.ensure_open()?;
        if let Some(last) = self.last_offset
            && txn.last_offset <= last
        {
            return Err(Error::InvalidRequest(format!(
                "aborted transaction last offset {} is not greater than the last offset {last} of \
                 transaction index {}",
                txn.last_offset,
                self.path.display()
            )));
        }
        let file = match &self.file {
            Some(f) => f.clone(),
            None => {
                let f = self.io.open(&self.path, OpenMode::Create).map_err(|e| self.io_error("create", e))?;
                self.created_unsynced = true;
                // Normally empty; if not, append after its whole entries like `open` would.
                let file_len = f.len().map_err(|e| self.io_error("stat", e))?;
                self.len = file_len / AbortedTxn::SIZE as u64 * AbortedTxn::SIZE as u64;
                self.file = Some(f.clone());
                f
            }
        };
        file.write_all_at(&txn.to_bytes(), self.len).map_err(|e| self.io_error("write", e))?;
        self.len += AbortedTxn::SIZE as u64;
        // A torn tail is shorter than an entry, so the write covered it.
        self.torn_tail = 0;
        self.last_offset = Some(txn.last_offset);
        Ok(())
    }

    fn io_error(&self, op: &'static str, e: io::Error) -> Error {
        StorageError::io(op, &self.path, e).into()
    }

    /// Makes the entries durable (`fdatasync`), and, after the file was created, its directory
    /// entry too: the index of a segment below the recovery point is not rebuilt after a crash,
    /// so losing the file would silently turn aborted data into committed data.
    pub fn flush(&mut self) -> Result<()> {
        self.ensure_open()?;
        if let Some(file) = &self.file {
            file.sync_data().map_err(|e| self.io_error("fdatasync", e))?;
        }
        if self.created_unsynced {
            let dir = parent_dir(&self.path);
            self.io.sync_dir(dir).map_err(|e| StorageError::io("fsync dir", dir, e))?;
            self.created_unsynced = false;
        }
        Ok(())
    }

    /// Calls `visit(position, entry)` for every whole entry in order until it returns `false`.
    fn scan(&self, mut visit: impl FnMut(u64, AbortedTxn) -> bool) -> Result<()> {
        self.ensure_open()?;
        let Some(file) = &self.file else { return Ok(()) };
        let end = self.len;
        let mut buf = vec![0u8; SCAN_CHUNK_ENTRIES * AbortedTxn::SIZE];
        let mut pos = 0u64;
        while pos < end {
            // Bounded by the chunk buffer and by the file's length, never by a value from disk.
            let n = (end - pos).min(buf.len() as u64) as usize;
            file.read_exact_at(&mut buf[..n], pos).map_err(|e| self.io_error("read", e))?;
            for (i, chunk) in buf[..n].chunks_exact(AbortedTxn::SIZE).enumerate() {
                let entry_pos = pos + (i * AbortedTxn::SIZE) as u64;
                let mut raw = [0u8; AbortedTxn::SIZE];
                raw.copy_from_slice(chunk);
                let txn = AbortedTxn::from_bytes(&raw).map_err(|detail| StorageError::Corrupt {
                    path: self.path.clone(),
                    detail: format!("entry at byte {entry_pos}: {detail}"),
                })?;
                if !visit(entry_pos, txn) {
                    return Ok(());
                }
            }
            pos += n as u64;
        }
        Ok(())
    }

    /// Every entry, in order.
    pub fn all_aborted_txns(&self) -> Result<Vec<AbortedTxn>> {
        let mut all = Vec::with_capacity(self.entries());
        self.scan(|_, txn| {
            all.push(txn);
            true
        })?;
        Ok(all)
    }

    /// The aborted transactions overlapping the fetch range `[fetch_offset, upper_bound_offset)`
    /// (`last_offset >= fetch_offset && first_offset < upper_bound_offset`), exactly as Kafka:
    /// the scan stops, complete, after the first entry whose last stable offset is
    /// `>= upper_bound_offset`.
    pub fn collect_aborted_txns(
        &self,
        fetch_offset: i64,
        upper_bound_offset: i64,
    ) -> Result<TxnIndexSearchResult> {
        let mut result = TxnIndexSearchResult::default();
        self.scan(|_, txn| {
            if txn.last_offset >= fetch_offset && txn.first_offset < upper_bound_offset {
                result.aborted.push(txn);
            }
            if txn.last_stable_offset >= upper_bound_offset {
                result.is_complete = true;
                return false;
            }
            true
        })?;
        Ok(result)
    }

    /// Removes every entry from the first one whose last offset is `>= offset`; nothing when no
    /// entry reaches `offset`.
    pub fn truncate_to(&mut self, offset: i64) -> Result<()> {
        let mut cut: Option<(u64, Option<i64>)> = None;
        let mut previous_last = None;
        self.scan(|pos, txn| {
            if txn.last_offset >= offset {
                cut = Some((pos, previous_last));
                return false;
            }
            previous_last = Some(txn.last_offset);
            true
        })?;
        if let (Some((pos, last)), Some(file)) = (cut, &self.file) {
            file.set_len(pos).map_err(|e| self.io_error("truncate", e))?;
            self.len = pos;
            self.torn_tail = 0;
            self.last_offset = last;
        }
        Ok(())
    }

    /// Removes every entry (segment recovery). Does not create the file.
    pub fn reset(&mut self) -> Result<()> {
        self.ensure_open()?;
        if let Some(file) = &self.file {
            file.set_len(0).map_err(|e| self.io_error("truncate", e))?;
        }
        self.len = 0;
        self.torn_tail = 0;
        self.last_offset = None;
        Ok(())
    }

    /// Checks that the file holds whole, version-0 entries whose last offsets are all at least
    /// the segment's base offset (Kafka checks only the last part).
    pub fn sanity_check(&self) -> Result<()> {
        if self.torn_tail != 0 {
            return Err(StorageError::Corrupt {
                path: self.path.clone(),
                detail: format!(
                    "transaction index is {} bytes, not a multiple of the {}-byte entry size",
                    self.len + self.torn_tail,
                    AbortedTxn::SIZE
                ),
            }
            .into());
        }
        let mut bad = None;
        self.scan(|pos, txn| {
            if txn.last_offset < self.base_offset {
                bad = Some((pos, txn));
                return false;
            }
            true
        })?;
        match bad {
            None => Ok(()),
            Some((pos, txn)) => Err(StorageError::Corrupt {
                path: self.path.clone(),
                detail: format!(
                    "entry at byte {pos} ({txn:?}) has a last offset below the segment base offset {}",
                    self.base_offset
                ),
            }
            .into()),
        }
    }

    /// Renames the file, if it exists (for the `.deleted`, `.cleaned` and `.swap` suffixes); the
    /// index keeps working under the new name either way.
    pub fn rename_to(&mut self, new_path: impl Into<PathBuf>) -> Result<()> {
        let new_path = new_path.into();
        if self.file.is_some() {
            self.io.rename(&self.path, &new_path).map_err(|e| self.io_error("rename", e))?;
        }
        self.path = new_path;
        Ok(())
    }

    /// Releases the file and removes it; `false` if it did not exist. The index is closed
    /// afterwards.
    pub fn delete(&mut self) -> Result<bool> {
        self.close();
        match self.io.remove_file(&self.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.io_error("remove", e)),
        }
    }

    /// Releases the file. Later calls fail with [`StorageError::Closed`].
    pub fn close(&mut self) {
        self.file = None;
        self.closed = true;
    }
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Ports of Kafka's `TransactionIndexTest`, plus torn tails, chunked scans and the fixtures.
#[cfg(test)]
mod tests {
    use tempfile::TempDir;

    use super::*;
    use crate::segment::index_file::test_support::{copy_fixture, io, manifest, segment_file};

    fn txn(producer_id: i64, first_offset: i64, last_offset: i64, last_stable_offset: i64) -> AbortedTxn {
        AbortedTxn { producer_id, first_offset, last_offset, last_stable_offset }
    }

    fn new_index(base_offset: i64) -> (TempDir, PathBuf, TransactionIndex) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(segment_file(base_offset, "txnindex"));
        let index = TransactionIndex::open(io(), &path, base_offset).unwrap();
        (dir, path, index)
    }

    fn kafka_entries() -> Vec<AbortedTxn> {
        vec![txn(0, 0, 10, 11), txn(1, 5, 15, 13), txn(2, 18, 35, 25), txn(3, 32, 50, 40)]
    }

    fn assert_corrupt<T: std::fmt::Debug>(r: Result<T>) {
        assert!(
            matches!(r, Err(Error::Storage(StorageError::Corrupt { .. }))),
            "expected Corrupt, got {r:?}"
        );
    }

    #[test]
    fn test_position_set_correctly_when_opened() {
        let (_dir, path, mut index) = new_index(0);
        let mut txns = kafka_entries();
        for t in &txns {
            index.append(t).unwrap();
        }
        index.close();
        let mut reopened = TransactionIndex::open(io(), &path, 0).unwrap();
        assert_eq!(reopened.last_offset(), Some(50));
        assert_eq!(reopened.entries(), 4);
        // Appending where the last offset does not increase is refused after a reopen too.
        assert!(matches!(reopened.append(&txn(3, 40, 50, 45)), Err(Error::InvalidRequest(_))));
        let another = txn(3, 50, 60, 55);
        reopened.append(&another).unwrap();
        txns.push(another);
        assert_eq!(reopened.all_aborted_txns().unwrap(), txns);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 5 * 34);
    }

    #[test]
    fn test_sanity_check() {
        let (_dir, path, mut index) = new_index(0);
        for t in kafka_entries() {
            index.append(&t).unwrap();
        }
        index.sanity_check().unwrap();
        index.close();
        // Opened with a larger base offset, the entries are below the segment.
        let reopened = TransactionIndex::open(io(), &path, 100).unwrap();
        assert_corrupt(reopened.sanity_check());
        TransactionIndex::open(io(), &path, 10).unwrap().sanity_check().unwrap();
    }

    #[test]
    fn test_last_offset_must_increase() {
        let (_dir, _path, mut index) = new_index(0);
        index.append(&txn(1, 5, 15, 13)).unwrap();
        let r = index.append(&txn(0, 0, 15, 11));
        assert!(matches!(r, Err(Error::InvalidRequest(_))), "{r:?}");
        assert_eq!(index.entries(), 1);
    }

    #[test]
    fn test_last_offset_cannot_decrease() {
        let (_dir, _path, mut index) = new_index(0);
        index.append(&txn(1, 5, 15, 13)).unwrap();
        let r = index.append(&txn(0, 0, 10, 11));
        assert!(matches!(r, Err(Error::InvalidRequest(_))), "{r:?}");
    }

    #[test]
    fn test_collect_aborted_transactions() {
        let (_dir, _path, mut index) = new_index(0);
        let all = kafka_entries();
        for t in &all {
            index.append(t).unwrap();
        }
        let check = |fetch: i64, upper: i64, expected: &[AbortedTxn], complete: bool| {
            let r = index.collect_aborted_txns(fetch, upper).unwrap();
            assert_eq!(r.aborted, expected, "[{fetch}, {upper})");
            assert_eq!(r.is_complete, complete, "[{fetch}, {upper})");
        };
        check(0, 100, &all, false);
        check(0, 32, &all[0..3], true);
        check(0, 35, &all, true);
        check(10, 35, &all, true);
        check(11, 35, &all[1..4], true);
        check(20, 41, &all[2..4], false);
    }

    #[test]
    fn test_truncate() {
        let (_dir, path, mut index) = new_index(0);
        let all = vec![txn(0, 0, 10, 2), txn(1, 5, 15, 16), txn(2, 18, 35, 25), txn(3, 32, 50, 40)];
        for t in &all {
            index.append(t).unwrap();
        }
        index.truncate_to(51).unwrap();
        assert_eq!(index.collect_aborted_txns(0, 100).unwrap().aborted, all);
        index.truncate_to(50).unwrap();
        assert_eq!(index.collect_aborted_txns(0, 100).unwrap().aborted, &all[0..3]);
        assert_eq!(index.last_offset(), Some(35));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 3 * 34);
        // The last offset went back with the truncation: 36 may be appended again.
        index.append(&txn(4, 36, 36, 36)).unwrap();
        index.truncate_to(0).unwrap();
        assert_eq!(index.last_offset(), None);
        index.append(&txn(0, 0, 10, 2)).unwrap();
        index.reset().unwrap();
        assert!(index.collect_aborted_txns(0, 100).unwrap().aborted.is_empty());
        assert!(index.is_empty());
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    }

    #[test]
    fn test_aborted_txn_serde() {
        let t = txn(983_493, 137, 299, 200);
        let bytes = t.to_bytes();
        let mut expected = vec![0u8, 0];
        for v in [983_493i64, 137, 299, 200] {
            expected.extend_from_slice(&v.to_be_bytes());
        }
        assert_eq!(bytes.len(), 34);
        assert_eq!(bytes.to_vec(), expected);
        assert_eq!(AbortedTxn::from_bytes(&bytes), Ok(t));
    }

    #[test]
    fn versions_other_than_zero_are_corrupt() {
        for version in [[0u8, 1], [1, 0], [0xFF, 0xFF]] {
            let (_dir, path, mut index) = new_index(0);
            index.append(&txn(1, 0, 5, 6)).unwrap();
            let mut bad = txn(2, 6, 9, 10).to_bytes();
            bad[..2].copy_from_slice(&version);
            assert!(AbortedTxn::from_bytes(&bad).is_err());
            let mut file = std::fs::read(&path).unwrap();
            file.extend_from_slice(&bad);
            std::fs::write(&path, file).unwrap();
            let reopened = TransactionIndex::open(io(), &path, 0).unwrap();
            assert_eq!(reopened.last_offset(), Some(9));
            assert_corrupt(reopened.all_aborted_txns());
            assert_corrupt(reopened.collect_aborted_txns(0, 100));
            assert_corrupt(reopened.sanity_check());
        }
    }

    #[test]
    fn test_do_not_create_file_until_needed() {
        let (_dir, path, mut index) = new_index(0);
        assert!(!path.exists());
        assert!(index.is_empty());
        index.reset().unwrap();
        index.flush().unwrap();
        index.truncate_to(0).unwrap();
        index.sanity_check().unwrap();
        assert!(index.all_aborted_txns().unwrap().is_empty());
        assert_eq!(index.collect_aborted_txns(0, 10).unwrap(), TxnIndexSearchResult::default());
        assert!(!path.exists());
        index.append(&txn(0, 0, 10, 2)).unwrap();
        assert!(path.exists());
        index.flush().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 34);
    }

    #[test]
    fn test_rename_index() {
        let (dir, path, mut index) = new_index(0);
        index.append(&txn(0, 0, 10, 2)).unwrap();
        let renamed = dir.path().join("renamed.txnindex.deleted");
        index.rename_to(&renamed).unwrap();
        assert!(!path.exists());
        index.append(&txn(1, 5, 15, 16)).unwrap();
        let found = index.collect_aborted_txns(0, 100).unwrap().aborted;
        assert_eq!(found.iter().map(|t| t.first_offset).collect::<Vec<_>>(), [0, 5]);
        assert_eq!(std::fs::metadata(&renamed).unwrap().len(), 68);

        // Renaming an index whose file does not exist yet only changes where it will be created.
        let (dir, _path, mut lazy) = new_index(7);
        let elsewhere = dir.path().join("elsewhere.txnindex");
        lazy.rename_to(&elsewhere).unwrap();
        assert!(!elsewhere.exists());
        lazy.append(&txn(0, 7, 8, 9)).unwrap();
        assert!(elsewhere.exists());
    }

    #[test]
    fn test_delete_if_exists() {
        let (_dir, path, mut index) = new_index(0);
        assert!(!index.delete().unwrap(), "no file yet");
        let (_dir2, path2, mut index2) = new_index(0);
        index2.append(&txn(0, 0, 10, 2)).unwrap();
        assert!(index2.delete().unwrap());
        assert!(!path2.exists() && !path.exists());
        assert!(matches!(index2.append(&txn(1, 11, 12, 13)), Err(Error::Storage(StorageError::Closed(_)))));
        assert!(index2.all_aborted_txns().is_err());
    }

    #[test]
    fn torn_tail_is_reported_and_overwritten() {
        let (_dir, path, mut index) = new_index(0);
        for t in &kafka_entries()[..2] {
            index.append(t).unwrap();
        }
        index.close();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(&txn(2, 18, 35, 25).to_bytes()[..10]);
        std::fs::write(&path, &bytes).unwrap();

        let mut reopened = TransactionIndex::open(io(), &path, 0).unwrap();
        assert_eq!(reopened.entries(), 2);
        assert_eq!(reopened.last_offset(), Some(15));
        assert_eq!(reopened.all_aborted_txns().unwrap(), &kafka_entries()[..2]);
        assert_corrupt(reopened.sanity_check());
        reopened.append(&kafka_entries()[2]).unwrap();
        reopened.sanity_check().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 3 * 34);
        assert_eq!(reopened.all_aborted_txns().unwrap(), &kafka_entries()[..3]);
    }

    #[test]
    fn scans_cross_read_chunks() {
        let (_dir, path, mut index) = new_index(1000);
        let n = SCAN_CHUNK_ENTRIES as i64 * 2 + 17;
        let all: Vec<_> =
            (0..n).map(|i| txn(i, 1000 + 10 * i, 1000 + 10 * i + 5, 1000 + 10 * i + 6)).collect();
        for t in &all {
            index.append(t).unwrap();
        }
        index.flush().unwrap();
        let reopened = TransactionIndex::open(io(), &path, 1000).unwrap();
        assert_eq!(reopened.all_aborted_txns().unwrap(), all);
        reopened.sanity_check().unwrap();
        // Entry i spans [1000 + 10i, 1005 + 10i] with LSO 1006 + 10i. A fetch of [2205, 2400)
        // overlaps entries 120..=139; entry 140 (LSO 2406) completes the scan.
        let r = reopened.collect_aborted_txns(2205, 2400).unwrap();
        assert_eq!(r.aborted, &all[120..140]);
        assert!(r.is_complete);
        // With the bound at 2396 the scan stops right after entry 139 (LSO 2396).
        let r = reopened.collect_aborted_txns(2205, 2396).unwrap();
        assert_eq!(r.aborted, &all[120..140]);
        assert!(r.is_complete);
        // Past every LSO the whole file is read and the search must go on in the next segment.
        let r = reopened.collect_aborted_txns(2205, 100_000).unwrap();
        assert_eq!(r.aborted, &all[120..]);
        assert!(!r.is_complete);
        let mut reopened = reopened;
        reopened.truncate_to(1000 + 10 * 150).unwrap();
        assert_eq!(reopened.entries(), 150);
        assert_eq!(reopened.last_offset(), Some(1000 + 10 * 149 + 5));
    }

    #[test]
    fn fixture_txn_indexes_match_the_manifest() {
        let m = manifest("transactions-0");
        let dir = tempfile::tempdir().unwrap();
        copy_fixture("transactions-0", dir.path());
        let expected = m["txnindex_entries"].as_array().unwrap();
        let mut total = 0;
        for (base, count) in [(0i64, 2usize), (120, 3)] {
            let path = dir.path().join(segment_file(base, "txnindex"));
            let index = TransactionIndex::open(io(), &path, base).unwrap();
            index.sanity_check().unwrap();
            let found = index.all_aborted_txns().unwrap();
            assert_eq!(found.len(), count, "segment {base}");
            let want: Vec<AbortedTxn> = expected
                .iter()
                .filter(|e| e["segment_base_offset"].as_i64() == Some(base))
                .map(|e| {
                    assert_eq!(e["version"].as_i64(), Some(0));
                    txn(
                        e["producer_id"].as_i64().unwrap(),
                        e["first_offset"].as_i64().unwrap(),
                        e["last_offset"].as_i64().unwrap(),
                        e["last_stable_offset"].as_i64().unwrap(),
                    )
                })
                .collect();
            assert_eq!(found, want, "segment {base}");
            assert_eq!(index.last_offset(), want.last().map(|t| t.last_offset));
            // Re-encoding gives the fixture's bytes back.
            let bytes: Vec<u8> = found.iter().flat_map(|t| t.to_bytes()).collect();
            assert_eq!(bytes, std::fs::read(&path).unwrap(), "segment {base}");
            total += found.len();
        }
        assert_eq!(total, expected.len());
        // The segment of the transaction that spans the roll: the fetch [120, 153) sees it.
        let index =
            TransactionIndex::open(io(), dir.path().join(segment_file(120, "txnindex")), 120).unwrap();
        let r = index.collect_aborted_txns(120, 153).unwrap();
        assert_eq!(r.aborted.first().map(|t| (t.producer_id, t.first_offset)), Some((8, 32)));
        assert_eq!(r.aborted.len(), 3);
    }
}
