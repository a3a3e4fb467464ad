//! Kafka's `ProducerStateManagerTest`, ported under the same names (so they can be found by
//! name). Kafka's file-based snapshot tests become round trips through `encode_snapshot` /
//! `decode_snapshot` / `load_snapshot`, since the files belong to the log.
#![allow(non_snake_case)]

use super::*;

const T0: i64 = 1_000;

#[test]
fn testBasicIdMapping() {
    let mut m = manager();
    append_client(&mut m, PID, EPOCH, 0, 0, T0, false).unwrap();
    append_client(&mut m, PID, EPOCH, 1, 1, T0, false).unwrap();
    // Duplicates are checked separately (find_duplicate); appended again they are out of order.
    assert_eq!(code(append_client(&mut m, PID, EPOCH, 1, 2, T0, false)), ErrorCode::OutOfOrderSequenceNumber);
    // A gap.
    assert_eq!(code(append_client(&mut m, PID, EPOCH, 5, 2, T0, false)), ErrorCode::OutOfOrderSequenceNumber);
    // A new epoch restarting at 0.
    append_client(&mut m, PID, EPOCH + 1, 0, 3, T0, false).unwrap();
    // The old epoch is now a zombie.
    assert_eq!(code(append_client(&mut m, PID, EPOCH, 0, 4, T0, false)), ErrorCode::InvalidProducerEpoch);
}

#[test]
fn testAppendTxnMarkerWithNoProducerState() {
    let mut m = manager();
    let epoch = 2;
    assert_eq!(append_end_txn(&mut m, PID, epoch, true, 27, 0, T0).unwrap(), None);
    let e = entry(&m, PID);
    assert_eq!((e.producer_epoch(), e.producer_id(), e.last_seq()), (epoch, PID, NO_SEQUENCE));

    // Fencing works even if the marker is all that is left.
    assert_eq!(code(append_client(&mut m, PID, 0, 0, 28, T0, false)), ErrorCode::InvalidProducerEpoch);
    // A non-zero sequence is out of order, so the producer resets its state...
    assert_eq!(
        code(append_client(&mut m, PID, epoch, 17, 28, T0, false)),
        ErrorCode::OutOfOrderSequenceNumber
    );
    // ...and sequence 0 is accepted.
    append_client(&mut m, PID, epoch, 0, 28, T0, false).unwrap();
    let e = entry(&m, PID);
    assert_eq!((e.producer_epoch(), e.producer_id(), e.last_seq()), (epoch, PID, 0));
}

#[test]
fn testProducerSequenceWrapAround() {
    let mut m = manager();
    let (epoch, offset) = (15, 735);
    append_replication(&mut m, epoch, i32::MAX, offset, T0);
    append_client(&mut m, PID, epoch, 0, offset + 500, T0, false).unwrap();
    let e = entry(&m, PID);
    assert_eq!((e.producer_epoch(), e.first_seq(), e.last_seq()), (epoch, i32::MAX, 0));
}

#[test]
fn testProducerSequenceWithWrapAroundBatchRecord() {
    let mut m = manager();
    let epoch = 15;
    let mut info = m.prepare_update(PID, AppendOrigin::Replication);
    let batch = data(PID, epoch, i32::MAX - 10, 2000, 2020, T0, false);
    assert_eq!(batch.last_sequence, 9);
    assert_eq!(info.append(&batch, None), Ok(None));
    assert!(m.last_entry(PID).is_none());
    m.update(info);
    let e = entry(&m, PID);
    assert_eq!((e.first_seq(), e.last_seq()), (i32::MAX - 10, 9));
    assert_eq!((e.first_data_offset(), e.last_data_offset()), (2000, 2020));
}

#[test]
fn testProducerSequenceInvalidWrapAround() {
    let mut m = manager();
    append_replication(&mut m, 15, i32::MAX, 735, T0);
    assert_eq!(code(append_client(&mut m, PID, 15, 1, 1235, T0, false)), ErrorCode::OutOfOrderSequenceNumber);
}

#[test]
fn testNoValidationOnFirstEntryWhenLoadingLog() {
    let mut m = manager();
    append_replication(&mut m, 5, 16, 735, T0);
    let e = entry(&m, PID);
    assert_eq!((e.producer_epoch(), e.first_seq(), e.last_seq()), (5, 16, 16));
    assert_eq!((e.first_data_offset(), e.last_data_offset()), (735, 735));
}

