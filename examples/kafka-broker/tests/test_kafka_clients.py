"""eoslog-broker verified with a real Kafka client: librdkafka through confluent-kafka.

Every exactly-once property checked here is the engine's; the broker only translates requests.
"""

import json
import logging
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest
from confluent_kafka import (
    TIMESTAMP_LOG_APPEND_TIME,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

COPIER = Path(__file__).with_name("eos_copier.py")
# librdkafka's own log goes through Python logging, so pytest shows it with a failing test only.
RDKAFKA_LOG = logging.getLogger("rdkafka")


def conf(bootstrap, **extra):
    """Client configuration: fast reconnects, logs captured by pytest."""
    return {
        "bootstrap.servers": bootstrap,
        "reconnect.backoff.ms": 50,
        "reconnect.backoff.max.ms": 500,
        "logger": RDKAFKA_LOG,
        **extra,
    }


def create_topics(bootstrap, topics, config=None):
    admin = AdminClient(conf(bootstrap))
    futures = admin.create_topics([NewTopic(t, n, 1, config=config or {}) for t, n in topics.items()])
    for f in futures.values():
        f.result(30)


def read_all(bootstrap, topic, partitions, isolation, group="reader"):
    """Every record of `topic` up to the end a read at `isolation` can reach, per partition:
    lists of (offset, key, value)."""
    c = Consumer(conf(
        bootstrap,
        **{"group.id": group, "enable.auto.commit": False, "isolation.level": isolation, "enable.partition.eof": True},
    ))
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out = defaultdict(list)
    at_eof = set()
    deadline = time.monotonic() + 60
    while len(at_eof) < partitions:
        assert time.monotonic() < deadline, f"reading {topic} did not reach the end: {sorted(at_eof)}"
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == -191:  # _PARTITION_EOF
                at_eof.add(m.partition())
                continue
            raise KafkaException(m.error())
        at_eof.discard(m.partition())
        out[m.partition()].append((m.offset(), m.key(), m.value()))
    c.close()
    return out


def values(records):
    return [v.decode() for (_, _, v) in records]


def test_idempotent_producer_survives_dropped_connections(make_broker):
    # Every 4th produce request is appended and then its connection dropped without an answer,
    # so librdkafka retries batches the log already holds.
    broker = make_broker("--drop-produce-response-every", "4")
    create_topics(broker.bootstrap, {"idem": 2})
    p = Producer(conf(broker.bootstrap, **{"enable.idempotence": True, "linger.ms": 2, "batch.num.messages": 40}))
    errors = []
    sent = defaultdict(list)

    def on_delivery(err, msg):
        if err is not None:
            errors.append(err)

    n = 4000
    for i in range(n):
        part = i % 2
        sent[part].append(f"m{i}")
        p.produce("idem", value=f"m{i}".encode(), partition=part, on_delivery=on_delivery)
        if i % 500 == 0:
            p.poll(0)
    assert p.flush(60) == 0
    assert errors == []
    drops = broker.log().count("test hook: dropping the connection")
    assert drops >= 3, "the hook fired"
    got = read_all(broker.bootstrap, "idem", 2, "read_uncommitted")
    for part in range(2):
        # No duplicates, no gaps, producer order kept: exactly the sent sequence.
        assert values(got[part]) == sent[part]
        assert [o for (o, _, _) in got[part]] == list(range(len(sent[part])))


def test_transactions_commit_abort_and_isolation_levels(broker):
    create_topics(broker.bootstrap, {"tin": 1, "tout": 3})
    group = "txn-group"
    consumer = Consumer(conf(broker.bootstrap, **{"group.id": group, "enable.auto.commit": False}))
    p = Producer(conf(broker.bootstrap, **{"transactional.id": "txn-app"}))
    p.init_transactions(30)
    committed, aborted = [], []
    for rnd, (count, commit) in enumerate([(30, True), (20, False), (10, True)]):
        p.begin_transaction()
        vals = [f"r{rnd}-{i}" for i in range(count)]
        for i, v in enumerate(vals):
            p.produce("tout", value=v.encode(), partition=i % 3)
        p.send_offsets_to_transaction(
            [TopicPartition("tin", 0, 100 * (rnd + 1))], consumer.consumer_group_metadata(), 30
        )
        if commit:
            p.commit_transaction(30)
            committed += vals
        else:
            p.flush(30)
            p.abort_transaction(30)
            aborted += vals
    rc = read_all(broker.bootstrap, "tout", 3, "read_committed")
    ru = read_all(broker.bootstrap, "tout", 3, "read_uncommitted")
    assert sorted(v for part in rc.values() for v in values(part)) == sorted(committed)
    assert sorted(v for part in ru.values() for v in values(part)) == sorted(committed + aborted)
    # The aborted round's offsets were dropped; the last committed round's stand.
    [tp] = consumer.committed([TopicPartition("tin", 0)], 30)
    assert tp.offset == 300
    consumer.close()


def test_zombie_instance_is_fenced(broker):
    create_topics(broker.bootstrap, {"zombie": 1})
    same_id = conf(broker.bootstrap, **{"transactional.id": "shared-id"})
    old = Producer(same_id)
    old.init_transactions(30)
    old.begin_transaction()
    old.produce("zombie", value=b"from-the-zombie", partition=0)
    assert old.flush(30) == 0
    # A second instance with the same transactional.id fences the first and aborts its
    # open transaction.
    new = Producer(same_id)
    new.init_transactions(60)
    new.begin_transaction()
    new.produce("zombie", value=b"from-the-new-instance", partition=0)
    new.commit_transaction(30)
    with pytest.raises(KafkaException) as fenced:
        old.produce("zombie", value=b"zombie-again", partition=0)
        old.commit_transaction(30)
    assert fenced.value.args[0].fatal(), fenced.value
    rc = read_all(broker.bootstrap, "zombie", 1, "read_committed")
    assert values(rc[0]) == ["from-the-new-instance"]


def test_log_append_time_topics_are_stamped_by_the_broker(broker):
    create_topics(broker.bootstrap, {"lat": 1}, {"message.timestamp.type": "LogAppendTime"})
    p = Producer(conf(broker.bootstrap))
    p.produce("lat", value=b"x", partition=0, timestamp=1_000_000)
    assert p.flush(30) == 0
    [(offset, _, _)] = read_all(broker.bootstrap, "lat", 1, "read_uncommitted")[0]
    c = Consumer(conf(broker.bootstrap, **{"group.id": "lat"}))
    c.assign([TopicPartition("lat", 0, offset)])
    m = None
    while m is None or m.error():
        m = c.poll(1)
    kind, ts = m.timestamp()
    assert kind == TIMESTAMP_LOG_APPEND_TIME
    assert abs(ts - time.time() * 1000) < 60_000, "the broker's clock, not the producer's 1000000"
    c.close()


def test_sigint_closes_the_engine_cleanly(make_broker):
    broker = make_broker()
    create_topics(broker.bootstrap, {"sig": 1})
    broker.proc.send_signal(signal.SIGINT)
    assert broker.proc.wait(60) == 0
    assert "engine closed cleanly" in broker.log()
    broker.start()
    assert "partitions, clean shutdown in" in broker.log(), "no recovery needed after SIGINT"



# ------------------------------------------------------------------------------ consumer groups

# Groups form quickly (Kafka's 3 s initial rebalance delay is for large groups starting at
# once) and short sessions are allowed, so that a killed member is noticed within seconds.
GROUP_BROKER_ARGS = (
    "--engine-config", "group.initial.rebalance.delay.ms=300",
    "--engine-config", "group.min.session.timeout.ms=1000",
)
GROUP_CONF = {"session.timeout.ms": 4000, "heartbeat.interval.ms": 300, "enable.auto.commit": False,
              "auto.offset.reset": "earliest"}


def produce_numbered(bootstrap, topic, partitions, start, count):
    """Records `start`..`start+count` round-robin over the partitions; returns their values."""
    p = Producer(conf(bootstrap, **{"enable.idempotence": True, "linger.ms": 5}))
    vals = []
    for i in range(start, start + count):
        vals.append(f"v{i}")
        p.produce(topic, key=str(i).encode(), value=f"v{i}".encode(), partition=i % partitions)
    assert p.flush(60) == 0
    return vals


def end_offsets(bootstrap, topic, partitions):
    c = Consumer(conf(bootstrap, **{"group.id": "watermarks"}))
    try:
        return [c.get_watermark_offsets(TopicPartition(topic, q), timeout=10)[1] for q in range(partitions)]
    finally:
        c.close()


def committed_offsets(bootstrap, group, topic, partitions):
    """The group's committed offsets (stable ones: librdkafka asks with require_stable), or None
    while the broker cannot tell (restarting, a transactional commit pending)."""
    c = Consumer(conf(bootstrap, **{"group.id": group}))
    try:
        return [tp.offset for tp in c.committed([TopicPartition(topic, q) for q in range(partitions)], 10)]
    except KafkaException:
        return None
    finally:
        c.close()


# Commit errors that mean "the group is rebalancing": the records stay with this member or move
# with the offsets committed when they were revoked, so a later commit covers them.
REBALANCING = {KafkaError.ILLEGAL_GENERATION, KafkaError.REBALANCE_IN_PROGRESS, KafkaError.UNKNOWN_MEMBER_ID}


class Member:
    """A subscribed consumer recording its rebalance callbacks and what it consumed. It commits
    synchronously after every batch and, as Kafka applications do, when partitions are revoked,
    so nothing it consumed is uncommitted when a partition moves. The callbacks get the whole
    assignment with the eager protocols (range, roundrobin) and only the partitions that move
    with cooperative-sticky, whose members keep consuming while the group rebalances."""

    def __init__(self, bootstrap, group, topic, name, strategy="range"):
        self.name = name
        self.events = []
        self.owned = set()
        self.records = []
        self.commit_errors = []
        self.closed = False
        self.c = Consumer(conf(bootstrap, **{"group.id": group, "partition.assignment.strategy": strategy,
                                             **GROUP_CONF}))
        self.c.subscribe([topic], on_assign=self._on_assign, on_revoke=self._on_revoke)

    def _on_assign(self, c, partitions):
        self.events.append(("assign", sorted(tp.partition for tp in partitions)))
        self.owned |= {tp.partition for tp in partitions}

    def _on_revoke(self, c, partitions):
        self.events.append(("revoke", sorted(tp.partition for tp in partitions)))
        self.owned -= {tp.partition for tp in partitions}
        consumed = [tp for tp in c.position(partitions) if tp.offset >= 0]
        if consumed:
            self.commit(offsets=consumed)

    def commit(self, **what):
        try:
            self.c.commit(asynchronous=False, **what)
        except KafkaException as e:
            if e.args[0].code() == KafkaError._NO_OFFSET:
                return  # nothing new since the last commit
            if e.args[0].code() not in REBALANCING:
                raise
            self.commit_errors.append(e.args[0].name())

    def close(self):
        """Leaves the group (LeaveGroup); idempotent."""
        if not self.closed:
            self.closed = True
            self.c.close()

    def assigned(self):
        """The partitions it owns now."""
        return sorted(self.owned)

    def poll(self):
        msgs = [m for m in self.c.consume(num_messages=200, timeout=0.2) if not m.error()]
        if msgs:
            for m in msgs:
                self.records.append((m.partition(), m.offset(), m.value().decode()))
            self.commit()
        return len(msgs)


def poll_until(members, done, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}: " + "; ".join(
            f"{m.name} {m.events} ({len(m.records)} records)" for m in members)
        for m in members:
            m.poll()


