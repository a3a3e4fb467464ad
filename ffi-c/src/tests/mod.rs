//! Rust-side tests of the ABI: the exported functions called the way C calls them. The C tests
//! in `tests/c/` cover the whole surface; these keep the unsafe parts (borrowed views, the
//! self-borrowing iterators, the handle quarantine) under `cargo test` too.

use std::ffi::{CStr, CString, c_char};
use std::ptr;

mod groups;

use crate::batch::*;
use crate::engine::*;
use crate::log::*;
use crate::result::eoslog_result;

const OK: eoslog_result = eoslog_result::Ok;

fn open(dir: &std::path::Path) -> *mut eoslog_engine {
    let path = CString::new(dir.to_str().unwrap()).unwrap();
    let config = [eoslog_config_pair { key: c"durability".as_ptr(), value: c"none".as_ptr() }];
    let mut engine = ptr::null_mut();
    assert_eq!(eoslog_engine_open(path.as_ptr(), config.as_ptr(), config.len(), &mut engine), OK);
    engine
}

/// A batch of `n` records `v<i>` with one header each, built through the ABI.
fn build(compression: eoslog_compression, producer: (i64, i16, i32), n: usize) -> Vec<u8> {
    let mut b = ptr::null_mut();
    assert_eq!(eoslog_batch_builder_new(&mut b), OK);
    assert_eq!(eoslog_batch_builder_set_compression(b, compression), OK);
    assert_eq!(eoslog_batch_builder_set_producer(b, producer.0, producer.1, producer.2), OK);
    for i in 0..n {
        let value = format!("v{i}");
        let header = eoslog_header { key: b"h".as_ptr(), key_len: 1, value: b"x".as_ptr(), value_len: 1 };
        assert_eq!(
            eoslog_batch_builder_append(
                b,
                1000 + i as i64,
                ptr::null(),
                0,
                value.as_ptr(),
                value.len(),
                &header,
                1
            ),
            OK
        );
    }
    let mut buf = ptr::null_mut();
    assert_eq!(eoslog_batch_builder_build(b, &mut buf), OK);
    // SAFETY: `buf` is a live buffer handle; the slice is copied before the buffer is freed.
    let bytes =
        unsafe { std::slice::from_raw_parts(eoslog_buffer_data(buf), eoslog_buffer_len(buf)) }.to_vec();
    assert_eq!(eoslog_buffer_free(buf), OK);
    assert_eq!(eoslog_batch_builder_free(b), OK);
    bytes
}

/// Collects the values of a record iterator.
fn values(it: *mut eoslog_record_iter) -> Vec<String> {
    let mut out = Vec::new();
    let mut r = std::mem::MaybeUninit::<eoslog_record>::uninit();
    loop {
        match eoslog_record_iter_next(it, r.as_mut_ptr()) {
            eoslog_result::Ok => {}
            eoslog_result::Done => return out,
            other => panic!("record iterator failed: {other:?}"),
        }
        // SAFETY: written by the successful call above.
        let r = unsafe { r.assume_init_ref() };
        // SAFETY: the value points into the iterator's source, alive while the iterator is.
        let v = unsafe { std::slice::from_raw_parts(r.value, r.value_len) };
        out.push(String::from_utf8(v.to_vec()).unwrap());
        let mut h = std::mem::MaybeUninit::<eoslog_header>::uninit();
        assert_eq!(eoslog_record_iter_get_header(it, 0, h.as_mut_ptr()), OK);
    }
}

#[test]
fn append_dedup_read_and_iterators_outliving_the_fetch() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    assert_eq!(eoslog_engine_create_topic(engine, c"t".as_ptr(), 1, ptr::null(), 0), OK);
    let mut p = ptr::null_mut();
    assert_eq!(eoslog_partition_open(engine, c"t".as_ptr(), 0, &mut p), OK);

    let batch = build(EOSLOG_COMPRESSION_LZ4, (11, 0, 0), 5);
    let mut info = eoslog_append_info::default();
    assert_eq!(eoslog_partition_append(p, batch.as_ptr(), batch.len(), &mut info), OK);
    assert_eq!((info.first_offset, info.last_offset, info.duplicate), (0, 4, false));
    assert_eq!(eoslog_partition_append(p, batch.as_ptr(), batch.len(), &mut info), OK);
    assert!(info.duplicate && info.first_offset == 0);

    let mut fetch = ptr::null_mut();
    assert_eq!(eoslog_partition_read(p, 0, 1 << 20, EOSLOG_ISOLATION_READ_COMMITTED, &mut fetch), OK);
    let mut batches = ptr::null_mut();
    assert_eq!(eoslog_fetch_batches(fetch, &mut batches), OK);
    // The iterators keep the fetched bytes alive after the fetch handle is gone.
    assert_eq!(eoslog_fetch_free(fetch), OK);
    assert_eq!(eoslog_fetch_free(fetch), eoslog_result::InvalidHandle);
    let mut b = std::mem::MaybeUninit::<eoslog_batch_info>::uninit();
    assert_eq!(eoslog_batch_iter_next(batches, b.as_mut_ptr()), OK);
    let mut records = ptr::null_mut();
    assert_eq!(eoslog_batch_iter_records(batches, &mut records), OK);
    assert_eq!(eoslog_batch_iter_free(batches), OK);
    // Decompressed records, owned by the record iterator; the batch bytes by the fetch data.
    assert_eq!(values(records), ["v0", "v1", "v2", "v3", "v4"]);
    assert_eq!(eoslog_record_iter_free(records), OK);

    assert_eq!(eoslog_partition_free(p), OK);
    assert_eq!(eoslog_engine_close(engine), OK);
    assert_eq!(eoslog_engine_free(engine), OK);
}

