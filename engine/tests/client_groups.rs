//! Consumer groups through the in-process clients: `Consumer::subscribe` with rebalance
//! callbacks (cooperative and eager), static membership, `auto.offset.reset`, pattern
//! subscriptions, the poll timeout, and the zombie consumer of KIP-447 end to end — a consumer
//! expelled from its group can neither commit offsets nor make its output visible, and the new
//! owner continues from the last committed offset.
//!
//! The engine runs on a manual clock: sessions expire only when a test moves the clock, so
//! every expulsion is deliberate. Members that must rebalance together poll from their own
//! threads (a rebalance completes when every member has rejoined, inside its `poll`); the
//! tests wait for outcomes, never for a time.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use eoslog::client::{
    Consumer, ConsumerConfig, ConsumerRebalanceListener, NoopListener, OffsetAndMetadata, Producer,
    ProducerConfig, ProducerRecord, TopicPartition, TransactionState,
};
use eoslog::clock::ManualClock;
use eoslog::{Engine, EngineConfig, ErrorCode, GroupState, IsolationLevel};
use parking_lot::Mutex;

const START: i64 = 1_700_000_000_000;
const SESSION_MS: i64 = 10_000;
/// Upper bound on waiting for an outcome (a hang guard, not a timing assertion).
const PATIENCE: Duration = Duration::from_secs(60);

fn engine(dir: &std::path::Path) -> (Engine, Arc<ManualClock>) {
    let clock = ManualClock::new(START);
    let config =
        EngineConfig { clock: clock.clone(), group_initial_rebalance_delay_ms: 0, ..common::config() };
    (Engine::open(dir, config).unwrap(), clock)
}

fn consumer(engine: &Engine, group: &str, extra: &[(&str, &str)]) -> Consumer {
    let session = SESSION_MS.to_string();
    let mut pairs = vec![
        ("group.id", group),
        ("auto.offset.reset", "earliest"),
        ("session.timeout.ms", session.as_str()),
        ("heartbeat.interval.ms", "1000"),
    ];
    pairs.extend_from_slice(extra);
    Consumer::new(engine, ConsumerConfig::from_pairs(&pairs).unwrap()).unwrap()
}

fn tps(topic: &str, partitions: &[i32]) -> Vec<TopicPartition> {
    partitions.iter().map(|p| TopicPartition::new(topic, *p)).collect()
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// One callback as a listener saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Call {
    member: &'static str,
    kind: &'static str,
    partitions: Vec<TopicPartition>,
    /// For revocations: whether a `commit_sync` from inside the callback was accepted.
    committed: Option<bool>,
}

/// Records every callback in one log shared by all members (so the order across members is
/// visible), commits from inside `on_partitions_revoked` as an application would, and checks
/// that a partition is never owned by two members at once.
#[derive(Clone)]
struct Recorder {
    member: &'static str,
    log: Arc<Mutex<Vec<Call>>>,
    owners: Arc<Mutex<std::collections::BTreeMap<TopicPartition, &'static str>>>,
}

impl Recorder {
    fn new(member: &'static str, log: &Arc<Mutex<Vec<Call>>>, owners: &Arc<Mutex<Owners>>) -> Self {
        Recorder { member, log: log.clone(), owners: owners.clone() }
    }

    fn release(&self, partitions: &[TopicPartition]) {
        let mut o = self.owners.lock();
        for p in partitions {
            assert_eq!(o.remove(p), Some(self.member), "{} gave up {p} it did not own", self.member);
        }
    }
}

type Owners = std::collections::BTreeMap<TopicPartition, &'static str>;

impl ConsumerRebalanceListener for Recorder {
    fn on_partitions_revoked(&mut self, consumer: &Consumer, partitions: &[TopicPartition]) {
        assert!(
            partitions.iter().all(|p| consumer.assignment().contains(p)),
            "revoked partitions are still assigned during the callback"
        );
        let committed = consumer.commit_sync().is_ok();
        self.release(partitions);
        self.log.lock().push(Call {
            member: self.member,
            kind: "revoked",
            partitions: partitions.to_vec(),
            committed: Some(committed),
        });
    }

