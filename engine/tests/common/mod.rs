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
