//! The coordinator's record of one transactional id and its two-step transitions (Kafka's
//! `TransactionMetadata` / `TxnTransitMetadata`).
//!
//! # The transition protocol
//! Nothing changes in memory until it is durable. Every operation is two calls:
//! 1. a `prepare_*` method checks the rules, records the target state as *pending* and returns a
//!    [`TxnTransitMetadata`]: the complete new value, which the coordinator writes to
//!    `__transaction_state` (acks = all);
//! 2. when the write succeeded, [`TransactionMetadata::complete_transition_to`] re-checks the
//!    target against the current value and applies it. If the write failed, the coordinator
//!    calls [`TransactionMetadata::cancel_pending_transition`] instead.
//!
//! While a transition is pending every other `prepare_*` is refused with
//! `CONCURRENT_TRANSACTIONS` (51), which clients retry.
//!
//! # Errors
//! Every refusal is an [`Error::Kafka`] carrying the code a
//! coordinator would answer with:
//! - `CONCURRENT_TRANSACTIONS` — another transition is pending;
//! - `PRODUCER_FENCED` — `InitProducerId` carried an expected producer id / epoch that is not the
//!   current one (KIP-360);
//! - `INVALID_TXN_STATE` — the target state cannot be entered from the current state (Kafka's
//!   `validPreviousStates` table), or an operation is not allowed in the current state;
//! - `UNKNOWN_SERVER_ERROR` — the caller broke an invariant that Kafka enforces with
//!   `IllegalStateException` / `IllegalArgumentException` (a negative producer id or epoch, an
//!   exhausted epoch that should have been rotated, a completion that does not match what was
//!   prepared). These indicate a coordinator bug, never a client error.

use std::collections::BTreeSet;
use std::fmt;

use super::state::{TransactionState, TransactionVersion};
use crate::error::{Error, ErrorCode, Result};

/// "No producer id" (Kafka's `RecordBatch.NO_PRODUCER_ID`).
pub const NO_PRODUCER_ID: i64 = -1;
/// "No producer epoch" (Kafka's `RecordBatch.NO_PRODUCER_EPOCH`).
pub const NO_PRODUCER_EPOCH: i16 = -1;

/// Whether `epoch` is too high to be bumped for a client (`epoch ≥ i16::MAX − 1`).
///
/// The last value, `i16::MAX`, is reserved so the coordinator can always fence an existing
/// producer by one more bump; a producer at `i16::MAX − 1` is given a new producer id instead
/// (KIP-360).
pub const fn is_epoch_exhausted(epoch: i16) -> bool {
    epoch >= i16::MAX - 1
}

/// A partition that takes part in a transaction.
///
/// A local type so that `txn` does not depend on the log layer; the lead unifies it with the
/// engine's topic-partition type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxnTopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
}

impl TxnTopicPartition {
    /// A topic-partition.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TxnTopicPartition { topic: topic.into(), partition }
    }
}

impl fmt::Display for TxnTopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// A producer id with one of its epochs (what `InitProducerId` v3+ sends back, KIP-360).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProducerIdAndEpoch {
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub epoch: i16,
}

impl ProducerIdAndEpoch {
    /// A producer id and epoch.
    pub const fn new(producer_id: i64, epoch: i16) -> Self {
        ProducerIdAndEpoch { producer_id, epoch }
    }
}

/// The complete target of one transition: what is written to `__transaction_state` and, once
/// durable, becomes the metadata (Kafka's `TxnTransitMetadata`).
///
/// It is a plain value; building one by hand is only useful for restoring metadata
/// ([`TransactionMetadata::from_transit`]) and for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnTransitMetadata {
    /// Producer id after the transition.
    pub producer_id: i64,
    /// The producer id before the transition (Kafka sets it on every transition); lets a
    /// retried `InitProducerId` after a producer-id rotation be recognised.
    pub previous_producer_id: i64,
    /// With transaction version 2: the producer id the client moves to when this transaction
    /// completes because the epoch overflowed, else [`NO_PRODUCER_ID`].
    pub next_producer_id: i64,
    /// Producer epoch after the transition.
    pub producer_epoch: i16,
    /// The epoch before the last bump, to recognise retries ([`NO_PRODUCER_EPOCH`] if none).
    /// Not persisted in `__transaction_state`: it reads back as [`NO_PRODUCER_EPOCH`].
    pub last_producer_epoch: i16,
    /// Transaction timeout.
    pub txn_timeout_ms: i32,
    /// The state entered.
    pub txn_state: TransactionState,
    /// Partitions of the transaction.
    pub topic_partitions: BTreeSet<TxnTopicPartition>,
    /// When the transaction started (first partition added), −1 if none.
    pub txn_start_timestamp: i64,
    /// When the metadata was last updated (drives `transactional.id.expiration.ms`).
    pub txn_last_update_timestamp: i64,
    /// The transaction version the client used.
    pub client_transaction_version: TransactionVersion,
}

/// The coordinator's state for one transactional id (Kafka's `TransactionMetadata`).
///
/// Not thread-safe by itself: the coordinator holds it under a lock, exactly as Kafka does
/// (`inLock`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionMetadata {
    transactional_id: String,
    producer_id: i64,
    previous_producer_id: i64,
    next_producer_id: i64,
    producer_epoch: i16,
    last_producer_epoch: i16,
    txn_timeout_ms: i32,
    state: TransactionState,
    topic_partitions: BTreeSet<TxnTopicPartition>,
    txn_start_timestamp: i64,
    txn_last_update_timestamp: i64,
    client_transaction_version: TransactionVersion,
    /// The state a prepared, not yet completed transition goes to. Blocks other transitions.
    pending_state: Option<TransactionState>,
    /// An epoch fence was prepared (the epoch was bumped in memory) but its log write failed.
    /// The next fence must not bump again: the bumped epoch was never returned to anyone, and
    /// bumping twice would waste epochs and could exhaust them (Kafka's `hasFailedEpochFence`).
    has_failed_epoch_fence: bool,
}

fn unknown(msg: String) -> Error {
    Error::kafka(ErrorCode::UnknownServerError, msg)
}

impl TransactionMetadata {
    /// Metadata for a transactional id seen for the first time: `Empty`, epoch −1 (the first
    /// `InitProducerId` bumps it to 0), no transaction, client version 0.
    pub fn new(
        transactional_id: impl Into<String>,
        producer_id: i64,
        txn_timeout_ms: i32,
        now_ms: i64,
    ) -> Self {
        TransactionMetadata {
            transactional_id: transactional_id.into(),
            producer_id,
            previous_producer_id: NO_PRODUCER_ID,
            next_producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            last_producer_epoch: NO_PRODUCER_EPOCH,
            txn_timeout_ms,
            state: TransactionState::Empty,
            topic_partitions: BTreeSet::new(),
            txn_start_timestamp: -1,
            txn_last_update_timestamp: now_ms,
            client_transaction_version: TransactionVersion::Tv0,
            pending_state: None,
            has_failed_epoch_fence: false,
        }
    }

    /// Metadata holding exactly `value` (no pending transition): how the coordinator rebuilds
    /// its cache from `__transaction_state`, and how tests set up a state.
    pub fn from_transit(transactional_id: impl Into<String>, value: TxnTransitMetadata) -> Self {
        TransactionMetadata {
            transactional_id: transactional_id.into(),
            producer_id: value.producer_id,
            previous_producer_id: value.previous_producer_id,
            next_producer_id: value.next_producer_id,
            producer_epoch: value.producer_epoch,
            last_producer_epoch: value.last_producer_epoch,
            txn_timeout_ms: value.txn_timeout_ms,
            state: value.txn_state,
            topic_partitions: value.topic_partitions,
            txn_start_timestamp: value.txn_start_timestamp,
            txn_last_update_timestamp: value.txn_last_update_timestamp,
            client_transaction_version: value.client_transaction_version,
            pending_state: None,
            has_failed_epoch_fence: false,
        }
    }

    /// The transactional id.
    pub fn transactional_id(&self) -> &str {
        &self.transactional_id
    }
    /// Current producer id.
    pub fn producer_id(&self) -> i64 {
        self.producer_id
    }
    /// Producer id before the last transition.
    pub fn previous_producer_id(&self) -> i64 {
        self.previous_producer_id
    }
    /// Producer id to move to at the end of this transaction (TV2 epoch overflow), or −1.
    pub fn next_producer_id(&self) -> i64 {
        self.next_producer_id
    }
    /// Current producer epoch.
    pub fn producer_epoch(&self) -> i16 {
        self.producer_epoch
    }
    /// Epoch before the last bump, or −1.
    pub fn last_producer_epoch(&self) -> i16 {
        self.last_producer_epoch
    }
    /// Transaction timeout.
    pub fn txn_timeout_ms(&self) -> i32 {
        self.txn_timeout_ms
    }
    /// Current (durable) state.
    pub fn state(&self) -> TransactionState {
        self.state
    }
    /// Partitions of the current transaction.
    pub fn topic_partitions(&self) -> &BTreeSet<TxnTopicPartition> {
        &self.topic_partitions
    }
    /// Start of the current transaction, or −1.
    pub fn txn_start_timestamp(&self) -> i64 {
        self.txn_start_timestamp
    }
    /// Last update time.
    pub fn txn_last_update_timestamp(&self) -> i64 {
        self.txn_last_update_timestamp
    }
    /// Transaction version the client used for the last transition.
    pub fn client_transaction_version(&self) -> TransactionVersion {
        self.client_transaction_version
    }
    /// The target of the prepared, not yet completed transition.
    pub fn pending_state(&self) -> Option<TransactionState> {
        self.pending_state
    }
    /// Whether a transition is prepared and not yet completed or cancelled.
    pub fn pending_transition_in_progress(&self) -> bool {
        self.pending_state.is_some()
    }
    /// Whether a previous epoch fence failed to be written (the next fence does not bump again).
    pub fn has_failed_epoch_fence(&self) -> bool {
        self.has_failed_epoch_fence
    }

