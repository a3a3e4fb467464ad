//! Validation of one append for one producer, against a staged copy of its state.
//!
//! Kafka's `ProducerAppendInfo` plus the verification check of
//! `UnifiedLog.analyzeAndValidateProducerState`. Nothing here touches the manager: the staged
//! copy is committed by [`super::ProducerStateManager::update`] only after the log write
//! succeeded (KAFKA-6683).

use super::batch::{AppendOrigin, BatchInfo, CompletedTxn, ControlMarker, next_sequence};
use super::entry::{BatchMetadata, ProducerStateEntry};
use super::verification::{VerificationGuard, VerificationState};
use super::{NO_PRODUCER_EPOCH, NO_SEQUENCE};
use crate::error::ProducerError;

/// Transactions started by one append, in order. The first is stored inline so that the common
/// case (one transactional batch per request) allocates nothing.
#[derive(Debug, Clone, Default)]
struct StartedTxns {
    first: Option<i64>,
    more: Vec<i64>,
}

impl StartedTxns {
    fn push(&mut self, first_offset: i64) {
        if self.first.is_none() {
            self.first = Some(first_offset);
        } else {
            self.more.push(first_offset);
        }
    }

    fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        self.first.into_iter().chain(self.more.iter().copied())
    }
}

/// The staged state of one producer during one append (Kafka's `ProducerAppendInfo`).
///
/// Obtained from [`super::ProducerStateManager::prepare_update`]; feed it the producer's batches
/// of the append in offset order with [`ProducerAppendInfo::append`], write them, then hand it to
/// [`super::ProducerStateManager::update`]. If any batch is rejected, drop it: the manager is
/// unchanged (and so is this staged copy — a rejected batch leaves no trace here either).
///
/// Like Kafka, the staged entry starts with the committed epochs, timestamp and open
/// transaction but an **empty** batch window: only this append's batches are staged, and the
/// sequence check falls back to the committed last sequence while none is staged. That keeps
/// staging at a fixed-size stack copy with no heap allocation.
#[derive(Debug, Clone)]
pub struct ProducerAppendInfo {
    producer_id: i64,
    origin: AppendOrigin,
    /// Epoch of the committed entry (−1 for an unknown producer).
    current_epoch: i16,
    /// Last sequence of the committed entry (−1 if it retains no batch).
    current_last_seq: i32,
    /// Whether the committed entry retains no batch.
    current_is_empty: bool,
    /// The staged entry (Kafka's `updatedEntry`).
    updated: ProducerStateEntry,
    started: StartedTxns,
    /// The verification registered for the producer when the append was prepared.
    verification: Option<VerificationState>,
    /// `transaction.partition.verification.enable`.
    verification_enabled: bool,
    /// Whether committing this append must drop the producer's verification registration.
    clears_verification: bool,
}

impl ProducerAppendInfo {
    pub(crate) fn new(
        producer_id: i64,
        origin: AppendOrigin,
        current: Option<&ProducerStateEntry>,
        verification: Option<VerificationState>,
        verification_enabled: bool,
    ) -> Self {
        let (updated, current_epoch, current_last_seq, current_is_empty) = match current {
            Some(e) => (e.staging_copy(), e.producer_epoch(), e.last_seq(), e.is_empty()),
            None => (ProducerStateEntry::empty(producer_id), NO_PRODUCER_EPOCH, NO_SEQUENCE, true),
        };
        Self {
            producer_id,
            origin,
            current_epoch,
            current_last_seq,
            current_is_empty,
            updated,
            started: StartedTxns::default(),
            verification,
            verification_enabled,
            clears_verification: false,
        }
    }

    /// The producer this append is for.
    pub fn producer_id(&self) -> i64 {
        self.producer_id
    }

    /// The origin given to `prepare_update`.
    pub fn origin(&self) -> AppendOrigin {
        self.origin
    }

    /// The staged entry (Kafka's `toEntry()`): epochs, timestamp and open transaction as they
    /// will be after the commit, and only the batches staged by this append.
    pub fn staged_entry(&self) -> &ProducerStateEntry {
        &self.updated
    }

