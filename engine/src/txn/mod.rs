//! Transaction coordinator building blocks (Kafka's `kafka.coordinator.transaction`): the
//! per-transactional-id state machine, the `__transaction_state` record format, and producer-id
//! allocation in persisted blocks.
//!
//! The state machine and codecs are pure logic; [`TransactionCoordinator`] persists transitions
//! in `__transaction_state` and writes markers through the engine.

pub mod coordinator;
pub mod log_format;
pub mod metadata;
pub mod pid_block;
pub mod state;
mod store;

pub use coordinator::{CoordinatorConfig, MarkerWriter, TransactionCoordinator, TransactionDescription};
pub use log_format::{
    RecordFormatError, TxnLogPartitions, TxnLogRecord, TxnLogValue, decode_key, decode_value, encode_key,
    encode_value, read_record,
};
pub use metadata::{
    NO_PRODUCER_EPOCH, NO_PRODUCER_ID, ProducerIdAndEpoch, TransactionMetadata, TxnTopicPartition,
    TxnTransitMetadata, is_epoch_exhausted,
};
pub use pid_block::{PidAllocation, ProducerIdBlock, ProducerIdManager};
pub use state::{TransactionState, TransactionVersion};
