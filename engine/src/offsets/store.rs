//! The consumer-offset store: committed offsets of consumer groups, kept in the internal
//! partition `__consumer_offsets-0` with Kafka's record format.
//!
//! Plain commits (OffsetCommit) are written and applied at once. Transactional commits
//! (TxnOffsetCommit, read-process-write) are written as a transactional batch of the producer
//! and held *pending* per producer id: the COMMIT marker applies them, an ABORT drops them
//! (Kafka's `GroupMetadata.completePendingTxnOffsetCommit`). While a group has pending offsets,
//! a fetch that requires stable offsets gets UNSTABLE_OFFSET_COMMIT for those partitions.
//!
//! Membership and generation checks (KIP-447 fencing) are the group coordinator's job: it
//! validates a member's commit and then stores it here. The store's own [`OffsetStore::commit`]
//! and [`OffsetStore::txn_commit`] carry no member id or generation, so once the engine has
//! installed its [`CommitFence`] (the group coordinator) they are validated as Kafka validates a
//! commit from a consumer that does not use group membership (generation −1).
//!
//! The same partition holds the group coordinator's metadata records (key version 2); replay
//! collects the last one of every group and hands them to the coordinator
//! (`OffsetStore::load`), and `OffsetStore::write_group_metadata` appends new ones.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, OnceLock, Weak};

use parking_lot::Mutex;

use crate::batch::RecordBatchBuilder;
use crate::error::{Error, ErrorCode, Result};
use crate::log::{AppendOptions, IsolationLevel, Origin, PartitionLog};
use crate::offsets::format::{
    GroupMetadataValue, OffsetCommitKey, OffsetCommitValue, OffsetsKey, decode_key,
    encode_group_metadata_key, encode_offset_commit_key,
};
use crate::txn::log_format::RecordFormatError;

/// Largest commit metadata string accepted (`offset.metadata.max.bytes`).
pub const MAX_METADATA_BYTES: usize = 4096;

/// A committed position with its metadata (Kafka's `OffsetAndMetadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetAndMetadata {
    /// The next offset to consume.
    pub offset: i64,
    /// Leader epoch of the last consumed record, if known (-1 otherwise).
    pub leader_epoch: i32,
    /// Free-form client metadata.
    pub metadata: String,
    /// When it was committed.
    pub commit_timestamp: i64,
}

impl OffsetAndMetadata {
    /// An offset with no metadata.
    pub fn new(offset: i64) -> Self {
        OffsetAndMetadata { offset, leader_epoch: -1, metadata: String::new(), commit_timestamp: -1 }
    }
}

/// A committed offset and where its record is in `__consumer_offsets` (to order a
/// transactional commit against a plain one, as Kafka's `CommitRecordMetadataAndOffset`).
#[derive(Debug, Clone)]
struct Stored {
    value: OffsetAndMetadata,
    /// Offset of the record in `__consumer_offsets`; `None` while not yet appended.
    log_offset: i64,
}

type TopicPartitionKey = (String, i32);

#[derive(Debug, Default)]
struct State {
    /// group → partition → committed offset.
    committed: HashMap<String, BTreeMap<TopicPartitionKey, Stored>>,
    /// producer id → group → partition → pending transactional offset.
    pending: HashMap<i64, HashMap<String, BTreeMap<TopicPartitionKey, Stored>>>,
    /// producer id → (log offset, commit) of its last marker in `__consumer_offsets`. A
    /// transactional commit appended *before* that marker was decided by it, even if the
    /// marker was applied before the commit was recorded as pending (see `record_pending`).
    last_marker: HashMap<i64, (i64, bool)>,
}

/// Validates commits that carry no group membership (implemented by the group coordinator).
pub trait CommitFence: Send + Sync + fmt::Debug {
    /// Runs `write` if a commit to `group` without member id and generation (Kafka's "simple"
    /// commit, generation −1) is allowed, atomically with the check; returns the refusal
    /// otherwise (UNKNOWN_MEMBER_ID while the group has members, for a plain commit).
    fn simple_commit(
        &self,
        group: &str,
        transactional: bool,
        write: &mut dyn FnMut() -> Result<()>,
    ) -> Result<()>;
}