#[test]
fn testControlRecordBumpsProducerEpoch() {
    let mut m = manager();
    append_client(&mut m, PID, EPOCH, 0, 0, T0, false).unwrap();
    let bumped = 1;
    append_end_txn(&mut m, PID, bumped, false, 1, 0, T0).unwrap();
    let e = entry(&m, PID);
    assert_eq!(e.producer_epoch(), bumped);
    assert_eq!(e.current_txn_first_offset(), None);
    assert_eq!((e.first_seq(), e.last_seq()), (NO_SEQUENCE, NO_SEQUENCE));
    // The new epoch starts at sequence 0.
    append_client(&mut m, PID, bumped, 0, 2, T0, false).unwrap();
    assert_eq!(entry(&m, PID).first_seq(), 0);
}

#[test]
fn testOutOfSequenceAfterControlRecordEpochBump() {
    let mut m = manager();
    append_client(&mut m, PID, EPOCH, 0, 0, T0, true).unwrap();
    append_client(&mut m, PID, EPOCH, 1, 1, T0, true).unwrap();
    let bumped = 1;
    append_end_txn(&mut m, PID, bumped, false, 2, 0, T0).unwrap();
    // The marker reset the sequence.
    assert_eq!(code(append_client(&mut m, PID, bumped, 2, 3, T0, true)), ErrorCode::OutOfOrderSequenceNumber);
    assert_eq!(
        code(append_client(&mut m, PID, bumped + 1, 2, 3, T0, true)),
        ErrorCode::OutOfOrderSequenceNumber
    );
    append_client(&mut m, PID, bumped, 0, 3, T0, true).unwrap();
    let e = entry(&m, PID);
    assert_eq!((e.producer_epoch(), e.last_seq()), (bumped, 0));
}

#[test]
fn testNonTransactionalAppendWithOngoingTransaction() {
    let mut m = manager();
    append_client(&mut m, PID, EPOCH, 0, 0, T0, true).unwrap();
    assert_eq!(code(append_client(&mut m, PID, EPOCH, 1, 1, T0, false)), ErrorCode::InvalidTxnState);
}

#[test]
fn updateProducerTransactionState() {
    let mut m = manager();
    append_client(&mut m, PID, EPOCH, 0, 9, T0, false).unwrap();

    let mut info = m.prepare_update(PID, AppendOrigin::Client);
    info.append(&data(PID, EPOCH, 1, 16, 20, T0, true), None).unwrap();
    let check = |info: &ProducerAppendInfo, last_seq: i32, last_offset: i64, txn: Option<i64>| {
        let e = info.staged_entry();
        assert_eq!(e.producer_epoch(), EPOCH);
        assert_eq!((e.first_seq(), e.last_seq()), (1, last_seq));
        assert_eq!((e.first_data_offset(), e.last_data_offset()), (16, last_offset));
        assert_eq!(e.current_txn_first_offset(), txn);
        assert_eq!(info.started_transactions().collect::<Vec<_>>(), vec![16]);
    };
    check(&info, 5, 20, Some(16));
    info.append(&data(PID, EPOCH, 6, 26, 30, T0, true), None).unwrap();
    check(&info, 10, 30, Some(16));

    let completed =
        info.append(&marker(PID, EPOCH, 40, true, 15, 1, T0), None).unwrap().expect("txn completes");
    assert_eq!(
        completed,
        CompletedTxn { producer_id: PID, first_offset: 16, last_offset: 40, is_aborted: false }
    );
    // The marker does not touch the cached batches.
    check(&info, 10, 30, None);
    assert_eq!(info.staged_entry().coordinator_epoch(), 15);
}

#[test]
fn testPrepareUpdateDoesNotMutate() {
    let mut m = manager();
    let mut info = m.prepare_update(PID, AppendOrigin::Client);
    info.append(&data(PID, EPOCH, 0, 15, 20, T0, false), None).unwrap();
    assert!(m.last_entry(PID).is_none());
    m.update(info);
    entry(&m, PID);

    let mut next = m.prepare_update(PID, AppendOrigin::Client);
    next.append(&data(PID, EPOCH, 6, 26, 30, T0, false), None).unwrap();
    let e = entry(&m, PID);
    assert_eq!((e.first_seq(), e.last_seq(), e.last_data_offset()), (0, 5, 20));

    m.update(next);
    let e = entry(&m, PID);
    assert_eq!((e.first_seq(), e.last_seq(), e.last_data_offset()), (0, 10, 30));
}

