"""Slowloris: thousands of connections trickling a request head that never completes, and a
normal client next to them.

    python benchmarks/slowloris.py --connections 5000 --header-timeout 10

starts `fasterapi run reliability_app:app` (tests/data) under `ulimit -n`, opens N connections
(an asyncio client of our own) that each send the start of a head and then one more byte every
--interval seconds, while a separate process sends normal requests (keep-alive, and a new
connection every 10th request) and records their latency and errors. Reports:

- the slow connections: opened, closed by the server (408 or plain close), and for each the
  close time minus its deadline (first byte sent + --header-timeout): it must be >= 0 (not early)
  and small (the sweep runs every 100 ms; the claim is "within 1 s");
- the normal client: requests, errors, p50/p99/max latency, while the crowd is there;
- the server's RSS and CPU time.

--url http://127.0.0.1:PORT attacks a server you started yourself (then --header-timeout must
match its setting). The script raises its own RLIMIT_NOFILE to the hard limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import resource
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when loaded by file path (tests)
from _procs import DATA, free_port, server_env  # noqa: E402
from _procs import die_with_parent as _die_with_parent  # noqa: E402


def raise_nofile(want: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    new = min(max(soft, want), hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return new


def start_server(port: int, header_timeout: float, nofile: int, extra: list[str]) -> subprocess.Popen:
    cmd = (
        f"ulimit -n {nofile} && exec {shlex.quote(sys.executable)} -m fasterapi run reliability_app:app "
        f"--host 127.0.0.1 --port {port} --header-timeout {header_timeout} --max-connections 20000 "
        f"--backlog 4096 {' '.join(map(shlex.quote, extra))}"
    )
    env = server_env()
    proc = subprocess.Popen(["bash", "-c", cmd], cwd=DATA, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                            preexec_fn=_die_with_parent)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("server did not start")


def proc_stats(pid: int) -> dict[str, float]:
    out: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out["rss_mb"] = int(line.split()[1]) / 1024
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        out["cpu_s"] = (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
        out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        pass
    return out


# ---------------------------------------------------------------------------------------------
# The normal client (its own process, so the crowd's event loop does not skew its timings)


def normal_client(port: int, duration: float, conn: mp.connection.Connection) -> None:
    lat: list[float] = []
    errors: list[str] = []
    req = b"GET /json HTTP/1.1\r\nHost: a\r\n\r\n"
    sock = None
    t_end = time.monotonic() + duration
    i = 0
    while time.monotonic() < t_end:
        i += 1
        t0 = time.perf_counter()
        try:
            if sock is None or i % 10 == 0:
                if sock is not None:
                    sock.close()
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(req)
            data = b""
            while not data.endswith(b'"Hello, World!"}'):
                b = sock.recv(65536)
                if not b:
                    raise ConnectionError("closed")
                data += b
            if not data.startswith(b"HTTP/1.1 200 "):
                raise ConnectionError(data[:40].decode("latin-1"))
            lat.append(time.perf_counter() - t0)
        except OSError as exc:
            errors.append(repr(exc))
            if sock is not None:
                sock.close()
            sock = None
        time.sleep(0.005)  # ~150-200 requests/s: a steady probe, not a load test
    conn.send({"lat": lat, "errors": errors})
    conn.close()


# ---------------------------------------------------------------------------------------------
# The crowd


class Slow:
    __slots__ = ("first_byte", "closed_at", "how", "status")

    def __init__(self) -> None:
        self.first_byte = 0.0
        self.closed_at = 0.0
        self.how = ""
        self.status = b""


async def trickle(host: str, port: int, interval: float, stop: asyncio.Event, rec: Slow) -> None:
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as exc:
        rec.how = f"connect: {exc.__class__.__name__}"
        return
    head = b"GET /json HTTP/1.1\r\nHost: a\r\nX-Trickle: "

    async def watch() -> None:
        try:
            data = await reader.read(65536)
            rec.status = data[:12]
            while data:
                data = await reader.read(65536)
            rec.how = "eof"
        except ConnectionError:
            rec.how = "reset"
        rec.closed_at = time.monotonic()

    watcher = asyncio.create_task(watch())
    try:
        writer.write(head)
        rec.first_byte = time.monotonic()
        while not stop.is_set() and not watcher.done():
            try:
                await asyncio.wait_for(asyncio.shield(watcher), interval)
            except asyncio.TimeoutError:
                pass
            if watcher.done() or stop.is_set():
                break
            writer.write(b"t")
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        if not watcher.done():
            try:
                await asyncio.wait_for(watcher, 0.01 if stop.is_set() else 2)
            except asyncio.TimeoutError:
                watcher.cancel()
        writer.close()


async def crowd(host: str, port: int, n: int, interval: float, hold: float, ramp: float) -> list[Slow]:
    stop = asyncio.Event()
    recs = [Slow() for _ in range(n)]
    tasks = []
    batch = max(1, int(n / max(ramp / 0.05, 1)))
    for i in range(n):
        tasks.append(asyncio.create_task(trickle(host, port, interval, stop, recs[i])))
        if (i + 1) % batch == 0:
            await asyncio.sleep(0.05)
    await asyncio.sleep(hold)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return recs


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(p / 100 * len(xs))) - 1))]


def summarize(recs: list[Slow], probe_res: dict, header_timeout: float) -> dict:
    opened = [r for r in recs if r.first_byte]
    closed = [r for r in opened if r.closed_at]
    lateness = [r.closed_at - r.first_byte - header_timeout for r in closed]
    statuses: dict[str, int] = {}
    for r in closed:
        key = r.status.decode("latin-1").strip() or f"(no response, {r.how})"
        statuses[key] = statuses.get(key, 0) + 1
    lat = probe_res["lat"]
    return {
        "opened": len(opened),
        "connect_failures": len(recs) - len(opened),
        "closed_by_server": len(closed),
        "still_open_at_end": len(opened) - len(closed),
        "close_statuses": statuses,
        "close_minus_deadline_s": {
            "min": round(min(lateness), 3) if lateness else None,
            "p50": round(statistics.median(lateness), 3) if lateness else None,
            "p99": round(pct(lateness, 99), 3) if lateness else None,
            "max": round(max(lateness), 3) if lateness else None,
            "early": sum(1 for x in lateness if x < -0.05),
            "over_1s": sum(1 for x in lateness if x > 1.0),
        },
        "normal_client": {
            "requests": len(lat),
            "errors": len(probe_res["errors"]),
            "first_errors": probe_res["errors"][:5],
            "p50_ms": round(pct(lat, 50) * 1e3, 2),
            "p99_ms": round(pct(lat, 99) * 1e3, 2),
            "max_ms": round(max(lat) * 1e3, 2) if lat else None,
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--connections", type=int, default=5000)
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between trickled bytes")
    ap.add_argument("--header-timeout", type=float, default=10.0)
    ap.add_argument("--ramp", type=float, default=3.0, help="seconds over which the crowd connects")
    ap.add_argument("--waves", type=int, default=1, help="repeat the attack; the server's RSS after each")
    ap.add_argument("--url", default=None, help="attack this server instead of starting one")
    ap.add_argument("--server-arg", action="append", default=[], help="extra `fasterapi run` argument")
    ap.add_argument("--json", default=None, help="write the results here")
    args = ap.parse_args()

    nofile = raise_nofile(args.connections + 1024)
    if nofile < args.connections + 100:
        raise SystemExit(f"RLIMIT_NOFILE hard limit {nofile} is too low for {args.connections} connections")
    proc = None
    if args.url:
        u = urlparse(args.url)
        host, port = u.hostname or "127.0.0.1", u.port or 80
    else:
        host, port = "127.0.0.1", free_port()
        proc = start_server(port, args.header_timeout, args.connections + 1024, args.server_arg)
    server_pid = proc.pid if proc is not None else None  # bash exec'd into the server: same pid
    hold = args.header_timeout + args.ramp + 2.5  # every slow connection reaches its deadline
    before = proc_stats(server_pid) if server_pid else {}
    waves = []
    t0 = time.monotonic()
    for _ in range(args.waves):
        parent, child = mp.Pipe()
        probe = mp.Process(target=normal_client, args=(port, hold, child))
        probe.start()
        recs = asyncio.run(crowd(host, port, args.connections, args.interval, hold, args.ramp))
        probe_res = parent.recv()
        probe.join()
        wave = summarize(recs, probe_res, args.header_timeout)
        if server_pid:
            t_fd = time.monotonic()
            while proc_stats(server_pid).get("fds", 0) > before.get("fds", 0) and time.monotonic() - t_fd < 10:
                time.sleep(0.1)
            wave["server_after"] = proc_stats(server_pid)
        waves.append(wave)
    elapsed = time.monotonic() - t0
    if proc is not None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    result = {
        "connections": args.connections,
        "interval_s": args.interval,
        "header_timeout_s": args.header_timeout,
        **waves[0],
        "server": {"before": before, "after": waves[-1].get("server_after", {})},
        "elapsed_s": round(elapsed, 1),
    }
    result.pop("server_after", None)
    if args.waves > 1:
        result["waves"] = waves
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
