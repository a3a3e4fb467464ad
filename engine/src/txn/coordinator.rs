//! The transaction coordinator (Kafka's `TransactionCoordinator`): InitProducerId,
//! AddPartitionsToTxn / AddOffsetsToTxn, EndTxn as a two-phase commit, timeouts and
//! transactional-id expiry, and reload after a restart.
//!
//! Every transition follows Kafka's pattern: under the metadata's lock a transition is
//! *prepared* (it becomes pending, which makes concurrent requests fail with
//! `CONCURRENT_TRANSACTIONS`), the lock is released while the target is written durably to
//! `__transaction_state`, then the transition is *completed* in memory. EndTxn writes
//! PrepareCommit/PrepareAbort, then a marker to every partition of the transaction (coordinator
//! origin, carrying the coordinator epoch), then CompleteCommit/CompleteAbort. Unlike Kafka,
//! which answers the client after the prepare record and sends markers asynchronously, eoslog
//! writes the markers before returning when it can — the in-process caller then knows its
//! transaction is visible; if a marker cannot be written the transaction stays prepared and the
//! background task completes it later.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use crate::clock::Clock;
use crate::error::{Error, ErrorCode, Result};
use crate::log::PartitionLog;
use crate::txn::metadata::{
    NO_PRODUCER_ID, ProducerIdAndEpoch, TransactionMetadata, TxnTopicPartition, TxnTransitMetadata,
};
use crate::txn::pid_block::{DEFAULT_PRODUCER_ID_BLOCK_SIZE, PidAllocation, ProducerIdManager};
use crate::txn::state::{TransactionState, TransactionVersion};
use crate::txn::store::TxnStateLog;

/// Writes transaction markers into data partitions (implemented by the engine, which also lets
/// the offset store apply or drop the transactional offsets a marker decides).
pub trait MarkerWriter: Send + Sync + fmt::Debug {
    /// Appends a COMMIT or ABORT marker for `producer_id` at `producer_epoch` to `partition`.
    /// A partition that no longer exists is not an error (Kafka skips markers for deleted
    /// partitions).
    fn write_marker(
        &self,
        partition: &TxnTopicPartition,
        producer_id: i64,
        producer_epoch: i16,
        coordinator_epoch: i32,
        commit: bool,
        transaction_version: TransactionVersion,
    ) -> Result<()>;

    /// Makes everything appended to `partitions` so far durable, in one group-commit round.
    /// Called with a transaction's partitions before its commit decision is written (a durable
    /// PrepareCommit is carried out after any crash, so the data it commits must survive the
    /// crash too; in Kafka the producer's writes are acknowledged by the ISR before it may
    /// commit), and after its markers are written (a durable completion record must never
    /// describe markers a crash could lose). Partitions that no longer exist are skipped.
    fn sync_partitions(&self, partitions: &[TxnTopicPartition]) -> Result<()>;
}

/// Settings of the coordinator (Kafka's names).
#[derive(Debug, Clone, Copy)]
pub struct CoordinatorConfig {
    /// `transaction.max.timeout.ms`.
    pub transaction_max_timeout_ms: i64,
    /// `transactional.id.expiration.ms`.
    pub transactional_id_expiration_ms: i64,
    /// The cluster's `transaction.version` level (eoslog: 2).
    pub transaction_version_level: TransactionVersion,
    /// Producer ids per persisted block.
    pub producer_id_block_size: i32,
}

impl Default for CoordinatorConfig {
    fn default() -> Self {
        CoordinatorConfig {
            transaction_max_timeout_ms: 15 * 60 * 1000,
            transactional_id_expiration_ms: 7 * 24 * 3600 * 1000,
            transaction_version_level: TransactionVersion::Tv2,
            producer_id_block_size: DEFAULT_PRODUCER_ID_BLOCK_SIZE,
        }
    }
}

/// A transactional id as [`TransactionCoordinator::describe`] shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionDescription {
    /// Transactional id.
    pub transactional_id: String,
    /// Current producer id.
    pub producer_id: i64,
    /// Current producer epoch.
    pub producer_epoch: i16,
    /// State.
    pub state: TransactionState,
    /// Partitions in the current transaction.
    pub partitions: Vec<TxnTopicPartition>,
    /// Transaction timeout.
    pub timeout_ms: i32,
    /// When the current transaction started (-1 if none).
    pub start_ms: i64,
    /// Last update.
    pub last_update_ms: i64,
}

type Shared = Arc<Mutex<TransactionMetadata>>;

/// The transaction coordinator of one engine.
#[derive(Debug)]
pub struct TransactionCoordinator {
    store: TxnStateLog,
    markers: Arc<dyn MarkerWriter>,
    clock: Arc<dyn Clock>,
    config: CoordinatorConfig,
    coordinator_epoch: i32,
    txns: Mutex<HashMap<String, Shared>>,
    pids: Mutex<ProducerIdManager>,
    /// Transactional ids whose prepared transaction a thread is completing (writing markers and
    /// the completion record). One thread at a time: a second one working from the same
    /// Prepare record could write its markers after the first completed and the producer began
    /// its next transaction, committing or aborting that one (Kafka's marker channel manager
    /// likewise queues one completion per transaction).
    completing: Mutex<HashSet<String>>,
    completion_done: Condvar,
}

/// The right to complete one transactional id's prepared transaction; released on drop.
struct CompletionClaim<'a> {
    coordinator: &'a TransactionCoordinator,
    transactional_id: String,
}

impl Drop for CompletionClaim<'_> {
    fn drop(&mut self) {
        self.coordinator.completing.lock().remove(&self.transactional_id);
        self.coordinator.completion_done.notify_all();
    }
}

fn kafka(code: ErrorCode, msg: impl Into<String>) -> Error {
    Error::kafka(code, msg)
}

