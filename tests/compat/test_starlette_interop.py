"""Apps that import from `starlette` directly next to `fasterapi` (imports FastAPI apps keep when
`fastapi` is rewritten): Starlette's responses, HTTPException, Request/Response/BackgroundTasks
annotations, TestClient and middleware meet the FasterAPI engine and behave as under FastAPI.

With FASTERAPI_REFERENCE=1 the same tests run against FastAPI (see conftest.py).
"""

import asyncio
import warnings
from contextlib import asynccontextmanager
from typing import Annotated

import pytest

pytest.importorskip("starlette")

from pydantic import BaseModel  # noqa: E402
from starlette import status  # noqa: E402
from starlette.background import BackgroundTask, BackgroundTasks  # noqa: E402
from starlette.concurrency import run_in_threadpool  # noqa: E402
from starlette.exceptions import HTTPException as StarletteHTTPException  # noqa: E402
from starlette.requests import HTTPConnection, Request  # noqa: E402
from starlette.responses import (  # noqa: E402
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette 1.x: "install httpx2" deprecation
    from starlette.testclient import TestClient as StarletteTestClient

from engine_reports import assert_compiled  # noqa: E402
from fasterapi import Depends, FastAPI, HTTPException  # noqa: E402
from fasterapi.testclient import TestClient  # noqa: E402


class Item(BaseModel):
    name: str
    price: float = 0.0


# ------------------------------------------------------------------------- responses returned


def responses_app(log: list[str]) -> FastAPI:
    app = FastAPI()

    @app.get("/json")
    def json_response():
        response = JSONResponse(
            {"a": 1}, status_code=201, headers={"x-a": "1"}, background=BackgroundTask(log.append, "json")
        )
        response.set_cookie("session", "abc", httponly=True)
        return response

    @app.get("/html")
    async def html():
        return HTMLResponse("<b>hi</b>", headers={"x-h": "2"})

    @app.get("/text")
    def text():
        return PlainTextResponse("plain", status_code=202)

    @app.get("/raw")
    def raw():
        return Response(content=b"<x/>", media_type="application/xml", status_code=203)

    @app.get("/empty")
    def empty():
        return Response(status_code=204)

    @app.get("/redirect")
    def redirect():
        return RedirectResponse("/text")

    @app.get("/redirect-301")
    async def redirect_301():
        return RedirectResponse(url="/html", status_code=status.HTTP_301_MOVED_PERMANENTLY)

    @app.get("/stream")
    def stream():
        def chunks():
            yield b"a"
            yield "b"

        return StreamingResponse(chunks(), media_type="text/plain", background=BackgroundTask(log.append, "stream"))

    @app.get("/astream")
    async def astream():
        async def chunks():
            for i in range(3):
                await asyncio.sleep(0)
                yield f"{i},"

        return StreamingResponse(chunks(), media_type="text/csv", headers={"x-s": "1"})

    @app.get("/with-param/{n}")
    def with_param(n: int, q: str = "x"):
        return JSONResponse({"n": n, "q": q}, headers={"x-n": str(n)})

    @app.get("/dict")
    def plain_dict():
        return {"plain": True}

    @app.get("/model")
    def plain_model() -> Item:
        return Item(name="m", price=1.5)

    return app


def test_starlette_responses_returned_by_endpoints():
    log: list[str] = []
    client = TestClient(responses_app(log))

    r = client.get("/json")
    assert r.status_code == 201
    assert r.json() == {"a": 1}
    assert r.headers["x-a"] == "1"
    assert r.headers["content-type"] == "application/json"
    assert r.headers["content-length"] == "7"
    assert "session=abc" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
    assert log == ["json"]

    r = client.get("/html")
    assert (r.status_code, r.text, r.headers["x-h"]) == (200, "<b>hi</b>", "2")
    assert r.headers["content-type"] == "text/html; charset=utf-8"

    r = client.get("/text")
    assert (r.status_code, r.text, r.headers["content-type"]) == (202, "plain", "text/plain; charset=utf-8")

    r = client.get("/raw")
    assert (r.status_code, r.content, r.headers["content-type"]) == (203, b"<x/>", "application/xml")

    r = client.get("/empty")
    assert (r.status_code, r.content) == (204, b"")

    r = client.get("/redirect", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (307, "/text")
    assert client.get("/redirect").text == "plain"
    r = client.get("/redirect-301", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (301, "/html")

    r = client.get("/with-param/7?q=y")
    assert (r.json(), r.headers["x-n"]) == ({"n": 7, "q": "y"}, "7")


def test_starlette_streaming_responses_and_background():
    log: list[str] = []
    client = TestClient(responses_app(log))
    r = client.get("/stream")
    assert (r.status_code, r.text, r.headers["content-type"]) == (200, "ab", "text/plain; charset=utf-8")
    assert log == ["stream"]
    r = client.get("/astream")
    assert (r.text, r.headers["x-s"]) == ("0,1,2,", "1")
    assert r.headers["content-type"].startswith("text/csv")


def test_starlette_file_response(tmp_path):
    path = tmp_path / "report.txt"
    path.write_bytes(b"file contents\n")
    app = FastAPI()

    @app.get("/file")
    def file():
        return FileResponse(path, filename="report.txt")

    @app.get("/file-async")
    async def file_async():
        return FileResponse(str(path), media_type="application/octet-stream")

    client = TestClient(app)
    r = client.get("/file")
    assert (r.status_code, r.content) == (200, b"file contents\n")
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="report.txt"'
    assert r.headers["content-length"] == "14"
    assert "etag" in r.headers and "last-modified" in r.headers
    r = client.get("/file-async")
    assert (r.content, r.headers["content-type"]) == (b"file contents\n", "application/octet-stream")
    r = client.get("/file", headers={"Range": "bytes=5-12"})
    assert (r.status_code, r.content) == (206, b"contents")
    assert (r.headers["content-range"], r.headers["content-length"]) == ("bytes 5-12/14", "8")


def test_dict_routes_and_starlette_responses_on_compiled_routes():
    app = responses_app([])
    # The engine compiles these routes: dicts, models and returned Starlette responses are written
    # by the compiled plan, not rerouted through the ASGI path.
    assert_compiled(app, "GET /dict", "GET /model", "GET /html", "GET /with-param/{n}")
    client = TestClient(app)
    assert client.get("/dict").json() == {"plain": True}
    assert client.get("/model").json() == {"name": "m", "price": 1.5}
    assert client.get("/html").text == "<b>hi</b>"
    r = client.get("/with-param/3")
    assert (r.json(), r.headers["x-n"], r.headers["content-length"]) == ({"n": 3, "q": "x"}, "3", "15")


def test_starlette_responses_on_compiled_routes_with_dependencies():
    """Endpoints with compiled dependencies / response_model returning Starlette responses."""

    def dep(q: str = "d") -> str:
        return q

    app = FastAPI()

    @app.get("/dep")
    def with_dep(v: Annotated[str, Depends(dep)]):
        return JSONResponse({"v": v}, headers={"x-v": v})

    @app.get("/model", response_model=Item)
    def model(raw: bool = False):
        return PlainTextResponse("raw", status_code=206) if raw else {"name": "n", "extra": 1}

    @app.get("/pool")
    def pool():
        return HTMLResponse("<i>pool</i>")

    assert_compiled(app, "GET /dep", "GET /model", "GET /pool")
    client = TestClient(app)
    r = client.get("/dep?q=z")
    assert (r.json(), r.headers["x-v"]) == ({"v": "z"}, "z")
    assert client.get("/model").json() == {"name": "n", "price": 0.0}
    r = client.get("/model?raw=true")
    assert (r.status_code, r.text) == (206, "raw")
    r = client.get("/pool")
    assert (r.text, r.headers["content-type"]) == ("<i>pool</i>", "text/html; charset=utf-8")


def test_response_model_bypassed_by_a_starlette_response():
    app = FastAPI()

    @app.get("/item", response_model=Item)
    def item(raw: bool = False):
        if raw:
            return JSONResponse({"anything": "goes"}, status_code=200)
        return {"name": "x", "price": 2, "secret": "dropped"}

    @app.get("/annotated")
    def annotated() -> JSONResponse:
        return JSONResponse({"annotated": True})

    @app.get("/annotated-plain")
    async def annotated_plain() -> PlainTextResponse:
        return PlainTextResponse("ok")

    client = TestClient(app)
    assert client.get("/item").json() == {"name": "x", "price": 2.0}
    assert client.get("/item?raw=true").json() == {"anything": "goes"}
    assert client.get("/annotated").json() == {"annotated": True}
    assert client.get("/annotated-plain").text == "ok"
    responses = client.get("/openapi.json").json()["paths"]["/annotated"]["get"]["responses"]
    assert responses["200"]["content"]["application/json"]["schema"] == {}


def test_response_class_from_starlette():
    app = FastAPI()

    @app.get("/page", response_class=HTMLResponse)
    def page():
        return "<h1>page</h1>"

    @app.get("/text", response_class=PlainTextResponse, status_code=201)
    async def text():
        return "hello"

    client = TestClient(app)
    r = client.get("/page")
    assert (r.text, r.headers["content-type"]) == ("<h1>page</h1>", "text/html; charset=utf-8")
    r = client.get("/text")
    assert (r.status_code, r.text) == (201, "hello")
    paths = client.get("/openapi.json").json()["paths"]
    assert "text/html" in paths["/page"]["get"]["responses"]["200"]["content"]


def test_plain_route_with_starlette_endpoint():
    app = FastAPI()

    async def homepage(request: Request):
        return PlainTextResponse(f"hello {request.query_params.get('name', 'you')}")

    def sync_page(request):
        return JSONResponse({"path": request.url.path})

    app.add_route("/hello", homepage)
    app.add_route("/sync", sync_page, methods=["GET", "POST"])
    client = TestClient(app)
    assert client.get("/hello?name=bob").text == "hello bob"
    assert client.post("/sync").json() == {"path": "/sync"}


# ------------------------------------------------------------------------------- exceptions


def test_starlette_http_exception_raised():
    app = FastAPI()

    def check(token: str = ""):
        if token != "ok":
            raise StarletteHTTPException(status_code=status.HTTP_401_UNAUTHORIZED, detail="bad token",
                                         headers={"WWW-Authenticate": "Bearer"})
        return token

    @app.get("/items/{item_id}")
    def read_item(item_id: int):
        if item_id != 1:
            raise StarletteHTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="Item not found")
        return {"id": item_id}

    @app.get("/async")
    async def async_raise():
        raise StarletteHTTPException(status_code=418)

    @app.get("/secure")
    def secure(token: Annotated[str, Depends(check)]):
        return {"token": token}

    @app.get("/nobody")
    def nobody():
        raise StarletteHTTPException(status_code=304)

    client = TestClient(app)
    assert client.get("/items/1").json() == {"id": 1}
    r = client.get("/items/2")
    assert (r.status_code, r.json()) == (404, {"detail": "Item not found"})
    r = client.get("/async")
    assert (r.status_code, r.json()) == (418, {"detail": "I'm a Teapot"})
    r = client.get("/secure")
    assert (r.status_code, r.json(), r.headers["www-authenticate"]) == (401, {"detail": "bad token"}, "Bearer")
    assert client.get("/secure?token=ok").json() == {"token": "ok"}
    r = client.get("/nobody")
    assert (r.status_code, r.content) == (304, b"")


def test_handler_registered_for_starlette_http_exception():
    """FastAPI's docs: register for Starlette's HTTPException to handle FastAPI's and the router's."""
    app = FastAPI()
    seen: list[str] = []

    @app.exception_handler(StarletteHTTPException)
    async def http_exception_handler(request: Request, exc: StarletteHTTPException):
        seen.append(type(exc).__module__.split(".")[0])
        return PlainTextResponse(f"custom: {exc.detail}", status_code=exc.status_code, headers=exc.headers)

    @app.get("/ours")
    def ours():
        raise HTTPException(status_code=400, detail="ours", headers={"x-e": "1"})

    @app.get("/theirs")
    def theirs():
        raise StarletteHTTPException(status_code=409, detail="theirs")

    @app.get("/ok")
    def ok():
        return {"ok": True}

    client = TestClient(app)
    r = client.get("/ours")
    assert (r.status_code, r.text, r.headers["x-e"]) == (400, "custom: ours", "1")
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    r = client.get("/theirs")
    assert (r.status_code, r.text) == (409, "custom: theirs")
    r = client.get("/missing")
    assert (r.status_code, r.text) == (404, "custom: Not Found")
    r = client.post("/ok")
    assert (r.status_code, r.text) == (405, "custom: Method Not Allowed")
    assert client.get("/ok").json() == {"ok": True}
    assert len(seen) == 4


def test_handler_mapping_passed_to_the_constructor():
    def handler(request, exc):
        return JSONResponse({"message": exc.detail}, status_code=exc.status_code)

    app = FastAPI(exception_handlers={StarletteHTTPException: handler})

    @app.get("/fail")
    def fail():
        raise HTTPException(status_code=403, detail="no")

    client = TestClient(app)
    assert client.get("/fail").json() == {"message": "no"}
    assert client.get("/nowhere").json() == {"message": "Not Found"}


def test_custom_exception_handlers_returning_starlette_responses():
    class Teapot(Exception):
        pass

    class Gone(Exception):
        pass

    app = FastAPI()

    @app.exception_handler(Teapot)
    async def teapot_handler(request: Request, exc: Teapot):
        return JSONResponse({"teapot": str(exc)}, status_code=418, headers={"x-t": "1"})

    @app.exception_handler(Gone)
    def gone_handler(request: Request, exc: Gone):
        def body():
            yield b"gone "
            yield b"for good"

        return StreamingResponse(body(), status_code=410, media_type="text/plain")

    @app.exception_handler(404)
    async def not_found(request: Request, exc):
        return HTMLResponse("<p>nothing here</p>", status_code=404)

    @app.get("/teapot")
    def teapot():
        raise Teapot("short and stout")

    @app.get("/gone")
    async def gone():
        raise Gone()

    def dep():
        raise Teapot("from a dependency")

    @app.get("/dep", dependencies=[Depends(dep)])
    def with_dep():
        return {}

    client = TestClient(app)
    r = client.get("/teapot")
    assert (r.status_code, r.json(), r.headers["x-t"]) == (418, {"teapot": "short and stout"}, "1")
    r = client.get("/gone")
    assert (r.status_code, r.text) == (410, "gone for good")
    r = client.get("/dep")
    assert (r.status_code, r.json()) == (418, {"teapot": "from a dependency"})
    r = client.get("/missing")
    assert (r.status_code, r.text, r.headers["content-type"]) == (404, "<p>nothing here</p>", "text/html; charset=utf-8")


# --------------------------------------------------------------------- annotated parameters


def test_starlette_request_response_background_parameters():
    app = FastAPI()
    log: list[str] = []

    def dep(request: Request, connection: HTTPConnection, background_tasks: BackgroundTasks) -> str:
        background_tasks.add_task(log.append, "from dep")
        return request.headers.get("x-token", "") + connection.url.path

    @app.get("/info/{name}")
    def info(
        name: str, request: Request, response: Response, tasks: BackgroundTasks, token: Annotated[str, Depends(dep)]
    ):
        response.headers["x-name"] = name
        response.set_cookie("seen", "yes")
        response.status_code = 202
        tasks.add_task(log.append, "from endpoint")
        return {"method": request.method, "path": request.url.path, "q": dict(request.query_params), "token": token}

    @app.post("/body")
    async def body(request: Request):
        return {"body": (await request.body()).decode(), "json": await request.json()}

    client = TestClient(app)
    r = client.get("/info/bob?x=1", headers={"x-token": "t"})
    assert r.status_code == 202
    assert r.json() == {"method": "GET", "path": "/info/bob", "q": {"x": "1"}, "token": "t/info/bob"}
    assert r.headers["x-name"] == "bob"
    assert "seen=yes" in r.headers["set-cookie"]
    assert log == ["from dep", "from endpoint"]
    assert client.post("/body", json={"a": 1}).json() == {"body": '{"a":1}', "json": {"a": 1}}
    # None of these parameters is a query parameter or a body.
    params = client.get("/openapi.json").json()["paths"]["/info/{name}"]["get"]["parameters"]
    assert [p["name"] for p in params] == ["name"]


def test_starlette_run_in_threadpool():
    app = FastAPI()

    def blocking(x: int) -> int:
        return x * 2

    @app.get("/double/{x}")
    async def double(x: int):
        return {"value": await run_in_threadpool(blocking, x)}

    assert TestClient(app).get("/double/21").json() == {"value": 42}


# -------------------------------------------------------------------------- starlette TestClient


def test_starlette_testclient_drives_the_app():
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app):
        events.append("startup")
        yield {"db": "connected"}
        events.append("shutdown")

    app = FastAPI(lifespan=lifespan)

    @app.get("/state")
    def state(request: Request):
        return {"db": request.state.db}

    @app.post("/items/{item_id}")
    def create(item_id: int, item: Item, q: str | None = None):
        return {"id": item_id, "item": item.model_dump(), "q": q}

    @app.get("/login")
    def login():
        response = JSONResponse({"ok": True})
        response.set_cookie("session", "s1")
        return response

    @app.get("/whoami")
    def whoami(request: Request):
        return {"session": request.cookies.get("session")}

    @app.get("/fail")
    def fail():
        raise RuntimeError("boom")

    with StarletteTestClient(app) as client:
        assert events == ["startup"]
        assert client.get("/state").json() == {"db": "connected"}
        r = client.post("/items/3?q=x", json={"name": "n", "price": 1})
        assert r.status_code == 200
        assert r.json() == {"id": 3, "item": {"name": "n", "price": 1.0}, "q": "x"}
        r = client.post("/items/x", json={"name": "n"})
        assert r.status_code == 422
        assert client.get("/login").json() == {"ok": True}
        assert client.get("/whoami").json() == {"session": "s1"}
        assert client.get("/missing").status_code == 404
        with pytest.raises(RuntimeError, match="boom"):
            client.get("/fail")
    assert events == ["startup", "shutdown"]

    client = StarletteTestClient(app, raise_server_exceptions=False)
    assert client.get("/fail").status_code == 500


# ------------------------------------------------------------------------------- middleware


def test_http_middleware_answering_with_starlette_responses():
    app = FastAPI()

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if request.headers.get("x-key") != "secret":
            return JSONResponse({"detail": "forbidden"}, status_code=403)
        response = await call_next(request)
        response.headers["x-guarded"] = "1"
        return response

    @app.get("/")
    def root():
        return PlainTextResponse("inside")

    client = TestClient(app)
    r = client.get("/")
    assert (r.status_code, r.json()) == (403, {"detail": "forbidden"})
    r = client.get("/", headers={"x-key": "secret"})
    assert (r.status_code, r.text, r.headers["x-guarded"]) == (200, "inside", "1")


def test_starlette_cors_middleware():
    from starlette.middleware.cors import CORSMiddleware

    app = FastAPI()
    app.add_middleware(
        CORSMiddleware, allow_origins=["https://example.com"], allow_methods=["*"], allow_headers=["*"],
        allow_credentials=True,
    )

    @app.get("/")
    def root():
        return {"ok": True}

    client = TestClient(app)
    r = client.get("/", headers={"Origin": "https://example.com"})
    assert r.json() == {"ok": True}
    assert r.headers["access-control-allow-origin"] == "https://example.com"
    assert r.headers["access-control-allow-credentials"] == "true"
    r = client.options(
        "/", headers={"Origin": "https://example.com", "Access-Control-Request-Method": "POST",
                      "Access-Control-Request-Headers": "x-a"},
    )
    assert r.status_code == 200
    assert "POST" in r.headers["access-control-allow-methods"]
    r = client.options("/", headers={"Origin": "https://evil.com", "Access-Control-Request-Method": "GET"})
    assert r.status_code == 400


def test_starlette_base_http_middleware_subclass():
    from starlette.middleware.base import BaseHTTPMiddleware

    class TimingHeader(BaseHTTPMiddleware):
        def __init__(self, app, header: str = "x-mw") -> None:
            super().__init__(app)
            self.header = header

        async def dispatch(self, request, call_next):
            if request.url.path == "/blocked":
                return PlainTextResponse("blocked", status_code=451)
            response = await call_next(request)
            response.headers[self.header] = request.url.path
            return response

    app = FastAPI()
    app.add_middleware(TimingHeader, header="x-path")

    @app.get("/items/{n}")
    def items(n: int):
        return {"n": n}

    @app.get("/fail")
    def fail():
        raise StarletteHTTPException(status_code=400, detail="nope")

    client = TestClient(app)
    r = client.get("/items/5")
    assert (r.json(), r.headers["x-path"]) == ({"n": 5}, "/items/5")
    r = client.get("/blocked")
    assert (r.status_code, r.text) == (451, "blocked")
    r = client.get("/fail")
    assert (r.status_code, r.json(), r.headers["x-path"]) == (400, {"detail": "nope"}, "/fail")


# ------------------------------------------------------------------------------- websockets


def websocket_app(handled: list[int] | None = None) -> FastAPI:
    from starlette.exceptions import WebSocketException
    from starlette.websockets import WebSocket

    app = FastAPI()

    @app.websocket("/ws")
    async def ws(websocket: WebSocket):
        await websocket.accept()
        data = await websocket.receive_text()
        if data == "bad":
            raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason="policy")
        await websocket.send_text(data.upper())
        await websocket.close()

    if handled is not None:

        @app.exception_handler(WebSocketException)
        async def on_ws_error(websocket, exc):
            handled.append(exc.code)
            await websocket.close(code=4000 + exc.code % 1000, reason="handled")

    return app


