//! Recovery: exhaustive truncation and bit-flip sweeps over the tail of a crashed log, damage
//! below the recovery point (an error that changes nothing, unless the user opts in), index
//! files that are missing or garbled, leftovers of interrupted operations, and clean opens that
//! do not scan.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use eoslog::{Engine, EngineConfig, ErrorCode, IsolationLevel};

const TOPIC: &str = "t";

/// Records as (offset, value).
type Records = Vec<(i64, Vec<u8>)>;

/// A crash image: the data directory of a running engine copied as it was (what SIGKILL leaves).
struct Image {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    /// Segment base offsets.
    segments: Vec<i64>,
    /// (position, size, base offset, last offset) of every batch of the last segment.
    last_batches: Vec<(usize, usize, i64, i64)>,
    /// Every record: (offset, value).
    records: Vec<(i64, Vec<u8>)>,
    /// The log end offset when the engine was last flushed.
    flushed: i64,
}

impl Image {
    /// A fresh copy of the image to damage and open.
    fn copy(&self) -> (tempfile::TempDir, PathBuf) {
        let tmp = common::scratch_dir();
        let dir = tmp.path().join("data");
        common::copy_tree(&self.dir, &dir);
        (tmp, dir)
    }
}

/// Builds a three-segment log; flushes it (recovery point = log end) and then appends
/// `unflushed` more batches to the last segment before taking the image.
fn build_image(unflushed: usize) -> Image {
    let src = tempfile::tempdir().unwrap();
    let engine = common::open(src.path());
    engine.create_topic(TOPIC, 1, common::small_topic()).unwrap();
    let log = engine.partition(TOPIC, 0).unwrap();
    let mut i = 0;
    let append = |i: &mut usize| {
        log.append(&common::batch(&format!("b{i}"), 3)).unwrap();
        *i += 1;
    };
    while log.segment_base_offsets().len() < 3 {
        append(&mut i);
    }
    for _ in 0..4 {
        append(&mut i);
    }
    engine.flush().unwrap();
    let flushed = log.log_end_offset();
    let segments = log.segment_base_offsets();
    for _ in 0..unflushed {
        append(&mut i);
    }
    assert_eq!(log.segment_base_offsets(), segments, "the unflushed batches stay in the last segment");
    assert_eq!(log.recovery_point(), flushed);

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("image");
    common::copy_tree(src.path(), &dir);
    let records = common::records(&log, 0);
    drop(log);
    engine.close().unwrap();

    let last = common::read(common::log_path(&dir.join(format!("{TOPIC}-0")), *segments.last().unwrap()));
    let last_batches = common::batch_positions(&last);
    assert_eq!(last_batches.iter().map(|b| b.0 + b.1).next_back().unwrap(), last.len());
    Image { _tmp: tmp, dir, segments, last_batches, records, flushed }
}

/// Opens a damaged copy and returns what a reader gets, checking the invariants every recovery
/// must keep: no panic, no CRC failure in anything read, nothing beyond the log end.
fn open_and_read(dir: &Path, config: EngineConfig) -> (Engine, Vec<(i64, Vec<u8>)>) {
    let engine = Engine::open(dir, config).unwrap();
    let log = engine.partition(TOPIC, 0).unwrap();
    let records = common::records(&log, 0);
    assert!(records.last().is_none_or(|r| r.0 < log.log_end_offset()));
    (engine, records)
}

