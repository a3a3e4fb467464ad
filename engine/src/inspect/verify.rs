//! Read-only verification of a data directory or a partition directory.
//!
//! It checks, without changing a byte: every batch (framing, CRC, records), offsets contiguous
//! across segments, the sparse indexes against the batches they point at, producer state
//! rebuilt by replay against every `.snapshot`, every `.txnindex` against the markers (with
//! Kafka's rule for the stored LSO), the leader-epoch checkpoint against the batches, the
//! checkpoints against the log ends, and the coordinator's state (`__transaction_state`,
//! `__consumer_offsets`) against the data partitions: no transaction is open in a partition that
//! the coordinator does not know about, and no transactional offsets wait for a transaction that
//! is not open.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::batch::{self, Frame, RecordBatch};
use crate::error::{Error, Result, StorageError};
use crate::inspect::dump::read_file;
use crate::log::partition::{TopicPartition, batch_info};
use crate::producer::{AppendOrigin, ProducerStateConfig, ProducerStateManager, decode_snapshot};
use crate::segment::{AbortedTxn, parse_stem};
use crate::topics::{CONSUMER_OFFSETS_TOPIC, TRANSACTION_STATE_TOPIC};
use crate::txn::{TransactionState, TxnLogRecord, read_record};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth knowing; nothing is wrong.
    Info,
    /// Unusual but harmless or repaired at open (a missing index, an untrimmed index, a leftover
    /// file, a torn tail after a crash is an error though).
    Warning,
    /// Data is damaged or inconsistent.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One thing the verifier found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How bad.
    pub severity: Severity,
    /// The file (or directory) concerned.
    pub path: PathBuf,
    /// What was found.
    pub message: String,
}

/// The verifier's result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Findings, in the order found.
    pub findings: Vec<Finding>,
    /// Partitions checked.
    pub partitions: usize,
    /// Segments checked.
    pub segments: usize,
    /// Batches checked.
    pub batches: u64,
    /// Records declared by those batches.
    pub records: u64,
    /// Bytes of `.log` data checked.
    pub bytes: u64,
    /// Snapshots compared with the replayed producer state.
    pub snapshots: usize,
    /// Transaction-index entries checked.
    pub txn_index_entries: usize,
}

impl VerifyReport {
    /// True when nothing of severity `Error` was found.
    pub fn ok(&self) -> bool {
        self.errors() == 0
    }

    /// Number of errors.
    pub fn errors(&self) -> usize {
        self.findings.iter().filter(|f| f.severity == Severity::Error).count()
    }

    /// Number of warnings.
    pub fn warnings(&self) -> usize {
        self.findings.iter().filter(|f| f.severity == Severity::Warning).count()
    }

    fn add(&mut self, severity: Severity, path: &Path, message: impl Into<String>) {
        self.findings.push(Finding { severity, path: path.to_path_buf(), message: message.into() });
    }
}

/// What the verifier learned about one partition, for the cross-partition checks.
#[derive(Debug, Default)]
struct PartitionSummary {
    log_end: i64,
    log_start: i64,
    /// Producer id → first offset of its open transaction.
    open_txns: BTreeMap<i64, i64>,
    /// For `__transaction_state` / `__consumer_offsets`: every non-control batch's records.
    batches: Vec<Vec<u8>>,
}

