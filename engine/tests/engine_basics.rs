//! Engine basics: topics, append, read, reopen.

mod common;

use eoslog::{Engine, ErrorCode, IsolationLevel};

#[test]
fn append_read_close_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let engine = common::open(dir.path());
    engine.create_topic("orders", 3, common::small_topic()).unwrap();
    let p = engine.partition("orders", 1).unwrap();
    let mut expected = Vec::new();
    for i in 0..50 {
        let info = p.append(&common::batch(&format!("b{i}"), 4)).unwrap();
        assert_eq!(info.first_offset, i * 4);
        assert_eq!(info.last_offset, i * 4 + 3);
        assert!(!info.duplicate);
        for j in 0..4 {
            expected.push(format!("b{i}-{j}"));
        }
    }
    assert!(p.segment_base_offsets().len() > 1, "small segments roll");
    assert_eq!(common::values(&engine, "orders", 1, IsolationLevel::ReadUncommitted), expected);
    engine.close().unwrap();
    drop(p);
    drop(engine);

    let engine = common::open(dir.path());
    assert!(engine.recovery_report().clean_shutdown);
    assert_eq!(engine.recovery_report().partitions.iter().map(|r| r.segments_recovered).sum::<usize>(), 0);
    assert_eq!(engine.partition("orders", 1).unwrap().log_end_offset(), 200);
    assert_eq!(common::values(&engine, "orders", 1, IsolationLevel::ReadUncommitted), expected);
    let user = engine.topics();
    assert_eq!(user.len(), 1);
    assert_eq!(user[0].config.segment_bytes, 4096);
}

#[test]
fn second_open_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let engine = common::open(dir.path());
    let err = Engine::open(dir.path(), common::config()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::KafkaStorageError);
    assert!(err.to_string().contains("locked"), "{err}");
    drop(engine);
    common::open(dir.path());
}
