//! Failed fsyncs and writes (EIO, ENOSPC, short writes) on the fault-injecting disk.
//!
//! After a failed write or fsync a partition refuses every later write with
//! `StorageError::Offline` (KAFKA_STORAGE_ERROR, 56) until it is reopened, and nothing is
//! acknowledged that was not durable: with `durability=always` the append whose fsync failed
//! gets an error, and so does every appender whose bytes that fsync covered. A failed fsync is
//! never retried and trusted — the fault disk behaves as Linux does after a failed write-back
//! (fsyncgate: the pages are marked clean, so a later fsync "succeeds" without writing them) —
//! and a reopen, after a power loss or after a plain process restart, recovers correctly.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::Arc;

use eoslog::batch::RecordBatchBuilder;
use eoslog::clock::ManualClock;
use eoslog::io::fault::{CrashMode, Errno, FaultAction, FaultBackend, FaultPlan, OpKind};
use eoslog::io::{DirEntry, DirLock, FileType, IoBackend, IoFile, IoKind, MappedRegion, OpenMode};
use eoslog::log::checkpoint::RECOVERY_POINT_CHECKPOINT;
use eoslog::offsets::OffsetAndMetadata;
use eoslog::{Durability, Engine, EngineConfig, Error, ErrorCode, IsolationLevel, StorageError, TopicConfig};
use parking_lot::{Condvar, Mutex};

const DATA: &str = "/data";
const T0: i64 = 1_700_000_000_000;

fn config(durability: Durability) -> EngineConfig {
    let mut topic_defaults = TopicConfig::default();
    topic_defaults.set("segment.index.bytes", "1024").unwrap();
    EngineConfig {
        durability,
        clock: ManualClock::new(T0),
        topic_defaults,
        transaction_abort_timed_out_interval_ms: 3_600_000,
        ..EngineConfig::default()
    }
}

fn open_on(io: Arc<dyn IoBackend>, durability: Durability) -> eoslog::Result<Engine> {
    Engine::open_with_backend(DATA, config(durability), io)
}

fn open(fs: &FaultBackend, durability: Durability) -> Engine {
    open_on(Arc::new(fs.clone()), durability).unwrap()
}

/// A fresh disk with topic `t` (two partitions, small segments) and everything durable.
fn setup(durability: Durability) -> (FaultBackend, Engine) {
    let fs = FaultBackend::new();
    let engine = open(&fs, durability);
    engine.create_topic_with("t", 2, &[("segment.bytes", "600"), ("index.interval.bytes", "128")]).unwrap();
    (fs, engine)
}

fn batch(value: &str) -> Vec<u8> {
    let mut b = RecordBatchBuilder::new();
    b.append(T0, None, Some(value.as_bytes()), &[]);
    b.build().unwrap()
}

fn idempotent(pid: i64, seq: i32, value: &str) -> Vec<u8> {
    let mut b = RecordBatchBuilder::new().producer(pid, 0, seq);
    b.append(T0, None, Some(value.as_bytes()), &[]);
    b.build().unwrap()
}

/// The values of a partition from its log start, read_uncommitted.
fn values(engine: &Engine, partition: i32) -> Vec<String> {
    let log = engine.partition("t", partition).unwrap();
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    loop {
        let data = log.read(offset, 1 << 20, IsolationLevel::ReadUncommitted).unwrap();
        if data.records.is_empty() {
            return out;
        }
        for b in data.records.batches() {
            let b = b.unwrap();
            for r in b.records().unwrap().iter() {
                out.push(String::from_utf8(r.unwrap().value.unwrap().to_vec()).unwrap());
            }
            offset = b.next_offset();
        }
    }
}

/// Asserts `e` is the sticky offline error of partition `t-<p>`, with Kafka's code.
#[track_caller]
fn assert_offline(e: &Error, p: i32) {
    assert_eq!(e.code(), ErrorCode::KafkaStorageError, "{e}");
    match e {
        Error::Storage(StorageError::Offline { partition, .. }) => assert_eq!(partition, &format!("t-{p}")),
        other => panic!("expected StorageError::Offline, got {other:?}"),
    }
}