/// Every byte offset inside the last three batches: the log ends at the last whole batch.
#[test]
fn truncation_sweep_over_the_last_batches() {
    let image = build_image(3);
    let started = Instant::now();
    let tail = &image.last_batches[image.last_batches.len() - 3..];
    let (from, to) = (tail[0].0, tail[2].0 + tail[2].1);
    let mut cases = 0;
    for cut in from..=to {
        let (_tmp, dir) = image.copy();
        let log_file = common::log_path(&dir.join(format!("{TOPIC}-0")), *image.segments.last().unwrap());
        std::fs::OpenOptions::new().write(true).open(&log_file).unwrap().set_len(cut as u64).unwrap();
        let (engine, records) = open_and_read(&dir, common::config());
        // The batch the cut falls in (or the end of the log for a cut at the very end).
        let (pos, base) =
            tail.iter().find(|b| cut < b.0 + b.1).map(|b| (b.0, b.2)).unwrap_or((to, tail[2].3 + 1));
        let what = format!("cut at {cut}");
        let log = engine.partition(TOPIC, 0).unwrap();
        assert_eq!(log.log_end_offset(), base, "{what}");
        assert_eq!(log.segment_base_offsets(), image.segments, "{what}");
        let expected: Vec<_> = image.records.iter().filter(|r| r.0 < base).cloned().collect();
        assert_eq!(records, expected, "{what}");
        let report = common::user_report(engine.recovery_report());
        assert!(!report.clean_shutdown);
        assert_eq!(report.segments_recovered, 1, "{what}: only the segment holding the recovery point");
        assert_eq!(report.truncated_bytes, (cut - pos) as u64, "{what}");
        assert_eq!(report.truncated_to_offset, (cut > pos).then_some(base), "{what}");
        assert_eq!(report.deleted_segments, Vec::<i64>::new());
        assert_eq!(
            std::fs::metadata(&log_file).unwrap().len(),
            pos as u64,
            "{what}: the torn bytes are gone"
        );
        // The log continues from there.
        let info = log.append(&common::batch("after", 1)).unwrap();
        assert_eq!(info.first_offset, base, "{what}");
        cases += 1;
    }
    assert_eq!(cases, to - from + 1);
    eprintln!("truncation sweep: {cases} cases in {:?}", started.elapsed());
}

/// One bit flipped at every byte of the last three batches. Damage the CRC covers cuts the log
/// at the damaged batch. `baseOffset` (bytes 0–7) and `partitionLeaderEpoch` (12–15) are
/// outside Kafka's CRC, so a flip there can go unnoticed; the record values read back must
/// then still be a prefix of what was written, and no record may fail its CRC.
#[test]
fn bit_flip_sweep_over_the_last_batches() {
    let image = build_image(3);
    let started = Instant::now();
    let tail = &image.last_batches[image.last_batches.len() - 3..];
    let file_len = tail[2].0 + tail[2].1;
    let values: Vec<Vec<u8>> = image.records.iter().map(|r| r.1.clone()).collect();
    let (mut detected, mut outside_crc) = (0, 0);
    for byte in tail[0].0..file_len {
        let (_tmp, dir) = image.copy();
        let log_file = common::log_path(&dir.join(format!("{TOPIC}-0")), *image.segments.last().unwrap());
        let mut bytes = common::read(&log_file);
        bytes[byte] ^= 1 << (byte % 8);
        std::fs::write(&log_file, &bytes).unwrap();
        let (engine, records) = open_and_read(&dir, common::config());
        let (pos, _, base, _) = *tail.iter().find(|b| byte < b.0 + b.1).unwrap();
        let what = format!("bit {} of byte {byte} (batch at {pos} + {})", byte % 8, byte - pos);
        let log = engine.partition(TOPIC, 0).unwrap();
        let rel = byte - pos;
        if rel < 8 || (12..16).contains(&rel) {
            let got: Vec<Vec<u8>> = records.iter().map(|r| r.1.clone()).collect();
            assert!(values.starts_with(&got), "{what}: values are not a prefix of what was written");
            outside_crc += 1;
        } else {
            assert_eq!(log.log_end_offset(), base, "{what}");
            let expected: Vec<_> = image.records.iter().filter(|r| r.0 < base).cloned().collect();
            assert_eq!(records, expected, "{what}");
            let report = common::user_report(engine.recovery_report());
            assert_eq!(report.truncated_bytes, (file_len - pos) as u64, "{what}");
            assert_eq!(report.truncated_to_offset, Some(base), "{what}");
            assert!(report.truncation_reason.is_some(), "{what}");
            detected += 1;
        }
    }
    assert_eq!(detected + outside_crc, file_len - tail[0].0);
    assert_eq!(outside_crc, 3 * 12);
    eprintln!(
        "bit-flip sweep: {detected} detected + {outside_crc} outside the CRC in {:?}",
        started.elapsed()
    );
}

