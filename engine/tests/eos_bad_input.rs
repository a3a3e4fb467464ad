//! Bad exactly-once input gets a clear, typed error with Kafka's code and changes nothing on
//! disk: markers without records, control batches from clients, sequences below -1, producer
//! ids without sequences, transactional batches without a producer id.

mod eos_support;

use eos_support::*;
use eoslog::batch::{EndTxnMarker, RecordBatchBuilder, layout};
use eoslog::{AppendOptions, BatchError, Error, ErrorCode, Origin};

fn coordinator() -> AppendOptions {
    AppendOptions { origin: Origin::Coordinator, ..Default::default() }
}

/// Recomputes the CRC after editing a batch.
fn fix_crc(bytes: &mut [u8]) {
    let crc = crc32c::crc32c(&bytes[layout::ATTRIBUTES..]);
    bytes[layout::CRC..layout::CRC + 4].copy_from_slice(&crc.to_be_bytes());
}

/// A COMMIT marker of producer 7 with its single record cut off: the header alone, declaring
/// `records` records and a last offset delta of `records - 1` (or 0).
fn marker_without_records(records: i32) -> Vec<u8> {
    let full = EndTxnMarker { commit: true, coordinator_epoch: 1 }.build_batch(7, 0, T0);
    let mut bytes = full[..61].to_vec();
    bytes[layout::LENGTH..layout::LENGTH + 4].copy_from_slice(&(61i32 - 12).to_be_bytes());
    bytes[layout::RECORDS_COUNT..layout::RECORDS_COUNT + 4].copy_from_slice(&records.to_be_bytes());
    let delta = (records - 1).max(0);
    bytes[layout::LAST_OFFSET_DELTA..layout::LAST_OFFSET_DELTA + 4].copy_from_slice(&delta.to_be_bytes());
    fix_crc(&mut bytes);
    bytes
}

/// A marker whose control record is not COMMIT/ABORT or whose value is cut short.
fn marker_with(key: &[u8], value: &[u8]) -> Vec<u8> {
    // Build an ordinary one-record batch with the key and value, then flag it as a
    // transactional control batch of producer 7 with no sequence.
    let mut b = RecordBatchBuilder::new().producer(7, 0, 0).transactional(true);
    b.append(T0, Some(key), Some(value), &[]);
    let mut bytes = b.build().unwrap();
    let attrs = i16::from_be_bytes([bytes[layout::ATTRIBUTES], bytes[layout::ATTRIBUTES + 1]]) | 0x20;
    bytes[layout::ATTRIBUTES..layout::ATTRIBUTES + 2].copy_from_slice(&attrs.to_be_bytes());
    bytes[layout::BASE_SEQUENCE..layout::BASE_SEQUENCE + 4].copy_from_slice(&(-1i32).to_be_bytes());
    fix_crc(&mut bytes);
    bytes
}

/// Runs `f` and checks that it fails with `expected` and leaves the partition directory and
/// the partition's state exactly as they were.
fn rejected(
    s: &Setup,
    what: &str,
    expected: ErrorCode,
    f: impl FnOnce() -> eoslog::Result<eoslog::AppendInfo>,
) -> Error {
    let before = tree(&s.part_dir());
    let (leo, producers, ongoing) =
        (s.log.log_end_offset(), producer_state(&s.log), s.log.ongoing_transactions());
    let err = f().expect_err(what);
    assert_eq!(err.code(), expected, "{what}: {err}");
    assert!(!err.to_string().is_empty());
    assert_eq!(tree(&s.part_dir()), before, "{what}: the directory changed");
    assert_eq!(s.log.log_end_offset(), leo, "{what}");
    assert_eq!(producer_state(&s.log), producers, "{what}");
    assert_eq!(s.log.ongoing_transactions(), ongoing, "{what}");
    assert!(s.log.failure().is_none(), "{what}: bad input must not take the partition offline");
    err
}

/// A partition with some state to protect: an open transaction of producer 7, and data.
fn setup() -> Setup {
    // Small preallocated indexes: every check reads the whole directory.
    let s = Setup::new(Opts::default().topic("segment.index.bytes", "4096"));
    s.log.append(&plain(2, T0, "x")).unwrap();
    Producer::new(7, 0).txn(&s.log, 2);
    s.log.flush().unwrap();
    s
}

