//! Simulated power loss at every I/O operation of one mixed exactly-once workload, on the
//! fault-injecting in-memory disk.
//!
//! The workload starts from an empty disk and mixes everything that writes: opening the engine,
//! creating topics, an idempotent producer appending with lost acknowledgements (the same bytes
//! resent), a transactional [`Producer`] (committed and aborted transactions, offsets sent to
//! transactions, its own lost-ack retries), plain consumer-offset commits, segment rolls (small
//! segments) with their producer snapshots, retention (`retention.bytes` and `delete_records`,
//! run by [`Engine::run_retention`]), checkpoint writes ([`Engine::flush`]), coordinator
//! transitions (a zombie fenced by a new instance, a transaction aborted by its timeout) and a
//! clean close.
//!
//! **Every** mutating I/O operation is a crash point. The workload runs once with a crash-point
//! hook that forks the disk just before each operation, together with what the workload had
//! been told so far (the oracle). Each fork is then crashed in each [`CrashMode`] — dropping
//! everything unsynced, keeping a random prefix of unsynced appends, tearing unsynced sectors —
//! and reopened, and the reopened engine is checked:
//!
//! - everything acknowledged as durable is present exactly once, at the offset it was
//!   acknowledged at (unless retention removed it: then it is below the log start);
//! - each idempotent producer's data is a gap-free run of what it sent, in order;
//! - nothing is duplicated, nothing aborted (or never committed) is visible under
//!   read_committed, and a transaction is visible entirely or not at all, surely when its
//!   commit was acknowledged;
//! - offsets sent to a transaction are committed exactly when the transaction is visible, and
//!   plain commits never go back below an acknowledged one;
//! - `log start ≤ LSO ≤ HW ≤ LEO` everywhere, nothing is left prepared, and once open
//!   transactions time out every LSO reaches its log end;
//! - producer state survived: the last batch resent after the restart is answered as a
//!   duplicate with its original offsets, the batches lost in the crash are accepted again in
//!   order, and then every value is in the log exactly once;
//! - the coordinator fences every epoch handed out before the crash, never reuses a producer
//!   id, and a new transaction commits.
//!
//! Forking at every operation of one run visits exactly the states a process dying at each
//! operation would leave (`fault::tests::forks_at_crash_points_equal_die_at_every_operation`),
//! at the cost of one run. The error paths of a dying process — every later operation failing —
//! are exercised separately by re-running the workload with `die_at` at every sync operation
//! plus a seeded sample of the others.
//!
//! Both with `durability=always` (an acknowledgement means durable) and with `durability=none`,
//! where an explicit [`Engine::flush`] is the durability point for plain appends (transaction
//! commits and offset commits are synced by the coordinators in both modes).
//!
//! `CRASH_SAMPLE_PERCENT` (default 5) sets the share of non-sync operations re-run with
//! `die_at`; 100 re-runs at every operation.

mod txn_common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use eoslog::batch::RecordBatchBuilder;
use eoslog::client::{
    Consumer, ConsumerConfig, ConsumerGroupMetadata, OffsetAndMetadata, Producer, ProducerConfig,
    ProducerRecord, TopicPartition,
};
use eoslog::clock::ManualClock;
use eoslog::io::IoBackend;
use eoslog::io::fault::{CrashMode, CrashPoint, FaultBackend, FaultPlan, OpKind};
use eoslog::txn::{ProducerIdAndEpoch, TransactionState};
use eoslog::{Durability, Engine, IsolationLevel};
use parking_lot::Mutex;
use txn_common::{DATA, T0, TIMEOUT_MS};

