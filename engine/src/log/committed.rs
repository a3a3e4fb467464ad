//! The consumer side of `read_committed`: turning fetched batches into committed records only.
//!
//! A `read_committed` fetch ([`crate::log::PartitionLog::read`] with
//! [`IsolationLevel::ReadCommitted`](crate::log::IsolationLevel::ReadCommitted)) returns whole
//! batches up to the last stable offset together with the aborted transactions that overlap
//! them. The batches still contain the data of aborted transactions and the COMMIT/ABORT control
//! batches: it is the consumer's job to drop them, exactly as Kafka's client does in
//! `CompletedFetch`. [`CommittedRecords`] is that logic:
//!
//! - the aborted transactions go into a min-heap ordered by first offset;
//! - for every batch that has a producer id, the transactions whose first offset is at or below
//!   the batch's last offset leave the heap and their producer ids enter the *aborted set*;
//! - an ABORT marker removes its producer from the aborted set (the transaction is over, so
//!   the producer's later batches belong to another transaction);
//! - a transactional data batch whose producer is in the aborted set is skipped;
//! - control batches are never returned;
//! - the position advances past every batch it looked at, skipped ones and markers included,
//!   so the next fetch starts after them;
//! - records below the requested fetch offset (the fetch returns whole batches, so the first
//!   one can start before it) are skipped.
//!
//! Each fetch is filtered on its own: the aborted list of a fetch already includes every aborted
//! transaction that started before the fetched range and overlaps it, so no state has to be
//! carried from one fetch to the next.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};

use crate::batch::{self, ControlType, RecordBatch};
use crate::config::TimestampType;
use crate::error::BatchError;
use crate::log::fetch::{AbortedTransaction, FetchData};

/// A record a `read_committed` consumer may see, with its owned bytes and the transaction
/// coordinates of the batch it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedRecord {
    /// Absolute offset.
    pub offset: i64,
    /// The timestamp a consumer sees (the batch's `maxTimestamp` for LogAppendTime batches).
    pub timestamp: i64,
    /// Whether `timestamp` is the producer's (CreateTime) or the log's (LogAppendTime), from
    /// the batch attributes.
    pub timestamp_type: TimestampType,
    /// The key; `None` for null.
    pub key: Option<Vec<u8>>,
    /// The value; `None` for null.
    pub value: Option<Vec<u8>>,
    /// Headers in stored order.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// Producer id of the batch (-1 for a batch written without idempotence).
    pub producer_id: i64,
    /// Producer epoch of the batch (-1 without idempotence).
    pub producer_epoch: i16,
    /// The record's sequence number: the batch's base sequence plus the record's offset delta,
    /// wrapping past `i32::MAX` to 0 as Kafka's sequences do; -1 when the batch has none.
    pub sequence: i32,
    /// Whether the record was written in a (committed) transaction.
    pub is_transactional: bool,
}

/// The committed records of one fetch and where the next fetch should start.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommittedRecords {
    /// The records to hand to the application, in offset order.
    pub records: Vec<CommittedRecord>,
    /// The offset to fetch from next: past the last batch examined (including skipped aborted
    /// batches and control batches), or the fetch offset when there was no batch.
    pub next_offset: i64,
}

impl CommittedRecords {
    /// Filters the batches of `data`, fetched from `fetch_offset`. With a `read_committed` fetch
    /// (its `aborted_transactions` is `Some`) aborted data and control batches are dropped;
    /// with any other isolation level (`None`) only control batches are dropped, as Kafka's
    /// `read_uncommitted` consumer does.
    pub fn from_fetch(data: &FetchData, fetch_offset: i64) -> Result<CommittedRecords, BatchError> {
        Self::filter(data.records.bytes(), data.aborted_transactions.as_deref(), fetch_offset)
    }

