//! Error types.
//!
//! Every error eoslog returns knows the Kafka protocol error code it corresponds to
//! ([`ErrorCode`]), so an embedder that speaks the Kafka wire protocol only has to copy the
//! number into its response. Errors are grouped by the family of operation that raises them
//! ([`BatchError`] for bytes that are not a valid RecordBatch, [`StorageError`] for the file
//! system, [`ProducerError`] for producer-state validation) and gathered in [`Error`].

use std::fmt;
use std::path::PathBuf;

/// Kafka protocol error codes (`org.apache.kafka.common.protocol.Errors`).
///
/// The numeric values are Kafka's and never change. eoslog-specific conditions that have no
/// Kafka code are reported as [`ErrorCode::UnknownServerError`] by [`ErrorCode`] and carry their
/// own meaning in the error variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
#[repr(i16)]
pub enum ErrorCode {
    /// UNKNOWN_SERVER_ERROR (-1): an unexpected error.
    UnknownServerError = -1,
    /// NONE (0): success.
    None = 0,
    /// OFFSET_OUT_OF_RANGE (1).
    OffsetOutOfRange = 1,
    /// CORRUPT_MESSAGE (2): the batch failed its CRC or is otherwise malformed.
    CorruptMessage = 2,
    /// UNKNOWN_TOPIC_OR_PARTITION (3).
    UnknownTopicOrPartition = 3,
    /// INVALID_FETCH_SIZE (4).
    InvalidFetchSize = 4,
    /// REQUEST_TIMED_OUT (7).
    RequestTimedOut = 7,
    /// MESSAGE_TOO_LARGE (10).
    MessageTooLarge = 10,
    /// OFFSET_METADATA_TOO_LARGE (12).
    OffsetMetadataTooLarge = 12,
    /// COORDINATOR_LOAD_IN_PROGRESS (14).
    CoordinatorLoadInProgress = 14,
    /// COORDINATOR_NOT_AVAILABLE (15).
    CoordinatorNotAvailable = 15,
    /// NOT_COORDINATOR (16).
    NotCoordinator = 16,
    /// INVALID_TOPIC_EXCEPTION (17).
    InvalidTopicException = 17,
    /// RECORD_LIST_TOO_LARGE (18).
    RecordListTooLarge = 18,
    /// ILLEGAL_GENERATION (22).
    IllegalGeneration = 22,
    /// INCONSISTENT_GROUP_PROTOCOL (23).
    InconsistentGroupProtocol = 23,
    /// INVALID_GROUP_ID (24).
    InvalidGroupId = 24,
    /// UNKNOWN_MEMBER_ID (25).
    UnknownMemberId = 25,
    /// INVALID_SESSION_TIMEOUT (26).
    InvalidSessionTimeout = 26,
    /// REBALANCE_IN_PROGRESS (27).
    RebalanceInProgress = 27,
    /// INVALID_COMMIT_OFFSET_SIZE (28).
    InvalidCommitOffsetSize = 28,
    /// INVALID_TIMESTAMP (32).
    InvalidTimestamp = 32,
    /// UNSUPPORTED_VERSION (35).
    UnsupportedVersion = 35,
    /// TOPIC_ALREADY_EXISTS (36).
    TopicAlreadyExists = 36,
    /// INVALID_PARTITIONS (37).
    InvalidPartitions = 37,
    /// INVALID_CONFIG (40).
    InvalidConfig = 40,
    /// INVALID_REQUEST (42).
    InvalidRequest = 42,
    /// UNSUPPORTED_FOR_MESSAGE_FORMAT (43).
    UnsupportedForMessageFormat = 43,
    /// OUT_OF_ORDER_SEQUENCE_NUMBER (45).
    OutOfOrderSequenceNumber = 45,
    /// DUPLICATE_SEQUENCE_NUMBER (46).
    DuplicateSequenceNumber = 46,
    /// INVALID_PRODUCER_EPOCH (47).
    InvalidProducerEpoch = 47,
    /// INVALID_TXN_STATE (48).
    InvalidTxnState = 48,
    /// INVALID_PRODUCER_ID_MAPPING (49).
    InvalidProducerIdMapping = 49,
    /// INVALID_TRANSACTION_TIMEOUT (50).
    InvalidTransactionTimeout = 50,
    /// CONCURRENT_TRANSACTIONS (51).
    ConcurrentTransactions = 51,
    /// TRANSACTION_COORDINATOR_FENCED (52).
    TransactionCoordinatorFenced = 52,
    /// KAFKA_STORAGE_ERROR (56): a disk error; the partition is offline.
    KafkaStorageError = 56,
    /// UNKNOWN_PRODUCER_ID (59).
    UnknownProducerId = 59,
    /// NON_EMPTY_GROUP (68).
    NonEmptyGroup = 68,
    /// GROUP_ID_NOT_FOUND (69).
    GroupIdNotFound = 69,
    /// FENCED_LEADER_EPOCH (74).
    FencedLeaderEpoch = 74,
    /// UNKNOWN_LEADER_EPOCH (75).
    UnknownLeaderEpoch = 75,
    /// MEMBER_ID_REQUIRED (79).
    MemberIdRequired = 79,
    /// GROUP_MAX_SIZE_REACHED (81).
    GroupMaxSizeReached = 81,
    /// FENCED_INSTANCE_ID (82).
    FencedInstanceId = 82,
    /// INVALID_RECORD (87).
    InvalidRecord = 87,
    /// UNSTABLE_OFFSET_COMMIT (88).
    UnstableOffsetCommit = 88,
    /// PRODUCER_FENCED (90).
    ProducerFenced = 90,
    /// TRANSACTIONAL_ID_NOT_FOUND (105).
    TransactionalIdNotFound = 105,
    /// TRANSACTION_ABORTABLE (120).
    TransactionAbortable = 120,
}

