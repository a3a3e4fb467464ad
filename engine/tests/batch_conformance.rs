//! Conformance of `eoslog::batch` with independent implementations:
//!
//! - the Kafka-format partition directories in `tests/fixtures/kafka-dirs/` (written by
//!   krabka-log), checked batch by batch and record by record against their manifests;
//! - the `kafka-protocol` crate's `RecordBatchDecoder` / `RecordBatchEncoder`, in both
//!   directions, for every codec.

use std::fs;
use std::path::{Path, PathBuf};

use eoslog::TimestampType;
use eoslog::batch::{Compression, EndTxnMarker, RecordBatch, RecordBatchBuilder, batches, set_base_offset};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression as KCompression, Record as KRecord, RecordBatchDecoder, RecordBatchEncoder,
    RecordEncodeOptions, TimestampType as KTimestampType,
};
use proptest::prelude::*;
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Fixtures

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/kafka-dirs")
}

fn int(v: &Value, field: &str) -> i64 {
    v[field].as_i64().unwrap_or_else(|| panic!("manifest field {field} is not an integer: {}", v[field]))
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex string {s}");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

/// Decodes a manifest byte string: null, or a string in `utf8` or `hex` encoding.
fn manifest_bytes(value: &Value, encoding: &Value) -> Option<Vec<u8>> {
    match (value, encoding.as_str()) {
        (Value::Null, _) => None,
        (Value::String(s), Some("utf8")) => Some(s.as_bytes().to_vec()),
        (Value::String(s), Some("hex")) => Some(hex(s)),
        other => panic!("unexpected manifest bytes {other:?}"),
    }
}

fn check_header(batch: &RecordBatch<'_>, m: &Value, what: &str) {
    assert_eq!(batch.base_offset(), int(m, "base_offset"), "{what}");
    assert_eq!(batch.last_offset(), int(m, "last_offset"), "{what}");
    assert_eq!(i64::from(batch.last_offset_delta()), int(m, "last_offset_delta"), "{what}");
    assert_eq!(i64::from(batch.partition_leader_epoch()), int(m, "partition_leader_epoch"), "{what}");
    assert_eq!(i64::from(batch.magic()), int(m, "magic"), "{what}");
    assert_eq!(i64::from(batch.attributes().0), int(m, "attributes"), "{what}");
    assert_eq!(batch.producer_id(), int(m, "producer_id"), "{what}");
    assert_eq!(i64::from(batch.producer_epoch()), int(m, "producer_epoch"), "{what}");
    assert_eq!(i64::from(batch.base_sequence()), int(m, "base_sequence"), "{what}");
    assert_eq!(i64::from(batch.last_sequence()), int(m, "last_sequence"), "{what}");
    assert_eq!(Value::Bool(batch.is_transactional()), m["is_transactional"], "{what}");
    assert_eq!(Value::Bool(batch.is_control()), m["is_control"], "{what}");
    assert_eq!(batch.compression().unwrap().name(), m["compression"].as_str().unwrap(), "{what}");
    assert_eq!(batch.timestamp_type().as_str(), m["timestamp_type"].as_str().unwrap(), "{what}");
    assert_eq!(batch.base_timestamp(), int(m, "base_timestamp"), "{what}");
    assert_eq!(batch.max_timestamp(), int(m, "max_timestamp"), "{what}");
    assert_eq!(i64::from(batch.records_count()), int(m, "record_count"), "{what}");

    match batch.end_txn_marker().unwrap() {
        Some(marker) => {
            let control = batch.control_record().unwrap().unwrap();
            assert_eq!(control.control_type.name(), m["control_type"].as_str().unwrap(), "{what}");
            assert_eq!(control.version, 0, "{what}");
            assert_eq!(if marker.commit { "COMMIT" } else { "ABORT" }, m["control_type"].as_str().unwrap());
            assert_eq!(i64::from(marker.coordinator_epoch), int(m, "coordinator_epoch"), "{what}");
        }
        None => {
            assert!(m["control_type"].is_null(), "{what}");
            assert!(m["coordinator_epoch"].is_null(), "{what}");
        }
    }
}

fn check_records(batch: &RecordBatch<'_>, m: &Value, what: &str) -> usize {
    let expected = m["records"].as_array().unwrap();
    let records = batch.records().unwrap();
    assert_eq!(records.len(), expected.len(), "{what}");
    let mut n = 0;
    for (record, want) in records.iter().zip(expected) {
        let record = record.unwrap_or_else(|e| panic!("{what}: {e}"));
        let what = format!("{what} offset {}", record.offset);
        assert_eq!(record.offset, int(want, "offset"), "{what}");
        assert_eq!(record.timestamp, int(want, "timestamp"), "{what}");
        assert_eq!(record.timestamp_delta, int(want, "timestamp_delta"), "{what}");
        assert_eq!(
            record.key.map(<[u8]>::to_vec),
            manifest_bytes(&want["key"], &want["key_encoding"]),
            "{what}"
        );
        assert_eq!(
            record.value.map(<[u8]>::to_vec),
            manifest_bytes(&want["value"], &want["value_encoding"]),
            "{what}"
        );
        let want_headers: Vec<(String, Option<Vec<u8>>)> = want["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (h["key"].as_str().unwrap().to_owned(), manifest_bytes(&h["value"], &h["value_encoding"]))
            })
            .collect();
        assert_eq!(record.to_owned_record().headers, want_headers, "{what}");
        n += 1;
    }
    assert_eq!(n, expected.len(), "{what}");
    n
}