/// Verifies a data directory (with partition subdirectories) or a single partition directory.
/// Fails only when `path` is not a log directory at all; everything found inside is a finding.
pub fn verify_path(path: &Path) -> Result<VerifyReport> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| StorageError::io("stat", path, e))?;
    if !meta.is_dir() {
        return Err(not_a_log(path, "not a directory"));
    }
    let entries: Vec<std::fs::DirEntry> = std::fs::read_dir(path)
        .map_err(|e| StorageError::io("read_dir", path, e))?
        .filter_map(|e| e.ok())
        .collect();
    let has_logs = entries.iter().any(|e| e.file_name().to_string_lossy().ends_with(".log"));
    let mut report = VerifyReport::default();
    if has_logs {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let tp = TopicPartition::parse_dir_name(name).unwrap_or_else(|| TopicPartition::new(name, 0));
        verify_partition(path, &tp, &mut report)?;
        return Ok(report);
    }
    let mut partitions: BTreeMap<TopicPartition, PathBuf> = BTreeMap::new();
    for e in &entries {
        let name = e.file_name().to_string_lossy().into_owned();
        if !e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            continue;
        }
        if name.ends_with(crate::topics::DELETE_DIR_SUFFIX) {
            report.add(
                Severity::Warning,
                &e.path(),
                "leftover of a deleted topic (removed at the next open)",
            );
            continue;
        }
        match TopicPartition::parse_dir_name(&name) {
            Some(tp) if crate::topics::validate_name(&tp.topic).is_ok() => {
                partitions.insert(tp, e.path());
            }
            _ => report.add(Severity::Warning, &e.path(), "not a partition directory; ignored"),
        }
    }
    let known_files = entries.iter().any(|e| {
        let n = e.file_name().to_string_lossy().into_owned();
        n == crate::log::checkpoint::RECOVERY_POINT_CHECKPOINT
            || n == crate::topics::TOPICS_FILE
            || n == crate::engine::CLEAN_SHUTDOWN_FILE
    });
    if partitions.is_empty() && !known_files {
        return Err(not_a_log(path, "no partition directories and no eoslog/Kafka checkpoint files"));
    }
    let clean = path.join(crate::engine::CLEAN_SHUTDOWN_FILE).exists();
    report.add(
        Severity::Info,
        path,
        if clean { "cleanly shut down" } else { "not cleanly shut down (or still open): open will recover" },
    );
    let mut summaries = BTreeMap::new();
    for (tp, dir) in &partitions {
        let s = verify_partition(dir, tp, &mut report)?;
        summaries.insert(tp.clone(), s);
    }
    verify_checkpoints(path, &summaries, &mut report);
    verify_coordinators(path, &summaries, &mut report);
    Ok(report)
}

fn not_a_log(path: &Path, why: &str) -> Error {
    StorageError::Corrupt {
        path: path.to_path_buf(),
        detail: format!("not an eoslog or Kafka log directory: {why}"),
    }
    .into()
}

/// Where a batch of a segment is and what its index entries must say about it.
#[derive(Debug, Clone, Copy)]
struct Loc {
    position: u64,
    last: i64,
    max_ts: i64,
}