def test_starlette_websocket_and_websocket_exception():
    client = TestClient(websocket_app())
    with client.websocket_connect("/ws") as session:
        session.send_text("hi")
        assert session.receive_text() == "HI"
    with client.websocket_connect("/ws") as session:
        session.send_text("bad")
        with pytest.raises(Exception) as info:
            session.receive_text()
        assert (info.value.code, info.value.reason) == (1008, "policy")


    handled: list[int] = []
    client = TestClient(websocket_app(handled))
    with client.websocket_connect("/ws") as session:
        session.send_text("bad")
        with pytest.raises(Exception) as info:
            session.receive_text()
        assert (info.value.code, info.value.reason) == (4008, "handled")
    assert handled == [1008]


def test_middleware_reading_and_replacing_the_body_iterator():
    """The logging-middleware pattern: `call_next`'s response read through `body_iterator`."""
    from starlette.middleware.base import BaseHTTPMiddleware

    class Exclaim(BaseHTTPMiddleware):
        async def dispatch(self, request, call_next):
            response = await call_next(request)
            body = b"".join([chunk async for chunk in response.body_iterator])
            return Response(body + b"!", status_code=response.status_code, media_type=response.media_type,
                            headers={"x-len": str(len(body))})

    app = FastAPI()
    app.add_middleware(Exclaim)

    @app.middleware("http")
    async def upper(request: Request, call_next):
        response = await call_next(request)
        original = response.body_iterator

        async def chunks():
            async for chunk in original:
                yield chunk.upper()

        response.body_iterator = chunks()
        return response

    @app.middleware("http")
    async def read(request: Request, call_next):
        response = await call_next(request)
        chunks = [chunk async for chunk in response.body_iterator]
        return Response(b"".join(chunks) + b"?", status_code=response.status_code, headers=dict(response.headers))

    @app.get("/")
    def root():
        return PlainTextResponse("abc", status_code=201)

    @app.get("/stream")
    def stream():
        return StreamingResponse(iter([b"x", b"y"]), media_type="text/plain")

    client = TestClient(app)
    r = client.get("/")
    assert (r.status_code, r.text, r.headers["x-len"]) == (201, "ABC!?", "3")  # the last added is outermost
    assert client.get("/stream").text == "XY!?"


