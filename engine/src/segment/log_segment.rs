//! One segment of a partition: the `.log` file of back-to-back batches and its three indexes.
//!
//! A segment stores bytes and knows nothing of producers or transactions; the partition log
//! decides what goes into the `.txnindex` and hands it over. Concurrency: exactly one writer
//! (the partition's append path, which holds the partition lock) and any number of readers.
//! Readers see `size` (published with release ordering after the bytes are written) and the
//! indexes under their read locks.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};

use crate::batch::{self, Frame, RecordBatch};
use crate::error::{Result, StorageError};
use crate::io::{IoBackend, IoFile, OpenMode};
use crate::segment::{
    AbortedTxn, OffsetIndex, OffsetPosition, TimeIndex, TransactionIndex, TxnIndexSearchResult,
};

/// File-name suffixes of segment files.
pub const LOG_SUFFIX: &str = ".log";
/// Offset index suffix.
pub const INDEX_SUFFIX: &str = ".index";
/// Time index suffix.
pub const TIME_INDEX_SUFFIX: &str = ".timeindex";
/// Transaction index suffix.
pub const TXN_INDEX_SUFFIX: &str = ".txnindex";
/// Suffix appended to files of a segment scheduled for deletion.
pub const DELETED_SUFFIX: &str = ".deleted";

/// `00000000000000001234` — Kafka's 20-digit zero-padded file name stem.
pub fn file_stem(offset: i64) -> String {
    format!("{offset:020}")
}

/// Parses a 20-digit stem back into an offset.
pub fn parse_stem(stem: &str) -> Option<i64> {
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// Settings a segment needs (from the topic config).
#[derive(Debug, Clone, Copy)]
pub struct SegmentConfig {
    /// `index.interval.bytes`.
    pub index_interval_bytes: u32,
    /// `segment.index.bytes`.
    pub max_index_bytes: u32,
    /// `segment.bytes` (used for preallocation).
    pub segment_bytes: u32,
    /// `preallocate`.
    pub preallocate: bool,
}

/// Where a batch lives in the segment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLocation {
    /// First offset of the batch.
    pub base_offset: i64,
    /// Last offset of the batch.
    pub last_offset: i64,
    /// Byte position of the batch in the `.log` file.
    pub position: u64,
    /// Size of the batch in bytes.
    pub size: u32,
    /// The batch's max timestamp.
    pub max_timestamp: i64,
}

/// Bytes read from one segment: whole batches.
#[derive(Debug)]
pub struct SegmentRead {
    /// The segment's `.log` file (kept open so an embedder can `sendfile` the range).
    pub file: Arc<dyn IoFile>,
    /// Position of the first returned byte.
    pub position: u64,
    /// The batches, back to back.
    pub bytes: Vec<u8>,
    /// Offset after the last returned batch.
    pub next_offset: i64,
}

/// What a full scan of a segment found (recovery).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryScan {
    /// Bytes of valid batches from the start of the file.
    pub valid_bytes: u64,
    /// Offset after the last valid batch (`None` if the segment holds no valid batch).
    pub next_offset: Option<i64>,
    /// Number of valid batches.
    pub batches: u64,
    /// The first invalid batch, if any: its position, its offset if its header was readable,
    /// and what was wrong with it.
    pub invalid: Option<InvalidTail>,
}

/// The start of the invalid part of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTail {
    /// Byte position where valid data ends.
    pub position: u64,
    /// Base offset claimed by the bad batch, if its header could be read.
    pub claimed_offset: Option<i64>,
    /// Why it is invalid.
    pub reason: String,
    /// Bytes from `position` to the end of the file.
    pub bytes: u64,
}

#[derive(Debug, Default)]
struct WriterState {
    bytes_since_last_index_entry: u32,
    /// Largest timestamp appended so far and the last offset of its batch (Kafka's
    /// `maxTimestampAndOffsetSoFar`); `(-1, -1)` for an empty segment.
    max_timestamp: i64,
    offset_of_max_timestamp: i64,
    /// Max timestamp of the first batch: segment age for `segment.ms` is measured from it.
    rolling_based_timestamp: Option<i64>,
}

/// One segment.
#[derive(Debug)]
pub struct LogSegment {
    base_offset: i64,
    dir: PathBuf,
    io: Arc<dyn IoBackend>,
    log: Arc<dyn IoFile>,
    size: AtomicU64,
    /// Bytes of the `.log` file known to be durable: its size when opened (a clean close
    /// flushed it; recovery flushes what it keeps) or when a sync of it last succeeded.
    synced_size: AtomicU64,
    offset_index: RwLock<OffsetIndex>,
    time_index: RwLock<TimeIndex>,
    txn_index: Mutex<TransactionIndex>,
    writer: Mutex<WriterState>,
    /// Whether the indexes are open for writing (only the active segment's normally are).
    writable: AtomicBool,
    config: SegmentConfig,
    created_ms: i64,
}

