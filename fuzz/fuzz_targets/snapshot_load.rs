//! Producer-snapshot loading: the input is decoded as a snapshot (bit 0 of the first byte fixes
//! its CRC first; a decoded snapshot must re-encode to something that decodes the same), then
//! placed as the partition's latest `.snapshot` and the directory opened, as after a crash
//! (bit 1) or cleanly. The records read back are the template's, whatever the snapshot said.
#![no_main]

use eoslog::producer::{decode_snapshot, encode_snapshot};
use eoslog::{CLEAN_SHUTDOWN_FILE, Engine, IsolationLevel};
use eoslog_fuzz::Template;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let mut buf = rest.to_vec();
    if flags & 1 == 1 {
        eoslog_fuzz::fix_snapshot_crc(&mut buf);
    }
    if let Ok(mut entries) = decode_snapshot(&buf) {
        let again = decode_snapshot(&encode_snapshot(&entries)).expect("a re-encoded snapshot decodes");
        entries.sort_by_key(|e| e.producer_id);
        assert_eq!(again, entries, "a snapshot does not survive re-encoding");
    }
    let template = eoslog_fuzz::template();
    let (_tmp, dir) = template.copy();
    let pdir = Template::partition_dir(&dir);
    let mut snapshots: Vec<_> = std::fs::read_dir(&pdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "snapshot"))
        .collect();
    snapshots.sort();
    let target = snapshots.pop().unwrap_or_else(|| {
        let end = template.records.last().map_or(0, |r| r.0 + 1);
        pdir.join(format!("{end:020}.snapshot"))
    });
    std::fs::write(&target, &buf).unwrap();
    if flags & 2 == 2 {
        let _ = std::fs::remove_file(dir.join(CLEAN_SHUTDOWN_FILE));
    }
    let Ok(engine) = Engine::open(&dir, eoslog_fuzz::config()) else { return };
    if let Ok(records) = eoslog_fuzz::read_all(&engine, IsolationLevel::ReadUncommitted) {
        assert_eq!(records, template.records, "a damaged snapshot changed what is read");
    }
    let _ = eoslog_fuzz::read_all(&engine, IsolationLevel::ReadCommitted);
    engine.close().expect("close");
});
