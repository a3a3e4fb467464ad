//! The transaction coordinator end to end through the engine.

mod common;

use eoslog::txn::{TransactionState, TransactionVersion, TxnTopicPartition};
use eoslog::{ErrorCode, IsolationLevel};

fn tp(t: &str, p: i32) -> TxnTopicPartition {
    TxnTopicPartition::new(t, p)
}

#[test]
fn commit_and_abort_with_markers_and_read_committed() {
    let dir = tempfile::tempdir().unwrap();
    let engine = common::open(dir.path());
    engine.create_topic("out", 2, common::small_topic()).unwrap();
    let txn = engine.transactions();
    for tv in [TransactionVersion::Tv0, TransactionVersion::Tv2] {
        let id = format!("copier-{tv:?}");
        let mut pe = txn.init_producer_id(Some(&id), 60_000, None).unwrap();
        let mut seq = 0;
        for round in 0..4 {
            let commit = round % 2 == 0;
            txn.add_partitions_to_txn(&id, pe.producer_id, pe.epoch, &[tp("out", 0), tp("out", 1)], tv)
                .unwrap();
            for p in 0..2 {
                let b = common::transactional(pe.producer_id, pe.epoch, seq, 3, &format!("{id}-{round}-{p}"));
                engine.produce("out", p, &b, Some(&id)).unwrap();
            }
            seq += 3;
            let next = txn.end_txn(&id, pe.producer_id, pe.epoch, commit, tv).unwrap();
            if tv.supports_epoch_bump() {
                assert_eq!(next.epoch, pe.epoch + 1, "TV2 bumps the epoch on every EndTxn");
                seq = 0;
            } else {
                assert_eq!(next, pe);
            }
            pe = next;
            let d = txn.describe(&id).unwrap();
            assert_eq!(
                d.state,
                if commit { TransactionState::CompleteCommit } else { TransactionState::CompleteAbort }
            );
        }
    }
    for p in 0..2 {
        let log = engine.partition("out", p).unwrap();
        assert_eq!(log.last_stable_offset(), log.log_end_offset(), "no transaction left open");
        let committed = common::values(&engine, "out", p, IsolationLevel::ReadCommitted);
        // The filter in `values` skips control batches but not aborted data: count what the
        // read_committed consumer must hide using the aborted list.
        let all = common::values(&engine, "out", p, IsolationLevel::ReadUncommitted);
        assert_eq!(all.len(), 2 * 4 * 3);
        assert!(committed.len() <= all.len());
        let mut aborted = std::collections::BTreeSet::new();
        let mut offset = 0;
        while offset < log.last_stable_offset() {
            let data = log.read(offset, 1 << 20, IsolationLevel::ReadCommitted).unwrap();
            aborted.extend(data.aborted_transactions.unwrap());
            offset = data.records.batches().last().unwrap().unwrap().next_offset();
        }
        assert_eq!(aborted.len(), 4, "two aborted transactions per version");
    }
}

#[test]
fn zombie_is_fenced_and_its_open_transaction_aborted() {
    let dir = tempfile::tempdir().unwrap();
    let engine = common::open(dir.path());
    engine.create_topic("out", 1, common::small_topic()).unwrap();
    let txn = engine.transactions();
    let tv = TransactionVersion::Tv0;
    let old = txn.init_producer_id(Some("app"), 60_000, None).unwrap();
    txn.add_partitions_to_txn("app", old.producer_id, old.epoch, &[tp("out", 0)], tv).unwrap();
    engine
        .produce("out", 0, &common::transactional(old.producer_id, old.epoch, 0, 2, "zombie"), Some("app"))
        .unwrap();
    // A new instance: the first call aborts the zombie's transaction and asks to retry.
    let e = txn.init_producer_id(Some("app"), 60_000, None).unwrap_err();
    assert_eq!(e.code(), ErrorCode::ConcurrentTransactions);
    let new = txn.init_producer_id(Some("app"), 60_000, None).unwrap();
    assert_eq!(new.producer_id, old.producer_id);
    assert!(new.epoch > old.epoch + 1, "fenced once for the abort, bumped again for the new instance");
    let log = engine.partition("out", 0).unwrap();
    assert_eq!(log.last_stable_offset(), log.log_end_offset());
    // The zombie can do nothing any more.
    let e = engine
        .produce("out", 0, &common::transactional(old.producer_id, old.epoch, 2, 1, "late"), Some("app"))
        .unwrap_err();
    assert!(matches!(e.code(), ErrorCode::InvalidProducerEpoch | ErrorCode::ProducerFenced), "{e}");
    let e = txn.end_txn("app", old.producer_id, old.epoch, true, tv).unwrap_err();
    assert_eq!(e.code(), ErrorCode::ProducerFenced);
    let e = txn.add_partitions_to_txn("app", old.producer_id, old.epoch, &[tp("out", 0)], tv).unwrap_err();
    assert_eq!(e.code(), ErrorCode::ProducerFenced);
    assert!(
        common::values(&engine, "out", 0, IsolationLevel::ReadCommitted).is_empty() || {
            let d = log.read(0, 1 << 20, IsolationLevel::ReadCommitted).unwrap();
            !d.aborted_transactions.unwrap().is_empty()
        }
    );
}