#[test]
fn markers_with_missing_records() {
    let s = setup();
    for records in [0, 1] {
        let bytes = marker_without_records(records);
        let e = rejected(&s, "coordinator", ErrorCode::InvalidRecord, || {
            s.log.append_with(&bytes, &coordinator())
        });
        assert!(matches!(e, Error::Batch(BatchError::InvalidRecord(_))), "{e:?}");
        rejected(&s, "client", ErrorCode::InvalidRecord, || s.log.append(&bytes));
    }
    // A marker whose value lacks the coordinator epoch, or with a negative key version.
    let short_value = marker_with(&[0, 0, 0, 1], &[0, 0]);
    rejected(&s, "short value", ErrorCode::InvalidRecord, || s.log.append_with(&short_value, &coordinator()));
    let negative_version = marker_with(&[0xff, 0xff, 0, 0], &[0, 0, 0, 0, 0, 1]);
    rejected(&s, "negative version", ErrorCode::InvalidRecord, || {
        s.log.append_with(&negative_version, &coordinator())
    });
    // A well-formed control record that is not COMMIT/ABORT (LEADER_CHANGE, type 2) is not a
    // transaction marker.
    let leader_change = marker_with(&[0, 0, 0, 2], &[0, 0, 0, 0, 0, 1]);
    rejected(&s, "leader change", ErrorCode::InvalidRequest, || {
        s.log.append_with(&leader_change, &coordinator())
    });
    // The good marker is still accepted afterwards.
    let ok = s.log.append_marker(7, 0, 1, true, 1).unwrap();
    assert_eq!(ok.first_offset, 4);
    assert!(s.log.ongoing_transactions().is_empty());
}

#[test]
fn control_batches_from_clients() {
    let s = setup();
    for commit in [true, false] {
        let marker = EndTxnMarker { commit, coordinator_epoch: 1 }.build_batch(7, 0, T0);
        let e = rejected(&s, "client marker", ErrorCode::InvalidRecord, || s.log.append(&marker));
        assert!(matches!(e, Error::ControlBatchFromClient), "{e:?}");
        let opts = AppendOptions { origin: Origin::Client, transaction_version: 2, ..Default::default() };
        rejected(&s, "client marker with options", ErrorCode::InvalidRecord, || {
            s.log.append_with(&marker, &opts)
        });
    }
    assert_eq!(s.log.first_unstable_offset(), Some(2), "the transaction is still open");
}

#[test]
fn sequences_below_minus_one_and_missing_sequences() {
    let s = setup();
    for seq in [-2, -3, -1000, i32::MIN] {
        let b = records(9, 0, seq, false, 1, T0, "neg");
        let e = rejected(&s, &format!("seq {seq}"), ErrorCode::InvalidRecord, || s.log.append(&b));
        assert!(e.to_string().contains("sequence"), "{e}");
        let t = records(9, 0, seq, true, 1, T0, "neg");
        rejected(&s, &format!("txn seq {seq}"), ErrorCode::InvalidRecord, || s.log.append(&t));
    }
    // A producer id with no sequence (-1), idempotent or transactional, from a client or as a
    // coordinator write.
    let b = records(9, 0, -1, false, 2, T0, "noseq");
    rejected(&s, "no sequence", ErrorCode::InvalidRecord, || s.log.append(&b));
    let t = records(9, 0, -1, true, 2, T0, "noseq");
    rejected(&s, "txn no sequence", ErrorCode::InvalidRecord, || s.log.append(&t));
    rejected(&s, "coordinator no sequence", ErrorCode::InvalidRecord, || {
        s.log.append_with(&t, &coordinator())
    });
    // A known producer's next batch without a sequence is refused the same way.
    let t = records(7, 0, -1, true, 1, T0, "noseq");
    rejected(&s, "open txn no sequence", ErrorCode::InvalidRecord, || s.log.append(&t));
    assert!(s.log.producer_state(9).is_none());
}

#[test]
fn transactional_batch_without_producer_id() {
    let s = setup();
    for (pid, seq) in [(-1, -1), (-1, 0), (-5, 3)] {
        let b = records(pid, 0, seq, true, 1, T0, "anon");
        let mut built = RecordBatchBuilder::new().transactional(true);
        built.append(T0, None, Some(b"v"), &[]);
        let anon = built.build().unwrap();
        for bytes in [b.as_slice(), anon.as_slice()] {
            let e =
                rejected(&s, "transactional without pid", ErrorCode::InvalidRecord, || s.log.append(bytes));
            assert!(e.to_string().contains("producer id"), "{e}");
            rejected(&s, "as coordinator", ErrorCode::InvalidRecord, || {
                s.log.append_with(bytes, &coordinator())
            });
        }
    }
}

/// Structural damage (bad CRC, truncated batch, wrong record count) is refused before any
/// producer check, with CORRUPT_MESSAGE or INVALID_RECORD.
#[test]
fn damaged_batches() {
    let s = setup();
    let good = records(9, 0, 0, false, 3, T0, "ok");
    let mut bad_crc = good.clone();
    *bad_crc.last_mut().unwrap() ^= 1;
    rejected(&s, "crc", ErrorCode::CorruptMessage, || s.log.append(&bad_crc));
    rejected(&s, "truncated", ErrorCode::CorruptMessage, || s.log.append(&good[..good.len() - 1]));
    let mut wrong_count = good.clone();
    wrong_count[layout::RECORDS_COUNT..layout::RECORDS_COUNT + 4].copy_from_slice(&2i32.to_be_bytes());
    fix_crc(&mut wrong_count);
    rejected(&s, "count", ErrorCode::InvalidRecord, || s.log.append(&wrong_count));
    // And the good batch goes in afterwards with sequence 0.
    assert_eq!(s.log.append(&good).unwrap().first_offset, 4);
}
