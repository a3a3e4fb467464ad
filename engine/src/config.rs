//! Configuration, using Kafka's names wherever Kafka has one.
//!
//! [`TopicConfig`] holds the per-topic log settings (`segment.bytes`, `retention.ms`, ...);
//! [`EngineConfig`] the settings of a data directory (I/O backend, durability, producer expiry,
//! transaction timeouts) and the defaults for new topics. Both can be set from string key/value
//! pairs with [`TopicConfig::set`] / [`EngineConfig::set`], which is what the C ABI, the Python
//! package and the CLI use.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};

use crate::error::{Error, Result};
use crate::io::{IoChoice, Permissions};

/// How records are timestamped (`message.timestamp.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampType {
    /// The producer's timestamps are kept.
    #[default]
    CreateTime,
    /// The broker stamps `maxTimestamp` with its clock at append time.
    LogAppendTime,
}

impl TimestampType {
    /// Kafka's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TimestampType::CreateTime => "CreateTime",
            TimestampType::LogAppendTime => "LogAppendTime",
        }
    }
}

/// When appended bytes are made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Left to the page cache; `flush()` or close makes data durable.
    #[default]
    None,
    /// A background flusher syncs dirty partitions every interval.
    Interval(Duration),
    /// An append returns only after its bytes are durable; concurrent appenders share fsyncs
    /// (group commit).
    Always,
}

impl Durability {
    /// Parses `none`, `always`, `interval(100ms)`, `interval(2s)` or `interval:100` (ms).
    pub fn parse(s: &str) -> Option<Durability> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "none" => return Some(Durability::None),
            "always" => return Some(Durability::Always),
            _ => {}
        }
        let inner = s
            .strip_prefix("interval(")
            .and_then(|r| r.strip_suffix(')'))
            .or_else(|| s.strip_prefix("interval:"))?;
        let inner = inner.trim();
        let ms: u64 = if let Some(v) = inner.strip_suffix("ms") {
            v.trim().parse().ok()?
        } else if let Some(v) = inner.strip_suffix('s') {
            v.trim().parse::<u64>().ok()?.checked_mul(1000)?
        } else {
            inner.parse().ok()?
        };
        if ms == 0 {
            return None;
        }
        Some(Durability::Interval(Duration::from_millis(ms)))
    }
}

impl std::fmt::Display for Durability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Durability::None => f.write_str("none"),
            Durability::Always => f.write_str("always"),
            Durability::Interval(d) => write!(f, "interval({}ms)", d.as_millis()),
        }
    }
}

/// Per-topic log configuration. Defaults are Kafka's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicConfig {
    /// `segment.bytes`: roll when the active segment would exceed this size (default 1 GiB).
    pub segment_bytes: u32,
    /// `segment.ms`: roll when the active segment is older than this (default 7 days).
    pub segment_ms: i64,
    /// `segment.jitter.ms`: maximum random jitter subtracted from `segment.ms` (default 0).
    pub segment_jitter_ms: i64,
    /// `segment.index.bytes`: size of the preallocated offset and time indexes (default 10 MiB).
    pub segment_index_bytes: u32,
    /// `index.interval.bytes`: bytes between sparse index entries (default 4096).
    pub index_interval_bytes: u32,
    /// `retention.bytes`: delete old segments beyond this total size (-1 = no limit).
    pub retention_bytes: i64,
    /// `retention.ms`: delete segments whose newest record is older than this (-1 = forever,
    /// default 7 days).
    pub retention_ms: i64,
    /// `max.message.bytes`: largest batch accepted (default 1048588).
    pub max_message_bytes: u32,
    /// `message.timestamp.type`.
    pub timestamp_type: TimestampType,
    /// `message.timestamp.before.max.ms`: how far in the past a CreateTime timestamp may be.
    pub timestamp_before_max_ms: i64,
    /// `message.timestamp.after.max.ms`: how far in the future a CreateTime timestamp may be
    /// (default 1 hour).
    pub timestamp_after_max_ms: i64,
    /// `preallocate`: preallocate the segment file to `segment.bytes` (trimmed at roll).
    pub preallocate: bool,
    /// `file.delete.delay.ms`: time between renaming a deleted segment to `.deleted` and
    /// removing it (default 60 s).
    pub file_delete_delay_ms: i64,
}

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig {
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 3600 * 1000,
            segment_jitter_ms: 0,
            segment_index_bytes: 10 * 1024 * 1024,
            index_interval_bytes: 4096,
            retention_bytes: -1,
            retention_ms: 7 * 24 * 3600 * 1000,
            max_message_bytes: 1_048_588,
            timestamp_type: TimestampType::CreateTime,
            timestamp_before_max_ms: i64::MAX,
            timestamp_after_max_ms: 3600 * 1000,
            preallocate: false,
            file_delete_delay_ms: 60_000,
        }
    }
}

