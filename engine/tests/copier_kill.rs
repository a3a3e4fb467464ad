//! The exactly-once copier (`examples/eos_copier.rs`) killed with SIGKILL at random points and
//! restarted until done, then checked by an outside oracle; and the copier killed between
//! PrepareCommit and CompleteCommit, after which the engine finishes the commit at open.
//!
//! The copier runs as a child process: this test binary re-executes itself with
//! `--exact copier_child` and the arguments in the environment, so a plain `cargo test` needs
//! no extra binary. `COPIER_KILLS` (default 20) sets the number of kills.
//!
//! The group copier (the example's `--group` mode: members that `subscribe` and commit with
//! their generation) runs the same way, with members joining, leaving and crashing on command
//! while it runs, and the whole process SIGKILLed; `GROUP_COPIER_KILLS` (default 5) sets the
//! number of kills.

mod client_support;

#[allow(dead_code)]
#[path = "../examples/eos_copier.rs"]
mod eos_copier;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Child;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use client_support::{Rng, events, kill, open, read_all, spawn_self};
use eoslog::batch::{self, ControlType};
use eoslog::client::{Producer, ProducerConfig, ProducerRecord};
use eoslog::txn::TransactionState;
use eoslog::{Engine, IsolationLevel};

const CHILD_VAR: &str = "EOSLOG_COPIER_CHILD_ARGS";
const GROUP: &str = "copiers";

/// Runs the copier when started by one of the tests below; a no-op in a normal test run.
#[test]
fn copier_child() {
    let Ok(args) = std::env::var(CHILD_VAR) else { return };
    let args: Vec<String> = args.split('\u{1f}').map(str::to_string).collect();
    let args = eos_copier::CopierArgs::parse(&args).unwrap();
    eos_copier::run(&args).unwrap();
}

const GROUP_CHILD_VAR: &str = "EOSLOG_GROUP_COPIER_CHILD_ARGS";

/// Runs the group copier when started by the group test below; a no-op otherwise.
#[test]
fn group_copier_child() {
    let Ok(args) = std::env::var(GROUP_CHILD_VAR) else { return };
    let args: Vec<String> = args.split('\u{1f}').map(str::to_string).collect();
    let (copier, group) = eos_copier::parse_cli(&args).unwrap();
    eos_copier::run_group(&copier, &group.expect("--group")).unwrap();
}

fn spawn_copier(dir: &Path, txn_size: usize, abort_p: f64, seed: u64, extra: &[(&str, &str)]) -> Child {
    let args = [
        dir.display().to_string(),
        "in".into(),
        "out".into(),
        GROUP.into(),
        txn_size.to_string(),
        abort_p.to_string(),
        seed.to_string(),
    ];
    let mut env = BTreeMap::new();
    env.insert(CHILD_VAR.to_string(), args.join("\u{1f}"));
    for (k, v) in extra {
        env.insert(k.to_string(), v.to_string());
    }
    spawn_self("copier_child", &env)
}

/// Input: `n` records over `partitions` partitions, written by an idempotent producer, with
/// committed and aborted transactions of another producer mixed in (the copier must copy only
/// what read_committed shows).
fn seed_input(dir: &Path, partitions: i32, n: usize) {
    let engine = open(dir);
    engine.create_topic("in", partitions, Default::default()).unwrap();
    engine.create_topic("out", partitions, Default::default()).unwrap();
    let plain = Producer::new(&engine, ProducerConfig::default()).unwrap();
    let txn = Producer::new(&engine, ProducerConfig::from_pairs(&[("transactional.id", "seeder")]).unwrap())
        .unwrap();
    txn.init_transactions().unwrap();
    for i in 0..n {
        let p = (i % partitions as usize) as i32;
        plain
            .send(ProducerRecord::with_key("in", format!("k{i}"), format!("rec-{p}-{i:06}")).partition(p))
            .unwrap();
        if i % 97 == 0 {
            txn.begin_transaction().unwrap();
            txn.send(ProducerRecord::new("in", format!("txn-{p}-{i:06}")).partition(p)).unwrap();
            txn.send(ProducerRecord::new("in", format!("txn-{p}-{i:06}-b")).partition((p + 1) % partitions))
                .unwrap();
            txn.flush().unwrap();
            if i % 2 == 0 {
                txn.commit_transaction().unwrap();
            } else {
                txn.abort_transaction().unwrap();
            }
        }
    }
    plain.flush().unwrap();
    drop((plain, txn));
    engine.close().unwrap();
}

