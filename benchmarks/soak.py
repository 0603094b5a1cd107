"""Soak: the server's memory and file descriptors over millions of mixed requests.

    python benchmarks/soak.py --requests 5000000

starts one worker, `fasterapi run reliability_app:app` (tests/data), and drives it with
--procs client processes x --connections asyncio connections each, every connection picking
scenarios at random (seeded):

  keepalive   5 requests, one at a time, on one connection          GET /json, /items/N?q=x
  pipeline    16 requests in one write, then 16 responses           GET /json
  new         a new connection per request (Connection: close)       GET /json
  chunked     a chunked upload (3-6 chunks, up to 8 KiB)             POST /upload -> {"len": n}
  4xx         404 (router and handler), 422, 405, 400 (no Host; closes), 413 (closes)
  abort       a client that disconnects mid-request: half a head, or a head and half a body,
              then close (or RST); no response expected

Every response is checked (status and, for 200, the body). The server's RSS (VmRSS) and fd count
are sampled every --sample seconds; after --warmup requests the RSS is the baseline, and the
report gives the growth at the end, the maximum, and a least-squares slope in KB per million
requests. At the end, with every client gone, the server's fds must be back to their count
before the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when loaded by file path (tests)
from _procs import DATA, free_port, server_env  # noqa: E402
from _procs import die_with_parent as _die_with_parent  # noqa: E402
SCENARIOS = ["keepalive", "pipeline", "new", "chunked", "4xx", "abort"]
WEIGHTS = [30, 30, 10, 12, 12, 6]
RESP_PER_SCENARIO = {"keepalive": 5, "pipeline": 16, "new": 1, "chunked": 1, "4xx": 1, "abort": 0}


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def start_server(port: int, extra: list[str]) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "fasterapi", "run", "reliability_app:app", "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warning", *extra]
    env = server_env()
    proc = subprocess.Popen(cmd, cwd=DATA, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
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


# ---------------------------------------------------------------------------------------------
# The client side


class Reader:
    """Reads whole responses (status, body) from a StreamReader; bodies by Content-Length."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.r = reader

    async def response(self) -> tuple[int, bytes, bool]:
        head = await self.r.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        i = head.find(b"Content-Length: ")
        n = int(head[i + 16:head.index(b"\r\n", i)]) if i >= 0 else 0
        body = await self.r.readexactly(n) if n else b""
        return status, body, b"\r\nConnection: close\r\n" in head


JSON = b'{"message":"Hello, World!"}'


async def open_conn(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)


