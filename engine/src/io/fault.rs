//! An in-memory file system for crash and fault tests, modelled on LazyFS and RocksDB's
//! `FaultInjectionTestFS`.
//!
//! # The model
//!
//! Every file has *volatile* contents (what reads see: the page cache) and *durable* contents
//! (what survives power loss). [`IoFile::sync_data`], [`IoFile::sync_all`] and
//! [`MappedRegion::flush`] copy volatile to durable. Every directory likewise has volatile and
//! durable entries: `open` with a creating mode, `create_dir_all`, `rename`, `remove_file`,
//! `remove_dir` and `lock_dir` (which creates `.lock`, as the std backend does) change the
//! volatile entries; [`IoBackend::sync_dir`] makes a directory's entries durable. Entries name
//! inodes, so a renamed or removed file keeps its contents, and open handles keep working on it.
//!
//! [`FaultBackend::crash`] simulates power loss: every directory reverts to its durable entries
//! (a new file whose directory was never synced vanishes, an unsynced rename is undone, an
//! unsynced remove is undone), every file reverts to its durable contents — or, with another
//! [`CrashMode`], keeps a random part of its unsynced bytes — and every handle opened before the
//! crash is dead. The same backend value is then reopened, like a disk after a reboot. Directory
//! entries always revert exactly; only file contents are randomised. Syncing only one of the two
//! directories of a cross-directory rename can leave the file in both or in neither after a
//! crash, as on file systems that do not order directory updates.
//!
//! # Faults
//!
//! A [`FaultPlan`] makes the Nth operation of a kind fail with `EIO` or `ENOSPC`, write only a
//! prefix and fail, or write garbage and report success; `die_at` kills the "process" at the Nth
//! mutating operation, after which every operation fails ([`SimulatedFailure::ProcessDead`]) until
//! [`FaultBackend::crash`]. A failed file sync behaves like Linux after a write-back error
//! (fsyncgate): the unsynced bytes stay readable, but are treated as written back, so a later
//! successful sync does not make them durable and a crash loses them.
//!
//! The crash-point loop, where `workload` runs against an `Arc<dyn IoBackend>` and `check`
//! reopens and verifies:
//!
//! ```ignore
//! let probe = FaultBackend::new();
//! workload(&probe);
//! for n in 1..=probe.op_count() {
//!     let fs = FaultBackend::new();
//!     fs.set_plan(FaultPlan::new().die_at(n));
//!     workload(&fs); // fails from op n on
//!     fs.crash();
//!     check(&fs);
//! }
//! ```
//!
//! Paths are normalised lexically (`.` and `..` removed, relative paths taken from `/`); the file
//! system starts with an empty root directory, which is always durable. Symlinks do not exist.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{DirEntry, DirLock, FileType, IoBackend, IoFile, IoKind, MappedRegion, OpenMode};

/// Largest file the in-memory file system accepts; writes beyond fail with `EFBIG`.
pub const MAX_FILE_LEN: u64 = 1 << 32;

// ---------------------------------------------------------------------------------------------
// Configuration

/// The error code an injected fault returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Errno {
    /// `EIO` (5): an I/O error.
    Eio,
    /// `ENOSPC` (28): no space left on the device.
    Enospc,
}

impl Errno {
    /// The numeric error code.
    pub fn code(self) -> i32 {
        match self {
            Errno::Eio => libc::EIO,
            Errno::Enospc => libc::ENOSPC,
        }
    }

    fn error(self) -> io::Error {
        io::Error::from_raw_os_error(self.code())
    }
}

/// The kinds of operation a [`FaultRule`] counts. Only mutating operations are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// [`IoFile::write_all_at`] (also the write half of `write_all_at_and_sync`) and
    /// [`IoFile::set_len`].
    Write,
    /// [`IoFile::sync_data`], [`IoFile::sync_all`], [`IoBackend::sync_dir`] and
    /// [`MappedRegion::flush`] (also each file of `sync_many`).
    Sync,
    /// [`IoBackend::rename`].
    Rename,
    /// [`IoBackend::open`] with `Create`, `CreateNew` or `Truncate`, [`IoBackend::create_dir_all`]
    /// and [`IoBackend::lock_dir`].
    Create,
    /// [`IoBackend::remove_file`] and [`IoBackend::remove_dir`].
    Remove,
    /// Every mutating operation (all of the above).
    Any,
}

impl OpKind {
    const COUNTED: usize = 5;

    /// Index of the per-kind counter (`Any` has none: it is the total).
    fn index(self) -> Option<usize> {
        match self {
            OpKind::Write => Some(0),
            OpKind::Sync => Some(1),
            OpKind::Rename => Some(2),
            OpKind::Create => Some(3),
            OpKind::Remove => Some(4),
            OpKind::Any => None,
        }
    }
}

