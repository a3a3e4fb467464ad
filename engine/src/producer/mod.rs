//! Producer state: idempotence, epoch fencing and transaction bookkeeping for one partition.
//!
//! This module is the equivalent of Kafka's `ProducerStateEntry`, `ProducerAppendInfo`,
//! `ProducerStateManager` and the producer-state half of `UnifiedLog.analyzeAndValidateProducerState`
//! (reference §3). It is **pure logic**: no file I/O and no knowledge of the RecordBatch byte
//! format. The partition log describes each batch with a [`BatchInfo`] (filled from the batch
//! header after offsets are assigned) and drives the state exactly the way Kafka's `UnifiedLog`
//! drives its `ProducerStateManager`:
//!
//! 1. for a [`AppendOrigin::Client`] batch, [`ProducerStateManager::find_duplicate`]: a hit means
//!    the batch is a retry; nothing is written and the original offsets are returned;
//! 2. [`ProducerStateManager::prepare_update`] gives a [`ProducerAppendInfo`], a staged copy for
//!    one producer; [`ProducerAppendInfo::append`] validates the batch (verification, epoch,
//!    sequence and transaction rules) against the staged copy and may return a [`CompletedTxn`];
//! 3. the log writes the batch and advances its end offset **first** (KAFKA-7866), then commits
//!    the staged state with [`ProducerStateManager::update`] (KAFKA-6683: never mutate before the
//!    write succeeded);
//! 4. for each completed transaction: [`ProducerStateManager::last_stable_offset`] gives the LSO
//!    stored in the `.txnindex` entry of an aborted transaction, then
//!    [`ProducerStateManager::complete_txn`] moves it from *ongoing* to *unreplicated*;
//! 5. [`ProducerStateManager::update_map_end_offset`] with `last_offset + 1`.
//!
//! The high watermark moves transactions out of the unreplicated set
//! ([`ProducerStateManager::on_high_watermark_updated`]); the first unstable offset
//! ([`ProducerStateManager::first_unstable_offset`]) is what the log turns into the LSO.
//!
//! Snapshots use Kafka's `.snapshot` v1 format ([`encode_snapshot`] / [`decode_snapshot`]);
//! the log owns the files, this module only produces and consumes their contents.
//!
//! Modules, one job each:
//! - [`batch`]: the types exchanged with the log ([`BatchInfo`], [`CompletedTxn`], ...);
//! - [`entry`]: per-producer state and its five-batch dedup window;
//! - [`append_info`]: validation of one append against a staged copy;
//! - [`verification`]: KIP-890 part 1 verification guards;
//! - [`txn`]: ongoing and unreplicated transactions (LSO bookkeeping);
//! - [`manager`]: the per-partition manager tying them together;
//! - [`snapshot`]: the `.snapshot` file format.

pub mod append_info;
pub mod batch;
pub mod entry;
pub mod manager;
pub mod snapshot;
pub mod txn;
pub mod verification;

#[cfg(test)]
mod tests;

pub use append_info::ProducerAppendInfo;
pub use batch::{AppendOrigin, BatchInfo, CompletedTxn, ControlMarker, OngoingTxn};
pub use entry::{BatchMetadata, ProducerStateEntry};
pub use manager::{ProducerStateConfig, ProducerStateManager};
pub use snapshot::{SnapshotEntry, SnapshotError, decode_snapshot, encode_snapshot};
pub use verification::VerificationGuard;

/// `RecordBatch.NO_PRODUCER_ID`: a batch written without idempotence.
pub const NO_PRODUCER_ID: i64 = -1;
/// `RecordBatch.NO_PRODUCER_EPOCH`: the epoch of a producer the partition knows nothing about.
pub const NO_PRODUCER_EPOCH: i16 = -1;
/// `RecordBatch.NO_SEQUENCE`.
pub const NO_SEQUENCE: i32 = -1;
/// `RecordBatch.NO_TIMESTAMP`.
pub const NO_TIMESTAMP: i64 = -1;
/// The coordinator epoch of a producer that never received a marker.
pub const NO_COORDINATOR_EPOCH: i32 = -1;
/// `ProducerStateEntry.NUM_BATCHES_TO_RETAIN`: the dedup window. Five equals the client's
/// `max.in.flight.requests.per.connection` limit under idempotence, so any retry the client can
/// still send is one of the last five batches.
pub const NUM_BATCHES_TO_RETAIN: usize = 5;
