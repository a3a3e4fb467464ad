//! `eoslog bench`: the standard workloads W1–W7, each with its baselines measured in the same
//! run, from the `eoslog-benches` library (the same code as the criterion suites and
//! `eoslog-bench-report`, so a number quoted anywhere comes from one implementation).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use eoslog_benches::report::{Report, Suite, SuiteConfig, WorkloadId};
use eoslog_benches::{Backend, bench_root, parse_size};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::{Class, CliError, CliResult, stdout_error};

/// Arguments of `eoslog bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Where run directories are created (each is deleted after its run). Use a directory on
    /// the disk to measure, not a tmpfs. Default: $EOSLOG_BENCH_DIR, else target/bench-data.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Batch bytes per run of W1, W3 and W4 (K, M, G suffixes: KiB, MiB, GiB).
    #[arg(long, default_value = "256M", value_parser = size)]
    pub bytes: u64,
    /// Size of the W5/W6 log (default: --bytes).
    #[arg(long, value_parser = size)]
    pub log_bytes: Option<u64>,
    /// Size of the W7 log (default: --bytes).
    #[arg(long, value_parser = size)]
    pub open_bytes: Option<u64>,
    /// Measured runs per variant, after one warm-up run; medians are reported.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub runs: u64,
    /// Workloads to run: w1..w7 and dedup (comma-separated).
    #[arg(long, value_delimiter = ',', value_parser = workload, default_value = "w1,w2,w3,w4,w5,w6,w7")]
    pub workloads: Vec<WorkloadId>,
    /// Partition counts for W1, W3 and W4.
    #[arg(long, value_delimiter = ',', default_value = "1,8")]
    pub partitions: Vec<usize>,
    /// Concurrent appenders for W2 (durability always, group commit).
    #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
    pub w2_threads: Vec<usize>,
    /// Appends per W2 run (across appenders).
    #[arg(long, default_value_t = 2048)]
    pub w2_appends: u64,
    /// eoslog I/O backends to measure, the first is the reference (default: uring,std where
    /// io_uring works, else std).
    #[arg(long, value_delimiter = ',', value_parser = backend)]
    pub backends: Vec<Backend>,
    /// Print the report as JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON report to this file.
    #[arg(long, value_name = "FILE")]
    pub json_out: Option<PathBuf>,
    /// Print the table as Markdown (for docs/benchmarks.md) instead of aligned text.
    #[arg(long, conflicts_with = "json")]
    pub markdown: bool,
    /// Draw a chart of throughput per workload and system to this PNG file.
    #[arg(long, value_name = "FILE.png")]
    pub plot: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

fn size(s: &str) -> Result<u64, String> {
    parse_size(s).filter(|n| *n > 0).ok_or_else(|| format!("{s:?}: expected a size such as 64M or 2G"))
}

fn workload(s: &str) -> Result<WorkloadId, String> {
    WorkloadId::parse(s).ok_or_else(|| format!("{s:?}: expected w1..w7 or dedup"))
}

fn backend(s: &str) -> Result<Backend, String> {
    match s.trim() {
        "uring" | "io_uring" => Ok(Backend::Uring),
        "std" => Ok(Backend::Std),
        _ => Err(format!("{s:?}: expected uring or std")),
    }
}

/// How many comparison groups the suite will run (for the progress bar's length).
fn planned_groups(c: &SuiteConfig) -> u64 {
    let has = |w| c.workloads.contains(&w);
    let p = c.partitions.len() as u64;
    let mut n = 0;
    if has(WorkloadId::W1) {
        n += 2 * p;
    } else if has(WorkloadId::W3) || has(WorkloadId::W4) || has(WorkloadId::Dedup) {
        n += p;
    }
    if has(WorkloadId::W3) || has(WorkloadId::W4) {
        n += p;
    }
    n += u64::from(has(WorkloadId::Dedup));
    if has(WorkloadId::W2) {
        n += c.w2_threads.len() as u64;
    }
    n += u64::from(has(WorkloadId::W5)) + u64::from(has(WorkloadId::W6)) + u64::from(has(WorkloadId::W7));
    n.max(1)
}

