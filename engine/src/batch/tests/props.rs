//! Property tests: arbitrary record sets round-trip under every codec; arbitrary bytes and
//! single-byte corruptions never panic, and corruption of CRC-covered bytes is always caught.

use proptest::prelude::*;

use super::*;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn record() -> impl Strategy<Value = Rec> {
    (
        any::<i64>(),
        prop::option::of(bytes(40)),
        prop::option::of(bytes(300)),
        prop::collection::vec((".{0,12}", prop::option::of(bytes(24))), 0..4),
    )
        .prop_map(|(ts, key, value, headers)| Rec { ts, key, value, headers })
}

/// (producer id, epoch, base sequence, transactional), always a combination `validate` accepts.
fn producer() -> impl Strategy<Value = (i64, i16, i32, bool)> {
    prop_oneof![
        Just((NO_PRODUCER_ID, NO_PRODUCER_EPOCH, NO_SEQUENCE, false)),
        (0..=i64::MAX, 0..=i16::MAX, 0..=i32::MAX, any::<bool>()),
    ]
}

fn codec() -> impl Strategy<Value = Compression> {
    prop::sample::select(Compression::ALL.to_vec())
}

fn valid_batch() -> impl Strategy<Value = (Vec<u8>, Vec<Rec>)> {
    (prop::collection::vec(record(), 1..12), codec(), producer(), any::<i64>(), any::<i32>()).prop_map(
        |(recs, codec, (pid, epoch, seq, txn), base_offset, leader_epoch)| {
            let builder = RecordBatchBuilder::new()
                .compression(codec)
                .producer(pid, epoch, seq)
                .transactional(txn)
                .base_offset(base_offset)
                .partition_leader_epoch(leader_epoch);
            (build_with(builder, &recs), recs)
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_batches_roundtrip(
        recs in prop::collection::vec(record(), 1..20),
        codec in codec(),
        (pid, epoch, seq, txn) in producer(),
    ) {
        let builder = RecordBatchBuilder::new().compression(codec).producer(pid, epoch, seq).transactional(txn);
        let bytes = build_with(builder, &recs);
        let batch = RecordBatch::parse(&bytes).unwrap();
        prop_assert_eq!(batch.compression().unwrap(), codec);
        prop_assert_eq!((batch.producer_id(), batch.producer_epoch(), batch.base_sequence()), (pid, epoch, seq));
        prop_assert_eq!(batch.is_transactional(), txn);
        prop_assert_eq!(batch.max_timestamp(), recs.iter().map(|r| r.ts).max().unwrap());
        let expected_last = if seq < 0 { -1 } else { increment_sequence(seq, recs.len() as i32 - 1) };
        prop_assert_eq!(batch.last_sequence(), expected_last);
        // Wrapping timestamp deltas still reproduce every absolute timestamp exactly.
        assert_records(&bytes, &recs, None);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in bytes(400)) {
        exercise(&data);
    }

    #[test]
    fn well_framed_garbage_never_panics(header in bytes(HEADER_SIZE), body in bytes(300), attrs in any::<i16>()) {
        // Arbitrary contents behind a valid frame and CRC, so the deeper paths (codecs, record
        // walk, control parsing) see the garbage.
        let mut t = header;
        t.resize(HEADER_SIZE, 0);
        t.extend_from_slice(&body);
        let len = (t.len() - LOG_OVERHEAD) as i32;
        poke(&mut t, LENGTH, &len.to_be_bytes());
        t[MAGIC] = 2;
        poke(&mut t, ATTRIBUTES, &attrs.to_be_bytes());
        reseal(&mut t);
        exercise(&t);
        let mut two = t.clone();
        two.extend_from_slice(&t);
        exercise(&two);
    }

    #[test]
    fn single_byte_flips_never_panic_and_crc_covered_flips_fail(
        (bytes, _recs) in valid_batch(),
        at in any::<prop::sample::Index>(),
        mask in 1..=255u8,
    ) {
        let i = at.index(bytes.len());
        let mut t = bytes.clone();
        t[i] ^= mask;
        exercise(&t);
        let outcome = RecordBatch::parse(&t).and_then(|b| b.validate());
        let outside_crc = i < LENGTH || (PARTITION_LEADER_EPOCH..MAGIC).contains(&i);
        if outside_crc {
            // baseOffset and partitionLeaderEpoch are not covered: the batch stays valid.
            prop_assert!(outcome.is_ok(), "flip at {} rejected: {:?}", i, outcome);
        } else {
            prop_assert!(outcome.is_err(), "flip at {} accepted", i);
            if i >= CRC {
                let is_crc_mismatch = matches!(outcome, Err(BatchError::CrcMismatch { .. }));
                prop_assert!(is_crc_mismatch, "flip at {}: {:?}", i, outcome);
            }
        }
    }
}
