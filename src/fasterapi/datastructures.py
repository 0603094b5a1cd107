"""Request/response data structures with Starlette-compatible behaviour.

Everything here is built lazily from the engine's raw data (`list[tuple[bytes, bytes]]` headers,
raw query strings) so that a request that never looks at its headers never pays for decoding them.
"""

from __future__ import annotations

import tempfile
from collections.abc import ItemsView, Iterator, KeysView, Mapping, Sequence, ValuesView
from typing import Any, Generic, NamedTuple, TypeVar
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit

from pydantic_core import core_schema

from .concurrency import run_in_threadpool

_T = TypeVar("_T")


class Address(NamedTuple):
    host: str
    port: int


# --------------------------------------------------------------------------------------------- URL


class URL:
    """An immutable URL with Starlette's accessors (`path`, `query`, `replace()`, `include_query_params()`)."""

    __slots__ = ("_url", "_parts")

    def __init__(self, url: str = "", scope: Mapping[str, Any] | None = None, **components: Any) -> None:
        if scope is not None:
            scheme = scope.get("scheme", "http")
            server = scope.get("server")
            path = scope.get("root_path", "") + scope["path"]
            query = scope.get("query_string", b"")
            if isinstance(query, bytes):
                query = query.decode("latin-1")
            host = None
            for key, value in scope.get("headers", ()):
                if key == b"host":
                    host = value.decode("latin-1")
                    break
            if host:
                url = f"{scheme}://{host}{path}"
            elif server:
                h, p = server
                default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(scheme)
                url = f"{scheme}://{h}{path}" if p == default else f"{scheme}://{h}:{p}{path}"
            else:
                url = path
            if query:
                url += "?" + query
        elif components:
            url = URL("").replace(**components)._url
        self._url = str(url)
        self._parts = None

    @property
    def components(self):
        if self._parts is None:
            self._parts = urlsplit(self._url)
        return self._parts

    @property
    def scheme(self) -> str:
        return self.components.scheme

    @property
    def netloc(self) -> str:
        return self.components.netloc

    @property
    def path(self) -> str:
        return self.components.path

    @property
    def query(self) -> str:
        return self.components.query

    @property
    def fragment(self) -> str:
        return self.components.fragment

    @property
    def username(self) -> str | None:
        return self.components.username

    @property
    def password(self) -> str | None:
        return self.components.password

    @property
    def hostname(self) -> str | None:
        return self.components.hostname

    @property
    def port(self) -> int | None:
        return self.components.port

    @property
    def is_secure(self) -> bool:
        return self.scheme in ("https", "wss")

    def replace(self, **kwargs: Any) -> URL:
        if any(k in kwargs for k in ("username", "password", "hostname", "port")):
            hostname = kwargs.pop("hostname", None)
            port = kwargs.pop("port", self.port)
            username = kwargs.pop("username", self.username)
            password = kwargs.pop("password", self.password)
            if hostname is None:
                netloc = self.netloc
                _, _, hostname = netloc.rpartition("@")
                if hostname and hostname[-1] != "]":
                    hostname = hostname.rsplit(":", 1)[0]
            netloc = hostname
            if port is not None:
                netloc += f":{port}"
            if username is not None:
                userpass = username
                if password is not None:
                    userpass += f":{password}"
                netloc = f"{userpass}@{netloc}"
            kwargs["netloc"] = netloc
        return URL(self.components._replace(**kwargs).geturl())

    def include_query_params(self, **kwargs: Any) -> URL:
        params = MultiDict(parse_qsl(self.query, keep_blank_values=True))
        params.update({str(k): str(v) for k, v in kwargs.items()})
        return self.replace(query=urlencode(params.multi_items()))

    def replace_query_params(self, **kwargs: Any) -> URL:
        return self.replace(query=urlencode([(str(k), str(v)) for k, v in kwargs.items()]))

    def remove_query_params(self, keys: str | Sequence[str]) -> URL:
        if isinstance(keys, str):
            keys = [keys]
        params = MultiDict(parse_qsl(self.query, keep_blank_values=True))
        for key in keys:
            params.pop(key, None)
        return self.replace(query=urlencode(params.multi_items()))

    def __eq__(self, other: Any) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(self._url)

    def __str__(self) -> str:
        return self._url

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self._url!r})"


