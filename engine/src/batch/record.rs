//! Records inside a batch: the borrowed [`Record`] view, the iterator over a batch's (possibly
//! decompressed) records, and the single record parser that both reading and validation use.
//!
//! Record layout: `length varint` (bytes after it), `attributes i8`, `timestampDelta varlong`,
//! `offsetDelta varint`, `keyLength varint` + key (−1 = null), `valueLength varint` + value
//! (−1 = null), `headerCount varint`, then per header `keyLength varint` + UTF-8 key (never
//! null), `valueLength varint` + value (−1 = null).

use std::borrow::Cow;
use std::fmt;

use super::Compression;
use super::codec::{decompress, decompression_limit};
use super::header::RecordBatch;
use super::varint::Reader;
use crate::config::TimestampType;
use crate::error::BatchError;

/// One record header, borrowed from the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'r> {
    /// The header key (valid UTF-8; never null).
    pub key: &'r str,
    /// The header value; `None` for null.
    pub value: Option<&'r [u8]>,
}

/// One record, borrowed from its batch (or from the batch's decompressed records).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'r> {
    /// Absolute offset: the batch's base offset + `offset_delta`.
    pub offset: i64,
    /// Offset relative to the batch's base offset.
    pub offset_delta: i32,
    /// The timestamp a consumer sees: base timestamp + `timestamp_delta`, or the batch's
    /// `maxTimestamp` for LogAppendTime batches.
    pub timestamp: i64,
    /// Timestamp relative to the batch's base timestamp, as stored.
    pub timestamp_delta: i64,
    /// The key; `None` for null.
    pub key: Option<&'r [u8]>,
    /// The value; `None` for null (a tombstone).
    pub value: Option<&'r [u8]>,
    /// Headers in stored order (keys may repeat).
    pub headers: Vec<Header<'r>>,
}

/// A record that owns its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedRecord {
    /// Absolute offset.
    pub offset: i64,
    /// The timestamp a consumer sees.
    pub timestamp: i64,
    /// The key; `None` for null.
    pub key: Option<Vec<u8>>,
    /// The value; `None` for null.
    pub value: Option<Vec<u8>>,
    /// Headers in stored order.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl Record<'_> {
    /// Copies the record out of the batch.
    pub fn to_owned_record(&self) -> OwnedRecord {
        OwnedRecord {
            offset: self.offset,
            timestamp: self.timestamp,
            key: self.key.map(<[u8]>::to_vec),
            value: self.value.map(<[u8]>::to_vec),
            headers: self.headers.iter().map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec))).collect(),
        }
    }
}

/// A record as parsed from the bytes, before headers are collected. Parsing it fully checks the
/// record's structure (including every header), so building a [`Record`] from it cannot fail.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawRecord<'r> {
    pub(crate) attributes: i8,
    pub(crate) timestamp_delta: i64,
    pub(crate) offset_delta: i32,
    pub(crate) key: Option<&'r [u8]>,
    pub(crate) value: Option<&'r [u8]>,
    header_count: u32,
    headers: &'r [u8],
}

/// Iterates over the headers encoded in `buf` (already length-checked by [`read_record`], but
/// every read is still bounds-checked).
struct HeaderIter<'r> {
    reader: Reader<'r>,
    remaining: u32,
}

impl<'r> Iterator for HeaderIter<'r> {
    type Item = Result<Header<'r>, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let result = read_header(&mut self.reader);
        if result.is_err() {
            self.remaining = 0;
        }
        Some(result)
    }
}

fn read_header<'r>(reader: &mut Reader<'r>) -> Result<Header<'r>, BatchError> {
    let key_len = reader.read_varint("header key length")?;
    if key_len < 0 {
        return Err(BatchError::InvalidRecord(format!(
            "header key length {key_len}: header keys are never null"
        )));
    }
    let key = reader.read_slice(key_len as usize, "header key")?;
    let key = std::str::from_utf8(key)
        .map_err(|e| BatchError::InvalidRecord(format!("header key is not valid UTF-8: {e}")))?;
    let value = reader.read_nullable_bytes("header value")?;
    Ok(Header { key, value })
}

/// Parses the next record from `reader`, checking its structure completely: the length varint
/// is non-negative and within the remaining bytes, every varint is well formed, key/value/header
/// lengths are ≥ −1 (header keys ≥ 0) and inside the record, header keys are UTF-8, and no byte
/// of the record is left over. Allocates nothing.
pub(crate) fn read_record<'r>(reader: &mut Reader<'r>) -> Result<RawRecord<'r>, BatchError> {
    let len = reader.read_varint("record length")?;
    if len < 0 {
        return Err(BatchError::InvalidRecord(format!("negative record length {len}")));
    }
    let mut r = Reader::new(reader.read_slice(len as usize, "record")?);
    let attributes = r.read_i8("record attributes")?;
    let timestamp_delta = r.read_varlong("timestamp delta")?;
    let offset_delta = r.read_varint("offset delta")?;
    let key = r.read_nullable_bytes("record key")?;
    let value = r.read_nullable_bytes("record value")?;
    let header_count = r.read_varint("header count")?;
    if header_count < 0 {
        return Err(BatchError::InvalidRecord(format!("negative header count {header_count}")));
    }
    // Everything after the count must be exactly `header_count` well-formed headers; walk them
    // once now so that collecting them later cannot fail.
    let header_bytes = r.rest();
    let mut headers = HeaderIter { reader: r, remaining: header_count as u32 };
    for header in &mut headers {
        header?;
    }
    let left = headers.reader.remaining();
    if left != 0 {
        return Err(BatchError::InvalidRecord(format!("{left} bytes left over inside a {len}-byte record")));
    }
    Ok(RawRecord {
        attributes,
        timestamp_delta,
        offset_delta,
        key,
        value,
        header_count: header_count as u32,
        headers: header_bytes,
    })
}

