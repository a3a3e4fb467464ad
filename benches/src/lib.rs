//! # eoslog-benches
//!
//! The standard eoslog workloads and their baselines, as a library: the criterion suites in
//! `benches/benches/`, the `eoslog-bench-report` runner and the `eoslog bench` CLI command all
//! call the same functions, so a number quoted anywhere comes from the same code.
//!
//! Rule of the house (DESIGN.md, "Performance"): performance is *measured*, never asserted. Every
//! workload returns a [`Measurement`] of one timed run; comparisons are ratios against a baseline
//! measured in the same run on the same bytes (see [`report`]). Nothing here has a timing
//! threshold.
//!
//! Shape of every workload function:
//! - the data (batches, an existing log) is prepared by the caller *before* the call, once, and
//!   reused across repetitions ([`data::Workload`], [`engine::build_log`]);
//! - the call creates its files, runs `sync()` so the previous run's dirty pages do not bill
//!   this one, then times only the measured region, then cleans up;
//! - sizes are parameters, so the suite runs on a small disk.
//!
//! Modules:
//! - [`data`]: prebuilt Kafka record batches (plain, idempotent, transactional) per stream;
//! - [`engine`]: eoslog itself — appends (W1–W4), read_committed scan (W5), recovery (W6),
//!   clean open (W7);
//! - [`raw`]: the hardware limit — plain `write`/`pwrite`/`fdatasync`/`read` on the same bytes;
//! - [`peers`]: the `commitlog` crate and SQLite (`rusqlite`, bundled);
//! - [`producer`]: micro-benchmarks of the producer state (dedup check, memory per producer);
//! - [`report`]: repetitions, medians, ratios, the table and its JSON.
#![deny(missing_docs)]

pub mod data;
pub mod engine;
pub mod peers;
pub mod producer;
pub mod raw;
pub mod report;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

pub use eoslog::Durability;

/// Size of one record value in the standard workloads (1 KiB, like Kafka's published numbers).
pub const RECORD_SIZE: usize = 1024;
/// Records per batch in the standard workloads (16 × 1 KiB = 16 KiB batches).
pub const RECORDS_PER_BATCH: usize = 16;
/// Default data size of one run when `EOSLOG_BENCH_BYTES` is not set (256 MiB).
pub const DEFAULT_BENCH_BYTES: u64 = 256 << 20;

/// An error from a workload: any engine, I/O or peer error, as text with its context.
#[derive(Debug)]
pub struct BenchError(pub String);

impl std::fmt::Display for BenchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BenchError {}

/// Result type of the workloads.
pub type Result<T, E = BenchError> = std::result::Result<T, E>;

/// Adds context to any displayable error.
pub(crate) trait Context<T> {
    /// Wraps the error with `what`.
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: std::fmt::Display> Context<T> for std::result::Result<T, E> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| BenchError(format!("{}: {e}", what())))
    }
}

/// Which eoslog I/O backend a run uses. Explicit in every run (never `auto` or `EOSLOG_IO`), so
/// a table row says what it measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// `pwrite`/`fdatasync`.
    Std,
    /// io_uring.
    Uring,
}

impl Backend {
    /// Both backends, io_uring first.
    pub const ALL: [Backend; 2] = [Backend::Uring, Backend::Std];

    /// The engine's choice for this backend.
    pub fn io_choice(self) -> eoslog::io::IoChoice {
        match self {
            Backend::Std => eoslog::io::IoChoice::Std,
            Backend::Uring => eoslog::io::IoChoice::Uring,
        }
    }

    /// `std` or `uring`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Std => "std",
            Backend::Uring => "uring",
        }
    }

    /// Whether io_uring can be used here (the engine's probe succeeds).
    pub fn uring_available() -> bool {
        eoslog::io::backend_for(eoslog::io::IoChoice::Uring, Default::default()).is_ok()
    }
}

/// What one timed run did and how long its timed region took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Measurement {
    /// Payload bytes written or read (batch bytes; control markers are not counted).
    pub bytes: u64,
    /// Records written or read.
    pub records: u64,
    /// Batches (appends, rows, messages) written or read.
    pub batches: u64,
    /// Wall-clock time of the timed region only.
    #[serde(with = "duration_secs")]
    pub elapsed: Duration,
    /// CPU time (user + system, all threads of this process, io_uring workers included) spent
    /// in the timed region. Unlike wall time it hardly moves when other processes compete for
    /// the cores, so CPU ratios stay meaningful on a busy machine.
    #[serde(with = "duration_secs")]
    pub cpu: Duration,
    /// fsync/fdatasync calls made in the timed region, when the workload knows.
    pub fsyncs: Option<u64>,
    /// Group-commit rounds run in the timed region (eoslog with `durability=always`).
    pub rounds: Option<u64>,
    /// Transaction markers written in the timed region (W4).
    pub markers: Option<u64>,
}

