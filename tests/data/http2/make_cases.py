"""Writes cases.jsonl: the HTTP/2 hostile corpus (run in process by tests/native/test_http2_corpus.py
and over sockets by tests/integration/test_http2.py::test_corpus_over_socket).

Each case: the client bytes after the preface and an empty SETTINGS frame (hex), and what must
follow: `goaway` the GOAWAY error codes accepted (empty: no GOAWAY with an error, the connection
stays usable), `stream1` the fate of stream 1: "response" (HEADERS with a final status), "rst:<code>"
(RST_STREAM), or "none" (nothing on it).

    python3 tests/data/http2/make_cases.py
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import hpack

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, END_HEADERS, ACK = 1, 4, 1
PROTOCOL, INTERNAL, FLOW, CLOSED, FRAME_SIZE, CALM = 1, 2, 3, 5, 6, 11


def frame(t: int, f: int, sid: int, p: bytes = b"") -> bytes:
    return struct.pack(">I", len(p))[1:] + bytes([t, f]) + struct.pack(">I", sid) + p


def block(
    path: str = "/compiled",
    method: str = "GET",
    extra: list[tuple[str, str]] | None = None,
    pseudo: list[tuple[str, str]] | None = None,
) -> bytes:
    base = (
        pseudo
        if pseudo is not None
        else [(":method", method), (":path", path), (":scheme", "http"), (":authority", "a")]
    )
    return hpack.Encoder().encode([*base, *(extra or [])])


def get(sid: int = 1, **kw: object) -> bytes:
    return frame(HEADERS, END_STREAM | END_HEADERS, sid, block(**kw))  # type: ignore[arg-type]


def rapid_reset(n: int) -> bytes:
    enc = hpack.Encoder()
    out = b""
    for i in range(n):
        sid = 2 * i + 1
        hb = enc.encode([(":method", "GET"), (":path", "/compiled"), (":scheme", "http"), (":authority", "a")])
        out += frame(HEADERS, END_STREAM | END_HEADERS, sid, hb) + frame(RST_STREAM, 0, sid, struct.pack(">I", 8))
    return out


CASES: list[tuple[str, str, bytes, list[int], str]] = [
    ("OK01", "a plain GET", get(), [], "response"),
    (
        "OK02",
        "a POST with content-length and DATA",
        frame(HEADERS, END_HEADERS, 1, block(method="POST", extra=[("content-length", "3")]))
        + frame(DATA, END_STREAM, 1, b"abc"),
        [],
        "response",
    ),
    (
        "OK03",
        "a GET in HEADERS + CONTINUATION",
        frame(HEADERS, END_STREAM, 1, block()[:4]) + frame(CONTINUATION, END_HEADERS, 1, block()[4:]),
        [],
        "response",
    ),
    (
        "OK04",
        "padding and a priority in HEADERS",
        frame(
            HEADERS,
            END_STREAM | END_HEADERS | 0x8 | 0x20,
            1,
            bytes([4]) + struct.pack(">IB", 0, 15) + block() + b"\0" * 4,
        ),
        [],
        "response",
    ),
    ("OK05", "unknown frame types and flags are ignored", frame(0x63, 0xFF, 0, b"abcd") + get(), [], "response"),
    (
        "P01",
        "HEADERS on an even (server) stream",
        frame(HEADERS, END_STREAM | END_HEADERS, 2, block()),
        [PROTOCOL],
        "none",
    ),
    ("P02", "HEADERS on stream 0", frame(HEADERS, END_STREAM | END_HEADERS, 0, block()), [PROTOCOL], "none"),
    ("P03", "DATA on an idle stream", frame(DATA, END_STREAM, 1, b"x"), [PROTOCOL], "none"),
    (
        "P04",
        "a client PUSH_PROMISE",
        frame(PUSH_PROMISE, END_HEADERS, 1, struct.pack(">I", 2) + block()),
        [PROTOCOL],
        "none",
    ),
    ("P05", "SETTINGS with a 5-byte payload", frame(SETTINGS, 0, 0, b"\0" * 5), [FRAME_SIZE], "none"),
    ("P06", "PING with 7 bytes", frame(PING, 0, 0, b"1234567"), [FRAME_SIZE], "none"),
    (
        "P07",
        "SETTINGS_INITIAL_WINDOW_SIZE over 2^31-1",
        frame(SETTINGS, 0, 0, struct.pack(">HI", 4, 0x80000000)),
        [FLOW],
        "none",
    ),
    (
        "P08",
        "the connection window overflowed",
        frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7FFFFFFF)),
        [FLOW],
        "none",
    ),
    ("P09", "SETTINGS_ENABLE_PUSH 2", frame(SETTINGS, 0, 0, struct.pack(">HI", 2, 2)), [PROTOCOL], "none"),
    ("P10", "a bad HPACK index", frame(HEADERS, END_STREAM | END_HEADERS, 1, b"\xff\xff\xff\x7f"), [2, 9], "none"),
    ("P11", "CONTINUATION without HEADERS", frame(CONTINUATION, END_HEADERS, 1, block()), [PROTOCOL], "none"),
    (
        "P12",
        "HEADERS interrupted by another frame",
        frame(HEADERS, END_STREAM, 1, block()) + frame(PING, 0, 0, b"12345678"),
        [PROTOCOL],
        "none",
    ),
    ("S01", "an upper-case field name", get(extra=[("X-Up", "1")]), [], "rst:1"),
    ("S02", "a connection-specific field", get(extra=[("connection", "keep-alive")]), [], "rst:1"),
    (
        "S03",
        "no :path",
        frame(
            HEADERS,
            END_STREAM | END_HEADERS,
            1,
            block(pseudo=[(":method", "GET"), (":scheme", "http"), (":authority", "a")]),
        ),
        [],
        "rst:1",
    ),
    (
        "S04",
        "content-length 5, 3 bytes of DATA",
        frame(HEADERS, END_HEADERS, 1, block(method="POST", extra=[("content-length", "5")]))
        + frame(DATA, END_STREAM, 1, b"abc"),
        [],
        "rst:1",
    ),
    (
        "S05",
        "a pseudo-header after a regular field",
        frame(
            HEADERS,
            END_STREAM | END_HEADERS,
            1,
            block(pseudo=[(":method", "GET"), ("x", "1"), (":path", "/"), (":scheme", "http"), (":authority", "a")]),
        ),
        [],
        "rst:1",
    ),
    ("S06", "te: gzip", get(extra=[("te", "gzip")]), [], "rst:1"),
    (
        "P13",
        "a stream that depends on itself (nghttp2: a connection error)",
        frame(PRIORITY, 0, 1, struct.pack(">IB", 1, 15)) + get(3),
        [PROTOCOL],
        "none",
    ),
    (
        "L01",
        "a header list over --max-head",
        frame(HEADERS, END_STREAM, 1, block(extra=[("x-big", "v" * 20000)])[:16000])
        + frame(CONTINUATION, END_HEADERS, 1, block(extra=[("x-big", "v" * 20000)])[16000:]),
        [CALM],
        "none",
    ),
    ("L02", "200 fields", get(extra=[(f"x-{i}", "v") for i in range(200)]), [CALM], "none"),
    (
        "L03",
        "a CONTINUATION flood",
        frame(HEADERS, END_STREAM, 1, block()) + frame(CONTINUATION, 0, 1, b"") * 2000,
        [PROTOCOL, CALM],
        "none",
    ),
    ("L04", "a PING flood", frame(PING, 0, 0, b"12345678") * 3000, [CALM], "none"),
    ("L05", "a SETTINGS flood", frame(SETTINGS, 0, 0, b"") * 3000, [CALM], "none"),
    (
        "L06",
        "a WINDOW_UPDATE flood (not counted as control frames: it ends when the window overflows)",
        frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1 << 20)) * 3000,
        [FLOW],
        "none",
    ),
    ("L07", "rapid reset (CVE-2023-44487)", rapid_reset(1500), [CALM, INTERNAL], "none"),
    ("L08", "a SETTINGS frame of 40 entries", frame(SETTINGS, 0, 0, struct.pack(">HI", 3, 100) * 40), [CALM], "none"),
]


def main() -> None:
    out = Path(__file__).with_name("cases.jsonl")
    with out.open("w") as f:
        for cid, what, payload, goaway, stream1 in CASES:
            f.write(
                json.dumps({"id": cid, "what": what, "hex": payload.hex(), "goaway": goaway, "stream1": stream1}) + "\n"
            )


if __name__ == "__main__":
    main()