/// Rounds of the workload (`CRASH_ROUNDS`, default 6: every kind of step at least once).
fn rounds() -> usize {
    std::env::var("CRASH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(6).max(6)
}

/// `CRASH_FULL=1` (`make torture`): every crash mode at every operation in both durability
/// modes, and process death at every operation.
fn full() -> bool {
    std::env::var("CRASH_FULL").is_ok_and(|v| v == "1")
}
const TXN_ID: &str = "tx";
/// The group whose offsets go with the transactions.
const TXN_GROUP: &str = "gt";
/// The group committing plain offsets.
const PLAIN_GROUP: &str = "gp";

// ----------------------------------------------------------------------------------- oracle

/// One idempotent batch (one record) as its producer knows it.
#[derive(Debug, Clone)]
struct IdemBatch {
    value: String,
    bytes: Vec<u8>,
    /// Offset the append was acknowledged at.
    acked: Option<i64>,
    /// Acknowledged and durable (`always`: acknowledged; `none`: acknowledged before a flush
    /// that returned).
    durable: bool,
}

/// Where a transaction got to, as its client knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxnEnd {
    /// Never asked to commit (still open, aborted, fenced or timed out): never visible.
    NotCommitted,
    /// `commit_transaction` was called; it had not returned `Ok` (yet).
    CommitRequested,
    /// `commit_transaction` returned `Ok`.
    Committed,
}

#[derive(Debug, Clone)]
struct Txn {
    /// `(partition of topic txn, value)`.
    records: Vec<(i32, String)>,
    /// The offset of `idem-0` sent to the transaction for [`TXN_GROUP`].
    offsets: Option<i64>,
    end: TxnEnd,
}

/// What the workload has been told, cloned at every crash point.
#[derive(Debug, Clone, Default)]
struct Oracle {
    /// The idempotent producer, once it has its id.
    idem_pid: Option<i64>,
    /// Its batches per partition of topic `idem`, in send order.
    idem: [Vec<IdemBatch>; 2],
    txns: Vec<Txn>,
    /// Plain commits of [`PLAIN_GROUP`] for `idem-0`: `(offset, acknowledged)`.
    plain: Vec<(i64, bool)>,
    /// Every producer id and epoch handed out to a client.
    handed_out: Vec<ProducerIdAndEpoch>,
}

impl Oracle {
    fn saw(&mut self, p: Option<ProducerIdAndEpoch>) {
        if let Some(p) = p
            && !self.handed_out.contains(&p)
        {
            self.handed_out.push(p);
        }
    }
}

type Shared = Arc<Mutex<Oracle>>;

// --------------------------------------------------------------------------------- workload

fn config(clock: &Arc<ManualClock>, durability: Durability) -> eoslog::EngineConfig {
    eoslog::EngineConfig { durability, ..txn_common::config(clock) }
}

fn open(fs: &FaultBackend, clock: &Arc<ManualClock>, durability: Durability) -> eoslog::Result<Engine> {
    Engine::open_with_backend(DATA, config(clock, durability), Arc::new(fs.clone()) as Arc<dyn IoBackend>)
}

fn idem_batch(pid: i64, seq: i32, value: &str) -> Vec<u8> {
    let mut b = RecordBatchBuilder::new().producer(pid, 0, seq);
    b.append(T0, None, Some(value.as_bytes()), &[]);
    b.build().unwrap()
}

fn txn_producer(engine: &Engine) -> eoslog::Result<Producer> {
    let p = Producer::new(
        engine,
        ProducerConfig::from_pairs(&[
            ("transactional.id", TXN_ID),
            ("linger.ms", "0"),
            ("retry.backoff.ms", "1"),
            ("max.block.ms", "2000"),
            ("transaction.timeout.ms", &TIMEOUT_MS.to_string()),
        ])?,
    )?;
    // Every third batch's acknowledgement is lost and the batch resent.
    p.set_lost_ack_hook(Some(Box::new(|_, seq| seq % 3 == 1)));
    Ok(p)
}

/// Creates the workload's topics that do not exist yet (the workload creates both; a crash can
/// leave either missing, and the checks create them again).
fn create_topics(engine: &Engine) -> eoslog::Result<()> {
    let small = [("segment.bytes", "600"), ("index.interval.bytes", "128"), ("retention.ms", "-1")];
    for (name, extra) in [("idem", Some(("retention.bytes", "1500"))), ("txn", None)] {
        if engine.partition(name, 0).is_err() {
            let pairs: Vec<(&str, &str)> = small.iter().copied().chain(extra).collect();
            engine.create_topic_with(name, 2, &pairs)?;
        }
    }
    Ok(())
}

