"""Type stubs for the native module ``eoslog._eoslog`` (import from ``eoslog`` instead)."""

from collections.abc import Callable, Iterable, Iterator, Mapping
from os import PathLike
from types import TracebackType
from typing import Any, Literal, Self, TypeAlias, final, overload

__version__: str
__all__ = [
    "AbortedTransaction",
    "AppendInfo",
    "Consumer",
    "ConsumerGroupMetadata",
    "ConsumerRecord",
    "Engine",
    "FetchResult",
    "OffsetAndMetadata",
    "Partition",
    "PartitionRecovery",
    "Producer",
    "Record",
    "RecordBatch",
    "RecordBatchBuilder",
    "RecordMetadata",
    "RecordsBuffer",
    "RecoveryReport",
    "TopicDescription",
    "TopicPartition",
    "Transaction",
    "decode_batches",
    "__version__",
    "_rust_baseline",
]

#: Raw bytes: anything exporting a byte buffer.
_BytesLike: TypeAlias = bytes | bytearray | memoryview
#: A record key, value or header value: bytes-like, or ``str`` (encoded as UTF-8).
_Data: TypeAlias = bytes | bytearray | memoryview | str
#: Record headers: ``(key, value)`` pairs (keys may repeat) or a dict.
_Headers: TypeAlias = Iterable[tuple[str, _Data | None]] | Mapping[str, _Data | None]
#: A partition: a :class:`TopicPartition` or a ``(topic, partition)`` tuple.
_TopicPartitionLike: TypeAlias = TopicPartition | tuple[str, int]
#: _Offsets to commit: the *next* offset to consume per partition.
_Offsets: TypeAlias = (
    Mapping[_TopicPartitionLike, int | OffsetAndMetadata]
    | Mapping[TopicPartition, int | OffsetAndMetadata]
    | Mapping[tuple[str, int], int | OffsetAndMetadata]
    | Iterable[tuple[_TopicPartitionLike, int | OffsetAndMetadata]]
)
#: A ``send_many`` item: a value, a ``(key, value)`` tuple, or a dict with any of ``value``,
#: ``key``, ``headers``, ``partition``, ``timestamp`` and ``topic``.
_SendItem: TypeAlias = _Data | None | tuple[_Data | None, _Data | None] | Mapping[str, Any]
#: Configuration values: Kafka's string forms, or ints and bools; a list of str for a list
#: setting (``partition_assignment_strategy``); ``None`` keeps the default.
_ConfigValue: TypeAlias = str | int | bool | list[str] | None
#: A rebalance callback of :meth:`Consumer.subscribe`: called with the consumer and the
#: partitions concerned (confluent-kafka's ``on_assign`` / ``on_revoke`` / ``on_lost``).
_RebalanceCallback: TypeAlias = Callable[[Consumer, list[TopicPartition]], object]

