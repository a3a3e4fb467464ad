//! Equivalents of Kafka's `LogSegmentTest` (reference §6) against `eoslog::segment::LogSegment`:
//! reads (including from gaps and before the first offset), offset translation, lookup by
//! timestamp, truncation, recovery of corrupt data and corrupt indexes, the roll conditions,
//! preallocation and the `.deleted` rename.

mod common;

use std::path::Path;
use std::sync::Arc;

use eoslog::RecordBatchBuilder;
use eoslog::batch::RecordBatch;
use eoslog::segment::{BatchLocation, LogSegment, SegmentConfig};

use common::Rng;

fn config(index_interval_bytes: u32) -> SegmentConfig {
    SegmentConfig { index_interval_bytes, max_index_bytes: 4096, segment_bytes: 1 << 20, preallocate: false }
}

fn create(dir: &Path, base: i64, index_interval_bytes: u32) -> LogSegment {
    LogSegment::create(common::io(), dir, base, config(index_interval_bytes), common::T0).unwrap()
}

/// A batch at `base` with one record per value, all with timestamp `ts` (offset deltas 0..n).
fn records(base: i64, ts: i64, values: &[&str]) -> Vec<u8> {
    let mut b = RecordBatchBuilder::new().base_offset(base);
    for v in values {
        b.append(ts, None, Some(v.as_bytes()), &[]);
    }
    b.build().unwrap()
}

fn append(seg: &LogSegment, batch: &[u8]) -> u64 {
    let b = RecordBatch::parse(batch).unwrap();
    seg.append(b.last_offset(), b.max_timestamp(), batch).unwrap()
}

/// Base offsets of the batches in a read.
fn bases(bytes: &[u8]) -> Vec<i64> {
    eoslog::batch::batches(bytes).map(|b| b.unwrap().base_offset()).collect()
}

/// Every record value of the segment's `.log` from the start, with its offset.
fn read_all(seg: &LogSegment, from: i64) -> Vec<(i64, String)> {
    let Some(read) = seg.read(from, 1 << 20, i64::MAX, true).unwrap() else { return Vec::new() };
    let mut out = Vec::new();
    for b in eoslog::batch::batches(&read.bytes) {
        for r in b.unwrap().records().unwrap().iter() {
            let r = r.unwrap();
            out.push((r.offset, String::from_utf8(r.value.unwrap().to_vec()).unwrap()));
        }
    }
    out
}

#[test]
fn read_on_empty_segment() {
    let dir = tempfile::tempdir().unwrap();
    let seg = create(dir.path(), 40, 10);
    assert!(seg.read(40, 300, i64::MAX, true).unwrap().is_none());
    assert_eq!(seg.translate_offset(40).unwrap(), None);
    assert_eq!(seg.size(), 0);
}

/// testReadBeforeFirstOffset: reading from below the first batch returns from the first batch.
#[test]
fn read_before_first_offset() {
    let dir = tempfile::tempdir().unwrap();
    let seg = create(dir.path(), 40, 10);
    let batch = records(50, common::T0, &["hello", "there", "little", "bee"]);
    append(&seg, &batch);
    let read = seg.read(41, 300, i64::MAX, true).unwrap().unwrap();
    assert_eq!(read.bytes, batch);
    assert_eq!((read.position, read.next_offset), (0, 54));
}

/// testReadAfterLast: a read past the end of the segment returns nothing.
#[test]
fn read_after_last() {
    let dir = tempfile::tempdir().unwrap();
    let seg = create(dir.path(), 40, 10);
    append(&seg, &records(50, common::T0, &["hello", "there"]));
    assert!(seg.read(52, 200, i64::MAX, true).unwrap().is_none());
    assert!(seg.read(1000, 200, i64::MAX, true).unwrap().is_none());
}

/// testReadFromGap: reading an offset in a gap between batches returns the batch after it.
#[test]
fn read_from_gap() {
    let dir = tempfile::tempdir().unwrap();
    let seg = create(dir.path(), 40, 10);
    let first = records(50, common::T0, &["hello", "there"]);
    let second = records(60, common::T0, &["alpha", "beta"]);
    append(&seg, &first);
    append(&seg, &second);
    let read = seg.read(55, 200, i64::MAX, true).unwrap().unwrap();
    assert_eq!(read.bytes, second);
    assert_eq!((read.position, read.next_offset), (first.len() as u64, 62));
    let loc = seg.translate_offset(52).unwrap().unwrap();
    assert_eq!(
        loc,
        BatchLocation {
            base_offset: 60,
            last_offset: 61,
            position: first.len() as u64,
            size: second.len() as u32,
            max_timestamp: common::T0
        }
    );
}

