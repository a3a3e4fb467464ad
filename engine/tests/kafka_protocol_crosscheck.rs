//! An independent decoder agrees: every kind of batch eoslog writes (plain, idempotent,
//! transactional, markers, every codec, LogAppendTime topics) decodes with the `kafka-protocol`
//! crate after a round trip through the engine (append, read back; and again after a reopen),
//! with the offsets and leader epoch the engine assigned.

mod common;

use eoslog::batch::RecordBatch;
use eoslog::{AppendOptions, Compression, IsolationLevel, PartitionLog, RecordBatchBuilder};
use kafka_protocol::records::{
    Compression as KCompression, Record as KRecord, RecordBatchDecoder, TimestampType as KTimestampType,
};

type Headers = Vec<(String, Option<Vec<u8>>)>;

/// What one appended record must decode as.
#[derive(Debug, Clone)]
struct Expected {
    offset: i64,
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Headers,
    producer: (i64, i16, i32),
    transactional: bool,
    control: bool,
    codec: Compression,
    /// First offset of the record's batch.
    batch_first: i64,
}

fn kcodec(c: Compression) -> KCompression {
    match c {
        Compression::None => KCompression::None,
        Compression::Gzip => KCompression::Gzip,
        Compression::Snappy => KCompression::Snappy,
        Compression::Lz4 => KCompression::Lz4,
        Compression::Zstd => KCompression::Zstd,
    }
}

/// Builds a batch of `n` records (keys, values, a header on odd records) and the expectations
/// for it, given the offset it will get.
fn build(
    codec: Compression,
    producer: (i64, i16, i32),
    transactional: bool,
    n: usize,
    ts: i64,
    tag: &str,
) -> (Vec<u8>, Vec<Expected>) {
    let mut b = RecordBatchBuilder::new()
        .compression(codec)
        .producer(producer.0, producer.1, producer.2)
        .transactional(transactional);
    let mut exp = Vec::new();
    for i in 0..n {
        let key = (i % 3 != 0).then(|| format!("{tag}-key-{i}").into_bytes());
        let value = (i != 1).then(|| format!("{tag}-value-{i}-{}", "v".repeat(i * 7)).into_bytes());
        let headers: Headers = if i % 2 == 1 {
            vec![("h".to_string(), Some(vec![i as u8, 0xff])), ("null".to_string(), None)]
        } else {
            vec![]
        };
        let h: Vec<(&str, Option<&[u8]>)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
        b.append(ts + i as i64 * 3, key.as_deref(), value.as_deref(), &h);
        exp.push(Expected {
            offset: i as i64,
            timestamp: ts + i as i64 * 3,
            key,
            value,
            headers,
            producer,
            transactional,
            control: false,
            codec,
            batch_first: 0,
        });
    }
    (b.build().unwrap(), exp)
}

fn append(
    log: &std::sync::Arc<PartitionLog>,
    bytes: &[u8],
    mut exp: Vec<Expected>,
    opts: &AppendOptions,
) -> Vec<Expected> {
    let info = log.append_with(bytes, opts).unwrap();
    for e in &mut exp {
        e.offset += info.first_offset;
        e.batch_first = info.first_offset;
    }
    exp
}

fn their_headers(r: &KRecord) -> Headers {
    r.headers.iter().map(|(k, v)| (k.as_str().to_owned(), v.as_deref().map(<[u8]>::to_vec))).collect()
}

/// Decodes the whole partition with kafka-protocol and compares every record.
fn check(log: &PartitionLog, expected: &[Expected], leader_epoch: i32) {
    let bytes: Vec<u8> = common::read_batches(log, 0).concat();
    let mut buf: &[u8] = &bytes;
    let sets = RecordBatchDecoder::decode_all(&mut buf).unwrap();
    assert!(buf.is_empty());
    let theirs: Vec<(KCompression, &KRecord)> =
        sets.iter().flat_map(|s| s.records.iter().map(move |r| (s.compression, r))).collect();
    assert_eq!(theirs.len(), expected.len());
    for ((codec, r), e) in theirs.iter().zip(expected) {
        let what = format!("offset {}", e.offset);
        assert_eq!(r.offset, e.offset, "{what}");
        assert_eq!(*codec, kcodec(e.codec), "{what}");
        assert_eq!(r.partition_leader_epoch, leader_epoch, "{what}");
        assert_eq!((r.producer_id, r.producer_epoch), (e.producer.0, e.producer.1), "{what}");
        if !e.control {
            // kafka-protocol derives each record's sequence as baseSequence + offsetDelta.
            assert_eq!(r.sequence, e.producer.2.wrapping_add((e.offset - e.batch_first) as i32), "{what}");
        }
        assert_eq!(
            (r.transactional, r.control, r.delete_horizon),
            (e.transactional, e.control, false),
            "{what}"
        );
        assert_eq!(r.timestamp_type, KTimestampType::Creation, "{what}");
        assert_eq!(r.timestamp, e.timestamp, "{what}");
        assert_eq!(r.key.as_deref(), e.key.as_deref(), "{what}");
        assert_eq!(r.value.as_deref(), e.value.as_deref(), "{what}");
        assert_eq!(their_headers(r), e.headers, "{what}");
    }
}

