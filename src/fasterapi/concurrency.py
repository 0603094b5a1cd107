"""Thread-pool helpers (FastAPI's `fastapi.concurrency` names) on asyncio's default executor."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager
from typing import Any, TypeVar

_T = TypeVar("_T")


async def run_in_threadpool(func: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """Run a blocking callable on the loop's default executor, keeping the caller's contextvars."""
    loop = asyncio.get_running_loop()
    ctx = contextvars.copy_context()
    call = functools.partial(ctx.run, func, *args, **kwargs)
    return await loop.run_in_executor(None, call)


class _StopIteration(Exception):
    pass


def _next(iterator: Iterator[_T]) -> _T:
    # StopIteration cannot cross a Future boundary, so translate it.
    try:
        return next(iterator)
    except StopIteration:
        raise _StopIteration from None


async def iterate_in_threadpool(iterator: Iterable[_T]) -> AsyncIterator[_T]:
    it = iter(iterator)
    while True:
        try:
            yield await run_in_threadpool(_next, it)
        except _StopIteration:
            break


@asynccontextmanager
async def contextmanager_in_threadpool(cm: AbstractContextManager[_T]) -> AsyncIterator[_T]:
    value = await run_in_threadpool(cm.__enter__)
    try:
        yield value
    except Exception as exc:
        suppress = await run_in_threadpool(cm.__exit__, type(exc), exc, exc.__traceback__)
        if not suppress:
            raise
    else:
        await run_in_threadpool(cm.__exit__, None, None, None)