impl ErrorCode {
    /// The numeric Kafka code.
    pub const fn code(self) -> i16 {
        self as i16
    }

    /// Kafka's upper-case name for the code (`OUT_OF_ORDER_SEQUENCE_NUMBER`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            ErrorCode::UnknownServerError => "UNKNOWN_SERVER_ERROR",
            ErrorCode::None => "NONE",
            ErrorCode::OffsetOutOfRange => "OFFSET_OUT_OF_RANGE",
            ErrorCode::CorruptMessage => "CORRUPT_MESSAGE",
            ErrorCode::UnknownTopicOrPartition => "UNKNOWN_TOPIC_OR_PARTITION",
            ErrorCode::InvalidFetchSize => "INVALID_FETCH_SIZE",
            ErrorCode::RequestTimedOut => "REQUEST_TIMED_OUT",
            ErrorCode::MessageTooLarge => "MESSAGE_TOO_LARGE",
            ErrorCode::OffsetMetadataTooLarge => "OFFSET_METADATA_TOO_LARGE",
            ErrorCode::CoordinatorLoadInProgress => "COORDINATOR_LOAD_IN_PROGRESS",
            ErrorCode::CoordinatorNotAvailable => "COORDINATOR_NOT_AVAILABLE",
            ErrorCode::NotCoordinator => "NOT_COORDINATOR",
            ErrorCode::InvalidTopicException => "INVALID_TOPIC_EXCEPTION",
            ErrorCode::RecordListTooLarge => "RECORD_LIST_TOO_LARGE",
            ErrorCode::IllegalGeneration => "ILLEGAL_GENERATION",
            ErrorCode::InconsistentGroupProtocol => "INCONSISTENT_GROUP_PROTOCOL",
            ErrorCode::InvalidGroupId => "INVALID_GROUP_ID",
            ErrorCode::UnknownMemberId => "UNKNOWN_MEMBER_ID",
            ErrorCode::InvalidSessionTimeout => "INVALID_SESSION_TIMEOUT",
            ErrorCode::RebalanceInProgress => "REBALANCE_IN_PROGRESS",
            ErrorCode::InvalidCommitOffsetSize => "INVALID_COMMIT_OFFSET_SIZE",
            ErrorCode::InvalidTimestamp => "INVALID_TIMESTAMP",
            ErrorCode::UnsupportedVersion => "UNSUPPORTED_VERSION",
            ErrorCode::TopicAlreadyExists => "TOPIC_ALREADY_EXISTS",
            ErrorCode::InvalidPartitions => "INVALID_PARTITIONS",
            ErrorCode::InvalidConfig => "INVALID_CONFIG",
            ErrorCode::InvalidRequest => "INVALID_REQUEST",
            ErrorCode::UnsupportedForMessageFormat => "UNSUPPORTED_FOR_MESSAGE_FORMAT",
            ErrorCode::OutOfOrderSequenceNumber => "OUT_OF_ORDER_SEQUENCE_NUMBER",
            ErrorCode::DuplicateSequenceNumber => "DUPLICATE_SEQUENCE_NUMBER",
            ErrorCode::InvalidProducerEpoch => "INVALID_PRODUCER_EPOCH",
            ErrorCode::InvalidTxnState => "INVALID_TXN_STATE",
            ErrorCode::InvalidProducerIdMapping => "INVALID_PRODUCER_ID_MAPPING",
            ErrorCode::InvalidTransactionTimeout => "INVALID_TRANSACTION_TIMEOUT",
            ErrorCode::ConcurrentTransactions => "CONCURRENT_TRANSACTIONS",
            ErrorCode::TransactionCoordinatorFenced => "TRANSACTION_COORDINATOR_FENCED",
            ErrorCode::KafkaStorageError => "KAFKA_STORAGE_ERROR",
            ErrorCode::UnknownProducerId => "UNKNOWN_PRODUCER_ID",
            ErrorCode::NonEmptyGroup => "NON_EMPTY_GROUP",
            ErrorCode::GroupIdNotFound => "GROUP_ID_NOT_FOUND",
            ErrorCode::FencedLeaderEpoch => "FENCED_LEADER_EPOCH",
            ErrorCode::UnknownLeaderEpoch => "UNKNOWN_LEADER_EPOCH",
            ErrorCode::MemberIdRequired => "MEMBER_ID_REQUIRED",
            ErrorCode::GroupMaxSizeReached => "GROUP_MAX_SIZE_REACHED",
            ErrorCode::FencedInstanceId => "FENCED_INSTANCE_ID",
            ErrorCode::InvalidRecord => "INVALID_RECORD",
            ErrorCode::UnstableOffsetCommit => "UNSTABLE_OFFSET_COMMIT",
            ErrorCode::ProducerFenced => "PRODUCER_FENCED",
            ErrorCode::TransactionalIdNotFound => "TRANSACTIONAL_ID_NOT_FOUND",
            ErrorCode::TransactionAbortable => "TRANSACTION_ABORTABLE",
        }
    }

    /// Every code this enum knows, in numeric order.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::UnknownServerError,
        ErrorCode::None,
        ErrorCode::OffsetOutOfRange,
        ErrorCode::CorruptMessage,
        ErrorCode::UnknownTopicOrPartition,
        ErrorCode::InvalidFetchSize,
        ErrorCode::RequestTimedOut,
        ErrorCode::MessageTooLarge,
        ErrorCode::OffsetMetadataTooLarge,
        ErrorCode::CoordinatorLoadInProgress,
        ErrorCode::CoordinatorNotAvailable,
        ErrorCode::NotCoordinator,
        ErrorCode::InvalidTopicException,
        ErrorCode::RecordListTooLarge,
        ErrorCode::IllegalGeneration,
        ErrorCode::InconsistentGroupProtocol,
        ErrorCode::InvalidGroupId,
        ErrorCode::UnknownMemberId,
        ErrorCode::InvalidSessionTimeout,
        ErrorCode::RebalanceInProgress,
        ErrorCode::InvalidCommitOffsetSize,
        ErrorCode::InvalidTimestamp,
        ErrorCode::UnsupportedVersion,
        ErrorCode::TopicAlreadyExists,
        ErrorCode::InvalidPartitions,
        ErrorCode::InvalidConfig,
        ErrorCode::InvalidRequest,
        ErrorCode::UnsupportedForMessageFormat,
        ErrorCode::OutOfOrderSequenceNumber,
        ErrorCode::DuplicateSequenceNumber,
        ErrorCode::InvalidProducerEpoch,
        ErrorCode::InvalidTxnState,
        ErrorCode::InvalidProducerIdMapping,
        ErrorCode::InvalidTransactionTimeout,
        ErrorCode::ConcurrentTransactions,
        ErrorCode::TransactionCoordinatorFenced,
        ErrorCode::KafkaStorageError,
        ErrorCode::UnknownProducerId,
        ErrorCode::NonEmptyGroup,
        ErrorCode::GroupIdNotFound,
        ErrorCode::FencedLeaderEpoch,
        ErrorCode::UnknownLeaderEpoch,
        ErrorCode::MemberIdRequired,
        ErrorCode::GroupMaxSizeReached,
        ErrorCode::FencedInstanceId,
        ErrorCode::InvalidRecord,
        ErrorCode::UnstableOffsetCommit,
        ErrorCode::ProducerFenced,
        ErrorCode::TransactionalIdNotFound,
        ErrorCode::TransactionAbortable,
    ];

    /// The code with this number, if eoslog knows it.
    pub fn from_code(code: i16) -> Option<ErrorCode> {
        Self::ALL.iter().copied().find(|c| c.code() == code)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

/// A RecordBatch that cannot be accepted: the bytes are not a valid Kafka v2 batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// The buffer is shorter than the header or than the batch length it declares, or the
    /// declared length is impossible.
    #[error("record batch is corrupt: {0}")]
    Corrupt(String),
    /// The stored CRC-32C does not match the bytes.
    #[error("record batch CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch {
        /// CRC in the header.
        stored: u32,
        /// CRC computed over the bytes.
        computed: u32,
    },
    /// Magic byte other than 2 (message format v0/v1 or garbage).
    #[error("unsupported record batch magic {0} (only v2 is supported)")]
    UnsupportedMagic(i8),
    /// The batch is well framed but its contents break a record-level rule (counts, varints,
    /// offset deltas, attributes, control records).
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// Compression codec number not defined by Kafka.
    #[error("unknown compression codec {0}")]
    UnknownCompression(u8),
    /// The compressed payload could not be decoded.
    #[error("cannot decompress {codec} payload: {detail}")]
    Decompression {
        /// Codec name.
        codec: &'static str,
        /// What went wrong.
        detail: String,
    },
}

