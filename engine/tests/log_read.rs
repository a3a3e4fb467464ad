//! The read side: whole batches (at least one), isolation bounds, the `sendfile` range, reads
//! concurrent with appends, ListOffsets semantics and leader epochs (`end_offset_for_epoch`).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use eoslog::log::TimestampAndOffset;
use eoslog::{
    Engine, EngineConfig, IsolationLevel, OffsetSpec, PartitionLog, RecordBatch, RecordBatchBuilder,
};

fn setup(external_hw: bool) -> (tempfile::TempDir, Engine, Arc<PartitionLog>) {
    let tmp = tempfile::tempdir().unwrap();
    let config = EngineConfig { external_high_watermark: external_hw, ..common::config() };
    let engine = Engine::open(tmp.path(), config).unwrap();
    engine.create_topic("t", 1, common::small_topic()).unwrap();
    let log = engine.partition("t", 0).unwrap();
    (tmp, engine, log)
}

fn bases(data: &eoslog::FetchData) -> Vec<i64> {
    data.records.batches().map(|b| b.unwrap().base_offset()).collect()
}

#[test]
fn reads_return_whole_batches_and_at_least_one() {
    let (_tmp, _engine, log) = setup(false);
    let mut sizes = Vec::new();
    for i in 0..6 {
        let b = common::batch(&format!("b{i}"), 4); // offsets 4i..4i+3
        sizes.push(b.len() as u32);
        log.append(&b).unwrap();
    }
    // A batch bigger than max_bytes is still returned, alone.
    let mut big = RecordBatchBuilder::new();
    big.append(common::T0, None, Some(&[9u8; 3000]), &[]);
    let big = big.build().unwrap();
    log.append(&big).unwrap(); // offset 24
    let data = log.read(24, 100, IsolationLevel::ReadUncommitted).unwrap();
    assert_eq!(data.records.bytes().len(), big.len());
    // From inside a batch: the whole batch, from its base.
    let data = log.read(6, 1, IsolationLevel::ReadUncommitted).unwrap();
    assert_eq!(bases(&data), vec![4]);
    // max_bytes is respected in whole batches.
    let two = sizes[1] + sizes[2];
    assert_eq!(bases(&log.read(4, two, IsolationLevel::ReadUncommitted).unwrap()), vec![4, 8]);
    assert_eq!(bases(&log.read(4, two - 1, IsolationLevel::ReadUncommitted).unwrap()), vec![4]);
    // The reported offsets.
    let data = log.read(0, 1 << 20, IsolationLevel::ReadUncommitted).unwrap();
    assert_eq!(
        (data.high_watermark, data.last_stable_offset, data.log_start_offset, data.log_end_offset),
        (25, 25, 0, 25)
    );
    assert_eq!(data.aborted_transactions, None);
    assert_eq!(
        log.read(0, 1 << 20, IsolationLevel::ReadCommitted).unwrap().aborted_transactions,
        Some(vec![])
    );
}

/// A read serves one segment: a read that starts in segment A returns only A's batches; the
/// next read (from where it stopped) continues in B.
#[test]
fn reads_stop_at_the_end_of_a_segment() {
    let (_tmp, _engine, log) = setup(false);
    while log.segment_base_offsets().len() < 3 {
        log.append(&common::batch("x", 3)).unwrap();
    }
    let segments = log.segment_base_offsets();
    let data = log.read(segments[1] - 3, 1 << 20, IsolationLevel::ReadUncommitted).unwrap();
    assert_eq!(bases(&data), vec![segments[1] - 3]);
    let data = log.read(segments[1], 1 << 20, IsolationLevel::ReadUncommitted).unwrap();
    let b = bases(&data);
    assert_eq!((b[0], *b.last().unwrap()), (segments[1], segments[2] - 3));
    // Reading everything in a loop yields every record exactly once, in order.
    let offsets: Vec<i64> = common::records(&log, 0).iter().map(|r| r.0).collect();
    assert_eq!(offsets, (0..log.log_end_offset()).collect::<Vec<_>>());
}

