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

    let started = Instant::now();
    for _ in 0..appends {
        let info = log.append(&batch).expect("append");
        std::hint::black_box(info);
    }
    let secs = started.elapsed().as_secs_f64();
    engine.close().expect("close");
    println!(
        "rust appends={appends} batch_bytes={} secs={secs:.6} appends_per_sec={:.0}",
        batch.len(),
        appends as f64 / secs
    );
}
