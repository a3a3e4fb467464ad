//! Idempotent producers through the real engine: duplicate retries, sequence checks, epoch
//! fencing and sequence wrap-around (Kafka's `UnifiedLogTest` duplicate cases and the
//! `ProducerStateManagerTest` sequence rules, as equivalents with the same numbers).

mod eos_support;

use eos_support::*;
use eoslog::batch::RecordBatchBuilder;
use eoslog::{ErrorCode, IsolationLevel};

/// One record, as Kafka's `TestUtils.records(List(SimpleRecord(...)), pid, epoch, seq)`.
fn one(pid: i64, epoch: i16, seq: i32) -> Vec<u8> {
    records(pid, epoch, seq, false, 1, T0, &format!("s{seq}"))
}

fn log_size(s: &Setup) -> u64 {
    s.log.stats().size_bytes
}

/// Kafka's `testDuplicateAppends`.
#[test]
fn duplicate_appends() {
    let s = Setup::new(Opts::default());
    let (pid, epoch) = (1, 0);
    // Pad the beginning of the log: six single-record batches, sequences 0..=5, offsets 0..=5.
    for seq in 0..6 {
        let info = s.log.append(&one(pid, epoch, seq)).unwrap();
        assert_eq!((info.first_offset, info.last_offset, info.duplicate), (seq as i64, seq as i64, false));
    }
    // A batch of three records, sequences 6..=8, offsets 6..=8.
    let multi = records(pid, epoch, 6, false, 3, T0, "multi");
    let first = s.log.append(&multi).unwrap();
    assert_eq!((first.first_offset, first.last_offset), (6, 8));

    // A retry of the tail batch: the original offsets, flagged, nothing written.
    let (leo, size) = (s.log.log_end_offset(), log_size(&s));
    let dup = s.log.append(&multi).unwrap();
    assert!(dup.duplicate);
    assert_eq!((dup.first_offset, dup.last_offset, dup.record_count), (6, 8, 3));
    assert_eq!((s.log.log_end_offset(), log_size(&s)), (leo, size), "a duplicate writes nothing");

    // A partial duplicate of the tail (sequences 7..=8) is out of order.
    let partial = records(pid, epoch, 7, false, 2, T0, "partial");
    assert_eq!(code(s.log.append(&partial)), ErrorCode::OutOfOrderSequenceNumber.code());
    assert_eq!(code(s.log.append(&partial)), 45);

    // Sequence 2 is the oldest of the five retained batches (2, 3, 4, 5, 6..=8): still a
    // duplicate, answered with its original offset.
    let dup2 = s.log.append(&one(pid, epoch, 2)).unwrap();
    assert!(dup2.duplicate);
    assert_eq!((dup2.first_offset, dup2.last_offset), (2, 2));
    // Sequence 3 is the fourth from the tail.
    let dup3 = s.log.append(&one(pid, epoch, 3)).unwrap();
    assert!(dup3.duplicate);
    assert_eq!((dup3.first_offset, dup3.last_offset), (3, 3));

    // Older batches have left the window: out of order.
    assert_eq!(code(s.log.append(&one(pid, epoch, 1))), 45);
    assert_eq!(code(s.log.append(&one(pid, epoch, 0))), 45);
    assert_eq!((s.log.log_end_offset(), log_size(&s)), (leo, size), "rejected batches write nothing");

    // A single-record duplicate at the tail.
    let orig = s.log.append(&one(pid, epoch, 9)).unwrap();
    assert_eq!((orig.first_offset, orig.duplicate), (9, false));
    let (leo, size) = (s.log.log_end_offset(), log_size(&s));
    let again = s.log.append(&one(pid, epoch, 9)).unwrap();
    assert_eq!((again.first_offset, again.last_offset, again.duplicate), (9, 9, true));
    assert_eq!((s.log.log_end_offset(), log_size(&s)), (leo, size));
    assert_eq!(leo, 10);
    assert_eq!(epoch_and_seq(&s.log, pid), Some((0, 9)));
}

