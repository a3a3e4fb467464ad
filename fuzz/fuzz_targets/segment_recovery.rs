//! Segment recovery over arbitrary file contents: the input becomes the first (here: only)
//! `.log` file of a partition, and the directory is opened as after a crash (or, with bit 1 of
//! the first byte, as after a clean shutdown, when the engine trusts the files). Bit 0 fixes
//! CRCs up first. Whatever the bytes, the engine opens or refuses with an error; every batch it
//! serves is whole and CRC-valid; and a second (clean) open serves exactly what the first did.
#![no_main]

use eoslog::{CLEAN_SHUTDOWN_FILE, Engine, IsolationLevel};
use eoslog_fuzz::Template;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let mut buf = rest.to_vec();
    if flags & 1 == 1 {
        eoslog_fuzz::fix_batch_crcs(&mut buf);
    }
    let template = eoslog_fuzz::template();
    let (_tmp, dir) = template.copy();
    let pdir = Template::partition_dir(&dir);
    // One segment: the fuzz input. Its indexes are rebuilt; no snapshot is trusted.
    for entry in std::fs::read_dir(&pdir).unwrap() {
        let path = entry.unwrap().path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if matches!(ext, "log" | "index" | "timeindex" | "txnindex" | "snapshot") {
            std::fs::remove_file(path).unwrap();
        }
    }
    std::fs::write(pdir.join("00000000000000000000.log"), &buf).unwrap();
    if flags & 2 == 0 {
        let _ = std::fs::remove_file(dir.join(CLEAN_SHUTDOWN_FILE));
    }
    let Ok(engine) = Engine::open(&dir, eoslog_fuzz::config()) else { return };
    let first = eoslog_fuzz::read_all(&engine, IsolationLevel::ReadUncommitted);
    let _ = eoslog_fuzz::read_all(&engine, IsolationLevel::ReadCommitted);
    engine.close().expect("close after recovery");
    let Ok(first) = first else { return };
    if flags & 2 == 0 {
        // Recovered: a clean reopen serves the same records.
        let engine = Engine::open(&dir, eoslog_fuzz::config()).expect("reopen after recovery");
        let second =
            eoslog_fuzz::read_all(&engine, IsolationLevel::ReadUncommitted).expect("read after reopen");
        assert_eq!(first, second, "a clean reopen after recovery serves other records");
        engine.close().expect("close");
    }
});
