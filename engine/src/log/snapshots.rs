//! Producer-state snapshot files (`<offset>.snapshot`) of one partition directory.
//!
//! A snapshot named `N.snapshot` holds the producer state after every batch below offset `N`.
//! Snapshots are written whole to a temporary file, fsynced and renamed into place, so a crash
//! leaves either the old set or the new file complete. A snapshot that does not decode (short,
//! bad CRC, bad version) is deleted and the next older one is used (Kafka's fallback).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Result, StorageError};
use crate::io::{FileType, IoBackend, OpenMode};
use crate::producer::{SnapshotEntry, decode_snapshot, encode_snapshot};
use crate::segment::{file_stem, parse_stem};

/// Suffix of producer snapshot files.
pub const SNAPSHOT_SUFFIX: &str = ".snapshot";

/// The snapshot files of one partition directory.
#[derive(Debug, Clone)]
pub struct SnapshotFiles {
    dir: PathBuf,
    io: Arc<dyn IoBackend>,
}

impl SnapshotFiles {
    /// Snapshot files in `dir`.
    pub fn new(dir: &Path, io: Arc<dyn IoBackend>) -> Self {
        SnapshotFiles { dir: dir.to_path_buf(), io }
    }

    /// Path of the snapshot for `offset`.
    pub fn path(&self, offset: i64) -> PathBuf {
        self.dir.join(format!("{}{SNAPSHOT_SUFFIX}", file_stem(offset)))
    }

    /// Offsets of every snapshot file present.
    pub fn list(&self) -> Result<BTreeSet<i64>> {
        let entries = self.io.read_dir(&self.dir).map_err(|e| StorageError::io("read_dir", &self.dir, e))?;
        Ok(entries
            .iter()
            .filter(|e| e.file_type == FileType::File)
            .filter_map(|e| e.name.strip_suffix(SNAPSHOT_SUFFIX).and_then(parse_stem))
            .collect())
    }

    /// Writes the snapshot for `offset` durably (temp file, fsync, rename). The directory entry
    /// becomes durable with the next directory fsync (segment roll or close); until then a
    /// crash can only lose the newest snapshot, and recovery replays the log instead.
    pub fn write(&self, offset: i64, entries: &[SnapshotEntry]) -> Result<()> {
        let bytes = encode_snapshot(entries);
        let path = self.path(offset);
        let mut tmp = path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let f = self.io.open(&tmp, OpenMode::Truncate).map_err(|e| StorageError::io("create", &tmp, e))?;
        f.write_all_at(&bytes, 0).map_err(|e| StorageError::io("write", &tmp, e))?;
        f.sync_data().map_err(|e| StorageError::io("fdatasync", &tmp, e))?;
        drop(f);
        self.io.rename(&tmp, &path).map_err(|e| StorageError::io("rename", &tmp, e))?;
        Ok(())
    }

    /// Reads and decodes the snapshot for `offset`.
    pub fn read(&self, offset: i64) -> Result<Vec<SnapshotEntry>> {
        let path = self.path(offset);
        let f = self.io.open(&path, OpenMode::Read).map_err(|e| StorageError::io("open", &path, e))?;
        let len = f.len().map_err(|e| StorageError::io("stat", &path, e))?;
        // Snapshots hold 46 bytes per producer; anything beyond 1 GiB is not one of ours.
        if len > 1 << 30 {
            return Err(StorageError::Corrupt {
                path,
                detail: format!("snapshot of {len} bytes is implausible"),
            }
            .into());
        }
        let mut bytes = vec![0u8; len as usize];
        f.read_exact_at(&mut bytes, 0).map_err(|e| StorageError::io("read", &path, e))?;
        decode_snapshot(&bytes).map_err(|e| StorageError::Corrupt { path, detail: e.to_string() }.into())
    }

    /// The newest snapshot at or below `max_offset` that decodes. Corrupt ones on the way are
    /// deleted, as Kafka does, and reported in `discarded`.
    pub fn load_latest(
        &self,
        max_offset: i64,
        discarded: &mut Vec<String>,
    ) -> Result<Option<(i64, Vec<SnapshotEntry>)>> {
        self.load_latest_checked(max_offset, discarded, |_, _| Ok(()))
    }

    /// [`SnapshotFiles::load_latest`] where a snapshot must also pass `check(offset, entries)`
    /// (its agreement with the log it describes); one that fails it is discarded like a
    /// corrupt one.
    pub fn load_latest_checked(
        &self,
        max_offset: i64,
        discarded: &mut Vec<String>,
        check: impl Fn(i64, &[SnapshotEntry]) -> Result<()>,
    ) -> Result<Option<(i64, Vec<SnapshotEntry>)>> {
        let offsets = self.list()?;
        for &offset in offsets.range(..=max_offset).rev() {
            match self.read(offset).and_then(|entries| check(offset, &entries).map(|()| entries)) {
                Ok(entries) => return Ok(Some((offset, entries))),
                Err(e) => {
                    log::warn!("discarding producer snapshot {}: {e}", self.path(offset).display());
                    discarded.push(e.to_string());
                    self.delete(offset)?;
                }
            }
        }
        Ok(None)
    }

    /// Deletes the snapshot for `offset` if it exists.
    pub fn delete(&self, offset: i64) -> Result<()> {
        let path = self.path(offset);
        match self.io.remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StorageError::io("remove", &path, e).into()),
        }
    }

    /// Deletes every snapshot strictly above `offset` (truncation).
    pub fn delete_above(&self, offset: i64) -> Result<()> {
        for o in self.list()?.range(offset + 1..) {
            self.delete(*o)?;
        }
        Ok(())
    }

    /// Deletes every snapshot strictly below `offset` (retention).
    pub fn delete_below(&self, offset: i64) -> Result<()> {
        for o in self.list()?.range(..offset) {
            self.delete(*o)?;
        }
        Ok(())
    }
}
