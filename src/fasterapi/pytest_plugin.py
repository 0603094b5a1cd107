"""pytest plugin: a project's own test suite, with FastAPI's TestClient served by the engine.

    pytest -p fasterapi.pytest_plugin          # or FASTERAPI_TESTCLIENT=1 pytest (installed plugin)

Every `fastapi.testclient.TestClient` / `starlette.testclient.TestClient` made during the run sends
its HTTP requests through an in-memory engine connection (fasterapi.testclient): the suite then
checks that FasterAPI serves the app as FastAPI would. Installed as the `fasterapi` pytest11 entry
point, it does nothing unless asked (`-p fasterapi.pytest_plugin`, `--fasterapi`, or the variable).
"""

from __future__ import annotations

import os
import sys
from typing import Any


def _wanted(config: Any) -> bool:
    if os.environ.get("FASTERAPI_TESTCLIENT") == "1":
        return True
    if config.getoption("fasterapi", default=False):
        return True
    # `-p fasterapi.pytest_plugin` names this module explicitly
    return any(a in ("fasterapi.pytest_plugin", "-pfasterapi.pytest_plugin") for a in sys.argv)


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("fasterapi")
    group.addoption(
        "--fasterapi",
        action="store_true",
        default=False,
        help="serve every FastAPI/Starlette TestClient request through the FasterAPI engine",
    )


def pytest_configure(config: Any) -> None:
    if _wanted(config):
        from .testclient import install

        install()
        config._fasterapi_engine = True


def pytest_report_header(config: Any) -> str | None:
    if getattr(config, "_fasterapi_engine", False):
        return "fasterapi: TestClient requests are served by the FasterAPI engine"
    return None
