//! The group coordinator (Kafka's classic `GroupCoordinator`): membership, generations and
//! rebalances of consumer groups, and the generation fencing of offset commits (KIP-447).
//!
//! # Requests
//! JoinGroup and SyncGroup may have to wait for other members; they return a [`Pending`]
//! answer the caller blocks on ([`Pending::wait`], an in-process consumer or a front end with a
//! thread per connection) or polls. Heartbeat, LeaveGroup and the offset APIs answer at once.
//!
//! # Time
//! Every deadline — session expiry, the rebalance timeout, the initial rebalance delay, the
//! SyncGroup deadline, pending-member expiry — is a timestamp of the engine's [`Clock`].
//! Deadlines fire in [`GroupCoordinator::tick`], which the engine's background thread calls,
//! and also at the start and end of every request to the group, so that a request always sees
//! the group as it is at the clock's current time whether or not the background thread has run
//! yet. Tests drive the coordinator with a `ManualClock` and `tick()`, without sleeping.
//!
//! # Locking
//! One mutex per group. Persisting group metadata and storing offsets happen under the group's
//! lock, as in Kafka (which appends under the group lock): a commit is validated and written
//! atomically with respect to membership changes, so a member removed by a rebalance cannot
//! slip a commit in between.
//!
//! # Persistence
//! A generation's metadata and assignment is written to `__consumer_offsets` when the leader's
//! SyncGroup completes it, when a static member is replaced without a rebalance, and when the
//! group becomes empty (Kafka's `storeGroup`); it is replayed when the engine opens.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::clock::Clock;
use crate::error::{Error, ErrorCode, Result};
use crate::group::config::GroupConfig;
use crate::group::metadata::{Group, JoinTimer, Member, SyncTimer};
use crate::group::state::GroupState;
use crate::group::types::{
    ConsumerGroupMetadata, GroupDescription, GroupOverview, JoinGroupRequest, JoinGroupResponse,
    LeaveGroupResponse, LeaveMemberResponse, MemberDescription, MemberIdentity, Pending, PendingJoin,
    PendingSync, Slot, SyncGroupRequest, SyncGroupResponse, UNKNOWN_MEMBER_ID,
};
use crate::offsets::format::{GroupMetadataValue, MemberMetadata};
use crate::offsets::{CommitFence, FetchedOffset, OffsetAndMetadata, OffsetStore};

/// How many rounds of due timers one call processes at most (a zero rebalance timeout with no
/// member rejoining would otherwise re-arm and fire forever, as in Kafka's purgatory).
const MAX_TIMER_ROUNDS: usize = 8;

#[derive(Debug)]
struct GroupEntry {
    group: Mutex<Group>,
    /// Notified when the group changes state ([`GroupCoordinator::await_rebalance`]).
    changed: Condvar,
}

/// The group coordinator of one engine.
pub struct GroupCoordinator {
    config: GroupConfig,
    clock: Arc<dyn Clock>,
    offsets: Arc<OffsetStore>,
    groups: Mutex<HashMap<String, Arc<GroupEntry>>>,
    active: AtomicBool,
    member_ids: AtomicU64,
}

impl fmt::Debug for GroupCoordinator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupCoordinator")
            .field("config", &self.config)
            .field("groups", &self.groups.lock().len())
            .field("active", &self.active.load(Ordering::Relaxed))
            .finish()
    }
}

fn kafka(code: ErrorCode, msg: impl Into<String>) -> Error {
    Error::kafka(code, msg)
}

/// Kafka's mapping of a failed group-metadata append to the error members see
/// (`GroupMetadataManager.storeGroup`).
fn store_error(e: &Error) -> ErrorCode {
    match e.code() {
        ErrorCode::UnknownTopicOrPartition | ErrorCode::RequestTimedOut => ErrorCode::CoordinatorNotAvailable,
        ErrorCode::KafkaStorageError => ErrorCode::NotCoordinator,
        ErrorCode::MessageTooLarge | ErrorCode::RecordListTooLarge | ErrorCode::InvalidFetchSize => {
            ErrorCode::UnknownServerError
        }
        other => other,
    }
}

impl GroupCoordinator {
    /// A coordinator over `offsets`, restoring the groups `loaded` from `__consumer_offsets`.
    /// Restored members must heartbeat within their session timeout (from now), as after a
    /// Kafka coordinator failover; a restored group over `group.max.size` rebalances.
    pub(crate) fn load(
        offsets: Arc<OffsetStore>,
        loaded: BTreeMap<String, GroupMetadataValue>,
        clock: Arc<dyn Clock>,
        config: GroupConfig,
    ) -> GroupCoordinator {
        let coordinator = GroupCoordinator {
            config,
            clock,
            offsets,
            groups: Mutex::new(HashMap::new()),
            active: AtomicBool::new(true),
            member_ids: AtomicU64::new(0),
        };
        let now = coordinator.now();
        for (id, value) in loaded {
            let mut g = Group::new(
                id.clone(),
                if value.members.is_empty() { GroupState::Empty } else { GroupState::Stable },
                now,
            );
            g.generation_id = value.generation;
            g.protocol_type = (!value.protocol_type.is_empty()).then(|| value.protocol_type.clone());
            g.protocol_name = value.protocol.clone();
            if value.current_state_timestamp >= 0 {
                g.state_timestamp = value.current_state_timestamp;
            }
            let protocol = value.protocol.clone().unwrap_or_default();
            for m in value.members {
                g.add(Member {
                    member_id: m.member_id,
                    group_instance_id: m.group_instance_id,
                    client_id: m.client_id,
                    client_host: m.client_host,
                    rebalance_timeout_ms: m.rebalance_timeout,
                    session_timeout_ms: m.session_timeout,
                    protocol_type: value.protocol_type.clone(),
                    protocols: vec![(protocol.clone(), m.subscription)],
                    assignment: m.assignment,
                    awaiting_join: None,
                    awaiting_sync: None,
                    is_new: false,
                    expires_at: Some(now.saturating_add(i64::from(m.session_timeout))),
                });
            }
            // `add` made the first member leader; the stored leader wins.
            if let Some(leader) = value.leader.as_deref().filter(|l| g.has(l)) {
                g.set_leader(leader);
            }
            log::info!(
                "loaded group {id} at generation {} in state {} with {} members",
                g.generation_id,
                g.state(),
                g.size()
            );
            if g.size() > coordinator.max_size() {
                coordinator.prepare_rebalance(&mut g, now, "the loaded group is over group.max.size");
            }
            coordinator
                .groups
                .lock()
                .insert(id, Arc::new(GroupEntry { group: Mutex::new(g), changed: Condvar::new() }));
        }
        coordinator
    }

    /// The settings.
    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    fn max_size(&self) -> usize {
        usize::try_from(self.config.max_size).unwrap_or(0)
    }