/// Reads return whole batches only: at least one when `min_one`, never one that overflows
/// `max_bytes` otherwise, and never a batch reaching the upper bound.
#[test]
fn read_whole_batches_within_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let seg = create(dir.path(), 0, 10);
    let batches: Vec<Vec<u8>> =
        (0..5).map(|i| records(i * 3, common::T0 + i, &["aaaa", "bbbb", "cccc"])).collect();
    for b in &batches {
        append(&seg, b);
    }
    let size = batches[0].len() as u32;
    // One byte asked, one whole batch returned.
    let r = seg.read(4, 1, i64::MAX, true).unwrap().unwrap();
    assert_eq!(r.bytes, batches[1]);
    assert!(seg.read(4, 1, i64::MAX, false).unwrap().is_none());
    // Exactly two batches fit; one byte less fits one.
    assert_eq!(bases(&seg.read(0, 2 * size, i64::MAX, true).unwrap().unwrap().bytes), vec![0, 3]);
    assert_eq!(bases(&seg.read(0, 2 * size - 1, i64::MAX, true).unwrap().unwrap().bytes), vec![0]);
    // The upper bound excludes any batch whose last offset reaches it.
    assert_eq!(bases(&seg.read(0, 1 << 20, 9, true).unwrap().unwrap().bytes), vec![0, 3, 6]);
    assert_eq!(bases(&seg.read(0, 1 << 20, 8, true).unwrap().unwrap().bytes), vec![0, 3]);
    assert_eq!(bases(&seg.read(0, 1 << 20, 5, true).unwrap().unwrap().bytes), vec![0]);
    assert!(seg.read(3, 1 << 20, 5, true).unwrap().is_none());
    let r = seg.read(0, 1 << 20, 8, true).unwrap().unwrap();
    assert_eq!(r.next_offset, 6);
}

/// Offset translation through a sparse index: every offset maps to the batch holding it.
#[test]
fn translate_offset_with_sparse_index() {
    let dir = tempfile::tempdir().unwrap();
    let seg = create(dir.path(), 100, 100);
    let mut position = 0u64;
    let mut expected = Vec::new();
    for i in 0..40i64 {
        let b = records(100 + 2 * i, common::T0 + i, &["x".repeat(30).as_str(), "y"]);
        expected.push(BatchLocation {
            base_offset: 100 + 2 * i,
            last_offset: 101 + 2 * i,
            position,
            size: b.len() as u32,
            max_timestamp: common::T0 + i,
        });
        position = append(&seg, &b);
    }
    for loc in &expected {
        assert_eq!(seg.translate_offset(loc.base_offset).unwrap(), Some(*loc));
        assert_eq!(seg.translate_offset(loc.last_offset).unwrap(), Some(*loc));
    }
    assert_eq!(seg.translate_offset(99).unwrap(), Some(expected[0]));
    assert_eq!(seg.translate_offset(180).unwrap(), None);
}

/// testTruncate: append two batches, truncate the second off, 30 times over.
#[test]
fn truncate() {
    let dir = tempfile::tempdir().unwrap();
    let seg = create(dir.path(), 40, 10);
    for (i, offset) in (40..70i64).enumerate() {
        let ms1 = records(offset, common::T0, &["hello"]);
        let ms2 = records(offset + 1, common::T0, &["there"]);
        append(&seg, &ms1);
        append(&seg, &ms2);
        assert_eq!(
            read_all(&seg, offset),
            vec![(offset, "hello".into()), (offset + 1, "there".into())],
            "#{i}"
        );
        assert_eq!(seg.truncate_to(offset + 1).unwrap(), ms2.len() as u64);
        let read = seg.read(offset, 10_000, i64::MAX, true).unwrap().unwrap();
        assert_eq!(read.bytes, ms1, "#{i}");
    }
    // 30 one-record batches of 'hello' remain.
    assert_eq!(read_all(&seg, 40).len(), 30);
}

