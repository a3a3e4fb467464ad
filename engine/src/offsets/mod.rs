//! Consumer offsets (Kafka's group coordinator storage): the `__consumer_offsets` record
//! format. The offset store and the group coordinator are built on top.

pub mod format;

pub use format::{
    GroupMetadataValue, MemberMetadata, OffsetCommitKey, OffsetCommitValue, OffsetsKey, decode_key,
    encode_group_metadata_key, encode_offset_commit_key,
};