impl BatchError {
    /// The Kafka error code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            BatchError::Corrupt(_)
            | BatchError::CrcMismatch { .. }
            | BatchError::Decompression { .. }
            | BatchError::UnknownCompression(_) => ErrorCode::CorruptMessage,
            BatchError::UnsupportedMagic(_) => ErrorCode::UnsupportedForMessageFormat,
            BatchError::InvalidRecord(_) => ErrorCode::InvalidRecord,
        }
    }
}

/// A failure of the file system or of data found on disk.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// An I/O call failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done (`write`, `fdatasync`, `open`, ...).
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A file on disk does not have the contents it must have.
    #[error("corrupt file {path}: {detail}")]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// An earlier write or fsync failed, so this partition refuses writes until it is reopened
    /// (the kernel may have dropped the dirty pages; retrying the fsync would lie).
    #[error("partition {partition} is offline after an earlier I/O failure: {cause}")]
    Offline {
        /// `topic-partition`.
        partition: String,
        /// The first failure.
        cause: String,
    },
    /// The data directory is locked by another process or another engine in this process.
    #[error("data directory {0} is locked by another eoslog engine")]
    Locked(PathBuf),
    /// The engine or partition was closed.
    #[error("{0} is closed")]
    Closed(String),
}

impl StorageError {
    /// Builds an [`StorageError::Io`] from an operation name, path and error.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StorageError::Io { op, path: path.into(), source }
    }

    /// The Kafka error code for this error.
    pub fn code(&self) -> ErrorCode {
        ErrorCode::KafkaStorageError
    }
}

