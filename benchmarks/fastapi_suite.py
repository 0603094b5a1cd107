"""FastAPI's own tutorial tests, run against FasterAPI: the compatibility pass rate by area.

FastAPI's sdist ships its test suite (`tests/`) and the documentation's example apps
(`docs_src/`). This tool downloads the sdist at run time (nothing of FastAPI is committed),
copies `tests/test_tutorial/**`, `tests/utils.py` and `docs_src/**` into a work directory,
rewrites their `fastapi` / `starlette` imports to `fasterapi`, runs pytest on them with this
checkout's package and prints a table of the pass rate per tutorial area.

    PYTHONPATH=src python3 benchmarks/fastapi_suite.py [--version 0.165.0] [--install-deps]
        [--work DIR] [--area body --area security ...] [--json out.json] [--markdown out.md]
        [--show-failures]

`--install-deps` pip-installs the test-only packages the tutorial tests import
(TEST_DEPS below) when they are missing. Tests of features FasterAPI does not provide by design
are still run and counted (they fail), so the rate is an honest one; `--exclude-unsupported`
leaves out the areas in UNSUPPORTED_AREAS and reports them separately.

A real `fastapi` or `starlette` import that was not rewritten fails loudly (an import hook
refuses them), so no test passes by reaching the real FastAPI.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections import defaultdict
from pathlib import Path

DEFAULT_VERSION = "0.165.0"  # the version tests/compat's oracle pins

# pip name -> import name: what the tutorial tests (or docs_src apps) import besides FastAPI.
TEST_DEPS = {
    "inline-snapshot": "inline_snapshot",
    "dirty-equals": "dirty_equals",
    "pyjwt": "jwt",
    "pwdlib[argon2]": "pwdlib",
    "sqlmodel": "sqlmodel",
    "pydantic-settings": "pydantic_settings",
    "pyyaml": "yaml",
    "pytest-timeout": "pytest_timeout",
    "email-validator": "email_validator",
    "uvicorn": "uvicorn",  # docs_src/debugging imports it (the tests mock uvicorn.run)
    "trio>=0.26": "trio",  # anyio runs the async tests on trio too (an older trio fails with anyio 4)
    "flask": "flask",  # docs_src/wsgi mounts a Flask app
    "a2wsgi": "a2wsgi",  # ... through a2wsgi's WSGIMiddleware (an ASGI app)
}

# Areas whose subject is something FasterAPI does not provide (see docs/compatibility.md).
UNSUPPORTED_AREAS = {
    "graphql": "strawberry GraphQL (an ASGI app mounted in FastAPI)",
    "opentelemetry": "OpenTelemetry's FastAPI instrumentation (patches Starlette internals)",
}

# starlette module -> the fasterapi module providing the same names.
STARLETTE_MAP = {
    "starlette": "fasterapi",
    "starlette.testclient": "fasterapi.testclient",
    "starlette.responses": "fasterapi.responses",
    "starlette.requests": "fasterapi.requests",
    "starlette.status": "fasterapi.status",
    "starlette.datastructures": "fasterapi.datastructures",
    "starlette.exceptions": "fasterapi.exceptions",
    "starlette.background": "fasterapi.background",
    "starlette.concurrency": "fasterapi.concurrency",
    "starlette.staticfiles": "fasterapi.staticfiles",
    "starlette.templating": "fasterapi.templating",
    "starlette.routing": "fasterapi.routing",
    "starlette.types": "fasterapi.types",
    "starlette.websockets": "fasterapi.websockets",
    "starlette.middleware": "fasterapi.middleware",
    "starlette.middleware.base": "fasterapi.middleware.base",
    "starlette.middleware.cors": "fasterapi.middleware.cors",
    "starlette.middleware.gzip": "fasterapi.middleware.gzip",
    "starlette.middleware.trustedhost": "fasterapi.middleware.trustedhost",
    "starlette.middleware.httpsredirect": "fasterapi.middleware.httpsredirect",
    "starlette.middleware.wsgi": "fasterapi.middleware.wsgi",
}

_IMPORT_RE = re.compile(r"^(?P<indent>\s*)(?P<kw>from|import)\s+(?P<mod>(?:fastapi|starlette)(?:\.[\w.]+)?)\b")


def _map_module(mod: str) -> str:
    if mod == "fastapi" or mod.startswith("fastapi."):
        return "fasterapi" + mod[len("fastapi") :]
    if mod in STARLETTE_MAP:
        return STARLETTE_MAP[mod]
    return "fasterapi._starlette_unmapped." + mod  # fails to import: reported as such


def rewrite_source(text: str) -> str:
    out = []
    for line in text.splitlines(keepends=True):
        m = _IMPORT_RE.match(line)
        if m:
            mod = m.group("mod")
            new = _map_module(mod)
            rest = line[m.end() :]
            if m.group("kw") == "import" and not rest.lstrip().startswith("as") and "." not in mod:
                # `import fastapi` -> `import fasterapi as fastapi` keeps `fastapi.X` working
                line = f"{m.group('indent')}import {new} as {mod}{rest}"
            else:
                line = f"{m.group('indent')}{m.group('kw')} {new}{rest}"
        else:
            # dotted names inside strings: filterwarnings("ignore::fastapi.x.Y"), patch("fastapi.x")
            line = re.sub(r"(?<=[\"':])fastapi\.(?=[a-z_])", "fasterapi.", line)
        out.append(line)
    return "".join(out)


CONFTEST = '''
"""Written by benchmarks/fastapi_suite.py: refuses real fastapi/starlette imports, records outcomes."""
import importlib.abc
import json
import os
import sys


class _Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("fastapi", "starlette"):
            raise ImportError(f"{name}: not rewritten to fasterapi (FasterAPI compatibility run)")
        return None


sys.meta_path.insert(0, _Refuse())

_RESULTS = {}


def pytest_runtest_logreport(report):
    nodeid = report.nodeid
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        outcome = report.outcome
        if report.when == "setup" and outcome == "failed":
            outcome = "error"
        if hasattr(report, "wasxfail"):
            outcome = "xfail" if report.skipped else "xpass"
        _RESULTS[nodeid] = outcome
    elif report.when == "teardown" and report.outcome == "failed" and _RESULTS.get(nodeid) == "passed":
        _RESULTS[nodeid] = "error"


def pytest_collectreport(report):
    if report.outcome == "failed":
        _RESULTS[report.nodeid + "::<collection>"] = "collect-error"


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("FASTAPI_SUITE_RESULTS")
    if path:
        with open(path, "w") as f:
            json.dump(_RESULTS, f)
'''

PYTEST_INI = """[pytest]
addopts = -p no:cacheprovider --ignore=docs_src --ignore=_pkg --continue-on-collection-errors
timeout = 60
markers =
    xdist_group: FastAPI's tests group some tests for pytest-xdist
