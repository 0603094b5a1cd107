"""HTTP/1.1 conformance of the native Connection (src/native/http), through tests/native/http_driver.cpp.

Every case of the shared hostile corpus (<repo>/../shared/http-corpus/cases.jsonl) and of our own
corpus (tests/data/http/cases.jsonl) is replayed on a fresh connection:
  - as its segments are given, all bytes at once, one byte at a time, and at seeded random splits,
  - then EOF.
Each run must satisfy the case's `expect` verdict (see the corpus README) and the global
invariants below, and all runs of a case must produce the same responses (modulo Date and
`100 Continue`, which legitimately depends on whether the body had already arrived).

The same cases also run through an ASan+UBSan build of the driver (whole and byte-by-byte).
Environment: FASTERAPI_NO_SHARED=1 allows the shared corpus to be absent.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "http-corpus" / "cases.jsonl"
OWN = REPO / "tests" / "data" / "http" / "cases.jsonl"

DEFAULT_LIMITS = {
    "max_request_line": 8 * 1024,
    "max_head": 16 * 1024,
    "max_headers": 100,
    "max_body": 1024 * 1024,
    "max_pipelined": 64,
    "output_high_water": 1024 * 1024,
}
LIMIT_ORDER = list(DEFAULT_LIMITS)
FLAG_PENDING = 1  # handle() returns Pending, completed by the driver after each event
FLAG_NO_DRAIN = 2  # the peer does not read until the end

IMF_FIXDATE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
    r"\d\d:\d\d:\d\d GMT"
)
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


# ---------------------------------------------------------------------------------------------
# Building the driver


def _find_cmake() -> str | None:
    found = shutil.which("cmake")
    if found:
        return found
    candidate = Path(sys.executable).parent / "cmake"
    return str(candidate) if candidate.exists() else None


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        pytest.fail(f"{what} failed ({' '.join(map(str, cmd))}):\n{proc.stdout[-6000:]}", pytrace=False)


def build_driver(sanitize: bool) -> Path:
    build_dir = REPO / "build" / ("native-tests-asan" if sanitize else "native-tests")
    cmake = _find_cmake()
    if cmake:
        _run(
            [
                cmake, "-S", str(REPO), "-B", str(build_dir), "-DFASTERAPI_NATIVE_TESTS=ON",
                "-DCMAKE_BUILD_TYPE=Debug", f"-DFASTERAPI_SANITIZE={'ON' if sanitize else 'OFF'}",
            ],
            "cmake configure",
        )
        _run([cmake, "--build", str(build_dir), "--target", "http_driver", "-j", "2"], "cmake build")
        exe = build_dir / "http_driver"
    else:
        # No cmake on this machine: compile the http layer and the driver directly.
        cxx = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
        if not cxx:
            pytest.fail("neither cmake nor a C++ compiler found: cannot build tests/native/http_driver.cpp")
        build_dir.mkdir(parents=True, exist_ok=True)
        exe = build_dir / "http_driver_direct"
        srcs = sorted(str(p) for p in (REPO / "src" / "native" / "http").glob("*.cpp"))
        flags = ["-std=c++20", "-O1", "-g", "-Wall", "-Wextra", "-Wno-missing-field-initializers"]
        if sanitize:
            flags += ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"]
        _run(
            [cxx, *flags, "-I", str(REPO / "src" / "native"), *srcs,
             str(REPO / "tests" / "native" / "http_driver.cpp"), "-o", str(exe)],
            "direct compile",
        )
    assert exe.exists(), exe
    return exe


# ---------------------------------------------------------------------------------------------
# Talking to the driver


@dataclasses.dataclass
class Run:
    raw: bytes
    closed_before_eof: bool
    closed: bool
    served: int
    max_output: int
    probes: list[tuple[bool, bool, bool, bool]] = dataclasses.field(default_factory=list)


class Driver:
    def __init__(self, exe: Path, env: dict[str, str] | None = None):
        self.exe = exe
        self.proc = subprocess.Popen([str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)

    def close(self) -> None:
        try:
            self.proc.stdin.write(b"Q")
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        self.proc.wait(timeout=30)

    def run(self, events: list[tuple], limits: dict | None = None, flags: int = 0) -> Run:
        lim = dict(DEFAULT_LIMITS)
        lim.update(limits or {})
        out = bytearray(b"N" + struct.pack("<I", flags))
        for key in LIMIT_ORDER:
            out += struct.pack("<Q", lim[key])
        for ev in events:
            kind = ev[0]
            if kind in ("D", "B"):
                out += kind.encode() + struct.pack("<I", len(ev[1])) + ev[1]
            elif kind in ("E", "S", "P"):
                out += kind.encode()
            elif kind == "T":
                out += b"T" + struct.pack("<I", ev[1])
            else:
                raise ValueError(ev)
        out += b"F"
        try:
            self.proc.stdin.write(out)
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass
        hdr = self._read(5)
        if not hdr or hdr[:1] != b"R":
            rc = self.proc.poll()
            raise AssertionError(f"driver died (exit {rc}) while running {events!r:.300}")
        (n,) = struct.unpack("<I", hdr[1:5])
        raw = self._read(n)
        tail = self._read(14)
        served, max_output, nprobes = struct.unpack("<III", tail[2:14])
        pb = self._read(4 * nprobes)
        probes = [tuple(bool(b) for b in pb[i:i + 4]) for i in range(0, len(pb), 4)]
        return Run(raw, bool(tail[0]), bool(tail[1]), served, max_output, probes)

    def _read(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.proc.stdout.read(n - len(buf))
            if not chunk:
                break
            buf += chunk
        return bytes(buf)


@pytest.fixture(scope="session")
def driver():
    d = Driver(build_driver(sanitize=False))
    yield d
    d.close()


@pytest.fixture(scope="session")
def asan_driver():
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:exitcode=23"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    d = Driver(build_driver(sanitize=True), env=env)
    yield d
    d.close()
    assert d.proc.returncode == 0, f"sanitized driver exited with {d.proc.returncode}"


# ---------------------------------------------------------------------------------------------
# Parsing responses


@dataclasses.dataclass
class Resp:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    head_only: bool

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def headers_all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]


def parse_responses(raw: bytes) -> list[Resp]:
    out: list[Resp] = []
    i = 0
    while i < len(raw):
        j = raw.find(b"\r\n\r\n", i)
        assert j >= 0, f"truncated response head at byte {i}: {raw[i:i + 300]!r}"
        lines = raw[i:j].decode("latin-1").split("\r\n")
        m = re.fullmatch(r"HTTP/1\.1 (\d{3}) (.*)", lines[0])
        assert m, f"bad status line {lines[0]!r}"
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(": ")
            assert sep and re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name), f"bad header line {line!r}"
            headers.append((name.lower(), value))
        status = int(m[1])
        i = j + 4
        body, head_only = b"", False
        if status >= 200 and status not in (204, 304):
            cls = [v for k, v in headers if k == "content-length"]
            assert len(cls) == 1 and cls[0].isdigit(), f"response without one Content-Length: {lines}"
            n = int(cls[0])
            rest = raw[i:]
            # A response to HEAD has a Content-Length but no body: what follows is the next
            # response (or nothing); the echo and error bodies start with "ECHO " or "{".
            if n and not (rest.startswith(b"ECHO ") or rest.startswith(b"{")):
                head_only = True
            else:
                body = raw[i:i + n]
                assert len(body) == n, f"truncated body: {len(body)} of {n}"
                i += n
        out.append(Resp(status, m[2], headers, body, head_only))
    return out


ECHO = re.compile(rb"ECHO (\S+) (\S*) len=(\d+) host=(.*)\n")


def echo_of(r: Resp):
    m = ECHO.fullmatch(r.body)
    return m


# ---------------------------------------------------------------------------------------------
# Cases


def load_cases(path: Path, tag: str) -> list[dict]:
    cases = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        case = json.loads(line)
        case["_src"] = f"{tag}:{lineno}"
        cases.append(case)
    return cases


def _shared_cases() -> list[dict]:
    if not SHARED.exists():
        if os.environ.get("FASTERAPI_NO_SHARED") == "1":
            return []
        raise FileNotFoundError(
            f"shared HTTP corpus not found at {SHARED}; set FASTERAPI_NO_SHARED=1 to run without it"
        )
    return load_cases(SHARED, "shared")


try:
    SHARED_CASES = _shared_cases()
    SHARED_ERROR = None
except FileNotFoundError as exc:
    SHARED_CASES = []
    SHARED_ERROR = str(exc)

OWN_CASES = load_cases(OWN, "own")


def segments_of(case: dict) -> list[tuple]:
    """The case's events as given: ('D', bytes) for data, or ops ('S',) drain / ('T', status) fail."""
    events = []
    for seg in case["segments"]:
        op = seg.get("op")
        if op == "drain":
            events.append(("S",))
        elif op == "fail":
            events.append(("T", int(seg["status"])))
        elif op == "eof":
            events.append(("E",))
        else:
            events.append(("D", base64.b64decode(seg["b64"])))
    return events


