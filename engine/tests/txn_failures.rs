//! The coordinator under storage faults and crashes, on the fault-injecting in-memory disk.
//!
//! One short transactional workload — InitProducerId, AddPartitions, produce, TxnOffsetCommit,
//! a committed transaction A, an aborted one B, one C fenced by a new instance, one D aborted by
//! its timeout, then idle expiry and a fresh id — is run
//! - with the N-th I/O operation of each step failing (EIO), for every N: the step fails, the
//!   coordinator's memory keeps the last durable state (pending transition cleared), and after a
//!   restart everything below holds and the id works again;
//! - with the process dying at every I/O operation of the whole workload and a simulated power
//!   loss (three crash modes): after reopening, nothing committed is lost or half visible,
//!   prepared transactions are completed at open, open ones time out, every partition's LSO
//!   reaches its log end, and the transactional offsets are committed exactly when transaction A
//!   is visible.
//!
//! Then the targeted cases: a coordinator dying between PrepareCommit and CompleteCommit, marker
//! write failures, a marker for a deleted topic, and coordinator-epoch fencing of markers.

mod txn_common;

use std::sync::Arc;

use eoslog::clock::{Clock, ManualClock};
use eoslog::io::fault::{CrashMode, Errno, FaultBackend, FaultPlan, OpKind};
use eoslog::offsets::OffsetAndMetadata;
use eoslog::txn::{ProducerIdAndEpoch, TransactionDescription, TransactionState, TransactionVersion};
use eoslog::{Engine, Error, ErrorCode, RecordBatch};
use txn_common::*;

use TransactionState::*;
use TransactionVersion::{Tv0, Tv2};

const ID: &str = "copier";
const GROUP: &str = "g";
const DAY_MS: i64 = 24 * 3600 * 1000;

// ------------------------------------------------------------------------------ workload

#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    Init,
    /// AddPartitions: out-0, out-1 and the offsets partition.
    Add,
    /// Two records `<txn><partition>-0/1` to `out-<partition>`.
    Produce(char, i32),
    /// TxnOffsetCommit of `in-0` at this offset.
    Offsets(i64),
    End(bool),
    /// InitProducerId by a new instance while a transaction is open: CONCURRENT_TRANSACTIONS
    /// after fencing and aborting it.
    Fence,
    /// The clock passes the transaction timeout and the coordinator aborts it.
    Timeout,
    /// The id is idle for 8 days and expires.
    Expire,
}

use Step::*;

const WORKLOAD: &[Step] = &[
    Init,
    Add,
    Produce('a', 0),
    Produce('a', 1),
    Offsets(10),
    End(true),
    Add,
    Produce('b', 0),
    Produce('b', 1),
    Offsets(20),
    End(false),
    Add,
    Produce('c', 0),
    Produce('c', 1),
    Offsets(30),
    Fence,
    Init,
    Add,
    Produce('d', 0),
    Offsets(40),
    Timeout,
    Expire,
    Init,
];

/// What the client side knows: the producer it holds and what was acknowledged.
#[derive(Debug, Clone)]
struct Run {
    tv: TransactionVersion,
    p: ProducerIdAndEpoch,
    seq: [i32; 2],
    /// Every producer id and epoch handed out to a client.
    handed_out: Vec<ProducerIdAndEpoch>,
    committed_a: bool,
    /// The id expired (and was not initialised again since).
    expired: bool,
}

impl Run {
    fn new(tv: TransactionVersion) -> Run {
        Run { tv, p: pe(-1, -1), seq: [0, 0], handed_out: Vec::new(), committed_a: false, expired: false }
    }

    fn set_producer(&mut self, p: ProducerIdAndEpoch) {
        if p != self.p {
            self.seq = [0, 0];
        }
        self.p = p;
        self.handed_out.push(p);
    }
}

fn storage_error(msg: &str) -> Error {
    Error::kafka(ErrorCode::KafkaStorageError, msg)
}

fn all_parts() -> Vec<eoslog::txn::TxnTopicPartition> {
    vec![tp("out", 0), tp("out", 1), offsets_tp()]
}

