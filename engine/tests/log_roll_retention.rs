//! Rolling (`segment.bytes`, `segment.ms`, full indexes, relative-offset overflow) and deletion
//! (`retention.bytes`, `retention.ms`, `delete_records`), with the log start offset moving and
//! persisting across reopen, and the `.deleted` step observed through a recording I/O backend.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};

use eoslog::clock::ManualClock;
use eoslog::io::{DirEntry, DirLock, FileType, IoBackend, IoFile, IoKind, OpenMode};
use eoslog::{Engine, IsolationLevel, OffsetSpec, RecordBatch, TimestampType, TopicConfig};

fn topic(pairs: &[(&str, &str)]) -> TopicConfig {
    let mut c = TopicConfig::default();
    c.set("index.interval.bytes", "256").unwrap();
    c.set("segment.index.bytes", "4096").unwrap();
    for (k, v) in pairs {
        c.set(k, v).unwrap();
    }
    c
}

/// Where Kafka's `segment.bytes` rule puts segment boundaries for batches of these sizes: a
/// batch goes to a new segment when the active one is non-empty and size + batch > limit.
fn expected_bases(sizes: &[(i64, usize)], limit: usize) -> Vec<i64> {
    let mut bases = vec![0];
    let mut size = 0;
    for &(offset, len) in sizes {
        if size > 0 && size + len > limit {
            bases.push(offset);
            size = 0;
        }
        size += len;
    }
    bases
}

#[test]
fn roll_on_segment_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let engine = common::open(tmp.path());
    engine.create_topic("t", 1, topic(&[("segment.bytes", "1024")])).unwrap();
    let log = engine.partition("t", 0).unwrap();
    let mut sizes = Vec::new();
    for i in 0..60usize {
        // Sizes vary so boundaries fall at different places.
        let b = common::batch(&format!("{i}-{}", "x".repeat(i % 7 * 20)), 1 + i % 3);
        let info = log.append(&b).unwrap();
        sizes.push((info.first_offset, b.len()));
    }
    // One batch larger than segment.bytes still goes in (alone, after a roll).
    let mut big = eoslog::RecordBatchBuilder::new();
    big.append(common::T0, None, Some(&[1u8; 1500]), &[]);
    let big = big.build().unwrap();
    let info = log.append(&big).unwrap();
    sizes.push((info.first_offset, big.len()));
    let after = log.append(&common::batch("after", 1)).unwrap();
    sizes.push((after.first_offset, common::batch("after", 1).len()));

    let expected = expected_bases(&sizes, 1024);
    assert!(expected.len() > 5);
    assert_eq!(log.segment_base_offsets(), expected);
    let pdir = tmp.path().join("t-0");
    for (i, base) in expected.iter().enumerate() {
        let len = std::fs::metadata(common::log_path(&pdir, *base)).unwrap().len() as usize;
        let end = expected.get(i + 1).copied().unwrap_or(i64::MAX);
        let want: usize = sizes.iter().filter(|(o, _)| *o >= *base && *o < end).map(|(_, l)| l).sum();
        assert_eq!(len, want, "segment {base}");
        assert!(len <= 1024 || *base == info.first_offset, "segment {base} is {len} bytes");
    }
    // Every rolled segment has a producer snapshot at its base (none at 0: the log was empty).
    let snapshots: Vec<String> =
        common::file_names(&pdir).into_iter().filter(|f| f.ends_with(".snapshot")).collect();
    let want: Vec<String> = expected[1..].iter().map(|b| format!("{b:020}.snapshot")).collect();
    assert_eq!(snapshots, want);
}

