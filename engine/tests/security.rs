//! Security: nothing outside the data directory is ever created, written or deleted — not
//! through topic names, not through symlinks planted inside the data directory — the directory
//! lock holds against a second process, and created files get the configured permissions.
//!
//! Every test keeps an "outside" directory next to the data directory, with a file in it, and
//! checks after each step that its tree (names, kinds and contents) is exactly what it was.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use eoslog::{Engine, EngineConfig, ErrorCode, Producer, ProducerConfig, ProducerRecord};

/// Names, kinds and contents of everything under `dir` (symlinks not followed).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries {
            let e = e.unwrap();
            let path = e.path();
            let t = e.file_type().unwrap();
            let what = if t.is_symlink() {
                format!("link -> {}", std::fs::read_link(&path).unwrap().display())
            } else if t.is_dir() {
                stack.push(path.clone());
                "dir".to_string()
            } else {
                let bytes = std::fs::read(&path).unwrap();
                // FNV-1a: enough to tell contents apart in a failure message of one line.
                let hash = bytes
                    .iter()
                    .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
                format!("file {} bytes {hash:016x}", bytes.len())
            };
            out.insert(path.strip_prefix(dir).unwrap().to_path_buf(), what);
        }
    }
    out
}

/// A scratch root with `data/` (the engine's) and `outside/` (must never change).
struct Setup {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    data: PathBuf,
    outside: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let outside = root.join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("precious"), b"not eoslog's").unwrap();
        Setup { data: root.join("data"), outside, root, _tmp: tmp }
    }
}

fn plain_producer(engine: &Engine) -> Producer {
    Producer::new(engine, ProducerConfig::from_pairs(&[("linger.ms", "0")]).unwrap()).unwrap()
}

#[test]
fn illegal_topic_names_are_rejected_before_touching_the_file_system() {
    let s = Setup::new();
    let engine = common::open(&s.data);
    let before_root: Vec<_> = std::fs::read_dir(&s.root).unwrap().map(|e| e.unwrap().file_name()).collect();
    let before_data = snapshot(&s.data);
    let before_outside = snapshot(&s.outside);
    let long = "a".repeat(250);
    let names = [
        "",
        ".",
        "..",
        "/",
        "a/b",
        "../outside",
        "../../etc",
        "/tmp/x",
        "./t",
        "t/..",
        "a\\b",
        "a b",
        "a\0b",
        "a\nb",
        "é",
        "t:1",
        "t*",
        "~",
        long.as_str(),
    ];
    for name in names {
        let err = engine.create_topic(name, 1, common::small_topic()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidTopicException, "create_topic({name:?}): {err}");
        let err = engine.create_topic_with(name, 1, &[]).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidTopicException, "create_topic_with({name:?}): {err}");
        // Lookups and writes by name fail without creating anything either.
        assert!(engine.partition(name, 0).is_err(), "partition({name:?})");
        assert!(engine.produce(name, 0, &common::batch("x", 1), None).is_err(), "produce({name:?})");
        assert!(engine.delete_topic(name).is_err(), "delete_topic({name:?})");
        assert!(plain_producer(&engine).send_sync(ProducerRecord::new(name, "v").partition(0)).is_err());
    }
    // The longest legal name and the edge characters work.
    let max = "b".repeat(249);
    for name in [max.as_str(), "a.b_c-D9", "...", "-"] {
        engine.create_topic(name, 1, common::small_topic()).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    engine.close().unwrap();
    let after_root: Vec<_> = std::fs::read_dir(&s.root).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(before_root, after_root, "something was created next to the data directory");
    assert_eq!(snapshot(&s.outside), before_outside);
    let created: Vec<_> = snapshot(&s.data)
        .into_keys()
        .filter(|p| !before_data.contains_key(p) && p.components().count() == 1)
        .collect();
    for p in &created {
        let name = p.to_str().unwrap();
        assert!(
            name == ".eoslog_cleanshutdown"
                || name.ends_with("-0")
                || name.starts_with("eoslog-topics")
                || name.ends_with("checkpoint"),
            "unexpected {name} in the data directory"
        );
    }
}

