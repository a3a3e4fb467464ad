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
//!
//! # Group mode
//!
//! ```text
//! cargo run -p eoslog --example eos_copier -- <the seven arguments above> \
//!     --group <member>[,<member>...] [--static] [--session-timeout-ms N] [--transaction-timeout-ms N]
//! ```
//!
//! Kafka's `TransactionalMessageCopier` with `subscribe`: the named members run as copiers in
//! one consumer group, each with its own consumer (`subscribe`, so the group splits the
//! partitions among them and moves them in rebalances) and its own transactional producer
//! (transactional id `eos-copier-<group>-<member>`: one per application instance, KIP-447).
//! Every transaction carries the member's group metadata, so a member that lost its partitions
//! cannot commit them. With `--static` the initial members use their names as
//! `group.instance.id`.
//!
//! The engine's data directory belongs to one process, so the members are threads of this
//! one. Standard input takes commands, one per line: `join <member> [static]` starts a member,
//! `leave <member>` makes it finish its transaction, close its consumer (revoking its
//! partitions and leaving the group) and its producer, and `crash <member>` makes it stop dead
//! in the middle of its work, as if its own process had been SIGKILLed: no LeaveGroup, no
//! abort, no more heartbeats — the group coordinator expels it when its session times out and
//! the transaction coordinator aborts its open transaction when that times out. `stall
//! <member>` makes it stop heartbeating and working for longer than its session with a
//! transaction open, then go on as a zombie whose offsets the group refuses. The process
//! exits when every input partition is copied to its end and every output partition is stable.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::io::BufRead;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use eoslog::client::{
    Consumer, ConsumerConfig, ConsumerRebalanceListener, OffsetAndMetadata, Producer, ProducerConfig,
    ProducerRecord, TopicPartition, TransactionState,
};
use eoslog::{Engine, EngineConfig, Error, ErrorCode};

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

/// Settings of the group mode.
#[derive(Debug, Clone)]
pub struct GroupArgs {
    /// The members started at once: name, and whether it is static.
    pub members: Vec<(String, bool)>,
    /// `session.timeout.ms` of every member (the engine's minimum is lowered to it).
    pub session_timeout_ms: i32,
    /// `transaction.timeout.ms` of every member's producer.
    pub transaction_timeout_ms: i32,
}

impl GroupArgs {
    /// Parses the flags after the seven positional arguments; `None` without `--group`.
    pub fn parse(flags: &[String]) -> Result<Option<GroupArgs>, String> {
        let mut members = None;
        let mut is_static = false;
        let mut session_timeout_ms = 10_000;
        let mut transaction_timeout_ms = 60_000;
        let mut it = flags.iter();
        while let Some(flag) = it.next() {
            let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--group" => members = Some(value()?.clone()),
                "--static" => is_static = true,
                "--session-timeout-ms" => {
                    session_timeout_ms =
                        value()?.parse().map_err(|_| "bad --session-timeout-ms".to_string())?
                }
                "--transaction-timeout-ms" => {
                    transaction_timeout_ms =
                        value()?.parse().map_err(|_| "bad --transaction-timeout-ms".to_string())?
                }
                other => return Err(format!("unknown flag {other}")),
            }
        }
        let Some(members) = members else {
            return if is_static { Err("--static needs --group".into()) } else { Ok(None) };
        };
        let members: Vec<(String, bool)> =
            members.split(',').filter(|m| !m.is_empty()).map(|m| (m.to_string(), is_static)).collect();
        if members.is_empty() {
            return Err("--group needs at least one member name".into());
        }
        Ok(Some(GroupArgs { members, session_timeout_ms, transaction_timeout_ms }))
    }
}

/// The transactional id of member `member` of the group copier (one per member, so that a
/// restarted member fences its previous incarnation).
pub fn member_transactional_id(group: &str, member: &str) -> String {
    format!("eos-copier-{group}-{member}")
}

/// A running member.
type MemberThread = JoinHandle<Result<CopierStats, Error>>;

/// What the main thread tells a member thread.
#[derive(Debug, Default)]
struct MemberControl {
    leave: AtomicBool,
    crash: AtomicBool,
    stall: AtomicBool,
}

