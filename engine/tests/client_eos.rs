//! Exactly-once through the in-process clients: idempotent retries, zombie fencing,
//! transactions across partitions, read_committed vs read_uncommitted consumers, and committed
//! offsets that wait for the transaction deciding them.

mod client_support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use client_support::{Rng, open, read_all, values};
use eoslog::client::{
    Consumer, ConsumerConfig, ConsumerGroupMetadata, OffsetAndMetadata, Producer, ProducerConfig,
    ProducerRecord, TransactionState,
};
use eoslog::clock::ManualClock;
use eoslog::txn::TransactionVersion;
use eoslog::{Engine, EngineConfig, ErrorCode, IsolationLevel, TopicPartition};

fn tp(topic: &str, p: i32) -> TopicPartition {
    TopicPartition::new(topic, p)
}

fn txn_producer(engine: &Engine, id: &str, tv: TransactionVersion) -> Producer {
    let config = ProducerConfig::from_pairs(&[
        ("transactional.id", id),
        ("transaction.version", &tv.level().to_string()),
        ("linger.ms", "60000"),
    ])
    .unwrap();
    let p = Producer::new(engine, config).unwrap();
    p.init_transactions().unwrap();
    p
}

fn consumer(engine: &Engine, pairs: &[(&str, &str)]) -> Consumer {
    let mut c = ConsumerConfig::from_pairs(&[("auto.offset.reset", "earliest")]).unwrap();
    c.apply(pairs.iter().copied()).unwrap();
    Consumer::new(engine, c).unwrap()
}

fn assert_stable(engine: &Engine, topic: &str, partitions: i32) {
    for p in 0..partitions {
        let log = engine.partition(topic, p).unwrap();
        assert_eq!(log.last_stable_offset(), log.log_end_offset(), "{topic}-{p}: a transaction is left open");
    }
}

/// Lost acknowledgements make the producer resend batches — the same bytes, after up to four
/// later batches of the partition. The log must answer each resend with the original offsets:
/// every record exactly once, in send order per partition, offsets without gaps.
#[test]
fn idempotent_producer_with_lost_acks_has_no_duplicates_and_no_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    engine.create_topic("t", 3, Default::default()).unwrap();
    let config = ProducerConfig::from_pairs(&[("batch.size", "300"), ("linger.ms", "60000")]).unwrap();
    let producer = Arc::new(Producer::new(&engine, config).unwrap());
    let lost = Arc::new(AtomicU64::new(0));
    let mut rng = Rng::new(7);
    let lost2 = lost.clone();
    producer.set_lost_ack_hook(Some(Box::new(move |_, _| {
        let lose = rng.chance(0.3);
        if lose {
            lost2.fetch_add(1, Ordering::SeqCst);
        }
        lose
    })));

    // Two threads share the producer; each keeps its own order per partition.
    const PER_THREAD: usize = 1500;
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let producer = producer.clone();
            std::thread::spawn(move || {
                let mut handles = Vec::new();
                for i in 0..PER_THREAD {
                    let key = format!("key-{}", i % 17);
                    let r = ProducerRecord::with_key("t", key, format!("t{t}-{i:05}"));
                    handles.push((format!("t{t}-{i:05}"), producer.send(r).unwrap()));
                    if i % 500 == 499 {
                        producer.flush().unwrap();
                    }
                }
                handles
            })
        })
        .collect();
    let handles: Vec<_> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    producer.flush().unwrap();

    let mut acked: BTreeMap<(i32, i64), String> = BTreeMap::new();
    for (value, h) in &handles {
        let md = h.wait().unwrap();
        assert!(
            acked.insert((md.partition, md.offset), value.clone()).is_none(),
            "two records at one offset"
        );
    }
    let injected = lost.load(Ordering::SeqCst);
    assert!(injected > 10, "the hook must have dropped acknowledgements ({injected})");
    assert_eq!(producer.duplicate_acks(), injected, "every resend was recognised as a duplicate");

    let mut total = 0;
    for p in 0..3 {
        let records = read_all(&engine, "t", p, IsolationLevel::ReadUncommitted);
        let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, (0..records.len() as i64).collect::<Vec<_>>(), "t-{p}: no gaps");
        let got = values(&records);
        let unique: BTreeSet<&String> = got.iter().collect();
        assert_eq!(unique.len(), got.len(), "t-{p}: no duplicates");
        for r in &records {
            assert_eq!(acked[&(p, r.offset)], r.value_str().unwrap(), "the handle told the truth");
            assert!(r.producer_id >= 0 && !r.is_transactional);
            assert_eq!(i64::from(r.sequence), r.offset, "one producer: sequence = offset here");
        }
        for t in 0..2 {
            let mine: Vec<&String> = got.iter().filter(|v| v.starts_with(&format!("t{t}-"))).collect();
            assert!(mine.windows(2).all(|w| w[0] < w[1]), "t-{p}: thread {t}'s order kept");
        }
        total += got.len();
    }
    assert_eq!(total, 2 * PER_THREAD);
    producer.close().unwrap();
}

