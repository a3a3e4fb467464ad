//! Tests of the producer state: Kafka's `ProducerStateManagerTest` ported (same names, in
//! `kafka_ports`), the duplicate window (`UnifiedLogTest.testDuplicateAppends`), TV2 markers,
//! verification, a model-based property test, and the Kafka-format fixtures.

use super::*;
use crate::error::{ErrorCode, ProducerError};

mod dedup;
mod fixtures;
mod kafka_ports;
mod model;
mod tv2;
mod verification;

/// Kafka's test producer id and epoch.
const PID: i64 = 1;
const EPOCH: i16 = 0;
const ONE_DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Kafka's `ProducerStateManagerTest` drives `ProducerAppendInfo` directly, below
/// `UnifiedLog`'s verification check, so its ports run with verification off.
fn manager() -> ProducerStateManager {
    ProducerStateManager::new(ProducerStateConfig {
        producer_id_expiration_ms: ONE_DAY_MS,
        transaction_verification_enable: false,
    })
}

/// A data batch; `last_seq` is derived from the offsets with wrap.
fn data(
    pid: i64,
    epoch: i16,
    first_seq: i32,
    first_offset: i64,
    last_offset: i64,
    ts: i64,
    txn: bool,
) -> BatchInfo {
    let delta = i32::try_from(last_offset - first_offset).unwrap();
    BatchInfo {
        producer_id: pid,
        producer_epoch: epoch,
        base_sequence: first_seq,
        last_sequence: batch::increment_sequence(first_seq, delta),
        first_offset,
        last_offset,
        max_timestamp: ts,
        is_transactional: txn,
        control: None,
        record_count: delta + 1,
    }
}

/// An end-transaction marker at `offset`.
fn marker(
    pid: i64,
    epoch: i16,
    offset: i64,
    commit: bool,
    coordinator_epoch: i32,
    tv: u8,
    ts: i64,
) -> BatchInfo {
    BatchInfo {
        producer_id: pid,
        producer_epoch: epoch,
        base_sequence: NO_SEQUENCE,
        last_sequence: NO_SEQUENCE,
        first_offset: offset,
        last_offset: offset,
        max_timestamp: ts,
        is_transactional: true,
        control: Some(ControlMarker { commit, coordinator_epoch, transaction_version: tv }),
        record_count: 1,
    }
}

/// Kafka's test helper `appendEntry`/`appendEndTxnMarker`: prepare, append one batch, commit,
/// complete the transaction it ended, advance the map end offset.
fn append_batch(
    m: &mut ProducerStateManager,
    origin: AppendOrigin,
    batch: BatchInfo,
) -> Result<Option<CompletedTxn>, ProducerError> {
    let mut info = m.prepare_update(batch.producer_id, origin);
    let completed = info.append(&batch, None)?;
    m.update(info);
    if let Some(c) = &completed {
        m.complete_txn(c);
    }
    m.update_map_end_offset(batch.last_offset + 1);
    Ok(completed)
}

/// A one-record client batch with sequence `seq` at `offset`.
fn append_client(
    m: &mut ProducerStateManager,
    pid: i64,
    epoch: i16,
    seq: i32,
    offset: i64,
    ts: i64,
    txn: bool,
) -> Result<(), ProducerError> {
    append_batch(m, AppendOrigin::Client, data(pid, epoch, seq, offset, offset, ts, txn)).map(|_| ())
}

/// A one-record replicated batch of producer [`PID`].
fn append_replication(m: &mut ProducerStateManager, epoch: i16, seq: i32, offset: i64, ts: i64) {
    append_batch(m, AppendOrigin::Replication, data(PID, epoch, seq, offset, offset, ts, false))
        .expect("replication accepts everything");
}

/// A classic (TV1) marker from the coordinator.
fn append_end_txn(
    m: &mut ProducerStateManager,
    pid: i64,
    epoch: i16,
    commit: bool,
    offset: i64,
    coordinator_epoch: i32,
    ts: i64,
) -> Result<Option<CompletedTxn>, ProducerError> {
    append_batch(m, AppendOrigin::Coordinator, marker(pid, epoch, offset, commit, coordinator_epoch, 1, ts))
}

