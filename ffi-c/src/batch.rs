//! Kafka RecordBatch v2 from C: a builder, an owned byte buffer, validation, and iterators
//! over the batches of a buffer and the records of a batch.

use std::ffi::c_char;
use std::ptr::NonNull;
use std::sync::Arc;

use eoslog_core::batch::{
    self, BatchIter, Compression, Record, RecordBatch, RecordBatchBuilder, RecordIter, Records,
};
use eoslog_core::config::TimestampType;
use eoslog_core::log::FetchData;

use crate::engine::index_error;
use crate::ffi::{
    array, bytes, free_handle, impl_handle, new_handle, opt_bytes, opt_slice_parts, out, try_mut, try_ref,
};
use crate::log::{eoslog_fetch, fetch_data};
use crate::panic::{result_boundary, value_boundary};
use crate::result::{FfiError, FfiResult, eoslog_result, set_last_error};

/// A batch's compression codec; the numbers are Kafka's codec ids (attribute bits 0-2).
#[allow(non_camel_case_types)]
pub type eoslog_compression = i32;
/// Uncompressed.
pub const EOSLOG_COMPRESSION_NONE: eoslog_compression = 0;
/// gzip.
pub const EOSLOG_COMPRESSION_GZIP: eoslog_compression = 1;
/// Snappy (xerial framing, as Kafka's Java client writes it).
pub const EOSLOG_COMPRESSION_SNAPPY: eoslog_compression = 2;
/// LZ4 frame.
pub const EOSLOG_COMPRESSION_LZ4: eoslog_compression = 3;
/// Zstandard.
pub const EOSLOG_COMPRESSION_ZSTD: eoslog_compression = 4;

/// What a record's timestamp means.
#[allow(non_camel_case_types)]
pub type eoslog_timestamp_type = i32;
/// The producer's timestamp.
pub const EOSLOG_TIMESTAMP_CREATE_TIME: eoslog_timestamp_type = 0;
/// The broker's clock at append time.
pub const EOSLOG_TIMESTAMP_LOG_APPEND_TIME: eoslog_timestamp_type = 1;

pub(crate) fn timestamp_type_code(t: TimestampType) -> eoslog_timestamp_type {
    match t {
        TimestampType::CreateTime => EOSLOG_TIMESTAMP_CREATE_TIME,
        TimestampType::LogAppendTime => EOSLOG_TIMESTAMP_LOG_APPEND_TIME,
    }
}

/// One record header: a UTF-8 key (never null) and a value (`value == NULL` with
/// `value_len == 0` is a null value; a non-NULL pointer with length 0 is an empty one).
///
/// As input the pointers are read during the call only. As output (record iterators, message
/// sets) they point into the owning object and stay valid as long as it does.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct eoslog_header {
    /// The key bytes (UTF-8, not NUL-terminated).
    pub key: *const u8,
    /// Length of `key`.
    pub key_len: usize,
    /// The value bytes, or NULL for a null value.
    pub value: *const u8,
    /// Length of `value`.
    pub value_len: usize,
}

/// A record header borrowed from C: key and nullable value.
pub(crate) type HeaderIn<'a> = (&'a str, Option<&'a [u8]>);

/// Reads an array of C headers as `(key, value)` pairs, checking every pointer and the keys'
/// UTF-8.
pub(crate) fn headers_in<'a>(
    headers: *const eoslog_header,
    len: usize,
    what: &str,
) -> FfiResult<Vec<HeaderIn<'a>>> {
    array(headers, len, what)?
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let key = bytes(h.key, h.key_len, &format!("{what}[{i}].key"))?;
            let key = std::str::from_utf8(key).map_err(|e| {
                FfiError::new(
                    eoslog_result::InvalidUtf8,
                    format!("{what}[{i}].key is not valid UTF-8 (invalid byte at {})", e.valid_up_to()),
                )
            })?;
            Ok((key, opt_bytes(h.value, h.value_len, &format!("{what}[{i}].value"))?))
        })
        .collect()
}

pub(crate) fn header_out(key: &str, value: Option<&[u8]>) -> eoslog_header {
    let (value, value_len) = opt_slice_parts(value);
    eoslog_header { key: key.as_ptr(), key_len: key.len(), value, value_len }
}