    fn on_partitions_assigned(&mut self, consumer: &Consumer, partitions: &[TopicPartition]) {
        assert!(partitions.iter().all(|p| consumer.assignment().contains(p)), "assigned before the callback");
        let mut o = self.owners.lock();
        for p in partitions {
            if let Some(other) = o.insert(p.clone(), self.member) {
                panic!("{p} assigned to {} while {other} owns it", self.member);
            }
        }
        self.log.lock().push(Call {
            member: self.member,
            kind: "assigned",
            partitions: partitions.to_vec(),
            committed: None,
        });
    }

    fn on_partitions_lost(&mut self, _: &Consumer, partitions: &[TopicPartition]) {
        self.release(partitions);
        self.log.lock().push(Call {
            member: self.member,
            kind: "lost",
            partitions: partitions.to_vec(),
            committed: None,
        });
    }
}

/// Polls `consumer` from a thread until stopped; returns how many records it got.
struct Poller {
    consumer: Arc<Consumer>,
    stop: Arc<AtomicBool>,
    handle: JoinHandle<usize>,
}

impl Poller {
    fn start(consumer: Arc<Consumer>) -> Poller {
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (consumer.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            let mut n = 0;
            while !s.load(Ordering::Acquire) {
                n += c.poll(Duration::from_millis(20)).unwrap().len();
            }
            n
        });
        Poller { consumer, stop, handle }
    }

    fn stop(self) -> (Arc<Consumer>, usize) {
        self.stop.store(true, Ordering::Release);
        self.consumer.wakeup();
        let n = self.handle.join().unwrap();
        (self.consumer, n)
    }
}

fn stable(engine: &Engine, group: &str, members: usize) -> bool {
    engine
        .groups()
        .describe_group(group)
        .is_some_and(|d| d.state == GroupState::Stable && d.members.len() == members)
}

fn fill(engine: &Engine, topic: &str, partitions: i32, per_partition: usize) {
    let producer = Producer::new(engine, ProducerConfig::default()).unwrap();
    for p in 0..partitions {
        for i in 0..per_partition {
            producer.send(ProducerRecord::new(topic, format!("{topic}-{p}-{i}")).partition(p)).unwrap();
        }
    }
    producer.close().unwrap();
}

