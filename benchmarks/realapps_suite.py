"""Third-party FastAPI ecosystem libraries' own test suites: FastAPI's TestClient vs. the engine.

The libraries built on FastAPI ship pytest suites that build real FastAPI apps (routers,
dependencies, security, middleware, OpenAPI, streaming) and test them. This tool runs each suite
twice, with the REAL FastAPI and Starlette installed:

  (a) baseline: plain `pytest`: Starlette's TestClient talks to the app over ASGI;
  (b) engine:   `pytest -p fasterapi.pytest_plugin`: every `starlette.testclient.TestClient` (so
                `fastapi.testclient.TestClient`) and every httpx `ASGITransport` (under asyncio)
                sends its HTTP requests through an in-memory connection of the FasterAPI engine
                (C++ parser, router, compiled plans, ASGI bridge).

and reports, per library: the tests passing on (a), how many of those also pass on (b), and each
test that passes on (a) but fails on (b) with its first error line. The overall figure is the
fraction of baseline-passing tests that pass on the engine.

A test that talks ASGI some other way (its own ASGI calls, `ASGITransport` under trio) does so in
both runs. So each run also counts, per test, the requests each client made (a `.pth` start-up hook in the venv wraps
`fasterapi.testclient._EngineTransport.handle_request`, Starlette's `_TestClientTransport` and
httpx's `ASGITransport` when their modules load, and writes the counts at exit): the report gives
the engine request count per library and how many tests sent at least one request through it.

For each library in PROJECTS, at run time (nothing third-party is committed):

1. `pip download --no-deps --no-binary NAME NAME==VER`: the sdist, extracted under the work dir
   (the tests are run from there);
2. a venv (python3.11, the CPython the built `_core` is for) with `NAME==VER` and its runtime
   dependencies, its test dependencies, pytest + pytest-timeout, and fastapi==0.165.0 and
   starlette==1.10.0 pinned by a constraints file (a library that needs another FastAPI is a
   setup error, reported); FasterAPI is this checkout's package: a snapshot of `src/fasterapi`
   (with its built `_core`) on the venv's path through a `.pth` file;
3. the two pytest runs (per-test timeout 60 s, a per-run timeout), then the comparison.

    python3 benchmarks/realapps_suite.py [--project NAME ...] [--work /tmp/realapps] [--jobs 2]
        [--timeout 600] [--json out.json] [--markdown out.md]

The venvs are kept between runs (re-made when a library's dependency list changes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parent
PYTHON = os.environ.get("REALAPPS_PYTHON", "python3.11")  # the built _core is for CPython 3.11

FASTAPI_VERSION = "0.165.0"
STARLETTE_VERSION = "1.10.0"
CONSTRAINTS = f"fastapi=={FASTAPI_VERSION}\nstarlette=={STARLETTE_VERSION}\n"

# What every venv gets: the real FastAPI and Starlette, the test runner and both clients.
BASE_DEPS = [
    f"fastapi=={FASTAPI_VERSION}", f"starlette=={STARLETTE_VERSION}", "pytest", "pytest-timeout",
    "pytest-asyncio", "pytest-cov", "httpx", "httpx2", "python-multipart", "jinja2", "anyio",
]


@dataclass
class Project:
    version: str
    deps: list[str]
    # pytest arguments (paths, -k, --deselect, project options), run from the sdist root
    args: list[str]
    note: str = ""
    # what pip installs for the library itself (default NAME==VERSION, wheels allowed)
    install: list[str] | None = None
    # extra directories (relative to the sdist root) put on PYTHONPATH
    paths: list[str] = field(default_factory=list)
    # per-run timeout in seconds (default: --timeout)
    timeout: int | None = None
    # files the suite expects but the sdist lacks (path relative to the sdist root -> content)
    files: dict[str, str] = field(default_factory=dict)


PROJECTS: dict[str, Project] = {
    # ---- auth ---------------------------------------------------------------------------------
    "fastapi-users": Project(
        version="15.0.5",
        deps=["pwdlib[argon2,bcrypt]==0.3.0", "httpx-oauth", "asgi-lifespan", "pytest-mock",
              "redis"],  # imported by fastapi_users.authentication.strategy (no server used)
        args=["tests"],
    ),
    "fastapi-azure-auth": Project(
        version="5.3.0",
        deps=["requests-mock", "pytest-socket", "pytest-dotenv", "pytest-freezer", "trio", "pytest-httpx2",
              "pytest-mock", "openapi-spec-validator", "uvicorn", "pydantic-settings", "asgi-lifespan", "cryptography"],
        args=["tests"],
        paths=["."],
    ),
    "fastapi-csrf-protect": Project(
        version="1.0.7",
        deps=["pydantic-settings>=2"],
        args=["tests"],
        paths=["src"],
    ),
    "authx": Project(
        version="1.7.1",
        deps=["dirty-equals", "requests", "SQLAlchemy", "itsdangerous", "websockets", "freezegun",
              "async-asgi-testclient", "pytest-pretty"],
        args=["tests"],
    ),
    # ---- pagination, listing, CRUD --------------------------------------------------------------
    "fastapi-pagination": Project(
        version="0.16.1",
        deps=["asgi-lifespan", "dirty-equals", "faker", "flaky", "requests", "sqlalchemy", "sqlmodel",
              "sqlakeyset", "aiosqlite", "asyncpg", "pymongo", "cassandra-driver"],
        # the conftest requires the DSN options and imports the drivers; only sqlite is used
        args=["tests", "tests/ext/test_sqlalchemy.py", "tests/ext/test_sqlmodel.py",
              "--ignore=tests/ext", "-k", "not postgres",
              "--postgres-dsn=postgresql://unused", "--mongodb-dsn=mongodb://unused",
              "--cassandra-dsn=unused", "--firestore-dsn=unused"],
        note="core tests + the SQLAlchemy/SQLModel extensions on sqlite",
    ),
    "fastapi-listing": Project(
        version="0.4.0",
        deps=["sqlalchemy", "requests"],
        args=["tests"],
    ),
    # ---- MCP, JSON-RPC, docs --------------------------------------------------------------------
    "fastapi-mcp": Project(
        version="0.4.0",
        deps=["mcp>=1.12,<2", "uvicorn", "requests", "pyjwt", "cryptography"],  # mcp 2 removed an API its tests use
        # the *_real_transport tests start uvicorn servers in subprocesses (sockets, not the client)
        args=["-o", "addopts=", "tests", "--ignore=tests/test_http_real_transport.py",
              "--ignore=tests/test_sse_real_transport.py"],
        note="uvicorn-served transport tests left out",
    ),
    "fastapi-jsonrpc": Project(
        version="4.1.0",
        deps=["sentry-sdk>=2.12", "opentelemetry-sdk>=1.30", "opentelemetry-instrumentation-fastapi", "requests"],
        args=["tests"],
    ),
    "fastapi-offline": Project(
        version="1.7.7",
        deps=["requests"],
        args=["tests"],
    ),
    # ---- DI, class-based views, routing helpers ---------------------------------------------------
    "dependency-injector": Project(
        version="4.49.1",
        deps=["pytest-asyncio"],
        args=["tests/unit/wiring/test_fastapi_py36.py", "tests/unit/samples/wiringfastapi"],
        note="its FastAPI wiring tests",
    ),
    "fastapi-router-controller": Project(
        version="0.6.0",
        deps=["requests"],
        args=["-o", "addopts=", "tests"],
    ),
    "fastapi-class": Project(
        version="3.7.0",
        # pytest 9 refuses its pyproject's `testpaths = "tests/"` (a string)
        deps=["requests", "pytest-pretty", "pytest<9"],
        args=["tests"],
    ),
    "fastapi-tags": Project(
        version="0.5.1",
        deps=[],
        args=["tests"],
    ),
    # ---- errors ---------------------------------------------------------------------------------
    "fastapi-problem": Project(
        version="0.12.1",
        deps=["pytest-httpx"],
        args=["-o", "addopts=", "tests"],  # without its --random-order: the same order in both runs
    ),
    "fastapi-error-map": Project(
        version="1.0.0",
        deps=[],
        args=["tests"],
    ),
    # ---- rate limiting, events, observability -----------------------------------------------------
    "fastapi-throttle": Project(
        version="0.1.8",
        deps=[],
        args=["tests"],
    ),
    "fastapi-events": Project(
        version="0.12.2",
        deps=["requests", "pydantic", "opentelemetry-sdk"],
        args=["tests"],
        paths=["."],  # its conftest loads the plugin `tests.fixtures.otel`
    ),
    "opentelemetry-instrumentation-fastapi": Project(
        version="0.66b2",
        deps=["opentelemetry-test-utils", "requests"],
        args=["tests"],
    ),
    "starlette-exporter": Project(
        version="0.24.0",
        deps=["requests", "aiofiles", "pytest-mock"],
        args=["tests"],
        files={"tests/static/test.txt": "this is a test file\n"},  # in its repository, not in the sdist
    ),
    "fastapi-radar": Project(
        version="0.3.4",
        deps=["uvicorn", "sqlalchemy[asyncio]", "aiosqlite"],
        args=["tests"],
    ),
    # ---- middleware, streaming --------------------------------------------------------------------
    "sse-starlette": Project(
        version="3.7.0",
        deps=["asgi-lifespan", "uvicorn", "sqlalchemy[asyncio]", "aiosqlite", "portend", "psutil", "tenacity"],
        # the integration tests start uvicorn / docker (testcontainers) servers
        args=["-o", "addopts=", "tests", "--ignore=tests/integration", "-m", "not integration and not experimentation"],
        note="integration (uvicorn/docker) tests left out",
        paths=["."],  # its tests import tests.anyio_compat
    ),
    "starlette-compress": Project(
        version="2.0.0",
        deps=["brotli", "zstandard"],
        args=["tests"],
    ),
    "starlette-csrf": Project(
        version="3.0.0",
        deps=["asgi-lifespan", "httpx<0.28"],  # its tests use AsyncClient(app=...), gone in httpx 0.28
        args=["-o", "addopts=", "tests"],
    ),
    "msgpack-asgi": Project(
        version="3.0.0",
        deps=[],
        args=["-o", "addopts=", "tests"],
    ),
    # ---- added 2026-12-05: DI containers' FastAPI/Starlette integrations ------------------------
    "dishka": Project(
        version="1.10.1",
        deps=["asgi-lifespan"],
        # its noxfile runs each integration's directory in its own venv; these are the ASGI ones
        args=["tests/integrations/fastapi", "tests/integrations/starlette"],
        note="its FastAPI and Starlette integration tests",
    ),
    "wireup": Project(
        version="2.13.0",
        deps=["pydantic-settings"],
        args=["test/integration/fastapi", "test/integration/starlette", "test/integration/asgi"],
        note="its FastAPI, Starlette and ASGI integration tests",
    ),
    "svcs": Project(
        version="26.2.0",
        deps=["sybil>=6"],  # its root conftest collects the docs' examples with sybil
        args=["tests/integrations/test_fastapi.py", "tests/integrations/test_starlette.py"],
        note="its FastAPI and Starlette integration tests",
    ),
    "aioinject": Project(
        version="1.11.0",
        deps=["asgi-lifespan", "pydantic-settings", "trio"],  # its anyio_backend fixture has a trio case
        args=["tests/integrations/fastapi"],
        note="its FastAPI integration tests",
    ),
    "diwire": Project(
        version="1.5.0",
        deps=[],
        args=["tests/integrations/fastapi", "tests/unit/internal/test_integrations_fastapi.py"],
        note="its FastAPI integration tests",
    ),
    # ---- API versioning, admin, sessions/DB, i18n, CSRF, idempotency, proxy, MSAL -----------------
    "cadwyn": Project(
        version="9.0.0",
        deps=["svcs", "pytest-fixture-classes", "dirty-equals", "inline-snapshot", "pydantic-settings",
              "sqlalchemy", "sqlmodel", "fastapi-pagination", "typer", "uvicorn"],
        # its filterwarnings=error turns the venv's pytest-asyncio's 'loop scope unset' warning into
        # an INTERNALERROR at start-up (it has no async tests of its own)
        args=["-o", "asyncio_default_fixture_loop_scope=function", "tests"],
    ),
    "starlette-i18n": Project(
        version="3.1.0",
        deps=["babel"],
        args=["tests"],
    ),
    "asgi-csrf": Project(
        version="0.11",
        deps=["asgi-lifespan"],
        args=["tests"],
    ),
    "fastapi-idempotency": Project(
        version="0.1.1",
        deps=["tortoise-orm>=0.21", "aiosqlite"],
        args=["tests"],
    ),
    "fastapi-msal": Project(
        version="2.1.7",
        deps=["itsdangerous"],
        args=["tests"],
    ),
    "axioms-fastapi": Project(
        version="0.0.13",
        deps=["sqlmodel", "jwcrypto"],
        args=["tests"],
        paths=["tests"],  # its tests import `conftest` as a module
    ),
    "propelauth-fastapi": Project(
        version="4.4.0",
        deps=["requests-mock", "cryptography"],
        args=["tests"],
        paths=["."],
    ),
    "opentelemetry-instrumentation-starlette": Project(
        version="0.66b1",
        deps=["opentelemetry-test-utils", "requests"],
        args=["tests"],
    ),
}

COUNT_HOOK = r'''
"""Written by benchmarks/realapps_suite.py: counts the requests each test client makes.

