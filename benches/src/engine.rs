//! eoslog under test: appends (W1–W4), read_committed scans (W5), recovery (W6) and clean open
//! (W7).
//!
//! Every function opens the engine and creates its topic before the timed region and closes it
//! after, so only the work itself is timed. After the timed region each append run checks that
//! the partitions' log end offsets account for every record and marker it wrote: a run that
//! silently dropped data fails instead of looking fast.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use eoslog::log::checkpoint::RECOVERY_POINT_CHECKPOINT;
use eoslog::{AppendOptions, Durability, Engine, EngineConfig, IsolationLevel, PartitionLog};
use serde::Serialize;

use crate::data::{Stream, StreamKind, Workload};
use crate::{Backend, BenchError, Context, Measurement, Result, RunDir, Timer, settle};

/// The topic every workload writes.
pub const TOPIC: &str = "bench";

/// Coordinator epoch written in the markers (a single, never-changing coordinator).
const COORDINATOR_EPOCH: i32 = 0;
/// Transaction protocol version of the markers: the classic protocol, where markers carry the
/// transaction's own epoch, so one producer epoch serves the whole run.
const TRANSACTION_VERSION: u8 = 1;

/// How the engine is opened for a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineSetup {
    /// I/O backend.
    pub backend: Backend,
    /// Durability policy.
    pub durability: Durability,
}

impl EngineSetup {
    /// The engine configuration for this setup (Kafka defaults otherwise: 1 GiB segments).
    pub fn config(&self) -> EngineConfig {
        EngineConfig { io: Some(self.backend.io_choice()), durability: self.durability, ..Default::default() }
    }
}

/// Where transaction markers go in a transactional workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transactions {
    /// Data batches per transaction, per stream; a marker follows each group (and the last,
    /// possibly shorter, one).
    pub batches_per_txn: usize,
    /// Abort every n-th transaction (1-based: `Some(10)` aborts the 10th, 20th, ...), commit
    /// the others. `None` commits all.
    pub abort_every: Option<usize>,
}

impl Transactions {
    /// Transactions holding `interval` worth of data at `bytes_per_sec` per stream: how W4
    /// places a commit after every 100 ms of data at the rate W1 measured in the same run.
    pub fn at_rate(bytes_per_sec_per_stream: f64, interval: Duration, batch_len: usize) -> Transactions {
        let batches = bytes_per_sec_per_stream * interval.as_secs_f64() / batch_len.max(1) as f64;
        Transactions { batches_per_txn: (batches.round() as usize).max(1), abort_every: None }
    }

    fn is_aborted(&self, txn_index: usize) -> bool {
        self.abort_every.is_some_and(|k| k > 0 && (txn_index + 1).is_multiple_of(k))
    }
}

fn open(dir: &Path, setup: EngineSetup) -> Result<Engine> {
    Engine::open(dir, setup.config()).ctx(|| format!("open eoslog in {}", dir.display()))
}

/// Appends a workload's batches with one thread per stream (W1–W4) into a fresh directory
/// under `root`.
///
/// `txns` must be given for a [`StreamKind::Transactional`] workload: before the first batch of
/// each transaction the stream registers a KIP-890 verification guard (what a broker does after
/// asking the coordinator), and after the last one it writes a COMMIT or ABORT marker with
/// [`PartitionLog::append_marker`]. With `final_sync` the timed region ends with
/// [`Engine::flush`] (data and indexes durable).
pub fn append(
    root: &Path,
    workload: &Workload,
    setup: EngineSetup,
    txns: Option<Transactions>,
    final_sync: bool,
) -> Result<Measurement> {
    let dir = RunDir::new_in(root)?;
    let m = append_in(dir.path(), workload, setup, txns, final_sync)?;
    Ok(m)
}

/// [`append`] into `dir`, which is left in place (closed cleanly) for later reads.
pub fn append_in(
    dir: &Path,
    workload: &Workload,
    setup: EngineSetup,
    txns: Option<Transactions>,
    final_sync: bool,
) -> Result<Measurement> {
    append_impl(dir, workload, setup, txns, final_sync, 1)
}