/// The workload. Returns early with the first error (only when the process dies under
/// `die_at`); the oracle records every acknowledgement as it is received.
fn workload(
    fs: &FaultBackend,
    clock: &Arc<ManualClock>,
    durability: Durability,
    oracle: &Shared,
) -> eoslog::Result<()> {
    let engine = open(fs, clock, durability)?;
    create_topics(&engine)?;
    let txn = engine.transactions().clone();
    let pid = txn.init_producer_id(None, TIMEOUT_MS, None)?;
    {
        let mut o = oracle.lock();
        o.idem_pid = Some(pid.producer_id);
        o.saw(Some(pid));
    }
    let mut tx = txn_producer(&engine)?;
    tx.init_transactions()?;
    oracle.lock().saw(tx.producer_id_and_epoch());
    let mut seq = [0i32; 2];

    for round in 0..rounds() {
        // Idempotent appends, every third one resent as if its acknowledgement was lost.
        for (p, seq) in seq.iter_mut().enumerate() {
            for _ in 0..3 {
                let value = format!("i{p}-{seq}");
                let bytes = idem_batch(pid.producer_id, *seq, &value);
                oracle.lock().idem[p].push(IdemBatch {
                    value,
                    bytes: bytes.clone(),
                    acked: None,
                    durable: false,
                });
                let info = engine.produce("idem", p as i32, &bytes, None)?;
                assert!(!info.duplicate, "a first send is never a duplicate");
                {
                    let mut o = oracle.lock();
                    let b = o.idem[p].last_mut().unwrap();
                    b.acked = Some(info.first_offset);
                    b.durable = durability == Durability::Always;
                }
                if *seq % 3 == 2 {
                    let again = engine.produce("idem", p as i32, &bytes, None)?;
                    assert!(again.duplicate, "a resent batch is a duplicate");
                    assert_eq!(again.first_offset, info.first_offset, "with its original offset");
                }
                *seq += 1;
            }
        }
        // A plain offset commit.
        if round % 2 == 0 {
            let offset = 100 + round as i64;
            oracle.lock().plain.push((offset, false));
            engine.offsets().commit(PLAIN_GROUP, &[("idem".into(), 0, OffsetAndMetadata::new(offset))])?;
            oracle.lock().plain.last_mut().unwrap().1 = true;
        }
        // A transaction: three records over both partitions, offsets two rounds out of three;
        // committed, aborted, fenced or timed out.
        let offsets = (round % 3 != 1).then_some(round as i64);
        match round {
            2 => {
                // A zombie: a new instance with the same transactional id fences the open
                // transaction of the old one (the coordinator aborts it).
                open_txn(&tx, oracle, round, None)?;
                let fresh = txn_producer(&engine)?;
                fresh.init_transactions()?;
                oracle.lock().saw(fresh.producer_id_and_epoch());
                drop(std::mem::replace(&mut tx, fresh));
            }
            4 => {
                // A transaction that times out: the coordinator aborts it with an epoch bump.
                open_txn(&tx, oracle, round, offsets)?;
                clock.advance(i64::from(TIMEOUT_MS) + 1);
                if txn.abort_timed_out_transactions() != 1 {
                    return Err(eoslog::Error::kafka(eoslog::ErrorCode::KafkaStorageError, "no abort"));
                }
                // The fenced instance can only be replaced.
                let fresh = txn_producer(&engine)?;
                fresh.init_transactions()?;
                oracle.lock().saw(fresh.producer_id_and_epoch());
                drop(std::mem::replace(&mut tx, fresh));
            }
            _ => {
                open_txn(&tx, oracle, round, offsets)?;
                if round % 4 == 3 {
                    tx.abort_transaction()?;
                } else {
                    oracle.lock().txns.last_mut().unwrap().end = TxnEnd::CommitRequested;
                    tx.commit_transaction()?;
                    oracle.lock().txns.last_mut().unwrap().end = TxnEnd::Committed;
                }
                oracle.lock().saw(tx.producer_id_and_epoch());
            }
        }
        if round % 2 == 1 {
            engine.flush()?;
            let mut o = oracle.lock();
            for b in o.idem.iter_mut().flatten() {
                b.durable |= b.acked.is_some();
            }
        }
        if round == 3 {
            let log = engine.partition("idem", 1)?;
            log.delete_records(log.high_watermark() - 2)?;
        }
        if round % 3 == 2 || round == 3 {
            engine.run_retention()?;
        }
    }
    drop(tx);
    engine.close()?;
    let mut o = oracle.lock();
    for b in o.idem.iter_mut().flatten() {
        b.durable |= b.acked.is_some();
    }
    Ok(())
}

