//! Kafka's embedded consumer protocol: the bytes a consumer puts in JoinGroup's protocol metadata
//! (`ConsumerProtocolSubscription`) and the bytes the leader hands out through SyncGroup
//! (`ConsumerProtocolAssignment`).
//!
//! Both start with an i16 version; neither is flexible (no tagged fields, classic lengths).
//!
//! `Subscription`:
//! - v0: `topics [STRING]`, `userData NULLABLE_BYTES`;
//! - v1: + `ownedPartitions [topic STRING, partitions [INT32]]` (KIP-429, cooperative
//!   rebalancing);
//! - v2: + `generationId INT32` (default −1; the generation the owned partitions belong to);
//! - v3: + `rackId NULLABLE_STRING` (KIP-881).
//!
//! `Assignment` (v0–v3 share one layout): `assignedPartitions [topic STRING, partitions [INT32]]`,
//! `userData NULLABLE_BYTES`.
//!
//! Decoding follows Kafka's `ConsumerProtocol`: a version above the highest known one is read
//! with the highest known layout (new versions may only append fields) and bytes after the last
//! known field are ignored; a negative version is an error. Partitions are grouped by topic when
//! encoding, in order of first appearance, as Kafka's generated `TopicPartitionCollection` does.

use crate::log::TopicPartition;
use crate::txn::log_format::RecordFormatError;
use crate::wire::{Reader, Writer};

/// The JoinGroup protocol type of consumers.
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";
/// Highest subscription / assignment version this codec knows.
pub const CONSUMER_PROTOCOL_MAX_VERSION: i16 = 3;
/// `generationId` of a subscription that has none (v0/v1, or a member that never joined).
pub const NO_GENERATION: i32 = -1;

const SUBSCRIPTION: &str = "ConsumerProtocolSubscription";
const ASSIGNMENT: &str = "ConsumerProtocolAssignment";

/// A consumer's subscription as sent in JoinGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Subscribed topics.
    pub topics: Vec<String>,
    /// Assignor-specific bytes (`None` for null).
    pub user_data: Option<Vec<u8>>,
    /// Partitions the member owns now (v1+; the cooperative protocol keeps them while
    /// rejoining).
    pub owned_partitions: Vec<TopicPartition>,
    /// Generation the owned partitions were assigned in (v2+), [`NO_GENERATION`] if unknown.
    pub generation_id: i32,
    /// The consumer's rack (v3+).
    pub rack_id: Option<String>,
}

impl Default for Subscription {
    fn default() -> Self {
        Subscription {
            topics: Vec::new(),
            user_data: None,
            owned_partitions: Vec::new(),
            generation_id: NO_GENERATION,
            rack_id: None,
        }
    }
}

/// A member's assignment as returned by SyncGroup.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assignment {
    /// Assigned partitions.
    pub partitions: Vec<TopicPartition>,
    /// Assignor-specific bytes (`None` for null).
    pub user_data: Option<Vec<u8>>,
}

fn check_version(record: &'static str, version: i16) -> Result<i16, RecordFormatError> {
    if version < 0 {
        return Err(RecordFormatError::UnsupportedVersion { record, version });
    }
    Ok(version.min(CONSUMER_PROTOCOL_MAX_VERSION))
}

/// Writes `[topic STRING, partitions [INT32]]`, grouping by topic in order of first appearance.
fn write_topic_partitions(w: &mut Writer, partitions: &[TopicPartition]) -> Result<(), RecordFormatError> {
    let mut grouped: Vec<(&str, Vec<i32>)> = Vec::new();
    for tp in partitions {
        match grouped.iter_mut().find(|(t, _)| *t == tp.topic) {
            Some((_, ps)) => ps.push(tp.partition),
            None => grouped.push((&tp.topic, vec![tp.partition])),
        }
    }
    w.array_len(Some(grouped.len()), false)?;
    for (topic, ps) in grouped {
        w.string(topic, false)?;
        w.array_len(Some(ps.len()), false)?;
        for p in ps {
            w.i32(p);
        }
    }
    Ok(())
}

fn read_topic_partitions(r: &mut Reader<'_>, field: &str) -> Result<Vec<TopicPartition>, RecordFormatError> {
    // A topic entry is at least a 2-byte string length and a 4-byte array length.
    let n = r.array_len(false, 6, field)?.ok_or_else(|| r.malformed(format!("{field} is null")))?;
    let mut out = Vec::new();
    for _ in 0..n {
        let topic = r.string(false, "topic")?;
        let m = r.array_len(false, 4, "partitions")?.ok_or_else(|| r.malformed("partitions is null"))?;
        for _ in 0..m {
            out.push(TopicPartition::new(topic.clone(), r.i32()?));
        }
    }
    Ok(out)
}

