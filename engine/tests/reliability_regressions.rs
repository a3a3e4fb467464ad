//! Regressions for bugs the reliability campaign found (docs/reliability.md lists each with the
//! campaign step that found it).

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use eoslog::{Engine, EngineConfig, RecordBatchBuilder};

/// Found by the soak run: `Engine::run_retention` walks a snapshot of the partitions, and one
/// whose topic was deleted meanwhile answered `Closed`, failing the whole call. A concurrently
/// deleted partition is now skipped.
#[test]
fn retention_racing_topic_deletion_does_not_fail() {
    let tmp = common::scratch_dir();
    let engine = Engine::open(tmp.path(), EngineConfig::default()).unwrap();
    let stop = AtomicBool::new(false);
    let rounds = AtomicUsize::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                engine.run_retention().expect("retention while topics come and go");
                rounds.fetch_add(1, Ordering::Relaxed);
            }
        });
        let mut batch = RecordBatchBuilder::new();
        batch.append(0, None, Some(b"x"), &[]);
        let batch = batch.build().unwrap();
        for n in 0..100u64 {
            let name = format!("tmp-{}", n % 3);
            engine.create_topic_with(&name, 2, &[("segment.bytes", "65536")]).unwrap();
            engine.partition(&name, 0).unwrap().append(&batch).unwrap();
            engine.delete_topic(&name).unwrap();
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert!(rounds.load(Ordering::Relaxed) > 0);
    engine.close().unwrap();
}
