//! Rebalance time of in-process consumer groups: from a member leaving (its `LeaveGroup`) to
//! every partition being owned again, for groups of 3, 30 and 300 members over one topic of
//! 1,000 partitions, with the cooperative-sticky assignor (cooperative protocol) and the range
//! assignor (eager protocol). Each member is a thread running [`GroupMember`], with a heartbeat
//! loop that waits on the coordinator's rebalance notification.
//!
//! A second table drives the same protocol for all members from one thread through the
//! coordinator's non-blocking API (each JoinGroup / SyncGroup answer polled with
//! `Pending::try_take`), which isolates the coordinator's and the assignor's cost from thread
//! scheduling.
//!
//! Measures, never asserts. Run with:
//! `cargo run --release -p eoslog --example rebalance_bench -- [rounds]` (default 5 rounds).
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use eoslog::clock::ManualClock;
use eoslog::group::assignor::{
    CooperativeStickyAssignor, MemberSubscription, PartitionAssignor, RangeAssignor, RebalanceProtocol,
};
use eoslog::group::protocol::{Assignment, CONSUMER_PROTOCOL_TYPE, Subscription};
use eoslog::group::{
    GroupMember, GroupMemberConfig, GroupState, JoinGroupRequest, JoinGroupResponse, MemberIdentity,
    PendingJoin, RebalanceListener, SyncGroupRequest,
};
use eoslog::log::TopicPartition;
use eoslog::{Engine, EngineConfig, ErrorCode};
use parking_lot::{Condvar, Mutex};

const PARTITIONS: i32 = 1_000;
const TOPIC: &str = "bench";

/// Which member owns which partition, as the members' rebalance callbacks report it.
#[derive(Default)]
struct Ownership {
    owner: BTreeMap<TopicPartition, usize>,
    members_with_partitions: BTreeMap<usize, usize>,
}

struct Shared {
    ownership: Mutex<Ownership>,
    changed: Condvar,
}

struct Listener {
    id: usize,
    shared: Arc<Shared>,
}

impl RebalanceListener for Listener {
    fn on_partitions_revoked(&mut self, partitions: &[TopicPartition]) {
        let mut o = self.shared.ownership.lock();
        for p in partitions {
            o.owner.remove(p);
        }
        let n = o.members_with_partitions.entry(self.id).or_default();
        *n -= partitions.len().min(*n);
        self.shared.changed.notify_all();
    }
    fn on_partitions_assigned(&mut self, partitions: &[TopicPartition]) {
        let mut o = self.shared.ownership.lock();
        for p in partitions {
            o.owner.insert(p.clone(), self.id);
        }
        *o.members_with_partitions.entry(self.id).or_default() += partitions.len();
        self.shared.changed.notify_all();
    }
    fn on_partitions_lost(&mut self, partitions: &[TopicPartition]) {
        self.on_partitions_revoked(partitions);
    }
}

struct Member {
    leave: Arc<AtomicBool>,
    left_at: Arc<Mutex<Option<Instant>>>,
    gone: Arc<AtomicBool>,
    handle: JoinHandle<()>,
}

fn spawn_member(
    engine: &Engine,
    group: &str,
    id: usize,
    assignor: Arc<dyn PartitionAssignor>,
    shared: Arc<Shared>,
) -> Member {
    let leave = Arc::new(AtomicBool::new(false));
    let left_at = Arc::new(Mutex::new(None));
    let gone = Arc::new(AtomicBool::new(false));
    let (engine, group, l, at, g) =
        (engine.clone(), group.to_string(), leave.clone(), left_at.clone(), gone.clone());
    let handle = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let mut config = GroupMemberConfig::new(group);
            config.client_id = format!("member-{id}");
            config.assignors = vec![assignor];
            let mut member = GroupMember::new(engine.groups().clone(), config, vec![TOPIC.to_string()]);
            let heartbeater = member.heartbeater();
            let mut listener = Listener { id, shared: shared.clone() };
            let partition_count = |t: &str| engine.partition_count(t).ok();
            loop {
                if l.load(Ordering::Acquire) {
                    *at.lock() = Some(Instant::now());
                    member.leave(&mut listener).expect("leave");
                    g.store(true, Ordering::Release);
                    shared.changed.notify_all();
                    return;
                }
                if member.needs_rejoin() {
                    member
                        .ensure_active_group(&partition_count, &mut listener, Duration::from_secs(120))
                        .expect("join");
                    continue;
                }
                let _ = heartbeater.heartbeat();
                if !member.needs_rejoin() {
                    heartbeater.await_rebalance(Duration::from_millis(200));
                }
            }
        })
        .expect("spawn a member thread");
    Member { leave, left_at, gone, handle }
}