fn append_impl(
    dir: &Path,
    workload: &Workload,
    setup: EngineSetup,
    txns: Option<Transactions>,
    final_sync: bool,
    repeat: usize,
) -> Result<Measurement> {
    if repeat != 1 && workload.kind != StreamKind::Plain {
        return Err(BenchError("only plain workloads can be appended repeatedly".into()));
    }
    if (workload.kind == StreamKind::Transactional) != txns.is_some() {
        return Err(BenchError("transactions are given for, and only for, transactional workloads".into()));
    }
    let engine = open(dir, setup)?;
    engine
        .create_topic(TOPIC, workload.shape.partitions as i32, engine.config().topic_defaults.clone())
        .ctx(|| "create the bench topic".into())?;
    let logs: Vec<Arc<PartitionLog>> = (0..workload.shape.partitions)
        .map(|p| engine.partition(TOPIC, p as i32).ctx(|| format!("partition {p}")))
        .collect::<Result<_>>()?;
    settle();
    let rounds_before = engine.group_commit_rounds();
    let barrier = Barrier::new(workload.streams.len() + 1);
    let ((elapsed, cpu), markers) = std::thread::scope(|scope| -> Result<((Duration, Duration), u64)> {
        let handles: Vec<_> = workload
            .streams
            .iter()
            .map(|stream| {
                let log = logs[stream.partition].clone();
                let barrier = &barrier;
                let rpb = workload.shape.records_per_batch;
                scope.spawn(move || {
                    barrier.wait();
                    let mut markers = 0;
                    for _ in 0..repeat {
                        markers += append_stream(&log, stream, rpb, txns)?;
                    }
                    Ok(markers)
                })
            })
            .collect();
        barrier.wait();
        let timer = Timer::start();
        let mut markers = 0;
        let mut first_error = None;
        for h in handles {
            match h.join().map_err(|_| BenchError("an appender thread panicked".into())) {
                Ok(Ok(n)) => markers += n,
                Ok(Err(e)) | Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        if final_sync {
            engine.flush().ctx(|| "flush".into())?;
        }
        Ok((timer.stop(), markers))
    })?;
    let rounds = engine.group_commit_rounds() - rounds_before;
    let end_offsets: i64 = logs.iter().map(|l| l.log_end_offset()).sum();
    let expected = workload.records() * repeat as u64 + markers;
    if end_offsets as u64 != expected {
        return Err(BenchError(format!(
            "the log holds {end_offsets} offsets, but {expected} records and markers were appended"
        )));
    }
    drop(logs);
    engine.close().ctx(|| "close".into())?;
    let repeat = repeat as u64;
    Ok(Measurement {
        bytes: workload.bytes() * repeat,
        records: workload.records() * repeat,
        batches: workload.batches() * repeat,
        elapsed,
        cpu,
        fsyncs: None,
        rounds: (setup.durability == Durability::Always || final_sync).then_some(rounds),
        markers: txns.map(|_| markers),
    })
}

/// One appender thread; returns the number of markers written.
fn append_stream(
    log: &Arc<PartitionLog>,
    stream: &Stream,
    records_per_batch: usize,
    txns: Option<Transactions>,
) -> Result<u64> {
    let Some(t) = txns else {
        for b in &stream.batches {
            log.append(b).ctx(|| format!("append to {}", log.topic_partition()))?;
        }
        return Ok(0);
    };
    let (pid, epoch) = (stream.producer_id, stream.producer_epoch);
    let per_txn = t.batches_per_txn.max(1);
    let mut markers = 0;
    for (j, b) in stream.batches.iter().enumerate() {
        let pos = j % per_txn;
        if pos == 0 {
            let seq = (j * records_per_batch) as i32;
            let guard = log.create_verification_guard(pid, seq, epoch);
            let opts = AppendOptions { verification_guard: Some(guard), ..Default::default() };
            log.append_with(b, &opts)
        } else {
            log.append(b)
        }
        .ctx(|| format!("transactional append to {}", log.topic_partition()))?;
        if pos == per_txn - 1 || j + 1 == stream.batches.len() {
            let commit = !t.is_aborted(j / per_txn);
            log.append_marker(pid, epoch, COORDINATOR_EPOCH, commit, TRANSACTION_VERSION)
                .ctx(|| format!("marker on {}", log.topic_partition()))?;
            markers += 1;
        }
    }
    Ok(markers)
}

/// A log written once and reused by the read, recovery and open workloads (W5–W7).
#[derive(Debug)]
pub struct BuiltLog {
    dir: RunDir,
    /// Partitions of the bench topic.
    pub partitions: usize,
    /// Data batch bytes written (markers excluded).
    pub data_bytes: u64,
    /// Data records written.
    pub records: u64,
    /// Data records in committed transactions (all of them for non-transactional logs).
    pub committed_records: u64,
    /// Markers written.
    pub markers: u64,
    /// Bytes of the `.log` segment files.
    pub log_bytes: u64,
}

impl BuiltLog {
    /// The data directory (closed cleanly).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Writes `workload` (with `txns` markers for transactional ones) into a fresh directory under
/// `root` and closes it cleanly. Untimed setup for W5–W7.
pub fn build_log(
    root: &Path,
    workload: &Workload,
    backend: Backend,
    txns: Option<Transactions>,
) -> Result<BuiltLog> {
    build_log_impl(root, workload, backend, txns, 1)
}

/// [`build_log`] of a plain workload appended `repeat` times in a row: a log larger than the
/// batches kept in memory (W7's multi-GiB log).
pub fn build_log_repeated(
    root: &Path,
    workload: &Workload,
    backend: Backend,
    repeat: usize,
) -> Result<BuiltLog> {
    build_log_impl(root, workload, backend, None, repeat.max(1))
}

fn build_log_impl(
    root: &Path,
    workload: &Workload,
    backend: Backend,
    txns: Option<Transactions>,
    repeat: usize,
) -> Result<BuiltLog> {
    let dir = RunDir::new_in(root)?;
    let setup = EngineSetup { backend, durability: Durability::None };
    let m = append_impl(dir.path(), workload, setup, txns, false, repeat)?;
    let committed_records = match txns {
        None => m.records,
        Some(t) => workload
            .streams
            .iter()
            .map(|s| {
                let per_txn = t.batches_per_txn.max(1);
                (0..s.batches.len()).filter(|j| !t.is_aborted(j / per_txn)).count() as u64
                    * workload.shape.records_per_batch as u64
            })
            .sum(),
    };
    let log_bytes = segment_files(dir.path()).iter().map(|p| file_len(p)).sum();
    Ok(BuiltLog {
        dir,
        partitions: workload.shape.partitions,
        data_bytes: m.bytes,
        records: m.records,
        committed_records,
        markers: m.markers.unwrap_or(0),
        log_bytes,
    })
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// Every `.log` segment file under `dir`, sorted (partition directories, then base offsets).
pub fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(t) if t.is_file() && p.extension().is_some_and(|x| x == "log") => out.push(p),
                _ => {}
            }
        }
    }
    out.sort();
    out
}