fn step(engine: &Engine, clock: &ManualClock, run: &mut Run, s: Step) -> eoslog::Result<()> {
    let txn = engine.transactions();
    let p = run.p;
    match s {
        Init => {
            let q = txn.init_producer_id(Some(ID), TIMEOUT_MS, None)?;
            if run.expired {
                assert!(
                    run.handed_out.iter().all(|h| h.producer_id != q.producer_id),
                    "an expired id gets a producer id never used before"
                );
                assert_eq!(q.epoch, 0);
                run.expired = false;
            }
            run.set_producer(q);
        }
        Add => txn.add_partitions_to_txn(ID, p.producer_id, p.epoch, &all_parts(), run.tv)?,
        Produce(t, part) => {
            let seq = run.seq[part as usize];
            let batch = txn_batch(p.producer_id, p.epoch, seq, 2, &format!("{t}{part}"));
            engine.produce("out", part, &batch, Some(ID))?;
            run.seq[part as usize] += 2;
        }
        Offsets(o) => engine.offsets().txn_commit(
            p.producer_id,
            p.epoch,
            GROUP,
            &[("in".into(), 0, OffsetAndMetadata::new(o))],
        )?,
        End(commit) => {
            let next = txn.end_txn(ID, p.producer_id, p.epoch, commit, run.tv)?;
            run.committed_a |= commit;
            run.set_producer(next);
        }
        Fence => match txn.init_producer_id(Some(ID), TIMEOUT_MS, None) {
            Err(e) if e.code() == ErrorCode::ConcurrentTransactions => {}
            Err(e) => return Err(e),
            Ok(q) => panic!("the fencing InitProducerId must abort the open transaction first, got {q:?}"),
        },
        Timeout => {
            clock.advance(i64::from(TIMEOUT_MS) + 1);
            if txn.abort_timed_out_transactions() != 1 {
                return Err(storage_error("the timed-out transaction was not aborted"));
            }
        }
        Expire => {
            clock.advance(8 * DAY_MS);
            if txn.expire_transactional_ids() != 1 {
                return Err(storage_error("the idle id did not expire"));
            }
            run.expired = true;
        }
    }
    Ok(())
}

/// A fresh disk with the engine open and the `out` topic created.
fn setup() -> (FaultBackend, Arc<ManualClock>, Engine) {
    let fs = FaultBackend::new();
    let clock = ManualClock::new(T0);
    let engine = open_fault(&fs, &clock).unwrap();
    engine.create_topic("out", 2, topic_config()).unwrap();
    (fs, clock, engine)
}

/// Runs `steps` until one fails; returns how many succeeded.
fn run_steps(engine: &Engine, clock: &ManualClock, run: &mut Run, steps: &[Step]) -> usize {
    for (i, s) in steps.iter().enumerate() {
        if step(engine, clock, run, *s).is_err() {
            return i;
        }
    }
    steps.len()
}

/// InitProducerId for a new instance, retrying while a previous transaction is being aborted.
fn init_retrying(engine: &Engine) -> ProducerIdAndEpoch {
    for _ in 0..3 {
        match engine.transactions().init_producer_id(Some(ID), TIMEOUT_MS, None) {
            Ok(p) => return p,
            Err(e) if e.code() == ErrorCode::ConcurrentTransactions => continue,
            Err(e) => panic!("InitProducerId after recovery: {e}"),
        }
    }
    panic!("InitProducerId kept answering CONCURRENT_TRANSACTIONS");
}

/// Everything a restarted engine must satisfy after the workload was cut short (`what` names the
/// case for messages). Consumes the engine; returns the reopened one.
fn check_recovered(
    fs: &FaultBackend,
    clock: &Arc<ManualClock>,
    engine: Engine,
    run: &Run,
    what: &str,
) -> Engine {
    let txn = engine.transactions().clone();
    // Prepared transactions were completed while opening.
    let d = txn.describe(ID);
    if let Some(d) = &d {
        assert!(!matches!(d.state, PrepareCommit | PrepareAbort), "{what}: still prepared after open: {d:?}");
    }
    if run.expired {
        assert!(d.is_none(), "{what}: the acknowledged expiry was lost");
    }
    // Open transactions time out.
    clock.advance(i64::from(TIMEOUT_MS) + 1);
    txn.abort_timed_out_transactions();
    if let Some(d) = txn.describe(ID) {
        assert!(matches!(d.state, Empty | CompleteCommit | CompleteAbort), "{what}: {d:?}");
    }
    assert_all_stable(&engine);
    // Transaction A is visible entirely or not at all, and surely if its commit was acknowledged;
    // B, C and D never are.
    let v0 = committed_values(&engine, "out", 0);
    let v1 = committed_values(&engine, "out", 1);
    let a_visible = !v0.is_empty();
    assert!(v0.is_empty() || v0 == ["a0-0", "a0-1"], "{what}: out-0 shows {v0:?}");
    assert!(v1.is_empty() || v1 == ["a1-0", "a1-1"], "{what}: out-1 shows {v1:?}");
    assert_eq!(v0.is_empty(), v1.is_empty(), "{what}: transaction A is half visible: {v0:?} / {v1:?}");
    if run.committed_a {
        assert!(a_visible, "{what}: the acknowledged commit of A was lost");
    }
    // Its offsets are committed exactly when it is.
    let offsets = engine.offsets();
    assert_eq!(
        offsets.committed(GROUP, "in", 0).map(|o| o.offset),
        a_visible.then_some(10),
        "{what}: transactional offsets"
    );
    let fetched = offsets.fetch(GROUP, Some(&[("in".to_string(), 0)]), true).unwrap();
    assert_eq!(fetched[0].error, ErrorCode::None, "{what}: offsets still pending");
    // A new instance fences every epoch handed out before, and its transaction works.
    let p = init_retrying(&engine);
    for h in &run.handed_out {
        if h.producer_id == p.producer_id {
            assert!(p.epoch > h.epoch, "{what}: epoch {} handed out again after {h:?}", p.epoch);
        }
    }
    let tv = run.tv;
    txn.add_partitions_to_txn(ID, p.producer_id, p.epoch, &[tp("out", 0), offsets_tp()], tv).unwrap();
    engine.produce("out", 0, &txn_batch(p.producer_id, p.epoch, 0, 1, "z"), Some(ID)).unwrap();
    offsets
        .txn_commit(p.producer_id, p.epoch, GROUP, &[("in".into(), 0, OffsetAndMetadata::new(99))])
        .unwrap();
    txn.end_txn(ID, p.producer_id, p.epoch, true, tv).unwrap();
    let v0 = committed_values(&engine, "out", 0);
    assert_eq!(v0.last().map(String::as_str), Some("z-0"), "{what}");
    assert_eq!(offsets.committed(GROUP, "in", 0).unwrap().offset, 99);
    assert_all_stable(&engine);
    // The log replays to the state in memory.
    let before = (txn.describe(ID), v0, committed_values(&engine, "out", 1));
    drop(txn);
    engine.close().unwrap();
    drop(engine);
    let engine = open_fault(fs, clock).unwrap();
    let after = (
        engine.transactions().describe(ID),
        committed_values(&engine, "out", 0),
        committed_values(&engine, "out", 1),
    );
    assert_eq!(before, after, "{what}: replay after a clean restart");
    assert_eq!(engine.offsets().committed(GROUP, "in", 0).unwrap().offset, 99);
    engine
}

