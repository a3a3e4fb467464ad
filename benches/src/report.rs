//! The standard suite: every workload with its baselines, repeated, as medians and ratios.
//!
//! [`Suite::run`] is what `eoslog-bench-report` (and the `eoslog bench` command) call. Within a
//! comparison group the variants are *interleaved*: one warm-up run of each (discarded), then
//! `reps` rounds of one run of each variant, the starting variant rotating from round to round.
//! Drift on a shared machine (another engineer's build starting) then hits every variant of a
//! round alike instead of one variant's block, and no variant always follows the same
//! neighbour. A row's throughput is its bytes (or appends) over the median elapsed time; a
//! ratio is the ratio of two rows' medians from the same group, so it compares runs made
//! minutes apart at most, on the same prebuilt bytes. Each ratio also comes as the median of
//! per-round ratios and as a CPU-time ratio.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::data::{Shape, StreamKind, Workload};
use crate::engine::{self, EngineSetup, Transactions, UncleanLog};
use crate::peers::{self, SqliteOptions, Synchronous};
use crate::producer::{self, ProducerMemory};
use crate::raw::{self, RawSync};
use crate::{Backend, Durability, Measurement, Result, median};

/// Which workloads to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum WorkloadId {
    /// Appends, durability none, vs raw writes, commitlog, SQLite.
    W1,
    /// Durability always with concurrent appenders (group commit) vs one fsync per append.
    W2,
    /// Idempotent appends vs plain.
    W3,
    /// Transactional appends vs plain.
    W4,
    /// read_committed scan with 10% aborted transactions.
    W5,
    /// Recovery of an unclean log.
    W6,
    /// Open of a cleanly closed log.
    W7,
    /// Dedup check cost per batch (no I/O).
    Dedup,
}

impl WorkloadId {
    /// Every workload, in run order.
    pub const ALL: [WorkloadId; 8] = [
        WorkloadId::W1,
        WorkloadId::W3,
        WorkloadId::W4,
        WorkloadId::Dedup,
        WorkloadId::W2,
        WorkloadId::W5,
        WorkloadId::W6,
        WorkloadId::W7,
    ];

    /// Parses `w1`..`w7` or `dedup` (case-insensitive).
    pub fn parse(s: &str) -> Option<WorkloadId> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "w1" => WorkloadId::W1,
            "w2" => WorkloadId::W2,
            "w3" => WorkloadId::W3,
            "w4" => WorkloadId::W4,
            "w5" => WorkloadId::W5,
            "w6" => WorkloadId::W6,
            "w7" => WorkloadId::W7,
            "dedup" => WorkloadId::Dedup,
            _ => return None,
        })
    }
}

/// Parameters of a suite run.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteConfig {
    /// Where run directories are created.
    pub root: PathBuf,
    /// Batch bytes per run of W1, W3 and W4 (across partitions).
    pub bytes: u64,
    /// Partition counts for W1, W3 and W4.
    pub partitions: Vec<usize>,
    /// Appender thread counts for W2.
    pub w2_threads: Vec<usize>,
    /// Partitions for W2.
    pub w2_partitions: usize,
    /// Appends per W2 run (across threads).
    pub w2_appends: u64,
    /// Size of the W5/W6 log.
    pub log_bytes: u64,
    /// Size of the W7 log.
    pub open_bytes: u64,
    /// Data batches per transaction in the W5 log (every 10th transaction is aborted).
    pub w5_batches_per_txn: usize,
    /// Measured runs per variant (after one warm-up run).
    pub reps: usize,
    /// eoslog backends to measure; the first is the one the exactly-once and ratio rows use.
    pub backends: Vec<Backend>,
    /// Workloads to run.
    pub workloads: Vec<WorkloadId>,
    /// Batches per SQLite transaction in the `none` workloads.
    pub sqlite_batches_per_txn: usize,
    /// Batches for the dedup micro-benchmark.
    pub dedup_batches: usize,
    /// Only run variants whose name contains one of these (all when empty); for profiling one
    /// system, e.g. `["eoslog"]`.
    pub systems: Vec<String>,
    /// Print progress to stderr.
    pub progress: bool,
}

impl SuiteConfig {
    /// The defaults the report runner uses, with data under `root` and `bytes` per run.
    pub fn standard(root: PathBuf, bytes: u64) -> SuiteConfig {
        let mut backends = vec![Backend::Std];
        if Backend::uring_available() {
            backends.insert(0, Backend::Uring);
        }
        SuiteConfig {
            root,
            bytes,
            partitions: vec![1, 8],
            w2_threads: vec![1, 8, 32, 64],
            w2_partitions: 8,
            w2_appends: 2048,
            log_bytes: bytes,
            open_bytes: bytes,
            w5_batches_per_txn: 8,
            reps: 5,
            backends,
            workloads: WorkloadId::ALL.to_vec(),
            sqlite_batches_per_txn: 64,
            dedup_batches: 1_000_000,
            systems: Vec::new(),
            progress: true,
        }
    }