/// Stops an engine whose disk may be failing (its close error is expected).
fn shut(engine: Engine) {
    let _ = engine.close();
    drop(engine);
}

/// The recovery point `t-<p>` has in the checkpoint file on disk (what a restart trusts).
fn checkpointed_recovery_point(fs: &FaultBackend, p: i32) -> Option<i64> {
    let bytes = fs.file_bytes(&Path::new(DATA).join(RECOVERY_POINT_CHECKPOINT))?;
    let text = String::from_utf8(bytes).unwrap();
    text.lines().skip(2).find_map(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        (f.len() == 3 && f[0] == "t" && f[1] == p.to_string()).then(|| f[2].parse().unwrap())
    })
}

// ------------------------------------------------------------------- durability=always

#[test]
fn a_failed_fsync_fails_the_append_and_takes_the_partition_offline() {
    for errno in [Errno::Eio, Errno::Enospc] {
        let (fs, engine) = setup(Durability::Always);
        let log = engine.partition("t", 0).unwrap();
        log.append(&batch("before")).unwrap();
        let (end, durable, hw) = (log.log_end_offset(), log.durable_offset(), log.high_watermark());
        // The next sync is the group-commit fdatasync of the append below.
        fs.set_plan(FaultPlan::new().fail(OpKind::Sync, 1, errno));
        let e = log.append(&batch("failed")).unwrap_err();
        assert_offline(&e, 0);
        assert!(log.failure().unwrap().contains("fdatasync"), "{:?}", log.failure());
        // Nothing of it is durable or visible; readers never see it.
        assert_eq!((log.durable_offset(), log.high_watermark()), (durable, hw), "{errno:?}");
        assert_eq!(log.log_end_offset(), end + 1, "written, but not acknowledged");
        assert_eq!(values(&engine, 0), ["before"], "{errno:?}: the high watermark hides it");
        // Sticky: every later write to the partition is refused, nothing retried.
        fs.set_plan(FaultPlan::new());
        let ops = fs.op_count();
        for _ in 0..3 {
            assert_offline(&log.append(&batch("later")).unwrap_err(), 0);
            assert_offline(&log.sync().unwrap_err(), 0);
        }
        assert_offline(&log.delete_records(0).unwrap_err(), 0);
        assert_offline(&log.force_roll().unwrap_err(), 0);
        assert_eq!(fs.op_count(), ops, "{errno:?}: an offline partition does no I/O");
        assert!(engine.flush().is_err(), "{errno:?}: flush reports the offline partition");
        // The other partition is not affected.
        engine.partition("t", 1).unwrap().append(&batch("other")).unwrap();
        assert_eq!(values(&engine, 1), ["other"]);
        // Closing fails (no clean-shutdown marker); after a power loss the acknowledged data
        // is there, the failed append is not, and the partition takes writes again.
        assert!(engine.close().is_err());
        drop(engine);
        assert!(fs.file_bytes(&Path::new(DATA).join(eoslog::CLEAN_SHUTDOWN_FILE)).is_none());
        fs.crash();
        let engine = open(&fs, Durability::Always);
        assert_eq!(values(&engine, 0), ["before"], "{errno:?}");
        assert_eq!(values(&engine, 1), ["other"], "{errno:?}");
        let log = engine.partition("t", 0).unwrap();
        assert!(log.failure().is_none());
        log.append(&batch("after")).unwrap();
        assert_eq!(values(&engine, 0), ["before", "after"], "{errno:?}");
    }
}

