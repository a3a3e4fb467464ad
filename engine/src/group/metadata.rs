//! The in-memory state of one classic group and its members (Kafka's `GroupMetadata` and
//! `MemberMetadata`). Pure bookkeeping: the coordinator decides when to call what, under the
//! group's lock.
//!
//! Invariants kept here:
//! - `num_awaiting_join` is the number of members with a parked JoinGroup;
//! - `supported_protocols[p]` is the number of members listing protocol `p`;
//! - `static_members` maps every static member's instance id to its current member id, and
//!   nothing else;
//! - `leader_id` is a member of the group, or `None` only when the group has no members.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::error::ErrorCode;
use crate::group::state::GroupState;
use crate::group::types::{JoinGroupMember, JoinGroupResponse, Slot, SyncGroupResponse};

pub(crate) type JoinSlot = Arc<Slot<JoinGroupResponse>>;
pub(crate) type SyncSlot = Arc<Slot<SyncGroupResponse>>;

/// One member (Kafka's `MemberMetadata`).
#[derive(Debug)]
pub(crate) struct Member {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    pub protocol_type: String,
    /// Supported protocols in order of preference, with their metadata.
    pub protocols: Vec<(String, Vec<u8>)>,
    pub assignment: Vec<u8>,
    /// A parked JoinGroup.
    pub awaiting_join: Option<JoinSlot>,
    /// A parked SyncGroup.
    pub awaiting_sync: Option<SyncSlot>,
    /// Added in the current rebalance and not yet given a generation: expires after the
    /// new-member join timeout rather than being kept alive by its parked JoinGroup.
    pub is_new: bool,
    /// When the member expires unless it shows a sign of life first. `None` once a deadline
    /// passed while the member was parked in a join or sync: such a member satisfies its
    /// heartbeat (Kafka's `hasSatisfiedHeartbeat`) until the rebalance answers it, which
    /// schedules a new deadline.
    pub expires_at: Option<i64>,
}

impl Member {
    pub(crate) fn is_awaiting_join(&self) -> bool {
        self.awaiting_join.is_some()
    }

    pub(crate) fn is_static(&self) -> bool {
        self.group_instance_id.is_some()
    }

    /// The metadata for `protocol`.
    pub(crate) fn metadata(&self, protocol: &str) -> Option<&[u8]> {
        self.protocols.iter().find(|(p, _)| p == protocol).map(|(_, m)| m.as_slice())
    }

    /// Whether `protocols` are exactly the ones the member sent before (same names, order and
    /// bytes).
    pub(crate) fn matches(&self, protocols: &[(String, Vec<u8>)]) -> bool {
        self.protocols == protocols
    }

    /// The member's most preferred protocol among `candidates`.
    fn vote<'a>(&'a self, candidates: &BTreeSet<&str>) -> Option<&'a str> {
        self.protocols.iter().map(|(p, _)| p.as_str()).find(|p| candidates.contains(p))
    }
}

/// The pending rebalance timer (Kafka's `DelayedJoin` / `InitialDelayedJoin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinTimer {
    /// Completes early when every member rejoined; at the deadline, completes with whoever
    /// did.
    Rebalance { deadline: i64 },
    /// The first rebalance of an empty group: never completes early; at the deadline, if new
    /// members arrived and time is left, waits another `configured` delay.
    Initial { deadline: i64, configured: i32, delay: i32, remaining: i32 },
}

impl JoinTimer {
    pub(crate) fn deadline(&self) -> i64 {
        match *self {
            JoinTimer::Rebalance { deadline } | JoinTimer::Initial { deadline, .. } => deadline,
        }
    }
}

/// The deadline for every member of `generation` to send SyncGroup (Kafka's `DelayedSync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SyncTimer {
    pub generation: i32,
    pub deadline: i64,
}

