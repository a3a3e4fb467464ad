//! Transactions in the log through the real engine: the `.txnindex` entries Kafka expects,
//! coordinator fencing, transaction-state errors, TV2 markers, KIP-890 verification, and a
//! failed write to the transaction index (Kafka's `UnifiedLogTest` transactional cases, as
//! equivalents with the same numbers).

mod eos_support;

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use eos_support::*;
use eoslog::batch::{EndTxnMarker, RecordBatchBuilder};
use eoslog::clock::{Clock, ManualClock};
use eoslog::io::std_backend::StdBackend;
use eoslog::io::{
    DirEntry, DirLock, FileType, IoBackend, IoFile, IoKind, MappedRegion, OpenMode, Permissions,
};
use eoslog::{AppendOptions, Engine, ErrorCode, IsolationLevel, Origin};

/// Kafka's `testTransactionIndexUpdated`: the entries (1,0,29,8) and (2,8,74,36), and the first
/// unstable offset as the high watermark moves.
#[test]
fn transaction_index_updated() {
    let s = Setup::new(Opts::default().external_hw());
    kafka_txn_index_workload(&s.log);
    assert_eq!(txnindex_entries(&s.part_dir()), vec![aborted(1, 0, 29, 8), aborted(2, 8, 74, 36)]);

    assert_eq!(s.log.first_unstable_offset(), Some(0));
    s.log.update_high_watermark(30).unwrap();
    assert_eq!(s.log.first_unstable_offset(), Some(8));
    assert_eq!(s.log.last_stable_offset(), 8);
    s.log.update_high_watermark(75).unwrap();
    assert_eq!(s.log.first_unstable_offset(), Some(36));
    assert_eq!(s.log.last_stable_offset(), 36);
    s.log.update_high_watermark(s.log.log_end_offset()).unwrap();
    assert_eq!(s.log.first_unstable_offset(), None);
    assert_eq!(s.log.last_stable_offset(), 90);

    // A read_committed consumer sees both aborted transactions and none of their records.
    let (committed, aborted_seen) = consume_committed(&s.log, 1 << 20);
    assert_eq!(aborted_seen, [(1, 0), (2, 8)].into_iter().collect());
    let offsets: Vec<i64> = committed.iter().map(|(o, _)| *o).collect();
    let p1: Vec<i64> = (0..5).chain(10..14).chain(19..29).collect();
    let p2: Vec<i64> = (8..10).chain(30..36).chain(67..74).collect();
    let markers = [29, 58, 74, 89];
    let expected: Vec<i64> =
        (0..90).filter(|o| !p1.contains(o) && !p2.contains(o) && !markers.contains(o)).collect();
    assert_eq!(offsets, expected);
}

/// Kafka's `testAbortedTransactionSpanningMultipleSegments`: a transaction whose batches and
/// marker are in three segments; a fetch from 0 reports it.
#[test]
fn aborted_transaction_spanning_multiple_segments() {
    // Kafka sizes the segment to one batch; eoslog's minimum segment size (128 bytes) holds one
    // of these batches but not two.
    let s = Setup::new(Opts::default().external_hw().topic("segment.bytes", "128"));
    let (pid, epoch) = (137, 5);
    let first = s.log.append(&records(pid, epoch, 0, true, 3, T0, "abc")).unwrap();
    assert_eq!(s.log.first_unstable_offset(), Some(first.first_offset));
    // This write spills into the second segment.
    s.log.append(&records(pid, epoch, 3, true, 3, T0, "def")).unwrap();
    assert_eq!(s.log.first_unstable_offset(), Some(0));
    assert_eq!(s.log.segment_base_offsets(), vec![0, 3]);

    let abort = s.log.append_marker(pid, epoch, 0, false, 1).unwrap();
    assert_eq!(abort.first_offset, 6);
    s.log.update_high_watermark(abort.last_offset + 1).unwrap();
    assert_eq!(s.log.first_unstable_offset(), None);

    let data = s.log.read(0, 2048, IsolationLevel::ReadCommitted).unwrap();
    let aborted_list = data.aborted_transactions.unwrap();
    assert_eq!(aborted_list.len(), 1);
    assert_eq!((aborted_list[0].producer_id, aborted_list[0].first_offset), (pid, 0));
    // The entry is in the segment of the marker.
    let files = txnindex_files(&s.part_dir());
    let with_entries: Vec<i64> = files.iter().filter(|(_, v)| !v.is_empty()).map(|(b, _)| *b).collect();
    assert_eq!(with_entries, vec![*s.log.segment_base_offsets().last().unwrap()]);
    assert_eq!(txnindex_entries(&s.part_dir()), vec![aborted(pid, 0, 6, 7)]);
    // Reading from the second segment still reports it (its first offset is before the fetch).
    let data = s.log.read(3, 2048, IsolationLevel::ReadCommitted).unwrap();
    assert_eq!(data.aborted_transactions.unwrap().len(), 1);
    let (committed, _) = consume_committed(&s.log, 1);
    assert!(committed.is_empty(), "{committed:?}");
}