@final
class Engine:
    """An open eoslog data directory: topics, producers, consumers, partitions.

    Open it with :meth:`Engine.open`, preferably as a context manager so it is closed (flushed,
    checkpointed, marked cleanly shut down) at the end. The engine is safe to share between
    threads; every blocking call releases the GIL. Using it after :meth:`close` raises
    :class:`~eoslog.ClosedError`, and using it in a process forked from the one that opened
    it raises :class:`~eoslog.ForkedProcessError`.
    """

    @classmethod
    def open(cls, path: str | PathLike[str], **config: _ConfigValue) -> Engine:
        """Opens (creating if needed) the data directory at ``path``.

        Args:
            path: the data directory. Only one engine may have it open at a time
                (:class:`~eoslog.DataDirectoryLockedError` otherwise).
            **config: engine settings with Kafka's names, dotted or with underscores:
                ``durability`` (``"none"``, ``"always"``, ``"interval(100ms)"``), ``io``
                (``"auto"``, ``"uring"``, ``"std"``), ``transaction_max_timeout_ms``, ... and
                any topic setting (``segment_bytes``, ``retention_ms``, ...) as the default
                for new topics.

        Raises:
            InvalidConfigError: an unknown key or a bad value.
            StorageError: the directory cannot be opened or recovered.
        """

    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        _exc_type: type[BaseException] | None = None,
        _exc: BaseException | None = None,
        _tb: TracebackType | None = None,
    ) -> bool:
        """Closes the engine; never swallows an exception."""

    def close(self) -> None:
        """Flushes everything and closes the engine; closing twice is fine."""

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""

    @property
    def path(self) -> str:
        """The data directory."""

    @property
    def io_backend(self) -> str:
        """The I/O backend in use: ``"uring"`` or ``"std"``."""

    @property
    def recovery_report(self) -> RecoveryReport:
        """What opening the directory found (clean shutdown or not, what recovery cut)."""

    def create_topic(self, name: str, partitions: int = 1, **config: _ConfigValue) -> None:
        """Creates a topic.

        Args:
            name: 1–249 characters of ``[a-zA-Z0-9._-]``, not ``.`` or ``..``.
            partitions: number of partitions (1–100000).
            **config: topic settings with Kafka's names (``segment_bytes``, ``retention_ms``,
                ``max_message_bytes``, ``message_timestamp_type``, ...).

        Raises:
            InvalidTopicError: an illegal or reserved name.
            TopicAlreadyExistsError: the topic exists.
            InvalidPartitionsError: a partition count out of range.
            InvalidConfigError: an unknown key or a bad value.
        """

    def topics(self) -> dict[str, TopicDescription]:
        """The user topics (without eoslog's internal ones), by name."""

    def delete_topic(self, name: str) -> None:
        """Deletes a topic and all of its data.

        Raises:
            UnknownTopicOrPartitionError: no such topic.
        """

    def partition(self, topic: str, partition: int) -> Partition:
        """The low-level log of one partition (raw batch append and read).

        Raises:
            UnknownTopicOrPartitionError: no such topic or partition.
        """

    def producer(self, transactional_id: str | None = None, **config: _ConfigValue) -> Producer:
        """A producer: idempotent by default, transactional with a ``transactional_id``.

        Args:
            transactional_id: makes the producer transactional; call
                :meth:`Producer.init_transactions` before the first transaction.
            **config: producer settings with the Java client's names (``linger_ms``,
                ``batch_size``, ``compression_type``, ``transaction_timeout_ms``,
                ``enable_idempotence``, ``max_request_size``, ``partitioner``, ...).
        """

    def consumer(
        self,
        group_id: str | None = None,
        isolation_level: Literal["read_committed", "read_uncommitted"] = "read_committed",
        **config: _ConfigValue,
    ) -> Consumer:
        """A consumer.

        Args:
            group_id: the consumer group; needed to commit offsets and to subscribe.
            isolation_level: ``read_committed`` (the default) never returns records of open or
                aborted transactions; ``read_uncommitted`` returns everything up to the high
                watermark.
            **config: consumer settings with the Java client's names
                (``auto_offset_reset``: ``"earliest"``, ``"latest"`` (default) or ``"none"``;
                ``max_poll_records``, ``enable_auto_commit``, ``max_partition_fetch_bytes``,
                ...), plus kafka-python's ``consumer_timeout_ms``: how long iterating the
                consumer waits for the next record before the loop ends (default: forever).
                For :meth:`Consumer.subscribe`: ``group_instance_id`` (a static member: its
                restart takes its place back without a rebalance), ``session_timeout_ms``,
                ``heartbeat_interval_ms``, ``max_poll_interval_ms`` and
                ``partition_assignment_strategy`` (``"cooperative-sticky"``, the default,
                ``"range"`` or ``"roundrobin"``; a comma-separated str or a list).
        """

    def flush(self) -> None:
        """Makes everything appended so far durable (fsync)."""

@final
class TopicDescription:
    """A topic as listed by :meth:`Engine.topics`."""

    @property
    def name(self) -> str:
        """The topic name."""

    @property
    def partitions(self) -> int:
        """Number of partitions."""

    @property
    def topic_id(self) -> str:
        """Kafka topic id (base64)."""

    @property
    def internal(self) -> bool:
        """Whether eoslog owns the topic (``__transaction_state``, ``__consumer_offsets``)."""

    @property
    def config(self) -> dict[str, str]:
        """The topic's configuration, Kafka-named."""

@final
class RecoveryReport:
    """What opening a data directory found."""

    @property
    def clean_shutdown(self) -> bool:
        """Whether the previous run closed the engine cleanly."""

    @property
    def duration(self) -> float:
        """Seconds taken to open."""

    @property
    def truncated_bytes(self) -> int:
        """Bytes cut from partition tails (torn or corrupt writes), over all partitions."""

    @property
    def removed_directories(self) -> list[str]:
        """Leftover directories of deleted topics that were removed."""

    @property
    def partitions(self) -> list[PartitionRecovery]:
        """Findings for every partition."""

    def changed(self) -> list[PartitionRecovery]:
        """Partitions where recovery cut or rebuilt something."""

