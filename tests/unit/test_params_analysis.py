"""Signature analysis: where each parameter comes from, decided once at registration."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from fasterapi import Body, Cookie, Depends, File, Form, Header, Query, Request, Response, UploadFile
from fasterapi import params
from fasterapi.background import BackgroundTasks
from fasterapi.dependencies.utils import BodyPlan, get_dependant


class Item(BaseModel):
    name: str


def dep(x: int = 0):
    return x


def endpoint(
    item_id: int,
    q: str | None = None,
    tags: Annotated[list[str], Query()] = [],  # noqa: B006
    limit: Annotated[int, Field(gt=0)] = 10,
    user_agent: Annotated[str | None, Header()] = None,
    session: str | None = Cookie(None),
    item: Item | None = None,
    request: Request = None,  # type: ignore[assignment]
    response: Response = None,  # type: ignore[assignment]
    tasks: BackgroundTasks = None,  # type: ignore[assignment]
    value: Annotated[int, Depends(dep)] = 0,
):
    pass


def names(fields):
    return [f.name for f in fields]


def test_classification():
    d = get_dependant(path="/items/{item_id}", call=endpoint)
    assert names(d.path_params) == ["item_id"]
    assert names(d.query_params) == ["q", "tags", "limit"]
    assert names(d.header_params) == ["user_agent"]
    assert d.header_params[0].alias == "user-agent"
    assert names(d.cookie_params) == ["session"]
    assert names(d.body_params) == ["item"]
    assert d.request_param_name == "request"
    assert d.response_param_name == "response"
    assert d.background_tasks_param_name == "tasks"
    assert [s.call for s in d.dependencies] == [dep]
    assert names(d.dependencies[0].query_params) == ["x"]


def test_required_and_defaults():
    d = get_dependant(path="/items/{item_id}", call=endpoint)
    by_name = {f.name: f for f in d.query_params}
    assert d.path_params[0].required
    assert not by_name["q"].required and by_name["q"].default is None
    assert by_name["tags"].is_sequence
    assert by_name["limit"].default == 10


def test_non_scalar_defaults_to_body_and_upload_to_file():
    def f(a: list[int], b: dict[str, int], c: UploadFile, d: Annotated[bytes, File()], e: Annotated[str, Form()]):
        pass

    d = get_dependant(path="/", call=f)
    kinds = {f.name: type(f.field_info) for f in d.body_params}
    assert kinds == {"a": params.Body, "b": params.Body, "c": params.File, "d": params.File, "e": params.Form}
    assert BodyPlan(d.body_params).kind == "form"


def test_body_plans():
    def single(item: Item):
        pass

    def embedded(item: Annotated[Item, Body(embed=True)]):
        pass

    def multiple(item: Item, n: Annotated[int, Body()]):
        pass

    plan = BodyPlan(get_dependant(path="/", call=single).body_params)
    assert plan.kind == "single" and plan.validate_json is not None
    assert BodyPlan(get_dependant(path="/", call=embedded).body_params).kind == "embed"
    assert BodyPlan(get_dependant(path="/", call=multiple).body_params).kind == "embed"


def test_constraints_are_compiled_into_the_validator():
    def f(q: Annotated[str, Query(min_length=2, alias="query")] = "xx"):
        pass

    field = get_dependant(path="/", call=f).query_params[0]
    assert field.alias == "query"
    value, errors = field.validate("a", loc=("query", "query"))
    assert value is None
    assert errors[0]["type"] == "string_too_short"
    assert errors[0]["loc"] == ("query", "query")
    assert field.validate("abc")[0] == "abc"


def test_header_convert_underscores_off():
    def f(x_y: Annotated[str, Header(convert_underscores=False)]):
        pass

    assert get_dependant(path="/", call=f).header_params[0].alias == "x_y"
