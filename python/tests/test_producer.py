"""Producers: sending, idempotence (dedup), fencing, transactions and read_committed."""

from __future__ import annotations

import threading

import pytest

import eoslog
from conftest import read_all


def test_send_returns_where_the_record_landed(engine: eoslog.Engine) -> None:
    engine.create_topic("t", partitions=4)
    with engine.producer() as p:
        md = p.send("t", b"v", key=b"user-1", headers=[("h", b"1"), ("h", None)], timestamp=1234)
        assert isinstance(md, eoslog.RecordMetadata)
        assert (md.topic, md.offset, md.timestamp) == ("t", 0, 1234)
        # The same key goes to the same partition (Kafka's murmur2 partitioner).
        assert p.send("t", b"w", key=b"user-1").partition == md.partition
        assert p.send("t", "text", partition=3).partition == 3
        assert p.partitions_for("t") == 4
    records = read_all(engine, "t")
    first = next(r for r in records if r.value == b"v")
    assert first.key == b"user-1"
    assert first.headers == [("h", b"1"), ("h", None)]
    assert first.timestamp == 1234
    assert first.timestamp_type == "CreateTime"
    assert next(r for r in records if r.partition == 3).value == b"text"


def test_send_many_accepts_values_tuples_and_dicts(engine: eoslog.Engine) -> None:
    engine.create_topic("t")
    engine.create_topic("other")
    with engine.producer() as p:
        n = p.send_many(
            "t",
            [
                b"bytes",
                bytearray(b"bytearray"),
                memoryview(b"memoryview"),
                "str",
                None,
                (b"k", b"tuple"),
                (None, None),
                {"value": b"dict", "key": "dk", "headers": {"a": b"b"}, "timestamp": 7},
                {"value": b"elsewhere", "topic": "other"},
            ],
        )
        assert n == 9
        assert p.send_many("t", iter([b"gen1", b"gen2"])) == 2
        assert p.send_many("t", []) == 0
    values = [r.value for r in read_all(engine, "t")]
    assert values == [
        b"bytes", b"bytearray", b"memoryview", b"str", None, b"tuple", None, b"dict", b"gen1", b"gen2"
    ]
    dict_record = read_all(engine, "t")[7]
    assert (dict_record.key, dict_record.headers, dict_record.timestamp) == (b"dk", [("a", b"b")], 7)
    assert [r.value for r in read_all(engine, "other")] == [b"elsewhere"]


def test_send_many_large_volume_is_batched(engine: eoslog.Engine) -> None:
    engine.create_topic("t", partitions=2)
    with engine.producer() as p:
        assert p.send_many("t", [b"x" * 100] * 50_000) == 50_000
    fetched = engine.partition("t", 0).read(0, max_bytes=1 << 20)
    batches = fetched.batches()
    # Records were batched (batch.size = 16384 by default), not written one per batch.
    assert len(batches[0]) > 100
    total = sum(engine.partition("t", p).log_end_offset for p in range(2))
    assert total == 50_000


def test_producer_dedups_resent_batches(engine: eoslog.Engine) -> None:
    """The log recognises a retried batch of an idempotent producer (Kafka's dedup)."""
    engine.create_topic("t")
    log = engine.partition("t", 0)
    builder = eoslog.RecordBatchBuilder(producer_id=1000, producer_epoch=0, base_sequence=0)
    builder.append(b"a")
    builder.append(b"b")
    batch = builder.build()
    first = log.append(batch)
    assert (first.first_offset, first.last_offset, first.duplicate) == (0, 1, False)
    retry = log.append(batch)
    assert retry.duplicate and (retry.first_offset, retry.last_offset) == (0, 1)
    assert log.log_end_offset == 2
    # A gap in the sequence is refused.
    gap = eoslog.RecordBatchBuilder(producer_id=1000, producer_epoch=0, base_sequence=5)
    gap.append(b"c")
    with pytest.raises(eoslog.OutOfOrderSequenceError) as info:
        log.append(gap.build())
    assert info.value.code == 45
    assert log.log_end_offset == 2