/// Sets a flag whenever partitions are taken away: a transaction holding records of a
/// partition the member no longer owns must not commit.
struct RevocationFlag {
    member: String,
    flag: Arc<AtomicBool>,
}

impl RevocationFlag {
    fn taken(&self, how: &str, partitions: &[TopicPartition]) {
        if !partitions.is_empty() {
            self.flag.store(true, Ordering::Release);
            event(format_args!("{how} {} {}", self.member, partitions.len()));
        }
    }
}

impl ConsumerRebalanceListener for RevocationFlag {
    fn on_partitions_revoked(&mut self, _: &Consumer, partitions: &[TopicPartition]) {
        self.taken("revoked", partitions);
    }
    fn on_partitions_assigned(&mut self, _: &Consumer, partitions: &[TopicPartition]) {
        event(format_args!("assigned {} {}", self.member, partitions.len()));
    }
    fn on_partitions_lost(&mut self, _: &Consumer, partitions: &[TopicPartition]) {
        self.taken("lost", partitions);
    }
}

/// Rewinds every assigned partition to the group's committed offset (the start without one):
/// what an aborted transaction held is copied again.
fn rewind(consumer: &Consumer) -> Result<(), Error> {
    let assigned = consumer.assignment();
    let committed = consumer.committed(&assigned)?;
    for tp in &assigned {
        match &committed[tp] {
            Some(o) => consumer.seek(tp, o.offset)?,
            None => consumer.seek_to_beginning(std::slice::from_ref(tp))?,
        }
    }
    Ok(())
}

fn member_producer(engine: &Engine, args: &CopierArgs, g: &GroupArgs, name: &str) -> Result<Producer, Error> {
    let id = member_transactional_id(&args.group, name);
    let timeout = g.transaction_timeout_ms.to_string();
    let producer = Producer::new(
        engine,
        ProducerConfig::from_pairs(&[
            ("transactional.id", id.as_str()),
            ("transaction.timeout.ms", timeout.as_str()),
        ])?,
    )?;
    producer.init_transactions()?;
    Ok(producer)
}

