"""Port ownership and failure behaviour of `fasterapi run`, tried for real: subprocess servers on free
ports, a port held by another process, workers that fail at startup or crash, unix sockets and
inherited file descriptors."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from ._cli_helpers import Proc, alive, children, cli_env, fasterapi, free_port, listener, serve, wait_until

DATA = Path(__file__).resolve().parents[1] / "data"

APP = '''
import os
from contextlib import asynccontextmanager
from fastapi import FastAPI

@asynccontextmanager
async def lifespan(app):
    if os.path.exists(os.environ.get("FAIL_MARKER", "/nonexistent")):
        raise RuntimeError("database unreachable")
    yield

app = FastAPI(lifespan=lifespan)

@app.get("/pid")
def pid():
    return {"pid": os.getpid()}

@app.get("/crash")
def crash():
    os._exit(3)
'''


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "main.py").write_text(APP)
    return tmp_path


def workers_of(pid: int, n: int = 2) -> set[int]:
    """The supervisor's n workers, once it has n."""
    found = wait_until(lambda: len(children(pid)) == n, 15)
    assert found, children(pid)
    return children(pid)


def one_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert lines, "no output"
    return lines[-1]


# ---- port ownership ------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_port_held_by_another_process_is_address_in_use(app_dir: Path, workers: str) -> None:
    with listener() as held:  # a plain socket of this process (not FasterAPI, no SO_REUSEPORT)
        port = held.getsockname()[1]
        r = fasterapi("run", "main:app", "--port", str(port), "--workers", workers, cwd=app_dir, timeout=30)
    assert r.returncode == 1, r.stderr
    assert r.stderr.strip() == f"error: cannot listen on 127.0.0.1:{port}: address already in use"


def test_a_second_server_on_a_served_port_fails_and_the_first_keeps_all_traffic(app_dir: Path) -> None:
    port = free_port()
    first = serve(["run", "main:app", "--port", str(port), "--workers", "2"], app_dir, port=port, path="/pid")
    try:
        workers = workers_of(first.pid)
        r = fasterapi("run", "main:app", "--port", str(port), "--workers", "2", cwd=app_dir, timeout=30)
        assert r.returncode == 1
        assert one_line(r.stderr) == f"error: cannot listen on 127.0.0.1:{port}: address already in use"
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        seen = Counter(httpx.get(f"http://127.0.0.1:{port}/pid", timeout=5).json()["pid"] for _ in range(40))
        assert set(seen) == workers, seen  # both workers of the first server, nobody else
    finally:
        assert first.stop() == 0


def test_a_process_joining_the_port_with_so_reuseport_gets_no_connections(app_dir: Path) -> None:
    # A process of the same user can always join a port group with SO_REUSEPORT: the supervisor's
    # steering program sends every connection to its own workers' sockets.
    port = free_port()
    server = serve(["run", "main:app", "--port", str(port), "--workers", "2"], app_dir, port=port, path="/pid")
    try:
        with listener(port, reuse_port=True) as intruder:
            intruder.setblocking(False)
            pids = Counter(httpx.get(f"http://127.0.0.1:{port}/pid", timeout=5).json()["pid"] for _ in range(60))
            with pytest.raises(BlockingIOError):
                intruder.accept()
        assert len(pids) == 2 and min(pids.values()) >= 5, pids  # spread over both workers
    finally:
        assert server.stop() == 0