// ------------------------------------------------------------------------------- buffer

/// An owned byte buffer returned by eoslog (a built batch).
///
/// Released by exactly one `eoslog_buffer_free`. Thread-safety: immutable; any number of
/// threads may read it at once.
pub struct eoslog_buffer {
    _private: [u8; 0],
}

impl_handle!(eoslog_buffer => Vec<u8>, b"eos:BUFR");

/// The buffer's bytes (valid until `eoslog_buffer_free`); NULL for NULL or an invalid handle
/// (the last error says which).
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_buffer_data(buffer: *const eoslog_buffer) -> *const u8 {
    value_boundary(|| match try_ref(buffer, "buffer") {
        Ok(b) => b.as_ptr(),
        Err(e) => {
            set_last_error(e);
            std::ptr::null()
        }
    })
}

/// The buffer's length in bytes; 0 for NULL or an invalid handle (the last error says which).
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_buffer_len(buffer: *const eoslog_buffer) -> usize {
    value_boundary(|| match try_ref(buffer, "buffer") {
        Ok(b) => b.len(),
        Err(e) => {
            set_last_error(e);
            0
        }
    })
}

/// Releases a buffer. NULL is accepted and does nothing. Returns
/// `EOSLOG_RESULT_INVALID_HANDLE` for a pointer that is not a live buffer (double free).
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_buffer_free(buffer: *mut eoslog_buffer) -> eoslog_result {
    result_boundary(|| free_handle(buffer, "buffer"))
}

// ------------------------------------------------------------------------------- builder

/// Builds one RecordBatch v2, as a Kafka producer does (Rust's `RecordBatchBuilder`).
///
/// Created by `eoslog_batch_builder_new`, released by exactly one `eoslog_batch_builder_free`.
/// Defaults: uncompressed, CreateTime, no producer id/epoch/sequence (-1), not
/// transactional. Thread-safety: not thread-safe; use one builder from one thread at a time.
pub struct eoslog_batch_builder {
    _private: [u8; 0],
}

impl_handle!(eoslog_batch_builder => RecordBatchBuilder, b"eos:BLDR");

/// Creates an empty batch builder; `*out_builder` receives it (the caller owns it).
///
/// Errors: `EOSLOG_RESULT_NULL_PARAMETER`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_batch_builder_new(out_builder: *mut *mut eoslog_batch_builder) -> eoslog_result {
    result_boundary(|| {
        out(out_builder, "out_builder")?.write(new_handle::<eoslog_batch_builder>(RecordBatchBuilder::new()));
        Ok(())
    })
}

/// Releases a batch builder. NULL is accepted and does nothing. Returns
/// `EOSLOG_RESULT_INVALID_HANDLE` for a pointer that is not a live builder.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_batch_builder_free(builder: *mut eoslog_batch_builder) -> eoslog_result {
    result_boundary(|| free_handle(builder, "builder"))
}

/// Applies a by-value builder setting in place.
fn update(
    builder: *mut eoslog_batch_builder,
    f: impl FnOnce(RecordBatchBuilder) -> RecordBatchBuilder,
) -> FfiResult<()> {
    let b = try_mut(builder, "builder")?;
    *b = f(std::mem::take(b));
    Ok(())
}

/// Sets the producer id, epoch and the sequence of the first record (an idempotent or
/// transactional producer's batch). Use -1, -1, -1 for none (the default).
///
/// Errors: `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_batch_builder_set_producer(
    builder: *mut eoslog_batch_builder,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
) -> eoslog_result {
    result_boundary(|| update(builder, |b| b.producer(producer_id, producer_epoch, base_sequence)))
}

/// Marks the batch as part of a transaction (needs a producer id).
///
/// Errors: `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_batch_builder_set_transactional(
    builder: *mut eoslog_batch_builder,
    transactional: bool,
) -> eoslog_result {
    result_boundary(|| update(builder, |b| b.transactional(transactional)))
}