    fn runs(&self, w: WorkloadId) -> bool {
        self.workloads.contains(&w)
    }

    fn main_backend(&self) -> Backend {
        self.backends.first().copied().unwrap_or(Backend::Std)
    }
}

/// How a row's throughput is expressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Unit {
    /// Decimal GB per second of batch bytes.
    GBps,
    /// Appends (batches) per second.
    AppendsPerSec,
    /// Milliseconds (lower is better): open time.
    Millis,
    /// Nanoseconds per batch (lower is better).
    NanosPerBatch,
}

impl Unit {
    /// How the unit is written after a number (`GB/s`, `appends/s`, `ms`, `ns/batch`).
    pub fn label(self) -> &'static str {
        match self {
            Unit::GBps => "GB/s",
            Unit::AppendsPerSec => "appends/s",
            Unit::Millis => "ms",
            Unit::NanosPerBatch => "ns/batch",
        }
    }
}

/// One system in one case: the medians of its runs.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Workload id (`W1`, ...).
    pub workload: String,
    /// The case within the workload (`P=1`, `T=64 P=8`, ...).
    pub case: String,
    /// The system or variant (`eoslog uring`, `raw write`, `sqlite`, ...).
    pub system: String,
    /// Measured runs.
    pub runs: usize,
    /// Median elapsed seconds of the timed region.
    pub median_secs: f64,
    /// Median CPU seconds (user + system, whole process) of the timed region.
    pub cpu_secs: f64,
    /// Elapsed seconds of every measured run, in round order.
    pub run_secs: Vec<f64>,
    /// CPU seconds of every measured run, in round order.
    pub run_cpu_secs: Vec<f64>,
    /// Fastest run, seconds.
    pub min_secs: f64,
    /// Slowest run, seconds.
    pub max_secs: f64,
    /// Bytes per run.
    pub bytes: u64,
    /// Records per run.
    pub records: u64,
    /// Batches (appends) per run.
    pub batches: u64,
    /// The headline number in `unit`.
    pub value: f64,
    /// Unit of `value`.
    pub unit: Unit,
    /// Median fsync rounds per append (group commit) or fsyncs per append (baselines).
    pub syncs_per_append: Option<f64>,
    /// Markers written per run (W4).
    pub markers: Option<u64>,
    /// Free-form detail (transaction size, page-cache state...).
    pub note: String,
}

/// A comparison of two rows.
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    /// What is compared (`W1 P=1: eoslog uring / raw write`).
    pub name: String,
    /// The ratio of the two medians (throughput over throughput; higher is better for the
    /// first). Targets are judged on this value.
    pub value: f64,
    /// The median of the per-round ratios (both variants ran in the same round, seconds
    /// apart): less sensitive to slow drift of the machine's load.
    pub paired: Option<f64>,
    /// CPU efficiency: the second's median CPU time per unit of work over the first's (higher
    /// means the first needs less CPU for the same work). Robust to competing load, which
    /// stretches wall time but not CPU time.
    pub cpu: Option<f64>,
    /// The target, if there is one.
    pub target: Option<Target>,
}

/// A target from the issues. Reported, never asserted.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Target {
    /// Bound.
    pub bound: f64,
    /// `true`: the value must be at least `bound`; `false`: below it.
    pub at_least: bool,
}

impl Target {
    /// Whether `value` meets the target.
    pub fn met(&self, value: f64) -> bool {
        if self.at_least { value >= self.bound } else { value < self.bound }
    }

    fn describe(&self) -> String {
        format!("{} {}", if self.at_least { ">=" } else { "<" }, fmt_num(self.bound))
    }
}

/// Facts about the machine, printed with the table (the reporting rule of reliability anchors
/// §4: state what the numbers were measured on).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Machine {
    /// Logical CPUs.
    pub cpus: usize,
    /// Total memory, bytes.
    pub memory_bytes: u64,
    /// Kernel release.
    pub kernel: String,
    /// CPU model.
    pub cpu_model: String,
    /// The bench directory.
    pub bench_dir: String,
    /// Its file system type.
    pub filesystem: String,
    /// The device it is on (from /proc/mounts).
    pub device: String,
    /// Whether io_uring is available.
    pub io_uring: bool,
    /// Load average (1 minute) when the suite started and ended.
    pub load_start: f64,
    /// See `load_start`.
    pub load_end: f64,
}

