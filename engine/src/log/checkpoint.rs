//! Checkpoint files in Kafka's text format (`CheckpointFile`): line 1 the format version, line 2
//! the number of entries, then one entry per line.
//!
//! Writing is crash-safe: the text goes to `<file>.tmp`, which is fsynced and renamed over the
//! target, then the directory is fsynced; a reader sees the old file or the new one, never a mix.
//! A `.tmp` left by a crash is never read and is replaced by the next write.
//!
//! Reading is strict: a missing or empty file (Kafka creates checkpoint files empty) has no
//! entries, but a wrong version, a wrong count, an unparsable line or an illegal value is
//! [`StorageError::Corrupt`], so that damage is never mistaken for an empty checkpoint.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result, StorageError};
use crate::io::{IoBackend, OpenMode};

/// File name of the per-data-directory recovery points (`topic partition offset`).
pub const RECOVERY_POINT_CHECKPOINT: &str = "recovery-point-offset-checkpoint";
/// File name of the per-data-directory log start offsets (`topic partition offset`).
pub const LOG_START_OFFSET_CHECKPOINT: &str = "log-start-offset-checkpoint";
/// File name of the per-partition leader epoch history (`epoch start_offset`).
pub const LEADER_EPOCH_CHECKPOINT: &str = "leader-epoch-checkpoint";
/// The largest checkpoint file read (64 MiB: hundreds of thousands of partitions' lines).
pub const MAX_CHECKPOINT_BYTES: u64 = 64 << 20;

/// How the entries of one kind of checkpoint file are written and read.
pub trait CheckpointFormat {
    /// One entry (one line).
    type Entry;
    /// The version on line 1.
    const VERSION: i32;
    /// Appends the entry's line to `out`, without the newline. Refuses entries that could not be
    /// read back.
    fn format_entry(entry: &Self::Entry, out: &mut String) -> Result<()>;
    /// Parses one line (without its newline); `Err` says what is wrong with it.
    fn parse_entry(line: &str) -> std::result::Result<Self::Entry, String>;
}

/// Renders a checkpoint file's text.
pub fn format_checkpoint<'a, F: CheckpointFormat>(
    entries: impl ExactSizeIterator<Item = &'a F::Entry>,
) -> Result<String>
where
    F::Entry: 'a,
{
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(out, "{}", F::VERSION);
    let _ = writeln!(out, "{}", entries.len());
    for entry in entries {
        F::format_entry(entry, &mut out)?;
        out.push('\n');
    }
    Ok(out)
}

/// Parses a checkpoint file's bytes; `path` only names the file in errors.
pub fn parse_checkpoint<F: CheckpointFormat>(path: &Path, bytes: &[u8]) -> Result<Vec<F::Entry>> {
    let corrupt =
        |detail: String| -> Error { StorageError::Corrupt { path: path.to_path_buf(), detail }.into() };
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let text = std::str::from_utf8(bytes).map_err(|e| corrupt(format!("not UTF-8 text: {e}")))?;
    // Lines end with `\n` (a `\r` before it is tolerated); the last newline may be missing.
    let body = text.strip_suffix('\n').unwrap_or(text);
    let mut lines = body.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));

    let version_line = lines.next().unwrap_or_default();
    let version: i32 = version_line
        .trim()
        .parse()
        .map_err(|_| corrupt(format!("malformed version line {version_line:?}")))?;
    if version != F::VERSION {
        return Err(corrupt(format!("unsupported version {version}, expected {}", F::VERSION)));
    }
    let Some(count_line) = lines.next() else {
        return Err(corrupt("no entry count line after the version".to_string()));
    };
    let count: usize = count_line
        .trim()
        .parse()
        .map_err(|_| corrupt(format!("malformed entry count line {count_line:?}")))?;
    // Capacity from the data actually present, never from the count alone.
    let mut entries = Vec::with_capacity(count.min(bytes.len() / 2));
    for (i, line) in lines.enumerate() {
        let entry = F::parse_entry(line).map_err(|e| corrupt(format!("line {}: {e}: {line:?}", i + 3)))?;
        entries.push(entry);
    }
    if entries.len() != count {
        return Err(corrupt(format!("expected {count} entries, found {}", entries.len())));
    }
    Ok(entries)
}

