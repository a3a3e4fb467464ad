//! Bad input, one test per case: every malformed batch and every bad argument gets a typed
//! error carrying its Kafka error code, the data directory is byte-identical before and after,
//! and the partition keeps working (a bad request never takes it offline).

mod common;

use std::sync::Arc;

use eoslog::batch::EndTxnMarker;
use eoslog::clock::ManualClock;
use eoslog::{Engine, ErrorCode, IsolationLevel, PartitionLog, RecordBatchBuilder, TopicConfig};

struct Setup {
    tmp: tempfile::TempDir,
    engine: Engine,
    log: Arc<PartitionLog>,
    clock: Arc<ManualClock>,
}

/// An engine (manual clock at T0) with topic `t` (one partition, small segments, max.message.bytes
/// 2000) holding three batches.
fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let (engine, clock) = common::open_with_clock(tmp.path());
    let mut config = common::small_topic();
    config.set("max.message.bytes", "2000").unwrap();
    engine.create_topic("t", 1, config).unwrap();
    let log = engine.partition("t", 0).unwrap();
    for i in 0..3 {
        log.append(&common::batch_at(common::T0, &format!("ok{i}"), 2)).unwrap();
    }
    Setup { tmp, engine, log, clock }
}

/// Runs `op`, which must fail with `code`, and checks that nothing on disk changed and that the
/// partition still takes a good batch afterwards.
#[track_caller]
fn assert_rejected<T: std::fmt::Debug>(
    s: &Setup,
    code: ErrorCode,
    op: impl FnOnce(&Setup) -> eoslog::Result<T>,
) {
    // Settle the checkpoints first: the background pass may rewrite them at any time after an
    // append moved a recovery point, which has nothing to do with the bad input.
    s.engine.flush().unwrap();
    let before = common::tree(s.tmp.path());
    let leo = s.log.log_end_offset();
    let err = op(s).expect_err("the bad input was accepted");
    assert_eq!(err.code(), code, "{err}");
    assert!(!err.to_string().is_empty());
    let after = common::tree(s.tmp.path());
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "{err}: files added or removed"
    );
    for (name, bytes) in &before {
        common::assert_bytes_eq(&after[name], bytes, &format!("{err}: {name} changed"));
    }
    assert_eq!(s.log.log_end_offset(), leo);
    assert_eq!(s.log.failure(), None, "a bad request must not take the partition offline");
    let info = s.log.append(&common::batch_at(s.clock_now(), "after", 1)).unwrap();
    assert_eq!(info.first_offset, leo);
}

impl Setup {
    fn clock_now(&self) -> i64 {
        use eoslog::clock::Clock;
        self.clock.now_ms()
    }
}

/// Recomputes the CRC-32C of a batch after its covered bytes were edited.
fn fix_crc(b: &mut [u8]) {
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
}

fn good() -> Vec<u8> {
    common::batch_at(common::T0, "v", 3)
}

/// A one-record uncompressed batch whose records section is `body` (header fields consistent,
/// CRC valid), for record-level damage.
fn with_records(body: &[u8]) -> Vec<u8> {
    let mut b = common::batch_at(common::T0, "x", 1)[..61].to_vec();
    b.extend_from_slice(body);
    let len = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    fix_crc(&mut b);
    b
}

fn zigzag(v: i64) -> Vec<u8> {
    let mut u = ((v << 1) ^ (v >> 63)) as u64;
    let mut out = Vec::new();
    while u >= 0x80 {
        out.push(u as u8 | 0x80);
        u >>= 7;
    }
    out.push(u as u8);
    out
}

/// A record: attributes, timestamp delta, offset delta, key, value, headers — each part given
/// already encoded, prefixed by its length (or by `length` when given).
fn record(parts: &[&[u8]], length: Option<i64>) -> Vec<u8> {
    let body: Vec<u8> = parts.concat();
    [zigzag(length.unwrap_or(body.len() as i64)), body].concat()
}

// ------------------------------------------------------------------------------ framing

#[test]
fn short_buffer() {
    let s = setup();
    let b = good();
    for len in [0, 1, 11, 16, 30, 60] {
        assert_rejected(&s, ErrorCode::CorruptMessage, |s| s.log.append(&b[..len]));
    }
    // A whole header but not the records it declares.
    assert_rejected(&s, ErrorCode::CorruptMessage, |s| s.log.append(&b[..b.len() - 1]));
}

