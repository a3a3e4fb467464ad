//! The member side of the group protocol (Kafka's `AbstractCoordinator` / `ConsumerCoordinator`)
//! for consumers living in the same process as the engine.
//!
//! [`GroupMember::ensure_active_group`] runs the join / sync loop until the member has a
//! stable assignment: it answers MEMBER_ID_REQUIRED, rejoins after REBALANCE_IN_PROGRESS,
//! resets itself after UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION, computes the assignment with the
//! chosen assignor when it leads, and calls the [`RebalanceListener`]:
//! - eager protocol: every owned partition is revoked before rejoining;
//! - cooperative protocol (every configured assignor supports it): partitions are kept while
//!   rejoining; after the assignment, the ones taken away are revoked and the member rejoins at
//!   once so the follow-up rebalance can give them to their new owner.
//!
//! Heartbeats run from any thread through a [`Heartbeater`]: it marks the member for rejoining
//! when the group rebalances, and as having lost its partitions when the coordinator no longer
//! knows it (the partitions are then reported lost, not revoked, at the next
//! `ensure_active_group`: a member that lost them must not commit for them).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::error::{Error, ErrorCode, Result};
use crate::group::assignor::{
    CooperativeStickyAssignor, MemberSubscription, PartitionAssignor, RebalanceProtocol,
};
use crate::group::coordinator::GroupCoordinator;
use crate::group::protocol::{
    Assignment, CONSUMER_PROTOCOL_MAX_VERSION, CONSUMER_PROTOCOL_TYPE, Subscription,
};
use crate::group::types::{
    ConsumerGroupMetadata, DEFAULT_REBALANCE_TIMEOUT_MS, DEFAULT_SESSION_TIMEOUT_MS, JoinGroupRequest,
    JoinGroupResponse, MemberIdentity, NO_GENERATION_ID, PendingSync, SyncGroupRequest, UNKNOWN_MEMBER_ID,
};
use crate::log::TopicPartition;
use crate::offsets::OffsetAndMetadata;

/// Callbacks around rebalances (Kafka's `ConsumerRebalanceListener`), called from
/// [`GroupMember::ensure_active_group`] and [`GroupMember::leave`] on the caller's thread.
pub trait RebalanceListener {
    /// The member gives these partitions up in an orderly way: a last chance to commit what it
    /// processed (its generation is still valid).
    fn on_partitions_revoked(&mut self, _partitions: &[TopicPartition]) {}
    /// Newly assigned partitions (with the cooperative protocol, only the added ones).
    fn on_partitions_assigned(&mut self, _partitions: &[TopicPartition]) {}
    /// The partitions were lost (the member was expelled or fenced): others may own them
    /// already, so nothing may be committed for them.
    fn on_partitions_lost(&mut self, partitions: &[TopicPartition]) {
        let _ = partitions;
    }
}

/// A listener that does nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopListener;

impl RebalanceListener for NoopListener {}

/// How a member joins.
#[derive(Debug, Clone)]
pub struct GroupMemberConfig {
    /// Group id.
    pub group_id: String,
    /// Client id (the member id prefix).
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// `group.instance.id` for static membership.
    pub group_instance_id: Option<String>,
    /// `session.timeout.ms`.
    pub session_timeout_ms: i32,
    /// `max.poll.interval.ms` (the rebalance timeout).
    pub rebalance_timeout_ms: i32,
    /// `partition.assignment.strategy`, in order of preference.
    pub assignors: Vec<Arc<dyn PartitionAssignor>>,
    /// `client.rack`.
    pub rack_id: Option<String>,
}

impl GroupMemberConfig {
    /// Kafka's consumer defaults, except the assignor: `cooperative-sticky` alone, so that
    /// in-process groups rebalance cooperatively (Kafka's default list also has `range`, which
    /// makes the protocol eager).
    pub fn new(group_id: impl Into<String>) -> Self {
        GroupMemberConfig {
            group_id: group_id.into(),
            client_id: "eoslog-consumer".into(),
            client_host: "/127.0.0.1".into(),
            group_instance_id: None,
            session_timeout_ms: DEFAULT_SESSION_TIMEOUT_MS,
            rebalance_timeout_ms: DEFAULT_REBALANCE_TIMEOUT_MS,
            assignors: vec![Arc::new(CooperativeStickyAssignor)],
            rack_id: None,
        }
    }