def data_runs(events: list[tuple]) -> list[tuple]:
    """Merges consecutive data events (a split mode re-cuts each run)."""
    merged: list[tuple] = []
    for ev in events:
        if ev[0] == "D" and merged and merged[-1][0] == "D":
            merged[-1] = ("D", merged[-1][1] + ev[1])
        else:
            merged.append(ev)
    return merged


def random_cut(data: bytes, rng: random.Random) -> list[bytes]:
    if len(data) < 2:
        return [data]
    k = rng.randint(1, min(12, len(data) - 1))
    cuts = sorted(rng.sample(range(1, len(data)), k))
    pieces, prev = [], 0
    for c in cuts + [len(data)]:
        pieces.append(data[prev:c])
        prev = c
    return pieces


def modes_for(case: dict, full: bool = True) -> dict[str, list[tuple]]:
    given = segments_of(case)
    runs = data_runs(given)
    modes = {"segments": given, "whole": runs, "bytes": [("B", ev[1]) if ev[0] == "D" else ev for ev in runs]}
    if full:
        for seed in range(5):
            rng = random.Random(f"{case['id']}/{seed}")
            events = []
            for ev in runs:
                if ev[0] == "D":
                    events += [("D", p) for p in random_cut(ev[1], rng)]
                else:
                    events.append(ev)
            modes[f"random{seed}"] = events
    if not case.get("no_eof"):
        for evs in modes.values():
            evs.append(("E",))
    return modes


