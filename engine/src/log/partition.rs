//! One partition's log: the append and read paths, offsets, rolling, truncation.
//!
//! Locking: `inner` (the writer lock) serialises every mutation — appends, rolls, truncation,
//! retention, producer state. Readers never take it: they read the offsets from atomics (the
//! high watermark once per read, KAFKA-9807) and the segment list from a copy-on-write `Arc`.
//! The append path follows Kafka's `UnifiedLog.append`: validate the batch → validate the
//! producer state against a staged copy → on a duplicate return the original offsets and write
//! nothing → assign offsets and stamp the leader epoch → write → advance the log end offset →
//! commit the staged producer state, `.txnindex` entries and LSO → wait for durability.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use parking_lot::{Mutex, RwLock};

use crate::batch::{self, EndTxnMarker, RecordBatch};
use crate::clock::Clock;
use crate::config::{Durability, TimestampType, TopicConfig};
use crate::error::{Error, Result, StorageError};
use crate::io::IoBackend;
use crate::log::fetch::{
    AbortedTransaction, AppendInfo, FetchData, FetchedRecords, IsolationLevel, OffsetSpec, TimestampAndOffset,
};
use crate::log::group_commit::GroupCommit;
use crate::log::leader_epoch::LeaderEpochCache;
use crate::log::notify::{ReadWaiter, ReadWaiters};
use crate::log::snapshots::SnapshotFiles;
use crate::producer::{
    AppendOrigin, BatchInfo, ControlMarker, OngoingTxn, ProducerStateConfig, ProducerStateEntry,
    ProducerStateManager, VerificationGuard,
};
use crate::segment::{AbortedTxn, LogSegment, SegmentConfig};

/// A topic name and partition number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
}

impl TopicPartition {
    /// A topic partition.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition { topic: topic.into(), partition }
    }

    /// Kafka's directory name, `<topic>-<partition>`.
    pub fn dir_name(&self) -> String {
        format!("{}-{}", self.topic, self.partition)
    }

    /// Parses a directory name (`topic-3`); the topic may itself contain dashes.
    pub fn parse_dir_name(name: &str) -> Option<TopicPartition> {
        let (topic, p) = name.rsplit_once('-')?;
        if topic.is_empty() || p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 9 {
            return None;
        }
        Some(TopicPartition { topic: topic.to_string(), partition: p.parse().ok()? })
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// How a batch reaches the log, and the extra context some origins carry.
#[derive(Debug, Clone, Default)]
pub struct AppendOptions {
    /// Who is appending (client checks, coordinator checks, or none for replication).
    pub origin: Origin,
    /// KIP-890 part 1: the verification guard the embedder obtained before the first
    /// transactional write of this producer to this partition.
    pub verification_guard: Option<VerificationGuard>,
    /// For markers: the transaction protocol version (1 = classic, 2 = KIP-890 epoch bump).
    pub transaction_version: u8,
}

/// Append origin (Kafka's `AppendOrigin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Origin {
    /// A producer: every check.
    #[default]
    Client,
    /// The transaction or group coordinator (markers, offset commits): epoch checks only.
    Coordinator,
    /// A replica copying the leader: no checks, offsets kept.
    Replication,
}

impl From<Origin> for AppendOrigin {
    fn from(o: Origin) -> Self {
        match o {
            Origin::Client => AppendOrigin::Client,
            Origin::Coordinator => AppendOrigin::Coordinator,
            Origin::Replication => AppendOrigin::Replication,
        }
    }
}

/// Engine-wide settings and services a partition uses.
#[derive(Debug, Clone)]
pub(crate) struct LogContext {
    pub io: Arc<dyn IoBackend>,
    pub clock: Arc<dyn Clock>,
    pub durability: Durability,
    pub external_high_watermark: bool,
    pub producer_config: ProducerStateConfig,
    pub group_commit: Arc<GroupCommit>,
    pub truncate_corrupt_below_recovery_point: bool,
    /// Serialises writes of the data directory's offset checkpoints (the engine's periodic
    /// write and a truncation lowering its own entry).
    pub checkpoint_lock: Arc<Mutex<()>>,
}

/// Offsets readers look at without the writer lock.
#[derive(Debug)]
pub(super) struct Offsets {
    pub log_start: AtomicI64,
    pub log_end: AtomicI64,
    pub high_watermark: AtomicI64,
    pub last_stable: AtomicI64,
    /// Everything below this offset is durable.
    pub durable: AtomicI64,
}

/// State only the writer touches (under `PartitionLog::inner`).
#[derive(Debug)]
pub(super) struct LogInner {
    pub producers: ProducerStateManager,
    pub epochs: LeaderEpochCache,
    /// The leader epoch stamped on leader appends.
    pub leader_epoch: i32,
    /// Offset below which the log is known to be flushed (persisted in the checkpoint).
    pub recovery_point: i64,
    /// Reused buffer for the batch being appended (its header is rewritten in place).
    pub scratch: Vec<u8>,
    /// Time of the last producer-expiry pass.
    pub last_expiry_check_ms: i64,
}

