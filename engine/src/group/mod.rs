//! Consumer groups: Kafka's classic group protocol inside the engine.
//!
//! - [`protocol`]: the consumer protocol's subscription and assignment bytes (what a Kafka
//!   client puts in JoinGroup and gets from SyncGroup).
//! - [`assignor`]: the range, round-robin and cooperative-sticky assignors a group leader runs.

pub mod assignor;
pub mod protocol;