/// What an injected fault does to the operation it selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultAction {
    /// The operation has no effect and fails with this error.
    Fail(Errno),
    /// A write stores only its first `written` bytes, then fails with `errno` (a disk filling up
    /// mid-write). On other operations: like `Fail(errno)`.
    ShortWrite {
        /// Bytes written before the error.
        written: usize,
        /// The error returned.
        errno: Errno,
    },
    /// A write stores its first `intact` bytes correctly and garbage for the rest — every
    /// garbage byte differs from the intended one, chosen deterministically from `seed` — and
    /// **returns `Ok`**: a disk that lies. The engine can only catch this with checksums, which
    /// is the point. On other operations: like `Fail(Errno::Eio)`.
    TornWrite {
        /// Bytes written correctly.
        intact: usize,
        /// Seed of the garbage.
        seed: u64,
    },
}

impl FaultAction {
    /// The error this action means for an operation that is not a write.
    fn error(self) -> io::Error {
        match self {
            FaultAction::Fail(e) | FaultAction::ShortWrite { errno: e, .. } => e.error(),
            FaultAction::TornWrite { .. } => Errno::Eio.error(),
        }
    }
}

/// One fault: `action` happens to the `nth` (1-based) operation of kind `op` counted from when
/// the plan was set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FaultRule {
    /// Which operations are counted.
    pub op: OpKind,
    /// Which of them (1 = the first after [`FaultBackend::set_plan`]).
    pub nth: u64,
    /// What happens to it.
    pub action: FaultAction,
}

/// The faults to inject, set with [`FaultBackend::set_plan`]. All counting starts when the plan
/// is set. When several rules select the same operation, the first one listed wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultPlan {
    /// Individual faults.
    pub rules: Vec<FaultRule>,
    /// The process dies at this (1-based) mutating operation: it and every later operation of any
    /// kind fail with [`SimulatedFailure::ProcessDead`] until [`FaultBackend::crash`].
    pub die_at: Option<u64>,
}

impl FaultPlan {
    /// A plan without faults.
    pub fn new() -> Self {
        FaultPlan::default()
    }

    /// Adds a rule: `action` for the `nth` operation of kind `op`.
    pub fn rule(mut self, op: OpKind, nth: u64, action: FaultAction) -> Self {
        self.rules.push(FaultRule { op, nth, action });
        self
    }

    /// Fails the `nth` operation of kind `op` with `errno`.
    pub fn fail(self, op: OpKind, nth: u64, errno: Errno) -> Self {
        self.rule(op, nth, FaultAction::Fail(errno))
    }

    /// Makes the `nth` write store only `written` bytes and fail with `errno`.
    pub fn short_write(self, nth: u64, written: usize, errno: Errno) -> Self {
        self.rule(OpKind::Write, nth, FaultAction::ShortWrite { written, errno })
    }

    /// Makes the `nth` write store garbage after its first `intact` bytes and return `Ok`.
    pub fn torn_write(self, nth: u64, intact: usize, seed: u64) -> Self {
        self.rule(OpKind::Write, nth, FaultAction::TornWrite { intact, seed })
    }

    /// Kills the process at the `nth` mutating operation.
    pub fn die_at(mut self, nth: u64) -> Self {
        self.die_at = Some(nth);
        self
    }
}

/// What survives of unsynced file contents in a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CrashMode {
    /// Nothing: every file reverts exactly to its durable contents.
    #[default]
    DropUnsynced,
    /// For each file that grew since its last sync, a random prefix (possibly empty, possibly
    /// all) of the appended bytes survives; unsynced overwrites and truncations are undone.
    KeepRandomPrefix {
        /// Seed of the choices (the same seed and history give the same result).
        seed: u64,
    },
    /// Each `sector`-sized block holding unsynced changes independently keeps its old bytes,
    /// takes its new bytes, or is torn: new bytes up to a random point, garbage after it. Bytes
    /// that were never changed since the last sync keep their durable value even in a torn
    /// sector. The length ends up anywhere between the durable and the volatile length. A
    /// `sector` of 0 means 512.
    Torn {
        /// Seed of the choices.
        seed: u64,
        /// Sector size in bytes (typically 512 or 4096).
        sector: usize,
    },
}

/// The failures this backend reports that are not injected errno faults. Errors carrying one can
/// be recognised with [`SimulatedFailure::of`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SimulatedFailure {
    /// The process died (see [`FaultPlan::die_at`]); nothing works until the crash.
    ProcessDead,
    /// The handle (file, map) was opened before a crash and is dead.
    StaleHandle,
}

impl SimulatedFailure {
    /// The simulated failure carried by `e`, if any.
    pub fn of(e: &io::Error) -> Option<SimulatedFailure> {
        e.get_ref()?.downcast_ref::<SimulatedFailure>().copied()
    }
}

impl fmt::Display for SimulatedFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SimulatedFailure::ProcessDead => "simulated process death (fault plan die_at)",
            SimulatedFailure::StaleHandle => "handle opened before a simulated crash",
        })
    }
}

impl std::error::Error for SimulatedFailure {}

impl From<SimulatedFailure> for io::Error {
    fn from(f: SimulatedFailure) -> io::Error {
        io::Error::other(f)
    }
}

// ---------------------------------------------------------------------------------------------
// The file system state

