//! Equivalents of Kafka's `TransactionCoordinatorTest`, run against the real coordinator through
//! the engine (`__transaction_state` on disk, markers written to real partitions) instead of
//! mocks. Each test names the Kafka test(s) it stands for. States Kafka's tests build by hand are
//! reached either through the API, or — for the ones a client cannot reach quickly (an epoch
//! close to `i16::MAX`) — by writing the `__transaction_state` record a previous run would have
//! left and reopening the engine, which is how the coordinator loads them anyway. Transactions
//! stuck in `PrepareCommit` / `PrepareAbort` come from a marker write that fails on the
//! fault-injecting disk.

mod txn_common;

use std::sync::Arc;

use eoslog::clock::{Clock, ManualClock};
use eoslog::io::fault::{Errno, FaultBackend, FaultPlan, OpKind};
use eoslog::txn::{ProducerIdAndEpoch, TransactionState, TransactionVersion};
use eoslog::{Engine, ErrorCode};
use txn_common::*;

use ErrorCode::{
    ConcurrentTransactions, InvalidProducerIdMapping, InvalidRequest, InvalidTransactionTimeout,
    InvalidTxnState, ProducerFenced, TransactionAbortable,
};
use TransactionState::*;
use TransactionVersion::{Tv0, Tv1, Tv2};

const ID: &str = "known";
const MAX: i16 = i16::MAX;

struct Fixture {
    dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    engine: Option<Engine>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(T0);
        let engine = open_dir(dir.path(), &clock);
        engine.create_topic("topic1", 2, topic_config()).unwrap();
        Fixture { dir, clock, engine: Some(engine) }
    }

    fn engine(&self) -> &Engine {
        self.engine.as_ref().unwrap()
    }

    /// Closes and reopens the engine on the same directory (a coordinator restart).
    fn restart(&mut self) {
        let old = self.engine.take().unwrap();
        old.close().unwrap();
        drop(old);
        self.engine = Some(open_dir(self.dir.path(), &self.clock));
    }

    /// Writes a `__transaction_state` record for `id` and restarts so the coordinator loads it.
    fn seed(&mut self, id: &str, value: eoslog::txn::TxnTransitMetadata) {
        append_txn_record(self.engine(), id, &value);
        self.restart();
    }

    fn clock_now(&self) -> i64 {
        self.clock.now_ms()
    }

    fn txn(&self) -> &Arc<eoslog::txn::TransactionCoordinator> {
        self.engine().transactions()
    }

    fn state(&self, id: &str) -> (TransactionState, i64, i16) {
        let d = self.txn().describe(id).unwrap();
        (d.state, d.producer_id, d.producer_epoch)
    }

    /// init → add topic1-0 → produce one batch: an Ongoing transaction.
    fn ongoing(&self, id: &str, tv: TransactionVersion) -> ProducerIdAndEpoch {
        let p = self.txn().init_producer_id(Some(id), TIMEOUT_MS, None).unwrap();
        self.begin(id, p, tv);
        p
    }

    fn begin(&self, id: &str, p: ProducerIdAndEpoch, tv: TransactionVersion) {
        self.txn().add_partitions_to_txn(id, p.producer_id, p.epoch, &[tp("topic1", 0)], tv).unwrap();
        self.engine()
            .produce(
                "topic1",
                0,
                &txn_batch(p.producer_id, p.epoch, 0, 2, &format!("{id}-{}", p.epoch)),
                Some(id),
            )
            .unwrap();
    }
}

// ---------------------------------------------------------------------------- InitProducerId

/// shouldAcceptInitPidAndReturnNextPidWhenTransactionalIdIsNull
#[test]
fn init_without_transactional_id_hands_out_fresh_ids_at_epoch_zero() {
    let f = Fixture::new();
    let a = f.txn().init_producer_id(None, TIMEOUT_MS, None).unwrap();
    let b = f.txn().init_producer_id(None, TIMEOUT_MS, None).unwrap();
    assert_eq!((a.epoch, b.epoch), (0, 0));
    assert_eq!(b.producer_id, a.producer_id + 1);
    // The timeout is not checked for idempotent producers (Kafka accepts the request blindly).
    let c = f.txn().init_producer_id(None, -5, None).unwrap();
    assert_eq!(c.producer_id, b.producer_id + 1);
    assert!(f.txn().list().is_empty(), "no transactional metadata for idempotent producers");
}

/// shouldReturnInvalidRequestWhenTransactionalIdIsEmpty, plus the 32767-byte limit of a Kafka
/// STRING and Kafka's `validateTransactionTimeoutMs` (0 < timeout ≤ transaction.max.timeout.ms).
#[test]
fn init_rejects_bad_ids_and_timeouts() {
    let f = Fixture::new();
    let before = txn_log_end(f.engine());
    for _ in 0..2 {
        assert_eq!(code(f.txn().init_producer_id(Some(""), TIMEOUT_MS, None)), InvalidRequest);
    }
    let too_long = "x".repeat(i16::MAX as usize + 1);
    assert_eq!(code(f.txn().init_producer_id(Some(&too_long), TIMEOUT_MS, None)), InvalidRequest);
    let max = 15 * 60 * 1000;
    for t in [0, -1, i32::MIN, max + 1, i32::MAX] {
        assert_eq!(code(f.txn().init_producer_id(Some(ID), t, None)), InvalidTransactionTimeout, "{t}");
    }
    assert_eq!(txn_log_end(f.engine()), before, "a refused request writes nothing");
    assert!(f.txn().describe(ID).is_none(), "a refused request creates no metadata");
    // The limits themselves are accepted.
    let longest = "y".repeat(i16::MAX as usize);
    assert_eq!(f.txn().init_producer_id(Some(&longest), max, None).unwrap().epoch, 0);
    assert_eq!(f.txn().init_producer_id(Some(ID), 1, None).unwrap().epoch, 0);
}