/// A second member joining a one-member group: with cooperative-sticky only the partitions
/// that move are revoked (after the rebalance, then assigned to the newcomer in a follow-up
/// one); with range every partition is revoked first. Commits from inside the revocation
/// callback are accepted, and no partition is ever owned twice.
#[test]
fn rebalance_callbacks_in_order_cooperative_and_eager() {
    for strategy in ["cooperative-sticky", "range"] {
        let dir = tempfile::tempdir().unwrap();
        let (engine, _clock) = engine(dir.path());
        engine.create_topic("in", 4, common::small_topic()).unwrap();
        fill(&engine, "in", 4, 3);
        let log = Arc::new(Mutex::new(Vec::new()));
        let owners = Arc::new(Mutex::new(Owners::new()));
        let group = format!("g-{strategy}");
        let extra = [("partition.assignment.strategy", strategy)];

        let a = Arc::new(consumer(&engine, &group, &extra));
        a.subscribe(&["in"], Recorder::new("a", &log, &owners)).unwrap();
        assert_eq!(a.subscription(), ["in"]);
        let pa = Poller::start(a.clone());
        wait_until("a owns every partition", || a.assignment().len() == 4 && stable(&engine, &group, 1));
        let generation_one = a.group_metadata().unwrap().generation_id;

        let b = Arc::new(consumer(&engine, &group, &extra));
        b.subscribe(&["in"], Recorder::new("b", &log, &owners)).unwrap();
        let pb = Poller::start(b.clone());
        wait_until("two members with two partitions each", || {
            a.assignment().len() == 2 && b.assignment().len() == 2 && stable(&engine, &group, 2)
        });
        let (a, _) = pa.stop();
        let (b, _) = pb.stop();
        assert!(a.group_metadata().unwrap().generation_id > generation_one);
        assert_eq!(a.group_metadata().unwrap().generation_id, b.group_metadata().unwrap().generation_id);

        let calls = log.lock().clone();
        let a_calls: Vec<&Call> = calls.iter().filter(|c| c.member == "a").collect();
        let b_calls: Vec<&Call> = calls.iter().filter(|c| c.member == "b").collect();
        assert_eq!(a_calls[0].kind, "assigned");
        assert_eq!(a_calls[0].partitions, tps("in", &[0, 1, 2, 3]));
        assert!(calls.iter().all(|c| c.kind != "lost"), "{calls:?}");
        assert!(calls.iter().all(|c| c.committed != Some(false)), "commits in the callback: {calls:?}");
        let revoked: Vec<&Call> = a_calls.iter().copied().filter(|c| c.kind == "revoked").collect();
        let b_got: BTreeSet<TopicPartition> =
            b_calls.iter().filter(|c| c.kind == "assigned").flat_map(|c| c.partitions.clone()).collect();
        assert_eq!(b_got, b.assignment().into_iter().collect());
        // The newcomer gets its partitions only after their owner revoked them.
        let first_revocation = calls.iter().position(|c| c.kind == "revoked").unwrap();
        let first_grant = calls.iter().position(|c| c.member == "b" && !c.partitions.is_empty()).unwrap();
        assert!(first_revocation < first_grant, "{calls:?}");
        match strategy {
            "cooperative-sticky" => {
                // Only the two partitions that moved, once.
                assert_eq!(revoked.len(), 1, "{calls:?}");
                let moved: BTreeSet<TopicPartition> = revoked[0].partitions.iter().cloned().collect();
                assert_eq!(moved, b_got);
                // A keeps the other two without ever giving them up.
                let kept: BTreeSet<TopicPartition> = a.assignment().into_iter().collect();
                assert!(kept.is_disjoint(&moved));
            }
            _ => {
                // Eager: everything is revoked before rejoining, then half comes back.
                assert_eq!(revoked[0].partitions, tps("in", &[0, 1, 2, 3]), "{calls:?}");
                let last_a = a_calls.iter().rev().find(|c| c.kind == "assigned").unwrap();
                assert_eq!(last_a.partitions, a.assignment());
            }
        }
        // Closing revokes and leaves: b takes everything over in the next rebalance.
        let pb = Poller::start(b);
        a.close().unwrap();
        assert!(owners.lock().values().all(|m| *m == "b"));
        wait_until("b owns every partition", || {
            pb.consumer.assignment().len() == 4 && stable(&engine, &group, 1)
        });
        let (b, _) = pb.stop();
        b.close().unwrap();
        assert!(owners.lock().is_empty());
        assert_eq!(engine.groups().describe_group(&group).unwrap().state, GroupState::Empty);
    }
}

