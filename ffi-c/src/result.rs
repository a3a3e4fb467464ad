//! Result codes, their names, and the per-thread detail message of the last failure.
//!
//! # The numbering scheme
//!
//! Every fallible function returns an [`eoslog_result`]. Its numbers never change and are never
//! reused for another meaning; a retired code stays reserved.
//!
//! - `0` is success ([`eoslog_result::Ok`], Kafka's `NONE`).
//! - Kafka protocol error codes are returned **as themselves**: `-1` (UNKNOWN_SERVER_ERROR) and
//!   `1..=6999`, e.g. 45 = OUT_OF_ORDER_SEQUENCE_NUMBER, 90 = PRODUCER_FENCED. An embedder
//!   that speaks the Kafka wire protocol copies the number into its response.
//! - eoslog's own conditions, which Kafka has no code for (NULL pointers, panics, bad UTF-8,
//!   use after close, ...), start at `7000`, far above Kafka's range (Kafka 4.x ends below 130).
//!
//! # The detail message
//!
//! Each failing call also records a message (the engine's error text, or what was wrong with
//! an argument) in a **thread-local** slot, so threads never see each other's messages.
//! [`eoslog_last_error_message`] copies it into a caller buffer. Successful calls leave the
//! slot alone, like `errno`.

use std::cell::RefCell;
use std::ffi::c_char;

use eoslog_core::error::{Error, ErrorCode, StorageError};

/// The outcome of a fallible eoslog call: `EOSLOG_RESULT_OK` (0), a Kafka error code (its own
/// number), or one of eoslog's codes (7000 and up). See `eoslog_result_name` and
/// `eoslog_last_error_message`.
///
/// The C type is a fixed-width `int32_t`; the enumerators name the known values. Numbers are
/// never reused; new codes may be added in later versions, so treat unknown values as errors.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum eoslog_result {
    /// Success.
    Ok = 0,

    // --- Kafka protocol error codes (the numbers are Kafka's) ---
    /// UNKNOWN_SERVER_ERROR (-1): an unexpected error.
    UnknownServerError = -1,
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
    /// MESSAGE_TOO_LARGE (10): a batch over the topic's `max.message.bytes`.
    MessageTooLarge = 10,
    /// OFFSET_METADATA_TOO_LARGE (12).
    OffsetMetadataTooLarge = 12,
    /// COORDINATOR_LOAD_IN_PROGRESS (14).
    CoordinatorLoadInProgress = 14,
    /// COORDINATOR_NOT_AVAILABLE (15).
    CoordinatorNotAvailable = 15,
    /// NOT_COORDINATOR (16).
    NotCoordinator = 16,
    /// INVALID_TOPIC_EXCEPTION (17): an illegal topic name (Kafka's rule: `[a-zA-Z0-9._-]`,
    /// 1 to 249 characters, not `.` or `..`), or a reserved one.
    InvalidTopicException = 17,
    /// RECORD_LIST_TOO_LARGE (18).
    RecordListTooLarge = 18,
    /// ILLEGAL_GENERATION (22): a group member's generation is not the group's current one
    /// (it was rebalanced away: a commit or a transaction's offsets of a zombie consumer).
    IllegalGeneration = 22,
    /// INCONSISTENT_GROUP_PROTOCOL (23).
    InconsistentGroupProtocol = 23,
    /// INVALID_GROUP_ID (24).
    InvalidGroupId = 24,
    /// UNKNOWN_MEMBER_ID (25): the group does not know the member (expelled, or it left).
    UnknownMemberId = 25,
    /// INVALID_SESSION_TIMEOUT (26).
    InvalidSessionTimeout = 26,
    /// REBALANCE_IN_PROGRESS (27): the group is rebalancing, or a subscribed consumer has not
    /// joined yet: poll (which rejoins), then commit again.
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
    /// INVALID_CONFIG (40): an unknown configuration key or an unacceptable value.
    InvalidConfig = 40,
    /// INVALID_REQUEST (42): an argument the engine rejects (negative offset, zero fetch
    /// size, a partition not assigned to the consumer, a closed client, ...).
    InvalidRequest = 42,
    /// UNSUPPORTED_FOR_MESSAGE_FORMAT (43): a batch whose magic is not 2.
    UnsupportedForMessageFormat = 43,
    /// OUT_OF_ORDER_SEQUENCE_NUMBER (45).
    OutOfOrderSequenceNumber = 45,
    /// DUPLICATE_SEQUENCE_NUMBER (46).
    DuplicateSequenceNumber = 46,
    /// INVALID_PRODUCER_EPOCH (47): a batch from a fenced (older) producer epoch.
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
    /// KAFKA_STORAGE_ERROR (56): a disk error or damaged data; the partition is offline.
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
    /// FENCED_INSTANCE_ID (82): a newer consumer with the same `group.instance.id` took this
    /// static member's place; the consumer cannot continue in the group.
    FencedInstanceId = 82,
    /// INVALID_RECORD (87): a batch whose records break a rule, or a control batch sent by
    /// a client.
    InvalidRecord = 87,
    /// UNSTABLE_OFFSET_COMMIT (88).
    UnstableOffsetCommit = 88,
    /// PRODUCER_FENCED (90): a newer producer with the same transactional id exists.
    ProducerFenced = 90,
    /// TRANSACTIONAL_ID_NOT_FOUND (105).
    TransactionalIdNotFound = 105,
    /// TRANSACTION_ABORTABLE (120): the transaction must be aborted.
    TransactionAbortable = 120,

    // --- eoslog's own codes (7000 and up) ---
    /// A required pointer argument was NULL, or a NULL buffer came with a non-zero length.
    NullParameter = 7000,
    /// eoslog panicked (a bug). The panic was caught at the ABI boundary; the handle involved
    /// should be closed and freed.
    Panic = 7001,
    /// A string argument is not valid UTF-8.
    InvalidUtf8 = 7002,
    /// A length or count is past any sane bound (see `EOSLOG_MAX_BUFFER_LEN`,
    /// `EOSLOG_MAX_STRING_LEN` and `EOSLOG_MAX_ARRAY_LEN`).
    LengthTooLarge = 7003,
    /// An argument is out of its domain: an unknown enumerator, an index past the end, a
    /// misaligned pointer.
    InvalidArgument = 7004,
    /// The engine (or the client) was closed: only `_free` is allowed now.
    Closed = 7005,
    /// The pointer is not a live handle of the expected type: freed already (double free,
    /// use after free) or a handle of another type. Detected for recently freed handles
    /// only; see the header's introduction.
    InvalidHandle = 7006,
    /// An iterator has no more items (not an error: the end of a `_next` loop).
    Done = 7007,
    /// The data directory is locked by another engine, in this process or another.
    Locked = 7008,
}

