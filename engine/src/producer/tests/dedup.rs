//! The five-batch duplicate window (Kafka's `UnifiedLogTest.testDuplicateAppends` and
//! `testMultipleProducersWithDuplicatesInSingleAppend`).

use super::*;

fn client_batch(epoch: i16, first_seq: i32, count: i32, ts: i64) -> BatchInfo {
    // Offsets are assigned by MiniLog; only the record count matters here.
    data(PID, epoch, first_seq, 0, i64::from(count - 1), ts, false)
}

/// Seven batches of three records: seqs 0-2, 3-5, ... 18-20 at offsets 0-2, 3-5, ...
fn seven_batches() -> (MiniLog, Vec<Outcome>) {
    let mut log = MiniLog::new(ProducerStateConfig::default());
    let outcomes = (0..7)
        .map(|i| log.append(AppendOrigin::Client, client_batch(EPOCH, 3 * i, 3, 100 + i64::from(i)), None))
        .collect();
    (log, outcomes)
}

#[test]
fn each_of_the_last_five_batches_is_a_duplicate_with_its_original_offsets() {
    let (mut log, outcomes) = seven_batches();
    let leo = log.leo;
    assert_eq!(leo, 21);
    for k in 0..5 {
        let i = 6 - k; // k-th from the tail
        let Outcome::Appended { first_offset, last_offset, .. } = outcomes[usize::try_from(i).unwrap()]
        else {
            panic!("batch {i} was not appended");
        };
        let retry = log.append(AppendOrigin::Client, client_batch(EPOCH, 3 * i, 3, 999), None);
        assert_eq!(
            retry,
            Outcome::Duplicate { first_offset, last_offset, timestamp: 100 + i64::from(i) },
            "retry of batch {i}"
        );
        assert_eq!(log.leo, leo, "a duplicate writes nothing");
    }
}

#[test]
fn the_sixth_from_tail_and_older_are_out_of_order() {
    let (mut log, _) = seven_batches();
    for i in [1, 0] {
        let retry = log.append(AppendOrigin::Client, client_batch(EPOCH, 3 * i, 3, 999), None);
        assert_eq!(retry, Outcome::Rejected(ErrorCode::OutOfOrderSequenceNumber), "retry of batch {i}");
    }
    assert_eq!(log.leo, 21);
}

#[test]
fn partial_overlap_is_out_of_order() {
    let (mut log, _) = seven_batches();
    // Same first sequence, different last; different first, same last; straddling two batches.
    for (first, count) in [(18, 2), (18, 4), (19, 2), (16, 4), (15, 6)] {
        let retry = log.append(AppendOrigin::Client, client_batch(EPOCH, first, count, 999), None);
        assert_eq!(retry, Outcome::Rejected(ErrorCode::OutOfOrderSequenceNumber), "seqs {first}+{count}");
    }
    // The next batch in sequence is still fine.
    assert!(matches!(
        log.append(AppendOrigin::Client, client_batch(EPOCH, 21, 3, 200), None),
        Outcome::Appended { .. }
    ));
}

#[test]
fn duplicates_need_the_same_epoch() {
    let (mut log, _) = seven_batches();
    // The same sequences under a newer epoch are a new epoch not starting at 0.
    let r = log.append(AppendOrigin::Client, client_batch(EPOCH + 1, 18, 3, 999), None);
    assert_eq!(r, Outcome::Rejected(ErrorCode::OutOfOrderSequenceNumber));
    // After a bump, a retry of the old epoch is a zombie.
    log.append(AppendOrigin::Client, client_batch(EPOCH + 1, 0, 1, 300), None);
    let r = log.append(AppendOrigin::Client, client_batch(EPOCH, 18, 3, 999), None);
    assert_eq!(r, Outcome::Rejected(ErrorCode::InvalidProducerEpoch));
}

#[test]
fn after_reload_only_the_last_batch_is_remembered() {
    let (log, outcomes) = seven_batches();
    let mut reloaded = MiniLog { m: reload(&log.m, *log.m.config(), 0), leo: log.leo, txn_index: vec![] };
    let Outcome::Appended { first_offset, last_offset, .. } = outcomes[6] else { panic!() };
    assert_eq!(
        reloaded.append(AppendOrigin::Client, client_batch(EPOCH, 18, 3, 999), None),
        Outcome::Duplicate { first_offset, last_offset, timestamp: 106 }
    );
    assert_eq!(
        reloaded.append(AppendOrigin::Client, client_batch(EPOCH, 15, 3, 999), None),
        Outcome::Rejected(ErrorCode::OutOfOrderSequenceNumber)
    );
}

#[test]
fn followers_do_not_deduplicate() {
    // testMultipleProducersWithDuplicatesInSingleAppend: replication accepts repeated sequences.
    let (mut log, _) = seven_batches();
    let r = log.append(AppendOrigin::Replication, client_batch(EPOCH, 18, 3, 999), None);
    assert!(matches!(r, Outcome::Appended { first_offset: 21, last_offset: 23, .. }));
    assert_eq!(log.m.last_entry(PID).unwrap().last_data_offset(), 23);
}

#[test]
fn wrapped_batches_are_detected_as_duplicates() {
    let mut log = MiniLog::new(ProducerStateConfig::default());
    log.append(AppendOrigin::Replication, client_batch(EPOCH, i32::MAX - 1, 4, 1), None);
    let b = client_batch(EPOCH, 2, 3, 2);
    assert!(matches!(log.append(AppendOrigin::Client, b, None), Outcome::Appended { .. }));
    assert_eq!(
        log.append(AppendOrigin::Client, client_batch(EPOCH, i32::MAX - 1, 4, 9), None),
        Outcome::Duplicate { first_offset: 0, last_offset: 3, timestamp: 1 }
    );
    assert_eq!(log.m.last_entry(PID).unwrap().first_seq(), i32::MAX - 1);
}
