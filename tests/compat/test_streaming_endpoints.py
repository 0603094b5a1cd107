"""Path operations that `yield` (FastAPI docs: "Stream JSON Lines", "Server-Sent Events",
"Stream Data")."""

import json
from collections.abc import AsyncIterable, Iterable

import pytest
from pydantic import BaseModel

from fasterapi import FastAPI
from fasterapi.exceptions import ResponseValidationError
from fasterapi.responses import StreamingResponse
from fasterapi.sse import EventSourceResponse, ServerSentEvent
from fasterapi.testclient import TestClient


class Item(BaseModel):
    name: str
    price: float = 0.0


ITEMS = [Item(name="Plumbus", price=3), Item(name="Portal Gun")]

app = FastAPI()


@app.get("/jsonl")
async def jsonl() -> AsyncIterable[Item]:
    for item in ITEMS:
        yield item


@app.get("/jsonl-sync")
def jsonl_sync():
    yield {"a": 1}
    yield [1, 2]


@app.get("/jsonl-invalid")
async def jsonl_invalid() -> AsyncIterable[Item]:
    yield {"no": "name"}


@app.get("/sse", response_class=EventSourceResponse)
async def sse() -> AsyncIterable[Item]:
    for item in ITEMS:
        yield item


@app.get("/sse-events", response_class=EventSourceResponse)
def sse_events() -> Iterable[ServerSentEvent]:
    yield ServerSentEvent(data={"n": 1}, event="tick", id="1", retry=500)
    yield ServerSentEvent(raw_data="line one\nline two", comment="raw")


@app.get("/raw", response_class=StreamingResponse)
async def raw() -> AsyncIterable[bytes]:
    yield b"ab"
    yield b"cd"


client = TestClient(app)


def test_json_lines():
    r = client.get("/jsonl")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/jsonl"
    assert [json.loads(line) for line in r.text.splitlines()] == [
        {"name": "Plumbus", "price": 3.0},
        {"name": "Portal Gun", "price": 0.0},
    ]
    assert [json.loads(line) for line in client.get("/jsonl-sync").text.splitlines()] == [{"a": 1}, [1, 2]]


def test_json_lines_items_are_validated():
    # The head and the items before the invalid one are sent; the stream is cut there (as FastAPI).
    bad = TestClient(app, raise_server_exceptions=False).get("/jsonl-invalid")
    assert bad.status_code == 200 and bad.text == ""
    with pytest.raises(ResponseValidationError):
        TestClient(app).get("/jsonl-invalid")


def test_server_sent_events():
    r = client.get("/sse")
    assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache"
    data = [line[len("data: "):] for line in r.text.splitlines() if line.startswith("data: ")]
    assert [json.loads(d) for d in data] == [{"name": "Plumbus", "price": 3.0}, {"name": "Portal Gun", "price": 0.0}]


def test_server_sent_event_objects():
    text = client.get("/sse-events").text
    assert 'event: tick\ndata: {"n": 1}\nid: 1\nretry: 500\n\n' in text
    assert ": raw\ndata: line one\ndata: line two\n\n" in text


def test_raw_stream():
    assert client.get("/raw").content == b"abcd"


def test_openapi_item_schemas():
    paths = client.get("/openapi.json").json()["paths"]
    assert paths["/jsonl"]["get"]["responses"]["200"]["content"] == {
        "application/jsonl": {"itemSchema": {"$ref": "#/components/schemas/Item"}}
    }
    assert paths["/jsonl-sync"]["get"]["responses"]["200"]["content"] == {"application/jsonl": {"itemSchema": {}}}
    sse_item = paths["/sse"]["get"]["responses"]["200"]["content"]["text/event-stream"]["itemSchema"]
    assert sse_item["required"] == ["data"]
    assert sse_item["properties"]["data"]["contentSchema"] == {"$ref": "#/components/schemas/Item"}
