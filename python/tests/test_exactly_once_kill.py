"""Exactly-once under SIGKILL: the copier and the SQLite sink (``examples/python``) run as child
processes that are killed at random points, restarted, and finally run to completion; an
oracle outside them then checks that every input record arrived exactly once, in order, and
that nothing of an aborted transaction did."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import eoslog
from conftest import EXAMPLES, child_env, read_all

#: Kills per test (more with EOSLOG_PY_KILLS=...).
KILLS = int(os.environ.get("EOSLOG_PY_KILLS", "6"))
PARTITIONS = 3
PER_PARTITION = 400


def make_input(data_dir: Path) -> dict[int, list[bytes]]:
    """Writes the input topic: committed records interleaved with aborted transactions.
    Returns the committed values per partition, in order."""
    expected: dict[int, list[bytes]] = {p: [] for p in range(PARTITIONS)}
    with eoslog.Engine.open(data_dir) as engine:
        engine.create_topic("input", partitions=PARTITIONS)
        with engine.producer(transactional_id="writer") as p:
            p.init_transactions()
            for chunk in range(4):
                with p.transaction():
                    for part in range(PARTITIONS):
                        values = [
                            f"p{part}-c{chunk}-{i}".encode() for i in range(PER_PARTITION // 4)
                        ]
                        p.send_many("input", values, partition=part)
                        expected[part].extend(values)
                try:
                    with p.transaction():
                        p.send_many("input", [b"aborted"] * 20, partition=chunk % PARTITIONS)
                        raise RuntimeError("abort")
                except RuntimeError:
                    pass
    return expected


def run_killed(args: list[str], rng: random.Random, kills: int) -> int:
    """Starts the child ``kills`` times, each killed with SIGKILL after a random number of its
    progress events (or a random delay); returns how many kills landed while it ran."""
    landed = 0
    for _ in range(kills):
        proc = subprocess.Popen(
            [sys.executable, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env(),
        )
        assert proc.stdout is not None
        target = rng.randint(1, 12)
        timer = threading.Timer(rng.uniform(0.3, 3.0), proc.kill)
        timer.start()
        seen = 0
        for line in proc.stdout:
            if line.startswith(b"EVT "):
                seen += 1
                if seen >= target:
                    proc.send_signal(signal.SIGKILL)
                    break
        timer.cancel()
        proc.wait(timeout=60)
        if proc.returncode == -signal.SIGKILL:
            landed += 1
        else:
            assert proc.returncode == 0, proc.stderr.read().decode() if proc.stderr else ""
        proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
    return landed


def run_to_end(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, *args], capture_output=True, env=child_env(), timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr.decode()


def test_copier_survives_sigkill_exactly_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    expected = make_input(data_dir)
    rng = random.Random(7)
    args = [
        str(EXAMPLES / "eos_copier.py"),
        str(data_dir),
        "input",
        "output",
        "copier",
        "--transaction-size",
        "60",
        "--abort-probability",
        "0.15",
    ]
    landed = run_killed([*args, "--seed", "1"], rng, KILLS)
    run_to_end([*args, "--seed", "2"])
    assert landed >= 1, "no kill landed while the copier was running"

    with eoslog.Engine.open(data_dir) as engine:
        out = read_all(engine, "output")
        got: dict[int, list[bytes]] = {p: [] for p in range(PARTITIONS)}
        for r in out:
            assert r.value is not None
            got[r.partition].append(r.value)
        for p in range(PARTITIONS):
            want = [v.upper() + b"|copied" for v in expected[p]]
            assert got[p] == want, f"partition {p}: lost, duplicated or reordered records"
        assert all(b"ABORTED" not in v for vs in got.values() for v in vs)
        # The group's committed offsets are the input's end: the copy is complete.
        with engine.consumer("copier") as c:
            tps = [eoslog.TopicPartition("input", p) for p in range(PARTITIONS)]
            committed = c.committed(tps)
            ends = c.end_offsets(tps)
            for tp in tps:
                o = committed[tp]
                assert o is not None and o.offset == ends[tp]


def test_sqlite_sink_survives_sigkill_exactly_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    db = tmp_path / "sink.db"
    expected = make_input(data_dir)
    rng = random.Random(11)
    args = [str(EXAMPLES / "sqlite_sink.py"), str(data_dir), "input", str(db), "--records-per-txn", "37"]
    landed = run_killed(args, rng, max(2, KILLS // 2))
    run_to_end(args)
    assert landed >= 1, "no kill landed while the sink was running"

    rows = sqlite3.connect(db).execute(
        "SELECT partition, offset, value FROM records ORDER BY partition, offset"
    ).fetchall()
    got: dict[int, list[bytes]] = {p: [] for p in range(PARTITIONS)}
    for partition, _offset, value in rows:
        got[partition].append(value)
    assert got == expected