/// Kafka's `testZombieCoordinatorFenced`.
#[test]
fn zombie_coordinator_fenced() {
    let s = Setup::new(Opts::default());
    let mut p = Producer::new(1, 0);
    p.txn(&s.log, 10);
    p.end(&s.log, false, 1);
    p.txn(&s.log, 5);
    p.end(&s.log, true, 2);
    let leo = s.log.log_end_offset();
    let err = s.log.append_marker(1, 0, 1, false, 1).unwrap_err();
    assert_eq!(err.code(), ErrorCode::TransactionCoordinatorFenced);
    assert_eq!(err.code().code(), 52);
    assert_eq!(s.log.log_end_offset(), leo, "a fenced marker writes nothing");
    assert_eq!(s.log.producer_state(1).unwrap().coordinator_epoch(), 2);
}

/// Kafka's `testZombieCoordinatorFencedEmptyTransaction`: a follower copies a transaction and
/// its COMMIT (coordinator epoch 0); markers for empty transactions with coordinator epoch 2 are
/// accepted (twice), and one from epoch 1 is then fenced.
#[test]
fn zombie_coordinator_fenced_empty_transaction() {
    let s = Setup::new(Opts::default());
    let (pid, epoch) = (1, 0);
    let mut data = RecordBatchBuilder::new().producer(pid, epoch, 0).transactional(true).base_offset(0);
    for i in 0..10 {
        data.append(T0, None, Some(format!("v{i}").as_bytes()), &[]);
    }
    let data = data.partition_leader_epoch(1).build().unwrap();
    s.log.append_as_follower(&data).unwrap();
    let mut commit = EndTxnMarker { commit: true, coordinator_epoch: 0 }.build_batch(pid, epoch, T0);
    eoslog::batch::set_base_offset(&mut commit, 10);
    eoslog::batch::set_partition_leader_epoch(&mut commit, 1);
    s.log.append_as_follower(&commit).unwrap();
    assert_eq!(s.log.log_end_offset(), 11);

    s.log.set_leader_epoch(1).unwrap();
    s.log.append_marker(pid, epoch, 2, false, 1).unwrap();
    s.log.append_marker(pid, epoch, 2, false, 1).unwrap();
    assert_eq!(code(s.log.append_marker(pid, epoch, 1, false, 1)), 52);
    assert_eq!(s.log.log_end_offset(), 13);
    assert!(txnindex_entries(&s.part_dir()).is_empty(), "empty transactions get no index entry");
    assert_eq!(s.log.first_unstable_offset(), None);
}

/// Plain (non-transactional) data from a producer inside its open transaction is
/// INVALID_TXN_STATE (48); after the commit it is accepted with the next sequence.
#[test]
fn non_transactional_write_inside_open_transaction() {
    let s = Setup::new(Opts::default());
    let mut p = Producer::new(60, 0);
    p.txn(&s.log, 2);
    let leo = s.log.log_end_offset();
    let err = s.log.append(&p.batch(false, 1, T0)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidTxnState);
    assert_eq!(err.code().code(), 48);
    assert_eq!(s.log.log_end_offset(), leo);
    p.end(&s.log, true, 0);
    // Classic protocol: same epoch, sequences carry on across transactions.
    let info = p.idem(&s.log, 1);
    assert_eq!(info.first_offset, 3);
    assert_eq!(epoch_and_seq(&s.log, 60), Some((0, 2)));
}

/// A lone marker creates a fencing entry (Kafka's `testAppendTxnMarkerWithNoProducerState`):
/// the producer's epoch is now known, so its next batch must start at sequence 0.
#[test]
fn marker_without_producer_state_fences() {
    let s = Setup::new(Opts::default());
    s.log.append_marker(70, 2, 0, true, 1).unwrap();
    let e = s.log.producer_state(70).unwrap();
    assert_eq!(
        (e.producer_epoch(), e.last_seq(), e.last_data_offset(), e.current_txn_first_offset()),
        (2, -1, -1, None)
    );
    assert_eq!(code(s.log.append(&records(70, 2, 17, false, 1, T0, "x"))), 45);
    s.log.append(&records(70, 2, 0, false, 1, T0, "x")).unwrap();
    assert_eq!(code(s.log.append(&records(70, 1, 0, false, 1, T0, "x"))), 47);
}

