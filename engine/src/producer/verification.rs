//! KIP-890 part 1: transaction verification guards.
//!
//! Before the first transactional write of a producer to a partition, the leader asks the
//! transaction coordinator whether the partition is part of an ongoing transaction
//! (AddPartitionsToTxn v4, verify-only). Between the question and the append an abort marker may
//! land and a new transaction may start (verify → abort → stale append, KAFKA-14884), so a plain
//! "verified" flag is not enough: each verification gets a unique [`VerificationGuard`], the
//! request carries it back, and the append is accepted only if the guard is still the one
//! registered for the producer. Appending transactional data or a marker clears the registration.
//!
//! The registration also remembers the lowest sequence seen while verifying (KAFKA-14920): a
//! batch whose first sequence is higher is rejected with OUT_OF_ORDER_SEQUENCE_NUMBER, so a
//! lower-sequence batch that failed verification with a retriable error cannot be overtaken.

use std::sync::atomic::{AtomicU64, Ordering};

/// Source of unique guard identities; 0 is reserved for [`VerificationGuard::SENTINEL`].
static NEXT_GUARD_ID: AtomicU64 = AtomicU64::new(1);

/// An opaque token identifying one verification of one producer's transaction on one partition.
///
/// Guards compare by identity: every guard created by the manager is distinct from every other
/// one in the process, copies of a guard are the same guard. [`VerificationGuard::SENTINEL`]
/// stands for "no guard" and never verifies anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VerificationGuard(u64);

impl VerificationGuard {
    /// The "no verification" guard (Kafka's `VerificationGuard.SENTINEL`). Returned when a
    /// producer already has a transaction open on the partition, so no verification is needed.
    pub const SENTINEL: VerificationGuard = VerificationGuard(0);

    /// A guard distinct from every other guard in the process.
    pub(crate) fn fresh() -> Self {
        // Relaxed is enough: only uniqueness matters, not ordering with other memory.
        VerificationGuard(NEXT_GUARD_ID.fetch_add(1, Ordering::Relaxed))
    }

    /// Whether this is [`VerificationGuard::SENTINEL`].
    pub fn is_sentinel(&self) -> bool {
        *self == Self::SENTINEL
    }

    /// Kafka's `verify`: does `presented` (the guard carried by the request, `None` for none)
    /// prove the verification that `self` (the registered guard) stands for? The sentinel never
    /// proves anything.
    pub fn verify(&self, presented: Option<&VerificationGuard>) -> bool {
        presented.is_some_and(|g| !g.is_sentinel() && g == self)
    }
}

/// The verification registered for one producer (Kafka's `VerificationStateEntry`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VerificationState {
    /// The guard the next transactional append must present.
    pub(crate) guard: VerificationGuard,
    /// Creation time; registrations never used expire like producers do.
    pub(crate) created_ms: i64,
    /// Lowest sequence seen for `epoch` while verifying (KAFKA-14920).
    pub(crate) lowest_sequence: i32,
    /// Epoch of `lowest_sequence`.
    pub(crate) epoch: i16,
    /// Whether the client runs transaction version 2 (it then bumps the epoch per transaction,
    /// so a verified producer with no state must start at sequence 0).
    pub(crate) supports_epoch_bump: bool,
}

impl VerificationState {
    pub(crate) fn new(now_ms: i64, sequence: i32, epoch: i16, supports_epoch_bump: bool) -> Self {
        Self {
            guard: VerificationGuard::fresh(),
            created_ms: now_ms,
            lowest_sequence: sequence,
            epoch,
            supports_epoch_bump,
        }
    }

    /// Kafka's `maybeUpdateLowestSequenceAndEpoch`: a lower sequence of the same epoch lowers the
    /// bar; a higher epoch resets it (sequences restart under a new epoch); an older epoch is
    /// ignored. eoslog also refreshes `supports_epoch_bump` on a newer epoch, since the client
    /// that bumped is the one verifying now.
    pub(crate) fn observe(&mut self, sequence: i32, epoch: i16, supports_epoch_bump: bool) {
        if epoch == self.epoch && sequence < self.lowest_sequence {
            self.lowest_sequence = sequence;
        }
        if epoch > self.epoch {
            self.epoch = epoch;
            self.lowest_sequence = sequence;
            self.supports_epoch_bump = supports_epoch_bump;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_are_unique_and_sentinel_never_verifies() {
        let a = VerificationGuard::fresh();
        let b = VerificationGuard::fresh();
        assert_ne!(a, b);
        assert!(!a.is_sentinel());
        assert!(a.verify(Some(&a)));
        let copy = a;
        assert!(a.verify(Some(&copy)));
        assert!(!a.verify(Some(&b)));
        assert!(!a.verify(None));
        assert!(!a.verify(Some(&VerificationGuard::SENTINEL)));
        assert!(!VerificationGuard::SENTINEL.verify(Some(&VerificationGuard::SENTINEL)));
        assert!(!VerificationGuard::SENTINEL.verify(None));
    }

    #[test]
    fn lowest_sequence_tracks_kafka_rules() {
        // Kafka's testSequenceAndEpochInVerificationEntry.
        let mut v = VerificationState::new(0, 1, 0, false);
        v.observe(0, 0, false);
        assert_eq!((v.lowest_sequence, v.epoch), (0, 0));
        v.observe(2, 1, false);
        assert_eq!((v.lowest_sequence, v.epoch), (2, 1));
        v.observe(0, 0, false);
        assert_eq!((v.lowest_sequence, v.epoch), (2, 1));
        v.observe(5, 1, false);
        assert_eq!((v.lowest_sequence, v.epoch), (2, 1));
    }
}