/// shouldInitPidWithEpochZeroForNewTransactionalId
#[test]
fn new_transactional_id_starts_at_epoch_zero() {
    let f = Fixture::new();
    let before = txn_log_end(f.engine());
    let p = f.txn().init_producer_id(Some(ID), TIMEOUT_MS, None).unwrap();
    assert_eq!(p.epoch, 0);
    let d = f.txn().describe(ID).unwrap();
    assert_eq!(
        (d.state, d.producer_id, d.producer_epoch, d.timeout_ms),
        (Empty, p.producer_id, 0, TIMEOUT_MS)
    );
    assert!(d.partitions.is_empty());
    assert_eq!(d.start_ms, -1);
    // One record for the id (plus a producer-id block the first time ids are handed out).
    assert!(txn_log_end(f.engine()) > before);
}

/// shouldGenerateNewProducerIdIfNoStateAndProducerIdAndEpochProvided
#[test]
fn unknown_id_with_expected_producer_gets_a_new_producer_id() {
    let f = Fixture::new();
    let other = f.txn().init_producer_id(None, TIMEOUT_MS, None).unwrap();
    let p = f.txn().init_producer_id(Some(ID), TIMEOUT_MS, Some(pe(10, 1))).unwrap();
    assert_eq!(p, pe(other.producer_id + 1, 0));
}

/// shouldIncrementEpochAndUpdateMetadataOnHandleInitPidWhenExisting{Empty,Complete,
/// CompleteCommit}Transaction: a re-init bumps the epoch, resets to Empty and takes the new
/// timeout.
#[test]
fn reinit_bumps_the_epoch_from_empty_and_complete_states() {
    let f = Fixture::new();
    for (id, end) in [("empty", None), ("committed", Some(true)), ("aborted", Some(false))] {
        let p = f.txn().init_producer_id(Some(id), TIMEOUT_MS, None).unwrap();
        if let Some(commit) = end {
            f.begin(id, p, Tv0);
            f.txn().end_txn(id, p.producer_id, p.epoch, commit, Tv0).unwrap();
            let expect = if commit { CompleteCommit } else { CompleteAbort };
            assert_eq!(f.state(id).0, expect);
        }
        f.clock.advance(5);
        let q = f.txn().init_producer_id(Some(id), TIMEOUT_MS * 2, None).unwrap();
        assert_eq!(q, pe(p.producer_id, p.epoch + 1), "{id}");
        let d = f.txn().describe(id).unwrap();
        assert_eq!(
            (d.state, d.timeout_ms, d.start_ms, d.last_update_ms),
            (Empty, TIMEOUT_MS * 2, -1, f.clock_now())
        );
        assert!(d.partitions.is_empty());
    }
}

/// shouldGenerateNewProducerIdIfEpochsExhausted: at epoch i16::MAX − 1 the id is rotated; the
/// rotation is durable.
#[test]
fn exhausted_epoch_rotates_the_producer_id() {
    let mut f = Fixture::new();
    let old = f.txn().init_producer_id(Some(ID), TIMEOUT_MS, None).unwrap();
    f.seed(ID, txn_value(old.producer_id, MAX - 1, Empty, &[], Tv0, T0));
    assert_eq!(f.state(ID), (Empty, old.producer_id, MAX - 1));
    let new = f.txn().init_producer_id(Some(ID), TIMEOUT_MS, None).unwrap();
    assert_ne!(new.producer_id, old.producer_id);
    assert_eq!(new.epoch, 0);
    f.restart();
    assert_eq!(f.state(ID), (Empty, new.producer_id, 0), "the rotation was persisted");
    // The new producer id works end to end.
    f.begin(ID, new, Tv2);
    let next = f.txn().end_txn(ID, new.producer_id, 0, true, Tv2).unwrap();
    assert_eq!(next, pe(new.producer_id, 1));
    assert_eq!(committed_values(f.engine(), "topic1", 0), vec!["known-0-0", "known-0-1"]);
}

/// The highest epoch a client is given is i16::MAX − 2 bumped once: an init at MAX − 2 gives
/// MAX − 1 (still the same producer id), the next one rotates.
#[test]
fn epoch_is_bumped_up_to_max_minus_one_then_rotated() {
    let mut f = Fixture::new();
    let old = f.txn().init_producer_id(Some(ID), TIMEOUT_MS, None).unwrap();
    f.seed(ID, txn_value(old.producer_id, MAX - 2, CompleteCommit, &[], Tv0, T0));
    assert_eq!(f.txn().init_producer_id(Some(ID), TIMEOUT_MS, None).unwrap(), pe(old.producer_id, MAX - 1));
    let rotated = f.txn().init_producer_id(Some(ID), TIMEOUT_MS, None).unwrap();
    assert_ne!(rotated.producer_id, old.producer_id);
    assert_eq!(rotated.epoch, 0);
}