def request_paths(data: bytes) -> list[bytes]:
    return re.findall(rb"[A-Z]+ (\S+) HTTP/1\.[01]\r\n", data)


# ---------------------------------------------------------------------------------------------
# Verdicts


def is_reject_status(s: int) -> bool:
    return 400 <= s < 500 or s in (501, 505)


def check_run(case: dict, mode: str, run: Run) -> list[Resp]:
    """Asserts the global invariants and the case's verdict for one run; returns the responses."""
    where = f"[{case['id']} / {mode}]"
    resps = parse_responses(run.raw)
    finals = [r for r in resps if r.status >= 200]
    info = [r for r in resps if r.status < 200]
    n100 = sum(1 for r in info if r.status == 100)
    ctx = f"{where} output={run.raw[:600]!r} closed_before_eof={run.closed_before_eof}"

    # Global invariants.
    assert all(r.status == 100 for r in info), f"{ctx}: unexpected 1xx (never switch protocols)"
    for r in info:
        assert not r.headers, f"{ctx}: 100 Continue with headers"
    for r in finals:
        assert not (500 <= r.status < 600 and r.status not in (501, 505)), f"{ctx}: 5xx"
        assert b"ECHO GET /SMUGGLED" not in r.body, f"{ctx}: smuggled request answered"
        assert IMF_FIXDATE.fullmatch(r.header("date") or ""), f"{ctx}: bad Date"
        assert r.headers_all("server") == ["fasterapi"], f"{ctx}: Server header"
        if r.status >= 400:
            assert r.header("content-type") == "application/json", ctx
            detail = json.loads(r.body)["detail"]
            assert detail == r.reason and detail, f"{ctx}: error body {r.body!r}"
    # A response with "Connection: close" (every error is one) is the last, then the socket closes.
    for k, r in enumerate(finals):
        if r.status >= 400:
            assert r.header("connection") == "close", f"{ctx}: error response without Connection: close"
        if r.header("connection") == "close":
            assert k == len(finals) - 1, f"{ctx}: response after Connection: close"
            # (a peer that does not read sends EOF before the last responses are even produced)
            closed = run.closed if case.get("flags", 0) & FLAG_NO_DRAIN else run.closed_before_eof
            assert closed, f"{ctx}: Connection: close but the connection stayed open"
    assert run.closed, f"{ctx}: connection not closed after EOF"
    echoes = [echo_of(r) for r in finals if 200 <= r.status < 300 and not r.head_only]
    assert all(echoes), f"{ctx}: 2xx without an echo body"

    rejected = (bool(finals) and is_reject_status(finals[0].status)) or (not finals and run.closed)
    first_2xx = bool(finals) and 200 <= finals[0].status < 300
    first_len = None
    if first_2xx and not finals[0].head_only:
        first_len = int(echo_of(finals[0])[3])

    key, _, arg = case["expect"].partition(":")
    if key == "reject400":
        assert rejected and all(r.status == 400 for r in finals[:1]), f"{ctx}: expected 400"
    elif key in ("reject", "strict"):
        assert rejected, f"{ctx}: expected a rejection"
    elif key == "te_close":
        assert rejected or (first_2xx and run.closed_before_eof), f"{ctx}: expected reject or 2xx+close"
    elif key == "accept":
        assert first_2xx, f"{ctx}: expected 2xx"
    elif key == "accept_len":
        assert first_2xx and first_len == int(arg), f"{ctx}: expected 2xx len={arg}"
    elif key == "accept_len_no100":
        assert first_2xx and first_len == int(arg) and n100 == 0, f"{ctx}: expected 2xx len={arg}, no 100"
    elif key == "len_or_reject":
        assert rejected or (first_2xx and first_len == int(arg)), f"{ctx}: expected len={arg} or reject"
    elif key == "either":
        assert finals, f"{ctx}: expected a response"
    elif key == "nosmuggle":
        pass  # global invariants
    elif key == "no2xx":
        assert not any(200 <= r.status < 300 for r in finals), f"{ctx}: 2xx to an incomplete message"
    elif key == "close1":
        assert len(finals) == 1 and run.closed_before_eof, f"{ctx}: expected one response then close"
    elif key == "pipeline2":
        assert len(finals) == 2 and all(200 <= r.status < 300 for r in finals), f"{ctx}: expected 2x 2xx"
        sent = b"".join(ev[1] for ev in segments_of(case) if ev[0] == "D")
        assert [e[2] for e in echoes] == request_paths(sent)[:2], f"{ctx}: responses out of order"
    elif key == "no101":
        pass  # global invariants
    elif key == "underscore":
        assert rejected or (first_2xx and first_len == 0), f"{ctx}: underscore header taken as framing"
    elif key == "status":
        assert finals and finals[0].status == int(arg), f"{ctx}: expected status {arg}"
    elif key == "statuses":
        want = [int(s) for s in arg.split(",")] if arg else []
        assert [r.status for r in finals] == want, f"{ctx}: expected statuses {want}"
    elif key == "any":
        pass  # random streams: only the global invariants and split-invariance
    elif key == "none":
        assert not finals, f"{ctx}: expected no response"
    else:
        raise AssertionError(f"{where}: unknown expect key {case['expect']!r}")

    # Extra checks of our own corpus.
    chk = case.get("checks", {})
    if "closed" in chk:
        assert run.closed_before_eof == chk["closed"], f"{ctx}: closed_before_eof != {chk['closed']}"
    if "echo" in chk:
        got = [e[0].decode("latin-1").rstrip("\n") for e in echoes]
        assert got == chk["echo"], f"{ctx}: echo bodies {got}"
    if "continue" in chk and mode == "segments":
        assert n100 == chk["continue"], f"{ctx}: {n100} x 100 Continue"
    if "continue_max" in chk:
        assert n100 <= chk["continue_max"], f"{ctx}: {n100} x 100 Continue"
    if "head_only" in chk:
        assert [r.head_only for r in finals] == chk["head_only"], f"{ctx}: head_only flags"
    if "conn_close" in chk:
        got = [r.header("connection") == "close" for r in finals]
        assert got == chk["conn_close"], f"{ctx}: Connection: close flags {got}"
    if "served" in chk:
        assert run.served == chk["served"], f"{ctx}: served {run.served}"
    if "max_output" in chk:
        assert run.max_output <= chk["max_output"], f"{ctx}: output grew to {run.max_output}"
    for s in chk.get("contains", []) if mode == "segments" else []:
        assert s.encode("latin-1") in run.raw, f"{ctx}: missing {s!r}"
    return resps


