//! `__consumer_offsets` records, byte-compatible with Kafka's group coordinator
//! (`OffsetCommitKey.json`, `OffsetCommitValue.json`, `GroupMetadataKey.json`,
//! `GroupMetadataValue.json`).
//!
//! # Keys
//! A key starts with an i16 version that is also the record kind:
//! - 0 and 1: an offset commit — `group STRING`, `topic STRING`, `partition i32` (the two
//!   versions have the same layout; Kafka writes 1);
//! - 2: group metadata — `group STRING`;
//! - anything else: other coordinator records (KIP-848 consumer groups, share groups, ...),
//!   reported as [`OffsetsKey::Unknown`] so a loader can skip them, as Kafka's does.
//!
//! # Values (a version i16, then the fields)
//! `OffsetCommitValue`:
//! - v0, v2: `offset i64`, `metadata STRING`, `commitTimestamp i64`;
//! - v1: v0 + `expireTimestamp i64` (written by Kafka only when an explicit retention was given);
//! - v3: `offset i64`, `leaderEpoch i32`, `metadata STRING`, `commitTimestamp i64` — what Kafka
//!   2.1+ writes;
//! - v4: v3, flexible (compact string, tagged fields).
//!
//! `GroupMetadataValue`: `protocolType STRING`, `generation i32`, `protocol NULLABLE_STRING`,
//! `leader NULLABLE_STRING`, `currentStateTimestamp i64` (v2+), `members` array of
//! `{memberId, groupInstanceId (v3+, nullable), clientId, clientHost, rebalanceTimeout i32 (v1+),
//! sessionTimeout i32, subscription BYTES, assignment BYTES}`; v4 is flexible. Kafka writes v3.
//!
//! Fields a version does not have are dropped when encoding (Kafka marks them ignorable) and
//! take their defaults when decoding. Deleting an offset or a group is a null value
//! (tombstone), handled by the caller. Decoding is strict in the same way as
//! [`crate::txn::log_format`]: bounds-checked, no allocation from unchecked lengths, UTF-8
//! strings, no trailing bytes; errors are [`RecordFormatError`].

use crate::txn::log_format::RecordFormatError;
use crate::wire::{Reader, Writer};

/// Key version Kafka writes for offset commits.
pub const OFFSET_COMMIT_KEY_VERSION: i16 = 1;
/// Key version of group metadata.
pub const GROUP_METADATA_KEY_VERSION: i16 = 2;
/// Highest `OffsetCommitValue` version.
pub const OFFSET_COMMIT_VALUE_MAX_VERSION: i16 = 4;
/// Highest `GroupMetadataValue` version.
pub const GROUP_METADATA_VALUE_MAX_VERSION: i16 = 4;
/// The `GroupMetadataValue` version Kafka writes.
pub const GROUP_METADATA_VALUE_DEFAULT_VERSION: i16 = 3;

const KEY: &str = "OffsetsKey";
const OFFSET_VALUE: &str = "OffsetCommitValue";
const GROUP_VALUE: &str = "GroupMetadataValue";

/// The key of a committed offset.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OffsetCommitKey {
    /// Group id.
    pub group: String,
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
}

/// A decoded `__consumer_offsets` key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OffsetsKey {
    /// Key versions 0 / 1: a committed offset.
    OffsetCommit(OffsetCommitKey),
    /// Key version 2: the metadata of a group.
    GroupMetadata {
        /// Group id.
        group: String,
    },
    /// Any other key version: another kind of coordinator record, skipped by this codec.
    Unknown(i16),
}

/// Encodes an offset commit key (version 1, as Kafka writes it).
pub fn encode_offset_commit_key(key: &OffsetCommitKey) -> Result<Vec<u8>, RecordFormatError> {
    let mut w = Writer::new(KEY);
    w.i16(OFFSET_COMMIT_KEY_VERSION);
    w.string(&key.group, false)?;
    w.string(&key.topic, false)?;
    w.i32(key.partition);
    Ok(w.finish())
}

/// Encodes a group metadata key (version 2).
pub fn encode_group_metadata_key(group: &str) -> Result<Vec<u8>, RecordFormatError> {
    let mut w = Writer::new(KEY);
    w.i16(GROUP_METADATA_KEY_VERSION);
    w.string(group, false)?;
    Ok(w.finish())
}