/// One group (Kafka's `GroupMetadata`).
#[derive(Debug)]
pub(crate) struct Group {
    pub id: String,
    state: GroupState,
    pub state_timestamp: i64,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub generation_id: i32,
    leader_id: Option<String>,
    /// Ordered by member id, so that every choice Kafka makes by iteration order (a new leader,
    /// the leader's member list) is deterministic.
    members: BTreeMap<String, Member>,
    /// Instance id → member id.
    static_members: HashMap<String, String>,
    /// Member ids handed out with MEMBER_ID_REQUIRED and not joined yet → when they expire.
    pending_members: BTreeMap<String, i64>,
    num_awaiting_join: usize,
    supported_protocols: HashMap<String, usize>,
    /// Members of the current generation that have not sent SyncGroup yet.
    pending_sync: BTreeSet<String>,
    /// A member joined during the initial delay, which may then be extended.
    pub new_member_added: bool,
    pub join_timer: Option<JoinTimer>,
    pub sync_timer: Option<SyncTimer>,
    /// Bumped on every state transition, for in-process waiters.
    pub transitions: u64,
}

impl Group {
    pub(crate) fn new(id: impl Into<String>, state: GroupState, now: i64) -> Self {
        Group {
            id: id.into(),
            state,
            state_timestamp: now,
            protocol_type: None,
            protocol_name: None,
            generation_id: 0,
            leader_id: None,
            members: BTreeMap::new(),
            static_members: HashMap::new(),
            pending_members: BTreeMap::new(),
            num_awaiting_join: 0,
            supported_protocols: HashMap::new(),
            pending_sync: BTreeSet::new(),
            new_member_added: false,
            join_timer: None,
            sync_timer: None,
            transitions: 0,
        }
    }

    pub(crate) fn state(&self) -> GroupState {
        self.state
    }

    pub(crate) fn is(&self, state: GroupState) -> bool {
        self.state == state
    }

    pub(crate) fn has(&self, member_id: &str) -> bool {
        self.members.contains_key(member_id)
    }

    pub(crate) fn get(&self, member_id: &str) -> Option<&Member> {
        self.members.get(member_id)
    }

    pub(crate) fn get_mut(&mut self, member_id: &str) -> Option<&mut Member> {
        self.members.get_mut(member_id)
    }

    pub(crate) fn size(&self) -> usize {
        self.members.len()
    }