def normalized(run: Run) -> tuple:
    raw = re.sub(rb"\r\nDate: [^\r]*", b"\r\nDate: -", run.raw.replace(CONTINUE, b""))
    return raw, run.closed_before_eof, run.served


def run_case(drv: Driver, case: dict, full: bool = True) -> None:
    limits = case.get("limits")
    flags = case.get("flags", 0)
    results = {}
    for mode, events in modes_for(case, full).items():
        run = drv.run(events, limits, flags)
        check_run(case, mode, run)
        results[mode] = normalized(run)
    ref = results["whole"]
    for mode, got in results.items():
        assert got == ref, (
            f"[{case['id']}] split-dependent result: {mode} gave {got[0][:400]!r} closed={got[1]} "
            f"served={got[2]}, whole gave {ref[0][:400]!r} closed={ref[1]} served={ref[2]}"
        )


# ---------------------------------------------------------------------------------------------
# Tests


def test_shared_corpus_present():
    if SHARED_ERROR:
        pytest.fail(SHARED_ERROR, pytrace=False)
    if os.environ.get("FASTERAPI_NO_SHARED") != "1":
        assert len(SHARED_CASES) >= 100


def test_own_corpus_is_large_and_well_formed():
    ids = [c["id"] for c in OWN_CASES]
    assert len(ids) == len(set(ids)), "duplicate ids"
    assert len(OWN_CASES) >= 150
    for c in OWN_CASES:
        assert c["segments"] and c["expect"] and c["group"], c["id"]


