//! Decoding every file of a partition directory for display (Kafka's `kafka-dump-log`).
//!
//! Everything here reads whole files with plain reads and never writes, creates, maps or locks
//! anything, so it is safe on a directory another process has open.

use std::path::{Path, PathBuf};

use crate::batch::{self, ControlType, Frame, RecordBatch};
use crate::config::TimestampType;
use crate::error::{Result, StorageError};
use crate::producer::{SnapshotEntry, decode_snapshot};
use crate::segment::AbortedTxn;

/// Largest file `dump` reads into memory (segments are at most 2 GiB).
const MAX_FILE: u64 = 2 << 30;

/// Reads a whole file without modifying anything.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| StorageError::io("stat", path, e))?;
    if !meta.is_file() {
        return Err(
            StorageError::Corrupt { path: path.to_path_buf(), detail: "not a regular file".into() }.into()
        );
    }
    if meta.len() > MAX_FILE {
        return Err(StorageError::Corrupt {
            path: path.to_path_buf(),
            detail: format!("{} bytes is larger than any eoslog file", meta.len()),
        }
        .into());
    }
    std::fs::read(path).map_err(|e| StorageError::io("read", path, e).into())
}

/// One record of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpedRecord {
    /// Absolute offset.
    pub offset: i64,
    /// Timestamp as a consumer sees it.
    pub timestamp: i64,
    /// Timestamp relative to the batch's base timestamp, as stored.
    pub timestamp_delta: i64,
    /// Key.
    pub key: Option<Vec<u8>>,
    /// Value.
    pub value: Option<Vec<u8>>,
    /// Headers.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// A batch header, as `kafka-dump-log` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpedBatch {
    /// Byte position in the `.log` file.
    pub position: u64,
    /// Size in bytes.
    pub size: usize,
    /// First offset.
    pub base_offset: i64,
    /// Last offset.
    pub last_offset: i64,
    /// Records declared.
    pub count: i32,
    /// Leader epoch stamped by the leader.
    pub partition_leader_epoch: i32,
    /// Magic byte.
    pub magic: i8,
    /// The raw attributes field (codec, timestamp type, transactional, control and
    /// delete-horizon bits).
    pub attributes: i16,
    /// Stored CRC.
    pub crc: u32,
    /// Whether the CRC matches.
    pub crc_valid: bool,
    /// Compression codec name (or `unknown(n)`).
    pub compression: String,
    /// CreateTime or LogAppendTime.
    pub timestamp_type: TimestampType,
    /// Transactional flag.
    pub is_transactional: bool,
    /// Control flag.
    pub is_control: bool,
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i16,
    /// Base sequence.
    pub base_sequence: i32,
    /// Last sequence.
    pub last_sequence: i32,
    /// Base timestamp.
    pub base_timestamp: i64,
    /// Max timestamp.
    pub max_timestamp: i64,
    /// For COMMIT/ABORT markers: the type and coordinator epoch.
    pub marker: Option<(String, i32)>,
    /// Records, when asked for (`deep`).
    pub records: Option<Vec<DumpedRecord>>,
    /// Why the batch or its records are invalid, if they are.
    pub error: Option<String>,
}

/// The contents of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DumpedFile {
    /// A `.log` segment.
    Log {
        /// Batches in order.
        batches: Vec<DumpedBatch>,
        /// Bytes after the last whole batch (a torn tail), with the reason.
        trailing: Option<(u64, String)>,
    },
    /// An `.index` file: (offset, position).
    OffsetIndex {
        /// Base offset from the file name.
        base_offset: i64,
        /// Entries.
        entries: Vec<(i64, u32)>,
        /// Bytes that do not form a whole entry.
        trailing_bytes: usize,
    },
    /// A `.timeindex` file: (timestamp, offset).
    TimeIndex {
        /// Base offset from the file name.
        base_offset: i64,
        /// Entries.
        entries: Vec<(i64, i64)>,
        /// Bytes that do not form a whole entry.
        trailing_bytes: usize,
    },
    /// A `.txnindex` file.
    TxnIndex {
        /// Entries.
        entries: Vec<AbortedTxn>,
        /// Why the rest of the file could not be read, if it could not.
        error: Option<String>,
    },
    /// A producer `.snapshot`.
    Snapshot {
        /// Offset from the file name.
        offset: i64,
        /// Entries (or the decode error).
        entries: std::result::Result<Vec<SnapshotEntry>, String>,
    },
    /// A checkpoint or other text file.
    Text {
        /// The contents.
        text: String,
    },
}