impl Machine {
    /// Reads `/proc` and `statfs` for `dir`.
    pub fn detect(dir: &Path) -> Machine {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let meminfo = read("/proc/meminfo");
        let memory_bytes = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024);
        let cpu_model = read("/proc/cpuinfo")
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default();
        let (filesystem, device) = mount_of(dir);
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_bytes,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            cpu_model,
            bench_dir: dir.display().to_string(),
            filesystem,
            device,
            io_uring: Backend::uring_available(),
            load_start: load_average(),
            load_end: 0.0,
        }
    }
}

/// The 1-minute load average.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

/// File system type and device of the mount holding `dir` (longest matching mount point).
fn mount_of(dir: &Path) -> (String, String) {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let mut best: Option<(usize, String, String)> = None;
    for line in mounts.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 3 {
            continue;
        }
        let mp = Path::new(f[1]);
        if dir.starts_with(mp) && best.as_ref().is_none_or(|b| f[1].len() > b.0) {
            best = Some((f[1].len(), f[2].to_string(), f[0].to_string()));
        }
    }
    best.map(|(_, t, d)| (t, d)).unwrap_or_default()
}

/// Everything a suite run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The machine.
    pub machine: Machine,
    /// The configuration.
    pub config: SuiteConfig,
    /// Rows, in run order.
    pub rows: Vec<Row>,
    /// Ratios, in run order.
    pub ratios: Vec<Ratio>,
    /// Memory per producer (filled by the runner from a fresh process).
    pub producer_memory: Option<ProducerMemory>,
    /// Total wall time of the suite, seconds.
    pub wall_secs: f64,
}

type Variant<'a> = (String, Box<dyn FnMut() -> Result<Measurement> + 'a>);

/// Receives the suite's progress messages (`W1 P=8: round 2/5`, ...).
pub type ProgressFn = Box<dyn Fn(&str) + Send + Sync>;

/// Runs the configured workloads.
pub struct Suite {
    config: SuiteConfig,
    rows: Vec<Row>,
    ratios: Vec<Ratio>,
    observer: Option<ProgressFn>,
}

impl std::fmt::Debug for Suite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Suite")
            .field("config", &self.config)
            .field("rows", &self.rows)
            .field("ratios", &self.ratios)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

impl Suite {
    /// A suite for `config`.
    pub fn new(config: SuiteConfig) -> Suite {
        Suite { config, rows: Vec::new(), ratios: Vec::new(), observer: None }
    }

    /// Sends progress messages to `f` instead of stderr (when `config.progress` is set), e.g.
    /// to drive a progress bar.
    pub fn with_progress(mut self, f: impl Fn(&str) + Send + Sync + 'static) -> Suite {
        self.observer = Some(Box::new(f));
        self
    }

    fn progress(&self, msg: &str) {
        if !self.config.progress {
            return;
        }
        match &self.observer {
            Some(f) => f(msg),
            None => eprintln!("[eoslog-bench] {msg}"),
        }
    }

    /// Interleaved runs of a group of variants: one warm-up each, then `reps` rounds.
    fn group(&self, label: &str, mut variants: Vec<Variant<'_>>) -> Result<Vec<(String, Vec<Measurement>)>> {
        let wanted = |name: &str| {
            self.config.systems.is_empty() || self.config.systems.iter().any(|s| name.contains(s))
        };
        variants.retain(|(name, _)| wanted(name));
        let reps = self.config.reps.max(1);
        let mut out: Vec<(String, Vec<Measurement>)> =
            variants.iter().map(|(n, _)| (n.clone(), Vec::with_capacity(reps))).collect();
        for (name, f) in variants.iter_mut() {
            self.progress(&format!("{label}: warm-up {name}"));
            f()?;
        }
        let n = variants.len();
        for r in 0..reps {
            self.progress(&format!("{label}: round {}/{reps}", r + 1));
            // Rotate the starting variant each round, so that no variant always runs right
            // after the same neighbour (whose deleted files and dirty pages it would inherit).
            for k in 0..n {
                let i = (r + k) % n;
                out[i].1.push((variants[i].1)()?);
            }
        }
        Ok(out)
    }