impl Subscription {
    /// A subscription to `topics` with nothing else.
    pub fn new(topics: Vec<String>) -> Self {
        Subscription { topics, ..Default::default() }
    }

    /// Encodes at `version` (0–3; higher versions are written as 3, as Kafka does), dropping the
    /// fields the version does not have.
    pub fn encode(&self, version: i16) -> Result<Vec<u8>, RecordFormatError> {
        let version = check_version(SUBSCRIPTION, version)?;
        let mut w = Writer::new(SUBSCRIPTION);
        w.i16(version);
        w.array_len(Some(self.topics.len()), false)?;
        for t in &self.topics {
            w.string(t, false)?;
        }
        w.nullable_bytes(self.user_data.as_deref(), false)?;
        if version >= 1 {
            write_topic_partitions(&mut w, &self.owned_partitions)?;
        }
        if version >= 2 {
            w.i32(self.generation_id);
        }
        if version >= 3 {
            w.nullable_string(self.rack_id.as_deref(), false)?;
        }
        Ok(w.finish())
    }

    /// Decodes subscription bytes; returns the version they carried and the subscription.
    pub fn decode(bytes: &[u8]) -> Result<(i16, Subscription), RecordFormatError> {
        let mut r = Reader::new(bytes, SUBSCRIPTION);
        let carried = r.i16()?;
        let version = check_version(SUBSCRIPTION, carried)?;
        let n = r.array_len(false, 2, "topics")?.ok_or_else(|| r.malformed("topics is null"))?;
        let mut topics = Vec::new();
        for _ in 0..n {
            topics.push(r.string(false, "topic")?);
        }
        let user_data = r.nullable_bytes(false)?;
        let owned_partitions =
            if version >= 1 { read_topic_partitions(&mut r, "ownedPartitions")? } else { Vec::new() };
        let generation_id = if version >= 2 { r.i32()? } else { NO_GENERATION };
        let rack_id = if version >= 3 { r.nullable_string(false)? } else { None };
        // Trailing bytes belong to fields of a newer version: ignored, as Kafka does.
        Ok((carried, Subscription { topics, user_data, owned_partitions, generation_id, rack_id }))
    }
}

impl Assignment {
    /// An assignment of `partitions` without user data.
    pub fn new(partitions: Vec<TopicPartition>) -> Self {
        Assignment { partitions, user_data: None }
    }

    /// Encodes at `version` (0–3 share one layout; the version is only carried).
    pub fn encode(&self, version: i16) -> Result<Vec<u8>, RecordFormatError> {
        let version = check_version(ASSIGNMENT, version)?;
        let mut w = Writer::new(ASSIGNMENT);
        w.i16(version);
        write_topic_partitions(&mut w, &self.partitions)?;
        w.nullable_bytes(self.user_data.as_deref(), false)?;
        Ok(w.finish())
    }

    /// Decodes assignment bytes. Empty bytes (what the coordinator hands a member the leader
    /// gave nothing, or every member after a failed SyncGroup) are an empty assignment, as in
    /// Kafka's `ConsumerCoordinator`.
    pub fn decode(bytes: &[u8]) -> Result<(i16, Assignment), RecordFormatError> {
        if bytes.is_empty() {
            return Ok((0, Assignment::default()));
        }
        let mut r = Reader::new(bytes, ASSIGNMENT);
        let carried = r.i16()?;
        check_version(ASSIGNMENT, carried)?;
        let partitions = read_topic_partitions(&mut r, "assignedPartitions")?;
        let user_data = r.nullable_bytes(false)?;
        Ok((carried, Assignment { partitions, user_data }))
    }
}

