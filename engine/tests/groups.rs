//! The group coordinator through the engine: membership (JoinGroup / SyncGroup / Heartbeat /
//! LeaveGroup), timers driven by a `ManualClock`, static membership, persistence across a
//! restart, and the KIP-447 fencing of offset commits.
//!
//! Every deadline is a timestamp of the engine's clock, and a request to a group first fires
//! the deadlines that have passed, so these tests see the same outcome whether or not the
//! engine's background thread ran in between.

mod common;

use std::sync::Arc;
use std::time::Duration;

use eoslog::clock::ManualClock;
use eoslog::group::protocol::{Assignment, CONSUMER_PROTOCOL_TYPE, Subscription};
use eoslog::group::{
    GroupCoordinator, GroupState, JoinGroupRequest, JoinGroupResponse, MemberIdentity, PendingJoin,
    SyncGroupRequest, SyncGroupResponse,
};
use eoslog::log::TopicPartition;
use eoslog::offsets::OffsetAndMetadata;
use eoslog::{Engine, EngineConfig, ErrorCode};

const START: i64 = 1_700_000_000_000;
const SESSION: i32 = 10_000;
const REBALANCE: i32 = 30_000;
const WAIT: Duration = Duration::from_secs(30);
const GROUP: &str = "g";

struct Harness {
    _dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    engine: Engine,
}

fn config(clock: &Arc<ManualClock>, initial_delay_ms: i32) -> EngineConfig {
    let mut c = common::config();
    c.clock = clock.clone();
    c.group_initial_rebalance_delay_ms = initial_delay_ms;
    c
}

fn harness(initial_delay_ms: i32) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(START);
    let engine = Engine::open(dir.path(), config(&clock, initial_delay_ms)).unwrap();
    Harness { _dir: dir, clock, engine }
}

impl Harness {
    fn groups(&self) -> &Arc<GroupCoordinator> {
        self.engine.groups()
    }

    fn advance(&self, ms: i64) {
        self.clock.advance(ms);
        self.groups().tick();
    }

    fn state(&self) -> GroupState {
        self.groups().describe_group(GROUP).unwrap().state
    }
}

fn subscription(topics: &[&str]) -> Vec<u8> {
    Subscription::new(topics.iter().map(|t| t.to_string()).collect()).encode(3).unwrap()
}

fn protocols(names: &[&str]) -> Vec<(String, Vec<u8>)> {
    names.iter().map(|n| (n.to_string(), subscription(&["t"]))).collect()
}

fn request(member_id: &str, protocols: Vec<(String, Vec<u8>)>) -> JoinGroupRequest {
    let mut r = JoinGroupRequest::new(GROUP, CONSUMER_PROTOCOL_TYPE, protocols);
    r.member_id = member_id.to_string();
    r.session_timeout_ms = SESSION;
    r.rebalance_timeout_ms = REBALANCE;
    r
}

fn static_request(instance: &str, member_id: &str, protocols: Vec<(String, Vec<u8>)>) -> JoinGroupRequest {
    let mut r = request(member_id, protocols);
    r.group_instance_id = Some(instance.to_string());
    r
}

/// A new dynamic member's first JoinGroup: MEMBER_ID_REQUIRED with its id, then the join with
/// it (parked until the rebalance completes).
fn join_new(h: &Harness, protocols: Vec<(String, Vec<u8>)>) -> (String, PendingJoin) {
    let first = h.groups().join_group(request("", protocols.clone())).try_take().unwrap();
    assert_eq!(first.error, ErrorCode::MemberIdRequired);
    assert!(!first.member_id.is_empty());
    let id = first.member_id.clone();
    (id.clone(), h.groups().join_group(request(&id, protocols)))
}

fn done(p: &PendingJoin) -> JoinGroupResponse {
    p.try_take().expect("the join is answered")
}

fn sync(
    h: &Harness,
    j: &JoinGroupResponse,
    assignments: Vec<(String, Vec<u8>)>,
) -> eoslog::group::PendingSync {
    h.groups().sync_group(SyncGroupRequest {
        group_id: GROUP.into(),
        generation_id: j.generation_id,
        member_id: j.member_id.clone(),
        group_instance_id: None,
        protocol_type: Some(CONSUMER_PROTOCOL_TYPE.into()),
        protocol_name: j.protocol_name.clone(),
        assignments,
    })
}

fn assignment(parts: &[i32]) -> Vec<u8> {
    Assignment::new(parts.iter().map(|p| TopicPartition::new("t", *p)).collect()).encode(3).unwrap()
}

fn sync_err(r: SyncGroupResponse) -> ErrorCode {
    r.error
}

