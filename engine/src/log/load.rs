//! Opening a partition directory: cleaning up leftovers, opening segments, recovering after an
//! unclean shutdown, and rebuilding producer state (Kafka's `LogLoader`).
//!
//! Recovery policy. After an unclean shutdown every segment from the one holding the recovery
//! point onward is scanned: each batch's framing, CRC and records are checked and the indexes
//! and `.txnindex` are rebuilt. The first bad or incomplete batch ends the valid log:
//! - above the recovery point (data that was never fsynced) it is a torn tail: the segment is
//!   truncated there and every later segment deleted, as Kafka does;
//! - below the recovery point (data that was fsynced) it is damage a crash cannot cause: opening
//!   fails with a clear error unless `truncate.corrupt.below.recovery.point` is set.
//!
//! A cleanly closed log is opened without reading its data: only each segment's tail after the
//! last index entry is scanned to find the log end offset.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64};

use parking_lot::{Mutex, RwLock};

use crate::batch::{self, RecordBatch};
use crate::config::TopicConfig;
use crate::error::{Result, StorageError};
use crate::io::{FileType, OpenMode};
use crate::log::checkpoint::LEADER_EPOCH_CHECKPOINT;
use crate::log::leader_epoch::LeaderEpochCache;
use crate::log::partition::{
    LogContext, LogInner, Offsets, PartitionLog, SegmentMap, TopicPartition, batch_info,
};
use crate::log::snapshots::{SNAPSHOT_SUFFIX, SnapshotFiles};
use crate::producer::{AppendOrigin, ProducerStateManager};
use crate::segment::{
    AbortedTxn, DELETED_SUFFIX, INDEX_SUFFIX, InvalidTail, LOG_SUFFIX, LogSegment, TIME_INDEX_SUFFIX,
    TXN_INDEX_SUFFIX, parse_stem,
};

/// File name of Kafka's partition metadata (topic id) inside a partition directory.
pub const PARTITION_METADATA: &str = "partition.metadata";

/// What opening one partition found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionRecovery {
    /// The partition.
    pub partition: String,
    /// Whether the log was opened as cleanly shut down (no data scan).
    pub clean_shutdown: bool,
    /// Segments fully scanned.
    pub segments_recovered: usize,
    /// Batches checked during the scan.
    pub batches_scanned: u64,
    /// Bytes checked during the scan.
    pub bytes_scanned: u64,
    /// Bytes cut from the end of the log (torn or corrupt tail).
    pub truncated_bytes: u64,
    /// The offset the log was truncated to, if it was.
    pub truncated_to_offset: Option<i64>,
    /// Why the tail was cut.
    pub truncation_reason: Option<String>,
    /// Base offsets of segments deleted because they followed the damage.
    pub deleted_segments: Vec<i64>,
    /// Base offsets of segments whose indexes were missing or damaged and were rebuilt.
    pub rebuilt_indexes: Vec<i64>,
    /// Producer snapshots that were unreadable and discarded.
    pub discarded_snapshots: Vec<String>,
    /// Leftover files removed (`.deleted`, `.tmp`, orphan indexes).
    pub removed_files: Vec<String>,
    /// Batches replayed to rebuild producer state.
    pub producer_state_batches_replayed: u64,
    /// Log end offset after opening.
    pub log_end_offset: i64,
}

impl PartitionRecovery {
    /// True when anything was cut or rebuilt.
    pub fn changed_anything(&self) -> bool {
        self.truncated_bytes > 0 || !self.deleted_segments.is_empty() || !self.rebuilt_indexes.is_empty()
    }
}

/// Inputs to [`PartitionLog::open`] that come from the data directory.
#[derive(Debug, Clone)]
pub(crate) struct OpenParams {
    pub clean_shutdown: bool,
    /// From `recovery-point-offset-checkpoint`; 0 when absent.
    pub recovery_point: i64,
    /// From `log-start-offset-checkpoint`.
    pub log_start_offset: Option<i64>,
    /// Create the directory if it does not exist.
    pub create: bool,
    /// Topic id for `partition.metadata` (written only when the file is missing).
    pub topic_id: Option<String>,
}