/// Sets the codec of the records section (`EOSLOG_COMPRESSION_*`).
///
/// Errors: `EOSLOG_RESULT_INVALID_ARGUMENT` (unknown codec), `EOSLOG_RESULT_NULL_PARAMETER`,
/// `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_batch_builder_set_compression(
    builder: *mut eoslog_batch_builder,
    compression: eoslog_compression,
) -> eoslog_result {
    result_boundary(|| {
        let codec = u8::try_from(compression)
            .ok()
            .and_then(|id| Compression::from_id(id).ok())
            .ok_or_else(|| FfiError::invalid(format!("unknown compression {compression}")))?;
        update(builder, |b| b.compression(codec))
    })
}

/// Sets the timestamp type bit (`EOSLOG_TIMESTAMP_*`).
///
/// Errors: `EOSLOG_RESULT_INVALID_ARGUMENT`, `EOSLOG_RESULT_NULL_PARAMETER`,
/// `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_batch_builder_set_timestamp_type(
    builder: *mut eoslog_batch_builder,
    timestamp_type: eoslog_timestamp_type,
) -> eoslog_result {
    result_boundary(|| {
        let t = match timestamp_type {
            EOSLOG_TIMESTAMP_CREATE_TIME => TimestampType::CreateTime,
            EOSLOG_TIMESTAMP_LOG_APPEND_TIME => TimestampType::LogAppendTime,
            other => return Err(FfiError::invalid(format!("unknown timestamp type {other}"))),
        };
        update(builder, |b| b.timestamp_type(t))
    })
}

/// Appends a record with timestamp `timestamp` (ms), a key and a value (each NULL with
/// length 0 for null; a non-NULL pointer with length 0 for empty) and `headers_len` headers.
/// The bytes are copied: they need only be valid during the call.
///
/// Errors: `EOSLOG_RESULT_NULL_PARAMETER` (NULL with a non-zero length),
/// `EOSLOG_RESULT_LENGTH_TOO_LARGE`, `EOSLOG_RESULT_INVALID_UTF8` (a header key),
/// `EOSLOG_RESULT_INVALID_HANDLE`. On error the builder is unchanged.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_batch_builder_append(
    builder: *mut eoslog_batch_builder,
    timestamp: i64,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    headers: *const eoslog_header,
    headers_len: usize,
) -> eoslog_result {
    result_boundary(|| {
        let b = try_mut(builder, "builder")?;
        let key = opt_bytes(key, key_len, "key")?;
        let value = opt_bytes(value, value_len, "value")?;
        let headers = headers_in(headers, headers_len, "headers")?;
        let total = key_len.saturating_add(value_len).saturating_add(b.estimated_size());
        if total > batch::MAX_BATCH_LENGTH as usize {
            return Err(FfiError::new(
                eoslog_result::RecordListTooLarge,
                format!(
                    "the batch would be {total} bytes, past Kafka's limit of {}",
                    batch::MAX_BATCH_LENGTH
                ),
            ));
        }
        b.append(timestamp, key, value, &headers);
        Ok(())
    })
}

/// Number of records appended so far; 0 for NULL or an invalid handle.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_batch_builder_len(builder: *const eoslog_batch_builder) -> usize {
    value_boundary(|| match try_ref(builder, "builder") {
        Ok(b) => b.len(),
        Err(e) => {
            set_last_error(e);
            0
        }
    })
}

/// Encodes the batch (compressing it, writing the header and the CRC) into a new buffer that
/// `*out_buffer` receives (the caller owns it: `eoslog_buffer_free`). The builder is unchanged
/// and may build again or take more records.
///
/// Errors: `EOSLOG_RESULT_INVALID_RECORD` (no record appended), `EOSLOG_RESULT_CORRUPT_MESSAGE`
/// (the compressor failed), `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_batch_builder_build(
    builder: *const eoslog_batch_builder,
    out_buffer: *mut *mut eoslog_buffer,
) -> eoslog_result {
    result_boundary(|| {
        let b = try_ref(builder, "builder")?;
        let out_buffer = out(out_buffer, "out_buffer")?;
        out_buffer.write(new_handle::<eoslog_buffer>(b.build()?));
        Ok(())
    })
}