/// W5: reads every partition of `log` from offset 0 to its last stable offset with
/// `read_committed` fetches of `fetch_bytes`, and counts the records a consumer would deliver
/// (dropping aborted transactions with the fetch's aborted list, as a Kafka consumer does).
///
/// `bytes` is what the fetches returned (data, aborted data and markers: everything scanned);
/// `records` the committed records delivered.
pub fn read_committed_scan(log: &BuiltLog, backend: Backend, fetch_bytes: u32) -> Result<Measurement> {
    let engine = open(log.dir(), EngineSetup { backend, durability: Durability::None })?;
    let logs: Vec<Arc<PartitionLog>> = (0..log.partitions)
        .map(|p| engine.partition(TOPIC, p as i32).ctx(|| format!("partition {p}")))
        .collect::<Result<_>>()?;
    let timer = Timer::start();
    let mut m = Measurement::default();
    for part in &logs {
        scan_partition(part, fetch_bytes, &mut m)?;
    }
    (m.elapsed, m.cpu) = timer.stop();
    drop(logs);
    engine.close().ctx(|| "close".into())?;
    Ok(m)
}

fn scan_partition(log: &PartitionLog, fetch_bytes: u32, m: &mut Measurement) -> Result<()> {
    let end = log.last_stable_offset();
    let mut offset = log.log_start_offset();
    // Producers whose aborted transaction we are inside (Kafka consumer's `abortedProducerIds`).
    let mut aborted_now: HashSet<i64> = HashSet::new();
    while offset < end {
        let fetch = log
            .read(offset, fetch_bytes, IsolationLevel::ReadCommitted)
            .ctx(|| format!("read {} at {offset}", log.topic_partition()))?;
        if fetch.records.is_empty() {
            break;
        }
        let mut aborted = fetch.aborted_transactions.unwrap_or_default();
        aborted.reverse(); // pop from the front in first-offset order
        m.bytes += fetch.records.len() as u64;
        for b in fetch.records.batches() {
            let b = b.ctx(|| "parse a fetched batch".into())?;
            while aborted.last().is_some_and(|a| a.first_offset <= b.last_offset()) {
                if let Some(a) = aborted.pop() {
                    aborted_now.insert(a.producer_id);
                }
            }
            offset = b.last_offset() + 1;
            if b.is_control() {
                if let Ok(Some(marker)) = b.end_txn_marker()
                    && !marker.commit
                {
                    aborted_now.remove(&b.producer_id());
                }
                continue;
            }
            m.batches += 1;
            if !(b.is_transactional() && aborted_now.contains(&b.producer_id())) {
                m.records += b.records_count() as u64;
            }
        }
    }
    Ok(())
}

