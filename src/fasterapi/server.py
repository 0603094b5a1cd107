"""Serving an app: one worker in this process, or a supervisor with N worker processes.

Every byte on the socket is handled by the C++ engine (`_core.Server`); this module only owns
the process model: the asyncio loop that the engine's epoll fd is registered with (so `async def`
handlers and the engine share one thread), signals, lifespan, draining and worker supervision.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from . import _core, _runtime
from ._asgi_server import Lifespan, ScopeMaker, build_engine
from ._connection import ProxyTrust

logger = logging.getLogger("fasterapi.server")
access_logger = logging.getLogger("fasterapi.access")


@dataclass
class Config:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # Socket loops per worker process, each on its own thread with its own interpreter (3.12+
    # per-interpreter GIL) or sharing a free-threaded 3.13t one. Not available on this build yet:
    # N > 1 falls back to N times as many worker processes (see loop_threads_unavailable()).
    loop_threads: int = 1
    access_log: bool = False
    # async handlers: False (default) runs each as an asyncio task from its first step (anyio,
    # asyncio.timeout and httpx.AsyncClient need one); True steps it inline first and makes a task
    # only if it really awaits (faster, but no current task before the first real await).
    inline_async: bool = False
    # plain `def` endpoints/dependencies of compiled routes called inline on the loop thread instead
    # of FastAPI's thread pool (faster; a blocking def stalls the worker)
    def_inline: bool = False
    reuse_port: bool = True
    backlog: int = 1024
    # limits (bytes / counts); None: the app's own setting (FasterAPI(limits=...)) or the default
    max_request_line: int | None = None
    max_head: int | None = None
    max_headers: int | None = None
    max_body: int | None = None
    max_pipelined: int | None = None  # requests buffered ahead of a pending response (x max_head bytes)
    output_high_water: int | None = None  # stop reading a connection while more unsent bytes than this
    max_connections: int = 10000
    # deadlines (seconds)
    header_timeout: float = 10.0
    keepalive_timeout: float = 5.0
    body_timeout: float = 10.0
    body_min_rate: int = 1024
    write_timeout: float = 10.0
    shutdown_timeout: float = 30.0
    # Behind a proxy (as uvicorn): the path prefix the proxy strips (scope["root_path"]); proxy
    # headers (X-Forwarded-Proto / X-Forwarded-For) trusted from these clients ("*": any;
    # None: $FORWARDED_ALLOW_IPS or 127.0.0.1).
    root_path: str = ""
    proxy_headers: bool = True
    forwarded_allow_ips: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def scope_maker(self, state: dict[str, Any] | None = None) -> ScopeMaker:
        """The ASGI scope rules of this server: root path, trusted proxies, the lifespan state."""
        trust = None
        if self.proxy_headers:
            allowed = self.forwarded_allow_ips
            if allowed is None:
                allowed = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
            trust = ProxyTrust(allowed)
        return ScopeMaker(self.root_path, trust, state)

    def limits(self) -> dict[str, int]:
        given = {
            "max_request_line": self.max_request_line,
            "max_head": self.max_head,
            "max_headers": self.max_headers,
            "max_body": self.max_body,
            "max_pipelined": self.max_pipelined,
            "output_high_water": self.output_high_water,
        }
        return {k: v for k, v in given.items() if v is not None}

    def server_config(self) -> dict[str, int]:
        return {
            "max_connections": self.max_connections,
            "header_timeout_ms": int(self.header_timeout * 1000),
            "keepalive_timeout_ms": int(self.keepalive_timeout * 1000),
            "body_timeout_ms": int(self.body_timeout * 1000),
            "body_min_rate": self.body_min_rate,
            "write_timeout_ms": int(self.write_timeout * 1000),
        }


def _log_access(client: tuple[str, int], method: str, target: str, version: str, status: int) -> None:
    access_logger.info('%s:%d - "%s %s HTTP/%s" %d', client[0], client[1], method, target, version, status)


async def serve(app: Any, config: Config, *, ready: Any = None) -> None:
    """Serve `app` on this thread's running asyncio loop until SIGTERM/SIGINT (or `stop()`)."""
    loop = asyncio.get_running_loop()
    server: Any = None
    stop = asyncio.Event()

    def on_signal() -> None:
        stop.set()
        # stop accepting right here, one loop iteration before the drain below
        if server is not None and server.listening:
            server.begin_shutdown()

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, on_signal)
    async with Lifespan(app) as lifespan:
        # The engine is built once startup is done (uvicorn serves the app only then): routes the
        # lifespan added or rebuilt (`route.app = ...`, fastapi-pagination) are compiled as they are.
        scope_maker = config.scope_maker(lifespan.state)
        engine, handler, _reports = build_engine(app, scope_maker, config.limits(), config.def_inline)
        if config.access_log:
            engine.access_log = _log_access
        if not config.inline_async:
            # Each async handler runs in an asyncio task from its first step, as under uvicorn.
            engine.task_starter = _runtime.start_task
        server = _core.Server(engine, config.server_config())
        port = server.listen(config.host, config.port, config.reuse_port, config.backlog)
        scope_maker.server = (config.host, port)
        loop.add_reader(server.fileno(), server.poll)
        sweeper = loop.create_task(_sweep(server))
        logger.info("FasterAPI running on http://%s:%d (pid %d)", config.host, port, os.getpid())
        if ready is not None:
            ready(port)
        try:
            await stop.wait()
        finally:
            # Drain: stop accepting at once, let in-flight requests finish, close idle keep-alives.
            server.begin_shutdown()
            deadline = time.monotonic() + config.shutdown_timeout
            while server.connections and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            if server.connections:
                logger.warning("shutdown deadline: closing %d connections", server.connections)
            server.close_all()
            await handler.drain(1.0)  # background tasks that outlived their response
            sweeper.cancel()
            _runtime.close_workers(loop)
            loop.remove_reader(server.fileno())
    logger.info("worker %d stopped", os.getpid())