    /// Filters back-to-back batches given the aborted transactions reported with them (`None`
    /// for a `read_uncommitted` fetch). Every batch's CRC is checked; a corrupt batch is an
    /// error, as in Kafka's consumer with `check.crcs`.
    pub fn filter(
        batches: &[u8],
        aborted: Option<&[AbortedTransaction]>,
        fetch_offset: i64,
    ) -> Result<CommittedRecords, BatchError> {
        let read_committed = aborted.is_some();
        // Min-heap by first offset (ties by producer id, irrelevant to the outcome).
        let mut pending: BinaryHeap<Reverse<(i64, i64)>> =
            aborted.unwrap_or_default().iter().map(|t| Reverse((t.first_offset, t.producer_id))).collect();
        let mut aborted_producers: HashSet<i64> = HashSet::new();
        let mut out = CommittedRecords { records: Vec::new(), next_offset: fetch_offset };

        for b in batch::batches(batches) {
            let b = b?;
            if !b.is_crc_valid() {
                return Err(BatchError::CrcMismatch { stored: b.crc(), computed: b.compute_crc() });
            }
            if read_committed && b.has_producer_id() {
                while let Some(Reverse((first, pid))) = pending.peek().copied() {
                    if first > b.last_offset() {
                        break;
                    }
                    pending.pop();
                    aborted_producers.insert(pid);
                }
                if is_abort_marker(&b)? {
                    aborted_producers.remove(&b.producer_id());
                } else if b.is_transactional() && aborted_producers.contains(&b.producer_id()) {
                    out.next_offset = out.next_offset.max(b.next_offset());
                    continue;
                }
            }
            if b.is_control() {
                out.next_offset = out.next_offset.max(b.next_offset());
                continue;
            }
            push_records(&b, fetch_offset, &mut out.records)?;
            out.next_offset = out.next_offset.max(b.next_offset());
        }
        Ok(out)
    }
}

/// Whether the batch is a control batch holding an ABORT marker (Kafka's `containsAbortMarker`).
/// An emptied control batch holds no marker.
fn is_abort_marker(b: &RecordBatch<'_>) -> Result<bool, BatchError> {
    if !b.is_control() {
        return Ok(false);
    }
    Ok(b.control_record()?.is_some_and(|r| r.control_type == ControlType::Abort))
}