/// A checkpoint file of format `F` at a fixed path.
#[derive(Debug, Clone)]
pub struct CheckpointFile<F> {
    io: Arc<dyn IoBackend>,
    path: PathBuf,
    tmp_path: PathBuf,
    format: PhantomData<fn() -> F>,
}

impl<F: CheckpointFormat> CheckpointFile<F> {
    /// A checkpoint at `path` (nothing is touched on disk until a read or write).
    pub fn new(io: Arc<dyn IoBackend>, path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let mut tmp: OsString = path.clone().into_os_string();
        tmp.push(".tmp");
        CheckpointFile { io, path, tmp_path: PathBuf::from(tmp), format: PhantomData }
    }

    /// The checkpoint's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the entries; a missing file has none.
    pub fn read(&self) -> Result<Vec<F::Entry>> {
        let file = match self.io.open(&self.path, OpenMode::Read) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StorageError::io("open", &self.path, e).into()),
        };
        let len = file.len().map_err(|e| StorageError::io("stat", &self.path, e))?;
        // A checkpoint holds one short line per partition: a file past the bound is not one of
        // ours, and its length must not size an allocation.
        let len =
            usize::try_from(len).ok().filter(|&n| n as u64 <= MAX_CHECKPOINT_BYTES).ok_or_else(|| {
                StorageError::Corrupt {
                    path: self.path.clone(),
                    detail: format!("checkpoint file of {len} bytes is too large"),
                }
            })?;
        let mut bytes = vec![0u8; len];
        file.read_exact_at(&mut bytes, 0).map_err(|e| StorageError::io("read", &self.path, e))?;
        parse_checkpoint::<F>(&self.path, &bytes)
    }

    /// Replaces the file with `entries`: writes `<file>.tmp`, fsyncs it, renames it over the file
    /// and fsyncs the directory. On error the previous checkpoint is still in place.
    pub fn write<'a>(&self, entries: impl ExactSizeIterator<Item = &'a F::Entry>) -> Result<()>
    where
        F::Entry: 'a,
    {
        let text = format_checkpoint::<F>(entries)?;
        let tmp =
            self.io.open(&self.tmp_path, OpenMode::Truncate).map_err(|e| self.tmp_error("create", e))?;
        tmp.write_all_at_and_sync(text.as_bytes(), 0).map_err(|e| self.tmp_error("write", e))?;
        drop(tmp);
        self.io.rename(&self.tmp_path, &self.path).map_err(|e| self.tmp_error("rename", e))?;
        let dir = parent_dir(&self.path);
        self.io.sync_dir(dir).map_err(|e| StorageError::io("fsync dir", dir, e))?;
        Ok(())
    }

    fn tmp_error(&self, op: &'static str, e: io::Error) -> Error {
        StorageError::io(op, &self.tmp_path, e).into()
    }
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn parse_field<T: std::str::FromStr>(field: &str, what: &str) -> std::result::Result<T, String> {
    field.parse().map_err(|_| format!("{what} {field:?} is not a number"))
}

