//! `eoslog consume`: a topic's records as JSON lines on standard output.
//!
//! An eoslog data directory belongs to one process at a time (it is locked while open). So that
//! `--follow` works while other processes write, the consumer holds the directory only while it
//! reads: it opens it, reads everything visible, closes it and sleeps `--poll-ms` before looking
//! again. Opening retries while another process holds the lock (`--wait-lock-ms`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use eoslog::client::{Consumer, ConsumerConfig, OffsetAndMetadata};
use eoslog::{Durability, Engine, IsolationLevel, OffsetSpec, TopicPartition};

use crate::error::{Class, CliError, CliResult, stdout_error};
use crate::paths;
use crate::produce::open_engine;
use crate::records::{OutputEncoding, record_to_json};

/// `read_committed` or `read_uncommitted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Isolation {
    /// Only committed transactions (and non-transactional records); stops at the last stable
    /// offset.
    #[value(name = "read_committed")]
    ReadCommitted,
    /// Everything up to the high watermark, aborted and open transactions included.
    #[value(name = "read_uncommitted")]
    ReadUncommitted,
}

/// Arguments of `eoslog consume`.
#[derive(Debug, clap::Args)]
pub struct ConsumeArgs {
    /// Data directory.
    #[arg(long, short = 'd', value_name = "DIR")]
    pub data: PathBuf,
    /// Topic to read.
    #[arg(long, short = 't')]
    pub topic: String,
    /// Partitions to read (repeat the flag; default: all).
    #[arg(long, short = 'p')]
    pub partition: Vec<i32>,
    /// Isolation level.
    #[arg(long, value_enum, default_value_t = Isolation::ReadCommitted)]
    pub isolation_level: Isolation,
    /// Start at this offset in every partition read (clamped to the log start).
    #[arg(long, conflicts_with = "from_timestamp")]
    pub from_offset: Option<i64>,
    /// Start at the first record with a timestamp at or after this one (ms since the epoch).
    #[arg(long)]
    pub from_timestamp: Option<i64>,
    /// Consumer group: start from its committed offsets (unless --from-* is given) and commit
    /// the positions reached at the end.
    #[arg(long, short = 'g')]
    pub group: Option<String>,
    /// Keep waiting for new records (until interrupted or --max-records).
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Stop after this many records.
    #[arg(long, short = 'n')]
    pub max_records: Option<u64>,
    /// How bytes are written: auto (UTF-8 text, base64 when not UTF-8), base64 or hex.
    #[arg(long, value_enum, default_value_t = OutputEncoding::Auto)]
    pub encoding: OutputEncoding,
    /// With --follow: how long to sleep between looks at the data directory.
    #[arg(long, default_value_t = 500)]
    pub poll_ms: u64,
    /// How long to wait for a data directory another process holds.
    #[arg(long, default_value_t = 10_000)]
    pub wait_lock_ms: u64,
}