/// testInitProducerIdWithCurrentEpochProvided, testInitProducerIdStaleCurrentEpochProvided,
/// testFenceProducerWhenMappingExistsWithDifferentProducerId,
/// testInitProducerIdWithNoLastProducerData (KIP-360).
#[test]
fn kip360_expected_producer_id_and_epoch() {
    let f = Fixture::new();
    let p0 = f.txn().init_producer_id(Some(ID), TIMEOUT_MS, None).unwrap();
    // No last epoch recorded (fresh init): the current epoch bumps.
    let p1 = f.txn().init_producer_id(Some(ID), TIMEOUT_MS, Some(p0)).unwrap();
    assert_eq!(p1, pe(p0.producer_id, p0.epoch + 1));
    // A retry of that request (its response was lost) gets the same epoch, without a bump.
    let before = txn_log_end(f.engine());
    for _ in 0..2 {
        assert_eq!(f.txn().init_producer_id(Some(ID), TIMEOUT_MS, Some(p0)).unwrap(), p1);
    }
    assert!(txn_log_end(f.engine()) > before, "the retry is written again, like Kafka's");
    // The current epoch bumps again.
    let p2 = f.txn().init_producer_id(Some(ID), TIMEOUT_MS, Some(p1)).unwrap();
    assert_eq!(p2, pe(p0.producer_id, p0.epoch + 2));
    // Neither current nor previous epoch: fenced. Another producer id: fenced.
    assert_eq!(code(f.txn().init_producer_id(Some(ID), TIMEOUT_MS, Some(p0))), ProducerFenced);
    let stale_higher = pe(p0.producer_id, p2.epoch + 5);
    assert_eq!(code(f.txn().init_producer_id(Some(ID), TIMEOUT_MS, Some(stale_higher))), ProducerFenced);
    assert_eq!(
        code(f.txn().init_producer_id(Some(ID), TIMEOUT_MS, Some(pe(p0.producer_id + 1, p2.epoch)))),
        ProducerFenced
    );
    assert_eq!(f.state(ID), (Empty, p0.producer_id, p2.epoch), "a fenced request changes nothing");
    // An init without an expected producer (a new instance) bumps and forgets the last epoch, so
    // the old instance's "retry" is now fenced.
    let p3 = f.txn().init_producer_id(Some(ID), TIMEOUT_MS, None).unwrap();
    assert_eq!(p3.epoch, p2.epoch + 1);
    assert_eq!(code(f.txn().init_producer_id(Some(ID), TIMEOUT_MS, Some(p2))), ProducerFenced);
}

/// testRetryInitProducerIdAfterProducerIdRotation,
/// testInitProducerIdWithInvalidEpochAfterProducerIdRotation.
#[test]
fn kip360_retry_after_producer_id_rotation() {
    let mut f = Fixture::new();
    let p = f.txn().init_producer_id(Some(ID), TIMEOUT_MS, None).unwrap();
    f.seed(ID, txn_value(p.producer_id, MAX - 1, Empty, &[], Tv0, T0));
    let exhausted = pe(p.producer_id, MAX - 1);
    let rotated = f.txn().init_producer_id(Some(ID), TIMEOUT_MS, Some(exhausted)).unwrap();
    assert_ne!(rotated.producer_id, p.producer_id);
    assert_eq!(rotated.epoch, 0);
    // The retry (same previous id, exhausted epoch) gets the same new id and epoch.
    assert_eq!(f.txn().init_producer_id(Some(ID), TIMEOUT_MS, Some(exhausted)).unwrap(), rotated);
    // The previous id with an epoch that was not exhausted is a zombie.
    assert_eq!(
        code(f.txn().init_producer_id(Some(ID), TIMEOUT_MS, Some(pe(p.producer_id, MAX - 2)))),
        ProducerFenced
    );
    assert_eq!(f.state(ID), (Empty, rotated.producer_id, 0));
}

/// KIP-360 at the last epoch: a request whose expected epoch is not the exhausted one does not
/// rotate. A retry of the bump that reached i16::MAX − 1 (its response was lost) gets that epoch
/// again, and any other epoch is fenced. (Kafka's coordinator throws an IllegalStateException in
/// both cases — UNKNOWN_SERVER_ERROR, fatal for a producer that only retried.)
#[test]
fn kip360_at_the_exhausted_epoch_retry_and_fencing() {
    let mut f = Fixture::new();
    let p = f.txn().init_producer_id(Some(ID), TIMEOUT_MS, None).unwrap();
    f.seed(ID, txn_value(p.producer_id, MAX - 2, CompleteAbort, &[], Tv0, T0));
    let last = f.txn().init_producer_id(Some(ID), TIMEOUT_MS, Some(pe(p.producer_id, MAX - 2))).unwrap();
    assert_eq!(last, pe(p.producer_id, MAX - 1));
    // The retry: same answer, no rotation.
    assert_eq!(
        f.txn().init_producer_id(Some(ID), TIMEOUT_MS, Some(pe(p.producer_id, MAX - 2))).unwrap(),
        last
    );
    // A zombie.
    let e = f.txn().init_producer_id(Some(ID), TIMEOUT_MS, Some(pe(p.producer_id, 3))).unwrap_err();
    assert_eq!(e.code(), ProducerFenced, "{e}");
    assert_eq!(f.state(ID), (Empty, p.producer_id, MAX - 1));
    // The producer moves on with the last epoch: rotation.
    let rotated = f.txn().init_producer_id(Some(ID), TIMEOUT_MS, Some(last)).unwrap();
    assert_ne!(rotated.producer_id, p.producer_id);
    assert_eq!(rotated.epoch, 0);
}

/// shouldAbortTransactionOnHandleInitPidWhenExistingTransactionInOngoingState, for both client
/// versions: the first init fences the old epoch, aborts the open transaction (markers written,
/// LSO released) and answers CONCURRENT_TRANSACTIONS; the retry bumps again.
#[test]
fn init_during_ongoing_fences_aborts_and_asks_to_retry() {
    for tv in [Tv0, Tv2] {
        let f = Fixture::new();
        let old = f.ongoing(ID, tv);
        let log = f.engine().partition("topic1", 0).unwrap();
        assert!(log.last_stable_offset() < log.log_end_offset());
        assert_eq!(code(f.txn().init_producer_id(Some(ID), TIMEOUT_MS, None)), ConcurrentTransactions);
        let (state, pid, fenced_epoch) = f.state(ID);
        assert_eq!((state, pid), (CompleteAbort, old.producer_id));
        assert!(fenced_epoch > old.epoch, "{tv:?}: the abort carries a fenced epoch");
        let m = markers(f.engine(), "topic1", 0);
        assert_eq!(m.len(), 1);
        assert_eq!((m[0].0, m[0].1, m[0].3), (old.producer_id, fenced_epoch, false));
        assert_all_stable(f.engine());
        assert!(committed_values(f.engine(), "topic1", 0).is_empty());
        let new = f.txn().init_producer_id(Some(ID), TIMEOUT_MS, None).unwrap();
        assert_eq!(new, pe(old.producer_id, fenced_epoch + 1), "{tv:?}");
        // The zombie is fenced everywhere.
        assert_eq!(code(f.txn().end_txn(ID, old.producer_id, old.epoch, true, tv)), ProducerFenced);
        let late = txn_batch(old.producer_id, old.epoch, 2, 1, "late");
        assert_eq!(code(f.engine().produce("topic1", 0, &late, Some(ID))), ErrorCode::InvalidProducerEpoch);
    }
}

