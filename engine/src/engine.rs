//! The engine: one data directory holding many partitions.
//!
//! [`Engine::open`] locks the directory (a second opener, in this process or another, gets
//! [`StorageError::Locked`]), opens every partition — recovering those that were not cleanly
//! shut down — and starts one background thread for periodic work (interval flushes, retention,
//! producer expiry, recovery-point checkpoints). [`Engine::close`] flushes everything, writes
//! the checkpoints and the clean-shutdown marker, and stops the thread.
//!
//! The engine is `Send + Sync` and cheap to clone: appends to different partitions proceed in
//! parallel and reads never wait for appends.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock};

use crate::config::{Durability, EngineConfig, TopicConfig};
use crate::error::{Error, Result, StorageError};
use crate::group::{ConsumerGroupMetadata, GroupConfig, GroupCoordinator};
use crate::io::{self, DirLock, FileType, IoBackend, IoKind, OpenMode};
use crate::log::checkpoint::{LOG_START_OFFSET_CHECKPOINT, OffsetCheckpointFile, RECOVERY_POINT_CHECKPOINT};
use crate::log::group_commit::GroupCommit;
use crate::log::load::{OpenParams, PartitionRecovery};
use crate::log::partition::{LogContext, PartitionLog, TopicPartition};
use crate::log::{AppendInfo, AppendOptions};
use crate::offsets::OffsetStore;
use crate::producer::ProducerStateConfig;
use crate::topics::{self, CONSUMER_OFFSETS_TOPIC, TRANSACTION_STATE_TOPIC, TopicMetadata};
use crate::txn::{
    CoordinatorConfig, MarkerWriter, TransactionCoordinator, TransactionVersion, TxnTopicPartition,
};

/// Marker file written at clean shutdown (removed at open).
pub const CLEAN_SHUTDOWN_FILE: &str = ".eoslog_cleanshutdown";

/// What opening the data directory found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The previous run closed the engine cleanly.
    pub clean_shutdown: bool,
    /// Per-partition findings, for every partition.
    pub partitions: Vec<PartitionRecovery>,
    /// Time taken to open.
    pub duration: Duration,
    /// Leftover directories of deleted topics that were removed.
    pub removed_directories: Vec<String>,
}

impl RecoveryReport {
    /// Partitions where recovery cut or rebuilt something.
    pub fn changed(&self) -> impl Iterator<Item = &PartitionRecovery> {
        self.partitions.iter().filter(|p| p.changed_anything())
    }

    /// Total bytes truncated across partitions.
    pub fn truncated_bytes(&self) -> u64 {
        self.partitions.iter().map(|p| p.truncated_bytes).sum()
    }
}

/// A topic as listed by [`Engine::topics`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDescription {
    /// Name.
    pub name: String,
    /// Number of partitions.
    pub partitions: i32,
    /// Kafka topic id (base64).
    pub topic_id: String,
    /// Whether eoslog owns it (`__transaction_state`, `__consumer_offsets`).
    pub internal: bool,
    /// Its configuration.
    pub config: TopicConfig,
}

#[derive(Debug)]
struct Topic {
    meta: TopicMetadata,
    config: Arc<TopicConfig>,
    partitions: Vec<Arc<PartitionLog>>,
}

#[derive(Debug)]
struct Background {
    stop: Arc<(Mutex<bool>, Condvar)>,
    handle: JoinHandle<()>,
}

#[derive(Debug)]
pub(crate) struct EngineInner {
    dir: PathBuf,
    config: EngineConfig,
    io: Arc<dyn IoBackend>,
    ctx: LogContext,
    topics: RwLock<BTreeMap<String, Topic>>,
    /// Serialises topic creation and deletion (and the metadata file).
    admin: Mutex<()>,
    recovery: RecoveryReport,
    closed: AtomicBool,
    background: Mutex<Option<Background>>,
    /// Set once at open, after the partitions are loaded (the coordinator writes markers
    /// through the engine).
    txn: OnceLock<Arc<TransactionCoordinator>>,
    offsets: OnceLock<Arc<OffsetStore>>,
    groups: OnceLock<Arc<GroupCoordinator>>,
    /// The directory lock; released by `shutdown`, so a closed engine never blocks a reopen.
    lock: Mutex<Option<Box<dyn DirLock>>>,
}

/// An open data directory. Clone it freely; all clones share the same engine, which closes
/// (cleanly, as [`Engine::close`] does) when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Engine {
    /// Owns the engine's lifetime for users: dropping the last clone shuts the engine down at
    /// once, on the dropping thread. `None` for the engine's own internal views, which must
    /// never close it. Declared first so it drops while `inner` is still alive.
    _user: Option<Arc<UserHandle>>,
    inner: Arc<EngineInner>,
}

/// Shuts the engine down when the last user-held [`Engine`] goes away. A plain `Drop` on the
/// shared state would run only when every internal reference is gone too — possibly on the
/// background thread, after the caller already tried to reopen the directory.
#[derive(Debug)]
struct UserHandle {
    inner: Weak<EngineInner>,
}