/// Topics named in consumer-protocol metadata, read with the v0 prefix every version shares
/// (Kafka's `GroupMetadata.computeSubscribedTopics`); `None` if the bytes are not a
/// subscription.
pub fn subscribed_topics(metadata: &[u8]) -> Option<Vec<String>> {
    Subscription::decode(metadata).ok().map(|(_, s)| s.topics)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tp(t: &str, p: i32) -> TopicPartition {
        TopicPartition::new(t, p)
    }

    #[test]
    fn subscription_v0_bytes() {
        let s = Subscription { user_data: Some(vec![9]), ..Subscription::new(vec!["ab".into()]) };
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0x00, 0x00,                         // version 0
            0x00, 0x00, 0x00, 0x01,             // 1 topic
            0x00, 0x02, b'a', b'b',             //   "ab"
            0x00, 0x00, 0x00, 0x01, 0x09,       // userData [9]
        ];
        assert_eq!(s.encode(0).unwrap(), expected);
        assert_eq!(Subscription::decode(expected).unwrap(), (0, s));
    }

    #[test]
    fn subscription_v3_bytes_group_owned_partitions_by_topic() {
        let s = Subscription {
            topics: vec!["t".into(), "u".into()],
            user_data: None,
            owned_partitions: vec![tp("t", 0), tp("u", 2), tp("t", 1)],
            generation_id: 7,
            rack_id: Some("r1".into()),
        };
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0x00, 0x03,                         // version 3
            0x00, 0x00, 0x00, 0x02,             // 2 topics
            0x00, 0x01, b't',
            0x00, 0x01, b'u',
            0xff, 0xff, 0xff, 0xff,             // userData null
            0x00, 0x00, 0x00, 0x02,             // ownedPartitions: 2 topics
            0x00, 0x01, b't',
            0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
            0x00, 0x01, b'u',
            0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
            0x00, 0x00, 0x00, 0x07,             // generationId 7
            0x00, 0x02, b'r', b'1',             // rackId "r1"
        ];
        assert_eq!(s.encode(3).unwrap(), expected);
        let (v, back) = Subscription::decode(expected).unwrap();
        assert_eq!(v, 3);
        assert_eq!(back.owned_partitions, vec![tp("t", 0), tp("t", 1), tp("u", 2)]);
        assert_eq!(back.generation_id, 7);
        assert_eq!(back.rack_id.as_deref(), Some("r1"));
    }

    #[test]
    fn older_versions_drop_newer_fields() {
        let s = Subscription {
            topics: vec!["t".into()],
            user_data: Some(vec![1, 2]),
            owned_partitions: vec![tp("t", 3)],
            generation_id: 4,
            rack_id: Some("r".into()),
        };
        for version in 0..=3 {
            let (_, back) = Subscription::decode(&s.encode(version).unwrap()).unwrap();
            assert_eq!(back.topics, s.topics);
            assert_eq!(back.user_data, s.user_data);
            assert_eq!(back.owned_partitions.len(), if version >= 1 { 1 } else { 0 });
            assert_eq!(back.generation_id, if version >= 2 { 4 } else { NO_GENERATION });
            assert_eq!(back.rack_id.is_some(), version >= 3);
        }
    }

    #[test]
    fn newer_versions_read_as_latest_and_trailing_bytes_are_ignored() {
        let s = Subscription { generation_id: 3, ..Subscription::new(vec!["t".into()]) };
        let mut bytes = s.encode(3).unwrap();
        bytes[1] = 9; // version 9
        bytes.extend_from_slice(&[0xAB, 0xCD]); // a future field
        let (v, back) = Subscription::decode(&bytes).unwrap();
        assert_eq!(v, 9);
        assert_eq!(back, s);
        assert!(matches!(
            Subscription::decode(&[0xff, 0xff]),
            Err(RecordFormatError::UnsupportedVersion { version: -1, .. })
        ));
        assert!(s.encode(-1).is_err());
    }

    #[test]
    fn assignment_bytes() {
        let a = Assignment { partitions: vec![tp("t", 1), tp("t", 0)], user_data: None };
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0x00, 0x01,                         // version 1
            0x00, 0x00, 0x00, 0x01,             // 1 topic
            0x00, 0x01, b't',
            0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
            0xff, 0xff, 0xff, 0xff,             // userData null
        ];
        assert_eq!(a.encode(1).unwrap(), expected);
        assert_eq!(Assignment::decode(expected).unwrap(), (1, a));
        assert_eq!(Assignment::decode(&[]).unwrap(), (0, Assignment::default()));
    }

    #[test]
    fn truncated_and_hostile_bytes_are_errors() {
        let s = Subscription {
            owned_partitions: vec![tp("t", 0)],
            ..Subscription::new(vec!["t".into(), "u".into()])
        };
        let bytes = s.encode(2).unwrap();
        for len in 1..bytes.len() {
            assert!(Subscription::decode(&bytes[..len]).is_err(), "prefix {len}");
        }
        // 2^31-1 topics in 4 bytes.
        assert!(Subscription::decode(&[0, 0, 0x7f, 0xff, 0xff, 0xff]).is_err());
        // Null topics.
        assert!(Subscription::decode(&[0, 0, 0xff, 0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn matches_the_kafka_protocol_crate() {
        use kafka_protocol::messages::TopicName;
        use kafka_protocol::messages::consumer_protocol_assignment::{
            ConsumerProtocolAssignment, TopicPartition as KAssigned,
        };
        use kafka_protocol::messages::consumer_protocol_subscription::ConsumerProtocolSubscription;
        use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
        let s = Subscription {
            topics: vec!["orders".into(), "payments".into()],
            user_data: Some(vec![0, 0, 0, 5]),
            owned_partitions: vec![tp("orders", 0), tp("orders", 3)],
            generation_id: 5,
            rack_id: Some("rack-a".into()),
        };
        for version in 0..=3i16 {
            // Ours → theirs (the version prefix is ours to read).
            let bytes = s.encode(version).unwrap();
            let mut buf: &[u8] = &bytes[2..];
            let theirs = ConsumerProtocolSubscription::decode(&mut buf, version).unwrap();
            assert!(buf.is_empty());
            let topics: Vec<String> = theirs.topics.iter().map(|t| t.to_string()).collect();
            assert_eq!(topics, s.topics);
            assert_eq!(theirs.user_data.as_deref(), Some(&[0u8, 0, 0, 5][..]));
            if version >= 1 {
                assert_eq!(theirs.owned_partitions.len(), 1);
                assert_eq!(theirs.owned_partitions[0].topic.0.to_string(), "orders");
                assert_eq!(theirs.owned_partitions[0].partitions, vec![0, 3]);
            }
            if version >= 2 {
                assert_eq!(theirs.generation_id, 5);
            }
            if version >= 3 {
                assert_eq!(theirs.rack_id.as_ref().map(|r| r.to_string()).as_deref(), Some("rack-a"));
            }
            // Theirs → ours.
            let mut out = version.to_be_bytes().to_vec();
            theirs.encode(&mut out, version).unwrap();
            let (_, back) = Subscription::decode(&out).unwrap();
            assert_eq!(back.topics, s.topics);
            assert_eq!(back.owned_partitions.len(), if version >= 1 { 2 } else { 0 });
        }
        let a = Assignment { partitions: vec![tp("orders", 2), tp("payments", 0)], user_data: None };
        for version in 0..=3i16 {
            let bytes = a.encode(version).unwrap();
            let mut buf: &[u8] = &bytes[2..];
            let theirs = ConsumerProtocolAssignment::decode(&mut buf, version).unwrap();
            assert_eq!(theirs.assigned_partitions.len(), 2);
            assert_eq!(theirs.user_data, None);
            let mut out = version.to_be_bytes().to_vec();
            ConsumerProtocolAssignment::default()
                .with_assigned_partitions(vec![
                    KAssigned::default()
                        .with_topic(TopicName(StrBytes::from_static_str("t")))
                        .with_partitions(vec![4, 1]),
                ])
                .encode(&mut out, version)
                .unwrap();
            assert_eq!(Assignment::decode(&out).unwrap().1.partitions, vec![tp("t", 4), tp("t", 1)]);
        }
    }

    proptest! {
        #[test]
        fn prop_subscription_round_trips_at_v3(
            topics in proptest::collection::vec("[a-z]{1,8}", 0..5),
            user_data in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..16)),
            owned in proptest::collection::btree_set(("[a-c]", 0..8i32), 0..10),
            generation in any::<i32>(),
            rack in proptest::option::of("[a-z]{0,4}"),
        ) {
            // Owned partitions come back grouped by topic; generate them already grouped.
            let owned_partitions: Vec<TopicPartition> = owned.into_iter().map(|(t, p)| TopicPartition::new(t, p)).collect();
            let s = Subscription { topics, user_data, owned_partitions, generation_id: generation, rack_id: rack };
            prop_assert_eq!(Subscription::decode(&s.encode(3).unwrap()).unwrap(), (3, s));
        }

        #[test]
        fn prop_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Subscription::decode(&bytes);
            let _ = Assignment::decode(&bytes);
        }
    }
}