/// A static member that restarts (its old instance closed without leaving) gets its
/// partitions back in the same generation: no rebalance, no callback for the other member.
/// The instance it replaced is fenced: its commits are refused with FENCED_INSTANCE_ID, and a
/// transaction carrying its offsets can only be aborted (the producer stays usable).
#[test]
fn static_member_restart_without_rebalance_and_the_replaced_instance_is_fenced() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _clock) = engine(dir.path());
    engine.create_topic("in", 4, common::small_topic()).unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let owners = Arc::new(Mutex::new(Owners::new()));
    let a = Arc::new(consumer(&engine, "static", &[("group.instance.id", "instance-a")]));
    let b = Arc::new(consumer(&engine, "static", &[("group.instance.id", "instance-b")]));
    a.subscribe(&["in"], Recorder::new("a", &log, &owners)).unwrap();
    b.subscribe(&["in"], Recorder::new("b", &log, &owners)).unwrap();
    let (pa, pb) = (Poller::start(a), Poller::start(b));
    wait_until("two static members", || {
        pa.consumer.assignment().len() == 2
            && pb.consumer.assignment().len() == 2
            && stable(&engine, "static", 2)
    });
    let (a, _) = pa.stop();
    let before = engine.groups().describe_group("static").unwrap();
    let a_partitions = a.assignment();
    let a_member = a.group_metadata().unwrap();
    let b_calls_before = log.lock().iter().filter(|c| c.member == "b").count();

    // The old instance stops (a static member sends no LeaveGroup) and a new one starts.
    let zombie =
        Producer::new(&engine, ProducerConfig::from_pairs(&[("transactional.id", "tx-a")]).unwrap()).unwrap();
    zombie.init_transactions().unwrap();
    let a2 = Arc::new(consumer(&engine, "static", &[("group.instance.id", "instance-a")]));
    let restarted = Arc::new(Mutex::new(Vec::new()));
    a2.subscribe(&["in"], Recorder::new("a2", &restarted, &Arc::new(Mutex::new(Owners::new())))).unwrap();
    let pa2 = Poller::start(a2);
    wait_until("the restarted instance has its partitions", || pa2.consumer.assignment() == a_partitions);
    let after = engine.groups().describe_group("static").unwrap();
    assert_eq!(after.generation_id, before.generation_id, "no rebalance");
    assert_eq!(after.state, GroupState::Stable);
    let a2_member = pa2.consumer.group_metadata().unwrap();
    assert_eq!(a2_member.generation_id, a_member.generation_id);
    assert_ne!(a2_member.member_id, a_member.member_id);
    let calls = restarted.lock().clone();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!((calls[0].kind, &calls[0].partitions), ("assigned", &a_partitions));
    assert_eq!(log.lock().iter().filter(|c| c.member == "b").count(), b_calls_before, "b saw nothing");

    // The replaced instance is fenced.
    let e = a.commit(&[(a_partitions[0].clone(), OffsetAndMetadata::new(0))]).unwrap_err();
    assert_eq!(e.code(), ErrorCode::FencedInstanceId);
    assert_eq!(a.poll(Duration::ZERO).unwrap_err().code(), ErrorCode::FencedInstanceId);
    zombie.begin_transaction().unwrap();
    let e = zombie
        .send_offsets_to_transaction(&[(a_partitions[0].clone(), OffsetAndMetadata::new(0))], &a_member)
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::FencedInstanceId);
    assert_eq!(zombie.transaction_state(), TransactionState::AbortableError, "not fatal");
    assert_eq!(zombie.commit_transaction().unwrap_err().code(), ErrorCode::TransactionAbortable);
    zombie.abort_transaction().unwrap();
    // The same producer works for the instance that owns the partitions now.
    zombie.begin_transaction().unwrap();
    zombie
        .send_offsets_to_transaction(&[(a_partitions[0].clone(), OffsetAndMetadata::new(0))], &a2_member)
        .unwrap();
    zombie.commit_transaction().unwrap();
    pb.stop();
    pa2.stop();
}

/// `auto.offset.reset` decides where a newly assigned partition starts only when the group
/// has no committed offset for it.
#[test]
fn auto_offset_reset_with_and_without_committed_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _clock) = engine(dir.path());
    engine.create_topic("t", 1, common::small_topic()).unwrap();
    fill(&engine, "t", 1, 5);
    let tp = TopicPartition::new("t", 0);
    for reset in ["earliest", "latest", "none"] {
        for with_commit in [false, true] {
            let group = format!("reset-{reset}-{with_commit}");
            if with_commit {
                // A commit made outside group membership while the group has no members.
                engine.offsets().commit(&group, &[("t".into(), 0, OffsetAndMetadata::new(3))]).unwrap();
            }
            let c = consumer(&engine, &group, &[("auto.offset.reset", reset)]);
            c.subscribe(&["t"], NoopListener).unwrap();
            let mut result = c.poll(Duration::ZERO);
            while result.as_ref().is_ok_and(|r| r.is_empty()) && c.assignment().is_empty() {
                result = c.poll(Duration::ZERO);
            }
            let what = format!("{reset}, committed offset: {with_commit}");
            match (reset, with_commit) {
                ("none", false) => {
                    assert_eq!(result.unwrap_err().code(), ErrorCode::OffsetOutOfRange, "{what}");
                    assert_eq!(c.assignment(), std::slice::from_ref(&tp), "{what}");
                }
                ("latest", false) => {
                    assert!(result.unwrap().is_empty(), "{what}");
                    assert_eq!(c.position(&tp).unwrap(), 5, "{what}");
                }
                _ => {
                    let mut records = result.unwrap();
                    while records.is_empty() {
                        records = c.poll(Duration::from_secs(5)).unwrap();
                    }
                    let first = if with_commit { 3 } else { 0 };
                    assert_eq!(records[0].offset, first, "{what}");
                    assert_eq!(records.len(), 5 - first as usize, "{what}");
                }
            }
            c.close().unwrap();
        }
    }
}

