"""RecordBatch v2 round trips (Hypothesis) and a cross-check with an independent implementation:
kafka-python's batch parser and builder (``kafka.record.default_records``)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka import codec
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

import eoslog

COMPRESSIONS = ["none", "gzip", "snappy", "lz4", "zstd"]
#: Codecs kafka-python can decode here (snappy/lz4/zstd need optional packages).
KAFKA_PYTHON_CODECS = {
    "none": True,
    "gzip": codec.has_gzip(),
    "snappy": codec.has_snappy(),
    "lz4": codec.has_lz4(),
    "zstd": codec.has_zstd(),
}
KAFKA_PYTHON_CODEC_IDS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}

optional_bytes = st.none() | st.binary(max_size=300)
header = st.tuples(st.text(max_size=20), optional_bytes)
record = st.fixed_dictionaries(
    {
        "key": optional_bytes,
        "value": optional_bytes,
        "headers": st.lists(header, max_size=4),
        "timestamp": st.integers(min_value=0, max_value=2**42),
    }
)
batch_config = st.fixed_dictionaries(
    {
        "compression": st.sampled_from(COMPRESSIONS),
        "producer_id": st.integers(min_value=-1, max_value=2**50),
        "producer_epoch": st.integers(min_value=-1, max_value=2**15 - 1),
        "base_sequence": st.integers(min_value=-1, max_value=2**31 - 1),
        "transactional": st.booleans(),
        "base_offset": st.integers(min_value=0, max_value=2**50),
        "partition_leader_epoch": st.integers(min_value=-1, max_value=2**31 - 1),
    }
)


def build(config: dict[str, Any], records: list[dict[str, Any]]) -> bytes:
    b = eoslog.RecordBatchBuilder(**config)
    for r in records:
        b.append(r["value"], key=r["key"], headers=r["headers"], timestamp=r["timestamp"])
    assert len(b) == len(records)
    return b.build()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=batch_config, records=st.lists(record, min_size=1, max_size=30))
def test_build_decode_round_trip(config: dict[str, Any], records: list[dict[str, Any]]) -> None:
    data = build(config, records)
    (batch,) = eoslog.decode_batches(data)
    assert batch.compression == config["compression"]
    assert (batch.producer_id, batch.producer_epoch, batch.base_sequence) == (
        config["producer_id"],
        config["producer_epoch"],
        config["base_sequence"],
    )
    assert batch.is_transactional == config["transactional"]
    assert batch.base_offset == config["base_offset"]
    assert batch.partition_leader_epoch == config["partition_leader_epoch"]
    assert batch.last_offset == config["base_offset"] + len(records) - 1
    assert batch.base_timestamp == records[0]["timestamp"]
    assert batch.max_timestamp == max(r["timestamp"] for r in records)
    assert batch.size == len(data)
    decoded = [
        {"key": r.key, "value": r.value, "headers": r.headers, "timestamp": r.timestamp}
        for r in batch.records
    ]
    assert decoded == records
    assert [r.offset for r in batch.records] == [
        config["base_offset"] + i for i in range(len(records))
    ]
    # Back to back batches decode as a sequence.
    assert len(eoslog.decode_batches(data + data + data)) == 3

    if KAFKA_PYTHON_CODECS[config["compression"]]:
        theirs = DefaultRecordBatch(data)
        assert theirs.validate_crc()
        assert theirs.base_offset == config["base_offset"]
        assert theirs.producer_id == config["producer_id"]
        assert theirs.is_transactional == config["transactional"]
        assert theirs.compression_type == KAFKA_PYTHON_CODEC_IDS[config["compression"]]
        parsed = [
            {
                "key": r.key,
                "value": r.value,
                "headers": [(k, v) for k, v in r.headers],
                "timestamp": r.timestamp,
            }
            for r in theirs
        ]
        assert parsed == records


@settings(max_examples=60, deadline=None)
@given(
    records=st.lists(record, min_size=1, max_size=20),
    compression=st.sampled_from([c for c, ok in KAFKA_PYTHON_CODECS.items() if ok]),
)
def test_batches_built_by_kafka_python_decode_here(
    records: list[dict[str, Any]], compression: str
) -> None:
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=KAFKA_PYTHON_CODEC_IDS[compression],
        is_transactional=False,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 30,
    )
    for i, r in enumerate(records):
        builder.append(i, r["timestamp"], r["key"], r["value"], r["headers"])
    data = bytes(builder.build())
    (batch,) = eoslog.decode_batches(data)
    decoded = [
        {"key": x.key, "value": x.value, "headers": x.headers, "timestamp": x.timestamp}
        for x in batch.records
    ]
    assert decoded == records


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_what_the_engine_stores_decodes_with_kafka_python(
    engine: eoslog.Engine, compression: str
) -> None:
    """The bytes an eoslog producer leaves in the log — including transactions and their
    commit/abort markers — parse with kafka-python's batch reader."""
    if not KAFKA_PYTHON_CODECS[compression]:
        pytest.skip(f"kafka-python cannot decode {compression} here (optional package missing)")
    engine.create_topic("t")
    with engine.producer(transactional_id="x", compression_type=compression) as p:
        p.init_transactions()
        with p.transaction():
            p.send_many("t", [(b"k%d" % i, b"v" * i) for i in range(50)])
        with pytest.raises(RuntimeError):
            with p.transaction():
                p.send("t", b"aborted", headers=[("h", b"1")])
                raise RuntimeError
    data = bytes(engine.partition("t", 0).read(0).records)
    ours = eoslog.decode_batches(data)
    offset = 0
    kinds = []
    for ours_batch in ours:
        size = ours_batch.size
        theirs = DefaultRecordBatch(data[offset : offset + size])
        offset += size
        assert theirs.validate_crc()
        assert theirs.base_offset == ours_batch.base_offset
        assert theirs.producer_id == ours_batch.producer_id
        assert theirs.producer_epoch == ours_batch.producer_epoch
        assert theirs.is_transactional
        assert theirs.is_control_batch == ours_batch.is_control
        kinds.append("control" if theirs.is_control_batch else "data")
        if not theirs.is_control_batch:
            assert [(r.offset, r.key, r.value) for r in theirs] == [
                (r.offset, r.key, r.value) for r in ours_batch.records
            ]
    assert offset == len(data)
    assert kinds.count("control") == 2  # one COMMIT, one ABORT marker
