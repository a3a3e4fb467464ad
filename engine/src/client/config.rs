//! Producer and consumer configuration, with the Java client's key names.
//!
//! Both configs are plain structs with public fields and Kafka's defaults (or eoslog's, where
//! the brief of an in-process client differs — each field says so), plus
//! [`ProducerConfig::set`] / [`ConsumerConfig::set`] taking the Java client's string keys, so a
//! `Properties` block of a Kafka application translates line by line:
//!
//! ```
//! use eoslog::client::{ConsumerConfig, IsolationLevel, OffsetReset, ProducerConfig};
//! let mut p = ProducerConfig::default();
//! p.set("transactional.id", "copier-1").unwrap();
//! p.set("linger.ms", "10").unwrap();
//! p.set("compression.type", "lz4").unwrap();
//! assert_eq!(p.transactional_id.as_deref(), Some("copier-1"));
//!
//! let c = ConsumerConfig::from_pairs(&[
//!     ("group.id", "copiers"),
//!     ("isolation.level", "read_committed"),
//!     ("auto.offset.reset", "earliest"),
//! ])
//! .unwrap();
//! assert_eq!(c.isolation_level, IsolationLevel::ReadCommitted);
//! assert_eq!(c.auto_offset_reset, OffsetReset::Earliest);
//! assert!(p.set("no.such.key", "1").is_err());
//! ```

use std::time::Duration;

use crate::batch::Compression;
use crate::error::{Error, Result};
use crate::log::IsolationLevel;
use crate::txn::TransactionVersion;

/// How the producer picks a partition for a record without an explicit partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PartitionerKind {
    /// Kafka's built-in partitioner: `toPositive(murmur2(key)) % partitions` for keyed records;
    /// records without a key stick to one partition until its batch is closed, then move on to
    /// the next partition (round robin over batches, so null-key records still form full
    /// batches).
    #[default]
    Default,
    /// Kafka's `RoundRobinPartitioner`: every record, keyed or not, goes to the next partition.
    RoundRobin,
}

/// Producer settings (Kafka's `ProducerConfig`).
#[derive(Debug, Clone, PartialEq)]
pub struct ProducerConfig {
    /// `transactional.id`: makes the producer transactional (default none).
    pub transactional_id: Option<String>,
    /// `enable.idempotence` (default true). Transactions require it.
    pub enable_idempotence: bool,
    /// `batch.size`: a batch is closed when it reaches this many (uncompressed) bytes
    /// (default 16384).
    pub batch_size: usize,
    /// `linger.ms`: how long a batch that is not full may wait for more records (default 5).
    /// 0 sends every record in the call that produced it.
    pub linger_ms: u64,
    /// `compression.type`: none, gzip, snappy, lz4, zstd (default none).
    pub compression_type: Compression,
    /// `transaction.timeout.ms` (default 60000).
    pub transaction_timeout_ms: i32,
    /// `max.request.size`: the largest record accepted (default 1048576).
    pub max_request_size: usize,
    /// `partitioner` (`default` / `round_robin`; Kafka configures a class in
    /// `partitioner.class`, which is also accepted with the two built-in class names).
    pub partitioner: PartitionerKind,
    /// `transaction.version`: 2 (default, KIP-890: the epoch is bumped by every commit or
    /// abort) or 0/1 (the classic protocol, as librdkafka and older Java clients speak).
    pub transaction_version: TransactionVersion,
    /// `retries`: how often an append whose outcome is unknown, or that failed with a
    /// retriable error, is resent (default `i32::MAX`, bounded by `delivery.timeout.ms`).
    pub retries: u32,
    /// `retry.backoff.ms` (default 100).
    pub retry_backoff_ms: u64,
    /// `delivery.timeout.ms`: upper bound on retrying one batch (default 120000).
    pub delivery_timeout_ms: u64,
    /// `max.block.ms`: upper bound on blocking calls to the transaction coordinator
    /// (`init_transactions`, `commit_transaction`, ...) that keep getting retriable errors
    /// (default 60000).
    pub max_block_ms: u64,
    /// `max.in.flight.requests.per.connection` (default 5, at most 5 with idempotence). The
    /// producer appends in order; this bounds how many later batches may be appended before a
    /// batch whose acknowledgement was lost is resent (the partition remembers the last five).
    pub max_in_flight: usize,
    /// `client.id` (informational).
    pub client_id: String,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            transactional_id: None,
            enable_idempotence: true,
            batch_size: 16384,
            linger_ms: 5,
            compression_type: Compression::None,
            transaction_timeout_ms: 60_000,
            max_request_size: 1_048_576,
            partitioner: PartitionerKind::Default,
            transaction_version: TransactionVersion::Tv2,
            retries: i32::MAX as u32,
            retry_backoff_ms: 100,
            delivery_timeout_ms: 120_000,
            max_block_ms: 60_000,
            max_in_flight: 5,
            client_id: String::new(),
        }
    }
}

