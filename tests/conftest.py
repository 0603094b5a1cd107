"""Session-wide: say in one line which external inputs the run found."""

from __future__ import annotations

from http_corpus import SHARED_NOTE  # type: ignore[import-not-found]


def pytest_report_header() -> list[str]:
    return [SHARED_NOTE]
