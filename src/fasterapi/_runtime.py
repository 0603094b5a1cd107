"""Glue the engine calls from C++: continuing a handler coroutine that really awaits.

The engine runs the first step of every coroutine inline (most handlers never suspend, so they
cost no task). When a step yields -- the coroutine awaits a future -- the engine hands the
suspended coroutine and the future it yielded to ``resume``, which finishes it as an asyncio task
on the running loop and reports back through ``done(task)``.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import sys
import weakref
from collections.abc import Callable, Coroutine, Generator
from typing import Any


def _call(function: Callable[..., Any], *args: Any) -> Any:
    return function(*args)


class _Continue:
    """An awaitable that carries on a coroutine that has already been stepped once, each step in
    `context` when given (a served request's own contextvars context)."""

    __slots__ = ("_coro", "_yielded", "_run")

    def __init__(
        self, coro: Coroutine[Any, Any, Any], yielded: Any, context: contextvars.Context | None = None
    ) -> None:
        self._coro = coro
        self._yielded = yielded
        self._run = context.run if context is not None else _call

    def __await__(self) -> Generator[Any, Any, Any]:
        run, coro, value = self._run, self._coro, self._yielded
        self._yielded = None
        if value is _CANCELLED:  # cancelled while handed over: the handler sees it at its await
            try:
                value = run(coro.throw, asyncio.CancelledError())
            except StopIteration as stop:
                return stop.value
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # thrown in by the task (cancellation): pass it down
                try:
                    value = run(coro.throw, exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    value = run(coro.send, sent)
                except StopIteration as stop:
                    return stop.value


async def _finish(coro: Coroutine[Any, Any, Any], yielded: Any, context: contextvars.Context | None = None) -> Any:
    return await _Continue(coro, yielded, context)


_tasks: set[asyncio.Task[Any]] = set()  # strong refs: the loop keeps only weak ones

# In-memory exchanges (TestClient, the app as an ASGI app) feed the engine from inside a task:
# the handler's first step runs in that task, so its continuation must too. Code that ties state
# to the current task in one step and checks it in a later one (anyio's CancelScope: anyio.Lock,
# anyio.to_thread.run_sync, httpx/httpcore; asyncio.timeout) fails when the continuation is
# another task ("Attempted to exit cancel scope in a different task"). While `feed_inline` feeds
# a connection, `resume` queues the continuation for that task to finish instead.
_Pending = list[tuple[Coroutine[Any, Any, Any], Any, Callable[[Any], None]]]
_inline: contextvars.ContextVar[tuple[asyncio.Task[Any] | None, _Pending] | None] = contextvars.ContextVar(
    "fasterapi_inline_resume", default=None
)


async def feed_inline(conn: Any, raw: bytes) -> None:
    """conn.feed(raw), then finish in this task the handlers that awaited (see `_inline`)."""
    pending: _Pending = []
    token = _inline.set((asyncio.current_task(), pending))
    try:
        conn.feed(raw)
        while pending:
            coro, yielded, done = pending.pop(0)
            result = asyncio.get_running_loop().create_future()
            try:
                value = await _finish(coro, yielded)
            except asyncio.CancelledError:
                result.cancel()
                done(result)
                raise
            except BaseException as exc:
                result.set_exception(exc)
            else:
                result.set_result(value)
            done(result)  # may step another coroutine (queued here again if it awaits)
    finally:
        _inline.reset(token)


# ---- served engines: every async handler in a task of its own, at inline cost ------------------
# Code in a handler's first step may need a current asyncio task (anyio: anyio.Lock,
# anyio.to_thread, httpx.AsyncClient; asyncio.timeout), and a cancel scope entered before the
# first await must be left in the same task after it. A task per request costs ~3 us (creation
# plus a loop turn). Instead a pool of parked worker tasks lends its identity: the first step runs
# inline as a parked worker (asyncio's own _enter_task/_leave_task, as 3.12's eager tasks do);
# if it finishes there (most handlers) the worker stays parked for the next request; if it
# awaits, that same worker continues it, so both steps share one task. Each request runs in its
# own copy of the context (contextvars set by one request never reach another).

_enter_task = getattr(asyncio.tasks, "_enter_task", None)
# PyPy: a first step taken inline here (called from the engine through cpyext) that then awaits
# left the future it awaited, with its result (the response), alive long after the request under
# concurrent load (up to ~1 Future + 1 Wire per request on the ASGI path; docs/compatibility.md). The worker takes
# the coroutine from its first step instead: same task, same context, one loop turn later.
_HANDOFF_FIRST_STEP = sys.implementation.name == "pypy"
_leave_task = getattr(asyncio.tasks, "_leave_task", None)


class _Handoff:
    """A suspended handler for a worker: the coroutine, its context, what it yielded, done()."""

    __slots__ = ("coro", "context", "yielded", "done")

    def __init__(
        self, coro: Coroutine[Any, Any, Any], context: contextvars.Context, yielded: Any, done: Callable[[Any], None]
    ) -> None:
        self.coro = coro
        self.context = context
        self.yielded = yielded
        self.done = done


class _Worker:
    __slots__ = ("task", "inbox", "pool", "closing", "__weakref__")

    def __init__(self, loop: asyncio.AbstractEventLoop, pool: list[_Worker]) -> None:
        self.pool = pool
        self.closing = False
        self.inbox: asyncio.Future[_Handoff] = loop.create_future()
        self.task = loop.create_task(self._run())
        _tasks.add(self.task)
        self.task.add_done_callback(_tasks.discard)
        _workers.setdefault(loop, weakref.WeakSet()).add(self)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                handoff = await self.inbox
            except asyncio.CancelledError:
                if self.closing:
                    raise
                # A first step cancelled its task (a cancel scope with a past deadline): the
                # cancellation belongs to that handler, delivered at its next step.
                self.task.uncancel()
                if not self.inbox.done() or self.inbox.cancelled():
                    self.inbox = loop.create_future()
                    continue
                handoff = self.inbox.result()
                handoff.yielded = _CANCELLED
            outcome: asyncio.Future[Any] = loop.create_future()
            try:
                outcome.set_result(await _Continue(handoff.coro, handoff.yielded, handoff.context))
            except asyncio.CancelledError:
                if self.task.cancelling():
                    self.task.uncancel()
                outcome.cancel()
            except BaseException as exc:  # noqa: BLE001 -- the engine's error handler takes it
                outcome.set_exception(exc)
            handoff.done(outcome)
            handoff = None  # type: ignore[assignment]
            self.inbox = loop.create_future()
            self.pool.append(self)


_CANCELLED = object()  # a handoff whose worker was cancelled by the handler's first step


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[_Worker]] = weakref.WeakKeyDictionary()
_workers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, weakref.WeakSet[_Worker]] = weakref.WeakKeyDictionary()


