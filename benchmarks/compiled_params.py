"""Routes with a `request: Request`, a `response: Response` or a cookie-reading dependency: on the
compiled fast plan vs the same route forced onto the Python path.

    taskset -c 0 python benchmarks/compiled_params.py [--iterations 50000]

In process (raw request bytes in, response bytes out), median of batches of 1,000 requests.
"""

from __future__ import annotations

import argparse
import statistics
from typing import Annotated, Any

from fasterapi import Cookie, Depends, FastAPI, Request, Response, _core


def session(session_id: Annotated[str, Cookie()] = "") -> str:
    return session_id


def build(fast: bool) -> Any:
    app = FastAPI()

    @app.get("/request/{x}")
    def with_request(x: int, request: Request):
        return {"x": x, "host": request.client.host}

    @app.get("/response")
    def with_response(response: Response):
        response.headers["x-a"] = "1"
        return {"a": 1}

    @app.get("/cookie")
    def with_cookie(s: Annotated[str, Depends(session)]):
        return {"s": s}

    if not fast:
        for route in app.routes:
            if getattr(route, "path", "").startswith(("/request", "/response", "/cookie")):
                route.fast_plan = lambda *a, **k: None  # type: ignore[method-assign]
    return app._build_engine()


REQUESTS = {
    "GET /request/5 (request: Request)": b"GET /request/5 HTTP/1.1\r\nHost: bench\r\n\r\n",
    "GET /response (response: Response)": b"GET /response HTTP/1.1\r\nHost: bench\r\n\r\n",
    "GET /cookie (Depends reading a Cookie)": b"GET /cookie HTTP/1.1\r\nHost: bench\r\nCookie: a=1; session_id=abc\r\n\r\n",
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=50_000)
    n = ap.parse_args().iterations
    fast, slow = build(True), build(False)
    print("| route | compiled fast plan ns | Python path ns |")
    print("|---|---:|---:|")
    for name, raw in REQUESTS.items():
        a = statistics.median(_core.bench_connection(fast, raw, n))
        b = statistics.median(_core.bench_connection(slow, raw, n))
        print(f"| {name} | {a:,.0f} | {b:,.0f} |")


if __name__ == "__main__":
    main()
