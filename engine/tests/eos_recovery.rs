//! Recovery and producer snapshots through the real engine: the transaction index rebuilt from
//! the log, snapshots in Kafka's format at roll / close / after recovery, fallback from a
//! corrupt snapshot, truncation and retention keeping producer state consistent, producer
//! expiry, and crash images (Kafka's `LogLoaderTest` cases as equivalents).

mod eos_support;

use std::collections::BTreeSet;

use eos_support::*;
use eoslog::IsolationLevel;
use eoslog::producer::SnapshotEntry;

fn remove_files_with_suffix(dir: &std::path::Path, suffix: &str) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.to_str().unwrap().ends_with(suffix) {
            std::fs::remove_file(p).unwrap();
            n += 1;
        }
    }
    n
}

/// Kafka's `testFullTransactionIndexRecovery`: with every offset and transaction index deleted,
/// recovery from offset 0 rebuilds the entries (1,0,29,8) and (2,8,74,36).
#[test]
fn full_transaction_index_recovery() {
    // Kafka uses 128 * 5 byte segments here.
    let mut s = Setup::new(Opts::default().topic("segment.bytes", "640"));
    kafka_txn_index_workload(&s.log);
    let segments = s.log.segment_base_offsets();
    assert_eq!(segments, vec![0, 17, 36, 59, 75]);
    let expected = vec![aborted(1, 0, 29, 8), aborted(2, 8, 74, 36)];
    assert_eq!(txnindex_entries(&s.part_dir()), expected);
    let (committed, aborted_seen) = consume_committed(&s.log, 1 << 20);

    s.engine().close().unwrap();
    assert!(remove_files_with_suffix(&s.part_dir(), ".index") >= segments.len());
    assert_eq!(remove_files_with_suffix(&s.part_dir(), ".txnindex"), 2);
    // Kafka reopens with larger segments; the existing ones are kept as they are.
    s.opts = Opts::default().topic("segment.bytes", "5120");
    s.reopen_unclean(0);
    assert_eq!(eos_support::user_report(s.engine().recovery_report()).segments_recovered, segments.len());
    assert_eq!(s.log.segment_base_offsets(), segments);
    assert_eq!(txnindex_entries(&s.part_dir()), expected);
    assert_eq!(consume_committed(&s.log, 1 << 20), (committed, aborted_seen));
}

/// A segment whose offset index is damaged is rebuilt when the log is opened; its `.txnindex`
/// must come back with it (Kafka recovers such a segment with the producer state as of its
/// base offset, so the ABORT markers in it produce their entries again).
#[test]
fn rebuilding_a_damaged_index_keeps_the_transaction_index() {
    for clean in [true, false] {
        let mut s = Setup::new(Opts::default().topic("segment.bytes", "640"));
        kafka_txn_index_workload(&s.log);
        let expected = vec![aborted(1, 0, 29, 8), aborted(2, 8, 74, 36)];
        let holders: Vec<i64> = txnindex_files(&s.part_dir())
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(b, _)| b)
            .collect();
        assert_eq!(holders.len(), 2);
        let (committed, aborted_seen) = consume_committed(&s.log, 1 << 20);
        s.engine().close().unwrap();
        // An offset index whose length is not a whole number of entries fails the sanity check.
        for base in &holders {
            let path = s.part_dir().join(format!("{base:020}.index"));
            let mut bytes = std::fs::read(&path).unwrap();
            bytes.extend_from_slice(&[0xab; 3]);
            std::fs::write(&path, bytes).unwrap();
        }
        if clean {
            s.reopen_as_is();
        } else {
            // Recovery point at the log end: only the damaged indexes are rebuilt.
            let leo = s.log.log_end_offset();
            s.engine().close().unwrap();
            make_unclean(s.dir.path(), leo);
            s.reopen_as_is();
        }
        let report = eos_support::user_report(s.engine().recovery_report());
        assert_eq!(report.rebuilt_indexes, holders, "clean={clean}");
        assert_eq!(txnindex_entries(&s.part_dir()), expected, "clean={clean}");
        assert_eq!(
            consume_committed(&s.log, 1 << 20),
            (committed.clone(), aborted_seen.clone()),
            "clean={clean}"
        );
    }
}

