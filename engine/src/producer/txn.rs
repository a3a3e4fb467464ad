//! Transaction bookkeeping for the last stable offset (reference §3 step 7 and §4).
//!
//! A transaction is *ongoing* from its first data batch until its marker is written, then
//! *unreplicated* until the high watermark passes the marker. The first unstable offset is the
//! smallest first offset over both sets; the log turns it into the LSO (`min(first unstable,
//! HW)`), so `read_committed` consumers never see a transaction before its outcome is both decided
//! and replicated.

use std::collections::BTreeMap;

/// Ongoing and unreplicated transactions, keyed by first offset.
///
/// Invariant: a first offset identifies one transaction (two transactions cannot start in the
/// same batch), and a producer has at most one ongoing transaction.
#[derive(Debug, Default, Clone)]
pub(crate) struct TxnTracker {
    /// first offset → producer id.
    ongoing: BTreeMap<i64, i64>,
    /// first offset → (producer id, marker offset).
    unreplicated: BTreeMap<i64, (i64, i64)>,
}

impl TxnTracker {
    pub(crate) fn clear(&mut self) {
        self.ongoing.clear();
        self.unreplicated.clear();
    }

    pub(crate) fn start(&mut self, producer_id: i64, first_offset: i64) {
        self.ongoing.insert(first_offset, producer_id);
    }

    /// Moves the transaction starting at `first_offset` from ongoing to unreplicated. Returns
    /// `false` (and changes nothing) if no such transaction is ongoing.
    pub(crate) fn complete(&mut self, first_offset: i64, marker_offset: i64) -> bool {
        match self.ongoing.remove(&first_offset) {
            Some(pid) => {
                self.unreplicated.insert(first_offset, (pid, marker_offset));
                true
            }
            None => false,
        }
    }

    /// Kafka's `lastStableOffset(completedTxn)`: the first offset of the earliest ongoing
    /// transaction of *another* producer, else `marker + 1`. The completing producer's own entry
    /// is still ongoing at this point (it is completed after the index write), hence the filter.
    /// A producer has at most one ongoing transaction, so at most two entries are visited.
    pub(crate) fn last_stable_offset(&self, producer_id: i64, marker_offset: i64) -> i64 {
        self.ongoing
            .iter()
            .find(|(_, pid)| **pid != producer_id)
            .map_or(marker_offset + 1, |(first, _)| *first)
    }

    /// Drops unreplicated transactions whose marker is below `offset` (the high watermark, or the
    /// log start offset).
    pub(crate) fn remove_unreplicated_below(&mut self, offset: i64) {
        self.unreplicated.retain(|_, (_, marker)| *marker >= offset);
    }

    pub(crate) fn first_undecided_offset(&self) -> Option<i64> {
        self.ongoing.keys().next().copied()
    }

    pub(crate) fn first_unstable_offset(&self) -> Option<i64> {
        let undecided = self.first_undecided_offset();
        let unreplicated = self.unreplicated.keys().next().copied();
        match (undecided, unreplicated) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Ongoing transactions in first-offset order: `(first offset, producer id)`.
    pub(crate) fn ongoing(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.ongoing.iter().map(|(f, p)| (*f, *p))
    }

    /// The oldest ongoing transaction: `(first offset, producer id)`.
    pub(crate) fn oldest_ongoing(&self) -> Option<(i64, i64)> {
        self.ongoing.iter().next().map(|(f, p)| (*f, *p))
    }

    pub(crate) fn unreplicated_len(&self) -> usize {
        self.unreplicated.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lso_skips_own_transaction_and_unstable_offset_waits_for_hw() {
        let mut t = TxnTracker::default();
        t.start(1, 10);
        t.start(2, 15);
        assert_eq!(t.last_stable_offset(1, 20), 15);
        assert_eq!(t.last_stable_offset(2, 20), 10);
        assert!(t.complete(10, 20));
        assert!(!t.complete(10, 20));
        assert_eq!(t.first_undecided_offset(), Some(15));
        assert_eq!(t.first_unstable_offset(), Some(10));
        t.remove_unreplicated_below(20);
        assert_eq!(t.first_unstable_offset(), Some(10));
        t.remove_unreplicated_below(21);
        assert_eq!(t.first_unstable_offset(), Some(15));
        assert_eq!(t.last_stable_offset(2, 30), 31);
        assert_eq!(t.unreplicated_len(), 0);
    }
}
