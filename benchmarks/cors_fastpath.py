"""An app whose only middleware is CORSMiddleware: GET /json without an Origin header on the native
fast path vs through the middleware stack (what every request took before).

    taskset -c 0 python benchmarks/cors_fastpath.py [--iterations 100000]

In process (raw request bytes in, response bytes out), median of batches of 1,000 requests.
"""

from __future__ import annotations

import argparse
import statistics

from fasterapi import FastAPI, _core
from fasterapi.middleware.cors import CORSMiddleware

RAW = b"GET /json HTTP/1.1\r\nHost: bench\r\n\r\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=100_000)
    n = ap.parse_args().iterations
    app = FastAPI()
    app.add_middleware(CORSMiddleware, allow_origins=["https://a.example"])

    @app.get("/json")
    def hello():  # no return annotation: no response_model (as bench_app.py)
        return {"message": "Hello, World!"}

    engine = app._build_engine()
    fast = statistics.median(_core.bench_connection(engine, RAW, n))
    engine.python_routing_headers = ()  # every request through the middleware stack
    slow = statistics.median(_core.bench_connection(engine, RAW, n // 5))
    print(f"GET /json without Origin, CORS app: {fast:,.0f} ns/request on the fast path, "
          f"{slow:,.0f} ns/request through the middleware stack")


if __name__ == "__main__":
    main()