@final
class PartitionRecovery:
    """One partition's recovery findings."""

    @property
    def partition(self) -> str:
        """``topic-partition``."""

    @property
    def clean_shutdown(self) -> bool:
        """Opened without a data scan."""

    @property
    def segments_recovered(self) -> int:
        """Segments fully scanned."""

    @property
    def batches_scanned(self) -> int:
        """Batches checked during the scan."""

    @property
    def bytes_scanned(self) -> int:
        """Bytes checked during the scan."""

    @property
    def truncated_bytes(self) -> int:
        """Bytes cut from the end of the log."""

    @property
    def truncated_to_offset(self) -> int | None:
        """The offset the log was truncated to, if it was."""

    @property
    def truncation_reason(self) -> str | None:
        """Why the tail was cut."""

    @property
    def deleted_segments(self) -> list[int]:
        """Base offsets of segments deleted because they followed the damage."""

    @property
    def rebuilt_indexes(self) -> list[int]:
        """Base offsets of segments whose indexes were rebuilt."""

    @property
    def log_end_offset(self) -> int:
        """Log end offset after opening."""

@final
class Producer:
    """Writes records; idempotent (retries never duplicate), transactional with a
    ``transactional_id``.

    Shaped after Kafka's producer: records go to a partition chosen by key (murmur2, as
    Kafka's default partitioner does) or given explicitly. A transactional producer sends only
    inside a transaction::

        producer.init_transactions()
        with producer.transaction():
            producer.send("out", b"v")
            producer.send_offsets_to_transaction(offsets, consumer.consumer_group_metadata())

    Safe to use from several threads. Use as a context manager (or call :meth:`close`) to
    flush and release it; closing aborts an open transaction.
    """

    def send(
        self,
        topic: str,
        value: _Data | None = None,
        key: _Data | None = None,
        partition: int | None = None,
        headers: _Headers | None = None,
        timestamp: int | None = None,
    ) -> RecordMetadata:
        """Sends one record and waits until it is in the log.

        Each call appends its own batch; use :meth:`send_many` for bulk writes.

        Args:
            topic: the topic.
            value: the value (``None``: a null value, a tombstone).
            key: the key; picks the partition when ``partition`` is not given.
            partition: an explicit partition.
            headers: record headers.
            timestamp: milliseconds since the epoch (default: now).

        Returns:
            Where the record landed (for a transactional producer it becomes visible to
            read_committed consumers when the transaction commits).

        Raises:
            UnknownTopicOrPartitionError: no such topic or partition.
            MessageTooLargeError: the record exceeds ``max.request.size``.
            InvalidTxnStateError: a transactional producer outside a transaction.
            ProducerFencedError: a newer producer with the same transactional id exists.
        """

    def send_many(
        self,
        topic: str,
        records: Iterable[_SendItem],
        *,
        partition: int | None = None,
        timestamp: int | None = None,
    ) -> int:
        """Sends many records, batched in Rust, and waits until all are in the log.

        Args:
            topic: the default topic (a dict item may name another).
            records: values, ``(key, value)`` tuples, or dicts with ``value``, ``key``,
                ``headers``, ``partition``, ``timestamp`` and ``topic`` entries.
            partition: the default partition (else by key, or sticky for null keys).
            timestamp: the default timestamp (else now).

        Returns:
            The number of records sent.

        Raises:
            TypeError: an item of an unsupported type (records before it may have been sent).
        """

    def flush(self) -> None:
        """Appends every record sent so far and waits for them."""

    def init_transactions(self) -> None:
        """Registers the transactional id; fences (and aborts the open transaction of) any
        earlier producer with the same id."""

    def begin_transaction(self) -> None:
        """Starts a transaction."""

    def commit_transaction(self) -> None:
        """Commits the transaction: its records and offsets become visible atomically.

        Raises:
            TransactionAbortableError: a record of the transaction failed; abort it.
        """

    def abort_transaction(self) -> None:
        """Aborts the transaction: read_committed consumers never see its records."""

    def send_offsets_to_transaction(
        self, offsets: _Offsets, group: str | ConsumerGroupMetadata
    ) -> None:
        """Adds consumer positions to the transaction; they become the group's committed
        offsets if and only if the transaction commits.

        Args:
            offsets: the next offset to consume per partition (``consumer.position(tp)``).
            group: the consumer's :meth:`Consumer.consumer_group_metadata`, taken after the
                :meth:`Consumer.poll` whose records the transaction holds: the group checks its
                member id and generation, so a member that lost its partitions in a rebalance
                since (a zombie) cannot commit them (KIP-447). Or a group id (``str``, as
                kafka-python takes it): not fenced, for consumers that
                :meth:`~Consumer.assign` their partitions.

        Raises:
            IllegalGenerationError: (or ``UnknownMemberIdError``, ``FencedInstanceIdError``)
                the consumer's group moved on: a rebalance gave its partitions to another
                member, or a newer instance took over its ``group_instance_id``. The
                transaction can then only be aborted; the producer stays usable.
            RebalanceInProgressError: the group is rebalancing; abort, :meth:`Consumer.poll`
                to rejoin, and process again from the committed offsets.
        """

    def transaction(self) -> Transaction:
        """A context manager: begins a transaction on entry, commits it when the block ends
        normally, aborts it when an exception leaves the block (and re-raises it)."""

    def partitions_for(self, topic: str) -> int:
        """Number of partitions of ``topic``."""

    def close(self) -> None:
        """Flushes, aborts an open transaction and releases the producer; closing twice is
        fine."""

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""

    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        _exc_type: type[BaseException] | None = None,
        _exc: BaseException | None = None,
        _tb: TracebackType | None = None,
    ) -> bool:
        """Closes the producer; never swallows an exception."""

    @property
    def transactional_id(self) -> str | None:
        """The ``transactional.id``, if any."""

    @property
    def transaction_state(self) -> str:
        """``Uninitialized``, ``Ready``, ``InTransaction``, ``Committing``, ``Aborting``,
        ``CommitPending``, ``AbortableError`` or ``FatalError``."""

    @property
    def producer_id(self) -> int | None:
        """The producer id in use (``None`` before :meth:`init_transactions`)."""

    @property
    def producer_epoch(self) -> int | None:
        """The producer epoch in use."""

