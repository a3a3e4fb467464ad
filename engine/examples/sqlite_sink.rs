//! Exactly-once delivery from eoslog into SQLite (what a Kafka Connect sink with exactly-once
//! semantics does).
//!
//! ```text
//! cargo run -p eoslog --example sqlite_sink -- <data-dir> <topic> <sqlite-file> [records-per-txn]
//! ```
//!
//! It consumes every partition of the topic read_committed and, for each poll, inserts the
//! records into the `records` table **and** stores the consumer's positions in the `offsets`
//! table in one SQLite transaction. The offsets live next to the data they describe, so after
//! a crash the sink resumes from the positions SQLite has — never from eoslog's committed
//! offsets, which could be ahead of or behind what SQLite holds. Either both the rows and the
//! positions of a poll are in SQLite or neither is: every record lands exactly once.
//!
//! Each row keeps the record's coordinates (topic, partition, offset, producer id, epoch,
//! sequence) so the table itself can be audited for duplicates. The sink exits once it has
//! stored every partition up to its last stable offset.
//!
//! Progress goes to stdout as `EVT ...` lines (the crash test uses them to pick kill points).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::Duration;

use eoslog::client::{Consumer, ConsumerConfig, TopicPartition};
use eoslog::{Engine, EngineConfig};
use rusqlite::{Connection, OptionalExtension, params};

/// What the sink is told to do.
#[derive(Debug, Clone)]
pub struct SinkArgs {
    /// The engine's data directory.
    pub data_dir: String,
    /// Topic to deliver.
    pub topic: String,
    /// SQLite database file.
    pub db_path: String,
    /// Records per SQLite transaction (`max.poll.records`).
    pub records_per_txn: usize,
}

impl SinkArgs {
    /// Parses `<data-dir> <topic> <sqlite-file> [records-per-txn]`.
    pub fn parse(args: &[String]) -> Result<SinkArgs, String> {
        let (data_dir, topic, db_path, n) = match args {
            [d, t, f] => (d, t, f, 100),
            [d, t, f, n] => (d, t, f, n.parse().map_err(|_| format!("bad records-per-txn {n:?}"))?),
            _ => return Err("usage: sqlite_sink <data-dir> <topic> <sqlite-file> [records-per-txn]".into()),
        };
        if n == 0 {
            return Err("records-per-txn must be positive".into());
        }
        Ok(SinkArgs {
            data_dir: data_dir.clone(),
            topic: topic.clone(),
            db_path: db_path.clone(),
            records_per_txn: n,
        })
    }
}

/// The schema. `records` has no unique key on purpose: a duplicate delivery would be stored,
/// not rejected, so an audit can find it.
pub const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS records (
        topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
        key BLOB, value BLOB, timestamp INTEGER NOT NULL,
        producer_id INTEGER NOT NULL, producer_epoch INTEGER NOT NULL, sequence INTEGER NOT NULL,
        transactional INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS offsets (
        topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
        PRIMARY KEY (topic, partition));";

fn event(what: std::fmt::Arguments<'_>) {
    println!("EVT {what}");
}

/// Runs the sink until the topic is stored up to its end; returns the number of rows written.
pub fn run(args: &SinkArgs) -> Result<u64, Box<dyn std::error::Error>> {
    let mut db = Connection::open(&args.db_path)?;
    db.execute_batch(SCHEMA)?;
    let engine = Engine::open(&args.data_dir, EngineConfig::default())?;
    let partitions = engine.partition_count(&args.topic)?;
    // No group.id: the positions belong to SQLite, not to eoslog.
    let per_txn = args.records_per_txn.to_string();
    let consumer = Consumer::new(
        &engine,
        ConsumerConfig::from_pairs(&[
            ("isolation.level", "read_committed"),
            ("auto.offset.reset", "earliest"),
            ("max.poll.records", per_txn.as_str()),
        ])?,
    )?;
    let assigned: Vec<TopicPartition> =
        (0..partitions).map(|p| TopicPartition::new(&args.topic, p)).collect();
    consumer.assign(&assigned)?;
    for tp in &assigned {
        let stored: Option<i64> = db
            .query_row(
                "SELECT next_offset FROM offsets WHERE topic = ?1 AND partition = ?2",
                params![tp.topic, tp.partition],
                |row| row.get(0),
            )
            .optional()?;
        match stored {
            Some(offset) => consumer.seek(tp, offset)?,
            None => consumer.seek_to_beginning(std::slice::from_ref(tp))?,
        }
    }
    event(format_args!("start"));

    let mut rows = 0u64;
    loop {
        let records = consumer.poll(Duration::from_millis(100))?;
        if records.is_empty() {
            let ends = consumer.end_offsets(&assigned)?;
            let mut done = true;
            for tp in &assigned {
                done &= consumer.position(tp)? >= ends[tp];
            }
            if done {
                break;
            }
            continue;
        }
        let tx = db.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO records (topic, partition, offset, key, value, timestamp, producer_id, \
                 producer_epoch, sequence, transactional) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for r in &records {
                insert.execute(params![
                    r.topic,
                    r.partition,
                    r.offset,
                    r.key,
                    r.value,
                    r.timestamp,
                    r.producer_id,
                    r.producer_epoch,
                    r.sequence,
                    r.is_transactional
                ])?;
            }
            let mut upsert = tx.prepare_cached(
                "INSERT INTO offsets (topic, partition, next_offset) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset",
            )?;
            for tp in &assigned {
                upsert.execute(params![tp.topic, tp.partition, consumer.position(tp)?])?;
            }
        }
        // The rows and the positions become durable together, or not at all.
        tx.commit()?;
        rows += records.len() as u64;
        event(format_args!("stored {rows}"));
    }
    consumer.close()?;
    drop(consumer);
    engine.close()?;
    event(format_args!("done {rows}"));
    Ok(rows)
}

#[allow(dead_code)]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match SinkArgs::parse(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    match run(&args) {
        Ok(n) => println!("stored {n} records in {}", args.db_path),
        Err(e) => {
            eprintln!("sqlite_sink: {e}");
            std::process::exit(1);
        }
    }
}