/// Two producers with one transactional id: the second fences the first. Every later
/// operation of the zombie fails (each checked on a separate zombie, so every check is reached)
/// and nothing it wrote becomes visible to read_committed consumers.
#[test]
fn zombies_are_fenced_and_their_data_never_visible() {
    for tv in [TransactionVersion::Tv2, TransactionVersion::Tv0] {
        let dir = tempfile::tempdir().unwrap();
        let engine = open(dir.path());
        engine.create_topic("out", 2, Default::default()).unwrap();
        let group = ConsumerGroupMetadata::new("g");
        let in_offsets = [(tp("in", 0), OffsetAndMetadata::new(5))];

        type Op = fn(
            &Producer,
            &[(TopicPartition, OffsetAndMetadata)],
            &ConsumerGroupMetadata,
        ) -> eoslog::Result<()>;
        let ops: [(&str, Op); 4] = [
            ("send to a partition of the transaction", |z, _, _| {
                z.send_sync(ProducerRecord::new("out", "zombie-late").partition(0)).map(|_| ())
            }),
            ("send to a new partition", |z, _, _| {
                z.send_sync(ProducerRecord::new("out", "zombie-new").partition(1)).map(|_| ())
            }),
            ("send_offsets_to_transaction", |z, o, g| z.send_offsets_to_transaction(o, g)),
            ("commit_transaction", |z, _, _| z.commit_transaction()),
        ];
        for (i, (what, op)) in ops.iter().enumerate() {
            let zombie = txn_producer(&engine, "app", tv);
            zombie.begin_transaction().unwrap();
            zombie.send_sync(ProducerRecord::new("out", format!("zombie-{i}")).partition(0)).unwrap();
            // The new instance aborts the zombie's open transaction and bumps the epoch.
            let fresh = txn_producer(&engine, "app", tv);
            let e = op(&zombie, &in_offsets, &group).unwrap_err();
            assert!(
                matches!(e.code(), ErrorCode::ProducerFenced | ErrorCode::InvalidProducerEpoch),
                "{tv:?} {what}: {e}"
            );
            assert_eq!(zombie.transaction_state(), TransactionState::FatalError, "{tv:?} {what}");
            // Unusable from now on, with the same clear error.
            let again = zombie.begin_transaction().unwrap_err();
            assert_eq!(again.code(), e.code());
            assert!(zombie.send(ProducerRecord::new("out", "x")).is_err());
            assert!(zombie.commit_transaction().is_err());
            assert!(zombie.abort_transaction().is_err());
            drop(zombie);

            fresh.begin_transaction().unwrap();
            fresh.send(ProducerRecord::new("out", format!("fresh-{i}")).partition(i as i32 % 2)).unwrap();
            fresh.send_offsets_to_transaction(&in_offsets, &group).unwrap();
            fresh.commit_transaction().unwrap();
            fresh.close().unwrap();
        }
        assert_stable(&engine, "out", 2);
        let mut visible = Vec::new();
        let mut written = Vec::new();
        for p in 0..2 {
            visible.extend(values(&read_all(&engine, "out", p, IsolationLevel::ReadCommitted)));
            written.extend(values(&read_all(&engine, "out", p, IsolationLevel::ReadUncommitted)));
        }
        visible.sort();
        assert_eq!(visible, ["fresh-0", "fresh-1", "fresh-2", "fresh-3"], "{tv:?}");
        assert!(
            written.iter().filter(|v| v.starts_with("zombie-")).count() >= 4,
            "{tv:?}: zombie data was written"
        );
        assert_eq!(engine.offsets().committed("g", "in", 0).unwrap().offset, 5);
        engine.close().unwrap();
    }
}

