"""Consumer groups: ``Consumer.subscribe`` with rebalance callbacks, ``consumer_group_metadata``
and the generation fencing of ``Producer.send_offsets_to_transaction`` (KIP-447)."""

from __future__ import annotations

import gc
import random
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import eoslog
from conftest import read_all

TOPIC = "events"
PARTITIONS = 4
ALL = {eoslog.TopicPartition(TOPIC, p) for p in range(PARTITIONS)}


@pytest.fixture
def engine(data_dir: Path) -> Iterator[eoslog.Engine]:
    # No initial rebalance delay: the first member of a group gets its partitions at once.
    with eoslog.Engine.open(data_dir, group_initial_rebalance_delay_ms=0) as e:
        e.create_topic(TOPIC, partitions=PARTITIONS)
        with e.producer() as p:
            for part in range(PARTITIONS):
                p.send_many(TOPIC, [f"p{part}-{i}".encode() for i in range(25)], partition=part)
        yield e


class Member:
    """A subscribed consumer that records what its callbacks were told."""

    def __init__(
        self, engine: eoslog.Engine, group: str = "g", **config: str | int | list[str]
    ) -> None:
        self.consumer = engine.consumer(
            group, "read_committed", auto_offset_reset="earliest", **config
        )
        self.owned: set[eoslog.TopicPartition] = set()
        self.events: list[tuple[str, list[eoslog.TopicPartition]]] = []

    def subscribe(self) -> None:
        self.consumer.subscribe(
            [TOPIC], on_assign=self.on_assign, on_revoke=self.on_revoke, on_lost=self.on_lost
        )

    def on_assign(self, consumer: eoslog.Consumer, partitions: list[eoslog.TopicPartition]) -> None:
        assert consumer is self.consumer
        assert all(isinstance(tp, eoslog.TopicPartition) for tp in partitions)
        # Already in the assignment when the callback runs.
        assert set(partitions) <= set(consumer.assignment())
        self.events.append(("assign", partitions))
        self.owned |= set(partitions)

    def on_revoke(self, consumer: eoslog.Consumer, partitions: list[eoslog.TopicPartition]) -> None:
        # Still owned: the last chance to commit them.
        assert set(partitions) <= set(consumer.assignment())
        consumer.commit()
        self.events.append(("revoke", partitions))
        self.owned -= set(partitions)

    def on_lost(self, consumer: eoslog.Consumer, partitions: list[eoslog.TopicPartition]) -> None:
        self.events.append(("lost", partitions))
        self.owned -= set(partitions)

    def poll(self) -> list[eoslog.ConsumerRecord]:
        return self.consumer.poll(timeout_ms=20)

    @property
    def assignment(self) -> set[eoslog.TopicPartition]:
        return set(self.consumer.assignment())


