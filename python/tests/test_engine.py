"""Engine lifecycle: open/close, configuration, topics, recovery report, close and fork rules."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest

import eoslog
from eoslog.exceptions import ClosedError, ForkedProcessError


def test_open_create_list_delete(data_dir: Path) -> None:
    with eoslog.Engine.open(data_dir) as engine:
        assert engine.path == str(data_dir)
        assert not engine.closed
        assert engine.io_backend in ("uring", "std")
        engine.create_topic("orders", partitions=3)
        engine.create_topic("audit")
        topics = engine.topics()
        assert sorted(topics) == ["audit", "orders"]
        assert topics["orders"].partitions == 3
        assert not topics["orders"].internal
        assert len(topics["orders"].topic_id) == 22
        engine.delete_topic("audit")
        assert list(engine.topics()) == ["orders"]
        with pytest.raises(eoslog.UnknownTopicOrPartitionError):
            engine.delete_topic("audit")
        with pytest.raises(eoslog.TopicAlreadyExistsError):
            engine.create_topic("orders")
    assert engine.closed


def test_config_accepts_dots_and_underscores(data_dir: Path) -> None:
    with eoslog.Engine.open(
        data_dir, durability="always", **{"log.retention.ms": 3_600_000}, segment_bytes=1 << 20
    ) as engine:
        engine.create_topic("a", **{"segment.bytes": 4096, "max.message.bytes": 10_000})
        engine.create_topic("b", message_timestamp_type="LogAppendTime", preallocate=False)
        cfg_a = engine.topics()["a"].config
        cfg_b = engine.topics()["b"].config
        assert cfg_a["segment.bytes"] == "4096"
        assert cfg_a["max.message.bytes"] == "10000"
        assert cfg_b["segment.bytes"] == str(1 << 20)  # the engine-wide default
        assert cfg_b["retention.ms"] == "3600000"
        assert cfg_b["message.timestamp.type"] == "LogAppendTime"


def test_reopen_reports_clean_shutdown_and_keeps_data(data_dir: Path) -> None:
    with eoslog.Engine.open(data_dir) as engine:
        engine.create_topic("t")
        engine.producer().send_many("t", [b"x"] * 10)
    with eoslog.Engine.open(data_dir) as engine:
        report = engine.recovery_report
        assert report.clean_shutdown
        assert report.truncated_bytes == 0
        assert report.changed() == []
        assert engine.partition("t", 0).log_end_offset == 10


def test_killed_process_leaves_a_recoverable_directory(data_dir: Path) -> None:
    code = (
        "import eoslog, os, signal, sys\n"
        "e = eoslog.Engine.open(sys.argv[1])\n"
        "e.create_topic('t')\n"
        "e.producer().send_many('t', [b'v'] * 100)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(data_dir)], check=False)
    assert proc.returncode == -signal.SIGKILL
    with eoslog.Engine.open(data_dir) as engine:
        report = engine.recovery_report
        assert not report.clean_shutdown
        assert any(p.partition == "t-0" for p in report.partitions)
        assert engine.partition("t", 0).log_end_offset == 100


def test_second_open_of_a_directory_is_refused(data_dir: Path) -> None:
    with eoslog.Engine.open(data_dir):
        with pytest.raises(eoslog.DataDirectoryLockedError) as info:
            eoslog.Engine.open(data_dir)
        assert isinstance(info.value, eoslog.StorageError)
        assert isinstance(info.value, OSError)
        assert info.value.code == 56
    # Closing releases the lock.
    eoslog.Engine.open(data_dir).close()


def test_use_after_close_raises_closed_error(data_dir: Path) -> None:
    engine = eoslog.Engine.open(data_dir)
    engine.create_topic("t")
    producer = engine.producer()
    consumer = engine.consumer("g")
    partition = engine.partition("t", 0)
    engine.close()
    engine.close()  # twice is fine
    for call in (
        engine.topics,
        lambda: engine.create_topic("u"),
        lambda: engine.partition("t", 0),
        engine.producer,
        engine.consumer,
        lambda: producer.send("t", b"x"),
        lambda: producer.send_many("t", [b"x"]),
        producer.flush,
        consumer.poll,
        lambda: consumer.assign([("t", 0)]),
        lambda: partition.read(0),
        lambda: partition.append(b"x"),
        lambda: engine.io_backend,
    ):
        with pytest.raises(ClosedError, match="is closed"):
            call()
    assert isinstance(ClosedError("x"), RuntimeError)
    producer.close()
    consumer.close()


def test_closed_producer_and_consumer(engine: eoslog.Engine) -> None:
    engine.create_topic("t")
    with engine.producer() as producer:
        producer.send("t", b"x")
    assert producer.closed
    with pytest.raises(ClosedError, match="the producer is closed"):
        producer.send("t", b"y")
    with engine.consumer() as consumer:
        consumer.assign([("t", 0)])
    with pytest.raises(ClosedError, match="the consumer is closed"):
        consumer.poll()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_forked_child_gets_a_clear_error_and_leaves_the_parent_alone(data_dir: Path) -> None:
    engine = eoslog.Engine.open(data_dir)
    engine.create_topic("t")
    producer = engine.producer()
    producer.send("t", b"before fork")
    r, w = os.pipe()
    with warnings.catch_warnings():
        # Python >= 3.12 warns about fork() in a process with threads; that is the point here.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(r)
        outcome = b"no error"
        try:
            engine.topics()
        except ForkedProcessError as e:
            outcome = b"ok" if isinstance(e, RuntimeError) and "forked" in str(e) else b"wrong"
        except BaseException as e:  # noqa: BLE001
            outcome = repr(e).encode()
        try:
            producer.send("t", b"from the child")
            outcome = b"producer worked in the child"
        except ForkedProcessError:
            pass
        os.write(w, outcome)
        # Dropping the child's copies must not run the parent's shutdown.
        del producer, engine
        import gc

        gc.collect()
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        outcome = f.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert outcome == b"ok"
    # The parent is unaffected: still writable, and it closes cleanly.
    producer.send("t", b"after fork")
    producer.close()
    engine.close()
    with eoslog.Engine.open(data_dir) as again:
        assert again.recovery_report.clean_shutdown
        assert again.partition("t", 0).log_end_offset == 2


def test_exceptions_carry_codes_and_pickle(engine: eoslog.Engine) -> None:
    with pytest.raises(eoslog.InvalidTopicError) as info:
        engine.create_topic("no spaces")
    e = info.value
    assert (e.code, e.name) == (17, "INVALID_TOPIC_EXCEPTION")
    assert isinstance(e, ValueError) and isinstance(e, eoslog.EoslogError)
    again = pickle.loads(pickle.dumps(e))
    assert type(again) is eoslog.InvalidTopicError
    assert (again.code, again.name, str(again)) == (e.code, e.name, str(e))
    assert eoslog.exceptions.__all__ == [
        n for n in eoslog.exceptions.__all__ if hasattr(eoslog, n)
    ]


def test_engine_is_usable_from_many_threads(engine: eoslog.Engine) -> None:
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            engine.create_topic(f"t{i}", partitions=2)
            with engine.producer() as p:
                p.send_many(f"t{i}", [b"x"] * 500)
            assert engine.partition(f"t{i}", 0).log_end_offset + engine.partition(
                f"t{i}", 1
            ).log_end_offset == 500
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(engine.topics()) == 8