/// Checks one batch (`data`, `len` bytes: exactly one batch) the way an append does before any
/// producer rule: framing, CRC-32C, codec, counts, producer fields and every record.
/// Returns `EOSLOG_RESULT_OK` for a valid batch.
///
/// Errors: `EOSLOG_RESULT_CORRUPT_MESSAGE`, `EOSLOG_RESULT_INVALID_RECORD`,
/// `EOSLOG_RESULT_UNSUPPORTED_FOR_MESSAGE_FORMAT`, `EOSLOG_RESULT_NULL_PARAMETER`,
/// `EOSLOG_RESULT_LENGTH_TOO_LARGE`. Thread-safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_batch_validate(data: *const u8, len: usize) -> eoslog_result {
    result_boundary(|| {
        RecordBatch::parse(bytes(data, len, "data")?)?.validate()?;
        Ok(())
    })
}

// ------------------------------------------------------------------------------- iterators

/// What keeps the bytes an iterator walks alive.
enum Source {
    /// Caller memory, which the caller keeps alive and unmodified until the iterator is freed.
    Borrowed,
    /// A fetch result's bytes, shared with the fetch handle.
    Fetch(Arc<FetchData>),
}

/// Iterates over back-to-back batches (a fetch result, a segment file's bytes).
///
/// Created by `eoslog_batch_iter_new` (over caller memory) or `eoslog_fetch_batches` (over a
/// fetch result, which it keeps alive); released by exactly one `eoslog_batch_iter_free`.
/// Thread-safety: not thread-safe; one thread at a time.
pub struct eoslog_batch_iter {
    _private: [u8; 0],
}

pub(crate) struct BatchIterState {
    // Field order is drop order: the borrowers go before `source`, which owns what they borrow.
    iter: BatchIter<'static>,
    current: Option<&'static [u8]>,
    source: Source,
}

impl_handle!(eoslog_batch_iter => BatchIterState, b"eos:BITR");

/// The header of one batch, read in place (`eoslog_batch_iter_next`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct eoslog_batch_info {
    /// The whole batch, header included; points into the iterator's source and stays valid
    /// while that does.
    pub data: *const u8,
    /// Length of `data` (`batchLength + 12`).
    pub len: usize,
    /// `baseOffset`.
    pub base_offset: i64,
    /// `baseOffset + lastOffsetDelta`.
    pub last_offset: i64,
    /// `partitionLeaderEpoch`.
    pub partition_leader_epoch: i32,
    /// `magic` (always 2).
    pub magic: i8,
    /// The stored CRC-32C.
    pub crc: u32,
    /// Whether the stored CRC matches the bytes.
    pub crc_valid: bool,
    /// `attributes`.
    pub attributes: i16,
    /// The codec id (attribute bits 0-2; `EOSLOG_COMPRESSION_*`, or 5-7 for an unknown one).
    pub compression: eoslog_compression,
    /// `EOSLOG_TIMESTAMP_CREATE_TIME` or `EOSLOG_TIMESTAMP_LOG_APPEND_TIME`.
    pub timestamp_type: eoslog_timestamp_type,
    /// Part of a transaction.
    pub is_transactional: bool,
    /// A control batch (transaction marker).
    pub is_control: bool,
    /// For a control batch: its record type (0 = ABORT, 1 = COMMIT, 2-6 = KRaft types), else -1.
    pub control_type: i32,
    /// `baseTimestamp`.
    pub base_timestamp: i64,
    /// `maxTimestamp`.
    pub max_timestamp: i64,
    /// `producerId` (-1 for none).
    pub producer_id: i64,
    /// `producerEpoch` (-1 for none).
    pub producer_epoch: i16,
    /// `baseSequence` (-1 for none).
    pub base_sequence: i32,
    /// `recordsCount`.
    pub records_count: i32,
}

