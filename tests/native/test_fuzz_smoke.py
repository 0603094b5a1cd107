"""Smoke run of the libFuzzer targets in fuzz/ (ASan + UBSan): build them with clang
(cmake -DFASTERAPI_FUZZ=ON, build/fuzz-smoke/) and run each for FUZZ_SMOKE_SECONDS over its seed
corpus (fuzz/corpus/<target>, copied: the seeds are not modified). Any crash, invariant
violation, sanitizer report, leak or timeout fails the test, with the fuzzer's report and the
reproducer's path. Long runs: fuzz/README.md.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "build" / "fuzz-smoke"
TARGETS = ["http", "router", "json", "server", "websocket", "http2"]
SECONDS = int(os.environ.get("FUZZ_SMOKE_SECONDS", "20"))


def _cmake() -> str:
    found = shutil.which("cmake") or str(Path(sys.executable).parent / "cmake")
    if not Path(found).exists():
        pytest.fail("cmake not found: cannot build the fuzz targets", pytrace=False)
    return found


def _clang() -> str:
    clang = shutil.which("clang++")
    if not clang:
        pytest.fail(
            "clang++ not found: the fuzz targets need clang with libFuzzer "
            "(Debian: apt-get install clang libclang-rt-14-dev; .ci/run installs them)",
            pytrace=False,
        )
    return clang


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        pytest.fail(f"{what} failed ({' '.join(cmd)}):\n{proc.stdout[-6000:]}", pytrace=False)


@pytest.fixture(scope="module")
def fuzz_bin() -> Path:
    clang = _clang()
    cmake = _cmake()
    _run([cmake, "-S", str(REPO), "-B", str(BUILD), "-DFASTERAPI_FUZZ=ON", f"-DCMAKE_CXX_COMPILER={clang}",
          "-DCMAKE_BUILD_TYPE=RelWithDebInfo"], "cmake configure (fuzz)")
    _run([cmake, "--build", str(BUILD), "--target", "fuzz_all", "-j", "2"], "cmake build (fuzz)")
    return BUILD


def _fuzz(exe: Path, target: str, work: Path) -> tuple[str, int, str]:
    corpus = work / target
    shutil.copytree(REPO / "fuzz" / "corpus" / target, corpus)
    artifacts = work / "artifacts"
    artifacts.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    proc = subprocess.run(
        [str(exe), f"-max_total_time={SECONDS}", "-timeout=10", "-rss_limit_mb=2048", "-max_len=8192",
         "-print_final_stats=1", f"-artifact_prefix={artifacts}/{target}-", str(corpus)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace", env=env,
        timeout=SECONDS + 300,
    )
    return target, proc.returncode, proc.stdout


def test_fuzz_targets_smoke(fuzz_bin: Path, tmp_path: Path) -> None:
    # Two at a time (2 cores).
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda t: _fuzz(fuzz_bin / f"{t}_fuzz", t, tmp_path), TARGETS))
    failures = []
    for target, rc, out in results:
        bad = rc != 0 or any(s in out for s in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                                                 "runtime error:", "FUZZ INVARIANT", "MISMATCH", "ROUTER FUZZ",
                                                 "ERROR: libFuzzer"))
        execs = [ln for ln in out.splitlines() if ln.startswith("stat::number_of_executed_units")]
        if bad:
            failures.append(f"--- {target}_fuzz exited {rc} (reproducer in {tmp_path}/artifacts):\n{out[-5000:]}")
        elif not execs or int(execs[-1].split(":")[-1]) < 100:
            failures.append(f"--- {target}_fuzz ran too few inputs:\n{out[-2000:]}")
    assert not failures, "\n".join(failures)
