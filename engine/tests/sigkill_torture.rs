//! SIGKILL torture on the real file system.
//!
//! A child process (this test binary re-executed with `--exact sigkill_child`) runs a mixed
//! load with `durability=always`, so that acknowledged means durable:
//!
//! - an idempotent [`Producer`] appending to three partitions of `idem` (small segments, so it
//!   rolls and snapshots), with every seventh acknowledgement lost and the batch resent;
//! - a transactional [`Producer`] writing transactions of one to four records over three
//!   partitions of `txn`, half of them with offsets sent to the transaction, one in three
//!   aborted;
//! - plain offset commits of another group.
//!
//! Every acknowledgement is reported on stdout (`EVT ...` lines, written after the call
//! returned). The parent kills the child with SIGKILL at a seeded random moment — after a
//! random number of events, or during start-up and recovery — then opens the directory itself
//! and checks, with only the reported events as its oracle:
//!
//! - every acknowledged idempotent record is present exactly once, at the offset it was
//!   acknowledged at, and no value is in the log twice;
//! - every acknowledged commit is visible under read_committed, entirely; nothing aborted or
//!   never committed is; a commit that was in flight is all or nothing; no value twice;
//! - the transactional offsets are exactly those of the last visible transaction that carried
//!   offsets; plain commits never go back below an acknowledged one;
//! - once the transactional id is fenced (what the next child does first), every partition's
//!   last stable offset reaches its log end;
//! - the child never panicked and never exited on its own.
//!
//! `TORTURE_KILLS` (default 25) sets the number of kills, `TORTURE_SEED` the seed; `make
//! torture` runs many more.

mod client_support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant};

use client_support::{Rng, spawn_self};
use eoslog::client::{
    Consumer, ConsumerConfig, ConsumerGroupMetadata, OffsetAndMetadata, Producer, ProducerConfig,
    ProducerRecord, TopicPartition,
};
use eoslog::{Durability, Engine, EngineConfig, ErrorCode, IsolationLevel};
use parking_lot::Mutex;

const CHILD_VAR: &str = "EOSLOG_TORTURE_CHILD";
const TXN_ID: &str = "torture-tx";
const TXN_GROUP: &str = "torture-txn";
const PLAIN_GROUP: &str = "torture-plain";
const PARTITIONS: i32 = 3;

fn config() -> EngineConfig {
    EngineConfig { durability: Durability::Always, ..EngineConfig::default() }
}

fn open(dir: &Path) -> Engine {
    Engine::open(dir, config()).unwrap_or_else(|e| panic!("opening {}: {e}", dir.display()))
}

// ------------------------------------------------------------------------------- child

/// The child's load; runs until it is killed.
#[test]
fn sigkill_child() {
    let Ok(args) = std::env::var(CHILD_VAR) else { return };
    let args: Vec<&str> = args.split(' ').collect();
    let (dir, run) = (Path::new(args[0]), args[1].parse::<u64>().unwrap());
    let engine = open(dir);
    for topic in ["idem", "txn"] {
        if engine.partition(topic, 0).is_err() {
            let pairs = [("segment.bytes", "2048"), ("index.interval.bytes", "512")];
            match engine.create_topic_with(topic, PARTITIONS, &pairs) {
                Ok(()) => {}
                Err(e) if e.code() == ErrorCode::TopicAlreadyExists => {}
                Err(e) => panic!("creating {topic}: {e}"),
            }
        }
    }
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let emit = move |line: String| {
        let out = out.lock();
        let mut out = out.lock();
        writeln!(out, "EVT {line}").unwrap();
        out.flush().unwrap();
    };
    std::thread::scope(|s| {
        let e = &engine;
        let emit = &emit;
        s.spawn(move || idempotent_load(e, run, emit));
        s.spawn(move || transactional_load(e, run, emit));
        s.spawn(move || offset_commit_load(e, run, emit));
    });
}

fn idempotent_load(engine: &Engine, run: u64, emit: &(dyn Fn(String) + Sync)) {
    let producer = Producer::new(engine, ProducerConfig::from_pairs(&[("linger.ms", "0")]).unwrap()).unwrap();
    producer.set_lost_ack_hook(Some(Box::new(|_, seq| seq % 7 == 3)));
    for i in 0u64.. {
        let handles: Vec<_> = (0..5)
            .map(|k| {
                let value = format!("r{run}i{}", i * 5 + k);
                let p = ((i * 5 + k) % PARTITIONS as u64) as i32;
                (value.clone(), producer.send(ProducerRecord::new("idem", value).partition(p)).unwrap())
            })
            .collect();
        producer.flush().unwrap();
        for (value, h) in handles {
            let md = h.wait().unwrap_or_else(|e| panic!("{value}: {e}"));
            emit(format!("I {value} {} {}", md.partition, md.offset));
        }
    }
}

