//! # eoslog-broker
//!
//! A single-node server speaking the Kafka wire protocol, storing everything in an
//! [`eoslog::Engine`]. It is a thin translation layer: the `kafka-protocol` crate decodes
//! requests and encodes responses, and every storage and exactly-once decision — idempotent
//! deduplication, epoch fencing, transactions, markers, `read_committed` bounds, consumer-group
//! membership and the generation fencing of offset commits, transactional offsets — is the
//! engine's. Any Kafka client can produce, consume in groups and run transactions against it;
//! see the README next to this crate for what is supported.

pub mod api;
pub mod config;
pub mod logger;
pub mod server;

pub use api::Broker;
pub use config::{BrokerConfig, parse_args};
pub use server::{Server, StartError};