/// Begins a transaction of `tx`, sends its three records and the offsets, and appends them.
fn open_txn(tx: &Producer, oracle: &Shared, round: usize, offsets: Option<i64>) -> eoslog::Result<()> {
    let records: Vec<(i32, String)> =
        [0, 1, 0].iter().enumerate().map(|(k, &p)| (p, format!("t{round}-{k}"))).collect();
    oracle.lock().txns.push(Txn { records: records.clone(), offsets, end: TxnEnd::NotCommitted });
    tx.begin_transaction()?;
    for (p, v) in &records {
        tx.send(ProducerRecord::new("txn", v.clone()).partition(*p))?;
    }
    if let Some(o) = offsets {
        tx.send_offsets_to_transaction(
            &[(TopicPartition::new("idem", 0), OffsetAndMetadata::new(o))],
            &ConsumerGroupMetadata::new(TXN_GROUP),
        )?;
    }
    tx.flush()
}

// ---------------------------------------------------------------------------------- checks

/// `(offset, value)` of every data record of a partition from its log start, as a consumer
/// with `isolation` sees it.
fn read(engine: &Engine, topic: &str, partition: i32, isolation: IsolationLevel) -> Vec<(i64, String)> {
    let level =
        if isolation == IsolationLevel::ReadCommitted { "read_committed" } else { "read_uncommitted" };
    let consumer = Consumer::new(
        engine,
        ConsumerConfig::from_pairs(&[("isolation.level", level), ("auto.offset.reset", "earliest")]).unwrap(),
    )
    .unwrap();
    let tp = TopicPartition::new(topic, partition);
    consumer.assign(std::slice::from_ref(&tp)).unwrap();
    let end = consumer.end_offsets(std::slice::from_ref(&tp)).unwrap()[&tp];
    let mut out = Vec::new();
    let mut idle = 0;
    while consumer.position(&tp).unwrap() < end {
        let got = consumer.poll(std::time::Duration::ZERO).unwrap();
        idle = if got.is_empty() { idle + 1 } else { 0 };
        assert!(idle < 1000, "{tp}: the consumer never reaches {end}");
        out.extend(got.into_iter().map(|r| (r.offset, r.value_str().unwrap().into_owned())));
    }
    out
}

/// Checks what a restarted engine shows against what the workload had been told. `what` names
/// the crash point in messages.
fn check(engine: &Engine, clock: &ManualClock, o: &Oracle, durability: Durability, what: &str) {
    // Offsets are ordered, nothing is left prepared.
    for log in engine.all_partitions() {
        let (start, lso, hw, leo) =
            (log.log_start_offset(), log.last_stable_offset(), log.high_watermark(), log.log_end_offset());
        assert!(
            start <= lso && lso <= hw && hw <= leo,
            "{what}: {}: {start} {lso} {hw} {leo}",
            log.topic_partition()
        );
    }
    let txn = engine.transactions();
    if let Some(d) = txn.describe(TXN_ID) {
        assert!(
            !matches!(d.state, TransactionState::PrepareCommit | TransactionState::PrepareAbort),
            "{what}: still prepared after open: {d:?}"
        );
    }
    check_idempotent(engine, o, what);
    let visible = check_transactions(engine, o, what);
    check_offsets(engine, o, &visible, what);

    // Open transactions time out; then every partition is stable and nothing changed.
    clock.advance(i64::from(TIMEOUT_MS) + 1);
    txn.abort_timed_out_transactions();
    txn_common::assert_all_stable(engine);
    assert_eq!(check_transactions(engine, o, what), visible, "{what}: visibility changed at the timeout");

    check_resends(engine, o, durability, what);
    check_new_producers(engine, o, what);
}

