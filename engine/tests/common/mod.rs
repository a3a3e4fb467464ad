//! Helpers shared by the engine's integration tests.
#![allow(dead_code)]

use std::path::Path;

use eoslog::batch::{Compression, RecordBatchBuilder};
use eoslog::{Engine, EngineConfig, TopicConfig};

/// Engine config for tests: the backend comes from `EOSLOG_IO` (so `make test` runs every test
/// on both backends).
pub fn config() -> EngineConfig {
    EngineConfig::default()
}

/// Topic config with small segments so tests roll.
pub fn small_topic() -> TopicConfig {
    let mut c = TopicConfig::default();
    c.set("segment.bytes", "4096").unwrap();
    c.set("index.interval.bytes", "256").unwrap();
    c.set("segment.index.bytes", "4096").unwrap();
    c
}

pub fn open(dir: &Path) -> Engine {
    Engine::open(dir, config()).unwrap()
}

/// A plain batch of `n` records with values `prefix-i`.
pub fn batch(prefix: &str, n: usize) -> Vec<u8> {
    let mut b = RecordBatchBuilder::new();
    for i in 0..n {
        let v = format!("{prefix}-{i}");
        b.append(1_700_000_000_000 + i as i64, Some(b"k"), Some(v.as_bytes()), &[]);
    }
    b.build().unwrap()
}

/// An idempotent batch.
pub fn idempotent(pid: i64, epoch: i16, seq: i32, n: usize, prefix: &str) -> Vec<u8> {
    let mut b = RecordBatchBuilder::new().producer(pid, epoch, seq);
    for i in 0..n {
        let v = format!("{prefix}-{i}");
        b.append(1_700_000_000_000 + i as i64, None, Some(v.as_bytes()), &[]);
    }
    b.build().unwrap()
}

/// A transactional batch.
pub fn transactional(pid: i64, epoch: i16, seq: i32, n: usize, prefix: &str) -> Vec<u8> {
    let mut b = RecordBatchBuilder::new().producer(pid, epoch, seq).transactional(true);
    for i in 0..n {
        let v = format!("{prefix}-{i}");
        b.append(1_700_000_000_000 + i as i64, None, Some(v.as_bytes()), &[]);
    }
    b.build().unwrap()
}

/// A compressed batch.
pub fn compressed(c: Compression, n: usize) -> Vec<u8> {
    let mut b = RecordBatchBuilder::new().compression(c);
    for i in 0..n {
        b.append(1_700_000_000_000, None, Some(format!("value {i}").as_bytes()), &[]);
    }
    b.build().unwrap()
}

/// Every record value readable from a partition (read_uncommitted, from the log start).
pub fn values(engine: &Engine, topic: &str, p: i32, isolation: eoslog::IsolationLevel) -> Vec<String> {
    let log = engine.partition(topic, p).unwrap();
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    loop {
        let data = log.read(offset, 1 << 20, isolation).unwrap();
        if data.records.is_empty() {
            break;
        }
        for b in data.records.batches() {
            let b = b.unwrap();
            if !b.is_control() {
                for r in b.records().unwrap().iter() {
                    let r = r.unwrap();
                    if r.offset >= offset {
                        out.push(String::from_utf8(r.value.unwrap().to_vec()).unwrap());
                    }
                }
            }
            offset = b.next_offset();
        }
    }
    out
}

/// Snapshot of every file under a directory: path → bytes.
pub fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    fn walk(base: &Path, d: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.insert(p.strip_prefix(base).unwrap().display().to_string(), std::fs::read(&p).unwrap());
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

/// Copies a directory tree (a "crash image" of a running engine: what SIGKILL leaves).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        let t = to.join(e.file_name());
        if p.is_dir() {
            copy_tree(&p, &t);
        } else if e.file_name() != ".lock" {
            std::fs::copy(&p, &t).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// More helpers for the engine-core suite.

use std::path::PathBuf;
use std::sync::Arc;

use eoslog::clock::ManualClock;
use eoslog::io::{IoBackend, IoChoice, Permissions};
use eoslog::{IsolationLevel, PartitionLog};

/// 2026-01-01T00:00:00Z, a round "now" for manual clocks.
pub const T0: i64 = 1_767_225_600_000;

/// The I/O backend the suite runs on (`EOSLOG_IO`, default auto), for segment-level tests.
pub fn io() -> Arc<dyn IoBackend> {
    eoslog::io::backend_for(IoChoice::from_env().unwrap_or_default(), Permissions::default()).unwrap()
}

/// Engine config with a manual clock.
pub fn config_with_clock(clock: Arc<ManualClock>) -> EngineConfig {
    EngineConfig { clock, ..config() }
}

/// A plain batch whose records all carry `ts`, with values `prefix-i`.
pub fn batch_at(ts: i64, prefix: &str, n: usize) -> Vec<u8> {
    let mut b = RecordBatchBuilder::new();
    for i in 0..n {
        b.append(ts, Some(b"k"), Some(format!("{prefix}-{i}").as_bytes()), &[]);
    }
    b.build().unwrap()
}

/// A batch of `n` records with values `prefix-i`, already carrying `base_offset` and
/// `leader_epoch` (what a leader hands a follower).
pub fn follower_batch(base_offset: i64, leader_epoch: i32, ts: i64, prefix: &str, n: usize) -> Vec<u8> {
    let mut b = RecordBatchBuilder::new().base_offset(base_offset).partition_leader_epoch(leader_epoch);
    for i in 0..n {
        b.append(ts + i as i64, None, Some(format!("{prefix}-{i}").as_bytes()), &[]);
    }
    b.build().unwrap()
}

/// Every batch readable from `from` up to the log end, as raw bytes (one `Vec` per batch).
pub fn read_batches(log: &PartitionLog, from: i64) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut offset = from;
    while offset < log.log_end_offset() {
        let data = log.read(offset, 1 << 20, IsolationLevel::LogEnd).unwrap();
        assert!(
            !data.records.is_empty(),
            "nothing read at {offset} below the log end {}",
            log.log_end_offset()
        );
        for b in data.records.batches() {
            let b = b.unwrap();
            out.push(b.as_bytes().to_vec());
            offset = b.next_offset();
        }
    }
    out
}

/// Every record value of a partition from `from` (log-end isolation, control batches skipped),
/// with its offset.
pub fn records(log: &PartitionLog, from: i64) -> Vec<(i64, Vec<u8>)> {
    let mut out = Vec::new();
    for bytes in read_batches(log, from) {
        let b = eoslog::RecordBatch::parse(&bytes).unwrap();
        assert!(b.is_crc_valid(), "a read returned a batch with a bad CRC at {}", b.base_offset());
        if b.is_control() {
            continue;
        }
        for r in b.records().unwrap().iter() {
            let r = r.unwrap();
            if r.offset >= from {
                out.push((r.offset, r.value.map(<[u8]>::to_vec).unwrap_or_default()));
            }
        }
    }
    out
}

/// The workspace's Kafka fixtures directory.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/kafka-dirs")
}

