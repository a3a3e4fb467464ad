"""Shared fixtures: a fresh data directory and an open engine per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import eoslog

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "python"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def engine(data_dir: Path) -> Iterator[eoslog.Engine]:
    with eoslog.Engine.open(data_dir) as e:
        yield e


def read_all(
    engine: eoslog.Engine,
    topic: str,
    isolation_level: str = "read_committed",
) -> list[eoslog.ConsumerRecord]:
    """Every record of every partition of ``topic`` visible at the isolation level."""
    partitions = engine.topics()[topic].partitions
    out: list[eoslog.ConsumerRecord] = []
    with engine.consumer(
        isolation_level=isolation_level,  # type: ignore[arg-type]
        auto_offset_reset="earliest",
    ) as c:
        tps = [eoslog.TopicPartition(topic, p) for p in range(partitions)]
        c.assign(tps)
        ends = c.end_offsets(tps)
        while any(c.position(tp) < ends[tp] for tp in tps):
            out.extend(c.poll(max_records=10_000, timeout_ms=1000))
    return out


def child_env() -> dict[str, str]:
    """The environment for Python child processes (the package is importable from here)."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env