#[test]
fn a_failed_or_short_write_fails_the_append_and_takes_the_partition_offline() {
    let actions = [
        FaultAction::Fail(Errno::Eio),
        FaultAction::Fail(Errno::Enospc),
        FaultAction::ShortWrite { written: 30, errno: Errno::Enospc },
        FaultAction::ShortWrite { written: 70, errno: Errno::Eio },
    ];
    for action in actions {
        for power_loss in [false, true] {
            let what = format!("{action:?}, power loss {power_loss}");
            let (fs, engine) = setup(Durability::Always);
            let log = engine.partition("t", 0).unwrap();
            log.append(&batch("before")).unwrap();
            let end = log.log_end_offset();
            fs.set_plan(FaultPlan::new().rule(OpKind::Write, 1, action));
            let e = log.append(&batch("failed")).unwrap_err();
            assert_eq!(e.code(), ErrorCode::KafkaStorageError, "{what}: {e}");
            assert!(log.failure().unwrap().contains("write"), "{what}: {:?}", log.failure());
            assert_eq!(log.log_end_offset(), end, "{what}: the log end did not move");
            fs.set_plan(FaultPlan::new());
            assert_offline(&log.append(&batch("later")).unwrap_err(), 0);
            assert_eq!(values(&engine, 0), ["before"], "{what}");
            // A restart: after a power loss, or a process restart where the page cache
            // (holding the partial batch) survives. Recovery cuts the partial batch.
            if power_loss {
                shut(engine);
                fs.crash();
            } else {
                fs.set_plan(FaultPlan::new().die_at(1));
                shut(engine);
                fs.persist_all();
                fs.crash();
            }
            let engine = open(&fs, Durability::Always);
            let report = engine.recovery_report();
            assert!(!report.clean_shutdown, "{what}");
            assert_eq!(values(&engine, 0), ["before"], "{what}");
            let log = engine.partition("t", 0).unwrap();
            log.append(&batch("after")).unwrap();
            assert_eq!(values(&engine, 0), ["before", "after"], "{what}");
        }
    }
}

/// An offset commit whose fsync fails is not acknowledged and not applied: the committed
/// offset stays what it was, also after a restart.
#[test]
fn a_failed_fsync_of_an_offset_commit_is_not_applied() {
    let (fs, engine) = setup(Durability::Always);
    let offsets = engine.offsets().clone();
    offsets.commit("g", &[("t".into(), 0, OffsetAndMetadata::new(5))]).unwrap();
    fs.set_plan(FaultPlan::new().fail(OpKind::Sync, 1, Errno::Eio));
    let e = offsets.commit("g", &[("t".into(), 0, OffsetAndMetadata::new(9))]).unwrap_err();
    assert_eq!(e.code(), ErrorCode::KafkaStorageError, "{e}");
    assert_eq!(offsets.committed("g", "t", 0).unwrap().offset, 5, "applied before it was durable");
    fs.set_plan(FaultPlan::new());
    assert_eq!(
        offsets.commit("g", &[("t".into(), 0, OffsetAndMetadata::new(11))]).unwrap_err().code(),
        ErrorCode::KafkaStorageError
    );
    assert_eq!(offsets.committed("g", "t", 0).unwrap().offset, 5);
    drop(offsets);
    shut(engine);
    fs.crash();
    let engine = open(&fs, Durability::Always);
    assert_eq!(engine.offsets().committed("g", "t", 0).unwrap().offset, 5);
    engine.offsets().commit("g", &[("t".into(), 0, OffsetAndMetadata::new(12))]).unwrap();
}

// --------------------------------------------------------------- concurrent appenders

/// A backend around the fault disk whose first data sync of `t-0` waits until `expected`
/// appends to `t-0` have written their bytes: all of them are then covered by that fsync,
/// which the fault plan fails.
#[derive(Debug)]
struct Gate {
    inner: FaultBackend,
    expected: usize,
    state: Arc<(Mutex<GateState>, Condvar)>,
}

#[derive(Debug, Default)]
struct GateState {
    armed: bool,
    writes: usize,
    opened: bool,
}

#[derive(Debug)]
struct GateFile {
    inner: Arc<dyn IoFile>,
    watched: bool,
    expected: usize,
    state: Arc<(Mutex<GateState>, Condvar)>,
}

impl GateFile {
    fn wait_for_writers(&self) {
        if !self.watched {
            return;
        }
        let (lock, cv) = &*self.state;
        let mut st = lock.lock();
        if !st.armed || st.opened {
            return;
        }
        // A safety bound only: the test asserts the gate opened because every writer wrote.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while st.writes < self.expected && std::time::Instant::now() < deadline {
            cv.wait_until(&mut st, deadline);
        }
        st.opened = st.writes >= self.expected;
    }
}

