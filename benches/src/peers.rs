//! Peers given the same batches: the `commitlog` crate and SQLite.
//!
//! - [`commitlog_append`]: one `commitlog::CommitLog` per partition, each 16 KiB batch appended
//!   as one message. Note that `CommitLog::flush` msyncs the index but only calls
//!   `File::flush` (a no-op) on the segment, so for a final sync this module also
//!   `fdatasync`s every file of the log's directory — otherwise commitlog would be credited for
//!   durability it does not provide.
//! - [`sqlite_append`]: what an embedder would otherwise reach for — one SQLite database (WAL
//!   mode) per partition holding a table of batches; for the exactly-once workloads the table
//!   has a `UNIQUE (producer_id, sequence)` key and inserts skip duplicates
//!   (`ON CONFLICT DO NOTHING`), which is SQLite's version of eoslog's dedup check.

use std::path::Path;
use std::sync::{Barrier, Mutex};
use std::time::Duration;

use crate::data::{StreamKind, Workload};
use crate::{BenchError, Context, Measurement, Result, RunDir, Timer, settle};

/// Appends every batch of `workload` as one `commitlog` message, one log and one thread per
/// partition (the workload must have one stream per partition). With `final_sync` the timed
/// region ends with `flush` and an `fdatasync` of every file of every log.
pub fn commitlog_append(root: &Path, workload: &Workload, final_sync: bool) -> Result<Measurement> {
    if workload.streams.len() != workload.shape.partitions {
        return Err(BenchError("commitlog runs need one stream per partition".into()));
    }
    let dir = RunDir::new_in(root)?;
    let logs: Vec<Mutex<commitlog::CommitLog>> = (0..workload.shape.partitions)
        .map(|p| {
            let mut opts = commitlog::LogOptions::new(dir.path().join(format!("partition-{p}")));
            opts.segment_max_bytes(1 << 30).message_max_bytes(workload.batch_len() + 1024);
            commitlog::CommitLog::new(opts).map(Mutex::new).ctx(|| "open commitlog".into())
        })
        .collect::<Result<_>>()?;
    settle();
    let barrier = Barrier::new(workload.streams.len() + 1);
    let root_dir = dir.path();
    let (elapsed, cpu) = std::thread::scope(|scope| -> Result<(Duration, Duration)> {
        let handles: Vec<_> = workload
            .streams
            .iter()
            .map(|stream| {
                let (log, barrier) = (&logs[stream.partition], &barrier);
                scope.spawn(move || -> Result<()> {
                    let mut log = log.lock().map_err(|_| BenchError("poisoned".into()))?;
                    barrier.wait();
                    for b in &stream.batches {
                        log.append_msg(b).ctx(|| "commitlog append".into())?;
                    }
                    if final_sync {
                        log.flush().ctx(|| "commitlog flush".into())?;
                        sync_dir_files(&root_dir.join(format!("partition-{}", stream.partition)))?;
                    }
                    Ok(())
                })
            })
            .collect();
        barrier.wait();
        let timer = Timer::start();
        for h in handles {
            h.join().map_err(|_| BenchError("a commitlog thread panicked".into()))??;
        }
        Ok(timer.stop())
    })?;
    let appended: u64 = logs.iter().map(|l| l.lock().map(|l| l.next_offset()).unwrap_or(0)).sum();
    if appended != workload.batches() {
        return Err(BenchError(format!(
            "commitlog holds {appended} messages, expected {}",
            workload.batches()
        )));
    }
    Ok(Measurement {
        bytes: workload.bytes(),
        records: workload.records(),
        batches: workload.batches(),
        elapsed,
        cpu,
        ..Default::default()
    })
}

fn sync_dir_files(dir: &Path) -> Result<()> {
    for e in std::fs::read_dir(dir).ctx(|| format!("read_dir {}", dir.display()))? {
        let p = e.ctx(|| "read_dir entry".into())?.path();
        if p.is_file() {
            std::fs::File::open(&p)
                .and_then(|f| f.sync_data())
                .ctx(|| format!("fdatasync {}", p.display()))?;
        }
    }
    Ok(())
}

/// SQLite's `synchronous` setting for a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    /// `synchronous=OFF`: no fsync at all (compares with eoslog `durability=none`).
    Off,
    /// `synchronous=FULL`: the WAL is fsynced at every commit (compares with `always`).
    Full,
}

/// How the SQLite baseline writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteOptions {
    /// The `synchronous` pragma.
    pub synchronous: Synchronous,
    /// Batches (rows) per SQLite transaction.
    pub batches_per_txn: usize,
    /// Add `producer_id`/`sequence` columns with a `UNIQUE (producer_id, sequence)` key and
    /// skip duplicates on insert (the exactly-once baseline).
    pub unique_key: bool,
}

struct Db {
    conn: rusqlite::Connection,
    next_offset: i64,
}

