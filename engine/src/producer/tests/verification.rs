//! KIP-890 part 1 verification guards (Kafka's `testEntryForVerification`,
//! `testSequenceAndEpochInVerificationEntry`, `testThrowOutOfOrderSequenceWithVerificationSequenceCheck`,
//! `testVerificationStateEntryExpiration`, and `UnifiedLogTest`'s verification cases).

#![allow(non_snake_case)]

use super::*;

fn verifying_log() -> MiniLog {
    MiniLog::new(ProducerStateConfig {
        producer_id_expiration_ms: ONE_DAY_MS,
        transaction_verification_enable: true,
    })
}

fn txn_batch(pid: i64, epoch: i16, seq: i32) -> BatchInfo {
    data(pid, epoch, seq, 0, 0, 10, true)
}

fn appended(o: &Outcome) -> bool {
    matches!(o, Outcome::Appended { .. })
}

#[test]
fn first_transactional_write_needs_the_registered_guard() {
    let mut log = verifying_log();
    let other = log.m.maybe_create_verification_guard_at(2, 0, 0, false, 0);
    let guard = log.m.maybe_create_verification_guard_at(PID, 0, 0, false, 0);
    assert_ne!(guard, other);
    assert_eq!(log.m.verification_guard(PID), Some(guard));

    for presented in [None, Some(&VerificationGuard::SENTINEL), Some(&other)] {
        let r = log.append(AppendOrigin::Client, txn_batch(PID, 0, 0), presented);
        assert_eq!(r, Outcome::Rejected(ErrorCode::InvalidTxnState), "presented {presented:?}");
    }
    assert!(appended(&log.append(AppendOrigin::Client, txn_batch(PID, 0, 0), Some(&guard))));
    // The write consumed the registration; the open transaction carries the next batches.
    assert_eq!(log.m.verification_guard(PID), None);
    assert!(appended(&log.append(AppendOrigin::Client, txn_batch(PID, 0, 1), None)));
    // Non-transactional batches never need a guard.
    assert!(appended(&log.append(AppendOrigin::Client, data(3, 0, 0, 0, 0, 10, false), None)));
}

#[test]
fn a_marker_between_verification_and_append_invalidates_the_guard() {
    // KAFKA-14884: verify → abort → stale append must not open a transaction.
    let mut log = verifying_log();
    let guard = log.m.maybe_create_verification_guard_at(PID, 0, 0, false, 0);
    assert!(appended(&log.append(AppendOrigin::Coordinator, marker(PID, 0, 0, false, 1, 1, 10), None)));
    assert_eq!(log.m.verification_guard(PID), None);
    let r = log.append(AppendOrigin::Client, txn_batch(PID, 0, 0), Some(&guard));
    assert_eq!(r, Outcome::Rejected(ErrorCode::InvalidTxnState));
    assert_eq!(log.m.first_unstable_offset(), None, "no hanging transaction");
}

#[test]
fn a_new_guard_replaces_nothing_but_a_cleared_one() {
    let mut log = verifying_log();
    let g1 = log.m.maybe_create_verification_guard_at(PID, 0, 0, false, 0);
    // Reused while registered.
    assert_eq!(log.m.maybe_create_verification_guard_at(PID, 0, 0, false, 5), g1);
    log.m.clear_verification(PID);
    let g2 = log.m.maybe_create_verification_guard_at(PID, 0, 0, false, 6);
    assert_ne!(g1, g2);
    assert_eq!(
        log.append(AppendOrigin::Client, txn_batch(PID, 0, 0), Some(&g1)),
        Outcome::Rejected(ErrorCode::InvalidTxnState)
    );
    assert!(appended(&log.append(AppendOrigin::Client, txn_batch(PID, 0, 0), Some(&g2))));
}

#[test]
fn coordinator_offset_commits_are_verified_replication_is_not() {
    let mut log = verifying_log();
    let mut commit = txn_batch(PID, 0, NO_SEQUENCE);
    commit.last_sequence = NO_SEQUENCE;
    assert_eq!(
        log.append(AppendOrigin::Coordinator, commit, None),
        Outcome::Rejected(ErrorCode::InvalidTxnState)
    );
    let guard = log.m.maybe_create_verification_guard_at(PID, NO_SEQUENCE, 0, false, 0);
    assert!(appended(&log.append(AppendOrigin::Coordinator, commit, Some(&guard))));
    assert!(appended(&log.append(AppendOrigin::Replication, txn_batch(2, 0, 7), None)));
}

#[test]
fn disabled_verification_accepts_unverified_transactions() {
    let mut log = MiniLog::new(ProducerStateConfig {
        producer_id_expiration_ms: ONE_DAY_MS,
        transaction_verification_enable: false,
    });
    assert!(appended(&log.append(AppendOrigin::Client, txn_batch(PID, 0, 0), None)));
}

#[test]
fn stale_epoch_is_reported_before_verification() {
    let mut log = verifying_log();
    assert!(appended(&log.append(AppendOrigin::Client, data(PID, 3, 0, 0, 0, 10, false), None)));
    assert_eq!(
        log.append(AppendOrigin::Client, txn_batch(PID, 2, 1), None),
        Outcome::Rejected(ErrorCode::InvalidProducerEpoch)
    );
    assert_eq!(
        log.m.maybe_start_transaction_verification(PID, 1, 2, false, 0),
        Err(ProducerError::InvalidProducerEpoch { producer_id: PID, epoch: 2, current: 3 })
    );
}

