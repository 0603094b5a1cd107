"""TLS at the app: the same app (bench_app:app_async, GET /json) over HTTP and HTTPS, FasterAPI
(`--ssl-certfile/--ssl-keyfile`) and uvicorn (uvloop + httptools, the same flags, the same
certificate) in one run.

    python benchmarks/tls.py [--duration 10] [--peers benchmarks/.venv-peers/bin]

Each server pinned to CPU 0 (`taskset -c 0`), one worker; wrk pinned to CPU 1 (wrk.py's
`taskset -c 1 wrk -t1 -c64 -d<duration>s --latency`), a warm-up run first. Two loads per server
and scheme:
  keep-alive   wrk's 64 connections, each reused: req/s of the steady state (TLS: the record
               layer's cost, the handshakes happen once)
  new conn     the same with `-H "Connection: close"`: every request on a new TCP connection, so
               over HTTPS every request is a full handshake (wrk does not resume sessions):
               handshakes/s
The certificate is a self-signed RSA-2048 one made here by `openssl req` (the common case; an
ECDSA certificate makes handshakes cheaper for every server alike). Results to stdout (markdown)
and benchmarks/results/tls.json.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path

from wire import HERE, free_port, run_wrk, stop, wait_port  # benchmarks/ is on sys.path (run as a script)

EXPECTED = b'{"message":"Hello, World!"}'


def make_cert(d: Path) -> tuple[Path, Path]:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out",
                    "cert.pem", "-days", "2", "-subj", "/CN=localhost"], cwd=d, check=True, capture_output=True)
    return d / "cert.pem", d / "key.pem"


def server_cmd(name: str, port: int, tls: tuple[Path, Path] | None, peers: Path) -> list[str]:
    ssl_args = ["--ssl-certfile", str(tls[0]), "--ssl-keyfile", str(tls[1])] if tls else []
    if name == "fasterapi":
        return [sys.executable, "-m", "fasterapi", "run", "bench_app:app_async", "--port", str(port),
                "--log-level", "warning", *ssl_args]
    return [str(peers / "uvicorn"), "bench_app:app_async", "--port", str(port), "--loop", "uvloop", "--http",
            "httptools", "--no-access-log", "--log-level", "warning", *ssl_args]


def check(port: int, tls: bool) -> str:
    if tls:
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=10, context=ssl._create_unverified_context())
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/json")
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    return "" if resp.status == 200 and data == EXPECTED else f"{resp.status} {data[:80]!r}"


def measure(name: str, scheme: str, args: argparse.Namespace, tls: tuple[Path, Path]) -> dict:
    port = free_port()
    cmd = server_cmd(name, port, tls if scheme == "https" else None, args.peers)
    proc = subprocess.Popen(["taskset", "-c", "0", *cmd], cwd=HERE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    out: dict = {}
    try:
        wait_port(port, proc)
        bad = check(port, scheme == "https")
        if bad:
            return {"error": f"wrong answer: {bad}"}
        url = f"{scheme}://127.0.0.1:{port}/json"
        for load, script in (("keepalive", None), ("newconn", "close.lua")):
            run_wrk(url, script, args.warmup, args.connections)
            r = run_wrk(url, script, args.duration, args.connections, proc.pid)
            out[load] = r
            print(f"  {name:10} {scheme:5} {load:9} {r['rps']:>10,.0f} req/s  p99 {r['p99_ms']:.2f} ms  "
                  f"{r['server_cpu_us_per_req']:.1f} CPU-µs/req  server {r['server_cpu_pct']:.0f}%  "
                  f"wrk {r['wrk_cpu_pct']:.0f}%  non2xx {r['non2xx']} {r['socket_errors']}", file=sys.stderr)
    finally:
        stop(proc)
    return out


def report(data: dict) -> str:
    lines = ["| server | scheme | keep-alive req/s | CPU-µs/req | new connection req/s | CPU-µs/req |",
             "|---|---|---:|---:|---:|---:|"]
    for name, by_scheme in data["servers"].items():
        for scheme, r in by_scheme.items():
            if "error" in r:
                lines.append(f"| {name} | {scheme} | {r['error']} | | | |")
                continue
            k, n = r["keepalive"], r["newconn"]
            lines.append(f"| {name} | {scheme} | {k['rps']:,.0f} | {k['server_cpu_us_per_req']:.1f} | "
                         f"{n['rps']:,.0f} | {n['server_cpu_us_per_req']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--peers", type=Path, default=HERE / ".venv-peers" / "bin",
                   help="bin/ of the environment with uvicorn, uvloop, httptools (benchmarks/setup.sh)")
    args = p.parse_args()
    if not (args.peers / "uvicorn").exists():
        sys.exit(f"no uvicorn in {args.peers}: run benchmarks/setup.sh or give --peers")
    data: dict = {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                  "duration": args.duration, "connections": args.connections, "servers": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tls = make_cert(Path(tmp))
        for name in ("fasterapi", "uvicorn"):
            data["servers"][name] = {scheme: measure(name, scheme, args, tls) for scheme in ("http", "https")}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "tls.json").write_text(json.dumps(data, indent=2))
    print(report(data))


if __name__ == "__main__":
    main()
