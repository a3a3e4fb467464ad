//! The C ABI with arbitrary bytes: the `eoslog_*` entry points a C program would call —
//! batch validation and iteration over caller memory, appends to a partition and produce
//! requests, and topic names for create / delete / open — on one long-lived engine opened
//! through `eoslog_engine_open`. The first byte picks the entry point. Whatever the bytes, no
//! call may panic (the ABI would turn it into `EOSLOG_RESULT_PANIC`); validation and append
//! must agree (what the append accepts validates); an accepted append must be readable at its
//! offset through `eoslog_partition_read`; an illegal topic name must be refused with
//! INVALID_TOPIC_EXCEPTION (or INVALID_UTF8 for bytes that are not UTF-8) and create nothing.
#![no_main]

use std::ffi::CString;
use std::mem::MaybeUninit;
use std::sync::OnceLock;

use eoslog_ffi::batch::{
    eoslog_batch_info, eoslog_batch_iter, eoslog_batch_iter_free, eoslog_batch_iter_new,
    eoslog_batch_iter_next, eoslog_batch_iter_records, eoslog_batch_validate, eoslog_record,
    eoslog_record_iter, eoslog_record_iter_free, eoslog_record_iter_next,
};
use eoslog_ffi::engine::{
    eoslog_engine, eoslog_engine_create_topic, eoslog_engine_delete_topic, eoslog_engine_open,
};
use eoslog_ffi::log::{
    EOSLOG_ISOLATION_READ_UNCOMMITTED, eoslog_append_info, eoslog_engine_produce, eoslog_fetch,
    eoslog_fetch_free, eoslog_partition, eoslog_partition_append, eoslog_partition_free,
    eoslog_partition_open, eoslog_partition_read,
};
use eoslog_ffi::result::eoslog_result;
use libfuzzer_sys::fuzz_target;

/// The engine and one partition, opened once through the C ABI (kept for the whole run).
struct Fixture {
    _tmp: tempfile::TempDir,
    engine: usize,
    partition: usize,
}

impl Fixture {
    fn engine(&self) -> *const eoslog_engine {
        self.engine as *const eoslog_engine
    }
    fn partition(&self) -> *const eoslog_partition {
        self.partition as *const eoslog_partition
    }
}

fn ok(r: eoslog_result, what: &str) {
    assert!(matches!(r, eoslog_result::Ok), "{what}: {r:?}");
}

fn no_panic(r: eoslog_result, what: &str) -> eoslog_result {
    assert!(!matches!(r, eoslog_result::Panic), "{what} panicked");
    r
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let tmp = eoslog_fuzz::scratch();
        let dir = CString::new(tmp.path().join("data").to_str().unwrap()).unwrap();
        let mut engine = std::ptr::null_mut::<eoslog_engine>();
        ok(eoslog_engine_open(dir.as_ptr(), std::ptr::null(), 0, &mut engine), "eoslog_engine_open");
        let topic = c"t";
        ok(eoslog_engine_create_topic(engine, topic.as_ptr(), 1, std::ptr::null(), 0), "create_topic");
        let mut partition = std::ptr::null_mut::<eoslog_partition>();
        ok(eoslog_partition_open(engine, topic.as_ptr(), 0, &mut partition), "partition_open");
        Fixture { _tmp: tmp, engine: engine as usize, partition: partition as usize }
    })
}