Loaded at start-up by `_realapps_count.pth`. When a client module loads, its transport's request
method is wrapped: `fasterapi.testclient._EngineTransport.handle_request` and
`_EngineASGI.exchange` (the engine: TestClient, and httpx's ASGITransport once the plugin is in),
`starlette.testclient._TestClientTransport.handle_request` (ASGI, TestClient),
`httpx[2]._transports.asgi.ASGITransport.handle_async_request` (ASGI, AsyncClient). With
REALAPPS_COUNT_DIR set, the totals are written to DIR/<pid>.json at exit.
"""
import atexit
import importlib.abc
import json
import os
import sys

COUNTS = {"engine": 0, "asgi_testclient": 0, "asgi_httpx": 0}


def _wrap(cls, name, key):
    original = getattr(cls, name)
    if getattr(original, "_realapps_counted", False):
        return
    if name.startswith("handle_async"):
        async def wrapper(self, *a, **k):
            COUNTS[key] += 1
            return await original(self, *a, **k)
    else:
        def wrapper(self, *a, **k):
            COUNTS[key] += 1
            return original(self, *a, **k)
    wrapper._realapps_counted = True
    wrapper.__name__ = original.__name__
    wrapper.__qualname__ = original.__qualname__
    setattr(cls, name, wrapper)


_PATCHES = {
    "fasterapi.testclient": lambda m: (_wrap(m._EngineTransport, "handle_request", "engine"),
                                       _wrap(m._EngineASGI, "exchange", "engine")),
    "starlette.testclient": lambda m: _wrap(m._TestClientTransport, "handle_request", "asgi_testclient"),
    "httpx._transports.asgi": lambda m: _wrap(m.ASGITransport, "handle_async_request", "asgi_httpx"),
    "httpx2._transports.asgi": lambda m: _wrap(m.ASGITransport, "handle_async_request", "asgi_httpx"),
}


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name not in _PATCHES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        original = loader.exec_module

        def exec_module(module, _original=original, _name=name):
            _original(module)
            try:
                _PATCHES[_name](module)
            except Exception as exc:  # a client that changed shape: counted as not seen
                sys.stderr.write(f"[realapps] could not wrap {_name}: {exc!r}\n")

        loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _Finder())


def _dump():
    directory = os.environ.get("REALAPPS_COUNT_DIR")
    if directory and any(COUNTS.values()):
        with open(os.path.join(directory, f"{os.getpid()}.json"), "w") as f:
            json.dump(COUNTS, f)


atexit.register(_dump)
'''

RESULTS_PLUGIN = r'''
"""Written by benchmarks/realapps_suite.py: each test's outcome, first error line and request counts."""
import json
import os

import _realapps_count

_RESULTS = {}
_BEFORE = {}


def _message(report):
    longrepr = report.longrepr
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        text = crash.message.strip()
        return (text.splitlines()[0][:300] if text else ""), f"{os.path.basename(crash.path)}:{crash.lineno}"
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])[:300], f"{os.path.basename(str(longrepr[0]))}:{longrepr[1]}"
    text = str(longrepr).strip().splitlines()
    return (text[-1][:300] if text else ""), ""