/// A copy of a log in the state a `kill -9` leaves it: the engine was open (indexes at their
/// preallocated size, no clean-shutdown marker) and, as after a crash before the first
/// recovery-point checkpoint, there is no recovery point, so recovery scans everything.
#[derive(Debug)]
pub struct UncleanLog {
    dir: RunDir,
    /// Data bytes of the segment files (what a full recovery scans).
    pub log_bytes: u64,
    /// Records and markers in the log (its log end offset, summed over partitions).
    pub offsets: u64,
}

impl UncleanLog {
    /// Makes the template from a built log (untimed setup for W6). The built log is opened and
    /// closed again, unchanged.
    pub fn from_built(log: &BuiltLog, root: &Path, backend: Backend) -> Result<UncleanLog> {
        let dir = RunDir::new_in(root)?;
        let engine = open(log.dir(), EngineSetup { backend, durability: Durability::None })?;
        copy_tree(log.dir(), dir.path())?;
        engine.close().ctx(|| "close".into())?;
        std::fs::remove_file(dir.path().join(RECOVERY_POINT_CHECKPOINT)).ok();
        std::fs::remove_file(dir.path().join(eoslog::CLEAN_SHUTDOWN_FILE)).ok();
        Ok(UncleanLog { dir, log_bytes: log.log_bytes, offsets: log.records + log.markers })
    }

    /// The template directory (never opened by the workload itself).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Copies a directory tree, leaving out the lock file.
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).ctx(|| format!("mkdir {}", to.display()))?;
    for e in std::fs::read_dir(from).ctx(|| format!("read_dir {}", from.display()))? {
        let e = e.ctx(|| "read_dir entry".into())?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if e.file_name() == ".lock" {
            continue;
        }
        let t = e.file_type().ctx(|| format!("stat {}", src.display()))?;
        if t.is_dir() {
            copy_tree(&src, &dst)?;
        } else if t.is_file() {
            std::fs::copy(&src, &dst).ctx(|| format!("copy {}", src.display()))?;
        }
    }
    Ok(())
}

/// Result of one recovery run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Recovery {
    /// `bytes` = bytes the recovery scanned (from the recovery report), `batches` = batches it
    /// checked, `records` = offsets the recovered log holds, `elapsed` = `Engine::open`.
    pub measurement: Measurement,
    /// Whether the engine saw the log as cleanly shut down (must be false here).
    pub clean_shutdown: bool,
    /// Bytes recovery cut (must be 0: the copy is complete).
    pub truncated_bytes: u64,
}

/// W6: copies the unclean template into a fresh directory (untimed) and times `Engine::open`,
/// which recovers it. Throughput is the recovery report's scanned bytes over the open time.
pub fn recover(template: &UncleanLog, root: &Path, backend: Backend) -> Result<Recovery> {
    let dir = RunDir::new_in(root)?;
    copy_tree(template.dir(), dir.path())?;
    settle();
    let timer = Timer::start();
    let engine = open(dir.path(), EngineSetup { backend, durability: Durability::None })?;
    let (elapsed, cpu) = timer.stop();
    let report = engine.recovery_report().clone();
    let offsets: i64 = report.partitions.iter().map(|p| p.log_end_offset).sum();
    engine.close().ctx(|| "close".into())?;
    Ok(Recovery {
        measurement: Measurement {
            bytes: report.partitions.iter().map(|p| p.bytes_scanned).sum(),
            batches: report.partitions.iter().map(|p| p.batches_scanned).sum(),
            records: offsets as u64,
            elapsed,
            cpu,
            ..Default::default()
        },
        clean_shutdown: report.clean_shutdown,
        truncated_bytes: report.truncated_bytes(),
    })
}

/// W7: times `Engine::open` of a cleanly closed log (then closes it again, untimed). `bytes` is
/// the size of the log's segment files, `records` its log end offsets summed.
pub fn open_clean(log: &BuiltLog, backend: Backend) -> Result<Measurement> {
    settle();
    let timer = Timer::start();
    let engine = open(log.dir(), EngineSetup { backend, durability: Durability::None })?;
    let (elapsed, cpu) = timer.stop();
    if !engine.recovery_report().clean_shutdown {
        return Err(BenchError("the log was not seen as cleanly closed".into()));
    }
    let offsets: i64 = engine.recovery_report().partitions.iter().map(|p| p.log_end_offset).sum();
    engine.close().ctx(|| "close".into())?;
    Ok(Measurement { bytes: log.log_bytes, records: offsets as u64, elapsed, cpu, ..Default::default() })
}