/// shouldTruncateEvenIfOffsetPointsToAGapInTheLog.
#[test]
fn truncate_even_if_offset_points_to_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let seg = create(dir.path(), 40, 10);
    let ms1 = records(40, common::T0, &["first message"]);
    let ms2 = records(43, common::T0, &["message after gap"]);
    append(&seg, &ms1);
    append(&seg, &ms2);
    // Offset 41 has no batch: the batch after the gap (43) goes.
    assert_eq!(seg.truncate_to(41).unwrap(), ms2.len() as u64);
    let read = seg.read(40, 10_000, i64::MAX, true).unwrap().unwrap();
    assert_eq!(bases(&read.bytes), vec![40]);
    assert_eq!(seg.size(), ms1.len() as u64);
}

/// testTruncateEmptySegment and truncation of everything: the segment is empty and reusable.
#[test]
fn truncate_empty_and_full() {
    let dir = tempfile::tempdir().unwrap();
    let seg = create(dir.path(), 40, 0);
    assert_eq!(seg.truncate_to(40).unwrap(), 0);
    for i in 0..10 {
        append(&seg, &records(40 + i, common::T0 + i, &["v"]));
    }
    let size = seg.size();
    assert_eq!(seg.truncate_to(40).unwrap(), size);
    assert_eq!(seg.size(), 0);
    assert!(seg.read(40, 1000, i64::MAX, true).unwrap().is_none());
    assert_eq!(common::read(common::log_path(dir.path(), 40)).len(), 0);
    // Appending again starts from scratch.
    let b = records(40, common::T0, &["again"]);
    append(&seg, &b);
    assert_eq!(seg.read(40, 1000, i64::MAX, true).unwrap().unwrap().bytes, b);
}

/// testReloadLargestTimestampAndNextOffsetAfterTruncation.
#[test]
fn largest_timestamp_and_next_offset_after_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let seg = create(dir.path(), 40, 0);
    for i in 0..10i64 {
        append(&seg, &records(40 + 2 * i, common::T0 + 100 * i, &["a", "b"]));
    }
    assert_eq!(seg.largest_timestamp(), common::T0 + 900);
    assert_eq!(seg.max_timestamp_and_offset(), (common::T0 + 900, 59));
    seg.truncate_to(50).unwrap(); // keeps batches 40..49
    assert_eq!(seg.largest_timestamp(), common::T0 + 400);
    assert_eq!(seg.max_timestamp_and_offset(), (common::T0 + 400, 49));
    assert_eq!(seg.load_tail_state().unwrap(), Some(50));
    seg.truncate_to(45).unwrap(); // the batch 44..45 holds 45: it goes too
    assert_eq!(seg.load_tail_state().unwrap(), Some(44));
    assert_eq!(seg.largest_timestamp(), common::T0 + 100);
}

/// testFindOffsetByTimestamp.
#[test]
fn find_offset_by_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    // An index entry every other batch or so.
    let seg = create(dir.path(), 40, 100);
    for i in 40..50i64 {
        append(&seg, &records(i, i * 10, &[format!("msg{i}-{}", "x".repeat(40)).as_str()]));
    }
    assert_eq!(seg.largest_timestamp(), 490);
    let find = |ts| seg.find_offset_by_timestamp(ts, 0).unwrap();
    assert_eq!(find(420), Some((420, 42)));
    assert_eq!(find(421), Some((430, 43)));
    assert_eq!(find(430), Some((430, 43)));
    assert_eq!(find(431), Some((440, 44)));
    assert_eq!(find(491), None);
    assert_eq!(find(401), Some((410, 41)));
    assert_eq!(find(399), Some((400, 40)));
    // The starting offset is respected.
    assert_eq!(seg.find_offset_by_timestamp(0, 45).unwrap(), Some((450, 45)));
}

/// Lookup by timestamp inside a multi-record batch finds the first record at or after it, even
/// when timestamps inside the batch are not monotonic.
#[test]
fn find_offset_by_timestamp_inside_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let seg = create(dir.path(), 0, 10);
    let mut b = RecordBatchBuilder::new();
    for ts in [100, 300, 200, 400] {
        b.append(ts, None, Some(b"v"), &[]);
    }
    append(&seg, &b.build().unwrap());
    assert_eq!(seg.find_offset_by_timestamp(150, 0).unwrap(), Some((300, 1)));
    assert_eq!(seg.find_offset_by_timestamp(250, 0).unwrap(), Some((300, 1)));
    assert_eq!(seg.find_offset_by_timestamp(301, 0).unwrap(), Some((400, 3)));
    assert_eq!(seg.max_timestamp_and_offset(), (400, 3));
}