#[test]
fn testFirstUnstableOffset() {
    let mut m = manager();
    let epoch = 5;
    assert_eq!(m.first_undecided_offset(), None);

    append_client(&mut m, PID, epoch, 0, 99, T0, true).unwrap();
    assert_eq!(m.first_undecided_offset(), Some(99));
    assert_eq!(m.first_unstable_offset(), Some(99));

    let other = 2;
    append_client(&mut m, other, epoch, 0, 105, T0, true).unwrap();
    assert_eq!(m.first_undecided_offset(), Some(99));
    assert_eq!(m.first_unstable_offset(), Some(99));

    append_end_txn(&mut m, PID, epoch, true, 109, 0, T0).unwrap();
    assert_eq!(m.first_undecided_offset(), Some(105));
    assert_eq!(m.first_unstable_offset(), Some(99));

    // The first unstable offset moves only once the HW passes the marker.
    m.on_high_watermark_updated(100);
    assert_eq!(m.first_unstable_offset(), Some(99));
    m.on_high_watermark_updated(110);
    assert_eq!(m.first_unstable_offset(), Some(105));

    append_end_txn(&mut m, other, epoch, false, 112, 0, T0).unwrap();
    assert_eq!(m.first_undecided_offset(), None);
    assert_eq!(m.first_unstable_offset(), Some(105));
    m.on_high_watermark_updated(113);
    assert_eq!(m.first_unstable_offset(), None);
}

#[test]
fn testLastStableOffsetCompletedTxn() {
    let mut m = manager();
    let begin = |m: &mut ProducerStateManager, pid: i64, offset: i64| {
        append_client(m, pid, EPOCH, 0, offset, T0, true).unwrap();
    };
    let (pid1, pid2, pid3) = (PID, PID + 1, PID + 2);
    let start1 = 992_342;
    let start2 = start1 + 25;
    let start3 = start1 + 57;
    begin(&mut m, pid1, start1);
    begin(&mut m, pid2, start2);
    begin(&mut m, pid3, start3);

    let last1 = start3 + 15;
    let txn1 =
        CompletedTxn { producer_id: pid1, first_offset: start1, last_offset: last1, is_aborted: false };
    assert_eq!(m.last_stable_offset(&txn1), start2);
    m.complete_txn(&txn1);
    m.on_high_watermark_updated(last1 + 1);
    assert_eq!(m.first_unstable_offset(), Some(start2));

    let last3 = last1 + 20;
    let txn3 =
        CompletedTxn { producer_id: pid3, first_offset: start3, last_offset: last3, is_aborted: false };
    assert_eq!(m.last_stable_offset(&txn3), start2);
    m.complete_txn(&txn3);
    m.on_high_watermark_updated(last3 + 1);
    assert_eq!(m.first_unstable_offset(), Some(start2));

    let last2 = last3 + 78;
    let txn2 =
        CompletedTxn { producer_id: pid2, first_offset: start2, last_offset: last2, is_aborted: false };
    assert_eq!(m.last_stable_offset(&txn2), last2 + 1);
    m.complete_txn(&txn2);
    m.on_high_watermark_updated(last2 + 1);
    assert_eq!(m.first_unstable_offset(), None);
}

