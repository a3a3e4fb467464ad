//! `eoslog demo`: the exactly-once mission end to end on a local data directory.
//!
//! Five steps, each one a guarantee with the fault that would break it injected:
//! 1. an idempotent producer whose acknowledgements get "lost", so it resends — the log drops
//!    the duplicates;
//! 2. a zombie: two instances of one transactional producer — the old one is fenced;
//! 3. a transactional copier (consume, transform, produce, with the consumer's offsets inside the
//!    transaction) that aborts some transactions on purpose and redoes them;
//! 4. a crash: a child process (this binary, re-executed with a hidden subcommand) is killed
//!    with SIGKILL in the middle of a transaction, then the data directory is reopened and
//!    recovered;
//! 5. an outside check of everything with a read_committed consumer: nothing lost, nothing
//!    duplicated, nothing aborted visible.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use eoslog::client::{
    Consumer, ConsumerConfig, ConsumerRecord, OffsetAndMetadata, Producer, ProducerConfig, ProducerRecord,
};
use eoslog::{Engine, EngineConfig, ErrorCode, TopicPartition};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::{Class, CliError, CliResult};
use crate::paths;

/// Marker file that says a directory was made by `eoslog demo` (and may be deleted by it).
const DEMO_MARKER: &str = ".eoslog-demo";
const ORDERS: &str = "orders";
const COPY: &str = "orders-copy";
const PAYMENTS: &str = "payments";
const COPIER_GROUP: &str = "demo-copier";
const ZOMBIE_ID: &str = "demo-zombie";
const COPIER_ID: &str = "demo-copier-1";
const PAYMENTS_ID: &str = "demo-payments";
/// Every this-many appends, the producer's acknowledgement is "lost".
const LOSE_EVERY: u64 = 8;
/// Bytes of an order's value.
const ORDER_SIZE: usize = 100;
const ZOMBIE_RECORDS: usize = 5;

/// Arguments of `eoslog demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Data directory for the demo. A previous demo directory there is deleted first; any
    /// other non-empty directory is refused.
    #[arg(long, short = 'd', value_name = "DIR", default_value = "demo-data")]
    pub data: PathBuf,
    /// Records the idempotent producer writes (the other steps scale with it).
    #[arg(long, short = 'n', default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(100..=50_000_000))]
    pub records: u64,
}

/// Arguments of the hidden child process of step 4.
#[derive(Debug, clap::Args)]
pub struct CrashChildArgs {
    /// Data directory.
    #[arg(long)]
    pub data: PathBuf,
    /// Transactions to commit before the one that is killed.
    #[arg(long)]
    pub transactions: u64,
    /// Records per transaction.
    #[arg(long)]
    pub size: u64,
}

/// One check of the final verdict.
#[derive(Debug)]
struct Check {
    ok: bool,
    what: String,
}

#[derive(Debug, Default)]
struct Checks(Vec<Check>);

impl Checks {
    fn check(&mut self, ok: bool, what: impl Into<String>) -> bool {
        self.0.push(Check { ok, what: what.into() });
        ok
    }

    fn all_ok(&self) -> bool {
        self.0.iter().all(|c| c.ok)
    }
}