fn transactional_load(engine: &Engine, run: u64, emit: &(dyn Fn(String) + Sync)) {
    let producer = Producer::new(
        engine,
        ProducerConfig::from_pairs(&[
            ("transactional.id", TXN_ID),
            ("linger.ms", "0"),
            ("max.block.ms", "30000"),
        ])
        .unwrap(),
    )
    .unwrap();
    producer.set_lost_ack_hook(Some(Box::new(|_, seq| seq % 5 == 2)));
    producer.init_transactions().unwrap();
    let mut rng = Rng::new(run);
    for n in 0u64.. {
        let txn = format!("r{run}t{n}");
        let count = 1 + n % 4;
        // Offsets sent to the transaction grow across runs: (run, n) is the transaction order.
        let offsets = (n % 2 == 0).then_some((run * 1_000_000 + n) as i64);
        // Declared before anything is sent: every value of the transaction and its offsets.
        emit(format!("T {txn} {count} {}", offsets.unwrap_or(-1)));
        producer.begin_transaction().unwrap();
        for k in 0..count {
            let p = (k % PARTITIONS as u64) as i32;
            producer.send(ProducerRecord::new("txn", format!("{txn}-{k}")).partition(p)).unwrap();
        }
        if let Some(o) = offsets {
            producer
                .send_offsets_to_transaction(
                    &[(TopicPartition::new("idem", 1), OffsetAndMetadata::new(o))],
                    &ConsumerGroupMetadata::new(TXN_GROUP),
                )
                .unwrap();
        }
        if rng.chance(1.0 / 3.0) {
            producer.abort_transaction().unwrap();
            emit(format!("A {txn}"));
        } else {
            emit(format!("R {txn}"));
            producer.commit_transaction().unwrap();
            emit(format!("C {txn}"));
        }
    }
}

fn offset_commit_load(engine: &Engine, run: u64, emit: &(dyn Fn(String) + Sync)) {
    for j in 0u64.. {
        let value = (run * 1_000_000 + j) as i64;
        emit(format!("o {value}"));
        engine.offsets().commit(PLAIN_GROUP, &[("idem".into(), 2, OffsetAndMetadata::new(value))]).unwrap();
        emit(format!("O {value}"));
    }
}

// ------------------------------------------------------------------------------ oracle

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxnEnd {
    /// Declared; not (yet) asked to commit. Never visible.
    Open,
    /// Aborted, acknowledged. Never visible.
    Aborted,
    /// Commit requested, outcome unknown: all or nothing.
    CommitRequested,
    /// Commit acknowledged: visible.
    Committed,
}

#[derive(Debug)]
struct Txn {
    /// `(run, n)`: the order of the transactions.
    order: (u64, u64),
    records: Vec<(i32, String)>,
    offsets: Option<i64>,
    end: TxnEnd,
}

#[derive(Debug, Default)]
struct Oracle {
    /// Acknowledged idempotent records: value → (partition, offset).
    idem: BTreeMap<String, (i32, i64)>,
    txns: BTreeMap<String, Txn>,
    /// Plain commits: value → acknowledged.
    plain: BTreeMap<i64, bool>,
    events: usize,
}

fn parse_run_n(txn: &str) -> (u64, u64) {
    let (run, n) = txn.trim_start_matches('r').split_once('t').unwrap();
    (run.parse().unwrap(), n.parse().unwrap())
}

impl Oracle {
    fn record(&mut self, line: &str) {
        let f: Vec<&str> = line.split(' ').collect();
        self.events += 1;
        match f[0] {
            "I" => {
                let prev = self.idem.insert(f[1].to_string(), (f[2].parse().unwrap(), f[3].parse().unwrap()));
                assert!(prev.is_none(), "{} acknowledged twice", f[1]);
            }
            "T" => {
                let count: u64 = f[2].parse().unwrap();
                let records =
                    (0..count).map(|k| ((k % PARTITIONS as u64) as i32, format!("{}-{k}", f[1]))).collect();
                let offsets = Some(f[3].parse::<i64>().unwrap()).filter(|&o| o >= 0);
                let order = parse_run_n(f[1]);
                self.txns.insert(f[1].to_string(), Txn { order, records, offsets, end: TxnEnd::Open });
            }
            "A" => self.txns.get_mut(f[1]).unwrap().end = TxnEnd::Aborted,
            "R" => self.txns.get_mut(f[1]).unwrap().end = TxnEnd::CommitRequested,
            "C" => self.txns.get_mut(f[1]).unwrap().end = TxnEnd::Committed,
            "o" => {
                self.plain.entry(f[1].parse().unwrap()).or_insert(false);
            }
            "O" => {
                self.plain.insert(f[1].parse().unwrap(), true);
            }
            other => panic!("unknown event {other:?} in {line:?}"),
        }
    }
}

