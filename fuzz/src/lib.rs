//! Shared pieces of the fuzz targets: template data directories, CRC fix-ups (so that the fuzzer
//! gets past checksums when an input asks for it), and an engine reader with the oracle checks
//! every target applies to what it reads back.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use eoslog::{
    Engine, EngineConfig, IsolationLevel, Producer, ProducerConfig, ProducerRecord, RecordBatch,
    RecordBatchBuilder,
};

/// The topic every template holds (one partition).
pub const TOPIC: &str = "t";

/// A scratch directory: under `$EOSLOG_FUZZ_SCRATCH` when set (`run.sh` sets it and removes it
/// afterwards: the templates live in statics that are never dropped, and a crashing input
/// leaves its directory behind), else on `/dev/shm` when there is one (no disk I/O per input).
pub fn scratch() -> tempfile::TempDir {
    if let Some(root) = std::env::var_os("EOSLOG_FUZZ_SCRATCH") {
        return tempfile::Builder::new().prefix("eoslog-fuzz").tempdir_in(root).expect("a scratch directory");
    }
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::Builder::new().prefix("eoslog-fuzz").tempdir_in(shm)
    {
        return dir;
    }
    tempfile::tempdir().expect("a temporary directory")
}

/// Engine settings for fuzzing: no fsync (the page cache is the disk here).
pub fn config() -> EngineConfig {
    EngineConfig::default()
}

/// Rewrites the CRC-32C of every whole batch in `buf` (a `.log` file image or one batch), so
/// that mutations inside batches reach the code behind the checksum.
pub fn fix_batch_crcs(buf: &mut [u8]) {
    let mut pos = 0;
    while buf.len() - pos >= eoslog::batch::HEADER_SIZE {
        let len = i32::from_be_bytes(buf[pos + 8..pos + 12].try_into().unwrap());
        let Ok(len) = usize::try_from(len) else { return };
        let end = pos + eoslog::batch::LOG_OVERHEAD + len;
        if len < eoslog::batch::HEADER_SIZE - eoslog::batch::LOG_OVERHEAD || end > buf.len() {
            return;
        }
        let crc = crc32c::crc32c(&buf[pos + 21..end]);
        buf[pos + 17..pos + 21].copy_from_slice(&crc.to_be_bytes());
        pos = end;
    }
}

/// Rewrites the CRC-32C of a producer snapshot image (bytes 2..6, over bytes 6..).
pub fn fix_snapshot_crc(buf: &mut [u8]) {
    if buf.len() >= 6 {
        let crc = crc32c::crc32c(&buf[6..]);
        buf[2..6].copy_from_slice(&crc.to_be_bytes());
    }
}

/// A batch of `n` records `"{prefix}-{i}"`, optionally idempotent/transactional.
pub fn batch(prefix: &str, n: usize, producer: Option<(i64, i16, i32)>, transactional: bool) -> Vec<u8> {
    let mut b = RecordBatchBuilder::new();
    if let Some((pid, epoch, seq)) = producer {
        b = b.producer(pid, epoch, seq).transactional(transactional);
    }
    for i in 0..n {
        let v = format!("{prefix}-{i}");
        b.append(1_700_000_000_000 + i as i64, Some(b"k"), Some(v.as_bytes()), &[]);
    }
    b.build().expect("a valid batch")
}

/// A data directory with topic [`TOPIC`] (small segments) holding a mix of plain, idempotent
/// and transactional batches with commit and abort markers, closed cleanly.
pub struct Template {
    _tmp: tempfile::TempDir,
    /// The data directory.
    pub dir: PathBuf,
    /// What a read_uncommitted reader sees: (offset, value) of every data record.
    pub records: Vec<(i64, Vec<u8>)>,
}

impl Template {
    fn build() -> Template {
        let tmp = scratch();
        let dir = tmp.path().join("data");
        let engine = Engine::open(&dir, config()).expect("open template");
        engine
            .create_topic_with(
                TOPIC,
                1,
                &[
                    ("segment.bytes", "1024"),
                    ("index.interval.bytes", "128"),
                    ("segment.index.bytes", "4096"),
                ],
            )
            .expect("create topic");
        let log = engine.partition(TOPIC, 0).expect("partition");
        for i in 0..6 {
            log.append(&batch(&format!("plain{i}"), 3, None, false)).expect("append");
            log.append(&batch(&format!("idem{i}"), 2, Some((1000, 0, i * 2)), false)).expect("append");
        }
        // Transactions through the in-process transactional producer: committed, aborted,
        // committed.
        let producer = Producer::new(
            &engine,
            ProducerConfig::from_pairs(&[("transactional.id", "fz"), ("linger.ms", "0")]).expect("config"),
        )
        .expect("producer");
        producer.init_transactions().expect("init_transactions");
        for (n, commit) in [(0, true), (1, false), (2, true)] {
            producer.begin_transaction().expect("begin");
            for k in 0..2 {
                producer.send(ProducerRecord::new(TOPIC, format!("txn{n}-{k}")).partition(0)).expect("send");
            }
            if commit {
                producer.commit_transaction().expect("commit");
            } else {
                producer.abort_transaction().expect("abort");
            }
        }
        producer.close().expect("close producer");
        wait_stable(&engine);
        let records = read_all(&engine, IsolationLevel::ReadUncommitted).expect("template reads");
        engine.close().expect("close template");
        Template { _tmp: tmp, dir, records }
    }