/// The segments, by base offset.
pub(super) type SegmentMap = BTreeMap<i64, Arc<LogSegment>>;

/// One partition's log.
#[derive(Debug)]
pub struct PartitionLog {
    pub(super) tp: TopicPartition,
    pub(super) dir: PathBuf,
    pub(super) ctx: LogContext,
    pub(super) config: RwLock<Arc<TopicConfig>>,
    pub(super) inner: Mutex<LogInner>,
    pub(super) segments: RwLock<Arc<SegmentMap>>,
    pub(super) offsets: Offsets,
    pub(super) snapshots: SnapshotFiles,
    pub(super) failure: Mutex<Option<String>>,
    pub(super) closed: AtomicBool,
    /// Readers blocked until the visible end moves (woken from [`Self::recompute_lso`]).
    pub(super) waiters: ReadWaiters,
}

/// A summary of one partition for listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionStats {
    /// Log start offset.
    pub log_start_offset: i64,
    /// Log end offset.
    pub log_end_offset: i64,
    /// High watermark.
    pub high_watermark: i64,
    /// Last stable offset.
    pub last_stable_offset: i64,
    /// Number of segments.
    pub segments: usize,
    /// Total bytes of all `.log` files.
    pub size_bytes: u64,
    /// Producers with state.
    pub producers: usize,
    /// Open transactions.
    pub ongoing_transactions: usize,
}

impl PartitionLog {
    /// The topic and partition.
    pub fn topic_partition(&self) -> &TopicPartition {
        &self.tp
    }

    /// The partition directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The topic configuration in force.
    pub fn config(&self) -> Arc<TopicConfig> {
        self.config.read().clone()
    }

    /// First offset still in the log.
    pub fn log_start_offset(&self) -> i64 {
        self.offsets.log_start.load(Ordering::Acquire)
    }

    /// Offset the next record will get.
    pub fn log_end_offset(&self) -> i64 {
        self.offsets.log_end.load(Ordering::Acquire)
    }

    /// Offsets below this are visible to `read_uncommitted` readers. With local high watermarks
    /// this is the log end offset, or with `durability=always` the durable offset.
    pub fn high_watermark(&self) -> i64 {
        self.offsets.high_watermark.load(Ordering::Acquire)
    }

    /// Offsets below this are visible to `read_committed` readers: the smaller of the high
    /// watermark and the first offset of the oldest undecided transaction.
    pub fn last_stable_offset(&self) -> i64 {
        self.offsets.last_stable.load(Ordering::Acquire)
    }

    /// Everything below this offset has been made durable.
    pub fn durable_offset(&self) -> i64 {
        self.offsets.durable.load(Ordering::Acquire)
    }

    /// The first offset of the oldest transaction that is not yet decided and replicated,
    /// bounded below by the log start offset (a transaction may have started in data that
    /// `delete_records` or retention removed), as Kafka's `firstUnstableOffset`.
    pub fn first_unstable_offset(&self) -> Option<i64> {
        let inner = self.inner.lock();
        inner.producers.first_unstable_offset().map(|o| o.max(self.log_start_offset()))
    }

