"""The HTTP/2 hostile corpus (tests/data/http2/cases.jsonl) in process: each case's client bytes
(preface, an empty SETTINGS, the case's frames) fed to an http2::Session behind the corpus's echo
dispatcher, through tests/native/h2_driver.cpp (built here with cmake, -DFASTERAPI_NATIVE_TESTS=ON).
The same cases run over sockets against a real server in
tests/integration/test_http2.py::test_corpus_over_socket, with the same expectations."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CASES = [json.loads(line) for line in (REPO / "tests" / "data" / "http2" / "cases.jsonl").read_text().splitlines()]
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes.fromhex("000000040000000000")


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        pytest.fail(f"{what} failed ({' '.join(cmd)}):\n{proc.stdout[-6000:]}", pytrace=False)


@pytest.fixture(scope="module")
def driver() -> Path:
    cmake = shutil.which("cmake") or str(Path(sys.executable).parent / "cmake")
    if not Path(cmake).exists():
        pytest.fail("cmake not found: cannot build tests/native/h2_driver.cpp", pytrace=False)
    build = REPO / "build" / "native-tests"
    _run([cmake, "-S", str(REPO), "-B", str(build), "-DFASTERAPI_NATIVE_TESTS=ON", "-DCMAKE_BUILD_TYPE=Debug"],
         "cmake configure")
    _run([cmake, "--build", str(build), "--target", "h2_driver", "-j", "2"], "cmake build")
    return build / "h2_driver"


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case_in_process(driver: Path, case: dict) -> None:
    r = subprocess.run([str(driver)], input=PREFACE + bytes.fromhex(case["hex"]), capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-3000:]
    got = dict(line.split(" ", 1) for line in r.stdout.decode().splitlines())
    goaway = int(got["goaway"])
    if case["goaway"]:
        assert goaway in case["goaway"], (case["what"], got)
    else:
        assert goaway == -1, (case["what"], got)
    if case["stream1"] != "none" or not case["goaway"]:
        assert got["stream1"] == case["stream1"], (case["what"], got)