// -------------------------------------------------------------- failing each I/O operation

/// What the coordinator may show after `s` failed: its state before the step, or a durable
/// later one (an EndTxn whose decision was written, a fence that was bumped in memory).
fn allowed_after_failure(
    s: Step,
    before: &Option<TransactionDescription>,
    after: &Option<TransactionDescription>,
) -> bool {
    if before == after {
        return true;
    }
    let (Some(b), Some(a)) = (before, after) else {
        // A new id: the metadata exists (epoch -1) before its first record is written (Kafka's
        // putTransactionStateIfNotExists).
        return before.is_none()
            && after.as_ref().is_some_and(|a| a.state == Empty && a.producer_epoch == -1);
    };
    // The same transaction; a prepared one drops each partition whose marker was written.
    let same_txn = a.producer_id == b.producer_id && a.partitions.iter().all(|p| b.partitions.contains(p));
    match s {
        End(commit) => same_txn && a.state == if commit { PrepareCommit } else { PrepareAbort },
        Fence | Timeout => {
            same_txn
                && ((a.state == Ongoing && a.producer_epoch == b.producer_epoch + 1)
                    || a.state == PrepareAbort)
        }
        _ => false,
    }
}

#[test]
fn every_failed_io_of_every_step_keeps_memory_durable_and_recovers() {
    let mut points = 0;
    for tv in [Tv0, Tv2] {
        for (k, &s) in WORKLOAD.iter().enumerate() {
            // Count the operations of step k.
            let (fs, clock, engine) = setup();
            let mut run = Run::new(tv);
            assert_eq!(run_steps(&engine, &clock, &mut run, &WORKLOAD[..k]), k);
            let ops_before = fs.op_count();
            step(&engine, &clock, &mut run, s).unwrap();
            let ops = fs.op_count() - ops_before;
            shut(engine);
            for n in 1..=ops {
                let what = format!("{tv:?} step {k} {s:?}, I/O {n}/{ops} fails");
                let (fs, clock, engine) = setup();
                let mut run = Run::new(tv);
                run_steps(&engine, &clock, &mut run, &WORKLOAD[..k]);
                let before = engine.transactions().describe(ID);
                fs.set_plan(FaultPlan::new().fail(OpKind::Any, n, Errno::Eio));
                let result = step(&engine, &clock, &mut run, s);
                fs.set_plan(FaultPlan::new());
                points += 1;
                if result.is_err() {
                    let after = engine.transactions().describe(ID);
                    assert!(
                        allowed_after_failure(s, &before, &after),
                        "{what}: memory moved on after a failed write:\n before {before:?}\n after  {after:?}"
                    );
                    // The pending transition was cleared: the next request is not told to wait
                    // (unless the transaction is legitimately prepared).
                    if let Some(a) = &after
                        && !matches!(a.state, PrepareCommit | PrepareAbort)
                    {
                        let r = engine.transactions().add_partitions_to_txn(
                            ID,
                            a.producer_id,
                            a.producer_epoch.max(0),
                            &all_parts(),
                            tv,
                        );
                        assert_ne!(
                            code(r),
                            ErrorCode::ConcurrentTransactions,
                            "{what}: a transition is still pending"
                        );
                    }
                }
                // Restart: after a clean close, a kill -9 (the page cache survives) or a power
                // loss, in turn.
                match n % 3 {
                    0 => shut(engine),
                    1 => {
                        kill(&fs, engine);
                        fs.persist_all();
                        fs.crash();
                    }
                    _ => {
                        kill(&fs, engine);
                        fs.crash();
                    }
                }
                let engine = open_fault(&fs, &clock).unwrap_or_else(|e| panic!("{what}: reopen: {e}"));
                check_recovered(&fs, &clock, engine, &run, &what);
            }
        }
    }
    eprintln!("failed-I/O points: {points}");
    assert!(points > 100, "{points}");
}

