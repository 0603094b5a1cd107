"""Type stubs for the native engine, fasterapi._core (C++, CPython C API)."""

import os
from collections.abc import Callable, Sequence
from typing import Any, final

from _typeshed import FileDescriptorLike
from typing_extensions import disjoint_base

from fasterapi.compiler import Plan

REQUIRED: object

def dumps(obj: Any, default: Callable[[Any], Any] | None = None) -> bytes: ...

@final
class RequestData:
    method: str
    path: str
    raw_path: bytes
    query_string: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes  # the whole body; b"" when body_reader streams it
    # engine.stream_bodies: a request with a body (Content-Length > 0 or chunked) bound for
    # app_handler reads it here as it arrives; None otherwise
    body_reader: BodyReader | None
    client: tuple[str, int] | None
    server: tuple[str, int] | None
    http_version: str
    scheme: str
    path_params: dict[str, str]
    __dict__: dict[str, Any]

_Handler = Callable[[RequestData], Any]
# A compiled route's plan: fasterapi.compiler.Plan (read by attribute name, validated by add_route).
_Plan = Plan

@final
class BodyReader:
    """A streamed request body (bridge/body_reader.cpp), RequestData.body_reader.

    Used on the loop thread. The engine buffers what arrives until take(); while 256 KiB or more
    is untaken the connection stops reading the socket (taking resumes it). Safe to keep after
    the connection is gone (it is then aborted, or done if the body had arrived).
    """

    # True once the whole body has arrived and every byte of it has been taken (take() then
    # returns b"" for good)
    done: bool
    # True once the body can no longer complete: the client went away or cut it short, it was
    # malformed or over the body limit (the connection then closes after the response), a body
    # deadline fired, or the response was finished before the body was read (the rest is read
    # and discarded, or the connection closes). Bytes received before that can still be taken.
    aborted: bool
    buffered: int  # bytes received and not yet taken
    # None or a callable, called once (then cleared) on the loop thread when more bytes arrive,
    # the body ends or it is aborted; set it after take() returned b"" with neither done nor aborted
    waiter: Callable[[], object] | None
    def take(self) -> bytes: ...  # every byte received and not yet taken (b"" if none)

@final
class Connection:
    pending: bool
    closed: bool
    waiter: Callable[[], None] | None
    def feed(self, data: bytes) -> None: ...
    def read(self) -> bytes: ...
    def eof(self) -> None: ...

@disjoint_base
class Engine:
    python_routing: bool
    # False by default. True: a request with a body bound for app_handler (no native route
    # matched, or python_routing) is handed over at head-complete with RequestData.body_reader
    stream_bodies: bool
    python_routing_headers: tuple[str, ...]  # with python_routing: only requests with one of these
    # header lines added to the JSON responses of compiled routes; set from [(name, value)] bytes pairs
    @property
    def compiled_headers(self) -> bytes: ...
    @compiled_headers.setter
    def compiled_headers(self, value: Sequence[tuple[bytes, bytes]]) -> None: ...
    # (client, method, target, HTTP version, status, X-Forwarded-For value or b"")
    access_log: Callable[[tuple[str, int], str, str, str, int, bytes], None] | None
    # WebSocket handshakes (a GET with Upgrade: websocket): None answers 403 (fasterapi._ws_server)
    websocket_handler: Callable[[RequestData, WebSocketLink], None] | None
    route_count: int
    max_body: int
    # None: coroutines stepped inline first; else callable(coro, done) running each as a task
    task_starter: Callable[[Any, Any], tuple[Any] | None] | None
    # with a task_starter: (get_running_loop or the engine's loop, enter_task, leave_task,
    # acquire_worker, release_worker, handoff[, asyncio's current-task dict]): the first step taken
    # by the engine as a parked worker task (_runtime.task_hooks)
    task_hooks: tuple[Any, ...] | None
    # the native pool and micro-batches (engine facilities; see docs/architecture.md)
    blocking_threads: int
    hub_fd: int
    def set_blocking(self, route_index: int) -> None: ...
    def set_batch(
        self,
        route: int,
        endpoint: Callable[..., Any],
        is_async: bool,
        validate: Callable[[bytes], Any],
        max_size: int,
        max_wait_ms: float,
        concurrency: int = 1,
        timeout_ms: float = 0,
        status: int = 200,
        item_response: Any = None,
    ) -> None: ...
    def batch_stats(self, route_index: int) -> dict[str, Any]: ...
    pool_stats: dict[str, int]
    def offload(self, call: Callable[[], Any], done: Callable[[Any, BaseException | None], Any]) -> None: ...
    # performance switches and counters (docs/performance.md)
    stats: dict[str, int]  # fast_path, python_path, request_data, static_hits, native_calls
    zero_copy_min: int
    pool_params: bool
    def __init__(
        self,
        app_handler: _Handler,
        response_type: type,
        json_default: Callable[[Any], Any] | None,
        error_handler: Callable[[RequestData, BaseException], Any],
        limits: dict[str, int] | None = None,
    ) -> None: ...
    def add_route(
        self,
        methods: Sequence[str],
        path: str,
        handler: _Handler,
        plan: _Plan | None = None,
        body_limit: int = -1,
        static: bool = False,
        native: NativeHandler | None = None,
        head: bool = True,  # False: a GET route does not answer HEAD (FastAPI's APIRoute)
    ) -> None: ...
    def match(self, method: str, path: str) -> tuple[int | str | None, dict[str, str]]: ...
    def connection(self, client: tuple[str, int] | None = ...) -> Connection: ...