/// shouldUseLastEpochToFenceWhenEpochsAreExhausted and
/// shouldNotCauseEpochOverflowWhenInitPidDuringOngoingTxnV2: an Ongoing transaction at epoch
/// i16::MAX − 1 is fenced with i16::MAX (never past it), aborted, and the retry rotates the id.
#[test]
fn init_during_ongoing_at_exhausted_epoch_fences_with_max_then_rotates() {
    for tv in [Tv0, Tv2] {
        let mut f = Fixture::new();
        let p = f.txn().init_producer_id(Some(ID), TIMEOUT_MS, None).unwrap();
        f.seed(ID, txn_value(p.producer_id, MAX - 1, Ongoing, &[tp("topic1", 0)], tv, T0));
        f.engine().produce("topic1", 0, &txn_batch(p.producer_id, MAX - 1, 0, 2, "old"), Some(ID)).unwrap();
        assert_eq!(code(f.txn().init_producer_id(Some(ID), TIMEOUT_MS, None)), ConcurrentTransactions);
        assert_eq!(f.state(ID), (CompleteAbort, p.producer_id, MAX), "{tv:?}");
        assert_eq!(
            markers(f.engine(), "topic1", 0),
            vec![(p.producer_id, MAX, f.txn().coordinator_epoch(), false)]
        );
        assert_all_stable(f.engine());
        let new = f.txn().init_producer_id(Some(ID), TIMEOUT_MS, None).unwrap();
        assert_ne!(new.producer_id, p.producer_id);
        assert_eq!(new.epoch, 0);
        assert!(committed_values(f.engine(), "topic1", 0).is_empty());
    }
}

/// shouldWaitForCommitToCompleteOnHandleInitPidAndExistingTransactionInPrepare{Commit,Abort}State
/// and the AddPartitions / EndTxn answers while a transaction is prepared (TV1 and TV2).
#[test]
fn prepared_transaction_answers_concurrent_transactions() {
    for commit in [true, false] {
        for tv in [Tv0, Tv2] {
            let s = Stuck::new(commit, tv);
            let txn = s.engine.transactions();
            let d = txn.describe(ID).unwrap();
            let prepared = if commit { PrepareCommit } else { PrepareAbort };
            assert_eq!(d.state, prepared, "{tv:?}");
            let cur = pe(d.producer_id, d.producer_epoch);
            let before = txn_log_end(&s.engine);
            // InitProducerId
            assert_eq!(code(txn.init_producer_id(Some(ID), TIMEOUT_MS, None)), ConcurrentTransactions);
            assert_eq!(
                code(txn.init_producer_id(Some(ID), TIMEOUT_MS, Some(s.client))),
                ConcurrentTransactions
            );
            // AddPartitionsToTxn with the epoch of the metadata (Kafka checks the epoch first).
            assert_eq!(
                code(txn.add_partitions_to_txn(ID, cur.producer_id, cur.epoch, &[tp("topic1", 1)], tv)),
                ConcurrentTransactions
            );
            assert_eq!(
                code(txn.verify_partitions(ID, cur.producer_id, cur.epoch, &[tp("topic1", 0)])),
                ConcurrentTransactions
            );
            // EndTxn: the same result is in progress, the other one is not allowed.
            assert_eq!(
                code(txn.end_txn(ID, s.client.producer_id, s.client.epoch, commit, tv)),
                ConcurrentTransactions
            );
            assert_eq!(
                code(txn.end_txn(ID, s.client.producer_id, s.client.epoch, !commit, tv)),
                InvalidTxnState
            );
            assert_eq!(txn_log_end(&s.engine), before, "nothing was written");
            assert_eq!(txn.describe(ID).unwrap(), d);
        }
    }
}

/// A transaction stuck in PrepareCommit / PrepareAbort: the marker write to `topic1-0` failed on
/// the fault-injecting disk (the partition is offline; `__transaction_state` is fine).
struct Stuck {
    _fs: FaultBackend,
    engine: Engine,
    /// The producer id and epoch the client used for EndTxn.
    client: ProducerIdAndEpoch,
}

impl Stuck {
    fn new(commit: bool, tv: TransactionVersion) -> Stuck {
        let fs = FaultBackend::new();
        let clock = ManualClock::new(T0);
        let engine = open_fault(&fs, &clock).unwrap();
        engine.create_topic("topic1", 2, topic_config()).unwrap();
        let txn = engine.transactions();
        let p = txn.init_producer_id(Some(ID), TIMEOUT_MS, None).unwrap();
        txn.add_partitions_to_txn(ID, p.producer_id, p.epoch, &[tp("topic1", 0)], tv).unwrap();
        engine.produce("topic1", 0, &txn_batch(p.producer_id, p.epoch, 0, 2, "stuck"), Some(ID)).unwrap();
        // Write 1: the Prepare record; write 2: the marker.
        fs.set_plan(FaultPlan::new().fail(OpKind::Write, 2, Errno::Eio));
        let e = txn.end_txn(ID, p.producer_id, p.epoch, commit, tv).unwrap_err();
        assert_eq!(e.code(), ErrorCode::KafkaStorageError, "{e}");
        fs.set_plan(FaultPlan::new());
        assert!(engine.partition("topic1", 0).unwrap().failure().is_some(), "the marker write failed");
        assert!(engine.partition("__transaction_state", 0).unwrap().failure().is_none());
        Stuck { _fs: fs, engine, client: p }
    }
}