def test_starlette_session_middleware():
    from starlette.middleware.sessions import SessionMiddleware

    app = FastAPI()
    app.add_middleware(SessionMiddleware, secret_key="secret")

    @app.get("/visit")
    def visit(request: Request):
        request.session["visits"] = request.session.get("visits", 0) + 1
        return {"visits": request.session["visits"]}

    client = TestClient(app)
    assert client.get("/visit").json() == {"visits": 1}
    assert client.get("/visit").json() == {"visits": 2}


def test_outer_middleware_reads_an_inner_middlewares_starlette_response():
    app = FastAPI()

    @app.middleware("http")
    async def inner(request, call_next):
        if request.url.path == "/short":
            return JSONResponse({"short": True}, headers={"x-inner": "1"})
        return await call_next(request)

    @app.middleware("http")
    async def outer(request, call_next):
        response = await call_next(request)
        body = b"".join([chunk async for chunk in response.body_iterator])
        headers = {k: v for k, v in response.headers.items() if k != "content-length"}
        headers["x-outer-len"] = str(len(body))
        return Response(content=body, status_code=response.status_code, headers=headers)

    @app.get("/short")
    def short():
        return {}

    r = TestClient(app).get("/short")
    assert r.json() == {"short": True}
    assert (r.headers["x-inner"], r.headers["x-outer-len"]) == ("1", "14")


