//! The file behind a sparse index (`.index`, `.timeindex`): fixed-size big-endian entries at the
//! start of a memory-mapped file (Kafka's `AbstractIndex`).
//!
//! Invariants:
//! - `entries * entry_size <= length`, and `length` is the length of both the file and the map
//!   (for a writable index; a read-only one is mapped, or loaded, at its length on disk);
//! - a writable index is preallocated (its file is longer than its valid entries), so the number of
//!   entries can only be trusted after [`IndexFile::trim_to_valid_size`] has run at roll or close:
//!   a reopened file has `length / entry_size` entries, whatever bytes they hold;
//! - the map is dropped before the file length changes, because touching a page of a map past the
//!   end of its file raises `SIGBUS`;
//! - if remapping fails half-way, the index falls back to *closed*: no entries, lookups answer the
//!   "nothing indexed" lower bound (always correct, only slower), mutations fail.

use std::cmp::Ordering;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result, StorageError};
use crate::io::{IoBackend, IoFile, MappedRegion, OpenMode};

/// Size of the "warm" tail of an index that lookups try first (Kafka's `warmEntries`): appends and
/// in-sync reads touch the end of the index, so searching there first keeps the pages touched by
/// a lookup few and hot. 8 KiB is small enough that the three probes of a warm search touch every
/// page of the section on a 4 KiB-page machine.
const WARM_SECTION_BYTES: usize = 8192;

/// Kafka sizes indexes with an `int`; anything longer on disk is not an index.
const MAX_INDEX_FILE_BYTES: u64 = i32::MAX as u64;

/// Which bound a search returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bound {
    /// The last slot whose field is `<=` the target.
    LargestLowerBound,
    /// The first slot whose field is `>=` the target.
    SmallestUpperBound,
}

/// What kind of index a file holds: its name in messages and its entry size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    /// What messages call the index ("offset index", "time index").
    pub(crate) kind: &'static str,
    /// Bytes per entry.
    pub(crate) entry_size: usize,
}

/// Where the entry bytes live.
#[derive(Debug)]
enum Storage {
    /// Memory map of the file (the normal case).
    Mapped(Box<dyn MappedRegion>),
    /// A copy in memory: a read-only index whose file could not be opened for writing (a
    /// read-only directory), which a shared writable map needs.
    Heap(Vec<u8>),
    /// Closed, deleted, or broken by a failed remap.
    Closed,
}

impl Storage {
    fn bytes(&self) -> &[u8] {
        match self {
            Storage::Mapped(m) => m.bytes(),
            Storage::Heap(v) => v,
            Storage::Closed => &[],
        }
    }
}

/// A fixed-entry index file; the entry layout is the caller's business.
#[derive(Debug)]
pub(crate) struct IndexFile {
    io: Arc<dyn IoBackend>,
    path: PathBuf,
    file: Option<Arc<dyn IoFile>>,
    storage: Storage,
    /// What messages call this index ("offset index", "time index").
    kind: &'static str,
    base_offset: i64,
    entry_size: usize,
    max_index_size: u32,
    writable: bool,
    /// Length of the file and of the map, in bytes.
    length: usize,
    entries: usize,
    max_entries: usize,
    /// Length found on disk at open, kept for the sanity check because a writable index is
    /// resized at once.
    length_at_open: u64,
}

fn round_down(n: usize, factor: usize) -> usize {
    n / factor * factor
}

fn is_read_only_error(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem)
}