/// Subscribing and assigning are exclusive; commits need a joined member; a pattern follows
/// topics created later.
#[test]
fn subscription_rules_and_pattern_subscription() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _clock) = engine(dir.path());
    engine.create_topic("metrics-a", 2, common::small_topic()).unwrap();
    engine.create_topic("logs", 1, common::small_topic()).unwrap();
    let no_group = Consumer::new(&engine, ConsumerConfig::default()).unwrap();
    assert_eq!(no_group.subscribe(&["logs"], NoopListener).unwrap_err().code(), ErrorCode::InvalidGroupId);

    let c = consumer(&engine, "patterns", &[("metadata.max.age.ms", "0")]);
    c.assign(&[TopicPartition::new("logs", 0)]).unwrap();
    assert!(c.subscribe(&["logs"], NoopListener).is_err(), "assign, then subscribe");
    c.unsubscribe().unwrap();
    c.subscribe_pattern(|t| t.starts_with("metrics-"), NoopListener).unwrap();
    assert!(c.assign(&[TopicPartition::new("logs", 0)]).is_err(), "subscribe, then assign");
    assert_eq!(c.subscription(), ["metrics-a"]);
    assert_eq!(c.commit_sync().unwrap_err().code(), ErrorCode::RebalanceInProgress, "not joined yet");
    wait_until("metrics-a assigned", || {
        c.poll(Duration::ZERO).unwrap();
        c.assignment() == tps("metrics-a", &[0, 1])
    });
    c.commit_sync().unwrap();
    engine.create_topic("metrics-b", 1, common::small_topic()).unwrap();
    wait_until("metrics-b assigned", || {
        c.poll(Duration::ZERO).unwrap();
        c.assignment().len() == 3
    });
    assert_eq!(c.subscription(), ["metrics-a", "metrics-b"]);
    assert!(c.assignment().contains(&TopicPartition::new("metrics-b", 0)));
    c.unsubscribe().unwrap();
    assert!(c.assignment().is_empty() && c.subscription().is_empty());
    assert_eq!(engine.groups().describe_group("patterns").unwrap().state, GroupState::Empty);
}

/// A consumer that does not poll for `max.poll.interval.ms` leaves its group, as Kafka's does:
/// its partitions go to the member that polls, and its next poll reports them lost.
#[test]
fn a_consumer_that_stops_polling_leaves_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _clock) = engine(dir.path());
    engine.create_topic("in", 2, common::small_topic()).unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let owners = Arc::new(Mutex::new(Owners::new()));
    let slow = consumer(&engine, "polling", &[("max.poll.interval.ms", "300")]);
    slow.subscribe(&["in"], Recorder::new("slow", &log, &owners)).unwrap();
    wait_until("slow joined", || {
        slow.poll(Duration::ZERO).unwrap();
        slow.assignment().len() == 2
    });
    // `slow` stops polling; `fast` joins and, once `slow` has left, owns both partitions.
    let fast = Arc::new(consumer(&engine, "polling", &[]));
    fast.subscribe(&["in"], NoopListener).unwrap();
    let pf = Poller::start(fast);
    wait_until("fast owns both partitions", || {
        pf.consumer.assignment().len() == 2 && stable(&engine, "polling", 1)
    });
    slow.poll(Duration::from_millis(1)).unwrap();
    let calls = log.lock().clone();
    assert!(calls.iter().any(|c| c.kind == "lost" && c.partitions == tps("in", &[0, 1])), "{calls:?}");
    assert!(calls.iter().all(|c| c.kind != "revoked"), "nothing was handed over in order: {calls:?}");
    assert!(slow.assignment().is_empty(), "fast owns both until the next rebalance");
    pf.stop();
}

fn transform(v: &str) -> String {
    format!("copied:{v}")
}

