//! The io_uring backend (Linux).
//!
//! Files are the same `std::fs::File`s the std backend opens (`open_std`), so both backends
//! produce byte-identical files. Only the operations that gain from io_uring go through a ring:
//!
//! - [`IoFile::write_all_at`]: `IORING_OP_WRITE`, resubmitting the remainder of short writes;
//! - [`IoFile::sync_data`] / [`IoFile::sync_all`]: `IORING_OP_FSYNC` (with / without `DATASYNC`);
//! - [`IoFile::write_all_at_and_sync`]: one submission of a write linked (`IOSQE_IO_LINK`) to an
//!   `fdatasync`, so the append and its flush cost a single `io_uring_enter`;
//! - [`IoBackend::sync_many`]: every `fdatasync` of a group commit submitted at once and waited
//!   for with one `io_uring_enter`, so the device sees them concurrently.
//!
//! Reads, `len`, `set_len`, `map` and directory operations use the same std calls as the std
//! backend: they are served from the page cache, and a ring round trip would only add latency.
//!
//! # Rings
//!
//! Each thread lazily creates its own ring (depth [`QUEUE_DEPTH`]) on first use, so submitters
//! never contend on a lock and a ring never has more than one submitter. Every operation waits
//! for all of its completions before it returns — the ring is empty between calls, which is what
//! makes borrowing the caller's buffer sound. If a thread cannot create a ring (for example
//! `EMFILE`, or `ENOMEM` from `RLIMIT_MEMLOCK` on kernels before 5.12), its operations fall back
//! to the equivalent std system call, which has the same effect.
//!
//! # Short writes and links
//!
//! A short write breaks an `IOSQE_IO_LINK` chain: the linked fsync completes with `-ECANCELED`.
//! The remainder is then written, again linked to a fresh fsync, until every byte is written and
//! an fsync issued after the last byte has succeeded. A failed fsync is never retried.

use std::cell::RefCell;
use std::fs::File;
use std::io;
use std::os::unix::io::{AsRawFd, RawFd};
use std::path::Path;
use std::sync::Arc;

use io_uring::{IoUring, Probe, opcode, squeue, types};
use parking_lot::Mutex;

use super::std_backend::{
    StdFile, create_dir_all_std, lock_dir_std, metadata_std, open_std, read_dir_std, sync_dir_std,
};
use super::{DirEntry, DirLock, FileType, IoBackend, IoFile, IoKind, MappedRegion, OpenMode, Permissions};

/// Submission-queue depth of each thread's ring. [`IoBackend::sync_many`] with more files than
/// this submits them in chunks of this size.
pub const QUEUE_DEPTH: u32 = 64;

/// Largest single write submission. The kernel caps one write at just under 2 GiB anyway; larger
/// buffers are written in pieces of this size.
const MAX_WRITE: usize = 1 << 30;

/// Backend writing and syncing through io_uring (see the module documentation).
#[derive(Debug, Clone)]
pub struct UringBackend {
    permissions: Permissions,
}

impl UringBackend {
    /// Checks once per process that io_uring works here (a ring can be built, `Write` and `Fsync`
    /// are supported, a no-op round trip completes) and returns the backend.
    ///
    /// Fails with [`io::ErrorKind::Unsupported`] when the kernel refuses io_uring (`ENOSYS`: no
    /// support; `EPERM`: seccomp or `kernel.io_uring_disabled`; `EINVAL`: kernel too old) or lacks
    /// an opcode; that answer is cached for the life of the process. Resource errors (`ENOMEM`,
    /// `EMFILE`, ...) are returned as they are and not cached, so a later call probes again.
    pub fn probe(permissions: Permissions) -> io::Result<Self> {
        probe_cached()?;
        Ok(UringBackend { permissions })
    }
}

/// Why io_uring is unusable in this process (a cached, definitive probe answer).
#[derive(Debug, Clone)]
struct Unavailable(String);

impl Unavailable {
    fn to_error(&self) -> io::Error {
        io::Error::new(io::ErrorKind::Unsupported, format!("io_uring unavailable: {}", self.0))
    }
}

/// The definitive probe answer, once known. A mutex rather than a `OnceLock` because resource
/// errors must not be cached, and the lock keeps two threads from probing at the same time.
static PROBE: Mutex<Option<Result<(), Unavailable>>> = Mutex::new(None);

/// How many probes actually ran (tests check the cache).
#[cfg(test)]
static PROBES_RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn probe_cached() -> io::Result<()> {
    let mut cached = PROBE.lock();
    if let Some(answer) = cached.as_ref() {
        return answer.clone().map_err(|u| u.to_error());
    }
    #[cfg(test)]
    PROBES_RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    match run_probe() {
        Ok(()) => {
            *cached = Some(Ok(()));
            Ok(())
        }
        Err(ProbeError::Unavailable(u)) => {
            let e = u.to_error();
            *cached = Some(Err(u));
            Err(e)
        }
        Err(ProbeError::Transient(e)) => Err(e),
    }
}

enum ProbeError {
    Unavailable(Unavailable),
    Transient(io::Error),
}

/// Sorts a setup error: "the kernel says no" is final, anything else may pass.
fn classify_probe_error(step: &str, e: io::Error) -> ProbeError {
    match e.raw_os_error() {
        Some(libc::ENOSYS | libc::EPERM | libc::EINVAL | libc::EOPNOTSUPP) => {
            ProbeError::Unavailable(Unavailable(format!("{step}: {e}")))
        }
        _ => ProbeError::Transient(e),
    }
}