impl IoFile for GateFile {
    fn path(&self) -> &Path {
        self.inner.path()
    }
    fn read_at(&self, buf: &mut [u8], pos: u64) -> io::Result<usize> {
        self.inner.read_at(buf, pos)
    }
    fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()> {
        let r = self.inner.write_all_at(buf, pos);
        if self.watched {
            let (lock, cv) = &*self.state;
            let mut st = lock.lock();
            if st.armed {
                st.writes += 1;
                cv.notify_all();
            }
        }
        r
    }
    fn sync_data(&self) -> io::Result<()> {
        self.wait_for_writers();
        self.inner.sync_data()
    }
    fn sync_all(&self) -> io::Result<()> {
        self.wait_for_writers();
        self.inner.sync_all()
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }
    fn map(&self, len: usize) -> io::Result<Box<dyn MappedRegion>> {
        self.inner.map(len)
    }
    fn raw_fd(&self) -> Option<i32> {
        None
    }
}

impl IoBackend for Gate {
    fn kind(&self) -> IoKind {
        IoKind::Fault
    }
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn IoFile>> {
        let inner = self.inner.open(path, mode)?;
        let watched = path.starts_with("/data/t-0") && path.extension().is_some_and(|e| e == "log");
        Ok(Arc::new(GateFile { inner, watched, expected: self.expected, state: self.state.clone() }))
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.inner.create_dir_all(path)
    }
    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_dir(path)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_file(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.inner.sync_dir(path)
    }
    fn read_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        self.inner.read_dir(path)
    }
    fn metadata(&self, path: &Path) -> io::Result<Option<FileType>> {
        self.inner.metadata(path)
    }
    fn lock_dir(&self, dir: &Path) -> io::Result<Box<dyn DirLock>> {
        self.inner.lock_dir(dir)
    }
}