class URLPath(str):
    """A path returned by `url_path_for`; `make_absolute_url(base_url)` joins it with a base."""

    def __new__(cls, path: str, protocol: str = "", host: str = "") -> URLPath:
        return str.__new__(cls, path)

    def __init__(self, path: str, protocol: str = "", host: str = "") -> None:
        self.protocol = protocol
        self.host = host

    def make_absolute_url(self, base_url: str | URL) -> URL:
        base = base_url if isinstance(base_url, URL) else URL(base_url)
        return URL(scheme=base.scheme, netloc=base.netloc, path=base.path.rstrip("/") + str(self))


# ----------------------------------------------------------------------------------------- MultiDict


class ImmutableMultiDict(Mapping[str, _T], Generic[_T]):
    """An ordered multi-dict: `d[key]` is the LAST value (Starlette semantics), `getlist` all of them."""

    __slots__ = ("_list", "_dict")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        value: Any = args[0] if args else []
        if kwargs:
            value = list(ImmutableMultiDict(value).multi_items()) + list(kwargs.items())
        if isinstance(value, ImmutableMultiDict):
            items = value.multi_items()
        elif isinstance(value, Mapping):
            items = list(value.items())
        else:
            items = list(value)
        self._list: list[tuple[str, _T]] = items
        self._dict: dict[str, _T] = dict(items)

    def getlist(self, key: Any) -> list[_T]:
        return [v for k, v in self._list if k == key]

    def keys(self) -> KeysView[str]:
        return self._dict.keys()

    def values(self) -> ValuesView[_T]:
        return self._dict.values()

    def items(self) -> ItemsView[str, _T]:
        return self._dict.items()

    def multi_items(self) -> list[tuple[str, _T]]:
        return list(self._list)

    def __getitem__(self, key: Any) -> _T:
        return self._dict[key]

    def __contains__(self, key: Any) -> bool:
        return key in self._dict

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, self.__class__):
            return False
        return sorted(self._list) == sorted(other._list)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.multi_items()!r})"


class MultiDict(ImmutableMultiDict[Any]):
    def __setitem__(self, key: str, value: Any) -> None:
        self.setlist(key, [value])

    def __delitem__(self, key: str) -> None:
        self._list = [(k, v) for k, v in self._list if k != key]
        del self._dict[key]

    def pop(self, key: str, default: Any = None) -> Any:
        self._list = [(k, v) for k, v in self._list if k != key]
        return self._dict.pop(key, default)

    def popitem(self) -> tuple[str, Any]:
        key, value = self._dict.popitem()
        self._list = [(k, v) for k, v in self._list if k != key]
        return key, value

    def poplist(self, key: str) -> list[Any]:
        values = [v for k, v in self._list if k == key]
        self.pop(key)
        return values

    def clear(self) -> None:
        self._dict.clear()
        self._list.clear()

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self._dict[key] = default
            self._list.append((key, default))
        return self[key]

    def setlist(self, key: str, values: list[Any]) -> None:
        if not values:
            self.pop(key, None)
            return
        existing = [(k, v) for k, v in self._list if k != key]
        self._list = existing + [(key, v) for v in values]
        self._dict[key] = values[-1]

    def append(self, key: str, value: Any) -> None:
        self._list.append((key, value))
        self._dict[key] = value

    def update(self, *args: Any, **kwargs: Any) -> None:
        value = MultiDict(*args, **kwargs)
        keys = set(value.keys())
        self._list = [(k, v) for k, v in self._list if k not in keys] + value.multi_items()
        self._dict.update(value)


def parse_query_string(query: bytes | str) -> list[tuple[str, str]]:
    """`a=1&b=x%20y` -> [("a", "1"), ("b", "x y")], like parse_qsl(keep_blank_values=True).

    Per-request hot path: plain pairs (no '%' or '+') skip unquoting entirely.
    """
    if isinstance(query, bytes):
        query = query.decode("latin-1")
    pairs: list[tuple[str, str]] = []
    if not query:
        return pairs
    for chunk in query.split("&"):
        if not chunk:
            continue
        key, _, value = chunk.partition("=")
        if "%" in chunk or "+" in chunk:
            key = unquote_plus(key)
            value = unquote_plus(value)
        pairs.append((key, value))
    return pairs


