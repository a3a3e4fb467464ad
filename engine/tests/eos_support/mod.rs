//! Helpers shared by the exactly-once integration tests (`eos_*.rs`): an engine with one
//! partition and a manual clock, batch builders that track sequences the way Kafka's
//! `LogTestUtils` does, and readers for the files a partition directory holds.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use eoslog::batch::RecordBatchBuilder;
use eoslog::clock::ManualClock;
use eoslog::log::checkpoint::RECOVERY_POINT_CHECKPOINT;
use eoslog::producer::{SnapshotEntry, decode_snapshot};
use eoslog::segment::AbortedTxn;
use eoslog::{
    AppendInfo, CLEAN_SHUTDOWN_FILE, CommittedRecords, Engine, EngineConfig, IsolationLevel, PartitionLog,
    TopicConfig,
};

/// The manual clock's start: 2023-11-14T22:13:20Z.
pub const T0: i64 = 1_700_000_000_000;

/// Where [`Opts::memory_fs`] puts data directories.
pub const MEMORY_FS: &str = "/dev/shm";

/// Whether [`MEMORY_FS`] can hold test directories.
pub fn memory_fs_available() -> bool {
    tempfile::Builder::new().prefix("eoslog-probe").tempdir_in(MEMORY_FS).is_ok()
}

/// The topic every helper uses.
pub const TOPIC: &str = "t";

/// How to open the test engine.
#[derive(Debug, Clone, Default)]
pub struct Opts {
    /// `transaction.partition.verification.enable`. Kafka's log-layer tests run with it off
    /// (`LogTestUtils` builds its `ProducerStateManagerConfig` that way); so do the ports.
    pub verification: bool,
    /// `high.watermark=external`, for the tests that move the high watermark by hand as Kafka's
    /// `log.updateHighWatermark` does.
    pub external_hw: bool,
    /// Topic configuration pairs.
    pub topic: Vec<(String, String)>,
    /// `producer.id.expiration.ms`.
    pub producer_expiration_ms: Option<i64>,
    /// Put the data directory on a memory file system when there is one (`/dev/shm`): for
    /// tests that open thousands of engines, where fsync latency is all the cost and none of
    /// the point.
    pub memory_fs: bool,
}

impl Opts {
    /// Adds a topic configuration pair.
    pub fn topic(mut self, key: &str, value: &str) -> Self {
        self.topic.push((key.to_string(), value.to_string()));
        self
    }

    /// With an externally managed high watermark.
    pub fn external_hw(mut self) -> Self {
        self.external_hw = true;
        self
    }

    /// On a memory file system when available.
    pub fn memory_fs(mut self) -> Self {
        self.memory_fs = true;
        self
    }

    /// A fresh temporary directory, on `/dev/shm` when asked for and usable.
    pub fn temp_dir(&self) -> tempfile::TempDir {
        if self.memory_fs
            && let Ok(d) = tempfile::Builder::new().prefix("eoslog-test").tempdir_in(MEMORY_FS)
        {
            return d;
        }
        tempfile::tempdir().unwrap()
    }

    /// With KIP-890 verification on.
    pub fn verification(mut self) -> Self {
        self.verification = true;
        self
    }

    /// The engine configuration (topic defaults included, so a directory found on disk without
    /// metadata gets them too).
    pub fn engine_config(&self, clock: &Arc<ManualClock>) -> EngineConfig {
        let defaults = EngineConfig::default();
        EngineConfig {
            clock: clock.clone(),
            transaction_verification_enable: self.verification,
            external_high_watermark: self.external_hw,
            producer_id_expiration_ms: self
                .producer_expiration_ms
                .unwrap_or(defaults.producer_id_expiration_ms),
            // Expiry only when a test asks for it.
            producer_id_expiration_check_interval_ms: i64::MAX / 4,
            topic_defaults: self.topic_config(),
            ..defaults
        }
    }

    /// The topic configuration.
    pub fn topic_config(&self) -> TopicConfig {
        let mut t = TopicConfig { retention_ms: -1, ..TopicConfig::default() };
        for (k, v) in &self.topic {
            t.set(k, v).unwrap();
        }
        t
    }
}