/// Commits and aborts across three partitions, interleaved with a plain idempotent producer,
/// for every transaction version: read_committed sees committed and plain records only (and
/// nothing beyond an open transaction), read_uncommitted sees everything but the markers, and
/// both positions end at the log end, past markers and aborted data.
#[test]
fn transactions_commit_and_abort_atomically_across_partitions() {
    for tv in [TransactionVersion::Tv0, TransactionVersion::Tv1, TransactionVersion::Tv2] {
        let dir = tempfile::tempdir().unwrap();
        let engine = open(dir.path());
        engine.create_topic("t", 3, Default::default()).unwrap();
        let txn = txn_producer(&engine, "tx", tv);
        let plain =
            Producer::new(&engine, ProducerConfig::from_pairs(&[("linger.ms", "0")]).unwrap()).unwrap();
        let mut committed = BTreeSet::new();
        let mut aborted = BTreeSet::new();
        for round in 0..6 {
            let commit = round % 3 != 1;
            txn.begin_transaction().unwrap();
            for i in 0..9 {
                let v = format!("r{round}-{i}");
                txn.send(ProducerRecord::new("t", v.clone()).partition(i % 3)).unwrap();
                if commit { &mut committed } else { &mut aborted }.insert(v);
            }
            txn.flush().unwrap();
            // Plain records appended while the transaction is open wait behind it.
            let v = format!("plain-{round}");
            plain.send_sync(ProducerRecord::new("t", v.clone()).partition(round % 3)).unwrap();
            committed.insert(v);
            let log = engine.partition("t", round % 3).unwrap();
            assert!(log.last_stable_offset() < log.log_end_offset(), "the open transaction holds the LSO");
            let before = read_all(&engine, "t", round % 3, IsolationLevel::ReadCommitted);
            assert!(
                values(&before)
                    .iter()
                    .all(|v| !v.starts_with(&format!("r{round}-")) && v != &format!("plain-{round}")),
                "{tv:?}: nothing at or after the open transaction is visible"
            );
            if commit {
                txn.commit_transaction().unwrap();
            } else {
                txn.abort_transaction().unwrap();
            }
        }
        assert_stable(&engine, "t", 3);
        let (mut rc, mut ru) = (BTreeSet::new(), BTreeSet::new());
        for p in 0..3 {
            let records = read_all(&engine, "t", p, IsolationLevel::ReadCommitted);
            for r in &records {
                assert_eq!(r.is_transactional, r.value_str().unwrap().starts_with('r'));
                assert!(r.producer_id >= 0 && r.sequence >= 0);
            }
            let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
            assert!(offsets.windows(2).all(|w| w[0] < w[1]));
            rc.extend(values(&records));
            ru.extend(values(&read_all(&engine, "t", p, IsolationLevel::ReadUncommitted)));
        }
        assert_eq!(rc, committed, "{tv:?}: read_committed");
        assert_eq!(ru, committed.union(&aborted).cloned().collect(), "{tv:?}: read_uncommitted");

        // Positions of both isolation levels end at the log end, past the last marker.
        for level in ["read_committed", "read_uncommitted"] {
            let c = consumer(&engine, &[("isolation.level", level)]);
            let all: Vec<TopicPartition> = (0..3).map(|p| tp("t", p)).collect();
            c.assign(&all).unwrap();
            let mut n = 0;
            loop {
                let got = c.poll(Duration::ZERO).unwrap();
                if got.is_empty() {
                    break;
                }
                n += got.len();
            }
            assert_eq!(
                n,
                if level == "read_committed" { committed.len() } else { committed.len() + aborted.len() }
            );
            for t in &all {
                assert_eq!(
                    c.position(t).unwrap(),
                    engine.partition("t", t.partition).unwrap().log_end_offset()
                );
            }
        }
        engine.close().unwrap();
    }
}