    /// Why the partition refuses writes, if it does.
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().clone()
    }

    fn now(&self) -> i64 {
        self.ctx.clock.now_ms()
    }

    /// Marks the partition offline after a failed write or fsync and returns the error to
    /// report. The first failure wins and sticks until the partition is reopened: after a
    /// failed write-back the kernel may have dropped dirty pages, so nothing written since the
    /// last successful sync can be trusted (fsyncgate).
    pub(crate) fn fail(&self, err: Error) -> Error {
        let mut f = self.failure.lock();
        if f.is_none() {
            log::error!("partition {} is now offline: {err}", self.tp);
            *f = Some(err.to_string());
        }
        err
    }

    pub(super) fn check_writable(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StorageError::Closed(format!("partition {}", self.tp)).into());
        }
        if let Some(cause) = self.failure.lock().clone() {
            return Err(StorageError::Offline { partition: self.tp.to_string(), cause }.into());
        }
        Ok(())
    }

    /// Whether the partition was closed (by [`crate::Engine::close`] or because its topic was
    /// deleted); a closed partition refuses every operation.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StorageError::Closed(format!("partition {}", self.tp)).into());
        }
        Ok(())
    }

    pub(super) fn segment_config(config: &TopicConfig) -> SegmentConfig {
        SegmentConfig {
            index_interval_bytes: config.index_interval_bytes,
            max_index_bytes: config.segment_index_bytes,
            segment_bytes: config.segment_bytes,
            preallocate: config.preallocate,
        }
    }

    pub(super) fn active_segment(&self) -> Arc<LogSegment> {
        let segs = self.segments.read();
        segs.values().next_back().expect("a log always has an active segment").clone()
    }

    /// The segment list as readers see it.
    pub fn segment_base_offsets(&self) -> Vec<i64> {
        self.segments.read().keys().copied().collect()
    }

    /// Counters for listings and monitoring.
    pub fn stats(&self) -> PartitionStats {
        let segs = self.segments.read().clone();
        let inner = self.inner.lock();
        PartitionStats {
            log_start_offset: self.log_start_offset(),
            log_end_offset: self.log_end_offset(),
            high_watermark: self.high_watermark(),
            last_stable_offset: self.last_stable_offset(),
            segments: segs.len(),
            size_bytes: segs.values().map(|s| s.size()).sum(),
            producers: inner.producers.producer_count(),
            ongoing_transactions: inner.producers.ongoing_transactions().len(),
        }
    }

    // ------------------------------------------------------------------ append

    /// Appends a batch from a producer (all of Kafka's client checks) and returns where it
    /// went. With `durability=always` the call returns once the batch is durable.
    pub fn append(self: &Arc<Self>, batch: &[u8]) -> Result<AppendInfo> {
        self.append_with(batch, &AppendOptions::default())
    }

    /// Appends a batch with an explicit origin (client, coordinator or replication without
    /// offset reassignment — see [`PartitionLog::append_as_follower`]) and, for the first
    /// transactional write of a producer, its verification guard.
    pub fn append_with(self: &Arc<Self>, batch: &[u8], opts: &AppendOptions) -> Result<AppendInfo> {
        let info = self.append_inner(batch, opts, true)?;
        // A duplicate is acknowledged under the same condition as its original: the original
        // may still be waiting for its fsync, and answering the retry earlier would acknowledge
        // bytes a crash can take back. (Returns at once when they are already durable.)
        self.wait_durable(info.last_offset + 1)?;
        Ok(info)
    }

    /// Appends a batch exactly as the leader wrote it (replication): offsets and leader epoch
    /// are kept, producer state is updated without checks, and the batch's base offset must not
    /// be below the log end offset (it may be above: gaps are allowed, as in Kafka).
    pub fn append_as_follower(self: &Arc<Self>, batch: &[u8]) -> Result<AppendInfo> {
        let opts = AppendOptions { origin: Origin::Replication, ..Default::default() };
        let info = self.append_inner(batch, &opts, false)?;
        self.wait_durable(info.last_offset + 1)?;
        Ok(info)
    }

    /// Writes a transaction marker (COMMIT or ABORT) for a producer, as the transaction
    /// coordinator does at the end of a transaction (coordinator origin).
    pub fn append_marker(
        self: &Arc<Self>,
        producer_id: i64,
        producer_epoch: i16,
        coordinator_epoch: i32,
        commit: bool,
        transaction_version: u8,
    ) -> Result<AppendInfo> {
        let marker = EndTxnMarker { commit, coordinator_epoch };
        let bytes = marker.build_batch(producer_id, producer_epoch, self.now());
        let opts = AppendOptions { origin: Origin::Coordinator, transaction_version, ..Default::default() };
        self.append_with(&bytes, &opts)
    }

    /// Validates a batch before taking any lock: framing, size limit, full record validation,
    /// and who may write control batches.
    fn validate_incoming(&self, bytes: &[u8], opts: &AppendOptions, config: &TopicConfig) -> Result<()> {
        if bytes.len() > config.max_message_bytes as usize {
            return Err(Error::MessageTooLarge { size: bytes.len(), max: config.max_message_bytes as usize });
        }
        // Kafka's LogValidator: one v2 batch per append; a second whole batch is INVALID_RECORD
        // (bytes after the batch that do not frame as one stay CORRUPT_MESSAGE).
        if let batch::Frame::Complete(n) = batch::frame(bytes)
            && n < bytes.len()
            && matches!(batch::frame(&bytes[n..]), batch::Frame::Complete(_))
        {
            return Err(
                crate::error::BatchError::InvalidRecord("more than one batch in one append".into()).into()
            );
        }
        let batch = RecordBatch::parse(bytes)?;
        batch.validate()?;
        if batch.is_control() && opts.origin == Origin::Client {
            return Err(Error::ControlBatchFromClient);
        }
        if batch.is_control() && batch.end_txn_marker()?.is_none() && opts.origin != Origin::Replication {
            return Err(Error::InvalidRequest(
                "only COMMIT and ABORT control batches can be appended".into(),
            ));
        }
        if opts.origin != Origin::Replication && config.timestamp_type == TimestampType::CreateTime {
            self.validate_timestamps(&batch, config)?;
        }
        Ok(())
    }

    /// `message.timestamp.after.max.ms` / `before.max.ms` for CreateTime topics.
    fn validate_timestamps(&self, batch: &RecordBatch<'_>, config: &TopicConfig) -> Result<()> {
        let now = self.now();
        if batch.is_control() {
            return Ok(());
        }
        let max_ts = batch.max_timestamp();
        if max_ts >= 0 && max_ts.saturating_sub(now) > config.timestamp_after_max_ms {
            return Err(Error::InvalidTimestamp(format!(
                "timestamp {max_ts} is more than {} ms after now ({now})",
                config.timestamp_after_max_ms
            )));
        }
        if config.timestamp_before_max_ms != i64::MAX {
            for r in batch.records()?.iter() {
                let ts = r?.timestamp;
                if now.saturating_sub(ts) > config.timestamp_before_max_ms {
                    return Err(Error::InvalidTimestamp(format!(
                        "timestamp {ts} is more than {} ms before now ({now})",
                        config.timestamp_before_max_ms
                    )));
                }
            }
        }
        Ok(())
    }

    fn append_inner(&self, input: &[u8], opts: &AppendOptions, assign_offsets: bool) -> Result<AppendInfo> {
        self.check_writable()?;
        let config = self.config();
        self.validate_incoming(input, opts, &config)?;

        let mut inner = self.inner.lock();
        self.check_writable()?;
        let mut scratch = std::mem::take(&mut inner.scratch);
        scratch.clear();
        scratch.extend_from_slice(input);
        let result = self.append_locked(&mut inner, &mut scratch, opts, assign_offsets, &config);
        inner.scratch = scratch;
        result
    }

    fn append_locked(
        &self,
        inner: &mut LogInner,
        bytes: &mut [u8],
        opts: &AppendOptions,
        assign_offsets: bool,
        config: &TopicConfig,
    ) -> Result<AppendInfo> {
        let log_end = self.log_end_offset();
        let now = self.now();
        let mut log_append_time = -1;
        if assign_offsets {
            batch::set_base_offset(bytes, log_end);
            batch::set_partition_leader_epoch(bytes, inner.leader_epoch);
            if config.timestamp_type == TimestampType::LogAppendTime
                && !RecordBatch::parse(bytes)?.is_control()
            {
                batch::set_log_append_time(bytes, now);
                log_append_time = now;
            }
        }
        let batch = RecordBatch::parse(bytes)?;
        // Kafka's follower rule (UnexpectedAppendOffsetException): a replicated batch may not
        // start below the log end; it may start above it (a leader's compacted or
        // non-batch-aligned log leaves gaps).
        if !assign_offsets && batch.base_offset() < log_end {
            return Err(Error::InvalidRequest(format!(
                "replicated batch starts at offset {} but the log ends at {log_end}",
                batch.base_offset()
            )));
        }
        let first_offset = batch.base_offset();
        let last_offset = batch.last_offset();
        let max_timestamp = batch.max_timestamp();

        // Producer state: duplicates and validation against a staged copy (KAFKA-6683).
        let mut staged = None;
        let mut completed = None;
        if batch.has_producer_id() {
            let info = batch_info(&batch, opts.transaction_version)?;
            if opts.origin == Origin::Client
                && let Some(dup) = inner.producers.find_duplicate(&info)
            {
                return Ok(AppendInfo {
                    first_offset: dup.first_offset(),
                    last_offset: dup.last_offset,
                    log_append_time: if config.timestamp_type == TimestampType::LogAppendTime {
                        dup.timestamp
                    } else {
                        -1
                    },
                    log_start_offset: self.log_start_offset(),
                    duplicate: true,
                    record_count: batch.records_count(),
                });
            }
            let mut append_info = inner.producers.prepare_update(info.producer_id, opts.origin.into());
            completed = append_info.append(&info, opts.verification_guard.as_ref())?;
            staged = Some(append_info);
        }

        self.maybe_roll(inner, bytes.len() as u32, max_timestamp, first_offset, last_offset, config)?;
        let segment = self.active_segment();
        segment.append(last_offset, max_timestamp, bytes).map_err(|e| self.fail(e))?;
        // The log end offset advances at once, before the producer state (KAFKA-7866): a reader
        // bounded by the high watermark or LSO never sees past what those allow anyway.
        self.offsets.log_end.store(last_offset + 1, Ordering::Release);
        if batch.partition_leader_epoch() >= 0
            && batch.partition_leader_epoch() > inner.epochs.latest_epoch().unwrap_or(-1)
        {
            inner.epochs.assign(batch.partition_leader_epoch(), first_offset).map_err(|e| self.fail(e))?;
        }

        if let Some(append_info) = staged {
            inner.producers.update(append_info);
        }
        if let Some(txn) = completed {
            let lso = inner.producers.last_stable_offset(&txn);
            if txn.is_aborted {
                let entry = AbortedTxn {
                    producer_id: txn.producer_id,
                    first_offset: txn.first_offset,
                    last_offset: txn.last_offset,
                    last_stable_offset: lso,
                };
                // If the index write fails, the LSO and map end offset stay put (KAFKA-7866)
                // and the partition goes offline; recovery rebuilds the index from the log.
                segment.append_aborted_txn(&entry).map_err(|e| self.fail(e))?;
            }
            inner.producers.complete_txn(&txn);
        }
        inner.producers.update_map_end_offset(last_offset + 1);
        self.update_local_high_watermark(inner);
        Ok(AppendInfo {
            first_offset,
            last_offset,
            log_append_time,
            log_start_offset: self.log_start_offset(),
            duplicate: false,
            record_count: batch.records_count(),
        })
    }

    /// With local high watermarks and no durability wait, the high watermark follows the log
    /// end offset; with `durability=always` it follows the durable offset instead (advanced by
    /// group commit), so a reader never sees what a crash could take back.
    pub(super) fn update_local_high_watermark(&self, inner: &mut LogInner) {
        if self.ctx.external_high_watermark {
            self.recompute_lso(inner);
            return;
        }
        let target = if self.ctx.durability == Durability::Always {
            self.durable_offset()
        } else {
            self.log_end_offset()
        };
        self.set_high_watermark_locked(inner, target);
    }

    pub(super) fn set_high_watermark_locked(&self, inner: &mut LogInner, hw: i64) {
        let hw = hw.clamp(self.log_start_offset(), self.log_end_offset());
        self.offsets.high_watermark.store(hw, Ordering::Release);
        inner.producers.on_high_watermark_updated(hw);
        self.recompute_lso(inner);
    }

    fn recompute_lso(&self, inner: &mut LogInner) {
        let hw = self.high_watermark();
        let lso = match inner.producers.first_unstable_offset() {
            Some(first) if first < hw => first.max(self.log_start_offset()),
            _ => hw,
        };
        self.offsets.last_stable.store(lso, Ordering::Release);
        // Every change of the high watermark or LSO ends here: wake blocked readers.
        self.waiters.notify_all();
    }

    /// Sets the high watermark (the minimum log end offset of the in-sync replicas) when an
    /// embedder replicates (`high.watermark = external`). Clamped to `[log start, log end]`.
    pub fn update_high_watermark(&self, hw: i64) -> Result<i64> {
        self.check_open()?;
        if !self.ctx.external_high_watermark {
            return Err(Error::InvalidRequest(
                "the high watermark is managed by the engine; open it with high.watermark=external".into(),
            ));
        }
        let mut inner = self.inner.lock();
        self.set_high_watermark_locked(&mut inner, hw);
        Ok(self.high_watermark())
    }

    /// Sets the leader epoch stamped on leader appends from now on.
    pub fn set_leader_epoch(&self, epoch: i32) -> Result<()> {
        if epoch < 0 {
            return Err(Error::InvalidRequest(format!("leader epoch {epoch} is negative")));
        }
        self.inner.lock().leader_epoch = epoch;
        Ok(())
    }

    /// The leader epoch stamped on appends.
    pub fn leader_epoch(&self) -> i32 {
        self.inner.lock().leader_epoch
    }

    /// Kafka's OffsetsForLeaderEpoch: the largest epoch ≤ `epoch` and the end offset of that
    /// epoch (the start offset of the next one, or the log end offset for the latest).
    /// `(-1, -1)` when unknown.
    pub fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        let inner = self.inner.lock();
        inner.epochs.end_offset_for(epoch, self.log_end_offset())
    }

    /// The `(epoch, start offset)` entries of the leader-epoch cache.
    pub fn leader_epochs(&self) -> Vec<(i32, i64)> {
        self.inner.lock().epochs.entries().iter().map(|e| (e.epoch, e.start_offset)).collect()
    }

    fn maybe_roll(
        &self,
        inner: &mut LogInner,
        incoming: u32,
        max_timestamp: i64,
        first_offset: i64,
        last_offset: i64,
        config: &TopicConfig,
    ) -> Result<()> {
        let active = self.active_segment();
        let max_age = config.segment_ms.saturating_sub(self.roll_jitter(config));
        if active.should_roll(incoming, max_timestamp, last_offset, config.segment_bytes, max_age, self.now())
            && let Err(e) = self.roll(inner, first_offset)
        {
            let e = self.fail(e);
            self.discard_unsynced_locked(&active);
            return Err(e);
        }
        Ok(())
    }

    /// Deterministic per-partition jitter in `[0, segment.jitter.ms)` so partitions created
    /// together do not all roll at once.
    fn roll_jitter(&self, config: &TopicConfig) -> i64 {
        if config.segment_jitter_ms <= 0 {
            return 0;
        }
        let h = self
            .tp
            .to_string()
            .bytes()
            .fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3));
        (h % config.segment_jitter_ms as u64) as i64
    }

    /// Rolls to a new active segment starting at `new_base`: the old segment gets its final
    /// time-index entry and trimmed indexes and is flushed, a producer snapshot is taken at the
    /// new base, the new segment's files are created and the directory is fsynced.
    pub(super) fn roll(&self, inner: &mut LogInner, new_base: i64) -> Result<()> {
        let old = self.active_segment();
        if old.base_offset() == new_base && old.size() == 0 {
            return Ok(());
        }
        old.on_become_inactive()?;
        old.flush()?;
        let config = self.config();
        let segment = LogSegment::create(
            self.ctx.io.clone(),
            &self.dir,
            new_base,
            Self::segment_config(&config),
            self.now(),
        )?;
        self.snapshots.write(new_base, &inner.producers.snapshot_entries())?;
        self.ctx.io.sync_dir(&self.dir).map_err(|e| StorageError::io("fsync dir", &self.dir, e))?;
        {
            let mut segs = self.segments.write();
            let mut map = (**segs).clone();
            map.insert(new_base, Arc::new(segment));
            *segs = Arc::new(map);
        }
        // Everything before the new segment is now flushed.
        self.offsets.durable.fetch_max(new_base, Ordering::AcqRel);
        inner.recovery_point = inner.recovery_point.max(new_base);
        log::debug!("rolled {} to a new segment at offset {new_base}", self.tp);
        Ok(())
    }

    /// Forces a roll now (Kafka's `UnifiedLog.roll`), e.g. before handing a segment to tiered
    /// storage. A no-op if the active segment is empty.
    pub fn force_roll(&self) -> Result<()> {
        self.check_writable()?;
        let mut inner = self.inner.lock();
        let leo = self.log_end_offset();
        let active = self.active_segment();
        self.roll(&mut inner, leo).map_err(|e| {
            let e = self.fail(e);
            self.discard_unsynced_locked(&active);
            e
        })
    }

    // ------------------------------------------------------------ durability

    /// Blocks until everything below `offset` is durable, when the durability policy requires
    /// it (`always`); otherwise returns at once.
    fn wait_durable(self: &Arc<Self>, offset: i64) -> Result<()> {
        if self.ctx.durability != Durability::Always {
            return Ok(());
        }
        self.ctx.group_commit.wait_durable(self, offset)
    }

    /// What a sync must cover: the log end offset first, then the active segment and its
    /// size. The order matters: every byte below the offset read first is either in the active
    /// segment read second (and within the size read third) or in an older segment that was
    /// flushed at its roll.
    pub(crate) fn sync_target(&self) -> (i64, Arc<LogSegment>, u64) {
        let leo = self.log_end_offset();
        let segment = self.active_segment();
        let size = segment.size();
        (leo, segment, size)
    }

    /// After a failed sync of `segment`'s data: cuts the bytes not known to be durable (see
    /// [`LogSegment::discard_unsynced`]). The partition is offline already.
    pub(crate) fn discard_unsynced(&self, segment: &LogSegment) {
        let _inner = self.inner.lock();
        self.discard_unsynced_locked(segment);
    }

    /// [`Self::discard_unsynced`] with the writer lock held.
    pub(super) fn discard_unsynced_locked(&self, segment: &LogSegment) {
        match segment.discard_unsynced() {
            Ok(0) => {}
            Ok(n) => log::warn!(
                "{}: cut {n} bytes of segment {} that a failed sync may not have written",
                self.tp,
                segment.base_offset()
            ),
            Err(e) => log::error!("{}: cannot cut the bytes a failed sync did not write: {e}", self.tp),
        }
    }

    /// Records that everything below `offset` is durable (called by group commit after a
    /// successful fdatasync) and advances a local high watermark that follows durability.
    pub(crate) fn mark_durable(&self, offset: i64) {
        let prev = self.offsets.durable.fetch_max(offset, Ordering::AcqRel);
        if offset > prev && self.ctx.durability == Durability::Always && !self.ctx.external_high_watermark {
            let mut inner = self.inner.lock();
            self.update_local_high_watermark(&mut inner);
        }
    }

    /// Blocks until every batch appended so far is durable (its data, through group commit;
    /// indexes are derived and rebuilt by recovery). This is what makes an append durable under
    /// `durability=none` or `interval`.
    pub fn sync(self: &Arc<Self>) -> Result<()> {
        self.check_open()?;
        if let Some(cause) = self.failure() {
            return Err(StorageError::Offline { partition: self.tp.to_string(), cause }.into());
        }
        let leo = self.log_end_offset();
        self.ctx.group_commit.wait_durable(self, leo)
    }

    /// Makes everything written so far durable: the active segment's data and indexes.
    pub fn flush(self: &Arc<Self>) -> Result<()> {
        self.sync()?;
        let active = self.active_segment();
        if let Err(e) = active.flush() {
            let e = self.fail(e);
            self.discard_unsynced(&active);
            return Err(e);
        }
        let mut inner = self.inner.lock();
        inner.recovery_point = inner.recovery_point.max(self.durable_offset());
        Ok(())
    }

    /// The recovery point (everything below it was flushed).
    pub fn recovery_point(&self) -> i64 {
        self.inner.lock().recovery_point
    }

    // ------------------------------------------------------------------ read

    /// Reads whole batches from `offset` up to `max_bytes` (at least one batch when any is
    /// visible), bounded by the isolation level: the log end offset, the high watermark, or the
    /// last stable offset. For `read_committed` the aborted transactions overlapping the
    /// returned range are included, collected from the `.txnindex` files as Kafka does.
    /// Every returned batch has passed its CRC check.
    pub fn read(&self, offset: i64, max_bytes: u32, isolation: IsolationLevel) -> Result<FetchData> {
        self.check_open()?;
        if max_bytes == 0 {
            return Err(Error::kafka(
                crate::error::ErrorCode::InvalidFetchSize,
                "max_bytes must be positive",
            ));
        }
        // Read the high watermark and LSO once (KAFKA-9807).
        let high_watermark = self.high_watermark();
        let last_stable_offset = self.last_stable_offset().min(high_watermark);
        let log_start_offset = self.log_start_offset();
        let log_end_offset = self.log_end_offset();
        let bound = match isolation {
            IsolationLevel::LogEnd => log_end_offset,
            IsolationLevel::ReadUncommitted => high_watermark,
            IsolationLevel::ReadCommitted => last_stable_offset,
        };
        if offset < log_start_offset || offset > log_end_offset {
            return Err(Error::OffsetOutOfRange { offset, log_start_offset, log_end_offset });
        }
        let mut data = FetchData {
            records: FetchedRecords::empty(),
            high_watermark,
            last_stable_offset,
            log_start_offset,
            log_end_offset,
            aborted_transactions: (isolation == IsolationLevel::ReadCommitted).then(Vec::new),
        };
        if offset >= bound {
            return Ok(data);
        }
        let segments = self.segments.read().clone();
        let start_base = segments.range(..=offset).next_back().map(|(b, _)| *b).unwrap_or(log_start_offset);
        let mut read = None;
        for (_, segment) in segments.range(start_base..) {
            if let Some(r) = segment.read(offset, max_bytes, bound, true)? {
                read = Some(r);
                break;
            }
        }
        let Some(read) = read else { return Ok(data) };
        verify_crcs(&read.bytes, &self.tp)?;
        if isolation == IsolationLevel::ReadCommitted {
            data.aborted_transactions =
                Some(collect_aborted(&segments, start_base, offset, read.next_offset)?);
        }
        data.records = FetchedRecords::new(read.file, read.position, read.bytes);
        Ok(data)
    }

    /// ListOffsets: the offset for a timestamp or one of the special specs. `None` when no
    /// record qualifies. Results are bounded by the high watermark, as a consumer sees them.
    pub fn list_offset(&self, spec: OffsetSpec) -> Result<Option<TimestampAndOffset>> {
        self.check_open()?;
        let epoch_at = |offset: i64| {
            let inner = self.inner.lock();
            inner.epochs.epoch_for_offset(offset)
        };
        let hw = self.high_watermark();
        let answer = match spec {
            OffsetSpec::Earliest => {
                let o = self.log_start_offset();
                Some(TimestampAndOffset { timestamp: -1, offset: o, leader_epoch: epoch_at(o) })
            }
            OffsetSpec::Latest(isolation) => {
                let o = match isolation {
                    IsolationLevel::LogEnd => self.log_end_offset(),
                    IsolationLevel::ReadUncommitted => hw,
                    IsolationLevel::ReadCommitted => self.last_stable_offset(),
                };
                Some(TimestampAndOffset { timestamp: -1, offset: o, leader_epoch: epoch_at(o) })
            }
            OffsetSpec::MaxTimestamp => {
                let segments = self.segments.read().clone();
                let mut best: Option<(i64, i64, Arc<LogSegment>)> = None;
                for s in segments.values() {
                    let (ts, off) = s.max_timestamp_and_offset();
                    if off >= 0 && off < hw && best.as_ref().is_none_or(|b| ts > b.0) {
                        best = Some((ts, off, s.clone()));
                    }
                }
                match best {
                    None => None,
                    Some((ts, batch_last, seg)) => {
                        // The exact record holding the max timestamp inside its batch.
                        let start =
                            seg.translate_offset(batch_last)?.map(|l| l.base_offset).unwrap_or(batch_last);
                        let exact =
                            seg.find_offset_by_timestamp(ts, start)?.map(|(_, o)| o).unwrap_or(batch_last);
                        Some(TimestampAndOffset {
                            timestamp: ts,
                            offset: exact,
                            leader_epoch: epoch_at(exact),
                        })
                    }
                }
            }
            OffsetSpec::Timestamp(ts) => {
                let segments = self.segments.read().clone();
                let start = self.log_start_offset();
                let mut found = None;
                for s in segments.values() {
                    if s.largest_timestamp() < ts {
                        continue;
                    }
                    if let Some((t, o)) = s.find_offset_by_timestamp(ts, start)? {
                        found = Some((t, o));
                        break;
                    }
                }
                found.filter(|(_, o)| *o < hw).map(|(t, o)| TimestampAndOffset {
                    timestamp: t,
                    offset: o,
                    leader_epoch: epoch_at(o),
                })
            }
        };
        Ok(answer)
    }

    /// Registers a reader's waiter: it is notified whenever the high watermark or the last
    /// stable offset of this partition moves (see [`crate::log::notify`]). Register before
    /// the first read.
    pub fn register_waiter(&self, waiter: &Arc<ReadWaiter>) {
        self.waiters.register(waiter);
    }

    /// Removes a waiter registered with [`Self::register_waiter`].
    pub fn unregister_waiter(&self, waiter: &Arc<ReadWaiter>) {
        self.waiters.unregister(waiter);
    }

    // ------------------------------------------------------------ producer state

    /// The producer-state entry of a producer id, if the partition has one.
    pub fn producer_state(&self, producer_id: i64) -> Option<ProducerStateEntry> {
        self.inner.lock().producers.last_entry(producer_id).cloned()
    }

    /// Every producer with state in this partition.
    pub fn producers(&self) -> Vec<ProducerStateEntry> {
        self.inner.lock().producers.active_producers().cloned().collect()
    }

    /// Open transactions (first offset and age), oldest first, so an embedder can find hanging
    /// ones.
    pub fn ongoing_transactions(&self) -> Vec<OngoingTxn> {
        self.inner.lock().producers.ongoing_transactions()
    }

    /// KIP-890 part 1: registers a verification guard for a producer that is about to make its
    /// first transactional write to this partition; the embedder passes it back in
    /// [`AppendOptions::verification_guard`] once the coordinator confirmed the partition is in
    /// the transaction.
    pub fn create_verification_guard(
        &self,
        producer_id: i64,
        sequence: i32,
        epoch: i16,
    ) -> VerificationGuard {
        // The registration's age is measured on the engine's clock, like producer expiry.
        let now = self.now();
        self.inner.lock().producers.maybe_create_verification_guard_at(
            producer_id,
            sequence,
            epoch,
            false,
            now,
        )
    }

    /// Removes producers idle longer than `producer.id.expiration.ms` that have no open
    /// transaction; returns how many were removed.
    pub fn remove_expired_producers(&self) -> usize {
        let now = self.now();
        let mut inner = self.inner.lock();
        inner.last_expiry_check_ms = now;
        inner.producers.remove_expired_producers(now)
    }

    /// Runs [`PartitionLog::remove_expired_producers`] if the check interval has passed.
    pub(crate) fn maybe_expire_producers(&self, interval_ms: i64) -> usize {
        let now = self.now();
        let due = {
            let inner = self.inner.lock();
            now - inner.last_expiry_check_ms >= interval_ms
        };
        if due { self.remove_expired_producers() } else { 0 }
    }
}

