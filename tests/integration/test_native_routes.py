"""Native (C ABI) routes and constant routes: examples/native built with CMake, served by a real
server and through the TestClient."""

from __future__ import annotations

import email.utils
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import fasterapi
from fasterapi import APIRouter, Depends, FastAPI, Request
from fasterapi.exceptions import FastAPIError
from fasterapi.testclient import TestClient

from .conftest import ROOT, Server, start_server

EXAMPLE = ROOT / "examples" / "native"


@pytest.fixture(scope="module")
def libfast(tmp_path_factory: pytest.TempPathFactory) -> Path:
    prebuilt = os.environ.get("FASTERAPI_NATIVE_LIB")  # e.g. under sanitizers, where cmake cannot run
    if prebuilt:
        return Path(prebuilt)
    assert shutil.which("cmake"), "cmake is needed to build examples/native (pip install cmake)"
    build = tmp_path_factory.mktemp("native-example")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    subprocess.run(["cmake", "-S", str(EXAMPLE), "-B", str(build), *gen, f"-DPython_EXECUTABLE={sys.executable}"],
                   check=True, capture_output=True, env=env)
    subprocess.run(["cmake", "--build", str(build)], check=True, capture_output=True, env=env)
    lib = build / "libfast.so"
    assert lib.exists()
    return lib


def native_app(lib: Path, **kw: object) -> FastAPI:
    app = FastAPI(**kw)  # type: ignore[arg-type]
    app.add_native_route("GET", "/native/hello", library=lib, symbol="hello", summary="Hello from C++")
    app.add_native_route("GET", "/native/items/{item_id}", library=lib, symbol="item", tags=["native"])
    app.add_native_route(["POST", "PUT"], "/native/echo", library=lib, symbol="echo")
    app.add_native_route("GET", "/native/bad-header", library=lib, symbol="bad_header")
    app.add_native_route("GET", "/native/204", library=lib, symbol="no_content")
    app.add_native_route("GET", "/native/throws", library=lib, symbol="throws")

    @app.get("/python/hello")
    def python_hello():
        return {"message": "Hello, World!"}

    return app


def test_get_include_ships_the_header() -> None:
    header = Path(fasterapi.get_include()) / "fasterapi_native.h"
    assert header.is_file()
    assert "FASTERAPI_NATIVE_ABI_VERSION" in header.read_text()


# ---- native routes through the TestClient (the same engine, in memory) --------------------------


def test_native_routes_testclient(libfast: Path) -> None:
    app = native_app(libfast)
    with TestClient(app) as c:
        r = c.get("/native/hello")
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/json"
        assert r.json() == {"message": "Hello, World!"}
        assert r.content == c.get("/python/hello").content  # the same bytes as the Python route
        assert "date" in r.headers and r.headers["server"] == "fasterapi"

        r = c.get("/native/items/42", params={"q": "x"})
        assert r.json() == {"item_id": 42, "q": "x"}
        assert c.get("/native/items/42").json() == {"item_id": 42, "q": None}
        r = c.get("/native/items/nope")
        assert r.status_code == 422 and r.json() == {"detail": "item_id must be an integer"}

        r = c.post("/native/echo", content=b'{"a": 1}', headers={"content-type": "application/json"})
        assert r.status_code == 200 and r.content == b'{"a": 1}'
        assert r.headers["content-type"] == "application/json"
        assert r.headers["x-method"] == "POST"
        assert int(r.headers["x-header-count"]) >= 3
        big = os.urandom(200_000)
        r = c.put("/native/echo", content=big, headers={"content-type": "application/octet-stream"})
        assert r.content == big and r.headers["x-method"] == "PUT"

        r = c.head("/native/hello")
        assert r.status_code == 200 and r.content == b"" and r.headers["content-length"] == "27"

        r = c.get("/native/204")
        assert r.status_code == 204 and r.content == b"" and "content-length" not in r.headers

        for path in ("/native/bad-header", "/native/throws"):
            r = c.get(path)
            assert r.status_code == 500 and r.json() == {"detail": "Internal Server Error"}
            assert "x-evil" not in r.headers and "injected" not in r.headers

        assert c.get("/native/missing").status_code == 404
        assert c.delete("/native/hello").status_code == 405

        stats = app._build_engine().stats
        assert stats["native_calls"] >= 10
        # No Python handler ran and no RequestData was made for them: only the Python route and
        # the 404/405 (decided in Python) took that path.
        assert stats["request_data"] == 2