impl Measurement {
    /// Seconds of the timed region.
    pub fn secs(&self) -> f64 {
        self.elapsed.as_secs_f64().max(1e-12)
    }

    /// Bytes per second.
    pub fn bytes_per_sec(&self) -> f64 {
        self.bytes as f64 / self.secs()
    }

    /// Decimal gigabytes per second (10⁹ bytes, as the targets are stated).
    pub fn gb_per_sec(&self) -> f64 {
        self.bytes_per_sec() / 1e9
    }

    /// Batches (appends) per second.
    pub fn batches_per_sec(&self) -> f64 {
        self.batches as f64 / self.secs()
    }

    /// Records per second.
    pub fn records_per_sec(&self) -> f64 {
        self.records as f64 / self.secs()
    }
}

/// Starts timing a region: wall clock and this process's CPU time.
#[derive(Debug, Clone, Copy)]
pub struct Timer {
    wall: std::time::Instant,
    cpu: Duration,
}

impl Timer {
    /// Starts now.
    pub fn start() -> Timer {
        Timer { wall: std::time::Instant::now(), cpu: process_cpu() }
    }

    /// Wall time and CPU time since the start.
    pub fn stop(&self) -> (Duration, Duration) {
        (self.wall.elapsed(), process_cpu().saturating_sub(self.cpu))
    }
}

/// User + system CPU time of this process so far (`getrusage(RUSAGE_SELF)`).
pub fn process_cpu() -> Duration {
    // SAFETY: an all-zero rusage is a valid value to be overwritten.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage; RUSAGE_SELF is always accepted.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec.max(0) as u64, (t.tv_usec.max(0) as u32) * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

mod duration_secs {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

/// The median of `values` (the mean of the two middle ones for an even count); 0 when empty.
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// The directory benchmark data goes under: `EOSLOG_BENCH_DIR`, else `bench-data` in the cargo
/// target directory. Not `/tmp`, which may be a tmpfs and would measure memory, not the disk.
pub fn bench_root() -> PathBuf {
    if let Some(d) = std::env::var_os("EOSLOG_BENCH_DIR") {
        return PathBuf::from(d);
    }
    let target = option_env!("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("target"));
    target.join("bench-data")
}

/// The data size of one run: `EOSLOG_BENCH_BYTES` (plain bytes, or with a `K`, `M`, `G` suffix
/// meaning KiB, MiB, GiB), else `default`.
pub fn bench_bytes(default: u64) -> u64 {
    std::env::var("EOSLOG_BENCH_BYTES").ok().and_then(|v| parse_size(&v)).unwrap_or(default)
}

/// Parses `123`, `64K`, `256M`, `2G` (binary units; a trailing `iB`/`B` is accepted).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim().trim_end_matches(['B', 'b']).trim_end_matches(['i', 'I']);
    let (digits, shift) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 10),
        'm' | 'M' => (&s[..s.len() - 1], 20),
        'g' | 'G' => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    digits.trim().parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// A fresh, empty directory for one run, removed (with everything in it) on drop.
#[derive(Debug)]
pub struct RunDir {
    dir: tempfile::TempDir,
}

impl RunDir {
    /// Creates `root` if needed and a uniquely named directory inside it.
    pub fn new_in(root: &Path) -> Result<RunDir> {
        std::fs::create_dir_all(root).ctx(|| format!("create {}", root.display()))?;
        let dir = tempfile::Builder::new()
            .prefix("run-")
            .tempdir_in(root)
            .ctx(|| format!("create a run directory in {}", root.display()))?;
        Ok(RunDir { dir })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Writes back every dirty page in the system (`sync(2)`), so that write-back of a previous run
/// does not compete with the next timed region. Called before timing, never inside it.
pub fn settle() {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
}

/// Total size of the regular files under `dir` (recursively).
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size("64K"), Some(64 << 10));
        assert_eq!(parse_size("256MiB"), Some(256 << 20));
        assert_eq!(parse_size("2g"), Some(2 << 30));
        assert_eq!(parse_size("x"), None);
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }
}