    /// Whether the current epoch can no longer be bumped for a client ([`is_epoch_exhausted`]);
    /// `InitProducerId` must then rotate the producer id.
    pub fn is_producer_epoch_exhausted(&self) -> bool {
        is_epoch_exhausted(self.producer_epoch)
    }

    /// Whether a transaction is open (`Ongoing` or `Prepare{Commit,Abort}`).
    pub fn has_pending_transaction(&self) -> bool {
        matches!(
            self.state,
            TransactionState::Ongoing | TransactionState::PrepareAbort | TransactionState::PrepareCommit
        )
    }

    /// The current value as a transit, without preparing anything (Kafka's `prepareNoTransit`):
    /// what to write to re-persist the current state.
    pub fn prepare_no_transit(&self) -> TxnTransitMetadata {
        TxnTransitMetadata {
            producer_id: self.producer_id,
            previous_producer_id: self.previous_producer_id,
            next_producer_id: self.next_producer_id,
            producer_epoch: self.producer_epoch,
            last_producer_epoch: self.last_producer_epoch,
            txn_timeout_ms: self.txn_timeout_ms,
            txn_state: self.state,
            topic_partitions: self.topic_partitions.clone(),
            txn_start_timestamp: self.txn_start_timestamp,
            txn_last_update_timestamp: self.txn_last_update_timestamp,
            client_transaction_version: self.client_transaction_version,
        }
    }

    /// The current value retargeted to `state`: the starting point of every `prepare_*`
    /// (Kafka's `TransitionData`).
    fn base(&self, state: TransactionState) -> TxnTransitMetadata {
        TxnTransitMetadata { txn_state: state, ..self.prepare_no_transit() }
    }

    fn ensure_no_pending(&self) -> Result<()> {
        match self.pending_state {
            None => Ok(()),
            Some(p) => Err(Error::kafka(
                ErrorCode::ConcurrentTransactions,
                format!(
                    "transactional id {} has a pending transition from {} to {p}",
                    self.transactional_id, self.state
                ),
            )),
        }
    }

    /// Checks the producer id a KIP-360 `InitProducerId` expects (Kafka's `isValidProducerId`).
    ///
    /// Accepted when the metadata was just created (epoch −1: a producer recovering from
    /// UNKNOWN_PRODUCER_ID may take the new id), when the id is the current one (the epoch is
    /// checked by [`Self::prepare_increment_producer_epoch`]), or when it is the previous id and
    /// its epoch was exhausted (a retry of an `InitProducerId` that rotated the id and whose
    /// response was lost). Anything else is a zombie: `PRODUCER_FENCED`.
    pub fn check_expected_producer(&self, expected: ProducerIdAndEpoch) -> Result<()> {
        let valid = self.producer_epoch == NO_PRODUCER_EPOCH
            || expected.producer_id == self.producer_id
            || (expected.producer_id == self.previous_producer_id && is_epoch_exhausted(expected.epoch));
        if valid {
            Ok(())
        } else {
            Err(Error::kafka(
                ErrorCode::ProducerFenced,
                format!(
                    "transactional id {}: expected producer id {} is neither the current {} nor a retry of \
                     the previous {}",
                    self.transactional_id, expected.producer_id, self.producer_id, self.previous_producer_id
                ),
            ))
        }
    }

    /// `InitProducerId` when the epoch is exhausted: move to `new_producer_id` with epoch 0.
    ///
    /// `record_last_epoch` (the request carried the expected producer id and epoch, KIP-360)
    /// keeps the old epoch as `last_producer_epoch`, so a retry of this call is recognised.
    /// Refused with `INVALID_TXN_STATE` while a transaction is open.
    pub fn prepare_producer_id_rotation(
        &mut self,
        new_producer_id: i64,
        new_txn_timeout_ms: i32,
        now_ms: i64,
        record_last_epoch: bool,
    ) -> Result<TxnTransitMetadata> {
        self.ensure_no_pending()?;
        if self.has_pending_transaction() {
            return Err(Error::kafka(
                ErrorCode::InvalidTxnState,
                format!(
                    "transactional id {}: cannot rotate the producer id while a transaction is {}",
                    self.transactional_id, self.state
                ),
            ));
        }
        let target = TxnTransitMetadata {
            producer_id: new_producer_id,
            producer_epoch: 0,
            last_producer_epoch: if record_last_epoch { self.producer_epoch } else { NO_PRODUCER_EPOCH },
            txn_timeout_ms: new_txn_timeout_ms,
            topic_partitions: BTreeSet::new(),
            txn_start_timestamp: -1,
            txn_last_update_timestamp: now_ms,
            ..self.base(TransactionState::Empty)
        };
        self.prepare_transition_to(target)
    }

    /// `InitProducerId` in `Empty` / `Complete*`: bump the epoch and reset to `Empty`.
    ///
    /// Without `expected` (a new producer), the epoch is bumped and `last_producer_epoch`
    /// cleared. With it (KIP-360, a producer recovering from an error), the producer id is
    /// checked by [`Self::check_expected_producer`], then:
    /// - expected epoch = current epoch, or no epoch yet → bump, remembering the old epoch;
    /// - expected epoch = `last_producer_epoch` → a retry of a bump whose response was lost: no
    ///   new bump, the current epoch is returned again;
    /// - anything else → `PRODUCER_FENCED`.
    ///
    /// An exhausted epoch cannot be bumped: it must be rotated instead
    /// ([`Self::prepare_producer_id_rotation`]), and asking for the bump then is a coordinator
    /// bug (`UNKNOWN_SERVER_ERROR`). The retry and the fenced cases are answered as above even
    /// at an exhausted epoch (Kafka throws there instead, which turns a KIP-360 retry of the
    /// bump to `i16::MAX - 1` into a fatal error for the producer).
    pub fn prepare_increment_producer_epoch(
        &mut self,
        new_txn_timeout_ms: i32,
        expected: Option<ProducerIdAndEpoch>,
        now_ms: i64,
    ) -> Result<TxnTransitMetadata> {
        self.ensure_no_pending()?;
        if let Some(e) = expected {
            self.check_expected_producer(e)?;
        }
        // Only a bump needs an epoch left: a retry of the bump that reached the last epoch, or a
        // fenced zombie, gets its answer even when the epoch is exhausted (KIP-360).
        let bumped = || {
            if self.is_producer_epoch_exhausted() {
                return Err(unknown(format!(
                    "transactional id {}: cannot allocate any more producer epochs for producer id {} \
                     (epoch {}); the producer id must be rotated",
                    self.transactional_id, self.producer_id, self.producer_epoch
                )));
            }
            // Cannot overflow: the epoch is below i16::MAX - 1.
            Ok(self.producer_epoch + 1)
        };
        let (producer_epoch, last_producer_epoch) = match expected.map(|e| e.epoch) {
            None => (bumped()?, NO_PRODUCER_EPOCH),
            Some(e) if self.producer_epoch == NO_PRODUCER_EPOCH || e == self.producer_epoch => {
                (bumped()?, self.producer_epoch)
            }
            // A new producer calling InitProducerId would have reset last_producer_epoch to -1,
            // so a match here can only be the same producer retrying.
            Some(e) if e == self.last_producer_epoch => (self.producer_epoch, self.last_producer_epoch),
            Some(e) => {
                log::info!(
                    "transactional id {}: expected producer epoch {e} is neither the current epoch {} nor \
                     the previous epoch {}",
                    self.transactional_id,
                    self.producer_epoch,
                    self.last_producer_epoch
                );
                return Err(Error::kafka(
                    ErrorCode::ProducerFenced,
                    format!(
                        "transactional id {}: producer epoch {e} is fenced (current {}, previous {})",
                        self.transactional_id, self.producer_epoch, self.last_producer_epoch
                    ),
                ));
            }
        };
        let target = TxnTransitMetadata {
            producer_epoch,
            last_producer_epoch,
            txn_timeout_ms: new_txn_timeout_ms,
            topic_partitions: BTreeSet::new(),
            txn_start_timestamp: -1,
            txn_last_update_timestamp: now_ms,
            ..self.base(TransactionState::Empty)
        };
        self.prepare_transition_to(target)
    }

    /// `InitProducerId` (or the timeout checker) found the transaction `Ongoing`: bump the epoch
    /// to fence the current producer (`PrepareEpochFence`). The transaction is then aborted with
    /// that epoch ([`Self::prepare_abort_after_epoch_fence`]).
    ///
    /// The epoch is not bumped again when a previous fence failed to be written
    /// ([`Self::has_failed_epoch_fence`]) — the earlier bump was never handed out — nor when it
    /// is already `i16::MAX` (it would overflow; logged, as Kafka does, since a correct
    /// coordinator rotates the id before that).
    pub fn prepare_fence_producer_epoch(&mut self) -> Result<TxnTransitMetadata> {
        self.ensure_no_pending()?;
        if self.producer_epoch == i16::MAX {
            log::error!(
                "fencing producer {} of transactional id {} with epoch i16::MAX; this must not happen unless \
                 there is a bug",
                self.producer_id,
                self.transactional_id
            );
        }
        let producer_epoch = if self.has_failed_epoch_fence || self.producer_epoch == i16::MAX {
            self.producer_epoch
        } else {
            self.producer_epoch + 1
        };
        let target = TxnTransitMetadata { producer_epoch, ..self.base(TransactionState::PrepareEpochFence) };
        self.prepare_transition_to(target)
    }