// ------------------------------------------------------------------------ AddPartitionsToTxn

/// shouldRespondWithInvalidPidMappingOnAddPartitionsToTransactionWhenTransactionalIdNotPresent,
/// shouldRespondWithInvalidRequestAddPartitionsToTransactionWhenTransactionalIdIsEmpty, and the
/// producer-id / epoch checks (shouldRespondWithProducerFencedOnAddPartitionsWhenEpochsAreDifferent).
#[test]
fn add_partitions_checks_the_id_and_the_producer() {
    let f = Fixture::new();
    let parts = [tp("topic1", 0)];
    assert_eq!(code(f.txn().add_partitions_to_txn(ID, 0, 1, &parts, Tv0)), InvalidProducerIdMapping);
    assert_eq!(code(f.txn().add_partitions_to_txn("", 0, 1, &parts, Tv0)), InvalidRequest);
    f.txn().init_producer_id(Some(ID), TIMEOUT_MS, None).unwrap();
    let p = f.txn().init_producer_id(Some(ID), TIMEOUT_MS, None).unwrap();
    assert_eq!(p.epoch, 1);
    let before = txn_log_end(f.engine());
    assert_eq!(
        code(f.txn().add_partitions_to_txn(ID, p.producer_id + 1, p.epoch, &parts, Tv0)),
        InvalidProducerIdMapping
    );
    // Both an older and a newer epoch are fenced.
    for epoch in [0, 2, MAX] {
        assert_eq!(
            code(f.txn().add_partitions_to_txn(ID, p.producer_id, epoch, &parts, Tv0)),
            ProducerFenced
        );
    }
    assert_eq!(txn_log_end(f.engine()), before);
    assert_eq!(f.state(ID), (Empty, p.producer_id, 1));
    // A wrong epoch wins over a prepared state (Kafka checks the epoch first).
    let s = Stuck::new(true, Tv0);
    let d = s.engine.transactions().describe(ID).unwrap();
    assert_eq!(
        code(s.engine.transactions().add_partitions_to_txn(
            ID,
            d.producer_id,
            d.producer_epoch + 1,
            &parts,
            Tv0
        )),
        ProducerFenced
    );
}

/// shouldAppendNewMetadataToLogOnAddPartitionsWhenPartitionsAdded,
/// shouldRespondWithSuccessOnAddPartitionsWhenStateIs{Ongoing,CompleteCommit,CompleteAbort},
/// shouldRespondWithErrorsNoneOnAddPartitionWhenNoErrorsAndPartitionsTheSame.
#[test]
fn add_partitions_writes_once_per_change_and_not_for_known_partitions() {
    let f = Fixture::new();
    for (id, end) in [("from-empty", None), ("from-commit", Some(true)), ("from-abort", Some(false))] {
        let mut p = f.txn().init_producer_id(Some(id), TIMEOUT_MS, None).unwrap();
        if let Some(commit) = end {
            f.begin(id, p, Tv0);
            p = f.txn().end_txn(id, p.producer_id, p.epoch, commit, Tv0).unwrap();
        }
        f.clock.advance(10);
        let now = f.clock_now();
        let before = txn_log_end(f.engine());
        f.txn().add_partitions_to_txn(id, p.producer_id, p.epoch, &[tp("topic1", 1)], Tv0).unwrap();
        assert_eq!(txn_log_end(f.engine()), before + 1, "{id}: one record");
        let d = f.txn().describe(id).unwrap();
        assert_eq!((d.state, d.start_ms), (Ongoing, now), "{id}: a new transaction starts now");
        assert_eq!(d.partitions, vec![tp("topic1", 1)], "{id}: the old transaction's partitions are gone");
        // Already added: NONE, nothing written.
        f.clock.advance(10);
        f.txn().add_partitions_to_txn(id, p.producer_id, p.epoch, &[tp("topic1", 1)], Tv0).unwrap();
        assert_eq!(txn_log_end(f.engine()), before + 1, "{id}: known partitions write nothing");
        // Ongoing + a new partition: written, the start time is kept.
        f.txn()
            .add_partitions_to_txn(id, p.producer_id, p.epoch, &[tp("topic1", 0), tp("topic1", 1)], Tv0)
            .unwrap();
        assert_eq!(txn_log_end(f.engine()), before + 2);
        let d = f.txn().describe(id).unwrap();
        assert_eq!((d.state, d.start_ms), (Ongoing, now));
        assert_eq!(d.partitions, vec![tp("topic1", 0), tp("topic1", 1)]);
        f.txn().end_txn(id, p.producer_id, p.epoch, false, Tv0).unwrap();
    }
}

// -------------------------------------------------------------------------------- EndTxn

