"""Throughput of the Python binding against the Rust client API, same workload, same run.

    make bench-python            # or: python python/bench/throughput.py [--records N] [--rounds R]

Workloads (100-byte values, an idempotent producer, durability none, one topic per run):

- ``send_many``: N records through ``Producer.send_many`` (batched in Rust) — against the Rust
  ``Producer::send`` of the same records followed by one ``flush``;
- ``send``: records one by one through ``Producer.send`` (each waits for its append) — against
  ``Producer::send_sync``;
- ``consume``: N records read back from the start through ``Consumer.poll`` — against the
  Rust ``Consumer::poll``.

Python and Rust runs alternate within each round; the best round of each is reported (the
machine is shared, so the best is the least disturbed). Rates are given per wall-clock second
and per CPU second of the process (all its threads): on a machine shared with other work the
second is the steadier measure of the cost of a record. A report, not a test: nothing here
asserts a number.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections.abc import Callable

import eoslog
from eoslog._eoslog import _rust_baseline

SIZE = 100


def python_send_many(producer: eoslog.Producer, topic: str, values: list[bytes]) -> None:
    producer.send_many(topic, values)


def python_send(producer: eoslog.Producer, topic: str, values: list[bytes]) -> None:
    for v in values:
        producer.send(topic, v)


def python_consume(consumer: eoslog.Consumer, topic: str, count: int) -> None:
    consumer.assign([(topic, 0)])
    read = 0
    while read < count:
        got = consumer.poll(max_records=10_000, timeout_ms=1000)
        if not got:
            break
        read += len(got)
    assert read == count, (read, count)


def main() -> None:
    parser = argparse.ArgumentParser(description="eoslog Python vs Rust throughput")
    parser.add_argument("--records", type=int, default=1_000_000, help="records for send_many/consume")
    parser.add_argument("--send-records", type=int, default=100_000, help="records for send")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n, n_send = args.records, args.send_records
    values = [os.urandom(SIZE) for _ in range(n)]
    best: dict[tuple[str, str, str], float] = {}

    def record(key: tuple[str, str], step: Callable[[], object]) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        step()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        for clock, seconds in (("wall", wall), ("cpu", cpu)):
            k = (*key, clock)
            best[k] = min(best.get(k, float("inf")), seconds)

    with tempfile.TemporaryDirectory(prefix="eoslog-bench-") as d, eoslog.Engine.open(d) as engine:
        print(f"eoslog {eoslog.__version__}, io={engine.io_backend}, data in {d}")
        print(f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs")
        run = 0

        def fresh() -> str:
            nonlocal run
            run += 1
            engine.create_topic(f"bench-{run}")
            return f"bench-{run}"

        # The Rust baseline creates its producer and consumer inside the timed call; so do
        # these (creating one takes well under a millisecond).
        for _ in range(args.rounds):
            a, b, c, d_ = fresh(), fresh(), fresh(), fresh()
            with engine.producer() as p:
                record(("send_many", "python"), lambda: python_send_many(p, a, values))
            record(("send_many", "rust"), lambda: _rust_baseline(engine, "send_many", b, n, SIZE))
            with engine.producer() as p:
                record(("send", "python"), lambda: python_send(p, c, values[:n_send]))
            record(("send", "rust"), lambda: _rust_baseline(engine, "send", d_, n_send, SIZE))
            # Both consumers read the same topic, written once per round.
            topic = fresh()
            with engine.producer() as p:
                p.send_many(topic, values)
            with engine.consumer(
                auto_offset_reset="earliest", isolation_level="read_uncommitted"
            ) as consumer:
                record(("consume", "python"), lambda: python_consume(consumer, topic, n))
            record(("consume", "rust"), lambda: _rust_baseline(engine, "consume", topic, n, SIZE))
            for t in list(engine.topics()):
                engine.delete_topic(t)

    print()
    header = f"{'workload':<10} {'records':>9} {'clock':>5} {'Python rec/s':>14} {'Rust rec/s':>14}"
    print(f"{header} {'Python/Rust':>12}")
    for workload, count in (("send_many", n), ("send", n_send), ("consume", n)):
        for clock in ("wall", "cpu"):
            py = count / best[(workload, "python", clock)]
            rs = count / best[(workload, "rust", clock)]
            print(f"{workload:<10} {count:>9} {clock:>5} {py:>14,.0f} {rs:>14,.0f} {py / rs:>12.2f}")


if __name__ == "__main__":
    main()