    /// Turns a prepared epoch fence into the abort that carries it (what Kafka's
    /// `handleEndTransaction` does when it finds `PrepareEpochFence` pending).
    ///
    /// The fence is never completed on its own: its pending state is dropped, the fenced epoch
    /// is installed in memory right away (with no last epoch) and `PrepareAbort` is prepared.
    /// If that write fails the coordinator calls [`Self::mark_failed_epoch_fence`] so the next
    /// fence reuses this epoch.
    pub fn prepare_abort_after_epoch_fence(
        &mut self,
        fence: &TxnTransitMetadata,
        client_transaction_version: TransactionVersion,
        next_producer_id: i64,
        now_ms: i64,
    ) -> Result<TxnTransitMetadata> {
        if self.pending_state != Some(TransactionState::PrepareEpochFence)
            || fence.txn_state != TransactionState::PrepareEpochFence
            || fence.producer_id != self.producer_id
        {
            return Err(unknown(format!(
                "transactional id {}: no matching epoch fence pending (pending {:?}, fence {:?})",
                self.transactional_id, self.pending_state, fence.txn_state
            )));
        }
        self.pending_state = None;
        self.producer_epoch = fence.producer_epoch;
        self.last_producer_epoch = NO_PRODUCER_EPOCH;
        self.prepare_abort_or_commit(
            TransactionState::PrepareAbort,
            client_transaction_version,
            next_producer_id,
            now_ms,
            false,
        )
    }

    /// `AddPartitionsToTxn` / `AddOffsetsToTxn` (or, with TV2, the implicit add at produce
    /// time): add partitions and move to `Ongoing`. The start time is set when a new
    /// transaction begins (from `Empty` / `Complete*`) and kept otherwise.
    pub fn prepare_add_partitions(
        &mut self,
        added: impl IntoIterator<Item = TxnTopicPartition>,
        now_ms: i64,
        client_transaction_version: TransactionVersion,
    ) -> Result<TxnTransitMetadata> {
        self.ensure_no_pending()?;
        let starts_new = matches!(
            self.state,
            TransactionState::Empty | TransactionState::CompleteAbort | TransactionState::CompleteCommit
        );
        let mut topic_partitions = self.topic_partitions.clone();
        topic_partitions.extend(added);
        let target = TxnTransitMetadata {
            topic_partitions,
            txn_start_timestamp: if starts_new { now_ms } else { self.txn_start_timestamp },
            txn_last_update_timestamp: now_ms,
            client_transaction_version,
            ..self.base(TransactionState::Ongoing)
        };
        self.prepare_transition_to(target)
    }

    /// `EndTxn`: move to `PrepareCommit` or `PrepareAbort` (`new_state`; anything else is
    /// `INVALID_TXN_STATE`).
    ///
    /// With transaction version 2 (KIP-890) the epoch is bumped on every `EndTxn`: the target
    /// carries epoch + 1 with `last_producer_epoch` = the old epoch, and markers are written
    /// with the new epoch, so a late write of the finished transaction is fenced. The one
    /// exception is aborting at `i16::MAX` (a broken state), which is let through unbumped so it
    /// can recover. `next_producer_id` is the id to switch to at completion when the bump
    /// exhausts the epoch ([`NO_PRODUCER_ID`] otherwise). `no_partition_added` (TV2 abort of
    /// an empty transaction) uses `now_ms` as the start time, since there was none.
    ///
    /// Aborting from `Empty` / `Complete*` is only allowed with transaction version 2. Kafka's
    /// metadata accepts the preparation for older versions too and then fails its completion
    /// (its coordinator never gets there: it answers such an `EndTxn` with `INVALID_TXN_STATE`);
    /// refusing it here, with that code, keeps a wrong call from leaving a transition pending.
    pub fn prepare_abort_or_commit(
        &mut self,
        new_state: TransactionState,
        client_transaction_version: TransactionVersion,
        next_producer_id: i64,
        now_ms: i64,
        no_partition_added: bool,
    ) -> Result<TxnTransitMetadata> {
        self.ensure_no_pending()?;
        if !matches!(new_state, TransactionState::PrepareCommit | TransactionState::PrepareAbort) {
            return Err(Error::kafka(
                ErrorCode::InvalidTxnState,
                format!("{new_state} is not a PrepareCommit / PrepareAbort state"),
            ));
        }
        if !client_transaction_version.supports_epoch_bump() && self.state != TransactionState::Ongoing {
            return Err(Error::kafka(
                ErrorCode::InvalidTxnState,
                format!(
                    "transactional id {}: {new_state} from {} requires transaction version 2",
                    self.transactional_id, self.state
                ),
            ));
        }
        let (producer_epoch, last_producer_epoch) = if client_transaction_version.supports_epoch_bump() {
            if self.producer_epoch == i16::MAX && new_state == TransactionState::PrepareAbort {
                log::error!(
                    "aborting producer {} of transactional id {} with epoch i16::MAX; this must not happen \
                     unless there is a bug",
                    self.producer_id,
                    self.transactional_id
                );
                (self.producer_epoch, self.producer_epoch)
            } else {
                let bumped = self.producer_epoch.checked_add(1).ok_or_else(|| {
                    unknown(format!(
                        "transactional id {}: producer epoch {} would overflow on EndTxn",
                        self.transactional_id, self.producer_epoch
                    ))
                })?;
                (bumped, self.producer_epoch)
            }
        } else {
            (self.producer_epoch, self.last_producer_epoch)
        };
        let target = TxnTransitMetadata {
            producer_epoch,
            last_producer_epoch,
            next_producer_id,
            txn_start_timestamp: if no_partition_added { now_ms } else { self.txn_start_timestamp },
            txn_last_update_timestamp: now_ms,
            client_transaction_version,
            ..self.base(new_state)
        };
        self.prepare_transition_to(target)
    }

    /// All markers are written: move from `PrepareCommit` / `PrepareAbort` to
    /// `CompleteCommit` / `CompleteAbort` and clear the partitions.
    ///
    /// With transaction version 2, a `next_producer_id` (the epoch overflowed on `EndTxn`) takes
    /// effect here: the producer id becomes it with epoch 0, while `last_producer_epoch` stays
    /// at the last epoch the client saw. A successful preparation also clears
    /// [`Self::has_failed_epoch_fence`]: the abort that carried the fence was written.
    pub fn prepare_complete(&mut self, now_ms: i64) -> Result<TxnTransitMetadata> {
        self.ensure_no_pending()?;
        let to = if self.state == TransactionState::PrepareCommit {
            TransactionState::CompleteCommit
        } else {
            TransactionState::CompleteAbort
        };
        let (producer_id, producer_epoch) = if self.client_transaction_version.supports_epoch_bump()
            && self.next_producer_id != NO_PRODUCER_ID
        {
            (self.next_producer_id, 0)
        } else {
            (self.producer_id, self.producer_epoch)
        };
        let target = TxnTransitMetadata {
            producer_id,
            producer_epoch,
            next_producer_id: NO_PRODUCER_ID,
            topic_partitions: BTreeSet::new(),
            txn_last_update_timestamp: now_ms,
            ..self.base(to)
        };
        let transit = self.prepare_transition_to(target)?;
        // Kafka clears the flag at the start of prepareComplete; clearing it only once the
        // preparation is accepted keeps a refused call free of side effects.
        self.has_failed_epoch_fence = false;
        Ok(transit)
    }

    /// The transactional id expired (`Empty` / `Complete*` for `transactional.id.expiration.ms`):
    /// move to `Dead`. The coordinator writes a tombstone and drops the metadata; a `Dead`
    /// transition is never completed.
    pub fn prepare_dead(&mut self) -> Result<TxnTransitMetadata> {
        self.ensure_no_pending()?;
        let target =
            TxnTransitMetadata { topic_partitions: BTreeSet::new(), ..self.base(TransactionState::Dead) };
        self.prepare_transition_to(target)
    }

    /// Prepares an arbitrary transition (Kafka's `prepareTransitionTo`; the `prepare_*` methods
    /// above build `target` for each operation and should be preferred).
    ///
    /// Checks, in Kafka's order: no transition pending (`CONCURRENT_TRANSACTIONS`); a
    /// non-negative producer id, and a non-negative epoch unless the target is `Dead`
    /// (`UNKNOWN_SERVER_ERROR`); the target state may be entered from the current one
    /// (`INVALID_TXN_STATE`). `target.previous_producer_id` is replaced by the current producer
    /// id. On success the target state becomes pending.
    pub fn prepare_transition_to(&mut self, mut target: TxnTransitMetadata) -> Result<TxnTransitMetadata> {
        self.ensure_no_pending()?;
        if target.producer_id < 0 {
            return Err(unknown(format!(
                "transactional id {}: illegal new producer id {}",
                self.transactional_id, target.producer_id
            )));
        }
        // A brand-new id has epoch -1 and may stay so until it goes Dead.
        if target.txn_state != TransactionState::Dead && target.producer_epoch < 0 {
            return Err(unknown(format!(
                "transactional id {}: illegal new producer epoch {}",
                self.transactional_id, target.producer_epoch
            )));
        }
        if !target.txn_state.can_transition_from(self.state) {
            return Err(Error::kafka(
                ErrorCode::InvalidTxnState,
                format!(
                    "transactional id {}: cannot transition from {} to {}",
                    self.transactional_id, self.state, target.txn_state
                ),
            ));
        }
        target.previous_producer_id = self.producer_id;
        log::debug!(
            "transactional id {} prepares transition from {} to {}",
            self.transactional_id,
            self.state,
            target.txn_state
        );
        self.pending_state = Some(target.txn_state);
        Ok(target)
    }