/// A duplicate answers with the original batch's timestamp on a LogAppendTime topic.
#[test]
fn duplicate_on_log_append_time_topic_returns_the_original_timestamp() {
    let s = Setup::new(Opts::default().topic("message.timestamp.type", "LogAppendTime"));
    let b = one(3, 0, 0);
    let first = s.log.append(&b).unwrap();
    assert_eq!(first.log_append_time, T0);
    s.clock.advance(5_000);
    let dup = s.log.append(&b).unwrap();
    assert!(dup.duplicate);
    assert_eq!(dup.log_append_time, T0, "the original append time, not now");
}

/// Kafka's `testMultipleProducersWithDuplicatesInSingleAppend`: a follower copies the leader's
/// batches as they are, duplicates included, with no sequence checks.
#[test]
fn follower_accepts_duplicates_from_several_producers() {
    let s = Setup::new(Opts::default());
    let batch = |offset: i64, pid: i64, seq: i32| {
        let mut b =
            RecordBatchBuilder::new().producer(pid, 0, seq).base_offset(offset).partition_leader_epoch(0);
        b.append(T0, Some(b"key"), Some(b"value"), &[]);
        b.build().unwrap()
    };
    assert_eq!(s.log.log_end_offset(), 0);
    for (offset, pid, seq) in [(0, 1, 0), (1, 2, 0), (2, 1, 1), (3, 2, 1), (4, 1, 1)] {
        let info = s.log.append_as_follower(&batch(offset, pid, seq)).unwrap();
        assert_eq!((info.first_offset, info.duplicate), (offset, false));
    }
    assert_eq!(s.log.log_end_offset(), 5);
    let p1 = s.log.producer_state(1).unwrap();
    assert_eq!((p1.last_seq(), p1.last_data_offset()), (1, 4));
    let p2 = s.log.producer_state(2).unwrap();
    assert_eq!((p2.last_seq(), p2.last_data_offset()), (1, 3));

    // A follower with no state accepts any sequence (KAFKA-6003).
    let info = s.log.append_as_follower(&batch(5, 77, 1234)).unwrap();
    assert_eq!(info.first_offset, 5);
    assert_eq!(epoch_and_seq(&s.log, 77), Some((0, 1234)));
    // A follower batch may not start below the log end (Kafka's UnexpectedAppendOffset); a gap
    // above it is accepted, as for a compacted leader.
    assert_eq!(code(s.log.append_as_follower(&batch(3, 1, 2))), ErrorCode::InvalidRequest.code());
}

#[test]
fn sequences_must_be_contiguous() {
    let s = Setup::new(Opts::default());
    s.log.append(&records(5, 0, 0, false, 3, T0, "a")).unwrap();
    // A gap, and a repeat that is not an exact retry, are both out of order.
    assert_eq!(code(s.log.append(&one(5, 0, 4))), 45);
    assert_eq!(code(s.log.append(&one(5, 0, 2))), 45);
    assert_eq!(s.log.append(&one(5, 0, 3)).unwrap().first_offset, 3);
    assert_eq!(epoch_and_seq(&s.log, 5), Some((0, 3)));
}

/// Sequences wrap from `i32::MAX` to 0 (Kafka's `testProducerSequenceWrapAround`,
/// `testProducerSequenceWithWrapAroundBatchRecord`, `testProducerSequenceInvalidWrapAround`).
#[test]
fn sequence_wraps_at_i32_max() {
    let s = Setup::new(Opts::default());
    let pid = 11;
    // A producer the partition does not know may start anywhere (its state expired or was
    // deleted): MAX-1 and MAX.
    let a = s.log.append(&records(pid, 0, i32::MAX - 1, false, 2, T0, "a")).unwrap();
    assert_eq!((a.first_offset, a.last_offset), (0, 1));
    assert_eq!(epoch_and_seq(&s.log, pid), Some((0, i32::MAX)));
    // MAX → 1 skips 0.
    assert_eq!(code(s.log.append(&one(pid, 0, 1))), 45);
    // MAX → 0 is in sequence.
    let b = s.log.append(&one(pid, 0, 0)).unwrap();
    assert_eq!(b.first_offset, 2);
    assert_eq!(epoch_and_seq(&s.log, pid), Some((0, 0)));

    // A batch that spans the wrap: base MAX-1, three records, last sequence 0.
    let pid2 = 12;
    s.log.append(&records(pid2, 0, i32::MAX - 5, false, 4, T0, "x")).unwrap(); // MAX-5..=MAX-2
    let span = records(pid2, 0, i32::MAX - 1, false, 3, T0, "span");
    let info = s.log.append(&span).unwrap();
    assert_eq!(info.last_offset - info.first_offset, 2);
    assert_eq!(epoch_and_seq(&s.log, pid2), Some((0, 0)));
    // Its retry is a duplicate (first MAX-1, last 0).
    let dup = s.log.append(&span).unwrap();
    assert!(dup.duplicate);
    assert_eq!((dup.first_offset, dup.last_offset), (info.first_offset, info.last_offset));
    // And the next batch starts at 1.
    assert_eq!(code(s.log.append(&one(pid2, 0, 0))), 45);
    s.log.append(&one(pid2, 0, 1)).unwrap();
    assert_eq!(epoch_and_seq(&s.log, pid2), Some((0, 1)));
}

