"""Third-party FastAPI projects' own test suites, run against FasterAPI.

A better proxy for real applications than FastAPI's tutorial tests: libraries built on FastAPI
ship pytest suites that build FastAPI apps (routers, dependencies, security, OpenAPI, ASGI
clients) and test them with `TestClient` or `httpx.AsyncClient(transport=ASGITransport(app))`.

For each project in PROJECTS this tool, at run time (nothing third-party is committed):

1. downloads the project's sdist from PyPI (`pip download --no-deps --no-binary <name>`),
   extracts it into the work directory;
2. makes a dedicated venv (`python3 -m venv`) with the project's runtime and test dependencies
   (never FastAPI itself: it is uninstalled if a dependency pulls it in), pytest, httpx, and
   FasterAPI's own dependencies; this checkout's package is not installed, a snapshot of
   `src/fasterapi` goes on PYTHONPATH;
3. puts an import hook in that venv (a `.pth` file): every `fastapi` / `fastapi.X` import loads
   `fasterapi` / `fasterapi.X` (the same module object under both names, so `mock.patch` and
   `isinstance` agree). The real FastAPI can never load: the hook answers every `fastapi*`
   name, and a module FasterAPI lacks is a ModuleNotFoundError. `starlette` imports are NOT
   rewritten: real applications import Starlette directly, and the real Starlette is installed;
4. runs the project's tests (the subset that runs offline: no Redis/Postgres/network) and
   prints passed / failed / errors per project and the most frequent failure messages.

    PYTHONPATH=src python3 benchmarks/realapps_suite.py [--project fastapi-users ...]
        [--work /tmp/realapps] [--causes 8] [--show-failures] [--json out.json] [--jobs 2]

The venvs are kept between runs (re-made when a project's dependency list changes), so a
second run only re-runs the tests.
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

# What every venv gets: the test runner, the clients, FasterAPI's own dependencies.
BASE_DEPS = [
    "pytest", "pytest-timeout", "httpx", "starlette", "pydantic>=2.5", "typing_extensions>=4.8",
    "swagger-ui-bundle-v2>=5", "jinja2", "python-multipart",
]


@dataclass
class Project:
    version: str
    deps: list[str]
    # pytest arguments (paths, -k, --deselect, project options) run from the sdist root
    args: list[str]
    note: str = ""
    # extra directories (relative to the sdist root) put on PYTHONPATH
    paths: list[str] = field(default_factory=list)


PROJECTS: dict[str, Project] = {
    "fastapi-pagination": Project(
        version="0.16.1",
        deps=["pytest-asyncio", "asgi-lifespan", "dirty-equals", "faker", "flaky", "requests",
              "sqlalchemy", "sqlmodel", "sqlakeyset", "aiosqlite", "asyncpg", "pymongo",
              "cassandra-driver"],
        # the conftest requires the DSN options and imports the drivers; only sqlite is used
        args=["tests", "tests/ext/test_sqlalchemy.py", "tests/ext/test_sqlmodel.py",
              "--ignore=tests/ext", "-k", "not postgres",
              "--postgres-dsn=postgresql://unused", "--mongodb-dsn=mongodb://unused",
              "--cassandra-dsn=unused", "--firestore-dsn=unused"],
        note="core tests + the SQLAlchemy/SQLModel extensions on sqlite",
    ),
    "fastapi-users": Project(
        version="15.0.5",
        deps=["pwdlib[argon2,bcrypt]==0.3.0", "email-validator>=1.1.0,<2.4", "pyjwt[crypto]>=2.12.0,<3",
              "python-multipart", "makefun>=1.11.2,<2", "httpx-oauth", "asgi-lifespan",
              "pytest-asyncio", "pytest-mock", "redis"],
        args=["tests"],
    ),
    "fastapi-csrf-protect": Project(
        version="1.0.7",
        deps=["itsdangerous>=2.0.1,<3", "pydantic-settings>=2"],
        args=["tests"],
        paths=["src"],
    ),
    "fastapi-offline": Project(
        version="1.7.7",
        deps=["requests"],
        args=["tests"],
    ),
    "fastapi-azure-auth": Project(
        version="5.3.0",
        deps=["anyio>=4.4", "cryptography", "httpx2>=2", "pyjwt>=2.8,<3", "pytest-asyncio", "pytest-mock",
              "requests-mock", "pytest-socket", "pytest-dotenv", "pytest-freezer", "trio", "pytest-httpx2",
              "openapi-spec-validator", "uvicorn", "pydantic-settings", "asgi-lifespan"],
        args=["tests"],
        paths=["."],
    ),
    "fastapi-mcp": Project(
        version="0.4.0",
        deps=["typer", "rich", "mcp>=1.12,<2", "pydantic-settings>=2.5.2", "uvicorn", "requests", "tomli",
              "pytest-asyncio", "pyjwt", "cryptography", "coverage"],
        # the *_real_transport tests start uvicorn servers in subprocesses
        args=["-o", "addopts=", "tests", "--ignore=tests/test_http_real_transport.py", "--ignore=tests/test_sse_real_transport.py"],
    ),
}

ALIAS_HOOK = '''
"""Written by benchmarks/realapps_suite.py: `fastapi*` imports load the `fasterapi*` modules."""
import importlib
import importlib.abc
import importlib.util
import sys


class _FastAPIAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self):
        self._specs = {}

    def find_spec(self, name, path=None, target=None):
        if name != "fastapi" and not name.startswith("fastapi."):
            return None
        real = "fasterapi" + name[len("fastapi"):]
        try:
            spec = importlib.util.find_spec(real)
        except ModuleNotFoundError:
            spec = None
        if spec is None:
            # never fall through to a real FastAPI
            raise ModuleNotFoundError(f"No module named {name!r} (FasterAPI has no {real})", name=name)
        return importlib.util.spec_from_loader(
            name, self, is_package=spec.submodule_search_locations is not None)

    def create_module(self, spec):
        module = importlib.import_module("fasterapi" + spec.name[len("fastapi"):])
        self._specs[spec.name] = module.__spec__
        return module

    def exec_module(self, module):
        # the import machinery overwrote __spec__ with the alias's: give the module its own back
        for alias, spec in list(self._specs.items()):
            if spec is not None and spec.name == module.__name__:
                module.__spec__ = spec
                del self._specs[alias]


_HOOK = _FastAPIAlias()


def ensure_first():
    """Ahead of every other finder (pytest's assertion rewriter inserts itself at the front and,
    with `python_files = *.py`, would load fasterapi's files a second time as `fastapi.X`)."""
    if _HOOK in sys.meta_path:
        sys.meta_path.remove(_HOOK)
    sys.meta_path.insert(0, _HOOK)


ensure_first()
'''

RESULTS_PLUGIN = '''
"""Written by benchmarks/realapps_suite.py: records each test's outcome and failure message."""
import json
import os

import _fasterapi_alias

_fasterapi_alias.ensure_first()  # this plugin is imported after pytest installed its rewriter
_RESULTS = {}


def pytest_configure(config):
    _fasterapi_alias.ensure_first()


def pytest_sessionstart(session):
    _fasterapi_alias.ensure_first()


def _message(report):
    longrepr = report.longrepr
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        where = f"{os.path.basename(crash.path)}:{crash.lineno}"
        return crash.message.strip().splitlines()[0][:300] if crash.message.strip() else "", where
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])[:300], f"{os.path.basename(str(longrepr[0]))}:{longrepr[1]}"
    text = str(longrepr).strip().splitlines()
    return (text[-1][:300] if text else ""), ""


