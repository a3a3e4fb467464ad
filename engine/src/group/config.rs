//! Settings of the group coordinator, with Kafka's names.

/// Kafka's `GroupCoordinator.NewMemberJoinTimeoutMs`: a new member parked in a JoinGroup for
/// this long is dropped (its client probably gave up and will retry with a new request).
pub const NEW_MEMBER_JOIN_TIMEOUT_MS: i32 = 5 * 60 * 1000;

/// Group coordinator settings (defaults are Kafka's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupConfig {
    /// `group.min.session.timeout.ms` (default 6 s): shorter session timeouts are refused with
    /// INVALID_SESSION_TIMEOUT.
    pub min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms` (default 30 min).
    pub max_session_timeout_ms: i32,
    /// `group.initial.rebalance.delay.ms` (default 3 s): how long the first rebalance of an
    /// empty group waits for more members (extended by each new member, up to the rebalance
    /// timeout), so a group that starts at once does not rebalance once per member.
    pub initial_rebalance_delay_ms: i32,
    /// `group.max.size` (default unlimited): joins beyond it get GROUP_MAX_SIZE_REACHED.
    pub max_size: i32,
    /// How long a new member may wait in a JoinGroup ([`NEW_MEMBER_JOIN_TIMEOUT_MS`]).
    pub new_member_join_timeout_ms: i32,
}

impl GroupConfig {
    /// The `group.*` settings of an engine configuration.
    pub fn from_engine_config(c: &crate::config::EngineConfig) -> Self {
        GroupConfig {
            min_session_timeout_ms: c.group_min_session_timeout_ms,
            max_session_timeout_ms: c.group_max_session_timeout_ms,
            initial_rebalance_delay_ms: c.group_initial_rebalance_delay_ms,
            max_size: c.group_max_size,
            ..GroupConfig::default()
        }
    }
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            min_session_timeout_ms: 6_000,
            max_session_timeout_ms: 30 * 60 * 1000,
            initial_rebalance_delay_ms: 3_000,
            max_size: i32::MAX,
            new_member_join_timeout_ms: NEW_MEMBER_JOIN_TIMEOUT_MS,
        }
    }
}
