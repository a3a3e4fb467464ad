//! Durability policies: `always` (appends return once durable; concurrent appenders share
//! fsyncs; the high watermark never passes the durable offset), `interval` (a background
//! flusher makes data durable without an explicit flush) and `none` (the page cache; the high
//! watermark follows the log end).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use eoslog::{Durability, Engine, EngineConfig, TopicConfig};

fn open(dir: &std::path::Path, durability: Durability) -> Engine {
    Engine::open(dir, EngineConfig { durability, ..common::config() }).unwrap()
}

#[test]
fn always_with_32_appenders_on_8_partitions_shares_fsyncs() {
    const THREADS: usize = 32;
    const PER_THREAD: usize = 10;
    let tmp = tempfile::tempdir().unwrap();
    let engine = open(tmp.path(), Durability::Always);
    engine.create_topic("t", 8, TopicConfig::default()).unwrap();
    let rounds_before = engine.group_commit_rounds();
    let barrier = Arc::new(Barrier::new(THREADS + 1));
    let stop = Arc::new(AtomicBool::new(false));

    // A watcher checks the invariant while appends are in flight.
    let watcher = {
        let (engine, stop) = (engine.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut checks = 0u64;
            while !stop.load(Ordering::Acquire) {
                for p in engine.all_partitions() {
                    // The high watermark first: the durable offset only grows.
                    let hw = p.high_watermark();
                    let durable = p.durable_offset();
                    assert!(
                        hw <= durable,
                        "{}: high watermark {hw} above durable offset {durable}",
                        p.topic_partition()
                    );
                    checks += 1;
                }
            }
            checks
        })
    };
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (engine, barrier) = (engine.clone(), barrier.clone());
            std::thread::spawn(move || {
                let log = engine.partition("t", (t % 8) as i32).unwrap();
                barrier.wait();
                for i in 0..PER_THREAD {
                    let info = log.append(&common::batch(&format!("t{t}-{i}"), 2)).unwrap();
                    // It returned: its bytes are durable.
                    assert!(log.durable_offset() > info.last_offset, "append returned before it was durable");
                    let hw = log.high_watermark();
                    assert!(hw <= log.durable_offset());
                }
            })
        })
        .collect();
    barrier.wait();
    for h in handles {
        h.join().unwrap();
    }
    stop.store(true, Ordering::Release);
    assert!(watcher.join().unwrap() > 0);

    let appends = (THREADS * PER_THREAD) as u64;
    let rounds = engine.group_commit_rounds() - rounds_before;
    eprintln!("{appends} appends, {rounds} group-commit rounds");
    assert!(rounds > 0);
    assert!(rounds < appends, "{rounds} fsync rounds for {appends} appends: no group commit happened");
    for p in engine.all_partitions().into_iter().filter(|p| p.topic_partition().topic == "t") {
        assert_eq!(p.log_end_offset(), (THREADS / 8 * PER_THREAD * 2) as i64);
        assert_eq!(p.durable_offset(), p.log_end_offset());
        assert_eq!(p.high_watermark(), p.log_end_offset());
    }
    // A crash image taken now holds every acknowledged record.
    let image = tempfile::tempdir().unwrap();
    common::copy_tree(tmp.path(), image.path());
    let recovered = common::open(image.path());
    for p in 0..8 {
        let values = common::values(&recovered, "t", p, eoslog::IsolationLevel::ReadUncommitted);
        assert_eq!(values.len(), THREADS / 8 * PER_THREAD * 2, "partition {p}");
    }
}

#[test]
fn interval_makes_data_durable_without_a_flush() {
    let tmp = tempfile::tempdir().unwrap();
    let engine = open(tmp.path(), Durability::Interval(Duration::from_millis(20)));
    engine.create_topic("t", 2, TopicConfig::default()).unwrap();
    let logs = [engine.partition("t", 0).unwrap(), engine.partition("t", 1).unwrap()];
    for (i, log) in logs.iter().enumerate() {
        for j in 0..5 {
            log.append(&common::batch(&format!("{i}-{j}"), 3)).unwrap();
        }
        // The high watermark does not wait for the flusher.
        assert_eq!(log.high_watermark(), 15);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while logs.iter().any(|l| l.durable_offset() < 15 || l.recovery_point() < 15) {
        assert!(Instant::now() < deadline, "the background flusher never ran");
        std::thread::sleep(Duration::from_millis(5));
    }
    for log in &logs {
        assert_eq!((log.durable_offset(), log.recovery_point()), (15, 15));
    }
}

#[test]
fn none_leaves_the_high_watermark_at_the_log_end() {
    let tmp = tempfile::tempdir().unwrap();
    let engine = open(tmp.path(), Durability::None);
    engine.create_topic("t", 1, TopicConfig::default()).unwrap();
    let log = engine.partition("t", 0).unwrap();
    for i in 0..10 {
        let info = log.append(&common::batch(&format!("{i}"), 2)).unwrap();
        assert_eq!(log.high_watermark(), info.last_offset + 1);
        assert_eq!(log.high_watermark(), log.log_end_offset());
    }
    // Nothing was synced: no group commit, nothing durable beyond what was there at open.
    assert_eq!(engine.group_commit_rounds(), 0);
    assert_eq!(log.durable_offset(), 0);
    assert_eq!(log.recovery_point(), 0);
    engine.flush().unwrap();
    assert_eq!((log.durable_offset(), log.recovery_point()), (20, 20));
}
