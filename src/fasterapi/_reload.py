"""--reload: this process binds the socket once and watches files (watchfiles); the server runs in
a fresh child process (`python -m fasterapi` with the same arguments) that serves the inherited
socket, and is replaced by a new one when a watched file changes. Connections that arrive during a
restart wait in the socket's backlog instead of being refused."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
from fnmatch import fnmatch
from typing import Any

from .server import Config, StartupError, _remove_uds, bind_socket

logger = logging.getLogger("fasterapi.server")

DEFAULT_INCLUDES = ["*.py"]
DEFAULT_EXCLUDES = [".*", ".py[cod]", ".sw.*", "~*"]


def _filter(includes: list[str] | None, excludes: list[str] | None) -> Any:
    import watchfiles

    inc = DEFAULT_INCLUDES + list(includes or [])
    exc = [e for e in DEFAULT_EXCLUDES + list(excludes or []) if e not in (includes or [])]

    class Filter(watchfiles.DefaultFilter):
        def __call__(self, change: Any, path: str) -> bool:
            if not super().__call__(change, path):
                return False
            name = os.path.basename(path)
            if any(fnmatch(name, p) or fnmatch(path, p) for p in exc):
                return False
            return any(fnmatch(name, p) or fnmatch(path, p) for p in inc)

    return Filter()


def run_with_reload(argv: list[str], config: Config, dirs: list[str] | None, includes: list[str] | None,
                    excludes: list[str] | None) -> int:
    """Serve with `argv` (this command line) in a child process, restarted on changes; returns the
    exit code once SIGTERM/SIGINT stop it."""
    try:
        import watchfiles
    except ImportError:
        raise StartupError("--reload needs watchfiles (pip install watchfiles)", 2) from None
    if config.workers > 1:
        logger.warning("--reload runs one worker (--workers %d ignored)", config.workers)
    watch_dirs = [os.path.abspath(d) for d in (dirs or ["."])]
    for d in watch_dirs:
        if not os.path.isdir(d):
            raise StartupError(f"--reload-dir {d}: not a directory", 2)
    sock = bind_socket(config)
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    env = dict(os.environ)
    env["FASTERAPI_RELOAD_FD"] = str(sock.fileno())
    cmd = [sys.executable, "-m", "fasterapi", *argv]

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(cmd, env=env, pass_fds=(sock.fileno(),))

    def finish(child: subprocess.Popen[bytes]) -> None:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(config.shutdown_timeout + 5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    logger.info("reloader %d watching %s", os.getpid(), ", ".join(watch_dirs))
    child = start()
    try:
        for changes in watchfiles.watch(*watch_dirs, watch_filter=_filter(includes, excludes), stop_event=stop,
                                        yield_on_timeout=True, rust_timeout=500, raise_interrupt=False):
            if stop.is_set():
                break
            if not changes:
                continue
            names = sorted({os.path.relpath(path) for _, path in changes})
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            logger.warning("changes in %s: reloading", shown)
            finish(child)
            child = start()
    finally:
        finish(child)
        with contextlib.suppress(OSError):
            sock.close()
        _remove_uds(config)
    logger.info("reloader stopped")
    return 0
