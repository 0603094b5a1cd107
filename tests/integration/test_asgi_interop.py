"""Pure ASGI middleware and mounted ASGI / WSGI apps over a real socket (server subprocess)."""

from __future__ import annotations

import httpx
import pytest

from .conftest import start_server


@pytest.fixture(scope="module")
def server():
    s = start_server("asgi_interop_app:app")
    yield s
    s.stop()


def test_pure_asgi_middleware_over_the_wire(server):
    with httpx.Client(base_url=server.url) as client:
        r = client.get("/items/7")
        assert r.status_code == 200
        assert r.json() == {"item_id": 7, "client": "127.0.0.1"}
        assert r.headers["x-request-id"] == "rid-1"
        r = client.get("/blocked")
        assert r.status_code == 403
        assert r.text == "blocked"
        assert "x-request-id" not in r.headers


def test_mounted_asgi_app_over_the_wire(server):
    with httpx.Client(base_url=server.url) as client:
        r = client.post("/asgi/a/b", content=b"x" * 100_000)
        assert r.status_code == 200
        assert r.text == "/asgi|/asgi/a/b|" + "x" * 100_000
        assert r.headers["x-request-id"] == "rid-1"
        # several body messages without a Content-Length: chunked, as uvicorn sends them
        assert r.headers["transfer-encoding"] == "chunked" and "content-length" not in r.headers


def test_mounted_wsgi_app_over_the_wire(server):
    with httpx.Client(base_url=server.url) as client:
        for _ in range(3):  # keep-alive: several requests on one connection
            r = client.get("/wsgi/p/q?z=1")
            assert r.status_code == 200
            assert r.text == "/wsgi|/p/q|z=1|thread=True"
