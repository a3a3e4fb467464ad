//! Runs the real-client suite (`tests/test_kafka_clients.py`, librdkafka through
//! confluent-kafka) against the broker binary of this very build, so `make test-broker` reuses
//! what `cargo test` compiled.
//!
//! Ignored by default because it needs the Python environment: `make test-broker` creates it
//! (`.venv` with confluent-kafka and pytest) and runs this test with `--ignored`.

use std::path::Path;
use std::process::Command;

#[test]
#[ignore = "needs .venv with confluent-kafka and pytest; run it with `make test-broker`"]
fn librdkafka_clients_against_the_broker() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var("EOSLOG_BROKER_PYTHON")
        .unwrap_or_else(|_| crate_dir.join("../../.venv/bin/python").to_string_lossy().into_owned());
    // A base directory of our own: pytest's default one under /tmp is shared by every pytest
    // run of the user, and each run deletes all but the three newest (a broker's data
    // directory among them, while it runs).
    let basetemp = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kafka-clients");
    let status = Command::new(&python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(format!("--basetemp={}", basetemp.display()))
        .arg(crate_dir.join("tests"))
        .env("EOSLOG_BROKER_BIN", env!("CARGO_BIN_EXE_eoslog-broker"))
        .status()
        .unwrap_or_else(|e| {
            panic!("cannot run {python}: {e} (run `make test-broker` to create the environment)")
        });
    assert!(status.success(), "the confluent-kafka suite failed: {status}");
}