/// One member: copies the partitions the group gives it until told to leave or crash, or
/// until `all_done`.
fn run_member(
    engine: &Engine,
    args: &CopierArgs,
    g: &GroupArgs,
    name: &str,
    is_static: bool,
    control: &MemberControl,
    all_done: &AtomicBool,
) -> Result<CopierStats, Error> {
    let mut producer = member_producer(engine, args, g, name)?;
    let per_poll = args.transaction_size.div_ceil(4).max(1).to_string();
    let session = g.session_timeout_ms.to_string();
    let heartbeat = (g.session_timeout_ms / 4).max(1).to_string();
    let mut pairs = vec![
        ("group.id", args.group.as_str()),
        ("client.id", name),
        ("isolation.level", "read_committed"),
        ("auto.offset.reset", "earliest"),
        ("max.poll.records", per_poll.as_str()),
        ("session.timeout.ms", session.as_str()),
        ("heartbeat.interval.ms", heartbeat.as_str()),
    ];
    if is_static {
        pairs.push(("group.instance.id", name));
    }
    let consumer = Consumer::new(engine, ConsumerConfig::from_pairs(&pairs)?)?;
    let revoked = Arc::new(AtomicBool::new(false));
    consumer.subscribe(
        &[args.input.as_str()],
        RevocationFlag { member: name.to_string(), flag: revoked.clone() },
    )?;
    event(format_args!("joined {name}"));

    let mut rng = Rng(args.seed
        ^ name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)));
    let mut stats = CopierStats::default();
    // What this member last committed per partition: a transaction without records still
    // commits positions that moved (past markers at the end of a partition).
    let mut committed: BTreeMap<TopicPartition, i64> = BTreeMap::new();
    let crash = |consumer: Consumer, producer: Producer| {
        // A dead process neither leaves its group nor aborts its transaction, and stops
        // heartbeating; dropping the clients would do the first two.
        producer.flush().ok();
        consumer.set_heartbeats_paused(true);
        std::mem::forget(consumer);
        std::mem::forget(producer);
        event(format_args!("crashed {name}"));
    };
    loop {
        if control.crash.load(Ordering::Acquire) {
            crash(consumer, producer);
            return Ok(stats);
        }
        if control.leave.load(Ordering::Acquire) || all_done.load(Ordering::Acquire) {
            break;
        }
        producer.begin_transaction()?;
        let mut sent = 0;
        let mut doomed = false;
        while sent < args.transaction_size {
            let records = consumer.poll(Duration::from_millis(100))?;
            if revoked.swap(false, Ordering::AcqRel) && sent > 0 {
                // Records of a partition given up are in this transaction.
                doomed = true;
                break;
            }
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
        if control.crash.load(Ordering::Acquire) {
            crash(consumer, producer);
            return Ok(stats);
        }
        if control.stall.swap(false, Ordering::AcqRel) {
            // A stalled process (a long pause, SIGSTOP) with its transaction open: no
            // heartbeats for longer than the session, so the group expels the member and
            // hands its partitions over. Waking up, it is a zombie: the offsets it sends next
            // must be refused (KIP-447), and its transaction aborted.
            producer.flush()?;
            consumer.set_heartbeats_paused(true);
            event(format_args!("stalled {name}"));
            std::thread::sleep(Duration::from_millis(g.session_timeout_ms.max(0) as u64 + 500));
            consumer.set_heartbeats_paused(false);
        }
        let mut offsets = Vec::new();
        if !doomed {
            for tp in consumer.assignment() {
                let position = consumer.position(&tp)?;
                if sent > 0 || committed.get(&tp) != Some(&position) {
                    offsets.push((tp, OffsetAndMetadata::new(position)));
                }
            }
        }
        if !doomed && offsets.is_empty() {
            // Nothing read and nothing to commit: an empty transaction ends locally.
            producer.commit_transaction()?;
            continue;
        }
        let sent_offsets = if doomed {
            Err(Error::kafka(ErrorCode::RebalanceInProgress, "partitions were revoked"))
        } else {
            producer.send_offsets_to_transaction(&offsets, &consumer.group_metadata()?)
        };
        if control.crash.load(Ordering::Acquire) {
            crash(consumer, producer);
            return Ok(stats);
        }
        let commit = match sent_offsets {
            Err(e) => {
                // Fenced by a rebalance (KIP-447), or partitions were revoked: the transaction
                // is aborted and what it held is copied again from what is committed.
                event(format_args!("refused {name} {}", e.code().name()));
                false
            }
            Ok(()) => !rng.chance(args.abort_probability),
        };
        let ended = if commit { producer.commit_transaction() } else { producer.abort_transaction() };
        if ended.is_err() && producer.transaction_state() == TransactionState::AbortableError {
            // A record of the transaction failed: it can only be aborted.
            producer.abort_transaction()?;
            stats.aborted += 1;
            committed.clear();
            rewind(&consumer)?;
            continue;
        }
        match ended {
            Ok(()) if commit => {
                stats.committed += 1;
                stats.records += sent as u64;
                for (tp, o) in &offsets {
                    committed.insert(tp.clone(), o.offset);
                }
                event(format_args!("committed {name} {}", stats.committed));
            }
            Ok(()) => {
                stats.aborted += 1;
                committed.clear();
                rewind(&consumer)?;
                event(format_args!("aborted {name} {}", stats.aborted));
            }
            Err(e) if producer.transaction_state() == TransactionState::FatalError => {
                // The transaction coordinator aborted the transaction (its timeout) and fenced
                // this producer: a new one takes over the transactional id.
                event(format_args!("producer-restart {name} {}", e.code().name()));
                drop(producer);
                producer = member_producer(engine, args, g, name)?;
                committed.clear();
                rewind(&consumer)?;
            }
            Err(e) => return Err(e),
        }
    }
    producer.close()?;
    consumer.close()?;
    event(format_args!("left {name}"));
    Ok(stats)
}