def test_unix_socket(app_dir: Path) -> None:
    path = app_dir / "api.sock"
    transport = httpx.HTTPTransport(uds=str(path))
    server = serve(["run", "main:app", "--uds", str(path), "--workers", "2"], app_dir, url="http://a",
                   transport=transport, path="/pid")
    try:
        assert (path.stat().st_mode & 0o777) == 0o666
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(path)), timeout=5) as c:
            assert {c.get("http://a/pid").status_code for _ in range(5)} == {200}
        # the socket is served: a second server on it is "address already in use"
        r = fasterapi("run", "main:app", "--uds", str(path), cwd=app_dir, timeout=30)
        assert r.returncode == 1 and r.stderr.strip() == f"error: cannot listen on unix:{path}: address already in use"
    finally:
        assert server.stop() == 0
    assert not path.exists()  # removed on exit
    # a stale socket file (a server that was SIGKILLed) is replaced
    with socket.socket(socket.AF_UNIX) as stale:
        stale.bind(str(path))
    server = serve(["run", "main:app", "--uds", str(path)], app_dir, url="http://a", transport=transport, path="/pid")
    try:
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(path)), timeout=5) as c:
            assert c.get("http://a/pid").json()["pid"] == server.pid  # one worker: in the process itself
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize("workers", ["1", "2"])
def test_inherited_fd(app_dir: Path, workers: str) -> None:
    # As systemd socket activation passes it: a bound, listening socket the server inherits.
    sock = listener()
    port = sock.getsockname()[1]
    fd = sock.fileno()
    try:
        server = serve(["run", "main:app", "--fd", str(fd), "--workers", workers], app_dir, port=port,
                       pass_fds=(fd,), path="/pid")
        try:
            assert {httpx.get(f"http://127.0.0.1:{port}/pid", timeout=5).status_code for _ in range(5)} == {200}
        finally:
            assert server.stop() == 0
    finally:
        sock.close()


def test_fd_that_is_not_a_socket_is_one_line(app_dir: Path) -> None:
    r = fasterapi("run", "main:app", "--fd", "0", cwd=app_dir, timeout=30)
    assert r.returncode == 1 and r.stderr.strip().startswith("error: --fd 0: not a"), r.stderr


# ---- fail fast -------------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", ["1", "2", "3"])
def test_lifespan_startup_failure_stops_the_server(app_dir: Path, workers: str) -> None:
    (app_dir / "fail").write_text("")
    port = free_port()
    t0 = time.monotonic()
    r = fasterapi("run", "main:app", "--port", str(port), "--workers", workers, cwd=app_dir,
                  env={"FAIL_MARKER": str(app_dir / "fail")}, timeout=60)
    took = time.monotonic() - t0
    assert r.returncode == 1, r.stderr
    last = one_line(r.stderr)
    assert last.startswith("error: ") and last.endswith("lifespan startup failed: RuntimeError: database unreachable")
    if workers != "1":
        assert "failed to start" in last
    assert r.stderr.count("Traceback (most recent call last)") == 1, r.stderr  # printed once
    assert 'raise RuntimeError("database unreachable")' in r.stderr
    print(f"--workers {workers}: stopped {took:.2f} s after the start")
    # nothing left listening, no worker left behind
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0


