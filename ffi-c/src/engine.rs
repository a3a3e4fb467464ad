//! The engine handle: open/close with key/value configuration, topics, the recovery report and
//! the I/O backend in use.

use std::ffi::{CString, c_char};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use eoslog_core::io::IoKind;
use eoslog_core::{Engine, EngineConfig};

use crate::ffi::{self, Out, array, c_str, free_handle, impl_handle, new_handle, out, to_cstring, try_ref};
use crate::panic::{result_boundary, value_boundary};
use crate::result::{FfiError, FfiResult, eoslog_result, set_last_error};

/// An open data directory (Rust's `Engine`).
///
/// Created by `eoslog_engine_open`, closed by `eoslog_engine_close` and released by exactly one
/// `eoslog_engine_free`. Thread-safety: every function taking a `const eoslog_engine *` may be
/// called from any number of threads at once.
pub struct eoslog_engine {
    _private: [u8; 0],
}

/// The state shared by an engine handle and every handle created from it (partitions,
/// producers, consumers): once the engine is closed, all of them report
/// `EOSLOG_RESULT_CLOSED`.
#[derive(Debug, Clone)]
pub(crate) struct EngineRef {
    pub(crate) engine: Engine,
    closed: Arc<AtomicBool>,
}

impl EngineRef {
    /// The engine, unless it was closed.
    #[inline]
    pub(crate) fn get(&self) -> FfiResult<&Engine> {
        if self.closed.load(Ordering::Acquire) {
            return Err(FfiError::closed("the engine"));
        }
        Ok(&self.engine)
    }

    /// Whether the engine was closed.
    #[inline]
    pub(crate) fn check_open(&self) -> FfiResult<()> {
        self.get().map(|_| ())
    }
}

pub(crate) struct EngineHandle {
    pub(crate) engine: EngineRef,
    /// C strings of the recovery report, built at open so the pointers stay valid for the
    /// handle's lifetime.
    recovery_names: Vec<(CString, Option<CString>)>,
}

impl_handle!(eoslog_engine => EngineHandle, b"eos:ENGN");

/// One configuration entry: a Kafka-named key and its value, both NUL-terminated UTF-8.
///
/// Used for engine settings (`io`, `durability`, `segment.bytes`, `retention.ms`, ...), topic
/// settings, producer settings and consumer settings. Arrays of pairs are applied in order.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct eoslog_config_pair {
    /// The key, e.g. `"durability"`. Must not be NULL.
    pub key: *const c_char,
    /// The value, e.g. `"always"`. Must not be NULL.
    pub value: *const c_char,
}

/// Reads an array of config pairs as `(key, value)` strings.
pub(crate) fn config_pairs<'a>(
    pairs: *const eoslog_config_pair,
    len: usize,
    what: &str,
) -> FfiResult<Vec<(&'a str, &'a str)>> {
    array(pairs, len, what)?
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Ok((c_str(p.key, &format!("{what}[{i}].key"))?, c_str(p.value, &format!("{what}[{i}].value"))?))
        })
        .collect()
}

/// Which I/O backend the engine writes with (`eoslog_engine_get_io_kind`).
#[allow(non_camel_case_types)]
pub type eoslog_io_kind = i32;
/// Portable `pwrite` / `fdatasync`.
pub const EOSLOG_IO_KIND_STD: eoslog_io_kind = 0;
/// Linux io_uring.
pub const EOSLOG_IO_KIND_URING: eoslog_io_kind = 1;
/// The in-memory fault-injecting backend of eoslog's own tests.
pub const EOSLOG_IO_KIND_FAULT: eoslog_io_kind = 2;

