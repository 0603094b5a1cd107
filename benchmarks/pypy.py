"""Over the wire on PyPy against CPython: the same app (jit_app.py: bench_app's routes plus the
handler-heavy `GET /work`) served by `fasterapi run` on each interpreter, both in one run.

    # CPython: this interpreter, a snapshot of src/ with the freshly built .so (benchmarks/README.md);
    # PyPy: a venv in the Debian-testing chroot .ci/interpreters.sh makes, FasterAPI pip-installed in it
    PYTHONPATH=/tmp/snapb python benchmarks/pypy.py [--duration 10] [--warmup 10] [--styles async,sync]
        [--middleware asgi] [--chroot /opt/fasterapi-ci/forky] [--pypy /tmp/fa-pypybench/venv/bin/python]
        [--only json,work]

Making the PyPy venv (as root; .ci/interpreters.sh's chroot, with its /proc /sys /dev mounted):

    R=/opt/fasterapi-ci/forky; mkdir -p $R/tmp/fa-pypybench/src
    git ls-files -z | xargs -0 cp --parents -t $R/tmp/fa-pypybench/src
    chroot $R pypy3 -m venv /tmp/fa-pypybench/venv
    chroot $R /tmp/fa-pypybench/venv/bin/pip install --prefer-binary --only-binary=pydantic-core \\
        /tmp/fa-pypybench/src

Servers: `taskset -c 0 python -m fasterapi run jit_app:app_<style>` (CPython, this interpreter) and
`taskset -c 0 chroot <chroot> <pypy> -m fasterapi run jit_app:app_<style> --app-dir <copy>` (PyPy; the
app files are copied into the chroot; the chroot shares the network namespace, so wrk on the host
reaches it). One worker each. wrk pinned to CPU 1 (`-t1 -c64 -d<duration>s --latency`) after a
warm-up run of --warmup seconds (10 by default: PyPy's JIT compiles the hot loops in the first
seconds) per endpoint. Each answer is checked first (status 200, the exact body).

--middleware asgi: the apps with bench_app's pass-through ASGI middleware (BENCH_MIDDLEWARE=asgi), so
every request takes the ASGI path (more Python per request, the engine's C++ only at the socket).

Per run: req/s, p99, the server's CPU-µs per request (utime + stime of its process tree from /proc,
wire.py's helpers) and the server's RSS after the run (VmRSS of its process tree).
Results go to stdout (markdown) and benchmarks/results/pypy.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jit_app  # noqa: F401  (the /work answer below; imports bench_app, FastAPI)
from wire import ENDPOINTS, free_port, measure, stop, tree, wait_port

HERE = Path(__file__).resolve().parent

WORK_BODY = json.dumps(jit_app.crunch(), separators=(",", ":"), ensure_ascii=False).encode()
ROUTES = {k: ENDPOINTS[k] for k in ("json", "items", "post_items", "plaintext")}
ROUTES["work"] = ("GET", "/work", None, WORK_BODY)
INTERPRETERS = ("cpython", "pypy")


def rss_kb(pid: int) -> int:
    total = 0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def interpreter_cmd(kind: str, args: argparse.Namespace) -> tuple[list[str], Path, dict[str, str]]:
    """(the command prefix that runs `-m fasterapi`, the working directory, the environment)."""
    env = dict(os.environ)
    env.pop("BENCH_MIDDLEWARE", None)
    if args.middleware:
        env["BENCH_MIDDLEWARE"] = args.middleware
    if kind == "cpython":
        return [sys.executable], HERE, env
    env.pop("PYTHONPATH", None)  # host paths mean nothing in the chroot
    return ["chroot", args.chroot, args.pypy], Path("/"), env


def app_args(kind: str, args: argparse.Namespace) -> list[str]:
    return ["--app-dir", args.app_dir] if kind == "pypy" else []


def describe(kind: str, args: argparse.Namespace, app: str) -> tuple[str, str]:
    """The interpreter's version line and `fasterapi routes`' summary line for the app."""
    prefix, cwd, env = interpreter_cmd(kind, args)
    version = subprocess.run([*prefix, "-c", "import sys; print(sys.version.replace(chr(10), ' '))"],
                             cwd=cwd, env=env, capture_output=True, text=True).stdout.strip()
    out = subprocess.run([*prefix, "-m", "fasterapi", "routes", app, *app_args(kind, args)], cwd=cwd, env=env,
                         capture_output=True, text=True)
    lines = out.stdout.strip().splitlines()
    work = next((ln.split(None, 2)[2] for ln in lines if ln.split()[1:2] == ["/work"]), "?")
    return version, f"{lines[-1] if lines else out.stderr.strip()[-200:]}; /work: {work}"


def run_style(style: str, kinds: list[str], routes: dict, args: argparse.Namespace) -> dict:
    app = f"jit_app:app_{style}"
    section: dict = {"app": app, "servers": {}}
    for kind in kinds:
        version, routes_line = describe(kind, args, app)
        print(f"[{style}] {kind}: {version}; fasterapi routes: {routes_line}", file=sys.stderr)
        prefix, cwd, env = interpreter_cmd(kind, args)
        port = free_port()
        cmd = ["taskset", "-c", "0", *prefix, "-m", "fasterapi", "run", app, *app_args(kind, args),
               "--port", str(port), "--log-level", "warning"]
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        res: dict = {}
        section["servers"][kind] = {"version": version, "routes": routes_line, "results": res}
        try:
            wait_port(port, proc)
            res["rss_kb_start"] = rss_kb(proc.pid)
            for ep, spec in routes.items():
                one: dict = {}
                measure(kind, proc, port, {ep: spec}, args, one)
                res[ep] = one[ep]
                res[ep]["rss_kb"] = rss_kb(proc.pid)
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            print(f"  {kind}: {exc}", file=sys.stderr)
            res["error"] = str(exc)
        finally:
            stop(proc)
    return section


def cell(r: dict | None) -> str:
    if not r:
        return "—"
    if "error" in r:
        return str(r["error"]).replace("|", "\\|")
    p99 = f" / {r['p99_ms']:.1f}" if r["p99_ms"] > 0 else ""  # wrk: no percentiles for scripts with request()
    return f"{r['rps']:,.0f}{p99}" + (f" [{r['non2xx']} non-2xx]" if r["non2xx"] else "")


def report(data: dict) -> str:
    out = [f"wrk -t1 -c{data['connections']} -d{data['duration']}s after {data['warmup']} s of warm-up per route, "
           f"server on CPU 0, wrk on CPU 1, one run ({data['started']} – {data['finished']} UTC, "
           f"load average {data['load_before']} before, {data['load_after']} after)", ""]
    for section in data["sections"].values():
        srv = section["servers"]
        mw = f" + BENCH_MIDDLEWARE={data['middleware']}" if data.get("middleware") else ""
        out.append(f"### `{section['app']}`{mw}")
        out.append("")
        for kind, s in srv.items():
            out.append(f"- {kind}: {s['version']}; `fasterapi routes`: {s['routes']}")
        out.append("")
        out.append("| route | CPython req/s / p99 ms | PyPy req/s / p99 ms | PyPy ÷ CPython req/s "
                   "| CPython CPU-µs/req | PyPy CPU-µs/req | CPython RSS MB | PyPy RSS MB |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|")
        c, p = srv.get("cpython", {}).get("results", {}), srv.get("pypy", {}).get("results", {})
        for ep in data["endpoints"]:
            a, b = c.get(ep), p.get(ep)
            ok = a and b and "error" not in a and "error" not in b and a["rps"] > 0
            ratio = f"{b['rps'] / a['rps']:.2f}×" if ok else "—"
            cpu = lambda r: f"{r['server_cpu_us_per_req']:.0f}" if r and "error" not in r else "—"  # noqa: E731
            rss = lambda r: f"{r['rss_kb'] / 1024:.0f}" if r and "rss_kb" in r else "—"  # noqa: E731
            path = ROUTES[ep][0] + " " + ROUTES[ep][1] if ROUTES[ep][0] == "POST" else ROUTES[ep][1]
            out.append(f"| {path} | {cell(a)} | {cell(b)} | {ratio} | {cpu(a)} | {cpu(b)} | {rss(a)} | {rss(b)} |")
        out.append("")
    return "\n".join(out)


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=10, help="seconds of wrk before each measured run (PyPy's JIT)")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--styles", default="async,sync")
    ap.add_argument("--interpreters", default=",".join(INTERPRETERS))
    ap.add_argument("--middleware", default="", choices=["", "asgi"],
                    help="asgi: bench_app's pass-through ASGI middleware, every request on the ASGI path")
    ap.add_argument("--only", default="", help="comma-separated routes: " + ",".join(ROUTES))
    ap.add_argument("--chroot", default="/opt/fasterapi-ci/forky", help=".ci/interpreters.sh's chroot")
    ap.add_argument("--pypy", default="/tmp/fa-pypybench/venv/bin/python",
                    help="PyPy with FasterAPI installed, a path inside the chroot")
    ap.add_argument("--app-dir", default="/tmp/fa-pypybench/app", help="where the app files go, inside the chroot")
    args = ap.parse_args()
    routes = {k: v for k, v in ROUTES.items() if not args.only or k in args.only.split(",")}
    kinds = args.interpreters.split(",")
    if "pypy" in kinds:
        dest = Path(args.chroot + args.app_dir)
        dest.mkdir(parents=True, exist_ok=True)
        for f in ("bench_app.py", "jit_app.py"):
            shutil.copy(HERE / f, dest / f)
    now = lambda: datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")  # noqa: E731
    data: dict = {"middleware": args.middleware, "duration": args.duration, "warmup": args.warmup,
                  "connections": args.connections, "endpoints": list(routes), "started": now(), "load_before": load(),
                  "sections": {}}
    for style in args.styles.split(","):
        data["sections"][style] = run_style(style, kinds, routes, args)
    data["finished"], data["load_after"] = now(), load()
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "pypy.json").write_text(json.dumps(data, indent=2))
    print(report(data))


if __name__ == "__main__":
    main()