/// Transaction version 2 (KIP-890 part 2): every marker carries a bumped epoch and must be
/// strictly newer; an identical retry of the marker just written is accepted and changes
/// nothing; the next transaction starts at sequence 0 under the new epoch; writes of the old
/// epoch are fenced.
#[test]
fn tv2_markers() {
    let s = Setup::new(Opts::default());
    let pid = 40;
    s.log.append(&records(pid, 0, 0, true, 2, T0, "t1")).unwrap(); // 0..=1
    // Same epoch as the open transaction: a TV1 marker would be fine, a TV2 one is not.
    assert_eq!(code(s.log.append_marker(pid, 0, 7, true, 2)), 47);
    assert_eq!(s.log.log_end_offset(), 2);
    s.log.append_marker(pid, 1, 7, true, 2).unwrap(); // 2
    let after_commit = s.log.producer_state(pid).unwrap();
    assert_eq!((after_commit.producer_epoch(), after_commit.coordinator_epoch()), (1, 7));
    assert_eq!(after_commit.current_txn_first_offset(), None);
    // The coordinator retries the same marker (its response was lost).
    let retry = s.log.append_marker(pid, 1, 7, true, 2).unwrap();
    assert!(!retry.duplicate);
    assert_eq!(s.log.producer_state(pid).unwrap(), after_commit, "an identical retry changes no state");
    // The retried marker itself is written, like the marker of an empty transaction (it
    // completes nothing, so no index entry and no effect on the LSO).
    assert_eq!((retry.first_offset, s.log.log_end_offset()), (3, 4));
    assert_eq!(s.log.first_unstable_offset(), None);
    assert_eq!(s.log.last_stable_offset(), s.log.log_end_offset());

    // The next transaction: epoch 1, sequence 0.
    assert_eq!(code(s.log.append(&records(pid, 1, 2, true, 1, T0, "t2"))), 45);
    let t2 = s.log.append(&records(pid, 1, 0, true, 3, T0, "t2")).unwrap();
    assert_eq!(s.log.first_unstable_offset(), Some(t2.first_offset));
    // A TV2 marker with the epoch of the open transaction is refused even if equal.
    assert_eq!(code(s.log.append_marker(pid, 1, 7, false, 2)), 47);
    let abort = s.log.append_marker(pid, 2, 7, false, 2).unwrap();
    assert_eq!(
        txnindex_entries(&s.part_dir()),
        vec![aborted(pid, t2.first_offset, abort.first_offset, abort.first_offset + 1)]
    );
    // Its retry is accepted and adds no index entry; an older marker is fenced.
    s.log.append_marker(pid, 2, 7, false, 2).unwrap();
    assert_eq!(txnindex_entries(&s.part_dir()).len(), 1);
    assert_eq!(code(s.log.append_marker(pid, 1, 7, false, 2)), 47);
    // A late write of the aborted transaction's epoch is a zombie (KAFKA-12671 is prevented).
    assert_eq!(code(s.log.append(&records(pid, 1, 3, true, 1, T0, "late"))), 47);
    assert_eq!(s.log.first_unstable_offset(), None);
    let (committed, aborted_seen) = consume_committed(&s.log, 1 << 20);
    assert_eq!(committed.iter().map(|(o, _)| *o).collect::<Vec<_>>(), vec![0, 1]);
    assert_eq!(aborted_seen, [(pid, t2.first_offset)].into_iter().collect());
}