impl IndexFile {
    /// Opens (a writable index: creates) the index file at `path`.
    ///
    /// Existing entries are `length / entry_size`. A writable index is resized to
    /// `max_index_size` rounded down to whole entries (never below its existing entries) and
    /// mapped; a read-only one must exist and is mapped at its length.
    pub(crate) fn open(
        io: Arc<dyn IoBackend>,
        path: PathBuf,
        layout: Layout,
        base_offset: i64,
        max_index_size: u32,
        writable: bool,
        prefer_map: bool,
    ) -> Result<IndexFile> {
        let Layout { kind, entry_size } = layout;
        if writable && (max_index_size as usize) < entry_size {
            return Err(Error::InvalidConfig {
                key: "segment.index.bytes".to_string(),
                value: max_index_size.to_string(),
                reason: format!("a {kind} needs room for at least one {entry_size}-byte entry"),
            });
        }
        let mode = if writable { OpenMode::Create } else { OpenMode::ReadWrite };
        let (file, map) = match io.open(&path, mode) {
            // Writable indexes are always mapped: appends write through the map.
            Ok(f) => (f, writable || prefer_map),
            // A shared writable map needs a writable descriptor; a read-only index in a
            // read-only directory is read into memory instead.
            Err(e) if !writable && is_read_only_error(&e) => {
                (io.open(&path, OpenMode::Read).map_err(|e| StorageError::io("open", &path, e))?, false)
            }
            Err(e) => return Err(StorageError::io("open", &path, e).into()),
        };
        let length_at_open = file.len().map_err(|e| StorageError::io("stat", &path, e))?;
        if length_at_open > MAX_INDEX_FILE_BYTES {
            return Err(StorageError::Corrupt {
                path,
                detail: format!("{kind} is {length_at_open} bytes, more than an index can be"),
            }
            .into());
        }
        let mut length = length_at_open as usize;
        // Kafka trusts the length: whole entries up to the end of the file are the entries.
        let entries = length / entry_size;
        if writable {
            let target = round_down(max_index_size as usize, entry_size).max(entries * entry_size);
            if target != length {
                file.set_len(target as u64).map_err(|e| StorageError::io("set_len", &path, e))?;
                length = target;
            }
        }
        let storage = if map {
            Storage::Mapped(file.map(length).map_err(|e| StorageError::io("mmap", &path, e))?)
        } else {
            let mut buf = vec![0u8; length];
            file.read_exact_at(&mut buf, 0).map_err(|e| StorageError::io("read", &path, e))?;
            Storage::Heap(buf)
        };
        Ok(IndexFile {
            io,
            path,
            file: Some(file),
            storage,
            kind,
            base_offset,
            entry_size,
            max_index_size,
            writable,
            length,
            entries,
            max_entries: length / entry_size,
            length_at_open,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn base_offset(&self) -> i64 {
        self.base_offset
    }

    pub(crate) fn entries(&self) -> usize {
        self.entries
    }

    pub(crate) fn max_entries(&self) -> usize {
        self.max_entries
    }

    pub(crate) fn max_index_size(&self) -> u32 {
        self.max_index_size
    }

    pub(crate) fn length(&self) -> u64 {
        self.length as u64
    }

    pub(crate) fn is_writable(&self) -> bool {
        self.writable
    }

    pub(crate) fn is_open(&self) -> bool {
        !matches!(self.storage, Storage::Closed)
    }

    /// The bytes of entry `n`. Callers keep `n < entries()`.
    pub(crate) fn entry_bytes(&self, n: usize) -> &[u8] {
        let start = n * self.entry_size;
        &self.storage.bytes()[start..start + self.entry_size]
    }

    /// `offset - base_offset` if it fits an entry's relative offset (`[0, i32::MAX]`).
    pub(crate) fn relative_offset(&self, offset: i64) -> Option<i32> {
        offset.checked_sub(self.base_offset).and_then(|r| i32::try_from(r).ok()).filter(|r| *r >= 0)
    }

    pub(crate) fn closed_error(&self) -> Error {
        StorageError::Closed(format!("{} {}", self.kind, self.path.display())).into()
    }

    /// Fails unless entries may be written or the file resized.
    pub(crate) fn ensure_writable(&self) -> Result<()> {
        if !self.is_open() {
            return Err(self.closed_error());
        }
        if !self.writable {
            return Err(Error::InvalidRequest(format!(
                "{} {} was opened read-only",
                self.kind,
                self.path.display()
            )));
        }
        Ok(())
    }

    /// Writes one entry after the last. Callers check order and fullness rules first; this only
    /// refuses what would corrupt memory.
    pub(crate) fn push(&mut self, entry: &[u8]) -> Result<()> {
        debug_assert_eq!(entry.len(), self.entry_size);
        self.ensure_writable()?;
        if self.entries >= self.max_entries {
            return Err(self.full_error());
        }
        let start = self.entries * self.entry_size;
        let Storage::Mapped(map) = &mut self.storage else {
            // Writable indexes are always mapped (see `open`).
            return Err(self.closed_error());
        };
        map.bytes_mut()[start..start + entry.len()].copy_from_slice(entry);
        self.entries += 1;
        Ok(())
    }

    pub(crate) fn full_error(&self) -> Error {
        Error::InvalidRequest(format!(
            "cannot append to a full {} {} ({} entries)",
            self.kind,
            self.path.display(),
            self.entries
        ))
    }

    /// Forgets every entry from `n` on (the bytes stay until overwritten or trimmed).
    pub(crate) fn truncate_to_entries(&mut self, n: usize) -> Result<()> {
        self.ensure_writable()?;
        self.entries = self.entries.min(n);
        Ok(())
    }

    /// The slot holding the bound of `target` among the entries, comparing `field(entry)`, which
    /// must not decrease from one entry to the next. Tries the warm tail first, like Kafka.
    pub(crate) fn search(&self, target: i64, field: impl Fn(&[u8]) -> i64, bound: Bound) -> Option<usize> {
        let n = self.entries;
        if n == 0 {
            return None;
        }
        let at = |i: usize| field(self.entry_bytes(i));
        let warm_entries = WARM_SECTION_BYTES / self.entry_size;
        let first_hot = n.saturating_sub(1 + warm_entries);
        if at(first_hot) < target {
            return self.binary_search(target, &at, bound, first_hot, n - 1);
        }
        if at(0) > target {
            return match bound {
                Bound::LargestLowerBound => None,
                Bound::SmallestUpperBound => Some(0),
            };
        }
        self.binary_search(target, &at, bound, 0, first_hot)
    }

    /// Binary search in `[lo, hi]`, where `at(lo) <= target` holds on entry.
    fn binary_search(
        &self,
        target: i64,
        at: &impl Fn(usize) -> i64,
        bound: Bound,
        mut lo: usize,
        mut hi: usize,
    ) -> Option<usize> {
        while lo < hi {
            // Round up so that `lo = mid` always makes progress.
            let mid = lo + (hi - lo).div_ceil(2);
            match at(mid).cmp(&target) {
                Ordering::Greater => hi = mid - 1,
                Ordering::Less => lo = mid,
                Ordering::Equal => return Some(mid),
            }
        }
        match bound {
            Bound::LargestLowerBound => Some(lo),
            // `at(lo) == target` is only possible when `lo` is where the search began (Kafka
            // skips it and answers a later slot; the exact slot is the tighter bound).
            Bound::SmallestUpperBound if at(lo) >= target => Some(lo),
            Bound::SmallestUpperBound if lo + 1 < self.entries => Some(lo + 1),
            Bound::SmallestUpperBound => None,
        }
    }

    /// The number of leading entries with `field(entry) < target` (fields must not decrease).
    /// With repeated field values this is exact where a bound search could land on any of them.
    pub(crate) fn count_below(&self, target: i64, field: impl Fn(&[u8]) -> i64) -> usize {
        let (mut lo, mut hi) = (0, self.entries);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if field(self.entry_bytes(mid)) < target {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Resizes the file (and the map) to `new_size` rounded down to whole entries. Returns whether
    /// anything changed. Refuses to cut valid entries.
    pub(crate) fn resize(&mut self, new_size: u32) -> Result<bool> {
        self.ensure_writable()?;
        let rounded = round_down(new_size as usize, self.entry_size);
        if rounded == self.length {
            return Ok(false);
        }
        if rounded < self.entries * self.entry_size {
            return Err(Error::InvalidRequest(format!(
                "cannot resize {} {} to {rounded} bytes: it holds {} entries",
                self.kind,
                self.path.display(),
                self.entries
            )));
        }
        let Some(file) = self.file.clone() else {
            return Err(self.closed_error());
        };
        // Unmap first: shrinking a file under a live map makes its tail pages fault.
        self.storage = Storage::Closed;
        let result = file
            .set_len(rounded as u64)
            .map_err(|e| StorageError::io("set_len", &self.path, e))
            .and_then(|()| file.map(rounded).map_err(|e| StorageError::io("mmap", &self.path, e)));
        match result {
            Ok(map) => {
                self.install(map, rounded);
                Ok(true)
            }
            Err(e) => {
                self.recover_map(&file);
                Err(e.into())
            }
        }
    }

    fn install(&mut self, map: Box<dyn MappedRegion>, length: usize) {
        self.storage = Storage::Mapped(map);
        self.length = length;
        self.max_entries = length / self.entry_size;
        self.entries = self.entries.min(self.max_entries);
    }

    /// After a failed resize: map the file at whatever length it has now, or give up and close.
    fn recover_map(&mut self, file: &Arc<dyn IoFile>) {
        let restored = file
            .len()
            .ok()
            .filter(|len| *len <= MAX_INDEX_FILE_BYTES)
            .map(|len| round_down(len as usize, self.entry_size))
            .and_then(|len| file.map(len).ok().map(|map| (map, len)));
        match restored {
            Some((map, len)) => self.install(map, len),
            None => self.close_handles(),
        }
    }

    fn close_handles(&mut self) {
        self.storage = Storage::Closed;
        self.file = None;
        self.entries = 0;
        self.max_entries = 0;
        self.length = 0;
    }

    /// Shrinks the file to its valid entries (at roll and close), so that a reopen counts them
    /// right.
    pub(crate) fn trim_to_valid_size(&mut self) -> Result<()> {
        let valid = self.entries * self.entry_size;
        // `valid` fits: it is at most the mapped length, itself at most `MAX_INDEX_FILE_BYTES`.
        self.resize(valid as u32).map(|_| ())
    }

    /// Makes written entries durable (`msync`). A read-only index has nothing to flush.
    pub(crate) fn flush(&self) -> Result<()> {
        match &self.storage {
            Storage::Mapped(map) if self.writable => {
                map.flush().map_err(|e| StorageError::io("msync", &self.path, e).into())
            }
            Storage::Mapped(_) | Storage::Heap(_) => Ok(()),
            Storage::Closed => Err(self.closed_error()),
        }
    }

    /// Trims a writable index, then drops the map and the file. Closing twice is harmless.
    pub(crate) fn close(&mut self) -> Result<()> {
        let trimmed = if self.writable && self.is_open() { self.trim_to_valid_size() } else { Ok(()) };
        self.close_handles();
        trimmed
    }

    /// Drops the map and removes the file; `false` if there was no file.
    pub(crate) fn delete(&mut self) -> Result<bool> {
        self.close_handles();
        match self.io.remove_file(&self.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StorageError::io("remove", &self.path, e).into()),
        }
    }

    /// Renames the file (e.g. to a `.deleted` name). The open map and descriptor stay valid: they
    /// follow the inode, not the name.
    pub(crate) fn rename_to(&mut self, new_path: PathBuf) -> Result<()> {
        self.io.rename(&self.path, &new_path).map_err(|e| StorageError::io("rename", &self.path, e))?;
        self.path = new_path;
        Ok(())
    }

    /// The length checks every index shares; `Err` carries the detail for a Corrupt error.
    pub(crate) fn check_length(&self) -> std::result::Result<(), String> {
        let size = self.entry_size as u64;
        for len in [self.length_at_open, self.length as u64] {
            if !len.is_multiple_of(size) {
                return Err(format!(
                    "{} is {len} bytes, which is not a multiple of the {size}-byte entry size",
                    self.kind
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn corrupt(&self, detail: String) -> Error {
        StorageError::Corrupt { path: self.path.clone(), detail }.into()
    }
}

/// Helpers shared by the index tests: a backend, a deterministic random source and the Kafka
/// directory fixtures with their manifests.
#[cfg(test)]
pub(crate) mod test_support {
    use std::io;
    use std::path::{Path, PathBuf};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use crate::io::std_backend::StdBackend;
    use crate::io::{DirEntry, DirLock, FileType, IoBackend, IoFile, IoKind, MappedRegion, OpenMode};

    pub(crate) fn io() -> Arc<dyn IoBackend> {
        Arc::new(StdBackend::default())
    }

    /// xorshift64*: deterministic, so a failing case can be replayed from its seed.
    pub(crate) struct Rng(u64);

    impl Rng {
        pub(crate) fn new(seed: u64) -> Rng {
            Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
        }

        pub(crate) fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
        }
    }

    /// The fixture directories written by another Kafka-format implementation.
    pub(crate) const FIXTURES: [&str; 4] = ["compressed-0", "epochs-0", "idempotent-0", "transactions-0"];

    pub(crate) fn fixtures_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/kafka-dirs")
    }

    pub(crate) fn manifest(name: &str) -> serde_json::Value {
        let path = fixtures_dir().join(format!("{name}.manifest.json"));
        serde_json::from_slice(&std::fs::read(&path).expect("read manifest")).expect("parse manifest")
    }

    /// Copies fixture `name` into `dest`, so that nothing a test does can touch the originals.
    pub(crate) fn copy_fixture(name: &str, dest: &Path) {
        for entry in std::fs::read_dir(fixtures_dir().join(name)).expect("fixture dir") {
            let entry = entry.expect("dir entry");
            std::fs::copy(entry.path(), dest.join(entry.file_name())).expect("copy fixture file");
        }
    }

    /// 20-digit segment file name.
    pub(crate) fn segment_file(base_offset: i64, suffix: &str) -> String {
        format!("{base_offset:020}.{suffix}")
    }

    /// `(segment base, position, last offset, max timestamp)` of every batch of a manifest.
    pub(crate) fn batches(manifest: &serde_json::Value) -> Vec<(i64, u64, i64, i64)> {
        manifest["batches"]
            .as_array()
            .expect("batches")
            .iter()
            .map(|b| {
                (
                    b["segment_base_offset"].as_i64().expect("segment_base_offset"),
                    b["position"].as_u64().expect("position"),
                    b["last_offset"].as_i64().expect("last_offset"),
                    b["max_timestamp"].as_i64().expect("max_timestamp"),
                )
            })
            .collect()
    }

    /// Base offsets of a manifest's segments.
    pub(crate) fn segment_bases(manifest: &serde_json::Value) -> Vec<i64> {
        manifest["segment_base_offsets"]
            .as_array()
            .expect("segment_base_offsets")
            .iter()
            .map(|v| v.as_i64().expect("base offset"))
            .collect()
    }

    /// Base offsets of a manifest's active segments.
    pub(crate) fn active_segments(manifest: &serde_json::Value) -> Vec<i64> {
        manifest["segments"]
            .as_array()
            .expect("segments")
            .iter()
            .filter(|s| s["active"].as_bool() == Some(true))
            .map(|s| s["base_offset"].as_i64().expect("base offset"))
            .collect()
    }

    /// A backend whose files can be told to fail `set_len` or `map`, to test the recovery paths
    /// of a resize.
    #[derive(Debug, Default)]
    pub(crate) struct FlakyBackend {
        inner: StdBackend,
        pub(crate) fail_set_len: Arc<AtomicBool>,
        pub(crate) fail_map: Arc<AtomicBool>,
    }

    #[derive(Debug)]
    struct FlakyFile {
        inner: Arc<dyn IoFile>,
        fail_set_len: Arc<AtomicBool>,
        fail_map: Arc<AtomicBool>,
    }

    fn injected() -> io::Error {
        io::Error::other("injected failure")
    }

    impl IoFile for FlakyFile {
        fn path(&self) -> &Path {
            self.inner.path()
        }
        fn read_at(&self, buf: &mut [u8], pos: u64) -> io::Result<usize> {
            self.inner.read_at(buf, pos)
        }
        fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()> {
            self.inner.write_all_at(buf, pos)
        }
        fn sync_data(&self) -> io::Result<()> {
            self.inner.sync_data()
        }
        fn sync_all(&self) -> io::Result<()> {
            self.inner.sync_all()
        }
        fn len(&self) -> io::Result<u64> {
            self.inner.len()
        }
        fn set_len(&self, len: u64) -> io::Result<()> {
            if self.fail_set_len.load(Ordering::SeqCst) { Err(injected()) } else { self.inner.set_len(len) }
        }
        fn map(&self, len: usize) -> io::Result<Box<dyn MappedRegion>> {
            if self.fail_map.load(Ordering::SeqCst) { Err(injected()) } else { self.inner.map(len) }
        }
        fn raw_fd(&self) -> Option<i32> {
            self.inner.raw_fd()
        }
    }

    impl IoBackend for FlakyBackend {
        fn kind(&self) -> IoKind {
            IoKind::Fault
        }
        fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn IoFile>> {
            Ok(Arc::new(FlakyFile {
                inner: self.inner.open(path, mode)?,
                fail_set_len: self.fail_set_len.clone(),
                fail_map: self.fail_map.clone(),
            }))
        }
        fn create_dir_all(&self, path: &Path) -> io::Result<()> {
            self.inner.create_dir_all(path)
        }
        fn remove_dir(&self, path: &Path) -> io::Result<()> {
            self.inner.remove_dir(path)
        }
        fn remove_file(&self, path: &Path) -> io::Result<()> {
            self.inner.remove_file(path)
        }
        fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
            self.inner.rename(from, to)
        }
        fn sync_dir(&self, path: &Path) -> io::Result<()> {
            self.inner.sync_dir(path)
        }
        fn read_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
            self.inner.read_dir(path)
        }
        fn metadata(&self, path: &Path) -> io::Result<Option<FileType>> {
            self.inner.metadata(path)
        }
        fn lock_dir(&self, dir: &Path) -> io::Result<Box<dyn DirLock>> {
            self.inner.lock_dir(dir)
        }
    }
}