@final
class Transaction:
    """``with producer.transaction():`` — an explicit state machine: ``pending`` →
    ``active`` → ``committed`` / ``aborted`` (or ``failed`` when beginning, committing or
    aborting failed). It cannot be entered twice; make a new one per transaction."""

    def __enter__(self) -> Self:
        """Begins the transaction."""

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        _tb: TracebackType | None = None,
    ) -> bool:
        """Commits on a clean exit (raising if the commit fails); aborts when an exception
        is propagating and lets it propagate (a failed abort is added to it as a note)."""

    @property
    def state(self) -> Literal["pending", "active", "committed", "aborted", "failed"]:
        """Where the context manager is."""

    @property
    def producer(self) -> Producer:
        """The producer the transaction belongs to."""

@final
class RecordMetadata:
    """Where a sent record landed."""

    def __new__(cls, topic: str, partition: int, offset: int, timestamp: int) -> Self: ...
    @property
    def topic(self) -> str:
        """The topic."""

    @property
    def partition(self) -> int:
        """The partition."""

    @property
    def offset(self) -> int:
        """The record's offset."""

    @property
    def timestamp(self) -> int:
        """The record's timestamp (the log's for LogAppendTime topics)."""

@final
class Consumer:
    """Reads records from partitions it :meth:`assign`\ s, or — as a member of its
    ``group_id`` after :meth:`subscribe` — from those its group gives it; with a ``group_id``
    commits its positions.

    Shaped after Kafka's consumer. Positions start at the group's committed offset, else at
    ``auto_offset_reset``. Under ``read_committed`` records of aborted transactions and
    transaction markers are skipped, and nothing past the last stable offset is returned.
    Iterating the consumer yields records one by one (waiting up to ``consumer_timeout_ms``
    for each). Safe to use from several threads; :meth:`wakeup` ends a blocked :meth:`poll`
    from another thread.
    """

    def assign(self, partitions: Iterable[_TopicPartitionLike]) -> None:
        """Assigns exactly these partitions (an empty list unassigns everything)."""

    def subscribe(
        self,
        topics: Iterable[str],
        on_assign: _RebalanceCallback | None = None,
        on_revoke: _RebalanceCallback | None = None,
        on_lost: _RebalanceCallback | None = None,
    ) -> None:
        """Joins the consumer's group (``group_id`` is required) as a member subscribed to
        ``topics``: the group splits their partitions among its members and rebalances as
        members come and go.

        The next :meth:`poll` joins the group, and every ``poll`` rejoins when the group
        rebalances; the callbacks run inside that ``poll``, on its thread (with the GIL), with
        this consumer and a list of :class:`TopicPartition`. With the cooperative protocol
        (``cooperative-sticky``, the default) a rebalance revokes only the partitions that
        move; with ``range`` or ``roundrobin`` every partition, before it is reassigned.
        Subscribing again replaces the topics and the callbacks; an empty list is
        :meth:`unsubscribe`. Exclusive with :meth:`assign`.

        Args:
            topics: topic names; a name starting with ``^`` is a regular expression (as in
                confluent-kafka) matched with :func:`re.search` against every topic, now and
                as topics are created.
            on_assign: called with partitions newly assigned, already in
                :meth:`assignment` at the group's committed offset (or ``auto_offset_reset``);
                a :meth:`seek` here overrides it.
            on_revoke: called with partitions given up in an orderly way, while the consumer
                still owns them: the last chance to :meth:`commit` (or end a transaction)
                for them.
            on_lost: called with partitions lost without a hand-over (the member was
                expelled: missed heartbeats, no ``poll`` for ``max_poll_interval_ms``):
                another member may own them already, so nothing may be committed for them.

        An exception raised by a callback is raised by the call that ran it (``poll``,
        ``close``, ``unsubscribe``) once the rebalance is complete; the records that
        ``poll`` fetched are returned by the next one. A callback may use the consumer except
        for :meth:`poll`, :meth:`subscribe`, :meth:`unsubscribe`, :meth:`assign` and
        :meth:`close`.

        Raises:
            TypeError: ``topics`` is not a list of str, or a callback is not callable.
            InvalidGroupIdError: the consumer has no ``group_id``.
            InvalidRequestError: partitions are assigned with :meth:`assign`.
        """

    def subscription(self) -> list[str]:
        """The subscribed topics (for a pattern, the topics it matches now), sorted; empty
        when not subscribed."""

    def unsubscribe(self) -> None:
        """Leaves the group if subscribed (the partitions are revoked through ``on_revoke``
        first) and drops the assignment, whether it came from :meth:`subscribe` or
        :meth:`assign`."""

    def assignment(self) -> list[TopicPartition]:
        """The assigned partitions, sorted (for a subscribed consumer, those the group gave
        it at the last rebalance)."""

    def poll(self, max_records: int = 500, timeout_ms: int = 0) -> list[ConsumerRecord]:
        """Returns up to ``max_records`` records, waiting up to ``timeout_ms`` for some to
        arrive (an empty list when none did). Interruptible with Ctrl-C.

        Raises:
            OffsetOutOfRangeError: no valid position and ``auto_offset_reset`` is ``none``.
        """

    def __iter__(self) -> Iterator[ConsumerRecord]: ...
    def __next__(self) -> ConsumerRecord: ...
    def seek(self, partition: _TopicPartitionLike, offset: int) -> None:
        """Sets the position of an assigned partition."""

    def seek_to_beginning(self, *partitions: _TopicPartitionLike) -> None:
        """Moves to the log start of the partitions (all assigned ones when none given)."""

    def seek_to_end(self, *partitions: _TopicPartitionLike) -> None:
        """Moves to the end of the partitions (all assigned ones when none given)."""

    def pause(self, *partitions: _TopicPartitionLike) -> None:
        """Stops returning records of these partitions until :meth:`resume`."""

    def resume(self, *partitions: _TopicPartitionLike) -> None:
        """Resumes paused partitions."""

    def position(self, partition: _TopicPartitionLike) -> int:
        """The offset of the next record :meth:`poll` returns for ``partition``."""

    def commit(self, offsets: _Offsets | None = None) -> None:
        """Commits the position of every assigned partition (records returned so far), or
        the given offsets (each the *next* offset to consume)."""

    @overload
    def committed(self, partitions: _TopicPartitionLike) -> OffsetAndMetadata | None:
        """The group's committed offset of one partition (``None`` if there is none). Under
        read_committed a pending transactional commit is waited for."""

    @overload
    def committed(
        self, partitions: Iterable[_TopicPartitionLike]
    ) -> dict[TopicPartition, OffsetAndMetadata | None]:
        """The group's committed offsets of several partitions."""

    def beginning_offsets(self, partitions: Iterable[_TopicPartitionLike]) -> dict[TopicPartition, int]:
        """The first offset of each partition."""

    def end_offsets(self, partitions: Iterable[_TopicPartitionLike]) -> dict[TopicPartition, int]:
        """The end of each partition as this consumer sees it (last stable offset under
        read_committed, high watermark otherwise)."""

    def consumer_group_metadata(self) -> ConsumerGroupMetadata:
        """The consumer's group identity (member id and generation), for
        :meth:`Producer.send_offsets_to_transaction`. A subscribed member's changes at every
        rebalance: take it after the :meth:`poll` whose records the transaction holds.
        Without a subscription the generation is -1 and the member id empty.

        Raises:
            InvalidGroupIdError: the consumer has no ``group_id``.
        """

    def group_metadata(self) -> ConsumerGroupMetadata:
        """Kafka's (Java) name for :meth:`consumer_group_metadata`."""

    def wakeup(self) -> None:
        """Makes a blocked :meth:`poll` (or the next one) return at once with no records."""

    def close(self) -> None:
        """Releases the partitions (committing first with ``enable_auto_commit``). A
        subscribed consumer revokes them through ``on_revoke`` and leaves its group (a static
        member, with ``group_instance_id``, stays until its session times out, so that its
        restart does not rebalance). Closing twice is fine."""

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""

    @property
    def group_id(self) -> str | None:
        """The ``group.id``, if any."""

    @property
    def isolation_level(self) -> str:
        """``"read_committed"`` or ``"read_uncommitted"``."""

    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        _exc_type: type[BaseException] | None = None,
        _exc: BaseException | None = None,
        _tb: TracebackType | None = None,
    ) -> bool:
        """Closes the consumer; never swallows an exception."""

