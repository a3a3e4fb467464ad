//! Build → parse → validate → records round trips, header rewrites, markers, framing.

use super::*;
use crate::config::TimestampType;
use crate::error::ErrorCode;

#[test]
fn every_codec_roundtrips_a_varied_record_set() {
    let recs = sample_records();
    for codec in Compression::ALL {
        let bytes = build_with(RecordBatchBuilder::new().compression(codec), &recs);
        let batch = RecordBatch::parse(&bytes).unwrap();
        assert_eq!(batch.compression().unwrap(), codec);
        assert_eq!(batch.attributes().0, i16::from(codec.id()));
        assert_eq!(batch.size(), bytes.len());
        assert_eq!(batch.as_bytes(), &bytes[..]);
        assert_eq!(batch.batch_length() as usize, bytes.len() - LOG_OVERHEAD);
        assert_eq!(batch.magic(), MAGIC_V2);
        assert_eq!(batch.base_offset(), 0);
        assert_eq!(batch.partition_leader_epoch(), NO_PARTITION_LEADER_EPOCH);
        assert_eq!(batch.max_timestamp(), recs.iter().map(|r| r.ts).max().unwrap());
        assert!(!batch.has_producer_id() && !batch.is_transactional() && !batch.is_control());
        assert_eq!((batch.producer_id(), batch.producer_epoch(), batch.base_sequence()), (-1, -1, -1));
        assert_eq!(batch.last_sequence(), NO_SEQUENCE);
        assert!(batch.is_crc_valid());
        assert_eq!(batch.records().unwrap().is_borrowed(), codec == Compression::None);
        assert_records(&bytes, &recs, None);
    }
}

#[test]
fn producer_fields_and_transactional_flag_roundtrip() {
    let recs = sample_records();
    for codec in Compression::ALL {
        let builder = RecordBatchBuilder::new()
            .compression(codec)
            .producer(7, 3, 100)
            .transactional(true)
            .base_offset(1234)
            .partition_leader_epoch(5);
        let bytes = build_with(builder, &recs);
        let batch = RecordBatch::parse(&bytes).unwrap();
        assert_eq!(
            (batch.producer_id(), batch.producer_epoch(), batch.base_sequence(), batch.last_sequence()),
            (7, 3, 100, 104)
        );
        assert!(batch.has_producer_id() && batch.is_transactional() && !batch.is_control());
        assert_eq!((batch.base_offset(), batch.last_offset(), batch.next_offset()), (1234, 1238, 1239));
        assert_eq!(batch.partition_leader_epoch(), 5);
        assert_eq!(batch.control_record().unwrap(), None);
        assert_eq!(batch.end_txn_marker().unwrap(), None);
        assert_records(&bytes, &recs, None);
    }
}

#[test]
fn last_sequence_wraps_past_i32_max() {
    let recs = vec![Rec::new(1, None, Some(b"a")); 3];
    let bytes = build_with(RecordBatchBuilder::new().producer(1, 0, i32::MAX - 1), &recs);
    let batch = RecordBatch::parse(&bytes).unwrap();
    batch.validate().unwrap();
    // Sequences i32::MAX−1, i32::MAX, 0.
    assert_eq!(batch.last_sequence(), 0);
}

#[test]
fn log_append_time_stamping_keeps_the_crc_valid() {
    let recs = sample_records();
    for codec in Compression::ALL {
        let mut bytes = build_with(RecordBatchBuilder::new().compression(codec).producer(9, 0, 0), &recs);
        let stamp = 1_795_849_329_882;
        set_log_append_time(&mut bytes, stamp);
        let batch = RecordBatch::parse(&bytes).unwrap();
        assert!(batch.is_crc_valid(), "{codec}");
        assert_eq!(batch.timestamp_type(), TimestampType::LogAppendTime);
        assert_eq!(batch.attributes().0, i16::from(codec.id()) | Attributes::LOG_APPEND_TIME);
        assert_eq!(batch.max_timestamp(), stamp);
        assert_eq!(batch.base_timestamp(), recs[0].ts, "base timestamp untouched");
        assert_records(&bytes, &recs, Some(stamp));
    }
}

#[test]
fn builder_with_log_append_time_reports_max_timestamp() {
    let recs = vec![Rec::new(5, None, Some(b"a")), Rec::new(9, None, Some(b"b")), Rec::new(7, None, None)];
    let bytes = build_with(RecordBatchBuilder::new().timestamp_type(TimestampType::LogAppendTime), &recs);
    assert_records(&bytes, &recs, Some(9));
}

