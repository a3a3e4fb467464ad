"""Consumers: poll, iteration, positions and commits, seeks, pause, threads and the GIL."""

from __future__ import annotations

import threading
import time

import pytest

import eoslog


@pytest.fixture
def topic(engine: eoslog.Engine) -> str:
    engine.create_topic("t", partitions=2)
    with engine.producer() as p:
        p.send_many("t", [f"p0-{i}".encode() for i in range(100)], partition=0)
        p.send_many("t", [f"p1-{i}".encode() for i in range(50)], partition=1)
    return "t"


def test_poll_returns_records_with_all_fields(engine: eoslog.Engine, topic: str) -> None:
    with engine.consumer("g", auto_offset_reset="earliest") as c:
        assert c.group_id == "g" and c.isolation_level == "read_committed"
        c.assign([(topic, 0)])
        assert c.assignment() == [eoslog.TopicPartition(topic, 0)]
        records = c.poll(max_records=10, timeout_ms=1000)
        assert [r.offset for r in records] == list(range(10))
        r = records[0]
        assert (r.topic, r.partition, r.value, r.key, r.headers) == (topic, 0, b"p0-0", None, [])
        assert r.producer_id >= 0 and r.producer_epoch == 0 and r.sequence == 0
        assert not r.is_transactional
        assert r.topic_partition == eoslog.TopicPartition(topic, 0)
        assert isinstance(r, eoslog.Message)


def test_max_records_and_positions_follow_what_was_returned(engine: eoslog.Engine, topic: str) -> None:
    tp = eoslog.TopicPartition(topic, 0)
    with engine.consumer("g", auto_offset_reset="earliest") as c:
        c.assign([tp])
        assert [r.offset for r in c.poll(max_records=3, timeout_ms=1000)] == [0, 1, 2]
        assert c.position(tp) == 3
        c.commit()
        assert c.committed(tp) == eoslog.OffsetAndMetadata(3)
        assert [r.offset for r in c.poll(max_records=2)] == [3, 4]
        # More than the engine's max.poll.records (500) in one call.
    with engine.consumer("g2", auto_offset_reset="earliest", max_poll_records=7) as c:
        c.assign([tp])
        assert len(c.poll(max_records=60, timeout_ms=1000)) == 60
    # A new consumer of the group resumes at the committed offset, not at what was fetched.
    with engine.consumer("g", auto_offset_reset="earliest") as c:
        c.assign([tp])
        assert c.poll(max_records=1, timeout_ms=1000)[0].offset == 3


def test_iteration_with_consumer_timeout(engine: eoslog.Engine, topic: str) -> None:
    with engine.consumer(auto_offset_reset="earliest", consumer_timeout_ms=200) as c:
        c.assign([(topic, 0), (topic, 1)])
        values = [m.value for m in c]
        assert len(values) == 150
        assert values.count(b"p1-49") == 1


def test_seek_pause_resume_and_offsets(engine: eoslog.Engine, topic: str) -> None:
    tp0, tp1 = (topic, 0), (topic, 1)
    with engine.consumer("g", auto_offset_reset="earliest") as c:
        c.assign([tp0, tp1])
        assert c.beginning_offsets([tp0, tp1]) == {
            eoslog.TopicPartition(topic, 0): 0,
            eoslog.TopicPartition(topic, 1): 0,
        }
        assert c.end_offsets([tp0]) == {eoslog.TopicPartition(topic, 0): 100}
        c.seek(tp0, 95)
        c.pause(tp1)
        got = c.poll(max_records=500, timeout_ms=500)
        assert [(r.partition, r.offset) for r in got] == [(0, o) for o in range(95, 100)]
        c.resume(tp1)
        c.seek_to_end(tp1)
        assert c.position(tp1) == 50
        c.seek_to_beginning()
        assert c.position(tp0) == 0 and c.position(tp1) == 0
        offsets: dict[eoslog.TopicPartition | tuple[str, int], int | eoslog.OffsetAndMetadata] = {
            tp0: 10,
            eoslog.TopicPartition(topic, 1): eoslog.OffsetAndMetadata(20, "x"),
        }
        c.commit(offsets)
        assert c.committed([tp0, tp1]) == {
            eoslog.TopicPartition(topic, 0): eoslog.OffsetAndMetadata(10),
            eoslog.TopicPartition(topic, 1): eoslog.OffsetAndMetadata(20, "x"),
        }
        md = c.consumer_group_metadata()
        assert md == c.group_metadata()
        assert (md.group_id, md.generation_id, md.member_id, md.group_instance_id) == ("g", -1, "", None)


