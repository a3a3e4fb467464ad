//! Consumer groups keeping exactly-once: a consumer that lost its partitions in a rebalance
//! (a zombie) can neither commit offsets nor make its output visible, and the new owner
//! continues from the last committed offset (KIP-447); an in-process group of copiers that
//! members join, leave and die in copies every record exactly once.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use eoslog::clock::ManualClock;
use eoslog::group::{
    ConsumerGroupMetadata, GroupMember, GroupMemberConfig, GroupState, NoopListener, RebalanceListener,
};
use eoslog::log::{CommittedRecords, TopicPartition};
use eoslog::offsets::OffsetAndMetadata;
use eoslog::txn::{ProducerIdAndEpoch, TransactionVersion, TxnTopicPartition};
use eoslog::{Engine, EngineConfig, ErrorCode, IsolationLevel, RecordBatchBuilder};

const START: i64 = 1_700_000_000_000;
const SESSION: i32 = 10_000;
const TV: TransactionVersion = TransactionVersion::Tv2;
const WAIT: Duration = Duration::from_secs(60);

fn config(clock: &Arc<ManualClock>) -> EngineConfig {
    let mut c = common::config();
    c.clock = clock.clone();
    c.group_initial_rebalance_delay_ms = 0;
    c.transaction_abort_timed_out_interval_ms = 10;
    c
}

fn member_config(group: &str, name: &str) -> GroupMemberConfig {
    let mut c = GroupMemberConfig::new(group);
    c.client_id = name.to_string();
    c.session_timeout_ms = SESSION;
    c.rebalance_timeout_ms = SESSION;
    c
}

fn partition_count(engine: &Engine) -> impl Fn(&str) -> Option<i32> + '_ {
    move |t| engine.partition_count(t).ok()
}

fn transform(v: &str) -> String {
    format!("copied:{v}")
}

/// Writes `n` plain records `p<p>-<i>` to every partition of `topic`.
fn fill(engine: &Engine, topic: &str, partitions: i32, n: usize) {
    for p in 0..partitions {
        let mut b = RecordBatchBuilder::new();
        for i in 0..n {
            b.append(START, None, Some(format!("p{p}-{i}").as_bytes()), &[]);
        }
        engine.partition(topic, p).unwrap().append(&b.build().unwrap()).unwrap();
    }
}

/// The records a read_committed consumer sees in `topic-p` from `from`, at most `max`, and the
/// offset after the last one returned.
fn read_committed(engine: &Engine, topic: &str, p: i32, from: i64, max: usize) -> (Vec<String>, i64) {
    let log = engine.partition(topic, p).unwrap();
    let mut out = Vec::new();
    let mut offset = from;
    while out.len() < max && offset < log.last_stable_offset() {
        let data = log.read(offset, 1 << 20, IsolationLevel::ReadCommitted).unwrap();
        if data.records.is_empty() {
            break;
        }
        let c = CommittedRecords::from_fetch(&data, offset).unwrap();
        for r in c.records {
            if out.len() == max {
                return (out, r.offset);
            }
            out.push(String::from_utf8(r.value.unwrap()).unwrap());
            offset = r.offset + 1;
        }
        offset = offset.max(c.next_offset);
    }
    (out, offset)
}

fn all_committed(engine: &Engine, topic: &str, p: i32) -> Vec<String> {
    read_committed(engine, topic, p, 0, usize::MAX).0
}

/// A transactional producer over the engine's coordinator (what the in-process producer does).
struct TxnProducer {
    engine: Engine,
    id: String,
    pe: ProducerIdAndEpoch,
    timeout_ms: i32,
}

impl TxnProducer {
    fn new(engine: &Engine, id: &str, timeout_ms: i32) -> Self {
        let mut p = TxnProducer {
            engine: engine.clone(),
            id: id.to_string(),
            pe: ProducerIdAndEpoch { producer_id: -1, epoch: -1 },
            timeout_ms,
        };
        p.init();
        p
    }