/// A torn tail in the first segment after the recovery point deletes every later segment.
#[test]
fn torn_middle_segment_deletes_later_segments() {
    // No flush at all: the recovery point is 0, every segment is scanned.
    let src = tempfile::tempdir().unwrap();
    let engine = common::open(src.path());
    engine.create_topic(TOPIC, 1, common::small_topic()).unwrap();
    let log = engine.partition(TOPIC, 0).unwrap();
    let mut n = 0;
    while log.segment_base_offsets().len() < 4 {
        log.append(&common::batch(&format!("b{n}"), 3)).unwrap();
        n += 1;
    }
    let all = common::records(&log, 0);
    let segments = log.segment_base_offsets();
    let image = tempfile::tempdir().unwrap();
    common::copy_tree(src.path(), image.path());
    drop(log);
    engine.close().unwrap();

    let pdir = image.path().join(format!("{TOPIC}-0"));
    let second = common::log_path(&pdir, segments[1]);
    let batches = common::batch_positions(&common::read(&second));
    let (pos, size, base, _) = batches[batches.len() / 2];
    let cut = pos + size / 2;
    let later: u64 =
        segments[2..].iter().map(|b| std::fs::metadata(common::log_path(&pdir, *b)).unwrap().len()).sum();
    std::fs::OpenOptions::new().write(true).open(&second).unwrap().set_len(cut as u64).unwrap();

    let (engine, records) = open_and_read(image.path(), common::config());
    let log = engine.partition(TOPIC, 0).unwrap();
    assert_eq!(log.segment_base_offsets(), segments[..2]);
    assert_eq!(log.log_end_offset(), base);
    assert_eq!(records, all.iter().filter(|r| r.0 < base).cloned().collect::<Vec<_>>());
    let report = common::user_report(engine.recovery_report());
    assert_eq!(report.segments_recovered, 2, "segments 0 and 1 are scanned; the rest follow the damage");
    assert_eq!(report.deleted_segments, segments[2..]);
    assert_eq!(report.truncated_bytes, (cut - pos) as u64 + later);
    assert_eq!(report.truncated_to_offset, Some(base));
    for b in &segments[2..] {
        assert!(!common::log_path(&pdir, *b).exists());
        assert!(!pdir.join(format!("{b:020}.index")).exists());
    }
    // Appends continue in segment 1.
    assert_eq!(log.append(&common::batch("x", 2)).unwrap().first_offset, base);
}

/// Damage below the recovery point (data that was fsynced) is not a crash: opening fails with
/// a clear error and changes nothing; with the opt-in it opens with the valid prefix.
#[test]
fn corruption_below_the_recovery_point() {
    let image = build_image(0);
    let (_tmp, dir) = image.copy();
    let pdir = dir.join(format!("{TOPIC}-0"));
    let last = *image.segments.last().unwrap();
    let log_file = common::log_path(&pdir, last);
    let mut bytes = common::read(&log_file);
    let (pos, size, base, _) = image.last_batches[image.last_batches.len() / 2];
    assert!(base < image.flushed);
    bytes[pos + size - 2] ^= 0x40;
    std::fs::write(&log_file, &bytes).unwrap();

    let without_lock = |d: &Path| -> BTreeMap<String, Vec<u8>> {
        common::tree(d).into_iter().filter(|(k, _)| k != ".lock").collect()
    };
    let before = without_lock(&dir);
    let err = Engine::open(&dir, common::config()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::KafkaStorageError);
    let msg = err.to_string();
    assert!(msg.contains("truncate.corrupt.below.recovery.point"), "{msg}");
    assert!(msg.contains("below the recovery point"), "{msg}");
    assert!(msg.contains(&format!("{last:020}.log")), "{msg}");
    let after = without_lock(&dir);
    assert_eq!(after.keys().collect::<Vec<_>>(), before.keys().collect::<Vec<_>>());
    for (name, content) in &before {
        common::assert_bytes_eq(&after[name], content, &format!("{name} changed by a refused open"));
    }
    // Refused again: nothing was "fixed" by the first attempt.
    assert!(Engine::open(&dir, common::config()).is_err());

    let config = EngineConfig { truncate_corrupt_below_recovery_point: true, ..common::config() };
    let (engine, records) = open_and_read(&dir, config);
    let log = engine.partition(TOPIC, 0).unwrap();
    assert_eq!(log.log_end_offset(), base);
    assert_eq!(records, image.records.iter().filter(|r| r.0 < base).cloned().collect::<Vec<_>>());
    let report = common::user_report(engine.recovery_report());
    assert_eq!(report.truncated_to_offset, Some(base));
    assert_eq!(report.truncated_bytes, (bytes.len() - pos) as u64);
    assert!(report.truncation_reason.as_deref().unwrap().contains("CRC"), "{report:?}");
}