#[test]
fn roll_on_segment_ms_with_a_manual_clock() {
    let tmp = tempfile::tempdir().unwrap();
    let (engine, clock) = common::open_with_clock(tmp.path());
    engine.create_topic("t", 1, topic(&[("segment.ms", "1000")])).unwrap();
    let log = engine.partition("t", 0).unwrap();
    // CreateTime: the age is the incoming batch's max timestamp minus the first batch's.
    let append_now = |tag: &str| {
        use eoslog::clock::Clock;
        log.append(&common::batch_at(clock.now_ms(), tag, 2)).unwrap().first_offset
    };
    append_now("a"); // segment 0, first batch at T0
    clock.advance(1000);
    append_now("b"); // waited exactly 1000: no roll
    clock.advance(1);
    let c = append_now("c"); // 1001 > 1000: roll
    assert_eq!(log.segment_base_offsets(), vec![0, c]);
    clock.advance(999);
    append_now("d");
    clock.advance(500);
    let e = append_now("e");
    assert_eq!(log.segment_base_offsets(), vec![0, c, e]);
    // An old timestamp does not roll, whatever the clock says.
    clock.advance(10_000);
    log.append(&common::batch_at(common::T0, "old", 1)).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, c, e]);

    // After a clean reopen the active segment's age still counts from its first batch.
    drop(log);
    engine.close().unwrap();
    drop(engine);
    let clock2 = ManualClock::new(common::T0 + 100_000);
    let engine = Engine::open(tmp.path(), common::config_with_clock(clock2)).unwrap();
    let log = engine.partition("t", 0).unwrap();
    let first_ts = common::T0 + 2500; // batch e
    let f = log.append(&common::batch_at(first_ts + 1000, "f", 1)).unwrap().first_offset;
    assert_eq!(log.segment_base_offsets(), vec![0, c, e]);
    let g = log.append(&common::batch_at(first_ts + 1001, "g", 1)).unwrap().first_offset;
    assert_eq!(log.segment_base_offsets(), vec![0, c, e, g]);
    assert_eq!(g, f + 1);
}

#[test]
fn roll_on_segment_ms_for_log_append_time() {
    let tmp = tempfile::tempdir().unwrap();
    let (engine, clock) = common::open_with_clock(tmp.path());
    engine
        .create_topic("t", 1, topic(&[("segment.ms", "60000"), ("message.timestamp.type", "LogAppendTime")]))
        .unwrap();
    let log = engine.partition("t", 0).unwrap();
    // The producer's timestamps do not matter: the broker clock stamps every batch.
    let a = log.append(&common::batch_at(0, "a", 1)).unwrap();
    assert_eq!(a.log_append_time, common::T0);
    clock.advance(60_000);
    log.append(&common::batch_at(0, "b", 1)).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0]);
    clock.advance(1);
    let c = log.append(&common::batch_at(0, "c", 1)).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, c.first_offset]);
}

#[test]
fn roll_on_full_indexes() {
    let tmp = tempfile::tempdir().unwrap();
    let engine = common::open(tmp.path());
    // 64-byte indexes: 8 offset entries, 5 time entries (full at 4); every batch but the first
    // of a segment gets an index entry.
    let config = topic(&[("segment.index.bytes", "64"), ("index.interval.bytes", "0")]);
    engine.create_topic("rising", 1, config.clone()).unwrap();
    engine.create_topic("flat", 1, config).unwrap();
    let rising = engine.partition("rising", 0).unwrap();
    let flat = engine.partition("flat", 0).unwrap();
    for i in 0..20 {
        rising.append(&common::batch_at(common::T0 + i, "r", 1)).unwrap();
        flat.append(&common::batch_at(common::T0, "f", 1)).unwrap();
    }
    // Rising timestamps fill the time index after 4 entries: 5 batches per segment.
    assert_eq!(rising.segment_base_offsets(), vec![0, 5, 10, 15]);
    // Flat timestamps add one time entry only: the offset index fills after 8: 9 per segment.
    assert_eq!(flat.segment_base_offsets(), vec![0, 9, 18]);
    // The rolled segments' indexes were trimmed to their entries.
    let pdir = tmp.path().join("rising-0");
    assert_eq!(std::fs::metadata(pdir.join(format!("{:020}.index", 5))).unwrap().len(), 4 * 8);
    assert_eq!(std::fs::metadata(pdir.join(format!("{:020}.timeindex", 5))).unwrap().len(), 4 * 12);
}

