"""--sync-in-threadpool (FasterAPI(sync_in_threadpool=True)): plain def endpoints run on the thread
pool, as FastAPI runs them, so endpoints that block do not serialize the worker."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx


def _five_at_once(url: str) -> tuple[float, list[dict[str, bool]]]:
    t0 = time.monotonic()
    with ThreadPoolExecutor(5) as pool:
        results = list(pool.map(lambda _: httpx.get(url, timeout=10).json(), range(5)))
    return time.monotonic() - t0, results


def test_blocking_def_endpoints_run_side_by_side(serve) -> None:  # type: ignore[no-untyped-def]
    s = serve("sync_app:app", "--sync-in-threadpool")
    took, results = _five_at_once(s.url + "/sleep?s=0.3")
    assert results == [{"thread": True}] * 5
    assert took < 1.0, took  # five 0.3 s sleeps in parallel


def test_default_runs_def_endpoints_on_the_loop(serve) -> None:  # type: ignore[no-untyped-def]
    s = serve("sync_app:app")
    took, results = _five_at_once(s.url + "/sleep?s=0.3")
    assert results == [{"thread": False}] * 5
    assert took >= 1.4, took  # one after another on the loop thread