/// KIP-890 part 1 through `AppendOptions`: the first transactional write of a producer must
/// carry the guard registered for it, or it is INVALID_TXN_STATE (48) and nothing is written.
#[test]
fn verification_guard_for_first_transactional_write() {
    let s = Setup::new(Opts::default().verification());
    let pid = 50;
    let with = |g| AppendOptions { verification_guard: Some(g), ..Default::default() };
    let b0 = records(pid, 0, 0, true, 2, T0, "a");
    assert_eq!(code(s.log.append(&b0)), 48);
    assert_eq!(s.log.log_end_offset(), 0);
    let guard = s.log.create_verification_guard(pid, 0, 0);
    // Another producer's guard does not verify this one.
    let other = s.log.create_verification_guard(pid + 1, 0, 0);
    assert_ne!(guard, other);
    assert_eq!(code(s.log.append_with(&b0, &with(other))), 48);
    let first = s.log.append_with(&b0, &with(guard)).unwrap();
    assert_eq!(first.first_offset, 0);
    // Later writes of the open transaction need no guard.
    s.log.append(&records(pid, 0, 2, true, 1, T0, "b")).unwrap();
    s.log.append_marker(pid, 0, 0, true, 1).unwrap();

    // The next transaction needs a fresh verification: the old guard was used up.
    let b1 = records(pid, 0, 3, true, 1, T0, "c");
    assert_eq!(code(s.log.append(&b1)), 48);
    assert_eq!(code(s.log.append_with(&b1, &with(guard))), 48);
    // KAFKA-14884: verify → abort → stale append. The abort clears the registration, so the
    // stale request's guard no longer verifies.
    let g2 = s.log.create_verification_guard(pid, 3, 0);
    s.log.append_marker(pid, 0, 0, false, 1).unwrap();
    assert_eq!(code(s.log.append_with(&b1, &with(g2))), 48);
    let g3 = s.log.create_verification_guard(pid, 3, 0);
    s.log.append_with(&b1, &with(g3)).unwrap();
    assert_eq!(s.log.ongoing_transactions().len(), 1);
    // Non-transactional data never needs a guard.
    s.log.append(&records(pid + 5, 0, 0, false, 1, T0, "idem")).unwrap();
}

/// A verification guard lives on the engine's clock: registering it and expiring producers use
/// the same time source (here a manual clock far from the wall clock).
#[test]
fn verification_guard_uses_the_engine_clock() {
    let s = Setup::new(Opts::default().verification());
    // 2100-01-01: decades after any wall clock this test runs on.
    s.clock.set(4_102_444_800_000);
    let pid = 55;
    let guard = s.log.create_verification_guard(pid, 0, 0);
    s.clock.advance(1_000);
    s.log.remove_expired_producers();
    let b = records(pid, 0, 0, true, 1, 4_102_444_800_000, "x");
    s.log.append_with(&b, &AppendOptions { verification_guard: Some(guard), ..Default::default() }).unwrap();

    // And a registration that was never used expires after producer.id.expiration.ms.
    let g = s.log.create_verification_guard(pid + 1, 0, 0);
    s.clock.advance(24 * 3600 * 1000);
    s.log.remove_expired_producers();
    let b = records(pid + 1, 0, 0, true, 1, s.clock.now_ms(), "y");
    assert_eq!(
        code(s.log.append_with(&b, &AppendOptions { verification_guard: Some(g), ..Default::default() })),
        48
    );
}

/// Coordinator-origin data (transactional offset commits) gets epoch checks but no sequence
/// checks; replication gets none.
#[test]
fn origins_apply_their_check_sets() {
    let s = Setup::new(Opts::default());
    let coord = AppendOptions { origin: Origin::Coordinator, ..Default::default() };
    // Sequences are not checked for the coordinator.
    s.log.append_with(&records(80, 3, 0, true, 1, T0, "o"), &coord).unwrap();
    s.log.append_with(&records(80, 3, 9, true, 1, T0, "o"), &coord).unwrap();
    // Epochs are.
    assert_eq!(code(s.log.append_with(&records(80, 2, 10, true, 1, T0, "o"), &coord)), 47);
    // Control batches only from the coordinator or a follower.
    let marker = EndTxnMarker { commit: true, coordinator_epoch: 0 }.build_batch(80, 3, T0);
    assert_eq!(code(s.log.append(&marker)), ErrorCode::InvalidRecord.code());
    s.log.append_with(&marker, &coord).unwrap();
    assert_eq!(s.log.log_end_offset(), 3);
}

// ---------------------------------------------------------------- failing transaction index

/// A backend that fails writes (and creation) of `.txnindex` files while armed, like a disk
/// error on exactly that file.
#[derive(Debug)]
struct FailingTxnIndexIo {
    inner: StdBackend,
    armed: Arc<AtomicBool>,
}

#[derive(Debug)]
struct FailingFile {
    inner: Arc<dyn IoFile>,
    armed: Arc<AtomicBool>,
}

fn injected() -> io::Error {
    io::Error::other("injected EIO on the transaction index")
}

fn is_txn_index(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "txnindex")
}