impl<'r> RawRecord<'r> {
    fn headers(&self) -> HeaderIter<'r> {
        HeaderIter { reader: Reader::new(self.headers), remaining: self.header_count }
    }

    fn into_record(self, ctx: &RecordContext) -> Result<Record<'r>, BatchError> {
        // Structure was checked by read_record, so this collect cannot fail; errors are still
        // propagated rather than unwrapped. Capacity comes from the iterator's (zero) lower
        // bound, never from the untrusted count.
        let headers = self.headers().collect::<Result<Vec<_>, _>>()?;
        Ok(Record {
            offset: ctx.base_offset.wrapping_add(i64::from(self.offset_delta)),
            offset_delta: self.offset_delta,
            timestamp: ctx
                .log_append_time
                .unwrap_or_else(|| ctx.base_timestamp.wrapping_add(self.timestamp_delta)),
            timestamp_delta: self.timestamp_delta,
            key: self.key,
            value: self.value,
            headers,
        })
    }
}

/// Batch fields a record needs to compute its absolute offset and timestamp.
#[derive(Debug, Clone, Copy)]
struct RecordContext {
    base_offset: i64,
    base_timestamp: i64,
    /// `Some(maxTimestamp)` for LogAppendTime batches.
    log_append_time: Option<i64>,
    count: i32,
}

/// The records of one batch, decompressed if the batch was compressed (borrowed from the batch
/// otherwise), ready to iterate.
#[derive(Clone)]
pub struct Records<'a> {
    data: Cow<'a, [u8]>,
    ctx: RecordContext,
}

impl<'a> RecordBatch<'a> {
    /// The batch's records, decompressing with the default cap
    /// ([`super::decompression_limit`]: 64× the compressed size, 1 MiB–256 MiB). Uncompressed
    /// batches are borrowed, not copied. Records are parsed lazily by [`Records::iter`].
    pub fn records(&self) -> Result<Records<'a>, BatchError> {
        self.records_with_limit(decompression_limit(self.payload().len()))
    }

    /// Like [`RecordBatch::records`] with an explicit cap on the decompressed size.
    pub fn records_with_limit(&self, max_decompressed: usize) -> Result<Records<'a>, BatchError> {
        let data = match self.compression()? {
            Compression::None => Cow::Borrowed(self.payload()),
            codec => Cow::Owned(decompress(codec, self.payload(), max_decompressed)?),
        };
        let log_append_time =
            (self.timestamp_type() == TimestampType::LogAppendTime).then(|| self.max_timestamp());
        Ok(Records {
            data,
            ctx: RecordContext {
                base_offset: self.base_offset(),
                base_timestamp: self.base_timestamp(),
                log_append_time,
                count: self.records_count(),
            },
        })
    }
}

impl Records<'_> {
    /// Iterates over the records. The iterator yields exactly the declared number of records;
    /// a malformed record, too few records, or bytes left after the last one end it with one
    /// [`BatchError::InvalidRecord`]. Offset deltas are reported as stored (use
    /// [`RecordBatch::validate`] to require them to run 0..n−1).
    pub fn iter(&self) -> RecordIter<'_> {
        RecordIter {
            reader: Reader::new(&self.data),
            ctx: self.ctx,
            remaining: self.ctx.count.max(0) as u32,
            done: false,
        }
    }

    /// The number of records the batch header declares (0 if it declares a negative count).
    pub fn len(&self) -> usize {
        self.ctx.count.max(0) as usize
    }

    /// True when the batch declares no records (an empty batch left by compaction).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The uncompressed records section.
    pub fn as_bytes(&self) -> &[u8] {
        &self.data
    }

    /// True when the records are borrowed from the batch (it was uncompressed).
    pub fn is_borrowed(&self) -> bool {
        matches!(self.data, Cow::Borrowed(_))
    }
}

impl fmt::Debug for Records<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Records").field("count", &self.ctx.count).field("bytes", &self.data.len()).finish()
    }
}

impl<'r> IntoIterator for &'r Records<'_> {
    type Item = Result<Record<'r>, BatchError>;
    type IntoIter = RecordIter<'r>;

    fn into_iter(self) -> RecordIter<'r> {
        self.iter()
    }
}

/// Iterator over the records of a [`Records`]; see [`Records::iter`].
#[derive(Debug, Clone)]
pub struct RecordIter<'r> {
    reader: Reader<'r>,
    ctx: RecordContext,
    remaining: u32,
    done: bool,
}

impl<'r> Iterator for RecordIter<'r> {
    type Item = Result<Record<'r>, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.remaining == 0 {
            self.done = true;
            let left = self.reader.remaining();
            return (left != 0).then(|| {
                Err(BatchError::InvalidRecord(format!(
                    "{left} bytes left over after the last of {} records",
                    self.ctx.count
                )))
            });
        }
        let result = read_record(&mut self.reader).and_then(|raw| raw.into_record(&self.ctx));
        match &result {
            Ok(_) => self.remaining -= 1,
            Err(_) => self.done = true,
        }
        Some(result)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            (0, Some(0))
        } else {
            // At most the declared count plus one trailing error; at least nothing (errors end
            // iteration early).
            (0, Some(self.remaining as usize + 1))
        }
    }
}

impl std::iter::FusedIterator for RecordIter<'_> {}