/// Bytes read per `pread` when scanning batches.
const SCAN_CHUNK: usize = 256 * 1024;

impl LogSegment {
    /// Paths of the segment files for `base` in `dir`.
    pub fn log_path(dir: &Path, base: i64) -> PathBuf {
        dir.join(format!("{}{LOG_SUFFIX}", file_stem(base)))
    }
    /// Offset index path.
    pub fn index_path(dir: &Path, base: i64) -> PathBuf {
        dir.join(format!("{}{INDEX_SUFFIX}", file_stem(base)))
    }
    /// Time index path.
    pub fn time_index_path(dir: &Path, base: i64) -> PathBuf {
        dir.join(format!("{}{TIME_INDEX_SUFFIX}", file_stem(base)))
    }
    /// Transaction index path.
    pub fn txn_index_path(dir: &Path, base: i64) -> PathBuf {
        dir.join(format!("{}{TXN_INDEX_SUFFIX}", file_stem(base)))
    }

    /// Creates a new, empty, active segment. The caller fsyncs the directory.
    pub fn create(
        io: Arc<dyn IoBackend>,
        dir: &Path,
        base_offset: i64,
        config: SegmentConfig,
        now_ms: i64,
    ) -> Result<LogSegment> {
        let log_path = Self::log_path(dir, base_offset);
        // Index files left by an earlier segment of the same name would be read as entries.
        for stale in [
            Self::index_path(dir, base_offset),
            Self::time_index_path(dir, base_offset),
            Self::txn_index_path(dir, base_offset),
        ] {
            match io.remove_file(&stale) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StorageError::io("remove", &stale, e).into()),
            }
        }
        // `Truncate`: a leftover file of the same name (from a crash during an earlier roll or
        // truncation) holds no acknowledged data: it is at or above the log end offset.
        let log =
            io.open(&log_path, OpenMode::Truncate).map_err(|e| StorageError::io("create", &log_path, e))?;
        if config.preallocate {
            log.set_len(config.segment_bytes as u64)
                .map_err(|e| StorageError::io("preallocate", &log_path, e))?;
        }
        Self::assemble(io, dir, base_offset, config, log, 0, true, now_ms)
    }

    /// Opens an existing segment. `size` is the number of valid bytes in the `.log` file
    /// (normally its length; shorter when the file was preallocated). Indexes that are missing
    /// are created empty; the caller rebuilds them with [`LogSegment::recover`] if needed.
    pub fn open(
        io: Arc<dyn IoBackend>,
        dir: &Path,
        base_offset: i64,
        config: SegmentConfig,
        active: bool,
        now_ms: i64,
    ) -> Result<LogSegment> {
        let log_path = Self::log_path(dir, base_offset);
        let mode = OpenMode::ReadWrite;
        let log = io.open(&log_path, mode).map_err(|e| StorageError::io("open", &log_path, e))?;
        let len = log.len().map_err(|e| StorageError::io("stat", &log_path, e))?;
        Self::assemble(io, dir, base_offset, config, log, len, active, now_ms)
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble(
        io: Arc<dyn IoBackend>,
        dir: &Path,
        base_offset: i64,
        config: SegmentConfig,
        log: Arc<dyn IoFile>,
        size: u64,
        active: bool,
        now_ms: i64,
    ) -> Result<LogSegment> {
        let offset_index = OffsetIndex::open(
            io.clone(),
            Self::index_path(dir, base_offset),
            base_offset,
            config.max_index_bytes,
            active,
        )?;
        let time_index = TimeIndex::open(
            io.clone(),
            Self::time_index_path(dir, base_offset),
            base_offset,
            config.max_index_bytes,
            active,
        )?;
        let txn_index =
            TransactionIndex::open(io.clone(), Self::txn_index_path(dir, base_offset), base_offset)?;
        let last_time = time_index.last_entry();
        let writer = WriterState {
            bytes_since_last_index_entry: 0,
            max_timestamp: last_time.timestamp,
            offset_of_max_timestamp: last_time.offset,
            rolling_based_timestamp: None,
        };
        Ok(LogSegment {
            base_offset,
            dir: dir.to_path_buf(),
            io,
            log,
            size: AtomicU64::new(size),
            synced_size: AtomicU64::new(size),
            offset_index: RwLock::new(offset_index),
            time_index: RwLock::new(time_index),
            txn_index: Mutex::new(txn_index),
            writer: Mutex::new(writer),
            writable: AtomicBool::new(active),
            config,
            created_ms: now_ms,
        })
    }

    /// Reopens the indexes writable (resized to `segment.index.bytes`) if they were opened
    /// read-only: recovery rebuilds them and truncation can make a rolled segment active again.
    pub fn ensure_writable(&self) -> Result<()> {
        if self.writable.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut offset_index = self.offset_index.write();
        let mut time_index = self.time_index.write();
        let base = self.base_offset;
        *offset_index = OffsetIndex::open(
            self.io.clone(),
            Self::index_path(&self.dir, base),
            base,
            self.config.max_index_bytes,
            true,
        )?;
        *time_index = TimeIndex::open(
            self.io.clone(),
            Self::time_index_path(&self.dir, base),
            base,
            self.config.max_index_bytes,
            true,
        )?;
        self.writable.store(true, Ordering::Release);
        Ok(())
    }

    /// First offset this segment may hold.
    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }

    /// Bytes of batches in the `.log` file.
    pub fn size(&self) -> u64 {
        self.size.load(Ordering::Acquire)
    }

    /// The `.log` file.
    pub fn log_file(&self) -> &Arc<dyn IoFile> {
        &self.log
    }

    /// The directory holding the segment.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The largest timestamp in the segment (or -1), the creation time when empty.
    pub fn largest_timestamp(&self) -> i64 {
        self.writer.lock().max_timestamp
    }

    /// Timestamp the segment age is measured from for `segment.ms`.
    fn roll_base_time(&self, now_ms: i64, w: &WriterState) -> i64 {
        match w.rolling_based_timestamp {
            Some(t) if t >= 0 => t,
            _ => self.created_ms.min(now_ms),
        }
    }

    /// Kafka's `LogSegment.shouldRoll`: the incoming batch does not fit, the segment is too old,
    /// an index is full, or the batch's last offset does not fit as a relative offset.
    pub fn should_roll(
        &self,
        incoming_bytes: u32,
        incoming_max_timestamp: i64,
        incoming_last_offset: i64,
        segment_bytes: u32,
        max_age_ms: i64,
        now_ms: i64,
    ) -> bool {
        let size = self.size();
        let w = self.writer.lock();
        let reference =
            if w.rolling_based_timestamp.is_some_and(|t| t >= 0) { incoming_max_timestamp } else { now_ms };
        let waited = reference.saturating_sub(self.roll_base_time(now_ms, &w));
        let too_old = size > 0 && waited > max_age_ms;
        drop(w);
        size > (segment_bytes as u64).saturating_sub(incoming_bytes as u64)
            || too_old
            || self.offset_index.read().is_full()
            || self.time_index.read().is_full()
            || !self.can_convert_to_relative_offset(incoming_last_offset)
    }

    /// Whether `offset` can be stored as an i32 relative to the base offset.
    pub fn can_convert_to_relative_offset(&self, offset: i64) -> bool {
        let rel = offset - self.base_offset;
        (0..=i32::MAX as i64).contains(&rel)
    }

    /// Appends one batch (already stamped with its offsets). `bytes` must be a whole valid batch.
    /// Kafka's sparse-index rule: an index entry is added when more than `index.interval.bytes`
    /// were written since the last one; it maps the batch's last offset to the batch's position,
    /// so the first batch of a segment is never indexed.
    pub fn append(&self, last_offset: i64, max_timestamp: i64, bytes: &[u8]) -> Result<u64> {
        if bytes.is_empty() {
            return Ok(self.size());
        }
        if !self.can_convert_to_relative_offset(last_offset) {
            return Err(StorageError::Corrupt {
                path: Self::log_path(&self.dir, self.base_offset),
                detail: format!("offset {last_offset} does not fit in segment {}", self.base_offset),
            }
            .into());
        }
        let position = self.size();
        self.log.write_all_at(bytes, position).map_err(|e| StorageError::io("write", self.log.path(), e))?;
        let mut w = self.writer.lock();
        if w.rolling_based_timestamp.is_none() {
            w.rolling_based_timestamp = Some(max_timestamp);
        }
        if max_timestamp > w.max_timestamp {
            w.max_timestamp = max_timestamp;
            w.offset_of_max_timestamp = last_offset;
        }
        if w.bytes_since_last_index_entry > self.config.index_interval_bytes {
            self.offset_index.write().append(last_offset, position as u32)?;
            self.time_index.write().maybe_append(w.max_timestamp, w.offset_of_max_timestamp, false)?;
            w.bytes_since_last_index_entry = 0;
        }
        w.bytes_since_last_index_entry = w.bytes_since_last_index_entry.saturating_add(bytes.len() as u32);
        drop(w);
        let end = position + bytes.len() as u64;
        self.size.store(end, Ordering::Release);
        Ok(end)
    }

    /// Appends an aborted-transaction entry to this segment's `.txnindex`.
    pub fn append_aborted_txn(&self, txn: &AbortedTxn) -> Result<()> {
        self.txn_index.lock().append(txn)
    }

    /// Aborted transactions in this segment overlapping `[fetch_offset, upper_bound)`, with
    /// Kafka's early stop.
    pub fn collect_aborted_txns(&self, fetch_offset: i64, upper_bound: i64) -> Result<TxnIndexSearchResult> {
        self.txn_index.lock().collect_aborted_txns(fetch_offset, upper_bound)
    }

    /// Every entry of the `.txnindex`.
    pub fn aborted_txns(&self) -> Result<Vec<AbortedTxn>> {
        self.txn_index.lock().all_aborted_txns()
    }

    /// Reads `len` bytes at `position` (bounded by the segment size).
    fn read_bytes(&self, position: u64, len: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        let mut filled = 0;
        while filled < len {
            let n = self
                .log
                .read_at(&mut buf[filled..], position + filled as u64)
                .map_err(|e| StorageError::io("read", self.log.path(), e))?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        buf.truncate(filled);
        Ok(buf)
    }

    /// Finds the batch holding `offset` (the first batch whose last offset is ≥ `offset`),
    /// starting from the offset index floor. `None` when the segment ends before it.
    pub fn translate_offset(&self, offset: i64) -> Result<Option<BatchLocation>> {
        let start = self.index_floor(offset)?;
        let mut found = None;
        self.scan_from(start, self.size(), |loc, _| {
            if loc.last_offset >= offset {
                found = Some(loc);
                false
            } else {
                true
            }
        })?;
        Ok(found)
    }

    /// Where to start scanning for `offset`: the position of the offset index's floor entry, if
    /// the batch there agrees with it (a whole v2 batch holding the entry's offset); otherwise
    /// the start of the segment. An index is trusted after a clean shutdown on Kafka's checks of
    /// its last entries only, and one damaged elsewhere (found by fuzzing: an entry for the base
    /// offset pointing at a later batch) made reads start past the records asked for, silently
    /// skipping them. Checking the one header the scan reads anyway costs nothing; a bad entry
    /// costs a scan from the segment start, never a wrong answer.
    fn index_floor(&self, offset: i64) -> Result<u64> {
        let entry = self.offset_index.read().lookup(offset);
        let pos = u64::from(entry.position);
        if pos == 0 {
            return Ok(0);
        }
        let size = self.size();
        let mut header = [0u8; batch::HEADER_SIZE];
        if pos + batch::HEADER_SIZE as u64 > size {
            return Ok(self.distrust_index(entry));
        }
        self.log.read_exact_at(&mut header, pos).map_err(|e| StorageError::io("read", self.log.path(), e))?;
        let base = i64::from_be_bytes(header[0..8].try_into().expect("8 bytes"));
        let last =
            base.saturating_add(i64::from(i32::from_be_bytes(header[23..27].try_into().expect("4 bytes"))));
        let whole = batch_size_from_header(&header).is_some_and(|n| pos + n as u64 <= size);
        if !whole || header[16] as i8 != batch::MAGIC_V2 || !(base..=last).contains(&entry.offset) {
            return Ok(self.distrust_index(entry));
        }
        Ok(pos)
    }

    fn distrust_index(&self, entry: OffsetPosition) -> u64 {
        log::warn!(
            "{}: index entry ({}, {}) does not match the log; scanning from the segment start",
            Self::index_path(&self.dir, self.base_offset).display(),
            entry.offset,
            entry.position
        );
        0
    }

    /// Walks batch headers in `[start, end)`, calling `f(location, header_bytes)`; `f` returns
    /// false to stop. Stops quietly at a truncated or invalid frame (the caller's recovery
    /// handles damage; reads only ever cover data below the log end).
    fn scan_from(&self, start: u64, end: u64, mut f: impl FnMut(BatchLocation, &[u8]) -> bool) -> Result<()> {
        let mut pos = start;
        let mut header = [0u8; batch::HEADER_SIZE];
        // Every valid batch is at least HEADER_SIZE bytes, so a whole header must fit.
        while pos + batch::HEADER_SIZE as u64 <= end {
            self.log
                .read_exact_at(&mut header, pos)
                .map_err(|e| StorageError::io("read", self.log.path(), e))?;
            let Some(size) = batch_size_from_header(&header) else { return Ok(()) };
            if header[16] as i8 != batch::MAGIC_V2 || pos + size as u64 > end {
                return Ok(());
            }
            let h = &header[..];
            let loc = BatchLocation {
                base_offset: i64::from_be_bytes(h[0..8].try_into().expect("8 bytes")),
                last_offset: i64::from_be_bytes(h[0..8].try_into().expect("8 bytes"))
                    + i32::from_be_bytes(h[23..27].try_into().expect("4 bytes")) as i64,
                position: pos,
                size: size as u32,
                max_timestamp: i64::from_be_bytes(h[35..43].try_into().expect("8 bytes")),
            };
            if !f(loc, h) {
                return Ok(());
            }
            pos += size as u64;
        }
        Ok(())
    }

    /// Reads whole batches starting with the batch holding `start_offset`, stopping before the
    /// first batch whose last offset is ≥ `max_offset` (the isolation bound) and once
    /// `max_bytes` are collected — but always returning at least one batch when `min_one` is set
    /// and the first batch is below the bound. `None` if nothing in this segment qualifies.
    pub fn read(
        &self,
        start_offset: i64,
        max_bytes: u32,
        max_offset: i64,
        min_one: bool,
    ) -> Result<Option<SegmentRead>> {
        let Some(first) = self.translate_offset(start_offset)? else {
            return Ok(None);
        };
        if first.last_offset >= max_offset {
            return Ok(None);
        }
        let end = self.size();
        let available = end - first.position;
        let want = if min_one { (max_bytes as u64).max(first.size as u64) } else { max_bytes as u64 };
        if (first.size as u64) > want {
            return Ok(None);
        }
        let len = want.min(available) as usize;
        let mut bytes = self.read_bytes(first.position, len)?;
        // Cut at the last whole batch below the bound.
        let mut cut = 0usize;
        let mut next_offset = first.base_offset;
        let mut rest = &bytes[..];
        while let Frame::Complete(n) = batch::frame(rest) {
            if n > rest.len() {
                break;
            }
            let b = &rest[..n];
            let base = i64::from_be_bytes(b[0..8].try_into().expect("8 bytes"));
            if b.len() < batch::HEADER_SIZE {
                break;
            }
            let last = base + i32::from_be_bytes(b[23..27].try_into().expect("4 bytes")) as i64;
            if last >= max_offset {
                break;
            }
            cut += n;
            next_offset = last + 1;
            rest = &rest[n..];
        }
        if cut == 0 {
            return Ok(None);
        }
        bytes.truncate(cut);
        Ok(Some(SegmentRead { file: self.log.clone(), position: first.position, bytes, next_offset }))
    }

    /// The first batch whose max timestamp is ≥ `timestamp`, searching from the time index
    /// floor, together with the first record in it at or after the timestamp.
    pub fn find_offset_by_timestamp(
        &self,
        timestamp: i64,
        starting_offset: i64,
    ) -> Result<Option<(i64, i64)>> {
        let floor = self.time_index.read().lookup(timestamp);
        let from_offset = floor.offset.max(starting_offset);
        let start = self.index_floor(from_offset)?;
        let mut hit = None;
        self.scan_from(start, self.size(), |loc, _| {
            if loc.max_timestamp >= timestamp && loc.last_offset >= starting_offset {
                hit = Some(loc);
                false
            } else {
                true
            }
        })?;
        let Some(loc) = hit else { return Ok(None) };
        let bytes = self.read_bytes(loc.position, loc.size as usize)?;
        let batch = RecordBatch::parse(&bytes)?;
        let records = batch.records()?;
        for r in records.iter() {
            let r = r?;
            if r.timestamp >= timestamp && r.offset >= starting_offset {
                return Ok(Some((r.timestamp, r.offset)));
            }
        }
        Ok(None)
    }

    /// Location of the batch holding the max timestamp so far (Kafka's offset-of-max-timestamp,
    /// for ListOffsets MAX_TIMESTAMP).
    pub fn max_timestamp_and_offset(&self) -> (i64, i64) {
        let w = self.writer.lock();
        (w.max_timestamp, w.offset_of_max_timestamp)
    }

    /// Reads the whole segment and checks every batch (framing, CRC and full validation),
    /// rebuilding the offset and time indexes as it goes and handing each valid batch to
    /// `on_batch`. Stops at the first invalid or incomplete batch without truncating anything:
    /// the caller decides (a torn tail above the recovery point is cut; damage below it is an
    /// error unless the user opted in). The `.txnindex` is reset; `on_batch` returns the
    /// aborted-transaction entries to re-append for the batch.
    pub fn recover(
        &self,
        on_batch: impl FnMut(&RecordBatch<'_>, u64) -> Result<Vec<AbortedTxn>>,
    ) -> Result<RecoveryScan> {
        self.rebuild(on_batch)
    }

    /// Checks the batches that start below `offset` exactly as [`LogSegment::recover`] would,
    /// without changing anything (so that a refused open leaves every file as it was).
    pub fn verify_below(&self, offset: i64) -> Result<RecoveryScan> {
        self.scan_batches(|batch, _| Ok(batch.base_offset() < offset))
    }

    fn rebuild(
        &self,
        mut on_batch: impl FnMut(&RecordBatch<'_>, u64) -> Result<Vec<AbortedTxn>>,
    ) -> Result<RecoveryScan> {
        self.ensure_writable()?;
        {
            self.offset_index.write().reset()?;
            self.time_index.write().reset()?;
            self.txn_index.lock().reset()?;
            *self.writer.lock() =
                WriterState { max_timestamp: -1, offset_of_max_timestamp: -1, ..Default::default() };
        }
        let scan = self.scan_batches(|batch, pos| {
            let aborted = on_batch(batch, pos)?;
            self.rebuild_index_entry(batch, pos)?;
            for txn in &aborted {
                self.txn_index.lock().append(txn)?;
            }
            Ok(true)
        })?;
        self.size.store(scan.valid_bytes, Ordering::Release);
        // As Kafka's `LogSegment.recover`: the time-index entry a close would write, then both
        // indexes trimmed to their valid entries. A recovered segment that stays inactive is
        // never written again; the loader resizes the active segment's indexes back.
        {
            let w = self.writer.lock();
            if w.max_timestamp >= 0 {
                self.time_index.write().maybe_append(w.max_timestamp, w.offset_of_max_timestamp, true)?;
            }
        }
        self.offset_index.write().trim_to_valid_size()?;
        self.time_index.write().trim_to_valid_size()?;
        Ok(scan)
    }

    /// Resizes the offset and time indexes to `max_index_bytes` (Kafka's `resizeIndexes`): an
    /// index trimmed at roll, close or recovery must grow again before the segment is appended
    /// to, or it counts as full and the segment rolls at once.
    pub fn resize_indexes(&self, max_index_bytes: u32) -> Result<()> {
        self.ensure_writable()?;
        self.offset_index.write().resize(max_index_bytes)?;
        self.time_index.write().resize(max_index_bytes)?;
        Ok(())
    }

    /// Walks the batches from the start of the file with recovery's checks, calling
    /// `visit(batch, position)` for each valid one; `visit` returns false to stop before it.
    /// Stops at the first invalid or incomplete batch and reports it in `invalid`.
    fn scan_batches(
        &self,
        mut visit: impl FnMut(&RecordBatch<'_>, u64) -> Result<bool>,
    ) -> Result<RecoveryScan> {
        let file_len = self.log.len().map_err(|e| StorageError::io("stat", self.log.path(), e))?;
        let mut scan = RecoveryScan::default();
        let mut pos = 0u64;
        let mut buf: Vec<u8> = Vec::new();
        let mut buf_start = 0u64;
        loop {
            let off_in_buf = (pos - buf_start) as usize;
            let have = &buf[off_in_buf.min(buf.len())..];
            let frame = batch::frame(have);
            let size = match frame {
                Frame::Complete(n) if n <= have.len() => n,
                Frame::Complete(n) | Frame::Incomplete { needed: n } => {
                    // Need more bytes: refill the buffer from `pos`.
                    let remaining = file_len.saturating_sub(pos);
                    if remaining == 0 {
                        break;
                    }
                    let target = (n.max(SCAN_CHUNK) as u64).min(remaining) as usize;
                    if have.len() >= target {
                        // The file ends before the batch does.
                        scan.invalid =
                            Some(self.invalid_tail(pos, have, file_len, "incomplete batch at end of file"));
                        break;
                    }
                    buf = self.read_bytes(pos, target)?;
                    buf_start = pos;
                    if buf.is_empty() {
                        break;
                    }
                    continue;
                }
                Frame::Invalid(e) => {
                    scan.invalid = Some(self.invalid_tail(pos, have, file_len, &e.to_string()));
                    break;
                }
            };
            let bytes = &have[..size];
            let verdict = RecordBatch::parse(bytes).and_then(|b| b.validate().map(|()| b));
            let batch = match verdict {
                Ok(b) => b,
                Err(e) => {
                    scan.invalid = Some(self.invalid_tail(pos, have, file_len, &e.to_string()));
                    break;
                }
            };
            if batch.base_offset() < self.base_offset
                || !self.can_convert_to_relative_offset(batch.last_offset())
            {
                let reason = format!(
                    "batch offsets {}..={} do not belong in segment {}",
                    batch.base_offset(),
                    batch.last_offset(),
                    self.base_offset
                );
                scan.invalid = Some(self.invalid_tail(pos, have, file_len, &reason));
                break;
            }
            if let Some(prev) = scan.next_offset
                && batch.base_offset() < prev
            {
                let reason =
                    format!("batch offset {} goes backwards (expected ≥ {prev})", batch.base_offset());
                scan.invalid = Some(self.invalid_tail(pos, have, file_len, &reason));
                break;
            }
            if !visit(&batch, pos)? {
                break;
            }
            scan.batches += 1;
            scan.next_offset = Some(batch.last_offset() + 1);
            pos += size as u64;
            scan.valid_bytes = pos;
        }
        Ok(scan)
    }

    fn invalid_tail(&self, pos: u64, have: &[u8], file_len: u64, reason: &str) -> InvalidTail {
        let claimed_offset =
            (have.len() >= 8).then(|| i64::from_be_bytes(have[0..8].try_into().expect("8 bytes")));
        InvalidTail { position: pos, claimed_offset, reason: reason.to_string(), bytes: file_len - pos }
    }

    fn rebuild_index_entry(&self, batch: &RecordBatch<'_>, pos: u64) -> Result<()> {
        let mut w = self.writer.lock();
        if w.rolling_based_timestamp.is_none() {
            w.rolling_based_timestamp = Some(batch.max_timestamp());
        }
        if batch.max_timestamp() > w.max_timestamp {
            w.max_timestamp = batch.max_timestamp();
            w.offset_of_max_timestamp = batch.last_offset();
        }
        if w.bytes_since_last_index_entry > self.config.index_interval_bytes {
            self.offset_index.write().append(batch.last_offset(), pos as u32)?;
            self.time_index.write().maybe_append(w.max_timestamp, w.offset_of_max_timestamp, false)?;
            w.bytes_since_last_index_entry = 0;
        }
        w.bytes_since_last_index_entry = w.bytes_since_last_index_entry.saturating_add(batch.size() as u32);
        Ok(())
    }

    /// Scans the batches after the last offset-index entry to learn the next offset, the max
    /// timestamp and the first batch's timestamp without reading the whole segment (clean
    /// open). Also restores the sparse-index byte counter so later appends index exactly where
    /// Kafka would.
    pub fn load_tail_state(&self) -> Result<Option<i64>> {
        let start = self.offset_index.read().last_entry().position as u64;
        let end = self.size();
        let mut next = None;
        let mut since_index = 0u32;
        let mut max_ts = (-1i64, -1i64);
        let mut first_ts = None;
        if start > 0 {
            // The first batch's timestamp drives segment.ms; read just its header.
            self.scan_from(0, end, |loc, _| {
                first_ts = Some(loc.max_timestamp);
                false
            })?;
        }
        let mut first_seen = start > 0;
        self.scan_from(start, end, |loc, _| {
            if !first_seen {
                first_ts = Some(loc.max_timestamp);
                first_seen = true;
            }
            if loc.max_timestamp > max_ts.0 {
                max_ts = (loc.max_timestamp, loc.last_offset);
            }
            // The batch at the last index entry reset the counter before its own size was added.
            since_index = since_index.saturating_add(loc.size);
            next = Some(loc.last_offset + 1);
            true
        })?;
        let mut w = self.writer.lock();
        w.bytes_since_last_index_entry = since_index;
        w.rolling_based_timestamp = first_ts;
        if max_ts.0 > w.max_timestamp {
            w.max_timestamp = max_ts.0;
            w.offset_of_max_timestamp = max_ts.1;
        }
        Ok(next)
    }

    /// Truncates the segment so that it holds no offset ≥ `offset`; returns the bytes removed.
    pub fn truncate_to(&self, offset: i64) -> Result<u64> {
        // The segment is (again) the active one: its indexes, trimmed when it rolled, must grow
        // back to `segment.index.bytes` or they count as full (Kafka's `truncateTo` resizes too).
        self.resize_indexes(self.config.max_index_bytes)?;
        let size = self.size();
        let position = match self.translate_offset(offset)? {
            // The batch holding `offset` goes too when it starts below it (whole batches only).
            Some(loc) => loc.position,
            None => return Ok(0),
        };
        self.truncate_to_position(position)?;
        self.offset_index.write().truncate_to(offset)?;
        self.time_index.write().truncate_to(offset)?;
        self.txn_index.lock().truncate_to(offset)?;
        // Recompute the writer state from what is left.
        let last_time = self.time_index.read().last_entry();
        {
            let mut w = self.writer.lock();
            w.max_timestamp = last_time.timestamp;
            w.offset_of_max_timestamp = last_time.offset;
            w.bytes_since_last_index_entry = 0;
            if position == 0 {
                w.rolling_based_timestamp = None;
            }
        }
        self.load_tail_state()?;
        Ok(size - position)
    }

    /// Cuts the `.log` file at `position` (recovery of a torn tail).
    pub fn truncate_to_position(&self, position: u64) -> Result<()> {
        self.log.set_len(position).map_err(|e| StorageError::io("truncate", self.log.path(), e))?;
        self.size.store(position, Ordering::Release);
        self.synced_size.fetch_min(position, Ordering::AcqRel);
        Ok(())
    }

    /// Records that the first `size` bytes of the `.log` file are durable (a sync of the file
    /// that started when the segment was `size` bytes long succeeded).
    pub fn note_synced(&self, size: u64) {
        self.synced_size.fetch_max(size, Ordering::AcqRel);
    }

    /// After a failed sync of the `.log` file: cuts it back to the bytes known to be durable
    /// and returns how many were cut. Linux may mark the pages of a failed write-back clean
    /// while keeping them readable (fsyncgate), so these bytes would be read back after a
    /// process restart and trusted by recovery — whose own fsync then succeeds without writing
    /// them — and lost at the next power loss, together with everything appended after them.
    /// The caller holds the partition's writer lock.
    pub fn discard_unsynced(&self) -> Result<u64> {
        let synced = self.synced_size.load(Ordering::Acquire);
        let size = self.size();
        if size <= synced {
            return Ok(0);
        }
        self.log.set_len(synced).map_err(|e| StorageError::io("truncate", self.log.path(), e))?;
        self.size.store(synced, Ordering::Release);
        Ok(size - synced)
    }

    /// Called when the segment stops being the active one: Kafka appends a final time-index
    /// entry (the max timestamp and its offset) and trims both indexes to their valid entries.
    pub fn on_become_inactive(&self) -> Result<()> {
        let w = self.writer.lock();
        if w.max_timestamp >= 0 {
            self.time_index.write().maybe_append(w.max_timestamp, w.offset_of_max_timestamp, true)?;
        }
        drop(w);
        self.offset_index.write().trim_to_valid_size()?;
        self.time_index.write().trim_to_valid_size()?;
        if self.config.preallocate {
            let size = self.size();
            self.log.set_len(size).map_err(|e| StorageError::io("trim", self.log.path(), e))?;
        }
        Ok(())
    }

    /// Makes the `.log` data and the indexes durable.
    pub fn flush(&self) -> Result<()> {
        let size = self.size();
        self.log.sync_data().map_err(|e| StorageError::io("fdatasync", self.log.path(), e))?;
        self.note_synced(size);
        self.offset_index.read().flush()?;
        self.time_index.read().flush()?;
        self.txn_index.lock().flush()?;
        Ok(())
    }

    /// Close: final time-index entry and trimmed indexes, as Kafka's `LogSegment.close`.
    pub fn close(&self) -> Result<()> {
        self.on_become_inactive()
    }

    /// Validates the indexes of a segment opened after a clean shutdown; an error means the
    /// segment must be recovered (its indexes are rebuilt).
    pub fn sanity_check(&self) -> Result<()> {
        self.offset_index.read().sanity_check()?;
        self.time_index.read().sanity_check()?;
        self.txn_index.lock().sanity_check()?;
        let size = self.size();
        let last = self.offset_index.read().last_entry();
        if last.position as u64 > size {
            return Err(StorageError::Corrupt {
                path: Self::index_path(&self.dir, self.base_offset),
                detail: format!("index entry points to position {} past the log end {size}", last.position),
            }
            .into());
        }
        // The clean open finds the log end by scanning from the last entry's position, so that
        // entry must point at the batch holding its offset (Kafka checks less; a damaged last
        // entry made the scan start inside a batch and lose the log end).
        if self.offset_index.read().entries() > 0
            && self.index_floor(last.offset)? != u64::from(last.position)
        {
            return Err(StorageError::Corrupt {
                path: Self::index_path(&self.dir, self.base_offset),
                detail: format!(
                    "the last index entry ({}, {}) does not point at the batch holding its offset",
                    last.offset, last.position
                ),
            }
            .into());
        }
        Ok(())
    }

    /// Renames every file of the segment with the `.deleted` suffix (the first step of
    /// deletion; the caller fsyncs the directory and removes the files later).
    pub fn rename_to_deleted(&self) -> Result<Vec<PathBuf>> {
        let mut renamed = Vec::new();
        for path in self.file_paths() {
            if self.io.metadata(&path).map_err(|e| StorageError::io("stat", &path, e))?.is_none() {
                continue;
            }
            let mut target = path.clone().into_os_string();
            target.push(DELETED_SUFFIX);
            let target = PathBuf::from(target);
            self.io.rename(&path, &target).map_err(|e| StorageError::io("rename", &path, e))?;
            renamed.push(target);
        }
        Ok(renamed)
    }

    /// The paths of this segment's files (whether or not each exists).
    pub fn file_paths(&self) -> [PathBuf; 4] {
        [
            Self::log_path(&self.dir, self.base_offset),
            Self::index_path(&self.dir, self.base_offset),
            Self::time_index_path(&self.dir, self.base_offset),
            Self::txn_index_path(&self.dir, self.base_offset),
        ]
    }
}

/// Total size of a batch from its first 12 bytes (offset + length), if the length is sane.
fn batch_size_from_header(h: &[u8]) -> Option<usize> {
    if h.len() < batch::LOG_OVERHEAD {
        return None;
    }
    let len = i32::from_be_bytes(h[8..12].try_into().ok()?);
    if len < (batch::HEADER_SIZE - batch::LOG_OVERHEAD) as i32 {
        return None;
    }
    Some(len as usize + batch::LOG_OVERHEAD)
}