#[test]
fn testSkipEmptyTransactions() {
    let mut m = manager();
    let coordinator_epoch = 27;
    let mut seq = 0;
    let mut append_data = |info: &mut ProducerAppendInfo, start: i64, end: i64| {
        info.append(&data(PID, EPOCH, seq, start, end, T0, true), None).unwrap();
        seq += i32::try_from(end - start + 1).unwrap();
    };
    let end_txn = |info: &mut ProducerAppendInfo, commit: bool, offset: i64| {
        info.append(&marker(PID, EPOCH, offset, commit, coordinator_epoch, 1, T0), None).unwrap()
    };

    // One transaction in a separate append.
    let mut first = m.prepare_update(PID, AppendOrigin::Client);
    append_data(&mut first, 16, 20);
    assert_eq!(first.started_transactions().collect::<Vec<_>>(), vec![16]);
    m.update(first);
    m.on_high_watermark_updated(21);
    assert_eq!(m.first_unstable_offset(), Some(16));

    // One append completing it, with empty transactions, one complete non-empty transaction and
    // one left open.
    let mut second = m.prepare_update(PID, AppendOrigin::Client);
    let c1 = end_txn(&mut second, true, 21);
    assert_eq!(
        c1,
        Some(CompletedTxn { producer_id: PID, first_offset: 16, last_offset: 21, is_aborted: false })
    );
    assert_eq!(end_txn(&mut second, true, 22), None);
    assert_eq!(end_txn(&mut second, false, 23), None);
    append_data(&mut second, 24, 27);
    let c2 = end_txn(&mut second, false, 28);
    assert_eq!(
        c2,
        Some(CompletedTxn { producer_id: PID, first_offset: 24, last_offset: 28, is_aborted: true })
    );
    assert_eq!(end_txn(&mut second, false, 29), None);
    append_data(&mut second, 30, 31);
    assert_eq!(second.started_transactions().collect::<Vec<_>>(), vec![24, 30]);

    m.update(second);
    m.complete_txn(&c1.unwrap());
    m.complete_txn(&c2.unwrap());
    m.on_high_watermark_updated(32);
    assert_eq!(m.first_unstable_offset(), Some(30));
}

#[test]
fn testCoordinatorFencing() {
    let mut m = manager();
    let epoch = 5;
    append_client(&mut m, PID, epoch, 0, 99, T0, true).unwrap();
    append_end_txn(&mut m, PID, epoch, true, 100, 1, T0).unwrap();
    assert_eq!(entry(&m, PID).coordinator_epoch(), 1);
    // The same coordinator epoch is allowed, and so is a newer one.
    append_end_txn(&mut m, PID, epoch, true, 101, 1, T0).unwrap();
    append_end_txn(&mut m, PID, epoch, true, 102, 2, T0).unwrap();
    // A zombie coordinator is fenced.
    assert_eq!(
        code(append_end_txn(&mut m, PID, epoch, true, 103, 1, T0)),
        ErrorCode::TransactionCoordinatorFenced
    );
    assert_eq!(entry(&m, PID).coordinator_epoch(), 2);
}

#[test]
fn testCoordinatorFencingAfterReload() {
    let mut m = manager();
    append_client(&mut m, PID, EPOCH, 0, 99, T0, true).unwrap();
    append_end_txn(&mut m, PID, EPOCH, true, 100, 1, T0).unwrap();
    let mut reloaded = reload(&m, *m.config(), 70_000);
    assert_eq!(entry(&reloaded, PID).coordinator_epoch(), 1);
    // The old coordinator (epoch 0) is fenced after the reload too.
    assert_eq!(
        code(append_end_txn(&mut reloaded, PID, EPOCH, true, 101, 0, T0)),
        ErrorCode::TransactionCoordinatorFenced
    );
    append_end_txn(&mut reloaded, PID, EPOCH, true, 101, 1, T0).unwrap();
}

#[test]
fn testOldEpochForControlRecord() {
    let mut m = manager();
    let epoch = 5;
    assert_eq!(m.first_undecided_offset(), None);
    append_client(&mut m, PID, epoch, 0, 99, T0, true).unwrap();
    assert_eq!(code(append_end_txn(&mut m, PID, 3, true, 100, 0, T0)), ErrorCode::InvalidProducerEpoch);
    assert_eq!(m.first_undecided_offset(), Some(99));
}

#[test]
fn testProducersWithOngoingTransactionsDontExpire() {
    let mut m = manager();
    append_client(&mut m, PID, 5, 0, 99, T0, true).unwrap();
    assert_eq!(m.first_undecided_offset(), Some(99));
    let later = T0 + ONE_DAY_MS + 1;
    assert_eq!(m.remove_expired_producers(later), 0);
    assert!(m.last_entry(PID).is_some());
    assert_eq!(m.first_undecided_offset(), Some(99));
    assert_eq!(m.remove_expired_producers(later), 0);
    assert!(m.last_entry(PID).is_some());
}

