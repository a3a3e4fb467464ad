"""eoslog: Kafka's exactly-once log, embedded.

An embeddable storage engine with Apache Kafka's exactly-once semantics — a Kafka-compatible
partition log, idempotent producers, transactions, ``read_committed`` reads and transactional
consumer offsets — in one process, with no broker::

    import eoslog

    with eoslog.Engine.open("data") as engine:
        engine.create_topic("orders", partitions=3)
        with engine.producer(transactional_id="orders-writer") as producer:
            producer.init_transactions()
            with producer.transaction():
                producer.send("orders", b"hello", key=b"user-1")
        with engine.consumer("readers", auto_offset_reset="earliest") as consumer:
            consumer.assign([("orders", p) for p in range(3)])
            for record in consumer.poll(timeout_ms=1000):
                print(record.partition, record.offset, record.value)

Configuration keywords are Kafka's names, with dots or underscores
(``segment_bytes=1 << 20`` or ``**{"segment.bytes": 1 << 20}``). Every blocking call releases
the GIL. Errors are :class:`EoslogError` subclasses carrying the Kafka error code
(see :mod:`eoslog.exceptions`).
"""

from __future__ import annotations

from eoslog._eoslog import (
    AbortedTransaction,
    AppendInfo,
    Consumer,
    ConsumerGroupMetadata,
    ConsumerRecord,
    Engine,
    FetchResult,
    OffsetAndMetadata,
    Partition,
    PartitionRecovery,
    Producer,
    Record,
    RecordBatch,
    RecordBatchBuilder,
    RecordMetadata,
    RecordsBuffer,
    RecoveryReport,
    TopicDescription,
    TopicPartition,
    Transaction,
    __version__,
    decode_batches,
)
from eoslog.exceptions import *  # noqa: F403
from eoslog.exceptions import __all__ as _exceptions_all

#: confluent-kafka's name for a consumed record.
Message = ConsumerRecord

__all__ = [
    "__version__",
    "AbortedTransaction",
    "AppendInfo",
    "Consumer",
    "ConsumerGroupMetadata",
    "ConsumerRecord",
    "Engine",
    "FetchResult",
    "Message",
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
    *_exceptions_all,
]