    /// The rebalance protocol: the most capable one every assignor supports (Kafka's rule).
    pub fn rebalance_protocol(&self) -> RebalanceProtocol {
        let mut common: BTreeSet<RebalanceProtocol> =
            [RebalanceProtocol::Eager, RebalanceProtocol::Cooperative].into();
        for a in &self.assignors {
            common.retain(|p| a.supported_protocols().contains(p));
        }
        common.into_iter().next_back().unwrap_or(RebalanceProtocol::Eager)
    }
}

/// Membership shared with the heartbeat thread.
#[derive(Debug)]
struct Shared {
    identity: Mutex<(String, i32)>,
    rejoin: AtomicBool,
    lost: AtomicBool,
    /// Set while a JoinGroup is outstanding. The coordinator may start the next generation
    /// before the member learns it, so a heartbeat sent meanwhile with the old generation is
    /// answered ILLEGAL_GENERATION although the member is fine: such answers are ignored
    /// (Kafka stops heartbeating while it rejoins, and ignores heartbeat errors for a
    /// generation it has already left).
    joining: AtomicBool,
}

/// Sends heartbeats for a [`GroupMember`] from another thread.
#[derive(Debug, Clone)]
pub struct Heartbeater {
    coordinator: Arc<GroupCoordinator>,
    group_id: String,
    instance: Option<String>,
    shared: Arc<Shared>,
}

impl Heartbeater {
    /// One heartbeat. REBALANCE_IN_PROGRESS marks the member for rejoining; UNKNOWN_MEMBER_ID
    /// and ILLEGAL_GENERATION mark its partitions lost. FENCED_INSTANCE_ID (another instance with
    /// the same `group.instance.id` took over) is returned: the member must stop.
    pub fn heartbeat(&self) -> Result<()> {
        let (member_id, generation) = self.shared.identity.lock().clone();
        if member_id.is_empty() || generation < 0 {
            return Ok(());
        }
        match self.coordinator.heartbeat(&self.group_id, &member_id, self.instance.as_deref(), generation) {
            Ok(()) => Ok(()),
            Err(e) => match e.code() {
                ErrorCode::RebalanceInProgress => {
                    self.shared.rejoin.store(true, Ordering::Release);
                    Ok(())
                }
                ErrorCode::UnknownMemberId | ErrorCode::IllegalGeneration
                    if self.shared.joining.load(Ordering::Acquire)
                        || self.shared.identity.lock().1 != generation =>
                {
                    // An answer about a generation the member is already leaving: the
                    // outstanding JoinGroup (or its answer) decides.
                    Ok(())
                }
                ErrorCode::UnknownMemberId | ErrorCode::IllegalGeneration => {
                    self.shared.lost.store(true, Ordering::Release);
                    self.shared.rejoin.store(true, Ordering::Release);
                    Ok(())
                }
                _ => Err(e),
            },
        }
    }

    /// The member's group metadata as it is now (the same as [`GroupMember::group_metadata`]),
    /// readable from any thread — also while the member is inside
    /// [`GroupMember::ensure_active_group`], where the generation changes as soon as the
    /// JoinGroup answer arrives, before the rebalance callbacks run.
    pub fn group_metadata(&self) -> ConsumerGroupMetadata {
        let (member_id, generation_id) = self.shared.identity.lock().clone();
        ConsumerGroupMetadata {
            group_id: self.group_id.clone(),
            generation_id,
            member_id,
            group_instance_id: self.instance.clone(),
        }
    }

    /// Waits up to `timeout` for the group to start a rebalance after the member's
    /// generation; returns whether it did (then heartbeat, and the member rejoins). Without a
    /// generation (the member is joining) it just waits `timeout`.
    pub fn await_rebalance(&self, timeout: Duration) -> bool {
        let generation = self.shared.identity.lock().1;
        if generation < 0 {
            std::thread::sleep(timeout);
            return false;
        }
        self.coordinator.await_rebalance(&self.group_id, generation, timeout)
    }
}

/// One member of a consumer group, for an in-process consumer.
#[derive(Debug)]
pub struct GroupMember {
    coordinator: Arc<GroupCoordinator>,
    config: GroupMemberConfig,
    topics: Vec<String>,
    member_id: String,
    generation_id: i32,
    protocol_name: Option<String>,
    owned: Vec<TopicPartition>,
    leader: bool,
    shared: Arc<Shared>,
    /// A SyncGroup whose answer did not arrive before an `ensure_active_group` timed out: the
    /// next call waits for that answer instead of joining again (see there).
    pending_sync: Option<PendingSync>,
}

