//! The Rust side of `make bench-ffi`: appends the same prebuilt batch `appends` times to one
//! partition through the Rust API and reports the rate. `ffi-c/bench/append_bench.c` does the
//! same through the C ABI; `ffi-c/bench/compare.sh` runs both alternately and prints the ratio.
//!
//! ```text
//! append_bench <data-dir> <appends> <records-per-batch> <value-bytes>
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::Instant;

use eoslog_core::batch::RecordBatchBuilder;
use eoslog_core::{Engine, EngineConfig};

/// CPU time of the whole process (all threads), so a loaded machine's waiting does not count.
fn process_cpu_secs() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `clock_gettime` writes one `timespec` to the valid pointer it is given.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)");
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, appends, records, value_bytes] = args.as_slice() else {
        eprintln!("usage: append_bench <data-dir> <appends> <records-per-batch> <value-bytes>");
        std::process::exit(2);
    };
    let appends: u64 = appends.parse().expect("appends");
    let records: usize = records.parse().expect("records per batch");
    let value = vec![b'x'; value_bytes.parse().expect("value bytes")];

    let engine = Engine::open(dir, EngineConfig::default()).expect("open");
    engine.create_topic_with("bench", 1, &[]).expect("create topic");
    let log = engine.partition("bench", 0).expect("partition");
    // A plain batch (no producer id): every append writes it again, nothing is deduplicated.
    let mut builder = RecordBatchBuilder::new();
    for i in 0..records {
        builder.append(1_700_000_000_000 + i as i64, None, Some(&value), &[]);
    }
    let batch = builder.build().expect("build");

    let (started, cpu_started) = (Instant::now(), process_cpu_secs());
    for _ in 0..appends {
        let info = log.append(&batch).expect("append");
        std::hint::black_box(info);
    }
    let (secs, cpu) = (started.elapsed().as_secs_f64(), process_cpu_secs() - cpu_started);
    engine.close().expect("close");
    println!(
        "rust appends={appends} batch_bytes={} secs={secs:.6} cpu_secs={cpu:.6} appends_per_sec={:.0} \
         appends_per_cpu_sec={:.0}",
        batch.len(),
        appends as f64 / secs,
        appends as f64 / cpu
    );
}
