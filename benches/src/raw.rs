//! The hardware limit: the same bytes through plain file system calls, no log structure at all.
//!
//! - [`write_files`]: one file per partition, one `write` (or `pwrite`) per batch; optionally a
//!   final `fdatasync` of every file inside the timed region (W1's raw limit), or an
//!   `fdatasync` after every batch (W2's "one fsync per append" baseline);
//! - [`read_files`]: sequential reads of a log's segment files in 1 MiB chunks, optionally with
//!   a CRC-32C over every byte (the floor for W5/W6, which must read and check the same bytes);
//! - [`open_files`]: `open` + `fstat` of every file of a data directory (the floor for W7).

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::Duration;

use crate::data::Workload;
use crate::{BenchError, Context, Measurement, Result, RunDir, Timer, settle};

/// When the raw writer syncs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawSync {
    /// Never (page cache only).
    None,
    /// One `fdatasync` per file at the end, inside the timed region.
    Final,
    /// `fdatasync` after every batch (one fsync per append).
    EveryAppend,
}

struct PartFile {
    file: File,
    /// Next write position, for partitions shared by several streams (`pwrite` at a reserved
    /// range, as a log without group commit would do).
    pos: AtomicU64,
    /// The single owner's cursor file when the partition has one stream: plain `write`.
    owned: Mutex<Option<File>>,
}

/// Writes a workload's batches to one plain file per partition, one thread per stream, in a
/// fresh directory under `root`. A partition with one stream is written with sequential
/// `File::write_all` calls; a shared one with `pwrite` at ranges reserved atomically.
pub fn write_files(root: &Path, workload: &Workload, sync: RawSync) -> Result<Measurement> {
    let dir = RunDir::new_in(root)?;
    let mut streams_per_part = vec![0usize; workload.shape.partitions];
    for s in &workload.streams {
        streams_per_part[s.partition] += 1;
    }
    let parts: Vec<PartFile> = (0..workload.shape.partitions)
        .map(|p| {
            let path = dir.path().join(format!("partition-{p}.raw"));
            let file = File::options()
                .create_new(true)
                .read(true)
                .write(true)
                .open(&path)
                .ctx(|| format!("create {}", path.display()))?;
            let owned =
                if streams_per_part[p] == 1 { Some(file.try_clone().ctx(|| "dup".into())?) } else { None };
            Ok(PartFile { file, pos: AtomicU64::new(0), owned: Mutex::new(owned) })
        })
        .collect::<Result<_>>()?;
    settle();
    let barrier = Barrier::new(workload.streams.len() + 1);
    let fsyncs = AtomicU64::new(0);
    let (elapsed, cpu) = std::thread::scope(|scope| -> Result<(Duration, Duration)> {
        let handles: Vec<_> = workload
            .streams
            .iter()
            .map(|stream| {
                let part = &parts[stream.partition];
                let (barrier, fsyncs) = (&barrier, &fsyncs);
                scope.spawn(move || -> Result<()> {
                    let mut owned = part.owned.lock().map_err(|_| BenchError("poisoned".into()))?.take();
                    barrier.wait();
                    for b in &stream.batches {
                        match owned.as_mut() {
                            Some(f) => f.write_all(b).ctx(|| "write".into())?,
                            None => {
                                let at = part.pos.fetch_add(b.len() as u64, Ordering::Relaxed);
                                part.file.write_all_at(b, at).ctx(|| "pwrite".into())?;
                            }
                        }
                        if sync == RawSync::EveryAppend {
                            part.file.sync_data().ctx(|| "fdatasync".into())?;
                            fsyncs.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        barrier.wait();
        let timer = Timer::start();
        for h in handles {
            h.join().map_err(|_| BenchError("a writer thread panicked".into()))??;
        }
        if sync == RawSync::Final {
            for p in &parts {
                p.file.sync_data().ctx(|| "fdatasync".into())?;
                fsyncs.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(timer.stop())
    })?;
    let written = crate::dir_size(dir.path());
    if written != workload.bytes() {
        return Err(BenchError(format!("wrote {written} bytes, expected {}", workload.bytes())));
    }
    Ok(Measurement {
        bytes: workload.bytes(),
        records: workload.records(),
        batches: workload.batches(),
        elapsed,
        cpu,
        fsyncs: Some(fsyncs.into_inner()),
        ..Default::default()
    })
}

/// Reads every `.log` segment file under `dir` sequentially with `chunk`-byte `read` calls,
/// computing a CRC-32C of every chunk when `crc` is set. `bytes` = bytes read.
pub fn read_files(dir: &Path, chunk: usize, crc: bool) -> Result<Measurement> {
    let files = crate::engine::segment_files(dir);
    let mut buf = vec![0u8; chunk.max(1)];
    let mut m = Measurement::default();
    let mut acc = 0u32;
    let timer = Timer::start();
    for path in &files {
        let mut f = File::open(path).ctx(|| format!("open {}", path.display()))?;
        loop {
            let n = f.read(&mut buf).ctx(|| format!("read {}", path.display()))?;
            if n == 0 {
                break;
            }
            if crc {
                acc ^= crc32c::crc32c(&buf[..n]);
            }
            m.bytes += n as u64;
            m.batches += 1;
        }
    }
    (m.elapsed, m.cpu) = timer.stop();
    std::hint::black_box(acc);
    Ok(m)
}

/// Opens and `fstat`s every regular file under `dir` (recursively); `batches` = files opened,
/// `bytes` = their total size.
pub fn open_files(dir: &Path) -> Result<Measurement> {
    let timer = Timer::start();
    let mut m = Measurement::default();
    let mut stack = vec![dir.to_path_buf()];
    let mut open = Vec::new();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).ctx(|| format!("read_dir {}", d.display()))? {
            let e = e.ctx(|| "read_dir entry".into())?;
            let t = e.file_type().ctx(|| "file type".into())?;
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_file() {
                let f = File::open(e.path()).ctx(|| format!("open {}", e.path().display()))?;
                m.bytes += f.metadata().ctx(|| "fstat".into())?.len();
                m.batches += 1;
                open.push(f);
            }
        }
    }
    (m.elapsed, m.cpu) = timer.stop();
    drop(open);
    Ok(m)
}
