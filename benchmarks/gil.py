"""Remedy 1a, implicit batching: req/s and server CPU per request for one GIL hold per loop tick
(`/inline`) against one GIL acquisition per request on a worker thread (`/per-request-gil`), at 1, 16
and 64 connections and pipelined 16 deep. Server on CPU 0, wrk on CPU 1.

    python benchmarks/gil.py [--duration 5]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from wire import free_port, run_wrk, wait_port

HERE = Path(__file__).resolve().parent


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=5)
    args = ap.parse_args()
    port = free_port()
    env = dict(os.environ)
    if any((HERE.parent / "src" / "fasterapi").glob("_core*.so")):  # a development tree
        env["PYTHONPATH"] = str(HERE.parent / "src")
    proc = subprocess.Popen(["taskset", "-c", "0", sys.executable, "-m", "fasterapi", "run", "gil_app:app",
                             "--port", str(port)], cwd=HERE, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        wait_port(port, proc)
        for conns, script, label in ((1, None, "1 connection"), (16, None, "16 connections"),
                                     (64, None, "64 connections"), (64, "pipeline_path.lua", "64 conns, pipelined 16")):
            row = [label]
            for path in ("/inline", "/per-request-gil"):
                url = f"http://127.0.0.1:{port}{path}"
                run_wrk(url, script, 1, conns)
                c0, t0 = cpu_seconds(proc.pid), time.monotonic()
                r = run_wrk(url, script, args.duration, conns)
                cpu = cpu_seconds(proc.pid) - c0
                served = r["rps"] * (time.monotonic() - t0)
                row += [r["rps"], cpu / served * 1e6]
            rows.append(row)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
    print(f"\nwrk -t1 -d{args.duration}s; server CPU (user+sys) per request from /proc\n")
    print("| load | one GIL hold per tick: req/s | µs CPU/req | one GIL acquisition per request: req/s | µs CPU/req | req/s ratio |")
    print("|---|---|---|---|---|---|")
    for label, r1, c1, r2, c2 in rows:
        print(f"| {label} | {r1:,.0f} | {c1:.1f} | {r2:,.0f} | {c2:.1f} | {r1 / r2:.2f}× |")


if __name__ == "__main__":
    main()