/// Kafka's `testRecoverAfterNonMonotonicCoordinatorEpochWrite` (KAFKA-9144): a marker with an
/// older coordinator epoch got into the log after the producer expired; recovery must accept
/// it and keep the latest write.
#[test]
fn recover_after_non_monotonic_coordinator_epoch_write() {
    let mut s = Setup::new(Opts::default());
    let (pid, coordinator_epoch) = (1, 5);
    let first_ts = T0;
    s.log.append_marker(pid, 0, coordinator_epoch, false, 1).unwrap();
    assert_eq!(s.log.producer_state(pid).unwrap().last_timestamp(), first_ts);

    s.clock.advance(24 * 3600 * 1000); // producer.id.expiration.ms default
    assert_eq!(s.log.remove_expired_producers(), 1);
    assert!(s.log.producer_state(pid).is_none());

    let second_ts = T0 + 24 * 3600 * 1000;
    s.log.append_marker(pid, 0, coordinator_epoch - 1, false, 1).unwrap();
    s.reopen_unclean(0);
    let e = s.log.producer_state(pid).unwrap();
    assert_eq!((e.last_timestamp(), e.coordinator_epoch()), (second_ts, coordinator_epoch - 1));
}

/// Kafka's `testProducerSnapshotsRecoveryAfterUncleanShutdown`, as an equivalent: an unclean
/// open recovers exactly the segments from the one holding the recovery point, takes a
/// snapshot after each, and needs no replay below the recovery point when a snapshot is there.
#[test]
fn producer_snapshots_recovery_after_unclean_shutdown() {
    let mut s = Setup::new(Opts::default().topic("segment.bytes", "640"));
    let mut p = Producer::new(5, 0);
    for _ in 0..=100 {
        p.idem(&s.log, 1);
    }
    let segments = s.log.segment_base_offsets();
    let n = segments.len();
    assert!(n >= 5, "{segments:?}");
    let leo = s.log.log_end_offset();
    // Snapshots at every roll and at the log end.
    let mut at_rolls: BTreeSet<i64> = segments[1..].iter().copied().collect();
    at_rolls.insert(leo);
    let state = producer_state(&s.log);
    s.engine().close().unwrap();
    let on_disk = snapshot_offsets(&s.part_dir());
    assert!(at_rolls.is_subset(&on_disk), "{on_disk:?}");

    // Keep only the snapshots of the last two segments (and the log end).
    for o in on_disk.iter().filter(|o| **o < segments[n - 2]) {
        std::fs::remove_file(s.part_dir().join(format!("{o:020}.snapshot"))).unwrap();
    }
    let recovery_point_segment = segments[n - 4];
    s.reopen_unclean(recovery_point_segment + 1);
    let report = eos_support::user_report(s.engine().recovery_report()).clone();
    assert_eq!(report.segments_recovered, 4);
    // No snapshot at or below the recovery-point segment: the producer state was rebuilt by
    // replaying the segments below it.
    assert!(report.producer_state_batches_replayed > 0);
    let mut expected: BTreeSet<i64> = segments[n - 3..].iter().copied().collect();
    expected.insert(leo);
    assert_eq!(snapshot_offsets(&s.part_dir()), expected);
    assert_eq!(producer_state(&s.log), state);
    assert_eq!(s.log.log_end_offset(), leo);

    // Again with the recovery point in a segment that now has a snapshot at its base: nothing
    // below it is read.
    s.reopen_unclean(segments[n - 3] + 1);
    let report = eos_support::user_report(s.engine().recovery_report()).clone();
    assert!(report.rebuilt_indexes.is_empty(), "{report:?}");
    assert_eq!(report.segments_recovered, 3);
    assert_eq!(report.producer_state_batches_replayed, 0);
    assert_eq!(producer_state(&s.log), state);
    // The dedup window survives too: the last batch is a duplicate.
    let dup = s.log.append(&records(5, 0, 100, false, 1, T0, &format!("p5-s{}", 100))).unwrap();
    assert!(dup.duplicate);
}

