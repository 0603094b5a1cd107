"""Serving an app: one worker in this process, or a supervisor with N worker processes.

Every byte on the socket is handled by the C++ engine (`_core.Server`); this module only owns
the process model: the listening socket (bound here, once, and shared by every worker), the
asyncio loop that the engine's epoll fd is registered with (so `async def` handlers and the
engine share one thread), signals, lifespan, draining and worker supervision (_supervisor.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import http
import logging
import os
import random
import signal
import socket
import stat
import struct
import sys
import sysconfig
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from . import _core, _runtime, _subinterp
from ._asgi_server import Lifespan, LifespanFailed, ScopeMaker
from ._connection import ProxyTrust
from ._engine import build_engine
from ._supervisor import supervise

logger = logging.getLogger("fasterapi.server")
access_logger = logging.getLogger("fasterapi.access")


LOOPS = ("auto", "epoll", "io_uring")


@dataclass
class Config:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # Socket loops per worker process, each on its own thread with its own asyncio loop: sharing a
    # free-threaded 3.13t interpreter, or each in its own sub-interpreter (3.12+, a GIL each) when
    # every extension module the app imports allows it; else N times as many worker processes,
    # with one line saying why (loop_threads_mode()).
    loop_threads: int = 1
    # The socket loop: "epoll", "io_uring" (Linux 6.0+ with liburing in the build; TLS servers stay
    # on epoll) or "auto" (io_uring when the kernel allows it, else epoll). Not uvicorn's --loop
    # (asyncio/uvloop): the asyncio loop that runs handlers is the same either way.
    loop: str = "auto"
    # How the app is imported ("module:attr", the --app-dir, --factory): what a sub-interpreter
    # needs to import it again (the CLI sets it; None: loop threads only on a free-threaded build)
    app_ref: str | None = None
    app_dir: str = "."
    app_factory: bool = False
    access_log: bool = False
    # async handlers: False (default) runs each as an asyncio task from its first step (anyio,
    # asyncio.timeout and httpx.AsyncClient need one); True steps it inline first and makes a task
    # only if it really awaits (faster, but no current task before the first real await).
    inline_async: bool = False
    # plain `def` endpoints/dependencies of compiled routes called inline on the loop thread instead
    # of FastAPI's thread pool (faster; a blocking def stalls the worker)
    def_inline: bool = False
    backlog: int = 1024
    # Where to listen instead of host:port: a unix socket path (bound here), or the number of a
    # socket already bound that this process inherited (systemd socket activation, --fd).
    uds: str | None = None
    fd: int | None = None
    # A worker that served this many requests stops gracefully and the supervisor starts another
    # (each worker's limit gets up to 10% of jitter, so they do not recycle together); 0: never.
    limit_max_requests: int = 0
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
    # TLS at the app, as uvicorn's --ssl-* (docs/deployment.md "TLS at the app"): PEM files;
    # ssl_cert_reqs as Python's ssl.CERT_NONE/OPTIONAL/REQUIRED (0/1/2) for client certificates
    # checked against ssl_ca_certs; ssl_ciphers an OpenSSL cipher list (TLS 1.2; None: OpenSSL's).
    # SIGHUP reloads the files: new connections get the new certificate, open ones keep theirs.
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_keyfile_password: str | None = None
    ssl_ca_certs: str | None = None
    ssl_cert_reqs: int = 0
    ssl_ciphers: str | None = None
    # Prometheus metrics counted by the engine (server/metrics.hpp) and answered at this path by
    # the engine itself, before the app's routes; None: off (nothing is counted).
    metrics_path: str | None = None
    # The Date and Server lines of every response head (uvicorn's --no-date-header/--no-server-header)
    date_header: bool = True
    server_header: bool = True
    # HTTP/2 (docs/usage.md "HTTP/2"): "auto" serves HTTP/1.1 and HTTP/2 (h2 by ALPN over TLS, h2c by
    # prior knowledge or Upgrade: h2c); "h1" HTTP/1.1 only (uvicorn's --http h11/httptools mean this).
    http: str = "auto"
    h2_max_concurrent_streams: int = 100
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        """Operator mistakes, found before anything starts (StartupError with exit code 2)."""
        if self.workers < 1:
            raise StartupError(f"--workers must be at least 1 (got {self.workers})", 2)
        if self.loop_threads < 1:
            raise StartupError(f"--loop-threads must be at least 1 (got {self.loop_threads})", 2)
        if self.loop not in LOOPS:
            raise StartupError(f"--loop must be one of {', '.join(LOOPS)} (got {self.loop!r})", 2)
        if self.uds is None and self.fd is None and not 0 <= self.port <= 65535:
            raise StartupError(f"--port must be within 0..65535 (got {self.port})", 2)
        if self.limit_max_requests < 0:
            raise StartupError(f"--limit-max-requests must be 0 or more (got {self.limit_max_requests})", 2)
        if self.backlog < 1:
            raise StartupError(f"--backlog must be at least 1 (got {self.backlog})", 2)
        if self.uds is not None and self.fd is not None:
            raise StartupError("--uds and --fd are exclusive", 2)
        if self.http not in ("auto", "h1"):
            raise StartupError(f"--http must be auto or h1 (got {self.http!r})", 2)
        if self.h2_max_concurrent_streams < 1:
            raise StartupError(
                f"--h2-max-concurrent-streams must be at least 1 (got {self.h2_max_concurrent_streams})", 2
            )
        if self.metrics_path is not None and (not self.metrics_path.startswith("/") or "?" in self.metrics_path):
            raise StartupError(f"--metrics-path must be a path starting with '/' (got {self.metrics_path!r})", 2)
        self.check_tls()
        if self.loop == "io_uring":
            why = _core.uring_unavailable()
            if why:
                raise StartupError(f"--loop io_uring: {why}", 1)
            if self.tls:
                logger.warning("--loop io_uring: TLS connections are served by the epoll loop; this server uses epoll")

    @property
    def tls(self) -> bool:
        return self.ssl_certfile is not None

    def tls_options(self) -> dict[str, Any]:
        """The keyword arguments of _core.Server.set_tls() / _core.check_tls()."""
        return {
            "certfile": self.ssl_certfile,
            "keyfile": self.ssl_keyfile,
            "password": self.ssl_keyfile_password,
            "ca_certs": self.ssl_ca_certs,
            "cert_reqs": self.ssl_cert_reqs,
            "ciphers": self.ssl_ciphers,
            "http2": self.http != "h1",
        }

    def check_tls(self) -> None:
        """Loads the --ssl-* files once, before any worker starts: a bad file or password is one
        line and exit code 2 here, not a worker failing at its start."""
        if not self.tls:
            if self.ssl_keyfile is not None or self.ssl_ca_certs is not None:
                raise StartupError("--ssl-keyfile and --ssl-ca-certs need --ssl-certfile", 2)
            return
        try:
            _core.check_tls(**self.tls_options())
        except (ValueError, RuntimeError) as exc:
            raise StartupError(str(exc), 2) from None

    def check_app(self, app: Any) -> None:
        """The metrics path is answered before the app's routes: an app route at that very path
        would never be reached, so it is refused (StartupError with exit code 2)."""
        if self.metrics_path is None:
            return
        for route in getattr(app, "routes", ()):
            if getattr(route, "path", None) == self.metrics_path:
                raise StartupError(
                    f"--metrics-path {self.metrics_path}: the app has a route at this path "
                    "(the engine answers it first); choose another path",
                    2,
                )

    def where(self) -> str:
        if self.uds is not None:
            return f"unix:{self.uds}"
        if self.fd is not None:
            return f"fd {self.fd}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

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

    def loop_backend(self) -> str:
        """The socket loop this configuration runs on: "epoll" or "io_uring"."""
        if self.loop == "epoll" or self.tls:
            return "epoll"
        if self.loop == "io_uring":
            return "io_uring"
        return "epoll" if _core.uring_unavailable() else "io_uring"

    def server_config(self) -> dict[str, int]:
        return {
            "io_uring": int(self.loop_backend() == "io_uring"),
            "max_connections": self.max_connections,
            "header_timeout_ms": int(self.header_timeout * 1000),
            "keepalive_timeout_ms": int(self.keepalive_timeout * 1000),
            "body_timeout_ms": int(self.body_timeout * 1000),
            "body_min_rate": self.body_min_rate,
            "write_timeout_ms": int(self.write_timeout * 1000),
            "http2": int(self.http != "h1"),
            "h2_max_concurrent_streams": self.h2_max_concurrent_streams,
        }


class StartupError(Exception):
    """The server cannot start: one line for the operator, and the process's exit code (2: a
    mistake in the command line or the app reference; 1: the environment, e.g. the port is taken)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def cause_of(exc: BaseException) -> str:
    """One line for why a worker could not start."""
    if isinstance(exc, LifespanFailed):
        # Starlette's failure message is the whole traceback: its last line names the error
        lines = [line for line in str(exc).splitlines() if line.strip()]
        return f"lifespan startup failed: {lines[-1].strip() if lines else 'no message'}"
    if isinstance(exc, (StartupError, _subinterp.LoopFailed)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def access_logger_for(trust: ProxyTrust | None) -> Callable[..., None]:
    """The engine's access-log hook, in uvicorn's format: `client - "GET / HTTP/1.1" 200 OK`, the
    client taken from X-Forwarded-For when the peer is a trusted proxy (as the ASGI scope's)."""

    def log(
        client: tuple[str, int], method: str, target: str, version: str, status: int, forwarded_for: bytes = b""
    ) -> None:
        host, port = client
        if forwarded_for and trust is not None and host in trust:
            real = trust.client_host(forwarded_for.decode("latin-1"))
            if real is not None:
                host, port = real, 0
        access_logger.info(
            '%s:%d - "%s %s HTTP/%s" %d %s', host, port, method, target, version, status, _phrase(status)
        )

    return log


# ---- the listening socket ---------------------------------------------------------------------


def bind_socket(config: Config) -> socket.socket:
    """The listening socket of `config`: bound here without SO_REUSEPORT, so a port (or unix socket)
    that another process serves is "address already in use", never a port silently shared. Workers
    inherit it (fork) and accept on it. Raises StartupError."""
    if config.fd is not None:
        return _adopt_fd(config.fd, config.backlog)
    if config.uds is not None:
        return _bind_unix(config.uds, config.backlog)
    try:
        infos = socket.getaddrinfo(
            config.host or None, config.port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise StartupError(f"unknown host {config.host!r}: {exc.strerror}", 2) from None
    last: OSError | None = None
    for family, kind, proto, _name, addr in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT only, on Linux
            sock.bind(addr)
            sock.listen(config.backlog)
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                raise StartupError(f"cannot listen on {config.where()}: address already in use") from None
            last = exc
            continue
        sock.set_inheritable(True)
        return sock
    why = last.strerror if last is not None and last.strerror else str(last)
    raise StartupError(f"cannot listen on {config.where()}: {why}")


def bind_sockets(config: Config, n: int) -> list[socket.socket]:
    """The listening sockets of a supervisor with `n` workers. On TCP, one SO_REUSEPORT socket per
    worker (the kernel spreads new connections over them evenly; one shared socket would wake every
    worker and the busiest one, first awake, would take most), bound after a first bind without
    SO_REUSEPORT proved the port free, and with a BPF program that steers connections to these n
    sockets only: a process that joins the port later with SO_REUSEPORT gets none. A unix socket
    or --fd: one socket, shared."""
    first = bind_socket(config)
    if n == 1 or first.family not in (socket.AF_INET, socket.AF_INET6) or config.fd is not None:
        return [first]
    address = first.getsockname()
    family = first.family
    first.close()
    socks: list[socket.socket] = []
    try:
        for _ in range(n):
            sock = socket.socket(family, socket.SOCK_STREAM)
            socks.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(address)
            sock.listen(config.backlog)
            sock.set_inheritable(True)
        _steer(socks[0], n)
    except OSError as exc:
        for sock in socks:
            sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(f"cannot listen on {config.where()}: address already in use") from None
        raise StartupError(f"cannot listen on {config.where()}: {exc.strerror or exc}") from None
    return socks


SO_ATTACH_REUSEPORT_CBPF = 51


def _steer(sock: socket.socket, n: int) -> None:
    """Attach `A = random() % n; return A` to the port's SO_REUSEPORT group: each new connection goes
    to one of its first n sockets (ours), never to one a later process added."""

    import ctypes  # here: a sub-interpreter that imports this module never needs it

    code = [
        (0x20, 0, 0, (-0x1000 + 56) & 0xFFFFFFFF),  # ld [SKF_AD_OFF + SKF_AD_RANDOM]
        (0x94, 0, 0, n),  # mod #n
        (0x16, 0, 0, 0),  # ret a
    ]
    program = ctypes.create_string_buffer(b"".join(struct.pack("=HBBI", *ins) for ins in code))
    fprog = struct.pack("@HP", len(code), ctypes.addressof(program))
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, fprog)
    except OSError as exc:  # an old kernel: the default hash spreads over every socket of the group
        logger.warning(
            "cannot attach the SO_REUSEPORT steering program (%s): another process that binds "
            "this port with SO_REUSEPORT would share its connections",
            exc.strerror or exc,
        )


def _bind_unix(path: str, backlog: int) -> socket.socket:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None:
        if not stat.S_ISSOCK(mode):
            raise StartupError(f"cannot listen on unix:{path}: the path exists and is not a socket")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(path)
            except OSError:
                os.unlink(path)  # a socket file nobody listens on (a server that was killed)
            else:
                raise StartupError(f"cannot listen on unix:{path}: address already in use")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        os.chmod(path, 0o666)  # as uvicorn: the proxy in front usually runs as another user
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(f"cannot listen on unix:{path}: address already in use") from None
        raise StartupError(f"cannot listen on unix:{path}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def _adopt_fd(fd: int, backlog: int) -> socket.socket:
    try:
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        raise StartupError(f"--fd {fd}: not a socket ({exc.strerror or exc})") from None
    if sock.type != socket.SOCK_STREAM:
        sock.detach()
        raise StartupError(f"--fd {fd}: not a stream socket")
    try:
        sock.listen(backlog)  # systemd passes it listening already; a bound one starts here
    except OSError as exc:
        sock.detach()
        raise StartupError(f"--fd {fd}: cannot listen: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def describe_socket(sock: socket.socket, tls: bool = False) -> tuple[str, tuple[str, int] | None]:
    """(a URL for the startup line, the ASGI scope's "server" address) of a listening socket."""
    scheme = "https" if tls else "http"
    name = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        path = name if isinstance(name, str) else name.decode(errors="replace")
        return f"{scheme}://unix:{path}", None
    host, port = name[0], name[1]
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}", (host, port)


def _reload_tls(server: Any, config: Config) -> None:
    """SIGHUP: load the --ssl-* files again for new connections (open ones keep theirs). A file
    that fails to load now keeps the previous certificate, with one error line."""
    try:
        server.set_tls(**config.tls_options())
    except (ValueError, RuntimeError) as exc:
        logger.error("SIGHUP: TLS files not reloaded, still serving the previous certificate: %s", exc)
    else:
        logger.info("SIGHUP: TLS certificate reloaded (pid %d)", os.getpid())


# ---- one worker -------------------------------------------------------------------------------


async def serve(
    app: Any,
    config: Config,
    *,
    ready: Callable[[int], None] | None = None,
    sock: socket.socket | None = None,
    on_retire: Callable[[], None] | None = None,
    metrics_slot: int = 0,
    stop_fd: int | None = None,
    label: str = "",
) -> None:
    """Serve `app` on this thread's running asyncio loop until SIGTERM/SIGINT (or `stop()`).

    `sock`: the listening socket to accept on (the supervisor's, shared by its workers); None:
    bind one from `config` here. `on_retire`: called once --limit-max-requests is reached (the
    worker then drains and returns as on SIGTERM). `metrics_slot`: this worker's slot of the metrics
    region (the supervisor's; a region of one slot is made here when there is none). `stop_fd`: a
    pipe whose read end turning readable stops this loop as SIGTERM does (loop threads: signals
    reach the main thread only). `label`: added to the startup line ("loop thread 2/4")."""
    loop = asyncio.get_running_loop()
    server: Any = None
    stop = asyncio.Event()
    own_sock = sock is None
    if sock is None:
        sock = bind_socket(config)
    listening = sock

    def on_signal() -> None:
        stop.set()
        # stop accepting right here, one loop iteration before the drain below
        if server is not None and server.listening:
            server.begin_shutdown()
        listening.close()  # this process's reference: new connections go to the other workers

    if stop_fd is None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, on_signal)
    else:

        def on_stop_fd() -> None:
            loop.remove_reader(stop_fd)  # the byte stays: every loop of the process sees it
            on_signal()

        loop.add_reader(stop_fd, on_stop_fd)
    try:
        async with Lifespan(app) as lifespan:
            # The engine is built once startup is done (uvicorn serves the app only then): routes the
            # lifespan added or rebuilt (`route.app = ...`, fastapi-pagination) are compiled as they are.
            scope_maker = config.scope_maker(lifespan.state)
            engine, handler, _reports = build_engine(app, scope_maker, config.limits(), config.def_inline)
            log: Callable[..., None] | None = access_logger_for(scope_maker.trust) if config.access_log else None
            if config.limit_max_requests > 0:

                def retire() -> None:
                    if on_retire is not None:
                        on_retire()
                    on_signal()

                log = _request_counter(config.limit_max_requests, log, retire)
            if log is not None:
                engine.access_log = log
            if not config.inline_async:
                # Each async handler runs in an asyncio task from its first step, as under uvicorn.
                engine.task_starter = _runtime.start_task
                # (its first step taken by the engine, as a worker of this loop: the engine's only one)
                engine.task_hooks = _runtime.task_hooks(asyncio.get_running_loop())
            if stop.is_set():  # SIGTERM during the startup: shut down without serving
                return
            _core.set_default_headers(date=config.date_header, server=config.server_header)
            if config.metrics_path is not None:
                _core.metrics_attach(metrics_slot, config.metrics_path)
            server = _core.Server(engine, config.server_config())
            if config.tls:
                server.set_tls(**config.tls_options())
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # main thread only
                    loop.add_signal_handler(signal.SIGHUP, _reload_tls, server, config)
            port = server.listen_fd(sock)
            url, scope_maker.server = describe_socket(sock, config.tls)
            loop.add_reader(server.fileno(), server.poll)
            sweeper = loop.create_task(_sweep(server))
            logger.info("FasterAPI running on %s (pid %d%s)", url, os.getpid(), label)
            if ready is not None:
                ready(port)
            try:
                await stop.wait()
            finally:
                # Drain: stop accepting at once, let in-flight requests finish, close idle keep-alives.
                server.begin_shutdown()
                listening.close()
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
                if config.metrics_path is not None:
                    _core.metrics_detach()
                if stop_fd is not None:
                    loop.remove_reader(stop_fd)
    finally:
        if stop_fd is None:
            # Before the loop closes its self-pipe: a signal in between would be written to a closed
            # wakeup fd and print a traceback (the supervisor signals workers that failed to start).
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.remove_signal_handler(sig)
        if own_sock:
            listening.close()
            _remove_uds(config)
    logger.info("worker %d stopped%s", os.getpid(), label)


def _request_counter(limit: int, log: Callable[..., None] | None, retire: Callable[[], Any]) -> Callable[..., None]:
    """An access-log hook that counts responses and retires the worker at `limit` (plus jitter)."""
    limit += random.randint(0, limit // 10)
    count = 0

    def counted(*args: Any) -> None:
        nonlocal count
        if log is not None:
            log(*args)
        count += 1
        if count == limit:
            logger.info("worker %d served %d requests (--limit-max-requests): restarting it", os.getpid(), count)
            asyncio.get_running_loop().call_soon(retire)

    return counted


def _remove_uds(config: Config) -> None:
    if config.uds is not None:
        with contextlib.suppress(OSError):
            os.unlink(config.uds)


async def _sweep(server: Any) -> None:
    while True:
        await asyncio.sleep(0.1)
        server.sweep()


def _new_loop() -> asyncio.AbstractEventLoop:
    return asyncio.new_event_loop()


def run_worker(app: Any, config: Config, sock: socket.socket | None = None, **kw: Any) -> None:
    loop = _new_loop()
    try:
        loop.run_until_complete(serve(app, config, sock=sock, **kw))
    finally:
        loop.close()


def free_threaded() -> bool:
    """This CPython is a free-threaded build (3.13t) and the GIL is off (an extension module that
    does not declare Py_mod_gil turns it back on at import, as PYTHON_GIL=1 does)."""
    is_gil_enabled = getattr(sys, "_is_gil_enabled", None)
    return is_gil_enabled is not None and not is_gil_enabled()


def loop_threads_unavailable(config: Config | None = None) -> str | None:
    """Why --loop-threads N cannot run N socket loops in this process with this Python (None: it
    can: free-threaded, or sub-interpreters, see loop_threads_mode()). The engine itself can: its
    loops share no mutable state (docs/architecture.md)."""
    if config is not None and config.metrics_path is not None:
        return "--metrics-path counts per worker process"
    if sys.implementation.name != "cpython":
        return f"{sys.implementation.name} has one GIL per process: loop threads need CPython 3.12+"
    if free_threaded():
        return None
    if sysconfig_free_threaded():
        return (
            "the GIL is on in this free-threaded build (PYTHON_GIL=1, or an extension module "
            "without free-threading support enabled it at import)"
        )
    if sys.version_info < (3, 12):
        return (
            f"Python {sys.version_info.major}.{sys.version_info.minor} has one GIL per process: loop threads "
            "need Python 3.12+ (sub-interpreters with their own GIL) or a free-threaded 3.13t build"
        )
    if config is not None and config.app_ref is None:
        return "sub-interpreters import the app by its reference (fasterapi run module:app), none given"
    return None


def sysconfig_free_threaded() -> bool:
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def loop_threads_mode(config: Config) -> str:
    """How config.loop_threads > 1 loops run here: "threads" (free-threaded: one interpreter, no
    GIL), "interpreters" (3.12+: loop 0 in this interpreter, each other one in a sub-interpreter
    with its own GIL), or "processes" (the fallback, with one line saying why)."""
    why = loop_threads_unavailable(config)
    if why is None and free_threaded():
        return "threads"
    if why is None:
        why = _subinterp.probe(config)
        if why is None:
            return "interpreters"
    _warn_fallback(config, why)
    return "processes"


def _warn_fallback(config: Config, reason: str) -> None:
    workers = config.workers * config.loop_threads
    logger.warning("--loop-threads %d: %s; running %d worker processes instead", config.loop_threads, reason, workers)


def _loop_threads_fallback(config: Config, reason: str | None = None) -> Config:
    reason = reason or loop_threads_unavailable(config) or "loop threads not used"
    _warn_fallback(config, reason)
    return dataclasses.replace(config, workers=config.workers * config.loop_threads, loop_threads=1)


def run_loops(
    app: Any,
    config: Config,
    sock: socket.socket | list[socket.socket] | None = None,
    *,
    ready: Callable[[int], None] | None = None,
    on_retire: Callable[[], None] | None = None,
    metrics_slot: int = 0,
) -> None:
    """config.loop_threads socket loops in this process, each on its own thread with its own asyncio
    loop and engine (route tables and plans are built per loop; the app object is shared), loop k
    on socks[k % len(socks)]. In "interpreters" mode (config.extra["loop_mode"]) loops 1.. run in
    sub-interpreters (fasterapi._subinterp). The main thread only waits: SIGTERM/SIGINT write a byte
    to a pipe every loop watches, and each drains as a worker does. A loop that fails stops the
    others; its exception is raised here once all have stopped."""
    n = config.loop_threads
    socks = sock if isinstance(sock, list) else [sock if sock is not None else bind_socket(config)]
    interpreters = config.extra.get("loop_mode") == "interpreters"
    r, w = os.pipe()
    lock = threading.Lock()
    up = 0
    expected = 1 if interpreters else n  # (a sub-interpreter's loop does not report back)
    failures: list[BaseException] = []

    def stop_all() -> None:
        with contextlib.suppress(OSError):
            os.write(w, b"x")

    def one_ready(port: int) -> None:
        nonlocal up
        with lock:
            up += 1
            last = up == expected
        if last and ready is not None:
            ready(port)

    def retire() -> None:
        if on_retire is not None:
            on_retire()
        stop_all()

    def loop_body(k: int) -> None:
        own = socks[k % len(socks)].dup()  # each loop closes its own at its drain
        try:
            label = f", loop thread {k + 1}/{n}"
            if interpreters and k > 0:
                _subinterp.run_loop(config, own.fileno(), r, label)
            else:
                run_worker(
                    app,
                    config,
                    own,
                    ready=one_ready,
                    on_retire=retire,
                    metrics_slot=metrics_slot,
                    stop_fd=r,
                    label=label,
                )
        except BaseException as exc:  # noqa: BLE001 - raised in the main thread below
            failures.append(exc)
            stop_all()
        finally:
            own.close()

    previous = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError):  # not the main thread: the caller stops us
            previous[sig] = signal.signal(sig, lambda *_: stop_all())
    threads = [threading.Thread(target=loop_body, args=(k,), name=f"fasterapi-loop-{k + 1}") for k in range(n)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.2)
    finally:
        stop_all()
        for t in threads:
            t.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        os.close(r)
        os.close(w)
    if failures:
        raise failures[0]


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
            logger.warning(
                "RLIMIT_NOFILE is %d: fewer than --max-connections %d connections fit (raise it with ulimit -n)",
                soft,
                config.max_connections,
            )


def _run_worker_or_loops(app: Any, config: Config, sock: socket.socket | None = None, **kw: Any) -> None:
    if config.loop_threads > 1:
        run_loops(app, config, sock, **kw)
    else:
        run_worker(app, config, sock, **kw)


class _SupervisorHooks:
    """This module as the supervisor's ServerHooks (fasterapi._supervisor never imports it)."""

    run_worker = staticmethod(_run_worker_or_loops)
    cause_of = staticmethod(cause_of)
    describe_socket = staticmethod(describe_socket)


def run(app: Any, host: str = "127.0.0.1", port: int = 8000, *, workers: int = 1, **options: Any) -> None:
    """Serve `app` (the entry point behind `app.run()` and `fasterapi run`). A server that cannot
    start exits (SystemExit) after one line on stderr: code 2 for a mistake in the options, 1 for
    the environment (the port is taken) or an app that fails before it serves."""
    known = {f for f in Config.__dataclass_fields__}
    unknown = set(options) - known
    if unknown:
        raise TypeError(f"unknown server options: {', '.join(sorted(unknown))}")
    config = Config(host=host, port=port, workers=workers, **options)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s", stream=sys.stderr)
    try:
        config.validate()
        config.check_app(app)
        if config.http != "h1" and not _core.http2_available():
            logger.info("HTTP/1.1 only: this build has no HTTP/2 (nghttp2 >= 1.52 was not found when it was built)")
        if config.loop_threads > 1:
            mode = loop_threads_mode(config)
            if mode == "processes":
                config = dataclasses.replace(config, workers=config.workers * config.loop_threads, loop_threads=1)
            else:
                config = dataclasses.replace(config, extra={**config.extra, "loop_mode": mode})
                how = "free-threaded, no GIL" if mode == "threads" else "sub-interpreters, a GIL each"
                where = "one process" if config.workers == 1 else f"each of {config.workers} worker processes"
                logger.info("%d loop threads in %s (%s)", config.loop_threads, where, how)
        _raise_nofile(config)
        # one SO_REUSEPORT socket per loop: the kernel spreads connections over them
        supervised = config.workers > 1 or config.limit_max_requests > 0
        socks = bind_sockets(config, config.workers if supervised else config.loop_threads)
    except StartupError as exc:
        exit_with(exc)
    try:
        if config.workers > 1 or config.limit_max_requests > 0:
            code = supervise(app, config, socks, _SupervisorHooks())
            if code:
                raise SystemExit(code)
        else:
            try:
                if config.loop_threads > 1:
                    run_loops(app, config, socks)
                else:
                    run_worker(app, config, socks[0])
            except (LifespanFailed, _subinterp.LoopFailed) as exc:
                exit_with(StartupError(cause_of(exc)))
    finally:
        for sock in socks:
            sock.close()
        _remove_uds(config)


def exit_with(exc: StartupError) -> NoReturn:
    """One line on stderr, then the exit code."""
    sys.stdout.flush()
    sys.stderr.write(f"error: {exc}\n")
    sys.stderr.flush()
    raise SystemExit(exc.code)
