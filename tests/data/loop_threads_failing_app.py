"""A Starlette app whose lifespan fails in a sub-interpreter only (it imports there, so the
probe passes): the loop there fails after loop 1 started (tests/integration/test_loop_threads.py)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from loop_threads_app import interpreter_id
from starlette.applications import Starlette


@contextlib.asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    if interpreter_id() != 0:
        raise RuntimeError("no database in a sub-interpreter")
    yield


app = Starlette(lifespan=lifespan)