/// A follower batch whose offsets do not fit the active segment as 32-bit relative offsets
/// rolls a new segment at the batch's base offset (Kafka allows gaps on replication appends).
#[test]
fn roll_on_relative_offset_overflow() {
    let tmp = tempfile::tempdir().unwrap();
    let engine = common::open(tmp.path());
    engine.create_topic("t", 1, topic(&[])).unwrap();
    let log = engine.partition("t", 0).unwrap();
    log.append_as_follower(&common::follower_batch(0, 0, common::T0, "a", 3)).unwrap();
    // Still fits: last offset = base + i32::MAX.
    let fits = i32::MAX as i64 - 1;
    log.append_as_follower(&common::follower_batch(fits, 0, common::T0, "b", 2)).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0]);
    assert_eq!(log.log_end_offset(), fits + 2);
    // Its last offset would be base + 2^31: a new segment.
    let big = i32::MAX as i64 + 1;
    let info = log.append_as_follower(&common::follower_batch(big, 0, common::T0, "c", 1)).unwrap();
    assert_eq!((info.first_offset, info.last_offset), (big, big));
    assert_eq!(log.segment_base_offsets(), vec![0, big]);
    let huge = 5_000_000_000i64;
    log.append_as_follower(&common::follower_batch(huge, 1, common::T0, "d", 2)).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, big, huge]);
    assert_eq!(log.log_end_offset(), huge + 2);
    // Reads cross the gaps.
    let values: Vec<(i64, Vec<u8>)> = common::records(&log, 0);
    let offsets: Vec<i64> = values.iter().map(|v| v.0).collect();
    assert_eq!(offsets, vec![0, 1, 2, fits, fits + 1, big, huge, huge + 1]);
    assert_eq!(
        log.read(3, 1, IsolationLevel::LogEnd)
            .unwrap()
            .records
            .batches()
            .next()
            .unwrap()
            .unwrap()
            .base_offset(),
        fits
    );
    // The layout survives a reopen, clean and unclean.
    drop(log);
    engine.close().unwrap();
    drop(engine);
    let engine = common::open(tmp.path());
    let log = engine.partition("t", 0).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, big, huge]);
    assert_eq!(common::records(&log, 0), values);
}

// ------------------------------------------------------------------------------ retention

/// Wraps the suite's backend and records renames and removals, to observe the `.deleted` step.
#[derive(Debug)]
struct Recording {
    inner: Arc<dyn IoBackend>,
    ops: Mutex<Vec<String>>,
}

impl Recording {
    fn name(p: &Path) -> String {
        p.file_name().unwrap().to_string_lossy().into_owned()
    }
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.ops.lock().unwrap())
    }
}