/// Thousands separators.
fn n(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn rate(count: u64, bytes: u64, d: Duration) -> String {
    let s = d.as_secs_f64().max(1e-9);
    format!("{} records/s, {:.1} MB/s", n((count as f64 / s) as u64), bytes as f64 / s / 1e6)
}

fn progress(len: u64, prefix: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr_with_hz(10));
    let style = ProgressStyle::with_template(
        "      {prefix:<10} [{bar:32.cyan/blue}] {human_pos}/{human_len} {per_sec}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(prefix.to_string());
    bar
}

/// Deletes a previous demo directory (and only that), then creates an empty one with the
/// marker.
fn prepare_dir(dir: &Path) -> CliResult<()> {
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(CliError::io("cannot read", dir, &e)),
        Ok(m) if !m.is_dir() => {
            return Err(CliError::new(
                Class::NotALog,
                format!("{} exists and is not a directory; choose another --data", dir.display()),
            ));
        }
        Ok(_) => {
            let entries = paths::list_dir(dir)?;
            if !entries.is_empty() {
                let ours =
                    dir.join(DEMO_MARKER).is_file() && paths::only_eoslog_entries(dir, &[DEMO_MARKER])?;
                if !ours {
                    return Err(CliError::new(
                        Class::NotALog,
                        format!(
                            "refusing to delete {}: it is not an eoslog data directory made by `eoslog demo` \
                             (choose another --data or remove it yourself)",
                            dir.display()
                        ),
                    ));
                }
                std::fs::remove_dir_all(dir).map_err(|e| CliError::io("cannot remove", dir, &e))?;
            }
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| CliError::io("cannot create", dir, &e))?;
    std::fs::write(dir.join(DEMO_MARKER), b"created by `eoslog demo`; deleted by its next run\n")
        .map_err(|e| CliError::io("cannot write", dir, &e))?;
    Ok(())
}

fn order_value(i: u64) -> Vec<u8> {
    let mut v = format!("order-{i:09}|").into_bytes();
    let fill = b"qty=1;sku=eoslog-sticker;note=exactly-once-";
    while v.len() < ORDER_SIZE {
        v.push(fill[v.len() % fill.len()]);
    }
    v
}

/// The copier's transformation.
fn transform(value: &[u8]) -> Vec<u8> {
    let mut out = b"copied|".to_vec();
    out.extend_from_slice(value);
    out
}

fn open(dir: &Path) -> CliResult<Engine> {
    Engine::open(dir, EngineConfig::default())
        .map_err(|e| CliError::from(e).context(format!("opening {}", dir.display())))
}

fn partitions_of(engine: &Engine, topic: &str) -> CliResult<Vec<TopicPartition>> {
    let count = engine.partition_count(topic)?;
    Ok((0..count).map(|p| TopicPartition::new(topic, p)).collect())
}

/// Every record of `topic` visible at `isolation`, read from the beginning by a group-less
/// consumer.
fn read_all(engine: &Engine, topic: &str, isolation: &str) -> CliResult<Vec<ConsumerRecord>> {
    let consumer = Consumer::new(
        engine,
        ConsumerConfig::from_pairs(&[("isolation.level", isolation), ("max.poll.records", "5000")])?,
    )?;
    let tps = partitions_of(engine, topic)?;
    consumer.assign(&tps)?;
    consumer.seek_to_beginning(&tps)?;
    let ends = consumer.end_offsets(&tps)?;
    let mut out = Vec::new();
    let mut idle = Instant::now();
    loop {
        let mut done = true;
        for tp in &tps {
            done &= consumer.position(tp)? >= ends[tp];
        }
        if done {
            break;
        }
        let batch = consumer.poll(Duration::from_millis(50))?;
        if batch.is_empty() {
            if idle.elapsed() > Duration::from_secs(10) {
                return Err(CliError::new(
                    Class::Failed,
                    format!("reading {topic} made no progress for 10 s"),
                ));
            }
        } else {
            idle = Instant::now();
        }
        out.extend(batch);
    }
    consumer.close()?;
    Ok(out)
}

/// Counts of each value.
fn value_counts(records: &[ConsumerRecord]) -> HashMap<Vec<u8>, u32> {
    let mut m = HashMap::with_capacity(records.len());
    for r in records {
        *m.entry(r.value.clone().unwrap_or_default()).or_insert(0) += 1;
    }
    m
}

/// Expected values against what is visible: (lost, duplicated).
fn compare(expected: impl IntoIterator<Item = Vec<u8>>, seen: &HashMap<Vec<u8>, u32>) -> (u64, u64) {
    let (mut lost, mut dup) = (0, 0);
    for v in expected {
        match seen.get(&v).copied().unwrap_or(0) {
            0 => lost += 1,
            1 => {}
            k => dup += u64::from(k - 1),
        }
    }
    (lost, dup)
}

struct Step1 {
    sent: u64,
    bytes: u64,
    duplicates: u64,
    elapsed: Duration,
}

/// Step 1: idempotent producer; every LOSE_EVERY-th acknowledgement is dropped, so the
/// producer resends the same batch and the log must recognise it.
fn step_idempotent(engine: &Engine, records: u64, checks: &mut Checks) -> CliResult<Step1> {
    println!("[1/5] Idempotent producer, acknowledgements lost on the way back");
    let producer = Producer::new(engine, ProducerConfig::default())?;
    let lost = Arc::new(AtomicU64::new(0));
    let calls = Arc::new(AtomicU64::new(0));
    {
        let (lost, calls) = (lost.clone(), calls.clone());
        producer.set_lost_ack_hook(Some(Box::new(move |_tp, _seq| {
            let c = calls.fetch_add(1, Ordering::Relaxed);
            let lose = c % LOSE_EVERY == LOSE_EVERY / 2;
            if lose {
                lost.fetch_add(1, Ordering::Relaxed);
            }
            lose
        })));
    }
    let bar = progress(records, "producing");
    let started = Instant::now();
    let mut bytes = 0u64;
    for i in 0..records {
        let key = format!("customer-{:04}", i % 997);
        let value = order_value(i);
        bytes += (key.len() + value.len()) as u64;
        producer.send(ProducerRecord::with_key(ORDERS, key, value))?;
        if i % 1024 == 1023 {
            bar.set_position(i + 1);
        }
    }
    producer.flush()?;
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    let duplicates = producer.duplicate_acks();
    producer.close()?;
    let lost_acks = lost.load(Ordering::Relaxed);
    println!(
        "      {} orders sent to `{ORDERS}` (3 partitions) in {:.2} s ({})",
        n(records),
        elapsed.as_secs_f64(),
        rate(records, bytes, elapsed)
    );
    println!(
        "      {} acknowledgements were dropped, so the producer resent those batches (same producer id, same sequence numbers)",
        n(lost_acks)
    );
    println!("      → the log answered {} resends as duplicates and wrote nothing twice", n(duplicates));
    checks.check(
        lost_acks > 0 && duplicates == lost_acks,
        format!("every resend was recognised as a duplicate ({} of {})", n(duplicates), n(lost_acks)),
    );
    Ok(Step1 { sent: records, bytes, duplicates, elapsed })
}

fn zombie_value(who: &str, j: usize) -> Vec<u8> {
    format!("{who}-{j}").into_bytes()
}

/// Step 2: two instances of one transactional producer; the first one's commit must fail.
fn step_zombie(engine: &Engine, checks: &mut Checks) -> CliResult<()> {
    println!("[2/5] Zombie producer fenced");
    let config = || ProducerConfig::from_pairs(&[("transactional.id", ZOMBIE_ID)]);
    let old = Producer::new(engine, config()?)?;
    old.init_transactions()?;
    let old_epoch = old.producer_id_and_epoch().map_or(-1, |p| p.epoch);
    old.begin_transaction()?;
    for j in 0..ZOMBIE_RECORDS {
        old.send(ProducerRecord::new(ORDERS, zombie_value("zombie", j)).partition((j % 3) as i32))?;
    }
    old.flush()?;
    // The instance is presumed dead (a long GC pause, a network partition) and restarted.
    let new = Producer::new(engine, config()?)?;
    new.init_transactions()?;
    let new_epoch = new.producer_id_and_epoch().map_or(-1, |p| p.epoch);
    let outcome = old.commit_transaction();
    let code = outcome.as_ref().err().map(|e| e.code());
    new.begin_transaction()?;
    for j in 0..ZOMBIE_RECORDS {
        new.send(ProducerRecord::new(ORDERS, zombie_value("successor", j)).partition((j % 3) as i32))?;
    }
    new.commit_transaction()?;
    println!(
        "      instance A (`{ZOMBIE_ID}`, epoch {old_epoch}) wrote {ZOMBIE_RECORDS} records in a transaction, then went quiet"
    );
    println!(
        "      instance B started with the same transactional.id: epoch {new_epoch}, A's transaction aborted"
    );
    match &outcome {
        Ok(()) => println!("      → A's commit SUCCEEDED — it should have been fenced"),
        Err(e) => println!("      → A's late commit failed: {}", e.code().name()),
    }
    println!("      B committed {ZOMBIE_RECORDS} records of its own");
    checks.check(
        code == Some(ErrorCode::ProducerFenced),
        format!(
            "the zombie's commit failed with PRODUCER_FENCED (got {})",
            code.map_or("success".to_string(), |c| c.name().to_string())
        ),
    );
    let _ = old.close();
    new.close()?;
    Ok(())
}

struct Step3 {
    copied: u64,
    committed_txns: u64,
    aborted_txns: u64,
    aborted_records: u64,
    elapsed: Duration,
}

/// Step 3: read-process-write with the consumer's offsets in the transaction; every fourth
/// transaction is aborted and redone.
fn step_copier(engine: &Engine, to_copy: u64, checks: &mut Checks) -> CliResult<Step3> {
    println!(
        "[3/5] Transactional copier: consume `{ORDERS}`, transform, produce to `{COPY}`, offsets in the transaction"
    );
    let txn_size = (to_copy / 40).clamp(50, 5_000) as usize;
    let per_poll = txn_size.div_ceil(4).to_string();
    let producer = Producer::new(engine, ProducerConfig::from_pairs(&[("transactional.id", COPIER_ID)])?)?;
    producer.init_transactions()?;
    let consumer = Consumer::new(
        engine,
        ConsumerConfig::from_pairs(&[
            ("group.id", COPIER_GROUP),
            ("isolation.level", "read_committed"),
            ("auto.offset.reset", "earliest"),
            ("max.poll.records", per_poll.as_str()),
        ])?,
    )?;
    let inputs = partitions_of(engine, ORDERS)?;
    consumer.assign(&inputs)?;
    let bar = progress(to_copy, "copying");
    let started = Instant::now();
    let mut stats =
        Step3 { copied: 0, committed_txns: 0, aborted_txns: 0, aborted_records: 0, elapsed: Duration::ZERO };
    let mut txn_no = 0u64;
    loop {
        let ends = consumer.end_offsets(&inputs)?;
        let mut done = true;
        for tp in &inputs {
            done &= consumer.position(tp)? >= ends[tp];
        }
        if done {
            break;
        }
        producer.begin_transaction()?;
        let mut sent = 0usize;
        while sent < txn_size {
            let records = consumer.poll(Duration::from_millis(100))?;
            if records.is_empty() {
                break;
            }
            for r in records {
                let mut out = ProducerRecord::new(COPY, transform(r.value.as_deref().unwrap_or_default()))
                    .partition(r.partition)
                    .timestamp(r.timestamp);
                out.key = r.key;
                producer.send(out)?;
                sent += 1;
            }
        }
        let mut offsets = Vec::with_capacity(inputs.len());
        for tp in &inputs {
            offsets.push((tp.clone(), OffsetAndMetadata::new(consumer.position(tp)?)));
        }
        producer.send_offsets_to_transaction(&offsets, &consumer.group_metadata()?)?;
        txn_no += 1;
        if txn_no % 4 == 2 {
            // Make the written records really reach the log before aborting, so that the
            // abort has something to hide.
            producer.flush()?;
            producer.abort_transaction()?;
            stats.aborted_txns += 1;
            stats.aborted_records += sent as u64;
            let committed = consumer.committed(&inputs)?;
            for tp in &inputs {
                match &committed[tp] {
                    Some(o) => consumer.seek(tp, o.offset)?,
                    None => consumer.seek_to_beginning(std::slice::from_ref(tp))?,
                }
            }
        } else {
            producer.commit_transaction()?;
            stats.committed_txns += 1;
            stats.copied += sent as u64;
            bar.set_position(stats.copied);
        }
    }
    stats.elapsed = started.elapsed();
    bar.finish_and_clear();
    consumer.close()?;
    producer.close()?;
    println!(
        "      {} records copied in {} committed transactions of ~{} records ({})",
        n(stats.copied),
        n(stats.committed_txns),
        n(txn_size as u64),
        rate(stats.copied, stats.copied * (ORDER_SIZE as u64 + 20), stats.elapsed)
    );
    println!(
        "      {} more transactions ({} records) were aborted on purpose; the consumer rewound to its committed offsets and redid them",
        n(stats.aborted_txns),
        n(stats.aborted_records)
    );
    checks.check(
        stats.copied == to_copy,
        format!(
            "the copier copied every committed input record once ({} of {})",
            n(stats.copied),
            n(to_copy)
        ),
    );
    Ok(stats)
}

fn payment_value(txn: u64, j: u64) -> Vec<u8> {
    format!("payment-{txn:05}-{j:05}").into_bytes()
}

/// The child of step 4: commits `transactions` transactions, reporting each on stdout, then
/// opens one more and keeps writing into it until it is killed.
pub fn crash_child(args: &CrashChildArgs) -> CliResult {
    let engine = open(&args.data)?;
    let producer = Producer::new(
        &engine,
        ProducerConfig::from_pairs(&[("transactional.id", PAYMENTS_ID), ("linger.ms", "0")])?,
    )?;
    producer.init_transactions()?;
    let stdout = std::io::stdout();
    let say = |line: String| -> CliResult {
        let mut out = stdout.lock();
        writeln!(out, "{line}").and_then(|()| out.flush()).map_err(CliError::from)
    };
    for t in 0..args.transactions {
        producer.begin_transaction()?;
        for j in 0..args.size {
            producer.send(ProducerRecord::with_key(
                PAYMENTS,
                format!("acct-{}", j % 17),
                payment_value(t, j),
            ))?;
        }
        producer.commit_transaction()?;
        say(format!("COMMITTED {t} {}", args.size))?;
    }
    producer.begin_transaction()?;
    let started = Instant::now();
    let mut j = 0u64;
    // Bounded, in case the parent died and nobody kills this process.
    while started.elapsed() < Duration::from_secs(20) {
        producer.send(ProducerRecord::with_key(
            PAYMENTS,
            format!("acct-{}", j % 17),
            format!("in-flight-{j:07}"),
        ))?;
        j += 1;
        if j.is_multiple_of(64) {
            producer.flush()?;
            if j == 256 {
                say("IN-FLIGHT".to_string())?;
            }
        }
    }
    Err(CliError::new(Class::Failed, "the crash child was not killed within 20 s"))
}

struct Step4 {
    committed: u64,
    txn_size: u64,
}

/// Step 4: a child process is killed mid-transaction; the directory is reopened (recovery),
/// and restarting the transactional producer aborts what the dead one left open.
fn step_crash(dir: &Path, records: u64, checks: &mut Checks) -> CliResult<(Engine, Step4)> {
    println!(
        "[4/5] Crash: a child process killed with SIGKILL in the middle of a transaction, then recovery"
    );
    let transactions = 20u64;
    let size = (records / 200).clamp(10, 2_000);
    let exe =
        std::env::current_exe().map_err(|e| CliError::new(Class::Internal, format!("current_exe: {e}")))?;
    let mut child = Command::new(exe)
        .arg("__crash-child")
        .arg("--data")
        .arg(dir)
        .arg("--transactions")
        .arg(transactions.to_string())
        .arg("--size")
        .arg(size.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| CliError::new(Class::Internal, format!("cannot start the child process: {e}")))?;
    let pid = child.id();
    let bar = progress(transactions, "committing");
    let mut committed = 0u64;
    let mut in_flight = false;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.starts_with("COMMITTED ") {
                committed += 1;
                bar.set_position(committed);
            } else if line == "IN-FLIGHT" {
                in_flight = true;
                break;
            }
        }
    }
    bar.finish_and_clear();
    // Let it write a little more into the open transaction, then pull the plug.
    std::thread::sleep(Duration::from_millis(30));
    let _ = child.kill();
    let status =
        child.wait().map_err(|e| CliError::new(Class::Internal, format!("waiting for the child: {e}")))?;
    let killed = status.signal() == Some(9);
    println!(
        "      child process {pid} committed {committed} transactions of {size} payments, opened another one and was killed{}",
        if killed { " with SIGKILL while writing into it" } else { "" }
    );
    checks.check(
        in_flight && killed && committed == transactions,
        format!("the child was killed by SIGKILL mid-transaction (status: {status})"),
    );
    let engine = open(dir)?;
    let report = engine.recovery_report().clone();
    let scanned: u64 = report.partitions.iter().map(|p| p.bytes_scanned).sum();
    let batches: u64 = report.partitions.iter().map(|p| p.batches_scanned).sum();
    let rebuilt: usize = report.partitions.iter().map(|p| p.rebuilt_indexes.len()).sum();
    let replayed: u64 = report.partitions.iter().map(|p| p.producer_state_batches_replayed).sum();
    let report_line = format!(
        "recovery: {} shutdown, {} partitions opened in {:.1} ms; {} batches ({:.1} MB) checked by CRC, {} producer-state batches replayed, {} bytes of torn tail cut, {} index(es) rebuilt",
        if report.clean_shutdown { "clean" } else { "unclean" },
        report.partitions.len(),
        report.duration.as_secs_f64() * 1e3,
        n(batches),
        scanned as f64 / 1e6,
        n(replayed),
        n(report.truncated_bytes()),
        rebuilt
    );
    println!("      {report_line}");
    for p in report.changed() {
        println!(
            "        {}: cut {} bytes{}{}",
            p.partition,
            n(p.truncated_bytes),
            p.truncated_to_offset.map(|o| format!(" at offset {o}")).unwrap_or_default(),
            p.truncation_reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
        );
    }
    checks.check(!report.clean_shutdown, "reopening detected the unclean shutdown and recovered the log");
    // The application restarts: the new instance fences the dead one and aborts its
    // transaction (without it, the coordinator would abort it after transaction.timeout.ms).
    let lso_before = engine.partition(PAYMENTS, 0)?.last_stable_offset();
    let restarted =
        Producer::new(&engine, ProducerConfig::from_pairs(&[("transactional.id", PAYMENTS_ID)])?)?;
    let t = Instant::now();
    restarted.init_transactions()?;
    let lso_after = engine.partition(PAYMENTS, 0)?.last_stable_offset();
    restarted.close()?;
    println!(
        "      restarted `{PAYMENTS_ID}`: the dead instance's open transaction was aborted in {:.1} ms (last stable offset {} → {})",
        t.elapsed().as_secs_f64() * 1e3,
        n(lso_before.max(0) as u64),
        n(lso_after.max(0) as u64)
    );
    Ok((engine, Step4 { committed, txn_size: size }))
}

