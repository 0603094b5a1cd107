"""FastAPI's own tutorial tests, with the REAL FastAPI: FastAPI's TestClient vs. the engine.

FastAPI's sdist ships its test suite (`tests/`) and the documentation's example apps (`docs_src/`).
This tool downloads the sdist at run time (nothing of FastAPI is committed), copies `tests/`,
`docs_src/` and the docs images the tests read into a work directory, makes a venv (python3.11,
the CPython the built `_core` is for) with fastapi==VERSION, starlette, FastAPI's test dependencies
(TEST_DEPS) and this checkout's package (a snapshot of `src/fasterapi` on the venv's path through
a `.pth` file), then runs `tests/test_tutorial` twice, unmodified, under FastAPI's own pytest
settings (warnings are errors, strict markers, 20 s per test):

  (a) baseline: plain `pytest`: Starlette's TestClient talks to the apps over ASGI;
  (b) engine:   `pytest -p fasterapi.pytest_plugin`: every TestClient sends its HTTP requests
                through an in-memory connection of the FasterAPI engine.

It prints, per tutorial area, the tests passing on (a) and how many of those pass on (b), the
engine request count (each run's plugin wraps `fasterapi.testclient._EngineTransport.handle_request`
and Starlette's `_TestClientTransport.handle_request`, per test), and every test that passes on (a)
but fails on (b) with its first error line. The figure: the fraction of baseline-passing tests
that pass on the engine.

    python3 benchmarks/fastapi_suite.py [--version 0.165.0] [--area body --area security ...]
        [--work DIR] [--json out.json] [--markdown out.md] [--jobs 2] [-- extra pytest args]

The venv is kept between runs (re-made when the dependency list changes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parent
PYTHON = os.environ.get("FASTAPI_SUITE_PYTHON", "python3.11")  # the built _core is for CPython 3.11
DEFAULT_VERSION = "0.165.0"
STARLETTE_VERSION = "1.10.0"

# FastAPI's `tests` dependency group, less its linters/benchmark tools (mypy, ty, pytest-codspeed,
# pytest-sugar, coverage) and the xdist runner.
TEST_DEPS = [
    "pytest>=9.0.0,<9.2", "pytest-timeout>=2.4.0", "anyio[trio]>=4.1.0,<5.0.0", "dirty-equals>=0.9.0",
    "flask>=3.0.0,<4.0.0", "inline-snapshot>=0.21.1", "pwdlib[argon2]>=0.2.1", "pyjwt>=2.9.0",
    "pyyaml>=5.3.1,<7.0.0", "sqlmodel>=0.0.31", "strawberry-graphql>=0.200.0,<1.0.0", "typer>=0.26.1",
    "a2wsgi>=1.9.0,<=2.0.0", "httpx>=0.23.0,<1.0.0", "httpx2>=2.0.0", "python-slugify>=8.0.4",
    "opentelemetry-instrumentation-fastapi>=0.65b0", "opentelemetry-sdk>=1.44.0",
    "opentelemetry-exporter-otlp-proto-http>=1.44.0", "logfire>=5.1.0", "sentry-sdk>=2.70.0",
    "jinja2", "python-multipart", "email-validator", "pydantic-settings", "itsdangerous", "orjson", "ujson",
    "uvicorn",
]

# FastAPI's [tool.pytest] settings (pyproject.toml of the sdist), plus our results plugin.
PYTEST_INI = """[pytest]
addopts = --strict-config --strict-markers --ignore=docs_src -p no:cacheprovider -p _suite_plugin
strict_xfail = true
filterwarnings =
    error
timeout = 20
markers =
    xdist_group: FastAPI's tests group some tests for pytest-xdist (not installed here)
"""

PLUGIN = r'''
"""Written by benchmarks/fastapi_suite.py: each test's outcome, first error line and request counts."""
import json
import os

COUNTS = {"engine": 0, "asgi_testclient": 0}
_RESULTS = {}
_BEFORE = {}


def _wrap(cls, name, key):
    original = getattr(cls, name)

    def wrapper(self, *a, **k):
        COUNTS[key] += 1
        return original(self, *a, **k)

    wrapper.__name__ = original.__name__
    setattr(cls, name, wrapper)


def pytest_configure(config):
    import starlette.testclient

    _wrap(starlette.testclient._TestClientTransport, "handle_request", "asgi_testclient")
    if getattr(config, "_fasterapi_engine", False) or "fasterapi.testclient" in __import__("sys").modules:
        import fasterapi.testclient

        _wrap(fasterapi.testclient._EngineTransport, "handle_request", "engine")


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
    _BEFORE[nodeid] = dict(COUNTS)


def pytest_runtest_logfinish(nodeid, location):
    before = _BEFORE.pop(nodeid, None)
    entry = _RESULTS.get(nodeid)
    if before is not None and entry is not None:
        for key, value in COUNTS.items():
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
    path = os.environ.get("FASTAPI_SUITE_RESULTS")
    if path:
        active = bool(getattr(session.config, "_fasterapi_engine", False))
        with open(path, "w") as f:
            json.dump({"engine_active": active, "counts": COUNTS, "tests": _RESULTS}, f)