    fn push_row(
        &mut self,
        workload: &str,
        case: &str,
        system: &str,
        runs: &[Measurement],
        unit: Unit,
        note: &str,
    ) {
        let secs: Vec<f64> = runs.iter().map(Measurement::secs).collect();
        let cpu: Vec<f64> = runs.iter().map(|m| m.cpu.as_secs_f64()).collect();
        let med = median(&secs);
        let first = runs.first().copied().unwrap_or_default();
        let per_append = |m: &Measurement| {
            let n = m.rounds.or(m.fsyncs)? as f64;
            Some(n / m.batches.max(1) as f64)
        };
        let syncs: Vec<f64> = runs.iter().filter_map(per_append).collect();
        let value = match unit {
            Unit::GBps => first.bytes as f64 / med / 1e9,
            Unit::AppendsPerSec => first.batches as f64 / med,
            Unit::Millis => med * 1e3,
            Unit::NanosPerBatch => med * 1e9 / first.batches.max(1) as f64,
        };
        self.rows.push(Row {
            workload: workload.to_string(),
            case: case.to_string(),
            system: system.to_string(),
            runs: runs.len(),
            median_secs: med,
            cpu_secs: median(&cpu),
            run_secs: secs.clone(),
            run_cpu_secs: cpu.clone(),
            min_secs: secs.iter().copied().fold(f64::INFINITY, f64::min),
            max_secs: secs.iter().copied().fold(0.0, f64::max),
            bytes: first.bytes,
            records: first.records,
            batches: first.batches,
            value,
            unit,
            syncs_per_append: (!syncs.is_empty()).then(|| median(&syncs)),
            markers: first.markers,
            note: note.to_string(),
        });
    }

    fn row(&self, workload: &str, case: &str, system: &str) -> Option<&Row> {
        self.rows.iter().rev().find(|r| r.workload == workload && r.case == case && r.system == system)
    }

    /// Adds `a / b` (of throughputs; of times inverted for ms and ns rows) as a ratio.
    fn ratio(&mut self, workload: &str, case: &str, a: &str, b: &str, target: Option<Target>) {
        let (Some(ra), Some(rb)) = (self.row(workload, case, a), self.row(workload, case, b)) else { return };
        // Work per run in the row's unit: bytes for GB/s, appends otherwise (a time row's work
        // is one open or the same batch count).
        let work = |r: &Row| {
            match r.unit {
                Unit::GBps => r.bytes as f64,
                Unit::AppendsPerSec | Unit::NanosPerBatch => r.batches as f64,
                Unit::Millis => 1.0,
            }
            .max(1e-12)
        };
        let rate = |r: &Row, secs: f64| work(r) / secs.max(1e-12);
        let value = rate(ra, ra.median_secs) / rate(rb, rb.median_secs);
        let per_round: Vec<f64> =
            ra.run_secs.iter().zip(&rb.run_secs).map(|(&x, &y)| rate(ra, x) / rate(rb, y)).collect();
        let paired = (!per_round.is_empty()).then(|| median(&per_round));
        let cpu = (ra.cpu_secs > 0.0 && rb.cpu_secs > 0.0)
            .then(|| (rb.cpu_secs / work(rb)) / (ra.cpu_secs / work(ra)));
        let name = format!("{workload} {case}: {a} / {b}");
        self.ratios.push(Ratio { name, value, paired, cpu, target });
    }

    fn absolute(&mut self, workload: &str, case: &str, system: &str, target: Target) {
        let Some(r) = self.row(workload, case, system) else { return };
        let name = format!("{workload} {case}: {system} ({})", r.unit.label());
        let value = r.value;
        self.ratios.push(Ratio { name, value, paired: None, cpu: None, target: Some(target) });
    }

    /// Runs everything configured and returns the report.
    pub fn run(mut self) -> Result<Report> {
        let started = std::time::Instant::now();
        let machine = Machine::detect(&self.config.root);
        std::fs::create_dir_all(&self.config.root)
            .map_err(|e| crate::BenchError(format!("create {}: {e}", self.config.root.display())))?;
        let main = self.config.main_backend();
        // W1 rate of the main backend per partition count, for W4's transaction size.
        let mut w1_rate: BTreeMap<usize, f64> = BTreeMap::new();
        let eos = self.config.runs(WorkloadId::W3) || self.config.runs(WorkloadId::W4);
        if self.config.runs(WorkloadId::W1) || eos || self.config.runs(WorkloadId::Dedup) {
            for p in self.config.partitions.clone() {
                let rate = self.w1(p)?;
                w1_rate.insert(p, rate);
            }
        }
        if eos {
            for p in self.config.partitions.clone() {
                self.w3_w4(p, w1_rate.get(&p).copied().unwrap_or(1e9), main)?;
            }
        }
        if self.config.runs(WorkloadId::Dedup) {
            self.dedup()?;
        }
        if self.config.runs(WorkloadId::W2) {
            for t in self.config.w2_threads.clone() {
                self.w2(t)?;
            }
        }
        if self.config.runs(WorkloadId::W5) || self.config.runs(WorkloadId::W6) {
            self.w5_w6()?;
        }
        if self.config.runs(WorkloadId::W7) {
            self.w7()?;
        }
        let mut machine = machine;
        machine.load_end = load_average();
        Ok(Report {
            machine,
            config: self.config,
            rows: self.rows,
            ratios: self.ratios,
            producer_memory: None,
            wall_secs: started.elapsed().as_secs_f64(),
        })
    }