fn err(code: ErrorCode, msg: impl Into<String>) -> Error {
    Error::kafka(code, msg)
}

impl GroupMember {
    /// A member subscribed to `topics`, not joined yet.
    pub fn new(coordinator: Arc<GroupCoordinator>, config: GroupMemberConfig, topics: Vec<String>) -> Self {
        GroupMember {
            coordinator,
            config,
            topics,
            member_id: UNKNOWN_MEMBER_ID.to_string(),
            generation_id: NO_GENERATION_ID,
            protocol_name: None,
            owned: Vec::new(),
            leader: false,
            pending_sync: None,
            shared: Arc::new(Shared {
                identity: Mutex::new((UNKNOWN_MEMBER_ID.to_string(), NO_GENERATION_ID)),
                rejoin: AtomicBool::new(true),
                lost: AtomicBool::new(false),
                joining: AtomicBool::new(false),
            }),
        }
    }

    /// Member id (empty before the first join).
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// Generation of the current assignment (−1 before the first).
    pub fn generation_id(&self) -> i32 {
        self.generation_id
    }

    /// Whether this member led the last rebalance.
    pub fn is_leader(&self) -> bool {
        self.leader
    }

    /// The partitions the member owns.
    pub fn assignment(&self) -> &[TopicPartition] {
        &self.owned
    }

    /// The chosen assignor of the current generation.
    pub fn protocol_name(&self) -> Option<&str> {
        self.protocol_name.as_deref()
    }

    /// The rebalance protocol in use.
    pub fn rebalance_protocol(&self) -> RebalanceProtocol {
        self.config.rebalance_protocol()
    }

    /// The metadata a transactional producer needs to commit this member's offsets.
    pub fn group_metadata(&self) -> ConsumerGroupMetadata {
        ConsumerGroupMetadata {
            group_id: self.config.group_id.clone(),
            generation_id: self.generation_id,
            member_id: self.member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
        }
    }

    /// Whether the member must (re)join before it may trust its assignment.
    pub fn needs_rejoin(&self) -> bool {
        self.shared.rejoin.load(Ordering::Acquire)
    }

    /// Asks for a rebalance at the next [`Self::ensure_active_group`].
    pub fn request_rejoin(&self) {
        self.shared.rejoin.store(true, Ordering::Release);
    }

    /// Changes the subscription (takes effect with a rebalance).
    pub fn subscribe(&mut self, topics: Vec<String>) {
        if topics != self.topics {
            self.topics = topics;
            self.request_rejoin();
        }
    }

    /// A handle to heartbeat from another thread.
    pub fn heartbeater(&self) -> Heartbeater {
        Heartbeater {
            coordinator: self.coordinator.clone(),
            group_id: self.config.group_id.clone(),
            instance: self.config.group_instance_id.clone(),
            shared: self.shared.clone(),
        }
    }

    /// One heartbeat from the member's own thread (see [`Heartbeater::heartbeat`]).
    pub fn heartbeat(&self) -> Result<()> {
        self.heartbeater().heartbeat()
    }

    fn set_identity(&mut self, member_id: String, generation_id: i32) {
        self.member_id = member_id.clone();
        self.generation_id = generation_id;
        *self.shared.identity.lock() = (member_id, generation_id);
    }

    /// Forgets the generation (and the member id, for UNKNOWN_MEMBER_ID): owned partitions are
    /// lost.
    fn reset(&mut self, listener: &mut dyn RebalanceListener, keep_member_id: bool) {
        if !self.owned.is_empty() {
            let lost = std::mem::take(&mut self.owned);
            listener.on_partitions_lost(&lost);
        }
        let member_id = if keep_member_id { self.member_id.clone() } else { UNKNOWN_MEMBER_ID.to_string() };
        self.set_identity(member_id, NO_GENERATION_ID);
        self.protocol_name = None;
        self.leader = false;
        self.pending_sync = None;
        self.shared.lost.store(false, Ordering::Release);
        self.shared.joining.store(false, Ordering::Release);
        self.shared.rejoin.store(true, Ordering::Release);
    }

