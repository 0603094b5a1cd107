"""Every common response idiom of a FastAPI app, compiled, answers byte for byte as FastAPI does.

`response_class=` JSONResponse / ORJSONResponse / UJSONResponse / PlainTextResponse / HTMLResponse,
`default_response_class=`, `status_code=`, `response_model=` and return annotations, pydantic models
(and lists of them) returned with or without a response model, and a returned `Response` /
`PlainTextResponse` / `JSONResponse`. Differential: each request goes to the engine
(fasterapi.testclient) and to the app as a plain ASGI app (Starlette's TestClient); status, every
header and the body bytes must be identical. The compiler's report (`fasterapi routes`) must say
how each route's responses are written.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import uuid
import warnings
from typing import Any

import pytest
import starlette.testclient
from engine_reports import REFERENCE
from fasterapi.encoders import jsonable_encoder
from fasterapi.exceptions import ResponseValidationError
from fasterapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field, RootModel, computed_field

from fasterapi import FastAPI, HTTPException, Request
from fasterapi.testclient import TestClient

with warnings.catch_warnings():  # FastAPI deprecates these two; apps still use them
    warnings.simplefilter("ignore")
    from fasterapi.responses import ORJSONResponse, UJSONResponse


class Kind(enum.Enum):
    A = "a"
    B = 2


class Sub(str):
    pass


class Msg(BaseModel):
    message: str
    score: float = 0.5


class Rich(BaseModel):
    id: uuid.UUID
    when: datetime.datetime
    kind: Kind
    inner: Msg
    many: list[Msg] = []
    maybe: int | None = None
    aliased: int = Field(default=1, serialization_alias="aliasedOut")


class SaAlias(BaseModel):  # jsonable_encoder drops "_sa*" keys (sqlalchemy_safe)
    x: int = Field(default=1, serialization_alias="_sa_x")
    y: int = 2


class WithDict(BaseModel):
    tags: dict[str, int]


class Computed(BaseModel):
    a: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def double(self) -> int:
        return self.a * 2


@dataclasses.dataclass
class Plain:
    a: int
    b: str


VALUES: dict[str, Any] = {
    "dict": {"message": "Hello, World!"},
    "floats": {"tiny": 1e-7, "big": 1e16, "neg": -0.0, "n": [1.5, 2]},
    "unicode": {"t": 'h\u00e9llo "q" \\ / \n\x01 \U0001f600'},
    "intkeys": {1: "a", 2: "b"},
    "nan": {"x": float("nan")},
    "none": None,
    "str": "plain string",
    "bytes": b"raw",
    "list": [1, "a", None, True],
    "sakey": {"_sa_hidden": 1, "shown": {"_sa_deep": 2, "k": [1, {"_sa": 3}]}},
    "tuple": {"t": (1, 2), "nested": [[1.5, None], {"a": False}]},
    "strsub": {"e": Kind.A, "s": Sub("sub")},
    "model": Msg(message="m", score=1e-7),
    "models": [Msg(message=f"m{i}", score=i / 3) for i in range(3)],
    "rich": Rich(
        id=uuid.UUID(int=5), when=datetime.datetime(2026, 1, 2, 3, 4, 5, 6), kind=Kind.B,
        inner=Msg(message="in"), many=[Msg(message="x")], aliased=7,
    ),
    "sa": SaAlias(),
    "sadict": WithDict(tags={"_sa_hidden": 1, "shown": 2}),
    "computed": Computed(a=3),
    "root": RootModel[list[int]]([1, 2]),
    "dataclass": Plain(1, "x"),
    "datetime": datetime.date(2026, 1, 2),
    "response": Response(content="own", media_type="text/plain", status_code=203, headers={"x-own": "1"}),
    "plaintext": PlainTextResponse("text", headers={"x-own": "2"}),
    "jsonresponse": JSONResponse({"a": 1e-7}, status_code=202),
    "htmlresponse": HTMLResponse("<p>hi</p>"),
}
KINDS = list(VALUES)


def value(kind: str) -> Any:
    if kind == "raise":
        raise HTTPException(409, "conflict")
    return VALUES[kind]


def build() -> tuple[FastAPI, FastAPI]:
    app = FastAPI()
    orjson_app = FastAPI(default_response_class=ORJSONResponse)

    @app.exception_handler(ResponseValidationError)  # its errors and text (endpoint context) compared
    async def invalid_response(request: Request, exc: ResponseValidationError) -> JSONResponse:
        return JSONResponse({"errors": jsonable_encoder(exc.errors()), "text": str(exc)}, status_code=500)

    @app.get("/default")
    async def default(kind: str = "dict"):  # type: ignore[no-untyped-def]
        return value(kind)

    @app.get("/def-default")
    def def_default(kind: str = "dict"):  # type: ignore[no-untyped-def]
        return value(kind)

    @app.post("/created", status_code=201)
    async def created(kind: str = "dict"):  # type: ignore[no-untyped-def]
        return value(kind)

    @app.get("/class-json", response_class=JSONResponse)
    async def class_json(kind: str = "dict"):  # type: ignore[no-untyped-def]
        return value(kind)

    @app.get("/class-orjson", response_class=ORJSONResponse)
    async def class_orjson(kind: str = "dict"):  # type: ignore[no-untyped-def]
        return value(kind)

    @app.get("/class-ujson", response_class=UJSONResponse, status_code=202)
    async def class_ujson(kind: str = "dict"):  # type: ignore[no-untyped-def]
        return value(kind)

    @app.get("/class-plaintext", response_class=PlainTextResponse)
    async def class_plaintext(kind: str = "str"):  # type: ignore[no-untyped-def]
        return value(kind)

    @app.get("/class-html", response_class=HTMLResponse)
    async def class_html(kind: str = "str"):  # type: ignore[no-untyped-def]
        return value(kind)

    @app.get("/response-model", response_model=Msg)
    async def response_model(kind: str = "model"):  # type: ignore[no-untyped-def]
        return value(kind)

    @app.get("/annotation")
    async def annotation(kind: str = "model") -> Msg:
        return value(kind)  # type: ignore[no-any-return]

    @app.get("/response-model-list", response_model=list[Msg])
    async def response_model_list(kind: str = "models"):  # type: ignore[no-untyped-def]
        return value(kind)

    @app.get("/model-json-class", response_model=Msg, response_class=JSONResponse, response_model_exclude={"score"})
    async def model_json_class(kind: str = "model"):  # type: ignore[no-untyped-def]
        return value(kind)

    @app.get("/model-orjson-class", response_model=Rich, response_class=ORJSONResponse)
    async def model_orjson_class(kind: str = "rich"):  # type: ignore[no-untyped-def]
        return value(kind)

    @app.get("/dict-model", response_model=WithDict)  # pydantic keeps "_sa" keys, jsonable_encoder not
    async def dict_model(kind: str = "sadict"):  # type: ignore[no-untyped-def]
        return value(kind)

    @app.get("/dict-model-json-class", response_model=WithDict, response_class=JSONResponse)
    async def dict_model_json_class(kind: str = "sadict"):  # type: ignore[no-untyped-def]
        return value(kind)

    @orjson_app.get("/default")
    async def orjson_default(kind: str = "dict"):  # type: ignore[no-untyped-def]
        return value(kind)

    @orjson_app.get("/text", response_class=PlainTextResponse)
    async def orjson_text(kind: str = "str"):  # type: ignore[no-untyped-def]
        return value(kind)

    return app, orjson_app


APP, ORJSON_APP = build()

# (route, how the engine writes its responses: compiler._WRITERS's key)
WRITERS = {
    "/default": "json",
    "/def-default": "json",
    "/created": "json",
    "/class-json": "json",
    "/class-orjson": "render",
    "/class-ujson": "render",
    "/class-plaintext": "text",
    "/class-html": "text",
    "/response-model": "model_json",
    "/annotation": "model_json",
    "/response-model-list": "model_json",
    "/model-json-class": "render",
    "/model-orjson-class": "render",
    "/dict-model": "model_json",
    "/dict-model-json-class": "render",
}


def reports(app: FastAPI) -> dict[str, Any]:
    from fasterapi._asgi_server import ScopeMaker
    from fasterapi._engine import build_engine

    _engine, _handler, found = build_engine(app, ScopeMaker(""))
    return {r.path: r for r in found}


@pytest.mark.skipif(REFERENCE, reason="reference mode: no engine")
def test_every_idiom_is_compiled_and_reports_its_writer() -> None:
    from fasterapi.compiler import _WRITERS

    found = reports(APP)
    for path, writer in WRITERS.items():
        assert found[path].compiled, (path, found[path].reason)
        assert found[path].writer == _WRITERS[writer], path
    orjson = reports(ORJSON_APP)
    assert orjson["/default"].writer == _WRITERS["render"]
    assert orjson["/text"].writer == _WRITERS["text"]


@pytest.fixture(scope="module")
def clients() -> dict[str, tuple[Any, Any]]:
    return {
        name: (TestClient(app, raise_server_exceptions=False),
               starlette.testclient.TestClient(app, raise_server_exceptions=False))
        for name, app in (("app", APP), ("orjson", ORJSON_APP))
    }


CASES = [("app", "get" if path != "/created" else "post", path) for path in WRITERS] + [
    ("orjson", "get", "/default"), ("orjson", "get", "/text")
]


def comparable(response: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = sorted((k.lower(), v) for k, v in response.headers.multi_items() if k.lower() not in ("date", "server"))
    return response.status_code, headers, response.content


@pytest.mark.parametrize("kind", [*KINDS, "raise", "missing"])
@pytest.mark.parametrize(("app", "method", "path"), CASES, ids=[f"{a} {m} {p}" for a, m, p in CASES])
def test_engine_answers_as_fastapi(clients: dict[str, tuple[Any, Any]], app: str, method: str, path: str,
                                   kind: str) -> None:
    engine_client, asgi_client = clients[app]
    url = f"{path}?kind={kind}"
    assert comparable(engine_client.request(method, url)) == comparable(asgi_client.request(method, url))


@pytest.mark.skipif(REFERENCE, reason="reference mode: no engine")
def test_each_route_is_logged_at_startup(caplog: pytest.LogCaptureFixture) -> None:
    """One debug line per route on `fasterapi.routes`: compiled with its writer, or why not."""
    with caplog.at_level("DEBUG", logger="fasterapi.routes"):
        reports(APP)
    lines = [r.getMessage() for r in caplog.records if r.name == "fasterapi.routes"]
    assert "route GET /class-orjson: compiled (the class's render() of" in "\n".join(lines)
    assert any(line.startswith("route GET,HEAD /docs: ASGI: a Starlette route") for line in lines), lines
    assert len(lines) == len(APP.routes)
