//! The file I/O seam.
//!
//! Every byte eoslog reads or writes goes through [`IoBackend`] and [`IoFile`], so the engine
//! never calls `std::fs` directly. Three backends implement the traits:
//!
//! - [`std_backend::StdBackend`]: `pwrite`/`pread`/`fdatasync`; always available;
//! - `uring::UringBackend` (Linux): the same files written through io_uring, with writes linked
//!   to `fdatasync` and many fsyncs submitted at once for group commit;
//! - `fault::FaultBackend` (tests and the `fault-injection` feature): an in-memory file system
//!   that can fail the Nth operation, tear writes and simulate power loss.
//!
//! Invariant shared by all backends: a call that returns `Ok` has done all of its work (a write
//! wrote every byte, a sync made everything written before it durable). Short writes are retried
//! inside the backend; an error means the operation's effect is unknown and the caller must treat
//! the file as failed (never retry an fsync and trust it).

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

// The fault-injecting backend is test support: compiled for this crate's unit tests and, through
// the `fault-injection` feature, for other crates' tests. `engine/Cargo.toml` has a dev-dependency
// of the crate on itself with that feature, so `engine/tests/` always see it under `cargo test`.
#[cfg(any(test, feature = "fault-injection"))]
pub mod fault;
pub mod std_backend;
#[cfg(target_os = "linux")]
pub mod uring;

/// Which backend an engine is using.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IoKind {
    /// Portable `pwrite`/`fdatasync`.
    Std,
    /// Linux io_uring.
    Uring,
    /// In-memory fault-injecting file system (tests).
    Fault,
}

impl IoKind {
    /// Lower-case name (`std`, `uring`, `fault`).
    pub fn as_str(self) -> &'static str {
        match self {
            IoKind::Std => "std",
            IoKind::Uring => "uring",
            IoKind::Fault => "fault",
        }
    }
}

impl fmt::Display for IoKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How to open a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Existing file, read only.
    Read,
    /// Existing file, read and write.
    ReadWrite,
    /// Create the file if it does not exist, read and write, keep existing contents.
    Create,
    /// Create a new file; fail with `AlreadyExists` if it exists.
    CreateNew,
    /// Create or truncate to zero length.
    Truncate,
}

/// Permissions applied to files and directories eoslog creates (Unix mode bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permissions {
    /// Mode for new files (default `0o644`, further restricted by the umask).
    pub file_mode: u32,
    /// Mode for new directories (default `0o755`, further restricted by the umask).
    pub dir_mode: u32,
}

impl Default for Permissions {
    fn default() -> Self {
        Permissions { file_mode: 0o644, dir_mode: 0o755 }
    }
}

/// One file opened through a backend. Positioned I/O only: there is no cursor, so a file can be
/// shared between threads (reads run concurrently with the single writer of a partition).
pub trait IoFile: Send + Sync + fmt::Debug {
    /// The path the file was opened with.
    fn path(&self) -> &Path;

    /// Reads up to `buf.len()` bytes at `pos`; returns how many were read (0 at end of file).
    fn read_at(&self, buf: &mut [u8], pos: u64) -> io::Result<usize>;

    /// Reads exactly `buf.len()` bytes at `pos` or fails with `UnexpectedEof`.
    fn read_exact_at(&self, mut buf: &mut [u8], mut pos: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read_at(buf, pos) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    buf = &mut buf[n..];
                    pos += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Writes all of `buf` at `pos`.
    fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()>;

    /// Writes all of `buf` at `pos`, then makes the file's data durable (`fdatasync`). io_uring
    /// submits both as one linked pair; other backends call them in turn.
    fn write_all_at_and_sync(&self, buf: &[u8], pos: u64) -> io::Result<()> {
        self.write_all_at(buf, pos)?;
        self.sync_data()
    }

    /// Makes the file's data (and the metadata needed to read it back, such as its length)
    /// durable: `fdatasync`.
    fn sync_data(&self) -> io::Result<()>;

    /// Makes data and all metadata durable: `fsync`.
    fn sync_all(&self) -> io::Result<()>;

    /// Current length in bytes.
    fn len(&self) -> io::Result<u64>;

    /// Whether the file is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Truncates or extends (with zeros) the file to `len` bytes.
    fn set_len(&self, len: u64) -> io::Result<()>;

    /// Maps the first `len` bytes of the file for reading and writing. The file must already be
    /// at least `len` bytes long. Writes through the map reach the file no later than
    /// [`MappedRegion::flush`]; they are durable only after `flush` returns.
    fn map(&self, len: usize) -> io::Result<Box<dyn MappedRegion>>;

    /// The OS file descriptor, where there is one (for `sendfile` by an embedder). `None` for
    /// in-memory backends.
    fn raw_fd(&self) -> Option<i32>;
}

/// A writable memory map of the start of a file (sparse indexes).
pub trait MappedRegion: Send + Sync + fmt::Debug {
    /// The mapped bytes.
    fn bytes(&self) -> &[u8];
    /// The mapped bytes, writable.
    fn bytes_mut(&mut self) -> &mut [u8];
    /// Writes dirty bytes back to the file and makes them durable (`msync(MS_SYNC)`).
    fn flush(&self) -> io::Result<()>;
}

/// A held lock on a directory; dropping it releases the lock.
pub trait DirLock: Send + Sync + fmt::Debug {}

/// The file-system operations eoslog needs.
pub trait IoBackend: Send + Sync + fmt::Debug {
    /// Which backend this is.
    fn kind(&self) -> IoKind;