fn hb(h: &Harness, member: &str, generation: i32) -> ErrorCode {
    match h.groups().heartbeat(GROUP, member, None, generation) {
        Ok(()) => ErrorCode::None,
        Err(e) => e.code(),
    }
}

fn offsets(p: i32, offset: i64) -> Vec<(String, i32, OffsetAndMetadata)> {
    vec![("t".to_string(), p, OffsetAndMetadata::new(offset))]
}

fn commit(h: &Harness, member: &str, generation: i32, instance: Option<&str>) -> ErrorCode {
    match h.groups().commit_offsets(GROUP, member, generation, instance, &offsets(0, 1)) {
        Ok(()) => ErrorCode::None,
        Err(e) => e.code(),
    }
}

/// Two members form generation 1 (the harness needs an initial delay, so that both are in it);
/// returns (leader, follower) after both synced.
fn two_member_group(h: &Harness) -> (JoinGroupResponse, JoinGroupResponse) {
    let delay = i64::from(h.groups().config().initial_rebalance_delay_ms);
    assert!(delay > 0);
    let (_, pa) = join_new(h, protocols(&["range"]));
    let (_, pb) = join_new(h, protocols(&["range"]));
    while !pa.is_ready() {
        h.advance(delay);
    }
    let (a, b) = (done(&pa), done(&pb));
    assert_eq!((a.generation_id, b.generation_id), (1, 1));
    let (a, b) = if a.is_leader() { (a, b) } else { (b, a) };
    let sb = sync(h, &b, vec![]);
    assert!(!sb.is_ready(), "a follower waits for the leader's assignment");
    let sa =
        sync(h, &a, vec![(a.member_id.clone(), assignment(&[0])), (b.member_id.clone(), assignment(&[1]))]);
    assert_eq!(sa.try_take().unwrap().assignment, assignment(&[0]));
    assert_eq!(sb.try_take().unwrap().assignment, assignment(&[1]));
    assert_eq!(h.state(), GroupState::Stable);
    (a, b)
}

#[test]
fn join_sync_and_the_initial_delay() {
    let h = harness(3_000);
    let (a_id, pa) = join_new(&h, protocols(&["range"]));
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    assert!(!pa.is_ready(), "the first rebalance of a new group waits for more members");
    h.advance(2_000);
    // A second member during the delay extends it (Kafka's InitialDelayedJoin).
    let (b_id, pb) = join_new(&h, protocols(&["range", "roundrobin"]));
    h.advance(1_000);
    assert!(!pa.is_ready(), "the delay was extended by the new member");
    h.advance(3_000);
    let a = done(&pa);
    let b = done(&pb);
    assert_eq!((a.error, b.error), (ErrorCode::None, ErrorCode::None));
    assert_eq!((a.generation_id, b.generation_id), (1, 1));
    assert_eq!(a.protocol_name.as_deref(), Some("range"), "the only protocol both support");
    assert_eq!(a.leader, b.leader);
    let (leader, follower) = if a.is_leader() { (a, b) } else { (b, a) };
    assert_eq!(leader.members.len(), 2, "the leader gets every member's metadata");
    assert!(follower.members.is_empty());
    assert_eq!(
        leader.members.iter().map(|m| m.member_id.as_str()).collect::<std::collections::BTreeSet<_>>(),
        [a_id.as_str(), b_id.as_str()].into()
    );
    assert_eq!(leader.members[0].metadata, subscription(&["t"]));
    assert_eq!(h.state(), GroupState::CompletingRebalance);
    // Heartbeats are fine while the leader computes the assignment.
    assert_eq!(hb(&h, &follower.member_id, 1), ErrorCode::None);
    let sf = sync(&h, &follower, vec![]);
    assert!(!sf.is_ready());
    let sl = sync(&h, &leader, vec![(follower.member_id.clone(), assignment(&[1, 2]))]);
    assert_eq!(sl.try_take().unwrap().assignment, Vec::<u8>::new(), "left out by the leader: empty");
    let fr = sf.try_take().unwrap();
    assert_eq!(fr.error, ErrorCode::None);
    assert_eq!(fr.protocol_name.as_deref(), Some("range"));
    assert_eq!(fr.assignment, assignment(&[1, 2]));
    assert_eq!(h.state(), GroupState::Stable);
    // A stable group answers a SyncGroup with the stored assignment.
    assert_eq!(sync(&h, &follower, vec![]).try_take().unwrap().assignment, assignment(&[1, 2]));
    let d = h.groups().describe_group(GROUP).unwrap();
    assert_eq!((d.generation_id, d.protocol.as_str(), d.members.len()), (1, "range", 2));
}

