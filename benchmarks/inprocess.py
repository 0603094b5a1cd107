"""In-process cost per request: raw request bytes in, response bytes out, no socket.

    python benchmarks/inprocess.py [--iterations 200000]

Each figure is the median over batches of 1,000 requests fed through one in-memory engine
connection (C++ timing loop, GIL held, as on the loop thread).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_app import app  # noqa: E402

from fasterapi import _core  # noqa: E402

POST_BODY = b'{"name":"widget","price":9.5,"tags":["a","b"]}'
REQUESTS = {
    "GET /plaintext": b"GET /plaintext HTTP/1.1\r\nHost: bench\r\n\r\n",
    "GET /json": b"GET /json HTTP/1.1\r\nHost: bench\r\n\r\n",
    "GET /items/123?q=abc": b"GET /items/123?q=abc HTTP/1.1\r\nHost: bench\r\n\r\n",
    "POST /items (pydantic)": b"POST /items HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
    b"Content-Length: " + str(len(POST_BODY)).encode() + b"\r\n\r\n" + POST_BODY,
    "POST /items/checked (pydantic + Depends + response_model)": b"POST /items/checked?token=t1 HTTP/1.1\r\n"
    b"Host: bench\r\nContent-Type: application/json\r\n"
    b"Content-Length: " + str(len(POST_BODY)).encode() + b"\r\n\r\n" + POST_BODY,
}
# A browser-like head for the parser figure.
PARSE_REQUEST = (
    b"GET /items/123?q=abc HTTP/1.1\r\nHost: localhost:8000\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\n"
    b"Accept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n\r\n"
)


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=200_000)
    args = ap.parse_args()
    n = args.iterations
    engine = app._build_engine()
    rows = [
        ("parse only (8-header GET)", median(_core.bench_parse(PARSE_REQUEST, n))),
        ("route only (/items/{item_id})", median(_core.bench_route(engine, "GET", "/items/123", n))),
    ]
    for name, raw in REQUESTS.items():
        rows.append((name + " (full)", median(_core.bench_connection(engine, raw, n))))
    print(f"in-process, median of {n // 1000} batches of 1,000 requests, Python {sys.version.split()[0]}\n")
    print("| stage / request | ns per request |")
    print("|---|---|")
    for name, ns in rows:
        print(f"| {name} | {ns:,.0f} |")


if __name__ == "__main__":
    main()
