"""The command line: `fasterapi run`, `fasterapi dev`, `fasterapi routes` (also `python -m fasterapi`).

Option names and meanings follow uvicorn's (and `fastapi run`/`fastapi dev`'s for finding the app):
`fasterapi run main:app`, `fasterapi run main.py`, `fasterapi dev` (main.py, app.py, ... found).
A mistake in the command line or the app reference is one line on stderr and exit code 2; a
server that cannot start (the port is taken, the app fails in its startup) one line and code 1.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import logging.config
import os
import sys
import traceback
from pathlib import Path
from typing import Any, NoReturn

from ._asgi_server import ScopeMaker
from ._engine import build_engine
from ._reload import run_with_reload
from .server import LOOPS, Config, StartupError, exit_with, run

RELOAD_FD_ENV = "FASTERAPI_RELOAD_FD"  # set by the reloader for the server process it runs
METRICS_PATH_ENV = "FASTERAPI_METRICS_PATH"  # the default of --metrics-path
DEFAULT_PATHS = ("main.py", "app.py", "api.py", "app/main.py", "app/app.py", "app/api.py")


# ---- finding the app ----------------------------------------------------------------------------


def _import_module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise StartupError(f"cannot import module {name!r}: no module named {exc.name!r}", 2) from None
        traceback.print_exc()
        raise StartupError(f"importing {name!r} failed: {exc}") from None
    except SyntaxError as exc:
        where = f"{exc.filename}, line {exc.lineno}" if exc.filename else name
        raise StartupError(f"syntax error in {where}: {exc.msg}", 2) from None
    except Exception as exc:  # the app's own code raised: its traceback, then the one line
        traceback.print_exc()
        raise StartupError(f"importing {name!r} failed: {type(exc).__name__}: {exc}") from None


def _module_of_path(path: Path) -> str:
    """The module name of a file or package path; its root directory goes first on sys.path."""
    path = path.resolve()
    if path.is_dir():
        if not (path / "__init__.py").is_file():
            raise StartupError(f"{path} is a directory without __init__.py (give a .py file or a package)", 2)
        parts = [path.name]
        directory = path.parent
    else:
        parts = [] if path.stem == "__init__" else [path.stem]
        directory = path.parent
    while (directory / "__init__.py").is_file():
        parts.insert(0, directory.name)
        directory = directory.parent
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
    return ".".join(parts)


def _find_app(module: Any, where: str) -> str:
    """`fastapi`'s rule: an attribute named app or api, else the module's single FastAPI instance."""
    from fastapi import FastAPI  # here: a sub-interpreter imports this module without FastAPI

    for name in ("app", "api"):
        if isinstance(getattr(module, name, None), FastAPI):
            return name
    found: list[str] = [k for k, v in vars(module).items() if isinstance(v, FastAPI)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise StartupError(
            f"no FastAPI app in {where} (looked for 'app', 'api' or a FastAPI instance; name it: {where}:NAME)", 2
        )
    raise StartupError(f"several FastAPI apps in {where} ({', '.join(found)}): name one: {where}:NAME", 2)


def import_app(ref: str | None, *, app_dir: str = ".", factory: bool = False) -> Any:
    """The app of `module:attr` (uvicorn's form, imported from --app-dir), or of a path to a file or
    package, optionally `path:attr` (`fastapi run`'s form), or of the first of main.py, app.py, ...
    Raises StartupError (code 2: the reference is wrong; 1: the app's code raised)."""
    if ref is None:
        for candidate in DEFAULT_PATHS:
            if Path(candidate).is_file():
                ref = candidate
                break
        else:
            raise StartupError(f"no app given and none of {', '.join(DEFAULT_PATHS)} here", 2)
    target, _, attr = ref.partition(":")
    if target.endswith(".py") or os.sep in target or Path(target).is_dir() and not attr:
        if not Path(target).exists():
            raise StartupError(f"{target}: no such file or directory", 2)
        module_name = _module_of_path(Path(target))
    else:
        module_name = target
        if not module_name or not attr:
            raise StartupError(f"expected 'module:attribute' or a path to a .py file, got {ref!r}", 2)
        directory = os.path.abspath(app_dir)
        if directory not in sys.path:
            sys.path.insert(0, directory)
    module = _import_module(module_name)
    if not attr:
        attr = _find_app(module, target)
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise StartupError(f"attribute {attr!r} not found in module {module_name!r}", 2) from None
    if factory:
        if not callable(obj):
            raise StartupError(f"--factory: {module_name}:{attr} is not callable", 2)
        try:
            obj = obj()
        except Exception as exc:
            traceback.print_exc()
            raise StartupError(f"--factory: {module_name}:{attr}() failed: {type(exc).__name__}: {exc}") from None
    if not callable(obj):
        raise StartupError(f"{module_name}:{attr} is not an ASGI app (a {type(obj).__name__})", 2)
    return obj


# ---- environment and logging ----------------------------------------------------------------------


def load_env_file(path: str) -> None:
    """--env-file: KEY=VALUE lines into os.environ (python-dotenv when installed, as uvicorn)."""
    if not os.path.isfile(path):
        raise StartupError(f"--env-file {path}: no such file", 2)
    try:
        from dotenv import load_dotenv  # type: ignore[import-not-found]
    except ImportError:
        _load_env_simple(path)
    else:
        load_dotenv(path, override=True)


def _load_env_simple(path: str) -> None:
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, _, value = line.removeprefix("export ").partition("=")
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            os.environ[key.strip()] = value


def apply_log_config(path: str) -> None:
    """--log-config: a dictConfig in JSON or YAML, or a fileConfig .ini (uvicorn's rules). Our own
    loggers stay enabled under dictConfig's default disable_existing_loggers (configure them by
    name, `fasterapi.access`, `fasterapi.server`, `fasterapi.error`, to change their level or handlers)."""
    if not os.path.isfile(path):
        raise StartupError(f"--log-config {path}: no such file", 2)
    try:
        if path.endswith(".json"):
            with open(path, encoding="utf-8") as f:
                logging.config.dictConfig(json.load(f))
        elif path.endswith((".yaml", ".yml")):
            try:
                import yaml  # type: ignore[import-untyped,unused-ignore]
            except ImportError:
                raise StartupError(f"--log-config {path}: YAML needs PyYAML (pip install pyyaml)", 2) from None
            with open(path, encoding="utf-8") as f:
                logging.config.dictConfig(yaml.safe_load(f))
        else:
            logging.config.fileConfig(path, disable_existing_loggers=False)
    except StartupError:
        raise
    except Exception as exc:
        raise StartupError(f"--log-config {path}: {type(exc).__name__}: {exc}", 2) from None
    for name, item in logging.root.manager.loggerDict.items():
        if (name == "fasterapi" or name.startswith("fasterapi.")) and isinstance(item, logging.Logger):
            item.disabled = False


# ---- the parser ----------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not the whole usage
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        raise SystemExit(2)


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is out of range (0..65535)")
    return port


def _at_least(low: int) -> Any:
    def check(value: str) -> int:
        try:
            n = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None
        if n < low:
            raise argparse.ArgumentTypeError(f"must be at least {low} (got {n})")
        return n

    return check


def _serve_options(r: argparse.ArgumentParser, d: Config, *, dev: bool) -> None:
    r.add_argument(
        "app",
        nargs="?",
        default=None,
        help="module:attribute (app:app), or a path to a .py file or package, optionally path:attribute "
        "(the app is its 'app', 'api' or single FastAPI instance); default: the first of " + ", ".join(DEFAULT_PATHS),
    )
    g = r.add_argument_group("app")
    g.add_argument("--factory", action="store_true", help="the attribute is a function that returns the app")
    g.add_argument("--app-dir", default=".", help="where to import module:attribute from (default: .)")
    g.add_argument("--env-file", default=None, help="KEY=VALUE lines to add to the environment first")
    g.add_argument(
        "--root-path",
        default=d.root_path,
        help="the path prefix a proxy strips (scope['root_path'], the OpenAPI server URL)",
    )
    g = r.add_argument_group("socket")
    g.add_argument("--host", default=d.host, help=f"bind to this address (default: {d.host})")
    g.add_argument("--port", type=_port, default=d.port, help=f"bind to this port (default: {d.port}; 0: any free)")
    g.add_argument("--uds", default=None, help="bind to this unix socket path instead")
    g.add_argument(
        "--fd",
        type=_at_least(0),
        default=None,
        help="serve the socket of this inherited file descriptor instead (systemd socket activation)",
    )
    g.add_argument("--backlog", type=_at_least(1), default=d.backlog)
    g = r.add_argument_group("workers")
    g.add_argument(
        "--workers",
        type=_at_least(1),
        default=d.workers,
        help="worker processes, sharing the socket the supervisor binds (default: 1)",
    )
    g.add_argument(
        "--loop-threads",
        type=_at_least(1),
        default=d.loop_threads,
        help="socket loops per worker process, a thread each: on free-threaded CPython 3.13t threads of one "
        "interpreter (no GIL); on CPython 3.12+ each loop but the first in a sub-interpreter with its own GIL, if "
        "every extension module the app imports allows it (pydantic-core, so FastAPI, does not); else (3.11, PyPy, "
        "--metrics-path) N times the worker processes, with one line saying why",
    )
    g.add_argument(
        "--loop",
        choices=list(LOOPS),
        default=os.environ.get("FASTERAPI_LOOP") or d.loop,
        help="the socket loop: io_uring (Linux 6.0+), epoll, or auto: io_uring when the kernel allows it "
        "(default: $FASTERAPI_LOOP or auto; not uvicorn's asyncio/uvloop: see docs/usage.md)",
    )
    g.add_argument(
        "--limit-max-requests",
        type=_at_least(0),
        default=d.limit_max_requests,
        help="restart a worker gracefully after this many requests (with up to 10%% jitter; 0: never)",
    )
    g.add_argument(
        "--def-inline",
        action="store_true",
        help="call plain def endpoints and dependencies of compiled routes on the loop thread instead of "
        "FastAPI's thread pool (faster; only for defs that never block)",
    )
    g.add_argument(
        "--inline-async",
        action="store_true",
        help="step async handlers inline until they first await (faster; no current asyncio task "
        "before that, so anyio/asyncio.timeout/httpx.AsyncClient there fail)",
    )
    g = r.add_argument_group("reload")
    g.add_argument(
        "--reload",
        action=argparse.BooleanOptionalAction,
        default=dev,
        help="restart the server when files change (watchfiles)" + (" (default: on)" if dev else ""),
    )
    g.add_argument("--reload-dir", action="append", default=None, help="directory to watch (default: the current)")
    g.add_argument("--reload-include", action="append", default=None, help="glob of files to watch (default: *.py)")
    g.add_argument(
        "--reload-exclude",
        action="append",
        default=None,
        help="glob of files to ignore (default: .*, .py[cod], .sw.*, ~*)",
    )
    g = r.add_argument_group("logging")
    g.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    g.add_argument("--log-config", default=None, help="logging configuration: .json or .yaml (dictConfig), else .ini")
    g.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="log every request, as uvicorn (default: off)",
    )
    g = r.add_argument_group("metrics and headers")
    g.add_argument(
        "--metrics-path",
        default=os.environ.get(METRICS_PATH_ENV) or None,
        help="answer GET at this path with Prometheus metrics counted by the engine (per route and "
        "worker, summed over the workers; answered before the app's routes; default: "
        f"${METRICS_PATH_ENV}, else off)",
    )
    g.add_argument(
        "--server-header",
        action=argparse.BooleanOptionalAction,
        default=d.server_header,
        help="send 'server: fasterapi' with every response (default: on)",
    )
    g.add_argument(
        "--date-header",
        action=argparse.BooleanOptionalAction,
        default=d.date_header,
        help="send a Date header with every response (default: on)",
    )
    g = r.add_argument_group("limits")
    g.add_argument(
        "--max-body",
        type=int,
        default=None,
        help="request body limit in bytes (413 above; 1 GiB: bodies stream in bounded memory)",
    )
    g.add_argument("--max-request-line", type=int, default=None, help="bytes (414 above; 8 KiB)")
    g.add_argument("--max-head", type=int, default=None, help="bytes of a whole request head (431 above; 16 KiB)")
    g.add_argument("--max-headers", type=int, default=None, help="header fields (431 above; 100, at most 128)")
    g.add_argument("--max-pipelined", type=int, default=None, help="requests buffered behind a pending one (64)")
    g.add_argument("--output-high-water", type=int, default=None, help="unsent bytes that pause reading (1 MiB)")
    g.add_argument(
        "--max-connections",
        "--limit-concurrency",
        type=_at_least(1),
        default=d.max_connections,
        help="beyond: 503 and close",
    )
    g = r.add_argument_group("timeouts (seconds)")
    g.add_argument("--header-timeout", type=float, default=d.header_timeout, help="for a whole request head")
    g.add_argument("--keepalive-timeout", "--timeout-keep-alive", type=float, default=d.keepalive_timeout)
    g.add_argument(
        "--body-timeout", type=float, default=d.body_timeout, help="for a body, plus 1 s per --body-min-rate bytes"
    )
    g.add_argument("--body-min-rate", type=int, default=d.body_min_rate, help="bytes/second a body must keep up")
    g.add_argument("--write-timeout", type=float, default=d.write_timeout)
    g.add_argument(
        "--shutdown-timeout",
        "--timeout-graceful-shutdown",
        type=float,
        default=d.shutdown_timeout,
        help="drain deadline after SIGTERM",
    )
    g = r.add_argument_group("behind a proxy")
    g.add_argument(
        "--proxy-headers",
        action=argparse.BooleanOptionalAction,
        default=d.proxy_headers,
        help="take the scheme and client from X-Forwarded-Proto / X-Forwarded-For of trusted proxies",
    )
    g.add_argument(
        "--forwarded-allow-ips",
        default=d.forwarded_allow_ips,
        help="trusted proxies: comma-separated IPs or networks, or '*' (default: $FORWARDED_ALLOW_IPS or 127.0.0.1)",
    )
    g = r.add_argument_group("TLS (as uvicorn; SIGHUP reloads the files)")
    g.add_argument("--ssl-certfile", default=None, help="PEM certificate chain: serve HTTPS")
    g.add_argument("--ssl-keyfile", default=None, help="PEM private key (default: in the certfile)")
    g.add_argument("--ssl-keyfile-password", default=None, help="the private key's password")
    g.add_argument("--ssl-ca-certs", default=None, help="PEM CA certificates that client certificates must chain to")
    g.add_argument(
        "--ssl-cert-reqs",
        type=int,
        choices=[0, 1, 2],
        default=d.ssl_cert_reqs,
        help="client certificates: 0 none, 1 optional, 2 required (ssl.CERT_*; default: 0)",
    )
    g.add_argument("--ssl-ciphers", default=None, help="OpenSSL cipher list for TLS 1.2 (default: OpenSSL's)")
    g = r.add_argument_group("protocols")
    g.add_argument(
        "--http",
        default=d.http,
        type=lambda v: "h1" if v in ("h11", "httptools") else v,
        choices=["auto", "h1"],
        help="auto: HTTP/1.1 and HTTP/2 (h2 by ALPN, h2c by prior knowledge or Upgrade); h1: HTTP/1.1 only "
        "(uvicorn's h11/httptools mean h1)",
    )
    g.add_argument(
        "--h2-max-concurrent-streams",
        type=int,
        default=d.h2_max_concurrent_streams,
        help="HTTP/2 streams open at once per connection (SETTINGS_MAX_CONCURRENT_STREAMS)",
    )


def build_parser() -> argparse.ArgumentParser:
    d = Config()
    p = _Parser(prog="fasterapi", description="FasterAPI: FastAPI's model on a C++ engine")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _serve_options(sub.add_parser("run", help="serve an application"), d, dev=False)
    _serve_options(
        sub.add_parser("dev", help="serve an application for development: --reload on, 127.0.0.1"), d, dev=True
    )
    rt = sub.add_parser("routes", help="list an app's routes: compiled to a native plan, or why not")
    rt.add_argument("app", nargs="?", default=None, help="module:attribute, or a path as for run")
    rt.add_argument("--app-dir", default=".")
    rt.add_argument("--factory", action="store_true")
    rt.add_argument("--root-path", default=d.root_path)
    return p


def show_routes(app: Any, root_path: str = "") -> int:
    """Each route's methods, path and whether the engine compiled it (else the reason)."""
    _engine, _handler, reports = build_engine(app, ScopeMaker(root_path))
    compiled = sum(r.compiled for r in reports)
    for r in reports:
        methods = ",".join(r.methods) or "-"
        status = f"compiled: {r.writer}" if r.compiled else f"ASGI: {r.reason}"
        print(f"{methods:<12} {r.path:<40} {status}")
    print(f"{compiled} of {len(reports)} routes compiled")
    return 0


def _config_options(args: argparse.Namespace) -> dict[str, Any]:
    return dict(
        workers=args.workers,
        loop_threads=args.loop_threads,
        loop=args.loop,
        app_ref=getattr(args, "app", None) or "",  # "": found again as import_app(None) finds it
        app_dir=getattr(args, "app_dir", "."),
        app_factory=getattr(args, "factory", False),
        access_log=args.access_log,
        inline_async=args.inline_async,
        def_inline=args.def_inline,
        max_body=args.max_body,
        max_request_line=args.max_request_line,
        max_head=args.max_head,
        max_headers=args.max_headers,
        max_pipelined=args.max_pipelined,
        output_high_water=args.output_high_water,
        max_connections=args.max_connections,
        backlog=args.backlog,
        header_timeout=args.header_timeout,
        keepalive_timeout=args.keepalive_timeout,
        body_timeout=args.body_timeout,
        body_min_rate=args.body_min_rate,
        write_timeout=args.write_timeout,
        shutdown_timeout=args.shutdown_timeout,
        root_path=args.root_path,
        proxy_headers=args.proxy_headers,
        forwarded_allow_ips=args.forwarded_allow_ips,
        uds=args.uds,
        fd=args.fd,
        limit_max_requests=args.limit_max_requests,
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
        ssl_keyfile_password=args.ssl_keyfile_password,
        ssl_ca_certs=args.ssl_ca_certs,
        ssl_cert_reqs=args.ssl_cert_reqs,
        ssl_ciphers=args.ssl_ciphers,
        metrics_path=args.metrics_path,
        server_header=args.server_header,
        date_header=args.date_header,
        http=args.http,
        h2_max_concurrent_streams=args.h2_max_concurrent_streams,
    )


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    log_config = getattr(args, "log_config", None)
    try:
        if getattr(args, "env_file", None):
            load_env_file(args.env_file)
        if log_config:
            apply_log_config(log_config)
        else:
            logging.basicConfig(
                level=getattr(logging, getattr(args, "log_level", "info").upper()),
                format="%(levelname)s: %(message)s",
                stream=sys.stderr,
            )
        if args.command == "routes":
            app = import_app(args.app, app_dir=args.app_dir, factory=args.factory)
            raise SystemExit(show_routes(app, args.root_path))
        reload_fd = os.environ.pop(RELOAD_FD_ENV, None)
        if reload_fd is not None:  # the server process under the reloader: its socket is inherited
            args.reload, args.fd, args.uds, args.workers = False, int(reload_fd), None, 1
        if args.reload:
            config = Config(host=args.host, port=args.port, **_config_options(args))
            config.validate()
            raise SystemExit(run_with_reload(argv, config, args.reload_dir, args.reload_include, args.reload_exclude))
        app = import_app(args.app, app_dir=args.app_dir, factory=args.factory)
    except StartupError as exc:
        exit_with(exc)
    run(app, args.host, args.port, **_config_options(args))


if __name__ == "__main__":
    main()