/// Opens (creating it if needed) the data directory `dir` and recovers it if it was not shut
/// down cleanly.
///
/// `config` is an array of `config_len` engine settings with Kafka's names, applied in order
/// over the defaults (NULL with `config_len == 0` for none). Engine keys include `io`
/// (`auto` | `uring` | `std`; default: the `EOSLOG_IO` environment variable, else `auto`),
/// `durability` (`none` | `always` | `interval(<ms>ms)`), `high.watermark`,
/// `producer.id.expiration.ms`, `transaction.max.timeout.ms`, `group.*`; any topic key such as
/// `segment.bytes` or `retention.ms` (with or without Kafka's `log.` prefix) sets the default
/// for new topics.
///
/// On success `*out` receives a new engine handle that the caller owns: close it with
/// `eoslog_engine_close` and release it with `eoslog_engine_free`.
///
/// Errors: `EOSLOG_RESULT_NULL_PARAMETER` (NULL `dir`/`out`, or NULL `config` with a non-zero
/// length), `EOSLOG_RESULT_INVALID_UTF8`, `EOSLOG_RESULT_INVALID_CONFIG` (unknown key or bad
/// value: nothing is created), `EOSLOG_RESULT_LOCKED` (another engine has the directory open),
/// `EOSLOG_RESULT_KAFKA_STORAGE_ERROR` (I/O failure, or damaged data that recovery must not
/// cut). Config is validated before the directory is touched.
///
/// Thread-safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_engine_open(
    dir: *const c_char,
    config: *const eoslog_config_pair,
    config_len: usize,
    out_engine: *mut *mut eoslog_engine,
) -> eoslog_result {
    result_boundary(|| {
        let dir = c_str(dir, "dir")?;
        let pairs = config_pairs(config, config_len, "config")?;
        let out_engine = out(out_engine, "out_engine")?;
        let mut cfg = EngineConfig::default();
        cfg.apply(pairs.iter().copied())?;
        let engine = Engine::open(dir, cfg)?;
        let recovery_names = engine
            .recovery_report()
            .partitions
            .iter()
            .map(|p| (to_cstring(&p.partition), p.truncation_reason.as_deref().map(to_cstring)))
            .collect();
        out_engine.write(new_handle(EngineHandle {
            engine: EngineRef { engine, closed: Arc::new(AtomicBool::new(false)) },
            recovery_names,
        }));
        Ok(())
    })
}

/// Closes the engine: stops background work, flushes every partition, writes the checkpoints
/// and the clean-shutdown marker, and releases the directory lock. Every handle created from
/// this engine (partitions, producers, consumers) fails with `EOSLOG_RESULT_CLOSED` from now
/// on; fetch results, message sets and buffers already returned stay readable.
///
/// The handle must still be released with `eoslog_engine_free`. A second close returns
/// `EOSLOG_RESULT_CLOSED`.
///
/// Errors: `EOSLOG_RESULT_KAFKA_STORAGE_ERROR` if a partition could not be flushed (the engine
/// is closed all the same; the next open recovers), `EOSLOG_RESULT_CLOSED`,
/// `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`.
///
/// Thread-safety: any thread; calls racing with the close on other threads either complete
/// or fail with `EOSLOG_RESULT_CLOSED`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_engine_close(engine: *const eoslog_engine) -> eoslog_result {
    result_boundary(|| {
        let h = try_ref(engine, "engine")?;
        if h.engine.closed.swap(true, Ordering::AcqRel) {
            return Err(FfiError::closed("the engine"));
        }
        h.engine.engine.close()?;
        Ok(())
    })
}

/// Releases an engine handle, closing the engine first if `eoslog_engine_close` was not
/// called (errors of that implicit close are not reported: call `eoslog_engine_close` to see
/// them). NULL is accepted and does nothing.
///
/// Returns `EOSLOG_RESULT_OK`, or `EOSLOG_RESULT_INVALID_HANDLE` when the pointer is not a live
/// engine handle (for example a double free, detected for recently freed handles).
///
/// Thread-safety: no other call may be using this handle.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_engine_free(engine: *mut eoslog_engine) -> eoslog_result {
    result_boundary(|| {
        if !engine.is_null() {
            let h = try_ref(engine.cast_const(), "engine")?;
            if !h.engine.closed.swap(true, Ordering::AcqRel) {
                let _ = h.engine.engine.close();
            }
        }
        free_handle(engine, "engine")
    })
}

/// Makes everything appended so far durable in every partition and writes the recovery-point
/// checkpoint.
///
/// Errors: `EOSLOG_RESULT_KAFKA_STORAGE_ERROR`, `EOSLOG_RESULT_CLOSED`,
/// `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`. Thread-safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_engine_flush(engine: *const eoslog_engine) -> eoslog_result {
    result_boundary(|| {
        try_ref(engine, "engine")?.engine.get()?.flush()?;
        Ok(())
    })
}

/// Runs retention (`retention.ms`, `retention.bytes`) on every partition now, instead of
/// waiting for the background check; `*out_deleted_segments` receives the number of segments
/// deleted.
///
/// Errors: `EOSLOG_RESULT_KAFKA_STORAGE_ERROR`, `EOSLOG_RESULT_CLOSED`,
/// `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`. Thread-safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_engine_run_retention(
    engine: *const eoslog_engine,
    out_deleted_segments: *mut usize,
) -> eoslog_result {
    result_boundary(|| {
        let h = try_ref(engine, "engine")?;
        let out_deleted = out(out_deleted_segments, "out_deleted_segments")?;
        out_deleted.write(h.engine.get()?.run_retention()?);
        Ok(())
    })
}

