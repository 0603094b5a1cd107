"""--loop-threads on this interpreter, side by side in one run: 1 loop, N loop threads, N worker
processes, on GET /json, POST /items and GET /cpu (an `async def` burning 1 ms of pure-Python
CPU on its loop): requests/s, p99 latency (wrk --latency) and the server's memory (the summed
RSS of its processes after the load). The mode each configuration really ran in is printed
from the server's own startup lines (threads, sub-interpreters, or processes and why).

    PYTHONPATH=/tmp/snapb python benchmarks/loop_threads.py                 # FastAPI app
    PYTHONPATH=/tmp/snapb python benchmarks/loop_threads.py --starlette     # plain Starlette app
        [--loops 2] [--duration 5] [--connections 32] [--rounds 1]

With --rounds R the configurations run R times, interleaved, and each cell is the best round
(the highest req/s, with that round's p99; RSS: the highest): on a shared machine other
processes only ever slow a run down.

Free-threaded 3.13t: the FastAPI app on loop threads of one interpreter. CPython 3.12+ with the
GIL: FastAPI falls back to processes (pydantic-core); --starlette runs loops in sub-interpreters.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from _procs import free_port
from loop_threads_app import SPIN_1MS

HERE = Path(__file__).resolve().parent


def rss_kb(pid: int) -> int:
    """VmRSS of pid and of its descendants."""
    total = 0
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += rss_kb(int(child))
    except (OSError, AttributeError):
        pass
    return total


def wrk(url: str, duration: int, connections: int, script: str | None = None) -> tuple[float, str, int]:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script:
        cmd += ["-s", str(HERE / script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    # the 99% line of the latency distribution (a "+/- Stdev" such as 76.99% is not it)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, p99, int(errors.group(1)) if errors else 0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--loops", type=int, default=2)
    p.add_argument("--duration", type=int, default=5)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--starlette", action="store_true")
    p.add_argument("--rounds", type=int, default=1)
    a = p.parse_args()
    ref = "loop_threads_app:starlette_app" if a.starlette else "loop_threads_app:app"
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    print(f"python {sys.version.split()[0]} ({'GIL' if gil else 'free-threaded, GIL off'}), {ref}, ", end="")
    print(f"wrk -t2 -c{a.connections} -d{a.duration}s, best of {a.rounds}, {os.cpu_count()} cores; ", end="")
    print(f"/cpu: {SPIN_1MS} iterations (1 ms here)")
    env = {**os.environ, "FASTERAPI_BENCH_SPIN": str(SPIN_1MS)}
    configs = [
        ("1 loop", ["--loop-threads", "1"]),
        (f"{a.loops} loop threads", ["--loop-threads", str(a.loops)]),
        (f"{a.loops} worker processes", ["--workers", str(a.loops)]),
    ]
    routes = [("GET /json", "/json", None), ("POST /items", "/items", "post.lua"), ("GET /cpu (1 ms)", "/cpu", None)]
    # the best of --rounds, the configurations interleaved (other processes only ever slow a run)
    best: dict[tuple[str, str], tuple[float, str, int]] = {}
    mems: dict[str, float] = {}
    modes: dict[str, str] = {}
    for _round in range(a.rounds):
        for name, args in configs:
            port = free_port()
            cmd = [sys.executable, "-m", "fasterapi", "run", ref, "--port", str(port), *args]
            server = subprocess.Popen(
                cmd, cwd=HERE, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            try:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    r = subprocess.run(["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{port}/json"], check=False)
                    if r.returncode == 0:
                        break
                    time.sleep(0.1)
                time.sleep(0.5)  # every loop / worker up
                wrk(f"http://127.0.0.1:{port}/json", 1, a.connections)  # warm-up
                for label, path, script in routes:
                    got = wrk(f"http://127.0.0.1:{port}{path}", a.duration, a.connections, script)
                    if (name, label) not in best or got[0] > best[name, label][0]:
                        best[name, label] = got
                mems[name] = max(mems.get(name, 0.0), rss_kb(server.pid) / 1024)
            finally:
                server.terminate()
                out, _ = server.communicate(timeout=30)
            mode = [
                line.split(": ", 1)[-1]
                for line in out.splitlines()
                if "loop threads in one process" in line or "instead" in line or "started" in line
            ]
            modes[name] = "; ".join(mode) or "one process, one loop"
    rows = []
    for name, _args in configs:
        cells = []
        for label, _path, _script in routes:
            rps, p99, bad = best[name, label]
            cells.append(f"{rps:,.0f} / {p99}" + (f" ({bad} non-2xx)" if bad else ""))
        rows.append((name, cells, mems[name], modes[name]))
    print()
    print("| configuration | " + " | ".join(f"{r[0]} req/s / p99" for r in routes) + " | RSS MB | ran as |")
    print("|---|" + "---|" * (len(routes) + 2))
    for name, cells, mem, mode in rows:
        print(f"| {name} | " + " | ".join(cells) + f" | {mem:.0f} | {mode} |")


if __name__ == "__main__":
    main()