fn verify_partition(dir: &Path, tp: &TopicPartition, report: &mut VerifyReport) -> Result<PartitionSummary> {
    report.partitions += 1;
    let mut summary = PartitionSummary::default();
    let mut bases = BTreeSet::new();
    let mut snapshots = BTreeSet::new();
    let mut files = BTreeSet::new();
    for e in std::fs::read_dir(dir).map_err(|e| StorageError::io("read_dir", dir, e))?.filter_map(|e| e.ok())
    {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        if !e.file_type().map(|t| t.is_file()).unwrap_or(false) {
            report.add(Severity::Warning, &path, "unexpected non-file entry in a partition directory");
            continue;
        }
        files.insert(name.clone());
        if let Some(stem) = name.strip_suffix(".log") {
            match parse_stem(stem) {
                Some(b) => {
                    bases.insert(b);
                }
                None => report.add(Severity::Warning, &path, "log file name is not a 20-digit offset"),
            }
        } else if let Some(stem) = name.strip_suffix(".snapshot") {
            if let Some(o) = parse_stem(stem) {
                snapshots.insert(o);
            }
        } else if name.ends_with(".deleted")
            || name.ends_with(".tmp")
            || name.ends_with(".cleaned")
            || name.ends_with(".swap")
        {
            report.add(
                Severity::Warning,
                &path,
                "leftover of an interrupted operation (removed at the next open)",
            );
        } else if ![".index", ".timeindex", ".txnindex"].iter().any(|s| name.ends_with(s))
            && name != crate::log::checkpoint::LEADER_EPOCH_CHECKPOINT
            && name != crate::log::load::PARTITION_METADATA
        {
            report.add(Severity::Warning, &path, "unknown file");
        }
    }
    for name in &files {
        for suffix in [".index", ".timeindex", ".txnindex"] {
            if let Some(stem) = name.strip_suffix(suffix)
                && parse_stem(stem).is_some_and(|b| !bases.contains(&b))
            {
                report.add(
                    Severity::Warning,
                    &dir.join(name),
                    "index without a log segment (removed at the next open)",
                );
            }
        }
    }
    summary.log_start = bases.iter().next().copied().unwrap_or(0);

    let mut producers = ProducerStateManager::new(ProducerStateConfig {
        producer_id_expiration_ms: i64::MAX,
        transaction_verification_enable: false,
    });
    let mut expected_txn: BTreeMap<i64, Vec<AbortedTxn>> = BTreeMap::new();
    let mut pending_snapshots: Vec<i64> = snapshots.iter().copied().collect();
    let mut next_expected: Option<i64> = None;
    let mut epochs_seen: Vec<(i32, i64)> = Vec::new();
    let base_list: Vec<i64> = bases.iter().copied().collect();
    let keep_records = tp.topic == TRANSACTION_STATE_TOPIC || tp.topic == CONSUMER_OFFSETS_TOPIC;

    for (si, &base) in base_list.iter().enumerate() {
        report.segments += 1;
        let log_path = dir.join(format!("{}.log", crate::segment::file_stem(base)));
        let bytes = read_file(&log_path)?;
        report.bytes += bytes.len() as u64;
        let mut locs: Vec<Loc> = Vec::new();
        let mut pos = 0usize;
        while pos < bytes.len() {
            let rest = &bytes[pos..];
            let size = match batch::frame(rest) {
                Frame::Complete(n) => n,
                Frame::Incomplete { .. } | Frame::Invalid(_) => {
                    // Preallocated, never-written space is zeros: not damage.
                    if rest.iter().all(|b| *b == 0) {
                        report.add(
                            Severity::Info,
                            &log_path,
                            format!("{} zero bytes of preallocated space at the end", rest.len()),
                        );
                    } else {
                        report.add(
                            Severity::Error,
                            &log_path,
                            format!("invalid or incomplete data at position {pos} ({} bytes to the end): recovery would cut here", rest.len()),
                        );
                    }
                    break;
                }
            };
            let b = match RecordBatch::parse(&rest[..size]).and_then(|b| b.validate().map(|()| b)) {
                Ok(b) => b,
                Err(e) => {
                    report.add(Severity::Error, &log_path, format!("batch at position {pos}: {e}"));
                    break;
                }
            };
            report.batches += 1;
            report.records += b.records_count().max(0) as u64;
            if b.base_offset() < base || b.last_offset() - base > i32::MAX as i64 {
                report.add(
                    Severity::Error,
                    &log_path,
                    format!(
                        "batch offsets {}..={} do not belong in segment {base}",
                        b.base_offset(),
                        b.last_offset()
                    ),
                );
            }
            if let Some(n) = next_expected {
                if b.base_offset() < n {
                    report.add(
                        Severity::Error,
                        &log_path,
                        format!(
                            "batch at offset {} overlaps the previous batch (expected ≥ {n})",
                            b.base_offset()
                        ),
                    );
                } else if b.base_offset() > n {
                    report.add(
                        Severity::Warning,
                        &log_path,
                        format!("gap in offsets: {n}..{}", b.base_offset()),
                    );
                }
            } else if si == 0 && b.base_offset() > base {
                report.add(
                    Severity::Info,
                    &log_path,
                    format!("log starts at offset {} inside segment {base}", b.base_offset()),
                );
            }
            next_expected = Some(b.next_offset());
            if b.partition_leader_epoch() >= 0
                && epochs_seen.last().is_none_or(|(e, _)| *e < b.partition_leader_epoch())
            {
                epochs_seen.push((b.partition_leader_epoch(), b.base_offset()));
            }
            // Snapshots taken at offsets up to this batch's base describe the state before it.
            while pending_snapshots.first().is_some_and(|s| *s <= b.base_offset()) {
                let s = pending_snapshots.remove(0);
                compare_snapshot(dir, s, &producers, report);
            }
            replay_batch(&b, &mut producers, &mut expected_txn, &base_list, report, &log_path);
            if keep_records && !b.is_control() {
                summary.batches.push(rest[..size].to_vec());
            }
            locs.push(Loc { position: pos as u64, last: b.last_offset(), max_ts: b.max_timestamp() });
            pos += size;
        }
        if let Some(&next_base) = base_list.get(si + 1)
            && let Some(n) = next_expected
            && n > next_base
        {
            report.add(
                Severity::Error,
                &log_path,
                format!("segment ends at offset {n}, past the next segment's base {next_base}"),
            );
        }
        verify_offset_index(dir, base, &locs, report);
        verify_time_index(dir, base, &locs, report);
    }
    summary.log_end = next_expected.unwrap_or(summary.log_start);
    for s in pending_snapshots {
        if s == summary.log_end {
            compare_snapshot(dir, s, &producers, report);
        } else {
            report.add(
                Severity::Warning,
                &dir.join(format!("{}.snapshot", crate::segment::file_stem(s))),
                "snapshot beyond the log end (deleted at the next open)",
            );
        }
    }
    verify_txn_indexes(dir, &base_list, &expected_txn, report);
    verify_leader_epochs(dir, &epochs_seen, report);
    for t in producers.ongoing_transactions() {
        summary.open_txns.insert(t.producer_id, t.first_offset);
    }
    Ok(summary)
}