/// `(offset, value)` of every record of a partition as a consumer with `isolation` sees it.
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
    // A deadline in time, not a count of empty polls: on a loaded machine a busy loop of
    // non-blocking polls can come up empty many times before the consumer's fetch lands.
    let deadline = Instant::now() + Duration::from_secs(60);
    while consumer.position(&tp).unwrap() < end {
        assert!(Instant::now() < deadline, "{tp}: the consumer never reaches {end}");
        let got = consumer.poll(Duration::from_millis(100)).unwrap();
        out.extend(got.into_iter().map(|r| (r.offset, r.value_str().unwrap().into_owned())));
    }
    out
}

/// Fences the transactional id as the next child would: an open transaction is aborted.
fn fence(engine: &Engine) {
    for _ in 0..1000 {
        match engine.transactions().init_producer_id(Some(TXN_ID), 60_000, None) {
            Ok(_) => return,
            Err(e) if e.code() == ErrorCode::ConcurrentTransactions => {
                std::thread::sleep(Duration::from_millis(1))
            }
            Err(e) => panic!("fencing {TXN_ID}: {e}"),
        }
    }
    panic!("{TXN_ID} kept answering CONCURRENT_TRANSACTIONS");
}

/// The outside oracle's checks of the directory after a kill. Returns the number of records
/// checked.
fn check(dir: &Path, o: &Oracle, what: &str) -> usize {
    let engine = open(dir);
    if engine.partition("idem", 0).is_err() || engine.partition("txn", 0).is_err() {
        assert!(o.idem.is_empty() && o.txns.is_empty(), "{what}: topics gone");
        engine.close().unwrap();
        return 0;
    }
    fence(&engine);
    for log in engine.all_partitions() {
        assert_eq!(
            log.last_stable_offset(),
            log.log_end_offset(),
            "{what}: {} is not stable after fencing",
            log.topic_partition()
        );
    }
    // Idempotent records: each acknowledged one exactly once, where it was acknowledged.
    let mut seen = BTreeMap::new();
    for p in 0..PARTITIONS {
        for (offset, value) in read(&engine, "idem", p, IsolationLevel::ReadUncommitted) {
            assert!(seen.insert(value.clone(), (p, offset)).is_none(), "{what}: {value} is in idem twice");
        }
    }
    for (value, at) in &o.idem {
        assert_eq!(seen.get(value), Some(at), "{what}: acknowledged {value} at {at:?}");
    }
    // Transactions.
    let owner: BTreeMap<&str, &str> = o
        .txns
        .iter()
        .flat_map(|(name, t)| t.records.iter().map(move |(_, v)| (v.as_str(), name.as_str())))
        .collect();
    let mut visible: BTreeMap<&str, BTreeSet<(i32, String)>> = BTreeMap::new();
    for p in 0..PARTITIONS {
        let all = read(&engine, "txn", p, IsolationLevel::ReadUncommitted);
        let distinct: BTreeSet<&str> = all.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(distinct.len(), all.len(), "{what}: txn-{p} holds a value twice");
        for (_, v) in &all {
            assert!(owner.contains_key(v.as_str()), "{what}: txn-{p} holds {v}, never declared");
        }
        for (_, v) in read(&engine, "txn", p, IsolationLevel::ReadCommitted) {
            let name = owner[v.as_str()];
            visible.entry(name).or_default().insert((p, v));
        }
    }
    for (name, t) in &o.txns {
        match visible.get(name.as_str()) {
            Some(shown) => {
                let all: BTreeSet<(i32, String)> = t.records.iter().cloned().collect();
                assert_eq!(shown, &all, "{what}: {name} is partly visible");
                assert!(
                    matches!(t.end, TxnEnd::CommitRequested | TxnEnd::Committed),
                    "{what}: {name} is visible but was {:?}",
                    t.end
                );
            }
            None => assert_ne!(t.end, TxnEnd::Committed, "{what}: the acknowledged commit of {name} is lost"),
        }
    }
    // Offsets.
    let last_offsets = o
        .txns
        .iter()
        .filter(|(name, _)| visible.contains_key(name.as_str()))
        .filter_map(|(_, t)| t.offsets.map(|off| (t.order, off)))
        .max()
        .map(|(_, off)| off);
    let committed = engine.offsets().committed(TXN_GROUP, "idem", 1).map(|c| c.offset);
    assert_eq!(committed, last_offsets, "{what}: transactional offsets");
    let plain = engine.offsets().committed(PLAIN_GROUP, "idem", 2).map(|c| c.offset);
    let last_acked = o.plain.iter().filter(|(_, acked)| **acked).map(|(v, _)| *v).max();
    match plain {
        None => assert!(last_acked.is_none(), "{what}: acknowledged plain commit lost"),
        Some(v) => {
            assert!(o.plain.contains_key(&v), "{what}: plain commit {v} never sent");
            assert!(last_acked.is_none_or(|a| v >= a), "{what}: plain commit went back to {v}");
        }
    }
    let records = seen.len() + visible.values().map(BTreeSet::len).sum::<usize>();
    engine.close().unwrap();
    records
}

