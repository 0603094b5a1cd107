"""The engine's metrics (server/metrics.hpp) through an in-memory engine connection: what a compiled
route counts, the scrape the engine answers itself, label escaping read back by prometheus_client's
parser, and nothing counted or answered while metrics are off."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from fasterapi import _core
from fasterapi._asgi_server import ScopeMaker
from fasterapi._engine import build_engine

app = FastAPI()


@app.get('/odd"name\\x/{n}')
async def odd(n: int) -> dict[str, int]:
    return {"n": n}


@pytest.fixture
def metrics() -> Iterator[None]:
    _core.metrics_create(1)  # a fresh region: counts start at 0
    _core.metrics_attach(0, "/metrics")
    try:
        yield
    finally:
        _core.metrics_detach()


def exchange(engine: _core.Engine, raw: bytes) -> bytes:
    conn = engine.connection(("127.0.0.1", 5000))
    conn.feed(raw)
    assert not conn.pending
    return conn.read()


def samples(engine: _core.Engine) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = exchange(engine, b"GET /metrics?x=1 HTTP/1.1\r\nHost: t\r\n\r\n")
    head, body = out.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n" in head
    result = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            result[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return result


def test_counts_and_escaped_labels(metrics: None) -> None:
    engine, _handler, reports = build_engine(app, ScopeMaker())
    assert [r.compiled for r in reports if r.path == '/odd"name\\x/{n}'] == [True]
    for n in range(3):
        assert exchange(engine, f"GET /odd%22name%5Cx/{n} HTTP/1.1\r\nHost: t\r\n\r\n".encode()).startswith(
            b"HTTP/1.1 200 OK\r\n")
    s = samples(engine)
    odd_labels = (("method", "GET"), ("route", '/odd"name\\x/{n}'))  # escaped on the wire, parsed back
    assert s[("fasterapi_requests_total", (*odd_labels, ("status", "2xx")))] == 3
    assert s[("fasterapi_request_duration_seconds_count", odd_labels)] == 3
    assert s[("fasterapi_request_duration_seconds_bucket", (("le", "+Inf"), *odd_labels))] == 3
    assert s[("fasterapi_requests_total", (*odd_labels, ("status", "5xx")))] == 0
    assert s[("fasterapi_requests_in_flight", odd_labels)] == 0
    # the scrapes themselves are not counted anywhere
    assert sum(v for (name, _), v in s.items() if name == "fasterapi_requests_total") == 3


def test_scrape_methods(metrics: None) -> None:
    engine, _handler, _reports = build_engine(app, ScopeMaker())
    out = exchange(engine, b"HEAD /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 OK\r\n") and out.endswith(b"\r\n\r\n")
    out = exchange(engine, b"DELETE /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 405 ") and b"\r\nAllow: GET, HEAD\r\n" in out
    # only the exact path: a longer one is the app's (a 404 from the router here, not a scrape)
    assert engine.match("GET", "/metrics/x") == (None, {})


def test_off_counts_nothing_and_answers_nothing() -> None:
    _core.metrics_create(1)
    _core.metrics_detach()
    engine, _handler, _reports = build_engine(app, ScopeMaker())
    assert exchange(engine, b"GET /odd%22name%5Cx/1 HTTP/1.1\r\nHost: t\r\n\r\n").startswith(b"HTTP/1.1 200 OK")
    text = _core.metrics_render().decode()
    assert 'route="/odd\\"name\\\\x/{n}",status="2xx"} 0' in text
    conn = engine.connection(("127.0.0.1", 5000))
    conn.feed(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
    # not answered by the engine: it went to the app (which fails here, without an event loop)
    assert b"version=0.0.4" not in conn.read()


def test_attach_needs_a_slot() -> None:
    _core.metrics_create(1)
    with pytest.raises(ValueError):
        _core.metrics_attach(1, "/metrics")
    with pytest.raises(ValueError):
        _core.metrics_attach(0, "metrics")


def test_scrape_keeps_an_http10_keep_alive(metrics: None) -> None:
    engine, _handler, _reports = build_engine(app, ScopeMaker())
    conn = engine.connection(("127.0.0.1", 5000))
    conn.feed(b"GET /metrics HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert b"\r\nConnection: keep-alive\r\n" in conn.read()
    conn.feed(b"GET /metrics HTTP/1.0\r\n\r\n")
    assert b"\r\nConnection: close\r\n" in conn.read()
