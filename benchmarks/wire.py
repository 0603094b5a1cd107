"""Over the wire: one FastAPI app (bench_app.py) served unmodified by every server, all in one run.

    bash benchmarks/setup.sh
    python benchmarks/wire.py [--duration 10] [--only json,items] [--styles async,sync] [--paths direct,asgi]

Servers, each pinned to CPU 0 (`taskset -c 0`), one worker/process each:
  fasterapi        `python -m fasterapi run bench_app:app_<style>` (this interpreter: set PYTHONPATH to
                   a snapshot of src/ in a development tree); in the direct `def` section also with
                   `--def-inline` (compiled `def` endpoints on the loop thread, not the thread pool)
  uvicorn          FastAPI on uvicorn, uvloop + httptools (benchmarks/.venv-peers)
  granian          FastAPI on Granian, `--interface asgi`, one worker (benchmarks/.venv-peers)
  socketify        FastAPI on socketify's ASGI server, if installed in the peers' environment
and wrk pinned to CPU 1: `taskset -c 1 wrk -t1 -c64 -d<duration>s --latency`, a warm-up run per endpoint
(--warmup seconds, 2 by default).
`--loop epoll,io_uring` runs FasterAPI once per socket loop (`fasterapi run --loop ...`), each a column
of its own; `--workers N` (N > 1) runs every server with N worker processes on CPUs 0-1 (taskset -c
0,1; wrk stays on CPU 1, so it shares a core with the servers: on 2 cores this shows what a second
worker adds while the client takes its share, not a 2-core server against a dedicated client), and
records each process's resident memory after the run (the supervisor's and each worker's VmRSS).

Sections, one table each, for both handler styles (`async def` app_async, `def` app_sync):
  direct  the app as written: FasterAPI serves the routes it compiles natively, the rest via ASGI
  asgi    the same app with one pure ASGI pass-through middleware (BENCH_MIDDLEWARE=asgi): FasterAPI
          compiles nothing, every request goes through the app's ASGI interface on the engine
  cors    (only with --paths cors) the app with CORSMiddleware (BENCH_MIDDLEWARE=cors): wrk sends no
          Origin, so FasterAPI serves the compiled routes and adds CORS's `Vary: Origin`
plus references on CPU 0, in the same run: nginx `return 200` (one worker) with the plaintext
and JSON bodies, with FasterAPI's CPU per request over nginx's; socketify's own API (socketify_app.py:
the four routes written for socketify, not FastAPI; `--no-socketify-native` leaves it out), with
FasterAPI's ratio to it per section; and the floor (floor_server.cpp, compiled here with g++: a canned
GET /json answer per request head, nothing parsed, on epoll and on io_uring; `--no-floor`), what the
kernel's TCP stack and syscalls alone cost per request, under every server's CPU per request.

Besides req/s and p99, every run records the server's CPU time per request (utime + stime from
/proc/<pid>/stat of the server's process tree, before and after the measured wrk run, divided by
the requests wrk completed) and how busy wrk's own CPU was: where wrk is near 100% and the server
well below, wrk is the bottleneck and CPU-µs/request is the figure to compare.
Results go to stdout (markdown) and benchmarks/results/wire.json.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS = HERE / ".venv-peers" / "bin"
CLK_TCK = os.sysconf("SC_CLK_TCK")

POST_BODY = '{"name":"widget","price":9.5,"tags":["a","b"]}'
# name -> (method, path, wrk script, expected response body)
ENDPOINTS = {
    "plaintext": ("GET", "/plaintext", None, b"Hello, World!"),
    "json": ("GET", "/json", None, b'{"message":"Hello, World!"}'),
    "items": ("GET", "/items/123?q=abc", None, b'{"item_id":123,"q":"abc"}'),
    "post_items": ("POST", "/items", "post.lua", POST_BODY.encode()),
    # 16 requests per write: wrk's cost per request falls 16-fold, so the server is the limit
    "json_pipelined16": ("GET", "/json", "pipeline_path.lua", b'{"message":"Hello, World!"}'),
    "plaintext_pipelined16": ("GET", "/plaintext", "pipeline_path.lua", b"Hello, World!"),
}
ASGI_SECTION_SKIPS = {"json_pipelined16", "plaintext_pipelined16"}  # unless named in --only
SERVERS = ("fasterapi", "fasterapi --def-inline", "uvicorn", "granian", "socketify")
# `fasterapi run --def-inline` calls the `def` endpoints of compiled routes on the loop thread instead
# of FastAPI's thread pool (opt-in: only for defs that never block); measured where it applies
DEF_INLINE_SECTIONS = {"direct/sync"}

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{port};
    location = /plaintext {{ default_type text/plain; return 200 'Hello, World!'; }}
    location = /json {{ default_type application/json; return 200 '{{"message":"Hello, World!"}}'; }}
  }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_cmd(name: str, app: str, port: int, workers: int = 1) -> list[str] | None:
    if name.startswith("fasterapi"):
        return [sys.executable, "-m", "fasterapi", "run", app, "--port", str(port), "--log-level", "warning",
                "--workers", str(workers), *name.split()[1:]]
    if name == "uvicorn":
        return [str(PEERS / "uvicorn"), app, "--port", str(port), "--loop", "uvloop", "--http", "httptools",
                "--no-access-log", "--log-level", "warning", "--workers", str(workers)]
    if name == "granian":
        return [str(PEERS / "granian"), "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(workers), "--log-level", "warning", app]
    if name == "socketify":
        py = PEERS / "python"
        ok = subprocess.run([str(py), "-c", "import socketify"], capture_output=True).returncode == 0
        if not ok:
            return None
        return [str(py), "-m", "socketify", app, "--port", str(port), "--interface", "asgi",
                "--disable-listen-log", "true"]
    raise ValueError(name)


def wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def check(port: int, method: str, path: str, expected: bytes) -> str:
    """'' when the server answers 200 with the expected body, else what it answered."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        body = POST_BODY if method == "POST" else None
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    return "" if resp.status == 200 and data == expected else f"{resp.status} {data[:80]!r}"