impl PartitionLog {
    /// Opens (or creates) the partition directory `dir`.
    pub(crate) fn open(
        dir: &Path,
        tp: TopicPartition,
        config: Arc<TopicConfig>,
        ctx: LogContext,
        params: OpenParams,
    ) -> Result<(Arc<PartitionLog>, PartitionRecovery)> {
        let io = ctx.io.clone();
        let mut report = PartitionRecovery {
            partition: tp.to_string(),
            clean_shutdown: params.clean_shutdown,
            ..Default::default()
        };
        match io.metadata(dir).map_err(|e| StorageError::io("stat", dir, e))? {
            Some(FileType::Dir) => {}
            Some(_) => {
                return Err(StorageError::Corrupt {
                    path: dir.to_path_buf(),
                    detail: "not a directory".into(),
                }
                .into());
            }
            None if params.create => {
                io.create_dir_all(dir).map_err(|e| StorageError::io("mkdir", dir, e))?;
                if let Some(parent) = dir.parent() {
                    io.sync_dir(parent).map_err(|e| StorageError::io("fsync dir", parent, e))?;
                }
            }
            None => {
                return Err(StorageError::Corrupt {
                    path: dir.to_path_buf(),
                    detail: "partition directory is missing".into(),
                }
                .into());
            }
        }
        if let Some(id) = &params.topic_id {
            write_partition_metadata(&ctx, dir, id)?;
        }
        let bases = clean_directory(&ctx, dir, &mut report)?;
        let snapshots = SnapshotFiles::new(dir, io.clone());
        let now = ctx.clock.now_ms();
        let seg_config = PartitionLog::segment_config(&config);
        let log_start_checkpoint = params.log_start_offset.unwrap_or(0);

        // Open segments; the last one is active. A segment whose offset or time index is
        // missing gets empty ones and is rebuilt (Kafka's sanity check fails on a missing
        // offset index and recovers the segment).
        let mut segments: SegmentMap = BTreeMap::new();
        let last_base = bases.iter().next_back().copied();
        // Segments whose offset or time index file is missing: they are opened with writable
        // indexes (which creates the files) and rebuilt below, as Kafka recovers a segment
        // whose index is missing.
        let mut missing_indexes = BTreeSet::new();
        for &base in &bases {
            let mut missing = false;
            for path in [LogSegment::index_path(dir, base), LogSegment::time_index_path(dir, base)] {
                missing |= io.metadata(&path).map_err(|e| StorageError::io("stat", &path, e))?.is_none();
            }
            if missing {
                missing_indexes.insert(base);
            }
            let writable = Some(base) == last_base || missing;
            let seg = LogSegment::open(io.clone(), dir, base, seg_config, writable, now)?;
            segments.insert(base, Arc::new(seg));
        }

        let epochs = LeaderEpochCache::open(io.clone(), dir.join(LEADER_EPOCH_CHECKPOINT))?;
        let mut producers = ProducerStateManager::new(ctx.producer_config);

        let recovery_point = if params.clean_shutdown { i64::MAX } else { params.recovery_point };
        let mut log_end = 0;
        if !segments.is_empty() {
            log_end = if params.clean_shutdown {
                open_clean(&ctx, &segments, &missing_indexes, &snapshots, &mut report)?
            } else {
                recover_unclean(
                    &ctx,
                    dir,
                    &mut segments,
                    recovery_point,
                    &missing_indexes,
                    &snapshots,
                    &mut producers,
                    &mut report,
                )?
            };
        }
        // Recovery trims the indexes it rebuilds; the active segment's grow back to
        // `segment.index.bytes` before anything is appended.
        if let Some(active) = segments.values().next_back() {
            active.resize_indexes(seg_config.max_index_bytes)?;
        }
        let first_base = segments.keys().next().copied();
        let log_start = match first_base {
            Some(b) => log_start_checkpoint.max(b),
            None => log_start_checkpoint,
        };
        if segments.is_empty() {
            let seg = LogSegment::create(io.clone(), dir, log_start, seg_config, now)?;
            io.sync_dir(dir).map_err(|e| StorageError::io("fsync dir", dir, e))?;
            segments.insert(log_start, Arc::new(seg));
            log_end = log_start;
        }
        let log_end = log_end.max(log_start);
        report.log_end_offset = log_end;

        let log = Arc::new(PartitionLog {
            tp,
            dir: dir.to_path_buf(),
            ctx,
            config: RwLock::new(config),
            inner: Mutex::new(LogInner {
                producers,
                epochs,
                leader_epoch: 0,
                recovery_point: log_end,
                scratch: Vec::new(),
                last_expiry_check_ms: now,
            }),
            segments: RwLock::new(Arc::new(segments)),
            offsets: Offsets {
                log_start: AtomicI64::new(log_start),
                log_end: AtomicI64::new(log_end),
                high_watermark: AtomicI64::new(log_start),
                last_stable: AtomicI64::new(log_start),
                durable: AtomicI64::new(log_end),
            },
            snapshots,
            failure: Mutex::new(None),
            closed: AtomicBool::new(false),
            waiters: Default::default(),
        });
        log.finish_open(&mut report, params.clean_shutdown)?;
        Ok((log, report))
    }