def test_our_exceptions_are_starlettes_once_starlette_is_imported():
    import starlette.websockets

    from fasterapi import WebSocket
    from fasterapi.exceptions import WebSocketException

    app = FastAPI()

    @app.websocket("/ws")
    async def ws(websocket: WebSocket):
        await websocket.accept()
        await websocket.close(code=1001)

    with TestClient(app).websocket_connect("/ws") as session:
        with pytest.raises(starlette.websockets.WebSocketDisconnect) as info:
            session.receive_text()
    assert info.value.code == 1001
    assert isinstance(HTTPException(404), StarletteHTTPException)
    assert issubclass(WebSocketException, starlette.exceptions.WebSocketException)


def test_our_responses_are_starlette_responses_and_request_json_is_cached_as_starlettes():
    import starlette.responses

    from fasterapi import Request
    from fasterapi.responses import JSONResponse as OurJSONResponse

    app = FastAPI()
    seen = {}

    @app.post("/j")
    async def j(request: Request):
        seen["before"] = hasattr(request, "_json")  # Starlette sets it only once json() ran
        data = await request.json()
        seen["after"] = request._json == data
        return OurJSONResponse(data)

    assert TestClient(app).post("/j", json={"a": 1}).json() == {"a": 1}
    assert seen == {"before": False, "after": True}
    assert isinstance(OurJSONResponse({}), starlette.responses.Response)