/// Copies what `consumer` polls into `out` in one transaction carrying its offsets.
fn copy_batch(consumer: &Consumer, producer: &Producer) -> eoslog::Result<usize> {
    let records = consumer.poll(Duration::from_secs(5))?;
    producer.begin_transaction()?;
    for r in &records {
        producer.send(ProducerRecord::new("out", transform(&r.value_str().unwrap())).partition(0))?;
    }
    let tp = TopicPartition::new("in", 0);
    let offsets = [(tp.clone(), OffsetAndMetadata::new(consumer.position(&tp)?))];
    producer.send_offsets_to_transaction(&offsets, &consumer.group_metadata()?)?;
    producer.commit_transaction()?;
    Ok(records.len())
}

fn committed_output(engine: &Engine) -> Vec<String> {
    let c = Consumer::new(engine, ConsumerConfig::from_pairs(&[("auto.offset.reset", "earliest")]).unwrap())
        .unwrap();
    let tp = TopicPartition::new("out", 0);
    c.assign(std::slice::from_ref(&tp)).unwrap();
    let end = c.end_offsets(std::slice::from_ref(&tp)).unwrap()[&tp];
    let mut out = Vec::new();
    while c.position(&tp).unwrap() < end {
        out.extend(
            c.poll(Duration::from_secs(5)).unwrap().into_iter().map(|r| r.value_str().unwrap().into_owned()),
        );
    }
    out
}

fn in_out(dir: &std::path::Path, n: usize) -> (Engine, Arc<ManualClock>) {
    let (engine, clock) = engine(dir);
    engine.create_topic("in", 1, common::small_topic()).unwrap();
    engine.create_topic("out", 1, common::small_topic()).unwrap();
    fill(&engine, "in", 1, n);
    (engine, clock)
}

fn txn_producer(engine: &Engine, id: &str) -> Producer {
    let p = Producer::new(engine, ProducerConfig::from_pairs(&[("transactional.id", id)]).unwrap()).unwrap();
    p.init_transactions().unwrap();
    p
}

/// The zombie consumer: A owns `in-0` and copies it transactionally; A stalls (no heartbeats)
/// with a transaction open and is expelled; B takes `in-0` from the last committed offset and
/// copies the rest. A's later `send_offsets_to_transaction` and `commit_transaction` are
/// refused, its transaction is aborted, and read_committed never sees its output: every input
/// record is in the output exactly once.
#[test]
fn zombie_consumer_cannot_commit_and_its_output_never_becomes_visible() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, clock) = in_out(dir.path(), 10);
    let log = Arc::new(Mutex::new(Vec::new()));
    let owners = Arc::new(Mutex::new(Owners::new()));
    let a = consumer(&engine, "copier", &[("max.poll.records", "5")]);
    a.subscribe(&["in"], Recorder::new("a", &log, &owners)).unwrap();
    let pa = txn_producer(&engine, "copier-a");
    assert_eq!(copy_batch(&a, &pa).unwrap(), 5);
    assert_eq!(
        a.committed(&tps("in", &[0])).unwrap()[&TopicPartition::new("in", 0)].as_ref().unwrap().offset,
        5
    );

    // A copies 5..10 — its output is in the log — and stalls before sending its offsets.
    let records = a.poll(Duration::from_secs(5)).unwrap();
    assert_eq!(records.len(), 5);
    pa.begin_transaction().unwrap();
    for r in &records {
        pa.send(ProducerRecord::new("out", transform(&r.value_str().unwrap())).partition(0)).unwrap();
    }
    pa.flush().unwrap();
    let stale = a.group_metadata().unwrap();
    a.set_heartbeats_paused(true);
    clock.advance(SESSION_MS);
    engine.groups().tick();
    assert_eq!(engine.groups().describe_group("copier").unwrap().state, GroupState::Empty, "A was expelled");

    // B joins, owns in-0 and continues from the last committed offset.
    let b = consumer(&engine, "copier", &[]);
    b.subscribe(&["in"], NoopListener).unwrap();
    let pb = txn_producer(&engine, "copier-b");
    let copied = copy_batch(&b, &pb).unwrap();
    assert_eq!(copied, 5, "B starts at offset 5");
    assert!(b.group_metadata().unwrap().generation_id > stale.generation_id);

    // The zombie wakes up: its offsets are refused, and so is its commit.
    let offsets = [(TopicPartition::new("in", 0), OffsetAndMetadata::new(10))];
    let e = pa.send_offsets_to_transaction(&offsets, &a.group_metadata().unwrap()).unwrap_err();
    assert!(matches!(e.code(), ErrorCode::UnknownMemberId | ErrorCode::IllegalGeneration), "{e}");
    assert_eq!(pa.transaction_state(), TransactionState::AbortableError);
    assert_eq!(pa.commit_transaction().unwrap_err().code(), ErrorCode::TransactionAbortable);
    let e = a.commit(&offsets).unwrap_err();
    assert!(matches!(e.code(), ErrorCode::UnknownMemberId | ErrorCode::IllegalGeneration), "{e}");
    // B's committed output is held back only by A's open transaction.
    assert_eq!(committed_output(&engine).len(), 5);
    pa.abort_transaction().unwrap();

    let expected: Vec<String> = (0..10).map(|i| transform(&format!("in-0-{i}"))).collect();
    assert_eq!(committed_output(&engine), expected, "exactly once, in order, nothing of A's second copy");
    let out = engine.partition("out", 0).unwrap();
    assert_eq!(out.last_stable_offset(), out.log_end_offset());
    let tp = TopicPartition::new("in", 0);
    assert_eq!(b.committed(std::slice::from_ref(&tp)).unwrap()[&tp].as_ref().unwrap().offset, 10);
    let everything = out.read(0, 1 << 20, IsolationLevel::ReadCommitted).unwrap();
    assert_eq!(everything.aborted_transactions.map_or(0, |t| t.len()), 1, "A's copy is in the log, aborted");

    // A's next poll reports its partition lost, and its producer goes on with a new
    // transaction once it owns something again.
    a.set_heartbeats_paused(false);
    let _ = a.poll(Duration::from_millis(1));
    assert!(log.lock().iter().any(|c| c.member == "a" && c.kind == "lost" && c.partitions == [tp.clone()]));
    assert_ne!(pa.transaction_state(), TransactionState::FatalError);
    drop(a);
    b.close().unwrap();
}