/// Extracts what the producer state needs from a batch header (and marker record).
pub(crate) fn batch_info(batch: &RecordBatch<'_>, transaction_version: u8) -> Result<BatchInfo> {
    let control = if batch.is_control() {
        batch.end_txn_marker()?.map(|m| ControlMarker {
            commit: m.commit,
            coordinator_epoch: m.coordinator_epoch,
            transaction_version: transaction_version.max(1),
        })
    } else {
        None
    };
    Ok(BatchInfo {
        producer_id: batch.producer_id(),
        producer_epoch: batch.producer_epoch(),
        base_sequence: batch.base_sequence(),
        last_sequence: batch.last_sequence(),
        first_offset: batch.base_offset(),
        last_offset: batch.last_offset(),
        max_timestamp: batch.max_timestamp(),
        is_transactional: batch.is_transactional(),
        control,
        record_count: batch.records_count(),
    })
}

/// Checks every batch's CRC before bytes leave the engine: a record whose CRC does not match is
/// never returned.
fn verify_crcs(bytes: &[u8], tp: &TopicPartition) -> Result<()> {
    for b in batch::batches(bytes) {
        let b = b?;
        if !b.is_crc_valid() {
            return Err(StorageError::Corrupt {
                path: PathBuf::from(tp.dir_name()),
                detail: format!("batch at offset {} failed its CRC check on read", b.base_offset()),
            }
            .into());
        }
    }
    Ok(())
}

/// Kafka's `collectAbortedTransactions`: scan the `.txnindex` of every segment from the one
/// holding `fetch_offset` onward, taking entries that overlap `[fetch_offset, upper_bound)`,
/// and stop at the first entry whose stored LSO is at or past the upper bound — every
/// transaction aborted later started at or after that LSO.
fn collect_aborted(
    segments: &SegmentMap,
    start_base: i64,
    fetch_offset: i64,
    upper_bound: i64,
) -> Result<Vec<AbortedTransaction>> {
    let mut out = Vec::new();
    for (_, segment) in segments.range(start_base..) {
        let r = segment.collect_aborted_txns(fetch_offset, upper_bound)?;
        out.extend(
            r.aborted
                .iter()
                .map(|t| AbortedTransaction { producer_id: t.producer_id, first_offset: t.first_offset }),
        );
        if r.is_complete {
            break;
        }
    }
    out.sort();
    Ok(out)
}