    /// InitProducerId, retrying while a previous instance's transaction is being aborted.
    fn init(&mut self) {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.engine.transactions().init_producer_id(Some(&self.id), self.timeout_ms, None) {
                Ok(pe) => {
                    self.pe = pe;
                    return;
                }
                Err(e) if e.code() == ErrorCode::ConcurrentTransactions && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                Err(e) => panic!("init_producer_id({}): {e}", self.id),
            }
        }
    }

    /// Starts a transaction writing to `out-p` and the offsets, and writes `values` there.
    fn produce(&mut self, p: i32, values: &[String]) -> eoslog::Result<()> {
        let parts = [TxnTopicPartition::new("out", p), TxnTopicPartition::new("__consumer_offsets", 0)];
        self.engine.transactions().add_partitions_to_txn(
            &self.id,
            self.pe.producer_id,
            self.pe.epoch,
            &parts,
            TV,
        )?;
        let mut b =
            RecordBatchBuilder::new().producer(self.pe.producer_id, self.pe.epoch, 0).transactional(true);
        for v in values {
            b.append(START, None, Some(v.as_bytes()), &[]);
        }
        self.engine.produce("out", p, &b.build().unwrap(), Some(&self.id))?;
        Ok(())
    }

    /// `send_offsets_to_transaction` with the consumer's group metadata (KIP-447).
    fn send_offsets(&self, consumer: &ConsumerGroupMetadata, p: i32, next: i64) -> eoslog::Result<()> {
        let o = vec![("in".to_string(), p, OffsetAndMetadata::new(next))];
        self.engine.groups().txn_commit_offsets_for(self.pe.producer_id, self.pe.epoch, consumer, &o)
    }

    fn end(&mut self, commit: bool) -> eoslog::Result<()> {
        self.pe =
            self.engine.transactions().end_txn(&self.id, self.pe.producer_id, self.pe.epoch, commit, TV)?;
        Ok(())
    }
}

fn committed_offset(engine: &Engine, group: &str, p: i32) -> Option<i64> {
    let f = engine.groups().fetch_offsets(group, Some(&[("in".to_string(), p)]), true).unwrap();
    assert_eq!(f[0].error, ErrorCode::None);
    f[0].committed.as_ref().map(|o| o.offset)
}

#[test]
fn zombie_consumer_cannot_commit_and_its_output_never_becomes_visible() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(START);
    let engine = Engine::open(dir.path(), config(&clock)).unwrap();
    engine.create_topic("in", 1, common::small_topic()).unwrap();
    engine.create_topic("out", 1, common::small_topic()).unwrap();
    fill(&engine, "in", 1, 10);
    let pc = partition_count(&engine);

    // Consumer A owns in-0 and copies records 0..5 in one transaction.
    let mut a = GroupMember::new(engine.groups().clone(), member_config("copier", "a"), vec!["in".into()]);
    a.ensure_active_group(&pc, &mut NoopListener, WAIT).unwrap();
    assert_eq!(a.assignment(), &[TopicPartition::new("in", 0)]);
    let mut pa = TxnProducer::new(&engine, "copier-a", 60_000);
    let (records, next) = read_committed(&engine, "in", 0, 0, 5);
    pa.produce(0, &records.iter().map(|v| transform(v)).collect::<Vec<_>>()).unwrap();
    pa.send_offsets(&a.group_metadata(), 0, next).unwrap();
    pa.end(true).unwrap();
    assert_eq!(committed_offset(&engine, "copier", 0), Some(5));

    // A starts on records 5..10 and writes its output, then stalls: no heartbeat for a session.
    let (records, next) = read_committed(&engine, "in", 0, 5, 5);
    assert_eq!(next, 10);
    pa.produce(0, &records.iter().map(|v| transform(v)).collect::<Vec<_>>()).unwrap();
    let zombie = a.group_metadata();
    clock.advance(i64::from(SESSION));
    engine.groups().tick();
    assert_eq!(engine.groups().describe_group("copier").unwrap().state, GroupState::Empty, "A was expelled");

    // B joins, takes in-0 and starts from the last committed offset.
    let mut b = GroupMember::new(engine.groups().clone(), member_config("copier", "b"), vec!["in".into()]);
    b.ensure_active_group(&pc, &mut NoopListener, WAIT).unwrap();
    assert_eq!(b.assignment(), &[TopicPartition::new("in", 0)]);
    assert!(b.generation_id() > zombie.generation_id);
    let from = committed_offset(&engine, "copier", 0).unwrap();
    assert_eq!(from, 5);

    // The zombie wakes up: its offset commits are refused, transactional or not.
    let e = pa.send_offsets(&zombie, 0, next).unwrap_err();
    assert!(matches!(e.code(), ErrorCode::UnknownMemberId | ErrorCode::IllegalGeneration), "{e}");
    let e = a.commit_offsets(&[("in".to_string(), 0, OffsetAndMetadata::new(next))]).unwrap_err();
    assert!(matches!(e.code(), ErrorCode::UnknownMemberId | ErrorCode::IllegalGeneration), "{e}");
    assert_eq!(committed_offset(&engine, "copier", 0), Some(5), "nothing the zombie sent counts");

    // B copies 5..10 in its own transaction (one transactional id per application instance).
    let mut pb = TxnProducer::new(&engine, "copier-b", 60_000);
    let (records, next_b) = read_committed(&engine, "in", 0, from, 100);
    pb.produce(0, &records.iter().map(|v| transform(v)).collect::<Vec<_>>()).unwrap();
    pb.send_offsets(&b.group_metadata(), 0, next_b).unwrap();
    pb.end(true).unwrap();
    assert_eq!(committed_offset(&engine, "copier", 0), Some(10));
    // A's transaction is still open, so nothing after its first write is visible yet.
    assert_eq!(all_committed(&engine, "out", 0).len(), 5);

    // A's producer, whose offset commit failed, cannot commit its offsets: its transaction ends
    // in an abort — here by the coordinator's transaction timeout, as if A never came back.
    clock.advance(60_000);
    assert!(engine.transactions().abort_timed_out_transactions() <= 1);
    let out = all_committed(&engine, "out", 0);
    let expected: Vec<String> = (0..10).map(|i| transform(&format!("p0-{i}"))).collect();
    assert_eq!(out, expected, "every record copied exactly once; none of A's second output");
    let log = engine.partition("out", 0).unwrap();
    assert_eq!(log.last_stable_offset(), log.log_end_offset());
    // The zombie can do nothing any more.
    assert!(pa.end(true).is_err());
}

