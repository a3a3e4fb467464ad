//! The states of a transactional id in the transaction coordinator (Kafka's `TransactionState`)
//! and the feature level that decides the coordinator's rules (Kafka's `TransactionVersion`).
//!
//! The numeric ids are persisted in `__transaction_state` (`TransactionStatus` field), so they
//! are Kafka's and never change. The names are the ones Kafka exposes through
//! `DescribeTransactions` / `ListTransactions`.

use std::fmt;

/// The state of one transactional id in the coordinator.
///
/// Every transition is first persisted to `__transaction_state` and only then applied (see
/// [`super::TransactionMetadata`]); [`TransactionState::valid_previous_states`] is Kafka's table
/// of legal transitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(i8)]
pub enum TransactionState {
    /// No transaction in progress (just initialised, or the previous one finished and its
    /// metadata was reset). `AddPartitionsToTxn` → `Ongoing`; with transaction version 2 an
    /// `EndTxn(abort)` → `PrepareAbort` (the client may not know whether a transaction is open).
    Empty = 0,
    /// A transaction has started: partitions were added. `EndTxn` → `PrepareCommit` /
    /// `PrepareAbort`; more `AddPartitionsToTxn` stay `Ongoing`.
    Ongoing = 1,
    /// `EndTxn(commit)` was accepted and persisted; markers are being written.
    PrepareCommit = 2,
    /// `EndTxn(abort)` (or a timeout / fence) was accepted and persisted; markers are being
    /// written.
    PrepareAbort = 3,
    /// All COMMIT markers are written.
    CompleteCommit = 4,
    /// All ABORT markers are written.
    CompleteAbort = 5,
    /// The transactional id expired and is being removed (a tombstone is written).
    Dead = 6,
    /// An `InitProducerId` (or a timeout) found a transaction `Ongoing`: the epoch is being
    /// bumped to fence the old producer, and the transaction will be aborted with that epoch.
    PrepareEpochFence = 7,
}

impl TransactionState {
    /// Every state, in id order.
    pub const ALL: [TransactionState; 8] = [
        TransactionState::Empty,
        TransactionState::Ongoing,
        TransactionState::PrepareCommit,
        TransactionState::PrepareAbort,
        TransactionState::CompleteCommit,
        TransactionState::CompleteAbort,
        TransactionState::Dead,
        TransactionState::PrepareEpochFence,
    ];

    /// The id persisted in `__transaction_state` (`TransactionStatus`).
    pub const fn id(self) -> i8 {
        self as i8
    }

    /// The state with this persisted id, if Kafka defines one.
    pub fn from_id(id: i8) -> Option<TransactionState> {
        Self::ALL.iter().copied().find(|s| s.id() == id)
    }

    /// Kafka's name for the state (`"PrepareCommit"`, ...), as `DescribeTransactions` reports it.
    pub const fn name(self) -> &'static str {
        match self {
            TransactionState::Empty => "Empty",
            TransactionState::Ongoing => "Ongoing",
            TransactionState::PrepareCommit => "PrepareCommit",
            TransactionState::PrepareAbort => "PrepareAbort",
            TransactionState::CompleteCommit => "CompleteCommit",
            TransactionState::CompleteAbort => "CompleteAbort",
            TransactionState::Dead => "Dead",
            TransactionState::PrepareEpochFence => "PrepareEpochFence",
        }
    }

    /// The state with this name, if any.
    pub fn from_name(name: &str) -> Option<TransactionState> {
        Self::ALL.iter().copied().find(|s| s.name() == name)
    }

    /// The states from which this state may be entered (Kafka's `validPreviousStates`).
    ///
    /// `PrepareAbort` may also be entered from `Empty` / `Complete*`: with transaction version 2
    /// a client that is unsure whether its transaction is open sends `EndTxn(abort)` anyway
    /// (KIP-890). Whether that is allowed for a given client version is the coordinator's
    /// decision; the table only lists what can ever be legal.
    pub const fn valid_previous_states(self) -> &'static [TransactionState] {
        use TransactionState::*;
        match self {
            Empty => &[Empty, CompleteCommit, CompleteAbort],
            Ongoing => &[Ongoing, Empty, CompleteCommit, CompleteAbort],
            PrepareCommit => &[Ongoing],
            PrepareAbort => &[Ongoing, PrepareEpochFence, Empty, CompleteCommit, CompleteAbort],
            CompleteCommit => &[PrepareCommit],
            CompleteAbort => &[PrepareAbort],
            Dead => &[Empty, CompleteAbort, CompleteCommit],
            PrepareEpochFence => &[Ongoing],
        }
    }

    /// Whether `self` may be entered from `from`.
    pub fn can_transition_from(self, from: TransactionState) -> bool {
        self.valid_previous_states().contains(&from)
    }

    /// Whether an idle transactional id in this state may expire (`transactional.id.expiration.ms`):
    /// only when no transaction is open.
    pub const fn is_expiration_allowed(self) -> bool {
        matches!(
            self,
            TransactionState::Empty | TransactionState::CompleteCommit | TransactionState::CompleteAbort
        )
    }
}