#[test]
fn blocking_join_from_threads() {
    let h = harness(3_000);
    let groups = h.groups().clone();
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let g = groups.clone();
            std::thread::spawn(move || {
                let first = g.join_group(request("", protocols(&["range"]))).wait(WAIT).unwrap();
                g.join_group(request(&first.member_id, protocols(&["range"]))).wait(WAIT).unwrap()
            })
        })
        .collect();
    // Once all three are parked, the initial delay (on the manual clock) runs out.
    for _ in 0..30_000 {
        if groups.describe_group(GROUP).is_some_and(|d| d.members.len() == 3) {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(groups.describe_group(GROUP).unwrap().members.len(), 3);
    while !threads.iter().all(|t| t.is_finished()) {
        h.advance(3_000);
        std::thread::sleep(Duration::from_millis(1));
    }
    let responses: Vec<JoinGroupResponse> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(responses.iter().all(|r| r.error == ErrorCode::None && r.generation_id == 1));
    assert_eq!(responses.iter().filter(|r| r.is_leader()).count(), 1);
    assert_eq!(h.state(), GroupState::CompletingRebalance);
}

#[test]
fn heartbeat_expiry_removes_the_member_and_a_new_leader_is_chosen() {
    let h = harness(3_000);
    let (a, b) = two_member_group(&h);
    h.advance(i64::from(SESSION) - 1);
    assert_eq!(hb(&h, &b.member_id, 1), ErrorCode::None);
    h.advance(1);
    assert_eq!(h.state(), GroupState::PreparingRebalance, "the leader a missed its session");
    assert_eq!(hb(&h, &a.member_id, 1), ErrorCode::UnknownMemberId);
    assert_eq!(hb(&h, &b.member_id, 1), ErrorCode::RebalanceInProgress);
    let b2 = done(&h.groups().join_group(request(&b.member_id, protocols(&["range"]))));
    assert_eq!((b2.generation_id, b2.members.len()), (2, 1));
    assert!(b2.is_leader(), "the surviving member leads");
    assert_eq!(commit(&h, &a.member_id, 1, None), ErrorCode::UnknownMemberId);
}

#[test]
fn leave_and_leader_failover() {
    let h = harness(3_000);
    let (a, b) = two_member_group(&h);
    // The leader leaves; a batch leave may name unknown members too.
    let r = h
        .groups()
        .leave_group(GROUP, &[MemberIdentity::member(a.member_id.clone()), MemberIdentity::member("nobody")]);
    assert_eq!(r.error, ErrorCode::None);
    assert_eq!(
        r.members.iter().map(|m| m.error).collect::<Vec<_>>(),
        vec![ErrorCode::None, ErrorCode::UnknownMemberId]
    );
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    let b2 = done(&h.groups().join_group(request(&b.member_id, protocols(&["range"]))));
    assert!(b2.is_leader(), "the remaining member leads the new generation");
    assert_eq!(b2.generation_id, 2);
    // The last member leaves: the group is empty (and says so in a new generation).
    assert_eq!(
        h.groups().leave_group(GROUP, &[MemberIdentity::member(b.member_id.clone())]).members[0].error,
        ErrorCode::None
    );
    let d = h.groups().describe_group(GROUP).unwrap();
    assert_eq!((d.state, d.generation_id, d.members.len()), (GroupState::Empty, 3, 0));
    let unknown = h.groups().leave_group("no-such-group", &[MemberIdentity::member("m")]);
    assert_eq!(unknown.members[0].error, ErrorCode::UnknownMemberId);
}

#[test]
fn static_leader_that_misses_the_rebalance_is_replaced() {
    let h = harness(0);
    let s1 = done(&h.groups().join_group(static_request("a", "", protocols(&["range"]))));
    assert_eq!(s1.generation_id, 1);
    let (b_id, pb) = join_new(&h, protocols(&["range"]));
    let a = done(&h.groups().join_group(static_request("a", &s1.member_id, protocols(&["range"]))));
    let b = done(&pb);
    assert_eq!((a.generation_id, b.generation_id), (2, 2));
    assert!(a.is_leader());
    // b rejoins with new metadata; the static leader stays alive (heartbeats) but never rejoins.
    let pb = h.groups().join_group(request(&b_id, protocols(&["range", "roundrobin"])));
    for _ in 0..(REBALANCE / 5_000) {
        assert!(!pb.is_ready());
        let alive = h.groups().heartbeat(GROUP, &a.member_id, Some("a"), 2).unwrap_err();
        assert_eq!(alive.code(), ErrorCode::RebalanceInProgress);
        h.advance(5_000);
    }
    let b2 = done(&pb);
    assert_eq!(b2.error, ErrorCode::None);
    assert_eq!(b2.generation_id, 3);
    assert!(b2.is_leader(), "a member that rejoined is elected leader");
    assert_eq!(b2.members.len(), 2, "a static member that did not rejoin stays a member");
    let stale = h.groups().heartbeat(GROUP, &a.member_id, Some("a"), 2).unwrap_err();
    assert_eq!(stale.code(), ErrorCode::IllegalGeneration);
}

#[test]
fn member_id_required_and_pending_members() {
    let h = harness(0);
    let first = h.groups().join_group(request("", protocols(&["range"]))).try_take().unwrap();
    assert_eq!(first.error, ErrorCode::MemberIdRequired);
    assert_eq!(first.generation_id, -1);
    // A client that does not support the handshake joins at once (JoinGroup v0-v3).
    let mut old = request("", protocols(&["range"]));
    old.require_known_member_id = false;
    let p_old = h.groups().join_group(old);
    // The pending member holds the rebalance until it rejoins with its id.
    assert!(h.groups().join_group(request("", protocols(&["range"]))).is_ready());
    assert!(matches!(h.state(), GroupState::PreparingRebalance | GroupState::CompletingRebalance));
    let joined = done(&p_old);
    assert_eq!(joined.generation_id, 1, "the old client's join completed a generation on its own");
    // The pending member comes back with its id: it is added, which starts a rebalance.
    let p = h.groups().join_group(request(&first.member_id, protocols(&["range"])));
    assert!(!p.is_ready(), "the rebalance waits for the old client to rejoin");
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    // A made-up member id is unknown.
    let r = h.groups().join_group(request("made-up", protocols(&["range"]))).try_take().unwrap();
    assert_eq!(r.error, ErrorCode::UnknownMemberId);
    // A member id for a group that does not exist is unknown too.
    let mut other = request("x", protocols(&["range"]));
    other.group_id = "other".into();
    assert_eq!(h.groups().join_group(other).try_take().unwrap().error, ErrorCode::UnknownMemberId);
}

#[test]
fn pending_member_expiry_lets_the_rebalance_complete() {
    let h = harness(0);
    let (a_id, pa) = join_new(&h, protocols(&["range"]));
    assert_eq!(done(&pa).generation_id, 1);
    // a rejoins (a rebalance) while a second member only got its id.
    let second = h.groups().join_group(request("", protocols(&["range"]))).try_take().unwrap();
    assert_eq!(second.error, ErrorCode::MemberIdRequired);
    let pa = h.groups().join_group(request(&a_id, protocols(&["range", "roundrobin"])));
    assert!(!pa.is_ready(), "waiting for the pending member");
    h.advance(i64::from(SESSION));
    assert_eq!(done(&pa).generation_id, 2);
    assert_eq!(h.groups().describe_group(GROUP).unwrap().members.len(), 1);
}

#[test]
fn inconsistent_group_protocol() {
    let h = harness(0);
    let (a_id, pa) = join_new(&h, protocols(&["range", "roundrobin"]));
    done(&pa);
    // No protocol in common with the group.
    let r = h.groups().join_group(request("", protocols(&["cooperative-sticky"]))).try_take().unwrap();
    assert_eq!(r.error, ErrorCode::InconsistentGroupProtocol);
    // Another protocol type.
    let mut connect = request("", protocols(&["range"]));
    connect.protocol_type = "connect".into();
    assert_eq!(
        h.groups().join_group(connect).try_take().unwrap().error,
        ErrorCode::InconsistentGroupProtocol
    );
    // An empty protocol list cannot start a group.
    let mut empty = request("", vec![]);
    empty.group_id = "fresh".into();
    assert_eq!(h.groups().join_group(empty).try_take().unwrap().error, ErrorCode::InconsistentGroupProtocol);
    // SyncGroup with another protocol name.
    let r = h.groups().sync_group(SyncGroupRequest {
        group_id: GROUP.into(),
        generation_id: 1,
        member_id: a_id,
        group_instance_id: None,
        protocol_type: Some(CONSUMER_PROTOCOL_TYPE.into()),
        protocol_name: Some("roundrobin".into()),
        assignments: vec![],
    });
    assert_eq!(sync_err(r.try_take().unwrap()), ErrorCode::InconsistentGroupProtocol);
}

#[test]
fn sync_and_heartbeat_errors() {
    let h = harness(3_000);
    let (a, b) = two_member_group(&h);
    let mut stale = a.clone();
    stale.generation_id = 0;
    assert_eq!(sync_err(sync(&h, &stale, vec![]).try_take().unwrap()), ErrorCode::IllegalGeneration);
    let mut unknown = a.clone();
    unknown.member_id = "who".into();
    assert_eq!(sync_err(sync(&h, &unknown, vec![]).try_take().unwrap()), ErrorCode::UnknownMemberId);
    assert_eq!(hb(&h, &a.member_id, 7), ErrorCode::IllegalGeneration);
    assert_eq!(hb(&h, "who", 1), ErrorCode::UnknownMemberId);
    // The leader rejoining a stable group starts a rebalance: SyncGroup is refused meanwhile.
    let pa = h.groups().join_group(request(&a.member_id, protocols(&["range"])));
    assert_eq!(sync_err(sync(&h, &b, vec![]).try_take().unwrap()), ErrorCode::RebalanceInProgress);
    assert_eq!(hb(&h, &b.member_id, 1), ErrorCode::RebalanceInProgress);
    let pb = h.groups().join_group(request(&b.member_id, protocols(&["range"])));
    let (a2, b2) = (done(&pa), done(&pb));
    assert_eq!((a2.generation_id, b2.generation_id), (2, 2));
    // A follower parked in SyncGroup is released with REBALANCE_IN_PROGRESS if the group
    // rebalances before the leader's assignment.
    let sb = sync(&h, &b2, vec![]);
    assert!(!sb.is_ready());
    let pb3 = h.groups().join_group(request(&b.member_id, protocols(&["roundrobin", "range"])));
    assert_eq!(sync_err(sb.try_take().unwrap()), ErrorCode::RebalanceInProgress);
    // The leader never syncs: after the rebalance timeout everyone rejoined gets a generation.
    let pa3 = h.groups().join_group(request(&a.member_id, protocols(&["range"])));
    let (a3, b3) = (done(&pa3), done(&pb3));
    assert_eq!(a3.generation_id, 3);
    let sb = sync(&h, &b3, vec![]);
    // The leader stays alive but never sends its SyncGroup: after the rebalance timeout it is
    // removed and the group rebalances without it (Kafka's DelayedSync).
    for _ in 0..(REBALANCE / 5_000) {
        assert!(!sb.is_ready());
        assert_eq!(hb(&h, &a3.member_id, 3), ErrorCode::None);
        h.advance(5_000);
    }
    assert_eq!(sync_err(sb.try_take().unwrap()), ErrorCode::RebalanceInProgress);
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    assert_eq!(hb(&h, &a3.member_id, 3), ErrorCode::UnknownMemberId);
}

#[test]
fn invalid_session_timeout_group_id_and_group_size() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(START);
    let mut c = config(&clock, 3_000);
    c.group_max_size = 2;
    let engine = Engine::open(dir.path(), c).unwrap();
    let groups = engine.groups();
    let mut r = request("", protocols(&["range"]));
    r.session_timeout_ms = 1_000;
    assert_eq!(groups.join_group(r).try_take().unwrap().error, ErrorCode::InvalidSessionTimeout);
    let mut r = request("", protocols(&["range"]));
    r.group_id = String::new();
    assert_eq!(groups.join_group(r).try_take().unwrap().error, ErrorCode::InvalidGroupId);
    let mut ids = Vec::new();
    for _ in 0..2 {
        let mut r = request("", protocols(&["range"]));
        r.require_known_member_id = false;
        ids.push(groups.join_group(r));
    }
    // While the group is preparing its rebalance, the limit counts the members parked in it.
    let mut third = request("", protocols(&["range"]));
    third.require_known_member_id = false;
    let r = groups.join_group(third).try_take().unwrap();
    assert_eq!(r.error, ErrorCode::GroupMaxSizeReached);
    assert!(r.member_id.is_empty());
    assert_eq!(groups.describe_group(GROUP).unwrap().members.len(), 2);
}

