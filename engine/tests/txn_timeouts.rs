//! Transaction timeouts, transactional-id expiry, producer-id allocation across restarts,
//! zombie fencing, and the coordinator under concurrent use. Time is a manual clock; the
//! background pass is pushed out of reach so only the tests drive timeouts.

mod txn_common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use eoslog::clock::ManualClock;
use eoslog::io::fault::{CrashMode, FaultBackend};
use eoslog::offsets::OffsetAndMetadata;
use eoslog::txn::{ProducerIdAndEpoch, TransactionState, TransactionVersion};
use eoslog::{Engine, EngineConfig, ErrorCode};
use txn_common::*;

use TransactionState::*;
use TransactionVersion::{Tv0, Tv2};

const ID: &str = "app";
const GROUP: &str = "g";

fn fixture() -> (tempfile::TempDir, Arc<ManualClock>, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let engine = open_dir(dir.path(), &clock);
    engine.create_topic("out", 2, topic_config()).unwrap();
    (dir, clock, engine)
}

fn offsets(o: i64) -> Vec<(String, i32, OffsetAndMetadata)> {
    vec![("in".to_string(), 0, OffsetAndMetadata::new(o))]
}

/// init → add out-0, out-1 and the offsets partition → two records per partition → offsets.
fn open_txn(engine: &Engine, id: &str, tv: TransactionVersion, tag: &str) -> ProducerIdAndEpoch {
    let txn = engine.transactions();
    let p = txn.init_producer_id(Some(id), TIMEOUT_MS, None).unwrap();
    txn.add_partitions_to_txn(id, p.producer_id, p.epoch, &[tp("out", 0), tp("out", 1), offsets_tp()], tv)
        .unwrap();
    for part in 0..2 {
        engine
            .produce("out", part, &txn_batch(p.producer_id, p.epoch, 0, 2, &format!("{tag}{part}")), Some(id))
            .unwrap();
    }
    engine.offsets().txn_commit(p.producer_id, p.epoch, GROUP, &offsets(7)).unwrap();
    p
}

// ------------------------------------------------------------------------------- timeouts

/// shouldAbortExpiredTransactionsInOngoingStateAndBumpEpoch: a transaction open longer than its
/// timeout is aborted with a fenced epoch (not a moment before: start + timeout < now); the
/// zombie's later produce gets INVALID_PRODUCER_EPOCH, its offset commit too, its EndTxn and
/// AddPartitions PRODUCER_FENCED, and nothing of it is ever visible.
#[test]
fn timeout_abort_bumps_the_epoch_and_fences_the_zombie() {
    for tv in [Tv0, Tv2] {
        let (_dir, clock, engine) = fixture();
        let txn = engine.transactions();
        let zombie = open_txn(&engine, ID, tv, "z");
        clock.advance(i64::from(TIMEOUT_MS));
        assert_eq!(txn.abort_timed_out_transactions(), 0, "exactly at the deadline it is not late yet");
        assert_eq!(txn.describe(ID).unwrap().state, Ongoing);
        clock.advance(1);
        assert_eq!(txn.abort_timed_out_transactions(), 1);
        let d = txn.describe(ID).unwrap();
        assert_eq!((d.state, d.producer_id), (CompleteAbort, zombie.producer_id));
        assert!(d.producer_epoch > zombie.epoch, "{tv:?}: the abort fenced the producer");
        assert!(d.partitions.is_empty());
        for (t, p) in [("out", 0), ("out", 1), ("__consumer_offsets", 0)] {
            let m = markers(&engine, t, p);
            assert_eq!(m.len(), 1, "{t}-{p}");
            assert_eq!((m[0].0, m[0].1, m[0].3), (zombie.producer_id, d.producer_epoch, false));
        }
        assert_all_stable(&engine);
        assert_eq!(engine.offsets().committed(GROUP, "in", 0), None);
        assert_eq!(txn.abort_timed_out_transactions(), 0, "aborted once");
        // The zombie wakes up.
        for part in 0..2 {
            let late = txn_batch(zombie.producer_id, zombie.epoch, 2, 1, "late");
            assert_eq!(code(engine.produce("out", part, &late, Some(ID))), ErrorCode::InvalidProducerEpoch);
        }
        assert_eq!(
            code(engine.offsets().txn_commit(zombie.producer_id, zombie.epoch, GROUP, &offsets(8))),
            ErrorCode::InvalidProducerEpoch
        );
        let parts = [tp("out", 0)];
        assert_eq!(
            code(txn.add_partitions_to_txn(ID, zombie.producer_id, zombie.epoch, &parts, tv)),
            ErrorCode::ProducerFenced
        );
        for commit in [true, false] {
            assert_eq!(
                code(txn.end_txn(ID, zombie.producer_id, zombie.epoch, commit, tv)),
                ErrorCode::ProducerFenced
            );
        }
        assert!(
            committed_values(&engine, "out", 0).is_empty() && committed_values(&engine, "out", 1).is_empty()
        );
        assert_eq!(engine.offsets().committed(GROUP, "in", 0), None);
        assert!(!engine.offsets().has_pending(GROUP));
        assert_all_stable(&engine);
        // A new instance carries on above the fenced epoch.
        let next = txn.init_producer_id(Some(ID), TIMEOUT_MS, None).unwrap();
        assert!(next.epoch > d.producer_epoch);
    }
}

