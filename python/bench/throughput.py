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
machine is shared, so the best is the least disturbed). A report, not a test: nothing here
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


def python_send_many(engine: eoslog.Engine, topic: str, values: list[bytes]) -> float:
    with engine.producer() as p:
        started = time.perf_counter()
        p.send_many(topic, values)
        return time.perf_counter() - started


def python_send(engine: eoslog.Engine, topic: str, values: list[bytes]) -> float:
    with engine.producer() as p:
        started = time.perf_counter()
        for v in values:
            p.send(topic, v)
        return time.perf_counter() - started


def python_consume(engine: eoslog.Engine, topic: str, count: int) -> float:
    with engine.consumer(auto_offset_reset="earliest", isolation_level="read_uncommitted") as c:
        c.assign([(topic, 0)])
        started = time.perf_counter()
        read = 0
        while read < count:
            got = c.poll(max_records=10_000, timeout_ms=1000)
            if not got:
                break
            read += len(got)
        elapsed = time.perf_counter() - started
    assert read == count, (read, count)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description="eoslog Python vs Rust throughput")
    parser.add_argument("--records", type=int, default=1_000_000, help="records for send_many/consume")
    parser.add_argument("--send-records", type=int, default=100_000, help="records for send")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n, n_send = args.records, args.send_records
    values = [os.urandom(SIZE) for _ in range(n)]
    best: dict[tuple[str, str], float] = {}

    def record(key: tuple[str, str], seconds: float) -> None:
        best[key] = min(best.get(key, float("inf")), seconds)

    with tempfile.TemporaryDirectory(prefix="eoslog-bench-") as d, eoslog.Engine.open(d) as engine:
        print(f"eoslog {eoslog.__version__}, io={engine.io_backend}, data in {d}")
        print(f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs")
        run = 0

        def fresh() -> str:
            nonlocal run
            run += 1
            engine.create_topic(f"bench-{run}")
            return f"bench-{run}"

        for _ in range(args.rounds):
            steps: list[tuple[tuple[str, str], Callable[[], float]]] = [
                (("send_many", "python"), lambda: python_send_many(engine, fresh(), values)),
                (("send_many", "rust"), lambda: _rust_baseline(engine, "send_many", fresh(), n, SIZE)),
                (("send", "python"), lambda: python_send(engine, fresh(), values[:n_send])),
                (("send", "rust"), lambda: _rust_baseline(engine, "send", fresh(), n_send, SIZE)),
            ]
            for key, step in steps:
                record(key, step())
            # Both consumers read the same topic, written once per round.
            topic = fresh()
            with engine.producer() as p:
                p.send_many(topic, values)
            record(("consume", "python"), python_consume(engine, topic, n))
            record(("consume", "rust"), _rust_baseline(engine, "consume", topic, n, SIZE))
            for t in list(engine.topics()):
                engine.delete_topic(t)

    print()
    print(f"{'workload':<10} {'records':>9} {'Python rec/s':>14} {'Rust rec/s':>14} {'Python/Rust':>12}")
    for workload, count in (("send_many", n), ("send", n_send), ("consume", n)):
        py = count / best[(workload, "python")]
        rs = count / best[(workload, "rust")]
        print(f"{workload:<10} {count:>9} {py:>14,.0f} {rs:>14,.0f} {py / rs:>12.2f}")


if __name__ == "__main__":
    main()
