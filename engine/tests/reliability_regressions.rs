//! Regressions for bugs the reliability campaign found (docs/reliability.md lists each with the
//! campaign step that found it).

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use eoslog::producer::{SnapshotEntry, decode_snapshot, encode_snapshot};
use eoslog::{
    Engine, EngineConfig, IsolationLevel, Producer, ProducerConfig, ProducerRecord, RecordBatchBuilder,
};

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

/// Writes `edit`ed entries of the partition's newest producer snapshot back (with a valid CRC).
fn forge_latest_snapshot(pdir: &std::path::Path, edit: impl Fn(&mut Vec<SnapshotEntry>)) {
    let mut snapshots: Vec<_> = std::fs::read_dir(pdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "snapshot"))
        .collect();
    snapshots.sort();
    let latest = snapshots.last().expect("a snapshot");
    let mut entries = decode_snapshot(&std::fs::read(latest).unwrap()).unwrap();
    edit(&mut entries);
    std::fs::write(latest, encode_snapshot(&entries)).unwrap();
}

/// Found by the `snapshot_load` fuzz target: a CRC-valid producer snapshot whose entry claims
/// an open transaction starting inside another batch (here: offset 1, inside a plain batch
/// 0..2) pinned the last stable offset at 1 forever, and a read_committed reader made no
/// progress. Snapshots that disagree with the log are now discarded and producer state is
/// rebuilt by replaying the log.
#[test]
fn a_forged_snapshot_cannot_pin_the_last_stable_offset() {
    type Forge = fn(&mut Vec<SnapshotEntry>, i64);
    let forgeries: [(&str, Forge); 4] = [
        ("open transaction inside a plain batch", |es, pid| {
            es.iter_mut().filter(|e| e.producer_id == pid).for_each(|e| e.current_txn_first_offset = 1)
        }),
        ("open transaction of a producer that never wrote", |es, _| {
            es.push(SnapshotEntry {
                producer_id: 4242,
                producer_epoch: 0,
                last_sequence: 0,
                last_offset: 0,
                offset_delta: 0,
                timestamp: 0,
                coordinator_epoch: 0,
                current_txn_first_offset: 0,
            })
        }),
        ("last offset past the snapshot", |es, pid| {
            es.iter_mut().filter(|e| e.producer_id == pid).for_each(|e| {
                e.last_offset = 2_305_673_684_423_016_447;
                e.current_txn_first_offset = 1;
            })
        }),
        ("open transaction after the producer's last batch", |es, pid| {
            es.iter_mut()
                .filter(|e| e.producer_id == pid)
                .for_each(|e| e.current_txn_first_offset = e.last_offset + 1)
        }),
    ];
    for (what, forge) in forgeries {
        for clean in [true, false] {
            let tmp = common::scratch_dir();
            let dir = tmp.path().join("data");
            let engine = common::open(&dir);
            engine.create_topic("t", 1, common::small_topic()).unwrap();
            let log = engine.partition("t", 0).unwrap();
            log.append(&common::batch("plain", 3)).unwrap();
            let p = Producer::new(
                &engine,
                ProducerConfig::from_pairs(&[("transactional.id", "x"), ("linger.ms", "0")]).unwrap(),
            )
            .unwrap();
            p.init_transactions().unwrap();
            p.begin_transaction().unwrap();
            p.send(ProducerRecord::new("t", "committed").partition(0)).unwrap();
            p.commit_transaction().unwrap();
            let pid = p.producer_id_and_epoch().unwrap().producer_id;
            p.close().unwrap();
            log.append(&common::batch("tail", 2)).unwrap();
            drop(log);
            engine.close().unwrap();
            forge_latest_snapshot(&dir.join("t-0"), |es| forge(es, pid));
            if !clean {
                std::fs::remove_file(dir.join(eoslog::CLEAN_SHUTDOWN_FILE)).unwrap();
            }
            let engine = common::open(&dir);
            let log = engine.partition("t", 0).unwrap();
            assert_eq!(
                log.last_stable_offset(),
                log.log_end_offset(),
                "{what} (clean = {clean}): the last stable offset is pinned"
            );
            let values = common::values(&engine, "t", 0, IsolationLevel::ReadCommitted);
            assert_eq!(values.len(), 6, "{what} (clean = {clean}): {values:?}");
            engine.close().unwrap();
        }
    }
}