/// Only Ongoing transactions time out: idle ids and prepared transactions are left alone, and
/// each transaction's own timeout counts from its first AddPartitions.
#[test]
fn only_ongoing_transactions_past_their_own_timeout_are_aborted() {
    let (_dir, clock, engine) = fixture();
    let txn = engine.transactions();
    let idle = txn.init_producer_id(Some("idle"), 1_000, None).unwrap();
    let done = txn.init_producer_id(Some("done"), 1_000, None).unwrap();
    txn.add_partitions_to_txn("done", done.producer_id, done.epoch, &[tp("out", 0)], Tv0).unwrap();
    txn.end_txn("done", done.producer_id, done.epoch, true, Tv0).unwrap();
    let short = txn.init_producer_id(Some("short"), 1_000, None).unwrap();
    let long = txn.init_producer_id(Some("long"), 5_000, None).unwrap();
    clock.advance(10_000);
    // The transactions start now, not when the ids were initialised.
    assert_eq!(txn.abort_timed_out_transactions(), 0);
    txn.add_partitions_to_txn("short", short.producer_id, short.epoch, &[tp("out", 0)], Tv0).unwrap();
    txn.add_partitions_to_txn("long", long.producer_id, long.epoch, &[tp("out", 1)], Tv0).unwrap();
    clock.advance(1_001);
    assert_eq!(txn.abort_timed_out_transactions(), 1);
    assert_eq!(txn.describe("short").unwrap().state, CompleteAbort);
    assert_eq!(txn.describe("long").unwrap().state, Ongoing);
    // Adding a partition later does not restart the clock.
    txn.add_partitions_to_txn("long", long.producer_id, long.epoch, &[tp("out", 0)], Tv0).unwrap();
    clock.advance(4_000);
    assert_eq!(txn.abort_timed_out_transactions(), 1);
    assert_eq!(txn.describe("long").unwrap().state, CompleteAbort);
    let d = txn.describe("idle").unwrap();
    assert_eq!((d.state, d.producer_epoch), (Empty, idle.epoch));
    assert_eq!(txn.describe("done").unwrap().state, CompleteCommit);
    assert_all_stable(&engine);
}

/// A transaction left open by a previous run times out after the restart, and its data never
/// shows; the LSO of every partition reaches its end.
#[test]
fn open_transaction_times_out_after_restart() {
    let (dir, clock, engine) = fixture();
    let p = open_txn(&engine, ID, Tv2, "left");
    engine.close().unwrap();
    drop(engine);
    let engine = open_dir(dir.path(), &clock);
    assert_eq!(engine.transactions().describe(ID).unwrap().state, Ongoing);
    assert!(engine.offsets().has_pending(GROUP), "the offsets are pending after replay");
    let log = engine.partition("out", 0).unwrap();
    assert!(log.last_stable_offset() < log.log_end_offset());
    clock.advance(i64::from(TIMEOUT_MS) + 1);
    assert_eq!(engine.transactions().abort_timed_out_transactions(), 1);
    assert_all_stable(&engine);
    assert!(committed_values(&engine, "out", 0).is_empty());
    assert!(!engine.offsets().has_pending(GROUP));
    assert_eq!(engine.offsets().committed(GROUP, "in", 0), None);
    let late = txn_batch(p.producer_id, p.epoch, 2, 1, "late");
    assert_eq!(code(engine.produce("out", 0, &late, Some(ID))), ErrorCode::InvalidProducerEpoch);
}