/// A fixture's manifest.
pub fn manifest(name: &str) -> serde_json::Value {
    let path = fixtures_dir().join(format!("{name}.manifest.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// An integer field of a manifest object.
pub fn int(v: &serde_json::Value, field: &str) -> i64 {
    v[field].as_i64().unwrap_or_else(|| panic!("manifest field {field} is not an integer: {}", v[field]))
}

/// The topic configuration a fixture was written with (CreateTime: the one LogAppendTime batch
/// of `compressed-0` is stored already stamped).
pub fn fixture_topic_config(m: &serde_json::Value) -> TopicConfig {
    let c = &m["config"];
    let mut t = TopicConfig::default();
    for key in ["segment.bytes", "index.interval.bytes", "segment.ms", "segment.index.bytes"] {
        t.set(key, &c[key].as_i64().unwrap().to_string()).unwrap();
    }
    t.set("preallocate", &c["preallocate"].as_bool().unwrap().to_string()).unwrap();
    // Fixture timestamps are from 2026; keep them acceptable whatever the clock says.
    t.set("message.timestamp.after.max.ms", &i64::MAX.to_string()).unwrap();
    t.set("retention.ms", "-1").unwrap();
    t
}

/// Reads a whole file.
pub fn read(path: impl AsRef<Path>) -> Vec<u8> {
    std::fs::read(path.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
}

/// Names of the files in a directory, sorted.
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The single `.log` file path of segment `base` in `dir`.
pub fn log_path(dir: &Path, base: i64) -> PathBuf {
    dir.join(format!("{base:020}.log"))
}

/// Positions and sizes of the batches in a `.log` file.
pub fn batch_positions(bytes: &[u8]) -> Vec<(usize, usize, i64, i64)> {
    let mut out = Vec::new();
    let mut pos = 0;
    for b in eoslog::batch::batches(bytes) {
        let b = b.unwrap();
        out.push((pos, b.size(), b.base_offset(), b.last_offset()));
        pos += b.size();
    }
    out
}

/// Engine over `dir` with a manual clock at [`T0`].
pub fn open_with_clock(dir: &Path) -> (Engine, Arc<ManualClock>) {
    let clock = ManualClock::new(T0);
    (Engine::open(dir, config_with_clock(clock.clone())).unwrap(), clock)
}

/// Asserts two byte strings are equal, reporting lengths and the first difference (not the bytes).
#[track_caller]
pub fn assert_bytes_eq(ours: &[u8], theirs: &[u8], what: &str) {
    if ours != theirs {
        let first = ours.iter().zip(theirs).position(|(a, b)| a != b).unwrap_or(ours.len().min(theirs.len()));
        panic!(
            "{what}: {} bytes vs {} expected; first difference at byte {first} ({:?} vs {:?})",
            ours.len(),
            theirs.len(),
            ours.get(first),
            theirs.get(first)
        );
    }
}

/// A small deterministic PRNG (xorshift64*), so randomised tests replay exactly.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

/// Overwrites `file` from `position` to its end with random bytes (Kafka's `writeNonsenseToFile`).
pub fn write_nonsense(file: &Path, position: u64, rng: &mut Rng) {
    use std::io::{Seek, SeekFrom, Write};
    let len = std::fs::metadata(file).unwrap().len();
    let mut f = std::fs::OpenOptions::new().write(true).open(file).unwrap();
    f.seek(SeekFrom::Start(position)).unwrap();
    f.write_all(&rng.bytes((len - position) as usize)).unwrap();
}

/// A temporary directory on a memory file system when there is one (`/dev/shm`), for tests that
/// open hundreds of engines: fsync there is free, and what they test is recovery logic, not the
/// disk. Falls back to the default temporary directory.
pub fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::Builder::new().prefix("eoslog-test").tempdir_in(shm)
    {
        return dir;
    }
    tempfile::tempdir().unwrap()
}

/// The recovery report of the first user (non-internal) partition.
pub fn user_report(report: &eoslog::RecoveryReport) -> &eoslog::log::PartitionRecovery {
    report.partitions.iter().find(|p| !p.partition.starts_with("__")).expect("a user partition")
}