fn batch_info(b: &RecordBatch<'_>) -> eoslog_batch_info {
    let control_type = if b.is_control() {
        b.control_record().ok().flatten().map_or(-1, |c| i32::from(c.control_type.id()))
    } else {
        -1
    };
    eoslog_batch_info {
        data: b.as_bytes().as_ptr(),
        len: b.size(),
        base_offset: b.base_offset(),
        last_offset: b.last_offset(),
        partition_leader_epoch: b.partition_leader_epoch(),
        magic: b.magic(),
        crc: b.crc(),
        crc_valid: b.is_crc_valid(),
        attributes: b.attributes().0,
        compression: i32::from(b.attributes().0 & 0x7),
        timestamp_type: timestamp_type_code(b.timestamp_type()),
        is_transactional: b.is_transactional(),
        is_control: b.is_control(),
        control_type,
        base_timestamp: b.base_timestamp(),
        max_timestamp: b.max_timestamp(),
        producer_id: b.producer_id(),
        producer_epoch: b.producer_epoch(),
        base_sequence: b.base_sequence(),
        records_count: b.records_count(),
    }
}

/// Creates an iterator over the batches in `data` (`len` bytes, batches back to back). The
/// bytes are borrowed: they must stay valid and unmodified until the iterator and every
/// record iterator made from it are freed. `*out_iter` receives the iterator (the caller owns
/// it).
///
/// Errors: `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_LENGTH_TOO_LARGE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_batch_iter_new(
    data: *const u8,
    len: usize,
    out_iter: *mut *mut eoslog_batch_iter,
) -> eoslog_result {
    result_boundary(|| {
        let data: &'static [u8] = bytes(data, len, "data")?;
        let out_iter = out(out_iter, "out_iter")?;
        out_iter.write(new_handle::<eoslog_batch_iter>(BatchIterState {
            iter: batch::batches(data),
            current: None,
            source: Source::Borrowed,
        }));
        Ok(())
    })
}

/// Creates an iterator over the batches of a fetch result. The iterator keeps the fetch
/// result's bytes alive, so it may outlive the fetch handle. `*out_iter` receives the iterator
/// (the caller owns it).
///
/// Errors: `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_fetch_batches(
    fetch: *const eoslog_fetch,
    out_iter: *mut *mut eoslog_batch_iter,
) -> eoslog_result {
    result_boundary(|| {
        let data = fetch_data(fetch)?;
        let out_iter = out(out_iter, "out_iter")?;
        let view = data.records.bytes();
        // SAFETY: the bytes live in the `FetchData` behind `data`, which is immutable and which
        // the iterator state owns (`source`) and drops after every borrower (field order), so
        // extending the borrow to the state's lifetime is sound.
        let view: &'static [u8] = unsafe { std::slice::from_raw_parts(view.as_ptr(), view.len()) };
        out_iter.write(new_handle::<eoslog_batch_iter>(BatchIterState {
            iter: batch::batches(view),
            current: None,
            source: Source::Fetch(data),
        }));
        Ok(())
    })
}

/// Advances to the next batch and writes its header to `*out_batch`.
///
/// Returns `EOSLOG_RESULT_OK` with a batch, `EOSLOG_RESULT_DONE` at the clean end of the bytes,
/// or an error for bytes that cannot be framed (`EOSLOG_RESULT_CORRUPT_MESSAGE` for a truncated
/// or impossible length, `EOSLOG_RESULT_UNSUPPORTED_FOR_MESSAGE_FORMAT` for a magic other than
/// 2), after which the iterator is exhausted. Framing reads only the headers: check
/// `crc_valid`, or call `eoslog_batch_validate`, before trusting data from outside.
///
/// Errors besides: `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_batch_iter_next(
    iter: *mut eoslog_batch_iter,
    out_batch: *mut eoslog_batch_info,
) -> eoslog_result {
    result_boundary(|| {
        let it = try_mut(iter, "iter")?;
        let out_batch = out(out_batch, "out_batch")?;
        match it.iter.next() {
            None => {
                it.current = None;
                Err(FfiError::new(eoslog_result::Done, "no more batches"))
            }
            Some(Err(e)) => {
                it.current = None;
                Err(e.into())
            }
            Some(Ok(b)) => {
                it.current = Some(b.as_bytes());
                out_batch.write(batch_info(&b));
                Ok(())
            }
        }
    })
}

