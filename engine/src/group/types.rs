//! Requests and responses of the group coordinator, shaped after Kafka's JoinGroup, SyncGroup,
//! LeaveGroup and DescribeGroups messages so that a Kafka-protocol front end only copies fields.
//!
//! Membership responses carry their error as an [`ErrorCode`] next to the data (as Kafka's do):
//! a JoinGroup answered with MEMBER_ID_REQUIRED still carries the member id the client must use.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::error::ErrorCode;
use crate::group::state::GroupState;

/// Kafka consumer default `session.timeout.ms` (45 s).
pub const DEFAULT_SESSION_TIMEOUT_MS: i32 = 45_000;
/// Kafka consumer default `max.poll.interval.ms`, the rebalance timeout (5 min).
pub const DEFAULT_REBALANCE_TIMEOUT_MS: i32 = 300_000;
/// The member id of a member that does not have one yet.
pub const UNKNOWN_MEMBER_ID: &str = "";
/// The generation of a commit made without group membership.
pub const NO_GENERATION_ID: i32 = -1;

/// A JoinGroup request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroupRequest {
    /// Group id (non-empty).
    pub group_id: String,
    /// The member id; [`UNKNOWN_MEMBER_ID`] for a member joining for the first time.
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub group_instance_id: Option<String>,
    /// JoinGroup v4+: a new dynamic member first gets MEMBER_ID_REQUIRED with its member id and
    /// must join again with it (KIP-394), so a client that retries after a lost response does
    /// not leave a defunct member behind.
    pub require_known_member_id: bool,
    /// JoinGroup v9+: a static leader rejoining a stable group may be told to skip the
    /// assignment (KIP-814).
    pub support_skipping_assignment: bool,
    /// Client id (used as the member id prefix).
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// How long the coordinator waits for all members to rejoin (`max.poll.interval.ms`).
    pub rebalance_timeout_ms: i32,
    /// Session timeout: a member that does not heartbeat for this long is removed.
    pub session_timeout_ms: i32,
    /// Protocol type (`"consumer"` for consumers).
    pub protocol_type: String,
    /// Supported protocols (assignor names) in order of preference, with their metadata (for
    /// consumers, a [`Subscription`](crate::group::protocol::Subscription)).
    pub protocols: Vec<(String, Vec<u8>)>,
    /// Why the member joins (logged).
    pub reason: Option<String>,
}

impl JoinGroupRequest {
    /// A request of a new dynamic member with Kafka's consumer defaults (45 s session, 5 min
    /// rebalance timeout, member id required first).
    pub fn new(
        group_id: impl Into<String>,
        protocol_type: impl Into<String>,
        protocols: Vec<(String, Vec<u8>)>,
    ) -> Self {
        JoinGroupRequest {
            group_id: group_id.into(),
            member_id: UNKNOWN_MEMBER_ID.to_string(),
            group_instance_id: None,
            require_known_member_id: true,
            support_skipping_assignment: false,
            client_id: "eoslog".to_string(),
            client_host: "/127.0.0.1".to_string(),
            rebalance_timeout_ms: DEFAULT_REBALANCE_TIMEOUT_MS,
            session_timeout_ms: DEFAULT_SESSION_TIMEOUT_MS,
            protocol_type: protocol_type.into(),
            protocols,
            reason: None,
        }
    }
}

/// One member as the leader sees it in its JoinGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroupMember {
    /// Member id.
    pub member_id: String,
    /// `group.instance.id`, for static members.
    pub group_instance_id: Option<String>,
    /// The member's metadata for the chosen protocol.
    pub metadata: Vec<u8>,
}

/// A JoinGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroupResponse {
    /// NONE, or why the join failed.
    pub error: ErrorCode,
    /// The generation joined (−1 on error).
    pub generation_id: i32,
    /// The group's protocol type.
    pub protocol_type: Option<String>,
    /// The protocol (assignor) the coordinator chose.
    pub protocol_name: Option<String>,
    /// The leader's member id (empty on error).
    pub leader: String,
    /// KIP-814: the receiving leader must not run the assignor (the group is stable).
    pub skip_assignment: bool,
    /// The member id to use from now on (also set with MEMBER_ID_REQUIRED).
    pub member_id: String,
    /// Every member with its metadata, for the leader only.
    pub members: Vec<JoinGroupMember>,
}

impl JoinGroupResponse {
    /// An error response.
    pub fn error(member_id: impl Into<String>, error: ErrorCode) -> Self {
        JoinGroupResponse {
            error,
            generation_id: NO_GENERATION_ID,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            skip_assignment: false,
            member_id: member_id.into(),
            members: Vec::new(),
        }
    }