def test_stale_epoch_is_fenced_on_the_log(engine: eoslog.Engine) -> None:
    engine.create_topic("t")
    log = engine.partition("t", 0)

    def batch(epoch: int, seq: int) -> bytes:
        b = eoslog.RecordBatchBuilder(producer_id=7, producer_epoch=epoch, base_sequence=seq)
        b.append(b"v")
        return b.build()

    log.append(batch(0, 0))
    log.append(batch(1, 0))  # a new epoch starts again at sequence 0
    with pytest.raises(eoslog.InvalidProducerEpochError) as info:
        log.append(batch(0, 1))
    assert info.value.code == 47


def test_transactional_id_fences_the_previous_producer(engine: eoslog.Engine) -> None:
    engine.create_topic("t")
    zombie = engine.producer(transactional_id="app")
    zombie.init_transactions()
    zombie.begin_transaction()
    zombie.send("t", b"zombie")
    successor = engine.producer(transactional_id="app")
    successor.init_transactions()  # fences the zombie and aborts its transaction
    assert successor.producer_epoch is not None and zombie.producer_epoch is not None
    assert successor.producer_epoch > zombie.producer_epoch
    with pytest.raises((eoslog.ProducerFencedError, eoslog.InvalidProducerEpochError)):
        zombie.send("t", b"late")
        zombie.commit_transaction()
    with successor.transaction():
        successor.send("t", b"successor")
    assert [r.value for r in read_all(engine, "t")] == [b"successor"]
    zombie.close()
    successor.close()


def state(txn: eoslog.Transaction) -> str:
    """The state, unnarrowed (it changes behind mypy's back)."""
    return txn.state


def test_transaction_context_manager_commits(engine: eoslog.Engine) -> None:
    engine.create_topic("t", partitions=2)
    with engine.producer(transactional_id="tx") as p:
        assert p.transaction_state == "Uninitialized"
        p.init_transactions()
        assert p.transaction_state == "Ready"
        txn = p.transaction()
        assert state(txn) == "pending"
        with txn as entered:
            assert entered is txn
            assert state(txn) == "active"
            assert p.transaction_state == "InTransaction"
            p.send("t", b"a", partition=0)
            p.send_many("t", [b"b", b"c"], partition=1)
        assert state(txn) == "committed"
        assert p.transaction_state == "Ready"
    records = read_all(engine, "t")
    assert sorted(r.value or b"" for r in records) == [b"a", b"b", b"c"]
    assert all(r.is_transactional for r in records)


def test_transaction_context_manager_aborts_and_reraises(engine: eoslog.Engine) -> None:
    engine.create_topic("t")
    with engine.producer(transactional_id="tx") as p:
        p.init_transactions()

        class Boom(Exception):
            pass

        txn = p.transaction()
        with pytest.raises(Boom):
            with txn:
                p.send("t", b"doomed")
                raise Boom
        assert state(txn) == "aborted"
        with p.transaction():
            p.send("t", b"kept")
        # A transaction context cannot be entered twice.
        with pytest.raises(eoslog.InvalidTxnStateError):
            with txn:
                pass
    assert [r.value for r in read_all(engine, "t")] == [b"kept"]
    uncommitted = [r.value for r in read_all(engine, "t", "read_uncommitted")]
    assert uncommitted == [b"doomed", b"kept"]


def test_transaction_misuse_raises_invalid_txn_state(engine: eoslog.Engine) -> None:
    engine.create_topic("t")
    with engine.producer(transactional_id="tx") as p:
        with pytest.raises(eoslog.InvalidTxnStateError):
            p.begin_transaction()  # before init_transactions
        p.init_transactions()
        with pytest.raises(eoslog.InvalidTxnStateError):
            p.send("t", b"outside a transaction")
        with pytest.raises(eoslog.InvalidTxnStateError):
            p.commit_transaction()
        p.begin_transaction()
        with pytest.raises(eoslog.InvalidTxnStateError):
            p.begin_transaction()
        p.abort_transaction()
    with engine.producer() as plain:
        with pytest.raises(eoslog.InvalidTxnStateError, match="not transactional"):
            plain.init_transactions()


