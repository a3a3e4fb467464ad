//! Consumer-group APIs, answered by the engine's group coordinator ([`eoslog::Engine::groups`]).
//!
//! Each request maps field by field onto a coordinator call; the broker adds only what the
//! protocol needs around it:
//! - version defaults Kafka applies to old requests (JoinGroup v0 has no rebalance timeout and
//!   uses the session timeout; v4+ must fetch a member id first, KIP-394; v9 may be told to
//!   skip the assignment, KIP-814; fields a version does not carry are left out);
//! - waiting: JoinGroup and SyncGroup may park until the other members arrive. The connection's
//!   own thread waits (other connections are served by theirs), re-checking for broker
//!   shutdown so that a parked request never holds up SIGTERM;
//! - Kafka's shape of answers to old clients (LeaveGroup before v3 has one error code; JoinGroup
//!   before v7 has a non-null protocol name).
//!
//! Offset commits (in `offsets.rs` and `txn.rs`) go through the same coordinator, which checks
//! the member and its generation (KIP-447) atomically with the write.

use std::time::Duration;

use eoslog::ErrorCode;
use eoslog::group::{
    JoinGroupRequest as EngineJoin, MemberIdentity, Pending, SyncGroupRequest as EngineSync,
};
use kafka_protocol::messages::describe_groups_response::{
    DescribeGroupsResponse, DescribedGroup, DescribedGroupMember,
};
use kafka_protocol::messages::heartbeat_response::HeartbeatResponse;
use kafka_protocol::messages::join_group_response::{JoinGroupResponse, JoinGroupResponseMember};
use kafka_protocol::messages::leave_group_response::{LeaveGroupResponse, MemberResponse};
use kafka_protocol::messages::list_groups_response::{ListGroupsResponse, ListedGroup};
use kafka_protocol::messages::sync_group_response::SyncGroupResponse;
use kafka_protocol::messages::{
    DescribeGroupsRequest, GroupId, HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, ListGroupsRequest,
    RequestHeader, SyncGroupRequest,
};
use kafka_protocol::protocol::StrBytes;

use super::{Broker, sb};

/// How often a request parked in the coordinator checks whether the broker is shutting down.
const PARKED_RECHECK: Duration = Duration::from_millis(100);

/// An optional string of a request field that only some versions carry.
fn opt(s: &Option<StrBytes>, present: bool) -> Option<String> {
    if present { s.as_ref().map(|s| s.to_string()) } else { None }
}

impl Broker {
    /// Waits for a parked JoinGroup or SyncGroup. The coordinator answers every parked request
    /// in the end (its timers, or NOT_COORDINATOR when the engine closes); the broker closes the
    /// engine only after its connection threads have finished, so they stop waiting at shutdown.
    fn wait_parked<T>(&self, pending: &Pending<T>) -> Option<T> {
        loop {
            if let Some(answer) = pending.wait(PARKED_RECHECK) {
                return Some(answer);
            }
            if self.is_stopping() {
                return None;
            }
        }
    }