    /// Opens (or creates) a file.
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn IoFile>>;

    /// Creates a directory and its parents (not fsynced: call [`IoBackend::sync_dir`] on the
    /// parent).
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;

    /// Removes an empty directory.
    fn remove_dir(&self, path: &Path) -> io::Result<()>;

    /// Removes a file.
    fn remove_file(&self, path: &Path) -> io::Result<()>;

    /// Atomically renames `from` to `to`, replacing `to` if it exists.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;

    /// Makes a directory's entries durable (creates, renames and removes inside it).
    fn sync_dir(&self, path: &Path) -> io::Result<()>;

    /// The entries of a directory.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>>;

    /// What is at `path` without following symlinks; `Ok(None)` if nothing is.
    fn metadata(&self, path: &Path) -> io::Result<Option<FileType>>;

    /// Takes an exclusive, process-wide lock on `dir` (a `.lock` file inside it). Fails with
    /// `WouldBlock` when someone else holds it.
    fn lock_dir(&self, dir: &Path) -> io::Result<Box<dyn DirLock>>;

    /// Makes the data of every file durable, as [`IoFile::sync_data`] would, and returns one
    /// result per file in the same order. Backends that can (io_uring) run them concurrently;
    /// this is what group commit calls.
    fn sync_many(&self, files: &[Arc<dyn IoFile>]) -> Vec<io::Result<()>> {
        files.iter().map(|f| f.sync_data()).collect()
    }
}

/// One entry of [`IoBackend::read_dir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// File name (no directory part).
    pub name: String,
    /// What kind of entry it is.
    pub file_type: FileType,
}

/// Kind of a directory entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    /// Regular file.
    File,
    /// Directory.
    Dir,
    /// Symbolic link (never followed by eoslog).
    Symlink,
    /// Anything else (socket, device, ...).
    Other,
}

/// The backend the user asked for: `io = auto | uring | std`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IoChoice {
    /// io_uring where a probe at open succeeds, else std.
    #[default]
    Auto,
    /// io_uring or fail.
    Uring,
    /// Portable std backend.
    Std,
}

impl IoChoice {
    /// Parses `auto`, `uring` (or `io_uring`) or `std`.
    pub fn parse(s: &str) -> Option<IoChoice> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(IoChoice::Auto),
            "uring" | "io_uring" | "io-uring" => Some(IoChoice::Uring),
            "std" | "pwrite" => Some(IoChoice::Std),
            _ => None,
        }
    }

    /// The choice from the `EOSLOG_IO` environment variable, if it is set and valid.
    pub fn from_env() -> Option<IoChoice> {
        std::env::var("EOSLOG_IO").ok().and_then(|v| IoChoice::parse(&v))
    }
}

/// Builds the backend for a choice. `Auto` probes io_uring once and falls back to std when the
/// kernel refuses it (ENOSYS, EPERM from seccomp or `io_uring_disabled`, EINVAL).
pub fn backend_for(choice: IoChoice, permissions: Permissions) -> io::Result<Arc<dyn IoBackend>> {
    match choice {
        IoChoice::Std => Ok(Arc::new(std_backend::StdBackend::new(permissions))),
        IoChoice::Uring => uring_backend(permissions),
        // Only "io_uring is not available here" falls back; resource errors (ENOMEM, EMFILE)
        // are real problems and are reported rather than hidden behind a slower backend.
        IoChoice::Auto => match uring_backend(permissions) {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == io::ErrorKind::Unsupported => {
                log::info!("io_uring unavailable ({e}); using the std backend");
                Ok(Arc::new(std_backend::StdBackend::new(permissions)))
            }
            Err(e) => Err(e),
        },
    }
}

#[cfg(target_os = "linux")]
fn uring_backend(permissions: Permissions) -> io::Result<Arc<dyn IoBackend>> {
    Ok(Arc::new(uring::UringBackend::probe(permissions)?))
}

#[cfg(not(target_os = "linux"))]
fn uring_backend(_permissions: Permissions) -> io::Result<Arc<dyn IoBackend>> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "io_uring is only available on Linux"))
}
