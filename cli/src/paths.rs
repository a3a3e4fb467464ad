//! What a path given on the command line is: a data directory, a partition directory, a log
//! file — or not a log at all. Only reads directory listings and metadata.

use std::path::Path;

use eoslog::TopicPartition;

use crate::error::{Class, CliError, CliResult};

/// Files that may sit at the root of an eoslog (or Kafka) data directory.
const ROOT_FILES: &[&str] = &[
    "eoslog-topics",
    "recovery-point-offset-checkpoint",
    "log-start-offset-checkpoint",
    "replication-offset-checkpoint",
    "cleaner-offset-checkpoint",
    ".eoslog_cleanshutdown",
    ".kafka_cleanshutdown",
    ".lock",
    "meta.properties",
];

/// Files of a partition directory that are not named after a segment.
const PARTITION_FILES: &[&str] = &["leader-epoch-checkpoint", "partition.metadata"];

/// Suffixes of segment files.
const SEGMENT_SUFFIXES: &[&str] = &[".log", ".index", ".timeindex", ".txnindex", ".snapshot"];

/// What a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogPath {
    /// A data directory: partition subdirectories and root checkpoints.
    DataDir,
    /// One partition directory (`topic-N`) with segment files.
    PartitionDir,
    /// One file of a log (segment, index, snapshot, checkpoint).
    File,
}

/// Whether `name` is a 20-digit segment file name with a known suffix.
fn is_segment_file(name: &str) -> bool {
    SEGMENT_SUFFIXES.iter().any(|s| {
        name.strip_suffix(s).is_some_and(|stem| stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// Whether `name` is a file a log directory (root or partition) may hold.
pub fn is_log_file_name(name: &str) -> bool {
    is_segment_file(name) || ROOT_FILES.contains(&name) || PARTITION_FILES.contains(&name)
}

/// Metadata of `path`, failing with the right class.
fn stat(path: &Path) -> CliResult<std::fs::Metadata> {
    std::fs::metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            CliError::new(Class::NotFound, format!("{}: no such file or directory", path.display()))
        } else {
            CliError::io("cannot read", path, &e)
        }
    })
}

/// Names in directory `path`, with whether each is a directory.
pub fn list_dir(path: &Path) -> CliResult<Vec<(String, bool)>> {
    let rd = std::fs::read_dir(path).map_err(|e| CliError::io("cannot read directory", path, &e))?;
    let mut out = Vec::new();
    for e in rd {
        let e = e.map_err(|e| CliError::io("cannot read directory", path, &e))?;
        let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
        out.push((e.file_name().to_string_lossy().into_owned(), is_dir));
    }
    out.sort();
    Ok(out)
}

/// Classifies `path`, failing with NotFound / Unreadable / NotALog.
pub fn classify(path: &Path) -> CliResult<LogPath> {
    let meta = stat(path)?;
    if meta.is_file() {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if is_log_file_name(name) {
            return Ok(LogPath::File);
        }
        return Err(CliError::new(
            Class::NotALog,
            format!(
                "{} is not an eoslog/Kafka log file (expected a 20-digit segment name ending in \
                 .log, .index, .timeindex, .txnindex or .snapshot, or a checkpoint file)",
                path.display()
            ),
        ));
    }
    if !meta.is_dir() {
        return Err(CliError::new(
            Class::NotALog,
            format!("{} is neither a regular file nor a directory", path.display()),
        ));
    }
    let entries = list_dir(path)?;
    if entries.iter().any(|(n, d)| !d && (is_segment_file(n) || PARTITION_FILES.contains(&n.as_str()))) {
        return Ok(LogPath::PartitionDir);
    }
    let has_root_file = entries.iter().any(|(n, d)| !d && ROOT_FILES.contains(&n.as_str()));
    // A subdirectory counts only if it is named like a partition *and* holds log files
    // (`/etc` has `dbus-1`, which is no partition).
    let has_partition_dirs = entries.iter().any(|(n, d)| {
        *d && TopicPartition::parse_dir_name(n).is_some()
            && list_dir(&path.join(n)).is_ok_and(|files| {
                files.iter().any(|(f, is_dir)| {
                    !is_dir && (is_segment_file(f) || PARTITION_FILES.contains(&f.as_str()))
                })
            })
    });
    if has_root_file || has_partition_dirs {
        return Ok(LogPath::DataDir);
    }
    let why = if entries.is_empty() {
        "it is empty"
    } else {
        "it has no partition directories, segments or checkpoints"
    };
    Err(CliError::new(
        Class::NotALog,
        format!("{} is not an eoslog/Kafka data directory or partition directory: {why}", path.display()),
    ))
}

/// Requires `path` to be a data directory (for commands that open the engine on it).
pub fn require_data_dir(path: &Path) -> CliResult<()> {
    match classify(path)? {
        LogPath::DataDir => Ok(()),
        LogPath::PartitionDir => Err(CliError::new(
            Class::NotALog,
            format!("{} is a partition directory; pass the data directory that contains it", path.display()),
        )),
        LogPath::File => {
            Err(CliError::new(Class::NotALog, format!("{} is a file; pass a data directory", path.display())))
        }
    }
}

/// For commands that create a data directory if needed (`produce`): a missing or empty
/// directory is fine, so is a data directory; anything else is refused before the engine
/// writes a byte into it.
pub fn require_data_dir_or_new(path: &Path) -> CliResult<()> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(CliError::io("cannot read", path, &e)),
        Ok(m) if m.is_dir() && list_dir(path)?.is_empty() => return Ok(()),
        Ok(_) => {}
    }
    require_data_dir(path)
}

/// Whether every entry of `path` is something eoslog itself creates in a data directory
/// (used before deleting a directory: the demo only removes what looks like its own).
pub fn only_eoslog_entries(path: &Path, extra_files: &[&str]) -> CliResult<bool> {
    for (name, is_dir) in list_dir(path)? {
        let ok = if is_dir {
            TopicPartition::parse_dir_name(&name).is_some() || name.ends_with("-delete")
        } else {
            ROOT_FILES.contains(&name.as_str()) || extra_files.contains(&name.as_str())
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}