impl TransactionCoordinator {
    /// Loads the coordinator from `__transaction_state`. The coordinator epoch (carried by every
    /// marker, so partitions can fence a zombie coordinator) is one more than any epoch the
    /// partition has seen. Prepared transactions are not completed here: call
    /// [`Self::complete_prepared`] once the engine can write markers.
    pub(crate) fn load(
        log: Arc<PartitionLog>,
        markers: Arc<dyn MarkerWriter>,
        clock: Arc<dyn Clock>,
        config: CoordinatorConfig,
    ) -> Result<TransactionCoordinator> {
        let coordinator_epoch = log.leader_epochs().last().map(|(e, _)| e + 1).unwrap_or(0);
        log.set_leader_epoch(coordinator_epoch)?;
        let store = TxnStateLog::new(log, config.transaction_version_level);
        let loaded = store.load()?;
        if loaded.skipped > 0 {
            log::warn!("__transaction_state: skipped {} records of unknown versions", loaded.skipped);
        }
        let pids = ProducerIdManager::recover(config.producer_id_block_size, loaded.pid_blocks)?;
        let txns = loaded
            .transactions
            .into_iter()
            .map(|(id, t)| {
                let meta = TransactionMetadata::from_transit(id.clone(), t);
                (id, Arc::new(Mutex::new(meta)))
            })
            .collect();
        Ok(TransactionCoordinator {
            store,
            markers,
            clock,
            config,
            coordinator_epoch,
            txns: Mutex::new(txns),
            pids: Mutex::new(pids),
            completing: Mutex::new(HashSet::new()),
            completion_done: Condvar::new(),
        })
    }

    /// The coordinator epoch stamped on markers.
    pub fn coordinator_epoch(&self) -> i32 {
        self.coordinator_epoch
    }