/// Appends 100 one-record batches at offsets 0..100 with timestamps `T0 + 10 × offset`.
fn hundred_batches(dir: &Path) -> LogSegment {
    let seg = create(dir, 0, 10);
    for i in 0..100 {
        append(&seg, &records(i, common::T0 + 10 * i, &[format!("value {i}").as_str()]));
    }
    seg
}

fn reopen(dir: &Path) -> LogSegment {
    LogSegment::open(common::io(), dir, 0, config(10), true, common::T0).unwrap()
}

/// testRecoveryFixesCorruptIndex.
#[test]
fn recovery_fixes_corrupt_index() {
    let dir = tempfile::tempdir().unwrap();
    let seg = hundred_batches(dir.path());
    seg.close().unwrap();
    drop(seg);
    let index = dir.path().join(format!("{:020}.index", 0));
    let good = common::read(&index);
    assert_eq!(good.len(), 99 * 8, "every batch but the first is indexed");
    common::write_nonsense(&index, 5, &mut Rng::new(1));
    let seg = reopen(dir.path());
    let wrong = (0..100)
        .filter(|&i| seg.translate_offset(i).ok().flatten().map(|l| l.base_offset) != Some(i))
        .count();
    // The garbage is there (the test means something), yet lookups stay right: an index entry
    // is checked against the batch header at its position before a scan starts from it.
    assert_ne!(common::read(&index), good);
    assert_eq!(wrong, 0, "a damaged index entry misled a lookup");
    let scan = seg.recover(|_, _| Ok(Vec::new())).unwrap();
    assert_eq!((scan.batches, scan.next_offset, scan.invalid), (100, Some(100), None));
    for i in 0..100 {
        let read = seg.read(i, 1, i64::MAX, true).unwrap().unwrap();
        assert_eq!(bases(&read.bytes), vec![i]);
    }
    seg.close().unwrap();
    assert_eq!(common::read(&index), good, "the rebuilt index is the one appends wrote");
}

/// testRecoveryFixesCorruptTimeIndex.
#[test]
fn recovery_fixes_corrupt_time_index() {
    let dir = tempfile::tempdir().unwrap();
    let seg = hundred_batches(dir.path());
    seg.close().unwrap();
    drop(seg);
    let time_index = dir.path().join(format!("{:020}.timeindex", 0));
    let good = common::read(&time_index);
    // Keep the first entry so lookups go past it into the garbage.
    common::write_nonsense(&time_index, 12, &mut Rng::new(2));
    let seg = reopen(dir.path());
    let find = |seg: &LogSegment, i: i64| seg.find_offset_by_timestamp(common::T0 + 10 * i, 0).ok().flatten();
    let wrong = (0..100).filter(|&i| find(&seg, i) != Some((common::T0 + 10 * i, i))).count();
    assert!(wrong > 0, "the garbage must break lookups for the test to mean anything");
    seg.recover(|_, _| Ok(Vec::new())).unwrap();
    for i in 0..100 {
        assert_eq!(find(&seg, i), Some((common::T0 + 10 * i, i)));
        assert_eq!(
            seg.find_offset_by_timestamp(common::T0 + 10 * i - 1, 0).unwrap(),
            Some((common::T0 + 10 * i, i))
        );
    }
    assert_eq!(seg.max_timestamp_and_offset(), (common::T0 + 990, 99));
    seg.close().unwrap();
    assert_eq!(common::read(&time_index), good, "the rebuilt time index is the one appends wrote");
}