    /// Whether the receiver leads this generation and must compute the assignment.
    pub fn is_leader(&self) -> bool {
        self.error == ErrorCode::None && self.leader == self.member_id
    }
}

/// A SyncGroup request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroupRequest {
    /// Group id.
    pub group_id: String,
    /// The generation from the JoinGroup response.
    pub generation_id: i32,
    /// Member id.
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub group_instance_id: Option<String>,
    /// SyncGroup v5+: the protocol type, checked against the group's.
    pub protocol_type: Option<String>,
    /// SyncGroup v5+: the protocol name, checked against the group's.
    pub protocol_name: Option<String>,
    /// The leader's assignment (member id → protocol-specific bytes); empty for followers.
    pub assignments: Vec<(String, Vec<u8>)>,
}

/// A SyncGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroupResponse {
    /// NONE, or why the sync failed.
    pub error: ErrorCode,
    /// The group's protocol type (on success).
    pub protocol_type: Option<String>,
    /// The group's protocol (on success).
    pub protocol_name: Option<String>,
    /// This member's assignment.
    pub assignment: Vec<u8>,
}

impl SyncGroupResponse {
    /// An error response.
    pub fn error(error: ErrorCode) -> Self {
        SyncGroupResponse { error, protocol_type: None, protocol_name: None, assignment: Vec::new() }
    }
}

/// A member leaving (LeaveGroup v3+ leaves in batches; a static member may be removed by its
/// instance id alone).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberIdentity {
    /// Member id ([`UNKNOWN_MEMBER_ID`] to remove a static member by instance id).
    pub member_id: String,
    /// `group.instance.id`.
    pub group_instance_id: Option<String>,
    /// Why (logged).
    pub reason: Option<String>,
}

impl MemberIdentity {
    /// A member by id.
    pub fn member(member_id: impl Into<String>) -> Self {
        MemberIdentity { member_id: member_id.into(), ..Default::default() }
    }

    /// A static member by instance id.
    pub fn instance(group_instance_id: impl Into<String>) -> Self {
        MemberIdentity { group_instance_id: Some(group_instance_id.into()), ..Default::default() }
    }
}

/// One member's result in a LeaveGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveMemberResponse {
    /// Member id as given.
    pub member_id: String,
    /// Instance id as given.
    pub group_instance_id: Option<String>,
    /// NONE, UNKNOWN_MEMBER_ID or FENCED_INSTANCE_ID.
    pub error: ErrorCode,
}

/// A LeaveGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveGroupResponse {
    /// Top-level error (INVALID_GROUP_ID, COORDINATOR_NOT_AVAILABLE, ...).
    pub error: ErrorCode,
    /// Per-member results, in request order.
    pub members: Vec<LeaveMemberResponse>,
}

/// A member as DescribeGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    /// Member id.
    pub member_id: String,
    /// `group.instance.id`.
    pub group_instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Metadata of the chosen protocol (empty unless the group is stable).
    pub metadata: Vec<u8>,
    /// Current assignment (empty unless the group is stable).
    pub assignment: Vec<u8>,
}

/// A group as DescribeGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// Group id.
    pub group_id: String,
    /// State.
    pub state: GroupState,
    /// Protocol type (empty for a group used only for offsets).
    pub protocol_type: String,
    /// Chosen protocol (empty unless the group is stable, as in Kafka).
    pub protocol: String,
    /// Current generation.
    pub generation_id: i32,
    /// Leader member id.
    pub leader: Option<String>,
    /// Members.
    pub members: Vec<MemberDescription>,
}

/// A group as ListGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupOverview {
    /// Group id.
    pub group_id: String,
    /// Protocol type.
    pub protocol_type: String,
    /// State.
    pub state: GroupState,
}

/// What a consumer hands its transactional producer with the offsets it consumed (Kafka's
/// `ConsumerGroupMetadata`): the commit is fenced with this member's generation (KIP-447), so
/// one transactional producer per application instance suffices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupMetadata {
    /// Group id.
    pub group_id: String,
    /// Generation of the member's current assignment.
    pub generation_id: i32,
    /// Member id.
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub group_instance_id: Option<String>,
}

impl ConsumerGroupMetadata {
    /// Metadata for a group the caller does not take part in as a member (Kafka's
    /// `new ConsumerGroupMetadata(groupId)`); the same as [`Self::simple`].
    pub fn new(group_id: impl Into<String>) -> Self {
        Self::simple(group_id)
    }

