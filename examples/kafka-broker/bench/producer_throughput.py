"""Producer throughput: librdkafka (confluent-kafka) against eoslog-broker, and the same records
appended in-process through Engine::produce, in one run on one machine.

    make bench-broker
    # or, after `cargo build --release -p eoslog-broker --bin eoslog-broker --example engine_produce_bench`:
    .venv/bin/python examples/kafka-broker/bench/producer_throughput.py

Every case writes to a fresh single-partition topic with durability `none` (the engine's
default). The librdkafka side includes the Python client's per-record cost; its average batch
size is read from librdkafka's statistics and reused for the in-process side, so both append
batches of the same shape.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

REPO = Path(__file__).resolve().parents[3]
RELEASE = REPO / "target" / "release"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def librdkafka_run(bootstrap, topic, records, size, transactional, txn_records):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
    stats = {}

    def on_stats(js):
        t = json.loads(js).get("topics", {}).get(topic)
        if t and t["batchcnt"]["cnt"]:
            stats["batchcnt"] = t["batchcnt"]["avg"]

    conf = {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "linger.ms": 5,
        "queue.buffering.max.messages": 1_000_000,
        "queue.buffering.max.kbytes": 1_048_576,
        "statistics.interval.ms": 500,
        "stats_cb": on_stats,
    }
    if transactional:
        conf["transactional.id"] = f"bench-{topic}"
    p = Producer(conf)
    if transactional:
        p.init_transactions(30)
    value = b"x" * size
    started = time.perf_counter()
    in_txn = 0
    for i in range(records):
        if transactional and in_txn == 0:
            p.begin_transaction()
        while True:
            try:
                p.produce(topic, value, partition=0)
                break
            except BufferError:
                p.poll(0.001)
        in_txn += 1
        if transactional and in_txn == txn_records:
            p.commit_transaction(60)
            in_txn = 0
    if transactional and in_txn:
        p.commit_transaction(60)
    assert p.flush(120) == 0
    secs = time.perf_counter() - started
    p.poll(0.6)  # one more statistics callback
    return {
        "side": "librdkafka->broker",
        "seconds": secs,
        "records_per_sec": records / secs,
        "mb_per_sec": records * size / secs / 1e6,
        "avg_batch": stats.get("batchcnt", 0),
    }


def in_process_run(records, size, batch, mode, txn_records):
    with tempfile.TemporaryDirectory() as d:
        out = subprocess.run(
            [str(RELEASE / "examples" / "engine_produce_bench"), d, str(records), str(size), str(batch), mode,
             str(txn_records)],
            check=True, capture_output=True, text=True,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records-100", type=int, default=300_000)
    ap.add_argument("--records-1k", type=int, default=100_000)
    ap.add_argument("--txn-records", type=int, default=10_000)
    args = ap.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        broker = subprocess.Popen(
            [str(RELEASE / "eoslog-broker"), "--data", data, "--listen", f"127.0.0.1:{port}", "--log-level", "warn"],
            stdin=subprocess.DEVNULL,
        )
        try:
            bootstrap = f"127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "the broker did not start"
                    time.sleep(0.05)
            rows = []
            for size, records in ((100, args.records_100), (1024, args.records_1k)):
                for mode in ("idempotent", "transactional"):
                    topic = f"bench-{mode}-{size}"
                    lib = librdkafka_run(bootstrap, topic, records, size, mode == "transactional", args.txn_records)
                    batch = max(1, round(lib["avg_batch"]) or 1000)
                    inproc = in_process_run(records, size, batch, mode, args.txn_records)
                    rows.append((size, mode, records, batch, lib, inproc))
        finally:
            broker.send_signal(signal.SIGTERM)
            broker.wait(60)
    print(f"{'record':>7} {'mode':<14} {'records':>8} {'batch':>6} {'librdkafka->broker':>20} "
          f"{'in-process produce':>20} {'ratio':>6}")
    for size, mode, records, batch, lib, inproc in rows:
        print(f"{size:>6}B {mode:<14} {records:>8} {batch:>6} "
              f"{lib['records_per_sec']:>12,.0f} rec/s {inproc['records_per_sec']:>12,.0f} rec/s "
              f"{lib['records_per_sec'] / inproc['records_per_sec']:>6.2f}")
    print(json.dumps([{"size": s, "mode": m, "records": r, "batch": b, "librdkafka": l, "in_process": i}
                      for s, m, r, b, l, i in rows]))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