#[test]
fn static_member_rejoins_without_a_rebalance() {
    let h = harness(0);
    let both = || protocols(&["range", "roundrobin"]);
    let ps = h.groups().join_group(static_request("instance-a", "", both()));
    let s1 = done(&ps);
    assert_eq!(s1.error, ErrorCode::None, "a static member needs no MEMBER_ID_REQUIRED round trip");
    assert!(s1.member_id.starts_with("instance-a-"));
    let (dyn_id, pd) = join_new(&h, both());
    let s2 = done(&h.groups().join_group(static_request("instance-a", &s1.member_id, both())));
    let d = done(&pd);
    assert_eq!((s2.generation_id, d.generation_id), (2, 2));
    let (leader, follower) = if s2.is_leader() { (&s2, &d) } else { (&d, &s2) };
    let mut assignments = vec![(s2.member_id.clone(), assignment(&[0])), (dyn_id.clone(), assignment(&[1]))];
    assignments.sort();
    let sf = h.groups().sync_group(SyncGroupRequest {
        group_instance_id: (follower.member_id == s2.member_id).then(|| "instance-a".to_string()),
        ..sync_req(follower)
    });
    let sl = h.groups().sync_group(SyncGroupRequest {
        group_instance_id: (leader.member_id == s2.member_id).then(|| "instance-a".to_string()),
        assignments,
        ..sync_req(leader)
    });
    assert_eq!(
        (sf.try_take().unwrap().error, sl.try_take().unwrap().error),
        (ErrorCode::None, ErrorCode::None)
    );
    assert_eq!(h.state(), GroupState::Stable);

    // The static member restarts: it comes back without its member id.
    let restarted = done(&h.groups().join_group(static_request("instance-a", "", both())));
    assert_eq!(restarted.error, ErrorCode::None);
    assert_ne!(restarted.member_id, s2.member_id, "a new member id replaces the old one");
    assert_eq!(restarted.generation_id, 2, "same generation: no rebalance");
    assert_eq!(h.state(), GroupState::Stable);
    assert!(!restarted.is_leader() || restarted.skip_assignment, "it must not recompute an assignment");
    // It gets its old assignment back.
    let s = h.groups().sync_group(SyncGroupRequest {
        group_instance_id: Some("instance-a".into()),
        ..sync_req(&restarted)
    });
    assert_eq!(s.try_take().unwrap().assignment, assignment(&[0]));
    // The other member saw nothing.
    assert_eq!(hb(&h, &dyn_id, 2), ErrorCode::None);
    // The old incarnation is fenced.
    let fenced = h.groups().heartbeat(GROUP, &s2.member_id, Some("instance-a"), 2).unwrap_err();
    assert_eq!(fenced.code(), ErrorCode::FencedInstanceId);
    assert_eq!(commit(&h, &s2.member_id, 2, Some("instance-a")), ErrorCode::FencedInstanceId);
    let r = h.groups().join_group(static_request("instance-a", &s2.member_id, both())).try_take().unwrap();
    assert_eq!(r.error, ErrorCode::FencedInstanceId);
    assert_eq!(commit(&h, &restarted.member_id, 2, Some("instance-a")), ErrorCode::None);

    // A restart with a protocol that changes the group's choice does rebalance.
    let changed = h.groups().join_group(static_request("instance-a", "", protocols(&["roundrobin"])));
    assert!(!changed.is_ready());
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    // And a static member can be removed by its instance id alone.
    let r = h.groups().leave_group(GROUP, &[MemberIdentity::instance("instance-a")]);
    assert_eq!(r.members[0].error, ErrorCode::None);
    assert_eq!(done(&changed).error, ErrorCode::UnknownMemberId, "its parked join is released");
}

