//! `eoslog dump` and `eoslog verify` on the Kafka-format fixtures (written by another
//! implementation) and on damaged copies of them; neither command changes a byte.

mod common;

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::{FIXTURES, code, copy_dir, fixtures, ok, run, snapshot, stderr, stdout};
use serde_json::Value;

fn manifest(name: &str) -> Value {
    let text = std::fs::read_to_string(fixtures().join(format!("{name}.manifest.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn decode(v: &Value, enc: &Value) -> Option<Vec<u8>> {
    let s = v.as_str()?;
    Some(match enc.as_str().unwrap() {
        "utf8" => s.as_bytes().to_vec(),
        "base64" => B64.decode(s).unwrap(),
        "hex" => (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect(),
        e => panic!("encoding {e}"),
    })
}

fn dump_json(path: &Path, deep: bool) -> Value {
    let p = path.to_str().unwrap();
    let args: Vec<&str> = if deep { vec!["dump", "--json", "--deep", p] } else { vec!["dump", "--json", p] };
    serde_json::from_str(&ok(&run(&args))).unwrap()
}

#[test]
fn dump_matches_the_fixture_manifests() {
    const BATCH_FIELDS: &[&str] = &[
        "base_offset",
        "last_offset",
        "last_offset_delta",
        "position",
        "size_bytes",
        "partition_leader_epoch",
        "magic",
        "attributes",
        "producer_id",
        "producer_epoch",
        "base_sequence",
        "last_sequence",
        "is_transactional",
        "is_control",
        "compression",
        "timestamp_type",
        "base_timestamp",
        "max_timestamp",
        "record_count",
    ];
    for name in FIXTURES {
        let m = manifest(name);
        let doc = dump_json(&fixtures().join(name), true);
        assert_eq!(doc["problems"], Value::Array(vec![]), "{name}");
        let files = doc["files"].as_array().unwrap();
        let batches: Vec<&Value> = files
            .iter()
            .filter(|f| f["type"] == "log")
            .flat_map(|f| f["batches"].as_array().unwrap())
            .collect();
        let expected = m["batches"].as_array().unwrap();
        assert_eq!(batches.len(), expected.len(), "{name}: batch count");
        for (got, want) in batches.iter().zip(expected) {
            for field in BATCH_FIELDS {
                assert_eq!(got[field], want[field], "{name}: batch {} field {field}", want["base_offset"]);
            }
            assert_eq!(got["crc_valid"], true);
            if want["is_control"] == true {
                assert_eq!(got["control_type"], want["control_type"]);
                assert_eq!(got["coordinator_epoch"], want["coordinator_epoch"]);
            }
            let (gr, wr) = (got["records"].as_array().unwrap(), want["records"].as_array().unwrap());
            assert_eq!(gr.len(), wr.len());
            for (g, w) in gr.iter().zip(wr) {
                for f in ["offset", "timestamp", "timestamp_delta"] {
                    assert_eq!(g[f], w[f], "{name}: record {} {f}", w["offset"]);
                }
                assert_eq!(decode(&g["key"], &g["key_encoding"]), decode(&w["key"], &w["key_encoding"]));
                assert_eq!(
                    decode(&g["value"], &g["value_encoding"]),
                    decode(&w["value"], &w["value_encoding"])
                );
                let (gh, wh) = (g["headers"].as_array().unwrap(), w["headers"].as_array().unwrap());
                assert_eq!(gh.len(), wh.len());
                for (a, b) in gh.iter().zip(wh) {
                    assert_eq!(a["key"], b["key"]);
                    assert_eq!(
                        decode(&a["value"], &a["value_encoding"]),
                        decode(&b["value"], &b["value_encoding"])
                    );
                }
            }
        }
        // Transaction index entries, in file order.
        let txn: Vec<&Value> = files
            .iter()
            .filter(|f| f["type"] == "txn_index")
            .flat_map(|f| f["entries"].as_array().unwrap())
            .collect();
        let want_txn = m["txnindex_entries"].as_array().unwrap();
        assert_eq!(txn.len(), want_txn.len(), "{name}");
        for (g, w) in txn.iter().zip(want_txn) {
            for f in ["producer_id", "first_offset", "last_offset", "last_stable_offset"] {
                assert_eq!(g[f], w[f], "{name}: txnindex {f}");
            }
        }
        // Producer snapshots.
        for snap in m["producer_snapshots"].as_array().unwrap() {
            let file = files.iter().find(|f| f["name"] == snap["file"]).expect("snapshot dumped");
            let entries = file["entries"].as_array().unwrap();
            let want = snap["producers"].as_array().unwrap();
            assert_eq!(entries.len(), want.len());
            for (g, w) in entries.iter().zip(want) {
                for f in [
                    "producer_id",
                    "producer_epoch",
                    "last_sequence",
                    "last_offset",
                    "offset_delta",
                    "last_timestamp",
                    "coordinator_epoch",
                    "current_txn_first_offset",
                ] {
                    assert_eq!(g[f], w[f], "{name}: {} {f}", snap["file"]);
                }
            }
        }
        // Leader epochs from the checkpoint.
        let lec = files.iter().find(|f| f["name"] == "leader-epoch-checkpoint").unwrap();
        let entries = lec["checkpoint"]["entries"].as_array().unwrap();
        let want: Vec<Value> = m["leader_epochs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| serde_json::json!([e["epoch"], e["start_offset"]]))
            .collect();
        assert_eq!(entries, &want, "{name}");
    }
}

#[test]
fn dump_text_shows_batches_markers_and_indexes() {
    let dir = fixtures().join("transactions-0");
    let out = ok(&run(&["dump", "--deep", dir.to_str().unwrap()]));
    assert!(out.contains("Dumping"), "{out}");
    assert!(out.contains("baseOffset: 16 lastOffset: 16 count: 1"), "{out}");
    assert!(out.contains("endTxnMarker: COMMIT coordinatorEpoch: 3"));
    assert!(out.contains("| offset: 120 "));
    assert!(out.contains("offset: ") && out.contains(" position: "));
    assert!(out.contains("lastStableOffset: "));
    assert!(out.contains("currentTxnFirstOffset: 148"));
    // One file alone.
    let index = dir.join("00000000000000000000.timeindex");
    assert!(ok(&run(&["dump", index.to_str().unwrap()])).contains("timestamp: "));
}

#[test]
fn verify_accepts_the_fixtures_and_an_engine_data_directory() {
    for name in FIXTURES {
        let out = ok(&run(&["verify", fixtures().join(name).to_str().unwrap()]));
        assert!(out.contains("OK: 0 error(s)"), "{out}");
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let input: String = (0..50).map(|i| format!("{{\"value\": \"v{i}\"}}\n")).collect();
    ok(&common::run_with_input(
        &["produce", "-d", data.to_str().unwrap(), "-t", "t", "--partitions", "3"],
        &input,
    ));
    let json: Value = serde_json::from_str(&ok(&run(&["verify", "--json", data.to_str().unwrap()]))).unwrap();
    assert_eq!(json["ok"], true);
    assert!(json["partitions"].as_u64().unwrap() >= 3);
}

/// Damage kinds applied to a copy of a fixture: (file, what is done).
fn damage(dir: &Path, kind: &str) -> &'static str {
    let file = |n: &str| dir.join(n);
    match kind {
        "flipped log byte" => {
            let p = file("00000000000000000080.log");
            let mut b = std::fs::read(&p).unwrap();
            b[300] ^= 0xff;
            std::fs::write(&p, b).unwrap();
            "00000000000000000080.log"
        }
        "truncated log" => {
            let p = file("00000000000000000308.log");
            let b = std::fs::read(&p).unwrap();
            std::fs::write(&p, &b[..b.len() - 7]).unwrap();
            "00000000000000000308.log"
        }
        "bad snapshot" => {
            let p = file("00000000000000000158.snapshot");
            let mut b = std::fs::read(&p).unwrap();
            let n = b.len();
            b[n - 3] ^= 0x55;
            std::fs::write(&p, b).unwrap();
            "00000000000000000158.snapshot"
        }
        "bad index" => {
            let p = file("00000000000000000000.index");
            let mut b = std::fs::read(&p).unwrap();
            b[6] ^= 0x7f;
            std::fs::write(&p, b).unwrap();
            "00000000000000000000.index"
        }
        _ => unreachable!(),
    }
}

#[test]
fn damaged_copies_fail_verify_and_name_the_file() {
    for kind in ["flipped log byte", "truncated log", "bad snapshot", "bad index"] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("idempotent-0");
        copy_dir(&fixtures().join("idempotent-0"), &dir);
        let file = damage(&dir, kind);
        let before = snapshot(&dir);
        let out = run(&["verify", dir.to_str().unwrap()]);
        assert_eq!(code(&out), 6, "{kind}: {}", stdout(&out));
        assert!(
            stdout(&out).lines().any(|l| l.starts_with("error") && l.contains(file)),
            "{kind}: no error names {file}:\n{}",
            stdout(&out)
        );
        assert!(stderr(&out).contains("error(s) found"), "{}", stderr(&out));
        let json: Value =
            serde_json::from_str(&stdout(&run(&["verify", "--json", dir.to_str().unwrap()]))).unwrap();
        assert_eq!(json["ok"], false);
        // dump of the damaged file reports it, with its own exit status, where dump can tell.
        if kind != "bad index" {
            let out = run(&["dump", dir.join(file).to_str().unwrap()]);
            assert_eq!(code(&out), 6, "{kind}");
            assert!(stderr(&out).contains(file), "{kind}: {}", stderr(&out));
        }
        assert_eq!(before, snapshot(&dir), "{kind}: verify/dump changed the directory");
    }
}

#[test]
fn dump_and_verify_never_modify_what_they_read() {
    // A fixture and a whole engine data directory (left unclean by a killed writer would be
    // ideal; a closed one with every file kind is enough here).
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    let d = data.to_str().unwrap();
    let input: String = (0..200).map(|i| format!("{{\"key\": \"k{i}\", \"value\": \"v{i}\"}}\n")).collect();
    ok(&common::run_with_input(
        &["produce", "-d", d, "-t", "t", "--transactional-id", "x", "--transaction-size", "7"],
        &input,
    ));
    // Internal topics are decoded (kafka-dump-log's --transaction-log-decoder).
    let txn_state = data.join("__transaction_state-0");
    let decoded = ok(&run(&["dump", "--deep", txn_state.to_str().unwrap()]));
    assert!(decoded.contains("decoded: Transaction { transactional_id: \"x\""), "{decoded}");
    let fixture = tmp.path().join("transactions-0");
    copy_dir(&fixtures().join("transactions-0"), &fixture);
    for dir in [&data, &fixture] {
        let before = snapshot(dir);
        let p = dir.to_str().unwrap();
        ok(&run(&["dump", "--deep", p]));
        ok(&run(&["dump", "--deep", "--json", p]));
        ok(&run(&["verify", "-v", p]));
        ok(&run(&["verify", "--json", p]));
        assert_eq!(before, snapshot(dir), "{p} changed");
    }
}