impl Drop for UserHandle {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade()
            && let Err(e) = inner.shutdown()
        {
            log::error!("closing the engine on drop: {e}");
        }
    }
}

impl Engine {
    /// Opens (creating if needed) the data directory `dir`.
    pub fn open(dir: impl AsRef<Path>, config: EngineConfig) -> Result<Engine> {
        let io = io::backend_for(config.io_choice(), config.permissions)
            .map_err(|e| StorageError::io("initialise I/O backend", dir.as_ref(), e))?;
        Self::open_with_backend(dir, config, io)
    }

    /// Opens `dir` with a given I/O backend (tests use the fault-injecting one).
    pub fn open_with_backend(
        dir: impl AsRef<Path>,
        config: EngineConfig,
        io: Arc<dyn IoBackend>,
    ) -> Result<Engine> {
        let started = Instant::now();
        let dir = dir.as_ref().to_path_buf();
        match io.metadata(&dir).map_err(|e| StorageError::io("stat", &dir, e))? {
            Some(FileType::Dir) => {}
            Some(_) => {
                return Err(StorageError::Corrupt {
                    path: dir,
                    detail: "the data directory path is not a directory".into(),
                }
                .into());
            }
            None => {
                io.create_dir_all(&dir).map_err(|e| StorageError::io("mkdir", &dir, e))?;
                if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                    io.sync_dir(parent).map_err(|e| StorageError::io("fsync dir", parent, e))?;
                }
            }
        }
        let lock = io.lock_dir(&dir).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock => StorageError::Locked(dir.clone()),
            _ => StorageError::io("lock", &dir, e),
        })?;
        let clean_marker = dir.join(CLEAN_SHUTDOWN_FILE);
        let clean_shutdown =
            io.metadata(&clean_marker).map_err(|e| StorageError::io("stat", &clean_marker, e))?.is_some();
        let recovery_points =
            OffsetCheckpointFile::new(io.clone(), dir.join(RECOVERY_POINT_CHECKPOINT)).read()?;
        let log_starts =
            OffsetCheckpointFile::new(io.clone(), dir.join(LOG_START_OFFSET_CHECKPOINT)).read()?;
        let mut metadata = topics::read(&io, &dir)?;
        let mut report = RecoveryReport { clean_shutdown, ..Default::default() };

        let ctx = LogContext {
            io: io.clone(),
            clock: config.clock.clone(),
            durability: config.durability,
            external_high_watermark: config.external_high_watermark,
            producer_config: ProducerStateConfig {
                producer_id_expiration_ms: config.producer_id_expiration_ms,
                transaction_verification_enable: config.transaction_verification_enable,
            },
            group_commit: Arc::new(GroupCommit::new(io.clone())),
            truncate_corrupt_below_recovery_point: config.truncate_corrupt_below_recovery_point,
            checkpoint_lock: Arc::new(Mutex::new(())),
        };

        // Partition directories on disk, including ones not in the metadata file (a Kafka
        // partition directory copied in, or a crash between creating a directory and writing
        // the metadata).
        let mut found: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for entry in io.read_dir(&dir).map_err(|e| StorageError::io("read_dir", &dir, e))? {
            if entry.file_type != FileType::Dir {
                continue;
            }
            if entry.name.ends_with(topics::DELETE_DIR_SUFFIX) {
                topics::remove_dir_recursive(io.as_ref(), &dir.join(&entry.name))?;
                report.removed_directories.push(entry.name.clone());
                continue;
            }
            match TopicPartition::parse_dir_name(&entry.name) {
                Some(tp)
                    if topics::validate_name(&tp.topic).is_ok() && tp.partition < topics::MAX_PARTITIONS =>
                {
                    found.entry(tp.topic).or_default().push(tp.partition)
                }
                _ => log::warn!("ignoring {} in the data directory: not a partition directory", entry.name),
            }
        }
        for (topic, parts) in &found {
            let max = parts.iter().copied().max().unwrap_or(0);
            let meta = metadata
                .entry(topic.clone())
                .or_insert_with(|| TopicMetadata::new(topic, max + 1, &config.topic_defaults));
            meta.partitions = meta.partitions.max(max + 1);
        }

        let mut loaded = BTreeMap::new();
        for (name, meta) in &metadata {
            let topic_config = Arc::new(meta.config(&config.topic_defaults)?);
            let mut partitions = Vec::with_capacity(meta.partitions as usize);
            for p in 0..meta.partitions {
                let tp = TopicPartition::new(name.clone(), p);
                let key = (name.clone(), p);
                let params = OpenParams {
                    clean_shutdown,
                    recovery_point: recovery_points.get(&key).copied().unwrap_or(0),
                    log_start_offset: log_starts.get(&key).copied(),
                    create: true,
                    topic_id: Some(meta.topic_id.clone()),
                };
                let (log, rec) = PartitionLog::open(
                    &dir.join(tp.dir_name()),
                    tp,
                    topic_config.clone(),
                    ctx.clone(),
                    params,
                )?;
                if rec.changed_anything() {
                    log::warn!(
                        "recovered {}: truncated {} bytes, deleted segments {:?}, rebuilt indexes {:?}",
                        rec.partition,
                        rec.truncated_bytes,
                        rec.deleted_segments,
                        rec.rebuilt_indexes
                    );
                }
                report.partitions.push(rec);
                partitions.push(log);
            }
            loaded.insert(name.clone(), Topic { meta: meta.clone(), config: topic_config, partitions });
        }
        topics::write(&io, &dir, &metadata)?;
        if clean_shutdown {
            io.remove_file(&clean_marker).map_err(|e| StorageError::io("remove", &clean_marker, e))?;
            io.sync_dir(&dir).map_err(|e| StorageError::io("fsync dir", &dir, e))?;
        }
        report.duration = started.elapsed();
        let inner = Arc::new(EngineInner {
            dir,
            config,
            io,
            ctx,
            topics: RwLock::new(loaded),
            admin: Mutex::new(()),
            recovery: report,
            closed: AtomicBool::new(false),
            background: Mutex::new(None),
            txn: OnceLock::new(),
            offsets: OnceLock::new(),
            groups: OnceLock::new(),
            lock: Mutex::new(Some(lock)),
        });
        let engine = Engine { _user: Some(Arc::new(UserHandle { inner: Arc::downgrade(&inner) })), inner };
        engine.start_coordinators()?;
        engine.inner.write_checkpoints()?;
        engine.start_background();
        Ok(engine)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The configuration the engine was opened with.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// The I/O backend in use.
    pub fn io_kind(&self) -> IoKind {
        self.inner.io.kind()
    }

    /// The I/O backend (for tools that read files the same way the engine does).
    pub fn io(&self) -> &Arc<dyn IoBackend> {
        &self.inner.io
    }

    /// What opening found: clean or not, and per partition what recovery cut or rebuilt.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.inner.recovery
    }

    /// Fsync rounds run by group commit so far.
    pub fn group_commit_rounds(&self) -> u64 {
        self.inner.ctx.group_commit.rounds()
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(StorageError::Closed("engine".into()).into());
        }
        Ok(())
    }

    /// Creates a topic with `partitions` partitions and the given configuration.
    pub fn create_topic(&self, name: &str, partitions: i32, config: TopicConfig) -> Result<()> {
        topics::validate_name(name)?;
        if topics::is_internal(name) {
            return Err(Error::InvalidTopic {
                name: name.to_string(),
                reason: "the name is reserved for eoslog's internal topics",
            });
        }
        self.create_topic_internal(name, partitions, config)
    }

    /// Creates a topic from Kafka-named config pairs layered over the engine's topic defaults.
    pub fn create_topic_with(&self, name: &str, partitions: i32, pairs: &[(&str, &str)]) -> Result<()> {
        let mut config = self.inner.config.topic_defaults.clone();
        config.apply(pairs.iter().copied())?;
        self.create_topic(name, partitions, config)
    }

    /// Creates an internal topic if it does not exist.
    fn ensure_internal_topic(&self, name: &str) -> Result<()> {
        let mut config = self.inner.config.topic_defaults.clone();
        // The coordinators replay these logs at open; they are never trimmed by retention.
        config.retention_ms = -1;
        config.retention_bytes = -1;
        config.segment_bytes = config.segment_bytes.min(100 * 1024 * 1024);
        match self.create_topic_internal(name, 1, config) {
            Ok(()) | Err(Error::TopicAlreadyExists(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Loads the transaction coordinator, the offset store and the group coordinator from
    /// their internal topics and completes transactions that were prepared when the engine last
    /// stopped.
    fn start_coordinators(&self) -> Result<()> {
        self.ensure_internal_topic(TRANSACTION_STATE_TOPIC)?;
        self.ensure_internal_topic(CONSUMER_OFFSETS_TOPIC)?;
        let (offsets, loaded_groups) =
            OffsetStore::load(self.partition(CONSUMER_OFFSETS_TOPIC, 0)?, self.inner.config.clock.clone())?;
        let offsets = Arc::new(offsets);
        let groups = Arc::new(GroupCoordinator::load(
            offsets.clone(),
            loaded_groups,
            self.inner.config.clock.clone(),
            GroupConfig::from_engine_config(&self.inner.config),
        ));
        // Commits made through the offset store directly carry no membership: the group
        // coordinator validates them as commits from outside the group.
        let fence: Arc<dyn crate::offsets::CommitFence> = groups.clone();
        offsets.set_fence(Arc::downgrade(&fence));
        let _ = self.inner.offsets.set(offsets);
        let _ = self.inner.groups.set(groups);
        let config = CoordinatorConfig {
            transaction_max_timeout_ms: self.inner.config.transaction_max_timeout_ms,
            transactional_id_expiration_ms: self.inner.config.transactional_id_expiration_ms,
            ..CoordinatorConfig::default()
        };
        let markers = Arc::new(EngineMarkers { engine: Arc::downgrade(&self.inner) });
        let txn = Arc::new(TransactionCoordinator::load(
            self.partition(TRANSACTION_STATE_TOPIC, 0)?,
            markers,
            self.inner.config.clock.clone(),
            config,
        )?);
        let _ = self.inner.txn.set(txn.clone());
        let completed = txn.complete_prepared();
        if completed > 0 {
            log::info!("completed {completed} transaction(s) that were prepared before the restart");
        }
        Ok(())
    }

    /// The transaction coordinator.
    pub fn transactions(&self) -> &Arc<TransactionCoordinator> {
        self.inner.txn.get().expect("the coordinator is started by Engine::open")
    }

    /// The consumer-offset store.
    pub fn offsets(&self) -> &Arc<OffsetStore> {
        self.inner.offsets.get().expect("the offset store is started by Engine::open")
    }

    /// The group coordinator: consumer group membership and the offset commits of members.
    pub fn groups(&self) -> &Arc<GroupCoordinator> {
        self.inner.groups.get().expect("the group coordinator is started by Engine::open")
    }

    /// Appends a producer's batch the way a broker handles a Produce request: transactional
    /// batches of a transactional producer are first verified with the transaction coordinator
    /// (KIP-890 part 1: the partition must be in the producer's ongoing transaction) unless the
    /// producer already has a transaction open in this partition. This is the call an embedder
    /// translating Kafka's Produce API uses; `transactional_id` comes from the request.
    pub fn produce(
        &self,
        topic: &str,
        partition: i32,
        batch: &[u8],
        transactional_id: Option<&str>,
    ) -> Result<AppendInfo> {
        let log = self.partition(topic, partition)?;
        let view = crate::batch::RecordBatch::parse(batch)?;
        let needs_verification = view.is_transactional()
            && view.has_producer_id()
            && self.inner.config.transaction_verification_enable;
        if !needs_verification {
            return log.append(batch);
        }
        let (pid, epoch) = (view.producer_id(), view.producer_epoch());
        let open = log
            .producer_state(pid)
            .is_some_and(|e| e.producer_epoch() == epoch && e.current_txn_first_offset().is_some());
        if open {
            return log.append(batch);
        }
        let Some(tid) = transactional_id else {
            return Err(Error::kafka(
                crate::error::ErrorCode::InvalidTxnState,
                "a transactional batch needs the producer's transactional id to be verified",
            ));
        };
        let guard = log.create_verification_guard(pid, view.base_sequence(), epoch);
        let tp = TxnTopicPartition::new(topic, partition);
        let verdict = match self.transactions().verify_partitions(tid, pid, epoch, std::slice::from_ref(&tp))
        {
            Ok(v) => v,
            // Kafka's AddPartitionsToTxnManager: a producer fenced at verification gets
            // INVALID_PRODUCER_EPOCH on its produce, the code producers expect there.
            Err(e) if e.code() == crate::error::ErrorCode::ProducerFenced => {
                return Err(Error::kafka(crate::error::ErrorCode::InvalidProducerEpoch, e.to_string()));
            }
            Err(e) => return Err(e),
        };
        if let Some((_, code)) = verdict.iter().find(|(_, c)| *c != crate::error::ErrorCode::None) {
            return Err(Error::kafka(
                *code,
                format!("{topic}-{partition} is not part of the ongoing transaction of {tid}"),
            ));
        }
        log.append_with(batch, &AppendOptions { verification_guard: Some(guard), ..Default::default() })
    }

    /// The `__consumer_offsets` partition that holds `group`'s offsets (Kafka's
    /// `partitionFor(groupId)`; eoslog keeps every group in partition 0).
    pub fn offsets_partition_for(&self, group: &str) -> TxnTopicPartition {
        let _ = group;
        let tp = self.offsets().partition().topic_partition();
        TxnTopicPartition::new(tp.topic.clone(), tp.partition)
    }

    /// AddOffsetsToTxn: adds the offsets partition of `group` to the producer's transaction, so
    /// that offsets sent with [`Engine::txn_offset_commit_for`] commit or abort with it. Kafka
    /// treats this request as coming from a client below transaction version 2.
    pub fn add_offsets_to_txn(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        group: &str,
    ) -> Result<()> {
        if group.is_empty() {
            return Err(Error::kafka(crate::error::ErrorCode::InvalidGroupId, "the group id is empty"));
        }
        let tp = self.offsets_partition_for(group);
        self.transactions().add_partitions_to_txn(
            transactional_id,
            producer_id,
            producer_epoch,
            std::slice::from_ref(&tp),
            TransactionVersion::Tv0,
        )
    }

    /// TxnOffsetCommit of a client without group membership (TxnOffsetCommit v0–v2, which
    /// carry no member id or generation): [`Engine::txn_offset_commit_for`] with
    /// [`ConsumerGroupMetadata::simple`], so only the transaction is verified.
    pub fn txn_offset_commit(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        group: &str,
        offsets: &[(String, i32, crate::offsets::OffsetAndMetadata)],
    ) -> Result<()> {
        let consumer = ConsumerGroupMetadata::simple(group);
        self.txn_offset_commit_for(transactional_id, producer_id, producer_epoch, &consumer, offsets)
    }

    /// TxnOffsetCommit the way a broker handles it, and what a transactional producer's
    /// `send_offsets_to_transaction` calls. Both of Kafka's checks, in Kafka's order, before
    /// anything is written:
    /// 1. the transaction coordinator confirms that the group's offsets partition is in the
    ///    producer's ongoing transaction (KIP-890 part 1, as [`Engine::produce`] verifies
    ///    data): an offset write outside a transaction would never get a marker and would hold
    ///    back `__consumer_offsets` for good;
    /// 2. the group coordinator checks, under the group's lock and atomically with the write,
    ///    that `consumer` is a current member of the current generation (KIP-447): a member
    ///    that lost its partitions in a rebalance gets ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID or
    ///    FENCED_INSTANCE_ID, and its transaction can then only be aborted.
    ///
    /// Metadata without membership ([`ConsumerGroupMetadata::simple`]) is not fenced, as in
    /// Kafka.
    pub fn txn_offset_commit_for(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        consumer: &ConsumerGroupMetadata,
        offsets: &[(String, i32, crate::offsets::OffsetAndMetadata)],
    ) -> Result<()> {
        self.verify_offsets_in_txn(transactional_id, producer_id, producer_epoch, &consumer.group_id)?;
        self.groups().txn_commit_offsets_for(producer_id, producer_epoch, consumer, offsets)
    }

    /// KIP-890 part 1 for TxnOffsetCommit: the offsets partition of `group` must be in the
    /// producer's ongoing transaction.
    fn verify_offsets_in_txn(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        group: &str,
    ) -> Result<()> {
        if group.is_empty() {
            return Err(Error::kafka(crate::error::ErrorCode::InvalidGroupId, "the group id is empty"));
        }
        if !self.inner.config.transaction_verification_enable {
            return Ok(());
        }
        let tp = self.offsets_partition_for(group);
        let verdict = self.transactions().verify_partitions(
            transactional_id,
            producer_id,
            producer_epoch,
            std::slice::from_ref(&tp),
        )?;
        match verdict.iter().find(|(_, c)| *c != crate::error::ErrorCode::None) {
            Some((_, code)) => Err(Error::kafka(
                *code,
                format!(
                    "the offsets of group {group} are not part of the ongoing transaction of {transactional_id}"
                ),
            )),
            None => Ok(()),
        }
    }

    fn create_topic_internal(&self, name: &str, partitions: i32, config: TopicConfig) -> Result<()> {
        self.check_open()?;
        topics::validate_name(name)?;
        if !(1..=topics::MAX_PARTITIONS).contains(&partitions) {
            return Err(Error::InvalidPartitions(partitions as i64));
        }
        let _admin = self.inner.admin.lock();
        if self.inner.topics.read().contains_key(name) {
            return Err(Error::TopicAlreadyExists(name.to_string()));
        }
        let meta = TopicMetadata::with_config(name, partitions, &config, &self.inner.config.topic_defaults);
        // The metadata goes to disk first: a crash after it leaves a topic whose missing
        // partition directories are created at the next open.
        let mut all: BTreeMap<String, TopicMetadata> =
            self.inner.topics.read().iter().map(|(k, t)| (k.clone(), t.meta.clone())).collect();
        all.insert(name.to_string(), meta.clone());
        topics::write(&self.inner.io, &self.inner.dir, &all)?;
        let config = Arc::new(config);
        let mut logs = Vec::with_capacity(partitions as usize);
        for p in 0..partitions {
            let tp = TopicPartition::new(name, p);
            let params = OpenParams {
                clean_shutdown: true,
                recovery_point: 0,
                log_start_offset: None,
                create: true,
                topic_id: Some(meta.topic_id.clone()),
            };
            let (log, _) = PartitionLog::open(
                &self.inner.dir.join(tp.dir_name()),
                tp,
                config.clone(),
                self.inner.ctx.clone(),
                params,
            )?;
            logs.push(log);
        }
        self.inner.topics.write().insert(name.to_string(), Topic { meta, config, partitions: logs });
        // The new partitions' entries go into the checkpoints now rather than at the next
        // background pass.
        self.inner.write_checkpoints()
    }

    /// Deletes a topic and all of its data. Handles to its partitions fail from now on.
    pub fn delete_topic(&self, name: &str) -> Result<()> {
        self.check_open()?;
        topics::validate_name(name)?;
        if topics::is_internal(name) {
            return Err(Error::InvalidTopic {
                name: name.to_string(),
                reason: "internal topics cannot be deleted",
            });
        }
        let _admin = self.inner.admin.lock();
        let topic = self
            .inner
            .topics
            .write()
            .remove(name)
            .ok_or_else(|| Error::UnknownTopicOrPartition { topic: name.to_string(), partition: -1 })?;
        let all: BTreeMap<String, TopicMetadata> =
            self.inner.topics.read().iter().map(|(k, t)| (k.clone(), t.meta.clone())).collect();
        topics::write(&self.inner.io, &self.inner.dir, &all)?;
        for log in &topic.partitions {
            // Best effort: the data is being deleted, a failed close only loses indexes.
            let _ = log.close();
            let from = log.dir().to_path_buf();
            let to =
                self.inner.dir.join(topics::delete_dir_name(log.topic_partition(), &topic.meta.topic_id));
            self.inner.io.rename(&from, &to).map_err(|e| StorageError::io("rename", &from, e))?;
        }
        self.inner
            .io
            .sync_dir(&self.inner.dir)
            .map_err(|e| StorageError::io("fsync dir", &self.inner.dir, e))?;
        for log in &topic.partitions {
            let doomed =
                self.inner.dir.join(topics::delete_dir_name(log.topic_partition(), &topic.meta.topic_id));
            topics::remove_dir_recursive(self.inner.io.as_ref(), &doomed)?;
        }
        self.inner
            .io
            .sync_dir(&self.inner.dir)
            .map_err(|e| StorageError::io("fsync dir", &self.inner.dir, e))?;
        self.inner.write_checkpoints()?;
        Ok(())
    }

    /// The user topics, sorted by name (Kafka's ListTopics without internal topics).
    pub fn topics(&self) -> Vec<TopicDescription> {
        self.all_topics().into_iter().filter(|t| !t.internal).collect()
    }

    /// Every topic including eoslog's internal ones (`__transaction_state`,
    /// `__consumer_offsets`), sorted by name.
    pub fn all_topics(&self) -> Vec<TopicDescription> {
        self.inner
            .topics
            .read()
            .iter()
            .map(|(name, t)| TopicDescription {
                name: name.clone(),
                partitions: t.partitions.len() as i32,
                topic_id: t.meta.topic_id.clone(),
                internal: topics::is_internal(name),
                config: (*t.config).clone(),
            })
            .collect()
    }

    /// One topic's description.
    pub fn topic(&self, name: &str) -> Result<TopicDescription> {
        self.all_topics()
            .into_iter()
            .find(|t| t.name == name)
            .ok_or_else(|| Error::UnknownTopicOrPartition { topic: name.to_string(), partition: -1 })
    }

    /// Changes configuration keys of an existing topic (Kafka's IncrementalAlterConfigs).
    pub fn alter_topic_config(&self, name: &str, pairs: &[(&str, &str)]) -> Result<()> {
        self.check_open()?;
        let _admin = self.inner.admin.lock();
        let mut topics_map = self.inner.topics.write();
        let topic = topics_map
            .get_mut(name)
            .ok_or_else(|| Error::UnknownTopicOrPartition { topic: name.to_string(), partition: -1 })?;
        let mut config = (*topic.config).clone();
        config.apply(pairs.iter().copied())?;
        let mut meta = topic.meta.clone();
        meta.set_overrides(&config, &self.inner.config.topic_defaults);
        let mut all: BTreeMap<String, TopicMetadata> =
            topics_map.iter().map(|(k, t)| (k.clone(), t.meta.clone())).collect();
        all.insert(name.to_string(), meta.clone());
        topics::write(&self.inner.io, &self.inner.dir, &all)?;
        let topic = topics_map.get_mut(name).expect("checked above");
        topic.meta = meta;
        topic.config = Arc::new(config);
        for p in &topic.partitions {
            p.set_config(topic.config.clone());
        }
        Ok(())
    }

    /// The log of one partition.
    pub fn partition(&self, topic: &str, partition: i32) -> Result<Arc<PartitionLog>> {
        self.check_open()?;
        let topics_map = self.inner.topics.read();
        topics_map
            .get(topic)
            .and_then(|t| usize::try_from(partition).ok().and_then(|p| t.partitions.get(p)))
            .cloned()
            .ok_or_else(|| Error::UnknownTopicOrPartition { topic: topic.to_string(), partition })
    }

    /// Number of partitions of a topic.
    pub fn partition_count(&self, topic: &str) -> Result<i32> {
        let topics_map = self.inner.topics.read();
        topics_map
            .get(topic)
            .map(|t| t.partitions.len() as i32)
            .ok_or_else(|| Error::UnknownTopicOrPartition { topic: topic.to_string(), partition: -1 })
    }

    /// Every partition log.
    pub fn all_partitions(&self) -> Vec<Arc<PartitionLog>> {
        self.inner.topics.read().values().flat_map(|t| t.partitions.iter().cloned()).collect()
    }

    /// Makes everything appended so far durable, in every partition, and writes the
    /// recovery-point checkpoint.
    pub fn flush(&self) -> Result<()> {
        self.check_open()?;
        for p in self.all_partitions() {
            p.flush()?;
        }
        self.inner.write_checkpoints()
    }

    /// Runs retention on every partition now; returns the number of segments deleted.
    pub fn run_retention(&self) -> Result<usize> {
        self.check_open()?;
        let mut n = 0;
        for p in self.all_partitions() {
            if p.failure().is_none() {
                match p.apply_retention() {
                    Ok(k) => n += k,
                    // Its topic was deleted since the list was taken: nothing to retain.
                    Err(_) if p.is_closed() => {}
                    Err(e) => return Err(e),
                }
            }
        }
        self.inner.write_checkpoints()?;
        Ok(n)
    }

    /// Closes the engine: stops background work, flushes and closes every partition, writes the
    /// checkpoints and the clean-shutdown marker (only if every partition closed cleanly), and
    /// releases the directory lock at once, even while clones are still alive (their later
    /// calls fail with a closed error), so the directory can be opened again right away.
    pub fn close(&self) -> Result<()> {
        self.inner.shutdown()
    }

    fn start_background(&self) {
        let weak = Arc::downgrade(&self.inner);
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stop2 = stop.clone();
        let spawned = std::thread::Builder::new().name("eoslog-background".into()).spawn(move || {
            background_loop(weak, stop2);
        });
        match spawned {
            Ok(handle) => *self.inner.background.lock() = Some(Background { stop, handle }),
            Err(e) => {
                log::error!("cannot start the eoslog background thread: {e}; periodic work will not run")
            }
        }
    }
}

/// How often the background thread wakes up at most.
const BACKGROUND_TICK: Duration = Duration::from_millis(50);
/// Retention check interval (`log.retention.check.interval.ms`, Kafka's default is 5 minutes;
/// eoslog checks more often because embedded logs are small).
const RETENTION_CHECK_INTERVAL: Duration = Duration::from_secs(30);
/// How often idle transactional ids are expired (`transactional.id.expiration.ms` is checked
/// hourly by Kafka).
const TXN_ID_EXPIRATION_CHECK_INTERVAL: Duration = Duration::from_secs(60);
/// Recovery-point checkpoint interval (`log.flush.offset.checkpoint.interval.ms`).
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(10);

fn background_loop(engine: std::sync::Weak<EngineInner>, stop: Arc<(Mutex<bool>, Condvar)>) {
    let mut last_flush = Instant::now();
    let mut last_retention = Instant::now();
    let mut last_checkpoint = Instant::now();
    let mut last_txn_check = Instant::now();
    let mut last_expiry = Instant::now();
    loop {
        let tick = match engine.upgrade() {
            Some(e) => match e.config.durability {
                Durability::Interval(d) => d.min(BACKGROUND_TICK),
                _ => BACKGROUND_TICK,
            },
            None => return,
        };
        {
            let (lock, cv) = &*stop;
            let mut stopped = lock.lock();
            if !*stopped {
                cv.wait_for(&mut stopped, tick);
            }
            if *stopped {
                return;
            }
        }
        let Some(e) = engine.upgrade() else { return };
        if e.closed.load(Ordering::Acquire) {
            return;
        }
        let partitions: Vec<Arc<PartitionLog>> =
            e.topics.read().values().flat_map(|t| t.partitions.iter().cloned()).collect();
        if let Durability::Interval(d) = e.config.durability
            && last_flush.elapsed() >= d
        {
            last_flush = Instant::now();
            for p in &partitions {
                if p.failure().is_none() && p.durable_offset() < p.log_end_offset() {
                    // Errors take the partition offline; appenders see them.
                    let _ = p.flush();
                }
            }
        }
        for p in &partitions {
            p.maybe_expire_producers(e.config.producer_id_expiration_check_interval_ms);
        }
        // Group deadlines are timestamps of the engine's clock; firing them is cheap.
        if let Some(groups) = e.groups.get() {
            groups.tick();
        }
        if last_txn_check.elapsed()
            >= Duration::from_millis(e.config.transaction_abort_timed_out_interval_ms.max(1) as u64)
            && let Some(txn) = e.txn.get()
        {
            last_txn_check = Instant::now();
            txn.abort_timed_out_transactions();
            txn.complete_prepared();
            if last_expiry.elapsed() >= TXN_ID_EXPIRATION_CHECK_INTERVAL {
                last_expiry = Instant::now();
                txn.expire_transactional_ids();
            }
        }
        if last_retention.elapsed() >= RETENTION_CHECK_INTERVAL {
            last_retention = Instant::now();
            for p in &partitions {
                if p.failure().is_none()
                    && let Err(err) = p.apply_retention()
                {
                    log::warn!("retention on {}: {err}", p.topic_partition());
                }
            }
        }
        if last_checkpoint.elapsed() >= CHECKPOINT_INTERVAL {
            last_checkpoint = Instant::now();
            if let Err(err) = e.write_checkpoints() {
                log::warn!("writing checkpoints: {err}");
            }
        }
    }
}

impl EngineInner {
    /// Writes the recovery-point and log-start-offset checkpoints of every partition.
    fn write_checkpoints(&self) -> Result<()> {
        // Held from reading the offsets to writing the files: a truncation that lowers its
        // entry meanwhile must not be overwritten by values read before it.
        let _guard = self.ctx.checkpoint_lock.lock();
        let mut recovery = BTreeMap::new();
        let mut starts = BTreeMap::new();
        for t in self.topics.read().values() {
            for p in &t.partitions {
                let tp = p.topic_partition();
                recovery.insert((tp.topic.clone(), tp.partition), p.recovery_point());
                starts.insert((tp.topic.clone(), tp.partition), p.log_start_offset());
            }
        }
        for (name, offsets) in
            [(RECOVERY_POINT_CHECKPOINT, &recovery), (LOG_START_OFFSET_CHECKPOINT, &starts)]
        {
            let file = OffsetCheckpointFile::new(self.io.clone(), self.dir.join(name));
            // Rewriting an unchanged file costs two fsyncs and a rename for nothing; an idle
            // engine should leave its directory alone.
            if file.read().ok().as_ref() != Some(offsets) {
                file.write(offsets)?;
            }
        }
        Ok(())
    }

    fn shutdown(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let result = self.shutdown_inner();
        // Closed, cleanly or not: let the directory be opened again.
        self.lock.lock().take();
        result
    }

    fn shutdown_inner(&self) -> Result<()> {
        if let Some(bg) = self.background.lock().take() {
            *bg.stop.0.lock() = true;
            bg.stop.1.notify_all();
            if bg.handle.thread().id() != std::thread::current().id() {
                let _ = bg.handle.join();
            }
        }
        // Wake in-process members parked in a JoinGroup or SyncGroup.
        if let Some(groups) = self.groups.get() {
            groups.shutdown();
        }
        let mut first_error = None;
        let partitions: Vec<Arc<PartitionLog>> =
            self.topics.read().values().flat_map(|t| t.partitions.iter().cloned()).collect();
        for p in &partitions {
            if let Err(e) = p.close() {
                log::error!("closing {}: {e}", p.topic_partition());
                first_error.get_or_insert(e);
            }
        }
        self.write_checkpoints()?;
        if let Some(e) = first_error {
            // No clean-shutdown marker: the next open recovers.
            return Err(e);
        }
        let marker = self.dir.join(CLEAN_SHUTDOWN_FILE);
        let f =
            self.io.open(&marker, OpenMode::Truncate).map_err(|e| StorageError::io("create", &marker, e))?;
        f.sync_data().map_err(|e| StorageError::io("fdatasync", &marker, e))?;
        self.io.sync_dir(&self.dir).map_err(|e| StorageError::io("fsync dir", &self.dir, e))?;
        Ok(())
    }
}

impl Drop for EngineInner {
    fn drop(&mut self) {
        if !self.closed.load(Ordering::Acquire)
            && let Err(e) = self.shutdown()
        {
            log::error!("closing the engine on drop: {e}");
        }
    }
}

/// The engine's side of marker writing: append to the partition, sync, and let the offset
/// store apply or drop transactional offsets decided by a marker in `__consumer_offsets`.
#[derive(Debug)]
struct EngineMarkers {
    engine: Weak<EngineInner>,
}

impl EngineMarkers {
    fn engine(&self) -> Result<Engine> {
        self.engine
            .upgrade()
            .map(|inner| Engine { _user: None, inner })
            .ok_or_else(|| StorageError::Closed("engine".into()).into())
    }
}

impl MarkerWriter for EngineMarkers {
    fn write_marker(
        &self,
        tp: &TxnTopicPartition,
        producer_id: i64,
        producer_epoch: i16,
        coordinator_epoch: i32,
        commit: bool,
        transaction_version: TransactionVersion,
    ) -> Result<()> {
        let engine = self.engine()?;
        let log = match engine.partition(&tp.topic, tp.partition) {
            Ok(l) => l,
            // Kafka skips markers for partitions that no longer exist.
            Err(Error::UnknownTopicOrPartition { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        let marker = log.append_marker(
            producer_id,
            producer_epoch,
            coordinator_epoch,
            commit,
            transaction_version.level() as u8,
        )?;
        // The coordinator makes the markers durable together (`sync_partitions`) before it
        // records the transaction complete.
        if tp.topic == CONSUMER_OFFSETS_TOPIC
            && let Some(offsets) = engine.inner.offsets.get()
        {
            offsets.complete_txn(producer_id, commit, marker.first_offset);
        }
        Ok(())
    }

    fn sync_partitions(&self, partitions: &[TxnTopicPartition]) -> Result<()> {
        let engine = self.engine()?;
        let mut targets = Vec::with_capacity(partitions.len());
        for tp in partitions {
            match engine.partition(&tp.topic, tp.partition) {
                Ok(log) => {
                    let end = log.log_end_offset();
                    targets.push((log, end));
                }
                Err(Error::UnknownTopicOrPartition { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        engine.inner.ctx.group_commit.wait_durable_many(&targets)
    }
}
