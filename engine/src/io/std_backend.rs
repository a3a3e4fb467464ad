//! The portable backend: positioned `pread`/`pwrite` and `fdatasync` on `std::fs::File`.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{DirEntry, DirLock, FileType, IoBackend, IoFile, IoKind, MappedRegion, OpenMode, Permissions};

/// Backend on `std::fs` (pwrite/fdatasync).
#[derive(Debug, Clone, Default)]
pub struct StdBackend {
    permissions: Permissions,
}

impl StdBackend {
    /// A backend creating files and directories with the given permissions.
    pub fn new(permissions: Permissions) -> Self {
        StdBackend { permissions }
    }
}

/// Opens `path` the way every real-file backend does (shared with the io_uring backend).
pub(crate) fn open_std(path: &Path, mode: OpenMode, permissions: Permissions) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true).mode(permissions.file_mode).custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW);
    match mode {
        OpenMode::Read => {}
        OpenMode::ReadWrite => {
            o.write(true);
        }
        OpenMode::Create => {
            o.write(true).create(true);
        }
        OpenMode::CreateNew => {
            o.write(true).create_new(true);
        }
        OpenMode::Truncate => {
            o.write(true).create(true).truncate(true);
        }
    }
    o.open(path)
}

/// A file opened by [`StdBackend`].
#[derive(Debug)]
pub struct StdFile {
    file: File,
    path: PathBuf,
}

impl StdFile {
    /// Wraps an open file.
    pub(crate) fn new(file: File, path: PathBuf) -> Self {
        StdFile { file, path }
    }

    /// The underlying file.
    pub(crate) fn file(&self) -> &File {
        &self.file
    }
}

impl IoFile for StdFile {
    fn path(&self) -> &Path {
        &self.path
    }

    fn read_at(&self, buf: &mut [u8], pos: u64) -> io::Result<usize> {
        loop {
            match self.file.read_at(buf, pos) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }

    fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()> {
        // `write_all_at` retries short writes and EINTR.
        self.file.write_all_at(buf, pos)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn sync_all(&self) -> io::Result<()> {
        self.file.sync_all()
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    fn map(&self, len: usize) -> io::Result<Box<dyn MappedRegion>> {
        Ok(Box::new(crate::mmap::FileMap::map(&self.file, len)?))
    }

    fn raw_fd(&self) -> Option<i32> {
        Some(self.file.as_raw_fd())
    }
}

/// An exclusive `flock` on `<dir>/.lock`, released when dropped (the file descriptor closes).
#[derive(Debug)]
pub(crate) struct FlockGuard {
    _file: File,
}

impl DirLock for FlockGuard {}

pub(crate) fn lock_dir_std(dir: &Path, permissions: Permissions) -> io::Result<Box<dyn DirLock>> {
    let file = open_std(&dir.join(".lock"), OpenMode::Create, permissions)?;
    crate::mmap::flock_exclusive_nonblocking(&file)?;
    Ok(Box::new(FlockGuard { _file: file }))
}

pub(crate) fn metadata_std(path: &Path) -> io::Result<Option<FileType>> {
    match fs::symlink_metadata(path) {
        Ok(m) => Ok(Some(file_type(m.file_type()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn file_type(t: fs::FileType) -> FileType {
    if t.is_symlink() {
        FileType::Symlink
    } else if t.is_file() {
        FileType::File
    } else if t.is_dir() {
        FileType::Dir
    } else {
        FileType::Other
    }
}

pub(crate) fn read_dir_std(path: &Path) -> io::Result<Vec<DirEntry>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(path)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            // Names that are not UTF-8 can never be eoslog's own files.
            continue;
        };
        out.push(DirEntry { name, file_type: file_type(entry.file_type()?) });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

pub(crate) fn sync_dir_std(path: &Path) -> io::Result<()> {
    let dir = OpenOptions::new().read(true).custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC).open(path)?;
    dir.sync_all()
}

pub(crate) fn create_dir_all_std(path: &Path, permissions: Permissions) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().recursive(true).mode(permissions.dir_mode).create(path)
}

impl IoBackend for StdBackend {
    fn kind(&self) -> IoKind {
        IoKind::Std
    }

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn IoFile>> {
        let file = open_std(path, mode, self.permissions)?;
        Ok(Arc::new(StdFile::new(file, path.to_path_buf())))
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        create_dir_all_std(path, self.permissions)
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        fs::remove_dir(path)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        sync_dir_std(path)
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        read_dir_std(path)
    }

    fn metadata(&self, path: &Path) -> io::Result<Option<FileType>> {
        metadata_std(path)
    }

    fn lock_dir(&self, dir: &Path) -> io::Result<Box<dyn DirLock>> {
        lock_dir_std(dir, self.permissions)
    }

    fn sync_many(&self, files: &[Arc<dyn IoFile>]) -> Vec<io::Result<()>> {
        sync_many_threaded(files)
    }
}

/// Most threads one group-commit round uses for its fdatasyncs.
const MAX_SYNC_THREADS: usize = 16;

/// fdatasyncs of different files run in parallel in the kernel and on the device, but a
/// thread issues one at a time: syncing a round's files one after another made the round as
/// long as the sum of its fsyncs. A few scoped threads overlap them (the io_uring backend gets
/// the same effect by submitting them together). Results come back in input order.
pub(crate) fn sync_many_threaded(files: &[Arc<dyn IoFile>]) -> Vec<io::Result<()>> {
    if files.len() <= 1 {
        return files.iter().map(|f| f.sync_data()).collect();
    }
    let threads = files.len().min(MAX_SYNC_THREADS);
    let mut results: Vec<Option<io::Result<()>>> = (0..files.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (t..files.len()).step_by(threads).map(|i| (i, files[i].sync_data())).collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            // A panicking fsync thread cannot happen short of a bug; report it as a failed sync
            // for its files rather than trusting them.
            if let Ok(done) = h.join() {
                for (i, r) in done {
                    results[i] = Some(r);
                }
            }
        }
    });
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(io::Error::other("fdatasync thread failed"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_sync_and_map() {
        let dir = tempfile::tempdir().unwrap();
        let b = StdBackend::default();
        let p = dir.path().join("f");
        let f = b.open(&p, OpenMode::CreateNew).unwrap();
        f.write_all_at(b"hello", 0).unwrap();
        f.write_all_at_and_sync(b"world", 5).unwrap();
        let mut buf = [0u8; 10];
        f.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"helloworld");
        assert_eq!(f.len().unwrap(), 10);
        assert!(b.open(&p, OpenMode::CreateNew).is_err());
        f.set_len(16).unwrap();
        let mut m = f.map(16).unwrap();
        m.bytes_mut()[10..16].copy_from_slice(b"mapped");
        m.flush().unwrap();
        drop(m);
        let mut all = vec![0u8; 16];
        f.read_exact_at(&mut all, 0).unwrap();
        assert_eq!(&all, b"helloworldmapped");
        let results = b.sync_many(&[f.clone(), f]);
        assert!(results.iter().all(|r| r.is_ok()));
    }

    #[test]
    fn lock_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let b = StdBackend::default();
        let g = b.lock_dir(dir.path()).unwrap();
        let e = b.lock_dir(dir.path()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        drop(g);
        b.lock_dir(dir.path()).unwrap();
    }

    #[test]
    fn symlinks_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let b = StdBackend::default();
        let target = dir.path().join("target");
        fs::write(&target, b"x").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(b.open(&link, OpenMode::Read).is_err());
        assert_eq!(b.metadata(&link).unwrap(), Some(FileType::Symlink));
        assert_eq!(b.metadata(&dir.path().join("none")).unwrap(), None);
    }
}