/// Applies a stored batch to producer state (replication origin, like recovery) and records the
/// `.txnindex` entry Kafka would write for an aborted transaction.
fn replay_batch(
    b: &RecordBatch<'_>,
    producers: &mut ProducerStateManager,
    expected_txn: &mut BTreeMap<i64, Vec<AbortedTxn>>,
    bases: &[i64],
    report: &mut VerifyReport,
    path: &Path,
) {
    if b.has_producer_id() && !(b.is_control() && matches!(b.end_txn_marker(), Ok(None))) {
        let info = match batch_info(b, 1) {
            Ok(i) => i,
            Err(e) => {
                report.add(Severity::Error, path, format!("batch at offset {}: {e}", b.base_offset()));
                return;
            }
        };
        let mut append = producers.prepare_update(info.producer_id, AppendOrigin::Replication);
        match append.append(&info, None) {
            Ok(completed) => {
                producers.update(append);
                if let Some(txn) = completed {
                    if txn.is_aborted {
                        let lso = producers.last_stable_offset(&txn);
                        let seg = bases.iter().copied().filter(|s| *s <= txn.last_offset).max().unwrap_or(0);
                        expected_txn.entry(seg).or_default().push(AbortedTxn {
                            producer_id: txn.producer_id,
                            first_offset: txn.first_offset,
                            last_offset: txn.last_offset,
                            last_stable_offset: lso,
                        });
                    }
                    producers.complete_txn(&txn);
                }
            }
            Err(e) => report.add(
                Severity::Error,
                path,
                format!("batch at offset {} breaks producer-state rules: {e}", b.base_offset()),
            ),
        }
    }
    producers.update_map_end_offset(b.last_offset() + 1);
    producers.on_high_watermark_updated(b.last_offset() + 1);
}

fn compare_snapshot(dir: &Path, offset: i64, producers: &ProducerStateManager, report: &mut VerifyReport) {
    let path = dir.join(format!("{}.snapshot", crate::segment::file_stem(offset)));
    let entries = match read_file(&path).map(|b| decode_snapshot(&b)) {
        Ok(Ok(e)) => e,
        Ok(Err(e)) => {
            // Damage, even though open recovers from it (it discards the snapshot and
            // rebuilds the producer state from an older one by replaying the log).
            report.add(
                Severity::Error,
                &path,
                format!("damaged snapshot ({e}); open would discard it and rebuild from an older one"),
            );
            return;
        }
        Err(e) => {
            report.add(Severity::Error, &path, e.to_string());
            return;
        }
    };
    report.snapshots += 1;
    let replayed: HashMap<i64, crate::producer::SnapshotEntry> =
        producers.snapshot_entries().into_iter().map(|e| (e.producer_id, e)).collect();
    for e in &entries {
        match replayed.get(&e.producer_id) {
            Some(r) if r == e => {}
            Some(r) => report.add(
                Severity::Error,
                &path,
                format!("producer {}: snapshot has {e:?}, the log replays to {r:?}", e.producer_id),
            ),
            None => report.add(
                Severity::Error,
                &path,
                format!(
                    "producer {} is in the snapshot but not in the log before offset {offset}",
                    e.producer_id
                ),
            ),
        }
    }
    let in_file: BTreeSet<i64> = entries.iter().map(|e| e.producer_id).collect();
    for pid in replayed.keys().filter(|p| !in_file.contains(p)) {
        report.add(
            Severity::Warning,
            &path,
            format!("producer {pid} of the log is not in the snapshot (expired?)"),
        );
    }
}