/// The outside oracle: every input partition's committed records, transformed, appear in the
/// same output partition exactly once and in order; nothing aborted is visible; the group's
/// committed offsets are the input's ends; no transaction is left open.
fn check_copy(engine: &Engine, partitions: i32) -> (usize, usize) {
    check_copy_of(engine, partitions, GROUP, &[eos_copier::transactional_id(GROUP)])
}

/// [`check_copy`] for the copies of `group`, made by the producers of `transactional_ids`.
fn check_copy_of(
    engine: &Engine,
    partitions: i32,
    group: &str,
    transactional_ids: &[String],
) -> (usize, usize) {
    let (mut copied, mut aborted_copies) = (0, 0);
    for p in 0..partitions {
        let input = read_all(engine, "in", p, IsolationLevel::ReadCommitted);
        let expected: Vec<Vec<u8>> =
            input.iter().map(|r| eos_copier::transform(r.value.as_deref().unwrap())).collect();
        let output = read_all(engine, "out", p, IsolationLevel::ReadCommitted);
        let got: Vec<Vec<u8>> = output.iter().map(|r| r.value.clone().unwrap()).collect();
        assert_eq!(got.len(), expected.len(), "out-{p}: exactly one copy of each input record");
        assert!(got == expected, "out-{p}: output = transform(input), in order");
        assert!(input.iter().all(|r| !r.value_str().unwrap().starts_with("txn-") || r.is_transactional));
        for (i, o) in input.iter().zip(&output) {
            assert_eq!(i.key, o.key);
            assert!(o.is_transactional);
        }
        let in_log = engine.partition("in", p).unwrap();
        let committed = engine.offsets().committed(group, "in", p).expect("a committed offset");
        assert_eq!(committed.offset, in_log.log_end_offset(), "in-{p}: committed offset = end of the input");
        let out_log = engine.partition("out", p).unwrap();
        assert_eq!(
            out_log.last_stable_offset(),
            out_log.log_end_offset(),
            "out-{p}: LSO reached the log end"
        );
        let everything = read_all(engine, "out", p, IsolationLevel::ReadUncommitted).len();
        copied += got.len();
        aborted_copies += everything - got.len();
    }
    for id in transactional_ids {
        // A member killed before `init_transactions` never registered its id.
        let Some(state) = engine.transactions().describe(id).map(|d| d.state) else { continue };
        assert!(
            matches!(
                state,
                TransactionState::CompleteCommit | TransactionState::CompleteAbort | TransactionState::Empty
            ),
            "the copier's transactional id {id} is settled: {state}"
        );
    }
    (copied, aborted_copies)
}

