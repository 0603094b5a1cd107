"""Which routes of an app the engine compiles to native plans (fasterapi.compiler's reports).

In reference mode (FASTERAPI_REFERENCE=1, `fasterapi` is `fastapi`) there is no engine:
`compile_reports` returns None and `assert_compiled` checks nothing; the tests' assertions on
responses still run, against FastAPI itself.
"""

from __future__ import annotations

import os

REFERENCE = os.environ.get("FASTERAPI_REFERENCE") == "1"


def compile_reports(app: object) -> dict[tuple[str, str], str] | None:
    """{(method, path): "" when compiled, else the compiler's reason} for `app` on the engine."""
    if REFERENCE:
        return None
    from fasterapi._asgi_server import ScopeMaker
    from fasterapi._engine import build_engine

    _engine, _handler, reports = build_engine(app, ScopeMaker(""))
    return {(method, r.path): ("" if r.compiled else r.reason) for r in reports for method in (r.methods or ("",))}


def assert_compiled(app: object, *routes: str, compiled: bool = True) -> None:
    """Each "METHOD /path" is (or, compiled=False, is not) compiled to a native plan."""
    reports = compile_reports(app)
    if reports is None:
        return
    for route in routes:
        method, path = route.split(" ", 1)
        reason = reports[(method, path)]
        assert (reason == "") is compiled, f"{route}: {reason or 'compiled'}"
