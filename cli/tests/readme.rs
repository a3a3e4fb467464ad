//! The README's CLI quick start, run line by line with the built binary: a quick start that
//! does not work is a bug.

mod common;

use std::process::{Command, Stdio};

/// The shell lines of the fenced block that follows `## CLI quick start` in README.md.
fn quick_start_lines() -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let section = &readme[readme.find("## CLI quick start").expect("README has a CLI quick start")..];
    let block = &section[section.find("```sh\n").expect("a sh block") + 6..];
    let block = &block[..block.find("```").expect("the block ends")];
    block
        .lines()
        .map(|l| l.split("  #").next().unwrap().trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn cli_quick_start_runs() {
    let lines = quick_start_lines();
    assert!(lines.len() >= 5, "quick start too short: {lines:?}");
    let dir = tempfile::tempdir().unwrap();
    let mut ran = 0;
    for line in &lines {
        // Installing is what the reader does; the test has the binary already. The benchmark is
        // covered by tests/bench.rs at a size a debug build can run.
        if line.starts_with("cargo install") || line.starts_with("eoslog bench") {
            continue;
        }
        let command = line.replace("eoslog ", &format!("{} ", common::exe()));
        let out = Command::new("bash")
            .args(["-euo", "pipefail", "-c", &command])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "`{line}` failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        if line.starts_with("eoslog consume") {
            assert!(stdout.contains(r#""value":"hello""#), "consume printed {stdout}");
        }
        ran += 1;
    }
    assert_eq!(ran, 4, "produce, consume, dump and verify ran");
}