#[test]
fn record_iterator_over_borrowed_bytes_and_every_codec() {
    for codec in [
        EOSLOG_COMPRESSION_NONE,
        EOSLOG_COMPRESSION_GZIP,
        EOSLOG_COMPRESSION_SNAPPY,
        EOSLOG_COMPRESSION_LZ4,
        EOSLOG_COMPRESSION_ZSTD,
    ] {
        let batch = build(codec, (-1, -1, -1), 3);
        assert_eq!(eoslog_batch_validate(batch.as_ptr(), batch.len()), OK);
        let mut it = ptr::null_mut();
        assert_eq!(eoslog_record_iter_new(batch.as_ptr(), batch.len(), &mut it), OK);
        assert_eq!(values(it), ["v0", "v1", "v2"]);
        let mut r = std::mem::MaybeUninit::<eoslog_record>::uninit();
        assert_eq!(eoslog_record_iter_next(it, r.as_mut_ptr()), eoslog_result::Done);
        assert_eq!(eoslog_record_iter_free(it), OK);
    }
}

#[test]
fn a_closed_engine_refuses_everything_but_free() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    assert_eq!(eoslog_engine_create_topic(engine, c"t".as_ptr(), 1, ptr::null(), 0), OK);
    let mut p = ptr::null_mut();
    assert_eq!(eoslog_partition_open(engine, c"t".as_ptr(), 0, &mut p), OK);
    assert_eq!(eoslog_engine_close(engine), OK);
    let batch = build(EOSLOG_COMPRESSION_NONE, (-1, -1, -1), 1);
    let mut info = eoslog_append_info::default();
    assert_eq!(eoslog_partition_append(p, batch.as_ptr(), batch.len(), &mut info), eoslog_result::Closed);
    assert_eq!(eoslog_engine_close(engine), eoslog_result::Closed);
    assert_eq!(eoslog_engine_flush(engine), eoslog_result::Closed);
    assert_eq!(eoslog_partition_free(p), OK);
    assert_eq!(eoslog_engine_free(engine), OK);
}

#[test]
fn freeing_more_handles_than_the_quarantine_holds_releases_the_oldest() {
    let mut freed = Vec::new();
    for _ in 0..crate::ffi::QUARANTINE_LEN + 100 {
        let mut b = ptr::null_mut();
        assert_eq!(eoslog_batch_builder_new(&mut b), OK);
        assert_eq!(eoslog_batch_builder_free(b), OK);
        freed.push(b);
    }
    // The most recently freed ones are still recognised (the oldest were released and are
    // not touched again).
    let recent = *freed.last().unwrap();
    assert_eq!(eoslog_batch_builder_free(recent), eoslog_result::InvalidHandle);
}

#[test]
fn names_of_codes_and_kinds() {
    let name = |p: *const c_char| {
        // SAFETY: the functions return static NUL-terminated strings.
        unsafe { CStr::from_ptr(p) }.to_str().unwrap()
    };
    assert_eq!(name(crate::result::eoslog_result_name(90)), "PRODUCER_FENCED");
    assert_eq!(name(crate::result::eoslog_result_name(7006)), "INVALID_HANDLE");
    assert_eq!(name(crate::result::eoslog_result_name(12345)), "UNKNOWN_RESULT");
    assert_eq!(name(eoslog_io_kind_name(EOSLOG_IO_KIND_URING)), "uring");
    assert_eq!(name(eoslog_compression_name(EOSLOG_COMPRESSION_SNAPPY)), "snappy");
    assert_eq!(name(crate::eoslog_version()), env!("CARGO_PKG_VERSION"));
    let part = |s: &str| s.parse::<u32>().unwrap();
    assert_eq!(
        crate::eoslog_version_number(),
        part(env!("CARGO_PKG_VERSION_MAJOR")) * 1_000_000
            + part(env!("CARGO_PKG_VERSION_MINOR")) * 1_000
            + part(env!("CARGO_PKG_VERSION_PATCH"))
    );
}
