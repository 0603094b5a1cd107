"""@app.middleware("http"), add_middleware with CORS, GZip, TrustedHost, HTTPSRedirect."""

from __future__ import annotations

import gzip
import time

import pytest

from fasterapi import FastAPI, HTTPException, Request
from fasterapi.middleware.cors import CORSMiddleware
from fasterapi.middleware.gzip import GZipMiddleware
from fasterapi.middleware.httpsredirect import HTTPSRedirectMiddleware
from fasterapi.middleware.trustedhost import TrustedHostMiddleware
from fasterapi.responses import JSONResponse, PlainTextResponse
from fasterapi.testclient import TestClient


def base_app() -> FastAPI:
    app = FastAPI()

    @app.get("/")
    def root(request: Request):
        return {"hello": "world", "state": getattr(request.state, "tag", None)}

    @app.get("/big")
    def big():
        return PlainTextResponse("x" * 1000)

    @app.get("/fail")
    def fail():
        raise HTTPException(status_code=409, detail="conflict")

    @app.post("/items/{n}")
    def items(n: int):
        return {"n": n}

    return app


def test_http_middleware_wraps_requests():
    app = base_app()
    order = []

    @app.middleware("http")
    async def add_process_time_header(request: Request, call_next):
        order.append("outer-before")
        request.state.tag = "tagged"
        start = time.perf_counter()
        response = await call_next(request)
        response.headers["X-Process-Time"] = str(time.perf_counter() - start)
        order.append("outer-after")
        return response

    @app.middleware("http")
    async def second(request: Request, call_next):
        order.append("second-before")
        response = await call_next(request)
        order.append("second-after")
        return response

    client = TestClient(app)
    r = client.get("/")
    assert r.json() == {"hello": "world", "state": "tagged"}
    assert float(r.headers["x-process-time"]) >= 0
    # The last registered middleware is the outermost.
    assert order == ["second-before", "outer-before", "outer-after", "second-after"]


def test_middleware_sees_errors_and_404_as_responses():
    app = base_app()
    statuses = []

    @app.middleware("http")
    async def record(request: Request, call_next):
        response = await call_next(request)
        statuses.append(response.status_code)
        return response

    client = TestClient(app)
    assert client.get("/fail").status_code == 409
    assert client.get("/missing").status_code == 404
    assert client.post("/items/x").status_code == 422
    assert client.post("/items/2").json() == {"n": 2}
    assert statuses == [409, 404, 422, 200]


def test_middleware_can_short_circuit():
    app = base_app()

    @app.middleware("http")
    async def block(request: Request, call_next):
        if request.headers.get("x-block"):
            return JSONResponse({"blocked": True}, status_code=403)
        return await call_next(request)

    client = TestClient(app)
    assert client.get("/", headers={"X-Block": "1"}).json() == {"blocked": True}
    assert client.get("/").status_code == 200


def test_cors_simple_and_preflight():
    app = base_app()
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["https://example.org"],
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["X-Exposed"],
    )
    client = TestClient(app)
    r = client.get("/", headers={"Origin": "https://example.org"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "https://example.org"
    assert r.headers["access-control-allow-credentials"] == "true"
    assert r.headers["access-control-expose-headers"] == "X-Exposed"
    assert r.headers["vary"] == "Origin"

    r = client.options(
        "/",
        headers={
            "Origin": "https://example.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-Custom",
        },
    )
    assert r.status_code == 200
    assert r.text == "OK"
    assert r.headers["access-control-allow-origin"] == "https://example.org"
    assert r.headers["access-control-allow-headers"] == "X-Custom"
    assert "POST" in r.headers["access-control-allow-methods"]
    assert r.headers["access-control-max-age"] == "600"

    r = client.options("/", headers={"Origin": "https://evil.org", "Access-Control-Request-Method": "GET"})
    assert r.status_code == 400
    assert r.text == "Disallowed CORS origin"
    r = client.get("/", headers={"Origin": "https://evil.org"})
    assert "access-control-allow-origin" not in r.headers


def test_cors_wildcard_and_regex():
    app = base_app()
    app.add_middleware(CORSMiddleware, allow_origins=["*"])
    r = TestClient(app).get("/", headers={"Origin": "https://any.org"})
    assert r.headers["access-control-allow-origin"] == "*"

    app = base_app()
    app.add_middleware(CORSMiddleware, allow_origin_regex=r"https://.*\.example\.org", allow_methods=["GET"])
    client = TestClient(app)
    assert client.get("/", headers={"Origin": "https://a.example.org"}).headers["access-control-allow-origin"] == "https://a.example.org"
    r = client.options("/", headers={"Origin": "https://a.example.org", "Access-Control-Request-Method": "DELETE"})
    assert r.status_code == 400
    assert r.text == "Disallowed CORS method"


def test_gzip():
    app = base_app()
    app.add_middleware(GZipMiddleware, minimum_size=500)
    client = TestClient(app)
    r = client.get("/big", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["vary"] == "Accept-Encoding"
    assert r.text == "x" * 1000  # httpx decodes it
    assert int(r.headers["content-length"]) < 1000
    r = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in r.headers
    r = client.get("/big", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in r.headers
    assert gzip.decompress(gzip.compress(b"ok")) == b"ok"


def test_trusted_host():
    app = base_app()
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=["example.com", "*.example.com"])
    client = TestClient(app, base_url="http://example.com")
    assert client.get("/").status_code == 200
    assert TestClient(app, base_url="http://api.example.com").get("/").status_code == 200
    r = TestClient(app, base_url="http://evil.com").get("/")
    assert r.status_code == 400
    assert r.text == "Invalid host header"


def test_https_redirect():
    app = base_app()
    app.add_middleware(HTTPSRedirectMiddleware)
    r = TestClient(app).get("/big?x=1", follow_redirects=False)
    assert r.status_code == 307
    assert r.headers["location"] == "https://testserver/big?x=1"


def test_middleware_option_in_constructor():
    from fasterapi.middleware import Middleware

    app = FastAPI(middleware=[Middleware(CORSMiddleware, allow_origins=["*"])])

    @app.get("/")
    def root():
        return "ok"

    assert TestClient(app).get("/", headers={"Origin": "https://x"}).headers["access-control-allow-origin"] == "*"


def test_cors_preflight_and_simple_requests():
    from fasterapi.middleware.cors import CORSMiddleware

    app = FastAPI()
    app.add_middleware(CORSMiddleware, allow_origins=["https://a.example"], allow_methods=["*"])

    @app.get("/j")
    def j():
        return {"a": 1}

    client = TestClient(app)
    r = client.get("/j")
    assert r.json() == {"a": 1} and "access-control-allow-origin" not in r.headers
    r = client.get("/j", headers={"Origin": "https://a.example"})
    assert r.headers["access-control-allow-origin"] == "https://a.example" and r.headers["vary"] == "Origin"
    r = client.get("/j", headers={"Origin": "https://evil.example"})
    assert r.json() == {"a": 1} and "access-control-allow-origin" not in r.headers
    r = client.options("/j", headers={"Origin": "https://a.example", "Access-Control-Request-Method": "GET"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://a.example"

    class Tagging(CORSMiddleware):  # an ASGI subclass doing more: every request goes through it
        async def __call__(self, scope, receive, send):
            async def tagged(message):
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", []), (b"x-tag", b"1")]
                await send(message)

            await super().__call__(scope, receive, tagged)

    app2 = FastAPI()
    app2.add_middleware(Tagging, allow_origins=["*"])
    app2.get("/j")(j)
    assert TestClient(app2).get("/j").headers["x-tag"] == "1"
