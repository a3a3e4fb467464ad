//! `eoslog`: the command line of the eoslog engine.
//!
//! ```text
//! eoslog demo     [--data DIR] [--records N]      the exactly-once mission, end to end
//! eoslog produce  --data DIR --topic T            JSON lines from stdin into a topic
//! eoslog consume  --data DIR --topic T            a topic as JSON lines on stdout
//! eoslog dump     PATH [--deep] [--json]          decode log files (like kafka-dump-log)
//! eoslog verify   PATH [--json]                   check a data or partition directory
//! eoslog bench    [--bytes SIZE] [--json]         the standard workloads and their baselines
//! ```
//!
//! Every failure has a class and an exit status of its own (see [`error::EXIT_CODES_HELP`]).

#[macro_use]
mod error;
#[macro_use]
mod records;

mod bench;
mod consume;
mod demo;
mod dump;
mod paths;
mod plot;
mod produce;
mod verify;

use clap::{Parser, Subcommand};

use crate::error::{Class, CliError};

/// eoslog — an embeddable exactly-once log engine, Kafka-compatible on disk.
#[derive(Debug, Parser)]
#[command(name = "eoslog", version, about, long_about = None, after_help = error::EXIT_CODES_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the exactly-once demo on a local data directory: lost acknowledgements, a zombie
    /// producer, a transactional copier, a SIGKILL crash and recovery, then a read_committed
    /// check that nothing was lost or duplicated.
    #[command(after_help = error::EXIT_CODES_HELP)]
    Demo(demo::DemoArgs),
    /// Append JSON lines from standard input to a topic (idempotent, or transactional with
    /// --transactional-id). Line format: {"key", "value", "headers", "partition",
    /// "timestamp"}; bytes as UTF-8 text, or base64/hex with "key_encoding"/"value_encoding".
    #[command(after_help = concat!(record_format_help!(), "\n\n", exit_codes_help!()))]
    Produce(produce::ProduceArgs),
    /// Print a topic's records as JSON lines (read_committed by default); the output is valid
    /// `produce` input.
    #[command(after_help = concat!(record_format_help!(), "\n\n", exit_codes_help!()))]
    Consume(consume::ConsumeArgs),
    /// Decode log files like Kafka's kafka-dump-log: batch headers, records (--deep), control
    /// markers, index, time index, transaction index, producer snapshots and checkpoints.
    /// Never modifies anything.
    #[command(after_help = error::EXIT_CODES_HELP)]
    Dump(dump::DumpArgs),
    /// Check a data directory or partition directory without changing it: CRCs, offsets,
    /// indexes, producer snapshots, aborted-transaction indexes, checkpoints and coordinator
    /// state. Exits 6 if any error is found.
    #[command(after_help = error::EXIT_CODES_HELP)]
    Verify(verify::VerifyArgs),
    /// Run the standard workloads W1–W7, each with its baselines (plain sequential writes,
    /// the commitlog crate, SQLite, eoslog io_uring vs std) measured in the same run; print the
    /// medians and ratios as a table (or --json) and optionally draw a chart (--plot).
    #[command(after_help = error::EXIT_CODES_HELP)]
    Bench(bench::BenchArgs),
    /// The child process of the demo's crash step (killed on purpose).
    #[command(name = "__crash-child", hide = true)]
    CrashChild(demo::CrashChildArgs),
}

fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Cmd::Demo(a) => demo::run(&a),
        Cmd::Produce(a) => produce::run(&a),
        Cmd::Consume(a) => consume::run(&a),
        Cmd::Dump(a) => dump::run(&a),
        Cmd::Verify(a) => verify::run(&a),
        Cmd::Bench(a) => bench::run(&a),
        Cmd::CrashChild(a) => demo::crash_child(&a),
    }
}

fn main() {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("eoslog: internal error (please report it): {info}");
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with status 0; real usage errors exit 2.
            let code = if e.use_stderr() { Class::Usage.code() } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let code = match std::panic::catch_unwind(|| run(cli)) {
        Ok(Ok(())) => 0,
        Ok(Err(e)) if error::is_broken_pipe(&e) => 0,
        Ok(Err(e)) => {
            eprintln!("eoslog: {e}");
            e.class.code()
        }
        Err(_) => Class::Internal.code(),
    };
    std::process::exit(code);
}
