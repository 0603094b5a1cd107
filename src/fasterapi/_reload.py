"""--reload: this process binds the socket once and watches files (watchfiles); the server runs in
a fresh child process (`python -m fasterapi` with the same arguments) that serves the inherited
socket, and is replaced by a new one when a watched file changes. Connections that arrive during a
restart wait in the socket's backlog instead of being refused.

Where watchfiles is not installed (it has no wheel for PyPy, and its sdist needs a Rust toolchain)
the reloader polls the files' modification times twice a second instead, as uvicorn's StatReload
does: the same include/exclude rules, slower to notice, no extra dependency."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from fnmatch import fnmatch
from typing import Any

from .server import Config, StartupError, _remove_uds, bind_socket

logger = logging.getLogger("fasterapi.server")

DEFAULT_INCLUDES = ["*.py"]
DEFAULT_EXCLUDES = [".*", ".py[cod]", ".sw.*", "~*"]


# Directories never worth watching (watchfiles' DefaultFilter skips the same kind).
IGNORED_DIRS = frozenset(
    {
        "__pycache__",
        ".git",
        ".hg",
        ".svn",
        ".tox",
        ".venv",
        "venv",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "node_modules",
        ".idea",
        "site-packages",
    }
)
POLL_INTERVAL = 0.5


def _wanted(includes: list[str] | None, excludes: list[str] | None) -> Callable[[str], bool]:
    """The --reload-include/--reload-exclude rule: is a change to this path a reason to reload?"""
    inc = DEFAULT_INCLUDES + list(includes or [])
    exc = [e for e in DEFAULT_EXCLUDES + list(excludes or []) if e not in (includes or [])]

    def wanted(path: str) -> bool:
        name = os.path.basename(path)
        if any(fnmatch(name, p) or fnmatch(path, p) for p in exc):
            return False
        return any(fnmatch(name, p) or fnmatch(path, p) for p in inc)

    return wanted


def _watchfiles_changes(dirs: list[str], wanted: Callable[[str], bool], stop: threading.Event) -> Iterator[set[str]]:
    import watchfiles

    class Filter(watchfiles.DefaultFilter):
        def __call__(self, change: Any, path: str) -> bool:
            return super().__call__(change, path) and wanted(path)

    for changes in watchfiles.watch(
        *dirs, watch_filter=Filter(), stop_event=stop, yield_on_timeout=True, rust_timeout=500, raise_interrupt=False
    ):
        yield {path for _, path in changes}


def _snapshot(dirs: list[str], wanted: Callable[[str], bool]) -> dict[str, tuple[int, int]]:
    """Every wanted file under `dirs` with its (mtime_ns, size)."""
    found: dict[str, tuple[int, int]] = {}
    for top in dirs:
        for root, subdirs, files in os.walk(top):
            subdirs[:] = [d for d in subdirs if d not in IGNORED_DIRS]
            for name in files:
                path = os.path.join(root, name)
                if not wanted(path):
                    continue
                try:
                    st = os.stat(path)
                except OSError:  # gone between the listing and the stat
                    continue
                found[path] = (st.st_mtime_ns, st.st_size)
    return found


def stat_changes(
    dirs: list[str], wanted: Callable[[str], bool], stop: threading.Event, interval: float = POLL_INTERVAL
) -> Iterator[set[str]]:
    """Polls the files' modification times: yields the paths created, changed or removed since the
    last poll (an empty set when nothing changed, so the caller sees `stop` at least each interval)."""
    before = _snapshot(dirs, wanted)
    while not stop.wait(interval):
        now = _snapshot(dirs, wanted)
        yield {p for p in before.keys() | now.keys() if before.get(p) != now.get(p)}
        before = now


def _watcher() -> Callable[[list[str], Callable[[str], bool], threading.Event], Iterator[set[str]]]:
    try:
        import watchfiles  # noqa: F401
    except ImportError:
        return stat_changes
    return _watchfiles_changes


def run_with_reload(
    argv: list[str], config: Config, dirs: list[str] | None, includes: list[str] | None, excludes: list[str] | None
) -> int:
    """Serve with `argv` (this command line) in a child process, restarted on changes; returns the
    exit code once SIGTERM/SIGINT stop it."""
    watch = _watcher()
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

    logger.info(
        "reloader %d watching %s%s",
        os.getpid(),
        ", ".join(watch_dirs),
        " (polling: watchfiles is not installed)" if watch is stat_changes else "",
    )
    child = start()
    try:
        for changes in watch(watch_dirs, _wanted(includes, excludes), stop):
            if stop.is_set():
                break
            if not changes:
                continue
            names = sorted({os.path.relpath(path) for path in changes})
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