/// Waits until every partition has an owner among the members still in the group and the
/// group is settled: stable, with `members` members each owning at least its share
/// (`⌊partitions / members⌋`), so no cooperative follow-up rebalance is pending.
fn wait_covered(shared: &Shared, engine: &Engine, group: &str, members: usize, also: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(300);
    let share = PARTITIONS as usize / members;
    let mut o = shared.ownership.lock();
    loop {
        let balanced = o.members_with_partitions.values().filter(|n| **n >= share.max(1)).count() == members;
        let covered = o.owner.len() == PARTITIONS as usize && balanced;
        if covered && also() {
            drop(o);
            // Settled: the group is stable with the expected members (checked outside the lock).
            let d = engine.groups().describe_group(group).expect("group");
            if d.state == GroupState::Stable && d.members.len() == members {
                return;
            }
            o = shared.ownership.lock();
            shared.changed.wait_for(&mut o, Duration::from_millis(5));
            continue;
        }
        assert!(Instant::now() < deadline, "the group did not settle");
        shared.changed.wait_for(&mut o, Duration::from_millis(50));
    }
}

/// One member driven by [`drive_in_one_thread`].
struct Driven {
    member_id: String,
    generation: i32,
    owned: Vec<TopicPartition>,
}

fn join_request(group: &str, assignor: &dyn PartitionAssignor, m: &Driven) -> JoinGroupRequest {
    let topics = vec![TOPIC.to_string()];
    let subscription = Subscription {
        topics: topics.clone(),
        user_data: assignor.subscription_user_data(&topics, m.generation),
        owned_partitions: m.owned.clone(),
        generation_id: m.generation,
        rack_id: None,
    };
    let mut r = JoinGroupRequest::new(
        group,
        CONSUMER_PROTOCOL_TYPE,
        vec![(assignor.name().to_string(), subscription.encode(3).expect("encode"))],
    );
    r.member_id = m.member_id.clone();
    r
}