impl ProducerConfig {
    /// The keys [`ProducerConfig::set`] accepts.
    pub const KEYS: &'static [&'static str] = &[
        "transactional.id",
        "enable.idempotence",
        "batch.size",
        "linger.ms",
        "compression.type",
        "transaction.timeout.ms",
        "max.request.size",
        "partitioner",
        "partitioner.class",
        "transaction.version",
        "retries",
        "retry.backoff.ms",
        "delivery.timeout.ms",
        "max.block.ms",
        "max.in.flight.requests.per.connection",
        "client.id",
        "acks",
        "key.serializer",
        "value.serializer",
        "bootstrap.servers",
    ];

    /// A config built from Kafka-named pairs over the defaults.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Result<ProducerConfig> {
        let mut c = ProducerConfig::default();
        c.apply(pairs.iter().copied())?;
        Ok(c)
    }

    /// Sets one key from its string value. `acks` must be `all`/`-1` (an in-process append is
    /// acknowledged by the log itself; `0`/`1` are accepted only without idempotence, where
    /// they make no difference). `key.serializer`, `value.serializer` and `bootstrap.servers`
    /// are accepted and ignored so a Java `Properties` block can be passed unchanged: records
    /// are bytes, and there is no network.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let v = value.trim();
        match key {
            "transactional.id" => {
                self.transactional_id = if v.is_empty() { None } else { Some(v.to_string()) }
            }
            "enable.idempotence" => self.enable_idempotence = parse_bool(key, v)?,
            "batch.size" => self.batch_size = parse_int(key, v, 0, i32::MAX as i64)? as usize,
            "linger.ms" => self.linger_ms = parse_int(key, v, 0, i32::MAX as i64)? as u64,
            "compression.type" => {
                self.compression_type =
                    v.parse().map_err(|_| invalid(key, v, "expected none, gzip, snappy, lz4 or zstd"))?
            }
            "transaction.timeout.ms" => {
                self.transaction_timeout_ms = parse_int(key, v, 1, i32::MAX as i64)? as i32
            }
            "max.request.size" => self.max_request_size = parse_int(key, v, 1, i32::MAX as i64)? as usize,
            "partitioner" | "partitioner.class" => {
                self.partitioner = match v {
                    "default"
                    | "murmur2"
                    | "org.apache.kafka.clients.producer.internals.DefaultPartitioner"
                    | "org.apache.kafka.clients.producer.internals.BuiltInPartitioner" => {
                        PartitionerKind::Default
                    }
                    "round_robin" | "org.apache.kafka.clients.producer.RoundRobinPartitioner" => {
                        PartitionerKind::RoundRobin
                    }
                    _ => return Err(invalid(key, v, "expected default or round_robin")),
                }
            }
            "transaction.version" => {
                let level = parse_int(key, v, 0, 2)? as i16;
                self.transaction_version = TransactionVersion::from_level(level)
                    .ok_or_else(|| invalid(key, v, "expected 0, 1 or 2"))?
            }
            "retries" => self.retries = parse_int(key, v, 0, i32::MAX as i64)? as u32,
            "retry.backoff.ms" => self.retry_backoff_ms = parse_int(key, v, 0, i32::MAX as i64)? as u64,
            "delivery.timeout.ms" => self.delivery_timeout_ms = parse_int(key, v, 1, i32::MAX as i64)? as u64,
            "max.block.ms" => self.max_block_ms = parse_int(key, v, 0, i64::MAX)? as u64,
            "max.in.flight.requests.per.connection" => {
                self.max_in_flight = parse_int(key, v, 1, i32::MAX as i64)? as usize
            }
            "client.id" => self.client_id = v.to_string(),
            "acks" => match v {
                "all" | "-1" => {}
                "0" | "1" if !self.enable_idempotence => {}
                _ => return Err(invalid(key, v, "an idempotent producer needs acks=all")),
            },
            "key.serializer" | "value.serializer" | "bootstrap.servers" => {}
            _ => return Err(invalid(key, v, "unknown producer config key")),
        }
        Ok(())
    }

    /// Applies every pair in order; stops at the first invalid one.
    pub fn apply<'a>(&mut self, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<()> {
        for (k, v) in pairs {
            self.set(k, v)?;
        }
        Ok(())
    }

    /// Checks the combination of settings (what the Java client checks in its constructor).
    pub fn validate(&self) -> Result<()> {
        if self.transactional_id.is_some() && !self.enable_idempotence {
            return Err(invalid(
                "enable.idempotence",
                "false",
                "a transactional producer must be idempotent (transactional.id is set)",
            ));
        }
        if self.enable_idempotence && self.max_in_flight > 5 {
            return Err(invalid(
                "max.in.flight.requests.per.connection",
                &self.max_in_flight.to_string(),
                "must be at most 5 with idempotence (the log keeps the last five batches per producer)",
            ));
        }
        if let Some(id) = &self.transactional_id
            && id.len() > i16::MAX as usize
        {
            return Err(invalid("transactional.id", id, "longer than 32767 bytes"));
        }
        Ok(())
    }

    /// `linger.ms` as a duration.
    pub fn linger(&self) -> Duration {
        Duration::from_millis(self.linger_ms)
    }
}