def close_workers(loop: asyncio.AbstractEventLoop) -> None:
    """Ends the workers of `loop` (server shutdown, after in-flight requests drained)."""
    _pools.pop(loop, None)
    for worker in _workers.pop(loop, ()):
        worker.closing = True
        worker.task.cancel()


def start_task(coro: Coroutine[Any, Any, Any], done: Callable[[Any], None]) -> tuple[Any] | None:
    """engine.task_starter on a served engine. Returns `(result,)` when the handler finished in its
    first step (the engine writes it now), or None: `done(future)` follows when it ends."""
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    if _enter_task is None or _leave_task is None:  # pragma: no cover (asyncio without them)
        task = loop.create_task(coro, context=context)
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
        task.add_done_callback(done)
        return None
    pool = _pools.get(loop)
    if pool is None:
        pool = _pools[loop] = []
    worker = pool.pop() if pool else _Worker(loop, pool)
    if _HANDOFF_FIRST_STEP:
        worker.inbox.set_result(_Handoff(coro, context, None, done))
        return None
    try:
        _enter_task(loop, worker.task)
    except RuntimeError:
        # Called from inside a task (a completion ran the next pipelined request): the worker
        # takes the coroutine from its first step, one loop turn later.
        worker.inbox.set_result(_Handoff(coro, context, None, done))
        return None
    try:
        yielded = context.run(coro.send, None)
    except StopIteration as stop:
        pool.append(worker)
        return (stop.value,)
    except BaseException:
        pool.append(worker)
        raise
    finally:
        _leave_task(loop, worker.task)
    worker.inbox.set_result(_Handoff(coro, context, yielded, done))
    return None


