//! Kafka's `RangeAssignor` (without rack awareness, which needs partition replica racks).

use std::collections::BTreeMap;

use super::{GroupAssignment, MemberSubscription, PartitionAssignor, empty_assignment, sorted_members};
use crate::log::TopicPartition;

/// For each topic, the subscribed members in `MemberInfo` order get consecutive ranges of
/// partitions; the first `partitions % members` get one extra. With two members and two topics
/// of three partitions, the first gets `t0p0 t0p1 t1p0 t1p1`, the second `t0p2 t1p2`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RangeAssignor;

impl PartitionAssignor for RangeAssignor {
    fn name(&self) -> &str {
        "range"
    }

    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        subscriptions: &BTreeMap<String, MemberSubscription>,
    ) -> GroupAssignment {
        let mut out = empty_assignment(subscriptions);
        let order = sorted_members(subscriptions);
        for (topic, &count) in partitions_per_topic {
            let consumers: Vec<&str> =
                order.iter().copied().filter(|m| subscriptions[*m].subscribes(topic)).collect();
            if consumers.is_empty() || count <= 0 {
                continue;
            }
            let n = consumers.len();
            let count = count as usize;
            let (per, extra) = (count / n, count % n);
            for (i, m) in consumers.into_iter().enumerate() {
                let start = per * i + i.min(extra);
                let len = per + usize::from(i < extra);
                let parts = out.get_mut(m).expect("every member has an entry");
                parts.extend((start..start + len).map(|p| TopicPartition::new(topic.clone(), p as i32)));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    //! Kafka's `RangeAssignorTest` cases.
    use super::*;
    use crate::group::assignor::test_util::*;
    use std::collections::BTreeSet;

    fn set(v: &[TopicPartition]) -> BTreeSet<TopicPartition> {
        v.iter().cloned().collect()
    }

    fn subs(pairs: &[(&str, MemberSubscription)]) -> BTreeMap<String, MemberSubscription> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn one_consumer_no_topic_and_nonexistent_topic() {
        let a = RangeAssignor
            .assign(&topics(&[]), &subs(&[("c1", MemberSubscription::new(Vec::<String>::new()))]));
        assert_eq!(a["c1"], vec![]);
        let a = RangeAssignor.assign(&topics(&[]), &subs(&[("c1", MemberSubscription::new(["t1"]))]));
        assert_eq!(a["c1"], vec![]);
    }

    #[test]
    fn one_consumer_topics() {
        let s = subs(&[("c1", MemberSubscription::new(["t1"]))]);
        let a = RangeAssignor.assign(&topics(&[("t1", 3), ("other", 3)]), &s);
        assert_eq!(a["c1"], vec![tp("t1", 0), tp("t1", 1), tp("t1", 2)], "only subscribed topics");
        let s = subs(&[("c1", MemberSubscription::new(["t1", "t2"]))]);
        let a = RangeAssignor.assign(&topics(&[("t1", 1), ("t2", 2)]), &s);
        assert_eq!(set(&a["c1"]), set(&[tp("t1", 0), tp("t2", 0), tp("t2", 1)]));
    }

    #[test]
    fn two_consumers_one_topic() {
        let s = subs(&[("c1", MemberSubscription::new(["t1"])), ("c2", MemberSubscription::new(["t1"]))]);
        let a = RangeAssignor.assign(&topics(&[("t1", 1)]), &s);
        assert_eq!((a["c1"].clone(), a["c2"].clone()), (vec![tp("t1", 0)], vec![]));
        let a = RangeAssignor.assign(&topics(&[("t1", 2)]), &s);
        assert_eq!((a["c1"].clone(), a["c2"].clone()), (vec![tp("t1", 0)], vec![tp("t1", 1)]));
    }

    #[test]
    fn multiple_consumers_mixed_topics() {
        let s = subs(&[
            ("c1", MemberSubscription::new(["t1"])),
            ("c2", MemberSubscription::new(["t1", "t2"])),
            ("c3", MemberSubscription::new(["t1"])),
        ]);
        let a = RangeAssignor.assign(&topics(&[("t1", 3), ("t2", 2)]), &s);
        assert_eq!(a["c1"], vec![tp("t1", 0)]);
        assert_eq!(set(&a["c2"]), set(&[tp("t1", 1), tp("t2", 0), tp("t2", 1)]));
        assert_eq!(a["c3"], vec![tp("t1", 2)]);
    }

    #[test]
    fn two_consumers_two_topics_six_partitions() {
        let s = subs(&[
            ("c1", MemberSubscription::new(["t1", "t2"])),
            ("c2", MemberSubscription::new(["t1", "t2"])),
        ]);
        let a = RangeAssignor.assign(&topics(&[("t1", 3), ("t2", 3)]), &s);
        assert_eq!(set(&a["c1"]), set(&[tp("t1", 0), tp("t1", 1), tp("t2", 0), tp("t2", 1)]));
        assert_eq!(set(&a["c2"]), set(&[tp("t1", 2), tp("t2", 2)]));
    }

    #[test]
    fn static_members_are_ordered_by_instance_id_and_before_dynamic_ones() {
        // consumer-b sorts after consumer-a but its instance id decides.
        let s = subs(&[
            ("consumer-b", MemberSubscription::new(["t1", "t2"]).with_instance("instance1")),
            ("consumer-a", MemberSubscription::new(["t1", "t2"]).with_instance("instance2")),
        ]);
        let a = RangeAssignor.assign(&topics(&[("t1", 3), ("t2", 3)]), &s);
        assert_eq!(set(&a["consumer-b"]), set(&[tp("t1", 0), tp("t1", 1), tp("t2", 0), tp("t2", 1)]));
        let s = subs(&[
            ("consumer-b", MemberSubscription::new(["t1", "t2"]).with_instance("instance1")),
            ("consumer-a", MemberSubscription::new(["t1", "t2"])),
        ]);
        let a = RangeAssignor.assign(&topics(&[("t1", 3), ("t2", 3)]), &s);
        assert_eq!(set(&a["consumer-b"]), set(&[tp("t1", 0), tp("t1", 1), tp("t2", 0), tp("t2", 1)]));
        assert_eq!(set(&a["consumer-a"]), set(&[tp("t1", 2), tp("t2", 2)]));
    }

    #[test]
    fn static_member_assignment_persists_across_member_id_changes() {
        // testStaticMemberRangeAssignmentPersistent: three static members and a dynamic one.
        let ppt = topics(&[("t1", 5), ("t2", 4)]);
        let mut s = subs(&[
            ("consumer1", MemberSubscription::new(["t1", "t2"]).with_instance("instance1")),
            ("consumer2", MemberSubscription::new(["t1", "t2"]).with_instance("instance2")),
            ("consumer3", MemberSubscription::new(["t1", "t2"]).with_instance("instance3")),
            ("consumer4", MemberSubscription::new(["t1", "t2"])),
        ]);
        let a = RangeAssignor.assign(&ppt, &s);
        assert_eq!(set(&a["consumer1"]), set(&[tp("t1", 0), tp("t1", 1), tp("t2", 0)]));
        assert_eq!(set(&a["consumer2"]), set(&[tp("t1", 2), tp("t2", 1)]));
        assert_eq!(set(&a["consumer3"]), set(&[tp("t1", 3), tp("t2", 2)]));
        assert_eq!(set(&a["consumer4"]), set(&[tp("t1", 4), tp("t2", 3)]));
        // The dynamic member is replaced; the static ones keep their partitions.
        let d = s.remove("consumer4").unwrap();
        s.insert("consumer5".into(), d);
        let b = RangeAssignor.assign(&ppt, &s);
        for m in ["consumer1", "consumer2", "consumer3"] {
            assert_eq!(a[m], b[m]);
        }
        assert_eq!(set(&b["consumer5"]), set(&[tp("t1", 4), tp("t2", 3)]));
        // Static members restart with new member ids: same partitions per instance.
        let c3 = s.remove("consumer3").unwrap();
        s.insert("consumer9".into(), c3);
        let c = RangeAssignor.assign(&ppt, &s);
        assert_eq!(c["consumer9"], a["consumer3"]);
    }
}