/// Releases a batch iterator. NULL is accepted and does nothing. Returns
/// `EOSLOG_RESULT_INVALID_HANDLE` for a pointer that is not a live batch iterator.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_batch_iter_free(iter: *mut eoslog_batch_iter) -> eoslog_result {
    result_boundary(|| free_handle(iter, "iter"))
}

/// Iterates over the records of one batch, decompressing it if needed (under a size cap, so a
/// decompression bomb is an error, not an allocation).
///
/// Created by `eoslog_record_iter_new` or `eoslog_batch_iter_records`; released by exactly
/// one `eoslog_record_iter_free`. Thread-safety: not thread-safe; one thread at a time.
pub struct eoslog_record_iter {
    _private: [u8; 0],
}

pub(crate) struct RecordIterState {
    /// The record last returned (its headers are read by `eoslog_record_iter_get_header`).
    current: Option<Record<'static>>,
    iter: Option<RecordIter<'static>>,
    /// Leaked `Box<Records>` (possibly owning decompressed bytes) that `iter` and `current`
    /// borrow; freed in `Drop` after them.
    records: NonNull<Records<'static>>,
    /// Dropped after `records`, which may borrow from it.
    _source: Source,
}

impl Drop for RecordIterState {
    fn drop(&mut self) {
        self.current = None;
        self.iter = None;
        // SAFETY: `records` came from `Box::into_raw` in `record_iter`, is freed only here, and
        // its borrowers (`iter`, `current`) were dropped just above.
        drop(unsafe { Box::from_raw(self.records.as_ptr()) });
    }
}

impl_handle!(eoslog_record_iter => RecordIterState, b"eos:RITR");

fn record_iter(batch: &'static [u8], source: Source) -> FfiResult<RecordIterState> {
    let records = RecordBatch::parse(batch)?.records()?;
    let records = NonNull::from(Box::leak(Box::new(records)));
    // SAFETY: `records` points to a leaked box that lives until `RecordIterState::drop`, which
    // drops this iterator first; the box is never moved or mutated meanwhile.
    let iter = unsafe { records.as_ref() }.iter();
    Ok(RecordIterState { current: None, iter: Some(iter), records, _source: source })
}

/// Creates an iterator over the records of one batch (`data`, `len` bytes: exactly one batch,
/// e.g. `eoslog_batch_info.data`). The bytes are borrowed: they must stay valid and unmodified
/// until the iterator is freed. `*out_iter` receives the iterator (the caller owns it).
///
/// Errors: `EOSLOG_RESULT_CORRUPT_MESSAGE` (not exactly one batch, or the payload does not
/// decompress within the cap), `EOSLOG_RESULT_UNSUPPORTED_FOR_MESSAGE_FORMAT`,
/// `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_LENGTH_TOO_LARGE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_record_iter_new(
    data: *const u8,
    len: usize,
    out_iter: *mut *mut eoslog_record_iter,
) -> eoslog_result {
    result_boundary(|| {
        let data: &'static [u8] = bytes(data, len, "data")?;
        let out_iter = out(out_iter, "out_iter")?;
        out_iter.write(new_handle::<eoslog_record_iter>(record_iter(data, Source::Borrowed)?));
        Ok(())
    })
}

/// Creates an iterator over the records of the batch `eoslog_batch_iter_next` last returned.
/// It shares the batch iterator's source (keeping a fetch result alive; for borrowed bytes the
/// caller keeps them alive until the record iterator is freed) and is independent of the
/// batch iterator otherwise.
///
/// Errors: `EOSLOG_RESULT_INVALID_ARGUMENT` (no current batch), those of
/// `eoslog_record_iter_new`, `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_batch_iter_records(
    iter: *const eoslog_batch_iter,
    out_iter: *mut *mut eoslog_record_iter,
) -> eoslog_result {
    result_boundary(|| {
        let it = try_ref(iter, "iter")?;
        let out_iter = out(out_iter, "out_iter")?;
        let current = it.current.ok_or_else(|| {
            FfiError::invalid("the batch iterator has no current batch: call eoslog_batch_iter_next")
        })?;
        let source = match &it.source {
            Source::Borrowed => Source::Borrowed,
            Source::Fetch(data) => Source::Fetch(data.clone()),
        };
        out_iter.write(new_handle::<eoslog_record_iter>(record_iter(current, source)?));
        Ok(())
    })
}

