//! Transaction coordinator building blocks (Kafka's `kafka.coordinator.transaction`): the
//! per-transactional-id state machine.
//!
//! Everything here is pure logic and codecs: no I/O, no partition log. The coordinator that
//! persists transitions and sends markers is built on top.

pub mod metadata;
pub mod state;

pub use metadata::{
    NO_PRODUCER_EPOCH, NO_PRODUCER_ID, ProducerIdAndEpoch, TransactionMetadata, TxnTopicPartition,
    TxnTransitMetadata, is_epoch_exhausted,
};
pub use state::{TransactionState, TransactionVersion};