    /// Producer state, leader epochs, offsets and snapshots once the segments are settled.
    fn finish_open(&self, report: &mut PartitionRecovery, clean: bool) -> Result<()> {
        let mut inner = self.inner.lock();
        let log_end = self.log_end_offset();
        let log_start = self.log_start_offset();
        inner.epochs.truncate_from_end(log_end)?;
        inner.epochs.truncate_from_start(log_start)?;
        inner.leader_epoch = inner.epochs.latest_epoch().unwrap_or(0).max(0);
        if clean {
            // A clean open loads the snapshot at the log end (or replays from the newest one
            // below it); an unclean open already replayed producer state while scanning.
            self.rebuild_producer_state(&mut inner, log_end, report)?;
        }
        // Snapshots above the log end describe data that no longer exists; snapshots at or
        // below the log start can never be needed again (Kafka's reload rule).
        self.snapshots.delete_above(log_end)?;
        // Kafka's `takeSnapshot` rule: only when the state covers more than the newest snapshot
        // (or the log start when there is none), so an empty log gets no snapshot.
        let latest = self.snapshots.list()?.last().copied().unwrap_or(log_start);
        if log_end > latest {
            self.snapshots.write(log_end, &inner.producers.snapshot_entries())?;
        }
        if !clean {
            // Everything recovered was rescanned; make it durable before trusting it as the
            // new recovery point.
            for s in self.segments.read().values() {
                s.flush()?;
            }
            self.ctx.io.sync_dir(&self.dir).map_err(|e| StorageError::io("fsync dir", &self.dir, e))?;
        }
        inner.recovery_point = log_end;
        // Everything present at open is durable (clean close, or recovery flushed it), so a
        // local high watermark starts at the log end. An embedder that replicates starts from
        // the log start and advances it.
        let hw = if self.ctx.external_high_watermark { log_start } else { log_end };
        self.set_high_watermark_locked(&mut inner, hw);
        Ok(())
    }

    /// Rebuilds producer state for `[.., end)`: the newest readable snapshot at or below `end`,
    /// then a replay of the batches after it (replication origin: no checks). `.txnindex`
    /// entries are not rewritten: they are on disk already.
    pub(super) fn rebuild_producer_state(
        &self,
        inner: &mut LogInner,
        end: i64,
        report: &mut PartitionRecovery,
    ) -> Result<()> {
        let now = self.ctx.clock.now_ms();
        let mut producers = ProducerStateManager::new(self.ctx.producer_config);
        let mut from = self.log_start_offset();
        let segments = self.segments.read().clone();
        if let Some((offset, entries)) =
            self.snapshots.load_latest_checked(end, &mut report.discarded_snapshots, |offset, entries| {
                check_snapshot(&segments, offset, entries)
            })?
        {
            producers.load_snapshot(entries, offset, now);
            from = from.max(offset);
        }
        replay(&segments, from, end, &mut producers, &mut report.producer_state_batches_replayed)?;
        producers.update_map_end_offset(end);
        inner.producers = producers;
        Ok(())
    }
}