/// Snapshots are in Kafka's `.snapshot` v1 format: version 1, CRC-32C over everything after the
/// CRC, a count and 46-byte entries; taken at roll (named by the new segment's base), at close
/// (the log end) and after recovery.
#[test]
fn snapshots_at_roll_close_and_recovery_in_kafka_format() {
    let mut s = Setup::new(Opts::default().topic("segment.bytes", "400"));
    let mut a = Producer::new(10, 3);
    let mut b = Producer::new(11, 0);
    a.idem(&s.log, 2);
    b.txn(&s.log, 3);
    let mut bases = s.log.segment_base_offsets();
    while bases.len() < 3 {
        a.idem(&s.log, 1);
        bases = s.log.segment_base_offsets();
    }
    // The snapshot at a roll holds the state after every batch below the new base.
    let roll = bases[1];
    let at_roll = read_snapshot(&s.part_dir(), roll);
    assert_eq!(at_roll.len(), 2);
    assert!(at_roll.iter().all(|e| e.last_offset < roll));
    assert_eq!(at_roll[1].current_txn_first_offset, 2, "b's transaction is open at the roll");

    b.end(&s.log, false, 4);
    let leo = s.log.log_end_offset();
    let state = producer_state(&s.log);
    s.reopen();
    let bytes = std::fs::read(s.part_dir().join(format!("{leo:020}.snapshot"))).unwrap();
    assert_eq!(i16::from_be_bytes([bytes[0], bytes[1]]), 1, "version 1");
    assert_eq!(u32::from_be_bytes(bytes[2..6].try_into().unwrap()), crc32c::crc32c(&bytes[6..]));
    assert_eq!(i32::from_be_bytes(bytes[6..10].try_into().unwrap()), 2);
    assert_eq!(bytes.len(), 10 + 2 * 46);
    assert_eq!(read_snapshot(&s.part_dir(), leo), state);
    let entry_b = state.iter().find(|e| e.producer_id == 11).unwrap();
    assert_eq!((entry_b.coordinator_epoch, entry_b.current_txn_first_offset), (4, -1));

    // After a crash: a snapshot at the log end again, with the same state.
    a.idem(&s.log, 1);
    let state = producer_state(&s.log);
    let leo = s.log.log_end_offset();
    s.crash_and_reopen();
    assert_eq!(producer_state(&s.log), state);
    assert!(snapshot_offsets(&s.part_dir()).contains(&leo));
    assert_eq!(read_snapshot(&s.part_dir(), leo), state);
}

/// A corrupt or short newest snapshot is discarded; the next older one plus a replay of the log
/// gives the same producer state (Kafka's `testLoadFrom{Truncated,Corrupt}SnapshotFile`).
#[test]
fn corrupt_or_short_newest_snapshot_falls_back_to_an_older_one() {
    for damage in ["crc", "short", "version"] {
        for clean in [true, false] {
            let mut s = Setup::new(Opts::default().topic("segment.bytes", "400"));
            let mut a = Producer::new(1, 0);
            let mut b = Producer::new(2, 7);
            while s.log.segment_base_offsets().len() < 3 {
                a.idem(&s.log, 2);
                b.txn(&s.log, 1);
            }
            b.end(&s.log, false, 1);
            a.idem(&s.log, 1);
            let state = producer_state(&s.log);
            let leo = s.log.log_end_offset();
            let txnindex = txnindex_entries(&s.part_dir());
            s.engine().close().unwrap();
            // A clean open loads the snapshot at the log end; an unclean one (recovery point in
            // the active segment) the one at the active segment's base.
            let loaded = if clean { leo } else { *s.log.segment_base_offsets().last().unwrap() };
            let newest = s.part_dir().join(format!("{loaded:020}.snapshot"));
            let mut bytes = std::fs::read(&newest).unwrap();
            match damage {
                "crc" => *bytes.last_mut().unwrap() ^= 0x5a,
                "short" => bytes.truncate(bytes.len() - 10),
                _ => bytes[1] = 9,
            }
            std::fs::write(&newest, bytes).unwrap();
            if clean {
                s.reopen_as_is();
            } else {
                s.engine().close().unwrap();
                make_unclean(s.dir.path(), leo);
                s.reopen_as_is();
            }
            let report = eos_support::user_report(s.engine().recovery_report());
            assert_eq!(report.discarded_snapshots.len(), 1, "{damage} clean={clean}");
            assert!(report.producer_state_batches_replayed > 0, "{damage} clean={clean}");
            assert_eq!(producer_state(&s.log), state, "{damage} clean={clean}");
            assert_eq!(txnindex_entries(&s.part_dir()), txnindex, "{damage} clean={clean}");
            // The damaged file was replaced by a good snapshot at the log end.
            assert_eq!(read_snapshot(&s.part_dir(), leo), state);
        }
    }
}