/// Decodes a `__consumer_offsets` key. Unknown versions are [`OffsetsKey::Unknown`], not errors;
/// the rest of such a key is not inspected.
pub fn decode_key(key: &[u8]) -> Result<OffsetsKey, RecordFormatError> {
    let mut r = Reader::new(key, KEY);
    let version = r.i16()?;
    let decoded = match version {
        0 | 1 => {
            let group = r.string(false, "group")?;
            let topic = r.string(false, "topic")?;
            let partition = r.i32()?;
            OffsetsKey::OffsetCommit(OffsetCommitKey { group, topic, partition })
        }
        GROUP_METADATA_KEY_VERSION => OffsetsKey::GroupMetadata { group: r.string(false, "group")? },
        other => return Ok(OffsetsKey::Unknown(other)),
    };
    r.finish()?;
    Ok(decoded)
}

/// A committed offset (`OffsetCommitValue`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OffsetCommitValue {
    /// The committed offset.
    pub offset: i64,
    /// Leader epoch of the record at `offset − 1` (v3+), −1 if unknown.
    pub leader_epoch: i32,
    /// Client metadata (empty when the client sent none).
    pub metadata: String,
    /// When the commit was made.
    pub commit_timestamp: i64,
    /// Explicit expiry (v1 only), −1 if none.
    pub expire_timestamp: i64,
}

impl OffsetCommitValue {
    /// The version Kafka writes for this value: 1 when an explicit expiry is set (the only
    /// version that holds it), else 3.
    pub fn default_version(&self) -> i16 {
        if self.expire_timestamp != -1 { 1 } else { 3 }
    }

    /// Encodes at [`Self::default_version`].
    pub fn encode(&self) -> Result<Vec<u8>, RecordFormatError> {
        self.encode_version(self.default_version())
    }

    /// Encodes at `version` (0–4), dropping the fields it does not have.
    pub fn encode_version(&self, version: i16) -> Result<Vec<u8>, RecordFormatError> {
        if !(0..=OFFSET_COMMIT_VALUE_MAX_VERSION).contains(&version) {
            return Err(RecordFormatError::UnsupportedVersion { record: OFFSET_VALUE, version });
        }
        let flexible = version >= 4;
        let mut w = Writer::new(OFFSET_VALUE);
        w.i16(version);
        w.i64(self.offset);
        if version >= 3 {
            w.i32(self.leader_epoch);
        }
        w.string(&self.metadata, flexible)?;
        w.i64(self.commit_timestamp);
        if version == 1 {
            w.i64(self.expire_timestamp);
        }
        if flexible {
            w.tagged_fields(&[]);
        }
        Ok(w.finish())
    }

    /// Decodes a (non-null) value of any version 0–4.
    pub fn decode(value: &[u8]) -> Result<Self, RecordFormatError> {
        let mut r = Reader::new(value, OFFSET_VALUE);
        let version = r.i16()?;
        if !(0..=OFFSET_COMMIT_VALUE_MAX_VERSION).contains(&version) {
            return Err(RecordFormatError::UnsupportedVersion { record: OFFSET_VALUE, version });
        }
        let flexible = version >= 4;
        let offset = r.i64()?;
        let leader_epoch = if version >= 3 { r.i32()? } else { -1 };
        let metadata = r.string(flexible, "metadata")?;
        let commit_timestamp = r.i64()?;
        let expire_timestamp = if version == 1 { r.i64()? } else { -1 };
        if flexible {
            r.tagged_fields(|_, _| Ok(false))?;
        }
        r.finish()?;
        Ok(OffsetCommitValue { offset, leader_epoch, metadata, commit_timestamp, expire_timestamp })
    }
}

/// One member of a classic group (`MemberMetadata`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MemberMetadata {
    /// Member id.
    pub member_id: String,
    /// Static membership id (v3+), `None` for dynamic members.
    pub group_instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Rebalance timeout (v1+). Version 0 has none; decoding it uses the session timeout, as
    /// Kafka's loader does.
    pub rebalance_timeout: i32,
    /// Session timeout.
    pub session_timeout: i32,
    /// The member's subscription (protocol-specific bytes).
    pub subscription: Vec<u8>,
    /// The member's assignment (protocol-specific bytes).
    pub assignment: Vec<u8>,
}