/// ReadUncommitted stops at the high watermark, LogEnd at the log end; a read between them is
/// empty, not an error.
#[test]
fn isolation_bounds_with_an_external_high_watermark() {
    let (_tmp, _engine, log) = setup(true);
    for i in 0..5 {
        log.append(&common::batch(&format!("b{i}"), 2)).unwrap(); // 0,2,4,6,8
    }
    assert_eq!(log.high_watermark(), 0);
    log.update_high_watermark(5).unwrap(); // inside batch 4..5
    assert_eq!(bases(&log.read(0, 1 << 20, IsolationLevel::ReadUncommitted).unwrap()), vec![0, 2]);
    assert_eq!(bases(&log.read(0, 1 << 20, IsolationLevel::ReadCommitted).unwrap()), vec![0, 2]);
    assert_eq!(bases(&log.read(0, 1 << 20, IsolationLevel::LogEnd).unwrap()), vec![0, 2, 4, 6, 8]);
    assert!(log.read(6, 1 << 20, IsolationLevel::ReadUncommitted).unwrap().records.is_empty());
    log.update_high_watermark(6).unwrap();
    assert_eq!(bases(&log.read(0, 1 << 20, IsolationLevel::ReadUncommitted).unwrap()), vec![0, 2, 4]);
    // Clamped to the log end.
    assert_eq!(log.update_high_watermark(1000).unwrap(), 10);
    // ListOffsets answers only below the high watermark.
    log.update_high_watermark(4).unwrap();
    assert_eq!(
        log.list_offset(OffsetSpec::Latest(IsolationLevel::ReadUncommitted)).unwrap().unwrap().offset,
        4
    );
    assert_eq!(log.list_offset(OffsetSpec::Latest(IsolationLevel::LogEnd)).unwrap().unwrap().offset, 10);
    // common::batch stamps record i with 1_700_000_000_000 + i.
    assert_eq!(log.list_offset(OffsetSpec::Timestamp(1_700_000_000_001)).unwrap().map(|t| t.offset), Some(1));
    assert_eq!(log.list_offset(OffsetSpec::Timestamp(1_700_000_000_002)).unwrap(), None);
}

/// The `sendfile` range names the very bytes returned.
#[test]
fn the_file_range_holds_the_returned_bytes() {
    let (_tmp, _engine, log) = setup(false);
    for i in 0..30 {
        log.append(&common::batch(&format!("b{i}"), 3)).unwrap();
    }
    for offset in [0, 7, 40, 89] {
        let data = log.read(offset, 500, IsolationLevel::ReadUncommitted).unwrap();
        let (fd, position, len) = data.records.file_range().unwrap();
        let mut buf = vec![0u8; len];
        // SAFETY: `fd` is open for as long as `data` holds the file; `buf` has `len` bytes.
        let n = unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), len, position as libc::off_t) };
        assert_eq!(n as usize, len);
        assert_eq!(buf, data.records.bytes());
    }
}

/// Readers running while a writer appends (and rolls) never see a partial batch, a CRC error
/// or a record that is not exactly what was appended at that offset.
#[test]
fn concurrent_readers_during_appends() {
    let (_tmp, _engine, log) = setup(false);
    let value = |offset: i64| format!("value-{offset}-{}", "z".repeat((offset % 13) as usize));
    let done = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for r in 0..3 {
        let (log, done) = (log.clone(), done.clone());
        readers.push(std::thread::spawn(move || {
            let mut rng = common::Rng::new(r + 10);
            let mut checked = 0u64;
            loop {
                let finished = done.load(Ordering::Acquire);
                let hw = log.high_watermark();
                if hw > 0 {
                    let from = rng.below(hw as u64) as i64;
                    let isolation = [IsolationLevel::LogEnd, IsolationLevel::ReadUncommitted][r as usize % 2];
                    let data = log.read(from, 1 + rng.below(4000) as u32, isolation).unwrap();
                    let mut next = None;
                    for b in data.records.batches() {
                        let b = b.expect("a whole batch");
                        b.validate().expect("a valid batch");
                        if let Some(n) = next {
                            assert_eq!(b.base_offset(), n, "batches are contiguous");
                        }
                        for rec in b.records().unwrap().iter() {
                            let rec = rec.unwrap();
                            assert_eq!(rec.value.unwrap(), value(rec.offset).as_bytes());
                            checked += 1;
                        }
                        next = Some(b.next_offset());
                    }
                    assert!(next.is_some_and(|n| n > from), "at least one batch holding {from}");
                }
                if finished {
                    return checked;
                }
            }
        }));
    }
    let mut offset = 0i64;
    for i in 0..1500 {
        let n = 1 + i % 4;
        let mut b = RecordBatchBuilder::new();
        for j in 0..n {
            b.append(common::T0, None, Some(value(offset + j).as_bytes()), &[]);
        }
        assert_eq!(log.append(&b.build().unwrap()).unwrap().first_offset, offset);
        offset += n;
    }
    done.store(true, Ordering::Release);
    let checked: u64 = readers.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(checked > 0);
    assert!(log.segment_base_offsets().len() > 5, "the writer rolled while readers read");
}

