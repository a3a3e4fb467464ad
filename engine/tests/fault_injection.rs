//! Integration tests see `eoslog::io::fault` because `engine/Cargo.toml` has a dev-dependency
//! on the crate itself with the `fault-injection` feature. This file checks that wiring and shows
//! the crash-point loop an engine test would use, through the public API only.

use std::io;
use std::path::Path;
use std::sync::Arc;

use eoslog::io::fault::{CrashMode, FaultBackend, FaultPlan, SimulatedFailure};
use eoslog::io::{IoBackend, OpenMode};

/// Appends three records of 100 bytes, each followed by a sync; returns how many were
/// acknowledged (their sync returned Ok).
fn append_three(io: &Arc<dyn IoBackend>) -> usize {
    let mut acked = 0;
    let mut run = || -> io::Result<()> {
        io.create_dir_all(Path::new("/data/t-0"))?;
        io.sync_dir(Path::new("/data"))?;
        io.sync_dir(Path::new("/"))?;
        let log = io.open(Path::new("/data/t-0/00000000000000000000.log"), OpenMode::Create)?;
        io.sync_dir(Path::new("/data/t-0"))?;
        for i in 0..3u8 {
            log.write_all_at_and_sync(&[i; 100], 100 * i as u64)?;
            acked += 1;
        }
        Ok(())
    };
    match run() {
        Ok(()) => {}
        Err(e) => assert_eq!(SimulatedFailure::of(&e), Some(SimulatedFailure::ProcessDead), "{e}"),
    }
    acked
}

#[test]
fn every_crash_point_keeps_every_acknowledged_append() {
    let probe = FaultBackend::new();
    assert_eq!(append_three(&(Arc::new(probe.clone()) as Arc<dyn IoBackend>)), 3);
    let ops = probe.op_count();
    assert!(ops >= 10);
    for n in 1..=ops {
        for mode in [
            CrashMode::DropUnsynced,
            CrashMode::KeepRandomPrefix { seed: n },
            CrashMode::Torn { seed: n, sector: 512 },
        ] {
            let disk = FaultBackend::new();
            disk.set_plan(FaultPlan::new().die_at(n));
            let acked = append_three(&(Arc::new(disk.clone()) as Arc<dyn IoBackend>));
            disk.crash_with(mode);
            let survived =
                disk.file_bytes(Path::new("/data/t-0/00000000000000000000.log")).unwrap_or_default();
            assert!(survived.len() >= 100 * acked, "die at {n}, {mode:?}: lost an acknowledged append");
            for (i, record) in survived.chunks(100).take(acked).enumerate() {
                assert!(record.iter().all(|&b| b == i as u8), "die at {n}, {mode:?}: record {i} damaged");
            }
        }
    }
}