// ------------------------------------------------------------------------ zombie fencing

/// Two instances with one transactional id: the new one's InitProducerId aborts the old one's
/// transaction (CONCURRENT_TRANSACTIONS, then success); afterwards every write of the old one
/// fails and nothing of it becomes visible, while the new one commits normally.
#[test]
fn zombie_instance_is_fenced_everywhere() {
    for tv in [Tv0, Tv2] {
        let (_dir, _clock, engine) = fixture();
        let txn = engine.transactions();
        let old = open_txn(&engine, ID, tv, "old");
        assert_eq!(code(txn.init_producer_id(Some(ID), TIMEOUT_MS, None)), ErrorCode::ConcurrentTransactions);
        let new = txn.init_producer_id(Some(ID), TIMEOUT_MS, None).unwrap();
        assert_eq!(new.producer_id, old.producer_id);
        assert!(new.epoch > old.epoch + 1);
        // The new instance's transaction.
        txn.add_partitions_to_txn(ID, new.producer_id, new.epoch, &[tp("out", 0), offsets_tp()], tv).unwrap();
        engine.produce("out", 0, &txn_batch(new.producer_id, new.epoch, 0, 1, "new"), Some(ID)).unwrap();
        engine.offsets().txn_commit(new.producer_id, new.epoch, GROUP, &offsets(42)).unwrap();
        // The old instance tries everything while the new transaction is open.
        for part in 0..2 {
            let late = txn_batch(old.producer_id, old.epoch, 2, 1, "zombie");
            assert_eq!(code(engine.produce("out", part, &late, Some(ID))), ErrorCode::InvalidProducerEpoch);
        }
        assert_eq!(
            code(engine.offsets().txn_commit(old.producer_id, old.epoch, GROUP, &offsets(13))),
            ErrorCode::InvalidProducerEpoch
        );
        let parts = [tp("out", 1)];
        assert_eq!(
            code(txn.add_partitions_to_txn(ID, old.producer_id, old.epoch, &parts, tv)),
            ErrorCode::ProducerFenced
        );
        assert_eq!(code(txn.end_txn(ID, old.producer_id, old.epoch, true, tv)), ErrorCode::ProducerFenced);
        txn.end_txn(ID, new.producer_id, new.epoch, true, tv).unwrap();
        // A KIP-360 re-initialisation with its old epoch is fenced too. (While a transaction is
        // Ongoing Kafka checks only the producer id there and fences + aborts it, like any
        // InitProducerId from a new instance.)
        assert_eq!(code(txn.init_producer_id(Some(ID), TIMEOUT_MS, Some(old))), ErrorCode::ProducerFenced);
        assert_eq!(committed_values(&engine, "out", 0), ["new-0"]);
        assert!(committed_values(&engine, "out", 1).is_empty());
        assert_eq!(engine.offsets().committed(GROUP, "in", 0).unwrap().offset, 42);
        assert_all_stable(&engine);
    }
}

// ---------------------------------------------------------------------- id expiration