    fn join_request(&self) -> Result<JoinGroupRequest> {
        let mut protocols = Vec::with_capacity(self.config.assignors.len());
        for a in &self.config.assignors {
            let subscription = Subscription {
                topics: self.topics.clone(),
                user_data: a.subscription_user_data(&self.topics, self.generation_id),
                owned_partitions: self.owned.clone(),
                generation_id: self.generation_id,
                rack_id: self.config.rack_id.clone(),
            };
            protocols.push((a.name().to_string(), subscription.encode(CONSUMER_PROTOCOL_MAX_VERSION)?));
        }
        Ok(JoinGroupRequest {
            group_id: self.config.group_id.clone(),
            member_id: self.member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
            require_known_member_id: true,
            support_skipping_assignment: true,
            client_id: self.config.client_id.clone(),
            client_host: self.config.client_host.clone(),
            rebalance_timeout_ms: self.config.rebalance_timeout_ms,
            session_timeout_ms: self.config.session_timeout_ms,
            protocol_type: CONSUMER_PROTOCOL_TYPE.to_string(),
            protocols,
            reason: None,
        })
    }

    /// Joins the group until the member has a stable assignment (returns at once if it has
    /// one). `partition_count` gives the number of partitions of a topic (`None` if it does not
    /// exist); the leader uses it to assign. Blocks up to `timeout` (real time); on timeout the
    /// member's request stays parked in the coordinator and the next call continues it: a
    /// JoinGroup is sent again (with the same metadata, which the coordinator takes as a
    /// retry), a SyncGroup is waited for again — joining again after the JoinGroup answer would
    /// announce the new generation in the subscription, which the coordinator takes for changed
    /// metadata and answers with one more rebalance (a member polling with short timeouts
    /// would keep its group rebalancing).
    pub fn ensure_active_group(
        &mut self,
        partition_count: &dyn Fn(&str) -> Option<i32>,
        listener: &mut dyn RebalanceListener,
        timeout: Duration,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let remaining = || deadline.saturating_duration_since(Instant::now());
        if self.shared.lost.load(Ordering::Acquire) {
            self.reset(listener, true);
        }
        while self.needs_rejoin() {
            if remaining().is_zero() {
                return Err(err(
                    ErrorCode::RequestTimedOut,
                    format!("joining group {} timed out", self.config.group_id),
                ));
            }
            let sync = match self.pending_sync.take() {
                Some(pending) => pending,
                None => {
                    if self.rebalance_protocol() == RebalanceProtocol::Eager && !self.owned.is_empty() {
                        let revoked = std::mem::take(&mut self.owned);
                        listener.on_partitions_revoked(&revoked);
                    }
                    let request = self.join_request()?;
                    // Cleared once the answer is applied (below) or the member resets; left set
                    // on a timeout, when the request stays parked and the next call continues it.
                    self.shared.joining.store(true, Ordering::Release);
                    let pending = self.coordinator.join_group(request);
                    let Some(join) = pending.wait(remaining()) else {
                        return Err(err(
                            ErrorCode::RequestTimedOut,
                            format!("joining group {} timed out", self.config.group_id),
                        ));
                    };
                    if join.error != ErrorCode::None {
                        self.shared.joining.store(false, Ordering::Release);
                    }
                    match join.error {
                        ErrorCode::None => {}
                        ErrorCode::MemberIdRequired => {
                            self.set_identity(join.member_id, self.generation_id);
                            continue;
                        }
                        ErrorCode::UnknownMemberId => {
                            self.reset(listener, false);
                            continue;
                        }
                        ErrorCode::IllegalGeneration => {
                            self.reset(listener, true);
                            continue;
                        }
                        ErrorCode::RebalanceInProgress => continue,
                        code => {
                            return Err(err(
                                code,
                                format!("JoinGroup of group {} failed", self.config.group_id),
                            ));
                        }
                    }
                    self.set_identity(join.member_id.clone(), join.generation_id);
                    self.shared.joining.store(false, Ordering::Release);
                    self.protocol_name = join.protocol_name.clone();
                    self.leader = join.is_leader();
                    let assignments = if join.is_leader() && !join.skip_assignment {
                        self.lead(&join, partition_count)?
                    } else {
                        Vec::new()
                    };
                    self.coordinator.sync_group(SyncGroupRequest {
                        group_id: self.config.group_id.clone(),
                        generation_id: join.generation_id,
                        member_id: join.member_id.clone(),
                        group_instance_id: self.config.group_instance_id.clone(),
                        protocol_type: Some(CONSUMER_PROTOCOL_TYPE.to_string()),
                        protocol_name: join.protocol_name.clone(),
                        assignments,
                    })
                }
            };
            let Some(answer) = sync.wait(remaining()) else {
                self.pending_sync = Some(sync);
                return Err(err(
                    ErrorCode::RequestTimedOut,
                    format!("SyncGroup of group {} timed out", self.config.group_id),
                ));
            };
            match answer.error {
                ErrorCode::None => self.on_join_complete(&answer.assignment, listener)?,
                ErrorCode::RebalanceInProgress => continue,
                ErrorCode::UnknownMemberId => self.reset(listener, false),
                ErrorCode::IllegalGeneration => self.reset(listener, true),
                code => return Err(err(code, format!("SyncGroup of group {} failed", self.config.group_id))),
            }
        }
        Ok(())
    }

