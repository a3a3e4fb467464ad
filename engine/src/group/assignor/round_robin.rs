//! Kafka's `RoundRobinAssignor`.

use std::collections::BTreeMap;

use super::{GroupAssignment, MemberSubscription, PartitionAssignor, empty_assignment, sorted_members};
use crate::log::TopicPartition;

/// Lays out every partition of every subscribed topic (topics sorted by name) and deals them to
/// the members in `MemberInfo` order, skipping members not subscribed to a partition's topic.
/// Identical subscriptions give counts within one of each other; differing ones may not.
#[derive(Debug, Clone, Copy, Default)]
pub struct RoundRobinAssignor;

impl PartitionAssignor for RoundRobinAssignor {
    fn name(&self) -> &str {
        "roundrobin"
    }

    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        subscriptions: &BTreeMap<String, MemberSubscription>,
    ) -> GroupAssignment {
        let mut out = empty_assignment(subscriptions);
        let members = sorted_members(subscriptions);
        if members.is_empty() {
            return out;
        }
        let mut next = 0usize;
        // partitions_per_topic is sorted by topic name, like Kafka's SortedSet of topics.
        for (topic, &count) in partitions_per_topic {
            if !subscriptions.values().any(|s| s.subscribes(topic)) {
                continue;
            }
            for p in 0..count.max(0) {
                // Somebody subscribes to `topic`, so this finds a member within one lap.
                while !subscriptions[members[next % members.len()]].subscribes(topic) {
                    next += 1;
                }
                let m = members[next % members.len()];
                next += 1;
                out.get_mut(m)
                    .expect("every member has an entry")
                    .push(TopicPartition::new(topic.clone(), p));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    //! Kafka's `RoundRobinAssignorTest` cases.
    use super::*;
    use crate::group::assignor::test_util::*;

    fn subs(pairs: &[(&str, MemberSubscription)]) -> BTreeMap<String, MemberSubscription> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn one_consumer() {
        let a = RoundRobinAssignor.assign(&topics(&[]), &subs(&[("c", MemberSubscription::new(["t"]))]));
        assert!(a["c"].is_empty());
        let s = subs(&[("c", MemberSubscription::new(["t"]))]);
        let a = RoundRobinAssignor.assign(&topics(&[("t", 3), ("other", 3)]), &s);
        assert_eq!(a["c"], vec![tp("t", 0), tp("t", 1), tp("t", 2)]);
        let s = subs(&[("c", MemberSubscription::new(["t1", "t2"]))]);
        let a = RoundRobinAssignor.assign(&topics(&[("t1", 1), ("t2", 2)]), &s);
        assert_eq!(a["c"], vec![tp("t1", 0), tp("t2", 0), tp("t2", 1)]);
    }

    #[test]
    fn two_consumers_one_topic() {
        let s = subs(&[("c1", MemberSubscription::new(["t"])), ("c2", MemberSubscription::new(["t"]))]);
        let a = RoundRobinAssignor.assign(&topics(&[("t", 1)]), &s);
        assert_eq!((a["c1"].clone(), a["c2"].clone()), (vec![tp("t", 0)], vec![]));
        let a = RoundRobinAssignor.assign(&topics(&[("t", 2)]), &s);
        assert_eq!((a["c1"].clone(), a["c2"].clone()), (vec![tp("t", 0)], vec![tp("t", 1)]));
    }

    #[test]
    fn multiple_consumers_mixed_topics() {
        let s = subs(&[
            ("c1", MemberSubscription::new(["t1"])),
            ("c2", MemberSubscription::new(["t1", "t2"])),
            ("c3", MemberSubscription::new(["t1"])),
        ]);
        let a = RoundRobinAssignor.assign(&topics(&[("t1", 3), ("t2", 2)]), &s);
        assert_eq!(a["c1"], vec![tp("t1", 0)]);
        assert_eq!(a["c2"], vec![tp("t1", 1), tp("t2", 0), tp("t2", 1)]);
        assert_eq!(a["c3"], vec![tp("t1", 2)]);
    }

    #[test]
    fn two_consumers_two_topics_six_partitions_dynamic_and_static() {
        let expected = |a: &GroupAssignment, first: &str, second: &str| {
            assert_eq!(a[first], vec![tp("t1", 0), tp("t1", 2), tp("t2", 1)]);
            assert_eq!(a[second], vec![tp("t1", 1), tp("t2", 0), tp("t2", 2)]);
        };
        let ppt = topics(&[("t1", 3), ("t2", 3)]);
        let s = subs(&[
            ("c1", MemberSubscription::new(["t1", "t2"])),
            ("c2", MemberSubscription::new(["t1", "t2"])),
        ]);
        expected(&RoundRobinAssignor.assign(&ppt, &s), "c1", "c2");
        let s = subs(&[
            ("consumer-b", MemberSubscription::new(["t1", "t2"]).with_instance("instance1")),
            ("consumer-a", MemberSubscription::new(["t1", "t2"]).with_instance("instance2")),
        ]);
        expected(&RoundRobinAssignor.assign(&ppt, &s), "consumer-b", "consumer-a");
        let s = subs(&[
            ("consumer-b", MemberSubscription::new(["t1", "t2"]).with_instance("instance1")),
            ("consumer-a", MemberSubscription::new(["t1", "t2"])),
        ]);
        expected(&RoundRobinAssignor.assign(&ppt, &s), "consumer-b", "consumer-a");
    }

    #[test]
    fn static_member_assignment_persists() {
        // testStaticMemberRoundRobinAssignmentPersistent.
        let ppt = topics(&[("t1", 3), ("t2", 3)]);
        let mut s = subs(&[
            ("consumer1", MemberSubscription::new(["t1", "t2"]).with_instance("instance1")),
            ("consumer2", MemberSubscription::new(["t1", "t2"]).with_instance("instance2")),
            ("consumer3", MemberSubscription::new(["t1", "t2"]).with_instance("instance3")),
            ("consumer4", MemberSubscription::new(["t1", "t2"])),
        ]);
        let a = RoundRobinAssignor.assign(&ppt, &s);
        assert_eq!(a["consumer1"], vec![tp("t1", 0), tp("t2", 1)]);
        assert_eq!(a["consumer2"], vec![tp("t1", 1), tp("t2", 2)]);
        assert_eq!(a["consumer3"], vec![tp("t1", 2)]);
        assert_eq!(a["consumer4"], vec![tp("t2", 0)]);
        let d = s.remove("consumer4").unwrap();
        s.insert("consumer5".into(), d);
        let b = RoundRobinAssignor.assign(&ppt, &s);
        assert_eq!(b["consumer5"], vec![tp("t2", 0)]);
        for m in ["consumer1", "consumer2", "consumer3"] {
            assert_eq!(a[m], b[m]);
        }
    }

    #[test]
    fn static_member_assignment_persists_after_member_id_changes() {
        let ppt = topics(&[("t1", 5), ("t2", 5)]);
        let mut s = subs(&[
            ("consumer1", MemberSubscription::new(["t1", "t2"]).with_instance("instance1")),
            ("consumer2", MemberSubscription::new(["t1", "t2"]).with_instance("instance2")),
            ("consumer3", MemberSubscription::new(["t1", "t2"]).with_instance("instance3")),
        ]);
        let by_instance = |a: &GroupAssignment, s: &BTreeMap<String, MemberSubscription>| {
            a.iter()
                .map(|(m, p)| (s[m].group_instance_id.clone().unwrap(), p.clone()))
                .collect::<BTreeMap<_, _>>()
        };
        let a = by_instance(&RoundRobinAssignor.assign(&ppt, &s), &s);
        assert_eq!(a["instance1"], vec![tp("t1", 0), tp("t1", 3), tp("t2", 1), tp("t2", 4)]);
        assert_eq!(a["instance2"], vec![tp("t1", 1), tp("t1", 4), tp("t2", 2)]);
        assert_eq!(a["instance3"], vec![tp("t1", 2), tp("t2", 0), tp("t2", 3)]);
        let c3 = s.remove("consumer3").unwrap();
        s.insert("consumer4".into(), c3);
        let c2 = s.remove("consumer2").unwrap();
        s.insert("consumer5".into(), c2);
        assert_eq!(by_instance(&RoundRobinAssignor.assign(&ppt, &s), &s), a);
    }

    #[test]
    fn identical_subscriptions_are_balanced() {
        let ppt = topics(&[("a", 7), ("b", 5)]);
        let s: BTreeMap<String, MemberSubscription> =
            (0..4).map(|i| (format!("m{i}"), MemberSubscription::new(["a", "b"]))).collect();
        let a = RoundRobinAssignor.assign(&ppt, &s);
        assert_eq!(check_valid(&ppt, &s, &a), all_subscribed(&ppt, &s));
        check_balanced(&s, &a);
    }
}