    fn entry(&self, group_id: &str) -> Option<Arc<GroupEntry>> {
        self.groups.lock().get(group_id).cloned()
    }

    fn entry_or_create(&self, group_id: &str) -> Arc<GroupEntry> {
        let now = self.now();
        self.groups
            .lock()
            .entry(group_id.to_string())
            .or_insert_with(|| {
                Arc::new(GroupEntry {
                    group: Mutex::new(Group::new(group_id, GroupState::Empty, now)),
                    changed: Condvar::new(),
                })
            })
            .clone()
    }

    /// Locks a group, fires its due timers, runs `f`, fires timers `f` made due, and wakes
    /// in-process waiters if the group changed state.
    fn with_group<R>(&self, entry: &GroupEntry, f: impl FnOnce(&Self, &mut Group, i64) -> R) -> R {
        let mut g = entry.group.lock();
        let now = self.now();
        let before = g.transitions;
        self.run_timers(&mut g, now);
        let r = f(self, &mut g, now);
        self.run_timers(&mut g, now);
        Self::notify_if_changed(entry, &g, before);
        r
    }

    fn notify_if_changed(entry: &GroupEntry, g: &MutexGuard<'_, Group>, before: u64) {
        if g.transitions != before {
            entry.changed.notify_all();
        }
    }

    /// A fresh member id: the client id (or instance id) and a random UUID, as Kafka's. Random,
    /// not a counter, so an id is never handed out again after a restart while a zombie that
    /// held it may still be around.
    fn new_member_id(&self, client_id: &str, group_instance_id: Option<&str>) -> String {
        let n = self.member_ids.fetch_add(1, Ordering::Relaxed);
        format!("{}-{}", group_instance_id.unwrap_or(client_id), crate::group::ids::random_uuid(n))
    }

    fn check_active(&self) -> Option<ErrorCode> {
        (!self.active.load(Ordering::Acquire)).then_some(ErrorCode::CoordinatorNotAvailable)
    }

    // ------------------------------------------------------------------------------- JoinGroup

    /// JoinGroup. The answer may wait until every member has rejoined or the rebalance timeout
    /// expires; see [`Pending`].
    pub fn join_group(&self, req: JoinGroupRequest) -> PendingJoin {
        let slot = Slot::new();
        let pending = Pending::new(slot.clone());
        let fail = |code| slot.complete(JoinGroupResponse::error(req.member_id.clone(), code));
        if req.group_id.is_empty() {
            fail(ErrorCode::InvalidGroupId);
            return pending;
        }
        if let Some(code) = self.check_active() {
            fail(code);
            return pending;
        }
        if req.session_timeout_ms < self.config.min_session_timeout_ms
            || req.session_timeout_ms > self.config.max_session_timeout_ms
        {
            fail(ErrorCode::InvalidSessionTimeout);
            return pending;
        }
        let is_unknown = req.member_id == UNKNOWN_MEMBER_ID;
        // A group is created by a new member only; a known member id joining a group that does
        // not exist is refused.
        let entry =
            if is_unknown { Some(self.entry_or_create(&req.group_id)) } else { self.entry(&req.group_id) };
        let Some(entry) = entry else {
            fail(ErrorCode::UnknownMemberId);
            return pending;
        };
        self.with_group(&entry, |c, g, now| {
            if !c.accept_joining_member(g, &req.member_id) {
                g.remove(&req.member_id);
                slot.complete(JoinGroupResponse::error(UNKNOWN_MEMBER_ID, ErrorCode::GroupMaxSizeReached));
            } else if is_unknown {
                c.new_member_join(g, now, req, slot.clone());
            } else {
                c.current_member_join(g, now, req, slot.clone());
            }
            if g.is(GroupState::PreparingRebalance) {
                c.try_complete_join(g, now);
            }
        });
        pending
    }

    /// Kafka's `acceptJoiningMember`: whether the group has room for this member.
    fn accept_joining_member(&self, g: &Group, member_id: &str) -> bool {
        let max = self.max_size();
        match g.state() {
            GroupState::Empty | GroupState::Dead => true,
            // The number of parked joins, not the size: it may already exceed a lowered limit,
            // and counting rejoined members sheds the last ones to rejoin.
            GroupState::PreparingRebalance => {
                g.get(member_id).is_some_and(Member::is_awaiting_join) || g.num_awaiting_join() < max
            }
            GroupState::CompletingRebalance | GroupState::Stable => g.has(member_id) || g.size() < max,
        }
    }

    fn new_member_join(
        &self,
        g: &mut Group,
        now: i64,
        req: JoinGroupRequest,
        slot: Arc<Slot<JoinGroupResponse>>,
    ) {
        if g.is(GroupState::Dead) {
            slot.complete(JoinGroupResponse::error(UNKNOWN_MEMBER_ID, ErrorCode::CoordinatorNotAvailable));
            return;
        }
        if !g.supports_protocols(&req.protocol_type, &req.protocols) {
            slot.complete(JoinGroupResponse::error(UNKNOWN_MEMBER_ID, ErrorCode::InconsistentGroupProtocol));
            return;
        }
        let new_id = self.new_member_id(&req.client_id, req.group_instance_id.as_deref());
        match req.group_instance_id.clone() {
            Some(instance) => match g.static_member_id(&instance).map(str::to_string) {
                Some(old_id) => {
                    self.update_static_member_and_rebalance(g, now, &instance, &old_id, &new_id, req, slot)
                }
                None => self.add_member_and_rebalance(g, now, new_id, req, slot),
            },
            None if req.require_known_member_id => {
                // KIP-394: the member gets its id first and must come back with it; until
                // then it counts as pending, and the rebalance waits for it.
                log::debug!("group {}: new dynamic member gets id {new_id} and must rejoin", g.id);
                g.add_pending_member(&new_id, now.saturating_add(i64::from(req.session_timeout_ms)));
                slot.complete(JoinGroupResponse::error(new_id, ErrorCode::MemberIdRequired));
            }
            None => self.add_member_and_rebalance(g, now, new_id, req, slot),
        }
    }

    /// Kafka's `validateCurrentMember`: a static member's instance id must map to this member id
    /// (FENCED_INSTANCE_ID if it maps to another, UNKNOWN_MEMBER_ID if to none); the member id
    /// must be in the group.
    fn validate_current_member(
        g: &Group,
        member_id: &str,
        group_instance_id: Option<&str>,
    ) -> Option<ErrorCode> {
        if let Some(instance) = group_instance_id {
            match g.static_member_id(instance) {
                Some(current) if current != member_id => {
                    log::info!(
                        "group {}: member {member_id} of static instance {instance} is fenced by {current}",
                        g.id
                    );
                    return Some(ErrorCode::FencedInstanceId);
                }
                Some(_) => {}
                None => return Some(ErrorCode::UnknownMemberId),
            }
        }
        (!g.has(member_id)).then_some(ErrorCode::UnknownMemberId)
    }