fn sync_req(j: &JoinGroupResponse) -> SyncGroupRequest {
    SyncGroupRequest {
        group_id: GROUP.into(),
        generation_id: j.generation_id,
        member_id: j.member_id.clone(),
        group_instance_id: None,
        protocol_type: None,
        protocol_name: None,
        assignments: vec![],
    }
}

#[test]
fn group_metadata_and_offsets_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(START);
    let (a, b) = {
        let engine = Engine::open(dir.path(), config(&clock, 3_000)).unwrap();
        let h = Harness { _dir: tempfile::tempdir().unwrap(), clock: clock.clone(), engine };
        let (a, b) = two_member_group(&h);
        assert_eq!(commit(&h, &a.member_id, 1, None), ErrorCode::None);
        // An empty group's generation is persisted too.
        let mut r = request("", protocols(&["range"]));
        r.group_id = "emptied".into();
        r.require_known_member_id = false;
        let e = r.group_id.clone();
        let p = h.groups().join_group(r);
        h.advance(3_000);
        let m = p.try_take().unwrap();
        assert_eq!(m.generation_id, 1);
        h.groups().leave_group(&e, &[MemberIdentity::member(m.member_id)]);
        h.engine.close().unwrap();
        (a, b)
    };
    let engine = Engine::open(dir.path(), config(&clock, 0)).unwrap();
    let h = Harness { _dir: tempfile::tempdir().unwrap(), clock: clock.clone(), engine };
    let d = h.groups().describe_group(GROUP).unwrap();
    assert_eq!((d.state, d.generation_id, d.protocol.as_str()), (GroupState::Stable, 1, "range"));
    assert_eq!(d.leader.as_deref(), Some(a.member_id.as_str()));
    let by_id: std::collections::BTreeMap<_, _> =
        d.members.iter().map(|m| (m.member_id.clone(), m.assignment.clone())).collect();
    assert_eq!(by_id[&a.member_id], assignment(&[0]));
    assert_eq!(by_id[&b.member_id], assignment(&[1]));
    // Members carry on with their generation; a SyncGroup returns the stored assignment.
    assert_eq!(hb(&h, &a.member_id, 1), ErrorCode::None);
    assert_eq!(sync(&h, &b, vec![]).try_take().unwrap().assignment, assignment(&[1]));
    assert_eq!(h.engine.offsets().committed(GROUP, "t", 0).unwrap().offset, 1);
    let e = h.groups().describe_group("emptied").unwrap();
    assert_eq!((e.state, e.generation_id), (GroupState::Empty, 2));
    // A member that does not come back expires one session after the restart.
    h.advance(i64::from(SESSION) - 1);
    assert_eq!(hb(&h, &a.member_id, 1), ErrorCode::None);
    h.advance(1);
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    assert_eq!(hb(&h, &b.member_id, 1), ErrorCode::UnknownMemberId);
}

