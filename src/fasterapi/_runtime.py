"""Glue the engine calls from C++: continuing a handler coroutine that really awaits.

The engine runs the first step of every coroutine inline (most handlers never suspend, so they
cost no task). When a step yields -- the coroutine awaits a future -- the engine hands the
suspended coroutine and the future it yielded to ``resume``, which finishes it as an asyncio task
on the running loop and reports back through ``done(task)``.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Callable, Coroutine, Generator
from typing import Any


class _Continue:
    """An awaitable that carries on a coroutine that has already been stepped once."""

    __slots__ = ("_coro", "_yielded")

    def __init__(self, coro: Coroutine[Any, Any, Any], yielded: Any) -> None:
        self._coro = coro
        self._yielded = yielded

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, value = self._coro, self._yielded
        self._yielded = None
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # thrown in by the task (cancellation): pass it down
                try:
                    value = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    value = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


async def _finish(coro: Coroutine[Any, Any, Any], yielded: Any) -> Any:
    return await _Continue(coro, yielded)


_tasks: set[asyncio.Task[Any]] = set()  # strong refs: the loop keeps only weak ones


def resume(coro: Coroutine[Any, Any, Any], yielded: Any, done: Callable[[asyncio.Task[Any]], None]) -> None:
    task = asyncio.get_running_loop().create_task(_finish(coro, yielded))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    task.add_done_callback(done)


# ---- the engine's hub on an asyncio loop (in-memory connections: TestClient) -------------------
# A served engine has its _core.Server watch the hub (pool results, batch timers) in its epoll. An
# engine used through in-memory connections has the running asyncio loop watch it instead.

_watched: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, set[int]] = weakref.WeakKeyDictionary()


def watch_hub(fd: int, engine: Any) -> None:
    loop = asyncio.get_running_loop()
    fds = _watched.get(loop)
    if fds is None:
        fds = _watched[loop] = set()
    if fd not in fds:
        loop.add_reader(fd, engine._drain)
        fds.add(fd)


def _settle(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.cancelled():
        return
    if exc is None:
        future.set_result(result)
    else:
        future.set_exception(exc)


class Offload:
    """What a blocking route's handler returns to the engine (no dependencies, native pool): the
    engine runs `call()` on its pool, then `then(result, exc)` on the loop thread, whose return
    value (a Response, or an awaitable of one) answers the request. No asyncio task or future."""

    __slots__ = ("call", "then")

    def __init__(self, call: Callable[[], Any], then: Callable[[Any, BaseException | None], Any]) -> None:
        self.call = call
        self.then = then


def offload(engine: Any, call: Callable[[], Any]) -> asyncio.Future[Any]:
    """Run call() on the engine's native pool; a future of its result, settled on this loop."""
    future = asyncio.get_running_loop().create_future()
    engine.offload(call, functools.partial(_settle, future))
    return future