/// Opens the engine, retrying for up to `wait` while another process holds the directory.
pub fn open_waiting(data: &Path, durability: Durability, wait: Duration) -> CliResult<Engine> {
    let deadline = Instant::now() + wait;
    loop {
        match open_engine(data, durability) {
            Err(e) if e.class == Class::Locked && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

/// Runs `eoslog consume`.
pub fn run(args: &ConsumeArgs) -> CliResult {
    paths::require_data_dir(&args.data)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut positions: BTreeMap<TopicPartition, i64> = BTreeMap::new();
    let mut printed = 0u64;
    loop {
        let engine = open_waiting(&args.data, Durability::None, Duration::from_millis(args.wait_lock_ms))?;
        let round = read_round(&engine, args, &mut positions, &mut printed, &mut out);
        let closed = engine.close();
        let more = round?;
        closed?;
        out.flush().map_err(stdout_error)?;
        if !args.follow || !more {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(args.poll_ms));
    }
}

/// Reads what is visible now. Returns whether to continue following.
fn read_round(
    engine: &Engine,
    args: &ConsumeArgs,
    positions: &mut BTreeMap<TopicPartition, i64>,
    printed: &mut u64,
    out: &mut impl Write,
) -> CliResult<bool> {
    let count = match engine.partition_count(&args.topic) {
        Ok(n) => n,
        Err(_) if args.follow => return Ok(true),
        Err(e) => return Err(CliError::from(e)),
    };
    let parts: Vec<i32> =
        if args.partition.is_empty() { (0..count).collect() } else { args.partition.clone() };
    if let Some(p) = parts.iter().find(|p| !(0..count).contains(*p)) {
        return Err(CliError::new(
            Class::Failed,
            format!("unknown partition {}-{p}: the topic has partitions 0..{}", args.topic, count - 1),
        ));
    }
    let tps: Vec<TopicPartition> =
        parts.iter().map(|p| TopicPartition::new(args.topic.clone(), *p)).collect();
    let isolation = match args.isolation_level {
        Isolation::ReadCommitted => "read_committed",
        Isolation::ReadUncommitted => "read_uncommitted",
    };
    let mut pairs = vec![
        ("isolation.level", isolation),
        ("auto.offset.reset", "earliest"),
        ("enable.auto.commit", "false"),
    ];
    if let Some(g) = &args.group {
        pairs.push(("group.id", g.as_str()));
    }
    let config =
        ConsumerConfig::from_pairs(&pairs).map_err(|e| CliError::new(Class::Usage, e.to_string()))?;
    let consumer = Consumer::new(engine, config)?;
    consumer.assign(&tps)?;
    for tp in &tps {
        if let Some(&pos) = positions.get(tp) {
            consumer.seek(tp, pos)?;
            continue;
        }
        let log = engine.partition(&tp.topic, tp.partition)?;
        if let Some(from) = args.from_offset {
            consumer.seek(tp, from.clamp(log.log_start_offset(), log.log_end_offset()))?;
        } else if let Some(ts) = args.from_timestamp {
            let level = match args.isolation_level {
                Isolation::ReadCommitted => IsolationLevel::ReadCommitted,
                Isolation::ReadUncommitted => IsolationLevel::ReadUncommitted,
            };
            let offset = match log.list_offset(OffsetSpec::Timestamp(ts))? {
                Some(found) => found.offset,
                None => {
                    log.list_offset(OffsetSpec::Latest(level))?.map_or(log.log_end_offset(), |f| f.offset)
                }
            };
            consumer.seek(tp, offset)?;
        } else if args.group.is_none() {
            consumer.seek_to_beginning(std::slice::from_ref(tp))?;
        }
    }
    let ends = consumer.end_offsets(&tps)?;
    let mut last_progress = Instant::now();
    let mut rewind: BTreeMap<TopicPartition, i64> = BTreeMap::new();
    let mut limit_reached = false;
    'outer: loop {
        let mut done = true;
        for tp in &tps {
            done &= consumer.position(tp)? >= ends[tp];
        }
        if done {
            break;
        }
        let records = consumer.poll(Duration::from_millis(100))?;
        if records.is_empty() {
            // Nothing readable although the end was not reached (cannot normally happen);
            // never spin forever.
            if last_progress.elapsed() > Duration::from_secs(5) {
                break;
            }
            continue;
        }
        last_progress = Instant::now();
        for (i, r) in records.iter().enumerate() {
            if args.max_records.is_some_and(|m| *printed >= m) {
                for rest in &records[i..] {
                    let e = rewind.entry(rest.topic_partition()).or_insert(rest.offset);
                    *e = (*e).min(rest.offset);
                }
                limit_reached = true;
                break 'outer;
            }
            writeln!(out, "{}", record_to_json(r, args.encoding)).map_err(stdout_error)?;
            *printed += 1;
        }
        if args.max_records.is_some_and(|m| *printed >= m) {
            limit_reached = true;
            break;
        }
    }
    let mut commit = Vec::new();
    for tp in &tps {
        let pos = match rewind.get(tp) {
            Some(&o) => o,
            None => consumer.position(tp)?,
        };
        positions.insert(tp.clone(), pos);
        commit.push((tp.clone(), OffsetAndMetadata::new(pos)));
    }
    if args.group.is_some() {
        consumer.commit(&commit)?;
    }
    consumer.close()?;
    Ok(!limit_reached)
}