/// A batch rejected by the producer-state rules of Kafka's log layer (idempotence, epochs,
/// transactions).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProducerError {
    /// The batch's first sequence does not follow the producer's last sequence.
    #[error(
        "out of order sequence number for producer {producer_id} at epoch {epoch}: \
         first sequence {first_seq}, expected {expected}"
    )]
    OutOfOrderSequence {
        /// Producer id.
        producer_id: i64,
        /// Producer epoch of the batch.
        epoch: i16,
        /// First sequence of the rejected batch.
        first_seq: i32,
        /// What the broker expected (`last_seq + 1`, or 0 for a new epoch).
        expected: i32,
    },
    /// The batch's producer epoch is older than the epoch the partition knows (a zombie).
    #[error("invalid producer epoch for producer {producer_id}: batch epoch {epoch}, current {current}")]
    InvalidProducerEpoch {
        /// Producer id.
        producer_id: i64,
        /// Epoch carried by the batch.
        epoch: i16,
        /// Epoch known to the partition.
        current: i16,
    },
    /// The batch breaks the transaction rules (e.g. plain data while a transaction is open, or
    /// an unverified first transactional write).
    #[error("invalid transaction state for producer {producer_id}: {detail}")]
    InvalidTxnState {
        /// Producer id.
        producer_id: i64,
        /// Why.
        detail: String,
    },
    /// A transaction marker from an older coordinator epoch (a zombie coordinator).
    #[error(
        "transaction coordinator fenced for producer {producer_id}: marker coordinator epoch \
         {coordinator_epoch}, current {current}"
    )]
    CoordinatorFenced {
        /// Producer id.
        producer_id: i64,
        /// Coordinator epoch of the marker.
        coordinator_epoch: i32,
        /// Coordinator epoch known to the partition.
        current: i32,
    },
}

impl ProducerError {
    /// The Kafka error code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            ProducerError::OutOfOrderSequence { .. } => ErrorCode::OutOfOrderSequenceNumber,
            ProducerError::InvalidProducerEpoch { .. } => ErrorCode::InvalidProducerEpoch,
            ProducerError::InvalidTxnState { .. } => ErrorCode::InvalidTxnState,
            ProducerError::CoordinatorFenced { .. } => ErrorCode::TransactionCoordinatorFenced,
        }
    }
}