    /// The leader's job (Kafka's `onLeaderElected`): decode every member's subscription, run
    /// the chosen assignor and encode the assignments.
    fn lead(
        &self,
        join: &JoinGroupResponse,
        partition_count: &dyn Fn(&str) -> Option<i32>,
    ) -> Result<Vec<(String, Vec<u8>)>> {
        let name = join.protocol_name.as_deref().unwrap_or_default();
        let assignor = self.config.assignors.iter().find(|a| a.name() == name).ok_or_else(|| {
            err(ErrorCode::InconsistentGroupProtocol, format!("the group chose unknown assignor {name}"))
        })?;
        let mut subscriptions = BTreeMap::new();
        let mut version = CONSUMER_PROTOCOL_MAX_VERSION;
        for m in &join.members {
            let (v, subscription) = Subscription::decode(&m.metadata)?;
            version = version.min(v);
            subscriptions.insert(
                m.member_id.clone(),
                MemberSubscription { subscription, group_instance_id: m.group_instance_id.clone() },
            );
        }
        let topics: BTreeSet<&String> =
            subscriptions.values().flat_map(|s| s.subscription.topics.iter()).collect();
        let partitions_per_topic: BTreeMap<String, i32> =
            topics.into_iter().filter_map(|t| partition_count(t).map(|n| (t.clone(), n))).collect();
        let assignment = assignor.assign(&partitions_per_topic, &subscriptions);
        if self.rebalance_protocol() == RebalanceProtocol::Cooperative {
            validate_cooperative_assignment(&subscriptions, &assignment)?;
        }
        let mut out = Vec::with_capacity(assignment.len());
        for (member, partitions) in assignment {
            out.push((member, Assignment::new(partitions).encode(version)?));
        }
        Ok(out)
    }