    /// A copy of the template to damage: returns the scratch directory and its data directory.
    pub fn copy(&self) -> (tempfile::TempDir, PathBuf) {
        let tmp = scratch();
        let dir = tmp.path().join("data");
        copy_tree(&self.dir, &dir);
        (tmp, dir)
    }

    /// The template's partition directory inside a copy.
    pub fn partition_dir(data: &Path) -> PathBuf {
        data.join(format!("{TOPIC}-0"))
    }
}

/// Waits until the markers of ended transactions are written (the last stable offset reaches the
/// log end).
pub fn wait_stable(engine: &Engine) {
    let log = engine.partition(TOPIC, 0).expect("partition");
    for _ in 0..10_000 {
        if log.last_stable_offset() == log.log_end_offset() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    panic!("the template's transactions never became stable");
}

/// The shared template (built once per process).
pub fn template() -> &'static Template {
    static T: OnceLock<Template> = OnceLock::new();
    T.get_or_init(Template::build)
}

/// Copies a directory tree (files and directories only).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Reads every data record of the partition at `isolation`, checking what the engine promises of
/// any read, whatever was on disk: every batch it returns is whole, carries a valid CRC and
/// decodes; offsets only go up; the reader always makes progress up to the bound it reported.
/// An `Err` from the engine is returned (bad input may be refused); a broken promise panics.
pub fn read_all(engine: &Engine, isolation: IsolationLevel) -> eoslog::Result<Vec<(i64, Vec<u8>)>> {
    let log = engine.partition(TOPIC, 0)?;
    let mut offset = log.log_start_offset();
    let mut out = Vec::new();
    let mut last = -1i64;
    loop {
        let data = log.read(offset, 1 << 20, isolation)?;
        let bound = match isolation {
            IsolationLevel::ReadCommitted => data.last_stable_offset,
            _ => data.high_watermark,
        };
        if offset >= bound {
            return Ok(out);
        }
        assert!(!data.records.is_empty(), "read at {offset} returned nothing below the bound {bound}");
        let mut next = offset;
        for b in data.records.batches() {
            let b: RecordBatch<'_> = b.unwrap_or_else(|e| panic!("the engine returned a broken batch: {e}"));
            assert!(b.is_crc_valid(), "the engine returned a batch with a bad CRC at {}", b.base_offset());
            assert!(b.base_offset() > last, "offsets went back: {} after {last}", b.base_offset());
            last = b.last_offset();
            next = b.next_offset();
            let records = b.records().unwrap_or_else(|e| panic!("a returned batch does not decode: {e}"));
            if b.is_control() {
                continue;
            }
            for r in records.iter() {
                let r = r.unwrap_or_else(|e| panic!("a returned record does not decode: {e}"));
                if r.offset >= offset {
                    out.push((r.offset, r.value.map(<[u8]>::to_vec).unwrap_or_default()));
                }
            }
        }
        assert!(next > offset, "the read at {offset} made no progress");
        offset = next;
    }
}

/// Exercises every read-side parser of one batch (used by the batch and append targets).
pub fn exercise_batch(b: &RecordBatch<'_>) {
    let valid = b.validate().is_ok();
    let _ = b.control_record();
    let _ = b.end_txn_marker();
    match b.records() {
        Ok(records) => {
            let mut n = 0usize;
            let mut failed = false;
            for r in records.iter() {
                match r {
                    Ok(r) => {
                        n += 1;
                        let _ = r.to_owned_record();
                    }
                    Err(_) => failed = true,
                }
            }
            // What validation accepts, the reader must read back in full.
            if valid {
                assert!(!failed, "a batch that validates has a record that does not parse");
                assert_eq!(n, records.len(), "a batch that validates yields another record count");
            }
        }
        Err(e) => assert!(!valid, "a batch that validates does not decode: {e}"),
    }
}