/// KIP-447's other half: offsets a member sent in a transaction before it was expelled keep
/// the new owner waiting (it must not start from an offset the transaction may still
/// change). When the zombie's transaction commits, the new owner starts after it — no record
/// is copied twice.
#[test]
fn new_owner_waits_for_the_zombies_pending_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, clock) = in_out(dir.path(), 6);
    let a = consumer(&engine, "copier", &[("max.poll.records", "4")]);
    a.subscribe(&["in"], NoopListener).unwrap();
    let pa = txn_producer(&engine, "copier-a");
    let records = a.poll(Duration::from_secs(5)).unwrap();
    assert_eq!(records.len(), 4);
    pa.begin_transaction().unwrap();
    for r in &records {
        pa.send(ProducerRecord::new("out", transform(&r.value_str().unwrap())).partition(0)).unwrap();
    }
    let offsets = [(TopicPartition::new("in", 0), OffsetAndMetadata::new(4))];
    pa.send_offsets_to_transaction(&offsets, &a.group_metadata().unwrap()).unwrap();
    a.set_heartbeats_paused(true);
    clock.advance(SESSION_MS);
    engine.groups().tick();

    let b = Arc::new(consumer(&engine, "copier", &[]));
    b.subscribe(&["in"], NoopListener).unwrap();
    wait_until("b owns in-0", || {
        assert!(b.poll(Duration::ZERO).unwrap().is_empty(), "nothing while A's offsets are pending");
        !b.assignment().is_empty()
    });
    for _ in 0..5 {
        assert!(b.poll(Duration::from_millis(5)).unwrap().is_empty(), "still pending");
    }
    // The zombie commits what it sent while it was a member: that is consistent.
    pa.commit_transaction().unwrap();
    let mut rest = Vec::new();
    while rest.len() < 2 {
        rest.extend(b.poll(Duration::from_secs(5)).unwrap());
    }
    assert_eq!(rest.iter().map(|r| r.offset).collect::<Vec<_>>(), [4, 5], "B continues after A's commit");
    a.set_heartbeats_paused(false);
    drop(a);
}