// --------------------------------------------------------------------- crash at every I/O

#[test]
fn crash_at_every_io_of_the_workload() {
    let mut points = 0;
    for tv in [Tv0, Tv2] {
        let (fs, clock, engine) = setup();
        let mut run = Run::new(tv);
        let ops_before = fs.op_count();
        assert_eq!(run_steps(&engine, &clock, &mut run, WORKLOAD), WORKLOAD.len());
        let ops = fs.op_count() - ops_before;
        shut(engine);
        for n in 1..=ops {
            let modes: &[CrashMode] = if tv == Tv0 {
                &[
                    CrashMode::DropUnsynced,
                    CrashMode::KeepRandomPrefix { seed: n },
                    CrashMode::Torn { seed: n, sector: 512 },
                ]
            } else {
                &[CrashMode::DropUnsynced, CrashMode::Torn { seed: n, sector: 512 }]
            };
            for &mode in modes {
                let what = format!("{tv:?} die at I/O {n}/{ops}, {mode:?}");
                let (fs, clock, engine) = setup();
                let mut run = Run::new(tv);
                fs.set_plan(FaultPlan::new().die_at(n));
                let done = run_steps(&engine, &clock, &mut run, WORKLOAD);
                assert!(done < WORKLOAD.len(), "{what}: the workload survived its death");
                shut(engine);
                fs.crash_with(mode);
                let engine = open_fault(&fs, &clock).unwrap_or_else(|e| panic!("{what}: reopen: {e}"));
                check_recovered(&fs, &clock, engine, &run, &format!("{what} (after step {done})"));
                points += 1;
            }
        }
    }
    eprintln!("crash points: {points}");
}

// ------------------------------------------------------- coordinator dies between the phases

/// The states `__transaction_state` holds for `id`, each with the coordinator epoch (the batch's
/// leader epoch) that wrote it.
fn txn_log_history(engine: &Engine, id: &str) -> Vec<(TransactionState, i32)> {
    let log = engine.partition("__transaction_state", 0).unwrap();
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let data = log.read(offset, 1 << 20, eoslog::IsolationLevel::LogEnd).unwrap();
        if data.records.is_empty() {
            break;
        }
        for b in data.records.batches() {
            let b: RecordBatch<'_> = b.unwrap();
            offset = b.next_offset();
            for r in b.records().unwrap().iter() {
                let r = r.unwrap();
                if let Ok(eoslog::txn::TxnLogRecord::Transaction { transactional_id, value }) =
                    eoslog::txn::read_record(r.key.unwrap(), r.value)
                    && transactional_id == id
                {
                    out.push((value.to_transit().txn_state, b.partition_leader_epoch()));
                }
            }
        }
    }
    out
}

