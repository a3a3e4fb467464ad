//! Consumer groups: Kafka's classic group protocol inside the engine.
//!
//! - [`GroupCoordinator`] ([`Engine::groups`](crate::Engine::groups)): JoinGroup, SyncGroup,
//!   Heartbeat, LeaveGroup, OffsetCommit, TxnOffsetCommit and OffsetFetch with Kafka's rules —
//!   generations, a leader, static membership, session and rebalance timeouts, and the
//!   generation fencing of offset commits that keeps a consumer which lost its partitions from
//!   committing them (KIP-447). Group metadata is persisted in `__consumer_offsets`.
//! - [`protocol`]: the consumer protocol's subscription and assignment bytes (what a Kafka
//!   client puts in JoinGroup and gets from SyncGroup).
//! - [`assignor`]: the range, round-robin and cooperative-sticky assignors a group leader runs.
//! - [`GroupMember`]: the client side of membership (Kafka's `ConsumerCoordinator`) for
//!   in-process consumers: the join / sync loop, the leader's assignment, the eager and
//!   cooperative protocols, rebalance callbacks and heartbeats.
//!
//! A Kafka-protocol front end translates each group API into one coordinator call; JoinGroup
//! and SyncGroup return a [`Pending`] answer it can wait on from the connection's thread.

pub mod assignor;
mod client;
mod config;
mod coordinator;
mod ids;
mod metadata;
pub mod protocol;
mod state;
mod types;

pub use client::{GroupMember, GroupMemberConfig, Heartbeater, NoopListener, RebalanceListener};
pub use config::{GroupConfig, NEW_MEMBER_JOIN_TIMEOUT_MS};
pub use coordinator::GroupCoordinator;
pub use state::GroupState;
pub use types::{
    ConsumerGroupMetadata, DEFAULT_REBALANCE_TIMEOUT_MS, DEFAULT_SESSION_TIMEOUT_MS, GroupDescription,
    GroupOverview, JoinGroupMember, JoinGroupRequest, JoinGroupResponse, LeaveGroupResponse,
    LeaveMemberResponse, MemberDescription, MemberIdentity, NO_GENERATION_ID, Pending, PendingJoin,
    PendingSync, SyncGroupRequest, SyncGroupResponse, UNKNOWN_MEMBER_ID,
};
