//! W5 (read_committed scan with 10% aborted transactions), W6 (recovery of an unclean log) and
//! W7 (open of a cleanly closed log), each with a raw-file baseline on the same files.
//!
//! The logs are built once per group (untimed). Size from `EOSLOG_BENCH_BYTES` (default
//! 256 MiB). `cargo bench -p eoslog-benches --bench read_recover`.

use std::path::Path;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use eoslog_benches::data::{Shape, StreamKind, Workload};
use eoslog_benches::engine::{self, Transactions, UncleanLog};
use eoslog_benches::{Backend, DEFAULT_BENCH_BYTES, Measurement, bench_bytes, bench_root, raw};

fn timed(iters: u64, mut run: impl FnMut() -> eoslog_benches::Result<Measurement>) -> Duration {
    (0..iters).map(|_| run().expect("workload failed").elapsed).sum()
}

fn backends() -> Vec<Backend> {
    if Backend::uring_available() { Backend::ALL.to_vec() } else { vec![Backend::Std] }
}

fn read_and_recover(c: &mut Criterion) {
    let root = bench_root();
    let root: &Path = &root;
    let bytes = bench_bytes(DEFAULT_BENCH_BYTES);
    let w = Workload::build(StreamKind::Transactional, Shape::new(1, bytes)).expect("build");
    let t = Transactions { batches_per_txn: 8, abort_every: Some(10) };
    let log = engine::build_log(root, &w, backends()[0], Some(t)).expect("build the log");
    drop(w);

    let mut g = c.benchmark_group("W5-read-committed");
    g.sample_size(10).sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Bytes(log.log_bytes));
    for b in backends() {
        g.bench_function(BenchmarkId::new("eoslog", b.as_str()), |bench| {
            bench.iter_custom(|iters| timed(iters, || engine::read_committed_scan(&log, b, 1 << 20)))
        });
    }
    g.bench_function(BenchmarkId::new("raw-read", "1MiB"), |bench| {
        bench.iter_custom(|iters| timed(iters, || raw::read_files(log.dir(), 1 << 20, false)))
    });
    g.bench_function(BenchmarkId::new("raw-read-crc32c", "1MiB"), |bench| {
        bench.iter_custom(|iters| timed(iters, || raw::read_files(log.dir(), 1 << 20, true)))
    });
    g.finish();

    let unclean = UncleanLog::from_built(&log, root, backends()[0]).expect("unclean copy");
    let mut g = c.benchmark_group("W6-recovery");
    g.sample_size(10).sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Bytes(unclean.log_bytes));
    for b in backends() {
        g.bench_function(BenchmarkId::new("eoslog", b.as_str()), |bench| {
            bench.iter_custom(|iters| {
                timed(iters, || engine::recover(&unclean, root, b).map(|r| r.measurement))
            })
        });
    }
    g.bench_function(BenchmarkId::new("raw-read-crc32c", "1MiB"), |bench| {
        bench.iter_custom(|iters| timed(iters, || raw::read_files(unclean.dir(), 1 << 20, true)))
    });
    g.finish();
}

fn open_clean(c: &mut Criterion) {
    let root = bench_root();
    let root: &Path = &root;
    let bytes = bench_bytes(DEFAULT_BENCH_BYTES);
    let chunk = bytes.min(256 << 20);
    let w = Workload::build(StreamKind::Plain, Shape::new(1, chunk)).expect("build");
    let log = engine::build_log_repeated(root, &w, backends()[0], bytes.div_ceil(chunk) as usize)
        .expect("build the log");
    drop(w);
    let mut g = c.benchmark_group("W7-open-clean");
    g.sample_size(10).sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Bytes(log.log_bytes));
    for b in backends() {
        g.bench_function(BenchmarkId::new("eoslog", b.as_str()), |bench| {
            bench.iter_custom(|iters| timed(iters, || engine::open_clean(&log, b)))
        });
    }
    g.bench_function(BenchmarkId::new("raw-open-fstat", log.log_bytes >> 20), |bench| {
        bench.iter_custom(|iters| timed(iters, || raw::open_files(log.dir())))
    });
    g.finish();
}

criterion_group!(benches, read_and_recover, open_clean);
criterion_main!(benches);