#[test]
fn batch_length_larger_than_the_buffer() {
    let s = setup();
    let mut b = good();
    let len = i32::from_be_bytes(b[8..12].try_into().unwrap());
    b[8..12].copy_from_slice(&(len + 1).to_be_bytes());
    assert_rejected(&s, ErrorCode::CorruptMessage, |s| s.log.append(&b));
    b[8..12].copy_from_slice(&i32::MAX.to_be_bytes());
    assert_rejected(&s, ErrorCode::CorruptMessage, |s| s.log.append(&b));
    b[8..12].copy_from_slice(&(-1i32).to_be_bytes());
    assert_rejected(&s, ErrorCode::CorruptMessage, |s| s.log.append(&b));
}

#[test]
fn batch_length_smaller_than_the_buffer() {
    let s = setup();
    // Trailing bytes after the batch: the bytes are not one batch.
    let mut b = good();
    b.extend_from_slice(&[0; 20]);
    assert_rejected(&s, ErrorCode::CorruptMessage, |s| s.log.append(&b));
    // A length below the minimum header.
    let mut b = good();
    b[8..12].copy_from_slice(&48i32.to_be_bytes());
    assert_rejected(&s, ErrorCode::CorruptMessage, |s| s.log.append(&b));
}

/// Kafka's LogValidator takes exactly one v2 batch per append: a second one is INVALID_RECORD.
#[test]
fn two_batches_in_one_append() {
    let s = setup();
    let b = [good(), good()].concat();
    assert_rejected(&s, ErrorCode::InvalidRecord, |s| s.log.append(&b));
    assert_rejected(&s, ErrorCode::InvalidRecord, |s| s.log.append_as_follower(&[good(), good()].concat()));
}

#[test]
fn magic_0_and_1() {
    let s = setup();
    for magic in [0u8, 1] {
        let mut b = good();
        b[16] = magic;
        assert_rejected(&s, ErrorCode::UnsupportedForMessageFormat, |s| s.log.append(&b));
    }
}

#[test]
fn bad_crc() {
    let s = setup();
    let mut b = good();
    b[17] ^= 0xff;
    assert_rejected(&s, ErrorCode::CorruptMessage, |s| s.log.append(&b));
    // A covered byte changed under a stale CRC.
    let mut b = good();
    let last = b.len() - 1;
    b[last] ^= 1;
    assert_rejected(&s, ErrorCode::CorruptMessage, |s| s.log.append(&b));
}

// ------------------------------------------------------------------------------ counts

#[test]
fn records_count_mismatch() {
    let s = setup();
    // recordsCount 4 for 3 records (and lastOffsetDelta still 2).
    let mut b = good();
    b[57..61].copy_from_slice(&4i32.to_be_bytes());
    fix_crc(&mut b);
    assert_rejected(&s, ErrorCode::InvalidRecord, |s| s.log.append(&b));
    // Consistent header (count 4, lastOffsetDelta 3) but only 3 records in the body.
    b[23..27].copy_from_slice(&3i32.to_be_bytes());
    fix_crc(&mut b);
    assert_rejected(&s, ErrorCode::InvalidRecord, |s| s.log.append(&b));
    // Zero and negative counts.
    for count in [0i32, -1] {
        let mut b = good();
        b[57..61].copy_from_slice(&count.to_be_bytes());
        fix_crc(&mut b);
        assert_rejected(&s, ErrorCode::InvalidRecord, |s| s.log.append(&b));
    }
}

// ------------------------------------------------------------------------------ varints

#[test]
fn negative_record_length() {
    let s = setup();
    let r = record(&[&[0], &zigzag(0), &zigzag(0), &zigzag(-1), &zigzag(1), b"v", &zigzag(0)], Some(-7));
    assert_rejected(&s, ErrorCode::InvalidRecord, |s| s.log.append(&with_records(&r)));
}