/// Idempotent data: a gap-free run of what was sent, in order, each value once, every durable
/// batch present at its acknowledged offset unless below the log start.
fn check_idempotent(engine: &Engine, o: &Oracle, what: &str) {
    for (p, sent) in o.idem.iter().enumerate() {
        let log = engine.partition("idem", p as i32).unwrap();
        let start = log.log_start_offset();
        let got = read(engine, "idem", p as i32, IsolationLevel::ReadUncommitted);
        assert_eq!(got, read(engine, "idem", p as i32, IsolationLevel::ReadCommitted), "{what}");
        let index: BTreeMap<&str, usize> =
            sent.iter().enumerate().map(|(i, b)| (b.value.as_str(), i)).collect();
        let positions: Vec<usize> = got
            .iter()
            .map(|(_, v)| {
                *index.get(v.as_str()).unwrap_or_else(|| panic!("{what}: idem-{p} holds {v}, never sent"))
            })
            .collect();
        assert!(
            positions.windows(2).all(|w| w[1] == w[0] + 1),
            "{what}: idem-{p} is not a gap-free run of what was sent: {positions:?}"
        );
        for (i, b) in sent.iter().enumerate() {
            let found = got.iter().find(|(_, v)| *v == b.value);
            if let (Some((offset, _)), Some(acked)) = (found, b.acked) {
                assert_eq!(*offset, acked, "{what}: idem-{p} {} moved", b.value);
            }
            if b.durable && found.is_none() {
                let acked = b.acked.unwrap();
                assert!(
                    acked < start,
                    "{what}: idem-{p} lost durable {} (offset {acked}, log start {start})",
                    b.value
                );
                assert!(
                    positions.first().is_none_or(|&f| f > i),
                    "{what}: idem-{p} lost {} inside the log",
                    b.value
                );
            }
        }
    }
}

/// Transactions: all or nothing, acknowledged commits visible, never-committed ones never, no
/// value twice even under read_uncommitted. Returns the indexes of the visible transactions.
fn check_transactions(engine: &Engine, o: &Oracle, what: &str) -> BTreeSet<usize> {
    let mut owner: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, t) in o.txns.iter().enumerate() {
        for (_, v) in &t.records {
            owner.insert(v, i);
        }
    }
    let mut visible_records: BTreeMap<usize, Vec<(i32, String)>> = BTreeMap::new();
    for p in 0..2 {
        let all = read(engine, "txn", p, IsolationLevel::ReadUncommitted);
        let distinct: BTreeSet<&str> = all.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(distinct.len(), all.len(), "{what}: txn-{p} holds a value twice: {all:?}");
        let committed = read(engine, "txn", p, IsolationLevel::ReadCommitted);
        let mut last = None;
        for (_, v) in committed {
            let t = *owner.get(v.as_str()).unwrap_or_else(|| panic!("{what}: txn-{p} shows {v}, never sent"));
            assert!(last.is_none_or(|l| l <= t), "{what}: txn-{p} shows transactions out of order");
            last = Some(t);
            visible_records.entry(t).or_default().push((p, v));
        }
    }
    for (i, t) in o.txns.iter().enumerate() {
        match visible_records.get(&i) {
            Some(shown) => {
                let mut expected = t.records.clone();
                expected.sort();
                let mut shown = shown.clone();
                shown.sort();
                assert_eq!(shown, expected, "{what}: transaction {i} is partly visible");
                assert_ne!(t.end, TxnEnd::NotCommitted, "{what}: transaction {i} was never committed");
            }
            None => assert_ne!(t.end, TxnEnd::Committed, "{what}: the acknowledged commit of {i} was lost"),
        }
    }
    visible_records.keys().copied().collect()
}