/// Whether a producer snapshot taken at `offset` agrees with the log it describes. A snapshot's
/// CRC only proves it was written whole; a snapshot that disagrees with the log (found by
/// fuzzing: an open transaction said to start inside another producer's batch) would pin the
/// last stable offset below that batch forever, and read_committed consumers with it. Checked:
/// every producer's last batch ends before the snapshot offset, with a delta inside it; an open
/// transaction starts before the snapshot offset, not after the producer's last batch, and —
/// when that part of the log is still there — exactly at a transactional data batch of the same
/// producer. A snapshot that fails is discarded like a corrupt one and producer state is
/// rebuilt from an older one (or the log start) by replaying the log.
fn check_snapshot(
    segments: &SegmentMap,
    offset: i64,
    entries: &[crate::producer::SnapshotEntry],
) -> Result<()> {
    let bad = |detail: String| -> Result<()> {
        Err(StorageError::Corrupt { path: PathBuf::from(format!("producer snapshot at {offset}")), detail }
            .into())
    };
    let log_start = segments.keys().next().copied().unwrap_or(offset);
    for e in entries {
        let pid = e.producer_id;
        if e.last_offset < -1 || e.last_offset >= offset {
            return bad(format!("producer {pid}: last offset {} is not below {offset}", e.last_offset));
        }
        if e.last_offset >= 0 && !(0..=e.last_offset).contains(&i64::from(e.offset_delta)) {
            return bad(format!(
                "producer {pid}: offset delta {} for last offset {}",
                e.offset_delta, e.last_offset
            ));
        }
        let first = e.current_txn_first_offset;
        if first == -1 {
            continue;
        }
        if first < 0 || first >= offset || (e.last_offset >= 0 && first > e.last_offset) {
            return bad(format!(
                "producer {pid}: open transaction at {first} (last offset {}, snapshot at {offset})",
                e.last_offset
            ));
        }
        if first < log_start {
            // Deleted by retention: nothing left to compare with.
            continue;
        }
        let Some((_, segment)) = segments.range(..=first).next_back() else { continue };
        let Some(read) = segment.read(first, 1, i64::MAX, true)? else {
            return bad(format!("producer {pid}: open transaction at {first}, past the log"));
        };
        let Some(Ok(b)) = batch::batches(&read.bytes).next() else {
            return bad(format!("producer {pid}: open transaction at {first}: no readable batch there"));
        };
        if b.base_offset() != first || b.producer_id() != pid || !b.is_transactional() || b.is_control() {
            return bad(format!(
                "producer {pid}: open transaction at {first}, but the batch there is [{}, {}] of producer {}{}",
                b.base_offset(),
                b.last_offset(),
                b.producer_id(),
                if b.is_transactional() && !b.is_control() { "" } else { ", not transactional data" }
            ));
        }
    }
    Ok(())
}

/// Replays batches in `[from, end)` into producer state with replication origin.
fn replay(
    segments: &SegmentMap,
    from: i64,
    end: i64,
    producers: &mut ProducerStateManager,
    replayed: &mut u64,
) -> Result<()> {
    let start_base = segments.range(..=from).next_back().map(|(b, _)| *b).unwrap_or(from);
    for (_, segment) in segments.range(start_base..) {
        if segment.base_offset() >= end {
            break;
        }
        let mut offset = from.max(segment.base_offset());
        while offset < end {
            let Some(read) = segment.read(offset, 1 << 20, end, true)? else { break };
            for b in batch::batches(&read.bytes) {
                let b = b?;
                apply_replayed(producers, &b)?;
                *replayed += 1;
            }
            offset = read.next_offset;
        }
    }
    Ok(())
}

/// Applies one stored batch to producer state without checks (Kafka replays with replication
/// origin) and returns the transaction it completed, if any.
fn apply_replayed(
    producers: &mut ProducerStateManager,
    b: &RecordBatch<'_>,
) -> Result<Option<crate::producer::CompletedTxn>> {
    if !b.has_producer_id() {
        producers.update_map_end_offset(b.last_offset() + 1);
        return Ok(None);
    }
    if b.is_control() && b.end_txn_marker()?.is_none() {
        // An emptied or non-transaction control batch: nothing for producer state.
        producers.update_map_end_offset(b.last_offset() + 1);
        return Ok(None);
    }
    let info = batch_info(b, 1)?;
    let mut append = producers.prepare_update(info.producer_id, AppendOrigin::Replication);
    let completed = append.append(&info, None)?;
    producers.update(append);
    if let Some(txn) = &completed {
        producers.complete_txn(txn);
    }
    producers.update_map_end_offset(b.last_offset() + 1);
    Ok(completed)
}