    pub(crate) fn join_group(
        &self,
        req: JoinGroupRequest,
        v: i16,
        h: &RequestHeader,
        client_host: &str,
    ) -> JoinGroupResponse {
        let request = EngineJoin {
            group_id: req.group_id.0.to_string(),
            member_id: req.member_id.to_string(),
            group_instance_id: opt(&req.group_instance_id, v >= 5),
            require_known_member_id: v >= 4,
            support_skipping_assignment: v >= 9,
            client_id: h.client_id.as_ref().map(|c| c.to_string()).unwrap_or_default(),
            client_host: client_host.to_string(),
            // v0 has no rebalance timeout: Kafka uses the session timeout.
            rebalance_timeout_ms: if v >= 1 { req.rebalance_timeout_ms } else { req.session_timeout_ms },
            session_timeout_ms: req.session_timeout_ms,
            protocol_type: req.protocol_type.to_string(),
            protocols: req.protocols.iter().map(|p| (p.name.to_string(), p.metadata.to_vec())).collect(),
            reason: opt(&req.reason, v >= 8),
        };
        let group = request.group_id.clone();
        let pending = self.engine.groups().join_group(request);
        let mut resp = JoinGroupResponse::default();
        let Some(answer) = self.wait_parked(&pending) else {
            resp.error_code = ErrorCode::NotCoordinator.code();
            resp.generation_id = -1;
            resp.member_id = req.member_id;
            if v < 7 {
                resp.protocol_name = Some(sb(""));
            }
            return resp;
        };
        if answer.error != ErrorCode::None {
            log::debug!("JoinGroup of {:?} to group {group}: {}", answer.member_id, answer.error);
        }
        resp.error_code = answer.error.code();
        resp.generation_id = answer.generation_id;
        if v >= 7 {
            resp.protocol_type = answer.protocol_type.map(sb);
            resp.protocol_name = answer.protocol_name.map(sb);
        } else {
            // Non-nullable before v7.
            resp.protocol_name = Some(sb(answer.protocol_name.unwrap_or_default()));
        }
        resp.leader = sb(answer.leader);
        resp.skip_assignment = v >= 9 && answer.skip_assignment;
        resp.member_id = sb(answer.member_id);
        resp.members = answer
            .members
            .into_iter()
            .map(|m| {
                let mut out = JoinGroupResponseMember::default();
                out.member_id = sb(m.member_id);
                out.group_instance_id = if v >= 5 { m.group_instance_id.map(sb) } else { None };
                out.metadata = m.metadata.into();
                out
            })
            .collect();
        resp
    }

    pub(crate) fn sync_group(&self, req: SyncGroupRequest, v: i16, _h: &RequestHeader) -> SyncGroupResponse {
        let request = EngineSync {
            group_id: req.group_id.0.to_string(),
            generation_id: req.generation_id,
            member_id: req.member_id.to_string(),
            group_instance_id: opt(&req.group_instance_id, v >= 3),
            protocol_type: opt(&req.protocol_type, v >= 5),
            protocol_name: opt(&req.protocol_name, v >= 5),
            assignments: req
                .assignments
                .iter()
                .map(|a| (a.member_id.to_string(), a.assignment.to_vec()))
                .collect(),
        };
        let pending = self.engine.groups().sync_group(request);
        let mut resp = SyncGroupResponse::default();
        let Some(answer) = self.wait_parked(&pending) else {
            resp.error_code = ErrorCode::NotCoordinator.code();
            return resp;
        };
        if answer.error != ErrorCode::None {
            log::debug!(
                "SyncGroup of {} to group {} generation {}: {}",
                req.member_id.as_str(),
                req.group_id.0.as_str(),
                req.generation_id,
                answer.error
            );
        }
        resp.error_code = answer.error.code();
        if v >= 5 {
            resp.protocol_type = answer.protocol_type.map(sb);
            resp.protocol_name = answer.protocol_name.map(sb);
        }
        resp.assignment = answer.assignment.into();
        resp
    }

    pub(crate) fn heartbeat(&self, req: HeartbeatRequest, v: i16, _h: &RequestHeader) -> HeartbeatResponse {
        let instance = opt(&req.group_instance_id, v >= 3);
        let mut resp = HeartbeatResponse::default();
        if let Err(e) = self.engine.groups().heartbeat(
            req.group_id.0.as_str(),
            req.member_id.as_str(),
            instance.as_deref(),
            req.generation_id,
        ) {
            // REBALANCE_IN_PROGRESS is how a member learns to rejoin: routine.
            log::trace!("heartbeat: {e}");
            resp.error_code = e.code().code();
        }
        resp
    }