fn verify_offset_index(dir: &Path, base: i64, locs: &[Loc], report: &mut VerifyReport) {
    let path = dir.join(format!("{}.index", crate::segment::file_stem(base)));
    let Ok(bytes) = read_file(&path) else {
        report.add(Severity::Warning, &path, "missing offset index (rebuilt at the next open)");
        return;
    };
    if bytes.len() % 8 != 0 {
        report.add(Severity::Warning, &path, format!("length {} is not a multiple of 8", bytes.len()));
    }
    let by_pos: HashMap<u64, &Loc> = locs.iter().map(|l| (l.position, l)).collect();
    let mut prev = None;
    for (i, e) in bytes.chunks_exact(8).enumerate() {
        let rel = i32::from_be_bytes(e[0..4].try_into().expect("4"));
        let pos = u32::from_be_bytes(e[4..8].try_into().expect("4")) as u64;
        if rel == 0 && pos == 0 {
            // The unused, zero-filled part of an index that was not trimmed (crash).
            if e.iter().all(|b| *b == 0) && bytes[i * 8..].iter().all(|b| *b == 0) {
                report.add(
                    Severity::Warning,
                    &path,
                    "index not trimmed (unclean shutdown); rebuilt at the next open",
                );
                break;
            }
        }
        let offset = base + rel as i64;
        if prev.is_some_and(|p| offset <= p) {
            report.add(Severity::Error, &path, format!("entry {i}: offset {offset} does not increase"));
        }
        prev = Some(offset);
        match by_pos.get(&pos) {
            Some(l) if l.last == offset => {}
            Some(l) => report.add(
                Severity::Error,
                &path,
                format!("entry {i}: offset {offset} maps to the batch at {pos} which ends at {}", l.last),
            ),
            None => report.add(
                Severity::Error,
                &path,
                format!("entry {i}: position {pos} is not the start of a batch"),
            ),
        }
    }
}

fn verify_time_index(dir: &Path, base: i64, locs: &[Loc], report: &mut VerifyReport) {
    let path = dir.join(format!("{}.timeindex", crate::segment::file_stem(base)));
    let Ok(bytes) = read_file(&path) else {
        report.add(Severity::Warning, &path, "missing time index (rebuilt at the next open)");
        return;
    };
    let mut prev_ts = i64::MIN;
    for (i, e) in bytes.chunks_exact(12).enumerate() {
        if e.iter().all(|b| *b == 0) && bytes[i * 12..].iter().all(|b| *b == 0) {
            report.add(
                Severity::Warning,
                &path,
                "time index not trimmed (unclean shutdown); rebuilt at the next open",
            );
            break;
        }
        let ts = i64::from_be_bytes(e[0..8].try_into().expect("8"));
        let offset = base + i32::from_be_bytes(e[8..12].try_into().expect("4")) as i64;
        if ts <= prev_ts {
            report.add(Severity::Error, &path, format!("entry {i}: timestamp {ts} does not increase"));
        }
        prev_ts = ts;
        // Kafka's rule: (largest timestamp so far, last offset of the batch holding it).
        let running_max = locs.iter().filter(|l| l.last <= offset).map(|l| l.max_ts).max();
        let holder = locs.iter().any(|l| l.last == offset && l.max_ts == ts);
        if !holder || running_max != Some(ts) {
            report.add(
                Severity::Error,
                &path,
                format!(
                    "entry {i}: ({ts}, {offset}) is not the largest timestamp so far at a batch's last offset"
                ),
            );
        }
    }
}