/// Truncation removes the snapshots above the new log end and rebuilds the producer state
/// from the newest one below it (Kafka's `testTruncateAndReloadRemovesOutOfRangeSnapshots`).
#[test]
fn truncation_removes_snapshots_above_the_log_end() {
    let mut s = Setup::new(Opts::default().topic("segment.bytes", "400"));
    let mut a = Producer::new(1, 0);
    let mut states = Vec::new();
    while s.log.segment_base_offsets().len() < 4 {
        a.idem(&s.log, 1);
        states.push((s.log.log_end_offset(), producer_state(&s.log)));
    }
    s.reopen();
    let bases = s.log.segment_base_offsets();
    let cut = bases[2] - 1; // inside the second segment
    s.log.truncate_to(cut).unwrap();
    assert_eq!(s.log.log_end_offset(), cut);
    assert!(
        snapshot_offsets(&s.part_dir()).iter().all(|o| *o <= cut),
        "{:?}",
        snapshot_offsets(&s.part_dir())
    );
    let expected = &states.iter().find(|(leo, _)| *leo == cut).unwrap().1;
    assert_eq!(&producer_state(&s.log), expected);
    assert_eq!(epoch_and_seq(&s.log, 1), Some((0, (cut - 1) as i32)));
    // The producer carries on from the truncated state.
    a.seq = cut as i32;
    a.idem(&s.log, 1);
    s.reopen();
    assert_eq!(epoch_and_seq(&s.log, 1), Some((0, cut as i32)));
}

/// Retention deletes data but keeps producer state until it expires (KAFKA-7190), and the
/// snapshots of the deleted segments go with them.
#[test]
fn retention_keeps_producer_state_and_drops_old_snapshots() {
    let mut s = Setup::new(Opts::default().topic("segment.bytes", "400"));
    let mut gone = Producer::new(1, 2);
    let mut stays = Producer::new(2, 0);
    gone.idem(&s.log, 3);
    while s.log.segment_base_offsets().len() < 4 {
        stays.idem(&s.log, 1);
    }
    let bases = s.log.segment_base_offsets();
    let before = producer_state(&s.log);
    s.log.delete_records(bases[2]).unwrap();
    assert_eq!(s.log.segment_base_offsets(), bases[2..].to_vec());
    // Every batch of producer 1 is gone; its state is not.
    assert_eq!(producer_state(&s.log), before);
    assert!(
        snapshot_offsets(&s.part_dir()).iter().all(|o| *o >= bases[2]),
        "{:?}",
        snapshot_offsets(&s.part_dir())
    );
    // Its next write carries on: no UNKNOWN_PRODUCER_ID, no out-of-order sequence.
    gone.idem(&s.log, 1);
    assert_eq!(epoch_and_seq(&s.log, 1), Some((2, 3)));
    let before = producer_state(&s.log);
    s.reopen();
    assert_eq!(producer_state(&s.log), before);
    s.reopen_unclean(0);
    assert_eq!(producer_state(&s.log), before);
    assert_eq!(s.log.log_start_offset(), bases[2]);
}