#[test]
fn commit_fencing_follows_kafka() {
    let h = harness(3_000);
    // No group yet: a simple commit creates one (empty); a member's commit then comes from
    // nobody the group knows.
    assert_eq!(commit(&h, "", -1, None), ErrorCode::None);
    assert_eq!(commit(&h, "x", 3, None), ErrorCode::UnknownMemberId);
    // A member's commit to a group that does not exist is from a generation the coordinator
    // no longer knows.
    let mut other = h.groups().commit_offsets("nope", "m", 1, None, &offsets(0, 1));
    assert_eq!(other.as_ref().unwrap_err().code(), ErrorCode::IllegalGeneration);
    other = h.groups().commit_offsets("nope", "", -1, None, &offsets(0, 1));
    assert!(other.is_ok());

    let (a, b) = two_member_group(&h);
    // The group has members: commits from outside it are refused.
    assert_eq!(commit(&h, "", -1, None), ErrorCode::UnknownMemberId);
    let raw = h.engine.offsets().commit(GROUP, &offsets(0, 9)).unwrap_err();
    assert_eq!(raw.code(), ErrorCode::UnknownMemberId, "the offset store's own commit is a simple commit");
    assert_eq!(commit(&h, "stranger", 1, None), ErrorCode::UnknownMemberId);
    assert_eq!(commit(&h, &a.member_id, 0, None), ErrorCode::IllegalGeneration);
    assert_eq!(commit(&h, &a.member_id, 1, Some("not-static")), ErrorCode::UnknownMemberId);
    assert_eq!(commit(&h, &a.member_id, 1, None), ErrorCode::None);

    // PreparingRebalance: the current generation may still commit.
    let pb = h.groups().join_group(request(&b.member_id, protocols(&["range", "roundrobin"])));
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    assert_eq!(commit(&h, &a.member_id, 1, None), ErrorCode::None);
    let pa = h.groups().join_group(request(&a.member_id, protocols(&["range"])));
    let (a2, _b2) = (done(&pa), done(&pb));
    // CompletingRebalance: plain commits wait for the assignment; transactional ones of the
    // current generation are accepted (KIP-447), of the old one refused.
    assert_eq!(h.state(), GroupState::CompletingRebalance);
    assert_eq!(commit(&h, &a.member_id, 2, None), ErrorCode::RebalanceInProgress);
    assert_eq!(commit(&h, &a.member_id, 1, None), ErrorCode::IllegalGeneration);
    let txn = h.engine.transactions();
    let pe = txn.init_producer_id(Some("tx"), 60_000, None).unwrap();
    txn.add_partitions_to_txn(
        "tx",
        pe.producer_id,
        pe.epoch,
        &[eoslog::txn::TxnTopicPartition::new("__consumer_offsets", 0)],
        eoslog::txn::TransactionVersion::Tv2,
    )
    .unwrap();
    let t = |generation: i32, member: &str| {
        h.groups()
            .txn_commit_offsets(pe.producer_id, pe.epoch, GROUP, member, generation, None, &offsets(0, 5))
            .map_err(|e| e.code())
    };
    assert_eq!(t(1, &a.member_id), Err(ErrorCode::IllegalGeneration));
    assert_eq!(t(2, "stranger"), Err(ErrorCode::UnknownMemberId));
    assert_eq!(t(2, &a2.member_id), Ok(()));
    // A transactional commit without membership is accepted even now (TxnOffsetCommit v0-v2).
    assert_eq!(t(-1, ""), Ok(()));
    txn.end_txn("tx", pe.producer_id, pe.epoch, true, eoslog::txn::TransactionVersion::Tv2).unwrap();
    assert_eq!(h.engine.offsets().committed(GROUP, "t", 0).unwrap().offset, 5);
    // OffsetFetch passes through.
    let f = h.groups().fetch_offsets(GROUP, Some(&[("t".to_string(), 0)]), true).unwrap();
    assert_eq!(f[0].committed.as_ref().unwrap().offset, 5);
}