/// Reads every `.log` of a fixture with `batches()`, validates each batch, and compares it with
/// the manifest. Returns (batches, records) seen.
fn check_fixture(name: &str) -> (usize, usize) {
    let root = fixtures_dir();
    let manifest: Value =
        serde_json::from_str(&fs::read_to_string(root.join(format!("{name}.manifest.json"))).unwrap())
            .unwrap();
    let expected = manifest["batches"].as_array().unwrap();
    let mut logs: Vec<PathBuf> = fs::read_dir(root.join(name))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    assert!(!logs.is_empty(), "{name}: no .log files");

    let (mut seen, mut records) = (0usize, 0usize);
    for log in &logs {
        let segment_base: i64 = log.file_stem().unwrap().to_str().unwrap().parse().unwrap();
        let bytes = fs::read(log).unwrap();
        let mut position = 0usize;
        let mut it = batches(&bytes);
        for batch in &mut it {
            let what =
                format!("{name}/{} batch {seen} at {position}", log.file_name().unwrap().to_string_lossy());
            let batch = batch.unwrap_or_else(|e| panic!("{what}: {e}"));
            batch.validate().unwrap_or_else(|e| panic!("{what}: {e}"));
            let m = expected.get(seen).unwrap_or_else(|| panic!("{what}: not in the manifest"));
            assert_eq!(int(m, "segment_base_offset"), segment_base, "{what}");
            assert_eq!(int(m, "position") as usize, position, "{what}");
            assert_eq!(int(m, "size_bytes") as usize, batch.size(), "{what}");
            check_header(&batch, m, &what);
            records += check_records(&batch, m, &what);
            position += batch.size();
            seen += 1;
        }
        assert_eq!(it.position(), bytes.len(), "{name}: trailing bytes");
    }
    assert_eq!(seen, expected.len(), "{name}: batch count");
    assert_eq!(seen as i64, int(&manifest, "batch_count"), "{name}");
    assert_eq!(records as i64, int(&manifest, "record_count"), "{name}");
    (seen, records)
}

#[test]
fn fixture_idempotent() {
    assert_eq!(check_fixture("idempotent-0"), (120, 360));
}

#[test]
fn fixture_transactions() {
    assert_eq!(check_fixture("transactions-0"), (65, 153));
}

#[test]
fn fixture_compressed() {
    assert_eq!(check_fixture("compressed-0"), (8, 59));
    // Every codec and the LogAppendTime batch are really there.
    let bytes = fs::read(fixtures_dir().join("compressed-0/00000000000000000000.log")).unwrap();
    let kinds: Vec<(Compression, TimestampType)> = batches(&bytes)
        .map(|b| {
            let b = b.unwrap();
            (b.compression().unwrap(), b.timestamp_type())
        })
        .collect();
    for codec in Compression::ALL {
        assert!(kinds.iter().any(|(c, _)| *c == codec), "{codec} missing");
    }
    assert_eq!(kinds.last(), Some(&(Compression::Gzip, TimestampType::LogAppendTime)));
}

#[test]
fn fixture_epochs() {
    assert_eq!(check_fixture("epochs-0"), (11, 31));
}

// ---------------------------------------------------------------------------------------------
// kafka-protocol

fn kafka_codec(c: Compression) -> KCompression {
    match c {
        Compression::None => KCompression::None,
        Compression::Gzip => KCompression::Gzip,
        Compression::Snappy => KCompression::Snappy,
        Compression::Lz4 => KCompression::Lz4,
        Compression::Zstd => KCompression::Zstd,
    }
}

type Headers = Vec<(String, Option<Vec<u8>>)>;

#[derive(Debug, Clone)]
struct Input {
    ts: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Headers,
}

