//! W1 (appends, durability none) and W2 (durability always, group commit) with their
//! same-run baselines as sibling functions of each group: raw writes, `commitlog`, SQLite.
//!
//! `cargo bench -p eoslog-benches --bench append`; data size per run from
//! `EOSLOG_BENCH_BYTES` (default 64 MiB here), data under `EOSLOG_BENCH_DIR`.

use std::path::Path;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use eoslog_benches::data::{Shape, StreamKind, Workload};
use eoslog_benches::engine::{self, EngineSetup};
use eoslog_benches::peers::{self, SqliteOptions, Synchronous};
use eoslog_benches::raw::{self, RawSync};
use eoslog_benches::{Backend, Durability, Measurement, bench_bytes, bench_root};

/// Sums the timed regions of `iters` runs: setup (files, engine open) stays outside.
fn timed(iters: u64, mut run: impl FnMut() -> eoslog_benches::Result<Measurement>) -> Duration {
    (0..iters).map(|_| run().expect("workload failed").elapsed).sum()
}

fn backends() -> Vec<Backend> {
    if Backend::uring_available() { Backend::ALL.to_vec() } else { vec![Backend::Std] }
}

fn w1(c: &mut Criterion) {
    let root = bench_root();
    let root: &Path = &root;
    let bytes = bench_bytes(64 << 20);
    let mut g = c.benchmark_group("W1-append-none");
    g.sample_size(10).sampling_mode(SamplingMode::Flat).warm_up_time(Duration::from_secs(1));
    for p in [1usize, 8] {
        let w = Workload::build(StreamKind::Plain, Shape::new(p, bytes)).expect("build batches");
        g.throughput(Throughput::Bytes(w.bytes()));
        for b in backends() {
            let setup = EngineSetup { backend: b, durability: Durability::None };
            g.bench_with_input(BenchmarkId::new(format!("eoslog-{}", b.as_str()), p), &w, |bench, w| {
                bench.iter_custom(|iters| timed(iters, || engine::append(root, w, setup, None, false)))
            });
        }
        g.bench_with_input(BenchmarkId::new("raw-write", p), &w, |bench, w| {
            bench.iter_custom(|iters| timed(iters, || raw::write_files(root, w, RawSync::None)))
        });
        g.bench_with_input(BenchmarkId::new("commitlog", p), &w, |bench, w| {
            bench.iter_custom(|iters| timed(iters, || peers::commitlog_append(root, w, false)))
        });
        let opts = SqliteOptions { synchronous: Synchronous::Off, batches_per_txn: 64, unique_key: false };
        g.bench_with_input(BenchmarkId::new("sqlite", p), &w, |bench, w| {
            bench.iter_custom(|iters| timed(iters, || peers::sqlite_append(root, w, opts)))
        });
    }
    g.finish();
}

fn w2(c: &mut Criterion) {
    let root = bench_root();
    let root: &Path = &root;
    let appends = 512;
    let mut g = c.benchmark_group("W2-append-always");
    g.sample_size(10).sampling_mode(SamplingMode::Flat).warm_up_time(Duration::from_secs(1));
    for t in [1usize, 8, 32, 64] {
        let shape = Shape::new(8, 0).with_streams(t).with_total_batches(appends);
        let w = Workload::build(StreamKind::Plain, shape).expect("build batches");
        g.throughput(Throughput::Bytes(w.bytes()));
        for b in backends() {
            let setup = EngineSetup { backend: b, durability: Durability::Always };
            g.bench_with_input(BenchmarkId::new(format!("eoslog-{}", b.as_str()), t), &w, |bench, w| {
                bench.iter_custom(|iters| timed(iters, || engine::append(root, w, setup, None, false)))
            });
        }
        g.bench_with_input(BenchmarkId::new("raw-fdatasync-per-append", t), &w, |bench, w| {
            bench.iter_custom(|iters| timed(iters, || raw::write_files(root, w, RawSync::EveryAppend)))
        });
        let opts = SqliteOptions { synchronous: Synchronous::Full, batches_per_txn: 1, unique_key: false };
        g.bench_with_input(BenchmarkId::new("sqlite-full", t), &w, |bench, w| {
            bench.iter_custom(|iters| timed(iters, || peers::sqlite_append(root, w, opts)))
        });
    }
    g.finish();
}

criterion_group!(benches, w1, w2);
criterion_main!(benches);