#[test]
fn member_released_from_sync_by_a_rebalance_gets_a_new_session() {
    let h = harness(0);
    let s1 = done(&h.groups().join_group(static_request("s", "", protocols(&["range"]))));
    let (d_id, pd) = join_new(&h, protocols(&["range"]));
    let s = done(&h.groups().join_group(static_request("s", &s1.member_id, protocols(&["range"]))));
    let d = done(&pd);
    assert!(s.is_leader() && d.generation_id == 2);
    // The follower d parks in SyncGroup; the leader takes longer than a session (parked
    // members are exempt from expiry) and then rejoins with new metadata instead of syncing.
    let sd = sync(&h, &d, vec![]);
    for _ in 0..3 {
        h.groups().heartbeat(GROUP, &s.member_id, Some("s"), 2).unwrap();
        h.advance(i64::from(SESSION) / 2);
    }
    assert!(!sd.is_ready());
    let ps = h.groups().join_group(static_request("s", &s.member_id, protocols(&["range", "roundrobin"])));
    assert_eq!(sync_err(sd.try_take().unwrap()), ErrorCode::RebalanceInProgress);
    // d never comes back: one session after its release it is gone and the group moves on.
    h.advance(i64::from(SESSION));
    let s3 = done(&ps);
    assert_eq!((s3.generation_id, s3.members.len()), (3, 1));
    assert_eq!(hb(&h, &d_id, 2), ErrorCode::UnknownMemberId);
}