/// A partition directory replaced by a symlink to a directory outside: the engine does not
/// follow it — it neither writes segments there, nor deletes the target's files when the topic
/// is deleted, nor when retention runs.
#[test]
fn a_symlinked_partition_directory_is_never_followed() {
    let s = Setup::new();
    let engine = common::open(&s.data);
    engine.create_topic("t", 2, common::small_topic()).unwrap();
    let log = engine.partition("t", 1).unwrap();
    for i in 0..20 {
        log.append(&common::batch(&format!("b{i}"), 5)).unwrap();
    }
    engine.close().unwrap();
    // The outside directory gets a copy of partition 1, so that it looks like one; t-1 becomes a
    // link to it.
    let victim = s.outside.join("victim");
    std::fs::create_dir(&victim).unwrap();
    for e in std::fs::read_dir(s.data.join("t-1")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), victim.join(e.file_name())).unwrap();
    }
    std::fs::remove_dir_all(s.data.join("t-1")).unwrap();
    symlink(&victim, s.data.join("t-1")).unwrap();
    let before = snapshot(&s.outside);

    for clean in [true, false] {
        if !clean {
            let _ = std::fs::remove_file(s.data.join(eoslog::CLEAN_SHUTDOWN_FILE));
        }
        match Engine::open(&s.data, common::config()) {
            Ok(engine) => {
                if let Ok(log) = engine.partition("t", 1) {
                    let _ = log.append(&common::batch("after", 5));
                }
                let _ = engine.run_retention();
                let _ = engine.close();
            }
            Err(e) => eprintln!("open refused (clean = {clean}): {e}"),
        }
        assert_eq!(snapshot(&s.outside), before, "the outside directory changed (clean = {clean})");
    }
    // Deleting the topic removes the link, never what it points to.
    if let Ok(engine) = Engine::open(&s.data, common::config()) {
        let _ = engine.delete_topic("t");
        let _ = engine.close();
    }
    assert_eq!(snapshot(&s.outside), before, "deleting the topic changed the outside directory");
    if let Ok(engine) = Engine::open(&s.data, common::config()) {
        let _ = engine.close();
    }
    assert_eq!(snapshot(&s.outside), before, "a reopen after the delete changed the outside directory");
}

/// Segment, index, snapshot and checkpoint files replaced by symlinks to files outside: never
/// opened through the link, never written, never deleted through it (retention, truncation,
/// topic deletion).
#[derive(Debug, Clone, Copy)]
enum LinkSet {
    /// The first segment's `.log`, `.index`, `.timeindex`, `.txnindex`, and the snapshots.
    SegmentsAndSnapshots,
    /// `leader-epoch-checkpoint` and `partition.metadata`.
    Checkpoint,
    /// No file replaced; a link named like the engine's temporary checkpoint file in the data
    /// directory.
    DataDirTemporary,
}

#[test]
fn symlinked_files_inside_a_partition_are_never_followed() {
    for set in [LinkSet::SegmentsAndSnapshots, LinkSet::Checkpoint, LinkSet::DataDirTemporary] {
        symlinked_files(set);
    }
}

