"""Query/Header/Cookie parameter models (FastAPI docs: "Query Parameter Models",
"Header Parameter Models", "Cookie Parameter Models")."""

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict

from fasterapi import Cookie, FastAPI, Header, Query
from fasterapi.testclient import TestClient


class CommonHeaders(BaseModel):
    host: str
    save_data: bool
    x_tag: list[str] = []


class StrictHeaders(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str
    save_data: bool


class DateRange(BaseModel):
    start: date
    end: date


class Cookies(BaseModel):
    session_id: str
    tracker: str | None = None


app = FastAPI()


@app.get("/headers")
def read_headers(headers: Annotated[CommonHeaders, Header()]) -> CommonHeaders:
    return headers


@app.get("/strict-headers")
def read_strict_headers(headers: Annotated[StrictHeaders, Header()]) -> StrictHeaders:
    return headers


@app.get("/range")
def read_range(limit: int = 10, date_range: Annotated[DateRange | None, Query()] = None) -> dict:
    return {"limit": limit, "date_range": date_range}


@app.get("/cookies")
def read_cookies(cookies: Annotated[Cookies | None, Cookie()] = None) -> dict:
    return {"cookies": cookies}


client = TestClient(app)


def test_header_model_reads_dashed_names():
    r = client.get("/headers", headers={"save-data": "true", "x-tag": "a"})
    assert r.status_code == 200, r.text
    assert r.json() == {"host": "testserver", "save_data": True, "x_tag": ["a"]}


def test_header_model_missing_field_is_reported_with_the_header_name():
    r = client.get("/headers")
    assert r.status_code == 422
    (error,) = r.json()["detail"]
    assert error["type"] == "missing"
    assert error["loc"] == ["header", "save-data"]
    # The model sees every header (its extra policy decides), as in FastAPI.
    assert error["input"]["host"] == "testserver"
    assert "user-agent" in error["input"]


def test_header_model_forbidding_extra_headers():
    r = client.get("/strict-headers", headers={"save-data": "1"})
    assert r.status_code == 422
    types = {e["type"] for e in r.json()["detail"]}
    assert types == {"extra_forbidden"}


def test_optional_query_model_omitted_and_given():
    assert client.get("/range", params={"limit": "5"}).json() == {"limit": 5, "date_range": None}
    r = client.get("/range", params={"start": "2026-01-01", "end": "2026-01-31"})
    assert r.json() == {"limit": 10, "date_range": {"start": "2026-01-01", "end": "2026-01-31"}}
    r = client.get("/range", params={"start": "2026-01-01"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "end"]


def test_optional_cookie_model():
    assert client.get("/cookies").json() == {"cookies": None}
    client.cookies.set("session_id", "abc")
    try:
        assert client.get("/cookies").json() == {"cookies": {"session_id": "abc", "tracker": None}}
    finally:
        client.cookies.clear()


def test_openapi_parameters_of_models():
    doc = client.get("/openapi.json").json()
    headers = doc["paths"]["/headers"]["get"]["parameters"]
    assert [(p["name"], p["required"], p["schema"].get("title")) for p in headers] == [
        ("host", True, "Host"),
        ("save-data", True, "Save Data"),
        ("x-tag", False, "X Tag"),
    ]
    ranges = doc["paths"]["/range"]["get"]["parameters"]
    assert [(p["name"], p["required"]) for p in ranges] == [("limit", False), ("start", False), ("end", False)]