/// Whether every input partition is copied to its end (the group's committed offsets) and
/// every output partition is stable.
fn group_done(engine: &Engine, args: &CopierArgs, partitions: i32) -> Result<bool, Error> {
    for p in 0..partitions {
        let end = engine.partition(&args.input, p)?.log_end_offset();
        if engine.offsets().committed(&args.group, &args.input, p).is_none_or(|o| o.offset < end) {
            return Ok(false);
        }
        let out = engine.partition(&args.output, p)?;
        if out.last_stable_offset() < out.log_end_offset() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Runs the group copier until the input is copied.
pub fn run_group(args: &CopierArgs, g: &GroupArgs) -> Result<CopierStats, Error> {
    let config = EngineConfig {
        group_min_session_timeout_ms: EngineConfig::default()
            .group_min_session_timeout_ms
            .min(g.session_timeout_ms),
        // Members come and go: no waiting for more of them.
        group_initial_rebalance_delay_ms: 0,
        // Crashed members' transactions are aborted soon after they time out.
        transaction_abort_timed_out_interval_ms: i64::from(g.transaction_timeout_ms / 4).clamp(10, 10_000),
        ..EngineConfig::default()
    };
    let engine = Engine::open(&args.data_dir, config)?;
    let partitions = engine.partition_count(&args.input)?;
    if engine.partition_count(&args.output).is_err() {
        engine.create_topic(&args.output, partitions, Default::default())?;
    }
    event(format_args!("start"));
    let all_done = Arc::new(AtomicBool::new(false));
    let mut members: BTreeMap<String, (Arc<MemberControl>, MemberThread)> = BTreeMap::new();
    let spawn = |name: &str, is_static: bool| {
        let control = Arc::new(MemberControl::default());
        let (engine, args, g, name, c, done) =
            (engine.clone(), args.clone(), g.clone(), name.to_string(), control.clone(), all_done.clone());
        let handle = std::thread::spawn(move || run_member(&engine, &args, &g, &name, is_static, &c, &done));
        (control, handle)
    };
    for (name, is_static) in &g.members {
        members.insert(name.clone(), spawn(name, *is_static));
    }
    let (commands, incoming) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if commands.send(line).is_err() {
                return;
            }
        }
    });
    let mut stats = CopierStats::default();
    let mut add = |s: CopierStats| {
        stats.committed += s.committed;
        stats.aborted += s.aborted;
        stats.records += s.records;
    };
    while !group_done(&engine, args, partitions)? {
        if let Ok(line) = incoming.recv_timeout(Duration::from_millis(20)) {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["join", name, rest @ ..] if !members.contains_key(*name) => {
                    members.insert(name.to_string(), spawn(name, rest == ["static"]));
                }
                ["leave", name] => {
                    if let Some((c, _)) = members.get(*name) {
                        c.leave.store(true, Ordering::Release);
                    }
                }
                ["crash", name] => {
                    if let Some((c, _)) = members.get(*name) {
                        c.crash.store(true, Ordering::Release);
                    }
                }
                ["stall", name] => {
                    if let Some((c, _)) = members.get(*name) {
                        c.stall.store(true, Ordering::Release);
                    }
                }
                _ => eprintln!("eos_copier: ignoring command {line:?}"),
            }
        }
        // A member thread that ended is gone from the group; an error ends the copier.
        let finished: Vec<String> =
            members.iter().filter(|(_, (_, h))| h.is_finished()).map(|(n, _)| n.clone()).collect();
        for name in finished {
            let (_, handle) = members.remove(&name).expect("listed above");
            match handle.join() {
                Ok(Ok(s)) => add(s),
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(Error::InvalidRequest(format!("member {name} panicked"))),
            }
        }
    }
    all_done.store(true, Ordering::Release);
    for (name, (_, handle)) in members {
        match handle.join() {
            Ok(Ok(s)) => add(s),
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(Error::InvalidRequest(format!("member {name} panicked"))),
        }
    }
    engine.close()?;
    event(format_args!("done {} {} {}", stats.committed, stats.aborted, stats.records));
    Ok(stats)
}

/// Parses the command line: the seven positional arguments, then the group mode's flags.
pub fn parse_cli(args: &[String]) -> Result<(CopierArgs, Option<GroupArgs>), String> {
    let positional = args.len().min(7);
    let copier = CopierArgs::parse(&args[..positional])?;
    Ok((copier, GroupArgs::parse(&args[positional..])?))
}

#[allow(dead_code)]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (args, group) = match parse_cli(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let result = match &group {
        Some(g) => run_group(&args, g),
        None => run(&args),
    };
    match result {
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