/// testRecoveryWithCorruptMessage: garbage from a random byte of a random batch to the end of
/// the file; recovery keeps exactly the batches before it.
#[test]
fn recovery_with_corrupt_message() {
    let mut rng = Rng::new(3);
    for iteration in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let seg = create(dir.path(), 0, 10);
        let mut positions = Vec::new();
        for i in 0..20 {
            positions.push(seg.size());
            append(&seg, &records(i, common::T0 + i, &[format!("msg {i}").as_str()]));
        }
        let file_len = seg.size();
        let corrupt_from = rng.below(20) as usize;
        // Kafka starts within the first 15 bytes of the batch; half the iterations go anywhere in it.
        let batch_len =
            positions.get(corrupt_from + 1).copied().unwrap_or(file_len) - positions[corrupt_from];
        let within = if iteration % 2 == 0 { rng.below(15) } else { rng.below(batch_len) };
        let position = positions[corrupt_from] + within;
        common::write_nonsense(&common::log_path(dir.path(), 0), position, &mut rng);
        let scan = seg.recover(|_, _| Ok(Vec::new())).unwrap();
        let what = format!("iteration {iteration}: corruption at batch {corrupt_from} + {within}");
        let bad = scan.invalid.clone().unwrap_or_else(|| panic!("{what}: not detected"));
        assert_eq!(bad.position, positions[corrupt_from], "{what}: {bad:?}");
        assert_eq!(bad.bytes, file_len - positions[corrupt_from], "{what}");
        assert_eq!(scan.batches, corrupt_from as u64, "{what}");
        assert_eq!(scan.valid_bytes, positions[corrupt_from], "{what}");
        assert_eq!(scan.next_offset, (corrupt_from > 0).then_some(corrupt_from as i64), "{what}");
        // The caller cuts the tail; the earlier batches survive intact.
        seg.truncate_to_position(bad.position).unwrap();
        let expected: Vec<(i64, String)> =
            (0..corrupt_from as i64).map(|i| (i, format!("msg {i}"))).collect();
        assert_eq!(read_all(&seg, 0), expected, "{what}");
        assert_eq!(common::read(common::log_path(dir.path(), 0)).len() as u64, positions[corrupt_from]);
    }
}

/// Recovery never truncates by itself: a segment with a bad batch is left as it is on disk.
#[test]
fn recovery_scan_leaves_the_log_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let seg = hundred_batches(dir.path());
    let log = common::log_path(dir.path(), 0);
    let mut bytes = common::read(&log);
    let len = bytes.len();
    bytes[len - 3] ^= 0x10;
    std::fs::write(&log, &bytes).unwrap();
    let scan = seg.recover(|_, _| Ok(Vec::new())).unwrap();
    assert_eq!((scan.batches, scan.next_offset), (99, Some(99)));
    assert!(scan.invalid.unwrap().reason.contains("CRC"), "a flipped payload bit is a CRC mismatch");
    assert_eq!(common::read(&log), bytes);
}

/// The roll conditions of `LogSegment.shouldRoll`: size, age, full index, relative offset.
#[test]
fn should_roll_conditions() {
    let dir = tempfile::tempdir().unwrap();
    let seg = LogSegment::create(
        common::io(),
        dir.path(),
        1000,
        SegmentConfig {
            index_interval_bytes: 0,
            max_index_bytes: 64,
            segment_bytes: 1 << 20,
            preallocate: false,
        },
        common::T0,
    )
    .unwrap();
    let (limit, age) = (10_000u32, 60_000i64);
    let roll =
        |incoming: u32, ts: i64, last: i64| seg.should_roll(incoming, ts, last, limit, age, common::T0);
    // An empty segment never rolls, even for a batch larger than segment.bytes or an old one.
    assert!(!roll(limit + 1, common::T0 + 10 * age, 1000));
    let first = records(1000, common::T0, &["first"]);
    append(&seg, &first);
    let size = first.len() as u32;
    // segment.bytes: roll when size + incoming > segment.bytes.
    assert!(!roll(limit - size, common::T0, 1001));
    assert!(roll(limit - size + 1, common::T0, 1001));
    // segment.ms: measured from the first batch's max timestamp to the incoming max timestamp.
    assert!(!roll(10, common::T0 + age, 1001));
    assert!(roll(10, common::T0 + age + 1, 1001));
    // Relative offsets must fit an i32.
    assert!(!roll(10, common::T0, 1000 + i32::MAX as i64));
    assert!(roll(10, common::T0, 1001 + i32::MAX as i64));
    assert!(
        seg.append(1001 + i32::MAX as i64, common::T0, &records(1001 + i32::MAX as i64, common::T0, &["x"]))
            .is_err()
    );
    assert_eq!(seg.size(), size as u64, "a refused append writes nothing");
    // Full index: 64 bytes hold 8 offset entries and 5 time entries, full at 4 (one slot is
    // kept for the close entry). Index interval 0 indexes every batch but the first.
    for i in 1..=4 {
        assert!(!roll(10, common::T0, 1000 + i), "after {i} batches");
        append(&seg, &records(1000 + i, common::T0 + i, &["x"]));
    }
    assert!(roll(10, common::T0, 1005), "the time index is full");
}