/// Every code, for tests and `eoslog_result_name`.
pub(crate) const ALL_RESULTS: &[eoslog_result] = {
    use eoslog_result::*;
    &[
        Ok,
        UnknownServerError,
        OffsetOutOfRange,
        CorruptMessage,
        UnknownTopicOrPartition,
        InvalidFetchSize,
        RequestTimedOut,
        MessageTooLarge,
        OffsetMetadataTooLarge,
        CoordinatorLoadInProgress,
        CoordinatorNotAvailable,
        NotCoordinator,
        InvalidTopicException,
        RecordListTooLarge,
        IllegalGeneration,
        InconsistentGroupProtocol,
        InvalidGroupId,
        UnknownMemberId,
        InvalidSessionTimeout,
        RebalanceInProgress,
        InvalidCommitOffsetSize,
        InvalidTimestamp,
        UnsupportedVersion,
        TopicAlreadyExists,
        InvalidPartitions,
        InvalidConfig,
        InvalidRequest,
        UnsupportedForMessageFormat,
        OutOfOrderSequenceNumber,
        DuplicateSequenceNumber,
        InvalidProducerEpoch,
        InvalidTxnState,
        InvalidProducerIdMapping,
        InvalidTransactionTimeout,
        ConcurrentTransactions,
        TransactionCoordinatorFenced,
        KafkaStorageError,
        UnknownProducerId,
        NonEmptyGroup,
        GroupIdNotFound,
        FencedLeaderEpoch,
        UnknownLeaderEpoch,
        MemberIdRequired,
        GroupMaxSizeReached,
        FencedInstanceId,
        InvalidRecord,
        UnstableOffsetCommit,
        ProducerFenced,
        TransactionalIdNotFound,
        TransactionAbortable,
        NullParameter,
        Panic,
        InvalidUtf8,
        LengthTooLarge,
        InvalidArgument,
        Closed,
        InvalidHandle,
        Done,
        Locked,
    ]
};

impl eoslog_result {
    /// The code with this number, if there is one.
    pub(crate) fn from_i32(code: i32) -> Option<eoslog_result> {
        ALL_RESULTS.iter().copied().find(|r| *r as i32 == code)
    }