/// Transactional offsets are committed exactly with their transaction; plain commits never go
/// back below an acknowledged one.
fn check_offsets(engine: &Engine, o: &Oracle, visible: &BTreeSet<usize>, what: &str) {
    let offsets = engine.offsets();
    let expected = o
        .txns
        .iter()
        .enumerate()
        .filter(|(i, _)| visible.contains(i))
        .filter_map(|(_, t)| t.offsets)
        .next_back();
    assert_eq!(
        offsets.committed(TXN_GROUP, "idem", 0).map(|c| c.offset),
        expected,
        "{what}: transactional offsets"
    );
    let plain = offsets.committed(PLAIN_GROUP, "idem", 0).map(|c| c.offset);
    let acked = o.plain.iter().rposition(|(_, acked)| *acked);
    match plain {
        None => assert!(acked.is_none(), "{what}: the acknowledged plain commit was lost"),
        Some(got) => {
            let at = o.plain.iter().position(|(v, _)| *v == got);
            let at = at.unwrap_or_else(|| panic!("{what}: plain commit {got} was never sent"));
            assert!(acked.is_none_or(|a| at >= a), "{what}: plain commit went back to {got}");
        }
    }
}

/// The idempotent producer's state survived and its resends across the restart work: the
/// partition's last sequence for it covers every durable batch; the batch with that sequence is
/// in the log (or below the log start) and resending it is answered as a duplicate with its
/// offsets; every later batch (lost in the crash, or never acknowledged) is accepted again, in
/// order; afterwards each value is in the log exactly once, in order.
fn check_resends(engine: &Engine, o: &Oracle, durability: Durability, what: &str) {
    let Some(pid) = o.idem_pid else { return };
    for (p, sent) in o.idem.iter().enumerate() {
        let log = engine.partition("idem", p as i32).unwrap();
        let got = read(engine, "idem", p as i32, IsolationLevel::ReadUncommitted);
        let present: BTreeMap<&str, i64> = got.iter().map(|(off, v)| (v.as_str(), *off)).collect();
        let start = log.log_start_offset();
        // Sequences are send positions (one record per batch, from 0).
        let last_seq = log.producer_state(pid).map_or(-1, |e| e.last_seq());
        let last_durable = sent.iter().rposition(|b| b.durable).map_or(-1, |i| i as i32);
        assert!(
            last_seq >= last_durable && last_seq < sent.len() as i32,
            "{what}: idem-{p}: producer state at sequence {last_seq}, {} sent, last durable {last_durable}",
            sent.len()
        );
        if last_seq >= 0 {
            let b = &sent[last_seq as usize];
            match present.get(b.value.as_str()) {
                Some(&offset) => {
                    let info = engine.produce("idem", p as i32, &b.bytes, None).unwrap_or_else(|e| {
                        panic!("{what}: idem-{p}: resending the last batch {} failed: {e}", b.value)
                    });
                    assert!(
                        info.duplicate && info.first_offset == offset,
                        "{what}: idem-{p} resent {}: {info:?}",
                        b.value
                    );
                }
                None => assert!(
                    b.acked.is_some_and(|a| a < start),
                    "{what}: idem-{p}: producer state has {} which is neither in the log nor below its start",
                    b.value
                ),
            }
        }
        for b in &sent[(last_seq + 1) as usize..] {
            assert!(
                !present.contains_key(b.value.as_str()),
                "{what}: idem-{p}: {} is in the log after the producer's last sequence {last_seq}",
                b.value
            );
            assert!(!b.durable, "{what}: idem-{p}: durable {} is missing", b.value);
            assert!(
                b.acked.is_none() || durability == Durability::None,
                "{what}: idem-{p}: acked {} lost",
                b.value
            );
            let info = engine
                .produce("idem", p as i32, &b.bytes, None)
                .unwrap_or_else(|e| panic!("{what}: idem-{p}: resending lost {} failed: {e}", b.value));
            assert!(
                !info.duplicate,
                "{what}: idem-{p}: {} is not in the log but was answered as a duplicate",
                b.value
            );
        }
        let after = read(engine, "idem", p as i32, IsolationLevel::ReadUncommitted);
        let values: Vec<&str> = after.iter().map(|(_, v)| v.as_str()).collect();
        let first = values.first().map_or(sent.len(), |f| sent.iter().position(|b| b.value == *f).unwrap());
        let expected: Vec<&str> = sent[first..].iter().map(|b| b.value.as_str()).collect();
        assert_eq!(values, expected, "{what}: idem-{p} after the resends");
    }
}