/// One record of a batch (`eoslog_record_iter_next`).
///
/// `key` and `value` point into the batch (or into the iterator's decompressed copy) and stay
/// valid until the record iterator is freed; NULL means null (Kafka's null key, or a
/// tombstone value).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct eoslog_record {
    /// Absolute offset (base offset + offset delta).
    pub offset: i64,
    /// The timestamp a consumer sees (the batch's `maxTimestamp` for LogAppendTime batches).
    pub timestamp: i64,
    /// The key, or NULL for null.
    pub key: *const u8,
    /// Length of `key`.
    pub key_len: usize,
    /// The value, or NULL for null.
    pub value: *const u8,
    /// Length of `value`.
    pub value_len: usize,
    /// Number of headers (`eoslog_record_iter_get_header`).
    pub headers_len: usize,
}

/// Advances to the next record and writes it to `*out_record`.
///
/// Returns `EOSLOG_RESULT_OK` with a record, `EOSLOG_RESULT_DONE` after the last declared
/// record, or `EOSLOG_RESULT_INVALID_RECORD` for a malformed record (or bytes left over), after
/// which the iterator is exhausted.
///
/// Errors besides: `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_record_iter_next(
    iter: *mut eoslog_record_iter,
    out_record: *mut eoslog_record,
) -> eoslog_result {
    result_boundary(|| {
        let it = try_mut(iter, "iter")?;
        let out_record = out(out_record, "out_record")?;
        it.current = None;
        let next = it.iter.as_mut().and_then(Iterator::next);
        match next {
            None => Err(FfiError::new(eoslog_result::Done, "no more records")),
            Some(Err(e)) => Err(e.into()),
            Some(Ok(r)) => {
                let (key, key_len) = opt_slice_parts(r.key);
                let (value, value_len) = opt_slice_parts(r.value);
                out_record.write(eoslog_record {
                    offset: r.offset,
                    timestamp: r.timestamp,
                    key,
                    key_len,
                    value,
                    value_len,
                    headers_len: r.headers.len(),
                });
                it.current = Some(r);
                Ok(())
            }
        }
    })
}

/// Writes header number `index` of the record `eoslog_record_iter_next` last returned to
/// `*out_header` (pointers valid until the record iterator is freed).
///
/// Errors: `EOSLOG_RESULT_INVALID_ARGUMENT` (no current record, or index out of range),
/// `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_record_iter_get_header(
    iter: *const eoslog_record_iter,
    index: usize,
    out_header: *mut eoslog_header,
) -> eoslog_result {
    result_boundary(|| {
        let it = try_ref(iter, "iter")?;
        let out_header = out(out_header, "out_header")?;
        let r = it
            .current
            .as_ref()
            .ok_or_else(|| FfiError::invalid("the record iterator has no current record"))?;
        let h = r.headers.get(index).ok_or_else(|| index_error(index, r.headers.len()))?;
        out_header.write(header_out(h.key, h.value));
        Ok(())
    })
}

/// Releases a record iterator. NULL is accepted and does nothing. Returns
/// `EOSLOG_RESULT_INVALID_HANDLE` for a pointer that is not a live record iterator.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_record_iter_free(iter: *mut eoslog_record_iter) -> eoslog_result {
    result_boundary(|| free_handle(iter, "iter"))
}

/// Name of a compression codec id: `"none"`, `"gzip"`, `"snappy"`, `"lz4"`, `"zstd"`, or
/// `"unknown"`. Static string; never free it.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_compression_name(compression: eoslog_compression) -> *const c_char {
    value_boundary(|| match compression {
        EOSLOG_COMPRESSION_NONE => c"none".as_ptr(),
        EOSLOG_COMPRESSION_GZIP => c"gzip".as_ptr(),
        EOSLOG_COMPRESSION_SNAPPY => c"snappy".as_ptr(),
        EOSLOG_COMPRESSION_LZ4 => c"lz4".as_ptr(),
        EOSLOG_COMPRESSION_ZSTD => c"zstd".as_ptr(),
        _ => c"unknown".as_ptr(),
    })
}