fn push_records(
    b: &RecordBatch<'_>,
    fetch_offset: i64,
    out: &mut Vec<CommittedRecord>,
) -> Result<(), BatchError> {
    let base_sequence = b.base_sequence();
    for r in b.records()?.iter() {
        let r = r?;
        if r.offset < fetch_offset {
            continue;
        }
        let sequence = if base_sequence < 0 {
            batch::NO_SEQUENCE
        } else {
            batch::increment_sequence(base_sequence, r.offset_delta)
        };
        out.push(CommittedRecord {
            offset: r.offset,
            timestamp: r.timestamp,
            timestamp_type: b.timestamp_type(),
            key: r.key.map(<[u8]>::to_vec),
            value: r.value.map(<[u8]>::to_vec),
            headers: r.headers.iter().map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec))).collect(),
            producer_id: b.producer_id(),
            producer_epoch: b.producer_epoch(),
            sequence,
            is_transactional: b.is_transactional(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{EndTxnMarker, RecordBatchBuilder};

    /// A data batch at `base` with one record per value.
    fn data(base: i64, pid: i64, seq: i32, txn: bool, values: &[&str]) -> Vec<u8> {
        let mut b = RecordBatchBuilder::new().base_offset(base).transactional(txn);
        if pid >= 0 {
            b = b.producer(pid, 3, seq);
        }
        for (i, v) in values.iter().enumerate() {
            b.append(1000 + i as i64, Some(b"k"), Some(v.as_bytes()), &[("h", Some(b"x"))]);
        }
        b.build().unwrap()
    }

    fn marker(base: i64, pid: i64, commit: bool) -> Vec<u8> {
        let mut bytes = EndTxnMarker { commit, coordinator_epoch: 1 }.build_batch(pid, 3, 2000);
        batch::set_base_offset(&mut bytes, base);
        bytes
    }

    fn values(r: &CommittedRecords) -> Vec<String> {
        r.records.iter().map(|r| String::from_utf8(r.value.clone().unwrap()).unwrap()).collect()
    }

    fn aborted(list: &[(i64, i64)]) -> Vec<AbortedTransaction> {
        list.iter()
            .map(|&(producer_id, first_offset)| AbortedTransaction { producer_id, first_offset })
            .collect()
    }

    #[test]
    fn aborted_data_and_markers_are_dropped_and_the_position_moves_past_them() {
        // 0-1 p1 txn (aborted at 4), 2 plain, 3 p2 txn (committed at 5), 4 ABORT p1, 5 COMMIT p2,
        // 6 p1 txn again (a new transaction, committed later: not in the aborted list).
        let mut bytes = data(0, 1, 0, true, &["a0", "a1"]);
        bytes.extend(data(2, -1, -1, false, &["plain"]));
        bytes.extend(data(3, 2, 0, true, &["c0"]));
        bytes.extend(marker(4, 1, false));
        bytes.extend(marker(5, 2, true));
        bytes.extend(data(6, 1, 2, true, &["later"]));
        let r = CommittedRecords::filter(&bytes, Some(&aborted(&[(1, 0)])), 0).unwrap();
        assert_eq!(values(&r), ["plain", "c0", "later"]);
        assert_eq!(r.next_offset, 7);
        assert_eq!(r.records.iter().map(|r| r.offset).collect::<Vec<_>>(), [2, 3, 6]);

        // read_uncommitted: everything but the markers.
        let r = CommittedRecords::filter(&bytes, None, 0).unwrap();
        assert_eq!(values(&r), ["a0", "a1", "plain", "c0", "later"]);
        assert_eq!(r.next_offset, 7);
    }

    #[test]
    fn an_aborted_transaction_that_started_before_the_fetch_is_still_dropped() {
        // The fetch starts at 10 inside p5's transaction that started at 4.
        let mut bytes = data(10, 5, 6, true, &["x", "y"]);
        bytes.extend(data(12, 6, 0, false, &["idem"]));
        bytes.extend(marker(13, 5, false));
        let r = CommittedRecords::filter(&bytes, Some(&aborted(&[(5, 4)])), 10).unwrap();
        assert_eq!(values(&r), ["idem"]);
        assert_eq!(r.next_offset, 14);
        let rec = &r.records[0];
        assert_eq!(
            (rec.producer_id, rec.producer_epoch, rec.sequence, rec.is_transactional),
            (6, 3, 0, false)
        );
    }

    #[test]
    fn the_heap_releases_producers_only_when_their_transaction_is_reached() {
        // p7 has a committed transaction at 0-1 and an aborted one starting at 3: the first
        // must survive because the aborted pair (7, 3) only applies from offset 3 on.
        let mut bytes = data(0, 7, 0, true, &["keep0", "keep1"]);
        bytes.extend(marker(2, 7, true));
        bytes.extend(data(3, 7, 2, true, &["drop"]));
        bytes.extend(marker(4, 7, false));
        bytes.extend(data(5, 7, 3, true, &["keep-again"]));
        let r = CommittedRecords::filter(&bytes, Some(&aborted(&[(7, 3)])), 0).unwrap();
        assert_eq!(values(&r), ["keep0", "keep1", "keep-again"]);
        assert_eq!(r.next_offset, 6);
    }

    #[test]
    fn records_below_the_fetch_offset_are_skipped() {
        let bytes = data(20, -1, -1, false, &["r20", "r21", "r22", "r23"]);
        let r = CommittedRecords::filter(&bytes, Some(&[]), 22).unwrap();
        assert_eq!(values(&r), ["r22", "r23"]);
        assert_eq!(r.next_offset, 24);
        assert_eq!(r.records[0].producer_id, -1);
        assert_eq!(r.records[0].sequence, -1);
        assert_eq!(r.records[0].headers, vec![("h".to_string(), Some(b"x".to_vec()))]);
    }

    #[test]
    fn sequences_wrap_like_kafka() {
        let bytes = data(0, 1, i32::MAX - 1, false, &["a", "b", "c", "d"]);
        let r = CommittedRecords::filter(&bytes, Some(&[]), 0).unwrap();
        assert_eq!(r.records.iter().map(|r| r.sequence).collect::<Vec<_>>(), [i32::MAX - 1, i32::MAX, 0, 1]);
    }

    #[test]
    fn empty_input_keeps_the_position_and_corruption_is_an_error() {
        let r = CommittedRecords::filter(&[], Some(&[]), 42).unwrap();
        assert_eq!(r, CommittedRecords { records: Vec::new(), next_offset: 42 });

        let mut bytes = data(0, -1, -1, false, &["a"]);
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        let e = CommittedRecords::filter(&bytes, Some(&[]), 0).unwrap_err();
        assert!(matches!(e, BatchError::CrcMismatch { .. }), "{e}");
    }

    #[test]
    fn a_non_transactional_batch_of_an_aborted_producer_is_kept() {
        // Kafka only skips *transactional* batches of producers in the aborted set.
        let mut bytes = data(0, 4, 0, true, &["t"]);
        bytes.extend(data(1, 4, 1, false, &["idempotent"]));
        let r = CommittedRecords::filter(&bytes, Some(&aborted(&[(4, 0)])), 0).unwrap();
        assert_eq!(values(&r), ["idempotent"]);
    }
}
