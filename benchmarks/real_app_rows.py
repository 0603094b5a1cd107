"""The serve-the-real-FastAPI table: the same unmodified FastAPI app (tests/data/fastapi_app.py) on
FastAPI + uvicorn and on FasterAPI, the same client, one run.

    PYTHONPATH=src python benchmarks/real_app_rows.py

Rows: four 0.5 s blocking `def` requests then an `async def` one (the async answer's latency, the
four's total); an unhandled exception (status, content type); a 100 MB multipart upload to
UploadFile (status, the worker's peak-memory growth from /proc VmHWM); `request.stream()` over
64 MB (chunks seen, peak-memory growth); SSE under the docs' timing middleware, GZip and a pure
ASGI middleware (seconds between the first and the last of 5 events produced 0.2 s apart: ~0.8 s
when they arrive as produced, ~0 when they arrive together at the end).
"""

from __future__ import annotations

import concurrent.futures
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
MB = 1 << 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(server: str, app: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    if server == "fasterapi":
        cmd = [sys.executable, "-m", "fasterapi", "run", app, "--port", str(port)]
    else:
        cmd = [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--log-level", "warning"]
    env = dict(os.environ)
    if env.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) for p in env["PYTHONPATH"].split(os.pathsep))
    proc = subprocess.Popen(cmd, cwd=DATA, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{server} did not start")


def hwm_kb(url: str) -> int:
    return int(httpx.get(f"{url}/memory").json()["hwm_kb"])


def blocking_row(url: str) -> str:
    with httpx.Client() as client, concurrent.futures.ThreadPoolExecutor(4) as pool:
        client.get(f"{url}/fast")
        start_t = time.monotonic()
        futures = [pool.submit(httpx.get, f"{url}/block", timeout=30) for _ in range(4)]
        time.sleep(0.05)
        t0 = time.monotonic()
        client.get(f"{url}/fast", timeout=30)
        fast_ms = (time.monotonic() - t0) * 1000
        for f in futures:
            f.result()
        total = time.monotonic() - start_t
    return f"async answered in {fast_ms:.0f} ms; the four blocking: {total:.2f} s"


def error_row(url: str) -> str:
    r = httpx.get(f"{url}/boom")
    return f"{r.status_code} {r.headers.get('content-type')} {r.text!r}"


def upload_row(url: str) -> str:
    before = hwm_kb(url)
    boundary = "rowsboundary"

    def body():  # type: ignore[no-untyped-def]
        yield (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.bin"\r\n'
               "Content-Type: application/octet-stream\r\n\r\n").encode()
        block = b"x" * MB
        for _ in range(100):
            yield block
        yield f"\r\n--{boundary}--\r\n".encode()

    r = httpx.post(f"{url}/upload", content=body(), timeout=300,
                   headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    grown = (hwm_kb(url) - before) / 1024
    return f"{r.status_code} {r.text[:40]}; peak memory +{grown:.0f} MB"


def stream_row(url: str) -> str:
    before = hwm_kb(url)
    r = httpx.post(f"{url}/stream", content=(b"y" * MB for _ in range(64)), timeout=300)
    grown = (hwm_kb(url) - before) / 1024
    return f"{r.status_code} {r.text[:60]}; peak memory +{grown:.0f} MB"


def sse_spread(url: str) -> float:
    times: list[float] = []
    with httpx.stream("GET", f"{url}/sse", timeout=30, headers={"accept-encoding": "gzip"}) as r:
        for line in r.iter_lines():
            if line.strip():
                times.append(time.monotonic())
    return times[-1] - times[0] if len(times) > 1 else 0.0


def main() -> None:
    rows: dict[str, dict[str, str]] = {}
    for server in ("fastapi+uvicorn", "fasterapi"):
        name = "fasterapi" if server == "fasterapi" else "uvicorn"
        proc, url = start(name, "fastapi_app:app")
        try:
            rows.setdefault("4 blocking def (0.5 s) + 1 async def", {})[server] = blocking_row(url)
            rows.setdefault("unhandled exception", {})[server] = error_row(url)
            rows.setdefault("100 MB multipart upload to UploadFile", {})[server] = upload_row(url)
            rows.setdefault("request.stream() over 64 MB (chunked)", {})[server] = stream_row(url)
        finally:
            proc.terminate()
            proc.wait()
        for app in ("app", "timed", "gzipped", "pure"):
            proc, url = start(name, f"fastapi_app:{app}")
            try:
                spread = sse_spread(url)
            finally:
                proc.terminate()
                proc.wait()
            rows.setdefault(f"SSE, 5 events 0.2 s apart, app `{app}`: first-to-last arrival", {})[server] = (
                f"{spread:.2f} s")
    print("| what the app does | FastAPI + uvicorn | FasterAPI |")
    print("|---|---|---|")
    for row, by in rows.items():
        print(f"| {row} | {by.get('fastapi+uvicorn', '')} | {by.get('fasterapi', '')} |")


if __name__ == "__main__":
    main()