    /// The C-visible name without the `EOSLOG_RESULT_` prefix, NUL-terminated. Kafka codes
    /// use Kafka's names.
    pub(crate) fn name(self) -> &'static std::ffi::CStr {
        use eoslog_result::*;
        match self {
            Ok => c"OK",
            NullParameter => c"NULL_PARAMETER",
            Panic => c"PANIC",
            InvalidUtf8 => c"INVALID_UTF8",
            LengthTooLarge => c"LENGTH_TOO_LARGE",
            InvalidArgument => c"INVALID_ARGUMENT",
            Closed => c"CLOSED",
            InvalidHandle => c"INVALID_HANDLE",
            Done => c"DONE",
            Locked => c"LOCKED",
            UnknownServerError => c"UNKNOWN_SERVER_ERROR",
            OffsetOutOfRange => c"OFFSET_OUT_OF_RANGE",
            CorruptMessage => c"CORRUPT_MESSAGE",
            UnknownTopicOrPartition => c"UNKNOWN_TOPIC_OR_PARTITION",
            InvalidFetchSize => c"INVALID_FETCH_SIZE",
            RequestTimedOut => c"REQUEST_TIMED_OUT",
            MessageTooLarge => c"MESSAGE_TOO_LARGE",
            OffsetMetadataTooLarge => c"OFFSET_METADATA_TOO_LARGE",
            CoordinatorLoadInProgress => c"COORDINATOR_LOAD_IN_PROGRESS",
            CoordinatorNotAvailable => c"COORDINATOR_NOT_AVAILABLE",
            NotCoordinator => c"NOT_COORDINATOR",
            InvalidTopicException => c"INVALID_TOPIC_EXCEPTION",
            RecordListTooLarge => c"RECORD_LIST_TOO_LARGE",
            IllegalGeneration => c"ILLEGAL_GENERATION",
            InconsistentGroupProtocol => c"INCONSISTENT_GROUP_PROTOCOL",
            InvalidGroupId => c"INVALID_GROUP_ID",
            UnknownMemberId => c"UNKNOWN_MEMBER_ID",
            InvalidSessionTimeout => c"INVALID_SESSION_TIMEOUT",
            RebalanceInProgress => c"REBALANCE_IN_PROGRESS",
            InvalidCommitOffsetSize => c"INVALID_COMMIT_OFFSET_SIZE",
            InvalidTimestamp => c"INVALID_TIMESTAMP",
            UnsupportedVersion => c"UNSUPPORTED_VERSION",
            TopicAlreadyExists => c"TOPIC_ALREADY_EXISTS",
            InvalidPartitions => c"INVALID_PARTITIONS",
            InvalidConfig => c"INVALID_CONFIG",
            InvalidRequest => c"INVALID_REQUEST",
            UnsupportedForMessageFormat => c"UNSUPPORTED_FOR_MESSAGE_FORMAT",
            OutOfOrderSequenceNumber => c"OUT_OF_ORDER_SEQUENCE_NUMBER",
            DuplicateSequenceNumber => c"DUPLICATE_SEQUENCE_NUMBER",
            InvalidProducerEpoch => c"INVALID_PRODUCER_EPOCH",
            InvalidTxnState => c"INVALID_TXN_STATE",
            InvalidProducerIdMapping => c"INVALID_PRODUCER_ID_MAPPING",
            InvalidTransactionTimeout => c"INVALID_TRANSACTION_TIMEOUT",
            ConcurrentTransactions => c"CONCURRENT_TRANSACTIONS",
            TransactionCoordinatorFenced => c"TRANSACTION_COORDINATOR_FENCED",
            KafkaStorageError => c"KAFKA_STORAGE_ERROR",
            UnknownProducerId => c"UNKNOWN_PRODUCER_ID",
            NonEmptyGroup => c"NON_EMPTY_GROUP",
            GroupIdNotFound => c"GROUP_ID_NOT_FOUND",
            FencedLeaderEpoch => c"FENCED_LEADER_EPOCH",
            UnknownLeaderEpoch => c"UNKNOWN_LEADER_EPOCH",
            MemberIdRequired => c"MEMBER_ID_REQUIRED",
            GroupMaxSizeReached => c"GROUP_MAX_SIZE_REACHED",
            FencedInstanceId => c"FENCED_INSTANCE_ID",
            InvalidRecord => c"INVALID_RECORD",
            UnstableOffsetCommit => c"UNSTABLE_OFFSET_COMMIT",
            ProducerFenced => c"PRODUCER_FENCED",
            TransactionalIdNotFound => c"TRANSACTIONAL_ID_NOT_FOUND",
            TransactionAbortable => c"TRANSACTION_ABORTABLE",
        }
    }

    /// The code for a Kafka error code. Every code the engine knows has a variant (a unit test
    /// checks it); an unknown future one degrades to UNKNOWN_SERVER_ERROR, and the message
    /// still names it.
    pub(crate) fn from_kafka(code: ErrorCode) -> eoslog_result {
        match code {
            ErrorCode::None => eoslog_result::Ok,
            other => eoslog_result::from_i32(i32::from(other.code()))
                .filter(|r| (*r as i32) < 7000)
                .unwrap_or(eoslog_result::UnknownServerError),
        }
    }
}