    /// The cluster transaction version level.
    pub fn transaction_version_level(&self) -> TransactionVersion {
        self.config.transaction_version_level
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// A new producer id from a durable block.
    fn generate_producer_id(&self) -> Result<i64> {
        let mut pids = self.pids.lock();
        loop {
            match pids.allocate()? {
                PidAllocation::Allocated(id) => {
                    if let Some(block) = pids.prefetch_block()? {
                        self.store.write_pid_block(&block, self.now())?;
                        pids.block_persisted(block)?;
                    }
                    return Ok(id);
                }
                PidAllocation::PersistBlock(block) => {
                    self.store.write_pid_block(&block, self.now())?;
                    pids.block_persisted(block)?;
                }
            }
        }
    }

    fn get(&self, transactional_id: &str) -> Option<Shared> {
        self.txns.lock().get(transactional_id).cloned()
    }

    fn validate_id(transactional_id: &str) -> Result<()> {
        if transactional_id.is_empty() {
            return Err(kafka(ErrorCode::InvalidRequest, "the transactional id is empty"));
        }
        if transactional_id.len() > i16::MAX as usize {
            return Err(kafka(ErrorCode::InvalidRequest, "the transactional id is longer than 32767 bytes"));
        }
        Ok(())
    }

    /// Writes a prepared transition durably and completes it; on a failed write the pending
    /// state is dropped so the id is usable again (the caller gets the error).
    fn persist(&self, meta: &Shared, transit: TxnTransitMetadata) -> Result<()> {
        self.persist_with(meta, transit, true)
    }

    /// [`Self::persist`], optionally without waiting for durability: only the completion record
    /// may skip it, because losing it in a crash only means the markers are written again.
    fn persist_with(&self, meta: &Shared, transit: TxnTransitMetadata, durable: bool) -> Result<()> {
        let id = meta.lock().transactional_id().to_string();
        match self.store.write_transition(&id, &transit, self.now(), durable) {
            Ok(()) => meta.lock().complete_transition_to(transit),
            Err(e) => {
                meta.lock().cancel_pending_transition();
                Err(e)
            }
        }
    }

    // ------------------------------------------------------------- InitProducerId

    /// InitProducerId. Without a transactional id: a fresh producer id with epoch 0 (idempotent
    /// producer). With one: the id's epoch is bumped, fencing any previous instance (its writes
    /// fail with INVALID_PRODUCER_EPOCH / PRODUCER_FENCED); when the epoch is exhausted the
    /// producer id is rotated. If the previous instance left a transaction open, it is aborted
    /// with a fenced epoch and CONCURRENT_TRANSACTIONS is returned: the caller retries (the
    /// in-process producer does so itself). `expected` is KIP-360's producer id and epoch of a
    /// producer re-initialising after an error.
    pub fn init_producer_id(
        &self,
        transactional_id: Option<&str>,
        transaction_timeout_ms: i32,
        expected: Option<ProducerIdAndEpoch>,
    ) -> Result<ProducerIdAndEpoch> {
        let Some(id) = transactional_id else {
            return Ok(ProducerIdAndEpoch { producer_id: self.generate_producer_id()?, epoch: 0 });
        };
        Self::validate_id(id)?;
        if transaction_timeout_ms <= 0
            || i64::from(transaction_timeout_ms) > self.config.transaction_max_timeout_ms
        {
            return Err(kafka(
                ErrorCode::InvalidTransactionTimeout,
                format!(
                    "transaction timeout {transaction_timeout_ms} ms is not in (0, transaction.max.timeout.ms = {}]",
                    self.config.transaction_max_timeout_ms
                ),
            ));
        }
        let meta = match self.get(id) {
            Some(m) => m,
            None => {
                let pid = self.generate_producer_id()?;
                let created = Arc::new(Mutex::new(TransactionMetadata::new(
                    id,
                    pid,
                    transaction_timeout_ms,
                    self.now(),
                )));
                self.txns.lock().entry(id.to_string()).or_insert(created).clone()
            }
        };
        let transit = {
            let mut m = meta.lock();
            self.prepare_init_transit(&mut m, transaction_timeout_ms, expected)?
        };
        if transit.txn_state == TransactionState::PrepareEpochFence {
            // Abort the open transaction of the fenced instance with the fenced epoch, then let
            // the client retry (Kafka answers CONCURRENT_TRANSACTIONS here).
            self.end_transaction(
                id,
                transit.producer_id,
                transit.producer_epoch,
                false,
                false,
                self.config.transaction_version_level,
            )?;
            return Err(kafka(
                ErrorCode::ConcurrentTransactions,
                format!("transactional id {id}: aborted the previous instance's open transaction; retry"),
            ));
        }
        self.persist(&meta, transit.clone())?;
        log::info!(
            "initialised transactional id {id}: producer {} epoch {}",
            transit.producer_id,
            transit.producer_epoch
        );
        Ok(ProducerIdAndEpoch { producer_id: transit.producer_id, epoch: transit.producer_epoch })
    }

    fn prepare_init_transit(
        &self,
        m: &mut TransactionMetadata,
        timeout_ms: i32,
        expected: Option<ProducerIdAndEpoch>,
    ) -> Result<TxnTransitMetadata> {
        if m.pending_transition_in_progress() {
            return Err(kafka(ErrorCode::ConcurrentTransactions, "a state transition is in progress"));
        }
        if let Some(e) = expected {
            let valid = m.producer_epoch() == crate::txn::metadata::NO_PRODUCER_EPOCH
                || e.producer_id == m.producer_id()
                || (e.producer_id == m.previous_producer_id() && crate::txn::is_epoch_exhausted(e.epoch));
            if !valid {
                return Err(kafka(
                    ErrorCode::ProducerFenced,
                    format!(
                        "expected producer {} is not producer {} of this transactional id",
                        e.producer_id,
                        m.producer_id()
                    ),
                ));
            }
        }
        match m.state() {
            TransactionState::PrepareAbort | TransactionState::PrepareCommit => {
                Err(kafka(ErrorCode::ConcurrentTransactions, "the previous transaction is being completed"))
            }
            TransactionState::CompleteAbort | TransactionState::CompleteCommit | TransactionState::Empty => {
                if m.is_producer_epoch_exhausted() && expected.is_none_or(|e| e.epoch == m.producer_epoch()) {
                    let new_pid = self.generate_producer_id()?;
                    m.prepare_producer_id_rotation(new_pid, timeout_ms, self.now(), expected.is_some())
                } else {
                    m.prepare_increment_producer_epoch(timeout_ms, expected, self.now())
                }
            }
            TransactionState::Ongoing => m.prepare_fence_producer_epoch(),
            TransactionState::Dead | TransactionState::PrepareEpochFence => Err(kafka(
                ErrorCode::UnknownServerError,
                format!("transactional id {} is in illegal state {}", m.transactional_id(), m.state()),
            )),
        }
    }

    // --------------------------------------------------------- AddPartitionsToTxn

    /// AddPartitionsToTxn: adds partitions to the producer's transaction (starting one) and
    /// persists it before any data is written there, so the coordinator can always finish what
    /// a producer started.
    pub fn add_partitions_to_txn(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: &[TxnTopicPartition],
        client_version: TransactionVersion,
    ) -> Result<()> {
        Self::validate_id(transactional_id)?;
        let meta = self.get(transactional_id).ok_or_else(|| {
            kafka(ErrorCode::InvalidProducerIdMapping, format!("unknown transactional id {transactional_id}"))
        })?;
        let transit = {
            let mut m = meta.lock();
            Self::check_producer(&m, producer_id, producer_epoch)?;
            if m.pending_transition_in_progress()
                || matches!(m.state(), TransactionState::PrepareCommit | TransactionState::PrepareAbort)
            {
                return Err(kafka(
                    ErrorCode::ConcurrentTransactions,
                    "the previous transaction is being completed",
                ));
            }
            if m.state() == TransactionState::Ongoing
                && partitions.iter().all(|p| m.topic_partitions().contains(p))
            {
                return Ok(());
            }
            m.prepare_add_partitions(partitions.iter().cloned(), self.now(), client_version)?
        };
        self.persist(&meta, transit)
    }

    fn check_producer(m: &TransactionMetadata, producer_id: i64, producer_epoch: i16) -> Result<()> {
        if m.producer_id() != producer_id {
            return Err(kafka(
                ErrorCode::InvalidProducerIdMapping,
                format!(
                    "producer {producer_id} is not the producer of transactional id {}",
                    m.transactional_id()
                ),
            ));
        }
        if m.producer_epoch() != producer_epoch {
            return Err(kafka(
                ErrorCode::ProducerFenced,
                format!(
                    "producer {producer_id} epoch {producer_epoch} is fenced by epoch {} of transactional id {}",
                    m.producer_epoch(),
                    m.transactional_id()
                ),
            ));
        }
        Ok(())
    }

    /// KIP-890 part 1 (AddPartitionsToTxn with verifyOnly): which of `partitions` are in the
    /// producer's ongoing transaction. A partition that is not gets TRANSACTION_ABORTABLE.
    pub fn verify_partitions(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: &[TxnTopicPartition],
    ) -> Result<Vec<(TxnTopicPartition, ErrorCode)>> {
        Self::validate_id(transactional_id)?;
        let meta = self.get(transactional_id).ok_or_else(|| {
            kafka(ErrorCode::InvalidProducerIdMapping, format!("unknown transactional id {transactional_id}"))
        })?;
        let m = meta.lock();
        Self::check_producer(&m, producer_id, producer_epoch)?;
        if matches!(m.state(), TransactionState::PrepareCommit | TransactionState::PrepareAbort) {
            return Err(kafka(ErrorCode::ConcurrentTransactions, "the transaction is being completed"));
        }
        Ok(partitions
            .iter()
            .map(|p| {
                let code = if m.topic_partitions().contains(p) {
                    ErrorCode::None
                } else {
                    ErrorCode::TransactionAbortable
                };
                (p.clone(), code)
            })
            .collect())
    }

    // ------------------------------------------------------------------- EndTxn

    /// EndTxn from a client: commit (`commit = true`) or abort the transaction. Returns the
    /// producer id and epoch to use for the next transaction (with transaction version 2 the
    /// epoch was bumped).
    pub fn end_txn(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        client_version: TransactionVersion,
    ) -> Result<ProducerIdAndEpoch> {
        self.end_transaction(transactional_id, producer_id, producer_epoch, commit, true, client_version)
    }

    fn end_transaction(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        from_client: bool,
        client_version: TransactionVersion,
    ) -> Result<ProducerIdAndEpoch> {
        Self::validate_id(transactional_id)?;
        let meta = self.get(transactional_id).ok_or_else(|| {
            kafka(ErrorCode::InvalidProducerIdMapping, format!("unknown transactional id {transactional_id}"))
        })?;
        let (transit, fenced) = {
            let mut m = meta.lock();
            let decision = if client_version.supports_epoch_bump() {
                self.prepare_end_v2(&mut m, producer_id, producer_epoch, commit, from_client, client_version)?
            } else {
                self.prepare_end_v1(&mut m, producer_id, producer_epoch, commit, from_client)?
            };
            match decision {
                EndDecision::Done => {
                    return Ok(ProducerIdAndEpoch {
                        producer_id: m.producer_id(),
                        epoch: m.producer_epoch(),
                    });
                }
                EndDecision::Prepare { transit, fenced } => (transit, fenced),
            }
        };
        // A commit must not be decided before the data it commits is durable: once the
        // PrepareCommit record is, the commit is carried out even after a crash.
        if transit.txn_state == TransactionState::PrepareCommit {
            let partitions: Vec<TxnTopicPartition> = transit.topic_partitions.iter().cloned().collect();
            if let Err(e) = self.markers.sync_partitions(&partitions) {
                meta.lock().cancel_pending_transition();
                return Err(e);
            }
        }
        // Phase one: the decision is durable before any marker is written.
        if let Err(e) = self.persist(&meta, transit.clone()) {
            if fenced {
                meta.lock().mark_failed_epoch_fence();
            }
            return Err(e);
        }
        if transit.txn_state == TransactionState::PrepareCommit {
            crash_point(CrashPoint::AfterPrepareCommit);
        }
        // Phase two: markers, then the completion record — by this thread, or by another one
        // that got there first (then waiting for it means the transaction is complete, or
        // still prepared if that thread failed, when this returns).
        self.send_markers_and_complete(&meta, true)?;
        // What the producer continues with, from the decision itself: by now the metadata may
        // belong to a newer instance of the producer.
        Ok(
            if transit.client_transaction_version.supports_epoch_bump()
                && transit.next_producer_id != NO_PRODUCER_ID
            {
                ProducerIdAndEpoch { producer_id: transit.next_producer_id, epoch: 0 }
            } else {
                ProducerIdAndEpoch { producer_id: transit.producer_id, epoch: transit.producer_epoch }
            },
        )
    }

    /// EndTxn under transaction versions 0/1 (Kafka's `endTransactionWithTV1`).
    fn prepare_end_v1(
        &self,
        m: &mut TransactionMetadata,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        from_client: bool,
    ) -> Result<EndDecision> {
        if m.producer_id() != producer_id {
            return Err(kafka(
                ErrorCode::InvalidProducerIdMapping,
                "producer id does not match the transactional id",
            ));
        }
        // Clients must match the epoch exactly; the coordinator's own fence carries a newer one.
        if (from_client && producer_epoch != m.producer_epoch()) || producer_epoch < m.producer_epoch() {
            return Err(kafka(
                ErrorCode::ProducerFenced,
                format!("producer epoch {producer_epoch} is fenced by epoch {}", m.producer_epoch()),
            ));
        }
        let fencing = m.pending_state() == Some(TransactionState::PrepareEpochFence);
        if m.pending_transition_in_progress() && !fencing {
            return Err(kafka(ErrorCode::ConcurrentTransactions, "a state transition is in progress"));
        }
        match (m.state(), commit) {
            (TransactionState::Ongoing, _) => {
                self.decide_end(m, commit, fencing, producer_epoch, false, TransactionVersion::Tv0)
            }
            // A retry of an EndTxn whose response was lost.
            (TransactionState::CompleteCommit, true) | (TransactionState::CompleteAbort, false) => {
                Ok(EndDecision::Done)
            }
            (TransactionState::PrepareCommit, true) | (TransactionState::PrepareAbort, false) => {
                Err(kafka(ErrorCode::ConcurrentTransactions, "the transaction is being completed"))
            }
            (TransactionState::Dead | TransactionState::PrepareEpochFence, _) => Err(kafka(
                ErrorCode::UnknownServerError,
                format!("transactional id {} is in illegal state {}", m.transactional_id(), m.state()),
            )),
            (state, _) => Err(kafka(
                ErrorCode::InvalidTxnState,
                format!(
                    "transactional id {} is {state}; cannot {}",
                    m.transactional_id(),
                    if commit { "commit" } else { "abort" }
                ),
            )),
        }
    }

    /// EndTxn under transaction version 2 (Kafka's `endTransaction`): the epoch is bumped on
    /// every EndTxn, and a retry is recognised by the epoch being one behind.
    fn prepare_end_v2(
        &self,
        m: &mut TransactionMetadata,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        from_client: bool,
        client_version: TransactionVersion,
    ) -> Result<EndDecision> {
        let fencing = m.pending_state() == Some(TransactionState::PrepareEpochFence);
        let retry_on_overflow = !fencing
            && m.previous_producer_id() == producer_id
            && producer_epoch == i16::MAX - 1
            && m.producer_epoch() == 0;
        let retry_on_bump = !fencing && i32::from(m.producer_epoch()) == i32::from(producer_epoch) + 1;
        let valid_epoch = if fencing {
            (!from_client || producer_epoch == m.producer_epoch()) && producer_epoch >= m.producer_epoch()
        } else {
            match m.state() {
                TransactionState::Ongoing
                | TransactionState::Empty
                | TransactionState::Dead
                | TransactionState::PrepareEpochFence => producer_epoch == m.producer_epoch(),
                TransactionState::PrepareCommit | TransactionState::PrepareAbort => retry_on_bump,
                TransactionState::CompleteCommit | TransactionState::CompleteAbort => {
                    retry_on_bump || retry_on_overflow || producer_epoch == m.producer_epoch()
                }
            }
        };
        let is_retry = retry_on_bump || retry_on_overflow;
        if m.producer_id() != producer_id && !retry_on_overflow {
            return Err(kafka(
                ErrorCode::InvalidProducerIdMapping,
                "producer id does not match the transactional id",
            ));
        }
        if !valid_epoch {
            return Err(kafka(
                ErrorCode::ProducerFenced,
                format!("producer epoch {producer_epoch} is fenced by epoch {}", m.producer_epoch()),
            ));
        }
        if m.pending_transition_in_progress() && !fencing {
            return Err(kafka(ErrorCode::ConcurrentTransactions, "a state transition is in progress"));
        }
        let invalid = |m: &TransactionMetadata| {
            kafka(
                ErrorCode::InvalidTxnState,
                format!(
                    "transactional id {} is {}; cannot {}",
                    m.transactional_id(),
                    m.state(),
                    if commit { "commit" } else { "abort" }
                ),
            )
        };
        match (m.state(), commit) {
            (TransactionState::Ongoing, _) => {
                self.decide_end(m, commit, fencing, producer_epoch, false, client_version)
            }
            (TransactionState::CompleteCommit, true) if is_retry => Ok(EndDecision::Done),
            (TransactionState::CompleteCommit, true) => Err(invalid(m)),
            (TransactionState::CompleteCommit, false) if is_retry => Err(invalid(m)),
            (TransactionState::CompleteCommit, false) => {
                self.decide_end(m, false, false, producer_epoch, true, client_version)
            }
            (TransactionState::CompleteAbort, false) if is_retry => Ok(EndDecision::Done),
            (TransactionState::CompleteAbort, false) => {
                self.decide_end(m, false, false, producer_epoch, true, client_version)
            }
            (TransactionState::CompleteAbort, true) => Err(invalid(m)),
            (TransactionState::PrepareCommit, true) | (TransactionState::PrepareAbort, false) => {
                Err(kafka(ErrorCode::ConcurrentTransactions, "the transaction is being completed"))
            }
            (TransactionState::PrepareCommit, false) | (TransactionState::PrepareAbort, true) => {
                Err(invalid(m))
            }
            (TransactionState::Empty, false) => {
                self.decide_end(m, false, false, producer_epoch, true, client_version)
            }
            (TransactionState::Empty, true) => Err(invalid(m)),
            (TransactionState::Dead | TransactionState::PrepareEpochFence, _) => Err(kafka(
                ErrorCode::UnknownServerError,
                format!("transactional id {} is in illegal state {}", m.transactional_id(), m.state()),
            )),
        }
    }

    /// Prepares PrepareCommit / PrepareAbort (taking over a pending epoch fence for an abort).
    fn decide_end(
        &self,
        m: &mut TransactionMetadata,
        commit: bool,
        fencing: bool,
        producer_epoch: i16,
        no_partition_added: bool,
        client_version: TransactionVersion,
    ) -> Result<EndDecision> {
        if !matches!(m.state(), TransactionState::Ongoing) && !no_partition_added {
            let what = if commit { "commit" } else { "abort" };
            return Err(kafka(
                ErrorCode::InvalidTxnState,
                format!("transactional id {} is {}; cannot {what}", m.transactional_id(), m.state()),
            ));
        }
        let next_state =
            if commit { TransactionState::PrepareCommit } else { TransactionState::PrepareAbort };
        let next_producer_id =
            if client_version.supports_epoch_bump() && !fencing && m.is_producer_epoch_exhausted() {
                self.generate_producer_id()?
            } else {
                NO_PRODUCER_ID
            };
        if fencing && !commit {
            let fence = TxnTransitMetadata {
                producer_epoch,
                txn_state: TransactionState::PrepareEpochFence,
                ..m.prepare_no_transit()
            };
            let transit =
                m.prepare_abort_after_epoch_fence(&fence, client_version, next_producer_id, self.now())?;
            return Ok(EndDecision::Prepare { transit, fenced: true });
        }
        let transit = m.prepare_abort_or_commit(
            next_state,
            client_version,
            next_producer_id,
            self.now(),
            no_partition_added,
        )?;
        Ok(EndDecision::Prepare { transit, fenced: false })
    }

    /// Claims the completion of `transactional_id`'s prepared transaction; with `wait`, blocks
    /// while another thread holds it, else gives up (`None`).
    fn claim_completion(&self, transactional_id: &str, wait: bool) -> Option<CompletionClaim<'_>> {
        let mut completing = self.completing.lock();
        while completing.contains(transactional_id) {
            if !wait {
                return None;
            }
            self.completion_done.wait(&mut completing);
        }
        completing.insert(transactional_id.to_string());
        Some(CompletionClaim { coordinator: self, transactional_id: transactional_id.to_string() })
    }

