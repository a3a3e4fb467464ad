//! Transaction coordinator building blocks (Kafka's `kafka.coordinator.transaction`): the
//! per-transactional-id state machine, the `__transaction_state` record format, and producer-id
//! allocation in persisted blocks.
//!
//! Everything here is pure logic and codecs: no I/O, no partition log. The coordinator that
//! persists transitions and sends markers is built on top.

pub mod log_format;
pub mod metadata;
pub mod pid_block;
pub mod state;

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
