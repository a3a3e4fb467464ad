//! Topic names, topic metadata and the file that keeps it (`eoslog-topics` in the data
//! directory: Kafka keeps topic configuration in its controller; an embedded engine keeps it
//! next to the data).
//!
//! The file uses Kafka's checkpoint layout: a version line, a count line, then one line per
//! topic: `<name> <partitions> <topic id> <key=value,...|->` holding only the keys that differ
//! from the engine's defaults.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;

use crate::config::TopicConfig;
use crate::error::{Error, Result, StorageError};
use crate::io::{FileType, IoBackend};
use std::sync::Arc;

use crate::log::checkpoint::{CheckpointFile, CheckpointFormat};

/// File name of the topic metadata in the data directory.
pub const TOPICS_FILE: &str = "eoslog-topics";
/// Suffix of a partition directory renamed for deletion (as Kafka names them).
pub const DELETE_DIR_SUFFIX: &str = "-delete";
/// The transaction coordinator's log.
pub const TRANSACTION_STATE_TOPIC: &str = "__transaction_state";
/// The group coordinator's log (offsets and group metadata).
pub const CONSUMER_OFFSETS_TOPIC: &str = "__consumer_offsets";
/// Kafka's maximum topic name length.
pub const MAX_NAME_LENGTH: usize = 249;
/// The most partitions a topic can have. Bounds what a topic creation asks for and, at open, what
/// the metadata file or a partition directory found on disk can make the engine create: a stray
/// `t-999999999` directory must not make it open a billion partitions.
pub const MAX_PARTITIONS: i32 = 100_000;

const FORMAT_VERSION: i32 = 0;

/// Checks a topic name against Kafka's rule: 1 to 249 characters from `[a-zA-Z0-9._-]`, and
/// neither `.` nor `..`. This also guarantees a name can never escape the data directory.
pub fn validate_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("the name is empty")
    } else if name == "." || name == ".." {
        Some("'.' and '..' are not allowed")
    } else if name.len() > MAX_NAME_LENGTH {
        Some("the name is longer than 249 characters")
    } else if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-') {
        Some("only ASCII letters, digits, '.', '_' and '-' are allowed")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::InvalidTopic { name: name.to_string(), reason }),
        None => Ok(()),
    }
}

/// Whether the topic is one of eoslog's internal topics.
pub fn is_internal(name: &str) -> bool {
    name == TRANSACTION_STATE_TOPIC || name == CONSUMER_OFFSETS_TOPIC
}

/// What the engine remembers about a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    /// Name.
    pub name: String,
    /// Number of partitions.
    pub partitions: i32,
    /// Kafka topic id: 16 random bytes, URL-safe base64 without padding.
    pub topic_id: String,
    /// Config keys that differ from the engine defaults.
    pub overrides: BTreeMap<String, String>,
}

impl TopicMetadata {
    /// Metadata for a topic using the engine defaults.
    pub fn new(name: &str, partitions: i32, defaults: &TopicConfig) -> Self {
        Self::with_config(name, partitions, defaults, defaults)
    }

    /// Metadata for a topic with its own configuration.
    pub fn with_config(name: &str, partitions: i32, config: &TopicConfig, defaults: &TopicConfig) -> Self {
        let mut m = TopicMetadata {
            name: name.to_string(),
            partitions,
            topic_id: new_topic_id(),
            overrides: BTreeMap::new(),
        };
        m.set_overrides(config, defaults);
        m
    }

    /// Records the keys of `config` that differ from `defaults`.
    pub fn set_overrides(&mut self, config: &TopicConfig, defaults: &TopicConfig) {
        let base = defaults.to_pairs();
        self.overrides = config
            .to_pairs()
            .into_iter()
            .filter(|(k, v)| base.get(k) != Some(v))
            .map(|(k, v)| (k.to_string(), v))
            .collect();
    }

    /// The topic's configuration: the defaults with the overrides applied.
    pub fn config(&self, defaults: &TopicConfig) -> Result<TopicConfig> {
        let mut c = defaults.clone();
        for (k, v) in &self.overrides {
            c.set(k, v)?;
        }
        Ok(c)
    }
}

/// A fresh random topic id in Kafka's textual form.
fn new_topic_id() -> String {
    // RandomState is seeded from the OS per process and per instance: two of them give 128
    // unpredictable bits, which is all a topic id needs.
    let mut bytes = [0u8; 16];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        chunk.copy_from_slice(&h.finish().to_be_bytes());
    }
    base64_url_no_pad(&bytes)
}