@final
class StreamSink:
    """A streaming response's connection (bridge/stream.cpp), handed to Response._engine_stream.

    Called on the loop thread. The connection stays pending until close() or abort().
    """

    backlog: int  # bytes written and not yet sent
    closed: bool  # closed, aborted, or the client went away
    head_only: bool  # HEAD / 204 / 304: no body; close() at once
    remaining: int  # bytes the app's Content-Length still owes (-1: none declared; write() past it raises)
    def write(self, data: bytes | bytearray | memoryview) -> bool: ...  # False once the client is gone
    def close(self) -> None: ...  # the body is complete (last chunk)
    def abort(self) -> None: ...  # close the connection: the body truncated

@final
class WebSocketLink:
    """A WebSocket handshake's connection, handed to Engine.websocket_handler (bridge/websocket.cpp).

    Methods are called on the loop thread. The callbacks given to accept() are called with whole
    messages (str for text, bytes for binary; a truthy return stops reading until resume_reading()),
    once with (code, reason) when the WebSocket ends (1006: no close frame), and after
    notify_writable() once the output is flushed."""

    open: bool  # the connection is still there
    def accept(
        self,
        subprotocol: str | None,
        headers: Sequence[tuple[bytes, bytes]],
        on_message: Callable[[str | bytes], bool],
        on_close: Callable[[int, str], None],
        on_writable: Callable[[], None],
    ) -> bool: ...  # 101 Switching Protocols; False if the client is gone
    def reject(self, status: int, headers: Sequence[tuple[bytes, bytes]], body: bytes) -> bool: ...
    def send(self, data: str | bytes) -> int: ...  # bytes still unsent; ConnectionResetError once closed
    def close(self, code: int, reason: str) -> None: ...
    def resume_reading(self) -> None: ...
    def notify_writable(self) -> None: ...

@final
class NativeHandler:
    """A C ABI handler (include/fasterapi_native.h) loaded from a shared library."""

    library: str
    symbol: str
    release_gil: bool
    def __new__(cls, library: str | os.PathLike[str], symbol: str, release_gil: bool = False) -> NativeHandler: ...
    def __call__(
        self, req: RequestData, path_params: dict[str, str] | None = None
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]: ...

@final
class Completion:
    """done(task): the engine's continuation for a handler that awaited (internal)."""

    def __call__(self, task: Any) -> None: ...

# The bench build (CMake FASTERAPI_BENCH=ON, benchmarks/README.md) adds bench_connection,
# bench_parse, bench_route, bench_stages, bench_cpu, bench_allocs, bench_send and _fail_allocations;
# this stub describes the module users install, which has none of them.
def tls_available() -> bool: ...
def http2_available() -> bool: ...
def uring_unavailable() -> str: ...
def check_tls(
    certfile: str,
    keyfile: str | None = None,
    password: str | None = None,
    ca_certs: str | None = None,
    cert_reqs: int = 0,
    ciphers: str | None = None,
    http2: bool = True,
) -> None: ...
def metrics_create(workers: int, /) -> None: ...
def metrics_attach(worker: int, path: str, /) -> None: ...
def metrics_detach() -> None: ...
def metrics_restart() -> None: ...
def metrics_down(worker: int, /) -> None: ...
def metrics_render() -> bytes: ...
def set_default_headers(date: bool = True, server: bool = True) -> None: ...

@final
class Server:
    connections: int
    listening: bool
    stats: dict[str, int]
    tls: bool
    loop: str
    def __new__(cls, engine: Engine, config: dict[str, int] | None = None) -> Server: ...
    def set_tls(
        self,
        certfile: str,
        keyfile: str | None = None,
        password: str | None = None,
        ca_certs: str | None = None,
        cert_reqs: int = 0,
        ciphers: str | None = None,
        http2: bool = True,
    ) -> None: ...
    def listen(self, host: str, port: int, reuse_port: bool = True, backlog: int = 1024) -> int: ...
    def listen_fd(self, fd: FileDescriptorLike, /) -> int: ...
    def poll(self, timeout_ms: int = 0) -> int: ...
    def sweep(self) -> None: ...
    def begin_shutdown(self) -> None: ...
    def close_all(self) -> None: ...
    def fileno(self) -> int: ...