@final
class ConsumerRecord:
    """A record returned by :meth:`Consumer.poll` (``eoslog.Message`` is the same class)."""

    @property
    def topic(self) -> str:
        """The topic."""

    @property
    def partition(self) -> int:
        """The partition."""

    @property
    def offset(self) -> int:
        """The record's offset."""

    @property
    def timestamp(self) -> int:
        """Milliseconds since the epoch."""

    @property
    def timestamp_type(self) -> str:
        """``"CreateTime"`` or ``"LogAppendTime"``."""

    @property
    def key(self) -> bytes | None:
        """The key (``None`` for a null key)."""

    @property
    def value(self) -> bytes | None:
        """The value (``None`` for a null value)."""

    @property
    def headers(self) -> list[tuple[str, bytes | None]]:
        """The headers in stored order."""

    @property
    def producer_id(self) -> int:
        """The producer id of the record's batch (-1 without one)."""

    @property
    def producer_epoch(self) -> int:
        """The producer epoch of the record's batch."""

    @property
    def sequence(self) -> int:
        """The record's sequence number (-1 without one)."""

    @property
    def is_transactional(self) -> bool:
        """Whether the record was written in a (committed) transaction."""

    @property
    def topic_partition(self) -> TopicPartition:
        """The record's partition as a :class:`TopicPartition`."""