type Ino = u64;
const ROOT: Ino = 0;

fn errno(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

#[derive(Debug, Default)]
struct FileNode {
    volatile: Vec<u8>,
    durable: Vec<u8>,
    /// Byte range of `volatile` changed since the last sync (a superset is fine). Every change
    /// to `volatile` widens it; a sync copies it (and the length) to `durable`.
    dirty: Option<(usize, usize)>,
}

impl FileNode {
    fn mark_dirty(&mut self, start: usize, end: usize) {
        if start < end {
            self.dirty = Some(match self.dirty {
                Some((s, e)) => (s.min(start), e.max(end)),
                None => (start, end),
            });
        }
    }

    fn write(&mut self, buf: &[u8], pos: u64) -> io::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        let end =
            pos.checked_add(buf.len() as u64).filter(|&e| e <= MAX_FILE_LEN).ok_or(errno(libc::EFBIG))?;
        let (start, end) = (pos as usize, end as usize);
        if self.volatile.len() < end {
            self.volatile.resize(end, 0);
        }
        self.volatile[start..end].copy_from_slice(buf);
        self.mark_dirty(start, end);
        Ok(())
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        if len > MAX_FILE_LEN {
            return Err(errno(libc::EFBIG));
        }
        let (old, new) = (self.volatile.len(), len as usize);
        self.volatile.resize(new, 0);
        self.mark_dirty(old.min(new), old.max(new));
        Ok(())
    }

    /// Makes the volatile contents durable.
    fn sync(&mut self) {
        self.durable.resize(self.volatile.len(), 0);
        if let Some((s, e)) = self.dirty.take() {
            let e = e.min(self.volatile.len());
            if s < e {
                self.durable[s..e].copy_from_slice(&self.volatile[s..e]);
            }
        }
    }

    /// A failed sync: the dirty bytes count as written back (so they are never synced later)
    /// without having become durable.
    fn lose_writeback(&mut self) {
        self.dirty = None;
    }
}

#[derive(Debug, Default)]
struct DirNode {
    volatile: BTreeMap<String, Ino>,
    durable: BTreeMap<String, Ino>,
}

#[derive(Debug)]
enum Node {
    File(FileNode),
    Dir(DirNode),
}

#[derive(Debug, Default)]
struct Fs {
    nodes: BTreeMap<Ino, Node>,
    next_ino: Ino,
    /// Incremented by every crash; handles remember the boot they were opened in.
    boot: u64,
    /// Mutating operations since creation or the last crash.
    ops: u64,
    dead: bool,
    plan: FaultPlan,
    /// `ops` when the plan was set.
    plan_base: u64,
    /// Mutating operations per kind since the plan was set.
    kind_counts: [u64; OpKind::COUNTED],
    crash_mode: CrashMode,
    /// Locked `.lock` inodes and the token of the guard holding each.
    locks: BTreeMap<Ino, u64>,
    next_token: u64,
}

/// Splits a path into normalised components (no `.`, `..` applied lexically, root implied).
fn components(path: &Path) -> io::Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for c in path.components() {
        match c {
            Component::Prefix(_) | Component::RootDir | Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => match name.to_str() {
                Some(s) => out.push(s.to_owned()),
                None => return Err(io::Error::new(io::ErrorKind::InvalidInput, "path is not UTF-8")),
            },
        }
    }
    Ok(out)
}

fn join(comps: &[String]) -> PathBuf {
    let mut p = PathBuf::from("/");
    p.extend(comps);
    p
}

impl Fs {
    fn new() -> Fs {
        let mut fs = Fs { next_ino: ROOT + 1, ..Fs::default() };
        fs.nodes.insert(ROOT, Node::Dir(DirNode::default()));
        fs
    }

    /// Admits one operation: fails if the process is dead or the handle (opened in `boot`) is
    /// stale; counts mutating operations (`kind`), applies `die_at`, and returns the injected
    /// action for this operation, if any.
    fn admit(&mut self, kind: Option<OpKind>, boot: Option<u64>) -> io::Result<Option<FaultAction>> {
        if self.dead {
            return Err(SimulatedFailure::ProcessDead.into());
        }
        if boot.is_some_and(|b| b != self.boot) {
            return Err(SimulatedFailure::StaleHandle.into());
        }
        let Some(kind) = kind else { return Ok(None) };
        self.ops += 1;
        let n = self.ops - self.plan_base;
        if self.plan.die_at.is_some_and(|d| n >= d) {
            self.dead = true;
            return Err(SimulatedFailure::ProcessDead.into());
        }
        let nth_of_kind = kind.index().map(|i| {
            self.kind_counts[i] += 1;
            self.kind_counts[i]
        });
        let hit =
            self.plan.rules.iter().find(|r| {
                (r.op == OpKind::Any && r.nth == n) || (r.op == kind && Some(r.nth) == nth_of_kind)
            });
        Ok(hit.map(|r| r.action))
    }

    /// [`Fs::admit`] for a mutating operation that is not a write: any action is a failure.
    fn admit_op(&mut self, kind: OpKind, boot: Option<u64>) -> io::Result<()> {
        match self.admit(Some(kind), boot)? {
            Some(action) => Err(action.error()),
            None => Ok(()),
        }
    }

