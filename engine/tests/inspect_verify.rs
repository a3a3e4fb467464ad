//! `inspect::verify` and `inspect::dump` on fixtures and engine-written directories: they find
//! damage, accept healthy data, and never change a byte.

mod common;

use std::path::Path;

use eoslog::inspect::{DumpedFile, Severity, dump_file, partition_files, verify_path};
use eoslog::txn::{TransactionVersion, TxnTopicPartition};

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/kafka-dirs")
}

#[test]
fn fixtures_verify_clean_and_unchanged() {
    for name in ["idempotent-0", "transactions-0", "compressed-0", "epochs-0"] {
        let dir = fixtures().join(name);
        let before = common::tree(&dir);
        let report = verify_path(&dir).unwrap();
        let errors: Vec<_> = report.findings.iter().filter(|f| f.severity == Severity::Error).collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        assert!(report.batches > 0 && report.snapshots > 0, "{name}: {report:?}");
        assert_eq!(common::tree(&dir), before, "verify must not modify {name}");
    }
    let report = verify_path(&fixtures().join("transactions-0")).unwrap();
    assert_eq!(report.txn_index_entries, 5);
}

#[test]
fn engine_directory_with_transactions_verifies_and_damage_is_found() {
    let dir = tempfile::tempdir().unwrap();
    {
        let engine = common::open(dir.path());
        engine.create_topic("t", 2, common::small_topic()).unwrap();
        let txn = engine.transactions();
        let pe = txn.init_producer_id(Some("v"), 60_000, None).unwrap();
        let mut pe = pe;
        for round in 0..6 {
            let tv = TransactionVersion::Tv2;
            txn.add_partitions_to_txn("v", pe.producer_id, pe.epoch, &[TxnTopicPartition::new("t", 0)], tv)
                .unwrap();
            engine
                .produce("t", 0, &common::transactional(pe.producer_id, pe.epoch, 0, 10, "x"), Some("v"))
                .unwrap();
            engine.partition("t", 1).unwrap().append(&common::batch("plain", 5)).unwrap();
            pe = txn.end_txn("v", pe.producer_id, pe.epoch, round % 3 != 0, tv).unwrap();
        }
        engine.close().unwrap();
    }
    let report = verify_path(dir.path()).unwrap();
    assert!(report.ok(), "{:#?}", report.findings);
    assert!(report.txn_index_entries >= 2);

    // Flip a byte inside the first batch of t-0: the CRC check must catch it.
    let log = dir.path().join("t-0/00000000000000000000.log");
    let mut bytes = std::fs::read(&log).unwrap();
    bytes[70] ^= 0x40;
    std::fs::write(&log, &bytes).unwrap();
    let before = common::tree(dir.path());
    let report = verify_path(dir.path()).unwrap();
    assert!(!report.ok());
    assert!(
        report.findings.iter().any(|f| f.severity == Severity::Error && f.path == log),
        "{:#?}",
        report.findings
    );
    assert_eq!(common::tree(dir.path()), before, "verify must not modify anything");
}

#[test]
fn not_a_log_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), b"hi").unwrap();
    assert!(verify_path(dir.path()).is_err());
    assert!(verify_path(&dir.path().join("missing")).is_err());
    assert!(verify_path(&dir.path().join("hello.txt")).is_err());
}

#[test]
fn dump_decodes_every_file_kind() {
    let dir = fixtures().join("transactions-0");
    let mut kinds = std::collections::BTreeSet::new();
    for f in partition_files(&dir).unwrap() {
        match dump_file(&f, true).unwrap() {
            DumpedFile::Log { batches, trailing } => {
                assert!(trailing.is_none());
                assert!(batches.iter().all(|b| b.crc_valid && b.error.is_none()));
                assert!(batches.iter().any(|b| b.marker.as_ref().is_some_and(|m| m.0 == "ABORT")));
                kinds.insert("log");
            }
            DumpedFile::OffsetIndex { entries, .. } => {
                assert!(!entries.is_empty());
                kinds.insert("index");
            }
            DumpedFile::TimeIndex { .. } => {
                kinds.insert("timeindex");
            }
            DumpedFile::TxnIndex { entries, error } => {
                assert!(error.is_none() && !entries.is_empty());
                kinds.insert("txnindex");
            }
            DumpedFile::Snapshot { entries, .. } => {
                assert!(entries.is_ok());
                kinds.insert("snapshot");
            }
            DumpedFile::Text { .. } => {
                kinds.insert("text");
            }
        }
    }
    assert_eq!(kinds.len(), 6, "{kinds:?}");
}