/// A new transactional instance gets an epoch above every one handed out, its transaction
/// commits; a new idempotent producer gets an id never used.
fn check_new_producers(engine: &Engine, o: &Oracle, what: &str) {
    let tx = txn_producer(engine).unwrap();
    tx.init_transactions().unwrap_or_else(|e| panic!("{what}: init_transactions after recovery: {e}"));
    let p = tx.producer_id_and_epoch().unwrap();
    for h in &o.handed_out {
        if h.producer_id == p.producer_id {
            assert!(p.epoch > h.epoch, "{what}: epoch {} handed out again after {h:?}", p.epoch);
        }
    }
    tx.begin_transaction().unwrap();
    tx.send(ProducerRecord::new("txn", "after").partition(1)).unwrap();
    tx.commit_transaction().unwrap_or_else(|e| panic!("{what}: a transaction after recovery: {e}"));
    let shown = read(engine, "txn", 1, IsolationLevel::ReadCommitted);
    assert_eq!(shown.last().map(|(_, v)| v.as_str()), Some("after"), "{what}");
    let idem = engine.transactions().init_producer_id(None, TIMEOUT_MS, None).unwrap();
    assert!(
        o.handed_out.iter().all(|h| h.producer_id != idem.producer_id),
        "{what}: producer id {} reused",
        idem.producer_id
    );
}

// ----------------------------------------------------------------------------------- runs

/// One crash point: the disk just before the operation and what the workload knew.
struct Captured {
    op: u64,
    kind: OpKind,
    disk: FaultBackend,
    oracle: Oracle,
}

fn modes(op: u64) -> [CrashMode; 3] {
    [
        CrashMode::DropUnsynced,
        CrashMode::KeepRandomPrefix { seed: op },
        CrashMode::Torn { seed: op, sector: 512 },
    ]
}

/// Runs the workload once, capturing every crash point; also returns the disk and the oracle
/// at the end.
fn capture(durability: Durability) -> (Vec<Captured>, FaultBackend, Oracle) {
    let fs = FaultBackend::new();
    fs.set_plan(FaultPlan::new());
    let clock = ManualClock::new(T0);
    let oracle: Shared = Arc::default();
    let points = Arc::new(Mutex::new(Vec::new()));
    let (sink, known) = (points.clone(), oracle.clone());
    fs.set_crash_point_hook(Some(Box::new(move |cp: &CrashPoint<'_>| {
        let oracle = known.lock().clone();
        sink.lock().push(Captured { op: cp.op(), kind: cp.kind(), disk: cp.fork(), oracle });
    })));
    workload(&fs, &clock, durability, &oracle).unwrap();
    fs.set_crash_point_hook(None);
    let points = std::mem::take(&mut *points.lock());
    let o = oracle.lock().clone();
    (points, fs, o)
}

/// Crashes a copy of `disk` in `mode`; reopens it and checks it against `oracle` unless
/// `seen` shows this exact crashed disk was already checked against this exact oracle (the
/// same inputs give the same outcome). Returns whether it was checked.
fn recover_and_check(
    disk: &FaultBackend,
    oracle: &Oracle,
    mode: CrashMode,
    durability: Durability,
    seen: &mut BTreeSet<(u64, u64)>,
    what: &str,
) -> bool {
    let disk = disk.fork();
    disk.crash_with(mode);
    let key = (disk.fingerprint(), fingerprint(oracle));
    if !seen.insert(key) {
        return false;
    }
    let clock = ManualClock::new(T0 + 10 * i64::from(TIMEOUT_MS));
    let engine = open(&disk, &clock, durability).unwrap_or_else(|e| panic!("{what}: reopen failed: {e}"));
    if engine.partition("idem", 0).is_err() || engine.partition("txn", 0).is_err() {
        assert!(oracle.idem_pid.is_none(), "{what}: a topic the workload wrote to is gone");
        create_topics(&engine).unwrap();
    }
    check(&engine, &clock, oracle, durability, what);
    txn_common::shut(engine);
    true
}