    fn eos_name(b: Backend) -> String {
        format!("eoslog {}", b.as_str())
    }

    /// W1 for `p` partitions; returns the main backend's bytes/s per partition.
    fn w1(&mut self, p: usize) -> Result<f64> {
        let cfg = self.config.clone();
        let root = cfg.root.as_path();
        self.progress(&format!("W1 P={p}: building {} MiB of batches", cfg.bytes >> 20));
        let w = Workload::build(StreamKind::Plain, Shape::new(p, cfg.bytes))?;
        let w = &w;
        let case = format!("P={p}");
        let none = Durability::None;
        let full_row = cfg.runs(WorkloadId::W1);
        for final_sync in [false, true] {
            if final_sync && !full_row {
                break;
            }
            let mut variants: Vec<Variant<'_>> = Vec::new();
            for &b in &cfg.backends {
                let setup = EngineSetup { backend: b, durability: none };
                let name = Self::eos_name(b);
                variants.push((name, Box::new(move || engine::append(root, w, setup, None, final_sync))));
            }
            if full_row {
                let sync = if final_sync { RawSync::Final } else { RawSync::None };
                variants.push(("raw write".into(), Box::new(move || raw::write_files(root, w, sync))));
                variants.push((
                    "commitlog".into(),
                    Box::new(move || peers::commitlog_append(root, w, final_sync)),
                ));
                if !final_sync {
                    let opts = SqliteOptions {
                        synchronous: Synchronous::Off,
                        batches_per_txn: cfg.sqlite_batches_per_txn,
                        unique_key: false,
                    };
                    variants.push(("sqlite".into(), Box::new(move || peers::sqlite_append(root, w, opts))));
                }
            }
            let case = if final_sync { format!("{case} +final sync") } else { case.clone() };
            let results = self.group(&format!("W1 {case}"), variants)?;
            for (name, runs) in &results {
                let note = match (final_sync, name.as_str()) {
                    (_, "sqlite") => {
                        format!("WAL, synchronous=OFF, {} batches/txn", cfg.sqlite_batches_per_txn)
                    }
                    (true, _) => "timed region includes the final fdatasync/flush".to_string(),
                    (false, _) => "page cache; no fsync in the timed region".to_string(),
                };
                self.push_row("W1", &case, name, runs, Unit::GBps, &note);
            }
            for &b in &cfg.backends {
                let e = Self::eos_name(b);
                self.ratio("W1", &case, &e, "raw write", Some(Target { bound: 0.9, at_least: true }));
                self.ratio("W1", &case, &e, "commitlog", Some(Target { bound: 1.5, at_least: true }));
                self.ratio("W1", &case, &e, "sqlite", None);
            }
            if cfg.backends.len() > 1 {
                self.ratio("W1", &case, "eoslog uring", "eoslog std", None);
            }
        }
        let rate = self
            .row("W1", &format!("P={p}"), &Self::eos_name(self.config.main_backend()))
            .map_or(1e9, |r| r.value * 1e9 / p as f64);
        Ok(rate)
    }