/// Smallest accepted `segment.bytes`. Kafka's public minimum is 1 MiB; eoslog allows small
/// segments so tests and embedded devices can use them.
pub const MIN_SEGMENT_BYTES: u32 = 128;

/// Smallest accepted `segment.index.bytes` (room for a few entries).
pub const MIN_SEGMENT_INDEX_BYTES: u32 = 64;

impl TopicConfig {
    /// The keys [`TopicConfig::set`] accepts.
    pub const KEYS: &'static [&'static str] = &[
        "segment.bytes",
        "segment.ms",
        "segment.jitter.ms",
        "segment.index.bytes",
        "index.interval.bytes",
        "retention.bytes",
        "retention.ms",
        "max.message.bytes",
        "message.timestamp.type",
        "message.timestamp.before.max.ms",
        "message.timestamp.after.max.ms",
        "preallocate",
        "file.delete.delay.ms",
        "cleanup.policy",
    ];

    /// Sets one key from its string value, validating it.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let v = value.trim();
        match key {
            "segment.bytes" => {
                self.segment_bytes = parse_int(key, v, MIN_SEGMENT_BYTES as i64, i32::MAX as i64)? as u32
            }
            "segment.ms" => self.segment_ms = parse_int(key, v, 1, i64::MAX)?,
            "segment.jitter.ms" => self.segment_jitter_ms = parse_int(key, v, 0, i64::MAX)?,
            "segment.index.bytes" => {
                self.segment_index_bytes =
                    parse_int(key, v, MIN_SEGMENT_INDEX_BYTES as i64, i32::MAX as i64)? as u32
            }
            "index.interval.bytes" => {
                self.index_interval_bytes = parse_int(key, v, 0, i32::MAX as i64)? as u32
            }
            "retention.bytes" => self.retention_bytes = parse_int(key, v, -1, i64::MAX)?,
            "retention.ms" => self.retention_ms = parse_int(key, v, -1, i64::MAX)?,
            "max.message.bytes" => self.max_message_bytes = parse_int(key, v, 0, i32::MAX as i64)? as u32,
            "message.timestamp.type" => {
                self.timestamp_type = match v {
                    "CreateTime" => TimestampType::CreateTime,
                    "LogAppendTime" => TimestampType::LogAppendTime,
                    _ => return Err(invalid(key, v, "expected CreateTime or LogAppendTime")),
                }
            }
            "message.timestamp.before.max.ms" => {
                self.timestamp_before_max_ms = parse_int(key, v, 0, i64::MAX)?
            }
            "message.timestamp.after.max.ms" => self.timestamp_after_max_ms = parse_int(key, v, 0, i64::MAX)?,
            "preallocate" => self.preallocate = parse_bool(key, v)?,
            "file.delete.delay.ms" => self.file_delete_delay_ms = parse_int(key, v, 0, i64::MAX)?,
            "cleanup.policy" => {
                if v != "delete" {
                    return Err(invalid(key, v, "only the delete policy is supported"));
                }
            }
            _ => return Err(invalid(key, v, "unknown topic config key")),
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

    /// The configuration as Kafka-named string pairs (what `set` accepts).
    pub fn to_pairs(&self) -> BTreeMap<&'static str, String> {
        let mut m = BTreeMap::new();
        m.insert("segment.bytes", self.segment_bytes.to_string());
        m.insert("segment.ms", self.segment_ms.to_string());
        m.insert("segment.jitter.ms", self.segment_jitter_ms.to_string());
        m.insert("segment.index.bytes", self.segment_index_bytes.to_string());
        m.insert("index.interval.bytes", self.index_interval_bytes.to_string());
        m.insert("retention.bytes", self.retention_bytes.to_string());
        m.insert("retention.ms", self.retention_ms.to_string());
        m.insert("max.message.bytes", self.max_message_bytes.to_string());
        m.insert("message.timestamp.type", self.timestamp_type.as_str().to_string());
        m.insert("message.timestamp.before.max.ms", self.timestamp_before_max_ms.to_string());
        m.insert("message.timestamp.after.max.ms", self.timestamp_after_max_ms.to_string());
        m.insert("preallocate", self.preallocate.to_string());
        m.insert("file.delete.delay.ms", self.file_delete_delay_ms.to_string());
        m.insert("cleanup.policy", "delete".to_string());
        m
    }
}

