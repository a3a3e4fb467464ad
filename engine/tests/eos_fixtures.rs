//! The Kafka-format fixtures in `tests/fixtures/kafka-dirs/` (written by krabka-log, another
//! implementation; see its README) through the engine:
//!
//! - opened as partitions of an engine, clean and unclean: the aborted transactions a
//!   read_committed consumer is told about, the last stable / first unstable offset, the open
//!   transactions, the producer state and the committed records are exactly the manifest's;
//! - replayed as a leader would see them (data appended by clients, markers written by the
//!   coordinator): the files eoslog writes equal the fixture's where the fixture follows Kafka,
//!   and follow Kafka's rules where the README lists a deviation (`.txnindex` LSO values are
//!   compared with `kafka_rule_last_stable_offset`, the active `.timeindex` gets Kafka's close
//!   entry).

mod eos_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use eos_support::{
    aborted, copy_tree, producer_state, read_snapshot, snapshot_offsets, tree, txnindex_files,
};
use eoslog::batch::RecordBatch;
use eoslog::clock::ManualClock;
use eoslog::producer::SnapshotEntry;
use eoslog::segment::AbortedTxn;
use eoslog::{
    CLEAN_SHUTDOWN_FILE, CommittedRecords, Engine, EngineConfig, IsolationLevel, PartitionLog, TopicConfig,
};
use serde_json::Value;

const FIXTURES: [&str; 4] = ["compressed-0", "epochs-0", "idempotent-0", "transactions-0"];

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/kafka-dirs")
}

