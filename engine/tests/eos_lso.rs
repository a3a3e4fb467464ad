//! High watermark, first unstable offset, last stable offset and reads by isolation level
//! (Kafka's `UnifiedLogTest` LSO cases and `LocalLog.collectAbortedTransactions`), plus the
//! consumer-side committed filter over real fetches.

mod eos_support;

use std::collections::BTreeSet;

use eos_support::*;
use eoslog::segment::AbortedTxn;
use eoslog::{CommittedRecords, ErrorCode, IsolationLevel};

/// Kafka's `testLastStableOffsetWithMixedProducerData`.
#[test]
fn last_stable_offset_with_mixed_producer_data() {
    let s = Setup::new(Opts::default().external_hw());
    let epoch = 5;
    let (pid1, pid2) = (137, 983);
    let first = s.log.append(&records(pid1, epoch, 0, true, 3, T0, "abc")).unwrap();
    assert_eq!(s.log.first_unstable_offset(), Some(first.first_offset));
    s.log.append(&plain(3, T0, "ghi")).unwrap();
    let second = s.log.append(&records(pid2, epoch, 0, true, 3, T0, "def")).unwrap();
    assert_eq!((first.first_offset, second.first_offset), (0, 6));
    assert_eq!(s.log.first_unstable_offset(), Some(0));

    let abort = s.log.append_marker(pid1, epoch, 0, false, 1).unwrap();
    s.log.update_high_watermark(abort.last_offset + 1).unwrap();
    assert_eq!(s.log.first_unstable_offset(), Some(second.first_offset));
    assert_eq!(s.log.last_stable_offset(), 6);

    let commit = s.log.append_marker(pid2, epoch, 0, true, 1).unwrap();
    s.log.update_high_watermark(commit.last_offset + 1).unwrap();
    assert_eq!(s.log.first_unstable_offset(), None);
    assert_eq!(s.log.last_stable_offset(), 11);
    assert_eq!(txnindex_entries(&s.part_dir()), vec![aborted(pid1, 0, 9, 6)]);

    let (committed, aborted_seen) = consume_committed(&s.log, 1 << 20);
    let values: Vec<&str> = committed.iter().map(|(_, v)| v.as_str()).collect();
    assert_eq!(values, ["ghi-0", "ghi-1", "ghi-2", "def-0", "def-1", "def-2"]);
    assert_eq!(aborted_seen, [(pid1, 0)].into_iter().collect());
}

/// The appends of Kafka's `testLastStableOffsetDoesNotExceedLogStartOffset*`: a transaction
/// (0..=4), plain data (5..=7), a roll at 8, more of the transaction (8..=12).
fn open_txn_across_a_roll(s: &Setup) {
    let mut p = Producer::new(1, 0);
    p.txn(&s.log, 5);
    append_plain(&s.log, 3);
    assert_eq!(s.log.log_end_offset(), 8);
    s.log.force_roll().unwrap();
    assert_eq!(s.log.segment_base_offsets().len(), 2);
    p.txn(&s.log, 5);
    assert_eq!(s.log.first_unstable_offset(), Some(0));
}

/// Kafka's `testLastStableOffsetDoesNotExceedLogStartOffsetMidSegment`.
#[test]
fn first_unstable_offset_is_bounded_by_log_start_mid_segment() {
    let s = Setup::new(Opts::default());
    open_txn_across_a_roll(&s);
    assert_eq!(s.log.last_stable_offset(), 0);
    assert_eq!(s.log.delete_records(5).unwrap(), 5);
    assert_eq!(s.log.first_unstable_offset(), Some(5));
    assert_eq!(s.log.last_stable_offset(), 5);
    assert_eq!(s.log.segment_base_offsets(), vec![0, 8]);
    // Nothing is visible to read_committed yet; the open transaction is still open.
    let data = s.log.read(5, 1 << 20, IsolationLevel::ReadCommitted).unwrap();
    assert!(data.records.is_empty());
    assert_eq!(s.log.ongoing_transactions().iter().map(|t| t.first_offset).collect::<Vec<_>>(), vec![0]);
}