def pytest_runtest_logstart(nodeid, location):
    _BEFORE[nodeid] = dict(_realapps_count.COUNTS)


def pytest_runtest_logfinish(nodeid, location):
    before = _BEFORE.pop(nodeid, None)
    entry = _RESULTS.get(nodeid)
    if before is not None and entry is not None:
        for key, value in _realapps_count.COUNTS.items():
            if value - before.get(key, 0):
                entry[key] = value - before.get(key, 0)


def pytest_runtest_logreport(report):
    nodeid = report.nodeid
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        outcome = report.outcome
        if report.when == "setup" and outcome == "failed":
            outcome = "error"
        if hasattr(report, "wasxfail"):
            outcome = "xfail" if report.skipped else "xpass"
        entry = {"outcome": outcome}
        if outcome in ("failed", "error", "xpass"):
            entry["message"], entry["where"] = _message(report)
        _RESULTS[nodeid] = entry
    elif report.when == "teardown" and report.outcome == "failed":
        prev = _RESULTS.get(nodeid)
        if prev is None or prev["outcome"] == "passed":
            msg, where = _message(report)
            _RESULTS[nodeid] = {"outcome": "error", "message": "(teardown) " + msg, "where": where}


def pytest_collectreport(report):
    if report.outcome == "failed":
        msg, where = _message(report)
        _RESULTS[report.nodeid + "::<collection>"] = {"outcome": "collect-error", "message": msg, "where": where}


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("REALAPPS_RESULTS")
    if path:
        active = bool(getattr(session.config, "_fasterapi_engine", False))
        with open(path, "w") as f:
            json.dump({"engine_active": active, "tests": _RESULTS}, f)
