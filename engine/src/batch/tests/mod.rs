//! Tests of the batch module as a whole: round trips, hostile input, properties.
//! (Each submodule of `batch` also has focused unit tests next to its code.)

mod bad_input;
mod props;
mod roundtrip;

use super::layout::*;
use super::varint::{put_varint, put_varlong};
use super::*;
use crate::error::BatchError;

/// A record as a test describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rec {
    pub ts: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl Rec {
    pub fn new(ts: i64, key: Option<&[u8]>, value: Option<&[u8]>) -> Rec {
        Rec { ts, key: key.map(<[u8]>::to_vec), value: value.map(<[u8]>::to_vec), headers: vec![] }
    }

    pub fn header(mut self, key: &str, value: Option<&[u8]>) -> Rec {
        self.headers.push((key.to_owned(), value.map(<[u8]>::to_vec)));
        self
    }
}

/// Appends `recs` to `builder` and builds.
pub(super) fn build_with(mut builder: RecordBatchBuilder, recs: &[Rec]) -> Vec<u8> {
    for r in recs {
        let headers: Vec<(&str, Option<&[u8]>)> =
            r.headers.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
        builder.append(r.ts, r.key.as_deref(), r.value.as_deref(), &headers);
    }
    builder.build().expect("build")
}

/// A varied record set: null key, null value, empty value, binary and non-ASCII headers, null
/// header values, repeated header keys, a timestamp earlier than the first.
pub(super) fn sample_records() -> Vec<Rec> {
    vec![
        Rec::new(1_767_225_600_000, Some(b"customer-0001"), Some(b"hello")),
        Rec::new(1_767_225_600_005, None, Some(b"null key")),
        Rec::new(1_767_225_600_003, Some(b"k"), None).header("trace-id", Some(b"abc")).header("nul", None),
        Rec::new(1_767_225_600_010, Some(b""), Some(b"")).header("bin", Some(&[0, 0xff, 0x80, 0x7f])),
        Rec::new(1_767_225_599_000, Some(&[0xc3, 0x28]), Some("zürich ☃".as_bytes()))
            .header("schlüssel-ключ", Some("wert".as_bytes()))
            .header("dup", Some(b"1"))
            .header("dup", Some(b"2")),
    ]
}

/// Checks that `bytes` parses, validates, and holds `recs` at offsets `base..`, with CreateTime
/// timestamps (or `log_append_time` for every record when given).
pub(super) fn assert_records(bytes: &[u8], recs: &[Rec], log_append_time: Option<i64>) {
    let batch = RecordBatch::parse(bytes).expect("parse");
    batch.validate().expect("validate");
    assert_eq!(batch.records_count() as usize, recs.len());
    assert_eq!(batch.last_offset_delta() as usize, recs.len() - 1);
    let records = batch.records().expect("records");
    assert_eq!(records.len(), recs.len());
    let got: Vec<OwnedRecord> = records.iter().map(|r| r.expect("record").to_owned_record()).collect();
    let base = batch.base_offset();
    let want: Vec<OwnedRecord> = recs
        .iter()
        .enumerate()
        .map(|(i, r)| OwnedRecord {
            offset: base + i as i64,
            timestamp: log_append_time.unwrap_or(r.ts),
            key: r.key.clone(),
            value: r.value.clone(),
            headers: r.headers.clone(),
        })
        .collect();
    assert_eq!(got, want);
    let first_ts = recs[0].ts;
    assert_eq!(batch.base_timestamp(), first_ts);
    for (i, r) in records.iter().enumerate() {
        let r = r.unwrap();
        assert_eq!(r.offset_delta, i as i32);
        assert_eq!(r.timestamp_delta, recs[i].ts.wrapping_sub(first_ts));
    }
}

/// (key length as written, key bytes, value).
pub(super) type RawHeader<'a> = (i32, &'a [u8], Option<&'a [u8]>);

/// Encodes one record by hand, for crafting bad input. `len_override` replaces the computed
/// length varint.
pub(super) struct RawRec<'a> {
    pub attributes: i8,
    pub ts_delta: i64,
    pub offset_delta: i32,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: Vec<RawHeader<'a>>,
    pub header_count: Option<i32>,
    pub trailing: &'a [u8],
    pub len_override: Option<i32>,
}