/// Kafka's `testLastStableOffsetDoesNotExceedLogStartOffsetAfterSegmentDeletion`.
#[test]
fn first_unstable_offset_is_bounded_by_log_start_after_segment_deletion() {
    let s = Setup::new(Opts::default());
    open_txn_across_a_roll(&s);
    assert_eq!(s.log.delete_records(8).unwrap(), 8);
    assert_eq!(s.log.segment_base_offsets(), vec![8]);
    assert_eq!(s.log.first_unstable_offset(), Some(8));
    assert_eq!(s.log.last_stable_offset(), 8);
    // The abort still lands and is reported from the new log start.
    let abort = s.log.append_marker(1, 0, 0, false, 1).unwrap();
    assert_eq!(abort.first_offset, 13);
    assert_eq!(s.log.first_unstable_offset(), None);
    assert_eq!(txnindex_entries(&s.part_dir()), vec![aborted(1, 0, 13, 14)]);
    let (committed, aborted_seen) = consume_committed(&s.log, 1 << 20);
    assert!(committed.is_empty());
    assert_eq!(aborted_seen, [(1, 0)].into_iter().collect());
}

/// Kafka's `testTruncateBelowFirstUnstableOffset` and
/// `testTruncateFullyAndStartBelowFirstUnstableOffset`: after a reopen, truncating below the
/// first unstable offset clears the transaction and the producers.
#[test]
fn truncate_below_first_unstable_offset() {
    for fully in [false, true] {
        let mut s = Setup::new(Opts::default());
        s.log.append(&plain(3, T0, "012")).unwrap();
        s.log.append(&records(17, 10, 0, true, 2, T0, "34")).unwrap();
        assert_eq!(s.log.first_unstable_offset(), Some(3));
        s.reopen();
        assert_eq!(s.log.first_unstable_offset(), Some(3));
        if fully {
            s.log.truncate_fully_and_start_at(0).unwrap();
        } else {
            s.log.truncate_to(0).unwrap();
        }
        assert_eq!(s.log.first_unstable_offset(), None, "fully={fully}");
        assert!(s.log.producers().is_empty(), "fully={fully}");
        assert!(s.log.ongoing_transactions().is_empty());
        assert_eq!((s.log.log_end_offset(), s.log.last_stable_offset()), (0, 0));
        assert_eq!(snapshot_offsets(&s.part_dir()), BTreeSet::new());
    }
}

/// Truncation in the middle of the log (a follower diverged) rebuilds the open transactions and
/// the LSO from what is left.
#[test]
fn truncate_into_a_transaction() {
    let s = Setup::new(Opts::default());
    let mut p1 = Producer::new(1, 0);
    let mut p2 = Producer::new(2, 0);
    p1.txn(&s.log, 2); // 0..=1
    p2.txn(&s.log, 2); // 2..=3
    p1.end(&s.log, false, 0); // 4: (1, 0, 4, lso 2)
    p2.end(&s.log, true, 0); // 5
    assert_eq!(s.log.first_unstable_offset(), None);
    s.log.truncate_to(5).unwrap();
    assert_eq!(s.log.first_unstable_offset(), Some(2));
    assert_eq!(s.log.last_stable_offset(), 2);
    assert_eq!(txnindex_entries(&s.part_dir()), vec![aborted(1, 0, 4, 2)]);
    s.log.truncate_to(4).unwrap();
    assert_eq!(s.log.first_unstable_offset(), Some(0));
    assert!(txnindex_entries(&s.part_dir()).is_empty(), "the entry of the truncated marker goes");
    assert_eq!(epoch_and_seq(&s.log, 1), Some((0, 1)));
    // The transaction can be aborted again.
    p1.end(&s.log, false, 0);
    assert_eq!(txnindex_entries(&s.part_dir()), vec![aborted(1, 0, 4, 2)]);
}