/// Producers expire after `producer.id.expiration.ms` of inactivity, never while a transaction
/// is open, and the outcome is the same after a restart (Kafka's
/// `testProducersWithOngoingTransactionsDontExpire`, `testPidExpirationTimeout`,
/// `testRemoveExpiredPidsOnReload`).
#[test]
fn producer_expiry_respects_open_transactions_and_restarts() {
    let hour = 3600 * 1000;
    let mut s = Setup::new(Opts { producer_expiration_ms: Some(hour), ..Opts::default() });
    let idle = Producer::new(1, 0);
    let mut open = Producer::new(2, 0);
    let busy = Producer::new(3, 0);
    s.log.append(&idle.batch(false, 1, T0)).unwrap();
    s.log.append(&open.batch(true, 1, T0)).unwrap();
    open.seq += 1;

    s.clock.advance(hour - 1);
    s.log.append(&busy.batch(false, 1, T0 + hour - 1)).unwrap();
    assert_eq!(s.log.remove_expired_producers(), 0, "one ms short of the expiration");
    s.clock.advance(1);
    assert_eq!(s.log.remove_expired_producers(), 1);
    let pids: Vec<i64> = producer_state(&s.log).iter().map(|e| e.producer_id).collect();
    assert_eq!(pids, vec![2, 3], "the producer with an open transaction stays");

    // An expired producer is unknown: any sequence is accepted again.
    s.log.append(&records(1, 0, 42, false, 1, T0 + hour, "back")).unwrap();
    assert_eq!(epoch_and_seq(&s.log, 1), Some((0, 42)));
    assert_eq!(s.log.remove_expired_producers(), 0);

    // Restart after more time passed: the snapshot's stale producers are dropped on load, but
    // never the one with the open transaction.
    s.engine().close().unwrap();
    s.clock.advance(2 * hour);
    s.reopen_as_is();
    let pids: Vec<i64> = producer_state(&s.log).iter().map(|e| e.producer_id).collect();
    assert_eq!(pids, vec![2]);
    assert_eq!(s.log.ongoing_transactions().len(), 1);
    assert_eq!(s.log.last_stable_offset(), 1);

    // An unclean restart replays the log (which brings them back, as Kafka's replay does);
    // the next expiry pass gives the same answer as before.
    s.reopen_unclean(0);
    s.log.remove_expired_producers();
    let pids: Vec<i64> = producer_state(&s.log).iter().map(|e| e.producer_id).collect();
    assert_eq!(pids, vec![2]);
    // Committing lets it expire in turn (the marker refreshes its timestamp first).
    open.end(&s.log, true, 0);
    s.clock.advance(hour);
    assert_eq!(s.log.remove_expired_producers(), 1);
    assert!(s.log.producers().is_empty());
}

/// A crash image (the files of a running engine, as SIGKILL leaves them with durability=none)
/// recovers to exactly the running engine's state: offsets, transactions, index entries and
/// producer state.
#[test]
fn crash_image_recovers_the_running_state() {
    let mut s = Setup::new(Opts::default().topic("segment.bytes", "500"));
    let mut a = Producer::new(1, 0);
    let mut b = Producer::new(2, 0);
    let mut c = Producer::new(3, 1);
    for round in 0..8 {
        a.txn(&s.log, 2);
        c.idem(&s.log, 1);
        b.txn(&s.log, 1);
        a.end(&s.log, round % 3 == 0, 0);
        if round % 2 == 1 {
            b.end(&s.log, false, 0);
        }
    }
    b.txn(&s.log, 1); // left open
    let state = producer_state(&s.log);
    let txnindex = txnindex_entries(&s.part_dir());
    let (leo, lso, fuo) = (s.log.log_end_offset(), s.log.last_stable_offset(), s.log.first_unstable_offset());
    let consumed = consume_committed(&s.log, 300);
    let ongoing = s.log.ongoing_transactions();
    s.crash_and_reopen();
    assert!(eos_support::user_report(s.engine().recovery_report()).segments_recovered >= 1);
    assert_eq!(producer_state(&s.log), state);
    assert_eq!(txnindex_entries(&s.part_dir()), txnindex);
    assert_eq!(
        (s.log.log_end_offset(), s.log.last_stable_offset(), s.log.first_unstable_offset()),
        (leo, lso, fuo)
    );
    assert_eq!(consume_committed(&s.log, 300), consumed);
    assert_eq!(s.log.ongoing_transactions(), ongoing);
    assert_eq!(visible_offsets(&s.log, IsolationLevel::ReadUncommitted).len() as i64, leo - 8 - 4);
    let _: Vec<SnapshotEntry> = state;
}