# ---- the same, with the first step taken by the engine (engine.task_hooks) ----------------------
# The engine (bridge/engine.cpp first_step) keeps one idle worker per engine: it enters the worker's
# task (asyncio's own _enter_task), sends None into the coroutine under the request's own context,
# leaves the task, and only if the coroutine awaits hands it to the worker here, with that context.
# Anything else (no running loop, already inside a task) goes through start_task above.


def acquire_worker(loop: asyncio.AbstractEventLoop) -> _Worker:
    """An idle worker of `loop` for the engine (its pool's, else a new one)."""
    pool = _pools.get(loop)
    if pool is None:
        pool = _pools[loop] = []
    return pool.pop() if pool else _Worker(loop, pool)


def release_worker(worker: _Worker) -> None:
    """An idle worker the engine no longer keeps goes back to its loop's pool."""
    if not worker.closing:
        worker.pool.append(worker)


def handoff(
    worker: _Worker, coro: Coroutine[Any, Any, Any], context: contextvars.Context, yielded: Any, done: Any
) -> None:
    """A handler whose first step (taken by the engine as `worker`) awaits: `worker` continues it
    (a worker its loop closed meanwhile, server shutdown: a task of its own)."""
    if worker.closing:
        task = asyncio.get_running_loop().create_task(_finish(coro, yielded, context))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
        task.add_done_callback(done)
        return
    worker.inbox.set_result(_Handoff(coro, context, yielded, done))


def task_hooks(loop: asyncio.AbstractEventLoop | None = None) -> tuple[Any, ...] | None:
    """engine.task_hooks: the running loop's getter, or `loop` itself for an engine that only ever
    runs on that loop (a served engine: asyncio 3.11's getter costs a getpid() system call), then
    asyncio's _enter_task/_leave_task, the worker pool's acquire/release/handoff, and asyncio's
    current-task dict (or None)."""
    if _enter_task is None or _leave_task is None:  # pragma: no cover (asyncio without them)
        return None
    first = asyncio.events._get_running_loop if loop is None else loop
    return (first, _enter_task, _leave_task, acquire_worker, release_worker, handoff, _current_tasks())


def _current_tasks() -> dict[Any, Any] | None:
    """asyncio's own current-task dict, when _enter_task/_leave_task are _asyncio's C functions
    that edit it (and current_task() reads it): the engine makes those two edits itself. Else None
    (the engine calls _enter_task/_leave_task)."""
    tasks = getattr(asyncio.tasks, "_current_tasks", None)
    native = all(getattr(f, "__module__", None) == "_asyncio" for f in (_enter_task, _leave_task))
    # The C functions must edit this very dict: so on 3.11-3.13 (_asyncio._current_tasks is it);
    # 3.14's keep the current task in the thread state and asyncio.tasks' dict is the pure-Python
    # implementation's, which current_task() does not read.
    c_tasks = getattr(sys.modules.get("_asyncio"), "_current_tasks", None)
    return tasks if native and type(tasks) is dict and c_tasks is tasks else None


def spawn(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """A task on the running loop, kept alive until it ends (the TestClient waits for these)."""
    task = asyncio.get_running_loop().create_task(coro)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return task


def resume(coro: Coroutine[Any, Any, Any], yielded: Any, done: Callable[[asyncio.Task[Any]], None]) -> None:
    inline = _inline.get()
    if inline is not None and inline[0] is asyncio.current_task():
        inline[1].append((coro, yielded, done))
        return
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
