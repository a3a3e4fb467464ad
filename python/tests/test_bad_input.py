"""Bad input of every kind gets a clear Python exception — never a crash or a panic — and
changes nothing on disk."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import pytest

import eoslog


@pytest.fixture
def t(engine: eoslog.Engine) -> eoslog.Engine:
    engine.create_topic("t", partitions=2, max_message_bytes=100_000)
    return engine


def good_batch(**kwargs: Any) -> bytes:
    b = eoslog.RecordBatchBuilder(**kwargs)
    b.append(b"value", key=b"key", timestamp=1_700_000_000_000)
    return b.build()


Case = tuple[str, Callable[[eoslog.Engine], object], type[BaseException]]

CASES: list[Case] = [
    # --- engine ---------------------------------------------------------------------------
    ("open: path int", lambda e: eoslog.Engine.open(123), TypeError),  # type: ignore[arg-type]
    ("open: path None", lambda e: eoslog.Engine.open(None), TypeError),  # type: ignore[arg-type]
    ("open: unknown key", lambda e: eoslog.Engine.open("/nonexistent-x", bogus=1), eoslog.InvalidConfigError),
    ("open: bad value", lambda e: eoslog.Engine.open("/nonexistent-x", segment_bytes="big"), ValueError),
    ("open: float value", lambda e: eoslog.Engine.open("/nonexistent-x", segment_bytes=1.5), TypeError),  # type: ignore[arg-type]
    ("open: bad durability", lambda e: eoslog.Engine.open("/nonexistent-x", durability="sometimes"), ValueError),
    ("topic: spaces", lambda e: e.create_topic("a b"), eoslog.InvalidTopicError),
    ("topic: empty", lambda e: e.create_topic(""), eoslog.InvalidTopicError),
    ("topic: dot", lambda e: e.create_topic("."), eoslog.InvalidTopicError),
    ("topic: dotdot", lambda e: e.create_topic(".."), eoslog.InvalidTopicError),
    ("topic: slash", lambda e: e.create_topic("../escape"), eoslog.InvalidTopicError),
    ("topic: too long", lambda e: e.create_topic("x" * 250), eoslog.InvalidTopicError),
    ("topic: non-ascii", lambda e: e.create_topic("tópico"), eoslog.InvalidTopicError),
    ("topic: nul", lambda e: e.create_topic("a\x00b"), eoslog.InvalidTopicError),
    ("topic: reserved", lambda e: e.create_topic("__consumer_offsets"), eoslog.InvalidTopicError),
    ("topic: None", lambda e: e.create_topic(None), TypeError),  # type: ignore[arg-type]
    ("topic: bytes", lambda e: e.create_topic(b"t2"), TypeError),  # type: ignore[arg-type]
    ("topic: 0 partitions", lambda e: e.create_topic("z", 0), eoslog.InvalidPartitionsError),
    ("topic: -1 partitions", lambda e: e.create_topic("z", -1), eoslog.InvalidPartitionsError),
    ("topic: huge partitions", lambda e: e.create_topic("z", 10**12), eoslog.InvalidPartitionsError),
    ("topic: enormous partitions", lambda e: e.create_topic("z", 10**30), OverflowError),
    ("topic: partitions str", lambda e: e.create_topic("z", "3"), TypeError),  # type: ignore[arg-type]
    ("topic: bad config", lambda e: e.create_topic("z", segment_bytes=-5), eoslog.InvalidConfigError),
    ("topic: unknown config", lambda e: e.create_topic("z", colour="red"), eoslog.InvalidConfigError),
    ("delete internal", lambda e: e.delete_topic("__transaction_state"), eoslog.InvalidTopicError),
    ("partition: negative", lambda e: e.partition("t", -1), eoslog.UnknownTopicOrPartitionError),
    ("partition: huge", lambda e: e.partition("t", 2**40), OverflowError),
    # --- producer -------------------------------------------------------------------------
    ("producer: unknown key", lambda e: e.producer(colour="red"), eoslog.InvalidConfigError),
    ("producer: bad acks", lambda e: e.producer(acks="1"), eoslog.InvalidConfigError),
    ("producer: id int", lambda e: e.producer(transactional_id=5), TypeError),  # type: ignore[arg-type]
    ("send: topic int", lambda e: e.producer().send(5, b"v"), TypeError),  # type: ignore[arg-type]
    ("send: topic None", lambda e: e.producer().send(None, b"v"), TypeError),  # type: ignore[arg-type]
    ("send: value int", lambda e: e.producer().send("t", 5), TypeError),  # type: ignore[arg-type]
    ("send: value list", lambda e: e.producer().send("t", [1, 2]), TypeError),  # type: ignore[arg-type]
    ("send: key float", lambda e: e.producer().send("t", b"v", key=1.5), TypeError),  # type: ignore[arg-type]
    ("send: value memoryview of ints", lambda e: e.producer().send("t", memoryview(b"ab").cast("H")), TypeError),
    ("send: headers str", lambda e: e.producer().send("t", b"v", headers="h"), TypeError),  # type: ignore[arg-type]
    ("send: header not pair", lambda e: e.producer().send("t", b"v", headers=[("a",)]), TypeError),  # type: ignore[list-item]
    ("send: header key bytes", lambda e: e.producer().send("t", b"v", headers=[(b"k", b"v")]), TypeError),  # type: ignore[list-item]
    ("send: header value int", lambda e: e.producer().send("t", b"v", headers=[("k", 1)]), TypeError),  # type: ignore[list-item]
    ("send: unknown topic", lambda e: e.producer().send("nope", b"v"), eoslog.UnknownTopicOrPartitionError),
    ("send: bad partition", lambda e: e.producer().send("t", b"v", partition=7), eoslog.UnknownTopicOrPartitionError),
    ("send: partition huge", lambda e: e.producer().send("t", b"v", partition=2**40), OverflowError),
    ("send: timestamp str", lambda e: e.producer().send("t", b"v", timestamp="now"), TypeError),  # type: ignore[arg-type]
    ("send: too large", lambda e: e.producer().send("t", b"x" * 2_000_000), eoslog.MessageTooLargeError),
    ("send_many: not iterable", lambda e: e.producer().send_many("t", 5), TypeError),  # type: ignore[arg-type]
    ("send_many: bytes", lambda e: e.producer().send_many("t", b"abc"), TypeError),  # type: ignore[arg-type]
    ("send_many: bad item", lambda e: e.producer().send_many("t", [b"ok", 5]), TypeError),  # type: ignore[list-item]
    ("send_many: 3-tuple", lambda e: e.producer().send_many("t", [(b"k", b"v", b"x")]), TypeError),  # type: ignore[list-item]
    ("send_many: dict field", lambda e: e.producer().send_many("t", [{"colour": b"x"}]), TypeError),
    ("send_many: dict value", lambda e: e.producer().send_many("t", [{"value": 3}]), TypeError),
    ("offsets: not mapping", lambda e: e.producer(transactional_id="x").send_offsets_to_transaction(5, "g"), TypeError),  # type: ignore[arg-type]
    ("offsets: bad group", lambda e: e.producer(transactional_id="x").send_offsets_to_transaction({}, 5), TypeError),  # type: ignore[arg-type]
    ("offsets: bad offset", lambda e: e.producer(transactional_id="x").send_offsets_to_transaction({("t", 0): "1"}, "g"), TypeError),  # type: ignore[arg-type]
    ("offsets: bad partition", lambda e: e.producer(transactional_id="x").send_offsets_to_transaction({"t": 1}, "g"), TypeError),  # type: ignore[arg-type]
    # --- consumer -------------------------------------------------------------------------
    ("consumer: isolation", lambda e: e.consumer(isolation_level="dirty"), ValueError),  # type: ignore[arg-type]
    ("consumer: reset", lambda e: e.consumer(auto_offset_reset="middle"), eoslog.InvalidConfigError),
    ("consumer: timeout str", lambda e: e.consumer(consumer_timeout_ms="x"), ValueError),
    ("assign: str", lambda e: e.consumer().assign("t"), TypeError),  # type: ignore[arg-type]
    ("assign: single tp", lambda e: e.consumer().assign(("t", 0)), TypeError),  # type: ignore[arg-type]
    ("assign: bad item", lambda e: e.consumer().assign([5]), TypeError),  # type: ignore[list-item]
    ("assign: unknown", lambda e: e.consumer().assign([("nope", 0)]), eoslog.UnknownTopicOrPartitionError),
    ("poll: max 0", lambda e: e.consumer().poll(max_records=0), ValueError),
    ("poll: negative timeout", lambda e: e.consumer().poll(timeout_ms=-1), ValueError),
    ("poll: timeout str", lambda e: e.consumer().poll(timeout_ms="1"), TypeError),  # type: ignore[arg-type]
    ("seek: unassigned", lambda e: e.consumer().seek(("t", 0), 0), eoslog.InvalidRequestError),
    ("commit: no group", lambda e: e.consumer().commit({("t", 0): 1}), eoslog.InvalidGroupIdError),
    ("committed: no group", lambda e: e.consumer().committed(("t", 0)), eoslog.InvalidGroupIdError),
    ("commit: bool offset", lambda e: e.consumer("g").commit({("t", 0): True}), TypeError),
    # --- partitions and batches -----------------------------------------------------------
    ("append: None", lambda e: e.partition("t", 0).append(None), TypeError),  # type: ignore[arg-type]
    ("append: str", lambda e: e.partition("t", 0).append("batch"), TypeError),  # type: ignore[arg-type]
    ("append: int", lambda e: e.partition("t", 0).append(5), TypeError),  # type: ignore[arg-type]
    ("append: empty", lambda e: e.partition("t", 0).append(b""), eoslog.CorruptRecordError),
    ("append: garbage", lambda e: e.partition("t", 0).append(b"\xff" * 100), eoslog.CorruptRecordError),
    ("append: truncated", lambda e: e.partition("t", 0).append(good_batch()[:-3]), eoslog.CorruptRecordError),
    ("append: trailing bytes", lambda e: e.partition("t", 0).append(good_batch() + b"\x00"), eoslog.CorruptRecordError),
    ("append: crc", lambda e: e.partition("t", 0).append(flip(good_batch(), -1)), eoslog.CorruptRecordError),
    ("append: magic 1", lambda e: e.partition("t", 0).append(set_byte(good_batch(), 16, 1)), eoslog.UnsupportedForMessageFormatError),
    ("append: huge length", lambda e: e.partition("t", 0).append(set_length(good_batch(), 2**31 - 1)), eoslog.CorruptRecordError),
    ("append: negative length", lambda e: e.partition("t", 0).append(set_length(good_batch(), -1)), eoslog.CorruptRecordError),
    ("append: control batch", lambda e: e.partition("t", 0).append(control_batch()), eoslog.InvalidRecordError),
    ("append: too large", lambda e: e.partition("t", 0).append(big_batch(200_000)), eoslog.MessageTooLargeError),
    ("read: negative", lambda e: e.partition("t", 0).read(-1), eoslog.OffsetOutOfRangeError),
    ("read: max_bytes 0", lambda e: e.partition("t", 0).read(0, max_bytes=0), ValueError),
    ("read: max_bytes huge", lambda e: e.partition("t", 0).read(0, max_bytes=2**40), ValueError),
    ("read: max_bytes enormous", lambda e: e.partition("t", 0).read(0, max_bytes=2**80), OverflowError),
    ("read: isolation", lambda e: e.partition("t", 0).read(0, isolation_level="log_end"), ValueError),  # type: ignore[arg-type]
    ("decode: None", lambda e: eoslog.decode_batches(None), TypeError),  # type: ignore[arg-type]
    ("decode: garbage", lambda e: eoslog.decode_batches(b"\x00" * 30), eoslog.CorruptRecordError),
    ("decode: crc", lambda e: eoslog.decode_batches(flip(good_batch(), 70)), eoslog.CorruptRecordError),
    ("decode: bad record", lambda e: eoslog.decode_batches(bad_record_batch()), eoslog.InvalidRecordError),
    ("builder: compression", lambda e: eoslog.RecordBatchBuilder(compression="rar"), ValueError),  # type: ignore[arg-type]
    ("builder: timestamp type", lambda e: eoslog.RecordBatchBuilder(timestamp_type="Now"), ValueError),  # type: ignore[arg-type]
    ("builder: epoch overflow", lambda e: eoslog.RecordBatchBuilder(producer_epoch=2**15), OverflowError),
    ("builder: empty build", lambda e: eoslog.RecordBatchBuilder().build(), eoslog.InvalidRecordError),
    ("builder: value int", lambda e: eoslog.RecordBatchBuilder().append(5), TypeError),  # type: ignore[arg-type]
    ("builder: positional config", lambda e: eoslog.RecordBatchBuilder("gzip"), TypeError),  # type: ignore[call-arg]
]


def flip(data: bytes, at: int) -> bytes:
    b = bytearray(data)
    b[at] ^= 0xFF
    return bytes(b)


def set_byte(data: bytes, at: int, value: int) -> bytes:
    b = bytearray(data)
    b[at] = value
    return bytes(b)


def set_length(data: bytes, length: int) -> bytes:
    b = bytearray(data)
    struct.pack_into(">i", b, 8, length)
    return bytes(b)


def control_batch() -> bytes:
    """A valid-CRC batch with the control bit set (only the coordinator may write these)."""
    import crc32c_fallback

    b = bytearray(good_batch(producer_id=5, producer_epoch=0, base_sequence=0, transactional=True))
    attributes = struct.unpack_from(">h", b, 21)[0] | 0x20
    struct.pack_into(">h", b, 21, attributes)
    struct.pack_into(">I", b, 17, crc32c_fallback.crc32c(bytes(b[21:])))
    return bytes(b)


def bad_record_batch() -> bytes:
    """A batch whose CRC is right but whose record length varint lies."""
    import crc32c_fallback

    b = bytearray(good_batch())
    b[61] = 0x7E  # the first record's length: 63, far beyond the batch
    struct.pack_into(">I", b, 17, crc32c_fallback.crc32c(bytes(b[21:])))
    return bytes(b)


def big_batch(size: int) -> bytes:
    b = eoslog.RecordBatchBuilder()
    b.append(b"x" * size, timestamp=0)
    return b.build()


@pytest.mark.parametrize("name, call, expected", CASES, ids=[c[0] for c in CASES])
def test_bad_input_raises(
    t: eoslog.Engine, name: str, call: Callable[[eoslog.Engine], object], expected: type[BaseException]
) -> None:
    ends = {p: t.partition("t", p).log_end_offset for p in range(2)}
    with pytest.raises(expected) as info:
        call(t)
    assert str(info.value), f"{name}: the error has no message"
    if isinstance(info.value, eoslog.EoslogError):
        assert info.value.code != 0 and info.value.name
    # Nothing reached the log.
    assert {p: t.partition("t", p).log_end_offset for p in range(2)} == ends
    assert sorted(t.topics()) == ["t"]


def test_wrong_types_never_panic(t: eoslog.Engine) -> None:
    """Every public call with arguments of the wrong type raises TypeError (or a ValueError
    subclass), never PanicException or SystemError."""
    weird: list[Any] = [None, 0, -1, 2**70, 1.5, "s", b"b", [], {}, (), object(), (1, 2), ("t", "x")]
    p = t.producer()
    c = t.consumer("g")
    log = t.partition("t", 0)
    calls: list[Callable[[Any], object]] = [
        lambda x: t.create_topic(x),
        lambda x: t.delete_topic(x),
        lambda x: t.partition(x, 0),
        lambda x: t.partition("t", x),
        lambda x: p.send("t", x),
        lambda x: p.send("t", b"v", key=x),
        lambda x: p.send("t", b"v", headers=x),
        lambda x: p.send("t", b"v", partition=x),
        lambda x: p.send_many("t", x),
        lambda x: p.send_many("t", [x]),
        lambda x: c.assign(x),
        lambda x: c.seek(x, 0),
        lambda x: c.position(x),
        lambda x: c.commit(x),
        lambda x: c.committed(x),
        lambda x: c.poll(x),
        lambda x: log.append(x),
        lambda x: log.read(x),
        lambda x: eoslog.decode_batches(x),
        lambda x: eoslog.TopicPartition(x, 0),
        lambda x: eoslog.OffsetAndMetadata(x),
    ]
    for call in calls:
        for x in weird:
            try:
                call(x)
            except (TypeError, ValueError, OverflowError, LookupError, eoslog.EoslogError):
                pass
    p.close()
    c.close()