impl<'a> RawRec<'a> {
    pub fn new(offset_delta: i32, value: &'a [u8]) -> Self {
        RawRec {
            attributes: 0,
            ts_delta: 0,
            offset_delta,
            key: None,
            value: Some(value),
            headers: vec![],
            header_count: None,
            trailing: &[],
            len_override: None,
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut body = vec![self.attributes as u8];
        put_varlong(&mut body, self.ts_delta);
        put_varint(&mut body, self.offset_delta);
        put_bytes(&mut body, self.key);
        put_bytes(&mut body, self.value);
        put_varint(&mut body, self.header_count.unwrap_or(self.headers.len() as i32));
        for (klen, k, v) in &self.headers {
            put_varint(&mut body, *klen);
            body.extend_from_slice(k);
            put_bytes(&mut body, *v);
        }
        body.extend_from_slice(self.trailing);
        put_varint(out, self.len_override.unwrap_or(body.len() as i32));
        out.extend_from_slice(&body);
    }
}

fn put_bytes(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => put_varint(out, -1),
        Some(b) => {
            put_varint(out, b.len() as i32);
            out.extend_from_slice(b);
        }
    }
}

/// Writes a big-endian integer field and returns the buffer, for tampering.
pub(super) fn poke(buf: &mut [u8], at: usize, bytes: &[u8]) {
    buf[at..at + bytes.len()].copy_from_slice(bytes);
}

/// Recomputes the CRC after tampering, so that the check under test is not the CRC's.
pub(super) fn reseal(buf: &mut [u8]) {
    let crc = crc32c::crc32c(&buf[ATTRIBUTES..]);
    poke(buf, CRC, &crc.to_be_bytes());
}

/// Replaces the records section of `batch` (keeping its header), fixing batchLength, count,
/// lastOffsetDelta and the CRC.
pub(super) fn with_body(batch: &[u8], body: &[u8], count: i32) -> Vec<u8> {
    let mut out = batch[..HEADER_SIZE].to_vec();
    out.extend_from_slice(body);
    let len = (out.len() - LOG_OVERHEAD) as i32;
    poke(&mut out, LENGTH, &len.to_be_bytes());
    poke(&mut out, RECORDS_COUNT, &count.to_be_bytes());
    poke(&mut out, LAST_OFFSET_DELTA, &(count - 1).to_be_bytes());
    reseal(&mut out);
    out
}

/// A plain single-record uncompressed batch to tamper with.
pub(super) fn plain_batch() -> Vec<u8> {
    build_with(RecordBatchBuilder::new(), &[Rec::new(1000, Some(b"k"), Some(b"v"))])
}

/// A commit marker batch with the given key and value, resealed.
pub(super) fn control_batch(key: Option<&[u8]>, value: Option<&[u8]>) -> Vec<u8> {
    let marker = EndTxnMarker { commit: true, coordinator_epoch: 3 }.build_batch(8, 0, 1000);
    let mut body = Vec::new();
    RawRec { key, value, ..RawRec::new(0, b"") }.encode(&mut body);
    with_body(&marker, &body, 1)
}

/// Runs every read path over `bytes`; they may fail but must not panic.
pub(super) fn exercise(bytes: &[u8]) {
    let _ = frame(bytes);
    for batch in batches(bytes) {
        let Ok(batch) = batch else { continue };
        touch(&batch);
    }
    if let Ok((batch, _rest)) = RecordBatch::parse_prefix(bytes) {
        touch(&batch);
    }
    if let Ok(batch) = RecordBatch::parse(bytes) {
        touch(&batch);
    }
}

fn touch(batch: &RecordBatch<'_>) {
    let _ = batch.validate();
    let _ = (batch.last_sequence(), batch.next_offset(), batch.is_crc_valid(), batch.timestamp_type());
    let _ = format!("{batch:?}");
    if let Ok(records) = batch.records_with_limit(1 << 20) {
        for r in records.iter().flatten() {
            let _ = r.to_owned_record();
        }
    }
    let _ = batch.control_record();
    let _ = batch.end_txn_marker();
}

#[test]
fn test_helpers_build_valid_batches() {
    RecordBatch::parse(&plain_batch()).unwrap().validate().unwrap();
    RecordBatch::parse(&control_batch(Some(&[0, 0, 0, 1]), Some(&[0, 0, 0, 0, 0, 3])))
        .unwrap()
        .validate()
        .unwrap();
    let b = plain_batch();
    let mut body = Vec::new();
    RawRec { key: Some(b"k"), ..RawRec::new(0, b"v") }.encode(&mut body);
    assert_eq!(with_body(&b, &body, 1), b, "hand encoding matches the builder's");
}