#[test]
fn replaced_static_member_is_fenced() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(START);
    let engine = Engine::open(dir.path(), config(&clock)).unwrap();
    engine.create_topic("in", 2, common::small_topic()).unwrap();
    let pc = partition_count(&engine);
    let mut cfg = member_config("static", "a");
    cfg.group_instance_id = Some("instance-a".into());
    let mut old = GroupMember::new(engine.groups().clone(), cfg.clone(), vec!["in".into()]);
    old.ensure_active_group(&pc, &mut NoopListener, WAIT).unwrap();
    let generation = old.generation_id();
    // A second process with the same group.instance.id starts: it takes over without a
    // rebalance, with the same generation and assignment.
    let mut new = GroupMember::new(engine.groups().clone(), cfg, vec!["in".into()]);
    new.ensure_active_group(&pc, &mut NoopListener, WAIT).unwrap();
    assert_eq!(new.generation_id(), generation);
    assert_eq!(new.assignment(), old.assignment());
    assert_ne!(new.member_id(), old.member_id());
    let txn = engine.transactions();
    let pe = txn.init_producer_id(Some("t"), 60_000, None).unwrap();
    txn.add_partitions_to_txn(
        "t",
        pe.producer_id,
        pe.epoch,
        &[TxnTopicPartition::new("__consumer_offsets", 0)],
        TV,
    )
    .unwrap();
    let o = vec![("in".to_string(), 0, OffsetAndMetadata::new(1))];
    let e = engine
        .groups()
        .txn_commit_offsets_for(pe.producer_id, pe.epoch, &old.group_metadata(), &o)
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::FencedInstanceId);
    assert_eq!(old.heartbeat().unwrap_err().code(), ErrorCode::FencedInstanceId);
    engine.groups().txn_commit_offsets_for(pe.producer_id, pe.epoch, &new.group_metadata(), &o).unwrap();
    txn.end_txn("t", pe.producer_id, pe.epoch, true, TV).unwrap();
    assert_eq!(committed_offset(&engine, "static", 0), Some(1));
}

