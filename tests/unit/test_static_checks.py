"""The Python package is ruff- and mypy-clean (strict), and the native module's stub matches it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_clean() -> None:
    r = _run("ruff", "check", "src/fasterapi")
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_strict_clean() -> None:
    r = _run("mypy")
    assert r.returncode == 0, r.stdout + r.stderr


def test_core_stub_matches_the_extension() -> None:
    import fasterapi

    env = dict(os.environ, PYTHONPATH=str(Path(fasterapi.__file__).parents[1]))
    r = subprocess.run([sys.executable, "-m", "mypy.stubtest", "fasterapi._core"], cwd=ROOT, capture_output=True,
                       text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