@pytest.mark.filterwarnings("ignore:Duplicate Operation ID")  # one route, two methods: as in FastAPI
def test_native_routes_in_openapi(libfast: Path) -> None:
    app = native_app(libfast)
    with TestClient(app) as c:
        spec = c.get("/openapi.json").json()
    hello = spec["paths"]["/native/hello"]["get"]
    assert hello["summary"] == "Hello from C++"
    assert hello["operationId"] == "hello_native_hello_get"
    item = spec["paths"]["/native/items/{item_id}"]["get"]
    assert item["tags"] == ["native"]
    assert item["parameters"][0]["name"] == "item_id" and item["parameters"][0]["in"] == "path"
    assert set(spec["paths"]["/native/echo"]) == {"post", "put"}


@pytest.mark.filterwarnings("ignore:Duplicate Operation ID")
def test_native_routes_under_middleware_and_routers(libfast: Path) -> None:
    # With middleware every request is routed in Python: the same handler runs via NativeHandler.__call__.
    app = native_app(libfast)
    seen = []

    @app.middleware("http")
    async def record(request, call_next):
        seen.append(request.url.path)
        response = await call_next(request)
        response.headers["x-mw"] = "1"
        return response

    router = APIRouter(prefix="/v1", tags=["v1"])
    router.add_native_route("GET", "/hello", library=libfast, symbol="hello")
    app.include_router(router, prefix="/api")
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/native/items/7?q=a")
        assert r.json() == {"item_id": 7, "q": "a"} and r.headers["x-mw"] == "1"
        assert r.headers["content-type"] == "application/json"
        r = c.post("/native/echo", content=b"xyz", headers={"content-type": "text/plain"})
        assert r.content == b"xyz" and r.headers["x-method"] == "POST"
        assert c.get("/native/throws").status_code == 500
        r = c.get("/api/v1/hello")
        assert r.json() == {"message": "Hello, World!"}
    assert "/native/items/7" in seen and "/api/v1/hello" in seen
    assert app.openapi()["paths"]["/api/v1/hello"]["get"]["tags"] == ["v1"]


def test_native_route_release_gil(libfast: Path) -> None:
    app = FastAPI()
    app.add_native_route("GET", "/h", library=libfast, symbol="hello", release_gil=True)
    with TestClient(app) as c:
        assert c.get("/h").json() == {"message": "Hello, World!"}


def test_native_route_load_errors(libfast: Path, tmp_path: Path) -> None:
    app = FastAPI()
    with pytest.raises(OSError, match="cannot load native library"):
        app.add_native_route("GET", "/x", library=tmp_path / "missing.so", symbol="hello")
    with pytest.raises(ImportError, match="has no such symbol"):
        app.add_native_route("GET", "/x", library=libfast, symbol="no_such_handler")
    # A library not built against fasterapi_native.h has no ABI version symbol.
    import ctypes.util

    libm = ctypes.util.find_library("m")
    if libm:
        with pytest.raises(ImportError, match="fasterapi_native_abi_version"):
            app.add_native_route("GET", "/x", library=libm, symbol="cos")
    assert all(getattr(r, "path", "") != "/x" for r in app.routes)


# ---- constant routes -----------------------------------------------------------------------------