/// A flushed segment below the recovery point is not rescanned at open; damage there is caught
/// by the CRC check of the read that reaches it, and nothing bad is ever returned.
#[test]
fn damage_in_an_older_segment_is_caught_on_read() {
    let image = build_image(2);
    let (_tmp, dir) = image.copy();
    let pdir = dir.join(format!("{TOPIC}-0"));
    let first = common::log_path(&pdir, image.segments[0]);
    let mut bytes = common::read(&first);
    let batches = common::batch_positions(&bytes);
    let (pos, size, base, _) = batches[2];
    bytes[pos + size - 1] ^= 0x01;
    std::fs::write(&first, &bytes).unwrap();
    let engine = Engine::open(&dir, common::config()).unwrap();
    let log = engine.partition(TOPIC, 0).unwrap();
    assert_eq!(log.log_end_offset(), image.records.last().unwrap().0 + 1);
    let ok = log.read(0, size as u32, IsolationLevel::LogEnd).unwrap();
    assert_eq!(ok.records.batches().count(), 1);
    let err = log.read(base, 1, IsolationLevel::LogEnd).unwrap_err();
    assert_eq!(err.code(), ErrorCode::KafkaStorageError);
    assert!(err.to_string().contains("CRC"), "{err}");
    // A read starting before it stops short of returning it.
    let err = log.read(0, 1 << 20, IsolationLevel::LogEnd).unwrap_err();
    assert!(err.to_string().contains("CRC"), "{err}");
}

/// Builds a cleanly closed three-segment log; returns the data directory and its records.
fn closed_log() -> (tempfile::TempDir, Vec<i64>, Records) {
    let tmp = tempfile::tempdir().unwrap();
    let engine = common::open(tmp.path());
    engine.create_topic(TOPIC, 1, common::small_topic()).unwrap();
    let log = engine.partition(TOPIC, 0).unwrap();
    let mut n = 0i64;
    while log.segment_base_offsets().len() < 3 || n % 4 != 0 {
        let mut b = eoslog::RecordBatchBuilder::new();
        for j in 0..3 {
            b.append(common::T0 + 10 * n + j, None, Some(format!("v{n}-{j}").as_bytes()), &[]);
        }
        log.append(&b.build().unwrap()).unwrap();
        n += 1;
    }
    let segments = log.segment_base_offsets();
    let records = common::records(&log, 0);
    drop(log);
    engine.close().unwrap();
    (tmp, segments, records)
}

/// Timestamp lookups that only come out right if every segment's time index and max timestamp
/// are right.
fn check_lookups(log: &eoslog::PartitionLog, records: &[(i64, Vec<u8>)]) {
    use eoslog::OffsetSpec;
    for (offset, _) in records.iter().step_by(5) {
        // Record `offset` = 3n + j has timestamp T0 + 10n + j.
        let ts = common::T0 + 10 * (offset / 3) + offset % 3;
        let found = log.list_offset(OffsetSpec::Timestamp(ts)).unwrap().unwrap();
        assert_eq!((found.timestamp, found.offset), (ts, *offset));
    }
    let last = records.last().unwrap().0;
    let max = log.list_offset(OffsetSpec::MaxTimestamp).unwrap().unwrap();
    assert_eq!((max.timestamp, max.offset), (common::T0 + 10 * (last / 3) + 2, last));
    assert_eq!(common::records(log, 0), records);
}

#[test]
fn missing_indexes_are_rebuilt() {
    let (tmp, segments, records) = closed_log();
    let pdir = tmp.path().join(format!("{TOPIC}-0"));
    let original = common::tree(&pdir);
    for base in [segments[0], segments[2]] {
        std::fs::remove_file(pdir.join(format!("{base:020}.index"))).unwrap();
        std::fs::remove_file(pdir.join(format!("{base:020}.timeindex"))).unwrap();
    }
    std::fs::remove_file(pdir.join(format!("{:020}.timeindex", segments[1]))).unwrap();
    let engine = common::open(tmp.path());
    let report = common::user_report(engine.recovery_report());
    assert!(report.clean_shutdown);
    assert_eq!(report.rebuilt_indexes, segments);
    let log = engine.partition(TOPIC, 0).unwrap();
    check_lookups(&log, &records);
    drop(log);
    engine.close().unwrap();
    let rebuilt = common::tree(&pdir);
    for (name, content) in &original {
        if name.ends_with("index") {
            common::assert_bytes_eq(&rebuilt[name], content, name);
        }
    }
}

