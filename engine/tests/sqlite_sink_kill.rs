//! The SQLite sink (`examples/sqlite_sink.rs`) killed with SIGKILL mid-way several times and
//! restarted: every committed record ends up in SQLite exactly once, nothing aborted does, and
//! SQLite's stored positions are the ends of the partitions. `SINK_KILLS` (default 8) sets the
//! number of kills.

mod client_support;

#[allow(dead_code)]
#[path = "../examples/sqlite_sink.rs"]
mod sqlite_sink;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Child;
use std::time::Duration;

use client_support::{Rng, events, kill, open, read_all, spawn_self};
use eoslog::IsolationLevel;
use eoslog::client::{Producer, ProducerConfig, ProducerRecord};

const CHILD_VAR: &str = "EOSLOG_SINK_CHILD_ARGS";

/// Runs the sink when started by the test below; a no-op in a normal test run.
#[test]
fn sink_child() {
    let Ok(args) = std::env::var(CHILD_VAR) else { return };
    let args: Vec<String> = args.split('\u{1f}').map(str::to_string).collect();
    sqlite_sink::run(&sqlite_sink::SinkArgs::parse(&args).unwrap()).unwrap();
}

fn spawn_sink(dir: &Path, db: &Path, per_txn: usize) -> Child {
    let args = [dir.display().to_string(), "events".into(), db.display().to_string(), per_txn.to_string()];
    let env = BTreeMap::from([(CHILD_VAR.to_string(), args.join("\u{1f}"))]);
    spawn_self("sink_child", &env)
}

fn finish(child: &mut Child) -> (std::process::ExitStatus, String) {
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    (child.wait().unwrap(), stderr)
}

#[test]
fn sqlite_sink_stores_every_record_exactly_once_across_sigkills() {
    let kills: usize = std::env::var("SINK_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(8);
    let per_txn = 20;
    // A killed run stores at most eight transactions, so the topic outlasts the kills.
    let n = (kills * 8 * per_txn + 1000).max(3000);
    let partitions = 3;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = dir.path().join("sink.db");

    // The topic: idempotent records, committed and aborted transactions.
    let expected: BTreeMap<(i32, i64), Vec<u8>> = {
        let engine = open(&data);
        engine.create_topic("events", partitions, Default::default()).unwrap();
        let plain = Producer::new(&engine, ProducerConfig::default()).unwrap();
        let txn =
            Producer::new(&engine, ProducerConfig::from_pairs(&[("transactional.id", "writer")]).unwrap())
                .unwrap();
        txn.init_transactions().unwrap();
        for i in 0..n {
            plain
                .send(ProducerRecord::with_key("events", format!("k{}", i % 50), format!("e-{i:06}")))
                .unwrap();
            if i % 50 == 0 {
                let commit = i % 100 == 0;
                txn.begin_transaction().unwrap();
                for p in 0..partitions {
                    let tag = if commit { "committed" } else { "aborted" };
                    txn.send(ProducerRecord::new("events", format!("{tag}-{i:06}-{p}")).partition(p))
                        .unwrap();
                }
                txn.flush().unwrap();
                if commit { txn.commit_transaction() } else { txn.abort_transaction() }.unwrap();
            }
        }
        plain.flush().unwrap();
        drop((plain, txn));
        let mut expected = BTreeMap::new();
        for p in 0..partitions {
            for r in read_all(&engine, "events", p, IsolationLevel::ReadCommitted) {
                expected.insert((p, r.offset), r.value.unwrap());
            }
        }
        engine.close().unwrap();
        expected
    };
    assert!(expected.len() > n);

    let mut rng = Rng::new(4242);
    let mut runs = 0;
    let mut killed = 0;
    loop {
        runs += 1;
        let mut child = spawn_sink(&data, &db, per_txn);
        let mut evts = events(child.stdout.take().unwrap());
        if killed < kills {
            let wanted = rng.range(1, 9) as usize;
            if evts.by_ref().take(wanted).count() != wanted {
                let (status, stderr) = finish(&mut child);
                panic!("the sink ended before kill {killed}: {status:?}\n{stderr}");
            }
            // Land inside the next SQLite transaction or the next poll.
            std::thread::sleep(Duration::from_micros(rng.range(0, 4000)));
            kill(&mut child);
            killed += 1;
            continue;
        }
        let last = evts.last();
        let (status, stderr) = finish(&mut child);
        assert!(status.success(), "the final run failed: {status:?} {last:?}\n{stderr}");
        break;
    }

    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut stmt = conn
        .prepare("SELECT partition, offset, value, count(*) FROM records GROUP BY partition, offset")
        .unwrap();
    let rows: Vec<(i32, i64, Vec<u8>, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let dups: Vec<_> = rows.iter().filter(|r| r.3 != 1).collect();
    assert!(dups.is_empty(), "records stored more than once: {dups:?}");
    let got: BTreeMap<(i32, i64), Vec<u8>> = rows.into_iter().map(|(p, o, v, _)| ((p, o), v)).collect();
    assert_eq!(got.len(), expected.len(), "every committed record, nothing else");
    assert!(got == expected, "SQLite holds exactly the read_committed view of the topic");
    let aborted: i64 = conn
        .query_row("SELECT count(*) FROM records WHERE value LIKE 'aborted-%'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(aborted, 0);
    let txns: BTreeSet<i64> = {
        let mut s = conn.prepare("SELECT DISTINCT producer_id FROM records WHERE transactional = 1").unwrap();
        s.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(txns.len(), 1, "the transactional writer's records carry its producer id");

    let engine = open(&data);
    for p in 0..partitions {
        let stored: i64 = conn
            .query_row(
                "SELECT next_offset FROM offsets WHERE topic = 'events' AND partition = ?1",
                [p],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stored, engine.partition("events", p).unwrap().log_end_offset(), "events-{p}");
    }
    eprintln!("sqlite sink: {killed} SIGKILLs over {runs} runs, {} records stored exactly once", got.len());
}
