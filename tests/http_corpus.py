"""The hostile HTTP/1.1 corpus, shared by the native driver test (tests/native/test_http_corpus.py)
and the real-socket test (tests/integration/test_hostile_socket.py): case loading, split modes,
response parsing and the per-case verdicts (see the corpus README for the `expect` keys).

A run is judged on what the client saw: the raw response bytes, whether the server closed the
connection before the client's EOF, and whether it closed at all. `served`/`max_output` are only
known to the in-process driver (None over a socket: those checks are skipped).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import random
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "http-corpus" / "cases.jsonl"
OWN = REPO / "tests" / "data" / "http" / "cases.jsonl"

FLAG_PENDING = 1  # handle() returns Pending, completed by the driver after each event
FLAG_NO_DRAIN = 2  # the peer does not read until the end

IMF_FIXDATE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
    r"\d\d:\d\d:\d\d GMT"
)
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


@dataclasses.dataclass
class Run:
    raw: bytes
    closed_before_eof: bool
    closed: bool
    served: int | None = None
    max_output: int | None = None
    probes: list[tuple[bool, bool, bool, bool]] = dataclasses.field(default_factory=list)


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


def shared_cases() -> list[dict]:
    """The external corpus beside the checkout (<repo>/../shared/http-corpus), when present.

    A user's clone has none: then only the project's own corpus runs (tests/data/http), and the
    session header says so in one line (tests/conftest.py)."""
    if not SHARED.exists():
        return []
    return load_cases(SHARED, "shared")


SHARED_CASES = shared_cases()
SHARED_NOTE = (
    f"external HTTP corpus: {len(SHARED_CASES)} cases from {SHARED}"
    if SHARED_CASES
    else f"external HTTP corpus: not found at {SHARED}, not collected (the project's own corpus runs)"
)

OWN_CASES = load_cases(OWN, "own")


def segments_of(case: dict, pauses: bool = False) -> list[tuple]:
    """The case's events as given: ('D', bytes) for data, or ops ('S',) drain / ('T', status) fail /
    ('E',) EOF. With `pauses`, a segment's `pause_s` > 0 adds ('W', seconds) after it."""
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
        if pauses and seg.get("pause_s"):
            events.append(("W", float(seg["pause_s"])))
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


def modes_for(case: dict, full: bool = True, seeds: int = 5, pauses: bool = False) -> dict[str, list[tuple]]:
    """Split modes of a case: as given, whole, one byte at a time ('B' events) and, when `full`,
    `seeds` seeded random splits; then EOF unless the case says `no_eof`."""
    given = segments_of(case, pauses)
    runs = data_runs(given)
    modes = {"segments": given, "whole": runs, "bytes": [("B", ev[1]) if ev[0] == "D" else ev for ev in runs]}
    if full:
        for seed in range(seeds):
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
    if "served" in chk and run.served is not None:
        assert run.served == chk["served"], f"{ctx}: served {run.served}"
    if "max_output" in chk and run.max_output is not None:
        assert run.max_output <= chk["max_output"], f"{ctx}: output grew to {run.max_output}"
    for s in chk.get("contains", []) if mode == "segments" else []:
        assert s.encode("latin-1") in run.raw, f"{ctx}: missing {s!r}"
    return resps


def normalized(run: Run) -> tuple:
    raw = re.sub(rb"\r\nDate: [^\r]*", b"\r\nDate: -", run.raw.replace(CONTINUE, b""))
    return raw, run.closed_before_eof, run.served