fn symlinked_files(set: LinkSet) {
    let s = Setup::new();
    let engine = common::open(&s.data);
    engine.create_topic_with("t", 1, &[("segment.bytes", "1024"), ("retention.bytes", "2048")]).unwrap();
    let log = engine.partition("t", 0).unwrap();
    for i in 0..40 {
        log.append(&common::batch(&format!("b{i}"), 5)).unwrap();
    }
    engine.close().unwrap();
    let pdir = s.data.join("t-0");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&pdir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    // Replace the first segment's files and a snapshot with links to copies outside; add links
    // named like files eoslog would create or delete.
    let mut linked = 0;
    for path in &files {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let first_segment = name.starts_with(&files[0].file_stem().unwrap().to_str().unwrap().to_string());
        let chosen = match set {
            LinkSet::SegmentsAndSnapshots => first_segment || name.ends_with(".snapshot"),
            LinkSet::Checkpoint => name == "leader-epoch-checkpoint" || name == "partition.metadata",
            LinkSet::DataDirTemporary => false,
        };
        if chosen {
            let target = s.outside.join(format!("copy-{name}"));
            std::fs::copy(path, &target).unwrap();
            std::fs::remove_file(path).unwrap();
            symlink(&target, path).unwrap();
            linked += 1;
        }
    }
    match set {
        LinkSet::DataDirTemporary => {
            symlink(s.outside.join("precious"), s.data.join("recovery-point-offset-checkpoint.tmp")).unwrap()
        }
        _ => assert!(linked >= 2, "only {linked} files linked"),
    }
    if let LinkSet::SegmentsAndSnapshots = set {
        for name in ["99999999999999999999.log.deleted", "00000000000000099999.log", "x.swap", "y.cleaned"] {
            symlink(s.outside.join("precious"), pdir.join(name)).unwrap();
        }
    }
    let before = snapshot(&s.outside);

    for clean in [true, false] {
        if !clean {
            let _ = std::fs::remove_file(s.data.join(eoslog::CLEAN_SHUTDOWN_FILE));
        }
        match Engine::open(&s.data, common::config()) {
            Ok(engine) => {
                if let Ok(log) = engine.partition("t", 0) {
                    for i in 0..40 {
                        let _ = log.append(&common::batch(&format!("after{i}"), 5));
                    }
                    let _ = engine.run_retention();
                    let _ = log.truncate_to(0);
                }
                let _ = engine.close();
            }
            Err(e) => eprintln!("{set:?}: open refused (clean = {clean}): {e}"),
        }
        assert_eq!(snapshot(&s.outside), before, "{set:?}: the outside directory changed (clean = {clean})");
    }
    if let Ok(engine) = Engine::open(&s.data, common::config()) {
        let _ = engine.delete_topic("t");
        let _ = engine.close();
    }
    assert_eq!(snapshot(&s.outside), before, "{set:?}: deleting the topic changed the outside directory");
}

/// A partition directory swapped for a symlink while the engine runs, then the topic deleted:
/// the deletion removes the link and never the files of the directory it points to (it used
/// to list the link, which follows it, and delete the target's files one by one).
///
/// Not claimed: that a running engine never writes through such a swap. Paths inside a
/// partition are resolved by name, so the close before the deletion writes its producer
/// snapshot into the link's target; the engine owns its directory (it holds the lock) and
/// checks for links when it opens, not on every operation. See docs/reliability.md.
#[test]
fn deleting_a_topic_whose_directory_was_swapped_for_a_symlink_keeps_the_target() {
    let s = Setup::new();
    let engine = common::open(&s.data);
    engine.create_topic("t", 1, common::small_topic()).unwrap();
    engine.partition("t", 0).unwrap().append(&common::batch("x", 3)).unwrap();
    let victim = s.outside.join("victim");
    std::fs::create_dir(&victim).unwrap();
    for e in std::fs::read_dir(s.data.join("t-0")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), victim.join(e.file_name())).unwrap();
    }
    std::fs::rename(s.data.join("t-0"), s.root.join("moved-away")).unwrap();
    symlink(&victim, s.data.join("t-0")).unwrap();
    let before = snapshot(&s.outside);
    engine.delete_topic("t").unwrap();
    engine.close().unwrap();
    let after = snapshot(&s.outside);
    for (path, what) in &before {
        assert_eq!(after.get(path), Some(what), "{}: changed or deleted through the link", path.display());
    }
    assert!(!s.data.join("t-0").exists() && std::fs::symlink_metadata(s.data.join("t-0")).is_err());
    let engine = common::open(&s.data);
    assert!(engine.topics().is_empty());
    engine.close().unwrap();
    let again = snapshot(&s.outside);
    assert_eq!(after, again, "the reopen after the delete changed the outside directory");
}

/// The data directory itself given as a symlink is refused (the engine checks the path
/// without following it), and the refusal creates nothing, neither in the link's target nor
/// elsewhere; the real path works.
#[test]
fn a_data_directory_given_as_a_symlink_is_refused() {
    let s = Setup::new();
    let real = s.root.join("real");
    std::fs::create_dir(&real).unwrap();
    symlink(&real, &s.data).unwrap();
    let before = snapshot(&s.root);
    let Err(err) = Engine::open(&s.data, common::config()) else {
        panic!("a symlinked data directory opened")
    };
    assert_eq!(err.code(), ErrorCode::KafkaStorageError, "{err}");
    assert_eq!(snapshot(&s.root), before, "the refused open created something");
    let engine = common::open(&real);
    engine.create_topic("t", 1, common::small_topic()).unwrap();
    engine.close().unwrap();
    assert!(real.join("t-0").is_dir());
}

