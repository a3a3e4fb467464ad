//! The transaction coordinator's log: the `__transaction_state` partition.
//!
//! Every state transition is one record (key = transactional id, value = the new metadata) and
//! is made durable before it takes effect; producer-id blocks are records under eoslog's own key.
//! On open the whole partition is replayed and the last record per key wins (Kafka compacts this
//! topic; eoslog keeps it small enough to replay — see the README's limits).

use std::collections::HashMap;
use std::sync::Arc;

use crate::batch::RecordBatchBuilder;
use crate::error::Result;
use crate::log::{IsolationLevel, PartitionLog};
use crate::txn::log_format::{TxnLogRecord, encode_key, encode_value, read_record};
use crate::txn::metadata::TxnTransitMetadata;
use crate::txn::pid_block::{ProducerIdBlock, encode_pid_block_key, encode_pid_block_value};
use crate::txn::state::TransactionVersion;

/// What replaying `__transaction_state` found.
#[derive(Debug, Default)]
pub(crate) struct LoadedTxnState {
    /// The last metadata of every live transactional id.
    pub transactions: HashMap<String, TxnTransitMetadata>,
    /// Every producer-id block ever reserved.
    pub pid_blocks: Vec<ProducerIdBlock>,
    /// Records skipped because their key or value version is unknown.
    pub skipped: usize,
}

/// Reads and writes `__transaction_state-0`.
#[derive(Debug)]
pub(crate) struct TxnStateLog {
    log: Arc<PartitionLog>,
    /// The cluster's transaction version level: decides the value version written.
    level: TransactionVersion,
}

impl TxnStateLog {
    pub(crate) fn new(log: Arc<PartitionLog>, level: TransactionVersion) -> Self {
        TxnStateLog { log, level }
    }

    /// Appends one record and waits until it is durable: a transition must survive a crash
    /// before anyone acts on it (Kafka writes it with acks=all).
    fn append_durable(&self, key: &[u8], value: Option<&[u8]>, now_ms: i64) -> Result<()> {
        self.append(key, value, now_ms, true)
    }

    fn append(&self, key: &[u8], value: Option<&[u8]>, now_ms: i64, durable: bool) -> Result<()> {
        let mut b = RecordBatchBuilder::new();
        b.append(now_ms, Some(key), value, &[]);
        self.log.append(&b.build()?)?;
        if durable { self.log.sync() } else { Ok(()) }
    }

    /// Persists a transition of `transactional_id` (waiting for durability when `durable`).
    pub(crate) fn write_transition(
        &self,
        transactional_id: &str,
        transit: &TxnTransitMetadata,
        now_ms: i64,
        durable: bool,
    ) -> Result<()> {
        let key = encode_key(transactional_id)?;
        let value = encode_value(transit, self.level)?;
        self.append(&key, Some(&value), now_ms, durable)
    }

    /// Persists the removal of an expired transactional id (a tombstone).
    pub(crate) fn write_tombstone(&self, transactional_id: &str, now_ms: i64) -> Result<()> {
        let key = encode_key(transactional_id)?;
        self.append_durable(&key, None, now_ms)
    }

    /// Persists a producer-id block before any of its ids is handed out.
    pub(crate) fn write_pid_block(&self, block: &ProducerIdBlock, now_ms: i64) -> Result<()> {
        self.append_durable(&encode_pid_block_key(), Some(&encode_pid_block_value(block)), now_ms)
    }

    /// Replays the whole partition.
    pub(crate) fn load(&self) -> Result<LoadedTxnState> {
        let mut state = LoadedTxnState::default();
        let mut offset = self.log.log_start_offset();
        loop {
            let data = self.log.read(offset, 1 << 20, IsolationLevel::LogEnd)?;
            if data.records.is_empty() {
                break;
            }
            for batch in data.records.batches() {
                let batch = batch?;
                offset = batch.next_offset();
                if batch.is_control() {
                    continue;
                }
                for record in batch.records()?.iter() {
                    let record = record?;
                    let Some(key) = record.key else { continue };
                    match read_record(key, record.value)? {
                        TxnLogRecord::Transaction { transactional_id, value } => {
                            state.transactions.insert(transactional_id, value.to_transit());
                        }
                        TxnLogRecord::Tombstone { transactional_id } => {
                            state.transactions.remove(&transactional_id);
                        }
                        TxnLogRecord::ProducerIdBlock(block) => state.pid_blocks.push(block),
                        TxnLogRecord::UnknownKeyVersion(_) | TxnLogRecord::UnknownValueVersion { .. } => {
                            state.skipped += 1;
                        }
                    }
                }
            }
        }
        Ok(state)
    }
}
