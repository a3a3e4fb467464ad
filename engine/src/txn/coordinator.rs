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

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex;

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

    /// Writes a prepared transition and completes it; on a failed write the pending state is
    /// dropped so the id is usable again (the caller gets the error).
    fn persist(&self, meta: &Shared, transit: TxnTransitMetadata) -> Result<()> {
        let id = meta.lock().transactional_id().to_string();
        match self.store.write_transition(&id, &transit, self.now()) {
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
        // Phase two: markers, then the completion record.
        self.send_markers_and_complete(&meta)?;
        let m = meta.lock();
        Ok(ProducerIdAndEpoch { producer_id: m.producer_id(), epoch: m.producer_epoch() })
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

    /// Writes the markers of a prepared transaction and its completion record. Partitions whose
    /// marker was written are removed from the metadata as they go, so a retry after a failure
    /// only writes the missing ones (markers are idempotent anyway: a repeated marker finds no
    /// open transaction and changes nothing visible).
    fn send_markers_and_complete(&self, meta: &Shared) -> Result<()> {
        let (partitions, producer_id, producer_epoch, commit, tv) = {
            let m = meta.lock();
            let commit = match m.state() {
                TransactionState::PrepareCommit => true,
                TransactionState::PrepareAbort => false,
                other => {
                    return Err(kafka(
                        ErrorCode::UnknownServerError,
                        format!("cannot send markers in state {other}"),
                    ));
                }
            };
            let tps: Vec<TxnTopicPartition> = m.topic_partitions().iter().cloned().collect();
            (tps, m.producer_id(), m.producer_epoch(), commit, m.client_transaction_version())
        };
        // The markers carry the epoch the transaction ends with. Under TV2 the prepare bumped it,
        // and the markers carry the bumped epoch so the partition fences stale writes.
        let marker_epoch = producer_epoch;
        for (i, tp) in partitions.iter().enumerate() {
            self.markers.write_marker(tp, producer_id, marker_epoch, self.coordinator_epoch, commit, tv)?;
            if commit && i == 0 {
                crash_point(CrashPoint::AfterFirstCommitMarker);
            }
        }
        let transit = meta.lock().prepare_complete(self.now())?;
        self.persist(meta, transit)?;
        log::debug!("completed transaction of {}", meta.lock().transactional_id());
        Ok(())
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
                match self.send_markers_and_complete(&meta) {
                    Ok(()) => done += 1,
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
                    Ok(f) => (f, m.transactional_id().to_string(), m.client_transaction_version()),
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