/// Any error eoslog returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not an acceptable RecordBatch.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// The file system failed or data on disk is damaged.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Producer-state validation refused the batch.
    #[error(transparent)]
    Producer(#[from] ProducerError),
    /// Illegal topic name.
    #[error("invalid topic name {name:?}: {reason}")]
    InvalidTopic {
        /// The name as given.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// No such topic or partition.
    #[error("unknown topic or partition {topic}-{partition}")]
    UnknownTopicOrPartition {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
    },
    /// The topic exists already.
    #[error("topic {0} already exists")]
    TopicAlreadyExists(String),
    /// Bad partition count.
    #[error("invalid number of partitions {0}: must be between 1 and 100000")]
    InvalidPartitions(i64),
    /// A configuration key or value is not acceptable.
    #[error("invalid config {key}={value:?}: {reason}")]
    InvalidConfig {
        /// Config key (Kafka's name).
        key: String,
        /// Value as given.
        value: String,
        /// Why it is rejected.
        reason: String,
    },
    /// Requested offset outside `[log_start_offset, log_end_offset]`.
    #[error("offset {offset} is out of range [{log_start_offset}, {log_end_offset}]")]
    OffsetOutOfRange {
        /// Requested offset.
        offset: i64,
        /// First offset in the log.
        log_start_offset: i64,
        /// Next offset to be written.
        log_end_offset: i64,
    },
    /// Batch bigger than `max.message.bytes`.
    #[error("batch of {size} bytes exceeds max.message.bytes {max}")]
    MessageTooLarge {
        /// Batch size in bytes.
        size: usize,
        /// Limit.
        max: usize,
    },
    /// A control batch was sent by a client; only the transaction coordinator writes markers.
    #[error("control batches may only be written by the transaction coordinator")]
    ControlBatchFromClient,
    /// A request argument is invalid (negative offset, zero fetch size, ...).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A timestamp is outside what the topic accepts.
    #[error("invalid timestamp: {0}")]
    InvalidTimestamp(String),
    /// An error identified only by its Kafka code (raised by the coordinators).
    #[error("{code}: {message}")]
    Kafka {
        /// Kafka error code.
        code: ErrorCode,
        /// Human-readable detail.
        message: String,
    },
}

impl Error {
    /// The Kafka error code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Batch(e) => e.code(),
            Error::Storage(e) => e.code(),
            Error::Producer(e) => e.code(),
            Error::InvalidTopic { .. } => ErrorCode::InvalidTopicException,
            Error::UnknownTopicOrPartition { .. } => ErrorCode::UnknownTopicOrPartition,
            Error::TopicAlreadyExists(_) => ErrorCode::TopicAlreadyExists,
            Error::InvalidPartitions(_) => ErrorCode::InvalidPartitions,
            Error::InvalidConfig { .. } => ErrorCode::InvalidConfig,
            Error::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
            Error::MessageTooLarge { .. } => ErrorCode::MessageTooLarge,
            Error::ControlBatchFromClient => ErrorCode::InvalidRecord,
            Error::InvalidRequest(_) => ErrorCode::InvalidRequest,
            Error::InvalidTimestamp(_) => ErrorCode::InvalidTimestamp,
            Error::Kafka { code, .. } => *code,
        }
    }

    /// Builds an error identified by a Kafka code.
    pub fn kafka(code: ErrorCode, message: impl Into<String>) -> Self {
        Error::Kafka { code, message: message.into() }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.code()), "duplicate code {c}");
            assert_eq!(ErrorCode::from_code(c.code()), Some(*c));
        }
        assert_eq!(ErrorCode::from_code(9999), None);
    }

    #[test]
    fn exactly_once_codes_match_kafka() {
        assert_eq!(ErrorCode::OutOfOrderSequenceNumber.code(), 45);
        assert_eq!(ErrorCode::InvalidProducerEpoch.code(), 47);
        assert_eq!(ErrorCode::InvalidTxnState.code(), 48);
        assert_eq!(ErrorCode::TransactionCoordinatorFenced.code(), 52);
        assert_eq!(ErrorCode::ProducerFenced.code(), 90);
        assert_eq!(ErrorCode::CorruptMessage.code(), 2);
        let e = Error::from(ProducerError::InvalidProducerEpoch { producer_id: 1, epoch: 0, current: 1 });
        assert_eq!(e.code(), ErrorCode::InvalidProducerEpoch);
    }
}
