"""HTTP/2: bench_app:app_async over h2c (prior knowledge), FasterAPI against Granian (`--http 2`) and
Hypercorn (h2c built in), in one run; and FasterAPI over HTTP/1.1 (wrk) beside it.

    python benchmarks/h2.py [--duration 10] [--peers benchmarks/.venv-peers/bin]

Each server pinned to CPU 0 (`taskset -c 0`), one worker; the client pinned to CPU 1:
`taskset -c 1 h2load -t1 -c64 -m16 -D<duration> --warm-up-time=1` (64 connections, 16 streams in
flight on each). Server CPU-µs/req: utime + stime of the server's process tree (/proc/<pid>/stat)
over the measured run, divided by the requests h2load completed (as wire.py does for wrk). Each
server's answer is checked first over h2 (status 200, the exact body). Results to stdout (markdown)
and benchmarks/results/h2.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from wire import CLK_TCK, HERE, cpu_ticks, free_port, run_wrk, stop, tree, wait_port  # benchmarks/ on sys.path

ENDPOINTS = {
    "/plaintext": b"Hello, World!",
    "/json": b'{"message":"Hello, World!"}',
    "/items/123?q=abc": b'{"item_id":123,"q":"abc"}',
}


def server_cmd(name: str, port: int, peers: Path) -> list[str]:
    if name == "fasterapi":
        return [sys.executable, "-m", "fasterapi", "run", "bench_app:app_async", "--port", str(port),
                "--log-level", "warning"]
    if name == "granian":
        return [str(peers / "granian"), "--interface", "asgi", "--http", "2", "--host", "127.0.0.1", "--port",
                str(port), "--workers", "1", "--log-level", "warning", "bench_app:app_async"]
    if name == "hypercorn":
        return [str(peers / "hypercorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "--log-level",
                "warning", "bench_app:app_async"]
    raise ValueError(name)


def check(port: int, path: str, expected: bytes) -> str:
    r = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-o", "-", "-w", "\n%{http_code} %{http_version}",
                        f"http://127.0.0.1:{port}{path}"], capture_output=True, timeout=30)
    body, _, tail = r.stdout.rpartition(b"\n")
    return "" if tail == b"200 2" and body == expected else f"{tail!r} {body[:80]!r}"


def run_h2load(url: str, duration: int, server_pid: int | None) -> dict:
    cmd = ["taskset", "-c", "1", "h2load", "-t1", "-c64", "-m16", f"-D{duration}", "--warm-up-time=1", url]
    pids = tree(server_pid) if server_pid else []
    cpu0, t0 = cpu_ticks(pids), time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    cpu1, t1 = cpu_ticks(pids), time.monotonic()
    rps = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out).group(1))
    m = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored", out)
    done, ok, failed, errored = (int(x) for x in m.groups())
    codes = re.search(r"status codes: (\d+) 2xx", out)
    server_s = (cpu1 - cpu0) / CLK_TCK
    return {
        "rps": rps,
        "requests": done,
        "succeeded": ok,
        "failed": failed + errored,
        "2xx": int(codes.group(1)) if codes else 0,
        # (the server's CPU over the whole h2load run, warm-up included: divided by the requests of
        # the measured part it slightly overstates every server alike)
        "server_cpu_us_per_req": server_s * 1e6 / done if done and pids else float("nan"),
        "server_cpu_pct": 100 * server_s / (t1 - t0) if pids else float("nan"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--peers", type=Path, default=HERE / ".venv-peers" / "bin")
    ap.add_argument("--servers", default="fasterapi,granian,hypercorn")
    args = ap.parse_args()
    results: dict[str, dict] = {}
    for name in args.servers.split(","):
        port = free_port()
        proc = subprocess.Popen(["taskset", "-c", "0", *server_cmd(name, port, args.peers)], cwd=HERE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        res: dict[str, dict] = {}
        try:
            wait_port(port, proc)
            for path, expected in ENDPOINTS.items():
                bad = check(port, path, expected)
                if bad:
                    res[path] = {"error": f"wrong answer: {bad}"}
                    print(f"  {name} {path}: wrong answer {bad}", file=sys.stderr)
                    continue
                r = run_h2load(f"http://127.0.0.1:{port}{path}", args.duration, proc.pid)
                res[path] = r
                print(f"  {name:10} h2 {path:16} {r['rps']:>10,.0f} req/s  {r['server_cpu_us_per_req']:.2f} "
                      f"CPU-µs/req  server {r['server_cpu_pct']:.0f}%  failed {r['failed']}", file=sys.stderr)
                if name == "fasterapi":  # HTTP/1.1 beside it, on the same server
                    run_wrk(f"http://127.0.0.1:{port}{path}", None, 1, 64)
                    w = run_wrk(f"http://127.0.0.1:{port}{path}", None, args.duration, 64, proc.pid)
                    res["h1 " + path] = w
                    print(f"  {name:10} h1 {path:16} {w['rps']:>10,.0f} req/s  "
                          f"{w['server_cpu_us_per_req']:.2f} CPU-µs/req", file=sys.stderr)
        finally:
            stop(proc)
        results[name] = res
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"HTTP/2 (h2c), h2load -t1 -c64 -m16 -D{args.duration}, one worker on CPU 0, {stamp}", "",
             "| server | protocol | endpoint | req/s | server CPU-µs/req |", "|---|---|---|---:|---:|"]
    for name, res in results.items():
        for key, r in res.items():
            proto, _, path = key.rpartition(" ") if key.startswith("h1 ") else ("h2", "", key)
            if "error" in r:
                lines.append(f"| {name} | {proto} | {path} | {r['error']} | |")
            else:
                lines.append(f"| {name} | {proto} | `{path}` | {r['rps']:,.0f} | {r['server_cpu_us_per_req']:.1f} |")
    print("\n".join(lines))
    out = HERE / "results" / "h2.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"when": stamp, "duration": args.duration, "results": results}, indent=1))


if __name__ == "__main__":
    main()