'''


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fetch_sdist(name: str, version: str, work: Path) -> Path:
    """The library's sdist, extracted under work/src (downloaded once)."""
    dest = work / "src"
    dest.mkdir(parents=True, exist_ok=True)
    marker = dest / f".{name}-{version}"
    if marker.exists() and Path(marker.read_text()).is_dir():
        return Path(marker.read_text())
    dl = work / "sdists"
    dl.mkdir(parents=True, exist_ok=True)
    # --no-binary for this package only: its build backend may come as a wheel
    subprocess.run(
        [PYTHON, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", name,
         f"{name}=={version}", "-d", str(dl)],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    norm = re.sub(r"[-_.]+", "[-_.]", name)
    (archive,) = [p for p in dl.glob("*.tar.gz") if re.fullmatch(rf"{norm}-{re.escape(version)}\.tar\.gz", p.name, re.I)]
    with tarfile.open(archive) as tar:
        top = tar.getnames()[0].split("/")[0]
        tar.extractall(dest, filter="data")
    root = dest / top
    marker.write_text(str(root))
    return root


def venv_site(venv: Path) -> Path:
    (site,) = (venv / "lib").glob("python3*/site-packages")
    return site


def ensure_venv(name: str, project: Project, work: Path, snap: Path) -> Path:
    venv = work / "venvs" / name
    install = project.install if project.install is not None else [f"{name}=={project.version}"]
    deps = BASE_DEPS + install + project.deps
    digest = hashlib.sha1(json.dumps([deps, CONSTRAINTS]).encode()).hexdigest()
    stamp = venv / ".realapps-deps"
    py = venv / "bin" / "python"
    if not (stamp.exists() and stamp.read_text() == digest and py.exists()):
        if venv.exists():
            shutil.rmtree(venv)
        subprocess.run([PYTHON, "-m", "venv", str(venv)], check=True)
        constraints = venv / "constraints.txt"
        constraints.write_text(CONSTRAINTS)
        proc = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                               "-c", str(constraints), *deps],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode:
            raise RuntimeError(f"pip install failed for {name}:\n{proc.stdout[-3000:]}")
        stamp.write_text(digest)
    site = venv_site(venv)
    (site / "_realapps_count.py").write_text(COUNT_HOOK, encoding="utf-8")
    (site / "_realapps_count.pth").write_text("import _realapps_count\n", encoding="utf-8")
    (site / "_realapps_plugin.py").write_text(RESULTS_PLUGIN, encoding="utf-8")
    (site / "_fasterapi_checkout.pth").write_text(str(snap) + "\n", encoding="utf-8")
    return py


def snapshot_package(work: Path) -> Path:
    """A copy of this checkout's package (with its built _core): one consistent copy per run."""
    src = CHECKOUT / "src" / "fasterapi"
    snap = work / "_pkg"
    if snap.exists():
        shutil.rmtree(snap)
    shutil.copytree(src, snap / "fasterapi", ignore=shutil.ignore_patterns("__pycache__"))
    return snap


def versions(py: Path) -> dict[str, str]:
    code = ("import json, importlib.metadata as m; print(json.dumps({n: m.version(n) for n in "
            "('fastapi', 'starlette', 'pydantic', 'httpx', 'httpx2', 'pytest')}))")
    try:
        return json.loads(subprocess.run([str(py), "-c", code], capture_output=True, text=True, check=True).stdout)
    except (subprocess.CalledProcessError, json.JSONDecodeError):
        return {}


def pytest_run(name: str, project: Project, root: Path, py: Path, work: Path, mode: str, timeout: int) -> dict:
    """One pytest run: mode "baseline" (ASGI TestClient) or "engine" (-p fasterapi.pytest_plugin)."""
    results_file = work / "results" / f"{name}.{mode}.json"
    count_dir = work / "counts" / f"{name}.{mode}"
    results_file.parent.mkdir(parents=True, exist_ok=True)
    results_file.unlink(missing_ok=True)
    if count_dir.exists():
        shutil.rmtree(count_dir)
    count_dir.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "FASTERAPI_TESTCLIENT")}
    env["PYTHONPATH"] = os.pathsep.join([str(root / p) for p in project.paths])
    env["REALAPPS_RESULTS"] = str(results_file)
    env["REALAPPS_COUNT_DIR"] = str(count_dir)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PATH"] = f"{py.parent}{os.pathsep}{env.get('PATH', '')}"
    plugin = ["-p", "fasterapi.pytest_plugin"] if mode == "engine" else []
    cmd = [str(py), "-m", "pytest", "-q", "-rN", "--tb=short", "-p", "_realapps_plugin", "-p", "no:cacheprovider",
           *plugin, "--timeout=60", *project.args]
    t0 = time.monotonic()
    killed = False
    try:
        proc = subprocess.run(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout)
        output = proc.stdout
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        output += f"\n[realapps] pytest killed after {timeout}s"
        killed = True
    (work / "logs").mkdir(exist_ok=True)
    (work / "logs" / f"{name}.{mode}.log").write_text(" ".join(cmd) + "\n\n" + output, encoding="utf-8")
    saved = json.loads(results_file.read_text()) if results_file.exists() else {}
    results = saved.get("tests", {})
    totals: Counter[str] = Counter()
    for f in count_dir.glob("*.json"):
        totals.update(json.loads(f.read_text()))
    out = {"results": results, "counts": dict(totals), "seconds": round(time.monotonic() - t0, 1),
           "engine_active": saved.get("engine_active", False)}
    if killed:
        out["error"] = f"killed after {timeout}s"
    if not results:
        out["error"] = "pytest reported nothing:\n" + output[-3000:]
    return out


def run_project(name: str, project: Project, work: Path, snap: Path, timeout: int) -> dict:
    t0 = time.monotonic()
    try:
        root = fetch_sdist(name, project.version, work)
        for rel, content in project.files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(content, encoding="utf-8")
        py = ensure_venv(name, project, work, snap)
    except (subprocess.CalledProcessError, RuntimeError, ValueError) as exc:
        err = getattr(exc, "stderr", None) or str(exc)
        log(f"[realapps] {name}: setup failed")
        return {"name": name, "version": project.version, "setup_error": str(err)[-2000:]}
    log(f"[realapps] {name}: venv ready ({time.monotonic() - t0:.0f}s), running the tests")
    limit = project.timeout or timeout
    base = pytest_run(name, project, root, py, work, "baseline", limit)
    eng = pytest_run(name, project, root, py, work, "engine", limit)
    log(f"[realapps] {name}: done ({time.monotonic() - t0:.0f}s)")
    return {"name": name, "version": project.version, "note": project.note, "versions": versions(py),
            "baseline": base, "engine": eng}


PASS = ("passed", "xfail")
# a random token in a parametrized test id (fastapi-users generates its JWT secret per session)
_RANDOM_ID = re.compile(r"(?=[A-Za-z0-9_\-]*[0-9])(?=[A-Za-z0-9_\-]*[A-Z])[A-Za-z0-9_\-]{30,}")


def _id_key(nodeid: str) -> str:
    name, bracket, params = nodeid.partition("[")
    return name + bracket + _RANDOM_ID.sub("<random>", params)


def normalised(results: dict) -> dict:
    """Test ids with random tokens replaced; a test id that then repeats passes only if all did."""
    out: dict = {}
    for nodeid, entry in results.items():
        key = _id_key(nodeid)
        prev = out.get(key)
        if prev is None or (prev["outcome"] in PASS and entry["outcome"] not in PASS):
            out[key] = entry
    return out


def compare(run: dict) -> dict:
    base = normalised(run["baseline"]["results"])
    eng = normalised(run["engine"]["results"])
    base_pass = {k for k, v in base.items() if v["outcome"] in PASS}
    eng_pass = {k for k, v in eng.items() if v["outcome"] in PASS}
    regressions = {k: eng.get(k, {"outcome": "missing", "message": "not run on the engine"})
                   for k in sorted(base_pass - eng_pass)}
    fixed = sorted(eng_pass - {k for k in base if k in base_pass} - {k for k in eng if k not in base})
    through = [k for k, v in eng.items() if v.get("engine")]
    return {
        "collected": len(base),
        "baseline_passed": len(base_pass),
        "baseline_failed": sum(1 for v in base.values() if v["outcome"] not in PASS + ("skipped",)),
        "both_passed": len(base_pass & eng_pass),
        "regressions": regressions,
        "engine_only_passed": [k for k in fixed if k in base],
        "engine_requests": run["engine"]["counts"].get("engine", 0),
        "asgi_requests": run["baseline"]["counts"].get("asgi_testclient", 0),
        "asgi_httpx_requests": run["engine"]["counts"].get("asgi_httpx", 0),
        "tests_through_engine": len(through),
        "baseline_passed_through_engine": len([k for k in through if k in base_pass]),
    }


def first_line(entry: dict) -> str:
    msg = (entry.get("message") or "(no message)").replace("|", "\\|")
    where = entry.get("where", "")
    return f"{entry['outcome']}: {msg[:200]}" + (f" [{where}]" if where else "")


def report(runs: list[dict], elapsed: float, commit: str) -> str:
    lines = [f"Third-party FastAPI libraries' test suites: baseline (ASGI TestClient) vs engine "
             f"(-p fasterapi.pytest_plugin); fastapi {FASTAPI_VERSION}, starlette {STARLETTE_VERSION}, "
             f"fasterapi commit {commit}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {elapsed:.0f}s", "",
             "| library | version | tests | pass (a) baseline | of those pass (b) engine | rate | engine requests | "
             "tests through the engine | httpx ASGITransport requests |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    tot = Counter()
    details = []
    for run in runs:
        if "setup_error" in run:
            lines.append(f"| {run['name']} | {run['version']} | setup failed | | | | | | |")
            details.append(f"\n### {run['name']}: setup failed\n```\n{run['setup_error'][-1500:]}\n```")
            continue
        c = compare(run)
        run["comparison"] = c
        for key in ("collected", "baseline_passed", "both_passed", "engine_requests", "tests_through_engine",
                    "asgi_httpx_requests"):
            tot[key] += c[key]
        rate = f"{100 * c['both_passed'] / c['baseline_passed']:.1f}%" if c["baseline_passed"] else "-"
        lines.append(f"| {run['name']} | {run['version']} | {c['collected']} | {c['baseline_passed']} | "
                     f"{c['both_passed']} | {rate} | {c['engine_requests']} | {c['tests_through_engine']} | "
                     f"{c['asgi_httpx_requests']} |")
        notes = []
        for mode in ("baseline", "engine"):
            if run[mode].get("error"):
                notes.append(f"{mode} run: {run[mode]['error'][-800:]}")
        if not run["engine"].get("engine_active"):
            notes.append("engine run: the fasterapi pytest plugin did not install the engine TestClient")
        if run["baseline"].get("engine_active"):
            notes.append("baseline run: the fasterapi pytest plugin was active (not a baseline)")
        if c["regressions"] or notes or c["engine_only_passed"]:
            details.append(f"\n### {run['name']} {run['version']}" + (f" ({run['note']})" if run.get("note") else ""))
            for n in notes:
                details.append(f"- {n}")
            for nodeid, entry in c["regressions"].items():
                details.append(f"- `{nodeid}`: {first_line(entry)}")
            for nodeid in c["engine_only_passed"]:
                details.append(f"- (fails on the baseline, passes on the engine) `{nodeid}`")
    rate = f"{100 * tot['both_passed'] / tot['baseline_passed']:.2f}%" if tot["baseline_passed"] else "-"
    lines.append(f"| **total** | | **{tot['collected']}** | **{tot['baseline_passed']}** | **{tot['both_passed']}** | "
                 f"**{rate}** | **{tot['engine_requests']}** | **{tot['tests_through_engine']}** | "
                 f"**{tot['asgi_httpx_requests']}** |")
    lines.append("")
    lines.append("Tests passing on the baseline but not on the engine (first error line):")
    lines.extend(details or ["(none)"])
    return "\n".join(lines)


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(CHECKOUT), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(CHECKOUT), "status", "--porcelain", "src"], capture_output=True,
                               text=True).stdout.strip()
        return out + ("+dirty src" if dirty else "")
    except (subprocess.CalledProcessError, OSError):
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", action="append", default=[], choices=sorted(PROJECTS))
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "realapps")
    parser.add_argument("--jobs", type=int, default=2, help="libraries set up / run in parallel (at most 2)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds for one pytest run of one library")
    parser.add_argument("--json", type=Path, help="write per-test outcomes here")
    parser.add_argument("--markdown", type=Path, help="write the report here")
    parser.add_argument("--report-from", type=Path, help="only print the report of a --json file of an earlier run")
    args = parser.parse_args()

    if args.report_from:
        saved = json.loads(args.report_from.read_text(encoding="utf-8"))
        print(report([saved[n] for n in saved if not args.project or n in args.project], 0.0, "(see the run)"))
        return

    names = args.project or list(PROJECTS)
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    snap = snapshot_package(work)
    commit = git_commit()
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, min(2, args.jobs))) as pool:
        runs = list(pool.map(lambda n: run_project(n, PROJECTS[n], work, snap, args.timeout), names))
    text = report(runs, time.monotonic() - t0, commit)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps({r["name"]: r for r in runs}, indent=1, sort_keys=True), encoding="utf-8")


if __name__ == "__main__":
    main()