/// Splits a line on runs of whitespace, as Kafka's `\s+` does.
fn fields(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// Offsets per partition (`recovery-point-offset-checkpoint`, `log-start-offset-checkpoint`):
/// version 0, lines `topic partition offset`.
#[derive(Debug, Clone, Copy)]
pub struct OffsetCheckpointFormat;

impl CheckpointFormat for OffsetCheckpointFormat {
    type Entry = ((String, i32), i64);
    const VERSION: i32 = 0;

    fn format_entry(((topic, partition), offset): &Self::Entry, out: &mut String) -> Result<()> {
        if topic.is_empty() || topic.chars().any(char::is_whitespace) {
            return Err(Error::InvalidTopic {
                name: topic.clone(),
                reason: "cannot be written to an offset checkpoint (empty or contains whitespace)",
            });
        }
        if *partition < 0 || *offset < 0 {
            return Err(Error::InvalidRequest(format!(
                "cannot checkpoint offset {offset} for {topic}-{partition}: negative values are illegal"
            )));
        }
        let _ = write!(out, "{topic} {partition} {offset}");
        Ok(())
    }

    fn parse_entry(line: &str) -> std::result::Result<Self::Entry, String> {
        let [topic, partition, offset] = fields(line)[..] else {
            return Err("expected `topic partition offset`".to_string());
        };
        let partition: i32 = parse_field(partition, "partition")?;
        let offset: i64 = parse_field(offset, "offset")?;
        if partition < 0 || offset < 0 {
            return Err("negative partition or offset".to_string());
        }
        Ok(((topic.to_string(), partition), offset))
    }
}

/// A checkpoint of offsets per partition, keyed by `(topic, partition)`.
#[derive(Debug, Clone)]
pub struct OffsetCheckpointFile {
    file: CheckpointFile<OffsetCheckpointFormat>,
}

impl OffsetCheckpointFile {
    /// The checkpoint at `path` (usually `<data dir>/`[`RECOVERY_POINT_CHECKPOINT`] or
    /// [`LOG_START_OFFSET_CHECKPOINT`]).
    pub fn new(io: Arc<dyn IoBackend>, path: impl Into<PathBuf>) -> Self {
        OffsetCheckpointFile { file: CheckpointFile::new(io, path) }
    }

    /// The checkpoint's path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Reads the offsets; a missing file has none. A partition listed twice is corrupt.
    pub fn read(&self) -> Result<BTreeMap<(String, i32), i64>> {
        let mut map = BTreeMap::new();
        for (key, offset) in self.file.read()? {
            if map.contains_key(&key) {
                return Err(StorageError::Corrupt {
                    path: self.path().to_path_buf(),
                    detail: format!("partition {}-{} is listed twice", key.0, key.1),
                }
                .into());
            }
            map.insert(key, offset);
        }
        Ok(map)
    }

    /// Replaces the checkpoint with `offsets` (crash-safe, see the module documentation).
    pub fn write(&self, offsets: &BTreeMap<(String, i32), i64>) -> Result<()> {
        let entries: Vec<((String, i32), i64)> = offsets.iter().map(|(k, v)| (k.clone(), *v)).collect();
        self.file.write(entries.iter())
    }
}

/// One entry of the leader epoch history: `epoch` began at `start_offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EpochEntry {
    /// Leader epoch.
    pub epoch: i32,
    /// First offset written in that epoch.
    pub start_offset: i64,
}

/// The `leader-epoch-checkpoint` format: version 0, lines `epoch start_offset`; negative values
/// are illegal.
#[derive(Debug, Clone, Copy)]
pub struct LeaderEpochCheckpointFormat;

impl CheckpointFormat for LeaderEpochCheckpointFormat {
    type Entry = EpochEntry;
    const VERSION: i32 = 0;

    fn format_entry(entry: &EpochEntry, out: &mut String) -> Result<()> {
        if entry.epoch < 0 || entry.start_offset < 0 {
            return Err(Error::InvalidRequest(format!(
                "cannot checkpoint leader epoch {} at offset {}: negative values are illegal",
                entry.epoch, entry.start_offset
            )));
        }
        let _ = write!(out, "{} {}", entry.epoch, entry.start_offset);
        Ok(())
    }

    fn parse_entry(line: &str) -> std::result::Result<EpochEntry, String> {
        let [epoch, start_offset] = fields(line)[..] else {
            return Err("expected `epoch start_offset`".to_string());
        };
        let entry = EpochEntry {
            epoch: parse_field(epoch, "epoch")?,
            start_offset: parse_field(start_offset, "start offset")?,
        };
        if entry.epoch < 0 || entry.start_offset < 0 {
            return Err("negative epoch or start offset".to_string());
        }
        Ok(entry)
    }
}