/// An engine with topic `t` (one partition) in a temporary directory, and its manual clock.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub clock: Arc<ManualClock>,
    pub opts: Opts,
    engine: Option<Engine>,
    pub log: Arc<PartitionLog>,
}

impl Setup {
    pub fn new(opts: Opts) -> Setup {
        let dir = opts.temp_dir();
        let clock = ManualClock::new(T0);
        let engine = Engine::open(dir.path(), opts.engine_config(&clock)).unwrap();
        engine.create_topic(TOPIC, 1, opts.topic_config()).unwrap();
        let log = engine.partition(TOPIC, 0).unwrap();
        Setup { dir, clock, opts, engine: Some(engine), log }
    }

    /// The running engine.
    pub fn engine(&self) -> &Engine {
        self.engine.as_ref().expect("engine is open")
    }

    /// Closes the engine (ignoring a failure: a partition may be offline) and releases the
    /// directory lock.
    fn shut(&mut self) {
        if let Some(e) = self.engine.take() {
            let _ = e.close();
        }
    }

    fn open_dir(&mut self) {
        let engine = Engine::open(self.dir.path(), self.opts.engine_config(&self.clock)).unwrap();
        self.log = engine.partition(TOPIC, 0).unwrap();
        self.engine = Some(engine);
    }

    /// The partition directory.
    pub fn part_dir(&self) -> PathBuf {
        self.dir.path().join(format!("{TOPIC}-0"))
    }

    /// Closes the engine cleanly and opens it again.
    pub fn reopen(&mut self) {
        self.engine().close().unwrap();
        self.reopen_as_is();
    }

    /// Drops the engine (closing it) even if closing fails, then opens the directory as it is.
    pub fn reopen_as_is(&mut self) {
        self.shut();
        self.open_dir();
    }

    /// Closes cleanly, then makes the next open unclean with the given recovery point (0 means
    /// "recover everything", Kafka's `createLog(recoveryPoint = 0, lastShutdownClean = false)`).
    pub fn reopen_unclean(&mut self, recovery_point: i64) {
        self.engine().close().unwrap();
        self.shut();
        make_unclean(self.dir.path(), recovery_point);
        self.reopen_as_is();
    }

    /// The state a crash of the running engine leaves (a copy of its files while it runs, as
    /// SIGKILL would leave them with `durability=none`), opened uncleanly in a new directory.
    /// The running engine is closed and replaced.
    pub fn crash_and_reopen(&mut self) {
        let crashed = self.opts.temp_dir();
        copy_tree(self.dir.path(), crashed.path());
        self.shut();
        self.dir = crashed;
        self.open_dir();
        assert!(!self.engine().recovery_report().clean_shutdown);
    }
}

/// Removes the clean-shutdown marker and sets the partition's recovery point.
pub fn make_unclean(data_dir: &Path, recovery_point: i64) {
    let marker = data_dir.join(CLEAN_SHUTDOWN_FILE);
    if marker.exists() {
        std::fs::remove_file(&marker).unwrap();
    }
    std::fs::write(data_dir.join(RECOVERY_POINT_CHECKPOINT), format!("0\n1\n{TOPIC} 0 {recovery_point}\n"))
        .unwrap();
}

/// Copies a directory tree without the lock file. A file that disappears while the tree is
/// copied (a checkpoint's temporary file renamed by the engine's background thread) is skipped,
/// as it would be missing from a crash image taken a moment later.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        let t = to.join(e.file_name());
        if p.is_dir() {
            copy_tree(&p, &t);
        } else if e.file_name() != ".lock" {
            match std::fs::copy(&p, &t) {
                Ok(_) => {}
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => panic!("copy {}: {err}", p.display()),
            }
        }
    }
}

