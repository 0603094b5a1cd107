"""OpenTelemetry's FastAPI instrumentation (opentelemetry-instrumentation-fastapi, the `test` extra)
records the same spans for a request the engine serves (fasterapi.testclient.TestClient: the
engine's parser, router, compiler and ASGI bridge) as under Starlette's own TestClient: names,
kinds, parents, statuses, attributes and events, span for span, in order.

`FastAPIInstrumentor.instrument_app` replaces the app's build_middleware_stack on the instance: the
compiler then compiles none of its routes (a compiled route would bypass the middleware and make
no span), so every request takes the ASGI path through the instrumentation's middleware."""

from __future__ import annotations

from typing import Any

import starlette.testclient
from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from pydantic import BaseModel

import fasterapi.testclient


class Item(BaseModel):
    name: str


def instrumented_app() -> tuple[FastAPI, InMemorySpanExporter]:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def read_item(item_id: int, q: str | None = None) -> dict[str, Any]:
        return {"item_id": item_id, "q": q}

    @app.get("/sync/{item_id}")
    def read_sync(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    @app.post("/items")
    async def create_item(item: Item) -> Item:
        return item

    @app.get("/teapot")
    async def teapot() -> None:
        raise HTTPException(418, "teapot")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def parts() -> Any:
            yield b"a"
            yield b"b"

        return StreamingResponse(parts(), media_type="text/plain")

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)
    return app, exporter


REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/items/3?q=x", {}),
    ("GET", "/sync/4", {}),
    ("POST", "/items", {"json": {"name": "n"}}),
    ("POST", "/items", {"json": {"name": 1}}),  # 422
    ("GET", "/teapot", {}),
    ("GET", "/boom", {}),  # 500
    ("GET", "/stream", {}),
    ("GET", "/missing", {}),  # 404
    ("HEAD", "/items/3", {}),  # 405 (a GET route)
]


def spans_of(client_class: Any) -> list[tuple[Any, ...]]:
    app, exporter = instrumented_app()
    seen: list[tuple[Any, ...]] = []
    with client_class(app, raise_server_exceptions=False) as client:
        for method, url, kw in REQUESTS:
            exporter.clear()
            r = client.request(method, url, **kw)
            spans = exporter.get_finished_spans()
            names = {s.context.span_id: s.name for s in spans}
            seen.append((method, url, r.status_code, r.content, [
                (s.name, s.kind.name, names.get(s.parent.span_id) if s.parent else None, s.status.status_code.name,
                 sorted(s.attributes.items()), [(e.name, sorted(e.attributes.items())) for e in s.events])
                for s in spans]))
    return seen


def test_the_engine_records_starlettes_spans() -> None:
    theirs = spans_of(starlette.testclient.TestClient)
    ours = spans_of(fasterapi.testclient.TestClient)
    assert [len(t[4]) for t in theirs] == [len(o[4]) for o in ours]
    for want, got in zip(theirs, ours, strict=True):
        assert got == want
    # the instrumentation did record: a server span per routed request, with its route
    server_spans = [s for t in ours for s in t[4] if s[1] == "SERVER"]
    assert ("http.route", "/items/{item_id}") in server_spans[0][4]
    assert len(server_spans) >= len(REQUESTS) - 2


def test_an_instrumented_app_is_not_compiled() -> None:
    from fasterapi._asgi_server import ScopeMaker
    from fasterapi._engine import build_engine

    app, _ = instrumented_app()
    _engine, _handler, reports = build_engine(app, ScopeMaker())
    assert reports and not any(r.compiled for r in reports)
    assert all("build_middleware_stack" in (r.reason or "") for r in reports)
