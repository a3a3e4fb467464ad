//! `eoslog produce` → `eoslog consume` round trips: binary keys, values and headers, every
//! encoding, transactions under read_committed and read_uncommitted, start positions, groups and
//! follow mode.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::{code, json_lines, ok, run, run_with_input};
use serde_json::{Value, json};

fn bytes_of(v: &Value, enc: &Value) -> Option<Vec<u8>> {
    let s = v.as_str()?;
    Some(match enc.as_str() {
        Some("utf8") => s.as_bytes().to_vec(),
        Some("base64") => B64.decode(s).unwrap(),
        Some("hex") => {
            (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
        }
        other => panic!("encoding {other:?}"),
    })
}

fn values(lines: &[Value]) -> Vec<Option<Vec<u8>>> {
    lines.iter().map(|l| bytes_of(&l["value"], &l["value_encoding"])).collect()
}

#[test]
fn binary_records_and_headers_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let binary: Vec<u8> = (0..=255u8).collect();
    let input = [
        json!({"key": "k1", "value": "plain text ✓", "headers": [{"key": "trace", "value": "abc"}, {"key": "trace", "value": null}]}),
        json!({"key": B64.encode([0u8, 0xff, 0x80]), "key_encoding": "base64", "value": B64.encode(&binary), "value_encoding": "base64",
               "headers": [{"key": "bin", "value": "00ff", "value_encoding": "hex"}]}),
        json!({"value": null, "timestamp": 1_767_225_600_000i64}),
        json!({"value": "", "headers": {"a": "1"}}),
        json!({"value": {"nested": [1, 2]}}),
    ];
    let text: String = input.iter().map(|v| format!("{v}\n")).collect();
    let out = run_with_input(&["produce", "--data", data, "--topic", "t", "--partition", "0"], &text);
    ok(&out);
    assert!(common::stderr(&out).contains("produced 5 record(s)"));

    let lines = json_lines(&ok(&run(&["consume", "--data", data, "--topic", "t"])));
    assert_eq!(lines.len(), 5);
    assert_eq!(lines.iter().map(|l| l["offset"].as_i64().unwrap()).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
    assert_eq!(
        values(&lines),
        [
            Some("plain text ✓".as_bytes().to_vec()),
            Some(binary.clone()),
            None,
            Some(vec![]),
            Some(br#"{"nested":[1,2]}"#.to_vec())
        ]
    );
    assert_eq!(lines[1]["value_encoding"], "base64");
    assert_eq!(bytes_of(&lines[1]["key"], &lines[1]["key_encoding"]).unwrap(), [0, 0xff, 0x80]);
    assert_eq!(
        lines[0]["headers"],
        json!([{"key": "trace", "value": "abc", "value_encoding": "utf8"},
                                           {"key": "trace", "value": null, "value_encoding": null}])
    );
    let h = &lines[1]["headers"][0];
    assert_eq!(bytes_of(&h["value"], &h["value_encoding"]).unwrap(), [0, 0xff]);
    assert_eq!(lines[2]["timestamp"], 1_767_225_600_000i64);
    assert_eq!(lines[0]["producer_id"].as_i64().map(|p| p >= 0), Some(true), "idempotent by default");

    // Hex output, and consume's output is valid produce input: copy the topic.
    let hex = json_lines(&ok(&run(&["consume", "--data", data, "--topic", "t", "--encoding", "hex"])));
    assert_eq!(values(&hex), values(&lines));
    let raw = ok(&run(&["consume", "--data", data, "--topic", "t"]));
    ok(&run_with_input(&["produce", "--data", data, "--topic", "copy"], &raw));
    let copied = json_lines(&ok(&run(&["consume", "--data", data, "--topic", "copy"])));
    assert_eq!(values(&copied), values(&lines));
    assert_eq!(copied[1]["headers"], lines[1]["headers"]);
    assert_eq!(copied[2]["timestamp"], lines[2]["timestamp"]);

    // Base64 as the default input encoding.
    let input = format!("{}\n", json!({"value": B64.encode([1u8, 2, 3])}));
    ok(&run_with_input(&["produce", "--data", data, "--topic", "b", "--encoding", "base64"], &input));
    let got = json_lines(&ok(&run(&["consume", "--data", data, "--topic", "b", "--encoding", "base64"])));
    assert_eq!(got[0]["value"], B64.encode([1u8, 2, 3]));
}

#[test]
fn transactions_are_hidden_until_committed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let lines = |prefix: &str, n: usize| -> String {
        (0..n).map(|i| format!("{}\n", json!({"value": format!("{prefix}-{i}")}))).collect()
    };
    ok(&run_with_input(
        &["produce", "-d", data, "-t", "t", "--transactional-id", "tx", "--transaction-size", "2"],
        &lines("committed", 5),
    ));
    ok(&run_with_input(
        &["produce", "-d", data, "-t", "t", "--transactional-id", "tx", "--abort"],
        &lines("aborted", 3),
    ));
    ok(&run_with_input(&["produce", "-d", data, "-t", "t"], &lines("plain", 1)));

    let committed = json_lines(&ok(&run(&["consume", "-d", data, "-t", "t"])));
    let got: Vec<&str> = committed.iter().map(|l| l["value"].as_str().unwrap()).collect();
    assert_eq!(got, ["committed-0", "committed-1", "committed-2", "committed-3", "committed-4", "plain-0"]);
    assert!(committed[..5].iter().all(|l| l["is_transactional"] == true));

    let all =
        json_lines(&ok(&run(&["consume", "-d", data, "-t", "t", "--isolation-level", "read_uncommitted"])));
    assert_eq!(all.len(), 9, "read_uncommitted shows the aborted records too");
    assert!(all.iter().any(|l| l["value"] == "aborted-1"));

    // A bad line inside a transaction aborts it: nothing of it becomes visible.
    let bad = format!("{}not json\n", lines("doomed", 2));
    let out = run_with_input(&["produce", "-d", data, "-t", "t", "--transactional-id", "tx"], &bad);
    assert_eq!(code(&out), 8);
    assert!(common::stderr(&out).contains("input line 3"), "{}", common::stderr(&out));
    let after = json_lines(&ok(&run(&["consume", "-d", data, "-t", "t"])));
    assert_eq!(after.len(), 6);
}

#[test]
fn start_positions_groups_and_limits() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let input: String = (0..10)
        .map(|i| format!("{}\n", json!({"value": format!("v{i}"), "timestamp": 1_000_000 + i * 1000})))
        .collect();
    ok(&run_with_input(&["produce", "-d", data, "-t", "t", "--partitions", "2", "-p", "1"], &input));

    let vals = |out: String| -> Vec<String> {
        json_lines(&out).iter().map(|l| l["value"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(vals(ok(&run(&["consume", "-d", data, "-t", "t", "--from-offset", "7"]))), ["v7", "v8", "v9"]);
    assert_eq!(
        vals(ok(&run(&["consume", "-d", data, "-t", "t", "--from-timestamp", "1008000"]))),
        ["v8", "v9"]
    );
    assert_eq!(vals(ok(&run(&["consume", "-d", data, "-t", "t", "-p", "0"]))), Vec::<String>::new());
    assert_eq!(vals(ok(&run(&["consume", "-d", data, "-t", "t", "-n", "2"]))), ["v0", "v1"]);

    // A group resumes where it stopped.
    assert_eq!(
        vals(ok(&run(&["consume", "-d", data, "-t", "t", "-g", "g", "-n", "4"]))),
        ["v0", "v1", "v2", "v3"]
    );
    assert_eq!(vals(ok(&run(&["consume", "-d", data, "-t", "t", "-g", "g", "-n", "2"]))), ["v4", "v5"]);
    assert_eq!(vals(ok(&run(&["consume", "-d", data, "-t", "t", "-g", "g"]))), ["v6", "v7", "v8", "v9"]);
    assert!(vals(ok(&run(&["consume", "-d", data, "-t", "t", "-g", "g"]))).is_empty());

    // Errors: unknown topic, unknown partition.
    assert_eq!(code(&run(&["consume", "-d", data, "-t", "nope"])), 1);
    assert_eq!(code(&run(&["consume", "-d", data, "-t", "t", "-p", "5"])), 1);
}

#[test]
fn follow_sees_records_produced_by_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    ok(&run_with_input(&["produce", "-d", data, "-t", "t"], "{\"value\": \"first\"}\n"));
    let follower = Command::new(common::exe())
        .args(["consume", "-d", data, "-t", "t", "--follow", "--max-records", "3", "--poll-ms", "20"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The producer waits for the lock while the follower holds the directory.
    ok(&run_with_input(&["produce", "-d", data, "-t", "t"], "{\"value\": \"second\"}\n"));
    ok(&run_with_input(&["produce", "-d", data, "-t", "t"], "{\"value\": \"third\"}\n"));
    let started = Instant::now();
    let out = follower.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(30));
    let got: Vec<String> =
        json_lines(&ok(&out)).iter().map(|l| l["value"].as_str().unwrap().to_string()).collect();
    assert_eq!(got, ["first", "second", "third"]);
}
