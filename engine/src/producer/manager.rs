//! The per-partition producer state (Kafka's `ProducerStateManager`).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::time::{SystemTime, UNIX_EPOCH};

use super::append_info::ProducerAppendInfo;
use super::batch::{AppendOrigin, BatchInfo, CompletedTxn, OngoingTxn};
use super::entry::{BatchMetadata, ProducerStateEntry};
use super::snapshot::{SnapshotEntry, encode_snapshot};
use super::txn::TxnTracker;
use super::verification::{VerificationGuard, VerificationState};
use crate::config::EngineConfig;
use crate::error::ProducerError;

/// Kafka's `LATE_TRANSACTION_BUFFER_MS`: a transaction is *late* once it is older than
/// `transaction.max.timeout.ms` plus this buffer (KIP-664).
pub const LATE_TRANSACTION_BUFFER_MS: i64 = 5 * 60 * 1000;

/// Settings of the producer state (Kafka's `ProducerStateManagerConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerStateConfig {
    /// `producer.id.expiration.ms` (default one day, KIP-854): producers without an open
    /// transaction whose last timestamp is at least this old are forgotten.
    pub producer_id_expiration_ms: i64,
    /// `transaction.partition.verification.enable` (default true, KIP-890 part 1).
    pub transaction_verification_enable: bool,
}

impl Default for ProducerStateConfig {
    fn default() -> Self {
        Self { producer_id_expiration_ms: 24 * 60 * 60 * 1000, transaction_verification_enable: true }
    }
}

impl From<&EngineConfig> for ProducerStateConfig {
    fn from(c: &EngineConfig) -> Self {
        Self {
            producer_id_expiration_ms: c.producer_id_expiration_ms,
            transaction_verification_enable: c.transaction_verification_enable,
        }
    }
}

/// Producer state of one partition: who wrote what last, which transactions are open, and which
/// completed transactions still hold back the LSO.
///
/// Not thread-safe by itself: the partition log calls it under its lock, like Kafka.
///
/// Layout: entries live in a dense `Vec` with a `producer id → index` map beside it, so a
/// producer costs its 152-byte entry plus one 16-byte map slot, and snapshotting walks contiguous
/// memory. Lookups are one hash probe plus an index; removal swaps the last entry into the hole.
#[derive(Debug, Clone)]
pub struct ProducerStateManager {
    config: ProducerStateConfig,
    /// producer id → position in `entries`. Invariant: `entries[index[pid]].producer_id() == pid`
    /// and both hold the same set of producers.
    index: HashMap<i64, usize>,
    entries: Vec<ProducerStateEntry>,
    txns: TxnTracker,
    verifications: HashMap<i64, VerificationState>,
    /// The offset up to which (exclusive) the state reflects the log.
    map_end_offset: i64,
}

fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl ProducerStateManager {
    /// An empty state at offset 0.
    pub fn new(config: ProducerStateConfig) -> Self {
        Self {
            config,
            index: HashMap::new(),
            entries: Vec::new(),
            txns: TxnTracker::default(),
            verifications: HashMap::new(),
            map_end_offset: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ProducerStateConfig {
        &self.config
    }

    /// Turns verification on or off (a dynamic broker config in Kafka). Registered verifications
    /// keep their sequence check either way (KAFKA-14920).
    pub fn set_transaction_verification_enable(&mut self, enable: bool) {
        self.config.transaction_verification_enable = enable;
    }

    // ---- producers ----

    /// The committed state of a producer.
    pub fn last_entry(&self, pid: i64) -> Option<&ProducerStateEntry> {
        self.index.get(&pid).map(|&i| &self.entries[i])
    }

    /// All known producers, in no particular order.
    pub fn active_producers(&self) -> impl Iterator<Item = &ProducerStateEntry> {
        self.entries.iter()
    }

    /// Number of known producers.
    pub fn producer_count(&self) -> usize {
        self.entries.len()
    }

    /// Kafka's `isEmpty`: no producer and no unreplicated transaction.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.txns.unreplicated_len() == 0
    }

    fn insert_entry(&mut self, entry: ProducerStateEntry) {
        match self.index.get(&entry.producer_id()) {
            Some(&i) => self.entries[i] = entry,
            None => {
                self.index.insert(entry.producer_id(), self.entries.len());
                self.entries.push(entry);
            }
        }
    }

    fn remove_at(&mut self, i: usize) {
        let removed = self.entries.swap_remove(i);
        self.index.remove(&removed.producer_id());
        if let Some(moved) = self.entries.get(i) {
            self.index.insert(moved.producer_id(), i);
        }
    }

    fn clear_producers(&mut self) {
        self.index.clear();
        self.entries.clear();
    }

    // ---- the append path ----

    /// Client-origin duplicate check (reference §3 step 1): the retained batch that `batch`
    /// retries, if any. The log then writes nothing and answers with the original batch's first
    /// and last offsets and its timestamp. O(1): one lookup and at most five comparisons.
    pub fn find_duplicate(&self, batch: &BatchInfo) -> Option<BatchMetadata> {
        self.last_entry(batch.producer_id)?.find_duplicate_batch(batch)
    }

    /// Starts staging an append for `producer_id` (Kafka's `prepareUpdate`). Does not mutate.
    pub fn prepare_update(&self, producer_id: i64, origin: AppendOrigin) -> ProducerAppendInfo {
        ProducerAppendInfo::new(
            producer_id,
            origin,
            self.last_entry(producer_id),
            self.verifications.get(&producer_id).copied(),
            self.config.transaction_verification_enable,
        )
    }

    /// Commits a staged append after the log write succeeded (Kafka's `update`): merges the staged
    /// entry, registers the transactions it started, and drops the producer's verification if a
    /// transactional batch or marker was appended.
    pub fn update(&mut self, info: ProducerAppendInfo) {
        let pid = info.producer_id();
        debug_assert!(pid >= 0, "update for producer id {pid}");
        match self.index.entry(pid) {
            Entry::Occupied(slot) => self.entries[*slot.get()].apply_staged(info.staged_entry()),
            Entry::Vacant(slot) => {
                slot.insert(self.entries.len());
                self.entries.push(info.staged_entry().clone());
            }
        }
        for first_offset in info.started_transactions() {
            self.txns.start(pid, first_offset);
        }
        if info.clears_verification() {
            self.verifications.remove(&pid);
        }
    }

    /// The value stored as `lastStableOffset` in the `.txnindex` entry of a completed transaction:
    /// the first offset of the earliest ongoing transaction of **another** producer, else the
    /// marker offset + 1. Call before [`Self::complete_txn`].
    pub fn last_stable_offset(&self, completed: &CompletedTxn) -> i64 {
        self.txns.last_stable_offset(completed.producer_id, completed.last_offset)
    }

    /// Marks a transaction completed (ongoing → unreplicated). It keeps holding back the first
    /// unstable offset until the high watermark passes its marker.
    ///
    /// Kafka throws if the transaction was never started; that is a caller bug, reported here in
    /// the log and otherwise ignored.
    pub fn complete_txn(&mut self, completed: &CompletedTxn) {
        if !self.txns.complete(completed.first_offset, completed.last_offset) {
            log::error!("attempted to complete transaction {completed:?}, which was not started");
        }
    }

    /// Records that the state reflects the log up to `offset` (exclusive); called with
    /// `last_offset + 1` after every append, with or without producer ids, so that a snapshot is
    /// named by the right offset.
    pub fn update_map_end_offset(&mut self, offset: i64) {
        self.map_end_offset = offset;
    }

    /// The offset (exclusive) up to which the state reflects the log; a snapshot taken now is
    /// named by it.
    pub fn map_end_offset(&self) -> i64 {
        self.map_end_offset
    }

    // ---- LSO ----

    /// Drops completed transactions whose marker is below the new high watermark: they are now
    /// decided and replicated.
    pub fn on_high_watermark_updated(&mut self, hw: i64) {
        self.txns.remove_unreplicated_below(hw);
    }

    /// The smallest first offset over ongoing transactions and completed-but-unreplicated ones.
    /// The log clamps it to its log start offset and takes `LSO = min(this, HW)` (reference §4).
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.txns.first_unstable_offset()
    }

    /// The first offset of the oldest ongoing transaction (ignores replication).
    pub fn first_undecided_offset(&self) -> Option<i64> {
        self.txns.first_undecided_offset()
    }

    /// The open transactions in first-offset order, for an embedder looking for hanging ones.
    pub fn ongoing_transactions(&self) -> Vec<OngoingTxn> {
        self.txns
            .ongoing()
            .map(|(first_offset, producer_id)| OngoingTxn {
                producer_id,
                first_offset,
                last_timestamp: self.last_entry(producer_id).map_or(-1, ProducerStateEntry::last_timestamp),
            })
            .collect()
    }

    /// Last timestamp of the producer of the oldest open transaction (Kafka's
    /// `oldestTxnLastTimestamp`), if any.
    pub fn oldest_txn_last_timestamp(&self) -> Option<i64> {
        let (_, pid) = self.txns.oldest_ongoing()?;
        self.last_entry(pid).map(ProducerStateEntry::last_timestamp)
    }

    /// Kafka's `hasLateTransaction` (KIP-664): the oldest open transaction is older than
    /// `max_transaction_timeout_ms` + 5 minutes.
    pub fn has_late_transaction(&self, now_ms: i64, max_transaction_timeout_ms: i64) -> bool {
        self.oldest_txn_last_timestamp().is_some_and(|ts| {
            ts > 0 && now_ms.saturating_sub(ts) > max_transaction_timeout_ms + LATE_TRANSACTION_BUFFER_MS
        })
    }

    // ---- expiry, truncation, snapshots ----

    fn is_expired(&self, entry: &ProducerStateEntry, now_ms: i64) -> bool {
        entry.current_txn_first_offset().is_none()
            && now_ms.saturating_sub(entry.last_timestamp()) >= self.config.producer_id_expiration_ms
    }

    /// Forgets producers with no open transaction whose last timestamp is at least
    /// `producer.id.expiration.ms` old (KIP-854; producers with an open transaction never expire,
    /// or their transaction could never be completed). Also drops verification registrations that
    /// old, which were never used. Returns the number of producers removed.
    pub fn remove_expired_producers(&mut self, now_ms: i64) -> usize {
        let mut removed = 0;
        let mut i = 0;
        while i < self.entries.len() {
            if self.is_expired(&self.entries[i], now_ms) {
                self.remove_at(i);
                removed += 1;
            } else {
                i += 1;
            }
        }
        let expiration = self.config.producer_id_expiration_ms;
        self.verifications.retain(|_, v| now_ms.saturating_sub(v.created_ms) < expiration);
        removed
    }

    /// Forgets all producers and transactions and restarts at `offset` (Kafka's
    /// `truncateFullyAndStartAt`, used when the log is truncated away entirely). Verification
    /// registrations belong to in-flight requests and are kept, as in Kafka.
    pub fn truncate_fully_and_start_at(&mut self, offset: i64) {
        self.clear_producers();
        self.txns.clear();
        self.map_end_offset = offset;
    }

    /// The log start offset moved up to `log_start_offset` (retention or DeleteRecords; Kafka's
    /// `onLogStartOffsetIncremented`). Exactly this happens:
    /// - completed transactions whose marker is below the new log start are dropped from the
    ///   unreplicated set (their data is gone, they cannot hold back the LSO);
    /// - `map_end_offset` moves up to the log start if it was below;
    /// - producers are **kept** until they expire, even if all their batches were deleted
    ///   (KAFKA-7190 / KIP-360: forgetting them would make their next write fail);
    /// - ongoing transactions are kept even if they started below the log start: they are still
    ///   open and their marker will come; the log clamps the first unstable offset to its log
    ///   start, as Kafka's `maybeIncrementFirstUnstableOffset` does.
    pub fn truncate_head(&mut self, log_start_offset: i64) {
        self.txns.remove_unreplicated_below(log_start_offset);
        self.map_end_offset = self.map_end_offset.max(log_start_offset);
    }

    /// Replaces the whole state with a snapshot's entries, as of `snapshot_offset` (Kafka's
    /// `truncateAndReload` + `loadFromSnapshot`). Expired producers are skipped (same filter as
    /// [`Self::remove_expired_producers`]); open transactions are rebuilt from
    /// `current_txn_first_offset`; unreplicated transactions are cleared (the log reloads at or
    /// below its high watermark). A producer id listed twice keeps its last entry.
    pub fn load_snapshot(&mut self, entries: Vec<SnapshotEntry>, snapshot_offset: i64, now_ms: i64) {
        self.clear_producers();
        self.txns.clear();
        self.entries.reserve(entries.len());
        for e in &entries {
            let entry = e.to_producer_entry();
            if !self.is_expired(&entry, now_ms) {
                self.insert_entry(entry);
            }
        }
        for entry in &self.entries {
            if let Some(first_offset) = entry.current_txn_first_offset() {
                self.txns.start(entry.producer_id(), first_offset);
            }
        }
        self.map_end_offset = snapshot_offset;
    }

    /// What a `.snapshot` named by [`Self::map_end_offset`] holds: one entry per producer with its
    /// last batch only, sorted by producer id.
    pub fn snapshot_entries(&self) -> Vec<SnapshotEntry> {
        let mut out: Vec<SnapshotEntry> = self.entries.iter().map(SnapshotEntry::from).collect();
        out.sort_unstable_by_key(|e| e.producer_id);
        out
    }

    /// The bytes of a `.snapshot` file for the current state ([`encode_snapshot`] of
    /// [`Self::snapshot_entries`]).
    pub fn snapshot_bytes(&self) -> Vec<u8> {
        encode_snapshot(&self.snapshot_entries())
    }

    // ---- KIP-890 part 1 verification ----

    /// Registers (or reuses) the verification of `producer_id` and returns its guard, with the
    /// wall clock as creation time and no TV2 support. See
    /// [`Self::maybe_create_verification_guard_at`].
    pub fn maybe_create_verification_guard(
        &mut self,
        producer_id: i64,
        sequence: i32,
        epoch: i16,
    ) -> VerificationGuard {
        self.maybe_create_verification_guard_at(producer_id, sequence, epoch, false, wall_clock_ms())
    }

    /// Kafka's `maybeCreateVerificationStateEntry`: reuses the producer's registration if there is
    /// one (same guard), else creates one with a fresh guard; then records `sequence` as the
    /// lowest sequence seen if it is lower for the same epoch, or resets it for a newer epoch
    /// (KAFKA-14920). `supports_epoch_bump` is true for TV2 clients.
    pub fn maybe_create_verification_guard_at(
        &mut self,
        producer_id: i64,
        sequence: i32,
        epoch: i16,
        supports_epoch_bump: bool,
        now_ms: i64,
    ) -> VerificationGuard {
        let state = self
            .verifications
            .entry(producer_id)
            .or_insert_with(|| VerificationState::new(now_ms, sequence, epoch, supports_epoch_bump));
        state.observe(sequence, epoch, supports_epoch_bump);
        state.guard
    }

    /// Kafka's `UnifiedLog.maybeStartTransactionVerification`, what a broker calls before asking
    /// the coordinator: an epoch older than the producer's → INVALID_PRODUCER_EPOCH; a transaction
    /// of this epoch already open → [`VerificationGuard::SENTINEL`] (nothing to verify); else the
    /// registered guard ([`Self::maybe_create_verification_guard_at`]).
    pub fn maybe_start_transaction_verification(
        &mut self,
        producer_id: i64,
        sequence: i32,
        epoch: i16,
        supports_epoch_bump: bool,
        now_ms: i64,
    ) -> Result<VerificationGuard, ProducerError> {
        if let Some(entry) = self.last_entry(producer_id) {
            if epoch < entry.producer_epoch() {
                return Err(ProducerError::InvalidProducerEpoch {
                    producer_id,
                    epoch,
                    current: entry.producer_epoch(),
                });
            }
            if entry.current_txn_first_offset().is_some() && entry.producer_epoch() == epoch {
                return Ok(VerificationGuard::SENTINEL);
            }
        }
        Ok(self.maybe_create_verification_guard_at(producer_id, sequence, epoch, supports_epoch_bump, now_ms))
    }

    /// The guard registered for `producer_id`, if any (Kafka returns the sentinel for none).
    pub fn verification_guard(&self, producer_id: i64) -> Option<VerificationGuard> {
        self.verifications.get(&producer_id).map(|v| v.guard)
    }

    /// Drops the verification registered for `producer_id` (e.g. the coordinator said the
    /// partition is not part of the transaction).
    pub fn clear_verification(&mut self, producer_id: i64) {
        self.verifications.remove(&producer_id);
    }

    /// `(lowest sequence, its epoch)` recorded by the registered verification of `producer_id`
    /// (KAFKA-14920), if one is registered.
    pub fn verification_lowest_sequence(&self, producer_id: i64) -> Option<(i32, i16)> {
        self.verifications.get(&producer_id).map(|v| (v.lowest_sequence, v.epoch))
    }
}

impl Default for ProducerStateManager {
    fn default() -> Self {
        Self::new(ProducerStateConfig::default())
    }
}