/// Runs `eoslog bench`.
pub fn run(args: &BenchArgs) -> CliResult {
    if args.partitions.iter().chain(&args.w2_threads).any(|n| *n == 0) {
        return Err(CliError::new(Class::Usage, "partition and appender counts must be positive"));
    }
    let root = args.dir.clone().or_else(|| std::env::var_os("EOSLOG_BENCH_DIR").map(PathBuf::from));
    let root = root.unwrap_or_else(bench_root);
    let mut config = SuiteConfig::standard(root.clone(), args.bytes);
    config.log_bytes = args.log_bytes.unwrap_or(args.bytes);
    config.open_bytes = args.open_bytes.unwrap_or(args.bytes);
    config.reps = args.runs as usize;
    config.workloads = args.workloads.clone();
    config.partitions = args.partitions.clone();
    config.w2_threads = args.w2_threads.clone();
    config.w2_appends = args.w2_appends;
    if !args.backends.is_empty() {
        if args.backends.contains(&Backend::Uring) && !Backend::uring_available() {
            return Err(CliError::new(Class::Failed, "io_uring is not available on this machine"));
        }
        config.backends = args.backends.clone();
    }
    config.progress = !args.quiet;

    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::with_draw_target(
            Some(planned_groups(&config)),
            ProgressDrawTarget::stderr_with_hz(4),
        );
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] [{bar:30.cyan/blue}] {pos}/{len} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(250));
        bar
    };
    let seen: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let observer_bar = bar.clone();
    let suite = Suite::new(config).with_progress(move |msg| {
        let label = msg.split(':').next().unwrap_or(msg).to_string();
        if label != "W5/W6"
            && let Ok(mut seen) = seen.lock()
            && seen.insert(label)
        {
            let pos = seen.len() as u64;
            if observer_bar.length().is_some_and(|l| pos > l) {
                observer_bar.set_length(pos);
            }
            observer_bar.set_position(pos.saturating_sub(1));
        }
        observer_bar.set_message(msg.to_string());
    });
    let report = suite.run().map_err(|e| CliError::new(Class::Failed, format!("benchmark failed: {e}")));
    bar.finish_and_clear();
    let report = report?;

    let json = serde_json::to_string_pretty(&report)
        .map_err(|e| CliError::new(Class::Internal, format!("report to JSON: {e}")))?;
    if let Some(path) = &args.json_out {
        std::fs::write(path, format!("{json}\n")).map_err(|e| CliError::io("cannot write", path, &e))?;
    }
    if let Some(path) = &args.plot {
        crate::plot::draw(&report, path)?;
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let text = if args.json {
        format!("{json}\n")
    } else if args.markdown {
        report.to_table()
    } else {
        terminal_table(&report)
    };
    out.write_all(text.as_bytes()).map_err(stdout_error)?;
    if let Some(path) = &args.plot
        && !args.json
    {
        writeln!(out, "\nchart: {}", path.display()).map_err(stdout_error)?;
    }
    out.flush().map_err(stdout_error)
}

fn num(v: f64) -> String {
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

/// An aligned plain-text table for the terminal.
pub fn terminal_table(r: &Report) -> String {
    let m = &r.machine;
    let mut s = format!(
        "eoslog bench — {} CPUs ({}), {:.1} GiB RAM, kernel {}, {} on {} ({}), io_uring {}\n\
         medians of {} runs after a warm-up; 16 KiB batches of 1 KiB records; {} MiB per W1/W3/W4 run; \
         suite took {:.0} s\n\n",
        m.cpus,
        m.cpu_model,
        m.memory_bytes as f64 / (1u64 << 30) as f64,
        m.kernel,
        m.bench_dir,
        m.filesystem,
        m.device,
        if m.io_uring { "yes" } else { "no" },
        r.config.reps,
        r.config.bytes >> 20,
        r.wall_secs
    );
    let rows: Vec<[String; 5]> = r
        .rows
        .iter()
        .map(|row| {
            let unit = row.unit.label();
            [
                row.workload.clone(),
                row.case.clone(),
                row.system.clone(),
                format!("{} {unit}", num(row.value)),
                format!("{} s", num(row.median_secs)),
            ]
        })
        .collect();
    s += &align(
        &["workload", "case", "system", "result", "median time"],
        &rows,
        &[false, false, false, true, true],
    );
    s.push('\n');
    let ratios: Vec<[String; 5]> = r
        .ratios
        .iter()
        .map(|x| {
            let (target, met) = match &x.target {
                Some(t) => (
                    format!("{} {}", if t.at_least { ">=" } else { "<" }, num(t.bound)),
                    if t.met(x.value) { "yes" } else { "NO" }.to_string(),
                ),
                None => (String::new(), String::new()),
            };
            [x.name.clone(), num(x.value), x.paired.map_or(String::new(), num), target, met]
        })
        .collect();
    s += &align(
        &["comparison", "ratio", "paired", "target", "met"],
        &ratios,
        &[false, true, true, false, false],
    );
    s
}

fn align<const N: usize>(head: &[&str; N], rows: &[[String; N]], right: &[bool; N]) -> String {
    let mut width = head.map(|h| h.chars().count());
    for r in rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = width[i].saturating_sub(c.chars().count());
            if right[i] {
                l.push_str(&" ".repeat(pad));
                l.push_str(c);
            } else {
                l.push_str(c);
                if i + 1 < N {
                    l.push_str(&" ".repeat(pad));
                }
            }
            if i + 1 < N {
                l.push_str("  ");
            }
        }
        l.trim_end().to_string() + "\n"
    };
    let mut s = line(head.to_vec());
    s += &line(width.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().iter().map(String::as_str).collect());
    for r in rows {
        s += &line(r.iter().map(String::as_str).collect());
    }
    s
}
