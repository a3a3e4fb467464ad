//! Truncation (a follower diverging from its leader): `truncate_to` — at a batch boundary,
//! inside a batch, across segments, below the first unstable offset, with producer state — and
//! `truncate_fully_and_start_at`; each checked on the files, the offsets and after a reopen.

mod common;

use std::sync::Arc;

use eoslog::{AppendOptions, Engine, IsolationLevel, PartitionLog};

const TOPIC: &str = "t";

fn setup() -> (tempfile::TempDir, Engine, Arc<PartitionLog>) {
    let tmp = tempfile::tempdir().unwrap();
    let engine = common::open(tmp.path());
    engine.create_topic(TOPIC, 1, common::small_topic()).unwrap();
    let log = engine.partition(TOPIC, 0).unwrap();
    (tmp, engine, log)
}

/// Appends `n` batches of 3 records `b<i>-<j>`; returns their bytes as given.
fn append_n(log: &Arc<PartitionLog>, from: usize, n: usize) -> Vec<Vec<u8>> {
    (from..from + n)
        .map(|i| {
            let b = common::batch(&format!("b{i}"), 3);
            log.append(&b).unwrap();
            b
        })
        .collect()
}

#[test]
fn truncate_to_a_batch_boundary_and_inside_a_batch() {
    let (_tmp, _engine, log) = setup();
    append_n(&log, 0, 10); // batches at 0, 3, ..., 27
    let all = common::records(&log, 0);
    log.truncate_to(21).unwrap();
    assert_eq!(log.log_end_offset(), 21);
    assert_eq!(common::records(&log, 0), all[..21]);
    // Inside a batch: the whole batch holding the offset goes (whole batches only).
    log.truncate_to(13).unwrap();
    assert_eq!(log.log_end_offset(), 12);
    assert_eq!(common::records(&log, 0), all[..12]);
    assert_eq!(log.high_watermark(), 12);
    // At or past the log end: nothing happens.
    log.truncate_to(12).unwrap();
    log.truncate_to(1000).unwrap();
    assert_eq!(log.log_end_offset(), 12);
    // Appends continue at the new end.
    assert_eq!(log.append(&common::batch("new", 2)).unwrap().first_offset, 12);
}

/// Truncating into an older segment deletes the later ones, and the older segment becomes
/// active again: appending the same batches once more must give the very same files.
#[test]
fn truncate_across_segments_then_append_the_same_batches() {
    let (tmp, engine, log) = setup();
    let batches = append_n(&log, 0, 200);
    let segments = log.segment_base_offsets();
    assert!(segments.len() >= 4, "{segments:?}");
    let pdir = tmp.path().join(format!("{TOPIC}-0"));
    let target = segments[1] + 3 * 2; // two batches into segment 1
    log.truncate_to(target).unwrap();
    assert_eq!(log.segment_base_offsets(), segments[..2]);
    assert_eq!(log.log_end_offset(), target);
    for gone in &segments[2..] {
        for ext in ["log", "index", "timeindex", "snapshot"] {
            assert!(!pdir.join(format!("{gone:020}.{ext}")).exists(), "{gone}.{ext}");
        }
    }
    // Re-append the batches that were cut; the layout and the files come out the same.
    for b in &batches[(target / 3) as usize..] {
        log.append(b).unwrap();
    }
    assert_eq!(log.segment_base_offsets(), segments);
    drop(log);
    engine.close().unwrap();
    let after = common::tree(&pdir);

    let (tmp2, engine2, log2) = setup();
    for b in &batches {
        log2.append(b).unwrap();
    }
    drop(log2);
    engine2.close().unwrap();
    let reference = common::tree(&tmp2.path().join(format!("{TOPIC}-0")));
    let names = |t: &std::collections::BTreeMap<String, Vec<u8>>| {
        t.keys().filter(|k| *k != "partition.metadata").cloned().collect::<Vec<_>>()
    };
    assert_eq!(names(&after), names(&reference));
    for (name, bytes) in &reference {
        if name != "partition.metadata" {
            common::assert_bytes_eq(&after[name], bytes, name);
        }
    }
}