/// Replays one batch during a segment scan and returns the `.txnindex` entry its ABORT marker
/// creates, if any (with Kafka's stored LSO).
fn recovered_aborts(producers: &mut ProducerStateManager, b: &RecordBatch<'_>) -> Result<Vec<AbortedTxn>> {
    let completed = apply_replayed(producers, b)?;
    Ok(match completed {
        Some(txn) if txn.is_aborted => vec![AbortedTxn {
            producer_id: txn.producer_id,
            first_offset: txn.first_offset,
            last_offset: txn.last_offset,
            last_stable_offset: producers.last_stable_offset(&txn),
        }],
        _ => Vec::new(),
    })
}

/// Rebuilds the indexes of a segment whose indexes failed their sanity check (Kafka's
/// `LogLoader.recoverSegment`). Recovering a segment resets its `.txnindex`, so the scan runs
/// with the producer state as of the segment's base offset (newest snapshot at or below it,
/// then a replay) and the ABORT markers in the segment re-create their entries. An inactive
/// segment's indexes are then trimmed (see [`finish_inactive`]).
fn rebuild_segment(
    ctx: &LogContext,
    segments: &SegmentMap,
    base: i64,
    snapshots: &SnapshotFiles,
    report: &mut PartitionRecovery,
) -> Result<crate::segment::RecoveryScan> {
    let mut producers = ProducerStateManager::new(ctx.producer_config);
    let mut start = *segments.keys().next().expect("non-empty");
    if let Some((offset, entries)) =
        snapshots.load_latest_checked(base, &mut report.discarded_snapshots, |offset, entries| {
            check_snapshot(segments, offset, entries)
        })?
    {
        producers.load_snapshot(entries, offset, ctx.clock.now_ms());
        start = offset;
    }
    replay(segments, start, base, &mut producers, &mut report.producer_state_batches_replayed)?;
    producers.update_map_end_offset(base);
    let scan = segments[&base].recover(|b, _| recovered_aborts(&mut producers, b))?;
    if Some(&base) != segments.keys().next_back() && scan.invalid.is_none() {
        finish_inactive(&segments[&base])?;
    }
    Ok(scan)
}

/// After recovering a segment that is not the active one: the closing time-index entry and
/// indexes trimmed to their entries, as Kafka's `LogSegment.recover` ends. Recovery reopens the
/// indexes at their preallocated size, and an inactive index is read back as `length / entry`
/// entries, so an untrimmed one would fail the next sanity check and be rebuilt at every open.
fn finish_inactive(segment: &LogSegment) -> Result<()> {
    segment.on_become_inactive()?;
    segment.flush()
}

/// Opens a cleanly shut down log: indexes are trusted after a sanity check (a segment whose
/// indexes fail it is rebuilt from its data), and only the active segment's tail is scanned.
fn open_clean(
    ctx: &LogContext,
    segments: &SegmentMap,
    missing_indexes: &BTreeSet<i64>,
    snapshots: &SnapshotFiles,
    report: &mut PartitionRecovery,
) -> Result<i64> {
    let mut log_end = 0;
    let last = *segments.keys().next_back().expect("non-empty");
    for (&base, segment) in segments {
        let check = if missing_indexes.contains(&base) {
            Err(StorageError::Corrupt {
                path: LogSegment::index_path(segment.dir(), base),
                detail: "index file missing".into(),
            }
            .into())
        } else {
            segment.sanity_check()
        };
        if let Err(e) = check {
            log::warn!("rebuilding the indexes of segment {base}: {e}");
            let scan = rebuild_segment(ctx, segments, base, snapshots, report)?;
            report.rebuilt_indexes.push(base);
            if let Some(bad) = scan.invalid {
                return Err(StorageError::Corrupt {
                    path: LogSegment::log_path(segment.dir(), base),
                    detail: format!(
                        "cleanly closed segment has invalid data at position {}: {}",
                        bad.position, bad.reason
                    ),
                }
                .into());
            }
        }
        if base == last {
            log_end = segment.load_tail_state()?.unwrap_or(base);
        }
    }
    Ok(log_end)
}