fn verify_txn_indexes(
    dir: &Path,
    bases: &[i64],
    expected: &BTreeMap<i64, Vec<AbortedTxn>>,
    report: &mut VerifyReport,
) {
    for &base in bases {
        let path = dir.join(format!("{}.txnindex", crate::segment::file_stem(base)));
        let want = expected.get(&base).cloned().unwrap_or_default();
        let have: Vec<AbortedTxn> = match std::fs::symlink_metadata(&path) {
            Err(_) => Vec::new(),
            Ok(_) => match read_file(&path) {
                Ok(bytes) => {
                    if bytes.len() % AbortedTxn::SIZE != 0 {
                        report.add(
                            Severity::Error,
                            &path,
                            format!("length {} is not a multiple of 34", bytes.len()),
                        );
                    }
                    bytes
                        .chunks_exact(AbortedTxn::SIZE)
                        .filter_map(|c| AbortedTxn::from_bytes(c.try_into().expect("34")).ok())
                        .collect()
                }
                Err(e) => {
                    report.add(Severity::Error, &path, e.to_string());
                    continue;
                }
            },
        };
        report.txn_index_entries += have.len();
        if have.len() != want.len() {
            report.add(
                Severity::Error,
                &path,
                format!(
                    "{} aborted-transaction entries, the markers in the log call for {}",
                    have.len(),
                    want.len()
                ),
            );
        }
        for (h, w) in have.iter().zip(&want) {
            if (h.producer_id, h.first_offset, h.last_offset)
                != (w.producer_id, w.first_offset, w.last_offset)
            {
                report.add(
                    Severity::Error,
                    &path,
                    format!("entry {h:?} does not match the aborted transaction {w:?} in the log"),
                );
            } else if h.last_stable_offset > w.last_stable_offset {
                report.add(
                    Severity::Error,
                    &path,
                    format!("entry for producer {} stores LSO {} above Kafka's {}: a read could stop collecting aborted transactions too early", h.producer_id, h.last_stable_offset, w.last_stable_offset),
                );
            } else if h.last_stable_offset < w.last_stable_offset {
                report.add(
                    Severity::Info,
                    &path,
                    format!(
                        "entry for producer {} stores LSO {} below Kafka's {} (harmless: extra scanning)",
                        h.producer_id, h.last_stable_offset, w.last_stable_offset
                    ),
                );
            }
        }
    }
}

fn verify_leader_epochs(dir: &Path, seen: &[(i32, i64)], report: &mut VerifyReport) {
    let path = dir.join(crate::log::checkpoint::LEADER_EPOCH_CHECKPOINT);
    let Ok(bytes) = read_file(&path) else {
        if !seen.is_empty() {
            report.add(Severity::Warning, &path, "missing leader-epoch checkpoint");
        }
        return;
    };
    let entries = match crate::log::checkpoint::parse_checkpoint::<
        crate::log::checkpoint::LeaderEpochCheckpointFormat,
    >(&path, &bytes)
    {
        Ok(e) => e,
        Err(e) => {
            report.add(Severity::Error, &path, e.to_string());
            return;
        }
    };
    let file: Vec<(i32, i64)> = entries.iter().map(|e| (e.epoch, e.start_offset)).collect();
    for (epoch, start) in seen {
        if !file.iter().any(|(e, s)| e == epoch && s <= start) {
            report.add(
                Severity::Error,
                &path,
                format!("epoch {epoch} (first batch at offset {start}) is missing"),
            );
        }
    }
}

fn verify_checkpoints(
    dir: &Path,
    parts: &BTreeMap<TopicPartition, PartitionSummary>,
    report: &mut VerifyReport,
) {
    use crate::log::checkpoint::{OffsetCheckpointFormat, parse_checkpoint};
    for (name, what) in [
        (crate::log::checkpoint::RECOVERY_POINT_CHECKPOINT, "recovery point"),
        (crate::log::checkpoint::LOG_START_OFFSET_CHECKPOINT, "log start offset"),
    ] {
        let path = dir.join(name);
        let Ok(bytes) = read_file(&path) else { continue };
        match parse_checkpoint::<OffsetCheckpointFormat>(&path, &bytes) {
            Err(e) => report.add(Severity::Error, &path, e.to_string()),
            Ok(entries) => {
                for ((topic, partition), offset) in entries {
                    match parts.get(&TopicPartition::new(topic.clone(), partition)) {
                        Some(s) if offset > s.log_end => report.add(
                            Severity::Error,
                            &path,
                            format!("{what} {offset} of {topic}-{partition} is beyond its log end {}: flushed data is missing", s.log_end),
                        ),
                        Some(_) => {}
                        None => report.add(Severity::Warning, &path, format!("{topic}-{partition} has no directory")),
                    }
                }
            }
        }
    }
}

/// A record of an internal topic with the batch fields the checks need.
struct InternalRecord {
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    offset: i64,
    transactional: bool,
    producer_id: i64,
}

fn records_of(batches: &[Vec<u8>]) -> Vec<InternalRecord> {
    let mut out = Vec::new();
    for bytes in batches {
        let Ok(b) = RecordBatch::parse(bytes) else { continue };
        let Ok(records) = b.records() else { continue };
        for r in records.iter().flatten() {
            out.push(InternalRecord {
                key: r.key.map(<[u8]>::to_vec),
                value: r.value.map(<[u8]>::to_vec),
                offset: r.offset,
                transactional: b.is_transactional(),
                producer_id: b.producer_id(),
            });
        }
    }
    out
}