#[test]
fn garbled_indexes_are_rebuilt() {
    let (tmp, segments, records) = closed_log();
    let pdir = tmp.path().join(format!("{TOPIC}-0"));
    let original = common::tree(&pdir);
    let index = |base: i64, ext: &str| pdir.join(format!("{base:020}.{ext}"));
    // Every offset −1 (below the base) in an offset index and in a time index, zeroed entries
    // after the first (keys that do not increase), and a length that is not whole entries.
    let len = std::fs::metadata(index(segments[0], "index")).unwrap().len() as usize;
    std::fs::write(index(segments[0], "index"), vec![0xff; len]).unwrap();
    let len = std::fs::metadata(index(segments[1], "timeindex")).unwrap().len() as usize;
    std::fs::write(index(segments[1], "timeindex"), vec![0xff; len]).unwrap();
    let len = std::fs::metadata(index(segments[2], "index")).unwrap().len() as usize;
    let first_entry = &original[&format!("{:020}.index", segments[2])][..8];
    std::fs::write(index(segments[2], "index"), [first_entry, &vec![0; len - 8]].concat()).unwrap();
    let t = index(segments[2], "timeindex");
    let mut bytes = common::read(&t);
    bytes.push(7);
    std::fs::write(&t, bytes).unwrap();

    let engine = common::open(tmp.path());
    let report = common::user_report(engine.recovery_report());
    assert_eq!(report.rebuilt_indexes, segments);
    let log = engine.partition(TOPIC, 0).unwrap();
    check_lookups(&log, &records);
    drop(log);
    engine.close().unwrap();
    let rebuilt = common::tree(&pdir);
    for (name, content) in &original {
        if name.ends_with("index") {
            common::assert_bytes_eq(&rebuilt[name], content, name);
        }
    }
}

#[test]
fn leftover_files_are_removed() {
    let (tmp, segments, records) = closed_log();
    let pdir = tmp.path().join(format!("{TOPIC}-0"));
    let stray = [
        "00000000000000000007.log.deleted".to_string(),
        "00000000000000000007.index.deleted".to_string(),
        format!("{:020}.snapshot.tmp", segments[2]),
        "leader-epoch-checkpoint.tmp".to_string(),
        "00000000000000000003.log.cleaned".to_string(),
        "00000000000000000003.log.swap".to_string(),
        "00000000000000099999.index".to_string(),
        "00000000000000099999.timeindex".to_string(),
        "00000000000000099999.txnindex".to_string(),
    ];
    for name in &stray {
        std::fs::write(pdir.join(name), b"leftover").unwrap();
    }
    // A deleted topic's directory left behind by a crash.
    std::fs::create_dir(tmp.path().join("gone-0.AAAAAAAAAAAAAAAAAAAAAA-delete")).unwrap();
    std::fs::write(tmp.path().join("gone-0.AAAAAAAAAAAAAAAAAAAAAA-delete/00000000000000000000.log"), b"x")
        .unwrap();

    let engine = common::open(tmp.path());
    let report = engine.recovery_report();
    let mut removed = common::user_report(report).removed_files.clone();
    removed.sort();
    let mut expected = stray.to_vec();
    expected.sort();
    assert_eq!(removed, expected);
    assert_eq!(report.removed_directories, vec!["gone-0.AAAAAAAAAAAAAAAAAAAAAA-delete".to_string()]);
    for name in &stray {
        assert!(!pdir.join(name).exists(), "{name}");
    }
    assert!(!tmp.path().join("gone-0.AAAAAAAAAAAAAAAAAAAAAA-delete").exists());
    let log = engine.partition(TOPIC, 0).unwrap();
    assert_eq!(log.segment_base_offsets(), segments);
    assert_eq!(common::records(&log, 0), records);
}

