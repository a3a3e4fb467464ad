//! Each class of bad input gets a clear message and its own exit status, never a panic.

mod common;

use common::{code, fixtures, ok, run, run_with_input, stderr};

#[test]
fn help_documents_the_exit_statuses() {
    let out = ok(&run(&["--help"]));
    for line in [
        "Exit status:",
        "3   the path does not exist",
        "6   damaged data",
        "7   the data directory is locked",
    ] {
        assert!(out.contains(line), "{line}: {out}");
    }
    assert!(ok(&run(&["verify", "--help"])).contains("Exit status:"));
    assert!(ok(&run(&["--version"])).contains("eoslog"));
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec!["--bogus"],
        vec!["verify"],
        vec!["dump", "--no-such-flag", "x"],
        vec!["consume", "--data", "x"],
        vec!["consume", "--data", "x", "--topic", "t", "--isolation-level", "sloppy"],
        vec!["demo", "--records", "7"],
        vec!["produce", "--data", "x", "--topic", "t", "--abort"],
        vec!["nope"],
    ] {
        let out = run(&args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).is_empty());
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let out = run_with_input(&["produce", "-d", data.to_str().unwrap(), "-t", "bad/name"], "{}\n");
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("invalid topic name"), "{}", stderr(&out));
}

#[test]
fn missing_paths_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let m = missing.to_str().unwrap();
    for args in [vec!["verify", m], vec!["dump", m], vec!["consume", "-d", m, "-t", "t"]] {
        let out = run(&args);
        assert_eq!(code(&out), 3, "{args:?}");
        assert!(stderr(&out).contains("no such file or directory"), "{}", stderr(&out));
    }
    let out = run(&["produce", "-d", dir.path().to_str().unwrap(), "-t", "t", "--input", m]);
    assert_eq!(code(&out), 3);
}

#[test]
fn unreadable_paths_exit_4() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    // A path through a regular file: ENOTDIR, whoever runs the test (root reads anything).
    let through = file.join("inner");
    for args in [vec!["verify", through.to_str().unwrap()], vec!["dump", through.to_str().unwrap()]] {
        let out = run(&args);
        assert_eq!(code(&out), 4, "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("cannot read"), "{}", stderr(&out));
    }
    // Permissions, where they apply (not to root): the owner of a file we just made is us.
    let uid = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&file).unwrap());
    if uid != 0 {
        use std::os::unix::fs::PermissionsExt;
        let locked = dir.path().join("locked");
        std::fs::create_dir(&locked).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        let out = run(&["verify", locked.to_str().unwrap()]);
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(code(&out), 4, "{}", stderr(&out));
    }
}

#[test]
fn not_a_log_exits_5() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, b"hello").unwrap();
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("x.csv"), b"1,2").unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let partition = fixtures().join("epochs-0");
    for args in [
        vec!["verify", other.to_str().unwrap()],
        vec!["verify", empty.to_str().unwrap()],
        vec!["dump", text.to_str().unwrap()],
        vec!["dump", other.to_str().unwrap()],
        vec!["verify", partition.join("00000000000000000000.log").to_str().unwrap()],
        vec!["consume", "-d", other.to_str().unwrap(), "-t", "t"],
        vec!["consume", "-d", partition.to_str().unwrap(), "-t", "t"],
    ] {
        let out = run(&args);
        assert_eq!(code(&out), 5, "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("not an eoslog")
                || stderr(&out).contains("partition directory")
                || stderr(&out).contains("is a file"),
            "{}",
            stderr(&out)
        );
    }
    // produce refuses to turn a foreign directory into a data directory.
    let out = run_with_input(&["produce", "-d", other.to_str().unwrap(), "-t", "t"], "{}\n");
    assert_eq!(code(&out), 5);
    assert_eq!(std::fs::read_dir(&other).unwrap().count(), 1, "nothing was written");
}

#[test]
fn damaged_data_exits_6() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("00000000000000000000.log");
    std::fs::write(&log, b"this is not a record batch, just some bytes that are long enough").unwrap();
    let out = run(&["dump", log.to_str().unwrap()]);
    assert_eq!(code(&out), 6, "{}", stderr(&out));
    assert!(stderr(&out).contains("00000000000000000000.log"));
    let out = run(&["verify", dir.path().to_str().unwrap()]);
    assert_eq!(code(&out), 6);
}

#[test]
fn a_locked_data_directory_exits_7() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let d = data.to_str().unwrap();
    ok(&run_with_input(&["produce", "-d", d, "-t", "t"], "{\"value\": \"x\"}\n"));
    // A follower holds the directory while it reads; a producer that will not wait is refused.
    let mut follower = std::process::Command::new(common::exe())
        .args(["consume", "-d", d, "-t", "t", "--follow", "--poll-ms", "0", "--max-records", "1000"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut saw_locked = false;
    for _ in 0..200 {
        let out =
            run_with_input(&["produce", "-d", d, "-t", "t", "--wait-lock-ms", "0"], "{\"value\": \"y\"}\n");
        match code(&out) {
            7 => {
                assert!(stderr(&out).contains("in use by another eoslog process"), "{}", stderr(&out));
                saw_locked = true;
                break;
            }
            0 => continue,
            c => panic!("exit {c}: {}", stderr(&out)),
        }
    }
    follower.kill().unwrap();
    follower.wait().unwrap();
    assert!(saw_locked, "never saw the directory locked");
}

#[test]
fn bad_input_lines_exit_8() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    let d = d.to_str().unwrap();
    for (input, says) in [
        ("{\"value\": \"ok\"}\n{oops\n", "input line 2"),
        ("{\"value\": \"zz\", \"value_encoding\": \"hex\"}\n", "invalid hex"),
        ("{\"value\": \"!!\", \"value_encoding\": \"base64\"}\n", "invalid base64"),
        ("[1, 2]\n", "expected a JSON object"),
        ("{\"partition\": 9}\n", "partition 9 does not exist"),
    ] {
        let out = run_with_input(&["produce", "-d", d, "-t", "t"], input);
        assert_eq!(code(&out), 8, "{input}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{input}: {}", stderr(&out));
    }
}

#[test]
fn a_closed_pipe_ends_consume_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    let d = d.to_str().unwrap();
    let input: String = (0..5000)
        .map(|i| format!("{{\"value\": \"record {i} with some padding to fill the pipe\"}}\n"))
        .collect();
    ok(&run_with_input(&["produce", "-d", d, "-t", "t"], &input));
    let mut child = std::process::Command::new(common::exe())
        .args(["consume", "-d", d, "-t", "t"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}
