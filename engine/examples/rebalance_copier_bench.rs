//! End-to-end exactly-once copier throughput in a consumer group, with and without
//! rebalances, in one run on the same input.
//!
//! ```text
//! cargo run --release -p eoslog --example rebalance_copier_bench -- \
//!     [seconds] [rebalance-every-ms] [rounds] [records] [value-bytes] [data-dir]
//! ```
//!
//! Defaults: 4 s per measurement, a rebalance every 1500 ms, 2 rounds (alternating which
//! pipeline goes first), 12000000 input records of 100 bytes over 6 partitions (1.2 GB: the
//! copier runs at about a million records a second, and the input must outlast every
//! measurement), a temporary directory. Three members copy `in` to an output topic, each a consumer that `subscribe`s
//! (cooperative-sticky) and a transactional producer of its own, committing every 100 ms with
//! the member's group metadata. In the *steady* pipeline nobody comes or goes; in the *churn*
//! pipeline one member after the other leaves the group (closing its consumer, which revokes
//! its partitions) every `rebalance-every-ms` and joins again at once with a new consumer — two
//! rebalances each time. A member commits its transaction when partitions are revoked (in
//! `on_partitions_revoked`, Kafka Streams' way), and aborts it when they are lost.
//!
//! Throughput counts what the group committed (the sum of its committed offsets) during the
//! measurement, from the moment the three members are in a stable group. At the end the output
//! is checked: every partition stable, with exactly as many committed records as the group's
//! committed offset of the matching input partition.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use eoslog::client::{
    Consumer, ConsumerConfig, ConsumerRebalanceListener, OffsetAndMetadata, Producer, ProducerConfig,
    ProducerRecord, TopicPartition, TransactionState,
};
use eoslog::group::protocol::Assignment;
use eoslog::{Engine, EngineConfig, GroupState};

const PARTITIONS: i32 = 6;
const MEMBERS: usize = 3;
const COMMIT_INTERVAL: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pipeline {
    Steady,
    Churn,
}

fn transform(v: &[u8]) -> Vec<u8> {
    v.to_ascii_uppercase()
}

/// The consumer's positions, sent with the producer's transaction and committed; a new
/// transaction begins. A refused commit (the member lost its partitions) aborts instead.
fn commit(consumer: &Consumer, producer: &Producer) -> eoslog::Result<bool> {
    let mut offsets = Vec::new();
    for tp in consumer.assignment() {
        let p = consumer.position(&tp)?;
        offsets.push((tp, OffsetAndMetadata::new(p)));
    }
    let committed = match producer.send_offsets_to_transaction(&offsets, &consumer.group_metadata()?) {
        Ok(()) => {
            producer.commit_transaction()?;
            true
        }
        Err(_) if producer.transaction_state() == TransactionState::AbortableError => {
            producer.abort_transaction()?;
            false
        }
        Err(e) => return Err(e),
    };
    producer.begin_transaction()?;
    Ok(committed)
}

/// Rewinds the assigned partitions to the group's committed offsets (after an abort).
fn rewind(consumer: &Consumer) -> eoslog::Result<()> {
    let assigned = consumer.assignment();
    for (tp, o) in consumer.committed(&assigned)? {
        match o {
            Some(o) => consumer.seek(&tp, o.offset)?,
            None => consumer.seek_to_beginning(std::slice::from_ref(&tp))?,
        }
    }
    Ok(())
}

/// Commits the open transaction before partitions go (the generation still owns them); on a
/// loss, aborts it and asks the member to rewind.
struct CommitOnRevoke {
    producer: Arc<Producer>,
    rewind: Arc<AtomicBool>,
}

impl ConsumerRebalanceListener for CommitOnRevoke {
    fn on_partitions_revoked(&mut self, consumer: &Consumer, _: &[TopicPartition]) {
        if self.producer.transaction_state() == TransactionState::InTransaction {
            match commit(consumer, &self.producer) {
                Ok(true) => {}
                Ok(false) => self.rewind.store(true, Ordering::Release),
                Err(e) => panic!("commit on revocation: {e}"),
            }
        }
    }

    fn on_partitions_lost(&mut self, _: &Consumer, _: &[TopicPartition]) {
        if self.producer.transaction_state() == TransactionState::InTransaction {
            self.producer.abort_transaction().expect("abort");
            self.producer.begin_transaction().expect("begin");
        }
        self.rewind.store(true, Ordering::Release);
    }
}

struct Shared {
    stop: AtomicBool,
    /// Incremented by the churn driver; member `n % MEMBERS` leaves and rejoins.
    churn: AtomicUsize,
}