fn manifest(name: &str) -> Value {
    let path = fixtures_dir().join(format!("{name}.manifest.json"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn int(v: &Value, key: &str) -> i64 {
    v[key].as_i64().unwrap_or_else(|| panic!("{key} is not an integer in {v}"))
}

fn topic_of(name: &str) -> (&str, i32) {
    let (t, p) = name.rsplit_once('-').unwrap();
    (t, p.parse().unwrap())
}

/// The topic configuration the fixture was written with.
fn topic_config(m: &Value) -> TopicConfig {
    let c = &m["config"];
    let mut t = TopicConfig { retention_ms: -1, ..TopicConfig::default() };
    for key in ["segment.bytes", "index.interval.bytes", "segment.ms", "segment.index.bytes"] {
        t.set(key, &int(c, key).to_string()).unwrap();
    }
    t.set("preallocate", &c["preallocate"].as_bool().unwrap().to_string()).unwrap();
    // compressed-0 describes a change of timestamp type in words; it starts as CreateTime.
    let ts_type = c["message.timestamp.type"].as_str().unwrap();
    t.set(
        "message.timestamp.type",
        if ts_type.starts_with("LogAppendTime") { "LogAppendTime" } else { "CreateTime" },
    )
    .unwrap();
    t
}

/// A clock at the fixture's last timestamp (so no producer of it has expired yet).
fn clock_for(m: &Value) -> Arc<ManualClock> {
    let last = m["batches"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["timestamp_type"] == "CreateTime")
        .map(|b| int(b, "max_timestamp"))
        .max()
        .unwrap();
    ManualClock::new(last)
}

fn engine_config(m: &Value, clock: &Arc<ManualClock>) -> EngineConfig {
    EngineConfig {
        clock: clock.clone(),
        topic_defaults: topic_config(m),
        transaction_verification_enable: false,
        producer_id_expiration_check_interval_ms: i64::MAX / 4,
        ..EngineConfig::default()
    }
}

fn manifest_entry(v: &Value) -> SnapshotEntry {
    SnapshotEntry {
        producer_id: int(v, "producer_id"),
        producer_epoch: int(v, "producer_epoch") as i16,
        last_sequence: int(v, "last_sequence") as i32,
        last_offset: int(v, "last_offset"),
        offset_delta: int(v, "offset_delta") as i32,
        timestamp: int(v, "last_timestamp"),
        coordinator_epoch: int(v, "coordinator_epoch") as i32,
        current_txn_first_offset: v["current_txn_first_offset"].as_i64().unwrap_or(-1),
    }
}

fn manifest_entries(list: &Value) -> Vec<SnapshotEntry> {
    let mut v: Vec<SnapshotEntry> = list.as_array().unwrap().iter().map(manifest_entry).collect();
    v.sort_by_key(|e| e.producer_id);
    v
}

fn bytes_of(value: &Value, encoding: &Value) -> Option<Vec<u8>> {
    let s = value.as_str()?;
    Some(match encoding.as_str() {
        Some("hex") => {
            (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
        }
        _ => s.as_bytes().to_vec(),
    })
}

/// The `(offset, value)` pairs a read_committed consumer must see: every data record below the
/// last stable offset that is not in an aborted transaction of the manifest.
fn expected_committed(m: &Value) -> Vec<(i64, Option<Vec<u8>>)> {
    let lso = int(m, "first_unstable_offset");
    let aborted: Vec<(i64, i64, i64)> = m["aborted_transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (int(t, "producer_id"), int(t, "first_offset"), int(t, "last_offset")))
        .collect();
    let mut out = Vec::new();
    for b in m["batches"].as_array().unwrap() {
        if b["is_control"].as_bool().unwrap() || int(b, "base_offset") >= lso {
            continue;
        }
        let pid = int(b, "producer_id");
        let base = int(b, "base_offset");
        let is_aborted = b["is_transactional"].as_bool().unwrap()
            && aborted.iter().any(|&(p, first, last)| p == pid && first <= base && base <= last);
        if is_aborted {
            continue;
        }
        for r in b["records"].as_array().unwrap() {
            out.push((int(r, "offset"), bytes_of(&r["value"], &r["value_encoding"])));
        }
    }
    out
}

/// Opens a copy of the fixture `name` in a fresh data directory, cleanly shut down or not.
fn open_fixture(name: &str, clean: bool) -> (tempfile::TempDir, Engine, Arc<PartitionLog>, Value) {
    let m = manifest(name);
    let data = tempfile::tempdir().unwrap();
    copy_tree(&fixtures_dir().join(name), &data.path().join(name));
    if clean {
        std::fs::write(data.path().join(CLEAN_SHUTDOWN_FILE), b"").unwrap();
    }
    let clock = clock_for(&m);
    let engine = Engine::open(data.path(), engine_config(&m, &clock)).unwrap();
    let report = engine.recovery_report();
    assert_eq!(report.clean_shutdown, clean);
    let part = eos_support::user_report(report);
    assert!(part.truncated_bytes == 0 && part.deleted_segments.is_empty(), "{name}: {part:?}");
    if !clean {
        assert_eq!(part.segments_recovered, m["segment_base_offsets"].as_array().unwrap().len(), "{name}");
    }
    let (topic, p) = topic_of(name);
    let log = engine.partition(topic, p).unwrap();
    (data, engine, log, m)
}

#[test]
fn fixtures_open_with_the_manifest_state() {
    for name in FIXTURES {
        for clean in [true, false] {
            let what = format!("{name} clean={clean}");
            let (data, engine, log, m) = open_fixture(name, clean);
            assert_eq!(log.log_start_offset(), int(&m, "log_start_offset"), "{what}");
            assert_eq!(log.log_end_offset(), int(&m, "log_end_offset"), "{what}");
            assert_eq!(log.high_watermark(), int(&m, "log_end_offset"), "{what}");
            // The manifest's first_unstable_offset is the LSO (the log end with no open txn).
            assert_eq!(log.last_stable_offset(), int(&m, "first_unstable_offset"), "{what}");
            let open: Vec<(i64, i64)> = m["open_transactions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| (int(t, "producer_id"), int(t, "first_offset")))
                .collect();
            let ongoing: Vec<(i64, i64)> =
                log.ongoing_transactions().iter().map(|t| (t.producer_id, t.first_offset)).collect();
            assert_eq!(ongoing, open, "{what}");
            assert_eq!(log.first_unstable_offset(), open.iter().map(|t| t.1).min(), "{what}");
            assert_eq!(producer_state(&log), manifest_entries(&m["producer_state"]), "{what}");

            // A read_committed consumer from the log start, a few batches per fetch.
            let mut offset = log.log_start_offset();
            let mut reported = BTreeSet::new();
            let mut consumed = Vec::new();
            loop {
                let fetch = log.read(offset, 2000, IsolationLevel::ReadCommitted).unwrap();
                if fetch.records.is_empty() {
                    break;
                }
                for t in fetch.aborted_transactions.as_deref().unwrap() {
                    reported.insert((t.producer_id, t.first_offset));
                }
                let c = CommittedRecords::from_fetch(&fetch, offset).unwrap();
                consumed.extend(c.records.into_iter().map(|r| (r.offset, r.value)));
                offset = c.next_offset;
            }
            assert_eq!(offset, int(&m, "first_unstable_offset"), "{what}: consumed up to the LSO");
            let expected: BTreeSet<(i64, i64)> = m["aborted_transactions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| (int(t, "producer_id"), int(t, "first_offset")))
                .collect();
            assert_eq!(reported, expected, "{what}");
            assert_eq!(consumed, expected_committed(&m), "{what}");

            // The transaction index: what the fixture stores (clean) or what recovery rebuilt
            // with Kafka's rule (unclean); the two agree for this fixture.
            let index: Vec<AbortedTxn> =
                txnindex_files(&data.path().join(name)).into_values().flatten().collect();
            let kafka: Vec<AbortedTxn> = m["txnindex_entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    aborted(
                        int(e, "producer_id"),
                        int(e, "first_offset"),
                        int(e, "last_offset"),
                        int(e, "kafka_rule_last_stable_offset"),
                    )
                })
                .collect();
            assert_eq!(index, kafka, "{what}");
            engine.close().unwrap();
        }
    }
}

/// Replays the fixture's batches through a fresh engine as a leader sees them: data from
/// clients (offsets are reassigned, identically since the log starts at 0), markers from the
/// coordinator with their coordinator epoch (transaction version 2 for producer 9 of
/// `transactions-0`), each at the time the fixture's writer stamped.
fn replay_as_leader(name: &str) -> (tempfile::TempDir, Value) {
    let m = manifest(name);
    let data = tempfile::tempdir().unwrap();
    let clock = clock_for(&m);
    let engine = Engine::open(data.path(), engine_config(&m, &clock)).unwrap();
    let (topic, p) = topic_of(name);
    engine.create_topic(topic, p + 1, topic_config(&m)).unwrap();
    let log = engine.partition(topic, p).unwrap();
    let source = fixtures_dir().join(name);
    for b in m["batches"].as_array().unwrap() {
        let base = int(b, "base_offset");
        clock.set(int(b, "max_timestamp"));
        let epoch = int(b, "partition_leader_epoch") as i32;
        if epoch != log.leader_epoch() {
            log.set_leader_epoch(epoch).unwrap();
        }
        let info = if b["is_control"].as_bool().unwrap() {
            let pid = int(b, "producer_id");
            let tv = if name == "transactions-0" && pid == 9 { 2 } else { 1 };
            log.append_marker(
                pid,
                int(b, "producer_epoch") as i16,
                int(b, "coordinator_epoch") as i32,
                b["control_type"] == "COMMIT",
                tv,
            )
            .unwrap()
        } else {
            let file = source.join(format!("{:020}.log", int(b, "segment_base_offset")));
            let bytes = std::fs::read(file).unwrap();
            let pos = int(b, "position") as usize;
            let batch = &bytes[pos..pos + int(b, "size_bytes") as usize];
            let log_append_time =
                RecordBatch::parse(batch).unwrap().timestamp_type() == eoslog::TimestampType::LogAppendTime;
            if log_append_time {
                engine.alter_topic_config(topic, &[("message.timestamp.type", "LogAppendTime")]).unwrap();
            }
            let info = log.append(batch).unwrap();
            if log_append_time {
                assert_eq!(info.log_append_time, int(b, "max_timestamp"));
                engine.alter_topic_config(topic, &[("message.timestamp.type", "CreateTime")]).unwrap();
            }
            info
        };
        assert_eq!(
            (info.first_offset, info.last_offset),
            (base, int(b, "last_offset")),
            "{name} batch at {base}"
        );
        assert!(!info.duplicate);
    }
    assert_eq!(log.log_end_offset(), int(&m, "log_end_offset"));
    assert_eq!(producer_state(&log), manifest_entries(&m["producer_state"]), "{name}");
    engine.close().unwrap();
    (data, m)
}

/// Time-index entries of a file: (timestamp, relative offset).
fn time_entries(bytes: &[u8]) -> Vec<(i64, i32)> {
    bytes
        .chunks_exact(12)
        .map(|c| {
            (i64::from_be_bytes(c[..8].try_into().unwrap()), i32::from_be_bytes(c[8..].try_into().unwrap()))
        })
        .collect()
}

#[test]
fn replaying_the_fixtures_as_a_leader_writes_kafka_files() {
    for name in FIXTURES {
        let (data, m) = replay_as_leader(name);
        let ours_dir = data.path().join(name);
        let ours = tree(&ours_dir);
        let theirs = tree(&fixtures_dir().join(name));
        let bases: Vec<i64> =
            m["segment_base_offsets"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
        let active = *bases.last().unwrap();

        // Same segments, byte-identical data and offset indexes, same leader epochs.
        for base in &bases {
            for ext in ["log", "index"] {
                let f = format!("{base:020}.{ext}");
                assert!(ours[&f] == theirs[&f], "{name}/{f} differs");
            }
            let f = format!("{base:020}.timeindex");
            if *base != active {
                assert!(ours[&f] == theirs[&f], "{name}/{f} differs");
            } else {
                // README deviation 1: Kafka appends a closing entry (the segment's max timestamp
                // and its offset) when the active segment is closed, if it is newer.
                let (o, t) = (time_entries(&ours[&f]), time_entries(&theirs[&f]));
                assert!(o.len() == t.len() || o.len() == t.len() + 1, "{name}/{f}: {o:?} vs {t:?}");
                // The README names transactions-0 as the fixture where the entry is missing.
                assert_eq!(o.len() == t.len() + 1, name == "transactions-0", "{name}/{f}: {o:?} vs {t:?}");
                assert_eq!(o[..t.len()], t[..], "{name}/{f}");
                if o.len() > t.len() {
                    let last = m["batches"].as_array().unwrap().last().unwrap().clone();
                    let max_ts = m["batches"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|b| int(b, "segment_base_offset") == active)
                        .map(|b| int(b, "max_timestamp"))
                        .max()
                        .unwrap();
                    assert_eq!(o.last().unwrap().0, max_ts, "{name}");
                    assert!(o.last().unwrap().0 > t.last().map_or(-1, |e| e.0));
                    assert!(i64::from(o.last().unwrap().1) + active <= int(&last, "last_offset"));
                }
            }
        }
        assert!(
            ours["leader-epoch-checkpoint"] == theirs["leader-epoch-checkpoint"],
            "{name}: leader-epoch-checkpoint {:?} vs {:?}",
            String::from_utf8_lossy(&ours["leader-epoch-checkpoint"]),
            String::from_utf8_lossy(&theirs["leader-epoch-checkpoint"])
        );

        // .txnindex: one entry per aborted non-empty transaction, in the segment of its ABORT,
        // with the LSO Kafka's rule stores.
        let mut kafka: BTreeMap<i64, Vec<AbortedTxn>> = BTreeMap::new();
        for e in m["txnindex_entries"].as_array().unwrap() {
            kafka.entry(int(e, "segment_base_offset")).or_default().push(aborted(
                int(e, "producer_id"),
                int(e, "first_offset"),
                int(e, "last_offset"),
                int(e, "kafka_rule_last_stable_offset"),
            ));
        }
        let written: BTreeMap<i64, Vec<AbortedTxn>> =
            txnindex_files(&ours_dir).into_iter().filter(|(_, v)| !v.is_empty()).collect();
        assert_eq!(written, kafka, "{name}");

        // Producer snapshots: at every roll and at close, with the manifest's entries; sorted by
        // producer id like the fixture's, so byte-identical.
        let listed: BTreeMap<i64, Vec<SnapshotEntry>> = m["producer_snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (int(s, "offset"), manifest_entries(&s["producers"])))
            .collect();
        let ours_snapshots = snapshot_offsets(&ours_dir);
        for (offset, entries) in &listed {
            assert!(ours_snapshots.contains(offset), "{name}: no snapshot at {offset}");
            assert_eq!(&read_snapshot(&ours_dir, *offset), entries, "{name}: snapshot {offset}");
            let f = format!("{offset:020}.snapshot");
            assert!(ours[&f] == theirs[&f], "{name}/{f} differs");
        }
        // The only other snapshot eoslog keeps is the empty one taken when the log was created.
        let extra: Vec<i64> = ours_snapshots.iter().filter(|o| !listed.contains_key(o)).copied().collect();
        assert!(extra.is_empty() || extra == [0], "{name}: {extra:?}");
    }
}

/// A follower copies the fixtures' batches as they are (offsets, leader epochs and markers
/// kept, no client checks): it ends with the same producer state, and rebuilds Kafka's
/// `.txnindex` from the markers it copies.
#[test]
fn a_follower_copying_the_fixtures_builds_the_same_state() {
    for name in FIXTURES {
        let m = manifest(name);
        let data = tempfile::tempdir().unwrap();
        let clock = clock_for(&m);
        let engine = Engine::open(data.path(), engine_config(&m, &clock)).unwrap();
        let (topic, p) = topic_of(name);
        engine.create_topic(topic, p + 1, topic_config(&m)).unwrap();
        let log = engine.partition(topic, p).unwrap();
        let source = fixtures_dir().join(name);
        for b in m["batches"].as_array().unwrap() {
            let file = source.join(format!("{:020}.log", int(b, "segment_base_offset")));
            let bytes = std::fs::read(file).unwrap();
            let pos = int(b, "position") as usize;
            let info = log.append_as_follower(&bytes[pos..pos + int(b, "size_bytes") as usize]).unwrap();
            assert_eq!(info.first_offset, int(b, "base_offset"));
        }
        assert_eq!(producer_state(&log), manifest_entries(&m["producer_state"]), "{name}");
        let kafka: Vec<AbortedTxn> = m["txnindex_entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                aborted(
                    int(e, "producer_id"),
                    int(e, "first_offset"),
                    int(e, "last_offset"),
                    int(e, "kafka_rule_last_stable_offset"),
                )
            })
            .collect();
        let ours: Vec<AbortedTxn> = txnindex_files(&data.path().join(name)).into_values().flatten().collect();
        assert_eq!(ours, kafka, "{name}");
        assert_eq!(log.last_stable_offset(), int(&m, "first_unstable_offset"), "{name}");
        engine.close().unwrap();
        let ours_dir = data.path().join(name);
        for base in m["segment_base_offsets"].as_array().unwrap() {
            let f = format!("{:020}.log", base.as_i64().unwrap());
            assert!(
                std::fs::read(ours_dir.join(&f)).unwrap() == std::fs::read(source.join(&f)).unwrap(),
                "{name}/{f}"
            );
        }
    }
}