class QueryParams(ImmutableMultiDict[str]):
    """Query parameters, parsed once from the raw query string (bytes or str)."""

    __slots__ = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        value = args[0] if args else []
        if isinstance(value, (bytes, str)) and not kwargs:
            items = parse_query_string(value)
            self._list = items
            self._dict = dict(items)
            return
        super().__init__(*args, **kwargs)
        self._list = [(str(k), str(v)) for k, v in self._list]
        self._dict = {str(k): str(v) for k, v in self._dict.items()}

    def __str__(self) -> str:
        return urlencode(self._list)


# -------------------------------------------------------------------------------------------- Headers


def _encode_header_list(headers: Mapping[str, str] | None) -> list[tuple[bytes, bytes]]:
    if not headers:
        return []
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


class Headers(Mapping[str, str]):
    """Case-insensitive, multi-valued, immutable headers over raw `(bytes, bytes)` pairs.

    `headers[name]` is the FIRST value (Starlette), `getlist(name)` all of them.
    """

    __slots__ = ("_list",)

    def __init__(
        self,
        headers: Mapping[str, str] | None = None,
        raw: list[tuple[bytes, bytes]] | None = None,
        scope: Mapping[str, Any] | None = None,
    ) -> None:
        if raw is not None:
            self._list = raw
        elif scope is not None:
            # As Starlette: the list is stored back, so MutableHeaders(scope=message) edits the message.
            self._list = scope["headers"] = list(scope["headers"])  # type: ignore[index]
        else:
            self._list = _encode_header_list(headers)

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        return self._list

    def keys(self) -> list[str]:  # type: ignore[override]
        return [k.decode("latin-1") for k, _ in self._list]

    def values(self) -> list[str]:  # type: ignore[override]
        return [v.decode("latin-1") for _, v in self._list]

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in self._list]

    def getlist(self, key: str) -> list[str]:
        needle = key.lower().encode("latin-1")
        return [v.decode("latin-1") for k, v in self._list if k == needle]

    def mutablecopy(self) -> MutableHeaders:
        return MutableHeaders(raw=list(self._list))

    def __getitem__(self, key: str) -> str:
        needle = key.lower().encode("latin-1")
        for k, v in self._list:
            if k == needle:
                return v.decode("latin-1")
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: Any) -> bool:
        needle = key.lower().encode("latin-1")
        return any(k == needle for k, _ in self._list)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._list)

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, Headers):
            return False
        return sorted(self._list) == sorted(other._list)

    def __repr__(self) -> str:
        as_dict = dict(self.items())
        if len(as_dict) == len(self):
            return f"{self.__class__.__name__}({as_dict!r})"
        return f"{self.__class__.__name__}(raw={self.raw!r})"


class MutableHeaders(Headers):
    """Headers that edit the underlying raw list in place (a Response's headers)."""

    __slots__ = ()

    def __setitem__(self, key: str, value: str) -> None:
        name = key.lower().encode("latin-1")
        encoded = value.encode("latin-1")
        found = [i for i, (k, _) in enumerate(self._list) if k == name]
        for i in reversed(found[1:]):
            del self._list[i]
        if found:
            self._list[found[0]] = (name, encoded)
        else:
            self._list.append((name, encoded))

    def __delitem__(self, key: str) -> None:
        name = key.lower().encode("latin-1")
        self._list[:] = [(k, v) for k, v in self._list if k != name]

    def __ior__(self, other: Mapping[str, str]) -> MutableHeaders:
        self.update(other)
        return self

    def __or__(self, other: Mapping[str, str]) -> MutableHeaders:
        new = self.mutablecopy()
        new.update(other)
        return new

    def setdefault(self, key: str, value: str) -> str:
        name = key.lower().encode("latin-1")
        for k, v in self._list:
            if k == name:
                return v.decode("latin-1")
        self._list.append((name, value.encode("latin-1")))
        return value

    def update(self, other: Mapping[str, str]) -> None:  # type: ignore[override]
        for key, value in other.items():
            self[key] = value

    def append(self, key: str, value: str) -> None:
        self._list.append((key.lower().encode("latin-1"), value.encode("latin-1")))

    def add_vary_header(self, vary: str) -> None:
        existing = self.get("vary")
        if existing is not None:
            vary = ", ".join([existing, vary])
        self["vary"] = vary


