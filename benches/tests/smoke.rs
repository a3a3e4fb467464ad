//! Every workload once at a tiny size: the results must be *sane* (bytes written equal bytes
//! requested, records read equal records written, recovery finds the data). No timing is
//! asserted anywhere — performance is measured by the report runner, not tested.

use std::path::Path;

use eoslog_benches::data::{Shape, StreamKind, Workload};
use eoslog_benches::engine::{self, EngineSetup, Transactions, UncleanLog};
use eoslog_benches::peers::{self, SqliteOptions, Synchronous};
use eoslog_benches::raw::{self, RawSync};
use eoslog_benches::report::{Suite, SuiteConfig, WorkloadId};
use eoslog_benches::{Backend, Durability, Measurement, producer};

/// 64 batches of 16 × 1 KiB.
const BYTES: u64 = 64 * 16_600;

fn backends() -> Vec<Backend> {
    if Backend::uring_available() { vec![Backend::Uring, Backend::Std] } else { vec![Backend::Std] }
}

fn check_written(m: &Measurement, w: &Workload) {
    assert_eq!(m.bytes, w.bytes());
    assert_eq!(m.records, w.records());
    assert_eq!(m.batches, w.batches());
    assert!(m.elapsed.as_nanos() > 0);
}

fn root() -> tempfile::TempDir {
    // Under the target directory like the benchmarks (the smoke test does not care about the
    // device, but keeps off a possibly small /tmp).
    let base = eoslog_benches::bench_root().join("smoke");
    std::fs::create_dir_all(&base).unwrap();
    tempfile::tempdir_in(base).unwrap()
}

#[test]
fn w1_eoslog_and_baselines_write_the_requested_bytes() {
    let dir = root();
    let root = dir.path();
    for partitions in [1, 3] {
        let w = Workload::build(StreamKind::Plain, Shape::new(partitions, BYTES)).unwrap();
        assert_eq!(w.batches(), BYTES / w.batch_len() as u64);
        for b in backends() {
            for final_sync in [false, true] {
                let setup = EngineSetup { backend: b, durability: Durability::None };
                let m = engine::append(root, &w, setup, None, final_sync).unwrap();
                check_written(&m, &w);
            }
        }
        for sync in [RawSync::None, RawSync::Final] {
            let m = raw::write_files(root, &w, sync).unwrap();
            check_written(&m, &w);
            let expected = if sync == RawSync::Final { partitions as u64 } else { 0 };
            assert_eq!(m.fsyncs, Some(expected));
        }
        for final_sync in [false, true] {
            check_written(&peers::commitlog_append(root, &w, final_sync).unwrap(), &w);
        }
        let opts = SqliteOptions { synchronous: Synchronous::Off, batches_per_txn: 16, unique_key: false };
        check_written(&peers::sqlite_append(root, &w, opts).unwrap(), &w);
    }
    assert_empty(root);
}