/// A new epoch restarts sequences at 0; an older epoch is a zombie (INVALID_PRODUCER_EPOCH, 47).
#[test]
fn epoch_bump_restarts_at_zero_and_fences_the_old_epoch() {
    let s = Setup::new(Opts::default());
    let pid = 21;
    s.log.append(&records(pid, 0, 0, false, 4, T0, "e0")).unwrap();
    // Epoch 1 must start at 0.
    assert_eq!(code(s.log.append(&one(pid, 1, 4))), 45);
    assert_eq!(code(s.log.append(&one(pid, 1, 5))), 45);
    s.log.append(&one(pid, 1, 0)).unwrap();
    assert_eq!(epoch_and_seq(&s.log, pid), Some((1, 0)));
    // The bump cleared the window: a retry of the epoch-0 batch is no duplicate but a zombie.
    assert_eq!(
        code(s.log.append(&records(pid, 0, 0, false, 4, T0, "e0"))),
        ErrorCode::InvalidProducerEpoch.code()
    );
    assert_eq!(code(s.log.append(&one(pid, 0, 4))), 47);
    // Markers with an old epoch are zombies too.
    assert_eq!(code(s.log.append_marker(pid, 0, 0, false, 1)), 47);
    s.log.append(&one(pid, 1, 1)).unwrap();
    assert_eq!(s.log.log_end_offset(), 6);
}

/// After a reload the snapshot holds only each producer's last batch (Kafka's format), so a
/// retry of that batch is still a duplicate, and older retries are out of order.
#[test]
fn dedup_after_reopen_uses_the_last_batch() {
    let mut s = Setup::new(Opts::default());
    let pid = 31;
    for seq in 0..3 {
        s.log.append(&records(pid, 2, seq * 2, false, 2, T0, "r")).unwrap();
    }
    s.reopen();
    let dup = s.log.append(&records(pid, 2, 4, false, 2, T0, "r")).unwrap();
    assert_eq!((dup.first_offset, dup.last_offset, dup.duplicate), (4, 5, true));
    assert_eq!(code(s.log.append(&records(pid, 2, 2, false, 2, T0, "r"))), 45);
    s.log.append(&one(pid, 2, 6)).unwrap();

    // The same after an unclean reopen that replays the whole log: the replay retains the last
    // five batches again.
    s.reopen_unclean(0);
    let dup = s.log.append(&one(pid, 2, 6)).unwrap();
    assert_eq!((dup.first_offset, dup.duplicate), (6, true));
    let dup = s.log.append(&records(pid, 2, 2, false, 2, T0, "r")).unwrap();
    assert_eq!((dup.first_offset, dup.duplicate), (2, true));
    assert_eq!(s.log.log_end_offset(), 7);
    assert_eq!(visible_offsets(&s.log, IsolationLevel::ReadUncommitted), (0..7).collect::<Vec<_>>());
}

mod blocking_sync {
    //! A backend whose next fdatasync of a `.log` file blocks until the test releases it.
    use std::io;
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc::{Receiver, Sender};
    use std::sync::{Arc, Mutex};

    use eoslog::io::std_backend::StdBackend;
    use eoslog::io::{DirEntry, DirLock, FileType, IoBackend, IoFile, IoKind, MappedRegion, OpenMode};

    #[derive(Debug)]
    pub struct Gate {
        pub armed: AtomicBool,
        pub entered: Mutex<Sender<()>>,
        pub release: Mutex<Receiver<()>>,
    }

