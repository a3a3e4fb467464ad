//! The partition append API with arbitrary bytes, against one long-lived engine: the input is
//! appended as a client batch (the leader path: validation, producer state, offsets), as a
//! follower batch, or as a produce request through the engine, chosen by the first byte. Any
//! append that succeeds must be readable back at the offsets it was given, with a valid CRC.
#![no_main]

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use eoslog::{Engine, IsolationLevel};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    _tmp: tempfile::TempDir,
    engine: Engine,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let tmp = eoslog_fuzz::scratch();
        let engine = Engine::open(tmp.path().join("data"), eoslog_fuzz::config()).expect("open");
        // Small segments and a byte retention keep the directory bounded over a long run.
        engine
            .create_topic_with(
                eoslog_fuzz::TOPIC,
                1,
                &[("segment.bytes", "65536"), ("retention.bytes", "262144"), ("index.interval.bytes", "512")],
            )
            .expect("create topic");
        Fixture { _tmp: tmp, engine }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let f = fixture();
    let log = f.engine.partition(eoslog_fuzz::TOPIC, 0).expect("partition");
    let mut buf = rest.to_vec();
    if flags & 1 == 1 {
        eoslog_fuzz::fix_batch_crcs(&mut buf);
    }
    let before = log.log_end_offset();
    let result = match (flags >> 1) % 3 {
        0 => log.append(&buf),
        1 => log.append_as_follower(&buf),
        _ => f.engine.produce(eoslog_fuzz::TOPIC, 0, &buf, None),
    };
    match result {
        Ok(info) if !info.duplicate => {
            assert!(
                info.first_offset >= before,
                "appended at {} below the old end {before}",
                info.first_offset
            );
            assert!(info.last_offset >= info.first_offset);
            assert!(log.log_end_offset() > info.last_offset, "the log end did not pass the append");
            let data = log.read(info.first_offset, 1, IsolationLevel::ReadUncommitted).expect("read back");
            let first = data.records.batches().next().expect("a batch").expect("a whole batch");
            assert!(first.is_crc_valid());
            assert!(first.base_offset() <= info.first_offset && first.last_offset() >= info.first_offset);
        }
        Ok(_) => {}
        // Refused: nothing may have been written.
        Err(_) => assert_eq!(log.log_end_offset(), before, "a refused append moved the log end"),
    }
    static RUNS: AtomicU64 = AtomicU64::new(0);
    if RUNS.fetch_add(1, Ordering::Relaxed) % 256 == 255 {
        f.engine.run_retention().expect("retention");
    }
});