@final
class TopicPartition:
    """A topic and partition number: hashable, ordered, and unpackable like the
    ``(topic, partition)`` tuple accepted wherever a partition is."""

    def __new__(cls, topic: str, partition: int) -> Self: ...
    @property
    def topic(self) -> str:
        """The topic."""

    @property
    def partition(self) -> int:
        """The partition number."""

    def __len__(self) -> int: ...
    def __getitem__(self, index: int, /) -> str | int: ...
    def __hash__(self) -> int: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __lt__(self, other: TopicPartition, /) -> bool: ...
    def __le__(self, other: TopicPartition, /) -> bool: ...
    def __gt__(self, other: TopicPartition, /) -> bool: ...
    def __ge__(self, other: TopicPartition, /) -> bool: ...

@final
class OffsetAndMetadata:
    """A committed position (the *next* offset to consume) with free-form metadata."""

    def __new__(cls, offset: int, metadata: str = "", leader_epoch: int | None = None) -> Self: ...
    @property
    def offset(self) -> int:
        """The next offset to consume."""

    @property
    def metadata(self) -> str:
        """Client metadata stored with the offset."""

    @property
    def leader_epoch(self) -> int | None:
        """Leader epoch of the last consumed record, if known."""

    def __eq__(self, other: object, /) -> bool: ...