/// shouldReplyWithInvalidPidMappingOnEndTxnWhenTxnIdDoesntExist,
/// shouldReplyWithInvalidPidMappingOnEndTxnWhenPidDosentMatchMapped,
/// shouldReplyWithProducerFencedOnEndTxnWhenEpochIsNotSameAsTransaction,
/// shouldReturnInvalidEpochOnEndTxnWhenEpochIs{Larger,Smaller}, shouldRespondWithInvalidRequest
/// OnEndTxnWhenTransactionalIdIsEmpty — for both versions.
#[test]
fn end_txn_checks_the_id_and_the_producer() {
    for tv in [Tv0, Tv1, Tv2] {
        let f = Fixture::new();
        assert_eq!(code(f.txn().end_txn(ID, 0, 0, true, tv)), InvalidProducerIdMapping);
        assert_eq!(code(f.txn().end_txn("", 0, 0, true, tv)), InvalidRequest);
        f.txn().init_producer_id(Some(ID), TIMEOUT_MS, None).unwrap();
        let p = f.ongoing(ID, tv);
        assert_eq!(p.epoch, 1);
        let before = txn_log_end(f.engine());
        for commit in [true, false] {
            assert_eq!(
                code(f.txn().end_txn(ID, p.producer_id + 1, p.epoch, commit, tv)),
                InvalidProducerIdMapping
            );
            for epoch in [0, 2, MAX] {
                assert_eq!(
                    code(f.txn().end_txn(ID, p.producer_id, epoch, commit, tv)),
                    ProducerFenced,
                    "{tv:?} {epoch}"
                );
            }
        }
        assert_eq!(txn_log_end(f.engine()), before);
        assert_eq!(f.state(ID), (Ongoing, p.producer_id, 1));
    }
}

/// shouldAppendPrepare{Commit,Abort}ToLogOnEndTxnWhenStatusIsOngoingAndResultIs{Commit,Abort}:
/// Ongoing → Prepare* → markers → Complete*, two records; TV1 keeps the epoch, TV2 bumps it.
#[test]
fn end_txn_from_ongoing_prepares_writes_markers_and_completes() {
    for tv in [Tv0, Tv1, Tv2] {
        for commit in [true, false] {
            let f = Fixture::new();
            let p = f.ongoing(ID, tv);
            let before = txn_log_end(f.engine());
            let next = f.txn().end_txn(ID, p.producer_id, p.epoch, commit, tv).unwrap();
            assert_eq!(txn_log_end(f.engine()), before + 2, "PrepareX and CompleteX");
            let bumped = if tv == Tv2 { p.epoch + 1 } else { p.epoch };
            assert_eq!(next, pe(p.producer_id, bumped));
            let d = f.txn().describe(ID).unwrap();
            assert_eq!(d.state, if commit { CompleteCommit } else { CompleteAbort });
            assert!(d.partitions.is_empty());
            assert_eq!(
                markers(f.engine(), "topic1", 0),
                vec![(p.producer_id, bumped, f.txn().coordinator_epoch(), commit)]
            );
            assert_all_stable(f.engine());
            let visible = committed_values(f.engine(), "topic1", 0);
            assert_eq!(visible.len(), if commit { 2 } else { 0 });
        }
    }
}

/// The TV0/TV1 retry matrix (Kafka's `endTransactionWithTV1`): shouldReturnOkOnEndTxnWhenStatusIs
/// CompleteCommitAndResultIsCommit / CompleteAbortAndResultIsAbort, shouldReturnInvalidTxnRequest
/// OnEndTxnRequestWhenStatusIsCompleteAbortAndResultIsNotAbort / CompleteCommitAndResultIsNotCommit
/// / Empty, shouldReturnConcurrentTxnRequestOnEndTxnRequestWhenStatusIsPrepareCommit,
/// shouldReturnInvalidTxnRequestOnEndTxnRequestWhenStatusIsPrepareAbort, and a fenced epoch in
/// each state.
#[test]
fn end_txn_tv1_retry_matrix() {
    for tv in [Tv0, Tv1] {
        // Complete*: same result → NONE (no write, same epoch), other result → ITS.
        for commit in [true, false] {
            let f = Fixture::new();
            let p = f.ongoing(ID, tv);
            f.txn().end_txn(ID, p.producer_id, p.epoch, commit, tv).unwrap();
            let before = txn_log_end(f.engine());
            assert_eq!(f.txn().end_txn(ID, p.producer_id, p.epoch, commit, tv).unwrap(), p, "{tv:?} retry");
            assert_eq!(code(f.txn().end_txn(ID, p.producer_id, p.epoch, !commit, tv)), InvalidTxnState);
            for epoch in [p.epoch - 1, p.epoch + 1] {
                for c in [commit, !commit] {
                    assert_eq!(code(f.txn().end_txn(ID, p.producer_id, epoch, c, tv)), ProducerFenced);
                }
            }
            assert_eq!(txn_log_end(f.engine()), before);
            assert_eq!(markers(f.engine(), "topic1", 0).len(), 1, "a retry writes no marker");
        }
        // Empty: both results → ITS.
        let f = Fixture::new();
        let p = f.txn().init_producer_id(Some(ID), TIMEOUT_MS, None).unwrap();
        for commit in [true, false] {
            assert_eq!(code(f.txn().end_txn(ID, p.producer_id, p.epoch, commit, tv)), InvalidTxnState);
            assert_eq!(code(f.txn().end_txn(ID, p.producer_id, p.epoch + 1, commit, tv)), ProducerFenced);
        }
        // Prepare*: same result → CONCURRENT_TRANSACTIONS, other result → ITS, fenced → PF.
        for commit in [true, false] {
            let s = Stuck::new(commit, tv);
            let txn = s.engine.transactions();
            let c = s.client;
            assert_eq!(code(txn.end_txn(ID, c.producer_id, c.epoch, commit, tv)), ConcurrentTransactions);
            assert_eq!(code(txn.end_txn(ID, c.producer_id, c.epoch, !commit, tv)), InvalidTxnState);
            assert_eq!(code(txn.end_txn(ID, c.producer_id, c.epoch + 1, commit, tv)), ProducerFenced);
            assert_eq!(
                code(txn.end_txn(ID, c.producer_id + 1, c.epoch, commit, tv)),
                InvalidProducerIdMapping
            );
        }
    }
}

