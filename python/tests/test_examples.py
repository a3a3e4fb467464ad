"""The examples in examples/python run as documented."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import EXAMPLES, child_env


@pytest.mark.parametrize("example", ["eos_copier.py", "sqlite_sink.py"])
def test_example_demo_runs(example: str) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / example)],
        capture_output=True,
        env=child_env(),
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert b"exactly once" in done.stdout
