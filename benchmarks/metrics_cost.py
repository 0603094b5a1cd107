"""The cost of --metrics-path: the engine's per-request counting on vs off, in one run.

In process: `_core.bench_cpu` (the C++ timing loop, thread CPU time, ns per request) on an engine built
as `fasterapi run` builds it, metrics attached (`_core.metrics_attach`, what --metrics-path does in a
worker) and detached in alternating rounds, so drift hits both sides alike.

Over the wire (--wire): `fasterapi run` with and without `--metrics-path /metrics`, alternating, the
server pinned to CPU 0 and wrk to CPU 1 (`taskset -c 1 wrk -t1 -c64 -d<duration>s`).

    PYTHONPATH=<a copy of src/> python3 benchmarks/metrics_cost.py [--rounds 10] [--wire --duration 5]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from inprocess import REQUESTS, engine_for, load_bench_app, sync_status  # noqa: E402

from fasterapi import _core  # noqa: E402

CASES = ["GET /json", "GET /items/123?q=abc", "POST /items (pydantic)"]


def inprocess(rounds: int, n: int) -> None:
    app = load_bench_app(False).app_async
    print(f"in process: _core.bench_cpu, {n} requests per round, {rounds} rounds alternating off/on; "
          "median ns/request")
    print("| request | metrics off | metrics on | on / off |")
    print("|---|---:|---:|---:|")
    for case in CASES:
        raw = REQUESTS[case]
        engine, _handler, _reports = engine_for(app)
        assert sync_status(engine, raw) == b"HTTP/1.1 200 OK"
        off: list[float] = []
        on: list[float] = []
        for _ in range(rounds):
            _core.metrics_detach()
            off.append(statistics.median(_core.bench_cpu(engine, raw, n)))
            _core.metrics_attach(0, "/metrics")
            on.append(statistics.median(_core.bench_cpu(engine, raw, n)))
        _core.metrics_detach()
        a, b = statistics.median(off), statistics.median(on)
        print(f"| {case} | {a:.0f} | {b:.0f} | {b / a:.3f} |")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wrk_once(metrics: bool, duration: int) -> float:
    port = free_port()
    args = ["taskset", "-c", "0", sys.executable, "-m", "fasterapi", "run", "bench_app:app_async", "--port", str(port),
            "--log-level", "warning"]
    if metrics:
        args += ["--metrics-path", "/metrics"]
    server = subprocess.Popen(args, cwd=HERE, env=dict(os.environ))
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        url = f"http://127.0.0.1:{port}/json"
        subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c64", "-d1s", url], capture_output=True, check=True)
        out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c64", f"-d{duration}s", url],
                             capture_output=True, text=True, check=True).stdout
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        assert m, out
        return float(m.group(1))
    finally:
        server.terminate()
        server.wait(30)


def wire(rounds: int, duration: int) -> None:
    off: list[float] = []
    on: list[float] = []
    for _ in range(rounds):
        off.append(wrk_once(False, duration))
        on.append(wrk_once(True, duration))
    print(f"\nover the wire: GET /json, `taskset -c 1 wrk -t1 -c64 -d{duration}s`, server `taskset -c 0 fasterapi "
          f"run bench_app:app_async [--metrics-path /metrics]`, {rounds} rounds alternating off/on")
    print("| | metrics off | metrics on | on / off |")
    print("|---|---:|---:|---:|")
    print("| req/s per round | " + ", ".join(f"{v:,.0f}" for v in off) + " | " +
          ", ".join(f"{v:,.0f}" for v in on) + " | |")
    a, b = statistics.median(off), statistics.median(on)
    print(f"| median req/s | {a:,.0f} | {b:,.0f} | {b / a:.3f} |")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--n", type=int, default=200_000)
    p.add_argument("--wire", action="store_true")
    p.add_argument("--wire-rounds", type=int, default=3)
    p.add_argument("--duration", type=int, default=5)
    args = p.parse_args()
    inprocess(args.rounds, args.n)
    if args.wire:
        wire(args.wire_rounds, args.duration)


if __name__ == "__main__":
    main()