/// Scans every segment from the one holding the recovery point, rebuilding indexes and
/// producer state, and cuts a torn tail. Returns the log end offset.
#[allow(clippy::too_many_arguments)]
fn recover_unclean(
    ctx: &LogContext,
    dir: &Path,
    segments: &mut SegmentMap,
    recovery_point: i64,
    missing_indexes: &BTreeSet<i64>,
    snapshots: &SnapshotFiles,
    producers: &mut ProducerStateManager,
    report: &mut PartitionRecovery,
) -> Result<i64> {
    let now = ctx.clock.now_ms();
    let first_dirty = segments
        .range(..=recovery_point)
        .next_back()
        .map(|(b, _)| *b)
        .unwrap_or_else(|| *segments.keys().next().expect("non-empty"));
    // Damage below the recovery point refuses the open; check for it before anything is
    // rewritten, so that a refused open leaves every file as it was.
    if !ctx.truncate_corrupt_below_recovery_point && recovery_point > first_dirty {
        let scan = segments[&first_dirty].verify_below(recovery_point)?;
        if let Some(bad) = scan.invalid {
            let valid_end = scan.next_offset.unwrap_or(first_dirty);
            if valid_end < recovery_point {
                return Err(below_recovery_point_error(dir, first_dirty, &bad, valid_end, recovery_point));
            }
        }
    }
    // Segments below the first dirty one are trusted (they were flushed); check their indexes.
    for (&base, segment) in segments.range(..first_dirty) {
        if missing_indexes.contains(&base) || segment.sanity_check().is_err() {
            rebuild_segment(ctx, segments, base, snapshots, report)?;
            report.rebuilt_indexes.push(base);
        }
    }
    // Producer state as of the first dirty segment: newest snapshot at or below it, then replay.
    let mut start = *segments.keys().next().expect("non-empty");
    if let Some((offset, entries)) =
        snapshots.load_latest_checked(first_dirty, &mut report.discarded_snapshots, |offset, entries| {
            check_snapshot(segments, offset, entries)
        })?
    {
        producers.load_snapshot(entries, offset, now);
        start = offset;
    }
    replay(segments, start, first_dirty, producers, &mut report.producer_state_batches_replayed)?;
    producers.update_map_end_offset(first_dirty);

    let dirty: Vec<i64> = segments.range(first_dirty..).map(|(b, _)| *b).collect();
    let mut log_end = first_dirty;
    for (i, base) in dirty.iter().enumerate() {
        let segment = segments[base].clone();
        let scan = segment.recover(|b, _pos| recovered_aborts(producers, b))?;
        report.segments_recovered += 1;
        report.batches_scanned += scan.batches;
        report.bytes_scanned += scan.valid_bytes;
        log_end = scan.next_offset.unwrap_or(*base).max(log_end);
        if i + 1 < dirty.len() {
            if scan.invalid.is_none() {
                finish_inactive(&segment)?;
            }
            // Kafka takes a snapshot after each recovered segment so a crash during recovery
            // does not replay everything again.
            snapshots.write(dirty[i + 1], &producers.snapshot_entries())?;
        }
        if let Some(bad) = scan.invalid {
            let valid_end = scan.next_offset.unwrap_or(*base);
            if valid_end < recovery_point && !ctx.truncate_corrupt_below_recovery_point {
                return Err(below_recovery_point_error(dir, *base, &bad, valid_end, recovery_point));
            }
            log::warn!(
                "{}: truncating {} bytes of segment {base} at position {} (offset {valid_end}): {}",
                dir.display(),
                bad.bytes,
                bad.position,
                bad.reason
            );
            segment.truncate_to_position(bad.position)?;
            report.truncated_bytes += bad.bytes;
            report.truncated_to_offset = Some(valid_end);
            report.truncation_reason = Some(bad.reason.clone());
            for later in &dirty[i + 1..] {
                let seg = segments.remove(later).expect("listed");
                report.truncated_bytes += seg.size();
                delete_segment_files(ctx, &seg)?;
                snapshots.delete(*later)?;
                report.deleted_segments.push(*later);
            }
            // The segment that now ends the log becomes the active one.
            break;
        }
    }
    Ok(log_end)
}