    pub(crate) fn leave_group(
        &self,
        req: LeaveGroupRequest,
        v: i16,
        _h: &RequestHeader,
    ) -> LeaveGroupResponse {
        let members: Vec<MemberIdentity> = if v >= 3 {
            req.members
                .iter()
                .map(|m| MemberIdentity {
                    member_id: m.member_id.to_string(),
                    group_instance_id: m.group_instance_id.as_ref().map(|s| s.to_string()),
                    reason: opt(&m.reason, v >= 5),
                })
                .collect()
        } else {
            vec![MemberIdentity::member(req.member_id.as_str())]
        };
        let answer = self.engine.groups().leave_group(req.group_id.0.as_str(), &members);
        let mut resp = LeaveGroupResponse::default();
        if v >= 3 {
            resp.error_code = answer.error.code();
            resp.members = answer
                .members
                .into_iter()
                .map(|m| {
                    let mut out = MemberResponse::default();
                    out.member_id = sb(m.member_id);
                    out.group_instance_id = m.group_instance_id.map(sb);
                    out.error_code = m.error.code();
                    out
                })
                .collect();
        } else {
            // One member, one error code: the top-level one, else the member's (Kafka's
            // LeaveGroupResponse for v0–v2).
            let member_error = answer.members.iter().map(|m| m.error).find(|e| *e != ErrorCode::None);
            resp.error_code = if answer.error != ErrorCode::None {
                answer.error
            } else {
                member_error.unwrap_or(ErrorCode::None)
            }
            .code();
        }
        resp
    }

    /// The coordinator's view of each group. A group the coordinator does not hold but that has
    /// committed offsets (commits of consumers outside group management, from before a
    /// restart) is `Empty`, as Kafka loads it; any other is `Dead`.
    pub(crate) fn describe_groups(
        &self,
        req: DescribeGroupsRequest,
        v: i16,
        _h: &RequestHeader,
    ) -> DescribeGroupsResponse {
        let with_offsets = self.engine.offsets().groups();
        let mut resp = DescribeGroupsResponse::default();
        for g in req.groups {
            let mut d = DescribedGroup::default();
            match self.engine.groups().describe_group(g.0.as_str()) {
                Some(desc) => {
                    d.group_state = sb(desc.state.name());
                    d.protocol_type = sb(desc.protocol_type);
                    d.protocol_data = sb(desc.protocol);
                    d.members = desc
                        .members
                        .into_iter()
                        .map(|m| {
                            let mut out = DescribedGroupMember::default();
                            out.member_id = sb(m.member_id);
                            out.group_instance_id = if v >= 4 { m.group_instance_id.map(sb) } else { None };
                            out.client_id = sb(m.client_id);
                            out.client_host = sb(m.client_host);
                            out.member_metadata = m.metadata.into();
                            out.member_assignment = m.assignment.into();
                            out
                        })
                        .collect();
                }
                None => {
                    let known = with_offsets.iter().any(|k| k == g.0.as_str());
                    d.group_state = sb(if known { "Empty" } else { "Dead" });
                }
            }
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
        let mut groups: Vec<(String, String, &'static str)> = self
            .engine
            .groups()
            .list_groups()
            .into_iter()
            .map(|g| (g.group_id, g.protocol_type, g.state.name()))
            .collect();
        for g in self.engine.offsets().groups() {
            if !groups.iter().any(|(id, _, _)| *id == g) {
                groups.push((g, String::new(), "Empty"));
            }
        }
        groups.sort();
        let mut resp = ListGroupsResponse::default();
        for (id, protocol_type, state) in groups {
            let wanted = v < 4
                || req.states_filter.is_empty()
                || req.states_filter.iter().any(|s| s.as_str() == state);
            if !wanted {
                continue;
            }
            let mut l = ListedGroup::default();
            l.group_id = GroupId(sb(id));
            l.protocol_type = sb(protocol_type);
            if v >= 4 {
                l.group_state = sb(state);
            }
            resp.groups.push(l);
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_gated_fields_are_dropped() {
        let s = Some(sb("x"));
        assert_eq!(opt(&s, true).as_deref(), Some("x"));
        assert_eq!(opt(&s, false), None);
        assert_eq!(opt(&None, true), None);
    }
}