/// Walks every batch and record of `data` through the C iterators (bounded).
fn iterate(data: &[u8]) {
    let mut it = std::ptr::null_mut::<eoslog_batch_iter>();
    if !matches!(
        no_panic(eoslog_batch_iter_new(data.as_ptr(), data.len(), &mut it), "batch_iter_new"),
        eoslog_result::Ok
    ) {
        return;
    }
    for _ in 0..64 {
        let mut info = MaybeUninit::<eoslog_batch_info>::uninit();
        if !matches!(
            no_panic(eoslog_batch_iter_next(it, info.as_mut_ptr()), "batch_iter_next"),
            eoslog_result::Ok
        ) {
            break;
        }
        let mut records = std::ptr::null_mut::<eoslog_record_iter>();
        if matches!(
            no_panic(eoslog_batch_iter_records(it, &mut records), "batch_iter_records"),
            eoslog_result::Ok
        ) {
            for _ in 0..4096 {
                let mut r = MaybeUninit::<eoslog_record>::uninit();
                if !matches!(
                    no_panic(eoslog_record_iter_next(records, r.as_mut_ptr()), "record_iter_next"),
                    eoslog_result::Ok
                ) {
                    break;
                }
            }
            ok(eoslog_record_iter_free(records), "record_iter_free");
        }
    }
    ok(eoslog_batch_iter_free(it), "batch_iter_free");
}

/// `bytes` as a NUL-terminated C string, cut at its first NUL (what a C caller could pass).
fn c_string(bytes: &[u8]) -> CString {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    CString::new(&bytes[..end]).unwrap()
}

fn legal_topic(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != b"."
        && name != b".."
        && name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let f = fixture();
    let mut buf = rest.to_vec();
    if selector & 0x80 != 0 {
        eoslog_fuzz::fix_batch_crcs(&mut buf);
    }
    match selector % 5 {
        0 => {
            no_panic(eoslog_batch_validate(buf.as_ptr(), buf.len()), "batch_validate");
            iterate(&buf);
        }
        1 | 2 => {
            let valid = matches!(eoslog_batch_validate(buf.as_ptr(), buf.len()), eoslog_result::Ok);
            let mut info = eoslog_append_info::default();
            let r = if selector % 5 == 1 {
                no_panic(eoslog_partition_append(f.partition(), buf.as_ptr(), buf.len(), &mut info), "append")
            } else {
                no_panic(
                    eoslog_engine_produce(
                        f.engine(),
                        c"t".as_ptr(),
                        0,
                        buf.as_ptr(),
                        buf.len(),
                        std::ptr::null(),
                        &mut info,
                    ),
                    "produce",
                )
            };
            if matches!(r, eoslog_result::Ok) {
                assert!(valid, "an append accepted a batch that eoslog_batch_validate refuses");
                let mut fetch = std::ptr::null_mut::<eoslog_fetch>();
                let read = eoslog_partition_read(
                    f.partition(),
                    info.first_offset,
                    1,
                    EOSLOG_ISOLATION_READ_UNCOMMITTED,
                    &mut fetch,
                );
                ok(read, "partition_read");
                ok(eoslog_fetch_free(fetch), "fetch_free");
            }
        }
        3 => {
            let name = c_string(&buf);
            let legal = legal_topic(name.as_bytes());
            let r = no_panic(
                eoslog_engine_create_topic(f.engine(), name.as_ptr(), 1, std::ptr::null(), 0),
                "create_topic",
            );
            if !legal {
                // Bytes that are not UTF-8 are refused as such before the name rule applies.
                let expected = if std::str::from_utf8(name.as_bytes()).is_ok() {
                    eoslog_result::InvalidTopicException
                } else {
                    eoslog_result::InvalidUtf8
                };
                assert_eq!(r, expected, "{name:?}");
            }
            if matches!(r, eoslog_result::Ok) {
                ok(eoslog_engine_delete_topic(f.engine(), name.as_ptr()), "delete_topic");
            }
        }
        _ => {
            let name = c_string(&buf);
            let mut p = std::ptr::null_mut::<eoslog_partition>();
            let r = no_panic(
                eoslog_partition_open(f.engine(), name.as_ptr(), i32::from(selector >> 4), &mut p),
                "open",
            );
            if matches!(r, eoslog_result::Ok) {
                ok(eoslog_partition_free(p), "partition_free");
            }
            no_panic(eoslog_engine_delete_topic(f.engine(), name.as_ptr()), "delete_topic");
        }
    }
});