@pytest.mark.parametrize("case", SHARED_CASES, ids=[c["id"] for c in SHARED_CASES])
def test_shared_case(driver, case):
    run_case(driver, case)


@pytest.mark.parametrize("case", OWN_CASES, ids=[c["id"] for c in OWN_CASES])
def test_own_case(driver, case):
    run_case(driver, case)


def test_sanitized_corpus(asan_driver):
    """Every case (whole, byte by byte, as given) under AddressSanitizer + UBSan."""
    failures = []
    for case in SHARED_CASES + OWN_CASES:
        try:
            run_case(asan_driver, case, full=False)
        except AssertionError as exc:
            failures.append(f"{case['id']}: {str(exc)[:300]}")
    assert asan_driver.proc.poll() is None, f"sanitized driver died (exit {asan_driver.proc.returncode})"
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------------------------------------
# Dedicated checks (response layout, socket-layer probes, backpressure)


def _head_lines(raw: bytes) -> tuple[list[bytes], bytes]:
    head, sep, rest = raw.partition(b"\r\n\r\n")
    assert sep, raw
    return head.split(b"\r\n"), rest


def test_response_head_layout(driver):
    run = driver.run([("D", b"GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"), ("E",)])
    lines, body = _head_lines(run.raw)
    assert lines[0] == b"HTTP/1.1 200 OK"
    assert lines[1].startswith(b"Date: ") and IMF_FIXDATE.fullmatch(lines[1][6:].decode())
    assert lines[2:] == [b"Server: fasterapi", b"Content-Type: text/plain", b"Content-Length: 25",
                         b"X-Echo: 1", b"Connection: close"]
    assert body == b"ECHO GET /x len=0 host=h\n"
    assert run.closed_before_eof