// ------------------------------------------------------------------------------ ListOffsets

#[test]
fn list_offsets_semantics() {
    let (_tmp, _engine, log) = setup(false);
    // Empty log: earliest and latest are 0; nothing has a timestamp.
    let tao = |timestamp, offset| Some(TimestampAndOffset { timestamp, offset, leader_epoch: None });
    assert_eq!(log.list_offset(OffsetSpec::Earliest).unwrap(), tao(-1, 0));
    assert_eq!(log.list_offset(OffsetSpec::Latest(IsolationLevel::ReadUncommitted)).unwrap(), tao(-1, 0));
    assert_eq!(log.list_offset(OffsetSpec::MaxTimestamp).unwrap(), None);
    assert_eq!(log.list_offset(OffsetSpec::Timestamp(0)).unwrap(), None);

    // Batches with timestamps 100, 300, 200 (not monotonic), then one whose max is on its
    // first record.
    let mut stamps = Vec::new();
    for (i, ts) in [[100, 110], [300, 310], [200, 210], [500, 400]].iter().enumerate() {
        let mut b = RecordBatchBuilder::new();
        for t in ts {
            b.append(*t, None, Some(format!("{i}").as_bytes()), &[]);
        }
        log.append(&b.build().unwrap()).unwrap();
        stamps.extend_from_slice(ts);
    }
    let e = |timestamp, offset| Some(TimestampAndOffset { timestamp, offset, leader_epoch: Some(0) });
    assert_eq!(log.list_offset(OffsetSpec::Earliest).unwrap(), e(-1, 0));
    assert_eq!(log.list_offset(OffsetSpec::Latest(IsolationLevel::ReadUncommitted)).unwrap(), e(-1, 8));
    // MAX_TIMESTAMP: the record holding the largest timestamp (the first record of the last batch).
    assert_eq!(log.list_offset(OffsetSpec::MaxTimestamp).unwrap(), e(500, 6));
    // By timestamp: the first batch whose max timestamp is ≥ the target, then its first record
    // at or after the target.
    assert_eq!(log.list_offset(OffsetSpec::Timestamp(0)).unwrap(), e(100, 0));
    assert_eq!(log.list_offset(OffsetSpec::Timestamp(105)).unwrap(), e(110, 1));
    assert_eq!(log.list_offset(OffsetSpec::Timestamp(150)).unwrap(), e(300, 2));
    assert_eq!(log.list_offset(OffsetSpec::Timestamp(205)).unwrap(), e(300, 2), "batch 2..3 comes first");
    assert_eq!(log.list_offset(OffsetSpec::Timestamp(311)).unwrap(), e(500, 6));
    assert_eq!(log.list_offset(OffsetSpec::Timestamp(450)).unwrap(), e(500, 6));
    assert_eq!(log.list_offset(OffsetSpec::Timestamp(501)).unwrap(), None);
    // After delete_records the earliest is the new log start.
    log.delete_records(3).unwrap();
    assert_eq!(log.list_offset(OffsetSpec::Earliest).unwrap(), e(-1, 3));
    assert_eq!(
        log.list_offset(OffsetSpec::Timestamp(0)).unwrap(),
        e(310, 3),
        "the first record from the start"
    );
}

#[test]
fn list_offsets_latest_committed_is_the_last_stable_offset() {
    let (_tmp, _engine, log) = setup(false);
    log.append(&common::batch("a", 2)).unwrap();
    let guard = log.create_verification_guard(3, 0, 0);
    let opts = eoslog::AppendOptions { verification_guard: Some(guard), ..Default::default() };
    log.append_with(&common::transactional(3, 0, 0, 2, "tx"), &opts).unwrap(); // 2..3
    log.append(&common::batch("b", 2)).unwrap(); // 4..5
    assert_eq!(
        log.list_offset(OffsetSpec::Latest(IsolationLevel::ReadCommitted)).unwrap().unwrap().offset,
        2
    );
    assert_eq!(
        log.list_offset(OffsetSpec::Latest(IsolationLevel::ReadUncommitted)).unwrap().unwrap().offset,
        6
    );
    log.append_marker(3, 0, 0, true, 1).unwrap(); // 6
    assert_eq!(
        log.list_offset(OffsetSpec::Latest(IsolationLevel::ReadCommitted)).unwrap().unwrap().offset,
        7
    );
}