    fn current_member_join(
        &self,
        g: &mut Group,
        now: i64,
        req: JoinGroupRequest,
        slot: Arc<Slot<JoinGroupResponse>>,
    ) {
        let member_id = req.member_id.clone();
        if g.is(GroupState::Dead) {
            slot.complete(JoinGroupResponse::error(member_id, ErrorCode::CoordinatorNotAvailable));
            return;
        }
        if !g.supports_protocols(&req.protocol_type, &req.protocols) {
            slot.complete(JoinGroupResponse::error(member_id, ErrorCode::InconsistentGroupProtocol));
            return;
        }
        if g.is_pending_member(&member_id) {
            // The second JoinGroup of the MEMBER_ID_REQUIRED handshake (never a static member:
            // those get their id directly).
            if req.group_instance_id.is_some() {
                slot.complete(JoinGroupResponse::error(member_id, ErrorCode::InvalidRequest));
                return;
            }
            self.add_member_and_rebalance(g, now, member_id, req, slot);
            return;
        }
        if let Some(code) = Self::validate_current_member(g, &member_id, req.group_instance_id.as_deref()) {
            slot.complete(JoinGroupResponse::error(member_id, code));
            return;
        }
        let reason = req.reason.as_deref().unwrap_or("not provided");
        match g.state() {
            GroupState::PreparingRebalance => {
                let why = format!("member {member_id} rejoined during PreparingRebalance ({reason})");
                self.update_member_and_rebalance(g, now, req, slot, &why);
            }
            GroupState::CompletingRebalance => {
                if g.get(&member_id).is_some_and(|m| m.matches(&req.protocols)) {
                    // Probably a retry after a lost response: answer with the current
                    // generation (the leader gets the member list again).
                    slot.complete(Self::join_response(g, &member_id, false));
                } else {
                    let why = format!(
                        "member {member_id} changed its metadata during CompletingRebalance ({reason})"
                    );
                    self.update_member_and_rebalance(g, now, req, slot, &why);
                }
            }
            GroupState::Stable => {
                if g.is_leader(&member_id) {
                    // A leader's JoinGroup always rebalances: it is how a consumer leader
                    // reacts to changes its members' metadata does not show (new partitions).
                    let why = format!("leader {member_id} rejoined ({reason})");
                    self.update_member_and_rebalance(g, now, req, slot, &why);
                } else if !g.get(&member_id).is_some_and(|m| m.matches(&req.protocols)) {
                    let why = format!("member {member_id} changed its metadata ({reason})");
                    self.update_member_and_rebalance(g, now, req, slot, &why);
                } else {
                    // A follower with unchanged metadata: nothing to rebalance.
                    let mut resp = Self::join_response(g, &member_id, false);
                    resp.members.clear();
                    slot.complete(resp);
                }
            }
            GroupState::Empty | GroupState::Dead => {
                slot.complete(JoinGroupResponse::error(member_id, ErrorCode::UnknownMemberId));
            }
        }
    }

    /// The JoinGroup answer of the current generation for `member_id`; the leader also gets the
    /// member list.
    fn join_response(g: &Group, member_id: &str, skip_assignment: bool) -> JoinGroupResponse {
        let leader = g.leader().unwrap_or_default().to_string();
        JoinGroupResponse {
            error: ErrorCode::None,
            generation_id: g.generation_id,
            protocol_type: g.protocol_type.clone(),
            protocol_name: g.protocol_name.clone(),
            members: if leader == member_id { g.current_member_metadata() } else { Vec::new() },
            leader,
            skip_assignment,
            member_id: member_id.to_string(),
        }
    }

    fn add_member_and_rebalance(
        &self,
        g: &mut Group,
        now: i64,
        member_id: String,
        req: JoinGroupRequest,
        slot: Arc<Slot<JoinGroupResponse>>,
    ) {
        // During the initial delay of a new group, each arrival may extend the delay.
        if g.is(GroupState::PreparingRebalance) && g.generation_id == 0 {
            g.new_member_added = true;
        }
        log::info!(
            "group {}: adding member {member_id} (instance {:?}, client {}) in state {}",
            g.id,
            req.group_instance_id,
            req.client_id,
            g.state()
        );
        g.add(Member {
            member_id: member_id.clone(),
            group_instance_id: req.group_instance_id,
            client_id: req.client_id,
            client_host: req.client_host,
            rebalance_timeout_ms: req.rebalance_timeout_ms,
            session_timeout_ms: req.session_timeout_ms,
            protocol_type: req.protocol_type,
            protocols: req.protocols,
            assignment: Vec::new(),
            awaiting_join: Some(slot),
            awaiting_sync: None,
            is_new: true,
            // A new member cannot heartbeat before it has a generation, and a parked JoinGroup
            // shows nothing about the client still being there: it is dropped after the
            // new-member join timeout instead (the client retries if it is alive).
            expires_at: Some(now.saturating_add(i64::from(self.config.new_member_join_timeout_ms))),
        });
        self.maybe_prepare_rebalance(g, now, &format!("adding new member {member_id}"));
    }

    #[allow(clippy::too_many_arguments)]
    fn update_static_member_and_rebalance(
        &self,
        g: &mut Group,
        now: i64,
        instance: &str,
        old_id: &str,
        new_id: &str,
        req: JoinGroupRequest,
        slot: Arc<Slot<JoinGroupResponse>>,
    ) {
        log::info!(
            "group {}: static member {instance} rejoins with a new member id {new_id}, replacing {old_id}",
            g.id
        );
        let current_leader = g.leader().map(str::to_string);
        g.replace_static_member(instance, old_id, new_id);
        self.schedule_heartbeat(g, new_id, now);
        let (old_protocols, old_rt, old_st) = {
            let m = g.get(new_id).expect("just replaced");
            (m.protocols.clone(), m.rebalance_timeout_ms, m.session_timeout_ms)
        };
        g.update_member(
            new_id,
            req.protocols,
            req.rebalance_timeout_ms,
            req.session_timeout_ms,
            Some(slot.clone()),
        );
        match g.state() {
            GroupState::Stable => {
                if g.select_protocol() == g.protocol_name {
                    // Nothing the assignment depends on changed: keep the generation and its
                    // assignment, and only persist the new member id (Kafka's static-membership
                    // rule: a restarted static member does not rebalance its group).
                    let assignment: HashMap<String, Vec<u8>> =
                        g.members().map(|m| (m.member_id.clone(), m.assignment.clone())).collect();
                    if let Err(code) = self.store_group(g, &assignment) {
                        log::warn!("group {}: cannot persist static member {instance}: {code}", g.id);
                        // Undo: the old member id stays the valid one.
                        g.update_member(new_id, old_protocols, old_rt, old_st, None);
                        g.replace_static_member(instance, new_id, old_id);
                        self.schedule_heartbeat(g, old_id, now);
                        let mut resp = JoinGroupResponse::error(UNKNOWN_MEMBER_ID, code);
                        resp.generation_id = g.generation_id;
                        resp.protocol_type = g.protocol_type.clone();
                        resp.protocol_name = g.protocol_name.clone();
                        resp.leader = current_leader.unwrap_or_default();
                        slot.complete(resp);
                        return;
                    }
                    let is_leader = g.is_leader(new_id);
                    let mut resp =
                        Self::join_response(g, new_id, req.support_skipping_assignment && is_leader);
                    if !req.support_skipping_assignment {
                        // Before KIP-814 the answer names the *old* leader id, so a rejoining
                        // leader does not compute an assignment a stable group would ignore.
                        resp.leader = current_leader.unwrap_or_default();
                        resp.members.clear();
                    }
                    g.maybe_invoke_join(new_id, resp);
                } else {
                    self.maybe_prepare_rebalance(
                        g,
                        now,
                        &format!("static member {instance} rejoined with a change of the group's protocol"),
                    );
                }
            }
            // The old member id may already be in the leader's assignment: a new round is
            // needed for the new id to get one.
            GroupState::CompletingRebalance => self.prepare_rebalance(
                g,
                now,
                &format!("static member {instance} rejoined during CompletingRebalance"),
            ),
            // The rejoin completes with the rebalance under way.
            GroupState::PreparingRebalance => {}
            GroupState::Empty | GroupState::Dead => {
                // A known static member implies a member, so neither state is possible.
                g.maybe_invoke_join(new_id, JoinGroupResponse::error(new_id, ErrorCode::UnknownServerError));
            }
        }
    }

