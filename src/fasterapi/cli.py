"""`fasterapi run module:app` (also `python -m fasterapi run ...`)."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import Any

from .server import Config, run


def import_app(ref: str) -> Any:
    """Import `module:attr` from the current directory, as uvicorn does."""
    module_name, _, attr = ref.partition(":")
    if not module_name or not attr:
        raise SystemExit(f"error: expected 'module:attribute', got {ref!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SystemExit(f"error: cannot import module {module_name!r}: {exc}") from exc
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise SystemExit(f"error: attribute {attr!r} not found in module {module_name!r}") from None
    return obj


def build_parser() -> argparse.ArgumentParser:
    d = Config()
    p = argparse.ArgumentParser(prog="fasterapi", description="FasterAPI: FastAPI's model on a C++ engine")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="serve an application")
    r.add_argument("app", help="module:attribute, e.g. app:app")
    r.add_argument("--host", default=d.host)
    r.add_argument("--port", type=int, default=d.port)
    r.add_argument("--workers", type=int, default=d.workers, help="worker processes (SO_REUSEPORT)")
    r.add_argument("--loop-threads", type=int, default=d.loop_threads,
                   help="socket loops per worker, one thread and interpreter each (needs Python 3.12+ or 3.13t; "
                        "else more worker processes)")
    r.add_argument("--access-log", action="store_true", help="log every request (off by default)")
    r.add_argument("--def-inline", action="store_true",
                   help="call plain def endpoints and dependencies of compiled routes on the loop thread instead of "
                        "FastAPI's thread pool (faster; only for defs that never block)")
    r.add_argument("--inline-async", action="store_true",
                   help="step async handlers inline until they first await (faster; no current asyncio task "
                        "before that, so anyio/asyncio.timeout/httpx.AsyncClient there fail)")
    r.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    r.add_argument("--max-body", type=int, default=None,
                   help="request body limit in bytes (413 above; 1 GiB: bodies stream in bounded memory)")
    r.add_argument("--max-request-line", type=int, default=None, help="bytes (414 above; 8 KiB)")
    r.add_argument("--max-head", type=int, default=None, help="bytes of a whole request head (431 above; 16 KiB)")
    r.add_argument("--max-headers", type=int, default=None, help="header fields (431 above; 100, at most 128)")
    r.add_argument("--max-pipelined", type=int, default=None, help="requests buffered behind a pending one (64)")
    r.add_argument("--output-high-water", type=int, default=None, help="unsent bytes that pause reading (1 MiB)")
    r.add_argument("--max-connections", type=int, default=d.max_connections, help="beyond: 503 and close")
    r.add_argument("--backlog", type=int, default=d.backlog)
    r.add_argument("--header-timeout", type=float, default=d.header_timeout, help="seconds for a whole head")
    r.add_argument("--keepalive-timeout", type=float, default=d.keepalive_timeout)
    r.add_argument("--body-timeout", type=float, default=d.body_timeout,
                   help="seconds, plus 1 s per --body-min-rate bytes")
    r.add_argument("--body-min-rate", type=int, default=d.body_min_rate, help="bytes/second a body must keep up")
    r.add_argument("--write-timeout", type=float, default=d.write_timeout)
    r.add_argument("--shutdown-timeout", type=float, default=d.shutdown_timeout, help="drain deadline")
    r.add_argument("--root-path", default=d.root_path,
                   help="the path prefix a proxy strips (scope['root_path'], the OpenAPI server URL)")
    r.add_argument("--proxy-headers", action=argparse.BooleanOptionalAction, default=d.proxy_headers,
                   help="take the scheme and client from X-Forwarded-Proto / X-Forwarded-For of trusted proxies")
    r.add_argument("--forwarded-allow-ips", default=d.forwarded_allow_ips,
                   help="trusted proxies: comma-separated IPs or networks, or '*' "
                        "(default: $FORWARDED_ALLOW_IPS or 127.0.0.1)")
    rt = sub.add_parser("routes", help="list an app's routes: compiled to a native plan, or why not")
    rt.add_argument("app", help="module:attribute, e.g. app:app")
    rt.add_argument("--root-path", default=d.root_path)
    return p


def show_routes(app: Any, root_path: str = "") -> int:
    """Each route's methods, path and whether the engine compiled it (else the reason)."""
    from ._asgi_server import ScopeMaker, build_engine

    _engine, _handler, reports = build_engine(app, ScopeMaker(root_path))
    compiled = sum(r.compiled for r in reports)
    for r in reports:
        methods = ",".join(r.methods) or "-"
        status = "compiled" if r.compiled else f"ASGI: {r.reason}"
        print(f"{methods:<12} {r.path:<40} {status}")
    print(f"{compiled} of {len(reports)} routes compiled")
    return 0


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, getattr(args, "log_level", "info").upper()),
        format="%(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    app = import_app(args.app)
    if args.command == "routes":
        raise SystemExit(show_routes(app, args.root_path))
    run(
        app,
        args.host,
        args.port,
        workers=args.workers,
        loop_threads=args.loop_threads,
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
    )


if __name__ == "__main__":
    main()