def poll_until(members: list[Member], done: Callable[[], bool], timeout: float = 60.0) -> None:
    """Polls every member in turn (one thread) until ``done()``."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the group did not settle in time"
        for m in members:
            m.poll()


def gather(into: list[eoslog.ConsumerRecord], member: Member) -> int:
    """Polls ``member`` once into ``into``; returns how many records ``into`` holds."""
    into.extend(member.poll())
    return len(into)


def test_two_members_split_the_partitions_and_one_leaves(engine: eoslog.Engine) -> None:
    a, b = Member(engine), Member(engine)
    a.subscribe()
    b.subscribe()
    assert a.consumer.subscription() == [TOPIC]

    def split() -> bool:
        return bool(a.assignment) and bool(b.assignment) and a.assignment | b.assignment == ALL

    poll_until([a, b], split)
    assert not a.assignment & b.assignment
    # The callbacks told each member exactly what it owns.
    assert a.owned == a.assignment and b.owned == b.assignment
    assert any(kind == "assign" and ps for kind, ps in a.events)
    assert any(kind == "assign" and ps for kind, ps in b.events)
    md_a, md_b = a.consumer.consumer_group_metadata(), b.consumer.consumer_group_metadata()
    assert md_a.group_id == md_b.group_id == "g"
    assert md_a.member_id != md_b.member_id and md_a.member_id and md_b.member_id
    assert md_a.generation_id == md_b.generation_id >= 1

    # b leaves: its partitions are revoked through its callback, and a gets everything.
    b_had = b.assignment
    b.consumer.close()
    assert b.events[-1] == ("revoke", sorted(b_had)) and b.owned == set()
    poll_until([a], lambda: a.assignment == ALL)
    assert a.owned == ALL
    assert a.consumer.consumer_group_metadata().generation_id > md_a.generation_id
    a.consumer.close()


def test_callbacks_run_on_the_polling_thread(engine: eoslog.Engine) -> None:
    threads: list[int] = []
    polled_by: list[int] = []

    def on_assign(consumer: eoslog.Consumer, partitions: list[eoslog.TopicPartition]) -> None:
        threads.append(threading.get_ident())

    with engine.consumer("g", auto_offset_reset="earliest") as c:
        c.subscribe([TOPIC], on_assign=on_assign)

        def worker() -> None:
            polled_by.append(threading.get_ident())
            deadline = time.monotonic() + 30
            while not threads and time.monotonic() < deadline:
                c.poll(timeout_ms=50)

        t = threading.Thread(target=worker)
        t.start()
        # The main thread keeps running Python code (holding the GIL in turns) meanwhile.
        while t.is_alive():
            sum(range(10_000))
        t.join()
        assert threads == polled_by and threads[0] != threading.get_ident()


def test_unsubscribe_revokes_and_leaves(engine: eoslog.Engine) -> None:
    a = Member(engine)
    a.subscribe()
    poll_until([a], lambda: a.assignment == ALL)
    a.consumer.unsubscribe()
    assert a.events[-1] == ("revoke", sorted(ALL))
    assert a.consumer.assignment() == [] and a.consumer.subscription() == []
    md = a.consumer.consumer_group_metadata()
    assert (md.generation_id, md.member_id) == (-1, "")
    # Unsubscribed, the consumer may assign; on_revoke committed what poll_until read.
    a.consumer.assign([(TOPIC, 0)])
    committed = a.consumer.committed((TOPIC, 0))
    assert committed is not None and a.consumer.position((TOPIC, 0)) == committed.offset
    a.consumer.close()


def test_revoked_partitions_resume_from_what_on_revoke_committed(engine: eoslog.Engine) -> None:
    a, b = Member(engine), Member(engine)
    a.subscribe()
    seen: list[eoslog.ConsumerRecord] = []
    poll_until([], lambda: gather(seen, a) == 4 * 25)
    assert a.assignment == ALL
    b.subscribe()
    moved: list[eoslog.ConsumerRecord] = []

    def settled() -> bool:
        return bool(b.assignment) and a.assignment | b.assignment == ALL

    deadline = time.monotonic() + 60
    while not settled():
        assert time.monotonic() < deadline
        a.poll()
        moved.extend(b.poll())
    # a's on_revoke committed everything it had read, so b starts at the end.
    moved.extend(b.consumer.poll(timeout_ms=200))
    assert moved == []
    committed = b.consumer.committed(sorted(b.assignment))
    assert all(o is not None and o.offset == 25 for o in committed.values())
    a.consumer.close()
    b.consumer.close()


def test_zombie_metadata_fences_send_offsets(engine: eoslog.Engine) -> None:
    engine.create_topic("out", partitions=PARTITIONS)
    a, b = Member(engine), Member(engine)
    a.subscribe()
    records: list[eoslog.ConsumerRecord] = []
    poll_until([], lambda: gather(records, a) > 0)
    assert a.assignment == ALL
    zombie = a.consumer.consumer_group_metadata()
    positions = {tp: a.consumer.position(tp) for tp in a.consumer.assignment()}

    # A rebalance: b joins and takes half of the partitions.
    b.subscribe()
    poll_until([a, b], lambda: bool(b.assignment) and a.assignment | b.assignment == ALL)
    assert a.consumer.consumer_group_metadata().generation_id > zombie.generation_id

    with engine.producer(transactional_id="zombie") as producer:
        producer.init_transactions()
        producer.begin_transaction()
        for r in records:
            producer.send("out", r.value, partition=r.partition)
        with pytest.raises(eoslog.IllegalGenerationError) as raised:
            producer.send_offsets_to_transaction(positions, zombie)
        assert raised.value.code == 22 and raised.value.name == "ILLEGAL_GENERATION"
        assert isinstance(raised.value, eoslog.EoslogError)
        # The transaction can only be aborted.
        with pytest.raises(eoslog.EoslogError):
            producer.commit_transaction()
        producer.abort_transaction()

        # The producer goes on; with the live metadata the commit is accepted.
        producer.begin_transaction()
        mine = {tp: a.consumer.position(tp) for tp in a.consumer.assignment()}
        producer.send_offsets_to_transaction(mine, a.consumer.consumer_group_metadata())
        producer.commit_transaction()

    assert read_all(engine, "out") == []
    a.consumer.close()
    b.consumer.close()


def transform(value: bytes | None) -> bytes:
    return (value or b"").upper() + b"|copied"


def test_group_copier_copies_exactly_once(engine: eoslog.Engine) -> None:
    """Two members, each with its own transactional producer, copy the topic with
    read-process-write transactions that carry ``consumer_group_metadata()``; some
    transactions abort, members rebalance, and one leaves half-way."""
    engine.create_topic("copy", partitions=PARTITIONS)
    with engine.producer() as p:
        for part in range(PARTITIONS):
            p.send_many(TOPIC, [f"p{part}-{i}".encode() for i in range(25, 300)], partition=part)
    rng = random.Random(7)
    members = [Member(engine, "copier", max_poll_records=37) for _ in range(2)]
    producers = [engine.producer(transactional_id=f"copier-{i}") for i in range(2)]
    for m, p in zip(members, producers, strict=True):
        p.init_transactions()
        m.subscribe()
    refused = aborted = 0
    worked: set[int] = set()

    def rewind(c: eoslog.Consumer) -> None:
        assigned = c.assignment()
        committed = c.committed(assigned) if assigned else {}
        for tp in assigned:
            o = committed[tp]
            if o is None:
                c.seek_to_beginning(tp)
            else:
                c.seek(tp, o.offset)

    def done() -> bool:
        with engine.consumer("copier") as check:
            ends = check.end_offsets(sorted(ALL))
            committed = check.committed(sorted(ALL))
        offsets = [committed[tp] for tp in sorted(ALL)]
        return [o.offset if o else None for o in offsets] == [ends[tp] for tp in sorted(ALL)]

    rounds = 0
    deadline = time.monotonic() + 120
    while not done():
        assert time.monotonic() < deadline, "the copy did not finish"
        rounds += 1
        if rounds == 8:
            # One member leaves half-way; the other takes its partitions over.
            members[1].consumer.close()
            producers[1].close()
            del members[1], producers[1]
        for m, producer in zip(members, producers, strict=True):
            c = m.consumer
            records = c.poll(max_records=40, timeout_ms=20)
            assignment = c.assignment()
            if assignment:
                worked.add(id(m))
            if not assignment:
                continue
            producer.begin_transaction()
            for r in records:
                producer.send("copy", transform(r.value), key=r.key, partition=r.partition)
            try:
                producer.send_offsets_to_transaction(
                    {tp: c.position(tp) for tp in assignment}, c.consumer_group_metadata()
                )
            except (
                eoslog.IllegalGenerationError,
                eoslog.UnknownMemberIdError,
                eoslog.RebalanceInProgressError,
            ):
                refused += 1
                producer.abort_transaction()
                rewind(c)
                continue
            if rng.random() < 0.2:
                aborted += 1
                producer.abort_transaction()
                rewind(c)
            else:
                producer.commit_transaction()

    for m in members:
        m.consumer.close()
    for p in producers:
        p.close()
    assert aborted > 0
    assert rounds > 8 and len(members) == 1, "the second member did not leave half-way"
    assert len(worked) == 2, "both members copied"
    out = read_all(engine, "copy")
    for part in range(PARTITIONS):
        got = [r.value for r in out if r.partition == part]
        assert got == [transform(f"p{part}-{i}".encode()) for i in range(300)], f"partition {part}"


def test_callback_exception_is_raised_by_the_poll_that_ran_it(engine: eoslog.Engine) -> None:
    calls: list[list[eoslog.TopicPartition]] = []

    def on_assign(consumer: eoslog.Consumer, partitions: list[eoslog.TopicPartition]) -> None:
        calls.append(partitions)
        raise ValueError("on_assign failed")

    with engine.consumer("g", auto_offset_reset="earliest") as c:
        c.subscribe([TOPIC], on_assign=on_assign)
        deadline = time.monotonic() + 30
        with pytest.raises(ValueError, match="on_assign failed"):
            while time.monotonic() < deadline:
                c.poll(timeout_ms=100)
        assert calls == [sorted(ALL)]
        # The rebalance completed, and nothing that poll fetched is lost.
        assert set(c.assignment()) == ALL
        got: list[eoslog.ConsumerRecord] = []
        while batch := c.poll(timeout_ms=200):
            got.extend(batch)
        assert sorted((r.partition, r.offset) for r in got) == [
            (p, o) for p in range(PARTITIONS) for o in range(25)
        ]

    def on_revoke(consumer: eoslog.Consumer, partitions: list[eoslog.TopicPartition]) -> None:
        raise KeyError("on_revoke failed")

    c = engine.consumer("g2", auto_offset_reset="earliest")
    c.subscribe([TOPIC], on_revoke=on_revoke)
    poll_until([], lambda: bool(c.poll(timeout_ms=100)) or set(c.assignment()) == ALL)
    with pytest.raises(KeyError, match="on_revoke failed"):
        c.close()
    assert c.closed


def test_calls_a_callback_may_not_make(engine: eoslog.Engine) -> None:
    def close_me(consumer: eoslog.Consumer, partitions: list[eoslog.TopicPartition]) -> None:
        consumer.close()

    with engine.consumer("g", auto_offset_reset="earliest") as c:
        c.subscribe([TOPIC], on_assign=close_me)
        with pytest.raises(eoslog.InvalidRequestError, match="rebalance callback"):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                c.poll(timeout_ms=100)
        assert not c.closed
        assert c.poll(timeout_ms=1000)


def test_pattern_subscription(engine: eoslog.Engine) -> None:
    engine.create_topic("metrics-a", partitions=2)
    engine.create_topic("metrics-b")
    with engine.consumer("g", auto_offset_reset="earliest") as c:
        c.subscribe(["^metrics-.*"])
        poll_until([], lambda: bool(c.poll(timeout_ms=50)) or bool(c.assignment()))
        assert c.assignment() == [
            eoslog.TopicPartition("metrics-a", 0),
            eoslog.TopicPartition("metrics-a", 1),
            eoslog.TopicPartition("metrics-b", 0),
        ]
        assert c.subscription() == ["metrics-a", "metrics-b"]


def test_static_member_and_assignment_strategy(engine: eoslog.Engine) -> None:
    a = Member(
        engine,
        group_instance_id="instance-1",
        session_timeout_ms=10_000,
        partition_assignment_strategy=["range"],
    )
    a.subscribe()
    poll_until([a], lambda: a.assignment == ALL)
    md = a.consumer.consumer_group_metadata()
    assert md.group_instance_id == "instance-1"
    # The eager protocol: a second member's arrival revokes every partition first.
    b = Member(engine, partition_assignment_strategy="range")
    b.subscribe()
    poll_until([a, b], lambda: bool(b.assignment) and a.assignment | b.assignment == ALL)
    assert ("revoke", sorted(ALL)) in a.events
    a.consumer.close()
    b.consumer.close()


def test_callbacks_do_not_keep_the_consumer_alive(engine: eoslog.Engine) -> None:
    a = Member(engine)
    a.subscribe()
    poll_until([a], lambda: a.assignment == ALL)
    # a.consumer -> callbacks (bound methods) -> a -> a.consumer: a cycle the collector breaks.
    ref = weakref.ref(a.consumer)
    del a
    gc.collect()
    assert ref() is None


def test_str_group_id_is_not_fenced(engine: eoslog.Engine) -> None:
    with (
        engine.consumer("plain", auto_offset_reset="earliest") as c,
        engine.producer(transactional_id="plain-writer") as producer,
    ):
        c.assign([(TOPIC, 0)])
        assert len(c.poll(timeout_ms=1000)) == 25
        producer.init_transactions()
        with producer.transaction():
            producer.send_offsets_to_transaction({(TOPIC, 0): c.position((TOPIC, 0))}, "plain")
        assert c.committed((TOPIC, 0)) == eoslog.OffsetAndMetadata(25)


BAD_SUBSCRIBE: list[tuple[str, Callable[[eoslog.Consumer], object]]] = [
    ("topics str", lambda c: c.subscribe(TOPIC)),
    ("topics bytes", lambda c: c.subscribe(b"events")),  # type: ignore[arg-type]
    ("topics None", lambda c: c.subscribe(None)),  # type: ignore[arg-type]
    ("topics int", lambda c: c.subscribe(5)),  # type: ignore[arg-type]
    ("topic int", lambda c: c.subscribe([TOPIC, 5])),  # type: ignore[list-item]
    ("topic bytes", lambda c: c.subscribe([b"events"])),  # type: ignore[list-item]
    ("on_assign int", lambda c: c.subscribe([TOPIC], on_assign=5)),  # type: ignore[arg-type]
    ("on_revoke str", lambda c: c.subscribe([TOPIC], on_revoke="f")),  # type: ignore[arg-type]
    ("on_lost list", lambda c: c.subscribe([TOPIC], on_lost=[])),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("what", "call"), BAD_SUBSCRIBE, ids=[w for w, _ in BAD_SUBSCRIBE])
def test_subscribe_rejects_wrong_types(
    engine: eoslog.Engine, what: str, call: Callable[[eoslog.Consumer], object]
) -> None:
    with engine.consumer("g") as c:
        with pytest.raises(TypeError):
            call(c)
        assert c.subscription() == []


def test_a_callback_with_the_wrong_signature_raises_type_error_from_poll(
    engine: eoslog.Engine,
) -> None:
    with engine.consumer("g", auto_offset_reset="earliest") as c:
        def no_arguments() -> None:
            pass

        c.subscribe([TOPIC], on_assign=no_arguments)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                c.poll(timeout_ms=100)


def test_subscribe_needs_a_group_and_excludes_assign(engine: eoslog.Engine) -> None:
    with engine.consumer() as c:
        with pytest.raises(eoslog.InvalidGroupIdError):
            c.subscribe([TOPIC])
        with pytest.raises(eoslog.InvalidGroupIdError):
            c.consumer_group_metadata()
    with engine.consumer("g") as c:
        c.assign([(TOPIC, 0)])
        with pytest.raises(eoslog.InvalidRequestError):
            c.subscribe([TOPIC])
        with pytest.raises(ValueError):
            c.subscribe(["^("])


def test_group_metadata_is_opaque_and_send_offsets_checks_its_type(engine: eoslog.Engine) -> None:
    with pytest.raises(TypeError):
        eoslog.ConsumerGroupMetadata("g")  # type: ignore[call-arg]
    with engine.consumer("g") as c:
        md = c.consumer_group_metadata()
        with pytest.raises(AttributeError):
            md.generation_id = 5  # type: ignore[misc]
    with engine.producer(transactional_id="t") as producer:
        producer.init_transactions()
        producer.begin_transaction()
        with pytest.raises(TypeError):
            producer.send_offsets_to_transaction({(TOPIC, 0): 1}, 5)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            producer.send_offsets_to_transaction({(TOPIC, 0): 1}, None)  # type: ignore[arg-type]
        producer.abort_transaction()


def test_group_errors_are_typed_with_their_kafka_codes() -> None:
    for cls, code, name in [
        (eoslog.IllegalGenerationError, 22, "ILLEGAL_GENERATION"),
        (eoslog.UnknownMemberIdError, 25, "UNKNOWN_MEMBER_ID"),
        (eoslog.RebalanceInProgressError, 27, "REBALANCE_IN_PROGRESS"),
        (eoslog.FencedInstanceIdError, 82, "FENCED_INSTANCE_ID"),
    ]:
        assert issubclass(cls, eoslog.EoslogError)
        assert (cls.code, cls.name) == (code, name)
