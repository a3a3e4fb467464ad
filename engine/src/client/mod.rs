//! In-process clients: a [`Producer`] (idempotent by default, transactional with a
//! `transactional.id`) and a [`Consumer`], shaped after Kafka's Java client so that a Kafka
//! read-process-write loop translates line by line:
//!
//! ```
//! use eoslog::client::*;
//! use eoslog::TopicPartition;
//! use std::time::Duration;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let engine = eoslog::Engine::open(dir.path(), Default::default()).unwrap();
//! engine.create_topic("in", 1, Default::default()).unwrap();
//! engine.create_topic("out", 1, Default::default()).unwrap();
//! Producer::new(&engine, ProducerConfig::default())
//!     .unwrap()
//!     .send_sync(ProducerRecord::new("in", "hello"))
//!     .unwrap();
//!
//! let consumer = Consumer::new(
//!     &engine,
//!     ConsumerConfig::from_pairs(&[("group.id", "copier"), ("auto.offset.reset", "earliest")]).unwrap(),
//! )
//! .unwrap();
//! consumer.assign(&[TopicPartition::new("in", 0)]).unwrap();
//! let producer =
//!     Producer::new(&engine, ProducerConfig::from_pairs(&[("transactional.id", "copier-1")]).unwrap())
//!         .unwrap();
//! producer.init_transactions().unwrap();
//!
//! let records = consumer.poll(Duration::from_secs(5)).unwrap();
//! producer.begin_transaction().unwrap();
//! for r in &records {
//!     let upper = r.value_str().unwrap().to_uppercase();
//!     producer.send(ProducerRecord::new("out", upper)).unwrap();
//! }
//! let tp = TopicPartition::new("in", 0);
//! let position = consumer.position(&tp).unwrap();
//! producer
//!     .send_offsets_to_transaction(
//!         &[(tp.clone(), eoslog::offsets::OffsetAndMetadata::new(position))],
//!         &consumer.group_metadata().unwrap(),
//!     )
//!     .unwrap();
//! producer.commit_transaction().unwrap();
//!
//! assert_eq!(consumer.committed(&[tp.clone()]).unwrap()[&tp].as_ref().unwrap().offset, 1);
//! ```
//!
//! With `subscribe` instead of `assign`, the consumer is a member of its group and the
//! partitions are shared among the members ([`Consumer::subscribe`]); the producer's
//! `send_offsets_to_transaction` then carries the member's generation, so a member that lost
//! its partitions in a rebalance cannot commit them (KIP-447).
//!
//! Both types are `Send + Sync` and use only the engine's public API.

mod config;
mod consumer;
mod error;
mod membership;
mod partitioner;
mod producer;
mod record;

pub use crate::log::{IsolationLevel, TopicPartition};
pub use crate::offsets::OffsetAndMetadata;
pub use config::{ConsumerConfig, OffsetReset, PartitionerKind, ProducerConfig};
pub use consumer::Consumer;
pub use membership::{ConsumerRebalanceListener, NoopListener};
pub use partitioner::{murmur2, partition_for_key, to_positive};
pub use producer::{DeliveryHandle, Producer, TransactionState};
pub use record::{ConsumerGroupMetadata, ConsumerRecord, ProducerRecord, RecordMetadata};

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn clients_are_send_and_sync() {
        assert_send_sync::<Producer>();
        assert_send_sync::<Consumer>();
        assert_send_sync::<DeliveryHandle>();
    }
}