#[test]
fn testPidExpirationTimeout() {
    let mut m = manager();
    let epoch = 5;
    append_client(&mut m, PID, epoch, 0, 1, T0, false).unwrap();
    // Just before the expiration: kept.
    assert_eq!(m.remove_expired_producers(T0 + ONE_DAY_MS - 1), 0);
    let now = T0 + ONE_DAY_MS + 1;
    assert_eq!(m.remove_expired_producers(now), 1);
    assert_eq!(m.producer_count(), 0);
    // Forgotten producers may continue with any sequence.
    append_client(&mut m, PID, epoch, 1, 2, now, false).unwrap();
    assert_eq!(m.producer_count(), 1);
    assert_eq!(m.active_producers().next().unwrap().last_seq(), 1);
    assert_eq!(m.map_end_offset(), 3);
}

fn short_expiry() -> ProducerStateConfig {
    ProducerStateConfig { producer_id_expiration_ms: 60_000, transaction_verification_enable: false }
}

#[test]
fn testRemoveExpiredPidsOnReload() {
    let mut m = ProducerStateManager::new(short_expiry());
    append_client(&mut m, PID, EPOCH, 0, 0, 0, false).unwrap();
    append_client(&mut m, PID, EPOCH, 1, 1, 1, false).unwrap();
    // 70 s later the producer (last timestamp 1) has expired: the load filters it out.
    let mut reloaded = reload(&m, short_expiry(), 70_000);
    assert_eq!(reloaded.producer_count(), 0);
    // So any sequence is accepted and the producer is back.
    append_client(&mut reloaded, PID, EPOCH, 2, 2, 70_001, false).unwrap();
    assert_eq!(reloaded.producer_count(), 1);
    assert_eq!(reloaded.active_producers().next().unwrap().last_seq(), 2);
    assert_eq!(reloaded.map_end_offset(), 3);
}

#[test]
fn testAcceptAppendWithoutProducerStateOnReplica() {
    let mut m = ProducerStateManager::new(short_expiry());
    append_client(&mut m, PID, EPOCH, 0, 0, 0, false).unwrap();
    append_client(&mut m, PID, EPOCH, 1, 1, 1, false).unwrap();
    let mut reloaded = reload(&m, short_expiry(), 70_000);
    assert!(reloaded.last_entry(PID).is_none());
    // KAFKA-6003: a follower without state accepts the leader's batch as is.
    append_replication(&mut reloaded, EPOCH, 2, 2, 70_001);
    let e = entry(&reloaded, PID);
    assert_eq!((e.producer_epoch(), e.first_seq(), e.last_seq()), (EPOCH, 2, 2));
}

#[test]
fn testAcceptAppendWithSequenceGapsOnReplica() {
    let mut m = manager();
    append_client(&mut m, PID, EPOCH, 0, 0, 0, false).unwrap();
    let gap = 3;
    assert_eq!(
        code(append_client(&mut m, PID, EPOCH, gap, 1, 1, false)),
        ErrorCode::OutOfOrderSequenceNumber
    );
    assert_eq!(entry(&m, PID).last_seq(), 0);
    append_replication(&mut m, EPOCH, gap, 1, 1);
    assert_eq!(entry(&m, PID).last_seq(), gap);
}

#[test]
fn testSequenceNotValidatedForGroupMetadataTopic() {
    // Transactional offset commits come from the group coordinator without sequence numbers.
    let mut m = manager();
    let commit = |m: &mut ProducerStateManager, offset: i64| {
        let mut b = data(PID, EPOCH, NO_SEQUENCE, offset, offset, T0, true);
        b.last_sequence = NO_SEQUENCE;
        append_batch(m, AppendOrigin::Coordinator, b)
    };
    commit(&mut m, 99).unwrap();
    commit(&mut m, 100).unwrap();
    assert_eq!(m.first_undecided_offset(), Some(99));
}

#[test]
fn testProducerStateAfterFencingAbortMarker() {
    let mut m = manager();
    append_client(&mut m, PID, EPOCH, 0, 0, T0, true).unwrap();
    append_end_txn(&mut m, PID, EPOCH + 1, false, 1, 0, T0).unwrap();
    let e = entry(&m, PID);
    assert_eq!(e.current_txn_first_offset(), None);
    assert_eq!((e.last_data_offset(), e.first_data_offset()), (-1, -1));
    // The entry is kept (not expired) to preserve the fencing epoch.
    assert_eq!(m.remove_expired_producers(T0), 0);
    assert_eq!(entry(&m, PID).producer_epoch(), EPOCH + 1);
}

