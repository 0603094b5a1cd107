"""Compat tests: apps written the FastAPI way, run through the real engine with TestClient.

Set FASTERAPI_REFERENCE=1 (in a venv with fastapi installed) to run the very same tests against
FastAPI itself: `fasterapi` is then an alias of `fastapi`, which checks that the expectations
encoded here are FastAPI's behaviour. Every test runs in both modes: there is no FasterAPI-only
behaviour left to skip. engine_reports.py says which routes the engine compiles (tests use it to
make sure they exercise the native path; it checks nothing in reference mode, which has no engine).
"""

from __future__ import annotations

import os
import sys

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