#[test]
fn offset_and_epoch_rewrites_stay_outside_the_crc() {
    let recs = sample_records();
    let mut bytes = build_with(RecordBatchBuilder::new().compression(Compression::Gzip), &recs);
    let crc = RecordBatch::parse(&bytes).unwrap().crc();
    set_base_offset(&mut bytes, 1_000_000);
    set_partition_leader_epoch(&mut bytes, 42);
    let batch = RecordBatch::parse(&bytes).unwrap();
    assert_eq!(batch.crc(), crc);
    batch.validate().unwrap();
    assert_eq!((batch.base_offset(), batch.partition_leader_epoch()), (1_000_000, 42));
    let offsets: Vec<i64> = batch.records().unwrap().iter().map(|r| r.unwrap().offset).collect();
    assert_eq!(offsets, (1_000_000..1_000_005).collect::<Vec<_>>());
    assert_records(&bytes, &recs, None);
}

#[test]
#[should_panic(expected = "shorter than a batch header")]
fn header_rewrite_of_a_short_buffer_panics_loudly() {
    set_base_offset(&mut [0u8; 20], 1);
}

#[test]
fn end_txn_markers_are_built_like_kafkas() {
    for (commit, ctype) in [(true, ControlType::Commit), (false, ControlType::Abort)] {
        let marker = EndTxnMarker { commit, coordinator_epoch: 11 };
        let bytes = marker.build_batch(9, 4, 1_767_229_206_500);
        let batch = RecordBatch::parse(&bytes).unwrap();
        batch.validate().unwrap();
        assert_eq!(batch.attributes().0, Attributes::TRANSACTIONAL | Attributes::CONTROL);
        assert_eq!(batch.compression().unwrap(), Compression::None);
        assert_eq!(batch.timestamp_type(), TimestampType::CreateTime);
        assert_eq!((batch.base_offset(), batch.records_count(), batch.last_offset_delta()), (0, 1, 0));
        assert_eq!((batch.producer_id(), batch.producer_epoch(), batch.base_sequence()), (9, 4, -1));
        assert_eq!((batch.base_timestamp(), batch.max_timestamp()), (1_767_229_206_500, 1_767_229_206_500));
        assert_eq!(batch.end_txn_marker().unwrap(), Some(marker));
        let cr = batch.control_record().unwrap().unwrap();
        assert_eq!((cr.version, cr.control_type), (0, ctype));
        assert_eq!(cr.value, vec![0, 0, 0, 0, 0, 11]);
        let records = batch.records().unwrap();
        let rec = records.iter().next().unwrap().unwrap();
        assert_eq!(rec.key, Some(&[0, 0, 0, u8::from(commit)][..]));
        assert!(rec.headers.is_empty());
        // 61-byte header + the record: Kafka's marker batches are 78 bytes.
        assert_eq!(bytes.len(), 78);
    }
}

#[test]
fn control_record_versions_and_kraft_types() {
    // A higher key/value version parses as version 0.
    let b = control_batch(Some(&[0, 1, 0, 0, 0xaa]), Some(&[0, 2, 0, 0, 0, 7, 0xbb]));
    let batch = RecordBatch::parse(&b).unwrap();
    batch.validate().unwrap();
    assert_eq!(batch.control_record().unwrap().unwrap().version, 1);
    assert_eq!(batch.end_txn_marker().unwrap(), Some(EndTxnMarker { commit: false, coordinator_epoch: 7 }));
    // KRaft LEADER_CHANGE: valid, but not an end-transaction marker.
    let b = control_batch(Some(&[0, 0, 0, 2]), Some(b"anything"));
    let batch = RecordBatch::parse(&b).unwrap();
    batch.validate().unwrap();
    assert_eq!(batch.control_record().unwrap().unwrap().control_type, ControlType::Other(2));
    assert_eq!(batch.end_txn_marker().unwrap(), None);
    assert_eq!(ControlType::Other(2).name(), "LEADER_CHANGE");
    assert_eq!(ControlType::from_id(1), ControlType::Commit);
    assert_eq!(ControlType::Other(77).name(), "UNKNOWN");
}

