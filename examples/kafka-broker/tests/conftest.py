"""Fixtures for the real-client tests: an eoslog-broker process per test.

The broker binary comes from EOSLOG_BROKER_BIN (set by `make test-broker`) or the workspace's
debug build.
"""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def broker_binary() -> Path:
    path = Path(os.environ.get("EOSLOG_BROKER_BIN", REPO / "target" / "debug" / "eoslog-broker"))
    if not path.exists():
        pytest.fail(f"{path} does not exist: build it with `cargo build -p eoslog-broker` or run `make test-broker`")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """One eoslog-broker process on a fixed port and data directory, restartable."""

    def __init__(self, data_dir: Path, log_path: Path, extra_args=()):
        self.data_dir = data_dir
        self.log_path = log_path
        self.port = free_port()
        self.extra_args = list(extra_args)
        self.proc = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, timeout=30.0):
        marker = f"listening on 127.0.0.1:{self.port}"
        seen = self.log().count(marker)
        args = [
            str(broker_binary()),
            "--data", str(self.data_dir),
            "--listen", self.bootstrap,
            "--log-level", os.environ.get("EOSLOG_BROKER_LOG_LEVEL", "info"),
            *self.extra_args,
        ]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while self.log().count(marker) <= seen:
            if self.proc.poll() is not None:
                raise RuntimeError(f"broker exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"broker did not start:\n{self.log()[-4000:]}")
            time.sleep(0.02)

    def kill(self):
        """SIGKILL: no clean shutdown, the next start recovers."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self):
        """SIGTERM: the broker must close the engine cleanly and exit 0."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(60)
        assert code == 0, f"broker exited with {code}:\n{self.log()[-4000:]}"
        assert "engine closed cleanly" in self.log()


@pytest.fixture
def make_broker(tmp_path):
    """Starts brokers on demand; every one still running at the end is stopped with SIGTERM,
    which also checks the clean shutdown."""
    started = []

    def make(*extra_args, name="broker"):
        b = Broker(tmp_path / f"{name}-data", tmp_path / f"{name}.log", extra_args)
        b.start()
        started.append(b)
        return b

    yield make
    for b in started:
        if b.proc is not None and b.proc.poll() is None:
            b.stop()


@pytest.fixture
def broker(make_broker):
    return make_broker("--auto-create-partitions", "3")


@pytest.fixture
def cleanup(make_broker):
    """Registers callbacks that run after the test, before its brokers are stopped: clients and
    helper processes must not outlive the broker (a librdkafka consumer destroyed while its
    broker is gone can block the interpreter's exit)."""
    todo = []
    yield todo.append
    for f in reversed(todo):
        try:
            f()
        except Exception as e:  # noqa: BLE001 - cleanup after a failure must go on
            print(f"cleanup: {e}")
