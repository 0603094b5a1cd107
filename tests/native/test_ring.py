"""server/ring.hpp and server/pool.hpp under stress: every item arrives exactly once.

tests/native/ring_stress.cpp pushes owned values through the SPSC ring (1 -> 1, FIFO), the MPSC ring
(N -> 1, FIFO per producer, tiny and large capacities so both the full and the empty paths are hot)
and tasks through the worker pool (bursts, spills when the rings are full, start/stop churn), and
checks counts and order. It is compiled directly (no CMake needed) plainly and under -fsanitize=thread.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DRIVERS = REPO / "build" / "native-drivers"


SOURCES = {
    # header-only: server/ring.hpp, server/pool.hpp
    "ring_stress": ["tests/native/ring_stress.cpp"],
    "loops_driver": ["tests/native/loops_driver.cpp", "src/native/server/loop.cpp", "src/native/http/parser.cpp",
                     "src/native/http/connection.cpp", "src/native/http/response.cpp",
                     "src/native/http/websocket.cpp", "src/native/server/metrics.cpp",
                     # plain loops only: the build without OpenSSL's TLS (no -lssl needed here)
                     "src/native/tls/tls_off.cpp",
                     # and epoll only (no -luring)
                     "src/native/server/loop_uring_off.cpp",
                     # the loop hands an HTTP/2 connection to http2::Session (nghttp2)
                     "src/native/http2/session.cpp"],
}
LIBS = {"loops_driver": ["-lnghttp2"]}  # beyond libstdc++ (other drivers: none)


def build(target: str, build_dir: Path, *extra: str) -> Path:
    """Compiles a driver directly (no CMake needed; the CMake targets of the same name exist too).

    `extra`: "-DFASTERAPI_TSAN=ON" builds it with -fsanitize=thread.
    """
    cxx = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
    if cxx is None:
        pytest.skip("no C++ compiler")
    tsan = "-DFASTERAPI_TSAN=ON" in extra
    build_dir.mkdir(parents=True, exist_ok=True)
    exe = build_dir / (target + ("-tsan" if tsan else ""))
    srcs = [REPO / s for s in SOURCES[target]]
    deps = srcs + sorted((REPO / "src" / "native").glob("*/*.hpp"))
    if exe.exists() and exe.stat().st_mtime > max(p.stat().st_mtime for p in deps):
        return exe
    flags = ["-std=c++20", "-Wall", "-Wextra", "-Wno-missing-field-initializers", "-pthread"]
    flags += ["-O1", "-g", "-fsanitize=thread", "-fno-omit-frame-pointer"] if tsan else ["-O2"]
    cmd = [cxx, *flags, "-I", str(REPO / "src" / "native"), *map(str, srcs), *LIBS.get(target, []), "-o", str(exe)]
    proc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed:\n{proc.stdout[-6000:]}", pytrace=False)
    return exe


def run(exe: Path, *args: str, timeout: float = 240) -> str:
    proc = subprocess.run([str(exe), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert "all ok" in proc.stdout
    assert "WARNING: ThreadSanitizer" not in proc.stdout
    return proc.stdout


def test_rings_and_pool_deliver_every_item_once() -> None:
    exe = build("ring_stress", DRIVERS)
    out = run(exe, "1000000", "4")
    assert "mpsc producers=4 cap=1024 items=4000000 ok" in out


def test_rings_and_pool_under_thread_sanitizer() -> None:
    exe = build("ring_stress", DRIVERS, "-DFASTERAPI_TSAN=ON")
    run(exe, "100000", "4")
