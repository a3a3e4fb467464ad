//! Consumer-group APIs.
//!
//! Group membership (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, and the KIP-447 generation
//! check of offset commits) belongs to the engine's group coordinator, which is not part of
//! the engine yet. Until it is, this module is the only place that knows: membership requests
//! are answered with COORDINATOR_NOT_AVAILABLE (a client keeps retrying; nothing is faked),
//! and offset commits are accepted exactly when Kafka accepts them for a group without members
//! — from consumers that do not use group management (generation −1, no member id), such as
//! assign-based consumers and their transactional producers.
//!
//! Connecting the coordinator means replacing the bodies below with calls to it (each request
//! and response maps field by field onto the coordinator's types) and making
//! [`Broker::check_group_commit`] ask it to validate the member and generation.

use eoslog::ErrorCode;
use kafka_protocol::messages::describe_groups_response::{DescribeGroupsResponse, DescribedGroup};
use kafka_protocol::messages::heartbeat_response::HeartbeatResponse;
use kafka_protocol::messages::join_group_response::JoinGroupResponse;
use kafka_protocol::messages::leave_group_response::LeaveGroupResponse;
use kafka_protocol::messages::list_groups_response::{ListGroupsResponse, ListedGroup};
use kafka_protocol::messages::sync_group_response::SyncGroupResponse;
use kafka_protocol::messages::{
    DescribeGroupsRequest, GroupId, HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, ListGroupsRequest,
    RequestHeader, SyncGroupRequest,
};

use super::{Broker, sb};

/// What membership requests get while there is no group coordinator.
const NO_COORDINATOR: ErrorCode = ErrorCode::CoordinatorNotAvailable;

impl Broker {
    /// Whether an offset commit from `member_id` at `generation_id` may be written for `group`
    /// (0) or the error code that rejects it. Kafka accepts commits without membership
    /// (generation < 0, empty member id) for groups that have no members; a commit that claims
    /// membership of a group with none names an unknown member or a generation that does not
    /// exist.
    pub(crate) fn check_group_commit(
        &self,
        group: &str,
        generation_id: i32,
        member_id: &str,
        _group_instance_id: Option<&str>,
    ) -> i16 {
        if !member_id.is_empty() {
            log::debug!("offset commit for group {group} from member {member_id}: no such member");
            ErrorCode::UnknownMemberId.code()
        } else if generation_id >= 0 {
            log::debug!("offset commit for group {group} at generation {generation_id}: no such generation");
            ErrorCode::IllegalGeneration.code()
        } else {
            0
        }
    }

    pub(crate) fn join_group(&self, req: JoinGroupRequest, _v: i16, _h: &RequestHeader) -> JoinGroupResponse {
        log::debug!("JoinGroup for {}: no group coordinator", req.group_id.0.as_str());
        let mut resp = JoinGroupResponse::default();
        resp.error_code = NO_COORDINATOR.code();
        resp.member_id = req.member_id;
        resp
    }

    pub(crate) fn sync_group(
        &self,
        _req: SyncGroupRequest,
        _v: i16,
        _h: &RequestHeader,
    ) -> SyncGroupResponse {
        let mut resp = SyncGroupResponse::default();
        resp.error_code = NO_COORDINATOR.code();
        resp
    }

    pub(crate) fn heartbeat(&self, _req: HeartbeatRequest, _v: i16, _h: &RequestHeader) -> HeartbeatResponse {
        let mut resp = HeartbeatResponse::default();
        resp.error_code = NO_COORDINATOR.code();
        resp
    }

    pub(crate) fn leave_group(
        &self,
        _req: LeaveGroupRequest,
        _v: i16,
        _h: &RequestHeader,
    ) -> LeaveGroupResponse {
        let mut resp = LeaveGroupResponse::default();
        resp.error_code = NO_COORDINATOR.code();
        resp
    }

    /// Groups known from committed offsets only have no members: Kafka shows them as `Empty`
    /// with no protocol type, and groups it does not know as `Dead`.
    pub(crate) fn describe_groups(
        &self,
        req: DescribeGroupsRequest,
        _v: i16,
        _h: &RequestHeader,
    ) -> DescribeGroupsResponse {
        let known = self.engine.offsets().groups();
        let mut resp = DescribeGroupsResponse::default();
        for g in req.groups {
            let mut d = DescribedGroup::default();
            d.group_state = sb(if known.iter().any(|k| k == g.0.as_str()) { "Empty" } else { "Dead" });
            d.group_id = g;
            resp.groups.push(d);
        }
        resp
    }

    pub(crate) fn list_groups(
        &self,
        req: ListGroupsRequest,
        v: i16,
        _h: &RequestHeader,
    ) -> ListGroupsResponse {
        let mut resp = ListGroupsResponse::default();
        let state_ok =
            v < 4 || req.states_filter.is_empty() || req.states_filter.iter().any(|s| s.as_str() == "Empty");
        if state_ok {
            for g in self.engine.offsets().groups() {
                let mut l = ListedGroup::default();
                l.group_id = GroupId(sb(g));
                if v >= 4 {
                    l.group_state = sb("Empty");
                }
                resp.groups.push(l);
            }
        }
        resp
    }
}
