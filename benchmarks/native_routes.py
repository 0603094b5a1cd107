"""Over the wire: a Python route, a constant route and a C++ native route returning the same body,
next to nginx `return 200` with the same body; and response bodies copied vs referenced.

    bash benchmarks/setup.sh            # wrk, nginx
    python benchmarks/native_routes.py [--duration 5] [--rounds 3] [--connections 64]

The server (FasterAPI: one worker; nginx: one worker) runs on CPU 0, wrk (one thread) on CPU 1.
Targets are measured in alternating order within each round and each figure is the median over
the rounds; ratios are taken within the same run. examples/native is built into
build/native-example first if FASTERAPI_NATIVE_LIB is not set.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BODY = b'{"message":"Hello, World!"}'

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
    location / {{
      default_type application/json;
      return 200 '{body}';
    }}
  }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def native_lib() -> str:
    lib = os.environ.get("FASTERAPI_NATIVE_LIB")
    if lib:
        return lib
    build = ROOT / "build" / "native-example"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    subprocess.run(["cmake", "-S", str(ROOT / "examples" / "native"), "-B", str(build),
                    f"-DPython_EXECUTABLE={sys.executable}"], check=True, capture_output=True, env=env)
    subprocess.run(["cmake", "--build", str(build)], check=True, capture_output=True, env=env)
    return str(build / "libfast.so")


def start_fasterapi(lib: str, options: dict[str, object]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = dict(os.environ, FASTERAPI_NATIVE_LIB=lib, FASTERAPI_ENGINE_OPTIONS=json.dumps(options),
               PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(["taskset", "-c", "0", sys.executable, "-m", "fasterapi", "run", "perf_app:app",
                             "--port", str(port)], cwd=HERE, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return proc, port


def start_nginx(tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, body=BODY.decode()))
    proc = subprocess.Popen(["taskset", "-c", "0", "nginx", "-p", str(tmp), "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return proc, port


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def fetch(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def wrk(url: str, duration: int, connections: int, pipelined: bool) -> float:
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{duration}s"]
    if pipelined:
        cmd += ["-s", str(HERE / "pipeline_path.lua")]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        raise RuntimeError(f"{url}: {bad.group(1)} non-2xx responses")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def measure(targets: dict[str, str], args: argparse.Namespace, pipelined: bool) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {name: [] for name in targets}
    names = list(targets)
    for rnd in range(args.rounds):
        order = names if rnd % 2 == 0 else names[::-1]
        for name in order:
            wrk(targets[name], 1, args.connections, pipelined)  # warm-up
            results[name].append(wrk(targets[name], args.duration, args.connections, pipelined))
            print(f"  round {rnd + 1} {'pipelined ' if pipelined else ''}{name}: {results[name][-1]:,.0f} req/s",
                  file=sys.stderr)
    return results


def table(title: str, results: dict[str, list[float]], base: str) -> list[str]:
    lines = [f"### {title}", "", f"| target | req/s (median) | rounds | × {base} |", "|---|---|---|---|"]
    b = statistics.median(results[base])
    for name, xs in results.items():
        m = statistics.median(xs)
        lines.append(f"| {name} | {m:,.0f} | {' / '.join(f'{x:,.0f}' for x in xs)} | {m / b:.2f}× |")
    return lines + [""]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--skip-zero-copy", action="store_true")
    args = ap.parse_args()
    lib = native_lib()
    out: list[str] = [
        f"wrk -t1 -c{args.connections} -d{args.duration}s, server on CPU 0, wrk on CPU 1, median of {args.rounds} "
        "alternating rounds (same run)", ""]
    raw: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        procs = []
        try:
            fa, fa_port = start_fasterapi(lib, {})
            procs.append(fa)
            have_nginx = shutil.which("nginx") is not None
            if have_nginx:
                ng, ng_port = start_nginx(tmp)
                procs.append(ng)
            targets = {
                "FasterAPI Python route": f"http://127.0.0.1:{fa_port}/py/hello",
                "FasterAPI constant route (static=True)": f"http://127.0.0.1:{fa_port}/const/hello",
                "FasterAPI C++ native route": f"http://127.0.0.1:{fa_port}/native/hello",
            }
            if have_nginx:
                targets["nginx return 200"] = f"http://127.0.0.1:{ng_port}/"
            for name, url in targets.items():  # the same body everywhere
                port = int(url.split(":")[2].split("/")[0])
                status, headers, body = fetch(port, "/" + url.split("/", 3)[3])
                assert status == 200 and body == BODY, (name, status, body)
                assert headers["content-type"] == "application/json", (name, headers)
            for pipelined in (False, True):
                res = measure(targets, args, pipelined)
                raw["pipelined" if pipelined else "plain"] = res
                title = "16 requests pipelined per write" if pipelined else "one request per round trip"
                out += table(title, res, "FasterAPI Python route")
                if have_nginx:
                    ng_med = statistics.median(res["nginx return 200"])
                    out.append("vs nginx: " + ", ".join(
                        f"{n} {statistics.median(v) / ng_med:.2f}×" for n, v in res.items() if n != "nginx return 200"))
                    out.append("")
        finally:
            for p in procs:
                stop(p)
        if not args.skip_zero_copy:
            procs = []
            try:
                copy, copy_port = start_fasterapi(lib, {"zero_copy_min": -1})
                procs.append(copy)
                ref, ref_port = start_fasterapi(lib, {"zero_copy_min": 0})
                procs.append(ref)
                for size in ("1k", "64k", "1m"):
                    targets = {"copied": f"http://127.0.0.1:{copy_port}/bytes/{size}",
                               "referenced (zero_copy_min=0)": f"http://127.0.0.1:{ref_port}/bytes/{size}"}
                    conns = args.connections if size != "1m" else 16
                    res = measure(targets, argparse.Namespace(**{**vars(args), "connections": conns}), False)
                    raw[f"bytes_{size}"] = res
                    out += table(f"Response body of {size} (wrk -c{conns})", res, "copied")
            finally:
                for p in procs:
                    stop(p)
    print("\n".join(out))
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "native_routes.json").write_text(json.dumps(raw, indent=2))


if __name__ == "__main__":
    main()