    /// The prepared transition was written: apply it (Kafka's `completeTransitionTo`).
    ///
    /// Re-checks that `transit` is what may follow the current value: its state is the pending
    /// one, and per target state —
    /// - `Empty` (InitProducerId): same epoch, epoch + 1, or epoch 0 with a new producer id; no
    ///   partitions; no start time;
    /// - `Ongoing` (AddPartitions): same producer id / epoch and timeout, partitions only grow;
    /// - `Prepare*` (EndTxn): same producer id and epoch (TV2: the old epoch is the transit's
    ///   last epoch), same partitions, timeout and start time (a TV2 abort from `Empty` /
    ///   `Complete*` may carry a new start time);
    /// - `Complete*` (markers written): same producer id / epoch (TV2 overflow: epoch 0 with the
    ///   previous id = current id and the same last epoch), same timeout, a start time;
    /// - `PrepareEpochFence` and `Dead` are never completed.
    ///
    /// Time may move backwards (clock adjustments); that is tolerated as in Kafka. Any failure
    /// is `UNKNOWN_SERVER_ERROR` and leaves the metadata (and its pending state) unchanged.
    pub fn complete_transition_to(&mut self, transit: TxnTransitMetadata) -> Result<()> {
        let Some(to) = self.pending_state else {
            log::error!(
                "transactional id {} completes a transition to {} without a pending state",
                self.transactional_id,
                transit.txn_state
            );
            return Err(unknown(format!(
                "transactional id {}: completing a transition to {} while none is pending",
                self.transactional_id, transit.txn_state
            )));
        };
        if to != transit.txn_state {
            return Err(self.transition_failure(&transit));
        }
        let ok = match to {
            TransactionState::Empty => {
                (self.producer_epoch == transit.producer_epoch || self.valid_producer_epoch_bump(&transit))
                    && transit.topic_partitions.is_empty()
                    && transit.txn_start_timestamp == -1
            }
            TransactionState::Ongoing => {
                self.valid_producer_epoch(&transit)
                    && transit.topic_partitions.is_superset(&self.topic_partitions)
                    && self.txn_timeout_ms == transit.txn_timeout_ms
            }
            TransactionState::PrepareAbort | TransactionState::PrepareCommit => {
                // TV2 may abort from Empty / Complete*, with a start time of its own.
                let allowed_empty_abort = to == TransactionState::PrepareAbort
                    && transit.client_transaction_version.supports_epoch_bump()
                    && matches!(
                        self.state,
                        TransactionState::Empty
                            | TransactionState::CompleteCommit
                            | TransactionState::CompleteAbort
                    );
                let valid_timestamp =
                    self.txn_start_timestamp == transit.txn_start_timestamp || allowed_empty_abort;
                self.valid_producer_epoch(&transit)
                    && self.topic_partitions == transit.topic_partitions
                    && self.txn_timeout_ms == transit.txn_timeout_ms
                    && valid_timestamp
            }
            TransactionState::CompleteAbort | TransactionState::CompleteCommit => {
                self.valid_producer_epoch(&transit)
                    && self.txn_timeout_ms == transit.txn_timeout_ms
                    && transit.txn_start_timestamp != -1
            }
            // A fence is always turned into PrepareAbort before it is written, and PrepareEpochFence
            // leads nowhere else, so completing one is a bug.
            TransactionState::PrepareEpochFence => false,
            TransactionState::Dead => {
                return Err(unknown(format!(
                    "transactional id {} tries to complete a transition to Dead; an expired id must be removed \
                     from the cache, not kept as Dead",
                    self.transactional_id
                )));
            }
        };
        if !ok {
            return Err(self.transition_failure(&transit));
        }
        log::debug!(
            "transactional id {} completes transition from {} to {:?}",
            self.transactional_id,
            self.state,
            transit
        );
        self.producer_id = transit.producer_id;
        self.previous_producer_id = transit.previous_producer_id;
        self.next_producer_id = transit.next_producer_id;
        self.producer_epoch = transit.producer_epoch;
        self.last_producer_epoch = transit.last_producer_epoch;
        self.txn_timeout_ms = transit.txn_timeout_ms;
        self.topic_partitions = transit.topic_partitions;
        self.txn_start_timestamp = transit.txn_start_timestamp;
        self.txn_last_update_timestamp = transit.txn_last_update_timestamp;
        self.client_transaction_version = transit.client_transaction_version;
        self.pending_state = None;
        self.state = to;
        Ok(())
    }

    /// The log write of the prepared transition failed: drop the pending state so the
    /// transactional id can be used again (the durable state is unchanged).
    pub fn cancel_pending_transition(&mut self) {
        self.pending_state = None;
    }

    /// Records that the write of an abort carrying an epoch fence failed
    /// ([`Self::prepare_abort_after_epoch_fence`]): the next fence will not bump the epoch again.
    pub fn mark_failed_epoch_fence(&mut self) {
        self.has_failed_epoch_fence = true;
    }

    /// A marker for `partition` was written: drop it from the transaction. Only while markers
    /// are being written (`PrepareCommit` / `PrepareAbort`), else `INVALID_TXN_STATE`.
    pub fn remove_partition(&mut self, partition: &TxnTopicPartition) -> Result<()> {
        if !matches!(self.state, TransactionState::PrepareCommit | TransactionState::PrepareAbort) {
            return Err(Error::kafka(
                ErrorCode::InvalidTxnState,
                format!(
                    "transactional id {}: removing partition {partition} whose marker was written in state {} \
                     (pending {:?})",
                    self.transactional_id, self.state, self.pending_state
                ),
            ));
        }
        self.topic_partitions.remove(partition);
        Ok(())
    }

    /// Kafka's `validProducerEpoch`: the transit keeps the producer id and epoch, except for
    /// the two TV2 cases — `Prepare*` bumped the epoch (its last epoch is our epoch), and
    /// `Complete*` after an overflow moved to a new id at epoch 0 (its previous id is our id and
    /// the last epoch is unchanged).
    fn valid_producer_epoch(&self, transit: &TxnTransitMetadata) -> bool {
        let tv2 = transit.client_transaction_version.supports_epoch_bump();
        let state = transit.txn_state;
        if tv2
            && matches!(state, TransactionState::CompleteCommit | TransactionState::CompleteAbort)
            && transit.producer_epoch == 0
        {
            return transit.last_producer_epoch == self.last_producer_epoch
                && transit.previous_producer_id == self.producer_id;
        }
        if tv2 && matches!(state, TransactionState::PrepareCommit | TransactionState::PrepareAbort) {
            return transit.last_producer_epoch == self.producer_epoch
                && transit.producer_id == self.producer_id;
        }
        transit.producer_epoch == self.producer_epoch && transit.producer_id == self.producer_id
    }

    /// Kafka's `validProducerEpochBump`: epoch + 1 (wrapping like Java's short cast), or epoch 0
    /// with a new producer id.
    fn valid_producer_epoch_bump(&self, transit: &TxnTransitMetadata) -> bool {
        transit.producer_epoch == self.producer_epoch.wrapping_add(1)
            || (transit.producer_epoch == 0 && transit.producer_id != self.producer_id)
    }

    fn transition_failure(&self, transit: &TxnTransitMetadata) -> Error {
        log::error!(
            "transactional id {}: transition from {:?} to {:?} failed: this should not happen",
            self.transactional_id,
            self,
            transit
        );
        unknown(format!(
            "transactional id {} failed transition from {} to {} due to unexpected metadata",
            self.transactional_id, self.state, transit.txn_state
        ))
    }
}

#[cfg(test)]
mod tests {
    //! Equivalents of Kafka's `TransactionMetadataTest`, plus the transition table, the pending
    //! guard and the epoch-fence retry rules.
    use super::*;
    use TransactionState::*;
    use TransactionVersion::{Tv0, Tv2};

    const PID: i64 = 23423;
    const TXN_ID: &str = "txnlId";
    const NOW: i64 = 1_700_000_000_000;

    /// A value with Kafka's test defaults: producer `PID`, no previous / next id, no last epoch,
    /// timeout 30 s, no partitions, no start time, updated at `NOW`.
    fn value(state: TransactionState, epoch: i16, tv: TransactionVersion) -> TxnTransitMetadata {
        TxnTransitMetadata {
            producer_id: PID,
            previous_producer_id: NO_PRODUCER_ID,
            next_producer_id: NO_PRODUCER_ID,
            producer_epoch: epoch,
            last_producer_epoch: NO_PRODUCER_EPOCH,
            txn_timeout_ms: 30_000,
            txn_state: state,
            topic_partitions: BTreeSet::new(),
            txn_start_timestamp: -1,
            txn_last_update_timestamp: NOW,
            client_transaction_version: tv,
        }
    }