/// Writes the I/O backend the engine writes with to `*out_kind`: `EOSLOG_IO_KIND_STD` or
/// `EOSLOG_IO_KIND_URING` (`EOSLOG_IO_KIND_FAULT` only in eoslog's own tests).
///
/// Errors: `EOSLOG_RESULT_CLOSED`, `EOSLOG_RESULT_NULL_PARAMETER`,
/// `EOSLOG_RESULT_INVALID_HANDLE`. Thread-safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_engine_get_io_kind(
    engine: *const eoslog_engine,
    out_kind: *mut eoslog_io_kind,
) -> eoslog_result {
    result_boundary(|| {
        let h = try_ref(engine, "engine")?;
        let out_kind = out(out_kind, "out_kind")?;
        out_kind.write(match h.engine.get()?.io_kind() {
            IoKind::Std => EOSLOG_IO_KIND_STD,
            IoKind::Uring => EOSLOG_IO_KIND_URING,
            IoKind::Fault => EOSLOG_IO_KIND_FAULT,
        });
        Ok(())
    })
}

/// The name of an I/O backend kind: `"std"`, `"uring"`, `"fault"`, or `"unknown"`.
///
/// Ownership: static string, never free it. Thread-safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_io_kind_name(kind: eoslog_io_kind) -> *const c_char {
    value_boundary(|| match kind {
        EOSLOG_IO_KIND_STD => c"std".as_ptr(),
        EOSLOG_IO_KIND_URING => c"uring".as_ptr(),
        EOSLOG_IO_KIND_FAULT => c"fault".as_ptr(),
        _ => c"unknown".as_ptr(),
    })
}

/// What opening the data directory found (`eoslog_engine_get_recovery_report`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct eoslog_recovery_report {
    /// The previous run closed the engine cleanly (no data was scanned).
    pub clean_shutdown: bool,
    /// Number of partitions (including eoslog's internal ones); index range of
    /// `eoslog_engine_get_recovery_partition`.
    pub partitions_len: usize,
    /// Partitions where recovery cut or rebuilt something.
    pub partitions_changed: usize,
    /// Bytes cut from the ends of logs (torn or corrupt tails), all partitions together.
    pub truncated_bytes: u64,
    /// Time the open took, in microseconds.
    pub duration_us: u64,
    /// Leftover directories of deleted topics that were removed.
    pub removed_directories: usize,
}

/// One partition's recovery findings (`eoslog_engine_get_recovery_partition`).
///
/// The strings belong to the engine handle and stay valid until it is freed.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct eoslog_partition_recovery {
    /// `topic-partition`, NUL-terminated.
    pub partition: *const c_char,
    /// The log was opened as cleanly shut down (no scan).
    pub clean_shutdown: bool,
    /// Segments fully scanned.
    pub segments_recovered: usize,
    /// Batches checked by the scan.
    pub batches_scanned: u64,
    /// Bytes checked by the scan.
    pub bytes_scanned: u64,
    /// Bytes cut from the end of the log.
    pub truncated_bytes: u64,
    /// The offset the log was truncated to, or -1 if it was not.
    pub truncated_to_offset: i64,
    /// Why the tail was cut (NUL-terminated), or NULL.
    pub truncation_reason: *const c_char,
    /// Segments deleted because they followed the damage.
    pub deleted_segments: usize,
    /// Segments whose indexes were rebuilt.
    pub rebuilt_indexes: usize,
    /// Batches replayed to rebuild producer state.
    pub producer_state_batches_replayed: u64,
    /// Log end offset after opening.
    pub log_end_offset: i64,
}

/// Writes the summary of what opening the data directory found (clean or not, what recovery
/// cut or rebuilt) to `*out_report`. Per-partition details: `eoslog_engine_get_recovery_partition`.
///
/// Errors: `EOSLOG_RESULT_CLOSED`, `EOSLOG_RESULT_NULL_PARAMETER`,
/// `EOSLOG_RESULT_INVALID_HANDLE`. Thread-safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_engine_get_recovery_report(
    engine: *const eoslog_engine,
    out_report: *mut eoslog_recovery_report,
) -> eoslog_result {
    result_boundary(|| {
        let h = try_ref(engine, "engine")?;
        let out_report = out(out_report, "out_report")?;
        let r = h.engine.get()?.recovery_report();
        out_report.write(eoslog_recovery_report {
            clean_shutdown: r.clean_shutdown,
            partitions_len: r.partitions.len(),
            partitions_changed: r.changed().count(),
            truncated_bytes: r.truncated_bytes(),
            duration_us: u64::try_from(r.duration.as_micros()).unwrap_or(u64::MAX),
            removed_directories: r.removed_directories.len(),
        });
        Ok(())
    })
}