def test_import_error_in_the_app_is_its_traceback_once_and_one_line(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("from fastapi import FastAPI\nimport json\njson.loads('{')\napp = FastAPI()\n")
    r = fasterapi("run", "main:app", "--port", str(free_port()), "--workers", "2", cwd=tmp_path, timeout=30)
    assert r.returncode == 1
    assert r.stderr.count("Traceback (most recent call last)") == 1
    assert one_line(r.stderr) == ("error: importing 'main' failed: JSONDecodeError: Expecting property name "
                                  "enclosed in double quotes: line 1 column 2 (char 1)")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["main:app", "--workers", "0"], "fasterapi run: error: argument --workers: must be at least 1 (got 0)"),
        (["main:app", "--workers", "-1"], "fasterapi run: error: argument --workers: must be at least 1 (got -1)"),
        (["main:app", "--port", "87536"], "fasterapi run: error: argument --port: 87536 is out of range (0..65535)"),
        (["main:app", "--port", "http"], "fasterapi run: error: argument --port: not a port number: 'http'"),
        (["main:app", "--host", "no-such-host.invalid"], "error: unknown host 'no-such-host.invalid'"),
        (["nosuch:app"], "error: cannot import module 'nosuch': no module named 'nosuch'"),
        (["main:nope"], "error: attribute 'nope' not found in module 'main'"),
        (["syntax_error.py"], "error: syntax error in {dir}/syntax_error.py, line 3: "),
        (["nothing.py"], "error: nothing.py: no such file or directory"),
        (["empty.py"], "error: no FastAPI app in empty.py (looked for 'app', 'api' or a FastAPI instance"),
        (["main:app", "--bogus"], "fasterapi: error: unrecognized arguments: --bogus"),
        (["main:app", "--env-file", "missing.env"], "error: --env-file missing.env: no such file"),
        (["main:app", "--log-config", "missing.json"], "error: --log-config missing.json: no such file"),
    ],
)
def test_operator_mistakes_are_one_line_and_exit_code_2(app_dir: Path, args: list[str], message: str) -> None:
    (app_dir / "syntax_error.py").write_text("from fastapi import FastAPI\napp = FastAPI(\ndef x(:\n")
    (app_dir / "empty.py").write_text("x = 1\n")
    r = fasterapi("run", *args, cwd=app_dir, timeout=30)  # (TimeoutExpired if it hung)
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(message.format(dir=app_dir)), lines[0]


def test_a_worker_that_dies_later_is_replaced_and_a_crash_loop_ends_the_server(app_dir: Path) -> None:
    port = free_port()
    marker = app_dir / "fail"
    server = serve(["run", "main:app", "--port", str(port), "--workers", "2"], app_dir, port=port, path="/pid",
                   env={"FAIL_MARKER": str(marker)})
    try:
        workers = workers_of(server.pid)
        # one crash: replaced at once, the server goes on
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/crash", timeout=5)
        assert wait_until(lambda: len(children(server.pid)) == 2 and children(server.pid) != workers, 10)
        assert wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/pid", timeout=5).status_code == 200, 10)
        assert server.proc.poll() is None
        # then the app cannot start any more (its database is gone): the replacements fail at
        # startup, with a growing pause, and after 5 in a row the server stops
        time.sleep(1.5)  # the replacement has served for a while: the first crash is forgiven
        marker.write_text("")
        t0 = time.monotonic()
        with pytest.raises(httpx.TransportError):
            while True:  # until a request lands on a worker that crashes
                httpx.get(f"http://127.0.0.1:{port}/crash", timeout=5)
        code = server.wait(60)
        took = time.monotonic() - t0
    finally:
        server.stop()
    err = server.stderr()
    assert code == 1, err
    assert one_line(err) == ("error: 5 workers in a row died before serving or right after (last: lifespan startup "
                             "failed: RuntimeError: database unreachable); stopping"), err
    assert err.count("failed to start") == 4, err  # the replacements, each one line (no traceback)
    print(f"crash loop detected {took:.2f} s after the first crash")
    assert not any(alive(pid) for pid in workers)