fn run_probe() -> Result<(), ProbeError> {
    let mut ring = IoUring::new(QUEUE_DEPTH).map_err(|e| classify_probe_error("io_uring_setup", e))?;
    let mut probe = Probe::new();
    ring.submitter().register_probe(&mut probe).map_err(|e| classify_probe_error("register_probe", e))?;
    for (name, code) in [("WRITE", opcode::Write::CODE), ("FSYNC", opcode::Fsync::CODE)] {
        if !probe.is_supported(code) {
            return Err(ProbeError::Unavailable(Unavailable(format!("opcode {name} not supported"))));
        }
    }
    let nop = opcode::Nop::new().build().user_data(0);
    let mut res = [0i32; 1];
    // SAFETY: a no-op references no memory and no file descriptor.
    unsafe { submit_and_reap(&mut ring, &[nop], &mut res) }
        .map_err(|e| classify_probe_error("io_uring_enter", e))?;
    if res[0] < 0 {
        return Err(classify_probe_error("nop", io::Error::from_raw_os_error(-res[0])));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Rings

/// One thread's ring. `broken` is set when the ring may hold submission entries the kernel never
/// consumed; such a ring is discarded so those entries can never be submitted later.
struct Ring {
    uring: IoUring,
    broken: bool,
}

thread_local! {
    static RING: RefCell<Option<Ring>> = const { RefCell::new(None) };
}

/// Runs `op` on this thread's ring, creating it on first use. If no ring can be had (creation
/// failed, or the thread-local is being destroyed), runs `fallback` — the equivalent std call.
fn on_ring<R>(
    op: impl FnOnce(&mut Ring) -> io::Result<R>,
    fallback: impl FnOnce() -> io::Result<R>,
) -> io::Result<R> {
    let mut op = Some(op);
    let outcome = RING.try_with(|cell| {
        // `op` never calls back into `on_ring`, so the cell is never borrowed here; the check is
        // belt and braces.
        let mut slot = cell.try_borrow_mut().ok()?;
        if slot.is_none() {
            match IoUring::new(QUEUE_DEPTH) {
                Ok(uring) => *slot = Some(Ring { uring, broken: false }),
                Err(e) => {
                    log::warn!("cannot create an io_uring for this thread ({e}); using std system calls");
                    return None;
                }
            }
        }
        let ring = slot.as_mut()?;
        let result = (op.take()?)(ring);
        if ring.broken {
            *slot = None;
        }
        Some(result)
    });
    match outcome {
        Ok(Some(result)) => result,
        _ => fallback(),
    }
}

impl Ring {
    /// Submits `entries` (each with `user_data` = its index) and waits for all their completions,
    /// storing each result in `results[user_data]`.
    ///
    /// # Safety
    ///
    /// Every buffer and file descriptor an entry refers to must stay valid until this returns.
    /// This function upholds its side: it returns only once every entry has completed.
    unsafe fn run(&mut self, entries: &[squeue::Entry], results: &mut [i32]) -> io::Result<()> {
        // SAFETY: forwarded to our caller (see above).
        let r = unsafe { submit_and_reap(&mut self.uring, entries, results) };
        if r.is_err() {
            // `submit_and_reap` only fails when nothing is in flight; entries the kernel never
            // consumed may still sit in the submission queue, so this ring must go.
            self.broken = true;
        }
        r
    }
}

/// Pushes `entries`, submits them and reaps exactly as many completions. Retries `EINTR`,
/// `EAGAIN` and `EBUSY` from `io_uring_enter`.
///
/// Returns an error only when none of the entries is in flight (the kernel consumed none, or all
/// consumed ones completed); entries may then remain unsubmitted in the ring. If `io_uring_enter`
/// fails for good while entries are in flight, the kernel may still read the caller's buffers
/// after any return, so the process aborts instead — this needs a kernel or ring-state bug, since
/// a ring that is empty between calls and never has more than its depth in flight cannot
/// overflow its completion queue.
///
/// # Safety
///
/// As for [`Ring::run`].
unsafe fn submit_and_reap(
    ring: &mut IoUring,
    entries: &[squeue::Entry],
    results: &mut [i32],
) -> io::Result<()> {
    debug_assert_eq!(entries.len(), results.len());
    // SAFETY: the caller keeps every buffer and fd valid until we return, and we return only
    // after every pushed entry completed (or, on the error paths below, was never consumed).
    unsafe { ring.submission().push_multiple(entries) }
        .map_err(|_| io::Error::other("io_uring submission queue full"))?;
    let mut owed = entries.len();
    while owed > 0 {
        if let Err(e) = ring.submit_and_wait(owed)
            && !matches!(e.raw_os_error(), Some(libc::EINTR | libc::EAGAIN | libc::EBUSY))
        {
            reap(ring, results, &mut owed);
            // Entries still in the submission queue were never seen by the kernel.
            if owed == ring.submission().len() {
                return Err(e);
            }
            log::error!("io_uring_enter failed with {owed} operations in flight ({e}); aborting");
            std::process::abort();
        }
        reap(ring, results, &mut owed);
    }
    Ok(())
}

/// Moves available completions into `results`, counting them off `owed`.
fn reap(ring: &mut IoUring, results: &mut [i32], owed: &mut usize) {
    for cqe in ring.completion() {
        match results.get_mut(cqe.user_data() as usize) {
            Some(slot) => {
                *slot = cqe.result();
                *owed = owed.saturating_sub(1);
            }
            None => debug_assert!(false, "completion with unknown user_data {}", cqe.user_data()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Single-ring operations (one submission each; the loops live in the pure functions below)

fn write_entry(fd: RawFd, buf: &[u8], pos: u64) -> squeue::Entry {
    debug_assert!(buf.len() <= MAX_WRITE);
    opcode::Write::new(types::Fd(fd), buf.as_ptr(), buf.len() as u32).offset(pos).build()
}

fn fsync_entry(fd: RawFd, data_only: bool) -> squeue::Entry {
    let flags = if data_only { types::FsyncFlags::DATASYNC } else { types::FsyncFlags::empty() };
    opcode::Fsync::new(types::Fd(fd)).flags(flags).build()
}

/// One write; returns the raw completion result.
fn ring_write(ring: &mut Ring, file: &File, buf: &[u8], pos: u64) -> io::Result<i32> {
    let entries = [write_entry(file.as_raw_fd(), buf, pos).user_data(0)];
    let mut res = [0i32; 1];
    // SAFETY: `buf` is borrowed for this whole call and `run` returns only after the write has
    // completed, so the kernel never reads it after we return; the fd belongs to `file`, which is
    // borrowed (hence open) for the whole call.
    unsafe { ring.run(&entries, &mut res) }?;
    Ok(res[0])
}

/// One write linked to an fdatasync; returns both raw completion results.
fn ring_write_linked_sync(ring: &mut Ring, file: &File, buf: &[u8], pos: u64) -> io::Result<(i32, i32)> {
    let fd = file.as_raw_fd();
    let entries = [
        write_entry(fd, buf, pos).flags(squeue::Flags::IO_LINK).user_data(0),
        fsync_entry(fd, true).user_data(1),
    ];
    let mut res = [0i32; 2];
    // SAFETY: as in `ring_write`: both entries complete (the fsync possibly as cancelled) before
    // `run` returns, while `buf` and `file` are still borrowed.
    unsafe { ring.run(&entries, &mut res) }?;
    Ok((res[0], res[1]))
}

/// One fsync; returns the raw completion result.
fn ring_fsync(ring: &mut Ring, file: &File, data_only: bool) -> io::Result<i32> {
    let entries = [fsync_entry(file.as_raw_fd(), data_only).user_data(0)];
    let mut res = [0i32; 1];
    // SAFETY: an fsync references no memory; the fd belongs to `file`, borrowed for the call.
    unsafe { ring.run(&entries, &mut res) }?;
    Ok(res[0])
}

/// fdatasyncs of up to [`QUEUE_DEPTH`] descriptors in one submission; one raw result each.
///
/// The caller must keep every descriptor open for the call (it holds the files).
fn ring_fsync_batch(ring: &mut Ring, fds: &[RawFd]) -> io::Result<Vec<i32>> {
    let entries: Vec<squeue::Entry> =
        fds.iter().enumerate().map(|(i, &fd)| fsync_entry(fd, true).user_data(i as u64)).collect();
    let mut res = vec![0i32; fds.len()];
    // SAFETY: fsyncs reference no memory; the caller holds the files owning the descriptors
    // until this returns, and `run` returns only after every fsync completed.
    unsafe { ring.run(&entries, &mut res) }?;
    Ok(res)
}

// ---------------------------------------------------------------------------------------------
// The retry logic, as pure functions over "submit this and tell me the raw result", so that
// short writes and cancelled links can be tested without a misbehaving kernel.

/// What a raw write completion means for the loop.
#[derive(Debug, PartialEq, Eq)]
enum WriteOutcome {
    /// This many bytes were written (at least one).
    Wrote(usize),
    /// Transient (`EINTR`, `EAGAIN`): submit the same bytes again.
    Retry,
}

fn write_outcome(res: i32) -> io::Result<WriteOutcome> {
    match res {
        n if n > 0 => Ok(WriteOutcome::Wrote(n as usize)),
        0 => Err(io::Error::new(io::ErrorKind::WriteZero, "io_uring write made no progress")),
        e if -e == libc::EINTR || -e == libc::EAGAIN => Ok(WriteOutcome::Retry),
        e => Err(io::Error::from_raw_os_error(-e)),
    }
}

fn fsync_result(res: i32) -> io::Result<()> {
    if res < 0 { Err(io::Error::from_raw_os_error(-res)) } else { Ok(()) }
}

/// Writes all of `buf` at `pos` through `write` (one submission per call, returning the raw
/// completion result), resubmitting whatever a short write left over.
fn write_all_with(
    mut buf: &[u8],
    mut pos: u64,
    mut write: impl FnMut(&[u8], u64) -> io::Result<i32>,
) -> io::Result<()> {
    while !buf.is_empty() {
        let piece = &buf[..buf.len().min(MAX_WRITE)];
        if let WriteOutcome::Wrote(n) = write_outcome(write(piece, pos)?)? {
            let n = n.min(piece.len());
            buf = &buf[n..];
            pos += n as u64;
        }
    }
    Ok(())
}

/// Writes all of `buf` at `pos` and fdatasyncs after the last byte. `pair` submits a write linked
/// to an fdatasync and returns both raw results; `write` submits a lone write; `sync` submits a
/// lone fdatasync.
///
/// Loop invariant: everything before `pos` has been written. The call succeeds only on an fsync
/// that was issued after the last byte was written and returned 0.
fn write_all_and_sync_with(
    buf: &[u8],
    pos: u64,
    mut pair: impl FnMut(&[u8], u64) -> io::Result<(i32, i32)>,
    write: impl FnMut(&[u8], u64) -> io::Result<i32>,
    mut sync: impl FnMut() -> io::Result<i32>,
) -> io::Result<()> {
    // Anything beyond one submission's worth is written first, so that the tail fits in one
    // linked pair.
    let head_len = buf.len().saturating_sub(MAX_WRITE);
    write_all_with(&buf[..head_len], pos, write)?;
    let mut rest = &buf[head_len..];
    let mut pos = pos + head_len as u64;
    if rest.is_empty() {
        return fsync_result(sync()?);
    }
    loop {
        let (w, s) = pair(rest, pos)?;
        if let WriteOutcome::Wrote(n) = write_outcome(w)? {
            let n = n.min(rest.len());
            rest = &rest[n..];
            pos += n as u64;
        }
        match (rest.is_empty(), s) {
            // The linked fsync ran after the last byte.
            (true, s) if s != -libc::ECANCELED => return fsync_result(s),
            // Complete, but the fsync was cancelled (cannot normally happen): issue a fresh one.
            (true, _) => return fsync_result(sync()?),
            // Short write: the link broke and the fsync was cancelled, or it ran on a prefix.
            // Either way a fresh fsync follows the remainder. A real fsync error is final.
            (false, s) if s < 0 && s != -libc::ECANCELED => return fsync_result(s),
            (false, _) => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The backend

/// A file of the io_uring backend: an ordinary [`StdFile`] whose writes and syncs go through the
/// calling thread's ring.
#[derive(Debug)]
struct UringFile {
    inner: StdFile,
}

impl UringFile {
    fn file(&self) -> &File {
        self.inner.file()
    }

    fn fsync(&self, data_only: bool) -> io::Result<()> {
        let file = self.file();
        on_ring(
            |ring| fsync_result(ring_fsync(ring, file, data_only)?),
            || if data_only { file.sync_data() } else { file.sync_all() },
        )
    }
}

impl IoFile for UringFile {
    fn path(&self) -> &Path {
        self.inner.path()
    }

    fn read_at(&self, buf: &mut [u8], pos: u64) -> io::Result<usize> {
        self.inner.read_at(buf, pos)
    }

    /// A plain buffered write completes in the page cache, so it goes straight to `pwrite`:
    /// through the ring it became a blocking round trip via an io-wq worker thread (measured
    /// ~42 µs and 1.4–5× the CPU of `pwrite` per append) for no gain. The ring is used where it
    /// pays: a write linked to its fdatasync, and many fdatasyncs submitted at once.
    fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()> {
        self.inner.write_all_at(buf, pos)
    }

    fn write_all_at_and_sync(&self, buf: &[u8], pos: u64) -> io::Result<()> {
        let file = self.file();
        on_ring(
            |ring| {
                // The three closures all need the ring, one at a time; a RefCell lends it out.
                let ring = RefCell::new(ring);
                write_all_and_sync_with(
                    buf,
                    pos,
                    |b, p| ring_write_linked_sync(&mut ring.borrow_mut(), file, b, p),
                    |b, p| ring_write(&mut ring.borrow_mut(), file, b, p),
                    || ring_fsync(&mut ring.borrow_mut(), file, true),
                )
            },
            || {
                self.inner.write_all_at(buf, pos)?;
                file.sync_data()
            },
        )
    }

    fn sync_data(&self) -> io::Result<()> {
        self.fsync(true)
    }

    fn sync_all(&self) -> io::Result<()> {
        self.fsync(false)
    }

    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }

    fn map(&self, len: usize) -> io::Result<Box<dyn MappedRegion>> {
        self.inner.map(len)
    }

    fn raw_fd(&self) -> Option<i32> {
        self.inner.raw_fd()
    }
}

/// A copy of an I/O error for every file of a failed batch (`io::Error` is not `Clone`).
fn copy_error(e: &io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(e.kind(), e.to_string()),
    }
}

/// fdatasyncs `fds` (one chunk of a `sync_many`) on this thread's ring; one result per fd.
fn sync_chunk(fds: &[RawFd]) -> Vec<io::Result<()>> {
    let results = on_ring(
        |ring| ring_fsync_batch(ring, fds),
        || {
            // No ring on this thread: the same fdatasyncs, one after another.
            // SAFETY: `fdatasync` takes no memory; the caller holds the files owning `fds`.
            Ok(fds.iter().map(|&fd| if unsafe { libc::fdatasync(fd) } == 0 { 0 } else { -errno() }).collect())
        },
    );
    match results {
        Ok(raw) => raw.into_iter().map(fsync_result).collect(),
        Err(e) => fds.iter().map(|_| Err(copy_error(&e))).collect(),
    }
}

fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

impl IoBackend for UringBackend {
    fn kind(&self) -> IoKind {
        IoKind::Uring
    }

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn IoFile>> {
        let file = open_std(path, mode, self.permissions)?;
        Ok(Arc::new(UringFile { inner: StdFile::new(file, path.to_path_buf()) }))
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        create_dir_all_std(path, self.permissions)
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir(path)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
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

    /// All fdatasyncs in one submission (in chunks of [`QUEUE_DEPTH`]), completions matched by
    /// `user_data`. Files without a descriptor (another backend's) are synced on their own.
    fn sync_many(&self, files: &[Arc<dyn IoFile>]) -> Vec<io::Result<()>> {
        let mut out: Vec<Option<io::Result<()>>> = files.iter().map(|_| None).collect();
        let mut with_fd: Vec<(usize, RawFd)> = Vec::with_capacity(files.len());
        for (i, f) in files.iter().enumerate() {
            match f.raw_fd() {
                Some(fd) => with_fd.push((i, fd)),
                None => out[i] = Some(f.sync_data()),
            }
        }
        // `files` holds every file (and so every descriptor) open until we return.
        for chunk in with_fd.chunks(QUEUE_DEPTH as usize) {
            let fds: Vec<RawFd> = chunk.iter().map(|&(_, fd)| fd).collect();
            for (&(i, _), r) in chunk.iter().zip(sync_chunk(&fds)) {
                out[i] = Some(r);
            }
        }
        out.into_iter().map(|r| r.unwrap_or_else(|| Err(io::Error::other("file was not synced")))).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::time::Instant;

    use super::*;
    use crate::io::std_backend::StdBackend;
    use crate::io::{IoChoice, backend_for};

    /// The backend, or `None` after saying why the test is skipped.
    fn uring(test: &str) -> Option<UringBackend> {
        match UringBackend::probe(Permissions::default()) {
            Ok(b) => Some(b),
            Err(e) => {
                eprintln!("SKIPPED {test}: io_uring is unavailable here: {e}");
                None
            }
        }
    }

    fn read_all(f: &dyn IoFile) -> Vec<u8> {
        let mut buf = vec![0u8; f.len().unwrap() as usize];
        f.read_exact_at(&mut buf, 0).unwrap();
        buf
    }

    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8).collect()
    }

    // --- the std backend's behaviour, on io_uring -------------------------------------------

    #[test]
    fn write_read_sync_and_map() {
        let Some(b) = uring("write_read_sync_and_map") else { return };
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let f = b.open(&p, OpenMode::CreateNew).unwrap();
        assert_eq!(b.kind(), IoKind::Uring);
        assert!(f.raw_fd().is_some());
        assert_eq!(f.path(), p.as_path());
        f.write_all_at(b"hello", 0).unwrap();
        f.write_all_at_and_sync(b"world", 5).unwrap();
        let mut buf = [0u8; 10];
        f.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"helloworld");
        assert_eq!(f.len().unwrap(), 10);
        assert_eq!(b.open(&p, OpenMode::CreateNew).unwrap_err().kind(), io::ErrorKind::AlreadyExists);
        f.set_len(16).unwrap();
        let mut m = f.map(16).unwrap();
        m.bytes_mut()[10..16].copy_from_slice(b"mapped");
        m.flush().unwrap();
        drop(m);
        assert_eq!(read_all(f.as_ref()), b"helloworldmapped");
        f.sync_data().unwrap();
        f.sync_all().unwrap();
        let results = b.sync_many(&[f.clone(), f]);
        assert_eq!(results.len(), 2);
        assert!(results.iter().all(|r| r.is_ok()));
    }

    #[test]
    fn open_modes_and_errors_match_std() {
        let Some(u) = uring("open_modes_and_errors_match_std") else { return };
        let s = StdBackend::default();
        let dir = tempfile::tempdir().unwrap();
        for (name, b) in [("std", &s as &dyn IoBackend), ("uring", &u as &dyn IoBackend)] {
            let p = dir.path().join(name);
            assert_eq!(b.open(&p, OpenMode::Read).unwrap_err().kind(), io::ErrorKind::NotFound);
            assert_eq!(b.open(&p, OpenMode::ReadWrite).unwrap_err().kind(), io::ErrorKind::NotFound);
            b.open(&p, OpenMode::Create).unwrap().write_all_at(b"abc", 0).unwrap();
            assert_eq!(read_all(b.open(&p, OpenMode::Create).unwrap().as_ref()), b"abc");
            assert_eq!(read_all(b.open(&p, OpenMode::ReadWrite).unwrap().as_ref()), b"abc");
            assert!(b.open(&p, OpenMode::Truncate).unwrap().is_empty().unwrap());
            let ro = b.open(&p, OpenMode::Read).unwrap();
            let e = ro.write_all_at(b"x", 0).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{name}: {e}");
            let e = ro.write_all_at_and_sync(b"x", 0).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{name}: {e}");
            assert_eq!(ro.map(1).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        }
    }

    #[test]
    fn directories_and_metadata() {
        let Some(b) = uring("directories_and_metadata") else { return };
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("a/b");
        b.create_dir_all(&d).unwrap();
        b.sync_dir(dir.path()).unwrap();
        b.open(&d.join("x"), OpenMode::CreateNew).unwrap();
        b.rename(&d.join("x"), &d.join("y")).unwrap();
        b.sync_dir(&d).unwrap();
        let names: Vec<String> = b.read_dir(&d).unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["y"]);
        assert_eq!(b.metadata(&d).unwrap(), Some(FileType::Dir));
        assert_eq!(b.metadata(&d.join("y")).unwrap(), Some(FileType::File));
        assert_eq!(b.remove_dir(&d).unwrap_err().kind(), io::ErrorKind::DirectoryNotEmpty);
        b.remove_file(&d.join("y")).unwrap();
        b.remove_dir(&d).unwrap();
        assert_eq!(b.metadata(&d).unwrap(), None);
    }

    #[test]
    fn lock_is_exclusive() {
        let Some(b) = uring("lock_is_exclusive") else { return };
        let dir = tempfile::tempdir().unwrap();
        let g = b.lock_dir(dir.path()).unwrap();
        assert_eq!(b.lock_dir(dir.path()).unwrap_err().kind(), io::ErrorKind::WouldBlock);
        // The std backend sees the same lock.
        assert_eq!(StdBackend::default().lock_dir(dir.path()).unwrap_err().kind(), io::ErrorKind::WouldBlock);
        drop(g);
        b.lock_dir(dir.path()).unwrap();
    }

    #[test]
    fn symlinks_are_not_followed() {
        let Some(b) = uring("symlinks_are_not_followed") else { return };
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, b"x").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(b.open(&link, OpenMode::Read).is_err());
        assert_eq!(b.metadata(&link).unwrap(), Some(FileType::Symlink));
        assert_eq!(b.metadata(&dir.path().join("none")).unwrap(), None);
    }

    // --- byte identity with std ---------------------------------------------------------------

    /// A fixed sequence of every kind of write, applied through one backend.
    fn workload(b: &dyn IoBackend, dir: &Path) -> Vec<u8> {
        let p = dir.join("00000000000000000000.log");
        let f = b.open(&p, OpenMode::CreateNew).unwrap();
        let mut pos = 0u64;
        for i in 0..50u8 {
            let batch = pattern(61 + 17 * i as usize, i);
            if i % 3 == 0 {
                f.write_all_at_and_sync(&batch, pos).unwrap();
            } else {
                f.write_all_at(&batch, pos).unwrap();
            }
            pos += batch.len() as u64;
        }
        f.write_all_at(b"overwrite", 100).unwrap();
        f.write_all_at(b"past the end", pos + 1000).unwrap(); // leaves a hole of zeros
        f.sync_data().unwrap();
        f.set_len(pos + 500).unwrap();
        let mut m = f.map(4096).unwrap();
        m.bytes_mut()[..8].copy_from_slice(b"MAPPED!!");
        m.flush().unwrap();
        drop(m);
        f.write_all_at_and_sync(&[], 0).unwrap();
        f.sync_all().unwrap();
        b.sync_many(std::slice::from_ref(&f)).into_iter().for_each(|r| r.unwrap());
        std::fs::read(&p).unwrap()
    }

    #[test]
    fn std_and_uring_write_identical_files() {
        let Some(u) = uring("std_and_uring_write_identical_files") else { return };
        let (ds, du) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let via_std = workload(&StdBackend::default(), ds.path());
        let via_uring = workload(&u, du.path());
        assert!(via_std.len() > 20_000);
        assert!(via_std == via_uring, "std and io_uring files differ");
        assert_eq!(&via_uring[..8], b"MAPPED!!");
    }

    // --- group commit -------------------------------------------------------------------------

    #[test]
    fn sync_many_over_100_files() {
        let Some(b) = uring("sync_many_over_100_files") else { return };
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<Arc<dyn IoFile>> = (0..100)
            .map(|i| {
                let f = b.open(&dir.path().join(format!("f{i}")), OpenMode::CreateNew).unwrap();
                f.write_all_at(&pattern(100 + i, i as u8), 0).unwrap();
                f
            })
            .collect();
        let results = b.sync_many(&files);
        assert_eq!(results.len(), 100);
        for (i, r) in results.iter().enumerate() {
            assert!(r.is_ok(), "file {i}: {r:?}");
        }
        assert!(b.sync_many(&[]).is_empty());
    }

    /// A file whose descriptor is invalid, to see which results fail.
    #[derive(Debug)]
    struct BadFd;

    impl IoFile for BadFd {
        fn path(&self) -> &Path {
            Path::new("bad")
        }
        fn read_at(&self, _: &mut [u8], _: u64) -> io::Result<usize> {
            Err(io::Error::from_raw_os_error(libc::EBADF))
        }
        fn write_all_at(&self, _: &[u8], _: u64) -> io::Result<()> {
            Err(io::Error::from_raw_os_error(libc::EBADF))
        }
        fn sync_data(&self) -> io::Result<()> {
            Err(io::Error::from_raw_os_error(libc::EBADF))
        }
        fn sync_all(&self) -> io::Result<()> {
            Err(io::Error::from_raw_os_error(libc::EBADF))
        }
        fn len(&self) -> io::Result<u64> {
            Ok(0)
        }
        fn set_len(&self, _: u64) -> io::Result<()> {
            Err(io::Error::from_raw_os_error(libc::EBADF))
        }
        fn map(&self, _: usize) -> io::Result<Box<dyn MappedRegion>> {
            Err(io::Error::from_raw_os_error(libc::EBADF))
        }
        fn raw_fd(&self) -> Option<i32> {
            Some(-1)
        }
    }

    #[test]
    fn sync_many_results_are_in_input_order() {
        let Some(b) = uring("sync_many_results_are_in_input_order") else { return };
        let dir = tempfile::tempdir().unwrap();
        let fault = crate::io::fault::FaultBackend::new();
        fault.create_dir_all(Path::new("/d")).unwrap();
        let fault_file = fault.open(Path::new("/d/x"), OpenMode::Create).unwrap();
        // 150 files (three chunks): every 7th has a bad descriptor, the 12th has none at all.
        let files: Vec<Arc<dyn IoFile>> = (0..150)
            .map(|i| -> Arc<dyn IoFile> {
                match i {
                    11 => fault_file.clone(),
                    i if i % 7 == 3 => Arc::new(BadFd),
                    i => b.open(&dir.path().join(format!("f{i}")), OpenMode::CreateNew).unwrap(),
                }
            })
            .collect();
        let results = b.sync_many(&files);
        assert_eq!(results.len(), 150);
        for (i, r) in results.iter().enumerate() {
            if i % 7 == 3 {
                assert_eq!(r.as_ref().unwrap_err().raw_os_error(), Some(libc::EBADF), "file {i}");
            } else {
                assert!(r.is_ok(), "file {i}: {r:?}");
            }
        }
    }

    // --- big and concurrent writes ------------------------------------------------------------

    #[test]
    fn large_write_and_sync_reads_back() {
        let Some(b) = uring("large_write_and_sync_reads_back") else { return };
        let dir = tempfile::tempdir().unwrap();
        let f = b.open(&dir.path().join("big"), OpenMode::CreateNew).unwrap();
        let data = pattern(8 << 20, 7);
        f.write_all_at_and_sync(&data, 4096).unwrap();
        f.write_all_at(&data[..1 << 20], 4096 + data.len() as u64).unwrap();
        let all = read_all(f.as_ref());
        assert_eq!(all.len(), 4096 + data.len() + (1 << 20));
        assert!(all[..4096].iter().all(|&b| b == 0));
        assert!(all[4096..4096 + data.len()] == data[..]);
        assert!(all[4096 + data.len()..] == data[..1 << 20]);
    }

    #[test]
    fn eight_threads_write_different_files() {
        let Some(b) = uring("eight_threads_write_different_files") else { return };
        let dir = tempfile::tempdir().unwrap();
        let b = Arc::new(b);
        let handles: Vec<_> = (0..8u8)
            .map(|t| {
                let (b, path) = (b.clone(), dir.path().join(format!("t{t}")));
                std::thread::spawn(move || {
                    let f = b.open(&path, OpenMode::CreateNew).unwrap();
                    let mut expected = Vec::new();
                    for i in 0..200usize {
                        let chunk = pattern(1 + (i * 37) % 5000, t.wrapping_add(i as u8));
                        let pos = expected.len() as u64;
                        match i % 4 {
                            0 => f.write_all_at_and_sync(&chunk, pos).unwrap(),
                            1 => {
                                f.write_all_at(&chunk, pos).unwrap();
                                f.sync_data().unwrap();
                            }
                            _ => f.write_all_at(&chunk, pos).unwrap(),
                        }
                        expected.extend_from_slice(&chunk);
                    }
                    assert!(b.sync_many(std::slice::from_ref(&f))[0].is_ok());
                    assert!(read_all(f.as_ref()) == expected, "thread {t} read back something else");
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    }

    // --- probing ------------------------------------------------------------------------------

    #[test]
    fn probe_runs_once_and_backend_for_picks_uring() {
        let first = UringBackend::probe(Permissions::default()).map(|_| ());
        for _ in 0..5 {
            let again = UringBackend::probe(Permissions::default()).map(|_| ());
            assert_eq!(first.is_ok(), again.is_ok());
        }
        if let Err(e) = &first {
            eprintln!("SKIPPED probe_runs_once_and_backend_for_picks_uring (uring part): {e}");
            assert_eq!(e.kind(), io::ErrorKind::Unsupported);
            let auto = backend_for(IoChoice::Auto, Permissions::default()).unwrap();
            assert_eq!(auto.kind(), IoKind::Std);
            return;
        }
        // Other tests probe concurrently, but the answer is cached after the first probe.
        assert_eq!(PROBES_RUN.load(std::sync::atomic::Ordering::Relaxed), 1);
        for choice in [IoChoice::Auto, IoChoice::Uring] {
            assert_eq!(backend_for(choice, Permissions::default()).unwrap().kind(), IoKind::Uring);
        }
        assert_eq!(backend_for(IoChoice::Std, Permissions::default()).unwrap().kind(), IoKind::Std);
    }

    #[test]
    fn probe_errors_are_classified() {
        for errno in [libc::ENOSYS, libc::EPERM, libc::EINVAL] {
            let e = io::Error::from_raw_os_error(errno);
            assert!(matches!(classify_probe_error("setup", e), ProbeError::Unavailable(_)), "{errno}");
        }
        for errno in [libc::ENOMEM, libc::EMFILE] {
            let e = io::Error::from_raw_os_error(errno);
            assert!(matches!(classify_probe_error("setup", e), ProbeError::Transient(_)), "{errno}");
        }
        let u = Unavailable("setup: denied".into()).to_error();
        assert_eq!(u.kind(), io::ErrorKind::Unsupported);
        assert!(u.to_string().contains("denied"));
    }

    // --- the retry logic with scripted completions --------------------------------------------

    const ECANCELED: i32 = -libc::ECANCELED;

    /// A scripted kernel: each submission pops the next raw result(s) and is logged.
    #[derive(Default)]
    struct Script {
        writes: VecDeque<i32>,
        pairs: VecDeque<(i32, i32)>,
        syncs: VecDeque<i32>,
        log: Vec<String>,
    }

    impl Script {
        fn run(&mut self, buf: &[u8], pos: u64) -> io::Result<()> {
            let s = RefCell::new(self);
            write_all_and_sync_with(
                buf,
                pos,
                |b, p| {
                    let mut s = s.borrow_mut();
                    s.log.push(format!("pair {p}+{}", b.len()));
                    Ok(s.pairs.pop_front().expect("unexpected pair"))
                },
                |b, p| {
                    let mut s = s.borrow_mut();
                    s.log.push(format!("write {p}+{}", b.len()));
                    Ok(s.writes.pop_front().expect("unexpected write"))
                },
                || {
                    let mut s = s.borrow_mut();
                    s.log.push("sync".into());
                    Ok(s.syncs.pop_front().expect("unexpected sync"))
                },
            )
        }
    }

    #[test]
    fn short_write_breaks_link_then_remainder_gets_a_fresh_fsync() {
        let mut s = Script { pairs: [(40, ECANCELED), (60, 0)].into(), ..Default::default() };
        s.run(&[0u8; 100], 1000).unwrap();
        assert_eq!(s.log, ["pair 1000+100", "pair 1040+60"]);
    }

    #[test]
    fn short_write_whose_fsync_ran_anyway_still_syncs_after_the_last_byte() {
        let mut s = Script { pairs: [(10, 0), (5, ECANCELED), (85, 0)].into(), ..Default::default() };
        s.run(&[0u8; 100], 0).unwrap();
        assert_eq!(s.log, ["pair 0+100", "pair 10+90", "pair 15+85"]);
    }

    #[test]
    fn fsync_failure_is_final() {
        let mut s = Script { pairs: [(100, -libc::EIO)].into(), ..Default::default() };
        assert_eq!(s.run(&[0u8; 100], 0).unwrap_err().raw_os_error(), Some(libc::EIO));
        // After a short write too: never retried.
        let mut s = Script { pairs: [(50, -libc::EIO)].into(), ..Default::default() };
        assert_eq!(s.run(&[0u8; 100], 0).unwrap_err().raw_os_error(), Some(libc::EIO));
        assert_eq!(s.log.len(), 1);
    }

    #[test]
    fn write_errors_and_retries_in_linked_pairs() {
        let mut s = Script { pairs: [(-libc::ENOSPC, ECANCELED)].into(), ..Default::default() };
        assert_eq!(s.run(&[0u8; 10], 0).unwrap_err().raw_os_error(), Some(libc::ENOSPC));
        let mut s = Script {
            pairs: [(-libc::EINTR, ECANCELED), (-libc::EAGAIN, ECANCELED), (10, 0)].into(),
            ..Default::default()
        };
        s.run(&[0u8; 10], 0).unwrap();
        assert_eq!(s.log, ["pair 0+10", "pair 0+10", "pair 0+10"]);
        let mut s = Script { pairs: [(0, ECANCELED)].into(), ..Default::default() };
        assert_eq!(s.run(&[0u8; 10], 0).unwrap_err().kind(), io::ErrorKind::WriteZero);
    }

    #[test]
    fn cancelled_fsync_after_complete_write_is_reissued() {
        let mut s = Script { pairs: [(10, ECANCELED)].into(), syncs: [0].into(), ..Default::default() };
        s.run(&[0u8; 10], 0).unwrap();
        assert_eq!(s.log, ["pair 0+10", "sync"]);
        let mut s = Script { syncs: [-libc::EIO].into(), ..Default::default() };
        assert_eq!(s.run(&[], 0).unwrap_err().raw_os_error(), Some(libc::EIO));
        assert_eq!(s.log, ["sync"]);
    }

    #[test]
    fn write_all_resubmits_the_remainder() {
        let mut results: VecDeque<i32> = [3, -libc::EINTR, 4, 3].into();
        let mut log = Vec::new();
        write_all_with(b"0123456789", 20, |b, p| {
            log.push((p, b.to_vec()));
            Ok(results.pop_front().unwrap())
        })
        .unwrap();
        let expected: Vec<(u64, Vec<u8>)> = vec![
            (20, b"0123456789".to_vec()),
            (23, b"3456789".to_vec()),
            (23, b"3456789".to_vec()),
            (27, b"789".to_vec()),
        ];
        assert_eq!(log, expected);
        let e = write_all_with(b"x", 0, |_, _| Ok(-libc::EIO)).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EIO));
    }

    // --- a real short write: RLIMIT_FSIZE in a child process ----------------------------------

    const CHILD_ENV: &str = "EOSLOG_URING_RLIMIT_CHILD";
    const LIMIT: u64 = 5000;

    /// Runs `rlimit_child` in a child process (the limit is process-wide).
    #[test]
    fn real_short_writes_under_rlimit_fsize() {
        let Some(_) = uring("real_short_writes_under_rlimit_fsize") else { return };
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "io::uring::tests::rlimit_child",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .output()
            .unwrap();
        let text =
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "child failed:\n{text}");
        assert!(text.contains("1 passed"), "child did not run the test:\n{text}");
        assert!(text.contains("CHILD-CHECKED"), "child skipped its checks:\n{text}");
    }

    /// With `RLIMIT_FSIZE` = 5000, an 8 KiB write at 0 is cut to 5000 bytes by the kernel (a real
    /// short write); writing the rest then fails with `EFBIG`.
    #[test]
    #[ignore = "run by real_short_writes_under_rlimit_fsize in a child process"]
    fn rlimit_child() {
        let Some(dir) = std::env::var_os(CHILD_ENV) else { return };
        let dir = std::path::PathBuf::from(dir);
        let lim = libc::rlimit { rlim_cur: LIMIT, rlim_max: LIMIT };
        // SAFETY: plain system calls on this (child) process; `lim` outlives the call. Ignoring
        // SIGXFSZ turns the would-be signal into an EFBIG result.
        unsafe {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0);
        }
        let b = UringBackend::probe(Permissions::default()).unwrap();
        let data = pattern(8192, 3);

        // What the kernel does with a linked pair when the write is short.
        let raw = File::options().read(true).write(true).create_new(true).open(dir.join("raw")).unwrap();
        let (w, s) = on_ring(|ring| ring_write_linked_sync(ring, &raw, &data, 0), || unreachable!()).unwrap();
        eprintln!("linked pair after a short write: write={w} fsync={s}");
        assert_eq!(w, LIMIT as i32);
        assert_eq!(s, ECANCELED);

        for (name, linked) in [("plain", false), ("linked", true)] {
            let f = b.open(&dir.join(name), OpenMode::CreateNew).unwrap();
            let r = if linked { f.write_all_at_and_sync(&data, 0) } else { f.write_all_at(&data, 0) };
            assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EFBIG), "{name}");
            let got = read_all(f.as_ref());
            assert!(got == data[..LIMIT as usize], "{name}: the written prefix is wrong");
        }
        eprintln!("CHILD-CHECKED");
    }

    // --- a measurement, not a test ------------------------------------------------------------

    /// `cargo test -p eoslog --lib sync_many_timing -- --ignored --nocapture`
    ///
    /// Each variant appends 4 KiB to each of 8 fresh files and then syncs all 8, for 200 rounds
    /// (fresh files, so every variant pays the same block allocation), three times in turn.
    #[test]
    #[ignore = "measurement; prints timings"]
    fn sync_many_timing() {
        let Some(u) = uring("sync_many_timing") else { return };
        let s = StdBackend::default();
        let dir = tempfile::tempdir().unwrap();
        let chunk = pattern(4096, 1);
        let mut run = 0;
        let mut measure = |name: &str, b: &dyn IoBackend, group: bool| {
            run += 1;
            let files: Vec<Arc<dyn IoFile>> = (0..8)
                .map(|i| b.open(&dir.path().join(format!("r{run}-p{i}")), OpenMode::CreateNew).unwrap())
                .collect();
            let rounds = 200u32;
            let start = Instant::now();
            for r in 0..rounds as u64 {
                for f in &files {
                    f.write_all_at(&chunk, r * 4096).unwrap();
                }
                if group {
                    b.sync_many(&files).into_iter().for_each(|r| r.unwrap());
                } else {
                    files.iter().for_each(|f| f.sync_data().unwrap());
                }
            }
            eprintln!("{name:>30}: {:?} per round (8 appends + 8 fdatasyncs)", start.elapsed() / rounds);
        };
        for _ in 0..3 {
            measure("std, one fdatasync at a time", &s, false);
            measure("uring, one fsync at a time", &u, false);
            measure("uring, sync_many", &u, true);
        }
    }
}