def test_error_response_layout(driver):
    run = driver.run([("D", b"GET / HTTP/1.1\r\n\r\n"), ("E",)])  # no Host
    lines, body = _head_lines(run.raw)
    assert lines[0] == b"HTTP/1.1 400 Bad Request"
    assert lines[2:] == [b"Server: fasterapi", b"Content-Type: application/json", b"Content-Length: 24",
                         b"Connection: close"]
    assert body == b'{"detail":"Bad Request"}'


@pytest.mark.parametrize("status,reason", [(204, b"No Content"), (304, b"Not Modified")])
def test_no_content_statuses(driver, status, reason):
    data = f"GET /status/{status} HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n".encode()
    run = driver.run([("D", data), ("E",)])
    lines, rest = _head_lines(run.raw)
    assert lines[0] == b"HTTP/1.1 %d %s" % (status, reason)
    assert not any(line.lower().startswith(b"content-length") for line in lines)  # RFC 9110 8.6
    assert rest.startswith(b"HTTP/1.1 200 OK\r\n")  # no body was written for the 204/304
    assert [r.status for r in parse_responses(run.raw)] == [status, 200]


def test_status_line_for_unknown_and_teapot(driver):
    run = driver.run([("D", b"GET /status/599 HTTP/1.1\r\nHost: a\r\n\r\nGET /status/418 HTTP/1.1\r\nHost: a\r\n\r\n")])
    assert run.raw.startswith(b"HTTP/1.1 599 \r\n")
    assert b"HTTP/1.1 418 I'm a Teapot\r\n" in run.raw


def test_head_keeps_content_length(driver):
    run = driver.run([("D", b"HEAD /h HTTP/1.1\r\nHost: a\r\n\r\n"), ("E",)])
    lines, rest = _head_lines(run.raw)
    assert b"Content-Length: %d" % len(b"ECHO HEAD /h len=0 host=a\n") in lines
    assert rest == b""


def test_deadline_probes(driver):
    head = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"
    run = driver.run([("P",), ("D", head[:7]), ("P",), ("D", head[7:] + b"he"), ("P",), ("D", b"llo"), ("P",),
                      ("E",), ("P",)])
    #            in_request reading_body pending should_close
    assert run.probes == [
        (False, False, False, False),  # idle
        (True, False, False, False),   # head started
        (False, True, False, False),   # body expected
        (False, False, False, False),  # answered, idle again
        (False, False, False, True),   # EOF: close
    ]
    assert parse_responses(run.raw)[0].status == 200


def test_input_bounded_when_peer_ignores_backpressure(driver):
    lim = {"max_head": 1024, "max_pipelined": 2, "max_body": 0, "output_high_water": 1}
    reqs = b"".join(b"GET /%d HTTP/1.1\r\nHost: a\r\n\r\n" % i for i in range(200))
    # Bytes keep arriving while dispatch is stopped (output above the mark): past
    # max_head * max_pipelined + max_body buffered bytes the connection gives up.
    run = driver.run([("B", reqs), ("E",)], lim, FLAG_NO_DRAIN)
    assert run.closed and run.served == 1
    assert [r.status for r in parse_responses(run.raw)] == [200]
    # All of it arriving before dispatch stopped is fine: answered in order once the peer reads.
    run = driver.run([("D", reqs), ("E",)], lim, FLAG_NO_DRAIN)
    assert run.served == 200 and run.max_output < 300
    assert [e[2] for e in map(echo_of, parse_responses(run.raw))] == [b"/%d" % i for i in range(200)]


# ---------------------------------------------------------------------------------------------
# Random streams: valid requests, broken framing and byte-level mutations. Whatever the verdict,
# it must be the same for every split, and the global invariants hold.