    fn meta(v: TxnTransitMetadata) -> TransactionMetadata {
        TransactionMetadata::from_transit(TXN_ID, v)
    }

    fn tp(topic: &str, p: i32) -> TxnTopicPartition {
        TxnTopicPartition::new(topic, p)
    }

    fn code<T: fmt::Debug>(r: Result<T>) -> ErrorCode {
        r.expect_err("expected an error").code()
    }

    fn expected(epoch: i16) -> Option<ProducerIdAndEpoch> {
        Some(ProducerIdAndEpoch::new(PID, epoch))
    }

    #[test]
    fn initialize_epoch() {
        let mut m = meta(value(Empty, NO_PRODUCER_EPOCH, Tv0));
        let t = m.prepare_increment_producer_epoch(30_000, None, NOW).unwrap();
        m.complete_transition_to(t).unwrap();
        assert_eq!(m.producer_id(), PID);
        assert_eq!(m.producer_epoch(), 0);
        assert_eq!(m.last_producer_epoch(), NO_PRODUCER_EPOCH);
        assert_eq!(m.state(), Empty);
        assert!(!m.pending_transition_in_progress());
    }

    #[test]
    fn new_transactional_id_starts_empty_at_epoch_minus_one() {
        let m = TransactionMetadata::new(TXN_ID, PID, 60_000, NOW);
        assert_eq!(m.state(), Empty);
        assert_eq!(m.producer_epoch(), NO_PRODUCER_EPOCH);
        assert_eq!(m.last_producer_epoch(), NO_PRODUCER_EPOCH);
        assert_eq!(m.previous_producer_id(), NO_PRODUCER_ID);
        assert_eq!(m.txn_start_timestamp(), -1);
        assert_eq!(m.txn_last_update_timestamp(), NOW);
        assert_eq!(m.client_transaction_version(), Tv0);
        assert_eq!(m.transactional_id(), TXN_ID);
    }

    #[test]
    fn normal_epoch_bump() {
        let mut m = meta(value(Empty, 735, Tv0));
        let t = m.prepare_increment_producer_epoch(30_000, None, NOW).unwrap();
        m.complete_transition_to(t).unwrap();
        assert_eq!(m.producer_id(), PID);
        assert_eq!(m.producer_epoch(), 736);
        assert_eq!(m.last_producer_epoch(), NO_PRODUCER_EPOCH);
        // Every transition records the id it came from.
        assert_eq!(m.previous_producer_id(), PID);
    }

    #[test]
    fn bump_epoch_not_allowed_if_epochs_exhausted() {
        let mut m = meta(value(Empty, i16::MAX - 1, Tv0));
        assert!(m.is_producer_epoch_exhausted());
        assert_eq!(
            code(m.prepare_increment_producer_epoch(30_000, None, NOW)),
            ErrorCode::UnknownServerError
        );
        assert_eq!(m.pending_state(), None);
        assert!(!meta(value(Empty, i16::MAX - 2, Tv0)).is_producer_epoch_exhausted());
        assert!(is_epoch_exhausted(i16::MAX));
    }

    #[test]
    fn transit_to_prepare_abort_in_v2_from_empty_and_complete_states() {
        for (state, start) in [(Empty, -1), (CompleteAbort, NOW - 1), (CompleteCommit, NOW - 1)] {
            let mut m = meta(TxnTransitMetadata { txn_start_timestamp: start, ..value(state, 735, Tv2) });
            let t = m.prepare_abort_or_commit(PrepareAbort, Tv2, NO_PRODUCER_ID, NOW + 1, true).unwrap();
            m.complete_transition_to(t).unwrap();
            assert_eq!(m.state(), PrepareAbort);
            assert_eq!(m.producer_id(), PID);
            assert_eq!(m.producer_epoch(), 736, "{state}");
            assert_eq!(m.last_producer_epoch(), 735);
            assert_eq!(m.txn_start_timestamp(), NOW + 1);
        }
    }

    #[test]
    fn tolerate_update_time_shift_during_epoch_bump() {
        let mut m = meta(TxnTransitMetadata { txn_start_timestamp: 1, ..value(Empty, 1, Tv0) });
        // The clock went backwards.
        let t = m.prepare_increment_producer_epoch(30_000, expected(1), NOW - 1).unwrap();
        m.complete_transition_to(t).unwrap();
        assert_eq!(m.producer_id(), PID);
        assert_eq!(m.producer_epoch(), 2);
        assert_eq!(m.last_producer_epoch(), 1);
        assert_eq!(m.txn_start_timestamp(), -1);
        assert_eq!(m.txn_last_update_timestamp(), NOW - 1);
    }

    #[test]
    fn tolerate_update_time_reset_during_producer_id_rotation() {
        let mut m = meta(TxnTransitMetadata { txn_start_timestamp: 1, ..value(Empty, 1, Tv0) });
        let t = m.prepare_producer_id_rotation(PID + 1, 30_000, NOW - 1, true).unwrap();
        m.complete_transition_to(t).unwrap();
        assert_eq!(m.producer_id(), PID + 1);
        assert_eq!(m.previous_producer_id(), PID);
        assert_eq!(m.last_producer_epoch(), 1);
        assert_eq!(m.producer_epoch(), 0);
        assert_eq!(m.txn_start_timestamp(), -1);
        assert_eq!(m.txn_last_update_timestamp(), NOW - 1);
    }

    #[test]
    fn tolerate_time_shift_during_add_partitions() {
        let mut m = meta(TxnTransitMetadata { txn_start_timestamp: NOW, ..value(Empty, 1, Tv0) });
        // From Empty the start time becomes the (earlier) update time.
        let t = m.prepare_add_partitions([tp("topic1", 0)], NOW - 1, Tv0).unwrap();
        m.complete_transition_to(t).unwrap();
        assert_eq!(m.topic_partitions().iter().cloned().collect::<Vec<_>>(), [tp("topic1", 0)]);
        assert_eq!(m.producer_id(), PID);
        assert_eq!(m.producer_epoch(), 1);
        assert_eq!(m.last_producer_epoch(), NO_PRODUCER_EPOCH);
        assert_eq!(m.txn_start_timestamp(), NOW - 1);
        assert_eq!(m.txn_last_update_timestamp(), NOW - 1);
        // In Ongoing the start time is kept.
        let t = m.prepare_add_partitions([tp("topic2", 0)], NOW - 2, Tv0).unwrap();
        m.complete_transition_to(t).unwrap();
        assert_eq!(
            m.topic_partitions().iter().cloned().collect::<Vec<_>>(),
            [tp("topic1", 0), tp("topic2", 0)]
        );
        assert_eq!(m.txn_start_timestamp(), NOW - 1);
        assert_eq!(m.txn_last_update_timestamp(), NOW - 2);
    }

    #[test]
    fn tolerate_time_shift_during_prepare_commit_and_abort() {
        for to in [PrepareCommit, PrepareAbort] {
            let mut m = meta(TxnTransitMetadata { txn_start_timestamp: 1, ..value(Ongoing, 1, Tv0) });
            let t = m.prepare_abort_or_commit(to, Tv0, NO_PRODUCER_ID, NOW - 1, false).unwrap();
            m.complete_transition_to(t).unwrap();
            assert_eq!(m.state(), to);
            assert_eq!(m.producer_id(), PID);
            assert_eq!(m.producer_epoch(), 1);
            assert_eq!(m.last_producer_epoch(), NO_PRODUCER_EPOCH);
            assert_eq!(m.txn_start_timestamp(), 1);
            assert_eq!(m.txn_last_update_timestamp(), NOW - 1);
        }
    }

    #[test]
    fn tolerate_time_shift_during_complete_commit_and_abort() {
        for tv in [Tv0, Tv2] {
            for (from, to) in [(PrepareCommit, CompleteCommit), (PrepareAbort, CompleteAbort)] {
                let mut m = meta(TxnTransitMetadata {
                    last_producer_epoch: 0,
                    txn_start_timestamp: 1,
                    ..value(from, 1, tv)
                });
                let t = m.prepare_complete(NOW - 1).unwrap();
                m.complete_transition_to(t).unwrap();
                assert_eq!(m.state(), to);
                assert_eq!(m.producer_id(), PID);
                assert_eq!(m.last_producer_epoch(), 0);
                assert_eq!(m.producer_epoch(), 1);
                assert_eq!(m.txn_start_timestamp(), 1);
                assert_eq!(m.txn_last_update_timestamp(), NOW - 1);
            }
        }
    }

    #[test]
    fn fence_producer_after_epochs_exhausted() {
        let mut m = meta(value(Ongoing, i16::MAX - 1, Tv0));
        assert!(m.is_producer_epoch_exhausted());
        let fence = m.prepare_fence_producer_epoch().unwrap();
        assert_eq!(fence.producer_epoch, i16::MAX);
        assert_eq!(fence.last_producer_epoch, NO_PRODUCER_EPOCH);
        assert_eq!(m.pending_state(), Some(PrepareEpochFence));
        // The fence is written as the abort that carries it.
        let abort = m.prepare_abort_after_epoch_fence(&fence, Tv0, NO_PRODUCER_ID, NOW).unwrap();
        assert_eq!(abort.txn_state, PrepareAbort);
        assert_eq!(abort.producer_epoch, i16::MAX);
        m.complete_transition_to(abort).unwrap();
        assert_eq!(m.producer_id(), PID);
        assert_eq!(m.producer_epoch(), i16::MAX);
        assert_eq!(m.state(), PrepareAbort);
    }