#[test]
fn clean_open_does_not_scan_and_unclean_open_scans_from_the_recovery_point() {
    let (tmp, segments, records) = closed_log();
    let engine = common::open(tmp.path());
    let report = common::user_report(engine.recovery_report());
    assert!(report.clean_shutdown);
    assert_eq!((report.segments_recovered, report.batches_scanned, report.bytes_scanned), (0, 0, 0));
    assert!(!report.changed_anything());
    let log = engine.partition(TOPIC, 0).unwrap();
    assert_eq!(common::records(&log, 0), records);
    // Flushed: recovery point = log end. Then more appends that roll once more, and a crash.
    engine.flush().unwrap();
    let flushed = log.log_end_offset();
    let mut n = 0;
    while log.segment_base_offsets().len() < segments.len() + 1 {
        log.append(&common::batch(&format!("more{n}"), 3)).unwrap();
        n += 1;
    }
    log.append(&common::batch("last", 3)).unwrap();
    let image = tempfile::tempdir().unwrap();
    common::copy_tree(tmp.path(), image.path());
    let all = common::records(&log, 0);
    let leo = log.log_end_offset();
    let last_two: Vec<i64> = log.segment_base_offsets()[segments.len() - 1..].to_vec();
    drop(log);
    engine.close().unwrap();

    let engine = common::open(image.path());
    let report = common::user_report(engine.recovery_report());
    assert!(!report.clean_shutdown);
    // The segment holding the recovery point and the one after it.
    assert_eq!(report.segments_recovered, 2);
    let pdir = image.path().join(format!("{TOPIC}-0"));
    let scanned: usize = last_two
        .iter()
        .map(|b| common::batch_positions(&common::read(common::log_path(&pdir, *b))).len())
        .sum();
    assert_eq!(report.batches_scanned, scanned as u64);
    assert_eq!((report.truncated_bytes, report.truncated_to_offset), (0, None));
    assert!(flushed > last_two[0] && flushed < last_two[1]);
    let log = engine.partition(TOPIC, 0).unwrap();
    assert_eq!(log.log_end_offset(), leo);
    assert_eq!(common::records(&log, 0), all);
}

/// Rebuilding a segment's offset and time indexes (here on a clean open, after the `.index` of
/// a segment holding aborted transactions was damaged) must keep its `.txnindex`: it cannot be
/// rebuilt from the segment alone, and without it `read_committed` readers would be handed
/// aborted records as committed.
#[test]
fn rebuilding_indexes_keeps_the_transaction_index() {
    let m = common::manifest("transactions-0");
    let tmp = tempfile::tempdir().unwrap();
    let pdir = tmp.path().join("transactions-0");
    common::copy_tree(&common::fixtures_dir().join("transactions-0"), &pdir);
    std::fs::write(tmp.path().join(eoslog::CLEAN_SHUTDOWN_FILE), b"").unwrap();
    let txnindex = common::read(pdir.join("00000000000000000000.txnindex"));
    let len = std::fs::metadata(pdir.join("00000000000000000000.index")).unwrap().len() as usize;
    std::fs::write(pdir.join("00000000000000000000.index"), vec![0xff; len]).unwrap();

    let config = EngineConfig { topic_defaults: common::fixture_topic_config(&m), ..common::config() };
    let engine = Engine::open(tmp.path(), config).unwrap();
    assert_eq!(common::user_report(engine.recovery_report()).rebuilt_indexes, vec![0]);
    let log = engine.partition("transactions", 0).unwrap();
    let data = log.read(0, 1 << 20, IsolationLevel::ReadCommitted).unwrap();
    let aborted: Vec<(i64, i64)> =
        data.aborted_transactions.unwrap().iter().map(|t| (t.producer_id, t.first_offset)).collect();
    assert_eq!(aborted, vec![(8, 19), (8, 32), (9, 5)]);
    drop(log);
    engine.close().unwrap();
    assert_eq!(common::read(pdir.join("00000000000000000000.txnindex")), txnindex);
    common::assert_bytes_eq(
        &common::read(pdir.join("00000000000000000000.index")),
        &common::read(common::fixtures_dir().join("transactions-0/00000000000000000000.index")),
        "rebuilt .index",
    );
}
