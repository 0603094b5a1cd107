"""HTTP/1.1 conformance of the native Connection (src/native/http), through tests/native/http_driver.cpp.

Every case of the shared hostile corpus (<repo>/../shared/http-corpus/cases.jsonl) and of our own
corpus (tests/data/http/cases.jsonl) is replayed on a fresh connection:
  - as its segments are given, all bytes at once, one byte at a time, and at seeded random splits,
  - then EOF.
Each run must satisfy the case's `expect` verdict (see the corpus README) and the global
invariants below, and all runs of a case must produce the same responses (modulo Date and
`100 Continue`, which legitimately depends on whether the body had already arrived).

The same cases also run through an ASan+UBSan build of the driver (whole and byte-by-byte).
The shared corpus is collected when it is beside the checkout; a user's clone runs the project's own.
"""

from __future__ import annotations

import base64
import os
import random
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the shared corpus module

from http_corpus import (  # noqa: E402
    FLAG_NO_DRAIN,
    FLAG_PENDING,
    IMF_FIXDATE,
    OWN_CASES,
    SHARED_CASES,
    Run,
    check_run,
    echo_of,
    modes_for,
    normalized,
    parse_responses,
)

REPO = Path(__file__).resolve().parents[2]

DEFAULT_LIMITS = {
    "max_request_line": 8 * 1024,
    "max_head": 16 * 1024,
    "max_headers": 100,
    "max_body": 1024 * 1024,
    "max_pipelined": 64,
    "output_high_water": 1024 * 1024,
}
LIMIT_ORDER = list(DEFAULT_LIMITS)


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
# Running a case (parsing, split modes and verdicts: tests/http_corpus.py)


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


def test_own_corpus_is_large_and_well_formed():
    ids = [c["id"] for c in OWN_CASES]
    assert len(ids) == len(set(ids)), "duplicate ids"
    assert len(OWN_CASES) >= 150
    for c in OWN_CASES:
        assert c["segments"] and c["expect"] and c["group"], c["id"]


if SHARED_CASES:  # without the shared corpus beside the checkout: not collected (the header says so)

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


# ---------------------------------------------------------------------------------------------
# Streamed request bodies (Dispatcher::stream_body): the head is dispatched at once and the body
# reaches a BodySink as it is decoded. The driver's sink answers when the body ends (or with the
# connection's body_failure() status when it fails), holds at most 16 untaken bytes (the
# connection pauses until the driver takes them) and, without FLAG_PENDING, completes the
# response from inside the sink's callback. The framing, limits and verdicts are the buffered
# ones: every case must give the same bytes as buffered, for every split.

FLAG_STREAM = 4


def run_streamed_case(drv: Driver, case: dict, full: bool = True) -> None:
    streamed = dict(case, flags=case.get("flags", 0) | FLAG_STREAM)
    run_case(drv, streamed, full)
    buffered_flags = case.get("flags", 0) & ~FLAG_STREAM
    for mode, events in modes_for(case, full=False).items():
        want = normalized(drv.run(events, case.get("limits"), buffered_flags))
        got = normalized(drv.run(events, case.get("limits"), streamed["flags"]))
        # (`served` differs by design: a streamed request that fails was dispatched, and counts)
        assert got[:2] == want[:2], (
            f"[{case['id']} / {mode}] streamed {got[0][:400]!r} closed={got[1]}, "
            f"buffered {want[0][:400]!r} closed={want[1]}"
        )


def test_streamed_bodies_match_buffered(driver):
    failures = []
    for case in SHARED_CASES + OWN_CASES:
        try:
            run_streamed_case(driver, case)
        except AssertionError as exc:
            failures.append(f"{case['id']}: {str(exc)[:400]}")
    assert not failures, "\n".join(failures)


def test_streamed_bodies_sanitized(asan_driver):
    failures = []
    for case in SHARED_CASES + OWN_CASES:
        try:
            run_streamed_case(asan_driver, case, full=False)
        except AssertionError as exc:
            failures.append(f"{case['id']}: {str(exc)[:300]}")
    assert asan_driver.proc.poll() is None, f"sanitized driver died (exit {asan_driver.proc.returncode})"
    assert not failures, "\n".join(failures)