/// Kafka's TV2 table (the comment above `endTransaction` in TransactionCoordinator.scala), with
/// Retry = the epoch one below the coordinator's and Current = the coordinator's:
///
/// |                | Abort Retry | Abort Current | Commit Retry | Commit Current |
/// |----------------|-------------|---------------|--------------|----------------|
/// | Empty          | PF          | EB            | PF           | ITS            |
/// | CompleteAbort  | NONE        | EB            | ITS          | ITS            |
/// | CompleteCommit | ITS         | EB            | NONE         | ITS            |
#[test]
fn end_txn_tv2_table() {
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Outcome {
        Pf,
        Eb,
        Ok,
        Its,
    }
    use Outcome::*;
    let table = [
        // Ok = NONE (no error, no bump).
        (Empty, [Pf, Eb, Pf, Its]),
        (CompleteAbort, [Ok, Eb, Its, Its]),
        (CompleteCommit, [Its, Eb, Ok, Its]),
    ];
    for (state, row) in table {
        for (col, expected) in row.into_iter().enumerate() {
            let commit = col >= 2;
            let retry = col % 2 == 0;
            let f = Fixture::new();
            // Reach `state` with the coordinator at epoch 2 (so that Retry = 1 is a real epoch).
            f.txn().init_producer_id(Some(ID), TIMEOUT_MS, None).unwrap();
            let mut p = f.txn().init_producer_id(Some(ID), TIMEOUT_MS, None).unwrap();
            match state {
                Empty => p = f.txn().init_producer_id(Some(ID), TIMEOUT_MS, None).unwrap(),
                _ => {
                    f.begin(ID, p, Tv2);
                    p = f.txn().end_txn(ID, p.producer_id, p.epoch, state == CompleteCommit, Tv2).unwrap();
                }
            }
            assert_eq!(f.state(ID), (state, p.producer_id, 2));
            let epoch = if retry { p.epoch - 1 } else { p.epoch };
            let before = txn_log_end(f.engine());
            let r = f.txn().end_txn(ID, p.producer_id, epoch, commit, Tv2);
            let what = format!(
                "{state:?} {} {}",
                if commit { "commit" } else { "abort" },
                if retry { "retry" } else { "current" }
            );
            let written = txn_log_end(f.engine()) - before;
            match expected {
                Pf => assert_eq!(code(r), ProducerFenced, "{what}"),
                Its => assert_eq!(code(r), InvalidTxnState, "{what}"),
                Ok => {
                    assert_eq!(r.unwrap(), p, "{what}: the retry gets the current producer id and epoch");
                    assert_eq!(written, 0, "{what}: no write");
                }
                Eb => {
                    assert_eq!(r.unwrap(), pe(p.producer_id, p.epoch + 1), "{what}: epoch bump");
                    assert_eq!(f.state(ID), (CompleteAbort, p.producer_id, p.epoch + 1), "{what}");
                    assert_eq!(written, 2, "{what}: PrepareAbort and CompleteAbort");
                    // An abort of an empty transaction writes no marker anywhere.
                    assert!(markers(f.engine(), "topic1", 0).len() <= 1);
                }
            }
            if matches!(expected, Pf | Its) {
                assert_eq!(written, 0, "{what}: a refused request writes nothing");
                assert_eq!(f.state(ID), (state, p.producer_id, 2), "{what}: unchanged");
            }
        }
    }
}

/// The TV2 rows Kafka's table leaves implicit: Ongoing takes only the current epoch, Prepare*
/// only the retry epoch (the one before the bump stored with the Prepare record).
#[test]
fn end_txn_tv2_ongoing_and_prepared() {
    let f = Fixture::new();
    let p = f.ongoing(ID, Tv2);
    for epoch in [p.epoch + 1, p.epoch.wrapping_sub(1)] {
        assert_eq!(code(f.txn().end_txn(ID, p.producer_id, epoch, true, Tv2)), ProducerFenced);
    }
    for commit in [true, false] {
        let s = Stuck::new(commit, Tv2);
        let txn = s.engine.transactions();
        let c = s.client;
        let d = txn.describe(ID).unwrap();
        assert_eq!(d.producer_epoch, c.epoch + 1, "the Prepare record carries the bumped epoch");
        // Retry (the client's epoch): same result → CONCURRENT_TRANSACTIONS, other → ITS.
        assert_eq!(code(txn.end_txn(ID, c.producer_id, c.epoch, commit, Tv2)), ConcurrentTransactions);
        assert_eq!(code(txn.end_txn(ID, c.producer_id, c.epoch, !commit, Tv2)), InvalidTxnState);
        // The bumped epoch is not a retry: fenced.
        assert_eq!(code(txn.end_txn(ID, c.producer_id, c.epoch + 1, commit, Tv2)), ProducerFenced);
    }
}

/// A TV2 EndTxn retried after it completed gets the same (bumped) epoch, and the data stays
/// committed exactly once.
#[test]
fn end_txn_tv2_retry_after_completion() {
    let f = Fixture::new();
    let p = f.ongoing(ID, Tv2);
    let next = f.txn().end_txn(ID, p.producer_id, p.epoch, true, Tv2).unwrap();
    assert_eq!(next, pe(p.producer_id, p.epoch + 1));
    for _ in 0..3 {
        assert_eq!(f.txn().end_txn(ID, p.producer_id, p.epoch, true, Tv2).unwrap(), next);
    }
    assert_eq!(markers(f.engine(), "topic1", 0).len(), 1);
    assert_eq!(committed_values(f.engine(), "topic1", 0).len(), 2);
    // The client's late write with the old epoch is fenced by the partition (KIP-890).
    let late = txn_batch(p.producer_id, p.epoch, 2, 1, "late");
    assert_eq!(code(f.engine().produce("topic1", 0, &late, Some(ID))), ErrorCode::InvalidProducerEpoch);
    // The next transaction uses the bumped epoch.
    f.begin(ID, next, Tv2);
    let after = f.txn().end_txn(ID, next.producer_id, next.epoch, true, Tv2).unwrap();
    assert_eq!(after.epoch, next.epoch + 1);
    assert_eq!(committed_values(f.engine(), "topic1", 0).len(), 4);
    assert_all_stable(f.engine());
}