    fn alloc(&mut self, node: Node) -> Ino {
        let ino = self.next_ino;
        self.next_ino += 1;
        self.nodes.insert(ino, node);
        ino
    }

    fn node(&self, ino: Ino) -> io::Result<&Node> {
        self.nodes.get(&ino).ok_or_else(|| io::Error::other("fault fs: dangling inode"))
    }

    fn file(&self, ino: Ino) -> io::Result<&FileNode> {
        match self.node(ino)? {
            Node::File(f) => Ok(f),
            Node::Dir(_) => Err(errno(libc::EISDIR)),
        }
    }

    fn file_mut(&mut self, ino: Ino) -> io::Result<&mut FileNode> {
        match self.nodes.get_mut(&ino) {
            Some(Node::File(f)) => Ok(f),
            Some(Node::Dir(_)) => Err(errno(libc::EISDIR)),
            None => Err(io::Error::other("fault fs: dangling inode")),
        }
    }

    fn dir(&self, ino: Ino) -> io::Result<&DirNode> {
        match self.node(ino)? {
            Node::Dir(d) => Ok(d),
            Node::File(_) => Err(errno(libc::ENOTDIR)),
        }
    }

    fn dir_mut(&mut self, ino: Ino) -> io::Result<&mut DirNode> {
        match self.nodes.get_mut(&ino) {
            Some(Node::Dir(d)) => Ok(d),
            Some(Node::File(_)) => Err(errno(libc::ENOTDIR)),
            None => Err(io::Error::other("fault fs: dangling inode")),
        }
    }

    fn is_dir(&self, ino: Ino) -> bool {
        matches!(self.nodes.get(&ino), Some(Node::Dir(_)))
    }

    /// The inode at `comps`, through volatile entries (`durable` = through durable entries).
    fn lookup(&self, comps: &[String], durable: bool) -> io::Result<Ino> {
        let mut ino = ROOT;
        for name in comps {
            let dir = self.dir(ino)?;
            let entries = if durable { &dir.durable } else { &dir.volatile };
            ino = *entries.get(name).ok_or(errno(libc::ENOENT))?;
        }
        Ok(ino)
    }