def test_constant_route_runs_once(libfast: Path) -> None:
    app = FastAPI()
    calls = []

    @app.get("/health", static=True)
    def health():
        calls.append(1)
        return {"status": "ok", "n": len(calls)}

    with TestClient(app) as c:
        first = c.get("/health")
        for _ in range(5):
            r = c.get("/health")
            assert r.status_code == 200 and r.json() == {"status": "ok", "n": 1}
            assert r.headers["content-type"] == "application/json"
        head = c.head("/health")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == first.headers["content-length"]
    assert calls == [1]
    stats = app._build_engine().stats
    assert stats["static_hits"] == 6
    assert stats["request_data"] == 0


def test_constant_route_async_and_response_objects() -> None:
    import asyncio

    from fasterapi.responses import HTMLResponse

    app = FastAPI()
    calls = []

    @app.get("/slow", static=True)
    async def slow():
        calls.append(1)
        await asyncio.sleep(0.01)  # really awaits: captured when the task completes
        return HTMLResponse("<p>hi</p>", headers={"X-Const": "1"})

    with TestClient(app) as c:
        for _ in range(3):
            r = c.get("/slow")
            assert r.text == "<p>hi</p>" and r.headers["x-const"] == "1"
            assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert calls == [1]


def test_constant_route_not_captured_from_head_close_or_errors() -> None:
    app = FastAPI()
    calls = []

    @app.get("/c", static=True)
    def c_route():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first call fails")
        return {"n": len(calls)}

    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.get("/c").status_code == 500  # not captured
        assert c.head("/c").status_code == 200  # HEAD: not captured (no body to keep)
        assert c.get("/c", headers={"connection": "close"}).json() == {"n": 3}  # not captured
        assert c.get("/c").json() == {"n": 4}  # captured
        assert c.get("/c").json() == {"n": 4}
    assert len(calls) == 4


def test_constant_route_requires_a_constant_endpoint() -> None:
    app = FastAPI()
    with pytest.raises(FastAPIError, match="static=True"):
        app.get("/items/{item_id}", static=True)(lambda item_id: item_id)
    with pytest.raises(FastAPIError, match="static=True"):

        @app.get("/q", static=True)
        def q(x: int = 0):
            return x

    with pytest.raises(FastAPIError, match="static=True"):

        @app.get("/r", static=True)
        def r(request: Request):
            return {}

    with pytest.raises(FastAPIError, match="static=True"):

        @app.get("/d", static=True)
        def d(v: int = Depends(lambda: 1)):
            return v


def test_constant_route_with_middleware_runs_every_time() -> None:
    app = FastAPI()
    calls = []

    @app.middleware("http")
    async def passthrough(request, call_next):
        return await call_next(request)

    @app.get("/c", static=True)
    def c_route():
        calls.append(1)
        return {"ok": True}

    with TestClient(app) as c:
        for _ in range(3):
            assert c.get("/c").json() == {"ok": True}
    assert len(calls) == 3  # middleware must see (and may change) every response


def test_constant_route_through_include_router() -> None:
    router = APIRouter()
    calls = []

    @router.get("/ping", static=True)
    def ping():
        calls.append(1)
        return "pong"

    app = FastAPI()
    app.include_router(router, prefix="/r")
    with TestClient(app) as c:
        assert [c.get("/r/ping").json() for _ in range(3)] == ["pong"] * 3
    assert calls == [1]


# ---- over real sockets ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def native_server(libfast: Path):
    s = start_server("native_app:app", env={"FASTERAPI_NATIVE_LIB": str(libfast)})
    yield s
    s.stop()


def read_responses(sock: socket.socket, count: int, heads: tuple[int, ...] = ()) -> list[tuple[str, dict[str, str], bytes]]:
    """`count` responses; those at the indexes in `heads` answer HEAD requests (no body)."""
    buf = b""
    out = []
    while len(out) < count:
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {len(out)} responses"
            buf += chunk
        head, _, buf = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        n = 0 if len(out) in heads else int(headers.get("content-length", "0"))
        while len(buf) < n:
            buf += sock.recv(65536)
        out.append((lines[0], headers, buf[:n]))
        buf = buf[n:]
    return out