/// The state of a classic group (`GroupMetadataValue`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupMetadataValue {
    /// Protocol type (`"consumer"`, ...; empty for a group used only to commit offsets).
    pub protocol_type: String,
    /// Generation id.
    pub generation: i32,
    /// Chosen protocol (assignor), `None` when the group is empty.
    pub protocol: Option<String>,
    /// Leader member id, `None` when the group is empty.
    pub leader: Option<String>,
    /// When the group last changed state (v2+), −1 if unknown.
    pub current_state_timestamp: i64,
    /// Members.
    pub members: Vec<MemberMetadata>,
}

impl GroupMetadataValue {
    /// Encodes at the version Kafka writes (3).
    pub fn encode(&self) -> Result<Vec<u8>, RecordFormatError> {
        self.encode_version(GROUP_METADATA_VALUE_DEFAULT_VERSION)
    }

    /// Encodes at `version` (0–4), dropping the fields it does not have.
    pub fn encode_version(&self, version: i16) -> Result<Vec<u8>, RecordFormatError> {
        if !(0..=GROUP_METADATA_VALUE_MAX_VERSION).contains(&version) {
            return Err(RecordFormatError::UnsupportedVersion { record: GROUP_VALUE, version });
        }
        let flexible = version >= 4;
        let mut w = Writer::new(GROUP_VALUE);
        w.i16(version);
        w.string(&self.protocol_type, flexible)?;
        w.i32(self.generation);
        w.nullable_string(self.protocol.as_deref(), flexible)?;
        w.nullable_string(self.leader.as_deref(), flexible)?;
        if version >= 2 {
            w.i64(self.current_state_timestamp);
        }
        w.array_len(Some(self.members.len()), flexible)?;
        for m in &self.members {
            w.string(&m.member_id, flexible)?;
            if version >= 3 {
                w.nullable_string(m.group_instance_id.as_deref(), flexible)?;
            }
            w.string(&m.client_id, flexible)?;
            w.string(&m.client_host, flexible)?;
            if version >= 1 {
                w.i32(m.rebalance_timeout);
            }
            w.i32(m.session_timeout);
            w.bytes(&m.subscription, flexible)?;
            w.bytes(&m.assignment, flexible)?;
            if flexible {
                w.tagged_fields(&[]);
            }
        }
        if flexible {
            w.tagged_fields(&[]);
        }
        Ok(w.finish())
    }

    /// Decodes a (non-null) value of any version 0–4.
    pub fn decode(value: &[u8]) -> Result<Self, RecordFormatError> {
        let mut r = Reader::new(value, GROUP_VALUE);
        let version = r.i16()?;
        if !(0..=GROUP_METADATA_VALUE_MAX_VERSION).contains(&version) {
            return Err(RecordFormatError::UnsupportedVersion { record: GROUP_VALUE, version });
        }
        let flexible = version >= 4;
        let protocol_type = r.string(flexible, "protocolType")?;
        let generation = r.i32()?;
        let protocol = r.nullable_string(flexible)?;
        let leader = r.nullable_string(flexible)?;
        let current_state_timestamp = if version >= 2 { r.i64()? } else { -1 };
        let n = r
            .array_len(flexible, min_member_size(version), "members")?
            .ok_or_else(|| r.malformed("non-nullable array members is null"))?;
        // n is bounded by the bytes present (array_len), but members are pushed as they are
        // read rather than pre-allocated.
        let mut members = Vec::new();
        for _ in 0..n {
            let member_id = r.string(flexible, "memberId")?;
            let group_instance_id = if version >= 3 { r.nullable_string(flexible)? } else { None };
            let client_id = r.string(flexible, "clientId")?;
            let client_host = r.string(flexible, "clientHost")?;
            let rebalance_timeout = if version >= 1 { Some(r.i32()?) } else { None };
            let session_timeout = r.i32()?;
            let subscription = r.bytes(flexible, "subscription")?;
            let assignment = r.bytes(flexible, "assignment")?;
            if flexible {
                r.tagged_fields(|_, _| Ok(false))?;
            }
            members.push(MemberMetadata {
                member_id,
                group_instance_id,
                client_id,
                client_host,
                rebalance_timeout: rebalance_timeout.unwrap_or(session_timeout),
                session_timeout,
                subscription,
                assignment,
            });
        }
        if flexible {
            r.tagged_fields(|_, _| Ok(false))?;
        }
        r.finish()?;
        Ok(GroupMetadataValue {
            protocol_type,
            generation,
            protocol,
            leader,
            current_state_timestamp,
            members,
        })
    }
}