// ----------------------------------------------------------------------------- parent

/// The child's events as they come: a thread reads `EVT` lines from its stdout (only whole
/// lines count: a line cut by the kill is dropped) and ends at the end of the pipe.
fn event_stream(stdout: std::process::ChildStdout) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line.last() != Some(&b'\n') {
                return;
            }
            let text = String::from_utf8_lossy(&line[..line.len() - 1]);
            // The test harness prints `test sigkill_child ... ` without a newline before the
            // test runs, so the first event shares its line.
            if let Some(at) = text.find("EVT ")
                && tx.send(text[at + 4..].to_string()).is_err()
            {
                return;
            }
        }
    });
    rx
}

/// How long the child may go without reporting anything before it counts as hung.
const STALL: Duration = Duration::from_secs(120);

/// Feeds `wanted` events into the oracle (all of them, to the end of the pipe, with `None`).
/// Returns how many came; fewer than `wanted` means the pipe closed or the child stalled.
fn pump(events: &std::sync::mpsc::Receiver<String>, oracle: &Mutex<Oracle>, wanted: Option<usize>) -> usize {
    let mut n = 0;
    while wanted.is_none_or(|w| n < w) {
        match events.recv_timeout(STALL) {
            Ok(evt) => {
                oracle.lock().record(&evt);
                n += 1;
            }
            Err(_) => break,
        }
    }
    n
}

fn spawn_child(dir: &Path, run: u64) -> Child {
    let mut env = BTreeMap::new();
    env.insert(CHILD_VAR.to_string(), format!("{} {run}", dir.display()));
    env.insert("RUST_BACKTRACE".to_string(), "1".to_string());
    spawn_self("sigkill_child", &env)
}

#[test]
fn sigkill_torture() {
    let kills: u64 = std::env::var("TORTURE_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(25);
    let seed: u64 = std::env::var("TORTURE_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(20_260_101);
    let tmp = scratch_dir();
    let dir = tmp.path().join("data");
    let oracle = Mutex::new(Oracle::default());
    let mut rng = Rng::new(seed);
    let started = Instant::now();
    let (mut during_startup, mut records) = (0, 0);
    for run in 0..kills {
        let mut child = spawn_child(&dir, run);
        let events = event_stream(child.stdout.take().unwrap());
        if rng.chance(0.15) {
            // During start-up: recovery, coordinator load, fencing, topic creation.
            during_startup += 1;
            std::thread::sleep(Duration::from_millis(rng.range(0, 40)));
        } else {
            let wanted = rng.range(1, 400) as usize;
            let got = pump(&events, &oracle, Some(wanted));
            if got < wanted {
                let _ = child.kill();
                let (status, stderr) = reap(&mut child);
                panic!("run {run}: the child stopped after {got} events: {status:?}\n{stderr}");
            }
            std::thread::sleep(Duration::from_micros(rng.range(0, 2000)));
        }
        if let Ok(Some(status)) = child.try_wait() {
            let (_, stderr) = reap(&mut child);
            panic!("run {run}: the child exited on its own: {status:?}\n{stderr}");
        }
        child.kill().unwrap();
        // Events written before the kill are still in the pipe.
        pump(&events, &oracle, None);
        let (status, stderr) = reap(&mut child);
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9),
            "run {run}: {status:?}\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "run {run}: the child panicked:\n{stderr}");
        records = check(&dir, &oracle.lock(), &format!("after kill {run} (seed {seed})"));
    }
    let o = oracle.lock();
    let committed = o.txns.values().filter(|t| t.end == TxnEnd::Committed).count();
    assert!(
        o.idem.len() > 100 && committed > 10,
        "too little load: {} records, {committed} commits",
        o.idem.len()
    );
    eprintln!(
        "sigkill_torture: {kills} SIGKILLs survived ({during_startup} during start-up), {} events, {} \
         acknowledged idempotent records, {committed} acknowledged commits, {} records checked at the \
         end, {:?}",
        o.events,
        o.idem.len(),
        records,
        started.elapsed()
    );
}

/// Waits for the child and collects its stderr.
fn reap(child: &mut Child) -> (std::process::ExitStatus, String) {
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    (child.wait().unwrap(), stderr)
}

/// A temporary directory on `/dev/shm` when there is one (fsync is free there; a SIGKILL
/// loses nothing the page cache holds, on any file system).
fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::Builder::new().prefix("eoslog-torture").tempdir_in(shm)
    {
        return dir;
    }
    tempfile::tempdir().unwrap()
}

