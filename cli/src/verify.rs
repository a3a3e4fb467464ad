//! `eoslog verify`: checks a data directory or one partition directory without changing it.

use std::io::Write;
use std::path::PathBuf;

use eoslog::inspect::{Severity, VerifyReport, verify_path};
use serde_json::json;

use crate::error::{Class, CliError, CliResult, stdout_error};
use crate::paths::{self, LogPath};

/// Arguments of `eoslog verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// A data directory or a partition directory.
    pub path: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Count warnings (leftovers of interrupted operations, unknown files, offset gaps, ...)
    /// as problems too: exit 6 if there is any.
    #[arg(long)]
    pub strict: bool,
    /// Also print informational findings.
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

/// Runs `eoslog verify`.
pub fn run(args: &VerifyArgs) -> CliResult {
    if paths::classify(&args.path)? == LogPath::File {
        return Err(CliError::new(
            Class::NotALog,
            format!(
                "{} is a file: verify takes a data directory or a partition directory",
                args.path.display()
            ),
        ));
    }
    let report = verify_path(&args.path).map_err(|e| match e {
        eoslog::Error::Storage(eoslog::StorageError::Corrupt { detail, .. })
            if detail.starts_with("not an eoslog or Kafka log directory") =>
        {
            CliError::new(Class::NotALog, format!("{}: {detail}", args.path.display()))
        }
        e => CliError::from(e),
    })?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.json {
        write_json(&mut out, &report).map_err(stdout_error)?;
    } else {
        write_text(&mut out, &report, args.verbose).map_err(stdout_error)?;
    }
    out.flush().map_err(stdout_error)?;
    if args.strict && report.ok() && report.warnings() > 0 {
        return Err(CliError::new(
            Class::Damaged,
            format!("{} warning(s) found in {} (--strict)", report.warnings(), args.path.display()),
        ));
    }
    if report.ok() {
        Ok(())
    } else {
        Err(CliError::new(
            Class::Damaged,
            format!("{} error(s) found in {}", report.errors(), args.path.display()),
        ))
    }
}

fn write_text(out: &mut impl Write, r: &VerifyReport, verbose: bool) -> std::io::Result<()> {
    for f in &r.findings {
        if f.severity == Severity::Info && !verbose {
            continue;
        }
        writeln!(out, "{:<7} {}: {}", f.severity, f.path.display(), f.message)?;
    }
    writeln!(
        out,
        "checked {} partition(s), {} segment(s), {} batch(es), {} record(s), {} byte(s), {} snapshot(s), \
         {} aborted-transaction index entr{}",
        r.partitions,
        r.segments,
        r.batches,
        r.records,
        r.bytes,
        r.snapshots,
        r.txn_index_entries,
        if r.txn_index_entries == 1 { "y" } else { "ies" }
    )?;
    writeln!(
        out,
        "{}: {} error(s), {} warning(s)",
        if r.ok() { "OK" } else { "DAMAGED" },
        r.errors(),
        r.warnings()
    )
}

fn write_json(out: &mut impl Write, r: &VerifyReport) -> std::io::Result<()> {
    let doc = json!({
        "ok": r.ok(),
        "errors": r.errors(),
        "warnings": r.warnings(),
        "partitions": r.partitions,
        "segments": r.segments,
        "batches": r.batches,
        "records": r.records,
        "bytes": r.bytes,
        "snapshots": r.snapshots,
        "txn_index_entries": r.txn_index_entries,
        "findings": r.findings.iter().map(|f| json!({
            "severity": f.severity.to_string(),
            "path": f.path.display().to_string(),
            "message": f.message,
        })).collect::<Vec<_>>(),
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}