# ----------------------------------------------------------------------------------- Forms and files


class UploadFile:
    """An uploaded file. The engine hands us the whole body, so the file is an in-memory spooled file.

    The async methods exist for FastAPI compatibility; they run inline because the data is in memory
    (or, above 1 MiB, on a temporary file: those reads go to the thread pool).
    """

    def __init__(
        self,
        file: Any,
        *,
        size: int | None = None,
        filename: str | None = None,
        headers: Headers | None = None,
    ) -> None:
        self.filename = filename
        self.file = file
        self.size = size
        self.headers = headers or Headers()

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type", None)

    @property
    def _in_memory(self) -> bool:
        rolled = getattr(self.file, "_rolled", True)
        return not rolled

    async def write(self, data: bytes) -> None:
        if self.size is not None:
            self.size += len(data)
        if self._in_memory:
            self.file.write(data)
        else:
            await run_in_threadpool(self.file.write, data)

    async def read(self, size: int = -1) -> bytes:
        if self._in_memory:
            return self.file.read(size)
        return await run_in_threadpool(self.file.read, size)

    async def seek(self, offset: int) -> None:
        if self._in_memory:
            self.file.seek(offset)
        else:
            await run_in_threadpool(self.file.seek, offset)

    async def close(self) -> None:
        if self._in_memory:
            self.file.close()
        else:
            await run_in_threadpool(self.file.close)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(filename={self.filename!r}, size={self.size!r}, headers={self.headers!r})"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> core_schema.CoreSchema:
        # Validation only checks the type: the form parser already built the object.
        return core_schema.no_info_plain_validator_function(
            _validate_upload_file,
            serialization=core_schema.plain_serializer_function_ser_schema(lambda v: v.filename),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, core: Any, handler: Any) -> dict[str, Any]:
        return {"type": "string", "contentMediaType": "application/octet-stream"}


def _validate_upload_file(value: Any) -> UploadFile:
    if isinstance(value, UploadFile):
        return value
    raise ValueError(f"Expected UploadFile, received: {type(value)}")


def make_upload_file(content: bytes, filename: str | None, headers: Headers) -> UploadFile:
    spooled = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)
    spooled.write(content)
    spooled.seek(0)
    return UploadFile(spooled, size=len(content), filename=filename, headers=headers)


class FormData(ImmutableMultiDict[Any]):
    """Parsed form: values are `str` or `UploadFile`."""

    __slots__ = ()

    async def close(self) -> None:
        for _, value in self.multi_items():
            if isinstance(value, UploadFile):
                await value.close()


# ------------------------------------------------------------------------------------------- Misc


class State:
    """An attribute bag (`app.state`, `request.state`)."""

    _state: dict[str, Any]

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        super().__setattr__("_state", state if state is not None else {})

    def __setattr__(self, key: str, value: Any) -> None:
        self._state[key] = value

    def __getattr__(self, key: str) -> Any:
        try:
            return self._state[key]
        except KeyError:
            raise AttributeError(f"'{self.__class__.__name__}' object has no attribute '{key}'") from None

    def __delattr__(self, key: str) -> None:
        del self._state[key]

    def __contains__(self, key: str) -> bool:
        return key in self._state


class DefaultPlaceholder:
    """Marks a value that was not set explicitly, so a router/app default can take over."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __bool__(self) -> bool:
        return bool(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DefaultPlaceholder) and other.value == self.value

    def __hash__(self) -> int:
        return hash(("DefaultPlaceholder", id(self.value)))

    def __repr__(self) -> str:
        return f"Default({self.value!r})"


def Default(value: _T) -> _T:
    return DefaultPlaceholder(value)  # type: ignore[return-value]


class CommaSeparatedStrings(Sequence[str]):
    def __init__(self, value: str | Sequence[str]) -> None:
        if isinstance(value, str):
            self._items = [item.strip() for item in value.split(",") if item.strip()]
        else:
            self._items = list(value)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: Any) -> Any:
        return self._items[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __str__(self) -> str:
        return ", ".join(repr(item) for item in self)