fn base_offset_of(path: &Path) -> i64 {
    path.file_stem().and_then(|s| s.to_str()).and_then(crate::segment::parse_stem).unwrap_or(0)
}

/// Decodes a file by its suffix (`.log`, `.index`, `.timeindex`, `.txnindex`, `.snapshot`;
/// anything else is shown as text).
pub fn dump_file(path: &Path, deep: bool) -> Result<DumpedFile> {
    let bytes = read_file(path)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    Ok(if name.ends_with(".log") {
        dump_log(&bytes, deep)
    } else if name.ends_with(".index") {
        let (entries, trailing_bytes) = fixed_entries(&bytes, 8, |e| {
            let base = base_offset_of(path);
            (
                base + i32::from_be_bytes(e[0..4].try_into().expect("4")) as i64,
                u32::from_be_bytes(e[4..8].try_into().expect("4")),
            )
        });
        DumpedFile::OffsetIndex { base_offset: base_offset_of(path), entries, trailing_bytes }
    } else if name.ends_with(".timeindex") {
        let (entries, trailing_bytes) = fixed_entries(&bytes, 12, |e| {
            let base = base_offset_of(path);
            (
                i64::from_be_bytes(e[0..8].try_into().expect("8")),
                base + i32::from_be_bytes(e[8..12].try_into().expect("4")) as i64,
            )
        });
        DumpedFile::TimeIndex { base_offset: base_offset_of(path), entries, trailing_bytes }
    } else if name.ends_with(".txnindex") {
        let mut entries = Vec::new();
        let mut error = None;
        for chunk in bytes.chunks(AbortedTxn::SIZE) {
            let Ok(arr) = <&[u8; AbortedTxn::SIZE]>::try_from(chunk) else {
                error = Some(format!("{} trailing bytes", chunk.len()));
                break;
            };
            match AbortedTxn::from_bytes(arr) {
                Ok(t) => entries.push(t),
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        DumpedFile::TxnIndex { entries, error }
    } else if name.ends_with(".snapshot") {
        DumpedFile::Snapshot {
            offset: base_offset_of(path),
            entries: decode_snapshot(&bytes).map_err(|e| e.to_string()),
        }
    } else {
        DumpedFile::Text { text: String::from_utf8_lossy(&bytes).into_owned() }
    })
}

/// Entries of a fixed-size index; trailing bytes that do not make an entry are counted.
/// All-zero entries at the end are the unused part of a preallocated index (left by a crash
/// before the index was trimmed) and are dropped: Kafka never indexes the first batch of a
/// segment, so a real entry is never all zeros.
fn fixed_entries<T>(bytes: &[u8], size: usize, f: impl Fn(&[u8]) -> T) -> (Vec<T>, usize) {
    let whole = bytes.len() / size * size;
    let mut end = whole;
    while end >= size && bytes[end - size..end].iter().all(|b| *b == 0) {
        end -= size;
    }
    (bytes[..end].chunks_exact(size).map(f).collect(), bytes.len() - whole)
}

/// Decodes a `.log` file's batches.
pub fn dump_log(bytes: &[u8], deep: bool) -> DumpedFile {
    let mut batches = Vec::new();
    let mut pos = 0usize;
    let mut trailing = None;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        let size = match batch::frame(rest) {
            Frame::Complete(n) => n,
            Frame::Incomplete { needed } => {
                trailing =
                    Some(((bytes.len() - pos) as u64, format!("incomplete batch: {needed} bytes needed")));
                break;
            }
            Frame::Invalid(e) => {
                trailing = Some(((bytes.len() - pos) as u64, e.to_string()));
                break;
            }
        };
        match RecordBatch::parse(&rest[..size]) {
            Ok(b) => batches.push(describe_batch(&b, pos as u64, deep)),
            Err(e) => {
                trailing = Some(((bytes.len() - pos) as u64, e.to_string()));
                break;
            }
        }
        pos += size;
    }
    DumpedFile::Log { batches, trailing }
}

/// Describes one batch.
pub fn describe_batch(b: &RecordBatch<'_>, position: u64, deep: bool) -> DumpedBatch {
    let mut error = b.validate().err().map(|e| e.to_string());
    let marker = if b.is_control() {
        match b.control_record() {
            Ok(Some(c)) => {
                let epoch = if c.value.len() >= 6 {
                    i32::from_be_bytes(c.value[2..6].try_into().expect("4"))
                } else {
                    -1
                };
                let name = match c.control_type {
                    ControlType::Commit => "COMMIT".to_string(),
                    ControlType::Abort => "ABORT".to_string(),
                    ControlType::Other(t) => format!("TYPE({t})"),
                };
                Some((name, epoch))
            }
            Ok(None) => None,
            Err(e) => {
                error.get_or_insert(e.to_string());
                None
            }
        }
    } else {
        None
    };
    let records = deep.then(|| match b.records() {
        Ok(rs) => rs
            .iter()
            .map_while(|r| match r {
                Ok(r) => Some(DumpedRecord {
                    offset: r.offset,
                    timestamp: r.timestamp,
                    timestamp_delta: r.timestamp_delta,
                    key: r.key.map(<[u8]>::to_vec),
                    value: r.value.map(<[u8]>::to_vec),
                    headers: r
                        .headers
                        .iter()
                        .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                        .collect(),
                }),
                Err(e) => {
                    error.get_or_insert(e.to_string());
                    None
                }
            })
            .collect(),
        Err(e) => {
            error.get_or_insert(e.to_string());
            Vec::new()
        }
    });
    DumpedBatch {
        position,
        size: b.size(),
        base_offset: b.base_offset(),
        last_offset: b.last_offset(),
        count: b.records_count(),
        partition_leader_epoch: b.partition_leader_epoch(),
        magic: b.magic(),
        attributes: b.attributes().0,
        crc: b.crc(),
        crc_valid: b.is_crc_valid(),
        compression: match b.compression() {
            Ok(c) => c.name().to_string(),
            Err(_) => format!("unknown({})", b.attributes().0 & 7),
        },
        timestamp_type: b.timestamp_type(),
        is_transactional: b.is_transactional(),
        is_control: b.is_control(),
        producer_id: b.producer_id(),
        producer_epoch: b.producer_epoch(),
        base_sequence: b.base_sequence(),
        last_sequence: b.last_sequence(),
        base_timestamp: b.base_timestamp(),
        max_timestamp: b.max_timestamp(),
        marker,
        records,
        error,
    }
}

/// The files of a partition directory in the order `kafka-dump-log` users expect: per segment,
/// `.log`, `.index`, `.timeindex`, `.txnindex`, then snapshots, then everything else.
pub fn partition_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| StorageError::io("read_dir", dir, e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .map(|e| e.path())
        .collect();
    let rank = |p: &PathBuf| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let order = [".log", ".index", ".timeindex", ".txnindex", ".snapshot"]
            .iter()
            .position(|s| name.ends_with(s))
            .unwrap_or(5);
        let stem =
            p.file_stem().and_then(|s| s.to_str()).and_then(crate::segment::parse_stem).unwrap_or(i64::MAX);
        (order == 4, order == 5, stem, order, name)
    };
    files.sort_by_key(rank);
    Ok(files)
}