/// Writes the recovery findings of partition number `index` (`0 <= index <
/// partitions_len` of the report) to `*out_partition`.
///
/// Errors: `EOSLOG_RESULT_INVALID_ARGUMENT` (index out of range), `EOSLOG_RESULT_CLOSED`,
/// `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`. Thread-safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_engine_get_recovery_partition(
    engine: *const eoslog_engine,
    index: usize,
    out_partition: *mut eoslog_partition_recovery,
) -> eoslog_result {
    result_boundary(|| {
        let h = try_ref(engine, "engine")?;
        let out_partition = out(out_partition, "out_partition")?;
        let r = h.engine.get()?.recovery_report();
        let (p, (name, reason)) = r
            .partitions
            .get(index)
            .zip(h.recovery_names.get(index))
            .ok_or_else(|| index_error(index, r.partitions.len()))?;
        out_partition.write(eoslog_partition_recovery {
            partition: name.as_ptr(),
            clean_shutdown: p.clean_shutdown,
            segments_recovered: p.segments_recovered,
            batches_scanned: p.batches_scanned,
            bytes_scanned: p.bytes_scanned,
            truncated_bytes: p.truncated_bytes,
            truncated_to_offset: p.truncated_to_offset.unwrap_or(-1),
            truncation_reason: ffi::opt_ptr(reason),
            deleted_segments: p.deleted_segments.len(),
            rebuilt_indexes: p.rebuilt_indexes.len(),
            producer_state_batches_replayed: p.producer_state_batches_replayed,
            log_end_offset: p.log_end_offset,
        });
        Ok(())
    })
}

pub(crate) fn index_error(index: usize, len: usize) -> FfiError {
    FfiError::invalid(format!("index {index} is out of range (length {len})"))
}

/// Creates topic `name` with `partitions` partitions. `config` is an array of `config_len`
/// topic settings (`segment.bytes`, `retention.ms`, `retention.bytes`, `max.message.bytes`,
/// `message.timestamp.type`, ...) layered over the engine's topic defaults; NULL with
/// `config_len == 0` for none.
///
/// Errors: `EOSLOG_RESULT_INVALID_TOPIC_EXCEPTION` (illegal or reserved name),
/// `EOSLOG_RESULT_TOPIC_ALREADY_EXISTS`, `EOSLOG_RESULT_INVALID_PARTITIONS` (not 1..=100000),
/// `EOSLOG_RESULT_INVALID_CONFIG`, `EOSLOG_RESULT_KAFKA_STORAGE_ERROR`, plus the usual
/// argument and handle errors. Names and settings are checked before anything is written.
///
/// Thread-safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_engine_create_topic(
    engine: *const eoslog_engine,
    name: *const c_char,
    partitions: i32,
    config: *const eoslog_config_pair,
    config_len: usize,
) -> eoslog_result {
    result_boundary(|| {
        let h = try_ref(engine, "engine")?;
        let name = c_str(name, "name")?;
        let pairs = config_pairs(config, config_len, "config")?;
        h.engine.get()?.create_topic_with(name, partitions, &pairs)?;
        Ok(())
    })
}

/// Deletes topic `name` and all of its data. Partition handles of the topic fail from now on.
///
/// Errors: `EOSLOG_RESULT_UNKNOWN_TOPIC_OR_PARTITION`, `EOSLOG_RESULT_INVALID_TOPIC_EXCEPTION`
/// (illegal name, or an internal topic), `EOSLOG_RESULT_KAFKA_STORAGE_ERROR`, plus the usual
/// argument and handle errors. Thread-safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_engine_delete_topic(
    engine: *const eoslog_engine,
    name: *const c_char,
) -> eoslog_result {
    result_boundary(|| {
        let h = try_ref(engine, "engine")?;
        let name = c_str(name, "name")?;
        h.engine.get()?.delete_topic(name)?;
        Ok(())
    })
}

/// A snapshot of the engine's topics (`eoslog_engine_list_topics`).
///
/// Released by exactly one `eoslog_topic_list_free`; independent of the engine afterwards.
/// Thread-safety: immutable; any number of threads may read it at once.
pub struct eoslog_topic_list {
    _private: [u8; 0],
}

pub(crate) struct TopicEntry {
    name: CString,
    topic_id: CString,
    partitions: i32,
    internal: bool,
    config: Vec<(CString, CString)>,
}

impl_handle!(eoslog_topic_list => Vec<TopicEntry>, b"eos:TPCL");

