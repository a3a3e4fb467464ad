//! Helpers shared by the CLI tests: run the built `eoslog` binary, find the fixtures, snapshot a
//! directory's bytes.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The binary under test.
pub fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_eoslog")
}

/// Runs `eoslog args...` with `stdin` as input.
pub fn run_with_input(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(exe())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start eoslog");
    let mut input = child.stdin.take().unwrap();
    // A child that fails before reading its input (a usage error, a bad path) closes the pipe:
    // that broken pipe is part of the behaviour under test, not a harness failure.
    if let Err(e) = input.write_all(stdin.as_bytes()) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "writing the child's input: {e}");
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// Runs `eoslog args...` with no input.
pub fn run(args: &[&str]) -> Output {
    Command::new(exe()).args(args).stdin(Stdio::null()).output().expect("start eoslog")
}

/// Exit status, asserting the process was not killed by a signal (a panic would abort it or
/// give 101/70).
pub fn code(out: &Output) -> i32 {
    let c = out.status.code().expect("eoslog exited normally");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked") && !stderr.contains("internal error"), "panic: {stderr}");
    c
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts success and returns stdout.
pub fn ok(out: &Output) -> String {
    assert_eq!(code(out), 0, "stdout: {}\nstderr: {}", stdout(out), stderr(out));
    stdout(out)
}

/// `tests/fixtures/kafka-dirs` at the workspace root.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/kafka-dirs")
}

pub const FIXTURES: [&str; 4] = ["idempotent-0", "transactions-0", "compressed-0", "epochs-0"];

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Every file under `dir` with its bytes and modification time.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                let meta = e.metadata().unwrap();
                out.insert(e.path(), (std::fs::read(e.path()).unwrap(), meta.modified().unwrap()));
            }
        }
    }
    out
}

/// Parses JSON lines.
pub fn json_lines(s: &str) -> Vec<serde_json::Value> {
    s.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect()
}