/// The coordinator dies at every I/O operation of EndTxn (two data partitions and the offsets
/// partition). Whenever the Prepare record was durable, the restarted coordinator completes the
/// transaction at open — re-sending the markers that were lost, harmlessly repeating those that
/// were not — and the outcome is the decided one; otherwise the transaction times out.
#[test]
fn coordinator_dies_between_prepare_and_complete() {
    let mut prepared_cases = 0;
    let mut right_after_prepare = false;
    for tv in [Tv0, Tv2] {
        for commit in [true, false] {
            let prefix = &WORKLOAD[..5];
            let (fs, clock, engine) = setup();
            let mut run = Run::new(tv);
            run_steps(&engine, &clock, &mut run, prefix);
            let before = fs.op_count();
            step(&engine, &clock, &mut run, End(commit)).unwrap();
            let ops = fs.op_count() - before;
            shut(engine);
            for n in 1..=ops {
                let what = format!("{tv:?} commit={commit} die at EndTxn I/O {n}/{ops}");
                let (fs, clock, engine) = setup();
                let mut run = Run::new(tv);
                run_steps(&engine, &clock, &mut run, prefix);
                let old_epoch = engine.transactions().coordinator_epoch();
                let pid = run.p.producer_id;
                fs.set_plan(FaultPlan::new().die_at(n));
                assert!(step(&engine, &clock, &mut run, End(commit)).is_err(), "{what}");
                shut(engine);
                fs.crash();
                let engine = open_fault(&fs, &clock).unwrap();
                let new_epoch = engine.transactions().coordinator_epoch();
                assert!(new_epoch > old_epoch, "{what}: coordinator epoch {old_epoch} -> {new_epoch}");
                let history = txn_log_history(&engine, ID);
                let prepare = if commit { PrepareCommit } else { PrepareAbort };
                let decided = history.contains(&(prepare, old_epoch));
                let d = engine.transactions().describe(ID).unwrap();
                if decided {
                    prepared_cases += 1;
                    let complete = if commit { CompleteCommit } else { CompleteAbort };
                    assert_eq!(d.state, complete, "{what}: completed at open");
                    assert_eq!(history.last(), Some(&(complete, new_epoch)), "{what}");
                    // Every partition of the transaction has a marker from the new coordinator.
                    let mut old_markers = 0;
                    for (t, p) in [("out", 0), ("out", 1), ("__consumer_offsets", 0)] {
                        let m: Vec<_> = markers(&engine, t, p).into_iter().filter(|m| m.0 == pid).collect();
                        assert!(m.iter().all(|m| m.3 == commit), "{what}: {t}-{p} {m:?}");
                        assert!(
                            m.iter().any(|m| m.2 == new_epoch),
                            "{what}: {t}-{p} has no re-sent marker: {m:?}"
                        );
                        old_markers += m.iter().filter(|m| m.2 == old_epoch).count();
                    }
                    if old_markers == 0 {
                        right_after_prepare = true;
                    }
                    let visible =
                        committed_values(&engine, "out", 0).len() + committed_values(&engine, "out", 1).len();
                    assert_eq!(visible, if commit { 4 } else { 0 }, "{what}");
                    assert_eq!(engine.offsets().committed(GROUP, "in", 0).is_some(), commit, "{what}");
                    assert_all_stable(&engine);
                } else {
                    assert_eq!(d.state, Ongoing, "{what}");
                }
                // The rest of the recovery contract; A counts as acknowledged when decided.
                run.committed_a = decided && commit;
                check_recovered(&fs, &clock, engine, &run, &what);
            }
        }
    }
    assert!(right_after_prepare, "no case died right after the Prepare record was durable");
    assert!(prepared_cases >= 8, "{prepared_cases}");
}

// ----------------------------------------------------------------------- marker failures

/// A marker write fails on the second data partition: the transaction stays prepared (the first
/// partition has its marker, the coordinator wrote no completion), nothing is half complete,
/// `complete_prepared` cannot finish while the partition is offline, and the restarted engine
/// completes it — writing the missing marker and repeating the other one harmlessly.
#[test]
fn marker_failure_leaves_the_transaction_prepared_until_completed() {
    for tv in [Tv0, Tv2] {
        for commit in [true, false] {
            // Find the write of the out-1 marker: the first failing write that takes out-1
            // offline and nothing else.
            let (fs, clock, engine, mut run, e) = (1..20)
                .find_map(|n| {
                    let (fs, clock, engine) = setup();
                    let mut run = Run::new(tv);
                    run_steps(&engine, &clock, &mut run, &WORKLOAD[..5]);
                    let p = run.p;
                    fs.set_plan(FaultPlan::new().fail(OpKind::Write, n, Errno::Eio));
                    let r = engine.transactions().end_txn(ID, p.producer_id, p.epoch, commit, tv);
                    fs.set_plan(FaultPlan::new());
                    let offline: Vec<String> = engine
                        .all_partitions()
                        .iter()
                        .filter(|l| l.failure().is_some())
                        .map(|l| l.topic_partition().to_string())
                        .collect();
                    (offline == ["out-1"]).then(|| (fs, clock, engine, run, r.unwrap_err()))
                })
                .expect("no write of EndTxn is the out-1 marker");
            let p = run.p;
            let before_log = txn_log_end(&engine) - 1;
            assert_eq!(e.code(), ErrorCode::KafkaStorageError, "{e}");
            let d = engine.transactions().describe(ID).unwrap();
            assert_eq!(d.state, if commit { PrepareCommit } else { PrepareAbort });
            assert_eq!(d.partitions, [tp("out", 1)], "only out-1 is still to be completed");
            assert_eq!(txn_log_end(&engine), before_log + 1, "only the Prepare record");
            assert_eq!(markers(&engine, "out", 0).len(), 1);
            // out-1 is offline: retrying cannot finish, changes nothing, and does not repeat the
            // markers that were written.
            for _ in 0..3 {
                assert_eq!(engine.transactions().complete_prepared(), 0);
            }
            assert_eq!(engine.transactions().describe(ID).unwrap(), d);
            assert_eq!(markers(&engine, "out", 0).len(), 1);
            assert_eq!(markers(&engine, "__consumer_offsets", 0).len(), 1);
            // The client's retry is told to wait (TV1: same epoch; TV2: the epoch before the bump).
            assert_eq!(
                code(engine.transactions().end_txn(ID, p.producer_id, p.epoch, commit, tv)),
                ErrorCode::ConcurrentTransactions
            );
            shut(engine);
            let engine = open_fault(&fs, &clock).unwrap();
            let d = engine.transactions().describe(ID).unwrap();
            assert_eq!(d.state, if commit { CompleteCommit } else { CompleteAbort });
            assert_all_stable(&engine);
            let visible =
                committed_values(&engine, "out", 0).len() + committed_values(&engine, "out", 1).len();
            assert_eq!(visible, if commit { 4 } else { 0 });
            assert_eq!(engine.offsets().committed(GROUP, "in", 0).is_some(), commit);
            // The restarted coordinator only has the Prepare record: it re-sends every marker,
            // harmlessly.
            assert_eq!(markers(&engine, "out", 0).len(), 2, "the repeated marker is harmless");
            assert_eq!(markers(&engine, "out", 1).len(), 1);
            // The client's retry now gets NONE with the epoch to continue with.
            let next = engine.transactions().end_txn(ID, p.producer_id, p.epoch, commit, tv).unwrap();
            assert_eq!(next.epoch, if tv == Tv2 { p.epoch + 1 } else { p.epoch });
            run.committed_a = commit;
            let _ = check_recovered(&fs, &clock, engine, &Run { p: next, ..run.clone() }, "marker failure");
        }
    }
}

