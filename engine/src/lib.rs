//! # eoslog
//!
//! An embeddable exactly-once log engine: Apache Kafka's partition log, idempotent producers,
//! transactions, `read_committed` reads and consumer groups in one Rust library, byte-compatible
//! with Kafka on disk.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

pub mod batch;
pub mod client;
pub mod clock;
pub mod config;
mod engine;
pub mod error;
pub mod group;
pub mod inspect;
pub mod io;
pub mod log;
mod mmap;
pub mod offsets;
pub mod producer;
pub mod segment;
pub mod topics;
pub mod txn;
mod wire;

pub use batch::{Compression, RecordBatch, RecordBatchBuilder};
pub use client::{
    Consumer, ConsumerConfig, ConsumerGroupMetadata, ConsumerRecord, DeliveryHandle, Producer,
    ProducerConfig, ProducerRecord, RecordMetadata,
};
pub use config::{Durability, EngineConfig, TimestampType, TopicConfig};
pub use engine::{CLEAN_SHUTDOWN_FILE, Engine, RecoveryReport, TopicDescription};
pub use error::{BatchError, Error, ErrorCode, ProducerError, Result, StorageError};
pub use group::{
    GroupConfig, GroupCoordinator, GroupMember, GroupMemberConfig, GroupState, JoinGroupRequest,
    JoinGroupResponse, MemberIdentity, SyncGroupRequest, SyncGroupResponse,
};
pub use log::{
    AppendInfo, AppendOptions, CommittedRecord, CommittedRecords, FetchData, IsolationLevel, OffsetSpec,
    Origin, PartitionLog, TopicPartition,
};

/// The README's Rust examples, compiled and run as doctests so they stay correct.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