impl IoFile for FailingFile {
    fn path(&self) -> &Path {
        self.inner.path()
    }
    fn read_at(&self, buf: &mut [u8], pos: u64) -> io::Result<usize> {
        self.inner.read_at(buf, pos)
    }
    fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()> {
        if self.armed.load(Ordering::SeqCst) {
            return Err(injected());
        }
        self.inner.write_all_at(buf, pos)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.inner.sync_data()
    }
    fn sync_all(&self) -> io::Result<()> {
        self.inner.sync_all()
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }
    fn map(&self, len: usize) -> io::Result<Box<dyn MappedRegion>> {
        self.inner.map(len)
    }
    fn raw_fd(&self) -> Option<i32> {
        self.inner.raw_fd()
    }
}

impl IoBackend for FailingTxnIndexIo {
    fn kind(&self) -> IoKind {
        self.inner.kind()
    }
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn IoFile>> {
        if !is_txn_index(path) {
            return self.inner.open(path, mode);
        }
        if self.armed.load(Ordering::SeqCst) && !matches!(mode, OpenMode::Read | OpenMode::ReadWrite) {
            return Err(injected());
        }
        let inner = self.inner.open(path, mode)?;
        Ok(Arc::new(FailingFile { inner, armed: self.armed.clone() }))
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.inner.create_dir_all(path)
    }
    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_dir(path)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_file(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.inner.sync_dir(path)
    }
    fn read_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        self.inner.read_dir(path)
    }
    fn metadata(&self, path: &Path) -> io::Result<Option<FileType>> {
        self.inner.metadata(path)
    }
    fn lock_dir(&self, dir: &Path) -> io::Result<Box<dyn DirLock>> {
        self.inner.lock_dir(dir)
    }
}

/// Kafka's `testAppendToTransactionIndexFailure`: the ABORT marker is written but its index
/// entry is not. The log end offset moves past the marker, the LSO stays at the transaction's
/// start, the partition refuses further writes, and reopening rebuilds the index from the log.
#[test]
fn append_to_transaction_index_failure() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let opts = Opts::default().external_hw();
    let armed = Arc::new(AtomicBool::new(false));
    let io =
        Arc::new(FailingTxnIndexIo { inner: StdBackend::new(Permissions::default()), armed: armed.clone() });
    let engine = Engine::open_with_backend(dir.path(), opts.engine_config(&clock), io).unwrap();
    engine.create_topic(TOPIC, 1, opts.topic_config()).unwrap();
    let log = engine.partition(TOPIC, 0).unwrap();
    let mut p = Producer::new(1, 0);
    p.txn(&log, 10);

    armed.store(true, Ordering::SeqCst);
    let err = log.append_marker(1, 0, 1, false, 1).unwrap_err();
    assert_eq!(err.code(), ErrorCode::KafkaStorageError);
    assert_eq!(log.log_end_offset(), 11);
    assert_eq!(log.last_stable_offset(), 0);

    // A second attempt fails at once: the partition is offline, nothing more is written.
    armed.store(false, Ordering::SeqCst);
    let err = log.append_marker(1, 0, 1, false, 1).unwrap_err();
    assert_eq!(err.code(), ErrorCode::KafkaStorageError);
    assert_eq!(log.log_end_offset(), 11);
    assert_eq!(log.last_stable_offset(), 0);
    assert!(log.failure().is_some());

    // Even if the high watermark moves, the first unstable offset does not.
    log.update_high_watermark(12).unwrap();
    assert_eq!(log.last_stable_offset(), 0);
    assert_eq!(log.first_unstable_offset(), Some(0));

    assert!(log.close().is_err());
    assert!(engine.close().is_err(), "no clean shutdown after a failed partition");
    drop(log);
    drop(engine);

    let engine = Engine::open(dir.path(), opts.engine_config(&clock)).unwrap();
    assert!(!engine.recovery_report().clean_shutdown);
    let log = engine.partition(TOPIC, 0).unwrap();
    assert_eq!(log.log_end_offset(), 11);
    assert_eq!(txnindex_entries(&dir.path().join("t-0")), vec![aborted(1, 0, 10, 11)]);
    log.update_high_watermark(12).unwrap();
    assert_eq!(log.first_unstable_offset(), None);
    assert_eq!(log.last_stable_offset(), 11);
    let data = log.read(0, 1 << 20, IsolationLevel::ReadCommitted).unwrap();
    assert_eq!(data.aborted_transactions.unwrap().len(), 1);
}