def test_subscribed_consumer_gets_every_record_and_commits(make_broker, cleanup):
    broker = make_broker(*GROUP_BROKER_ARGS)
    create_topics(broker.bootstrap, {"subs": 3})
    sent = produce_numbered(broker.bootstrap, "subs", 3, 0, 600)
    m = Member(broker.bootstrap, "solo", "subs", "solo")
    cleanup(m.close)
    poll_until([m], lambda: len(m.records) >= len(sent), "every record")
    assert m.events[0] == ("assign", [0, 1, 2])
    assert sorted(v for (_, _, v) in m.records) == sorted(sent)
    assert len(m.records) == len(sent), "each record once"
    assert committed_offsets(broker.bootstrap, "solo", "subs", 3) == end_offsets(broker.bootstrap, "subs", 3)
    # The coordinator's view through the admin API: one stable member holding all partitions.
    admin = AdminClient(conf(broker.bootstrap))
    [desc] = [f.result(30) for f in admin.describe_consumer_groups(["solo"]).values()]
    assert desc.state.name == "STABLE"
    assert desc.partition_assignor == "range"
    [member] = desc.members
    assert sorted(tp.partition for tp in member.assignment.topic_partitions) == [0, 1, 2]
    listed = admin.list_consumer_groups().result(30)
    assert "solo" in {g.group_id for g in listed.valid}
    m.close()  # LeaveGroup: the group is empty at once
    [desc] = [f.result(30) for f in admin.describe_consumer_groups(["solo"]).values()]
    assert desc.state.name == "EMPTY"


