//! Resource bounds on what is read from disk: lengths and counts found in files never size an
//! allocation or a loop without a bound (regressions for the audit of `with_capacity` /
//! `vec![0; n]` on decoded lengths; see docs/reliability.md).

mod common;

use std::fs::OpenOptions;

use eoslog::ErrorCode;
use eoslog::log::checkpoint::{MAX_CHECKPOINT_BYTES, RECOVERY_POINT_CHECKPOINT};
use eoslog::topics::{MAX_PARTITIONS, TOPICS_FILE};

/// A sparse checkpoint file of 1 TiB used to be read into a buffer of its length (an abort on
/// allocation failure); it is now refused as corrupt, by its length, before any read.
#[test]
fn a_huge_checkpoint_file_is_refused_without_reading_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let engine = common::open(&dir);
    engine.create_topic("t", 1, common::small_topic()).unwrap();
    engine.close().unwrap();
    for name in [RECOVERY_POINT_CHECKPOINT, TOPICS_FILE] {
        let path = dir.join(name);
        let keep = std::fs::read(&path).unwrap();
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(1 << 40).unwrap();
        drop(f);
        let Err(err) = eoslog::Engine::open(&dir, common::config()) else { panic!("{name}: 1 TiB accepted") };
        assert!(err.to_string().contains("too large"), "{name}: {err}");
        // Just past the bound: still refused; the original: fine again.
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(MAX_CHECKPOINT_BYTES + 1).unwrap();
        drop(f);
        assert!(eoslog::Engine::open(&dir, common::config()).is_err(), "{name}: 64 MiB + 1 accepted");
        std::fs::write(&path, keep).unwrap();
        common::open(&dir).close().unwrap();
    }
}

/// A directory named like partition 999,999,999 of a topic used to make the open create every
/// partition below it; directories past the partition limit are now ignored like any
/// non-partition directory.
#[test]
fn a_stray_partition_directory_past_the_limit_is_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let engine = common::open(&dir);
    engine.create_topic("t", 2, common::small_topic()).unwrap();
    engine.close().unwrap();
    for n in [999_999_999, MAX_PARTITIONS] {
        std::fs::create_dir(dir.join(format!("t-{n}"))).unwrap();
        std::fs::create_dir(dir.join(format!("stray-{n}"))).unwrap();
        let engine = common::open(&dir);
        assert_eq!(engine.partition_count("t").unwrap(), 2);
        assert_eq!(engine.partition_count("stray").unwrap_err().code(), ErrorCode::UnknownTopicOrPartition);
        engine.close().unwrap();
        let dirs = std::fs::read_dir(&dir).unwrap().count();
        assert!(dirs < 20, "{dirs} entries in the data directory");
        std::fs::remove_dir(dir.join(format!("t-{n}"))).unwrap();
        std::fs::remove_dir(dir.join(format!("stray-{n}"))).unwrap();
    }
    // The last partition allowed is still found (and the ones below it created).
    std::fs::create_dir(dir.join("wide-9")).unwrap();
    let engine = common::open(&dir);
    assert_eq!(engine.partition_count("wide").unwrap(), 10);
    engine.close().unwrap();
}

/// A topic cannot be created with more partitions than the limit.
#[test]
fn topic_creation_is_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let engine = common::open(tmp.path());
    for n in [0, -1, MAX_PARTITIONS + 1, i32::MAX] {
        let err = engine.create_topic("t", n, common::small_topic()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidPartitions, "{n}");
    }
    assert!(engine.topics().is_empty());
}