#[test]
fn testAppendEmptyControlBatch() {
    // The log gives no batch to the producer state for a control batch without a COMMIT/ABORT
    // record (emptied by the cleaner). Kafka still commits the (empty) append info, which
    // registers the producer with no transaction started.
    let mut m = manager();
    let pid = 23_423;
    let info = m.prepare_update(pid, AppendOrigin::Replication);
    assert_eq!(info.started_transactions().count(), 0);
    m.update(info);
    assert_eq!(entry(&m, pid).current_txn_first_offset(), None);
    assert_eq!(entry(&m, pid).producer_epoch(), NO_PRODUCER_EPOCH);
    assert_eq!(m.first_unstable_offset(), None);
}

#[test]
fn testRecoverFromSnapshotUnfinishedTransaction() {
    let mut m = manager();
    append_client(&mut m, PID, EPOCH, 0, 0, T0, true).unwrap();
    append_client(&mut m, PID, EPOCH, 1, 1, T0, true).unwrap();
    let mut reloaded = reload(&m, *m.config(), T0);
    // Only the last batch survives a snapshot.
    let e = entry(&reloaded, PID);
    assert_eq!((e.first_data_offset(), e.first_seq(), e.last_data_offset(), e.last_seq()), (1, 1, 1, 1));
    assert_eq!(e.current_txn_first_offset(), Some(0));
    assert_eq!(reloaded.first_unstable_offset(), Some(0));
    append_client(&mut reloaded, PID, EPOCH, 2, 2, T0, true).unwrap();
}

#[test]
fn testRecoverFromSnapshotFinishedTransaction() {
    let mut m = manager();
    append_client(&mut m, PID, EPOCH, 0, 0, T0, true).unwrap();
    append_client(&mut m, PID, EPOCH, 1, 1, T0, true).unwrap();
    append_end_txn(&mut m, PID, EPOCH, false, 2, 0, T0).unwrap();
    let reloaded = reload(&m, *m.config(), T0);
    let e = entry(&reloaded, PID);
    assert_eq!((e.first_data_offset(), e.first_seq(), e.last_data_offset(), e.last_seq()), (1, 1, 1, 1));
    assert_eq!(e.current_txn_first_offset(), None);
    assert_eq!(reloaded.first_unstable_offset(), None);
}

#[test]
fn testRecoverFromSnapshotEmptyTransaction() {
    let mut m = manager();
    let ts = 12_345;
    append_end_txn(&mut m, PID, EPOCH, false, 0, 0, ts).unwrap();
    let reloaded = reload(&m, *m.config(), ts);
    let e = entry(&reloaded, PID);
    assert_eq!(e.last_timestamp(), ts);
    assert_eq!(e.current_txn_first_offset(), None);
    assert_eq!(e.last_data_offset(), -1);
}

#[test]
fn testLoadFromSnapshotRetainsNonExpiredProducers() {
    let mut m = manager();
    append_client(&mut m, 1, EPOCH, 0, 0, T0, false).unwrap();
    append_client(&mut m, 2, EPOCH, 0, 1, T0, false).unwrap();
    let reloaded = reload(&m, *m.config(), T0);
    assert_eq!(reloaded.producer_count(), 2);
    assert_eq!((entry(&reloaded, 1).last_seq(), entry(&reloaded, 1).last_data_offset()), (0, 0));
    assert_eq!((entry(&reloaded, 2).last_seq(), entry(&reloaded, 2).last_data_offset()), (0, 1));
    assert_eq!(reloaded.map_end_offset(), 2);
}

#[test]
fn testTruncateFullyAndStartAt() {
    let mut m = manager();
    append_client(&mut m, PID, EPOCH, 0, 0, T0, true).unwrap();
    append_client(&mut m, 2, EPOCH, 0, 1, T0, false).unwrap();
    m.truncate_fully_and_start_at(0);
    assert_eq!(m.producer_count(), 0);
    assert_eq!(m.first_unstable_offset(), None);
    assert_eq!(m.map_end_offset(), 0);
    assert!(m.is_empty());
    append_client(&mut m, PID, EPOCH, 0, 0, T0, false).unwrap();
    assert_eq!(m.map_end_offset(), 1);
}

