//! Read-process-write throughput: exactly-once (transactions committed every 100 ms, offsets
//! sent in the transaction) against the same pipeline without transactions (idempotent
//! produce, a plain offset commit every 100 ms), measured in one run on the same input.
//!
//! ```text
//! cargo run --release -p eoslog --example rpw_bench -- [records] [runs] [value-bytes] [data-dir]
//! ```
//!
//! Defaults: 200000 records of 100 bytes over 4 partitions, 5 runs of each pipeline
//! (alternating which goes first), a temporary directory. Prints the median records/s of each
//! pipeline and their ratio.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::{Duration, Instant};

use eoslog::client::{
    Consumer, ConsumerConfig, OffsetAndMetadata, Producer, ProducerConfig, ProducerRecord, TopicPartition,
};
use eoslog::{Engine, EngineConfig};

const PARTITIONS: i32 = 4;
const COMMIT_INTERVAL: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Transactional,
    Plain,
}

fn transform(v: &[u8]) -> Vec<u8> {
    v.to_ascii_uppercase()
}

/// Copies all of `in` to a fresh output topic; returns records/s, the number of commits and
/// the time spent committing.
fn pipeline(engine: &Engine, mode: Mode, run: usize, records: usize) -> eoslog::Result<(f64, u32, Duration)> {
    let tag = match mode {
        Mode::Transactional => "txn",
        Mode::Plain => "plain",
    };
    let out = format!("out-{tag}-{run}");
    let group = format!("g-{tag}-{run}");
    engine.create_topic(&out, PARTITIONS, Default::default())?;
    let consumer = Consumer::new(
        engine,
        ConsumerConfig::from_pairs(&[
            ("group.id", group.as_str()),
            ("isolation.level", "read_committed"),
            ("auto.offset.reset", "earliest"),
        ])?,
    )?;
    let assigned: Vec<TopicPartition> = (0..PARTITIONS).map(|p| TopicPartition::new("in", p)).collect();
    consumer.assign(&assigned)?;
    let producer = match mode {
        Mode::Transactional => {
            let id = format!("rpw-{run}");
            let p = Producer::new(engine, ProducerConfig::from_pairs(&[("transactional.id", id.as_str())])?)?;
            p.init_transactions()?;
            p.begin_transaction()?;
            p
        }
        Mode::Plain => Producer::new(engine, ProducerConfig::default())?,
    };
    let positions = |c: &Consumer| -> eoslog::Result<Vec<(TopicPartition, OffsetAndMetadata)>> {
        assigned.iter().map(|tp| Ok((tp.clone(), OffsetAndMetadata::new(c.position(tp)?)))).collect()
    };
    let mut commits = 0;
    let commit =
        |consumer: &Consumer, producer: &Producer, commits: &mut u32, last: bool| -> eoslog::Result<()> {
            match mode {
                Mode::Transactional => {
                    producer
                        .send_offsets_to_transaction(&positions(consumer)?, &consumer.group_metadata()?)?;
                    producer.commit_transaction()?;
                    if !last {
                        producer.begin_transaction()?;
                    }
                }
                Mode::Plain => {
                    producer.flush()?;
                    consumer.commit(&positions(consumer)?)?;
                }
            }
            *commits += 1;
            Ok(())
        };

    let started = Instant::now();
    let mut last_commit = started;
    let mut copied = 0;
    let mut committing = Duration::ZERO;
    while copied < records {
        for r in consumer.poll(Duration::from_millis(100))? {
            let mut rec =
                ProducerRecord::new(out.as_str(), transform(r.value.as_deref().unwrap_or_default()))
                    .partition(r.partition);
            rec.key = r.key;
            producer.send(rec)?;
            copied += 1;
        }
        if last_commit.elapsed() >= COMMIT_INTERVAL {
            let t = Instant::now();
            commit(&consumer, &producer, &mut commits, false)?;
            last_commit = Instant::now();
            committing += last_commit - t;
        }
    }
    let t = Instant::now();
    commit(&consumer, &producer, &mut commits, true)?;
    committing += t.elapsed();
    let elapsed = started.elapsed();
    producer.close()?;
    consumer.close()?;
    Ok((records as f64 / elapsed.as_secs_f64(), commits, committing))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

fn main() -> eoslog::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let records = arg(0, 200_000);
    let runs = arg(1, 5).max(1);
    let value_bytes = arg(2, 100);
    let tmp;
    let dir = match args.get(3) {
        Some(d) => std::path::PathBuf::from(d),
        None => {
            tmp = std::env::temp_dir().join(format!("eoslog-rpw-bench-{}", std::process::id()));
            tmp.clone()
        }
    };
    let engine = Engine::open(&dir, EngineConfig::default())?;
    engine.create_topic("in", PARTITIONS, Default::default())?;
    {
        let seed = Producer::new(&engine, ProducerConfig::default())?;
        let value = vec![b'x'; value_bytes];
        for i in 0..records {
            let mut v = value.clone();
            let tag = format!("{i:010}");
            let n = tag.len().min(v.len());
            v[..n].copy_from_slice(&tag.as_bytes()[..n]);
            seed.send(ProducerRecord::new("in", v).key(format!("key-{}", i % 1000)))?;
        }
        seed.close()?;
    }
    println!(
        "read-process-write: {records} records of {value_bytes} B over {PARTITIONS} partitions, commit every \
         {} ms, {runs} runs each, I/O backend {:?}, durability {}",
        COMMIT_INTERVAL.as_millis(),
        engine.io_kind(),
        engine.config().durability
    );
    let (mut txn, mut plain) = (Vec::new(), Vec::new());
    for run in 0..runs {
        let order = if run % 2 == 0 {
            [Mode::Transactional, Mode::Plain]
        } else {
            [Mode::Plain, Mode::Transactional]
        };
        for mode in order {
            let (rate, commits, committing) = pipeline(&engine, mode, run, records)?;
            println!(
                "  run {run} {mode:?}: {rate:>12.0} records/s ({commits} commits, {:.1} ms per commit)",
                committing.as_secs_f64() * 1000.0 / f64::from(commits.max(1))
            );
            match mode {
                Mode::Transactional => txn.push(rate),
                Mode::Plain => plain.push(rate),
            }
        }
    }
    let (t, p) = (median(txn), median(plain));
    println!("median transactional (exactly-once): {t:>12.0} records/s");
    println!("median plain (idempotent + offset commit): {p:>12.0} records/s");
    println!("ratio transactional / plain: {:.3}", t / p);
    engine.close()?;
    drop(engine);
    if args.get(3).is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}
