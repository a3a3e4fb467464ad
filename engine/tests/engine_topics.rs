//! The engine: the directory lock (in this process and in another one), topics (create, list,
//! delete, recreate), per-topic configuration persisted across reopen, `alter_topic_config`,
//! and what a closed engine answers.

mod common;

use std::path::Path;
use std::process::Command;

use eoslog::{Engine, ErrorCode, IsolationLevel, TopicConfig};

const PROBE_DIR: &str = "EOSLOG_LOCK_PROBE_DIR";
const PROBE_EXPECT: &str = "EOSLOG_LOCK_PROBE_EXPECT";

#[test]
fn lock_against_a_second_opener_in_this_process() {
    let tmp = tempfile::tempdir().unwrap();
    let engine = common::open(tmp.path());
    for _ in 0..2 {
        let err = Engine::open(tmp.path(), common::config()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::KafkaStorageError);
        assert!(err.to_string().contains("locked by another eoslog engine"), "{err}");
    }
    // A clone shares the engine (and the lock); closing releases it once the last clone goes.
    let clone = engine.clone();
    engine.close().unwrap();
    drop(engine);
    drop(clone);
    let again = common::open(tmp.path());
    assert!(again.recovery_report().clean_shutdown);
}

/// Runs this test binary again, as a child process, on the probe below.
fn probe(dir: &Path, expect: &str) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_process_lock_probe", "--nocapture", "--test-threads=1"])
        .env(PROBE_DIR, dir)
        .env(PROBE_EXPECT, expect)
        .output()
        .unwrap();
    // The child reports on stderr (the test harness owns stdout).
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "child failed: {}\n{stderr}", String::from_utf8_lossy(&out.stdout));
    stderr
}

#[test]
fn lock_against_another_process() {
    let tmp = tempfile::tempdir().unwrap();
    let engine = common::open(tmp.path());
    engine.create_topic("t", 1, TopicConfig::default()).unwrap();
    let out = probe(tmp.path(), "locked");
    assert!(out.contains("probe: locked"), "{out}");
    engine.close().unwrap();
    drop(engine);
    let out = probe(tmp.path(), "open");
    assert!(out.contains("probe: opened with 1 topic(s)"), "{out}");
    // The child closed cleanly: this process opens without recovery.
    let engine = common::open(tmp.path());
    assert!(engine.recovery_report().clean_shutdown);
}

/// The child side of `lock_against_another_process` (does its real work only when spawned by
/// it; run directly it checks that a fresh directory opens and is locked while open).
#[test]
fn child_process_lock_probe() {
    let Some(dir) = std::env::var_os(PROBE_DIR) else {
        let tmp = tempfile::tempdir().unwrap();
        let engine = common::open(tmp.path());
        assert!(tmp.path().join(".lock").exists());
        assert!(Engine::open(tmp.path(), common::config()).is_err());
        drop(engine);
        return;
    };
    let expect = std::env::var(PROBE_EXPECT).unwrap();
    match Engine::open(&dir, common::config()) {
        Err(e) => {
            assert_eq!(expect, "locked", "unexpected error: {e}");
            assert_eq!(e.code(), ErrorCode::KafkaStorageError);
            assert!(e.to_string().contains("locked"), "{e}");
            eprintln!("probe: locked");
        }
        Ok(engine) => {
            assert_eq!(expect, "open", "the directory was not locked");
            eprintln!("probe: opened with {} topic(s)", engine.topics().len());
            engine.close().unwrap();
        }
    }
}