"""


def ensure_deps(install: bool) -> list[str]:
    import importlib.util

    missing = [pip for pip, mod in TEST_DEPS.items() if importlib.util.find_spec(mod) is None]
    if missing and install:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", *missing])
        missing = [pip for pip, mod in TEST_DEPS.items() if importlib.util.find_spec(mod) is None]
    return missing


def fetch_sdist(version: str, cache: Path) -> Path:
    """FastAPI's sdist, extracted (downloaded once into `cache`)."""
    root = cache / f"fastapi-{version}"
    if (root / "tests" / "test_tutorial").is_dir():
        return root
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.check_call(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
             f"fastapi=={version}", "-d", tmp]
        )
        (archive,) = Path(tmp).glob("fastapi-*.tar.gz")
        with tarfile.open(archive) as tar:
            tar.extractall(cache, filter="data")
    if not (root / "tests" / "test_tutorial").is_dir() or not (root / "docs_src").is_dir():
        raise SystemExit(f"the fastapi {version} sdist has no tests/test_tutorial or docs_src")
    return root


def prepare(source: Path, work: Path) -> None:
    if work.exists():
        shutil.rmtree(work)
    (work / "tests").mkdir(parents=True)
    for rel in ("tests/__init__.py", "tests/utils.py"):
        shutil.copy(source / rel, work / rel)
    shutil.copytree(source / "tests" / "test_tutorial", work / "tests" / "test_tutorial")
    shutil.copytree(source / "docs_src", work / "docs_src")
    img = source / "docs" / "en" / "docs" / "img" / "favicon.png"  # read by additional_responses apps
    if img.exists():
        (work / img.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(img, work / img.relative_to(source))
    for path in list(work.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        new = rewrite_source(text)
        if new != text:
            path.write_text(new, encoding="utf-8")
    # FastAPI's conftests (opentelemetry) import its other test packages; ours goes at the root.
    for conftest in (work / "tests").rglob("conftest.py"):
        conftest.unlink()
    (work / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (work / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")


def run(work: Path, areas: list[str], extra: list[str]) -> dict[str, str]:
    results_file = work / "results.json"
    env = dict(os.environ)
    env["FASTAPI_SUITE_RESULTS"] = str(results_file)
    # A snapshot of this checkout's package (with its built _core): the run sees one consistent
    # copy even if the tree's extension module is rebuilt meanwhile.
    src = Path(__file__).resolve().parent.parent / "src" / "fasterapi"
    snapshot = work / "_pkg"
    shutil.copytree(src, snapshot / "fasterapi", ignore=shutil.ignore_patterns("__pycache__"))
    env["PYTHONPATH"] = os.pathsep.join([str(work), str(snapshot), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    targets = [f"tests/test_tutorial/test_{a}" for a in areas] if areas else ["tests/test_tutorial"]
    cmd = [sys.executable, "-m", "pytest", "-q", "-rN", "--tb=no", "-p", "no:randomly", *targets, *extra]
    proc = subprocess.run(cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    (work / "pytest.log").write_text(proc.stdout, encoding="utf-8")
    if not results_file.exists():
        print(proc.stdout[-5000:])
        raise SystemExit("pytest did not finish (see the output above)")
    return json.loads(results_file.read_text(encoding="utf-8"))


def area_of(nodeid: str) -> str:
    parts = nodeid.split("/")
    try:
        name = parts[parts.index("test_tutorial") + 1]
    except (ValueError, IndexError):
        return "(other)"
    return name[len("test_") :] if name.startswith("test_") else name


def summarize(results: dict[str, str]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for nodeid, outcome in results.items():
        table[area_of(nodeid)][outcome] += 1
    return {k: dict(v) for k, v in sorted(table.items())}


def _counts(row: dict[str, int]) -> tuple[int, int, int]:
    passed = row.get("passed", 0) + row.get("xfail", 0)
    failed = row.get("failed", 0) + row.get("error", 0) + row.get("collect-error", 0) + row.get("xpass", 0)
    return passed, failed, row.get("skipped", 0)


def markdown(table: dict[str, dict[str, int]], exclude: set[str]) -> str:
    lines = ["| area | passed | failed | skipped | pass rate |", "| --- | ---: | ---: | ---: | ---: |"]
    tot_p = tot_f = tot_s = 0
    for area, row in table.items():
        if area in exclude:
            continue
        p, f, s = _counts(row)
        tot_p, tot_f, tot_s = tot_p + p, tot_f + f, tot_s + s
        rate = f"{100 * p / (p + f):.0f}%" if p + f else "-"
        lines.append(f"| {area} | {p} | {f} | {s} | {rate} |")
    rate = f"{100 * tot_p / (tot_p + tot_f):.1f}%" if tot_p + tot_f else "-"
    lines.append(f"| **total** | **{tot_p}** | **{tot_f}** | **{tot_s}** | **{rate}** |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", default=DEFAULT_VERSION)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "fasterapi-fastapi-suite")
    parser.add_argument("--work", type=Path, default=None, help="where the rewritten tests go")
    parser.add_argument("--area", action="append", default=[], help="only this tutorial area (repeatable)")
    parser.add_argument("--install-deps", action="store_true", help="pip-install missing test-only deps")
    parser.add_argument("--exclude-unsupported", action="store_true")
    parser.add_argument("--json", type=Path, help="write per-test outcomes here")
    parser.add_argument("--markdown", type=Path, help="write the table here")
    parser.add_argument("--show-failures", action="store_true", help="list failing test ids")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args()

    missing = ensure_deps(args.install_deps)
    if missing:
        print(f"missing test-only packages (tests needing them fail): {', '.join(missing)}; "
              "use --install-deps", file=sys.stderr)
    source = fetch_sdist(args.version, args.cache)
    work = args.work or (args.cache / f"run-{args.version}")
    prepare(source, work)
    results = run(work, args.area, args.pytest_args)
    table = summarize(results)
    exclude = set(UNSUPPORTED_AREAS) if args.exclude_unsupported else set()
    text = markdown(table, exclude)
    print(f"FastAPI {args.version} tutorial tests against FasterAPI ({work})\n")
    print(text)
    if exclude:
        print("\nleft out (not supported by design):")
        for area in sorted(exclude & set(table)):
            p, f, s = _counts(table[area])
            print(f"  {area}: {p} passed, {f} failed - {UNSUPPORTED_AREAS[area]}")
    if args.show_failures:
        print()
        for nodeid, outcome in sorted(results.items()):
            if outcome not in ("passed", "skipped", "xfail"):
                print(f"{outcome:14} {nodeid}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, sort_keys=True), encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
