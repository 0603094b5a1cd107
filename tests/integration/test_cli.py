"""The command line people already type, tried for real: `fasterapi run main.py`, `fasterapi dev`,
finding the app as `fastapi run` does, --factory, --app-dir, --env-file, --log-config, --reload (a
real file edited), the access log in uvicorn's format, --help."""

from __future__ import annotations

import json
import os
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from ._cli_helpers import children, cli_env, fasterapi, free_port, serve, wait_until

APP = '''
import os
from fastapi import FastAPI
{name} = FastAPI()

@{name}.get("/")
def root():
    return {{"module": __name__, "version": 1, "env": os.environ.get("GREETING")}}
'''


def get(port: int, path: str = "/") -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=10)


@pytest.mark.parametrize(
    ("files", "ref", "module"),
    [
        ({"main.py": APP.format(name="app")}, ["main.py"], "main"),
        ({"main.py": APP.format(name="api")}, ["main.py"], "main"),  # `api` is found too
        ({"main.py": APP.format(name="service")}, ["main.py"], "main"),  # the single FastAPI instance
        ({"main.py": APP.format(name="service")}, ["main.py:service"], "main"),
        ({"main.py": APP.format(name="app")}, [], "main"),  # no argument: main.py, app.py, ...
        ({"app/__init__.py": "", "app/main.py": APP.format(name="app")}, [], "app.main"),
        ({"pkg/__init__.py": "", "pkg/sub/__init__.py": "", "pkg/sub/api.py": APP.format(name="app")},
         ["pkg/sub/api.py"], "pkg.sub.api"),  # a module of a package: imported as part of it
        ({"pkg/__init__.py": APP.format(name="app")}, ["pkg"], "pkg"),  # a package directory
        ({"main.py": APP.format(name="app")}, ["main:app"], "main"),  # uvicorn's form
    ],
)
def test_finding_the_app(tmp_path: Path, files: dict[str, str], ref: list[str], module: str) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    port = free_port()
    server = serve(["run", *ref, "--port", str(port)], tmp_path, port=port)
    try:
        assert get(port).json()["module"] == module
    finally:
        assert server.stop() == 0


