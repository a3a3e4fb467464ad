//! Index loading: the template's valid log with arbitrary `.index`, `.timeindex` and
//! `.txnindex` bytes for its first segment (the input is split by two 16-bit lengths). Bit 0
//! of the first byte removes the clean-shutdown marker (recovery); otherwise the engine trusts
//! the files and only sanity-checks them. Either way, a read_uncommitted read that succeeds
//! must return exactly the template's records: an index may make a read fail, never lie.
#![no_main]

use eoslog::{CLEAN_SHUTDOWN_FILE, Engine, IsolationLevel};
use eoslog_fuzz::Template;
use libfuzzer_sys::fuzz_target;

fn take<'a>(data: &mut &'a [u8]) -> &'a [u8] {
    if data.len() < 2 {
        return std::mem::take(data);
    }
    let n = (u16::from_be_bytes([data[0], data[1]]) as usize).min(data.len() - 2);
    let (head, tail) = data[2..].split_at(n);
    *data = tail;
    head
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, mut rest)) = data.split_first() else { return };
    let index = take(&mut rest);
    let time_index = take(&mut rest);
    let txn_index = rest;
    let template = eoslog_fuzz::template();
    let (_tmp, dir) = template.copy();
    let pdir = Template::partition_dir(&dir);
    let base = "00000000000000000000";
    std::fs::write(pdir.join(format!("{base}.index")), index).unwrap();
    std::fs::write(pdir.join(format!("{base}.timeindex")), time_index).unwrap();
    std::fs::write(pdir.join(format!("{base}.txnindex")), txn_index).unwrap();
    if flags & 1 == 1 {
        let _ = std::fs::remove_file(dir.join(CLEAN_SHUTDOWN_FILE));
    }
    let Ok(engine) = Engine::open(&dir, eoslog_fuzz::config()) else { return };
    if let Ok(records) = eoslog_fuzz::read_all(&engine, IsolationLevel::ReadUncommitted) {
        assert_eq!(records, template.records, "a damaged index changed what is read");
    }
    let _ = eoslog_fuzz::read_all(&engine, IsolationLevel::ReadCommitted);
    let log = engine.partition(eoslog_fuzz::TOPIC, 0).unwrap();
    for ts in [0, 1_700_000_000_000, 1_700_000_000_001, i64::MAX] {
        let _ = log.list_offset(eoslog::OffsetSpec::Timestamp(ts));
    }
    engine.close().expect("close");
});