    /// Writes the markers of a prepared transaction and its completion record. Partitions whose
    /// marker was written are removed from the metadata as they go, so a retry after a failure
    /// only writes the missing ones (markers are idempotent anyway: a repeated marker finds no
    /// open transaction and changes nothing visible). Only one thread completes a given
    /// transactional id at a time (`wait`: block for the other one, else leave it the work).
    /// Returns whether this call completed a transaction (`false`: another thread is on it, or
    /// it is no longer prepared).
    fn send_markers_and_complete(&self, meta: &Shared, wait: bool) -> Result<bool> {
        let id = meta.lock().transactional_id().to_string();
        let Some(_claim) = self.claim_completion(&id, wait) else {
            return Ok(false);
        };
        let (partitions, producer_id, producer_epoch, commit, tv) = {
            let m = meta.lock();
            // Under the claim nothing but a completion leaves Prepare*, and no other transition
            // is pending in it.
            let commit = match m.state() {
                TransactionState::PrepareCommit => true,
                TransactionState::PrepareAbort => false,
                _ => return Ok(false),
            };
            let tps: Vec<TxnTopicPartition> = m.topic_partitions().iter().cloned().collect();
            (tps, m.producer_id(), m.producer_epoch(), commit, m.client_transaction_version())
        };
        // The markers carry the epoch the transaction ends with. Under TV2 the prepare bumped it,
        // and the markers carry the bumped epoch so the partition fences stale writes.
        let marker_epoch = producer_epoch;
        // Every marker is attempted (Kafka sends them to every partition leader independently);
        // the ones written become durable in one round, and only then are their partitions
        // dropped from the transaction (Kafka's TransactionMarkerChannelManager drops a partition
        // once its marker is acknowledged), so a retry writes only the missing markers.
        let mut written = Vec::with_capacity(partitions.len());
        let mut failure = None;
        for (i, tp) in partitions.iter().enumerate() {
            match self.markers.write_marker(tp, producer_id, marker_epoch, self.coordinator_epoch, commit, tv)
            {
                Ok(()) => written.push(tp.clone()),
                Err(e) => {
                    log::warn!("writing the marker of {id} to {}-{}: {e}", tp.topic, tp.partition);
                    failure.get_or_insert(e);
                }
            }
            if commit && i == 0 {
                crash_point(CrashPoint::AfterFirstCommitMarker);
            }
        }
        self.markers.sync_partitions(&written)?;
        for tp in &written {
            meta.lock().remove_partition(tp)?;
        }
        if let Some(e) = failure {
            return Err(e);
        }
        let transit = meta.lock().prepare_complete(self.now())?;
        self.persist_with(meta, transit, false)?;
        log::debug!("completed transaction of {id}");
        Ok(true)
    }