/// Every run cleans up after itself.
fn assert_empty(root: &Path) {
    let left: Vec<_> = std::fs::read_dir(root).unwrap().flatten().map(|e| e.path()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn w2_group_commit_and_fsync_per_append() {
    let dir = root();
    let root = dir.path();
    let shape = Shape::new(2, 0).with_streams(4).with_total_batches(16);
    let w = Workload::build(StreamKind::Plain, shape).unwrap();
    assert_eq!(w.batches(), 16);
    for b in backends() {
        let setup = EngineSetup { backend: b, durability: Durability::Always };
        let m = engine::append(root, &w, setup, None, false).unwrap();
        check_written(&m, &w);
        let rounds = m.rounds.unwrap();
        assert!((1..=16).contains(&rounds), "{rounds} rounds for 16 appends");
    }
    let m = raw::write_files(root, &w, RawSync::EveryAppend).unwrap();
    check_written(&m, &w);
    assert_eq!(m.fsyncs, Some(16));
    let opts = SqliteOptions { synchronous: Synchronous::Full, batches_per_txn: 1, unique_key: false };
    check_written(&peers::sqlite_append(root, &w, opts).unwrap(), &w);
}

#[test]
fn w3_w4_exactly_once_appends() {
    let dir = root();
    let root = dir.path();
    let shape = Shape::new(2, BYTES);
    let setup = EngineSetup { backend: backends()[0], durability: Durability::None };
    let idem = Workload::build(StreamKind::Idempotent, shape).unwrap();
    check_written(&engine::append(root, &idem, setup, None, false).unwrap(), &idem);
    let txn = Workload::build(StreamKind::Transactional, shape).unwrap();
    let t = Transactions::at_rate(1e6, std::time::Duration::from_millis(100), txn.batch_len());
    assert_eq!(t.batches_per_txn, 6); // 100 kB of 16.6 kB batches
    let m = engine::append(root, &txn, setup, Some(t), false).unwrap();
    check_written(&m, &txn);
    let per_stream = txn.streams[0].batches.len() as u64;
    assert_eq!(m.markers, Some(2 * per_stream.div_ceil(6)));
    // A transactional workload without transactions (or the reverse) is refused.
    assert!(engine::append(root, &txn, setup, None, false).is_err());
    assert!(engine::append(root, &idem, setup, Some(t), false).is_err());
    let opts = SqliteOptions { synchronous: Synchronous::Off, batches_per_txn: 7, unique_key: true };
    check_written(&peers::sqlite_append(root, &idem, opts).unwrap(), &idem);
}

#[test]
fn producer_micro_benchmarks() {
    let m = producer::dedup_check(10, 1000).unwrap();
    assert_eq!(m.batches, 1000);
    let mem = producer::producer_memory(10_000).unwrap();
    assert_eq!(mem.producers, 10_000);
    assert!(mem.entry_size > 0);
    assert!(mem.rss_after > 0);
}

#[test]
fn w5_w6_w7_read_recover_open() {
    let dir = root();
    let root = dir.path();
    let w = Workload::build(StreamKind::Transactional, Shape::new(1, BYTES)).unwrap();
    let t = Transactions { batches_per_txn: 4, abort_every: Some(10) };
    for b in backends() {
        let log = engine::build_log(root, &w, b, Some(t)).unwrap();
        // 64 batches in 16 transactions of 4: the 10th is aborted.
        assert_eq!(log.markers, 16);
        assert_eq!(log.records, w.records());
        assert_eq!(log.committed_records, w.records() - 4 * 16);
        assert_eq!(log.log_bytes, w.bytes() + 16 * 78, "data plus 16 markers of 78 bytes");

        let scan = engine::read_committed_scan(&log, b, 64 << 10).unwrap();
        assert_eq!(scan.records, log.committed_records, "read_committed delivers committed records only");
        assert_eq!(scan.batches, w.batches());
        assert_eq!(scan.bytes, log.log_bytes);
        let raw_read = raw::read_files(log.dir(), 1 << 20, true).unwrap();
        assert_eq!(raw_read.bytes, log.log_bytes);

        let unclean = UncleanLog::from_built(&log, root, b).unwrap();
        for _ in 0..2 {
            let r = engine::recover(&unclean, root, b).unwrap();
            assert!(!r.clean_shutdown);
            assert_eq!(r.truncated_bytes, 0);
            assert_eq!(r.measurement.bytes, log.log_bytes, "recovery scans the whole log");
            assert_eq!(r.measurement.records, unclean.offsets);
        }

        let open = engine::open_clean(&log, b).unwrap();
        assert_eq!(open.records, log.records + log.markers);
        assert!(raw::open_files(log.dir()).unwrap().batches > 0);
        // Opening again still finds a clean log (each run closes cleanly).
        assert_eq!(engine::open_clean(&log, b).unwrap().records, open.records);
    }
    let plain = Workload::build(StreamKind::Plain, Shape::new(1, BYTES / 4)).unwrap();
    let big = engine::build_log_repeated(root, &plain, backends()[0], 3).unwrap();
    assert_eq!(big.records, 3 * plain.records());
    assert_eq!(big.log_bytes, 3 * plain.bytes());
}

#[test]
fn suite_runs_end_to_end_and_renders() {
    let dir = root();
    let mut config = SuiteConfig::standard(dir.path().to_path_buf(), BYTES / 2);
    config.reps = 1;
    config.partitions = vec![2];
    config.w2_threads = vec![4];
    config.w2_appends = 8;
    config.dedup_batches = 1000;
    config.progress = false;
    config.workloads = WorkloadId::ALL.to_vec();
    let report = Suite::new(config).run().unwrap();
    for w in ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "dedup"] {
        assert!(report.rows.iter().any(|r| r.workload == w), "no {w} row");
    }
    assert!(report.ratios.iter().any(|r| r.name.contains("raw write")));
    let table = report.to_table();
    assert!(table.contains("| W1 | P=2 | eoslog"));
    let json = serde_json::to_value(&report).unwrap();
    assert!(json["rows"].as_array().is_some_and(|r| !r.is_empty()));
}