/// What a consumer does when it has no valid position (`auto.offset.reset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OffsetReset {
    /// Start at the log start offset.
    Earliest,
    /// Start at the end (the last stable offset under read_committed, else the high
    /// watermark). Kafka's default.
    #[default]
    Latest,
    /// Fail: `poll` and `position` return OFFSET_OUT_OF_RANGE (Kafka's
    /// `NoOffsetForPartitionException`).
    None,
}

/// Consumer settings (Kafka's `ConsumerConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerConfig {
    /// `group.id`: needed to commit and fetch committed offsets (default none).
    pub group_id: Option<String>,
    /// `group.instance.id`: makes a subscribed consumer a static member (KIP-345): a restarted
    /// instance takes its place back without a rebalance, and closing does not leave the group.
    pub group_instance_id: Option<String>,
    /// `isolation.level` (default **read_committed** for eoslog's clients; Kafka's default is
    /// read_uncommitted).
    pub isolation_level: IsolationLevel,
    /// `auto.offset.reset` (default latest).
    pub auto_offset_reset: OffsetReset,
    /// `max.poll.records` (default 500).
    pub max_poll_records: usize,
    /// `fetch.max.bytes`: bytes read per poll across partitions, at least one batch
    /// (default 52428800).
    pub fetch_max_bytes: u32,
    /// `max.partition.fetch.bytes`: bytes read per partition and poll, at least one batch
    /// (default 1048576).
    pub max_partition_fetch_bytes: u32,
    /// `enable.auto.commit` (default **false** for eoslog's clients; Kafka's default is true).
    pub enable_auto_commit: bool,
    /// `auto.commit.interval.ms` (default 5000).
    pub auto_commit_interval_ms: u64,
    /// `default.api.timeout.ms`: bound on blocking calls such as `committed` while a
    /// transactional offset commit is pending (default 60000).
    pub default_api_timeout_ms: u64,
    /// `client.id` (the prefix of the member id in a group).
    pub client_id: String,
    /// `session.timeout.ms`: a subscribed consumer that sends no heartbeat for this long is
    /// removed from its group (default 45000; the engine's `group.min.session.timeout.ms` /
    /// `group.max.session.timeout.ms` bound it).
    pub session_timeout_ms: i32,
    /// `heartbeat.interval.ms`: how often the heartbeat thread heartbeats (default 3000; must
    /// be below `session.timeout.ms`). Rebalances are noticed at once, not at the next
    /// heartbeat.
    pub heartbeat_interval_ms: u64,
    /// `max.poll.interval.ms`: the longest a subscribed consumer may go without calling `poll`
    /// before it leaves its group; also the rebalance timeout (default 300000).
    pub max_poll_interval_ms: i32,
    /// `partition.assignment.strategy`: the assignors in order of preference — `range`,
    /// `roundrobin`, `cooperative-sticky` (or Kafka's class names for them). Default
    /// **`cooperative-sticky`** alone, so groups rebalance cooperatively (Kafka's default,
    /// `range` then `cooperative-sticky`, rebalances eagerly).
    pub partition_assignment_strategy: Vec<String>,
    /// `client.rack` (sent in the subscription).
    pub client_rack: Option<String>,
    /// `metadata.max.age.ms`: how often a subscribed consumer looks for new topics matching
    /// its pattern, and a group leader for partition-count changes of its topics (default
    /// 300000).
    pub metadata_max_age_ms: u64,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            group_id: None,
            group_instance_id: None,
            isolation_level: IsolationLevel::ReadCommitted,
            auto_offset_reset: OffsetReset::Latest,
            max_poll_records: 500,
            fetch_max_bytes: 52_428_800,
            max_partition_fetch_bytes: 1_048_576,
            enable_auto_commit: false,
            auto_commit_interval_ms: 5000,
            default_api_timeout_ms: 60_000,
            client_id: String::new(),
            session_timeout_ms: crate::group::DEFAULT_SESSION_TIMEOUT_MS,
            heartbeat_interval_ms: 3000,
            max_poll_interval_ms: crate::group::DEFAULT_REBALANCE_TIMEOUT_MS,
            partition_assignment_strategy: vec!["cooperative-sticky".to_string()],
            client_rack: None,
            metadata_max_age_ms: 300_000,
        }
    }
}