    /// The parent directory of `comps` and the last name; `EBUSY` for the root itself.
    fn parent<'a>(&self, comps: &'a [String]) -> io::Result<(Ino, &'a str)> {
        let (name, dir) = comps.split_last().ok_or(errno(libc::EBUSY))?;
        let parent = self.lookup(dir, false)?;
        self.dir(parent)?;
        Ok((parent, name))
    }

    fn entry(&self, dir: Ino, name: &str) -> io::Result<Option<Ino>> {
        Ok(self.dir(dir)?.volatile.get(name).copied())
    }

    fn link(&mut self, dir: Ino, name: &str, ino: Ino) -> io::Result<()> {
        self.dir_mut(dir)?.volatile.insert(name.to_owned(), ino);
        Ok(())
    }

    fn unlink(&mut self, dir: Ino, name: &str) -> io::Result<()> {
        self.dir_mut(dir)?.volatile.remove(name);
        Ok(())
    }

    fn open(&mut self, comps: &[String], mode: OpenMode) -> io::Result<Ino> {
        let (parent, name) = self.parent(comps).map_err(|e| root_is_dir(e, comps))?;
        match (self.entry(parent, name)?, mode) {
            (Some(ino), _) if self.is_dir(ino) => Err(errno(libc::EISDIR)),
            (Some(_), OpenMode::CreateNew) => Err(errno(libc::EEXIST)),
            (Some(ino), OpenMode::Truncate) => {
                self.file_mut(ino)?.set_len(0)?;
                Ok(ino)
            }
            (Some(ino), _) => Ok(ino),
            (None, OpenMode::Read | OpenMode::ReadWrite) => Err(errno(libc::ENOENT)),
            (None, _) => {
                let ino = self.alloc(Node::File(FileNode::default()));
                self.link(parent, name, ino)?;
                Ok(ino)
            }
        }
    }

    fn create_dir_all(&mut self, comps: &[String]) -> io::Result<()> {
        let mut dir = ROOT;
        for (i, name) in comps.iter().enumerate() {
            dir = match self.entry(dir, name)? {
                Some(ino) if self.is_dir(ino) => ino,
                Some(_) if i + 1 == comps.len() => return Err(errno(libc::EEXIST)),
                Some(_) => return Err(errno(libc::ENOTDIR)),
                None => {
                    let ino = self.alloc(Node::Dir(DirNode::default()));
                    self.link(dir, name, ino)?;
                    ino
                }
            };
        }
        Ok(())
    }

    fn remove(&mut self, comps: &[String], want_dir: bool) -> io::Result<()> {
        let (parent, name) = self.parent(comps)?;
        let ino = self.entry(parent, name)?.ok_or(errno(libc::ENOENT))?;
        match (want_dir, self.node(ino)?) {
            (true, Node::File(_)) => return Err(errno(libc::ENOTDIR)),
            (true, Node::Dir(d)) if !d.volatile.is_empty() => return Err(errno(libc::ENOTEMPTY)),
            (false, Node::Dir(_)) => return Err(errno(libc::EISDIR)),
            _ => {}
        }
        self.unlink(parent, name)
    }

    fn rename(&mut self, from: &[String], to: &[String]) -> io::Result<()> {
        let (src_dir, src_name) = self.parent(from)?;
        let ino = self.entry(src_dir, src_name)?.ok_or(errno(libc::ENOENT))?;
        let (dst_dir, dst_name) = self.parent(to)?;
        if from == to {
            return Ok(());
        }
        if to.starts_with(from) {
            return Err(errno(libc::EINVAL)); // a directory into itself
        }
        if let Some(existing) = self.entry(dst_dir, dst_name)? {
            match (self.is_dir(ino), self.node(existing)?) {
                (false, Node::Dir(_)) => return Err(errno(libc::EISDIR)),
                (true, Node::File(_)) => return Err(errno(libc::ENOTDIR)),
                (true, Node::Dir(d)) if !d.volatile.is_empty() => return Err(errno(libc::ENOTEMPTY)),
                _ => {}
            }
        }
        self.unlink(src_dir, src_name)?;
        self.link(dst_dir, dst_name, ino)
    }

    fn metadata(&self, comps: &[String]) -> io::Result<Option<FileType>> {
        match self.lookup(comps, false) {
            Ok(ino) => Ok(Some(if self.is_dir(ino) { FileType::Dir } else { FileType::File })),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn read_dir(&self, comps: &[String]) -> io::Result<Vec<DirEntry>> {
        let dir = self.dir(self.lookup(comps, false)?)?;
        Ok(dir
            .volatile
            .iter()
            .map(|(name, &ino)| DirEntry {
                name: name.clone(),
                file_type: if self.is_dir(ino) { FileType::Dir } else { FileType::File },
            })
            .collect())
    }

    fn sync_dir(&mut self, comps: &[String]) -> io::Result<()> {
        let ino = self.lookup(comps, false)?;
        let dir = self.dir_mut(ino)?;
        dir.durable = dir.volatile.clone();
        Ok(())
    }

    /// Power loss: see [`FaultBackend::crash`].
    fn crash(&mut self, mode: CrashMode) {
        self.boot += 1;
        self.dead = false;
        self.ops = 0;
        self.set_plan(FaultPlan::default());
        self.locks.clear();
        for (&ino, node) in self.nodes.iter_mut() {
            match node {
                Node::Dir(d) => d.volatile = d.durable.clone(),
                Node::File(f) => {
                    let survived = survive(mode, ino, &f.durable, &f.volatile);
                    f.volatile = survived.clone();
                    f.durable = survived;
                    f.dirty = None;
                }
            }
        }
        self.collect_garbage();
    }

    /// Drops every inode no longer reachable from the root. Only done at a crash: before it, an
    /// unlinked inode may still be named by a durable entry or used through an open handle.
    fn collect_garbage(&mut self) {
        let mut reachable = std::collections::BTreeSet::from([ROOT]);
        let mut todo = vec![ROOT];
        while let Some(ino) = todo.pop() {
            if let Some(Node::Dir(d)) = self.nodes.get(&ino) {
                for &child in d.volatile.values() {
                    if reachable.insert(child) {
                        todo.push(child);
                    }
                }
            }
        }
        self.nodes.retain(|ino, _| reachable.contains(ino));
    }

    fn set_plan(&mut self, plan: FaultPlan) {
        self.plan = plan;
        self.plan_base = self.ops;
        self.kind_counts = [0; OpKind::COUNTED];
    }

    /// Every path reachable through volatile entries, depth first, sorted.
    fn list(&self, dir: Ino, prefix: &mut Vec<String>, out: &mut Vec<PathBuf>) {
        let Ok(d) = self.dir(dir) else { return };
        for (name, &ino) in &d.volatile {
            prefix.push(name.clone());
            out.push(join(prefix));
            self.list(ino, prefix, out);
            prefix.pop();
        }
    }
}

/// Opening the root (no parent) is opening a directory.
fn root_is_dir(e: io::Error, comps: &[String]) -> io::Error {
    if comps.is_empty() { errno(libc::EISDIR) } else { e }
}

// ---------------------------------------------------------------------------------------------
// Crash modes

/// SplitMix64: a tiny deterministic generator (tests must not depend on a `rand` version).
struct Rng(u64);

impl Rng {
    fn for_file(seed: u64, ino: Ino) -> Rng {
        let mut r = Rng(seed ^ ino.wrapping_mul(0xD1B5_4A32_D192_ED03));
        r.next();
        r
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-enough in `0..n` (`0` when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }

    /// A byte different from `b`.
    fn garbage_for(&mut self, b: u8) -> u8 {
        b ^ ((self.next() as u8) | 1)
    }
}

/// What a crash leaves of one file.
fn survive(mode: CrashMode, ino: Ino, durable: &[u8], volatile: &[u8]) -> Vec<u8> {
    match mode {
        CrashMode::DropUnsynced => durable.to_vec(),
        CrashMode::KeepRandomPrefix { seed } => {
            keep_random_prefix(&mut Rng::for_file(seed, ino), durable, volatile)
        }
        CrashMode::Torn { seed, sector } => {
            let sector = if sector == 0 { 512 } else { sector };
            torn(&mut Rng::for_file(seed, ino), durable, volatile, sector)
        }
    }
}

fn keep_random_prefix(rng: &mut Rng, durable: &[u8], volatile: &[u8]) -> Vec<u8> {
    let mut out = durable.to_vec();
    if let Some(appended) = volatile.get(durable.len()..) {
        out.extend_from_slice(&appended[..rng.below(appended.len() + 1)]);
    }
    out
}

fn torn(rng: &mut Rng, durable: &[u8], volatile: &[u8], sector: usize) -> Vec<u8> {
    let (d, v) = (durable.len(), volatile.len());
    let len = d.min(v) + rng.below(d.abs_diff(v) + 1);
    let old = |i: usize| durable.get(i).copied().unwrap_or(0);
    let new = |i: usize| volatile.get(i).copied().unwrap_or(0);
    let dirty = |i: usize| i >= d || i >= v || durable[i] != volatile[i];
    let mut out = Vec::with_capacity(len);
    for start in (0..len).step_by(sector) {
        let end = (start + sector).min(len);
        if !(start..end).any(dirty) {
            out.extend_from_slice(&durable[start..end]);
            continue;
        }
        // 0: the sector never reached the disk; 1: it did; 2: it was torn at `split`.
        let fate = rng.below(3);
        let split = start + rng.below(sector);
        for i in start..end {
            out.push(match fate {
                _ if !dirty(i) => old(i),
                0 => old(i),
                1 => new(i),
                _ if i < split => new(i),
                _ => rng.garbage_for(new(i)),
            });
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The backend and its handles

/// The shared "disk": one lock around the whole file system keeps every operation atomic and
/// the operation counter exact.
struct Shared {
    fs: Mutex<Fs>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fs = self.fs.lock();
        f.debug_struct("FaultFs")
            .field("inodes", &fs.nodes.len())
            .field("boot", &fs.boot)
            .field("ops", &fs.ops)
            .field("dead", &fs.dead)
            .finish()
    }
}

/// The in-memory fault-injecting backend (see the module documentation). Clones share the same
/// disk.
#[derive(Debug, Clone)]
pub struct FaultBackend {
    shared: Arc<Shared>,
}

impl Default for FaultBackend {
    fn default() -> Self {
        FaultBackend::new()
    }
}

impl FaultBackend {
    /// An empty file system (just the root directory), with no faults planned.
    pub fn new() -> Self {
        FaultBackend { shared: Arc::new(Shared { fs: Mutex::new(Fs::new()) }) }
    }

    /// Replaces the fault plan; counting for its rules and `die_at` starts now.
    pub fn set_plan(&self, plan: FaultPlan) {
        self.shared.fs.lock().set_plan(plan);
    }

    /// Mutating operations (the ones [`OpKind::Any`] counts, including failed ones) since the
    /// backend was created or last crashed.
    pub fn op_count(&self) -> u64 {
        self.shared.fs.lock().ops
    }

    /// Whether the simulated process has died ([`FaultPlan::die_at`]).
    pub fn is_dead(&self) -> bool {
        self.shared.fs.lock().dead
    }

    /// Sets the mode [`FaultBackend::crash`] uses (initially [`CrashMode::DropUnsynced`]).
    pub fn set_crash_mode(&self, mode: CrashMode) {
        self.shared.fs.lock().crash_mode = mode;
    }

    /// Simulated power loss with the configured [`CrashMode`]: directories revert to their
    /// durable entries, files to their durable contents (plus what the mode lets survive), every
    /// existing handle dies ([`SimulatedFailure::StaleHandle`]), locks are released, the process
    /// is alive again, the fault plan is cleared and [`FaultBackend::op_count`] restarts at 0.
    pub fn crash(&self) {
        let mut fs = self.shared.fs.lock();
        let mode = fs.crash_mode;
        fs.crash(mode);
    }

    /// [`FaultBackend::crash`] with the given mode.
    pub fn crash_with(&self, mode: CrashMode) {
        self.shared.fs.lock().crash(mode);
    }

    /// Makes everything durable — every file's contents and every directory's entries — without
    /// counting an operation: a shortcut for setting up a test's starting state.
    pub fn persist_all(&self) {
        let mut fs = self.shared.fs.lock();
        for node in fs.nodes.values_mut() {
            match node {
                Node::Dir(d) => d.durable = d.volatile.clone(),
                Node::File(f) => {
                    f.durable = f.volatile.clone();
                    f.dirty = None;
                }
            }
        }
    }

    /// What reads of the file at `path` see now (volatile contents); `None` if there is no file.
    pub fn file_bytes(&self, path: &Path) -> Option<Vec<u8>> {
        let fs = self.shared.fs.lock();
        let ino = fs.lookup(&components(path).ok()?, false).ok()?;
        Some(fs.file(ino).ok()?.volatile.clone())
    }

    /// What a [`CrashMode::DropUnsynced`] crash now would leave at `path`: resolved through
    /// durable directory entries, the durable contents. `None` if no file would be there.
    pub fn durable_bytes(&self, path: &Path) -> Option<Vec<u8>> {
        let fs = self.shared.fs.lock();
        let ino = fs.lookup(&components(path).ok()?, true).ok()?;
        Some(fs.file(ino).ok()?.durable.clone())
    }

    /// Every file and directory (volatile view) as absolute paths, sorted; the root is omitted.
    pub fn list_all(&self) -> Vec<PathBuf> {
        let fs = self.shared.fs.lock();
        let mut out = Vec::new();
        fs.list(ROOT, &mut Vec::new(), &mut out);
        out
    }

    /// Locks the file system, admits a path operation and runs `f` on the components of `path`.
    fn with_path<R>(
        &self,
        path: &Path,
        kind: Option<OpKind>,
        f: impl FnOnce(&mut Fs, &[String]) -> io::Result<R>,
    ) -> io::Result<R> {
        let mut fs = self.shared.fs.lock();
        match kind {
            Some(kind) => fs.admit_op(kind, None)?,
            None => {
                fs.admit(None, None)?;
            }
        }
        f(&mut fs, &components(path)?)
    }
}

impl IoBackend for FaultBackend {
    fn kind(&self) -> IoKind {
        IoKind::Fault
    }

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn IoFile>> {
        let creates = !matches!(mode, OpenMode::Read | OpenMode::ReadWrite);
        let mut fs = self.shared.fs.lock();
        if creates {
            fs.admit_op(OpKind::Create, None)?;
        } else {
            fs.admit(None, None)?;
        }
        let ino = fs.open(&components(path)?, mode)?;
        Ok(Arc::new(FaultFile {
            shared: self.shared.clone(),
            ino,
            boot: fs.boot,
            path: path.to_path_buf(),
            writable: mode != OpenMode::Read,
        }))
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.with_path(path, Some(OpKind::Create), |fs, c| fs.create_dir_all(c))
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        self.with_path(path, Some(OpKind::Remove), |fs, c| fs.remove(c, true))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.with_path(path, Some(OpKind::Remove), |fs, c| fs.remove(c, false))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let to = components(to)?;
        self.with_path(from, Some(OpKind::Rename), |fs, from| fs.rename(from, &to))
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.with_path(path, Some(OpKind::Sync), |fs, c| fs.sync_dir(c))
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        self.with_path(path, None, |fs, c| fs.read_dir(c))
    }

    fn metadata(&self, path: &Path) -> io::Result<Option<FileType>> {
        self.with_path(path, None, |fs, c| fs.metadata(c))
    }

    fn lock_dir(&self, dir: &Path) -> io::Result<Box<dyn DirLock>> {
        let (ino, token) = self.with_path(dir, Some(OpKind::Create), |fs, c| {
            let mut lock_path = c.to_vec();
            lock_path.push(".lock".to_owned());
            fs.dir(fs.lookup(c, false)?)?;
            let ino = fs.open(&lock_path, OpenMode::Create)?;
            if fs.locks.contains_key(&ino) {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            fs.next_token += 1;
            let token = fs.next_token;
            fs.locks.insert(ino, token);
            Ok((ino, token))
        })?;
        Ok(Box::new(FaultLock { shared: self.shared.clone(), ino, token }))
    }
}

/// A held [`IoBackend::lock_dir`] lock; dropping it releases the lock (unless a crash already
/// did, and someone locked again since).
#[derive(Debug)]
struct FaultLock {
    shared: Arc<Shared>,
    ino: Ino,
    token: u64,
}

impl DirLock for FaultLock {}

impl Drop for FaultLock {
    fn drop(&mut self) {
        let mut fs = self.shared.fs.lock();
        if fs.locks.get(&self.ino) == Some(&self.token) {
            fs.locks.remove(&self.ino);
        }
    }
}

/// A file of the fault backend: an inode, valid in the boot it was opened in.
#[derive(Debug)]
struct FaultFile {
    shared: Arc<Shared>,
    ino: Ino,
    boot: u64,
    path: PathBuf,
    writable: bool,
}

impl FaultFile {
    fn check_writable(&self, code: i32) -> io::Result<()> {
        if self.writable { Ok(()) } else { Err(errno(code)) }
    }

    fn sync(&self) -> io::Result<()> {
        let mut fs = self.shared.fs.lock();
        let action = fs.admit(Some(OpKind::Sync), Some(self.boot))?;
        let file = fs.file_mut(self.ino)?;
        match action {
            None => {
                file.sync();
                Ok(())
            }
            Some(action) => {
                file.lose_writeback();
                Err(action.error())
            }
        }
    }
}

impl IoFile for FaultFile {
    fn path(&self) -> &Path {
        &self.path
    }

    fn read_at(&self, buf: &mut [u8], pos: u64) -> io::Result<usize> {
        let mut fs = self.shared.fs.lock();
        fs.admit(None, Some(self.boot))?;
        let data = &fs.file(self.ino)?.volatile;
        let start = usize::try_from(pos).unwrap_or(usize::MAX).min(data.len());
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        Ok(n)
    }

    fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()> {
        let mut fs = self.shared.fs.lock();
        let action = fs.admit(Some(OpKind::Write), Some(self.boot))?;
        self.check_writable(libc::EBADF)?;
        let file = fs.file_mut(self.ino)?;
        match action {
            None => file.write(buf, pos),
            Some(FaultAction::Fail(e)) => Err(e.error()),
            Some(FaultAction::ShortWrite { written, errno }) => {
                file.write(&buf[..written.min(buf.len())], pos)?;
                Err(errno.error())
            }
            Some(FaultAction::TornWrite { intact, seed }) => {
                let mut rng = Rng(seed);
                let torn: Vec<u8> = buf
                    .iter()
                    .enumerate()
                    .map(|(i, &b)| if i < intact { b } else { rng.garbage_for(b) })
                    .collect();
                file.write(&torn, pos)
            }
        }
    }

    fn sync_data(&self) -> io::Result<()> {
        self.sync()
    }

    fn sync_all(&self) -> io::Result<()> {
        self.sync()
    }

    fn len(&self) -> io::Result<u64> {
        let mut fs = self.shared.fs.lock();
        fs.admit(None, Some(self.boot))?;
        Ok(fs.file(self.ino)?.volatile.len() as u64)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut fs = self.shared.fs.lock();
        fs.admit_op(OpKind::Write, Some(self.boot))?;
        self.check_writable(libc::EINVAL)?;
        fs.file_mut(self.ino)?.set_len(len)
    }

    fn map(&self, len: usize) -> io::Result<Box<dyn MappedRegion>> {
        let mut fs = self.shared.fs.lock();
        fs.admit(None, Some(self.boot))?;
        let data = &fs.file(self.ino)?.volatile;
        if data.len() < len {
            let msg = format!("cannot map {len} bytes of a {}-byte file", data.len());
            return Err(io::Error::new(io::ErrorKind::InvalidInput, msg));
        }
        let bytes = data[..len].to_vec();
        Ok(Box::new(FaultMap {
            shared: self.shared.clone(),
            ino: self.ino,
            boot: self.boot,
            base: Mutex::new(bytes.clone()),
            bytes,
        }))
    }

    fn raw_fd(&self) -> Option<i32> {
        None
    }
}

/// A map of the fault backend: a private copy of the file's first bytes.
///
/// Unlike a real shared mapping, writes through the map are not visible to
/// [`IoFile::read_at`] until [`MappedRegion::flush`] (which also makes them durable, like
/// `msync(MS_SYNC)`) or until the map is dropped (which, like `munmap`, leaves them in the page
/// cache only). Only bytes changed through the map are copied back, so writes made through the
/// file to the mapped range in the meantime are kept.
#[derive(Debug)]
struct FaultMap {
    shared: Arc<Shared>,
    ino: Ino,
    boot: u64,
    bytes: Vec<u8>,
    /// The bytes as last copied from or to the file; what differs from it was written through
    /// the map.
    base: Mutex<Vec<u8>>,
}

impl FaultMap {
    /// Copies bytes changed through the map into the file's volatile contents.
    fn write_back(&self, file: &mut FileNode) -> io::Result<()> {
        if file.volatile.len() < self.bytes.len() {
            // A real map would SIGBUS here; eoslog never shrinks a mapped file.
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "mapped file was truncated"));
        }
        let mut base = self.base.lock();
        for (i, (&b, old)) in self.bytes.iter().zip(base.iter_mut()).enumerate() {
            if b != *old {
                file.volatile[i] = b;
                file.mark_dirty(i, i + 1);
                *old = b;
            }
        }
        Ok(())
    }
}

impl MappedRegion for FaultMap {
    fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }

    fn flush(&self) -> io::Result<()> {
        let mut fs = self.shared.fs.lock();
        fs.admit_op(OpKind::Sync, Some(self.boot))?;
        let file = fs.file_mut(self.ino)?;
        self.write_back(file)?;
        // msync writes back the mapped pages — including other unsynced changes in them.
        let len = self.bytes.len();
        if file.durable.len() < len {
            file.durable.resize(len, 0);
        }
        file.durable[..len].copy_from_slice(&file.volatile[..len]);
        Ok(())
    }
}

impl Drop for FaultMap {
    fn drop(&mut self) {
        let mut fs = self.shared.fs.lock();
        // A dead process or a crashed boot leaves nothing behind.
        if fs.dead || fs.boot != self.boot {
            return;
        }
        if let Ok(file) = fs.file_mut(self.ino) {
            // Truncated under the map: there is nowhere to put the bytes (a real map would
            // have faulted on access), so they are dropped.
            let _ = self.write_back(file);
        }
    }
}
