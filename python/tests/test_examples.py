"""The examples in examples/python run as documented."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES, REPO, child_env


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


def _python_programs(readme: Path) -> list[str]:
    """The Python blocks that are whole programs (they start with `import eoslog`); the others
    are fragments that continue one."""
    text = readme.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    return [b for b in blocks if b.startswith("import eoslog")]


@pytest.mark.parametrize("readme", ["README.md", "python/README.md"])
def test_readme_python_quick_starts_run(readme: str, tmp_path: Path) -> None:
    """Every Python program of the READMEs runs as shown, in a fresh directory."""
    blocks = _python_programs(REPO / readme)
    assert blocks, f"{readme} has no Python program"
    for block in blocks:
        done = subprocess.run(
            [sys.executable, "-c", block],
            capture_output=True,
            cwd=tmp_path,
            env=child_env(),
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"{readme} block failed:\n{block}\n{done.stderr.decode()}"