// ------------------------------------------------------------------------------ lock

const LOCK_CHILD: &str = "EOSLOG_SECURITY_LOCK_CHILD";

/// Child role: tries to open the directory and reports the outcome on stdout.
#[test]
fn lock_child() {
    let Ok(dir) = std::env::var(LOCK_CHILD) else { return };
    match Engine::open(&dir, EngineConfig::default()) {
        Ok(engine) => {
            println!("EVT opened");
            engine.close().unwrap();
        }
        Err(e) => println!("EVT refused {:?} {e}", e.code()),
    }
}

fn child_open(dir: &Path) -> String {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args(["--exact", "lock_child", "--nocapture", "--test-threads=1"])
        .env(LOCK_CHILD, dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find_map(|l| l.find("EVT ").map(|at| l[at + 4..].to_string()));
    line.unwrap_or_else(|| {
        panic!("the child reported nothing: {stdout}\n{}", String::from_utf8_lossy(&out.stderr))
    })
}

#[test]
fn the_directory_lock_holds_against_a_second_process() {
    if std::env::var(LOCK_CHILD).is_ok() {
        return;
    }
    let s = Setup::new();
    let engine = common::open(&s.data);
    engine.create_topic("t", 1, common::small_topic()).unwrap();
    let before = snapshot(&s.data);
    let got = child_open(&s.data);
    assert!(got.starts_with("refused KafkaStorageError"), "a second process got: {got}");
    // The refused open changed nothing.
    assert_eq!(snapshot(&s.data), before);
    // A second open in the same process is refused too.
    assert!(Engine::open(&s.data, common::config()).is_err());
    engine.close().unwrap();
    assert_eq!(child_open(&s.data), "opened", "the lock outlived close");
}

// ------------------------------------------------------------------------ permissions

fn modes(dir: &Path) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for (path, _) in snapshot(dir) {
        let meta = std::fs::symlink_metadata(dir.join(&path)).unwrap();
        let kind = if meta.is_dir() { "d" } else { "f" };
        out.insert(format!("{kind} {}", path.display()), meta.permissions().mode() & 0o777);
    }
    out
}

/// `file.mode` / `dir.mode` set the modes of everything the engine creates (the process umask
/// still applies on top: 0o640 under umask 022 stays 0o640). The defaults are 0o644 / 0o755.
#[test]
fn created_files_and_directories_get_the_configured_modes() {
    let umask = current_umask();
    for (file_mode, dir_mode) in [(None, None), (Some(0o600), Some(0o700)), (Some(0o640), Some(0o750))] {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let mut config = common::config();
        if let (Some(f), Some(d)) = (file_mode, dir_mode) {
            config.set("file.mode", &format!("{f:o}")).unwrap();
            config.set("dir.mode", &format!("{d:o}")).unwrap();
        }
        let engine = Engine::open(&data, config).unwrap();
        engine.create_topic("t", 1, common::small_topic()).unwrap();
        let log = engine.partition("t", 0).unwrap();
        for i in 0..30 {
            log.append(&common::batch(&format!("b{i}"), 5)).unwrap();
        }
        engine.offsets().commit("g", &[("t".into(), 0, eoslog::client::OffsetAndMetadata::new(1))]).unwrap();
        engine.close().unwrap();
        let want_file = file_mode.unwrap_or(0o644) & !umask;
        let want_dir = dir_mode.unwrap_or(0o755) & !umask;
        let all = modes(&data);
        assert!(all.len() > 10, "{all:?}");
        for (path, mode) in all {
            let want = if path.starts_with("d ") { want_dir } else { want_file };
            assert_eq!(mode, want, "{path}: {mode:o}, want {want:o} (umask {umask:o})");
        }
    }
}

/// The process umask, read from /proc (reading it with umask(2) would change it).
fn current_umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Umask:")).expect("Umask in /proc/self/status");
    u32::from_str_radix(line.split_whitespace().nth(1).unwrap(), 8).unwrap()
}