/// Recovery leaves every inactive segment's indexes trimmed to their entries (Kafka's
/// `LogSegment.recover` ends that way), so the next open trusts them and rebuilds nothing; a
/// segment whose index files are missing is rebuilt.
#[test]
fn recovered_indexes_are_trimmed_and_missing_ones_rebuilt() {
    let mut s = Setup::new(Opts::default().topic("segment.bytes", "400").topic("index.interval.bytes", "64"));
    let mut a = Producer::new(1, 0);
    while s.log.segment_base_offsets().len() < 4 {
        a.idem(&s.log, 1);
    }
    let bases = s.log.segment_base_offsets();
    let before = tree(&s.part_dir());
    s.reopen_unclean(0);
    assert_eq!(eos_support::user_report(s.engine().recovery_report()).segments_recovered, bases.len());
    let after = tree(&s.part_dir());
    for base in &bases[..bases.len() - 1] {
        for ext in ["index", "timeindex"] {
            let name = format!("{base:020}.{ext}");
            assert_eq!(after[&name], before[&name], "{name} rebuilt exactly as written at the roll");
        }
    }
    s.reopen();
    let report = eos_support::user_report(s.engine().recovery_report());
    assert!(report.rebuilt_indexes.is_empty(), "{report:?}");

    // Missing offset and time indexes (Kafka's LogLoader recovers such a segment).
    s.engine().close().unwrap();
    std::fs::remove_file(s.part_dir().join(format!("{:020}.index", bases[1]))).unwrap();
    std::fs::remove_file(s.part_dir().join(format!("{:020}.timeindex", bases[2]))).unwrap();
    s.reopen_as_is();
    assert_eq!(
        eos_support::user_report(s.engine().recovery_report()).rebuilt_indexes,
        vec![bases[1], bases[2]]
    );
    let rebuilt = tree(&s.part_dir());
    for base in &bases[..bases.len() - 1] {
        for ext in ["index", "timeindex"] {
            let name = format!("{base:020}.{ext}");
            assert_eq!(rebuilt[&name], before[&name], "{name}");
        }
    }
    assert_eq!(visible_offsets(&s.log, IsolationLevel::ReadUncommitted).len() as i64, s.log.log_end_offset());
}

/// The same through time-based retention (`retention.ms`): the old segments go with their
/// snapshots, the producers whose data went with them stay, with an open transaction too.
#[test]
fn time_retention_keeps_producer_state() {
    let hour = 3600 * 1000;
    let mut s =
        Setup::new(Opts::default().topic("segment.bytes", "400").topic("retention.ms", &hour.to_string()));
    // Old data: an idempotent producer, and a transaction that stays open.
    s.log.append(&records(1, 0, 0, false, 2, T0, "old")).unwrap();
    s.log.append(&records(2, 0, 0, true, 1, T0, "open")).unwrap();
    while s.log.segment_base_offsets().len() < 3 {
        s.log.append(&plain(1, T0, "old")).unwrap();
    }
    s.log.force_roll().unwrap();
    // New data, two hours later.
    s.clock.advance(2 * hour);
    s.log.append(&Producer::new(3, 0).batch(false, 1, T0 + 2 * hour)).unwrap();
    let before = producer_state(&s.log);
    let bases = s.log.segment_base_offsets();
    let deleted = s.log.apply_retention().unwrap();
    assert_eq!(deleted, bases.len() - 1, "every old segment goes");
    assert_eq!(s.log.segment_base_offsets(), vec![*bases.last().unwrap()]);
    assert_eq!(s.log.log_start_offset(), *bases.last().unwrap());
    assert!(snapshot_offsets(&s.part_dir()).iter().all(|o| *o >= s.log.log_start_offset()));
    assert_eq!(producer_state(&s.log), before, "KAFKA-7190: state outlives the data");
    // The transaction that started in deleted data is still open; the LSO is clamped to the
    // log start.
    assert_eq!(
        s.log.ongoing_transactions().iter().map(|t| (t.producer_id, t.first_offset)).collect::<Vec<_>>(),
        vec![(2, 2)]
    );
    assert_eq!(s.log.first_unstable_offset(), Some(s.log.log_start_offset()));
    assert_eq!(s.log.last_stable_offset(), s.log.log_start_offset());
    // Its abort is indexed and the producers carry on with their sequences.
    s.log.append_marker(2, 0, 0, false, 1).unwrap();
    assert_eq!(s.log.last_stable_offset(), s.log.log_end_offset());
    s.log.append(&records(1, 0, 2, false, 1, T0 + 2 * hour, "again")).unwrap();
    s.reopen_unclean(0);
    assert_eq!(epoch_and_seq(&s.log, 1), Some((0, 2)));
    assert_eq!(
        txnindex_entries(&s.part_dir()).iter().map(|t| (t.producer_id, t.first_offset)).collect::<Vec<_>>(),
        vec![(2, 2)]
    );
}