async def scenario(name: str, port: int, rng: random.Random, st: dict) -> int:
    """Runs one scenario on its own connection(s); returns responses checked."""
    reader, writer = await open_conn(port)
    rd = Reader(reader)
    got = 0

    def bad(what: str) -> None:
        st["errors"] += 1
        if len(st["examples"]) < 5:
            st["examples"].append(f"{name}: {what}")

    try:
        if name == "keepalive":
            for _ in range(5):
                k = rng.randrange(1000)
                writer.write(b"GET /items/%d?q=x HTTP/1.1\r\nHost: a\r\n\r\n" % k if k != 404 else
                             b"GET /json HTTP/1.1\r\nHost: a\r\n\r\n")
                status, body, _ = await rd.response()
                ok = status == 200 and (body == JSON or body == b'{"item_id":%d,"q":"x"}' % k)
                if not ok:
                    bad(f"{status} {body[:60]!r}")
                got += 1
        elif name == "pipeline":
            writer.write(b"GET /json HTTP/1.1\r\nHost: a\r\n\r\n" * 16)
            for _ in range(16):
                status, body, _ = await rd.response()
                if status != 200 or body != JSON:
                    bad(f"{status} {body[:60]!r}")
                got += 1
        elif name == "new":
            writer.write(b"GET /json HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            status, body, close = await rd.response()
            if status != 200 or body != JSON or not close or await reader.read(1) != b"":
                bad(f"{status} close={close}")
            got += 1
        elif name == "chunked":
            total = rng.randrange(0, 8192)
            data = os.urandom(total)
            parts, pos = [], 0
            for _ in range(rng.randrange(3, 7)):
                n = rng.randrange(0, total - pos + 1) if pos < total else 0
                if n:
                    parts.append(b"%x\r\n%s\r\n" % (n, data[pos:pos + n]))
                pos += n
            if pos < total:
                parts.append(b"%x\r\n%s\r\n" % (total - pos, data[pos:]))
            writer.write(b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + b"".join(parts)
                         + b"0\r\n\r\n")
            status, body, _ = await rd.response()
            if status != 200 or body != b'{"len":%d}' % total:
                bad(f"{status} {body[:60]!r} want len {total}")
            got += 1
        elif name == "4xx":
            kind = rng.randrange(6)
            req, want, closes = [
                (b"GET /items/404 HTTP/1.1\r\nHost: a\r\n\r\n", 404, False),
                (b"GET /items/abc HTTP/1.1\r\nHost: a\r\n\r\n", 422, False),
                (b"GET /nope HTTP/1.1\r\nHost: a\r\n\r\n", 404, False),
                (b"DELETE /json HTTP/1.1\r\nHost: a\r\n\r\n", 405, False),
                (b"GET /json HTTP/1.1\r\n\r\n", 400, True),
                (b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 20000000\r\n\r\n", 413, True),  # > 16 MiB
            ][kind]
            writer.write(req)
            status, body, close = await rd.response()
            if status != want or close != closes:
                bad(f"{status} (want {want}) close={close}")
            if closes and await reader.read(1) != b"":
                bad("not closed after an error")
            got += 1
        elif name == "abort":
            kind = rng.randrange(3)
            if kind == 0:
                writer.write(b"GET /json HTTP/1.1\r\nHost: a\r\nX-Half: ")
            else:
                writer.write(b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n" + b"p" * 2000)
            await writer.drain()
            await asyncio.sleep(rng.random() * 0.01)
            if kind == 2:  # abortive: RST
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        bad(repr(exc))
    finally:
        writer.close()
    return got


async def client_main(port: int, budget: int, connections: int, seed: int, counter: mp.Value,
                      st: dict) -> None:
    rng = random.Random(seed)
    done = 0

    async def worker(wseed: float) -> None:
        nonlocal done
        r = random.Random(wseed)
        while done < budget:
            name = r.choices(SCENARIOS, WEIGHTS)[0]
            st["scenarios"][name] += 1
            try:
                n = await asyncio.wait_for(scenario(name, port, r, st), 30)
            except asyncio.TimeoutError:
                st["errors"] += 1
                st["examples"].append(f"{name}: timeout")
                n = 0
            done += n
            with counter.get_lock():
                counter.value += n

    await asyncio.gather(*(worker(rng.random()) for _ in range(connections)))


def client_proc(port: int, budget: int, connections: int, seed: int, counter: mp.Value, out: mp.Queue) -> None:
    st = {"errors": 0, "examples": [], "scenarios": {s: 0 for s in SCENARIOS}}
    asyncio.run(client_main(port, budget, connections, seed, counter, st))
    out.put(st)


# ---------------------------------------------------------------------------------------------


def slope_kb_per_million(points: list[tuple[int, int]]) -> float | None:
    if len(points) < 3:
        return None
    xs = [p[0] / 1e6 for p in points]
    ys = [p[1] for p in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else None


def run_soak(requests: int = 5_000_000, procs: int = 2, connections: int = 16, warmup: int | None = None,
             sample: float = 1.0, seed: int = 1, quiet: bool = False) -> dict:
    port = free_port()
    server = start_server(port, ["--keepalive-timeout", "2"])
    pid = server.pid
    time.sleep(0.3)
    fds_before = fd_count(pid)
    rss_start = rss_kb(pid)
    warmup = warmup if warmup is not None else max(requests // 10, 1000)
    counter = mp.Value("q", 0)
    out: mp.Queue = mp.Queue()
    per = requests // procs
    clients = [mp.Process(target=client_proc, args=(port, per, connections, seed * 1000 + i, counter, out))
               for i in range(procs)]
    t0 = time.monotonic()
    for c in clients:
        c.start()
    samples: list[tuple[int, int, int, float]] = []  # (requests, rss KB, fds, t)
    base = None
    while any(c.is_alive() for c in clients):
        time.sleep(sample)
        n = counter.value
        r = rss_kb(pid)
        samples.append((n, r, fd_count(pid), time.monotonic() - t0))
        if base is None and n >= warmup:
            base = (n, r)
        if not quiet:
            print(f"{time.monotonic() - t0:7.1f}s {n:>10} requests  RSS {r / 1024:7.1f} MB  fds {samples[-1][2]}",
                  flush=True)
    stats = [out.get() for _ in clients]
    for c in clients:
        c.join()
    elapsed = time.monotonic() - t0
    # every client is gone: the server closes what it still holds (lingering closes, keep-alives)
    t_fd = time.monotonic()
    while fd_count(pid) > fds_before and time.monotonic() - t_fd < 10:
        time.sleep(0.1)
    fds_after = fd_count(pid)
    rss_end = rss_kb(pid)
    server.send_signal(signal.SIGTERM)
    code = server.wait(40)
    total = counter.value
    after_warm = [(n, r) for n, r, _, _ in samples if base and n >= base[0]]
    scen = {s: sum(st["scenarios"][s] for st in stats) for s in SCENARIOS}
    return {
        "requests": total,
        "elapsed_s": round(elapsed, 1),
        "rps": round(total / elapsed),
        "scenarios": scen,
        "errors": sum(st["errors"] for st in stats),
        "error_examples": [e for st in stats for e in st["examples"]][:10],
        "rss_mb": {
            "start": round(rss_start / 1024, 1),
            "after_warmup": round(base[1] / 1024, 1) if base else None,
            "warmup_requests": base[0] if base else None,
            "end": round(rss_end / 1024, 1),
            "max": round(max(r for _, r, _, _ in samples) / 1024, 1) if samples else None,
            "growth_after_warmup": round((rss_end - base[1]) / 1024, 2) if base else None,
            "max_growth_after_warmup": round((max(r for _, r in after_warm) - base[1]) / 1024, 2)
            if after_warm else None,
            "slope_kb_per_million_requests": round(slope_kb_per_million(after_warm), 1)
            if slope_kb_per_million(after_warm) is not None else None,
        },
        "fds": {"before": fds_before, "max": max(f for _, _, f, _ in samples) if samples else None,
                "after": fds_after},
        "server_exit": code,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=5_000_000)
    ap.add_argument("--procs", type=int, default=2, help="client processes")
    ap.add_argument("--connections", type=int, default=16, help="concurrent scenarios per client process")
    ap.add_argument("--warmup", type=int, default=None, help="requests before the RSS baseline (10%%)")
    ap.add_argument("--sample", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    res = run_soak(a.requests, a.procs, a.connections, a.warmup, a.sample, a.seed)
    print(json.dumps(res, indent=2))
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