/// A failure on its way to C: the code to return and the message for
/// `eoslog_last_error_message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FfiError {
    pub(crate) code: eoslog_result,
    pub(crate) message: String,
}

impl FfiError {
    pub(crate) fn new(code: eoslog_result, message: impl Into<String>) -> FfiError {
        FfiError { code, message: message.into() }
    }

    pub(crate) fn null(what: &str) -> FfiError {
        FfiError::new(eoslog_result::NullParameter, format!("{what} is NULL"))
    }

    pub(crate) fn invalid(message: impl Into<String>) -> FfiError {
        FfiError::new(eoslog_result::InvalidArgument, message)
    }

    pub(crate) fn closed(what: &str) -> FfiError {
        FfiError::new(
            eoslog_result::Closed,
            format!("{what} is closed: only its _free function may be called"),
        )
    }
}

impl From<Error> for FfiError {
    fn from(e: Error) -> FfiError {
        let code = match &e {
            Error::Storage(StorageError::Closed(_)) => eoslog_result::Closed,
            Error::Storage(StorageError::Locked(_)) => eoslog_result::Locked,
            other => eoslog_result::from_kafka(other.code()),
        };
        FfiError { code, message: e.to_string() }
    }
}

impl From<eoslog_core::error::BatchError> for FfiError {
    fn from(e: eoslog_core::error::BatchError) -> FfiError {
        FfiError::from(Error::from(e))
    }
}

pub(crate) type FfiResult<T> = Result<T, FfiError>;

struct LastError {
    code: eoslog_result,
    message: String,
}

thread_local! {
    /// The last failure on this thread. Thread-local so that concurrent callers never read
    /// each other's messages.
    static LAST_ERROR: RefCell<Option<LastError>> = const { RefCell::new(None) };
}

/// Records a failure for `eoslog_last_error_message` on the calling thread.
pub(crate) fn set_last_error(error: FfiError) {
    // `try_with`: during thread teardown the slot may be gone; the code is still returned.
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = Some(LastError { code: error.code, message: error.message });
        }
    });
}

/// The name of a result code, without the `EOSLOG_RESULT_` prefix: `"OK"`,
/// `"OUT_OF_ORDER_SEQUENCE_NUMBER"` (Kafka's names for Kafka's codes), `"NULL_PARAMETER"`, ...
/// `"UNKNOWN_RESULT"` for a number that is not a code.
///
/// Ownership: the string is static; never free it. Thread-safety: safe from any thread.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_result_name(result: i32) -> *const c_char {
    crate::panic::value_boundary(|| match eoslog_result::from_i32(result) {
        Some(r) => r.name().as_ptr(),
        None => c"UNKNOWN_RESULT".as_ptr(),
    })
}

/// The code of the last failed eoslog call on the calling thread, or `EOSLOG_RESULT_OK` if
/// none has failed on this thread yet.
///
/// Thread-safety: each thread has its own last error; this never sees another thread's.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_last_error_code() -> eoslog_result {
    crate::panic::value_boundary(|| {
        LAST_ERROR
            .try_with(|slot| slot.try_borrow().ok().and_then(|s| s.as_ref().map(|e| e.code)))
            .ok()
            .flatten()
            .unwrap_or(eoslog_result::Ok)
    })
}

