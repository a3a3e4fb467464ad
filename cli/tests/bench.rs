//! `eoslog bench` at a tiny size: it prints a table, writes JSON and draws a PNG. (Numbers are
//! measured, never asserted.)

mod common;

use common::{code, ok, run, stderr};

#[test]
fn tiny_bench_prints_a_table_json_and_a_png() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("runs");
    let png = dir.path().join("bench.png");
    let json = dir.path().join("bench.json");
    let (r, p, j) = (root.to_str().unwrap(), png.to_str().unwrap(), json.to_str().unwrap());
    let common_args = [
        "bench",
        "--dir",
        r,
        "--bytes",
        "256K",
        "--runs",
        "1",
        "--partitions",
        "1",
        "--w2-threads",
        "1,4",
        "--w2-appends",
        "16",
        "--backends",
        "std",
        "--quiet",
    ];
    let mut args = common_args.to_vec();
    args.extend(["--plot", p, "--json-out", j]);
    let table = ok(&run(&args));
    for w in ["W1", "W2", "W3", "W4", "W5", "W6", "W7"] {
        assert!(table.lines().any(|l| l.starts_with(w)), "{w} missing:\n{table}");
    }
    assert!(
        table.contains("raw write") && table.contains("commitlog") && table.contains("sqlite"),
        "{table}"
    );
    assert!(table.contains("comparison") && table.contains("target"), "{table}");

    let png_bytes = std::fs::read(&png).unwrap();
    assert!(png_bytes.len() > 1000 && png_bytes.starts_with(b"\x89PNG\r\n\x1a\n"));

    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = report["rows"].as_array().unwrap();
    assert!(rows.iter().any(|r| r["workload"] == "W1" && r["system"] == "eoslog std"));
    assert!(rows.iter().all(|r| r["runs"] == 1));
    assert!(report["machine"]["cpus"].as_u64().unwrap() >= 1);

    // --json prints the same document on stdout; the run directories are cleaned up.
    let mut args = common_args.to_vec();
    args.extend(["--json", "--workloads", "w7"]);
    let doc: serde_json::Value = serde_json::from_str(&ok(&run(&args))).unwrap();
    assert!(doc["rows"].as_array().unwrap().iter().all(|r| r["workload"] == "W7"));
    assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0, "run directories left behind");

    let out = run(&["bench", "--workloads", "w9"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let out = run(&["bench", "--bytes", "lots"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
}
