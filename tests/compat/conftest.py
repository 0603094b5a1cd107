"""Compat tests: apps written the FastAPI way, run through the real engine with TestClient.

Set FASTERAPI_REFERENCE=1 (in a venv with fastapi installed) to run the very same tests against
FastAPI itself: `fasterapi` is then an alias of `fastapi`, which checks that the expectations
encoded here are FastAPI's behaviour. Tests of FasterAPI-only behaviour are marked `fasterapi_only`.
"""

from __future__ import annotations

import os
import sys

import pytest

REFERENCE = os.environ.get("FASTERAPI_REFERENCE") == "1"

if REFERENCE:
    import importlib

    import fastapi

    sys.modules["fasterapi"] = fastapi
    for name in (
        "testclient", "responses", "requests", "routing", "params", "encoders", "exceptions",
        "exception_handlers", "background", "datastructures", "middleware", "middleware.cors",
        "middleware.gzip", "middleware.trustedhost", "middleware.httpsredirect", "security", "sse",
    ):
        sys.modules["fasterapi." + name] = importlib.import_module("fastapi." + name)
    sys.modules["fasterapi.status"] = importlib.import_module("starlette.status")
    import starlette.middleware.base

    sys.modules["fasterapi.middleware.base"] = starlette.middleware.base


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fasterapi_only: behaviour where FasterAPI deliberately differs")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not REFERENCE:
        return
    skip = pytest.mark.skip(reason="FasterAPI-specific behaviour")
    for item in items:
        if "fasterapi_only" in item.keywords:
            item.add_marker(skip)