/// read_uncommitted stops at the high watermark, read_committed at the last stable offset; a
/// follower (LogEnd) sees everything.
#[test]
fn reads_are_bounded_by_isolation_level() {
    let s = Setup::new(Opts::default().external_hw());
    let mut p = Producer::new(9, 0);
    s.log.append(&plain(2, T0, "a")).unwrap(); // 0..=1
    p.txn(&s.log, 3); // 2..=4
    s.log.append(&plain(2, T0, "b")).unwrap(); // 5..=6
    assert_eq!(s.log.high_watermark(), 0);
    assert!(visible_offsets(&s.log, IsolationLevel::ReadUncommitted).is_empty());
    assert_eq!(visible_offsets(&s.log, IsolationLevel::LogEnd), (0..7).collect::<Vec<_>>());

    s.log.update_high_watermark(5).unwrap();
    assert_eq!((s.log.high_watermark(), s.log.last_stable_offset()), (5, 2));
    assert_eq!(visible_offsets(&s.log, IsolationLevel::ReadUncommitted), (0..5).collect::<Vec<_>>());
    assert_eq!(visible_offsets(&s.log, IsolationLevel::ReadCommitted), vec![0, 1]);
    let data = s.log.read(0, 1 << 20, IsolationLevel::ReadCommitted).unwrap();
    assert_eq!((data.high_watermark, data.last_stable_offset), (5, 2));
    assert_eq!(data.aborted_transactions, Some(Vec::new()));
    let data = s.log.read(0, 1 << 20, IsolationLevel::ReadUncommitted).unwrap();
    assert_eq!(data.aborted_transactions, None);
    // A read at the bound is empty, not an error; past the log end it is out of range.
    assert!(s.log.read(2, 1 << 20, IsolationLevel::ReadCommitted).unwrap().records.is_empty());
    assert_eq!(
        code(s.log.read(8, 1 << 20, IsolationLevel::ReadCommitted)),
        ErrorCode::OffsetOutOfRange.code()
    );

    p.end(&s.log, true, 0); // 7
    s.log.update_high_watermark(7).unwrap();
    // The marker is not below the high watermark yet: the transaction still holds the LSO.
    assert_eq!(s.log.first_unstable_offset(), Some(2));
    assert_eq!(s.log.last_stable_offset(), 2);
    s.log.update_high_watermark(8).unwrap();
    assert_eq!(s.log.first_unstable_offset(), None);
    assert_eq!(s.log.last_stable_offset(), 8);
    assert_eq!(visible_offsets(&s.log, IsolationLevel::ReadCommitted), (0..7).collect::<Vec<_>>());
}

/// With several producers interleaving, the LSO is the first offset of the oldest open
/// transaction, whoever owns it.
#[test]
fn last_stable_offset_with_interleaved_producers() {
    let s = Setup::new(Opts::default());
    let lso = |s: &Setup| (s.log.first_unstable_offset(), s.log.last_stable_offset());
    let mut a = Producer::new(1, 0);
    let mut b = Producer::new(2, 0);
    let mut c = Producer::new(3, 0);
    let mut idem = Producer::new(4, 0);
    idem.idem(&s.log, 2); // 0..=1
    assert_eq!(lso(&s), (None, 2));
    b.txn(&s.log, 1); // 2
    a.txn(&s.log, 2); // 3..=4
    assert_eq!(lso(&s), (Some(2), 2));
    c.txn(&s.log, 1); // 5
    idem.idem(&s.log, 1); // 6
    b.end(&s.log, true, 0); // 7
    assert_eq!(lso(&s), (Some(3), 3));
    a.txn(&s.log, 1); // 8
    c.end(&s.log, false, 0); // 9: lso stored 3 (a is open)
    assert_eq!(lso(&s), (Some(3), 3));
    b.txn(&s.log, 1); // 10
    a.end(&s.log, false, 0); // 11: lso stored 10 (b is open)
    assert_eq!(lso(&s), (Some(10), 10));
    b.end(&s.log, true, 0); // 12
    assert_eq!(lso(&s), (None, 13));
    assert_eq!(txnindex_entries(&s.part_dir()), vec![aborted(3, 5, 9, 3), aborted(1, 3, 11, 10)]);
    let (committed, aborted_seen) = consume_committed(&s.log, 1 << 20);
    assert_eq!(committed.iter().map(|(o, _)| *o).collect::<Vec<_>>(), vec![0, 1, 2, 6, 10]);
    assert_eq!(aborted_seen, [(1, 3), (3, 5)].into_iter().collect());
    // Fetching one batch at a time reports the same transactions and the same records.
    let (committed_small, aborted_small) = consume_committed(&s.log, 1);
    assert_eq!(committed_small, committed);
    assert_eq!(aborted_small, aborted_seen);
}

