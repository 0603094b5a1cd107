"""Behind a proxy (FastAPI docs "Behind a Proxy"), as uvicorn does it: `--root-path` (the prefix the
proxy strips), proxy headers (X-Forwarded-Proto / X-Forwarded-For) from trusted clients
(`--forwarded-allow-ips`, default 127.0.0.1; `--no-proxy-headers`)."""

from __future__ import annotations

import httpx

FORWARDED = {"x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.7, 127.0.0.1", "host": "example.com"}


def test_root_path(serve) -> None:
    server = serve("proxy_app:app", "--root-path", "/api/v1")
    with httpx.Client(base_url=server.url) as client:
        data = client.get("/app").json()
        assert data["root_path"] == "/api/v1"
        # The path is presented with the prefix the proxy stripped (uvicorn: root_path + path).
        assert data["url"] == f"{server.url}/api/v1/app"
        assert data["url_for"] == f"{server.url}/api/v1/app"
        assert client.get("/openapi.json").json()["servers"] == [{"url": "/api/v1"}]
        assert "/api/v1/openapi.json" in client.get("/docs").text
        response = client.get("/items")
        assert response.status_code == 307
        assert response.headers["location"] == f"{server.url}/api/v1/items/"
        assert client.get("/fast/3").json() == {"n": 3}


def test_proxy_headers_from_a_trusted_proxy(serve) -> None:
    server = serve("proxy_app:app")  # trusts 127.0.0.1 by default, as uvicorn
    with httpx.Client(base_url=server.url) as client:
        data = client.get("/app", headers=FORWARDED).json()
        assert data["scheme"] == "https"
        assert data["url"] == "https://example.com/app"
        assert data["client"] == "203.0.113.7"
        response = client.get("/items", headers=FORWARDED)
        assert response.status_code == 307
        assert response.headers["location"] == "https://example.com/items/"
        plain = client.get("/app").json()
        assert plain["scheme"] == "http"
        assert plain["client"] == "127.0.0.1"


def test_proxy_headers_off_or_untrusted(serve) -> None:
    for args in (("--no-proxy-headers",), ("--forwarded-allow-ips", "10.9.9.9")):
        server = serve("proxy_app:app", *args)
        with httpx.Client(base_url=server.url) as client:
            data = client.get("/app", headers=FORWARDED).json()
            assert data["scheme"] == "http"
            assert data["url"] == "http://example.com/app"
            assert data["client"] == "127.0.0.1"
        server.stop()


def test_forwarded_allow_ips_star(serve) -> None:
    server = serve("proxy_app:app", "--forwarded-allow-ips", "*", "--root-path", "/api/v1")
    with httpx.Client(base_url=server.url) as client:
        data = client.get("/app", headers={"x-forwarded-proto": "https", "x-forwarded-for": "198.51.100.1, 10.0.0.1"}).json()
        assert data["scheme"] == "https"
        assert data["client"] == "198.51.100.1"  # every proxy is trusted: the leftmost address
        assert data["root_path"] == "/api/v1"
