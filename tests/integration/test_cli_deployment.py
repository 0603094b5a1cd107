"""docs/deployment.md's nginx recipe, run with Debian's nginx in front of `fasterapi run --workers 2`:
the config block is read from the document itself (ports changed), so the document is what is tried."""

from __future__ import annotations

import re
import shutil
import subprocess
import textwrap
import time
from pathlib import Path

import httpx

from ._cli_helpers import children, free_port, serve, wait_until

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)

APP = '''
import asyncio, os
from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import StreamingResponse
app = FastAPI()

@app.get("/who")
async def who(request: Request):
    return {"client": request.client.host, "scheme": request.url.scheme, "pid": os.getpid()}

@app.get("/events")
async def events():
    async def gen():
        yield "data: one\\n\\n"
        await asyncio.sleep(6)
        yield "data: two\\n\\n"
    return StreamingResponse(gen(), media_type="text/event-stream")

@app.websocket("/ws")
async def ws(websocket: WebSocket):
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text.upper())
'''


def recipe() -> str:
    doc = (ROOT / "docs" / "deployment.md").read_text()
    m = re.search(r"<!-- nginx-begin -->\s*```nginx\n(.*?)```\s*<!-- nginx-end -->", doc, re.S)
    assert m, "the nginx block of docs/deployment.md"
    return m.group(1)


def test_nginx_recipe(tmp_path: Path) -> None:
    assert NGINX is not None, "needs Debian's nginx (tests/install-and-run.sh installs it)"
    (tmp_path / "main.py").write_text(APP)
    backend, front = free_port(), free_port()
    block = recipe()
    assert "server 127.0.0.1:8000;" in block and "listen 80;" in block
    block = block.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{backend};")
    block = block.replace("listen 80;", f"listen 127.0.0.1:{front};")
    prefix = tmp_path / "nginx"
    for sub in ("logs", "tmp"):
        (prefix / sub).mkdir(parents=True)
    conf = prefix / "nginx.conf"
    conf.write_text(textwrap.dedent(f"""
        worker_processes 1;
        pid {prefix}/nginx.pid;
        error_log {prefix}/logs/error.log;
        events {{ worker_connections 256; }}
        http {{
            access_log off;
            client_body_temp_path {prefix}/tmp/body;
            proxy_temp_path {prefix}/tmp/proxy;
            fastcgi_temp_path {prefix}/tmp/fastcgi;
            uwsgi_temp_path {prefix}/tmp/uwsgi;
            scgi_temp_path {prefix}/tmp/scgi;
        """) + textwrap.indent(block, "    ") + "}\n")
    server = serve(["run", "main:app", "--port", str(backend), "--workers", "2", "--access-log"], tmp_path,
                   port=backend, path="/who")
    nginx = subprocess.Popen([str(NGINX), "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{front}"
        assert wait_until(lambda: _answers(url + "/who"), 20), (prefix / "logs" / "error.log").read_text()
        with httpx.Client(timeout=10) as c:
            r = c.get(url + "/who", headers={"X-Forwarded-For": "203.0.113.9"})
            # nginx appends its client (127.0.0.1); the app trusts nginx's address and takes the
            # first untrusted one from the right
            assert r.json()["client"] == "203.0.113.9"
            # sequential requests ride one kept-alive upstream connection (one worker): all answered
            assert {c.get(url + "/who").status_code for _ in range(40)} == {200}
        # SSE, unbuffered: the first event arrives while the second is still 6 s away
        t0 = time.monotonic()
        with httpx.stream("GET", url + "/events", timeout=20) as r:
            first = next(r.iter_lines())
            arrived = time.monotonic() - t0
        assert first == "data: one"
        assert arrived < 5, arrived
        # a WebSocket through the proxy
        from websockets.sync.client import connect

        with connect(f"ws://127.0.0.1:{front}/ws", open_timeout=10) as ws:
            ws.send("hello")
            assert ws.recv(timeout=10) == "HELLO"
        # a worker SIGKILLed under load: no client sees an error (nginx retries a request on a
        # broken kept-alive upstream connection; the killed worker's socket stays open in the
        # supervisor, so new connections wait for its replacement instead of being refused)
        ok, errors = _load_with_a_kill(url + "/who", server.pid)
        print(f"through nginx, a worker SIGKILLed under load: {ok} requests, {len(errors)} errors")
        assert errors == [] and ok > 100, (ok, errors[:5])
    finally:
        nginx.terminate()
        nginx.wait(10)
        assert server.stop() == 0
    assert '203.0.113.9:0 - "GET /who HTTP/1.1" 200 OK' in server.stderr()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _load_with_a_kill(url: str, supervisor: int) -> tuple[int, list[str]]:
    import os
    import signal
    import threading

    stop = threading.Event()
    ok = [0]
    errors: list[str] = []

    def client() -> None:
        with httpx.Client(timeout=15) as c:
            while not stop.is_set():
                try:
                    r = c.get(url)
                    if r.status_code == 200:
                        ok[0] += 1
                    else:
                        errors.append(f"{r.status_code} {r.text[:80]}")
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    workers = children(supervisor)
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    replaced = wait_until(lambda: len(children(supervisor)) == 2 and victim not in children(supervisor), 10)
    time.sleep(1.5)
    stop.set()
    for t in threads:
        t.join(30)
    assert replaced, children(supervisor)
    return ok[0], errors