/// Configuration of an engine (one data directory).
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// `io`: which I/O backend to use. `None` means the `EOSLOG_IO` environment variable, or
    /// `auto` when it is not set.
    pub io: Option<IoChoice>,
    /// `durability`.
    pub durability: Durability,
    /// Defaults for new topics (`log.*` settings in Kafka).
    pub topic_defaults: TopicConfig,
    /// `producer.id.expiration.ms`: forget idle producers without open transactions after this
    /// long (default 1 day).
    pub producer_id_expiration_ms: i64,
    /// `producer.id.expiration.check.interval.ms` (default 10 minutes).
    pub producer_id_expiration_check_interval_ms: i64,
    /// `transaction.partition.verification.enable` (KIP-890 part 1, default true).
    pub transaction_verification_enable: bool,
    /// Open even when data below the recovery point (data that was fsynced) is corrupt, by
    /// truncating at the damage. Off by default: such damage is a hardware or operator problem
    /// and silently dropping acknowledged data is worse than refusing to open.
    pub truncate_corrupt_below_recovery_point: bool,
    /// Permissions of created files and directories.
    pub permissions: Permissions,
    /// `transaction.max.timeout.ms` (default 15 minutes).
    pub transaction_max_timeout_ms: i64,
    /// `transactional.id.expiration.ms` (default 7 days).
    pub transactional_id_expiration_ms: i64,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms` (default 10 s).
    pub transaction_abort_timed_out_interval_ms: i64,
    /// `high.watermark`: `local` (default) — the engine advances each partition's high
    /// watermark itself: to the log end offset, or with `durability=always` to the durable
    /// offset, so a reader never sees data a crash could lose; `external` — an embedding broker
    /// that replicates sets it with `PartitionLog::update_high_watermark`.
    pub external_high_watermark: bool,
    /// `group.min.session.timeout.ms` (default 6 s).
    pub group_min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms` (default 30 min).
    pub group_max_session_timeout_ms: i32,
    /// `group.initial.rebalance.delay.ms` (default 3 s).
    pub group_initial_rebalance_delay_ms: i32,
    /// `group.max.size` (default unlimited).
    pub group_max_size: i32,
    /// Time source (tests inject a manual clock).
    pub clock: Arc<dyn Clock>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            io: None,
            durability: Durability::None,
            topic_defaults: TopicConfig::default(),
            producer_id_expiration_ms: 24 * 3600 * 1000,
            producer_id_expiration_check_interval_ms: 10 * 60 * 1000,
            transaction_verification_enable: true,
            truncate_corrupt_below_recovery_point: false,
            permissions: Permissions::default(),
            transaction_max_timeout_ms: 15 * 60 * 1000,
            transactional_id_expiration_ms: 7 * 24 * 3600 * 1000,
            transaction_abort_timed_out_interval_ms: 10_000,
            external_high_watermark: false,
            group_min_session_timeout_ms: 6_000,
            group_max_session_timeout_ms: 30 * 60 * 1000,
            group_initial_rebalance_delay_ms: 3_000,
            group_max_size: i32::MAX,
            clock: Arc::new(SystemClock),
        }
    }
}

impl EngineConfig {
    /// The I/O backend choice after applying the `EOSLOG_IO` environment variable.
    pub fn io_choice(&self) -> IoChoice {
        self.io.or_else(IoChoice::from_env).unwrap_or_default()
    }