fn sample_inputs() -> Vec<Input> {
    let h = |k: &str, v: Option<&[u8]>| (k.to_owned(), v.map(<[u8]>::to_vec));
    vec![
        Input {
            ts: 1_767_225_600_000,
            key: Some(b"k0".to_vec()),
            value: Some(b"v0".to_vec()),
            headers: vec![],
        },
        Input {
            ts: 1_767_225_600_020,
            key: None,
            value: Some(vec![]),
            headers: vec![h("a", None), h("b", Some(b""))],
        },
        Input {
            ts: 1_767_225_599_000,
            key: Some(vec![0, 0xff]),
            value: None,
            headers: vec![h("schlüssel", Some(&[0xde, 0xad])), h("trace-id", Some(b"t-1"))],
        },
        Input {
            ts: 1_767_225_600_007,
            key: Some("ключ".as_bytes().to_vec()),
            value: Some(vec![7; 3000]),
            headers: vec![],
        },
    ]
}

fn build_ours(builder: RecordBatchBuilder, inputs: &[Input]) -> Vec<u8> {
    let mut builder = builder;
    for r in inputs {
        let headers: Vec<(&str, Option<&[u8]>)> =
            r.headers.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
        builder.append(r.ts, r.key.as_deref(), r.value.as_deref(), &headers);
    }
    builder.build().unwrap()
}

/// Headers as kafka-protocol keeps them (an IndexMap: a repeated key keeps its first position
/// and its last value).
fn as_index_map(headers: &Headers) -> Vec<(String, Option<Vec<u8>>)> {
    let mut map: IndexMap<String, Option<Vec<u8>>> = IndexMap::new();
    for (k, v) in headers {
        map.insert(k.clone(), v.clone());
    }
    map.into_iter().collect()
}

fn their_headers(r: &KRecord) -> Vec<(String, Option<Vec<u8>>)> {
    r.headers.iter().map(|(k, v)| (k.as_str().to_owned(), v.as_deref().map(<[u8]>::to_vec))).collect()
}

/// Builds with our builder, decodes with kafka-protocol, compares every field.
fn ours_decode_with_kafka_protocol(
    inputs: &[Input],
    codec: Compression,
    (pid, epoch, seq, txn): (i64, i16, i32, bool),
) -> Result<(), TestCaseError> {
    let builder = RecordBatchBuilder::new()
        .compression(codec)
        .producer(pid, epoch, seq)
        .transactional(txn)
        .base_offset(100)
        .partition_leader_epoch(3);
    let bytes = build_ours(builder, inputs);
    let mut slice: &[u8] = &bytes;
    let set =
        RecordBatchDecoder::decode(&mut slice).map_err(|e| TestCaseError::fail(format!("{codec}: {e:#}")))?;
    prop_assert!(slice.is_empty());
    prop_assert_eq!(set.version, 2);
    prop_assert_eq!(set.compression, kafka_codec(codec));
    prop_assert_eq!(set.records.len(), inputs.len());
    for (i, (theirs, input)) in set.records.iter().zip(inputs).enumerate() {
        prop_assert_eq!(theirs.offset, 100 + i as i64);
        prop_assert_eq!(theirs.timestamp, input.ts);
        prop_assert_eq!(theirs.timestamp_type, KTimestampType::Creation);
        prop_assert_eq!(theirs.key.as_deref(), input.key.as_deref());
        prop_assert_eq!(theirs.value.as_deref(), input.value.as_deref());
        prop_assert_eq!(their_headers(theirs), as_index_map(&input.headers));
        prop_assert_eq!((theirs.producer_id, theirs.producer_epoch), (pid, epoch));
        // kafka-protocol derives each record's sequence as baseSequence + offsetDelta, even
        // for batches without sequences (−1, 0, 1, ...).
        prop_assert_eq!(theirs.sequence, seq.wrapping_add(i as i32));
        prop_assert_eq!((theirs.transactional, theirs.control), (txn, false));
        prop_assert_eq!(theirs.partition_leader_epoch, 3);
    }
    Ok(())
}

#[test]
fn our_batches_decode_with_kafka_protocol() {
    for codec in Compression::ALL {
        ours_decode_with_kafka_protocol(&sample_inputs(), codec, (7, 2, 40, true)).unwrap();
        ours_decode_with_kafka_protocol(&sample_inputs(), codec, (-1, -1, -1, false)).unwrap();
    }
}