    #[test]
    fn invalid_transition_from_complete_to_fence() {
        for state in [CompleteCommit, CompleteAbort] {
            let mut m = meta(value(state, i16::MAX - 1, Tv0));
            assert!(m.is_producer_epoch_exhausted());
            assert_eq!(code(m.prepare_fence_producer_epoch()), ErrorCode::InvalidTxnState);
            assert_eq!(m.pending_state(), None);
        }
    }

    #[test]
    fn fence_producer_does_not_overflow() {
        let mut m = meta(value(Ongoing, i16::MAX, Tv0));
        assert!(m.is_producer_epoch_exhausted());
        let fence = m.prepare_fence_producer_epoch().unwrap();
        assert_eq!(fence.producer_epoch, i16::MAX);
        assert_eq!(fence.txn_state, PrepareEpochFence);
    }

    #[test]
    fn rotate_producer_id() {
        let mut m = meta(value(Empty, i16::MAX - 1, Tv0));
        let t = m.prepare_producer_id_rotation(9893, 30_000, NOW, true).unwrap();
        m.complete_transition_to(t).unwrap();
        assert_eq!(m.producer_id(), 9893);
        assert_eq!(m.previous_producer_id(), PID);
        assert_eq!(m.producer_epoch(), 0);
        assert_eq!(m.last_producer_epoch(), i16::MAX - 1);
        // Without the KIP-360 expectation, no last epoch is remembered.
        let mut m = meta(value(CompleteCommit, i16::MAX - 1, Tv0));
        let t = m.prepare_producer_id_rotation(9893, 30_000, NOW, false).unwrap();
        m.complete_transition_to(t).unwrap();
        assert_eq!(m.last_producer_epoch(), NO_PRODUCER_EPOCH);
    }

    #[test]
    fn rotate_producer_id_refused_while_transaction_open() {
        for (state, tv) in [
            (Ongoing, Tv0),
            (PrepareAbort, Tv0),
            (PrepareAbort, Tv2),
            (PrepareCommit, Tv0),
            (PrepareCommit, Tv2),
        ] {
            let mut m =
                meta(TxnTransitMetadata { previous_producer_id: PID, ..value(state, i16::MAX - 1, tv) });
            assert_eq!(
                code(m.prepare_producer_id_rotation(9893, 30_000, NOW, false)),
                ErrorCode::InvalidTxnState
            );
            assert_eq!(m.pending_state(), None);
        }
    }

    #[test]
    fn epoch_bump_on_end_txn() {
        let mut m = meta(TxnTransitMetadata { txn_start_timestamp: NOW, ..value(Ongoing, 10, Tv2) });
        let t = m.prepare_abort_or_commit(PrepareCommit, Tv2, NO_PRODUCER_ID, NOW - 1, false).unwrap();
        m.complete_transition_to(t).unwrap();
        assert_eq!(m.producer_id(), PID);
        assert_eq!(m.producer_epoch(), 11);
        assert_eq!(m.last_producer_epoch(), 10);
        assert_eq!(m.client_transaction_version(), Tv2);
        let t = m.prepare_complete(NOW).unwrap();
        m.complete_transition_to(t).unwrap();
        assert_eq!(m.state(), CompleteCommit);
        assert_eq!(m.producer_id(), PID);
        assert_eq!(m.producer_epoch(), 11);
        assert_eq!(m.client_transaction_version(), Tv2);
    }

    #[test]
    fn epoch_bump_on_end_txn_overflow_switches_to_next_producer_id() {
        let mut m =
            meta(TxnTransitMetadata { txn_start_timestamp: NOW, ..value(Ongoing, i16::MAX - 1, Tv2) });
        assert!(m.is_producer_epoch_exhausted());
        let t = m.prepare_abort_or_commit(PrepareCommit, Tv2, 9893, NOW - 1, false).unwrap();
        m.complete_transition_to(t).unwrap();
        assert_eq!(m.producer_id(), PID);
        assert_eq!(m.producer_epoch(), i16::MAX);
        assert_eq!(m.last_producer_epoch(), i16::MAX - 1);
        assert_eq!(m.next_producer_id(), 9893);
        let t = m.prepare_complete(NOW).unwrap();
        m.complete_transition_to(t).unwrap();
        assert_eq!(m.producer_id(), 9893);
        assert_eq!(m.previous_producer_id(), PID);
        assert_eq!(m.next_producer_id(), NO_PRODUCER_ID);
        assert_eq!(m.producer_epoch(), 0);
        // The last epoch stays the last one the client saw.
        assert_eq!(m.last_producer_epoch(), i16::MAX - 1);
        assert_eq!(m.client_transaction_version(), Tv2);
    }

    #[test]
    fn next_producer_id_ignored_at_completion_without_tv2() {
        let mut m = meta(TxnTransitMetadata {
            next_producer_id: 9893,
            txn_start_timestamp: 5,
            ..value(PrepareCommit, 7, Tv0)
        });
        let t = m.prepare_complete(NOW).unwrap();
        assert_eq!((t.producer_id, t.producer_epoch, t.next_producer_id), (PID, 7, NO_PRODUCER_ID));
        m.complete_transition_to(t).unwrap();
        assert_eq!(m.producer_id(), PID);
    }

    #[test]
    fn tv2_commit_at_max_epoch_is_refused_but_abort_recovers() {
        let mut m = meta(TxnTransitMetadata { txn_start_timestamp: NOW, ..value(Ongoing, i16::MAX, Tv2) });
        assert_eq!(
            code(m.prepare_abort_or_commit(PrepareCommit, Tv2, NO_PRODUCER_ID, NOW, false)),
            ErrorCode::UnknownServerError
        );
        assert_eq!(m.pending_state(), None);
        let t = m.prepare_abort_or_commit(PrepareAbort, Tv2, NO_PRODUCER_ID, NOW, false).unwrap();
        assert_eq!((t.producer_epoch, t.last_producer_epoch), (i16::MAX, i16::MAX));
        m.complete_transition_to(t).unwrap();
        assert_eq!(m.state(), PrepareAbort);
    }

    #[test]
    fn attempted_epoch_bump_with_newly_created_metadata() {
        let mut m = meta(value(Empty, NO_PRODUCER_EPOCH, Tv0));
        let t = m.prepare_increment_producer_epoch(30_000, expected(735), NOW).unwrap();
        m.complete_transition_to(t).unwrap();
        assert_eq!(m.producer_id(), PID);
        assert_eq!(m.producer_epoch(), 0);
        assert_eq!(m.last_producer_epoch(), NO_PRODUCER_EPOCH);
    }

    #[test]
    fn epoch_bump_with_current_epoch_provided() {
        let mut m = meta(value(Empty, 735, Tv0));
        let t = m.prepare_increment_producer_epoch(30_000, expected(735), NOW).unwrap();
        m.complete_transition_to(t).unwrap();
        assert_eq!(m.producer_epoch(), 736);
        assert_eq!(m.last_producer_epoch(), 735);
    }

    #[test]
    fn retry_with_last_epoch_is_not_a_bump() {
        let mut m = meta(TxnTransitMetadata { last_producer_epoch: 734, ..value(Empty, 735, Tv0) });
        let t = m.prepare_increment_producer_epoch(30_000, expected(734), NOW).unwrap();
        m.complete_transition_to(t).unwrap();
        assert_eq!(m.producer_id(), PID);
        assert_eq!(m.producer_epoch(), 735);
        assert_eq!(m.last_producer_epoch(), 734);
    }

    #[test]
    fn retry_and_fencing_at_an_exhausted_epoch() {
        // The bump MAX-2 -> MAX-1 was written but its response lost: the retry gets MAX-1 back.
        let mut m =
            meta(TxnTransitMetadata { last_producer_epoch: i16::MAX - 2, ..value(Empty, i16::MAX - 1, Tv0) });
        let t = m.prepare_increment_producer_epoch(30_000, expected(i16::MAX - 2), NOW).unwrap();
        assert_eq!((t.producer_epoch, t.last_producer_epoch), (i16::MAX - 1, i16::MAX - 2));
        m.cancel_pending_transition();
        // Any other old epoch is a zombie, exhausted or not.
        assert_eq!(
            code(m.prepare_increment_producer_epoch(30_000, expected(3), NOW)),
            ErrorCode::ProducerFenced
        );
        assert_eq!(m.pending_state(), None);
        // Bumping still needs a rotation.
        assert_eq!(
            code(m.prepare_increment_producer_epoch(30_000, expected(i16::MAX - 1), NOW)),
            ErrorCode::UnknownServerError
        );
    }

    #[test]
    fn attempted_epoch_bump_with_fenced_epoch() {
        let mut m = meta(TxnTransitMetadata {
            previous_producer_id: PID,
            last_producer_epoch: 734,
            ..value(Empty, 735, Tv0)
        });
        assert_eq!(
            code(m.prepare_increment_producer_epoch(30_000, expected(733), NOW)),
            ErrorCode::ProducerFenced
        );
        assert_eq!(m.pending_state(), None);
        assert_eq!(m.producer_epoch(), 735);
    }

