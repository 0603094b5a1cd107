"""Over-the-wire benchmark: every server pinned to CPU 0, wrk pinned to CPU 1, same app, one run.

    bash benchmarks/setup.sh && python benchmarks/wire.py [--duration 10] [--only json,items]

Prints a markdown table of req/s, p99 and the ratio of FasterAPI to each peer.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS = HERE / ".venv-peers" / "bin"

ENDPOINTS = {
    "plaintext": ("/plaintext", None),
    "json": ("/json", None),
    "items": ("/items/123?q=abc", None),
    "post_items": ("/items", "post.lua"),
    "post_checked": ("/items/checked?token=t1", "post.lua"),  # + Depends + response_model
    "plaintext_pipelined16": ("/plaintext", "pipeline.lua"),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def servers(port: int) -> dict[str, tuple[list[str], dict[str, str]]]:
    fastapi_env = {"BENCH_FRAMEWORK": "fastapi"}
    return {
        "fasterapi": ([sys.executable, "-m", "fasterapi", "run", "bench_app:app", "--port", str(port)], {}),
        "fastapi+uvicorn": (
            [str(PEERS / "uvicorn"), "bench_app:app", "--port", str(port), "--loop", "uvloop", "--http",
             "httptools", "--no-access-log", "--log-level", "warning"],
            fastapi_env,
        ),
        "fastapi+granian": (
            [str(PEERS / "granian"), "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1", "--log-level", "warning", "bench_app:app"],
            fastapi_env,
        ),
    }


def wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def to_ms(value: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", value)
    if not m:
        return float("nan")
    n, unit = float(m.group(1)), m.group(2)
    return n / 1000 if unit == "us" else n * 1000 if unit == "s" else n


def run_wrk(url: str, script: str | None, duration: int, connections: int) -> dict[str, float]:
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script:
        cmd += ["-s", str(HERE / script)]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"\s99%\s+(\S+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock_err = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "p99_ms": to_ms(p99.group(1)) if p99 else float("nan"),
        "non2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": sock_err.group(1) if sock_err else "",
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--only", default="", help="comma-separated endpoint names")
    ap.add_argument("--servers", default="fasterapi,fastapi+uvicorn,fastapi+granian")
    args = ap.parse_args()
    endpoints = {k: v for k, v in ENDPOINTS.items() if not args.only or k in args.only.split(",")}
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name in args.servers.split(","):
        port = free_port()
        cmd, extra_env = servers(port)[name]
        env = dict(os.environ, **extra_env)
        proc = subprocess.Popen(["taskset", "-c", "0", *cmd], cwd=HERE, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(port, proc)
            results[name] = {}
            for ep, (path, script) in endpoints.items():
                url = f"http://127.0.0.1:{port}{path}"
                run_wrk(url, script, 2, args.connections)  # warm-up
                results[name][ep] = run_wrk(url, script, args.duration, args.connections)
                print(f"{name:18} {ep:22} {results[name][ep]}", file=sys.stderr)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "wire.json").write_text(json.dumps(results, indent=2))
    names = list(results)
    print(f"\nwrk -t1 -c{args.connections} -d{args.duration}s, server on CPU 0, wrk on CPU 1 (same run)\n")
    header = "| endpoint | " + " | ".join(f"{n} req/s (p99 ms)" for n in names)
    peers = [n for n in names if n != "fasterapi"]
    header += "".join(f" | × {p}" for p in peers) + " |"
    print(header)
    print("|" + "---|" * (1 + len(names) + len(peers)))
    for ep in endpoints:
        row = f"| {ep} | " + " | ".join(
            f"{results[n][ep]['rps']:,.0f} ({results[n][ep]['p99_ms']:.2f})" for n in names)
        if "fasterapi" in results:
            for p in peers:
                row += f" | {results['fasterapi'][ep]['rps'] / results[p][ep]['rps']:.1f}×"
        print(row + " |")


if __name__ == "__main__":
    main()
