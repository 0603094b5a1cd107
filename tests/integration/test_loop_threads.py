"""--loop-threads N: on a Python without a per-interpreter GIL or free threading it says so and
falls back to worker processes (the engine's own side -- two loops in one process sharing no
mutable state -- is tested in tests/native/test_loops.py)."""

from __future__ import annotations

import sys

import httpx
import pytest

from fasterapi.server import Config, _loop_threads_fallback, loop_threads_unavailable


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="the message is about Python 3.11")
def test_the_reason_names_what_is_needed() -> None:
    why = loop_threads_unavailable()
    assert "3.12+" in why and "3.13t" in why and "sub-interpreters" in why


def test_fallback_multiplies_worker_processes() -> None:
    c = _loop_threads_fallback(Config(workers=2, loop_threads=3))
    assert (c.workers, c.loop_threads) == (6, 1)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="the fallback message is about Python 3.11")
def test_cli_loop_threads_falls_back_to_processes(serve) -> None:  # type: ignore[no-untyped-def]
    s = serve("server_app:app", "--loop-threads", "2")
    assert httpx.get(s.url + "/items/1").json()["item_id"] == 1
    out = s.output()
    assert "--loop-threads 2" in out and "need Python 3.12+" in out
    assert "started 2 workers" in out
