//! Batch parsing and validation over arbitrary bytes: `RecordBatch::parse`, `validate`, the
//! record iterator, control records, and framing of back-to-back batches. With the first byte
//! odd, CRCs are fixed up first so that mutations get past the checksum.
#![no_main]

use eoslog::RecordBatch;
use eoslog::batch::{batches, frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let mut buf = rest.to_vec();
    if flags & 1 == 1 {
        eoslog_fuzz::fix_batch_crcs(&mut buf);
    }
    if let Ok(b) = RecordBatch::parse(&buf) {
        eoslog_fuzz::exercise_batch(&b);
    }
    let _ = frame(&buf);
    for b in batches(&buf).take(64) {
        match b {
            Ok(b) => eoslog_fuzz::exercise_batch(&b),
            Err(_) => break,
        }
    }
});