/// Kafka's testTruncateBelowFirstUnstableOffset: truncating below an open transaction's first
/// offset forgets the transaction.
#[test]
fn truncate_below_the_first_unstable_offset() {
    let (_tmp, _engine, log) = setup();
    append_n(&log, 0, 2); // 0..6
    let guard = log.create_verification_guard(9, 0, 0);
    let opts = AppendOptions { verification_guard: Some(guard), ..Default::default() };
    log.append_with(&common::transactional(9, 0, 0, 3, "txn"), &opts).unwrap(); // 6..9
    append_n(&log, 2, 1); // 9..12
    log.append(&common::transactional(9, 0, 3, 2, "txn2")).unwrap(); // 12..14
    assert_eq!(log.first_unstable_offset(), Some(6));
    assert_eq!(log.last_stable_offset(), 6);
    assert_eq!(log.ongoing_transactions().len(), 1);

    // Above the first unstable offset: the transaction stays open.
    log.truncate_to(12).unwrap();
    assert_eq!(log.first_unstable_offset(), Some(6));
    assert_eq!(log.last_stable_offset(), 6);
    assert_eq!(log.producer_state(9).unwrap().last_seq(), 2);

    // Below it: the transaction is gone, and with it the producer's state from that batch.
    log.truncate_to(6).unwrap();
    assert_eq!(log.log_end_offset(), 6);
    assert_eq!(log.first_unstable_offset(), None);
    assert_eq!(log.last_stable_offset(), 6);
    assert_eq!(log.high_watermark(), 6);
    assert!(log.ongoing_transactions().is_empty());
    assert!(log.producer_state(9).is_none());
    let data = log.read(0, 1 << 20, IsolationLevel::ReadCommitted).unwrap();
    assert_eq!(data.records.batches().count(), 2);
    assert_eq!(data.aborted_transactions, Some(vec![]));
}

/// Producer state follows truncation: a retry of a batch that was cut is new again, a retry of
/// one that stayed is still a duplicate.
#[test]
fn truncate_rebuilds_producer_state() {
    let (_tmp, _engine, log) = setup();
    for i in 0..6 {
        log.append(&common::idempotent(7, 0, 2 * i, 2, &format!("p{i}"))).unwrap(); // 2i*..
    }
    assert_eq!(log.producer_state(7).unwrap().last_seq(), 11);
    log.truncate_to(8).unwrap(); // keeps sequences 0..7
    assert_eq!(log.producer_state(7).unwrap().last_seq(), 7);
    let kept = log.append(&common::idempotent(7, 0, 6, 2, "p3")).unwrap();
    assert!(kept.duplicate);
    assert_eq!((kept.first_offset, kept.last_offset), (6, 7));
    let again = log.append(&common::idempotent(7, 0, 8, 2, "p4")).unwrap();
    assert!(!again.duplicate);
    assert_eq!(again.first_offset, 8);
    // Truncation below every batch of the producer.
    log.truncate_to(2).unwrap();
    assert_eq!(log.producer_state(7).unwrap().last_seq(), 1);
}

/// Leader epochs that start at or after the truncation point are forgotten, on disk too.
#[test]
fn truncate_trims_leader_epochs() {
    let (tmp, _engine, log) = setup();
    append_n(&log, 0, 2); // epoch 0: 0..6
    log.set_leader_epoch(3).unwrap();
    append_n(&log, 2, 2); // epoch 3: 6..12
    log.set_leader_epoch(4).unwrap();
    append_n(&log, 4, 1); // epoch 4: 12..15
    let checkpoint = tmp.path().join(format!("{TOPIC}-0/leader-epoch-checkpoint"));
    assert_eq!(std::fs::read_to_string(&checkpoint).unwrap(), "0\n3\n0 0\n3 6\n4 12\n");
    log.truncate_to(9).unwrap();
    assert_eq!(log.leader_epochs(), vec![(0, 0), (3, 6)]);
    assert_eq!(std::fs::read_to_string(&checkpoint).unwrap(), "0\n2\n0 0\n3 6\n");
    assert_eq!(log.end_offset_for_epoch(3), (3, 9));
    log.truncate_to(6).unwrap();
    assert_eq!(log.leader_epochs(), vec![(0, 0)]);
    assert_eq!(log.end_offset_for_epoch(0), (0, 6));
}