/// One rebalance of every member in `members` (all rejoin; the leader assigns; all sync),
/// then another while a cooperative assignment left partitions to revoke. Returns the
/// generations it took.
fn drive_rebalance(
    engine: &Engine,
    clock: &ManualClock,
    group: &str,
    assignor: &dyn PartitionAssignor,
    members: &mut [Driven],
) -> i32 {
    let groups = engine.groups();
    let partitions_per_topic: BTreeMap<String, i32> = [(TOPIC.to_string(), PARTITIONS)].into();
    let mut generations = 0;
    let cooperative = assignor.supported_protocols().contains(&RebalanceProtocol::Cooperative);
    loop {
        if !cooperative {
            // Eager protocol: every member revokes everything before it rejoins.
            for m in members.iter_mut() {
                m.owned.clear();
            }
        }
        // Members without a generation first: their join starts the rebalance that the others
        // (whose metadata changes with every generation) then join.
        members.sort_by_key(|m| m.generation >= 0);
        let pending: Vec<PendingJoin> =
            members.iter().map(|m| groups.join_group(join_request(group, assignor, m))).collect();
        // Only a new group waits (its initial delay); a rebalance completes with the last join.
        while !pending.iter().all(PendingJoin::is_ready) {
            clock.advance(3_000);
            groups.tick();
        }
        let joins: Vec<JoinGroupResponse> = pending.iter().map(|p| p.try_take().expect("answered")).collect();
        generations += 1;
        let leader = joins.iter().find(|j| j.is_leader()).expect("a leader");
        let subscriptions: BTreeMap<String, MemberSubscription> = leader
            .members
            .iter()
            .map(|m| {
                let (_, subscription) = Subscription::decode(&m.metadata).expect("subscription");
                (m.member_id.clone(), MemberSubscription { subscription, group_instance_id: None })
            })
            .collect();
        let assignments: Vec<(String, Vec<u8>)> = assignor
            .assign(&partitions_per_topic, &subscriptions)
            .into_iter()
            .map(|(m, p)| (m, Assignment::new(p).encode(3).expect("encode")))
            .collect();
        let sync = |j: &JoinGroupResponse, assignments: Vec<(String, Vec<u8>)>| {
            groups.sync_group(SyncGroupRequest {
                group_id: group.to_string(),
                generation_id: j.generation_id,
                member_id: j.member_id.clone(),
                group_instance_id: None,
                protocol_type: None,
                protocol_name: None,
                assignments,
            })
        };
        let followers: Vec<_> =
            joins.iter().filter(|j| !j.is_leader()).map(|j| (j.member_id.clone(), sync(j, vec![]))).collect();
        let leader_sync = sync(leader, assignments);
        let mut revoked = false;
        let mut answers = vec![(leader.member_id.clone(), leader_sync)];
        answers.extend(followers);
        for (id, p) in answers {
            let r = p.try_take().expect("the leader synced");
            assert_eq!(r.error, ErrorCode::None);
            let (_, a) = Assignment::decode(&r.assignment).expect("assignment");
            let m = members.iter_mut().find(|m| m.member_id == id).expect("member");
            revoked |= m.owned.iter().any(|p| !a.partitions.contains(p));
            m.owned = a.partitions;
            m.generation = joins[0].generation_id;
        }
        if !revoked {
            return generations;
        }
    }
}