    /// Metadata of a consumer that does not use group membership (generation −1): its commits
    /// are accepted only while the group has no members (transactional ones always, as Kafka's
    /// pre-KIP-447 TxnOffsetCommit).
    pub fn simple(group_id: impl Into<String>) -> Self {
        ConsumerGroupMetadata {
            group_id: group_id.into(),
            generation_id: NO_GENERATION_ID,
            member_id: UNKNOWN_MEMBER_ID.to_string(),
            group_instance_id: None,
        }
    }
}

impl std::fmt::Display for ConsumerGroupMetadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "group {} generation {} member {:?}", self.group_id, self.generation_id, self.member_id)
    }
}

/// A one-shot result the coordinator completes when a parked request (a JoinGroup waiting for
/// the other members, a SyncGroup waiting for the leader) is answered.
#[derive(Debug)]
pub(crate) struct Slot<T> {
    value: Mutex<SlotState<T>>,
    ready: Condvar,
}

#[derive(Debug)]
enum SlotState<T> {
    Waiting,
    Ready(T),
    Taken,
}

impl<T> Slot<T> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Slot { value: Mutex::new(SlotState::Waiting), ready: Condvar::new() })
    }

    /// Answers the request; only the first answer counts.
    pub(crate) fn complete(&self, v: T) {
        let mut s = self.value.lock();
        if matches!(*s, SlotState::Waiting) {
            *s = SlotState::Ready(v);
            self.ready.notify_all();
        }
    }
}

/// A request parked in the coordinator (Kafka's purgatory). The coordinator answers it when the
/// rebalance progresses, or when a timer driven by the engine's clock fires; the caller either
/// blocks ([`Pending::wait`]) — an in-process consumer, or a network front end with a thread
/// per connection — or polls ([`Pending::try_take`]).
///
/// Dropping it does not withdraw the request: like a client whose JoinGroup timed out, the
/// member stays in the rebalance and is removed by the coordinator's own timeouts if it never
/// comes back.
#[derive(Debug)]
pub struct Pending<T> {
    slot: Arc<Slot<T>>,
}

/// A parked JoinGroup.
pub type PendingJoin = Pending<JoinGroupResponse>;
/// A parked SyncGroup.
pub type PendingSync = Pending<SyncGroupResponse>;

impl<T> Pending<T> {
    pub(crate) fn new(slot: Arc<Slot<T>>) -> Self {
        Pending { slot }
    }

    /// Whether the answer is there (and not taken yet).
    pub fn is_ready(&self) -> bool {
        matches!(*self.slot.value.lock(), SlotState::Ready(_))
    }

    /// Takes the answer if it is there.
    pub fn try_take(&self) -> Option<T> {
        let mut s = self.slot.value.lock();
        match std::mem::replace(&mut *s, SlotState::Taken) {
            SlotState::Ready(v) => Some(v),
            other => {
                *s = other;
                None
            }
        }
    }

    /// Blocks until the answer arrives or `timeout` (real time) passes, then takes it.
    pub fn wait(&self, timeout: Duration) -> Option<T> {
        let deadline = Instant::now().checked_add(timeout);
        let mut s = self.slot.value.lock();
        loop {
            if let SlotState::Ready(_) = *s {
                return match std::mem::replace(&mut *s, SlotState::Taken) {
                    SlotState::Ready(v) => Some(v),
                    _ => None,
                };
            }
            if matches!(*s, SlotState::Taken) {
                return None;
            }
            match deadline {
                Some(d) => {
                    if self.slot.ready.wait_until(&mut s, d).timed_out() && !matches!(*s, SlotState::Ready(_))
                    {
                        return None;
                    }
                }
                None => self.slot.ready.wait(&mut s),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_is_answered_once() {
        let slot = Slot::new();
        let p = Pending::new(slot.clone());
        assert!(!p.is_ready());
        assert_eq!(p.try_take(), None::<u8>);
        assert_eq!(p.wait(Duration::from_millis(1)), None);
        slot.complete(1);
        slot.complete(2);
        assert!(p.is_ready());
        assert_eq!(p.wait(Duration::from_secs(5)), Some(1));
        assert_eq!(p.try_take(), None, "taken");
    }

    #[test]
    fn pending_wakes_a_blocked_waiter() {
        let slot = Slot::new();
        let p = Pending::new(slot.clone());
        let t = std::thread::spawn(move || p.wait(Duration::from_secs(60)));
        slot.complete("answer");
        assert_eq!(t.join().unwrap(), Some("answer"));
    }
}