/// A member whose SyncGroup answer does not come before its `ensure_active_group` times out
/// waits for that answer at the next call instead of joining again: its new JoinGroup would
/// carry the new generation in its subscription, which the coordinator takes for changed
/// metadata and answers with another rebalance — a member polling with short timeouts would
/// keep its group rebalancing.
#[test]
fn member_resumes_a_timed_out_sync_instead_of_rejoining() {
    let h = harness(0);
    let short = Duration::from_millis(20);
    let partitions = |_: &str| Some(2);
    // A (driven by hand) leads generation 1 alone.
    let (a_id, pa) = join_new(&h, protocols(&["range"]));
    let a = done(&pa);
    assert!(a.is_leader());
    sync(&h, &a, vec![(a_id.clone(), assignment(&[0, 1]))]).try_take().unwrap();
    // B joins; the rebalance waits for A, so B's call times out.
    let mut config = eoslog::group::GroupMemberConfig::new(GROUP);
    config.session_timeout_ms = SESSION;
    config.rebalance_timeout_ms = REBALANCE;
    config.assignors = vec![Arc::new(eoslog::group::assignor::RangeAssignor)];
    let mut b = eoslog::group::GroupMember::new(h.groups().clone(), config, vec!["t".into()]);
    let listener = &mut eoslog::group::NoopListener;
    let e = b.ensure_active_group(&partitions, listener, short).unwrap_err();
    assert_eq!(e.code(), ErrorCode::RequestTimedOut);
    // A rejoins: generation 2. B gets its JoinGroup answer, then waits for A's assignment.
    let a = done(&h.groups().join_group(request(&a_id, protocols(&["range"]))));
    assert_eq!(a.generation_id, 2);
    assert_eq!(
        b.ensure_active_group(&partitions, listener, short).unwrap_err().code(),
        ErrorCode::RequestTimedOut
    );
    assert_eq!(b.generation_id(), 2);
    for _ in 0..3 {
        assert_eq!(
            b.ensure_active_group(&partitions, listener, short).unwrap_err().code(),
            ErrorCode::RequestTimedOut
        );
        assert_eq!(h.state(), GroupState::CompletingRebalance, "no new rebalance");
    }
    // The leader's assignment reaches the waiting SyncGroup.
    sync(&h, &a, vec![(a_id.clone(), assignment(&[0])), (b.member_id().to_string(), assignment(&[1]))])
        .try_take()
        .unwrap();
    b.ensure_active_group(&partitions, listener, WAIT).unwrap();
    assert_eq!(b.assignment(), [TopicPartition::new("t", 1)]);
    assert_eq!(b.generation_id(), 2);
    let d = h.groups().describe_group(GROUP).unwrap();
    assert_eq!((d.state, d.generation_id), (GroupState::Stable, 2));
}