/// The offset store.
#[derive(Debug)]
pub struct OffsetStore {
    log: Arc<PartitionLog>,
    state: Mutex<State>,
    clock: Arc<dyn crate::clock::Clock>,
    /// The group coordinator, once the engine has started it.
    fence: OnceLock<Weak<dyn CommitFence>>,
}

/// Group metadata records found by replay: the last value of every group that was not
/// deleted (a tombstone), by group id.
pub(crate) type LoadedGroups = BTreeMap<String, GroupMetadataValue>;

/// One partition's answer to [`OffsetStore::fetch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedOffset {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The committed offset, `None` when there is none.
    pub committed: Option<OffsetAndMetadata>,
    /// `None` (0) or UNSTABLE_OFFSET_COMMIT when a transactional commit is pending and stable
    /// offsets were required.
    pub error: ErrorCode,
}

impl OffsetStore {
    /// Loads the store by replaying `__consumer_offsets`: plain commits apply in log order,
    /// transactional ones wait for their marker. Group metadata records are returned for the
    /// group coordinator.
    pub(crate) fn load(
        log: Arc<PartitionLog>,
        clock: Arc<dyn crate::clock::Clock>,
    ) -> Result<(OffsetStore, LoadedGroups)> {
        let store = OffsetStore { log, state: Mutex::new(State::default()), clock, fence: OnceLock::new() };
        let groups = store.replay()?;
        Ok((store, groups))
    }

    /// Installs the validator of membership-less commits (once).
    pub(crate) fn set_fence(&self, fence: Weak<dyn CommitFence>) {
        let _ = self.fence.set(fence);
    }

    fn fence(&self) -> Option<Arc<dyn CommitFence>> {
        self.fence.get().and_then(Weak::upgrade)
    }

    /// The partition holding the offsets.
    pub fn partition(&self) -> &Arc<PartitionLog> {
        &self.log
    }