/// The offset index alone can fill up too (timestamps that never increase add no time entry).
#[test]
fn should_roll_when_offset_index_is_full() {
    let dir = tempfile::tempdir().unwrap();
    let seg = LogSegment::create(
        common::io(),
        dir.path(),
        0,
        SegmentConfig {
            index_interval_bytes: 0,
            max_index_bytes: 64,
            segment_bytes: 1 << 20,
            preallocate: false,
        },
        common::T0,
    )
    .unwrap();
    let mut n = 0;
    while !seg.should_roll(10, common::T0, n, 1 << 20, i64::MAX, common::T0) {
        append(&seg, &records(n, common::T0, &["x"]));
        n += 1;
        assert!(n < 100);
    }
    // The first batch is never indexed; 8 more fill the 64-byte offset index.
    assert_eq!(n, 9);
}

/// testCreateWithInitFileSizeAppendMessage / ClearShutdown: a preallocated segment is
/// `segment.bytes` long until it is trimmed at roll or close, and reopens at its real size.
#[test]
fn preallocated_segment_is_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    let config = SegmentConfig {
        index_interval_bytes: 10,
        max_index_bytes: 4096,
        segment_bytes: 8192,
        preallocate: true,
    };
    let seg = LogSegment::create(common::io(), dir.path(), 40, config, common::T0).unwrap();
    let log = common::log_path(dir.path(), 40);
    assert_eq!(std::fs::metadata(&log).unwrap().len(), 8192);
    let a = records(40, common::T0, &["hello", "there"]);
    let b = records(42, common::T0, &["alpha", "beta"]);
    append(&seg, &a);
    append(&seg, &b);
    assert_eq!(
        seg.read(40, 1 << 20, i64::MAX, true).unwrap().unwrap().bytes,
        [a.clone(), b.clone()].concat()
    );
    seg.close().unwrap();
    assert_eq!(common::read(&log), [a.clone(), b.clone()].concat());
    drop(seg);
    let seg = LogSegment::open(common::io(), dir.path(), 40, config, false, common::T0).unwrap();
    assert_eq!(seg.size(), (a.len() + b.len()) as u64);
    assert_eq!(bases(&seg.read(41, 1 << 20, i64::MAX, true).unwrap().unwrap().bytes), vec![40, 42]);
}

/// testChangeFileSuffixes: deletion renames every file of the segment with `.deleted`.
#[test]
fn rename_to_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let seg = Arc::new(create(dir.path(), 40, 10));
    append(&seg, &records(40, common::T0, &["a"]));
    seg.close().unwrap();
    let before = common::file_names(dir.path());
    assert_eq!(
        before,
        ["00000000000000000040.index", "00000000000000000040.log", "00000000000000000040.timeindex"]
    );
    let renamed = seg.rename_to_deleted().unwrap();
    assert_eq!(renamed.len(), 3);
    assert_eq!(
        common::file_names(dir.path()),
        before.iter().map(|f| format!("{f}.deleted")).collect::<Vec<_>>()
    );
}

/// A segment reopened after close reads and translates exactly as before, with its indexes
/// trimmed to their entries (so a reopened inactive index does not look full of zeros).
#[test]
fn reopen_after_close() {
    let dir = tempfile::tempdir().unwrap();
    let seg = hundred_batches(dir.path());
    let before: Vec<_> = (0..100).map(|i| seg.translate_offset(i).unwrap()).collect();
    seg.close().unwrap();
    drop(seg);
    assert_eq!(std::fs::metadata(dir.path().join(format!("{:020}.index", 0))).unwrap().len(), 99 * 8);
    let seg = LogSegment::open(common::io(), dir.path(), 0, config(10), false, common::T0).unwrap();
    seg.sanity_check().unwrap();
    assert_eq!((0..100).map(|i| seg.translate_offset(i).unwrap()).collect::<Vec<_>>(), before);
    assert_eq!(seg.load_tail_state().unwrap(), Some(100));
    assert_eq!(seg.max_timestamp_and_offset(), (common::T0 + 990, 99));
}