    #[derive(Debug)]
    pub struct BlockingSyncIo {
        pub inner: StdBackend,
        pub gate: Arc<Gate>,
    }

    #[derive(Debug)]
    struct GatedFile {
        inner: Arc<dyn IoFile>,
        gate: Arc<Gate>,
    }

    impl IoFile for GatedFile {
        fn path(&self) -> &Path {
            self.inner.path()
        }
        fn read_at(&self, buf: &mut [u8], pos: u64) -> io::Result<usize> {
            self.inner.read_at(buf, pos)
        }
        fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()> {
            self.inner.write_all_at(buf, pos)
        }
        fn sync_data(&self) -> io::Result<()> {
            if self.gate.armed.swap(false, Ordering::SeqCst) {
                self.gate.entered.lock().unwrap().send(()).unwrap();
                self.gate.release.lock().unwrap().recv().unwrap();
            }
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

    impl IoBackend for BlockingSyncIo {
        fn kind(&self) -> IoKind {
            self.inner.kind()
        }
        fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn IoFile>> {
            let f = self.inner.open(path, mode)?;
            if path.extension().is_some_and(|e| e == "log") {
                return Ok(Arc::new(GatedFile { inner: f, gate: self.gate.clone() }));
            }
            Ok(f)
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
}

/// With `durability=always` an append is acknowledged only once durable, and so is its retry:
/// a duplicate answered while the original's fsync is still running would acknowledge bytes a
/// crash can still take away (Kafka answers a duplicate through the same wait for the
/// original's offsets to be replicated).
///
/// The original append is held inside its fsync; its retry runs meanwhile. Whenever the retry
/// returns, the original must be durable. (A correct engine passes however the threads are
/// scheduled; a retry that does not wait is caught when it returns before the fsync is
/// released, which the test gives it every chance to do.)
#[test]
fn duplicate_under_durability_always_waits_for_the_original() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex, mpsc};

    use eoslog::io::Permissions;
    use eoslog::io::std_backend::StdBackend;
    use eoslog::{Durability, Engine};

    let dir = tempfile::tempdir().unwrap();
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    let gate = Arc::new(blocking_sync::Gate {
        armed: AtomicBool::new(false),
        entered: Mutex::new(entered_tx),
        release: Mutex::new(release_rx),
    });
    let io = Arc::new(blocking_sync::BlockingSyncIo {
        inner: StdBackend::new(Permissions::default()),
        gate: gate.clone(),
    });
    let clock = eoslog::clock::ManualClock::new(T0);
    let mut config = Opts::default().engine_config(&clock);
    config.durability = Durability::Always;
    let engine = Engine::open_with_backend(dir.path(), config, io).unwrap();
    engine.create_topic(TOPIC, 1, Opts::default().topic_config()).unwrap();
    let log = engine.partition(TOPIC, 0).unwrap();
    log.append(&one(1, 0, 0)).unwrap();
    assert_eq!(log.durable_offset(), 1);

    let batch = one(1, 0, 1);
    gate.armed.store(true, Ordering::SeqCst);
    let original = {
        let (log, batch) = (log.clone(), batch.clone());
        std::thread::spawn(move || log.append(&batch))
    };
    entered_rx.recv().unwrap(); // the original is written and inside its fsync
    assert_eq!((log.log_end_offset(), log.durable_offset()), (2, 1));
    let retry = {
        let (log, batch) = (log.clone(), batch.clone());
        std::thread::spawn(move || {
            let info = log.append(&batch).unwrap();
            (info, log.durable_offset())
        })
    };
    for _ in 0..10_000 {
        if retry.is_finished() {
            break;
        }
        std::thread::yield_now();
    }
    release_tx.send(()).unwrap();
    let (info, durable_when_acknowledged) = retry.join().unwrap();
    assert!(info.duplicate);
    assert_eq!((info.first_offset, info.last_offset), (1, 1));
    assert!(durable_when_acknowledged >= 2, "the retry was acknowledged before the original was durable");
    let first = original.join().unwrap().unwrap();
    assert_eq!((first.first_offset, first.duplicate), (1, false));
    assert_eq!(log.durable_offset(), 2);
}
