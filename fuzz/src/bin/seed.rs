//! Writes the seed corpora: `seed DIR` fills `DIR/<target>/` with valid inputs for each fuzz
//! target (valid batches of every kind, the template's real segment, indexes and snapshots).
//! Small on purpose; the corpora the fuzzer grows from them are not committed.

use std::path::Path;

use eoslog::batch::EndTxnMarker;
use eoslog::{Compression, RecordBatchBuilder};
use eoslog_fuzz::{Template, batch};

fn write(dir: &Path, target: &str, name: &str, flags: u8, body: &[u8]) {
    let d = dir.join(target);
    std::fs::create_dir_all(&d).expect("mkdir");
    let mut data = vec![flags];
    data.extend_from_slice(body);
    std::fs::write(d.join(name), data).expect("write seed");
}

fn batches() -> Vec<(String, Vec<u8>)> {
    let mut out = vec![
        ("plain".to_string(), batch("p", 3, None, false)),
        ("idempotent".to_string(), batch("i", 2, Some((7, 0, 0)), false)),
        ("transactional".to_string(), batch("t", 2, Some((8, 1, 0)), true)),
        (
            "commit_marker".to_string(),
            EndTxnMarker { commit: true, coordinator_epoch: 0 }.build_batch(8, 1, 1_700_000_000_000),
        ),
        (
            "abort_marker".to_string(),
            EndTxnMarker { commit: false, coordinator_epoch: 3 }.build_batch(8, 1, 1_700_000_000_000),
        ),
    ];
    for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
        let mut b = RecordBatchBuilder::new().compression(codec);
        for i in 0..4 {
            b.append(
                1_700_000_000_000 + i,
                Some(b"key"),
                Some(format!("value-{i}").as_bytes()),
                &[("h", Some(b"v"))],
            );
        }
        out.push((format!("{codec:?}").to_lowercase(), b.build().expect("compressed batch")));
    }
    out
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: seed DIR");
    let dir = Path::new(&dir);
    let all = batches();
    for (name, b) in &all {
        for flags in [0u8, 1] {
            write(dir, "batch_parse", &format!("{name}-{flags}"), flags, b);
        }
        // Client, follower and produce paths; with and without the CRC fix-up.
        for flags in [0u8, 2, 4, 1] {
            write(dir, "partition_append", &format!("{name}-{flags}"), flags, b);
        }
    }
    // The C ABI target: the first byte picks the entry point (0 validate + iterate, 1 append,
    // 2 produce, 3 create/delete a topic, 4 open a partition); 0x80 fixes CRCs up.
    for (name, b) in &all {
        for selector in [0u8, 1, 2, 0x80] {
            write(dir, "ffi_c", &format!("{name}-{selector}"), selector, b);
        }
    }
    for (i, topic) in ["t", "..", "a/b", "ok.topic-1", "__consumer_offsets", "../escape"].iter().enumerate() {
        write(dir, "ffi_c", &format!("topic{i}-create"), 3, topic.as_bytes());
        write(dir, "ffi_c", &format!("topic{i}-open"), 4, topic.as_bytes());
    }
    let concatenated: Vec<u8> = all.iter().flat_map(|(_, b)| b.iter().copied()).collect();
    write(dir, "batch_parse", "all", 0, &concatenated);

    let template = eoslog_fuzz::template();
    let pdir = Template::partition_dir(&template.dir);
    let read = |name: &str| std::fs::read(pdir.join(name)).unwrap_or_default();
    let base = "00000000000000000000";
    let log = read(&format!("{base}.log"));
    for flags in [0u8, 1, 2] {
        write(dir, "segment_recovery", &format!("template-{flags}"), flags, &log);
    }
    write(dir, "segment_recovery", "batches", 0, &concatenated);

    let mut indexes = Vec::new();
    for ext in ["index", "timeindex"] {
        let bytes = read(&format!("{base}.{ext}"));
        indexes.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
        indexes.extend_from_slice(&bytes);
    }
    indexes.extend_from_slice(&read(&format!("{base}.txnindex")));
    for flags in [0u8, 1] {
        write(dir, "index_load", &format!("template-{flags}"), flags, &indexes);
    }

    let mut n = 0;
    for entry in std::fs::read_dir(&pdir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "snapshot") {
            let bytes = std::fs::read(&path).expect("snapshot");
            for flags in [0u8, 2] {
                write(dir, "snapshot_load", &format!("snapshot{n}-{flags}"), flags, &bytes);
            }
            n += 1;
        }
    }
    let entries = eoslog::producer::encode_snapshot(&[]);
    write(dir, "snapshot_load", "empty", 0, &entries);
    println!("seed corpora written to {}", dir.display());
}