#[test]
fn negative_key_and_value_lengths() {
    let s = setup();
    // −1 means null; anything below is invalid.
    let r = record(&[&[0], &zigzag(0), &zigzag(0), &zigzag(-5), &zigzag(1), b"v", &zigzag(0)], None);
    assert_rejected(&s, ErrorCode::InvalidRecord, |s| s.log.append(&with_records(&r)));
    let r = record(&[&[0], &zigzag(0), &zigzag(0), &zigzag(-1), &zigzag(-2), &zigzag(0)], None);
    assert_rejected(&s, ErrorCode::InvalidRecord, |s| s.log.append(&with_records(&r)));
    // A negative header count.
    let r = record(&[&[0], &zigzag(0), &zigzag(0), &zigzag(-1), &zigzag(-1), &zigzag(-3)], None);
    assert_rejected(&s, ErrorCode::InvalidRecord, |s| s.log.append(&with_records(&r)));
    // The sanity of the helper: the same record with a null key and value is fine.
    let ok = record(&[&[0], &zigzag(0), &zigzag(0), &zigzag(-1), &zigzag(-1), &zigzag(0)], None);
    s.log.append(&with_records(&ok)).unwrap();
}

#[test]
fn overflowing_varints() {
    let s = setup();
    // An offset delta varint of 6 bytes (at most 5 are allowed).
    let long = [0x80u8, 0x80, 0x80, 0x80, 0x80, 0x00];
    let r = record(&[&[0], &zigzag(0), &long, &zigzag(-1), &zigzag(-1), &zigzag(0)], None);
    assert_rejected(&s, ErrorCode::InvalidRecord, |s| s.log.append(&with_records(&r)));
    // A timestamp delta varlong of 11 bytes (at most 10).
    let longer = [0xffu8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    let r = record(&[&[0], &longer, &zigzag(0), &zigzag(-1), &zigzag(-1), &zigzag(0)], None);
    assert_rejected(&s, ErrorCode::InvalidRecord, |s| s.log.append(&with_records(&r)));
    // A 5-byte varint carrying bits beyond 32 (Java drops them silently).
    let wide = [0xffu8, 0xff, 0xff, 0xff, 0x7f];
    let r = record(&[&[0], &zigzag(0), &zigzag(0), &wide, &zigzag(-1), &zigzag(0)], None);
    assert_rejected(&s, ErrorCode::InvalidRecord, |s| s.log.append(&with_records(&r)));
    // A varint cut off by the end of the records.
    assert_rejected(&s, ErrorCode::InvalidRecord, |s| s.log.append(&with_records(&[0x80])));
}

#[test]
fn lengths_past_the_end_of_the_record() {
    let s = setup();
    // A value length of 1000 with 1 byte present.
    let r = record(&[&[0], &zigzag(0), &zigzag(0), &zigzag(-1), &zigzag(1000), b"v", &zigzag(0)], None);
    assert_rejected(&s, ErrorCode::InvalidRecord, |s| s.log.append(&with_records(&r)));
    // A record length past the end of the batch.
    let r = record(&[&[0], &zigzag(0), &zigzag(0), &zigzag(-1), &zigzag(-1), &zigzag(0)], Some(500));
    assert_rejected(&s, ErrorCode::InvalidRecord, |s| s.log.append(&with_records(&r)));
    // Bytes left over after the last record.
    let r = record(&[&[0], &zigzag(0), &zigzag(0), &zigzag(-1), &zigzag(-1), &zigzag(0)], None);
    assert_rejected(&s, ErrorCode::InvalidRecord, |s| s.log.append(&with_records(&[r, vec![0, 0]].concat())));
}

// ------------------------------------------------------------------------------ batch rules

#[test]
fn control_batch_from_a_client() {
    let s = setup();
    let marker = EndTxnMarker { commit: true, coordinator_epoch: 0 }.build_batch(42, 0, common::T0);
    assert_rejected(&s, ErrorCode::InvalidRecord, |s| s.log.append(&marker));
}

#[test]
fn larger_than_max_message_bytes() {
    let s = setup();
    let mut b = RecordBatchBuilder::new();
    b.append(common::T0, None, Some(&[7u8; 2000]), &[]);
    let big = b.build().unwrap();
    assert!(big.len() > 2000);
    assert_rejected(&s, ErrorCode::MessageTooLarge, |s| s.log.append(&big));
    // Exactly at the limit is fine.
    let mut b = RecordBatchBuilder::new();
    b.append(common::T0, None, Some(&vec![7u8; 2000 - (big.len() - 2000)]), &[]);
    let fits = b.build().unwrap();
    assert_eq!(fits.len(), 2000);
    s.log.append(&fits).unwrap();
}

#[test]
fn timestamps_too_far_in_the_future() {
    let s = setup();
    let hour = 3_600_000;
    let b = common::batch_at(common::T0 + hour + 1, "future", 1);
    assert_rejected(&s, ErrorCode::InvalidTimestamp, |s| s.log.append(&b));
    // Exactly message.timestamp.after.max.ms ahead is accepted.
    s.log.append(&common::batch_at(common::T0 + hour, "edge", 1)).unwrap();
}

#[test]
fn timestamps_too_far_in_the_past() {
    let s = setup();
    s.engine.alter_topic_config("t", &[("message.timestamp.before.max.ms", "1000")]).unwrap();
    let mut b = RecordBatchBuilder::new();
    b.append(common::T0, None, Some(b"now"), &[]);
    b.append(common::T0 - 1001, None, Some(b"old"), &[]);
    let b = b.build().unwrap();
    assert_rejected(&s, ErrorCode::InvalidTimestamp, |s| s.log.append(&b));
    s.log.append(&common::batch_at(common::T0 - 1000, "edge", 1)).unwrap();
}

// ------------------------------------------------------------------------------ arguments

const ILLEGAL_NAMES: [&str; 9] = ["../x", "a/b", "", ".", "..", "é", "a b", "x\0y", "..\\x"];

fn long_name() -> String {
    "x".repeat(250)
}

#[test]
fn illegal_topic_names_for_create() {
    let s = setup();
    let long = long_name();
    for name in ILLEGAL_NAMES.iter().copied().chain([long.as_str()]) {
        assert_rejected(&s, ErrorCode::InvalidTopicException, |s| {
            s.engine.create_topic(name, 1, TopicConfig::default())
        });
        assert_rejected(&s, ErrorCode::InvalidTopicException, |s| s.engine.create_topic_with(name, 1, &[]));
    }
    // 249 characters is the limit.
    s.engine.create_topic(&"x".repeat(249), 1, TopicConfig::default()).unwrap();
}

#[test]
fn illegal_topic_names_for_delete() {
    let s = setup();
    let long = long_name();
    for name in ILLEGAL_NAMES.iter().copied().chain([long.as_str()]) {
        assert_rejected(&s, ErrorCode::InvalidTopicException, |s| s.engine.delete_topic(name));
    }
}

/// Looking up a partition of an illegal name answers as Kafka's produce and fetch paths do for
/// any topic they do not have: UNKNOWN_TOPIC_OR_PARTITION (the name never reaches the file
/// system).
#[test]
fn illegal_topic_names_for_partition() {
    let s = setup();
    let long = long_name();
    for name in ILLEGAL_NAMES.iter().copied().chain([long.as_str()]) {
        assert_rejected(&s, ErrorCode::UnknownTopicOrPartition, |s| s.engine.partition(name, 0));
    }
}

#[test]
fn reserved_internal_topic_names() {
    let s = setup();
    for name in ["__transaction_state", "__consumer_offsets"] {
        assert_rejected(&s, ErrorCode::InvalidTopicException, |s| {
            s.engine.create_topic(name, 1, TopicConfig::default())
        });
        assert_rejected(&s, ErrorCode::InvalidTopicException, |s| s.engine.delete_topic(name));
    }
}

#[test]
fn unknown_topic_or_partition() {
    let s = setup();
    assert_rejected(&s, ErrorCode::UnknownTopicOrPartition, |s| s.engine.partition("nope", 0));
    assert_rejected(&s, ErrorCode::UnknownTopicOrPartition, |s| s.engine.partition("t", 1));
    assert_rejected(&s, ErrorCode::UnknownTopicOrPartition, |s| s.engine.partition("t", -1));
    assert_rejected(&s, ErrorCode::UnknownTopicOrPartition, |s| s.engine.partition("t", i32::MAX));
    assert_rejected(&s, ErrorCode::UnknownTopicOrPartition, |s| s.engine.delete_topic("nope"));
    assert_rejected(&s, ErrorCode::UnknownTopicOrPartition, |s| s.engine.alter_topic_config("nope", &[]));
    assert_rejected(&s, ErrorCode::UnknownTopicOrPartition, |s| s.engine.topic("nope"));
    assert_rejected(&s, ErrorCode::UnknownTopicOrPartition, |s| s.engine.partition_count("nope"));
}

#[test]
fn topic_already_exists() {
    let s = setup();
    assert_rejected(&s, ErrorCode::TopicAlreadyExists, |s| {
        s.engine.create_topic("t", 3, TopicConfig::default())
    });
}

#[test]
fn read_offset_out_of_range() {
    let s = setup();
    for isolation in [IsolationLevel::LogEnd, IsolationLevel::ReadUncommitted, IsolationLevel::ReadCommitted]
    {
        for offset in [-1, i64::MIN, i64::MAX] {
            assert_rejected(&s, ErrorCode::OffsetOutOfRange, |s| s.log.read(offset, 1000, isolation));
        }
        // (Each check appends a batch afterwards: the log end moves.)
        assert_rejected(&s, ErrorCode::OffsetOutOfRange, |s| {
            s.log.read(s.log.log_end_offset() + 1, 1000, isolation)
        });
    }
    // The log end itself is in range and empty.
    let leo = s.log.log_end_offset();
    let data = s.log.read(leo, 1000, IsolationLevel::ReadUncommitted).unwrap();
    assert!(data.records.is_empty());
    assert_eq!(data.high_watermark, leo);
}

#[test]
fn read_below_the_log_start() {
    let s = setup();
    s.log.delete_records(2).unwrap();
    assert_rejected(&s, ErrorCode::OffsetOutOfRange, |s| {
        s.log.read(1, 1000, IsolationLevel::ReadUncommitted)
    });
}

#[test]
fn zero_max_bytes() {
    let s = setup();
    assert_rejected(&s, ErrorCode::InvalidFetchSize, |s| s.log.read(0, 0, IsolationLevel::ReadUncommitted));
}

#[test]
fn negative_and_zero_partition_counts() {
    let s = setup();
    for n in [0, -1, i32::MIN] {
        assert_rejected(&s, ErrorCode::InvalidPartitions, |s| {
            s.engine.create_topic("new", n, TopicConfig::default())
        });
    }
}

#[test]
fn invalid_topic_config_values() {
    let s = setup();
    let bad: [(&str, &str); 7] = [
        ("segment.bytes", "12"),
        ("segment.bytes", "lots"),
        ("retention.ms", "-2"),
        ("message.timestamp.type", "Sometime"),
        ("cleanup.policy", "compact"),
        ("no.such.key", "1"),
        ("max.message.bytes", "-1"),
    ];
    for (k, v) in bad {
        assert_rejected(&s, ErrorCode::InvalidConfig, |s| s.engine.create_topic_with("new", 1, &[(k, v)]));
        assert_rejected(&s, ErrorCode::InvalidConfig, |s| {
            s.engine.alter_topic_config("t", &[("retention.ms", "5"), (k, v)])
        });
    }
    // A rejected alter changes nothing, not even the valid keys before the bad one.
    assert_eq!(s.engine.topic("t").unwrap().config.retention_ms, common::small_topic().retention_ms);
    assert!(s.engine.topic("new").is_err());
}

#[test]
fn negative_truncation_offsets() {
    let s = setup();
    assert_rejected(&s, ErrorCode::InvalidRequest, |s| s.log.truncate_to(-1));
    assert_rejected(&s, ErrorCode::InvalidRequest, |s| s.log.truncate_fully_and_start_at(-5));
    assert_rejected(&s, ErrorCode::OffsetOutOfRange, |s| s.log.delete_records(-1));
    let past = s.log.high_watermark() + 1;
    assert_rejected(&s, ErrorCode::OffsetOutOfRange, |s| s.log.delete_records(past));
    assert_rejected(&s, ErrorCode::InvalidRequest, |s| s.log.set_leader_epoch(-1));
}

#[test]
fn follower_batch_below_the_log_end() {
    let s = setup();
    let leo = s.log.log_end_offset();
    let b = common::follower_batch(leo - 1, 0, common::T0, "old", 1);
    assert_rejected(&s, ErrorCode::InvalidRequest, |s| s.log.append_as_follower(&b));
}