/// Found by the `index_load` fuzz target: a clean open trusts an offset index on Kafka's checks
/// of its last entries, and an entry for the base offset pointing at a later batch made a read
/// at offset 0 start there, silently skipping every record in between. An index entry is now
/// checked against the batch header at its position before the scan starts from it.
#[test]
fn a_damaged_offset_index_cannot_make_a_read_skip_records() {
    let tmp = common::scratch_dir();
    let dir = tmp.path().join("data");
    let engine = common::open(&dir);
    engine.create_topic_with("t", 1, &[("index.interval.bytes", "1")]).unwrap();
    let log = engine.partition("t", 0).unwrap();
    for i in 0..10 {
        log.append(&common::batch(&format!("b{i}"), 3)).unwrap();
    }
    drop(log);
    engine.close().unwrap();
    let pdir = dir.join("t-0");
    let segment = std::fs::read(pdir.join("00000000000000000000.log")).unwrap();
    let positions: Vec<(u32, i64, i64)> = eoslog::batch::batches(&segment)
        .scan(0u32, |pos, b| {
            let b = b.unwrap();
            let at = *pos;
            *pos += b.size() as u32;
            Some((at, b.base_offset(), b.last_offset()))
        })
        .collect();
    assert_eq!(positions.len(), 10);
    let entry = |rel: u32, pos: u32| [rel.to_be_bytes(), pos.to_be_bytes()].concat();
    let forgeries: [(&str, Vec<u8>); 3] = [
        ("offset 0 at batch 5", entry(0, positions[5].0)),
        (
            "offset 4 at batch 7, then offset 20 at batch 8",
            [entry(4, positions[7].0), entry(20, positions[8].0)].concat(),
        ),
        ("offset 2 in the middle of batch 3", entry(2, positions[3].0 + 7)),
    ];
    let all: Vec<String> = (0..10).flat_map(|i| (0..3).map(move |k| format!("b{i}-{k}"))).collect();
    for (what, index) in forgeries {
        std::fs::write(pdir.join("00000000000000000000.index"), &index).unwrap();
        let engine = common::open(&dir);
        assert_eq!(common::values(&engine, "t", 0, IsolationLevel::ReadUncommitted), all, "{what}");
        let log = engine.partition("t", 0).unwrap();
        for offset in [0, 1, 4, 13, 29] {
            let data = log.read(offset, 1, IsolationLevel::ReadUncommitted).unwrap();
            let first = data.records.batches().next().unwrap().unwrap();
            assert!(
                first.base_offset() <= offset && offset <= first.last_offset(),
                "{what}: read at {offset}"
            );
        }
        drop(log);
        engine.close().unwrap();
    }
}

/// Found by the `ffi_c` fuzz target: a topic with a long legal name (up to 249 characters)
/// could be created but not deleted — its directory renamed to `<name>-<p>.<topic id>-delete`
/// passed the file system's 255-byte name limit (ENAMETOOLONG, KAFKA_STORAGE_ERROR) after the
/// topic had already left the metadata file. The deletion name now cuts the topic short.
#[test]
fn a_topic_with_the_longest_legal_name_can_be_deleted() {
    let tmp = common::scratch_dir();
    let dir = tmp.path().join("data");
    let engine = common::open(&dir);
    for len in [200, 228, 240, 249] {
        let name = "n".repeat(len - 1) + "x";
        engine.create_topic(&name, 3, common::small_topic()).unwrap();
        for p in 0..3 {
            engine.partition(&name, p).unwrap().append(&common::batch("v", 2)).unwrap();
        }
        engine.delete_topic(&name).unwrap_or_else(|e| panic!("deleting a {len}-character topic: {e}"));
        assert!(engine.partition(&name, 0).is_err());
    }
    engine.close().unwrap();
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('n'))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let engine = common::open(&dir);
    assert!(engine.topics().is_empty(), "a deleted topic came back: {:?}", engine.topics());
    engine.close().unwrap();
}