#[test]
fn prepared_transaction_completes_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let engine = common::open(dir.path());
        engine.create_topic("out", 1, common::small_topic()).unwrap();
        let txn = engine.transactions();
        let pe = txn.init_producer_id(Some("t"), 60_000, None).unwrap();
        txn.add_partitions_to_txn("t", pe.producer_id, pe.epoch, &[tp("out", 0)], TransactionVersion::Tv2)
            .unwrap();
        engine
            .produce("out", 0, &common::transactional(pe.producer_id, pe.epoch, 0, 5, "x"), Some("t"))
            .unwrap();
        txn.end_txn("t", pe.producer_id, pe.epoch, true, TransactionVersion::Tv2).unwrap();
        engine.close().unwrap();
    }
    let engine = common::open(dir.path());
    let d = engine.transactions().describe("t").unwrap();
    assert_eq!(d.state, TransactionState::CompleteCommit);
    let next = engine.transactions().init_producer_id(Some("t"), 60_000, None).unwrap();
    assert!(next.epoch >= 2);
}

#[test]
fn transactional_offsets_apply_on_commit_only() {
    let dir = tempfile::tempdir().unwrap();
    let engine = common::open(dir.path());
    let txn = engine.transactions();
    let tv = TransactionVersion::Tv2;
    let pe = txn.init_producer_id(Some("rpw"), 60_000, None).unwrap();
    txn.add_partitions_to_txn("rpw", pe.producer_id, pe.epoch, &[tp("__consumer_offsets", 0)], tv).unwrap();
    let offsets = engine.offsets();
    let o = vec![("in".to_string(), 0, eoslog::offsets::OffsetAndMetadata::new(42))];
    offsets.txn_commit(pe.producer_id, pe.epoch, "g", &o).unwrap();
    let f = offsets.fetch("g", Some(&[("in".to_string(), 0)]), true).unwrap();
    assert_eq!(f[0].error, ErrorCode::UnstableOffsetCommit);
    assert_eq!(offsets.committed("g", "in", 0), None);
    let pe2 = txn.end_txn("rpw", pe.producer_id, pe.epoch, false, tv).unwrap();
    assert_eq!(offsets.committed("g", "in", 0), None, "aborted offsets are dropped");
    txn.add_partitions_to_txn("rpw", pe2.producer_id, pe2.epoch, &[tp("__consumer_offsets", 0)], tv).unwrap();
    let o = vec![("in".to_string(), 0, eoslog::offsets::OffsetAndMetadata::new(77))];
    offsets.txn_commit(pe2.producer_id, pe2.epoch, "g", &o).unwrap();
    txn.end_txn("rpw", pe2.producer_id, pe2.epoch, true, tv).unwrap();
    assert_eq!(offsets.committed("g", "in", 0).unwrap().offset, 77);
    engine.close().unwrap();
    drop(engine);
    let engine = common::open(dir.path());
    assert_eq!(engine.offsets().committed("g", "in", 0).unwrap().offset, 77, "replayed after restart");
}

#[test]
fn offsets_join_a_transaction_only_through_add_offsets_to_txn() {
    let dir = tempfile::tempdir().unwrap();
    let engine = common::open(dir.path());
    let txn = engine.transactions();
    let pe = txn.init_producer_id(Some("wire"), 60_000, None).unwrap();
    let o = vec![("in".to_string(), 0, eoslog::offsets::OffsetAndMetadata::new(5))];
    // KIP-890 part 1: without AddOffsetsToTxn the offsets partition is not in a transaction.
    let e = engine.txn_offset_commit("wire", pe.producer_id, pe.epoch, "g", &o).unwrap_err();
    assert_eq!(e.code(), ErrorCode::TransactionAbortable);
    assert!(!engine.offsets().has_pending("g"), "nothing was written");
    let e = engine.add_offsets_to_txn("wire", pe.producer_id, pe.epoch, "").unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidGroupId);
    engine.add_offsets_to_txn("wire", pe.producer_id, pe.epoch, "g").unwrap();
    assert_eq!(txn.describe("wire").unwrap().partitions, vec![engine.offsets_partition_for("g")]);
    // A stale epoch is fenced by the coordinator before anything is written.
    let e = engine.txn_offset_commit("wire", pe.producer_id, pe.epoch - 1, "g", &o).unwrap_err();
    assert_eq!(e.code(), ErrorCode::ProducerFenced);
    engine.txn_offset_commit("wire", pe.producer_id, pe.epoch, "g", &o).unwrap();
    assert!(engine.offsets().has_pending("g"));
    txn.end_txn("wire", pe.producer_id, pe.epoch, true, TransactionVersion::Tv0).unwrap();
    assert_eq!(engine.offsets().committed("g", "in", 0).unwrap().offset, 5);
}
