//! The Kafka-format fixtures in `tests/fixtures/kafka-dirs/` (written by another implementation,
//! krabka-log; see its README): every `.snapshot` decodes to the entries its manifest lists and
//! re-encodes to the same bytes, and replaying the manifest's batches through the producer state
//! with Kafka's client rules reproduces the snapshots, the `.txnindex` entries (with Kafka's LSO
//! rule), the final producer state and the first unstable offset.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::*;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/kafka-dirs")
}

/// `(fixture name, manifest)` for every fixture.
fn manifests() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for dirent in fs::read_dir(fixtures_dir()).expect("fixtures directory") {
        let path = dirent.unwrap().path();
        let Some(name) =
            path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".manifest.json"))
        else {
            continue;
        };
        let manifest: Value = serde_json::from_slice(&fs::read(&path).unwrap()).expect("manifest is JSON");
        out.push((name.to_owned(), manifest));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(out.len(), 4, "expected the four fixtures");
    out
}

fn int(v: &Value, key: &str) -> i64 {
    v[key].as_i64().unwrap_or_else(|| panic!("{key} is not an integer in {v}"))
}

fn narrow<T: TryFrom<i64>>(v: &Value, key: &str) -> T {
    T::try_from(int(v, key)).unwrap_or_else(|_| panic!("{key} out of range in {v}"))
}

/// A manifest producer entry (`producer_state` or `producer_snapshots[].producers`).
fn manifest_entry(v: &Value) -> SnapshotEntry {
    SnapshotEntry {
        producer_id: int(v, "producer_id"),
        producer_epoch: narrow(v, "producer_epoch"),
        last_sequence: narrow(v, "last_sequence"),
        last_offset: int(v, "last_offset"),
        offset_delta: narrow(v, "offset_delta"),
        timestamp: int(v, "last_timestamp"),
        coordinator_epoch: narrow(v, "coordinator_epoch"),
        current_txn_first_offset: v["current_txn_first_offset"].as_i64().unwrap_or(-1),
    }
}

fn manifest_entries(list: &Value) -> Vec<SnapshotEntry> {
    let mut entries: Vec<SnapshotEntry> = list.as_array().unwrap().iter().map(manifest_entry).collect();
    entries.sort_by_key(|e| e.producer_id);
    entries
}

#[test]
fn fixture_snapshots_decode_to_their_manifest_entries() {
    let mut checked = 0;
    for (name, manifest) in manifests() {
        let dir = fixtures_dir().join(&name);
        let listed: Vec<&Value> = manifest["producer_snapshots"].as_array().unwrap().iter().collect();
        let on_disk = fs::read_dir(&dir)
            .unwrap()
            .filter(|d| d.as_ref().unwrap().path().extension().is_some_and(|e| e == "snapshot"))
            .count();
        assert_eq!(on_disk, listed.len(), "{name}: every .snapshot is in the manifest");
        for snap in listed {
            let file = snap["file"].as_str().unwrap();
            let bytes = fs::read(dir.join(file)).unwrap();
            let decoded = decode_snapshot(&bytes).unwrap_or_else(|e| panic!("{name}/{file}: {e}"));
            assert_eq!(decoded, manifest_entries(&snap["producers"]), "{name}/{file}");
            // The fixtures sort entries by producer id, as eoslog does: byte-identical output.
            assert_eq!(encode_snapshot(&decoded), bytes, "{name}/{file} re-encodes identically");
            checked += 1;
        }
    }
    assert_eq!(checked, 1 + 5 + 1 + 2);
}

/// The README says producer 9 of `transactions-0` runs transaction version 2; everything else
/// is classic.
fn transaction_version(fixture: &str, pid: i64) -> u8 {
    if fixture == "transactions-0" && pid == 9 { 2 } else { 1 }
}

fn batch_info(fixture: &str, b: &Value) -> BatchInfo {
    let pid = int(b, "producer_id");
    let control = b["is_control"].as_bool().unwrap().then(|| ControlMarker {
        commit: match b["control_type"].as_str() {
            Some("COMMIT") => true,
            Some("ABORT") => false,
            other => panic!("unexpected control type {other:?}"),
        },
        coordinator_epoch: narrow(b, "coordinator_epoch"),
        transaction_version: transaction_version(fixture, pid),
    });
    BatchInfo {
        producer_id: pid,
        producer_epoch: narrow(b, "producer_epoch"),
        base_sequence: narrow(b, "base_sequence"),
        last_sequence: narrow(b, "last_sequence"),
        first_offset: int(b, "base_offset"),
        last_offset: int(b, "last_offset"),
        max_timestamp: int(b, "max_timestamp"),
        is_transactional: b["is_transactional"].as_bool().unwrap(),
        control,
        record_count: narrow(b, "record_count"),
    }
}

#[test]
fn replaying_fixture_batches_reproduces_their_producer_state() {
    for (name, manifest) in manifests() {
        let mut log = MiniLog::new(ProducerStateConfig {
            producer_id_expiration_ms: ONE_DAY_MS,
            // The fixtures' transactional batches were verified by the broker above the writer.
            transaction_verification_enable: false,
        });
        let mut snapshots: Vec<(i64, Vec<SnapshotEntry>)> = manifest["producer_snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (int(s, "offset"), manifest_entries(&s["producers"])))
            .collect();
        snapshots.sort_by_key(|s| s.0);
        let mut next_snapshot = snapshots.iter().peekable();

        for b in manifest["batches"].as_array().unwrap() {
            let info = batch_info(&name, b);
            if info.producer_id < 0 {
                log.append_plain(info.last_offset - info.first_offset + 1);
            } else {
                let origin = if info.is_control() { AppendOrigin::Coordinator } else { AppendOrigin::Client };
                let outcome = log.append_at(origin, info, None);
                assert!(
                    matches!(outcome, Outcome::Appended { .. }),
                    "{name}: batch at {} gave {outcome:?}",
                    info.first_offset
                );
            }
            if let Some((offset, expected)) = next_snapshot.peek()
                && *offset == log.leo
            {
                assert_eq!(&log.m.snapshot_entries(), expected, "{name}: snapshot at {offset}");
                next_snapshot.next();
            }
        }
        assert!(next_snapshot.next().is_none(), "{name}: every snapshot offset was reached");
        assert_eq!(log.leo, int(&manifest, "log_end_offset"), "{name}");

        let expected_index: Vec<(i64, i64, i64, i64)> = manifest["txnindex_entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    int(e, "producer_id"),
                    int(e, "first_offset"),
                    int(e, "last_offset"),
                    int(e, "kafka_rule_last_stable_offset"),
                )
            })
            .collect();
        assert_eq!(log.txn_index, expected_index, "{name}: .txnindex entries");

        assert_eq!(
            log.m.snapshot_entries(),
            manifest_entries(&manifest["producer_state"]),
            "{name}: final state"
        );
        // The manifest reports the log end offset when nothing is unstable.
        let fuo = log.m.first_unstable_offset().unwrap_or(log.leo);
        assert_eq!(Some(fuo), manifest["first_unstable_offset"].as_i64(), "{name}: first unstable offset");
        let open: Vec<(i64, i64)> = manifest["open_transactions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (int(t, "producer_id"), int(t, "first_offset")))
            .collect();
        let ongoing: Vec<(i64, i64)> =
            log.m.ongoing_transactions().iter().map(|t| (t.producer_id, t.first_offset)).collect();
        assert_eq!(ongoing, open, "{name}: open transactions");
    }
}