fn member(engine: &Engine, tag: &str, slot: usize, shared: &Shared) -> eoslog::Result<()> {
    let group = format!("bench-{tag}");
    let out = format!("out-{tag}");
    let id = format!("bench-{tag}-{slot}");
    let producer = Arc::new(Producer::new(
        engine,
        ProducerConfig::from_pairs(&[("transactional.id", id.as_str()), ("linger.ms", "5")])?,
    )?);
    producer.init_transactions()?;
    let mut handled = shared.churn.load(Ordering::Acquire);
    while !shared.stop.load(Ordering::Acquire) {
        let consumer = Consumer::new(
            engine,
            ConsumerConfig::from_pairs(&[
                ("group.id", group.as_str()),
                ("client.id", id.as_str()),
                ("auto.offset.reset", "earliest"),
                ("isolation.level", "read_committed"),
            ])?,
        )?;
        let rewind_now = Arc::new(AtomicBool::new(false));
        consumer
            .subscribe(&["in"], CommitOnRevoke { producer: producer.clone(), rewind: rewind_now.clone() })?;
        producer.begin_transaction()?;
        let mut last_commit = Instant::now();
        loop {
            if shared.stop.load(Ordering::Acquire) {
                break;
            }
            let churn = shared.churn.load(Ordering::Acquire);
            if churn != handled {
                handled = churn;
                if churn % MEMBERS == slot {
                    break;
                }
            }
            let records = consumer.poll(Duration::from_millis(50))?;
            if rewind_now.swap(false, Ordering::AcqRel) {
                rewind(&consumer)?;
                continue;
            }
            for r in records {
                let mut rec =
                    ProducerRecord::new(out.as_str(), transform(r.value.as_deref().unwrap_or_default()))
                        .partition(r.partition);
                rec.key = r.key;
                producer.send(rec)?;
            }
            if last_commit.elapsed() >= COMMIT_INTERVAL {
                if !commit(&consumer, &producer)? {
                    rewind(&consumer)?;
                }
                last_commit = Instant::now();
            }
        }
        // Leave: commit what was copied, then close (revokes and sends LeaveGroup).
        let offsets: Vec<(TopicPartition, OffsetAndMetadata)> = consumer
            .assignment()
            .into_iter()
            .map(|tp| consumer.position(&tp).map(|p| (tp, OffsetAndMetadata::new(p))))
            .collect::<eoslog::Result<_>>()?;
        match producer.send_offsets_to_transaction(&offsets, &consumer.group_metadata()?) {
            Ok(()) => producer.commit_transaction()?,
            Err(_) => producer.abort_transaction()?,
        }
        consumer.close()?;
    }
    producer.close()
}

fn committed_total(engine: &Engine, group: &str) -> i64 {
    (0..PARTITIONS).filter_map(|p| engine.offsets().committed(group, "in", p)).map(|o| o.offset).sum()
}

/// Runs one pipeline for `seconds`; returns records/s and the number of generations the
/// group went through while measured.
fn run(
    engine: &Engine,
    pipeline: Pipeline,
    round: usize,
    seconds: f64,
    every: Duration,
) -> eoslog::Result<(f64, i32)> {
    let tag = format!("{}-{round}", if pipeline == Pipeline::Steady { "steady" } else { "churn" });
    let group = format!("bench-{tag}");
    engine.create_topic(&format!("out-{tag}"), PARTITIONS, Default::default())?;
    let shared = Arc::new(Shared { stop: AtomicBool::new(false), churn: AtomicUsize::new(0) });
    let threads: Vec<_> = (0..MEMBERS)
        .map(|slot| {
            let (engine, tag, shared) = (engine.clone(), tag.clone(), shared.clone());
            std::thread::spawn(move || member(&engine, &tag, slot, &shared))
        })
        .collect();
    // Measure from a settled group: stable, three members, two partitions each (with the
    // cooperative protocol a generation may still be followed by the one that hands revoked
    // partitions over).
    let settled = || {
        engine.groups().describe_group(&group).is_some_and(|d| {
            d.state == GroupState::Stable
                && d.members.len() == MEMBERS
                && d.members.iter().all(|m| {
                    Assignment::decode(&m.assignment)
                        .is_ok_and(|(_, a)| a.partitions.len() == PARTITIONS as usize / MEMBERS)
                })
        })
    };
    while !settled() {
        std::thread::sleep(Duration::from_millis(1));
    }
    let start_generation = engine.groups().describe_group(&group).map_or(0, |d| d.generation_id);
    let start_copied = committed_total(engine, &group);
    let started = Instant::now();
    let measure = Duration::from_secs_f64(seconds);
    let mut next_churn = started + every;
    while started.elapsed() < measure {
        std::thread::sleep(Duration::from_millis(5));
        if pipeline == Pipeline::Churn && Instant::now() >= next_churn {
            shared.churn.fetch_add(1, Ordering::AcqRel);
            next_churn += every;
        }
    }
    // What is committed at the end of the measurement counts.
    let end_copied = committed_total(engine, &group);
    let copied = end_copied - start_copied;
    let input: i64 =
        (0..PARTITIONS).map(|p| engine.partition("in", p).map_or(0, |l| l.log_end_offset())).sum();
    if end_copied >= input {
        eprintln!("the input ran out during the measurement: give more records (4th argument)");
        std::process::exit(1);
    }
    let elapsed = started.elapsed();
    let generations =
        engine.groups().describe_group(&group).map_or(0, |d| d.generation_id) - start_generation;
    shared.stop.store(true, Ordering::Release);
    for t in threads {
        t.join().expect("member thread")?;
    }
    check(engine, &tag)?;
    Ok((copied as f64 / elapsed.as_secs_f64(), generations))
}