    /// Completes every prepared transaction (after a restart, or when markers failed earlier);
    /// returns how many were completed.
    pub fn complete_prepared(&self) -> usize {
        let all: Vec<Shared> = self.txns.lock().values().cloned().collect();
        let mut done = 0;
        for meta in all {
            let prepared = {
                let m = meta.lock();
                !m.pending_transition_in_progress()
                    && matches!(m.state(), TransactionState::PrepareCommit | TransactionState::PrepareAbort)
            };
            if prepared {
                match self.send_markers_and_complete(&meta, false) {
                    Ok(completed) => done += usize::from(completed),
                    Err(e) => log::warn!("completing transaction of {}: {e}", meta.lock().transactional_id()),
                }
            }
        }
        done
    }

    // --------------------------------------------------------- timeouts, expiry

    /// Aborts every ongoing transaction older than its timeout, fencing the producer with an
    /// epoch bump so the zombie's later writes fail. Returns how many were aborted.
    pub fn abort_timed_out_transactions(&self) -> usize {
        let now = self.now();
        let all: Vec<Shared> = self.txns.lock().values().cloned().collect();
        let mut aborted = 0;
        for meta in all {
            let fence = {
                let mut m = meta.lock();
                let timed_out = m.state() == TransactionState::Ongoing
                    && !m.pending_transition_in_progress()
                    && m.txn_start_timestamp() + i64::from(m.txn_timeout_ms()) < now;
                if !timed_out {
                    continue;
                }
                match m.prepare_fence_producer_epoch() {
                    // Not a client request: the coordinator's transaction version applies
                    // (Kafka's abortTimedOutTransactions, as for the fence of InitProducerId).
                    Ok(f) => (f, m.transactional_id().to_string(), self.config.transaction_version_level),
                    Err(e) => {
                        log::warn!("cannot fence timed-out transaction of {}: {e}", m.transactional_id());
                        continue;
                    }
                }
            };
            let (transit, id, tv) = fence;
            match self.end_transaction(&id, transit.producer_id, transit.producer_epoch, false, false, tv) {
                Ok(_) => {
                    log::info!("aborted the timed-out transaction of {id}");
                    aborted += 1;
                }
                Err(e) => log::warn!("aborting the timed-out transaction of {id}: {e}"),
            }
        }
        aborted
    }