#[test]
fn new_owner_waits_for_a_zombie_transaction_holding_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(START);
    let engine = Engine::open(dir.path(), config(&clock)).unwrap();
    engine.create_topic("in", 1, common::small_topic()).unwrap();
    engine.create_topic("out", 1, common::small_topic()).unwrap();
    fill(&engine, "in", 1, 4);
    let pc = partition_count(&engine);
    let mut a = GroupMember::new(engine.groups().clone(), member_config("g", "a"), vec!["in".into()]);
    a.ensure_active_group(&pc, &mut NoopListener, WAIT).unwrap();
    // A's offsets were accepted (it was a member) but its transaction is not finished when it
    // loses the partition.
    let mut pa = TxnProducer::new(&engine, "a", 30_000);
    pa.produce(0, &["x".to_string()]).unwrap();
    pa.send_offsets(&a.group_metadata(), 0, 4).unwrap();
    clock.advance(i64::from(SESSION));
    let mut b = GroupMember::new(engine.groups().clone(), member_config("g", "b"), vec!["in".into()]);
    b.ensure_active_group(&pc, &mut NoopListener, WAIT).unwrap();
    // B must not start from an offset A's transaction may still change.
    let f = engine.groups().fetch_offsets("g", Some(&[("in".to_string(), 0)]), true).unwrap();
    assert_eq!(f[0].error, ErrorCode::UnstableOffsetCommit);
    assert!(f[0].committed.is_none());
    // A's transaction times out and aborts: B starts from the beginning, A's output is gone.
    clock.advance(30_000);
    engine.transactions().abort_timed_out_transactions();
    assert_eq!(committed_offset(&engine, "g", 0), None);
    assert!(all_committed(&engine, "out", 0).is_empty());
}

/// Records which member owns which partition and fails if two members ever own one at once.
#[derive(Clone)]
struct Owners {
    name: String,
    owners: Arc<parking_lot::Mutex<BTreeMap<TopicPartition, String>>>,
    assigned_calls: Arc<std::sync::atomic::AtomicUsize>,
}

impl RebalanceListener for Owners {
    fn on_partitions_revoked(&mut self, partitions: &[TopicPartition]) {
        let mut o = self.owners.lock();
        for p in partitions {
            assert_eq!(
                o.remove(p).as_deref(),
                Some(self.name.as_str()),
                "{} revoked {p} it did not own",
                self.name
            );
        }
    }
    fn on_partitions_assigned(&mut self, partitions: &[TopicPartition]) {
        self.assigned_calls.fetch_add(1, Ordering::Relaxed);
        let mut o = self.owners.lock();
        for p in partitions {
            if let Some(other) = o.insert(p.clone(), self.name.clone()) {
                panic!("{p} assigned to {} while {other} owns it", self.name);
            }
        }
    }
    fn on_partitions_lost(&mut self, partitions: &[TopicPartition]) {
        self.on_partitions_revoked(partitions)
    }
}