#[test]
fn copier_survives_sigkill_at_random_points() {
    let kills: usize = std::env::var("COPIER_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let seed: u64 = std::env::var("COPIER_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(20_240_611);
    let partitions = 4;
    // A killed run commits at most three transactions (it dies within twelve events), so the
    // input outlasts the planned kills.
    let txn_size = 25;
    let n = (kills * 3 * txn_size + 500).max(2000);
    let dir = tempfile::tempdir().unwrap();
    seed_input(dir.path(), partitions, n);

    let started = Instant::now();
    let mut rng = Rng::new(seed);
    let (mut killed, mut runs) = (0, 0);
    loop {
        runs += 1;
        let mut child = spawn_copier(dir.path(), txn_size, 0.2, seed.wrapping_add(runs), &[]);
        let stdout = child.stdout.take().unwrap();
        let mut evts = events(stdout);
        if killed < kills {
            if rng.chance(0.15) {
                // During start-up: engine recovery, coordinator load, fencing.
                std::thread::sleep(Duration::from_millis(rng.range(0, 30)));
            } else {
                let wanted = rng.range(1, 13);
                let seen = evts.by_ref().take(wanted as usize).count();
                if seen as u64 != wanted {
                    let (status, stderr) = finish(&mut child);
                    panic!("the copier ended before kill {killed} (run {runs}): {status:?}\n{stderr}");
                }
                std::thread::sleep(Duration::from_micros(rng.range(0, 3000)));
            }
            kill(&mut child);
            killed += 1;
            continue;
        }
        let last = evts.last();
        let (status, stderr) = finish(&mut child);
        assert!(status.success(), "the final run failed: {status:?}, last event {last:?}\n{stderr}");
        assert!(last.as_deref().is_some_and(|e| e.starts_with("done")), "{last:?}");
        break;
    }
    let engine = open(dir.path());
    let (copied, aborted) = check_copy(&engine, partitions);
    assert!(aborted > 0, "aborted transactions left data in the log (only read_uncommitted sees it)");
    eprintln!(
        "copier: {killed} SIGKILLs over {runs} runs, {copied} records copied exactly once \
         ({aborted} aborted copies hidden), {:?}",
        started.elapsed()
    );
}

/// Waits for the child and collects what it wrote to stderr.
fn finish(child: &mut Child) -> (std::process::ExitStatus, String) {
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    (child.wait().unwrap(), stderr)
}

/// COMMIT markers per producer id in a partition's segment files (read raw, without opening an
/// engine — that would complete prepared transactions).
fn commit_markers(partition_dir: &Path) -> BTreeMap<i64, usize> {
    let mut out = BTreeMap::new();
    let mut files: Vec<_> = std::fs::read_dir(partition_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    files.sort();
    for f in files {
        let bytes = std::fs::read(f).unwrap();
        for b in batch::batches(&bytes) {
            let Ok(b) = b else { break };
            if b.is_control()
                && b.control_record().unwrap().is_some_and(|c| c.control_type == ControlType::Commit)
            {
                *out.entry(b.producer_id()).or_default() += 1;
            }
        }
    }
    out
}

fn total(m: &BTreeMap<i64, usize>) -> usize {
    m.values().sum()
}

/// SIGKILL between PrepareCommit and CompleteCommit (before any marker, and after the first
/// one): at the next open the engine completes the prepared commit — markers re-sent, the data
/// visible exactly once, the LSO at the log end — and the copier then finishes normally.
#[test]
fn sigkill_between_prepare_and_complete_commit() {
    for point in ["after-prepare-commit", "after-first-commit-marker"] {
        let dir = tempfile::tempdir().unwrap();
        let partitions = 2;
        seed_input(dir.path(), partitions, 300);
        let mut child = spawn_copier(
            dir.path(),
            20,
            0.0,
            1,
            &[("EOSLOG_FAILPOINT", &format!("{point}@3")), ("RUST_BACKTRACE", "0")],
        );
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let stdout = child.stdout.take().unwrap();
        let drain = std::thread::spawn(move || events(stdout).count());
        let mut reached = false;
        for line in stderr.lines().map_while(Result::ok) {
            if line.starts_with("EOSLOG_FAILPOINT") {
                reached = true;
                break;
            }
        }
        assert!(reached, "{point}: the copier never reached the crash point");
        kill(&mut child);
        drain.join().unwrap();

        // On disk: two commits complete; the third prepared, with no data marker yet.
        let out_markers: Vec<BTreeMap<i64, usize>> =
            (0..partitions).map(|p| commit_markers(&dir.path().join(format!("out-{p}")))).collect();
        let offsets_markers = commit_markers(&dir.path().join("__consumer_offsets-0"));
        let out_before: usize = out_markers.iter().map(total).sum();
        assert_eq!(total(&offsets_markers), if point == "after-prepare-commit" { 2 } else { 3 }, "{point}");

        // The restart: opening the engine completes the prepared transaction.
        let engine = open(dir.path());
        let out_after: usize =
            (0..partitions).map(|p| total(&commit_markers(&dir.path().join(format!("out-{p}"))))).sum();
        assert!(out_after > out_before, "{point}: the missing markers were written at open");
        let d = engine.transactions().describe(&eos_copier::transactional_id(GROUP)).unwrap();
        assert_eq!(d.state, TransactionState::CompleteCommit, "{point}");
        for p in 0..partitions {
            let log = engine.partition("out", p).unwrap();
            assert_eq!(log.last_stable_offset(), log.log_end_offset(), "{point}: out-{p} LSO advanced");
            // Exactly the input up to the committed offset is copied, once.
            let committed = engine.offsets().committed(GROUP, "in", p).map_or(0, |o| o.offset);
            let input: Vec<Vec<u8>> = read_all(&engine, "in", p, IsolationLevel::ReadCommitted)
                .iter()
                .filter(|r| r.offset < committed)
                .map(|r| eos_copier::transform(r.value.as_deref().unwrap()))
                .collect();
            let output: Vec<Vec<u8>> = read_all(&engine, "out", p, IsolationLevel::ReadCommitted)
                .into_iter()
                .map(|r| r.value.unwrap())
                .collect();
            assert!(output == input, "{point}: out-{p} holds exactly the committed copies");
        }
        let copied_before: usize =
            (0..partitions).map(|p| read_all(&engine, "out", p, IsolationLevel::ReadCommitted).len()).sum();
        assert!(copied_before > 0);
        engine.close().unwrap();
        drop(engine);

        // The copier resumes from the committed offsets and finishes.
        let mut child = spawn_copier(dir.path(), 20, 0.0, 2, &[]);
        let n = events(child.stdout.take().unwrap()).count();
        let (status, stderr) = finish(&mut child);
        assert!(status.success() && n > 0, "{point}: the resumed copier failed: {status:?}\n{stderr}");
        let engine = open(dir.path());
        check_copy(&engine, partitions);
    }
}

const COPIER_GROUP: &str = "copier-group";

fn spawn_group_copier(dir: &Path, seed: u64, members: &[&str]) -> Child {
    let args = [
        dir.display().to_string(),
        "in".into(),
        "out".into(),
        COPIER_GROUP.into(),
        "8".into(),
        "0.1".into(),
        seed.to_string(),
        "--group".into(),
        members.join(","),
        "--static".into(),
        "--session-timeout-ms".into(),
        "1500".into(),
        "--transaction-timeout-ms".into(),
        "3000".into(),
    ];
    let mut env = BTreeMap::new();
    env.insert(GROUP_CHILD_VAR.to_string(), args.join("\u{1f}"));
    spawn_self("group_copier_child", &env)
}

/// The child's `EVT` lines on a channel (so that a stuck child fails the test instead of
/// hanging it).
fn event_channel(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for e in events(stdout) {
            if tx.send(e).is_err() {
                return;
            }
        }
    });
    rx
}