/// Idle ids (Empty / Complete*) expire after transactional.id.expiration.ms of inactivity: a
/// tombstone is written, the id is gone after a restart too, and it behaves as new (a producer
/// id never used before, epoch 0). Ongoing and prepared ids never expire.
#[test]
fn idle_ids_expire_with_a_tombstone_and_come_back_new() {
    let (dir, clock, engine) = fixture();
    let txn = engine.transactions();
    let week = 7 * 24 * 3600 * 1000;
    let a = txn.init_producer_id(Some("a"), TIMEOUT_MS, None).unwrap();
    txn.add_partitions_to_txn("a", a.producer_id, a.epoch, &[tp("out", 0)], Tv0).unwrap();
    engine.produce("out", 0, &txn_batch(a.producer_id, a.epoch, 0, 1, "a"), Some("a")).unwrap();
    txn.end_txn("a", a.producer_id, a.epoch, true, Tv0).unwrap();
    let b = txn.init_producer_id(Some("b"), TIMEOUT_MS, None).unwrap();
    let open = txn.init_producer_id(Some("open"), 15 * 60 * 1000, None).unwrap();
    clock.advance(week - 1);
    // "open" starts a transaction late and stays Ongoing past the expiration of its id.
    txn.add_partitions_to_txn("open", open.producer_id, open.epoch, &[tp("out", 1)], Tv0).unwrap();
    assert_eq!(txn.expire_transactional_ids(), 0, "not idle long enough");
    let log_end = txn_log_end(&engine);
    clock.advance(1);
    assert_eq!(txn.expire_transactional_ids(), 2);
    assert_eq!(txn_log_end(&engine), log_end + 2, "one tombstone each");
    let log = engine.partition("__transaction_state", 0).unwrap();
    let data = log.read(log_end, 1 << 20, eoslog::IsolationLevel::LogEnd).unwrap();
    let mut tombstones = BTreeSet::new();
    for b in data.records.batches() {
        for r in b.unwrap().records().unwrap().iter() {
            let r = r.unwrap();
            assert!(r.value.is_none(), "a tombstone has a null value");
            match eoslog::txn::read_record(r.key.unwrap(), r.value).unwrap() {
                eoslog::txn::TxnLogRecord::Tombstone { transactional_id } => {
                    tombstones.insert(transactional_id)
                }
                other => panic!("{other:?}"),
            };
        }
    }
    assert_eq!(tombstones, ["a".to_string(), "b".to_string()].into());
    assert!(txn.describe("a").is_none() && txn.describe("b").is_none());
    clock.advance(week);
    assert_eq!(txn.expire_transactional_ids(), 0, "an Ongoing id never expires");
    assert_eq!(txn.describe("open").unwrap().state, Ongoing);
    // The tombstones are durable.
    engine.close().unwrap();
    drop(engine);
    let engine = open_dir(dir.path(), &clock);
    let txn = engine.transactions();
    assert!(txn.describe("a").is_none() && txn.describe("b").is_none());
    // The id comes back as new: new producer id, epoch 0; the old producer is unknown.
    let a2 = txn.init_producer_id(Some("a"), TIMEOUT_MS, None).unwrap();
    assert_eq!(a2.epoch, 0);
    assert!(![a.producer_id, b.producer_id, open.producer_id].contains(&a2.producer_id));
    assert_eq!(
        code(txn.end_txn("a", a.producer_id, a.epoch, true, Tv0)),
        ErrorCode::InvalidProducerIdMapping
    );
    assert_eq!(
        code(txn.add_partitions_to_txn("b", b.producer_id, b.epoch, &[tp("out", 0)], Tv0)),
        ErrorCode::InvalidProducerIdMapping
    );
    // The old instance of "a" cannot slip data in under its old producer id either.
    let late = txn_batch(a.producer_id, a.epoch, 1, 1, "late");
    assert_eq!(code(engine.produce("out", 0, &late, Some("a"))), ErrorCode::InvalidProducerIdMapping);
    txn.add_partitions_to_txn("a", a2.producer_id, 0, &[tp("out", 0)], Tv0).unwrap();
    engine.produce("out", 0, &txn_batch(a2.producer_id, 0, 0, 1, "a2"), Some("a")).unwrap();
    txn.end_txn("a", a2.producer_id, 0, true, Tv0).unwrap();
    assert_eq!(committed_values(&engine, "out", 0), ["a-0", "a2-0"]);
    // Abort "open" so that every LSO is at its end.
    clock.advance(15 * 60 * 1000 + 1);
    assert_eq!(txn.abort_timed_out_transactions(), 1);
    assert_all_stable(&engine);
}

/// A shorter transactional.id.expiration.ms is honoured.
#[test]
fn expiration_follows_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let config = EngineConfig { transactional_id_expiration_ms: 60_000, ..config(&clock) };
    let engine = Engine::open(dir.path(), config).unwrap();
    engine.transactions().init_producer_id(Some(ID), TIMEOUT_MS, None).unwrap();
    clock.advance(59_999);
    assert_eq!(engine.transactions().expire_transactional_ids(), 0);
    clock.advance(1);
    assert_eq!(engine.transactions().expire_transactional_ids(), 1);
}

// ----------------------------------------------------------------------- producer ids