def test_random_streams_streamed(driver):
    for case in _random_cases(RANDOM_STREAMS // 2, "streamed"):
        run_streamed_case(driver, case)


def test_random_streams_streamed_sanitized(asan_driver):
    for case in _random_cases(RANDOM_STREAMS // 4, "streamed-asan"):
        run_streamed_case(asan_driver, case, full=False)


def _split_runs(drv: Driver, data: bytes, flags: int, limits: dict | None = None) -> list[Run]:
    """The stream whole, byte by byte and in 3-byte pieces; all must agree (normalized)."""
    runs = [
        drv.run([("D", data), ("E",)], limits, flags),
        drv.run([("B", data), ("E",)], limits, flags),
        drv.run([("D", data[i:i + 3]) for i in range(0, len(data), 3)] + [("E",)], limits, flags),
    ]
    for r in runs[1:]:
        assert normalized(r)[:2] == normalized(runs[0])[:2], (r.raw[:400], runs[0].raw[:400])
    return runs


BIG = b"x" * 300_000  # several kDeliverMax pieces, many times the driver sink's hold


@pytest.mark.parametrize("flags", [FLAG_STREAM, FLAG_STREAM | FLAG_PENDING])
def test_streamed_large_bodies_then_pipelined(driver, flags):
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (BIG[:70_000], BIG[70_000:]))
    data = (b"POST /cl HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(BIG) + BIG
            + b"POST /ch HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked + b"0\r\n\r\n"
            + b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n")
    lim = {"max_body": 1 << 20}
    for run in _split_runs(driver, data, flags, lim):
        got = [echo_of(r)[0] for r in parse_responses(run.raw)]
        assert got == [b"ECHO POST /cl len=300000 host=a\n", b"ECHO POST /ch len=300000 host=a\n",
                       b"ECHO GET /next len=0 host=a\n"]


@pytest.mark.parametrize("flags", [FLAG_STREAM, FLAG_STREAM | FLAG_PENDING])
@pytest.mark.parametrize("path", [b"/answer-now", b"/answer-first"])
def test_streamed_body_answered_first_is_discarded(driver, flags, path):
    """A response complete before its body was read: the rest of the body is read and dropped,
    never parsed as a request (a smuggling attempt inside it stays body), and the next request
    is served."""
    smuggle = b"GET /SMUGGLED HTTP/1.1\r\nHost: a\r\n\r\n" * 3
    body = smuggle + b"y" * 5000
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    data = (b"POST " + path + b" HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(body) + body
            + b"POST " + path + b" HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked
            + b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n")
    for run in _split_runs(driver, data, flags):
        resps = parse_responses(run.raw)
        assert [echo_of(r)[0] for r in resps] == [
            b"ECHO POST %s len=0 host=a\n" % path, b"ECHO POST %s len=0 host=a\n" % path,
            b"ECHO GET /next len=0 host=a\n"]
        assert run.served == 3 and not run.closed_before_eof


def test_streamed_body_answered_first_with_close_stops_reading(driver):
    """Answered before its body on a connection that closes after it: the body is not read."""
    data = (b"POST /answer-now HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 10\r\n\r\n12345"
            b"67890GET /no HTTP/1.1\r\nHost: a\r\n\r\n")
    for run in _split_runs(driver, data, FLAG_STREAM):
        resps = parse_responses(run.raw)
        assert len(resps) == 1 and resps[0].header("connection") == "close" and run.closed_before_eof


@pytest.mark.parametrize("flags", [FLAG_STREAM, FLAG_STREAM | FLAG_PENDING])
def test_streamed_body_over_limit_mid_body(driver, flags):
    """Chunked past the route's limit after the head was dispatched: the sink is aborted (the
    driver answers body_failure() = 413) and the connection closes; the request behind it is
    never answered."""
    data = (b"POST /limit/10 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"6\r\nabcdef\r\n6\r\nghijkl\r\n0\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\n\r\n")
    for run in _split_runs(driver, data, flags):
        assert [r.status for r in parse_responses(run.raw)] == [413]
        assert run.closed_before_eof


def test_streamed_body_probes_and_deadline(driver):
    """While a streamed body arrives its response is pending and the body deadline applies
    (reading_body): a deadline aborts the sink with 408."""
    head = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n"
    run = driver.run([("D", head + b"abc"), ("P",), ("T", 408), ("P",)], None, FLAG_STREAM)
    #            in_request reading_body pending should_close
    assert run.probes == [(False, True, True, False), (False, False, False, True)]
    assert [r.status for r in parse_responses(run.raw)] == [408]
    run = driver.run([("D", head + b"abc"), ("E",), ("P",)], None, FLAG_STREAM)
    assert run.raw == b"" and run.closed and run.probes == [(False, False, False, True)]


def test_streamed_body_expect_continue(driver):
    """100 Continue goes out when the head is dispatched for a streamed body not yet sent."""
    head = b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"
    run = driver.run([("D", head), ("D", b"abc"), ("E",)], None, FLAG_STREAM)
    assert run.raw.startswith(CONTINUE_LINE)
    assert echo_of(parse_responses(run.raw)[1])[0] == b"ECHO POST / len=3 host=a\n"
    run = driver.run([("D", head + b"abc"), ("E",)], None, FLAG_STREAM)  # the body came with it
    assert not run.raw.startswith(CONTINUE_LINE)


CONTINUE_LINE = b"HTTP/1.1 100 Continue\r\n\r\n"