async def _sweep(server: Any) -> None:
    while True:
        await asyncio.sleep(0.1)
        server.sweep()


def _new_loop() -> asyncio.AbstractEventLoop:
    return asyncio.new_event_loop()


def run_worker(app: Any, config: Config) -> None:
    loop = _new_loop()
    try:
        loop.run_until_complete(serve(app, config))
    finally:
        loop.close()


def _spawn(app: Any, config: Config) -> int:
    pid = os.fork()
    if pid == 0:  # the worker
        code = 0
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor turns Ctrl-C into SIGTERM
            run_worker(app, config)
        except BaseException:  # noqa: BLE001 - a worker must never fall back into the supervisor
            logger.exception("worker failed")
            code = 1
        finally:
            logging.shutdown()
            os._exit(code)
    return pid


def supervise(app: Any, config: Config) -> None:
    """N worker processes on one port (SO_REUSEPORT); a worker that dies is replaced."""
    stopping = False
    workers: dict[int, float] = {}  # pid -> when it was started
    signalled: set[int] = set()

    def forward() -> None:
        for pid in list(workers):
            if pid not in signalled:
                signalled.add(pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)

    def on_signal(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True
        forward()  # at once: the workers close their listening sockets now, not at the next poll

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    for _ in range(config.workers):
        workers[_spawn(app, config)] = time.monotonic()
    logger.info("supervisor %d started %d workers", os.getpid(), len(workers))
    quick_deaths = 0
    while not stopping:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            pid, status = 0, 0
        if pid and pid in workers:
            lived = time.monotonic() - workers.pop(pid)
            logger.warning("worker %d exited (status %d); starting another", pid, status)
            # A worker that dies at once (a broken app) is restarted with a growing pause, not in a
            # fork loop; one that ran for a while is replaced immediately.
            quick_deaths = quick_deaths + 1 if lived < 1.0 else 0
            if quick_deaths > 1:
                time.sleep(min(0.1 * 2 ** (quick_deaths - 2), 5.0))
            if not stopping:
                workers[_spawn(app, config)] = time.monotonic()
            continue
        time.sleep(0.05)
    forward()  # (a worker started while the signal was handled)
    deadline = time.monotonic() + config.shutdown_timeout + 5
    while workers and time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid:
            workers.pop(pid, None)
        else:
            time.sleep(0.02)
    for pid in workers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    logger.info("supervisor stopped")


def loop_threads_unavailable() -> str:
    """Why several socket loops cannot share this process (the engine itself could: its loops share
    no mutable state, see docs/architecture.md)."""
    if sys.version_info < (3, 12):
        return (
            f"Python {sys.version_info.major}.{sys.version_info.minor} has one GIL per process: loop threads "
            "need Python 3.12+ (sub-interpreters with their own GIL) or a free-threaded 3.13t build"
        )
    return "in-process loop threads are not implemented for this Python build yet"


def _loop_threads_fallback(config: Config) -> Config:
    reason = loop_threads_unavailable()
    workers = config.workers * config.loop_threads
    logger.warning("--loop-threads %d: %s; running %d worker processes instead", config.loop_threads, reason, workers)
    return dataclasses.replace(config, workers=workers, loop_threads=1)


def _raise_nofile(config: Config) -> None:
    """Each connection is a file descriptor: lift the soft RLIMIT_NOFILE (often 1024) towards
    --max-connections, within the hard limit. Past it, accept() fails and new connections are
    refused with a 503 (the loop keeps a spare fd for that) instead of reaching the cap."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return
    want = config.max_connections + 128  # listening sockets, epoll, pipes, the app's own files
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        if new > soft:
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
                soft = new
        if soft < want:
            logger.warning("RLIMIT_NOFILE is %d: fewer than --max-connections %d connections fit "
                           "(raise it with ulimit -n)", soft, config.max_connections)


def run(app: Any, host: str = "127.0.0.1", port: int = 8000, *, workers: int = 1, **options: Any) -> None:
    """Serve `app` (the entry point behind `app.run()` and `fasterapi run`)."""
    known = {f for f in Config.__dataclass_fields__}
    unknown = set(options) - known
    if unknown:
        raise TypeError(f"unknown server options: {', '.join(sorted(unknown))}")
    config = Config(host=host, port=port, workers=workers, **options)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s", stream=sys.stderr)
    if config.loop_threads > 1:
        config = _loop_threads_fallback(config)
    _raise_nofile(config)
    if config.workers > 1:
        supervise(app, config)
    else:
        run_worker(app, config)