def test_pending_records_are_rewound_on_commit_and_pause(engine: eoslog.Engine, topic: str) -> None:
    tp = eoslog.TopicPartition(topic, 0)
    with engine.consumer("g", auto_offset_reset="earliest") as c:
        c.assign([tp])
        assert [r.offset for r in c.poll(max_records=1, timeout_ms=1000)] == [0]
        c.commit()  # commits 1, not what the engine fetched ahead
        assert c.committed(tp) == eoslog.OffsetAndMetadata(1)
        assert c.poll(max_records=1)[0].offset == 1
        c.pause(tp)
        assert c.poll(timeout_ms=50) == []
        c.resume(tp)
        assert c.poll(max_records=1, timeout_ms=1000)[0].offset == 2


def test_wakeup_ends_a_blocked_poll(engine: eoslog.Engine) -> None:
    engine.create_topic("empty")
    with engine.consumer() as c:
        c.assign([("empty", 0)])
        threading.Timer(0.2, c.wakeup).start()
        started = time.monotonic()
        assert c.poll(timeout_ms=30_000) == []
        assert time.monotonic() - started < 10


def test_poll_releases_the_gil(engine: eoslog.Engine) -> None:
    engine.create_topic("empty")
    ticks = 0
    stop = threading.Event()

    def spin() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1

    with engine.consumer() as c:
        c.assign([("empty", 0)])
        t = threading.Thread(target=spin)
        t.start()
        try:
            before = ticks
            c.poll(timeout_ms=300)
            during = ticks - before
        finally:
            stop.set()
            t.join()
    # A thread that needs the GIL kept running while poll waited.
    assert during > 1000


def test_poll_wakes_up_when_data_arrives(engine: eoslog.Engine) -> None:
    engine.create_topic("t")
    with engine.consumer(auto_offset_reset="earliest") as c, engine.producer() as p:
        c.assign([("t", 0)])
        threading.Timer(0.2, lambda: p.send("t", b"late")).start()
        got = c.poll(timeout_ms=20_000)
        assert [r.value for r in got] == [b"late"]


def test_consumers_in_threads_each_read_everything(engine: eoslog.Engine, topic: str) -> None:
    counts: list[int] = []
    lock = threading.Lock()

    def read() -> None:
        with engine.consumer(auto_offset_reset="earliest", consumer_timeout_ms=300) as c:
            c.assign([(topic, 0), (topic, 1)])
            n = sum(1 for _ in c)
        with lock:
            counts.append(n)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counts == [150] * 4


def test_one_consumer_polled_from_threads_loses_and_duplicates_nothing(
    engine: eoslog.Engine, topic: str
) -> None:
    seen: list[tuple[int, int]] = []
    lock = threading.Lock()
    with engine.consumer(auto_offset_reset="earliest") as c:
        c.assign([(topic, 0), (topic, 1)])

        def work() -> None:
            while True:
                got = c.poll(max_records=7, timeout_ms=200)
                if not got:
                    return
                with lock:
                    seen.extend((r.partition, r.offset) for r in got)

        threads = [threading.Thread(target=work) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(seen) == [(0, o) for o in range(100)] + [(1, o) for o in range(50)]


def test_auto_offset_reset_none(engine: eoslog.Engine, topic: str) -> None:
    with engine.consumer("fresh", auto_offset_reset="none") as c:
        c.assign([(topic, 0)])
        with pytest.raises(eoslog.OffsetOutOfRangeError):
            c.poll()


def test_reassign_keeps_the_position_of_what_was_returned(engine: eoslog.Engine, topic: str) -> None:
    with engine.consumer(auto_offset_reset="earliest") as c:
        c.assign([(topic, 0)])
        assert c.poll(max_records=1, timeout_ms=1000)[0].offset == 0
        c.assign([(topic, 0), (topic, 1)])
        got = c.poll(max_records=500, timeout_ms=1000)
        assert (0, 1) in [(r.partition, r.offset) for r in got]
        assert (0, 0) not in [(r.partition, r.offset) for r in got]