def random_stream(rng: random.Random) -> bytes:
    def pick(good: list[bytes], bad: list[bytes], p_bad: float = 0.04) -> bytes:
        return rng.choice(bad) if bad and rng.random() < p_bad else rng.choice(good)

    out = bytearray()
    for _ in range(rng.randint(1, 5)):
        method = pick([b"GET", b"POST", b"HEAD", b"PUT", b"DELETE"], [b"G(T", b""])
        target = pick([b"/", b"/a/b?c=d", b"http://h/x", b"/%41"], [b"/a b", b"/\x80", b"*", b"/#"])
        version = pick([b"HTTP/1.1"] * 8 + [b"HTTP/1.0"], [b"HTTP/2.0", b"HTTP/1.1 ", b"HTTP/1"])
        eol = pick([b"\r\n"], [b"\n", b"\r"], 0.02)
        lines = [method + b" " + target + b" " + version]
        lines.append(b"Host: " + pick([b"a", b"a:80", b"[::1]"], [b"a b", b"", b"a@b"]))
        body = bytes(rng.choice(b"abc\r\n0") for _ in range(rng.randint(0, 40)))
        framing = rng.choice(["none", "cl", "cl", "chunked", "chunked"])
        framing = pick([framing.encode()], [b"both", b"badcl", b"cl-short", b"cl-long"], 0.05).decode()
        if framing in ("cl", "both"):
            lines.append(b"Content-Length: %d" % len(body))
        elif framing == "cl-short":
            lines.append(b"Content-Length: %d" % max(len(body) - 1, 0))
        elif framing == "cl-long":
            lines.append(b"Content-Length: %d" % (len(body) + 1))
        elif framing == "badcl":
            lines.append(b"Content-Length: " + rng.choice([b"x", b"1,1", b"-1", b" "]))
        if framing in ("chunked", "both"):
            lines.append(b"Transfer-Encoding: " + pick([b"chunked", b"Chunked"], [b"gzip, chunked", b"chunked, x"]))
        for _ in range(rng.randint(0, 4)):
            lines.append(pick([b"X-A: 1", b"Connection: keep-alive", b"Expect: 100-continue", b"X_B: 2",
                               b"Cookie: \xff", b"Accept: */*"] * 4 + [b"Connection: close"],
                              [b"Bad Name: 3", b" folded", b"X-C: \x01", b"Expect: nope"]))
        out += eol.join(lines) + eol + eol
        if framing in ("chunked", "both"):
            pos = 0
            while pos < len(body):
                n = rng.randint(1, len(body) - pos)
                ext = pick([b"", b"", b";a=b", b';q="x"', b" ;x"], [b";", b"; ="])
                out += b"%x" % n + ext + b"\r\n" + body[pos:pos + n] + pick([b"\r\n"], [b"\n", b"X\r\n"])
                pos += n
            out += b"0\r\n" + pick([b"", b"", b"T: 1\r\n"], [b"T 1\r\n", b" T: 1\r\n"]) + b"\r\n"
        elif framing != "none":
            out += body
    # byte-level mutations
    for _ in range(rng.choice([0] * 6 + [1, 2])):
        if not out:
            break
        i = rng.randrange(len(out))
        op = rng.random()
        if op < 0.4:
            out[i] = rng.randrange(256)
        elif op < 0.7:
            del out[i]
        else:
            out.insert(i, rng.choice(b"\r\n \t:;,0aZ\x00\x7f\xff"))
    return bytes(out)


RANDOM_STREAMS = 400


def _random_cases(n: int, salt: str) -> list[dict]:
    rng = random.Random(f"http-random-{salt}")
    cases = []
    for k in range(n):
        data = random_stream(rng)
        cases.append({"id": f"rand-{salt}-{k}", "segments": [{"b64": base64.b64encode(data).decode()}],
                      "expect": "any", "flags": rng.choice([0, 0, 0, FLAG_PENDING, FLAG_NO_DRAIN])})
    return cases


def test_random_streams_are_split_invariant(driver):
    for case in _random_cases(RANDOM_STREAMS, "a"):
        run_case(driver, case)


def test_random_streams_sanitized(asan_driver):
    for case in _random_cases(RANDOM_STREAMS // 2, "b"):
        run_case(asan_driver, case, full=False)