fn base64_url_no_pad(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// The checkpoint-style format of [`TOPICS_FILE`].
#[derive(Debug)]
struct TopicsFormat;

impl CheckpointFormat for TopicsFormat {
    type Entry = TopicMetadata;
    const VERSION: i32 = FORMAT_VERSION;

    fn format_entry(t: &TopicMetadata, out: &mut String) -> Result<()> {
        use std::fmt::Write;
        let overrides = if t.overrides.is_empty() {
            "-".to_string()
        } else {
            t.overrides.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
        };
        // Names, ids and config values never contain spaces or commas (validated on the way in).
        let _ = write!(out, "{} {} {} {}", t.name, t.partitions, t.topic_id, overrides);
        Ok(())
    }

    fn parse_entry(line: &str) -> std::result::Result<TopicMetadata, String> {
        let fields: Vec<&str> = line.split(' ').collect();
        let [name, partitions, topic_id, overrides] = fields[..] else {
            return Err(format!("malformed line {line:?}"));
        };
        validate_name(name).map_err(|e| e.to_string())?;
        let partitions: i32 = partitions
            .parse()
            .ok()
            .filter(|p| (1..=MAX_PARTITIONS).contains(p))
            .ok_or_else(|| format!("bad partition count in {line:?}"))?;
        let mut map = BTreeMap::new();
        if overrides != "-" {
            for kv in overrides.split(',') {
                let (k, v) = kv.split_once('=').ok_or_else(|| format!("bad override {kv:?}"))?;
                map.insert(k.to_string(), v.to_string());
            }
        }
        Ok(TopicMetadata {
            name: name.to_string(),
            partitions,
            topic_id: topic_id.to_string(),
            overrides: map,
        })
    }
}

/// Reads the topic metadata file; a missing file means no topics yet.
pub fn read(io: &Arc<dyn IoBackend>, dir: &Path) -> Result<BTreeMap<String, TopicMetadata>> {
    let entries = CheckpointFile::<TopicsFormat>::new(io.clone(), dir.join(TOPICS_FILE)).read()?;
    Ok(entries.into_iter().map(|t| (t.name.clone(), t)).collect())
}

/// Writes the topic metadata file atomically (temp file, fsync, rename, directory fsync).
pub fn write(io: &Arc<dyn IoBackend>, dir: &Path, topics: &BTreeMap<String, TopicMetadata>) -> Result<()> {
    CheckpointFile::<TopicsFormat>::new(io.clone(), dir.join(TOPICS_FILE)).write(topics.values())
}

/// The longest file name the file systems eoslog runs on accept (`NAME_MAX`).
pub const MAX_FILE_NAME_LENGTH: usize = 255;

/// The name a partition directory is renamed to before it is deleted:
/// `<topic>-<partition>.<topic id>-delete`, with the topic cut short (as Kafka does) so that the
/// name fits in [`MAX_FILE_NAME_LENGTH`]: a 249-character topic is legal, and its directory
/// with the suffix is not. The partition number and the topic id are kept whole, so two
/// partitions never get the same name.
pub fn delete_dir_name(tp: &crate::log::TopicPartition, topic_id: &str) -> String {
    let suffix = format!("-{}.{topic_id}{DELETE_DIR_SUFFIX}", tp.partition);
    // Topic names are ASCII (`validate_name`), so cutting at a byte count is cutting at a char.
    let keep = MAX_FILE_NAME_LENGTH.saturating_sub(suffix.len()).min(tp.topic.len());
    format!("{}{suffix}", &tp.topic[..keep])
}

/// Removes a directory and the regular files and symlinks in it, never following a link and
/// never descending into subdirectories that are not eoslog's (there are none in a partition
/// directory; any found are left and reported).
///
/// If `dir` itself is not a directory but a symlink (a partition directory swapped for a link
/// to a directory elsewhere), only the link is removed: listing it would follow it, and its
/// target's files would be deleted.
pub fn remove_dir_recursive(io: &dyn IoBackend, dir: &Path) -> Result<()> {
    match io.metadata(dir).map_err(|e| StorageError::io("stat", dir, e))? {
        Some(FileType::Dir) | None => {}
        Some(_) => {
            log::warn!(
                "{} is not a directory: removing the entry itself, not what it points to",
                dir.display()
            );
            return io.remove_file(dir).map_err(|e| StorageError::io("remove", dir, e).into());
        }
    }
    for entry in io.read_dir(dir).map_err(|e| StorageError::io("read_dir", dir, e))? {
        let p = dir.join(&entry.name);
        match entry.file_type {
            FileType::Dir => {
                return Err(StorageError::Corrupt {
                    path: p,
                    detail: "unexpected subdirectory in a partition directory; not deleting it".into(),
                }
                .into());
            }
            _ => io.remove_file(&p).map_err(|e| StorageError::io("remove", &p, e))?,
        }
    }
    io.remove_dir(dir).map_err(|e| StorageError::io("rmdir", dir, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn kafka_topic_name_rule() {
        for ok in ["a", "orders", "my.topic_v2-x", "__consumer_offsets", &"x".repeat(249)] {
            validate_name(ok).unwrap();
        }
        for bad in ["", ".", "..", "a/b", "../etc", "a b", "é", "a\0b", &"x".repeat(250), "a\\b", "a:b"] {
            let e = validate_name(bad).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidTopicException, "{bad:?}");
        }
    }

    #[test]
    fn topic_ids_are_22_char_base64_and_distinct() {
        let a = new_topic_id();
        let b = new_topic_id();
        assert_eq!(a.len(), 22);
        assert_ne!(a, b);
        assert_eq!(base64_url_no_pad(b"\xfb\xff"), "-_8");
    }

    #[test]
    fn overrides_round_trip() {
        let defaults = TopicConfig::default();
        let mut c = defaults.clone();
        c.set("segment.bytes", "4096").unwrap();
        c.set("message.timestamp.type", "LogAppendTime").unwrap();
        let m = TopicMetadata::with_config("t", 3, &c, &defaults);
        assert_eq!(m.overrides.len(), 2);
        assert_eq!(m.config(&defaults).unwrap(), c);
    }
}