/// One topic of a `eoslog_topic_list`. The strings belong to the list.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct eoslog_topic_info {
    /// The name, NUL-terminated.
    pub name: *const c_char,
    /// Number of partitions.
    pub partitions: i32,
    /// Kafka's topic id (base64), NUL-terminated.
    pub topic_id: *const c_char,
    /// Whether eoslog owns it (`__transaction_state`, `__consumer_offsets`).
    pub internal: bool,
    /// Number of configuration entries (`eoslog_topic_list_get_config`).
    pub config_len: usize,
}

/// Lists the topics, sorted by name; with `include_internal`, eoslog's internal topics too.
/// On success `*out_list` receives a list the caller owns (`eoslog_topic_list_free`).
///
/// Errors: `EOSLOG_RESULT_CLOSED`, `EOSLOG_RESULT_NULL_PARAMETER`,
/// `EOSLOG_RESULT_INVALID_HANDLE`. Thread-safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_engine_list_topics(
    engine: *const eoslog_engine,
    include_internal: bool,
    out_list: *mut *mut eoslog_topic_list,
) -> eoslog_result {
    result_boundary(|| {
        let h = try_ref(engine, "engine")?;
        let out_list = out(out_list, "out_list")?;
        let e = h.engine.get()?;
        let topics = if include_internal { e.all_topics() } else { e.topics() };
        let entries = topics
            .into_iter()
            .map(|t| TopicEntry {
                name: to_cstring(&t.name),
                topic_id: to_cstring(&t.topic_id),
                partitions: t.partitions,
                internal: t.internal,
                config: t
                    .config
                    .to_pairs()
                    .into_iter()
                    .map(|(k, v)| (to_cstring(k), to_cstring(v.as_str())))
                    .collect(),
            })
            .collect();
        out_list.write(new_handle::<eoslog_topic_list>(entries));
        Ok(())
    })
}

/// Number of topics in the list; 0 for NULL or an invalid handle (which also records
/// `EOSLOG_RESULT_NULL_PARAMETER` / `EOSLOG_RESULT_INVALID_HANDLE` as the last error).
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_topic_list_len(list: *const eoslog_topic_list) -> usize {
    value_boundary(|| match try_ref(list, "list") {
        Ok(l) => l.len(),
        Err(e) => {
            set_last_error(e);
            0
        }
    })
}

/// Writes topic number `index` of the list to `*out_topic`.
///
/// Errors: `EOSLOG_RESULT_INVALID_ARGUMENT` (index out of range), `EOSLOG_RESULT_NULL_PARAMETER`,
/// `EOSLOG_RESULT_INVALID_HANDLE`. Thread-safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_topic_list_get(
    list: *const eoslog_topic_list,
    index: usize,
    out_topic: *mut eoslog_topic_info,
) -> eoslog_result {
    result_boundary(|| {
        let l = try_ref(list, "list")?;
        let out_topic = out(out_topic, "out_topic")?;
        let t = l.get(index).ok_or_else(|| index_error(index, l.len()))?;
        out_topic.write(eoslog_topic_info {
            name: t.name.as_ptr(),
            partitions: t.partitions,
            topic_id: t.topic_id.as_ptr(),
            internal: t.internal,
            config_len: t.config.len(),
        });
        Ok(())
    })
}

/// Writes configuration entry `config_index` of topic `index` (Kafka-named key and its
/// effective value, sorted by key) to `*out_pair`. The strings belong to the list.
///
/// Errors: `EOSLOG_RESULT_INVALID_ARGUMENT` (an index out of range),
/// `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`. Thread-safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_topic_list_get_config(
    list: *const eoslog_topic_list,
    index: usize,
    config_index: usize,
    out_pair: *mut eoslog_config_pair,
) -> eoslog_result {
    result_boundary(|| {
        let l = try_ref(list, "list")?;
        let out_pair: Out<eoslog_config_pair> = out(out_pair, "out_pair")?;
        let t = l.get(index).ok_or_else(|| index_error(index, l.len()))?;
        let (k, v) = t.config.get(config_index).ok_or_else(|| index_error(config_index, t.config.len()))?;
        out_pair.write(eoslog_config_pair { key: k.as_ptr(), value: v.as_ptr() });
        Ok(())
    })
}

/// Releases a topic list. NULL is accepted and does nothing. Returns
/// `EOSLOG_RESULT_INVALID_HANDLE` for a pointer that is not a live topic list (double free).
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_topic_list_free(list: *mut eoslog_topic_list) -> eoslog_result {
    result_boundary(|| free_handle(list, "list"))
}