    fn w3_w4(&mut self, p: usize, rate_per_partition: f64, backend: Backend) -> Result<()> {
        let cfg = self.config.clone();
        let root = cfg.root.as_path();
        let shape = Shape::new(p, cfg.bytes);
        self.progress(&format!("W3/W4 P={p}: building batches"));
        let plain = Workload::build(StreamKind::Plain, shape)?;
        let idem = Workload::build(StreamKind::Idempotent, shape)?;
        let txn = Workload::build(StreamKind::Transactional, shape)?;
        let t = Transactions::at_rate(rate_per_partition, Duration::from_millis(100), plain.batch_len());
        let setup = EngineSetup { backend, durability: Durability::None };
        let e = Self::eos_name(backend);
        let (plain_n, idem_n, txn_n) =
            (format!("{e} plain"), format!("{e} idempotent"), format!("{e} transactional"));
        let mut variants: Vec<Variant<'_>> = vec![
            (plain_n.clone(), Box::new(|| engine::append(root, &plain, setup, None, false))),
            (idem_n.clone(), Box::new(|| engine::append(root, &idem, setup, None, false))),
            (txn_n.clone(), Box::new(move || engine::append(root, &txn, setup, Some(t), false))),
        ];
        let sqlite = |batches_per_txn: usize, unique_key: bool| SqliteOptions {
            synchronous: Synchronous::Off,
            batches_per_txn,
            unique_key,
        };
        let (s_plain, s_idem, s_txn) = (
            sqlite(cfg.sqlite_batches_per_txn, false),
            sqlite(cfg.sqlite_batches_per_txn, true),
            sqlite(t.batches_per_txn, true),
        );
        variants.push(("sqlite plain".into(), Box::new(|| peers::sqlite_append(root, &plain, s_plain))));
        variants
            .push(("sqlite unique(pid,seq)".into(), Box::new(|| peers::sqlite_append(root, &idem, s_idem))));
        variants.push((
            "sqlite unique(pid,seq) txn=100ms".into(),
            Box::new(|| peers::sqlite_append(root, &idem, s_txn)),
        ));
        let case = format!("P={p}");
        let results = self.group(&format!("W3/W4 {case}"), variants)?;
        let txn_note = format!(
            "commit every {} batches/partition (100 ms at the W1 rate {:.0} MB/s/partition)",
            t.batches_per_txn,
            rate_per_partition / 1e6
        );
        for (name, runs) in &results {
            let (w, note) = match name.as_str() {
                n if n == txn_n => ("W4", txn_note.clone()),
                n if n == idem_n => ("W3", "one producer per partition".to_string()),
                "sqlite unique(pid,seq) txn=100ms" => ("W4", format!("{} batches/txn", t.batches_per_txn)),
                "sqlite unique(pid,seq)" => ("W3", format!("{} batches/txn", cfg.sqlite_batches_per_txn)),
                _ => ("W3/W4", "baseline for W3/W4".to_string()),
            };
            self.push_row(w, &case, name, runs, Unit::GBps, &note);
        }
        // Put the plain rows under both workload names for the ratio lookups.
        let plain_rows: Vec<Row> =
            self.rows.iter().filter(|r| r.workload == "W3/W4" && r.case == case).cloned().collect();
        for w in ["W3", "W4"] {
            for r in &plain_rows {
                let mut r = r.clone();
                r.workload = w.to_string();
                self.rows.push(r);
            }
        }
        self.rows.retain(|r| r.workload != "W3/W4");
        self.ratio("W3", &case, &idem_n, &plain_n, Some(Target { bound: 0.99, at_least: true }));
        self.ratio("W4", &case, &txn_n, &plain_n, Some(Target { bound: 0.98, at_least: true }));
        self.ratio("W3", &case, &idem_n, "sqlite unique(pid,seq)", None);
        self.ratio("W4", &case, &txn_n, "sqlite unique(pid,seq) txn=100ms", None);
        self.ratio("W3", &case, "sqlite unique(pid,seq)", "sqlite plain", None);
        Ok(())
    }

    fn dedup(&mut self) -> Result<()> {
        let n = self.config.dedup_batches;
        let variants: Vec<Variant<'_>> = vec![
            ("dedup 1 producer".into(), Box::new(move || producer::dedup_check(1, n))),
            ("dedup 1000 producers".into(), Box::new(move || producer::dedup_check(1000, n))),
        ];
        let results = self.group("dedup", variants)?;
        for (name, runs) in &results {
            let note = "find_duplicate + prepare_update + append + update, no I/O";
            self.push_row("dedup", "per batch", name, runs, Unit::NanosPerBatch, note);
        }
        // The check's share of one W1 append (P=1) of the main backend.
        let e = Self::eos_name(self.config.main_backend());
        let append_ns = self
            .row("W1", "P=1", &e)
            .or_else(|| self.row("W3", "P=1", &format!("{e} plain")))
            .map(|r| r.median_secs * 1e9 / r.batches.max(1) as f64);
        if let (Some(a), Some(d)) =
            (append_ns, self.row("dedup", "per batch", "dedup 1 producer").map(|r| r.value))
        {
            self.ratios.push(Ratio {
                name: format!("dedup: check cost / one W1 P=1 append ({d:.0} ns / {a:.0} ns)"),
                value: d / a,
                paired: None,
                cpu: None,
                target: None,
            });
        }
        Ok(())
    }

    fn w2(&mut self, threads: usize) -> Result<()> {
        let cfg = self.config.clone();
        let root = cfg.root.as_path();
        let shape = Shape::new(cfg.w2_partitions, 0).with_streams(threads).with_total_batches(cfg.w2_appends);
        let w = Workload::build(StreamKind::Plain, shape)?;
        let w = &w;
        let mut variants: Vec<Variant<'_>> = Vec::new();
        for &b in &cfg.backends {
            let setup = EngineSetup { backend: b, durability: Durability::Always };
            variants.push((Self::eos_name(b), Box::new(move || engine::append(root, w, setup, None, false))));
        }
        variants.push((
            "raw write+fdatasync per append".into(),
            Box::new(|| raw::write_files(root, w, RawSync::EveryAppend)),
        ));
        let opts = SqliteOptions { synchronous: Synchronous::Full, batches_per_txn: 1, unique_key: false };
        variants
            .push(("sqlite FULL txn/batch".into(), Box::new(move || peers::sqlite_append(root, w, opts))));
        let case = format!("T={threads} P={}", cfg.w2_partitions);
        let results = self.group(&format!("W2 {case}"), variants)?;
        for (name, runs) in &results {
            let note = match name.as_str() {
                "sqlite FULL txn/batch" => "WAL, synchronous=FULL, one connection per partition",
                n if n.starts_with("eoslog") => "durability=always (group commit); syncs = rounds",
                _ => "pwrite + fdatasync per batch, one file per partition",
            };
            self.push_row("W2", &case, name, runs, Unit::AppendsPerSec, note);
        }
        let target = (threads >= 32).then_some(Target { bound: 8.0, at_least: true });
        for &b in &cfg.backends {
            let e = Self::eos_name(b);
            self.ratio("W2", &case, &e, "raw write+fdatasync per append", target);
            self.ratio("W2", &case, &e, "sqlite FULL txn/batch", None);
        }
        if cfg.backends.len() > 1 {
            self.ratio("W2", &case, "eoslog uring", "eoslog std", None);
        }
        Ok(())
    }

    fn w5_w6(&mut self) -> Result<()> {
        let cfg = self.config.clone();
        let root = cfg.root.as_path();
        let main = cfg.main_backend();
        self.progress(&format!("W5/W6: building a {} MiB transactional log", cfg.log_bytes >> 20));
        let w = Workload::build(StreamKind::Transactional, Shape::new(1, cfg.log_bytes))?;
        let t = Transactions { batches_per_txn: cfg.w5_batches_per_txn, abort_every: Some(10) };
        let log = engine::build_log(root, &w, main, Some(t))?;
        drop(w);
        let note = format!(
            "1 partition, {} batches/txn, every 10th txn aborted, warm page cache",
            cfg.w5_batches_per_txn
        );
        if cfg.runs(WorkloadId::W5) {
            let mut variants: Vec<Variant<'_>> = Vec::new();
            for &b in &cfg.backends {
                let log = &log;
                variants.push((
                    Self::eos_name(b),
                    Box::new(move || engine::read_committed_scan(log, b, 1 << 20)),
                ));
            }
            let d = log.dir().to_path_buf();
            let d2 = d.clone();
            variants.push(("raw read 1 MiB".into(), Box::new(move || raw::read_files(&d, 1 << 20, false))));
            variants.push((
                "raw read+crc32c 1 MiB".into(),
                Box::new(move || raw::read_files(&d2, 1 << 20, true)),
            ));
            let results = self.group("W5", variants)?;
            for (name, runs) in &results {
                self.push_row("W5", "read_committed", name, runs, Unit::GBps, &note);
            }
            let e = Self::eos_name(main);
            self.absolute("W5", "read_committed", &e, Target { bound: 2.0, at_least: true });
            self.ratio("W5", "read_committed", &e, "raw read 1 MiB", None);
            self.ratio("W5", "read_committed", &e, "raw read+crc32c 1 MiB", None);
        }
        if cfg.runs(WorkloadId::W6) {
            self.progress("W6: making the unclean copy");
            let unclean = UncleanLog::from_built(&log, root, main)?;
            let mut variants: Vec<Variant<'_>> = Vec::new();
            for &b in &cfg.backends {
                let u = &unclean;
                variants.push((
                    Self::eos_name(b),
                    Box::new(move || engine::recover(u, root, b).map(|r| r.measurement)),
                ));
            }
            let d = unclean.dir().to_path_buf();
            variants
                .push(("raw read+crc32c 1 MiB".into(), Box::new(move || raw::read_files(&d, 1 << 20, true))));
            let results = self.group("W6", variants)?;
            for (name, runs) in &results {
                let note = "full scan from offset 0 (no recovery point), warm page cache; bytes = scanned";
                self.push_row("W6", "unclean open", name, runs, Unit::GBps, note);
            }
            let e = Self::eos_name(main);
            self.absolute("W6", "unclean open", &e, Target { bound: 1.0, at_least: true });
            self.ratio("W6", "unclean open", &e, "raw read+crc32c 1 MiB", None);
        }
        Ok(())
    }

    fn w7(&mut self) -> Result<()> {
        let cfg = self.config.clone();
        let root = cfg.root.as_path();
        let chunk = cfg.open_bytes.min(256 << 20);
        let repeat = cfg.open_bytes.div_ceil(chunk.max(1)) as usize;
        self.progress(&format!("W7: building a {} MiB log", cfg.open_bytes >> 20));
        let w = Workload::build(StreamKind::Plain, Shape::new(1, chunk))?;
        let log = engine::build_log_repeated(root, &w, cfg.main_backend(), repeat)?;
        drop(w);
        let mut variants: Vec<Variant<'_>> = Vec::new();
        for &b in &cfg.backends {
            let log = &log;
            variants.push((Self::eos_name(b), Box::new(move || engine::open_clean(log, b))));
        }
        let d = log.dir().to_path_buf();
        variants.push(("raw open+fstat all files".into(), Box::new(move || raw::open_files(&d))));
        let results = self.group("W7", variants)?;
        let case = format!("{} MiB clean", log.log_bytes >> 20);
        for (name, runs) in &results {
            let note = "Engine::open of a cleanly closed log (1 GiB segments), 1 partition";
            self.push_row("W7", &case, name, runs, Unit::Millis, note);
        }
        self.absolute(
            "W7",
            &case,
            &Self::eos_name(cfg.main_backend()),
            Target { bound: 50.0, at_least: false },
        );
        Ok(())
    }
}