/// The fewest bytes one member takes at `version` (empty strings and bytes).
fn min_member_size(version: i16) -> usize {
    match version {
        0 => 2 + 2 + 2 + 4 + 4 + 4,
        1 | 2 => 2 + 2 + 2 + 4 + 4 + 4 + 4,
        3 => 2 + 2 + 2 + 2 + 4 + 4 + 4 + 4,
        // Compact lengths of one byte, two i32 and the tagged-field count.
        _ => 1 + 1 + 1 + 1 + 4 + 4 + 1 + 1 + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn offset_commit_key_bytes() {
        let key = OffsetCommitKey { group: "g".into(), topic: "t".into(), partition: 3 };
        let bytes = encode_offset_commit_key(&key).unwrap();
        assert_eq!(bytes, [0x00, 0x01, 0x00, 0x01, b'g', 0x00, 0x01, b't', 0x00, 0x00, 0x00, 0x03]);
        assert_eq!(decode_key(&bytes).unwrap(), OffsetsKey::OffsetCommit(key.clone()));
        // Version 0 has the same layout.
        let mut v0 = bytes;
        v0[1] = 0;
        assert_eq!(decode_key(&v0).unwrap(), OffsetsKey::OffsetCommit(key));
    }

    #[test]
    fn group_metadata_key_bytes() {
        let bytes = encode_group_metadata_key("grp").unwrap();
        assert_eq!(bytes, [0x00, 0x02, 0x00, 0x03, b'g', b'r', b'p']);
        assert_eq!(decode_key(&bytes).unwrap(), OffsetsKey::GroupMetadata { group: "grp".into() });
    }

    #[test]
    fn other_key_versions_are_reported_not_rejected() {
        // KIP-848 consumer group metadata uses record type 3, and so on.
        assert_eq!(decode_key(&[0x00, 0x03, 0x00, 0x01, b'g']).unwrap(), OffsetsKey::Unknown(3));
        assert_eq!(decode_key(&[0xff, 0xff]).unwrap(), OffsetsKey::Unknown(-1));
    }

    #[test]
    fn bad_keys_are_rejected() {
        assert!(matches!(decode_key(&[0x00]), Err(RecordFormatError::Truncated { .. })));
        // Missing partition.
        assert!(matches!(
            decode_key(&[0x00, 0x01, 0x00, 0x01, b'g', 0x00, 0x01, b't', 0x00]),
            Err(RecordFormatError::Truncated { .. })
        ));
        // Null group.
        assert!(matches!(decode_key(&[0x00, 0x02, 0xff, 0xff]), Err(RecordFormatError::Malformed { .. })));
        // Trailing bytes.
        assert!(matches!(
            decode_key(&[0x00, 0x02, 0x00, 0x00, 0x00]),
            Err(RecordFormatError::Malformed { .. })
        ));
        assert!(encode_group_metadata_key(&"g".repeat(40_000)).is_err());
    }

    fn offset_value() -> OffsetCommitValue {
        OffsetCommitValue {
            offset: 100,
            leader_epoch: 7,
            metadata: "m".into(),
            commit_timestamp: 5000,
            expire_timestamp: -1,
        }
    }

    #[test]
    fn offset_commit_value_v3_bytes() {
        let v = offset_value();
        assert_eq!(v.default_version(), 3);
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0x00, 0x03,                                     // version 3
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x64, // offset 100
            0x00, 0x00, 0x00, 0x07,                         // leaderEpoch 7
            0x00, 0x01, b'm',                               // metadata "m"
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x13, 0x88, // commitTimestamp 5000
        ];
        assert_eq!(v.encode().unwrap(), expected);
        assert_eq!(OffsetCommitValue::decode(expected).unwrap(), v);
    }

    #[test]
    fn offset_commit_value_v1_with_expiry_and_v4_bytes() {
        let v = OffsetCommitValue { metadata: String::new(), expire_timestamp: 9000, ..offset_value() };
        assert_eq!(v.default_version(), 1);
        #[rustfmt::skip]
        let v1: &[u8] = &[
            0x00, 0x01,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x64,
            0x00, 0x00,                                     // metadata ""
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x13, 0x88,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x23, 0x28, // expireTimestamp 9000
        ];
        assert_eq!(v.encode().unwrap(), v1);
        // v1 has no leader epoch.
        assert_eq!(OffsetCommitValue::decode(v1).unwrap(), OffsetCommitValue { leader_epoch: -1, ..v });

        #[rustfmt::skip]
        let v4: &[u8] = &[
            0x00, 0x04,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x64,
            0x00, 0x00, 0x00, 0x07,
            0x02, b'm',                                     // compact "m"
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x13, 0x88,
            0x00,                                           // no tagged fields
        ];
        assert_eq!(offset_value().encode_version(4).unwrap(), v4);
        assert_eq!(OffsetCommitValue::decode(v4).unwrap(), offset_value());
        // An unknown tag (e.g. a future topic id) is skipped.
        let mut tagged = v4[..v4.len() - 1].to_vec();
        tagged.extend_from_slice(&[0x01, 0x00, 0x02, 0xAB, 0xCD]);
        assert_eq!(OffsetCommitValue::decode(&tagged).unwrap(), offset_value());
    }

    #[test]
    fn offset_commit_value_all_versions_round_trip() {
        let v = offset_value();
        for version in 0..=4 {
            let back = OffsetCommitValue::decode(&v.encode_version(version).unwrap()).unwrap();
            assert_eq!(back.offset, 100);
            assert_eq!(back.metadata, "m");
            assert_eq!(back.commit_timestamp, 5000);
            assert_eq!(back.leader_epoch, if version >= 3 { 7 } else { -1 });
            assert_eq!(back.expire_timestamp, -1);
        }
        assert!(matches!(v.encode_version(5), Err(RecordFormatError::UnsupportedVersion { .. })));
        assert!(matches!(
            OffsetCommitValue::decode(&[0x00, 0x05, 0, 0]),
            Err(RecordFormatError::UnsupportedVersion { version: 5, .. })
        ));
    }

    #[test]
    fn bad_offset_values_are_rejected() {
        let bytes = offset_value().encode().unwrap();
        for len in 0..bytes.len() {
            assert!(OffsetCommitValue::decode(&bytes[..len]).is_err());
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(OffsetCommitValue::decode(&long).is_err());
        let mut null_metadata = bytes;
        null_metadata[14..16].copy_from_slice(&[0xff, 0xff]);
        assert!(matches!(
            OffsetCommitValue::decode(&null_metadata),
            Err(RecordFormatError::Malformed { .. })
        ));
    }

    fn group_value() -> GroupMetadataValue {
        GroupMetadataValue {
            protocol_type: "consumer".into(),
            generation: 5,
            protocol: Some("range".into()),
            leader: Some("m1".into()),
            current_state_timestamp: 1234,
            members: vec![MemberMetadata {
                member_id: "m1".into(),
                group_instance_id: None,
                client_id: "c".into(),
                client_host: "/h".into(),
                rebalance_timeout: 300_000,
                session_timeout: 10_000,
                subscription: vec![1, 2],
                assignment: vec![],
            }],
        }
    }

    #[rustfmt::skip]
    const GROUP_V3: &[u8] = &[
        0x00, 0x03,                                               // version 3
        0x00, 0x08, b'c', b'o', b'n', b's', b'u', b'm', b'e', b'r', // protocolType
        0x00, 0x00, 0x00, 0x05,                                   // generation 5
        0x00, 0x05, b'r', b'a', b'n', b'g', b'e',                 // protocol
        0x00, 0x02, b'm', b'1',                                   // leader
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0xD2,           // currentStateTimestamp 1234
        0x00, 0x00, 0x00, 0x01,                                   // 1 member
        0x00, 0x02, b'm', b'1',                                   //   memberId
        0xff, 0xff,                                               //   groupInstanceId null
        0x00, 0x01, b'c',                                         //   clientId
        0x00, 0x02, b'/', b'h',                                   //   clientHost
        0x00, 0x04, 0x93, 0xE0,                                   //   rebalanceTimeout 300000
        0x00, 0x00, 0x27, 0x10,                                   //   sessionTimeout 10000
        0x00, 0x00, 0x00, 0x02, 0x01, 0x02,                       //   subscription
        0x00, 0x00, 0x00, 0x00,                                   //   assignment (empty)
    ];

    #[test]
    fn group_metadata_value_v3_bytes() {
        assert_eq!(group_value().encode().unwrap(), GROUP_V3);
        assert_eq!(GroupMetadataValue::decode(GROUP_V3).unwrap(), group_value());
    }

    #[test]
    fn group_metadata_value_v0_and_v4_bytes() {
        #[rustfmt::skip]
        let v0: &[u8] = &[
            0x00, 0x00,
            0x00, 0x08, b'c', b'o', b'n', b's', b'u', b'm', b'e', b'r',
            0x00, 0x00, 0x00, 0x05,
            0x00, 0x05, b'r', b'a', b'n', b'g', b'e',
            0x00, 0x02, b'm', b'1',
            0x00, 0x00, 0x00, 0x01,
            0x00, 0x02, b'm', b'1',
            0x00, 0x01, b'c',
            0x00, 0x02, b'/', b'h',
            0x00, 0x00, 0x27, 0x10,
            0x00, 0x00, 0x00, 0x02, 0x01, 0x02,
            0x00, 0x00, 0x00, 0x00,
        ];
        assert_eq!(group_value().encode_version(0).unwrap(), v0);
        let back = GroupMetadataValue::decode(v0).unwrap();
        assert_eq!(back.current_state_timestamp, -1);
        // Kafka's loader: a v0 member's rebalance timeout is its session timeout.
        assert_eq!(back.members[0].rebalance_timeout, 10_000);

        #[rustfmt::skip]
        let v4: &[u8] = &[
            0x00, 0x04,
            0x09, b'c', b'o', b'n', b's', b'u', b'm', b'e', b'r',
            0x00, 0x00, 0x00, 0x05,
            0x06, b'r', b'a', b'n', b'g', b'e',
            0x03, b'm', b'1',
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0xD2,
            0x02,                                 // compact array: 1 member
            0x03, b'm', b'1',
            0x00,                                 // groupInstanceId null
            0x02, b'c',
            0x03, b'/', b'h',
            0x00, 0x04, 0x93, 0xE0,
            0x00, 0x00, 0x27, 0x10,
            0x03, 0x01, 0x02,                     // compact bytes
            0x01,                                 // empty compact bytes
            0x00,                                 // member tagged fields
            0x00,                                 // value tagged fields
        ];
        assert_eq!(group_value().encode_version(4).unwrap(), v4);
        assert_eq!(GroupMetadataValue::decode(v4).unwrap(), group_value());
    }

    #[test]
    fn group_metadata_all_versions_and_static_members() {
        let mut g = group_value();
        g.members[0].group_instance_id = Some("instance-1".into());
        g.members.push(MemberMetadata {
            member_id: "m2".into(),
            group_instance_id: None,
            ..g.members[0].clone()
        });
        for version in 0..=4 {
            let back = GroupMetadataValue::decode(&g.encode_version(version).unwrap()).unwrap();
            assert_eq!(back.members.len(), 2);
            let want_instance = if version >= 3 { Some("instance-1".to_string()) } else { None };
            assert_eq!(back.members[0].group_instance_id, want_instance);
            if version >= 3 {
                assert_eq!(back, g);
            }
        }
        // An empty group: no protocol, no leader, no members.
        let empty = GroupMetadataValue {
            protocol_type: String::new(),
            generation: 0,
            protocol: None,
            leader: None,
            current_state_timestamp: -1,
            members: vec![],
        };
        for version in 2..=4 {
            assert_eq!(GroupMetadataValue::decode(&empty.encode_version(version).unwrap()).unwrap(), empty);
        }
    }

    #[test]
    fn bad_group_values_are_rejected() {
        for len in 0..GROUP_V3.len() {
            assert!(GroupMetadataValue::decode(&GROUP_V3[..len]).is_err(), "prefix {len}");
        }
        let mut long = GROUP_V3.to_vec();
        long.push(0);
        assert!(GroupMetadataValue::decode(&long).is_err());
        // Null members array.
        let mut b = GROUP_V3[..35].to_vec();
        b.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(GroupMetadataValue::decode(&b), Err(RecordFormatError::Malformed { .. })));
        // A member count far beyond the bytes present.
        let mut b = GROUP_V3[..35].to_vec();
        b.extend_from_slice(&[0x7f, 0xff, 0xff, 0xff]);
        assert!(matches!(GroupMetadataValue::decode(&b), Err(RecordFormatError::Malformed { .. })));
        // Null subscription.
        let mut b = GROUP_V3.to_vec();
        let sub = GROUP_V3.len() - 10;
        b[sub..sub + 4].copy_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        b.drain(sub + 4..sub + 6);
        assert!(matches!(GroupMetadataValue::decode(&b), Err(RecordFormatError::Malformed { .. })));
        assert!(matches!(
            GroupMetadataValue::decode(&[0x00, 0x05]),
            Err(RecordFormatError::UnsupportedVersion { version: 5, .. })
        ));
    }

    fn arb_group() -> impl Strategy<Value = GroupMetadataValue> {
        let member = (
            ".{0,12}",
            proptest::option::of(".{0,8}"),
            ".{0,8}",
            ".{0,8}",
            any::<i32>(),
            any::<i32>(),
            proptest::collection::vec(any::<u8>(), 0..16),
            proptest::collection::vec(any::<u8>(), 0..16),
        )
            .prop_map(
                |(member_id, group_instance_id, client_id, client_host, rt, st, subscription, assignment)| {
                    MemberMetadata {
                        member_id,
                        group_instance_id,
                        client_id,
                        client_host,
                        rebalance_timeout: rt,
                        session_timeout: st,
                        subscription,
                        assignment,
                    }
                },
            );
        (
            ".{0,10}",
            any::<i32>(),
            proptest::option::of(".{0,10}"),
            proptest::option::of(".{0,10}"),
            any::<i64>(),
            proptest::collection::vec(member, 0..4),
        )
            .prop_map(|(protocol_type, generation, protocol, leader, ts, members)| {
                GroupMetadataValue {
                    protocol_type,
                    generation,
                    protocol,
                    leader,
                    current_state_timestamp: ts,
                    members,
                }
            })
    }

    proptest! {
        #[test]
        fn prop_group_round_trips_at_v3_and_v4(g in arb_group()) {
            for version in [3, 4] {
                prop_assert_eq!(GroupMetadataValue::decode(&g.encode_version(version).unwrap()).unwrap(), g.clone());
            }
        }

        #[test]
        fn prop_offset_round_trips(offset in any::<i64>(), epoch in any::<i32>(), metadata in ".{0,32}", ts in any::<i64>()) {
            let v = OffsetCommitValue { offset, leader_epoch: epoch, metadata, commit_timestamp: ts, expire_timestamp: -1 };
            for version in [3, 4] {
                prop_assert_eq!(OffsetCommitValue::decode(&v.encode_version(version).unwrap()).unwrap(), v.clone());
            }
        }

        #[test]
        fn prop_offset_key_round_trips(group in ".{0,20}", topic in "[a-z]{1,20}", partition in any::<i32>()) {
            let key = OffsetCommitKey { group, topic, partition };
            prop_assert_eq!(decode_key(&encode_offset_commit_key(&key).unwrap()).unwrap(), OffsetsKey::OffsetCommit(key));
        }

        #[test]
        fn prop_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = decode_key(&bytes);
            let _ = OffsetCommitValue::decode(&bytes);
            let _ = GroupMetadataValue::decode(&bytes);
        }
    }
}
