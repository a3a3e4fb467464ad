//! `eoslog demo`: succeeds, says lost = 0 and duplicated = 0, starts from a clean directory
//! each time, and refuses to delete a directory it did not make.

mod common;

use common::{code, ok, run, stdout};

fn counter(out: &str, label: &str) -> Option<u64> {
    out.lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .map(|v| v.replace(',', "").parse().unwrap())
}

#[test]
fn demo_succeeds_twice_and_reports_no_loss_or_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let data = data.to_str().unwrap();
    for _ in 0..2 {
        let out = ok(&run(&["demo", "--data", data, "--records", "1000"]));
        assert_eq!(counter(&out, "lost "), Some(0), "{out}");
        assert_eq!(counter(&out, "duplicated "), Some(0), "{out}");
        assert!(counter(&out, "duplicates dropped ").unwrap() > 0, "{out}");
        assert!(counter(&out, "aborted, hidden ").unwrap() > 0, "{out}");
        assert!(out.contains("PRODUCER_FENCED"), "{out}");
        assert!(out.contains("SIGKILL"), "{out}");
        assert!(out.contains("All 10 checks passed"), "{out}");
        assert!(!out.contains('✗'), "{out}");
    }
    // What the demo left is a consistent data directory.
    ok(&run(&["verify", data]));
    let consumed = ok(&run(&["consume", "--data", data, "--topic", "payments", "--max-records", "3"]));
    assert_eq!(consumed.lines().count(), 3);
}

#[test]
fn demo_refuses_to_delete_a_directory_it_did_not_make() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("precious.txt"), b"keep me").unwrap();
    let out = run(&["demo", "--data", dir.path().to_str().unwrap(), "--records", "100"]);
    assert_eq!(code(&out), 5, "{}", stdout(&out));
    assert!(common::stderr(&out).contains("refusing to delete"));
    assert_eq!(std::fs::read(dir.path().join("precious.txt")).unwrap(), b"keep me");
}