fn code<T: std::fmt::Debug>(r: Result<T, ProducerError>) -> ErrorCode {
    r.expect_err("expected a rejection").code()
}

fn entry(m: &ProducerStateManager, pid: i64) -> &ProducerStateEntry {
    m.last_entry(pid).expect("producer should have an entry")
}

/// A snapshot round trip through the file format: what a restart sees.
fn reload(m: &ProducerStateManager, config: ProducerStateConfig, now_ms: i64) -> ProducerStateManager {
    let bytes = m.snapshot_bytes();
    let mut reloaded = ProducerStateManager::new(config);
    reloaded.load_snapshot(
        decode_snapshot(&bytes).expect("own snapshot decodes"),
        m.map_end_offset(),
        now_ms,
    );
    reloaded
}

/// What one append did, as the partition log would report it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// Written at these offsets; `completed` is the transaction a marker ended, with the LSO
    /// the log stored for it.
    Appended { first_offset: i64, last_offset: i64, completed: Option<(CompletedTxn, i64)> },
    /// A retry of a retained batch: nothing written, the original offsets returned.
    Duplicate { first_offset: i64, last_offset: i64, timestamp: i64 },
    /// Refused with this Kafka code.
    Rejected(ErrorCode),
}

/// The part of a single-replica partition log that talks to the producer state, in Kafka's order
/// (`UnifiedLog.append`): duplicate check, stage, "write" (advance LEO), commit, `.txnindex`
/// entries with the LSO, complete, map end offset, HW = LEO.
struct MiniLog {
    m: ProducerStateManager,
    leo: i64,
    /// `(pid, first, last, lso)` of every aborted transaction, as the `.txnindex` would hold them.
    txn_index: Vec<(i64, i64, i64, i64)>,
}

impl MiniLog {
    fn new(config: ProducerStateConfig) -> Self {
        Self { m: ProducerStateManager::new(config), leo: 0, txn_index: Vec::new() }
    }

    /// Appends `batch` at the log end (its offsets are reassigned, keeping its record count).
    fn append(
        &mut self,
        origin: AppendOrigin,
        mut batch: BatchInfo,
        guard: Option<&VerificationGuard>,
    ) -> Outcome {
        let count = i64::from(batch.record_count.max(1));
        batch.first_offset = self.leo;
        batch.last_offset = self.leo + count - 1;
        self.append_at(origin, batch, guard)
    }

    /// Appends `batch` at the offsets it carries (which must start at the log end).
    fn append_at(
        &mut self,
        origin: AppendOrigin,
        batch: BatchInfo,
        guard: Option<&VerificationGuard>,
    ) -> Outcome {
        assert_eq!(batch.first_offset, self.leo, "offsets must be contiguous");
        if origin == AppendOrigin::Client
            && let Some(d) = self.m.find_duplicate(&batch)
        {
            return Outcome::Duplicate {
                first_offset: d.first_offset(),
                last_offset: d.last_offset,
                timestamp: d.timestamp,
            };
        }
        let mut info = self.m.prepare_update(batch.producer_id, origin);
        let completed = match info.append(&batch, guard) {
            Ok(c) => c,
            Err(e) => return Outcome::Rejected(e.code()),
        };
        // The write succeeded: LEO first (KAFKA-7866), then the state.
        self.leo = batch.last_offset + 1;
        self.m.update(info);
        let completed = completed.map(|c| {
            let lso = self.m.last_stable_offset(&c);
            if c.is_aborted {
                self.txn_index.push((c.producer_id, c.first_offset, c.last_offset, lso));
            }
            self.m.complete_txn(&c);
            (c, lso)
        });
        self.m.update_map_end_offset(self.leo);
        self.m.on_high_watermark_updated(self.leo);
        Outcome::Appended { first_offset: batch.first_offset, last_offset: batch.last_offset, completed }
    }

    /// A batch without producer id: only the offsets move.
    fn append_plain(&mut self, count: i64) {
        self.leo += count;
        self.m.update_map_end_offset(self.leo);
        self.m.on_high_watermark_updated(self.leo);
    }
}
