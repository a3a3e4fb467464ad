"""Exceptions raised by eoslog.

Every error the engine reports is an :class:`EoslogError` carrying the Kafka protocol error
code (``.code``) and Kafka's upper-case name for it (``.name``). There is one subclass per
error a program is likely to handle, and classes also derive from the builtin a Python user
expects where there is one: invalid arguments are ``ValueError`` s, a missing topic is a
``LookupError``, a storage failure an ``OSError``, a timeout a ``TimeoutError``::

    try:
        producer.commit_transaction()
    except eoslog.ProducerFencedError:
        ...  # another instance took over this transactional id
    except eoslog.EoslogError as e:
        print(e.code, e.name)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "EoslogError",
    "ClosedError",
    "ForkedProcessError",
    "StorageError",
    "DataDirectoryLockedError",
    "UnknownServerError",
    "OffsetOutOfRangeError",
    "CorruptRecordError",
    "UnknownTopicOrPartitionError",
    "InvalidFetchSizeError",
    "RequestTimedOutError",
    "MessageTooLargeError",
    "OffsetMetadataTooLargeError",
    "CoordinatorLoadInProgressError",
    "CoordinatorNotAvailableError",
    "NotCoordinatorError",
    "InvalidTopicError",
    "RecordListTooLargeError",
    "IllegalGenerationError",
    "InconsistentGroupProtocolError",
    "InvalidGroupIdError",
    "UnknownMemberIdError",
    "InvalidSessionTimeoutError",
    "RebalanceInProgressError",
    "InvalidCommitOffsetSizeError",
    "InvalidTimestampError",
    "UnsupportedVersionError",
    "TopicAlreadyExistsError",
    "InvalidPartitionsError",
    "InvalidConfigError",
    "InvalidRequestError",
    "UnsupportedForMessageFormatError",
    "OutOfOrderSequenceError",
    "DuplicateSequenceError",
    "InvalidProducerEpochError",
    "InvalidTxnStateError",
    "InvalidProducerIdMappingError",
    "InvalidTransactionTimeoutError",
    "ConcurrentTransactionsError",
    "TransactionCoordinatorFencedError",
    "UnknownProducerIdError",
    "NonEmptyGroupError",
    "GroupIdNotFoundError",
    "FencedLeaderEpochError",
    "UnknownLeaderEpochError",
    "MemberIdRequiredError",
    "GroupMaxSizeReachedError",
    "FencedInstanceIdError",
    "InvalidRecordError",
    "UnstableOffsetCommitError",
    "ProducerFencedError",
    "TransactionalIdNotFoundError",
    "TransactionAbortableError",
]


class EoslogError(Exception):
    """Base class of every eoslog error.

    Attributes:
        code: the Kafka protocol error code (``-1`` when there is none).
        name: Kafka's name for the code (``"OUT_OF_ORDER_SEQUENCE_NUMBER"``, ...).
    """

    code: int = -1
    name: str = "UNKNOWN_SERVER_ERROR"

    def __init__(self, message: str, code: int | None = None, name: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        if name is not None:
            self.name = name

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.code, self.name))


# --- raised by the binding itself ---------------------------------------------------------------


class ClosedError(EoslogError, RuntimeError):
    """The engine, producer, consumer or partition was used after ``close()``."""

    code = 56
    name = "KAFKA_STORAGE_ERROR"


class ForkedProcessError(EoslogError, RuntimeError):
    """An engine object was used in a process forked from the one that opened the engine.

    The engine's threads, io_uring ring and directory lock belong to the parent; open the
    engine again in the child (after the parent closed it, or on another directory).
    """


# --- storage ------------------------------------------------------------------------------------


class StorageError(EoslogError, OSError):
    """The file system failed or data on disk is damaged; the partition may be offline."""

    code = 56
    name = "KAFKA_STORAGE_ERROR"


class DataDirectoryLockedError(StorageError):
    """The data directory is open in another engine (this process or another one)."""


# --- one class per Kafka error code -------------------------------------------------------------


class UnknownServerError(EoslogError):
    """UNKNOWN_SERVER_ERROR (-1)."""

    code = -1
    name = "UNKNOWN_SERVER_ERROR"


class OffsetOutOfRangeError(EoslogError, IndexError):
    """OFFSET_OUT_OF_RANGE (1): the offset is outside the log."""

    code = 1
    name = "OFFSET_OUT_OF_RANGE"


class CorruptRecordError(EoslogError, ValueError):
    """CORRUPT_MESSAGE (2): the bytes are not a valid RecordBatch (framing, CRC, codec)."""

    code = 2
    name = "CORRUPT_MESSAGE"


class UnknownTopicOrPartitionError(EoslogError, LookupError):
    """UNKNOWN_TOPIC_OR_PARTITION (3)."""

    code = 3
    name = "UNKNOWN_TOPIC_OR_PARTITION"


class InvalidFetchSizeError(EoslogError, ValueError):
    """INVALID_FETCH_SIZE (4)."""

    code = 4
    name = "INVALID_FETCH_SIZE"


class RequestTimedOutError(EoslogError, TimeoutError):
    """REQUEST_TIMED_OUT (7): a blocking call gave up (``max.block.ms``, ...)."""

    code = 7
    name = "REQUEST_TIMED_OUT"


class MessageTooLargeError(EoslogError, ValueError):
    """MESSAGE_TOO_LARGE (10): over ``max.message.bytes`` / ``max.request.size``."""

    code = 10
    name = "MESSAGE_TOO_LARGE"


class OffsetMetadataTooLargeError(EoslogError, ValueError):
    """OFFSET_METADATA_TOO_LARGE (12)."""

    code = 12
    name = "OFFSET_METADATA_TOO_LARGE"


class CoordinatorLoadInProgressError(EoslogError):
    """COORDINATOR_LOAD_IN_PROGRESS (14)."""

    code = 14
    name = "COORDINATOR_LOAD_IN_PROGRESS"


class CoordinatorNotAvailableError(EoslogError):
    """COORDINATOR_NOT_AVAILABLE (15)."""

    code = 15
    name = "COORDINATOR_NOT_AVAILABLE"


class NotCoordinatorError(EoslogError):
    """NOT_COORDINATOR (16)."""

    code = 16
    name = "NOT_COORDINATOR"


class InvalidTopicError(EoslogError, ValueError):
    """INVALID_TOPIC_EXCEPTION (17): an illegal or reserved topic name."""

    code = 17
    name = "INVALID_TOPIC_EXCEPTION"


class RecordListTooLargeError(EoslogError, ValueError):
    """RECORD_LIST_TOO_LARGE (18)."""

    code = 18
    name = "RECORD_LIST_TOO_LARGE"


class IllegalGenerationError(EoslogError):
    """ILLEGAL_GENERATION (22): a commit from a generation the group has left behind.

    Raised by :meth:`Consumer.commit` and :meth:`Producer.send_offsets_to_transaction` when the
    consumer lost its partitions in a rebalance since (it is a zombie); the next
    :meth:`Consumer.poll` rejoins. A transaction in progress can only be aborted."""

    code = 22
    name = "ILLEGAL_GENERATION"


class InconsistentGroupProtocolError(EoslogError):
    """INCONSISTENT_GROUP_PROTOCOL (23)."""

    code = 23
    name = "INCONSISTENT_GROUP_PROTOCOL"


class InvalidGroupIdError(EoslogError, ValueError):
    """INVALID_GROUP_ID (24): no or an empty ``group.id`` where one is needed."""

    code = 24
    name = "INVALID_GROUP_ID"


class UnknownMemberIdError(EoslogError):
    """UNKNOWN_MEMBER_ID (25): the group no longer knows the member (it was expelled, or
    left); raised like :class:`IllegalGenerationError`."""

    code = 25
    name = "UNKNOWN_MEMBER_ID"


class InvalidSessionTimeoutError(EoslogError, ValueError):
    """INVALID_SESSION_TIMEOUT (26)."""

    code = 26
    name = "INVALID_SESSION_TIMEOUT"


class RebalanceInProgressError(EoslogError):
    """REBALANCE_IN_PROGRESS (27): the group is rebalancing (or the consumer has not joined
    yet): :meth:`Consumer.poll` to rejoin, then commit again."""

    code = 27
    name = "REBALANCE_IN_PROGRESS"


class InvalidCommitOffsetSizeError(EoslogError):
    """INVALID_COMMIT_OFFSET_SIZE (28)."""

    code = 28
    name = "INVALID_COMMIT_OFFSET_SIZE"


class InvalidTimestampError(EoslogError, ValueError):
    """INVALID_TIMESTAMP (32)."""

    code = 32
    name = "INVALID_TIMESTAMP"


class UnsupportedVersionError(EoslogError):
    """UNSUPPORTED_VERSION (35)."""

    code = 35
    name = "UNSUPPORTED_VERSION"


class TopicAlreadyExistsError(EoslogError):
    """TOPIC_ALREADY_EXISTS (36)."""

    code = 36
    name = "TOPIC_ALREADY_EXISTS"


class InvalidPartitionsError(EoslogError, ValueError):
    """INVALID_PARTITIONS (37): a partition count out of range."""

    code = 37
    name = "INVALID_PARTITIONS"


class InvalidConfigError(EoslogError, ValueError):
    """INVALID_CONFIG (40): an unknown configuration key or a bad value."""

    code = 40
    name = "INVALID_CONFIG"


class InvalidRequestError(EoslogError, ValueError):
    """INVALID_REQUEST (42): an argument the engine rejects (negative offset, ...)."""

    code = 42
    name = "INVALID_REQUEST"


class UnsupportedForMessageFormatError(EoslogError, ValueError):
    """UNSUPPORTED_FOR_MESSAGE_FORMAT (43): not a v2 (magic 2) batch."""

    code = 43
    name = "UNSUPPORTED_FOR_MESSAGE_FORMAT"


class OutOfOrderSequenceError(EoslogError):
    """OUT_OF_ORDER_SEQUENCE_NUMBER (45): a batch's sequence does not follow the last one."""

    code = 45
    name = "OUT_OF_ORDER_SEQUENCE_NUMBER"