    pub(crate) fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values()
    }

    pub(crate) fn members_mut(&mut self) -> impl Iterator<Item = &mut Member> {
        self.members.values_mut()
    }

    pub(crate) fn member_ids(&self) -> Vec<String> {
        self.members.keys().cloned().collect()
    }

    pub(crate) fn leader(&self) -> Option<&str> {
        self.leader_id.as_deref()
    }

    /// Makes `member_id` (a member) the leader.
    pub(crate) fn set_leader(&mut self, member_id: &str) {
        debug_assert!(self.has(member_id));
        self.leader_id = Some(member_id.to_string());
    }

    pub(crate) fn is_leader(&self, member_id: &str) -> bool {
        self.leader_id.as_deref() == Some(member_id)
    }

    pub(crate) fn num_awaiting_join(&self) -> usize {
        self.num_awaiting_join
    }

    pub(crate) fn static_member_id(&self, instance_id: &str) -> Option<&str> {
        self.static_members.get(instance_id).map(String::as_str)
    }

    pub(crate) fn static_member_count(&self) -> usize {
        self.static_members.len()
    }

    /// Adds a member; the first member fixes the protocol type and becomes the leader.
    pub(crate) fn add(&mut self, member: Member) {
        if let Some(instance) = &member.group_instance_id {
            debug_assert!(!self.static_members.contains_key(instance), "static member added twice");
            self.static_members.insert(instance.clone(), member.member_id.clone());
        }
        if self.members.is_empty() {
            self.protocol_type = Some(member.protocol_type.clone());
        }
        if self.leader_id.is_none() {
            self.leader_id = Some(member.member_id.clone());
        }
        for (p, _) in &member.protocols {
            *self.supported_protocols.entry(p.clone()).or_default() += 1;
        }
        if member.is_awaiting_join() {
            self.num_awaiting_join += 1;
        }
        self.pending_members.remove(&member.member_id);
        self.members.insert(member.member_id.clone(), member);
    }

    /// Removes a member (and any pending or pending-sync entry under its id). A removed
    /// leader is replaced by the first remaining member.
    pub(crate) fn remove(&mut self, member_id: &str) -> Option<Member> {
        let removed = self.members.remove(member_id);
        if let Some(m) = &removed {
            self.dec_protocols(&m.protocols);
            if m.is_awaiting_join() {
                self.num_awaiting_join -= 1;
            }
            if let Some(instance) = &m.group_instance_id {
                self.static_members.remove(instance);
            }
        }
        if self.is_leader(member_id) {
            self.leader_id = self.members.keys().next().cloned();
        }
        self.pending_members.remove(member_id);
        self.pending_sync.remove(member_id);
        removed
    }

    fn dec_protocols(&mut self, protocols: &[(String, Vec<u8>)]) {
        for (p, _) in protocols {
            if let Some(n) = self.supported_protocols.get_mut(p) {
                *n -= 1;
                if *n == 0 {
                    self.supported_protocols.remove(p);
                }
            }
        }
    }

    /// Kafka's `maybeElectNewJoinedLeader`: keeps the leader if it rejoined, else elects a
    /// member that did. False when the group has no leader or nobody rejoined.
    pub(crate) fn maybe_elect_new_joined_leader(&mut self) -> bool {
        let Some(leader) = self.leader_id.clone() else { return false };
        if self.members.get(&leader).is_some_and(Member::is_awaiting_join) {
            return true;
        }
        match self.members.values().find(|m| m.is_awaiting_join()) {
            Some(m) => {
                log::info!(
                    "group {}: leader {leader} did not rejoin before the rebalance timeout; {} leads now",
                    self.id,
                    m.member_id
                );
                self.leader_id = Some(m.member_id.clone());
                true
            }
            None => false,
        }
    }

    /// Gives a static member a new member id, fencing the old one: a JoinGroup or SyncGroup
    /// the old id has parked is answered FENCED_INSTANCE_ID.
    pub(crate) fn replace_static_member(&mut self, instance_id: &str, old_id: &str, new_id: &str) {
        let Some(mut m) = self.members.remove(old_id) else { return };
        if let Some(slot) = m.awaiting_join.take() {
            slot.complete(JoinGroupResponse::error(old_id, ErrorCode::FencedInstanceId));
            self.num_awaiting_join -= 1;
        }
        if let Some(slot) = m.awaiting_sync.take() {
            slot.complete(SyncGroupResponse::error(ErrorCode::FencedInstanceId));
        }
        m.member_id = new_id.to_string();
        self.members.insert(new_id.to_string(), m);
        if self.is_leader(old_id) {
            self.leader_id = Some(new_id.to_string());
        }
        // The new incarnation owes the SyncGroup the old one did.
        if self.pending_sync.remove(old_id) {
            self.pending_sync.insert(new_id.to_string());
        }
        self.static_members.insert(instance_id.to_string(), new_id.to_string());
    }

    pub(crate) fn is_pending_member(&self, member_id: &str) -> bool {
        self.pending_members.contains_key(member_id)
    }

    pub(crate) fn add_pending_member(&mut self, member_id: &str, expires_at: i64) {
        debug_assert!(!self.has(member_id));
        self.pending_members.insert(member_id.to_string(), expires_at);
    }

    pub(crate) fn pending_members(&self) -> &BTreeMap<String, i64> {
        &self.pending_members
    }

    pub(crate) fn add_pending_sync(&mut self, member_id: &str) {
        self.pending_sync.insert(member_id.to_string());
    }

    pub(crate) fn remove_pending_sync(&mut self, member_id: &str) {
        self.pending_sync.remove(member_id);
    }

    pub(crate) fn pending_sync(&self) -> &BTreeSet<String> {
        &self.pending_sync
    }

    pub(crate) fn clear_pending_sync(&mut self) {
        self.pending_sync.clear();
    }

    /// Every member has a parked JoinGroup and no MEMBER_ID_REQUIRED member is outstanding.
    pub(crate) fn has_all_members_joined(&self) -> bool {
        self.members.len() == self.num_awaiting_join && self.pending_members.is_empty()
    }

    /// The largest rebalance timeout of the members (0 without members).
    pub(crate) fn rebalance_timeout_ms(&self) -> i32 {
        self.members.values().map(|m| m.rebalance_timeout_ms).max().unwrap_or(0)
    }

    /// Whether a rebalance may start from the current state.
    pub(crate) fn can_rebalance(&self) -> bool {
        GroupState::PreparingRebalance.valid_previous_states().contains(&self.state)
    }

    pub(crate) fn transition_to(&mut self, to: GroupState, now: i64) {
        assert!(
            self.state.can_transition_to(to),
            "group {}: illegal transition {} -> {to}",
            self.id,
            self.state
        );
        self.state = to;
        self.state_timestamp = now;
        self.transitions += 1;
    }

    /// Protocols every member supports.
    fn candidate_protocols(&self) -> BTreeSet<&str> {
        let n = self.members.len();
        self.supported_protocols.iter().filter(|(_, c)| **c == n).map(|(p, _)| p.as_str()).collect()
    }

    /// Kafka's `selectProtocol`: among the protocols every member supports, each member votes
    /// for its most preferred one and the most voted wins. Ties go to the name that sorts
    /// first (Kafka leaves them to hash order).
    pub(crate) fn select_protocol(&self) -> Option<String> {
        let candidates = self.candidate_protocols();
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some(p) = m.vote(&candidates) {
                *votes.entry(p).or_default() += 1;
            }
        }
        let best = votes.values().copied().max()?;
        votes.into_iter().find(|(_, v)| *v == best).map(|(p, _)| p.to_string())
    }

    /// Kafka's `supportsProtocols`: an empty group accepts any non-empty protocol type and list;
    /// otherwise the type must match and one protocol must be supported by every member.
    pub(crate) fn supports_protocols(&self, protocol_type: &str, protocols: &[(String, Vec<u8>)]) -> bool {
        if self.is(GroupState::Empty) {
            !protocol_type.is_empty() && !protocols.is_empty()
        } else {
            let n = self.members.len();
            self.protocol_type.as_deref() == Some(protocol_type)
                && protocols.iter().any(|(p, _)| self.supported_protocols.get(p).copied().unwrap_or(0) == n)
        }
    }

    /// Replaces a member's protocols and timeouts and parks (or un-parks) its JoinGroup.
    pub(crate) fn update_member(
        &mut self,
        member_id: &str,
        protocols: Vec<(String, Vec<u8>)>,
        rebalance_timeout_ms: i32,
        session_timeout_ms: i32,
        join: Option<JoinSlot>,
    ) {
        let Some(old) = self.members.get(member_id).map(|m| m.protocols.clone()) else { return };
        self.dec_protocols(&old);
        for (p, _) in &protocols {
            *self.supported_protocols.entry(p.clone()).or_default() += 1;
        }
        let m = self.members.get_mut(member_id).expect("checked above");
        match (&join, m.awaiting_join.is_some()) {
            (Some(_), false) => self.num_awaiting_join += 1,
            (None, true) => self.num_awaiting_join -= 1,
            _ => {}
        }
        m.protocols = protocols;
        m.rebalance_timeout_ms = rebalance_timeout_ms;
        m.session_timeout_ms = session_timeout_ms;
        // A JoinGroup parked before by the same member is superseded (a client has at most
        // one JoinGroup in flight; the older request's caller gave up on it).
        m.awaiting_join = join;
    }

    /// Answers the member's parked JoinGroup, if any. Returns whether there was one.
    pub(crate) fn maybe_invoke_join(&mut self, member_id: &str, response: JoinGroupResponse) -> bool {
        let Some(m) = self.members.get_mut(member_id) else { return false };
        match m.awaiting_join.take() {
            Some(slot) => {
                slot.complete(response);
                self.num_awaiting_join -= 1;
                true
            }
            None => false,
        }
    }

    /// Answers the member's parked SyncGroup, if any. Returns whether there was one.
    pub(crate) fn maybe_invoke_sync(&mut self, member_id: &str, response: SyncGroupResponse) -> bool {
        match self.members.get_mut(member_id).and_then(|m| m.awaiting_sync.take()) {
            Some(slot) => {
                slot.complete(response);
                true
            }
            None => false,
        }
    }

    /// Starts the next generation: CompletingRebalance with a chosen protocol, or Empty.
    pub(crate) fn init_next_generation(&mut self, now: i64) {
        self.generation_id += 1;
        if self.members.is_empty() {
            self.protocol_name = None;
            self.transition_to(GroupState::Empty, now);
        } else {
            self.protocol_name = self.select_protocol();
            self.transition_to(GroupState::CompletingRebalance, now);
        }
        self.clear_pending_sync();
    }

    /// The member list the leader receives: every member's metadata for the chosen protocol.
    pub(crate) fn current_member_metadata(&self) -> Vec<JoinGroupMember> {
        let protocol = self.protocol_name.as_deref().unwrap_or_default();
        self.members
            .values()
            .map(|m| JoinGroupMember {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                metadata: m.metadata(protocol).unwrap_or_default().to_vec(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, protocols: &[&str]) -> Member {
        Member {
            member_id: id.into(),
            group_instance_id: None,
            client_id: "c".into(),
            client_host: "h".into(),
            rebalance_timeout_ms: 1000,
            session_timeout_ms: 1000,
            protocol_type: "consumer".into(),
            protocols: protocols.iter().map(|p| (p.to_string(), vec![])).collect(),
            assignment: vec![],
            awaiting_join: None,
            awaiting_sync: None,
            is_new: false,
            expires_at: None,
        }
    }

    #[test]
    fn protocol_selection_by_votes_among_common_protocols() {
        let mut g = Group::new("g", GroupState::Empty, 0);
        assert!(g.supports_protocols("consumer", &[("range".into(), vec![])]));
        assert!(!g.supports_protocols("", &[("range".into(), vec![])]));
        assert!(!g.supports_protocols("consumer", &[]));
        g.transition_to(GroupState::PreparingRebalance, 0);
        g.add(member("a", &["roundrobin", "range"]));
        g.add(member("b", &["range", "roundrobin"]));
        g.add(member("c", &["range"]));
        // Only range is common to all three.
        assert_eq!(g.select_protocol().as_deref(), Some("range"));
        assert!(g.supports_protocols("consumer", &[("sticky".into(), vec![]), ("range".into(), vec![])]));
        assert!(!g.supports_protocols("consumer", &[("roundrobin".into(), vec![])]));
        assert!(!g.supports_protocols("connect", &[("range".into(), vec![])]));
        g.remove("c");
        // a votes roundrobin, b votes range: a tie, broken by name.
        assert_eq!(g.select_protocol().as_deref(), Some("range"));
        g.add(member("d", &["roundrobin"]));
        assert_eq!(g.select_protocol().as_deref(), Some("roundrobin"));
    }

    #[test]
    fn leader_moves_to_a_remaining_member_and_static_ids_are_replaced() {
        let mut g = Group::new("g", GroupState::Empty, 0);
        g.add(member("b", &["range"]));
        let mut s = member("a", &["range"]);
        s.group_instance_id = Some("i".into());
        g.add(s);
        assert_eq!(g.leader(), Some("b"));
        g.remove("b");
        assert_eq!(g.leader(), Some("a"));
        g.replace_static_member("i", "a", "a2");
        assert_eq!(g.leader(), Some("a2"));
        assert_eq!(g.static_member_id("i"), Some("a2"));
        assert!(!g.has("a"));
        g.remove("a2");
        assert_eq!(g.leader(), None);
        assert_eq!(g.static_member_count(), 0);
        assert_eq!(g.select_protocol(), None);
    }
}