def test_app_dir_and_factory(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "factory_app.py").write_text(textwrap.dedent('''
        from fastapi import FastAPI

        def create_app():
            app = FastAPI()

            @app.get("/")
            def root():
                return {"made": "by the factory"}

            return app
    '''))
    port = free_port()
    server = serve(["run", "factory_app:create_app", "--factory", "--app-dir", "src", "--port", str(port)],
                   tmp_path, port=port)
    try:
        assert get(port).json() == {"made": "by the factory"}
    finally:
        assert server.stop() == 0
    # a factory that raises: its traceback, one line, exit code 1
    (tmp_path / "src" / "bad_factory.py").write_text("def make():\n    raise ValueError('no settings')\n")
    r = fasterapi("run", "bad_factory:make", "--factory", "--app-dir", "src", "--port", str(free_port()),
                  cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.count("Traceback") == 1
    assert r.stderr.strip().splitlines()[-1] == "error: --factory: bad_factory:make() failed: ValueError: no settings"


def test_env_file(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(APP.format(name="app"))
    (tmp_path / ".env").write_text("# settings\nGREETING='hello from .env'\nexport OTHER=1\n")
    port = free_port()
    server = serve(["run", "main.py", "--env-file", ".env", "--port", str(port), "--workers", "2"], tmp_path,
                   port=port)
    try:
        assert {get(port).json()["env"] for _ in range(6)} == {"hello from .env"}
    finally:
        assert server.stop() == 0


LOG_JSON = {
    "version": 1,  # disable_existing_loggers left at its default (True)
    "formatters": {"plain": {"format": "%(name)s %(levelname)s %(message)s"}},
    "handlers": {"file": {"class": "logging.FileHandler", "filename": "{log}", "formatter": "plain"}},
    "root": {"handlers": ["file"], "level": "INFO"},
}


@pytest.mark.parametrize("kind", ["json", "yaml", "ini"])
def test_log_config_keeps_our_loggers(tmp_path: Path, kind: str) -> None:
    (tmp_path / "main.py").write_text(APP.format(name="app"))
    log = tmp_path / "server.log"
    if kind == "json":
        cfg = json.loads(json.dumps(LOG_JSON).replace("{log}", str(log)))
        (tmp_path / "log.json").write_text(json.dumps(cfg))
    elif kind == "yaml":
        (tmp_path / "log.yaml").write_text(textwrap.dedent(f'''
            version: 1
            formatters:
              plain:
                format: "%(name)s %(levelname)s %(message)s"
            handlers:
              file:
                class: logging.FileHandler
                filename: {log}
                formatter: plain
            root:
              handlers: [file]
              level: INFO
        '''))
    else:
        (tmp_path / "log.ini").write_text(textwrap.dedent(f'''
            [loggers]
            keys=root

            [handlers]
            keys=file

            [formatters]
            keys=plain

            [logger_root]
            level=INFO
            handlers=file

            [handler_file]
            class=FileHandler
            args=('{log}',)
            formatter=plain

            [formatter_plain]
            format=%(name)s %(levelname)s %(message)s
        '''))
    port = free_port()
    server = serve(["run", "main.py", "--port", str(port), "--access-log", "--log-config", f"log.{kind}"], tmp_path,
                   port=port)
    try:
        get(port, "/?x=1")
    finally:
        assert server.stop() == 0
    text = log.read_text()
    assert "fasterapi.server INFO FasterAPI running on http://127.0.0.1:" in text, text
    assert 'fasterapi.access INFO 127.0.0.1:' in text and '"GET /?x=1 HTTP/1.1" 200 OK' in text, text


def test_access_log_format(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(textwrap.dedent('''
        from fastapi import FastAPI, HTTPException
        app = FastAPI()

        @app.get("/items/{i}")
        def item(i: int):
            if i == 0:
                raise HTTPException(404)
            return {"i": i}
    '''))
    port = free_port()
    server = serve(["run", "main.py", "--port", str(port), "--access-log"], tmp_path, port=port, path="/items/1")
    try:
        assert get(port, "/items/0").status_code == 404
        assert get(port, "/items/x").status_code == 422
    finally:
        assert server.stop() == 0
    err = server.stderr()
    assert '"GET /items/1 HTTP/1.1" 200 OK' in err
    assert '"GET /items/0 HTTP/1.1" 404 Not Found' in err
    assert '"GET /items/x HTTP/1.1" 422 Unprocessable Content' in err or \
        '"GET /items/x HTTP/1.1" 422 Unprocessable Entity' in err


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _without_watchfiles(tmp_path: Path) -> dict[str, str]:
    """An environment where `import watchfiles` fails, as on PyPy (no wheel there): the reloader
    has to poll the files instead."""
    hide = tmp_path.parent / f"{tmp_path.name}-nowatch" / "watchfiles"
    hide.mkdir(parents=True)
    (hide / "__init__.py").write_text("raise ImportError('watchfiles hidden by the test')\n")
    return {"PYTHONPATH": os.pathsep.join([str(hide.parent), *cli_env()["PYTHONPATH"].split(os.pathsep)])
            if cli_env().get("PYTHONPATH") else str(hide.parent)}


@pytest.mark.parametrize("command", ["run --reload", "dev", "run --reload polling"])
def test_reload_on_a_real_edit(tmp_path: Path, command: str) -> None:
    (tmp_path / "main.py").write_text(APP.format(name="app"))
    (tmp_path / "notes.txt").write_text("not watched")
    port = free_port()
    polling = command.endswith("polling")
    env = _without_watchfiles(tmp_path) if polling else None
    server = serve([*command.removesuffix(" polling").split(), "main.py", "--port", str(port)], tmp_path,
                   port=port, env=env)
    try:
        assert get(port).json()["version"] == 1
        first = children(server.pid)
        assert len(first) == 1  # the reloader runs the server in a child process
        # a file that is not watched changes nothing
        (tmp_path / "notes.txt").write_text("changed")
        time.sleep(2.5)
        assert children(server.pid) == first
        # an edit to the app: a new server process serving the new code
        _edit(tmp_path / "main.py", '"version": 1', '"version": 2')
        assert wait_until(lambda: _version(port) == 2, 30), server.stderr()
        assert children(server.pid) != first
        # a broken edit: the error is shown, the reloader waits for the fix
        _edit(tmp_path / "main.py", "def root():", "def root(:")
        assert wait_until(lambda: "syntax error in" in server.stderr(), 30), server.stderr()
        assert server.proc.poll() is None
        _edit(tmp_path / "main.py", "def root(:", "def root():")
        _edit(tmp_path / "main.py", '"version": 2', '"version": 3')
        assert wait_until(lambda: _version(port) == 3, 30), server.stderr()
    finally:
        assert server.stop() == 0
    assert "changes in main.py: reloading" in server.stderr()
    assert ("(polling: watchfiles is not installed)" in server.stderr()) == polling, server.stderr()
    with pytest.raises(httpx.TransportError):
        get(port)


def _version(port: int) -> int | None:
    try:
        return int(get(port).json()["version"])
    except (httpx.TransportError, ValueError, KeyError):
        return None


def test_dev_binds_loopback_and_run_rejects_a_taken_port_even_with_reload(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(APP.format(name="app"))
    port = free_port()
    server = serve(["dev", "--port", str(port)], tmp_path, port=port)
    try:
        assert "http://127.0.0.1:" in server.stderr()
        r = fasterapi("run", "main.py", "--reload", "--port", str(port), cwd=tmp_path, timeout=30)
        assert r.returncode == 1 and r.stderr.strip().endswith("address already in use"), r.stderr
    finally:
        assert server.stop() == 0


def test_help_groups_the_options(tmp_path: Path) -> None:
    r = fasterapi("run", "--help", cwd=tmp_path, timeout=30)
    assert r.returncode == 0
    for group in ("app:", "socket:", "workers:", "reload:", "logging:", "limits:", "timeouts (seconds):",
                  "behind a proxy:"):
        assert f"\n{group}\n" in r.stdout, group
    for option in ("--uds", "--fd", "--reload-dir", "--reload-include", "--reload-exclude", "--env-file", "--factory",
                   "--app-dir", "--limit-max-requests", "--timeout-graceful-shutdown", "--timeout-keep-alive",
                   "--log-config"):
        assert option in r.stdout, option


PROXY_APP = '''
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
app = FastAPI()

@app.get("/compiled")
def compiled():
    return {"ok": True}

@app.get("/asgi")
async def asgi(request: Request):
    return {"client": request.client.host}

@app.get("/stream")
def stream():
    return StreamingResponse(iter([b"a", b"b"]))
'''


@pytest.mark.parametrize("trusted", [True, False])
def test_access_log_names_the_client_behind_a_trusted_proxy(tmp_path: Path, trusted: bool) -> None:
    (tmp_path / "main.py").write_text(PROXY_APP)
    port = free_port()
    allow = "127.0.0.1" if trusted else "10.9.9.9"
    server = serve(["run", "main.py", "--port", str(port), "--access-log", "--forwarded-allow-ips", allow],
                   tmp_path, port=port, path="/compiled")
    headers = {"X-Forwarded-For": "203.0.113.7, 127.0.0.1"}
    try:
        for path in ("/compiled", "/asgi", "/stream"):
            with httpx.Client(timeout=10) as c:
                r = c.get(f"http://127.0.0.1:{port}{path}", headers=headers)
                assert r.status_code == 200
                if path == "/asgi":  # the scope says the same
                    assert r.json()["client"] == ("203.0.113.7" if trusted else "127.0.0.1")
    finally:
        assert server.stop() == 0
    lines = server.stderr().splitlines()
    for path in ("/compiled", "/asgi", "/stream"):
        logged = [ln for ln in lines if f'"GET {path} HTTP/1.1" 200 OK' in ln]
        assert logged, (path, server.stderr())
        if trusted:
            assert f'INFO: 203.0.113.7:0 - "GET {path} HTTP/1.1" 200 OK' in logged, logged
        else:
            assert all(ln.startswith("INFO: 127.0.0.1:") for ln in logged), logged


def test_reload_dir_include_exclude(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(APP.format(name="app"))
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "settings.toml").write_text("a = 1\n")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "ignored.py").write_text("x = 1\n")
    port = free_port()
    server = serve(["run", "main.py", "--reload", "--reload-dir", "conf", "--reload-include", "*.toml",
                    "--port", str(port)], tmp_path, port=port)
    try:
        first = children(server.pid)
        (tmp_path / "other" / "ignored.py").write_text("x = 2\n")  # not under a watched directory
        time.sleep(2.5)
        assert children(server.pid) == first
        (tmp_path / "conf" / "settings.toml").write_text("a = 2\n")  # watched, included
        assert wait_until(lambda: children(server.pid) not in (first, set()), 30), server.stderr()
        assert wait_until(lambda: _version(port) == 1, 30)
    finally:
        assert server.stop() == 0
    assert "changes in conf/settings.toml: reloading" in server.stderr()


def test_routes_takes_a_path_too(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(APP.format(name="app"))
    r = fasterapi("routes", "main.py", cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "GET          /" in r.stdout and "routes compiled" in r.stdout