/// The `leader-epoch-checkpoint` file of a partition.
pub type LeaderEpochCheckpointFile = CheckpointFile<LeaderEpochCheckpointFormat>;

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::io::std_backend::StdBackend;

    fn io() -> Arc<dyn IoBackend> {
        Arc::new(StdBackend::default())
    }

    fn offsets(entries: &[(&str, i32, i64)]) -> BTreeMap<(String, i32), i64> {
        entries.iter().map(|(t, p, o)| ((t.to_string(), *p), *o)).collect()
    }

    fn assert_corrupt<T: std::fmt::Debug>(r: Result<T>, what: &str) {
        assert!(
            matches!(r, Err(Error::Storage(StorageError::Corrupt { .. }))),
            "{what}: expected Corrupt, got {r:?}"
        );
    }

    fn fixture(path: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/kafka-dirs").join(path)
    }

    #[test]
    fn offset_checkpoint_round_trip_and_exact_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RECOVERY_POINT_CHECKPOINT);
        let file = OffsetCheckpointFile::new(io(), &path);
        assert!(file.read().unwrap().is_empty(), "missing file: no entries");
        let map = offsets(&[("orders", 0, 1234), ("orders", 1, 0), ("__transaction_state", 7, 99)]);
        file.write(&map).unwrap();
        assert_eq!(file.read().unwrap(), map);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "0\n3\n__transaction_state 7 99\norders 0 1234\norders 1 0\n"
        );
        file.write(&BTreeMap::new()).unwrap();
        assert!(file.read().unwrap().is_empty());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "0\n0\n");
        assert!(!dir.path().join(format!("{RECOVERY_POINT_CHECKPOINT}.tmp")).exists());
    }

    #[test]
    fn leader_epoch_checkpoint_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LEADER_EPOCH_CHECKPOINT);
        let file = LeaderEpochCheckpointFile::new(io(), &path);
        let entries =
            vec![EpochEntry { epoch: 0, start_offset: 0 }, EpochEntry { epoch: 4, start_offset: 77 }];
        file.write(entries.iter()).unwrap();
        assert_eq!(file.read().unwrap(), entries);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "0\n2\n0 0\n4 77\n");
    }

    #[test]
    fn reads_the_fixture_leader_epoch_checkpoints() {
        let epochs = LeaderEpochCheckpointFile::new(io(), fixture("epochs-0/leader-epoch-checkpoint"));
        assert_eq!(
            epochs.read().unwrap(),
            vec![
                EpochEntry { epoch: 0, start_offset: 0 },
                EpochEntry { epoch: 1, start_offset: 11 },
                EpochEntry { epoch: 3, start_offset: 20 },
            ]
        );
        for name in ["compressed-0", "idempotent-0", "transactions-0"] {
            let file =
                LeaderEpochCheckpointFile::new(io(), fixture(&format!("{name}/leader-epoch-checkpoint")));
            assert_eq!(file.read().unwrap(), vec![EpochEntry { epoch: 0, start_offset: 0 }], "{name}");
        }
    }

    #[test]
    fn tolerates_what_kafka_tolerates() {
        let p = Path::new("cp");
        // Runs of spaces or tabs between fields, CRLF line ends, a missing final newline, and an
        // empty file (Kafka creates checkpoint files empty).
        let parsed = parse_checkpoint::<OffsetCheckpointFormat>(p, b"0\r\n2\r\na   0\t5\r\nb 1 6").unwrap();
        assert_eq!(parsed, vec![(("a".to_string(), 0), 5), (("b".to_string(), 1), 6)]);
        assert!(parse_checkpoint::<OffsetCheckpointFormat>(p, b"").unwrap().is_empty());
        assert!(parse_checkpoint::<LeaderEpochCheckpointFormat>(p, b"0\n0\n").unwrap().is_empty());
    }

    #[test]
    fn malformed_files_are_corrupt() {
        let offsets_cases: &[(&str, &[u8])] = &[
            ("unknown version", b"1\n0\n"),
            ("version not a number", b"zero\n0\n"),
            ("version only", b"0\n"),
            ("count not a number", b"0\nmany\n"),
            ("negative count", b"0\n-1\n"),
            ("fewer entries than the count", b"0\n2\na 0 1\n"),
            ("more entries than the count", b"0\n1\na 0 1\nb 0 1\n"),
            ("too few fields", b"0\n1\na 0\n"),
            ("too many fields", b"0\n1\na 0 1 2\n"),
            ("partition not a number", b"0\n1\na x 1\n"),
            ("offset not a number", b"0\n1\na 0 1.5\n"),
            ("offset out of range", b"0\n1\na 0 99999999999999999999\n"),
            ("negative offset", b"0\n1\na 0 -1\n"),
            ("negative partition", b"0\n1\na -2 1\n"),
            ("blank line", b"0\n2\na 0 1\n\nb 0 1\n"),
            ("trailing blank line", b"0\n1\na 0 1\n\n"),
            ("not UTF-8", b"0\n1\n\xff 0 1\n"),
        ];
        for (what, bytes) in offsets_cases {
            assert_corrupt(parse_checkpoint::<OffsetCheckpointFormat>(Path::new("cp"), bytes), what);
        }
        let epoch_cases: &[(&str, &[u8])] = &[
            ("negative epoch", b"0\n1\n-1 0\n"),
            ("negative start offset", b"0\n1\n0 -5\n"),
            ("epoch out of range", b"0\n1\n4294967296 0\n"),
            ("three fields", b"0\n1\n0 0 0\n"),
            ("count mismatch", b"0\n3\n0 0\n1 11\n"),
        ];
        for (what, bytes) in epoch_cases {
            assert_corrupt(parse_checkpoint::<LeaderEpochCheckpointFormat>(Path::new("cp"), bytes), what);
        }
    }

    #[test]
    fn duplicate_partitions_are_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOG_START_OFFSET_CHECKPOINT);
        std::fs::write(&path, "0\n2\na 0 1\na 0 2\n").unwrap();
        assert_corrupt(OffsetCheckpointFile::new(io(), &path).read(), "duplicate");
    }

    #[test]
    fn corrupt_error_names_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LEADER_EPOCH_CHECKPOINT);
        std::fs::write(&path, "0\n1\n0 zero\n").unwrap();
        let err = LeaderEpochCheckpointFile::new(io(), &path).read().unwrap_err();
        let Error::Storage(StorageError::Corrupt { path: p, detail }) = err else { panic!("{err:?}") };
        assert_eq!(p, path);
        assert!(detail.contains("line 3") && detail.contains("start offset"), "{detail}");
    }

    #[test]
    fn leftover_tmp_file_is_ignored_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RECOVERY_POINT_CHECKPOINT);
        let tmp = dir.path().join(format!("{RECOVERY_POINT_CHECKPOINT}.tmp"));
        let file = OffsetCheckpointFile::new(io(), &path);
        let map = offsets(&[("t", 0, 10)]);
        file.write(&map).unwrap();
        // A crash between writing the .tmp and the rename leaves garbage behind.
        std::fs::write(&tmp, "garbage that is not a checkpoint, and long enough to need truncating\n")
            .unwrap();
        assert_eq!(file.read().unwrap(), map, "the .tmp is never read");
        // Only a .tmp and no checkpoint: still no entries.
        let other = OffsetCheckpointFile::new(io(), dir.path().join("other"));
        std::fs::write(dir.path().join("other.tmp"), "0\n1\nt 0 5\n").unwrap();
        assert!(other.read().unwrap().is_empty());
        let map2 = offsets(&[("t", 0, 11), ("u", 3, 0)]);
        file.write(&map2).unwrap();
        assert_eq!(file.read().unwrap(), map2);
        assert!(!tmp.exists(), "the write replaced and renamed the .tmp");
    }

    #[test]
    fn refuses_to_write_what_it_could_not_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RECOVERY_POINT_CHECKPOINT);
        let file = OffsetCheckpointFile::new(io(), &path);
        let good = offsets(&[("t", 0, 10)]);
        file.write(&good).unwrap();
        for bad in [offsets(&[("has space", 0, 1)]), offsets(&[("", 0, 1)])] {
            assert!(matches!(file.write(&bad), Err(Error::InvalidTopic { .. })));
        }
        for bad in [offsets(&[("t", -1, 1)]), offsets(&[("t", 0, -1)])] {
            assert!(matches!(file.write(&bad), Err(Error::InvalidRequest(_))));
        }
        let epochs = LeaderEpochCheckpointFile::new(io(), dir.path().join(LEADER_EPOCH_CHECKPOINT));
        let bad = [EpochEntry { epoch: -1, start_offset: 0 }];
        assert!(matches!(epochs.write(bad.iter()), Err(Error::InvalidRequest(_))));
        assert!(!dir.path().join(LEADER_EPOCH_CHECKPOINT).exists());
        assert_eq!(file.read().unwrap(), good, "a refused write leaves the checkpoint alone");
    }

    #[test]
    fn relative_bare_file_name_uses_the_current_directory() {
        assert_eq!(parent_dir(Path::new("checkpoint")), Path::new("."));
        assert_eq!(parent_dir(Path::new("/data/checkpoint")), Path::new("/data"));
    }
}