/// Every file under a directory: relative path → bytes.
pub fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.insert(p.strip_prefix(base).unwrap().display().to_string(), std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// A batch: `n` records at timestamp `ts`, values `tag-i`.
pub fn records(pid: i64, epoch: i16, seq: i32, txn: bool, n: usize, ts: i64, tag: &str) -> Vec<u8> {
    let mut b = RecordBatchBuilder::new().transactional(txn);
    if pid >= 0 {
        b = b.producer(pid, epoch, seq);
    }
    for i in 0..n {
        let v = format!("{tag}-{i}");
        b.append(ts, Some(b"key"), Some(v.as_bytes()), &[]);
    }
    b.build().unwrap()
}

/// A plain (non-idempotent) batch of `n` records.
pub fn plain(n: usize, ts: i64, tag: &str) -> Vec<u8> {
    records(-1, -1, -1, false, n, ts, tag)
}

/// Kafka's `LogTestUtils.appendNonTransactionalAsLeader`.
pub fn append_plain(log: &Arc<PartitionLog>, n: usize) -> AppendInfo {
    log.append(&plain(n, T0, "plain")).unwrap()
}

/// A producer that numbers its batches like Kafka's `appendTransactionalAsLeader` /
/// `appendIdempotentAsLeader`: sequences carry on from one append to the next.
#[derive(Debug, Clone)]
pub struct Producer {
    pub pid: i64,
    pub epoch: i16,
    pub seq: i32,
}

impl Producer {
    pub fn new(pid: i64, epoch: i16) -> Producer {
        Producer { pid, epoch, seq: 0 }
    }

    /// The next batch (does not advance the sequence).
    pub fn batch(&self, txn: bool, n: usize, ts: i64) -> Vec<u8> {
        records(self.pid, self.epoch, self.seq, txn, n, ts, &format!("p{}-s{}", self.pid, self.seq))
    }

    /// Appends `n` transactional records as a client; the sequence advances on success.
    pub fn txn(&mut self, log: &Arc<PartitionLog>, n: usize) -> AppendInfo {
        let info = log.append(&self.batch(true, n, T0)).unwrap();
        self.seq += n as i32;
        info
    }

    /// Appends `n` idempotent (non-transactional) records as a client.
    pub fn idem(&mut self, log: &Arc<PartitionLog>, n: usize) -> AppendInfo {
        let info = log.append(&self.batch(false, n, T0)).unwrap();
        self.seq += n as i32;
        info
    }

    /// Writes a COMMIT or ABORT marker for this producer (coordinator origin, TV1).
    pub fn end(&self, log: &Arc<PartitionLog>, commit: bool, coordinator_epoch: i32) -> AppendInfo {
        log.append_marker(self.pid, self.epoch, coordinator_epoch, commit, 1).unwrap()
    }
}

/// The Kafka error code of a failed call.
pub fn code<T: Debug>(r: eoslog::Result<T>) -> i16 {
    r.expect_err("expected an error").code().code()
}

/// The `.txnindex` entries of a partition directory, in segment order.
pub fn txnindex_entries(part_dir: &Path) -> Vec<AbortedTxn> {
    txnindex_files(part_dir).into_values().flatten().collect()
}

/// `.txnindex` entries per segment base offset (only files that exist).
pub fn txnindex_files(part_dir: &Path) -> BTreeMap<i64, Vec<AbortedTxn>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(part_dir).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        let Some(stem) = name.strip_suffix(".txnindex") else { continue };
        let bytes = std::fs::read(part_dir.join(&name)).unwrap();
        assert_eq!(bytes.len() % AbortedTxn::SIZE, 0, "{name} holds whole entries");
        let entries = bytes
            .chunks_exact(AbortedTxn::SIZE)
            .map(|c| AbortedTxn::from_bytes(c.try_into().unwrap()).unwrap())
            .collect();
        out.insert(stem.parse::<i64>().unwrap(), entries);
    }
    out
}

/// `AbortedTxn` from Kafka's constructor order `(pid, first, last, lso)`.
pub fn aborted(producer_id: i64, first_offset: i64, last_offset: i64, last_stable_offset: i64) -> AbortedTxn {
    AbortedTxn { producer_id, first_offset, last_offset, last_stable_offset }
}

/// The offsets of the `.snapshot` files of a partition directory.
pub fn snapshot_offsets(part_dir: &Path) -> BTreeSet<i64> {
    std::fs::read_dir(part_dir)
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().into_string().unwrap().strip_suffix(".snapshot")?.parse().ok())
        .collect()
}

/// The decoded snapshot at `offset`.
pub fn read_snapshot(part_dir: &Path, offset: i64) -> Vec<SnapshotEntry> {
    let bytes = std::fs::read(part_dir.join(format!("{offset:020}.snapshot"))).unwrap();
    decode_snapshot(&bytes).unwrap()
}