impl fmt::Display for TransactionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The transaction protocol version (Kafka's `TransactionVersion`, feature `transaction.version`).
///
/// It is both a cluster-wide feature level (which decides the `__transaction_state` value
/// version) and, per transaction, the version the client speaks (recorded in the metadata as
/// `ClientTransactionVersion`). Kafka infers a client's version from its request versions:
/// `AddPartitionsToTxn` > v3 or `EndTxn` > v4 means version 2, anything older version 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(u8)]
pub enum TransactionVersion {
    /// The original protocol.
    #[default]
    Tv0 = 0,
    /// Flexible (tagged-field) `__transaction_state` records (KIP-890).
    Tv1 = 1,
    /// Epoch bump on every `EndTxn`, implicit partition adds (KIP-890 part 2).
    Tv2 = 2,
}

impl TransactionVersion {
    /// The feature level (0, 1, 2).
    pub const fn level(self) -> i16 {
        self as i16
    }

    /// The version with this feature level, if Kafka defines one.
    pub const fn from_level(level: i16) -> Option<TransactionVersion> {
        match level {
            0 => Some(TransactionVersion::Tv0),
            1 => Some(TransactionVersion::Tv1),
            2 => Some(TransactionVersion::Tv2),
            _ => None,
        }
    }

    /// Whether `EndTxn` bumps the producer epoch (version ≥ 2, KIP-890).
    pub const fn supports_epoch_bump(self) -> bool {
        self.level() >= 2
    }

    /// The `__transaction_state` value version written at this feature level: 1 (flexible, with
    /// tagged fields) from version 1 on, else 0.
    pub const fn transaction_log_value_version(self) -> i16 {
        if self.level() >= 1 { 1 } else { 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_round_trip() {
        // TransactionMetadataTest.testTransactionStateIdAndNameMapping
        for (i, s) in TransactionState::ALL.iter().enumerate() {
            assert_eq!(s.id() as usize, i);
            assert_eq!(TransactionState::from_id(s.id()), Some(*s));
            assert_eq!(TransactionState::from_name(s.name()), Some(*s));
            assert_eq!(s.to_string(), s.name());
        }
        assert_eq!(TransactionState::from_id(8), None);
        assert_eq!(TransactionState::from_id(-1), None);
        assert_eq!(TransactionState::from_name("ongoing"), None);
    }

    #[test]
    fn transition_table_matches_kafka() {
        use TransactionState::*;
        // (to, from) pairs that are legal; everything else is not.
        let legal = [
            (Empty, Empty),
            (Empty, CompleteCommit),
            (Empty, CompleteAbort),
            (Ongoing, Ongoing),
            (Ongoing, Empty),
            (Ongoing, CompleteCommit),
            (Ongoing, CompleteAbort),
            (PrepareCommit, Ongoing),
            (PrepareAbort, Ongoing),
            (PrepareAbort, PrepareEpochFence),
            (PrepareAbort, Empty),
            (PrepareAbort, CompleteCommit),
            (PrepareAbort, CompleteAbort),
            (CompleteCommit, PrepareCommit),
            (CompleteAbort, PrepareAbort),
            (Dead, Empty),
            (Dead, CompleteCommit),
            (Dead, CompleteAbort),
            (PrepareEpochFence, Ongoing),
        ];
        for to in TransactionState::ALL {
            for from in TransactionState::ALL {
                assert_eq!(to.can_transition_from(from), legal.contains(&(to, from)), "{from} -> {to}");
            }
        }
        // Nothing ever leaves Dead.
        assert!(TransactionState::ALL.iter().all(|to| !to.can_transition_from(Dead)));
    }

    #[test]
    fn expiration_only_without_open_transaction() {
        let allowed: Vec<_> =
            TransactionState::ALL.iter().copied().filter(|s| s.is_expiration_allowed()).collect();
        assert_eq!(
            allowed,
            [TransactionState::Empty, TransactionState::CompleteCommit, TransactionState::CompleteAbort]
        );
    }

    #[test]
    fn transaction_version_rules() {
        assert_eq!(TransactionVersion::Tv0.transaction_log_value_version(), 0);
        assert_eq!(TransactionVersion::Tv1.transaction_log_value_version(), 1);
        assert_eq!(TransactionVersion::Tv2.transaction_log_value_version(), 1);
        assert!(!TransactionVersion::Tv0.supports_epoch_bump());
        assert!(!TransactionVersion::Tv1.supports_epoch_bump());
        assert!(TransactionVersion::Tv2.supports_epoch_bump());
        for v in [TransactionVersion::Tv0, TransactionVersion::Tv1, TransactionVersion::Tv2] {
            assert_eq!(TransactionVersion::from_level(v.level()), Some(v));
        }
        assert_eq!(TransactionVersion::from_level(3), None);
        assert_eq!(TransactionVersion::from_level(-1), None);
    }
}