/// Kafka skips markers for partitions that no longer exist: a transaction over a deleted topic
/// completes, and its other partitions get their markers.
#[test]
fn marker_for_a_deleted_topic_is_skipped() {
    for tv in [Tv0, Tv2] {
        let (_fs, _clock, engine) = setup();
        engine.create_topic("gone", 1, topic_config()).unwrap();
        let txn = engine.transactions();
        let p = txn.init_producer_id(Some(ID), TIMEOUT_MS, None).unwrap();
        txn.add_partitions_to_txn(ID, p.producer_id, p.epoch, &[tp("out", 0), tp("gone", 0)], tv).unwrap();
        engine.produce("out", 0, &txn_batch(p.producer_id, p.epoch, 0, 2, "x"), Some(ID)).unwrap();
        engine.produce("gone", 0, &txn_batch(p.producer_id, p.epoch, 0, 2, "y"), Some(ID)).unwrap();
        engine.delete_topic("gone").unwrap();
        txn.end_txn(ID, p.producer_id, p.epoch, true, tv).unwrap();
        assert_eq!(txn.describe(ID).unwrap().state, CompleteCommit);
        assert_eq!(committed_values(&engine, "out", 0), ["x-0", "x-1"]);
        assert_all_stable(&engine);
    }
}

/// Markers carry the coordinator epoch, which grows across restarts; a partition refuses a
/// marker from an older coordinator (TRANSACTION_COORDINATOR_FENCED) and is left unchanged.
#[test]
fn coordinator_epoch_grows_across_restarts_and_fences_old_markers() {
    let (fs, clock, engine) = setup();
    let mut epochs = Vec::new();
    let mut engine = engine;
    let mut pid = -1;
    for round in 0..3 {
        let txn = engine.transactions();
        let p = init_retrying(&engine);
        pid = p.producer_id;
        txn.add_partitions_to_txn(ID, p.producer_id, p.epoch, &[tp("out", 0)], Tv0).unwrap();
        engine
            .produce("out", 0, &txn_batch(p.producer_id, p.epoch, 0, 1, &format!("r{round}")), Some(ID))
            .unwrap();
        txn.end_txn(ID, p.producer_id, p.epoch, true, Tv0).unwrap();
        let m = markers(&engine, "out", 0);
        assert_eq!(m.last().unwrap().2, txn.coordinator_epoch());
        epochs.push(txn.coordinator_epoch());
        engine.close().unwrap();
        drop(engine);
        engine = open_fault(&fs, &clock).unwrap();
    }
    assert!(epochs.windows(2).all(|w| w[0] < w[1]), "{epochs:?}");
    let log = engine.partition("out", 0).unwrap();
    let end = log.log_end_offset();
    let state = log.producer_state(pid).unwrap();
    let e = log.append_marker(pid, state.producer_epoch(), epochs[1], false, 0).unwrap_err();
    assert_eq!(e.code(), ErrorCode::TransactionCoordinatorFenced, "{e}");
    assert_eq!(log.log_end_offset(), end);
    assert!(log.failure().is_none(), "a fenced marker does not take the partition offline");
    // The current coordinator's epoch is accepted.
    log.append_marker(pid, state.producer_epoch(), engine.transactions().coordinator_epoch(), false, 0)
        .unwrap();
    assert_eq!(committed_values(&engine, "out", 0), ["r0-0", "r1-0", "r2-0"]);
}

