"""Glue the engine calls from C++: continuing a handler coroutine that really awaits.

The engine runs the first step of every coroutine inline (most handlers never suspend, so they
cost no task). When a step yields -- the coroutine awaits a future -- the engine hands the
suspended coroutine and the future it yielded to ``resume``, which finishes it as an asyncio task
on the running loop and reports back through ``done(task)``.
"""

from __future__ import annotations

import asyncio
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