fn fingerprint(oracle: &Oracle) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    format!("{oracle:?}").hash(&mut h);
    h.finish()
}

fn every_operation(durability: Durability) {
    let started = Instant::now();
    let (points, end, last) = capture(durability);
    let ops = points.len();
    assert!(ops > 300, "{ops} operations: the workload is smaller than expected");
    assert!(last.txns.iter().filter(|t| t.end == TxnEnd::Committed).count() >= 3);
    // Every operation with every crash mode; in the quick run (`make test`) the `none` pass
    // gives each operation one mode, in turn.
    let all_modes = full() || durability == Durability::Always;
    let (mut tried, mut checked) = (0, 0);
    let mut seen = BTreeSet::new();
    for p in &points {
        let modes = modes(p.op);
        let modes = if all_modes { &modes[..] } else { &modes[(p.op % 3) as usize..][..1] };
        for &mode in modes {
            let what = format!("{durability}: crash before I/O {}/{ops} ({:?}), {mode:?}", p.op, p.kind);
            checked += usize::from(recover_and_check(&p.disk, &p.oracle, mode, durability, &mut seen, &what));
            tried += 1;
        }
    }
    // And after the clean close.
    recover_and_check(&end, &last, CrashMode::DropUnsynced, durability, &mut seen, "after the clean close");
    eprintln!(
        "crash_every_step {durability}: {ops} I/O operations, {tried} crash points tried ({}), \
         {checked} distinct crashed disks reopened and checked, in {:?}",
        if all_modes { "every operation × 3 crash modes" } else { "every operation, crash modes in turn" },
        started.elapsed()
    );
}

#[test]
fn power_loss_at_every_io_with_durability_always() {
    every_operation(Durability::Always);
}

#[test]
fn power_loss_at_every_io_with_durability_none_and_flush() {
    every_operation(Durability::None);
}

/// Re-runs the workload with the process dying at every sync operation and a seeded sample of
/// the others (`CRASH_SAMPLE_PERCENT`, default 5; every operation with `CRASH_FULL=1`): every
/// later operation fails, the workload stops at its first error, the engine is stopped and the
/// disk loses power. Exercises the error paths a fork does not. The quick run does this with
/// `durability=always`; `CRASH_FULL=1` with `none` as well.
#[test]
fn process_death_at_every_sync_and_a_sample_of_the_rest() {
    let percent: u64 = if full() {
        100
    } else {
        std::env::var("CRASH_SAMPLE_PERCENT").ok().and_then(|v| v.parse().ok()).unwrap_or(5)
    };
    let started = Instant::now();
    let mut tried = 0;
    let durabilities: &[Durability] =
        if full() { &[Durability::Always, Durability::None] } else { &[Durability::Always] };
    for &durability in durabilities {
        let (points, _, _) = capture(durability);
        let ops = points.len() as u64;
        let mut rng = 0x5eed_u64 ^ ops;
        for p in &points {
            rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            if p.kind != OpKind::Sync && (rng >> 33) % 100 >= percent {
                continue;
            }
            let mode = modes(p.op)[(p.op % 3) as usize];
            let what = format!("{durability}: process dies at I/O {}/{ops} ({:?}), {mode:?}", p.op, p.kind);
            let fs = FaultBackend::new();
            fs.set_plan(FaultPlan::new().die_at(p.op));
            let clock = ManualClock::new(T0);
            let oracle: Shared = Arc::default();
            let result = workload(&fs, &clock, durability, &oracle);
            assert!(result.is_err(), "{what}: the workload survived its death");
            assert!(fs.is_dead(), "{what}");
            let o = oracle.lock().clone();
            recover_and_check(&fs, &o, mode, durability, &mut BTreeSet::new(), &what);
            tried += 1;
        }
    }
    eprintln!(
        "crash_every_step: process death at {tried} operations (every sync + {percent}% of the rest) in {:?}",
        started.elapsed()
    );
}
