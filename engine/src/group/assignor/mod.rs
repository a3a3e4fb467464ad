//! Partition assignors: what a consumer group's leader runs to split the partitions of the
//! subscribed topics among the members (Kafka's `ConsumerPartitionAssignor`s). Pure functions of
//! the members' subscriptions and the partition counts, usable by any leader — the in-process
//! consumer, or a test.
//!
//! - [`RangeAssignor`] (`range`): per topic, consecutive ranges of partitions;
//! - [`RoundRobinAssignor`] (`roundrobin`): all partitions dealt round-robin;
//! - [`CooperativeStickyAssignor`] (`cooperative-sticky`): balanced and sticky, for the
//!   cooperative rebalance protocol (KIP-429): a partition moving between members is first
//!   only revoked from its owner, and assigned in a follow-up rebalance.
//!
//! Members are ordered as Kafka's `MemberInfo` orders them: static members first, by instance
//! id, then dynamic members by member id; so a restarted static member (new member id, same
//! instance id) gets the same partitions from `range` and `roundrobin`.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::group::protocol::Subscription;
use crate::log::TopicPartition;

mod range;
mod round_robin;
mod sticky;

pub use range::RangeAssignor;
pub use round_robin::RoundRobinAssignor;
pub use sticky::CooperativeStickyAssignor;

/// How members give up partitions in a rebalance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RebalanceProtocol {
    /// Every member revokes all its partitions before rejoining.
    Eager,
    /// Members keep their partitions while rejoining and revoke only the ones taken away
    /// (KIP-429).
    Cooperative,
}

/// A member's subscription as the leader sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberSubscription {
    /// The decoded consumer-protocol subscription.
    pub subscription: Subscription,
    /// `group.instance.id` of a static member.
    pub group_instance_id: Option<String>,
}

impl MemberSubscription {
    /// A dynamic member subscribed to `topics`.
    pub fn new<S: Into<String>>(topics: impl IntoIterator<Item = S>) -> Self {
        MemberSubscription {
            subscription: Subscription::new(topics.into_iter().map(Into::into).collect()),
            group_instance_id: None,
        }
    }

    /// With a `group.instance.id`.
    pub fn with_instance(mut self, instance: impl Into<String>) -> Self {
        self.group_instance_id = Some(instance.into());
        self
    }

    /// With owned partitions and their generation.
    pub fn with_owned(mut self, owned: Vec<TopicPartition>, generation_id: i32) -> Self {
        self.subscription.owned_partitions = owned;
        self.subscription.generation_id = generation_id;
        self
    }

    fn subscribes(&self, topic: &str) -> bool {
        self.subscription.topics.iter().any(|t| t == topic)
    }
}

/// Member id → assigned partitions (every member is present, possibly with none).
pub type GroupAssignment = BTreeMap<String, Vec<TopicPartition>>;

/// A partition assignor.
pub trait PartitionAssignor: Send + Sync + fmt::Debug {
    /// The protocol name members announce in JoinGroup (`range`, ...).
    fn name(&self) -> &str;

    /// The rebalance protocols this assignor supports; a consumer uses the cooperative protocol
    /// only if every assignor it announces supports it.
    fn supported_protocols(&self) -> &'static [RebalanceProtocol] {
        &[RebalanceProtocol::Eager]
    }

    /// Assignor-specific bytes for the member's subscription, given the generation of its
    /// current assignment.
    fn subscription_user_data(&self, _topics: &[String], _generation_id: i32) -> Option<Vec<u8>> {
        None
    }

    /// Assigns the partitions of the subscribed topics. `partitions_per_topic` holds the
    /// partition count of each subscribed topic that exists (topics missing from it are not
    /// assigned).
    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        subscriptions: &BTreeMap<String, MemberSubscription>,
    ) -> GroupAssignment;
}

/// The built-in assignor named `name`.
pub fn by_name(name: &str) -> Option<Arc<dyn PartitionAssignor>> {
    match name {
        "range" => Some(Arc::new(RangeAssignor)),
        "roundrobin" => Some(Arc::new(RoundRobinAssignor)),
        "cooperative-sticky" => Some(Arc::new(CooperativeStickyAssignor)),
        _ => None,
    }
}

/// Kafka's `MemberInfo` order: static members (by instance id) before dynamic ones (by member
/// id).
fn member_info_cmp(a: (&str, &MemberSubscription), b: (&str, &MemberSubscription)) -> Ordering {
    match (&a.1.group_instance_id, &b.1.group_instance_id) {
        (Some(x), Some(y)) => x.cmp(y).then_with(|| a.0.cmp(b.0)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.0.cmp(b.0),
    }
}

/// Member ids in [`member_info_cmp`] order.
fn sorted_members(subscriptions: &BTreeMap<String, MemberSubscription>) -> Vec<&str> {
    let mut v: Vec<(&str, &MemberSubscription)> =
        subscriptions.iter().map(|(k, v)| (k.as_str(), v)).collect();
    v.sort_by(|a, b| member_info_cmp(*a, *b));
    v.into_iter().map(|(k, _)| k).collect()
}

fn empty_assignment(subscriptions: &BTreeMap<String, MemberSubscription>) -> GroupAssignment {
    subscriptions.keys().map(|m| (m.clone(), Vec::new())).collect()
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;
    use std::collections::BTreeSet;

    pub(crate) fn tp(t: &str, p: i32) -> TopicPartition {
        TopicPartition::new(t, p)
    }

    pub(crate) fn topics(pairs: &[(&str, i32)]) -> BTreeMap<String, i32> {
        pairs.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    /// Every assigned partition exists, is subscribed by its member and is assigned once;
    /// returns the set of assigned partitions.
    pub(crate) fn check_valid(
        ppt: &BTreeMap<String, i32>,
        subs: &BTreeMap<String, MemberSubscription>,
        a: &GroupAssignment,
    ) -> BTreeSet<TopicPartition> {
        assert_eq!(a.keys().collect::<Vec<_>>(), subs.keys().collect::<Vec<_>>(), "one entry per member");
        let mut seen = BTreeSet::new();
        for (m, parts) in a {
            for p in parts {
                assert!(subs[m].subscribes(&p.topic), "{m} got {p} without subscribing");
                assert!(ppt.get(&p.topic).is_some_and(|n| p.partition < *n), "{p} does not exist");
                assert!(seen.insert(p.clone()), "{p} assigned twice");
            }
        }
        seen
    }

    /// All partitions of subscribed topics.
    pub(crate) fn all_subscribed(
        ppt: &BTreeMap<String, i32>,
        subs: &BTreeMap<String, MemberSubscription>,
    ) -> BTreeSet<TopicPartition> {
        ppt.iter()
            .filter(|(t, _)| subs.values().any(|s| s.subscribes(t)))
            .flat_map(|(t, n)| (0..*n).map(move |p| TopicPartition::new(t.clone(), p)))
            .collect()
    }

    /// Kafka's balance check (`verifyValidityAndBalance`): two members whose counts differ by
    /// more than one must not be able to trade — the less loaded one subscribes to no topic of
    /// the more loaded one's partitions.
    pub(crate) fn check_balanced(subs: &BTreeMap<String, MemberSubscription>, a: &GroupAssignment) {
        for (m1, p1) in a {
            for (m2, p2) in a {
                if p1.len() > p2.len() + 1 {
                    for p in p1 {
                        assert!(
                            !subs[m2].subscribes(&p.topic),
                            "unbalanced: {m1} has {} partitions and {m2} {}, and {m2} could take {p}",
                            p1.len(),
                            p2.len()
                        );
                    }
                }
            }
        }
    }
}