    /// Removes transactional ids idle (Empty / Complete*) for `transactional.id.expiration.ms`,
    /// writing a tombstone for each. Returns how many expired.
    pub fn expire_transactional_ids(&self) -> usize {
        let now = self.now();
        let all: Vec<(String, Shared)> =
            self.txns.lock().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let mut expired = 0;
        for (id, meta) in all {
            let idle = {
                let mut m = meta.lock();
                let eligible = matches!(
                    m.state(),
                    TransactionState::Empty
                        | TransactionState::CompleteCommit
                        | TransactionState::CompleteAbort
                ) && !m.pending_transition_in_progress()
                    && now - m.txn_last_update_timestamp() >= self.config.transactional_id_expiration_ms;
                eligible && m.prepare_dead().is_ok()
            };
            if !idle {
                continue;
            }
            match self.store.write_tombstone(&id, now) {
                Ok(()) => {
                    self.txns.lock().remove(&id);
                    expired += 1;
                }
                Err(e) => {
                    meta.lock().cancel_pending_transition();
                    log::warn!("expiring transactional id {id}: {e}");
                }
            }
        }
        expired
    }

    // ------------------------------------------------------------------ queries

    /// The state of one transactional id.
    pub fn describe(&self, transactional_id: &str) -> Option<TransactionDescription> {
        let meta = self.get(transactional_id)?;
        let m = meta.lock();
        Some(describe(&m))
    }

    /// Every transactional id, sorted.
    pub fn list(&self) -> Vec<TransactionDescription> {
        let mut out: Vec<TransactionDescription> =
            self.txns.lock().values().map(|m| describe(&m.lock())).collect();
        out.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        out
    }
}

fn describe(m: &TransactionMetadata) -> TransactionDescription {
    TransactionDescription {
        transactional_id: m.transactional_id().to_string(),
        producer_id: m.producer_id(),
        producer_epoch: m.producer_epoch(),
        state: m.state(),
        partitions: m.topic_partitions().iter().cloned().collect::<BTreeSet<_>>().into_iter().collect(),
        timeout_ms: m.txn_timeout_ms(),
        start_ms: m.txn_start_timestamp(),
        last_update_ms: m.txn_last_update_timestamp(),
    }
}

/// Where a test can have the process killed in the middle of a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CrashPoint {
    /// PrepareCommit is durable, no marker written yet.
    AfterPrepareCommit,
    /// One commit marker written (the others and CompleteCommit not yet).
    AfterFirstCommitMarker,
}

/// Test hook for crash tests of the two-phase commit, armed only by the environment variable
/// `EOSLOG_FAILPOINT` = `after-prepare-commit` or `after-first-commit-marker`, optionally with
/// `@n` to fire the n-th time the point is reached in this process (default: the first).
///
/// When it fires, the thread announces it on stderr (`EOSLOG_FAILPOINT <point> reached`) and
/// stops, so that the test driving the process can kill it with a real SIGKILL at exactly this
/// step; if nobody does within a minute the process aborts. The variable is read once: EndTxn
/// pays a load and a compare when it is not set, and the append path nothing.
fn crash_point(point: CrashPoint) {
    use std::io::Write;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static ARMED: OnceLock<Option<(CrashPoint, u64)>> = OnceLock::new();
    static HITS: AtomicU64 = AtomicU64::new(0);
    let armed = ARMED.get_or_init(|| {
        let v = std::env::var("EOSLOG_FAILPOINT").ok()?;
        let (name, nth) = match v.split_once('@') {
            Some((n, k)) => (n.to_string(), k.trim().parse().ok()?),
            None => (v, 1),
        };
        let point = match name.trim() {
            "after-prepare-commit" => CrashPoint::AfterPrepareCommit,
            "after-first-commit-marker" => CrashPoint::AfterFirstCommitMarker,
            _ => return None,
        };
        Some((point, nth))
    });
    if let Some((armed_point, nth)) = *armed
        && armed_point == point
        && HITS.fetch_add(1, Ordering::SeqCst) + 1 == nth
    {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "EOSLOG_FAILPOINT {point:?} reached (pid {})", std::process::id());
        let _ = err.flush();
        drop(err);
        std::thread::sleep(std::time::Duration::from_secs(60));
        std::process::abort();
    }
}

