//! The exactly-once copier: Kafka's `TransactionalMessageCopier`, in process.
//!
//! ```text
//! cargo run -p eoslog --example eos_copier -- <data-dir> <input-topic> <output-topic> <group> \
//!     <transaction-size> <abort-probability> <seed>
//! ```
//!
//! It consumes the input topic read_committed (every partition, assigned), transforms each
//! value (upper case plus `|copied`), and produces it to the same partition of the output
//! topic inside a transaction that also carries the consumer's positions
//! (`send_offsets_to_transaction`). Each transaction is committed, or — with the given
//! probability — aborted, after which the consumer rewinds to the committed offsets and the
//! same records are copied again in a later transaction. After a crash it resumes from the
//! committed offsets: `init_transactions` fences the previous instance and aborts whatever it
//! left open. It exits once every input partition is copied up to its end.
//!
//! Progress goes to stdout as `EVT ...` lines (the crash test uses them to pick kill points).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::Duration;

use eoslog::client::{
    Consumer, ConsumerConfig, OffsetAndMetadata, Producer, ProducerConfig, ProducerRecord, TopicPartition,
};
use eoslog::{Engine, EngineConfig, Error};

/// What the copier is told to do.
#[derive(Debug, Clone)]
pub struct CopierArgs {
    /// The engine's data directory.
    pub data_dir: String,
    /// Topic to copy from.
    pub input: String,
    /// Topic to copy to (created with the input's partition count if missing).
    pub output: String,
    /// Consumer group whose committed offsets say how far the copy got.
    pub group: String,
    /// Records per transaction (at least; a transaction ends after the poll that reaches it).
    pub transaction_size: usize,
    /// Probability of aborting a transaction instead of committing it.
    pub abort_probability: f64,
    /// Seed of the abort decisions.
    pub seed: u64,
}

impl CopierArgs {
    /// Parses the seven positional arguments.
    pub fn parse(args: &[String]) -> Result<CopierArgs, String> {
        let [data_dir, input, output, group, size, abort, seed] = args else {
            return Err(format!(
                "usage: eos_copier <data-dir> <input-topic> <output-topic> <group> <transaction-size> \
                 <abort-probability> <seed> (got {} arguments)",
                args.len()
            ));
        };
        let transaction_size: usize = size.parse().map_err(|_| format!("bad transaction size {size:?}"))?;
        let abort_probability: f64 = abort.parse().map_err(|_| format!("bad abort probability {abort:?}"))?;
        if transaction_size == 0 || !(0.0..=1.0).contains(&abort_probability) {
            return Err("the transaction size must be positive and the probability in [0, 1]".into());
        }
        Ok(CopierArgs {
            data_dir: data_dir.clone(),
            input: input.clone(),
            output: output.clone(),
            group: group.clone(),
            transaction_size,
            abort_probability,
            seed: seed.parse().map_err(|_| format!("bad seed {seed:?}"))?,
        })
    }
}

/// The transformation: ASCII upper case, then `|copied`.
pub fn transform(value: &[u8]) -> Vec<u8> {
    let mut out = value.to_ascii_uppercase();
    out.extend_from_slice(b"|copied");
    out
}

/// The transactional id of the copier of `group` (one per group, so a restarted copier fences
/// the previous instance).
pub fn transactional_id(group: &str) -> String {
    format!("eos-copier-{group}")
}

/// What a run did.
#[derive(Debug, Default, Clone, Copy)]
pub struct CopierStats {
    /// Transactions committed.
    pub committed: u64,
    /// Transactions aborted.
    pub aborted: u64,
    /// Records copied in committed transactions.
    pub records: u64,
}

fn event(what: std::fmt::Arguments<'_>) {
    println!("EVT {what}");
}

/// A tiny seeded generator (splitmix64) for the abort decisions.
struct Rng(u64);

impl Rng {
    fn chance(&mut self, p: f64) -> bool {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        ((z >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

/// Runs the copier until the input is copied.
pub fn run(args: &CopierArgs) -> Result<CopierStats, Error> {
    let engine = Engine::open(&args.data_dir, EngineConfig::default())?;
    let partitions = engine.partition_count(&args.input)?;
    if engine.partition_count(&args.output).is_err() {
        engine.create_topic(&args.output, partitions, Default::default())?;
    }
    event(format_args!("start"));

    let producer = Producer::new(
        &engine,
        ProducerConfig::from_pairs(&[("transactional.id", transactional_id(&args.group).as_str())])?,
    )?;
    // Fences the previous instance; its open transaction is aborted first.
    producer.init_transactions()?;
    let per_poll = args.transaction_size.div_ceil(4).max(1).to_string();
    let consumer = Consumer::new(
        &engine,
        ConsumerConfig::from_pairs(&[
            ("group.id", args.group.as_str()),
            ("isolation.level", "read_committed"),
            ("auto.offset.reset", "earliest"),
            ("max.poll.records", per_poll.as_str()),
        ])?,
    )?;
    let assigned: Vec<TopicPartition> =
        (0..partitions).map(|p| TopicPartition::new(&args.input, p)).collect();
    consumer.assign(&assigned)?;
    event(format_args!("assigned"));

    let mut rng = Rng(args.seed);
    let mut stats = CopierStats::default();
    loop {
        let ends = consumer.end_offsets(&assigned)?;
        let mut done = true;
        for tp in &assigned {
            done &= consumer.position(tp)? >= ends[tp];
        }
        if done {
            break;
        }
        producer.begin_transaction()?;
        let mut sent = 0;
        while sent < args.transaction_size {
            let records = consumer.poll(Duration::from_millis(100))?;
            if records.is_empty() {
                break;
            }
            for r in records {
                let mut out =
                    ProducerRecord::new(&args.output, transform(r.value.as_deref().unwrap_or_default()))
                        .partition(r.partition)
                        .timestamp(r.timestamp);
                out.key = r.key;
                out.headers = r.headers;
                producer.send(out)?;
                sent += 1;
            }
        }
        event(format_args!("sent {sent}"));
        let mut offsets = Vec::with_capacity(assigned.len());
        for tp in &assigned {
            offsets.push((tp.clone(), OffsetAndMetadata::new(consumer.position(tp)?)));
        }
        producer.send_offsets_to_transaction(&offsets, &consumer.group_metadata()?)?;
        event(format_args!("offsets"));
        if rng.chance(args.abort_probability) {
            producer.abort_transaction()?;
            stats.aborted += 1;
            // Rewind to what is committed: the aborted records are copied again.
            let committed = consumer.committed(&assigned)?;
            for tp in &assigned {
                match &committed[tp] {
                    Some(o) => consumer.seek(tp, o.offset)?,
                    None => consumer.seek_to_beginning(std::slice::from_ref(tp))?,
                }
            }
            event(format_args!("aborted {}", stats.aborted));
        } else {
            producer.commit_transaction()?;
            stats.committed += 1;
            stats.records += sent as u64;
            event(format_args!("committed {}", stats.committed));
        }
    }
    producer.close()?;
    consumer.close()?;
    drop((producer, consumer));
    engine.close()?;
    event(format_args!("done {} {} {}", stats.committed, stats.aborted, stats.records));
    Ok(stats)
}

#[allow(dead_code)]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match CopierArgs::parse(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    match run(&args) {
        Ok(s) => println!(
            "copied {} records in {} committed transactions ({} aborted)",
            s.records, s.committed, s.aborted
        ),
        Err(e) => {
            eprintln!("eos_copier: {e}");
            std::process::exit(1);
        }
    }
}