/// Open transactions are listed oldest first with their producer's last timestamp, so an
/// embedder can compute their age and find hanging ones.
#[test]
fn ongoing_transactions_and_their_ages() {
    let s = Setup::new(Opts::default());
    s.log.append(&records(1, 0, 0, true, 1, T0 - 60_000, "a")).unwrap();
    s.log.append(&records(2, 0, 0, true, 1, T0 - 30_000, "b")).unwrap();
    s.log.append(&records(1, 0, 1, true, 1, T0 - 10_000, "a")).unwrap();
    s.log.append(&records(3, 0, 0, false, 1, T0, "idem")).unwrap();
    let txns = s.log.ongoing_transactions();
    let view: Vec<(i64, i64, i64)> =
        txns.iter().map(|t| (t.producer_id, t.first_offset, t.last_timestamp)).collect();
    assert_eq!(view, vec![(1, 0, T0 - 10_000), (2, 1, T0 - 30_000)]);
    s.clock.advance(5_000);
    let now = T0 + 5_000;
    let ages: Vec<i64> = s.log.ongoing_transactions().iter().map(|t| now - t.last_timestamp).collect();
    assert_eq!(ages, vec![15_000, 35_000]);
    // A marker refreshes the producer's timestamp and closes its transaction.
    s.log.append_marker(2, 0, 0, false, 1).unwrap();
    assert_eq!(s.log.ongoing_transactions().iter().map(|t| t.producer_id).collect::<Vec<_>>(), vec![1]);
    assert_eq!(s.log.producer_state(2).unwrap().last_timestamp(), now);
    assert_eq!(s.log.stats().ongoing_transactions, 1);
}

/// Every aborted transaction a read_committed fetch can report, computed by brute force from
/// the `.txnindex` files: those that overlap `[fetch_offset, end)`.
fn brute_force_aborted(all: &[AbortedTxn], fetch_offset: i64, end: i64) -> Vec<(i64, i64)> {
    let mut v: Vec<(i64, i64)> = all
        .iter()
        .filter(|t| t.last_offset >= fetch_offset && t.first_offset < end)
        .map(|t| (t.producer_id, t.first_offset))
        .collect();
    v.sort();
    v
}

/// Builds a log where transactions span segments and aborts land in later segments.
fn spanning_workload(s: &Setup) {
    let mut a = Producer::new(1, 0);
    let mut b = Producer::new(2, 0);
    let mut c = Producer::new(3, 0);
    a.txn(&s.log, 2); // 0..=1, A open for a long time
    for round in 0..6 {
        b.txn(&s.log, 3);
        append_plain(&s.log, 2);
        b.end(&s.log, round % 2 == 0, 0); // B aborts in even rounds, with lso 0 (A is open)
    }
    a.txn(&s.log, 1);
    a.end(&s.log, false, 0); // A aborted, far from its start
    for _ in 0..3 {
        c.txn(&s.log, 2);
        c.end(&s.log, false, 0);
        append_plain(&s.log, 1);
    }
}

/// The aborted list of every possible fetch equals the brute-force overlap, with the scan
/// stopping where Kafka's rule says (the stored LSOs here are Kafka's, so stopping early never
/// loses an overlapping transaction).
#[test]
fn aborted_transactions_match_the_fetched_range() {
    let s = Setup::new(Opts::default().topic("segment.bytes", "700"));
    spanning_workload(&s);
    assert!(s.log.segment_base_offsets().len() >= 4, "{:?}", s.log.segment_base_offsets());
    let all = txnindex_entries(&s.part_dir());
    assert_eq!(all.len(), 3 + 1 + 3);
    assert!(all.iter().filter(|t| t.producer_id == 2).all(|t| t.last_stable_offset == 0));
    let lso = s.log.last_stable_offset();
    assert_eq!(lso, s.log.log_end_offset());
    for fetch_offset in 0..lso {
        for max_bytes in [1, 200, 1 << 20] {
            let data = s.log.read(fetch_offset, max_bytes, IsolationLevel::ReadCommitted).unwrap();
            let end = data.records.batches().last().unwrap().unwrap().next_offset();
            let got: Vec<(i64, i64)> = data
                .aborted_transactions
                .clone()
                .unwrap()
                .iter()
                .map(|t| (t.producer_id, t.first_offset))
                .collect();
            assert_eq!(
                got,
                brute_force_aborted(&all, fetch_offset, end),
                "fetch {fetch_offset} max {max_bytes}"
            );
        }
    }
    // And a consumer sees no aborted record, one batch or everything at a time.
    let (committed, _) = consume_committed(&s.log, 1);
    assert!(committed.iter().all(|(_, v)| v.starts_with("plain") || v.starts_with("p2-")));
    assert_eq!(consume_committed(&s.log, 1 << 20).0, committed);
    // B committed three transactions of three records each; six plain records per round,
    // three more at the end.
    assert_eq!(committed.iter().filter(|(_, v)| v.starts_with("p2-")).count(), 9);
    assert_eq!(committed.iter().filter(|(_, v)| v.starts_with("plain")).count(), 12 + 3);
}