    /// First offsets of the transactions this append started, in order.
    pub fn started_transactions(&self) -> impl Iterator<Item = i64> + '_ {
        self.started.iter()
    }

    pub(crate) fn clears_verification(&self) -> bool {
        self.clears_verification
    }

    /// Validates one batch of this producer and stages its effect.
    ///
    /// `verification` is the guard the request carries (KIP-890 part 1), `None` if none.
    /// Returns the transaction a COMMIT/ABORT marker completed, if it had data on this partition.
    ///
    /// Checks, in Kafka's order (the first failure wins, and a failed batch stages nothing):
    /// 1. verification (client and coordinator origins, transactional batch, no transaction of
    ///    this epoch open): an older epoch → INVALID_PRODUCER_EPOCH; when verification is enabled,
    ///    a data batch without the registered guard → INVALID_TXN_STATE;
    /// 2. producer epoch (data: older → INVALID_PRODUCER_EPOCH; markers: see below), only logged
    ///    for replication;
    /// 3. sequence (client origin, data only) → OUT_OF_ORDER_SEQUENCE_NUMBER;
    /// 4. transaction state: a non-transactional batch while a transaction is open →
    ///    INVALID_TXN_STATE (all origins, as in Kafka's `appendDataBatch`);
    /// 5. markers: coordinator epoch older than the producer's → TRANSACTION_COORDINATOR_FENCED
    ///    (only logged for replication, KAFKA-9144).
    ///
    /// Precondition: `batch.producer_id == self.producer_id()`.
    pub fn append(
        &mut self,
        batch: &BatchInfo,
        verification: Option<&VerificationGuard>,
    ) -> Result<Option<CompletedTxn>, ProducerError> {
        debug_assert_eq!(batch.producer_id, self.producer_id, "batch given to the wrong producer's append");
        self.check_verification(batch, verification)?;
        match batch.control {
            Some(marker) => self.append_marker(batch, marker),
            None => {
                self.append_data(batch)?;
                Ok(None)
            }
        }
    }

    /// `UnifiedLog.analyzeAndValidateProducerState`'s verification block: transactional records
    /// from a client or coordinator are never written outside a transaction the coordinator knows
    /// about (KAFKA-12671, hanging transactions).
    fn check_verification(
        &self,
        batch: &BatchInfo,
        presented: Option<&VerificationGuard>,
    ) -> Result<(), ProducerError> {
        if self.origin == AppendOrigin::Replication || !batch.is_transactional {
            return Ok(());
        }
        // Kafka's `hasOngoingTransaction(pid, epoch)`. Evaluated on the staged copy, which equals
        // the committed entry for the first batch of an append; a later batch of the same
        // transaction in the same append needs no second guard.
        let ongoing = self.updated.current_txn_first_offset().is_some()
            && self.updated.producer_epoch() == batch.producer_epoch;
        if ongoing {
            return Ok(());
        }
        // A stale epoch is reported as such (recoverable for the client) before verification.
        if batch.producer_epoch < self.updated.producer_epoch() {
            return Err(self.invalid_epoch(batch.producer_epoch));
        }
        if self.verification_enabled && !batch.is_control() {
            let registered = self.verification.map_or(VerificationGuard::SENTINEL, |v| v.guard);
            if !registered.verify(presented) {
                return Err(ProducerError::InvalidTxnState {
                    producer_id: self.producer_id,
                    detail: format!(
                        "transactional batch at offset {} is not part of a verified or ongoing transaction",
                        batch.first_offset
                    ),
                });
            }
        }
        Ok(())
    }

    fn invalid_epoch(&self, epoch: i16) -> ProducerError {
        ProducerError::InvalidProducerEpoch {
            producer_id: self.producer_id,
            epoch,
            current: self.updated.producer_epoch(),
        }
    }

    fn out_of_order(&self, epoch: i16, first_seq: i32, expected: i32) -> ProducerError {
        ProducerError::OutOfOrderSequence { producer_id: self.producer_id, epoch, first_seq, expected }
    }

    /// Kafka's `appendDataBatch`.
    fn append_data(&mut self, batch: &BatchInfo) -> Result<(), ProducerError> {
        let epoch = batch.producer_epoch;
        // Data batches use the legacy rule: an older epoch is a zombie (since 2.7 reported as
        // INVALID_PRODUCER_EPOCH rather than PRODUCER_FENCED, KAFKA-10687).
        if epoch < self.updated.producer_epoch() {
            if self.origin == AppendOrigin::Replication {
                log::warn!(
                    "producer {} at offset {}: epoch {} is older than the last seen epoch {} (replication, accepted)",
                    self.producer_id,
                    batch.first_offset,
                    epoch,
                    self.updated.producer_epoch()
                );
            } else {
                return Err(self.invalid_epoch(epoch));
            }
        }
        if self.origin == AppendOrigin::Client {
            self.check_sequence(epoch, batch.base_sequence)?;
        }
        if self.updated.current_txn_first_offset().is_some() && !batch.is_transactional {
            return Err(ProducerError::InvalidTxnState {
                producer_id: self.producer_id,
                detail: format!(
                    "non-transactional batch at offset {} while a transaction is open",
                    batch.first_offset
                ),
            });
        }

        // All checks passed: stage.
        self.updated.add_batch(
            epoch,
            BatchMetadata {
                last_seq: batch.last_sequence,
                last_offset: batch.last_offset,
                offset_delta: batch.offset_delta(),
                timestamp: batch.max_timestamp,
            },
        );
        if batch.is_transactional {
            if self.updated.current_txn_first_offset().is_none() {
                self.updated.set_current_txn_first_offset(Some(batch.first_offset));
                self.started.push(batch.first_offset);
            }
            // The transaction now has a first offset on this partition, so the guard has done
            // its job (Kafka's `updateProducers`).
            self.clears_verification = true;
        }
        Ok(())
    }

    /// Kafka's `checkSequence` (client origin only).
    fn check_sequence(&self, epoch: i16, first_seq: i32) -> Result<(), ProducerError> {
        if let Some(v) = &self.verification {
            // [TV2] a verified producer that has no batch on this partition starts at 0.
            if v.supports_epoch_bump && first_seq != 0 && self.current_is_empty {
                return Err(self.out_of_order(epoch, first_seq, 0));
            }
            // KAFKA-14920: while a verification is registered, nothing above the lowest sequence
            // seen during verification may be written (whatever the epoch, and even if
            // verification has since been disabled: the check follows the registration).
            if first_seq > v.lowest_sequence {
                return Err(self.out_of_order(epoch, first_seq, v.lowest_sequence));
            }
        }
        if epoch != self.updated.producer_epoch() {
            // A new epoch restarts sequences at 0, unless the partition knows no epoch at all
            // (the producer's data was deleted or it expired: accept anything, KIP-360).
            if first_seq != 0 && self.updated.producer_epoch() != NO_PRODUCER_EPOCH {
                return Err(self.out_of_order(epoch, first_seq, 0));
            }
        } else {
            let last_seq = if !self.updated.is_empty() {
                self.updated.last_seq()
            } else if epoch == self.current_epoch {
                self.current_last_seq
            } else {
                NO_SEQUENCE
            };
            let in_sequence =
                i64::from(first_seq) == i64::from(last_seq) + 1 || (first_seq == 0 && last_seq == i32::MAX);
            if !(self.current_epoch == NO_PRODUCER_EPOCH || in_sequence) {
                return Err(self.out_of_order(epoch, first_seq, next_sequence(last_seq)));
            }
        }
        Ok(())
    }

    /// Kafka's `appendEndTxnMarker`.
    fn append_marker(
        &mut self,
        batch: &BatchInfo,
        marker: ControlMarker,
    ) -> Result<Option<CompletedTxn>, ProducerError> {
        let epoch = batch.producer_epoch;
        let offset = batch.first_offset;
        // Followers and recovery do not know the transaction version: legacy rule (Kafka passes
        // TV_UNKNOWN and validates as TV0, which accepts everything TV2 accepts).
        let tv2 = self.origin != AppendOrigin::Replication && marker.is_tv2();
        self.check_marker_epoch(epoch, offset, tv2)?;
        self.check_coordinator_epoch(marker.coordinator_epoch, offset)?;

        // Only a transaction with data here completes; an empty one needs no index entry and
        // cannot hold back the LSO.
        let completed = self.updated.current_txn_first_offset().map(|first_offset| CompletedTxn {
            producer_id: self.producer_id,
            first_offset,
            last_offset: offset,
            is_aborted: !marker.commit,
        });
        self.updated.apply_marker(epoch, marker.coordinator_epoch, batch.max_timestamp);

        // The marker ends the verified transaction, so the guard goes — except under TV2 when the
        // registration is for the epoch this marker carries: the client already verified its
        // *next* transaction with the bumped epoch, and that guard must survive the late marker.
        let next_txn_verified = self.verification.is_some_and(|v| v.supports_epoch_bump && v.epoch == epoch);
        if !next_txn_verified {
            self.clears_verification = true;
        }
        Ok(completed)
    }

    /// Kafka's `checkProducerEpoch` for markers.
    ///
    /// Legacy (TV0/TV1): markers carry the transaction's epoch, so only an older epoch is
    /// rejected. TV2: the coordinator bumps the epoch before writing markers, so a marker must be
    /// strictly newer; an equal epoch with no open transaction is an idempotent retry of a marker
    /// already written and is accepted (KAFKA-19999); an equal epoch with an open transaction
    /// would mix two transactions under one epoch and is rejected.
    fn check_marker_epoch(&self, epoch: i16, offset: i64, tv2: bool) -> Result<(), ProducerError> {
        let current = self.updated.producer_epoch();
        let invalid = if tv2 { epoch <= current } else { epoch < current };
        if !invalid {
            return Ok(());
        }
        if tv2 && epoch == current && self.updated.current_txn_first_offset().is_none() {
            log::info!(
                "producer {} at offset {}: idempotent TV2 marker retry at epoch {}, transaction already complete",
                self.producer_id,
                offset,
                epoch
            );
            return Ok(());
        }
        if self.origin == AppendOrigin::Replication {
            log::warn!(
                "producer {} at offset {}: marker epoch {} is older than the last seen epoch {} (replication, accepted)",
                self.producer_id,
                offset,
                epoch,
                current
            );
            return Ok(());
        }
        Err(self.invalid_epoch(epoch))
    }

    /// Kafka's `checkCoordinatorEpoch`: a marker from an older coordinator is a zombie.
    fn check_coordinator_epoch(&self, coordinator_epoch: i32, offset: i64) -> Result<(), ProducerError> {
        let current = self.updated.coordinator_epoch();
        if current <= coordinator_epoch {
            return Ok(());
        }
        if self.origin == AppendOrigin::Replication {
            // KAFKA-9144: a regressed coordinator epoch already in the log must not stop replay.
            log::info!(
                "producer {} at offset {}: coordinator epoch {} is older than {} (replication, accepted)",
                self.producer_id,
                offset,
                coordinator_epoch,
                current
            );
            return Ok(());
        }
        Err(ProducerError::CoordinatorFenced { producer_id: self.producer_id, coordinator_epoch, current })
    }
}