def test_read_committed_sees_only_committed_data(engine: eoslog.Engine) -> None:
    engine.create_topic("t")
    log = engine.partition("t", 0)
    with engine.producer() as plain:
        plain.send("t", b"plain-1")
    p = engine.producer(transactional_id="tx")
    p.init_transactions()
    p.begin_transaction()
    p.send("t", b"open")
    # The open transaction holds back the last stable offset.
    assert log.last_stable_offset == 1
    assert log.high_watermark == 2
    assert [r.value for r in read_all(engine, "t")] == [b"plain-1"]
    assert [r.value for r in read_all(engine, "t", "read_uncommitted")] == [b"plain-1", b"open"]
    p.abort_transaction()
    with p.transaction():
        p.send("t", b"committed")
    assert [r.value for r in read_all(engine, "t")] == [b"plain-1", b"committed"]
    fetched = log.read(0, isolation_level="read_committed")
    assert fetched.aborted_transactions is not None
    assert [t.first_offset for t in fetched.aborted_transactions] == [1]
    assert any(b.is_control for b in fetched.batches())
    p.close()


def test_offsets_in_a_transaction_commit_with_it(engine: eoslog.Engine) -> None:
    engine.create_topic("in")
    engine.create_topic("out")
    with engine.producer() as p:
        p.send_many("in", [b"a", b"b", b"c"])
    consumer = engine.consumer("copier", auto_offset_reset="earliest")
    consumer.assign([("in", 0)])
    producer = engine.producer(transactional_id="copier")
    producer.init_transactions()
    records = consumer.poll(timeout_ms=1000)
    assert len(records) == 3
    try:
        with producer.transaction():
            producer.send("out", b"A")
            producer.send_offsets_to_transaction({("in", 0): 2}, consumer.group_metadata())
            raise KeyError("abort")
    except KeyError:
        pass
    assert consumer.committed(("in", 0)) is None
    with producer.transaction():
        producer.send("out", b"ABC")
        producer.send_offsets_to_transaction(
            {eoslog.TopicPartition("in", 0): eoslog.OffsetAndMetadata(3, "meta")}, "copier"
        )
    committed = consumer.committed(("in", 0))
    assert committed == eoslog.OffsetAndMetadata(3, "meta")
    assert [r.value for r in read_all(engine, "out")] == [b"ABC"]
    producer.close()
    consumer.close()


def test_one_producer_shared_by_threads(engine: eoslog.Engine) -> None:
    engine.create_topic("t", partitions=3)
    errors: list[BaseException] = []
    with engine.producer() as p:

        def work(i: int) -> None:
            try:
                for j in range(200):
                    p.send("t", f"{i}-{j}".encode(), key=str(i).encode())
            except BaseException as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    values = [r.value for r in read_all(engine, "t")]
    assert len(values) == len(set(values)) == 1200
    # Per key (so per partition) the order of each thread's sends is kept.
    for i in range(6):
        mine = [v for v in values if v is not None and v.startswith(f"{i}-".encode())]
        assert mine == [f"{i}-{j}".encode() for j in range(200)]


def test_transaction_exit_when_the_producer_was_fenced(engine: eoslog.Engine) -> None:
    engine.create_topic("t")
    # An exception in the block: the abort fails too (the producer is fenced), and the block's
    # exception is still the one raised, carrying the failed abort as a note.
    zombie = engine.producer(transactional_id="a")
    zombie.init_transactions()
    txn = zombie.transaction()
    with pytest.raises(ValueError, match="original") as info:
        with txn:
            zombie.send("t", b"z")
            engine.producer(transactional_id="a").init_transactions()
            raise ValueError("original")
    assert state(txn) in ("aborted", "failed")
    if state(txn) == "failed":
        assert any("abort_transaction() failed" in n for n in info.value.__notes__)
    # A clean exit whose commit fails raises the commit's error.
    other = engine.producer(transactional_id="b")
    other.init_transactions()
    txn = other.transaction()
    with pytest.raises((eoslog.ProducerFencedError, eoslog.InvalidProducerEpochError)):
        with txn:
            other.send("t", b"o")
            engine.producer(transactional_id="b").init_transactions()
    assert state(txn) == "failed"
    assert other.transaction_state == "FatalError"
    assert [r.value for r in read_all(engine, "t")] == []