    /// Sets one key. Engine keys: `io`, `durability`, `producer.id.expiration.ms`,
    /// `producer.id.expiration.check.interval.ms`, `transaction.partition.verification.enable`,
    /// `truncate.corrupt.below.recovery.point`, `file.mode`, `dir.mode`,
    /// `transaction.max.timeout.ms`, `transactional.id.expiration.ms`,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`, `high.watermark`,
    /// `group.min.session.timeout.ms`, `group.max.session.timeout.ms`,
    /// `group.initial.rebalance.delay.ms`, `group.max.size`. Any topic key (with or
    /// without Kafka's `log.` prefix) sets the default for new topics.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let v = value.trim();
        match key {
            "io" => {
                self.io =
                    Some(IoChoice::parse(v).ok_or_else(|| invalid(key, v, "expected auto, uring or std"))?)
            }
            "durability" => {
                self.durability = Durability::parse(v)
                    .ok_or_else(|| invalid(key, v, "expected none, always or interval(<ms>ms)"))?
            }
            "producer.id.expiration.ms" => self.producer_id_expiration_ms = parse_int(key, v, 1, i64::MAX)?,
            "producer.id.expiration.check.interval.ms" => {
                self.producer_id_expiration_check_interval_ms = parse_int(key, v, 1, i64::MAX)?
            }
            "transaction.partition.verification.enable" => {
                self.transaction_verification_enable = parse_bool(key, v)?
            }
            "truncate.corrupt.below.recovery.point" => {
                self.truncate_corrupt_below_recovery_point = parse_bool(key, v)?
            }
            "file.mode" => self.permissions.file_mode = parse_mode(key, v)?,
            "dir.mode" => self.permissions.dir_mode = parse_mode(key, v)?,
            "transaction.max.timeout.ms" => {
                self.transaction_max_timeout_ms = parse_int(key, v, 1, i32::MAX as i64)?
            }
            "transactional.id.expiration.ms" => {
                self.transactional_id_expiration_ms = parse_int(key, v, 1, i64::MAX)?
            }
            "transaction.abort.timed.out.transaction.cleanup.interval.ms" => {
                self.transaction_abort_timed_out_interval_ms = parse_int(key, v, 1, i64::MAX)?
            }
            "group.min.session.timeout.ms" => {
                self.group_min_session_timeout_ms = parse_int(key, v, 0, i32::MAX as i64)? as i32
            }
            "group.max.session.timeout.ms" => {
                self.group_max_session_timeout_ms = parse_int(key, v, 0, i32::MAX as i64)? as i32
            }
            "group.initial.rebalance.delay.ms" => {
                self.group_initial_rebalance_delay_ms = parse_int(key, v, 0, i32::MAX as i64)? as i32
            }
            "group.max.size" => self.group_max_size = parse_int(key, v, 1, i32::MAX as i64)? as i32,
            "high.watermark" => {
                self.external_high_watermark = match v {
                    "local" => false,
                    "external" => true,
                    _ => return Err(invalid(key, v, "expected local or external")),
                }
            }
            _ => {
                let topic_key = key.strip_prefix("log.").unwrap_or(key);
                if TopicConfig::KEYS.contains(&topic_key) {
                    self.topic_defaults.set(topic_key, v)?
                } else {
                    return Err(invalid(key, v, "unknown config key"));
                }
            }
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
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(invalid(key, v, "expected true or false")),
    }
}

fn parse_mode(key: &str, v: &str) -> Result<u32> {
    let digits = v.strip_prefix("0o").unwrap_or(v);
    let m =
        u32::from_str_radix(digits, 8).map_err(|_| invalid(key, v, "expected an octal mode such as 640"))?;
    if m > 0o777 {
        return Err(invalid(key, v, "mode must be at most 777"));
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn topic_keys_parse_and_round_trip() {
        let mut c = TopicConfig::default();
        for (k, v) in TopicConfig::default().to_pairs() {
            c.set(k, &v).unwrap();
        }
        assert_eq!(c, TopicConfig::default());
        c.set("segment.bytes", "16384").unwrap();
        c.set("message.timestamp.type", "LogAppendTime").unwrap();
        assert_eq!(c.segment_bytes, 16384);
        assert_eq!(c.timestamp_type, TimestampType::LogAppendTime);
    }

    #[test]
    fn bad_values_are_invalid_config() {
        let mut c = TopicConfig::default();
        for (k, v) in [
            ("segment.bytes", "12"),
            ("segment.bytes", "abc"),
            ("retention.ms", "-2"),
            ("message.timestamp.type", "Now"),
            ("cleanup.policy", "compact"),
            ("no.such.key", "1"),
        ] {
            let e = c.set(k, v).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidConfig, "{k}={v}");
        }
        assert_eq!(c, TopicConfig::default(), "a rejected value changes nothing");
    }

    #[test]
    fn engine_keys() {
        let mut c = EngineConfig::default();
        c.set("durability", "interval(250ms)").unwrap();
        assert_eq!(c.durability, Durability::Interval(Duration::from_millis(250)));
        c.set("durability", "always").unwrap();
        assert_eq!(c.durability, Durability::Always);
        c.set("io", "std").unwrap();
        assert_eq!(c.io_choice(), IoChoice::Std);
        c.set("log.segment.bytes", "4096").unwrap();
        assert_eq!(c.topic_defaults.segment_bytes, 4096);
        c.set("file.mode", "600").unwrap();
        assert_eq!(c.permissions.file_mode, 0o600);
        assert!(c.set("durability", "sometimes").is_err());
        assert!(c.set("durability", "interval(0ms)").is_err());
        assert!(c.set("file.mode", "999").is_err());
        c.set("group.initial.rebalance.delay.ms", "0").unwrap();
        c.set("group.max.size", "3").unwrap();
        assert_eq!((c.group_initial_rebalance_delay_ms, c.group_max_size), (0, 3));
        assert!(c.set("group.max.size", "0").is_err());
    }

    #[test]
    fn durability_display_parses_back() {
        for d in [Durability::None, Durability::Always, Durability::Interval(Duration::from_millis(7))] {
            assert_eq!(Durability::parse(&d.to_string()), Some(d));
        }
        assert_eq!(Durability::parse("interval(2s)"), Some(Durability::Interval(Duration::from_secs(2))));
    }
}
