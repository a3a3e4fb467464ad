//! Prebuilt record batches: the bytes every system under test writes.
//!
//! A [`Workload`] is a set of [`Stream`]s; one thread appends one stream's batches in order to
//! one partition. Batches are built once, before any timing, and every system (eoslog, the raw
//! file writes, `commitlog`, SQLite) is given exactly these bytes, so ratios compare like with
//! like. Batches are Kafka RecordBatch v2, uncompressed, `records_per_batch` records of
//! `record_size`-byte values with no key and no headers (16 × 1 KiB by default).

use eoslog::RecordBatchBuilder;

use crate::{Context, RECORD_SIZE, RECORDS_PER_BATCH, Result};

/// What kind of producer writes a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// No producer id: plain appends (W1, W2).
    Plain,
    /// One idempotent producer per stream, sequences advancing (W3).
    Idempotent,
    /// One transactional producer per stream (W4, W5). Where the markers go is decided at run
    /// time ([`crate::engine::Transactions`]), so the same batches serve any commit interval.
    Transactional,
}

impl StreamKind {
    /// `plain`, `idempotent` or `transactional`.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamKind::Plain => "plain",
            StreamKind::Idempotent => "idempotent",
            StreamKind::Transactional => "transactional",
        }
    }
}

/// The size and layout of a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Partitions written to.
    pub partitions: usize,
    /// Streams (appender threads); stream `i` writes partition `i % partitions`.
    pub streams: usize,
    /// Total batch bytes requested across all streams. Rounded down to whole batches, with at
    /// least one batch per stream.
    pub bytes: u64,
    /// Records per batch.
    pub records_per_batch: usize,
    /// Bytes of each record value.
    pub record_size: usize,
}

impl Shape {
    /// The standard shape: `streams` = `partitions`, 16 records of 1 KiB per batch.
    pub fn new(partitions: usize, bytes: u64) -> Shape {
        Shape {
            partitions,
            streams: partitions,
            bytes,
            records_per_batch: RECORDS_PER_BATCH,
            record_size: RECORD_SIZE,
        }
    }

    /// The same with `streams` appender threads over the partitions.
    pub fn with_streams(mut self, streams: usize) -> Shape {
        self.streams = streams;
        self
    }

    /// The shape holding `batches` batches in all (at least one per stream).
    pub fn with_total_batches(mut self, batches: u64) -> Shape {
        self.bytes = batches.saturating_mul(self.batch_len() as u64);
        self
    }

    /// Length in bytes of one batch of this shape.
    pub fn batch_len(&self) -> usize {
        // Every batch of a shape has the same length (same record sizes, deltas below 64), so
        // building one is the simplest exact answer.
        build_batch(self, StreamKind::Plain, -1, 0, 0, 0).map(|b| b.len()).unwrap_or(usize::MAX)
    }
}

/// One appender's batches, all for one partition.
#[derive(Debug, Clone)]
pub struct Stream {
    /// Partition index (0-based) the stream writes to.
    pub partition: usize,
    /// Producer id (−1 for plain streams).
    pub producer_id: i64,
    /// Producer epoch (−1 for plain streams).
    pub producer_epoch: i16,
    /// The batches, in append order.
    pub batches: Vec<Vec<u8>>,
}

impl Stream {
    /// Total bytes of the stream's batches.
    pub fn bytes(&self) -> u64 {
        self.batches.iter().map(|b| b.len() as u64).sum()
    }
}

/// Prebuilt batches for every stream of a workload.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Producer kind of every stream.
    pub kind: StreamKind,
    /// The shape it was built for.
    pub shape: Shape,
    /// The streams.
    pub streams: Vec<Stream>,
}

impl Workload {
    /// Builds the batches (outside any timed region: this is the expensive part of setup).
    pub fn build(kind: StreamKind, shape: Shape) -> Result<Workload> {
        if shape.partitions == 0 || shape.streams == 0 || shape.records_per_batch == 0 {
            return Err(crate::BenchError(format!("empty workload shape {shape:?}")));
        }
        let batch_len = shape.batch_len() as u64;
        let total = (shape.bytes / batch_len).max(shape.streams as u64);
        let mut streams = Vec::with_capacity(shape.streams);
        for s in 0..shape.streams {
            // Spread the remainder over the first streams so the total is what was asked for.
            let n = total / shape.streams as u64 + u64::from((s as u64) < total % shape.streams as u64);
            let (producer_id, producer_epoch) = match kind {
                StreamKind::Plain => (-1, -1),
                _ => (1000 + s as i64, 0),
            };
            let mut batches = Vec::with_capacity(n as usize);
            for j in 0..n {
                let seq = i32::try_from(j * shape.records_per_batch as u64)
                    .ctx(|| "a stream is too long for i32 sequences".into())?;
                batches.push(build_batch(
                    &shape,
                    kind,
                    producer_id,
                    producer_epoch,
                    seq,
                    j ^ ((s as u64) << 40),
                )?);
            }
            streams.push(Stream { partition: s % shape.partitions, producer_id, producer_epoch, batches });
        }
        Ok(Workload { kind, shape, streams })
    }

    /// Total batch bytes.
    pub fn bytes(&self) -> u64 {
        self.streams.iter().map(Stream::bytes).sum()
    }

    /// Total batches.
    pub fn batches(&self) -> u64 {
        self.streams.iter().map(|s| s.batches.len() as u64).sum()
    }

    /// Total records.
    pub fn records(&self) -> u64 {
        self.batches() * self.shape.records_per_batch as u64
    }

    /// Length of one batch.
    pub fn batch_len(&self) -> usize {
        self.streams.first().and_then(|s| s.batches.first()).map_or(0, Vec::len)
    }
}

/// Milliseconds since the epoch, for record timestamps (eoslog checks CreateTime timestamps
/// against its clock, so they must be recent).
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0))
}

/// Builds one batch. `seed` varies the record values so that no two batches are identical (a
/// system that deduplicated or compressed would otherwise look better than it is).
fn build_batch(
    shape: &Shape,
    kind: StreamKind,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    seed: u64,
) -> Result<Vec<u8>> {
    let mut builder = match kind {
        StreamKind::Plain => RecordBatchBuilder::new(),
        StreamKind::Idempotent => {
            RecordBatchBuilder::new().producer(producer_id, producer_epoch, base_sequence)
        }
        StreamKind::Transactional => {
            RecordBatchBuilder::new().producer(producer_id, producer_epoch, base_sequence).transactional(true)
        }
    };
    let ts = now_ms();
    let mut value = vec![0u8; shape.record_size];
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for _ in 0..shape.records_per_batch {
        // xorshift64: cheap bytes that no codec or page-dedup could shrink.
        for chunk in value.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        builder.append(ts, None, Some(&value), &[]);
    }
    builder.build().ctx(|| "build a record batch".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use eoslog::RecordBatch;

    #[test]
    fn batches_are_valid_and_sized() {
        let shape = Shape::new(2, 200_000);
        let w = Workload::build(StreamKind::Idempotent, shape).unwrap();
        assert_eq!(w.streams.len(), 2);
        let len = shape.batch_len();
        assert!(len > 16 * 1024 && len < 17 * 1024, "{len}");
        assert_eq!(w.bytes(), w.batches() * len as u64);
        for s in &w.streams {
            for (j, b) in s.batches.iter().enumerate() {
                let rb = RecordBatch::parse(b).unwrap();
                rb.validate().unwrap();
                assert_eq!(rb.base_sequence(), (j * 16) as i32);
                assert_eq!(rb.producer_id(), s.producer_id);
            }
        }
    }
}