/// Producer ids come from durable blocks of 1000 and are never handed out twice, across a block
/// boundary and across restarts — clean or after a power loss.
#[test]
fn producer_ids_are_never_reused_across_restarts() {
    let (dir, clock, engine) = fixture();
    let mut seen = BTreeSet::new();
    let take = |engine: &Engine, seen: &mut BTreeSet<i64>, n: usize| {
        for i in 0..n {
            let p = if i % 100 == 0 {
                let id = format!("t{}", seen.len());
                engine.transactions().init_producer_id(Some(&id), TIMEOUT_MS, None).unwrap()
            } else {
                engine.transactions().init_producer_id(None, TIMEOUT_MS, None).unwrap()
            };
            assert_eq!(p.epoch, 0);
            assert!(seen.insert(p.producer_id), "producer id {} handed out twice", p.producer_id);
        }
    };
    take(&engine, &mut seen, 1_050);
    assert!(*seen.last().unwrap() >= 1_000, "crossed a block boundary");
    engine.close().unwrap();
    drop(engine);
    let engine = open_dir(dir.path(), &clock);
    take(&engine, &mut seen, 20);
    shut(engine);
    // Power loss on the in-memory disk, at several points of a block.
    for (n, mode) in [
        (5, CrashMode::DropUnsynced),
        (899, CrashMode::Torn { seed: 3, sector: 512 }),
        (950, CrashMode::KeepRandomPrefix { seed: 9 }),
    ] {
        let fs = FaultBackend::new();
        let mut seen = BTreeSet::new();
        let engine = open_fault(&fs, &clock).unwrap();
        for _ in 0..n {
            assert!(
                seen.insert(
                    engine.transactions().init_producer_id(None, TIMEOUT_MS, None).unwrap().producer_id
                )
            );
        }
        kill(&fs, engine);
        fs.crash_with(mode);
        let engine = open_fault(&fs, &clock).unwrap();
        for _ in 0..200 {
            let id = engine.transactions().init_producer_id(None, TIMEOUT_MS, None).unwrap().producer_id;
            assert!(seen.insert(id), "after a crash at {n} ({mode:?}): producer id {id} handed out twice");
        }
    }
}

// -------------------------------------------------------------------------- concurrency

/// Eight threads, each with its own transactional id, run transactions at once (alternating
/// commit and abort, both transaction versions): every committed record is visible once,
/// nothing aborted is, and the state replays identically after a restart.
#[test]
fn many_threads_with_independent_transactional_ids() {
    let (dir, clock, engine) = fixture();
    const THREADS: usize = 8;
    const TXNS: usize = 10;
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let engine = engine.clone();
            s.spawn(move || {
                let id = format!("worker-{t}");
                let tv = if t % 2 == 0 { Tv0 } else { Tv2 };
                let txn = engine.transactions();
                let mut p = txn.init_producer_id(Some(&id), TIMEOUT_MS, None).unwrap();
                let mut seq = [0i32; 2];
                for k in 0..TXNS {
                    let part = ((t + k) % 2) as i32;
                    let parts = [tp("out", part), offsets_tp()];
                    txn.add_partitions_to_txn(&id, p.producer_id, p.epoch, &parts, tv).unwrap();
                    let value = format!("{id}-{k}");
                    let batch = txn_batch(p.producer_id, p.epoch, seq[part as usize], 1, &value);
                    engine.produce("out", part, &batch, Some(&id)).unwrap();
                    seq[part as usize] += 1;
                    engine.offsets().txn_commit(p.producer_id, p.epoch, &id, &offsets(k as i64)).unwrap();
                    let next = txn.end_txn(&id, p.producer_id, p.epoch, k % 2 == 0, tv).unwrap();
                    if next != p {
                        seq = [0, 0];
                    }
                    p = next;
                }
            });
        }
    });
    let mut expected: BTreeMap<i32, BTreeSet<String>> = BTreeMap::new();
    for t in 0..THREADS {
        for k in (0..TXNS).step_by(2) {
            expected.entry(((t + k) % 2) as i32).or_default().insert(format!("worker-{t}-{k}-0"));
        }
    }
    let check = |engine: &Engine| {
        assert_all_stable(engine);
        for part in 0..2 {
            let got = committed_values(engine, "out", part);
            let set: BTreeSet<String> = got.iter().cloned().collect();
            assert_eq!(set.len(), got.len(), "a record visible twice");
            assert_eq!(set, expected[&part]);
        }
        for t in 0..THREADS {
            let id = format!("worker-{t}");
            assert_eq!(engine.offsets().committed(&id, "in", 0).unwrap().offset, (TXNS - 2) as i64);
            assert_eq!(engine.transactions().describe(&id).unwrap().state, CompleteAbort);
        }
    };
    check(&engine);
    let before = engine.transactions().list();
    engine.close().unwrap();
    drop(engine);
    let engine = open_dir(dir.path(), &clock);
    check(&engine);
    assert_eq!(engine.transactions().list(), before);
}