// ----------------------------------------------------- Kafka's failed-append coordinator tests

/// shouldNotRepeatedlyBumpEpochDueToInitPidDuringOngoingTxnIfAppendToLogFails and
/// shouldNotBumpEpochWhenAbortingExpiredTransactionIfAppendToLogFails: the write of the abort
/// that carries an epoch fence fails; the epoch is fenced once in memory and further attempts
/// do not bump it again. After a restart the durable state (Ongoing, old epoch) is fenced once
/// and the new instance gets old + 2 — whichever of InitProducerId or the timeout fenced first.
#[test]
fn failed_epoch_fence_is_not_bumped_twice() {
    for by_timeout in [false, true] {
        let (fs, clock, engine) = setup();
        let mut run = Run::new(Tv0);
        run_steps(&engine, &clock, &mut run, &WORKLOAD[..4]);
        let p = run.p;
        let txn = engine.transactions();
        fs.set_plan(FaultPlan::new().fail(OpKind::Write, 1, Errno::Eio));
        if by_timeout {
            clock.advance(i64::from(TIMEOUT_MS) + 1);
            assert_eq!(txn.abort_timed_out_transactions(), 0);
        } else {
            assert_eq!(code(txn.init_producer_id(Some(ID), TIMEOUT_MS, None)), ErrorCode::KafkaStorageError);
        }
        let d = txn.describe(ID).unwrap();
        assert_eq!((d.state, d.producer_epoch), (Ongoing, p.epoch + 1), "fenced in memory");
        // More attempts (the log is offline now) never bump again.
        for _ in 0..3 {
            assert_eq!(code(txn.init_producer_id(Some(ID), TIMEOUT_MS, None)), ErrorCode::KafkaStorageError);
            clock.advance(i64::from(TIMEOUT_MS) + 1);
            txn.abort_timed_out_transactions();
        }
        assert_eq!(txn.describe(ID).unwrap().producer_epoch, p.epoch + 1);
        // The zombie is fenced in memory already.
        assert_eq!(code(txn.end_txn(ID, p.producer_id, p.epoch, true, Tv0)), ErrorCode::ProducerFenced);
        kill(&fs, engine);
        fs.crash();
        let engine = open_fault(&fs, &clock).unwrap();
        assert_eq!(engine.transactions().describe(ID).unwrap().producer_epoch, p.epoch);
        assert!(init_retrying(&engine).epoch > p.epoch + 1);
        assert_all_stable(&engine);
    }
}

/// The tombstone of an expiring id cannot be written: the id stays (no pending Dead left
/// behind), and expires on a later pass.
#[test]
fn failed_tombstone_keeps_the_id() {
    let (fs, clock, engine) = setup();
    let p = engine.transactions().init_producer_id(Some(ID), TIMEOUT_MS, None).unwrap();
    clock.advance(8 * DAY_MS);
    fs.set_plan(FaultPlan::new().fail(OpKind::Sync, 1, Errno::Eio));
    assert_eq!(engine.transactions().expire_transactional_ids(), 0);
    fs.set_plan(FaultPlan::new());
    let d = engine.transactions().describe(ID).unwrap();
    assert_eq!((d.state, d.producer_id, d.producer_epoch), (Empty, p.producer_id, p.epoch));
    assert_eq!(
        code(engine.transactions().init_producer_id(Some(ID), TIMEOUT_MS, None)),
        ErrorCode::KafkaStorageError
    );
    kill(&fs, engine);
    fs.crash();
    let engine = open_fault(&fs, &clock).unwrap();
    assert!(engine.transactions().describe(ID).is_some(), "the tombstone never became durable");
    assert_eq!(engine.transactions().expire_transactional_ids(), 1);
    assert!(engine.transactions().describe(ID).is_none());
    let _ = clock.now_ms();
}

// ------------------------------------------------- a failed __transaction_state write, retried

/// The request the client repeats after a failure.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Request {
    /// InitProducerId of a second instance (an epoch bump).
    Reinit,
    Add,
    /// EndTxn(commit); the n-th `__transaction_state` write of it fails (1: PrepareCommit,
    /// 2: CompleteCommit).
    Commit(u8),
}

fn send(
    engine: &Engine,
    p: ProducerIdAndEpoch,
    tv: TransactionVersion,
    r: Request,
) -> eoslog::Result<ProducerIdAndEpoch> {
    let txn = engine.transactions();
    match r {
        Request::Reinit => txn.init_producer_id(Some(ID), TIMEOUT_MS, None),
        Request::Add => txn.add_partitions_to_txn(ID, p.producer_id, p.epoch, &all_parts(), tv).map(|()| p),
        Request::Commit(_) => txn.end_txn(ID, p.producer_id, p.epoch, true, tv),
    }
}

