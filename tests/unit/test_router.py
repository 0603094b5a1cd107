"""The native router (fasterapi._core.Engine.match): Starlette's matching order and templates."""

from __future__ import annotations

import pytest

from fasterapi import _core


def engine(*routes: tuple[list[str], str]) -> _core.Engine:
    e = _core.Engine(lambda req: None, object, None, lambda req, exc: None)
    for methods, path in routes:
        e.add_route(methods, path, lambda req: None)
    return e


def test_static_and_params() -> None:
    e = engine((["GET"], "/"), (["GET"], "/items/{item_id}"), (["GET"], "/items/{item_id}/tags/{tag}"))
    assert e.match("GET", "/") == (0, {})
    assert e.match("GET", "/items/42") == (1, {"item_id": "42"})
    assert e.match("GET", "/items/42/tags/x y") == (2, {"item_id": "42", "tag": "x y"})
    assert e.match("GET", "/items") == (None, {})
    assert e.match("GET", "/items/") == (None, {})  # {param} needs a non-empty segment
    assert e.match("GET", "/items/42/") == (None, {})  # trailing slash is significant


def test_first_registered_wins_like_starlette() -> None:
    # FastAPI's docs: declare /users/me before /users/{user_id}; the order decides, not specificity.
    e = engine((["GET"], "/users/{user_id}"), (["GET"], "/users/me"))
    assert e.match("GET", "/users/me") == (0, {"user_id": "me"})
    e = engine((["GET"], "/users/me"), (["GET"], "/users/{user_id}"))
    assert e.match("GET", "/users/me") == (0, {})


def test_method_dispatch_405_and_head() -> None:
    e = engine((["GET"], "/a"), (["POST"], "/a"), (["PUT", "PATCH"], "/b"))
    assert e.match("GET", "/a")[0] == 0
    assert e.match("POST", "/a")[0] == 1
    assert e.match("HEAD", "/a")[0] == 0  # RFC 9110: GET routes answer HEAD
    allow, _ = e.match("DELETE", "/a")
    assert set(allow.split(", ")) == {"GET", "HEAD", "POST"}
    assert set(e.match("GET", "/b")[0].split(", ")) == {"PUT", "PATCH"}


def test_path_convertor_takes_the_rest() -> None:
    e = engine((["GET"], "/files/{file_path:path}"), (["GET"], "/static/{p:path}"))
    assert e.match("GET", "/files/a/b/c.txt") == (0, {"file_path": "a/b/c.txt"})
    assert e.match("GET", "/files/") == (0, {"file_path": ""})
    assert e.match("GET", "/static/x") == (1, {"p": "x"})


def test_typed_convertors_match_only_their_form() -> None:
    e = engine((["GET"], "/n/{n:int}"), (["GET"], "/n/{name}"), (["GET"], "/f/{x:float}"),
               (["GET"], "/u/{u:uuid}"))
    assert e.match("GET", "/n/12") == (0, {"n": "12"})
    assert e.match("GET", "/n/abc") == (1, {"name": "abc"})
    assert e.match("GET", "/f/1.5") == (2, {"x": "1.5"})
    assert e.match("GET", "/f/1.") == (None, {})
    assert e.match("GET", "/u/123e4567-e89b-12d3-a456-426614174000")[0] == 3
    assert e.match("GET", "/u/123e4567")[0] is None


@pytest.mark.parametrize("bad", ["", "items", "/a/{}", "/a/x{y}", "/a/{p:path}/b", "/a/{x:nope}"])
def test_malformed_templates_fail_at_registration(bad: str) -> None:
    with pytest.raises(ValueError):
        engine((["GET"], bad))


def test_many_routes() -> None:
    routes = [(["GET"], f"/r{i}/{{id}}/s{i % 7}") for i in range(500)]
    e = engine(*routes)
    assert e.route_count == 500
    assert e.match("GET", "/r321/9/s6") == (321, {"id": "9"})