@final
class ConsumerGroupMetadata:
    """A consumer's group identity (group id, generation, member id), from
    :meth:`Consumer.consumer_group_metadata`, passed to
    :meth:`Producer.send_offsets_to_transaction` so that commits of zombie members are fenced.
    Opaque, as in confluent-kafka: it cannot be constructed, and its fields are read-only."""

    @property
    def group_id(self) -> str:
        """The group id."""

    @property
    def generation_id(self) -> int:
        """The generation of the member's assignment (-1 outside group membership)."""

    @property
    def member_id(self) -> str:
        """The member id (empty outside group membership)."""

    @property
    def group_instance_id(self) -> str | None:
        """The static member id, if any."""

    def __eq__(self, other: object, /) -> bool: ...

@final
class Partition:
    """One partition's log, for tools that append and read raw Kafka RecordBatch v2 bytes."""

    def append(self, batch: _BytesLike) -> AppendInfo:
        """Appends one batch as a Kafka client would: validated (CRC, records, producer
        sequence and epoch), deduplicated (a retried batch returns the original offsets with
        ``duplicate=True`` and writes nothing), offsets assigned.

        Raises:
            CorruptRecordError: bad framing, CRC or codec.
            InvalidRecordError: a record-level rule is broken (or a control batch).
            OutOfOrderSequenceError: the batch's sequence does not follow the producer's last.
            InvalidProducerEpochError: the producer epoch was fenced.
            MessageTooLargeError: over the topic's ``max.message.bytes``.
        """

    def read(
        self,
        offset: int,
        max_bytes: int = 1048576,
        isolation_level: Literal["read_committed", "read_uncommitted"] = "read_uncommitted",
    ) -> FetchResult:
        """Reads whole batches starting with the one holding ``offset`` (at least one batch,
        then up to ``max_bytes``), up to the high watermark (read_uncommitted) or the last
        stable offset (read_committed).

        Raises:
            OffsetOutOfRangeError: ``offset`` is outside the log.
            ValueError: ``max_bytes`` is not between 1 and 2**31 - 1.
        """

    def flush(self) -> None:
        """Makes everything appended so far durable."""

    @property
    def topic(self) -> str:
        """The topic."""

    @property
    def partition(self) -> int:
        """The partition number."""

    @property
    def log_start_offset(self) -> int:
        """The first offset in the log."""

    @property
    def log_end_offset(self) -> int:
        """The next offset to be written."""

    @property
    def high_watermark(self) -> int:
        """The end of what read_uncommitted readers see."""

    @property
    def last_stable_offset(self) -> int:
        """The end of what read_committed readers see (the first offset of the oldest open
        transaction, or the high watermark)."""

@final
class AppendInfo:
    """What :meth:`Partition.append` did."""

    @property
    def first_offset(self) -> int:
        """Offset of the batch's first record."""

    @property
    def last_offset(self) -> int:
        """Offset of the batch's last record."""

    @property
    def log_append_time(self) -> int:
        """The log's timestamp on LogAppendTime topics, -1 otherwise."""

    @property
    def log_start_offset(self) -> int:
        """The log start offset after the append."""

    @property
    def duplicate(self) -> bool:
        """The batch was a retry of one already in the log: nothing was written."""

    @property
    def record_count(self) -> int:
        """Records in the batch."""

    def __eq__(self, other: object, /) -> bool: ...

@final
class AbortedTransaction:
    """An aborted transaction overlapping a read_committed read."""

    @property
    def producer_id(self) -> int:
        """The producer of the aborted transaction."""

    @property
    def first_offset(self) -> int:
        """The transaction's first offset."""

    def __eq__(self, other: object, /) -> bool: ...

@final
class FetchResult:
    """The result of :meth:`Partition.read`."""

    @property
    def records(self) -> memoryview:
        """The batches, back to back as stored: a read-only memoryview over bytes this
        result owns (no copy). ``bytes(result.records)`` copies them out."""

    def batches(self) -> list[RecordBatch]:
        """The batches decoded (:func:`decode_batches` of :attr:`records`)."""

    def __len__(self) -> int:
        """Number of bytes read."""

    @property
    def high_watermark(self) -> int:
        """High watermark when the read was served."""

    @property
    def last_stable_offset(self) -> int:
        """Last stable offset when the read was served."""

    @property
    def log_start_offset(self) -> int:
        """Log start offset."""

    @property
    def log_end_offset(self) -> int:
        """Log end offset."""

    @property
    def aborted_transactions(self) -> list[AbortedTransaction] | None:
        """For read_committed: the aborted transactions overlapping the bytes read, which a
        consumer uses to skip their records. ``None`` for read_uncommitted."""