/// Two threads race on one transactional id, each acting as an instance that (re)initialises
/// and runs transactions. Every failure is one a fenced or concurrent instance must expect; a
/// transaction is visible exactly when its commit was acknowledged; the coordinator ends in a
/// consistent state that replays identically.
#[test]
fn two_threads_racing_on_one_transactional_id() {
    for tv in [Tv0, Tv2] {
        let (dir, clock, engine) = fixture();
        let results: Vec<(Vec<String>, BTreeMap<ErrorCode, usize>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..2)
                .map(|t| {
                    let engine = engine.clone();
                    s.spawn(move || race_worker(&engine, t, tv))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut committed: BTreeSet<String> = BTreeSet::new();
        let mut errors: BTreeMap<ErrorCode, usize> = BTreeMap::new();
        for (c, e) in results {
            committed.extend(c);
            for (code, n) in e {
                *errors.entry(code).or_default() += n;
            }
        }
        let allowed =
            [ErrorCode::ConcurrentTransactions, ErrorCode::ProducerFenced, ErrorCode::InvalidProducerEpoch];
        for code in errors.keys() {
            assert!(allowed.contains(code), "{tv:?}: unexpected {code:?} in {errors:?}");
        }
        let txn = engine.transactions();
        let d = txn.describe(ID).unwrap();
        assert!(!matches!(d.state, PrepareCommit | PrepareAbort), "{d:?}");
        clock.advance(i64::from(TIMEOUT_MS) + 1);
        txn.abort_timed_out_transactions();
        assert_all_stable(&engine);
        let visible: BTreeSet<String> = (0..2).flat_map(|p| committed_values(&engine, "out", p)).collect();
        assert_eq!(visible, committed, "{tv:?}: visible = acknowledged commits ({errors:?})");
        let before = txn.describe(ID);
        engine.close().unwrap();
        drop(engine);
        let engine = open_dir(dir.path(), &clock);
        assert_eq!(engine.transactions().describe(ID), before, "{tv:?}: replay");
        let p = engine.transactions().init_producer_id(Some(ID), TIMEOUT_MS, None).unwrap();
        assert!(p.epoch > before.unwrap().producer_epoch);
    }
}

/// One racing instance: 30 rounds of init (retrying CONCURRENT_TRANSACTIONS) and up to three
/// transactions; on any error it starts over with a new InitProducerId. Returns the values of
/// the transactions whose commit was acknowledged, and the error codes met.
fn race_worker(
    engine: &Engine,
    t: usize,
    tv: TransactionVersion,
) -> (Vec<String>, BTreeMap<ErrorCode, usize>) {
    let txn = engine.transactions();
    let mut committed = Vec::new();
    let mut errors: BTreeMap<ErrorCode, usize> = BTreeMap::new();
    let mut note = |e: eoslog::Error| *errors.entry(e.code()).or_default() += 1;
    for round in 0..30 {
        let mut p = loop {
            match txn.init_producer_id(Some(ID), TIMEOUT_MS, None) {
                Ok(p) => break p,
                Err(e) => {
                    note(e);
                    // The other instance is completing a transaction: back off (Kafka's client
                    // retries CONCURRENT_TRANSACTIONS after retry.backoff.ms).
                    std::thread::yield_now();
                }
            }
        };
        let mut seq = [0i32; 2];
        for k in 0..3 {
            let part = ((t + k) % 2) as i32;
            let value = format!("{t}-{round}-{k}");
            let r = (|| {
                txn.add_partitions_to_txn(ID, p.producer_id, p.epoch, &[tp("out", part)], tv)?;
                let batch = txn_batch(p.producer_id, p.epoch, seq[part as usize], 1, &value);
                engine.produce("out", part, &batch, Some(ID))?;
                seq[part as usize] += 1;
                txn.end_txn(ID, p.producer_id, p.epoch, k != 1, tv)
            })();
            match r {
                Ok(next) => {
                    if k != 1 {
                        committed.push(format!("{value}-0"));
                    }
                    if next != p {
                        seq = [0, 0];
                    }
                    p = next;
                }
                Err(e) => {
                    note(e);
                    break;
                }
            }
        }
    }
    (committed, errors)
}

/// The coordinator's own aborts — fencing an Ongoing transaction for a new instance, and the
/// timeout — are written with the coordinator's transaction version, not the client's (Kafka:
/// "since this is not from client, use server TV"), so both leave a TV1 client's transaction
/// at the same fenced epoch.
#[test]
fn coordinator_aborts_use_the_coordinator_transaction_version() {
    let mut ends = Vec::new();
    for by_timeout in [false, true] {
        let (_dir, clock, engine) = fixture();
        let txn = engine.transactions();
        let p = open_txn(&engine, ID, Tv0, "x");
        if by_timeout {
            clock.advance(i64::from(TIMEOUT_MS) + 1);
            assert_eq!(txn.abort_timed_out_transactions(), 1);
        } else {
            assert_eq!(
                code(txn.init_producer_id(Some(ID), TIMEOUT_MS, None)),
                ErrorCode::ConcurrentTransactions
            );
        }
        let d = txn.describe(ID).unwrap();
        assert_eq!(d.state, CompleteAbort);
        let m = markers(&engine, "out", 0);
        assert_eq!(m[0].1, d.producer_epoch);
        ends.push(d.producer_epoch - p.epoch);
    }
    assert_eq!(ends[0], ends[1], "fence by InitProducerId vs by timeout: {ends:?}");
}

/// Plain offset commits, transactional ones, and a second instance fencing the transactional
/// producer all at once on one group: what the offset store holds in memory is what its log
/// replays to after a restart (the log order decides), and nothing stays pending once every
/// transaction ended.
#[test]
fn offsets_in_memory_match_the_log_under_concurrent_commits_and_fencing() {
    use std::sync::atomic::{AtomicI64, Ordering};
    let fs = FaultBackend::new();
    let clock = ManualClock::new(T0);
    let engine = open_fault(&fs, &clock).unwrap();
    let next = AtomicI64::new(1);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..500 {
                    let o = next.fetch_add(1, Ordering::SeqCst);
                    engine.offsets().commit(GROUP, &offsets(o)).unwrap();
                }
            });
        }
        // The transactional producer, restarting whenever it is fenced.
        s.spawn(|| {
            let txn = engine.transactions();
            for k in 0..300 {
                let Ok(p) = txn.init_producer_id(Some(ID), TIMEOUT_MS, None) else { continue };
                let r = (|| {
                    txn.add_partitions_to_txn(ID, p.producer_id, p.epoch, &[offsets_tp()], Tv0)?;
                    let o = next.fetch_add(1, Ordering::SeqCst);
                    engine.offsets().txn_commit(p.producer_id, p.epoch, GROUP, &offsets(o))?;
                    txn.end_txn(ID, p.producer_id, p.epoch, k % 3 != 0, Tv0)
                })();
                let _ = r;
            }
        });
        // Another instance of it.
        s.spawn(|| {
            for _ in 0..300 {
                let _ = engine.transactions().init_producer_id(Some(ID), TIMEOUT_MS, None);
                std::thread::yield_now();
            }
        });
    });
    clock.advance(i64::from(TIMEOUT_MS) + 1);
    engine.transactions().abort_timed_out_transactions();
    assert!(!engine.offsets().has_pending(GROUP), "offsets left pending with no transaction open");
    let in_memory = engine.offsets().committed(GROUP, "in", 0);
    engine.close().unwrap();
    drop(engine);
    let engine = open_fault(&fs, &clock).unwrap();
    assert_eq!(engine.offsets().committed(GROUP, "in", 0), in_memory, "memory and log disagree");
    assert!(!engine.offsets().has_pending(GROUP));
}
