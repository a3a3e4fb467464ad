//! `eoslog produce`: JSON lines from standard input (or a file) appended to a topic by an
//! idempotent producer, or in transactions by a transactional one.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;

use eoslog::client::{Producer, ProducerConfig};
use eoslog::{Durability, Engine, EngineConfig};

use crate::error::{Class, CliError, CliResult, stdout_error};
use crate::paths;
use crate::records::{Encoding, parse_line};

/// Arguments of `eoslog produce`.
#[derive(Debug, clap::Args)]
pub struct ProduceArgs {
    /// Data directory (created if missing).
    #[arg(long, short = 'd', value_name = "DIR")]
    pub data: PathBuf,
    /// Topic to write to (created with --partitions if missing).
    #[arg(long, short = 't')]
    pub topic: String,
    /// Partitions of the topic if it has to be created.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..=100_000))]
    pub partitions: i32,
    /// Default partition for lines without a "partition" field (else the key decides, or
    /// the sticky partitioner for null keys).
    #[arg(long, short = 'p')]
    pub partition: Option<i32>,
    /// Encoding of "key", "value" and header values that name none (`*_encoding`).
    #[arg(long, value_enum, default_value_t = Encoding::Utf8)]
    pub encoding: Encoding,
    /// Read lines from this file instead of standard input.
    #[arg(long, short = 'i', value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Write in transactions with this transactional.id (committed at the end, or every
    /// --transaction-size records); read_committed consumers see nothing before the commit.
    #[arg(long, value_name = "ID")]
    pub transactional_id: Option<String>,
    /// Records per transaction (0 = one transaction for the whole input).
    #[arg(long, default_value_t = 0, requires = "transactional_id")]
    pub transaction_size: u64,
    /// Abort the transactions instead of committing them (to see read_committed hide them).
    #[arg(long, requires = "transactional_id")]
    pub abort: bool,
    /// Durability of the appends: none, always, or interval(MS).
    #[arg(long, default_value = "none", value_parser = parse_durability)]
    pub durability: Durability,
    /// Print where each record landed, as JSON lines {"topic","partition","offset"}.
    #[arg(long)]
    pub print_offsets: bool,
    /// How long to wait for a data directory another process holds (e.g. `consume --follow`).
    #[arg(long, default_value_t = 10_000)]
    pub wait_lock_ms: u64,
    /// Extra producer settings with Kafka's names, e.g. -X linger.ms=0 -X compression.type=zstd.
    #[arg(short = 'X', value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub config: Vec<(String, String)>,
}

/// Parses a durability policy.
pub fn parse_durability(s: &str) -> Result<Durability, String> {
    Durability::parse(s).ok_or_else(|| format!("{s:?}: expected none, always or interval(MS)"))
}

/// Parses `KEY=VALUE`.
pub fn parse_pair(s: &str) -> Result<(String, String), String> {
    let (k, v) = s.split_once('=').ok_or_else(|| format!("{s:?}: expected KEY=VALUE"))?;
    Ok((k.trim().to_string(), v.to_string()))
}

/// Opens the engine on an existing or new data directory.
pub fn open_engine(data: &std::path::Path, durability: Durability) -> CliResult<Engine> {
    let config = EngineConfig { durability, ..EngineConfig::default() };
    Engine::open(data, config).map_err(|e| CliError::from(e).context(format!("opening {}", data.display())))
}

/// Creates `topic` with `partitions` if it does not exist yet.
pub fn ensure_topic(engine: &Engine, topic: &str, partitions: i32) -> CliResult<()> {
    if engine.partition_count(topic).is_ok() {
        return Ok(());
    }
    eoslog::topics::validate_name(topic).map_err(|e| CliError::new(Class::Usage, e.to_string()))?;
    engine.create_topic(topic, partitions, Default::default()).map_err(|e| match e {
        eoslog::Error::InvalidTopic { .. } => CliError::new(Class::Usage, e.to_string()),
        e => CliError::from(e),
    })?;
    eprintln!("created topic {topic} with {partitions} partition(s)");
    Ok(())
}

/// Runs `eoslog produce`.
pub fn run(args: &ProduceArgs) -> CliResult {
    paths::require_data_dir_or_new(&args.data)?;
    let reader: Box<dyn BufRead> = match &args.input {
        Some(p) => {
            Box::new(BufReader::new(std::fs::File::open(p).map_err(|e| CliError::io("cannot read", p, &e))?))
        }
        None => Box::new(BufReader::new(std::io::stdin())),
    };
    let engine = crate::consume::open_waiting(
        &args.data,
        args.durability,
        std::time::Duration::from_millis(args.wait_lock_ms),
    )?;
    let result = produce(&engine, args, reader);
    let closed = engine.close().map_err(CliError::from);
    let n = result?;
    closed?;
    eprintln!("produced {} record(s) to {}{}", n.records, args.topic, n.describe());
    Ok(())
}