@final
class RecordsBuffer:
    """The bytes of one read, exported through the buffer protocol (read-only); see
    :attr:`FetchResult.records`."""

    def __len__(self) -> int: ...

@final
class RecordBatchBuilder:
    """Builds one Kafka RecordBatch v2, as a Kafka producer does::

        b = eoslog.RecordBatchBuilder(producer_id=7, producer_epoch=0, base_sequence=0)
        b.append(b"value", key=b"key", headers=[("h", b"1")])
        partition.append(b.build())

    The builder writes exactly what it is told (use :meth:`Partition.append` to have a batch
    validated).
    """

    def __new__(
        cls,
        *,
        compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "none",
        producer_id: int = -1,
        producer_epoch: int = -1,
        base_sequence: int = -1,
        transactional: bool = False,
        base_offset: int = 0,
        partition_leader_epoch: int = -1,
        timestamp_type: Literal["CreateTime", "LogAppendTime"] = "CreateTime",
    ) -> Self: ...
    def append(
        self,
        value: _Data | None = None,
        key: _Data | None = None,
        headers: _Headers | None = None,
        timestamp: int | None = None,
    ) -> None:
        """Appends a record; ``timestamp`` defaults to now (milliseconds since the epoch)."""

    def build(self) -> bytes:
        """Encodes the batch (compressed as configured, CRC-32C computed).

        Raises:
            InvalidRecordError: no record was appended, or the batch is too large.
        """

    @property
    def estimated_size(self) -> int:
        """Size of the batch if built uncompressed."""

    def __len__(self) -> int:
        """Records appended so far."""

@final
class RecordBatch:
    """One decoded RecordBatch v2 (header fields and records)."""

    @property
    def base_offset(self) -> int:
        """Offset of the first record."""

    @property
    def last_offset(self) -> int:
        """Offset of the last record."""

    @property
    def batch_length(self) -> int:
        """The ``batchLength`` header field."""

    @property
    def partition_leader_epoch(self) -> int:
        """The leader epoch stamped by the log."""

    @property
    def magic(self) -> int:
        """The message format version (2)."""

    @property
    def crc(self) -> int:
        """The stored CRC-32C."""

    @property
    def attributes(self) -> int:
        """The raw attributes field."""

    @property
    def compression(self) -> str:
        """``none``, ``gzip``, ``snappy``, ``lz4`` or ``zstd``."""

    @property
    def timestamp_type(self) -> str:
        """``CreateTime`` or ``LogAppendTime``."""

    @property
    def is_transactional(self) -> bool:
        """Part of a transaction."""

    @property
    def is_control(self) -> bool:
        """A control batch (a transaction marker)."""

    @property
    def base_timestamp(self) -> int:
        """Timestamp of the first record."""

    @property
    def max_timestamp(self) -> int:
        """Largest timestamp (the log's for LogAppendTime)."""

    @property
    def producer_id(self) -> int:
        """Producer id (-1 without one)."""

    @property
    def producer_epoch(self) -> int:
        """Producer epoch (-1 without one)."""

    @property
    def base_sequence(self) -> int:
        """Sequence of the first record (-1 without one)."""

    @property
    def records_count(self) -> int:
        """Number of records the header declares."""

    @property
    def size(self) -> int:
        """Size of the batch in bytes."""

    @property
    def records(self) -> list[Record]:
        """The records."""

    def __len__(self) -> int:
        """Number of records."""

@final
class Record:
    """One decoded record."""

    @property
    def offset(self) -> int:
        """Absolute offset."""

    @property
    def timestamp(self) -> int:
        """Timestamp (milliseconds since the epoch)."""

    @property
    def key(self) -> bytes | None:
        """The key (``None`` for null)."""

    @property
    def value(self) -> bytes | None:
        """The value (``None`` for null)."""

    @property
    def headers(self) -> list[tuple[str, bytes | None]]:
        """The headers in stored order."""

def decode_batches(data: _BytesLike, *, verify_crc: bool = True) -> list[RecordBatch]:
    """Decodes back-to-back RecordBatch v2 bytes (a segment file, :attr:`FetchResult.records`).

    Raises:
        CorruptRecordError: bad framing, a CRC mismatch (with ``verify_crc``), a truncated tail
            or an undecodable payload.
        InvalidRecordError: a malformed record.
    """

def _rust_baseline(
    engine: Engine, workload: Literal["send_many", "send", "consume"], topic: str, count: int, size: int
) -> float:
    """Benchmark helper: runs a workload through the Rust client API; returns seconds."""
