//! Hostile and malformed input: every check of `parse`, `frame` and `validate`, with the Kafka
//! error code each maps to.

use super::*;
use crate::error::ErrorCode;

fn assert_invalid(bytes: &[u8], needle: &str) {
    let err = RecordBatch::parse(bytes).expect("frames").validate().expect_err("must be rejected");
    assert_eq!(err.code(), ErrorCode::InvalidRecord, "{err}");
    assert!(
        matches!(&err, BatchError::InvalidRecord(m) if m.contains(needle)),
        "expected {needle:?}, got {err}"
    );
}

fn body_of(records: &[RawRec<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for r in records {
        r.encode(&mut body);
    }
    body
}

fn plain_with(records: &[RawRec<'_>], count: i32) -> Vec<u8> {
    with_body(&plain_batch(), &body_of(records), count)
}

#[test]
fn short_buffers_are_corrupt() {
    let b = plain_batch();
    for n in 0..HEADER_SIZE {
        let err = RecordBatch::parse(&b[..n]).unwrap_err();
        assert!(matches!(err, BatchError::Corrupt(_)), "{n}: {err}");
        assert_eq!(err.code(), ErrorCode::CorruptMessage);
    }
}

#[test]
fn every_truncation_of_a_valid_batch_is_rejected() {
    for codec in Compression::ALL {
        let b = build_with(RecordBatchBuilder::new().compression(codec), &sample_records());
        for n in 0..b.len() {
            let cut = &b[..n];
            let err = RecordBatch::parse(cut).unwrap_err();
            assert_eq!(err.code(), ErrorCode::CorruptMessage, "{codec} at {n}: {err}");
            let needed = if n < FRAME_PREFIX_SIZE { FRAME_PREFIX_SIZE } else { b.len() };
            assert_eq!(frame(cut), Frame::Incomplete { needed }, "{codec} at {n}");
            assert!(matches!(RecordBatch::parse_prefix(cut), Err(BatchError::Corrupt(_))));
            let mut it = batches(cut);
            if n > 0 {
                assert!(matches!(it.next(), Some(Err(BatchError::Corrupt(_)))), "{codec} at {n}");
                assert_eq!(it.position(), 0);
            }
            assert!(it.next().is_none());
        }
    }
}

#[test]
fn wrong_batch_length_is_corrupt() {
    let b = plain_batch();
    let len = (b.len() - LOG_OVERHEAD) as i32;
    for wrong in [len - 1, len + 1, 0, -1, i32::MIN, i32::MAX] {
        let mut t = b.clone();
        poke(&mut t, LENGTH, &wrong.to_be_bytes());
        let err = RecordBatch::parse(&t).unwrap_err();
        assert!(matches!(err, BatchError::Corrupt(_)), "{wrong}: {err}");
        assert_eq!(err.code(), ErrorCode::CorruptMessage);
    }
    // Framing: too small, too large, and plausible-but-longer-than-the-buffer.
    for (wrong, want_invalid) in [(48, true), (-5, true), (i32::MAX - 11, true), (i32::MAX - 12, false)] {
        let mut t = b.clone();
        poke(&mut t, LENGTH, &wrong.to_be_bytes());
        match frame(&t) {
            Frame::Invalid(BatchError::Corrupt(_)) => assert!(want_invalid, "{wrong}"),
            Frame::Incomplete { needed } => {
                assert!(!want_invalid, "{wrong}");
                assert_eq!(needed, i32::MAX as usize);
            }
            other => panic!("{wrong}: {other:?}"),
        }
    }
    let mut t = b.clone();
    poke(&mut t, LENGTH, &49i32.to_be_bytes());
    assert_eq!(frame(&t), Frame::Complete(HEADER_SIZE), "the minimum is a bare header");
}

#[test]
fn magic_0_and_1_are_unsupported() {
    for magic in [0u8, 1, 3, 0xff] {
        let mut t = plain_batch();
        t[MAGIC] = magic;
        let err = RecordBatch::parse(&t).unwrap_err();
        assert_eq!(err, BatchError::UnsupportedMagic(magic as i8));
        assert_eq!(err.code(), ErrorCode::UnsupportedForMessageFormat);
        assert_eq!(frame(&t), Frame::Invalid(BatchError::UnsupportedMagic(magic as i8)));
        assert!(matches!(batches(&t).next(), Some(Err(BatchError::UnsupportedMagic(_)))));
    }
}

#[test]
fn bad_crc_is_a_crc_mismatch() {
    let mut t = plain_batch();
    let stored = RecordBatch::parse(&t).unwrap().crc();
    poke(&mut t, CRC, &(stored ^ 1).to_be_bytes());
    let err = RecordBatch::parse(&t).unwrap().validate().unwrap_err();
    assert_eq!(err, BatchError::CrcMismatch { stored: stored ^ 1, computed: stored });
    assert_eq!(err.code(), ErrorCode::CorruptMessage);
    // A flipped payload byte, CRC untouched.
    let mut t = plain_batch();
    let last = t.len() - 1;
    t[last] ^= 0x40;
    let batch = RecordBatch::parse(&t).unwrap();
    assert!(!batch.is_crc_valid());
    assert!(matches!(batch.validate(), Err(BatchError::CrcMismatch { .. })));
}

#[test]
fn record_count_must_be_positive_and_match() {
    // Header says 3 records (and lastOffsetDelta 2) but only 2 are present.
    let t = plain_with(&[RawRec::new(0, b"a"), RawRec::new(1, b"b")], 3);
    assert_invalid(&t, "record 2");
    // Header says 1 record but 2 are present: leftover bytes.
    let t = plain_with(&[RawRec::new(0, b"a"), RawRec::new(1, b"b")], 1);
    assert_invalid(&t, "left over");
    for count in [0, -1, i32::MIN] {
        let mut t = plain_batch();
        poke(&mut t, RECORDS_COUNT, &count.to_be_bytes());
        reseal(&mut t);
        assert_invalid(&t, "at least one");
    }
}

#[test]
fn last_offset_delta_must_match_the_count() {
    for lod in [1, -1, i32::MAX, i32::MIN] {
        let mut t = plain_batch();
        poke(&mut t, LAST_OFFSET_DELTA, &lod.to_be_bytes());
        reseal(&mut t);
        assert_invalid(&t, "lastOffsetDelta");
    }
}

#[test]
fn negative_record_length() {
    let t = plain_with(&[RawRec { len_override: Some(-3), ..RawRec::new(0, b"a") }], 1);
    assert_invalid(&t, "negative record length");
}

#[test]
fn record_length_beyond_the_batch() {
    let t = plain_with(&[RawRec { len_override: Some(1000), ..RawRec::new(0, b"a") }], 1);
    assert_invalid(&t, "only");
}

#[test]
fn over_long_and_overflowing_varints() {
    // Record length written as a 6-byte varint.
    let mut body = vec![0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
    body.extend_from_slice(&[0u8; 8]);
    assert_invalid(&with_body(&plain_batch(), &body, 1), "longer than 5 bytes");
    // Record length whose 5th byte overflows 32 bits.
    let body = [0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0];
    assert_invalid(&with_body(&plain_batch(), &body, 1), "overflows");
    // A timestamp delta written as an 11-byte varlong inside an otherwise sized record.
    let mut rec = vec![0u8]; // attributes
    rec.extend_from_slice(&[0x80; 10]);
    rec.push(0x00);
    rec.extend_from_slice(&[0, 1, 1, 0]); // offset delta, key, value, headers
    let mut body = Vec::new();
    super::put_varint(&mut body, rec.len() as i32);
    body.extend_from_slice(&rec);
    assert_invalid(&with_body(&plain_batch(), &body, 1), "longer than 10 bytes");
}

#[test]
fn negative_key_value_and_header_lengths() {
    // A key length of −2: the varint for −2 is 3, so encode the key as a raw record by hand.
    let mut rec = vec![0u8, 0, 0]; // attributes, ts delta 0, offset delta 0
    super::put_varint(&mut rec, -2);
    rec.extend_from_slice(&[1, 0]);
    let mut body = Vec::new();
    super::put_varint(&mut body, rec.len() as i32);
    body.extend_from_slice(&rec);
    assert_invalid(&with_body(&plain_batch(), &body, 1), "record key: negative length -2");

    let t = plain_with(&[RawRec { header_count: Some(-1), ..RawRec::new(0, b"a") }], 1);
    assert_invalid(&t, "negative header count");
    let t = plain_with(&[RawRec { headers: vec![(-1, b"", None)], ..RawRec::new(0, b"a") }], 1);
    assert_invalid(&t, "never null");
    let t = plain_with(&[RawRec { headers: vec![(9, b"abc", None)], ..RawRec::new(0, b"a") }], 1);
    assert_invalid(&t, "header key");
    let t = plain_with(
        &[RawRec { header_count: Some(3), headers: vec![(1, b"a", None)], ..RawRec::new(0, b"a") }],
        1,
    );
    assert_invalid(&t, "header key length");
}

#[test]
fn header_keys_must_be_utf8() {
    let t = plain_with(&[RawRec { headers: vec![(2, &[0xc3, 0x28], None)], ..RawRec::new(0, b"a") }], 1);
    assert_invalid(&t, "UTF-8");
}

#[test]
fn record_attributes_must_be_zero() {
    let t = plain_with(&[RawRec { attributes: 1, ..RawRec::new(0, b"a") }], 1);
    assert_invalid(&t, "attributes");
}

#[test]
fn offset_deltas_out_of_order() {
    let t = plain_with(&[RawRec::new(1, b"a"), RawRec::new(0, b"b")], 2);
    assert_invalid(&t, "offset delta 1 out of order");
    let t = plain_with(&[RawRec::new(0, b"a"), RawRec::new(2, b"b")], 2);
    assert_invalid(&t, "offset delta 2");
    // The reader still reports them as stored.
    let batch = RecordBatch::parse(&t).unwrap();
    let deltas: Vec<i32> = batch.records().unwrap().iter().map(|r| r.unwrap().offset_delta).collect();
    assert_eq!(deltas, vec![0, 2]);
}

#[test]
fn leftover_bytes_inside_and_after_records() {
    let t = plain_with(&[RawRec { trailing: &[7, 7], ..RawRec::new(0, b"a") }], 1);
    assert_invalid(&t, "2 bytes left over inside");
    let mut body = body_of(&[RawRec::new(0, b"a")]);
    body.push(0);
    let t = with_body(&plain_batch(), &body, 1);
    assert_invalid(&t, "1 bytes left over after");
    let batch = RecordBatch::parse(&t).unwrap();
    let records = batch.records().unwrap();
    let items: Vec<_> = records.iter().collect();
    assert!(items[0].is_ok());
    assert!(matches!(&items[1], Err(BatchError::InvalidRecord(m)) if m.contains("left over")));
    assert_eq!(items.len(), 2);
}

#[test]
fn control_batch_with_unknown_type() {
    let t = control_batch(Some(&[0, 0, 0, 99]), Some(&[0, 0, 0, 0, 0, 1]));
    assert_invalid(&t, "unknown control record type 99");
    let t = control_batch(Some(&[0, 0, 0xff, 0xff]), Some(&[0, 0, 0, 0, 0, 1]));
    assert_invalid(&t, "unknown control record type -1");
    // The reader still reports it, as Kafka's UNKNOWN.
    let batch = RecordBatch::parse(&t).unwrap();
    assert_eq!(batch.control_record().unwrap().unwrap().control_type, ControlType::Other(-1));
}

#[test]
fn control_batch_with_negative_version() {
    let t = control_batch(Some(&[0xff, 0xff, 0, 1]), Some(&[0, 0, 0, 0, 0, 1]));
    assert_invalid(&t, "negative version");
    assert!(RecordBatch::parse(&t).unwrap().control_record().is_err());
    let t = control_batch(Some(&[0, 0, 0, 1]), Some(&[0x80, 0, 0, 0, 0, 1]));
    assert_invalid(&t, "negative version");
    assert!(RecordBatch::parse(&t).unwrap().end_txn_marker().is_err());
}

#[test]
fn control_batch_with_short_key_or_value() {
    for key in [None, Some(&[][..]), Some(&[0, 0, 1][..])] {
        let t = control_batch(key, Some(&[0, 0, 0, 0, 0, 1]));
        assert_invalid(&t, "control record key");
    }
    for value in [None, Some(&[0, 0, 0, 0, 1][..])] {
        let t = control_batch(Some(&[0, 0, 0, 0]), value);
        assert_invalid(&t, "marker value");
        assert!(RecordBatch::parse(&t).unwrap().end_txn_marker().is_err());
    }
}

#[test]
fn control_batch_with_zero_or_two_records() {
    let marker = EndTxnMarker { commit: true, coordinator_epoch: 3 }.build_batch(8, 0, 1000);
    let mut empty = with_body(&marker, &[], 0);
    poke(&mut empty, LAST_OFFSET_DELTA, &(-1i32).to_be_bytes());
    reseal(&mut empty);
    assert_invalid(&empty, "at least one");
    let key = [0, 0, 0, 1];
    let value = [0, 0, 0, 0, 0, 3];
    let rec = |d| RawRec { key: Some(&key), value: Some(&value), ..RawRec::new(d, b"") };
    let two = with_body(&marker, &body_of(&[rec(0), rec(1)]), 2);
    assert_invalid(&two, "exactly one");
}

#[test]
fn transactional_or_control_without_producer_id() {
    let t = build_with(RecordBatchBuilder::new().transactional(true), &[Rec::new(1, None, Some(b"x"))]);
    assert_invalid(&t, "transactional batch without a producer id");
    let mut t = EndTxnMarker { commit: false, coordinator_epoch: 0 }.build_batch(5, 0, 0);
    poke(&mut t, PRODUCER_ID, &(-1i64).to_be_bytes());
    reseal(&mut t);
    assert_invalid(&t, "control batch without a producer id");
}

#[test]
fn producer_id_requires_a_base_sequence() {
    let t = build_with(RecordBatchBuilder::new().producer(7, 0, -1), &[Rec::new(1, None, Some(b"x"))]);
    assert_invalid(&t, "invalid base sequence -1");
    // Markers carry base sequence −1 legitimately.
    RecordBatch::parse(&EndTxnMarker { commit: true, coordinator_epoch: 0 }.build_batch(7, 0, 0))
        .unwrap()
        .validate()
        .unwrap();
}

#[test]
fn unknown_compression_codecs() {
    for id in 5..=7i16 {
        let mut t = plain_batch();
        poke(&mut t, ATTRIBUTES, &id.to_be_bytes());
        reseal(&mut t);
        let batch = RecordBatch::parse(&t).unwrap();
        let err = batch.validate().unwrap_err();
        assert_eq!(err, BatchError::UnknownCompression(id as u8));
        assert_eq!(err.code(), ErrorCode::CorruptMessage);
        assert!(matches!(batch.records(), Err(BatchError::UnknownCompression(_))));
    }
}

/// A batch whose payload is `payload` under `codec`, resealed.
fn compressed_batch(codec: Compression, payload: &[u8]) -> Vec<u8> {
    let mut t = with_body(&plain_batch(), payload, 1);
    poke(&mut t, ATTRIBUTES, &i16::from(codec.id()).to_be_bytes());
    reseal(&mut t);
    t
}

#[test]
fn decompression_bombs_are_refused() {
    // 8 MiB of zeros compresses to a few KiB: far past 64× (and past the 1 MiB floor). Snappy's
    // format cannot exceed about 21×, so its bomb is a lying length (next test) or a low cap.
    let zeros = vec![0u8; 8 << 20];
    let mut payload = Vec::new();
    compress(Compression::Snappy, &zeros, &mut payload).unwrap();
    let t = compressed_batch(Compression::Snappy, &payload);
    let err = RecordBatch::parse(&t).unwrap().validate_with_limit(1 << 20).unwrap_err();
    assert!(matches!(&err, BatchError::Decompression { detail, .. } if detail.contains("exceeds the limit")));
    for codec in [Compression::Gzip, Compression::Lz4, Compression::Zstd] {
        let mut payload = Vec::new();
        compress(codec, &zeros, &mut payload).unwrap();
        assert!(decompression_limit(payload.len()) < zeros.len(), "{codec}: {} bytes", payload.len());
        let t = compressed_batch(codec, &payload);
        let batch = RecordBatch::parse(&t).unwrap();
        let err = batch.validate().unwrap_err();
        assert!(
            matches!(&err, BatchError::Decompression { detail, .. } if detail.contains("exceeds the limit")),
            "{codec}: {err}"
        );
        assert_eq!(err.code(), ErrorCode::CorruptMessage);
        assert!(matches!(batch.records(), Err(BatchError::Decompression { .. })));
        // An explicit, higher limit lets it decompress (and then fail as records).
        let err = batch.validate_with_limit(zeros.len()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidRecord, "{codec}: {err}");
    }
}

#[test]
fn a_lying_snappy_length_header_allocates_nothing() {
    // Raw snappy whose preamble claims 4 GiB − 1 of output.
    let payload = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00];
    let t = compressed_batch(Compression::Snappy, &payload);
    let err = RecordBatch::parse(&t).unwrap().validate().unwrap_err();
    assert!(matches!(err, BatchError::Decompression { codec: "snappy", .. }), "{err}");
    // The same inside a xerial block.
    let mut xerial = b"\x82SNAPPY\0\0\0\0\x01\0\0\0\x01".to_vec();
    xerial.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    xerial.extend_from_slice(&payload);
    let t = compressed_batch(Compression::Snappy, &xerial);
    assert!(matches!(RecordBatch::parse(&t).unwrap().validate(), Err(BatchError::Decompression { .. })));
}

#[test]
fn garbage_payloads_fail_to_decompress() {
    for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
        let t = compressed_batch(codec, b"definitely not compressed data");
        let err = RecordBatch::parse(&t).unwrap().validate().unwrap_err();
        assert!(matches!(err, BatchError::Decompression { .. }), "{codec}: {err}");
        assert_eq!(err.code(), ErrorCode::CorruptMessage);
    }
}

#[test]
fn corrupt_compressed_records_are_invalid() {
    // Valid compression of invalid records (an offset delta out of order).
    let body = body_of(&[RawRec::new(0, b"a"), RawRec::new(5, b"b")]);
    for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
        let mut payload = Vec::new();
        compress(codec, &body, &mut payload).unwrap();
        let mut t = compressed_batch(codec, &payload);
        poke(&mut t, RECORDS_COUNT, &2i32.to_be_bytes());
        poke(&mut t, LAST_OFFSET_DELTA, &1i32.to_be_bytes());
        reseal(&mut t);
        assert_invalid(&t, "offset delta 5");
    }
}
