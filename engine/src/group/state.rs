//! The states of a classic group (Kafka's `GroupState` in `GroupMetadata.scala`) and which
//! transitions are legal.

use std::fmt;

/// The state of a classic consumer group.
///
/// ```text
///            join (new member)              all members joined / rebalance timeout
///   Empty ─────────────────────▶ PreparingRebalance ─────────────────────▶ CompletingRebalance
///     ▲                            ▲        │ all members left                    │ leader's SyncGroup
///     └────────────────────────────┼────────┘                                     ▼ (assignment stored)
///                                  └─────────────── join / leave / expiry ────── Stable
/// ```
/// Every state can go to `Dead` (the group was deleted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupState {
    /// No members (a group used only for offsets, or one whose members all left). Joins start
    /// a rebalance; heartbeats, syncs and commits from members get UNKNOWN_MEMBER_ID.
    Empty,
    /// Waiting for every known member to (re)join, up to the rebalance timeout. Heartbeats and
    /// SyncGroup get REBALANCE_IN_PROGRESS; offset commits of the previous generation are still
    /// accepted.
    PreparingRebalance,
    /// A generation exists and the members wait for the leader's assignment. Heartbeats are
    /// normal, plain offset commits get REBALANCE_IN_PROGRESS.
    CompletingRebalance,
    /// The generation has its assignment.
    Stable,
    /// The group was deleted; every request gets COORDINATOR_NOT_AVAILABLE.
    Dead,
}

impl GroupState {
    /// Kafka's name of the state (what DescribeGroups reports).
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }

    /// The states a group may come from to enter `self` (Kafka's `validPreviousStates`).
    pub fn valid_previous_states(self) -> &'static [GroupState] {
        use GroupState::*;
        match self {
            Empty => &[PreparingRebalance],
            PreparingRebalance => &[Stable, CompletingRebalance, Empty],
            CompletingRebalance => &[PreparingRebalance],
            Stable => &[CompletingRebalance],
            Dead => &[Stable, PreparingRebalance, CompletingRebalance, Empty, Dead],
        }
    }

    /// Whether `self → to` is a legal transition.
    pub fn can_transition_to(self, to: GroupState) -> bool {
        to.valid_previous_states().contains(&self)
    }
}

impl fmt::Display for GroupState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::GroupState::{self, *};

    #[test]
    fn transitions_match_kafka() {
        let all = [Empty, PreparingRebalance, CompletingRebalance, Stable, Dead];
        let legal: &[(GroupState, GroupState)] = &[
            (PreparingRebalance, Empty),
            (Stable, PreparingRebalance),
            (CompletingRebalance, PreparingRebalance),
            (Empty, PreparingRebalance),
            (PreparingRebalance, CompletingRebalance),
            (CompletingRebalance, Stable),
        ];
        for from in all {
            for to in all {
                let expected = to == Dead || legal.contains(&(from, to));
                assert_eq!(from.can_transition_to(to), expected, "{from} -> {to}");
            }
        }
        // A group never goes straight from Stable to CompletingRebalance, nor from Empty to Stable.
        assert!(!Stable.can_transition_to(CompletingRebalance));
        assert!(!Empty.can_transition_to(Stable));
    }
}
