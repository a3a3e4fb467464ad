//! How the clients classify and share errors.

use crate::error::{Error, ErrorCode, ProducerError};

/// An error that several waiters receive (every record of a failed batch, every later call on
/// a fatally failed producer). [`Error`] is not `Clone` (it can carry an `io::Error`), so the
/// code and message are kept and turned back into an [`Error`] per receiver; producer-state
/// errors keep their typed variant.
#[derive(Debug, Clone)]
pub(crate) struct SharedError {
    code: ErrorCode,
    message: String,
    producer: Option<ProducerError>,
}

impl SharedError {
    pub(crate) fn new(e: &Error) -> Self {
        let producer = match e {
            Error::Producer(p) => Some(p.clone()),
            _ => None,
        };
        // `to_error` makes an `Error::Kafka`, whose display prefixes the code: keep only the
        // message of one that is already, or the code would be shown twice.
        let message = match e {
            Error::Kafka { message, .. } => message.clone(),
            other => other.to_string(),
        };
        SharedError { code: e.code(), message, producer }
    }

    pub(crate) fn with_context(code: ErrorCode, message: impl Into<String>) -> Self {
        SharedError { code, message: message.into(), producer: None }
    }

    pub(crate) fn to_error(&self) -> Error {
        match &self.producer {
            Some(p) => Error::Producer(p.clone()),
            None => Error::kafka(self.code, self.message.clone()),
        }
    }
}

/// Errors after which a producer cannot continue: its identity was fenced by a newer instance
/// or the coordinator, or the partition and the producer disagree about its sequences
/// (OUT_OF_ORDER_SEQUENCE_NUMBER: records may be missing, so going on could reorder or lose
/// data; Kafka's idempotent producer treats it the same way).
pub(crate) fn is_fatal(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::ProducerFenced
            | ErrorCode::InvalidProducerEpoch
            | ErrorCode::OutOfOrderSequenceNumber
            | ErrorCode::InvalidProducerIdMapping
            | ErrorCode::TransactionCoordinatorFenced
            | ErrorCode::UnknownProducerId
            | ErrorCode::FencedInstanceId
    )
}

/// Errors with which the group coordinator refuses the offset commit of a consumer that is no
/// longer the owner of its partitions (KIP-447). For a transactional producer they doom the
/// transaction, not the producer: FENCED_INSTANCE_ID fences the consumer instance, not the
/// transactional id.
pub(crate) fn is_group_membership_error(code: ErrorCode) -> bool {
    matches!(code, ErrorCode::IllegalGeneration | ErrorCode::UnknownMemberId | ErrorCode::FencedInstanceId)
}

/// Errors that say nothing was done and a retry may succeed (Kafka's `RetriableException`s
/// that an in-process engine can raise).
pub(crate) fn is_retriable(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::ConcurrentTransactions
            | ErrorCode::CoordinatorLoadInProgress
            | ErrorCode::CoordinatorNotAvailable
            | ErrorCode::NotCoordinator
            | ErrorCode::RequestTimedOut
            | ErrorCode::UnstableOffsetCommit
    )
}

/// Errors a failed append returns without having written anything (validation of the batch
/// or the request). Anything else may have reached the log.
pub(crate) fn is_definitely_not_written(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::MessageTooLarge
            | ErrorCode::RecordListTooLarge
            | ErrorCode::InvalidRecord
            | ErrorCode::CorruptMessage
            | ErrorCode::InvalidTimestamp
            | ErrorCode::UnknownTopicOrPartition
            | ErrorCode::InvalidTopicException
            | ErrorCode::InvalidRequest
            | ErrorCode::InvalidTxnState
            | ErrorCode::TransactionAbortable
    ) || is_fatal(code)
        || is_retriable(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_error_shows_its_code_once() {
        let e = Error::kafka(ErrorCode::IllegalGeneration, "generation 3 is over");
        let shared = SharedError::new(&e).to_error();
        assert_eq!(shared.to_string(), e.to_string());
        assert_eq!(shared.code(), ErrorCode::IllegalGeneration);
        let io = Error::UnknownTopicOrPartition { topic: "t".into(), partition: 9 };
        assert!(SharedError::new(&io).to_error().to_string().ends_with("unknown topic or partition t-9"));
    }

    #[test]
    fn shared_errors_keep_code_and_type() {
        let e = Error::from(ProducerError::OutOfOrderSequence {
            producer_id: 1,
            epoch: 0,
            first_seq: 9,
            expected: 3,
        });
        let s = SharedError::new(&e);
        assert!(matches!(s.to_error(), Error::Producer(ProducerError::OutOfOrderSequence { .. })));
        assert_eq!(s.to_error().code(), ErrorCode::OutOfOrderSequenceNumber);
        let s = SharedError::new(&Error::MessageTooLarge { size: 10, max: 5 });
        assert_eq!(s.to_error().code(), ErrorCode::MessageTooLarge);
        assert!(s.to_error().to_string().contains("exceeds"));
    }

    #[test]
    fn classification() {
        assert!(is_fatal(ErrorCode::ProducerFenced) && is_fatal(ErrorCode::InvalidProducerEpoch));
        assert!(!is_retriable(ErrorCode::ProducerFenced));
        assert!(is_retriable(ErrorCode::ConcurrentTransactions));
        assert!(is_definitely_not_written(ErrorCode::MessageTooLarge));
        assert!(!is_definitely_not_written(ErrorCode::KafkaStorageError));
    }
}