/// The write (or the sync) of the record a request needs fails: the request fails with
/// KAFKA_STORAGE_ERROR, the coordinator's memory is unchanged and nothing is left pending (the
/// immediate retry is refused by the offline log, not told CONCURRENT_TRANSACTIONS), and after a
/// restart — clean, or after a power loss — the very same request succeeds.
#[test]
fn failed_transaction_log_write_then_retry_after_restart() {
    let mut cases = 0;
    for tv in [Tv0, Tv2] {
        for r in [Request::Reinit, Request::Add, Request::Commit(1), Request::Commit(2)] {
            // Reinit and Add run on an Empty id; Commit on an open transaction A.
            let prefix =
                if r == Request::Reinit || r == Request::Add { &WORKLOAD[..1] } else { &WORKLOAD[..5] };
            for kind in [OpKind::Write, OpKind::Sync] {
                if r == Request::Commit(2) && kind == OpKind::Sync {
                    // The completion record is written without waiting for an fsync: its markers
                    // are durable before it is written, and losing it only repeats them.
                    continue;
                }
                for power_loss in [false, true] {
                    let what = format!("{tv:?} {r:?} {kind:?} fails, power loss {power_loss}");
                    // Find the operation of that kind which is the wanted __transaction_state write.
                    let wanted = if let Request::Commit(k) = r { k } else { 1 };
                    let found = (1..30).find_map(|n| {
                        let (fs, clock, engine) = setup();
                        let mut run = Run::new(tv);
                        run_steps(&engine, &clock, &mut run, prefix);
                        let before = engine.transactions().describe(ID);
                        fs.set_plan(FaultPlan::new().fail(kind, n, Errno::Eio));
                        let result = send(&engine, run.p, tv, r);
                        fs.set_plan(FaultPlan::new());
                        let offline: Vec<String> = engine
                            .all_partitions()
                            .iter()
                            .filter(|l| l.failure().is_some())
                            .map(|l| l.topic_partition().to_string())
                            .collect();
                        // The first write leaves the state as it was, the second one prepared.
                        let state = engine.transactions().describe(ID).map(|d| d.state);
                        let expected_state =
                            if wanted == 2 { Some(PrepareCommit) } else { before.as_ref().map(|d| d.state) };
                        let hit = offline == ["__transaction_state-0"] && state == expected_state;
                        hit.then_some((fs, clock, engine, run, before, result))
                    });
                    let (fs, clock, engine, run, before, result) =
                        found.unwrap_or_else(|| panic!("{what}: no such operation"));
                    cases += 1;
                    assert_eq!(code(result), ErrorCode::KafkaStorageError, "{what}");
                    let after = engine.transactions().describe(ID);
                    let retry = send(&engine, run.p, tv, r);
                    if r == Request::Commit(2) {
                        // The decision is durable: the transaction stays prepared.
                        assert_eq!(after.as_ref().unwrap().state, PrepareCommit, "{what}");
                        assert_eq!(code(retry), ErrorCode::ConcurrentTransactions, "{what}");
                    } else {
                        assert_eq!(after, before, "{what}: memory changed");
                        assert_eq!(
                            code(retry),
                            ErrorCode::KafkaStorageError,
                            "{what}: refused by the offline log"
                        );
                    }
                    if power_loss {
                        kill(&fs, engine);
                        fs.crash();
                    } else {
                        shut(engine);
                    }
                    let engine = open_fault(&fs, &clock).unwrap();
                    let d = engine.transactions().describe(ID).unwrap();
                    assert!(!matches!(d.state, PrepareCommit | PrepareAbort), "{what}");
                    let retried = send(&engine, run.p, tv, r)
                        .unwrap_or_else(|e| panic!("{what}: the retry failed: {e}"));
                    match r {
                        Request::Reinit => {
                            assert_eq!(retried.producer_id, run.p.producer_id);
                            assert!(retried.epoch > run.p.epoch, "{what}");
                        }
                        Request::Add => {
                            assert_eq!(engine.transactions().describe(ID).unwrap().state, Ongoing)
                        }
                        Request::Commit(_) => {
                            assert_eq!(engine.transactions().describe(ID).unwrap().state, CompleteCommit);
                            assert_eq!(committed_values(&engine, "out", 0), ["a0-0", "a0-1"], "{what}");
                            assert_eq!(committed_values(&engine, "out", 1), ["a1-0", "a1-1"], "{what}");
                            assert_eq!(engine.offsets().committed(GROUP, "in", 0).unwrap().offset, 10);
                        }
                    }
                    assert_all_stable(&engine);
                    shut(engine);
                }
            }
        }
    }
    assert_eq!(cases, 28);
}
