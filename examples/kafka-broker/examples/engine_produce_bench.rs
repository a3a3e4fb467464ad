//! The in-process baseline for the broker benchmark: the same records a librdkafka producer
//! sends to `eoslog-broker`, built into batches and appended through [`Engine::produce`] (the
//! call the broker's Produce handler makes), idempotently or in transactions.
//!
//! `engine_produce_bench DIR RECORDS SIZE BATCH MODE [TXN_RECORDS]` prints one JSON line.
//! MODE is `idempotent` or `transactional`; a transaction spans TXN_RECORDS records (default
//! 10000), as the librdkafka side commits.

#![allow(clippy::print_stdout)] // A benchmark that reports on standard output.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use eoslog::txn::{TransactionVersion, TxnTopicPartition};
use eoslog::{Engine, EngineConfig, RecordBatchBuilder};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 5 {
        eprintln!(
            "usage: engine_produce_bench DIR RECORDS SIZE BATCH idempotent|transactional [TXN_RECORDS]"
        );
        std::process::exit(2);
    }
    let dir = &args[0];
    let parse = |i: usize| -> usize { args[i].parse().expect("a number") };
    let (records, size, batch) = (parse(1), parse(2), parse(3).max(1));
    let transactional = match args[4].as_str() {
        "idempotent" => false,
        "transactional" => true,
        other => panic!("unknown mode {other}"),
    };
    let txn_records = args.get(5).map(|s| s.parse().expect("a number")).unwrap_or(10_000usize);

    let engine = Engine::open(dir, EngineConfig::default()).expect("open the engine");
    engine.create_topic_with("bench", 1, &[]).expect("create the topic");
    let txns = engine.transactions();
    let tid = "bench-producer";
    let mut pe = txns.init_producer_id(transactional.then_some(tid), 60_000, None).expect("a producer id");
    let value = vec![b'x'; size];
    let started = Instant::now();
    let mut sequence = 0i32;
    let mut sent = 0usize;
    let mut in_txn = 0usize;
    while sent < records {
        if transactional && in_txn == 0 {
            txns.add_partitions_to_txn(
                tid,
                pe.producer_id,
                pe.epoch,
                &[TxnTopicPartition::new("bench", 0)],
                TransactionVersion::Tv0,
            )
            .expect("add the partition");
        }
        let n = batch.min(records - sent);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("time").as_millis() as i64;
        let mut b = RecordBatchBuilder::new()
            .producer(pe.producer_id, pe.epoch, sequence)
            .transactional(transactional);
        for _ in 0..n {
            b.append(now, None, Some(&value), &[]);
        }
        let bytes = b.build().expect("a batch");
        engine.produce("bench", 0, &bytes, transactional.then_some(tid)).expect("append");
        sequence = sequence.wrapping_add(n as i32);
        sent += n;
        in_txn += n;
        if transactional && (in_txn >= txn_records || sent == records) {
            pe = txns.end_txn(tid, pe.producer_id, pe.epoch, true, TransactionVersion::Tv0).expect("commit");
            in_txn = 0;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    engine.close().expect("close");
    println!(
        "{{\"side\":\"in-process\",\"mode\":\"{}\",\"size\":{size},\"records\":{records},\"batch\":{batch},\"seconds\":{secs:.3},\"records_per_sec\":{:.0},\"mb_per_sec\":{:.1}}}",
        args[4],
        records as f64 / secs,
        (records * size) as f64 / secs / 1e6
    );
}