@pytest.mark.parametrize("strategy", ["range", "cooperative-sticky"])
def test_two_consumers_split_partitions_and_rebalance_when_one_leaves(make_broker, cleanup, strategy):
    broker = make_broker(*GROUP_BROKER_ARGS)
    parts = 4
    create_topics(broker.bootstrap, {"pair": parts})
    sent = produce_numbered(broker.bootstrap, "pair", parts, 0, 1000)
    a = Member(broker.bootstrap, "pair-group", "pair", "a", strategy)
    cleanup(a.close)
    poll_until([a], lambda: a.assigned() == [0, 1, 2, 3], "a alone owns every partition")
    b = Member(broker.bootstrap, "pair-group", "pair", "b", strategy)
    cleanup(b.close)
    poll_until([a, b], lambda: a.assigned() and b.assigned() and len(a.assigned() + b.assigned()) == parts,
               "the partitions split between a and b")
    assert sorted(a.assigned() + b.assigned()) == [0, 1, 2, 3]
    revoked = [p for (kind, ps) in a.events if kind == "revoke" for p in ps]
    assert set(b.assigned()) <= set(revoked), "a gave b's partitions back first"
    if strategy == "cooperative-sticky":
        assert set(revoked) == set(b.assigned()), "only the partitions that moved were revoked"
    else:
        assert revoked == [0, 1, 2, 3], "the eager protocol revokes everything"
    split_b = b.assigned()
    poll_until([a, b], lambda: len(a.records) + len(b.records) >= len(sent), "every record of the first round")
    sent += produce_numbered(broker.bootstrap, "pair", parts, 1000, 1000)
    # Each reads only what it owns until b leaves; then a takes b's partitions over from the
    # offsets b committed.
    poll_until([a, b], lambda: {p for (p, _, _) in b.records} >= set(split_b), "b reading its partitions")
    b.close()
    poll_until([a], lambda: a.assigned() == [0, 1, 2, 3], "a owning every partition again")
    poll_until([a], lambda: len(a.records) + len(b.records) >= len(sent), "every record")
    assert {p for (p, _, _) in b.records} <= set(split_b)
    a.commit()
    got = sorted(v for (_, _, v) in a.records + b.records)
    assert got == sorted(sent), "every record consumed exactly once across the two"
    assert committed_offsets(broker.bootstrap, "pair-group", "pair", parts) == end_offsets(broker.bootstrap, "pair", parts)
    a.close()


