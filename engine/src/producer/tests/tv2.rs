//! Transaction version 2 markers (KIP-890 part 2, KAFKA-19999): a marker must carry an epoch
//! strictly greater than the producer's, except an idempotent retry.

use super::*;

fn tv2_marker(
    m: &mut ProducerStateManager,
    epoch: i16,
    offset: i64,
    commit: bool,
) -> Result<Option<CompletedTxn>, ProducerError> {
    append_batch(m, AppendOrigin::Coordinator, marker(PID, epoch, offset, commit, 11, 2, 500 + offset))
}

/// Producer at epoch 0 with a transaction open at offsets 0..1.
fn open_txn() -> ProducerStateManager {
    let mut m = manager();
    append_client(&mut m, PID, 0, 0, 0, 100, true).unwrap();
    append_client(&mut m, PID, 0, 1, 1, 101, true).unwrap();
    m
}

#[test]
fn tv2_marker_must_bump_the_epoch() {
    let mut m = open_txn();
    // Equal epoch with an open transaction: would mix two transactions under one epoch.
    assert_eq!(code(tv2_marker(&mut m, 0, 2, true)), ErrorCode::InvalidProducerEpoch);
    assert_eq!(entry(&m, PID).current_txn_first_offset(), Some(0));

    let done = tv2_marker(&mut m, 1, 2, true).unwrap();
    assert_eq!(
        done,
        Some(CompletedTxn { producer_id: PID, first_offset: 0, last_offset: 2, is_aborted: false })
    );
    let e = entry(&m, PID);
    assert_eq!((e.producer_epoch(), e.coordinator_epoch(), e.last_timestamp()), (1, 11, 502));
    assert!(e.is_empty(), "a marker with a new epoch clears the window");
}

#[test]
fn tv2_equal_epoch_without_open_txn_is_an_idempotent_retry() {
    let mut m = open_txn();
    tv2_marker(&mut m, 1, 2, false).unwrap();
    // The coordinator resends the same marker (lost response, coordinator failover).
    assert_eq!(tv2_marker(&mut m, 1, 3, false).unwrap(), None);
    let e = entry(&m, PID);
    assert_eq!((e.producer_epoch(), e.current_txn_first_offset()), (1, None));
    assert_eq!(m.first_undecided_offset(), None);
    // Older epochs stay fenced.
    assert_eq!(code(tv2_marker(&mut m, 0, 4, false)), ErrorCode::InvalidProducerEpoch);
}

#[test]
fn after_a_tv2_marker_the_next_transaction_starts_at_sequence_zero() {
    let mut m = open_txn();
    tv2_marker(&mut m, 1, 2, true).unwrap();
    assert_eq!(code(append_client(&mut m, PID, 1, 2, 3, 200, true)), ErrorCode::OutOfOrderSequenceNumber);
    assert_eq!(code(append_client(&mut m, PID, 0, 2, 3, 200, true)), ErrorCode::InvalidProducerEpoch);
    append_client(&mut m, PID, 1, 0, 3, 200, true).unwrap();
    assert_eq!(m.first_undecided_offset(), Some(3));
    // A retried marker with the now-current epoch meets an open transaction: rejected.
    assert_eq!(code(tv2_marker(&mut m, 1, 4, true)), ErrorCode::InvalidProducerEpoch);
    assert_eq!(tv2_marker(&mut m, 2, 4, false).unwrap().map(|c| c.first_offset), Some(3));
}

#[test]
fn tv1_markers_keep_the_epoch_and_sequences_carry_on() {
    let mut m = open_txn();
    // The classic protocol writes the marker with the transaction's epoch.
    append_end_txn(&mut m, PID, 0, true, 2, 3, 300).unwrap();
    let e = entry(&m, PID);
    assert_eq!((e.producer_epoch(), e.last_seq()), (0, 1));
    append_client(&mut m, PID, 0, 2, 3, 301, true).unwrap();
}

#[test]
fn replication_ignores_the_tv2_rule() {
    // Followers and recovery cannot know the version; Kafka validates them with the legacy rule.
    let mut m = open_txn();
    let b = marker(PID, 0, 2, true, 11, 2, 600);
    let done = append_batch(&mut m, AppendOrigin::Replication, b).unwrap();
    assert_eq!(done.map(|c| c.last_offset), Some(2));
    // Even an older epoch is only logged.
    assert_eq!(
        append_batch(&mut m, AppendOrigin::Replication, marker(PID, -1, 3, true, 11, 2, 601)).unwrap(),
        None
    );
}