/// Inserts every batch of `workload` as a row of a `batches` table, one database (WAL mode)
/// per partition, one thread per stream; streams sharing a partition share its connection
/// behind a mutex (SQLite allows one writer at a time anyway). Each thread commits every
/// `batches_per_txn` rows.
pub fn sqlite_append(root: &Path, workload: &Workload, opts: SqliteOptions) -> Result<Measurement> {
    let dir = RunDir::new_in(root)?;
    let sync = match opts.synchronous {
        Synchronous::Off => "OFF",
        Synchronous::Full => "FULL",
    };
    let dbs: Vec<Mutex<Db>> = (0..workload.shape.partitions)
        .map(|p| {
            let path = dir.path().join(format!("partition-{p}.sqlite"));
            let conn = rusqlite::Connection::open(&path).ctx(|| format!("open {}", path.display()))?;
            conn.pragma_update(None, "journal_mode", "WAL").ctx(|| "journal_mode".into())?;
            conn.pragma_update(None, "synchronous", sync).ctx(|| "synchronous".into())?;
            let ddl = if opts.unique_key {
                "CREATE TABLE batches(partition INTEGER NOT NULL, base_offset INTEGER NOT NULL, \
                 producer_id INTEGER NOT NULL, sequence INTEGER NOT NULL, payload BLOB NOT NULL, \
                 UNIQUE (producer_id, sequence))"
            } else {
                "CREATE TABLE batches(partition INTEGER NOT NULL, base_offset INTEGER NOT NULL, \
                 payload BLOB NOT NULL)"
            };
            conn.execute(ddl, []).ctx(|| "create table".into())?;
            // Prepare once so the statement cache is warm before timing.
            conn.prepare_cached(insert_sql(opts.unique_key)).ctx(|| "prepare".into())?;
            Ok(Mutex::new(Db { conn, next_offset: 0 }))
        })
        .collect::<Result<_>>()?;
    let rpb = workload.shape.records_per_batch as i64;
    let unique = opts.unique_key && workload.kind != StreamKind::Plain;
    settle();
    let barrier = Barrier::new(workload.streams.len() + 1);
    let (elapsed, cpu) = std::thread::scope(|scope| -> Result<(Duration, Duration)> {
        let handles: Vec<_> = workload
            .streams
            .iter()
            .map(|stream| {
                let (db, barrier) = (&dbs[stream.partition], &barrier);
                let partition = stream.partition as i64;
                scope.spawn(move || -> Result<()> {
                    barrier.wait();
                    for (c, chunk) in stream.batches.chunks(opts.batches_per_txn.max(1)).enumerate() {
                        let mut db = db.lock().map_err(|_| BenchError("poisoned".into()))?;
                        let db = &mut *db;
                        let tx = db.conn.transaction().ctx(|| "begin".into())?;
                        {
                            let mut stmt =
                                tx.prepare_cached(insert_sql(opts.unique_key)).ctx(|| "prepare".into())?;
                            for (i, b) in chunk.iter().enumerate() {
                                let j = (c * opts.batches_per_txn.max(1) + i) as i64;
                                let inserted = if opts.unique_key {
                                    // Plain workloads given a unique key still need distinct keys.
                                    let pid = if unique { stream.producer_id } else { partition };
                                    stmt.execute(rusqlite::params![
                                        partition,
                                        db.next_offset,
                                        pid,
                                        j * rpb,
                                        b
                                    ])
                                } else {
                                    stmt.execute(rusqlite::params![partition, db.next_offset, b])
                                }
                                .ctx(|| "insert".into())?;
                                db.next_offset += rpb * inserted as i64;
                            }
                        }
                        tx.commit().ctx(|| "commit".into())?;
                    }
                    Ok(())
                })
            })
            .collect();
        barrier.wait();
        let timer = Timer::start();
        for h in handles {
            h.join().map_err(|_| BenchError("a sqlite thread panicked".into()))??;
        }
        Ok(timer.stop())
    })?;
    let mut rows = 0u64;
    for db in &dbs {
        let db = db.lock().map_err(|_| BenchError("poisoned".into()))?;
        let n: i64 =
            db.conn.query_row("SELECT count(*) FROM batches", [], |r| r.get(0)).ctx(|| "count".into())?;
        rows += n as u64;
    }
    if rows != workload.batches() {
        return Err(BenchError(format!("SQLite holds {rows} rows, expected {}", workload.batches())));
    }
    Ok(Measurement {
        bytes: workload.bytes(),
        records: workload.records(),
        batches: workload.batches(),
        elapsed,
        cpu,
        ..Default::default()
    })
}

fn insert_sql(unique_key: bool) -> &'static str {
    if unique_key {
        "INSERT INTO batches(partition, base_offset, producer_id, sequence, payload) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (producer_id, sequence) DO NOTHING"
    } else {
        "INSERT INTO batches(partition, base_offset, payload) VALUES (?1, ?2, ?3)"
    }
}