/// Runs `eoslog demo`.
pub fn run(args: &DemoArgs) -> CliResult {
    let started = Instant::now();
    prepare_dir(&args.data)?;
    let mut checks = Checks::default();
    let engine = open(&args.data)?;
    engine.create_topic(ORDERS, 3, Default::default())?;
    engine.create_topic(COPY, 3, Default::default())?;
    engine.create_topic(PAYMENTS, 1, Default::default())?;
    println!("eoslog demo — Kafka's exactly-once guarantees, end to end, on this machine");
    println!(
        "data directory: {} (I/O: {}, durability: none) · {} records\n",
        args.data.display(),
        match engine.io_kind() {
            eoslog::io::IoKind::Uring => "io_uring".to_string(),
            eoslog::io::IoKind::Std => "pwrite".to_string(),
            other => format!("{other:?}").to_lowercase(),
        },
        n(args.records)
    );

    let s1 = step_idempotent(&engine, args.records, &mut checks)?;
    step_zombie(&engine, &mut checks)?;
    let to_copy = args.records + ZOMBIE_RECORDS as u64;
    let s3 = step_copier(&engine, to_copy, &mut checks)?;
    engine.close()?;
    drop(engine);
    let (engine, s4) = step_crash(&args.data, args.records, &mut checks)?;

    println!("[5/5] Verification from the outside: read everything back with read_committed consumers");
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
    bar.set_message("reading");
    bar.enable_steady_tick(Duration::from_millis(100));
    let t = Instant::now();
    let mut committed_by_topic = BTreeMap::new();
    let mut visible_total = 0u64;
    let mut visible_bytes = 0u64;
    for topic in [ORDERS, COPY, PAYMENTS] {
        let recs = read_all(&engine, topic, "read_committed")?;
        visible_total += recs.len() as u64;
        visible_bytes += recs.iter().map(|r| r.value.as_ref().map_or(0, Vec::len) as u64).sum::<u64>();
        committed_by_topic.insert(topic, recs);
    }
    let read_elapsed = t.elapsed();
    let mut physical = 0u64;
    for topic in [ORDERS, COPY, PAYMENTS] {
        physical += read_all(&engine, topic, "read_uncommitted")?.len() as u64;
    }
    bar.finish_and_clear();

    let orders = value_counts(&committed_by_topic[ORDERS]);
    let copies = value_counts(&committed_by_topic[COPY]);
    let payments = value_counts(&committed_by_topic[PAYMENTS]);
    let expected_orders: Vec<Vec<u8>> = (0..s1.sent)
        .map(order_value)
        .chain((0..ZOMBIE_RECORDS).map(|j| zombie_value("successor", j)))
        .collect();
    let (lost_o, dup_o) = compare(expected_orders.iter().cloned(), &orders);
    let (lost_c, dup_c) = compare(expected_orders.iter().map(|v| transform(v)), &copies);
    let expected_payments: Vec<Vec<u8>> =
        (0..s4.committed).flat_map(|t| (0..s4.txn_size).map(move |j| payment_value(t, j))).collect();
    let (lost_p, dup_p) = compare(expected_payments.iter().cloned(), &payments);
    let lost = lost_o + lost_c + lost_p;
    let duplicated = dup_o + dup_c + dup_p;
    let zombie_visible =
        (0..ZOMBIE_RECORDS).filter(|j| orders.contains_key(&zombie_value("zombie", *j))).count();
    let expected_set: HashSet<&[u8]> = expected_orders.iter().map(Vec::as_slice).collect();
    let expected_copies: HashSet<Vec<u8>> = expected_orders.iter().map(|v| transform(v)).collect();
    let expected_pay: HashSet<&[u8]> = expected_payments.iter().map(Vec::as_slice).collect();
    let unexpected = orders.keys().filter(|v| !expected_set.contains(v.as_slice())).count()
        + copies.keys().filter(|v| !expected_copies.contains(*v)).count()
        + payments.keys().filter(|v| !expected_pay.contains(v.as_slice())).count();
    let aborted_hidden = physical.saturating_sub(visible_total);

    // The copier's offsets were committed with its last transaction: they must point at the end.
    let group = Consumer::new(
        &engine,
        ConsumerConfig::from_pairs(&[("group.id", COPIER_GROUP), ("isolation.level", "read_committed")])?,
    )?;
    let inputs = partitions_of(&engine, ORDERS)?;
    let committed_offsets = group.committed(&inputs)?;
    let ends = group.end_offsets(&inputs)?;
    let offsets_ok =
        inputs.iter().all(|tp| committed_offsets[tp].as_ref().map(|o| o.offset) == Some(ends[tp]));
    group.close()?;
    drop(group);
    engine.close()?;
    drop(engine);
    let verify = eoslog::inspect::verify_path(&args.data)?;

    let produced =
        s1.sent + 2 * ZOMBIE_RECORDS as u64 + s3.copied + s3.aborted_records + s4.committed * s4.txn_size;
    println!(
        "      records produced       {:>12}   (plus the crashed child's in-flight writes)",
        n(produced)
    );
    println!(
        "      duplicates dropped     {:>12}   (resends answered from the producer's dedup state)",
        n(s1.duplicates)
    );
    println!(
        "      aborted, hidden        {:>12}   (in the log, skipped by read_committed)",
        n(aborted_hidden)
    );
    println!("      committed, visible     {:>12}", n(visible_total));
    println!("      lost                   {:>12}", n(lost));
    println!("      duplicated             {:>12}", n(duplicated));
    println!(
        "      throughput             produce {} · copy {} · read_committed scan {}",
        rate(s1.sent, s1.bytes, s1.elapsed),
        rate(s3.copied, s3.copied * (ORDER_SIZE as u64 + 20), s3.elapsed),
        rate(visible_total, visible_bytes, read_elapsed),
    );
    println!();
    checks.check(lost == 0, format!("lost = {lost}: every acknowledged, committed record is visible"));
    checks.check(duplicated == 0, format!("duplicated = {duplicated}: no record is visible twice"));
    checks.check(
        zombie_visible == 0 && unexpected == 0 && aborted_hidden > 0,
        format!(
            "aborted records are hidden ({} in the log, {zombie_visible} of the zombie's visible, {unexpected} unexpected visible)",
            n(aborted_hidden)
        ),
    );
    checks.check(offsets_ok, "the copier's committed offsets are exactly the end of its input");
    checks.check(
        verify.ok(),
        format!(
            "`eoslog verify` finds the directory consistent ({} errors, {} batches checked)",
            verify.errors(),
            n(verify.batches)
        ),
    );
    for c in &checks.0 {
        println!("  {} {}", if c.ok { "✓" } else { "✗" }, c.what);
    }
    println!();
    let secs = started.elapsed().as_secs_f64();
    if checks.all_ok() {
        println!("All {} checks passed in {secs:.1} s. Look around:", checks.0.len());
        let eoslog = command_name();
        println!("  {eoslog} consume --data {} --topic {PAYMENTS} | head", args.data.display());
        println!("  {eoslog} dump --deep {}/{PAYMENTS}-0 | less", args.data.display());
        println!("  {eoslog} verify {}", args.data.display());
        Ok(())
    } else {
        let failed = checks.0.iter().filter(|c| !c.ok).count();
        Err(CliError::new(Class::Failed, format!("{failed} of {} checks FAILED", checks.0.len())))
    }
}

/// How to run this binary again from the current directory: `eoslog` when it is the one on
/// `PATH`, else its path (relative when it is below the current directory, as after `make demo`).
fn command_name() -> String {
    let Ok(exe) = std::env::current_exe() else { return "eoslog".into() };
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join("eoslog") == exe))
        .unwrap_or(false);
    if on_path {
        return "eoslog".into();
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    match exe.strip_prefix(&cwd) {
        Ok(relative) => format!("./{}", relative.display()),
        Err(_) => exe.display().to_string(),
    }
}
