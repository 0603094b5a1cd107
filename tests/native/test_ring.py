"""server/ring.hpp and server/pool.hpp under stress: every item arrives exactly once.

tests/native/ring_stress.cpp pushes owned values through the SPSC ring (1 -> 1, FIFO), the MPSC ring
(N -> 1, FIFO per producer, tiny and large capacities so both the full and the empty paths are hot)
and tasks through the worker pool (bursts, spills when the rings are full, start/stop churn), and
checks counts and order. It runs as a plain optimized build and under -fsanitize=thread.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def build(target: str, build_dir: Path, *extra: str) -> Path:
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.skip("cmake not found")
    for cmd in (
        [cmake, "-S", str(REPO), "-B", str(build_dir), "-DFASTERAPI_NATIVE_TESTS=ON", *extra],
        [cmake, "--build", str(build_dir), "--target", target, "-j", "2"],
    ):
        proc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            pytest.fail(f"{' '.join(cmd)} failed:\n{proc.stdout[-6000:]}", pytrace=False)
    return build_dir / target


def run(exe: Path, *args: str, timeout: float = 240) -> str:
    proc = subprocess.run([str(exe), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert "all ok" in proc.stdout
    assert "WARNING: ThreadSanitizer" not in proc.stdout
    return proc.stdout


def test_rings_and_pool_deliver_every_item_once() -> None:
    exe = build("ring_stress", REPO / "build" / "native-tests-rel", "-DCMAKE_BUILD_TYPE=Release",
                "-DFASTERAPI_SANITIZE=OFF", "-DFASTERAPI_TSAN=OFF")
    out = run(exe, "1000000", "4")
    assert "mpsc producers=4 cap=1024 items=4000000 ok" in out


def test_rings_and_pool_under_thread_sanitizer() -> None:
    exe = build("ring_stress", REPO / "build" / "native-tests-tsan", "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                "-DFASTERAPI_SANITIZE=OFF", "-DFASTERAPI_TSAN=ON")
    run(exe, "100000", "4")
