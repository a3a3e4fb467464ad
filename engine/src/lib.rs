//! # eoslog
//!
//! An embeddable exactly-once log engine: Apache Kafka's partition log, idempotent producers,
//! transactions and `read_committed` reads in one Rust library, byte-compatible with Kafka on
//! disk.
#![deny(missing_docs)]

pub mod batch;
pub mod config;
pub mod error;
pub mod io;
mod mmap;
pub mod offsets;
pub mod txn;

pub use config::{Durability, EngineConfig, TimestampType, TopicConfig};
pub use error::{BatchError, Error, ErrorCode, ProducerError, Result, StorageError};