/// The single-threaded driver: forms a group of `n`, then measures `rounds` times a member
/// leaving until the others own every partition (a replacement then joins, unmeasured).
fn drive_in_one_thread(n: usize, assignor: &dyn PartitionAssignor, rounds: usize) -> (Vec<f64>, f64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new(0);
    let config = EngineConfig { clock: clock.clone(), ..EngineConfig::default() };
    let engine = Engine::open(dir.path(), config).expect("open");
    engine
        .create_topic_with(TOPIC, PARTITIONS, &[("segment.index.bytes", "4096"), ("segment.bytes", "65536")])
        .expect("topic");
    let group = "driven";
    let new_member = |engine: &Engine| {
        let first = engine
            .groups()
            .join_group(join_request(
                group,
                assignor,
                &Driven { member_id: String::new(), generation: -1, owned: vec![] },
            ))
            .try_take()
            .expect("answered");
        assert_eq!(first.error, ErrorCode::MemberIdRequired);
        Driven { member_id: first.member_id, generation: -1, owned: vec![] }
    };
    let mut members: Vec<Driven> = (0..n).map(|_| new_member(&engine)).collect();
    drive_rebalance(&engine, &clock, group, assignor, &mut members);
    let mut times = Vec::new();
    let mut generations = 0;
    for round in 0..rounds {
        let leaver = members.remove(round % members.len());
        let t0 = Instant::now();
        engine.groups().leave_group(group, &[MemberIdentity::member(leaver.member_id)]);
        generations += drive_rebalance(&engine, &clock, group, assignor, &mut members);
        let covered: usize = members.iter().map(|m| m.owned.len()).sum();
        times.push(t0.elapsed().as_secs_f64() * 1e3);
        assert_eq!(covered, PARTITIONS as usize);
        members.push(new_member(&engine));
        drive_rebalance(&engine, &clock, group, assignor, &mut members);
    }
    engine.close().expect("close");
    (times, f64::from(generations) / rounds as f64)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    let dir = tempfile::tempdir().expect("tempdir");
    // Formation of a group is not measured; a short initial delay lets the members arrive.
    let config = EngineConfig { group_initial_rebalance_delay_ms: 500, ..EngineConfig::default() };
    let engine = Engine::open(dir.path(), config).expect("open");
    engine
        .create_topic_with(TOPIC, PARTITIONS, &[("segment.index.bytes", "4096"), ("segment.bytes", "65536")])
        .expect("topic");
    println!("rebalance after one member leaves: {PARTITIONS} partitions, {rounds} rounds per row");
    println!(
        "{:>8} {:>20} {:>10} {:>10} {:>10} {:>12}",
        "members", "assignor", "median ms", "min ms", "max ms", "generations"
    );
    for n in [3usize, 30, 300] {
        let assignors: [(&str, Arc<dyn PartitionAssignor>); 2] =
            [("cooperative-sticky", Arc::new(CooperativeStickyAssignor)), ("range", Arc::new(RangeAssignor))];
        for (name, assignor) in assignors {
            let group = format!("bench-{n}-{name}");
            let shared =
                Arc::new(Shared { ownership: Mutex::new(Ownership::default()), changed: Condvar::new() });
            let mut members: Vec<Option<Member>> = Vec::new();
            for id in 0..n {
                members.push(Some(spawn_member(&engine, &group, id, assignor.clone(), shared.clone())));
            }
            wait_covered(&shared, &engine, &group, n, || true);
            let mut times = Vec::new();
            let mut generations = 0;
            for round in 0..rounds {
                let leaver = members[round % n].take().expect("alive");
                let g0 = engine.groups().describe_group(&group).expect("group").generation_id;
                leaver.leave.store(true, Ordering::Release);
                let gone = leaver.gone.clone();
                wait_covered(&shared, &engine, &group, n - 1, || gone.load(Ordering::Acquire));
                let done = Instant::now();
                let left_at = leaver.left_at.lock().expect("left");
                times.push((done - left_at).as_secs_f64() * 1e3);
                generations += engine.groups().describe_group(&group).expect("group").generation_id - g0;
                leaver.handle.join().expect("member thread");
                // A replacement keeps the group at n members (not measured).
                let id = n + round;
                members[round % n] =
                    Some(spawn_member(&engine, &group, id, assignor.clone(), shared.clone()));
                wait_covered(&shared, &engine, &group, n, || true);
            }
            times.sort_by(f64::total_cmp);
            println!(
                "{:>8} {:>20} {:>10.2} {:>10.2} {:>10.2} {:>12.1}",
                n,
                name,
                percentile(&times, 0.5),
                times[0],
                times[times.len() - 1],
                generations as f64 / rounds as f64
            );
            for m in members.iter().flatten() {
                m.leave.store(true, Ordering::Release);
            }
            for m in members.into_iter().flatten() {
                m.handle.join().expect("member thread");
            }
        }
    }
    engine.close().expect("close");

    println!();
    println!("the same protocol driven for all members from one thread (no thread scheduling)");
    println!(
        "{:>8} {:>20} {:>10} {:>10} {:>10} {:>12}",
        "members", "assignor", "median ms", "min ms", "max ms", "generations"
    );
    for n in [3usize, 30, 300] {
        let assignors: [(&str, Arc<dyn PartitionAssignor>); 2] =
            [("cooperative-sticky", Arc::new(CooperativeStickyAssignor)), ("range", Arc::new(RangeAssignor))];
        for (name, assignor) in assignors {
            let (mut times, generations) = drive_in_one_thread(n, assignor.as_ref(), rounds);
            times.sort_by(f64::total_cmp);
            println!(
                "{:>8} {:>20} {:>10.2} {:>10.2} {:>10.2} {:>12.1}",
                n,
                name,
                percentile(&times, 0.5),
                times[0],
                times[times.len() - 1],
                generations
            );
        }
    }
}