impl ConsumerConfig {
    /// The keys [`ConsumerConfig::set`] accepts.
    pub const KEYS: &'static [&'static str] = &[
        "group.id",
        "group.instance.id",
        "isolation.level",
        "auto.offset.reset",
        "max.poll.records",
        "fetch.max.bytes",
        "max.partition.fetch.bytes",
        "enable.auto.commit",
        "auto.commit.interval.ms",
        "default.api.timeout.ms",
        "client.id",
        "session.timeout.ms",
        "heartbeat.interval.ms",
        "max.poll.interval.ms",
        "partition.assignment.strategy",
        "client.rack",
        "metadata.max.age.ms",
        "key.deserializer",
        "value.deserializer",
        "bootstrap.servers",
    ];

    /// A config built from Kafka-named pairs over the defaults.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Result<ConsumerConfig> {
        let mut c = ConsumerConfig::default();
        c.apply(pairs.iter().copied())?;
        Ok(c)
    }

    /// Sets one key from its string value (`key.deserializer`, `value.deserializer` and
    /// `bootstrap.servers` are accepted and ignored).
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let v = value.trim();
        match key {
            "group.id" => self.group_id = if v.is_empty() { None } else { Some(v.to_string()) },
            "group.instance.id" => {
                self.group_instance_id = if v.is_empty() { None } else { Some(v.to_string()) }
            }
            "isolation.level" => {
                self.isolation_level = match IsolationLevel::parse(v) {
                    Some(l @ (IsolationLevel::ReadCommitted | IsolationLevel::ReadUncommitted)) => l,
                    _ => return Err(invalid(key, v, "expected read_committed or read_uncommitted")),
                }
            }
            "auto.offset.reset" => {
                self.auto_offset_reset = match v.to_ascii_lowercase().as_str() {
                    "earliest" => OffsetReset::Earliest,
                    "latest" => OffsetReset::Latest,
                    "none" => OffsetReset::None,
                    _ => return Err(invalid(key, v, "expected earliest, latest or none")),
                }
            }
            "max.poll.records" => self.max_poll_records = parse_int(key, v, 1, i32::MAX as i64)? as usize,
            "fetch.max.bytes" => self.fetch_max_bytes = parse_int(key, v, 1, i32::MAX as i64)? as u32,
            "max.partition.fetch.bytes" => {
                self.max_partition_fetch_bytes = parse_int(key, v, 1, i32::MAX as i64)? as u32
            }
            "enable.auto.commit" => self.enable_auto_commit = parse_bool(key, v)?,
            "auto.commit.interval.ms" => {
                self.auto_commit_interval_ms = parse_int(key, v, 0, i32::MAX as i64)? as u64
            }
            "default.api.timeout.ms" => {
                self.default_api_timeout_ms = parse_int(key, v, 0, i32::MAX as i64)? as u64
            }
            "client.id" => self.client_id = v.to_string(),
            "session.timeout.ms" => self.session_timeout_ms = parse_int(key, v, 1, i32::MAX as i64)? as i32,
            "heartbeat.interval.ms" => {
                self.heartbeat_interval_ms = parse_int(key, v, 1, i32::MAX as i64)? as u64
            }
            "max.poll.interval.ms" => {
                self.max_poll_interval_ms = parse_int(key, v, 1, i32::MAX as i64)? as i32
            }
            "partition.assignment.strategy" => {
                let mut names = Vec::new();
                for n in v.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                    let name = assignor_name(n).ok_or_else(|| {
                        invalid(
                            key,
                            v,
                            "expected range, roundrobin or cooperative-sticky (or their class names)",
                        )
                    })?;
                    names.push(name.to_string());
                }
                if names.is_empty() {
                    return Err(invalid(key, v, "at least one assignor is needed"));
                }
                self.partition_assignment_strategy = names;
            }
            "client.rack" => self.client_rack = if v.is_empty() { None } else { Some(v.to_string()) },
            "metadata.max.age.ms" => self.metadata_max_age_ms = parse_int(key, v, 0, i64::MAX)? as u64,
            "key.deserializer" | "value.deserializer" | "bootstrap.servers" => {}
            _ => return Err(invalid(key, v, "unknown consumer config key")),
        }
        Ok(())
    }

    /// Applies every pair in order; stops at the first invalid one.
    pub fn apply<'a>(&mut self, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<()> {
        for (k, v) in pairs {
            self.set(k, v)?;
        }
        Ok(())
    }

    /// Checks the combination of settings (what the Java client checks in its constructor).
    pub fn validate(&self) -> Result<()> {
        if self.heartbeat_interval_ms >= u64::try_from(self.session_timeout_ms).unwrap_or(0) {
            return Err(invalid(
                "heartbeat.interval.ms",
                &self.heartbeat_interval_ms.to_string(),
                "must be lower than session.timeout.ms",
            ));
        }
        for name in &self.partition_assignment_strategy {
            if crate::group::assignor::by_name(name).is_none() {
                return Err(invalid("partition.assignment.strategy", name, "unknown assignor"));
            }
        }
        if self.partition_assignment_strategy.is_empty() {
            return Err(invalid("partition.assignment.strategy", "", "at least one assignor is needed"));
        }
        Ok(())
    }
}