/// Cross-checks the coordinators' logs with the data partitions.
fn verify_coordinators(
    dir: &Path,
    parts: &BTreeMap<TopicPartition, PartitionSummary>,
    report: &mut VerifyReport,
) {
    // Transaction coordinator: final state of every transactional id.
    let mut txns: HashMap<String, crate::txn::TxnTransitMetadata> = HashMap::new();
    let txn_tp = TopicPartition::new(TRANSACTION_STATE_TOPIC, 0);
    let txn_path = dir.join(txn_tp.dir_name());
    if let Some(s) = parts.get(&txn_tp) {
        for InternalRecord { key, value, offset, .. } in records_of(&s.batches) {
            let Some(key) = key else { continue };
            match read_record(&key, value.as_deref()) {
                Ok(TxnLogRecord::Transaction { transactional_id, value }) => {
                    txns.insert(transactional_id, value.to_transit());
                }
                Ok(TxnLogRecord::Tombstone { transactional_id }) => {
                    txns.remove(&transactional_id);
                }
                Ok(_) => {}
                Err(e) => report.add(Severity::Error, &txn_path, format!("record at offset {offset}: {e}")),
            }
        }
    }
    let live: Vec<&crate::txn::TxnTransitMetadata> = txns
        .values()
        .filter(|t| {
            matches!(
                t.txn_state,
                TransactionState::Ongoing | TransactionState::PrepareCommit | TransactionState::PrepareAbort
            )
        })
        .collect();
    if parts.contains_key(&txn_tp) {
        for (tp, s) in parts {
            for (pid, first) in &s.open_txns {
                let known = live.iter().any(|t| {
                    t.producer_id == *pid
                        && t.topic_partitions
                            .iter()
                            .any(|p| p.topic == tp.topic && p.partition == tp.partition)
                });
                if !known {
                    report.add(
                        Severity::Error,
                        &dir.join(tp.dir_name()),
                        format!("producer {pid} has a transaction open since offset {first} that the coordinator does not know: it would hang (LSO stuck)"),
                    );
                }
            }
        }
    }
    // Offset store: every record decodes; committed offsets are within their partitions.
    let off_tp = TopicPartition::new(CONSUMER_OFFSETS_TOPIC, 0);
    let off_path = dir.join(off_tp.dir_name());
    if let Some(s) = parts.get(&off_tp) {
        for InternalRecord { key, value, offset, transactional, producer_id: pid } in records_of(&s.batches) {
            let Some(key) = key else { continue };
            match crate::offsets::decode_key(&key) {
                Ok(crate::offsets::OffsetsKey::OffsetCommit(k)) => {
                    let Some(v) = value else { continue };
                    match crate::offsets::OffsetCommitValue::decode(&v) {
                        Ok(v) => {
                            if let Some(p) = parts.get(&TopicPartition::new(k.topic.clone(), k.partition))
                                && v.offset > p.log_end
                            {
                                report.add(
                                    Severity::Warning,
                                    &off_path,
                                    format!(
                                        "group {} committed offset {} for {}-{} beyond its log end {}",
                                        k.group, v.offset, k.topic, k.partition, p.log_end
                                    ),
                                );
                            }
                        }
                        Err(e) => {
                            report.add(Severity::Error, &off_path, format!("record at offset {offset}: {e}"))
                        }
                    }
                    if transactional
                        && s.open_txns.contains_key(&pid)
                        && !live.iter().any(|t| t.producer_id == pid)
                    {
                        report.add(Severity::Error, &off_path, format!("transactional offsets of producer {pid} wait for a transaction the coordinator does not know"));
                    }
                }
                Ok(crate::offsets::OffsetsKey::GroupMetadata { group }) => {
                    if let Some(v) = value
                        && let Err(e) = crate::offsets::GroupMetadataValue::decode(&v)
                    {
                        report.add(
                            Severity::Error,
                            &off_path,
                            format!("group {group} metadata at offset {offset}: {e}"),
                        );
                    }
                }
                Ok(crate::offsets::OffsetsKey::Unknown(_)) => {}
                Err(e) => {
                    report.add(Severity::Error, &off_path, format!("record key at offset {offset}: {e}"))
                }
            }
        }
    }
}