    #[test]
    fn expected_producer_id_rules() {
        // After a rotation PID -> 9893 recorded with last epoch MAX-1.
        let m = meta(TxnTransitMetadata {
            producer_id: 9893,
            previous_producer_id: PID,
            last_producer_epoch: i16::MAX - 1,
            ..value(Empty, 0, Tv0)
        });
        m.check_expected_producer(ProducerIdAndEpoch::new(9893, 0)).unwrap();
        // A retry of the rotation: the old id at its exhausted epoch.
        m.check_expected_producer(ProducerIdAndEpoch::new(PID, i16::MAX - 1)).unwrap();
        // The old id at a non-exhausted epoch is a zombie.
        assert_eq!(
            code(m.check_expected_producer(ProducerIdAndEpoch::new(PID, 5))),
            ErrorCode::ProducerFenced
        );
        // An unrelated id is a zombie, unless the metadata was just created.
        assert_eq!(code(m.check_expected_producer(ProducerIdAndEpoch::new(1, 0))), ErrorCode::ProducerFenced);
        let fresh = TransactionMetadata::new(TXN_ID, PID, 1000, NOW);
        fresh.check_expected_producer(ProducerIdAndEpoch::new(1, 0)).unwrap();

        // The retry of the rotation returns the current epoch without bumping.
        let mut m = m;
        let t = m
            .prepare_increment_producer_epoch(30_000, Some(ProducerIdAndEpoch::new(PID, i16::MAX - 1)), NOW)
            .unwrap();
        assert_eq!((t.producer_id, t.producer_epoch), (9893, 0));
        m.cancel_pending_transition();
        assert_eq!(
            code(m.prepare_increment_producer_epoch(30_000, Some(ProducerIdAndEpoch::new(77, 0)), NOW)),
            ErrorCode::ProducerFenced
        );
    }

    #[test]
    fn failed_epoch_fence_does_not_bump_twice() {
        let mut m = meta(TxnTransitMetadata {
            topic_partitions: [tp("t", 0)].into(),
            txn_start_timestamp: NOW - 10,
            ..value(Ongoing, 5, Tv0)
        });
        let fence = m.prepare_fence_producer_epoch().unwrap();
        assert_eq!(fence.producer_epoch, 6);
        let abort = m.prepare_abort_after_epoch_fence(&fence, Tv0, NO_PRODUCER_ID, NOW).unwrap();
        assert_eq!(abort.producer_epoch, 6);
        // The epoch is installed in memory before the write, like Kafka.
        assert_eq!(m.producer_epoch(), 6);
        // The write fails.
        m.cancel_pending_transition();
        m.mark_failed_epoch_fence();
        assert!(m.has_failed_epoch_fence());
        assert_eq!(m.state(), Ongoing);
        // The next fence reuses epoch 6.
        let fence = m.prepare_fence_producer_epoch().unwrap();
        assert_eq!(fence.producer_epoch, 6);
        let abort = m.prepare_abort_after_epoch_fence(&fence, Tv0, NO_PRODUCER_ID, NOW).unwrap();
        m.complete_transition_to(abort).unwrap();
        assert_eq!((m.state(), m.producer_epoch()), (PrepareAbort, 6));
        // Completing the abort clears the flag; the next fence bumps again.
        let t = m.prepare_complete(NOW).unwrap();
        assert!(!m.has_failed_epoch_fence());
        m.complete_transition_to(t).unwrap();
        assert_eq!(m.state(), CompleteAbort);
        assert!(m.topic_partitions().is_empty());
    }

    #[test]
    fn abort_after_fence_requires_a_pending_fence() {
        let mut m = meta(TxnTransitMetadata { txn_start_timestamp: 1, ..value(Ongoing, 5, Tv0) });
        let fake = value(PrepareEpochFence, 6, Tv0);
        assert_eq!(
            code(m.prepare_abort_after_epoch_fence(&fake, Tv0, NO_PRODUCER_ID, NOW)),
            ErrorCode::UnknownServerError
        );
        assert_eq!(m.producer_epoch(), 5);
    }

    #[test]
    fn fence_then_completing_the_fence_itself_is_refused() {
        let mut m = meta(value(Ongoing, 5, Tv0));
        let fence = m.prepare_fence_producer_epoch().unwrap();
        assert_eq!(code(m.complete_transition_to(fence)), ErrorCode::UnknownServerError);
        assert_eq!(m.state(), Ongoing);
        assert_eq!(m.pending_state(), Some(PrepareEpochFence));
    }

    #[test]
    fn pending_transition_blocks_others_until_completed_or_cancelled() {
        let mut m = meta(value(Empty, 3, Tv0));
        let t = m.prepare_add_partitions([tp("a", 0)], NOW, Tv0).unwrap();
        assert_eq!(m.pending_state(), Some(Ongoing));
        assert_eq!(code(m.prepare_add_partitions([tp("b", 0)], NOW, Tv0)), ErrorCode::ConcurrentTransactions);
        assert_eq!(code(m.prepare_increment_producer_epoch(1, None, NOW)), ErrorCode::ConcurrentTransactions);
        assert_eq!(code(m.prepare_fence_producer_epoch()), ErrorCode::ConcurrentTransactions);
        assert_eq!(code(m.prepare_dead()), ErrorCode::ConcurrentTransactions);
        // Nothing changed in memory before completion.
        assert_eq!(m.state(), Empty);
        assert!(m.topic_partitions().is_empty());
        m.cancel_pending_transition();
        assert_eq!(m.state(), Empty);
        let t2 = m.prepare_add_partitions([tp("b", 0)], NOW, Tv0).unwrap();
        // A transit that is not the pending one is refused.
        assert_eq!(
            code(m.complete_transition_to(TxnTransitMetadata { txn_state: Empty, ..t.clone() })),
            ErrorCode::UnknownServerError
        );
        m.complete_transition_to(t2).unwrap();
        assert_eq!(m.topic_partitions().len(), 1);
        // No pending state: nothing to complete.
        assert_eq!(code(m.complete_transition_to(t)), ErrorCode::UnknownServerError);
    }

    #[test]
    fn every_invalid_transition_is_rejected() {
        type Op = fn(&mut TransactionMetadata) -> Result<TxnTransitMetadata>;
        let ops: [(&str, TransactionState, Op); 9] = [
            ("init", Empty, |m| m.prepare_increment_producer_epoch(1000, None, NOW)),
            ("rotate", Empty, |m| m.prepare_producer_id_rotation(PID + 1, 1000, NOW, false)),
            ("add", Ongoing, |m| m.prepare_add_partitions([tp("x", 1)], NOW, Tv0)),
            ("commit", PrepareCommit, |m| {
                m.prepare_abort_or_commit(PrepareCommit, Tv0, NO_PRODUCER_ID, NOW, false)
            }),
            // TV2: the only version that may abort from Empty / Complete* (see below for TV0).
            ("abort", PrepareAbort, |m| {
                m.prepare_abort_or_commit(PrepareAbort, Tv2, NO_PRODUCER_ID, NOW, false)
            }),
            ("complete-commit", CompleteCommit, |m| m.prepare_complete(NOW)),
            ("complete-abort", CompleteAbort, |m| m.prepare_complete(NOW)),
            ("dead", Dead, |m| m.prepare_dead()),
            ("fence", PrepareEpochFence, |m| m.prepare_fence_producer_epoch()),
        ];
        for from in TransactionState::ALL {
            for (name, to, op) in ops {
                // prepare_complete's target depends on the current state.
                if name == "complete-commit" && from != PrepareCommit {
                    continue;
                }
                if name == "complete-abort" && from == PrepareCommit {
                    continue;
                }
                let mut m = meta(TxnTransitMetadata { txn_start_timestamp: 10, ..value(from, 5, Tv0) });
                let r = op(&mut m);
                if to.can_transition_from(from) {
                    let t = r.unwrap_or_else(|e| panic!("{name} from {from}: {e}"));
                    assert_eq!(t.txn_state, to);
                    assert_eq!(m.pending_state(), Some(to));
                } else {
                    assert_eq!(code(r), ErrorCode::InvalidTxnState, "{name} from {from}");
                    assert_eq!(m.pending_state(), None, "{name} from {from}");
                    assert_eq!(m.state(), from);
                }
            }
        }
        // EndTxn only prepares Prepare* states.
        let mut m = meta(value(Ongoing, 5, Tv0));
        assert_eq!(
            code(m.prepare_abort_or_commit(CompleteCommit, Tv0, NO_PRODUCER_ID, NOW, false)),
            ErrorCode::InvalidTxnState
        );
    }

    #[test]
    fn prepare_transition_rejects_negative_ids_and_epochs() {
        let mut m = meta(value(Empty, 5, Tv0));
        let bad_pid = TxnTransitMetadata { producer_id: -1, ..value(Empty, 6, Tv0) };
        assert_eq!(code(m.prepare_transition_to(bad_pid)), ErrorCode::UnknownServerError);
        let bad_epoch = value(Ongoing, -1, Tv0);
        assert_eq!(code(m.prepare_transition_to(bad_epoch)), ErrorCode::UnknownServerError);
        // Dead may keep the -1 epoch of an id that was never initialised.
        let mut fresh = TransactionMetadata::new(TXN_ID, PID, 1000, NOW);
        let t = fresh.prepare_dead().unwrap();
        assert_eq!(t.producer_epoch, NO_PRODUCER_EPOCH);
        // ...but a Dead transition is never completed.
        assert_eq!(code(fresh.complete_transition_to(t)), ErrorCode::UnknownServerError);
    }

