"""eoslog-broker verified with a real Kafka client: librdkafka through confluent-kafka.

Every exactly-once property checked here is the engine's; the broker only translates requests.
"""

import logging
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
from confluent_kafka import (
    TIMESTAMP_LOG_APPEND_TIME,
    Consumer,
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


def committed_progress(bootstrap, topic, partitions):
    """Records of `topic` the copier has written so far (high watermarks, markers included)."""
    c = Consumer(conf(bootstrap, **{"group.id": "progress"}))
    try:
        return sum(c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(partitions))
    except KafkaException:
        return 0
    finally:
        c.close()


def test_exactly_once_copier_survives_copier_and_broker_crashes(make_broker, tmp_path):
    broker = make_broker()
    parts, n = 3, 3000
    create_topics(broker.bootstrap, {"src": parts, "dst": parts})
    p = Producer(conf(broker.bootstrap, **{"enable.idempotence": True, "linger.ms": 5}))
    for i in range(n):
        p.produce("src", key=str(i).encode(), value=f"v{i}".encode(), partition=i % parts)
    assert p.flush(60) == 0
    copier_log = tmp_path / "copier.log"

    def start_copier():
        with open(copier_log, "ab") as log:
            return subprocess.Popen(
                [sys.executable, str(COPIER), "--bootstrap", broker.bootstrap, "--input", "src",
                 "--output", "dst", "--partitions", str(parts), "--group", "copier",
                 "--transactional-id", "copier-1", "--batch", "60", "--txn-sleep-ms", "30"],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL,
            )

    def wait_progress(at_least, proc, timeout=90):
        deadline = time.monotonic() + timeout
        while committed_progress(broker.bootstrap, "dst", parts) < at_least:
            assert proc.poll() is None or proc.returncode == 0, copier_log.read_text()
            assert time.monotonic() < deadline, f"no progress:\n{copier_log.read_text()[-3000:]}"
            time.sleep(0.1)

    copier = start_copier()
    wait_progress(n // 4, copier)
    copier.kill()  # SIGKILL, most likely inside a transaction (it sleeps in each one)
    copier.wait()
    copier = start_copier()
    wait_progress(n // 2 + n // 4, copier)
    # SIGKILL the broker right after the copier announces an open transaction (it then stays
    # in it for --txn-sleep-ms before committing).
    announced = copier_log.read_text().count("in transaction")
    deadline = time.monotonic() + 30
    while copier_log.read_text().count("in transaction") == announced:
        assert time.monotonic() < deadline, copier_log.read_text()[-3000:]
        time.sleep(0.002)
    broker.kill()
    time.sleep(0.3)
    broker.start()
    assert broker.log().count("partitions, recovered in") == 2, "the restart after SIGKILL recovered"
    restarts = 0
    deadline = time.monotonic() + 150
    while True:
        try:
            code = copier.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            copier.kill()
            pytest.fail(f"the copier did not finish:\n{copier_log.read_text()[-4000:]}")
        if code == 0:
            break
        restarts += 1
        assert restarts <= 5, copier_log.read_text()[-4000:]
        copier = start_copier()

    # The oracle: output = input, exactly once, in order per partition.
    src = read_all(broker.bootstrap, "src", parts, "read_committed")
    dst = read_all(broker.bootstrap, "dst", parts, "read_committed")
    for part in range(parts):
        assert [(k, v) for (_, k, v) in dst[part]] == [(k, v) for (_, k, v) in src[part]], f"partition {part}"
    assert sum(len(v) for v in dst.values()) == n
    c = Consumer(conf(broker.bootstrap, **{"group.id": "copier"}))
    got = c.committed([TopicPartition("src", q) for q in range(parts)], 30)
    assert [tp.offset for tp in got] == [len(src[q]) for q in range(parts)]
    c.close()
    # Aborted attempts left their records in the log, invisible to read_committed.
    dirty = read_all(broker.bootstrap, "dst", parts, "read_uncommitted")
    assert sum(len(v) for v in dirty.values()) >= n
