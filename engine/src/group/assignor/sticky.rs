//! Kafka's `CooperativeStickyAssignor` (on `AbstractStickyAssignor`'s rules).
//!
//! # Ownership
//! Each member reports the partitions it owns and the generation they were assigned in
//! (subscription v2+, or — from older clients — the 4-byte generation in the assignor's user
//! data). Only claims of the highest generation reported count: a member reporting an older
//! generation missed a rebalance and its partitions were reassigned since. A partition claimed
//! by two members of the same generation is given to neither as "owned" and, being possibly
//! still consumed by one of them, is treated as changing owner (below).
//!
//! # Assignment
//! - All members subscribed to the same topics (Kafka's `constrainedAssign`): every member gets
//!   `⌊P/N⌋` or `⌈P/N⌉` partitions, exactly `P mod N` of them the larger count. Members first
//!   keep their owned partitions up to their quota; the rest are dealt round-robin to members
//!   below the minimum, then one each to members at the minimum until `P mod N` members have
//!   the maximum.
//! - Otherwise (the general case): owned partitions are kept; unowned ones go, fewest eligible
//!   members first, to the least loaded eligible member; then partitions move from a member to
//!   an eligible one with at least two fewer until no such move exists — Kafka's balance
//!   criterion. Partitions a member did not own are moved first, to keep the rest sticky.
//!
//! # The cooperative rule
//! A partition assigned to a member other than the one that owns it now is removed from the
//! assignment (Kafka's `adjustAssignment`): its owner sees it missing and revokes it, then
//! rejoins, and the follow-up rebalance assigns it. No partition is ever owned by two members at
//! once.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use super::{GroupAssignment, MemberSubscription, PartitionAssignor, RebalanceProtocol, empty_assignment};
use crate::group::protocol::NO_GENERATION;
use crate::log::TopicPartition;

/// Kafka's `DEFAULT_GENERATION`.
const DEFAULT_GENERATION: i32 = -1;

/// The cooperative sticky assignor (`cooperative-sticky`); see the module documentation.
#[derive(Debug, Clone, Copy, Default)]
pub struct CooperativeStickyAssignor;

impl PartitionAssignor for CooperativeStickyAssignor {
    fn name(&self) -> &str {
        "cooperative-sticky"
    }

    fn supported_protocols(&self) -> &'static [RebalanceProtocol] {
        &[RebalanceProtocol::Cooperative, RebalanceProtocol::Eager]
    }

    /// The generation as a big-endian i32, as Kafka's `COOPERATIVE_STICKY_ASSIGNOR_USER_DATA_V0`
    /// (read by leaders whose members send subscriptions older than v2).
    fn subscription_user_data(&self, _topics: &[String], generation_id: i32) -> Option<Vec<u8>> {
        Some(generation_id.to_be_bytes().to_vec())
    }

    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        subscriptions: &BTreeMap<String, MemberSubscription>,
    ) -> GroupAssignment {
        let (mut assignment, transferring) = sticky_assign(partitions_per_topic, subscriptions);
        let transferring =
            transferring.unwrap_or_else(|| partitions_transferring_ownership(subscriptions, &assignment));
        for (tp, member) in transferring {
            if let Some(parts) = assignment.get_mut(&member) {
                parts.retain(|p| *p != tp);
            }
        }
        assignment
    }
}