#[test]
fn cooperative_members_in_threads_never_share_a_partition() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(START);
    let engine = Engine::open(dir.path(), config(&clock)).unwrap();
    engine.create_topic("in", 12, common::small_topic()).unwrap();
    let owners = Arc::new(parking_lot::Mutex::new(BTreeMap::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let spawn = |name: &str, rounds_before_leaving: Option<usize>| {
        let (engine, owners, stop, name) = (engine.clone(), owners.clone(), stop.clone(), name.to_string());
        std::thread::spawn(move || {
            let pc = partition_count(&engine);
            let mut listener = Owners {
                name: name.clone(),
                owners,
                assigned_calls: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            };
            let mut m =
                GroupMember::new(engine.groups().clone(), member_config("coop", &name), vec!["in".into()]);
            let hb = m.heartbeater();
            let mut rounds = 0;
            while !stop.load(Ordering::Acquire) {
                m.ensure_active_group(&pc, &mut listener, WAIT).unwrap();
                rounds += 1;
                if rounds_before_leaving.is_some_and(|r| rounds >= r) {
                    break;
                }
                hb.heartbeat().unwrap();
                hb.await_rebalance(Duration::from_millis(5));
                hb.heartbeat().unwrap();
            }
            let owned = m.assignment().to_vec();
            m.leave(&mut listener).unwrap();
            owned
        })
    };
    let a = spawn("a", None);
    let b = spawn("b", None);
    let c = spawn("c", Some(50));
    c.join().unwrap();
    let d = spawn("d", None);
    // Wait until the three remaining members share the twelve partitions four by four.
    let deadline = Instant::now() + WAIT;
    loop {
        let counts = {
            let o = owners.lock();
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for v in o.values() {
                *counts.entry(v.clone()).or_default() += 1;
            }
            counts
        };
        let settled = counts.len() == 3 && counts.values().all(|n| *n == 4);
        let stable = engine.groups().describe_group("coop").is_some_and(|g| g.state == GroupState::Stable);
        if settled && stable {
            break;
        }
        assert!(Instant::now() < deadline, "the group did not settle: {counts:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
    stop.store(true, Ordering::Release);
    for t in [a, b, d] {
        assert_eq!(t.join().unwrap().len(), 4);
    }
    assert!(owners.lock().is_empty(), "every member revoked its partitions when leaving");
}

/// One copier: a group member and a transactional producer (one transactional id per
/// instance) copying `in` to `out` partition by partition, with the consumer's generation on
/// every offset commit.
struct Copier {
    leave: Arc<AtomicBool>,
    kill: Arc<AtomicBool>,
    /// Set when a killed copier died after writing output and before committing.
    died_mid_transaction: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<()>,
}

fn spawn_copier(engine: &Engine, name: &str, batch: usize, all_done: Arc<AtomicBool>) -> Copier {
    let leave = Arc::new(AtomicBool::new(false));
    let kill = Arc::new(AtomicBool::new(false));
    let died_mid_transaction = Arc::new(AtomicBool::new(false));
    let (engine, name, l, k, died) =
        (engine.clone(), name.to_string(), leave.clone(), kill.clone(), died_mid_transaction.clone());
    let handle = std::thread::spawn(move || {
        let pc = partition_count(&engine);
        let mut member =
            GroupMember::new(engine.groups().clone(), member_config("copier", &name), vec!["in".into()]);
        let mut producer = TxnProducer::new(&engine, &format!("copier-{name}"), 60_000);
        // Heartbeats from their own thread, as a consumer's heartbeat thread does.
        let hb = member.heartbeater();
        let hb_stop = Arc::new(AtomicBool::new(false));
        let hb_thread = {
            let s = hb_stop.clone();
            std::thread::spawn(move || {
                while !s.load(Ordering::Acquire) {
                    let _ = hb.heartbeat();
                    hb.await_rebalance(Duration::from_millis(1));
                }
            })
        };
        let die = || {
            // Killed: no LeaveGroup, no abort; its session and transaction time out.
            hb_stop.store(true, Ordering::Release);
        };
        loop {
            if died.load(Ordering::Acquire) {
                die();
                hb_thread.join().unwrap();
                return;
            }
            if l.load(Ordering::Acquire) || all_done.load(Ordering::Acquire) {
                break;
            }
            if member.needs_rejoin() {
                match member.ensure_active_group(&pc, &mut NoopListener, Duration::from_millis(100)) {
                    Ok(()) => {}
                    Err(e) if e.code() == ErrorCode::RequestTimedOut => continue,
                    Err(e) => panic!("{name}: {e}"),
                }
            }
            let mut progressed = false;
            for tp in member.assignment().to_vec() {
                if member.needs_rejoin() {
                    break;
                }
                let f = engine
                    .groups()
                    .fetch_offsets("copier", Some(&[("in".to_string(), tp.partition)]), true)
                    .unwrap();
                if f[0].error == ErrorCode::UnstableOffsetCommit {
                    continue;
                }
                let from = f[0].committed.as_ref().map(|o| o.offset).unwrap_or(0);
                let (records, next) = read_committed(&engine, "in", tp.partition, from, batch);
                if records.is_empty() {
                    continue;
                }
                progressed = true;
                let values: Vec<String> = records.iter().map(|v| transform(v)).collect();
                let produced = producer.produce(tp.partition, &values);
                if produced.is_ok() && k.load(Ordering::Acquire) {
                    // A kill takes effect in the middle of a transaction: output written,
                    // offsets not sent, nothing committed or aborted.
                    died.store(true, Ordering::Release);
                    break;
                }
                let outcome = produced
                    .and_then(|()| producer.send_offsets(&member.group_metadata(), tp.partition, next));
                let ended = match outcome {
                    Ok(()) => producer.end(true),
                    // Fenced by a rebalance (or anything else): the transaction must not
                    // commit; the member rejoins.
                    Err(_) => {
                        member.request_rejoin();
                        producer.end(false)
                    }
                };
                if ended.is_err() {
                    // The coordinator aborted the transaction (timeout) and bumped the epoch.
                    producer.init();
                }
            }
            if !progressed {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let _ = member.leave(&mut NoopListener);
        hb_stop.store(true, Ordering::Release);
        hb_thread.join().unwrap();
    });
    Copier { leave, kill, died_mid_transaction, handle }
}

#[test]
fn copier_group_with_members_joining_leaving_and_dying_copies_exactly_once() {
    const PARTITIONS: i32 = 6;
    const RECORDS: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(START);
    let engine = Engine::open(dir.path(), config(&clock)).unwrap();
    engine.create_topic("in", PARTITIONS, common::small_topic()).unwrap();
    engine.create_topic("out", PARTITIONS, common::small_topic()).unwrap();
    fill(&engine, "in", PARTITIONS, RECORDS);
    let total = (PARTITIONS as usize * RECORDS) as i64;
    let all_done = Arc::new(AtomicBool::new(false));
    // Committed offsets, ignoring transactional commits still pending.
    let progress = || -> i64 {
        (0..PARTITIONS).filter_map(|p| engine.offsets().committed("copier", "in", p)).map(|o| o.offset).sum()
    };
    let finished = || {
        progress() == total
            && (0..PARTITIONS).all(|p| {
                let log = engine.partition("out", p).unwrap();
                log.last_stable_offset() == log.log_end_offset()
            })
    };
    // Time only moves when the test moves it: 200 ms of the engine's clock per step, so that
    // sessions (10 s) of members that stopped heartbeating and transactions (60 s) of members
    // that died expire, while live members heartbeat continuously from their own threads.
    let deadline = Instant::now() + Duration::from_secs(120);
    let run_until = |target: i64| {
        while progress() < target && !finished() {
            assert!(Instant::now() < deadline, "no progress: {} of {total}", progress());
            clock.advance(200);
            engine.groups().tick();
            engine.transactions().abort_timed_out_transactions();
            std::thread::sleep(Duration::from_millis(2));
        }
    };
    let a = spawn_copier(&engine, "a", 7, all_done.clone());
    let b = spawn_copier(&engine, "b", 7, all_done.clone());
    let c = spawn_copier(&engine, "c", 7, all_done.clone());
    run_until(total / 4);
    let d = spawn_copier(&engine, "d", 7, all_done.clone());
    run_until(total * 9 / 20);
    c.leave.store(true, Ordering::Release);
    run_until(total * 13 / 20);
    b.kill.store(true, Ordering::Release);
    run_until(total);
    while !finished() {
        assert!(Instant::now() < deadline, "the killed member's transaction was never aborted");
        clock.advance(1_000);
        engine.transactions().abort_timed_out_transactions();
        std::thread::sleep(Duration::from_millis(1));
    }
    all_done.store(true, Ordering::Release);
    assert!(b.died_mid_transaction.load(Ordering::Acquire), "b was killed with a transaction open");
    for copier in [a, b, c, d] {
        copier.handle.join().unwrap();
    }
    let aborted: usize = (0..PARTITIONS)
        .map(|p| engine.partition("out", p).unwrap().read(0, 1 << 24, IsolationLevel::ReadCommitted).unwrap())
        .map(|d| d.aborted_transactions.map_or(0, |a| a.len()))
        .sum();
    assert!(aborted >= 1, "the killed member's transaction was aborted");
    // The oracle: every partition's output is the transformed input, exactly once, in order;
    // the group's committed offsets are at the end of every input partition.
    for p in 0..PARTITIONS {
        let input = all_committed(&engine, "in", p);
        let expected: Vec<String> = input.iter().map(|v| transform(v)).collect();
        assert_eq!(all_committed(&engine, "out", p), expected, "partition {p}");
        assert_eq!(committed_offset(&engine, "copier", p), Some(RECORDS as i64), "partition {p}");
    }
}
