"""Session-wide: say in one line which external inputs the run found, and which socket loop the
servers the tests start run on."""

from __future__ import annotations

import os

from http_corpus import SHARED_NOTE  # type: ignore[import-not-found]

# The socket loop of every server the tests start (the CLI's --loop default, and _core.Server built
# by the tests through integration/conftest.py's loop_config()): epoll unless FASTERAPI_LOOP says
# otherwise; .ci/run reruns the socket tests with FASTERAPI_LOOP=io_uring. (--loop auto has tests of
# its own: tests/integration/test_loop_backend.py.)
os.environ.setdefault("FASTERAPI_LOOP", "epoll")


def pytest_report_header() -> list[str]:
    return [SHARED_NOTE, f"socket loop: FASTERAPI_LOOP={os.environ['FASTERAPI_LOOP']}"]


def _hypothesis_without_deadline() -> None:
    # Hypothesis fails an example that takes over 200 ms: a timed assertion, which a loaded CI
    # machine trips (test_json did once); the properties are what these tests check, not speed.
    try:
        from hypothesis import settings
    except ImportError:  # the interpreters' minimal test environments may lack it
        return
    settings.register_profile("fasterapi", deadline=None)
    settings.load_profile("fasterapi")


_hypothesis_without_deadline()
