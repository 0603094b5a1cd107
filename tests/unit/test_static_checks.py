"""The Python package is ruff-clean and ruff-formatted, mypy-clean (strict), the native sources are
clang-formatted (.clang-format), and the native module's stub matches it."""

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


def test_ruff_format_clean() -> None:
    r = _run("ruff", "format", "--check", "src/fasterapi")
    assert r.returncode == 0, r.stdout + r.stderr


def test_native_sources_clang_formatted() -> None:
    # clang-format comes from Debian (tests/install-and-run.sh installs it).
    sources = sorted(str(p.relative_to(ROOT)) for d in ("src/native", "tests/native") for p in (ROOT / d).rglob("*")
                     if p.suffix in (".cpp", ".hpp"))
    assert len(sources) > 20
    r = subprocess.run(["clang-format", "--dry-run", "--Werror", *sources], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-6000:]


def test_mypy_strict_clean() -> None:
    r = _run("mypy")
    assert r.returncode == 0, r.stdout + r.stderr


def test_core_stub_matches_the_extension() -> None:
    import fasterapi

    env = dict(os.environ, PYTHONPATH=str(Path(fasterapi.__file__).parents[1]))
    r = subprocess.run([sys.executable, "-m", "mypy.stubtest", "fasterapi._core"], cwd=ROOT, capture_output=True,
                       text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
