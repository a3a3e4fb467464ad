//! One partition's log: append and read paths, segments, recovery, retention, checkpoints,
//! producer snapshots and the leader-epoch history.

pub mod checkpoint;
pub mod committed;
pub mod fetch;
pub mod group_commit;
pub mod leader_epoch;
pub mod load;
pub mod maintenance;
pub mod notify;
pub mod partition;
pub mod snapshots;

pub use committed::{CommittedRecord, CommittedRecords};
pub use fetch::{
    AbortedTransaction, AppendInfo, FetchData, FetchedRecords, IsolationLevel, OffsetSpec, TimestampAndOffset,
};
pub use load::PartitionRecovery;
pub use notify::ReadWaiter;
pub use partition::{AppendOptions, Origin, PartitionLog, PartitionStats, TopicPartition};
