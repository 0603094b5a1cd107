"""Session-wide: say in one line which external inputs the run found."""

from __future__ import annotations

from http_corpus import SHARED_NOTE  # type: ignore[import-not-found]


def pytest_report_header() -> list[str]:
    return [SHARED_NOTE]


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