/// TransactionVersion 2 bumps the epoch at every commit or abort and the producer restarts its
/// sequences; versions 0/1 keep the epoch and continue the sequences.
#[test]
fn epochs_and_sequences_per_transaction_version() {
    for tv in [TransactionVersion::Tv0, TransactionVersion::Tv2] {
        let dir = tempfile::tempdir().unwrap();
        let engine = open(dir.path());
        engine.create_topic("t", 1, Default::default()).unwrap();
        let p = txn_producer(&engine, "seq", tv);
        let first = p.producer_id_and_epoch().unwrap();
        for round in 0..3 {
            p.begin_transaction().unwrap();
            for i in 0..4 {
                p.send(ProducerRecord::new("t", format!("{round}-{i}"))).unwrap();
            }
            if round == 1 {
                // Appended, then aborted: the aborted batch keeps its sequences.
                p.flush().unwrap();
                p.abort_transaction().unwrap();
            } else {
                p.commit_transaction().unwrap();
            }
        }
        let last = p.producer_id_and_epoch().unwrap();
        let records = read_all(&engine, "t", 0, IsolationLevel::ReadUncommitted);
        let seqs: Vec<(i16, i32)> = records.iter().map(|r| (r.producer_epoch, r.sequence)).collect();
        if tv.supports_epoch_bump() {
            assert_eq!(last.epoch, first.epoch + 3);
            let e = first.epoch;
            let expected: Vec<(i16, i32)> =
                (0..3).flat_map(|round| (0..4).map(move |s| (e + round, s))).collect();
            assert_eq!(seqs, expected);
        } else {
            assert_eq!(last, first);
            assert_eq!(seqs, (0..12).map(|s| (first.epoch, s)).collect::<Vec<_>>());
        }
    }
}

/// A record the log refuses makes the transaction abortable; the abort works and the producer
/// carries on. A transaction the coordinator aborts on timeout fences the producer.
#[test]
fn failed_records_and_timeouts_inside_transactions() {
    let clock = ManualClock::new(1_700_000_000_000);
    let dir = tempfile::tempdir().unwrap();
    // The background timeout check stays out of the way: the test runs it itself.
    let config = EngineConfig {
        clock: clock.clone(),
        transaction_abort_timed_out_interval_ms: 3_600_000,
        ..EngineConfig::default()
    };
    let engine = Engine::open(dir.path(), config).unwrap();
    engine.create_topic_with("t", 1, &[("max.message.bytes", "300")]).unwrap();
    let p = txn_producer(&engine, "f", TransactionVersion::Tv2);

    p.begin_transaction().unwrap();
    p.send(ProducerRecord::new("t", "ok-but-aborted")).unwrap();
    let big = p.send(ProducerRecord::new("t", vec![b'x'; 400])).unwrap();
    let e = p.commit_transaction().unwrap_err();
    assert_eq!(e.code(), ErrorCode::TransactionAbortable, "{e}");
    assert_eq!(big.wait().unwrap_err().code(), ErrorCode::MessageTooLarge);
    assert_eq!(p.transaction_state(), TransactionState::AbortableError);
    assert_eq!(p.send(ProducerRecord::new("t", "x")).unwrap_err().code(), ErrorCode::TransactionAbortable);
    p.abort_transaction().unwrap();
    p.begin_transaction().unwrap();
    p.send(ProducerRecord::new("t", "good")).unwrap();
    p.commit_transaction().unwrap();
    assert_eq!(values(&read_all(&engine, "t", 0, IsolationLevel::ReadCommitted)), ["good"]);

    // Records of an aborted transaction that were never sent fail their handles.
    p.begin_transaction().unwrap();
    let unsent = p.send(ProducerRecord::new("t", "dropped")).unwrap();
    p.abort_transaction().unwrap();
    assert_eq!(unsent.wait().unwrap_err().code(), ErrorCode::TransactionAbortable);

    // The coordinator times the transaction out and fences the producer.
    p.begin_transaction().unwrap();
    p.send_sync(ProducerRecord::new("t", "too-slow")).unwrap();
    clock.advance(61_000);
    assert_eq!(engine.transactions().abort_timed_out_transactions(), 1);
    let e = p.commit_transaction().unwrap_err();
    assert_eq!(e.code(), ErrorCode::ProducerFenced, "{e}");
    assert_eq!(p.transaction_state(), TransactionState::FatalError);
    assert_stable(&engine, "t", 1);
    assert_eq!(values(&read_all(&engine, "t", 0, IsolationLevel::ReadCommitted)), ["good"]);
}