impl IoBackend for Recording {
    fn kind(&self) -> IoKind {
        self.inner.kind()
    }
    fn open(&self, path: &Path, mode: OpenMode) -> std::io::Result<Arc<dyn IoFile>> {
        self.inner.open(path, mode)
    }
    fn create_dir_all(&self, path: &Path) -> std::io::Result<()> {
        self.inner.create_dir_all(path)
    }
    fn remove_dir(&self, path: &Path) -> std::io::Result<()> {
        self.inner.remove_dir(path)
    }
    fn remove_file(&self, path: &Path) -> std::io::Result<()> {
        self.ops.lock().unwrap().push(format!("remove {}", Self::name(path)));
        self.inner.remove_file(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        self.ops.lock().unwrap().push(format!("rename {} {}", Self::name(from), Self::name(to)));
        self.inner.rename(from, to)
    }
    fn sync_dir(&self, path: &Path) -> std::io::Result<()> {
        self.ops.lock().unwrap().push(format!("sync_dir {}", Self::name(path)));
        self.inner.sync_dir(path)
    }
    fn read_dir(&self, path: &Path) -> std::io::Result<Vec<DirEntry>> {
        self.inner.read_dir(path)
    }
    fn metadata(&self, path: &Path) -> std::io::Result<Option<FileType>> {
        self.inner.metadata(path)
    }
    fn lock_dir(&self, dir: &Path) -> std::io::Result<Box<dyn DirLock>> {
        self.inner.lock_dir(dir)
    }
    fn sync_many(&self, files: &[Arc<dyn IoFile>]) -> Vec<std::io::Result<()>> {
        self.inner.sync_many(files)
    }
}

/// A log with segments of exactly `per_segment` batches of `size` bytes (`segment.bytes` fits
/// them), timestamps `T0 + 1000 × batch`.
fn fill(log: &Arc<eoslog::PartitionLog>, batches: i64) -> usize {
    let mut size = 0;
    for i in 0..batches {
        let b = common::batch_at(common::T0 + 1000 * i, &format!("{i:04}"), 2);
        size = b.len();
        log.append(&b).unwrap();
    }
    size
}

#[test]
fn retention_by_bytes_renames_then_removes() {
    let tmp = tempfile::tempdir().unwrap();
    let io = Arc::new(Recording { inner: common::io(), ops: Mutex::new(Vec::new()) });
    let clock = ManualClock::new(common::T0);
    let engine = Engine::open_with_backend(tmp.path(), common::config_with_clock(clock), io.clone()).unwrap();
    let size = common::batch_at(common::T0, "0000", 2).len();
    // Four batches per segment.
    let seg_bytes = (4 * size).to_string();
    engine.create_topic("t", 1, topic(&[("segment.bytes", &seg_bytes), ("retention.ms", "-1")])).unwrap();
    let log = engine.partition("t", 0).unwrap();
    fill(&log, 22);
    assert_eq!(log.segment_base_offsets(), vec![0, 8, 16, 24, 32, 40]);
    let seg = (4 * size) as i64;
    // Total 5 full segments + 2 batches. Keep at least 2.5 segments' worth: Kafka deletes the
    // oldest segments while what remains stays ≥ retention.bytes.
    let limit = 2 * seg + seg / 2;
    engine.alter_topic_config("t", &[("retention.bytes", &limit.to_string())]).unwrap();
    io.take();
    assert_eq!(engine.run_retention().unwrap(), 3);
    assert_eq!(log.segment_base_offsets(), vec![24, 32, 40]);
    assert_eq!(log.log_start_offset(), 24);
    assert_eq!(log.list_offset(OffsetSpec::Earliest).unwrap().unwrap().offset, 24);
    // Rename every file of a doomed segment to .deleted, fsync the directory, then remove.
    let ops = io.take();
    let seg0: Vec<&String> = ops.iter().filter(|o| o.contains("00000000000000000000.")).collect();
    assert_eq!(
        seg0,
        [
            "rename 00000000000000000000.log 00000000000000000000.log.deleted",
            "rename 00000000000000000000.index 00000000000000000000.index.deleted",
            "rename 00000000000000000000.timeindex 00000000000000000000.timeindex.deleted",
            "remove 00000000000000000000.log.deleted",
            "remove 00000000000000000000.index.deleted",
            "remove 00000000000000000000.timeindex.deleted",
            // The producer snapshot named like the segment goes with it (none exists at 0).
            "remove 00000000000000000000.snapshot",
        ]
    );
    let last_rename = ops.iter().rposition(|o| o.starts_with("rename") && o.ends_with(".deleted")).unwrap();
    let first_remove = ops.iter().position(|o| o.starts_with("remove")).unwrap();
    assert_eq!(ops.iter().filter(|o| o.starts_with("rename") && o.ends_with(".deleted")).count(), 9);
    assert!(ops[last_rename..first_remove].iter().any(|o| o == "sync_dir t-0"), "{ops:?}");
    let files = common::file_names(&tmp.path().join("t-0"));
    assert!(files.iter().all(|f| !f.ends_with(".deleted")), "{files:?}");
    assert!(!files.iter().any(|f| f.starts_with("00000000000000000016.")), "{files:?}");
    // Reads below the new start are out of range; from it, everything is there.
    assert_eq!(
        log.read(23, 100, IsolationLevel::ReadUncommitted).unwrap_err().code(),
        eoslog::ErrorCode::OffsetOutOfRange
    );
    assert_eq!(common::records(&log, 24).len(), 20);
    // Nothing more to delete.
    assert_eq!(engine.run_retention().unwrap(), 0);

    // The log start offset persists (clean reopen).
    drop(log);
    engine.close().unwrap();
    drop(engine);
    let engine = common::open(tmp.path());
    let log = engine.partition("t", 0).unwrap();
    assert_eq!((log.log_start_offset(), log.segment_base_offsets()), (24, vec![24, 32, 40]));
}

#[test]
fn retention_by_time_with_a_manual_clock() {
    let tmp = tempfile::tempdir().unwrap();
    let (engine, clock) = common::open_with_clock(tmp.path());
    let size = common::batch_at(common::T0, "0000", 2).len();
    let seg_bytes = (4 * size).to_string();
    engine.create_topic("t", 1, topic(&[("segment.bytes", &seg_bytes), ("retention.ms", "10000")])).unwrap();
    let log = engine.partition("t", 0).unwrap();
    fill(&log, 14); // segments [0..8) ts T0..T0+3000, [8..16) T0+4000..T0+7000, [16..24), [24..28)
    assert_eq!(log.segment_base_offsets(), vec![0, 8, 16, 24]);
    // Segment 0's newest record is T0+3000: it expires when now − 3000 − T0 > 10000.
    clock.set(common::T0 + 13_000);
    assert_eq!(engine.run_retention().unwrap(), 0);
    clock.set(common::T0 + 13_001);
    assert_eq!(engine.run_retention().unwrap(), 1);
    assert_eq!(log.log_start_offset(), 8);
    // Much later everything but the active segment goes.
    clock.set(common::T0 + 1_000_000);
    assert_eq!(engine.run_retention().unwrap(), 2);
    assert_eq!(log.segment_base_offsets(), vec![24]);
    assert_eq!(log.log_start_offset(), 24);
    assert_eq!(common::records(&log, 24).len(), 4);

    // The new log start was checkpointed by the retention pass: a crash now keeps it.
    let image = tempfile::tempdir().unwrap();
    common::copy_tree(tmp.path(), image.path());
    let engine2 = common::open(image.path());
    let log2 = engine2.partition("t", 0).unwrap();
    assert_eq!(log2.log_start_offset(), 24);
    assert_eq!(common::records(&log2, 24).len(), 4);
}

#[test]
fn delete_records_moves_the_log_start() {
    let tmp = tempfile::tempdir().unwrap();
    let engine = common::open(tmp.path());
    let size = common::batch_at(common::T0, "0000", 2).len();
    engine.create_topic("t", 1, topic(&[("segment.bytes", &(4 * size).to_string())])).unwrap();
    let log = engine.partition("t", 0).unwrap();
    fill(&log, 10); // segments 0, 8, 16
    // Inside segment 8, inside a batch: the log start is exactly that offset.
    assert_eq!(log.delete_records(11).unwrap(), 11);
    assert_eq!(log.segment_base_offsets(), vec![8, 16]);
    assert_eq!(log.log_start_offset(), 11);
    assert_eq!(log.list_offset(OffsetSpec::Earliest).unwrap().unwrap().offset, 11);
    assert_eq!(
        log.read(10, 100, IsolationLevel::ReadUncommitted).unwrap_err().code(),
        eoslog::ErrorCode::OffsetOutOfRange
    );
    // A read from the start returns the whole batch holding it (10..11); consumers skip 10.
    let data = log.read(11, 1, IsolationLevel::ReadUncommitted).unwrap();
    assert_eq!(data.log_start_offset, 11);
    assert_eq!(data.records.batches().next().unwrap().unwrap().base_offset(), 10);
    // Moving it backwards does nothing; to the high watermark is allowed.
    assert_eq!(log.delete_records(5).unwrap(), 11);
    let hw = log.high_watermark();
    assert_eq!(log.delete_records(hw).unwrap(), hw);
    assert_eq!(log.segment_base_offsets(), vec![16]);
    let read = log.read(hw, 100, IsolationLevel::ReadUncommitted).unwrap();
    assert!(read.records.is_empty());
    // Appends continue; the start persists across an engine flush + crash.
    log.append(&common::batch("more", 2)).unwrap();
    engine.flush().unwrap();
    let image = tempfile::tempdir().unwrap();
    common::copy_tree(tmp.path(), image.path());
    let engine2 = common::open(image.path());
    let log2 = engine2.partition("t", 0).unwrap();
    assert_eq!(log2.log_start_offset(), hw);
    assert_eq!(log2.log_end_offset(), hw + 2);
}

/// Segments still above the high watermark are never deleted (a consumer may not have seen
/// them), and the active segment never is.
#[test]
fn retention_stops_at_the_high_watermark() {
    let tmp = tempfile::tempdir().unwrap();
    let config = eoslog::EngineConfig { external_high_watermark: true, ..common::config() };
    let engine = Engine::open(tmp.path(), config).unwrap();
    let size = common::batch_at(common::T0, "0000", 2).len();
    engine
        .create_topic("t", 1, topic(&[("segment.bytes", &(4 * size).to_string()), ("retention.bytes", "0")]))
        .unwrap();
    let log = engine.partition("t", 0).unwrap();
    fill(&log, 10);
    assert_eq!(log.high_watermark(), 0);
    assert_eq!(engine.run_retention().unwrap(), 0);
    log.update_high_watermark(9).unwrap(); // inside segment 8
    assert_eq!(engine.run_retention().unwrap(), 1);
    assert_eq!(log.segment_base_offsets(), vec![8, 16]);
    log.update_high_watermark(20).unwrap();
    assert_eq!(engine.run_retention().unwrap(), 1);
    assert_eq!(log.segment_base_offsets(), vec![16]);
}

/// LogAppendTime batches carry the broker's clock in maxTimestamp (CRC recomputed); records
/// read back with that timestamp.
#[test]
fn log_append_time_stamps_max_timestamp() {
    let tmp = tempfile::tempdir().unwrap();
    let (engine, clock) = common::open_with_clock(tmp.path());
    engine.create_topic("t", 1, topic(&[("message.timestamp.type", "LogAppendTime")])).unwrap();
    let log = engine.partition("t", 0).unwrap();
    clock.set(common::T0 + 777);
    for codec in eoslog::Compression::ALL {
        let input = common::compressed(codec, 3);
        let info = log.append(&input).unwrap();
        assert_eq!(info.log_append_time, common::T0 + 777);
        let data = log.read(info.first_offset, 1, IsolationLevel::LogEnd).unwrap();
        let b = data.records.batches().next().unwrap().unwrap();
        b.validate().unwrap();
        assert_eq!(b.timestamp_type(), TimestampType::LogAppendTime);
        assert_eq!(b.max_timestamp(), common::T0 + 777);
        assert_eq!(b.base_timestamp(), RecordBatch::parse(&input).unwrap().base_timestamp(), "kept as sent");
        for r in b.records().unwrap().iter() {
            assert_eq!(r.unwrap().timestamp, common::T0 + 777);
        }
        // Only the header changed: offsets, epoch, attributes, maxTimestamp and CRC.
        assert_eq!(&b.as_bytes()[61..], &input[61..], "{codec}");
        clock.advance(1);
        clock.set(common::T0 + 777);
    }
    let ts = log.list_offset(OffsetSpec::Timestamp(common::T0 + 777)).unwrap().unwrap();
    assert_eq!((ts.timestamp, ts.offset), (common::T0 + 777, 0));
    // Markers are not stamped.
    let pid_batch = common::transactional(5, 0, 0, 1, "tx");
    let guard = log.create_verification_guard(5, 0, 0);
    let opts = eoslog::AppendOptions { verification_guard: Some(guard), ..Default::default() };
    log.append_with(&pid_batch, &opts).unwrap();
    clock.set(common::T0 + 5000);
    let m = log.append_marker(5, 0, 0, true, 1).unwrap();
    assert_eq!(m.log_append_time, -1);
    let data = log.read(m.first_offset, 1, IsolationLevel::LogEnd).unwrap();
    let b = data.records.batches().next().unwrap().unwrap();
    assert_eq!(b.timestamp_type(), TimestampType::CreateTime);
    assert_eq!(b.max_timestamp(), common::T0 + 5000);
}