# ---- CPU accounting ---------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, int, int] | None:
    """(ppid, utime + stime, stime; in ticks) of a process (all its threads)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[12])


def tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st:
                children.setdefault(st[0], []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def rss_mb(root: int) -> list[float]:
    """VmRSS (MiB) of each process of the server's tree: the root first (a supervisor, or the one
    process), then its workers."""
    out = []
    for pid in tree(root):
        try:
            for ln in Path(f"/proc/{pid}/status").read_text().splitlines():
                if ln.startswith("VmRSS:"):
                    out.append(round(int(ln.split()[1]) / 1024, 1))
        except OSError:
            pass
    return out


def cpu_ticks(pids: list[int]) -> tuple[int, int]:
    """(user + system, system) CPU ticks of the processes: the kernel's share (the TCP stack, the
    syscalls) is most of a small request's cost for every server, which bounds how far apart they
    can be"""
    stats = [st for pid in pids if (st := _stat(pid))]
    return sum(st[1] for st in stats), sum(st[2] for st in stats)


# ---- wrk --------------------------------------------------------------------------------------


def to_ms(value: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", value)
    if not m:
        return float("nan")
    n, unit = float(m.group(1)), m.group(2)
    return n / 1000 if unit == "us" else n * 1000 if unit == "s" else n


def run_wrk(url: str, script: str | None, duration: int, connections: int, server_pid: int | None = None) -> dict:
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script:
        cmd += ["-s", str(HERE / script)]
    pids = tree(server_pid) if server_pid else []
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    (cpu0, sys0), t0 = cpu_ticks(pids), time.monotonic()
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    (cpu1, sys1), t1 = cpu_ticks(pids), time.monotonic()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    p99 = re.search(r"\s99%\s+(\S+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock_err = re.search(r"Socket errors: (.*)", out)
    server_s = (cpu1 - cpu0) / CLK_TCK
    wrk_s = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    return {
        "rps": rps,
        "requests": requests,
        "p99_ms": to_ms(p99.group(1)) if p99 else float("nan"),
        "non2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": sock_err.group(1) if sock_err else "",
        "server_cpu_us_per_req": server_s * 1e6 / requests if requests and pids else float("nan"),
        "server_cpu_pct": 100 * server_s / (t1 - t0) if pids else float("nan"),
        "server_sys_share_pct": 100 * (sys1 - sys0) / (cpu1 - cpu0) if cpu1 > cpu0 else float("nan"),
        "wrk_cpu_pct": 100 * wrk_s / (t1 - t0),
    }


def measure(name: str, proc: subprocess.Popen[bytes], port: int, endpoints: dict, args: argparse.Namespace,
            results: dict) -> None:
    for ep, (method, path, script, expected) in endpoints.items():
        try:
            bad = check(port, method, path, expected)
        except OSError as exc:  # a server wedged by the previous run (socketify after pipelining)
            bad = f"no answer ({exc.__class__.__name__})"
        if bad:
            print(f"  {name} {ep}: unexpected answer {bad}: skipped", file=sys.stderr)
            results[ep] = {"error": f"wrong answer: {bad}"}
            continue
        url = f"http://127.0.0.1:{port}{path}"
        try:
            run_wrk(url, script, args.warmup, args.connections)  # warm-up
            r = run_wrk(url, script, args.duration, args.connections, proc.pid)
        except (subprocess.CalledProcessError, AttributeError) as exc:
            print(f"  {name} {ep}: wrk failed: {exc}", file=sys.stderr)
            results[ep] = {"error": "wrk failed"}
            continue
        if r["rps"] == 0:
            r["error"] = f"no response (socket errors: {r['socket_errors']})"
        r["rss_mb"] = rss_mb(proc.pid)
        results[ep] = r
        print(f"  {name:10} {ep:11} {r['rps']:>10,.0f} req/s  p99 {r['p99_ms']:.2f} ms  "
              f"{r['server_cpu_us_per_req']:.2f} CPU-µs/req  server {r['server_cpu_pct']:.0f}%  "
              f"wrk {r['wrk_cpu_pct']:.0f}%  non2xx {r['non2xx']} {r['socket_errors']}", file=sys.stderr)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def fasterapi_routes(app: str, env: dict[str, str]) -> tuple[str, dict[str, str]]:
    """`fasterapi routes app`: its summary line, and route path -> 'compiled' or 'ASGI'."""
    out = subprocess.run([sys.executable, "-m", "fasterapi", "routes", app], cwd=HERE, env=env,
                         capture_output=True, text=True).stdout
    lines = out.strip().splitlines()
    paths = {}
    for ln in lines[:-1]:
        _methods, path, status = ln.split(None, 2)
        paths[path] = "compiled" if status.startswith("compiled") else "ASGI"  # "compiled: <its writer>"
    bench = {p: v for p, v in paths.items() if p in ("/plaintext", "/json", "/items/{item_id}", "/items")}
    compiled = sum(v == "compiled" for v in bench.values())
    return f"{lines[-1] if lines else '?'} (the benchmark's 4 routes: {compiled} of {len(bench)})", paths


def route_of(path: str) -> str:
    path = path.split("?")[0]
    return "/items/{item_id}" if path.startswith("/items/") else path


def run_section(path_kind: str, style: str, servers: list[str], endpoints: dict, args: argparse.Namespace) -> dict:
    app = f"bench_app:app_{style}"
    env = dict(os.environ)
    env.pop("BENCH_MIDDLEWARE", None)
    if path_kind in ("asgi", "cors"):
        env["BENCH_MIDDLEWARE"] = path_kind
    summary, paths = fasterapi_routes(app, env)
    if path_kind == "asgi" and not args.only:
        endpoints = {k: v for k, v in endpoints.items() if k not in ASGI_SECTION_SKIPS}
    section: dict = {"app": app, "middleware": path_kind if path_kind != "direct" else None, "routes": summary, "servers": {},
                     "fasterapi_path": {ep: paths.get(route_of(v[1]), "?") for ep, v in endpoints.items()}}
    print(f"[{path_kind} / {style}] {app}{f' + BENCH_MIDDLEWARE={path_kind}' if path_kind != 'direct' else ''}: "
          f"fasterapi routes: {section['routes']}", file=sys.stderr)
    for name in servers:
        if "--def-inline" in name and f"{path_kind}/{style}" not in DEF_INLINE_SECTIONS:
            continue
        port = free_port()
        cmd = server_cmd(name, app, port, args.workers)
        if cmd is None:
            print(f"  {name}: not installed, skipped", file=sys.stderr)
            continue
        cpus = "0" if args.workers == 1 else "0,1"
        proc = subprocess.Popen(["taskset", "-c", cpus, *cmd], cwd=HERE, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(port, proc)
            time.sleep(0.5)  # workers of multi-process servers up
            section["servers"][name] = {}
            measure(name, proc, port, endpoints, args, section["servers"][name])
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            print(f"  {name}: {exc}", file=sys.stderr)
        finally:
            stop(proc)
    return section


def run_nginx(endpoints: dict, args: argparse.Namespace) -> dict:
    if shutil.which("nginx") is None:
        return {}
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        conf = Path(tmp) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(tmp=tmp, port=port))
        proc = subprocess.Popen(["taskset", "-c", "0", "nginx", "-p", tmp, "-c", str(conf)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(port, proc)
            print("[reference] nginx return 200", file=sys.stderr)
            bodies = ("plaintext", "json", "json_pipelined16", "plaintext_pipelined16")
            measure("nginx", proc, port, {k: v for k, v in endpoints.items() if k in bodies},
                    args, results)
        finally:
            stop(proc)
    return results


def build_floor(tmp: str) -> Path | None:
    """benchmarks/floor_server.cpp compiled (g++, liburing from Debian), or None if it does not build."""
    exe = Path(tmp) / "floor_server"
    r = subprocess.run(["g++", "-O2", "-std=c++20", "-o", str(exe), str(HERE / "floor_server.cpp"), "-luring"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"[reference] the floor server did not build: {r.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    return exe


def run_floor(endpoints: dict, args: argparse.Namespace) -> dict:
    """The floor (floor_server.cpp: a canned GET /json answer per request head, nothing parsed) on
    each socket loop: what the kernel alone costs per request, the bound under every server's CPU."""
    if shutil.which("g++") is None:
        return {}
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        exe = build_floor(tmp)
        if exe is None:
            return {}
        for loop in ("epoll", "io_uring"):
            port = free_port()
            proc = subprocess.Popen(["taskset", "-c", "0", str(exe), str(port), loop],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_port(port, proc)
                print(f"[reference] the floor, {loop}", file=sys.stderr)
                results[loop] = {}
                measure(f"floor {loop}", proc, port, {k: v for k, v in endpoints.items() if k.startswith("json")},
                        args, results[loop])
            finally:
                stop(proc)
    return results


def run_socketify_native(endpoints: dict, args: argparse.Namespace) -> dict:
    py = PEERS / "python"
    if subprocess.run([str(py), "-c", "import socketify"], capture_output=True).returncode != 0:
        return {}
    results: dict = {}
    port = free_port()
    proc = subprocess.Popen(["taskset", "-c", "0", str(py), str(HERE / "socketify_app.py"), str(port)], cwd=HERE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc)
        print("[reference] socketify's own API (socketify_app.py)", file=sys.stderr)
        measure("socketify-native", proc, port, endpoints, args, results)
    finally:
        stop(proc)
    return results


# ---- report -----------------------------------------------------------------------------------


def fmt_rps(r: dict | None) -> str:
    if r is None:
        return "—"
    if "error" in r:
        return r["error"].replace("|", "\\|")
    p99 = "" if not r["p99_ms"] > 0 else f" ({r['p99_ms']:.2f})"  # wrk: no percentiles for scripts with request()
    return f"{r['rps']:,.0f}{p99}" + (f" [{r['non2xx']} non-2xx]" if r["non2xx"] else "")


def fmt_cpu(r: dict | None) -> str:
    if r is None or "error" in r:
        return "—"
    sys_share = r.get("server_sys_share_pct", float("nan"))
    kernel = f"; kernel {sys_share:.0f}%" if sys_share == sys_share else ""
    return f"{r['server_cpu_us_per_req']:.1f} ({r['server_cpu_pct']:.0f}% / {r['wrk_cpu_pct']:.0f}%{kernel})"


def fasterapi_variants(data: dict) -> list[tuple[str, str]]:
    """(section, server name) of every FasterAPI column of the run."""
    return [(key, n) for key, section in data["sections"].items() for n in section["servers"]
            if n.startswith("fasterapi")]


def ratio_cells(data: dict, variants: list[tuple[str, str]], ep: str, ref: dict | None, field: str,
                fmt: str) -> list[str]:
    """Each FasterAPI variant's `field` for endpoint `ep` over the reference's, formatted."""
    cells = []
    for key, n in variants:
        a = data["sections"][key]["servers"][n].get(ep)
        ok = a and ref and a.get(field, 0) > 0 and ref.get(field, 0) > 0
        cells.append(fmt.format(a[field] / ref[field]) if ok else "—")
    return cells


def report(data: dict) -> str:
    workers = data.get("workers", 1)
    where = "server on CPU 0, wrk on CPU 1" if workers == 1 else (
        f"{workers} workers per server on CPUs 0-1, wrk on CPU 1 (sharing a core with the servers)")
    out = [f"wrk -t1 -c{data['connections']} -d{data['duration']}s, {where}, one run "
           f"({data['started']} – {data['finished']} UTC)", ""]
    nginx = data.get("nginx") or {}
    for key, section in data["sections"].items():
        res = section["servers"]
        names = list(res)  # in the order they ran
        peers = [n for n in names if not n.startswith("fasterapi")]
        eps = [ep for ep in data["endpoints"] if any(ep in res[n] for n in names)]
        out.append(f"### {key}: `{section['app']}`" + (f" + BENCH_MIDDLEWARE={section['middleware']}"
                                                        if section["middleware"] else ""))
        out.append("")
        out.append(f"`fasterapi routes`: {section['routes']}")
        out.append("")
        ours = [n for n in names if n.startswith("fasterapi")]
        # ratios: each FasterAPI variant to uvicorn and Granian (the peers FastAPI's docs deploy on)
        pairs = [(a, b) for a in ours for b in peers if b in ("uvicorn", "granian")]
        label = lambda a, b: f"{a.replace('fasterapi', 'FA')} × {b}"  # noqa: E731
        out.append("| endpoint (FasterAPI's path) | " + " | ".join(f"{n} req/s (p99 ms)" for n in names)
                   + "".join(f" | {label(a, b)}" for a, b in pairs) + " |")
        out.append("|" + "---|" + "---:|" * (len(names) + len(pairs)))
        for ep in eps:
            row = f"| {ep} ({section['fasterapi_path'].get(ep, '?')}) | "
            row += " | ".join(fmt_rps(res[n].get(ep)) for n in names)
            for a_name, b_name in pairs:
                a, b = res[a_name].get(ep), res[b_name].get(ep)
                ok = a and b and a.get("rps", 0) > 0 and b.get("rps", 0) > 0
                row += f" | {a['rps'] / b['rps']:.1f}×" if ok else " | —"
            out.append(row + " |")
        out.append("")
        out.append("Server CPU-µs per request (server CPU % / wrk CPU % during the run; kernel: the share of the "
                   "server's CPU time spent in the kernel):")
        out.append("")
        out.append("| endpoint (FasterAPI's path) | " + " | ".join(names) + " |")
        out.append("|" + "---|" + "---:|" * len(names))
        for ep in eps:
            out.append(f"| {ep} ({section['fasterapi_path'].get(ep, '?')}) | "
                       + " | ".join(fmt_cpu(res[n].get(ep)) for n in names) + " |")
        out.append("")
        out.append("Resident memory after the run, MiB (the server's first process, then each worker):")
        out.append("")
        out.append("| server | " + " | ".join(eps) + " |")
        out.append("|---|" + "---:|" * len(eps))
        for n in names:
            out.append(f"| {n} | " + " | ".join(" + ".join(str(m) for m in (res[n].get(ep) or {}).get("rss_mb", []))
                                                 or "—" for ep in eps) + " |")
        out.append("")
    native = data.get("socketify_native") or {}
    if native:
        out.append("### reference: socketify's own API (benchmarks/socketify_app.py, not FastAPI)")
        out.append("")
        variants = fasterapi_variants(data)
        out.append("| endpoint | req/s (p99 ms) | CPU-µs/req (server % / wrk %; kernel) | "
                   + " | ".join(f"{n.replace('fasterapi', 'FA')} ({key}) ×" for key, n in variants) + " |")
        out.append("|---|---|---|" + "---:|" * len(variants))
        for ep, r in native.items():
            ratios = ratio_cells(data, variants, ep, r, "rps", "{:.2f}×")
            out.append(f"| {ep} | {fmt_rps(r)} | {fmt_cpu(r)} | " + " | ".join(ratios) + " |")
        out.append("")
    floor = data.get("floor") or {}
    if floor:
        out.append("### reference: the floor (benchmarks/floor_server.cpp: a canned answer per request head)")
        out.append("")
        out.append("| loop | endpoint | req/s (p99 ms) | CPU-µs/req (server % / wrk %; kernel) | ÷ nginx's CPU-µs/req |")
        out.append("|---|---|---|---|---:|")
        for loop, eps_ in floor.items():
            for ep, r in eps_.items():
                n = nginx.get(ep)
                ok = n and r and n.get("server_cpu_us_per_req", 0) > 0 and r.get("server_cpu_us_per_req", 0) > 0
                ratio = f"{r['server_cpu_us_per_req'] / n['server_cpu_us_per_req']:.2f}" if ok else "—"
                out.append(f"| {loop} | {ep} | {fmt_rps(r)} | {fmt_cpu(r)} | {ratio} |")
        out.append("")
    if nginx:
        out.append("### reference: nginx `return 200` (one worker)")
        out.append("")
        # FasterAPI's server CPU-µs per request over nginx's, same endpoint, same run: where wrk is the
        # limit (nginx near it), req/s say little and CPU per request is the comparison
        variants = fasterapi_variants(data)
        out.append("| endpoint | req/s (p99 ms) | CPU-µs/req (server % / wrk %; kernel) | "
                   + " | ".join(f"{n.replace('fasterapi', 'FA')} ({key}) CPU ÷ nginx" for key, n in variants) + " |")
        out.append("|---|---|---|" + "---:|" * len(variants))
        for ep, r in nginx.items():
            ratios = ratio_cells(data, variants, ep, r, "server_cpu_us_per_req", "{:.2f}")
            out.append(f"| {ep} | {fmt_rps(r)} | {fmt_cpu(r)} | " + " | ".join(ratios) + " |")
        out.append("")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--only", default="", help="comma-separated endpoint names")
    ap.add_argument("--servers", default=",".join(SERVERS))
    ap.add_argument("--warmup", type=int, default=2, help="seconds of wrk before each measured run")
    ap.add_argument("--styles", default="async,sync")
    ap.add_argument("--paths", default="direct,asgi")
    ap.add_argument("--no-nginx", action="store_true")
    ap.add_argument("--no-socketify-native", action="store_true")
    ap.add_argument("--no-floor", action="store_true", help="leave out the floor (floor_server.cpp)")
    ap.add_argument("--loop", default="", help="FasterAPI's socket loops to run, comma-separated (epoll,io_uring,"
                    "auto): one column each; default: the server's own default (auto)")
    ap.add_argument("--workers", type=int, default=1, help="worker processes per server (>1: CPUs 0-1, see above)")
    args = ap.parse_args()
    servers = []
    for name in args.servers.split(","):
        if name.startswith("fasterapi") and args.loop:
            servers += [f"{name} --loop {loop}" for loop in args.loop.split(",")]
        else:
            servers.append(name)
    endpoints = {k: v for k, v in ENDPOINTS.items() if not args.only or k in args.only.split(",")}
    now = lambda: datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")  # noqa: E731
    data: dict = {"duration": args.duration, "connections": args.connections, "endpoints": list(endpoints),
                  "workers": args.workers, "started": now(), "sections": {}}
    for path_kind in args.paths.split(","):
        for style in args.styles.split(","):
            data["sections"][f"{path_kind}/{style}"] = run_section(
                path_kind, style, servers, endpoints, args)
    if not args.no_socketify_native:
        data["socketify_native"] = run_socketify_native(endpoints, args)
    if not args.no_nginx:
        data["nginx"] = run_nginx(endpoints, args)
    if not args.no_floor:
        data["floor"] = run_floor(endpoints, args)
    data["finished"] = now()
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "wire.json").write_text(json.dumps(data, indent=2))
    print(report(data))


if __name__ == "__main__":
    main()
