//! Framing: finding batch boundaries in a buffer of back-to-back batches (a segment file, a
//! fetch response) by looking only at each batch's first 17 bytes.

use super::header::{RecordBatch, read_i32};
use super::layout::{LENGTH, MAGIC};
use super::{HEADER_SIZE, LOG_OVERHEAD, MAGIC_V2};
use crate::error::BatchError;

/// Bytes needed to frame a batch: baseOffset, batchLength, partitionLeaderEpoch and magic.
pub const FRAME_PREFIX_SIZE: usize = MAGIC + 1;
/// Smallest legal `batchLength`: a v2 header without the 12 bytes of log overhead.
pub const MIN_BATCH_LENGTH: i32 = (HEADER_SIZE - LOG_OVERHEAD) as i32;
/// Largest legal `batchLength`, so that the total size still fits in an i32.
pub const MAX_BATCH_LENGTH: i32 = i32::MAX - LOG_OVERHEAD as i32;

/// What the start of a buffer holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A whole batch of this many bytes (`batchLength + 12`) starts the buffer.
    Complete(usize),
    /// The buffer ends inside the batch (or inside its 17-byte prefix). `needed` is the total
    /// buffer length required to make progress: 17 while the prefix is incomplete, then the
    /// whole batch size.
    Incomplete {
        /// Total bytes required from the start of the buffer.
        needed: usize,
    },
    /// The prefix cannot start a v2 batch: `batchLength` is below 49 or above `i32::MAX − 12`
    /// ([`BatchError::Corrupt`]), or the magic is not 2 ([`BatchError::UnsupportedMagic`]).
    Invalid(BatchError),
}

/// Frames the batch at the start of `buf`, reading only its first 17 bytes. Neither the CRC nor
/// anything past the magic byte is looked at.
pub fn frame(buf: &[u8]) -> Frame {
    if buf.len() < FRAME_PREFIX_SIZE {
        return Frame::Incomplete { needed: FRAME_PREFIX_SIZE };
    }
    let batch_length = read_i32(buf, LENGTH);
    if batch_length < MIN_BATCH_LENGTH {
        return Frame::Invalid(BatchError::Corrupt(format!(
            "batchLength {batch_length} is smaller than the minimum {MIN_BATCH_LENGTH}"
        )));
    }
    if batch_length > MAX_BATCH_LENGTH {
        return Frame::Invalid(BatchError::Corrupt(format!(
            "batchLength {batch_length} is impossibly large"
        )));
    }
    let magic = buf[MAGIC] as i8;
    if magic != MAGIC_V2 {
        return Frame::Invalid(BatchError::UnsupportedMagic(magic));
    }
    // batch_length is in [49, i32::MAX − 12], so this cannot overflow.
    let size = batch_length as usize + LOG_OVERHEAD;
    if buf.len() < size { Frame::Incomplete { needed: size } } else { Frame::Complete(size) }
}

/// Iterates over back-to-back batches, yielding each as a [`RecordBatch`] view (not
/// validated: check CRCs with [`RecordBatch::validate`] or [`RecordBatch::is_crc_valid`]).
///
/// Ends (`None`) at a clean end of the buffer. A truncated tail yields one
/// [`BatchError::Corrupt`], and an unframeable batch yields its error, after which the iterator
/// is exhausted: nothing after a bad frame can be trusted to start on a batch boundary.
/// [`BatchIter::position`] then tells where the valid prefix ends (where recovery truncates).
#[derive(Debug, Clone)]
pub struct BatchIter<'a> {
    buf: &'a [u8],
    pos: usize,
    done: bool,
}

/// Iterates over the batches in `buf`.
pub fn batches(buf: &[u8]) -> BatchIter<'_> {
    BatchIter { buf, pos: 0, done: false }
}

impl<'a> BatchIter<'a> {
    /// Byte offset of the first batch not yet yielded: after an error, the end of the last good
    /// batch.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The bytes not yet yielded.
    pub fn remaining(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = Result<RecordBatch<'a>, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let rest = &self.buf[self.pos..];
        if rest.is_empty() {
            self.done = true;
            return None;
        }
        let result = match frame(rest) {
            Frame::Complete(size) => RecordBatch::parse(&rest[..size]),
            Frame::Incomplete { needed } => Err(BatchError::Corrupt(format!(
                "truncated batch at position {}: {needed} bytes needed, {} present",
                self.pos,
                rest.len()
            ))),
            Frame::Invalid(e) => Err(e),
        };
        match &result {
            Ok(batch) => self.pos += batch.size(),
            Err(_) => self.done = true,
        }
        Some(result)
    }
}

impl std::iter::FusedIterator for BatchIter<'_> {}
