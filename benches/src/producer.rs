//! Micro-benchmarks of the producer state, without any I/O.
//!
//! - [`dedup_check`]: the per-batch work an idempotent append adds to the append path:
//!   `find_duplicate` + `prepare_update` + `ProducerAppendInfo::append` + `update`, exactly as
//!   `PartitionLog::append` drives them.
//! - [`producer_memory`]: resident memory of a `ProducerStateManager` holding N producers,
//!   measured from `/proc/self/statm` (run it in a fresh process for a clean number: the report
//!   runner does).

use std::hint::black_box;
use std::time::Instant;

use eoslog::producer::{
    AppendOrigin, BatchInfo, ProducerStateConfig, ProducerStateEntry, ProducerStateManager,
};
use serde::{Deserialize, Serialize};

use crate::{BenchError, Measurement, RECORDS_PER_BATCH, Result};

fn batch_info(producer_id: i64, n: u64, offset: i64) -> BatchInfo {
    let base_sequence = (n * RECORDS_PER_BATCH as u64) as i32;
    BatchInfo {
        producer_id,
        producer_epoch: 0,
        base_sequence,
        last_sequence: base_sequence + RECORDS_PER_BATCH as i32 - 1,
        first_offset: offset,
        last_offset: offset + RECORDS_PER_BATCH as i64 - 1,
        max_timestamp: 1_700_000_000_000 + offset,
        is_transactional: false,
        control: None,
        record_count: RECORDS_PER_BATCH as i32,
    }
}

/// Runs the dedup check and state update for `batches` batches spread round-robin over
/// `producers` idempotent producers (16 records each, sequences advancing). The batch
/// descriptions are built before timing. `batches` in the result is the count; `elapsed` the
/// total, so `elapsed / batches` is the cost per batch.
pub fn dedup_check(producers: usize, batches: usize) -> Result<Measurement> {
    let producers = producers.max(1);
    let infos: Vec<BatchInfo> = (0..batches)
        .map(|i| batch_info((i % producers) as i64, (i / producers) as u64, (i * RECORDS_PER_BATCH) as i64))
        .collect();
    let mut manager = ProducerStateManager::new(ProducerStateConfig::default());
    let timer = crate::Timer::start();
    for info in &infos {
        if black_box(manager.find_duplicate(info)).is_some() {
            return Err(BenchError(format!("unexpected duplicate {info:?}")));
        }
        let mut staged = manager.prepare_update(info.producer_id, AppendOrigin::Client);
        staged.append(info, None).map_err(|e| BenchError(format!("append {info:?}: {e}")))?;
        manager.update(staged);
    }
    let (elapsed, cpu) = timer.stop();
    if manager.producer_count() != producers.min(batches) {
        return Err(BenchError(format!("{} producers in the state", manager.producer_count())));
    }
    black_box(&manager);
    Ok(Measurement {
        batches: batches as u64,
        records: (batches * RECORDS_PER_BATCH) as u64,
        elapsed,
        cpu,
        ..Default::default()
    })
}

/// Memory of the producer state with many producers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ProducerMemory {
    /// Producers in the state (each appended one batch).
    pub producers: u64,
    /// Resident set size before building the state, bytes.
    pub rss_before: u64,
    /// Resident set size with the state built, bytes.
    pub rss_after: u64,
    /// `(rss_after - rss_before) / producers`.
    pub bytes_per_producer: f64,
    /// `size_of::<ProducerStateEntry>()`.
    pub entry_size: usize,
    /// Seconds spent building the state (1 batch per producer through the append path).
    pub build_secs: f64,
}

/// Resident set size of this process in bytes (`/proc/self/statm`, field 2, in pages).
pub fn rss_bytes() -> Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm")
        .map_err(|e| BenchError(format!("read /proc/self/statm: {e}")))?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| BenchError(format!("unexpected /proc/self/statm: {statm}")))?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Ok(pages * u64::try_from(page).unwrap_or(4096))
}

/// Builds a `ProducerStateManager` in which each of `producers` producers appended one batch
/// and reports the growth of the resident set. The batch descriptions are generated on the fly
/// so that only the state itself is resident at the end.
pub fn producer_memory(producers: u64) -> Result<ProducerMemory> {
    let rss_before = rss_bytes()?;
    let start = Instant::now();
    let mut manager = ProducerStateManager::new(ProducerStateConfig::default());
    for pid in 0..producers {
        let info = batch_info(pid as i64, 0, (pid * RECORDS_PER_BATCH as u64) as i64);
        let mut staged = manager.prepare_update(info.producer_id, AppendOrigin::Client);
        staged.append(&info, None).map_err(|e| BenchError(format!("append {info:?}: {e}")))?;
        manager.update(staged);
    }
    let build_secs = start.elapsed().as_secs_f64();
    let rss_after = rss_bytes()?;
    if manager.producer_count() as u64 != producers {
        return Err(BenchError(format!("{} producers in the state", manager.producer_count())));
    }
    black_box(&manager);
    Ok(ProducerMemory {
        producers,
        rss_before,
        rss_after,
        bytes_per_producer: rss_after.saturating_sub(rss_before) as f64 / producers.max(1) as f64,
        entry_size: std::mem::size_of::<ProducerStateEntry>(),
        build_secs,
    })
}
