"""Background tasks: run after the response has been produced.

The route handler schedules `response.background` on the running asyncio loop once the response
exists (see `routing.schedule_background`); sync functions run in the default thread pool as in
Starlette, async ones on the loop.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from .concurrency import run_in_threadpool


class BackgroundTask:
    def __init__(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.is_async = inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
            getattr(func, "__call__", None)
        )

    async def __call__(self) -> None:
        if self.is_async:
            await self.func(*self.args, **self.kwargs)
        else:
            await run_in_threadpool(self.func, *self.args, **self.kwargs)


class BackgroundTasks(BackgroundTask):
    """A list of tasks run in order; a dependency/endpoint parameter of this type gets one per request."""

    def __init__(self, tasks: list[BackgroundTask] | None = None) -> None:
        self.tasks = list(tasks) if tasks else []

    def add_task(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.tasks.append(BackgroundTask(func, *args, **kwargs))

    async def __call__(self) -> None:
        for task in self.tasks:
            await task()
