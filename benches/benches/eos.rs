//! W3 (idempotent) and W4 (transactional) appends against plain appends and SQLite with a
//! `UNIQUE (producer_id, sequence)` key, and the per-batch cost of the dedup check.
//!
//! W4's commit interval is 100 ms worth of data at the plain append rate measured at the start
//! of this run (median of three runs), as the issue asks.
//! `cargo bench -p eoslog-benches --bench eos`.

use std::path::Path;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use eoslog_benches::data::{Shape, StreamKind, Workload};
use eoslog_benches::engine::{self, EngineSetup, Transactions};
use eoslog_benches::peers::{self, SqliteOptions, Synchronous};
use eoslog_benches::{Backend, Durability, Measurement, bench_bytes, bench_root, median, producer};

fn timed(iters: u64, mut run: impl FnMut() -> eoslog_benches::Result<Measurement>) -> Duration {
    (0..iters).map(|_| run().expect("workload failed").elapsed).sum()
}

fn exactly_once(c: &mut Criterion) {
    let root = bench_root();
    let root: &Path = &root;
    let bytes = bench_bytes(64 << 20);
    let backend = if Backend::uring_available() { Backend::Uring } else { Backend::Std };
    let setup = EngineSetup { backend, durability: Durability::None };
    let mut g = c.benchmark_group("W3W4-exactly-once");
    g.sample_size(10).sampling_mode(SamplingMode::Flat).warm_up_time(Duration::from_secs(1));
    for p in [1usize, 8] {
        let shape = Shape::new(p, bytes);
        let plain = Workload::build(StreamKind::Plain, shape).expect("build");
        let idem = Workload::build(StreamKind::Idempotent, shape).expect("build");
        let txn = Workload::build(StreamKind::Transactional, shape).expect("build");
        let rates: Vec<f64> = (0..3)
            .map(|_| engine::append(root, &plain, setup, None, false).expect("W1").bytes_per_sec())
            .collect();
        let t =
            Transactions::at_rate(median(&rates) / p as f64, Duration::from_millis(100), plain.batch_len());
        g.throughput(Throughput::Bytes(plain.bytes()));
        g.bench_with_input(BenchmarkId::new("eoslog-plain", p), &plain, |b, w| {
            b.iter_custom(|iters| timed(iters, || engine::append(root, w, setup, None, false)))
        });
        g.bench_with_input(BenchmarkId::new("eoslog-idempotent", p), &idem, |b, w| {
            b.iter_custom(|iters| timed(iters, || engine::append(root, w, setup, None, false)))
        });
        let id = BenchmarkId::new(format!("eoslog-transactional-{}batches", t.batches_per_txn), p);
        g.bench_with_input(id, &txn, |b, w| {
            b.iter_custom(|iters| timed(iters, || engine::append(root, w, setup, Some(t), false)))
        });
        let unique = SqliteOptions { synchronous: Synchronous::Off, batches_per_txn: 64, unique_key: true };
        g.bench_with_input(BenchmarkId::new("sqlite-unique", p), &idem, |b, w| {
            b.iter_custom(|iters| timed(iters, || peers::sqlite_append(root, w, unique)))
        });
    }
    g.finish();
}

fn dedup(c: &mut Criterion) {
    let batches = 100_000;
    let mut g = c.benchmark_group("dedup-check");
    g.throughput(Throughput::Elements(batches as u64));
    for producers in [1usize, 1000] {
        g.bench_with_input(BenchmarkId::from_parameter(producers), &producers, |b, &n| {
            b.iter_custom(|iters| timed(iters, || producer::dedup_check(n, batches)))
        });
    }
    g.finish();
}

criterion_group!(benches, exactly_once, dedup);
criterion_main!(benches);
