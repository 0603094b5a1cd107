"""A bare `_core.Server` on an asyncio loop in a thread of the test process, driven as
fasterapi.server drives one (the server's fd read by the loop, the deadline sweep as a task), for
tests that look inside the server while clients talk to it over real sockets: its stats, its
engine, the objects it holds. A subclass builds the server (`make_server`); the base runs it."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from fasterapi import _core, _runtime
from fasterapi.server import _sweep


class ThreadedServer:
    thread_name = "test-server"

    def __init__(self) -> None:
        self.port = 0
        self.server: Any = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("the server did not start")
        if self._error is not None:
            raise self._error

    def make_server(self) -> _core.Server:
        """The server, listening (self.port set); called on the loop's thread."""
        raise NotImplementedError

    async def drain(self, server: _core.Server) -> None:
        """Before the connections are closed at stop(): nothing by default."""

    def _run(self) -> None:
        loop = self.loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # noqa: BLE001 -- reported to the test thread
            self._error = exc
            self._ready.set()
        finally:
            loop.close()

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = self.server = self.make_server()
        loop.add_reader(server.fileno(), server.poll)
        sweeper = loop.create_task(_sweep(server))
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self.drain(server)
            server.close_all()
            sweeper.cancel()
            _runtime.close_workers(loop)
            loop.remove_reader(server.fileno())

    def stop(self) -> None:
        if self.loop is not None and self._stop is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