class Feed:
    """Input arriving all along: an idempotent producer writing numbered records round-robin
    over the partitions at a steady rate from a thread, until stopped."""

    def __init__(self, bootstrap, topic, partitions, per_second=300):
        self.p = Producer(conf(bootstrap, **{"enable.idempotence": True, "linger.ms": 5,
                                             "metadata.recovery.strategy": "none"}))
        self.topic, self.partitions, self.per_second = topic, partitions, per_second
        self.sent = 0
        self.error = None
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while not self.stopping.is_set():
                for _ in range(self.per_second // 20):
                    i = self.sent
                    self.p.produce(self.topic, key=str(i).encode(), value=f"v{i}".encode(),
                                   partition=i % self.partitions)
                    self.sent += 1
                self.p.poll(0)
                self.stopping.wait(0.05)
        except Exception as e:  # noqa: BLE001 - reported by the test thread
            self.error = e

    def halt(self):
        """Stops producing, whatever state the test left the broker in."""
        self.stopping.set()
        self.thread.join(30)
        self.p.flush(5)

    def stop(self):
        """Stops producing; returns how many records were written (all acknowledged)."""
        self.stopping.set()
        self.thread.join(30)
        assert self.p.flush(60) == 0, "every input record acknowledged"
        assert self.error is None, self.error
        return self.sent


class CopierProcess:
    """One eos_copier.py instance (a group member with its own transactional id), restartable.
    It runs until stopped; when it gives up (exit 3), `check` restarts it, as a supervisor
    would."""

    def __init__(self, broker, tmp_path, name):
        self.broker = broker
        self.name = name
        self.log_path = tmp_path / f"copier-{name}.log"
        self.pause_file = tmp_path / f"pause-{name}"
        self.proc = None
        self.restarts = 0
        self.log_start = 0

    def start(self):
        self.log_start = len(self.log())
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(COPIER), "--bootstrap", self.broker.bootstrap, "--input", "src",
                 "--output", "dst", "--group", "copier", "--transactional-id", f"copier-{self.name}",
                 "--batch", "50", "--txn-sleep-ms", "40", "--session-timeout-ms", "4000",
                 "--pause-file", str(self.pause_file)],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL,
            )

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def current_log(self):
        """What the current process logged."""
        return self.log()[self.log_start:]

    def assignments(self):
        """The current process's assignments, in order."""
        return [json.loads(line.split(" assigned ", 1)[1]) for line in self.current_log().splitlines()
                if " assigned [" in line]

    def transactions(self):
        return self.log().count("in transaction")

    def check(self):
        code = self.proc.poll()
        if code is not None:
            self.restarts += 1
            assert self.restarts <= 5, f"copier {self.name} keeps failing:\n{self.log()[-4000:]}"
            self.start()

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def halt(self):
        """Kills the process if a failed test left it running (stopped ones included)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.kill()

    def stop(self):
        self.proc.terminate()
        assert self.proc.wait(60) == 0, self.log()[-4000:]


def test_exactly_once_copier_group_survives_rebalances_zombies_and_crashes(make_broker, cleanup, tmp_path):
    """The exactly-once copier (eos_copier.py: subscribe with a group, offsets sent with the
    consumer's group metadata) as two instances of one group, through everything that moves
    partitions or interrupts a transaction: a second instance joining, one paused inside a
    transaction until the group expels it (a zombie whose commit must be fenced), one killed
    with SIGKILL and restarted, and the broker killed with SIGKILL inside a transaction and
    restarted. The oracle finds the output equal to the input, exactly once and in order."""
    broker = make_broker(*GROUP_BROKER_ARGS)
    parts = 4
    create_topics(broker.bootstrap, {"src": parts, "dst": parts})
    feed = Feed(broker.bootstrap, "src", parts)
    cleanup(feed.halt)
    a, b = copiers = [CopierProcess(broker, tmp_path, name) for name in ("a", "b")]
    for c in copiers:
        cleanup(c.halt)
    logs = lambda: "\n".join(f"--- {c.name}\n{c.log()[-3000:]}" for c in copiers)  # noqa: E731

    def wait_for(cond, what, timeout=60, supervise=True):
        deadline = time.monotonic() + timeout
        while not cond():
            assert feed.error is None, feed.error
            if supervise:
                for c in copiers:
                    if c.proc is not None:
                        c.check()
            assert time.monotonic() < deadline, f"timed out waiting for {what}\n{logs()}"
            time.sleep(0.02)

    # a copies alone, then b joins and the partitions are split between them.
    a.start()
    wait_for(lambda: a.transactions() >= 3, "a's first transactions")
    b.start()
    wait_for(lambda: b.assignments() and b.assignments()[-1], "b's share of the partitions")
    assert a.assignments()[0] == [0, 1, 2, 3] and " revoked [0, 1, 2, 3]" in a.log(), "partitions moved from a"
    b_txns = b.transactions()
    wait_for(lambda: b.transactions() >= b_txns + 2, "b copying")

    # A zombie: a stops inside a transaction (its records produced, its offsets not yet sent)
    # and stays stopped until its session expires and b owns every partition. b resumes from
    # the committed offsets and copies what a's open transaction holds; when a wakes up, its
    # offset commit names a membership that is over and is refused, so its transaction aborts.
    a.pause_file.touch()
    wait_for(lambda: "pausing in transaction" in a.current_log(), "a pausing", supervise=False)
    wait_for(lambda: b.assignments()[-1] == [0, 1, 2, 3], "b taking every partition over", supervise=False)
    b_txns = b.transactions()
    wait_for(lambda: b.transactions() >= b_txns + 2, "b copying a's partitions", supervise=False)
    a.proc.send_signal(signal.SIGCONT)
    wait_for(lambda: "resumed" in a.current_log() and ("aborting after" in a.current_log()
                                                       or a.proc.poll() is not None), "a's fenced commit")
    fenced = a.current_log()
    assert "UNKNOWN_MEMBER_ID" in fenced or "ILLEGAL_GENERATION" in fenced, logs()
    wait_for(lambda: a.assignments() and a.assignments()[-1], "a rejoining")

    # SIGKILL a, most likely inside a transaction (each one lasts --txn-sleep-ms), and restart
    # it: the restart fences and aborts that transaction; a's partitions move when its old
    # member expires.
    a_txns = a.transactions()
    wait_for(lambda: a.transactions() > a_txns, "a in a transaction")
    a.kill()
    a.start()
    wait_for(lambda: a.assignments() and a.assignments()[-1], "the restarted a's share of the partitions")

    # SIGKILL the broker right after a copier announces an open transaction (the feed's
    # idempotent producer rides the restart out too).
    announced = a.transactions() + b.transactions()
    wait_for(lambda: a.transactions() + b.transactions() > announced, "a transaction")
    broker.kill()
    time.sleep(0.3)
    broker.start()
    assert broker.log().count("partitions, recovered in") == 2, "the restart after SIGKILL recovered"

    b_txns = b.transactions()
    wait_for(lambda: b.transactions() >= b_txns + 2, "copying after the broker's restart")
    n = feed.stop()
    src_ends = end_offsets(broker.bootstrap, "src", parts)
    assert sum(src_ends) == n
    # Not a member: it only reads the group's committed offsets (stable ones: librdkafka asks
    # with require_stable and retries while a transactional commit is pending).
    checker = Consumer(conf(broker.bootstrap, **{"group.id": "copier"}))
    cleanup(checker.close)

    def finished():
        try:
            got = checker.committed([TopicPartition("src", q) for q in range(parts)], 10)
        except KafkaException:
            return False
        return [tp.offset for tp in got] == src_ends

    wait_for(finished, "the group's committed offsets at the end of every input partition", timeout=120)
    for c in copiers:
        c.stop()

    # The oracle: output = input, exactly once, in order per partition.
    src = read_all(broker.bootstrap, "src", parts, "read_committed")
    dst = read_all(broker.bootstrap, "dst", parts, "read_committed")
    for part in range(parts):
        assert [(k, v) for (_, k, v) in dst[part]] == [(k, v) for (_, k, v) in src[part]], f"partition {part}"
    assert sum(len(v) for v in dst.values()) == n
    # The zombie's and the killed copier's attempts are in the log, invisible to read_committed.
    dirty = read_all(broker.bootstrap, "dst", parts, "read_uncommitted")
    assert sum(len(v) for v in dirty.values()) > n
