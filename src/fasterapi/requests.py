"""`Request`: a lazy view over the engine's `_core.RequestData`.

Nothing is decoded until it is asked for: a handler that only reads `request.method` never builds
headers, URL or cookies. Also holds the body parsers (JSON, urlencoded and multipart forms),
which work on the complete body the engine has already read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import cookies as http_cookies
from typing import Any
from urllib.parse import unquote_plus

from ._connection import client_of, root_path_of, scheme_of, server_path_prefix
from .datastructures import URL, Address, FormData, Headers, QueryParams, State, make_upload_file


def cookie_parser(cookie_string: str) -> dict[str, str]:
    """Parse a Cookie header leniently, the way browsers send it (Starlette's behaviour)."""
    result: dict[str, str] = {}
    for chunk in cookie_string.split(";"):
        if "=" in chunk:
            key, val = chunk.split("=", 1)
        else:
            key, val = "", chunk
        key, val = key.strip(), val.strip()
        if key or val:
            result[key] = http_cookies._unquote(val)
    return result


def parse_options_header(value: str) -> tuple[str, dict[str, str]]:
    """`multipart/form-data; boundary=x` -> ("multipart/form-data", {"boundary": "x"})."""
    main, _, rest = value.partition(";")
    options: dict[str, str] = {}
    while rest:
        part, rest = _split_param(rest)
        key, sep, val = part.partition("=")
        key = key.strip().lower()
        if not sep or not key:
            continue
        val = val.strip()
        if len(val) >= 2 and val[0] == val[-1] == '"':
            val = val[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        options[key] = val
    return main.strip().lower(), options


def _split_param(text: str) -> tuple[str, str]:
    # Split at the first ';' that is not inside a quoted string.
    quoted = False
    escaped = False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == ";" and not quoted:
            return text[:i], text[i + 1 :]
    return text, ""


class MultiPartException(Exception):
    pass


_MAX_PART_SIZE = 1024 * 1024  # Starlette's default bound on one non-file field


def parse_multipart(
    body: bytes, boundary: str, max_files: int = 1000, max_fields: int = 1000, max_part_size: int = _MAX_PART_SIZE
) -> FormData:
    delimiter = b"--" + boundary.encode("latin-1")
    items: list[tuple[str, Any]] = []
    chunks = body.split(delimiter)
    if len(chunks) < 2:
        raise MultiPartException("Missing boundary in multipart.")
    files = fields = 0
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break  # closing delimiter
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        elif chunk.startswith(b"\n"):
            chunk = chunk[1:]
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            head, sep, content = chunk.partition(b"\n\n")
            if not sep:
                raise MultiPartException("Malformed multipart part.")
        if content.endswith(b"\r\n"):
            content = content[:-2]
        elif content.endswith(b"\n"):
            content = content[:-1]
        raw_headers: list[tuple[bytes, bytes]] = []
        for line in head.splitlines():
            name, _, value = line.partition(b":")
            raw_headers.append((name.strip().lower(), value.strip()))
        headers = Headers(raw=raw_headers)
        disposition, options = parse_options_header(headers.get("content-disposition", ""))
        if disposition != "form-data" or "name" not in options:
            raise MultiPartException('The Content-Disposition header field "name" must be provided.')
        name = options["name"]
        if "filename" in options or "filename*" in options:
            files += 1
            if files > max_files:
                raise MultiPartException(f"Too many files. Maximum number of files is {max_files}.")
            filename = options.get("filename")
            if filename is None:
                star = options["filename*"]
                from urllib.parse import unquote

                filename = unquote(star.split("''", 1)[-1])
            items.append((name, make_upload_file(content, filename, headers)))
        else:
            fields += 1
            if fields > max_fields:
                raise MultiPartException(f"Too many fields. Maximum number of fields is {max_fields}.")
            if len(content) > max_part_size:
                raise MultiPartException(f"Part exceeded maximum size of {int(max_part_size / 1024)}KB.")
            charset = parse_options_header(headers.get("content-type", ""))[1].get("charset", "utf-8")
            items.append((name, content.decode(charset, errors="replace")))
    return FormData(items)


def parse_urlencoded(body: bytes, max_fields: int = 1000, max_part_size: int = _MAX_PART_SIZE) -> FormData:
    """`a=1&b=2` with Starlette's limits: a field's raw name and value bytes, the number of fields."""
    items: list[tuple[str, Any]] = []
    for segment in body.split(b"&"):
        if not segment:
            continue
        name, _, value = segment.partition(b"=")
        if len(name) + len(value) > max_part_size:
            raise MultiPartException(f"Field exceeded maximum size of {int(max_part_size / 1024)}KB.")
        if len(items) >= max_fields:
            raise MultiPartException(f"Too many fields. Maximum number of fields is {max_fields}.")
        items.append((unquote_plus(name.decode("latin-1")), unquote_plus(value.decode("latin-1"))))
    return FormData(items)


def parse_form_body(
    content_type: str,
    body: bytes,
    *,
    max_files: int = 1000,
    max_fields: int = 1000,
    max_part_size: int = _MAX_PART_SIZE,
) -> FormData:
    main, options = parse_options_header(content_type)
    if main == "multipart/form-data":
        boundary = options.get("boundary")
        if not boundary:
            raise MultiPartException("Missing boundary in multipart.")
        return parse_multipart(body, boundary, max_files, max_fields, max_part_size)
    if main == "application/x-www-form-urlencoded":
        return parse_urlencoded(body, max_fields, max_part_size)
    return FormData()


class HTTPConnection(Mapping[str, Any]):
    """Base of Request: everything that does not need the body."""

    def __init__(self, data: Any, path_params: dict[str, str] | None = None, app: Any = None) -> None:
        scope = None
        if type(data) is dict:
            # Starlette's `Request(scope, receive)`, as pure ASGI middleware write it.
            from ._asgi_bridge import ScopeData

            scope, self._receive = data, path_params
            data = ScopeData(scope, None)  # type: ignore[arg-type]
            path_params = scope.get("path_params") or {}
            app = scope.get("app")
        self._data = data
        self._path_params = path_params if path_params is not None else data.path_params
        self._app = app
        self._headers: Headers | None = None
        self._query_params: QueryParams | None = None
        self._cookies: dict[str, str] | None = None
        self._url: URL | None = None
        self._state: State | None = None
        self._scope: dict[str, Any] | None = scope
        if scope is not None:
            self._state = State(scope.setdefault("state", {}))

    # Mapping interface over the ASGI-like scope, for code that does `request["path"]`.
    def __getitem__(self, key: str) -> Any:
        return self.scope[key]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.scope)

    def __len__(self) -> int:
        return len(self.scope)

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    @property
    def scope(self) -> dict[str, Any]:
        if self._scope is None:
            data = self._data
            self._scope = {
                "type": "http",
                "asgi": {"version": "3.0", "spec_version": "2.3"},
                "http_version": data.http_version,
                "method": data.method,
                "scheme": scheme_of(data),
                "path": data.path,
                "raw_path": data.raw_path,
                "query_string": data.query_string,
                "root_path": root_path_of(data, self._app),
                "headers": data.headers,
                "client": client_of(data),
                "server": data.server,
                "path_params": self._path_params,
                "app": self._app,
                "state": self.state._state,
            }
        return self._scope

    @property
    def app(self) -> Any:
        return self._app

    @property
    def method(self) -> str:
        return self._data.method

    @property
    def headers(self) -> Headers:
        if self._headers is None:
            self._headers = Headers(raw=self._data.headers)
        return self._headers

    @property
    def query_params(self) -> QueryParams:
        if self._query_params is None:
            self._query_params = QueryParams(self._data.query_string)
        return self._query_params

    @property
    def path_params(self) -> dict[str, Any]:
        return self._path_params

    @property
    def cookies(self) -> dict[str, str]:
        if self._cookies is None:
            cookie_header = self.headers.get("cookie")
            self._cookies = cookie_parser(cookie_header) if cookie_header else {}
        return self._cookies

    @property
    def client(self) -> Address | None:
        scope = self._scope
        client = scope.get("client") if scope is not None else client_of(self._data)
        return Address(*client) if client else None

    def _scope_value(self, key: str) -> str:
        """scope[key] for "scheme" / "root_path" / "app_root_path" without building the scope."""
        scope = self._scope
        if scope is not None:
            if key == "app_root_path":
                return scope.get("app_root_path", scope.get("root_path", "")) or ""
            return scope.get(key, "http" if key == "scheme" else "") or ""
        if key == "scheme":
            return scheme_of(self._data)
        if key == "app_root_path":
            outer = getattr(self._data, "app_root_path", None)  # a mounted app: the top app's root
            if outer is not None:
                return outer
        return root_path_of(self._data, self._app)

    @property
    def url(self) -> URL:
        if self._url is None:
            data = self._data
            scheme = self._scope_value("scheme")
            host = self.headers.get("host")
            if not host:
                server = data.server
                if server:
                    host = server[0] if server[1] in (80, 443) else f"{server[0]}:{server[1]}"
                else:
                    host = "testserver"
            # As Starlette: the path as received (a server's root path is part of it).
            raw_path = data.raw_path.decode("latin-1") if data.raw_path else data.path
            raw_path = server_path_prefix(raw_path) + raw_path  # the server's --root-path
            url = f"{scheme}://{host}{raw_path}"
            query = data.query_string
            if query:
                url += "?" + query.decode("latin-1")
            self._url = URL(url)
        return self._url

    @property
    def base_url(self) -> URL:
        # The top app's root path, also inside a mounted app (Starlette's app_root_path).
        url = self.url
        root = self._scope_value("app_root_path")
        return URL(f"{url.scheme}://{url.netloc}{root.rstrip('/')}/")

    @property
    def state(self) -> State:
        if self._state is None:
            # State yielded by the lifespan is copied into every request (Starlette behaviour).
            initial = getattr(self._app, "_lifespan_state", None)
            self._state = State(dict(initial) if initial else {})
        return self._state

    # Set by Starlette's SessionMiddleware / AuthenticationMiddleware (pure ASGI middleware).
    @property
    def session(self) -> dict[str, Any]:
        assert "session" in self.scope, "SessionMiddleware must be installed to access request.session"
        return self.scope["session"]  # type: ignore[no-any-return]

    @property
    def auth(self) -> Any:
        assert "auth" in self.scope, "AuthenticationMiddleware must be installed to access request.auth"
        return self.scope["auth"]

    @property
    def user(self) -> Any:
        assert "user" in self.scope, "AuthenticationMiddleware must be installed to access request.user"
        return self.scope["user"]

    def url_for(self, name: str, /, **path_params: Any) -> URL:
        if self._app is None:
            raise RuntimeError("request.url_for needs the request's app")
        # As Starlette's scope["router"]: the outermost app's routes, mounts included.
        app = getattr(self._data, "root_app", None) or self._app
        path = app.url_path_for(name, **path_params)
        return path.make_absolute_url(self.base_url)


class Request(HTTPConnection):
    """The current HTTP request (body already fully read by the engine)."""

    def __init__(self, data: Any, path_params: dict[str, str] | None = None, app: Any = None) -> None:
        super().__init__(data, path_params, app)
        # `_json` exists only once the body was parsed, as on Starlette's Request (libraries test
        # `hasattr(request, "_json")`).
        self._form: FormData | None = None

    @property
    def receive(self) -> Any:
        own = getattr(self, "_receive", None)
        if own is not None and self._data.body is None:
            return own  # a Request(scope, receive) whose body is still unread: read it from there
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": self._data.body, "more_body": False}

        return receive

    async def body(self) -> bytes:
        body = self._data.body
        if body is None:  # a Request(scope, receive): read through receive
            from ._asgi_bridge import read_body

            body = self._data.body = await read_body(self._receive)
        return body

    async def stream(self):  # type: ignore[no-untyped-def]
        body = await self.body()
        if body:
            yield body
        yield b""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json.loads(await self.body())
        return self._json

    async def form(self, *, max_files: int = 1000, max_fields: int = 1000) -> FormData:
        if self._form is None:
            content_type = self.headers.get("content-type", "")
            self._form = parse_form_body(content_type, await self.body())
        return self._form

    async def close(self) -> None:
        if self._form is not None:
            await self._form.close()

    async def is_disconnected(self) -> bool:
        return False