/// Eight appenders write to one partition with `durability=always`; the fsync that covers all
/// of their bytes fails. Every one of them gets the error, none is acknowledged, and after a
/// power loss none of their records is there.
#[test]
fn every_appender_covered_by_a_failed_fsync_gets_the_error() {
    const WRITERS: usize = 8;
    for errno in [Errno::Eio, Errno::Enospc] {
        let fs = FaultBackend::new();
        let state = Arc::new((Mutex::new(GateState::default()), Condvar::new()));
        let gate = Arc::new(Gate { inner: fs.clone(), expected: WRITERS, state: state.clone() });
        let engine = open_on(gate, Durability::Always).unwrap();
        // One segment holds every append (no roll, whose flush would sync first).
        engine.create_topic_with("t", 1, &[("segment.bytes", "1048576")]).unwrap();
        let log = engine.partition("t", 0).unwrap();
        log.append(&batch("before")).unwrap();
        let durable = log.durable_offset();
        state.0.lock().armed = true;
        fs.set_plan(FaultPlan::new().fail(OpKind::Sync, 1, errno));
        let results: Vec<eoslog::Result<eoslog::AppendInfo>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..WRITERS)
                .map(|i| {
                    s.spawn({
                        let log = log.clone();
                        move || log.append(&batch(&format!("w{i}")))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(state.0.lock().opened, "{errno:?}: the fsync did not wait for every writer");
        for r in &results {
            let e = r.as_ref().expect_err("an append covered by a failed fsync was acknowledged");
            assert_eq!(e.code(), ErrorCode::KafkaStorageError, "{errno:?}: {e}");
        }
        assert_eq!(log.durable_offset(), durable);
        assert_eq!(log.log_end_offset(), durable + WRITERS as i64);
        assert_eq!(values(&engine, 0), ["before"]);
        shut(engine);
        fs.crash();
        let engine = open(&fs, Durability::Always);
        assert_eq!(values(&engine, 0), ["before"], "{errno:?}");
    }
}

// ------------------------------------------------------------------------- fsyncgate

/// With `durability=none` an explicit flush is the durability point. When its fsync fails, the
/// bytes it covered are never reported durable: not by a retried flush (refused: the partition
/// is offline), not by the recovery point in memory or in the checkpoint file, and — the case
/// Linux makes treacherous, since the failed pages are still readable but will never be
/// written — not after a process restart either: a power loss after that restart must not find
/// the recovery point above data that never reached the disk.
#[test]
fn a_failed_fsync_is_never_retried_and_trusted() {
    for restart_first in [false, true] {
        let what = if restart_first { "restart, then power loss" } else { "power loss" };
        let (fs, engine) = setup(Durability::None);
        let log = engine.partition("t", 0).unwrap();
        let pid = engine.transactions().init_producer_id(None, 60_000, None).unwrap().producer_id;
        log.append(&idempotent(pid, 0, "a")).unwrap();
        engine.flush().unwrap();
        let durable = log.durable_offset();
        let recovery_point = log.recovery_point();
        assert_eq!((durable, recovery_point), (1, 1));
        log.append(&idempotent(pid, 1, "b")).unwrap();
        log.append(&idempotent(pid, 2, "c")).unwrap();
        let log_file = log.dir().join(format!("{:020}.log", 0));
        fs.set_plan(FaultPlan::new().fail(OpKind::Sync, 1, Errno::Eio));
        assert_offline(&log.flush().unwrap_err(), 0);
        fs.set_plan(FaultPlan::new());
        // Never retried, never trusted.
        for _ in 0..3 {
            assert_offline(&log.sync().unwrap_err(), 0);
            assert_offline(&log.flush().unwrap_err(), 0);
            assert!(engine.flush().is_err());
        }
        assert_eq!((log.durable_offset(), log.recovery_point()), (durable, recovery_point), "{what}");
        assert!(checkpointed_recovery_point(&fs, 0).is_none_or(|r| r <= durable), "{what}");
        // What the failed fsync covered is cut from the file at once: the kernel may have
        // dropped those pages from write-back while keeping them readable, and a restarted
        // process must not read them back and trust them. What reads see is what is durable.
        let durable_bytes = fs.durable_bytes(&log_file).unwrap();
        assert_eq!(fs.file_bytes(&log_file).unwrap(), durable_bytes, "{what}");
        assert_eq!(values(&engine, 0), ["a"], "{what}");
        // A successful sync of the file now (as a retry would be) changes nothing on disk.
        let f = fs.open(&log_file, OpenMode::ReadWrite).unwrap();
        f.sync_data().unwrap();
        assert_eq!(fs.durable_bytes(&log_file).unwrap(), durable_bytes, "{what}");
        drop(f);
        drop(log);
        shut(engine);
        if restart_first {
            // A process restart: the failed pages are still in the page cache.
            let engine = open(&fs, Durability::None);
            let vals = values(&engine, 0);
            assert!(vals.starts_with(&["a".to_string()]), "{what}: {vals:?}");
            let log = engine.partition("t", 0).unwrap();
            log.append(&idempotent(pid, vals.len() as i32, "d")).unwrap();
            engine.flush().unwrap();
            shut(engine);
        }
        fs.crash_with(CrashMode::DropUnsynced);
        let engine = open_on(Arc::new(fs.clone()), Durability::None)
            .unwrap_or_else(|e| panic!("{what}: the reopen after the power loss failed: {e}"));
        let vals = values(&engine, 0);
        assert_eq!(vals.first().map(String::as_str), Some("a"), "{what}: {vals:?}");
        if restart_first {
            assert_eq!(
                vals.last().map(String::as_str),
                Some("d"),
                "{what}: the flushed append was lost: {vals:?}"
            );
        }
        let log = engine.partition("t", 0).unwrap();
        log.append(&batch("after")).unwrap();
        engine.flush().unwrap();
    }
}

// ---------------------------------------------------------------- every operation fails

/// The workload for the sweep: appends (rolling every few batches), producer snapshots,
/// flushes and retention; stops at nothing. Returns what each call answered.
fn sweep_workload(engine: &Engine) -> Vec<(String, Result<(), ErrorCode>)> {
    let mut out = Vec::new();
    for i in 0..24 {
        let p = i % 2;
        let value = format!("v{i}");
        let r = engine.partition("t", p).unwrap().append(&batch(&value)).map(|_| ()).map_err(|e| e.code());
        out.push((value, r));
        if i % 8 == 7 {
            out.push(("flush".into(), engine.flush().map_err(|e| e.code())));
            out.push(("retention".into(), engine.run_retention().map(|_| ()).map_err(|e| e.code())));
        }
    }
    out
}

/// Every I/O operation of the workload fails in turn (EIO, then ENOSPC, then a short write):
/// a partition that failed never takes a write again until reopened; every acknowledged append
/// survives a power loss — directly after the failure, or after a process restart that
/// acknowledged more appends — and the reopened engine takes writes.
#[test]
fn every_failed_operation_of_a_workload_keeps_acknowledged_data() {
    let probe = {
        let (fs, engine) = setup(Durability::Always);
        let base = fs.op_count();
        sweep_workload(&engine);
        let ops = fs.op_count() - base;
        shut(engine);
        ops
    };
    assert!(probe > 50, "{probe}");
    let mut tried = 0;
    for n in 1..=probe {
        let action = match n % 3 {
            0 => FaultAction::Fail(Errno::Eio),
            1 => FaultAction::Fail(Errno::Enospc),
            _ => FaultAction::ShortWrite { written: 20, errno: Errno::Enospc },
        };
        let what = format!("I/O {n}/{probe} fails with {action:?}");
        let (fs, engine) = setup(Durability::Always);
        fs.set_plan(FaultPlan::new().rule(OpKind::Any, n, action));
        let answers = sweep_workload(&engine);
        fs.set_plan(FaultPlan::new());
        // Sticky: once a partition refused a write, it refuses every later one.
        let mut offline = BTreeMap::new();
        for (i, (value, r)) in answers.iter().enumerate() {
            if let Some(p) = value.strip_prefix('v').map(|v| v.parse::<usize>().unwrap() % 2) {
                if offline.contains_key(&p) {
                    assert_eq!(
                        *r,
                        Err(ErrorCode::KafkaStorageError),
                        "{what}: {value} after the failure: {r:?}"
                    );
                }
                if r.is_err() {
                    offline.entry(p).or_insert(i);
                }
            }
        }
        let mut acked: Vec<String> =
            answers.iter().filter(|(v, r)| v.starts_with('v') && r.is_ok()).map(|(v, _)| v.clone()).collect();
        shut(engine);
        if n % 4 < 2 {
            // A process restart first (the page cache survives, including pages whose
            // write-back failed), more appends acknowledged as durable, then the power loss.
            let engine = open_on(Arc::new(fs.clone()), Durability::Always)
                .unwrap_or_else(|e| panic!("{what}: restart failed: {e}"));
            for p in 0..2 {
                let value = format!("r{p}");
                engine
                    .partition("t", p)
                    .unwrap()
                    .append(&batch(&value))
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                acked.push(value);
            }
            shut(engine);
        }
        fs.crash_with(if n % 2 == 0 {
            CrashMode::DropUnsynced
        } else {
            CrashMode::Torn { seed: n, sector: 512 }
        });
        let engine = open_on(Arc::new(fs.clone()), Durability::Always)
            .unwrap_or_else(|e| panic!("{what}: reopen failed: {e}"));
        let mut present: Vec<String> = values(&engine, 0);
        present.extend(values(&engine, 1));
        for v in &acked {
            assert!(present.contains(v), "{what}: acknowledged {v} lost; present {present:?}");
        }
        let distinct: std::collections::BTreeSet<&String> = present.iter().collect();
        assert_eq!(distinct.len(), present.len(), "{what}: duplicates {present:?}");
        for p in 0..2 {
            engine
                .partition("t", p)
                .unwrap()
                .append(&batch("after"))
                .unwrap_or_else(|e| panic!("{what}: t-{p}: {e}"));
        }
        shut(engine);
        tried += 1;
    }
    eprintln!("fsync_failure: {tried} failed operations, each followed by a power loss and a reopen");
}
