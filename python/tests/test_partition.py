"""The low-level partition API: raw batch append/read, zero-copy reads, decode_batches."""

from __future__ import annotations

import pytest

import eoslog


def build(*values: bytes, **kwargs: object) -> bytes:
    b = eoslog.RecordBatchBuilder(**kwargs)  # type: ignore[arg-type]
    for v in values:
        b.append(v, timestamp=1_700_000_000_000)
    return b.build()


def test_append_and_read_raw_batches(engine: eoslog.Engine) -> None:
    engine.create_topic("t")
    log = engine.partition("t", 0)
    assert (log.topic, log.partition) == ("t", 0)
    info = log.append(build(b"a", b"b", b"c"))
    assert isinstance(info, eoslog.AppendInfo)
    assert (info.first_offset, info.last_offset, info.record_count, info.duplicate) == (0, 2, 3, False)
    assert info.log_append_time == -1
    log.append(bytearray(build(b"d")))
    log.append(memoryview(build(b"e")))
    assert (log.log_start_offset, log.log_end_offset, log.high_watermark, log.last_stable_offset) == (
        0, 5, 5, 5
    )
    fetched = log.read(0)
    assert isinstance(fetched.records, memoryview)
    assert fetched.records.readonly
    assert len(fetched) == fetched.records.nbytes
    assert (fetched.high_watermark, fetched.log_start_offset, fetched.log_end_offset) == (5, 0, 5)
    assert fetched.aborted_transactions is None
    batches = eoslog.decode_batches(fetched.records)
    assert [b.base_offset for b in batches] == [0, 3, 4]
    assert [r.value for b in batches for r in b.records] == [b"a", b"b", b"c", b"d", b"e"]
    assert [r.offset for b in batches for r in b.records] == [0, 1, 2, 3, 4]
    # Reading from the middle of a batch starts at the batch holding the offset.
    assert log.read(1).batches()[0].base_offset == 0
    # max_bytes bounds the read, but at least one batch comes back.
    assert len(log.read(0, max_bytes=1).batches()) == 1
    log.flush()


def test_records_view_is_zero_copy_and_outlives_the_result(engine: eoslog.Engine) -> None:
    engine.create_topic("t")
    log = engine.partition("t", 0)
    log.append(build(b"x" * 1000))
    view = log.read(0).records  # the FetchResult itself is dropped here
    first = bytes(view)
    assert bytes(view) == first
    assert view.obj is not None and type(view.obj).__name__ == "RecordsBuffer"
    with pytest.raises(TypeError):
        view[0] = 1
    with open(__file__, "rb") as f, pytest.raises((TypeError, BufferError)):
        f.readinto(view.obj)  # asks for a writable buffer
    assert eoslog.decode_batches(view)[0].records[0].value == b"x" * 1000


def test_log_append_time_topic(engine: eoslog.Engine) -> None:
    engine.create_topic("t", message_timestamp_type="LogAppendTime")
    log = engine.partition("t", 0)
    info = log.append(build(b"v"))
    assert info.log_append_time > 1_700_000_000_000
    batch = log.read(0).batches()[0]
    assert batch.timestamp_type == "LogAppendTime"
    assert batch.records[0].timestamp == info.log_append_time


def test_batch_header_fields(engine: eoslog.Engine) -> None:
    data = build(
        b"v",
        compression="gzip",
        producer_id=42,
        producer_epoch=3,
        base_sequence=9,
        transactional=True,
        base_offset=100,
        partition_leader_epoch=5,
    )
    (b,) = eoslog.decode_batches(data)
    assert (b.base_offset, b.last_offset, b.partition_leader_epoch, b.magic) == (100, 100, 5, 2)
    assert (b.producer_id, b.producer_epoch, b.base_sequence) == (42, 3, 9)
    assert b.is_transactional and not b.is_control
    assert b.compression == "gzip"
    assert b.size == len(data) == b.batch_length + 12
    assert b.records_count == len(b) == 1
    assert b.base_timestamp == b.max_timestamp == 1_700_000_000_000


def test_read_out_of_range(engine: eoslog.Engine) -> None:
    engine.create_topic("t")
    log = engine.partition("t", 0)
    log.append(build(b"v"))
    with pytest.raises(eoslog.OffsetOutOfRangeError) as info:
        log.read(5)
    assert isinstance(info.value, IndexError)
    assert len(log.read(1)) == 0  # the log end itself is an empty read


def test_unknown_partition(engine: eoslog.Engine) -> None:
    engine.create_topic("t", partitions=2)
    with pytest.raises(eoslog.UnknownTopicOrPartitionError) as info:
        engine.partition("t", 2)
    assert isinstance(info.value, LookupError)
    with pytest.raises(eoslog.UnknownTopicOrPartitionError):
        engine.partition("nope", 0)