def test_sigterm_during_a_slow_startup_stops_cleanly(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(textwrap.dedent('''
        import asyncio
        from contextlib import asynccontextmanager
        from fastapi import FastAPI

        @asynccontextmanager
        async def lifespan(app):
            print("starting", flush=True)
            await asyncio.sleep(2)
            yield

        app = FastAPI(lifespan=lifespan)
    '''))
    port = free_port()
    p = Proc(["run", "main:app", "--port", str(port), "--workers", "2"], tmp_path)
    try:
        assert wait_until(lambda: p.out_path.read_text().count("starting") == 2, 20)
        p.proc.send_signal(signal.SIGTERM)
        assert p.wait(30) == 0
    finally:
        p.stop()
    assert "error" not in p.stderr()


def test_limit_max_requests_recycles_workers_without_failed_requests(app_dir: Path) -> None:
    port = free_port()
    server = serve(["run", "main:app", "--port", str(port), "--limit-max-requests", "20"], app_dir, port=port,
                   path="/pid")
    try:
        from concurrent.futures import ThreadPoolExecutor

        def get(_: int) -> int:
            # a new connection each time (a pooled keep-alive connection closed by a retiring
            # worker is a race any client must retry, as under uvicorn)
            with httpx.Client(limits=httpx.Limits(max_keepalive_connections=0), timeout=30) as c:
                r = c.get(f"http://127.0.0.1:{port}/pid")
                assert r.status_code == 200
                return int(r.json()["pid"])

        with ThreadPoolExecutor(4) as pool:
            pids = list(pool.map(get, range(120)))
        assert len(pids) == 120  # no request failed
        assert len(set(pids)) >= 4, Counter(pids)  # 20 (+ up to 10% jitter) requests per worker
        # at most the limit with its jitter (22), plus what the 4 clients had sent it meanwhile
        assert max(Counter(pids).values()) <= 22 + 4, Counter(pids)
        assert server.proc.poll() is None
    finally:
        assert server.stop() == 0
    assert "(--limit-max-requests): restarting it" in server.stderr()


def test_timeout_graceful_shutdown_bounds_the_drain(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(textwrap.dedent('''
        import asyncio
        from fastapi import FastAPI
        app = FastAPI()

        @app.get("/sleep")
        async def sleep(s: float):
            await asyncio.sleep(s)
            return {"slept": s}
    '''))
    port = free_port()
    server = serve(["run", "main:app", "--port", str(port), "--timeout-graceful-shutdown", "1",
                    "--timeout-keep-alive", "2"], tmp_path, port=port, path="/sleep?s=0")
    import threading

    errors: list[BaseException] = []

    def slow() -> None:
        try:
            httpx.get(f"http://127.0.0.1:{port}/sleep?s=20", timeout=30)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    code = server.wait(30)
    took = time.monotonic() - t0
    t.join(30)
    server.stop()
    assert code == 0
    assert 0.9 < took < 10, took  # the 1 s deadline, not the handler's 20 s
    assert errors and isinstance(errors[0], httpx.TransportError)
    assert "shutdown deadline: closing 1 connections" in server.stderr()


def test_cli_and_api_share_the_checks() -> None:
    # app.run() (the API) refuses what the command line refuses, with the same one line.
    code = textwrap.dedent('''
        from fasterapi import FastAPI
        FastAPI().run(workers=0)
    ''')
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                       env={**os.environ, "PYTHONPATH": os.pathsep.join(
                           os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)})
    assert r.returncode == 2 and r.stderr.strip() == "error: --workers must be at least 1 (got 0)", r.stderr


assert DATA.is_dir()


def test_systemd_socket_activation(app_dir: Path) -> None:
    assert shutil.which("systemd-socket-activate"), "needs Debian's systemd (tests/install-and-run.sh installs it)"
    # docs/deployment.md's recipe: systemd binds the port and starts the server with the socket as
    # fd 3 (systemd-socket-activate does what a .socket unit does, started on the first connection).
    port = free_port()
    env = cli_env()
    keep = [f"-E{k}={env[k]}" for k in ("PYTHONPATH", "PATH") if env.get(k)]  # it passes no other variable
    p = subprocess.Popen(["systemd-socket-activate", "-l", f"127.0.0.1:{port}", *keep, sys.executable, "-m",
                          "fasterapi", "run", "main:app", "--fd", "3", "--workers", "2"], cwd=app_dir,
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: _pid_or_none(port), 30)
        pids = Counter(httpx.get(f"http://127.0.0.1:{port}/pid", timeout=10).json()["pid"] for _ in range(20))
        assert len(pids) >= 1 and all(pid != p.pid for pid in pids)
        p.send_signal(signal.SIGTERM)
        assert p.wait(30) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def _pid_or_none(port: int) -> int | None:
    try:
        return int(httpx.get(f"http://127.0.0.1:{port}/pid", timeout=10).json()["pid"])
    except httpx.TransportError:
        return None