    fn update_member_and_rebalance(
        &self,
        g: &mut Group,
        now: i64,
        req: JoinGroupRequest,
        slot: Arc<Slot<JoinGroupResponse>>,
        reason: &str,
    ) {
        g.update_member(
            &req.member_id,
            req.protocols,
            req.rebalance_timeout_ms,
            req.session_timeout_ms,
            Some(slot),
        );
        self.maybe_prepare_rebalance(g, now, reason);
    }

    fn maybe_prepare_rebalance(&self, g: &mut Group, now: i64, reason: &str) {
        if g.can_rebalance() {
            self.prepare_rebalance(g, now, reason);
        }
    }

    /// Starts a rebalance: members parked in SyncGroup are told REBALANCE_IN_PROGRESS, and the
    /// join timer starts (the initial delay for an empty group, else the rebalance timeout).
    fn prepare_rebalance(&self, g: &mut Group, now: i64, reason: &str) {
        if g.is(GroupState::CompletingRebalance) {
            self.reset_and_propagate_assignment_error(g, now, ErrorCode::RebalanceInProgress);
        }
        g.sync_timer = None;
        g.clear_pending_sync();
        g.join_timer = Some(if g.is(GroupState::Empty) {
            let delay = self.config.initial_rebalance_delay_ms;
            JoinTimer::Initial {
                deadline: now.saturating_add(i64::from(delay)),
                configured: delay,
                delay,
                remaining: g.rebalance_timeout_ms().saturating_sub(delay).max(0),
            }
        } else {
            JoinTimer::Rebalance { deadline: now.saturating_add(i64::from(g.rebalance_timeout_ms())) }
        });
        log::info!(
            "group {}: preparing to rebalance in state {} with old generation {} ({reason})",
            g.id,
            g.state(),
            g.generation_id
        );
        g.transition_to(GroupState::PreparingRebalance, now);
        self.try_complete_join(g, now);
    }

    /// Completes the join phase early if every member rejoined (never during the initial
    /// delay, which waits for more members by design).
    fn try_complete_join(&self, g: &mut Group, now: i64) {
        if matches!(g.join_timer, Some(JoinTimer::Rebalance { .. })) && g.has_all_members_joined() {
            self.complete_join(g, now);
        }
    }

    /// Kafka's `onCompleteJoin`: drops dynamic members that did not rejoin, then starts the next
    /// generation and answers every parked JoinGroup.
    fn complete_join(&self, g: &mut Group, now: i64) {
        g.join_timer = None;
        let stale: Vec<String> = g
            .members()
            .filter(|m| !m.is_awaiting_join() && !m.is_static())
            .map(|m| m.member_id.clone())
            .collect();
        if !stale.is_empty() {
            log::info!("group {}: removing members that did not rejoin: {stale:?}", g.id);
            for id in &stale {
                Self::remove_member(g, id);
            }
        }
        if g.is(GroupState::Dead) {
            return;
        }
        if !g.maybe_elect_new_joined_leader() && g.size() > 0 {
            // Only static members that did not rejoin are left: wait another rebalance timeout
            // for them (their sessions expire meanwhile if they are gone).
            log::warn!("group {}: no member rejoined; waiting another rebalance timeout", g.id);
            g.join_timer = Some(JoinTimer::Rebalance {
                deadline: now.saturating_add(i64::from(g.rebalance_timeout_ms())),
            });
            return;
        }
        g.init_next_generation(now);
        if g.is(GroupState::Empty) {
            log::info!("group {} is empty at generation {}", g.id, g.generation_id);
            // A lost write is harmless: the previous generation comes back after a restart and
            // its members, which are gone, expire.
            if let Err(code) = self.store_group(g, &HashMap::new()) {
                log::warn!("group {}: cannot persist the empty generation: {code}", g.id);
            }
            return;
        }
        log::info!(
            "group {}: generation {} with {} members, protocol {:?}, leader {:?}",
            g.id,
            g.generation_id,
            g.size(),
            g.protocol_name,
            g.leader()
        );
        for id in g.member_ids() {
            let resp = Self::join_response(g, &id, false);
            g.maybe_invoke_join(&id, resp);
            self.schedule_heartbeat(g, &id, now);
            if let Some(m) = g.get_mut(&id) {
                m.is_new = false;
            }
            g.add_pending_sync(&id);
        }
        g.sync_timer = Some(SyncTimer {
            generation: g.generation_id,
            deadline: now.saturating_add(i64::from(g.rebalance_timeout_ms())),
        });
    }

    /// Removes a member without further consequence. A parked JoinGroup is answered
    /// UNKNOWN_MEMBER_ID so the client rejoins if it is alive; a parked SyncGroup likewise (Kafka
    /// leaves it unanswered until the client's request timeout).
    fn remove_member(g: &mut Group, member_id: &str) {
        g.maybe_invoke_join(
            member_id,
            JoinGroupResponse::error(UNKNOWN_MEMBER_ID, ErrorCode::UnknownMemberId),
        );
        g.maybe_invoke_sync(member_id, SyncGroupResponse::error(ErrorCode::UnknownMemberId));
        g.remove(member_id);
    }

