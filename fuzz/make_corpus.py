#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/<target>/ (deterministic; re-run after changing the inputs).

http, server: requests from the hostile corpora (tests/data/http/cases.jsonl and, if present,
../shared/http-corpus/cases.jsonl), each behind the target's header bytes (mode, split sizes;
see the layout comment at the top of fuzz/http_fuzz.cpp and fuzz/server_fuzz.cpp).
router: seeded random bytes (the target builds templates and paths from them).
json: strings with escapes, UTF-8 and control bytes, and 8-byte number patterns.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import shutil
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "fuzz" / "corpus"
SOURCES = [ROOT / "tests" / "data" / "http" / "cases.jsonl", ROOT.parent / "shared" / "http-corpus" / "cases.jsonl"]
PER_TARGET = 48


def streams() -> list[bytes]:
    out: list[bytes] = []
    for src in SOURCES:
        if not src.exists():
            continue
        for line in src.read_text().splitlines():
            case = json.loads(line)
            if case.get("limits"):
                continue
            data = b"".join(base64.b64decode(s["b64"]) for s in case["segments"] if "b64" in s)
            if data and len(data) <= 3000:
                out.append(data)
    return out


def write(target: str, blobs: list[bytes]) -> None:
    d = OUT / target
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    for b in blobs:
        (d / hashlib.sha1(b).hexdigest()).write_bytes(b)


def main() -> None:
    rng = random.Random(20261127)
    reqs = streams()
    rng.shuffle(reqs)
    # A few hand-made ones that reach every mode.
    basic = [
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: a\r\n\r\n",
        b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
        b"5;a=b\r\nhello\r\n0\r\nT: 1\r\n\r\n",
        b"HEAD /status/204 HTTP/1.1\r\nHost: a\r\n\r\nGET /status/304 HTTP/1.0\r\n\r\n",
        b"GET /limit/3 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nabcd",
    ]
    picked = basic + reqs[: PER_TARGET - len(basic)]
    http, server = [], []
    for i, data in enumerate(picked):
        mode = rng.randrange(256) if i % 3 else i % 2
        nsplit = rng.randrange(0, 6)
        cut = rng.randrange(16)
        extra = bytes(rng.randrange(256) for _ in range(4))
        sizes = bytes(rng.randrange(0, 40) for _ in range(nsplit))
        http.append(bytes([mode, nsplit | cut << 4]) + extra + sizes + data)
        smode = mode & ~0x20 if i % 4 else mode
        server.append(bytes([smode, max(nsplit, 1)]) + extra + (sizes or b"\x07") + data)
    write("http", http)
    write("server", server)

    router = [bytes(rng.randrange(256) for _ in range(rng.randrange(8, 400))) for _ in range(PER_TARGET)]
    router += [b"/items/{id:int}/a" * 4, b"GET /users/me {p:path}" * 3]
    write("router", router)

    js = [b"", b"plain ascii", b'"quoted" \\ back\\slash', b"\x00\x01\x1f\x7f ctl", b"tab\tnl\ncr\rbs\bff\f",
          "caf\u00e9 \u2028 \u2029 \U0001f600".encode(), b"\xff\xfe invalid utf-8 \xc3", b"a" * 100 + b'"' + b"b" * 50]
    for v in (0.0, -0.0, 1.0, 0.1, 1e16, 1e-5, 123456789.125, 5e-324, 1.7976931348623157e308, float("nan")):
        js.append(struct.pack("<d", v) * 2)
    for v in (0, 1, 2**63 - 1, 2**64 - 1, 10**19):
        js.append(struct.pack("<Q", v) + b"pad")
    while len(js) < PER_TARGET:
        n = rng.choice([3, 17, 33, 200, 1500])
        js.append(bytes(rng.choice(b'ab"\\\n\x01\xc3\xa9 ') for _ in range(n)))
    write("json", js)
    for t in ("http", "server", "router", "json"):
        print(t, len(list((OUT / t).iterdir())))


if __name__ == "__main__":
    main()