#[test]
fn an_emptied_control_batch_has_no_control_record() {
    let marker = EndTxnMarker { commit: true, coordinator_epoch: 1 }.build_batch(3, 0, 5);
    let mut emptied = with_body(&marker, &[], 0);
    // The cleaner keeps the original lastOffsetDelta; only the records go.
    poke(&mut emptied, LAST_OFFSET_DELTA, &0i32.to_be_bytes());
    reseal(&mut emptied);
    let batch = RecordBatch::parse(&emptied).unwrap();
    assert_eq!(batch.control_record().unwrap(), None);
    assert_eq!(batch.end_txn_marker().unwrap(), None);
    assert!(batch.records().unwrap().is_empty());
    let err = batch.validate().unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidRecord);
}

#[test]
fn builder_bookkeeping() {
    let mut b = RecordBatchBuilder::new();
    assert!(b.is_empty());
    assert_eq!(b.len(), 0);
    assert_eq!(b.estimated_size(), HEADER_SIZE);
    let err = b.build().unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidRecord);
    b.append(1, Some(b"key"), Some(b"value"), &[("h", Some(b"v"))]).append(2, None, None, &[]);
    assert_eq!(b.len(), 2);
    let bytes = b.build().unwrap();
    assert_eq!(b.estimated_size(), bytes.len(), "uncompressed estimate is exact");
    // One-expression use on a temporary.
    let one = RecordBatchBuilder::new().append(0, None, Some(b"x"), &[]).build().unwrap();
    RecordBatch::parse(&one).unwrap().validate().unwrap();
    assert_eq!(RecordBatchBuilder::default().len(), 0);
}

#[test]
fn batches_walks_back_to_back_batches() {
    let mut log = Vec::new();
    let mut next = 0i64;
    let mut sizes = Vec::new();
    for codec in Compression::ALL {
        let mut bytes = build_with(RecordBatchBuilder::new().compression(codec), &sample_records());
        set_base_offset(&mut bytes, next);
        next += 5;
        sizes.push(bytes.len());
        log.extend_from_slice(&bytes);
    }
    log.extend_from_slice(&EndTxnMarker { commit: true, coordinator_epoch: 0 }.build_batch(1, 0, 0));
    let mut it = batches(&log);
    let mut offsets = Vec::new();
    for batch in &mut it {
        let batch = batch.unwrap();
        batch.validate().unwrap();
        offsets.push(batch.base_offset());
    }
    assert_eq!(offsets, vec![0, 5, 10, 15, 20, 0]);
    assert_eq!(it.position(), log.len());
    assert!(it.remaining().is_empty());
    assert!(it.next().is_none());

    let (first, rest) = RecordBatch::parse_prefix(&log).unwrap();
    assert_eq!(first.size(), sizes[0]);
    assert_eq!(rest.len(), log.len() - sizes[0]);
    assert_eq!(frame(&log), Frame::Complete(sizes[0]));
    assert_eq!(batches(&[]).count(), 0);
}

#[test]
fn a_truncated_tail_yields_one_error_and_the_good_prefix_length() {
    let one = plain_batch();
    let mut log = one.clone();
    log.extend_from_slice(&one);
    log.extend_from_slice(&one[..30]);
    let mut it = batches(&log);
    assert!(it.next().unwrap().is_ok());
    assert!(it.next().unwrap().is_ok());
    let err = it.next().unwrap().unwrap_err();
    assert!(matches!(err, BatchError::Corrupt(_)), "{err}");
    assert!(it.next().is_none());
    assert_eq!(it.position(), 2 * one.len());
}

#[test]
fn frame_reports_what_is_needed() {
    let one = plain_batch();
    assert_eq!(frame(&one[..5]), Frame::Incomplete { needed: FRAME_PREFIX_SIZE });
    assert_eq!(frame(&one[..17]), Frame::Incomplete { needed: one.len() });
    assert_eq!(frame(&one[..one.len() - 1]), Frame::Incomplete { needed: one.len() });
    assert_eq!(frame(&one), Frame::Complete(one.len()));
}

#[test]
fn records_iterator_reports_stored_deltas_and_len() {
    let bytes = build_with(RecordBatchBuilder::new(), &sample_records());
    let batch = RecordBatch::parse(&bytes).unwrap();
    let records = batch.records().unwrap();
    assert_eq!(records.len(), 5);
    assert!(!records.is_empty());
    assert_eq!(records.as_bytes(), batch.payload());
    let n = (&records).into_iter().filter(|r| r.is_ok()).count();
    assert_eq!(n, 5);
    assert!(format!("{records:?}").contains("count: 5"));
}