def pytest_runtest_logreport(report):
    nodeid = report.nodeid
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        outcome = report.outcome
        if report.when == "setup" and outcome == "failed":
            outcome = "error"
        if hasattr(report, "wasxfail"):
            outcome = "xfail" if report.skipped else "xpass"
        entry = {"outcome": outcome}
        if outcome in ("failed", "error"):
            entry["message"], entry["where"] = _message(report)
        _RESULTS[nodeid] = entry
    elif report.when == "teardown" and report.outcome == "failed":
        prev = _RESULTS.get(nodeid)
        if prev is None or prev["outcome"] == "passed":
            msg, where = _message(report)
            _RESULTS[nodeid] = {"outcome": "error", "message": msg, "where": where}


def pytest_collectreport(report):
    if report.outcome == "failed":
        msg, where = _message(report)
        _RESULTS[report.nodeid + "::<collection>"] = {"outcome": "collect-error", "message": msg, "where": where}


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("REALAPPS_RESULTS")
    if path:
        with open(path, "w") as f:
            json.dump(_RESULTS, f)
'''


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fetch_sdist(name: str, version: str, work: Path) -> Path:
    """The project's sdist, extracted under work/src (downloaded once)."""
    dest = work / "src"
    dest.mkdir(parents=True, exist_ok=True)
    marker = dest / f".{name}-{version}"
    if marker.exists():
        return Path(marker.read_text())
    dl = work / "sdists"
    dl.mkdir(parents=True, exist_ok=True)
    # --no-binary for this package only: its build backend may come as a wheel
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", name,
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


def ensure_venv(name: str, project: Project, work: Path) -> tuple[Path, str]:
    venv = work / "venvs" / name
    deps = BASE_DEPS + project.deps
    digest = hashlib.sha1(json.dumps(deps).encode()).hexdigest()
    stamp = venv / ".realapps-deps"
    py = venv / "bin" / "python"
    note = ""
    if not (stamp.exists() and stamp.read_text() == digest and py.exists()):
        if venv.exists():
            shutil.rmtree(venv)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        proc = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", *deps],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode:
            raise RuntimeError(f"pip install failed for {name}:\n{proc.stdout[-3000:]}")
        stamp.write_text(digest)
    # Never the real FastAPI in this venv (a dependency may pull it in).
    pulled = subprocess.run([str(py), "-m", "pip", "uninstall", "-y", "fastapi", "fastapi-slim"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
    if "Successfully uninstalled" in pulled:
        note = "a dependency pulled in fastapi (uninstalled)"
    site = venv_site(venv)
    (site / "_fasterapi_alias.py").write_text(ALIAS_HOOK, encoding="utf-8")
    (site / "_fasterapi_alias.pth").write_text("import _fasterapi_alias\n", encoding="utf-8")
    (site / "_realapps_plugin.py").write_text(RESULTS_PLUGIN, encoding="utf-8")
    return py, note


def snapshot_package(work: Path) -> Path:
    """A copy of this checkout's package (with its built _core): one consistent copy per run."""
    src = Path(__file__).resolve().parent.parent / "src" / "fasterapi"
    snap = work / "_pkg"
    if snap.exists():
        shutil.rmtree(snap)
    shutil.copytree(src, snap / "fasterapi", ignore=shutil.ignore_patterns("__pycache__"))
    return snap


def run_project(name: str, project: Project, work: Path, snap: Path, timeout: int) -> dict:
    t0 = time.monotonic()
    try:
        root = fetch_sdist(name, project.version, work)
        py, note = ensure_venv(name, project, work)
    except (subprocess.CalledProcessError, RuntimeError, ValueError) as exc:
        err = getattr(exc, "stderr", None) or str(exc)
        return {"name": name, "setup_error": str(err)[-2000:], "results": {}}
    setup_s = time.monotonic() - t0
    results_file = work / f"results-{name}.json"
    results_file.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    extra = [str(root / p) for p in project.paths]
    env["PYTHONPATH"] = os.pathsep.join([str(root), *extra, str(snap)])
    env["REALAPPS_RESULTS"] = str(results_file)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    cmd = [str(py), "-m", "pytest", "-q", "-rN", "--tb=short", "-p", "_realapps_plugin", "-p", "no:cacheprovider",
           "--timeout=60", *project.args]
    t1 = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout)
        output = proc.stdout
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        output += f"\n[realapps] pytest killed after {timeout}s"
    (work / f"pytest-{name}.log").write_text(output, encoding="utf-8")
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    out = {"name": name, "version": project.version, "results": results, "note": note,
           "setup_s": round(setup_s, 1), "test_s": round(time.monotonic() - t1, 1)}
    if not results:
        out["setup_error"] = "pytest reported nothing:\n" + output[-3000:]
    return out


def counts(results: dict) -> dict[str, int]:
    c = Counter(r["outcome"] for r in results.values())
    return {
        "passed": c["passed"] + c["xfail"],
        "failed": c["failed"] + c["xpass"],
        "errors": c["error"] + c["collect-error"],
        "skipped": c["skipped"],
    }


_NORMALISE = [
    (re.compile(r"0x[0-9a-f]+"), "0x…"),
    (re.compile(r"'[^']{40,}'"), "'…'"),
]


def cause_of(entry: dict) -> str:
    msg = entry.get("message", "") or "(no message)"
    for rx, sub in _NORMALISE:
        msg = rx.sub(sub, msg)
    where = entry.get("where", "")
    return f"{msg[:160]}  [{where}]" if where else msg[:160]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", action="append", default=[], choices=sorted(PROJECTS))
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "realapps")
    parser.add_argument("--causes", type=int, default=6, help="top failure messages shown per project")
    parser.add_argument("--show-failures", action="store_true", help="list every failing test id")
    parser.add_argument("--jobs", type=int, default=2, help="projects set up / run in parallel")
    parser.add_argument("--timeout", type=int, default=400, help="seconds for one project's pytest run")
    parser.add_argument("--json", type=Path, help="write per-test outcomes here")
    args = parser.parse_args()

    names = args.project or list(PROJECTS)
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    snap = snapshot_package(work)
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        runs = list(pool.map(lambda n: run_project(n, PROJECTS[n], work, snap, args.timeout), names))

    print(f"Third-party FastAPI projects' tests against FasterAPI (work dir {work}, "
          f"{time.monotonic() - t0:.0f}s)\n")
    print("| project | version | passed | failed | errors | skipped | pass rate |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    tot = Counter()
    for run in runs:
        c = counts(run["results"])
        tot.update(c)
        ran = c["passed"] + c["failed"] + c["errors"]
        rate = f"{100 * c['passed'] / ran:.0f}%" if ran else "-"
        print(f"| {run['name']} | {PROJECTS[run['name']].version} | {c['passed']} | {c['failed']} | "
              f"{c['errors']} | {c['skipped']} | {rate} |")
    ran = tot["passed"] + tot["failed"] + tot["errors"]
    rate = f"{100 * tot['passed'] / ran:.1f}%" if ran else "-"
    print(f"| **total** | | **{tot['passed']}** | **{tot['failed']}** | **{tot['errors']}** | "
          f"**{tot['skipped']}** | **{rate}** |")

    for run in runs:
        bad = {k: v for k, v in run["results"].items() if v["outcome"] not in ("passed", "skipped", "xfail")}
        if not bad and "setup_error" not in run and not run.get("note"):
            continue
        print(f"\n## {run['name']}" + (f" ({run['note']})" if run.get("note") else ""))
        if "setup_error" in run:
            print("setup error:\n" + run["setup_error"])
        for cause, n in Counter(cause_of(v) for v in bad.values()).most_common(args.causes):
            print(f"  {n:4}  {cause}")
        if args.show_failures:
            for nodeid, v in sorted(bad.items()):
                print(f"    {v['outcome']:13} {nodeid}")
    if args.json:
        args.json.write_text(json.dumps({r["name"]: r for r in runs}, indent=1, sort_keys=True), encoding="utf-8")


if __name__ == "__main__":
    main()