/// Copies the detail message of the last failed eoslog call on the calling thread into `buf`,
/// like `snprintf`: at most `len - 1` bytes of UTF-8 (cut at a character boundary) and a
/// terminating NUL. Returns the full length of the message in bytes (without the NUL), so a
/// return value `>= len` means the copy was truncated; call with `buf = NULL, len = 0` to learn
/// the size. Returns 0 and writes an empty string if no call has failed on this thread.
///
/// Successful calls do not clear the message (as with `errno`): read it right after the call
/// that returned an error. Reading it does not clear it either.
///
/// Pointers: `buf` may be NULL only when `len` is 0; otherwise it must point to `len`
/// writable bytes. A NULL `buf` with a non-zero `len` writes nothing and returns 0.
///
/// Thread-safety: the message is per thread; any thread may call this at any time.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_last_error_message(buf: *mut c_char, len: usize) -> usize {
    crate::panic::value_boundary(|| {
        LAST_ERROR
            .try_with(|slot| {
                let slot = slot.try_borrow().ok()?;
                let message = slot.as_ref().map(|e| e.message.as_str()).unwrap_or("");
                Some(copy_message(message, buf, len))
            })
            .ok()
            .flatten()
            .unwrap_or(0)
    })
}

/// Copies `message` into `buf` (see `eoslog_last_error_message`) and returns its full length.
fn copy_message(message: &str, buf: *mut c_char, len: usize) -> usize {
    if buf.is_null() || len == 0 {
        return if buf.is_null() && len != 0 { 0 } else { message.len() };
    }
    // Cut at a character boundary so the copy stays valid UTF-8.
    let mut n = message.len().min(len - 1);
    while !message.is_char_boundary(n) {
        n -= 1;
    }
    // SAFETY: `buf` is non-NULL and the caller guarantees `len` writable bytes; we write `n`
    // bytes plus a NUL with `n + 1 <= len`. The source is a Rust string, so the ranges cannot
    // overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(message.as_ptr(), buf.cast::<u8>(), n);
        buf.add(n).write(0);
    }
    message.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kafka_code_has_a_result_with_the_same_number_and_name() {
        for code in ErrorCode::ALL {
            let r = eoslog_result::from_kafka(*code);
            if *code == ErrorCode::None {
                assert_eq!(r, eoslog_result::Ok);
                continue;
            }
            assert_eq!(r as i32, i32::from(code.code()), "{code}: add it to eoslog_result");
            assert_eq!(r.name().to_str().unwrap(), code.name());
        }
    }

    #[test]
    fn numbers_are_unique_and_in_their_ranges() {
        let mut seen = std::collections::HashSet::new();
        for r in ALL_RESULTS {
            assert!(seen.insert(*r as i32), "{r:?} reuses a number");
            assert_eq!(eoslog_result::from_i32(*r as i32), Some(*r));
            let n = *r as i32;
            let ours = matches!(
                r,
                eoslog_result::NullParameter
                    | eoslog_result::Panic
                    | eoslog_result::InvalidUtf8
                    | eoslog_result::LengthTooLarge
                    | eoslog_result::InvalidArgument
                    | eoslog_result::Closed
                    | eoslog_result::InvalidHandle
                    | eoslog_result::Done
                    | eoslog_result::Locked
            );
            assert_eq!(ours, n >= 7000, "{r:?} = {n} is in the wrong range");
        }
        // Pinned numbers: changing any of these breaks every compiled C program.
        assert_eq!(eoslog_result::Ok as i32, 0);
        assert_eq!(eoslog_result::NullParameter as i32, 7000);
        assert_eq!(eoslog_result::Panic as i32, 7001);
        assert_eq!(eoslog_result::Locked as i32, 7008);
        assert_eq!(eoslog_result::ProducerFenced as i32, 90);
    }

    #[test]
    fn messages_are_per_thread_and_truncate_on_char_boundaries() {
        set_last_error(FfiError::new(eoslog_result::InvalidUtf8, "héllo"));
        let other = std::thread::spawn(|| {
            assert_eq!(eoslog_last_error_code(), eoslog_result::Ok);
            eoslog_last_error_message(std::ptr::null_mut(), 0)
        })
        .join()
        .unwrap();
        assert_eq!(other, 0);
        assert_eq!(eoslog_last_error_code(), eoslog_result::InvalidUtf8);
        assert_eq!(eoslog_last_error_message(std::ptr::null_mut(), 0), 6);
        let mut buf = [0x7f as c_char; 3];
        // "hé" would need 3 bytes + NUL: only "h" fits without splitting 'é'.
        assert_eq!(eoslog_last_error_message(buf.as_mut_ptr(), buf.len()), 6);
        assert_eq!(buf[0] as u8, b'h');
        assert_eq!(buf[1], 0);
    }
}