#[test]
fn truncate_fully_and_start_at() {
    let (tmp, engine, log) = setup();
    append_n(&log, 0, 40);
    log.append(&common::idempotent(7, 0, 0, 2, "p")).unwrap();
    log.set_leader_epoch(2).unwrap();
    append_n(&log, 40, 1);
    assert!(log.segment_base_offsets().len() > 1);
    log.truncate_fully_and_start_at(1000).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![1000]);
    assert_eq!((log.log_start_offset(), log.log_end_offset(), log.high_watermark()), (1000, 1000, 1000));
    assert!(log.producer_state(7).is_none());
    assert!(log.leader_epochs().is_empty());
    let pdir = tmp.path().join(format!("{TOPIC}-0"));
    let mut files = common::file_names(&pdir);
    files.retain(|f| f != "partition.metadata");
    assert_eq!(
        files,
        [
            "00000000000000001000.index",
            "00000000000000001000.log",
            "00000000000000001000.timeindex",
            "leader-epoch-checkpoint"
        ]
    );
    assert_eq!(std::fs::read_to_string(pdir.join("leader-epoch-checkpoint")).unwrap(), "0\n0\n");
    assert!(log.read(0, 100, IsolationLevel::ReadUncommitted).is_err());
    assert!(log.read(1000, 100, IsolationLevel::ReadUncommitted).unwrap().records.is_empty());
    // The log goes on from there, as leader (epoch 2 stamped) and as follower.
    assert_eq!(log.append(&common::batch("x", 2)).unwrap().first_offset, 1000);
    log.append_as_follower(&common::follower_batch(1002, 3, common::T0, "f", 2)).unwrap();
    assert_eq!(log.leader_epochs(), vec![(2, 1000), (3, 1002)]);
    // Also to the same offset as an existing segment's base, and across a reopen.
    log.truncate_fully_and_start_at(1000).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (1000, 1000));
    log.append(&common::batch("y", 1)).unwrap();
    drop(log);
    engine.close().unwrap();
    drop(engine);
    let engine = common::open(tmp.path());
    let log = engine.partition(TOPIC, 0).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (1000, 1001));
    assert_eq!(common::records(&log, 1000), vec![(1000, b"y-0".to_vec())]);
}

/// A crash after a truncation below the recovery point: the checkpoint on disk still holds the
/// old, higher recovery point, and a torn tail of the appends made after the truncation must
/// be treated as the crash damage it is, not as corruption of flushed data.
#[test]
fn crash_after_truncation_below_the_recovery_point() {
    let (tmp, engine, log) = setup();
    append_n(&log, 0, 20); // 0..60
    engine.flush().unwrap(); // recovery point 60, checkpointed
    log.truncate_to(30).unwrap();
    append_n(&log, 100, 5); // 30..45, not flushed
    let image = tempfile::tempdir().unwrap();
    common::copy_tree(tmp.path(), image.path());
    let expected = common::records(&log, 0);
    drop(log);
    engine.close().unwrap();

    // The last append was torn by the crash.
    let pdir = image.path().join(format!("{TOPIC}-0"));
    let last = *common::file_names(&pdir)
        .iter()
        .filter(|f| f.ends_with(".log"))
        .map(|f| f[..20].parse::<i64>().unwrap())
        .collect::<Vec<_>>()
        .last()
        .unwrap();
    let file = common::log_path(&pdir, last);
    let len = std::fs::metadata(&file).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&file).unwrap().set_len(len - 5).unwrap();

    let engine = Engine::open(image.path(), common::config()).unwrap();
    let log = engine.partition(TOPIC, 0).unwrap();
    assert_eq!(log.log_end_offset(), 42);
    assert_eq!(common::records(&log, 0), expected[..42]);
    assert_eq!(common::user_report(engine.recovery_report()).truncated_to_offset, Some(42));
}

/// The same after `truncate_fully_and_start_at` to an offset below the checkpointed log start
/// and recovery point: the reopened log starts where it was restarted, with its new data.
#[test]
fn crash_after_truncate_fully_to_a_lower_offset() {
    let (tmp, engine, log) = setup();
    append_n(&log, 0, 20); // 0..60
    log.delete_records(30).unwrap();
    engine.flush().unwrap(); // log start 30 and recovery point 60, checkpointed
    log.truncate_fully_and_start_at(10).unwrap();
    append_n(&log, 100, 3); // 10..19, not flushed
    let image = tempfile::tempdir().unwrap();
    common::copy_tree(tmp.path(), image.path());
    let expected = common::records(&log, 10);
    drop(log);
    engine.close().unwrap();
    let file = common::log_path(&image.path().join(format!("{TOPIC}-0")), 10);
    let len = std::fs::metadata(&file).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&file).unwrap().set_len(len - 5).unwrap();

    let engine = Engine::open(image.path(), common::config()).unwrap();
    let log = engine.partition(TOPIC, 0).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (10, 16));
    assert_eq!(common::records(&log, 10), expected[..6]);
}