class DuplicateSequenceError(EoslogError):
    """DUPLICATE_SEQUENCE_NUMBER (46)."""

    code = 46
    name = "DUPLICATE_SEQUENCE_NUMBER"


class InvalidProducerEpochError(EoslogError):
    """INVALID_PRODUCER_EPOCH (47): a write from a producer epoch that was fenced."""

    code = 47
    name = "INVALID_PRODUCER_EPOCH"


class InvalidTxnStateError(EoslogError):
    """INVALID_TXN_STATE (48): the call is not allowed in the transaction's state."""

    code = 48
    name = "INVALID_TXN_STATE"


class InvalidProducerIdMappingError(EoslogError):
    """INVALID_PRODUCER_ID_MAPPING (49)."""

    code = 49
    name = "INVALID_PRODUCER_ID_MAPPING"


class InvalidTransactionTimeoutError(EoslogError, ValueError):
    """INVALID_TRANSACTION_TIMEOUT (50)."""

    code = 50
    name = "INVALID_TRANSACTION_TIMEOUT"


class ConcurrentTransactionsError(EoslogError):
    """CONCURRENT_TRANSACTIONS (51): the previous transaction is still completing."""

    code = 51
    name = "CONCURRENT_TRANSACTIONS"


class TransactionCoordinatorFencedError(EoslogError):
    """TRANSACTION_COORDINATOR_FENCED (52)."""

    code = 52
    name = "TRANSACTION_COORDINATOR_FENCED"