#[test]
fn testHasLateTransaction() {
    let mut m = manager();
    let timeout = 5 * 60 * 1000;
    let late = timeout + manager::LATE_TRANSACTION_BUFFER_MS;
    let mut now = T0;
    append_client(&mut m, 39, 2, 0, 100, now, true).unwrap();
    assert!(!m.has_late_transaction(now, timeout));
    now += 500;
    append_client(&mut m, 57, 9, 0, 150, now, true).unwrap();
    assert!(!m.has_late_transaction(now, timeout));
    now += late - 500 + 1;
    assert!(m.has_late_transaction(now, timeout));
    append_end_txn(&mut m, 39, 2, true, 200, 0, now).unwrap();
    // The second transaction started 500 ms later: not late yet.
    assert!(!m.has_late_transaction(now, timeout));
    assert_eq!(m.oldest_txn_last_timestamp(), Some(T0 + 500));
    append_end_txn(&mut m, 57, 9, true, 250, 0, now).unwrap();
    assert!(!m.has_late_transaction(now + late * 2, timeout));
    assert_eq!(m.oldest_txn_last_timestamp(), None);
}

#[test]
fn testReadWriteSnapshot() {
    let expected = vec![
        ProducerStateEntry::from_parts(
            1,
            2,
            3,
            NO_TIMESTAMP,
            Some(100),
            Some(BatchMetadata { last_seq: 1, last_offset: 2, offset_delta: 3, timestamp: NO_TIMESTAMP }),
        ),
        ProducerStateEntry::from_parts(11, 12, 13, 123_456, None, None),
    ];
    let entries: Vec<SnapshotEntry> = expected.iter().map(SnapshotEntry::from).collect();
    let decoded = decode_snapshot(&encode_snapshot(&entries)).unwrap();
    let restored: Vec<ProducerStateEntry> = decoded.iter().map(SnapshotEntry::to_producer_entry).collect();
    assert_eq!(restored, expected);
}

/// Kafka's `testLoadFromCorruptSnapshot`: two snapshots; the newer is damaged, so decoding it
/// fails and the state comes from the older one.
fn load_after_damage(damage: impl FnOnce(&mut Vec<u8>)) {
    let mut m = manager();
    append_client(&mut m, PID, EPOCH, 0, 0, T0, false).unwrap();
    let older = (m.map_end_offset(), m.snapshot_bytes());
    append_client(&mut m, PID, EPOCH, 1, 1, T0, false).unwrap();
    let mut newer = (m.map_end_offset(), m.snapshot_bytes());
    assert_eq!((older.0, newer.0), (1, 2));
    damage(&mut newer.1);

    assert!(decode_snapshot(&newer.1).is_err(), "damaged snapshot must be rejected");
    let mut reloaded = manager();
    reloaded.load_snapshot(decode_snapshot(&older.1).unwrap(), older.0, T0);
    assert_eq!(entry(&reloaded, PID).last_data_offset(), 0);
    assert_eq!(reloaded.map_end_offset(), 1);
}

#[test]
fn testLoadFromEmptySnapshotFile() {
    load_after_damage(|b| b.clear());
}

#[test]
fn testLoadFromTruncatedSnapshotFile() {
    load_after_damage(|b| {
        assert!(b.len() > 2);
        let half = b.len() / 2;
        b.truncate(half);
    });
}

#[test]
fn testLoadFromCorruptSnapshotFile() {
    // Kafka writes 37 zero bytes at the start of the file.
    load_after_damage(|b| {
        assert!(b.len() > 37);
        b[..37].fill(0);
    });
}

#[test]
fn testTruncateHeadKeepsProducers() {
    // KAFKA-7190: retention deleting a producer's data does not forget the producer.
    let mut m = manager();
    append_client(&mut m, PID, EPOCH, 0, 0, T0, true).unwrap();
    append_end_txn(&mut m, PID, EPOCH, false, 1, 0, T0).unwrap();
    append_client(&mut m, 2, EPOCH, 0, 2, T0, true).unwrap();
    assert_eq!(m.first_unstable_offset(), Some(0));
    m.truncate_head(2);
    // The completed transaction below the log start is gone; the open one stays.
    assert_eq!(m.first_unstable_offset(), Some(2));
    assert_eq!(m.producer_count(), 2);
    append_client(&mut m, PID, EPOCH, 1, 3, T0, false).unwrap();
    m.truncate_head(10);
    assert_eq!(m.map_end_offset(), 10);
    assert_eq!(m.first_unstable_offset(), Some(2));
    assert_eq!(
        m.ongoing_transactions(),
        vec![OngoingTxn { producer_id: 2, first_offset: 2, last_timestamp: T0 }]
    );
}
