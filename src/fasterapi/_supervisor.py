"""The supervisor: N worker processes forked from this one, all accepting on the one listening
socket this process bound (so no other process can join the port), started, watched and replaced.

- A worker tells the supervisor through a pipe when it serves ("R"), when it retires after
  --limit-max-requests ("M"), or why it failed before serving ("F" and a JSON object with the
  traceback and a one-line cause).
- Metrics (--metrics-path): the supervisor maps the shared counters region before the first fork
  (`_core.metrics_create`), with two slots per worker so that a retiring worker that still drains
  and its replacement never write the same slot; each worker is given a free slot, a dead worker's
  slot keeps its totals (counters stay monotonic) and loses its gauges, and every replacement
  counts in `fasterapi_worker_restarts_total`.
- Fail fast: a worker of the first generation that fails before it serves stops the server (the
  cause on one line, the traceback once, exit code 1); so does a crash loop later (5 workers in a
  row that die before serving or within a second of it). Other deaths are replaced at once, a
  second quick one after a growing pause.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from . import _core

if TYPE_CHECKING:
    from .server import Config


class ServerHooks(Protocol):
    """What the supervisor needs of fasterapi.server, passed in by it (server imports this module,
    never the other way round)."""

    def run_worker(self, app: Any, config: Config, sock: socket.socket | None = None, **kw: Any) -> None: ...

    def cause_of(self, exc: BaseException) -> str: ...

    def describe_socket(self, sock: socket.socket, tls: bool = False) -> tuple[str, tuple[str, int] | None]: ...


logger = logging.getLogger("fasterapi.server")

CRASH_LOOP = 5  # workers in a row that die before serving (or within QUICK_DEATH of it)
QUICK_DEATH = 1.0  # seconds


@dataclass
class Worker:
    pid: int
    slot: int  # which of the listening sockets it accepts on
    pipe: int
    mslot: int  # its slot of the metrics region
    started: float
    ready_at: float | None = None
    retiring: bool = False
    signalled: bool = False
    buf: bytearray = field(default_factory=bytearray)


class _StartupCapture(logging.Filter):
    """Keeps the traceback of a failed lifespan startup out of the worker's log: the supervisor
    prints it, once for all workers."""

    def __init__(self) -> None:
        super().__init__()
        self.text = ""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "Exception in lifespan" and record.exc_info and record.exc_info[1] is not None:
            if not self.text:
                self.text = "".join(traceback.format_exception(record.exc_info[1]))
            return False
        return True


def _write_all(fd: int, data: bytes) -> None:
    with contextlib.suppress(OSError):
        while data:
            data = data[os.write(fd, data) :]


def _worker_main(app: Any, config: Config, sock: socket.socket, pipe: int, mslot: int, hooks: ServerHooks) -> int:
    run_worker, cause_of = hooks.run_worker, hooks.cause_of

    ready_sent = False
    capture = _StartupCapture()
    errors = logging.getLogger("fasterapi.error")
    errors.addFilter(capture)

    def ready(port: int) -> None:
        nonlocal ready_sent
        errors.removeFilter(capture)
        ready_sent = True
        _write_all(pipe, b"R")

    def retire() -> None:
        _write_all(pipe, b"M")

    try:
        run_worker(app, config, sock, ready=ready, on_retire=retire, metrics_slot=mslot)
    except BaseException as exc:  # noqa: BLE001 - a worker must never fall back into the supervisor
        if ready_sent:
            logger.exception("worker %d failed", os.getpid())
        else:
            tb = capture.text or "".join(traceback.format_exception(exc))
            _write_all(pipe, b"F" + json.dumps({"traceback": tb, "cause": cause_of(exc)}).encode())
        return 1
    return 0


def _spawn(app: Any, config: Config, socks: list[socket.socket], slot: int, mslot: int, hooks: ServerHooks) -> Worker:
    sock = socks[slot % len(socks)]
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker
        code = 1
        try:
            os.close(r)
            for other in socks:  # the other workers' sockets: closed with their workers, not held here
                if other is not sock:
                    other.close()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor turns Ctrl-C into SIGTERM
            if config.tls:  # a reload before the worker serves: it loads the new files at its start anyway
                signal.signal(signal.SIGHUP, signal.SIG_IGN)
            code = _worker_main(app, config, sock, w, mslot, hooks)
        finally:
            logging.shutdown()
            os._exit(code)
    os.close(w)
    os.set_blocking(r, False)
    return Worker(pid, slot, r, mslot, time.monotonic())


def _read(w: Worker) -> None:
    while True:
        try:
            chunk = os.read(w.pipe, 65536)
        except BlockingIOError:
            return
        except OSError:
            return
        if not chunk:
            return
        w.buf += chunk


def _status(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            return f"killed by {signal.Signals(sig).name}"
        except ValueError:
            return f"killed by signal {sig}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def supervise(app: Any, config: Config, socks: list[socket.socket], hooks: ServerHooks) -> int:
    """N worker processes, worker k on socks[k] (or all on socks[0]); returns the exit code (0:
    stopped by a signal)."""
    stopping = False
    failure: str | None = None
    workers: dict[int, Worker] = {}
    respawn_at: list[tuple[float, int]] = []  # (when, slot)
    consecutive = 0  # quick deaths in a row
    last_failure = 0.0

    def forward() -> None:
        for w in list(workers.values()):
            if not w.signalled:
                w.signalled = True
                with contextlib.suppress(ProcessLookupError):
                    os.kill(w.pid, signal.SIGTERM)

    def on_signal(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for sock in socks:
            sock.close()  # new connections are refused now, not queued for workers that are leaving
        forward()  # at once: the workers close their listening sockets now, not at the next poll

    def reload_tls(signum: int, frame: Any) -> None:
        # SIGHUP: each worker reloads its TLS files (new connections get the new certificate).
        for w in list(workers.values()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(w.pid, signal.SIGHUP)

    metrics = config.metrics_path is not None
    if metrics:
        _core.metrics_create(2 * config.workers)
    started = 0

    def start(slot: int) -> None:
        nonlocal started
        taken = {w.mslot for w in workers.values()}
        mslot = next(i for i in range(2 * config.workers) if i not in taken)
        w = _spawn(app, config, socks, slot, mslot, hooks)
        workers[w.pid] = w
        started += 1
        if metrics and started > config.workers:
            _core.metrics_restart()

    url, _ = hooks.describe_socket(socks[0], config.tls)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if config.tls:
        signal.signal(signal.SIGHUP, reload_tls)
    for slot in range(config.workers):
        start(slot)
    logger.info("supervisor %d started %d workers", os.getpid(), len(workers))
    booting = True
    while not stopping:
        now = time.monotonic()
        for w in workers.values():
            _read(w)
            if w.ready_at is None and w.buf.startswith(b"R"):
                w.ready_at = now
            if not w.retiring and w.ready_at is not None and b"M" in w.buf:
                w.retiring = True  # it drains and exits; its replacement starts now
                respawn_at.append((now, w.slot))
        if booting and all(w.ready_at is not None for w in workers.values()):
            booting = False
            logger.info(
                "FasterAPI running on %s with %d workers (pids %s)",
                url,
                len(workers),
                ", ".join(str(p) for p in sorted(workers)),
            )
        if consecutive and any(
            w.ready_at is not None and w.started > last_failure and now - w.ready_at >= QUICK_DEATH
            for w in workers.values()
        ):
            consecutive = 0  # a replacement serves: the crash loop is over
        while not stopping:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if not pid:
                break
            dead = workers.pop(pid, None)
            if dead is None:
                continue
            if metrics:
                _core.metrics_down(dead.mslot)
            _read(dead)
            os.close(dead.pipe)
            if dead.retiring and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
                continue  # replaced already
            how = _status(status)
            if dead.ready_at is None:
                cause, tb = _failure(dead, how)
                if booting:
                    if tb:
                        sys.stderr.write(tb if tb.endswith("\n") else tb + "\n")
                        sys.stderr.flush()
                    failure = f"worker {pid} failed to start: {cause}"
                    stopping = True
                    break
                logger.warning("worker %d failed to start (%s): %s", pid, how, cause)
                consecutive += 1
            else:
                lived = now - dead.ready_at
                consecutive = consecutive + 1 if lived < QUICK_DEATH else 1
                cause = how
                logger.warning("worker %d died (%s) after %.1f s; starting another", pid, how, lived)
            last_failure = now
            if consecutive >= CRASH_LOOP:
                failure = f"{consecutive} workers in a row died before serving or right after (last: {cause}); stopping"
                stopping = True
                break
            delay = 0.0 if consecutive <= 1 else min(0.25 * 2 ** (consecutive - 2), 5.0)
            respawn_at.append((now + delay, dead.slot))
        if stopping:
            break
        due = [slot for t, slot in respawn_at if t <= now]
        if due:
            respawn_at = [(t, slot) for t, slot in respawn_at if t > now]
            for slot in due:
                start(slot)
        pipes = [w.pipe for w in workers.values()]
        with contextlib.suppress(InterruptedError, OSError, ValueError):
            select.select(pipes, [], [], 0.05)
    for sock in socks:
        sock.close()
    forward()  # (a worker started while the signal was handled)
    deadline = time.monotonic() + config.shutdown_timeout + 5
    while workers and time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid:
            if pid in workers:
                os.close(workers.pop(pid).pipe)
        else:
            time.sleep(0.02)
    for w in workers.values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(w.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(w.pid, 0)
        os.close(w.pipe)
    if failure is not None:
        logger.info("supervisor stopped")
        sys.stderr.write(f"error: {failure}\n")
        sys.stderr.flush()
        return 1
    logger.info("supervisor stopped")
    return 0


def _failure(w: Worker, how: str) -> tuple[str, str]:
    """(cause, traceback) a worker that failed before serving reported, else from its exit status."""
    if w.buf.startswith(b"F"):
        try:
            info = json.loads(bytes(w.buf[1:]))
            return str(info["cause"]), str(info["traceback"])
        except (ValueError, KeyError):
            pass
    return f"{how} before serving", ""