#[derive(Debug, Default)]
struct Produced {
    records: u64,
    committed_txns: u64,
    aborted_txns: u64,
}

impl Produced {
    fn describe(&self) -> String {
        match (self.committed_txns, self.aborted_txns) {
            (0, 0) => String::new(),
            (c, 0) => format!(" in {c} committed transaction(s)"),
            (0, a) => format!(" in {a} aborted transaction(s) (hidden from read_committed)"),
            (c, a) => format!(" in {c} committed and {a} aborted transaction(s)"),
        }
    }
}

fn produce(engine: &Engine, args: &ProduceArgs, reader: Box<dyn BufRead>) -> CliResult<Produced> {
    ensure_topic(engine, &args.topic, args.partitions)?;
    let partitions = engine.partition_count(&args.topic)?;
    if let Some(p) = args.partition
        && !(0..partitions).contains(&p)
    {
        return Err(CliError::new(
            Class::Usage,
            format!("--partition {p}: topic {} has partitions 0..{}", args.topic, partitions - 1),
        ));
    }
    let mut config = ProducerConfig::default();
    for (k, v) in &args.config {
        config.set(k, v).map_err(|e| CliError::new(Class::Usage, format!("-X {k}={v}: {e}")))?;
    }
    if let Some(id) = &args.transactional_id {
        config.set("transactional.id", id).map_err(|e| CliError::new(Class::Usage, e.to_string()))?;
    }
    let producer = Producer::new(engine, config)?;
    let transactional = args.transactional_id.is_some();
    if transactional {
        producer.init_transactions()?;
    }
    let mut stats = Produced::default();
    let mut in_txn = 0u64;
    let mut handles = Vec::new();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let end_txn = |producer: &Producer, stats: &mut Produced| -> CliResult<()> {
        if args.abort {
            // Append first, so that the aborted records are really in the log (hidden by
            // read_committed, shown by read_uncommitted) rather than dropped unsent.
            producer.flush()?;
            producer.abort_transaction()?;
            stats.aborted_txns += 1;
        } else {
            producer.commit_transaction()?;
            stats.committed_txns += 1;
        }
        Ok(())
    };
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| CliError::new(Class::Unreadable, format!("reading input: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let rec = match parse_line(&line, args.encoding) {
            Ok(r) => r,
            Err(e) => {
                if transactional && in_txn > 0 {
                    let _ = producer.abort_transaction();
                }
                let _ = producer.flush();
                return Err(CliError::new(
                    Class::BadInput,
                    format!(
                        "input line {}: {e}{}",
                        i + 1,
                        if transactional && in_txn > 0 { " (the open transaction was aborted)" } else { "" }
                    ),
                ));
            }
        };
        let mut rec = rec.into_producer_record(&args.topic);
        if rec.partition.is_none() {
            rec.partition = args.partition;
        }
        if let Some(p) = rec.partition
            && p >= partitions
        {
            return Err(CliError::new(
                Class::BadInput,
                format!(
                    "input line {}: partition {p} does not exist (topic {} has {partitions})",
                    i + 1,
                    args.topic
                ),
            ));
        }
        if transactional && in_txn == 0 {
            producer.begin_transaction()?;
        }
        let h = producer.send(rec)?;
        if args.print_offsets {
            handles.push(h);
        }
        stats.records += 1;
        in_txn += 1;
        if transactional && args.transaction_size > 0 && in_txn >= args.transaction_size {
            end_txn(&producer, &mut stats)?;
            in_txn = 0;
        }
    }
    if transactional && in_txn > 0 {
        end_txn(&producer, &mut stats)?;
    }
    producer.flush()?;
    for h in handles {
        match h.wait() {
            Ok(md) => writeln!(
                out,
                "{}",
                serde_json::json!({"topic": md.topic, "partition": md.partition, "offset": md.offset})
            )
            .map_err(stdout_error)?,
            Err(e) => {
                writeln!(out, "{}", serde_json::json!({"error": e.to_string()})).map_err(stdout_error)?
            }
        }
    }
    out.flush().map_err(stdout_error)?;
    producer.close()?;
    Ok(stats)
}