/// While a transaction holds offsets for a group, a stable fetch is refused (the consumer waits
/// instead of starting from an offset the transaction may still change); the commit publishes
/// them, an abort drops them.
#[test]
fn committed_offsets_wait_for_the_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    engine.create_topic("in", 1, Default::default()).unwrap();
    engine.create_topic("out", 1, Default::default()).unwrap();
    let seed = Producer::new(&engine, ProducerConfig::default()).unwrap();
    for i in 0..10 {
        seed.send(ProducerRecord::new("in", format!("{i}"))).unwrap();
    }
    seed.flush().unwrap();
    let input = tp("in", 0);
    let short = [("group.id", "g"), ("default.api.timeout.ms", "50")];
    let plain = consumer(&engine, &short);
    plain.commit(&[(input.clone(), OffsetAndMetadata::new(2))]).unwrap();

    let p = txn_producer(&engine, "rpw", TransactionVersion::Tv2);
    for (commit, offset) in [(false, 5), (true, 7)] {
        p.begin_transaction().unwrap();
        p.send(ProducerRecord::new("out", "x")).unwrap();
        p.send_offsets_to_transaction(
            &[(input.clone(), OffsetAndMetadata::new(offset))],
            &plain.group_metadata().unwrap(),
        )
        .unwrap();
        let f = engine.offsets().fetch("g", Some(&[("in".into(), 0)]), true).unwrap();
        assert_eq!(f[0].error, ErrorCode::UnstableOffsetCommit);

        // read_committed: committed() and a fresh consumer's position wait, then time out.
        assert_eq!(
            plain.committed(std::slice::from_ref(&input)).unwrap_err().code(),
            ErrorCode::RequestTimedOut
        );
        let fresh = consumer(&engine, &short);
        fresh.assign(std::slice::from_ref(&input)).unwrap();
        assert!(fresh.poll(Duration::from_millis(30)).unwrap().is_empty(), "no position yet");
        assert_eq!(fresh.position(&input).unwrap_err().code(), ErrorCode::RequestTimedOut);
        // read_uncommitted does not require stable offsets: it sees the last committed one.
        let ru = consumer(&engine, &[("group.id", "g"), ("isolation.level", "read_uncommitted")]);
        assert_eq!(ru.committed(std::slice::from_ref(&input)).unwrap()[&input].as_ref().unwrap().offset, 2);

        if commit {
            p.commit_transaction().unwrap();
        } else {
            p.abort_transaction().unwrap();
        }
        let now = plain.committed(std::slice::from_ref(&input)).unwrap()[&input].as_ref().unwrap().offset;
        assert_eq!(now, if commit { 7 } else { 2 });
        assert_eq!(fresh.position(&input).unwrap(), now);
        let first = fresh.poll(Duration::from_secs(60)).unwrap();
        assert_eq!(first[0].offset, now);
    }
}