/// The oracle is not vacuous: each anomaly it is meant to catch, planted in a directory by
/// hand, makes `check` fail.
#[test]
fn oracle_catches_planted_anomalies() {
    if std::env::var(CHILD_VAR).is_ok() {
        return;
    }
    // The oracle's verdict: `Some(why)` when `check` fails. The panic hook stays as it is (it
    // is process-wide and the torture test runs alongside); the message is taken from the
    // payload instead.
    let verdict = |dir: &Path, o: &Oracle| -> Option<String> {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(dir, o, "planted")));
        r.err().map(|payload| {
            payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        })
    };
    let fails = |dir: &Path, o: &Oracle| verdict(dir, o).is_some();
    let plain_producer = |engine: &Engine| {
        Producer::new(
            engine,
            ProducerConfig::from_pairs(&[("enable.idempotence", "false"), ("linger.ms", "0")]).unwrap(),
        )
        .unwrap()
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let setup = |engine: &Engine| {
        for topic in ["idem", "txn"] {
            engine.create_topic_with(topic, PARTITIONS, &[]).unwrap();
        }
    };

    // A clean directory with one acknowledged record passes.
    let engine = open(&dir);
    setup(&engine);
    let md = plain_producer(&engine).send_sync(ProducerRecord::new("idem", "x").partition(0)).unwrap();
    engine.close().unwrap();
    let mut o = Oracle::default();
    o.record(&format!("I x 0 {}", md.offset));
    if let Some(why) = verdict(&dir, &o) {
        panic!("a clean directory fails the oracle: {why}");
    }

    // Lost: an acknowledged record that is not in the log.
    let mut lost = Oracle::default();
    lost.record(&format!("I x 0 {}", md.offset));
    lost.record("I y 1 0");
    assert!(fails(&dir, &lost), "a lost acknowledged record passes the oracle");

    // Moved: acknowledged at another offset.
    let mut moved = Oracle::default();
    moved.record(&format!("I x 0 {}", md.offset + 1));
    assert!(fails(&dir, &moved), "a record at another offset passes the oracle");

    // Aborted-but-visible and committed-but-lost transactions.
    let engine = open(&dir);
    let p = Producer::new(
        &engine,
        ProducerConfig::from_pairs(&[("transactional.id", TXN_ID), ("linger.ms", "0")]).unwrap(),
    )
    .unwrap();
    p.init_transactions().unwrap();
    p.begin_transaction().unwrap();
    p.send(ProducerRecord::new("txn", "r0t0-0").partition(0)).unwrap();
    p.commit_transaction().unwrap();
    p.close().unwrap();
    engine.close().unwrap();
    let mut aborted = Oracle::default();
    aborted.record(&format!("I x 0 {}", md.offset));
    aborted.record("T r0t0 1 -1");
    aborted.record("A r0t0");
    assert!(fails(&dir, &aborted), "an aborted transaction shown under read_committed passes the oracle");
    let mut committed = Oracle::default();
    committed.record(&format!("I x 0 {}", md.offset));
    committed.record("T r0t0 1 -1");
    committed.record("C r0t0");
    assert!(!fails(&dir, &committed), "a committed transaction fails the oracle");
    committed.record("T r0t1 1 -1");
    committed.record("R r0t1");
    committed.record("C r0t1");
    assert!(fails(&dir, &committed), "a lost acknowledged commit passes the oracle");

    // Duplicated: the same value written twice.
    let engine = open(&dir);
    plain_producer(&engine).send_sync(ProducerRecord::new("idem", "x").partition(2)).unwrap();
    engine.close().unwrap();
    let mut dup = Oracle::default();
    dup.record(&format!("I x 0 {}", md.offset));
    assert!(fails(&dir, &dup), "a duplicated record passes the oracle");
}