#[test]
fn topics_create_list_delete_recreate() {
    let tmp = tempfile::tempdir().unwrap();
    let engine = common::open(tmp.path());
    engine.create_topic("orders", 3, common::small_topic()).unwrap();
    engine.create_topic_with("audit.log_v2", 1, &[("retention.ms", "1000")]).unwrap();
    let topics = engine.topics();
    assert_eq!(
        topics.iter().map(|t| (t.name.as_str(), t.partitions)).collect::<Vec<_>>(),
        [("audit.log_v2", 1), ("orders", 3)]
    );
    assert!(topics.iter().all(|t| t.topic_id.len() == 22 && !t.internal));
    assert_eq!(engine.topic("audit.log_v2").unwrap().config.retention_ms, 1000);
    for p in 0..3 {
        let dir = tmp.path().join(format!("orders-{p}"));
        let meta = std::fs::read_to_string(dir.join("partition.metadata")).unwrap();
        assert_eq!(meta, format!("version: 0\ntopic_id: {}\n", topics[1].topic_id));
        engine.partition("orders", p).unwrap().append(&common::batch(&format!("p{p}"), 2)).unwrap();
    }
    // The metadata file: Kafka's checkpoint layout, one line per topic, overrides only.
    let meta = std::fs::read_to_string(tmp.path().join("eoslog-topics")).unwrap();
    let all: Vec<&str> = meta.lines().collect();
    // Version, count (the two internal topics of the coordinators are listed too), entries.
    assert_eq!(all[..2], ["0", "4"]);
    assert!(all[2].starts_with("__consumer_offsets 1 ") && all[3].starts_with("__transaction_state 1 "));
    let lines: Vec<&str> = all[..2].iter().chain(&all[4..]).copied().collect();
    assert_eq!(lines[2], format!("audit.log_v2 1 {} retention.ms=1000", topics[0].topic_id));
    assert!(lines[3].starts_with(&format!("orders 3 {} ", topics[1].topic_id)), "{}", lines[3]);
    assert!(lines[3].contains("segment.bytes=4096"), "{}", lines[3]);

    // Delete: handles stop working, the directories go, the metadata forgets the topic.
    let handle = engine.partition("orders", 1).unwrap();
    engine.delete_topic("orders").unwrap();
    assert!(handle.append(&common::batch("late", 1)).is_err());
    assert_eq!(engine.partition("orders", 1).unwrap_err().code(), ErrorCode::UnknownTopicOrPartition);
    let mut entries = common::file_names(tmp.path());
    entries.retain(|e| !e.starts_with('.') && !e.ends_with("checkpoint") && !e.starts_with("__"));
    assert_eq!(entries, ["audit.log_v2-0", "eoslog-topics"]);
    let meta = std::fs::read_to_string(tmp.path().join("eoslog-topics")).unwrap();
    assert!(!meta.contains("orders"), "{meta}");

    // Recreate: a new, empty topic with a new id.
    engine.create_topic("orders", 2, TopicConfig::default()).unwrap();
    let recreated = engine.topic("orders").unwrap();
    assert_ne!(recreated.topic_id, topics[1].topic_id);
    assert_eq!(recreated.partitions, 2);
    let p0 = engine.partition("orders", 0).unwrap();
    assert_eq!(p0.log_end_offset(), 0);
    assert_eq!(p0.append(&common::batch("new", 1)).unwrap().first_offset, 0);
    assert!(!tmp.path().join("orders-2").exists());

    // Everything persists across a reopen (clean) and a crash (image).
    let image = tempfile::tempdir().unwrap();
    common::copy_tree(tmp.path(), image.path());
    drop((handle, p0));
    engine.close().unwrap();
    drop(engine);
    for dir in [tmp.path(), image.path()] {
        let engine = common::open(dir);
        let topics = engine.topics();
        assert_eq!(
            topics.iter().map(|t| (t.name.as_str(), t.partitions)).collect::<Vec<_>>(),
            [("audit.log_v2", 1), ("orders", 2)]
        );
        assert_eq!(engine.topic("orders").unwrap().topic_id, recreated.topic_id);
        assert_eq!(engine.topic("audit.log_v2").unwrap().config.retention_ms, 1000);
        assert_eq!(common::values(&engine, "orders", 0, IsolationLevel::ReadUncommitted), ["new-0"]);
    }
}

#[test]
fn per_topic_config_persists_and_alter_applies_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let engine = common::open(tmp.path());
    let mut config = common::small_topic();
    config.set("retention.bytes", "100000").unwrap();
    config.set("message.timestamp.type", "LogAppendTime").unwrap();
    engine.create_topic("t", 1, config.clone()).unwrap();
    engine.create_topic("plain", 1, TopicConfig::default()).unwrap();
    let log = engine.partition("t", 0).unwrap();
    for i in 0..3 {
        log.append(&common::batch(&format!("{i}"), 1)).unwrap();
    }
    assert_eq!(log.segment_base_offsets(), vec![0]);
    // A smaller segment.bytes takes effect for the next append.
    let size = common::batch("0", 1).len();
    engine
        .alter_topic_config("t", &[("segment.bytes", &(2 * size).to_string()), ("retention.ms", "-1")])
        .unwrap();
    assert_eq!(log.config().segment_bytes as usize, 2 * size);
    log.append(&common::batch("3", 1)).unwrap();
    log.append(&common::batch("4", 1)).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 3]);
    let mut expected = config.clone();
    expected.set("segment.bytes", &(2 * size).to_string()).unwrap();
    expected.set("retention.ms", "-1").unwrap();
    assert_eq!(engine.topic("t").unwrap().config, expected);
    assert_eq!(engine.topic("plain").unwrap().config, TopicConfig::default());
    drop(log);
    engine.close().unwrap();
    drop(engine);

    let engine = common::open(tmp.path());
    assert_eq!(engine.topic("t").unwrap().config, expected);
    assert_eq!(
        engine.partition("t", 0).unwrap().config().timestamp_type,
        eoslog::TimestampType::LogAppendTime
    );
    assert_eq!(engine.topic("plain").unwrap().config, TopicConfig::default());
    // Engine defaults apply to keys a topic never set: a different default shows through.
    drop(engine);
    let mut cfg = common::config();
    cfg.set("log.retention.bytes", "777").unwrap();
    let engine = Engine::open(tmp.path(), cfg).unwrap();
    assert_eq!(engine.topic("plain").unwrap().config.retention_bytes, 777);
    assert_eq!(engine.topic("t").unwrap().config.retention_bytes, 100000);
}

#[test]
fn a_closed_engine_refuses_work() {
    let tmp = tempfile::tempdir().unwrap();
    let engine = common::open(tmp.path());
    engine.create_topic("t", 1, TopicConfig::default()).unwrap();
    let log = engine.partition("t", 0).unwrap();
    log.append(&common::batch("a", 1)).unwrap();
    engine.close().unwrap();
    engine.close().unwrap(); // twice is fine
    assert!(tmp.path().join(eoslog::CLEAN_SHUTDOWN_FILE).exists());
    for err in [
        engine.partition("t", 0).map(|_| ()).unwrap_err(),
        engine.create_topic("u", 1, TopicConfig::default()).unwrap_err(),
        engine.flush().unwrap_err(),
        log.append(&common::batch("b", 1)).map(|_| ()).unwrap_err(),
        log.read(0, 100, IsolationLevel::ReadUncommitted).map(|_| ()).unwrap_err(),
    ] {
        assert_eq!(err.code(), ErrorCode::KafkaStorageError);
        assert!(err.to_string().contains("closed"), "{err}");
    }
}
