"""The hostile HTTP/1.1 corpus end to end: every case over a real TCP connection to a real server.

Every case of the shared corpus (<repo>/../shared/http-corpus/cases.jsonl) and of our own
(tests/data/http/cases.jsonl) is sent to `tests/data/corpus_echo_app.py` (the corpus echo endpoint
as a Starlette app, with the driver's `/status/<NNN>`) served by `fasterapi run`:
  - as its segments are given (honouring each segment's `pause_s`; 100 ms between segments), all
    at once, byte by byte and at SEEDS seeded random splits (2 ms between pieces, so the server
    mostly sees them apart);
  - then, once the server has been quiet for QUIET seconds (or has closed), the client's EOF.
The verdicts are those of the in-process driver test (tests/http_corpus.py): the case's `expect`
key, the global invariants (no 5xx, nothing smuggled, one Content-Length, errors close the
connection) and the same normalized result for every split. Cases with `limits` get a server
started with the matching --max-* flags; cases with the driver's FLAG_PENDING a server whose
handler really awaits (every response through the engine's Pending path). The driver's per-route
body limit of `/limit/<N>` is a server-wide one here (a FastAPI app has no per-route limit): cases
sending to `/limit/<N>` get a server started with `--max-body N`.

For an absolute-form request-target the application sees the target's authority as its Host
(RFC 9112 3.2.2: the authority wins over the Host header).

Byte by byte: every byte is its own send() (TCP_NODELAY) for the first BYTEWISE_HEAD and last
BYTEWISE_TAIL bytes of a data run; the middle of the few large payloads (up to 200 KB) goes in
4 KiB sends, to keep the file fast. Splits at every offset are covered in-process (and under ASan)
by tests/native/test_http_corpus.py.

Not run here: the 5 cases whose segments contain socket-layer operations (`drain`, `fail`): the
same behaviours are tested over sockets by test_shutdown.py (drain) and test_slow_clients.py (408).

All runs go concurrently (CONCURRENCY connections at a time) against the servers; afterwards
every server must still be alive and serving.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import sys
import time
from pathlib import Path

import pytest

from ._reliability import spawn_server_tied
from .conftest import Server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the shared corpus module

from http_corpus import (  # noqa: E402
    FLAG_PENDING,
    OWN_CASES,
    SHARED_CASES,
    Run,
    check_run,
    modes_for,
    normalized,
    segments_of,
)

SEEDS = 2
QUIET = 0.4  # seconds of silence after the last byte either way before the client sends EOF
CLOSE_WAIT = 5.0  # after EOF, the server must close within this
RUN_TIMEOUT = 30.0
CONCURRENCY = 48
PIECE_GAP = 0.002  # between pieces of a random split
SEGMENT_GAP = 0.1  # between the case's own segments (so that e.g. a 100 Continue comes between)
BYTEWISE_HEAD = 4096
BYTEWISE_TAIL = 512
LIMIT_FLAGS = {
    "max_request_line": "--max-request-line",
    "max_head": "--max-head",
    "max_headers": "--max-headers",
    "max_body": "--max-body",
    "max_pipelined": "--max-pipelined",
    "output_high_water": "--output-high-water",
}


def _has_ops(case: dict) -> bool:
    return any(seg.get("op") for seg in case["segments"])


ALL_CASES = [c for c in SHARED_CASES + OWN_CASES if not _has_ops(c)]
OP_CASES = [c["id"] for c in SHARED_CASES + OWN_CASES if _has_ops(c)]


_LIMIT_PATH = re.compile(rb"^[A-Z]+ /limit/(\d+) HTTP/", re.M)


# The driver's default body limit (the corpus's CL19 sends one byte more); `fasterapi run`'s own
# default is larger (uvicorn has none).
DRIVER_MAX_BODY = 16 * 1024 * 1024


def _limits(case: dict) -> dict[str, int]:
    """The case's --max-* limits over the driver's defaults; a request to /limit/<N> (the
    driver's route with a body limit of N bytes) is served with --max-body N."""
    limits = {"max_body": DRIVER_MAX_BODY, **(case.get("limits") or {})}
    sent = b"".join(ev[1] for ev in segments_of(case) if ev[0] == "D")
    route_limits = {int(n) for n in _LIMIT_PATH.findall(sent)}
    if route_limits:
        assert len(route_limits) == 1 and "max_body" not in (case.get("limits") or {}), case["id"]
        limits["max_body"] = route_limits.pop()
    return limits


def _server_key(case: dict) -> str:
    return json.dumps({"limits": _limits(case), "pending": bool(case.get("flags", 0) & FLAG_PENDING)},
                      sort_keys=True)


def _case_tag(case: dict) -> str:
    return f"{case['_src'].split(':')[0]}:{case['id']}"


def _byte_pieces(data: bytes) -> list[bytes]:
    if len(data) <= BYTEWISE_HEAD + BYTEWISE_TAIL:
        return [data[i:i + 1] for i in range(len(data))]
    head = [data[i:i + 1] for i in range(BYTEWISE_HEAD)]
    mid_end = len(data) - BYTEWISE_TAIL
    mid = [data[i:min(i + 4096, mid_end)] for i in range(BYTEWISE_HEAD, mid_end, 4096)]
    tail = [data[i:i + 1] for i in range(mid_end, len(data))]
    return head + mid + tail


async def socket_run(port: int, events: list[tuple], gap: float = PIECE_GAP) -> Run:
    """Plays one split mode of a case on a new connection; returns what the client saw."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    buf = bytearray()
    closed = asyncio.Event()
    last = [time.monotonic()]

    async def pump() -> None:
        try:
            while True:
                b = await reader.read(65536)
                if not b:
                    break
                buf.extend(b)
                last[0] = time.monotonic()
        except (ConnectionResetError, BrokenPipeError):
            pass
        finally:
            closed.set()

    task = asyncio.create_task(pump())

    async def send(data: bytes) -> None:
        if closed.is_set() or writer.is_closing():
            return  # the server closed: the rest goes nowhere (as with a real client)
        try:
            writer.write(data)
            await writer.drain()
        except (ConnectionResetError, BrokenPipeError):
            pass
        last[0] = time.monotonic()

    async def quiesce() -> None:
        while not closed.is_set() and time.monotonic() - last[0] < QUIET:
            await asyncio.sleep(0.05)

    closed_before_eof = None
    try:
        for ev in events:
            kind = ev[0]
            if kind == "D":
                await send(ev[1])
                await asyncio.sleep(gap)
            elif kind == "B":
                for piece in _byte_pieces(ev[1]):
                    await send(piece)
                    await asyncio.sleep(0)
            elif kind == "W":
                await asyncio.sleep(ev[1])
                last[0] = time.monotonic()
            elif kind == "E":
                await quiesce()
                closed_before_eof = closed.is_set()
                if not closed_before_eof and not writer.is_closing():
                    try:
                        writer.write_eof()
                    except OSError:
                        pass
            else:
                raise ValueError(f"event {kind!r} has no socket equivalent")
        if closed_before_eof is None:  # a case without EOF
            await quiesce()
            closed_before_eof = closed.is_set()
        try:
            await asyncio.wait_for(closed.wait(), CLOSE_WAIT)
        except asyncio.TimeoutError:
            pass
        return Run(bytes(buf), bool(closed_before_eof), closed.is_set())
    finally:
        task.cancel()
        writer.close()


async def run_case_over_socket(port: int, case: dict, sem: asyncio.Semaphore) -> list[str]:
    """All split modes of one case, concurrently; returns failure messages (empty: passed)."""
    modes = modes_for(case, full=True, seeds=SEEDS, pauses=True)

    async def one(mode: str, events: list[tuple]) -> tuple[str, Run | None, str | None]:
        async with sem:
            try:
                gap = SEGMENT_GAP if mode == "segments" else PIECE_GAP
                run = await asyncio.wait_for(socket_run(port, events, gap), RUN_TIMEOUT)
            except Exception as exc:  # noqa: BLE001 - reported as the case's failure
                return mode, None, f"[{case['id']} / {mode}] client error {exc!r}"
        try:
            check_run(case, mode, run)
        except AssertionError as exc:
            return mode, run, str(exc)[:1500]
        return mode, run, None

    results = await asyncio.gather(*(one(m, ev) for m, ev in modes.items()))
    failures = [err for _, _, err in results if err]
    runs = {m: r for m, r, _ in results if r is not None}
    if not failures and "whole" in runs:
        ref = normalized(runs["whole"])
        for mode, run in runs.items():
            got = normalized(run)
            if got != ref:
                failures.append(
                    f"[{case['id']}] split-dependent result over a socket: {mode} gave {got[0][:300]!r} "
                    f"closed={got[1]}, whole gave {ref[0][:300]!r} closed={ref[1]}"
                )
    return failures


def _start_servers(keys: list[str]) -> dict[str, Server]:
    """All servers at once (they boot in parallel), from this thread."""
    servers: dict[str, Server] = {}
    try:
        for key in keys:
            spec = json.loads(key)
            # HTTP/1.1 only, as the cases assume (F08, UP03: the h2 preface to an h1-only server is
            # refused); with HTTP/2 on, the preface starts an h2 session (tests/integration/test_http2.py).
            args: list[str] = ["--http", "h1"]
            for name, value in spec["limits"].items():
                args += [LIMIT_FLAGS[name], str(value)]
            env = {"CORPUS_ECHO_PENDING": "1" if spec["pending"] else "0"}
            servers[key] = spawn_server_tied("corpus_echo_app:app", *args, env=env)
        for s in servers.values():
            s.wait_ready(60.0)  # a dozen servers importing Starlette at once on a busy machine
    except BaseException:
        for s in servers.values():
            s.stop()
        raise
    return servers


@pytest.fixture(scope="module")
def corpus_results():
    keys = sorted({_server_key(c) for c in ALL_CASES})
    servers = _start_servers(keys)

    async def main() -> dict[str, list[str]]:
        sem = asyncio.Semaphore(CONCURRENCY)
        coros = [run_case_over_socket(servers[_server_key(c)].port, c, sem) for c in ALL_CASES]
        out = await asyncio.gather(*coros)
        return {c["id"] + "@" + c["_src"]: f for c, f in zip(ALL_CASES, out)}

    t0 = time.monotonic()
    try:
        results = asyncio.run(main())
        elapsed = time.monotonic() - t0
        # No request bytes may end a worker: every server is alive and serving afterwards.
        alive = {}
        for key, s in servers.items():
            ok = s.proc.poll() is None
            if ok:  # a request small enough for every limit set (max_head 64)
                with socket.create_connection(("127.0.0.1", s.port), timeout=5) as sock:
                    sock.sendall(b"GET /alive HTTP/1.1\r\nHost: a\r\n\r\n")
                    got = b""
                    while b"len=0" not in got and (b := sock.recv(4096)):
                        got += b
                ok = got.startswith(b"HTTP/1.1 200 ") and b"ECHO GET /alive len=0" in got
            alive[key] = ok
        yield {"results": results, "alive": alive, "elapsed": elapsed, "servers": len(servers)}
    finally:
        for s in servers.values():
            s.stop()


def _params() -> list:
    out = []
    for c in ALL_CASES:
        out.append(pytest.param(c, id=_case_tag(c).replace(":", "-")))
    return out


@pytest.mark.parametrize("case", _params())
def test_case_over_socket(corpus_results, case):
    failures = corpus_results["results"][case["id"] + "@" + case["_src"]]
    assert not failures, "\n".join(failures)


def test_servers_alive_and_serving_after_the_corpus(corpus_results):
    assert all(corpus_results["alive"].values()), corpus_results["alive"]
    total = len(corpus_results["results"])
    assert total == len(ALL_CASES) and total >= (300 if SHARED_CASES else 200)  # own corpus: 266
    print(f"{total} cases x {3 + SEEDS} split modes over sockets on {corpus_results['servers']} servers "
          f"in {corpus_results['elapsed']:.1f}s")


def test_op_cases_are_the_only_ones_left_out():
    # drain/fail are socket-loop operations, exercised by test_shutdown.py / test_slow_clients.py
    assert len(OP_CASES) <= 5, OP_CASES