    /// Kafka's `removeMemberAndUpdateGroup`: a member leaves or fails; a settled group
    /// rebalances, a rebalancing one may now be complete.
    fn remove_member_and_update_group(&self, g: &mut Group, now: i64, member_id: &str, reason: &str) {
        Self::remove_member(g, member_id);
        match g.state() {
            GroupState::Dead | GroupState::Empty => {}
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.maybe_prepare_rebalance(g, now, reason)
            }
            GroupState::PreparingRebalance => self.try_complete_join(g, now),
        }
    }

    fn remove_pending_member_and_update_group(&self, g: &mut Group, now: i64, member_id: &str) {
        g.remove(member_id);
        if g.is(GroupState::PreparingRebalance) {
            self.try_complete_join(g, now);
        }
    }

    /// The member showed a sign of life: its session starts again.
    fn schedule_heartbeat(&self, g: &mut Group, member_id: &str, now: i64) {
        if let Some(m) = g.get_mut(member_id) {
            m.expires_at = Some(now.saturating_add(i64::from(m.session_timeout_ms)));
        }
    }

    // ------------------------------------------------------------------------------- SyncGroup

    /// SyncGroup. The leader sends the assignment; followers wait for it. The assignment is
    /// persisted before anyone receives it.
    pub fn sync_group(&self, req: SyncGroupRequest) -> PendingSync {
        let slot = Slot::new();
        let pending = Pending::new(slot.clone());
        if req.group_id.is_empty() {
            slot.complete(SyncGroupResponse::error(ErrorCode::InvalidGroupId));
            return pending;
        }
        if let Some(code) = self.check_active() {
            slot.complete(SyncGroupResponse::error(code));
            return pending;
        }
        let Some(entry) = self.entry(&req.group_id) else {
            slot.complete(SyncGroupResponse::error(ErrorCode::UnknownMemberId));
            return pending;
        };
        self.with_group(&entry, |c, g, now| c.do_sync_group(g, now, req, slot.clone()));
        pending
    }

    fn validate_sync(g: &Group, req: &SyncGroupRequest) -> Option<ErrorCode> {
        if g.is(GroupState::Dead) {
            return Some(ErrorCode::CoordinatorNotAvailable);
        }
        Self::validate_current_member(g, &req.member_id, req.group_instance_id.as_deref()).or_else(|| {
            if req.generation_id != g.generation_id {
                Some(ErrorCode::IllegalGeneration)
            } else if req.protocol_type.as_ref().is_some_and(|t| g.protocol_type.as_ref() != Some(t))
                || req.protocol_name.as_ref().is_some_and(|p| g.protocol_name.as_ref() != Some(p))
            {
                Some(ErrorCode::InconsistentGroupProtocol)
            } else {
                None
            }
        })
    }

    fn do_sync_group(
        &self,
        g: &mut Group,
        now: i64,
        req: SyncGroupRequest,
        slot: Arc<Slot<SyncGroupResponse>>,
    ) {
        if let Some(code) = Self::validate_sync(g, &req) {
            slot.complete(SyncGroupResponse::error(code));
            return;
        }
        match g.state() {
            GroupState::Empty => slot.complete(SyncGroupResponse::error(ErrorCode::UnknownMemberId)),
            GroupState::PreparingRebalance => {
                slot.complete(SyncGroupResponse::error(ErrorCode::RebalanceInProgress))
            }
            GroupState::CompletingRebalance => {
                if let Some(m) = g.get_mut(&req.member_id) {
                    m.awaiting_sync = Some(slot);
                }
                g.remove_pending_sync(&req.member_id);
                if g.is_leader(&req.member_id) {
                    log::info!(
                        "group {}: assignment from leader {} for generation {} ({} members, {} static)",
                        g.id,
                        req.member_id,
                        g.generation_id,
                        g.size(),
                        g.static_member_count()
                    );
                    // Members the leader left out get an empty assignment.
                    let mut assignment: HashMap<String, Vec<u8>> = req.assignments.into_iter().collect();
                    for id in g.member_ids() {
                        assignment.entry(id).or_default();
                    }
                    match self.store_group(g, &assignment) {
                        Ok(()) => {
                            for m in g.members_mut() {
                                m.assignment = assignment.remove(&m.member_id).unwrap_or_default();
                            }
                            self.propagate_assignment(g, now, ErrorCode::None);
                            g.transition_to(GroupState::Stable, now);
                        }
                        Err(code) => {
                            self.reset_and_propagate_assignment_error(g, now, code);
                            self.maybe_prepare_rebalance(
                                g,
                                now,
                                &format!(
                                    "error {code} storing the assignment of generation {}",
                                    g.generation_id
                                ),
                            );
                        }
                    }
                }
            }
            GroupState::Stable => {
                g.remove_pending_sync(&req.member_id);
                let m = g.get(&req.member_id).expect("validated");
                slot.complete(SyncGroupResponse {
                    error: ErrorCode::None,
                    protocol_type: g.protocol_type.clone(),
                    protocol_name: g.protocol_name.clone(),
                    assignment: m.assignment.clone(),
                });
                self.schedule_heartbeat(g, &req.member_id, now);
            }
            GroupState::Dead => slot.complete(SyncGroupResponse::error(ErrorCode::CoordinatorNotAvailable)),
        }
    }

    /// Answers every parked SyncGroup with the member's assignment (or `error`); each answered
    /// member's session starts again.
    fn propagate_assignment(&self, g: &mut Group, now: i64, error: ErrorCode) {
        let ok = error == ErrorCode::None;
        let (pt, pn) = if ok { (g.protocol_type.clone(), g.protocol_name.clone()) } else { (None, None) };
        for id in g.member_ids() {
            let assignment = g.get(&id).map(|m| m.assignment.clone()).unwrap_or_default();
            let resp =
                SyncGroupResponse { error, protocol_type: pt.clone(), protocol_name: pn.clone(), assignment };
            if g.maybe_invoke_sync(&id, resp) {
                self.schedule_heartbeat(g, &id, now);
            }
        }
    }

    /// Drops the assignment and answers every parked SyncGroup with `error`. As in Kafka's
    /// `propagateAssignment`, an answered member's session starts again: while parked it was
    /// exempt from expiry, and it must not stay exempt once released.
    fn reset_and_propagate_assignment_error(&self, g: &mut Group, now: i64, error: ErrorCode) {
        for m in g.members_mut() {
            m.assignment.clear();
        }
        for id in g.member_ids() {
            if g.maybe_invoke_sync(&id, SyncGroupResponse::error(error)) {
                self.schedule_heartbeat(g, &id, now);
            }
        }
    }

    /// Persists the group's generation with `assignment` (Kafka's `storeGroup`).
    fn store_group(
        &self,
        g: &Group,
        assignment: &HashMap<String, Vec<u8>>,
    ) -> std::result::Result<(), ErrorCode> {
        let protocol = g.protocol_name.clone();
        let value = GroupMetadataValue {
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            generation: g.generation_id,
            protocol: protocol.clone(),
            leader: g.leader().map(str::to_string),
            current_state_timestamp: g.state_timestamp,
            members: g
                .members()
                .map(|m| MemberMetadata {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout: m.rebalance_timeout_ms,
                    session_timeout: m.session_timeout_ms,
                    subscription: protocol
                        .as_deref()
                        .and_then(|p| m.metadata(p))
                        .unwrap_or_default()
                        .to_vec(),
                    assignment: assignment.get(&m.member_id).cloned().unwrap_or_default(),
                })
                .collect(),
        };
        self.offsets.write_group_metadata(&g.id, Some(&value)).map_err(|e| {
            log::warn!("group {}: storing generation {} failed: {e}", g.id, g.generation_id);
            store_error(&e)
        })
    }

    // ------------------------------------------------------------------------------- Heartbeat

    /// Heartbeat: keeps the member's session alive. REBALANCE_IN_PROGRESS tells the member to
    /// rejoin; UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION / FENCED_INSTANCE_ID that it lost its
    /// membership.
    pub fn heartbeat(
        &self,
        group_id: &str,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation_id: i32,
    ) -> Result<()> {
        if group_id.is_empty() {
            return Err(kafka(ErrorCode::InvalidGroupId, "the group id is empty"));
        }
        if let Some(code) = self.check_active() {
            return Err(kafka(code, "the group coordinator is shut down"));
        }
        let Some(entry) = self.entry(group_id) else {
            return Err(kafka(ErrorCode::UnknownMemberId, format!("group {group_id} does not exist")));
        };
        let code = self.with_group(&entry, |c, g, now| {
            if g.is(GroupState::Dead) {
                return ErrorCode::CoordinatorNotAvailable;
            }
            if let Some(code) = Self::validate_current_member(g, member_id, group_instance_id) {
                return code;
            }
            if generation_id != g.generation_id {
                return ErrorCode::IllegalGeneration;
            }
            match g.state() {
                GroupState::Empty => ErrorCode::UnknownMemberId,
                // Members may heartbeat after their JoinGroup answer, before SyncGroup.
                GroupState::CompletingRebalance | GroupState::Stable => {
                    c.schedule_heartbeat(g, member_id, now);
                    ErrorCode::None
                }
                GroupState::PreparingRebalance => {
                    c.schedule_heartbeat(g, member_id, now);
                    ErrorCode::RebalanceInProgress
                }
                GroupState::Dead => ErrorCode::CoordinatorNotAvailable,
            }
        });
        match code {
            ErrorCode::None => Ok(()),
            code => Err(kafka(
                code,
                format!("heartbeat of {member_id} in group {group_id} generation {generation_id}"),
            )),
        }
    }

    /// Blocks (real time, up to `timeout`) until a rebalance of `group_id` starts after
    /// `generation_id` — the group prepares a rebalance or has moved to another generation —
    /// and returns whether one did. An in-process member's heartbeat thread waits here between
    /// heartbeats and so learns of a rebalance at once rather than at its next heartbeat.
    pub fn await_rebalance(&self, group_id: &str, generation_id: i32, timeout: Duration) -> bool {
        let Some(entry) = self.entry(group_id) else { return true };
        let rebalancing = |g: &Group| {
            g.generation_id != generation_id
                || !matches!(g.state(), GroupState::Stable | GroupState::CompletingRebalance)
        };
        let deadline = Instant::now().checked_add(timeout);
        let mut g = entry.group.lock();
        loop {
            if rebalancing(&g) || !self.active.load(Ordering::Acquire) {
                return true;
            }
            let Some(d) = deadline else {
                entry.changed.wait(&mut g);
                continue;
            };
            if entry.changed.wait_until(&mut g, d).timed_out() {
                return rebalancing(&g);
            }
        }
    }

    // ------------------------------------------------------------------------------ LeaveGroup

    /// LeaveGroup for a batch of members. A static member can be removed by its instance id
    /// alone (member id empty), as an administrator does.
    pub fn leave_group(&self, group_id: &str, members: &[MemberIdentity]) -> LeaveGroupResponse {
        let top = |error| LeaveGroupResponse { error, members: Vec::new() };
        if group_id.is_empty() {
            return top(ErrorCode::InvalidGroupId);
        }
        if let Some(code) = self.check_active() {
            return top(code);
        }
        let each = |error, m: &MemberIdentity| LeaveMemberResponse {
            member_id: m.member_id.clone(),
            group_instance_id: m.group_instance_id.clone(),
            error,
        };
        let Some(entry) = self.entry(group_id) else {
            return LeaveGroupResponse {
                error: ErrorCode::None,
                members: members.iter().map(|m| each(ErrorCode::UnknownMemberId, m)).collect(),
            };
        };
        self.with_group(&entry, |c, g, now| {
            if g.is(GroupState::Dead) {
                return top(ErrorCode::CoordinatorNotAvailable);
            }
            let mut out = Vec::with_capacity(members.len());
            for m in members {
                let reason = m.reason.as_deref().unwrap_or("not provided");
                let error = if m.member_id == UNKNOWN_MEMBER_ID {
                    match m
                        .group_instance_id
                        .as_deref()
                        .and_then(|i| g.static_member_id(i))
                        .map(str::to_string)
                    {
                        Some(current) => {
                            c.remove_member_and_update_group(
                                g,
                                now,
                                &current,
                                &format!("static member {current} removed by instance id ({reason})"),
                            );
                            ErrorCode::None
                        }
                        None => ErrorCode::UnknownMemberId,
                    }
                } else if g.is_pending_member(&m.member_id) {
                    c.remove_pending_member_and_update_group(g, now, &m.member_id);
                    ErrorCode::None
                } else {
                    match Self::validate_current_member(g, &m.member_id, m.group_instance_id.as_deref()) {
                        Some(code) => code,
                        None => {
                            log::info!("group {}: member {} leaves ({reason})", g.id, m.member_id);
                            c.remove_member_and_update_group(
                                g,
                                now,
                                &m.member_id,
                                &format!("member {} left ({reason})", m.member_id),
                            );
                            ErrorCode::None
                        }
                    }
                };
                out.push(each(error, m));
            }
            LeaveGroupResponse { error: ErrorCode::None, members: out }
        })
    }

    // ------------------------------------------------------------------------------- Offsets

    /// Kafka's `validateOffsetCommit`. A commit with a negative generation from nobody (no
    /// member id, no instance id) is a "simple" commit of a consumer outside group management:
    /// allowed while the group is empty; a plain one is refused (UNKNOWN_MEMBER_ID) while the
    /// group has members, a transactional one is allowed (TxnOffsetCommit before KIP-447 had no
    /// member fields). Anything else must come from a current member (UNKNOWN_MEMBER_ID,
    /// FENCED_INSTANCE_ID) of the current generation (ILLEGAL_GENERATION).
    fn validate_offset_commit(
        g: &Group,
        generation_id: i32,
        member_id: &str,
        group_instance_id: Option<&str>,
        transactional: bool,
    ) -> Option<ErrorCode> {
        if g.is(GroupState::Dead) {
            Some(ErrorCode::CoordinatorNotAvailable)
        } else if generation_id < 0 && g.is(GroupState::Empty) {
            None
        } else if generation_id >= 0 || member_id != UNKNOWN_MEMBER_ID || group_instance_id.is_some() {
            Self::validate_current_member(g, member_id, group_instance_id)
                .or_else(|| (generation_id != g.generation_id).then_some(ErrorCode::IllegalGeneration))
        } else if !transactional && !g.is(GroupState::Empty) {
            Some(ErrorCode::UnknownMemberId)
        } else {
            None
        }
    }

    fn commit_error(code: ErrorCode, group_id: &str, member_id: &str, generation_id: i32) -> Error {
        let why = match code {
            ErrorCode::IllegalGeneration => "the generation is not the group's current one",
            ErrorCode::UnknownMemberId => "the member is not in the group",
            ErrorCode::FencedInstanceId => "the static member was replaced by a newer instance",
            ErrorCode::RebalanceInProgress => "the group is completing a rebalance",
            _ => "the commit is refused",
        };
        kafka(
            code,
            format!(
                "offset commit of member {member_id:?} generation {generation_id} to group {group_id}: {why}"
            ),
        )
    }

    /// OffsetCommit from a member (or, with generation −1 and no member id, from a consumer
    /// outside group management), validated as Kafka's `handleCommitOffsets`: the member must
    /// be current and of the current generation; during CompletingRebalance the answer is
    /// REBALANCE_IN_PROGRESS. A commit refreshes the member's session, as a heartbeat does.
    pub fn commit_offsets(
        &self,
        group_id: &str,
        member_id: &str,
        generation_id: i32,
        group_instance_id: Option<&str>,
        offsets: &[(String, i32, OffsetAndMetadata)],
    ) -> Result<()> {
        if let Some(code) = self.check_active() {
            return Err(kafka(code, "the group coordinator is shut down"));
        }
        if group_id.is_empty() {
            return Err(kafka(ErrorCode::InvalidGroupId, "the group id is empty"));
        }
        let entry = match self.entry(group_id) {
            Some(e) => e,
            // A group that does not exist can only be a simple consumer's, or the request is
            // from a generation this coordinator no longer knows.
            None if generation_id < 0 => self.entry_or_create(group_id),
            None => {
                return Err(Self::commit_error(
                    ErrorCode::IllegalGeneration,
                    group_id,
                    member_id,
                    generation_id,
                ));
            }
        };
        self.with_group(&entry, |c, g, now| {
            if let Some(code) =
                Self::validate_offset_commit(g, generation_id, member_id, group_instance_id, false)
            {
                return Err(Self::commit_error(code, group_id, member_id, generation_id));
            }
            match g.state() {
                GroupState::Empty => c.offsets.commit_unfenced(group_id, offsets),
                // During PreparingRebalance the previous generation may still commit what it
                // processed; the heartbeat answer tells it to rejoin.
                GroupState::Stable | GroupState::PreparingRebalance => {
                    c.schedule_heartbeat(g, member_id, now);
                    c.offsets.commit_unfenced(group_id, offsets)
                }
                // The member knows the new generation from its JoinGroup answer but has no
                // assignment yet.
                GroupState::CompletingRebalance => Err(Self::commit_error(
                    ErrorCode::RebalanceInProgress,
                    group_id,
                    member_id,
                    generation_id,
                )),
                GroupState::Dead => Err(kafka(ErrorCode::CoordinatorNotAvailable, "the group was deleted")),
            }
        })
    }

    /// TxnOffsetCommit (KIP-447): stores `offsets` in the producer's transaction after checking
    /// the consumer's membership exactly as [`Self::commit_offsets`] does, except that the
    /// group's state is not checked — a member of the current generation may commit even
    /// while the group rebalances (Kafka's `handleTxnCommitOffsets`); a member that lost its
    /// partitions to a rebalance has a stale generation or member id and is refused, so its
    /// transaction cannot commit its offsets and the producer must abort it. The caller has
    /// added `__consumer_offsets` to the transaction (AddOffsetsToTxn) and had the transaction
    /// coordinator verify it: [`Engine::txn_offset_commit_for`](crate::Engine::txn_offset_commit_for)
    /// does both checks and is what producers and brokers call.
    #[allow(clippy::too_many_arguments)]
    pub fn txn_commit_offsets(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        group_id: &str,
        member_id: &str,
        generation_id: i32,
        group_instance_id: Option<&str>,
        offsets: &[(String, i32, OffsetAndMetadata)],
    ) -> Result<()> {
        if let Some(code) = self.check_active() {
            return Err(kafka(code, "the group coordinator is shut down"));
        }
        if group_id.is_empty() {
            return Err(kafka(ErrorCode::InvalidGroupId, "the group id is empty"));
        }
        let entry = self.entry_or_create(group_id);
        self.with_group(&entry, |c, g, _| {
            if let Some(code) =
                Self::validate_offset_commit(g, generation_id, member_id, group_instance_id, true)
            {
                return Err(Self::commit_error(code, group_id, member_id, generation_id));
            }
            c.offsets.txn_commit_unfenced(producer_id, producer_epoch, group_id, offsets)
        })
    }

    /// [`Self::txn_commit_offsets`] with the consumer's group metadata, what a transactional
    /// producer's `send_offsets_to_transaction` receives.
    pub fn txn_commit_offsets_for(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        consumer: &ConsumerGroupMetadata,
        offsets: &[(String, i32, OffsetAndMetadata)],
    ) -> Result<()> {
        self.txn_commit_offsets(
            producer_id,
            producer_epoch,
            &consumer.group_id,
            &consumer.member_id,
            consumer.generation_id,
            consumer.group_instance_id.as_deref(),
            offsets,
        )
    }

    /// OffsetFetch: the committed offsets of `group_id` (for `partitions`, or all of them), in
    /// any group state. With `require_stable`, partitions with a pending transactional commit
    /// answer UNSTABLE_OFFSET_COMMIT: a new owner must not start from an offset a zombie's
    /// transaction may still change (KIP-447).
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        partitions: Option<&[(String, i32)]>,
        require_stable: bool,
    ) -> Result<Vec<FetchedOffset>> {
        if let Some(code) = self.check_active() {
            return Err(kafka(code, "the group coordinator is shut down"));
        }
        self.offsets.fetch(group_id, partitions, require_stable)
    }

    // --------------------------------------------------------------------------- Describe, list

    /// DescribeGroups for one group (`None` if it does not exist).
    pub fn describe_group(&self, group_id: &str) -> Option<GroupDescription> {
        let entry = self.entry(group_id)?;
        Some(self.with_group(&entry, |_, g, _| {
            let stable = g.is(GroupState::Stable);
            let protocol = if stable { g.protocol_name.clone().unwrap_or_default() } else { String::new() };
            GroupDescription {
                group_id: g.id.clone(),
                state: g.state(),
                protocol_type: g.protocol_type.clone().unwrap_or_default(),
                generation_id: g.generation_id,
                leader: g.leader().map(str::to_string),
                members: g
                    .members()
                    .map(|m| MemberDescription {
                        member_id: m.member_id.clone(),
                        group_instance_id: m.group_instance_id.clone(),
                        client_id: m.client_id.clone(),
                        client_host: m.client_host.clone(),
                        metadata: if stable {
                            m.metadata(&protocol).unwrap_or_default().to_vec()
                        } else {
                            Vec::new()
                        },
                        assignment: if stable { m.assignment.clone() } else { Vec::new() },
                    })
                    .collect(),
                protocol,
            }
        }))
    }

    /// ListGroups, sorted by id.
    pub fn list_groups(&self) -> Vec<GroupOverview> {
        let entries: Vec<Arc<GroupEntry>> = self.groups.lock().values().cloned().collect();
        let mut out: Vec<GroupOverview> = entries
            .iter()
            .map(|e| {
                let g = e.group.lock();
                GroupOverview {
                    group_id: g.id.clone(),
                    protocol_type: g.protocol_type.clone().unwrap_or_default(),
                    state: g.state(),
                }
            })
            .collect();
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out
    }

    // ---------------------------------------------------------------------------------- Timers

    /// Fires every deadline that has passed on the engine's clock, in every group; returns how
    /// many groups changed state. The engine's background thread calls this; tests call it
    /// after moving a `ManualClock`.
    pub fn tick(&self) -> usize {
        let entries: Vec<Arc<GroupEntry>> = self.groups.lock().values().cloned().collect();
        let mut changed = 0;
        for entry in entries {
            let mut g = entry.group.lock();
            let before = g.transitions;
            self.run_timers(&mut g, self.now());
            if g.transitions != before {
                changed += 1;
            }
            Self::notify_if_changed(&entry, &g, before);
        }
        changed
    }

    fn run_timers(&self, g: &mut Group, now: i64) {
        for _ in 0..MAX_TIMER_ROUNDS {
            if !self.run_due_timers_once(g, now) {
                return;
            }
        }
    }

    /// One pass over the group's deadlines; returns whether anything was due.
    fn run_due_timers_once(&self, g: &mut Group, now: i64) -> bool {
        let mut fired = false;
        // Member sessions (Kafka's DelayedHeartbeat).
        let due: Vec<String> = g
            .members()
            .filter(|m| m.expires_at.is_some_and(|t| t <= now))
            .map(|m| m.member_id.clone())
            .collect();
        for id in due {
            let Some(m) = g.get_mut(&id) else { continue };
            fired = true;
            if !m.is_new && (m.is_awaiting_join() || m.awaiting_sync.is_some()) {
                // Parked in the rebalance: alive by definition until the rebalance answers it.
                m.expires_at = None;
                continue;
            }
            log::info!("group {}: member {id} failed (session timeout); removing it", g.id);
            self.remove_member_and_update_group(g, now, &id, &format!("member {id} expired"));
        }
        // MEMBER_ID_REQUIRED members that never came back.
        let due: Vec<String> =
            g.pending_members().iter().filter(|(_, t)| **t <= now).map(|(id, _)| id.clone()).collect();
        for id in due {
            fired = true;
            log::info!("group {}: pending member {id} did not rejoin in time; removing it", g.id);
            self.remove_pending_member_and_update_group(g, now, &id);
        }
        // The join phase.
        if let Some(timer) = g.join_timer.filter(|t| t.deadline() <= now) {
            fired = true;
            g.join_timer = None;
            match timer {
                JoinTimer::Initial { configured, delay, remaining, .. }
                    if g.new_member_added && remaining != 0 =>
                {
                    // Kafka's InitialDelayedJoin: members are still arriving; wait once more.
                    g.new_member_added = false;
                    let next = configured.min(remaining);
                    g.join_timer = Some(JoinTimer::Initial {
                        deadline: now.saturating_add(i64::from(next)),
                        configured,
                        delay: next,
                        remaining: remaining.saturating_sub(delay).max(0),
                    });
                }
                _ => self.complete_join(g, now),
            }
        }
        // The sync phase (Kafka's DelayedSync).
        if let Some(t) = g.sync_timer.filter(|t| t.deadline <= now) {
            fired = true;
            g.sync_timer = None;
            let in_sync_phase = matches!(g.state(), GroupState::CompletingRebalance | GroupState::Stable);
            if t.generation == g.generation_id && in_sync_phase && !g.pending_sync().is_empty() {
                let missing: Vec<String> = g.pending_sync().iter().cloned().collect();
                log::info!(
                    "group {}: members {missing:?} did not send SyncGroup in time; removing them",
                    g.id
                );
                for id in &missing {
                    Self::remove_member(g, id);
                }
                self.prepare_rebalance(g, now, "members did not sync in time");
            }
        }
        fired
    }

    /// Stops the coordinator: parked requests are answered NOT_COORDINATOR (as when Kafka's
    /// coordinator moves away) and later requests get COORDINATOR_NOT_AVAILABLE.
    pub(crate) fn shutdown(&self) {
        self.active.store(false, Ordering::Release);
        let entries: Vec<Arc<GroupEntry>> = self.groups.lock().values().cloned().collect();
        for entry in entries {
            let mut g = entry.group.lock();
            for id in g.member_ids() {
                g.maybe_invoke_join(&id, JoinGroupResponse::error(id.clone(), ErrorCode::NotCoordinator));
                g.maybe_invoke_sync(&id, SyncGroupResponse::error(ErrorCode::NotCoordinator));
            }
            entry.changed.notify_all();
        }
    }
}

impl CommitFence for GroupCoordinator {
    fn simple_commit(
        &self,
        group: &str,
        transactional: bool,
        write: &mut dyn FnMut() -> Result<()>,
    ) -> Result<()> {
        if let Some(code) = self.check_active() {
            return Err(kafka(code, "the group coordinator is shut down"));
        }
        if group.is_empty() {
            return Err(kafka(ErrorCode::InvalidGroupId, "the group id is empty"));
        }
        let entry = self.entry_or_create(group);
        self.with_group(&entry, |_, g, _| {
            match Self::validate_offset_commit(
                g,
                crate::group::types::NO_GENERATION_ID,
                UNKNOWN_MEMBER_ID,
                None,
                transactional,
            ) {
                Some(code) => Err(Self::commit_error(code, group, UNKNOWN_MEMBER_ID, -1)),
                None => write(),
            }
        })
    }
}