/// The exactly-once copier as a consumer group over six partitions: three static members
/// (`m0`..`m2`) start in every run; while a run goes on, dynamic members join, members leave
/// (revoking their partitions, in a rebalance) and crash (no LeaveGroup, no abort, no more
/// heartbeats: expelled when their session times out, their transaction aborted when it
/// does), with random aborts besides; and every run but the last ends with a SIGKILL of the
/// process — group coordinator, members and all. The restarted static members take their
/// places back without a rebalance. The outside oracle then finds every input record copied
/// exactly once and in order, nothing aborted visible, the group's committed offsets at the
/// end of every input partition, every output partition stable, and every member's
/// transactional id settled.
///
/// All members share one process because the engine's data directory belongs to one process
/// at a time; a member's own SIGKILL is what `crash` reproduces, as the coordinators see it.
#[test]
fn group_copier_survives_members_joining_leaving_crashing_and_sigkill() {
    let kills: usize = std::env::var("GROUP_COPIER_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let seed: u64 = std::env::var("COPIER_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(20_250_207);
    let partitions = 6;
    // A run is killed after at most 24 commits of at most 8 records: the input outlasts the
    // planned kills.
    let n = (kills * 24 * 8 + 1200).max(1800);
    let dir = tempfile::tempdir().unwrap();
    seed_input(dir.path(), partitions, n);
    let patience = Duration::from_secs(120);
    let started = Instant::now();
    let mut rng = Rng::new(seed);
    let mut names: BTreeSet<String> = ["m0", "m1", "m2"].map(String::from).into();
    let (mut killed, mut joined, mut left, mut crashed, mut stalled, mut runs) = (0, 0, 0, 0, 0, 0u64);
    // Events by kind: `committed`, `aborted`, `refused` (offsets refused by the group, or
    // partitions revoked mid-transaction), `joined`, ...
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    loop {
        runs += 1;
        let last_run = killed == kills;
        let mut child = spawn_group_copier(dir.path(), seed.wrapping_add(runs), &["m0", "m1", "m2"]);
        let mut stdin = child.stdin.take().unwrap();
        let evts = event_channel(&mut child);
        // This run's plan, in committed transactions: a member joins, one leaves, one crashes
        // (never the last one alive), then the SIGKILL.
        let kill_at = rng.range(8, 25);
        let mut plan: Vec<(u64, &str)> = vec![
            (rng.range(1, kill_at), "join"),
            (rng.range(2, kill_at), "leave"),
            (rng.range(2, kill_at), "crash"),
            (rng.range(1, kill_at), "stall"),
        ];
        plan.sort();
        let mut live: Vec<String> = ["m0", "m1", "m2"].map(String::from).to_vec();
        let mut commits = 0;
        let mut done = false;
        loop {
            let e = match evts.recv_timeout(patience) {
                Ok(e) => e,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    kill(&mut child);
                    let (status, stderr) = finish(&mut child);
                    panic!("run {runs}: no progress for {patience:?} ({status:?})\n{stderr}");
                }
            };
            if e.starts_with("done") {
                done = true;
                continue;
            }
            *kinds.entry(e.split_whitespace().next().unwrap_or_default().to_string()).or_insert(0) += 1;
            if !e.starts_with("committed") || last_run {
                continue;
            }
            commits += 1;
            while let Some((at, what)) = plan.first().copied()
                && at <= commits
            {
                plan.remove(0);
                let command = match what {
                    "join" => {
                        joined += 1;
                        let name = format!("x{joined}");
                        names.insert(name.clone());
                        live.push(name.clone());
                        format!("join {name}")
                    }
                    "stall" => {
                        stalled += 1;
                        format!("stall {}", live[rng.range(0, live.len() as u64) as usize])
                    }
                    _ if live.len() < 2 => continue,
                    _ => {
                        let victim = live.remove(rng.range(0, live.len() as u64) as usize);
                        if what == "leave" {
                            left += 1;
                        } else {
                            crashed += 1;
                        }
                        format!("{what} {victim}")
                    }
                };
                writeln!(stdin, "{command}").unwrap();
            }
            if commits >= kill_at {
                // Anywhere: in a rebalance, in a transaction, between prepare and complete.
                std::thread::sleep(Duration::from_micros(rng.range(0, 3000)));
                kill(&mut child);
                killed += 1;
                break;
            }
        }
        if done || last_run {
            drop(stdin);
            let (status, stderr) = finish(&mut child);
            assert!(status.success() && done, "run {runs} failed: {status:?}\n{stderr}");
            break;
        }
    }
    let engine = open(dir.path());
    let ids: Vec<String> =
        names.iter().map(|m| eos_copier::member_transactional_id(COPIER_GROUP, m)).collect();
    // A member that was not restarted after a kill may have left a transaction open with
    // nothing written yet (no output is held back: the last run ended with every output
    // partition stable). Nothing hangs: it is aborted once its timeout (3 s) passes.
    let deadline = Instant::now() + patience;
    while ids.iter().any(|id| {
        let Some(state) = engine.transactions().describe(id).map(|d| d.state) else { return false };
        !matches!(
            state,
            TransactionState::CompleteCommit | TransactionState::CompleteAbort | TransactionState::Empty
        )
    }) {
        assert!(Instant::now() < deadline, "a dead member's transaction never timed out");
        engine.transactions().abort_timed_out_transactions();
        std::thread::sleep(Duration::from_millis(20));
    }
    let (copied, aborted) = check_copy_of(&engine, partitions, COPIER_GROUP, &ids);
    assert_eq!(killed, kills, "the input outlasted the planned kills");
    assert!(aborted > 0, "aborted copies stay in the log, invisible to read_committed");
    eprintln!(
        "group copier: {killed} SIGKILLs over {runs} runs, {joined} joins, {left} leaves, {crashed} member \
         crashes, {stalled} stalls; {copied} records copied exactly once ({aborted} aborted copies hidden), {:?}; \
         events {kinds:?}",
        started.elapsed()
    );
}