#[test]
fn start_verification_returns_sentinel_inside_an_open_transaction() {
    let mut log = verifying_log();
    let g = log.m.maybe_start_transaction_verification(PID, 0, 0, false, 0).unwrap();
    assert!(!g.is_sentinel());
    assert!(appended(&log.append(AppendOrigin::Client, txn_batch(PID, 0, 0), Some(&g))));
    let again = log.m.maybe_start_transaction_verification(PID, 1, 0, false, 0).unwrap();
    assert!(again.is_sentinel());
    assert_eq!(log.m.verification_guard(PID), None);
}

#[test]
fn testSequenceAndEpochInVerificationEntry() {
    let mut m = manager();
    let g = m.maybe_create_verification_guard_at(PID, 1, EPOCH, false, 0);
    assert_eq!(m.verification_lowest_sequence(PID), Some((1, EPOCH)));
    // A lower sequence lowers the bar; a higher epoch resets it; an older epoch is ignored.
    assert_eq!(m.maybe_create_verification_guard_at(PID, 0, EPOCH, false, 0), g);
    assert_eq!(m.verification_lowest_sequence(PID), Some((0, EPOCH)));
    assert_eq!(m.maybe_create_verification_guard_at(PID, 2, 1, false, 0), g);
    assert_eq!(m.verification_lowest_sequence(PID), Some((2, 1)));
    assert_eq!(m.maybe_create_verification_guard_at(PID, 0, EPOCH, false, 0), g);
    assert_eq!(m.verification_lowest_sequence(PID), Some((2, 1)));
}

#[test]
fn testThrowOutOfOrderSequenceWithVerificationSequenceCheck() {
    // KAFKA-14920: a batch above the lowest sequence seen while verifying is out of order, even
    // with verification disabled afterwards; the registration survives the rejection.
    for dynamically_disable in [false, true] {
        let mut m = manager();
        m.set_transaction_verification_enable(true);
        let g = m.maybe_create_verification_guard_at(PID, 0, EPOCH, false, 0);
        if dynamically_disable {
            m.set_transaction_verification_enable(false);
        }
        let mut info = m.prepare_update(PID, AppendOrigin::Client);
        let r = info.append(&data(PID, EPOCH, 4, 0, 0, 10, true), Some(&g));
        assert_eq!(r.map_err(|e| e.code()), Err(ErrorCode::OutOfOrderSequenceNumber));
        assert_eq!(m.verification_guard(PID), Some(g));
        // The lowest sequence itself goes through.
        let mut info = m.prepare_update(PID, AppendOrigin::Client);
        assert_eq!(info.append(&data(PID, EPOCH, 0, 0, 0, 10, true), Some(&g)), Ok(None));
    }
}

#[test]
fn tv2_verified_producer_without_state_starts_at_zero() {
    let mut log = verifying_log();
    // A fresh producer would be accepted at any sequence (epoch unknown), but a TV2 client that
    // verified must start at 0.
    let g = log.m.maybe_create_verification_guard_at(PID, 3, 0, true, 0);
    assert_eq!(
        log.append(AppendOrigin::Client, txn_batch(PID, 0, 3), Some(&g)),
        Outcome::Rejected(ErrorCode::OutOfOrderSequenceNumber)
    );
    let g = log.m.maybe_create_verification_guard_at(PID, 0, 0, true, 0);
    assert!(appended(&log.append(AppendOrigin::Client, txn_batch(PID, 0, 0), Some(&g))));
}

#[test]
fn tv2_guard_for_the_next_transaction_survives_the_late_marker() {
    let mut log = verifying_log();
    let g = log.m.maybe_create_verification_guard_at(PID, 0, 0, true, 0);
    assert!(appended(&log.append(AppendOrigin::Client, txn_batch(PID, 0, 0), Some(&g))));
    // EndTxn returned epoch 1; the client verifies its next transaction before the marker lands.
    let next = log.m.maybe_create_verification_guard_at(PID, 0, 1, true, 0);
    let m = log.append(AppendOrigin::Coordinator, marker(PID, 1, 0, true, 5, 2, 20), None);
    assert!(matches!(m, Outcome::Appended { completed: Some(_), .. }));
    assert_eq!(log.m.verification_guard(PID), Some(next), "the next transaction's guard is kept");
    assert!(appended(&log.append(AppendOrigin::Client, txn_batch(PID, 1, 0), Some(&next))));
    assert_eq!(log.m.verification_guard(PID), None);
}

#[test]
fn testVerificationStateEntryExpiration() {
    let mut m = manager();
    let g = m.maybe_create_verification_guard_at(PID, 0, EPOCH, false, 0);
    // Using the entry does not refresh its time.
    assert_eq!(m.maybe_create_verification_guard_at(PID, 0, EPOCH, false, ONE_DAY_MS / 2), g);
    m.remove_expired_producers(ONE_DAY_MS / 2);
    assert_eq!(m.verification_guard(PID), Some(g));
    m.remove_expired_producers(ONE_DAY_MS);
    assert_eq!(m.verification_guard(PID), None);
}

#[test]
fn testEntryForVerification() {
    let mut m = manager();
    let g = m.maybe_create_verification_guard(PID, 0, EPOCH);
    assert_eq!(m.maybe_create_verification_guard(PID, 0, EPOCH), g);
    assert_eq!(m.verification_guard(PID), Some(g));
    append_client(&mut m, PID, EPOCH, 0, 0, 10, true).unwrap();
    // Committing transactional data clears it, like Kafka's `updateProducers`.
    assert_eq!(m.verification_guard(PID), None);
}