/// The error for invalid data below the recovery point.
fn below_recovery_point_error(
    dir: &Path,
    base: i64,
    bad: &InvalidTail,
    valid_end: i64,
    recovery_point: i64,
) -> crate::error::Error {
    StorageError::Corrupt {
        path: LogSegment::log_path(dir, base),
        detail: format!(
            "invalid batch at position {} (offset {valid_end}) below the recovery point {recovery_point}: \
             {}; this data was fsynced, so the damage is not from a crash. Set \
             truncate.corrupt.below.recovery.point=true to open anyway and cut the log there",
            bad.position, bad.reason
        ),
    }
    .into()
}

/// Removes a segment's files right away (recovery: the data is invalid or after invalid data).
pub(super) fn delete_segment_files(ctx: &LogContext, seg: &LogSegment) -> Result<()> {
    for path in seg.file_paths() {
        match ctx.io.remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StorageError::io("remove", &path, e).into()),
        }
    }
    Ok(())
}

/// Removes leftovers of interrupted operations and returns the base offsets of the segments.
fn clean_directory(ctx: &LogContext, dir: &Path, report: &mut PartitionRecovery) -> Result<BTreeSet<i64>> {
    let io = &ctx.io;
    let entries = io.read_dir(dir).map_err(|e| StorageError::io("read_dir", dir, e))?;
    let mut logs = BTreeSet::new();
    let mut indexes: Vec<(i64, String)> = Vec::new();
    let mut removed = false;
    for e in &entries {
        if e.file_type != FileType::File {
            // Symlinks, subdirectories and devices are never eoslog's: leave them alone and
            // never follow them.
            continue;
        }
        let name = e.name.as_str();
        let remove = name.ends_with(DELETED_SUFFIX)
            || name.ends_with(".cleaned")
            || name.ends_with(".swap")
            || name.ends_with(".tmp");
        if remove {
            let p = dir.join(name);
            io.remove_file(&p).map_err(|err| StorageError::io("remove", &p, err))?;
            report.removed_files.push(name.to_string());
            removed = true;
            continue;
        }
        if let Some(stem) = name.strip_suffix(LOG_SUFFIX) {
            if let Some(base) = parse_stem(stem) {
                logs.insert(base);
            }
        } else if let Some(stem) = [INDEX_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            && let Some(base) = parse_stem(stem)
        {
            indexes.push((base, name.to_string()));
        } else if name.ends_with(SNAPSHOT_SUFFIX) {
            // Handled by SnapshotFiles.
        }
    }
    for (base, name) in indexes {
        if !logs.contains(&base) {
            let p = dir.join(&name);
            io.remove_file(&p).map_err(|err| StorageError::io("remove", &p, err))?;
            report.removed_files.push(name);
            removed = true;
        }
    }
    if removed {
        io.sync_dir(dir).map_err(|e| StorageError::io("fsync dir", dir, e))?;
    }
    Ok(logs)
}

/// Writes Kafka 4.x's `partition.metadata` (`version: 0` and the topic id) if it is missing.
fn write_partition_metadata(ctx: &LogContext, dir: &Path, topic_id: &str) -> Result<()> {
    let path: PathBuf = dir.join(PARTITION_METADATA);
    if ctx.io.metadata(&path).map_err(|e| StorageError::io("stat", &path, e))?.is_some() {
        return Ok(());
    }
    let body = format!("version: 0\ntopic_id: {topic_id}\n");
    let mut tmp = path.clone().into_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let f = ctx.io.open(&tmp, OpenMode::Truncate).map_err(|e| StorageError::io("create", &tmp, e))?;
    f.write_all_at(body.as_bytes(), 0).map_err(|e| StorageError::io("write", &tmp, e))?;
    f.sync_data().map_err(|e| StorageError::io("fdatasync", &tmp, e))?;
    ctx.io.rename(&tmp, &path).map_err(|e| StorageError::io("rename", &tmp, e))?;
    ctx.io.sync_dir(dir).map_err(|e| StorageError::io("fsync dir", dir, e))?;
    Ok(())
}