fn marker(
    log: &std::sync::Arc<PartitionLog>,
    pid: i64,
    epoch: i16,
    commit: bool,
    coordinator_epoch: i32,
) -> Expected {
    let info = log.append_marker(pid, epoch, coordinator_epoch, commit, 1).unwrap();
    let data = log.read(info.first_offset, 1, IsolationLevel::LogEnd).unwrap();
    let ts = data.records.batches().next().unwrap().unwrap().max_timestamp();
    let mut value = vec![0, 0];
    value.extend_from_slice(&coordinator_epoch.to_be_bytes());
    Expected {
        offset: info.first_offset,
        timestamp: ts,
        key: Some(vec![0, 0, 0, u8::from(commit)]),
        value: Some(value),
        headers: vec![],
        producer: (pid, epoch, -1),
        transactional: true,
        control: true,
        codec: Compression::None,
        batch_first: info.first_offset,
    }
}

#[test]
fn every_kind_of_batch_decodes_with_kafka_protocol() {
    let tmp = tempfile::tempdir().unwrap();
    let (engine, _clock) = common::open_with_clock(tmp.path());
    engine.create_topic("t", 1, common::small_topic()).unwrap();
    let log = engine.partition("t", 0).unwrap();
    log.set_leader_epoch(4).unwrap();
    let plain = AppendOptions::default();
    let mut expected = Vec::new();
    let mut seq = 0;
    for (i, codec) in Compression::ALL.into_iter().enumerate() {
        let ts = common::T0 + 1000 * i as i64;
        let (b, e) = build(codec, (-1, -1, -1), false, 4, ts, &format!("plain-{codec}"));
        expected.extend(append(&log, &b, e, &plain));
        let (b, e) = build(codec, (7, 2, seq), false, 5, ts, &format!("idem-{codec}"));
        expected.extend(append(&log, &b, e, &plain));
        seq += 5;
    }
    // Transactions: committed and aborted, every codec, each closed by a marker.
    let mut tseq = 0;
    for (i, codec) in Compression::ALL.into_iter().enumerate() {
        // The first write of each transaction carries its KIP-890 verification guard.
        let opts = if i % 2 == 0 {
            AppendOptions {
                verification_guard: Some(log.create_verification_guard(8, tseq, 1)),
                ..Default::default()
            }
        } else {
            plain.clone()
        };
        let (b, e) = build(codec, (8, 1, tseq), true, 3, common::T0 + 10_000, &format!("txn-{codec}"));
        expected.extend(append(&log, &b, e, &opts));
        tseq += 3;
        if i % 2 == 1 {
            expected.push(marker(&log, 8, 1, i % 4 == 1, 5));
        }
    }
    expected.push(marker(&log, 8, 1, false, 5));
    assert_eq!(log.log_end_offset(), expected.len() as i64);
    check(&log, &expected, 4);

    // The same bytes after a clean reopen, and after a crash (full recovery scan).
    let image = tempfile::tempdir().unwrap();
    common::copy_tree(tmp.path(), image.path());
    drop(log);
    engine.close().unwrap();
    drop(engine);
    for dir in [tmp.path(), image.path()] {
        let engine = common::open(dir);
        let log = engine.partition("t", 0).unwrap();
        check(&log, &expected, 4);
    }
}

#[test]
fn log_append_time_batches_decode_with_kafka_protocol() {
    let tmp = tempfile::tempdir().unwrap();
    let (engine, clock) = common::open_with_clock(tmp.path());
    let mut config = common::small_topic();
    config.set("message.timestamp.type", "LogAppendTime").unwrap();
    engine.create_topic("t", 1, config).unwrap();
    let log = engine.partition("t", 0).unwrap();
    log.set_leader_epoch(2).unwrap();
    for (i, codec) in Compression::ALL.into_iter().enumerate() {
        clock.set(common::T0 + 60_000 * i as i64);
        let (b, e) = build(codec, (9, 0, 4 * i as i32), false, 4, 1_000 + i as i64, "lat");
        let info = log.append(&b).unwrap();
        assert_eq!(info.log_append_time, common::T0 + 60_000 * i as i64);
        let data = log.read(info.first_offset, 1, IsolationLevel::LogEnd).unwrap();
        let stored = data.records.bytes().to_vec();
        assert_eq!(RecordBatch::parse(&stored).unwrap().max_timestamp(), info.log_append_time);
        let mut buf: &[u8] = &stored;
        let set = RecordBatchDecoder::decode(&mut buf).unwrap();
        assert_eq!(set.compression, kcodec(codec));
        assert_eq!(set.records.len(), 4);
        for (r, e) in set.records.iter().zip(&e) {
            assert_eq!(r.offset, info.first_offset + e.offset);
            assert_eq!(r.timestamp_type, KTimestampType::LogAppend);
            assert_eq!(r.partition_leader_epoch, 2);
            // kafka-protocol reports the stored per-record timestamp (base + delta), which the
            // broker leaves as the producer sent it; the log-append time is the batch's max.
            assert_eq!(r.timestamp, e.timestamp);
            assert_eq!((r.key.as_deref(), r.value.as_deref()), (e.key.as_deref(), e.value.as_deref()));
            assert_eq!((r.producer_id, r.producer_epoch, r.sequence), (9, 0, e.producer.2 + e.offset as i32));
        }
    }
}
