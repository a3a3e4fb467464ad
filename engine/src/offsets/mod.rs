//! Consumer offsets (Kafka's group coordinator storage): the `__consumer_offsets` record
//! format and the offset store.

pub mod format;
pub mod store;

pub use format::{
    GroupMetadataValue, MemberMetadata, OffsetCommitKey, OffsetCommitValue, OffsetsKey, decode_key,
    encode_group_metadata_key, encode_offset_commit_key,
};
pub use store::{CommitFence, FetchedOffset, MAX_METADATA_BYTES, OffsetAndMetadata, OffsetStore};