class UnknownProducerIdError(EoslogError):
    """UNKNOWN_PRODUCER_ID (59)."""

    code = 59
    name = "UNKNOWN_PRODUCER_ID"


class NonEmptyGroupError(EoslogError):
    """NON_EMPTY_GROUP (68)."""

    code = 68
    name = "NON_EMPTY_GROUP"


class GroupIdNotFoundError(EoslogError, LookupError):
    """GROUP_ID_NOT_FOUND (69)."""

    code = 69
    name = "GROUP_ID_NOT_FOUND"


class FencedLeaderEpochError(EoslogError):
    """FENCED_LEADER_EPOCH (74)."""

    code = 74
    name = "FENCED_LEADER_EPOCH"


class UnknownLeaderEpochError(EoslogError):
    """UNKNOWN_LEADER_EPOCH (75)."""

    code = 75
    name = "UNKNOWN_LEADER_EPOCH"


class MemberIdRequiredError(EoslogError):
    """MEMBER_ID_REQUIRED (79)."""

    code = 79
    name = "MEMBER_ID_REQUIRED"


class GroupMaxSizeReachedError(EoslogError):
    """GROUP_MAX_SIZE_REACHED (81)."""

    code = 81
    name = "GROUP_MAX_SIZE_REACHED"


class FencedInstanceIdError(EoslogError):
    """FENCED_INSTANCE_ID (82): another consumer took over this ``group.instance.id``: this
    one can no longer take part in its group (close it)."""

    code = 82
    name = "FENCED_INSTANCE_ID"


class InvalidRecordError(EoslogError, ValueError):
    """INVALID_RECORD (87): a well-framed batch breaks a record-level rule (or is a control
    batch from a client)."""

    code = 87
    name = "INVALID_RECORD"


class UnstableOffsetCommitError(EoslogError):
    """UNSTABLE_OFFSET_COMMIT (88): a transactional offset commit is still pending."""

    code = 88
    name = "UNSTABLE_OFFSET_COMMIT"


class ProducerFencedError(EoslogError):
    """PRODUCER_FENCED (90): a newer producer with the same transactional id exists."""

    code = 90
    name = "PRODUCER_FENCED"


class TransactionalIdNotFoundError(EoslogError, LookupError):
    """TRANSACTIONAL_ID_NOT_FOUND (105)."""

    code = 105
    name = "TRANSACTIONAL_ID_NOT_FOUND"


class TransactionAbortableError(EoslogError):
    """TRANSACTION_ABORTABLE (120): something in the transaction failed; abort it."""

    code = 120
    name = "TRANSACTION_ABORTABLE"


def _classes() -> dict[int, type[EoslogError]]:
    by_code: dict[int, type[EoslogError]] = {}
    for name in __all__:
        cls = globals()[name]
        if name in ("EoslogError", "ClosedError", "ForkedProcessError", "DataDirectoryLockedError"):
            continue
        by_code.setdefault(cls.code, cls)
    return by_code


_BY_CODE = _classes()


def _make_error(code: int, name: str, message: str, class_name: str | None) -> EoslogError:
    """Builds the exception for an engine error (called by the native module)."""
    cls: type[EoslogError] | None = None
    if class_name is not None:
        found = globals().get(class_name)
        if isinstance(found, type) and issubclass(found, EoslogError):
            cls = found
    if cls is None:
        cls = _BY_CODE.get(code, EoslogError)
    return cls(message, code, name)