    /// Applies the assignment of a completed rebalance (Kafka's `onJoinComplete`).
    fn on_join_complete(&mut self, bytes: &[u8], listener: &mut dyn RebalanceListener) -> Result<()> {
        let (_, assignment) = Assignment::decode(bytes)?;
        let assigned = assignment.partitions;
        self.shared.rejoin.store(false, Ordering::Release);
        match self.rebalance_protocol() {
            RebalanceProtocol::Eager => {
                self.owned = assigned.clone();
                listener.on_partitions_assigned(&assigned);
            }
            RebalanceProtocol::Cooperative => {
                let revoked: Vec<TopicPartition> =
                    self.owned.iter().filter(|p| !assigned.contains(p)).cloned().collect();
                let added: Vec<TopicPartition> =
                    assigned.iter().filter(|p| !self.owned.contains(p)).cloned().collect();
                if !revoked.is_empty() {
                    listener.on_partitions_revoked(&revoked);
                    // The revoked partitions go to their new owners in a follow-up rebalance.
                    self.shared.rejoin.store(true, Ordering::Release);
                }
                self.owned = assigned;
                listener.on_partitions_assigned(&added);
            }
        }
        if self.owned.iter().any(|p| !self.topics.contains(&p.topic)) {
            // The subscription changed while the rebalance ran.
            self.shared.rejoin.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// OffsetCommit for this member's generation. ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID and
    /// FENCED_INSTANCE_ID mean the member lost its partitions (Kafka's `CommitFailedException`);
    /// REBALANCE_IN_PROGRESS that it must rejoin first.
    pub fn commit_offsets(&self, offsets: &[(String, i32, OffsetAndMetadata)]) -> Result<()> {
        let r = self.coordinator.commit_offsets(
            &self.config.group_id,
            &self.member_id,
            self.generation_id,
            self.config.group_instance_id.as_deref(),
            offsets,
        );
        if let Err(e) = &r {
            match e.code() {
                ErrorCode::RebalanceInProgress => self.request_rejoin(),
                ErrorCode::IllegalGeneration | ErrorCode::UnknownMemberId => {
                    self.shared.lost.store(true, Ordering::Release);
                    self.request_rejoin();
                }
                _ => {}
            }
        }
        r
    }

    /// Leaves the group (Kafka's `maybeLeaveGroup`): the owned partitions are revoked first. A
    /// static member does not send LeaveGroup — its instance keeps its place until its session
    /// expires, so a restart does not rebalance (KIP-345).
    pub fn leave(&mut self, listener: &mut dyn RebalanceListener) -> Result<()> {
        if !self.owned.is_empty() {
            let revoked = std::mem::take(&mut self.owned);
            if self.shared.lost.load(Ordering::Acquire) || self.generation_id < 0 {
                listener.on_partitions_lost(&revoked);
            } else {
                listener.on_partitions_revoked(&revoked);
            }
        }
        let result = if self.config.group_instance_id.is_none() && !self.member_id.is_empty() {
            let r = self
                .coordinator
                .leave_group(&self.config.group_id, &[MemberIdentity::member(self.member_id.clone())]);
            match (r.error, r.members.first().map(|m| m.error)) {
                (ErrorCode::None, Some(ErrorCode::None | ErrorCode::UnknownMemberId) | None) => Ok(()),
                (ErrorCode::None, Some(code)) | (code, _) => Err(err(code, "LeaveGroup failed")),
            }
        } else {
            Ok(())
        };
        self.set_identity(UNKNOWN_MEMBER_ID.to_string(), NO_GENERATION_ID);
        self.pending_sync = None;
        self.shared.rejoin.store(true, Ordering::Release);
        result
    }
}

/// Kafka's `validateCooperativeAssignment`: no partition may be revoked from one member and
/// given to another in the same assignment.
fn validate_cooperative_assignment(
    subscriptions: &BTreeMap<String, MemberSubscription>,
    assignment: &BTreeMap<String, Vec<TopicPartition>>,
) -> Result<()> {
    let mut added = BTreeSet::new();
    let mut revoked = BTreeSet::new();
    for (m, parts) in assignment {
        let owned = &subscriptions[m].subscription.owned_partitions;
        added.extend(parts.iter().filter(|p| !owned.contains(p)));
        revoked.extend(owned.iter().filter(|p| !parts.contains(p)));
    }
    match added.intersection(&revoked).next() {
        Some(p) => Err(err(
            ErrorCode::UnknownServerError,
            format!("the assignor moved {p} from one member to another in one cooperative rebalance"),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The coordinator starts generation N+1 when the last member's JoinGroup arrives, before
    /// that member has applied the answer: a heartbeat sent in between still carries N and is
    /// answered ILLEGAL_GENERATION. That answer is about a generation the member is leaving and
    /// must not cost it its partitions; the same answer outside a join does.
    #[test]
    fn a_heartbeat_for_the_generation_being_left_is_not_a_loss() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::EngineConfig { group_initial_rebalance_delay_ms: 0, ..Default::default() };
        let engine = crate::Engine::open(dir.path(), config).unwrap();
        engine.create_topic("t", 2, Default::default()).unwrap();
        let partitions = |topic: &str| (topic == "t").then_some(2);
        let mut member =
            GroupMember::new(engine.groups().clone(), GroupMemberConfig::new("g"), vec!["t".into()]);
        member.ensure_active_group(&partitions, &mut NoopListener, Duration::from_secs(10)).unwrap();
        let old_generation = member.generation_id();
        member.request_rejoin();
        member.ensure_active_group(&partitions, &mut NoopListener, Duration::from_secs(10)).unwrap();
        assert!(member.generation_id() > old_generation);
        let heartbeater = member.heartbeater();
        let stale = (member.member_id().to_string(), old_generation);

        *member.shared.identity.lock() = stale.clone();
        member.shared.joining.store(true, Ordering::Release);
        heartbeater.heartbeat().unwrap();
        assert!(!member.shared.lost.load(Ordering::Acquire), "an answer about the generation being left");

        member.shared.joining.store(false, Ordering::Release);
        heartbeater.heartbeat().unwrap();
        assert!(member.shared.lost.load(Ordering::Acquire), "ILLEGAL_GENERATION outside a join is a loss");
    }
}
