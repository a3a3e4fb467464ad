//! Runs the standard eoslog workloads with their same-run baselines and prints medians and
//! ratios (a Markdown table, or JSON with `--json`).
//!
//! ```text
//! cargo run --release -p eoslog-benches --bin eoslog-bench-report -- [options]
//! ```
//!
//! Run `--help` for the options. Data goes to `--dir`, else `EOSLOG_BENCH_DIR`, else
//! `target/bench-data` (never assume `/tmp` is a disk: it may be a tmpfs).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use eoslog_benches::producer::{self, ProducerMemory};
use eoslog_benches::report::{Suite, SuiteConfig, WorkloadId};
use eoslog_benches::{Backend, DEFAULT_BENCH_BYTES, bench_bytes, bench_root, parse_size};

const HELP: &str = "\
eoslog-bench-report: the standard workloads, each with baselines measured in the same run.

USAGE: eoslog-bench-report [OPTIONS]

OPTIONS:
  --dir PATH            data directory root (default: $EOSLOG_BENCH_DIR or target/bench-data)
  --bytes SIZE          bytes per W1/W3/W4 run, e.g. 256M (default: $EOSLOG_BENCH_BYTES or 256M)
  --log-bytes SIZE      size of the W5/W6 log (default: --bytes)
  --open-bytes SIZE     size of the W7 log (default: --bytes)
  --reps N              measured runs per variant after one warm-up (default 5)
  --workloads LIST      comma-separated subset of w1,w2,w3,w4,w5,w6,w7,dedup,memory (default: all)
  --partitions LIST     partition counts for W1/W3/W4 (default 1,8)
  --w2-threads LIST     appender threads for W2 (default 1,8,32,64)
  --w2-appends N        appends per W2 run (default 2048)
  --backends LIST       eoslog backends, first is the reference: uring,std (default: both if available)
  --systems LIST        only variants whose name contains one of these, e.g. eoslog (default: all)
  --producers N         producers for the memory probe (default 1000000)
  --json                print the report as JSON instead of the table
  --json-out FILE       also write the JSON report to FILE
  --quiet               no progress on stderr
  -h, --help            this text
";

struct Args {
    config: SuiteConfig,
    json: bool,
    json_out: Option<PathBuf>,
    producers: u64,
    memory: bool,
}

fn list<T>(v: &str, f: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, String> {
    v.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| f(s).ok_or_else(|| format!("bad value `{s}`")))
        .collect()
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut argv = std::env::args().skip(1);
    let mut dir: Option<PathBuf> = None;
    let mut bytes = bench_bytes(DEFAULT_BENCH_BYTES);
    let (mut log_bytes, mut open_bytes) = (None, None);
    let mut config = SuiteConfig::standard(PathBuf::new(), bytes);
    let (mut json, mut producers, mut memory) = (false, 1_000_000u64, true);
    let mut json_out = None;
    while let Some(a) = argv.next() {
        let mut val = || argv.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "-h" | "--help" => return Ok(None),
            "--memory-probe" => {
                // Internal: run in a fresh process by the runner, so the allocator holds nothing.
                let n: u64 = val()?.parse().map_err(|e| format!("--memory-probe: {e}"))?;
                let m = producer::producer_memory(n).map_err(|e| e.to_string())?;
                let s = serde_json::to_string(&m).map_err(|e| e.to_string())?;
                let _ = writeln!(std::io::stdout(), "{s}");
                std::process::exit(0);
            }
            "--dir" => dir = Some(PathBuf::from(val()?)),
            "--bytes" => bytes = parse_size(&val()?).ok_or("--bytes: bad size")?,
            "--log-bytes" => log_bytes = Some(parse_size(&val()?).ok_or("--log-bytes: bad size")?),
            "--open-bytes" => open_bytes = Some(parse_size(&val()?).ok_or("--open-bytes: bad size")?),
            "--reps" => config.reps = val()?.parse().map_err(|e| format!("--reps: {e}"))?,
            "--workloads" => {
                let v = val()?;
                memory = v.split(',').any(|s| s.trim().eq_ignore_ascii_case("memory"));
                config.workloads = list(&v, |s| {
                    if s.trim().eq_ignore_ascii_case("memory") {
                        Some(None)
                    } else {
                        WorkloadId::parse(s).map(Some)
                    }
                })?
                .into_iter()
                .flatten()
                .collect();
            }
            "--partitions" => {
                config.partitions = list(&val()?, |s| s.trim().parse().ok().filter(|&n| n > 0))?
            }
            "--w2-threads" => {
                config.w2_threads = list(&val()?, |s| s.trim().parse().ok().filter(|&n| n > 0))?
            }
            "--w2-appends" => config.w2_appends = val()?.parse().map_err(|e| format!("--w2-appends: {e}"))?,
            "--backends" => {
                config.backends = list(&val()?, |s| match s.trim() {
                    "uring" | "io_uring" => Some(Backend::Uring),
                    "std" => Some(Backend::Std),
                    _ => None,
                })?
            }
            "--systems" => config.systems = list(&val()?, |s| Some(s.trim().to_string()))?,
            "--producers" => producers = val()?.parse().map_err(|e| format!("--producers: {e}"))?,
            "--json" => json = true,
            "--json-out" => json_out = Some(PathBuf::from(val()?)),
            "--quiet" => config.progress = false,
            other => return Err(format!("unknown option `{other}` (try --help)")),
        }
    }
    config.root = dir.unwrap_or_else(bench_root);
    config.bytes = bytes;
    config.log_bytes = log_bytes.unwrap_or(bytes);
    config.open_bytes = open_bytes.unwrap_or(bytes);
    if config.backends.is_empty() {
        return Err("--backends: at least one backend is needed".into());
    }
    Ok(Some(Args { config, json, json_out, producers, memory: memory && producers > 0 }))
}

/// Runs the memory probe in a child process: a fresh heap, so the RSS growth is the state's.
fn memory_probe(producers: u64) -> Result<ProducerMemory, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let out = std::process::Command::new(exe)
        .arg("--memory-probe")
        .arg(producers.to_string())
        .output()
        .map_err(|e| format!("run the memory probe: {e}"))?;
    if !out.status.success() {
        return Err(format!("memory probe failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    serde_json::from_slice::<ProducerMemory>(&out.stdout).map_err(|e| {
        format!("unexpected memory probe output ({e}): {}", String::from_utf8_lossy(&out.stdout))
    })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => {
            let _ = std::io::stdout().write_all(HELP.as_bytes());
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("eoslog-bench-report: {e}");
            return ExitCode::from(2);
        }
    };
    let progress = args.config.progress;
    let memory = if args.memory {
        if progress {
            eprintln!("[eoslog-bench] memory: {} producers in a fresh process", args.producers);
        }
        match memory_probe(args.producers) {
            Ok(m) => Some(m),
            Err(e) => {
                eprintln!("eoslog-bench-report: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let mut report = match Suite::new(args.config).run() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("eoslog-bench-report: {e}");
            return ExitCode::FAILURE;
        }
    };
    report.producer_memory = memory;
    let json = match serde_json::to_string_pretty(&report) {
        Ok(s) => s + "\n",
        Err(e) => {
            eprintln!("eoslog-bench-report: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = &args.json_out
        && let Err(e) = std::fs::write(path, &json)
    {
        eprintln!("eoslog-bench-report: write {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    let text = if args.json { json } else { report.to_table() };
    if std::io::stdout().write_all(text.as_bytes()).is_err() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