/// The built-in assignor a `partition.assignment.strategy` entry names (eoslog's short names
/// or Kafka's class names).
fn assignor_name(entry: &str) -> Option<&'static str> {
    match entry {
        "range" | "org.apache.kafka.clients.consumer.RangeAssignor" => Some("range"),
        "roundrobin" | "org.apache.kafka.clients.consumer.RoundRobinAssignor" => Some("roundrobin"),
        "cooperative-sticky" | "org.apache.kafka.clients.consumer.CooperativeStickyAssignor" => {
            Some("cooperative-sticky")
        }
        _ => None,
    }
}

fn invalid(key: &str, value: &str, reason: &str) -> Error {
    Error::InvalidConfig { key: key.to_string(), value: value.to_string(), reason: reason.to_string() }
}

fn parse_int(key: &str, v: &str, min: i64, max: i64) -> Result<i64> {
    let n: i64 = v.parse().map_err(|_| invalid(key, v, "not an integer"))?;
    if n < min || n > max {
        return Err(invalid(key, v, &format!("must be between {min} and {max}")));
    }
    Ok(n)
}

fn parse_bool(key: &str, v: &str) -> Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(key, v, "expected true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn producer_defaults_are_kafkas() {
        let c = ProducerConfig::default();
        assert!(c.enable_idempotence);
        assert_eq!((c.batch_size, c.linger_ms, c.transaction_timeout_ms), (16384, 5, 60_000));
        assert_eq!(c.max_request_size, 1_048_576);
        assert_eq!(c.transaction_version, TransactionVersion::Tv2);
        c.validate().unwrap();
    }

    #[test]
    fn producer_keys_parse_and_bad_values_change_nothing() {
        let mut c = ProducerConfig::default();
        c.apply([
            ("transactional.id", "t1"),
            ("batch.size", "100"),
            ("linger.ms", "0"),
            ("compression.type", "zstd"),
            ("transaction.version", "1"),
            ("partitioner.class", "org.apache.kafka.clients.producer.RoundRobinPartitioner"),
            ("acks", "all"),
            ("key.serializer", "org.apache.kafka.common.serialization.ByteArraySerializer"),
        ])
        .unwrap();
        assert_eq!(c.transactional_id.as_deref(), Some("t1"));
        assert_eq!((c.batch_size, c.linger_ms), (100, 0));
        assert_eq!(c.compression_type, Compression::Zstd);
        assert_eq!(c.transaction_version, TransactionVersion::Tv1);
        assert_eq!(c.partitioner, PartitionerKind::RoundRobin);
        let before = c.clone();
        for (k, v) in [
            ("batch.size", "-1"),
            ("compression.type", "brotli"),
            ("transaction.version", "3"),
            ("acks", "1"),
            ("enable.idempotence", "maybe"),
            ("nope", "1"),
        ] {
            assert_eq!(c.set(k, v).unwrap_err().code(), ErrorCode::InvalidConfig, "{k}={v}");
        }
        assert_eq!(c, before);
        c.set("enable.idempotence", "false").unwrap();
        assert!(c.validate().is_err(), "transactions need idempotence");
        c.set("transactional.id", "").unwrap();
        c.validate().unwrap();
        c.set("acks", "1").unwrap();
    }

    #[test]
    fn consumer_keys_parse() {
        let c = ConsumerConfig::default();
        assert_eq!(c.isolation_level, IsolationLevel::ReadCommitted);
        assert!(!c.enable_auto_commit);
        assert_eq!(c.max_poll_records, 500);
        let c = ConsumerConfig::from_pairs(&[
            ("group.id", "g"),
            ("isolation.level", "read_uncommitted"),
            ("auto.offset.reset", "none"),
            ("max.poll.records", "7"),
            ("enable.auto.commit", "true"),
        ])
        .unwrap();
        assert_eq!(c.group_id.as_deref(), Some("g"));
        assert_eq!(c.isolation_level, IsolationLevel::ReadUncommitted);
        assert_eq!(c.auto_offset_reset, OffsetReset::None);
        assert_eq!(c.max_poll_records, 7);
        assert!(c.enable_auto_commit);
        assert!(ConsumerConfig::from_pairs(&[("isolation.level", "log_end")]).is_err());
        let c = ConsumerConfig::from_pairs(&[
            ("session.timeout.ms", "6000"),
            ("heartbeat.interval.ms", "1000"),
            ("max.poll.interval.ms", "10000"),
            ("partition.assignment.strategy", "org.apache.kafka.clients.consumer.RangeAssignor, roundrobin"),
            ("client.rack", "r1"),
        ])
        .unwrap();
        assert_eq!(c.partition_assignment_strategy, ["range", "roundrobin"]);
        assert_eq!(
            (c.session_timeout_ms, c.heartbeat_interval_ms, c.max_poll_interval_ms),
            (6000, 1000, 10000)
        );
        assert_eq!(c.client_rack.as_deref(), Some("r1"));
        c.validate().unwrap();
        assert_eq!(ConsumerConfig::default().partition_assignment_strategy, ["cooperative-sticky"]);
        assert!(ConsumerConfig::from_pairs(&[("partition.assignment.strategy", "sticky")]).is_err());
        let mut c = ConsumerConfig::default();
        c.set("heartbeat.interval.ms", "45000").unwrap();
        assert!(c.validate().is_err(), "the heartbeat interval must be below the session timeout");
        assert!(ConsumerConfig::from_pairs(&[("max.poll.records", "0")]).is_err());
    }
}