/// The stop rule is really applied: with a stored LSO raised above the fetch's upper bound
/// (something only a buggy writer would store), the scan stops at that entry and never looks
/// at the later `.txnindex` files. With the true value it reads on and finds the transaction
/// whose ABORT landed in a later segment.
#[test]
fn aborted_scan_stops_at_the_first_entry_whose_lso_reaches_the_upper_bound() {
    let mut s = Setup::new(Opts::default().topic("segment.bytes", "300"));
    let mut a = Producer::new(1, 0);
    let mut b = Producer::new(2, 0);
    a.txn(&s.log, 1); // 0: A starts
    b.txn(&s.log, 1); // 1
    b.end(&s.log, false, 0); // 2: (2, 1, 2, lso 0) — A is open
    while s.log.segment_base_offsets().len() < 3 {
        append_plain(&s.log, 1);
    }
    a.end(&s.log, false, 0); // A aborts two segments later
    let files = txnindex_files(&s.part_dir());
    let first_file = files.iter().find(|(_, v)| !v.is_empty()).map(|(k, _)| *k).unwrap();
    assert_eq!(first_file, 0);
    assert_eq!(files[&0], vec![aborted(2, 1, 2, 0)]);
    let a_entry = *txnindex_entries(&s.part_dir()).last().unwrap();
    assert_eq!((a_entry.producer_id, a_entry.first_offset), (1, 0));

    // Fetch only offset 0 (one batch): upper bound 1. B's entry does not overlap, its LSO (0)
    // is below the bound, so the scan goes on to A's entry.
    let got = |s: &Setup| {
        let data = s.log.read(0, 1, IsolationLevel::ReadCommitted).unwrap();
        data.aborted_transactions.unwrap().iter().map(|t| (t.producer_id, t.first_offset)).collect::<Vec<_>>()
    };
    assert_eq!(got(&s), vec![(1, 0)]);
    let c =
        CommittedRecords::from_fetch(&s.log.read(0, 1, IsolationLevel::ReadCommitted).unwrap(), 0).unwrap();
    assert!(c.records.is_empty());
    assert_eq!(c.next_offset, 1);

    // Raise B's stored LSO to 1 (the upper bound): the scan must stop there.
    s.engine().close().unwrap();
    let path = s.part_dir().join(format!("{:020}.txnindex", 0));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[26..34].copy_from_slice(&1i64.to_be_bytes());
    std::fs::write(&path, &bytes).unwrap();
    s.reopen_as_is();
    assert_eq!(got(&s), Vec::<(i64, i64)>::new());
}

/// A high watermark inside a batch (an embedder replicating partial batches) never exposes the
/// batch that straddles it: reads return whole batches entirely below the bound, as Kafka's
/// `LogSegment.read` stops at the position of the batch holding the bound.
#[test]
fn a_batch_straddling_the_high_watermark_is_not_returned() {
    let s = Setup::new(Opts::default().external_hw());
    s.log.append(&plain(3, T0, "a")).unwrap(); // 0..=2
    s.log.append(&records(5, 0, 0, true, 3, T0, "t")).unwrap(); // 3..=5
    s.log.update_high_watermark(4).unwrap();
    assert_eq!(s.log.high_watermark(), 4);
    assert_eq!(visible_offsets(&s.log, IsolationLevel::ReadUncommitted), vec![0, 1, 2]);
    let data = s.log.read(3, 1 << 20, IsolationLevel::ReadUncommitted).unwrap();
    assert!(data.records.is_empty(), "offset 3 is below the HW but its batch ends above it");
    // read_committed stops at the open transaction anyway.
    assert_eq!(s.log.last_stable_offset(), 3);
    assert_eq!(visible_offsets(&s.log, IsolationLevel::ReadCommitted), vec![0, 1, 2]);
}