    fn replay(&self) -> Result<LoadedGroups> {
        let mut groups = LoadedGroups::new();
        let mut st = self.state.lock();
        let mut offset = self.log.log_start_offset();
        loop {
            let data = self.log.read(offset, 1 << 20, IsolationLevel::LogEnd)?;
            if data.records.is_empty() {
                break;
            }
            for batch in data.records.batches() {
                let batch = batch?;
                offset = batch.next_offset();
                if batch.is_control() {
                    if let Some(marker) = batch.end_txn_marker()? {
                        complete(&mut st, batch.producer_id(), marker.commit, batch.base_offset());
                    }
                    continue;
                }
                let pid = batch.is_transactional().then(|| batch.producer_id());
                for record in batch.records()?.iter() {
                    let record = record?;
                    let Some(key) = record.key else { continue };
                    let k = match decode_key(key)? {
                        OffsetsKey::OffsetCommit(k) => k,
                        OffsetsKey::GroupMetadata { group } => {
                            match record.value.map(GroupMetadataValue::decode) {
                                None => {
                                    groups.remove(&group);
                                }
                                Some(Ok(v)) => {
                                    groups.insert(group, v);
                                }
                                // A newer coordinator's record: skipped, as Kafka skips
                                // record types it does not know.
                                Some(Err(RecordFormatError::UnsupportedVersion { version, .. })) => {
                                    log::warn!(
                                        "skipping group metadata of {group} with unknown version {version}"
                                    )
                                }
                                Some(Err(e)) => return Err(e.into()),
                            }
                            continue;
                        }
                        OffsetsKey::Unknown(_) => continue,
                    };
                    let tp = (k.topic, k.partition);
                    match record.value {
                        None => {
                            // A tombstone deletes the committed offset (group deletion).
                            if let Some(g) = st.committed.get_mut(&k.group) {
                                g.remove(&tp);
                            }
                        }
                        Some(v) => {
                            let v = OffsetCommitValue::decode(v)?;
                            let stored = Stored {
                                value: OffsetAndMetadata {
                                    offset: v.offset,
                                    leader_epoch: v.leader_epoch,
                                    metadata: v.metadata,
                                    commit_timestamp: v.commit_timestamp,
                                },
                                log_offset: record.offset,
                            };
                            match pid {
                                Some(pid) => {
                                    st.pending
                                        .entry(pid)
                                        .or_default()
                                        .entry(k.group)
                                        .or_default()
                                        .insert(tp, stored);
                                }
                                None => {
                                    st.committed.entry(k.group).or_default().insert(tp, stored);
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok(groups)
    }

    fn validate(group: &str, offsets: &[(String, i32, OffsetAndMetadata)]) -> Result<()> {
        if group.is_empty() {
            return Err(Error::kafka(ErrorCode::InvalidGroupId, "the group id is empty"));
        }
        for (topic, partition, o) in offsets {
            crate::topics::validate_name(topic)?;
            if *partition < 0 {
                return Err(Error::kafka(
                    ErrorCode::UnknownTopicOrPartition,
                    format!("partition {partition} of {topic}"),
                ));
            }
            if o.offset < 0 {
                return Err(Error::kafka(
                    ErrorCode::InvalidRequest,
                    format!("negative offset {} for {topic}-{partition}", o.offset),
                ));
            }
            if o.metadata.len() > MAX_METADATA_BYTES {
                return Err(Error::kafka(
                    ErrorCode::OffsetMetadataTooLarge,
                    format!("commit metadata of {} bytes exceeds {MAX_METADATA_BYTES}", o.metadata.len()),
                ));
            }
        }
        Ok(())
    }

    fn build_batch(
        &self,
        group: &str,
        offsets: &[(String, i32, OffsetAndMetadata)],
        producer: Option<(i64, i16)>,
        now: i64,
    ) -> Result<Vec<u8>> {
        let mut b = match producer {
            // Kafka writes transactional offset commits with the producer's id and epoch and
            // sequence 0; coordinator-origin appends do not check sequences.
            Some((pid, epoch)) => RecordBatchBuilder::new().producer(pid, epoch, 0).transactional(true),
            None => RecordBatchBuilder::new(),
        };
        for (topic, partition, o) in offsets {
            let key = encode_offset_commit_key(&OffsetCommitKey {
                group: group.to_string(),
                topic: topic.clone(),
                partition: *partition,
            })?;
            let value = OffsetCommitValue {
                offset: o.offset,
                leader_epoch: o.leader_epoch,
                metadata: o.metadata.clone(),
                commit_timestamp: now,
                expire_timestamp: -1,
            }
            .encode()?;
            b.append(now, Some(&key), Some(&value), &[]);
        }
        Ok(b.build()?)
    }

    /// Appends a group metadata record (`None`: a tombstone deleting the group) and waits until
    /// it is durable: the coordinator acts on a generation only once it would survive a crash
    /// (Kafka writes it with acks=all).
    pub(crate) fn write_group_metadata(&self, group: &str, value: Option<&GroupMetadataValue>) -> Result<()> {
        let key = encode_group_metadata_key(group)?;
        let value = value.map(GroupMetadataValue::encode).transpose()?;
        let mut b = RecordBatchBuilder::new();
        b.append(self.clock.now_ms(), Some(&key), value.as_deref(), &[]);
        self.log
            .append_with(&b.build()?, &AppendOptions { origin: Origin::Coordinator, ..Default::default() })?;
        self.log.sync()
    }

    /// OffsetCommit without group membership (generation −1, no member id): once the engine
    /// runs, the group coordinator accepts it only while `group` has no members
    /// (UNKNOWN_MEMBER_ID otherwise). Members commit through
    /// [`GroupCoordinator::commit_offsets`](crate::group::GroupCoordinator::commit_offsets),
    /// which checks their generation.
    pub fn commit(&self, group: &str, offsets: &[(String, i32, OffsetAndMetadata)]) -> Result<()> {
        Self::validate(group, offsets)?;
        match self.fence() {
            Some(fence) => fence.simple_commit(group, false, &mut || self.commit_unfenced(group, offsets)),
            None => self.commit_unfenced(group, offsets),
        }
    }

    /// OffsetCommit: stores `offsets` for `group` durably and applies them. The caller (the
    /// group coordinator) has checked the member and generation.
    pub(crate) fn commit_unfenced(
        &self,
        group: &str,
        offsets: &[(String, i32, OffsetAndMetadata)],
    ) -> Result<()> {
        Self::validate(group, offsets)?;
        if offsets.is_empty() {
            return Ok(());
        }
        let now = self.clock.now_ms();
        let bytes = self.build_batch(group, offsets, None, now)?;
        let info = self
            .log
            .append_with(&bytes, &AppendOptions { origin: Origin::Coordinator, ..Default::default() })?;
        self.log.sync()?;
        self.record_committed(group, offsets, info.first_offset, now);
        Ok(())
    }

    /// Applies a plain commit appended at `first_offset`. Concurrent commits reach this point
    /// in any order: like a transactional one, a commit only replaces an offset whose record is
    /// older (the log order decides, as when the log is replayed).
    fn record_committed(
        &self,
        group: &str,
        offsets: &[(String, i32, OffsetAndMetadata)],
        first_offset: i64,
        now: i64,
    ) {
        let mut st = self.state.lock();
        let g = st.committed.entry(group.to_string()).or_default();
        for (i, (topic, partition, o)) in offsets.iter().enumerate() {
            let value = OffsetAndMetadata { commit_timestamp: now, ..o.clone() };
            let stored = Stored { value, log_offset: first_offset + i as i64 };
            let tp = (topic.clone(), *partition);
            if g.get(&tp).is_none_or(|existing| existing.log_offset < stored.log_offset) {
                g.insert(tp, stored);
            }
        }
    }

    /// TxnOffsetCommit without group membership (Kafka's TxnOffsetCommit v0–v2, which carry no
    /// member id or generation; accepted in any group state, as Kafka does for compatibility).
    /// A consumer in a group should commit through
    /// [`GroupCoordinator::txn_commit_offsets`](crate::group::GroupCoordinator::txn_commit_offsets)
    /// so that a zombie that lost its partitions is fenced (KIP-447).
    pub fn txn_commit(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        group: &str,
        offsets: &[(String, i32, OffsetAndMetadata)],
    ) -> Result<()> {
        Self::validate(group, offsets)?;
        match self.fence() {
            Some(fence) => fence.simple_commit(group, true, &mut || {
                self.txn_commit_unfenced(producer_id, producer_epoch, group, offsets)
            }),
            None => self.txn_commit_unfenced(producer_id, producer_epoch, group, offsets),
        }
    }

    /// TxnOffsetCommit: writes `offsets` as part of the producer's transaction. They become
    /// committed when the transaction commits and are dropped if it aborts. The producer's epoch
    /// is checked by the partition (a fenced producer gets INVALID_PRODUCER_EPOCH); the caller
    /// has checked that the offsets partition is in the transaction (AddOffsetsToTxn) and the
    /// consumer's generation (KIP-447).
    pub(crate) fn txn_commit_unfenced(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        group: &str,
        offsets: &[(String, i32, OffsetAndMetadata)],
    ) -> Result<()> {
        Self::validate(group, offsets)?;
        if offsets.is_empty() {
            return Ok(());
        }
        let now = self.clock.now_ms();
        let bytes = self.build_batch(group, offsets, Some((producer_id, producer_epoch)), now)?;
        // KIP-890 part 1: the group coordinator appends on behalf of the producer only after the
        // transaction coordinator added the partition (AddOffsetsToTxn), so it can vouch for the
        // first transactional write itself.
        let guard = self.log.create_verification_guard(producer_id, 0, producer_epoch);
        let opts = AppendOptions {
            origin: Origin::Coordinator,
            verification_guard: Some(guard),
            ..Default::default()
        };
        let info = self.log.append_with(&bytes, &opts)?;
        // No fsync here: these offsets only matter once the transaction commits, and the
        // coordinator makes every partition of the transaction (this one included) durable
        // before it writes the commit decision.
        self.record_pending(producer_id, group, offsets, info.first_offset, now);
        Ok(())
    }

    /// Holds a transactional commit appended at `first_offset` until its marker. The marker may
    /// already have been applied: a timeout or a new instance's InitProducerId can abort the
    /// transaction between the append and this point. Then that marker decided these offsets
    /// too (it comes after them in the log, as a replay would see): an abort drops them, a
    /// commit applies them. Holding them instead would leave them pending until an unrelated
    /// later marker of the producer — which would commit offsets of an aborted transaction.
    fn record_pending(
        &self,
        producer_id: i64,
        group: &str,
        offsets: &[(String, i32, OffsetAndMetadata)],
        first_offset: i64,
        now: i64,
    ) {
        let mut st = self.state.lock();
        let stored = offsets.iter().enumerate().map(|(i, (topic, partition, o))| {
            let value = OffsetAndMetadata { commit_timestamp: now, ..o.clone() };
            ((topic.clone(), *partition), Stored { value, log_offset: first_offset + i as i64 })
        });
        match st.last_marker.get(&producer_id).copied() {
            Some((marker_offset, commit)) if marker_offset > first_offset => {
                if commit {
                    let g = st.committed.entry(group.to_string()).or_default();
                    for (tp, s) in stored {
                        if g.get(&tp).is_none_or(|existing| existing.log_offset < s.log_offset) {
                            g.insert(tp, s);
                        }
                    }
                }
            }
            _ => st
                .pending
                .entry(producer_id)
                .or_default()
                .entry(group.to_string())
                .or_default()
                .extend(stored),
        }
    }

    /// A transaction marker for `producer_id` landed in `__consumer_offsets` at `marker_offset`:
    /// apply (commit) or drop (abort) its pending offsets.
    pub(crate) fn complete_txn(&self, producer_id: i64, commit: bool, marker_offset: i64) {
        let mut st = self.state.lock();
        complete(&mut st, producer_id, commit, marker_offset);
    }

    /// OffsetFetch: the committed offsets of `group` for `partitions` (all committed partitions
    /// of the group when `None`). With `require_stable`, partitions with a pending transactional
    /// commit answer UNSTABLE_OFFSET_COMMIT.
    pub fn fetch(
        &self,
        group: &str,
        partitions: Option<&[(String, i32)]>,
        require_stable: bool,
    ) -> Result<Vec<FetchedOffset>> {
        if group.is_empty() {
            return Err(Error::kafka(ErrorCode::InvalidGroupId, "the group id is empty"));
        }
        let st = self.state.lock();
        let committed = st.committed.get(group);
        let is_pending = |tp: &TopicPartitionKey| {
            st.pending.values().any(|groups| groups.get(group).is_some_and(|g| g.contains_key(tp)))
        };
        let keys: Vec<TopicPartitionKey> = match partitions {
            Some(p) => p.to_vec(),
            None => committed.map(|c| c.keys().cloned().collect()).unwrap_or_default(),
        };
        Ok(keys
            .into_iter()
            .map(|tp| {
                let unstable = require_stable && is_pending(&tp);
                FetchedOffset {
                    committed: if unstable {
                        None
                    } else {
                        committed.and_then(|c| c.get(&tp)).map(|s| s.value.clone())
                    },
                    error: if unstable { ErrorCode::UnstableOffsetCommit } else { ErrorCode::None },
                    topic: tp.0,
                    partition: tp.1,
                }
            })
            .collect())
    }

    /// The committed offset of one partition, ignoring pending transactional commits.
    pub fn committed(&self, group: &str, topic: &str, partition: i32) -> Option<OffsetAndMetadata> {
        let st = self.state.lock();
        st.committed.get(group).and_then(|g| g.get(&(topic.to_string(), partition))).map(|s| s.value.clone())
    }

    /// Whether `group` has transactional offsets waiting for a marker.
    pub fn has_pending(&self, group: &str) -> bool {
        self.state.lock().pending.values().any(|g| g.contains_key(group))
    }

    /// Groups with committed offsets.
    pub fn groups(&self) -> Vec<String> {
        let mut g: Vec<String> = self.state.lock().committed.keys().cloned().collect();
        g.sort();
        g
    }
}

/// Applies or drops the pending offsets of a producer. A transactional commit only replaces a
/// committed offset whose record is older (Kafka's `CommitRecordMetadataAndOffset.olderThan`):
/// a plain commit made after the transactional one was written wins.
fn complete(st: &mut State, producer_id: i64, commit: bool, marker_offset: i64) {
    st.last_marker.insert(producer_id, (marker_offset, commit));
    let Some(groups) = st.pending.remove(&producer_id) else { return };
    if !commit {
        return;
    }
    for (group, offsets) in groups {
        let g = st.committed.entry(group).or_default();
        for (tp, stored) in offsets {
            let replace = g.get(&tp).is_none_or(|existing| existing.log_offset < stored.log_offset);
            if replace {
                g.insert(tp, stored);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Commits and markers reach the in-memory state in any order when threads race; these
    //! tests play the orders a race can produce, step by step.
    use super::*;
    use crate::{Engine, EngineConfig};

    fn engine() -> (tempfile::TempDir, Engine) {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(dir.path(), EngineConfig::default()).unwrap();
        (dir, engine)
    }

    fn at(o: i64) -> Vec<(String, i32, OffsetAndMetadata)> {
        vec![("in".to_string(), 0, OffsetAndMetadata::new(o))]
    }

    fn committed(store: &OffsetStore) -> Option<i64> {
        store.committed("g", "in", 0).map(|o| o.offset)
    }

    /// A plain commit appended later but recorded first is not overwritten by the earlier one.
    #[test]
    fn concurrent_plain_commits_keep_the_log_order() {
        let (_dir, engine) = engine();
        let store = engine.offsets();
        store.record_committed("g", &at(20), 11, 0);
        store.record_committed("g", &at(10), 10, 0);
        assert_eq!(committed(store), Some(20));
    }

    /// The producer's transaction is aborted (a timeout, a new instance) between the append of
    /// its offsets and their recording: the abort marker, later in the log, drops them.
    #[test]
    fn marker_applied_before_the_pending_offsets_were_recorded() {
        let (_dir, engine) = engine();
        let store = engine.offsets();
        // Abort: dropped, not left pending for the producer's next transaction to commit.
        store.complete_txn(7, false, 6);
        store.record_pending(7, "g", &at(50), 5, 0);
        assert!(!store.has_pending("g"));
        store.record_pending(7, "g", &at(60), 8, 0);
        assert!(store.has_pending("g"), "offsets after the marker belong to the next transaction");
        store.complete_txn(7, true, 9);
        assert_eq!(committed(store), Some(60));
        // Commit: applied, unless the store holds a newer record.
        store.complete_txn(8, true, 12);
        store.record_pending(8, "g", &at(70), 11, 0);
        assert_eq!(committed(store), Some(70));
        store.record_committed("g", &at(80), 13, 0);
        store.complete_txn(9, true, 15);
        store.record_pending(9, "g", &at(75), 10, 0);
        assert_eq!(committed(store), Some(80));
        assert!(!store.has_pending("g"));
    }
}