'''


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fetch_sdist(version: str, cache: Path) -> Path:
    """FastAPI's sdist, extracted (downloaded once into `cache`)."""
    root = cache / f"fastapi-{version}"
    if (root / "tests" / "test_tutorial").is_dir():
        return root
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.check_call(
            [PYTHON, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
             f"fastapi=={version}", "-d", tmp]
        )
        (archive,) = Path(tmp).glob("fastapi-*.tar.gz")
        with tarfile.open(archive) as tar:
            tar.extractall(cache, filter="data")
    if not (root / "tests" / "test_tutorial").is_dir() or not (root / "docs_src").is_dir():
        raise SystemExit(f"the fastapi {version} sdist has no tests/test_tutorial or docs_src")
    return root


def prepare(source: Path, work: Path) -> None:
    """tests/, docs_src/ and docs/ as in the sdist (unmodified), our pytest.ini and plugin."""
    work.mkdir(parents=True, exist_ok=True)
    for sub in ("tests", "docs_src", "docs"):
        if (work / sub).exists():
            shutil.rmtree(work / sub)
        if (source / sub).exists():
            shutil.copytree(source / sub, work / sub)
    (work / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
    (work / "_suite_plugin.py").write_text(PLUGIN, encoding="utf-8")


def snapshot_package(work: Path) -> Path:
    src = CHECKOUT / "src" / "fasterapi"
    snap = work / "_pkg"
    if snap.exists():
        shutil.rmtree(snap)
    shutil.copytree(src, snap / "fasterapi", ignore=shutil.ignore_patterns("__pycache__"))
    return snap


def ensure_venv(work: Path, version: str, snap: Path) -> Path:
    venv = work / "venv"
    deps = [f"fastapi=={version}", f"starlette=={STARLETTE_VERSION}", *TEST_DEPS]
    constraints = f"fastapi=={version}\nstarlette=={STARLETTE_VERSION}\n"
    digest = hashlib.sha1(json.dumps([deps, constraints]).encode()).hexdigest()
    stamp = venv / ".suite-deps"
    py = venv / "bin" / "python"
    if not (stamp.exists() and stamp.read_text() == digest and py.exists()):
        if venv.exists():
            shutil.rmtree(venv)
        log(f"[fastapi_suite] making the venv {venv}")
        subprocess.run([PYTHON, "-m", "venv", str(venv)], check=True)
        (venv / "constraints.txt").write_text(constraints)
        proc = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                               "-c", str(venv / "constraints.txt"), *deps],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode:
            raise SystemExit(f"pip install failed:\n{proc.stdout[-3000:]}")
        stamp.write_text(digest)
    (site,) = (venv / "lib").glob("python3*/site-packages")
    (site / "_fasterapi_checkout.pth").write_text(str(snap) + "\n", encoding="utf-8")
    return py


def run(py: Path, work: Path, mode: str, areas: list[str], extra: list[str]) -> dict:
    cwd = work / mode
    results_file = work / f"results.{mode}.json"
    results_file.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "FASTERAPI_TESTCLIENT")}
    env["FASTAPI_SUITE_RESULTS"] = str(results_file)
    env["PYTHONPATH"] = str(cwd)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PATH"] = f"{py.parent}{os.pathsep}{env.get('PATH', '')}"
    targets = [f"tests/test_tutorial/test_{a}" for a in areas] if areas else ["tests/test_tutorial"]
    plugin = ["-p", "fasterapi.pytest_plugin"] if mode == "engine" else []
    cmd = [str(py), "-m", "pytest", "-q", "-rN", "--tb=short", *plugin, *targets, *extra]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    (work / f"pytest.{mode}.log").write_text(" ".join(cmd) + "\n\n" + proc.stdout, encoding="utf-8")
    if not results_file.exists():
        print(proc.stdout[-5000:])
        raise SystemExit(f"the {mode} pytest run did not finish (see the output above)")
    saved = json.loads(results_file.read_text(encoding="utf-8"))
    saved["seconds"] = round(time.monotonic() - t0, 1)
    return saved


def area_of(nodeid: str) -> str:
    parts = nodeid.split("/")
    try:
        name = parts[parts.index("test_tutorial") + 1]
    except (ValueError, IndexError):
        return "(other)"
    name = name.split("::")[0]
    return name[len("test_"):] if name.startswith("test_") else name


PASS = ("passed", "xfail")


def first_line(entry: dict) -> str:
    msg = (entry.get("message") or "(no message)").replace("|", "\\|")
    where = entry.get("where", "")
    return f"{entry['outcome']}: {msg[:200]}" + (f" [{where}]" if where else "")


def report(base: dict, eng: dict, version: str, commit: str) -> tuple[str, dict]:
    b, e = base["tests"], eng["tests"]
    rows: dict[str, Counter] = defaultdict(Counter)
    regressions: dict[str, dict] = {}
    for nodeid, entry in b.items():
        row = rows[area_of(nodeid)]
        row["tests"] += 1
        other = e.get(nodeid, {"outcome": "missing", "message": "not run on the engine"})
        if other.get("engine"):
            row["through"] += 1
            row["requests"] += other["engine"]
        if entry["outcome"] in PASS:
            row["base"] += 1
            if other["outcome"] in PASS:
                row["both"] += 1
            else:
                regressions[nodeid] = other
        elif other["outcome"] in PASS:
            row["engine_only"] += 1
    lines = [f"FastAPI {version} tutorial tests (tests/test_tutorial, real FastAPI, starlette {STARLETTE_VERSION}): "
             f"baseline (ASGI TestClient) vs engine (-p fasterapi.pytest_plugin); fasterapi commit {commit}, "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; baseline {base['seconds']}s, engine {eng['seconds']}s",
             "",
             "| area | tests | pass (a) baseline | of those pass (b) engine | rate | engine requests | tests through the engine |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    tot: Counter = Counter()
    for area in sorted(rows):
        r = rows[area]
        tot.update(r)
        if r["base"] == r["both"] and area not in {area_of(k) for k in regressions}:
            continue  # listed in the total only
        rate = f"{100 * r['both'] / r['base']:.1f}%" if r["base"] else "-"
        lines.append(f"| {area} | {r['tests']} | {r['base']} | {r['both']} | {rate} | {r['requests']} | {r['through']} |")
    clean = [a for a in sorted(rows) if rows[a]["base"] == rows[a]["both"]]
    rate = f"{100 * tot['both'] / tot['base']:.2f}%" if tot["base"] else "-"
    lines.append(f"| every other area ({len(clean)}) | {sum(rows[a]['tests'] for a in clean)} | "
                 f"{sum(rows[a]['base'] for a in clean)} | {sum(rows[a]['both'] for a in clean)} | 100% | "
                 f"{sum(rows[a]['requests'] for a in clean)} | {sum(rows[a]['through'] for a in clean)} |")
    lines.append(f"| **total** | **{tot['tests']}** | **{tot['base']}** | **{tot['both']}** | **{rate}** | "
                 f"**{tot['requests']}** | **{tot['through']}** |")
    notes = []
    if not eng.get("engine_active"):
        notes.append("engine run: the fasterapi pytest plugin did not install the engine TestClient")
    if base.get("engine_active"):
        notes.append("baseline run: the fasterapi pytest plugin was active")
    if tot["engine_only"]:
        notes.append(f"{tot['engine_only']} tests fail on the baseline but pass on the engine")
    lines += [""] + notes
    lines.append("\nTests passing on the baseline but not on the engine (first error line):")
    lines += [f"- `{k}`: {first_line(v)}" for k, v in sorted(regressions.items())] or ["(none)"]
    baseline_failures = {k: v for k, v in b.items() if v["outcome"] not in PASS + ("skipped",)}
    if baseline_failures:
        lines.append(f"\nFailing on the baseline too (not counted), {len(baseline_failures)}:")
        lines += [f"- `{k}`: {first_line(v)}" for k, v in sorted(baseline_failures.items())]
    summary = {"baseline_passed": tot["base"], "both_passed": tot["both"], "tests": tot["tests"],
               "engine_requests": tot["requests"], "tests_through_engine": tot["through"],
               "regressions": regressions}
    return "\n".join(lines), summary


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
    parser.add_argument("--version", default=DEFAULT_VERSION)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "fasterapi-fastapi-suite")
    parser.add_argument("--work", type=Path, default=None, help="where the tests and the venv go")
    parser.add_argument("--area", action="append", default=[], help="only this tutorial area (repeatable)")
    parser.add_argument("--jobs", type=int, default=2, help="2: the baseline and engine runs side by side")
    parser.add_argument("--json", type=Path, help="write per-test outcomes here")
    parser.add_argument("--markdown", type=Path, help="write the report here")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args()

    source = fetch_sdist(args.version, args.cache)
    work = (args.work or (args.cache / f"run-{args.version}")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    for mode in ("baseline", "engine"):  # a copy each: tutorial apps write files (sqlite) in the cwd
        prepare(source, work / mode)
    snap = snapshot_package(work)
    py = ensure_venv(work, args.version, snap)
    commit = git_commit()
    with ThreadPoolExecutor(max_workers=max(1, min(2, args.jobs))) as pool:
        base_f = pool.submit(run, py, work, "baseline", args.area, args.pytest_args)
        eng_f = pool.submit(run, py, work, "engine", args.area, args.pytest_args)
        base, eng = base_f.result(), eng_f.result()
    text, summary = report(base, eng, args.version, commit)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps({"baseline": base, "engine": eng, "summary": summary}, indent=1,
                                        sort_keys=True), encoding="utf-8")


if __name__ == "__main__":
    main()