// ------------------------------------------------------------------------------ leader epochs

#[test]
fn leader_epochs_and_end_offset_for_epoch() {
    let (tmp, engine, log) = setup(false);
    assert_eq!(log.end_offset_for_epoch(0), (-1, -1), "no epoch known yet");
    let append = |n: usize| {
        for _ in 0..n {
            log.append(&common::batch("e", 2)).unwrap();
        }
    };
    append(5); // epoch 0: 0..10
    log.set_leader_epoch(2).unwrap();
    append(5); // epoch 2: 10..20
    log.set_leader_epoch(3).unwrap(); // never writes
    log.set_leader_epoch(5).unwrap();
    append(5); // epoch 5: 20..30
    assert_eq!(log.leader_epoch(), 5);
    assert_eq!(log.leader_epochs(), vec![(0, 0), (2, 10), (5, 20)]);
    // Every batch carries the epoch it was appended under.
    for (offset, epoch) in [(0, 0), (18, 2), (28, 5)] {
        let data = log.read(offset, 1, IsolationLevel::LogEnd).unwrap();
        assert_eq!(data.records.batches().next().unwrap().unwrap().partition_leader_epoch(), epoch);
    }
    let pdir = tmp.path().join("t-0");
    assert_eq!(
        std::fs::read_to_string(pdir.join("leader-epoch-checkpoint")).unwrap(),
        "0\n3\n0 0\n2 10\n5 20\n"
    );
    // Kafka's endOffsetFor.
    for (requested, expected) in [
        (5, (5, 30)),
        (4, (2, 20)),
        (3, (2, 20)),
        (2, (2, 20)),
        (1, (0, 10)),
        (0, (0, 10)),
        (-1, (-1, -1)),
        (6, (-1, -1)),
    ] {
        assert_eq!(log.end_offset_for_epoch(requested), expected, "epoch {requested}");
    }
    // ListOffsets reports the epoch of the offset it answers with.
    assert_eq!(
        log.list_offset(OffsetSpec::Timestamp(1_700_000_000_000)).unwrap().unwrap().leader_epoch,
        Some(0)
    );
    assert_eq!(
        log.list_offset(OffsetSpec::Latest(IsolationLevel::ReadUncommitted)).unwrap().unwrap().leader_epoch,
        Some(5)
    );
    // Follower batches bring their own epochs.
    log.append_as_follower(&common::follower_batch(30, 7, common::T0, "f", 2)).unwrap();
    assert_eq!(log.leader_epochs(), vec![(0, 0), (2, 10), (5, 20), (7, 30)]);
    // When the log start moves past an epoch's start, the history is cut there (Kafka's
    // truncateFromStart), and an older requested epoch maps to the first known one.
    log.delete_records(12).unwrap();
    assert_eq!(log.leader_epochs(), vec![(2, 12), (5, 20), (7, 30)]);
    assert_eq!(log.end_offset_for_epoch(1), (1, 12));
    assert_eq!(
        std::fs::read_to_string(pdir.join("leader-epoch-checkpoint")).unwrap(),
        "0\n3\n2 12\n5 20\n7 30\n"
    );
    // Persisted across a reopen; appends continue in the latest epoch.
    drop(log);
    engine.close().unwrap();
    drop(engine);
    let engine = common::open(tmp.path());
    let log = engine.partition("t", 0).unwrap();
    assert_eq!(log.leader_epochs(), vec![(2, 12), (5, 20), (7, 30)]);
    assert_eq!(log.leader_epoch(), 7);
    let info = log.append(&common::batch("after", 1)).unwrap();
    let data = log.read(info.first_offset, 1, IsolationLevel::LogEnd).unwrap();
    let b = data.records.batches().next().unwrap().unwrap();
    assert_eq!(b.partition_leader_epoch(), 7);
    assert!(RecordBatch::parse(b.as_bytes()).unwrap().is_crc_valid(), "the epoch is outside the CRC");
}