fn fmt_num(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else if v.abs() >= 0.01 {
        format!("{v:.3}")
    } else {
        format!("{v:.2e}")
    }
}

impl Report {
    /// The report as a plain-text (Markdown) table: machine, rows, ratios.
    pub fn to_table(&self) -> String {
        let mut s = String::new();
        let m = &self.machine;
        let _ = writeln!(
            s,
            "Machine: {} CPUs ({}), {:.1} GiB RAM, kernel {}, bench dir {} on {} ({}), io_uring {}; \
             load {:.2} → {:.2}; suite took {:.0} s",
            m.cpus,
            m.cpu_model,
            m.memory_bytes as f64 / (1u64 << 30) as f64,
            m.kernel,
            m.bench_dir,
            m.filesystem,
            m.device,
            if m.io_uring { "yes" } else { "no" },
            m.load_start,
            m.load_end,
            self.wall_secs
        );
        let _ = writeln!(
            s,
            "Runs: 1 warm-up + {} measured per variant, interleaved; medians shown. Batches: 16 × 1 KiB \
             records, uncompressed. Run bytes: {} MiB (W1/W3/W4), W2 {} appends per run.\n",
            self.config.reps,
            self.config.bytes >> 20,
            self.config.w2_appends
        );
        let _ = writeln!(
            s,
            "| workload | case | system | median | CPU | value | syncs/append | runs (min–max s) | note |"
        );
        let _ = writeln!(s, "|---|---|---|---:|---:|---:|---:|---|---|");
        for r in &self.rows {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} s | {} s | {} {} | {} | {} ({}–{}) | {} |",
                r.workload,
                r.case,
                r.system,
                fmt_num(r.median_secs),
                fmt_num(r.cpu_secs),
                fmt_num(r.value),
                r.unit.label(),
                r.syncs_per_append.map_or("".into(), fmt_num),
                r.runs,
                fmt_num(r.min_secs),
                fmt_num(r.max_secs),
                r.note
            );
        }
        let _ = writeln!(
            s,
            "\n`ratio` = ratio of medians (targets are judged on it); `paired` = median of per-round \
             ratios; `CPU` = CPU-time efficiency (the second's CPU per unit of work / the first's).\n"
        );
        let _ = writeln!(s, "| comparison | ratio | paired | CPU | target | met |");
        let _ = writeln!(s, "|---|---:|---:|---:|---|---|");
        for r in &self.ratios {
            let (t, met) = match &r.target {
                Some(t) => (t.describe(), if t.met(r.value) { "yes" } else { "**no**" }),
                None => (String::new(), ""),
            };
            let opt = |v: Option<f64>| v.map_or(String::new(), fmt_num);
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                r.name,
                fmt_num(r.value),
                opt(r.paired),
                opt(r.cpu),
                t,
                met
            );
        }
        if let Some(pm) = &self.producer_memory {
            let _ = writeln!(
                s,
                "\nProducer state memory: {} producers, RSS +{:.1} MiB = {:.0} bytes/producer \
                 (size_of::<ProducerStateEntry>() = {} bytes; built in {:.2} s)",
                pm.producers,
                pm.rss_after.saturating_sub(pm.rss_before) as f64 / (1u64 << 20) as f64,
                pm.bytes_per_producer,
                pm.entry_size,
                pm.build_secs
            );
        }
        s
    }
}