/// Every output partition is stable and holds one committed copy per committed input offset.
fn check(engine: &Engine, tag: &str) -> eoslog::Result<()> {
    let reader = Consumer::new(
        engine,
        ConsumerConfig::from_pairs(&[("auto.offset.reset", "earliest"), ("max.poll.records", "100000")])?,
    )?;
    for p in 0..PARTITIONS {
        let tp = TopicPartition::new(format!("out-{tag}"), p);
        let log = engine.partition(&tp.topic, p)?;
        assert_eq!(log.last_stable_offset(), log.log_end_offset(), "{tp} is stable");
        reader.assign(std::slice::from_ref(&tp))?;
        let end = reader.end_offsets(std::slice::from_ref(&tp))?[&tp];
        let mut n = 0i64;
        while reader.position(&tp)? < end {
            n += reader.poll(Duration::from_millis(100))?.len() as i64;
        }
        let committed = engine.offsets().committed(&format!("bench-{tag}"), "in", p).map_or(0, |o| o.offset);
        assert_eq!(n, committed, "{tp}: one copy per committed input record");
    }
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

fn main() -> eoslog::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: f64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let seconds = arg(0, 4.0);
    let every = Duration::from_millis(arg(1, 1500.0) as u64);
    let rounds = (arg(2, 2.0) as usize).max(1);
    let records = arg(3, 12_000_000.0) as usize;
    let value_bytes = arg(4, 100.0) as usize;
    let tmp;
    let dir = match args.get(5) {
        Some(d) => std::path::PathBuf::from(d),
        None => {
            tmp = std::env::temp_dir().join(format!("eoslog-rebalance-copier-bench-{}", std::process::id()));
            tmp.clone()
        }
    };
    let config = EngineConfig { group_initial_rebalance_delay_ms: 0, ..EngineConfig::default() };
    let engine = Engine::open(&dir, config)?;
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
        "group copier: {MEMBERS} members over {PARTITIONS} partitions, {records} input records of {value_bytes} B, \
         commit every {} ms, {seconds} s per measurement, a member leaves and rejoins every {} ms in the churn \
         pipeline, {rounds} rounds, I/O backend {:?}, durability {}",
        COMMIT_INTERVAL.as_millis(),
        every.as_millis(),
        engine.io_kind(),
        engine.config().durability
    );
    let (mut steady, mut churn) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let order = if round % 2 == 0 {
            [Pipeline::Steady, Pipeline::Churn]
        } else {
            [Pipeline::Churn, Pipeline::Steady]
        };
        for pipeline in order {
            let (rate, generations) = run(&engine, pipeline, round, seconds, every)?;
            println!(
                "  round {round} {pipeline:?}: {rate:>12.0} records/s ({generations} rebalances measured)"
            );
            match pipeline {
                Pipeline::Steady => steady.push(rate),
                Pipeline::Churn => churn.push(rate),
            }
        }
    }
    let (s, c) = (median(steady), median(churn));
    println!("median steady (no rebalance): {s:>12.0} records/s");
    println!("median churn (rebalance every {} ms): {c:>12.0} records/s", every.as_millis());
    println!("ratio churn / steady: {:.3}", c / s);
    engine.close()?;
    drop(engine);
    if args.get(5).is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}