#[test]
fn our_markers_and_logs_decode_with_kafka_protocol() {
    let mut log = Vec::new();
    for (i, codec) in Compression::ALL.into_iter().enumerate() {
        let mut b = build_ours(
            RecordBatchBuilder::new().compression(codec).producer(7, 0, 4 * i as i32),
            &sample_inputs(),
        );
        set_base_offset(&mut b, 4 * i as i64);
        log.extend_from_slice(&b);
    }
    let mut marker =
        EndTxnMarker { commit: false, coordinator_epoch: 11 }.build_batch(7, 0, 1_767_225_601_000);
    set_base_offset(&mut marker, 20);
    log.extend_from_slice(&marker);

    let mut slice: &[u8] = &log;
    let sets = RecordBatchDecoder::decode_all(&mut slice).unwrap();
    assert_eq!(sets.len(), 6);
    let offsets: Vec<i64> = sets.iter().flat_map(|s| s.records.iter().map(|r| r.offset)).collect();
    assert_eq!(offsets, (0..21).collect::<Vec<_>>());
    let control = &sets[5].records[0];
    assert!(control.control && control.transactional);
    assert_eq!((control.producer_id, control.producer_epoch, control.sequence), (7, 0, -1));
    assert_eq!(control.key.as_deref(), Some(&[0, 0, 0, 0][..]));
    assert_eq!(control.value.as_deref(), Some(&[0, 0, 0, 0, 0, 11][..]));
    assert_eq!(control.timestamp, 1_767_225_601_000);
}

fn their_records(inputs: &[Input], pid: i64, epoch: i16, base_seq: i32, txn: bool) -> Vec<KRecord> {
    inputs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut headers = IndexMap::new();
            for (k, v) in &r.headers {
                headers.insert(StrBytes::from_string(k.clone()), v.clone().map(Into::into));
            }
            KRecord {
                transactional: txn,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 9,
                producer_id: pid,
                producer_epoch: epoch,
                timestamp_type: KTimestampType::Creation,
                offset: 500 + i as i64,
                sequence: base_seq.wrapping_add(i as i32),
                timestamp: r.ts,
                key: r.key.clone().map(Into::into),
                value: r.value.clone().map(Into::into),
                headers,
            }
        })
        .collect()
}

#[test]
fn kafka_protocol_batches_parse_and_validate_with_ours() {
    for codec in Compression::ALL {
        for (pid, epoch, seq, txn) in [(5, 1, 10, true), (5, 1, 0, false), (-1, -1, -1, false)] {
            let inputs = sample_inputs();
            let records = their_records(&inputs, pid, epoch, seq, txn);
            let mut bytes = Vec::new();
            RecordBatchEncoder::encode(
                &mut bytes,
                records.iter(),
                &RecordEncodeOptions { version: 2, compression: kafka_codec(codec) },
            )
            .unwrap();
            let mut it = batches(&bytes);
            let batch = it.next().unwrap().unwrap();
            assert!(it.next().is_none(), "one batch");
            batch.validate().unwrap_or_else(|e| panic!("{codec}: {e}"));
            assert_eq!(batch.compression().unwrap(), codec);
            assert_eq!((batch.base_offset(), batch.last_offset(), batch.records_count()), (500, 503, 4));
            assert_eq!(batch.partition_leader_epoch(), 9);
            assert_eq!(
                (batch.producer_id(), batch.producer_epoch(), batch.base_sequence()),
                (pid, epoch, seq)
            );
            assert_eq!(batch.is_transactional(), txn);
            assert_eq!(batch.max_timestamp(), inputs.iter().map(|r| r.ts).max().unwrap());
            let ours = batch.records().unwrap();
            for (i, (record, input)) in ours.iter().zip(&inputs).enumerate() {
                let record = record.unwrap().to_owned_record();
                assert_eq!(record.offset, 500 + i as i64);
                assert_eq!(record.timestamp, input.ts);
                assert_eq!(record.key, input.key);
                assert_eq!(record.value, input.value);
                assert_eq!(record.headers, as_index_map(&input.headers));
            }
            assert_eq!(ours.iter().count(), 4);
        }
    }
}

fn input() -> impl Strategy<Value = Input> {
    let bytes = |max| prop::collection::vec(any::<u8>(), 0..max);
    (
        -(1i64 << 50)..(1i64 << 50),
        prop::option::of(bytes(32)),
        prop::option::of(bytes(256)),
        prop::collection::vec(("[a-z]{1,3}|.{0,8}", prop::option::of(bytes(16))), 0..4),
    )
        .prop_map(|(ts, key, value, headers)| Input { ts, key, value, headers })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_batches_agree_with_kafka_protocol(
        inputs in prop::collection::vec(input(), 1..16),
        codec in prop::sample::select(Compression::ALL.to_vec()),
        producer in prop_oneof![
            Just((-1i64, -1i16, -1i32, false)),
            (0..=i64::MAX, 0..=i16::MAX, 0..=i32::MAX, any::<bool>()),
        ],
    ) {
        ours_decode_with_kafka_protocol(&inputs, codec, producer)?;
    }
}