#[test]
fn consumer_positions_resets_seeks_and_pauses() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    engine.create_topic("t", 2, Default::default()).unwrap();
    let p = Producer::new(&engine, ProducerConfig::from_pairs(&[("linger.ms", "0")]).unwrap()).unwrap();
    for i in 0..10 {
        p.send(ProducerRecord::new("t", format!("{i}")).partition(i % 2)).unwrap();
    }
    let (t0, t1) = (tp("t", 0), tp("t", 1));

    let none = consumer(&engine, &[("auto.offset.reset", "none"), ("group.id", "g")]);
    none.assign(std::slice::from_ref(&t0)).unwrap();
    assert_eq!(none.poll(Duration::ZERO).unwrap_err().code(), ErrorCode::OffsetOutOfRange);
    none.seek(&t0, 3).unwrap();
    assert_eq!(values(&none.poll(Duration::ZERO).unwrap()), ["6", "8"]);
    none.commit_sync().unwrap();
    assert_eq!(none.committed(std::slice::from_ref(&t0)).unwrap()[&t0].as_ref().unwrap().offset, 5);

    let latest = consumer(&engine, &[("auto.offset.reset", "latest"), ("group.id", "other")]);
    latest.assign(&[t0.clone(), t1.clone()]).unwrap();
    assert_eq!(latest.position(&t1).unwrap(), 5);
    assert!(latest.poll(Duration::ZERO).unwrap().is_empty());
    latest.seek_to_beginning(&[]).unwrap();
    latest.pause(std::slice::from_ref(&t1)).unwrap();
    assert_eq!(values(&latest.poll(Duration::ZERO).unwrap()), ["0", "2", "4", "6", "8"]);
    latest.resume(std::slice::from_ref(&t1)).unwrap();
    assert_eq!(values(&latest.poll(Duration::ZERO).unwrap()), ["1", "3", "5", "7", "9"]);
    latest.seek_to_end(std::slice::from_ref(&t0)).unwrap();
    assert_eq!(latest.position(&t0).unwrap(), 5);
    assert!(latest.seek(&tp("t", 9), 0).is_err(), "not assigned");
    assert!(latest.assign(&[tp("nope", 0)]).is_err());

    // The committed group offset wins over auto.offset.reset; max.poll.records caps a poll.
    let small =
        consumer(&engine, &[("auto.offset.reset", "latest"), ("group.id", "g2"), ("max.poll.records", "1")]);
    small.commit(&[(t0.clone(), OffsetAndMetadata::new(1))]).unwrap();
    small.assign(std::slice::from_ref(&t0)).unwrap();
    assert_eq!(values(&small.poll(Duration::ZERO).unwrap()), ["2"]);
    assert_eq!(values(&small.poll(Duration::ZERO).unwrap()), ["4"]);
    assert_eq!(small.position(&t0).unwrap(), 3);
}

/// A blocked poll wakes up when data arrives (no timed polling: the test would hang if the
/// wake-up were lost), and `wakeup` ends a poll from another thread.
#[test]
fn poll_blocks_until_data_arrives_or_wakeup() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    engine.create_topic("t", 2, Default::default()).unwrap();
    let c = Arc::new(consumer(&engine, &[]));
    c.assign(&[tp("t", 0), tp("t", 1)]).unwrap();
    assert!(c.poll(Duration::ZERO).unwrap().is_empty());
    for round in 0..5 {
        let c2 = c.clone();
        let waiting = std::thread::spawn(move || c2.poll(Duration::from_secs(3600)).unwrap());
        let p = Producer::new(&engine, ProducerConfig::from_pairs(&[("linger.ms", "0")]).unwrap()).unwrap();
        p.send(ProducerRecord::new("t", format!("wake-{round}")).partition(round % 2)).unwrap();
        assert_eq!(values(&waiting.join().unwrap()), [format!("wake-{round}")]);
    }
    let c2 = c.clone();
    let waiting = std::thread::spawn(move || c2.poll(Duration::from_secs(3600)).unwrap());
    c.wakeup();
    assert!(waiting.join().unwrap().is_empty());

    // A transaction's data wakes a read_committed poll only when the commit marker lands.
    let p = txn_producer(&engine, "w", TransactionVersion::Tv2);
    p.begin_transaction().unwrap();
    p.send_sync(ProducerRecord::new("t", "in-txn").partition(0)).unwrap();
    assert!(c.poll(Duration::ZERO).unwrap().is_empty(), "not committed yet");
    let c2 = c.clone();
    let waiting = std::thread::spawn(move || c2.poll(Duration::from_secs(3600)).unwrap());
    p.commit_transaction().unwrap();
    assert_eq!(values(&waiting.join().unwrap()), ["in-txn"]);
    c.close().unwrap();
    assert!(c.poll(Duration::ZERO).is_err(), "closed");
}