/// What an EndTxn request leads to.
enum EndDecision {
    /// Nothing to write: a retry of a finished request.
    Done,
    /// Write this transition (phase one), then the markers.
    Prepare { transit: TxnTransitMetadata, fenced: bool },
}

#[cfg(test)]
mod tests {
    //! Races between two threads completing the same prepared transaction (a client's EndTxn
    //! and the background pass, or two passes). They are made deterministic with a marker
    //! writer that runs a hook — "the other thread" — in the middle of the first marker write.
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::batch::RecordBatchBuilder;
    use crate::clock::ManualClock;
    use crate::log::{CommittedRecords, IsolationLevel};
    use crate::{Engine, EngineConfig, TopicConfig};

    const ID: &str = "racer";

    type Hook = Box<dyn FnOnce() + Send>;

    /// Writes markers straight to the engine's partitions; runs `hook` once, at the start of
    /// the next marker write, and `flush_hook` at the next flush (while a PrepareCommit is
    /// pending); fails marker writes while `fail` is set.
    struct HookMarkers {
        engine: Engine,
        hook: Mutex<Option<Hook>>,
        flush_hook: Mutex<Option<Hook>>,
        fail: AtomicBool,
    }

    impl fmt::Debug for HookMarkers {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("HookMarkers")
        }
    }

    impl MarkerWriter for HookMarkers {
        fn write_marker(
            &self,
            tp: &TxnTopicPartition,
            producer_id: i64,
            producer_epoch: i16,
            coordinator_epoch: i32,
            commit: bool,
            tv: TransactionVersion,
        ) -> Result<()> {
            let hook = self.hook.lock().take();
            if let Some(hook) = hook {
                hook();
            }
            if self.fail.load(Ordering::SeqCst) {
                return Err(kafka(ErrorCode::KafkaStorageError, "injected marker failure"));
            }
            let log = self.engine.partition(&tp.topic, tp.partition)?;
            log.append_marker(producer_id, producer_epoch, coordinator_epoch, commit, tv.level() as u8)?;
            Ok(())
        }

        fn sync_partitions(&self, _: &[TxnTopicPartition]) -> Result<()> {
            let hook = self.flush_hook.lock().take();
            if let Some(hook) = hook {
                hook();
            }
            Ok(())
        }
    }

    struct Setup {
        _dir: tempfile::TempDir,
        engine: Engine,
        clock: Arc<ManualClock>,
        markers: Arc<HookMarkers>,
        coordinator: Arc<TransactionCoordinator>,
    }

    /// An engine with topic `out` (2 partitions) and a coordinator of its own on topic `txnlog`
    /// whose markers go through [`HookMarkers`].
    fn setup() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(1_700_000_000_000);
        let config = EngineConfig {
            clock: clock.clone(),
            transaction_abort_timed_out_interval_ms: 3_600_000,
            // The batches bypass the engine's coordinator (see `produce`).
            transaction_verification_enable: false,
            ..EngineConfig::default()
        };
        let engine = Engine::open(dir.path(), config).unwrap();
        engine.create_topic("out", 2, TopicConfig::default()).unwrap();
        engine.create_topic("txnlog", 1, TopicConfig::default()).unwrap();
        let markers = Arc::new(HookMarkers {
            engine: engine.clone(),
            hook: Mutex::new(None),
            flush_hook: Mutex::new(None),
            fail: AtomicBool::new(false),
        });
        let coordinator = Arc::new(
            TransactionCoordinator::load(
                engine.partition("txnlog", 0).unwrap(),
                markers.clone(),
                clock.clone(),
                CoordinatorConfig::default(),
            )
            .unwrap(),
        );
        Setup { _dir: dir, engine, clock, markers, coordinator }
    }

    fn tp(p: i32) -> TxnTopicPartition {
        TxnTopicPartition::new("out", p)
    }

    /// Appends a transactional batch (the coordinator under test is not the engine's, so the
    /// batch goes straight to the log, unverified).
    fn produce(s: &Setup, p: i32, pe: ProducerIdAndEpoch, seq: i32, value: &str) {
        let mut b = RecordBatchBuilder::new().producer(pe.producer_id, pe.epoch, seq).transactional(true);
        b.append(1_700_000_000_000, None, Some(value.as_bytes()), &[]);
        s.engine.partition("out", p).unwrap().append(&b.build().unwrap()).unwrap();
    }

    /// What a read_committed consumer sees (reads stop at segment ends: loop).
    fn committed(s: &Setup, p: i32) -> Vec<String> {
        let log = s.engine.partition("out", p).unwrap();
        let (mut out, mut offset) = (Vec::new(), 0);
        loop {
            let data = log.read(offset, 1 << 20, IsolationLevel::ReadCommitted).unwrap();
            if data.records.is_empty() {
                return out;
            }
            let c = CommittedRecords::from_fetch(&data, offset).unwrap();
            out.extend(c.records.into_iter().map(|r| String::from_utf8(r.value.unwrap()).unwrap()));
            offset = c.next_offset;
        }
    }

    fn marker_count(s: &Setup, p: i32) -> usize {
        let log = s.engine.partition("out", p).unwrap();
        let (mut n, mut offset) = (0, 0);
        loop {
            let data = log.read(offset, 1 << 20, IsolationLevel::LogEnd).unwrap();
            if data.records.is_empty() {
                return n;
            }
            for b in data.records.batches() {
                let b = b.unwrap();
                n += usize::from(b.is_control());
                offset = b.next_offset();
            }
        }
    }

    /// The background pass runs while the client's EndTxn is writing its markers: the
    /// transaction completes once, with one marker per partition, and the client is answered
    /// NONE (not a spurious error for a transaction that committed).
    #[test]
    fn background_pass_during_end_txn_does_not_fail_the_commit() {
        for tv in [TransactionVersion::Tv0, TransactionVersion::Tv2] {
            let s = setup();
            let c = &s.coordinator;
            let p = c.init_producer_id(Some(ID), 60_000, None).unwrap();
            c.add_partitions_to_txn(ID, p.producer_id, p.epoch, &[tp(0), tp(1)], tv).unwrap();
            produce(&s, 0, p, 0, "a");
            produce(&s, 1, p, 0, "b");
            let other = c.clone();
            *s.markers.hook.lock() = Some(Box::new(move || {
                other.complete_prepared();
            }));
            let next = c.end_txn(ID, p.producer_id, p.epoch, true, tv).unwrap();
            let bumped = if tv.supports_epoch_bump() { p.epoch + 1 } else { p.epoch };
            assert_eq!(next, ProducerIdAndEpoch::new(p.producer_id, bumped));
            assert_eq!(c.describe(ID).unwrap().state, TransactionState::CompleteCommit);
            assert_eq!((committed(&s, 0), committed(&s, 1)), (vec!["a".to_string()], vec!["b".to_string()]));
            assert_eq!(
                (marker_count(&s, 0), marker_count(&s, 1)),
                (1, 1),
                "{tv:?}: one marker per partition"
            );
        }
    }

    /// Two passes complete the same prepared transaction; the second one, slower, must not write
    /// its COMMIT marker after the client started its next transaction with the same producer
    /// epoch (TV1): that stale marker would commit the next transaction's data, which the client
    /// then aborts — aborted data visible (the KAFKA-17754 shape).
    #[test]
    fn stale_completion_does_not_commit_the_next_transaction() {
        let tv = TransactionVersion::Tv0;
        let s = setup();
        let c = &s.coordinator;
        let p = c.init_producer_id(Some(ID), 60_000, None).unwrap();
        c.add_partitions_to_txn(ID, p.producer_id, p.epoch, &[tp(0)], tv).unwrap();
        produce(&s, 0, p, 0, "first");
        // The first attempt to write the markers fails: the transaction stays prepared.
        s.markers.fail.store(true, Ordering::SeqCst);
        assert!(c.end_txn(ID, p.producer_id, p.epoch, true, tv).is_err());
        s.markers.fail.store(false, Ordering::SeqCst);
        assert_eq!(c.describe(ID).unwrap().state, TransactionState::PrepareCommit);
        // Pass 1 is about to write its marker when pass 2 completes the transaction and the
        // client begins the next one.
        let started = Arc::new(OnceLock::new());
        let (other, flag) = (c.clone(), started.clone());
        let s2 = Setup {
            _dir: tempfile::tempdir().unwrap(),
            engine: s.engine.clone(),
            clock: s.clock.clone(),
            markers: s.markers.clone(),
            coordinator: c.clone(),
        };
        *s.markers.hook.lock() = Some(Box::new(move || {
            other.complete_prepared();
            if other.add_partitions_to_txn(ID, p.producer_id, p.epoch, &[tp(0)], tv).is_ok() {
                produce(&s2, 0, p, 1, "next");
                let _ = flag.set(());
            }
        }));
        c.complete_prepared();
        assert_eq!(committed(&s, 0), ["first"]);
        // The client's next transaction (begun now if the race did not let it begin earlier).
        if started.get().is_none() {
            assert_eq!(c.describe(ID).unwrap().state, TransactionState::CompleteCommit);
            c.add_partitions_to_txn(ID, p.producer_id, p.epoch, &[tp(0)], tv).unwrap();
            produce(&s, 0, p, 1, "next");
        }
        c.end_txn(ID, p.producer_id, p.epoch, false, tv).unwrap();
        assert_eq!(committed(&s, 0), ["first"], "the aborted transaction became visible");
        let log = s.engine.partition("out", 0).unwrap();
        assert_eq!(log.last_stable_offset(), log.log_end_offset());
    }

    /// shouldNotAbortExpiredTransactionsThatHaveAPendingStateTransition, and
    /// CONCURRENT_TRANSACTIONS for every request while a transition is pending (here the
    /// PrepareCommit of an EndTxn, between its preparation and its write).
    #[test]
    fn pending_transition_blocks_requests_and_the_timeout() {
        for tv in [TransactionVersion::Tv0, TransactionVersion::Tv2] {
            let s = setup();
            let c = &s.coordinator;
            let p = c.init_producer_id(Some(ID), 1_000, None).unwrap();
            c.add_partitions_to_txn(ID, p.producer_id, p.epoch, &[tp(0)], tv).unwrap();
            produce(&s, 0, p, 0, "a");
            s.clock.advance(5_000);
            let (other, seen) = (c.clone(), Arc::new(Mutex::new(Vec::new())));
            let seen2 = seen.clone();
            *s.markers.flush_hook.lock() = Some(Box::new(move || {
                let code = |r: Result<ProducerIdAndEpoch>| r.map_or_else(|e| e.code(), |_| ErrorCode::None);
                let mut seen = seen2.lock();
                seen.push(code(other.init_producer_id(Some(ID), 1_000, None)));
                seen.push(code(other.init_producer_id(Some(ID), 1_000, Some(p))));
                seen.push(code(
                    other.add_partitions_to_txn(ID, p.producer_id, p.epoch, &[tp(1)], tv).map(|()| p),
                ));
                seen.push(code(other.end_txn(ID, p.producer_id, p.epoch, true, tv)));
                seen.push(code(other.end_txn(ID, p.producer_id, p.epoch, false, tv)));
                assert_eq!(other.abort_timed_out_transactions(), 0, "a pending transition is not aborted");
                assert_eq!(other.complete_prepared(), 0);
                assert_eq!(other.describe(ID).unwrap().state, TransactionState::Ongoing);
            }));
            c.end_txn(ID, p.producer_id, p.epoch, true, tv).unwrap();
            assert_eq!(*seen.lock(), vec![ErrorCode::ConcurrentTransactions; 5], "{tv:?}");
            assert_eq!(c.describe(ID).unwrap().state, TransactionState::CompleteCommit);
            assert_eq!(committed(&s, 0), ["a"]);
        }
    }
}