/// TV2 epoch overflow (KAFKA-18660): EndTxn at epoch i16::MAX − 1 bumps to i16::MAX for the
/// markers, and the completion moves the id to the next producer id at epoch 0; a retry with
/// the old producer id and epoch is recognised; the switch is durable.
#[test]
fn end_txn_tv2_epoch_overflow_moves_to_the_next_producer_id() {
    for commit in [true, false] {
        let mut f = Fixture::new();
        let p = f.txn().init_producer_id(Some(ID), TIMEOUT_MS, None).unwrap();
        f.seed(ID, txn_value(p.producer_id, MAX - 2, CompleteCommit, &[], Tv2, T0));
        let last = f.txn().init_producer_id(Some(ID), TIMEOUT_MS, None).unwrap();
        assert_eq!(last, pe(p.producer_id, MAX - 1));
        f.begin(ID, last, Tv2);
        let next = f.txn().end_txn(ID, last.producer_id, last.epoch, commit, Tv2).unwrap();
        assert_ne!(next.producer_id, p.producer_id);
        assert_eq!(next.epoch, 0);
        assert_eq!(
            markers(f.engine(), "topic1", 0),
            vec![(p.producer_id, MAX, f.txn().coordinator_epoch(), commit)]
        );
        let d = f.txn().describe(ID).unwrap();
        assert_eq!(d.state, if commit { CompleteCommit } else { CompleteAbort });
        assert_eq!((d.producer_id, d.producer_epoch), (next.producer_id, 0));
        // Retry with the old producer id and epoch: NONE, the new id again.
        let before = txn_log_end(f.engine());
        assert_eq!(f.txn().end_txn(ID, last.producer_id, last.epoch, commit, Tv2).unwrap(), next);
        assert_eq!(code(f.txn().end_txn(ID, last.producer_id, last.epoch, !commit, Tv2)), InvalidTxnState);
        assert_eq!(txn_log_end(f.engine()), before);
        f.restart();
        assert_eq!(f.state(ID).1, next.producer_id, "the switch to the next producer id is durable");
        // The new id carries on.
        f.begin(ID, next, Tv2);
        assert_eq!(f.txn().end_txn(ID, next.producer_id, 0, true, Tv2).unwrap(), pe(next.producer_id, 1));
        assert_eq!(committed_values(f.engine(), "topic1", 0).len(), if commit { 4 } else { 2 });
        assert_all_stable(f.engine());
    }
}

// --------------------------------------------------------------------- verify (KIP-890 p1)

/// handleVerifyPartitionsInTransaction: partitions in the transaction → NONE, others →
/// TRANSACTION_ABORTABLE; producer checks as AddPartitions. A produce to a partition that was
/// never added is refused before anything is written.
#[test]
fn verify_partitions_and_unverified_produce() {
    let f = Fixture::new();
    assert_eq!(code(f.txn().verify_partitions(ID, 0, 0, &[tp("topic1", 0)])), InvalidProducerIdMapping);
    assert_eq!(code(f.txn().verify_partitions("", 0, 0, &[tp("topic1", 0)])), InvalidRequest);
    let p = f.txn().init_producer_id(Some(ID), TIMEOUT_MS, None).unwrap();
    let r =
        f.txn().verify_partitions(ID, p.producer_id, p.epoch, &[tp("topic1", 0), tp("topic1", 1)]).unwrap();
    assert!(r.iter().all(|(_, c)| *c == TransactionAbortable), "nothing is in an Empty transaction");
    f.txn().add_partitions_to_txn(ID, p.producer_id, p.epoch, &[tp("topic1", 0)], Tv0).unwrap();
    let r =
        f.txn().verify_partitions(ID, p.producer_id, p.epoch, &[tp("topic1", 0), tp("topic1", 1)]).unwrap();
    assert_eq!(r, vec![(tp("topic1", 0), ErrorCode::None), (tp("topic1", 1), TransactionAbortable)]);
    assert_eq!(
        code(f.txn().verify_partitions(ID, p.producer_id + 1, p.epoch, &[tp("topic1", 0)])),
        InvalidProducerIdMapping
    );
    assert_eq!(
        code(f.txn().verify_partitions(ID, p.producer_id, p.epoch + 1, &[tp("topic1", 0)])),
        ProducerFenced
    );
    // Produce: the verified partition takes the batch, the other refuses it and stays empty.
    let log1 = f.engine().partition("topic1", 1).unwrap();
    let e =
        f.engine().produce("topic1", 1, &txn_batch(p.producer_id, p.epoch, 0, 1, "x"), Some(ID)).unwrap_err();
    assert_eq!(e.code(), TransactionAbortable, "{e}");
    assert_eq!(log1.log_end_offset(), 0, "nothing was written to topic1-1");
    f.engine().produce("topic1", 0, &txn_batch(p.producer_id, p.epoch, 0, 1, "x"), Some(ID)).unwrap();
    f.txn().end_txn(ID, p.producer_id, p.epoch, true, Tv0).unwrap();
    assert_all_stable(f.engine());
    // After the transaction ended nothing is verified any more: a late write is refused.
    let e = f
        .engine()
        .produce("topic1", 1, &txn_batch(p.producer_id, p.epoch, 0, 1, "late"), Some(ID))
        .unwrap_err();
    assert_eq!(e.code(), TransactionAbortable, "{e}");
    assert_all_stable(f.engine());
}