def test_real_server_native_and_constant(native_server: Server) -> None:
    with httpx.Client(base_url=native_server.url) as c:
        assert c.get("/native/hello").json() == {"message": "Hello, World!"}
        assert c.get("/native/items/3?q=z").json() == {"item_id": 3, "q": "z"}
        r = c.post("/native/echo", content=b"payload", headers={"content-type": "text/plain"})
        assert r.content == b"payload" and r.headers["content-type"] == "text/plain"
        assert c.get("/native/throws").status_code == 500
        bodies = {c.get("/health").content for _ in range(5)}
        assert bodies == {b'{"status":"ok","calls":1}'}
        r = c.get("/static-text")
        assert r.text == "constant" and r.headers["x-constant"] == "yes"
        assert r.headers["content-type"] == "text/plain; charset=utf-8"


def test_real_server_pipelined_keepalive_close_and_date(native_server: Server) -> None:
    requests = (
        b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n"
        b"GET /native/hello HTTP/1.1\r\nHost: t\r\n\r\n"
        b"HEAD /health HTTP/1.1\r\nHost: t\r\n\r\n"
        b"HEAD /native/hello HTTP/1.1\r\nHost: t\r\n\r\n"
        b"GET /python HTTP/1.1\r\nHost: t\r\n\r\n"
        b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", native_server.port), timeout=5) as sock:
        sock.sendall(requests)
        responses = read_responses(sock, 6, heads=(2, 3))
        assert sock.recv(1) == b""  # closed after the Connection: close request
    statuses = [r[0] for r in responses]
    assert statuses == ["HTTP/1.1 200 OK"] * 6
    assert responses[0][2] == responses[5][2] == b'{"status":"ok","calls":1}'
    assert responses[1][2] == responses[4][2] == b'{"message":"Hello, World!"}'
    assert responses[2][2] == b"" and responses[2][1]["content-length"] == responses[0][1]["content-length"]
    assert responses[3][2] == b"" and responses[3][1]["content-length"] == "27"
    assert responses[5][1]["connection"] == "close"
    assert all("connection" not in r[1] for r in responses[:5])
    for _, headers, _ in responses:
        date = email.utils.parsedate_to_datetime(headers["date"]).timestamp()
        assert abs(date - time.time()) < 5

    # HTTP/1.0 keep-alive is said on a constant and a native response; the Date moves on.
    with socket.create_connection(("127.0.0.1", native_server.port), timeout=5) as sock:
        first = None
        for i in range(2):
            sock.sendall(b"GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                         b"GET /native/hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            got = read_responses(sock, 2)
            assert all(h.get("connection") == "keep-alive" for _, h, _ in got)
            if i == 0:
                first = got[0][1]["date"]
                time.sleep(1.1)
        assert got[0][1]["date"] != first


def test_native_routes_refuse_dependencies(libfast: Path) -> None:
    # A native route cannot run Python dependencies: never let a router's auth be skipped silently.
    guarded = APIRouter(dependencies=[Depends(lambda: None)])
    with pytest.raises(FastAPIError, match="cannot run dependencies"):
        guarded.add_native_route("GET", "/x", library=libfast, symbol="hello")
    plain = APIRouter()
    plain.add_native_route("GET", "/x", library=libfast, symbol="hello")
    app = FastAPI()
    with pytest.raises(FastAPIError, match="cannot run dependencies"):
        app.include_router(plain, dependencies=[Depends(lambda: None)])
    with pytest.raises(FastAPIError, match="cannot run dependencies"):
        FastAPI(dependencies=[Depends(lambda: None)]).add_native_route("GET", "/x", library=libfast, symbol="hello")
    with pytest.raises(FastAPIError, match="cannot run dependencies"):
        app.add_native_route("GET", "/y", library=libfast, symbol="hello", dependencies=[Depends(lambda: None)])
