"""Exactly-once delivery from eoslog into SQLite (what an exactly-once Kafka Connect sink does).

::

    python sqlite_sink.py <data-dir> <topic> <sqlite-file> [--records-per-txn N]
    python sqlite_sink.py            # a self-contained demo in a temporary directory

It consumes every partition of the topic ``read_committed`` and, for each poll, inserts the
records into the ``records`` table **and** stores the consumer's positions in the ``offsets``
table in one SQLite transaction. The offsets live next to the rows they describe, so after a
crash the sink resumes from the positions SQLite has — never from eoslog's committed offsets,
which could be ahead of or behind what SQLite holds. Either both the rows and the positions of
a poll are in SQLite or neither is: every record lands exactly once. (The primary key on
``(topic, partition, offset)`` would make a duplicate fail loudly.)

Progress goes to stdout as ``EVT ...`` lines (the crash test picks its kill points by them).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
from pathlib import Path

import eoslog

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
    key BLOB, value BLOB, producer_id INTEGER, producer_epoch INTEGER, sequence INTEGER,
    PRIMARY KEY (topic, partition, offset)
);
CREATE TABLE IF NOT EXISTS offsets (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
);
"""


def event(what: str) -> None:
    print(f"EVT {what}", flush=True)


def sink(engine: eoslog.Engine, topic: str, db_path: str, records_per_txn: int = 100) -> int:
    """Delivers ``topic`` into the SQLite file until every partition is stored up to its last
    stable offset; returns the rows inserted by this run."""
    db = sqlite3.connect(db_path, isolation_level=None)  # explicit BEGIN/COMMIT below
    db.executescript(SCHEMA)
    inserted = 0
    partitions = engine.topics()[topic].partitions
    assigned = [eoslog.TopicPartition(topic, p) for p in range(partitions)]
    with engine.consumer(isolation_level="read_committed") as consumer:
        consumer.assign(assigned)
        stored = dict(
            ((t, p), o)
            for t, p, o in db.execute(
                "SELECT topic, partition, next_offset FROM offsets WHERE topic = ?", (topic,)
            )
        )
        for tp in assigned:
            if (tp.topic, tp.partition) in stored:
                consumer.seek(tp, stored[(tp.topic, tp.partition)])
            else:
                consumer.seek_to_beginning(tp)
        event("resumed")
        while True:
            records = consumer.poll(max_records=records_per_txn, timeout_ms=100)
            if not records:
                ends = consumer.end_offsets(assigned)
                if all(consumer.position(tp) >= ends[tp] for tp in assigned):
                    break
                continue
            db.execute("BEGIN")
            db.executemany(
                "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        r.topic,
                        r.partition,
                        r.offset,
                        r.key,
                        r.value,
                        r.producer_id,
                        r.producer_epoch,
                        r.sequence,
                    )
                    for r in records
                ],
            )
            db.executemany(
                "INSERT INTO offsets VALUES (?, ?, ?) "
                "ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset",
                [(tp.topic, tp.partition, consumer.position(tp)) for tp in assigned],
            )
            db.execute("COMMIT")
            inserted += len(records)
            event(f"stored {inserted}")
    db.close()
    return inserted


def demo() -> None:
    with tempfile.TemporaryDirectory() as d:
        with eoslog.Engine.open(Path(d) / "data") as engine:
            engine.create_topic("events", partitions=3)
            p = engine.producer(transactional_id="demo")
            p.init_transactions()
            with p.transaction():
                p.send_many("events", [f"committed {i}".encode() for i in range(300)])
            try:
                with p.transaction():
                    p.send_many("events", [b"never visible"] * 100)
                    raise RuntimeError("abort this one")
            except RuntimeError:
                pass
            p.close()
            n = sink(engine, "events", str(Path(d) / "sink.db"))
        rows = sqlite3.connect(Path(d) / "sink.db").execute("SELECT count(*) FROM records")
        print(f"stored {n} records exactly once; the table holds {rows.fetchone()[0]} rows")


def main(argv: list[str]) -> int:
    if not argv:
        demo()
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir")
    parser.add_argument("topic")
    parser.add_argument("db_path")
    parser.add_argument("--records-per-txn", type=int, default=100)
    args = parser.parse_args(argv)
    with eoslog.Engine.open(args.data_dir) as engine:
        event("start")
        n = sink(engine, args.topic, args.db_path, args.records_per_txn)
    event(f"done {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