/// The generation a member's owned partitions belong to (Kafka's `memberData`).
fn member_generation(s: &MemberSubscription) -> Option<i32> {
    if s.subscription.generation_id != NO_GENERATION {
        return Some(s.subscription.generation_id);
    }
    match &s.subscription.user_data {
        None => None,
        Some(b) if b.len() >= 4 => Some(i32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        Some(_) => Some(DEFAULT_GENERATION),
    }
}

/// The owned partitions that count (see the module documentation), sorted per member, and the
/// partitions claimed by more than one member of the latest generation.
fn valid_owned(
    ppt: &BTreeMap<String, i32>,
    subs: &BTreeMap<String, MemberSubscription>,
) -> (BTreeMap<String, Vec<TopicPartition>>, BTreeSet<TopicPartition>) {
    let max_generation = subs
        .values()
        .filter_map(member_generation)
        .max()
        .unwrap_or(DEFAULT_GENERATION)
        .max(DEFAULT_GENERATION);
    let mut owned: BTreeMap<String, Vec<TopicPartition>> = BTreeMap::new();
    let mut claims: HashMap<TopicPartition, usize> = HashMap::new();
    for (m, s) in subs {
        let current = match member_generation(s) {
            Some(g) => g == max_generation,
            None => max_generation == DEFAULT_GENERATION,
        };
        let mut parts: Vec<TopicPartition> = if current {
            s.subscription
                .owned_partitions
                .iter()
                .filter(|tp| {
                    s.subscribes(&tp.topic)
                        && ppt.get(&tp.topic).is_some_and(|n| (0..*n).contains(&tp.partition))
                })
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        parts.sort();
        parts.dedup();
        for tp in &parts {
            *claims.entry(tp.clone()).or_default() += 1;
        }
        owned.insert(m.clone(), parts);
    }
    let multiply: BTreeSet<TopicPartition> =
        claims.into_iter().filter(|(_, n)| *n > 1).map(|(tp, _)| tp).collect();
    if !multiply.is_empty() {
        log::error!(
            "partitions {multiply:?} are claimed by several members of the same generation; none keeps them"
        );
        for parts in owned.values_mut() {
            parts.retain(|tp| !multiply.contains(tp));
        }
    }
    (owned, multiply)
}

fn all_subscriptions_equal(subs: &BTreeMap<String, MemberSubscription>) -> bool {
    let mut sets = subs.values().map(|s| s.subscription.topics.iter().collect::<BTreeSet<_>>());
    match sets.next() {
        None => true,
        Some(first) => sets.all(|s| s == first),
    }
}

/// The sticky assignment before the cooperative adjustment, and the partitions changing owner
/// when the constrained algorithm tracked them (`None`: compute them from the subscriptions).
fn sticky_assign(
    ppt: &BTreeMap<String, i32>,
    subs: &BTreeMap<String, MemberSubscription>,
) -> (GroupAssignment, Option<BTreeMap<TopicPartition, String>>) {
    if subs.is_empty() {
        return (GroupAssignment::new(), Some(BTreeMap::new()));
    }
    let (owned, multiply) = valid_owned(ppt, subs);
    if all_subscriptions_equal(subs) {
        let (a, t) = constrained_assign(ppt, subs, owned, &multiply);
        (a, Some(t))
    } else {
        (general_assign(ppt, subs, owned), None)
    }
}

fn subscribed_partitions(
    ppt: &BTreeMap<String, i32>,
    subs: &BTreeMap<String, MemberSubscription>,
) -> Vec<TopicPartition> {
    ppt.iter()
        .filter(|(t, _)| subs.values().any(|s| s.subscribes(t)))
        .flat_map(|(t, n)| (0..(*n).max(0)).map(move |p| TopicPartition::new(t.clone(), p)))
        .collect()
}

/// Kafka's `constrainedAssign` (all members subscribe to the same topics).
fn constrained_assign(
    ppt: &BTreeMap<String, i32>,
    subs: &BTreeMap<String, MemberSubscription>,
    owned: BTreeMap<String, Vec<TopicPartition>>,
    multiply: &BTreeSet<TopicPartition>,
) -> (GroupAssignment, BTreeMap<TopicPartition, String>) {
    let all = subscribed_partitions(ppt, subs);
    let n = subs.len();
    let min_quota = all.len() / n;
    let max_quota = all.len().div_ceil(n);
    // How many members end with max_quota partitions.
    let expected_over = all.len() % n;
    let mut over = 0usize;

    let mut assignment = empty_assignment(subs);
    let mut assigned: BTreeSet<TopicPartition> = BTreeSet::new();
    let mut revoked: BTreeSet<TopicPartition> = BTreeSet::new();
    let mut under_min: VecDeque<String> = VecDeque::new();
    let mut at_min: VecDeque<String> = VecDeque::new();

    // Keep owned partitions up to the member's quota, revoking the rest.
    for (m, parts) in owned {
        let keep = if parts.len() < min_quota {
            under_min.push_back(m.clone());
            parts.len()
        } else if parts.len() >= max_quota && over < expected_over {
            over += 1;
            if over == expected_over {
                at_min.clear();
            }
            max_quota
        } else {
            if over < expected_over {
                at_min.push_back(m.clone());
            }
            min_quota
        };
        let mine = assignment.get_mut(&m).expect("every member has an entry");
        for (i, tp) in parts.into_iter().enumerate() {
            if i < keep {
                assigned.insert(tp.clone());
                mine.push(tp);
            } else {
                revoked.insert(tp);
            }
        }
    }

    // Deal the rest: round-robin to members under the minimum, then one each to members at the
    // minimum until enough members are at the maximum.
    let mut transferring = BTreeMap::new();
    for tp in all.into_iter().filter(|tp| !assigned.contains(tp)) {
        let (m, from_under) = match under_min.pop_front() {
            Some(m) => (m, true),
            None => match at_min.pop_front() {
                Some(m) => (m, false),
                None => {
                    // Unreachable by the quota arithmetic; stay correct anyway.
                    log::error!("sticky assignment ran out of members with room for {tp}");
                    let m = assignment
                        .iter()
                        .min_by_key(|(id, p)| (p.len(), (*id).clone()))
                        .map(|(id, _)| id.clone());
                    (m.expect("at least one member"), false)
                }
            },
        };
        if revoked.contains(&tp) || multiply.contains(&tp) {
            transferring.insert(tp.clone(), m.clone());
        }
        let count = {
            let mine = assignment.get_mut(&m).expect("every member has an entry");
            mine.push(tp);
            mine.len()
        };
        if from_under {
            if count < min_quota {
                under_min.push_back(m);
            } else if over < expected_over {
                at_min.push_back(m);
            }
        } else if count == max_quota {
            over += 1;
            if over == expected_over {
                at_min.clear();
            }
        }
    }
    for parts in assignment.values_mut() {
        parts.sort();
    }
    (assignment, transferring)
}

/// The general case (differing subscriptions): keep, fill, then balance.
fn general_assign(
    ppt: &BTreeMap<String, i32>,
    subs: &BTreeMap<String, MemberSubscription>,
    owned: BTreeMap<String, Vec<TopicPartition>>,
) -> GroupAssignment {
    let eligible = |tp: &TopicPartition| -> Vec<&String> {
        subs.iter().filter(|(_, s)| s.subscribes(&tp.topic)).map(|(m, _)| m).collect()
    };
    let mut assignment = empty_assignment(subs);
    let mut owner: HashMap<TopicPartition, String> = HashMap::new();
    for (m, parts) in &owned {
        for tp in parts {
            owner.insert(tp.clone(), m.clone());
        }
        assignment.insert(m.clone(), parts.clone());
    }
    // Unowned partitions, the most constrained first.
    let mut unassigned: Vec<(usize, TopicPartition)> = subscribed_partitions(ppt, subs)
        .into_iter()
        .filter(|tp| !owner.contains_key(tp))
        .map(|tp| (eligible(&tp).len(), tp))
        .collect();
    unassigned.sort();
    for (_, tp) in unassigned {
        let target = eligible(&tp)
            .into_iter()
            .min_by_key(|m| (assignment[*m].len(), (*m).clone()))
            .expect("a subscribed partition has a subscriber")
            .clone();
        assignment.get_mut(&target).expect("every member has an entry").push(tp);
    }
    // Balance: move from a member to an eligible one with at least two fewer, partitions the
    // member did not own first. Each move lowers the sum of squared counts, so this ends.
    loop {
        let mut order: Vec<(&String, usize)> = assignment.iter().map(|(m, p)| (m, p.len())).collect();
        order.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let mut chosen: Option<(String, TopicPartition, String)> = None;
        'search: for (heavy, count) in order {
            let mut candidates = assignment[heavy].clone();
            candidates.sort_by_key(|tp| (owner.get(tp) == Some(heavy), tp.clone()));
            for tp in candidates {
                let light = eligible(&tp)
                    .into_iter()
                    .filter(|m| assignment[*m].len() + 2 <= count)
                    .min_by_key(|m| (assignment[*m].len(), (*m).clone()));
                if let Some(light) = light {
                    chosen = Some((heavy.clone(), tp, light.clone()));
                    break 'search;
                }
            }
        }
        let Some((heavy, tp, light)) = chosen else { break };
        assignment.get_mut(&heavy).expect("member").retain(|p| *p != tp);
        assignment.get_mut(&light).expect("member").push(tp);
    }
    for parts in assignment.values_mut() {
        parts.sort();
    }
    assignment
}

/// Kafka's `computePartitionsTransferringOwnership`: partitions newly assigned to a member that
/// another member reports owning (and loses in this assignment).
fn partitions_transferring_ownership(
    subs: &BTreeMap<String, MemberSubscription>,
    assignment: &GroupAssignment,
) -> BTreeMap<TopicPartition, String> {
    let mut added: BTreeMap<TopicPartition, String> = BTreeMap::new();
    let mut revoked: BTreeSet<TopicPartition> = BTreeSet::new();
    for (m, parts) in assignment {
        let owned: BTreeSet<&TopicPartition> = subs[m].subscription.owned_partitions.iter().collect();
        let assigned: BTreeSet<&TopicPartition> = parts.iter().collect();
        for tp in parts {
            if !owned.contains(tp) {
                added.insert(tp.clone(), m.clone());
            }
        }
        for tp in owned {
            if !assigned.contains(tp) {
                revoked.insert(tp.clone());
            }
        }
    }
    added.retain(|tp, _| revoked.contains(tp));
    added
}

#[cfg(test)]
mod tests {
    //! Cases from Kafka's `AbstractStickyAssignorTest` / `CooperativeStickyAssignorTest`, and
    //! property tests of completeness, disjointness, balance and stickiness.
    use super::*;
    use crate::group::assignor::test_util::*;
    use proptest::prelude::*;

    type Subs = BTreeMap<String, MemberSubscription>;

    fn member(topics: &[&str], owned: &[TopicPartition], generation: i32) -> MemberSubscription {
        MemberSubscription::new(topics.iter().copied()).with_owned(owned.to_vec(), generation)
    }

    /// Runs cooperative rebalances as members would — each round's result becomes the owned
    /// partitions, and another round follows only if some member had to revoke a partition —
    /// for at most `rounds`; returns every round's assignment.
    fn rebalance_until_stable(
        ppt: &BTreeMap<String, i32>,
        subs: &mut Subs,
        rounds: usize,
    ) -> Vec<GroupAssignment> {
        let mut history = Vec::new();
        let mut generation = subs.values().map(|s| s.subscription.generation_id).max().unwrap_or(0).max(0);
        for _ in 0..rounds {
            let a = CooperativeStickyAssignor.assign(ppt, subs);
            check_valid(ppt, subs, &a);
            // No partition goes to a member while another member of the current generation
            // still owns it.
            for (m, parts) in &a {
                for tp in parts {
                    for (o, s) in subs.iter() {
                        let owns = s.subscription.generation_id == generation
                            && s.subscription.owned_partitions.contains(tp);
                        assert!(o == m || !owns, "{tp} assigned to {m} while {o} still owns it");
                    }
                }
            }
            let revoked =
                subs.iter().any(|(m, s)| s.subscription.owned_partitions.iter().any(|p| !a[m].contains(p)));
            generation += 1;
            for (m, s) in subs.iter_mut() {
                s.subscription.owned_partitions = a[m].clone();
                s.subscription.generation_id = generation;
            }
            history.push(a);
            if !revoked {
                break;
            }
        }
        history
    }

    #[test]
    fn one_consumer_cases() {
        let s: Subs = [("c".to_string(), member(&[], &[], -1))].into();
        assert_eq!(CooperativeStickyAssignor.assign(&topics(&[]), &s)["c"], vec![]);
        let s: Subs = [("c".to_string(), member(&["t"], &[], -1))].into();
        assert_eq!(CooperativeStickyAssignor.assign(&topics(&[]), &s)["c"], vec![]);
        assert_eq!(
            CooperativeStickyAssignor.assign(&topics(&[("t", 3), ("other", 3)]), &s)["c"],
            vec![tp("t", 0), tp("t", 1), tp("t", 2)]
        );
    }

    #[test]
    fn two_consumers_one_topic_two_partitions() {
        let s: Subs =
            [("c1".to_string(), member(&["t"], &[], -1)), ("c2".to_string(), member(&["t"], &[], -1))].into();
        let a = CooperativeStickyAssignor.assign(&topics(&[("t", 2)]), &s);
        assert_eq!(a["c1"], vec![tp("t", 0)]);
        assert_eq!(a["c2"], vec![tp("t", 1)]);
    }

    #[test]
    fn add_consumer_revokes_first_then_assigns() {
        // testAddRemoveConsumerOneTopic with the cooperative protocol.
        let ppt = topics(&[("t", 3)]);
        let mut s: Subs = [("c1".to_string(), member(&["t"], &[], -1))].into();
        let a = CooperativeStickyAssignor.assign(&ppt, &s);
        assert_eq!(a["c1"], vec![tp("t", 0), tp("t", 1), tp("t", 2)]);
        s.insert("c1".into(), member(&["t"], &a["c1"], 1));
        s.insert("c2".into(), member(&["t"], &[], -1));
        let b = CooperativeStickyAssignor.assign(&ppt, &s);
        assert_eq!(b["c1"], vec![tp("t", 0), tp("t", 1)], "c1 keeps two and gives one up");
        assert_eq!(b["c2"], vec![], "the partition c1 gives up is not assigned in the same round");
        // c1 revoked t-2 and rejoins; the follow-up rebalance assigns it.
        s.insert("c1".into(), member(&["t"], &b["c1"], 2));
        s.insert("c2".into(), member(&["t"], &b["c2"], 2));
        let c = CooperativeStickyAssignor.assign(&ppt, &s);
        assert_eq!(c["c1"], vec![tp("t", 0), tp("t", 1)]);
        assert_eq!(c["c2"], vec![tp("t", 2)]);
        // c1 leaves: c2 keeps its partition and gets c1's at once (nobody else owns them).
        s.remove("c1");
        s.insert("c2".into(), member(&["t"], &c["c2"], 3));
        let d = CooperativeStickyAssignor.assign(&ppt, &s);
        assert_eq!(d["c2"], vec![tp("t", 0), tp("t", 1), tp("t", 2)]);
    }

    #[test]
    fn reassignment_after_one_consumer_leaves_is_sticky() {
        let ppt = topics(&[("t1", 10), ("t2", 10)]);
        let mut s: Subs = (1..=4).map(|i| (format!("c{i}"), member(&["t1", "t2"], &[], -1))).collect();
        let first = rebalance_until_stable(&ppt, &mut s, 4);
        let before = first.last().unwrap().clone();
        s.remove("c2");
        let after = rebalance_until_stable(&ppt, &mut s, 4);
        let last = after.last().unwrap();
        for m in ["c1", "c3", "c4"] {
            for p in &before[m] {
                assert!(last[m].contains(p), "{m} lost {p}");
            }
        }
        assert_eq!(check_valid(&ppt, &s, last), all_subscribed(&ppt, &s));
        check_balanced(&s, last);
        assert_eq!(after.len(), 1, "nothing was revoked, so one rebalance suffices");
    }

    #[test]
    fn stale_generation_claims_are_ignored_and_same_generation_conflicts_go_to_nobody() {
        let ppt = topics(&[("t", 3)]);
        // c2 claims t-0 from generation 1; c1 owns it in generation 2: c1's claim counts.
        let s: Subs = [
            ("c1".to_string(), member(&["t"], &[tp("t", 0), tp("t", 1)], 2)),
            ("c2".to_string(), member(&["t"], &[tp("t", 0), tp("t", 2)], 1)),
        ]
        .into();
        let a = CooperativeStickyAssignor.assign(&ppt, &s);
        assert_eq!(a["c1"], vec![tp("t", 0), tp("t", 1)]);
        assert_eq!(a["c2"], vec![tp("t", 2)]);
        // Both claim t-0 in generation 2: neither gets it this round.
        let s: Subs = [
            ("c1".to_string(), member(&["t"], &[tp("t", 0), tp("t", 1)], 2)),
            ("c2".to_string(), member(&["t"], &[tp("t", 0), tp("t", 2)], 2)),
        ]
        .into();
        let a = CooperativeStickyAssignor.assign(&ppt, &s);
        assert!(!a["c1"].contains(&tp("t", 0)) && !a["c2"].contains(&tp("t", 0)));
        assert!(a["c1"].contains(&tp("t", 1)) && a["c2"].contains(&tp("t", 2)));
    }

    #[test]
    fn generation_from_user_data_of_old_clients() {
        let mut old = member(&["t"], &[tp("t", 0)], NO_GENERATION);
        old.subscription.user_data = CooperativeStickyAssignor.subscription_user_data(&[], 5);
        assert_eq!(member_generation(&old), Some(5));
        old.subscription.user_data = Some(vec![1]);
        assert_eq!(member_generation(&old), Some(DEFAULT_GENERATION));
        old.subscription.user_data = None;
        assert_eq!(member_generation(&old), None);
    }

    #[test]
    fn general_case_is_balanced_within_subscriptions() {
        // Kafka's testMultipleConsumersMixedTopicSubscriptions shape.
        let ppt = topics(&[("t1", 3), ("t2", 2)]);
        let mut s: Subs = [
            ("c1".to_string(), member(&["t1"], &[], -1)),
            ("c2".to_string(), member(&["t1", "t2"], &[], -1)),
            ("c3".to_string(), member(&["t1"], &[], -1)),
        ]
        .into();
        let rounds = rebalance_until_stable(&ppt, &mut s, 4);
        assert_eq!(rounds.len(), 1);
        let a = rounds.last().unwrap();
        assert_eq!(a["c1"], vec![tp("t1", 0), tp("t1", 2)]);
        assert_eq!(a["c2"], vec![tp("t2", 0), tp("t2", 1)]);
        assert_eq!(a["c3"], vec![tp("t1", 1)]);
        check_balanced(&s, a);
    }

    #[test]
    fn more_consumers_than_partitions() {
        let ppt = topics(&[("t", 2)]);
        let mut s: Subs = (0..5).map(|i| (format!("c{i}"), member(&["t"], &[], -1))).collect();
        let rounds = rebalance_until_stable(&ppt, &mut s, 3);
        let a = rounds.last().unwrap();
        assert_eq!(a.values().filter(|p| p.len() == 1).count(), 2);
        assert_eq!(check_valid(&ppt, &s, a), all_subscribed(&ppt, &s));
    }

    fn arb_group() -> impl Strategy<Value = (BTreeMap<String, i32>, Subs, bool)> {
        let ppt = proptest::collection::btree_map("[a-d]", 0..12i32, 1..4);
        (ppt, 1..9usize, any::<bool>(), any::<u64>()).prop_map(|(ppt, n, same, seed)| {
            let names: Vec<String> = ppt.keys().cloned().collect();
            let subs: Subs = (0..n)
                .map(|i| {
                    let topics: Vec<String> = if same {
                        names.clone()
                    } else {
                        let picked: Vec<String> = names
                            .iter()
                            .enumerate()
                            .filter(|(j, _)| (seed >> ((i * 4 + j) % 64)) & 1 == 1)
                            .map(|(_, t)| t.clone())
                            .collect();
                        if picked.is_empty() { vec![names[i % names.len()].clone()] } else { picked }
                    };
                    (format!("m{i:02}"), MemberSubscription::new(topics))
                })
                .collect();
            (ppt, subs, same)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// From any start, cooperative rebalances converge in two rounds to an assignment that
        /// is complete, disjoint and balanced (within one partition for identical
        /// subscriptions); removing a member then keeps every survivor's partitions.
        #[test]
        fn prop_complete_disjoint_balanced_sticky((ppt, mut subs, same) in arb_group(), leave in any::<prop::sample::Index>()) {
            let rounds = rebalance_until_stable(&ppt, &mut subs, 3);
            prop_assert!(rounds.len() <= 3);
            let a = rounds.last().unwrap().clone();
            prop_assert_eq!(check_valid(&ppt, &subs, &a), all_subscribed(&ppt, &subs));
            check_balanced(&subs, &a);
            if same {
                let (min, max) = (a.values().map(Vec::len).min().unwrap(), a.values().map(Vec::len).max().unwrap());
                prop_assert!(max - min <= 1, "counts {min}..{max}");
            }
            if subs.len() > 1 {
                let gone = subs.keys().nth(leave.index(subs.len())).unwrap().clone();
                subs.remove(&gone);
                let after = rebalance_until_stable(&ppt, &mut subs, 3);
                let b = after.last().unwrap();
                prop_assert_eq!(check_valid(&ppt, &subs, b), all_subscribed(&ppt, &subs));
                check_balanced(&subs, b);
                if same {
                    for m in subs.keys() {
                        for p in &a[m] {
                            prop_assert!(b[m].contains(p), "{} lost {} after {} left", m, p, gone);
                        }
                    }
                }
            }
        }
    }
}