    #[test]
    fn completion_rechecks_the_transit() {
        // Empty: an epoch jump of two is not a valid bump.
        let mut m = meta(value(Empty, 5, Tv0));
        let t = m.prepare_increment_producer_epoch(1000, None, NOW).unwrap();
        assert_eq!(
            code(m.complete_transition_to(TxnTransitMetadata { producer_epoch: 7, ..t.clone() })),
            ErrorCode::UnknownServerError
        );
        assert_eq!(
            code(m.complete_transition_to(TxnTransitMetadata { txn_start_timestamp: 3, ..t.clone() })),
            ErrorCode::UnknownServerError
        );
        m.complete_transition_to(t).unwrap();

        // Ongoing: partitions may not shrink, timeout and epoch may not change.
        let mut m = meta(TxnTransitMetadata {
            topic_partitions: [tp("a", 0), tp("a", 1)].into(),
            txn_start_timestamp: 5,
            ..value(Ongoing, 5, Tv0)
        });
        let t = m.prepare_add_partitions([tp("b", 0)], NOW, Tv0).unwrap();
        let mut shrunk = t.clone();
        shrunk.topic_partitions.remove(&tp("a", 0));
        assert_eq!(code(m.complete_transition_to(shrunk)), ErrorCode::UnknownServerError);
        assert_eq!(
            code(m.complete_transition_to(TxnTransitMetadata { txn_timeout_ms: 1, ..t.clone() })),
            ErrorCode::UnknownServerError
        );
        assert_eq!(
            code(m.complete_transition_to(TxnTransitMetadata { producer_epoch: 6, ..t.clone() })),
            ErrorCode::UnknownServerError
        );
        m.complete_transition_to(t).unwrap();
        assert_eq!(m.topic_partitions().len(), 3);

        // PrepareCommit: the partitions and start time must be the current ones.
        let t = m.prepare_abort_or_commit(PrepareCommit, Tv0, NO_PRODUCER_ID, NOW, false).unwrap();
        assert_eq!(
            code(m.complete_transition_to(TxnTransitMetadata { txn_start_timestamp: 6, ..t.clone() })),
            ErrorCode::UnknownServerError
        );
        assert_eq!(
            code(m.complete_transition_to(TxnTransitMetadata {
                topic_partitions: BTreeSet::new(),
                ..t.clone()
            })),
            ErrorCode::UnknownServerError
        );
        m.complete_transition_to(t).unwrap();

        // CompleteCommit: a start time is required.
        let t = m.prepare_complete(NOW).unwrap();
        assert_eq!(
            code(m.complete_transition_to(TxnTransitMetadata { txn_start_timestamp: -1, ..t.clone() })),
            ErrorCode::UnknownServerError
        );
        m.complete_transition_to(t).unwrap();
        assert_eq!(m.state(), CompleteCommit);
        assert!(m.topic_partitions().is_empty());
    }

    #[test]
    fn tv0_abort_needs_an_open_transaction() {
        // Kafka would prepare this and then fail the completion; it is refused up front.
        for state in [Empty, CompleteCommit, CompleteAbort] {
            for no_partition_added in [false, true] {
                let mut m = meta(TxnTransitMetadata { txn_start_timestamp: 3, ..value(state, 5, Tv0) });
                assert_eq!(
                    code(m.prepare_abort_or_commit(
                        PrepareAbort,
                        Tv0,
                        NO_PRODUCER_ID,
                        NOW,
                        no_partition_added
                    )),
                    ErrorCode::InvalidTxnState
                );
                assert_eq!(m.pending_state(), None);
            }
        }
    }

    #[test]
    fn remove_partition_only_while_writing_markers() {
        let mut m = meta(TxnTransitMetadata {
            topic_partitions: [tp("a", 0), tp("b", 1)].into(),
            txn_start_timestamp: 1,
            ..value(PrepareCommit, 1, Tv0)
        });
        m.remove_partition(&tp("a", 0)).unwrap();
        assert_eq!(m.topic_partitions().iter().cloned().collect::<Vec<_>>(), [tp("b", 1)]);
        let mut m =
            meta(TxnTransitMetadata { topic_partitions: [tp("a", 0)].into(), ..value(Ongoing, 1, Tv0) });
        assert_eq!(code(m.remove_partition(&tp("a", 0))), ErrorCode::InvalidTxnState);
        assert_eq!(m.topic_partitions().len(), 1);
    }

    #[test]
    fn full_lifecycle_tv0_and_tv2() {
        for tv in [Tv0, Tv2] {
            let mut m = TransactionMetadata::new(TXN_ID, PID, 60_000, NOW);
            let t = m.prepare_increment_producer_epoch(60_000, None, NOW).unwrap();
            m.complete_transition_to(t).unwrap();
            let mut epoch = 0;
            for (i, end) in [PrepareCommit, PrepareAbort, PrepareCommit].into_iter().enumerate() {
                let now = NOW + 100 * i as i64;
                let t = m.prepare_add_partitions([tp("t", i as i32), tp("u", 0)], now, tv).unwrap();
                m.complete_transition_to(t).unwrap();
                assert_eq!((m.state(), m.txn_start_timestamp()), (Ongoing, now));
                let t = m.prepare_abort_or_commit(end, tv, NO_PRODUCER_ID, now + 1, false).unwrap();
                m.complete_transition_to(t).unwrap();
                if tv == Tv2 {
                    epoch += 1;
                }
                assert_eq!(m.producer_epoch(), epoch, "{tv:?}");
                let t = m.prepare_complete(now + 2).unwrap();
                m.complete_transition_to(t).unwrap();
                assert!(matches!(m.state(), CompleteCommit | CompleteAbort));
                assert!(m.topic_partitions().is_empty());
                assert_eq!(m.txn_start_timestamp(), now, "the start time survives completion");
            }
            let t = m.prepare_dead().unwrap();
            assert_eq!(t.txn_state, Dead);
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Init { kip360: bool },
        Add(i32),
        End { commit: bool },
        Complete,
        TimeoutAbort,
    }

    fn arb_op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            any::<bool>().prop_map(|kip360| Op::Init { kip360 }),
            (0i32..4).prop_map(Op::Add),
            any::<bool>().prop_map(|commit| Op::End { commit }),
            Just(Op::Complete),
            Just(Op::TimeoutAbort),
        ]
    }

    proptest::proptest! {
        /// A random walk through the coordinator's operations, each write succeeding or failing:
        /// nothing panics, a prepared transition always completes, nothing stays pending, the
        /// producer (id, epoch) never goes backwards, and closed states hold no partitions.
        #[test]
        fn prop_random_walk_keeps_invariants(
            tv2 in proptest::bool::ANY,
            start_epoch in proptest::prop_oneof![proptest::strategy::Just(NO_PRODUCER_EPOCH), (i16::MAX - 12)..=i16::MAX - 1],
            ops in proptest::collection::vec((arb_op(), proptest::bool::weighted(0.8)), 1..60),
        ) {
            let tv = if tv2 { Tv2 } else { Tv0 };
            let mut m = meta(value(Empty, start_epoch, Tv0));
            let mut next_pid = PID;
            let mut now = NOW;
            let mut last = (m.producer_id(), m.producer_epoch());
            for (op, write_ok) in ops {
                now += 1;
                let mut fenced = false;
                let prepared = match op {
                    Op::Init { kip360 } => {
                        let expected = kip360.then(|| ProducerIdAndEpoch::new(m.producer_id(), m.producer_epoch()));
                        if m.is_producer_epoch_exhausted() && !m.has_pending_transaction() {
                            next_pid += 1;
                            m.prepare_producer_id_rotation(next_pid, 1000, now, kip360)
                        } else {
                            m.prepare_increment_producer_epoch(1000, expected, now)
                        }
                    }
                    Op::Add(p) => m.prepare_add_partitions([tp("t", p)], now, tv),
                    Op::End { commit } => {
                        let next = if tv2 && m.is_producer_epoch_exhausted() {
                            next_pid += 1;
                            next_pid
                        } else {
                            NO_PRODUCER_ID
                        };
                        let to = if commit { PrepareCommit } else { PrepareAbort };
                        let no_partition_added = tv2 && m.topic_partitions().is_empty();
                        m.prepare_abort_or_commit(to, tv, next, now, no_partition_added)
                    }
                    Op::Complete => m.prepare_complete(now),
                    Op::TimeoutAbort => match m.prepare_fence_producer_epoch() {
                        Ok(fence) => {
                            fenced = true;
                            m.prepare_abort_after_epoch_fence(&fence, tv, NO_PRODUCER_ID, now)
                        }
                        Err(e) => Err(e),
                    },
                };
                if let Ok(t) = prepared {
                    if write_ok {
                        m.complete_transition_to(t).unwrap();
                    } else {
                        m.cancel_pending_transition();
                        if fenced {
                            m.mark_failed_epoch_fence();
                        }
                    }
                }
                proptest::prop_assert_eq!(m.pending_state(), None);
                let now_pe = (m.producer_id(), m.producer_epoch());
                if now_pe.0 == last.0 {
                    proptest::prop_assert!(now_pe.1 >= last.1, "epoch went backwards: {:?} -> {:?}", last, now_pe);
                } else {
                    proptest::prop_assert!(now_pe.0 > last.0 && now_pe.1 == 0, "{:?} -> {:?}", last, now_pe);
                }
                last = now_pe;
                if matches!(m.state(), Empty | CompleteCommit | CompleteAbort) {
                    proptest::prop_assert!(m.topic_partitions().is_empty());
                }
                if m.state() == Ongoing {
                    proptest::prop_assert!(m.txn_start_timestamp() >= 0);
                }
            }
        }
    }
}