/// The producer state of a partition as snapshot entries, sorted by producer id.
pub fn producer_state(log: &PartitionLog) -> Vec<SnapshotEntry> {
    let mut v: Vec<SnapshotEntry> = log.producers().iter().map(SnapshotEntry::from).collect();
    v.sort_by_key(|e| e.producer_id);
    v
}

/// `(epoch, last sequence)` of a producer, if it has state.
pub fn epoch_and_seq(log: &PartitionLog, pid: i64) -> Option<(i16, i32)> {
    log.producer_state(pid).map(|e| (e.producer_epoch(), e.last_seq()))
}

/// Committed `(offset, value)` records, and `(producer id, first offset)` of aborted
/// transactions.
pub type Consumed = (Vec<(i64, String)>, BTreeSet<(i64, i64)>);

/// What a `read_committed` consumer sees reading from the log start to the last stable offset,
/// fetching `max_bytes` at a time: the committed records (offset, value) and every aborted
/// transaction the fetches reported.
pub fn consume_committed(log: &PartitionLog, max_bytes: u32) -> Consumed {
    let mut offset = log.log_start_offset();
    let mut out = Vec::new();
    let mut aborted = BTreeSet::new();
    loop {
        let data = log.read(offset, max_bytes, IsolationLevel::ReadCommitted).unwrap();
        if data.records.is_empty() {
            break;
        }
        for t in data.aborted_transactions.as_deref().unwrap() {
            aborted.insert((t.producer_id, t.first_offset));
        }
        let c = CommittedRecords::from_fetch(&data, offset).unwrap();
        assert!(c.next_offset > offset, "the position advances");
        for r in c.records {
            out.push((r.offset, String::from_utf8(r.value.unwrap()).unwrap()));
        }
        offset = c.next_offset;
    }
    (out, aborted)
}

/// Offsets of every data record visible at `isolation` from the log start (whole batches up to
/// the bound, control batches skipped, no abort filtering).
pub fn visible_offsets(log: &PartitionLog, isolation: IsolationLevel) -> Vec<i64> {
    let mut offset = log.log_start_offset();
    let mut out = Vec::new();
    loop {
        let data = log.read(offset, 1 << 20, isolation).unwrap();
        if data.records.is_empty() {
            break;
        }
        for b in data.records.batches() {
            let b = b.unwrap();
            if !b.is_control() {
                out.extend((b.base_offset()..=b.last_offset()).filter(|o| *o >= offset));
            }
            offset = b.next_offset();
        }
    }
    out
}

/// Kafka's workload of `testTransactionIndexUpdated` / `testFullTransactionIndexRecovery`:
/// four transactional producers (epoch 0) interleaved with plain data. The comments give the
/// log end offset after each step, as in Kafka's test.
pub fn kafka_txn_index_workload(log: &Arc<PartitionLog>) {
    let mut p1 = Producer::new(1, 0);
    let mut p2 = Producer::new(2, 0);
    let mut p3 = Producer::new(3, 0);
    let mut p4 = Producer::new(4, 0);
    p1.txn(log, 5); // 5
    append_plain(log, 3); // 8
    p2.txn(log, 2); // 10
    p1.txn(log, 4); // 14
    p3.txn(log, 3); // 17
    append_plain(log, 2); // 19
    p1.txn(log, 10); // 29
    p1.end(log, false, 0); // 30
    p2.txn(log, 6); // 36
    p4.txn(log, 3); // 39
    append_plain(log, 10); // 49
    p3.txn(log, 9); // 58
    p3.end(log, true, 0); // 59
    p4.txn(log, 8); // 67
    p2.txn(log, 7); // 74
    p2.end(log, false, 0); // 75
    append_plain(log, 10); // 85
    p4.txn(log, 4); // 89
    p4.end(log, true, 0); // 90
    assert_eq!(log.log_end_offset(), 90);
}

/// The recovery report of the first user (non-internal) partition.
pub fn user_report(report: &eoslog::RecoveryReport) -> &eoslog::log::PartitionRecovery {
    report.partitions.iter().find(|p| !p.partition.starts_with("__")).expect("a user partition")
}
