"""What the HTTP bytes of a request do not carry: the URL scheme, the root path, proxy trust.

An ASGI server puts these in the scope (`scheme`, `root_path`, `client`). The engine parses raw
HTTP/1.1, so whoever feeds it says them here instead: the TestClient (`base_url="https://..."`,
`root_path=`), the ASGI adapter (the caller's scope) and the server (`--root-path`,
`--proxy-headers` / `--forwarded-allow-ips`, as uvicorn's proxy headers middleware). They set
`CURRENT` around the engine call; handlers, and the tasks they start, run in that context.

Nothing is read unless a request asks for its scheme, URL, root path or client, so routes that
never look (and the native fast path) pay nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ConnectionScope:
    scheme: str = "http"
    root_path: str = ""
    # The server's `--root-path` (uvicorn): paths are presented as root_path + path, so request.url
    # and redirects carry the prefix a stripping proxy removed. A TestClient's root_path does not.
    prefix_path: bool = False
    # Proxy headers (X-Forwarded-Proto / X-Forwarded-For) are honoured from these clients only;
    # None: proxy headers are ignored.
    forwarded_allow: ProxyTrust | None = None


class ProxyTrust:
    """uvicorn's `--forwarded-allow-ips`: literal hosts, networks (CIDR) or "*" (any client)."""

    def __init__(self, allowed: str | Iterable[str]) -> None:
        items = [allowed] if isinstance(allowed, str) else list(allowed)
        hosts: list[str] = []
        for item in items:
            hosts.extend(part.strip() for part in item.split(","))
        self.always = "*" in hosts
        self.literals: set[str] = set()
        self.networks: list[Any] = []
        for host in hosts:
            if not host or host == "*":
                continue
            try:
                self.networks.append(ipaddress.ip_network(host, strict=False))
            except ValueError:
                self.literals.add(host)  # unix socket paths, names

    def __contains__(self, host: str | None) -> bool:
        if self.always:
            return True
        if host is None:
            return False
        if host in self.literals:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in net for net in self.networks)

    def client_host(self, forwarded_for: str) -> str | None:
        """The first untrusted host from the right of X-Forwarded-For (uvicorn's rule)."""
        hosts = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        if not hosts:
            return None
        if self.always:
            return hosts[0]
        for host in reversed(hosts):
            if host not in self:
                return host
        return hosts[0]


CURRENT: ContextVar[ConnectionScope | None] = ContextVar("fasterapi_connection", default=None)


def _header(data: Any, name: bytes) -> str | None:
    for key, value in data.headers:
        if key == name:
            return value.decode("latin-1")
    return None


def _trusted(data: Any, conn: ConnectionScope) -> bool:
    trust = conn.forwarded_allow
    if trust is None:
        return False
    client = data.client
    return (client[0] if client else None) in trust


def scheme_of(data: Any) -> str:
    """The request's URL scheme ("http" or "https")."""
    own = getattr(data, "url_scheme", None)  # a Request built from an ASGI scope
    if own is not None:
        return own
    conn = CURRENT.get()
    if conn is None:
        return data.scheme
    if conn.forwarded_allow is not None and _trusted(data, conn):
        proto = _header(data, b"x-forwarded-proto")
        if proto:
            proto = proto.split(",")[-1].strip().lower()
            if proto in ("http", "https", "ws", "wss"):
                return {"ws": "http", "wss": "https"}.get(proto, proto)
    return conn.scheme


def client_of(data: Any) -> tuple[str, int] | None:
    """(host, port) of the client; a trusted proxy's X-Forwarded-For replaces it (port 0)."""
    client = data.client
    conn = CURRENT.get()
    if conn is None or conn.forwarded_allow is None or getattr(data, "url_scheme", None) is not None:
        return client
    if _trusted(data, conn):
        forwarded = _header(data, b"x-forwarded-for")
        if forwarded:
            host = conn.forwarded_allow.client_host(forwarded)
            if host is not None:
                return (host, 0)
    return client


def root_path_of(data: Any, app: Any) -> str:
    """scope["root_path"]: a mount's prefix, else the app's `root_path=`, else the server's."""
    own = getattr(data, "root_path", None)  # mounted apps and Requests built from a scope
    if own is not None:
        return own
    app_root = getattr(app, "root_path", "") if app is not None else ""
    if app_root:
        return app_root
    conn = CURRENT.get()
    return conn.root_path if conn is not None else ""


def connection_root_path() -> str:
    conn = CURRENT.get()
    return conn.root_path if conn is not None else ""


def server_path_prefix(path: str = "") -> str:
    """The server's --root-path when `path` (as received) does not already start with it."""
    conn = CURRENT.get()
    if conn is None or not conn.prefix_path or not conn.root_path:
        return ""
    root = conn.root_path
    if path == root or path.startswith(root + "/"):
        return ""
    return root
