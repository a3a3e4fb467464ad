//! Command-line options of `eoslog-broker`.

use std::net::SocketAddr;
use std::path::PathBuf;

use eoslog::EngineConfig;
use log::LevelFilter;

/// Largest request accepted by default (Kafka's `socket.request.max.bytes`, 100 MiB).
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 100 * 1024 * 1024;

/// What the broker is told at start.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// The data directory handed to [`eoslog::Engine::open`].
    pub data_dir: PathBuf,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// `host:port` clients are told to connect to (Metadata, FindCoordinator); defaults to the
    /// listening address.
    pub advertised: Option<(String, u16)>,
    /// Partitions of a topic created because a client asked for it in a Metadata request;
    /// 0 disables auto-creation.
    pub auto_create_partitions: i32,
    /// Requests larger than this close the connection before anything is allocated.
    pub max_request_bytes: usize,
    /// Test hook: after every N-th Produce request has been appended, close the connection
    /// instead of answering, so the client must retry what the log already holds. 0 = off.
    pub drop_produce_response_every: u64,
    /// Engine settings (`--io`, `--durability`, `--engine-config key=value`).
    pub engine: EngineConfig,
    /// Log level.
    pub log_level: LevelFilter,
}

impl BrokerConfig {
    /// Defaults for a data directory and a listening address.
    pub fn new(data_dir: impl Into<PathBuf>, listen: SocketAddr) -> Self {
        BrokerConfig {
            data_dir: data_dir.into(),
            listen,
            advertised: None,
            auto_create_partitions: 0,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            drop_produce_response_every: 0,
            engine: EngineConfig::default(),
            log_level: LevelFilter::Info,
        }
    }
}

/// The usage text.
pub const USAGE: &str = "\
eoslog-broker: a single-node Kafka-protocol broker storing everything in eoslog

USAGE:
    eoslog-broker --data DIR [--listen HOST:PORT] [OPTIONS]

OPTIONS:
    --data DIR                       data directory (created if missing)
    --listen HOST:PORT               listening address [default: 127.0.0.1:9092]
    --advertise HOST:PORT            address given to clients [default: the listening address]
    --io auto|uring|std              engine I/O backend [default: auto]
    --durability none|always|interval(MS)
                                     when appends are fsynced [default: none]
    --engine-config KEY=VALUE        any other engine setting (repeatable)
    --auto-create-partitions N       create unknown topics that clients ask for with N
                                     partitions [default: 0 = off]
    --max-request-bytes N            largest request accepted [default: 104857600]
    --log-level LEVEL                off|error|warn|info|debug|trace [default: info]
    --drop-produce-response-every N  TEST HOOK: close the connection instead of answering
                                     every N-th Produce request (after appending it)
    -h, --help                       this text
";

/// Why the command line was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum ArgsError {
    /// `--help` was given.
    Help,
    /// A bad option or value.
    Invalid(String),
}

/// Parses the arguments after the program name.
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<BrokerConfig, ArgsError> {
    let mut args = args.into_iter();
    let mut data_dir = None;
    let mut listen: SocketAddr = "127.0.0.1:9092".parse().expect("a valid literal address");
    let mut advertised = None;
    let mut engine = EngineConfig::default();
    let mut auto_create_partitions = 0;
    let mut max_request_bytes = DEFAULT_MAX_REQUEST_BYTES;
    let mut drop_every = 0;
    let mut log_level = LevelFilter::Info;
    let invalid = |s: String| ArgsError::Invalid(s);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if flag == "-h" || flag == "--help" {
            return Err(ArgsError::Help);
        }
        let mut value =
            || inline.clone().or_else(|| args.next()).ok_or_else(|| invalid(format!("{flag} needs a value")));
        match flag.as_str() {
            "--data" => data_dir = Some(PathBuf::from(value()?)),
            "--listen" => {
                let v = value()?;
                listen = resolve(&v).ok_or_else(|| invalid(format!("--listen {v}: not HOST:PORT")))?;
            }
            "--advertise" => {
                let v = value()?;
                let (host, port) =
                    v.rsplit_once(':').ok_or_else(|| invalid(format!("--advertise {v}: not HOST:PORT")))?;
                let port = port.parse().map_err(|_| invalid(format!("--advertise {v}: bad port")))?;
                advertised = Some((host.trim_matches(['[', ']']).to_string(), port));
            }
            "--io" => {
                let v = value()?;
                engine.set("io", &v).map_err(|e| invalid(format!("--io: {e}")))?;
            }
            "--durability" => {
                let v = value()?;
                engine.set("durability", &v).map_err(|e| invalid(format!("--durability: {e}")))?;
            }
            "--engine-config" => {
                let v = value()?;
                let (k, val) = v
                    .split_once('=')
                    .ok_or_else(|| invalid(format!("--engine-config {v}: not KEY=VALUE")))?;
                engine.set(k.trim(), val.trim()).map_err(|e| invalid(format!("--engine-config: {e}")))?;
            }
            "--auto-create-partitions" => {
                let v = value()?;
                auto_create_partitions =
                    v.parse().ok().filter(|n| (0..=100_000).contains(n)).ok_or_else(|| {
                        invalid(format!("--auto-create-partitions {v}: expected 0..=100000"))
                    })?;
            }
            "--max-request-bytes" => {
                let v = value()?;
                max_request_bytes =
                    v.parse().ok().filter(|n| (1024..=i32::MAX as usize).contains(n)).ok_or_else(|| {
                        invalid(format!("--max-request-bytes {v}: expected 1024..=2147483647"))
                    })?;
            }
            "--drop-produce-response-every" => {
                let v = value()?;
                drop_every = v.parse().map_err(|_| invalid(format!("--drop-produce-response-every {v}")))?;
            }
            "--log-level" => {
                let v = value()?;
                log_level = crate::logger::parse_level(&v)
                    .ok_or_else(|| invalid(format!("--log-level {v}: unknown level")))?;
            }
            other => return Err(invalid(format!("unknown option {other}"))),
        }
    }
    let data_dir = data_dir.ok_or_else(|| invalid("--data DIR is required".into()))?;
    Ok(BrokerConfig {
        data_dir,
        listen,
        advertised,
        auto_create_partitions,
        max_request_bytes,
        drop_produce_response_every: drop_every,
        engine,
        log_level,
    })
}

fn resolve(s: &str) -> Option<SocketAddr> {
    use std::net::ToSocketAddrs;
    s.to_socket_addrs().ok()?.next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_the_documented_options() {
        let c = parse_args(args(
            "--data /tmp/x --listen 127.0.0.1:19092 --io std --durability always --log-level debug \
             --auto-create-partitions=3 --drop-produce-response-every 7 --advertise localhost:1",
        ))
        .unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.listen.port(), 19092);
        assert_eq!(c.engine.durability, eoslog::Durability::Always);
        assert_eq!(c.auto_create_partitions, 3);
        assert_eq!(c.drop_produce_response_every, 7);
        assert_eq!(c.log_level, LevelFilter::Debug);
        assert_eq!(c.advertised, Some(("localhost".to_string(), 1)));
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(parse_args(args("--help")).unwrap_err(), ArgsError::Help);
        assert!(matches!(parse_args(args("--listen 127.0.0.1:1")), Err(ArgsError::Invalid(_))));
        assert!(matches!(parse_args(args("--data d --durability sometimes")), Err(ArgsError::Invalid(_))));
        assert!(matches!(parse_args(args("--data d --bogus")), Err(ArgsError::Invalid(_))));
        assert!(matches!(parse_args(args("--data")), Err(ArgsError::Invalid(_))));
    }
}
